// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The bench's floor condition: empty programs on the hooks xfertrace's hot
 * paths use. What they cost is what any BPF tracer on these hooks pays on
 * this machine before doing any work (dispatch, and on CPUs with
 * return-stack mitigations, their calls and returns).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return 0;
}
