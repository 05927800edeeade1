// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * collector__run(): the poll loop that record, top and agent share.
 * Ring events are consumed as they come, marks as they arrive, and the
 * face's tick (a harvest and what it does with it) runs every interval;
 * a tick that ends past the next one counts an overrun and restarts the
 * clock rather than running back to back.
 */
#include <poll.h>
#include "collector.h"
#include "marksock.h"
#include "util.h"

static int wait_ms(const struct collector_run *r, __u64 next)
{
	__u64 now = now_mono_ns();
	int t = next > now ? (next - now) / 1000000 + 1 : 0, f;

	if (r->timeout_ms && (f = r->timeout_ms(r->ctx)) >= 0 && f < t)
		t = f;
	return t;
}

int collector__run(struct collector *c, const struct collector_run *r)
{
	__u64 next = now_mono_ns() + r->interval_ns;
	struct pollfd pf[3] = {
		{ .fd = collector__ringbuf_fd(c), .events = POLLIN },
		{ .fd = r->ms ? marksock__fd(r->ms) : -1, .events = POLLIN },
		{ .fd = r->face_fd, .events = POLLIN },
	};
	int err = 0;

	while (!*r->stop && !err) {
		poll(pf, 3, wait_ms(r, next));
		err = collector__poll(c, 0);
		if (!err && r->ms && (pf[1].revents & POLLIN))
			err = marksock__drain(r->ms, c);
		if (!err && r->wake)
			err = r->wake(r->ctx);
		if (err || now_mono_ns() < next)
			continue;
		err = r->tick(r->ctx);
		next += r->interval_ns;
		if (next <= now_mono_ns()) {
			collector__user_stats(c)->harvest_overruns++;
			next = now_mono_ns() + r->interval_ns;
		}
	}
	return err > 0 ? 0 : err;
}
