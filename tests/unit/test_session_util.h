/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the session tests: temporary folders, a deterministic
 * data generator (so any record read back can be checked without the file
 * it came from) and byte-level tools to forge corruptions.
 */
#ifndef TEST_SESSION_UTIL_H
#define TEST_SESSION_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "session/gcsession.h"

#define TU_FIXED_SIZE	64u		/* fixed stream: 64-byte records */
#define TU_TS_OFFSET	56u		/* their le64 timestamp */
#define TU_T0		1000000000ll
#define TU_PERIOD	10000000ll	/* 10 ms */

extern const char tu_meta[];

/* A fresh folder (under /dev/shm when there is one: fsync is cheap there). */
char *tu_tmpdir(void);
char *tu_path(const char *dir, const char *name);
void tu_rm_rf(const char *dir);
int tu_read_file(const char *path, uint8_t **buf, size_t *len);
int tu_write_file(const char *path, const void *buf, size_t len);

/*
 * Fixtures that work in a fresh folder. A fixture struct starts with
 * `char *dir` (TU_DIR_FIRST checks it at build time). tu_dir_setup() makes
 * *state a bare struct tu_dir; a fixture that carries more is allocated by
 * tu_dir_fixture_new(): zeroed, @size bytes, its folder made (NULL on
 * failure). tu_dir_fixture_free() removes the folder with everything in it
 * and frees the dir and the struct, not what other members own;
 * tu_dir_teardown() does that to *state.
 */
struct tu_dir {
	char *dir;
};

#define TU_DIR_FIRST(type)						\
	_Static_assert(offsetof(type, dir) == 0 &&			\
		       __builtin_types_compatible_p(			\
				__typeof__(((type *)0)->dir), char *),	\
		       #type " must start with char *dir")

int tu_dir_setup(void **state);
int tu_dir_teardown(void **state);
void *tu_dir_fixture_new(size_t size);
void tu_dir_fixture_free(void *fixture);

int64_t tu_t(uint64_t seq);
void tu_fixed_record(uint8_t *dst, uint64_t seq);
uint32_t tu_var_len(uint64_t seq);
void tu_var_data(uint8_t *dst, uint64_t seq);

/* Stream 0: fixed records with timestamps; stream 1: variable records. */
int tu_add_streams(struct gcs_writer *w);
/* A chunk of @n records from @seq, filled in place and committed. */
int tu_put_fixed(struct gcs_writer *w, uint64_t seq, uint32_t n);
int tu_put_var(struct gcs_writer *w, uint64_t seq, uint32_t n);

/*
 * Check every record the reader yields against the generators.
 * Returns the number of records checked, or -1 on the first mismatch.
 * *@lost (if not NULL) gets the number of chunks the reader refused.
 */
long tu_check_records(struct gcs_reader *r, size_t *lost);

/*
 * Tests of the gaitcap subcommands: a folder (TU_DIR_FIRST) and the file
 * in it that catches stdout and stderr. tu_cmd_setup/teardown are cmocka
 * group or test fixtures; tu_cmd_run() calls @cmd in this process with the
 * NULL-terminated arguments (a fresh getopt each time) and returns what it
 * returned; tu_cmd_output() is what it printed, NUL-terminated (free it).
 */
struct tu_cmd {
	char *dir;
	char *out;
};

int tu_cmd_setup(void **state);
int tu_cmd_teardown(void **state);
int tu_cmd_run(struct tu_cmd *f, int (*cmd)(int, char **), ...);
char *tu_cmd_output(const struct tu_cmd *f);

/* Writes the standard small session: a bit of everything. */
int tu_small_session(const char *path, const struct gcs_writer_opts *o,
		     bool close_it);

/* Byte-level: the record offsets of a file image (plain walk, no checks). */
size_t tu_record_offsets(const uint8_t *buf, size_t len, uint64_t *offs,
			 size_t max);
/* Recompute the CRCs of the record at @off after a deliberate change. */
void tu_fix_record(uint8_t *buf, size_t len, uint64_t off);
/* Recompute the CRC of header slot @i. */
void tu_fix_slot(uint8_t *buf, int i);

#endif /* TEST_SESSION_UTIL_H */
