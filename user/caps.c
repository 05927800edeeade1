// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * capset(2) and prctl(2) directly: the one thing libcap would do for us
 * here is these two calls.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "caps.h"

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = 40;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = 40;
		fclose(f);
	}
	return n < 63 ? n : 63;
}

int caps__effective(__u64 *out)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return -errno;
	*out = (__u64)d[1].effective << 32 | d[0].effective;
	return 0;
}

int caps__keep_only(__u64 keep)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	__u64 eff;
	int i, top = last_cap();

	if (caps__effective(&eff))
		return -errno;
	keep &= eff;
	/* The bounding set needs CAP_SETPCAP, so before it goes. */
	for (i = 0; i <= top; i++)
		if (!(keep & (1ull << i)) && prctl(PR_CAPBSET_READ, i) == 1)
			prctl(PR_CAPBSET_DROP, i);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	d[0].effective = d[0].permitted = (__u32)keep;
	d[1].effective = d[1].permitted = (__u32)(keep >> 32);
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

void caps__names(__u64 mask, char *buf, size_t len)
{
	static const char *const names[] = {
		[CAP_DAC_OVERRIDE] = "cap_dac_override",
		[CAP_DAC_READ_SEARCH] = "cap_dac_read_search",
		[CAP_SYS_PTRACE] = "cap_sys_ptrace",
		[CAP_SYS_ADMIN] = "cap_sys_admin",
		[CAP_SYS_RESOURCE] = "cap_sys_resource",
		[CAP_NET_ADMIN] = "cap_net_admin",
		[CAP_PERFMON] = "cap_perfmon",
		[CAP_BPF] = "cap_bpf",
	};
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < 64 && o < len; i++) {
		if (!(mask & (1ull << i)))
			continue;
		if (i < (int)(sizeof(names) / sizeof(names[0])) && names[i])
			o += snprintf(buf + o, len - o, "%s%s", o ? "," : "",
				      names[i]);
		else
			o += snprintf(buf + o, len - o, "%scap_%d", o ? "," : "", i);
	}
	if (!o)
		snprintf(buf, len, "none");
}
