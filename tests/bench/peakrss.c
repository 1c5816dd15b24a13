// SPDX-License-Identifier: GPL-2.0
/*
 * peakrss: run a command and report its peak resident memory, split the
 * way /proc/PID/status splits it. The kernel keeps a high-water mark only
 * for the total (VmHWM, ru_maxrss); RssAnon (heap, stacks: what a
 * streaming reader must keep flat) and RssFile (pages of mapped files,
 * which the kernel may drop at will) are sampled every millisecond.
 *
 *   peakrss OUTFILE CMD [ARG...]
 *
 * OUTFILE gets one line "hwm_kb anon_kb file_kb samples cpu_s" (cpu_s:
 * user + system time, which a shared machine disturbs less than wall
 * time); the exit status is the command's (128 + signal if killed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct peaks {
	long anon_kb, file_kb;
	unsigned long samples;
};

/* One look at /proc/PID/status; false once the process is gone. */
static int sample(pid_t pid, struct peaks *p)
{
	char path[64], line[256];
	long anon = -1, file = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "RssAnon:", 8))
			anon = strtol(line + 8, NULL, 10);
		else if (!strncmp(line, "RssFile:", 8))
			file = strtol(line + 8, NULL, 10);
	}
	fclose(f);
	/* A zombie has no memory lines left: not a sample. */
	if (anon < 0 || file < 0)
		return -ESRCH;
	if (anon > p->anon_kb)
		p->anon_kb = anon;
	if (file > p->file_kb)
		p->file_kb = file;
	p->samples++;
	return 0;
}

int main(int argc, char **argv)
{
	const struct timespec tick = { 0, 1000000 };
	struct peaks p = { 0 };
	struct rusage ru;
	pid_t pid, w;
	FILE *out;
	int st;

	if (argc < 3) {
		fprintf(stderr, "usage: peakrss OUTFILE CMD [ARG...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (!pid) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	for (;;) {
		w = wait4(pid, &st, WNOHANG, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			perror("wait4");
			return 2;
		}
		sample(pid, &p);
		nanosleep(&tick, NULL);
	}
	out = fopen(argv[1], "we");
	if (!out) {
		perror(argv[1]);
		return 2;
	}
	fprintf(out, "%ld %ld %ld %lu %.3f\n", ru.ru_maxrss, p.anon_kb, p.file_kb,
		p.samples, ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if (fclose(out)) {
		perror(argv[1]);
		return 2;
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
