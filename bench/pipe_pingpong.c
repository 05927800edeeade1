// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pipe_pingpong: two processes bounce a message over a pair of pipes.
 *
 *   pipe_pingpong [-s MSG_BYTES] [-n ROUND_TRIPS] [-c CPU] [-L]
 *
 * No sockets: this measures the cost added to context switches
 * (sched_switch). With -c both processes are pinned to one CPU, so each
 * round trip is exactly two switches between them. With -L each process
 * first opens a TCP listener on 127.0.0.1 (and they wait 300 ms, untimed),
 * so xfertrace's default `record --detail` selects both for on-CPU
 * slices: the detailed path. Prints one key=value line.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "bench_util.h"

/* A listening socket on loopback, kept open for the process's life. */
static int listen_here(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fd, 1))
		return -1;
	return 0;
}

static int parse(int argc, char **argv, size_t *msg, unsigned long *n,
		 int *cpu, int *lst)
{
	int opt;

	while ((opt = getopt(argc, argv, "s:n:c:L")) != -1) {
		switch (opt) {
		case 's':
			*msg = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			*n = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			*cpu = atoi(optarg);
			break;
		case 'L':
			*lst = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-s MSG_BYTES] [-n ROUND_TRIPS] [-c CPU] [-L]\n",
				argv[0]);
			return 2;
		}
	}
	return *msg && *n ? 0 : 2;
}

static int echo(int rfd, int wfd, size_t msg, int cpu)
{
	char *buf = malloc(msg);
	int r;

	if (!buf || pin(cpu))
		return 1;
	while ((r = read_full(rfd, buf, msg)) == 0)
		if (write_all(wfd, buf, msg))
			return 1;
	return r == 1 ? 0 : 1;
}

static int bounce(int rfd, int wfd, size_t msg, unsigned long n, int cpu,
		  double *wall)
{
	char *buf = malloc(msg);
	unsigned long i;
	double t0;

	if (!buf || pin(cpu))
		return -1;
	memset(buf, 'p', msg);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (write_all(wfd, buf, msg) || read_full(rfd, buf, msg))
			return -1;
	*wall = now_s() - t0;
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int st, err, cpu = -1, req[2], rsp[2], lst = 0;
	unsigned long n = 150000;
	size_t msg = 64;
	double wall = 0;
	pid_t pid;

	if (parse(argc, argv, &msg, &n, &cpu, &lst))
		return 2;
	if (pipe(req) || pipe(rsp))
		return 2;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(req[1]);
		close(rsp[0]);
		if (lst && listen_here())
			_exit(1);
		_exit(echo(req[0], rsp[1], msg, cpu));
	}
	close(req[0]);
	close(rsp[1]);
	if (lst) {
		if (listen_here())
			kill(pid, SIGKILL);
		/* The tracer learns listeners at its next harvest. */
		usleep(300000);
	}
	err = bounce(rsp[0], req[1], msg, n, cpu, &wall);
	close(req[1]);
	if (err)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		err = -1;
	if (err) {
		fprintf(stderr, "pipe_pingpong: failed\n");
		return 1;
	}
	printf("pipe_pingpong msg=%zu cpu=%d ops=%lu wall_s=%.6f cpu_s=%.6f ops_per_s=%.1f us_per_rtt=%.3f\n",
	       msg, cpu, n, wall, cpu_s(), n / wall, wall / n * 1e6);
	return 0;
}
