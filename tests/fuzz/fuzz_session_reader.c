// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the session reader (docs/session-format.md) over any
 * bytes. Each input is read twice: as it is, and after its CRCs have been
 * recomputed along a lenient walk, so that mutations reach the structure
 * checks behind the checksums. Whatever the input, the reader must not
 * crash or leak, and what it hands out must hold up:
 *   - every chunk it returns matches the CRC its header promised;
 *   - logical chunks are unique and in file order;
 *   - fixed-size records have the stream's size; variable ones fit;
 *   - the record counts add up;
 *   - lost ranges (the walk's resync over damage) are in order, inside
 *     the file, and the records named lost lie in them;
 *   - GCS_OPEN_STREAM (no chunk table) gives the facts, stream statistics
 *     and records the full table gives, or falls back to it.
 * UBSan is on: time differences of hostile files must not overflow.
 *
 * Built with -DGEN_SEEDS (no libFuzzer), the same file is the program that
 * writes the seed sessions with the real writer: gen DIR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/gcsession.h"

#define FUZZ_ASSERT(c)							\
	do {								\
		if (!(c)) {						\
			fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
				__FILE__, __LINE__, #c);		\
			abort();					\
		}							\
	} while (0)

#ifndef GEN_SEEDS

static void check_chunks(struct gcs_reader *r)
{
	const struct gcs_file_info *fi = gcs_reader_info(r);
	uint64_t prev = 0;

	for (size_t i = 0; i < gcs_reader_n_chunks(r); i++) {
		const struct gcs_chunk_info *c = gcs_reader_chunk(r, i);
		const uint8_t *d;
		uint32_t len;

		FUZZ_ASSERT(!i || c->orig_off > prev);
		prev = c->orig_off;
		FUZZ_ASSERT(c->have_raw || c->have_zstd);
		if (gcs_reader_chunk_data(r, i, &d, &len))
			continue;
		FUZZ_ASSERT(len == c->raw_len);
		FUZZ_ASSERT(gcs_body_sum(fi->incompat, fi->salt, d, len) ==
			    c->raw_crc);
		FUZZ_ASSERT(c->status == GCS_CHUNK_OK);
	}
}

static void check_records(struct gcs_reader *r, uint32_t stream)
{
	struct gcs_rec_iter it;
	struct gcs_record rec;
	int ret, budget = 1 << 20;

	gcs_rec_iter_init(&it, r, stream);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0 && budget--) {
		const struct gcs_stream_info *s;

		if (ret < 0) {
			FUZZ_ASSERT(ret == -EBADMSG);
			continue;
		}
		s = gcs_reader_stream_by_id(r, rec.stream);
		FUZZ_ASSERT(s);
		FUZZ_ASSERT(stream == GCS_STREAM_NONE || rec.stream == stream);
		if (s->record_size)
			FUZZ_ASSERT(rec.len == s->record_size);
		FUZZ_ASSERT(rec.ts_source == GCS_TS_RECORD ||
			    rec.ts_source == GCS_TS_INTERPOLATED);
		if (rec.len) {
			/* ASan checks that every byte handed out is readable. */
			volatile uint8_t sink = rec.data[0] ^ rec.data[rec.len - 1];

			(void)sink;
		}
	}
}

static void check_lost(struct gcs_reader *r)
{
	const struct gcs_file_info *fi = gcs_reader_info(r);
	const struct gcs_index_entry *e;
	size_t n = gcs_reader_lost_records(r, &e), k = 0;
	uint64_t bytes = 0, prev_end = 0;

	FUZZ_ASSERT(gcs_reader_n_lost_ranges(r) == fi->n_lost_ranges);
	for (size_t i = 0; i < gcs_reader_n_lost_ranges(r); i++) {
		const struct gcs_lost_range *l = gcs_reader_lost_range(r, i);

		FUZZ_ASSERT(l->off >= prev_end && l->off < l->end);
		FUZZ_ASSERT(l->end <= fi->file_size && l->end <= fi->valid_end);
		FUZZ_ASSERT(l->off < fi->durable_end);
		prev_end = l->end;
		bytes += l->end - l->off;
		for (uint32_t j = 0; fi->lost_records_known && j < l->n_records; j++, k++) {
			FUZZ_ASSERT(k < n);
			FUZZ_ASSERT(e[k].off >= l->off && e[k].off < l->end);
		}
	}
	FUZZ_ASSERT(bytes == fi->lost_bytes);
	FUZZ_ASSERT(!fi->lost_records_known || k == n);
	FUZZ_ASSERT(n == fi->n_lost_records);
}

static void read_all(const uint8_t *buf, size_t len, unsigned int flags)
{
	const struct gcs_file_info *fi;
	struct gcs_reader *r;
	uint64_t sum = 0;

	if (gcs_reader_open_mem(&r, buf, len, flags))
		return;
	fi = gcs_reader_info(r);
	for (int i = 0; i < 8; i++)
		sum += fi->n_by_type[i];
	FUZZ_ASSERT(sum + fi->n_pad + fi->n_unknown == fi->n_records);
	FUZZ_ASSERT(fi->slots_valid && fi->slots_valid <= 3);
	FUZZ_ASSERT(fi->stored_bytes == fi->raw_stored + fi->zstd_stored);
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		const struct gcs_stream_info *s = gcs_reader_stream(r, i);

		FUZZ_ASSERT(gcs_reader_stream_by_id(r, s->id) == s);
		FUZZ_ASSERT(s->desc_json);
		check_records(r, s->id);
	}
	check_records(r, GCS_STREAM_NONE);
	check_chunks(r);
	for (size_t i = 0; i < gcs_reader_n_gaps(r); i++) {
		const struct gcs_gap *g = gcs_reader_gap(r, i);

		FUZZ_ASSERT(g->t_start_ns <= g->t_end_ns);
	}
	check_lost(r);
	FUZZ_ASSERT(fi->duration_ns >= 0);
	FUZZ_ASSERT(!gcs_reader_marker(r, gcs_reader_n_markers(r)));
	FUZZ_ASSERT(!gcs_reader_clock(r, gcs_reader_n_clocks(r)));
	gcs_reader_close(r);
}

/* FNV-1a over one stream's records as an iterator hands them out. */
static uint64_t stream_digest(struct gcs_reader *r, uint32_t stream)
{
	uint64_t h = 0xcbf29ce484222325ull;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	int ret, budget = 1 << 20;

	gcs_rec_iter_init(&it, r, stream);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0 && budget--) {
		const uint8_t *p = (const uint8_t *)&rec.seq;

		FUZZ_ASSERT(ret == 1 || ret == -EBADMSG);
		h = (h ^ (uint64_t)ret) * 0x100000001b3ull;
		if (ret < 0)
			continue;
		for (size_t i = 0; i < sizeof(rec.seq); i++)
			h = (h ^ p[i]) * 0x100000001b3ull;
		h = (h ^ (uint64_t)rec.t_ns) * 0x100000001b3ull;
		h = (h ^ rec.len) * 0x100000001b3ull;
		for (uint32_t i = 0; i < rec.len; i++)
			h = (h ^ rec.data[i]) * 0x100000001b3ull;
	}
	return h;
}

/* The streaming reader against the full one, on the same bytes. */
static void same_streamed(const uint8_t *buf, size_t len, unsigned int flags)
{
	struct gcs_reader *a, *b;
	const struct gcs_file_info *x, *y;
	int ra = gcs_reader_open_mem(&a, buf, len, flags);
	int rb = gcs_reader_open_mem(&b, buf, len, flags | GCS_OPEN_STREAM);

	FUZZ_ASSERT(ra == rb);
	if (ra)
		return;
	x = gcs_reader_info(a);
	y = gcs_reader_info(b);
	FUZZ_ASSERT(x->n_records == y->n_records && x->valid_end == y->valid_end);
	FUZZ_ASSERT(x->tail == y->tail && x->n_damaged == y->n_damaged);
	FUZZ_ASSERT(x->n_conflicts == y->n_conflicts);
	FUZZ_ASSERT(x->n_orphan_parts == y->n_orphan_parts);
	FUZZ_ASSERT(x->raw_bytes == y->raw_bytes && x->stored_bytes == y->stored_bytes);
	FUZZ_ASSERT(x->t_first_ns == y->t_first_ns && x->t_last_ns == y->t_last_ns);
	FUZZ_ASSERT(gcs_reader_n_chunks(a) == gcs_reader_n_chunks(b));
	FUZZ_ASSERT(gcs_reader_n_streams(a) == gcs_reader_n_streams(b));
	for (size_t i = 0; i < gcs_reader_n_streams(a); i++) {
		const struct gcs_stream_info *s = gcs_reader_stream(a, i);
		const struct gcs_stream_info *t = gcs_reader_stream(b, i);

		FUZZ_ASSERT(s->id == t->id && s->n_chunks == t->n_chunks);
		FUZZ_ASSERT(s->n_records == t->n_records && s->raw_bytes == t->raw_bytes);
		FUZZ_ASSERT(s->n_discont == t->n_discont &&
			    s->n_unexplained == t->n_unexplained);
		FUZZ_ASSERT(s->lost_records == t->lost_records);
		FUZZ_ASSERT(stream_digest(a, s->id) == stream_digest(b, t->id));
	}
	gcs_reader_close(a);
	gcs_reader_close(b);
}

/* Give the bytes valid CRCs wherever a lenient walk finds a record. */
static void fix_crcs(uint8_t *buf, size_t len)
{
	static const uint8_t zero[4];
	struct gcs_disk_header h;
	uint64_t off = GCS_DATA_START, salt = 0, gen = 0, incompat = 0;
	uint32_t seed;

	for (int i = 0; i < GCS_HDR_SLOTS; i++) {
		uint8_t *p = buf + (size_t)i * GCS_BLOCK;

		if ((size_t)i * GCS_BLOCK + sizeof(h) > len)
			break;
		memcpy(&h, p, sizeof(h));
		h.crc = gcs_crc32c(0, &h, offsetof(struct gcs_disk_header, crc));
		memcpy(p, &h, sizeof(h));
		if (!i || h.generation > gen) {
			gen = h.generation;
			salt = h.salt;
			incompat = h.incompat;
		}
	}
	seed = gcs_crc32c(0, &salt, sizeof(salt));
	while (off + GCS_REC_HDR_LEN <= len) {
		struct gcs_rec_hdr r;
		uint32_t crc;

		memcpy(&r, buf + off, sizeof(r));
		if (r.magic != GCS_REC_MAGIC || r.hdr_len < GCS_REC_HDR_LEN ||
		    r.hdr_len > len - off || r.size < GCS_REC_HDR_LEN ||
		    r.size % GCS_REC_ALIGN)
			break;
		if (r.body_len <= len - off - r.hdr_len)
			r.body_crc = gcs_body_sum(incompat, salt,
						  buf + off + r.hdr_len,
						  r.body_len);
		r.hdr_crc = 0;
		memcpy(buf + off, &r, sizeof(r));
		crc = gcs_crc32c(seed, buf + off, 28);
		crc = gcs_crc32c(crc, zero, 4);
		r.hdr_crc = gcs_crc32c(crc, buf + off + 32, r.hdr_len - 32);
		memcpy(buf + off, &r, sizeof(r));
		if (r.size > len - off)
			break;
		off += r.size;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	read_all(data, size, GCS_OPEN_VERIFY | GCS_OPEN_USE_INDEX);
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fix_crcs(copy, size);
	read_all(copy, size, GCS_OPEN_VERIFY);
	read_all(copy, size, GCS_OPEN_USE_INDEX);	/* lazy checks */
	same_streamed(data, size, 0);
	same_streamed(copy, size, GCS_OPEN_USE_INDEX);
	free(copy);
	return 0;
}

#else /* GEN_SEEDS */

#include <unistd.h>

static const char meta[] =
	"{\"subject\":\"F-0001\",\"task\":\"fuzz_seed\",\"appliance\":\"fuzz\","
	"\"software\":\"seed-1\",\"devices\":[{\"id\":\"d0\"}]}";

static int put(struct gcs_writer *w, uint32_t stream, uint32_t rec_size,
	       uint64_t seq, uint32_t n)
{
	struct gcs_chunk_meta m = {
		.n_records = n, .first_seq = seq, .last_seq = seq + n - 1,
		.t_first_ns = (int64_t)seq * 1000, .t_last_ns = (int64_t)(seq + n - 1) * 1000,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	struct gcs_slot *s;
	int ret = gcs_writer_reserve(w, stream, 4096, &s);

	if (ret)
		return ret;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t rec[24] = { 0 };
		int64_t t = (int64_t)(seq + i) * 1000;

		rec[0] = (uint8_t)(seq + i);
		rec[3] = (uint8_t)i;
		if (rec_size) {
			memcpy(rec + 8, &t, 8);
			memcpy(s->data + m.len, rec, rec_size);
			m.len += rec_size;
		} else {
			m.len += gcs_var_rec_put(s->data + m.len, t, rec,
						 1 + (uint32_t)((seq + i) % 7));
		}
	}
	return gcs_writer_commit(w, s, &m);
}

/*
 * Hostile host times: a chunk and a gap spanning all of int64, a marker at
 * its start (t_last - t_first overflowed in the reader and in info).
 * zero: a gap at time 0 ahead of a later chunk (0 was taken for "no span").
 */
static int seed_times(const char *dir, bool zero)
{
	struct gcs_stream_def def = {
		.kind = GCS_KIND_GENERIC, .record_size = 8,
		.ts_offset = GCS_NO_TS, .ts_clock = GCS_CLOCK_NONE,
		.desc_json = "{\"device\":\"d0\"}",
	};
	struct gcs_chunk_meta m = {
		.len = 24, .n_records = 3, .last_seq = 2,
		.t_first_ns = INT64_MIN, .t_last_ns = INT64_MAX,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	uint8_t data[24] = { 1, 2, 3 };
	char path[4096];
	uint32_t a;
	int ret;

	snprintf(path, sizeof(path), "%s/session-times%s", dir, zero ? "-zero" : "");
	if (zero) {
		m.t_first_ns = 5000;
		m.t_last_ns = 7000;
	}
	unlink(path);
	gcs_writer_opts_init(&o);
	o.grow_step = 64 << 10;
	o.tail_reserve = 64 << 10;
	o.no_compact = true;
	ret = gcs_writer_create(&w, path, &o, meta);
	if (ret)
		return ret;
	ret = gcs_writer_add_stream(w, &def, &a);
	ret = ret ?: gcs_writer_gap(w, a, GCS_GAP_UNKNOWN, GCS_SEQ_UNKNOWN,
				    GCS_SEQ_UNKNOWN, zero ? 0 : INT64_MIN,
				    zero ? 0 : INT64_MAX);
	ret = ret ?: gcs_writer_write_chunk(w, a, data, &m);
	if (!zero)
		ret = ret ?: gcs_writer_marker(w, GCS_MARK_EVENT, GCS_STREAM_NONE,
					       INT64_MIN, 1);
	if (ret) {
		gcs_writer_abort(w);
		return ret;
	}
	return gcs_writer_close(w);
}

/* Overwrite the hdr_crc of the record nearest the middle of the records. */
static int damage_middle(const char *path)
{
	FILE *f = fopen(path, "r+b");
	uint64_t off = GCS_DATA_START, best = 0;
	struct gcs_rec_hdr h;
	long len;
	int ret = -EIO;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0)
		goto out;
	while (off + sizeof(h) <= (uint64_t)len) {
		if (fseek(f, (long)off, SEEK_SET) || fread(&h, sizeof(h), 1, f) != 1 ||
		    h.magic != GCS_REC_MAGIC || !h.size)
			break;
		if (off <= (GCS_DATA_START + (uint64_t)len) / 2)
			best = off;
		off += h.size;
	}
	if (!best)
		goto out;
	h.hdr_crc = 0xdeadbeef;
	if (!fseek(f, (long)(best + offsetof(struct gcs_rec_hdr, hdr_crc)), SEEK_SET) &&
	    fwrite(&h.hdr_crc, sizeof(h.hdr_crc), 1, f) == 1)
		ret = 0;
out:
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/*
 * variant: 0 closed raw, 1 closed compacted, 2 crashed, 3 crashed and
 * recovered, 4 closed with one record header damaged in the middle (the
 * walk resynchronises after it).
 */
static int seed(const char *dir, int variant)
{
	struct gcs_stream_def fixed = {
		.kind = GCS_KIND_IIO_SCAN, .record_size = 16, .ts_offset = 8,
		.ts_clock = GCS_CLOCK_MONOTONIC, .desc_json = "{\"device\":\"d0\"}",
	};
	struct gcs_stream_def var = {
		.kind = GCS_KIND_BLE_ATT, .ts_offset = GCS_NO_TS,
		.ts_clock = GCS_CLOCK_REALTIME, .desc_json = "{\"device\":\"d1\"}",
	};
	const struct gcs_recover_opts force = { .force = true };
	struct gcs_writer_opts o;
	struct gcs_recover_report rep;
	struct gcs_writer *w;
	uint32_t a, b;
	char path[4096];
	int ret;

	snprintf(path, sizeof(path), "%s/session-%d", dir, variant);
	unlink(path);
	gcs_writer_opts_init(&o);
	o.grow_step = 64 << 10;
	o.tail_reserve = 64 << 10;
	o.no_compact = variant != 1;	/* 4: damaged, raw */
	ret = gcs_writer_create(&w, path, &o, meta);
	if (ret)
		return ret;
	ret = gcs_writer_add_stream(w, &fixed, &a);
	ret = ret ?: gcs_writer_add_stream(w, &var, &b);
	ret = ret ?: gcs_writer_clock_host(w);
	ret = ret ?: gcs_writer_marker(w, GCS_MARK_SESSION_START, GCS_STREAM_NONE, 0, 0);
	ret = ret ?: put(w, a, 16, 0, 6);
	ret = ret ?: put(w, b, 0, 0, 3);
	ret = ret ?: gcs_writer_gap(w, a, GCS_GAP_DEVICE_OVERFLOW, 6, 7, 6000, 8000);
	ret = ret ?: gcs_writer_sync(w);
	ret = ret ?: put(w, a, 16, 8, 5);
	ret = ret ?: put(w, b, 0, 3, 4);
	ret = ret ?: gcs_writer_marker(w, GCS_MARK_EVENT, a, 9000, 3);
	if (ret) {
		gcs_writer_abort(w);
		return ret;
	}
	if (variant == 2 || variant == 3) {
		gcs_writer_abort(w);
		/* Keep the crashed file small: cut the preallocated zeros. */
		if (truncate(path, 16384))
			return -errno;
		return variant == 3 ? gcs_recover_opts(path, &force, &rep) : 0;
	}
	ret = gcs_writer_close(w);
	return ret || variant != 4 ? ret : damage_middle(path);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	for (int v = 0; v <= 6; v++) {
		int ret = v >= 5 ? seed_times(argv[1], v == 6) : seed(argv[1], v);

		if (ret) {
			fprintf(stderr, "seed %d: %s\n", v, gcs_strerror(ret));
			return 1;
		}
	}
	return 0;
}

#endif /* GEN_SEEDS */
