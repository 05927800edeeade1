// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests for user/podid.c: pod identity from synthetic cgroup paths of
 * each shape (v1/v2, systemd/cgroupfs, containerd/CRI-O/Docker), from
 * /proc/PID/cgroup text, and from environ blocks. The expected UID and id
 * are the ones put into each path. Ends with "N passed, N failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "podid.h"

static int n_pass, n_fail;

__attribute__((format(printf, 2, 3)))
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	ok ? n_pass++ : n_fail++;
}

#define UID  "1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6"
#define UIDU "1b2c3d4e_5f60_4718_9a0b_c1d2e3f4a5b6"
#define CID  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *s(const char *v)
{
	return v ? v : "(null)";
}

static void path_case(const char *what, const char *path, const char *uid,
		      const char *cid, const char *qos, const char *rt)
{
	struct podid p;
	int err = podid__parse_path(path, &p);

	if (!uid && !cid) {
		check(err != 0, "%s: not a pod or container (%s)", what, path);
		return;
	}
	check(!err && !strcmp(p.uid, uid ? uid : "") &&
	      !strcmp(p.container, cid ? cid : "") &&
	      !strcmp(s(p.qos), s(qos)) && !strcmp(s(p.runtime), s(rt)),
	      "%s: uid '%s' container '%.12s' qos %s runtime %s", what,
	      p.uid, p.container, s(p.qos), s(p.runtime));
}

static void paths(void)
{
	path_case("v2 systemd containerd burstable",
		  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice/cri-containerd-" CID ".scope",
		  UID, CID, "burstable", "containerd");
	path_case("v2 systemd containerd guaranteed",
		  "/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" CID ".scope",
		  UID, CID, "guaranteed", "containerd");
	path_case("v2 systemd CRI-O besteffort",
		  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice/crio-" CID ".scope",
		  UID, CID, "besteffort", "cri-o");
	path_case("CRI-O conmon is not the container",
		  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UIDU ".slice/crio-conmon-" CID ".scope",
		  UID, "", "besteffort", NULL);
	path_case("v2 systemd Docker (dockershim)",
		  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDU ".slice/docker-" CID ".scope",
		  UID, CID, "burstable", "docker");
	path_case("cgroupfs burstable",
		  "/kubepods/burstable/pod" UID "/" CID, UID, CID,
		  "burstable", NULL);
	path_case("cgroupfs guaranteed",
		  "/kubepods/pod" UID "/" CID, UID, CID, "guaranteed", NULL);
	path_case("cgroupfs besteffort, pod level only",
		  "/kubepods/besteffort/pod" UID, UID, "", "besteffort", NULL);
	path_case("kind: kubelet.slice nesting",
		  "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UIDU ".slice/cri-containerd-" CID ".scope",
		  UID, CID, "besteffort", "containerd");
	path_case("Docker alone, cgroupfs", "/docker/" CID, NULL, CID, NULL,
		  "docker");
	path_case("Docker alone, systemd",
		  "/system.slice/docker-" CID ".scope", NULL, CID, NULL, "docker");
	path_case("a systemd service", "/system.slice/ssh.service", NULL, NULL,
		  NULL, NULL);
	path_case("a user session scope",
		  "/user.slice/user-0.slice/session-3.scope", NULL, NULL, NULL, NULL);
	path_case("root", "/", NULL, NULL, NULL, NULL);
	path_case("malformed uid", "/kubepods/burstable/podnot-a-uid/" CID,
		  NULL, NULL, NULL, NULL);
}

static void cgroup_files(void)
{
	struct podid p;
	int err;

	err = podid__parse_cgroup("0::/kubepods.slice/kubepods-pod" UIDU ".slice/cri-containerd-" CID ".scope\n", &p);
	check(!err && !strcmp(p.uid, UID) && !strcmp(p.container, CID),
	      "v2 /proc/PID/cgroup line");
	err = podid__parse_cgroup(
		"12:pids:/kubepods/burstable/pod" UID "/" CID "\n"
		"11:cpu,cpuacct:/kubepods/burstable/pod" UID "/" CID "\n"
		"1:name=systemd:/kubepods/burstable/pod" UID "/" CID "\n"
		"0::/\n", &p);
	check(!err && !strcmp(p.uid, UID) && !strcmp(p.qos, "burstable"),
	      "v1 /proc/PID/cgroup (cgroupfs)");
	err = podid__parse_cgroup("0::/user.slice/user-0.slice/session-1.scope\n", &p);
	check(err && !p.uid[0], "v2 outside a pod: no identity");
	err = podid__parse_cgroup("garbage\n::\n0:\n", &p);
	check(err != 0, "garbage lines: no identity, no crash");
}

static void environs(void)
{
	static const char env1[] = "PATH=/bin\0HOSTNAME=dask-worker-7f9c\0POD_NAMESPACE=calib\0";
	static const char env2[] = "HOSTNAME=host-a\0POD_NAME=dask-worker-0\0";
	static const char env3[] = "HOME=/\0HOSTNAME=";
	struct podid p = {};

	podid__parse_environ(env1, sizeof(env1) - 1, &p);
	check(!strcmp(p.pod, "dask-worker-7f9c") && !strcmp(p.ns, "calib"),
	      "environ: pod from HOSTNAME, namespace from POD_NAMESPACE ('%s', '%s')",
	      p.pod, p.ns);
	memset(&p, 0, sizeof(p));
	podid__parse_environ(env2, sizeof(env2) - 1, &p);
	check(!strcmp(p.pod, "dask-worker-0") && !p.ns[0],
	      "environ: POD_NAME over HOSTNAME, no namespace ('%s')", p.pod);
	memset(&p, 0, sizeof(p));
	podid__parse_environ(env3, sizeof(env3) - 1, &p);
	check(!p.pod[0], "environ: cut short, empty HOSTNAME gives no name");
}

int main(void)
{
	paths();
	cgroup_files();
	environs();
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
