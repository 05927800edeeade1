// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Each datagram is one mark line. It is stamped on receipt with the
 * trace's monotonic clock and stored as sent; anything oversized, with
 * a NUL or control byte, or not a well-formed mark is dropped and counted.
 *
 * The kernel queues at most net.unix.max_dgram_qlen (often 10) datagrams
 * per socket, so a reader that only looks between harvests loses bursts.
 * A thread of our own therefore empties the socket as datagrams arrive
 * into a memory queue, and wakes the main loop through a pipe; the main
 * loop checks and hands the marks to the collector, which is not
 * thread-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "marks.h"
#include "marksock.h"
#include "util.h"

/* Memory the queue may hold between two drains; past it marks count as rejected. */
#define MS_QUEUE_MAX	(64u << 20)

struct qmark {
	__u64 wall_ns;		/* kernel arrival time, 0 if unknown */
	__u32 len;		/* 0: oversized or empty, count as rejected */
	__u32 size;		/* bytes of this entry, 8-aligned */
	char text[];
};

struct mqueue {
	char *buf;
	size_t len, cap;
};

struct marksock {
	int fd;
	int wake[2];		/* thread -> main loop */
	int stop[2];		/* free -> thread */
	pthread_t th;
	bool th_started;
	pthread_mutex_t lock;
	struct mqueue q, spare;
	__u64 overflow;		/* marks the queue had no room for */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Someone still reads it (a running record or top) if connect() works. */
static bool socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return false;
	used = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	return used;
}

/*
 * Only we (or root) may be able to write the socket's directory: else
 * someone could swap the socket for a symlink or their own socket
 * between our checks and bind, or unlink it later.
 */
static int check_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st))
		return -errno;
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return -EPERM;
	if (st.st_mode & S_IWOTH)
		return -EPERM;
	if ((st.st_mode & S_IWGRP) && st.st_gid != getegid() && st.st_gid != 0)
		return -EPERM;
	return 0;
}

/*
 * bind() creates the socket file with mode 0666 & ~umask, so the umask
 * alone gives 0660 with no chmod afterwards. The group is set with
 * lchown(), which never follows a link; check_dir() made sure nobody
 * else can write the directory, so the name is still the socket we bound.
 */
static int bind_path(int fd, const struct sockaddr_un *sa, gid_t group)
{
	mode_t old = umask(0117);
	int err;

	err = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;
	umask(old);
	if (err || group == (gid_t)-1)
		return err;
	if (lchown(sa->sun_path, -1, group)) {
		err = -errno;
		unlink(sa->sun_path);
	}
	return err;
}

static void *recv_thread(void *arg);

static int start_thread(struct marksock *ms)
{
	sigset_t all, old;
	int err;

	if (pipe2(ms->wake, O_CLOEXEC | O_NONBLOCK) ||
	    pipe2(ms->stop, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	/* Signals stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&ms->th, NULL, recv_thread, ms);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ms->th_started = !err;
	return err;
}

int marksock__open_group(const char *path, gid_t group, struct marksock **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct marksock *ms;
	struct stat st;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	err = check_dir(path);
	if (err)
		return err;
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->wake[0] = ms->wake[1] = ms->stop[0] = ms->stop[1] = -1;
	pthread_mutex_init(&ms->lock, NULL);
	snprintf(ms->path, sizeof(ms->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ms->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ms->fd < 0) {
		err = -errno;
		goto fail;
	}
	/* Replace a stale socket, never a live one or another kind of file. */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			err = -EEXIST;
			goto fail;
		}
		if (socket_in_use(&sa)) {
			err = -EADDRINUSE;
			goto fail;
		}
		unlink(path);
	}
	err = bind_path(ms->fd, &sa, group);
	if (err)
		goto fail;
	/* The kernel's arrival time, not when we got round to reading. */
	setsockopt(ms->fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 }, sizeof(int));
	err = start_thread(ms);
	if (err) {
		unlink(path);
		goto fail;
	}
	*out = ms;
	return 0;
fail:
	ms->path[0] = '\0';
	marksock__free(ms);
	return err;
}

int marksock__open(const char *path, struct marksock **out)
{
	return marksock__open_group(path, (gid_t)-1, out);
}

const char *marksock__strerror(int err)
{
	switch (err) {
	case -EEXIST:
		return "a file that is not a socket is there";
	case -EADDRINUSE:
		return "another xfertrace is listening there; give this one its own --marks-socket path";
	case -EPERM:
		return "its directory can be written by other users (or is not owned by root or you); use a directory only root can write, such as /run/xfertrace";
	default:
		return strerror(-err);
	}
}

/* A group name, or a number for a group only the pods know. */
int marksock__parse_group(const char *s, gid_t *out)
{
	struct group *g = getgrnam(s);
	__u64 v;

	if (g) {
		*out = g->gr_gid;
		return 0;
	}
	if (parse_u64(s, 0, (gid_t)-2, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

int marksock__fd(const struct marksock *ms)
{
	return ms->wake[0];
}

/* Arrival wall time from SCM_TIMESTAMPNS, 0 if absent. */
static __u64 arrival_wall_ns(struct msghdr *mh)
{
	struct cmsghdr *cm;
	struct timespec ts;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	}
	return 0;
}

/* Append one datagram under the lock; wake the main loop on the first. */
static void enqueue(struct marksock *ms, const char *buf, ssize_t n,
		    __u64 wall)
{
	__u32 len = n > XT_MARK_TEXT_MAX + 2 || n <= 0 ? 0 : n;
	size_t size = (sizeof(struct qmark) + len + 7) & ~(size_t)7;
	struct mqueue *q = &ms->q;
	bool first;

	pthread_mutex_lock(&ms->lock);
	first = !q->len;
	if (q->len + size > q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 65536;
		char *nb;

		while (cap < q->len + size)
			cap *= 2;
		nb = cap <= MS_QUEUE_MAX ? realloc(q->buf, cap) : NULL;
		if (!nb) {
			ms->overflow++;
			pthread_mutex_unlock(&ms->lock);
			return;
		}
		q->buf = nb;
		q->cap = cap;
	}
	{
		struct qmark *m = (struct qmark *)(q->buf + q->len);

		m->wall_ns = wall;
		m->len = len;
		m->size = size;
		memcpy(m->text, buf, len);
	}
	q->len += size;
	pthread_mutex_unlock(&ms->lock);
	if (first && write(ms->wake[1], "", 1) < 0 && errno != EAGAIN)
		return;
}

/* Queue every datagram waiting on the socket; -EAGAIN once it is empty. */
static int recv_all(struct marksock *ms)
{
	char buf[XT_MARK_TEXT_MAX + 2];
	char ctl[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh;
	ssize_t n;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		/* MSG_TRUNC: n is the real size, so oversize is detected. */
		n = recvmsg(ms->fd, &mh, MSG_TRUNC);
		if (n < 0)
			return errno == EINTR ? -EAGAIN : -errno;
		enqueue(ms, buf, n, arrival_wall_ns(&mh));
	}
}

static void *recv_thread(void *arg)
{
	struct marksock *ms = arg;
	struct pollfd pf[2] = {
		{ .fd = ms->fd, .events = POLLIN },
		{ .fd = ms->stop[0], .events = POLLIN },
	};

	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (pf[1].revents)
			return NULL;
		/* Keep listening whatever happened; never spin on an error. */
		if (recv_all(ms) != -EAGAIN)
			usleep(10000);
	}
}

static bool printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return false;
	return true;
}

static void handle(struct collector *c, struct qmark *m)
{
	struct xt_user_stats *us = collector__user_stats(c);
	__u64 m2w = collector__mono_to_wall(c);
	size_t n = m->len;

	while (n > 0 && (m->text[n - 1] == '\n' || m->text[n - 1] == '\r'))
		n--;
	if (n == 0 || n > XT_MARK_TEXT_MAX || !printable(m->text, n) ||
	    mark__parse(m->text, n, NULL, NULL, 0) != 1) {
		us->marks_rejected++;
		return;
	}
	collector__mark(c, m->text, n, m->wall_ns > m2w ? m->wall_ns - m2w : 0);
}

int marksock__drain(struct marksock *ms, struct collector *c)
{
	struct mqueue q;
	char sink[64];
	__u64 over;
	size_t off;

	while (read(ms->wake[0], sink, sizeof(sink)) > 0)
		;
	pthread_mutex_lock(&ms->lock);
	q = ms->q;
	ms->q = ms->spare;
	ms->q.len = 0;
	over = ms->overflow;
	ms->overflow = 0;
	pthread_mutex_unlock(&ms->lock);
	collector__user_stats(c)->marks_rejected += over;
	for (off = 0; off < q.len; off += ((struct qmark *)(q.buf + off))->size)
		handle(c, (struct qmark *)(q.buf + off));
	q.len = 0;
	ms->spare = q;
	return 0;
}

static void stop_thread(struct marksock *ms)
{
	if (!ms->th_started)
		return;
	if (write(ms->stop[1], "", 1) < 0)
		pthread_cancel(ms->th);
	pthread_join(ms->th, NULL);
	ms->th_started = false;
}

int marksock__finish(struct marksock *ms, struct collector *c)
{
	if (!ms)
		return 0;
	stop_thread(ms);
	recv_all(ms);
	return marksock__drain(ms, c);
}

void marksock__free(struct marksock *ms)
{
	if (!ms)
		return;
	stop_thread(ms);
	if (ms->fd >= 0)
		close(ms->fd);
	if (ms->path[0])
		unlink(ms->path);
	if (ms->wake[0] >= 0)
		close(ms->wake[0]);
	if (ms->wake[1] >= 0)
		close(ms->wake[1]);
	if (ms->stop[0] >= 0)
		close(ms->stop[0]);
	if (ms->stop[1] >= 0)
		close(ms->stop[1]);
	pthread_mutex_destroy(&ms->lock);
	free(ms->q.buf);
	free(ms->spare.buf);
	free(ms);
}
