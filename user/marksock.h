/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Live marks: a UNIX datagram socket that record listens on. */
#ifndef XT_MARKSOCK_H
#define XT_MARKSOCK_H

#include <sys/types.h>
#include "collector.h"

#define XT_MARKS_DEFAULT_PATH "/run/xfertrace/marks.sock"

struct marksock;

/*
 * Bind path (mode 0660, never world-writable) in a directory only root
 * or we can write (-EPERM otherwise), and start the thread that empties
 * it. With a group, the socket gets it, so its members can send marks.
 */
int marksock__open(const char *path, struct marksock **out);
int marksock__open_group(const char *path, gid_t group, struct marksock **out);
/* --marks-group: a group name or number; -EINVAL if neither. */
int marksock__parse_group(const char *s, gid_t *out);
/* What an error of marksock__open* means, for a message. */
const char *marksock__strerror(int err);
/* Readable when marks have arrived: poll it, then call drain. */
int marksock__fd(const struct marksock *ms);
/* Take every mark received so far; good marks go to the collector. */
int marksock__drain(struct marksock *ms, struct collector *c);
/* At the end: stop the thread, take what is still queued anywhere. */
int marksock__finish(struct marksock *ms, struct collector *c);
void marksock__free(struct marksock *ms);

#endif
