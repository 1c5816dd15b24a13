// SPDX-License-Identifier: GPL-2.0
/*
 * Format helpers shared by writer, reader and recovery: header slots, record
 * header checks, error strings. Section numbers refer to
 * docs/session-format.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "session/gcs_internal.h"

uint32_t gcs_salt_seed(uint64_t salt)
{
	return gcs_crc32c(0, &salt, sizeof(salt));	/* LE host */
}

uint32_t gcs_body_sum_seeded(uint64_t incompat, uint64_t salt, uint32_t seed,
			     const void *buf, size_t len)
{
	/* XXH64 costs a tenth of a software CRC-32C (docs/session-format.md 4.1) */
	if (incompat & GCS_INCOMPAT_BODY_XXH64)
		return (uint32_t)XXH64(buf, len, salt);
	return gcs_crc32c(seed, buf, len);
}

uint32_t gcs_body_sum(uint64_t incompat, uint64_t salt, const void *buf,
		      size_t len)
{
	return gcs_body_sum_seeded(incompat, salt, gcs_salt_seed(salt), buf,
				   len);
}

uint32_t gcs_rec_hdr_crc(uint32_t seed, const void *hdr, uint32_t hdr_len)
{
	static const uint8_t zero[4];
	const uint8_t *p = hdr;
	const size_t at = offsetof(struct gcs_rec_hdr, hdr_crc);
	uint32_t crc;

	crc = gcs_crc32c(seed, p, at);
	crc = gcs_crc32c(crc, zero, sizeof(zero));
	return gcs_crc32c(crc, p + at + 4, hdr_len - at - 4);
}

int gcs_hdr_decode(const void *buf, struct gcs_disk_header *h)
{
	struct gcs_disk_header t;

	memcpy(&t, buf, sizeof(t));
	if (memcmp(t.magic, GCS_FILE_MAGIC, sizeof(t.magic)))
		return -GCS_ENOTSESSION;
	if (t.crc != gcs_crc32c(0, &t, offsetof(struct gcs_disk_header, crc)))
		return -EBADMSG;
	/* A valid CRC with impossible fields is not ours to interpret (3.2). */
	if (t.slot_size != GCS_HDR_SLOT_SIZE || t.block_size != GCS_BLOCK ||
	    t.data_start != GCS_DATA_START)
		return -EBADMSG;
	if (t.state < GCS_STATE_OPEN || t.state > GCS_STATE_RECOVERED)
		return -EBADMSG;
	if (t.durable_end && t.durable_end < t.data_start)
		return -EBADMSG;
	if ((t.durable_end | t.end_off | t.index_off) & (GCS_REC_ALIGN - 1))
		return -EBADMSG;
	*h = t;
	return 0;
}

void gcs_hdr_seal(struct gcs_disk_header *h)
{
	memcpy(h->magic, GCS_FILE_MAGIC, sizeof(h->magic));
	h->slot_size = GCS_HDR_SLOT_SIZE;
	h->block_size = GCS_BLOCK;
	h->data_start = GCS_DATA_START;
	h->crc = gcs_crc32c(0, h, offsetof(struct gcs_disk_header, crc));
}

/* Smallest hdr_len of each known type; newer minor versions may add more. */
static uint32_t min_hdr_len(uint16_t type)
{
	switch (type) {
	case GCS_REC_STREAM:
		return GCS_STREAM_HDR_LEN;
	case GCS_REC_CHUNK:
		return GCS_CHUNK_HDR_LEN;
	case GCS_REC_ZCHUNK:
		return GCS_ZCHUNK_HDR_LEN(1);
	case GCS_REC_CLOCK:
		return GCS_CLOCK_HDR_LEN;
	case GCS_REC_MARKER:
		return GCS_MARKER_HDR_LEN;
	case GCS_REC_GAP:
		return GCS_GAP_HDR_LEN;
	case GCS_REC_INDEX:
		return GCS_INDEX_HDR_LEN;
	default:
		return GCS_REC_HDR_LEN;
	}
}

int gcs_rec_check_common(const struct gcs_rec_hdr *h, uint64_t off,
			 uint64_t limit)
{
	if (h->magic != GCS_REC_MAGIC)
		return -EBADMSG;
	if (h->hdr_len < min_hdr_len(h->type) || h->hdr_len > GCS_MAX_HDR_LEN ||
	    h->hdr_len % GCS_REC_ALIGN)
		return -EBADMSG;
	if (h->size % GCS_REC_ALIGN || h->body_len > GCS_MAX_BODY ||
	    h->size > GCS_MAX_RECORD ||
	    h->size < gcs_align8((uint64_t)h->hdr_len + h->body_len))
		return -EBADMSG;
	if (h->type == GCS_REC_PAD && h->body_len)
		return -EBADMSG;
	if ((h->type == GCS_REC_META || h->type == GCS_REC_STREAM) &&
	    (h->body_len == 0 || h->body_len > GCS_MAX_JSON))
		return -EBADMSG;
	if (off > limit || h->size > limit - off)
		return -ENODATA;
	return 0;
}

static int check_seqs(uint64_t first, uint64_t last, uint32_t n,
		      int64_t t_first, int64_t t_last, uint32_t flags)
{
	if (!n || first > last || t_first > t_last)
		return -EBADMSG;
	if ((flags & GCS_CHUNK_F_CONTIGUOUS) && last - first != (uint64_t)n - 1)
		return -EBADMSG;
	return 0;
}

int gcs_rec_check_ext(const uint8_t *hdr)
{
	struct gcs_rec_hdr h;

	memcpy(&h, hdr, sizeof(h));
	switch (h.type) {
	case GCS_REC_STREAM: {
		struct gcs_stream_ext s;

		memcpy(&s, hdr + GCS_REC_HDR_LEN, sizeof(s));
		if (s.stream >= GCS_MAX_STREAMS || s.record_size > GCS_MAX_BODY ||
		    s.ts_clock > GCS_CLOCK_DEVICE)
			return -EBADMSG;
		if (s.ts_offset != GCS_NO_TS &&
		    (s.record_size < 8 || s.ts_offset > s.record_size - 8))
			return -EBADMSG;
		return 0;
	}
	case GCS_REC_CHUNK: {
		struct gcs_chunk_ext c;

		memcpy(&c, hdr + GCS_REC_HDR_LEN, sizeof(c));
		if (c.stream >= GCS_MAX_STREAMS)
			return -EBADMSG;
		return check_seqs(c.first_seq, c.last_seq, c.n_records,
				  c.t_first_ns, c.t_last_ns, c.flags);
	}
	case GCS_REC_ZCHUNK: {
		struct gcs_zchunk_ext z;
		uint64_t total = 0;

		memcpy(&z, hdr + GCS_REC_HDR_LEN, sizeof(z));
		if (z.stream >= GCS_MAX_STREAMS || !z.n_parts ||
		    z.n_parts > GCS_MAX_PARTS ||
		    h.hdr_len < GCS_ZCHUNK_HDR_LEN(z.n_parts) || !h.body_len)
			return -EBADMSG;
		if (z.codec != GCS_CODEC_ZSTD)
			return -EPROTONOSUPPORT;
		for (uint32_t i = 0; i < z.n_parts; i++) {
			struct gcs_zpart p;
			int ret;

			memcpy(&p, hdr + GCS_ZCHUNK_HDR_LEN(i), sizeof(p));
			ret = check_seqs(p.first_seq, p.last_seq, p.n_records,
					 p.t_first_ns, p.t_last_ns, p.flags);
			if (ret)
				return ret;
			if (p.orig_off < GCS_DATA_START ||
			    p.orig_off % GCS_REC_ALIGN || p.raw_len > GCS_MAX_BODY)
				return -EBADMSG;
			total += p.raw_len;
		}
		if (total != z.raw_len || total > GCS_MAX_BODY)
			return -EBADMSG;
		return 0;
	}
	case GCS_REC_GAP: {
		struct gcs_gap_ext g;

		memcpy(&g, hdr + GCS_REC_HDR_LEN, sizeof(g));
		if ((g.first_seq == GCS_SEQ_UNKNOWN) !=
		    (g.last_seq == GCS_SEQ_UNKNOWN) ||
		    g.first_seq > g.last_seq || g.t_start_ns > g.t_end_ns)
			return -EBADMSG;
		return 0;
	}
	case GCS_REC_INDEX: {
		struct gcs_index_ext x;

		memcpy(&x, hdr + GCS_REC_HDR_LEN, sizeof(x));
		if ((uint64_t)x.n_entries * sizeof(struct gcs_index_entry) !=
		    h.body_len)
			return -EBADMSG;
		return 0;
	}
	default:
		return 0;
	}
}

uint32_t gcs_var_rec_put(uint8_t *dst, int64_t t_ns, const void *data,
			 uint32_t len)
{
	struct gcs_var_rec v = { .len = len, .flags = 0, .t_ns = t_ns };
	uint32_t size = gcs_var_rec_size(len);

	memcpy(dst, &v, sizeof(v));
	memcpy(dst + GCS_VAR_HDR_LEN, data, len);
	memset(dst + GCS_VAR_HDR_LEN + len, 0, size - GCS_VAR_HDR_LEN - len);
	return size;
}

int gcs_var_count(const uint8_t *p, uint32_t len, uint32_t *n)
{
	uint32_t pos = 0, count = 0;

	while (pos < len) {
		struct gcs_var_rec v;
		uint64_t size;

		if (len - pos < GCS_VAR_HDR_LEN)
			return -EBADMSG;
		memcpy(&v, p + pos, sizeof(v));
		size = gcs_align8((uint64_t)GCS_VAR_HDR_LEN + v.len);
		if (size > len - pos)
			return -EBADMSG;
		pos += (uint32_t)size;
		count++;
	}
	*n = count;
	return 0;
}

int gcs_array_grow(void **ptr, size_t n, size_t *cap, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = reallocarray(*ptr, ncap, elem);
	if (!p)
		return -ENOMEM;
	*ptr = p;
	*cap = ncap;
	return 0;
}

const char *gcs_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case GCS_ENOTSESSION:
		return "not a gaitcap session file (no valid header)";
	case GCS_EVERSION:
		return "session file from a newer, incompatible format version";
	case GCS_ECORRUPT:
		return "session file damaged below its durable mark";
	case GCS_EPOLICY:
		return "metadata breaks the privacy policy (names or free text)";
	case GCS_EFULL:
		return "filesystem full: the session was ended";
	case GCS_ENOTFILE:
		return "not a regular file (a session is read at random offsets)";
	default:
		return strerror(err);
	}
}
