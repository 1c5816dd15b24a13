// SPDX-License-Identifier: GPL-2.0
/*
 * The engine: the loop, durability syncs, queued small records and stop
 * requests, signals and terminal input. It drives the channels (chan.c),
 * which do the reading, on the ring layer (ring.c); compaction runs on a
 * worker (compact.c); markers arrive on a control socket (control.c).
 * Calls go one way, down: docs/capture.md, "Layers".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine_internal.h"

#define SMALL_MAX	4096	/* queued small records before refusing more */
#define RING_DRAIN_NS	(2 * NS_PER_S)	/* reaping after the ring failed */

void eng_clock_map_init(struct eng_clock_map *m, clockid_t id)
{
	m->id = id;
	m->off = 0;
	m->at = INT64_MIN;
}

int64_t eng_clock_map(struct eng_clock_map *m, int64_t t)
{
	int64_t m0, c, m1;

	if (m->id == CLOCK_MONOTONIC || !t)
		return t;
	m0 = eng_now();
	if (m->at != INT64_MIN && m0 - m->at < 100 * NS_PER_MS)
		return t - m->off;
	c = eng_clock_ns(m->id);
	m1 = eng_now();
	m->off = c - (m0 + (m1 - m0) / 2);
	m->at = m1;
	return t - m->off;
}

static const char *const mode_names[] = {
	[ENG_IO_AUTO] = "auto",
	[ENG_IO_POLL_FIRST] = "poll-first",
	[ENG_IO_FAST_POLL] = "fast-poll",
	[ENG_IO_ASYNC] = "async",
};

const char *eng_io_mode_name(enum eng_io_mode m)
{
	return (unsigned int)m < sizeof(mode_names) / sizeof(mode_names[0]) ?
	       mode_names[m] : "?";
}

int eng_io_mode_parse(const char *s, enum eng_io_mode *m)
{
	for (unsigned int i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(s, mode_names[i])) {
			*m = (enum eng_io_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

void eng_opts_init(struct eng_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ring_entries = 64;
	o->io_mode = ENG_IO_AUTO;
	o->sync_interval_ms = 1000;
	o->clock_interval_ms = 1000;
	o->small_delay_ms = 200;
	o->tick_ms = 100;
	o->max_read_bytes = 4u << 20;
	o->compact_thread = true;
	o->prefault = true;
	o->wait_recv = true;
	o->restrict_ops = true;
}

/* ---- Probing ---------------------------------------------------------------- */

static void choose(const struct eng_opts *o, struct eng_features *f)
{
	f->read_op = f->op_read && !o->force_readv;
	f->sync_on_ring = f->op_fsync && !o->blocking_sync;
	f->compact_thread = o->compact_thread;
	/*
	 * Each channel drops it on its first EINVAL (before 5.14). Off by
	 * default: see docs/capture.md, it cost more CPU than the faults it
	 * saves.
	 */
	f->prefault = o->prefault;
	f->io_mode = o->io_mode;
	/* A waiting receive must be cancellable (chan_let_go). */
	f->wait_recv = o->wait_recv && f->feat_fast_poll && f->op_recvmsg &&
		       f->op_async_cancel;
	if (f->io_mode == ENG_IO_AUTO) {
		/*
		 * Poll first: a reservation is then held only while a read
		 * that has data runs, so it can shrink to what it got and
		 * small records never wait behind it (docs/capture.md).
		 */
		if (f->op_poll_add)
			f->io_mode = ENG_IO_POLL_FIRST;
		else if (f->feat_fast_poll)
			f->io_mode = ENG_IO_FAST_POLL;
		else
			f->io_mode = ENG_IO_ASYNC;
	}
	/* A forced mode the kernel cannot do falls back, never fails. */
	if (f->io_mode == ENG_IO_POLL_FIRST && !f->op_poll_add)
		f->io_mode = f->feat_fast_poll ? ENG_IO_FAST_POLL : ENG_IO_ASYNC;
	if (f->io_mode == ENG_IO_FAST_POLL && !f->feat_fast_poll)
		f->io_mode = f->op_poll_add ? ENG_IO_POLL_FIRST : ENG_IO_ASYNC;
}

int eng_probe(const struct eng_opts *o, struct eng_features *f)
{
	struct eng_opts def;
	struct ring ring;
	int ret;

	if (!o) {
		eng_opts_init(&def);
		o = &def;
	}
	memset(f, 0, sizeof(*f));
	ret = ring_init(&ring, 4, f);
	if (ret)
		return ret;
	ring_exit(&ring);
	f->sq_entries = f->cq_entries = 0;
	choose(o, f);
	return 0;
}

/* An error the capture cannot go on after. */
void eng_fail(struct eng *e, int err)
{
	eng_stop(e, err);
}

/* ---- Service descriptors ---------------------------------------------------- */

static void svc_complete(struct ring_op *op, int res);

int eng_svc_arm(struct eng *e, struct eng_svc *s)
{
	struct io_uring_sqe *sqe;

	if (s->op.busy)
		return 0;
	s->op.done = svc_complete;
	s->e = e;
	sqe = ring_sqe(&e->ring, &s->op);
	if (!sqe)
		return e->ring.err ? e->ring.err : -EBUSY;
	if (s->polling)
		io_uring_prep_poll_add(sqe, s->fd, POLLIN);
	else if (s->recvmsg)
		io_uring_prep_recvmsg(sqe, s->fd, s->msg, 0);
	else
		io_uring_prep_read(sqe, s->fd, s->buf, s->len, (uint64_t)-1);
	return 0;
}

static void svc_complete(struct ring_op *op, int res)
{
	struct eng_svc *s = container_of(op, struct eng_svc, op);
	struct eng *e = s->e;

	if (s->polling) {
		/* The poll is done: read now, whatever it said. */
		s->polling = false;
		if (res == -ECANCELED) {
			s->done(e, s, res);
			return;
		}
		if (res < 0 && res != -EINTR) {
			s->done(e, s, res);
			return;
		}
		eng_svc_arm(e, s);
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		/* No data after all (or a kernel without fast poll): poll. */
		s->polling = e->f.op_poll_add && res == -EAGAIN;
		if (!e->stopping || s->keep)
			eng_svc_arm(e, s);
		return;
	}
	s->done(e, s, res);
}

/* ---- Signals and input ---------------------------------------------------------- */

static void sig_done(struct eng *e, struct eng_svc *s, int res)
{
	if (res == (int)sizeof(e->si)) {
		if (!e->stop_sig)
			e->stop_sig = (int)e->si.ssi_signo;
		eng_stop(e, 0);
	} else if (res < 0 && res != -ECANCELED) {
		eng_fail(e, res);
		return;
	}
	/* Kept armed until the end: a signal is never left pending. */
	if (res != -ECANCELED && !e->closing)
		eng_svc_arm(e, s);
}

int eng_watch_signals(struct eng *e)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &e->sig_old))
		return -errno;
	e->sig_blocked = true;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	e->sig = (struct eng_svc){
		.what = "signalfd", .fd = fd, .buf = &e->si,
		.len = sizeof(e->si), .done = sig_done, .keep = true,
	};
	return e->running ? eng_svc_arm(e, &e->sig) : 0;
}

static void input_done(struct eng *e, struct eng_svc *s, int res)
{
	if (res > 0 && e->in_fn)
		e->in_fn(e, e->in_ctx, e->in_buf, (size_t)res);
	if (res <= 0) {
		/* End of input or an error: the capture goes on without keys. */
		s->fd = -1;
		return;
	}
	if (!e->stopping)
		eng_svc_arm(e, s);
}

int eng_watch_input(struct eng *e, int fd, eng_input_fn fn, void *ctx)
{
	e->in_fn = fn;
	e->in_ctx = ctx;
	/*
	 * Poll first: the terminal's file description is shared with the
	 * shell, so it must not be made non-blocking behind its back.
	 */
	e->in = (struct eng_svc){
		.what = "input", .fd = fd, .buf = e->in_buf,
		.len = sizeof(e->in_buf), .done = input_done,
		.polling = e->f.op_poll_add,
	};
	return e->running ? eng_svc_arm(e, &e->in) : 0;
}

void eng_set_tick(struct eng *e, uint32_t ms, eng_tick_fn fn, void *ctx)
{
	e->user_ms = ms;
	e->user_fn = fn;
	e->user_ctx = ctx;
	e->next_user = eng_now() + (int64_t)ms * NS_PER_MS;
}

/* ---- Small records ------------------------------------------------------------- */

static int small_push(struct eng *e, const struct small_item *it)
{
	if (e->n_small == e->cap_small) {
		size_t cap = e->cap_small ? e->cap_small * 2 : 32;
		struct small_item *n;

		if (cap > SMALL_MAX)
			return -ENOBUFS;
		n = reallocarray(e->small, cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		e->small = n;
		e->cap_small = cap;
	}
	e->small[e->n_small] = *it;
	e->small[e->n_small].queued_ns = eng_now();
	/* The loop wakes up for it even if nothing else happens. */
	if (!e->n_small++)
		ring_timer_set(&e->ring, &e->small_timer,
			       e->small[0].queued_ns +
			       (int64_t)e->o.small_delay_ms * NS_PER_MS);
	return 0;
}

int eng_marker(struct eng *e, uint32_t code, uint32_t stream, int64_t t_ns,
	       int64_t value)
{
	struct small_item it = { .type = SMALL_MARKER };

	it.m.code = code;
	it.m.stream = stream;
	it.m.t_ns = t_ns ? t_ns : eng_now();
	it.m.value = value;
	return small_push(e, &it);
}

int eng_gap(struct eng *e, uint32_t stream, uint32_t reason,
	    uint64_t first_seq, uint64_t last_seq, int64_t t_start_ns,
	    int64_t t_end_ns)
{
	struct small_item it = { .type = SMALL_GAP };

	it.g.stream = stream;
	it.g.reason = reason;
	it.g.first = first_seq;
	it.g.last = last_seq;
	it.g.t0 = t_start_ns;
	it.g.t1 = t_end_ns < t_start_ns ? t_start_ns : t_end_ns;
	return small_push(e, &it);
}

int eng_clock(struct eng *e, const struct gcs_clock_sample *c)
{
	struct small_item it = { .type = SMALL_CLOCK, .c = *c };

	return small_push(e, &it);
}

static int small_write(struct eng *e, const struct small_item *it)
{
	switch (it->type) {
	case SMALL_MARKER:
		e->st.markers++;
		return gcs_writer_marker(e->w, it->m.code, it->m.stream,
					 it->m.t_ns, it->m.value);
	case SMALL_GAP:
		return gcs_writer_gap(e->w, it->g.stream, it->g.reason,
				      it->g.first, it->g.last, it->g.t0,
				      it->g.t1);
	case SMALL_CLOCK:
		return gcs_writer_clock(e->w, &it->c);
	}
	return -EINVAL;
}

/*
 * Sealed chunks waiting behind a read that holds an older reservation:
 * past this many outstanding (of the writer's 64), the waiting read goes.
 */
#define UNBLOCK_OUTSTANDING	16

/* What each channel has committed so far (file order: the writer knows). */
static void committed_update(struct eng *e)
{
	struct gcs_writer_stats ws;

	bool going = false;

	gcs_writer_stats(e->w, &ws);
	for (size_t i = 0; i < e->n_ch; i++) {
		chan_committed(e->ch[i], ws.committed_end);
		if (ws.outstanding >= UNBLOCK_OUTSTANDING)
			chan_unblock(e->ch[i], ws.committed_end);
		else if (ws.sealed_waiting)
			going |= chan_let_go(e->ch[i], ws.committed_end);
	}
	for (size_t i = 0; !going && i < e->n_ch; i++)
		chan_resume(e->ch[i]);
}

/*
 * Write what waits when no channel holds a reservation, or anyway once the
 * oldest item has waited small_delay_ms (a read may hold its reservation
 * for long in fast-poll and async modes; it then cannot shrink, and the
 * unused part of it stays as padding inside its chunk record).
 */
static void quiet_point(struct eng *e, int64_t now, bool force)
{
	bool reserved = false;
	size_t i;
	int ret;

	committed_update(e);
	for (i = 0; i < e->n_ch; i++)
		reserved |= chan_reserved(e->ch[i]);
	if (!force && reserved) {
		bool late = e->n_small && now - e->small[0].queued_ns >=
				(int64_t)e->o.small_delay_ms * NS_PER_MS;

		if (!late)
			return;
		e->st.small_forced++;
	}
	/* Message batches first: a small record behind one would shut it in. */
	if (e->n_small)
		for (i = 0; i < e->n_ch; i++)
			chan_flush(e->ch[i], true);
	for (i = 0; i < e->n_small; i++) {
		ret = small_write(e, &e->small[i]);
		if (ret) {
			/* A full disk ends the session; anything else is a bug. */
			eng_fail(e, ret);
			break;
		}
		e->st.small_written++;
	}
	e->n_small = 0;
	ring_timer_clear(&e->ring, &e->small_timer);
	for (i = 0; i < e->n_ch; i++)
		chan_flush(e->ch[i], force);
	compact_quiet(e);
}

/* ---- Durability on the ring ------------------------------------------------------ */

/* Each step's range only: see ring_fsync() and session format 7.2. */
static void sync_submit(struct eng *e)
{
	uint64_t off, len;

	if (e->sync_phase == SYNC_HEADER) {
		off = e->sync.hdr_off;
		len = e->sync.hdr_len;
	} else {
		off = e->sync.from;
		len = e->sync.target - e->sync.from;
	}
	ring_fsync(&e->ring, &e->op_sync, e->sync.fd, off, len);
}

/* What the sync about to start covers, per channel (a lower bound). */
static void sync_snapshot(struct eng *e)
{
	for (size_t i = 0; i < e->n_ch; i++)
		chan_sync_begin(e->ch[i]);
}

static void sync_done(struct eng *e, int64_t t0)
{
	for (size_t i = 0; i < e->n_ch; i++)
		chan_sync_end(e->ch[i]);
	e->st.syncs++;
	if ((uint64_t)(eng_now() - t0) > e->st.sync_ns_max)
		e->st.sync_ns_max = (uint64_t)(eng_now() - t0);
}

static void sync_start(struct eng *e, int64_t now)
{
	int ret;

	e->next_sync = now + (int64_t)e->o.sync_interval_ms * NS_PER_MS;
	if (e->sync_phase != SYNC_IDLE)
		return;
	if (!e->f.sync_on_ring) {
		int64_t t0 = eng_now();

		sync_snapshot(e);
		ret = gcs_writer_sync(e->w);
		if (ret) {
			eng_fail(e, ret);
			return;
		}
		sync_done(e, t0);
		return;
	}
	ret = gcs_writer_sync_begin(e->w, &e->sync);
	if (ret == 1)
		return;		/* everything committed is durable already */
	if (ret) {
		eng_fail(e, ret);
		return;
	}
	sync_snapshot(e);
	e->sync_t0 = now;
	e->sync_phase = SYNC_DATA;
	sync_submit(e);
}

static void sync_complete(struct ring_op *op, int res)
{
	struct eng *e = container_of(op, struct eng, op_sync);
	int ret;

	if (res == -EINTR || res == -EAGAIN) {
		sync_submit(e);		/* try the same step again */
		return;
	}
	if (res < 0) {
		/*
		 * After a failed writeback the page cache cannot be trusted:
		 * the writer marks the file (the last durable mark stays) and
		 * the session stops here, left for gaitcap recover.
		 */
		e->sync_phase = SYNC_IDLE;
		gcs_writer_sync_fail(e->w, &e->sync, res);
		eng_fail(e, res);
		return;
	}
	if (e->sync_phase == SYNC_DATA) {
		ret = gcs_writer_sync_header(e->w, &e->sync);
		if (ret) {
			e->sync_phase = SYNC_IDLE;
			eng_fail(e, ret);
			return;
		}
		e->sync_phase = SYNC_HEADER;
		sync_submit(e);
		return;
	}
	gcs_writer_sync_end(e->w, &e->sync);
	e->sync_phase = SYNC_IDLE;
	sync_done(e, e->sync_t0);
}

/* ---- Create, destroy ---------------------------------------------------------------- */

static void tick_fire(struct ring_timer *t, int64_t now);

int eng_create(struct eng **ep, struct gcs_writer *w, const struct eng_opts *o)
{
	struct eng *e;
	int ret;

	*ep = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (o)
		e->o = *o;
	else
		eng_opts_init(&e->o);
	if (!e->o.ring_entries)
		e->o.ring_entries = 64;
	if (!e->o.tick_ms)
		e->o.tick_ms = 100;
	if (!e->o.sync_interval_ms)
		e->o.sync_interval_ms = 1000;
	if (e->o.max_read_bytes < 4096)
		e->o.max_read_bytes = 4096;
	if (e->o.max_read_bytes > GCS_MAX_BODY)
		e->o.max_read_bytes = GCS_MAX_BODY;
	e->w = w;
	e->sig.fd = -1;
	e->in.fd = -1;
	e->op_sync.done = sync_complete;
	e->tick_timer.fire = tick_fire;

	ret = ring_init_restricted(&e->ring, e->o.ring_entries, &e->f,
				   e->o.restrict_ops);
	if (ret)
		goto err;
	choose(&e->o, &e->f);
	if (e->f.compact_thread && !e->o.no_compact) {
		ret = compact_create(e, &e->cw);
		if (ret)
			goto err;
	}
	e->st.t_start_ns = eng_now();
	*ep = e;
	return 0;
err:
	eng_destroy(e);
	return ret;
}

void eng_stop_sources(struct eng *e)
{
	for (size_t i = 0; i < e->n_src; i++) {
		struct eng_source *s = e->src[i];

		if (s->started && !s->stopped && s->ops->stop)
			s->ops->stop(s);
		s->stopped = true;
	}
}

void eng_destroy(struct eng *e)
{
	if (!e)
		return;
	/* First the ring: nothing in flight may write into what is freed. */
	ring_exit(&e->ring);
	eng_stop_sources(e);
	/* The kernel may still complete reads into them: leak, never free. */
	for (size_t i = 0; i < e->n_ch && !e->ring.inflight; i++)
		chan_free(e->ch[i]);
	free(e->ch);
	for (size_t i = 0; i < e->n_src; i++)
		if (e->src[i]->ops->destroy)
			e->src[i]->ops->destroy(e->src[i]);
	free(e->src);
	if (e->cw)
		compact_destroy(e->cw);
	if (e->ctl)
		ctl_destroy(e->ctl);
	if (e->sig.fd >= 0)
		close(e->sig.fd);
	if (e->sig_blocked)
		sigprocmask(SIG_SETMASK, &e->sig_old, NULL);
	free(e->small);
	free(e);
}

const struct eng_features *eng_features(const struct eng *e)
{
	return &e->f;
}

struct gcs_writer *eng_writer(struct eng *e)
{
	return e->w;
}

int eng_add_source(struct eng *e, struct eng_source *s)
{
	int ret;

	if (e->n_src == e->cap_src) {
		size_t cap = e->cap_src ? 2 * e->cap_src : 4;
		struct eng_source **n = reallocarray(e->src, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		e->src = n;
		e->cap_src = cap;
	}
	e->src[e->n_src++] = s;
	s->e = e;
	ret = s->ops->start ? s->ops->start(s) : 0;
	if (!ret)
		s->started = true;
	return ret;
}

size_t eng_n_sources(const struct eng *e)
{
	return e->n_src;
}

struct eng_source *eng_source_at(const struct eng *e, size_t i)
{
	return i < e->n_src ? e->src[i] : NULL;
}

size_t eng_n_chans(const struct eng *e)
{
	return e->n_ch;
}

struct eng_chan *eng_chan_at(const struct eng *e, size_t i)
{
	return i < e->n_ch ? e->ch[i] : NULL;
}

/* Channels are added by sources; the engine arms them. */
int eng_chan_add(struct eng *e, struct eng_source *s,
		 const struct eng_chan_def *d, struct eng_chan **cp)
{
	struct eng_chan *c;
	int ret;

	if (e->n_ch == e->cap_ch) {
		size_t cap = e->cap_ch ? 2 * e->cap_ch : 4;
		struct eng_chan **n = reallocarray(e->ch, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		e->ch = n;
		e->cap_ch = cap;
	}
	ret = chan_new(e, s, d, &c);
	if (ret)
		return ret;
	e->ch[e->n_ch++] = c;
	/* Added once the channels were told to stop: drain it as they do. */
	if (e->running && e->stopping && !e->stop_pending)
		chan_stop(c);
	else if (e->running)
		chan_arm(c);
	if (cp)
		*cp = c;
	return 0;
}

void eng_get_stats(const struct eng *e, struct eng_stats *st)
{
	*st = e->st;
	st->loops = e->ring.loops;
	st->cqes = e->ring.cqes;
	st->submits = e->ring.submits;
}

/* ---- The loop ------------------------------------------------------------------------ */

/*
 * Only a request: whoever asks (a completion, a source's chan_end, a tick)
 * returns first, and the loop then tells the channels (apply_stop).
 */
void eng_stop(struct eng *e, int err)
{
	if (err && !e->err)
		e->err = err;
	if (e->stopping)
		return;
	e->stopping = true;
	e->stop_pending = true;
}

bool eng_stopping(const struct eng *e)
{
	return e->stopping;
}

int eng_stop_signal(const struct eng *e)
{
	return e->stop_sig;
}

static void apply_stop(struct eng *e)
{
	if (!e->stop_pending)
		return;
	e->stop_pending = false;
	for (size_t i = 0; i < e->n_ch; i++)
		chan_stop(e->ch[i]);
	for (size_t i = 0; i < e->n_src; i++)
		if (e->src[i]->ops->stopping)
			e->src[i]->ops->stopping(e->src[i]);
	ring_cancel(&e->ring, &e->in.op);
}

/*
 * Channels that ended since the last turn: their source decides whether
 * the capture goes on. A channel drained by a stop ends as asked.
 */
static void reap_ends(struct eng *e)
{
	int err, ret;

	for (size_t i = 0; i < e->n_ch; i++) {
		struct eng_chan *c = e->ch[i];
		struct eng_source *s = eng_chan_source(c);

		if (!chan_take_end(c, &err))
			continue;
		if (e->stopping && !err)
			continue;
		ret = err;
		if (s && s->ops->chan_end)
			ret = s->ops->chan_end(s, c, err);
		if (ret)
			eng_stop(e, ret);
	}
}

static bool sources_waiting(const struct eng *e)
{
	for (size_t i = 0; i < e->n_src; i++)
		if (e->src[i]->waiting && !e->src[i]->stopped)
			return true;
	return false;
}

static bool chans_done(const struct eng *e)
{
	for (size_t i = 0; i < e->n_ch; i++)
		if (!chan_done(e->ch[i]))
			return false;
	return true;
}

static void clock_records(struct eng *e)
{
	struct gcs_clock_sample c = { .stream = GCS_STREAM_NONE };
	int64_t m0, m1;

	for (size_t i = 0; i < e->n_ch; i++) {
		struct gcs_clock_sample s;

		if (chan_clock_sample(e->ch[i], &s) && eng_clock(e, &s))
			eng_fail(e, -ENOBUFS);
	}
	/* The host's own clocks, for streams stamped in realtime or boottime. */
	m0 = eng_now();
	c.real_ns = eng_clock_ns(CLOCK_REALTIME);
	c.boot_ns = eng_clock_ns(CLOCK_BOOTTIME);
	m1 = eng_now();
	c.mono_ns = m0 + (m1 - m0) / 2;
	c.uncertainty_ns = (m1 - m0 + 1) / 2;
	eng_clock(e, &c);
}

static void tick(struct eng *e, int64_t now)
{
	if (!e->closing && now >= e->next_sync)
		sync_start(e, now);
	if (!e->stopping) {
		compact_tick(e);
		if (e->o.clock_interval_ms && now >= e->next_clock) {
			e->next_clock = now + (int64_t)e->o.clock_interval_ms *
					      NS_PER_MS;
			clock_records(e);
		}
		for (size_t i = 0; i < e->n_src; i++)
			if (e->src[i]->ops->tick && !e->src[i]->stopped)
				e->src[i]->ops->tick(e->src[i], now);
	}
	for (size_t i = 0; i < e->n_ch; i++)
		chan_tick(e->ch[i], now);
	if (e->user_fn && now >= e->next_user) {
		e->next_user = now + (int64_t)e->user_ms * NS_PER_MS;
		e->user_fn(e, e->user_ctx, now);
	}
	if (e->deadline && now >= e->deadline && !e->stopping)
		eng_stop(e, 0);
}

static void tick_fire(struct ring_timer *t, int64_t now)
{
	struct eng *e = container_of(t, struct eng, tick_timer);

	ring_timer_set(&e->ring, t, now + (int64_t)e->o.tick_ms * NS_PER_MS);
	tick(e, now);
}

/* Once every channel is done: let the services go and wait for them. */
static void begin_closing(struct eng *e)
{
	e->closing = true;
	ring_cancel(&e->ring, &e->sig.op);
	ring_cancel(&e->ring, &e->in.op);
	ctl_stop(e);
}

/*
 * What the callbacks of the last turn asked for, in one place and in
 * this order: sources hear of ended channels, a stop reaches the
 * channels, small records and batches go out if nothing is reserved.
 */
static void settle(struct eng *e)
{
	reap_ends(e);
	apply_stop(e);
	quiet_point(e, eng_now(), false);
	if (!e->stopping && e->n_ch && chans_done(e) && !sources_waiting(e))
		eng_stop(e, 0);
	apply_stop(e);
}

int eng_run(struct eng *e, int64_t deadline_ns)
{
	int64_t now;
	int ret;

	e->deadline = deadline_ns;
	e->running = true;
	now = eng_now();
	e->next_sync = now + (int64_t)e->o.sync_interval_ms * NS_PER_MS;
	e->next_clock = now;
	ring_timer_set(&e->ring, &e->tick_timer, now);
	if (e->sig.fd >= 0)
		eng_svc_arm(e, &e->sig);
	if (e->in.fd >= 0)
		eng_svc_arm(e, &e->in);
	for (size_t i = 0; i < e->n_ch; i++)
		chan_arm(e->ch[i]);
	if (!e->n_ch && !e->n_src)
		eng_stop(e, 0);

	for (;;) {
		settle(e);
		if (e->stopping && !e->closing && chans_done(e) &&
		    compact_idle(e) && e->sync_phase == SYNC_IDLE) {
			quiet_point(e, eng_now(), true);
			begin_closing(e);
		}
		if (e->closing && ring_idle(&e->ring))
			break;
		if (e->ring_failed_at &&
		    eng_now() - e->ring_failed_at > RING_DRAIN_NS) {
			e->closing = true;
			break;		/* what is still in flight never came back */
		}
		ret = ring_turn(&e->ring);
		if (ret) {
			/*
			 * The ring itself failed: stop. Reads still in flight
			 * target the session's mapping, and io_uring_queue_exit()
			 * does not wait for them, so go on reaping (the normal
			 * stopping path) for a bounded time; if they never come
			 * back, eng_run says so and the file is left alone.
			 */
			eng_stop(e, ret);
			if (!e->ring_failed_at)
				e->ring_failed_at = eng_now();
			usleep(1000);	/* a ring that fails at once: don't spin */
		}
	}
	ring_timer_clear(&e->ring, &e->tick_timer);
	ring_timer_clear(&e->ring, &e->small_timer);
	e->running = false;
	e->st.inflight = e->ring.inflight;
	compact_drain(e);
	/* What came in during the last moments: markers, a final clock. */
	quiet_point(e, eng_now(), true);
	return e->err;
}
