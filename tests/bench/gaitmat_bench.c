// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat-bench: the two small tools the capture benchmark needs in the
 * guest (tests/bench/capture-bench.sh).
 *
 *   gaitmat-bench cpu [-o FILE] CMD [ARG...]
 *	run CMD (its standard output to FILE) and print its CPU time (user +
 *	system, every thread and io_uring worker of it and every child it
 *	waited for included: wait4()'s rusage) and wall time
 *
 *   gaitmat-bench readloop DEV OUT SECONDS [BUFBYTES [SYNC_MS]]
 *	the plain way to capture: blocking read() of the IIO character
 *	device into a buffer, write() of what came to OUT, for SECONDS
 *	(the buffer must be set up and enabled already); with SYNC_MS, also
 *	fdatasync() OUT whenever SYNC_MS have passed since the last one
 *
 *   gaitmat-bench floor DEV COUNT SECONDS [BUFBYTES]
 *	the physical floor of any reader: the same blocking read() into one
 *	reused buffer, nothing else (one kernel copy, no file); the bytes
 *	read so far are kept in the first 8 bytes of the file COUNT, mapped
 *
 *   gaitmat-bench count COUNT
 *	print the bytes a running floor has read
 *
 *   gaitmat-bench sum [MIB]
 *	CPU time per MiB of mat-like data, on this CPU, of the session
 *	format's body sum (gcs_body_sum(), what every commit computes over the
 *	chunk: XXH64) and of the CRC-32C that files of gaitcap 0.1 used
 *
 *   gaitmat-bench pagecache DIR [MIB [STEP_KIB]]
 *	CPU time per MiB of putting data into a file's page cache in DIR,
 *	STEP_KIB at a time, each way gaitcap could: the plain copy into a
 *	buffer and write(), and a copy into a shared mapping of a file that is
 *	preallocated or sparse, its pages made writable by touching them, by
 *	MADV_POPULATE_WRITE, or read in first (MADV_POPULATE_READ, readahead);
 *	the least of 4 rounds of each
 *
 * Exit status: the command's (cpu), 0 or 1 (the others), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "session/gcsession.h"

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t tv_us(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

static int cpu(int argc, char **argv)
{
	const char *out = NULL;
	struct rusage ru;
	int64_t t0 = now_ns();
	int st;
	pid_t pid;

	if (argc >= 2 && !strcmp(argv[0], "-o")) {
		out = argv[1];
		argc -= 2;
		argv += 2;
	}
	if (argc < 1)
		return 2;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
				_exit(126);
			close(fd);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "gaitmat-bench: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) != pid)
		return 1;
	printf("cpu_us=%lld user_us=%lld sys_us=%lld wall_us=%lld\n",
	       (long long)(tv_us(&ru.ru_utime) + tv_us(&ru.ru_stime)),
	       (long long)tv_us(&ru.ru_utime), (long long)tv_us(&ru.ru_stime),
	       (long long)((now_ns() - t0) / 1000));
	fflush(stdout);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* Whole of @n bytes to @fd; SIGTERM may interrupt it, never cut it short. */
static int write_all(int fd, const uint8_t *buf, size_t n)
{
	size_t w = 0;

	while (w < n) {
		ssize_t k = write(fd, buf + w, n - w);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		w += (size_t)k;
	}
	return 0;
}

/*
 * readloop writes what it reads to @out; the floor (@count set) only
 * counts it, in that shared mapping.
 */
static int read_loop(const char *dev, int out, volatile uint64_t *count,
		     double seconds, size_t len, uint32_t sync_ms)
{
	struct sigaction sa = { .sa_handler = on_term };
	int64_t end = now_ns() + (int64_t)(seconds * 1e9), next_sync;
	long long total = 0, reads = 0;
	uint8_t *buf = malloc(len);
	int in = open(dev, O_RDONLY);

	if (!buf || in < 0) {
		perror("gaitmat-bench: opening the device");
		return 1;
	}
	next_sync = now_ns() + (int64_t)sync_ms * 1000000;
	/*
	 * SIGTERM ends the loop between writes: killed inside one, a write
	 * to ext4 may stop short and leave half a scan in the file. No
	 * SA_RESTART, so that a read waiting for the watermark returns.
	 */
	sigaction(SIGTERM, &sa, NULL);
	/* A blocking read waits for the buffer's watermark, then returns it. */
	while (!stop && now_ns() < end) {
		ssize_t n = read(in, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("read");
			return 1;
		}
		total += n;
		reads++;
		if (count) {
			*count = (uint64_t)total;
			continue;
		}
		if (write_all(out, buf, (size_t)n)) {
			perror("write");
			return 1;
		}
		/* Inline, as a simple program would: reading waits meanwhile. */
		if (sync_ms && now_ns() >= next_sync) {
			if (fdatasync(out)) {
				perror("fdatasync");
				return 1;
			}
			next_sync = now_ns() + (int64_t)sync_ms * 1000000;
		}
	}
	close(in);
	free(buf);
	printf("bytes=%lld reads=%lld\n", total, reads);
	return 0;
}

static int readloop(int argc, char **argv)
{
	size_t len = argc > 3 ? strtoul(argv[3], NULL, 0) : 1 << 20;
	uint32_t sync_ms = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 0;
	int out, rc;

	if (argc < 3 || !len)
		return 2;
	out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0) {
		perror(argv[1]);
		return 1;
	}
	rc = read_loop(argv[0], out, NULL, atof(argv[2]), len, sync_ms);
	if (close(out) && !rc) {
		perror("close");
		rc = 1;
	}
	return rc;
}

static volatile uint64_t *map_count(const char *path, bool create)
{
	int fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY, 0600);
	void *p;

	if (fd < 0 || (create && ftruncate(fd, sizeof(uint64_t)))) {
		perror(path);
		return NULL;
	}
	p = mmap(NULL, sizeof(uint64_t), create ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror(path);
		return NULL;
	}
	return p;
}

static int floor_loop(int argc, char **argv)
{
	size_t len = argc > 3 ? strtoul(argv[3], NULL, 0) : 1 << 20;
	volatile uint64_t *count;

	if (argc < 3 || !len)
		return 2;
	count = map_count(argv[1], true);
	if (!count)
		return 1;
	return read_loop(argv[0], -1, count, atof(argv[2]), len, 0);
}

static int count(int argc, char **argv)
{
	volatile uint64_t *c;

	if (argc < 1)
		return 2;
	c = map_count(argv[0], false);
	if (!c)
		return 1;
	printf("%llu\n", (unsigned long long)*c);
	return 0;
}

static long long cpu_us(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return tv_us(&u.ru_utime) + tv_us(&u.ru_stime);
}

static int sums(int argc, char **argv)
{
	size_t mib = argc > 0 ? strtoul(argv[0], NULL, 0) : 64, len = 1 << 20;
	uint8_t *buf = calloc(1, len);
	long long t0, t1, t2;
	uint32_t c = 0, x = 0;

	if (!buf || !mib)
		return 1;
	/* Mostly zeros with a footprint, like a scan of the mat. */
	for (size_t i = 0; i < len / 16; i++)
		buf[(i * 7919) % len] = (uint8_t)i;
	t0 = cpu_us();
	for (size_t i = 0; i < mib; i++)
		c = gcs_crc32c(c, buf, len);
	t1 = cpu_us();
	for (size_t i = 0; i < mib; i++) {
		buf[0] = (uint8_t)i;	/* a new input each time */
		x ^= gcs_body_sum(GCS_INCOMPAT_BODY_XXH64, i, buf, len);
	}
	t2 = cpu_us();
	printf("crc32c_ms_per_mib=%.2f xxh64_ms_per_mib=%.2f crc=%08x xxh=%08x\n",
	       (double)(t1 - t0) / 1000 / mib, (double)(t2 - t1) / 1000 / mib,
	       c, x);
	free(buf);
	return 0;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PC_ROUNDS 4

enum pc_way { PC_WRITE, PC_TOUCH, PC_POP_W, PC_POP_RW, PC_RA_POP_W };

static const char *const pc_way_name[] = {
	"write", "touch", "populate-write", "populate-read+write",
	"readahead+populate-write",
};

/* One way, one fresh file: CPU ms per MiB, or -1. */
static double pc_run(const char *dir, enum pc_way way, bool prealloc,
		     size_t total, size_t step, const uint8_t *src, uint8_t *buf)
{
	char path[4096];
	long long t0, t1;
	uint8_t *map = NULL;
	int fd, ok = 1;

	snprintf(path, sizeof(path), "%s/pagecache.tmp", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	unlink(path);
	if (way != PC_WRITE) {
		if (prealloc ? posix_fallocate(fd, 0, total) :
			       ftruncate(fd, total))
			ok = 0;
		map = ok ? mmap(NULL, total, PROT_READ | PROT_WRITE,
				MAP_SHARED, fd, 0) : MAP_FAILED;
		if (map == MAP_FAILED)
			ok = 0;
	} else if (prealloc && posix_fallocate(fd, 0, total)) {
		ok = 0;
	}
	t0 = cpu_us();
	for (size_t off = 0; ok && off < total; off += step) {
		uint8_t *p;

		if (way == PC_WRITE) {
			memcpy(buf, src, step);	/* what read() does */
			ok = pwrite(fd, buf, step, off) == (ssize_t)step;
			continue;
		}
		p = map + off;
		switch (way) {
		case PC_WRITE:
		case PC_TOUCH:
			break;
		case PC_RA_POP_W:
			ok = readahead(fd, off, step) == 0 &&
			     !madvise(p, step, MADV_POPULATE_WRITE);
			break;
		case PC_POP_RW:
			ok = !madvise(p, step, MADV_POPULATE_READ);
			/* fall through */
		case PC_POP_W:
			ok = ok && !madvise(p, step, MADV_POPULATE_WRITE);
			break;
		}
		memcpy(p, src, step);		/* what read() into it does */
	}
	t1 = cpu_us();
	if (map && map != MAP_FAILED)
		munmap(map, total);
	/* Write back and drop it now, outside the next way's time. */
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	return ok ? (double)(t1 - t0) / 1000 / ((double)total / (1 << 20)) : -1;
}

static int pagecache(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 128;
	size_t step = (argc > 2 ? strtoul(argv[2], NULL, 0) : 640) << 10;
	size_t total;
	double best[PC_RA_POP_W + 1][2] = { { 0 } };
	uint8_t *src, *buf;
	int rc = 0;

	if (argc < 1 || !mib || !step || step > (64u << 20))
		return 2;
	total = (mib << 20) / step * step;
	src = calloc(1, step);
	buf = malloc(step);
	if (!src || !buf)
		return 1;
	for (size_t i = 0; i < step / 16; i++)
		src[(i * 7919) % step] = (uint8_t)i;
	/*
	 * Ways interleaved, rounds repeated, the least of each way kept:
	 * a CPU cost is never below what it takes, noise only adds.
	 */
	for (int round = 0; round < PC_ROUNDS; round++) {
		for (int w = PC_WRITE; w <= PC_RA_POP_W; w++) {
			for (int pre = 1; pre >= 0; pre--) {
				double ms = pc_run(argv[0], w, pre, total, step,
						   src, buf);

				if (ms < 0)
					rc = 1;
				else if (!round || ms < best[w][pre])
					best[w][pre] = ms;
			}
		}
	}
	for (int w = PC_WRITE; w <= PC_RA_POP_W; w++)
		for (int pre = 1; pre >= 0; pre--)
			printf("way=%s file=%s ms_per_mib=%.2f\n",
			       pc_way_name[w], pre ? "preallocated" : "sparse",
			       best[w][pre]);
	free(src);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "pagecache"))
		return pagecache(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "sum"))
		return sums(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "cpu"))
		return cpu(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "readloop"))
		return readloop(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "floor"))
		return floor_loop(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "count"))
		return count(argc - 2, argv + 2);
	fprintf(stderr, "usage: gaitmat-bench cpu [-o FILE] CMD [ARG...] | readloop DEV OUT SECONDS [BUFBYTES [SYNC_MS]] | floor DEV COUNT SECONDS [BUFBYTES] | count COUNT | sum [MIB] | pagecache DIR [MIB [STEP_KIB]]\n");
	return 2;
}
