// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Pod identity from cgroup paths. The shapes (docs/agent.md):
 *   systemd:  .../kubepods.slice/kubepods-burstable.slice/
 *             kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope
 *             (crio-<id>.scope, docker-<id>.scope)
 *   cgroupfs: .../kubepods/burstable/pod<uid>/<id>
 *   Docker alone: /docker/<id> or docker-<id>.scope (no pod)
 * A pod without a kubepods-<qos> level is "guaranteed".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "podid.h"
#include "util.h"

static bool all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "pod" then a UID, '-' or '_' separated; copies it with '-'. */
static bool take_uid(const char *s, size_t n, char *out)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? (s[i] != '-' && s[i] != '_') : !all_hex(s + i, 1))
			return false;
		out[i] = dash ? '-' : s[i];
	}
	out[n] = '\0';
	return true;
}

/* One path component naming a pod level: pod<uid> or kubepods-...-pod<uid>.slice. */
static bool comp_pod(const char *c, size_t n, struct podid *o)
{
	const char *p;

	if (n > 6 && !strncmp(c + n - 6, ".slice", 6))
		n -= 6;
	for (p = c; p + 3 <= c + n; p++) {
		if (strncmp(p, "pod", 3) || (p != c && p[-1] != '-'))
			continue;
		if (take_uid(p + 3, c + n - p - 3, o->uid))
			return true;
	}
	return false;
}

static void comp_qos(const char *c, size_t n, struct podid *o)
{
	if (memmem(c, n, "burstable", 9))
		o->qos = "burstable";
	else if (memmem(c, n, "besteffort", 10))
		o->qos = "besteffort";
}

/* A container level: [cri-containerd-|crio-|docker-]<hex id>[.scope]. */
static bool comp_container(const char *c, size_t n, struct podid *o)
{
	static const struct { const char *pfx; const char *rt; } shapes[] = {
		{ "cri-containerd-", "containerd" },
		{ "crio-", "cri-o" },
		{ "docker-", "docker" },
		{ "containerd-", "containerd" },
		{ "", NULL },
	};
	size_t i, pl;

	if (n > 6 && !strncmp(c + n - 6, ".scope", 6))
		n -= 6;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		pl = strlen(shapes[i].pfx);
		if (n < pl || strncmp(c, shapes[i].pfx, pl))
			continue;
		/* crio-conmon-<id> is the runtime's monitor, not the container */
		if (n - pl < 12 || n - pl > 64 || !all_hex(c + pl, n - pl))
			continue;
		memcpy(o->container, c + pl, n - pl);
		o->container[n - pl] = '\0';
		o->runtime = shapes[i].rt;
		return true;
	}
	return false;
}

int podid__parse_path(const char *path, struct podid *o)
{
	bool kube = false, docker = false;
	const char *c = path, *e;
	size_t n;

	memset(o, 0, sizeof(*o));
	for (; *c; c = e) {
		while (*c == '/')
			c++;
		e = strchrnul(c, '/');
		n = e - c;
		if (!n)
			break;
		if (memmem(c, n, "kubepods", 8))
			kube = true;
		if (kube && !o->uid[0]) {
			comp_qos(c, n, o);
			if (comp_pod(c, n, o))
				continue;
		}
		if (n == 6 && !strncmp(c, "docker", 6))
			docker = true;
		if (o->uid[0] || docker ||
		    (n > 6 && !strncmp(c + n - 6, ".scope", 6)))
			comp_container(c, n, o);
	}
	if (o->uid[0] && !o->qos)
		o->qos = "guaranteed";
	if (!o->uid[0])
		o->qos = NULL;
	if (o->container[0] && !o->runtime && docker)
		o->runtime = "docker";
	return o->uid[0] || o->container[0] ? 0 : -ENOENT;
}

int podid__parse_cgroup(const char *text, struct podid *out)
{
	const char *l = text, *e, *path;
	char buf[1024];
	size_t n;

	memset(out, 0, sizeof(*out));
	for (; *l; l = *e ? e + 1 : e) {
		e = strchrnul(l, '\n');
		n = e - l;
		if (n >= sizeof(buf))
			continue;
		memcpy(buf, l, n);
		buf[n] = '\0';
		/* "hierarchy:controllers:path"; the path may hold ':' */
		path = strchr(buf, ':');
		path = path ? strchr(path + 1, ':') : NULL;
		if (path && !podid__parse_path(path + 1, out))
			return 0;
	}
	memset(out, 0, sizeof(*out));
	return -ENOENT;
}

static void env_copy(const char *v, char *dst, size_t len)
{
	if (*v && !*dst)
		clean_str(dst, v, len);
}

void podid__parse_environ(const char *env, size_t len, struct podid *o)
{
	const char *p = env, *end = env + len;
	char pod[XT_PODNAME_LEN] = "", host[XT_PODNAME_LEN] = "";

	while (p < end) {
		size_t n = strnlen(p, end - p);
		char v[XT_PODNAME_LEN];

		if (n < sizeof(v) + 16) {
			const char *eq = memchr(p, '=', n);

			if (eq && (size_t)(p + n - eq - 1) < sizeof(v)) {
				memcpy(v, eq + 1, p + n - eq - 1);
				v[p + n - eq - 1] = '\0';
				if (eq - p == 8 && !strncmp(p, "POD_NAME", 8))
					env_copy(v, pod, sizeof(pod));
				else if (eq - p == 8 && !strncmp(p, "HOSTNAME", 8))
					env_copy(v, host, sizeof(host));
				else if (eq - p == 13 &&
					 !strncmp(p, "POD_NAMESPACE", 13))
					env_copy(v, o->ns, sizeof(o->ns));
			}
		}
		p += n + 1;
	}
	/* The downward API's POD_NAME is exact; HOSTNAME is the pod name
	 * unless the spec sets hostname: or hostNetwork: true. */
	snprintf(o->pod, sizeof(o->pod), "%s", pod[0] ? pod : host);
}

int podid__read(__u32 pid, struct podid *out)
{
	char path[64], *buf;
	int n, fd, err;

	buf = malloc(16384);
	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	n = read_file(path, buf, 16384);
	/* Gone or unreadable: say so apart from "not in a pod". */
	err = n < 0 ? -ESRCH : podid__parse_cgroup(buf, out);
	if (err)
		goto out;
	snprintf(path, sizeof(path), "/proc/%u/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, 16383);
		close(fd);
		if (n > 0)
			podid__parse_environ(buf, n, out);
	}
out:
	free(buf);
	return err;
}
