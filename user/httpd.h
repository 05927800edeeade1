/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small HTTP server on libmicrohttpd, driven from the caller's own poll
 * loop (one epoll fd; MHD_run() when it is ready), so handlers run in the
 * caller's thread and read its state without locks. GET only (405), a
 * request body or header block over the limit gets 413/431, unknown paths
 * are the handler's 404; idle clients time out and cannot hold the server.
 */
#ifndef XT_HTTPD_H
#define XT_HTTPD_H

#include <stddef.h>

struct httpd;

struct httpd_reply {
	unsigned int status;
	const char *type;	/* Content-Type */
	char *body;		/* malloc()ed; the server frees it */
	size_t len;
};

/* path, and the value of query argument `arg_name` (or NULL). */
typedef void (*httpd_handler)(void *ctx, const char *path,
			      const char *(*arg)(void *conn, const char *name),
			      void *conn, struct httpd_reply *out);

/* addr "IP:PORT" (IPv4) or "[IPv6]:PORT". */
int httpd__new(const char *addr, httpd_handler fn, void *ctx,
	       struct httpd **out);
/* The fd to poll for readability. */
int httpd__fd(const struct httpd *h);
/* How soon httpd__run() must be called again (ms; -1: no limit). */
int httpd__timeout_ms(const struct httpd *h);
/* Serve whatever is ready; call when the fd is readable and now and then. */
void httpd__run(struct httpd *h);
void httpd__free(struct httpd *h);

#endif
