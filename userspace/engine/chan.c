// SPDX-License-Identifier: GPL-2.0
/*
 * Channels: one file descriptor each, read through the ring layer. A
 * channel owns its state (this struct is private to this file): the engine
 * drives it through the chan_* calls of engine_internal.h, completions and
 * its hold timer come back from the ring, and an end is only marked here;
 * the engine tells the source once the completion has returned.
 *
 * RECORDS: a read lands straight in a chunk reservation of the session
 * file's mapping and whatever whole records it brought are committed at
 * once. Bytes that cannot go in that chunk (a record cut by a short read on
 * a byte stream, or records after a sequence jump) wait in `carry` and open
 * the next reservation. Invariant: bytes read but not yet committed are
 * either in carry (no reservation held) or at slot->data[0, fill).
 *
 * MESSAGES: one message per IORING_OP_RECVMSG, framed as a variable-size
 * record with its receive timestamp and staged; a batch is committed at a
 * quiet moment, when large enough or old enough, or (commit_each) each
 * message as its own chunk as soon as it is received.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine_internal.h"
#include "gcprobes.h"

#define DRAIN_MAX	256	/* reads at stop before giving up on a flood */
#define MSG_MAX_DEF	512
#define COMMIT_MS_DEF	50
#define BATCH_BYTES_DEF	(64u << 10)

#define CHAN_SEALS	128	/* more than the writer's reservations */

enum chan_state {
	CH_IDLE = 0,		/* nothing in flight: about to be armed */
	CH_POLL,		/* POLL_ADD in flight */
	CH_READ,		/* READ/READV/RECVMSG in flight */
	CH_RETRY,		/* waiting for the next tick to try again */
	CH_HOLD,		/* readable, waiting for the hold timer to read more at once */
	CH_DONE,
};

/*
 * What a kind of channel does with its reads; the life cycle around them
 * (polls, holds, draining, the end) is the same for every kind.
 */
struct chan_reader {
	int (*init)(struct eng_chan *c);		/* check the def, allocate */
	void (*start)(struct eng_chan *c);		/* submit a read */
	void (*done)(struct eng_chan *c, int res);	/* its completion */
	int (*end)(struct eng_chan *c);		/* give back or commit what is held */
	int (*flush)(struct eng_chan *c, bool all);	/* at quiet moments (optional) */
};

struct eng_chan {
	const struct chan_reader *rd;
	struct eng *e;
	struct eng_source *src;
	struct eng_chan_def d;
	char label[32];
	enum chan_state state;
	bool end_pending;	/* ended; the engine has not told the source yet */
	bool prefault;		/* MADV_POPULATE_WRITE ahead of reads */
	bool nonblock;		/* the fd has O_NONBLOCK */
	bool draining;		/* stopping: read until empty, no polls */
	bool pipe_like;		/* a pipe, fifo or socket: poll() means data */
	bool direct;		/* next read without a poll first */
	bool full;		/* the last read filled what it asked for */
	bool parked;		/* its waiting read was let go: poll first */
	bool wait_recv;		/* MESSAGES: the receive waits in the kernel */
	bool letting_go;	/* its read is being cancelled (unblock) */
	bool deferred;		/* sealed behind a waiting receive: chan_resume */
	int64_t pos;		/* file offset of the next read; -1: none */
	uintptr_t faulted_end;	/* prefault: this channel's pages are in below */
	int64_t last_read;	/* when the last read completed */
	int64_t last_data;	/* when a read last brought data */
	int64_t probe_reap;	/* MESSAGES, a tool attached: when the last completion came */
	int64_t probe_submit;	/* RECORDS, a tool attached: when the read was submitted */
	struct ring_timer hold;	/* CH_HOLD: when to read */
	uint32_t hold_cur_us;	/* the hold now: d.hold_us, shortened under load */
	unsigned int drain_rounds;
	struct ring_op op_poll, op_read;

	/* RECORDS: the reservation being filled and what did not fit in it */
	struct gcs_slot *slot;
	uint32_t fill;		/* bytes at slot->data */
	uint32_t req;		/* bytes the read in flight asked for */
	struct iovec iov;	/* READV fallback */
	uint8_t *carry;
	uint32_t carry_len, carry_cap;
	uint32_t cap_records;	/* current reservation size, in records */
	double ema_records;	/* records per read, smoothed */

	/* sequence */
	bool have_seq;
	uint64_t next_seq;
	int64_t last_t;
	uint64_t count;		/* records seen: seq of channels without one */

	/*
	 * MESSAGES: received straight into the reservation (slot, fill: the
	 * framed bytes), stage_n of them in the batch; rbuf only when one
	 * must move to a new chunk. ema_records: bytes per batch, smoothed.
	 */
	uint8_t *rbuf;
	uint32_t stage_n;
	uint64_t stage_first_seq;
	int64_t stage_t_first, stage_t_last;
	struct eng_clock_map rx_map;	/* receive timestamps onto monotonic */
	struct msghdr msg;
	struct iovec miov;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct timespec)) * 2];
	} cbuf;

	/* clock window: record with the smallest host - device offset */
	bool clk_have;
	int64_t clk_min, clk_max, clk_dev, clk_host;

	/*
	 * Sealed chunks not yet known to be committed (file order: they wait
	 * for earlier reservations), and what is committed and, as of the
	 * last sync's start, durable.
	 */
	struct {
		uint64_t off, records;
		int64_t t;
	} seal[CHAN_SEALS];
	unsigned int seal_head, n_seal;
	uint64_t pub_records, sync_records;
	int64_t pub_t, sync_t;

	/* recent rate */
	uint64_t rate_count;
	int64_t rate_t;

	struct eng_chan_stats st;
};

static void chan_finish(struct eng_chan *c, int err);
static void poll_done(struct ring_op *op, int res);
static void read_done(struct ring_op *op, int res);
static void hold_over(struct ring_timer *t, int64_t now);
static const struct chan_reader *const readers[2];

const char *eng_chan_label(const struct eng_chan *c)
{
	return c->label;
}

uint32_t eng_chan_stream(const struct eng_chan *c)
{
	return c->d.stream;
}

struct eng_source *eng_chan_source(const struct eng_chan *c)
{
	return c->src;
}

void eng_chan_get_stats(const struct eng_chan *c, struct eng_chan_stats *st)
{
	*st = c->st;
}

int chan_new(struct eng *e, struct eng_source *s, const struct eng_chan_def *d,
	     struct eng_chan **cp)
{
	struct eng_chan *c;
	struct stat sb;
	int fl, ret;

	if (d->fd < 0)
		return -EBADF;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = e;
	c->src = s;
	c->d = *d;
	snprintf(c->label, sizeof(c->label), "%s", d->label ? d->label : "chan");
	c->d.label = c->label;
	fl = fcntl(d->fd, F_GETFL);
	c->nonblock = fl >= 0 && (fl & O_NONBLOCK);
	c->pipe_like = !fstat(d->fd, &sb) &&
		       (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode));
	/* Seekable files are read at an explicit offset (works before 5.6). */
	c->pos = lseek(d->fd, 0, SEEK_CUR);
	if (c->pos < 0)
		c->pos = -1;
	c->hold_cur_us = d->hold_us;
	c->op_poll.done = poll_done;
	c->op_read.done = read_done;
	c->hold.fire = hold_over;
	c->prefault = e->f.prefault;

	ret = -EINVAL;
	if ((unsigned int)d->kind >= sizeof(readers) / sizeof(readers[0]) ||
	    !readers[d->kind])
		goto err;
	c->rd = readers[d->kind];
	/*
	 * Each message its own chunk on a socket: keep a receive submitted,
	 * so io_uring's own poll completes it into the reservation as the
	 * message is queued, with no trip through the loop in between.
	 */
	c->wait_recv = d->kind == ENG_CHAN_MESSAGES && d->commit_each &&
		       e->f.wait_recv && c->nonblock && S_ISSOCK(sb.st_mode);
	ret = c->rd->init(c);
	if (ret)
		goto err;
	*cp = c;
	return 0;
err:
	chan_free(c);
	return ret;
}

void chan_free(struct eng_chan *c)
{
	if (!c)
		return;
	ring_timer_clear(&c->e->ring, &c->hold);
	free(c->carry);
	free(c->rbuf);
	free(c);
}

/* ---- Records ------------------------------------------------------------------ */

static int carry_put(struct eng_chan *c, const uint8_t *p, uint32_t len)
{
	if (c->carry_len + len > c->carry_cap) {
		uint32_t cap = c->carry_len + len;
		uint8_t *n = realloc(c->carry, cap);

		if (!n)
			return -ENOMEM;
		c->carry = n;
		c->carry_cap = cap;
	}
	memcpy(c->carry + c->carry_len, p, len);
	c->carry_len += len;
	c->st.carry_bytes += len;
	return 0;
}

/* Give the reservation back; what it held goes back to carry. */
static void rec_release(struct eng_chan *c)
{
	if (!c->slot)
		return;
	if (c->fill && carry_put(c, c->slot->data, c->fill))
		eng_fail(c->e, -ENOMEM);
	gcs_writer_abandon(c->e->w, c->slot);
	c->slot = NULL;
	c->fill = 0;
}

static int rec_reserve(struct eng_chan *c, uint32_t cap)
{
	int ret = gcs_writer_reserve(c->e->w, c->d.stream, cap, &c->slot);

	if (ret) {
		c->slot = NULL;
		return ret;
	}
	if (c->carry_len)
		memcpy(c->slot->data, c->carry, c->carry_len);
	c->fill = c->carry_len;
	c->carry_len = 0;
	return 0;
}

/*
 * Committed, not just sealed: a chunk is committed (readers see it, it
 * survives a kill) once every earlier reservation of any channel is, and
 * the writer's committed end has passed its offset.
 */
void chan_committed(struct eng_chan *c, uint64_t committed_end)
{
	while (c->n_seal && c->seal[c->seal_head].off < committed_end) {
		c->pub_records = c->seal[c->seal_head].records;
		c->pub_t = c->seal[c->seal_head].t;
		c->seal_head = (c->seal_head + 1) % CHAN_SEALS;
		c->n_seal--;
	}
	c->st.committed_records = c->pub_records;
	c->st.committed_t_ns = c->pub_t;
}

/* The chunk at @off holds the channel's records up to st.records. */
static void sealed(struct eng_chan *c, uint64_t off)
{
	struct gcs_writer_stats ws;
	unsigned int i;

	gcs_writer_stats(c->e->w, &ws);
	chan_committed(c, ws.committed_end);
	if (c->n_seal == CHAN_SEALS) {
		/* Cannot happen (the writer has fewer slots): undercount. */
		i = (c->seal_head + c->n_seal - 1) % CHAN_SEALS;
	} else {
		i = (c->seal_head + c->n_seal) % CHAN_SEALS;
		c->n_seal++;
	}
	c->seal[i].off = off;
	c->seal[i].records = c->st.records;
	c->seal[i].t = c->st.t_last_ns;
	chan_committed(c, ws.committed_end);
}

static void rec_info(struct eng_chan *c, const uint8_t *rec, uint64_t index,
		     struct eng_rec_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	if (c->d.rec_info)
		c->d.rec_info(c->d.priv, rec, c->d.record_size, ri);
	if (!c->d.has_seq)
		ri->seq = index;
	if (!c->d.rec_ts)
		ri->t_ns = 0;
}

static void clock_note(struct eng_chan *c, const struct eng_rec_info *ri)
{
	int64_t off;

	if (!ri->has_device_ns || !ri->t_ns)
		return;
	off = ri->t_ns - ri->device_ns;
	if (!c->clk_have || off < c->clk_min) {
		c->clk_min = off;
		c->clk_dev = ri->device_ns;
		c->clk_host = ri->t_ns;
	}
	if (!c->clk_have || off > c->clk_max)
		c->clk_max = off;
	c->clk_have = true;
}

/*
 * A jump from next_seq to @seq: the device reports `missing` numbers lost
 * just before @seq (on its link, or by itself); the others reached the
 * host and were lost here (for IIO, the kernel buffer overflowed).
 */
static void note_gap(struct eng_chan *c, uint64_t seq, uint32_t missing,
		     int64_t t_end)
{
	uint64_t len = seq - c->next_seq, dev = missing < len ? missing : len;
	int64_t t0 = c->last_t ? c->last_t : t_end;
	int ret = 0;

	if (dev) {
		ret = eng_gap(c->e, c->d.stream, GCS_GAP_DEVICE_OVERFLOW,
			      seq - dev, seq - 1, t0, t_end);
		c->st.gaps++;
		c->st.lost_device += dev;
	}
	if (!ret && len > dev) {
		ret = eng_gap(c->e, c->d.stream, c->d.gap_reason, c->next_seq,
			      seq - dev - 1, t0, t_end);
		c->st.gaps++;
		c->st.lost_kernel += len - dev;
	}
	c->st.lost += len;
	if (ret)
		eng_fail(c->e, ret);
}

/*
 * Commit the whole records at slot->data[0, fill) as contiguous chunks,
 * writing a gap record at each sequence jump. Leaves no reservation.
 */
static int rec_take(struct eng_chan *c, int64_t now)
{
	const uint32_t rs = c->d.record_size;
	struct gcs_chunk_meta m;
	struct eng_rec_info first, ri;
	uint64_t seq0, prev;
	int64_t tmin, tmax;
	uint32_t n, k, rest;
	uint64_t off;
	bool gap;
	int ret;

	while (c->slot) {
		const uint8_t *data = c->slot->data;

		n = c->fill / rs;
		if (!n) {
			rec_release(c);
			return 0;
		}
		rec_info(c, data, c->count, &first);
		seq0 = first.seq;
		gap = false;
		if (c->d.has_seq && c->have_seq && seq0 != c->next_seq) {
			if (seq0 < c->next_seq) {
				/* Not ours to renumber: the device restarted. */
				rec_release(c);
				c->carry_len = 0;
				return -EPROTO;
			}
			gap = true;
		}
		tmin = tmax = first.t_ns;
		clock_note(c, &first);
		prev = seq0;
		for (k = 1; k < n; k++) {
			rec_info(c, data + (size_t)k * rs, c->count + k, &ri);
			if (ri.seq != prev + 1)
				break;	/* split: a jump (or worse) */
			prev = ri.seq;
			clock_note(c, &ri);
			if (ri.t_ns && (!tmin || ri.t_ns < tmin))
				tmin = ri.t_ns;
			if (ri.t_ns > tmax)
				tmax = ri.t_ns;
		}
		if (!c->d.rec_ts || !tmin) {
			tmin = now;
			tmax = now;
		}
		/* Keep what follows: the commit may reuse the bytes after it. */
		rest = c->fill - k * rs;
		if (rest) {
			ret = carry_put(c, data + (size_t)k * rs, rest);
			if (ret)
				return ret;
		}
		m = (struct gcs_chunk_meta){
			.len = k * rs, .n_records = k, .first_seq = seq0,
			.last_seq = seq0 + k - 1, .t_first_ns = tmin,
			.t_last_ns = tmax, .flags = GCS_CHUNK_F_CONTIGUOUS,
		};
		off = c->slot->off;
		ret = gcs_writer_commit(c->e->w, c->slot, &m);
		c->slot = NULL;
		c->fill = 0;
			if (ret)
			return ret;
		if (gap)
			note_gap(c, seq0, first.missing, tmin);
		if (!c->st.records) {
			c->st.first_seq = seq0;
			c->st.t_first_ns = tmin;
		}
		c->st.records += k;
		c->st.bytes += m.len;
		c->st.chunks++;
		c->st.last_seq = m.last_seq;
		c->st.t_last_ns = tmax;
		sealed(c, off);
		c->have_seq = true;
		c->next_seq = m.last_seq + 1;
		c->last_t = tmax;
		c->count += k;

		if (c->carry_len >= rs) {
			ret = rec_reserve(c, c->carry_len);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int rec_init(struct eng_chan *c)
{
	const uint32_t max_bytes = c->e->o.max_read_bytes;
	uint32_t most;

	if (!c->d.record_size || c->d.record_size > max_bytes)
		return -EINVAL;
	most = max_bytes / c->d.record_size;
	if (!c->d.max_records || c->d.max_records > most)
		c->d.max_records = most;
	if (!c->d.batch_records)
		c->d.batch_records = 1;
	if (c->d.batch_records > c->d.max_records)
		c->d.batch_records = c->d.max_records;
	c->cap_records = c->d.batch_records * 2;
	if (c->cap_records < 4)
		c->cap_records = 4;
	if (c->cap_records > c->d.max_records)
		c->cap_records = c->d.max_records;
	return 0;
}

/* At the end: a record cut short at the very end can never be completed. */
static int rec_end(struct eng_chan *c)
{
	rec_release(c);
	c->carry_len = 0;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

/*
 * The read copies into pages of the file's mapping that are not there
 * yet: one fault per page, each an exception taken inside the kernel's
 * copy. One madvise() faults the same pages in without the exceptions.
 * Only what the read is expected to bring (@expect bytes) is faulted in,
 * and only once: reservations are larger than what a read brings, and the
 * tail moves back after a short read, so each channel keeps the end of what
 * it already faulted in (its reservations only move forward in the file's
 * one mapping; other channels' lie elsewhere). Syncs cover only what is
 * committed (sync_submit), so pages faulted in ahead stay writable until
 * the read fills them. Older kernels (before 5.14) say EINVAL.
 */
static void prefault(struct eng_chan *c, uint8_t *p, size_t len,
		     size_t expect)
{
	static long page;
	uintptr_t a, b;

	if (!c->prefault || !len)
		return;
	if (!page)
		page = sysconf(_SC_PAGESIZE);
	if (expect < len)
		len = expect;
	a = (uintptr_t)p & ~(uintptr_t)(page - 1);
	b = ((uintptr_t)p + len + page - 1) & ~(uintptr_t)(page - 1);
	if (a < c->faulted_end)
		a = c->faulted_end;
	if (b <= a)
		return;
	if (madvise((void *)a, b - a, MADV_POPULATE_WRITE)) {
		if (errno == EINVAL)
			c->prefault = false;
		return;
	}
	c->faulted_end = b;
}

static void rec_start_read(struct eng_chan *c)
{
	struct eng *e = c->e;
	const uint32_t rs = c->d.record_size;
	struct io_uring_sqe *sqe;
	uint32_t want;
	int ret;

	if (!c->slot) {
		want = c->cap_records * rs;
		/* A record cut by the last read must fit whole, and more. */
		if (c->carry_len + rs > want)
			want = c->carry_len + rs;
		ret = rec_reserve(c, want);
		if (ret) {
			/* Full disk: the session ends (gcs closes it cleanly). */
			chan_finish(c, ret);
			return;
		}
	}
	c->req = c->slot->cap - c->fill;
	if (c->d.whole_records)
		c->req -= c->req % rs;
	/* What reads bring on average, and some: the rest faults as usual. */
	prefault(c, c->slot->data + c->fill, c->req,
		 (size_t)((2 * c->ema_records + 1) * rs));
	sqe = ring_sqe(&e->ring, &c->op_read);
	if (!sqe) {
		rec_release(c);
		return;
	}
	if (e->f.read_op) {
		io_uring_prep_read(sqe, c->d.fd, c->slot->data + c->fill, c->req,
				   (uint64_t)c->pos);
	} else {
		c->iov.iov_base = c->slot->data + c->fill;
		c->iov.iov_len = c->req;
		io_uring_prep_readv(sqe, c->d.fd, &c->iov, 1, (uint64_t)c->pos);
	}
	if (e->f.io_mode == ENG_IO_ASYNC && !c->draining)
		sqe->flags |= IOSQE_ASYNC;
	c->state = CH_READ;
	c->st.reads++;
	GCPROBE3(read_submit, c->d.stream, (uintptr_t)&c->op_read, c->req);
	/* Without a poll before it, the reader was woken now (read_done). */
	if (GCPROBE_ENABLED(read_done))
		c->probe_submit = eng_now();
}

/*
 * The hold is set from the device's nominal rate; records may come faster
 * (a device that lies, an emulator run faster than real time). Keep each
 * read at about a quarter of what the kernel buffer holds: shorten the
 * hold when a read brings more, let it grow back when they bring less.
 */
static void hold_adapt(struct eng_chan *c, uint32_t got)
{
	uint32_t quarter = c->d.max_records / 4 ? c->d.max_records / 4 : 1;

	if (!c->d.hold_us)
		return;
	if (got > quarter) {
		c->hold_cur_us = (uint32_t)((uint64_t)c->hold_cur_us * quarter / got);
		if (c->hold_cur_us < 1000)
			c->hold_cur_us = 1000;
	} else if (got < quarter / 2 && c->hold_cur_us < c->d.hold_us) {
		c->hold_cur_us += c->hold_cur_us / 4 + 1000;
		if (c->hold_cur_us > c->d.hold_us)
			c->hold_cur_us = c->d.hold_us;
	}
}

static void rec_adapt(struct eng_chan *c, uint32_t got, bool full)
{
	double want;

	hold_adapt(c, got);
	c->ema_records = 0.8 * c->ema_records + 0.2 * got;
	want = 2 * c->ema_records + 1;
	if (want < 2.0 * c->d.batch_records)
		want = 2.0 * c->d.batch_records;
	c->cap_records = want > c->d.max_records ? c->d.max_records :
						   (uint32_t)want;
	if (full) {
		/* More is waiting: ask for it at once, and for more of it. */
		c->cap_records = c->cap_records * 2 > c->d.max_records ?
				 c->d.max_records : c->cap_records * 2;
		c->direct = true;
	}
	if (!c->cap_records)
		c->cap_records = 1;
}

static void rec_read_done(struct eng_chan *c, int res)
{
	struct eng *e = c->e;
	int64_t now;
	uint32_t got;
	bool full;
	int ret;

	if (res > 0) {
		if ((uint32_t)res > c->req) {
			rec_release(c);
			chan_finish(c, -EOVERFLOW);
			return;
		}
		if (c->d.whole_records && res % c->d.record_size) {
			/* The device's scan size is not what we were told. */
			rec_release(c);
			chan_finish(c, -EPROTO);
			return;
		}
		if (c->pos >= 0)
			c->pos += res;
		now = eng_now();
		if (c->last_data && now - c->last_data > c->st.read_gap_ns_max)
			c->st.read_gap_ns_max = now - c->last_data;
		c->last_data = now;
		got = (uint32_t)res / c->d.record_size;
		if (got > c->st.peak_records)
			c->st.peak_records = got;
		c->last_read = now;
		full = (uint32_t)res == c->req;
		c->full = full;
		c->fill += (uint32_t)res;
		if (c->fill % c->d.record_size)
			c->st.partial++;
		ret = rec_take(c, now);
		if (ret) {
			chan_finish(c, ret);
			return;
		}
		rec_adapt(c, got, full);
		if (c->draining && !full) {
			chan_finish(c, 0);	/* drained: the buffer is empty */
			return;
		}
		chan_arm(c);
		return;
	}
	if (res == 0) {
		/* End of file: commit what is whole, drop a cut record. */
		ret = rec_take(c, eng_now());
		chan_finish(c, ret);
		return;
	}
	rec_release(c);
	switch (res) {
	case -EAGAIN:
		c->st.eagain++;
		if (c->draining) {
			chan_finish(c, 0);
			return;
		}
		c->direct = false;
		if (!e->f.op_poll_add && e->f.io_mode != ENG_IO_FAST_POLL) {
			c->state = CH_RETRY;	/* nothing to wait on: next tick */
			return;
		}
		c->state = CH_IDLE;
		if (e->f.io_mode == ENG_IO_POLL_FIRST || !e->f.op_poll_add) {
			chan_arm(c);
			return;
		}
		/* fast-poll/async said -EAGAIN: poll once, then read again. */
		{
			struct io_uring_sqe *sqe = ring_sqe(&e->ring, &c->op_poll);

			if (sqe) {
				io_uring_prep_poll_add(sqe, c->d.fd, POLLIN);
				c->state = CH_POLL;
				c->st.polls++;
				GCPROBE2(poll_submit, c->d.stream,
					 (uintptr_t)&c->op_poll);
			}
		}
		return;
	case -EINTR:
	case -ECANCELED:
		c->st.eintr++;
		c->state = CH_IDLE;
		chan_arm(c);
		return;
	}
	chan_finish(c, res);
}

/* ---- Messages --------------------------------------------------------------------- */

/* Room one more message needs in the reservation: framing and padding. */
static uint32_t msg_room(const struct eng_chan *c)
{
	return gcs_var_rec_size(c->d.msg_max);
}

/*
 * Reserve for a batch: twice what recent batches held, plus one message,
 * so that a reservation another channel's shuts in (its unused part then
 * stays as padding) wastes little.
 */
static int msg_reserve(struct eng_chan *c)
{
	uint32_t room = msg_room(c), cap;
	double want = 2 * c->ema_records + room;

	if (want < 2.0 * room)
		want = 2.0 * room;
	if (want > (double)c->d.batch_bytes + room)
		want = (double)c->d.batch_bytes + room;
	/* One message per chunk: room for one, no padding if shut in. */
	if (c->d.commit_each)
		want = room;
	cap = (uint32_t)want;
	cap = (cap + 7) & ~7u;
	c->fill = 0;
	c->stage_n = 0;
	if (gcs_writer_reserve(c->e->w, c->d.stream, cap, &c->slot)) {
		c->slot = NULL;
		return -ENOSPC;
	}
	return 0;
}

/* Commit the messages framed at slot->data[0, fill) as one chunk. */
static int msg_commit(struct eng_chan *c)
{
	struct gcs_chunk_meta m;
	uint64_t off;
	int ret;

	if (!c->slot)
		return 0;
	if (!c->stage_n) {
		gcs_writer_abandon(c->e->w, c->slot);
		c->slot = NULL;
		return 0;
	}
	m = (struct gcs_chunk_meta){
		.len = c->fill, .n_records = c->stage_n,
		.first_seq = c->stage_first_seq,
		.last_seq = c->stage_first_seq + c->stage_n - 1,
		.t_first_ns = c->stage_t_first, .t_last_ns = c->stage_t_last,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	off = c->slot->off;
	ret = gcs_writer_commit(c->e->w, c->slot, &m);
	c->slot = NULL;
	c->fill = 0;
	c->stage_n = 0;
	c->ema_records = 0.8 * c->ema_records + 0.2 * m.len;
	if (ret)
		return ret;
	if (!c->st.records) {
		c->st.first_seq = m.first_seq;
		c->st.t_first_ns = m.t_first_ns;
	}
	c->st.records += m.n_records;
	c->st.bytes += m.len;
	c->st.chunks++;
	c->st.last_seq = m.last_seq;
	c->st.t_last_ns = m.t_last_ns;
	sealed(c, off);
	return 0;
}

static int msg_init(struct eng_chan *c)
{
	if (!c->d.msg_max)
		c->d.msg_max = MSG_MAX_DEF;
	if (!c->d.commit_ms)
		c->d.commit_ms = COMMIT_MS_DEF;
	if (!c->d.batch_bytes)
		c->d.batch_bytes = BATCH_BYTES_DEF;
	if (c->d.msg_max > GCS_MAX_BODY / 4 ||
	    c->d.batch_bytes > GCS_MAX_BODY / 2)
		return -EINVAL;
	eng_clock_map_init(&c->rx_map, CLOCK_REALTIME);
	/* Only for a message that must move to a new chunk (a sequence jump). */
	c->rbuf = malloc(c->d.msg_max);
	return c->rbuf ? 0 : -ENOMEM;
}

/*
 * Each message is received straight into the reservation, after the room
 * for its frame header, which is written once its length and timestamp
 * are known: one copy, the kernel's. MSG_DONTWAIT: a batch's receive never
 * waits holding the reservation (an empty socket says -EAGAIN and is
 * polled). A waiting receive (wait_recv) holds one message's room, its
 * pages faulted in now rather than by the kernel's copy.
 */
static void msg_start_read(struct eng_chan *c)
{
	struct eng *e = c->e;
	struct io_uring_sqe *sqe;
	bool wait = c->wait_recv && !c->draining;
	int ret;

	if (!c->slot) {
		ret = msg_reserve(c);
		if (ret) {
			chan_finish(c, ret);
			return;
		}
	}
	c->miov.iov_base = c->slot->data + c->fill + GCS_VAR_HDR_LEN;
	c->miov.iov_len = c->d.msg_max;
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = &c->miov;
	c->msg.msg_iovlen = 1;
	c->msg.msg_control = c->cbuf.buf;
	c->msg.msg_controllen = sizeof(c->cbuf.buf);
	if (wait)
		prefault(c, c->slot->data + c->fill, msg_room(c), msg_room(c));
	sqe = ring_sqe(&e->ring, &c->op_read);
	if (!sqe)
		return;
	io_uring_prep_recvmsg(sqe, c->d.fd, &c->msg, wait ? 0 : MSG_DONTWAIT);
	c->state = CH_READ;
	c->st.reads++;
	GCPROBE3(read_submit, c->d.stream, (uintptr_t)&c->op_read,
		 c->d.msg_max);
}

static int64_t msg_timestamp(struct eng_chan *c)
{
	struct cmsghdr *cm;
	struct timespec ts;

	if (!c->d.rx_timestamp)
		return eng_now();
	for (cm = CMSG_FIRSTHDR(&c->msg); cm; cm = CMSG_NXTHDR(&c->msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_TIMESTAMPNS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(ts))) {
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
		}
	}
	/* The socket did not stamp it: the same clock, taken now. */
	return eng_clock_ns(CLOCK_REALTIME);
}

/*
 * A sequence jump: chunks stay contiguous, so what the reservation holds
 * is committed and the message (already in it) moves to a new one. The
 * only copy of a message the engine makes, counted in carry_bytes.
 */
static int msg_split(struct eng_chan *c, uint8_t **data, uint32_t len)
{
	int ret;

	memcpy(c->rbuf, *data, len);
	c->st.carry_bytes += len;
	ret = msg_commit(c);
	if (!ret)
		ret = msg_reserve(c);
	if (ret)
		return ret;
	*data = c->slot->data + GCS_VAR_HDR_LEN;
	memcpy(*data, c->rbuf, len);
	return 0;
}

static void msg_read_done(struct eng_chan *c, int res)
{
	struct eng_rec_info ri = { 0 };
	struct gcs_var_rec vr;
	uint32_t len, size;
	int64_t t, tm;
	uint8_t *data;
	int ret;

	if (res == -EAGAIN || res == -EINTR || res == -ECANCELED) {
		if (res == -EAGAIN)
			c->st.eagain++;
		else
			c->st.eintr++;
		if (c->draining && res == -EAGAIN) {
			chan_finish(c, 0);
			return;
		}
		c->direct = false;
		/* Empty, or let go to unblock the writer: poll first. */
		c->parked = c->parked || res == -EAGAIN;
		if (c->wait_recv && !c->stage_n && res == -ECANCELED) {
			/* Let go: its reservation too (padding if not the last). */
			msg_commit(c);
		}
		c->state = CH_IDLE;
		chan_arm(c);
		return;
	}
	if (res <= 0) {
		/* 0: the peer closed a stream or seqpacket socket. */
		chan_finish(c, res);
		return;
	}
	t = msg_timestamp(c);
	tm = c->d.rx_timestamp ? eng_clock_map(&c->rx_map, t) : t;
	len = (uint32_t)res;
	if (len > c->d.msg_max)
		len = c->d.msg_max;
	vr = (struct gcs_var_rec){ .len = len, .t_ns = t };
	if (c->msg.msg_flags & MSG_TRUNC) {
		c->st.truncated++;
		vr.flags = 1;	/* cut to msg_max */
	}
	data = c->slot->data + c->fill + GCS_VAR_HDR_LEN;
	ri.t_ns = tm;
	if (c->d.rec_info)
		c->d.rec_info(c->d.priv, data, len, &ri);
	if (ri.drop) {
		c->st.dropped++;
		c->direct = true;
		chan_arm(c);
		return;
	}
	if (!c->d.has_seq)
		ri.seq = c->count;
	ri.t_ns = tm;
	if (c->d.has_seq && c->have_seq && ri.seq != c->next_seq) {
		if (ri.seq < c->next_seq) {
			chan_finish(c, -EPROTO);
			return;
		}
		if (c->stage_n) {
			ret = msg_split(c, &data, len);
			if (ret) {
				chan_finish(c, ret);
				return;
			}
		}
		note_gap(c, ri.seq, ri.missing, tm);
	}
	size = gcs_var_rec_size(len);
	memcpy(c->slot->data + c->fill, &vr, sizeof(vr));
	memset(data + len, 0, size - GCS_VAR_HDR_LEN - len);
	clock_note(c, &ri);
	if (!c->stage_n) {
		c->stage_first_seq = ri.seq;
		c->stage_t_first = tm;
		c->stage_t_last = tm;
	}
	if (tm < c->stage_t_first)
		c->stage_t_first = tm;	/* the mapping moved by a few ns */
	if (tm > c->stage_t_last)
		c->stage_t_last = tm;
	GCPROBE5(msg_record, c->d.stream, ri.seq, (uintptr_t)data, len,
		 (uintptr_t)&c->op_read);
	if (GCPROBE_NOTES_ON())
		gcprobe_note_msg(c->d.stream, ri.seq, (uintptr_t)&c->op_read,
				 c->probe_reap, data, len);
	c->fill += size;
	c->stage_n++;
	c->have_seq = true;
	c->next_seq = ri.seq + 1;
	c->last_t = tm;
	c->count++;
	if (c->d.commit_each || c->slot->cap - c->fill < msg_room(c)) {
		ret = msg_commit(c);
		if (ret) {
			chan_finish(c, ret);
			return;
		}
	}
	/*
	 * Sealed behind another channel's waiting receive: that one is let go
	 * first and reserves before this one, as its message comes first.
	 */
	if (c->wait_recv && c->n_seal) {
		c->deferred = true;
		c->state = CH_IDLE;
		return;
	}
	/* A socket holding one message may hold more: read again at once. */
	c->direct = true;
	chan_arm(c);
}

/* At a quiet moment: commit a batch that is big or old enough. */
static int msg_flush(struct eng_chan *c, bool all)
{
	if (!c->slot || c->op_read.busy)
		return 0;	/* a receive in flight writes into it */
	if (!all && c->fill < c->d.batch_bytes && c->stage_n &&
	    eng_now() - c->stage_t_first < (int64_t)c->d.commit_ms * NS_PER_MS)
		return 0;
	return msg_commit(c);
}

/* ---- Readers: what each kind of channel does with its reads ------------------------ */

static const struct chan_reader rec_reader = {
	.init = rec_init, .start = rec_start_read, .done = rec_read_done,
	.end = rec_end,
};

static const struct chan_reader msg_reader = {
	.init = msg_init, .start = msg_start_read, .done = msg_read_done,
	.end = msg_commit, .flush = msg_flush,
};

static const struct chan_reader *const readers[] = {
	[ENG_CHAN_RECORDS] = &rec_reader,
	[ENG_CHAN_MESSAGES] = &msg_reader,
};

void chan_flush(struct eng_chan *c, bool all)
{
	int ret = c->rd->flush && c->state != CH_DONE ? c->rd->flush(c, all) : 0;

	if (ret)
		eng_fail(c->e, ret);
}

/* ---- Life cycle -------------------------------------------------------------------- */

static void start_read(struct eng_chan *c)
{
	int64_t now;

	if (c->hold_cur_us && !c->draining && !c->full) {
		now = eng_now();
		if (now < c->last_read + (int64_t)c->hold_cur_us * 1000) {
			c->state = CH_HOLD;
			ring_timer_set(&c->e->ring, &c->hold,
				       c->last_read + (int64_t)c->hold_cur_us * 1000);
			return;
		}
	}
	c->full = false;
	c->rd->start(c);
}

static bool readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

void chan_arm(struct eng_chan *c)
{
	struct eng *e = c->e;
	struct io_uring_sqe *sqe;

	if (c->state == CH_DONE || c->state == CH_HOLD || c->op_poll.busy ||
	    c->op_read.busy)
		return;
	if (c->draining) {
		/*
		 * Only what is there already, and never block for it. io_uring
		 * may park a read of an empty pipe or socket on a poll even when
		 * it is O_NONBLOCK, and that read would never come back: ask
		 * poll() first (a device's poll may wait for a watermark, so
		 * devices are read as they are).
		 */
		if (!c->nonblock || c->drain_rounds >= DRAIN_MAX ||
		    (c->pipe_like && !readable_now(c->d.fd))) {
			chan_finish(c, 0);
			return;
		}
		c->drain_rounds++;
		start_read(c);
		return;
	}
	/*
	 * A batched device (hold_us) is read at the end of each hold, with no
	 * poll in between: its data has piled up by then, and a poll would
	 * fire on the first record anyway (IIO wakes pollers on every scan).
	 */
	if (!c->parked && (c->direct || c->wait_recv ||
			   e->f.io_mode != ENG_IO_POLL_FIRST ||
			   (c->d.hold_us && c->last_read))) {
		c->direct = false;
		start_read(c);
		return;
	}
	sqe = ring_sqe(&e->ring, &c->op_poll);
	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, c->d.fd, POLLIN);
	c->state = CH_POLL;
	c->st.polls++;
	c->parked = false;
	GCPROBE2(poll_submit, c->d.stream, (uintptr_t)&c->op_poll);
}

static void poll_done(struct ring_op *op, int res)
{
	struct eng_chan *c = container_of(op, struct eng_chan, op_poll);

	if (c->state == CH_DONE)
		return;		/* a poll cancelled as the channel ended */
	c->state = CH_IDLE;
	if (res < 0 && res != -ECANCELED && res != -EINTR) {
		chan_finish(c, res);
		return;
	}
	/*
	 * Readable, hung up or in error: the read tells which. A cancelled
	 * poll means we are stopping (drain) or were poked (read now).
	 */
	if (res >= 0)
		c->direct = true;
	chan_arm(c);
}

static void read_done(struct ring_op *op, int res)
{
	struct eng_chan *c = container_of(op, struct eng_chan, op_read);

	if (c->d.kind != ENG_CHAN_MESSAGES)
		GCPROBE5(read_done, c->d.stream, (uintptr_t)op, res,
			 (uintptr_t)&c->op_poll, c->probe_submit);
	else if (GCPROBE_NOTES_ON())
		c->probe_reap = eng_now();	/* noted with the message */
	c->letting_go = false;
	if (c->state == CH_DONE)
		return;
	c->rd->done(c, res);
}

static void chan_finish(struct eng_chan *c, int err)
{
	struct eng *e = c->e;
	int ret;

	if (c->state == CH_DONE)
		return;
	ret = c->rd->end(c);
	if (ret && !err)
		err = ret;
	c->state = CH_DONE;
	c->st.ended = true;
	c->st.end_err = err;
	ring_timer_clear(&e->ring, &c->hold);
	if (c->op_poll.busy)
		ring_cancel(&e->ring, &c->op_poll);
	/* The engine tells the source, once this completion has returned. */
	c->end_pending = true;
}

bool chan_take_end(struct eng_chan *c, int *err)
{
	if (!c->end_pending)
		return false;
	c->end_pending = false;
	*err = c->st.end_err;
	return true;
}

bool chan_done(const struct eng_chan *c)
{
	return c->state == CH_DONE;
}

/*
 * Holds a reservation it cannot give back now: a read is in flight into
 * it, or (records) it was read into. A message batch between receives
 * can be committed at any moment (chan_flush).
 */
bool chan_reserved(const struct eng_chan *c)
{
	/* A waiting receive is let go instead (chan_let_go): not counted. */
	if (c->d.kind == ENG_CHAN_MESSAGES)
		return c->slot && c->op_read.busy && !c->wait_recv;
	return c->slot;
}

/* Cancels the read holding the oldest reservation; its completion says so. */
static void chan_cancel_read(struct eng_chan *c)
{
	c->letting_go = true;
	c->st.parked++;
	ring_cancel(&c->e->ring, &c->op_read);
}

/*
 * A read waiting in the kernel (fast poll, async) holds its reservation,
 * and chunks sealed after it by other channels wait for it: the writer
 * holds 64 reservations at most. When the oldest outstanding one is this
 * channel's and it is still waiting, let the read go (cancel it; its
 * reservation becomes padding) and poll before reading again.
 */
bool chan_unblock(struct eng_chan *c, uint64_t committed_end)
{
	if (c->rd->flush && c->slot && !c->op_read.busy &&
	    c->slot->off <= committed_end) {
		chan_flush(c, true);	/* a batch between receives */
		return true;
	}
	if (c->state != CH_READ || !c->slot || !c->op_read.busy ||
	    c->draining || c->slot->off > committed_end)
		return false;
	if (c->letting_go)
		return true;
	c->parked = true;
	chan_cancel_read(c);
	return true;
}

/*
 * A waiting receive holds the oldest reservation and a record sealed
 * after it waits: let the receive go at once (its room becomes padding)
 * and submit it again at the tail, so nothing waits for the next message.
 */
bool chan_let_go(struct eng_chan *c, uint64_t committed_end)
{
	if (!c->wait_recv || c->state != CH_READ || !c->slot ||
	    !c->op_read.busy || c->letting_go || c->draining ||
	    c->slot->off > committed_end)
		return c->letting_go;
	chan_cancel_read(c);
	return true;
}

/* No receive is being let go: a deferred channel receives again. */
void chan_resume(struct eng_chan *c)
{
	if (!c->deferred)
		return;
	c->deferred = false;
	if (c->state != CH_IDLE)
		return;
	c->direct = true;
	chan_arm(c);
}

/* What the sync about to start covers (a lower bound). */
void chan_sync_begin(struct eng_chan *c)
{
	c->sync_records = c->pub_records;
	c->sync_t = c->pub_t;
}

void chan_sync_end(struct eng_chan *c)
{
	c->st.durable_records = c->sync_records;
	c->st.durable_t_ns = c->sync_t;
}

void chan_stop(struct eng_chan *c)
{
	struct eng *e = c->e;

	if (c->state == CH_DONE)
		return;
	c->draining = true;
	if (c->op_poll.busy)
		ring_cancel(&e->ring, &c->op_poll);
	/*
	 * A read in flight may be waiting (fast-poll, async, or a poll-first
	 * read that met -EAGAIN and was parked by the kernel): cancel it.
	 * One that already completed just misses the cancel.
	 */
	if (c->op_read.busy)
		ring_cancel(&e->ring, &c->op_read);
	if (c->state == CH_IDLE || c->state == CH_RETRY || c->state == CH_HOLD) {
		ring_timer_clear(&e->ring, &c->hold);
		c->state = CH_IDLE;
		chan_arm(c);
	}
}

static void hold_over(struct ring_timer *t, int64_t now)
{
	struct eng_chan *c = container_of(t, struct eng_chan, hold);

	(void)now;
	if (c->state != CH_HOLD)
		return;
	c->state = CH_IDLE;
	c->last_read = 0;	/* the hold is over: read now */
	start_read(c);
}

void eng_chan_poke(struct eng_chan *c)
{
	if (c->state == CH_DONE)
		return;
	c->direct = true;
	if (c->op_poll.busy)
		ring_cancel(&c->e->ring, &c->op_poll);
	else if (c->op_read.busy)
		ring_cancel(&c->e->ring, &c->op_read);
}

void chan_tick(struct eng_chan *c, int64_t now)
{
	double dt;

	if (!c->rate_t) {
		c->rate_t = now;
		c->rate_count = c->st.records;
	}
	dt = (double)(now - c->rate_t) / NS_PER_S;
	if (dt >= 1.0) {
		c->st.rate_hz = (double)(c->st.records - c->rate_count) / dt;
		c->rate_t = now;
		c->rate_count = c->st.records;
	}
	if (c->state == CH_RETRY) {
		c->state = CH_IDLE;
		chan_arm(c);
	}
}

/* One clock record per window: the least delayed record of the window. */
bool chan_clock_sample(struct eng_chan *c, struct gcs_clock_sample *s)
{
	int64_t m0, m1, real, boot;

	if (!c->clk_have)
		return false;
	*s = (struct gcs_clock_sample){
		.stream = c->d.stream, .flags = GCS_CLOCKREC_F_DEVICE,
	};
	m0 = eng_now();
	real = eng_clock_ns(CLOCK_REALTIME);
	boot = eng_clock_ns(CLOCK_BOOTTIME);
	m1 = eng_now();
	m0 += (m1 - m0) / 2;
	s->device_ns = c->clk_dev;
	s->mono_ns = c->clk_host;
	s->real_ns = c->clk_host + (real - m0);
	s->boot_ns = c->clk_host + (boot - m0);
	/*
	 * The spread of host - device offsets over the window: how far any
	 * other record of it strays from this pairing (transport jitter).
	 */
	s->uncertainty_ns = (c->clk_max - c->clk_min) / 2;
	c->clk_have = false;
	return true;
}
