/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Kubernetes pod identity of a process, from its cgroup path (v1 and v2,
 * systemd and cgroupfs drivers, containerd, CRI-O and Docker shapes) and,
 * where readable, its environment (HOSTNAME is the pod name; the pod's
 * namespace is not in the cgroup path, only in POD_NAMESPACE if the pod
 * spec sets it through the downward API).
 */
#ifndef XT_PODID_H
#define XT_PODID_H

#include <linux/types.h>

#define XT_POD_UID_LEN	40	/* 36 characters and a NUL */
#define XT_CID_LEN	72	/* 64 hex digits and a NUL */
#define XT_PODNAME_LEN	254	/* DNS subdomain: 253 */

struct podid {
	char uid[XT_POD_UID_LEN];	/* "" outside a pod */
	char container[XT_CID_LEN];	/* container id, full */
	const char *qos;		/* guaranteed, burstable, besteffort */
	const char *runtime;		/* containerd, cri-o, docker */
	char pod[XT_PODNAME_LEN];	/* from HOSTNAME / POD_NAME */
	char ns[XT_PODNAME_LEN];	/* from POD_NAMESPACE */
};

/* Parse one cgroup path; 0 when it names a pod or a container, else -ENOENT. */
int podid__parse_path(const char *path, struct podid *out);
/*
 * Parse the text of /proc/PID/cgroup (v1 lines "N:ctrl:/path", v2 "0::/path");
 * the first line that names a pod or container wins.
 */
int podid__parse_cgroup(const char *text, struct podid *out);
/* Fill name and namespace from a NUL-separated environ block. */
void podid__parse_environ(const char *env, size_t len, struct podid *out);
/* All of the above for a live process; -ENOENT when not in a container,
 * -ESRCH when its /proc files cannot be read (gone). */
int podid__read(__u32 pid, struct podid *out);

#endif
