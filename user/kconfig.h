/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The kernel config values the BPF side reads (CONFIG_HZ), found by us so
 * that loading never depends on libbpf finding a config file: DaemonSet
 * pods rarely mount /boot and most distribution kernels lack
 * /proc/config.gz.
 */
#ifndef XT_KCONFIG_H
#define XT_KCONFIG_H

struct kconfig;

/*
 * Look in $XFERTRACE_KCONFIG, /proc/config.gz, /boot/config-$(uname -r),
 * /lib/modules/$(uname -r)/config, then the same under the host root
 * ($XFERTRACE_HOST_ROOT, else /host). Finding nothing is not an error.
 */
int kconfig__load(struct kconfig **out);
void kconfig__free(struct kconfig *k);
/* Text for bpf_object_open_opts.kconfig; CONFIG_HZ=0 when unknown. */
const char *kconfig__libbpf(const struct kconfig *k);
/* CONFIG_HZ, 0 when no config was readable. */
unsigned int kconfig__hz(const struct kconfig *k);
/* The file read, or NULL. */
const char *kconfig__source(const struct kconfig *k);
/* The places looked at, for a message when none was readable. */
const char *kconfig__tried(const struct kconfig *k);

#endif
