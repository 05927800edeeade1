// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * conn_trickle: many live loopback connections with a trickle of data.
 *
 *   conn_trickle [-c CONNS] [-d SECONDS] [-r MSGS_PER_CONN_PER_S] [-s BYTES]
 *
 * The parent opens CONNS (default 1000) connections to a child that echoes
 * with epoll. For SECONDS (default 5) the parent sends a BYTES (default 64)
 * message on every connection RATE times a second (default 1), spread
 * evenly over 10 ms ticks, and reads the echoes. All connections stay open
 * until the end, so a tracer sees CONNS live connections in every interval.
 * Prints one key=value line.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

#define TICK_NS 10000000LL

struct opts {
	int conns;
	double secs;
	double rate;
	size_t msg;
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= (rlim_t)want)
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max < (rlim_t)want)
		rl.rlim_max = want;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

static int epoll_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Echoes whatever arrives; a connection that reaches EOF is closed. */
static void echo_ready(int ep, int fd, char *buf, size_t cap, int *open)
{
	ssize_t n = read(fd, buf, cap);

	if (n > 0) {
		if (write(fd, buf, n) != n)
			n = -1;
		if (n > 0)
			return;
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	(*open)--;
}

static int echo_server(int lfd, int conns)
{
	struct epoll_event evs[256];
	int ep = epoll_create1(0), open = 0, accepted = 0, i, n, one = 1;
	char buf[4096];

	if (ep < 0 || epoll_add(ep, lfd))
		return 1;
	while (accepted < conns || open > 0) {
		n = epoll_wait(ep, evs, 256, 30000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd != lfd) {
				echo_ready(ep, fd, buf, sizeof(buf), &open);
				continue;
			}
			fd = accept(lfd, NULL, NULL);
			if (fd < 0 || epoll_add(ep, fd))
				return 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			accepted++;
			open++;
		}
	}
	return 0;
}

/* Reads echoes that are already there; returns bytes read or <0. */
static long long drain(int ep, char *buf, size_t cap, int timeout_ms)
{
	struct epoll_event evs[256];
	long long got = 0;
	int i, n = epoll_wait(ep, evs, 256, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		ssize_t r = read(evs[i].data.fd, buf, cap);

		if (r <= 0)
			return -EPIPE;
		got += r;
	}
	return got;
}

static int trickle(const struct opts *o, int *fds, int ep,
		   long long *sent, long long *echoed, double *wall)
{
	long long t0 = now_ns(), end = t0 + (long long)(o->secs * 1e9);
	long long next = t0, per_tick_x1000, acc = 0, r;
	char *buf = calloc(1, o->msg > 4096 ? o->msg : 4096);
	int cur = 0;

	if (!buf)
		return -ENOMEM;
	per_tick_x1000 = (long long)(o->conns * o->rate * TICK_NS / 1e6);
	while (now_ns() < end) {
		acc += per_tick_x1000;
		for (; acc >= 1000; acc -= 1000) {
			if (write(fds[cur], buf, o->msg) != (ssize_t)o->msg)
				return -EIO;
			*sent += o->msg;
			cur = (cur + 1) % o->conns;
		}
		next += TICK_NS;
		do {
			long long left = next - now_ns();

			r = drain(ep, buf, 4096, left > 0 ? left / 1000000 : 0);
			if (r < 0)
				return r;
			*echoed += r;
		} while (now_ns() < next);
	}
	while (*echoed < *sent) {
		r = drain(ep, buf, 4096, 2000);
		if (r <= 0)
			return r ? r : -ETIMEDOUT;
		*echoed += r;
	}
	*wall = (now_ns() - t0) / 1e9;
	free(buf);
	return 0;
}

static int client(const struct opts *o, unsigned short port, double *wall,
		  long long *sent)
{
	int *fds = calloc(o->conns, sizeof(int)), ep = epoll_create1(0), i;
	long long echoed = 0;
	int err;

	if (!fds || ep < 0)
		return -ENOMEM;
	for (i = 0; i < o->conns; i++) {
		fds[i] = connect_loopback(port);
		if (fds[i] < 0 || epoll_add(ep, fds[i]))
			return -EIO;
		nodelay(fds[i]);
	}
	err = trickle(o, fds, ep, sent, &echoed, wall);
	for (i = 0; i < o->conns; i++)
		close(fds[i]);
	free(fds);
	return err;
}

int main(int argc, char **argv)
{
	struct opts o = { .conns = 1000, .secs = 5, .rate = 1, .msg = 64 };
	int opt, lfd, st, err;
	unsigned short port = 0;
	long long sent = 0;
	double wall = 0;
	pid_t pid;

	while ((opt = getopt(argc, argv, "c:d:r:s:")) != -1) {
		switch (opt) {
		case 'c':
			o.conns = atoi(optarg);
			break;
		case 'd':
			o.secs = atof(optarg);
			break;
		case 'r':
			o.rate = atof(optarg);
			break;
		case 's':
			o.msg = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-c CONNS] [-d SECONDS] [-r RATE] [-s BYTES]\n",
				argv[0]);
			return 2;
		}
	}
	if (o.conns < 1 || o.secs <= 0 || o.rate <= 0 || !o.msg ||
	    o.msg > 4096)
		return 2;
	if (raise_nofile(o.conns + 64)) {
		fprintf(stderr, "conn_trickle: cannot raise RLIMIT_NOFILE\n");
		return 1;
	}
	lfd = listen_loopback(&port, o.conns);
	if (lfd < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(echo_server(lfd, o.conns));
	close(lfd);
	err = client(&o, port, &wall, &sent);
	if (err)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		err = err ? err : -EIO;
	if (err) {
		fprintf(stderr, "conn_trickle: failed: %s\n", strerror(-err));
		return 1;
	}
	printf("conn_trickle conns=%d ops=%lld bytes=%lld wall_s=%.6f cpu_s=%.6f ops_per_s=%.1f\n",
	       o.conns, sent / (long long)o.msg, sent, wall, cpu_s(),
	       sent / (double)o.msg / wall);
	return 0;
}
