// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Process identity from /proc: whether a (pid, start) is still the process we saw, its
 * name and command line, the PROC record that introduces it, and its
 * cgroup CPU throttling.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collector_priv.h"
#include "cgroup.h"
#include "util.h"

/* /proc/<pid>/stat starttime is start_boottime in clock ticks. */
bool ident__proc_matches(__u32 pid, __u64 start_ns, __u32 *ppid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	int field, n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	n = read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return false;
	p = strrchr(buf, ')');
	if (!p)
		return false;
	/* Fields after comm: 3=state 4=ppid ... 22=starttime. */
	for (field = 3, p += 2; *p && field < 22; p++)
		if (*p == ' ') {
			field++;
			if (field == 4)
				*ppid = strtoul(p + 1, NULL, 10);
		}
	st = strtoull(p, NULL, 10);
	return hz > 0 && st == start_ns / (1000000000ull / hz);
}

static void read_cmdline(__u32 pid, char *out, size_t len)
{
	char path[64], buf[XT_CMDLINE_LEN];
	int n, i;

	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	n = read_file(path, buf, sizeof(buf));
	if (n <= 0) {
		out[0] = 0;
		return;
	}
	for (i = 0; i < n - 1; i++)
		if (!buf[i])
			buf[i] = ' ';
	clean_str(out, buf, len);
}

/*
 * Emit a process record the first time (pid, start) appears, and again
 * when exec gives it a new name (rename: comm of its main thread).
 */
struct pseen *ident__proc_emit(struct collector *c, __u32 pid,
			       __u64 start_ns, __u64 netns, __u64 cgroup_id,
			       const char *comm, bool rename)
{
	__u64 key = hkey2(pid, start_ns);
	struct pseen *seen = hmap__get(c->procs_seen, key);
	struct xt_rec_proc r;
	bool fresh = false;
	__u32 ppid = 0;

	if (seen && !(rename && comm[0] &&
		      strncmp(seen->comm, comm, XT_COMM_LEN)))
		return seen;
	if (!seen) {
		seen = calloc(1, sizeof(*seen));
		if (!seen || hmap__put(c->procs_seen, key, seen)) {
			free(seen);
			return NULL;
		}
		seen->pid = pid;
		seen->start_ns = start_ns;
		fresh = true;
	}
	strncpy(seen->comm, comm, XT_COMM_LEN - 1);
	REC_INIT(r, XT_REC_PROC);
	r.pid = pid;
	r.start_ns = start_ns;
	r.netns = netns;
	r.cgroup_id = cgroup_id;
	clean_str(r.comm, comm, sizeof(r.comm));
	/* Only trust /proc when it is still the same process. */
	if (ident__proc_matches(pid, start_ns, &ppid)) {
		r.ppid = ppid;
		read_cmdline(pid, r.cmdline, sizeof(r.cmdline));
	}
	collector__emit(c, &r);
	if (fresh && c->n_pend)
		disc__pend_flush(c, pid, start_ns);
	return seen;
}

struct pseen *ident__ensure_proc(struct collector *c, __u32 pid,
				 __u64 start_ns, __u64 netns,
				 __u64 cgroup_id, const char *comm)
{
	return ident__proc_emit(c, pid, start_ns, netns, cgroup_id, comm, false);
}

/* Processes with sockets get their cgroup's throttling watched. */
void ident__ensure_net_proc(struct collector *c, __u32 pid, __u64 start_ns,
			    __u64 netns, __u64 cgroup_id, const char *comm)
{
	struct pseen *p = ident__ensure_proc(c, pid, start_ns, netns, cgroup_id,
				      comm);

	if (p)
		p->net = true;
}

/* Once a second: cpu.stat of every networked process's cgroup. */
void ident__cgroups(struct collector *c, __u64 ts)
{
	struct xt_rec_cgroup_cpu r;
	struct cg_cpu cg;
	size_t pos = 0;
	__u32 ppid;
	__u64 key;
	void *v;

	while (hmap__next(c->procs_seen, &pos, &key, &v)) {
		struct pseen *p = v;

		if (!p->net || p->cg_gone)
			continue;
		if (!ident__proc_matches(p->pid, p->start_ns, &ppid) ||
		    cgroup__cpu_stat(p->pid, &cg)) {
			p->cg_gone = true;
			continue;
		}
		if (!memcmp(&cg, &p->cg, sizeof(cg)))
			continue;
		p->cg = cg;
		REC_INIT(r, XT_REC_CGROUP_CPU);
		r.ts_ns = ts;
		r.pid = p->pid;
		r.start_ns = p->start_ns;
		r.nr_periods = cg.nr_periods;
		r.nr_throttled = cg.nr_throttled;
		r.throttled_ns = cg.throttled_ns;
		r.quota_us = cg.quota_us;
		r.period_us = cg.period_us;
		collector__emit(c, &r);
	}
}

__u64 ident__tick_ns(void)
{
	long hz = sysconf(_SC_CLK_TCK);

	return 1000000000ull / (hz > 0 ? hz : 100);
}
