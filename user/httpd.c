// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libmicrohttpd in external-poll epoll mode; see httpd.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "httpd.h"
#include "util.h"

#define HTTPD_MAX_CONNS		32
#define HTTPD_PER_IP		16
#define HTTPD_TIMEOUT_S		5
#define HTTPD_MEM_LIMIT		(32 * 1024)	/* request line and headers */
#define HTTPD_BODY_MAX		4096		/* larger bodies: 413 */

struct httpd {
	struct MHD_Daemon *d;
	httpd_handler fn;
	void *ctx;
	int fd;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int st,
			     const char *type, char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (st == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, st, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned int st,
			    const char *msg)
{
	char *b = strdup(msg);

	return b ? reply(conn, st, "text/plain; charset=utf-8", b,
			 strlen(b)) : MHD_NO;
}

static const char *get_arg(void *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	struct httpd *h = cls;
	struct httpd_reply out = {};
	const char *cl;

	/* First call: headers only. Judge size before reading any body. */
	if (!*state) {
		*state = (void *)1;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > HTTPD_BODY_MAX)
			return text(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				    "request too large\n");
		if (strcmp(method, MHD_HTTP_METHOD_GET) &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD))
			return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "only GET\n");
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;	/* a small body on a GET: ignored */
		return MHD_YES;
	}
	h->fn(h->ctx, url, get_arg, conn, &out);
	if (!out.body)
		return text(conn, out.status ? out.status : 500, "error\n");
	return reply(conn, out.status, out.type, out.body, out.len);
}

static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *a6 = (void *)ss;
	struct sockaddr_in *a4 = (void *)ss;
	char host[64];
	const char *colon = strrchr(s, ':');
	__u64 port;
	size_t n;

	if (!colon || parse_u64(colon + 1, 1, 65535, &port))
		return -EINVAL;
	n = colon - s;
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		host[n - 1] = '\0';
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1 ?
		       0 : -EINVAL;
	}
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -EINVAL;
}

int httpd__new(const char *addr, httpd_handler fn, void *ctx,
	       struct httpd **out)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct httpd *h;
	unsigned int flags = MHD_USE_EPOLL;

	if (parse_addr(addr, &ss))
		return -EINVAL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fn = fn;
	h->ctx = ctx;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT,
				(unsigned int)HTTPD_MAX_CONNS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				(unsigned int)HTTPD_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)HTTPD_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)HTTPD_MEM_LIMIT,
				MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	h->fd = info ? info->epoll_fd : -1;
	if (h->fd < 0) {
		httpd__free(h);
		return -ENOTSUP;
	}
	*out = h;
	return 0;
}

int httpd__fd(const struct httpd *h)
{
	return h->fd;
}

int httpd__timeout_ms(const struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->d, &ms) != MHD_YES)
		return -1;
	return ms > 1000 ? 1000 : (int)ms;
}

void httpd__run(struct httpd *h)
{
	MHD_run(h->d);
}

void httpd__free(struct httpd *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	free(h);
}
