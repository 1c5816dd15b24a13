// SPDX-License-Identifier: GPL-2.0
/*
 * Session reader. It trusts nothing: every length is checked against the
 * file before use, every header against its CRC, and data is handed out
 * only after its CRC matched. It reads with pread() (or from memory), never
 * through a mapping, so a file that shrinks under it cannot SIGBUS.
 * Section numbers refer to docs/session-format.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <zstd.h>

#include "session/gcs_internal.h"

#define WIN_SIZE	(64u << 10)
#define SCAN_WIN_SIZE	(8u << 10)	/* a streaming scan reads headers only */
#define JUMP_READ_SIZE	(4u << 10)	/* a window's fill after a jump */

/* A logical chunk and where its copies are. */
struct lchunk {
	struct gcs_chunk_info ci;
	uint32_t raw_hdr_len;
	uint32_t raw_body_crc;
	uint32_t raw_size;	/* record size of the CHUNK */
	uint32_t part_crc;
	uint64_t part_at;	/* offset of the part in the decompressed body */
	uint32_t zrec;		/* index into zrecs */
	bool raw_bad;		/* raw copy known bad */
	bool raw_probed;	/* looked for the raw record behind a part */
	bool is_part;		/* (before merging) entry made from a part */
};

struct zrec {
	uint64_t off;
	uint32_t hdr_len;
	uint32_t body_len;
	uint32_t body_crc;
	uint32_t size;
	uint64_t raw_len;
	uint32_t stream;
	uint32_t n_live;		/* parts that stand for earlier chunks */
	bool parts_ok;			/* each of those checked out once */
	bool bad;
};

/* A read-ahead window over the file. */
struct win {
	uint8_t *p;
	uint64_t off;
	size_t len;
};

/*
 * GCS_OPEN_STREAM: the logical chunks of one stream, in orig_off order,
 * found again in the file instead of kept in memory. Raw CHUNK headers come
 * from a forward scan, parts from the ZCHUNKs of the stream (r->zrecs, in
 * file order); the two ordered sequences are merged as merge_chunks() would.
 */
struct scur {
	uint32_t stream;
	bool active;
	const void *owner;		/* the iterator using it */
	uint64_t roff;			/* where the raw scan goes on */
	uint64_t ri;			/* or the next index entry, if used */
	bool have_r, r_done;
	struct lchunk rc;
	size_t zi;			/* next zrecs entry to look at */
	uint8_t *zhdr;			/* header of the current ZCHUNK */
	uint32_t zn, zp;		/* its parts, the next one */
	uint64_t zat;			/* that part's offset in the body */
	size_t zrec;			/* its zrecs entry */
	bool have_z, z_done;
	struct lchunk zc;
	uint64_t last_r, last_z;	/* orig_off seen last: must increase */
	bool any_r, any_z;
	bool unpaired;			/* handed out a chunk with one copy only */
	bool parts_only;		/* no raw scan: the parts say it all */
	struct lchunk cur;		/* the chunk handed out last */
	size_t index;			/* its number, for gcs_record.chunk */
	bool have_cur;
	struct win rwin;
};

/*
 * GCS_OPEN_STREAM: the logical chunks of every stream in one scan. One raw
 * scan (scan) finds the CHUNK headers of all streams; each stream merges
 * them with its own parts (sc[k] for r->streams[k]), so each stream's
 * chunks come in its own orig_off order, the streams interleaved as their
 * raw records lie in the file.
 */
struct mcur {
	bool active;
	const void *owner;
	struct scur scan;		/* the shared raw scan (roff, ri, rwin) */
	struct scur *sc;		/* per stream; n_sc of them */
	size_t n_sc;
	bool *paired;			/* per stream: every chunk raw + part, alike */
	struct scur *pend;		/* holds a raw chunk not yet merged */
	bool parts_only;		/* every stream paired: parts in orig_off order */
	bool scan_done;
	size_t drain;			/* after the scan: parts left, per stream */
};

/* Decompressed ZCHUNKs, one per stream slot: interleaved streams keep theirs. */
#define ZCACHE_SLOTS	4

struct zcache {
	uint8_t *data;
	size_t cap;
	size_t idx;			/* its zrecs entry */
	bool valid;
	uint32_t n_ok;			/* its parts checked out so far */
	uint8_t ok[GCS_MAX_PARTS / 8];	/* which */
};

struct gcs_reader {
	int fd;
	bool own_fd;
	const uint8_t *mem;
	uint64_t size;
	unsigned int flags;

	struct gcs_disk_header hdr;
	uint32_t seed;
	struct gcs_file_info info;
	bool have_span;		/* info.t_*_ns hold a value: 0 is a real time */
	char *meta;

	struct gcs_stream_info *streams;
	size_t n_streams, cap_streams;
	struct lchunk *chunks;
	size_t n_chunks, cap_chunks;
	struct zrec *zrecs;
	size_t n_zrecs, cap_zrecs;
	struct gcs_marker *markers;
	size_t n_markers, cap_markers;
	struct gcs_gap *gaps;
	size_t n_gaps, cap_gaps;
	struct gcs_clock_rec *clocks;
	size_t n_clocks, cap_clocks;
	struct gcs_index_entry *recs;	/* every valid record, for recovery */
	size_t n_recs, cap_recs;
	struct gcs_lost_range *lost;	/* stretches the walk stepped over */
	size_t n_lost, cap_lost;
	struct gcs_index_entry *lost_recs; /* the index's entries in them */
	size_t n_lost_recs, cap_lost_recs;
	struct gcs_index_entry *idx;	/* the index, loaded to name losses */
	size_t n_idx;
	int idx_state;			/* 0 not tried, 1 loaded, -1 none */

	struct win win;			/* read-ahead window */
	struct scur cur;		/* GCS_OPEN_STREAM's chunk cursor */
	struct mcur m;			/* or its cursor over all streams */
	struct scur *last;		/* the cursor of the chunk handed out last */
	bool stream_irregular;		/* GCS_OPEN_STREAM can't keep order */
	size_t n_stream_chunks;		/* logical chunks, GCS_OPEN_STREAM */
	uint64_t *lost_after;		/* per stream: past the last lost chunk counted */
	uint64_t idx_body_off;		/* the index used at open: its entries */
	uint32_t idx_entries;
	uint8_t *hbuf;			/* one record header */
	uint8_t *buf;			/* raw chunk data */
	size_t buf_cap;
	uint8_t *zbuf;			/* compressed body */
	size_t zbuf_cap;
	struct zcache zc[ZCACHE_SLOTS];
};

static struct gcs_stream_info *stream_by_id(struct gcs_reader *r, uint32_t id);

/* ---- Source ---------------------------------------------------------------- */

static int pread_all(struct gcs_reader *r, uint64_t off, void *dst, size_t len)
{
	while (len) {
		ssize_t n = pread(r->fd, dst, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;	/* shrank since we looked */
		dst = (uint8_t *)dst + n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Small reads (headers, small bodies) come from a read-ahead window: a
 * walk over many small records then costs a few large preads.
 */
static int win_read(struct gcs_reader *r, struct win *w, size_t wsize,
		    uint64_t off, void *dst, size_t len)
{
	size_t want;
	int ret;

	if (off > r->size || len > r->size - off)
		return -ENODATA;
	if (r->mem) {
		memcpy(dst, r->mem + off, len);
		return 0;
	}
	if (len > wsize / 2)
		return pread_all(r, off, dst, len);
	if (!w->p) {
		w->p = malloc(wsize);
		if (!w->p)
			return -ENOMEM;
	}
	if (!w->len || off < w->off || off + len > w->off + w->len) {
		/*
		 * Past a record larger than the window (a mat scan, a
		 * compressed batch) the next one is likely as far: a page
		 * will do. Records in a run get the whole window.
		 */
		want = w->len && off > w->off + w->len ?
		       (len > JUMP_READ_SIZE ? len : JUMP_READ_SIZE) : wsize;
		want = (size_t)gcs_min_u64(want, r->size - off);
		w->len = 0;
		ret = pread_all(r, off, w->p, want);
		if (ret)
			return ret;
		w->off = off;
		w->len = want;
	}
	memcpy(dst, w->p + (off - w->off), len);
	return 0;
}

static int src_read(struct gcs_reader *r, uint64_t off, void *dst, size_t len)
{
	return win_read(r, &r->win, WIN_SIZE, off, dst, len);
}

static int buf_reserve(uint8_t **buf, size_t *cap, size_t len)
{
	uint8_t *p;

	if (len <= *cap && *buf)
		return 0;
	p = realloc(*buf, len ? len : 1);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = len;
	return 0;
}

static bool in_win(const struct win *w, uint64_t off, size_t len, void *dst)
{
	if (!w->len || off < w->off || off + len > w->off + w->len)
		return false;
	memcpy(dst, w->p + (off - w->off), len);
	return true;
}

/* Read a record body and check it against @crc. -EBADMSG on mismatch. */
static int read_body(struct gcs_reader *r, uint64_t off, uint32_t len,
		     uint32_t crc, uint8_t **buf, size_t *cap)
{
	int ret = buf_reserve(buf, cap, len);

	if (ret)
		return ret;
	/* A small chunk's body is often in the scan window that found its header. */
	if (in_win(&r->cur.rwin, off, len, *buf) || in_win(&r->m.scan.rwin, off, len, *buf))
		ret = 0;
	else
		ret = src_read(r, off, *buf, len);
	if (ret)
		return ret == -ENODATA ? -EBADMSG : ret;
	return gcs_reader_body_sum(r, *buf, len) == crc ? 0 : -EBADMSG;
}

/* ---- Header (3.2) ----------------------------------------------------------- */

static int read_file_header(struct gcs_reader *r)
{
	uint8_t slot[GCS_HDR_SLOT_SIZE];
	struct gcs_disk_header h;
	bool found = false, bad_version = false;

	for (int i = 0; i < GCS_HDR_SLOTS; i++) {
		if (src_read(r, (uint64_t)i * GCS_BLOCK, slot, sizeof(slot)))
			continue;
		if (gcs_hdr_decode(slot, &h))
			continue;
		if (h.ver_major != GCS_VERSION_MAJOR ||
		    (h.incompat & ~GCS_INCOMPAT_KNOWN)) {
			bad_version = true;
			continue;
		}
		r->info.slots_valid |= 1u << i;
		if (!found || h.generation > r->hdr.generation) {
			r->hdr = h;
			found = true;
		}
	}
	if (!found)
		return bad_version ? -GCS_EVERSION : -GCS_ENOTSESSION;
	r->seed = gcs_salt_seed(r->hdr.salt);
	r->info.ver_major = r->hdr.ver_major;
	r->info.ver_minor = r->hdr.ver_minor;
	r->info.state = r->hdr.state;
	r->info.salt = r->hdr.salt;
	r->info.incompat = r->hdr.incompat;
	r->info.generation = r->hdr.generation;
	r->info.sync_interval_ms = r->hdr.sync_interval_ms;
	r->info.data_start = r->hdr.data_start;
	r->info.durable_end = r->hdr.durable_end;
	r->info.sync_error = r->hdr.sync_error;
	r->info.end_off = r->hdr.end_off;
	r->info.index_off = r->hdr.index_off;
	return 0;
}

/* ---- Records (4) ------------------------------------------------------------- */

static int type_slot(uint16_t type)
{
	switch (type) {
	case GCS_REC_META: return 0;
	case GCS_REC_STREAM: return 1;
	case GCS_REC_CHUNK: return 2;
	case GCS_REC_ZCHUNK: return 3;
	case GCS_REC_CLOCK: return 4;
	case GCS_REC_MARKER: return 5;
	case GCS_REC_GAP: return 6;
	case GCS_REC_INDEX: return 7;
	default: return -1;
	}
}

/*
 * Read and check the header of the record at @off. Returns 0, or a reason
 * to stop: -EBADMSG (not a valid record), -ENODATA (runs past the end),
 * -EPROTONOSUPPORT (valid but of an unknown codec: skip it).
 */
static int read_rec_hdr_w(struct gcs_reader *r, struct win *w, size_t wsize,
			  uint64_t off, struct gcs_rec_hdr *h)
{
	int ret;

	ret = win_read(r, w, wsize, off, h, sizeof(*h));
	if (ret)
		return ret;
	ret = gcs_rec_check_common(h, off, r->size);
	if (ret)
		return ret;
	memcpy(r->hbuf, h, sizeof(*h));
	ret = win_read(r, w, wsize, off + sizeof(*h), r->hbuf + sizeof(*h),
		       h->hdr_len - sizeof(*h));
	if (ret)
		return ret;
	if (gcs_rec_hdr_crc(r->seed, r->hbuf, h->hdr_len) != h->hdr_crc)
		return -EBADMSG;
	return gcs_rec_check_ext(r->hbuf);
}

static int read_rec_hdr(struct gcs_reader *r, uint64_t off,
			struct gcs_rec_hdr *h)
{
	return read_rec_hdr_w(r, &r->win, WIN_SIZE, off, h);
}

/* Body check needed now? Always past the durable mark (7.4). */
static bool check_now(struct gcs_reader *r, uint64_t off)
{
	return (r->flags & GCS_OPEN_VERIFY) || off >= r->hdr.durable_end;
}

static int add_stream(struct gcs_reader *r, uint64_t off,
		      const struct gcs_rec_hdr *h)
{
	struct gcs_stream_ext e;
	struct gcs_stream_info *s;
	char *desc;
	int ret;

	memcpy(&e, r->hbuf + GCS_REC_HDR_LEN, sizeof(e));
	for (size_t i = 0; i < r->n_streams; i++) {
		if (r->streams[i].id == e.stream) {
			r->info.n_conflicts++;	/* declared twice: keep the first */
			return 1;
		}
	}
	ret = read_body(r, off + h->hdr_len, h->body_len, h->body_crc, &r->buf,
			&r->buf_cap);
	if (ret)
		return ret;
	desc = strndup((const char *)r->buf, h->body_len);
	if (!desc)
		return -ENOMEM;
	ret = GCS_ARRAY_GROW(r->streams, r->n_streams, r->cap_streams);
	if (ret) {
		free(desc);
		return ret;
	}
	s = &r->streams[r->n_streams++];
	*s = (struct gcs_stream_info){
		.id = e.stream, .kind = e.kind, .record_size = e.record_size,
		.ts_offset = e.ts_offset, .ts_clock = e.ts_clock,
		.desc_json = desc, .decl_off = off,
	};
	return 0;
}

static int add_meta(struct gcs_reader *r, uint64_t off,
		    const struct gcs_rec_hdr *h)
{
	int ret;

	if (r->meta) {
		r->info.n_conflicts++;	/* the first META is the session's */
		return 1;
	}
	ret = read_body(r, off + h->hdr_len, h->body_len, h->body_crc, &r->buf,
			&r->buf_cap);
	if (ret)
		return ret;
	r->meta = strndup((const char *)r->buf, h->body_len);
	return r->meta ? 0 : -ENOMEM;
}

static int add_chunk(struct gcs_reader *r, uint64_t off,
		     const struct gcs_rec_hdr *h)
{
	struct gcs_chunk_ext c;
	struct lchunk *lc;
	int ret;

	memcpy(&c, r->hbuf + GCS_REC_HDR_LEN, sizeof(c));
	if (r->flags & GCS_OPEN_STREAM) {
		/* Kept nowhere: the cursor finds the header again. */
		if (!stream_by_id(r, c.stream))
			r->stream_irregular = true;
		if (!check_now(r, off))
			return 0;
		return read_body(r, off + h->hdr_len, h->body_len, h->body_crc,
				 &r->buf, &r->buf_cap);
	}
	ret = GCS_ARRAY_GROW(r->chunks, r->n_chunks, r->cap_chunks);
	if (ret)
		return ret;
	lc = &r->chunks[r->n_chunks];
	*lc = (struct lchunk){
		.ci = {
			.orig_off = off, .stream = c.stream,
			.n_records = c.n_records, .first_seq = c.first_seq,
			.last_seq = c.last_seq, .t_first_ns = c.t_first_ns,
			.t_last_ns = c.t_last_ns, .raw_len = h->body_len,
			.raw_crc = h->body_crc, .flags = c.flags,
			.have_raw = true, .raw_body_off = off + h->hdr_len,
		},
		.raw_hdr_len = h->hdr_len, .raw_body_crc = h->body_crc,
		.raw_size = h->size,
	};
	if (check_now(r, off)) {
		ret = read_body(r, off + h->hdr_len, h->body_len, h->body_crc,
				&r->buf, &r->buf_cap);
		if (ret == -EBADMSG)
			lc->raw_bad = true;
		else if (ret)
			return ret;
	}
	r->n_chunks++;
	return lc->raw_bad ? -EBADMSG : 0;
}

static int add_zchunk(struct gcs_reader *r, uint64_t off,
		      const struct gcs_rec_hdr *h)
{
	struct gcs_zchunk_ext z;
	struct zrec *zr;
	uint64_t at = 0;
	int ret;

	memcpy(&z, r->hbuf + GCS_REC_HDR_LEN, sizeof(z));
	ret = GCS_ARRAY_GROW(r->zrecs, r->n_zrecs, r->cap_zrecs);
	if (ret)
		return ret;
	zr = &r->zrecs[r->n_zrecs];
	*zr = (struct zrec){
		.off = off, .hdr_len = h->hdr_len, .body_len = h->body_len,
		.body_crc = h->body_crc, .size = h->size, .raw_len = z.raw_len,
		.stream = z.stream,
	};
	if (check_now(r, off)) {
		ret = read_body(r, off + h->hdr_len, h->body_len, h->body_crc,
				&r->zbuf, &r->zbuf_cap);
		if (ret == -EBADMSG)
			return -EBADMSG;	/* the caller decides: torn or damaged */
		if (ret)
			return ret;
	}
	for (uint32_t i = 0; i < z.n_parts; i++) {
		struct gcs_zpart p;
		struct lchunk *lc;

		memcpy(&p, r->hbuf + GCS_ZCHUNK_HDR_LEN(i), sizeof(p));
		if (p.orig_off >= off) {	/* parts replace earlier chunks */
			r->info.n_conflicts++;
			at += p.raw_len;
			continue;
		}
		zr->n_live++;
		if (r->flags & GCS_OPEN_STREAM) {
			if (!stream_by_id(r, z.stream))
				r->stream_irregular = true;
			continue;
		}
		ret = GCS_ARRAY_GROW(r->chunks, r->n_chunks, r->cap_chunks);
		if (ret)
			return ret;
		lc = &r->chunks[r->n_chunks++];
		*lc = (struct lchunk){
			.ci = {
				.orig_off = p.orig_off, .stream = z.stream,
				.n_records = p.n_records,
				.first_seq = p.first_seq, .last_seq = p.last_seq,
				.t_first_ns = p.t_first_ns,
				.t_last_ns = p.t_last_ns, .raw_len = p.raw_len,
				.raw_crc = p.raw_crc, .flags = p.flags,
				.have_zstd = true, .zoff = off, .zpart = i,
			},
			.part_crc = p.raw_crc, .part_at = at,
			.zrec = (uint32_t)r->n_zrecs, .is_part = true,
		};
		at += p.raw_len;
	}
	r->n_zrecs++;
	return 0;
}

static int add_event(struct gcs_reader *r, uint64_t off,
		     const struct gcs_rec_hdr *h)
{
	const uint8_t *ext = r->hbuf + GCS_REC_HDR_LEN;
	int ret;

	if (h->body_len && check_now(r, off)) {
		/* 1.0 writes none; a later minor version may. Still checked. */
		ret = read_body(r, off + h->hdr_len, h->body_len, h->body_crc,
				&r->buf, &r->buf_cap);
		if (ret)
			return ret;
	}
	if (h->type == GCS_REC_MARKER) {
		struct gcs_marker_ext m;

		memcpy(&m, ext, sizeof(m));
		ret = GCS_ARRAY_GROW(r->markers, r->n_markers, r->cap_markers);
		if (ret)
			return ret;
		r->markers[r->n_markers++] = (struct gcs_marker){
			.off = off, .code = m.code, .stream = m.stream,
			.t_ns = m.t_ns, .value = m.value,
		};
	} else if (h->type == GCS_REC_GAP) {
		struct gcs_gap_ext g;

		memcpy(&g, ext, sizeof(g));
		ret = GCS_ARRAY_GROW(r->gaps, r->n_gaps, r->cap_gaps);
		if (ret)
			return ret;
		r->gaps[r->n_gaps++] = (struct gcs_gap){
			.off = off, .stream = g.stream, .reason = g.reason,
			.first_seq = g.first_seq, .last_seq = g.last_seq,
			.t_start_ns = g.t_start_ns, .t_end_ns = g.t_end_ns,
		};
	} else {
		struct gcs_clock_ext c;

		memcpy(&c, ext, sizeof(c));
		ret = GCS_ARRAY_GROW(r->clocks, r->n_clocks, r->cap_clocks);
		if (ret)
			return ret;
		r->clocks[r->n_clocks++] = (struct gcs_clock_rec){
			.off = off,
			.s = {
				.stream = c.stream, .flags = c.flags,
				.device_ns = c.device_ns, .mono_ns = c.mono_ns,
				.real_ns = c.real_ns, .boot_ns = c.boot_ns,
				.uncertainty_ns = c.uncertainty_ns,
			},
		};
	}
	return 0;
}

/* A body we do not interpret is still checked when checks are due. */
static int check_body(struct gcs_reader *r, uint64_t off,
		      const struct gcs_rec_hdr *h)
{
	if (!h->body_len || !check_now(r, off))
		return 0;
	return read_body(r, off + h->hdr_len, h->body_len, h->body_crc,
			 &r->zbuf, &r->zbuf_cap);
}

/*
 * Take in the record at @off whose header checked out. Returns 0 when
 * taken, -EBADMSG when its body failed its CRC, -errno on other errors.
 */
static int take_record(struct gcs_reader *r, uint64_t off,
		       const struct gcs_rec_hdr *h)
{
	int ret, slot = type_slot(h->type);

	switch (h->type) {
	case GCS_REC_META:
		ret = add_meta(r, off, h);
		break;
	case GCS_REC_STREAM:
		ret = add_stream(r, off, h);
		break;
	case GCS_REC_CHUNK:
		ret = add_chunk(r, off, h);
		break;
	case GCS_REC_ZCHUNK:
		ret = add_zchunk(r, off, h);
		break;
	case GCS_REC_CLOCK:
	case GCS_REC_MARKER:
	case GCS_REC_GAP:
		ret = add_event(r, off, h);
		break;
	case GCS_REC_PAD:
		r->info.n_pad++;
		ret = 0;
		break;
	case GCS_REC_INDEX:
		/* Only the header's index_off names the index that counts. */
		ret = check_body(r, off, h);
		break;
	default:
		/* A newer minor version's; counted even with a damaged body. */
		ret = check_body(r, off, h);
		r->info.n_unknown++;
		break;
	}
	if (ret < 0 && ret != -EBADMSG)
		return ret;
	if (ret == 1)
		ret = 0;	/* a duplicate: valid but ignored */
	if (slot >= 0)
		r->info.n_by_type[slot]++;
	r->info.n_records++;
	/* Recovery's list of every record: not kept when streaming. */
	if (h->type != GCS_REC_PAD && h->type != GCS_REC_INDEX &&
	    !(r->flags & GCS_OPEN_STREAM)) {
		int g = GCS_ARRAY_GROW(r->recs, r->n_recs, r->cap_recs);
		uint32_t stream = GCS_STREAM_NONE;

		if (g)
			return g;
		if (h->type == GCS_REC_CHUNK || h->type == GCS_REC_ZCHUNK ||
		    h->type == GCS_REC_STREAM)
			memcpy(&stream, r->hbuf + GCS_REC_HDR_LEN, 4);
		r->recs[r->n_recs++] = (struct gcs_index_entry){
			.off = off, .type = h->type, .stream = stream,
		};
	}
	return ret;
}

/* Undo take_record() for a record at the torn end of the file. */
static void untake_last(struct gcs_reader *r, const struct gcs_rec_hdr *h)
{
	int slot = type_slot(h->type);

	if (h->type == GCS_REC_CHUNK && !(r->flags & GCS_OPEN_STREAM))
		r->n_chunks--;
	if (slot >= 0)
		r->info.n_by_type[slot]--;
	else if (h->type != GCS_REC_PAD)
		r->info.n_unknown--;
	r->info.n_records--;
	if (h->type != GCS_REC_PAD && h->type != GCS_REC_INDEX &&
	    !(r->flags & GCS_OPEN_STREAM))
		r->n_recs--;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/*
 * The index of a closed file, read only to name the records a lost range
 * held: its entries must point, in increasing order, below the index.
 */
static void load_index(struct gcs_reader *r)
{
	uint64_t ioff = r->hdr.index_off;
	struct gcs_index_ext x;
	struct gcs_rec_hdr h;

	r->idx_state = -1;
	if (r->hdr.state == GCS_STATE_OPEN || ioff < r->hdr.data_start ||
	    read_rec_hdr(r, ioff, &h) || h.type != GCS_REC_INDEX)
		return;
	memcpy(&x, r->hbuf + GCS_REC_HDR_LEN, sizeof(x));
	if (read_body(r, ioff + h.hdr_len, h.body_len, h.body_crc, &r->zbuf,
		      &r->zbuf_cap))
		return;
	r->idx = malloc(h.body_len ? h.body_len : 1);
	if (!r->idx)
		return;
	memcpy(r->idx, r->zbuf, h.body_len);
	for (uint32_t i = 0; i < x.n_entries; i++) {
		if (r->idx[i].off >= ioff || (i && r->idx[i].off <= r->idx[i - 1].off)) {
			free(r->idx);
			r->idx = NULL;
			return;
		}
	}
	r->n_idx = x.n_entries;
	r->idx_state = 1;
}

/* First index entry at or after @off. */
static size_t idx_lower(const struct gcs_index_entry *e, size_t n, uint64_t off)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * After a record that failed below the durable mark: the next 8-aligned
 * offset, up to @limit, where a record header checks out. The salted CRC
 * makes stale or foreign bytes fail, so a match is a record of this file.
 */
static int resync(struct gcs_reader *r, uint64_t from, uint64_t limit,
		  uint64_t *next)
{
	uint8_t blk[4096];
	struct gcs_rec_hdr h;

	limit = gcs_min_u64(limit, r->size - sizeof(h));
	for (uint64_t p = from; p <= limit;) {
		size_t n = (size_t)gcs_min_u64(sizeof(blk), r->size - p);
		int ret = src_read(r, p, blk, n);

		if (ret)
			return ret;
		for (size_t i = 0; i + 4 <= n && p + i <= limit; i += GCS_REC_ALIGN) {
			uint32_t magic;

			memcpy(&magic, blk + i, sizeof(magic));
			if (magic != GCS_REC_MAGIC)
				continue;
			ret = read_rec_hdr(r, p + i, &h);
			if (!ret || ret == -EPROTONOSUPPORT) {
				*next = p + i;
				return 0;
			}
			if (ret != -EBADMSG && ret != -ENODATA)
				return ret;
		}
		p += n & ~(size_t)(GCS_REC_ALIGN - 1);
		if (n < GCS_REC_ALIGN)
			break;
	}
	return -ENOENT;
}

/* Note the stretch [off, end) as lost, with what the index says it held. */
static int add_lost(struct gcs_reader *r, uint64_t off, uint64_t end)
{
	struct gcs_lost_range *l;
	int ret;

	ret = GCS_ARRAY_GROW(r->lost, r->n_lost, r->cap_lost);
	if (ret)
		return ret;
	l = &r->lost[r->n_lost++];
	*l = (struct gcs_lost_range){ .off = off, .end = end,
				      .n_records = GCS_COUNT_UNKNOWN };
	r->info.n_lost_ranges++;
	r->info.lost_bytes += end - off;
	if (!r->idx_state)
		load_index(r);
	if (r->idx_state < 0) {
		r->info.lost_records_known = false;
		return 0;
	}
	l->n_records = 0;
	for (size_t i = idx_lower(r->idx, r->n_idx, off);
	     i < r->n_idx && r->idx[i].off < end; i++) {
		ret = GCS_ARRAY_GROW(r->lost_recs, r->n_lost_recs,
				     r->cap_lost_recs);
		if (ret)
			return ret;
		r->lost_recs[r->n_lost_recs++] = r->idx[i];
		l->n_records++;
		l->n_chunks += r->idx[i].type == GCS_REC_CHUNK ||
			       r->idx[i].type == GCS_REC_ZCHUNK;
		r->info.n_lost_records++;
	}
	return 0;
}

/*
 * The walk (4.5): from the first record on. Below the durable mark a
 * record that fails is damage, not the end: the walk resynchronises at the
 * next valid record header and notes the stretch in between as lost.
 */
static int walk(struct gcs_reader *r)
{
	uint64_t off = r->hdr.data_start, next;
	uint64_t durable = gcs_min_u64(r->hdr.durable_end, r->size);
	int ret;

	r->info.tail = GCS_TAIL_CLEAN;
	r->info.lost_records_known = true;
	while (off < r->size) {
		struct gcs_rec_hdr h;
		uint32_t tail;

		if (r->size - off < sizeof(h)) {
			uint8_t rest[sizeof(h)];
			size_t n = (size_t)(r->size - off);

			ret = src_read(r, off, rest, n);
			if (ret)
				return ret;
			r->info.tail = all_zero(rest, gcs_min_u64(n, 4)) ?
				       GCS_TAIL_UNCOMMITTED : GCS_TAIL_TORN;
			break;
		}
		ret = read_rec_hdr(r, off, &h);
		if (ret == -EPROTONOSUPPORT) {
			r->info.n_unknown++;
			r->info.n_records++;
			off += h.size;
			continue;
		}
		if (ret == -ENODATA || ret == -EBADMSG) {
			/*
			 * No commit word: unwritten space, or a record that
			 * was never published (4.3). Anything else is torn.
			 */
			tail = ret == -ENODATA ? GCS_TAIL_SHORT :
			       h.magic == 0 ? GCS_TAIL_UNCOMMITTED : GCS_TAIL_TORN;
			if (off < durable) {
				ret = resync(r, off + GCS_REC_ALIGN, durable, &next);
				if (ret && ret != -ENOENT)
					return ret;
				if (!ret) {
					ret = add_lost(r, off, next);
					if (ret)
						return ret;
					off = next;
					continue;
				}
			}
			r->info.tail = tail;
			break;
		}
		if (ret)
			return ret;
		ret = take_record(r, off, &h);
		if (ret == -EBADMSG) {
			if (off >= r->hdr.durable_end) {
				/* Past the durable mark: a torn write (7.4). */
				untake_last(r, &h);
				r->info.tail = GCS_TAIL_TORN;
				break;
			}
			/* A raw chunk may be reclaimed on purpose: see merge. */
			if (h.type != GCS_REC_CHUNK)
				r->info.n_damaged++;
			ret = 0;
		}
		if (ret)
			return ret;
		off += h.size;
	}
	/* Past the end only if the file stops inside its header blocks. */
	r->info.valid_end = off;
	return 0;
}

/* The index (4.9): used only when everything about it checks out. */
static int use_index(struct gcs_reader *r)
{
	struct gcs_index_entry *e;
	struct gcs_rec_hdr h;
	struct gcs_index_ext x;
	uint64_t prev = 0, ioff = r->hdr.index_off;
	int ret;

	if (r->hdr.state == GCS_STATE_OPEN || ioff < r->hdr.data_start ||
	    r->hdr.end_off != r->size)
		return -ENOENT;
	ret = read_rec_hdr(r, ioff, &h);
	if (ret || h.type != GCS_REC_INDEX || ioff + h.size != r->hdr.end_off)
		return -ENOENT;
	memcpy(&x, r->hbuf + GCS_REC_HDR_LEN, sizeof(x));
	ret = read_body(r, ioff + h.hdr_len, h.body_len, h.body_crc, &r->zbuf,
			&r->zbuf_cap);
	if (ret)
		return ret == -EBADMSG ? -ENOENT : ret;
	/* The body buffer is reused below: keep the entries apart. */
	e = malloc(h.body_len ? h.body_len : 1);
	if (!e)
		return -ENOMEM;
	memcpy(e, r->zbuf, h.body_len);
	for (uint32_t i = 0; i < x.n_entries; i++) {
		struct gcs_rec_hdr rh;

		if (e[i].off < r->hdr.data_start || e[i].off >= ioff ||
		    (i && e[i].off <= prev)) {
			ret = -ENOENT;
			break;
		}
		prev = e[i].off;
		ret = read_rec_hdr(r, e[i].off, &rh);
		if (ret || rh.type != e[i].type || rh.type == GCS_REC_INDEX ||
		    e[i].off + rh.size > ioff) {
			ret = ret && ret != -EBADMSG && ret != -ENODATA &&
			      ret != -EPROTONOSUPPORT ? ret : -ENOENT;
			break;
		}
		ret = take_record(r, e[i].off, &rh);
		if (ret) {
			ret = ret == -EBADMSG ? -ENOENT : ret;
			break;
		}
	}
	free(e);
	if (ret)
		return ret;
	r->idx_body_off = ioff + h.hdr_len;
	r->idx_entries = x.n_entries;
	r->info.n_records++;	/* the index itself */
	r->info.n_by_type[type_slot(GCS_REC_INDEX)]++;
	r->info.valid_end = r->hdr.end_off;
	r->info.tail = GCS_TAIL_CLEAN;
	r->info.used_index = true;
	return 0;
}

/* ---- Logical chunks and streams (8.3) ------------------------------------ */

static int cmp_lchunk(const void *a, const void *b)
{
	const struct lchunk *x = a, *y = b;

	if (x->ci.orig_off != y->ci.orig_off)
		return x->ci.orig_off < y->ci.orig_off ? -1 : 1;
	if (x->is_part != y->is_part)
		return x->is_part ? 1 : -1;	/* the raw record first */
	return x->ci.zoff < y->ci.zoff ? -1 : x->ci.zoff > y->ci.zoff;
}

static bool same_chunk(const struct gcs_chunk_info *a,
		       const struct gcs_chunk_info *b)
{
	return a->stream == b->stream && a->n_records == b->n_records &&
	       a->first_seq == b->first_seq && a->last_seq == b->last_seq &&
	       a->t_first_ns == b->t_first_ns && a->t_last_ns == b->t_last_ns &&
	       a->raw_len == b->raw_len && a->raw_crc == b->raw_crc &&
	       a->flags == b->flags;
}

/* Does @off lie in a lost range (4.5)? */
static bool in_lost(const struct gcs_reader *r, uint64_t off)
{
	size_t lo = 0, hi = r->n_lost;

	while (lo < hi) {	/* the first range starting past @off */
		size_t mid = lo + (hi - lo) / 2;

		if (r->lost[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && off < r->lost[lo - 1].end;
}

static bool pad_at(struct gcs_reader *r, uint64_t off)
{
	struct gcs_rec_hdr h;

	return !read_rec_hdr(r, off, &h) && h.type == GCS_REC_PAD;
}

/* One entry per logical chunk: a raw record and/or a part (8.3). */
static void merge_chunks(struct gcs_reader *r)
{
	size_t i, out = 0;

	if (r->n_chunks)
		qsort(r->chunks, r->n_chunks, sizeof(*r->chunks), cmp_lchunk);
	for (i = 0; i < r->n_chunks; i++) {
		struct lchunk *c = &r->chunks[i];
		struct lchunk *prev = out ? &r->chunks[out - 1] : NULL;

		if (prev && prev->ci.orig_off == c->ci.orig_off) {
			if (!c->is_part || prev->ci.have_zstd ||
			    !same_chunk(&prev->ci, &c->ci)) {
				r->info.n_conflicts++;
				continue;
			}
			prev->ci.have_zstd = true;
			prev->ci.zoff = c->ci.zoff;
			prev->ci.zpart = c->ci.zpart;
			prev->part_crc = c->part_crc;
			prev->part_at = c->part_at;
			prev->zrec = c->zrec;
			continue;
		}
		/*
		 * The walk saw no chunk there, and no damage explains it: a
		 * lost range, or the PAD salvage put over one (9.2).
		 */
		if (c->is_part && !r->info.used_index &&
		    !in_lost(r, c->ci.orig_off) && !pad_at(r, c->ci.orig_off))
			r->info.n_orphan_parts++;
		r->chunks[out++] = *c;
	}
	r->n_chunks = out;
	for (i = 0; i < r->n_chunks; i++) {
		struct lchunk *c = &r->chunks[i];

		c->ci.form = c->ci.have_zstd ? GCS_FORM_ZSTD : GCS_FORM_RAW;
		c->ci.status = c->raw_bad && !c->ci.have_zstd ?
			       GCS_CHUNK_LOST : GCS_CHUNK_UNVERIFIED;
	}
}

/* ---- Streaming cursor (GCS_OPEN_STREAM) ------------------------------------- */

/* read_rec_hdr()'s answers that mean "no valid record here", not an error. */
static bool not_a_record(int ret)
{
	return ret == -EBADMSG || ret == -ENODATA || ret == -EPROTONOSUPPORT;
}

static void scur_reset(struct gcs_reader *r, uint32_t stream, const void *owner)
{
	struct scur *c = &r->cur;
	uint8_t *zhdr = c->zhdr;
	struct win w = c->rwin;

	*c = (struct scur){ .stream = stream, .active = true, .owner = owner,
			    .roff = r->hdr.data_start, .zhdr = zhdr, .rwin = w };
	/*
	 * Every chunk of the stream was a raw chunk and a part that agree
	 * (8.3), as the open found them: the parts alone give the same chunks,
	 * with no scan of the file's raw headers. A part that fails its check
	 * still finds its raw copy (probe_raw()).
	 */
	for (size_t k = 0; k < r->m.n_sc && r->m.paired; k++)
		if (r->m.sc[k].stream == stream && r->m.paired[k])
			c->parts_only = c->r_done = true;
	r->m.active = false;
	r->last = NULL;
	/* One stream now: the other slots' data would only stay resident. */
	for (size_t k = 0; k < ZCACHE_SLOTS; k++) {
		if (k == stream % ZCACHE_SLOTS)
			continue;
		free(r->zc[k].data);
		r->zc[k] = (struct zcache){ 0 };
	}
}

/* Does a lost range (4.5) start exactly at @off? Its end, or 0. */
static uint64_t lost_at(const struct gcs_reader *r, uint64_t off)
{
	size_t lo = 0, hi = r->n_lost;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->lost[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n_lost && r->lost[lo].off == off ? r->lost[lo].end : 0;
}

/*
 * The next raw CHUNK of the cursor's stream, as add_chunk() would list it.
 * The scan steps over records as the walk did (to valid_end, jumping lost
 * ranges), reading headers only.
 */
/* Where the next CHUNK of @c's stream (or any) is: 1 and its header, or 0. */
static int scan_raw(struct gcs_reader *r, struct scur *c, uint64_t *at,
		    struct gcs_rec_hdr *h)
{
	uint64_t end = gcs_min_u64(r->info.valid_end, r->size);
	struct gcs_index_entry ie;
	uint32_t stream;
	int ret;

	/* An index-opened file has exactly the records its index lists. */
	while (r->info.used_index && c->ri < r->idx_entries) {
		ret = win_read(r, &c->rwin, SCAN_WIN_SIZE,
			       r->idx_body_off + c->ri++ * sizeof(ie), &ie, sizeof(ie));
		if (ret)
			return ret;
		if (ie.type != GCS_REC_CHUNK)
			continue;
		/* The record's own stream counts, as it did at open. */
		ret = read_rec_hdr(r, ie.off, h);
		if (ret)
			return not_a_record(ret) ? -EAGAIN : ret;	/* it read fine */
		memcpy(&stream, r->hbuf + GCS_REC_HDR_LEN, sizeof(stream));
		if (c->stream != GCS_STREAM_NONE && stream != c->stream)
			continue;
		*at = ie.off;
		return 1;
	}
	while (!r->info.used_index && c->roff < end) {
		uint64_t off = c->roff, skip;

		ret = read_rec_hdr_w(r, &c->rwin, SCAN_WIN_SIZE, off, h);
		if (ret == -EPROTONOSUPPORT) {
			c->roff += h->size;
			continue;
		}
		if (ret && !not_a_record(ret))
			return ret;
		if (ret) {
			skip = lost_at(r, off);
			if (!skip)
				break;
			c->roff = skip;
			continue;
		}
		c->roff += h->size;
		if (h->type != GCS_REC_CHUNK)
			continue;
		memcpy(&stream, r->hbuf + GCS_REC_HDR_LEN, sizeof(stream));
		if (c->stream != GCS_STREAM_NONE && stream != c->stream)
			continue;
		*at = off;
		return 1;
	}
	return 0;
}

static int scur_next_raw(struct gcs_reader *r, struct scur *c)
{
	struct gcs_rec_hdr h;
	struct gcs_chunk_ext e;
	uint64_t off = 0;
	int ret = scan_raw(r, c, &off, &h);

	if (ret == 1) {
		memcpy(&e, r->hbuf + GCS_REC_HDR_LEN, sizeof(e));
		c->rc = (struct lchunk){
			.ci = {
				.orig_off = off, .stream = e.stream,
				.n_records = e.n_records, .first_seq = e.first_seq,
				.last_seq = e.last_seq, .t_first_ns = e.t_first_ns,
				.t_last_ns = e.t_last_ns, .raw_len = h.body_len,
				.raw_crc = h.body_crc, .flags = e.flags,
				.have_raw = true, .raw_body_off = off + h.hdr_len,
			},
			.raw_hdr_len = h.hdr_len, .raw_body_crc = h.body_crc,
			.raw_size = h.size,
		};
		c->have_r = true;
		return 0;
	}
	if (!ret)
		c->r_done = true;
	return ret;
}

/* The next part of the stream's ZCHUNKs, as add_zchunk() would list it. */
static int scur_next_part(struct gcs_reader *r, struct scur *c)
{

	for (;;) {
		struct gcs_zchunk_ext e;
		struct gcs_rec_hdr h;
		struct gcs_zpart p;
		struct zrec *z;
		int ret;

		if (c->zp < c->zn) {
			z = &r->zrecs[c->zrec];
			memcpy(&p, c->zhdr + GCS_ZCHUNK_HDR_LEN(c->zp), sizeof(p));
			c->zp++;
			if (p.orig_off >= z->off) {	/* counted by the walk */
				c->zat += p.raw_len;
				continue;
			}
			c->zc = (struct lchunk){
				.ci = {
					.orig_off = p.orig_off, .stream = c->stream,
					.n_records = p.n_records,
					.first_seq = p.first_seq, .last_seq = p.last_seq,
					.t_first_ns = p.t_first_ns,
					.t_last_ns = p.t_last_ns, .raw_len = p.raw_len,
					.raw_crc = p.raw_crc, .flags = p.flags,
					.have_zstd = true, .zoff = z->off, .zpart = c->zp - 1,
				},
				.part_crc = p.raw_crc, .part_at = c->zat,
				.zrec = (uint32_t)c->zrec, .is_part = true,
			};
			c->zat += p.raw_len;
			c->have_z = true;
			return 0;
		}
		while (c->zi < r->n_zrecs && r->zrecs[c->zi].stream != c->stream)
			c->zi++;
		if (c->zi >= r->n_zrecs) {
			c->z_done = true;
			return 0;
		}
		z = &r->zrecs[c->zi];
		c->zrec = c->zi++;
		ret = read_rec_hdr(r, z->off, &h);
		if (ret && !not_a_record(ret))
			return ret;
		if (ret || h.type != GCS_REC_ZCHUNK)
			return -EAGAIN;	/* it read fine at open */
		if (!c->zhdr) {
			c->zhdr = malloc(GCS_MAX_HDR_LEN);
			if (!c->zhdr)
				return -ENOMEM;
		}
		memcpy(c->zhdr, r->hbuf, h.hdr_len);
		memcpy(&e, r->hbuf + GCS_REC_HDR_LEN, sizeof(e));
		c->zn = e.n_parts;
		c->zp = 0;
		c->zat = 0;
	}
}

/* Is the CHUNK whose header was just read (@h, r->hbuf) the chunk @ci? */
static bool raw_is(struct gcs_reader *r, const struct gcs_rec_hdr *h,
		   const struct gcs_chunk_info *ci)
{
	struct gcs_chunk_info raw = *ci;
	struct gcs_chunk_ext e;

	if (h->type != GCS_REC_CHUNK)
		return false;
	memcpy(&e, r->hbuf + GCS_REC_HDR_LEN, sizeof(e));
	raw.stream = e.stream;
	raw.n_records = e.n_records;
	raw.first_seq = e.first_seq;
	raw.last_seq = e.last_seq;
	raw.t_first_ns = e.t_first_ns;
	raw.t_last_ns = e.t_last_ns;
	raw.raw_len = h->body_len;
	raw.raw_crc = h->body_crc;
	raw.flags = e.flags;
	return same_chunk(&raw, ci);
}

/* Chunks of one kind come in increasing orig_off, as in the table. */
static int scur_in_order(bool *any, uint64_t *last, uint64_t off)
{
	if (*any && off <= *last)
		return -EAGAIN;
	*any = true;
	*last = off;
	return 0;
}

/* @c's raw chunk just found. */
static int scur_took_raw(struct scur *c)
{
	return scur_in_order(&c->any_r, &c->last_r, c->rc.ci.orig_off);
}

/* @c's next part, if it holds none. */
static int scur_fetch_part(struct gcs_reader *r, struct scur *c)
{
	int ret;

	if (c->have_z || c->z_done)
		return 0;
	ret = scur_next_part(r, c);
	if (ret || !c->have_z)
		return ret;
	return scur_in_order(&c->any_z, &c->last_z, c->zc.ci.orig_off);
}

/* scur_next() once @c holds its next raw chunk, or has none left. */
static int scur_merge(struct gcs_reader *r, struct scur *c)
{
	struct gcs_rec_hdr h;
	int ret;

	ret = scur_fetch_part(r, c);
	if (ret)
		return ret;
	if (!c->have_r && !c->have_z)
		return 0;
	if (c->have_r && c->have_z && c->rc.ci.orig_off == c->zc.ci.orig_off) {
		if (!same_chunk(&c->rc.ci, &c->zc.ci))
			return -EAGAIN;
		c->cur = c->rc;
		c->cur.ci.have_zstd = true;
		c->cur.ci.zoff = c->zc.ci.zoff;
		c->cur.ci.zpart = c->zc.ci.zpart;
		c->cur.part_crc = c->zc.part_crc;
		c->cur.part_at = c->zc.part_at;
		c->cur.zrec = c->zc.zrec;
		c->have_r = c->have_z = false;
	} else if (c->have_r && (!c->have_z || c->rc.ci.orig_off < c->zc.ci.orig_off)) {
		c->cur = c->rc;
		c->have_r = false;
		c->unpaired = true;
	} else if (c->parts_only) {
		c->cur = c->zc;
		c->have_z = false;
	} else {
		/*
		 * A part alone. Its raw record is still there, the same chunk,
		 * when only the index left it out (superseded); anything else
		 * (damage, salvage, another stream's chunk, a part claiming
		 * what another stream's part claims) needs the full table.
		 */
		ret = read_rec_hdr(r, c->zc.ci.orig_off, &h);
		if (ret && !not_a_record(ret))
			return ret;
		if (ret || !r->info.used_index || !raw_is(r, &h, &c->zc.ci))
			return -EAGAIN;
		c->cur = c->zc;
		c->have_z = false;
		c->unpaired = true;
	}
	c->cur.ci.form = c->cur.ci.have_zstd ? GCS_FORM_ZSTD : GCS_FORM_RAW;
	c->cur.ci.status = GCS_CHUNK_UNVERIFIED;
	c->index = c->have_cur ? c->index + 1 : 0;
	c->have_cur = true;
	r->last = c;
	return 1;
}

/*
 * The next logical chunk of the stream into c->cur: 1, or 0 at the end.
 * -EAGAIN: the file is not as this merge relies on (a part out of order,
 * a part that contradicts its chunk or stands alone); the caller then
 * reads the file with the full table.
 */
static int scur_next(struct gcs_reader *r)
{
	struct scur *c = &r->cur;
	int ret;

	if (!c->have_r && !c->r_done) {
		ret = scur_next_raw(r, c);
		if (ret)
			return ret;
		if (c->have_r) {
			ret = scur_took_raw(c);
			if (ret)
				return ret;
		}
	}
	return scur_merge(r, c);
}

static void mcur_reset(struct gcs_reader *r, const void *owner)
{
	struct mcur *m = &r->m;
	struct win w;

	for (size_t k = 0; k < m->n_sc; k++) {
		struct scur *c = &m->sc[k];
		uint8_t *zhdr = c->zhdr;

		*c = (struct scur){ .stream = r->streams[k].id, .active = true,
				    .zhdr = zhdr };
	}
	/* As scur_reset(): paired streams need no raw scan, together either. */
	m->parts_only = m->paired != NULL;
	for (size_t k = 0; k < m->n_sc && m->parts_only; k++)
		m->parts_only = m->paired[k];
	for (size_t k = 0; k < m->n_sc && m->parts_only; k++)
		m->sc[k].parts_only = m->sc[k].r_done = true;
	m->active = true;
	m->owner = owner;
	m->pend = NULL;
	m->drain = 0;
	w = m->scan.rwin;
	m->scan = (struct scur){ .stream = GCS_STREAM_NONE, .active = true,
				 .roff = r->hdr.data_start, .rwin = w };
	m->scan_done = m->parts_only;
	r->cur.active = false;
	r->last = NULL;
}

/* The cursor of stream @id, or NULL (a stream not declared). */
static struct scur *mcur_of(struct gcs_reader *r, uint32_t id)
{
	for (size_t k = 0; k < r->m.n_sc; k++)
		if (r->m.sc[k].stream == id)
			return &r->m.sc[k];
	return NULL;
}

/*
 * The next logical chunk of any stream: 1 and *@out the stream's cursor
 * (its chunk in (*out)->cur), 0 at the end, -EAGAIN as scur_next().
 */
static int mcur_next(struct gcs_reader *r, struct scur **out)
{
	struct mcur *m = &r->m;
	struct scur *c;
	int ret;

	if (m->parts_only) {
		struct scur *first = NULL;

		/* The streams' parts merged by orig_off: the raw records' order. */
		for (size_t k = 0; k < m->n_sc; k++) {
			c = &m->sc[k];
			ret = scur_fetch_part(r, c);
			if (ret)
				return ret;
			if (c->have_z && (!first || c->zc.ci.orig_off < first->zc.ci.orig_off))
				first = c;
		}
		if (!first)
			return 0;
		ret = scur_merge(r, first);
		if (ret == 1)
			*out = first;
		return ret;
	}
	for (;;) {
		if (m->pend) {
			c = m->pend;
			ret = scur_merge(r, c);
			if (ret < 0)
				return ret;
			/* A part alone may come first: the raw chunk waits. */
			if (!c->have_r)
				m->pend = NULL;
			if (ret == 1) {
				*out = c;
				return 1;
			}
			continue;
		}
		if (!m->scan_done) {
			ret = scur_next_raw(r, &m->scan);
			if (ret)
				return ret;
			if (m->scan.have_r) {
				m->scan.have_r = false;
				c = mcur_of(r, m->scan.rc.ci.stream);
				if (!c)
					continue;
				c->rc = m->scan.rc;
				c->have_r = true;
				ret = scur_took_raw(c);
				if (ret)
					return ret;
				m->pend = c;
				continue;
			}
			m->scan_done = true;
			for (size_t k = 0; k < m->n_sc; k++)
				m->sc[k].r_done = true;
		}
		while (m->drain < m->n_sc) {
			ret = scur_merge(r, &m->sc[m->drain]);
			if (ret == 1)
				*out = &m->sc[m->drain];
			if (ret)
				return ret;
			m->drain++;
		}
		return 0;
	}
}

/* One cursor per declared stream, made once the walk has found them. */
static int mcur_alloc(struct gcs_reader *r)
{
	struct mcur *m = &r->m;
	struct scur *sc;

	if (m->n_sc == r->n_streams && m->sc)
		return 0;
	for (size_t k = 0; k < m->n_sc; k++)
		free(m->sc[k].zhdr);
	sc = calloc(r->n_streams ? r->n_streams : 1, sizeof(*sc));
	free(m->sc);
	m->sc = sc;
	m->n_sc = sc ? r->n_streams : 0;
	return sc ? 0 : -ENOMEM;
}

static struct gcs_stream_info *stream_by_id(struct gcs_reader *r, uint32_t id)
{
	for (size_t i = 0; i < r->n_streams; i++)
		if (r->streams[i].id == id)
			return &r->streams[i];
	return NULL;
}

/*
 * Gap lookup (4.8) in O(log n): per stream, gaps sorted by where they start
 * (first_seq, or t_start for gaps of unknown sequence) with the furthest end
 * seen so far; a jump is explained when some gap starting at or before its
 * first missing point ends at or after its last.
 */
struct gap_key {
	uint32_t stream;
	uint64_t start;		/* first_seq, or t_start biased to unsigned */
	uint64_t end_max;	/* the largest end among this and earlier keys */
};

static uint64_t t_key(int64_t t)
{
	return (uint64_t)t ^ (1ull << 63);	/* keeps the order of int64 */
}

static int cmp_gap_key(const void *a, const void *b)
{
	const struct gap_key *x = a, *y = b;

	if (x->stream != y->stream)
		return x->stream < y->stream ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

struct gap_table {
	struct gap_key *seq, *time;
	size_t n_seq, n_time;
};

static int gap_table_build(struct gcs_reader *r, struct gap_table *t)
{
	memset(t, 0, sizeof(*t));
	t->seq = calloc(r->n_gaps + 1, sizeof(*t->seq));
	t->time = calloc(r->n_gaps + 1, sizeof(*t->time));
	if (!t->seq || !t->time)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_gaps; i++) {
		const struct gcs_gap *g = &r->gaps[i];

		if (g->first_seq == GCS_SEQ_UNKNOWN)
			t->time[t->n_time++] = (struct gap_key){
				g->stream, t_key(g->t_start_ns), t_key(g->t_end_ns) };
		else
			t->seq[t->n_seq++] = (struct gap_key){
				g->stream, g->first_seq, g->last_seq };
	}
	qsort(t->seq, t->n_seq, sizeof(*t->seq), cmp_gap_key);
	qsort(t->time, t->n_time, sizeof(*t->time), cmp_gap_key);
	for (size_t i = 1; i < t->n_seq; i++)
		if (t->seq[i].stream == t->seq[i - 1].stream &&
		    t->seq[i - 1].end_max > t->seq[i].end_max)
			t->seq[i].end_max = t->seq[i - 1].end_max;
	for (size_t i = 1; i < t->n_time; i++)
		if (t->time[i].stream == t->time[i - 1].stream &&
		    t->time[i - 1].end_max > t->time[i].end_max)
			t->time[i].end_max = t->time[i - 1].end_max;
	return 0;
}

static void gap_table_free(struct gap_table *t)
{
	free(t->seq);
	free(t->time);
}

/* Is there a key of @stream starting at or before @start that ends at or after @end? */
static bool gap_query(const struct gap_key *k, size_t n, uint32_t stream,
		      uint64_t start, uint64_t end)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {	/* first key past (stream, start) */
		size_t mid = lo + (hi - lo) / 2;

		if (k[mid].stream < stream ||
		    (k[mid].stream == stream && k[mid].start <= start))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && k[lo - 1].stream == stream && k[lo - 1].end_max >= end;
}

static bool gap_covers(const struct gap_table *t, uint32_t stream,
		       const struct gcs_chunk_info *prev,
		       const struct gcs_chunk_info *cur)
{
	if (gap_query(t->time, t->n_time, stream, t_key(cur->t_first_ns),
		      t_key(prev->t_last_ns)))
		return true;
	return cur->first_seq > prev->last_seq &&
	       gap_query(t->seq, t->n_seq, stream, prev->last_seq + 1,
			 cur->first_seq - 1);
}

/* Does a lost range lie between the records at offsets @a and @b? */
static bool lost_between(const struct gcs_reader *r, uint64_t a, uint64_t b)
{
	size_t lo = 0, hi = r->n_lost;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->lost[mid].off <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n_lost && r->lost[lo].off < b;
}

static void widen(struct gcs_reader *r, int64_t a, int64_t b)
{
	if (!r->have_span) {
		r->info.t_first_ns = a;
		r->info.t_last_ns = b;
		r->have_span = true;
		return;
	}
	if (a < r->info.t_first_ns)
		r->info.t_first_ns = a;
	if (b > r->info.t_last_ns)
		r->info.t_last_ns = b;
}

static void chunk_size(struct gcs_reader *r, const struct lchunk *c)
{
	r->info.raw_bytes += c->ci.raw_len;
	if (c->ci.have_raw && !c->ci.have_zstd)
		r->info.raw_stored += c->raw_size;
}

static void chunk_sizes(struct gcs_reader *r)
{
	for (size_t i = 0; i < r->n_chunks; i++)
		chunk_size(r, &r->chunks[i]);
	for (size_t i = 0; i < r->n_zrecs; i++)
		r->info.zstd_stored += r->zrecs[i].size;
}

/* Chunk @c of stream @s, after @prev (NULL for its first), into its sums. */
static void stat_chunk(struct gcs_reader *r, const struct gap_table *gt,
		       struct gcs_stream_info *s, const struct gcs_chunk_info *prev,
		       const struct gcs_chunk_info *c)
{
	if (s->record_size &&
	    (uint64_t)c->n_records * s->record_size != c->raw_len)
		s->n_bad_chunks++;
	if (!s->n_chunks) {
		s->first_seq = c->first_seq;
		s->t_first_ns = c->t_first_ns;
	}
	if (prev && c->first_seq != prev->last_seq + 1) {
		s->n_discont++;
		if (c->first_seq > prev->last_seq &&
		    lost_between(r, prev->orig_off, c->orig_off))
			/* Damage, not a capture gap: counted as lost. */
			s->lost_records += c->first_seq - prev->last_seq - 1;
		else if (!gap_covers(gt, s->id, prev, c))
			s->n_unexplained++;
	}
	s->n_chunks++;
	s->n_records += c->n_records;
	s->raw_bytes += c->raw_len;
	if (c->last_seq > s->last_seq || s->n_chunks == 1)
		s->last_seq = c->last_seq;
	if (c->t_last_ns > s->t_last_ns || s->n_chunks == 1)
		s->t_last_ns = c->t_last_ns;
	if (c->t_first_ns < s->t_first_ns)
		s->t_first_ns = c->t_first_ns;
	widen(r, c->t_first_ns, c->t_last_ns);
}

/*
 * GCS_OPEN_STREAM: the same sums over the chunks found again, every stream
 * in one scan; each stream's chunks still come in its own order.
 */
static int stream_stats_scan(struct gcs_reader *r, const struct gap_table *gt)
{
	struct gcs_chunk_info *last;
	struct scur *c;
	int ret;

	ret = mcur_alloc(r);
	if (ret)
		return ret;
	free(r->lost_after);
	r->lost_after = calloc(r->n_streams ? r->n_streams : 1, sizeof(*r->lost_after));
	if (!r->lost_after)
		return -ENOMEM;
	last = calloc(r->n_streams ? r->n_streams : 1, sizeof(*last));
	if (!last)
		return -ENOMEM;
	free(r->m.paired);
	r->m.paired = NULL;
	mcur_reset(r, NULL);
	while ((ret = mcur_next(r, &c)) == 1) {
		size_t k = (size_t)(c - r->m.sc);
		struct gcs_stream_info *s = &r->streams[k];

		stat_chunk(r, gt, s, c->index ? &last[k] : NULL, &c->cur.ci);
		chunk_size(r, &c->cur);
		r->n_stream_chunks++;
		last[k] = c->cur.ci;
	}
	r->m.active = false;
	r->last = NULL;
	free(last);
	if (!ret) {
		r->m.paired = calloc(r->m.n_sc ? r->m.n_sc : 1, sizeof(*r->m.paired));
		if (!r->m.paired)
			return -ENOMEM;
		for (size_t k = 0; k < r->m.n_sc; k++)
			r->m.paired[k] = !r->m.sc[k].unpaired;
	}
	return ret;
}

static int stream_stats(struct gcs_reader *r)
{
	struct gap_table gt;
	int ret = gap_table_build(r, &gt);

	if (ret) {
		gap_table_free(&gt);
		return ret;
	}
	for (size_t i = 0; i < r->n_gaps; i++) {
		struct gcs_gap *g = &r->gaps[i];
		struct gcs_stream_info *s = stream_by_id(r, g->stream);

		widen(r, g->t_start_ns, g->t_end_ns);
		if (!s)
			continue;
		s->n_gaps++;
		if (g->first_seq != GCS_SEQ_UNKNOWN)
			s->gap_records += g->last_seq - g->first_seq + 1;
	}
	for (size_t i = 0; i < r->n_markers; i++)
		widen(r, r->markers[i].t_ns, r->markers[i].t_ns);
	if (r->flags & GCS_OPEN_STREAM)
		ret = stream_stats_scan(r, &gt);
	for (size_t si = 0; si < r->n_streams && !(r->flags & GCS_OPEN_STREAM); si++) {
		struct gcs_stream_info *s = &r->streams[si];
		const struct gcs_chunk_info *prev = NULL;

		for (size_t i = 0; i < r->n_chunks; i++) {
			const struct gcs_chunk_info *c = &r->chunks[i].ci;

			if (c->stream != s->id)
				continue;
			stat_chunk(r, &gt, s, prev, c);
			prev = c;
		}
	}
	if (ret) {
		gap_table_free(&gt);
		return ret;
	}
	/* Chunks of undeclared streams can't be interpreted. */
	for (size_t i = 0; i < r->n_chunks; i++)
		if (!stream_by_id(r, r->chunks[i].ci.stream))
			r->info.n_conflicts++;
	for (size_t i = 0; i < r->n_lost_recs; i++) {
		struct gcs_stream_info *s = stream_by_id(r, r->lost_recs[i].stream);

		if (s && r->lost_recs[i].type == GCS_REC_CHUNK)
			s->n_lost_chunks++;
	}
	r->info.duration_ns = gcs_ns_diff(r->info.t_last_ns, r->info.t_first_ns);
	gap_table_free(&gt);
	return 0;
}

static bool policy_ok(struct gcs_reader *r)
{
	if (!r->meta || gcs_meta_check(r->meta, true, NULL))
		return false;
	for (size_t i = 0; i < r->n_streams; i++)
		if (gcs_meta_check(r->streams[i].desc_json, false, NULL))
			return false;
	return true;
}

static void reset_tables(struct gcs_reader *r)
{
	for (size_t i = 0; i < r->n_streams; i++)
		free((char *)r->streams[i].desc_json);
	free(r->meta);
	r->meta = NULL;
	r->n_streams = 0;
	r->n_chunks = 0;
	r->n_zrecs = 0;
	r->n_markers = 0;
	r->n_gaps = 0;
	r->n_clocks = 0;
	r->n_recs = 0;
	r->n_lost = 0;
	r->n_lost_recs = 0;
	memset(&r->info.valid_end, 0,
	       sizeof(r->info) - offsetof(struct gcs_file_info, valid_end));
	r->info.used_index = false;
	r->have_span = false;
	for (size_t k = 0; k < ZCACHE_SLOTS; k++)
		r->zc[k].valid = false;
	r->stream_irregular = false;
	r->n_stream_chunks = 0;
	free(r->lost_after);
	r->lost_after = NULL;
	r->cur.active = false;
	r->cur.have_cur = false;
	r->m.active = false;
	free(r->m.paired);
	r->m.paired = NULL;
	r->last = NULL;
}

static int load_tables(struct gcs_reader *r)
{
	int ret = -ENOENT;

	if (r->flags & GCS_OPEN_USE_INDEX) {
		ret = use_index(r);
		if (ret && ret != -ENOENT)
			return ret;
		if (ret)
			reset_tables(r);
	}
	if (ret) {
		ret = walk(r);
		if (ret)
			return ret;
	}
	/* Nothing lost, or the index named all of it. */
	if (!r->n_lost)
		r->info.lost_records_known = true;
	if (r->stream_irregular)
		return -EAGAIN;
	merge_chunks(r);
	chunk_sizes(r);
	ret = stream_stats(r);
	if (ret)
		return ret;
	r->info.stored_bytes = r->info.raw_stored + r->info.zstd_stored;
	r->info.meta_policy_ok = policy_ok(r);
	/* Known lost at open; the others are counted as they are read. */
	for (size_t i = 0; i < r->n_chunks; i++) {
		const struct gcs_chunk_info *c = &r->chunks[i].ci;
		struct gcs_stream_info *s;

		if (c->status != GCS_CHUNK_LOST)
			continue;
		r->info.n_lost++;
		s = stream_by_id(r, c->stream);
		if (s) {
			s->n_lost_chunks++;
			s->lost_records += c->n_records;
		}
	}
	if (r->flags & GCS_OPEN_VERIFY) {
		for (size_t i = 0; i < r->n_chunks; i++) {
			const uint8_t *d;
			uint32_t len;

			ret = gcs_reader_chunk_data(r, i, &d, &len);
			if (ret && ret != -EBADMSG)
				return ret;
		}
	}
	return 0;
}

static int load(struct gcs_reader *r)
{
	int ret;

	r->hbuf = malloc(GCS_MAX_HDR_LEN);
	if (!r->hbuf)
		return -ENOMEM;
	r->info.file_size = r->size;
	ret = read_file_header(r);
	if (ret)
		return ret;
	/* Streaming hands out chunks one at a time: checking all is not that. */
	if (r->flags & GCS_OPEN_VERIFY)
		r->flags &= ~GCS_OPEN_STREAM;
	ret = load_tables(r);
	if (ret == -EAGAIN && (r->flags & GCS_OPEN_STREAM)) {
		/* Out of the order streaming needs: the full index after all. */
		reset_tables(r);
		r->flags &= ~GCS_OPEN_STREAM;
		ret = load_tables(r);
	}
	if (!ret && (r->flags & GCS_OPEN_STREAM))
		r->info.streamed = true;
	return ret;
}

static int reader_new(struct gcs_reader **rp, unsigned int flags)
{
	struct gcs_reader *r = calloc(1, sizeof(*r));

	*rp = r;
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->flags = flags;
	return 0;
}

int gcs_reader_open_fd(struct gcs_reader **rp, int fd, unsigned int flags)
{
	struct gcs_reader *r;
	struct stat sb;
	int ret;

	ret = reader_new(&r, flags);
	if (ret)
		return ret;
	r->fd = fd;
	if (fstat(fd, &sb)) {
		ret = -errno;
		goto err;
	}
	if (!S_ISREG(sb.st_mode)) {
		ret = S_ISDIR(sb.st_mode) ? -EISDIR : -GCS_ENOTFILE;
		goto err;
	}
	r->size = (uint64_t)sb.st_size;
	r->info.allocated = (uint64_t)sb.st_blocks * 512;
	ret = load(r);
	if (ret)
		goto err;
	*rp = r;
	return 0;
err:
	gcs_reader_close(r);
	*rp = NULL;
	return ret;
}

int gcs_reader_open(struct gcs_reader **rp, const char *path, unsigned int flags)
{
	/* Non-blocking: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int ret;

	*rp = NULL;
	if (fd < 0)
		return -errno;
	ret = gcs_reader_open_fd(rp, fd, flags);
	if (ret) {
		close(fd);
		return ret;
	}
	(*rp)->own_fd = true;
	return 0;
}

int gcs_reader_open_mem(struct gcs_reader **rp, const void *buf, size_t len,
			unsigned int flags)
{
	struct gcs_reader *r;
	int ret;

	ret = reader_new(&r, flags);
	if (ret)
		return ret;
	r->mem = buf;
	r->size = len;
	ret = load(r);
	if (ret) {
		gcs_reader_close(r);
		*rp = NULL;
		return ret;
	}
	*rp = r;
	return 0;
}

void gcs_reader_close(struct gcs_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	for (size_t i = 0; i < r->n_streams; i++)
		free((char *)r->streams[i].desc_json);
	free(r->streams);
	free(r->meta);
	free(r->chunks);
	free(r->zrecs);
	free(r->markers);
	free(r->gaps);
	free(r->clocks);
	free(r->recs);
	free(r->lost);
	free(r->lost_recs);
	free(r->idx);
	free(r->win.p);
	free(r->cur.rwin.p);
	free(r->cur.zhdr);
	for (size_t k = 0; k < r->m.n_sc; k++)
		free(r->m.sc[k].zhdr);
	free(r->m.sc);
	free(r->m.paired);
	free(r->lost_after);
	free(r->m.scan.rwin.p);
	free(r->hbuf);
	free(r->buf);
	free(r->zbuf);
	for (size_t k = 0; k < ZCACHE_SLOTS; k++)
		free(r->zc[k].data);
	free(r);
}

/* ---- Accessors ------------------------------------------------------------- */

const struct gcs_file_info *gcs_reader_info(const struct gcs_reader *r)
{
	return &r->info;
}

const char *gcs_reader_meta(const struct gcs_reader *r)
{
	return r->meta;
}

size_t gcs_reader_n_streams(const struct gcs_reader *r)
{
	return r->n_streams;
}

const struct gcs_stream_info *gcs_reader_stream(const struct gcs_reader *r,
						size_t i)
{
	return i < r->n_streams ? &r->streams[i] : NULL;
}

const struct gcs_stream_info *gcs_reader_stream_by_id(const struct gcs_reader *r,
						      uint32_t id)
{
	return stream_by_id((struct gcs_reader *)r, id);
}

size_t gcs_reader_n_chunks(const struct gcs_reader *r)
{
	return r->flags & GCS_OPEN_STREAM ? r->n_stream_chunks : r->n_chunks;
}

/* GCS_OPEN_STREAM: only the chunk handed out last is at hand. */
static struct lchunk *stream_chunk(const struct gcs_reader *r, size_t i)
{
	const struct scur *c = r->last;

	return c && c->active && c->have_cur && c->index == i ?
	       (struct lchunk *)&c->cur : NULL;
}

const struct gcs_chunk_info *gcs_reader_chunk(const struct gcs_reader *r,
					      size_t i)
{
	const struct lchunk *c;

	if (r->flags & GCS_OPEN_STREAM) {
		c = stream_chunk(r, i);
		return c ? &c->ci : NULL;
	}
	return i < r->n_chunks ? &r->chunks[i].ci : NULL;
}

size_t gcs_reader_n_markers(const struct gcs_reader *r)
{
	return r->n_markers;
}

const struct gcs_marker *gcs_reader_marker(const struct gcs_reader *r, size_t i)
{
	return i < r->n_markers ? &r->markers[i] : NULL;
}

size_t gcs_reader_n_gaps(const struct gcs_reader *r)
{
	return r->n_gaps;
}

const struct gcs_gap *gcs_reader_gap(const struct gcs_reader *r, size_t i)
{
	return i < r->n_gaps ? &r->gaps[i] : NULL;
}

size_t gcs_reader_n_clocks(const struct gcs_reader *r)
{
	return r->n_clocks;
}

const struct gcs_clock_rec *gcs_reader_clock(const struct gcs_reader *r,
					     size_t i)
{
	return i < r->n_clocks ? &r->clocks[i] : NULL;
}

size_t gcs_reader_n_lost_ranges(const struct gcs_reader *r)
{
	return r->n_lost;
}

const struct gcs_lost_range *gcs_reader_lost_range(const struct gcs_reader *r,
						   size_t i)
{
	return i < r->n_lost ? &r->lost[i] : NULL;
}

size_t gcs_reader_lost_records(const struct gcs_reader *r,
			       const struct gcs_index_entry **e)
{
	*e = r->lost_recs;
	return r->n_lost_recs;
}

/* For recovery: every valid record the walk took, in file order. */
size_t gcs_reader_records(const struct gcs_reader *r,
			  const struct gcs_index_entry **recs)
{
	*recs = r->recs;
	return r->n_recs;
}

uint32_t gcs_reader_seed(const struct gcs_reader *r)
{
	return r->seed;
}

uint32_t gcs_reader_body_sum(const struct gcs_reader *r, const void *buf,
			     size_t len)
{
	return gcs_body_sum_seeded(r->hdr.incompat, r->hdr.salt, r->seed, buf,
				   len);
}

const struct gcs_disk_header *gcs_reader_header(const struct gcs_reader *r)
{
	return &r->hdr;
}

/* ---- Data (10.1) ------------------------------------------------------------- */

/*
 * Decompress ZCHUNK @zi after checking its body, into its stream's cache
 * slot (*@zc), where it stays until another of that slot replaces it.
 */
static int load_zrec(struct gcs_reader *r, size_t zi, struct zcache **zcp)
{
	struct zrec *z = &r->zrecs[zi];
	struct zcache *zc = &r->zc[z->stream % ZCACHE_SLOTS];
	unsigned long long fcs;
	size_t n;
	int ret;

	*zcp = zc;
	if (zc->valid && zc->idx == zi)
		return 0;
	if (z->bad)
		return -EBADMSG;
	zc->valid = false;
	ret = read_body(r, z->off + z->hdr_len, z->body_len, z->body_crc,
			&r->zbuf, &r->zbuf_cap);
	if (ret)
		goto bad;
	/* The frame must state the size the header promises (8.1). */
	fcs = ZSTD_getFrameContentSize(r->zbuf, z->body_len);
	if (fcs != z->raw_len) {
		ret = -EBADMSG;
		goto bad;
	}
	ret = buf_reserve(&zc->data, &zc->cap, z->raw_len);
	if (ret)
		return ret;
	n = ZSTD_decompress(zc->data, z->raw_len, r->zbuf, z->body_len);
	if (ZSTD_isError(n) || n != z->raw_len) {
		ret = -EBADMSG;
		goto bad;
	}
	zc->idx = zi;
	zc->valid = true;
	zc->n_ok = 0;
	memset(zc->ok, 0, sizeof(zc->ok));
	return 0;
bad:
	if (ret == -EBADMSG)
		z->bad = true;
	return ret;
}

/*
 * An index-opened file lists only the compressed copy of a chunk. When that
 * copy fails, the raw record may still be at orig_off (not reclaimed yet):
 * look, and take it if it is the same chunk.
 */
static int probe_raw(struct gcs_reader *r, struct lchunk *c)
{
	struct gcs_chunk_info ci = c->ci;
	struct gcs_rec_hdr h;
	struct gcs_chunk_ext e;
	int ret;

	c->raw_probed = true;
	ret = read_rec_hdr(r, c->ci.orig_off, &h);
	if (ret == -ENOMEM)
		return ret;
	if (ret || h.type != GCS_REC_CHUNK)
		return 0;
	memcpy(&e, r->hbuf + GCS_REC_HDR_LEN, sizeof(e));
	ci.stream = e.stream;
	ci.n_records = e.n_records;
	ci.first_seq = e.first_seq;
	ci.last_seq = e.last_seq;
	ci.t_first_ns = e.t_first_ns;
	ci.t_last_ns = e.t_last_ns;
	ci.raw_len = h.body_len;
	ci.raw_crc = h.body_crc;
	ci.flags = e.flags;
	if (!same_chunk(&ci, &c->ci))
		return 0;
	c->ci.have_raw = true;
	c->ci.raw_body_off = c->ci.orig_off + h.hdr_len;
	c->raw_hdr_len = h.hdr_len;
	c->raw_body_crc = h.body_crc;
	c->raw_size = h.size;
	return 0;
}

/*
 * Does @c's part of the decompressed ZCHUNK in @zc check out? Once every
 * part of a ZCHUNK has, a later decompression of it needs no part check:
 * ZCHUNKs are never rewritten (Z3), load_zrec() has checked the body
 * against its sum again, and zstd gives the same bytes from the same frame.
 */
static bool part_ok(struct gcs_reader *r, struct zcache *zc,
		    const struct lchunk *c)
{
	struct zrec *z = &r->zrecs[c->zrec];
	uint32_t p = c->ci.zpart;

	if (z->parts_ok)
		return true;
	if (gcs_reader_body_sum(r, zc->data + c->part_at, c->ci.raw_len) !=
	    c->part_crc)
		return false;
	if (p < GCS_MAX_PARTS && !(zc->ok[p / 8] & (1u << (p % 8)))) {
		zc->ok[p / 8] |= (uint8_t)(1u << (p % 8));
		if (++zc->n_ok == z->n_live)
			z->parts_ok = true;
	}
	return true;
}

/*
 * @c found lost as its data is read: into the counts an open with
 * GCS_OPEN_VERIFY fills, once however often it is read. Streaming makes a
 * chunk's entry anew on each pass, but in its stream's orig_off order.
 */
static void count_lost(struct gcs_reader *r, const struct lchunk *c)
{
	struct gcs_stream_info *s = stream_by_id(r, c->ci.stream);

	if (c->ci.status == GCS_CHUNK_LOST)
		return;
	if (r->flags & GCS_OPEN_STREAM) {
		uint64_t *after = s && r->lost_after ? &r->lost_after[s - r->streams] : NULL;

		if (!after || c->ci.orig_off < *after)
			return;
		*after = c->ci.orig_off + 1;
	}
	r->info.n_lost++;
	if (s) {
		s->n_lost_chunks++;
		s->lost_records += c->ci.n_records;
	}
}

static int lchunk_data(struct gcs_reader *r, struct lchunk *c,
		       const uint8_t **data, uint32_t *len)
{
	struct zcache *zc;
	int ret;

	if (c->ci.have_zstd) {
		ret = load_zrec(r, c->zrec, &zc);
		if (ret && ret != -EBADMSG)
			return ret;
		if (!ret && c->part_at + c->ci.raw_len <= r->zrecs[c->zrec].raw_len &&
		    part_ok(r, zc, c)) {
			c->ci.status = GCS_CHUNK_OK;
			c->ci.form = GCS_FORM_ZSTD;
			*data = zc->data + c->part_at;
			*len = c->ci.raw_len;
			return 0;
		}
	}
	if (!c->ci.have_raw && !c->raw_probed) {
		ret = probe_raw(r, c);
		if (ret)
			return ret;
	}
	if (c->ci.have_raw && !c->raw_bad) {
		ret = read_body(r, c->ci.orig_off + c->raw_hdr_len, c->ci.raw_len,
				c->raw_body_crc, &r->buf, &r->buf_cap);
		if (ret && ret != -EBADMSG)
			return ret;
		if (!ret) {
			c->ci.status = GCS_CHUNK_OK;
			c->ci.form = GCS_FORM_RAW;
			*data = r->buf;
			*len = c->ci.raw_len;
			return 0;
		}
		/* Reclaimed (punched) raw chunks land here, as they should. */
		c->raw_bad = true;
	}
	count_lost(r, c);
	c->ci.status = GCS_CHUNK_LOST;
	return -EBADMSG;
}

int gcs_reader_chunk_data(struct gcs_reader *r, size_t i, const uint8_t **data,
			  uint32_t *len)
{
	struct lchunk *c;

	if (r->flags & GCS_OPEN_STREAM)
		c = stream_chunk(r, i);
	else
		c = i < r->n_chunks ? &r->chunks[i] : NULL;
	if (!c)
		return -EINVAL;
	return lchunk_data(r, c, data, len);
}

/* ---- Records (10.2) ----------------------------------------------------------- */

void gcs_rec_iter_init(struct gcs_rec_iter *it, struct gcs_reader *r,
		       uint32_t stream)
{
	memset(it, 0, sizeof(*it));
	it->r = r;
	it->stream = stream;
	if (!(r->flags & GCS_OPEN_STREAM))
		return;
	/* The open made a cursor per stream (stream_stats_scan()). */
	if (stream != GCS_STREAM_NONE)
		scur_reset(r, stream, it);
	else
		mcur_reset(r, it);
}

/* Streaming: does @it still own the reader's cursor? */
static bool iter_owns(const struct gcs_rec_iter *it)
{
	const struct gcs_reader *r = it->r;

	if (it->stream == GCS_STREAM_NONE)
		return r->m.active && r->m.owner == it;
	return r->cur.active && r->cur.owner == it;
}

/* GCS_OPEN_STREAM: the next chunk of the iterator's stream from the cursor. */
static int iter_load_stream(struct gcs_rec_iter *it, struct lchunk **lc)
{
	struct gcs_reader *r = it->r;
	int ret;

	struct scur *c = &r->cur;

	if (it->done)
		return 0;
	/* One iterator at a time: the cursor is the reader's. */
	if (!iter_owns(it)) {
		it->done = true;
		return -EINVAL;
	}
	ret = it->stream == GCS_STREAM_NONE ? mcur_next(r, &c) : scur_next(r);
	if (ret <= 0) {
		it->done = true;
		return ret;
	}
	it->chunk = c->index;
	*lc = &c->cur;
	return 1;
}

static int iter_load(struct gcs_rec_iter *it, struct gcs_record *rec)
{
	struct gcs_reader *r = it->r;
	const struct gcs_chunk_info *c;
	const struct gcs_stream_info *s;
	struct lchunk *lc;
	uint32_t n;
	int ret;

	if (r->flags & GCS_OPEN_STREAM) {
		ret = iter_load_stream(it, &lc);
		if (ret <= 0)
			return ret;
	} else {
		while (it->chunk < r->n_chunks &&
		       it->stream != GCS_STREAM_NONE &&
		       r->chunks[it->chunk].ci.stream != it->stream)
			it->chunk++;
		if (it->chunk >= r->n_chunks)
			return 0;
		lc = &r->chunks[it->chunk];
	}
	c = &lc->ci;
	/* A chunk that yields nothing is still named (gcs_rec_iter_next()). */
	rec->stream = c->stream;
	rec->chunk = it->chunk;
	s = stream_by_id(r, c->stream);
	if (!s)
		return -EBADMSG;
	ret = lchunk_data(r, lc, &it->buf, &it->len);
	if (ret)
		return ret;
	/* All or nothing: a chunk whose framing is off yields no record. */
	if (s->record_size) {
		if ((uint64_t)c->n_records * s->record_size != it->len)
			return -EBADMSG;
	} else if (gcs_var_count(it->buf, it->len, &n) || n != c->n_records) {
		return -EBADMSG;
	}
	it->pos = 0;
	it->idx = 0;
	it->loaded = true;
	return 1;
}

int gcs_rec_iter_next(struct gcs_rec_iter *it, struct gcs_record *rec)
{
	struct gcs_reader *r = it->r;
	const struct gcs_chunk_info *c;
	const struct gcs_stream_info *s;
	int ret;

	/* Streaming: another iterator took the cursor, and this one's chunk. */
	if (r->flags & GCS_OPEN_STREAM) {
		if (it->done)
			return 0;
		if (!iter_owns(it)) {
			it->done = true;
			return -EINVAL;
		}
	}
	memset(rec, 0, sizeof(*rec));
	for (;;) {
		if (!it->loaded) {
			ret = iter_load(it, rec);
			if (ret < 0) {
				it->chunk++;	/* next call goes on after it */
				return ret;
			}
			if (!ret)
				return 0;
		}
		c = r->flags & GCS_OPEN_STREAM ? &r->last->cur.ci :
						 &r->chunks[it->chunk].ci;
		if (it->idx < c->n_records)
			break;
		it->loaded = false;
		it->chunk++;
	}
	s = stream_by_id(r, c->stream);
	memset(rec, 0, sizeof(*rec));
	rec->stream = c->stream;
	rec->chunk = it->chunk;
	rec->seq = c->flags & GCS_CHUNK_F_CONTIGUOUS ? c->first_seq + it->idx :
						       GCS_SEQ_UNKNOWN;
	if (s->record_size) {
		rec->data = it->buf + it->pos;
		rec->len = s->record_size;
		it->pos += s->record_size;
		if (s->ts_offset != GCS_NO_TS) {
			memcpy(&rec->t_ns, rec->data + s->ts_offset, 8);
			rec->ts_clock = s->ts_clock;
			rec->ts_source = GCS_TS_RECORD;
		}
	} else {
		struct gcs_var_rec v;

		memcpy(&v, it->buf + it->pos, sizeof(v));
		rec->data = it->buf + it->pos + GCS_VAR_HDR_LEN;
		rec->len = v.len;
		it->pos += gcs_var_rec_size(v.len);
		if (s->ts_clock != GCS_CLOCK_NONE) {
			rec->t_ns = v.t_ns;
			rec->ts_clock = s->ts_clock;
			rec->ts_source = GCS_TS_RECORD;
		}
	}
	if (!rec->ts_clock) {
		/* Spread evenly over the chunk's host times (10.2). */
		__int128 span = (__int128)c->t_last_ns - c->t_first_ns;

		/* Between t_first and t_last: no overflow, however far apart. */
		rec->t_ns = c->t_first_ns;
		if (c->n_records > 1)
			rec->t_ns = (int64_t)(c->t_first_ns + span * it->idx /
					      (c->n_records - 1));
		rec->ts_clock = GCS_CLOCK_MONOTONIC;
		rec->ts_source = GCS_TS_INTERPOLATED;
	}
	it->idx++;
	return 1;
}

struct problems {
	gcs_problem_fn fn;
	void *ctx;
	int n_errors;
};

__attribute__((format(printf, 3, 4)))
static void problem(struct problems *p, bool error, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->n_errors += error;
	p->fn(p->ctx, error, msg);
}

static void lost_ranges(const struct gcs_reader *r, struct problems *p)
{
	for (size_t i = 0; i < r->n_lost; i++) {
		const struct gcs_lost_range *l = &r->lost[i];

		if (l->n_records == GCS_COUNT_UNKNOWN)
			problem(p, true, "damaged records at %" PRIu64 "..%" PRIu64
				" (%" PRIu64 " bytes) lost, read on after them",
				l->off, l->end, l->end - l->off);
		else if (!l->n_records)
			problem(p, true, "damaged bytes at %" PRIu64 "..%" PRIu64
				" held no record the index lists (nothing lost)",
				l->off, l->end);
		else
			problem(p, true, "%u records (%u chunks) at %" PRIu64 "..%"
				PRIu64 " lost to damage, read on after them",
				l->n_records, l->n_chunks, l->off, l->end);
	}
}

int gcs_reader_problems(const struct gcs_reader *r, bool live,
			gcs_problem_fn fn, void *ctx)
{
	const struct gcs_file_info *fi = &r->info;
	uint64_t bad_chunks = 0, unexplained = 0, lost_records = 0;
	struct problems p = { .fn = fn, .ctx = ctx };
	int err = (int)fi->sync_error;

	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		bad_chunks += gcs_reader_stream(r, i)->n_bad_chunks;
		lost_records += gcs_reader_stream(r, i)->lost_records;
		unexplained += gcs_reader_stream(r, i)->n_unexplained;
	}
	if (fi->state == GCS_STATE_OPEN && live)
		problem(&p, false, "being written by a live capture (tail not final)");
	else if (fi->state == GCS_STATE_OPEN)
		problem(&p, true, "not closed: its writer died; run 'gaitcap recover'");
	if (!live && fi->tail == GCS_TAIL_TORN)
		problem(&p, true, "torn data after offset %" PRIu64, fi->valid_end);
	if (fi->tail == GCS_TAIL_SHORT)
		problem(&p, true, "the record at offset %" PRIu64
			" runs past the end (truncated file)", fi->valid_end);
	if (err >= GCS_EBASE)
		problem(&p, true, "a durability sync failed with %s: only the %" PRIu64
			" bytes below the durable mark are known to be on disk",
			gcs_strerror(-err), fi->durable_end);
	else if (err)
		problem(&p, true, "a durability sync failed with %s (%s): only the %"
			PRIu64 " bytes below the durable mark are known to be on disk",
			strerrorname_np(err) ? strerrorname_np(err) : "errno",
			strerror(err), fi->durable_end);
	if (fi->valid_end < fi->durable_end)
		problem(&p, true, "%" PRIu64 " bytes below the durable mark are missing",
			fi->durable_end - fi->valid_end);
	if (fi->state != GCS_STATE_OPEN &&
	    (fi->valid_end != fi->end_off || fi->file_size != fi->end_off))
		problem(&p, true, "the file does not end where its header says (%"
			PRIu64 " != %" PRIu64 ")", fi->file_size, fi->end_off);
	if (fi->n_damaged)
		problem(&p, true, "%" PRIu64 " damaged records (checksum) below the durable mark",
			fi->n_damaged);
	if (fi->n_lost)
		problem(&p, true, "%" PRIu64 " chunks lost: no copy passes its checksum",
			fi->n_lost);
	lost_ranges(r, &p);
	if (lost_records)
		problem(&p, true, "%" PRIu64 " stream records lost to damage", lost_records);
	if (fi->n_conflicts || fi->n_orphan_parts || bad_chunks)
		problem(&p, true, "%" PRIu64 " inconsistent records",
			fi->n_conflicts + fi->n_orphan_parts + bad_chunks);
	if (fi->slots_valid != 3)
		problem(&p, false, "one header copy is invalid (the other is used)");
	if (!fi->meta_policy_ok)
		problem(&p, true, "metadata missing or breaking the privacy policy");
	if (unexplained)
		problem(&p, false, "%" PRIu64 " sequence jumps without a gap record",
			unexplained);
	return p.n_errors;
}
