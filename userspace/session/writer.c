// SPDX-License-Identifier: GPL-2.0
/*
 * Session writer. The file is mapped MAP_SHARED into one address range
 * reserved up front, so pointers handed out never move while the file grows
 * in fallocate()d steps. Capture fills reservations in place; the writer
 * seals each record (CRCs, then the commit word last, with a release store)
 * in file order. Section numbers refer to docs/session-format.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <zstd.h>

#include "session/gcs_internal.h"
#include "gcprobes.h"

#define MAX_SLOTS	64u
#define MIB		(1ull << 20)

#ifndef GCPROBES_DISABLE
/* The probes' semaphores (gcprobes.h): in .probes, where tools look. */
#define GCPROBE_SEMA_DEF(n) \
	volatile unsigned short GCPROBE_SEMA(n) __attribute__((section(".probes")))
GCPROBE_SEMA_DEF(poll_submit);
GCPROBE_SEMA_DEF(read_submit);
GCPROBE_SEMA_DEF(read_done);
GCPROBE_SEMA_DEF(chunk_seal);
GCPROBE_SEMA_DEF(chunk_commit);
GCPROBE_SEMA_DEF(msg_record);
GCPROBE_SEMA_DEF(msg_early);
GCPROBE_SEMA_DEF(msg_notes);
GCPROBE_SEMA_DEF(msg_commit);
#endif

/* Only touched while a tool is attached (zero pages until then). */
static struct gcprobe_msg gcprobe_msgs[GCPROBE_MSG_STREAMS][GCPROBE_MSG_RING];
static uint32_t gcprobe_ring_of[GCPROBE_MSG_STREAMS];	/* its stream + 1 */
static uint32_t gcprobe_commits[GCPROBE_MSG_STREAMS];
static unsigned short gcprobe_sema_seen;

void gcprobe_note_msg(uint32_t stream, uint64_t seq, uint64_t op,
		      int64_t t_reap, const void *pdu, uint32_t len)
{
	struct gcprobe_msg *ring = gcprobe_msgs[stream % GCPROBE_MSG_STREAMS];
	struct gcprobe_msg *m = &ring[seq % GCPROBE_MSG_RING];

	/* A tool reading the ring takes a note once t_commit is set: clear it first. */
	__atomic_store_n(&m->t_commit, 0, __ATOMIC_RELEASE);
	m->seq = seq;
	m->t_reap = (uint64_t)t_reap;
	m->op = op;
	m->stream = stream;
	m->len = len;
	memset(m->head, 0, sizeof(m->head));
	memcpy(m->head, pdu, len < sizeof(m->head) ? len : sizeof(m->head));
	gcprobe_ring_of[stream % GCPROBE_MSG_STREAMS] = stream + 1;
}

uintptr_t gcprobe_msg_notes(uint32_t stream)
{
	uint32_t r = stream % GCPROBE_MSG_STREAMS;

	return gcprobe_ring_of[r] == stream + 1 ? (uintptr_t)gcprobe_msgs[r] : 0;
}

static int64_t now_ns(clockid_t id);

/*
 * A message stream's chunk committed while msg_notes is attached: stamp its
 * notes instead of a trap; say where the ring is now and then, so that a
 * tool started later finds it.
 */
static void gcprobe_note_commit(uint32_t stream, uint64_t first, uint64_t last,
				uintptr_t notes)
{
	struct gcprobe_msg *ring = (struct gcprobe_msg *)notes;
	uint32_t r = stream % GCPROBE_MSG_STREAMS;
	uint64_t now = (uint64_t)now_ns(CLOCK_MONOTONIC);

	if (last - first >= GCPROBE_MSG_RING)
		first = last - GCPROBE_MSG_RING + 1;
	for (uint64_t seq = first; seq <= last; seq++) {
		struct gcprobe_msg *m = &ring[seq % GCPROBE_MSG_RING];

		if (m->seq == seq && m->stream == stream)
			__atomic_store_n(&m->t_commit, now, __ATOMIC_RELEASE);
	}
	/* At once when a tool attaches (its semaphore moved), then now and then. */
	if (gcprobe_commits[r]++ % 256 == 0 || gcprobe_sema_seen != GCPROBE_SEMA(msg_notes)) {
		gcprobe_sema_seen = GCPROBE_SEMA(msg_notes);
		GCPROBE4(msg_notes, stream, notes, 0, last);
	}
}

/* The session closes: the last notes, read by the tool before this process goes. */
static void gcprobe_notes_final(void)
{
	for (uint32_t r = 0; r < GCPROBE_MSG_STREAMS; r++)
		if (gcprobe_ring_of[r] && GCPROBE_ENABLED(msg_notes))
			GCPROBE4(msg_notes, gcprobe_ring_of[r] - 1,
				 (uintptr_t)gcprobe_msgs[r], 1, 0);
}

enum slot_state { SLOT_FREE = 0, SLOT_RESERVED, SLOT_READY };

/* A published raw chunk waiting for compaction. */
struct pending {
	struct gcs_zpart part;
	uint32_t hdr_len;
};

struct wstream {
	uint32_t record_size;
	bool have_seq;
	uint64_t last_seq;
	struct pending *pend;
	size_t pend_head, n_pend, cap_pend;
	uint64_t pend_bytes;
};

/* Punch [start, end) once everything up to `after` is durable (7.3). */
struct punch {
	uint64_t after;
	uint64_t start, end;
};

struct gcs_compact_job {
	uint32_t stream;
	uint32_t n_parts;
	struct gcs_zpart *parts;
	uint32_t *hdr_lens;
	const uint8_t **src;
	uint64_t raw_total;
	uint64_t reclaim;	/* what punching the raw payloads would free */
	int level;
	uint64_t salt;		/* to check the copy against each raw_crc */
	uint32_t seed;
	uint8_t *check;		/* the copy decompressed, lent by the writer */
	size_t check_cap;
	ZSTD_CCtx *cctx;
	uint8_t *out;
	size_t out_len;
	int result;
	bool ran;
};

struct gcs_writer {
	int fd;
	char *path;
	uint8_t *base;
	uint64_t va_size;
	uint64_t mapped;	/* file size: allocated and mapped */
	uint64_t tail;		/* end of the last reservation */
	uint64_t committed;	/* end of the last published record */
	uint64_t durable;
	uint64_t unmapped;	/* below it (from GCS_DATA_START): no PTEs */
	uint64_t salt;
	uint32_t seed;
	uint64_t generation;
	size_t page;
	struct gcs_writer_opts o;

	struct gcs_slot slots[MAX_SLOTS];
	unsigned int slot_head, slot_count;

	struct wstream *streams;
	uint32_t n_streams;

	struct punch *punch;
	size_t n_punch, cap_punch;

	struct gcs_index_entry *idx;
	size_t n_idx, cap_idx;

	enum { NAMED, LINK_BY_PROC, LINK_BY_EMPTY_PATH } naming;
				/* O_TMPFILE not linked yet: how to link it */
	int failed;		/* sticky: an I/O error the file can't survive */
	int sync_error;		/* a durability sync failed: in every header */
	bool full;
	bool end_set;		/* SESSION_END at end_ns, not at close time */
	int64_t end_ns;
	bool sync_busy;
	bool job_out;
	ZSTD_CCtx *cctx;	/* cached for inline jobs */
	uint8_t *check;		/* cached for compact_verify() */
	size_t check_cap;
	int64_t last_sync_ns;

	int64_t rate_t;
	uint64_t rate_appended;	/* at rate_t: tail less compaction output */
	double rate_in;		/* appended bytes per second, smoothed */
	double rate;		/* rate_in as it will stay on disk */
	bool rate_valid;
	uint64_t punch_queued;	/* bytes handed to add_punch() */

	struct gcs_writer_stats st;
};

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void gcs_writer_opts_init(struct gcs_writer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->grow_step = 64 * MIB;
	o->max_size = 1ull << 40;
	o->tail_reserve = 1 * MIB;
	o->sync_interval_ms = 1000;
	o->compact_target = 4 * MIB;
	o->zstd_level = 3;
	o->unmap_step = 8 * MIB;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- Space ------------------------------------------------------------ */

static bool is_full_errno(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

/*
 * Extend the file by @len bytes of allocated blocks and map them. Blocks
 * come from fallocate(), so storing into the mapping later needs no
 * allocation and cannot SIGBUS on a full disk (5.1).
 */
static int extend(struct gcs_writer *w, uint64_t len)
{
	void *p;
	int ret;

	if (w->mapped + len > w->va_size)
		return -EFBIG;
	/*
	 * tmpfs gives up with EINTR whenever signal_pending(), which io_uring's
	 * task work (TIF_NOTIFY_SIGNAL) makes true for the capture mid-session:
	 * allocate again, what was allocated stays.
	 */
	while ((ret = fallocate(w->fd, 0, (off_t)w->mapped, (off_t)len)) &&
	       errno == EINTR)
		;
	if (ret) {
		ret = errno;
		if (ret == EOPNOTSUPP)	/* e.g. some network filesystems */
			ret = posix_fallocate(w->fd, (off_t)w->mapped, (off_t)len);
		if (ret)
			return -ret;
	}
	p = mmap(w->base + w->mapped, len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, w->fd, (off_t)w->mapped);
	if (p == MAP_FAILED)
		return -errno;
	w->mapped += len;
	return 0;
}

/* Make room for @need bytes past the tail, keeping the reserve (5.2). */
static int ensure_room(struct gcs_writer *w, uint64_t need, bool use_reserve)
{
	uint64_t want = w->tail + need + (use_reserve ? 0 : w->o.tail_reserve);
	uint64_t min, step;
	int ret;

	if (want <= w->mapped)
		return 0;
	if (w->full && !use_reserve)
		return -ENOSPC;
	min = round_up(want - w->mapped, w->page);
	step = min > w->o.grow_step ? min : w->o.grow_step;
	ret = extend(w, step);
	if (ret && step > min && is_full_errno(-ret))
		ret = extend(w, min);	/* the last bit of space */
	if (ret && is_full_errno(-ret)) {
		w->full = true;
		return -ENOSPC;
	}
	return ret;
}

/* ---- Reservations and publishing (4.3) ---------------------------------- */

static struct gcs_slot *slot_at(struct gcs_writer *w, unsigned int i)
{
	return &w->slots[(w->slot_head + i) % MAX_SLOTS];
}

static struct gcs_rec_hdr *slot_hdr(struct gcs_writer *w, struct gcs_slot *s)
{
	return (struct gcs_rec_hdr *)(w->base + s->off);
}

static bool slot_is_last(struct gcs_writer *w, struct gcs_slot *s)
{
	return s->off + s->size == w->tail;
}

static int reserve_record(struct gcs_writer *w, uint16_t type, uint32_t stream,
			  uint32_t hdr_len, uint32_t body_cap, bool use_reserve,
			  struct gcs_slot **sp)
{
	uint64_t size = gcs_align8((uint64_t)hdr_len + body_cap);
	struct gcs_slot *s;
	int ret;

	if (w->failed)
		return w->failed;
	if (body_cap > GCS_MAX_BODY)
		return -EMSGSIZE;
	if (w->slot_count == MAX_SLOTS)
		return -EBUSY;
	ret = ensure_room(w, size, use_reserve);
	if (ret)
		return ret;
	s = slot_at(w, w->slot_count);
	s->off = w->tail;
	s->size = (uint32_t)size;
	s->type = type;
	s->stream = stream;
	s->cap = body_cap;
	s->data = w->base + s->off + hdr_len;
	s->state = SLOT_RESERVED;
	s->index = (uint8_t)(s - w->slots);
	/* Whatever a shrunk reservation left here must not read as a record. */
	memset(w->base + s->off, 0, hdr_len);
	w->tail += size;
	w->slot_count++;
	*sp = s;
	return 0;
}

static int index_add(struct gcs_writer *w, uint64_t off, uint16_t type,
		     uint32_t stream)
{
	int ret = GCS_ARRAY_GROW(w->idx, w->n_idx, w->cap_idx);

	if (ret)
		return ret;
	w->idx[w->n_idx++] = (struct gcs_index_entry){
		.off = off, .type = type, .stream = stream,
	};
	return 0;
}

static void queue_for_compaction(struct gcs_writer *w, struct gcs_slot *s,
				 const struct gcs_rec_hdr *h)
{
	struct wstream *st = &w->streams[s->stream];
	struct gcs_chunk_ext c;
	struct pending *p;

	if (w->o.no_compact)
		return;
	if (st->pend_head && st->pend_head * 2 >= st->n_pend) {
		memmove(st->pend, st->pend + st->pend_head,
			(st->n_pend - st->pend_head) * sizeof(*st->pend));
		st->n_pend -= st->pend_head;
		st->pend_head = 0;
	}
	if (GCS_ARRAY_GROW(st->pend, st->n_pend, st->cap_pend))
		return;		/* the chunk just stays raw */
	memcpy(&c, (const uint8_t *)h + GCS_REC_HDR_LEN, sizeof(c));
	p = &st->pend[st->n_pend++];
	p->hdr_len = h->hdr_len;
	p->part = (struct gcs_zpart){
		.orig_off = s->off, .first_seq = c.first_seq,
		.last_seq = c.last_seq, .t_first_ns = c.t_first_ns,
		.t_last_ns = c.t_last_ns, .n_records = c.n_records,
		.raw_len = h->body_len, .raw_crc = h->body_crc,
		.flags = c.flags,
	};
	st->pend_bytes += h->body_len;
}

/*
 * Records are appended and never written through the mapping once
 * published (headers go by pwrite()), so the page tables behind the last
 * published record only cost: writeback write-protects every mapped page it
 * cleans, with a TLB flush each, and our own syncs would pay for it. Zap
 * them in steps; the pages stay in the page cache, dirty bits and all, and
 * a reader of the mapping (compaction) faults them back in.
 */
static void unmap_behind(struct gcs_writer *w, uint64_t step)
{
	uint64_t end = w->committed / w->page * w->page;

	if (!w->o.unmap_step || end <= w->unmapped ||
	    end < w->unmapped + step)
		return;
	if (madvise(w->base + w->unmapped, end - w->unmapped, MADV_DONTNEED))
		return;		/* an optimisation: nothing is lost */
	w->unmapped = end;
}

/* Publish every READY record at the head of the queue, in file order. */
static void publish(struct gcs_writer *w)
{
	while (w->slot_count) {
		struct gcs_slot *s = slot_at(w, 0);
		struct gcs_rec_hdr *h = slot_hdr(w, s);

		if (s->state != SLOT_READY)
			break;
		/*
		 * The commit word goes last: a reader (or a crash) sees either
		 * no record here or all of it (4.3).
		 */
		__atomic_store_n(&h->magic, GCS_REC_MAGIC, __ATOMIC_RELEASE);
		w->committed = s->off + s->size;
		if (s->type != GCS_REC_PAD && s->type != GCS_REC_INDEX &&
		    index_add(w, s->off, s->type, s->stream) && !w->failed)
			w->failed = -ENOMEM;
		if (s->type == GCS_REC_CHUNK) {
			uintptr_t notes = gcprobe_msg_notes(s->stream);

			if (!notes) {
				GCPROBE5(chunk_commit, s->stream, s->seq_first,
					 s->seq_last, s->off, notes);
			} else {
				if (GCPROBE_ENABLED(msg_notes))
					gcprobe_note_commit(s->stream, s->seq_first,
							    s->seq_last, notes);
				GCPROBE5(msg_commit, s->stream, s->seq_first,
					 s->seq_last, s->off, notes);
			}
			w->streams[s->stream].have_seq = true;
			w->streams[s->stream].last_seq = s->seq_last;
			queue_for_compaction(w, s, h);
		}
		s->state = SLOT_FREE;
		w->slot_head = (w->slot_head + 1) % MAX_SLOTS;
		w->slot_count--;
	}
	unmap_behind(w, w->o.unmap_step);
}

/* Fill in the common header (all but the commit word) and mark it ready. */
static void seal(struct gcs_writer *w, struct gcs_slot *s, uint32_t hdr_len,
		 uint32_t body_len)
{
	uint8_t *h = (uint8_t *)slot_hdr(w, s);
	struct gcs_rec_hdr t = {
		.magic = GCS_REC_MAGIC,
		.type = s->type,
		.hdr_len = (uint16_t)hdr_len,
		.size = s->size,
		.body_len = body_len,
		.body_crc = gcs_body_sum_seeded(GCS_INCOMPAT_BODY_XXH64, w->salt,
						w->seed, s->data, body_len),
	};
	uint32_t crc;

	/*
	 * hdr_crc covers the header as it reads once published: commit word
	 * set, hdr_crc zero; the type-specific part is already in place.
	 */
	crc = gcs_crc32c(w->seed, &t, sizeof(t));
	t.hdr_crc = gcs_crc32c(crc, h + GCS_REC_HDR_LEN,
			       hdr_len - GCS_REC_HDR_LEN);
	memcpy(h + sizeof(t.magic), (uint8_t *)&t + sizeof(t.magic),
	       GCS_REC_HDR_LEN - sizeof(t.magic));
	s->state = SLOT_READY;
}

/* Shrink the last reservation to what it holds. */
static void shrink_last(struct gcs_writer *w, struct gcs_slot *s,
			uint32_t hdr_len, uint32_t body_len)
{
	uint64_t size = gcs_align8((uint64_t)hdr_len + body_len);

	if (!slot_is_last(w, s) || size == s->size)
		return;
	s->size = (uint32_t)size;
	w->tail = s->off + size;
	/* The next record's place must not hold a stale commit word. */
	memset(w->base + w->tail, 0,
	       gcs_min_u64(GCS_REC_HDR_LEN, w->mapped - w->tail));
}

void gcs_writer_abandon(struct gcs_writer *w, struct gcs_slot *s)
{
	if (!s || s->state != SLOT_RESERVED)
		return;
	if (slot_is_last(w, s) && s == slot_at(w, w->slot_count - 1)) {
		/* Its header is still zero: just give the space back. */
		w->tail = s->off;
		s->state = SLOT_FREE;
		w->slot_count--;
		return;
	}
	s->type = GCS_REC_PAD;
	s->data = w->base + s->off + GCS_REC_HDR_LEN;
	seal(w, s, GCS_REC_HDR_LEN, 0);
	publish(w);
}

int gcs_writer_reserve(struct gcs_writer *w, uint32_t stream, uint32_t cap,
		       struct gcs_slot **slot)
{
	if (stream >= w->n_streams || !cap)
		return -EINVAL;
	return reserve_record(w, GCS_REC_CHUNK, stream, GCS_CHUNK_HDR_LEN, cap,
			      false, slot);
}

/*
 * Sequence numbers grow in file order within a stream: after every chunk
 * published or committed before this one, below every one committed after.
 */
static bool seq_order_ok(struct gcs_writer *w, struct gcs_slot *s,
			 const struct gcs_chunk_meta *m)
{
	struct wstream *st = &w->streams[s->stream];
	bool before = true;

	if (st->have_seq && m->first_seq <= st->last_seq)
		return false;
	for (unsigned int i = 0; i < w->slot_count; i++) {
		struct gcs_slot *o = slot_at(w, i);

		if (o == s) {
			before = false;
			continue;
		}
		if (o->stream != s->stream || o->type != GCS_REC_CHUNK ||
		    o->state != SLOT_READY)
			continue;
		if (before ? m->first_seq <= o->seq_last :
			     m->last_seq >= o->seq_first)
			return false;
	}
	return true;
}

static int check_chunk_meta(struct gcs_writer *w, struct gcs_slot *s,
			    const struct gcs_chunk_meta *m)
{
	struct wstream *st = &w->streams[s->stream];

	if (m->len > s->cap || !m->len || !m->n_records ||
	    m->first_seq > m->last_seq || m->t_first_ns > m->t_last_ns ||
	    (m->flags & ~GCS_CHUNK_F_CONTIGUOUS))
		return -EINVAL;
	if ((m->flags & GCS_CHUNK_F_CONTIGUOUS) &&
	    m->last_seq - m->first_seq != (uint64_t)m->n_records - 1)
		return -EINVAL;
	if (!seq_order_ok(w, s, m))
		return -EINVAL;
	if (st->record_size) {
		if ((uint64_t)m->n_records * st->record_size != m->len)
			return -EINVAL;
	} else {
		uint32_t n;

		if (gcs_var_count(s->data, m->len, &n) || n != m->n_records)
			return -EINVAL;
	}
	return 0;
}

int gcs_writer_commit(struct gcs_writer *w, struct gcs_slot *s,
		      const struct gcs_chunk_meta *m)
{
	struct gcs_chunk_ext c;
	int ret;

	if (!s || s < w->slots || s >= w->slots + MAX_SLOTS ||
	    s->state != SLOT_RESERVED || s->type != GCS_REC_CHUNK)
		return -EINVAL;
	ret = w->failed ? w->failed : check_chunk_meta(w, s, m);
	if (ret) {
		gcs_writer_abandon(w, s);
		return ret;
	}
	c = (struct gcs_chunk_ext){
		.stream = s->stream, .n_records = m->n_records,
		.first_seq = m->first_seq, .last_seq = m->last_seq,
		.t_first_ns = m->t_first_ns, .t_last_ns = m->t_last_ns,
		.flags = m->flags,
	};
	memcpy(w->base + s->off + GCS_REC_HDR_LEN, &c, sizeof(c));
	shrink_last(w, s, GCS_CHUNK_HDR_LEN, m->len);
	seal(w, s, GCS_CHUNK_HDR_LEN, m->len);
	s->seq_first = m->first_seq;
	s->seq_last = m->last_seq;
	w->st.raw_bytes += m->len;
	w->st.chunks++;
	publish(w);
	/* Only a chunk left waiting behind an earlier reservation: one trap less. */
	if (s->state == SLOT_READY)
		GCPROBE4(chunk_seal, s->stream, s->seq_first, s->seq_last, s->off);
	return 0;
}

int gcs_writer_write_chunk(struct gcs_writer *w, uint32_t stream,
			   const void *data, const struct gcs_chunk_meta *m)
{
	struct gcs_slot *s;
	int ret;

	ret = gcs_writer_reserve(w, stream, m->len, &s);
	if (ret)
		return ret;
	memcpy(s->data, data, m->len);
	return gcs_writer_commit(w, s, m);
}

/* A record whose whole content is its type-specific header (+ body). */
static int write_small(struct gcs_writer *w, uint16_t type, uint32_t stream,
		       const void *ext, uint32_t ext_len, const void *body,
		       uint32_t body_len, bool use_reserve)
{
	uint32_t hdr_len = GCS_REC_HDR_LEN + ext_len;
	struct gcs_slot *s;
	int ret;

	ret = reserve_record(w, type, stream, hdr_len, body_len, use_reserve,
			     &s);
	if (ret)
		return ret;
	if (ext_len)
		memcpy(w->base + s->off + GCS_REC_HDR_LEN, ext, ext_len);
	if (body_len)
		memcpy(s->data, body, body_len);
	seal(w, s, hdr_len, body_len);
	publish(w);
	return 0;
}

int gcs_writer_marker(struct gcs_writer *w, uint32_t code, uint32_t stream,
		      int64_t t_ns, int64_t value)
{
	struct gcs_marker_ext m = {
		.code = code, .stream = stream, .t_ns = t_ns, .value = value,
	};

	if (stream != GCS_STREAM_NONE && stream >= w->n_streams)
		return -EINVAL;
	return write_small(w, GCS_REC_MARKER, stream, &m, sizeof(m), NULL, 0,
			   false);
}

int gcs_writer_gap(struct gcs_writer *w, uint32_t stream, uint32_t reason,
		   uint64_t first_seq, uint64_t last_seq, int64_t t_start_ns,
		   int64_t t_end_ns)
{
	struct gcs_gap_ext g = {
		.stream = stream, .reason = reason, .first_seq = first_seq,
		.last_seq = last_seq, .t_start_ns = t_start_ns,
		.t_end_ns = t_end_ns,
	};

	if (stream >= w->n_streams || t_start_ns > t_end_ns ||
	    (first_seq == GCS_SEQ_UNKNOWN) != (last_seq == GCS_SEQ_UNKNOWN) ||
	    first_seq > last_seq)
		return -EINVAL;
	return write_small(w, GCS_REC_GAP, stream, &g, sizeof(g), NULL, 0,
			   false);
}

int gcs_writer_clock(struct gcs_writer *w, const struct gcs_clock_sample *c)
{
	struct gcs_clock_ext e = {
		.stream = c->stream, .flags = c->flags,
		.device_ns = c->device_ns, .mono_ns = c->mono_ns,
		.real_ns = c->real_ns, .boot_ns = c->boot_ns,
		.uncertainty_ns = c->uncertainty_ns,
	};

	if ((c->stream != GCS_STREAM_NONE && c->stream >= w->n_streams) ||
	    c->uncertainty_ns < 0)
		return -EINVAL;
	return write_small(w, GCS_REC_CLOCK, c->stream, &e, sizeof(e), NULL, 0,
			   false);
}

int gcs_writer_clock_host(struct gcs_writer *w)
{
	struct gcs_clock_sample c = { .stream = GCS_STREAM_NONE };
	int64_t m0, m1;

	/* Bracket the other two clocks between two monotonic readings. */
	m0 = now_ns(CLOCK_MONOTONIC);
	c.real_ns = now_ns(CLOCK_REALTIME);
	c.boot_ns = now_ns(CLOCK_BOOTTIME);
	m1 = now_ns(CLOCK_MONOTONIC);
	c.mono_ns = m0 + (m1 - m0) / 2;
	c.uncertainty_ns = (m1 - m0 + 1) / 2;
	return gcs_writer_clock(w, &c);
}

int gcs_writer_add_stream(struct gcs_writer *w, const struct gcs_stream_def *d,
			  uint32_t *id)
{
	struct gcs_stream_ext e;
	struct wstream *ns;
	const char *why;
	char *desc;
	int ret;

	if (w->n_streams >= GCS_MAX_STREAMS || d->record_size > GCS_MAX_BODY ||
	    d->ts_clock > GCS_CLOCK_DEVICE)
		return -EINVAL;
	if (d->ts_offset != GCS_NO_TS &&
	    (d->record_size < 8 || d->ts_offset > d->record_size - 8 ||
	     d->ts_clock == GCS_CLOCK_NONE))
		return -EINVAL;
	ret = gcs_meta_canon(d->desc_json, false, &desc, &why);
	if (ret)
		return ret;
	ns = reallocarray(w->streams, w->n_streams + 1, sizeof(*ns));
	if (!ns) {
		ret = -ENOMEM;
		goto out;
	}
	w->streams = ns;
	memset(&ns[w->n_streams], 0, sizeof(*ns));
	ns[w->n_streams].record_size = d->record_size;
	e = (struct gcs_stream_ext){
		.stream = w->n_streams, .kind = d->kind,
		.record_size = d->record_size, .ts_offset = d->ts_offset,
		.ts_clock = d->ts_clock,
	};
	ret = write_small(w, GCS_REC_STREAM, e.stream, &e, sizeof(e), desc,
			  (uint32_t)strlen(desc), false);
	if (!ret)
		*id = w->n_streams++;
out:
	free(desc);
	return ret;
}

/* ---- Durability (7) ------------------------------------------------------- */

static int write_header(struct gcs_writer *w, uint64_t gen, uint32_t state,
			uint64_t durable, uint64_t end, uint64_t index_off)
{
	struct gcs_disk_header h = {
		.ver_major = GCS_VERSION_MAJOR, .ver_minor = GCS_VERSION_MINOR,
		.incompat = GCS_INCOMPAT_BODY_XXH64, .salt = w->salt, .generation = gen, .state = state,
		.durable_end = durable, .end_off = end, .index_off = index_off,
		.sync_interval_ms = w->o.sync_interval_ms,
		.sync_error = (uint32_t)-w->sync_error,
	};
	ssize_t n;

	gcs_hdr_seal(&h);
	/* Alternate slots: a torn write leaves the other one valid (3.1). */
	n = pwrite(w->fd, &h, sizeof(h), (off_t)(gen % GCS_HDR_SLOTS) * GCS_BLOCK);
	if (n < 0)
		return -errno;
	return n == sizeof(h) ? 0 : -EIO;
}

static void run_punches(struct gcs_writer *w)
{
	size_t i, kept = 0;

	for (i = 0; i < w->n_punch; i++) {
		struct punch *p = &w->punch[i];

		if (p->after > w->durable) {
			w->punch[kept++] = *p;
			continue;
		}
		if (w->o.no_reclaim)
			continue;
		if (fallocate(w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)p->start, (off_t)(p->end - p->start))) {
			/* Reclaim is an optimisation: the data stays valid. */
			if (errno == EOPNOTSUPP)
				w->o.no_reclaim = true;
			continue;
		}
		w->st.reclaimed += p->end - p->start;
	}
	w->n_punch = kept;
}

int gcs_writer_sync_begin(struct gcs_writer *w, struct gcs_sync *s)
{
	if (w->failed)
		return w->failed;
	if (w->sync_busy)
		return -EBUSY;
	if (w->committed == w->durable)
		return 1;
	/* What this sync writes back: no page tables for it to walk. */
	unmap_behind(w, 0);
	s->fd = w->fd;
	s->target = w->committed;
	s->generation = w->generation + 1;
	/* Records are appended: nothing below the mark changes after it. */
	s->from = w->durable;
	s->hdr_off = (s->generation % GCS_HDR_SLOTS) * GCS_BLOCK;
	s->hdr_len = GCS_BLOCK;
	w->sync_busy = true;
	return 0;
}

/*
 * A sync failed: after a failed writeback the page cache cannot be trusted
 * and the error is reported once, to this descriptor only (7.2). Say so in
 * a new header copy, with the mark left where the last good sync put it,
 * so that no later sync through another descriptor (gaitcap recover)
 * stamps as durable what may never have reached the disk. Best effort:
 * the disk may refuse this too, but the page cache, which later readers on
 * this machine see, holds it.
 */
static int sync_failed(struct gcs_writer *w, int err)
{
	if (err >= 0)
		err = -EIO;
	w->sync_busy = false;
	if (!w->failed)
		w->failed = err;
	if (w->sync_error)
		return w->failed;
	w->sync_error = err;
	w->generation++;
	if (!write_header(w, w->generation, GCS_STATE_OPEN, w->durable, 0, 0))
		(void)fdatasync(w->fd);
	return w->failed;
}

int gcs_writer_sync_fail(struct gcs_writer *w, struct gcs_sync *s, int err)
{
	(void)s;
	if (!w->sync_busy)
		return -EINVAL;
	return sync_failed(w, err);
}

int gcs_writer_sync_header(struct gcs_writer *w, struct gcs_sync *s)
{
	int ret;

	if (!w->sync_busy)
		return -EINVAL;
	ret = write_header(w, s->generation, GCS_STATE_OPEN, s->target, 0, 0);
	if (ret)
		sync_failed(w, ret);
	return ret;
}

int gcs_writer_sync_end(struct gcs_writer *w, struct gcs_sync *s)
{
	if (!w->sync_busy)
		return -EINVAL;
	w->sync_busy = false;
	w->generation = s->generation;
	w->durable = s->target;
	w->last_sync_ns = now_ns(CLOCK_MONOTONIC);
	run_punches(w);
	return 0;
}

static int datasync(struct gcs_writer *w)
{
	if (fdatasync(w->fd))
		return sync_failed(w, -errno);
	return 0;
}

int gcs_writer_sync(struct gcs_writer *w)
{
	struct gcs_sync s;
	int ret;

	ret = gcs_writer_sync_begin(w, &s);
	if (ret)
		return ret > 0 ? 0 : ret;
	ret = datasync(w);
	if (!ret)
		ret = gcs_writer_sync_header(w, &s);
	if (!ret)
		ret = datasync(w);
	if (!ret)
		ret = gcs_writer_sync_end(w, &s);
	return ret;
}

/* ---- Compaction (8) ----------------------------------------------------- */

static void job_free(struct gcs_compact_job *j)
{
	if (!j)
		return;
	free(j->parts);
	free(j->hdr_lens);
	free(j->src);
	free(j->out);
	free(j->check);
	ZSTD_freeCCtx(j->cctx);
	free(j);
}

/* Bytes a punch of the payload [start, start + len) would free. */
static uint64_t payload_blocks(uint64_t start, uint64_t len)
{
	uint64_t a = round_up(start, GCS_BLOCK);
	uint64_t b = (start + len) / GCS_BLOCK * GCS_BLOCK;

	return b > a ? b - a : 0;
}

static int pick_stream(struct gcs_writer *w, bool force)
{
	int best = -1;
	uint64_t best_bytes = 0;

	for (uint32_t i = 0; i < w->n_streams; i++) {
		struct wstream *st = &w->streams[i];
		size_t n = st->n_pend - st->pend_head;

		if (!n)
			continue;
		if (!force && st->pend_bytes < w->o.compact_target &&
		    n < GCS_MAX_PARTS)
			continue;
		if (best < 0 || st->pend_bytes > best_bytes) {
			best = (int)i;
			best_bytes = st->pend_bytes;
		}
	}
	return best;
}

int gcs_writer_compact_prepare(struct gcs_writer *w, bool force,
			       struct gcs_compact_job **jp)
{
	struct gcs_compact_job *j;
	struct wstream *st;
	size_t n, take;
	uint64_t bytes, reclaim;
	int s;

	*jp = NULL;
	if (w->failed)
		return w->failed;
	if (w->job_out)
		return -EBUSY;
	if (w->o.no_compact)
		return 0;
again:
	s = pick_stream(w, force);
	if (s < 0)
		return 0;
	st = &w->streams[s];
	n = st->n_pend - st->pend_head;
	take = 0;
	bytes = 0;
	reclaim = 0;
	while (take < n && take < GCS_MAX_PARTS) {
		struct pending *p = &st->pend[st->pend_head + take];
		uint32_t len = p->part.raw_len;

		if (take && bytes + len > w->o.compact_target)
			break;
		bytes += len;
		reclaim += payload_blocks(p->part.orig_off + p->hdr_len, len);
		take++;
	}
	/*
	 * Only whole blocks inside a payload can be punched: chunks smaller
	 * than a block (an insole's batch) would gain a compressed copy and
	 * free nothing, so they stay raw (8.1).
	 */
	if (!w->o.no_reclaim && !w->o.compact_all && reclaim < bytes / 8) {
		st->pend_head += take;
		st->pend_bytes -= bytes;
		w->st.compact_skipped++;
			goto again;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->parts = calloc(take, sizeof(*j->parts));
	j->hdr_lens = calloc(take, sizeof(*j->hdr_lens));
	j->src = calloc(take, sizeof(*j->src));
	if (!j->parts || !j->hdr_lens || !j->src) {
		job_free(j);
		return -ENOMEM;
	}
	j->stream = (uint32_t)s;
	j->n_parts = (uint32_t)take;
	j->level = w->o.zstd_level;
	j->raw_total = bytes;
	j->reclaim = reclaim;
	j->salt = w->salt;
	j->seed = w->seed;
	j->check = w->check;	/* lend the buffer too */
	j->check_cap = w->check_cap;
	w->check = NULL;
	w->check_cap = 0;
	j->cctx = w->cctx;	/* lend the cached context */
	w->cctx = NULL;
	for (size_t i = 0; i < take; i++) {
		struct pending *p = &st->pend[st->pend_head + i];

		j->parts[i] = p->part;
		j->hdr_lens[i] = p->hdr_len;
		/* Stable: the mapping never moves and nothing rewrites it. */
		j->src[i] = w->base + p->part.orig_off + p->hdr_len;
	}
	st->pend_head += take;
	st->pend_bytes -= bytes;
	w->job_out = true;
	*jp = j;
	return 0;
}

/*
 * The raw chunks are punched out once this copy is durable (8.2): check
 * first that it decompresses to exactly what each raw chunk's body sum
 * says, as a reader will, so that reclaim never trades data for a bad copy.
 */
static int compact_verify(struct gcs_compact_job *j)
{
	unsigned long long size;
	uint8_t *p;
	size_t n;

	size = ZSTD_getFrameContentSize(j->out, j->out_len);
	if (size != j->raw_total)
		return -EBADMSG;
	if (j->check_cap < j->raw_total) {
		free(j->check);
		j->check_cap = 0;
		j->check = malloc(j->raw_total);
		if (!j->check)
			return -ENOMEM;
		j->check_cap = j->raw_total;
	}
	n = ZSTD_decompress(j->check, j->raw_total, j->out, j->out_len);
	if (ZSTD_isError(n) || n != j->raw_total)
		return -EBADMSG;
	p = j->check;
	for (uint32_t i = 0; i < j->n_parts; i++) {
		uint32_t len = j->parts[i].raw_len;

		if (gcs_body_sum_seeded(GCS_INCOMPAT_BODY_XXH64, j->salt, j->seed,
					p, len) != j->parts[i].raw_crc)
			return -EBADMSG;
		p += len;
	}
	return 0;
}

int gcs_compact_run(struct gcs_compact_job *j)
{
	ZSTD_outBuffer out;
	size_t cap, r;

	j->ran = true;
	if (!j->cctx) {
		j->cctx = ZSTD_createCCtx();
		if (!j->cctx)
			return j->result = -ENOMEM;
	}
	ZSTD_CCtx_reset(j->cctx, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(j->cctx, ZSTD_c_compressionLevel, j->level);
	/* Our CRCs cover the data; the frame states its size for readers. */
	ZSTD_CCtx_setParameter(j->cctx, ZSTD_c_checksumFlag, 0);
	ZSTD_CCtx_setParameter(j->cctx, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setPledgedSrcSize(j->cctx, j->raw_total);
	cap = ZSTD_compressBound(j->raw_total);
	j->out = malloc(cap);
	if (!j->out)
		return j->result = -ENOMEM;
	out = (ZSTD_outBuffer){ .dst = j->out, .size = cap };
	for (uint32_t i = 0; i < j->n_parts; i++) {
		ZSTD_inBuffer in = { .src = j->src[i], .size = j->parts[i].raw_len };
		ZSTD_EndDirective end = i + 1 == j->n_parts ? ZSTD_e_end :
							      ZSTD_e_continue;

		do {
			r = ZSTD_compressStream2(j->cctx, &out, &in, end);
			if (ZSTD_isError(r))
				return j->result = -EIO;
		} while (end == ZSTD_e_end ? r != 0 : in.pos < in.size);
	}
	j->out_len = out.pos;
	return j->result = compact_verify(j);
}

static int add_punch(struct gcs_writer *w, uint64_t after, uint64_t start,
		     uint64_t end)
{
	int ret;

	start = round_up(start, GCS_BLOCK);
	end = end / GCS_BLOCK * GCS_BLOCK;
	if (end <= start)
		return 0;
	ret = GCS_ARRAY_GROW(w->punch, w->n_punch, w->cap_punch);
	if (ret)
		return ret;
	w->punch[w->n_punch++] = (struct punch){ after, start, end };
	w->punch_queued += end - start;
	return 0;
}

/* Entries of superseded chunks leave the index (they are still walkable). */
static void index_drop(struct gcs_writer *w, uint64_t off)
{
	size_t lo = 0, hi = w->n_idx;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->idx[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->n_idx && w->idx[lo].off == off)
		w->idx[lo].type = 0;
}

/*
 * The job read its raw chunks through the mapping, faulting them back in
 * behind unmap_behind(): zap them again, or a long writer's resident set
 * grows with everything it compacted (refine's close compacts it all).
 */
#define FAULT_AROUND	(64u << 10)	/* mm/filemap.c's fault_around_bytes */

static void drop_sources(struct gcs_writer *w, const struct gcs_compact_job *j)
{
	for (uint32_t i = 0; i < j->n_parts; i++) {
		uint64_t a = j->parts[i].orig_off + j->hdr_lens[i];
		uint64_t b = a + j->parts[i].raw_len;

		/*
		 * The kernel maps up to 64 KiB of cached neighbours around a
		 * fault: zap that much either side too. Below the committed
		 * mark nothing is written through the mapping.
		 */
		a = a / FAULT_AROUND * FAULT_AROUND;
		b = (b + FAULT_AROUND - 1) / FAULT_AROUND * FAULT_AROUND;
		if (a < round_up(GCS_DATA_START, w->page))
			a = round_up(GCS_DATA_START, w->page);
		if (b > w->committed / w->page * w->page)
			b = w->committed / w->page * w->page;
		if (a < b)
			madvise(w->base + a, b - a, MADV_DONTNEED);
	}
}

int gcs_writer_compact_finish(struct gcs_writer *w, struct gcs_compact_job *j)
{
	struct gcs_zchunk_ext z;
	struct gcs_slot *s;
	uint32_t hdr_len;
	uint8_t *ext;
	int ret = 0;

	w->job_out = false;
	if (!w->cctx) {		/* keep the context for the next job */
		w->cctx = j->cctx;
		j->cctx = NULL;
	}
	if (!w->check) {
		w->check = j->check;
		w->check_cap = j->check_cap;
		j->check = NULL;
	}
	if (j->ran && j->result == -EBADMSG) {
		/* The copy did not check out: the raw chunks simply stay. */
		w->st.compact_rejected++;
		goto out;
	}
	if (!j->ran || j->result) {
		ret = j->ran ? j->result : -EINVAL;
		goto out;
	}
	/* Not worth a record when it frees less than an eighth on disk. */
	hdr_len = GCS_ZCHUNK_HDR_LEN(j->n_parts);
	if (w->o.no_reclaim || w->o.compact_all ?
	    j->out_len >= j->raw_total - j->raw_total / 8 :
	    j->reclaim < hdr_len + j->out_len + j->raw_total / 8) {
		w->st.compact_skipped++;
		goto out;
	}
	ret = reserve_record(w, GCS_REC_ZCHUNK, j->stream, hdr_len,
			     (uint32_t)j->out_len, false, &s);
	if (ret)
		goto out;	/* the raw chunks stay as they are */
	z = (struct gcs_zchunk_ext){
		.stream = j->stream, .codec = GCS_CODEC_ZSTD,
		.n_parts = (uint16_t)j->n_parts, .raw_len = j->raw_total,
	};
	ext = w->base + s->off + GCS_REC_HDR_LEN;
	memcpy(ext, &z, sizeof(z));
	memcpy(ext + sizeof(z), j->parts, j->n_parts * sizeof(*j->parts));
	memcpy(s->data, j->out, j->out_len);
	seal(w, s, hdr_len, (uint32_t)j->out_len);
	for (uint32_t i = 0; i < j->n_parts; i++) {
		uint64_t a = j->parts[i].orig_off + j->hdr_lens[i];

		/*
		 * The raw payload may go only once this record is durable;
		 * the raw header stays, so the file remains walkable (8.2).
		 */
		if (add_punch(w, s->off + s->size, a, a + j->parts[i].raw_len))
			break;
		index_drop(w, j->parts[i].orig_off);
	}
	w->st.zchunks++;
	w->st.compacted_raw += j->raw_total;
	w->st.compacted_stored += s->size;
	publish(w);
out:
	drop_sources(w, j);
	job_free(j);
	return ret;
}

static int compact_inline(struct gcs_writer *w, bool force)
{
	struct gcs_compact_job *j;
	int ret;

	ret = gcs_writer_compact_prepare(w, force, &j);
	if (ret || !j)
		return ret ? ret : 0;
	gcs_compact_run(j);
	ret = gcs_writer_compact_finish(w, j);
	return ret ? ret : 1;
}

/* ---- Event loop, space ----------------------------------------------------- */

/*
 * Of each byte appended (raw chunks with their headers, markers), the part
 * that stays on disk once compaction has replaced it: the punches it queued
 * less the compressed copies, per raw byte it compacted. 1 until it ran.
 */
static double kept_fraction(const struct gcs_writer *w)
{
	double saved, basis, f;

	if (!w->st.compacted_raw || !w->st.raw_bytes)
		return 1.0;
	saved = (w->o.no_reclaim ? 0.0 : (double)w->punch_queued) -
		(double)w->st.compacted_stored;
	basis = (double)w->st.compacted_raw *
		(double)(w->tail - w->st.compacted_stored) / (double)w->st.raw_bytes;
	f = 1.0 - saved / basis;
	return f < 0.01 ? 0.01 : f > 2.0 ? 2.0 : f;
}

/*
 * Disk use per second, for the time left. Not the net growth: compaction
 * frees 4 MiB of raw data at a time, so the net swings from below zero to
 * the raw rate from one second to the next (the estimate jumped between
 * one minute and the better part of an hour on a steady input). The input
 * is steady; it is smoothed over about RATE_TAU_S and scaled by what
 * compaction keeps of it, a ratio that only settles as the session grows.
 */
#define RATE_TAU_S	10.0

static void rate_update(struct gcs_writer *w, int64_t now)
{
	uint64_t appended = w->tail - w->st.compacted_stored;
	double dt, inst;

	if (!w->rate_t) {
		w->rate_t = now;
		w->rate_appended = appended;
		return;
	}
	dt = (double)(now - w->rate_t) / 1e9;
	if (dt < 1.0)
		return;
	inst = ((double)appended - (double)w->rate_appended) / dt;
	w->rate_in = w->rate_valid ?
		     w->rate_in + dt / (RATE_TAU_S + dt) * (inst - w->rate_in) : inst;
	w->rate = w->rate_in * kept_fraction(w);
	w->rate_valid = true;
	w->rate_t = now;
	w->rate_appended = appended;
}

int gcs_writer_poll(struct gcs_writer *w, int64_t now, bool no_sync)
{
	int64_t interval = (int64_t)w->o.sync_interval_ms * 1000000;
	int64_t due;
	int ret;

	if (w->failed)
		return w->failed;
	rate_update(w, now);
	if (!no_sync && now - w->last_sync_ns >= interval) {
		ret = gcs_writer_sync(w);
		if (ret)
			return ret;
		w->last_sync_ns = now;
	}
	if (!w->job_out) {
		ret = compact_inline(w, false);
		if (ret < 0 && ret != -ENOSPC)
			return ret;
	}
	due = w->last_sync_ns + interval - now;
	if (due < 0)
		due = 0;
	return (int)(due / 1000000);
}

int gcs_writer_space(struct gcs_writer *w, int64_t now, struct gcs_space *s)
{
	struct statvfs vfs;
	struct stat sb;
	double left;

	memset(s, 0, sizeof(*s));
	if (fstatvfs(w->fd, &vfs) || fstat(w->fd, &sb))
		return -errno;
	rate_update(w, now);
	s->fs_avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	s->prealloc_left = w->mapped - w->tail;
	s->file_used = w->tail;
	s->allocated = (uint64_t)sb.st_blocks * 512;
	s->rate = w->rate_valid ? w->rate : 0;
	s->full = w->full;
	left = (double)s->fs_avail + (double)s->prealloc_left -
	       (double)w->o.tail_reserve;
	s->seconds_left = s->rate > 0 ? (left > 0 ? left : 0) / s->rate : -1;
	return 0;
}

void gcs_writer_stats(const struct gcs_writer *w, struct gcs_writer_stats *st)
{
	*st = w->st;
	st->committed_end = w->committed;
	st->durable_end = w->durable;
	st->unmapped = w->unmapped - round_up(GCS_DATA_START, w->page);
	st->outstanding = w->slot_count;
	st->sealed_waiting = 0;
	for (unsigned int i = 0; i < w->slot_count; i++)
		st->sealed_waiting +=
			w->slots[(w->slot_head + i) % MAX_SLOTS].state == SLOT_READY;
	st->failed = w->failed;
	st->sync_error = w->sync_error;
}

/* ---- Create, close, abort ---------------------------------------------------- */

static void writer_free(struct gcs_writer *w)
{
	if (w->base)
		munmap(w->base, w->va_size);
	if (w->fd >= 0)
		close(w->fd);
	for (uint32_t i = 0; i < w->n_streams; i++)
		free(w->streams[i].pend);
	free(w->streams);
	free(w->punch);
	free(w->idx);
	free(w->path);
	free(w->check);
	ZSTD_freeCCtx(w->cctx);
	free(w);
}

static int sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, ret = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

/*
 * The file gets its name only once it is a session (header, metadata,
 * synced): made unnamed with O_TMPFILE in the target's directory, then
 * linked. A writer killed before that leaves nothing behind, never a file
 * of zeros under the session's name. Where O_TMPFILE is missing (some
 * filesystems) the file is created under its name at once. Medical data:
 * never world-readable, never an existing file.
 */
static void proc_fd_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* How an unnamed @fd can be linked later: through /proc, or as root. */
static int linkable(int fd)
{
	struct stat a, b;
	char proc[32];

	proc_fd_path(proc, sizeof(proc), fd);
	if (!stat(proc, &a) && !fstat(fd, &b) && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return LINK_BY_PROC;
	/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH. */
	return geteuid() == 0 ? LINK_BY_EMPTY_PATH : NAMED;
}

static int create_file(struct gcs_writer *w, const char *path)
{
	char *copy = strdup(path);
	int fd, err, how = NAMED;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_TMPFILE | O_RDWR | O_CLOEXEC, 0640);
	err = errno;
	free(copy);
	if (fd >= 0) {
		how = linkable(fd);
		if (how == NAMED) {
			close(fd);	/* e.g. no /proc in a chroot: the plain way */
			fd = -1;
			err = EOPNOTSUPP;
		}
	}
	if (fd >= 0) {
		/* Fail now, not at the end, when the name is taken. */
		if (!access(path, F_OK)) {
			close(fd);
			return -EEXIST;
		}
		w->fd = fd;
		w->naming = how;
		return 0;
	}
	/* No O_TMPFILE here: EOPNOTSUPP (the filesystem), EISDIR (< 3.11). */
	if (err != EOPNOTSUPP && err != EISDIR && err != EINVAL)
		return -err;
	w->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	return w->fd < 0 ? -errno : 0;
}

/* Give the unnamed file its name; EEXIST if someone took it meanwhile. */
static int name_file(struct gcs_writer *w, const char *path)
{
	char proc[32];
	int ret;

	if (w->naming == NAMED)
		return 0;
	if (w->naming == LINK_BY_PROC) {
		proc_fd_path(proc, sizeof(proc), w->fd);
		ret = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
	} else {
		ret = linkat(w->fd, "", AT_FDCWD, path, AT_EMPTY_PATH);
	}
	if (ret)
		return -errno;
	w->naming = NAMED;
	/* The link count is the inode's: durable with it, then the entry. */
	return fsync(w->fd) ? -errno : 0;
}

static int opts_check(struct gcs_writer_opts *o, size_t page)
{
	if (!o->grow_step || !o->max_size || o->zstd_level < 1 ||
	    o->zstd_level > ZSTD_maxCLevel() || !o->sync_interval_ms)
		return -EINVAL;
	o->grow_step = round_up(o->grow_step, page);
	if (o->tail_reserve < 64 * 1024)
		o->tail_reserve = 64 * 1024;
	if (o->compact_target > GCS_MAX_BODY)
		o->compact_target = GCS_MAX_BODY;
	o->max_size = round_up(o->max_size, page);
	if (o->max_size < GCS_DATA_START + o->grow_step)
		return -EINVAL;
	return 0;
}

int gcs_writer_create(struct gcs_writer **wp, const char *path,
		      const struct gcs_writer_opts *opts, const char *meta_json)
{
	struct gcs_writer *w;
	const char *why;
	char *meta = NULL;
	int ret;

	*wp = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->page = (size_t)sysconf(_SC_PAGESIZE);
	if (opts)
		w->o = *opts;
	else
		gcs_writer_opts_init(&w->o);
	ret = opts_check(&w->o, w->page);
	if (ret)
		goto err_free;
	ret = gcs_meta_canon(meta_json, true, &meta, &why);
	if (ret)
		goto err_free;
	w->path = strdup(path);
	if (!w->path) {
		ret = -ENOMEM;
		goto err_free;
	}
	if (getrandom(&w->salt, sizeof(w->salt), 0) != sizeof(w->salt)) {
		ret = -EIO;
		goto err_free;
	}
	w->seed = gcs_salt_seed(w->salt);
	/* Address space for the largest file: pointers never move. */
	w->va_size = w->o.max_size;
	w->base = mmap(NULL, w->va_size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w->base == MAP_FAILED) {
		w->base = NULL;
		ret = -errno;
		goto err_free;
	}
	ret = create_file(w, path);
	if (ret)
		goto err_free;
	if (flock(w->fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		goto err_unlink;
	}
	w->tail = GCS_DATA_START;
	w->committed = GCS_DATA_START;
	/*
	 * Both slots valid from the start; slot 1 (generation 1) wins. They go
	 * first, so that the file is a session before it is preallocated
	 * (where O_TMPFILE is missing, a kill in between leaves a session
	 * with no records rather than a file of zeros).
	 */
	ret = write_header(w, 0, GCS_STATE_OPEN, GCS_DATA_START, 0, 0);
	if (!ret)
		ret = write_header(w, 1, GCS_STATE_OPEN, GCS_DATA_START, 0, 0);
	if (!ret)
		ret = ensure_room(w, 0, false);
	if (ret)
		goto err_unlink;
	w->generation = 1;
	w->durable = GCS_DATA_START;
	w->unmapped = round_up(GCS_DATA_START, w->page);
	ret = write_small(w, GCS_REC_META, GCS_STREAM_NONE, NULL, 0, meta,
			  (uint32_t)strlen(meta), false);
	if (!ret)
		ret = gcs_writer_sync(w);
	if (!ret)
		ret = name_file(w, path);
	if (!ret)
		ret = sync_dir(path);
	if (ret)
		goto err_unlink;
	free(meta);
	w->last_sync_ns = now_ns(CLOCK_MONOTONIC);
	*wp = w;
	return 0;

err_unlink:
	if (w->fd >= 0 && w->naming == NAMED)
		unlink(path);	/* we created it (O_EXCL): leave nothing half-made */
err_free:
	free(meta);
	writer_free(w);
	return ret;
}

static int write_index(struct gcs_writer *w, uint64_t *index_off)
{
	struct gcs_index_ext x = { 0 };
	struct gcs_slot *s;
	uint8_t *body;
	size_t i;
	int ret;

	for (i = 0; i < w->n_idx; i++)
		x.n_entries += w->idx[i].type != 0;
	if ((uint64_t)x.n_entries * sizeof(struct gcs_index_entry) > GCS_MAX_BODY)
		return -E2BIG;
	ret = reserve_record(w, GCS_REC_INDEX, GCS_STREAM_NONE,
			     GCS_INDEX_HDR_LEN,
			     x.n_entries * sizeof(struct gcs_index_entry), true, &s);
	if (ret)
		return ret;
	memcpy(w->base + s->off + GCS_REC_HDR_LEN, &x, sizeof(x));
	body = s->data;
	for (i = 0; i < w->n_idx; i++) {
		if (!w->idx[i].type)
			continue;
		memcpy(body, &w->idx[i], sizeof(w->idx[i]));
		body += sizeof(w->idx[i]);
	}
	seal(w, s, GCS_INDEX_HDR_LEN, s->cap);
	*index_off = s->off;
	publish(w);
	return 0;
}

void gcs_writer_set_end(struct gcs_writer *w, int64_t t_ns)
{
	w->end_set = true;
	w->end_ns = t_ns;
}

int gcs_writer_close(struct gcs_writer *w)
{
	struct gcs_marker_ext end;
	uint64_t index_off = 0;
	int ret = 0, r;

	if (w->job_out || w->sync_busy)
		return -EBUSY;
	/* Open reservations hold nothing committed: give them back. */
	for (unsigned int i = w->slot_count; i-- > 0;) {
		struct gcs_slot *s = slot_at(w, i);

		if (s->state == SLOT_RESERVED)
			gcs_writer_abandon(w, s);
	}
	while (!w->failed && (r = compact_inline(w, true)) > 0)
		;
	end = (struct gcs_marker_ext){
		.code = GCS_MARK_SESSION_END, .stream = GCS_STREAM_NONE,
		.t_ns = w->end_set ? w->end_ns : now_ns(CLOCK_MONOTONIC),
		.value = w->full ? ENOSPC : 0,
	};
	ret = write_small(w, GCS_REC_MARKER, GCS_STREAM_NONE, &end, sizeof(end),
			  NULL, 0, true);
	gcprobe_notes_final();
	/* Make the zstd chunks durable, which lets the punches run. */
	r = gcs_writer_sync(w);
	if (!ret)
		ret = r;
	if (!w->failed && write_index(w, &index_off))
		index_off = 0;	/* the index is optional (4.9) */
	if (w->failed) {
		ret = w->failed;
		goto out;
	}
	/* Drop the preallocation, then say where the file ends. */
	munmap(w->base, w->va_size);
	w->base = NULL;
	if (ftruncate(w->fd, (off_t)w->committed) || fdatasync(w->fd)) {
		ret = -errno;
		goto out;
	}
	r = write_header(w, w->generation + 1, GCS_STATE_CLOSED, w->committed,
			 w->committed, index_off);
	if (!r && fdatasync(w->fd))
		r = -errno;
	if (!ret)
		ret = r;
out:
	writer_free(w);
	return ret;
}

void gcs_writer_abort(struct gcs_writer *w)
{
	writer_free(w);
}
