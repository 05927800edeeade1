// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The counter table; see counters.h. */
#include <stddef.h>
#include "counters.h"

#define K(f, kind, help) { #f, kind, false, offsetof(struct xt_stats, f), help }
#define U(f, kind, help) { #f, kind, true, offsetof(struct xt_user_stats, f), help }

const struct xt_counter xt_counters[] = {
	K(slices_lost, XT_CK_DROP, "on-CPU slices the ring buffer could not take (their span falls back to bins)"),
	K(conn_map_full, XT_CK_DROP, "send/recv events on sockets that found the connection map full"),
	K(conn_map_full_bytes, XT_CK_DROP, "bytes of those events"),
	K(thread_map_full, XT_CK_DROP, "context switches of threads that found the thread map full"),
	K(thread_map_full_ns, XT_CK_DROP, "CPU time of those threads not attributed"),
	K(proc_map_full, XT_CK_DROP, "events whose process found the process map full (transfer-active time only)"),
	K(ringbuf_full, XT_CK_DROP, "events the ring buffer could not take (closes and exits are reaped later)"),
	U(marks_rejected, XT_CK_DROP, "oversized or garbage datagrams on the marks socket"),
	U(write_errors, XT_CK_DROP, "records the trace writer could not write"),
	U(prog_misses, XT_CK_DROP, "BPF program runs the kernel skipped (same program already running on that CPU)"),
	U(iter_partial, XT_CK_DROP, "map iterator streams that ended inside a record"),
	U(bad_records, XT_CK_DROP, "harvested entries whose key and value disagree"),
	K(peek_skipped, XT_CK_HEALTH, "MSG_PEEK reads, not counted as received"),
	K(close_deferred, XT_CK_HEALTH, "closed sockets left in the map for user space to reap (ring full)"),
	U(conns_reaped, XT_CK_HEALTH, "closed sockets taken from the map with lookup-and-delete"),
	U(threads_reaped, XT_CK_HEALTH, "dead threads taken from the map with lookup-and-delete"),
	U(iter_fallbacks, XT_CK_HEALTH, "harvests that read whole maps because an iterator failed"),
	U(harvest_overruns, XT_CK_HEALTH, "harvests that took longer than the interval"),
	K(tx_bytes, XT_CK_COUNT, "TCP bytes sent, as the hooks saw them"),
	K(rx_bytes, XT_CK_COUNT, "TCP bytes received, as the hooks saw them"),
	K(tx_calls, XT_CK_COUNT, "send calls that returned bytes"),
	K(rx_calls, XT_CK_COUNT, "receive calls that returned bytes"),
	K(conns_opened, XT_CK_COUNT, "sockets first seen moving bytes"),
	K(conns_closed, XT_CK_COUNT, "sockets closed with their final counts queued"),
	K(threads_exited, XT_CK_COUNT, "threads that exited with their final counts queued"),
	K(listen_events, XT_CK_COUNT, "listener open and close events"),
	K(slices, XT_CK_COUNT, "on-CPU slices recorded for detailed processes"),
	U(marks_received, XT_CK_COUNT, "marks received on the marks socket"),
	U(harvests, XT_CK_COUNT, "harvests"),
};

const int xt_n_counters = sizeof(xt_counters) / sizeof(xt_counters[0]);

__u64 counter__value(const struct xt_counter *c, const struct xt_stats *k,
		     const struct xt_user_stats *u)
{
	const char *base = c->user ? (const char *)u : (const char *)k;

	return *(const __u64 *)(base + c->off);
}

json_t *counters__json(const struct xt_stats *k,
		       const struct xt_user_stats *u, unsigned int kinds)
{
	json_t *o = json_object();
	int i;

	for (i = 0; o && i < xt_n_counters; i++)
		if (xt_counters[i].kind & kinds)
			json_object_set_new(o, xt_counters[i].name,
				json_integer((json_int_t)counter__value(
					&xt_counters[i], k, u)));
	return o;
}

void counters__print(FILE *f, const struct xt_stats *k,
		     const struct xt_user_stats *u, unsigned int kinds,
		     const char *eq, const char *sep)
{
	const char *s = "";
	int i;

	for (i = 0; i < xt_n_counters; i++) {
		if (!(xt_counters[i].kind & kinds))
			continue;
		fprintf(f, "%s%s%s%llu", s, xt_counters[i].name, eq,
			(unsigned long long)counter__value(&xt_counters[i],
							   k, u));
		s = sep;
	}
}
