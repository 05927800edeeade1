// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcp_pingpong: loopback TCP request/response between two processes.
 *
 *   tcp_pingpong [-s MSG_BYTES] [-n ROUND_TRIPS] [-c CPU]
 *
 * The parent sends MSG_BYTES (default 64), the child echoes them back;
 * N round trips, TCP_NODELAY on both ends. With -c both processes are
 * pinned to that CPU (sched_setaffinity), so every round trip is two
 * direct context switches. Prints one key=value line.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

static int echo_server(int lfd, size_t msg, int cpu)
{
	char *buf = malloc(msg);
	int fd, r;

	if (!buf || pin(cpu))
		return 1;
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return 1;
	close(lfd);
	nodelay(fd);
	while ((r = read_full(fd, buf, msg)) == 0)
		if (write_all(fd, buf, msg))
			return 1;
	return r == 1 ? 0 : 1;
}

static int client(unsigned short port, size_t msg, unsigned long n, int cpu,
		  double *wall)
{
	char *buf = malloc(msg);
	unsigned long i;
	double t0;
	int fd;

	if (!buf || pin(cpu))
		return -1;
	fd = connect_loopback(port);
	if (fd < 0)
		return -1;
	nodelay(fd);
	memset(buf, 'p', msg);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (write_all(fd, buf, msg) || read_full(fd, buf, msg))
			return -1;
	*wall = now_s() - t0;
	close(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = 100000;
	size_t msg = 64;
	int lfd, st, err, cpu = -1;
	unsigned short port = 0;
	double wall = 0;
	pid_t pid;

	if (pingpong_args(argc, argv, &msg, &n, &cpu))
		return 2;
	lfd = listen_loopback(&port, 16);
	if (lfd < 0) {
		fprintf(stderr, "tcp_pingpong: listen: %s\n", strerror(-lfd));
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(echo_server(lfd, msg, cpu));
	close(lfd);
	err = client(port, msg, n, cpu, &wall);
	if (err)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		err = -1;
	if (err) {
		fprintf(stderr, "tcp_pingpong: failed\n");
		return 1;
	}
	printf("tcp_pingpong msg=%zu cpu=%d ops=%lu wall_s=%.6f cpu_s=%.6f ops_per_s=%.1f us_per_rtt=%.3f\n",
	       msg, cpu, n, wall, cpu_s(), n / wall, wall / n * 1e6);
	return 0;
}
