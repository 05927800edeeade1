/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Helpers the benchmark workloads share: clocks, CPU, pinning, loopback. */
#ifndef XT_BENCH_UTIL_H
#define XT_BENCH_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this process and its waited-for children, seconds. */
static inline double cpu_s(void)
{
	struct rusage s, c;

	getrusage(RUSAGE_SELF, &s);
	getrusage(RUSAGE_CHILDREN, &c);
	return s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec +
	       c.ru_stime.tv_sec + (s.ru_utime.tv_usec + s.ru_stime.tv_usec +
	       c.ru_utime.tv_usec + c.ru_stime.tv_usec) / 1e6;
}

/* Pin the calling process to one CPU; cpu < 0 leaves it free. */
static inline int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* A listener on 127.0.0.1 and a free port; returns the fd or -errno. */
static inline int listen_loopback(unsigned short *port, int backlog)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fd, backlog) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		close(fd);
		return -errno;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static inline int connect_loopback(unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static inline void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Reads exactly len bytes; 1 on clean EOF before any byte, <0 on error. */
static inline int read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got ? -EPIPE : 1;
		got += n;
	}
	return 0;
}

static inline int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Ping-pong options: -s MSG_BYTES -n ROUND_TRIPS -c CPU; 0 or 2 (usage). */
static inline int pingpong_args(int argc, char **argv, size_t *msg,
				unsigned long *n, int *cpu)
{
	int opt;

	while ((opt = getopt(argc, argv, "s:n:c:")) != -1) {
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
		default:
			fprintf(stderr, "usage: %s [-s MSG_BYTES] [-n ROUND_TRIPS] [-c CPU]\n",
				argv[0]);
			return 2;
		}
	}
	return *msg && *n ? 0 : 2;
}

#endif
