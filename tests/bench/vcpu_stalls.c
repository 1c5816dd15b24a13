// SPDX-License-Identifier: GPL-2.0
/*
 * vcpu-stalls PID SECONDS: on the host, how long QEMU's busy threads (its
 * vCPUs under TCG: QEMU names them only with -name debug-threads=on, so
 * they are told by the CPU they used, over 20 % of the time) waited on the
 * host's run queue, runnable but not running, over SECONDS
 * (tests/bench/run-latency-bench --sched; docs/latency.md, "The p99
 * tail"). Samples each thread's schedstat run_delay every millisecond; a
 * stall is a run of samples in which it grew. Prints one VCPUSTALL line per
 * busy thread: the share of the time spent waiting, the stalls over 1 and
 * 4 ms, the longest. Stops early, and
 * still prints, when QEMU exits or on SIGTERM (the lab ends its host
 * command with the guest).
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS	64

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

struct vcpu {
	char path[96];
	unsigned long long run0, run, last, total, cur, max;
	unsigned long over1, over4;
};

static int read_delay(const char *path, unsigned long long *run,
		      unsigned long long *delay)
{
	FILE *f = fopen(path, "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu", run, delay);
	fclose(f);
	return n == 2 ? 0 : -1;
}

static void end_stall(struct vcpu *v)
{
	if (v->cur > v->max)
		v->max = v->cur;
	v->over1 += v->cur > 1000000;
	v->over4 += v->cur > 4000000;
	v->cur = 0;
}

int main(int argc, char **argv)
{
	static struct vcpu v[MAX_THREADS];
	struct timespec next, start, now;
	char dir[64];
	struct dirent *de;
	int n = 0, pid;
	double secs;
	long ticks;
	DIR *d;

	if (argc != 3 || (pid = atoi(argv[1])) <= 0 || (secs = atof(argv[2])) <= 0) {
		fprintf(stderr, "usage: vcpu-stalls PID SECONDS\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	d = opendir(dir);
	if (!d) {
		perror(dir);
		return 1;
	}
	while ((de = readdir(d)) && n < MAX_THREADS) {
		if (de->d_name[0] == '.')
			continue;
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].path, sizeof(v[n].path), "%s/%.20s/schedstat", dir, de->d_name);
		if (!read_delay(v[n].path, &v[n].run0, &v[n].last))
			n++;
	}
	closedir(d);
	if (!n) {
		fprintf(stderr, "vcpu-stalls: no thread in %d\n", pid);
		return 1;
	}
	signal(SIGTERM, on_term);
	ticks = (long)(secs * 1000);
	clock_gettime(CLOCK_MONOTONIC, &next);
	start = next;
	for (long t = 0; t < ticks && !stop; t++) {
		int alive = 0;

		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		for (int i = 0; i < n; i++) {
			unsigned long long dl;

			if (read_delay(v[i].path, &v[i].run, &dl))
				continue;	/* the guest ended */
			alive++;
			if (dl > v[i].last) {
				v[i].cur += dl - v[i].last;
				v[i].total += dl - v[i].last;
			} else if (v[i].cur) {
				end_stall(&v[i]);
			}
			v[i].last = dl;
		}
		if (!alive)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
	for (int i = 0, k = 0; i < n; i++) {
		end_stall(&v[i]);
		if ((double)(v[i].run - v[i].run0) < 0.2 * secs * 1e9)
			continue;	/* not a vCPU: QEMU's I/O and RCU threads */
		printf("VCPUSTALL vcpu=%d seconds=%.0f waiting_pct=%.1f over1ms=%lu over4ms=%lu max_us=%llu\n",
		       k++, secs, 100.0 * (double)v[i].total / (secs * 1e9), v[i].over1, v[i].over4,
		       v[i].max / 1000);
	}
	return 0;
}
