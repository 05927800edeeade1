// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `record --detail` selection (docs/performance.md, "Slices"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detail.h"
#include "util.h"

#define DETAIL_MAX	256

struct detail {
	bool all, endpoints;
	__u32 pids[DETAIL_MAX];
	int n_pids;
	char eps[DETAIL_MAX][64];	/* "tcp://IP:PORT" or ":PORT" */
	int n_eps;
};

static int add_token(struct detail *d, const char *tok)
{
	__u64 pid;

	if (!strcmp(tok, "all"))
		d->all = true;
	else if (!strcmp(tok, "endpoints"))
		d->endpoints = true;
	else if (!strcmp(tok, "none"))
		;
	else if (!parse_u64(tok, 1, (1u << 22), &pid)) {
		if (d->n_pids == DETAIL_MAX)
			return -E2BIG;
		d->pids[d->n_pids++] = pid;
	} else if ((!strncmp(tok, "tcp://", 6) && strrchr(tok + 6, ':')) ||
		   (tok[0] == ':' && !parse_u64(tok + 1, 1, 65535, &pid))) {
		if (d->n_eps == DETAIL_MAX || strlen(tok) >= sizeof(d->eps[0]))
			return -E2BIG;
		strcpy(d->eps[d->n_eps++], tok);
	} else {
		return -EINVAL;
	}
	return 0;
}

int detail__parse(const char *spec, struct detail **out)
{
	struct detail *d = calloc(1, sizeof(*d));
	char *copy, *tok, *save = NULL;
	int err = 0;

	if (!d)
		return -ENOMEM;
	if (!spec)
		goto done;	/* top, agent: no slices */
	if (!*spec) {
		d->endpoints = true;
		*out = d;
		return 0;
	}
	copy = strdup(spec);
	if (!copy) {
		free(d);
		return -ENOMEM;
	}
	for (tok = strtok_r(copy, ",", &save); tok && !err;
	     tok = strtok_r(NULL, ",", &save)) {
		err = add_token(d, tok);
		if (err)
			p_err("record: --detail takes PID, tcp://IP:PORT, :PORT, endpoints, all or none (at most %d), not '%s'",
			      DETAIL_MAX, tok);
	}
	free(copy);
	if (err) {
		free(d);
		return -EINVAL;
	}
done:
	*out = d;
	return 0;
}

bool detail__all(const struct detail *d)
{
	return d->all;
}

const __u32 *detail__pids(const struct detail *d, int *n)
{
	*n = d->n_pids;
	return d->pids;
}

bool detail__listener(const struct detail *d, const struct xt_tuple *t)
{
	char a[64], name[96], port[16];
	int i;

	if (d->all || d->endpoints)
		return true;
	addr_str(t->family, t->laddr, a, sizeof(a), true);
	snprintf(name, sizeof(name), "tcp://%s:%u", a, t->lport);
	snprintf(port, sizeof(port), ":%u", t->lport);
	for (i = 0; i < d->n_eps; i++)
		if (!strcmp(d->eps[i], name) || !strcmp(d->eps[i], port))
			return true;
	return false;
}

void detail__free(struct detail *d)
{
	free(d);
}
