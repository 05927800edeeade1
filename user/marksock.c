// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Each datagram is one mark line. It is stamped on receipt with the
 * trace's monotonic clock and stored as sent; anything oversized, with
 * a NUL or control byte, or not a well-formed mark is dropped and counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "marks.h"
#include "marksock.h"
#include "util.h"

struct marksock {
	int fd;
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

int marksock__open(const char *path, struct marksock **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct marksock *ms;
	struct stat st;
	mode_t old;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
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
	old = umask(0117);
	err = bind(ms->fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (err)
		goto fail;
	/* The kernel's arrival time, not when we got round to reading. */
	setsockopt(ms->fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 }, sizeof(int));
	if (chmod(path, 0660)) {
		err = -errno;
		unlink(path);
		goto fail;
	}
	*out = ms;
	return 0;
fail:
	if (ms->fd >= 0)
		close(ms->fd);
	free(ms);
	return err;
}

int marksock__fd(const struct marksock *ms)
{
	return ms->fd;
}

static bool printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return false;
	return true;
}

/* Arrival time on the trace's monotonic clock, from SCM_TIMESTAMPNS. */
static __u64 arrival_mono_ns(struct msghdr *mh, struct collector *c)
{
	struct cmsghdr *cm;
	struct timespec ts;
	__u64 wall;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		wall = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
		if (wall > collector__mono_to_wall(c))
			return wall - collector__mono_to_wall(c);
	}
	return 0;
}

int marksock__drain(struct marksock *ms, struct collector *c)
{
	struct xt_user_stats *us = collector__user_stats(c);
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
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		while (n > 0 && n <= (ssize_t)sizeof(buf) &&
		       (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			n--;
		if (n == 0 || n > XT_MARK_TEXT_MAX || !printable(buf, n) ||
		    mark__parse(buf, n, NULL, NULL, 0) != 1) {
			us->marks_rejected++;
			continue;
		}
		collector__mark(c, buf, n, arrival_mono_ns(&mh, c));
	}
}

void marksock__free(struct marksock *ms)
{
	if (!ms)
		return;
	close(ms->fd);
	unlink(ms->path);
	free(ms);
}
