// SPDX-License-Identifier: GPL-2.0
/*
 * A MESSAGES channel with commit_each (gaitcap capture --watermark 1 for
 * the insoles, docs/latency.md): every message is committed, as a chunk of
 * its own, before the next one is even received; without it the channel
 * keeps batching. The channel's own committed count, read when each message
 * arrives (from the source's rec_info), says what a reader of the file sees
 * at that moment, so the test does not depend on timing. With commit_each
 * the receive waits in the kernel (eng_opts.wait_recv), and a record sealed
 * behind its reservation does not wait for its next message.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "test_engine_util.h"
#include "test_session_util.h"

#define N_MSG		60
#define SKIPPED		30	/* a sequence number never sent */

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

static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct msrc {
	struct eng_source s;
	int fd;
	bool commit_each;
	uint32_t stream;
	struct eng_chan *chan;
	/* committed records of the channel when message seq arrived */
	uint64_t committed_at[N_MSG];
	bool seen[N_MSG];
};

static void msrc_rec_info(void *priv, const uint8_t *rec, uint32_t len,
			  struct eng_rec_info *ri)
{
	struct msrc *m = priv;
	struct eng_chan_stats st;

	if (len < 8)
		return;
	memcpy(&ri->seq, rec, 8);
	if (ri->seq < N_MSG && m->chan) {
		eng_chan_get_stats(m->chan, &st);
		m->committed_at[ri->seq] = st.committed_records;
		m->seen[ri->seq] = true;
	}
}

static int msrc_start(struct eng_source *s)
{
	struct msrc *m = s->priv;
	struct gcs_stream_def def = {
		.kind = GCS_KIND_BLE_ATT, .ts_offset = GCS_NO_TS,
		.ts_clock = GCS_CLOCK_REALTIME,
		.desc_json = "{\"device\":\"t0\"}",
	};
	/* A batch would wait a second: only commit_each commits early. */
	struct eng_chan_def cd = {
		.label = s->name, .fd = m->fd, .kind = ENG_CHAN_MESSAGES,
		.gap_reason = GCS_GAP_DEVICE_OVERFLOW, .has_seq = true,
		.rec_info = msrc_rec_info, .rx_timestamp = true, .msg_max = 128,
		.commit_ms = 1000, .commit_each = m->commit_each, .priv = m,
	};
	int ret = gcs_writer_add_stream(eng_writer(s->e), &def, &m->stream);

	if (ret)
		return ret;
	cd.stream = m->stream;
	return eng_chan_add(s->e, s, &cd, &m->chan);
}

static int msrc_chan_end(struct eng_source *s, struct eng_chan *c, int err)
{
	(void)s;
	(void)c;
	return err;
}

static const struct eng_source_ops msrc_ops = {
	.kind = "test", .start = msrc_start, .chan_end = msrc_chan_end,
};

/*
 * Capture N_MSG messages (one sequence number skipped) queued on a
 * socket before the run, the socket closed after them: the channel reads
 * them back to back and ends. Fills @st with the channel's counters.
 */
static void capture(struct fx *f, struct msrc *m, bool each,
		    struct eng_chan_stats *st)
{
	struct gcs_writer *w;
	struct eng_opts o;
	struct eng *e;
	uint8_t buf[64];
	int sv[2], on = 1;

	memset(m, 0, sizeof(*m));
	m->commit_each = each;
	m->s.ops = &msrc_ops;
	m->s.priv = m;
	snprintf(m->s.name, sizeof(m->s.name), "sock");
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_TIMESTAMPNS, &on,
				    sizeof(on)), 0);
	for (uint64_t i = 0; i < N_MSG; i++) {
		if (i == SKIPPED)
			continue;
		memcpy(buf, &i, 8);
		memset(buf + 8, (int)i, sizeof(buf) - 8);
		assert_int_equal(send(sv[1], buf, 8 + i % 50, 0), 8 + i % 50);
	}
	close(sv[1]);
	m->fd = sv[0];

	w = te_writer(f->path, false);
	assert_non_null(w);
	eng_opts_init(&o);
	o.sync_interval_ms = 100;
	o.tick_ms = 20;
	assert_int_equal(eng_create(&e, w, &o), 0);
	assert_int_equal(eng_add_source(e, &m->s), 0);
	assert_int_equal(eng_run(e, mono() + 20ll * 1000000000), 0);
	eng_chan_get_stats(eng_chan_at(e, 0), st);
	eng_destroy(e);
	close(sv[0]);
	assert_int_equal(gcs_writer_close(w), 0);
}

/* Every message of the file, in order, and the one gap; chunks counted. */
static size_t check_file(struct fx *f, uint32_t stream, bool one_each)
{
	const struct gcs_stream_info *si;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	struct gcs_reader *r;
	uint64_t want = 0, seq;
	size_t chunks = 0;

	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	gcs_rec_iter_init(&it, r, stream);
	while (gcs_rec_iter_next(&it, &rec) == 1) {
		if (want == SKIPPED)
			want++;
		assert_int_equal(rec.len, 8 + want % 50);
		memcpy(&seq, rec.data, 8);
		assert_int_equal(seq, want);
		assert_int_equal(rec.seq, want);
		want++;
	}
	assert_int_equal(want, N_MSG);
	for (size_t i = 0; i < gcs_reader_n_chunks(r); i++) {
		const struct gcs_chunk_info *ci = gcs_reader_chunk(r, i);

		if (ci->stream != stream)
			continue;
		chunks++;
		if (one_each)
			assert_int_equal(ci->n_records, 1);
	}
	si = gcs_reader_stream_by_id(r, stream);
	assert_non_null(si);
	assert_int_equal(si->n_records, N_MSG - 1);
	assert_int_equal(si->gap_records, 1);
	assert_int_equal(si->n_unexplained, 0);
	gcs_reader_close(r);
	return chunks;
}

static void test_engine_commit_each_message_at_once(void **state)
{
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct msrc m;
	uint64_t before;

	capture(f, &m, true, &st);
	assert_int_equal(st.records, N_MSG - 1);
	assert_int_equal(st.chunks, N_MSG - 1);
	assert_int_equal(st.committed_records, N_MSG - 1);
	assert_int_equal(st.lost, 1);
	/* Nothing staged at the jump: no message had to move. */
	assert_int_equal(st.carry_bytes, 0);
	/* Each earlier message was committed before this one arrived. */
	for (uint64_t i = 0; i < N_MSG; i++) {
		if (i == SKIPPED)
			continue;
		assert_true(m.seen[i]);
		before = i < SKIPPED ? i : i - 1;
		assert_int_equal(m.committed_at[i], before);
	}
	assert_int_equal(check_file(f, m.stream, true), N_MSG - 1);
}

/*
 * Batches: reservations grow with recent batches (msg_reserve), so a burst
 * starts in small chunks, but most messages arrive with earlier ones still
 * staged, uncommitted.
 */
static void test_engine_commit_batches_by_default(void **state)
{
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct msrc m;
	unsigned int staged = 0;

	capture(f, &m, false, &st);
	assert_int_equal(st.records, N_MSG - 1);
	assert_int_equal(st.committed_records, N_MSG - 1);
	for (uint64_t i = 0; i < N_MSG; i++) {
		if (i == SKIPPED)
			continue;
		assert_true(m.seen[i]);
		staged += m.committed_at[i] < (i < SKIPPED ? i : i - 1);
	}
	assert_true(staged >= N_MSG / 2);
	assert_true(st.chunks <= N_MSG / 4);
	assert_int_equal(check_file(f, m.stream, false), st.chunks);
}

/* ---- Messages that arrive while the engine runs ------------------------------ */

#define LIVE_MSG	12
#define LIVE_GAP_MS	20

struct live {
	int peer[2];		/* the sending ends: [0] the quiet one, [1] busy */
	unsigned int n_busy;
	unsigned int gap_ms;
};

static void send_seq(int fd, uint64_t seq)
{
	uint8_t buf[16];

	memcpy(buf, &seq, 8);
	memset(buf + 8, 0x5a, sizeof(buf) - 8);
	assert_int_equal(send(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
}

/* The busy peer sends with pauses; the quiet one once, at the end. */
static void *live_sender(void *arg)
{
	struct live *l = arg;
	struct timespec ts = { 0, (long)l->gap_ms * 1000000 };

	for (uint64_t i = 0; i < l->n_busy; i++) {
		nanosleep(&ts, NULL);
		send_seq(l->peer[1], i);
	}
	nanosleep(&ts, NULL);
	if (l->peer[0] >= 0) {
		send_seq(l->peer[0], 0);
		close(l->peer[0]);
	}
	close(l->peer[1]);
	return NULL;
}

static void msrc_init(struct msrc *m, const char *name, int fd)
{
	int on = 1;

	memset(m, 0, sizeof(*m));
	m->commit_each = true;
	m->s.ops = &msrc_ops;
	m->s.priv = m;
	m->fd = fd;
	snprintf(m->s.name, sizeof(m->s.name), "%s", name);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on,
				    sizeof(on)), 0);
}

/* Run @n sources (their peers in @l) until every channel has ended. */
static void run_live(struct fx *f, struct msrc **m, size_t n, struct live *l,
		     bool wait_recv, struct eng_chan_stats *st)
{
	struct gcs_writer *w;
	struct eng_opts o;
	pthread_t th;
	struct eng *e;

	w = te_writer(f->path, false);
	assert_non_null(w);
	eng_opts_init(&o);
	o.sync_interval_ms = 100;
	o.tick_ms = 20;
	o.wait_recv = wait_recv;
	assert_int_equal(eng_create(&e, w, &o), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(eng_add_source(e, &m[i]->s), 0);
	assert_int_equal(pthread_create(&th, NULL, live_sender, l), 0);
	assert_int_equal(eng_run(e, mono() + 20ll * 1000000000), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		eng_chan_get_stats(eng_chan_at(e, i), &st[i]);
		close(m[i]->fd);
	}
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
}

static bool can_wait_recv(void)
{
	struct eng_features feat;

	return !eng_probe(NULL, &feat) && feat.wait_recv;
}

/* One socket, messages a quarter of the flush interval apart: each its chunk. */
static void run_one_by_one(struct fx *f, bool wait_recv,
			   struct eng_chan_stats *st)
{
	struct live l = { .peer = { -1, -1 }, .n_busy = LIVE_MSG,
			  .gap_ms = LIVE_GAP_MS / 4 };
	struct msrc m, *mp = &m;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	l.peer[1] = sv[1];
	msrc_init(&m, "sock", sv[0]);
	run_live(f, &mp, 1, &l, wait_recv, st);
	assert_int_equal(st->records, LIVE_MSG);
	assert_int_equal(st->chunks, LIVE_MSG);
	for (uint64_t i = 1; i < LIVE_MSG; i++)
		assert_int_equal(m.committed_at[i], i);
}

/*
 * Messages that come one at a time: each receive was submitted once and
 * completed with its message (the kernel waited for it); none met an
 * empty socket, none needed a poll. The last receive reads the close.
 */
static void test_engine_commit_each_receive_waits(void **state)
{
	struct eng_chan_stats st;

	if (!can_wait_recv())
		skip();		/* no IORING_FEAT_FAST_POLL or cancel: polls */
	run_one_by_one(*state, true, &st);
	assert_int_equal(st.eagain, 0);
	assert_int_equal(st.polls, 0);
	assert_int_equal(st.reads, LIVE_MSG + 1);
}

/*
 * Poll, then receive (wait_recv off, the fallback): the same file; the
 * socket was found empty between messages.
 */
static void test_engine_commit_each_poll_fallback(void **state)
{
	struct eng_chan_stats st;

	run_one_by_one(*state, false, &st);
	assert_true(st.polls >= 1);
	assert_true(st.reads > LIVE_MSG + 1);
}

/*
 * Two channels, the first one's peer silent until the end: its waiting
 * receive holds the older reservation. The busy channel's messages are
 * still committed (readers see them) before its next one arrives: the
 * waiting receive was let go, not waited for.
 */
static void test_engine_commit_each_wait_holds_nothing_back(void **state)
{
	struct fx *f = *state;
	struct eng_chan_stats st[2];
	struct live l = { .n_busy = LIVE_MSG / 2, .gap_ms = LIVE_GAP_MS * 2 };
	struct msrc quiet, busy, *mp[2] = { &quiet, &busy };
	int a[2], b[2];

	if (!can_wait_recv())
		skip();		/* no IORING_FEAT_FAST_POLL or cancel: polls */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, b), 0);
	l.peer[0] = a[1];
	l.peer[1] = b[1];
	msrc_init(&quiet, "quiet", a[0]);
	msrc_init(&busy, "busy", b[0]);
	run_live(f, mp, 2, &l, true, st);
	assert_int_equal(st[0].records, 1);
	assert_int_equal(st[1].records, LIVE_MSG / 2);
	for (uint64_t i = 1; i < LIVE_MSG / 2; i++)
		assert_int_equal(busy.committed_at[i], i);
	assert_true(st[0].parked >= 1);
}

/* Alternate messages to the two peers, @gap_ms apart, the second first. */
static void *pair_sender(void *arg)
{
	struct live *l = arg;
	struct timespec ts = { 0, (long)l->gap_ms * 1000000 };

	for (uint64_t i = 0; i < 2 * l->n_busy; i++) {
		nanosleep(&ts, NULL);
		send_seq(l->peer[(i + 1) % 2], i / 2);
	}
	nanosleep(&ts, NULL);
	close(l->peer[0]);
	close(l->peer[1]);
	return NULL;
}

/*
 * Two insoles whose messages come in the other order than their
 * reservations (the second channel's first): the first is let go once,
 * then reserves ahead of the second (its message comes next) and nothing
 * is let go again. Reserving behind it instead would let one go at every
 * message, each leaving a PAD record.
 */
static void test_engine_commit_each_two_waiting_settle(void **state)
{
	struct fx *f = *state;
	struct eng_chan_stats st[2];
	struct live l = { .n_busy = LIVE_MSG / 2, .gap_ms = LIVE_GAP_MS / 2 };
	struct msrc a, b, *mp[2] = { &a, &b };
	struct gcs_writer *w;
	struct eng_opts o;
	struct eng *e;
	pthread_t th;
	int sa[2], sb[2];

	if (!can_wait_recv())
		skip();		/* no IORING_FEAT_FAST_POLL or cancel: polls */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sa), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sb), 0);
	l.peer[0] = sa[1];
	l.peer[1] = sb[1];
	msrc_init(&a, "a", sa[0]);
	msrc_init(&b, "b", sb[0]);
	w = te_writer(f->path, false);
	assert_non_null(w);
	eng_opts_init(&o);
	o.sync_interval_ms = 100;
	o.tick_ms = 20;
	o.clock_interval_ms = 0;	/* no clock record to let them go */
	assert_int_equal(eng_create(&e, w, &o), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(eng_add_source(e, &mp[i]->s), 0);
	assert_int_equal(pthread_create(&th, NULL, pair_sender, &l), 0);
	assert_int_equal(eng_run(e, mono() + 20ll * 1000000000), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	for (size_t i = 0; i < 2; i++) {
		eng_chan_get_stats(eng_chan_at(e, i), &st[i]);
		close(mp[i]->fd);
	}
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(st[0].records, LIVE_MSG / 2);
	assert_int_equal(st[1].records, LIVE_MSG / 2);
	for (uint64_t i = 1; i < LIVE_MSG / 2; i++) {
		assert_int_equal(a.committed_at[i], i);
		assert_int_equal(b.committed_at[i], i);
	}
	/* Once at the start; a slow loop may have to once more. */
	assert_true(st[0].parked + st[1].parked <= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_commit_each_message_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_commit_batches_by_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_commit_each_receive_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_commit_each_poll_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_commit_each_wait_holds_nothing_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_commit_each_two_waiting_settle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
