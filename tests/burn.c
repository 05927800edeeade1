// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * burn: T threads, thread k busy-loops until its own CPU clock
 * (CLOCK_THREAD_CPUTIME_ID) reaches BASE + k*STEP ms. When every thread
 * is done it writes {pid, threads:[{tid, cpu_ns, ...}]} (thread clocks
 * read right after burning; the main thread's at write time) to -o FILE
 * (atomically, via rename) or stdout, then idles, threads included,
 * blocked without using CPU, until SIGUSR1 or SIGTERM, so a test can
 * read /proc/<pid>/task/<tid>/schedstat while every thread still exists.
 * SIGINT is ignored. -T bounds the whole life (default 120 s).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS	64

struct burner {
	pthread_t th;
	int idx;
	pid_t tid;
	uint64_t target_ns;
	uint64_t cpu_ns;
};

static struct burner burners[MAX_THREADS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done_count;
static int released;

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void *burn_thread(void *arg)
{
	struct burner *b = arg;
	volatile uint64_t x = b->idx + 1;
	int i;

	b->tid = syscall(SYS_gettid);
	while (thread_cpu_ns() < b->target_ns)
		for (i = 0; i < 20000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	b->cpu_ns = thread_cpu_ns();

	pthread_mutex_lock(&lock);
	done_count++;
	pthread_cond_broadcast(&cond);
	while (!released)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void wait_burned(int n)
{
	pthread_mutex_lock(&lock);
	while (done_count < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void release_all(int n)
{
	int i;

	pthread_mutex_lock(&lock);
	released = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < n; i++)
		pthread_join(burners[i].th, NULL);
}

static void print_json(FILE *f, int n)
{
	int i;

	fprintf(f, "{\"pid\": %d, \"threads\": [\n", (int)getpid());
	fprintf(f, "  {\"tid\": %d, \"main\": true, \"target_ns\": 0, "
		"\"cpu_ns\": %" PRIu64 "}", (int)getpid(), thread_cpu_ns());
	for (i = 0; i < n; i++)
		fprintf(f, ",\n  {\"tid\": %d, \"main\": false, "
			"\"target_ns\": %" PRIu64 ", \"cpu_ns\": %" PRIu64 "}",
			(int)burners[i].tid, burners[i].target_ns,
			burners[i].cpu_ns);
	fprintf(f, "\n]}\n");
}

static int write_json(const char *path, int n)
{
	char tmp[4096];
	FILE *f;

	if (!path) {
		print_json(stdout, n);
		return fflush(stdout) ? -errno : 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	print_json(f, n);
	if (fclose(f) || rename(tmp, path))
		return -errno;
	return 0;
}

static int parse_num(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 0);
	return errno || end == s || *end || *v < lo || *v > hi ? -EINVAL : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: burn [-t THREADS] [-m BASE_MS] [-d STEP_MS] [-T MAX_S] [-o FILE]\n"
		"  thread k burns BASE_MS + k*STEP_MS of CPU (defaults 3, 300, 150),\n"
		"  writes JSON, then idles until SIGUSR1/SIGTERM\n");
}

int main(int argc, char **argv)
{
	long threads = 3, base = 300, step = 150, life = 120, v;
	const char *out = NULL;
	sigset_t set;
	int c, i, sig, rc = 0;

	while ((c = getopt(argc, argv, "t:m:d:T:o:")) != -1) {
		switch (c) {
		case 't':
			rc |= parse_num(optarg, 1, MAX_THREADS, &threads);
			break;
		case 'm':
			rc |= parse_num(optarg, 0, 600000, &base);
			break;
		case 'd':
			rc |= parse_num(optarg, 0, 600000, &step);
			break;
		case 'T':
			rc |= parse_num(optarg, 1, 86400, &life);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			rc = -EINVAL;
		}
	}
	if (rc || optind != argc) {
		usage();
		return 2;
	}
	signal(SIGINT, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	alarm(life);

	for (i = 0; i < threads; i++) {
		v = base + i * step;
		burners[i].idx = i;
		burners[i].target_ns = (uint64_t)v * 1000000ull;
		if (pthread_create(&burners[i].th, NULL, burn_thread, &burners[i])) {
			fprintf(stderr, "burn: pthread_create failed\n");
			return 1;
		}
	}
	wait_burned(threads);
	rc = write_json(out, threads);
	if (rc)
		fprintf(stderr, "burn: cannot write %s: %s\n", out, strerror(-rc));
	else
		while (sigwait(&set, &sig))
			;
	release_all(threads);
	return rc ? 1 : 0;
}
