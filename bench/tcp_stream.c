// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcp_stream: one-way loopback TCP stream between two processes.
 *
 *   tcp_stream [-s MSG_BYTES] [-n WRITES] [-c SEND_CPU,RECV_CPU] [-b SOCKBUF]
 *
 * -c pins the sender and the receiver to those CPUs; -b fixes both socket
 * buffers (turning off autotuning). Both make runs repeatable: without
 * them a fresh loopback connection's speed swings 2x with where the
 * scheduler puts the two ends and how the buffers grow.
 *
 * The parent connects and write()s N messages of MSG_BYTES; the child
 * accepts and read()s with a MSG_BYTES buffer until EOF, then sends a
 * one-byte acknowledgement. Wall time runs from the first write to the
 * acknowledgement. Prints one line of key=value pairs; exits non-zero on
 * any failure (including a byte count mismatch).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

/* Child: read everything, acknowledge, report mismatch by exit status. */
static int cpus[2] = { -1, -1 };
static int sockbuf;

/* Pin this end and fix its buffers, as -c and -b ask. */
static int setup_end(int fd, int end)
{
	int opt = end ? SO_RCVBUF : SO_SNDBUF;

	if (cpus[end] >= 0 && pin(cpus[end]))
		return -1;
	if (sockbuf && setsockopt(fd, SOL_SOCKET, opt, &sockbuf,
				  sizeof(sockbuf)))
		return -1;
	return 0;
}

static int receiver(int lfd, size_t msg, unsigned long long expect)
{
	unsigned long long total = 0;
	char *buf = malloc(msg);
	int fd = accept(lfd, NULL, NULL);
	ssize_t n;

	if (fd < 0 || !buf || setup_end(fd, 1))
		return 1;
	close(lfd);
	for (;;) {
		n = read(fd, buf, msg);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	if (n < 0 || write_all(fd, "k", 1))
		return 1;
	close(fd);
	free(buf);
	return total == expect ? 0 : 2;
}

static int sender(unsigned short port, size_t msg, unsigned long n,
		  double *wall)
{
	char *buf = malloc(msg), ack;
	int fd = connect_loopback(port), one = 1;
	unsigned long i;
	double t0;

	if (fd < 0 || !buf || setup_end(fd, 0))
		return -1;
	memset(buf, 'x', msg);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (write_all(fd, buf, msg))
			return -1;
	if (shutdown(fd, SHUT_WR) || read(fd, &ack, 1) != 1)
		return -1;
	*wall = now_s() - t0;
	close(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	size_t msg = 65536;
	unsigned long n = 40000;
	unsigned short port = 0;
	int opt, lfd, st, err;
	double wall = 0;
	pid_t pid;

	while ((opt = getopt(argc, argv, "s:n:c:b:")) != -1) {
		switch (opt) {
		case 's':
			msg = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &cpus[0], &cpus[1]) != 2)
				goto usage;
			break;
		case 'b':
			sockbuf = atoi(optarg);
			break;
		default:
usage:
			fprintf(stderr, "usage: %s [-s MSG_BYTES] [-n WRITES] "
				"[-c SEND_CPU,RECV_CPU] [-b SOCKBUF]\n", argv[0]);
			return 2;
		}
	}
	if (!msg || !n)
		return 2;
	lfd = listen_loopback(&port, 16);
	if (lfd < 0) {
		fprintf(stderr, "tcp_stream: listen: %s\n", strerror(-lfd));
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(receiver(lfd, msg, (unsigned long long)msg * n));
	close(lfd);
	err = sender(port, msg, n, &wall);
	if (err)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		err = -1;
	if (err) {
		fprintf(stderr, "tcp_stream: transfer failed\n");
		return 1;
	}
	printf("tcp_stream msg=%zu ops=%lu bytes=%llu wall_s=%.6f cpu_s=%.6f ops_per_s=%.1f MBps=%.1f\n",
	       msg, n, (unsigned long long)msg * n, wall, cpu_s(), n / wall,
	       msg * (double)n / wall / 1e6);
	return 0;
}
