// SPDX-License-Identifier: GPL-2.0
/*
 * The insole source with commit_each (gaitcap capture --watermark 1,
 * docs/latency.md): against the minimal insole peripheral (ble_peer.c)
 * over a socketpair, every notification is stored as a chunk of its own,
 * a device gap and a duplicate included; without it the same insole is
 * stored in batches.
 */
#include <errno.h>
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

#include "ble/insole_gatt.h"
#include "ble_peer.h"
#include "engine/engine.h"
#include "test_engine_util.h"
#include "test_session_util.h"

#define N_NOTIFY	120
#define DROP		40	/* lost by the insole */
#define DUP		80	/* notification 79 sent again before it */

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

struct insole {
	pthread_mutex_t lock;	/* fd: set by dial() on the engine's thread */
	int fd;			/* the insole's end */
	int err;
	volatile bool done, release;
	pthread_t th;
};

static int dial(void *ctx)
{
	struct insole *s = ctx;
	int sv[2], fd = -ENOBUFS;

	pthread_mutex_lock(&s->lock);
	if (s->fd < 0 &&
	    !socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) {
		s->fd = sv[1];
		fd = sv[0];
	}
	pthread_mutex_unlock(&s->lock);
	return fd;
}

static int peer_fd(struct insole *s)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	fd = s->fd;
	pthread_mutex_unlock(&s->lock);
	return fd;
}

/* One connection: the sequence, then a notification every 2 ms. */
static void *insole_run(void *arg)
{
	struct insole *s = arg;
	struct ble_peer p;
	uint8_t pdu[256];
	uint32_t prev = 0;
	size_t len;
	int fd, ret = -ETIMEDOUT;

	for (int i = 0; i < 500 && peer_fd(s) < 0; i++)
		usleep(10000);
	fd = peer_fd(s);
	if (fd < 0)
		goto out;
	ble_peer_init(&p, fd, 0);
	for (int i = 0; i < 500 && !p.streaming; i++)
		if ((ret = ble_peer_serve(&p, 10)))
			goto out;
	ret = -ETIMEDOUT;
	if (!p.streaming)
		goto out;
	for (long i = 0; i < N_NOTIFY; i++) {
		if (i == DUP) {
			len = ble_peer_data_pdu(&p, pdu, prev, 0, 0);
			if (send(fd, pdu, len, 0) != (ssize_t)len)
				goto out;
		}
		prev = p.counter;
		ret = (int)ble_peer_notify(&p, i == DROP);
		if (ret < 0)
			goto out;
		ble_peer_serve(&p, 0);
		usleep(2000);
	}
	ret = 0;
	s->done = true;
	while (!s->release)
		ble_peer_serve(&p, 10);
out:
	s->err = ret;
	s->done = true;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void stop_when_done(struct eng *e, void *ctx, int64_t now)
{
	struct insole *s = ctx;

	(void)now;
	if (s->done && !eng_stopping(e))
		eng_stop(e, 0);
}

/*
 * Capture the insole; returns the stream's chunks and counts in @multi
 * those holding more than one notification.
 */
static uint64_t capture(struct fx *f, bool each, uint64_t *multi)
{
	struct insole sc = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };
	const struct gcs_stream_info *si;
	struct eng_ble_opts bo;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	struct gcs_reader *r;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng_opts o;
	struct eng *e;
	uint64_t want = 0, chunks;

	eng_ble_opts_init(&bo);
	snprintf(bo.side, sizeof(bo.side), "left");
	snprintf(bo.bdaddr, sizeof(bo.bdaddr), "00:AA:01:01:00:01");
	bo.dial = dial;
	bo.dial_ctx = &sc;
	bo.commit_each = each;
	w = te_writer(f->path, false);
	assert_non_null(w);
	eng_opts_init(&o);
	o.tick_ms = 20;
	o.sync_interval_ms = 100;
	assert_int_equal(eng_create(&e, w, &o), 0);
	assert_int_equal(eng_source_ble_create(&s, &bo), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	assert_int_equal(pthread_create(&sc.th, NULL, insole_run, &sc), 0);
	eng_set_tick(e, 20, stop_when_done, &sc);
	assert_int_equal(eng_run(e, mono() + 20000000000ll), 0);
	eng_stop_sources(e);
	sc.release = true;
	pthread_join(sc.th, NULL);
	assert_int_equal(sc.err, 0);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);

	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	si = gcs_reader_stream_by_id(r, 0);
	assert_non_null(si);
	assert_int_equal(si->n_records, N_NOTIFY - 1);
	assert_int_equal(si->gap_records, 1);
	assert_int_equal(si->n_unexplained, 0);
	gcs_rec_iter_init(&it, r, 0);
	while (gcs_rec_iter_next(&it, &rec) == 1) {
		uint32_t ctr;

		if (want == DROP)
			want++;
		memcpy(&ctr, rec.data + 3 + INSOLE_DATA_OFF_SEQ, 4);
		assert_int_equal(ctr, 2 * want);	/* each once, in order */
		assert_int_equal(rec.seq, want);
		want++;
	}
	assert_int_equal(want, N_NOTIFY);
	chunks = 0;
	*multi = 0;
	for (size_t i = 0; i < gcs_reader_n_chunks(r); i++) {
		const struct gcs_chunk_info *ci = gcs_reader_chunk(r, i);

		if (ci->stream != 0)
			continue;
		chunks++;
		*multi += ci->n_records > 1;
	}
	assert_int_equal(chunks, si->n_chunks);
	gcs_reader_close(r);
	return chunks;
}

static void test_ble_commit_each_notification(void **state)
{
	uint64_t multi, chunks = capture(*state, true, &multi);

	/*
	 * One chunk per notification; those that came with the sequence's
	 * last answers, before the channel, may share one (src_ble.c).
	 */
	assert_true(multi <= 1);
	assert_true(chunks >= N_NOTIFY - 1 - 8);
}

static void test_ble_commit_batches_by_default(void **state)
{
	uint64_t multi, chunks = capture(*state, false, &multi);

	/* 50 ms batches of notifications 2 ms apart. */
	assert_true(chunks < (N_NOTIFY - 1) / 2);
	assert_true(multi >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ble_commit_each_notification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ble_commit_batches_by_default, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
