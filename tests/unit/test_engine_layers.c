// SPDX-License-Identifier: GPL-2.0
/*
 * The engine's layers (docs/capture.md, "Layers"): the ring layer on its
 * own (completions go back to the op that was submitted, cancels, timers,
 * range syncs), and a stop asked for inside a completion, which must be
 * queued and carried out once the callback has returned, never re-entered.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/ring.h"
#include "test_engine_util.h"
#include "test_session_util.h"

#define MS	1000000ll

/* ---- The ring layer alone --------------------------------------------------- */

struct top {
	struct ring_op op;
	int res;
	int calls;
	char buf[16];
};

static void top_done(struct ring_op *op, int res)
{
	struct top *t = container_of(op, struct top, op);

	t->res = res;
	t->calls++;
}

struct ttimer {
	struct ring_timer t;
	int64_t fired_at;
	int order;
};

static int fire_count;

static void ttimer_fire(struct ring_timer *t, int64_t now)
{
	struct ttimer *x = container_of(t, struct ttimer, t);

	x->fired_at = now;
	x->order = ++fire_count;
}

static void test_engine_ring_completion_goes_to_its_op(void **state)
{
	struct eng_features f;
	struct top rd = { .op.done = top_done }, pl = { .op.done = top_done };
	struct io_uring_sqe *sqe;
	struct ring r;
	int p[2], q[2];

	(void)state;
	assert_int_equal(ring_init(&r, 8, &f), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	/* A read that has data, and a poll that never will. */
	assert_int_equal(write(p[1], "abc", 3), 3);
	sqe = ring_sqe(&r, &rd.op);
	assert_non_null(sqe);
	io_uring_prep_read(sqe, p[0], rd.buf, sizeof(rd.buf), (uint64_t)-1);
	sqe = ring_sqe(&r, &pl.op);
	assert_non_null(sqe);
	io_uring_prep_poll_add(sqe, q[0], POLLIN);
	assert_true(rd.op.busy && pl.op.busy);
	assert_false(ring_idle(&r));
	while (!rd.calls)
		assert_int_equal(ring_turn(&r), 0);
	assert_int_equal(rd.res, 3);
	assert_memory_equal(rd.buf, "abc", 3);
	assert_false(rd.op.busy);
	assert_int_equal(pl.calls, 0);
	/* The cancel reaches the poll's owner as -ECANCELED, once. */
	if (f.op_async_cancel) {
		ring_cancel(&r, &pl.op);
		while (!ring_idle(&r))
			assert_int_equal(ring_turn(&r), 0);
		assert_int_equal(pl.calls, 1);
		assert_int_equal(pl.res, -ECANCELED);
		/* Not in flight any more: nothing to cancel. */
		ring_cancel(&r, &pl.op);
		assert_true(ring_idle(&r));
	}
	ring_exit(&r);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

static void test_engine_ring_timers_fire_in_order(void **state)
{
	struct ttimer a = { .t.fire = ttimer_fire }, b = { .t.fire = ttimer_fire },
		      c = { .t.fire = ttimer_fire };
	struct eng_features f;
	struct ring r;
	int64_t t0;

	(void)state;
	fire_count = 0;
	assert_int_equal(ring_init(&r, 8, &f), 0);
	t0 = eng_now();
	ring_timer_set(&r, &b.t, t0 + 40 * MS);
	ring_timer_set(&r, &a.t, t0 + 20 * MS);
	ring_timer_set(&r, &c.t, t0 + 60 * MS);
	/* Moved before it fires: only the last time counts. */
	ring_timer_set(&r, &c.t, t0 + 30 * MS);
	ring_timer_clear(&r, &b.t);
	while (a.order == 0 || c.order == 0)
		assert_int_equal(ring_turn(&r), 0);
	assert_int_equal(a.order, 1);
	assert_int_equal(c.order, 2);
	assert_true(a.fired_at >= t0 + 20 * MS);
	assert_true(c.fired_at >= t0 + 30 * MS);
	/* Cleared: never fires; fired: not armed any more. */
	assert_int_equal(b.order, 0);
	assert_false(a.t.armed || b.t.armed || c.t.armed);
	assert_null(r.timers);
	ring_exit(&r);
}

static void test_engine_ring_fsync_range(void **state)
{
	char path[] = "/tmp/gc-ring-XXXXXX";
	struct top s = { .op.done = top_done };
	struct eng_features f;
	struct ring r;
	int fd;

	(void)state;
	assert_int_equal(ring_init(&r, 8, &f), 0);
	if (!f.op_fsync) {
		ring_exit(&r);
		skip();
	}
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	assert_int_equal(ring_fsync(&r, &s.op, fd, 0, 10), 0);
	while (!s.calls)
		assert_int_equal(ring_turn(&r), 0);
	assert_int_equal(s.res, 0);
	/* Longer than the SQE's 32-bit length: the whole file, still fine. */
	s.calls = 0;
	assert_int_equal(ring_fsync(&r, &s.op, fd, 4096, 1ull << 33), 0);
	while (!s.calls)
		assert_int_equal(ring_turn(&r), 0);
	assert_int_equal(s.res, 0);
	/* A bad descriptor reaches the owner as its -errno. */
	s.calls = 0;
	assert_int_equal(ring_fsync(&r, &s.op, -1, 0, 10), 0);
	while (!s.calls)
		assert_int_equal(ring_turn(&r), 0);
	assert_int_equal(s.res, -EBADF);
	close(fd);
	ring_exit(&r);
}

/* ---- A stop asked for inside a completion ------------------------------------- */

struct fx {
	char *dir;
	char *path;
};

TU_DIR_FIRST(struct fx);

static int setup(void **state)
{
	struct fx *f = tu_dir_fixture_new(sizeof(*f));

	if (!f)
		return -1;
	f->path = tu_path(f->dir, "s.gcs");
	if (!f->path)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->path);
	tu_dir_fixture_free(f);
	return 0;
}

static struct eng *mkeng_poll_first(struct gcs_writer *w)
{
	struct eng_opts o;
	struct eng *e;

	eng_opts_init(&o);
	o.io_mode = ENG_IO_POLL_FIRST;
	o.tick_ms = 10;
	return eng_create(&e, w, &o) ? NULL : e;
}

/*
 * Two channels of one source: "a" ends (its writer closes), and its
 * chan_end asks the engine to stop. "b" sits in a long hold on a blocking
 * pipe, so telling it to stop ends it at once: if the stop were carried
 * out inside eng_stop(), "b" would already have ended when it returns.
 */
struct qsrc {
	struct eng_source s;
	int fd_a, fd_b;
	uint32_t stream_a, stream_b;
	struct eng_chan *a, *b;
	int depth, max_depth;
	int ends_a, ends_b;
	bool b_ended_inside, stopping_inside;
	int w_a;		/* "a"'s writing end, closed by the tick */
};

static int qsrc_start(struct eng_source *s)
{
	struct qsrc *q = s->priv;
	struct gcs_stream_def def = {
		.kind = GCS_KIND_GENERIC, .record_size = TE_REC,
		.ts_offset = GCS_NO_TS, .ts_clock = GCS_CLOCK_MONOTONIC,
		.desc_json = "{\"device\":\"q\"}",
	};
	struct eng_chan_def cd = {
		.kind = ENG_CHAN_RECORDS, .record_size = TE_REC,
		.gap_reason = GCS_GAP_UNKNOWN,
	};
	int ret;

	ret = gcs_writer_add_stream(eng_writer(s->e), &def, &q->stream_a);
	if (!ret)
		ret = gcs_writer_add_stream(eng_writer(s->e), &def, &q->stream_b);
	if (ret)
		return ret;
	cd.label = "a";
	cd.fd = q->fd_a;
	cd.stream = q->stream_a;
	ret = eng_chan_add(s->e, s, &cd, &q->a);
	if (ret)
		return ret;
	cd.label = "b";
	cd.fd = q->fd_b;
	cd.stream = q->stream_b;
	cd.hold_us = 10 * 1000 * 1000;
	return eng_chan_add(s->e, s, &cd, &q->b);
}

static int qsrc_chan_end(struct eng_source *s, struct eng_chan *c, int err)
{
	struct qsrc *q = s->priv;
	struct eng_chan_stats st;

	if (++q->depth > q->max_depth)
		q->max_depth = q->depth;
	if (c == q->a) {
		q->ends_a++;
		eng_stop(s->e, -ECONNRESET);
		q->stopping_inside = eng_stopping(s->e);
		eng_chan_get_stats(q->b, &st);
		q->b_ended_inside = st.ended;
	} else {
		q->ends_b++;
	}
	q->depth--;
	(void)err;
	return 0;
}

static const struct eng_source_ops qsrc_ops = {
	.kind = "test", .start = qsrc_start, .chan_end = qsrc_chan_end,
};

/* Once "b" has its records (and so holds), "a" reaches its end. */
static void close_a_later(struct eng *e, void *ctx, int64_t now)
{
	struct qsrc *q = ctx;
	struct eng_chan_stats st;

	(void)e;
	(void)now;
	eng_chan_get_stats(q->b, &st);
	if (st.records >= 3 && q->w_a >= 0) {
		close(q->w_a);
		q->w_a = -1;
	}
}

static void test_engine_stop_in_completion_is_queued(void **state)
{
	struct fx *f = *state;
	struct eng_chan_stats sa, sb;
	uint8_t rec[TE_REC * 3];
	struct gcs_writer *w;
	struct qsrc q;
	struct eng *e;
	int pa[2], pb[2];

	assert_int_equal(pipe(pa), 0);
	assert_int_equal(pipe(pb), 0);
	for (int i = 0; i < 3; i++)
		te_record(rec + i * TE_REC, (uint64_t)i, 0);
	assert_int_equal(write(pb[1], rec, sizeof(rec)), (ssize_t)sizeof(rec));
	memset(&q, 0, sizeof(q));
	q.fd_a = pa[0];
	q.fd_b = pb[0];
	q.w_a = pa[1];
	q.s.ops = &qsrc_ops;
	q.s.priv = &q;
	snprintf(q.s.name, sizeof(q.s.name), "q");

	w = te_writer(f->path, false);
	assert_non_null(w);
	e = mkeng_poll_first(w);
	assert_non_null(e);
	assert_int_equal(eng_add_source(e, &q.s), 0);
	eng_set_tick(e, 10, close_a_later, &q);
	assert_int_equal(eng_run(e, eng_now() + 10000 * MS), -ECONNRESET);

	/* Asked inside the callback: known at once, carried out after it. */
	assert_int_equal(q.ends_a, 1);
	assert_true(q.stopping_inside);
	assert_false(q.b_ended_inside);
	assert_int_equal(q.max_depth, 1);
	/* Then "b" was drained as asked: ended, without an error to report. */
	eng_chan_get_stats(q.a, &sa);
	eng_chan_get_stats(q.b, &sb);
	assert_true(sa.ended && sb.ended);
	assert_int_equal(sb.end_err, 0);
	assert_int_equal(q.ends_b, 0);
	assert_int_equal(sb.records, 3);
	eng_destroy(e);
	close(pa[0]);
	close(pb[0]);
	close(pb[1]);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, q.stream_b, NULL, 0), 3);
}

/*
 * A source that answers each channel's end with a new channel (as an
 * insole source reconnecting after link loss, or the mat reattached):
 * chan_end runs outside the completion, so it may add channels, past the
 * engine's first array of them too.
 */
#define CHAIN	7

struct chain {
	struct eng_source s;
	int fds[CHAIN];
	uint32_t streams[CHAIN];
	int next, ends;
};

static int chain_add(struct chain *ch)
{
	struct eng_chan_def cd = {
		.kind = ENG_CHAN_RECORDS, .record_size = TE_REC,
		.gap_reason = GCS_GAP_UNKNOWN, .label = "link",
	};
	struct gcs_stream_def def = {
		.kind = GCS_KIND_GENERIC, .record_size = TE_REC,
		.ts_offset = GCS_NO_TS, .ts_clock = GCS_CLOCK_MONOTONIC,
		.desc_json = "{\"device\":\"chain\"}",
	};
	int i = ch->next++, ret;

	ret = gcs_writer_add_stream(eng_writer(ch->s.e), &def, &ch->streams[i]);
	if (ret)
		return ret;
	cd.fd = ch->fds[i];
	cd.stream = ch->streams[i];
	return eng_chan_add(ch->s.e, &ch->s, &cd, NULL);
}

static int chain_start(struct eng_source *s)
{
	return chain_add(s->priv);
}

static int chain_end(struct eng_source *s, struct eng_chan *c, int err)
{
	struct chain *ch = s->priv;

	(void)c;
	ch->ends++;
	if (err)
		return err;
	return ch->next < CHAIN ? chain_add(ch) : 0;
}

static const struct eng_source_ops chain_ops = {
	.kind = "test", .start = chain_start, .chan_end = chain_end,
};

static void test_engine_chan_end_adds_channels(void **state)
{
	struct fx *f = *state;
	uint8_t rec[TE_REC * 4];
	struct gcs_writer *w;
	struct eng_chan_stats st;
	struct chain ch;
	struct eng *e;
	int p[2];

	memset(&ch, 0, sizeof(ch));
	for (int i = 0; i < 4; i++)
		te_record(rec + i * TE_REC, (uint64_t)i, 0);
	/* Each "link" has four records and then its end. */
	for (int i = 0; i < CHAIN; i++) {
		assert_int_equal(pipe(p), 0);
		assert_int_equal(write(p[1], rec, sizeof(rec)),
				 (ssize_t)sizeof(rec));
		close(p[1]);
		ch.fds[i] = p[0];
	}
	ch.s.ops = &chain_ops;
	ch.s.priv = &ch;
	snprintf(ch.s.name, sizeof(ch.s.name), "chain");
	w = te_writer(f->path, false);
	assert_non_null(w);
	e = mkeng_poll_first(w);
	assert_non_null(e);
	assert_int_equal(eng_add_source(e, &ch.s), 0);
	assert_int_equal(eng_run(e, eng_now() + 10000 * MS), 0);
	assert_int_equal(ch.ends, CHAIN);
	assert_int_equal(eng_n_chans(e), CHAIN);
	for (int i = 0; i < CHAIN; i++) {
		eng_chan_get_stats(eng_chan_at(e, (size_t)i), &st);
		assert_true(st.ended);
		assert_int_equal(st.records, 4);
	}
	eng_destroy(e);
	for (int i = 0; i < CHAIN; i++)
		close(ch.fds[i]);
	assert_int_equal(gcs_writer_close(w), 0);
	for (int i = 0; i < CHAIN; i++)
		assert_int_equal(te_check_stream(f->path, ch.streams[i], NULL, 0), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_ring_completion_goes_to_its_op),
		cmocka_unit_test(test_engine_ring_timers_fire_in_order),
		cmocka_unit_test(test_engine_ring_fsync_range),
		cmocka_unit_test_setup_teardown(test_engine_stop_in_completion_is_queued,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_chan_end_adds_channels,
						setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
