// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loading a trace into a resolved model, and the order reports list its
 * processes and flows in. Below report, compare, trials and the exports,
 * which all load traces, so none of them includes another for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "load.h"
#include "trace.h"
#include "util.h"

int report__load(const char *path, struct model **out, struct load_info *li)
{
	const struct xt_rec_hdr *rec;
	struct trace_reader *r;
	struct model *m;
	int err;

	memset(li, 0, sizeof(*li));
	err = trace_reader__open(path, &r);
	if (err) {
		if (err == -EBADMSG)
			p_err("%s is not an xfertrace trace (bad or damaged header)", path);
		else if (err == -EISDIR)
			p_err("%s is a directory, not an xfertrace trace", path);
		else if (err == -EPROTONOSUPPORT)
			p_err("%s was written by an unsupported trace format version", path);
		else if (err == -EPROTO)
			p_err("%s was written on a machine of the other byte order", path);
		else
			p_err("cannot open %s: %s", path, strerror(-err));
		return err;
	}
	m = model__new();
	if (!m) {
		trace_reader__free(r);
		return -ENOMEM;
	}
	model__set_header(m, trace_reader__header(r));
	while ((err = trace_reader__next(r, &rec)) > 0)
		model__apply(m, rec);
	li->truncated = trace_reader__truncated(r, &li->offset, &li->why);
	li->chunks = trace_reader__chunks(r);
	li->partial_records = trace_reader__partial_records(r);
	if (li->truncated && li->partial_records)
		p_warn("%s is damaged at byte %llu (%s); reporting the %llu whole chunks before it and the first %llu records of that chunk",
		       path, (unsigned long long)li->offset, li->why,
		       (unsigned long long)li->chunks,
		       (unsigned long long)li->partial_records);
	else if (li->truncated)
		p_warn("%s is truncated at byte %llu (%s); reporting the %llu whole chunks before it",
		       path, (unsigned long long)li->offset, li->why,
		       (unsigned long long)li->chunks);
	li->why = NULL;
	trace_reader__free(r);
	if (err < 0) {
		model__free(m);
		p_err("reading %s failed: %s", path, strerror(-err));
		return err;
	}
	model__resolve(m);
	*out = m;
	return 0;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct mproc *x = *(struct mproc *const *)a;
	const struct mproc *y = *(struct mproc *const *)b;
	int rx = x->role, ry = y->role;	/* enum order is report order */
	__u64 bx = x->tx_bytes + x->rx_bytes, by = y->tx_bytes + y->rx_bytes;

	if (rx != ry)
		return rx - ry;
	if (rx != XT_ROLE_OTHER)
		return strcmp(x->name, y->name);
	if (bx != by)
		return bx > by ? -1 : 1;
	if (x->cpu_ns != y->cpu_ns)
		return x->cpu_ns > y->cpu_ns ? -1 : 1;
	return x->order - y->order;
}

static int cmp_flow(const void *a, const void *b)
{
	const struct mflow *x = *(struct mflow *const *)a;
	const struct mflow *y = *(struct mflow *const *)b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->src, y->src) ?: strcmp(x->dst, y->dst);
}

void report__sort(struct model *m)
{
	/* An empty trace has no arrays at all: qsort(NULL, 0) is undefined. */
	if (m->n_procs)
		qsort(m->procs, m->n_procs, sizeof(*m->procs), cmp_proc);
	if (m->n_flows)
		qsort(m->flows, m->n_flows, sizeof(*m->flows), cmp_flow);
}

/* Processes worth listing: they moved bytes, listen, or used CPU. */
bool report__proc_listed(const struct mproc *p)
{
	return p->tx_bytes || p->rx_bytes || p->n_listens || p->cpu_ns;
}
