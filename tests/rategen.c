// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rategen: loopback TCP senders paced to known rates, for `xfertrace top`.
 *
 * The parent forks R receiver processes (each listens on its own
 * ephemeral port on 127.0.0.1, or ::1 with -6), then one sender process
 * per rate in -r; sender i connects to receiver i % R. Optionally (-c) a
 * CPU burner process runs a fixed duty cycle. Once everything is
 * connected the parent prints a "plan" line (pids, ports, rates) and
 * releases everyone at once. Each sender then writes for -t seconds,
 * keeping its byte count at rate * elapsed time (absolute schedule, so a
 * stall is caught up and the long-run rate stays exact). Each process
 * prints its own measured result as one JSON line:
 *
 *   {"role":"sender","pid":..,"dst_port":..,"src_port":..,"target_bytes_per_s":..,
 *    "bytes":..,"seconds":..,"bytes_per_s":..,"start_unix":..,"end_unix":..}
 *   {"role":"receiver","pid":..,"port":..,"senders":..,"bytes":..,"seconds":..,
 *    "bytes_per_s":..,"start_unix":..,"end_unix":..}
 *   {"role":"burner","pid":..,"duty_pct":..,"cpu_ns":..,"seconds":..,"cpu_pct":..,
 *    "start_unix":..,"end_unix":..}
 *
 * "seconds" is the span the process measured its bytes (or CPU) over:
 * first to last write for a sender, first to last read for a receiver.
 * Process names (comm) are rg-send, rg-recv and rg-burn. 1 MB = 1e6 bytes.
 * Children die with the parent (PR_SET_PDEATHSIG). Exit status is 0 when
 * every child succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SENDERS	32
#define CHUNK		65536
#define TICK_NS		5000000ull	/* pacing granularity */
#define BURN_PERIOD_NS	10000000ull

struct opts {
	double rates[MAX_SENDERS];	/* bytes per second */
	int n_send;
	int n_recv;
	double seconds;
	int duty;			/* burner duty cycle, 0 = none */
	int v6;
	const char *out;
};

static int out_fd = STDOUT_FILENO;

static uint64_t clk(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t mono(void)
{
	return clk(CLOCK_MONOTONIC);
}

static double wall_s(void)
{
	return clk(CLOCK_REALTIME) / 1e9;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { t / 1000000000ull, t % 1000000000ull };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* One JSON line, one write(): lines from several processes never mix. */
__attribute__((format(printf, 1, 2)))
static void emit(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf) - 1)
		return;
	buf[n++] = '\n';
	if (write(out_fd, buf, n) != n)
		fprintf(stderr, "rategen: write: %s\n", strerror(errno));
}

static void child_init(const char *name)
{
	prctl(PR_SET_NAME, name);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(1);
}

static int wait_go(int go_fd)
{
	char c;

	/* The parent closes the pipe (EOF) to start everyone together. */
	while (read(go_fd, &c, 1) < 0 && errno == EINTR)
		;
	close(go_fd);
	return 0;
}

/* ---- receiver ---- */

static int listen_sock(int v6, int *port)
{
	struct sockaddr_storage ss = {};
	socklen_t sl;
	int fd, one = 1;

	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6) {
		struct sockaddr_in6 *a = (void *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	}
	if (bind(fd, (void *)&ss, sl) || listen(fd, 64) ||
	    getsockname(fd, (void *)&ss, &sl)) {
		close(fd);
		return -1;
	}
	*port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		      ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int receiver(int lfd, int port, int n_conns, int port_pipe)
{
	struct pollfd pf[MAX_SENDERS];
	uint64_t bytes = 0, first = 0, last = 0;
	double first_wall = 0, last_wall = 0;
	static char buf[CHUNK];
	int i, open_n = n_conns;
	ssize_t r;

	if (write(port_pipe, &port, sizeof(port)) != sizeof(port))
		return 1;
	close(port_pipe);
	for (i = 0; i < n_conns; i++) {
		pf[i].fd = accept(lfd, NULL, NULL);
		pf[i].events = POLLIN;
		if (pf[i].fd < 0)
			return 1;
	}
	while (open_n > 0) {
		if (poll(pf, n_conns, -1) < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < n_conns; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			r = read(pf[i].fd, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_n--;
				continue;
			}
			if (!bytes) {
				first = mono();
				first_wall = wall_s();
			}
			bytes += r;
			last = mono();
			last_wall = wall_s();
		}
	}
	emit("{\"role\":\"receiver\",\"pid\":%d,\"port\":%d,\"senders\":%d,"
	     "\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"bytes_per_s\":%.1f,"
	     "\"start_unix\":%.6f,\"end_unix\":%.6f}",
	     (int)getpid(), port, n_conns, bytes, (last - first) / 1e9,
	     last > first ? bytes * 1e9 / (last - first) : 0.0, first_wall,
	     last_wall);
	return 0;
}

/* ---- sender ---- */

static int connect_to(int v6, int port, int *src_port)
{
	struct sockaddr_storage ss = {};
	socklen_t sl;
	int fd;

	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (v6) {
		struct sockaddr_in6 *a = (void *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(port);
		sl = sizeof(*a);
	}
	if (connect(fd, (void *)&ss, sl) || getsockname(fd, (void *)&ss, &sl)) {
		close(fd);
		return -1;
	}
	*src_port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
			  ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int write_some(int fd, const char *buf, uint64_t n, uint64_t *sent)
{
	ssize_t w = write(fd, buf, n > CHUNK ? CHUNK : n);

	if (w < 0)
		return errno == EINTR ? 0 : -1;
	*sent += w;
	return 0;
}

static int sender(const struct opts *o, double rate, int port, int go_fd)
{
	static char buf[CHUNK];
	uint64_t start, end, now, sent = 0, due, step, last = 0;
	double start_wall;
	int fd, src_port = 0;

	fd = connect_to(o->v6, port, &src_port);
	if (fd < 0) {
		fprintf(stderr, "rategen: connect to port %d: %s\n", port,
			strerror(errno));
		return 1;
	}
	memset(buf, 'r', sizeof(buf));
	wait_go(go_fd);
	step = rate * TICK_NS / 1e9;
	if (step < 1)
		step = 1;
	start = mono();
	start_wall = wall_s();
	end = start + o->seconds * 1e9;
	for (;;) {
		now = mono();
		due = rate * ((now < end ? now : end) - start) / 1e9;
		/* Whole steps only: few large writes, not a stream of tiny ones. */
		if (sent < due && (due - sent >= step || now >= end)) {
			if (write_some(fd, buf, due - sent, &sent))
				return 1;
			last = mono();
			continue;
		}
		if (now >= end)
			break;
		/* Sleep until `step` more bytes are due. */
		now = start + (uint64_t)((sent + step) * 1e9 / rate);
		sleep_until(now < end ? now : end);
	}
	close(fd);
	emit("{\"role\":\"sender\",\"pid\":%d,\"dst_port\":%d,\"src_port\":%d,"
	     "\"target_bytes_per_s\":%.1f,\"bytes\":%" PRIu64 ",\"seconds\":%.6f,"
	     "\"bytes_per_s\":%.1f,\"start_unix\":%.6f,\"end_unix\":%.6f}",
	     (int)getpid(), port, src_port, rate, sent, (last - start) / 1e9,
	     last > start ? sent * 1e9 / (last - start) : 0.0, start_wall,
	     start_wall + (last - start) / 1e9);
	return 0;
}

/* ---- burner ---- */

static int burner(const struct opts *o, int go_fd)
{
	uint64_t start, end, p, cpu0, cpu_start, budget;
	volatile uint64_t x = 1;
	double start_wall;
	int i;

	wait_go(go_fd);
	start = mono();
	start_wall = wall_s();
	cpu_start = clk(CLOCK_PROCESS_CPUTIME_ID);
	end = start + o->seconds * 1e9;
	budget = BURN_PERIOD_NS * o->duty / 100;
	for (p = start; p < end; p += BURN_PERIOD_NS) {
		cpu0 = clk(CLOCK_PROCESS_CPUTIME_ID);
		while (clk(CLOCK_PROCESS_CPUTIME_ID) - cpu0 < budget &&
		       mono() < p + BURN_PERIOD_NS)
			for (i = 0; i < 2000; i++)
				x = x * 6364136223846793005ull + 1;
		sleep_until(p + BURN_PERIOD_NS);
	}
	p = mono();
	cpu0 = clk(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
	emit("{\"role\":\"burner\",\"pid\":%d,\"duty_pct\":%d,\"cpu_ns\":%" PRIu64
	     ",\"seconds\":%.6f,\"cpu_pct\":%.2f,\"start_unix\":%.6f,\"end_unix\":%.6f}",
	     (int)getpid(), o->duty, cpu0, (p - start) / 1e9,
	     cpu0 * 100.0 / (p - start), start_wall,
	     start_wall + (p - start) / 1e9);
	return 0;
}

/* ---- parent ---- */

static int parse_rates(char *s, struct opts *o)
{
	char *tok, *end, *save = NULL;
	double v;

	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		errno = 0;
		v = strtod(tok, &end);
		if (errno || *end || end == tok || v <= 0 || v > 2000 ||
		    o->n_send == MAX_SENDERS)
			return -1;
		o->rates[o->n_send++] = v * 1e6;
	}
	return o->n_send ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rategen [-r MBPS,MBPS,...] [-R RECEIVERS] [-t SECONDS] [-c DUTY_PCT]\n"
		"               [-6] [-o FILE]\n"
		"  defaults: -r 2,5,10 -t 10; one receiver per sender; no burner\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	char rates[] = "2,5,10";
	int c, bad = 0;

	o->seconds = 10;
	while ((c = getopt(argc, argv, "r:R:t:c:6o:")) != -1) {
		switch (c) {
		case 'r':
			o->n_send = 0;
			bad |= parse_rates(optarg, o);
			break;
		case 'R':
			o->n_recv = atoi(optarg);
			bad |= o->n_recv < 1 || o->n_recv > MAX_SENDERS;
			break;
		case 't':
			o->seconds = atof(optarg);
			bad |= !(o->seconds > 0 && o->seconds <= 3600);
			break;
		case 'c':
			o->duty = atoi(optarg);
			bad |= o->duty < 1 || o->duty > 100;
			break;
		case '6':
			o->v6 = 1;
			break;
		case 'o':
			o->out = optarg;
			break;
		default:
			bad = 1;
		}
	}
	if (!o->n_send)
		parse_rates(rates, o);
	if (!o->n_recv || o->n_recv > o->n_send)
		o->n_recv = o->n_send;
	return bad || optind != argc ? -1 : 0;
}

struct kids {
	pid_t recv[MAX_SENDERS], send[MAX_SENDERS], burn;
	int port[MAX_SENDERS];
};

static int start_receivers(const struct opts *o, struct kids *k)
{
	int i, lfd, port, pp[2], n;

	for (i = 0; i < o->n_recv; i++) {
		lfd = listen_sock(o->v6, &port);
		if (lfd < 0 || pipe(pp))
			return -1;
		/* Senders of receiver i: i, i + R, i + 2R, ... */
		n = (o->n_send - i + o->n_recv - 1) / o->n_recv;
		k->recv[i] = fork();
		if (k->recv[i] == 0) {
			child_init("rg-recv");
			close(pp[0]);
			_exit(receiver(lfd, port, n, pp[1]));
		}
		close(lfd);
		close(pp[1]);
		if (k->recv[i] < 0 || read(pp[0], &k->port[i], sizeof(int)) !=
		    sizeof(int))
			return -1;
		close(pp[0]);
	}
	return 0;
}

static void print_plan(const struct opts *o, const struct kids *k)
{
	char buf[3000];
	int i, n = 0;

	n += snprintf(buf + n, sizeof(buf) - n,
		      "{\"role\":\"plan\",\"pid\":%d,\"seconds\":%.3f,\"receivers\":[",
		      (int)getpid(), o->seconds);
	for (i = 0; i < o->n_recv; i++)
		n += snprintf(buf + n, sizeof(buf) - n,
			      "%s{\"pid\":%d,\"port\":%d}", i ? "," : "",
			      (int)k->recv[i], k->port[i]);
	n += snprintf(buf + n, sizeof(buf) - n, "],\"senders\":[");
	for (i = 0; i < o->n_send; i++)
		n += snprintf(buf + n, sizeof(buf) - n,
			      "%s{\"pid\":%d,\"dst_port\":%d,\"target_bytes_per_s\":%.1f}",
			      i ? "," : "", (int)k->send[i],
			      k->port[i % o->n_recv], o->rates[i]);
	if (k->burn > 0)
		snprintf(buf + n, sizeof(buf) - n,
			 "],\"burner\":{\"pid\":%d,\"duty_pct\":%d}}",
			 (int)k->burn, o->duty);
	else
		snprintf(buf + n, sizeof(buf) - n, "],\"burner\":null}");
	emit("%s", buf);
}

static int reap(void)
{
	int status, rc = 0;
	pid_t p;

	while ((p = wait(&status)) > 0 || (p < 0 && errno == EINTR))
		if (p > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			rc = 1;
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = {};
	struct kids k = {};
	int i, go[2];

	if (parse_args(argc, argv, &o)) {
		usage();
		return 2;
	}
	if (o.out) {
		out_fd = open(o.out, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
			      O_CLOEXEC, 0644);
		if (out_fd < 0) {
			fprintf(stderr, "rategen: %s: %s\n", o.out, strerror(errno));
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* The go pipe after the receivers: they must not hold its write end. */
	if (start_receivers(&o, &k) || pipe(go)) {
		fprintf(stderr, "rategen: setup failed: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < o.n_send; i++) {
		k.send[i] = fork();
		if (k.send[i] == 0) {
			child_init("rg-send");
			close(go[1]);
			_exit(sender(&o, o.rates[i], k.port[i % o.n_recv], go[0]));
		}
	}
	if (o.duty) {
		k.burn = fork();
		if (k.burn == 0) {
			child_init("rg-burn");
			close(go[1]);
			_exit(burner(&o, go[0]));
		}
	}
	close(go[0]);
	print_plan(&o, &k);
	close(go[1]);
	return reap();
}
