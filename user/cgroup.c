// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The cgroup of a process comes from /proc/PID/cgroup, relative to our
 * cgroup namespace, and its files from where that hierarchy is mounted
 * (/proc/self/mountinfo). cgroup v2 reports throttled_usec and cpu.max;
 * v1 reports throttled_time in ns and cpu.cfs_{quota,period}_us.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup.h"
#include "util.h"

static char v1_cpu_root[256], v2_root[256];
static int mounts_read;

/* Find where the v2 hierarchy and the v1 cpu controller are mounted. */
static void read_mounts(void)
{
	char line[1024], mnt[256], fstype[64], opts[512];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	mounts_read = 1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %511s", fstype, opts) != 2)
			continue;
		if (!strcmp(fstype, "cgroup2") && !v2_root[0])
			snprintf(v2_root, sizeof(v2_root), "%s", mnt);
		else if (!strcmp(fstype, "cgroup") && !v1_cpu_root[0]) {
			char *o, *save = NULL;

			for (o = strtok_r(opts, ",", &save); o;
			     o = strtok_r(NULL, ",", &save))
				if (!strcmp(o, "cpu"))
					snprintf(v1_cpu_root,
						 sizeof(v1_cpu_root), "%s",
						 mnt);
		}
	}
	fclose(f);
}

static __u64 stat_field(const char *buf, const char *key)
{
	size_t n = strlen(key);
	const char *p = buf;

	while ((p = strstr(p, key))) {
		if ((p == buf || p[-1] == '\n') && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p += n;
	}
	return 0;
}

static int read_v1(const char *path, struct cg_cpu *out)
{
	char f[1024], buf[512];	/* f: root + path + file, never cut */
	long long q;

	snprintf(f, sizeof(f), "%s%s/cpu.stat", v1_cpu_root, path);
	if (read_file(f, buf, sizeof(buf)) < 0)
		return -ENOENT;
	out->nr_periods = stat_field(buf, "nr_periods");
	out->nr_throttled = stat_field(buf, "nr_throttled");
	out->throttled_ns = stat_field(buf, "throttled_time");
	snprintf(f, sizeof(f), "%s%s/cpu.cfs_quota_us", v1_cpu_root, path);
	q = read_file(f, buf, sizeof(buf)) > 0 ? strtoll(buf, NULL, 10) : -1;
	out->quota_us = q > 0 ? q : -1;
	snprintf(f, sizeof(f), "%s%s/cpu.cfs_period_us", v1_cpu_root, path);
	out->period_us = read_file(f, buf, sizeof(buf)) > 0 ?
			 strtoull(buf, NULL, 10) : 0;
	return 0;
}

static int read_v2(const char *path, struct cg_cpu *out)
{
	char f[1024], buf[512];	/* f: root + path + file, never cut */

	snprintf(f, sizeof(f), "%s%s/cpu.stat", v2_root, path);
	if (read_file(f, buf, sizeof(buf)) < 0)
		return -ENOENT;
	/* Without the cpu controller, cpu.stat has usage lines only. */
	if (!strstr(buf, "nr_periods"))
		return -ENOENT;
	out->nr_periods = stat_field(buf, "nr_periods");
	out->nr_throttled = stat_field(buf, "nr_throttled");
	out->throttled_ns = stat_field(buf, "throttled_usec") * 1000;
	snprintf(f, sizeof(f), "%s%s/cpu.max", v2_root, path);
	out->quota_us = -1;
	out->period_us = 0;
	if (read_file(f, buf, sizeof(buf)) > 0) {
		char *end;
		long long q = strtoll(buf, &end, 10);

		out->quota_us = end != buf && q > 0 ? q : -1;
		out->period_us = strtoull(strchr(buf, ' ') ?
					  strchr(buf, ' ') + 1 : "0", NULL, 10);
	}
	return 0;
}

int cgroup__cpu_stat(__u32 pid, struct cg_cpu *out)
{
	char f[64], line[512], v1[384] = "", v2[384] = "";
	FILE *fp;

	if (!mounts_read)
		read_mounts();
	snprintf(f, sizeof(f), "/proc/%u/cgroup", pid);
	fp = fopen(f, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *nl = strchr(line, '\n');

		if (!c2)
			continue;
		if (nl)
			*nl = 0;
		*c2 = 0;
		if (!strcmp(line, "0") && c1[1] == 0)
			snprintf(v2, sizeof(v2), "%s", c2 + 1);
		else if (strstr(c1 + 1, "cpu") &&
			 (!strcmp(c1 + 1, "cpu") || strstr(c1 + 1, "cpu,") ||
			  strstr(c1 + 1, ",cpu")))
			snprintf(v1, sizeof(v1), "%s", c2 + 1);
	}
	fclose(fp);
	memset(out, 0, sizeof(*out));
	if (v1[0] && v1_cpu_root[0] && !read_v1(strcmp(v1, "/") ? v1 : "", out))
		return 0;
	if (v2[0] && v2_root[0] && !read_v2(strcmp(v2, "/") ? v2 : "", out))
		return 0;
	return -ENOENT;
}
