// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* kretprobes through a tracefs kprobe event, with a maxactive we choose. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include "kretprobe.h"
#include "util.h"

struct kretprobe {
	struct bpf_link *link;
	char dir[64];		/* tracefs mount */
	char name[64];		/* event name, in group "xfertrace" */
};

static const char *tracefs(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing",
					    "/sys/kernel/debug/tracing" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/kprobe_events", dirs[i]);
		if (!access(path, W_OK))
			return dirs[i];
	}
	return NULL;
}

/* Append one line to kprobe_events. */
static int kprobe_events(const char *dir, const char *line)
{
	char path[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/kprobe_events", dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, line, strlen(line)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int event_id(const struct kretprobe *k)
{
	char path[PATH_MAX], buf[32];
	int n;

	snprintf(path, sizeof(path), "%s/events/xfertrace/%s/id", k->dir,
		 k->name);
	n = read_file(path, buf, sizeof(buf));
	return n < 0 ? n : atoi(buf);
}

static int open_event(int id)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(a),
		.config = id,
		.sample_period = 1,
		.wakeup_events = 1,
	};
	int fd = syscall(__NR_perf_event_open, &a, -1, 0, -1,
			 PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int kretprobe__attach(struct bpf_program *prog, const char *func,
		      int maxactive, struct kretprobe **out)
{
	struct kretprobe *k;
	const char *dir = tracefs();
	char line[256];
	int err, id, pfd = -1;

	if (!dir)
		return -ENOENT;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	snprintf(k->dir, sizeof(k->dir), "%s", dir);
	snprintf(k->name, sizeof(k->name), "xt_%d_%s", getpid(), func);
	snprintf(line, sizeof(line), "r%d:xfertrace/%s %s\n", maxactive,
		 k->name, func);
	err = kprobe_events(dir, line);
	if (err) {
		free(k);
		return err;
	}
	id = event_id(k);
	pfd = id < 0 ? id : open_event(id);
	if (pfd < 0) {
		err = pfd;
		goto fail;
	}
	k->link = bpf_program__attach_perf_event(prog, pfd);
	if (!k->link) {
		err = -errno;
		close(pfd);
		goto fail;
	}
	*out = k;
	return 0;
fail:
	kretprobe__detach(k);
	return err;
}

void kretprobe__detach(struct kretprobe *k)
{
	char line[128];

	if (!k)
		return;
	bpf_link__destroy(k->link);	/* closes the perf event */
	snprintf(line, sizeof(line), "-:xfertrace/%s\n", k->name);
	kprobe_events(k->dir, line);
	free(k);
}
