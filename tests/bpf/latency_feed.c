// SPDX-License-Identifier: GPL-2.0
/*
 * A synthetic record source for gaitcap-latency's host test: N records of
 * SIZE bytes at RATE Hz on stdout, each starting with its sequence number
 * and CLOCK_MONOTONIC time (le64, the fd source's seq=0,ts=8), paced on
 * absolute deadlines so that the capture sees the rate it would from a mat.
 *
 *   latency-feed N RATE [SIZE]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n, rate, size = 16, i;
	struct timespec ts;
	int64_t t0, t, period;
	uint8_t *rec;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: latency-feed N RATE [SIZE]\n");
		return 1;
	}
	n = strtoul(argv[1], NULL, 10);
	rate = strtoul(argv[2], NULL, 10);
	if (argc == 4)
		size = strtoul(argv[3], NULL, 10);
	if (!rate || rate > 100000 || size < 16 || size > 1 << 20) {
		fprintf(stderr, "latency-feed: bad rate or size\n");
		return 1;
	}
	rec = calloc(1, size);
	if (!rec)
		return 1;
	period = 1000000000 / (int64_t)rate;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		t = t0 + (int64_t)i * period;
		ts.tv_sec = t / 1000000000;
		ts.tv_nsec = t % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		t = now_ns();
		memcpy(rec, &i, 8);	/* little-endian hosts only (x86, arm64) */
		memcpy(rec + 8, &t, 8);
		if (write_all(1, rec, size)) {
			perror("latency-feed: write");
			return 1;
		}
	}
	free(rec);
	return 0;
}
