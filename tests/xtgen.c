// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xtgen: loopback TCP workload generator with exactly known byte counts.
 *
 * The parent forks W worker processes. Each worker listens on its own
 * ephemeral port (127.0.0.1, or ::1 with -6; -m makes odd workers IPv6),
 * then for every other worker j opens connections to j's listener and
 * exchanges framed requests and replies:
 *
 *   bulk (persistent): one connection per ordered pair (i,j), R rounds;
 *       round r sends base*(1+i+2j) + 997r + 13i payload bytes and gets
 *       base/2*(1+(3i+j)%4) + 101r + 1 reply bytes back.
 *   short-lived (-s N): N connections of 1-5 KB each, one round each,
 *       connect/send/receive reply/close.
 *   abortive (-x N): N connections like short-lived ones, except that the
 *       server sends its 3-23 KB reply and closes with SO_LINGER 0 (RST);
 *       the client waits for the reset (POLLHUP/POLLERR) and only then
 *       reads the reply, which is still queued, from a socket already in
 *       TCP_CLOSE. Its next socket likely reuses the same struct sock,
 *       which catches tracers that key sockets by address and miss that
 *       the old one is gone.
 *
 * Every frame is a 24-byte header (its own write) and a payload written
 * with a mix of 100-byte and 64 KiB writes through write, send, sendmsg
 * and writev; readers use read, recv, recvmsg and readv with 64 KiB,
 * 100-byte and 4 KiB buffers. Both sides count exactly what the syscalls
 * returned. Workers stay alive until every transfer is done and the
 * parent has their counts (pipe barrier), then the parent writes the
 * ground truth to -o FILE and lets them exit.
 *
 * Flow convention: bytes process i wrote to process j form flow src=i
 * dst=j, whoever opened the connection. Exit status is non-zero if any
 * sender and receiver count disagree or differ from the plan.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS	16
#define MAX_SHORT	20000
#define XTG_MAGIC	0x78746731u	/* "xtg1" */
#define XTG_MAGIC_RST	0x78746732u	/* "xtg2": reply, then reset */
#define BIG_IO		65536
#define SMALL_IO	100
#define SMALL_PREFIX	1000		/* payload bytes sent in small writes */
#define IO_TIMEOUT_S	30
#define RUN_TIMEOUT_S	110

enum fam_mode { MODE_V4, MODE_V6, MODE_MIXED };

struct opts {
	int workers;
	uint64_t base;
	int rounds;
	int short_conns;
	int abort_conns;
	int linger_ms;
	enum fam_mode mode;
	const char *out;
};

struct hdr {
	uint32_t magic;
	uint32_t src;
	uint64_t len;		/* payload bytes following the header */
	uint64_t reply;		/* bytes the receiver sends back */
};

struct hello {			/* worker -> parent, once listening */
	int32_t status;
	uint32_t port;
};

struct result {			/* worker -> parent, when done */
	int32_t status;
	uint32_t conns_out;
	uint32_t conns_in;
	uint32_t pad;
	uint64_t sent[MAX_WORKERS];
	uint64_t rcvd[MAX_WORKERS];
};

struct worker {
	const struct opts *o;
	int idx;
	int lfd;
	uint32_t ports[MAX_WORKERS];
	pthread_mutex_t lock;
	struct result res;
};

struct conn_arg {
	struct worker *w;
	int fd;
};

static struct opts opt = {
	.workers = 4,
	.base = 256 * 1024,
	.rounds = 3,
	.short_conns = 0,
	.abort_conns = 0,
	.linger_ms = 300,
	.mode = MODE_V4,
	.out = NULL,
};

static int is_v6(const struct opts *o, int i)
{
	if (o->mode == MODE_V6)
		return 1;
	return o->mode == MODE_MIXED && (i & 1);
}

static uint64_t bulk_len(const struct opts *o, int i, int j, int r)
{
	return o->base * (1 + i + 2 * j) + 997 * r + 13 * i;
}

/* Reply server s sends to client c in round r. */
static uint64_t bulk_reply(const struct opts *o, int s, int c, int r)
{
	return o->base / 2 * (1 + (3 * s + c) % 4) + 101 * r + 1;
}

static uint64_t short_len(int k)
{
	return 1000 + (uint64_t)k * 131 % 4000;
}

static uint64_t short_reply(int k)
{
	return 200 + (uint64_t)k * 71 % 1800;
}

static void short_pair(const struct opts *o, int k, int *src, int *dst)
{
	int w = o->workers;

	*src = k % w;
	*dst = (*src + 1 + (k / w) % (w - 1)) % w;
}

static uint64_t abort_len(int k)
{
	return 2000 + (uint64_t)k * 53 % 3000;
}

static uint64_t abort_reply(int k)
{
	return 3000 + (uint64_t)k * 97 % 20000;
}

static int incoming_conns(const struct opts *o, int j)
{
	int k, s, d, n = o->base ? o->workers - 1 : 0;

	for (k = 0; k < o->short_conns; k++) {
		short_pair(o, k, &s, &d);
		n += d == j;
	}
	for (k = 0; k < o->abort_conns; k++) {
		short_pair(o, k, &s, &d);
		n += d == j;
	}
	return n;
}

/* Bytes process a is expected to write to process b, by the plan. */
static uint64_t plan_bytes(const struct opts *o, int a, int b)
{
	uint64_t n = 0;
	int r, k, s, d;

	for (r = 0; o->base && r < o->rounds; r++)
		n += sizeof(struct hdr) + bulk_len(o, a, b, r) +
		     bulk_reply(o, a, b, r);
	for (k = 0; k < o->short_conns; k++) {
		short_pair(o, k, &s, &d);
		if (s == a && d == b)
			n += sizeof(struct hdr) + short_len(k);
		if (s == b && d == a)
			n += short_reply(k);
	}
	for (k = 0; k < o->abort_conns; k++) {
		short_pair(o, k, &s, &d);
		if (s == a && d == b)
			n += sizeof(struct hdr) + abort_len(k);
		if (s == b && d == a)
			n += abort_reply(k);
	}
	return n;
}

/* ---- socket I/O, counting what the syscalls return ---- */

static ssize_t send_chunk(int fd, const char *p, size_t n, unsigned int v)
{
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t h = n / 2;

	iov[0] = (struct iovec){ (void *)p, h };
	iov[1] = (struct iovec){ (void *)(p + h), n - h };
	switch (v % 4) {
	case 0:
		return write(fd, p, n);
	case 1:
		return send(fd, p, n, MSG_NOSIGNAL);
	case 2:
		return sendmsg(fd, &mh, MSG_NOSIGNAL);
	default:
		return writev(fd, iov, 2);
	}
}

static ssize_t recv_chunk(int fd, char *p, size_t n, unsigned int v)
{
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t h = n / 2;

	iov[0] = (struct iovec){ p, h };
	iov[1] = (struct iovec){ p + h, n - h };
	switch (v % 4) {
	case 0:
		return read(fd, p, n);
	case 1:
		return recv(fd, p, n, 0);
	case 2:
		return n > 1 ? recvmsg(fd, &mh, 0) : recv(fd, p, n, 0);
	default:
		return n > 1 ? readv(fd, iov, 2) : read(fd, p, n);
	}
}

/* Write exactly n bytes; add what was written to *count. */
static int send_all(int fd, const char *buf, uint64_t n, uint64_t *count)
{
	uint64_t done = 0;
	unsigned int k = 0;
	size_t len;
	ssize_t rc;

	while (done < n) {
		if (done < SMALL_PREFIX || k % 8 == 7)
			len = SMALL_IO;
		else
			len = BIG_IO;
		if (len > n - done)
			len = n - done;
		rc = send_chunk(fd, buf, len, k++);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return rc < 0 ? -errno : -EPIPE;
		done += rc;
		*count += rc;
	}
	return 0;
}

/*
 * Read exactly n bytes into buf (or a scratch area when buf is NULL).
 * Returns 1 when done, 0 on EOF before the first byte, negative errno
 * otherwise. Adds what was read to *count.
 */
static int recv_all(int fd, char *buf, uint64_t n, uint64_t *count)
{
	static const size_t sizes[] = { BIG_IO, SMALL_IO, 4096 };
	static __thread char scratch[BIG_IO];
	uint64_t done = 0;
	unsigned int k = 0;
	size_t len;
	ssize_t rc;

	while (done < n) {
		len = sizes[k % 3];
		if (len > n - done)
			len = n - done;
		rc = recv_chunk(fd, buf ? buf + done : scratch, len, k++);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return done ? -EPIPE : 0;
		done += rc;
		*count += rc;
	}
	return 1;
}

static const char *payload(void)
{
	static char buf[BIG_IO];
	static int init;
	int i;

	if (!init) {
		for (i = 0; i < BIG_IO; i++)
			buf[i] = 'a' + i % 26;
		init = 1;
	}
	return buf;
}

/* Payload source of any length: the pattern buffer repeats. */
static int send_payload(int fd, uint64_t n, uint64_t *count)
{
	uint64_t chunk;
	int rc;

	while (n) {
		chunk = n > BIG_IO ? BIG_IO : n;
		rc = send_all(fd, payload(), chunk, count);
		if (rc)
			return rc;
		n -= chunk;
	}
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- server side ---- */

static void add_counts(struct worker *w, int peer, uint64_t tx, uint64_t rx)
{
	pthread_mutex_lock(&w->lock);
	w->res.sent[peer] += tx;
	w->res.rcvd[peer] += rx;
	w->res.conns_in++;
	pthread_mutex_unlock(&w->lock);
}

static void fail(struct worker *w, const char *what, int err)
{
	fprintf(stderr, "xtgen: worker %d: %s: %s\n", w->idx, what,
		strerror(err < 0 ? -err : err));
	pthread_mutex_lock(&w->lock);
	w->res.status = err < 0 ? err : -err;
	pthread_mutex_unlock(&w->lock);
}

/*
 * Close with an RST: SO_LINGER on with a zero timeout. First wait until
 * the peer has acknowledged the whole reply: on a slow machine part of it
 * may still sit in the send queue (autocorking), and the reset would
 * discard it, so the client would get less than the plan.
 */
static int abort_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	int i, queued;

	for (i = 0; i < IO_TIMEOUT_S * 1000; i++) {
		if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued == 0)
			break;
		usleep(1000);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
		return -errno;
	return 0;	/* the caller's close() sends the reset */
}

/* Serve one accepted connection: frames until the client's EOF. */
static int serve(struct worker *w, int fd, int *peer, uint64_t *tx, uint64_t *rx)
{
	struct hdr h;
	int rc;

	for (;;) {
		rc = recv_all(fd, (char *)&h, sizeof(h), rx);
		if (rc <= 0)
			return rc;
		if ((h.magic != XTG_MAGIC && h.magic != XTG_MAGIC_RST) ||
		    h.src >= (uint32_t)w->o->workers ||
		    (*peer >= 0 && *peer != (int)h.src))
			return -EPROTO;
		*peer = h.src;
		rc = recv_all(fd, NULL, h.len, rx);
		if (rc <= 0)
			return rc ? rc : -EPIPE;
		rc = send_payload(fd, h.reply, tx);
		if (rc)
			return rc;
		if (h.magic == XTG_MAGIC_RST)
			return abort_close(fd);
	}
}

static void *conn_thread(void *arg)
{
	struct conn_arg *ca = arg;
	struct worker *w = ca->w;
	uint64_t tx = 0, rx = 0;
	int peer = -1, rc;

	rc = serve(w, ca->fd, &peer, &tx, &rx);
	if (rc < 0 || peer < 0)
		fail(w, "serve", rc < 0 ? rc : -EPROTO);
	else
		add_counts(w, peer, tx, rx);
	close(ca->fd);
	free(ca);
	return NULL;
}

static void *accept_thread(void *arg)
{
	struct worker *w = arg;
	int n = incoming_conns(w->o, w->idx), i, fd;
	pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	struct conn_arg *ca;

	for (i = 0; th && i < n; i++) {
		fd = accept(w->lfd, NULL, NULL);
		if (fd < 0 && errno == EINTR) {
			i--;
			continue;
		}
		ca = malloc(sizeof(*ca));
		if (fd < 0 || !ca) {
			fail(w, "accept", fd < 0 ? -errno : -ENOMEM);
			break;
		}
		set_timeouts(fd);
		*ca = (struct conn_arg){ w, fd };
		if (pthread_create(&th[i], NULL, conn_thread, ca)) {
			fail(w, "pthread_create", -EAGAIN);
			close(fd);
			free(ca);
			break;
		}
	}
	while (th && i-- > 0)
		pthread_join(th[i], NULL);
	if (!th)
		fail(w, "calloc", -ENOMEM);
	free(th);
	return NULL;
}

/* ---- client side ---- */

static int dial(struct worker *w, int j)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	int v6 = is_v6(w->o, j);
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -errno;
	set_timeouts(fd);
	if (v6) {
		a6.sin6_addr = in6addr_loopback;
		a6.sin6_port = htons(w->ports[j]);
		rc = connect(fd, (struct sockaddr *)&a6, sizeof(a6));
	} else {
		a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a4.sin_port = htons(w->ports[j]);
		rc = connect(fd, (struct sockaddr *)&a4, sizeof(a4));
	}
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Wait until the peer's reset arrived: poll reports POLLHUP/POLLERR. */
static int wait_reset(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };
	int rc;

	do
		rc = poll(&p, 1, IO_TIMEOUT_S * 1000);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc ? 0 : -ETIMEDOUT;
}

/* Read what is queued on a reset socket: data, then ECONNRESET or EOF. */
static int drain_reset(int fd, uint64_t want, uint64_t *rx)
{
	static __thread char buf[4096];
	uint64_t got = 0;
	ssize_t rc;

	for (;;) {
		rc = recv(fd, buf, sizeof(buf), 0);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			break;
		got += rc;
		*rx += rc;
	}
	if (rc < 0 && errno != ECONNRESET)
		return -errno;
	return got == want ? 0 : -EPROTO;
}

static int request(struct worker *w, int fd, int j, uint64_t len, uint64_t reply,
		   int abortive)
{
	struct hdr h = { abortive ? XTG_MAGIC_RST : XTG_MAGIC, w->idx, len,
			 reply };
	uint64_t tx = 0, rx = 0;
	int rc;

	rc = send_all(fd, (const char *)&h, sizeof(h), &tx);
	if (!rc)
		rc = send_payload(fd, len, &tx);
	if (!rc && abortive) {
		rc = wait_reset(fd);
		if (!rc)
			rc = drain_reset(fd, reply, &rx);
	} else if (!rc) {
		rc = recv_all(fd, NULL, reply, &rx);
		rc = rc == 1 ? 0 : rc ? rc : -EPIPE;
	}
	pthread_mutex_lock(&w->lock);
	w->res.sent[j] += tx;
	w->res.rcvd[j] += rx;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* Half-close, then expect a clean EOF from the server. */
static int finish(int fd)
{
	char c;
	ssize_t rc;

	if (shutdown(fd, SHUT_WR) < 0)
		return -errno;
	do
		rc = read(fd, &c, 1);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc ? -EPROTO : 0;
}

static int bulk_to(struct worker *w, int j)
{
	int fd = dial(w, j), r, rc = 0;

	if (fd < 0)
		return fd;
	for (r = 0; !rc && r < w->o->rounds; r++)
		rc = request(w, fd, j, bulk_len(w->o, w->idx, j, r),
			     bulk_reply(w->o, j, w->idx, r), 0);
	if (!rc)
		rc = finish(fd);
	close(fd);
	return rc;
}

static int short_conn(struct worker *w, int k, int j)
{
	int fd = dial(w, j), rc;

	if (fd < 0)
		return fd;
	rc = request(w, fd, j, short_len(k), short_reply(k), 0);
	if (!rc)
		rc = finish(fd);
	close(fd);
	return rc;
}

static int abort_conn(struct worker *w, int k, int j)
{
	int fd = dial(w, j), rc;

	if (fd < 0)
		return fd;
	rc = request(w, fd, j, abort_len(k), abort_reply(k), 1);
	close(fd);
	return rc;
}

static int run_clients(struct worker *w)
{
	int n = w->o->workers, d, k, s, j, rc;

	for (d = 1; w->o->base && d < n; d++) {
		rc = bulk_to(w, (w->idx + d) % n);
		if (rc)
			return rc;
		w->res.conns_out++;
	}
	for (k = 0; k < w->o->short_conns; k++) {
		short_pair(w->o, k, &s, &j);
		if (s != w->idx)
			continue;
		rc = short_conn(w, k, j);
		if (rc)
			return rc;
		w->res.conns_out++;
	}
	for (k = 0; k < w->o->abort_conns; k++) {
		short_pair(w->o, k, &s, &j);
		if (s != w->idx)
			continue;
		rc = abort_conn(w, k, j);
		if (rc)
			return rc;
		w->res.conns_out++;
	}
	return 0;
}

/* ---- worker process ---- */

static int listen_on(int v6, uint32_t *port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	socklen_t len = v6 ? sizeof(a6) : sizeof(a4);
	struct sockaddr *sa = v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	a6.sin6_addr = in6addr_loopback;
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, 256) < 0 ||
	    getsockname(fd, sa, &len) < 0) {
		one = -errno;
		close(fd);
		return one;
	}
	*port = ntohs(v6 ? a6.sin6_port : a4.sin_port);
	return fd;
}

static int read_full(int fd, void *buf, size_t n)
{
	size_t done = 0;
	ssize_t rc;

	while (done < n) {
		rc = read(fd, (char *)buf + done, n - done);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return rc < 0 ? -errno : -EPIPE;
		done += rc;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	ssize_t rc;

	while (done < n) {
		rc = write(fd, (const char *)buf + done, n - done);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return rc < 0 ? -errno : -EPIPE;
		done += rc;
	}
	return 0;
}

static int worker_main(const struct opts *o, int idx, int rep, int cmd)
{
	static struct worker w;
	struct hello hi = { 0 };
	pthread_t acc;
	char name[32];
	char c;
	int rc;

	snprintf(name, sizeof(name), "xtgen-w%d", idx % MAX_WORKERS);
	prctl(PR_SET_NAME, name);
	alarm(RUN_TIMEOUT_S);
	w.o = o;
	w.idx = idx;
	pthread_mutex_init(&w.lock, NULL);
	w.lfd = listen_on(is_v6(o, idx), &hi.port);
	hi.status = w.lfd < 0 ? w.lfd : 0;
	if (write_full(rep, &hi, sizeof(hi)) || w.lfd < 0)
		return 1;
	/* Barrier 1: every listener is up; the parent sends the ports. */
	if (read_full(cmd, w.ports, sizeof(uint32_t) * o->workers))
		return 1;
	if (pthread_create(&acc, NULL, accept_thread, &w))
		return 1;
	rc = run_clients(&w);
	if (rc)
		fail(&w, "client", rc);
	pthread_join(acc, NULL);
	if (write_full(rep, &w.res, sizeof(w.res)))
		return 1;
	/* Barrier 2: stay alive until the parent closes the command pipe. */
	while (read(cmd, &c, 1) < 0 && errno == EINTR)
		;
	close(w.lfd);
	return w.res.status ? 1 : 0;
}

/* ---- parent ---- */

struct child {
	pid_t pid;
	int rep;		/* read end: hello, result */
	int cmd;		/* write end: ports, then EOF = exit */
	uint32_t port;
	struct result res;
};

static struct child kids[MAX_WORKERS];

static int spawn(const struct opts *o, int i)
{
	int rp[2], cp[2], k;

	if (pipe(rp) < 0 || pipe(cp) < 0)
		return -errno;
	kids[i].pid = fork();
	if (kids[i].pid < 0)
		return -errno;
	if (kids[i].pid == 0) {
		for (k = 0; k < i; k++) {
			close(kids[k].rep);
			close(kids[k].cmd);
		}
		close(rp[0]);
		close(cp[1]);
		_exit(worker_main(o, i, rp[1], cp[0]));
	}
	close(rp[1]);
	close(cp[0]);
	kids[i].rep = rp[0];
	kids[i].cmd = cp[1];
	return 0;
}

static void endpoint(const struct opts *o, int i, char *buf, size_t len)
{
	if (is_v6(o, i))
		snprintf(buf, len, "tcp://[::1]:%u", kids[i].port);
	else
		snprintf(buf, len, "tcp://127.0.0.1:%u", kids[i].port);
}

/* Check every directed flow; print mismatches. Returns their number. */
static int verify(const struct opts *o)
{
	int a, b, bad = 0;
	uint64_t s, r, p;

	for (a = 0; a < o->workers; a++) {
		for (b = 0; b < o->workers; b++) {
			s = kids[a].res.sent[b];
			r = kids[b].res.rcvd[a];
			p = a == b ? 0 : plan_bytes(o, a, b);
			if (s == r && s == p)
				continue;
			fprintf(stderr,
				"xtgen: flow %d->%d: sent %" PRIu64
				" received %" PRIu64 " planned %" PRIu64 "\n",
				a, b, s, r, p);
			bad++;
		}
	}
	return bad;
}

static void write_workers(FILE *f, const struct opts *o)
{
	char ep[64];
	uint64_t tx, rx;
	int i, k;

	fprintf(f, "  \"workers\": [\n");
	for (i = 0; i < o->workers; i++) {
		endpoint(o, i, ep, sizeof(ep));
		tx = rx = 0;
		for (k = 0; k < o->workers; k++) {
			tx += kids[i].res.sent[k];
			rx += kids[i].res.rcvd[k];
		}
		fprintf(f,
			"    {\"index\": %d, \"pid\": %d, \"endpoint\": \"%s\", "
			"\"family\": \"%s\", \"tx_bytes\": %" PRIu64
			", \"rx_bytes\": %" PRIu64 ", \"connections_out\": %u, "
			"\"connections_in\": %u}%s\n",
			i, (int)kids[i].pid, ep, is_v6(o, i) ? "ipv6" : "ipv4",
			tx, rx, kids[i].res.conns_out, kids[i].res.conns_in,
			i + 1 < o->workers ? "," : "");
	}
	fprintf(f, "  ],\n");
}

static void write_flows(FILE *f, const struct opts *o)
{
	char se[64], de[64];
	int a, b, first = 1;

	fprintf(f, "  \"flows\": [\n");
	for (a = 0; a < o->workers; a++) {
		for (b = 0; b < o->workers; b++) {
			if (!kids[a].res.sent[b] && !kids[b].res.rcvd[a])
				continue;
			endpoint(o, a, se, sizeof(se));
			endpoint(o, b, de, sizeof(de));
			fprintf(f,
				"%s    {\"src\": \"%s\", \"dst\": \"%s\", "
				"\"src_pid\": %d, \"dst_pid\": %d, "
				"\"sent_bytes\": %" PRIu64
				", \"received_bytes\": %" PRIu64
				", \"planned_bytes\": %" PRIu64 "}",
				first ? "" : ",\n", se, de, (int)kids[a].pid,
				(int)kids[b].pid, kids[a].res.sent[b],
				kids[b].res.rcvd[a],
				a == b ? 0 : plan_bytes(o, a, b));
			first = 0;
		}
	}
	fprintf(f, "\n  ]\n");
}

static int write_truth(const struct opts *o, int ok)
{
	static const char *modes[] = { "ipv4", "ipv6", "mixed" };
	char tmp[4096];
	FILE *f;

	if (!o->out)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", o->out);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\n  \"schema\": \"xtgen/1\",\n  \"pid\": %d,\n"
		"  \"mode\": \"%s\",\n  \"base\": %" PRIu64 ",\n"
		"  \"rounds\": %d,\n  \"short_conns\": %d,\n"
		"  \"abort_conns\": %d,\n  \"ok\": %s,\n",
		(int)getpid(), modes[o->mode], o->base, o->rounds,
		o->short_conns, o->abort_conns, ok ? "true" : "false");
	write_workers(f, o);
	write_flows(f, o);
	fprintf(f, "}\n");
	if (fclose(f) || rename(tmp, o->out))
		return -errno;
	return 0;
}

static int collect_hellos(const struct opts *o)
{
	struct hello hi;
	int i;

	for (i = 0; i < o->workers; i++) {
		if (read_full(kids[i].rep, &hi, sizeof(hi)) || hi.status)
			return -EIO;
		kids[i].port = hi.port;
	}
	return 0;
}

static int send_ports(const struct opts *o)
{
	uint32_t ports[MAX_WORKERS];
	int i;

	for (i = 0; i < o->workers; i++)
		ports[i] = kids[i].port;
	for (i = 0; i < o->workers; i++)
		if (write_full(kids[i].cmd, ports, sizeof(ports[0]) * o->workers))
			return -EIO;
	return 0;
}

static int collect_results(const struct opts *o)
{
	int i, bad = 0;

	for (i = 0; i < o->workers; i++) {
		if (read_full(kids[i].rep, &kids[i].res, sizeof(kids[i].res)) ||
		    kids[i].res.status)
			bad++;
	}
	return bad ? -EIO : 0;
}

static int reap(const struct opts *o)
{
	int i, st, bad = 0;

	for (i = 0; i < o->workers; i++) {
		if (kids[i].pid <= 0)
			continue;
		close(kids[i].cmd);
		if (waitpid(kids[i].pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			bad++;
	}
	return bad;
}

static int run(const struct opts *o)
{
	struct timespec ts = { o->linger_ms / 1000,
			       (long)(o->linger_ms % 1000) * 1000000 };
	int i, rc = 0, bad = 0;

	for (i = 0; i < o->workers && !rc; i++)
		rc = spawn(o, i);
	if (!rc)
		rc = collect_hellos(o);
	if (!rc)
		rc = send_ports(o);
	if (!rc)
		rc = collect_results(o);
	if (!rc) {
		bad = verify(o);
		nanosleep(&ts, NULL);
		if (write_truth(o, !bad))
			fprintf(stderr, "xtgen: cannot write %s\n", o->out);
	}
	bad += reap(o);
	if (rc)
		fprintf(stderr, "xtgen: run failed: %s\n", strerror(-rc));
	return rc || bad ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xtgen [-w WORKERS] [-b BASE] [-r ROUNDS] [-s SHORT] [-x ABORT] [-6|-m]\n"
		"             [-l LINGER_MS] [-o TRUTH.json]\n"
		"  -w  worker processes (2..%d, default 4)\n"
		"  -b  base bytes per bulk round (0 = no bulk connections)\n"
		"  -r  request/reply rounds per persistent connection (default 3)\n"
		"  -s  short-lived connections (default 0)\n"
		"  -x  short-lived connections the server resets (default 0)\n"
		"  -6  all workers listen on ::1; -m odd workers on ::1\n"
		"  -l  ms to keep workers alive after the transfers (default 300)\n"
		"  -o  write the ground truth JSON here\n", MAX_WORKERS);
}

static int parse_num(const char *s, long long lo, long long hi, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 0);
	return errno || end == s || *end || *v < lo || *v > hi ? -EINVAL : 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	long long v;
	int c, rc = 0;

	while (!rc && (c = getopt(argc, argv, "w:b:r:s:x:6ml:o:h")) != -1) {
		switch (c) {
		case 'w':
			rc = parse_num(optarg, 2, MAX_WORKERS, &v);
			o->workers = v;
			break;
		case 'b':
			rc = parse_num(optarg, 0, 1LL << 26, &v);
			o->base = v;
			break;
		case 'r':
			rc = parse_num(optarg, 1, 100, &v);
			o->rounds = v;
			break;
		case 's':
			rc = parse_num(optarg, 0, MAX_SHORT, &v);
			o->short_conns = v;
			break;
		case 'x':
			rc = parse_num(optarg, 0, MAX_SHORT, &v);
			o->abort_conns = v;
			break;
		case 'l':
			rc = parse_num(optarg, 0, 60000, &v);
			o->linger_ms = v;
			break;
		case '6':
			o->mode = MODE_V6;
			break;
		case 'm':
			o->mode = MODE_MIXED;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			rc = -EINVAL;
		}
	}
	if (!rc && (optind != argc ||
		    (!o->base && !o->short_conns && !o->abort_conns)))
		rc = -EINVAL;
	return rc;
}

int main(int argc, char **argv)
{
	if (parse_opts(argc, argv, &opt)) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm(RUN_TIMEOUT_S + 5);
	return run(&opt);
}
