/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the engine tests: a deterministic record generator (any record
 * read back can be checked without knowing how it travelled), a feeder
 * thread that writes records into a pipe in odd-sized pieces, and a checker
 * that walks a session file's records.
 */
#ifndef TEST_ENGINE_UTIL_H
#define TEST_ENGINE_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "session/gcsession.h"

#define TE_REC		48u	/* record: seq, ts, devclk, missing, pattern */
#define TE_OFF_SEQ	0u
#define TE_OFF_TS	8u
#define TE_OFF_DEV	16u
#define TE_OFF_MISSING	24u
#define TE_T0		1000000000ll
#define TE_PERIOD	1000000ll	/* 1 ms between records */

void te_record(uint8_t *dst, uint64_t seq, uint32_t missing);
bool te_record_ok(const uint8_t *rec, uint64_t seq);

struct te_feeder {
	int fd;			/* closed by the feeder when done (if close_fd) */
	uint64_t first, count;	/* records first .. first + count - 1 */
	const uint64_t *skip;	/* sequence numbers never sent */
	size_t n_skip;
	uint32_t max_piece;	/* bytes per write(), random 1..max (0: whole) */
	unsigned int pause_us;	/* sleep after each write (0: none) */
	bool close_fd;
	bool forever;		/* ignore count; stop when stop is set */
	volatile bool stop;
	uint64_t seed;
	uint64_t sent;		/* records fully written */
	pthread_t thread;
};

int te_feeder_start(struct te_feeder *f);
void te_feeder_join(struct te_feeder *f);

/* Writer with small growth steps, quick syncs and compaction off/on. */
struct gcs_writer *te_writer(const char *path, bool compact);
/*
 * Compaction on, punching off: small chunks (a pipe's few records) free
 * no block, so only then are they compacted at all (session-format 8.1).
 */
struct gcs_writer *te_writer_keep(const char *path);

/*
 * Walk stream @stream of @path: every record must be te_record_ok() and
 * carry the sequence number its chunk gives it. Returns the records seen
 * (their sequence numbers in @seqs if not NULL, up to @max), -1 on error.
 */
long te_check_stream(const char *path, uint32_t stream, uint64_t *seqs,
		     size_t max);

#endif /* TEST_ENGINE_UTIL_H */
