// SPDX-License-Identifier: GPL-2.0
/*
 * The session format: CRC-32C, round trips through writer and reader, the
 * metadata policy, and every class of corruption the reader must reject.
 * Files come from the real writer; corruptions are forged on their bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "session/gcs_internal.h"
#include "test_session_util.h"

struct fixture {
	char *dir;
	uint8_t *plain;		/* closed, no compaction */
	size_t plain_len;
	uint8_t *packed;	/* closed, compacted and reclaimed */
	size_t packed_len;
	uint8_t *crashed;	/* writer dropped: state OPEN */
	size_t crashed_len;
};

TU_DIR_FIRST(struct fixture);

static int make_image(const char *dir, const char *name, bool compact,
		      bool close_it, uint8_t **buf, size_t *len)
{
	struct gcs_writer_opts o;
	char *p = tu_path(dir, name);
	int ret;

	gcs_writer_opts_init(&o);
	o.grow_step = 1 << 20;
	o.tail_reserve = 64 << 10;
	o.no_compact = !compact;
	ret = tu_small_session(p, &o, close_it);
	if (!ret)
		ret = tu_read_file(p, buf, len);
	free(p);
	return ret;
}

static int setup(void **state)
{
	struct fixture *f = tu_dir_fixture_new(sizeof(*f));

	if (!f)
		return -1;
	if (make_image(f->dir, "plain", false, true, &f->plain, &f->plain_len) ||
	    make_image(f->dir, "packed", true, true, &f->packed, &f->packed_len) ||
	    make_image(f->dir, "crashed", true, false, &f->crashed,
		       &f->crashed_len))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->plain);
	free(f->packed);
	free(f->crashed);
	tu_dir_fixture_free(f);
	return 0;
}

/* Records the small session holds: 4+4+130+3+1 fixed, 3+5+2 variable. */
#define SMALL_RECORDS	152
#define SMALL_CHUNKS	8

/* ---- CRC ------------------------------------------------------------------ */

static void test_session_crc32c_vectors(void **state)
{
	uint8_t buf[32], big[4099];

	/* RFC 3720 B.4 and the usual check value. */
	assert_int_equal(gcs_crc32c(0, "123456789", 9), 0xe3069283);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(gcs_crc32c(0, buf, 32), 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(gcs_crc32c(0, buf, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(gcs_crc32c(0, buf, 32), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(gcs_crc32c(0, buf, 32), 0x113fdb5c);

	/* Hardware and portable paths agree at every length and alignment. */
	srand(7);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)rand();
	for (size_t off = 0; off < 9; off++) {
		for (size_t len = 0; len + off <= sizeof(big); len += 37) {
			uint32_t a = gcs_crc32c(0, big + off, len);

			assert_int_equal(a, gcs_crc32c_sw(0, big + off, len));
			/* Chaining equals one pass. */
			assert_int_equal(a, gcs_crc32c(gcs_crc32c(0, big + off, len / 3),
						       big + off + len / 3,
						       len - len / 3));
		}
	}
}

/* ---- Round trips ------------------------------------------------------------ */

static struct gcs_reader *open_img(const uint8_t *buf, size_t len,
				   unsigned int flags)
{
	struct gcs_reader *r = NULL;

	assert_int_equal(gcs_reader_open_mem(&r, buf, len, flags), 0);
	return r;
}

static void check_small(struct gcs_reader *r, bool closed)
{
	const struct gcs_file_info *fi = gcs_reader_info(r);
	const struct gcs_stream_info *s0, *s1;
	size_t lost;

	assert_int_equal(tu_check_records(r, &lost), SMALL_RECORDS);
	assert_int_equal(lost, 0);
	assert_int_equal(gcs_reader_n_chunks(r), SMALL_CHUNKS);
	assert_int_equal(gcs_reader_n_streams(r), 2);
	s0 = gcs_reader_stream_by_id(r, 0);
	s1 = gcs_reader_stream_by_id(r, 1);
	assert_non_null(s0);
	assert_non_null(s1);
	assert_int_equal(s0->n_records, 142);
	assert_int_equal(s0->first_seq, 0);
	assert_int_equal(s0->last_seq, 143);
	assert_int_equal(s0->n_discont, 1);
	assert_int_equal(s0->n_unexplained, 0);	/* the gap record covers it */
	assert_int_equal(s0->n_gaps, 1);
	assert_int_equal(s0->gap_records, 2);
	assert_int_equal(s1->n_records, 10);
	assert_int_equal(s1->record_size, 0);
	assert_int_equal(fi->n_damaged, 0);
	assert_int_equal(fi->n_lost, 0);
	assert_int_equal(fi->n_conflicts, 0);
	assert_int_equal(fi->n_orphan_parts, 0);
	assert_true(fi->meta_policy_ok);
	assert_int_equal(fi->slots_valid, 3);
	assert_int_equal(fi->raw_bytes, 142 * TU_FIXED_SIZE + s1->raw_bytes);
	if (closed) {
		assert_int_equal(fi->state, GCS_STATE_CLOSED);
		assert_int_equal(fi->tail, GCS_TAIL_CLEAN);
		assert_int_equal(fi->valid_end, fi->file_size);
		assert_int_equal(fi->end_off, fi->file_size);
		assert_int_equal(fi->durable_end, fi->file_size);
	} else {
		assert_int_equal(fi->state, GCS_STATE_OPEN);
		assert_int_equal(fi->tail, GCS_TAIL_UNCOMMITTED);
	}
}

/* Not a file: refused at once, a FIFO with no writer included (no hang). */
static void test_session_open_not_a_file(void **state)
{
	struct fixture *f = *state;
	char *fifo = tu_path(f->dir, "fifo");
	struct gcs_reader *r;

	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(gcs_reader_open(&r, fifo, 0), -GCS_ENOTFILE);
	assert_null(r);
	assert_non_null(strstr(gcs_strerror(-GCS_ENOTFILE), "not a regular file"));
	assert_int_equal(gcs_reader_open(&r, f->dir, 0), -EISDIR);
	assert_int_equal(gcs_reader_open(&r, "/dev/null", 0), -GCS_ENOTFILE);
	assert_false(gcs_file_live_writer(fifo));
	unlink(fifo);
	free(fifo);
}

static void test_session_roundtrip_closed(void **state)
{
	struct fixture *f = *state;
	static const unsigned int modes[] = {
		0, GCS_OPEN_VERIFY, GCS_OPEN_USE_INDEX,
		GCS_OPEN_USE_INDEX | GCS_OPEN_VERIFY,
	};

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct gcs_reader *r = open_img(f->plain, f->plain_len, modes[m]);

		check_small(r, true);
		assert_int_equal(gcs_reader_info(r)->used_index,
				 !!(modes[m] & GCS_OPEN_USE_INDEX));
		assert_int_equal(gcs_reader_info(r)->n_by_type[3], 0);
		gcs_reader_close(r);
	}
}

static void test_session_roundtrip_compacted(void **state)
{
	struct fixture *f = *state;
	struct gcs_reader *r;
	uint64_t big_payload = 0;
	bool punched = true;

	for (unsigned int m = 0; m < 4; m++) {
		r = open_img(f->packed, f->packed_len, m);
		check_small(r, true);
		assert_int_equal(gcs_reader_info(r)->n_by_type[3], 2);
		for (size_t i = 0; i < gcs_reader_n_chunks(r); i++) {
			const struct gcs_chunk_info *c = gcs_reader_chunk(r, i);

			assert_true(c->have_zstd);
			if (c->n_records == 130 && c->have_raw)
				big_payload = c->raw_body_off;
		}
		assert_true(gcs_reader_info(r)->zstd_stored <
			    gcs_reader_info(r)->raw_bytes / 4);
		gcs_reader_close(r);
	}
	/* The big raw chunk's interior pages were punched to zeros... */
	assert_true(big_payload > 0);
	for (uint64_t o = (big_payload + 4095) / 4096 * 4096;
	     o < (big_payload + 4095) / 4096 * 4096 + 4096; o++)
		punched &= f->packed[o] == 0;
	assert_true(punched);
	/* ...and the same bytes in the uncompacted file hold data. */
	assert_int_equal(f->plain_len < f->packed_len + 65536, true);
}

/*
 * Body sums (4.1): files written now carry XXH64 ones and say so with an
 * incompat bit; a file without the bit (as written before 0.2) has CRC-32C
 * bodies and still reads. The same bytes resealed the old way read the same,
 * and each kind of file refuses the other kind's sums.
 */
static void test_session_body_sums_both_kinds(void **state)
{
	struct fixture *f = *state;
	static const char hello[] = "123456789";
	uint8_t *old = malloc(f->plain_len);
	uint64_t offs[512];
	struct gcs_reader *r;
	size_t n;

	/* XXH64 of nothing (the spec's value) and of "123456789", seed 0;
	 * gcs_body_sum keeps the low 32 bits. */
	assert_int_equal(gcs_body_sum(GCS_INCOMPAT_BODY_XXH64, 0, hello, 0),
			 (uint32_t)0xef46db3751d8e999ull);
	assert_int_equal(gcs_body_sum(GCS_INCOMPAT_BODY_XXH64, 0, hello, 9),
			 (uint32_t)0x8cb841db40e6ae83ull);
	assert_int_not_equal(gcs_body_sum(GCS_INCOMPAT_BODY_XXH64, 1, hello, 9),
			     gcs_body_sum(GCS_INCOMPAT_BODY_XXH64, 0, hello, 9));
	/* Without the bit: CRC-32C seeded with the salt's CRC-32C. */
	{
		uint64_t salt = 0x0123456789abcdefull;
		uint32_t seed = gcs_crc32c(0, &salt, sizeof(salt));

		assert_int_equal(gcs_body_sum(0, salt, hello, 9),
				 gcs_crc32c(seed, hello, 9));
	}

	r = open_img(f->plain, f->plain_len, GCS_OPEN_VERIFY);
	assert_int_equal(gcs_reader_info(r)->incompat, GCS_INCOMPAT_BODY_XXH64);
	gcs_reader_close(r);

	/* Reseal every record with CRC-32C bodies and clear the bit. */
	assert_non_null(old);
	memcpy(old, f->plain, f->plain_len);
	for (int i = 0; i < GCS_HDR_SLOTS; i++) {
		struct gcs_disk_header h;

		memcpy(&h, old + i * GCS_BLOCK, sizeof(h));
		h.incompat = 0;
		memcpy(old + i * GCS_BLOCK, &h, sizeof(h));
		tu_fix_slot(old, i);
	}
	/* Before the records are resealed, no chunk body passes its sum. */
	r = open_img(old, f->plain_len, GCS_OPEN_VERIFY);
	for (size_t i = 0; i < gcs_reader_n_chunks(r); i++) {
		const uint8_t *d;
		uint32_t len;

		assert_int_not_equal(gcs_reader_chunk_data(r, i, &d, &len), 0);
	}
	gcs_reader_close(r);
	n = tu_record_offsets(old, f->plain_len, offs, 512);
	assert_true(n > SMALL_CHUNKS);
	for (size_t i = 0; i < n; i++)
		tu_fix_record(old, f->plain_len, offs[i]);
	for (unsigned int m = 0; m < 4; m++) {
		r = open_img(old, f->plain_len, m);
		assert_int_equal(gcs_reader_info(r)->incompat, 0);
		check_small(r, true);
		gcs_reader_close(r);
	}

	/*
	 * An old file whose writer died: no INDEX, state OPEN. Recovery adds
	 * an INDEX summed the file's way (CRC-32C), which a reader then uses.
	 */
	{
		struct gcs_recover_report rep;
		struct gcs_rec_hdr last;
		char *p = tu_path(f->dir, "old-crashed");
		uint8_t *back;
		size_t back_len;

		memcpy(&last, old + offs[n - 1], sizeof(last));
		assert_int_equal(last.type, GCS_REC_INDEX);
		memset(old + offs[n - 1], 0, f->plain_len - offs[n - 1]);
		for (int i = 0; i < GCS_HDR_SLOTS; i++) {
			struct gcs_disk_header h;

			memcpy(&h, old + i * GCS_BLOCK, sizeof(h));
			h.state = GCS_STATE_OPEN;
			h.end_off = 0;
			h.index_off = 0;
			if (h.durable_end > offs[n - 1])
				h.durable_end = offs[n - 1];
			memcpy(old + i * GCS_BLOCK, &h, sizeof(h));
			tu_fix_slot(old, i);
		}
		assert_int_equal(tu_write_file(p, old, f->plain_len), 0);
		assert_int_equal(gcs_recover(p, &rep), 0);
		assert_int_equal(tu_read_file(p, &back, &back_len), 0);
		r = open_img(back, back_len, GCS_OPEN_VERIFY | GCS_OPEN_USE_INDEX);
		assert_int_equal(gcs_reader_info(r)->incompat, 0);
		assert_int_equal(gcs_reader_info(r)->state, GCS_STATE_RECOVERED);
		assert_true(gcs_reader_info(r)->used_index);
		assert_int_equal(gcs_reader_n_chunks(r), SMALL_CHUNKS);
		assert_int_equal(gcs_reader_info(r)->n_damaged, 0);
		gcs_reader_close(r);
		free(back);
		free(p);
	}
	free(old);
}

static void test_session_roundtrip_crashed(void **state)
{
	struct fixture *f = *state;
	struct gcs_reader *r = open_img(f->crashed, f->crashed_len,
					GCS_OPEN_VERIFY | GCS_OPEN_USE_INDEX);

	/* A writer that died: everything committed is there, index or not. */
	check_small(r, false);
	assert_false(gcs_reader_info(r)->used_index);
	assert_true(gcs_reader_info(r)->durable_end < gcs_reader_info(r)->valid_end);
	gcs_reader_close(r);
}

static void test_session_events_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct gcs_reader *r = open_img(f->plain, f->plain_len, GCS_OPEN_VERIFY);
	const struct gcs_marker *m;
	const struct gcs_gap *g;
	const struct gcs_clock_rec *c;

	assert_int_equal(gcs_reader_n_markers(r), 3);	/* + SESSION_END */
	m = gcs_reader_marker(r, 0);
	assert_int_equal(m->code, GCS_MARK_SESSION_START);
	assert_int_equal(m->stream, GCS_STREAM_NONE);
	assert_int_equal(m->t_ns, TU_T0);
	m = gcs_reader_marker(r, 1);
	assert_int_equal(m->code, GCS_MARK_EVENT);
	assert_int_equal(m->stream, 1);
	assert_int_equal(m->t_ns, tu_t(144));
	assert_int_equal(m->value, 42);
	m = gcs_reader_marker(r, 2);
	assert_int_equal(m->code, GCS_MARK_SESSION_END);
	assert_int_equal(m->value, 0);

	assert_int_equal(gcs_reader_n_gaps(r), 1);
	g = gcs_reader_gap(r, 0);
	assert_int_equal(g->stream, 0);
	assert_int_equal(g->reason, GCS_GAP_DEVICE_OVERFLOW);
	assert_int_equal(g->first_seq, 138);
	assert_int_equal(g->last_seq, 139);
	assert_int_equal(g->t_start_ns, tu_t(138));
	assert_int_equal(g->t_end_ns, tu_t(140));

	assert_int_equal(gcs_reader_n_clocks(r), 1);
	c = gcs_reader_clock(r, 0);
	assert_int_equal(c->s.stream, 0);
	assert_int_equal(c->s.flags, GCS_CLOCKREC_F_DEVICE);
	assert_int_equal(c->s.device_ns, 5);
	assert_int_equal(c->s.mono_ns, TU_T0);
	assert_int_equal(c->s.real_ns, 1700000000ll * 1000000000ll);
	assert_int_equal(c->s.boot_ns, TU_T0 + 7);
	assert_int_equal(c->s.uncertainty_ns, 1000);

	/* Metadata comes back in its checked, compact form. */
	assert_non_null(strstr(gcs_reader_meta(r), "\"subject\":\"T-0001\""));
	assert_non_null(strstr(gcs_reader_stream_by_id(r, 0)->desc_json,
				"\"device\":\"dev0\""));
	assert_int_equal(gcs_reader_stream_by_id(r, 0)->ts_offset, TU_TS_OFFSET);
	assert_int_equal(gcs_reader_stream_by_id(r, 0)->kind, GCS_KIND_IIO_SCAN);
	assert_int_equal(gcs_reader_stream_by_id(r, 1)->kind, GCS_KIND_BLE_ATT);
	gcs_reader_close(r);
}

static void test_session_interpolated_timestamps(void **state)
{
	struct fixture *f = *state;
	struct gcs_stream_def d = {
		.kind = GCS_KIND_GENERIC, .record_size = 16,
		.ts_offset = GCS_NO_TS, .desc_json = "{\"device\":\"x\"}",
	};
	struct gcs_chunk_meta m = {
		.len = 5 * 16, .n_records = 5, .first_seq = 10, .last_seq = 14,
		.t_first_ns = 1000, .t_last_ns = 2000,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	uint8_t data[5 * 16] = { 0 };
	char *p = tu_path(f->dir, "interp");
	struct gcs_writer *w;
	struct gcs_reader *r;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	uint32_t id;
	int i = 0;

	assert_int_equal(gcs_writer_create(&w, p, NULL, tu_meta), 0);
	assert_int_equal(gcs_writer_add_stream(w, &d, &id), 0);
	assert_int_equal(gcs_writer_write_chunk(w, id, data, &m), 0);
	/* Not contiguous: per-record sequence numbers are unknown. */
	m.first_seq = 20;
	m.last_seq = 30;
	m.t_first_ns = m.t_last_ns = 3000;
	m.flags = 0;
	assert_int_equal(gcs_writer_write_chunk(w, id, data, &m), 0);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
	gcs_rec_iter_init(&it, r, id);
	while (gcs_rec_iter_next(&it, &rec) == 1) {
		assert_int_equal(rec.ts_source, GCS_TS_INTERPOLATED);
		assert_int_equal(rec.ts_clock, GCS_CLOCK_MONOTONIC);
		if (i < 5) {
			assert_int_equal(rec.seq, 10 + i);
			assert_int_equal(rec.t_ns, 1000 + 250 * i);
		} else {
			assert_int_equal(rec.seq, GCS_SEQ_UNKNOWN);
			assert_int_equal(rec.t_ns, 3000);
		}
		i++;
	}
	assert_int_equal(i, 10);
	gcs_reader_close(r);
	free(p);
}

/* Time 0 is a time like any other (an import starts there): the span holds it. */
static void test_session_span_from_time_zero(void **state)
{
	struct fixture *f = *state;
	struct gcs_stream_def d = {
		.kind = GCS_KIND_GENERIC, .record_size = 16,
		.ts_offset = GCS_NO_TS, .desc_json = "{\"device\":\"x\"}",
	};
	struct gcs_chunk_meta m = {
		.len = 2 * 16, .n_records = 2, .first_seq = 0, .last_seq = 1,
		.t_first_ns = 1000, .t_last_ns = 2000,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	uint8_t data[2 * 16] = { 0 };
	char *p = tu_path(f->dir, "zero");
	const struct gcs_file_info *a, *b;
	struct gcs_reader *r, *rs;
	struct gcs_writer *w;
	uint32_t id;

	assert_int_equal(gcs_writer_create(&w, p, NULL, tu_meta), 0);
	assert_int_equal(gcs_writer_add_stream(w, &d, &id), 0);
	assert_int_equal(gcs_writer_gap(w, id, GCS_GAP_DEVICE_OVERFLOW,
					GCS_SEQ_UNKNOWN, GCS_SEQ_UNKNOWN, 0, 0), 0);
	assert_int_equal(gcs_writer_write_chunk(w, id, data, &m), 0);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
	assert_int_equal(gcs_reader_open(&rs, p, GCS_OPEN_STREAM), 0);
	a = gcs_reader_info(r);
	b = gcs_reader_info(rs);
	assert_int_equal(a->t_first_ns, 0);
	assert_true(a->t_last_ns >= 2000);
	assert_int_equal(b->t_first_ns, a->t_first_ns);
	assert_int_equal(b->t_last_ns, a->t_last_ns);
	assert_int_equal(a->duration_ns, a->t_last_ns);
	gcs_reader_close(r);
	gcs_reader_close(rs);
	free(p);
}

/* ---- Metadata policy ---------------------------------------------------------- */

static void test_session_meta_policy(void **state)
{
	static const struct { const char *json; bool session; int ok; } cases[] = {
		{ "{\"subject\":\"S0042\",\"task\":\"walk\",\"appliance\":\"a1\",\"software\":\"g-1\"}", true, 1 },
		{ "{\"subject\":\"S0042\",\"task\":\"walk\",\"appliance\":\"a1\",\"software\":\"g-1\","
		  "\"devices\":[{\"id\":\"mat0\",\"serial\":\"GM-12\",\"calibration\":[1,2,3]}]}", true, 1 },
		{ "{\"device\":\"mat0\",\"rows\":64,\"gains\":[4096,4100],\"fw\":\"1.2.3\"}", false, 1 },
		/* missing or malformed required keys */
		{ "{\"task\":\"walk\",\"appliance\":\"a1\",\"software\":\"g-1\"}", true, 0 },
		{ "{\"subject\":\"S 42\",\"task\":\"walk\",\"appliance\":\"a1\",\"software\":\"g-1\"}", true, 0 },
		{ "{\"subject\":\"S/42\",\"task\":\"walk\",\"appliance\":\"a1\",\"software\":\"g-1\"}", true, 0 },
		{ "{\"subject\":42,\"task\":\"walk\",\"appliance\":\"a1\",\"software\":\"g-1\"}", true, 0 },
		/* identifying keys and free text */
		{ "{\"subject\":\"S1\",\"task\":\"walk\",\"appliance\":\"a1\",\"software\":\"g\",\"name\":\"x\"}", true, 0 },
		{ "{\"device\":\"m\",\"patient_id\":\"x\"}", false, 0 },
		{ "{\"device\":\"m\",\"operator\":{\"first_name\":\"x\"}}", false, 0 },
		{ "{\"device\":\"m\",\"dob\":\"1950-01-01\"}", false, 0 },
		{ "{\"device\":\"m\",\"age\":71}", false, 0 },
		{ "{\"device\":\"m\",\"notes\":\"ok\"}", false, 0 },
		{ "{\"device\":\"m\",\"site\":\"walked with a limp\"}", false, 0 },
		{ "{\"device\":\"m\",\"list\":[\"fine\",\"not fine\"]}", false, 0 },
		{ "{\"device\":\"m\",\"email\":\"a@b\"}", false, 0 },
		{ "{\"Device\":\"m\"}", false, 0 },
		{ "{\"subject\":\"S1\",\"task\":\"walk\",\"appliance\":\"a1\",\"software\":\"g\",\"extra\":1}", true, 0 },
		/* not one JSON object */
		{ "[1,2]", false, 0 },
		{ "{\"device\":\"m\"} trailing", false, 0 },
		{ "{\"device\":", false, 0 },
		{ "", false, 0 },
		{ "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}", false, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		int ret = gcs_meta_check(cases[i].json, cases[i].session, &why);

		if (cases[i].ok != (ret == 0))
			fail_msg("case %zu (%s): got %d (%s)", i, cases[i].json,
				 ret, why ? why : "-");
		if (ret)
			assert_non_null(why);
	}
}

static void test_session_writer_rejects_bad_chunks(void **state)
{
	struct fixture *f = *state;
	char *p = tu_path(f->dir, "rejects");
	struct gcs_writer *w;
	struct gcs_reader *r;
	struct gcs_slot *s;
	struct gcs_chunk_meta ok = {
		.len = 2 * TU_FIXED_SIZE, .n_records = 2, .first_seq = 5,
		.last_seq = 6, .t_first_ns = tu_t(5), .t_last_ns = tu_t(6),
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	}, m;
	struct gcs_chunk_meta bad[8];
	int n = 0;

	m = ok; m.len = TU_FIXED_SIZE * 3; m.n_records = 3; bad[n++] = m; /* > cap */
	m = ok; m.n_records = 1; m.last_seq = 5; bad[n++] = m;	/* len != n * size */
	m = ok; m.last_seq = 9; bad[n++] = m;			/* contiguous, wrong n */
	m = ok; m.first_seq = 7; m.last_seq = 6; bad[n++] = m;	/* first > last */
	m = ok; m.t_first_ns = tu_t(7); bad[n++] = m;		/* time backwards */
	m = ok; m.flags = 0x80; bad[n++] = m;			/* unknown flag */
	m = ok; m.n_records = 0; bad[n++] = m;
	m = ok; m.first_seq = 0; m.last_seq = 1; bad[n++] = m;	/* seq not growing */

	assert_int_equal(gcs_writer_create(&w, p, NULL, tu_meta), 0);
	assert_int_equal(tu_add_streams(w), 0);
	assert_int_equal(tu_put_fixed(w, 0, 4), 0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(gcs_writer_reserve(w, 0, ok.len, &s), 0);
		memset(s->data, 0, ok.len);
		assert_int_equal(gcs_writer_commit(w, s, &bad[i]), -EINVAL);
	}
	/* Variable framing that does not fill the length exactly. */
	assert_int_equal(gcs_writer_reserve(w, 1, 64, &s), 0);
	m = (struct gcs_chunk_meta){ .len = 40, .n_records = 1,
		.t_first_ns = 1, .t_last_ns = 1 };
	gcs_var_rec_put(s->data, 1, "abc", 3);
	assert_int_equal(gcs_writer_commit(w, s, &m), -EINVAL);
	/* Other misuse. */
	assert_int_equal(gcs_writer_reserve(w, 7, 64, &s), -EINVAL);
	assert_int_equal(gcs_writer_reserve(w, 0, GCS_MAX_BODY + 1, &s), -EMSGSIZE);
	assert_int_equal(gcs_writer_marker(w, 1, 9, 0, 0), -EINVAL);
	assert_int_equal(gcs_writer_gap(w, 0, 0, 5, 4, 0, 0), -EINVAL);
	/* The writer is unharmed and the file holds only good chunks. */
	assert_int_equal(tu_put_fixed(w, 4, 4), 0);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
	assert_int_equal(tu_check_records(r, NULL), 8);
	assert_int_equal(gcs_reader_info(r)->n_pad, 0);	/* rejected = given back */
	gcs_reader_close(r);
	/* Never overwrite an existing session. */
	assert_int_equal(gcs_writer_create(&w, p, NULL, tu_meta), -EEXIST);
	free(p);
}

/* ---- Corruption classes -------------------------------------------------------- */

struct img {
	uint8_t *buf;
	size_t len;
	uint64_t offs[512];
	size_t n;
};

static void img_load(struct img *im, const uint8_t *src, size_t len)
{
	im->buf = malloc(len + 4096);
	assert_non_null(im->buf);
	memcpy(im->buf, src, len);
	im->len = len;
	im->n = tu_record_offsets(im->buf, len, im->offs, 512);
}

static struct gcs_rec_hdr *rec_at(struct img *im, size_t i)
{
	return (struct gcs_rec_hdr *)(im->buf + im->offs[i]);
}

/* The i-th record of @type (0-based), or -1. */
static int find_rec(struct img *im, uint16_t type, int nth)
{
	for (size_t i = 0; i < im->n; i++)
		if (rec_at(im, i)->type == type && nth-- == 0)
			return (int)i;
	return -1;
}

static int find_chunk_n(struct img *im, uint32_t n_records)
{
	for (size_t i = 0; i < im->n; i++) {
		struct gcs_chunk_ext c;

		if (rec_at(im, i)->type != GCS_REC_CHUNK)
			continue;
		memcpy(&c, im->buf + im->offs[i] + GCS_REC_HDR_LEN, sizeof(c));
		if (c.n_records == n_records)
			return (int)i;
	}
	return -1;
}

static void *ext_of(struct img *im, int i)
{
	return im->buf + im->offs[i] + GCS_REC_HDR_LEN;
}

static void fix(struct img *im, int i)
{
	tu_fix_record(im->buf, im->len, im->offs[i]);
}

enum expect {
	E_OPEN_NOTSESSION,	/* open fails: -GCS_ENOTSESSION */
	E_OPEN_VERSION,		/* open fails: -GCS_EVERSION */
	E_TORN,			/* the walk stops there: tail torn */
	E_SHORT,		/* the walk stops there: tail short */
	E_RESYNC,		/* below the mark: one record lost, the walk goes on */
	E_LOST,			/* a chunk has no valid copy */
	E_DAMAGED,		/* a record below the durable mark is damaged */
	E_CONFLICT,		/* records contradict each other */
	E_BAD_CHUNK,		/* a chunk's framing is impossible */
	E_POLICY,		/* metadata fails the policy */
	E_ONE_SLOT,		/* one header copy rejected, the other used */
	E_SURVIVES,		/* the damage is routed around: all data good */
	E_UNKNOWN,		/* an unknown record type is skipped */
	E_INDEX_FALLBACK,	/* the index is refused; the walk is used */
};

struct corruption {
	const char *name;
	bool packed;		/* start from the compacted image */
	bool walk_only;		/* an index-opened reader cannot see it */
	enum expect expect;
	void (*mutate)(struct img *im);
};

static void m_file_magic(struct img *im)
{
	im->buf[1] ^= 0x20;
	im->buf[GCS_BLOCK + 1] ^= 0x20;
}

static void m_newest_slot_crc(struct img *im)
{
	struct gcs_disk_header a, b;

	memcpy(&a, im->buf, sizeof(a));
	memcpy(&b, im->buf + GCS_BLOCK, sizeof(b));
	im->buf[(a.generation > b.generation ? 0 : GCS_BLOCK) + 100] ^= 1;
}

static void m_both_slots_crc(struct img *im)
{
	im->buf[60] ^= 1;
	im->buf[GCS_BLOCK + 60] ^= 1;
}

static void m_major_version(struct img *im)
{
	for (int i = 0; i < 2; i++) {
		im->buf[i * GCS_BLOCK + offsetof(struct gcs_disk_header, ver_major)] = 2;
		tu_fix_slot(im->buf, i);
	}
}

static void m_incompat(struct img *im)
{
	for (int i = 0; i < 2; i++) {
		im->buf[i * GCS_BLOCK + offsetof(struct gcs_disk_header, incompat)] = 4;
		tu_fix_slot(im->buf, i);
	}
}

static void m_slot_impossible(struct img *im)
{
	/* Valid CRCs over impossible fields: data_start elsewhere. */
	for (int i = 0; i < 2; i++) {
		im->buf[i * GCS_BLOCK + offsetof(struct gcs_disk_header, data_start) + 1] = 0x30;
		tu_fix_slot(im->buf, i);
	}
}

static void m_rec_magic(struct img *im)
{
	rec_at(im, (size_t)find_rec(im, GCS_REC_CHUNK, 1))->magic ^= 0x100;
}

static void m_hdr_bit(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 2);

	im->buf[im->offs[i] + GCS_REC_HDR_LEN + 9] ^= 0x10;	/* first_seq */
}

static void m_hdr_len_small(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);

	rec_at(im, i)->hdr_len = 40;
	fix(im, i);
}

static void m_hdr_len_odd(struct img *im)
{
	int i = find_rec(im, GCS_REC_MARKER, 0);

	rec_at(im, i)->hdr_len = GCS_MARKER_HDR_LEN + 4;
	fix(im, i);
}

static void m_size_odd(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);

	rec_at(im, i)->size += 4;
	fix(im, i);
}

static void m_size_small(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);

	rec_at(im, i)->size -= 8;
	fix(im, i);
}

static void m_size_past_end(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);

	rec_at(im, i)->size = (uint32_t)(im->len * 2) & ~7u;
	rec_at(im, i)->size = rec_at(im, i)->size < GCS_MAX_RECORD ?
			      rec_at(im, i)->size : GCS_MAX_RECORD & ~7u;
	fix(im, i);
}

static void m_size_huge(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);

	rec_at(im, i)->size = 0xfffffff8u;
	fix(im, i);
}

static void m_body_len_past_size(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);

	rec_at(im, i)->body_len = rec_at(im, i)->size;
	fix(im, i);
}

static void m_chunk_zero_records(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);
	struct gcs_chunk_ext *c = ext_of(im, i);

	c->n_records = 0;
	fix(im, i);
}

static void m_chunk_seq_backwards(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);
	struct gcs_chunk_ext *c = ext_of(im, i);

	c->first_seq = c->last_seq + 1;
	c->flags = 0;
	fix(im, i);
}

static void m_chunk_contig_count(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);
	struct gcs_chunk_ext *c = ext_of(im, i);

	c->last_seq += 3;
	fix(im, i);
}

static void m_chunk_time_backwards(struct img *im)
{
	int i = find_rec(im, GCS_REC_CHUNK, 1);
	struct gcs_chunk_ext *c = ext_of(im, i);

	c->t_first_ns = c->t_last_ns + 1;
	fix(im, i);
}

static void m_fixed_len_mismatch(struct img *im)
{
	int i = find_chunk_n(im, 4);
	struct gcs_chunk_ext *c = ext_of(im, i);

	c->n_records = 3;	/* 4 records' bytes, says 3 */
	c->last_seq -= 1;
	fix(im, i);
}

static void m_var_framing(struct img *im)
{
	int i = find_chunk_n(im, 5);
	struct gcs_var_rec v;

	memcpy(&v, im->buf + im->offs[i] + GCS_CHUNK_HDR_LEN, sizeof(v));
	v.len = 5000;		/* runs past the payload */
	memcpy(im->buf + im->offs[i] + GCS_CHUNK_HDR_LEN, &v, sizeof(v));
	fix(im, i);
}

static void m_payload_bit(struct img *im)
{
	int i = find_chunk_n(im, 130);

	im->buf[im->offs[i] + GCS_CHUNK_HDR_LEN + 5000] ^= 0x04;
}

static void m_undeclared_stream(struct img *im)
{
	int i = find_chunk_n(im, 5);
	struct gcs_chunk_ext *c = ext_of(im, i);

	c->stream = 9;
	fix(im, i);
}

static void m_stream_twice(struct img *im)
{
	/* Stream 1 re-declared as stream 0 with another record size. */
	int i = find_rec(im, GCS_REC_STREAM, 1);
	struct gcs_stream_ext *s = ext_of(im, i);

	s->stream = 0;
	s->record_size = 32;
	fix(im, i);
}

static void m_stream_ts_offset(struct img *im)
{
	int i = find_rec(im, GCS_REC_STREAM, 0);
	struct gcs_stream_ext *s = ext_of(im, i);

	s->ts_offset = TU_FIXED_SIZE - 4;
	fix(im, i);
}

static void m_meta_policy(struct img *im)
{
	int i = find_rec(im, GCS_REC_META, 0);
	uint8_t *body = im->buf + im->offs[i] + rec_at(im, i)->hdr_len;
	uint8_t *s = memmem(body, rec_at(im, i)->body_len, "subject", 7);

	memcpy(s, "surname", 7);	/* a forbidden key, CRCs fixed */
	fix(im, i);
}

static void m_meta_bit(struct img *im)
{
	int i = find_rec(im, GCS_REC_META, 0);

	im->buf[im->offs[i] + rec_at(im, i)->hdr_len + 3] ^= 0x01;
}

static void m_unknown_type(struct img *im)
{
	int i = find_rec(im, GCS_REC_MARKER, 1);

	rec_at(im, i)->type = 0x7777;
	fix(im, i);
}

static void m_gap_backwards(struct img *im)
{
	int i = find_rec(im, GCS_REC_GAP, 0);
	struct gcs_gap_ext *g = ext_of(im, i);

	g->first_seq = g->last_seq + 1;
	fix(im, i);
}

static void m_zstd_body_raw_intact(struct img *im)
{
	/* The variable stream's zstd chunk: its raw chunks are too small to punch. */
	int z = find_rec(im, GCS_REC_ZCHUNK, 1);
	struct gcs_rec_hdr *h = rec_at(im, z);

	/* Garbage in the compressed bytes, CRC fixed: zstd or part CRC fails. */
	memset(im->buf + im->offs[z] + h->hdr_len + h->body_len / 2, 0x5a, 8);
	fix(im, z);
}

static void m_zstd_body_raw_gone(struct img *im)
{
	int z = find_rec(im, GCS_REC_ZCHUNK, 0);
	struct gcs_rec_hdr *h = rec_at(im, z);
	int i;

	memset(im->buf + im->offs[z] + h->hdr_len + h->body_len / 2, 0x5a, 8);
	fix(im, z);
	/* And the small raw chunks of that stream zeroed as if punched. */
	for (int n = 0; (i = find_rec(im, GCS_REC_CHUNK, n)) >= 0; n++)
		memset(im->buf + im->offs[i] + GCS_CHUNK_HDR_LEN, 0,
		       rec_at(im, i)->body_len);
}

static void m_zstd_raw_len_sum(struct img *im)
{
	int z = find_rec(im, GCS_REC_ZCHUNK, 0);
	struct gcs_zchunk_ext *e = ext_of(im, z);

	e->raw_len += 64;
	fix(im, z);
}

static void m_zstd_part_forward(struct img *im)
{
	int z = find_rec(im, GCS_REC_ZCHUNK, 0);
	struct gcs_zpart p;
	uint8_t *at = im->buf + im->offs[z] + GCS_ZCHUNK_HDR_LEN(0);

	memcpy(&p, at, sizeof(p));
	p.orig_off = im->offs[z] + 8;	/* "replaces" something after it */
	memcpy(at, &p, sizeof(p));
	fix(im, z);
}

static void m_zstd_part_disagrees(struct img *im)
{
	int z = find_rec(im, GCS_REC_ZCHUNK, 0);
	struct gcs_zpart p;
	uint8_t *at = im->buf + im->offs[z] + GCS_ZCHUNK_HDR_LEN(1);

	memcpy(&p, at, sizeof(p));
	p.t_last_ns += 1;
	memcpy(at, &p, sizeof(p));
	fix(im, z);
}

static void m_zstd_codec(struct img *im)
{
	int z = find_rec(im, GCS_REC_ZCHUNK, 1);
	struct gcs_zchunk_ext *e = ext_of(im, z);

	e->codec = 9;		/* unknown codec: skipped, raw copies used */
	fix(im, z);
}

static void m_index_entry(struct img *im)
{
	int i = find_rec(im, GCS_REC_INDEX, 0);
	struct gcs_index_entry e;
	uint8_t *body = im->buf + im->offs[i] + rec_at(im, i)->hdr_len;

	memcpy(&e, body + 2 * sizeof(e), sizeof(e));
	e.off += 8;		/* points into the middle of a record */
	memcpy(body + 2 * sizeof(e), &e, sizeof(e));
	fix(im, i);
}

static void m_trailing_garbage(struct img *im)
{
	memset(im->buf + im->len, 0x6b, 100);
	im->len += 100;
}

static void m_torn_tail_record(struct img *im)
{
	/* The last record is cut in half. */
	im->len = im->offs[im->n - 1] + rec_at(im, im->n - 1)->size / 2;
}

static const struct corruption corruptions[] = {
	{ "file magic", false, false, E_OPEN_NOTSESSION, m_file_magic },
	{ "newest header copy", false, false, E_ONE_SLOT, m_newest_slot_crc },
	{ "both header copies", false, false, E_OPEN_NOTSESSION, m_both_slots_crc },
	{ "major version 2", false, false, E_OPEN_VERSION, m_major_version },
	{ "unknown incompat bit", false, false, E_OPEN_VERSION, m_incompat },
	{ "impossible header fields", false, false, E_OPEN_NOTSESSION, m_slot_impossible },
	{ "record commit word", false, false, E_RESYNC, m_rec_magic },
	{ "record header bit", false, false, E_RESYNC, m_hdr_bit },
	{ "hdr_len below its type", false, false, E_RESYNC, m_hdr_len_small },
	{ "hdr_len not 8-aligned", false, false, E_RESYNC, m_hdr_len_odd },
	{ "size not 8-aligned", false, false, E_RESYNC, m_size_odd },
	{ "size below header+body", false, false, E_RESYNC, m_size_small },
	{ "size past end of file", false, false, E_RESYNC, m_size_past_end },
	{ "size huge", false, false, E_RESYNC, m_size_huge },
	{ "body_len past size", false, false, E_RESYNC, m_body_len_past_size },
	{ "chunk of zero records", false, false, E_RESYNC, m_chunk_zero_records },
	{ "chunk sequence backwards", false, false, E_RESYNC, m_chunk_seq_backwards },
	{ "contiguous chunk miscounted", false, false, E_RESYNC, m_chunk_contig_count },
	{ "chunk time backwards", false, false, E_RESYNC, m_chunk_time_backwards },
	{ "gap range backwards", false, false, E_RESYNC, m_gap_backwards },
	{ "stream timestamp outside record", false, false, E_RESYNC, m_stream_ts_offset },
	{ "fixed chunk length mismatch", false, false, E_BAD_CHUNK, m_fixed_len_mismatch },
	{ "variable framing overrun", false, false, E_BAD_CHUNK, m_var_framing },
	{ "payload bit", false, false, E_LOST, m_payload_bit },
	{ "chunk of undeclared stream", false, false, E_CONFLICT, m_undeclared_stream },
	{ "stream declared twice", false, false, E_CONFLICT, m_stream_twice },
	{ "metadata breaks policy", false, false, E_POLICY, m_meta_policy },
	{ "metadata bit", false, false, E_DAMAGED, m_meta_bit },
	{ "unknown record type", false, false, E_UNKNOWN, m_unknown_type },
	{ "index entry off", false, false, E_INDEX_FALLBACK, m_index_entry },
	{ "garbage after the end", false, false, E_TORN, m_trailing_garbage },
	{ "last record cut", false, false, E_SHORT, m_torn_tail_record },
	{ "zstd garbage, raw intact", true, false, E_SURVIVES, m_zstd_body_raw_intact },
	{ "zstd garbage, raw reclaimed", true, false, E_LOST, m_zstd_body_raw_gone },
	{ "zstd raw_len sum", true, false, E_RESYNC, m_zstd_raw_len_sum },
	{ "zstd part replaces later record", true, false, E_CONFLICT, m_zstd_part_forward },
	{ "zstd part disagrees with chunk", true, true, E_CONFLICT, m_zstd_part_disagrees },
	{ "zstd unknown codec", true, false, E_UNKNOWN, m_zstd_codec },
};

static void check_corruption(const struct fixture *f, const struct corruption *c,
			     unsigned int flags)
{
	const struct gcs_file_info *fi;
	struct gcs_reader *r = NULL;
	struct img im;
	size_t lost;
	long n;
	int ret;
	uint64_t bad_chunks = 0;

	print_message("# corruption: %s%s\n", c->name,
		      flags & GCS_OPEN_USE_INDEX ? " (index)" : "");
	if (c->packed)
		img_load(&im, f->packed, f->packed_len);
	else
		img_load(&im, f->plain, f->plain_len);
	c->mutate(&im);
	ret = gcs_reader_open_mem(&r, im.buf, im.len, flags);
	if (c->expect == E_OPEN_NOTSESSION || c->expect == E_OPEN_VERSION) {
		if (ret != (c->expect == E_OPEN_NOTSESSION ? -GCS_ENOTSESSION :
							      -GCS_EVERSION))
			fail_msg("%s: open returned %d", c->name, ret);
		free(im.buf);
		return;
	}
	if (ret)
		fail_msg("%s: open failed: %d", c->name, ret);
	fi = gcs_reader_info(r);
	/* Whatever happened, no record comes back wrong. */
	n = tu_check_records(r, &lost);
	if (n < 0)
		fail_msg("%s: a record came back wrong", c->name);
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++)
		bad_chunks += gcs_reader_stream(r, i)->n_bad_chunks;
	switch (c->expect) {
	case E_TORN:
	case E_SHORT:
		if (fi->tail != (c->expect == E_TORN ? GCS_TAIL_TORN : GCS_TAIL_SHORT) ||
		    fi->valid_end >= im.len)
			fail_msg("%s: tail %u at %lu of %zu", c->name, fi->tail,
				 (unsigned long)fi->valid_end, im.len);
		break;
	case E_RESYNC:
		/* Named through the index, stepped over, the rest read. */
		if (fi->tail != GCS_TAIL_CLEAN || fi->valid_end != im.len ||
		    fi->n_lost_ranges != 1 || !fi->lost_records_known ||
		    fi->n_lost_records != 1 || n > SMALL_RECORDS)
			fail_msg("%s: tail %u at %lu of %zu, %lu ranges, %lu lost, %ld records",
				 c->name, fi->tail, (unsigned long)fi->valid_end,
				 im.len, (unsigned long)fi->n_lost_ranges,
				 (unsigned long)fi->n_lost_records, n);
		break;
	case E_LOST:
		if (!lost || fi->n_lost == 0 || n >= SMALL_RECORDS)
			fail_msg("%s: lost %zu n_lost %lu", c->name, lost,
				 (unsigned long)fi->n_lost);
		break;
	case E_DAMAGED:
		if (!fi->n_damaged)
			fail_msg("%s: not reported damaged", c->name);
		break;
	case E_CONFLICT:
		if (!fi->n_conflicts)
			fail_msg("%s: no conflict reported", c->name);
		break;
	case E_BAD_CHUNK:
		if (!lost || n >= SMALL_RECORDS)
			fail_msg("%s: bad chunk yielded records", c->name);
		break;
	case E_POLICY:
		if (fi->meta_policy_ok)
			fail_msg("%s: policy not flagged", c->name);
		break;
	case E_ONE_SLOT:
		if (__builtin_popcount(fi->slots_valid) != 1 || n != SMALL_RECORDS)
			fail_msg("%s: slots %x records %ld", c->name,
				 fi->slots_valid, n);
		break;
	case E_SURVIVES:
		if (n != SMALL_RECORDS || lost || fi->n_lost)
			fail_msg("%s: records %ld lost %zu", c->name, n, lost);
		break;
	case E_UNKNOWN:
		if (!fi->n_unknown || fi->tail != GCS_TAIL_CLEAN)
			fail_msg("%s: unknown %lu tail %u", c->name,
				 (unsigned long)fi->n_unknown, fi->tail);
		if (n != SMALL_RECORDS)
			fail_msg("%s: records %ld", c->name, n);
		break;
	case E_INDEX_FALLBACK:
		if (fi->used_index || n != SMALL_RECORDS)
			fail_msg("%s: used_index %d records %ld", c->name,
				 fi->used_index, n);
		break;
	default:
		break;
	}
	(void)bad_chunks;
	gcs_reader_close(r);
	free(im.buf);
}

static void test_session_corruption_classes(void **state)
{
	const struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
		check_corruption(f, &corruptions[i], GCS_OPEN_VERIFY);
		if (!corruptions[i].walk_only)
			check_corruption(f, &corruptions[i],
					 GCS_OPEN_VERIFY | GCS_OPEN_USE_INDEX);
	}
}

/*
 * Every single-bit flip in every record header, and sampled ones in the
 * bodies: the reader notices (or the bit is padding nothing covers) and
 * never hands out wrong data.
 */
static bool noticed(struct gcs_reader *r, size_t lost, long n)
{
	const struct gcs_file_info *fi = gcs_reader_info(r);

	return fi->tail != GCS_TAIL_CLEAN || fi->n_damaged || fi->n_lost ||
	       fi->n_lost_ranges ||
	       fi->n_conflicts || fi->slots_valid != 3 || !fi->meta_policy_ok ||
	       lost || n != SMALL_RECORDS;
}

static void flip_and_check(struct img *im, size_t at, int bit, bool covered)
{
	struct gcs_reader *r;
	size_t lost;
	long n;
	int ret;

	im->buf[at] ^= (uint8_t)(1 << bit);
	ret = gcs_reader_open_mem(&r, im->buf, im->len, GCS_OPEN_VERIFY);
	if (!ret) {
		n = tu_check_records(r, &lost);
		if (n < 0)
			fail_msg("flip at %zu bit %d: wrong data returned", at, bit);
		if (covered && !noticed(r, lost, n))
			fail_msg("flip at %zu bit %d went unnoticed", at, bit);
		gcs_reader_close(r);
	} else if (ret != -GCS_ENOTSESSION) {
		fail_msg("flip at %zu bit %d: open %d", at, bit, ret);
	}
	im->buf[at] ^= (uint8_t)(1 << bit);
}

static void test_session_every_header_bit_flip(void **state)
{
	const struct fixture *f = *state;
	struct img im;

	img_load(&im, f->plain, f->plain_len);
	for (size_t i = 0; i < im.n; i++) {
		struct gcs_rec_hdr *h = rec_at(&im, i);
		uint64_t off = im.offs[i];
		uint32_t hdr_len = h->hdr_len, body_len = h->body_len;
		uint32_t size = h->size;

		for (uint32_t b = 0; b < hdr_len; b++)
			for (int bit = 0; bit < 8; bit++)
				flip_and_check(&im, off + b, bit, true);
		/* Bodies: a sample of bytes, one bit each. */
		for (uint32_t b = 0; b < body_len; b += 1 + body_len / 23)
			flip_and_check(&im, off + hdr_len + b, (int)(b % 8), true);
		/* Padding after the body: nothing covers it, nothing breaks. */
		for (uint64_t b = hdr_len + body_len; b < size; b++)
			flip_and_check(&im, off + b, 0, false);
	}
	/* Both header copies, every byte (one copy always survives). */
	for (size_t b = 0; b < GCS_HDR_SLOT_SIZE; b++) {
		flip_and_check(&im, b, (int)(b % 8), true);
		flip_and_check(&im, GCS_BLOCK + b, (int)(b % 8), true);
	}
	free(im.buf);
}

/* Random multi-byte damage with CRCs fixed up: only structure checks stand. */
static void test_session_forged_headers_no_crash(void **state)
{
	const struct fixture *f = *state;
	uint64_t rng = 12345;

	for (int iter = 0; iter < 3000; iter++) {
		struct gcs_reader *r;
		struct img im;
		struct gcs_rec_iter it;
		struct gcs_record rec;
		int ret, k;

		img_load(&im, iter % 2 ? f->packed : f->plain,
			 iter % 2 ? f->packed_len : f->plain_len);
		for (k = 0; k < 1 + iter % 4; k++) {
			size_t i;
			uint32_t hdr_len, at;

			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			i = (size_t)(rng >> 33) % im.n;
			hdr_len = rec_at(&im, i)->hdr_len;
			if (hdr_len < GCS_REC_HDR_LEN || hdr_len > 256 ||
			    im.offs[i] + hdr_len > im.len)
				hdr_len = GCS_REC_HDR_LEN;	/* already forged */
			at = (uint32_t)(rng >> 20) % hdr_len;
			if (at < 4)
				at = 4;	/* keep the commit word */
			im.buf[im.offs[i] + at] = (uint8_t)(rng >> 12);
			fix(&im, i);
		}
		ret = gcs_reader_open_mem(&r, im.buf, im.len,
					  iter % 3 ? GCS_OPEN_VERIFY :
						     GCS_OPEN_USE_INDEX);
		if (!ret) {
			gcs_rec_iter_init(&it, r, GCS_STREAM_NONE);
			while ((ret = gcs_rec_iter_next(&it, &rec)) != 0)
				if (ret > 0 && rec.len)
					(void)*(volatile const uint8_t *)
						(rec.data + rec.len - 1);
			gcs_reader_close(r);
		}
		free(im.buf);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_crc32c_vectors),
		cmocka_unit_test(test_session_open_not_a_file),
		cmocka_unit_test(test_session_roundtrip_closed),
		cmocka_unit_test(test_session_roundtrip_compacted),
		cmocka_unit_test(test_session_roundtrip_crashed),
		cmocka_unit_test(test_session_body_sums_both_kinds),
		cmocka_unit_test(test_session_events_roundtrip),
		cmocka_unit_test(test_session_interpolated_timestamps),
		cmocka_unit_test(test_session_span_from_time_zero),
		cmocka_unit_test(test_session_meta_policy),
		cmocka_unit_test(test_session_writer_rejects_bad_chunks),
		cmocka_unit_test(test_session_corruption_classes),
		cmocka_unit_test(test_session_every_header_bit_flip),
		cmocka_unit_test(test_session_forged_headers_no_crash),
	};

	if (argc > 1)	/* run one test by name (or pattern) */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
