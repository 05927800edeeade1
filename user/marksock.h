/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Live marks: a UNIX datagram socket that record listens on. */
#ifndef XT_MARKSOCK_H
#define XT_MARKSOCK_H

#include "collector.h"

#define XT_MARKS_DEFAULT_PATH "/run/xfertrace/marks.sock"

struct marksock;

/* Bind path (mode 0660, never world-writable). */
int marksock__open(const char *path, struct marksock **out);
int marksock__fd(const struct marksock *ms);
/* Read every queued datagram; good marks go to the collector. */
int marksock__drain(struct marksock *ms, struct collector *c);
void marksock__free(struct marksock *ms);

#endif
