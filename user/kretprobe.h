/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * kretprobes with room for many sleeping callers. The kernel's perf kprobe
 * PMU (how libbpf attaches) gives a kretprobe max(10, 2 * CPUs) instances,
 * and every thread blocked inside tcp_recvmsg holds one: with more blocked
 * receivers, returns go unseen and their bytes uncounted. A tracefs
 * kprobe event can ask for more ("r4096:...").
 */
#ifndef XT_KRETPROBE_H
#define XT_KRETPROBE_H

struct bpf_program;
struct kretprobe;

/* Attach prog to the return of func with maxactive instances. */
int kretprobe__attach(struct bpf_program *prog, const char *func,
		      int maxactive, struct kretprobe **out);
/* Detach and remove the tracefs event. NULL is fine. */
void kretprobe__detach(struct kretprobe *k);

#endif
