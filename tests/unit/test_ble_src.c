// SPDX-License-Identifier: GPL-2.0
/*
 * The insole source (userspace/engine/src_ble.c) against a minimal insole
 * peripheral (ble_peer.c) over socketpairs that stand in for L2CAP ATT
 * sockets: the GATT sequence through the ring, notifications into the
 * session, a device gap, a lost link with reconnection and the outage as a
 * gap, duplicates after the reconnection dropped, the stream description.
 * Also the --insole address syntax.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ble/att.h"
#include "ble/insole_gatt.h"
#include "ble_peer.h"
#include "engine/engine.h"
#include "test_engine_util.h"
#include "test_session_util.h"

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

/* ---- Address syntax ---------------------------------------------------------- */

static void test_ble_parse(void **state)
{
	struct eng_ble_opts o;
	const char *why;
	uint8_t b[6];

	(void)state;
	eng_ble_opts_init(&o);
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00:01", &o, &why), 0);
	assert_string_equal(o.side, "left");
	assert_string_equal(o.bdaddr, "00:AA:01:01:00:01");
	assert_false(o.random);
	assert_int_equal(eng_ble_parse("right=C0:11:22:33:44:55/random", &o,
				       &why), 0);
	assert_string_equal(o.side, "right");
	assert_true(o.random);
	assert_int_equal(eng_ble_parse("right=c0:11:22:33:44:55/public", &o,
				       &why), 0);
	assert_false(o.random);
	assert_int_equal(eng_ble_addr_parse("00:AA:01:01:00:02", b), 0);
	assert_int_equal(b[0], 0x02);
	assert_int_equal(b[5], 0x00);
	assert_int_equal(b[4], 0xaa);
	/* Refused, each with its reason. */
	assert_int_equal(eng_ble_parse("00:AA:01:01:00:01", &o, &why), -EINVAL);
	assert_int_equal(eng_ble_parse("middle=00:AA:01:01:00:01", &o, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "left or right"));
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00", &o, &why), -EINVAL);
	assert_non_null(strstr(why, "not a Bluetooth address"));
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00:0G", &o, &why),
			 -EINVAL);
	assert_int_equal(eng_ble_parse("left=00-AA-01-01-00-01", &o, &why),
			 -EINVAL);
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00:01/static", &o, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "/random or /public"));
	/* A random static address has its top two bits set. */
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00:01/random", &o, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "random static"));
	/* Link security: automatic unless +secure or +plain. */
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00:01", &o, &why), 0);
	assert_int_equal(o.security, ENG_BLE_SEC_AUTO);
	assert_int_equal(eng_ble_parse("right=C0:11:22:33:44:55/random+secure",
				       &o, &why), 0);
	assert_true(o.random);
	assert_string_equal(o.bdaddr, "C0:11:22:33:44:55");
	assert_int_equal(o.security, ENG_BLE_SEC_SECURE);
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00:01+plain", &o, &why), 0);
	assert_int_equal(o.security, ENG_BLE_SEC_PLAIN);
	assert_string_equal(o.bdaddr, "00:AA:01:01:00:01");
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00:01+bonded", &o, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "+secure or +plain"));
	assert_int_equal(eng_ble_parse("left=00:AA:01:01:00:01/rand+secure", &o,
				       &why), -EINVAL);
}

/* ---- A walk with a drop, a lost link and duplicates ------------------------------ */

#define N_NOTIFY	200
#define DROP_A		50	/* notifications 50, 51: lost by the insole */
#define LINK_LOST	100	/* the link drops before notification 100 ... */
#define RESUME		109	/* ... and streams again from 109 */

struct script {
	pthread_mutex_t lock;
	int peer_fd[4];		/* the insole's ends, one per connection */
	unsigned int n_dial, n_taken;
	int err;
	volatile bool done, release;
	pthread_t th;
};

static int dial(void *ctx)
{
	struct script *s = ctx;
	int sv[2], fd = -ENOBUFS;

	pthread_mutex_lock(&s->lock);
	if (s->n_dial < 4 &&
	    !socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0, sv)) {
		s->peer_fd[s->n_dial++] = sv[1];
		fd = sv[0];
	}
	pthread_mutex_unlock(&s->lock);
	return fd;
}

static int next_conn(struct script *s)
{
	for (int i = 0; i < 500; i++) {
		int fd = -1;

		pthread_mutex_lock(&s->lock);
		if (s->n_taken < s->n_dial)
			fd = s->peer_fd[s->n_taken++];
		pthread_mutex_unlock(&s->lock);
		if (fd >= 0)
			return fd;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* Serve until START, as an insole does after the client's sequence. */
static int until_streaming(struct ble_peer *p)
{
	for (int i = 0; i < 500 && !p->streaming; i++) {
		int ret = ble_peer_serve(p, 10);

		if (ret)
			return ret;
	}
	return p->streaming ? 0 : -ETIMEDOUT;
}

static void *insole(void *arg)
{
	struct script *s = arg;
	struct ble_peer p;
	uint8_t pdu[256];
	uint32_t counter, t_us;
	int fd, ret;
	long i = 0;

	fd = next_conn(s);
	if (fd < 0)
		goto fail;
	ble_peer_init(&p, fd, 0);
	if ((ret = until_streaming(&p)))
		goto fail_ret;
	for (i = 0; i < LINK_LOST; i++) {
		ret = (int)ble_peer_notify(&p, i == DROP_A || i == DROP_A + 1);
		if (ret < 0)
			goto fail_ret;
		ble_peer_serve(&p, 0);
		usleep(1000);
	}
	close(fd);			/* the link drops */
	for (; i < RESUME; i++)
		ble_peer_notify(&p, true);	/* the insole's counter goes on */
	counter = p.counter;
	t_us = p.t_us;

	fd = next_conn(s);
	if (fd < 0)
		goto fail;
	ble_peer_init(&p, fd, 0);
	p.counter = counter;
	p.t_us = t_us;
	if ((ret = until_streaming(&p)))
		goto fail_ret;
	/* Two notifications stored before the loss, sent again. */
	for (uint32_t k = 2 * (LINK_LOST - 2); k < 2 * LINK_LOST; k += 2) {
		size_t len = ble_peer_data_pdu(&p, pdu, k, 0, 0);

		if (send(fd, pdu, len, 0) != (ssize_t)len)
			goto fail;
	}
	for (; i < N_NOTIFY; i++) {
		ret = (int)ble_peer_notify(&p, false);
		if (ret < 0)
			goto fail_ret;
		ble_peer_serve(&p, 0);
		usleep(1000);
	}
	s->done = true;
	/* Connected until the capture is over: its end is no link loss. */
	while (!s->release)
		ble_peer_serve(&p, 10);
	close(fd);
	return NULL;
fail:
	s->err = -ETIMEDOUT;
	return NULL;
fail_ret:
	s->err = ret;
	return NULL;
}

static void stop_when_done(struct eng *e, void *ctx, int64_t now)
{
	struct script *s = ctx;

	(void)now;
	if ((s->done || s->err) && !eng_stopping(e))
		eng_stop(e, 0);
}

static void check_desc(const char *d)
{
	static const char *const want[] = {
		"\"device\":\"insole-left\"", "\"side\":\"left\"",
		"\"decoder\":\"gaitcap-v1\"", "\"profile\":\"gaitcap\"",
		"\"model\":\"GI_T1__test_\"", "\"manufacturer\":\"Gaitcap\"",
		"\"serial\":\"TL-0001\"", "\"firmware\":\"0.9\"",
		"\"battery_pct\":87", "\"cells\":16", "\"rate_hz\":100",
		"\"kpa_per_code\":0.25", "\"att_handle\":15",
		"\"bdaddr_type\":\"public\"", "\"device_clock\":true",
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(d, want[i]))
			fail_msg("description lacks %s: %s", want[i], d);
}

/*
 * @each: each notification its own chunk (capture --watermark 1), the
 * receive waiting in the kernel where io_uring can: the same file.
 */
static void walk_gap_reconnect(struct fx *f, bool each)
{
	struct script sc = { .lock = PTHREAD_MUTEX_INITIALIZER };
	const struct gcs_stream_info *si;
	struct eng_ble_opts bo;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	struct gcs_reader *r;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng_opts o;
	struct eng *e;
	char st[256];
	uint64_t want = 0, n = 0;
	bool dev_gap = false, link_gap = false;

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
	assert_int_equal(pthread_create(&sc.th, NULL, insole, &sc), 0);
	/* Until the insole has sent everything (about 1.5 s). */
	eng_set_tick(e, 20, stop_when_done, &sc);
	assert_int_equal(eng_run(e, mono() + 20000000000ll), 0);
	assert_true(s->ops->describe(s, st, sizeof(st)) > 0);
	/* The Battery Service level, read at connect (gaitcap service). */
	assert_non_null(s->ops->battery);
	assert_int_equal(s->ops->battery(s), 87);
	eng_stop_sources(e);
	sc.release = true;
	pthread_join(sc.th, NULL);
	assert_int_equal(sc.err, 0);
	assert_true(sc.done);
	assert_non_null(strstr(st, "streaming connects 2 losses 1 dup 2"));
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);

	assert_int_equal(gcs_reader_open(&r, f->path, GCS_OPEN_VERIFY), 0);
	si = gcs_reader_stream_by_id(r, 0);
	assert_non_null(si);
	assert_int_equal(si->kind, GCS_KIND_BLE_ATT);
	check_desc(si->desc_json);
	gcs_rec_iter_init(&it, r, 0);
	while (gcs_rec_iter_next(&it, &rec) == 1) {
		uint32_t ctr;

		while ((want >= DROP_A && want <= DROP_A + 1) ||
		       (want >= LINK_LOST && want < RESUME))
			want++;
		/* The PDU as received: a notification of the data handle. */
		assert_int_equal(rec.len, 3 + INSOLE_DATA_HDR +
				 2 * INSOLE_SAMPLE_SIZE);
		assert_int_equal(rec.data[0], 0x1b);
		assert_int_equal(rec.data[1], BP_DATA_HANDLE);
		memcpy(&ctr, rec.data + 3 + INSOLE_DATA_OFF_SEQ, 4);
		assert_int_equal(ctr, 2 * want);	/* each once, in order */
		assert_int_equal(rec.seq, want);
		want++;
		n++;
	}
	assert_int_equal(n, N_NOTIFY - 2 - (RESUME - LINK_LOST));
	for (size_t i = 0; i < gcs_reader_n_gaps(r); i++) {
		const struct gcs_gap *g = gcs_reader_gap(r, i);

		if (g->reason == GCS_GAP_DEVICE_OVERFLOW) {
			assert_false(dev_gap);
			assert_int_equal(g->first_seq, DROP_A);
			assert_int_equal(g->last_seq, DROP_A + 1);
			dev_gap = true;
		} else if (g->reason == GCS_GAP_DISCONNECT) {
			assert_false(link_gap);
			assert_int_equal(g->first_seq, LINK_LOST);
			assert_int_equal(g->last_seq, RESUME - 1);
			assert_true(g->t_end_ns > g->t_start_ns);
			link_gap = true;
		} else {
			fail_msg("unexpected gap reason %u", g->reason);
		}
	}
	assert_true(dev_gap);
	assert_true(link_gap);
	gcs_reader_close(r);
}

static void test_ble_walk_gap_reconnect(void **state)
{
	walk_gap_reconnect(*state, false);
}

static void test_ble_walk_gap_reconnect_each(void **state)
{
	walk_gap_reconnect(*state, true);
}

/* An insole that never answers the sequence: retried, the capture goes on. */
static int dial_refused(void *ctx)
{
	(*(int *)ctx)++;
	return -ECONNREFUSED;
}

static void test_ble_retry_backoff(void **state)
{
	struct fx *f = *state;
	struct eng_ble_opts bo;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng_opts o;
	struct eng *e;
	int tries = 0;

	eng_ble_opts_init(&bo);
	snprintf(bo.side, sizeof(bo.side), "right");
	snprintf(bo.bdaddr, sizeof(bo.bdaddr), "C0:AA:01:01:00:02");
	bo.random = true;
	bo.dial = dial_refused;
	bo.dial_ctx = &tries;
	bo.backoff_min_ms = 50;
	bo.backoff_max_ms = 200;
	w = te_writer(f->path, false);
	eng_opts_init(&o);
	o.tick_ms = 10;
	assert_int_equal(eng_create(&e, w, &o), 0);
	assert_int_equal(eng_source_ble_create(&s, &bo), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	/* 1 s: tries at 0, 50, 150, 350, 550, 750, 950 ms (doubling to 200). */
	assert_int_equal(eng_run(e, mono() + 1000000000ll), 0);
	assert_true(tries >= 5 && tries <= 8);
	eng_stop_sources(e);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
}

/* --wait: an insole never found ends the capture with EHOSTDOWN, in words. */
static void test_ble_not_found(void **state)
{
	struct fx *f = *state;
	struct eng_ble_opts bo;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng_opts o;
	struct eng *e;
	int tries = 0;

	eng_ble_opts_init(&bo);
	snprintf(bo.side, sizeof(bo.side), "left");
	snprintf(bo.bdaddr, sizeof(bo.bdaddr), "00:AA:01:01:00:09");
	bo.dial = dial_refused;
	bo.dial_ctx = &tries;
	bo.wait_ms = 300;
	w = te_writer(f->path, false);
	eng_opts_init(&o);
	o.tick_ms = 10;
	assert_int_equal(eng_create(&e, w, &o), 0);
	assert_int_equal(eng_source_ble_create(&s, &bo), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	assert_int_equal(eng_run(e, mono() + 5000000000ll), -EHOSTDOWN);
	assert_non_null(strstr(s->why, "not found"));
	eng_stop_sources(e);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
}

/*
 * An insole that wants an encrypted link: every request answered with
 * Insufficient Encryption (0x0f). A socketpair cannot be encrypted, so the
 * raised attempt is refused too.
 */
static void *refusing_insole(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t pdu[ATT_MAX_MTU];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (poll(&p, 1, 5000) == 1 && (n = recv(fd, pdu, sizeof(pdu), 0)) > 0) {
		uint8_t err[5] = { 0x01, pdu[0], 0, 0, 0x0f };

		if (pdu[0] & 0x40 || pdu[0] == 0x1e)
			continue;	/* commands and confirmations: no answer */
		if (n >= 3 && pdu[0] != 0x02)
			memcpy(err + 2, pdu + 1, 2);
		if (send(fd, err, sizeof(err), 0) < 0)
			break;
	}
	close(fd);
	return NULL;
}

static int dial_encrypted(void *ctx)
{
	pthread_t th;
	int sv[2];

	(*(int *)ctx)++;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fcntl(sv[1], F_SETFL, 0);
	if (pthread_create(&th, NULL, refusing_insole, (void *)(intptr_t)sv[1])) {
		close(sv[0]);
		close(sv[1]);
		return -EAGAIN;
	}
	pthread_detach(th);
	return sv[0];
}

static void run_refused(struct fx *f, bool plain, char *why, size_t len,
			int *tries)
{
	struct eng_ble_opts bo;
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng_opts o;
	struct eng *e;

	eng_ble_opts_init(&bo);
	snprintf(bo.side, sizeof(bo.side), "left");
	snprintf(bo.bdaddr, sizeof(bo.bdaddr), "00:AA:01:01:00:09");
	bo.security = plain ? ENG_BLE_SEC_PLAIN : ENG_BLE_SEC_AUTO;
	bo.dial = dial_encrypted;
	bo.dial_ctx = tries;
	bo.wait_ms = 600;
	unlink(f->path);	/* the second run's session */
	w = te_writer(f->path, false);
	assert_non_null(w);
	eng_opts_init(&o);
	o.tick_ms = 10;
	assert_int_equal(eng_create(&e, w, &o), 0);
	assert_int_equal(eng_source_ble_create(&s, &bo), 0);
	assert_int_equal(eng_add_source(e, s), 0);
	assert_int_equal(eng_run(e, mono() + 5000000000ll), -EHOSTDOWN);
	snprintf(why, len, "%s", s->why);
	eng_stop_sources(e);
	eng_destroy(e);
	assert_int_equal(gcs_writer_close(w), 0);
}

/* The refusal names encryption; +plain never raises, auto raises once. */
static void test_ble_requires_encryption(void **state)
{
	struct fx *f = *state;
	char why[256];
	int tries = 0;

	run_refused(f, true, why, sizeof(why), &tries);
	print_message("+plain: %s (%d tries)\n", why, tries);
	assert_non_null(strstr(why, "not started within 600 ms"));
	assert_non_null(strstr(why, "requires an encrypted link; +plain forbids it"));
	tries = 0;
	run_refused(f, false, why, sizeof(why), &tries);
	print_message("auto: %s (%d tries)\n", why, tries);
	assert_non_null(strstr(why, "refuses even the encrypted link"));
	assert_true(tries >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ble_parse),
		cmocka_unit_test_setup_teardown(test_ble_walk_gap_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ble_walk_gap_reconnect_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ble_retry_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ble_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ble_requires_encryption, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
