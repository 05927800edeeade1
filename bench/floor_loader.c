// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor_loader: attach bench/floor.bpf.c's empty programs and hold them
 * until SIGINT or SIGTERM. Exits non-zero with one line if they cannot
 * load or attach.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int main(void)
{
	struct floor_bpf *skel;
	int err;

	libbpf_set_print(quiet);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	skel = floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "floor_loader: cannot load: %s\n",
			strerror(errno));
		return 1;
	}
	err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "floor_loader: cannot attach: %s\n",
			strerror(-err));
		floor_bpf__destroy(skel);
		return 1;
	}
	fprintf(stderr, "floor_loader: attached (empty programs on "
		"sock_send_length, sock_recv_length, sched_switch)\n");
	while (!stop)
		pause();
	floor_bpf__destroy(skel);
	return 0;
}
