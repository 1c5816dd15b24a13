/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libgcsession: the gaitcap session file format (writer, reader, recovery).
 *
 * docs/session-format.md defines the format and the words used below:
 *   sealed     complete and handed to the writer (gcs_writer_commit()), but
 *              still invisible while an earlier reservation is open;
 *   committed  a reader can see the record and it survives the capture
 *              process dying at any instant (its commit word is stored);
 *   durable    it also survives power loss (after the next sync point).
 *
 * Every function returning int returns 0 (or a count) on success and -errno
 * on failure. No function prints anything; gcs_strerror() explains the
 * library's own error codes.
 */
#ifndef GCSESSION_H
#define GCSESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session/gcs_format.h"

enum gcs_stream_kind {
	GCS_KIND_GENERIC = 0,
	GCS_KIND_IIO_SCAN = 1,	/* one record per IIO scan, bytes as read */
	GCS_KIND_BLE_ATT = 2,	/* one record per ATT notification PDU */
};

enum gcs_clock {
	GCS_CLOCK_NONE = 0,
	GCS_CLOCK_MONOTONIC = 1,
	GCS_CLOCK_REALTIME = 2,
	GCS_CLOCK_BOOTTIME = 3,
	GCS_CLOCK_DEVICE = 4,
};

enum gcs_marker_code {
	GCS_MARK_SESSION_START = 1,
	GCS_MARK_SESSION_END = 2,	/* value: 0, or the errno that ended it */
	GCS_MARK_TRIAL_START = 3,	/* value: trial number */
	GCS_MARK_TRIAL_END = 4,
	GCS_MARK_SYNC = 5,		/* a sync event seen by every device */
	GCS_MARK_EVENT = 6,		/* operator event; value: event code */
	GCS_MARK_DEVICE_RESET = 7,	/* stream: the device that reset */
	GCS_MARK_USER = 0x1000,		/* codes from here are site-defined */
};

enum gcs_gap_reason {
	GCS_GAP_UNKNOWN = 0,
	GCS_GAP_DEVICE_OVERFLOW = 1,	/* the device dropped scans */
	GCS_GAP_KERNEL_OVERFLOW = 2,	/* the kernel buffer overran */
	GCS_GAP_DISCONNECT = 3,		/* link lost (BLE) */
	GCS_GAP_WRITER = 4,		/* the writer could not take the data */
	GCS_GAP_DAMAGED = 5,		/* lost to damage in the file (salvage) */
};

/* Library error codes, beyond errno (negated like errno values). */
#define GCS_EBASE	4096
enum {
	GCS_ENOTSESSION = GCS_EBASE,	/* no valid header slot */
	GCS_EVERSION,			/* major version or incompat bit unknown */
	GCS_ECORRUPT,			/* a check failed below the durable mark */
	GCS_EPOLICY,			/* metadata breaks the privacy policy */
	GCS_EFULL,			/* the filesystem is full: session ended */
	GCS_ENOTFILE,			/* not a regular file (FIFO, device...) */
};

const char *gcs_strerror(int err);

/* CRC-32C (Castagnoli). Start with crc = 0; chain over consecutive buffers. */
uint32_t gcs_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * The checksum of a record body (format doc section 4.1) in a file whose
 * header has these @incompat bits and @salt: the low 32 bits of
 * XXH64(body, seed = salt) with GCS_INCOMPAT_BODY_XXH64, CRC-32C(salt, body)
 * without.
 */
uint32_t gcs_body_sum(uint64_t incompat, uint64_t salt, const void *buf,
		      size_t len);

/*
 * Check metadata JSON against the privacy policy (format doc section 6).
 * @session true for the session object, false for a stream description.
 * On failure, @why (if not NULL) gets a static explanation.
 */
int gcs_meta_check(const char *json, bool session, const char **why);

/*
 * Make @s printable UTF-8 in place: each byte of an invalid sequence
 * (overlong, surrogate, above U+10FFFF, cut short) and each control
 * character becomes '?'. For names and messages put into JSON or logs.
 */
void gcs_text_printable(char *s);

/* ---- Writer ------------------------------------------------------------- */

struct gcs_writer;

struct gcs_writer_opts {
	uint64_t grow_step;		/* fallocate step, bytes (64 MiB) */
	uint64_t max_size;		/* largest file the writer maps (1 TiB) */
	uint64_t tail_reserve;		/* kept free to close cleanly (1 MiB) */
	uint32_t sync_interval_ms;	/* durability interval (1000) */
	uint32_t compact_target;	/* raw bytes per compressed chunk (4 MiB) */
	int zstd_level;			/* compaction level (3) */
	/*
	 * Unmap (MADV_DONTNEED) the committed part of the mapping in steps of
	 * this many bytes (8 MiB; 0: never): the pages stay in the page cache,
	 * dirty or not, but writeback no longer has to write-protect them.
	 */
	uint64_t unmap_step;
	bool no_compact;		/* keep raw chunks as they are */
	bool no_reclaim;		/* compact, but never punch raw chunks */
	bool compact_all;		/* also sets that free little on disk */
};

void gcs_writer_opts_init(struct gcs_writer_opts *o);

/*
 * Create a new session file (never overwrites: O_EXCL), mode 0640, write its
 * header and the session metadata (checked by gcs_meta_check()) and make
 * both durable. The writer holds an exclusive flock() on the file.
 */
int gcs_writer_create(struct gcs_writer **wp, const char *path,
		      const struct gcs_writer_opts *opts, const char *meta_json);

struct gcs_stream_def {
	uint16_t kind;			/* enum gcs_stream_kind */
	uint32_t record_size;		/* bytes per record; 0 = variable */
	uint32_t ts_offset;		/* le64 ns in each record or GCS_NO_TS */
	uint32_t ts_clock;		/* enum gcs_clock of record timestamps */
	const char *desc_json;		/* stream description (policy-checked) */
};

/* Declare a stream; *@id gets its number (0, 1, ...). */
int gcs_writer_add_stream(struct gcs_writer *w, const struct gcs_stream_def *def,
			  uint32_t *id);

/*
 * A reservation: @cap bytes at @data inside the file's MAP_SHARED mapping,
 * where a chunk's payload goes. Fill it any way (IORING_OP_READ straight into
 * it), then commit or abandon it. Nothing is visible to readers until then.
 */
struct gcs_slot {
	uint8_t *data;
	uint32_t cap;
	uint32_t stream;
	uint64_t off;			/* file offset of the record */
	/* private to the writer */
	uint64_t seq_first, seq_last;	/* once committed */
	uint32_t size;
	uint16_t type;
	uint8_t state;
	uint8_t index;
};

int gcs_writer_reserve(struct gcs_writer *w, uint32_t stream, uint32_t cap,
		       struct gcs_slot **slot);

struct gcs_chunk_meta {
	uint32_t len;			/* payload bytes filled, <= cap */
	uint32_t n_records;
	uint64_t first_seq;
	uint64_t last_seq;
	int64_t t_first_ns;		/* host CLOCK_MONOTONIC */
	int64_t t_last_ns;
	uint32_t flags;			/* GCS_CHUNK_F_* */
};

/*
 * Seal a filled reservation as a chunk. The caller must have no I/O in
 * flight into it. Records are committed in file order: the chunk becomes
 * committed once every earlier reservation is committed or abandoned.
 * Sequence numbers must grow in file order within a stream (reservations
 * may complete in any order). On error the slot is abandoned.
 */
int gcs_writer_commit(struct gcs_writer *w, struct gcs_slot *slot,
		      const struct gcs_chunk_meta *m);
/* Give a reservation back (it becomes padding if later ones exist). */
void gcs_writer_abandon(struct gcs_writer *w, struct gcs_slot *slot);

/* Convenience: reserve, copy @m->len bytes from @data, commit. */
int gcs_writer_write_chunk(struct gcs_writer *w, uint32_t stream,
			   const void *data, const struct gcs_chunk_meta *m);

/* Variable-size records: bytes one record takes in a payload. */
static inline uint32_t gcs_var_rec_size(uint32_t len)
{
	return (uint32_t)gcs_align8((uint64_t)GCS_VAR_HDR_LEN + len);
}

/* Frame a variable-size record at @dst; returns the bytes used. */
uint32_t gcs_var_rec_put(uint8_t *dst, int64_t t_ns, const void *data,
			 uint32_t len);

int gcs_writer_marker(struct gcs_writer *w, uint32_t code, uint32_t stream,
		      int64_t t_ns, int64_t value);
int gcs_writer_gap(struct gcs_writer *w, uint32_t stream, uint32_t reason,
		   uint64_t first_seq, uint64_t last_seq, int64_t t_start_ns,
		   int64_t t_end_ns);
struct gcs_clock_sample {
	uint32_t stream;		/* or GCS_STREAM_NONE */
	uint32_t flags;			/* GCS_CLOCKREC_F_* */
	int64_t device_ns;
	int64_t mono_ns;
	int64_t real_ns;
	int64_t boot_ns;
	int64_t uncertainty_ns;
};

int gcs_writer_clock(struct gcs_writer *w, const struct gcs_clock_sample *c);
/* Host-only sample: reads the three host clocks back to back. */
int gcs_writer_clock_host(struct gcs_writer *w);

/*
 * Durability in three steps, so an event loop can run the two fdatasync()s
 * itself (e.g. IORING_OP_FSYNC with IORING_FSYNC_DATASYNC on s->fd):
 *   sync_begin   -> datasync the file -> sync_header (writes the header slot)
 *   -> datasync the file -> sync_end (the mark is official; reclaim runs).
 * sync_begin returns 1 when everything committed is already durable.
 * gcs_writer_sync() does all of it with blocking calls.
 *
 * Each datasync needs to cover only its range of the file: the data one
 * [from, target), what was committed since the last mark, the header one
 * [hdr_off, hdr_off + hdr_len). A ranged datasync (IORING_OP_FSYNC's off
 * and len) leaves alone the pages a capture has made writable beyond the
 * committed end, which a whole-file one would write out and write-protect.
 */
struct gcs_sync {
	int fd;
	uint64_t target;
	uint64_t generation;
	uint64_t from;
	uint64_t hdr_off, hdr_len;
};

int gcs_writer_sync_begin(struct gcs_writer *w, struct gcs_sync *s);
int gcs_writer_sync_header(struct gcs_writer *w, struct gcs_sync *s);
int gcs_writer_sync_end(struct gcs_writer *w, struct gcs_sync *s);
int gcs_writer_sync(struct gcs_writer *w);
/*
 * One of the event loop's datasyncs failed with @err (-errno). The writer
 * fails for good (every later call returns @err; close leaves the file
 * OPEN for gaitcap recover), keeps the durable mark where it was and
 * records the error in the header (sync_error), so that nothing later
 * claims the range durable. Returns @err.
 */
int gcs_writer_sync_fail(struct gcs_writer *w, struct gcs_sync *s, int err);

/*
 * Compaction. gcs_writer_poll() runs at most one job inline; a threaded
 * engine instead takes a job with compact_prepare (writer's thread), runs
 * gcs_compact_run() on any thread, and hands it back with compact_finish
 * (writer's thread). @force takes every pending raw chunk, however few.
 * prepare returns 0 and *@job = NULL when there is nothing to do.
 */
struct gcs_compact_job;
int gcs_writer_compact_prepare(struct gcs_writer *w, bool force,
			       struct gcs_compact_job **job);
int gcs_compact_run(struct gcs_compact_job *job);
int gcs_writer_compact_finish(struct gcs_writer *w, struct gcs_compact_job *job);

/*
 * Timer work for an event loop: a sync when the interval is due (unless
 * @no_sync: the loop runs the split sync itself) and one compaction job.
 * Returns milliseconds until it wants to be called again, or -errno.
 */
int gcs_writer_poll(struct gcs_writer *w, int64_t now_ns, bool no_sync);

struct gcs_space {
	uint64_t fs_avail;		/* free bytes on the filesystem for us */
	uint64_t prealloc_left;		/* preallocated, not yet used */
	uint64_t file_used;		/* end of the last reservation */
	uint64_t allocated;		/* bytes the file holds on disk */
	double rate;			/* net growth, bytes per second */
	double seconds_left;		/* at that rate; < 0 if unknown */
	bool full;			/* the writer hit a full filesystem */
};

int gcs_writer_space(struct gcs_writer *w, int64_t now_ns, struct gcs_space *s);

struct gcs_writer_stats {
	uint64_t committed_end;
	uint64_t durable_end;
	uint64_t raw_bytes;		/* payload bytes committed as raw chunks */
	uint64_t compacted_raw;		/* raw bytes replaced by zstd chunks */
	uint64_t compacted_stored;	/* their compressed size */
	uint64_t reclaimed;		/* bytes punched out of raw chunks */
	uint64_t unmapped;		/* mapping dropped behind the records */
	uint64_t chunks;
	uint64_t zchunks;
	uint64_t compact_rejected;	/* compressed copies that failed the check */
	uint64_t compact_skipped;	/* sets left raw: too little to reclaim */
	uint32_t outstanding;		/* reservations not yet committed */
	uint32_t sealed_waiting;	/* of them, sealed: behind an older one */
	int failed;			/* 0, or the error the writer stopped on */
	int sync_error;			/* 0, or the error of a failed sync */
};

void gcs_writer_stats(const struct gcs_writer *w, struct gcs_writer_stats *st);

/*
 * Close: abandon open reservations, compact what is left, write a
 * SESSION_END marker (value: 0, or ENOSPC if the disk filled up), the index,
 * trim the preallocation and mark the file CLOSED; all of it durable.
 * Frees @w and returns the first error met -- except -EBUSY, returned with
 * nothing done while a compaction job or a split sync is still out.
 */
int gcs_writer_close(struct gcs_writer *w);
/*
 * Stamp close's SESSION_END marker at @t_ns (host CLOCK_MONOTONIC) instead
 * of the time of closing: for a session written faster or later than its
 * data's timeline (synth, refine, import).
 */
void gcs_writer_set_end(struct gcs_writer *w, int64_t t_ns);

/*
 * Drop the writer without closing: the file stays as a killed capture
 * would leave it (state OPEN). For tests and for a failing engine.
 */
void gcs_writer_abort(struct gcs_writer *w);

/* ---- Reader --------------------------------------------------------------- */

struct gcs_reader;

#define GCS_OPEN_USE_INDEX	0x1u	/* trust a CLOSED file's index */
#define GCS_OPEN_VERIFY		0x2u	/* check every chunk's data at open */
/*
 * Keep no per-chunk table: memory stays flat however long the session.
 * Records are read with one gcs_rec_iter of one stream at a time, which
 * finds the chunks again in the file; gcs_reader_chunk() and
 * gcs_reader_chunk_data() answer only for the iterator's current chunk
 * and gcs_reader_records() lists nothing. A file out of the order this
 * needs (damage, conflicting copies) is read with the full table instead
 * (gcs_file_info.streamed says which). Ignored with GCS_OPEN_VERIFY.
 */
#define GCS_OPEN_STREAM		0x4u

int gcs_reader_open(struct gcs_reader **rp, const char *path, unsigned int flags);
int gcs_reader_open_fd(struct gcs_reader **rp, int fd, unsigned int flags);
/* Read a session from memory (@buf must outlive the reader). */
int gcs_reader_open_mem(struct gcs_reader **rp, const void *buf, size_t len,
			unsigned int flags);
void gcs_reader_close(struct gcs_reader *r);

enum gcs_tail {
	GCS_TAIL_CLEAN = 0,	/* the walk ended exactly at the end */
	GCS_TAIL_UNCOMMITTED,	/* no commit word: free or unpublished space */
	GCS_TAIL_TORN,		/* bytes that are not a valid record */
	GCS_TAIL_SHORT,		/* a record runs past the end of the file */
};

struct gcs_file_info {
	uint16_t ver_major, ver_minor;
	uint32_t state;
	uint64_t incompat;		/* the header's incompat feature bits */
	uint64_t salt;
	uint64_t generation;
	uint8_t slots_valid;		/* bit i: header slot i is valid */
	uint32_t sync_interval_ms;
	uint64_t data_start;
	uint64_t durable_end;
	uint32_t sync_error;		/* errno of a failed durability sync, or 0 */
	uint64_t end_off;
	uint64_t index_off;
	uint64_t file_size;
	uint64_t allocated;		/* st_blocks * 512; 0 for memory */
	bool used_index;
	/* the walk */
	uint64_t valid_end;		/* end of the last valid record */
	uint32_t tail;			/* enum gcs_tail */
	uint64_t n_records;
	uint64_t n_by_type[8];		/* meta stream chunk zchunk clock marker gap index */
	uint64_t n_pad;
	uint64_t n_unknown;		/* records of a type this reader skips */
	uint64_t n_damaged;		/* body check failed below the durable mark */
	uint64_t n_conflicts;		/* records that contradict each other */
	uint64_t n_orphan_parts;	/* a part names no chunk record */
	uint64_t n_lost;		/* logical chunks with no valid copy, as
					 * far as checked (gcs_reader_problems()) */
	/* sizes */
	uint64_t raw_bytes;		/* payload bytes of every logical chunk */
	uint64_t stored_bytes;		/* bytes of the records holding them */
	uint64_t raw_stored;		/* of which raw chunks still holding data */
	uint64_t zstd_stored;		/* of which compressed chunks */
	/* time: host CLOCK_MONOTONIC over all chunks, markers and gaps */
	int64_t t_first_ns, t_last_ns;
	int64_t duration_ns;		/* t_last - t_first, saturated at INT64_MAX */
	bool meta_policy_ok;
	/* salvage (format doc 4.5): stretches the walk stepped over */
	uint64_t n_lost_ranges;
	uint64_t lost_bytes;		/* bytes in them */
	uint64_t n_lost_records;	/* records the index lists in them */
	bool lost_records_known;	/* false: no valid index to name them */
	bool streamed;			/* opened with GCS_OPEN_STREAM in effect */
};

const struct gcs_file_info *gcs_reader_info(const struct gcs_reader *r);
/* Session metadata JSON as stored (NULL if the META record is missing). */
const char *gcs_reader_meta(const struct gcs_reader *r);

struct gcs_stream_info {
	uint32_t id;
	uint16_t kind;
	uint32_t record_size;
	uint32_t ts_offset;
	uint32_t ts_clock;
	const char *desc_json;
	uint64_t decl_off;
	/* from the chunk headers */
	uint64_t n_chunks;
	uint64_t n_records;
	uint64_t raw_bytes;
	uint64_t first_seq, last_seq;
	int64_t t_first_ns, t_last_ns;
	uint64_t n_gaps;		/* gap records */
	uint64_t gap_records;		/* records they say are missing */
	uint64_t n_discont;		/* sequence jumps between chunks */
	uint64_t n_unexplained;		/* of which no gap record covers */
	uint64_t n_bad_chunks;		/* chunk metadata impossible for the stream */
	/*
	 * Records lost to damage: those of chunks with no valid copy, and the
	 * sequence numbers missing across a lost range (never "unexplained").
	 */
	uint64_t lost_records;
	uint64_t n_lost_chunks;		/* logical chunks lost, as far as known */
};

size_t gcs_reader_n_streams(const struct gcs_reader *r);
const struct gcs_stream_info *gcs_reader_stream(const struct gcs_reader *r,
						size_t i);
/* By id; NULL if no such stream. */
const struct gcs_stream_info *gcs_reader_stream_by_id(const struct gcs_reader *r,
						      uint32_t id);

enum gcs_chunk_form { GCS_FORM_RAW = 0, GCS_FORM_ZSTD = 1 };
enum gcs_chunk_status {
	GCS_CHUNK_UNVERIFIED = 0,
	GCS_CHUNK_OK = 1,
	GCS_CHUNK_LOST = 2,		/* no copy with a valid checksum */
};

/* A logical chunk: a raw chunk as committed, wherever its data lives now. */
struct gcs_chunk_info {
	uint64_t orig_off;		/* offset of the CHUNK record: its identity */
	uint32_t stream;
	uint32_t n_records;
	uint64_t first_seq, last_seq;
	int64_t t_first_ns, t_last_ns;
	uint32_t raw_len;
	uint32_t raw_crc;
	uint32_t flags;			/* GCS_CHUNK_F_* */
	uint8_t status;			/* enum gcs_chunk_status */
	uint8_t form;			/* where the data is read from */
	bool have_raw;			/* the CHUNK record is present (not
					 * looked at when GCS_OPEN_STREAM reads
					 * a stream from its parts alone) */
	uint64_t raw_body_off;		/* file offset of its payload */
	bool have_zstd;			/* a ZCHUNK part holds it too */
	uint64_t zoff;			/* that ZCHUNK's offset */
	uint32_t zpart;			/* and part number */
};

size_t gcs_reader_n_chunks(const struct gcs_reader *r);
const struct gcs_chunk_info *gcs_reader_chunk(const struct gcs_reader *r,
					      size_t i);
/*
 * The payload of logical chunk @i, checked against its CRC. The pointer is
 * valid until the next call on @r. -EBADMSG: no valid copy (status LOST).
 */
int gcs_reader_chunk_data(struct gcs_reader *r, size_t i, const uint8_t **data,
			  uint32_t *len);

struct gcs_marker {
	uint64_t off;
	uint32_t code;
	uint32_t stream;
	int64_t t_ns;
	int64_t value;
};

struct gcs_gap {
	uint64_t off;
	uint32_t stream;
	uint32_t reason;
	uint64_t first_seq, last_seq;
	int64_t t_start_ns, t_end_ns;
};

struct gcs_clock_rec {
	uint64_t off;
	struct gcs_clock_sample s;
};

size_t gcs_reader_n_markers(const struct gcs_reader *r);
const struct gcs_marker *gcs_reader_marker(const struct gcs_reader *r, size_t i);
size_t gcs_reader_n_gaps(const struct gcs_reader *r);
const struct gcs_gap *gcs_reader_gap(const struct gcs_reader *r, size_t i);
size_t gcs_reader_n_clocks(const struct gcs_reader *r);
const struct gcs_clock_rec *gcs_reader_clock(const struct gcs_reader *r,
					     size_t i);

/*
 * A stretch below the durable mark (or anywhere in a closed file) that the
 * walk could not read: it starts at a record that failed its checks and ends
 * at the next offset whose record header, salted CRC included, checks out.
 */
#define GCS_COUNT_UNKNOWN	UINT32_MAX

struct gcs_lost_range {
	uint64_t off;
	uint64_t end;
	uint32_t n_records;		/* listed there by the index, or GCS_COUNT_UNKNOWN */
	uint32_t n_chunks;		/* of which CHUNK and ZCHUNK records */
};

size_t gcs_reader_n_lost_ranges(const struct gcs_reader *r);
const struct gcs_lost_range *gcs_reader_lost_range(const struct gcs_reader *r,
						   size_t i);
/* The index entries of every record in a lost range (only with an index). */
size_t gcs_reader_lost_records(const struct gcs_reader *r,
			       const struct gcs_index_entry **e);

/*
 * What is wrong with the file as read (gaitcap info's integrity list, qc's
 * integrity check): @fn gets each problem, @error false for a note that
 * loses nothing. @live: a capture still writes the file. Without
 * GCS_OPEN_VERIFY a chunk's data is checked when it is read, and a chunk
 * found lost then is counted once (n_lost, its stream's n_lost_chunks and
 * lost_records): the counts are complete once every stream was read.
 */
typedef void (*gcs_problem_fn)(void *ctx, bool error, const char *msg);
int gcs_reader_problems(const struct gcs_reader *r, bool live,
			gcs_problem_fn fn, void *ctx);

/* b - a for host times, saturated instead of overflowing. */
static inline int64_t gcs_ns_diff(int64_t b, int64_t a)
{
	int64_t d;

	if (__builtin_sub_overflow(b, a, &d))
		return b > a ? INT64_MAX : INT64_MIN;
	return d;
}

/*
 * Records of one stream (or GCS_STREAM_NONE: all), in file order. Opened
 * with GCS_OPEN_STREAM, all streams come from one scan: each stream's
 * records in its order, the streams interleaved chunk by chunk as their
 * raw records lie in the file (docs/session-format.md, 10.3).
 */
enum gcs_ts_source {
	GCS_TS_RECORD = 0,		/* carried by the record itself */
	GCS_TS_INTERPOLATED = 1,	/* spread over the chunk's host times */
};

struct gcs_record {
	const uint8_t *data;
	uint32_t len;
	uint32_t stream;
	uint64_t seq;			/* GCS_SEQ_UNKNOWN if not contiguous */
	int64_t t_ns;
	uint32_t ts_clock;		/* enum gcs_clock of t_ns */
	uint32_t ts_source;		/* enum gcs_ts_source */
	size_t chunk;			/* logical chunk index */
};

struct gcs_rec_iter {
	struct gcs_reader *r;
	uint32_t stream;
	size_t chunk;
	uint32_t pos;
	uint32_t idx;
	bool loaded;
	bool done;			/* GCS_OPEN_STREAM: the cursor ended */
	const uint8_t *buf;
	uint32_t len;
};

void gcs_rec_iter_init(struct gcs_rec_iter *it, struct gcs_reader *r,
		       uint32_t stream);
/*
 * 1: *@rec is the next record; 0: no more. -EBADMSG: a logical chunk is
 * lost or malformed and yields no record (rec->stream names its stream);
 * the next call goes on after it.
 * rec->data stays valid until the iterator moves to another chunk or
 * anything else reads chunk data from @r.
 */
int gcs_rec_iter_next(struct gcs_rec_iter *it, struct gcs_record *rec);

/* ---- Recovery ---------------------------------------------------------------- */

struct gcs_recover_report {
	bool changed;			/* the file was modified */
	uint32_t old_state;
	uint64_t old_size;
	uint64_t new_size;
	uint64_t valid_end;		/* end of the last record kept */
	uint64_t dropped;		/* bytes cut from the tail */
	uint64_t lost_durable;		/* of which below the durable mark */
	uint32_t tail;			/* enum gcs_tail, as found */
	uint64_t records;		/* records kept */
	uint64_t damaged;		/* damaged records kept (below the mark) */
	bool wrote_index;
	uint64_t reclaimed;		/* bytes of superseded raw data punched */
	/* salvage: what damage cost (format doc section 9) */
	uint64_t lost_ranges;		/* stretches stepped over (4.5) */
	uint64_t lost_bytes;
	uint64_t lost_records;		/* records the index lists there */
	bool lost_records_known;	/* false: no index named them */
	uint64_t lost_chunks;		/* logical chunks with no valid copy */
	uint64_t lost_stream_records;	/* stream records lost to damage */
	bool refused;			/* in place would cut below the mark */
	bool wrote_copy;		/* the salvaged copy was written */
	bool copy_failed;		/* the error was writing that copy */
	int waited_ms;			/* waited for a dead writer's lock */
};

/* Did the damage cost anything? (Then tools exit non-zero.) */
static inline bool gcs_recover_lost(const struct gcs_recover_report *rep)
{
	return rep->lost_durable || rep->damaged || rep->lost_ranges ||
	       rep->lost_chunks || rep->lost_stream_records;
}

struct gcs_recover_opts {
	/*
	 * Write the salvaged session to this new file (never overwritten) and
	 * leave the original alone; NULL repairs in place.
	 */
	const char *out;
	/* In place even where that cuts a closed file or below the durable mark. */
	bool force;
	/* Longest wait for the lock of a writer that is already dead (ms). */
	int dead_wait_ms;
};

/*
 * Repair the tail of a session file in place: cut it after the last valid
 * record, write an index and mark it RECOVERED, all durable. Refuses with
 * -EBUSY while a live writer holds the file; a dead writer's lock (a killed
 * capture whose io_uring the kernel has not torn down yet) is waited for.
 * Refuses with -GCS_ECORRUPT, changing nothing, where the cut would fall
 * below the durable mark or into a closed file (rep says what is lost).
 * Running it again changes nothing.
 */
int gcs_recover(const char *path, struct gcs_recover_report *rep);
/*
 * Is a live process writing @path? True while a writer holds its lock and
 * is not dead (a killed capture's lock lingers until its io_uring is gone).
 */
bool gcs_file_live_writer(const char *path);

/* The same with options: salvage into a new file, or force the cut. */
int gcs_recover_opts(const char *path, const struct gcs_recover_opts *o,
		     struct gcs_recover_report *rep);

#endif /* GCSESSION_H */
