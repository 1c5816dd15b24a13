// SPDX-License-Identifier: GPL-2.0
/*
 * The io_uring engine on real file descriptors (pipes, socketpairs, files):
 * every read mode, short reads that cut records, sequence gaps, several
 * channels of different kinds on one ring, signals, the control socket,
 * durability syncs on the ring, compaction on the worker and a full disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "engine/engine.h"
#include "test_engine_util.h"
#include "test_session_util.h"

/* ---- fallocate() that plays a filesystem of fake_limit bytes ------------- */

static off_t fake_limit;	/* 0: no limit */

int __real_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (fake_limit && !mode && off + len > fake_limit) {
		errno = ENOSPC;
		return -1;
	}
	return __real_fallocate(fd, mode, off, len);
}

/* ---- A ring that fails once, as io_uring_enter() can (ENOMEM...) ------------ */

static int ring_fail_in;	/* fail the Nth wait from now; 0: never */

int __real_io_uring_submit_and_wait_timeout(struct io_uring *ring,
					    struct io_uring_cqe **cqe,
					    unsigned int n,
					    struct __kernel_timespec *ts,
					    sigset_t *sigmask);
int __wrap_io_uring_submit_and_wait_timeout(struct io_uring *ring,
					    struct io_uring_cqe **cqe,
					    unsigned int n,
					    struct __kernel_timespec *ts,
					    sigset_t *sigmask);
int __wrap_io_uring_submit_and_wait_timeout(struct io_uring *ring,
					    struct io_uring_cqe **cqe,
					    unsigned int n,
					    struct __kernel_timespec *ts,
					    sigset_t *sigmask)
{
	if (ring_fail_in && !--ring_fail_in)
		return -ENOMEM;
	return __real_io_uring_submit_and_wait_timeout(ring, cqe, n, ts,
						       sigmask);
}

/* ---- A durability sync the kernel fails: its fd swapped for a pipe's --------- */

static int bad_sync_fd = -1;	/* IORING_OP_FSYNC on a pipe: -EINVAL */

int __real_gcs_writer_sync_begin(struct gcs_writer *w, struct gcs_sync *s);
int __wrap_gcs_writer_sync_begin(struct gcs_writer *w, struct gcs_sync *s);
int __wrap_gcs_writer_sync_begin(struct gcs_writer *w, struct gcs_sync *s)
{
	int ret = __real_gcs_writer_sync_begin(w, s);

	if (!ret && bad_sync_fd >= 0)
		s->fd = bad_sync_fd;
	return ret;
}

/* ---- Fixture ---------------------------------------------------------------- */

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
	fake_limit = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->path);
	tu_dir_fixture_free(f);
	fake_limit = 0;
	return 0;
}

static struct eng *mkeng(struct gcs_writer *w, enum eng_io_mode mode,
			 bool readv)
{
	struct eng_opts o;
	struct eng *e;

	eng_opts_init(&o);
	o.io_mode = mode;
	o.force_readv = readv;
	o.sync_interval_ms = 100;
	o.tick_ms = 20;
	if (eng_create(&e, w, &o))
		return NULL;
	return e;
}

static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *src_spec(int fd, char *buf, size_t len, bool seq)
{
	snprintf(buf, len, "fd:/proc/self/fd/%d,record=%u%s,name=pipe0", fd,
		 TE_REC, seq ? ",seq=0,ts=8,devclk=16" : "");
	return buf;
}

/* ---- A test source: records with the device's own `missing` count ------------- */

struct tsrc {
	struct eng_source s;
	int fd;
	enum eng_chan_kind kind;
	bool seq;
	uint32_t stream;
	int ended;
	int end_err;
};

static void tsrc_rec_info(void *priv, const uint8_t *rec, uint32_t len,
			  struct eng_rec_info *ri)
{
	(void)priv;
	if (len < 8)
		return;
	memcpy(&ri->seq, rec + TE_OFF_SEQ, 8);
	if (len >= TE_REC) {
		memcpy(&ri->t_ns, rec + TE_OFF_TS, 8);
		memcpy(&ri->missing, rec + TE_OFF_MISSING, 4);
	}
}

static int tsrc_start(struct eng_source *s)
{
	struct tsrc *t = s->priv;
	struct gcs_stream_def def = {
		.kind = t->kind == ENG_CHAN_RECORDS ? GCS_KIND_GENERIC :
						      GCS_KIND_BLE_ATT,
		.record_size = t->kind == ENG_CHAN_RECORDS ? TE_REC : 0,
		.ts_offset = t->kind == ENG_CHAN_RECORDS ? TE_OFF_TS : GCS_NO_TS,
		.ts_clock = t->kind == ENG_CHAN_RECORDS ? GCS_CLOCK_MONOTONIC :
							  GCS_CLOCK_REALTIME,
		.desc_json = "{\"device\":\"t0\"}",
	};
	struct eng_chan_def cd = {
		.label = s->name, .fd = t->fd, .kind = t->kind,
		.record_size = TE_REC, .gap_reason = GCS_GAP_KERNEL_OVERFLOW,
		.has_seq = t->seq, .rec_ts = t->kind == ENG_CHAN_RECORDS,
		.rec_info = tsrc_rec_info, .rx_timestamp = true, .msg_max = 128,
		.commit_ms = 20, .priv = t,
	};
	int ret = gcs_writer_add_stream(eng_writer(s->e), &def, &t->stream);

	if (ret)
		return ret;
	cd.stream = t->stream;
	return eng_chan_add(s->e, s, &cd, NULL);
}

static int tsrc_chan_end(struct eng_source *s, struct eng_chan *c, int err)
{
	struct tsrc *t = s->priv;

	(void)c;
	t->ended++;
	t->end_err = err;
	return err;
}

static const struct eng_source_ops tsrc_ops = {
	.kind = "test", .start = tsrc_start, .chan_end = tsrc_chan_end,
};

static void tsrc_init(struct tsrc *t, int fd, enum eng_chan_kind kind,
		      bool seq, const char *name)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->kind = kind;
	t->seq = seq;
	t->s.ops = &tsrc_ops;
	t->s.priv = t;
	snprintf(t->s.name, sizeof(t->s.name), "%s", name);
}

/* ---- Probe ------------------------------------------------------------------ */

static void test_engine_probe_features(void **state)
{
	struct eng_features f;
	int ret;

	(void)state;
	ret = eng_probe(NULL, &f);
	if (ret == -ENOSYS) {
		skip();	/* no io_uring on this kernel */
		return;
	}
	assert_int_equal(ret, 0);
	/* This host runs 6.x: READ, POLL_ADD and FSYNC exist. */
	assert_true(f.op_read || f.op_readv);
	assert_int_not_equal(f.io_mode, ENG_IO_AUTO);
	if (f.op_poll_add)
		assert_int_equal(f.io_mode, ENG_IO_POLL_FIRST);
	assert_true(f.sync_on_ring == f.op_fsync);
}

static void test_engine_mode_names(void **state)
{
	enum eng_io_mode m;

	(void)state;
	for (m = ENG_IO_AUTO; m <= ENG_IO_ASYNC; m++) {
		enum eng_io_mode back;

		assert_int_equal(eng_io_mode_parse(eng_io_mode_name(m), &back), 0);
		assert_int_equal(back, m);
	}
	assert_int_equal(eng_io_mode_parse("fast", &m), -EINVAL);
}

/* Realtime and boottime stamps land on the monotonic timeline. */
static void test_engine_clock_map(void **state)
{
	static const clockid_t ids[] = { CLOCK_REALTIME, CLOCK_BOOTTIME };
	struct eng_clock_map m;
	struct timespec ts;

	(void)state;
	eng_clock_map_init(&m, CLOCK_MONOTONIC);
	assert_int_equal(eng_clock_map(&m, 12345), 12345);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		int64_t t, mono0, mono1, got;

		eng_clock_map_init(&m, ids[i]);
		for (int k = 0; k < 3; k++) {	/* measured, then cached */
			mono0 = mono();
			clock_gettime(ids[i], &ts);
			t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
			mono1 = mono();
			got = eng_clock_map(&m, t);
			assert_true(got >= mono0 - 2000000 && got <= mono1 + 2000000);
		}
		/* An older stamp stays as far back. */
		assert_int_equal(eng_clock_map(&m, t - 5000000000ll), got - 5000000000ll);
	}
}

/* ---- A pipe in every mode, records cut into odd pieces ----------------------- */

static void run_pipe(struct fx *f, enum eng_io_mode mode, bool readv)
{
	/* Small pieces, slowly: reads see records cut in every mode. */
	struct te_feeder fd = { .count = 3000, .max_piece = 3 * TE_REC + 5,
				.pause_us = 100, .close_fd = true, .seed = 7 };
	struct eng_chan_stats st;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	int p[2];

	assert_int_equal(pipe(p), 0);
	w = te_writer(f->path, false);
	assert_non_null(w);
	e = mkeng(w, mode, readv);
	assert_non_null(e);
	if (mode != ENG_IO_AUTO)
		assert_true(eng_features(e)->io_mode == mode ||
			    mode == ENG_IO_FAST_POLL);
	assert_int_equal(eng_source_fd_create(&s, src_spec(p[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	close(p[0]);	/* the source opened its own through /proc */
	fd.fd = p[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(eng_run(e, mono() + 20ll * 1000000000), 0);
	te_feeder_join(&fd);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	assert_true(st.ended);
	assert_int_equal(st.end_err, 0);
	assert_int_equal(st.records, 3000);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.first_seq, 0);
	assert_int_equal(st.last_seq, 2999);
	/* Pieces of up to 3 records and 5 bytes cut records apart. */
	assert_true(st.partial > 0);
	assert_true(st.carry_bytes > 0);
	/* How close to full the buffer came: reads brought data, apart. */
	assert_true(st.peak_records >= 1);
	assert_true(st.peak_records <= 3000);
	assert_true(st.read_gap_ns_max > 0);
	assert_true(st.read_gap_ns_max < 20ll * 1000000000);
	eng_stop_sources(e);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, 0, NULL, 0), 3000);
}

static void test_engine_pipe_poll_first(void **state)
{
	run_pipe(*state, ENG_IO_POLL_FIRST, false);
}

static void test_engine_pipe_fast_poll(void **state)
{
	run_pipe(*state, ENG_IO_FAST_POLL, false);
}

static void test_engine_pipe_async(void **state)
{
	run_pipe(*state, ENG_IO_ASYNC, false);
}

static void test_engine_pipe_readv(void **state)
{
	run_pipe(*state, ENG_IO_POLL_FIRST, true);
}

static void test_engine_regular_file(void **state)
{
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char *src = tu_path(f->dir, "in.bin"), spec[256];
	uint8_t rec[TE_REC];
	int fd;

	/* A file, read at explicit offsets to its end. */
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (uint64_t i = 0; i < 5000; i++) {
		te_record(rec, i, 0);
		assert_int_equal(write(fd, rec, TE_REC), TE_REC);
	}
	close(fd);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	snprintf(spec, sizeof(spec), "fd:%s,record=%u,seq=0,ts=8", src, TE_REC);
	assert_int_equal(eng_source_fd_create(&s, spec), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	assert_int_equal(eng_run(e, 0), 0);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	assert_int_equal(st.records, 5000);
	/* Reads as large as the adaptive reservation allows: few chunks. */
	assert_true(st.chunks < 5000 / 4);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, 0, NULL, 0), 5000);
	free(src);
}

/* ---- Gaps ------------------------------------------------------------------------ */

static void test_engine_gaps_recorded(void **state)
{
	/* A skip at the very end could not be seen: nothing follows it. */
	static const uint64_t skip[] = { 10, 11, 12, 500, 1998 };
	struct te_feeder fd = { .count = 2000, .skip = skip, .n_skip = 5,
				.max_piece = 200, .close_fd = true, .seed = 3 };
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct gcs_reader *r;
	struct gcs_writer *w;
	struct tsrc t;
	struct eng *e;
	uint64_t seqs[2000];
	size_t ng;
	int p[2];

	assert_int_equal(pipe(p), 0);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	tsrc_init(&t, p[0], ENG_CHAN_RECORDS, true, "gappy");
	assert_int_equal(eng_add_source(e, &t.s), 0);
	fd.fd = p[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(eng_run(e, mono() + 20ll * 1000000000), 0);
	te_feeder_join(&fd);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	assert_int_equal(st.records, 1995);
	assert_int_equal(st.lost, 5);
	/*
	 * The feeder says how many it skipped (like the driver's `missing`),
	 * so every gap is the device's; none is left to the kernel.
	 */
	assert_int_equal(st.lost_device, 5);
	assert_int_equal(st.lost_kernel, 0);
	assert_int_equal(st.gaps, 3);
	/* The source keeps its own fd: the engine never closes it. */
	assert_int_equal(fcntl(p[0], F_GETFD) >= 0, 1);
	eng_destroy(e);
	close(p[0]);
	assert_int_equal(gcs_writer_close(w), 0);

	assert_int_equal(te_check_stream(f->path, t.stream, seqs, 2000), 1995);
	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	ng = gcs_reader_n_gaps(r);
	assert_int_equal(ng, 3);
	assert_int_equal(gcs_reader_gap(r, 0)->first_seq, 10);
	assert_int_equal(gcs_reader_gap(r, 0)->last_seq, 12);
	assert_int_equal(gcs_reader_gap(r, 0)->reason, GCS_GAP_DEVICE_OVERFLOW);
	assert_int_equal(gcs_reader_gap(r, 1)->first_seq, 500);
	assert_int_equal(gcs_reader_gap(r, 2)->first_seq, 1998);
	/* Every jump between chunks is covered by a gap record. */
	assert_int_equal(gcs_reader_stream_by_id(r, t.stream)->n_unexplained, 0);
	assert_int_equal(gcs_reader_stream_by_id(r, t.stream)->gap_records, 5);
	gcs_reader_close(r);
}

static void test_engine_gap_kernel_split(void **state)
{
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct gcs_reader *r;
	struct gcs_writer *w;
	uint8_t rec[TE_REC * 3];
	struct tsrc t;
	struct eng *e;
	int p[2];

	/*
	 * seq 0, then 10 saying 4 were missing before it: 6 reached the host
	 * and were lost there (kernel), 4 never left the device.
	 */
	assert_int_equal(pipe(p), 0);
	te_record(rec, 0, 0);
	te_record(rec + TE_REC, 10, 4);
	te_record(rec + 2 * TE_REC, 11, 0);
	assert_int_equal(write(p[1], rec, sizeof(rec)), (ssize_t)sizeof(rec));
	close(p[1]);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	tsrc_init(&t, p[0], ENG_CHAN_RECORDS, true, "split");
	assert_int_equal(eng_add_source(e, &t.s), 0);
	assert_int_equal(eng_run(e, 0), 0);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	assert_int_equal(st.lost_device, 4);
	assert_int_equal(st.lost_kernel, 5);
	eng_destroy(e);
	close(p[0]);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	assert_int_equal(gcs_reader_n_gaps(r), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct gcs_gap *g = gcs_reader_gap(r, i);

		if (g->reason == GCS_GAP_DEVICE_OVERFLOW) {
			assert_int_equal(g->first_seq, 6);
			assert_int_equal(g->last_seq, 9);
		} else {
			assert_int_equal(g->reason, GCS_GAP_KERNEL_OVERFLOW);
			assert_int_equal(g->first_seq, 1);
			assert_int_equal(g->last_seq, 5);
		}
	}
	gcs_reader_close(r);
}

static void test_engine_seq_backwards_stops(void **state)
{
	struct fx *f = *state;
	struct gcs_writer *w;
	uint8_t rec[TE_REC * 3];
	struct tsrc t;
	struct eng *e;
	int p[2];

	assert_int_equal(pipe(p), 0);
	te_record(rec, 5, 0);
	te_record(rec + TE_REC, 6, 0);
	te_record(rec + 2 * TE_REC, 2, 0);	/* a device that restarted */
	assert_int_equal(write(p[1], rec, sizeof(rec)), (ssize_t)sizeof(rec));
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	tsrc_init(&t, p[0], ENG_CHAN_RECORDS, true, "reset");
	assert_int_equal(eng_add_source(e, &t.s), 0);
	assert_int_equal(eng_run(e, mono() + 5ll * 1000000000), -EPROTO);
	assert_int_equal(t.ended, 1);
	assert_int_equal(t.end_err, -EPROTO);
	eng_destroy(e);
	close(p[0]);
	close(p[1]);
	/* What came before is kept, and the file closes cleanly. */
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, t.stream, NULL, 0), 2);
}

/* ---- Several fds of different kinds on one ring ----------------------------------- */

struct msg_sender {
	int fd;
	unsigned int n;
	pthread_t th;
};

static void *send_msgs(void *arg)
{
	struct msg_sender *m = arg;
	uint8_t buf[200];

	for (uint64_t i = 0; i < m->n; i++) {
		size_t len = 8 + i % 150;	/* > msg_max (128) now and then */

		memcpy(buf, &i, 8);
		for (size_t k = 8; k < len; k++)
			buf[k] = (uint8_t)(i + k);
		if (send(m->fd, buf, len, 0) != (ssize_t)len)
			break;
		if (i % 16 == 0)
			usleep(500);
	}
	close(m->fd);
	return NULL;
}

static void test_engine_records_and_messages(void **state)
{
	struct te_feeder fd = { .count = 4000, .max_piece = 1000,
				.close_fd = true, .seed = 11 };
	struct msg_sender ms = { .n = 1500 };
	struct fx *f = *state;
	struct eng_chan_stats st0, st1;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	struct gcs_reader *r;
	struct gcs_writer *w;
	struct tsrc t0, t1;
	struct eng *e;
	int p[2], sv[2], on = 1;
	int64_t real0 = 0;
	uint64_t n = 0, seq;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_TIMESTAMPNS, &on,
				    sizeof(on)), 0);
	/* The sender's end blocks; only the capture's end is non-blocking. */
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) & ~O_NONBLOCK);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	tsrc_init(&t0, p[0], ENG_CHAN_RECORDS, true, "pipe");
	tsrc_init(&t1, sv[0], ENG_CHAN_MESSAGES, true, "sock");
	assert_int_equal(eng_add_source(e, &t0.s), 0);
	assert_int_equal(eng_add_source(e, &t1.s), 0);
	assert_int_equal(eng_n_chans(e), 2);
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		real0 = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	fd.fd = p[1];
	ms.fd = sv[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(pthread_create(&ms.th, NULL, send_msgs, &ms), 0);
	assert_int_equal(eng_run(e, mono() + 20ll * 1000000000), 0);
	te_feeder_join(&fd);
	pthread_join(ms.th, NULL);
	eng_chan_get_stats(eng_chan_at(e, 0), &st0);
	eng_chan_get_stats(eng_chan_at(e, 1), &st1);
	assert_int_equal(st0.records, 4000);
	assert_int_equal(st1.records, 1500);
	assert_true(st1.truncated > 0);
	assert_int_equal(st1.lost, 0);
	eng_destroy(e);
	close(p[0]);
	close(sv[0]);
	assert_int_equal(gcs_writer_close(w), 0);

	assert_int_equal(te_check_stream(f->path, t0.stream, NULL, 0), 4000);
	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	gcs_rec_iter_init(&it, r, t1.stream);
	while (gcs_rec_iter_next(&it, &rec) == 1) {
		size_t want = 8 + n % 150;

		if (want > 128)
			want = 128;
		assert_int_equal(rec.len, want);
		memcpy(&seq, rec.data, 8);
		assert_int_equal(seq, n);
		assert_int_equal(rec.seq, n);
		for (size_t k = 8; k < rec.len; k++)
			assert_int_equal(rec.data[k], (uint8_t)(n + k));
		/* The kernel's receive timestamp, in realtime. */
		assert_true(rec.t_ns >= real0 - 1000000000);
		assert_true(rec.t_ns <= real0 + 60ll * 1000000000);
		n++;
	}
	assert_int_equal(n, 1500);
	gcs_reader_close(r);
}

/*
 * Messages go straight into the session's pages: the engine copies none of
 * them (carry_bytes), except one that follows a sequence jump and has to
 * move to a new chunk. Their t_ns is the kernel's receive timestamp: the
 * first ones were queued 200 ms before the engine ran.
 */
static const uint64_t oc_skip[] = { 100, 200, 201, 202, 203, 204 };

static int oc_send(int fd, uint64_t from, uint64_t to)
{
	uint8_t buf[64];

	for (uint64_t i = from; i < to; i++) {
		bool skipped = false;

		for (size_t k = 0; k < sizeof(oc_skip) / sizeof(oc_skip[0]); k++)
			skipped |= oc_skip[k] == i;
		if (skipped)
			continue;
		memcpy(buf, &i, 8);
		memset(buf + 8, (int)i, sizeof(buf) - 8);
		if (send(fd, buf, 8 + i % 50, 0) != (ssize_t)(8 + i % 50))
			return -1;
	}
	return 0;
}

static void *oc_send_rest(void *arg)
{
	int fd = *(int *)arg;

	usleep(200000);
	oc_send(fd, 40, 300);
	close(fd);
	return NULL;
}

static void test_engine_messages_one_copy(void **state)
{
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	struct gcs_reader *r;
	struct gcs_writer *w;
	struct tsrc t1;
	struct eng *e;
	struct timespec ts;
	int sv[2], on = 1;
	int64_t sent_end;
	uint64_t n = 0, want = 0, seq, gap_lost = 0;
	pthread_t th;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_TIMESTAMPNS, &on,
				    sizeof(on)), 0);
	assert_int_equal(oc_send(sv[1], 0, 40), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	sent_end = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) & ~O_NONBLOCK);
	assert_int_equal(pthread_create(&th, NULL, oc_send_rest, &sv[1]), 0);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	tsrc_init(&t1, sv[0], ENG_CHAN_MESSAGES, true, "sock");
	assert_int_equal(eng_add_source(e, &t1.s), 0);
	assert_int_equal(eng_run(e, mono() + 20ll * 1000000000), 0);
	pthread_join(th, NULL);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	assert_int_equal(st.records, 294);
	assert_int_equal(st.lost, 6);
	assert_int_equal(st.gaps, 2);
	/* At most the two messages after the jumps were copied. */
	assert_true(st.carry_bytes <= (8 + 101 % 50) + (8 + 205 % 50));
	eng_destroy(e);
	close(sv[0]);
	assert_int_equal(gcs_writer_close(w), 0);

	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	gcs_rec_iter_init(&it, r, t1.stream);
	while (gcs_rec_iter_next(&it, &rec) == 1) {
		while (want == 100 || (want >= 200 && want <= 204))
			want++;
		assert_int_equal(rec.len, 8 + want % 50);
		memcpy(&seq, rec.data, 8);
		assert_int_equal(seq, want);
		assert_int_equal(rec.seq, want);
		for (size_t k = 8; k < rec.len; k++)
			assert_int_equal(rec.data[k], (uint8_t)want);
		if (want < 40)
			assert_true(rec.t_ns <= sent_end);
		else
			assert_true(rec.t_ns > sent_end + 150000000);
		want++;
		n++;
	}
	assert_int_equal(n, 294);
	for (size_t i = 0; i < gcs_reader_n_gaps(r); i++) {
		const struct gcs_gap *g = gcs_reader_gap(r, i);

		if (g->stream == t1.stream)
			gap_lost += g->last_seq - g->first_seq + 1;
	}
	assert_int_equal(gap_lost, 6);
	gcs_reader_close(r);
}

/* ---- Signals, control socket, syncs ------------------------------------------------------ */

struct killer {
	unsigned int ms;
	int sig;
	pthread_t th;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep(k->ms * 1000);
	kill(getpid(), k->sig);
	return NULL;
}

static void test_engine_signal_stops_cleanly(void **state)
{
	struct te_feeder fd = { .forever = true, .max_piece = 500,
				.pause_us = 200, .seed = 5 };
	struct killer k = { .ms = 400, .sig = SIGTERM };
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct eng_stats es;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	long got;
	int p[2];

	assert_int_equal(pipe(p), 0);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	/* Blocked before any thread starts: every thread inherits it. */
	assert_int_equal(eng_watch_signals(e), 0);
	assert_int_equal(eng_source_fd_create(&s, src_spec(p[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	fd.fd = p[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(pthread_create(&k.th, NULL, kill_later, &k), 0);
	assert_int_equal(eng_run(e, mono() + 10ll * 1000000000), 0);
	assert_int_equal(eng_stop_signal(e), SIGTERM);
	fd.stop = true;
	close(p[0]);	/* the feeder's write fails: it stops */
	pthread_join(k.th, NULL);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	eng_get_stats(e, &es);
	assert_true(st.records > 0);
	assert_int_equal(st.lost, 0);
	assert_true(es.syncs >= 1);
	eng_destroy(e);
	te_feeder_join(&fd);
	close(p[1]);
	assert_int_equal(gcs_writer_close(w), 0);
	got = te_check_stream(f->path, 0, NULL, 0);
	assert_int_equal(got, (long)st.records);
}

struct marker_client {
	const char *sock;
	char reply[4][ENG_CTL_MAX_MSG];
	int ret[4];
	pthread_t th;
	struct te_feeder *feeder;
};

static void *mark_client(void *arg)
{
	static const char *const req[4] = {
		"MARK code=6 value=1", "MARK code=3 value=2 t=123456789",
		"MARK value=3", "STATUS",
	};
	struct marker_client *m = arg;

	usleep(100000);
	for (int i = 0; i < 4; i++)
		m->ret[i] = eng_control_request(m->sock, req[i], m->reply[i],
						sizeof(m->reply[i]), 10000);
	/* The capture ends at the source's EOF: only once every request is answered. */
	te_feeder_join(m->feeder);
	close(m->feeder->fd);
	return NULL;
}

static void test_engine_control_markers(void **state)
{
	struct te_feeder fd = { .count = 400, .pause_us = 2000, .seed = 9 };
	struct fx *f = *state;
	struct marker_client mc = { .feeder = &fd };
	struct gcs_reader *r;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128], *sock = tu_path(f->dir, "ctl.sock");
	bool seen6 = false, seen3 = false;
	int p[2];

	assert_int_equal(pipe(p), 0);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	assert_int_equal(eng_control_listen(e, sock), 0);
	/* A second capture may not take the socket of a live one. */
	{
		struct eng *e2 = mkeng(w, ENG_IO_AUTO, false);

		assert_int_equal(eng_control_listen(e2, sock), -EADDRINUSE);
		eng_destroy(e2);
	}
	assert_int_equal(eng_source_fd_create(&s, src_spec(p[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	fd.fd = p[1];
	mc.sock = sock;
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(pthread_create(&mc.th, NULL, mark_client, &mc), 0);
	assert_int_equal(eng_run(e, mono() + 60ll * 1000000000), 0);
	pthread_join(mc.th, NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mc.ret[i], 0);
	assert_string_equal(mc.reply[1], "OK t=123456789");
	assert_memory_equal(mc.reply[0], "OK t=", 5);
	assert_memory_equal(mc.reply[2], "ERR", 3);
	assert_memory_equal(mc.reply[3], "OK frames=", 10);
	eng_destroy(e);
	/* The socket goes with the capture. */
	assert_int_equal(access(sock, F_OK), -1);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	for (size_t i = 0; i < gcs_reader_n_markers(r); i++) {
		const struct gcs_marker *m = gcs_reader_marker(r, i);

		if (m->code == 6 && m->value == 1)
			seen6 = true;
		if (m->code == 3 && m->value == 2 && m->t_ns == 123456789)
			seen3 = true;
	}
	assert_true(seen6);
	assert_true(seen3);
	gcs_reader_close(r);
	free(sock);
}

static void run_durable(struct fx *f, bool blocking)
{
	struct te_feeder fd = { .count = 3000, .pause_us = 200,
				.close_fd = true, .seed = 2 };
	struct gcs_writer_stats ws;
	struct eng_chan_stats st;
	struct eng_opts o;
	struct eng_stats es;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	int p[2];

	assert_int_equal(pipe(p), 0);
	w = te_writer(f->path, false);
	eng_opts_init(&o);
	o.sync_interval_ms = 30;
	o.tick_ms = 10;
	o.blocking_sync = blocking;
	assert_int_equal(eng_create(&e, w, &o), 0);
	assert_int_equal(eng_features(e)->sync_on_ring, !blocking);
	assert_int_equal(eng_source_fd_create(&s, src_spec(p[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	fd.fd = p[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(eng_run(e, mono() + 20ll * 1000000000), 0);
	te_feeder_join(&fd);
	eng_get_stats(e, &es);
	gcs_writer_stats(w, &ws);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	/* Several syncs ran while data came in, and they made it durable. */
	assert_true(es.syncs >= 3);
	assert_true(st.durable_records > 0);
	assert_true(st.durable_records <= st.records);
	assert_true(st.durable_t_ns > 0 && st.durable_t_ns <= st.t_last_ns);
	assert_true(ws.durable_end > GCS_DATA_START + 4096);
	assert_true(ws.durable_end <= ws.committed_end);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, 0, NULL, 0), 3000);
}

static void test_engine_sync_on_ring(void **state)
{
	run_durable(*state, false);
}

/*
 * IORING_OP_FSYNC fails: the capture stops, and the writer knows it. It
 * claims nothing more (close fails, the header says why), where it used to
 * stay busy waiting for a sync that would never end.
 */
static void test_engine_sync_failure_marks_file(void **state)
{
	struct te_feeder fd = { .count = 1000, .seed = 3 };	/* < a pipe */
	struct fx *f = *state;
	struct gcs_writer_stats ws;
	struct gcs_recover_report rep;
	struct gcs_disk_header h[2];
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	uint64_t mark;
	int p[2], bad[2], hfd;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(bad), 0);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_AUTO, false);
	if (!eng_features(e)->sync_on_ring) {
		eng_destroy(e);
		gcs_writer_close(w);
		skip();		/* no IORING_OP_FSYNC on this kernel */
	}
	gcs_writer_stats(w, &ws);
	mark = ws.durable_end;
	assert_int_equal(eng_source_fd_create(&s, src_spec(p[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	fd.fd = p[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	te_feeder_join(&fd);
	bad_sync_fd = bad[0];
	assert_int_equal(eng_run(e, mono() + 10ll * 1000000000), -EINVAL);
	bad_sync_fd = -1;
	gcs_writer_stats(w, &ws);
	assert_int_equal(ws.failed, -EINVAL);
	assert_int_equal(ws.sync_error, -EINVAL);
	assert_int_equal(ws.durable_end, mark);
	assert_true(ws.committed_end > mark);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), -EINVAL);
	hfd = open(f->path, O_RDONLY);
	assert_true(hfd >= 0);
	assert_int_equal(pread(hfd, h, sizeof(h[0]), 0), sizeof(h[0]));
	assert_int_equal(pread(hfd, &h[1], sizeof(h[1]), GCS_BLOCK), sizeof(h[1]));
	close(hfd);
	if (h[0].generation > h[1].generation)
		h[1] = h[0];
	assert_int_equal(h[1].state, GCS_STATE_OPEN);
	assert_int_equal(h[1].sync_error, EINVAL);
	assert_int_equal(h[1].durable_end, mark);
	/* Recovery keeps the records, not a durable mark over them. */
	assert_int_equal(gcs_recover(f->path, &rep), 0);
	assert_int_equal(te_check_stream(f->path, 0, NULL, 0), 1000);
	for (int i = 0; i < 2; i++) {
		close(p[i]);
		close(bad[i]);
	}
}

static void test_engine_sync_blocking(void **state)
{
	run_durable(*state, true);
}

static void test_engine_compaction_worker(void **state)
{
	struct te_feeder fd = { .count = 20000, .pause_us = 100,
				.close_fd = true, .seed = 4 };
	struct fx *f = *state;
	struct gcs_writer_stats ws;
	struct eng_stats es;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	int p[2];

	assert_int_equal(pipe(p), 0);
	w = te_writer_keep(f->path);	/* 64 KiB compaction target */
	e = mkeng(w, ENG_IO_AUTO, false);
	assert_true(eng_features(e)->compact_thread);
	assert_int_equal(eng_source_fd_create(&s, src_spec(p[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	fd.fd = p[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(eng_run(e, mono() + 30ll * 1000000000), 0);
	te_feeder_join(&fd);
	eng_get_stats(e, &es);
	gcs_writer_stats(w, &ws);
	/* 960 KB of records: several 64 KiB jobs went through the worker. */
	assert_true(es.compactions >= 3);
	assert_true(ws.zchunks >= 3);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, 0, NULL, 0), 20000);
}

static void test_engine_disk_full_ends_session(void **state)
{
	struct te_feeder fd = { .forever = true, .seed = 6 };
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct gcs_reader *r;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	bool end_enospc = false;
	int p[2], ret;

	assert_int_equal(pipe(p), 0);
	fake_limit = 3 << 20;	/* 3 MiB of disk, then ENOSPC */
	w = te_writer(f->path, false);
	assert_non_null(w);
	e = mkeng(w, ENG_IO_AUTO, false);
	assert_int_equal(eng_source_fd_create(&s, src_spec(p[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	fd.fd = p[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	ret = eng_run(e, mono() + 30ll * 1000000000);
	assert_int_equal(ret, -ENOSPC);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	fd.stop = true;
	eng_destroy(e);
	close(p[0]);
	te_feeder_join(&fd);
	close(p[1]);
	/* The writer kept its reserve to close the file properly. */
	assert_int_equal(gcs_writer_close(w), 0);
	fake_limit = 0;
	assert_int_equal(te_check_stream(f->path, 0, NULL, 0), (long)st.records);
	assert_true(st.records > 20000);
	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	for (size_t i = 0; i < gcs_reader_n_markers(r); i++)
		if (gcs_reader_marker(r, i)->code == GCS_MARK_SESSION_END &&
		    gcs_reader_marker(r, i)->value == ENOSPC)
			end_enospc = true;
	assert_true(end_enospc);
	gcs_reader_close(r);
}

/*
 * The ring fails while a read waits in it (fast poll: a read is always in
 * flight into the file's mapping). eng_run must not return before that
 * read is back, or the writer would be closed (unmapped) under it.
 */
static void test_engine_ring_failure_drains(void **state)
{
	struct te_feeder fd = { .count = 1000, .seed = 8 };	/* < a pipe */
	struct fx *f = *state;
	struct eng_chan_stats st;
	struct eng_stats es;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	int p[2];

	assert_int_equal(pipe(p), 0);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_FAST_POLL, false);
	assert_int_equal(eng_source_fd_create(&s, src_spec(p[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	fd.fd = p[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	te_feeder_join(&fd);		/* all in the pipe, which stays open */
	ring_fail_in = 40;
	assert_int_equal(eng_run(e, mono() + 30ll * 1000000000), -ENOMEM);
	ring_fail_in = 0;
	eng_get_stats(e, &es);
	assert_int_equal(es.inflight, 0);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	assert_true(st.ended);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, 0, NULL, 0), (long)st.records);
	close(p[0]);
	close(p[1]);
}

/*
 * Two channels: a read of the idle one holds a reservation (fast poll), so
 * the busy one's chunks are sealed behind it but not committed. What the
 * status counts as committed must be what a reader (or a kill -9) finds.
 */
struct commit_watch {
	struct fx *f;
	unsigned int ticks, behind;
	uint64_t over;		/* committed_records beyond what was visible */
};

static void commit_tick(struct eng *e, void *ctx, int64_t now)
{
	struct commit_watch *cw = ctx;
	struct eng_chan_stats st;
	long seen;

	(void)now;
	eng_chan_get_stats(eng_chan_at(e, 1), &st);
	seen = te_check_stream(cw->f->path, 1, NULL, 0);
	assert_true(seen >= 0);
	if (st.committed_records > (uint64_t)seen)
		cw->over += st.committed_records - (uint64_t)seen;
	if (st.records > (uint64_t)seen)
		cw->behind++;
	cw->ticks++;
}

static void test_engine_committed_counts_file_order(void **state)
{
	/*
	 * Slowly: fewer than the 16 outstanding reservations at which the
	 * engine lets a waiting read go (sealed chunks, syncs and clock
	 * records: about 10 a second here).
	 */
	struct te_feeder fd = { .forever = true, .pause_us = 150000, .seed = 9 };
	struct fx *f = *state;
	struct commit_watch cw = { .f = f };
	struct eng_chan_stats st;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	int idle[2], busy[2];

	assert_int_equal(pipe(idle), 0);
	assert_int_equal(pipe(busy), 0);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_FAST_POLL, false);
	if (eng_features(e)->io_mode != ENG_IO_FAST_POLL) {
		eng_destroy(e);
		gcs_writer_close(w);
		skip();		/* no fast poll: reads never wait holding a slot */
	}
	assert_int_equal(eng_source_fd_create(&s, src_spec(idle[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	assert_int_equal(eng_source_fd_create(&s, src_spec(busy[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	eng_set_tick(e, 100, commit_tick, &cw);
	fd.fd = busy[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(eng_run(e, mono() + 1000ll * 1000000), 0);
	fd.stop = true;
	te_feeder_join(&fd);
	assert_true(cw.ticks >= 5);
	assert_true(cw.behind >= 3);	/* sealed, not committed: it happened */
	assert_int_equal(cw.over, 0);
	/* Stopped: nothing holds a reservation, everything sealed is committed. */
	eng_chan_get_stats(eng_chan_at(e, 1), &st);
	assert_true(st.records > 0);
	assert_int_equal(st.committed_records, st.records);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, 1, NULL, 0), (long)st.records);
	for (int i = 0; i < 2; i++) {
		close(idle[i]);
		close(busy[i]);
	}
}

/*
 * The same two channels, the busy one fast: an idle channel's read waits
 * in the kernel holding a reservation (fast poll), and every chunk sealed
 * after it waits too. The writer holds 64 at most; the engine must let the
 * idle read go (cancel it, poll instead) before they run out. Until 0.6 the
 * 65th reservation failed with -EBUSY and the capture stopped.
 */
static void test_engine_fast_poll_idle_channel_never_blocks(void **state)
{
	struct te_feeder fd = { .forever = true, .pause_us = 1000, .seed = 11 };
	struct fx *f = *state;
	struct eng_chan_stats st, si;
	struct gcs_writer_stats ws;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng *e;
	char spec[128];
	int idle[2], busy[2];

	assert_int_equal(pipe(idle), 0);
	assert_int_equal(pipe(busy), 0);
	w = te_writer(f->path, false);
	e = mkeng(w, ENG_IO_FAST_POLL, false);
	if (eng_features(e)->io_mode != ENG_IO_FAST_POLL) {
		eng_destroy(e);
		gcs_writer_close(w);
		skip();		/* no fast poll: reads never wait holding a slot */
	}
	assert_int_equal(eng_source_fd_create(&s, src_spec(idle[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	assert_int_equal(eng_source_fd_create(&s, src_spec(busy[0], spec,
							   sizeof(spec), true)), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	fd.fd = busy[1];
	assert_int_equal(te_feeder_start(&fd), 0);
	assert_int_equal(eng_run(e, mono() + 1500ll * 1000000), 0);
	fd.stop = true;
	te_feeder_join(&fd);
	eng_chan_get_stats(eng_chan_at(e, 1), &st);
	eng_chan_get_stats(eng_chan_at(e, 0), &si);
	/* Far more chunks than the writer's 64 reservations, none refused. */
	assert_true(st.chunks > 3 * 64);
	assert_int_equal(st.end_err, 0);
	assert_int_equal(si.end_err, 0);
	assert_true(si.parked > 0);	/* the idle read was let go */
	assert_int_equal(st.committed_records, st.records);
	gcs_writer_stats(w, &ws);
	assert_int_equal(ws.failed, 0);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(te_check_stream(f->path, 1, NULL, 0), (long)st.records);
	for (int i = 0; i < 2; i++) {
		close(idle[i]);
		close(busy[i]);
	}
}

int main(void)
{
	/* Feeders write into pipes the engine closes at the end. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_probe_features),
		cmocka_unit_test(test_engine_mode_names),
		cmocka_unit_test(test_engine_clock_map),
		cmocka_unit_test_setup_teardown(test_engine_pipe_poll_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_pipe_fast_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_pipe_async, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_pipe_readv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_regular_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_gaps_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_gap_kernel_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_seq_backwards_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_records_and_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_messages_one_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_signal_stops_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_control_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_sync_on_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_sync_failure_marks_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_sync_blocking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_compaction_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_disk_full_ends_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_ring_failure_drains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_committed_counts_file_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fast_poll_idle_channel_never_blocks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
