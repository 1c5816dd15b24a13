// SPDX-License-Identifier: GPL-2.0
/*
 * GCS_OPEN_STREAM (refine's reader, memory flat with the session's length)
 * against the full chunk table: the same file facts, the same stream
 * statistics and the same records, on clean, compacted, reclaimed, crashed
 * and damaged files; a file out of the order it needs falls back to the
 * full table, and a clean one never does.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "gaitcap/gaitcap.h"
#include "session/gcs_format.h"
#include "test_session_util.h"

#define CMP(field) do {							\
	if (a->field != b->field)					\
		fail_msg("%s: " #field " %lld (full) != %lld (stream)",	\
			 what, (long long)a->field, (long long)b->field); \
} while (0)

static void same_info(const char *what, const struct gcs_file_info *a,
		      const struct gcs_file_info *b)
{
	CMP(used_index);
	CMP(valid_end);
	CMP(tail);
	CMP(n_records);
	for (int i = 0; i < 8; i++)
		CMP(n_by_type[i]);
	CMP(n_pad);
	CMP(n_unknown);
	CMP(n_damaged);
	CMP(n_conflicts);
	CMP(n_orphan_parts);
	CMP(n_lost);
	CMP(raw_bytes);
	CMP(stored_bytes);
	CMP(raw_stored);
	CMP(zstd_stored);
	CMP(t_first_ns);
	CMP(t_last_ns);
	CMP(duration_ns);
	CMP(meta_policy_ok);
	CMP(n_lost_ranges);
	CMP(lost_bytes);
	CMP(n_lost_records);
	CMP(lost_records_known);
}

static void same_stream(const char *what, const struct gcs_stream_info *a,
			const struct gcs_stream_info *b)
{
	CMP(id);
	CMP(n_chunks);
	CMP(n_records);
	CMP(raw_bytes);
	CMP(first_seq);
	CMP(last_seq);
	CMP(t_first_ns);
	CMP(t_last_ns);
	CMP(n_gaps);
	CMP(gap_records);
	CMP(n_discont);
	CMP(n_unexplained);
	CMP(n_bad_chunks);
	CMP(lost_records);
	CMP(n_lost_chunks);
}

/* FNV-1a over what a reader hands out for one record (or one refusal). */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

#define FNV_BASIS	0xcbf29ce484222325ull
#define MAX_STREAMS	8

/* One answer of an iterator (a record, or a refusal) into @h. */
static uint64_t mix_answer(uint64_t h, struct gcs_reader *r, int ret,
			   const struct gcs_record *rec)
{
	const struct gcs_chunk_info *c;

	h = mix(h, &ret, sizeof(ret));
	if (ret < 0)
		return h;
	c = gcs_reader_chunk(r, rec->chunk);
	assert_non_null(c);
	h = mix(h, &c->orig_off, sizeof(c->orig_off));
	h = mix(h, &c->t_first_ns, sizeof(c->t_first_ns));
	h = mix(h, &rec->stream, sizeof(rec->stream));
	h = mix(h, &rec->seq, sizeof(rec->seq));
	h = mix(h, &rec->t_ns, sizeof(rec->t_ns));
	h = mix(h, &rec->ts_clock, sizeof(rec->ts_clock));
	h = mix(h, &rec->ts_source, sizeof(rec->ts_source));
	h = mix(h, &rec->len, sizeof(rec->len));
	return mix(h, rec->data, rec->len);
}

/*
 * Every stream's records, one stream after the other, as refine's events
 * pass reads them: a digest per stream of every answer (records, refusals
 * and the chunk each record came from), and the count of records.
 */
static void digest(struct gcs_reader *r, uint64_t *h, long *n, long *lost)
{
	*n = 0;
	*lost = 0;
	assert_true(gcs_reader_n_streams(r) <= MAX_STREAMS);
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		struct gcs_rec_iter it;
		struct gcs_record rec;
		int ret;

		h[i] = FNV_BASIS;
		gcs_rec_iter_init(&it, r, gcs_reader_stream(r, i)->id);
		while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
			const struct gcs_chunk_info *c = gcs_reader_chunk(r, rec.chunk);

			h[i] = mix_answer(h[i], r, ret, &rec);
			*n += ret > 0;
			*lost += ret < 0 && c && c->status == GCS_CHUNK_LOST;
		}
	}
}

/*
 * The same from one iterator over all streams, as refine's calibration
 * reads them: each answer goes to the digest of the stream it names (a
 * lost chunk too); chunks of undeclared streams are nobody's.
 */
static void digest_all(struct gcs_reader *r, uint64_t *h, long *n)
{
	struct gcs_rec_iter it;
	struct gcs_record rec;
	size_t ns = gcs_reader_n_streams(r);
	int ret;

	*n = 0;
	for (size_t i = 0; i < ns; i++)
		h[i] = FNV_BASIS;
	gcs_rec_iter_init(&it, r, GCS_STREAM_NONE);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
		size_t i = 0;

		assert_int_not_equal(ret, -EINVAL);
		while (i < ns && gcs_reader_stream(r, i)->id != rec.stream)
			i++;
		if (i == ns)
			continue;
		h[i] = mix_answer(h[i], r, ret, &rec);
		*n += ret > 0;
	}
}

/*
 * The chunks found lost by reading, in the counts a GCS_OPEN_VERIFY open
 * fills: each of the @lost met at least, each once however often read.
 */
static void lost_counted(const char *what, struct gcs_reader *r, long lost,
			 uint64_t before)
{
	uint64_t n = gcs_reader_info(r)->n_lost, chunks = 0, records = 0;

	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		chunks += gcs_reader_stream(r, i)->n_lost_chunks;
		records += gcs_reader_stream(r, i)->lost_records;
	}
	if (n < (uint64_t)lost || n - before > (uint64_t)lost ||
	    chunks < (uint64_t)lost || (lost && !records))
		fail_msg("%s: %ld chunks met lost, n_lost %llu (%llu at open), "
			 "streams' lost chunks %llu, records %llu", what, lost,
			 (unsigned long long)n, (unsigned long long)before,
			 (unsigned long long)chunks, (unsigned long long)records);
}

/*
 * Open @path both ways (with @flags added) and compare everything, before
 * and after reading; returns whether the streaming open really streamed.
 */
static bool compare(const char *what, const char *path, unsigned int flags)
{
	struct gcs_reader *full, *st;
	uint64_t hf[MAX_STREAMS], hs[MAX_STREAMS];
	uint64_t af[MAX_STREAMS], as[MAX_STREAMS], lost_open;
	long nf, ns, naf, nas, lf, ls;
	int rf, rs;
	bool streamed;

	rf = gcs_reader_open(&full, path, flags);
	rs = gcs_reader_open(&st, path, flags | GCS_OPEN_STREAM);
	if (rf != rs)
		fail_msg("%s: open %d (full) != %d (stream)", what, rf, rs);
	if (rf)
		return false;
	assert_false(gcs_reader_info(full)->streamed);
	streamed = gcs_reader_info(st)->streamed;
	same_info(what, gcs_reader_info(full), gcs_reader_info(st));
	assert_int_equal(gcs_reader_n_streams(full), gcs_reader_n_streams(st));
	for (size_t i = 0; i < gcs_reader_n_streams(full); i++)
		same_stream(what, gcs_reader_stream(full, i), gcs_reader_stream(st, i));
	assert_int_equal(gcs_reader_n_chunks(full), gcs_reader_n_chunks(st));
	lost_open = gcs_reader_info(full)->n_lost;
	digest(full, hf, &nf, &lf);
	digest(st, hs, &ns, &ls);
	if (nf != ns || memcmp(hf, hs, gcs_reader_n_streams(st) * sizeof(*hf)))
		fail_msg("%s: %ld records (full) and %ld (stream) differ", what, nf, ns);
	lost_counted(what, full, lf, lost_open);
	lost_counted(what, st, ls, lost_open);
	/* All streams at once: each stream's answers as it alone gives them. */
	digest_all(full, af, &naf);
	digest_all(st, as, &nas);
	if (naf != nf || memcmp(af, hf, gcs_reader_n_streams(st) * sizeof(*hf)))
		fail_msg("%s: all streams at once (full) differ from one by one", what);
	if (nas != nf || memcmp(as, hf, gcs_reader_n_streams(st) * sizeof(*hf)))
		fail_msg("%s: all streams at once (stream) differ from one by one", what);
	/* Read twice, counted once: still the same both ways. */
	lost_counted(what, st, ls, lost_open);
	same_info(what, gcs_reader_info(full), gcs_reader_info(st));
	for (size_t i = 0; i < gcs_reader_n_streams(full); i++)
		same_stream(what, gcs_reader_stream(full, i), gcs_reader_stream(st, i));
	gcs_reader_close(full);
	gcs_reader_close(st);
	return streamed;
}

/* The small session, raw, compacted (reclaimed or not), closed or crashed. */
static void test_stream_same_as_full(void **state)
{
	struct tu_dir *d = *state;
	char *p = tu_path(d->dir, "small.gcs");

	for (int v = 0; v < 6; v++) {
		struct gcs_writer_opts o;
		char what[64];

		gcs_writer_opts_init(&o);
		o.no_compact = v % 3 == 0;
		o.no_reclaim = v % 3 == 1;
		unlink(p);
		assert_int_equal(tu_small_session(p, &o, v < 3), 0);
		snprintf(what, sizeof(what), "variant %d", v);
		assert_true(compare(what, p, 0));
		if (v < 3)
			assert_true(compare(what, p, GCS_OPEN_USE_INDEX));
	}
	free(p);
}

/*
 * Every record header, then every record body, of the compacted and the
 * raw small session damaged in turn: whatever the damage, streaming gives
 * what the full table gives (falling back where it must).
 */
static void each_damage(struct tu_dir *d, bool compact, bool body,
			unsigned int *streamed, unsigned int *total)
{
	char *p = tu_path(d->dir, "dmg.gcs");
	struct gcs_writer_opts o;
	uint64_t offs[512];
	uint8_t *img;
	size_t len, n;

	gcs_writer_opts_init(&o);
	o.no_compact = !compact;
	unlink(p);
	assert_int_equal(tu_small_session(p, &o, true), 0);
	assert_int_equal(tu_read_file(p, &img, &len), 0);
	n = tu_record_offsets(img, len, offs, 512);
	for (size_t i = 0; i < n; i++) {
		struct gcs_rec_hdr h;
		uint8_t *at;
		char what[96];

		memcpy(&h, img + offs[i], sizeof(h));
		if (body && !h.body_len)
			continue;
		at = body ? img + offs[i] + h.hdr_len + h.body_len / 2 :
			    img + offs[i] + offsetof(struct gcs_rec_hdr, hdr_crc);
		*at ^= 0x80;
		unlink(p);
		assert_int_equal(tu_write_file(p, img, len), 0);
		snprintf(what, sizeof(what), "%s, %s of record %zu (type %#x)",
			 compact ? "compacted" : "raw", body ? "body" : "header",
			 i, h.type);
		*streamed += compare(what, p, 0);
		compare(what, p, GCS_OPEN_USE_INDEX);
		++*total;
		*at ^= 0x80;
	}
	free(img);
	free(p);
}

static void test_stream_damaged(void **state)
{
	unsigned int streamed = 0, total = 0;

	for (int v = 0; v < 4; v++)
		each_damage(*state, v & 1, v & 2, &streamed, &total);
	/* Most damage leaves the order intact: streaming must still stream. */
	print_message("# %u of %u damaged files streamed\n", streamed, total);
	assert_true(streamed > total / 2);
}

/* gaitcap synth's session: mat and insoles, compacted and reclaimed. */
static void test_stream_synth(void **state)
{
	struct tu_cmd *f = *state;
	char *p = tu_path(f->dir, "synth.gcs");

	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--quiet", "--no-truth",
				    "--seconds", "20", "--tiles", "1", "--rows", "16",
				    "--cols", "16", p, NULL), 0);
	assert_true(compare("synth", p, 0));
	assert_true(compare("synth, index", p, GCS_OPEN_USE_INDEX));
	free(p);
}

/*
 * A compressed part that contradicts its raw chunk: the full table counts
 * a conflict and keeps the raw chunk; streaming cannot merge in order and
 * must fall back rather than hand out something else.
 */
static void test_stream_falls_back(void **state)
{
	struct tu_dir *d = *state;
	char *p = tu_path(d->dir, "conflict.gcs");
	struct gcs_writer_opts o;
	struct gcs_reader *r;
	uint64_t offs[512];
	uint8_t *img;
	size_t len, n, i;

	gcs_writer_opts_init(&o);
	o.no_reclaim = true;
	unlink(p);
	assert_int_equal(tu_small_session(p, &o, true), 0);
	assert_int_equal(tu_read_file(p, &img, &len), 0);
	n = tu_record_offsets(img, len, offs, 512);
	for (i = 0; i < n; i++) {
		struct gcs_rec_hdr h;

		memcpy(&h, img + offs[i], sizeof(h));
		if (h.type == GCS_REC_ZCHUNK)
			break;
	}
	assert_true(i < n);
	/* Its first part's checksum, changed and sealed again. */
	img[offs[i] + GCS_ZCHUNK_HDR_LEN(0) + offsetof(struct gcs_zpart, raw_crc)] ^= 1;
	tu_fix_record(img, len, offs[i]);
	unlink(p);
	assert_int_equal(tu_write_file(p, img, len), 0);
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_STREAM), 0);
	assert_true(gcs_reader_info(r)->n_conflicts > 0);
	gcs_reader_close(r);
	assert_false(compare("conflicting part", p, 0));
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_STREAM), 0);
	gcs_reader_close(r);
	free(img);
	free(p);
}

/*
 * A stream whose every chunk the open found as a raw chunk and a part that
 * agree is read from its parts alone, and so are all streams at once when
 * all are: the raw headers, damaged after the open, are never read again,
 * and every record still comes.
 */
static void test_stream_parts_only(void **state)
{
	struct tu_dir *d = *state;
	char *p = tu_path(d->dir, "paired.gcs");
	struct gcs_writer_opts o;
	struct gcs_reader *full, *st;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	long n_full = 0, n_st = 0, n_all = 0, n_st_all = 0;
	int fd, ret;

	gcs_writer_opts_init(&o);
	o.no_reclaim = true;	/* the raw copies stay whole: only headers go */
	unlink(p);
	assert_int_equal(tu_small_session(p, &o, true), 0);
	assert_int_equal(gcs_reader_open(&full, p, 0), 0);
	assert_int_equal(gcs_reader_open(&st, p, GCS_OPEN_STREAM), 0);
	assert_true(gcs_reader_info(st)->streamed);
	gcs_rec_iter_init(&it, full, GCS_STREAM_NONE);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
		assert_int_equal(ret, 1);
		n_all++;
		n_full += rec.stream == 0;
	}
	fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	for (size_t i = 0; i < gcs_reader_n_chunks(full); i++) {
		const struct gcs_chunk_info *c = gcs_reader_chunk(full, i);
		uint8_t b;

		assert_true(c->have_raw && c->have_zstd);
		/* A byte of the header's CRC: the record no longer reads. */
		assert_int_equal(pread(fd, &b, 1, (off_t)c->orig_off + 28), 1);
		b ^= 0xff;
		assert_int_equal(pwrite(fd, &b, 1, (off_t)c->orig_off + 28), 1);
	}
	close(fd);
	gcs_rec_iter_init(&it, st, 0);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
		assert_int_equal(ret, 1);
		n_st++;
	}
	assert_true(n_full > 0);
	assert_int_equal(n_st, n_full);
	gcs_rec_iter_init(&it, st, GCS_STREAM_NONE);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
		assert_int_equal(ret, 1);
		n_st_all++;
	}
	assert_true(n_all > n_full);
	assert_int_equal(n_st_all, n_all);
	gcs_reader_close(full);
	gcs_reader_close(st);
	free(p);
}

/* Every XXH64 the library computes passes here (-Wl,--wrap=XXH64). */
static unsigned long n_xxh64;
XXH64_hash_t __real_XXH64(const void *input, size_t len, XXH64_hash_t seed);
XXH64_hash_t __wrap_XXH64(const void *input, size_t len, XXH64_hash_t seed);

XXH64_hash_t __wrap_XXH64(const void *input, size_t len, XXH64_hash_t seed)
{
	n_xxh64++;
	return __real_XXH64(input, len, seed);
}

/* Sums computed by a pass over stream 0; its record count in *@n. */
static unsigned long sums_of_pass(struct gcs_reader *r, long *n)
{
	struct gcs_rec_iter it;
	struct gcs_record rec;
	unsigned long before = n_xxh64;
	int ret;

	*n = 0;
	gcs_rec_iter_init(&it, r, 0);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
		assert_int_equal(ret, 1);
		++*n;
	}
	return n_xxh64 - before;
}

/*
 * A ZCHUNK whose parts all checked out is not checked part by part again
 * when read again (its body still is): each of the two passes refine makes
 * checks every byte once, not twice. Both open modes.
 */
static void test_stream_parts_checked_once(void **state)
{
	struct tu_dir *d = *state;
	char *p = tu_path(d->dir, "twice.gcs");
	struct gcs_writer_opts o;

	gcs_writer_opts_init(&o);
	unlink(p);
	assert_int_equal(tu_small_session(p, &o, true), 0);
	for (int mode = 0; mode < 2; mode++) {
		struct gcs_reader *r, *full;
		unsigned long first, second;
		long n1, n2, chunks = 0;

		assert_int_equal(gcs_reader_open(&full, p, 0), 0);
		for (size_t i = 0; i < gcs_reader_n_chunks(full); i++) {
			const struct gcs_chunk_info *c = gcs_reader_chunk(full, i);

			assert_true(c->stream != 0 || c->have_zstd);
			chunks += c->stream == 0;
		}
		gcs_reader_close(full);
		assert_int_equal(gcs_reader_open(&r, p, mode ? GCS_OPEN_STREAM : 0), 0);
		first = sums_of_pass(r, &n1);
		second = sums_of_pass(r, &n2);
		assert_int_equal(n1, n2);
		/*
		 * The first pass sums the bodies it loads and every part; the
		 * second only the bodies, fewer than the chunks they hold.
		 */
		assert_true(first >= (unsigned long)chunks);
		assert_true(second < (unsigned long)chunks);
		gcs_reader_close(r);
	}
	free(p);
}

/* One iterator at a time: a second one takes the cursor, the first stops. */
static void test_stream_one_iterator(void **state)
{
	struct tu_dir *d = *state;
	char *p = tu_path(d->dir, "two.gcs");
	struct gcs_writer_opts o;
	struct gcs_rec_iter a, b;
	struct gcs_record rec;
	struct gcs_reader *r;

	gcs_writer_opts_init(&o);
	unlink(p);
	assert_int_equal(tu_small_session(p, &o, true), 0);
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_STREAM), 0);
	assert_true(gcs_reader_info(r)->streamed);
	gcs_rec_iter_init(&a, r, 0);
	assert_int_equal(gcs_rec_iter_next(&a, &rec), 1);
	assert_non_null(gcs_reader_chunk(r, rec.chunk));
	gcs_rec_iter_init(&b, r, 1);
	assert_int_equal(gcs_rec_iter_next(&b, &rec), 1);
	assert_int_equal(rec.stream, 1);
	/* a's chunk is no longer at hand; a says so once, then ends. */
	assert_int_equal(gcs_rec_iter_next(&a, &rec), -EINVAL);
	assert_int_equal(gcs_rec_iter_next(&a, &rec), 0);
	assert_int_equal(gcs_rec_iter_next(&b, &rec), 1);
	assert_int_equal(rec.stream, 1);
	/* All streams from one scan: it takes the cursor like any other. */
	gcs_rec_iter_init(&a, r, GCS_STREAM_NONE);
	assert_int_equal(gcs_rec_iter_next(&a, &rec), 1);
	assert_non_null(gcs_reader_chunk(r, rec.chunk));
	assert_int_equal(gcs_rec_iter_next(&b, &rec), -EINVAL);
	gcs_rec_iter_init(&b, r, 1);
	assert_int_equal(gcs_rec_iter_next(&b, &rec), 1);
	assert_int_equal(gcs_rec_iter_next(&a, &rec), -EINVAL);
	assert_int_equal(gcs_rec_iter_next(&a, &rec), 0);
	gcs_reader_close(r);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stream_same_as_full,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_stream_damaged,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_stream_synth,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_stream_falls_back,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_stream_parts_checked_once,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_stream_parts_only,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_stream_one_iterator,
						tu_dir_setup, tu_dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
