// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hmap.h"
#include "procnet.h"
#include "util.h"

struct sockinfo {
	__u64 netns;
	struct xt_tuple tuple;
};

static __u64 ns_inode(const char *pid)
{
	char path[300], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	return strtoull(link + strcspn(link, "0123456789"), NULL, 10);
}

/* "0100007F:1F90": the address words as the kernel printed them (%08X). */
static int parse_addr(const char *s, __u32 family, __u32 addr[4],
		      __u32 *port)
{
	int words = family == 2 ? 1 : 4, i;
	char w[9];

	for (i = 0; i < words; i++) {
		if (strlen(s) < 8)
			return -EINVAL;
		memcpy(w, s, 8);
		w[8] = 0;
		addr[i] = strtoul(w, NULL, 16);
		s += 8;
	}
	if (*s != ':')
		return -EINVAL;
	*port = strtoul(s + 1, NULL, 16);
	return 0;
}

/* Listening sockets of one namespace, keyed by socket inode. */
static void read_table(const char *pid, __u64 netns, __u32 family,
		       struct hmap *socks)
{
	char path[300], line[512], local[64], st[8];
	unsigned long inode;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/net/%s", pid,
		 family == 2 ? "tcp" : "tcp6");
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		struct sockinfo *si;

		if (sscanf(line, " %*s %63s %*s %7s %*s %*s %*s %*s %*s %lu",
			   local, st, &inode) != 3 ||
		    strcmp(st, "0A") || !inode || hmap__get(socks, inode))
			continue;
		si = calloc(1, sizeof(*si));
		if (!si)
			break;
		si->netns = netns;
		si->tuple.family = family;
		if (parse_addr(local, family, si->tuple.laddr,
			       &si->tuple.lport) || hmap__put(socks, inode, si))
			free(si);
	}
	fclose(f);
}

static bool read_stat(const char *pid, __u64 *ticks, char *comm)
{
	char path[300], buf[1024], *p, *q;
	int field;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	p = strchr(buf, '(');
	q = strrchr(buf, ')');
	if (!p || !q || q < p)
		return false;
	snprintf(comm, XT_COMM_LEN, "%.*s", (int)(q - p - 1), p + 1);
	for (field = 3, p = q + 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	*ticks = strtoull(p, NULL, 10);
	return true;
}

/* Owners: walk every process's fds for "socket:[inode]". */
static int find_owners(struct hmap *socks, struct procnet_listener **out,
		       int *n)
{
	struct procnet_listener *v = NULL, *nv;
	struct dirent *de, *fe;
	int cap = 0, cnt = 0;
	DIR *d = opendir("/proc"), *fd;
	char path[600], link[64];

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		__u64 ticks = 0;
		char comm[XT_COMM_LEN] = "";
		bool stat_read = false;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		fd = opendir(path);
		if (!fd)
			continue;
		while ((fe = readdir(fd))) {
			struct sockinfo *si;
			ssize_t l;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 de->d_name, fe->d_name);
			l = readlink(path, link, sizeof(link) - 1);
			if (l <= 8 || strncmp(link, "socket:[", 8))
				continue;
			link[l] = 0;
			si = hmap__get(socks, strtoull(link + 8, NULL, 10));
			if (!si)
				continue;
			if (!stat_read) {
				stat_read = read_stat(de->d_name, &ticks, comm);
				if (!stat_read)
					break;
			}
			if (cnt == cap) {
				cap = cap ? cap * 2 : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					break;
				v = nv;
			}
			v[cnt] = (struct procnet_listener){
				.pid = strtoul(de->d_name, NULL, 10),
				.start_ticks = ticks,
				.netns = si->netns,
				.tuple = si->tuple,
			};
			memcpy(v[cnt].comm, comm, XT_COMM_LEN);
			cnt++;
			/* Threads share fds; a forked child may too: first wins. */
			hmap__del(socks, strtoull(link + 8, NULL, 10));
			free(si);
		}
		closedir(fd);
	}
	closedir(d);
	*out = v;
	*n = cnt;
	return 0;
}

int procnet__listeners(struct procnet_listener **out, int *n)
{
	struct hmap *netns = hmap__new(), *socks = hmap__new();
	struct dirent *de;
	size_t pos = 0;
	__u64 key;
	void *val;
	DIR *d;
	int err;

	*out = NULL;
	*n = 0;
	d = opendir("/proc");
	if (!netns || !socks || !d) {
		err = d ? -ENOMEM : -errno;
		goto out;
	}
	/* One table read per network namespace, through any of its pids. */
	while ((de = readdir(d))) {
		__u64 ns;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		ns = ns_inode(de->d_name);
		if (!ns || hmap__get(netns, ns))
			continue;
		hmap__put(netns, ns, (void *)1);
		read_table(de->d_name, ns, 2, socks);
		read_table(de->d_name, ns, 10, socks);
	}
	err = find_owners(socks, out, n);
out:
	if (d)
		closedir(d);
	if (socks)
		while (hmap__next(socks, &pos, &key, &val))
			free(val);
	hmap__free(socks);
	hmap__free(netns);
	return err;
}
