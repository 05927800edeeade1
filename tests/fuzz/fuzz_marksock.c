// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the marks datagram handler. Each input is sent as one
 * datagram to a real marks socket (marksock__open) and drained into a
 * real collector (loaded, not attached: needs root), exactly as `record
 * --marks-socket` does. Every record that comes out must be a well-formed
 * MARK record whose text is a mark, and every datagram must be either
 * stored or counted as rejected.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "collector.h"
#include "marks.h"
#include "marksock.h"

static struct collector *col;
static struct marksock *ms;
static struct sockaddr_un sa = { .sun_family = AF_UNIX };
static int cli = -1;
static __u64 got;

static int sink(void *ctx, const struct xt_rec_hdr *rec)
{
	const struct xt_rec_mark *m = (const void *)rec;

	if (rec->type != XT_REC_MARK)
		return 0;	/* harvest records, if any */
	if (m->text_len > XT_MARK_TEXT_MAX ||
	    rec->len < sizeof(*m) + m->text_len || rec->len % 8)
		abort();
	if (mark__parse(m->text, m->text_len, NULL, NULL, 0) != 1)
		abort();
	got++;
	return 0;
}

static void cleanup(void)
{
	marksock__free(ms);
	collector__free(col);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct collector_opts o = { .interval_ms = 1000, .dry_run = true,
				    .sink = sink };
	char dir[] = "/tmp/xt-fuzz-sock.XXXXXX";

	if (!mkdtemp(dir) || collector__new(&o, &col)) {
		fprintf(stderr, "fuzz_marksock: needs a collector (root, BPF)\n");
		exit(1);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/marks.sock", dir);
	if (marksock__open(sa.sun_path, &ms)) {
		fprintf(stderr, "fuzz_marksock: cannot open %s\n", sa.sun_path);
		exit(1);
	}
	cli = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (cli < 0)
		exit(1);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct xt_user_stats *us = collector__user_stats(col);
	struct pollfd pf = { .fd = marksock__fd(ms), .events = POLLIN };
	__u64 before = got + us->marks_rejected;
	int i;

	if (sendto(cli, data, size, 0, (struct sockaddr *)&sa, sizeof(sa)) !=
	    (ssize_t)size)
		return 0;	/* too big for the socket: never delivered */
	/*
	 * A receiver thread takes datagrams off the socket and wakes
	 * marksock__fd(): wait for it (a second at most), then drain.
	 */
	for (i = 0; i < 100 && got + us->marks_rejected == before; i++) {
		poll(&pf, 1, 10);
		if (marksock__drain(ms, col))
			abort();
	}
	/* One datagram in: one mark stored or one rejection counted. */
	if (got + us->marks_rejected != before + 1)
		abort();
	return 0;
}
