// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Find the kernel config ourselves and hand libbpf only what BPF needs. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>
#include "kconfig.h"

struct kconfig {
	unsigned int hz;
	char source[PATH_MAX];
	char tried[1024];
	char libbpf[64];
};

/* CONFIG_HZ from one file (gzip or plain: gzopen reads both); 0 if none. */
static unsigned int read_hz(const char *path)
{
	char line[256];
	unsigned int hz = 0;
	gzFile f = gzopen(path, "rb");

	if (!f)
		return 0;
	while (gzgets(f, line, sizeof(line)))
		if (sscanf(line, "CONFIG_HZ=%u", &hz) == 1)
			break;
	gzclose(f);
	return hz;
}

static int try_path(struct kconfig *k, const char *path)
{
	size_t n = strlen(k->tried);

	snprintf(k->tried + n, sizeof(k->tried) - n, "%s%s", n ? ", " : "",
		 path);
	k->hz = read_hz(path);
	if (!k->hz)
		return 0;
	snprintf(k->source, sizeof(k->source), "%s", path);
	return 1;
}

/* The usual places under one root ("" is this machine's own). */
static int try_root(struct kconfig *k, const char *root, const char *rel)
{
	static const char *const fmt[] = {
		"%s/proc/config.gz", "%s/boot/config-%s",
		"%s/lib/modules/%s/config",
	};
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		/* A host root's /proc is this kernel's /proc again. */
		if (*root && i == 0)
			continue;
		snprintf(path, sizeof(path), fmt[i], root, rel);
		if (try_path(k, path))
			return 1;
	}
	return 0;
}

int kconfig__load(struct kconfig **out)
{
	const char *env = getenv("XFERTRACE_KCONFIG");
	const char *host = getenv("XFERTRACE_HOST_ROOT");
	struct kconfig *k = calloc(1, sizeof(*k));
	struct utsname u;

	if (!k)
		return -ENOMEM;
	if (uname(&u))
		u.release[0] = '\0';
	if (!(env && *env && try_path(k, env)) && !try_root(k, "", u.release))
		try_root(k, host && *host ? host : "/host", u.release);
	/*
	 * Always give libbpf a value: with every kconfig extern set it never
	 * opens a config file itself (libbpf 1.1 fails the load when it
	 * cannot). 0 means unknown; the BPF side then uses the precise clock.
	 */
	snprintf(k->libbpf, sizeof(k->libbpf), "CONFIG_HZ=%u\n", k->hz);
	*out = k;
	return 0;
}

void kconfig__free(struct kconfig *k)
{
	free(k);
}

const char *kconfig__libbpf(const struct kconfig *k)
{
	return k->libbpf;
}

unsigned int kconfig__hz(const struct kconfig *k)
{
	return k->hz;
}

const char *kconfig__source(const struct kconfig *k)
{
	return k->hz ? k->source : NULL;
}

const char *kconfig__tried(const struct kconfig *k)
{
	return k->tried;
}
