// SPDX-License-Identifier: GPL-2.0
/*
 * The insole simulator's ATT server as BlueZ's unit/test-gatt.c tests
 * servers: byte scripts over socketpair(AF_UNIX, SOCK_SEQPACKET), what the
 * client sends and what the server must answer, PDU for PDU; a script
 * passes only when every PDU was used and nothing else was sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim/gait_model.h"
#include "sim/insole_model.h"
#include "sim/insole_srv.h"
#include "sim/mat_ctrl.h"

/* Handles of the gaitcap database (docs/simulator.md lists them). */
#define H_RSC_CCCD	0x15
#define H_DATA		0x1a
#define H_DATA_CCCD	0x1b
#define H_CP		0x1d
#define H_CP_CCCD	0x1e
#define H_INFO		0x20
#define T0		1000000		/* insole clock of the scripts, us */

struct fx {
	struct walkway w;
	struct gait_params gp;
	struct gait_model *gm;
	struct insole_model *im;
	struct insole_srv *srv;
	struct insole_srv_cfg cfg;
	struct insole_fault faults[4];
	int sv[2];			/* [0] server end, [1] client end */
	struct insole_notify_info log[64];
	uint8_t log_val[64][INSOLE_SRV_MAX_MTU];
	size_t n_log;
};

static void on_notify(void *ctx, const struct insole_notify_info *in)
{
	struct fx *fx = ctx;

	if (fx->n_log < 64) {
		memcpy(fx->log_val[fx->n_log], in->value, in->len);
		fx->log[fx->n_log] = *in;
		fx->log[fx->n_log].value = fx->log_val[fx->n_log];
		fx->n_log++;
	}
}

static int model_sample(void *ctx, uint64_t k, uint64_t clock_us,
			struct insole_reading *r)
{
	insole_model_sample(ctx, clock_us, r);
	return 0;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct insole_params ip;
	char err[80];

	if (!fx)
		return -1;
	mat_walkway_line(&fx->w, 4);
	gait_params_init(&fx->gp);
	fx->gp.passes = 2;
	if (gait_params_resolve(&fx->gp, err, sizeof(err)) ||
	    gait_model_create(&fx->gm, &fx->gp, &fx->w, 3))
		return -1;
	insole_params_init(&ip);
	ip.clock_offset_s = 0;		/* insole clock = walk time + drift */
	if (insole_model_create(&fx->im, fx->gm, GAIT_LEFT, &ip, 3))
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fx->sv))
		return -1;
	fcntl(fx->sv[1], F_SETFL, O_NONBLOCK);
	fx->cfg = (struct insole_srv_cfg){
		.profile = INSOLE_PROFILE_GAITCAP, .side = GAIT_LEFT,
		.name = "gaitcap-insole-L", .serial = "SIM-L-3",
		.battery_pct = 87, .rate_hz = 100, .batch = 5,
		.max_mtu = 247, .seed = 3, .model = fx->im,
		.source = { model_sample, fx->im },
		.on_notify = on_notify, .cb_ctx = fx,
	};
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	insole_srv_destroy(fx->srv);
	insole_model_destroy(fx->im);
	gait_model_destroy(fx->gm);
	close(fx->sv[0]);
	close(fx->sv[1]);
	free(fx);
	return 0;
}

static void start_srv(struct fx *fx)
{
	assert_int_equal(insole_srv_create(&fx->srv, &fx->cfg), 0);
	insole_srv_attach(fx->srv, fx->sv[0]);
}

/* ---- Byte scripts ------------------------------------------------------------ */

enum dir { C2S, S2C, END };

struct pdu {
	enum dir dir;
	size_t len;
	uint8_t b[64];
};

#define SEND(...) { C2S, sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ } }
#define EXPECT(...) { S2C, sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ } }
#define DONE { END, 0, { 0 } }
/* INSOLE_UUID128 without its braces, to sit inside a script PDU. */
#define UUID_BYTES(x) 0x6c, 0x6f, 0x73, 0x6e, 0x69, 0x70, 0x61, 0x63, \
	0x74, 0x69, 0x61, 0x67, (x) & 0xff, (x) >> 8, 0x7e, 0x5a

static ssize_t client_recv(struct fx *fx, uint8_t *buf, size_t len)
{
	return recv(fx->sv[1], buf, len, MSG_DONTWAIT);
}

static void assert_quiet(struct fx *fx)
{
	uint8_t buf[512];
	ssize_t n = client_recv(fx, buf, sizeof(buf));

	if (n >= 0)
		fail_msg("server sent an unscripted PDU (%zd bytes, opcode 0x%02x)",
			 n, n ? buf[0] : 0);
	assert_int_equal(errno, EAGAIN);
}

/* The client's PDU reaches the server, as gaitinsole-sim's loop passes it. */
static void client_send(struct fx *fx, const uint8_t *b, size_t len,
			uint64_t now)
{
	uint8_t buf[512];
	ssize_t n;

	assert_int_equal(send(fx->sv[1], b, len, 0), (ssize_t)len);
	n = recv(fx->sv[0], buf, sizeof(buf), 0);
	assert_int_equal(n, (ssize_t)len);
	assert_int_equal(insole_srv_handle(fx->srv, buf, n, now), 0);
}

static void run_script(struct fx *fx, const struct pdu *s, uint64_t now)
{
	uint8_t buf[512];
	unsigned int i;
	ssize_t n;

	for (i = 0; s[i].dir != END; i++) {
		if (s[i].dir == C2S) {
			/* Everything expected so far came before this PDU. */
			assert_quiet(fx);
			client_send(fx, s[i].b, s[i].len, now);
			continue;
		}
		n = client_recv(fx, buf, sizeof(buf));
		if (n < 0)
			fail_msg("step %u: expected a %zu-byte PDU, got none", i,
				 s[i].len);
		if ((size_t)n != s[i].len || memcmp(buf, s[i].b, n)) {
			size_t k;

			for (k = 0; k < (size_t)n; k++)
				print_message("%02x ", buf[k]);
			print_message("\n");
			fail_msg("step %u: PDU differs (got %zd bytes)", i, n);
		}
	}
	assert_quiet(fx);
}

/* ---- Tests -------------------------------------------------------------------- */

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}


static void test_srv_mtu_exchange(void **state)
{
	struct fx *fx = *state;
	const struct pdu s[] = {
		SEND(0x02, 0x00, 0x02),		/* client rx MTU 512 */
		EXPECT(0x03, 0xf7, 0x00),	/* ours: 247 */
		SEND(0x02, 0x10, 0x00),		/* 16: below the minimum */
		EXPECT(0x03, 0xf7, 0x00),
		SEND(0x02, 0x10),		/* short */
		EXPECT(0x01, 0x02, 0x00, 0x00, 0x04),
		DONE,
	};

	start_srv(fx);
	run_script(fx, s, T0);
	assert_int_equal(insole_srv_mtu(fx->srv), 23);
	client_send(fx, (const uint8_t[]){ 0x02, 0x64, 0x00 }, 3, T0);
	assert_int_equal(insole_srv_mtu(fx->srv), 100);
}

static void test_srv_discover_primary_services(void **state)
{
	struct fx *fx = *state;
	const struct pdu s[] = {
		SEND(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
		EXPECT(0x11, 0x06,
		       0x01, 0x00, 0x05, 0x00, 0x00, 0x18,
		       0x06, 0x00, 0x0e, 0x00, 0x0a, 0x18,
		       0x0f, 0x00, 0x11, 0x00, 0x0f, 0x18),
		SEND(0x10, 0x12, 0x00, 0xff, 0xff, 0x00, 0x28),
		EXPECT(0x11, 0x06, 0x12, 0x00, 0x17, 0x00, 0x14, 0x18),
		SEND(0x10, 0x18, 0x00, 0xff, 0xff, 0x00, 0x28),
		EXPECT(0x11, 0x14, 0x18, 0x00, 0x20, 0x00,
		       UUID_BYTES(INSOLE_SVC)),
		SEND(0x10, 0x21, 0x00, 0xff, 0xff, 0x00, 0x28),
		EXPECT(0x01, 0x10, 0x21, 0x00, 0x0a),
		/* Secondary services: none; other group types: unsupported. */
		SEND(0x10, 0x01, 0x00, 0xff, 0xff, 0x01, 0x28),
		EXPECT(0x01, 0x10, 0x01, 0x00, 0x0a),
		SEND(0x10, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28),
		EXPECT(0x01, 0x10, 0x01, 0x00, 0x10),
		/* Discover by UUID: the battery service. */
		SEND(0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18),
		EXPECT(0x07, 0x0f, 0x00, 0x11, 0x00),
		SEND(0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0xf0, 0xff),
		EXPECT(0x01, 0x06, 0x01, 0x00, 0x0a),
		DONE,
	};

	start_srv(fx);
	run_script(fx, s, T0);
}

static void test_srv_discover_characteristics(void **state)
{
	struct fx *fx = *state;
	const struct pdu s[] = {
		SEND(0x08, 0x18, 0x00, 0x20, 0x00, 0x03, 0x28),
		EXPECT(0x09, 0x15, 0x19, 0x00, 0x10, 0x1a, 0x00,
		       UUID_BYTES(INSOLE_CHR_DATA)),
		SEND(0x08, 0x1a, 0x00, 0x20, 0x00, 0x03, 0x28),
		EXPECT(0x09, 0x15, 0x1c, 0x00, 0x28, 0x1d, 0x00,
		       UUID_BYTES(INSOLE_CHR_CONTROL)),
		SEND(0x08, 0x1e, 0x00, 0x20, 0x00, 0x03, 0x28),
		EXPECT(0x09, 0x15, 0x1f, 0x00, 0x02, 0x20, 0x00,
		       UUID_BYTES(INSOLE_CHR_INFO)),
		SEND(0x08, 0x21, 0x00, 0xff, 0xff, 0x03, 0x28),
		EXPECT(0x01, 0x08, 0x21, 0x00, 0x0a),
		/* Find Information fills the MTU (23): five 16-bit entries. */
		SEND(0x04, 0x01, 0x00, 0xff, 0xff),
		EXPECT(0x05, 0x01, 0x01, 0x00, 0x00, 0x28, 0x02, 0x00, 0x03,
		       0x28, 0x03, 0x00, 0x00, 0x2a, 0x04, 0x00, 0x03, 0x28,
		       0x05, 0x00, 0x01, 0x2a),
		/* Descriptors of the data characteristic. */
		SEND(0x04, 0x1b, 0x00, 0x1b, 0x00),
		EXPECT(0x05, 0x01, 0x1b, 0x00, 0x02, 0x29),
		SEND(0x04, 0x05, 0x00, 0x04, 0x00),
		EXPECT(0x01, 0x04, 0x05, 0x00, 0x01),
		/* Read by characteristic UUID: battery level. */
		SEND(0x08, 0x01, 0x00, 0xff, 0xff, 0x19, 0x2a),
		EXPECT(0x09, 0x03, 0x11, 0x00, 87),
		/* ... and a notify-only value: not readable. */
		SEND(0x08, 0x01, 0x00, 0xff, 0xff, 0x53, 0x2a),
		EXPECT(0x01, 0x08, 0x14, 0x00, 0x02),
		DONE,
	};

	start_srv(fx);
	run_script(fx, s, T0);
}

static void test_srv_read_blob_description(void **state)
{
	struct fx *fx = *state;
	uint8_t want[256], got[256], rsp[64];
	size_t len, off = 0;
	ssize_t n;

	start_srv(fx);
	len = insole_model_describe(fx->im, 100, want, sizeof(want));
	assert_int_equal(len, INSOLE_INFO_HDR + 16 * INSOLE_INFO_CELL);
	client_send(fx, (const uint8_t[]){ 0x0a, H_INFO, 0x00 }, 3, T0);
	n = client_recv(fx, rsp, sizeof(rsp));
	assert_int_equal(n, 23);
	assert_int_equal(rsp[0], 0x0b);
	memcpy(got, rsp + 1, 22);
	off = 22;
	while (off < len) {
		uint8_t req[5] = { 0x0c, H_INFO, 0x00, off & 0xff, off >> 8 };

		client_send(fx, req, 5, T0);
		n = client_recv(fx, rsp, sizeof(rsp));
		assert_true(n >= 1 && rsp[0] == 0x0d);
		assert_true(n - 1 <= 22);
		memcpy(got + off, rsp + 1, n - 1);
		off += n - 1;
		if (n < 23)
			break;
	}
	assert_int_equal(off, len);
	assert_memory_equal(got, want, len);
	{
		const struct pdu s[] = {
			/* At the end: empty; beyond it: invalid offset. */
			SEND(0x0c, H_INFO, 0x00, 120, 0x00),
			EXPECT(0x0d),
			SEND(0x0c, H_INFO, 0x00, 121, 0x00),
			EXPECT(0x01, 0x0c, H_INFO, 0x00, 0x07),
			DONE,
		};

		run_script(fx, s, T0);
	}
}

static void test_srv_error_responses(void **state)
{
	struct fx *fx = *state;
	const struct pdu s[] = {
		SEND(0x0a, 0x00, 0x00),
		EXPECT(0x01, 0x0a, 0x00, 0x00, 0x01),
		SEND(0x0a, 0xff, 0x00),
		EXPECT(0x01, 0x0a, 0xff, 0x00, 0x01),
		SEND(0x0a, H_DATA, 0x00),
		EXPECT(0x01, 0x0a, H_DATA, 0x00, 0x02),
		SEND(0x0a, 0x01),
		EXPECT(0x01, 0x0a, 0x00, 0x00, 0x04),
		SEND(0x12, 0x03, 0x00, 0x41),
		EXPECT(0x01, 0x12, 0x03, 0x00, 0x03),
		SEND(0x12, H_DATA_CCCD, 0x00, 0x01),
		EXPECT(0x01, 0x12, H_DATA_CCCD, 0x00, 0x0d),
		/* Prepare Write and unknown requests: not supported. */
		SEND(0x16, 0x03, 0x00, 0x00, 0x00, 0x41),
		EXPECT(0x01, 0x16, 0x00, 0x00, 0x06),
		SEND(0x20, 0x01),
		EXPECT(0x01, 0x20, 0x00, 0x00, 0x06),
		/* Commands get no answer, not even an error. */
		SEND(0x52, 0x03, 0x00, 0x41),
		SEND(0x7f, 0x01, 0x02),
		SEND(0x04, 0x05, 0x00, 0x04, 0x00),
		EXPECT(0x01, 0x04, 0x05, 0x00, 0x01),
		SEND(0x04, 0x00, 0x00, 0x04, 0x00),
		EXPECT(0x01, 0x04, 0x00, 0x00, 0x01),
		/* A read by type with a 3-byte UUID is no PDU at all. */
		SEND(0x08, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28, 0x00),
		EXPECT(0x01, 0x08, 0x00, 0x00, 0x04),
		DONE,
	};

	start_srv(fx);
	run_script(fx, s, T0);
	assert_false(insole_srv_streaming(fx->srv));
}

static void test_srv_control_point_indications(void **state)
{
	struct fx *fx = *state;
	const struct pdu s[] = {
		/* Indications off: the control point refuses (0xFD). */
		SEND(0x12, H_CP, 0x00, INSOLE_CP_START),
		EXPECT(0x01, 0x12, H_CP, 0x00, 0xfd),
		SEND(0x12, H_CP_CCCD, 0x00, 0x02, 0x00),
		EXPECT(0x13),
		SEND(0x0a, H_CP_CCCD, 0x00),
		EXPECT(0x0b, 0x02, 0x00),
		SEND(0x12, H_CP, 0x00, INSOLE_CP_START),
		EXPECT(0x13),
		EXPECT(0x1d, H_CP, 0x00, 0x80, INSOLE_CP_START, INSOLE_CP_OK),
		/* One indication in flight: the next waits for the confirm. */
		SEND(0x12, H_CP, 0x00, INSOLE_CP_SET_RATE, 50, 0),
		EXPECT(0x13),
		SEND(0x1e),
		EXPECT(0x1d, H_CP, 0x00, 0x80, INSOLE_CP_SET_RATE,
		       INSOLE_CP_BUSY),
		SEND(0x1e),
		SEND(0x12, H_CP, 0x00, INSOLE_CP_STOP),
		EXPECT(0x13),
		EXPECT(0x1d, H_CP, 0x00, 0x80, INSOLE_CP_STOP, INSOLE_CP_OK),
		SEND(0x1e),
		SEND(0x12, H_CP, 0x00, INSOLE_CP_SET_RATE, 60, 0),
		EXPECT(0x13),
		EXPECT(0x1d, H_CP, 0x00, 0x80, INSOLE_CP_SET_RATE,
		       INSOLE_CP_INVALID),
		SEND(0x1e),
		SEND(0x12, H_CP, 0x00, INSOLE_CP_SET_RATE, 50, 0),
		EXPECT(0x13),
		EXPECT(0x1d, H_CP, 0x00, 0x80, INSOLE_CP_SET_RATE, INSOLE_CP_OK),
		SEND(0x1e),
		SEND(0x12, H_CP, 0x00, 0x42),
		EXPECT(0x13),
		EXPECT(0x1d, H_CP, 0x00, 0x80, 0x42, INSOLE_CP_UNSUPPORTED),
		SEND(0x1e),
		/* CLOCK_SYNC: the token back and the insole clock (T0). */
		SEND(0x12, H_CP, 0x00, INSOLE_CP_CLOCK_SYNC, 0xef, 0xbe, 0xad,
		     0xde),
		EXPECT(0x13),
		EXPECT(0x1d, H_CP, 0x00, 0x80, INSOLE_CP_CLOCK_SYNC,
		       INSOLE_CP_OK, 0xef, 0xbe, 0xad, 0xde,
		       T0 & 0xff, (T0 >> 8) & 0xff, (T0 >> 16) & 0xff, T0 >> 24),
		SEND(0x1e),
		DONE,
	};

	start_srv(fx);
	run_script(fx, s, T0);
	assert_false(insole_srv_streaming(fx->srv));
	/* The description tells the new rate. */
	{
		uint8_t rsp[64];

		client_send(fx, (const uint8_t[]){ 0x0a, H_INFO, 0x00 }, 3, T0);
		assert_int_equal(client_recv(fx, rsp, sizeof(rsp)), 23);
		assert_int_equal(rsp[0], 0x0b);
		assert_int_equal(le16(rsp + 1 + 4), 50);
	}
}

/* MTU 247, data notifications on, START at @now. */
static void open_stream(struct fx *fx, uint64_t now)
{
	const struct pdu s[] = {
		SEND(0x02, 0xf7, 0x00),
		EXPECT(0x03, 0xf7, 0x00),
		SEND(0x12, H_DATA_CCCD, 0x00, 0x01, 0x00),
		EXPECT(0x13),
		SEND(0x12, H_CP_CCCD, 0x00, 0x02, 0x00),
		EXPECT(0x13),
		SEND(0x12, H_CP, 0x00, INSOLE_CP_START),
		EXPECT(0x13),
		EXPECT(0x1d, H_CP, 0x00, 0x80, INSOLE_CP_START, INSOLE_CP_OK),
		SEND(0x1e),
		DONE,
	};

	run_script(fx, s, now);
}

/* A notification of @n samples whose first is at @clock, seq @seq. */
static void expect_batch(struct fx *fx, uint32_t seq, uint64_t clock,
			 unsigned int n, uint16_t flags)
{
	uint8_t pdu[512], want[INSOLE_SAMPLE_SIZE];
	struct insole_reading r;
	unsigned int i, c;
	ssize_t len;

	len = client_recv(fx, pdu, sizeof(pdu));
	assert_int_equal(len, 3 + INSOLE_DATA_HDR + n * INSOLE_SAMPLE_SIZE);
	assert_int_equal(pdu[0], 0x1b);
	assert_int_equal(le16(pdu + 1), H_DATA);
	assert_int_equal(pdu[3 + INSOLE_DATA_OFF_VERSION], INSOLE_DATA_VERSION);
	assert_int_equal(pdu[3 + INSOLE_DATA_OFF_N], n);
	assert_int_equal(le16(pdu + 3 + INSOLE_DATA_OFF_FLAGS) &
			 INSOLE_DATA_F_RESTART, flags);
	assert_int_equal(le32(pdu + 3 + INSOLE_DATA_OFF_SEQ), seq);
	assert_int_equal(le32(pdu + 3 + INSOLE_DATA_OFF_T_US), (uint32_t)clock);
	assert_int_equal(le16(pdu + 3 + INSOLE_DATA_OFF_PERIOD), 10000);
	for (i = 0; i < n; i++) {
		insole_model_sample(fx->im, clock + i * 10000, &r);
		for (c = 0; c < INSOLE_CELLS; c++) {
			want[2 * c] = r.cell[c] & 0xff;
			want[2 * c + 1] = r.cell[c] >> 8;
		}
		for (c = 0; c < 3; c++) {
			want[32 + 2 * c] = (uint16_t)r.acc[c] & 0xff;
			want[33 + 2 * c] = (uint16_t)r.acc[c] >> 8;
			want[38 + 2 * c] = (uint16_t)r.gyro[c] & 0xff;
			want[39 + 2 * c] = (uint16_t)r.gyro[c] >> 8;
		}
		assert_memory_equal(pdu + 3 + INSOLE_DATA_HDR +
				    i * INSOLE_SAMPLE_SIZE, want,
				    INSOLE_SAMPLE_SIZE);
	}
}

static void test_srv_streams_model_batches(void **state)
{
	struct fx *fx = *state;
	uint64_t first = T0 + 10000;	/* the next tick of the 100 Hz grid */

	start_srv(fx);
	open_stream(fx, T0);
	assert_true(insole_srv_streaming(fx->srv));
	assert_int_equal(insole_srv_next_us(fx->srv), first);
	/* Four samples in: nothing yet. */
	assert_int_equal(insole_srv_pump(fx->srv, first + 30000), 0);
	assert_quiet(fx);
	assert_int_equal(insole_srv_pump(fx->srv, first + 40000), 0);
	expect_batch(fx, 0, first, 5, INSOLE_DATA_F_RESTART);
	assert_int_equal(insole_srv_pump(fx->srv, first + 140000), 0);
	expect_batch(fx, 5, first + 50000, 5, 0);
	expect_batch(fx, 10, first + 100000, 5, 0);
	assert_quiet(fx);
	assert_int_equal(fx->n_log, 3);
	assert_int_equal(fx->log[2].status, INSOLE_SENT);
	assert_int_equal(fx->log[2].index, 2);
}

static void test_srv_stream_waits_for_cccd(void **state)
{
	struct fx *fx = *state;
	const struct pdu s[] = {
		SEND(0x02, 0xf7, 0x00),
		EXPECT(0x03, 0xf7, 0x00),
		SEND(0x12, H_CP_CCCD, 0x00, 0x02, 0x00),
		EXPECT(0x13),
		SEND(0x12, H_CP, 0x00, INSOLE_CP_START),
		EXPECT(0x13),
		EXPECT(0x1d, H_CP, 0x00, 0x80, INSOLE_CP_START, INSOLE_CP_OK),
		SEND(0x1e),
		DONE,
	};

	start_srv(fx);
	run_script(fx, s, T0);
	/* Sampling runs, nothing goes out: the batches are counted unsent. */
	assert_int_equal(insole_srv_pump(fx->srv, T0 + 100000), 0);
	assert_quiet(fx);
	assert_int_equal(fx->n_log, 2);
	assert_int_equal(fx->log[0].status, INSOLE_UNSENT);
	assert_int_equal(fx->log[1].seq, 5);
	/* Notifications on: the stream goes on, the gap stays in seq. */
	client_send(fx, (const uint8_t[]){ 0x12, H_DATA_CCCD, 0, 1, 0 }, 5,
		    T0 + 100000);
	assert_int_equal(client_recv(fx, (uint8_t[8]){ 0 }, 8), 1);
	assert_int_equal(insole_srv_pump(fx->srv, T0 + 150000), 0);
	expect_batch(fx, 10, T0 + 110000, 5, 0);
	assert_quiet(fx);
}

static void test_srv_mtu_too_small_is_unsent(void **state)
{
	struct fx *fx = *state;

	fx->cfg.autostart = true;
	start_srv(fx);
	client_send(fx, (const uint8_t[]){ 0x12, H_DATA_CCCD, 0, 1, 0 }, 5, T0);
	assert_int_equal(client_recv(fx, (uint8_t[8]){ 0 }, 8), 1);
	assert_true(insole_srv_streaming(fx->srv));
	assert_int_equal(insole_srv_pump(fx->srv, T0 + 50000), 0);
	assert_quiet(fx);
	assert_true(fx->n_log >= 1);
	assert_int_equal(fx->log[0].status, INSOLE_UNSENT);
	assert_int_equal(fx->log[0].n, 1);
}

static void test_srv_faults(void **state)
{
	struct fx *fx = *state;
	uint8_t pdu[512];
	uint64_t first = T0 + 10000;
	ssize_t n;

	fx->faults[0] = (struct insole_fault){ 1, INSOLE_FAULT_DROP };
	fx->faults[1] = (struct insole_fault){ 2, INSOLE_FAULT_MALFORMED };
	fx->faults[2] = (struct insole_fault){ 3, INSOLE_FAULT_DISCONNECT };
	fx->cfg.faults = fx->faults;
	fx->cfg.n_faults = 3;
	start_srv(fx);
	open_stream(fx, T0);
	/* 0 sent, 1 dropped, 2 malformed, then the link is to be dropped. */
	assert_int_equal(insole_srv_pump(fx->srv, first + 190000), 1);
	expect_batch(fx, 0, first, 5, INSOLE_DATA_F_RESTART);
	n = client_recv(fx, pdu, sizeof(pdu));
	assert_true(n > 0);
	assert_int_equal(fx->n_log, 3);
	assert_int_equal(fx->log[1].status, INSOLE_DROPPED);
	assert_int_equal(fx->log[1].seq, 5);
	assert_int_equal(fx->log[2].status, INSOLE_MALFORMED);
	/* The malformed PDU is not the notification it replaced. */
	assert_false((size_t)n == 3 + fx->log[2].len &&
		     !memcmp(pdu + 3, fx->log[2].value, fx->log[2].len) &&
		     le16(pdu + 1) == H_DATA);
	assert_quiet(fx);
	insole_srv_detach(fx->srv);
	/* Without a link the stream runs on, unsent: a gap in seq. */
	assert_int_equal(insole_srv_pump(fx->srv, first + 290000), 0);
	assert_int_equal(fx->n_log, 6);
	assert_int_equal(fx->log[3].status, INSOLE_UNSENT);
	assert_int_equal(fx->log[3].seq, 15);
	assert_int_equal(fx->log[5].seq, 25);
	/* A new link starts with every CCCD off and MTU 23. */
	insole_srv_attach(fx->srv, fx->sv[0]);
	assert_int_equal(insole_srv_mtu(fx->srv), 23);
	open_stream(fx, first + 290000);
	assert_int_equal(insole_srv_pump(fx->srv, first + 340000), 0);
	expect_batch(fx, 30, first + 300000, 5, 0);
	assert_quiet(fx);
}

static void test_srv_delivery_delay_one_sided(void **state)
{
	struct fx *fx = *state;
	uint64_t t, last_due = 0;
	size_t i;

	fx->cfg.conn_interval_us = 15000;
	fx->cfg.retx_pct = 30;
	start_srv(fx);
	open_stream(fx, T0);
	for (t = T0; t < T0 + 3000000; t += 7000) {
		uint8_t pdu[512];

		assert_int_equal(insole_srv_pump(fx->srv, t), 0);
		while (client_recv(fx, pdu, sizeof(pdu)) > 0)
			;
	}
	assert_true(fx->n_log > 50);
	for (i = 0; i < fx->n_log; i++) {
		uint64_t last = fx->log[i].clock_us + 40000;

		/* Never before the last sample; at most four intervals late. */
		assert_true(fx->log[i].due_us >= last);
		assert_true(fx->log[i].due_us <= last + 4 * 15000 + 60000);
		assert_true(fx->log[i].due_us >= last_due);
		last_due = fx->log[i].due_us;
		assert_int_equal(fx->log[i].seq, 5 * i);
	}
}

static void test_srv_fff0_profile(void **state)
{
	struct fx *fx = *state;
	const struct pdu s[] = {
		SEND(0x10, 0x18, 0x00, 0xff, 0xff, 0x00, 0x28),
		EXPECT(0x11, 0x06, 0x18, 0x00, 0x1d, 0x00, 0xf0, 0xff),
		SEND(0x08, 0x18, 0x00, 0x1d, 0x00, 0x03, 0x28),
		EXPECT(0x09, 0x07, 0x19, 0x00, 0x10, 0x1a, 0x00, 0xf1, 0xff,
		       0x1c, 0x00, 0x0c, 0x1d, 0x00, 0xf2, 0xff),
		SEND(0x02, 0xf7, 0x00),
		EXPECT(0x03, 0xf7, 0x00),
		SEND(0x12, 0x1b, 0x00, 0x01, 0x00),
		EXPECT(0x13),
		SEND(0x12, 0x1d, 0x00, 0x07),
		EXPECT(0x01, 0x12, 0x1d, 0x00, 0x13),
		/* Start by write command: no answer. */
		SEND(0x52, 0x1d, 0x00, FFF0_CMD_START),
		DONE,
	};
	struct insole_reading r;
	uint8_t pdu[128];
	unsigned int c;

	fx->cfg.profile = INSOLE_PROFILE_FFF0;
	start_srv(fx);
	run_script(fx, s, T0);
	assert_true(insole_srv_streaming(fx->srv));
	assert_int_equal(insole_srv_pump(fx->srv, T0 + 10000), 0);
	assert_int_equal(client_recv(fx, pdu, sizeof(pdu)), 3 + 2 + 32);
	assert_int_equal(pdu[0], 0x1b);
	assert_int_equal(le16(pdu + 1), 0x1a);
	assert_int_equal(pdu[3], FFF0_MAGIC);
	assert_int_equal(pdu[4], 16);
	insole_model_sample(fx->im, T0 + 10000, &r);
	for (c = 0; c < 16; c++)
		assert_int_equal(le16(pdu + 5 + 2 * c), r.cell[c]);
	client_send(fx, (const uint8_t[]){ 0x12, 0x1d, 0x00, FFF0_CMD_STOP }, 4,
		    T0 + 15000);
	assert_int_equal(client_recv(fx, pdu, sizeof(pdu)), 1);
	assert_false(insole_srv_streaming(fx->srv));
	assert_quiet(fx);
}

/*
 * --require-encryption: on a link without encryption (a socketpair has no
 * BT_SECURITY at all) the profile answers Insufficient Encryption, while
 * discovery and the standard services still work.
 */
static void test_srv_requires_encryption(void **state)
{
	struct fx *fx = *state;
	const struct pdu s[] = {
		/* Battery Level (not the profile): served. */
		SEND(0x0a, 0x11, 0x00),
		EXPECT(0x0b, 87),
		/* The profile's characteristic declarations: discoverable. */
		SEND(0x08, 0x18, 0x00, 0x21, 0x00, 0x03, 0x28),
		EXPECT(0x09, 0x15, 0x19, 0x00, 0x10, H_DATA, 0x00,
		       UUID_BYTES(INSOLE_CHR_DATA)),
		/* Its values and CCCDs: Insufficient Encryption (0x0f). */
		SEND(0x0a, H_INFO, 0x00),
		EXPECT(0x01, 0x0a, H_INFO, 0x00, 0x0f),
		SEND(0x0c, H_INFO, 0x00, 0x00, 0x00),
		EXPECT(0x01, 0x0c, H_INFO, 0x00, 0x0f),
		SEND(0x08, H_INFO, 0x00, H_INFO, 0x00,
		     UUID_BYTES(INSOLE_CHR_INFO)),
		EXPECT(0x01, 0x08, H_INFO, 0x00, 0x0f),
		SEND(0x12, H_DATA_CCCD, 0x00, 0x01, 0x00),
		EXPECT(0x01, 0x12, H_DATA_CCCD, 0x00, 0x0f),
		SEND(0x12, H_CP, 0x00, INSOLE_CP_START),
		EXPECT(0x01, 0x12, H_CP, 0x00, 0x0f),
		/* A write command is dropped without an answer. */
		SEND(0x52, H_CP, 0x00, INSOLE_CP_START),
		DONE,
	};

	fx->cfg.require_encryption = true;
	fx->cfg.autostart = true;
	start_srv(fx);
	run_script(fx, s, T0);
	assert_false(insole_srv_streaming(fx->srv));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_srv_mtu_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_discover_primary_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_discover_characteristics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_read_blob_description, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_error_responses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_control_point_indications, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_streams_model_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_stream_waits_for_cccd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_mtu_too_small_is_unsent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_delivery_delay_one_sided, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_fff0_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srv_requires_encryption, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
