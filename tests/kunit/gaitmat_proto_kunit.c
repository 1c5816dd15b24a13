// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the gaitmat wire codec (driver/gaitmat_proto.c).
 *
 * Table-driven: every table row is one KUnit parameter, named after what it
 * checks. The expected values come from outside the codec: published CRC-32C
 * and COBS vectors, the kernel's own CRC-32C, the byte offsets of
 * docs/protocols/gaitmat-uart.md written out again here, and images whose
 * runs the tests count themselves. Buffers are allocated at their exact
 * size so that KASAN catches a codec that writes one byte too far.
 */
#include <kunit/test.h>
#include <linux/crc32.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "gaitmat_proto.h"

/* DEVINFO body offsets, from the protocol document (not from the codec). */
#define DI_SERIAL	0
#define DI_FW_MAJOR	16
#define DI_FW_MINOR	17
#define DI_FW_PATCH	18
#define DI_BOOT_ID	20
#define DI_N_TILES	24
#define DI_ROWS		25
#define DI_COLS		26
#define DI_SENSEL_BITS	27
#define DI_PITCH	28
#define DI_FULL_SCALE	30
#define DI_RATE		32
#define DI_N_RATES	34
#define DI_VERSION	35
#define DI_RATES	36
#define DI_BAUD		52

/* Header offsets. */
#define HDR_TYPE	0
#define HDR_FLAGS	1
#define HDR_BODY_LEN	2
#define HDR_SEQ		4
#define HDR_CLOCK	8

/* The geometry most tests use: two tiles of 3 x 5, an odd sensel count. */
#define T_TILES		2
#define T_ROWS		3
#define T_COLS		5
#define T_SENSELS	(T_TILES * T_ROWS * T_COLS)

static void gm_test_devinfo(struct gm_devinfo *di, u8 n_tiles, u8 rows,
			    u8 cols)
{
	static const u16 rates[] = { 50, 100, 200 };
	unsigned int i;

	memset(di, 0, sizeof(*di));
	strscpy(di->serial, "KT-0001", sizeof(di->serial));
	di->fw_major = 1;
	di->fw_minor = 2;
	di->fw_patch = 0x0304;
	di->boot_id = 0x1234abcd;
	di->n_tiles = n_tiles;
	di->rows = rows;
	di->cols = cols;
	di->sensel_bits = GM_SENSEL_BITS;
	di->pitch_um = 8467;
	di->full_scale_kpa = 600;
	di->rate_hz = 100;
	di->n_rates = ARRAY_SIZE(rates);
	memcpy(di->rates, rates, sizeof(rates));
	di->baud = 3000000;
	for (i = 0; i < n_tiles; i++) {
		di->tiles[i].x_mm = (s16)(i * 500 - 1000);
		di->tiles[i].y_mm = (s16)(-(int)i * 7);
		di->tiles[i].orient = i & 3;
		di->tiles[i].flags = i & 1 ? GM_TILE_F_CALIB : 0;
	}
}

/* Reports the first differing byte, which a bare memcmp() would not. */
static void gm_expect_mem_eq(struct kunit *test, const void *got,
			     const void *want, size_t len, const char *what)
{
	const u8 *a = got, *b = want;
	size_t i;

	for (i = 0; i < len; i++) {
		if (a[i] != b[i]) {
			KUNIT_FAIL(test, "%s: byte %zu of %zu is 0x%02x, want 0x%02x",
				   what, i, len, a[i], b[i]);
			return;
		}
	}
}

static void gm_expect_u16_eq(struct kunit *test, const u16 *got,
			     const u16 *want, size_t n, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (got[i] != want[i]) {
			KUNIT_FAIL(test, "%s: value %zu of %zu is %u, want %u",
				   what, i, n, got[i], want[i]);
			return;
		}
	}
}

/* ---- CRC-32C ------------------------------------------------------------- */

struct gm_crc_case {
	const char *name;
	const u8 *data;
	size_t len;
	u32 crc;
};

static const u8 gm_zeros32[32];
static const u8 gm_ones32[32] = { [0 ... 31] = 0xff };

static const u8 gm_inc32[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static const u8 gm_dec32[32] = {
	0x1f, 0x1e, 0x1d, 0x1c, 0x1b, 0x1a, 0x19, 0x18,
	0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, 0x10,
	0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08,
	0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00,
};

/* RFC 3720 B.4: an iSCSI SCSI Read (10) command PDU. */
static const u8 gm_iscsi_read[48] = {
	0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
	0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const struct gm_crc_case gm_crc_cases[] = {
	{ "empty", (const u8 *)"", 0, 0x00000000 },
	{ "one byte 'a'", (const u8 *)"a", 1, 0xc1d04330 },
	{ "check value 123456789", (const u8 *)"123456789", 9, 0xe3069283 },
	{ "rfc3720 32 zeros", gm_zeros32, 32, 0x8a9136aa },
	{ "rfc3720 32 ones", gm_ones32, 32, 0x62a8ab43 },
	{ "rfc3720 32 incrementing", gm_inc32, 32, 0x46dd794e },
	{ "rfc3720 32 decrementing", gm_dec32, 32, 0x113fdb5c },
	{ "rfc3720 iscsi read pdu", gm_iscsi_read, 48, 0xd9963a56 },
};

static void gm_crc_desc(const struct gm_crc_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gm_crc, gm_crc_cases, gm_crc_desc);

static void gm_test_crc32c_vectors(struct kunit *test)
{
	const struct gm_crc_case *c = test->param_value;
	size_t k;

	KUNIT_EXPECT_EQ(test, gm_crc32c(0, c->data, c->len), c->crc);
	/* Chained over any split, the CRC is the same. */
	for (k = 0; k <= c->len; k++)
		KUNIT_EXPECT_EQ_MSG(test,
				    gm_crc32c(gm_crc32c(0, c->data, k),
					      c->data + k, c->len - k),
				    c->crc, "split at %zu", k);
}

/* The kernel's lib/crc32 is an independent implementation of the same CRC. */
static void gm_test_crc32c_matches_kernel(struct kunit *test)
{
	struct rnd_state rnd;
	size_t len, i;
	u8 *buf;

	buf = kunit_kmalloc(test, 1031, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, buf);
	prandom_seed_state(&rnd, 0x6a17);
	for (i = 0; i < 1031; i++)
		buf[i] = prandom_u32_state(&rnd);
	for (len = 0; len <= 1031; len++)
		KUNIT_EXPECT_EQ_MSG(test, gm_crc32c(0, buf, len),
				    ~__crc32c_le(~0U, buf, len), "len %zu", len);
}

/* ---- COBS encoding -------------------------------------------------------- */

struct gm_cobs_case {
	const char *name;
	u8 in[4];
	size_t in_len;
	u8 out[6];
	size_t out_len;
};

/* Cheshire & Baker's examples, plus the delimiter our framing appends. */
static const struct gm_cobs_case gm_cobs_cases[] = {
	{ "empty", {}, 0, { 0x01, 0x00 }, 2 },
	{ "one zero", { 0x00 }, 1, { 0x01, 0x01, 0x00 }, 3 },
	{ "two zeros", { 0x00, 0x00 }, 2, { 0x01, 0x01, 0x01, 0x00 }, 4 },
	{ "zero data zero", { 0x00, 0x11, 0x00 }, 3,
	  { 0x01, 0x02, 0x11, 0x01, 0x00 }, 5 },
	{ "zero in the middle", { 0x11, 0x22, 0x00, 0x33 }, 4,
	  { 0x03, 0x11, 0x22, 0x02, 0x33, 0x00 }, 6 },
	{ "no zero", { 0x11, 0x22, 0x33, 0x44 }, 4,
	  { 0x05, 0x11, 0x22, 0x33, 0x44, 0x00 }, 6 },
	{ "trailing zeros", { 0x11, 0x00, 0x00, 0x00 }, 4,
	  { 0x02, 0x11, 0x01, 0x01, 0x01, 0x00 }, 6 },
	{ "0xff data", { 0xff, 0x00, 0xfe }, 3,
	  { 0x02, 0xff, 0x02, 0xfe, 0x00 }, 5 },
};

static void gm_cobs_desc(const struct gm_cobs_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gm_cobs, gm_cobs_cases, gm_cobs_desc);

static void gm_test_cobs_vectors(struct kunit *test)
{
	const struct gm_cobs_case *c = test->param_value;
	size_t cap;
	u8 *dst;

	/* Exactly sized: KASAN reports a write past the end. */
	dst = kunit_kmalloc(test, c->out_len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dst);
	KUNIT_ASSERT_EQ(test, gm_cobs_encode(c->in, c->in_len, dst, c->out_len),
			(long)c->out_len);
	gm_expect_mem_eq(test, dst, c->out, c->out_len, "encoding");
	for (cap = 0; cap < c->out_len; cap++)
		KUNIT_EXPECT_EQ_MSG(test, gm_cobs_encode(c->in, c->in_len, dst, cap),
				    (long)-GM_ENOSPC, "cap %zu", cap);
}

/*
 * Long runs: a block holds at most 254 data bytes (code 0xff, no implied
 * zero). Checked structurally, since the paper's encoder and the common
 * "no trailing 0x01" variant differ in the last block and both are COBS.
 */
static void gm_test_cobs_long_blocks(struct kunit *test)
{
	static const size_t lens[] = { 253, 254, 255, 508, 509, 600 };
	size_t i, j, len, pos, n, blocks;
	long out;
	u8 *src, *dst;

	src = kunit_kmalloc(test, 600, GFP_KERNEL);
	dst = kunit_kmalloc(test, 600 + 600 / 254 + 2, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, src);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dst);
	for (i = 0; i < 600; i++)
		src[i] = i % 255 + 1;	/* never zero */

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		len = lens[i];
		out = gm_cobs_encode(src, len, dst, len + len / 254 + 2);
		KUNIT_ASSERT_GT_MSG(test, out, 0L, "len %zu", len);
		KUNIT_EXPECT_EQ(test, dst[out - 1], GM_DELIM);
		KUNIT_EXPECT_LE(test, (size_t)out, len + len / 254 + 2);
		/* Walk the blocks: full ones are 0xff, data comes back as is. */
		pos = 0;
		n = 0;
		blocks = 0;
		while (pos < (size_t)out - 1) {
			u8 code = dst[pos++];

			KUNIT_ASSERT_NE(test, code, 0);
			for (j = 1; j < code; j++, n++) {
				KUNIT_ASSERT_LT(test, pos, (size_t)out - 1);
				KUNIT_ASSERT_LT(test, n, len);
				KUNIT_EXPECT_EQ(test, dst[pos++], src[n]);
			}
			if (n < len)
				KUNIT_EXPECT_EQ_MSG(test, code, 0xff,
						    "len %zu: short block inside a zero-free run",
						    len);
			blocks++;
		}
		KUNIT_EXPECT_EQ_MSG(test, n, len, "len %zu", len);
		KUNIT_EXPECT_GE(test, blocks, DIV_ROUND_UP(len, 254));
	}
}

/* ---- Frames and the receiver ------------------------------------------- */

/*
 * The test's own COBS encoder, in the variant that drops the final 0x01
 * after a full block (what some other COBS libraries send). The receiver
 * must accept both.
 */
static size_t gm_ref_cobs(const u8 *src, size_t len, u8 *dst, bool short_tail)
{
	size_t out = 1, code_pos = 0, i;
	u8 code = 1;

	for (i = 0; i < len; i++) {
		if (src[i]) {
			dst[out++] = src[i];
			if (++code != 0xff)
				continue;
			if (short_tail && i + 1 == len) {
				dst[code_pos] = code;
				dst[out++] = 0;
				return out;
			}
		}
		dst[code_pos] = code;
		code_pos = out++;
		code = 1;
	}
	dst[code_pos] = code;
	dst[out++] = 0;
	return out;
}

/*
 * Build a raw frame of @type with @body and choose hdr.seq (starting at
 * @seq) so that no CRC byte is zero: the last COBS block then always covers
 * the CRC, which keeps the wire-level mutations below deterministic.
 */
static size_t gm_test_frame(struct kunit *test, u8 *raw, size_t cap, u8 type,
			    const u8 *body, u16 body_len, u32 seq)
{
	struct gm_hdr hdr = {
		.type = type,
		.flags = 0,
		.body_len = body_len,
		.clock_us = 0x0123456789abcdefULL,
	};
	long len;
	int tries;

	for (tries = 0; tries < 256; tries++) {
		hdr.seq = seq + tries;
		len = gm_build_frame(raw, cap, &hdr, body);
		KUNIT_ASSERT_GT(test, len, 0L);
		if (raw[len - 1] && raw[len - 2] && raw[len - 3] && raw[len - 4])
			return len;
	}
	KUNIT_FAIL(test, "no seq gives a CRC without a zero byte");
	return 0;
}

static u8 *gm_wire_of(struct kunit *test, const u8 *raw, size_t len,
		      size_t *wlen)
{
	size_t cap = len + len / 254 + 2;
	u8 *wire;
	long n;

	wire = kunit_kmalloc(test, cap, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, wire);
	n = gm_cobs_encode(raw, len, wire, cap);
	KUNIT_ASSERT_GT(test, n, 0L);
	*wlen = n;
	return wire;
}

/* What a receiver run must produce, in order. */
struct gm_expect {
	int result;		/* raw length or -GM_E* */
	const u8 *raw;		/* for a frame: its bytes */
};

struct gm_rx_run {
	const struct gm_expect *exp;
	unsigned int n_exp;
	unsigned int n_res;	/* results seen */
	unsigned int n_starts;	/* frame_start reports */
};

/*
 * Feed @len bytes in chunks of @chunk (0: pseudo-random chunk sizes),
 * re-calling gm_rx_feed() on what each call left, as receive_buf would, and
 * check every reported result against the expectations in order.
 */
static void gm_rx_run_feed(struct kunit *test, struct gm_rx *rx,
			   const u8 *data, size_t len, size_t chunk,
			   struct gm_rx_run *run)
{
	struct rnd_state rnd;
	size_t off = 0, n, pos, used;
	bool start;
	int res;

	prandom_seed_state(&rnd, len);
	while (off < len) {
		n = chunk ? chunk : prandom_u32_state(&rnd) % 97 + 1;
		n = min(n, len - off);
		for (pos = 0; pos < n; pos += used) {
			used = gm_rx_feed(rx, data + off + pos, n - pos, &res,
					  &start);
			KUNIT_ASSERT_GT(test, used, (size_t)0);
			KUNIT_ASSERT_LE(test, used, n - pos);
			if (start)
				run->n_starts++;
			if (!res)
				continue;
			/* A result comes with the delimiter that ended it. */
			if (res != -GM_ETOOLONG)
				KUNIT_EXPECT_EQ(test, data[off + pos + used - 1],
						GM_DELIM);
			KUNIT_ASSERT_LT_MSG(test, run->n_res, run->n_exp,
					    "unexpected result %d (%s)", res,
					    gm_strerror(res));
			KUNIT_EXPECT_EQ_MSG(test, res, run->exp[run->n_res].result,
					    "result %u: got %s, want %s", run->n_res,
					    gm_strerror(res),
					    gm_strerror(run->exp[run->n_res].result));
			if (res > 0 && res == run->exp[run->n_res].result)
				gm_expect_mem_eq(test, rx->buf,
						 run->exp[run->n_res].raw, res,
						 "received frame");
			run->n_res++;
		}
		off += n;
	}
}

static struct gm_rx *gm_test_rx(struct kunit *test, u32 cap)
{
	struct gm_rx *rx;
	u8 *buf;

	rx = kunit_kzalloc(test, sizeof(*rx), GFP_KERNEL);
	buf = kunit_kmalloc(test, cap, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, rx);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, buf);
	gm_rx_init(rx, buf, cap);
	return rx;
}

static const u8 gm_delim[1] = { GM_DELIM };

/* A status body with no zero after its reserved byte. */
static void gm_test_status_body(u8 *body)
{
	struct gm_status st = {
		.state = GM_STATE_STREAMING,
		.rate_hz = 100,
		.error_flags = 0x01020304,
		.scans_dropped = 0x05060708,
		.cmd_errors = 0x090a0b0c,
		.boot_id = 0x0d0e0f10,
	};

	WARN_ON(gm_encode_status(&st, body, GM_STATUS_LEN) != GM_STATUS_LEN);
}

/* After init the receiver waits for a delimiter: the link may start mid-frame. */
static void gm_test_rx_needs_first_delimiter(struct kunit *test)
{
	u8 body[GM_STATUS_LEN], raw[64];
	struct gm_expect exp[1];
	struct gm_rx_run run = { .exp = exp, .n_exp = 1 };
	struct gm_rx *rx = gm_test_rx(test, GM_MAX_RAW);
	size_t len, wlen;
	u8 *wire;

	gm_test_status_body(body);
	len = gm_test_frame(test, raw, sizeof(raw), GM_T_STATUS, body,
			    GM_STATUS_LEN, 1);
	wire = gm_wire_of(test, raw, len, &wlen);
	exp[0].result = len;
	exp[0].raw = raw;

	gm_rx_run_feed(test, rx, wire, wlen, wlen, &run);
	KUNIT_EXPECT_EQ(test, run.n_res, 0U);
	KUNIT_EXPECT_EQ(test, run.n_starts, 0U);
	KUNIT_EXPECT_TRUE(test, rx->synced);
	gm_rx_run_feed(test, rx, wire, wlen, wlen, &run);
	KUNIT_EXPECT_EQ(test, run.n_res, 1U);
	KUNIT_EXPECT_EQ(test, run.n_starts, 1U);
}

/* ---- Split delivery ------------------------------------------------------- */

struct gm_split_case {
	const char *name;
	size_t chunk;	/* 0: pseudo-random sizes */
};

static const struct gm_split_case gm_split_cases[] = {
	{ "whole stream at once", 1 << 20 },
	{ "byte at a time", 1 },
	{ "2-byte chunks", 2 },
	{ "3-byte chunks", 3 },
	{ "7-byte chunks", 7 },
	{ "64-byte chunks", 64 },
	{ "254-byte chunks", 254 },
	{ "255-byte chunks", 255 },
	{ "random chunks", 0 },
};

static void gm_split_desc(const struct gm_split_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gm_split, gm_split_cases, gm_split_desc);

/*
 * A stream of frames of many shapes (short, with zero runs, with 254-byte
 * zero-free blocks, the short-tail COBS variant, idle delimiters between
 * them) arrives in chunks of every size: the same frames come out, each
 * start reported once.
 */
static void gm_test_rx_split_delivery(struct kunit *test)
{
	const struct gm_split_case *c = test->param_value;
	static const u16 body_lens[] = { 0, 1, 233, 234, 235, 400, 1000 };
	enum { N_FRAMES = ARRAY_SIZE(body_lens) + 1 };
	struct gm_expect *exp;
	struct gm_rx_run run;
	struct gm_rx *rx = gm_test_rx(test, GM_MAX_RAW);
	size_t i, j, len, pos = 0, cap = 16384;
	u8 *stream, *raw, *body;

	stream = kunit_kmalloc(test, cap, GFP_KERNEL);
	raw = kunit_kmalloc(test, N_FRAMES * 1100, GFP_KERNEL);
	body = kunit_kmalloc(test, 1000, GFP_KERNEL);
	exp = kunit_kcalloc(test, N_FRAMES, sizeof(*exp), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, stream);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, raw);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, body);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, exp);

	stream[pos++] = GM_DELIM;
	for (i = 0; i < ARRAY_SIZE(body_lens); i++) {
		u8 *r = raw + i * 1100;

		/* Zero-free stretches longer than a block, and zero runs. */
		for (j = 0; j < body_lens[i]; j++)
			body[j] = (j / 300) & 1 ? (j % 7 ? 0 : 0x5a) : j % 255 + 1;
		/* Frame types do not matter to the receiver. */
		len = gm_test_frame(test, r, 1100, GM_T_DENSE, body,
				    body_lens[i], i * 1000);
		exp[i].result = len;
		exp[i].raw = r;
		pos += gm_ref_cobs(r, len, stream + pos, false);
		/* Idle fill: empty frames are ignored. */
		if (i & 1) {
			stream[pos++] = GM_DELIM;
			stream[pos++] = GM_DELIM;
		}
	}
	/*
	 * Last, a frame whose final block is exactly 254 zero-free bytes,
	 * sent without the trailing 0x01 block: 250 non-zero body bytes after
	 * a zero, then a zero-free CRC.
	 */
	{
		u8 *r = raw + (N_FRAMES - 1) * 1100;

		memset(body, 0, 300);
		for (j = 50; j < 300; j++)
			body[j] = j % 250 + 3;
		len = gm_test_frame(test, r, 1100, GM_T_DENSE, body, 300, 77);
		KUNIT_ASSERT_EQ(test, r[len - 255], 0);
		exp[N_FRAMES - 1].result = len;
		exp[N_FRAMES - 1].raw = r;
		j = gm_ref_cobs(r, len, stream + pos, true);
		KUNIT_ASSERT_EQ(test, stream[pos + j - 256], 0xff);
		pos += j;
	}
	KUNIT_ASSERT_LE(test, pos, cap);

	run = (struct gm_rx_run){ .exp = exp, .n_exp = N_FRAMES };
	gm_rx_run_feed(test, rx, stream, pos, c->chunk, &run);
	KUNIT_EXPECT_EQ(test, run.n_res, (unsigned int)N_FRAMES);
	KUNIT_EXPECT_EQ(test, run.n_starts, (unsigned int)N_FRAMES);
}

/* ---- Resync after garbage ------------------------------------------------- */

/* gm_expect.result for "some rejection, its class depends on the bytes". */
#define GM_ANY_ERROR	INT_MIN

enum gm_garbage_kind {
	GARBAGE_BYTES,		/* the bytes of .bytes */
	GARBAGE_NOISE,		/* pseudo-random, no zero, .len bytes */
	GARBAGE_FRAME_TAIL,	/* the second half of a frame's wire bytes */
	GARBAGE_FRAME_HEAD,	/* a frame cut off half way, then a delimiter */
	GARBAGE_LOST_DELIM,	/* two frames with the delimiter between lost */
	GARBAGE_FLIPPED,	/* a frame with one bit flipped */
};

struct gm_garbage_case {
	const char *name;
	enum gm_garbage_kind kind;
	u8 bytes[6];		/* GARBAGE_BYTES */
	size_t len;		/* GARBAGE_BYTES, GARBAGE_NOISE */
	bool before_sync;	/* sent right after init */
	int result;		/* what the garbage produces once synced */
};

static const struct gm_garbage_case gm_garbage_cases[] = {
	{ "noise before sync", GARBAGE_NOISE, {}, 300, true, 0 },
	{ "frame tail before sync", GARBAGE_FRAME_TAIL, {}, 0, true, 0 },
	{ "delimiters only", GARBAGE_BYTES, { 0x00, 0x00, 0x00 }, 3, false,
	  0 },
	{ "three bytes decode to two", GARBAGE_BYTES,
	  { 0x01, 0x01, 0x01, 0x00 }, 4, false, -GM_ESHORT },
	{ "block cut by a delimiter", GARBAGE_BYTES,
	  { 0x05, 0x11, 0x22, 0x00 }, 4, false, -GM_ECOBS },
	{ "full block cut by a delimiter", GARBAGE_BYTES,
	  { 0xff, 0x41, 0x42, 0x43, 0x00 }, 5, false, -GM_ECOBS },
	{ "frame cut half way", GARBAGE_FRAME_HEAD, {}, 0, false,
	  GM_ANY_ERROR },
	{ "delimiter lost between two frames", GARBAGE_LOST_DELIM, {}, 0,
	  false, GM_ANY_ERROR },
	{ "one bit flipped", GARBAGE_FLIPPED, {}, 0, false, -GM_ECRC },
	{ "noise longer than the buffer", GARBAGE_NOISE, {}, GM_MAX_RAW + 100,
	  false, -GM_ETOOLONG },
};

static void gm_garbage_desc(const struct gm_garbage_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gm_garbage, gm_garbage_cases, gm_garbage_desc);

/*
 * A good frame, the garbage, a delimiter, a good frame: the garbage yields
 * at most one error and the receiver is back in step for the next frame.
 * Before sync the garbage is dropped silently.
 */
static void gm_test_rx_resync(struct kunit *test)
{
	const struct gm_garbage_case *c = test->param_value;
	struct gm_expect exp[3];
	struct gm_rx_run run = { .exp = exp };
	struct gm_rx *rx = gm_test_rx(test, GM_MAX_RAW);
	u8 body[GM_STATUS_LEN], raw[64], raw2[64], *garbage, *wire, *wire2;
	size_t len, len2, wlen, wlen2, glen = 0, i;
	struct rnd_state rnd;
	unsigned int n = 0;

	gm_test_status_body(body);
	len = gm_test_frame(test, raw, sizeof(raw), GM_T_STATUS, body,
			    GM_STATUS_LEN, 10);
	len2 = gm_test_frame(test, raw2, sizeof(raw2), GM_T_STATUS, body,
			     GM_STATUS_LEN, 500);
	wire = gm_wire_of(test, raw, len, &wlen);
	wire2 = gm_wire_of(test, raw2, len2, &wlen2);

	garbage = kunit_kmalloc(test, GM_MAX_RAW + 200, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, garbage);
	switch (c->kind) {
	case GARBAGE_BYTES:
		memcpy(garbage, c->bytes, c->len);
		glen = c->len;
		break;
	case GARBAGE_NOISE:
		prandom_seed_state(&rnd, c->len);
		for (i = 0; i < c->len; i++)
			garbage[i] = prandom_u32_state(&rnd) % 255 + 1;
		glen = c->len;
		break;
	case GARBAGE_FRAME_TAIL:
		glen = wlen - wlen / 2;
		memcpy(garbage, wire + wlen / 2, glen);
		break;
	case GARBAGE_FRAME_HEAD:
		glen = wlen / 2;
		memcpy(garbage, wire, glen);
		garbage[glen++] = GM_DELIM;
		break;
	case GARBAGE_LOST_DELIM:
		memcpy(garbage, wire2, wlen2 - 1);
		memcpy(garbage + wlen2 - 1, wire2, wlen2);
		glen = 2 * wlen2 - 1;
		break;
	case GARBAGE_FLIPPED:
		raw2[GM_HDR_LEN + 5] ^= 0x10;
		glen = gm_cobs_encode(raw2, len2, garbage, GM_MAX_RAW);
		break;
	}
	/* Noise has no delimiter of its own. */
	if (glen && garbage[glen - 1] != GM_DELIM)
		garbage[glen++] = GM_DELIM;

	if (!c->before_sync) {
		gm_rx_run_feed(test, rx, gm_delim, 1, 1, &run);
		exp[n++] = (struct gm_expect){ len, raw };
		run.n_exp = n;
		gm_rx_run_feed(test, rx, wire, wlen, wlen, &run);
	}
	if (c->result)
		exp[n++] = (struct gm_expect){ c->result, NULL };
	run.n_exp = n;
	/* Let any error through as the expected one, then check its class. */
	if (c->result == GM_ANY_ERROR) {
		struct gm_rx_run probe = run;
		int res;
		bool start;
		size_t off = 0;

		do {
			off += gm_rx_feed(rx, garbage + off, glen - off, &res,
					  &start);
		} while (!res && off < glen);
		KUNIT_EXPECT_LT(test, res, 0);
		KUNIT_EXPECT_GT(test, res, -GM_EMAX);
		KUNIT_EXPECT_NE(test, res, -GM_ETOOLONG);
		/* The rest of the garbage must be silent. */
		probe.n_exp = probe.n_res;
		gm_rx_run_feed(test, rx, garbage + off, glen - off, glen, &probe);
		run.n_res++;
	} else {
		gm_rx_run_feed(test, rx, garbage, glen, glen, &run);
	}
	KUNIT_EXPECT_EQ(test, run.n_res, n);

	exp[n++] = (struct gm_expect){ len, raw };
	run.n_exp = n;
	gm_rx_run_feed(test, rx, wire, wlen, 1, &run);
	KUNIT_EXPECT_EQ_MSG(test, run.n_res, n, "not back in step");
}

/* A frame of exactly the buffer's size fits; one byte more is refused once. */
static void gm_test_rx_capacity_edge(struct kunit *test)
{
	struct gm_expect exp[3];
	struct gm_rx_run run = { .exp = exp, .n_exp = 3 };
	u8 body[64] = { 0 }, raw[128], raw_big[128];
	size_t len, len_big, wlen, wlen_big;
	struct gm_rx *rx;
	u8 *wire, *wire_big;

	len = gm_test_frame(test, raw, sizeof(raw), GM_T_DENSE, body, 40, 3);
	len_big = gm_test_frame(test, raw_big, sizeof(raw_big), GM_T_DENSE,
				body, 41, 3);
	wire = gm_wire_of(test, raw, len, &wlen);
	wire_big = gm_wire_of(test, raw_big, len_big, &wlen_big);
	rx = gm_test_rx(test, len);	/* exactly one 60-byte frame */

	exp[0] = (struct gm_expect){ len, raw };
	exp[1] = (struct gm_expect){ -GM_ETOOLONG, NULL };
	exp[2] = (struct gm_expect){ len, raw };
	gm_rx_run_feed(test, rx, gm_delim, 1, 1, &run);
	gm_rx_run_feed(test, rx, wire, wlen, 1, &run);
	gm_rx_run_feed(test, rx, wire_big, wlen_big, 1, &run);
	gm_rx_run_feed(test, rx, wire, wlen, 1, &run);
	KUNIT_EXPECT_EQ(test, run.n_res, 3U);
}

/* ---- Every malformed-frame class, end to end ----------------------------- */

/*
 * Each row builds a valid frame of .type, applies one mutation at one layer
 * (body, raw frame, wire) and runs it through what a host does: receiver,
 * header, body parser. The first error must be .err.
 */
enum gm_mut {
	MUT_NONE,
	MUT_BODY_POKE,		/* body[.off] = .val */
	MUT_BODY_LEN,		/* body grows or shrinks by .val (two's compl.) */
	MUT_RAW_FLIP,		/* raw[.off] ^= .val, CRC left stale */
	MUT_RAW_TRUNC,		/* raw cut to .off bytes, CRC left stale */
	MUT_RAW_BODY_LEN,	/* hdr.body_len += (s8).val, CRC redone */
	MUT_RAW_TYPE,		/* hdr.type = .val, CRC redone */
	MUT_WIRE_CUT,		/* last data byte before the delimiter lost */
	MUT_RX_CAP,		/* receiver buffer of .off bytes */
	MUT_OUT_CAP,		/* host's sensel buffer one value short */
};

struct gm_bad_case {
	const char *name;
	u8 type;
	enum gm_mut mut;
	int off;
	u8 val;
	int err;
};

static const struct gm_bad_case gm_bad_cases[] = {
	/* Valid frames of every type pass. */
	{ "valid devinfo", GM_T_DEVINFO, MUT_NONE, 0, 0, 0 },
	{ "valid calib", GM_T_CALIB, MUT_NONE, 0, 0, 0 },
	{ "valid dense", GM_T_DENSE, MUT_NONE, 0, 0, 0 },
	{ "valid sparse", GM_T_SPARSE, MUT_NONE, 0, 0, 0 },
	{ "valid status", GM_T_STATUS, MUT_NONE, 0, 0, 0 },
	{ "valid ack", GM_T_ACK, MUT_NONE, 0, 0, 0 },
	{ "valid set_rate", GM_T_CMD_SET_RATE, MUT_NONE, 0, 0, 0 },
	{ "valid start", GM_T_CMD_START, MUT_NONE, 0, 0, 0 },
	/* GM_ECOBS */
	{ "ECOBS last block cut short", GM_T_STATUS, MUT_WIRE_CUT, 0, 0,
	  -GM_ECOBS },
	/* GM_ETOOLONG */
	{ "ETOOLONG frame over the receive buffer", GM_T_DENSE, MUT_RX_CAP,
	  GM_HDR_LEN + 50 + GM_CRC_LEN - 1, 0, -GM_ETOOLONG },
	{ "valid frame filling the receive buffer", GM_T_DENSE, MUT_RX_CAP,
	  GM_HDR_LEN + 50 + GM_CRC_LEN, 0, 0 },
	/* GM_ESHORT */
	{ "ESHORT header and crc minus one", GM_T_STATUS, MUT_RAW_TRUNC,
	  GM_HDR_LEN + GM_CRC_LEN - 1, 0, -GM_ESHORT },
	{ "ESHORT one byte", GM_T_STATUS, MUT_RAW_TRUNC, 1, 0, -GM_ESHORT },
	/* GM_ECRC */
	{ "ECRC bit flip in type", GM_T_STATUS, MUT_RAW_FLIP, HDR_TYPE, 0x01,
	  -GM_ECRC },
	{ "ECRC bit flip in body_len", GM_T_STATUS, MUT_RAW_FLIP,
	  HDR_BODY_LEN, 0x01, -GM_ECRC },
	{ "ECRC bit flip in clock", GM_T_STATUS, MUT_RAW_FLIP, HDR_CLOCK + 7,
	  0x80, -GM_ECRC },
	{ "ECRC bit flip in body", GM_T_DENSE, MUT_RAW_FLIP, GM_HDR_LEN + 9,
	  0x04, -GM_ECRC },
	{ "ECRC bit flip in crc", GM_T_STATUS, MUT_RAW_FLIP,
	  GM_HDR_LEN + GM_STATUS_LEN + 3, 0x80, -GM_ECRC },
	/* GM_ELEN */
	{ "ELEN body_len one more", GM_T_DENSE, MUT_RAW_BODY_LEN, 0, 1,
	  -GM_ELEN },
	{ "ELEN body_len one less", GM_T_DENSE, MUT_RAW_BODY_LEN, 0, 0xff,
	  -GM_ELEN },
	/* GM_ETYPE */
	{ "ETYPE type 0x00", GM_T_STATUS, MUT_RAW_TYPE, 0, 0x00, -GM_ETYPE },
	{ "ETYPE type 0x07", GM_T_STATUS, MUT_RAW_TYPE, 0, 0x07, -GM_ETYPE },
	{ "ETYPE type 0x80", GM_T_STATUS, MUT_RAW_TYPE, 0, 0x80, -GM_ETYPE },
	{ "ETYPE type 0x86", GM_T_STATUS, MUT_RAW_TYPE, 0, 0x86, -GM_ETYPE },
	{ "ETYPE type 0xff", GM_T_STATUS, MUT_RAW_TYPE, 0, 0xff, -GM_ETYPE },
	/* GM_EBODY */
	{ "EBODY status one byte short", GM_T_STATUS, MUT_BODY_LEN, 0, 0xff,
	  -GM_EBODY },
	{ "EBODY ack one byte long", GM_T_ACK, MUT_BODY_LEN, 0, 1, -GM_EBODY },
	{ "EBODY start with a body", GM_T_CMD_START, MUT_BODY_LEN, 0, 1,
	  -GM_EBODY },
	{ "EBODY status state 3", GM_T_STATUS, MUT_BODY_POKE, 0, 3, -GM_EBODY },
	{ "EBODY ack result 4", GM_T_ACK, MUT_BODY_POKE, 1, 4, -GM_EBODY },
	{ "EBODY devinfo newer version", GM_T_DEVINFO, MUT_BODY_POKE,
	  DI_VERSION, 1, -GM_EBODY },
	{ "EBODY devinfo missing a tile record", GM_T_DEVINFO, MUT_BODY_LEN, 0,
	  0xf8, -GM_EBODY },
	{ "EBODY dense one byte short", GM_T_DENSE, MUT_BODY_LEN, 0, 0xff,
	  -GM_EBODY },
	{ "EBODY dense pad nibble set", GM_T_DENSE, MUT_BODY_POKE,
	  GM_DENSE_HDR_LEN + GM_PACKED_LEN(T_ROWS * T_COLS) - 1, 0x10,
	  -GM_EBODY },
	{ "EBODY sparse trailing byte", GM_T_SPARSE, MUT_BODY_LEN, 0, 1,
	  -GM_EBODY },
	{ "EBODY calib tile out of range", GM_T_CALIB, MUT_BODY_POKE, 0,
	  T_TILES, -GM_EBODY },
	{ "EBODY calib unknown format", GM_T_CALIB, MUT_BODY_POKE, 1, 1,
	  -GM_EBODY },
	/* GM_EGEOM */
	{ "EGEOM devinfo 9 tiles", GM_T_DEVINFO, MUT_BODY_POKE, DI_N_TILES, 9,
	  -GM_EGEOM },
	{ "EGEOM devinfo 0 rows", GM_T_DEVINFO, MUT_BODY_POKE, DI_ROWS, 0,
	  -GM_EGEOM },
	{ "EGEOM devinfo 65 cols", GM_T_DEVINFO, MUT_BODY_POKE, DI_COLS, 65,
	  -GM_EGEOM },
	{ "EGEOM dense tile count disagrees", GM_T_DENSE, MUT_BODY_POKE, 0,
	  T_TILES + 1, -GM_EGEOM },
	/* GM_ERUN */
	{ "ERUN sparse run past the row", GM_T_SPARSE, MUT_BODY_POKE,
	  GM_SPARSE_HDR_LEN + 2, T_COLS - 1, -GM_ERUN },
	{ "ERUN sparse run on a tile that is not there", GM_T_SPARSE,
	  MUT_BODY_POKE, GM_SPARSE_HDR_LEN, T_TILES, -GM_ERUN },
	/* GM_ENOSPC */
	{ "ENOSPC host buffer one sensel short", GM_T_DENSE, MUT_OUT_CAP, 0, 0,
	  -GM_ENOSPC },
};

static void gm_bad_desc(const struct gm_bad_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gm_bad, gm_bad_cases, gm_bad_desc);

/* A small image with runs: values never zero inside a run. */
static void gm_test_image(u16 *img)
{
	memset(img, 0, T_SENSELS * sizeof(*img));
	img[1] = 0x001;
	img[2] = 0xfff;
	img[2 * T_COLS + 0] = 0x123;	/* tile 0, row 2: full row */
	img[2 * T_COLS + 1] = 0x456;
	img[2 * T_COLS + 2] = 0x789;
	img[2 * T_COLS + 3] = 0xabc;
	img[2 * T_COLS + 4] = 0xdef;
	img[(T_ROWS + 1) * T_COLS + 3] = 0x800;	/* tile 1, row 1 */
}

/* A valid body of @type for the T_ geometry; returns its length. */
static size_t gm_valid_body(struct kunit *test, const struct gm_devinfo *di,
			    u8 type, u8 *body, size_t cap)
{
	struct gm_ack ack = { .cmd = GM_T_CMD_SET_RATE, .result = GM_ACK_OK,
			      .cmd_seq = 0x01020304 };
	u16 img[T_SENSELS], gains[T_ROWS * T_COLS];
	long len = 0;
	int i;

	switch (type) {
	case GM_T_DEVINFO:
		len = gm_encode_devinfo(di, body, cap);
		break;
	case GM_T_CALIB:
		for (i = 0; i < T_ROWS * T_COLS; i++)
			gains[i] = 4096 + i;
		len = gm_encode_calib(di, 1, gains, body, cap);
		break;
	case GM_T_DENSE:
	case GM_T_SPARSE:
		gm_test_image(img);
		for (i = 0; i < T_SENSELS; i++)
			img[i] |= type == GM_T_DENSE ? 0x100 : 0;
		len = type == GM_T_DENSE ? gm_encode_dense(di, img, body, cap) :
					   gm_encode_sparse(di, img, body, cap);
		break;
	case GM_T_STATUS:
		gm_test_status_body(body);
		len = GM_STATUS_LEN;
		break;
	case GM_T_ACK:
		len = gm_encode_ack(&ack, body, cap);
		break;
	case GM_T_CMD_SET_RATE:
		len = gm_encode_set_rate(200, body, cap);
		break;
	default:
		len = 0;
		break;
	}
	KUNIT_ASSERT_GE(test, len, 0L);
	return len;
}

/* Everything a host does with a wire frame; the first error, or 0. */
static int gm_host_decode(struct kunit *test, const struct gm_devinfo *di,
			  const u8 *wire, size_t wlen, u32 rx_cap,
			  size_t out_cap)
{
	union {
		struct gm_devinfo di;
		struct gm_calib cal;
		struct gm_status st;
		struct gm_ack ack;
		u16 rate;
	} *u;
	struct gm_rx *rx = gm_test_rx(test, rx_cap);
	struct gm_hdr hdr;
	size_t off = 0;
	const u8 *body;
	int res = 0, ret, n;
	bool start;
	u16 *out;

	u = kunit_kzalloc(test, sizeof(*u), GFP_KERNEL);
	out = kunit_kmalloc_array(test, out_cap, sizeof(*out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, u);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, out);

	gm_rx_feed(rx, gm_delim, 1, &res, &start);
	KUNIT_ASSERT_EQ(test, res, 0);
	n = 0;
	while (off < wlen) {
		off += gm_rx_feed(rx, wire + off, wlen - off, &ret, &start);
		if (ret) {
			res = ret;
			n++;
		}
	}
	KUNIT_ASSERT_EQ_MSG(test, n, 1, "one frame in, %d results out", n);
	if (res < 0)
		return res;

	ret = gm_parse_hdr(rx->buf, res, &hdr);
	if (ret)
		return ret;
	body = gm_body(rx->buf);
	switch (hdr.type) {
	case GM_T_DEVINFO:
		return gm_parse_devinfo(body, hdr.body_len, &u->di);
	case GM_T_CALIB:
		ret = gm_parse_calib(di, body, hdr.body_len, &u->cal);
		if (!ret) {
			KUNIT_EXPECT_EQ(test, u->cal.n_gains, T_ROWS * T_COLS);
			KUNIT_EXPECT_PTR_EQ(test, u->cal.gains,
					    body + GM_CALIB_HDR_LEN);
		}
		return ret;
	case GM_T_DENSE:
		ret = gm_decode_dense(di, body, hdr.body_len, out, out_cap);
		return ret < 0 ? ret : 0;
	case GM_T_SPARSE:
		ret = gm_decode_sparse(di, body, hdr.body_len, out, out_cap);
		return ret < 0 ? ret : 0;
	case GM_T_STATUS:
		return gm_parse_status(body, hdr.body_len, &u->st);
	case GM_T_ACK:
		return gm_parse_ack(body, hdr.body_len, &u->ack);
	case GM_T_CMD_SET_RATE:
		return gm_parse_set_rate(body, hdr.body_len, &u->rate);
	default:
		return 0;
	}
}

static void gm_test_malformed_frames(struct kunit *test)
{
	const struct gm_bad_case *c = test->param_value;
	size_t blen, len, wlen, cap = 512, out_cap = T_SENSELS;
	u32 rx_cap = GM_MAX_RAW;
	struct gm_devinfo di;
	struct gm_hdr hdr;
	u8 *body, *raw, *wire;

	body = kunit_kzalloc(test, cap, GFP_KERNEL);
	raw = kunit_kzalloc(test, cap, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, body);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, raw);
	gm_test_devinfo(&di, T_TILES, T_ROWS, T_COLS);
	blen = gm_valid_body(test, &di, c->type, body, cap);

	switch (c->mut) {
	case MUT_BODY_POKE:
		KUNIT_ASSERT_LT(test, (size_t)c->off, blen);
		body[c->off] = c->val;
		break;
	case MUT_BODY_LEN:
		blen += (s8)c->val;
		break;
	case MUT_RX_CAP:
		rx_cap = c->off;
		break;
	case MUT_OUT_CAP:
		out_cap--;
		break;
	default:
		break;
	}
	len = gm_test_frame(test, raw, cap, c->type, body, blen, 42);
	KUNIT_ASSERT_GT(test, len, (size_t)0);

	switch (c->mut) {
	case MUT_RAW_FLIP:
		KUNIT_ASSERT_LT(test, (size_t)c->off, len);
		raw[c->off] ^= c->val;
		break;
	case MUT_RAW_TRUNC:
		len = c->off;
		break;
	case MUT_RAW_BODY_LEN:
		KUNIT_ASSERT_EQ(test, gm_parse_hdr(raw, len, &hdr), 0);
		gm_put_le16(raw + HDR_BODY_LEN, hdr.body_len + (s8)c->val);
		gm_put_le32(raw + len - GM_CRC_LEN,
			    gm_crc32c(0, raw, len - GM_CRC_LEN));
		break;
	case MUT_RAW_TYPE:
		raw[HDR_TYPE] = c->val;
		gm_put_le32(raw + len - GM_CRC_LEN,
			    gm_crc32c(0, raw, len - GM_CRC_LEN));
		break;
	default:
		break;
	}
	wire = gm_wire_of(test, raw, len, &wlen);
	if (c->mut == MUT_WIRE_CUT) {
		/* The CRC is zero-free, so its block is longer than one byte. */
		KUNIT_ASSERT_GE(test, wlen, (size_t)6);
		wire[wlen - 2] = GM_DELIM;
		wlen--;
	}

	KUNIT_EXPECT_EQ_MSG(test,
			    gm_host_decode(test, &di, wire, wlen, rx_cap,
					   out_cap),
			    c->err, "want %s", gm_strerror(c->err));
}

/* ---- DEVINFO limits --------------------------------------------------------- */

enum gm_di_field {
	F_NONE, F_N_TILES, F_ROWS, F_COLS, F_SENSEL_BITS, F_PITCH,
	F_FULL_SCALE, F_BAUD, F_N_RATES, F_RATE, F_RATES_SWAP, F_RATES_DUP,
	F_RATE_SLOT, F_ORIENT, F_SERIAL, F_SERIAL_FULL,
};

struct gm_di_case {
	const char *name;
	enum gm_di_field field;
	unsigned int val;
	const char *serial;	/* F_SERIAL: 16 raw bytes */
	int err;
	bool parse_only;	/* the encoder cannot express it */
};

static const struct gm_di_case gm_di_cases[] = {
	{ "base", F_NONE, 0, NULL, 0 },
	{ "1 tile", F_N_TILES, 1, NULL, 0 },
	{ "8 tiles", F_N_TILES, GM_MAX_TILES, NULL, 0 },
	{ "0 tiles", F_N_TILES, 0, NULL, -GM_EGEOM },
	{ "9 tiles", F_N_TILES, GM_MAX_TILES + 1, NULL, -GM_EGEOM },
	{ "1 row", F_ROWS, 1, NULL, 0 },
	{ "64 rows", F_ROWS, GM_MAX_ROWS, NULL, 0 },
	{ "0 rows", F_ROWS, 0, NULL, -GM_EGEOM },
	{ "65 rows", F_ROWS, GM_MAX_ROWS + 1, NULL, -GM_EGEOM },
	{ "1 col", F_COLS, 1, NULL, 0 },
	{ "64 cols", F_COLS, GM_MAX_COLS, NULL, 0 },
	{ "0 cols", F_COLS, 0, NULL, -GM_EGEOM },
	{ "255 cols", F_COLS, 255, NULL, -GM_EGEOM },
	{ "11-bit sensels", F_SENSEL_BITS, 11, NULL, -GM_EBODY },
	{ "16-bit sensels", F_SENSEL_BITS, 16, NULL, -GM_EBODY },
	{ "pitch 0", F_PITCH, 0, NULL, -GM_EBODY },
	{ "pitch 65535", F_PITCH, 65535, NULL, 0 },
	{ "full scale 0", F_FULL_SCALE, 0, NULL, -GM_EBODY },
	{ "baud 0", F_BAUD, 0, NULL, -GM_EBODY },
	{ "1 rate", F_N_RATES, 1, NULL, 0 },
	{ "8 rates", F_N_RATES, GM_MAX_RATES, NULL, 0 },
	{ "0 rates", F_N_RATES, 0, NULL, -GM_EBODY },
	{ "9 rates", F_N_RATES, GM_MAX_RATES + 1, NULL, -GM_EBODY },
	{ "rate not listed", F_RATE, 150, NULL, -GM_EBODY },
	{ "rate highest listed", F_RATE, 200, NULL, 0 },
	{ "rates descending", F_RATES_SWAP, 0, NULL, -GM_EBODY },
	{ "rates repeated", F_RATES_DUP, 0, NULL, -GM_EBODY },
	{ "unused rate slot set", F_RATE_SLOT, 400, NULL, -GM_EBODY },
	{ "orientation 3", F_ORIENT, 3, NULL, 0 },
	{ "orientation 4", F_ORIENT, 4, NULL, -GM_EBODY },
	{ "serial 16 characters", F_SERIAL_FULL, 0, "ABCDEFGHIJKLMNOP", 0 },
	{ "serial empty", F_SERIAL, 0, "", 0 },
	{ "serial control character", F_SERIAL, 0, "KT\n1", -GM_EBODY },
	{ "serial DEL", F_SERIAL, 0, "KT\x7f", -GM_EBODY },
	{ "serial high byte", F_SERIAL, 0, "KT\xe9", -GM_EBODY },
	{ "serial text after padding", F_SERIAL, 0, "KT\0X", -GM_EBODY,
	  true },
};

static void gm_di_desc(const struct gm_di_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gm_di, gm_di_cases, gm_di_desc);

/*
 * The test's own DEVINFO writer, straight from the document's offsets and
 * with no validation, so that invalid bodies can be made at all.
 */
static size_t gm_put_devinfo(const struct gm_devinfo *di, const u8 *serial,
			     u8 *body)
{
	size_t len = GM_DEVINFO_FIXED_LEN + di->n_tiles * GM_DEVINFO_TILE_LEN;
	unsigned int i;
	u8 *t;

	memset(body, 0, len);
	memcpy(body + DI_SERIAL, serial, GM_SERIAL_LEN);
	body[DI_FW_MAJOR] = di->fw_major;
	body[DI_FW_MINOR] = di->fw_minor;
	gm_put_le16(body + DI_FW_PATCH, di->fw_patch);
	gm_put_le32(body + DI_BOOT_ID, di->boot_id);
	body[DI_N_TILES] = di->n_tiles;
	body[DI_ROWS] = di->rows;
	body[DI_COLS] = di->cols;
	body[DI_SENSEL_BITS] = di->sensel_bits;
	gm_put_le16(body + DI_PITCH, di->pitch_um);
	gm_put_le16(body + DI_FULL_SCALE, di->full_scale_kpa);
	gm_put_le16(body + DI_RATE, di->rate_hz);
	body[DI_N_RATES] = di->n_rates;
	for (i = 0; i < GM_MAX_RATES; i++)
		gm_put_le16(body + DI_RATES + 2 * i, di->rates[i]);
	gm_put_le32(body + DI_BAUD, di->baud);
	for (i = 0; i < di->n_tiles; i++) {
		t = body + GM_DEVINFO_FIXED_LEN + i * GM_DEVINFO_TILE_LEN;
		gm_put_le16(t, (u16)di->tiles[i].x_mm);
		gm_put_le16(t + 2, (u16)di->tiles[i].y_mm);
		t[4] = di->tiles[i].orient;
		t[5] = di->tiles[i].flags;
	}
	return len;
}

static void gm_expect_devinfo_eq(struct kunit *test,
				 const struct gm_devinfo *a,
				 const struct gm_devinfo *b)
{
	unsigned int i;

	KUNIT_EXPECT_STREQ(test, a->serial, b->serial);
	KUNIT_EXPECT_EQ(test, a->fw_major, b->fw_major);
	KUNIT_EXPECT_EQ(test, a->fw_minor, b->fw_minor);
	KUNIT_EXPECT_EQ(test, a->fw_patch, b->fw_patch);
	KUNIT_EXPECT_EQ(test, a->boot_id, b->boot_id);
	KUNIT_EXPECT_EQ(test, a->n_tiles, b->n_tiles);
	KUNIT_EXPECT_EQ(test, a->rows, b->rows);
	KUNIT_EXPECT_EQ(test, a->cols, b->cols);
	KUNIT_EXPECT_EQ(test, a->sensel_bits, b->sensel_bits);
	KUNIT_EXPECT_EQ(test, a->pitch_um, b->pitch_um);
	KUNIT_EXPECT_EQ(test, a->full_scale_kpa, b->full_scale_kpa);
	KUNIT_EXPECT_EQ(test, a->rate_hz, b->rate_hz);
	KUNIT_EXPECT_EQ(test, a->n_rates, b->n_rates);
	for (i = 0; i < GM_MAX_RATES; i++)
		KUNIT_EXPECT_EQ(test, a->rates[i], b->rates[i]);
	KUNIT_EXPECT_EQ(test, a->baud, b->baud);
	for (i = 0; i < a->n_tiles && i < GM_MAX_TILES; i++) {
		KUNIT_EXPECT_EQ(test, a->tiles[i].x_mm, b->tiles[i].x_mm);
		KUNIT_EXPECT_EQ(test, a->tiles[i].y_mm, b->tiles[i].y_mm);
		KUNIT_EXPECT_EQ(test, a->tiles[i].orient, b->tiles[i].orient);
		KUNIT_EXPECT_EQ(test, a->tiles[i].flags, b->tiles[i].flags);
	}
}

/*
 * Each limit is checked three ways: the parser on the test's own encoding,
 * the codec's encoder on the structure (same verdict), and for valid ones
 * byte equality of the two encodings and a field-exact parse.
 */
static void gm_test_devinfo_limits(struct kunit *test)
{
	const struct gm_di_case *c = test->param_value;
	size_t cap = GM_DEVINFO_FIXED_LEN + GM_MAX_TILES * GM_DEVINFO_TILE_LEN;
	struct gm_devinfo *di, *got;
	u8 serial[GM_SERIAL_LEN] = { 0 };
	u8 *mine, *theirs;
	size_t len;
	long ret;
	int i;

	di = kunit_kzalloc(test, sizeof(*di), GFP_KERNEL);
	got = kunit_kzalloc(test, sizeof(*got), GFP_KERNEL);
	mine = kunit_kzalloc(test, cap + 1, GFP_KERNEL);
	theirs = kunit_kzalloc(test, cap, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, di);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, got);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, mine);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, theirs);
	gm_test_devinfo(di, T_TILES, T_ROWS, T_COLS);

	switch (c->field) {
	case F_N_TILES:
		di->n_tiles = c->val;
		for (i = 0; i < GM_MAX_TILES; i++)
			di->tiles[i].x_mm = 100 * i;
		/* A record for each announced tile, at most the maximum. */
		if (c->val > GM_MAX_TILES)
			di->n_tiles = GM_MAX_TILES;
		break;
	case F_ROWS:
		di->rows = c->val;
		break;
	case F_COLS:
		di->cols = c->val;
		break;
	case F_SENSEL_BITS:
		di->sensel_bits = c->val;
		break;
	case F_PITCH:
		di->pitch_um = c->val;
		break;
	case F_FULL_SCALE:
		di->full_scale_kpa = c->val;
		break;
	case F_BAUD:
		di->baud = c->val;
		break;
	case F_N_RATES:
		di->n_rates = c->val;
		for (i = 0; i < GM_MAX_RATES; i++)
			di->rates[i] = i < (int)c->val ? 50 * (i + 1) : 0;
		di->rate_hz = 50;
		break;
	case F_RATE:
		di->rate_hz = c->val;
		break;
	case F_RATES_SWAP:
		swap(di->rates[0], di->rates[1]);
		break;
	case F_RATES_DUP:
		di->rates[1] = di->rates[0];
		break;
	case F_RATE_SLOT:
		di->rates[di->n_rates] = c->val;
		break;
	case F_ORIENT:
		di->tiles[1].orient = c->val;
		break;
	case F_SERIAL:
	case F_SERIAL_FULL:
		memset(di->serial, 0, sizeof(di->serial));
		memcpy(di->serial, c->serial,
		       min(strlen(c->serial) + 1 +
			   (c->field == F_SERIAL && c->parse_only ? 1 : 0),
			   (size_t)GM_SERIAL_LEN));
		break;
	default:
		break;
	}
	memcpy(serial, di->serial, GM_SERIAL_LEN);

	len = gm_put_devinfo(di, serial, mine);
	if (c->field == F_N_TILES && c->val > GM_MAX_TILES)
		mine[DI_N_TILES] = c->val;	/* announce one tile too many */
	KUNIT_EXPECT_EQ_MSG(test, gm_parse_devinfo(mine, len, got), c->err,
			    "parse: want %s", gm_strerror(c->err));
	if (c->field == F_N_TILES && c->val > GM_MAX_TILES)
		di->n_tiles = c->val;

	if (!c->parse_only) {
		ret = gm_encode_devinfo(di, theirs, cap);
		KUNIT_EXPECT_EQ_MSG(test, ret, c->err ? (long)c->err : (long)len,
				    "encode: want %s", gm_strerror(c->err));
		if (!c->err && ret == (long)len)
			gm_expect_mem_eq(test, theirs, mine, len,
					 "codec encoding against the document");
	}
	if (c->err)
		return;
	gm_expect_devinfo_eq(test, got, di);
	/* The length must be exact: one byte more or less is refused. */
	KUNIT_EXPECT_EQ(test, gm_parse_devinfo(mine, len + 1, got),
			-GM_EBODY);
	KUNIT_EXPECT_EQ(test, gm_parse_devinfo(mine, len - 1, got),
			-GM_EBODY);
	KUNIT_EXPECT_EQ(test, gm_parse_devinfo(mine, GM_DEVINFO_FIXED_LEN - 1,
					       got), -GM_EBODY);
	/* And the encoder needs room for all of it. */
	KUNIT_EXPECT_EQ(test, gm_encode_devinfo(di, theirs, len - 1),
			(long)-GM_ENOSPC);
}

/* ---- Sparse run rules ------------------------------------------------------- */

struct gm_run {
	u8 tile, row, col, len;
};

struct gm_sparse_case {
	const char *name;
	struct gm_run runs[4];
	unsigned int n_runs;
	int n_runs_delta;	/* announced minus written */
	int len_delta;		/* bytes added (or cut) at the end */
	bool bad_pad;		/* set the padding nibble of an odd run */
	int err;
};

static const struct gm_sparse_case gm_sparse_cases[] = {
	{ "no runs", {}, 0, 0, 0, false, 0 },
	{ "one sensel", { { 0, 0, 0, 1 } }, 1, 0, 0, false, 0 },
	{ "full row", { { 0, 1, 0, T_COLS } }, 1, 0, 0, false, 0 },
	{ "last sensel of the last tile", { { T_TILES - 1, T_ROWS - 1,
	  T_COLS - 1, 1 } }, 1, 0, 0, false, 0 },
	{ "touching runs", { { 0, 0, 0, 2 }, { 0, 0, 2, 3 } }, 2, 0, 0, false,
	  0 },
	{ "runs in three rows and two tiles", { { 0, 0, 1, 2 },
	  { 0, 2, 0, 5 }, { 1, 0, 4, 1 }, { 1, 2, 0, 3 } }, 4, 0, 0, false, 0 },
	{ "tile out of range", { { T_TILES, 0, 0, 1 } }, 1, 0, 0, false,
	  -GM_ERUN },
	{ "row out of range", { { 0, T_ROWS, 0, 1 } }, 1, 0, 0, false,
	  -GM_ERUN },
	{ "column out of range", { { 0, 0, T_COLS, 1 } }, 1, 0, 0, false,
	  -GM_ERUN },
	{ "empty run", { { 0, 0, 0, 0 } }, 1, 0, 0, false, -GM_ERUN },
	{ "run past the row end", { { 0, 0, 3, 3 } }, 1, 0, 0, false,
	  -GM_ERUN },
	{ "run of 255", { { 0, 0, 0, 255 } }, 1, 0, 0, false, -GM_ERUN },
	{ "unordered rows", { { 0, 1, 0, 1 }, { 0, 0, 0, 1 } }, 2, 0, 0, false,
	  -GM_ERUN },
	{ "unordered tiles", { { 1, 0, 0, 1 }, { 0, 2, 4, 1 } }, 2, 0, 0,
	  false, -GM_ERUN },
	{ "overlapping", { { 0, 0, 0, 3 }, { 0, 0, 2, 1 } }, 2, 0, 0, false,
	  -GM_ERUN },
	{ "repeated", { { 0, 0, 1, 1 }, { 0, 0, 1, 1 } }, 2, 0, 0, false,
	  -GM_ERUN },
	{ "more runs announced than sent", { { 0, 0, 0, 1 } }, 1, 1, 0, false,
	  -GM_EBODY },
	{ "fewer runs announced than sent", { { 0, 0, 0, 1 }, { 0, 1, 0, 1 } },
	  2, -1, 0, false, -GM_EBODY },
	{ "values cut short", { { 0, 0, 0, 4 } }, 1, 0, -1, false, -GM_EBODY },
	{ "trailing byte", { { 0, 0, 0, 2 } }, 1, 0, 1, false, -GM_EBODY },
	{ "padding nibble set", { { 0, 0, 0, 3 } }, 1, 0, 0, true, -GM_EBODY },
	{ "shorter than its header", {}, 0, 0, -1, false, -GM_EBODY },
};

static void gm_sparse_desc(const struct gm_sparse_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gm_sparse, gm_sparse_cases, gm_sparse_desc);

static void gm_test_sparse_runs(struct kunit *test)
{
	const struct gm_sparse_case *c = test->param_value;
	size_t pos = GM_SPARSE_HDR_LEN, start, i, j;
	u16 want[T_SENSELS] = { 0 }, vals[256], *out;
	struct gm_devinfo di;
	u8 *body;
	int ret;

	gm_test_devinfo(&di, T_TILES, T_ROWS, T_COLS);
	body = kunit_kzalloc(test, 1024, GFP_KERNEL);
	out = kunit_kmalloc_array(test, T_SENSELS, sizeof(*out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, body);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, out);

	gm_put_le16(body, c->n_runs + c->n_runs_delta);
	for (i = 0; i < c->n_runs; i++) {
		const struct gm_run *r = &c->runs[i];

		body[pos++] = r->tile;
		body[pos++] = r->row;
		body[pos++] = r->col;
		body[pos++] = r->len;
		for (j = 0; j < r->len; j++)
			vals[j] = (0x9e3 * (i + 1) + 0x101 * j) & GM_SENSEL_MAX;
		/* 12-bit little-endian pairs, written out by hand. */
		for (j = 0; j < r->len; j += 2) {
			u16 b = j + 1 < r->len ? vals[j + 1] : 0;

			body[pos++] = vals[j] & 0xff;
			body[pos++] = (vals[j] >> 8) | ((b & 0xf) << 4);
			if (j + 1 < r->len)
				body[pos++] = b >> 4;
		}
		if (c->bad_pad && r->len & 1)
			body[pos - 1] |= 0x30;
		if (!c->err) {
			start = ((size_t)r->tile * T_ROWS + r->row) * T_COLS +
				r->col;
			memcpy(want + start, vals, r->len * sizeof(*vals));
		}
	}
	pos += c->len_delta;

	memset(out, 0xa5, T_SENSELS * sizeof(*out));
	ret = gm_decode_sparse(&di, body, pos, out, T_SENSELS);
	KUNIT_EXPECT_EQ_MSG(test, ret, c->err ? c->err : T_SENSELS,
			    "got %s", gm_strerror(ret));
	if (!c->err)
		gm_expect_u16_eq(test, out, want, T_SENSELS, "decoded image");
}

/* ---- Dense bodies ------------------------------------------------------------ */

static void gm_test_dense_layout(struct kunit *test)
{
	u16 img[T_SENSELS], *out;
	struct gm_devinfo di;
	size_t len, i;
	u8 *body;

	gm_test_devinfo(&di, T_TILES, T_ROWS, T_COLS);
	for (i = 0; i < T_SENSELS; i++)
		img[i] = (i * 0x111 + 0x0a5) & GM_SENSEL_MAX;
	len = GM_DENSE_HDR_LEN + T_TILES * GM_PACKED_LEN(T_ROWS * T_COLS);
	body = kunit_kmalloc(test, len, GFP_KERNEL);
	out = kunit_kmalloc_array(test, T_SENSELS, sizeof(*out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, body);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, out);

	KUNIT_ASSERT_EQ(test, gm_encode_dense(&di, img, body, len), (long)len);
	KUNIT_EXPECT_EQ(test, body[0], T_TILES);
	/* First pair of tile 0, then the odd last value of tile 0. */
	KUNIT_EXPECT_EQ(test, body[4], img[0] & 0xff);
	KUNIT_EXPECT_EQ(test, body[5], (img[0] >> 8) | ((img[1] & 0xf) << 4));
	KUNIT_EXPECT_EQ(test, body[6], img[1] >> 4);
	KUNIT_EXPECT_EQ(test, body[4 + 21], img[14] & 0xff);
	KUNIT_EXPECT_EQ(test, body[4 + 22], img[14] >> 8);
	/* Tile 1 starts on its own packed block. */
	KUNIT_EXPECT_EQ(test, body[4 + 23], img[15] & 0xff);
	KUNIT_EXPECT_EQ(test, gm_encode_dense(&di, img, body, len - 1),
			(long)-GM_ENOSPC);
	KUNIT_EXPECT_EQ(test, gm_decode_dense(&di, body, len, out, T_SENSELS),
			T_SENSELS);
	gm_expect_u16_eq(test, out, img, T_SENSELS, "dense round trip");
	KUNIT_EXPECT_EQ(test, gm_decode_dense(&di, body, len + 0, out,
					      T_SENSELS - 1), -GM_ENOSPC);
	KUNIT_EXPECT_EQ(test, gm_decode_dense(&di, body, 3, out, T_SENSELS),
			-GM_EBODY);
	body[0] = 0;
	KUNIT_EXPECT_EQ(test, gm_decode_dense(&di, body, len, out, T_SENSELS),
			-GM_EGEOM);
	/* A value above 12 bits cannot be sent. */
	img[7] = GM_SENSEL_MAX + 1;
	KUNIT_EXPECT_EQ(test, gm_encode_dense(&di, img, body, len),
			(long)-GM_EBODY);
	KUNIT_EXPECT_EQ(test, gm_encode_sparse(&di, img, body, len),
			(long)-GM_EBODY);
}

/* ---- Sparse against dense ---------------------------------------------------- */

enum gm_pattern {
	P_ZERO, P_FULL_MAX, P_CHECKER, P_RANDOM, P_EDGES, P_LAST_ONLY,
	P_STRIPES,
};

struct gm_image_case {
	const char *name;
	u8 n_tiles, rows, cols;
	enum gm_pattern pattern;
	unsigned int density;	/* P_RANDOM: percent of non-zero sensels */
};

static const struct gm_image_case gm_image_cases[] = {
	{ "1x1x1 zero", 1, 1, 1, P_ZERO },
	{ "1x1x1 max", 1, 1, 1, P_FULL_MAX },
	{ "2x3x5 checker", 2, 3, 5, P_CHECKER },
	{ "2x3x5 random 50%", 2, 3, 5, P_RANDOM, 50 },
	{ "1x64x64 zero", 1, 64, 64, P_ZERO },
	{ "1x64x64 max", 1, 64, 64, P_FULL_MAX },
	{ "1x64x64 edges", 1, 64, 64, P_EDGES },
	{ "1x64x64 random 5%", 1, 64, 64, P_RANDOM, 5 },
	{ "4x16x48 random 30%", 4, 16, 48, P_RANDOM, 30 },
	{ "4x16x48 stripes", 4, 16, 48, P_STRIPES },
	{ "3x7x63 random 90%", 3, 7, 63, P_RANDOM, 90 },
	{ "8x64x64 last sensel only", 8, 64, 64, P_LAST_ONLY },
	{ "8x64x64 random 10%", 8, 64, 64, P_RANDOM, 10 },
	{ "8x64x64 checker", 8, 64, 64, P_CHECKER },
	{ "8x64x64 max (sparse too big)", 8, 64, 64, P_FULL_MAX },
};

static void gm_image_desc(const struct gm_image_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gm_image, gm_image_cases, gm_image_desc);

static void gm_fill_image(const struct gm_image_case *c, u16 *img)
{
	size_t n = (size_t)c->n_tiles * c->rows * c->cols, i;
	struct rnd_state rnd;
	unsigned int r, col;

	prandom_seed_state(&rnd, n * 131 + c->density);
	for (i = 0; i < n; i++) {
		r = i / c->cols % c->rows;
		col = i % c->cols;
		switch (c->pattern) {
		case P_ZERO:
			img[i] = 0;
			break;
		case P_FULL_MAX:
			img[i] = GM_SENSEL_MAX;
			break;
		case P_CHECKER:
			img[i] = (r + col) & 1 ? (i % GM_SENSEL_MAX) + 1 : 0;
			break;
		case P_RANDOM:
			img[i] = prandom_u32_state(&rnd) % 100 < c->density ?
				 prandom_u32_state(&rnd) % GM_SENSEL_MAX + 1 : 0;
			break;
		case P_EDGES:
			img[i] = col == 0 || col == c->cols - 1 ? 0x7ff : 0;
			break;
		case P_LAST_ONLY:
			img[i] = i == n - 1 ? 1 : 0;
			break;
		case P_STRIPES:
			img[i] = col % 12 < 7 ? 0x10 * (col + 1) : 0;
			break;
		}
	}
}

/* The sparse body size a correct encoder produces: maximal row runs. */
static size_t gm_sparse_size(const struct gm_image_case *c, const u16 *img)
{
	size_t size = GM_SPARSE_HDR_LEN, row, col, end;
	size_t n_rows = (size_t)c->n_tiles * c->rows;

	for (row = 0; row < n_rows; row++) {
		const u16 *v = img + row * c->cols;

		for (col = 0; col < c->cols; col = end) {
			end = col + 1;
			if (!v[col])
				continue;
			while (end < c->cols && v[end])
				end++;
			size += GM_RUN_HDR_LEN + GM_PACKED_LEN(end - col);
		}
	}
	return size;
}

static void gm_test_sparse_equals_dense(struct kunit *test)
{
	const struct gm_image_case *c = test->param_value;
	size_t n = (size_t)c->n_tiles * c->rows * c->cols, want_sparse;
	u16 *img, *from_dense, *from_sparse;
	struct gm_devinfo di;
	long dlen, slen;
	u8 *dense, *sparse;

	gm_test_devinfo(&di, c->n_tiles, c->rows, c->cols);
	img = kunit_kmalloc_array(test, n, sizeof(u16), GFP_KERNEL);
	from_dense = kunit_kmalloc_array(test, n, sizeof(u16), GFP_KERNEL);
	from_sparse = kunit_kmalloc_array(test, n, sizeof(u16), GFP_KERNEL);
	dense = kunit_kmalloc(test, GM_MAX_BODY, GFP_KERNEL);
	sparse = kunit_kmalloc(test, GM_MAX_BODY, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, img);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, from_dense);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, from_sparse);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dense);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sparse);
	gm_fill_image(c, img);

	dlen = gm_encode_dense(&di, img, dense, GM_MAX_BODY);
	KUNIT_ASSERT_EQ(test, dlen, (long)(GM_DENSE_HDR_LEN +
				   c->n_tiles * GM_PACKED_LEN(c->rows * c->cols)));
	memset(from_dense, 0x5a, n * sizeof(u16));
	KUNIT_ASSERT_EQ(test, gm_decode_dense(&di, dense, dlen, from_dense, n),
			(int)n);
	gm_expect_u16_eq(test, from_dense, img, n, "dense decode");

	want_sparse = gm_sparse_size(c, img);
	slen = gm_encode_sparse(&di, img, sparse, GM_MAX_BODY);
	if (want_sparse > GM_MAX_BODY) {
		/* No receiver could take it: the sender must go dense. */
		KUNIT_EXPECT_EQ(test, slen, (long)-GM_ENOSPC);
		return;
	}
	KUNIT_ASSERT_EQ(test, slen, (long)want_sparse);
	/* Poison: every sensel outside a run must come back as zero. */
	memset(from_sparse, 0xa5, n * sizeof(u16));
	KUNIT_ASSERT_EQ(test, gm_decode_sparse(&di, sparse, slen, from_sparse,
					       n), (int)n);
	gm_expect_u16_eq(test, from_sparse, from_dense, n,
			 "sparse decode against dense decode");
	/* One byte less room than needed is refused, not overrun. */
	if (slen > GM_SPARSE_HDR_LEN)
		KUNIT_EXPECT_EQ(test,
				gm_encode_sparse(&di, img, sparse, slen - 1),
				(long)-GM_ENOSPC);
	KUNIT_EXPECT_EQ(test, gm_decode_sparse(&di, sparse, slen, from_sparse,
					       n - 1), -GM_ENOSPC);
}

/* ---- Small bodies and the header ------------------------------------------------ */

static void gm_test_small_bodies(struct kunit *test)
{
	struct gm_status st = {
		.state = GM_STATE_ERROR, .rate_hz = 400,
		.error_flags = GM_ERRF_LINK_BUDGET | GM_ERRF_CMD,
		.scans_dropped = 0xfffffffe, .cmd_errors = 7,
		.boot_id = 0x89abcdef,
	}, st2;
	struct gm_ack ack = { .cmd = GM_T_CMD_ZERO, .result = GM_ACK_EBUSY,
			      .cmd_seq = 0xdeadbeef }, ack2;
	u8 body[GM_STATUS_LEN];
	u16 rate;

	KUNIT_ASSERT_EQ(test, gm_encode_status(&st, body, sizeof(body)),
			(long)GM_STATUS_LEN);
	KUNIT_EXPECT_EQ(test, body[0], GM_STATE_ERROR);
	KUNIT_EXPECT_EQ(test, gm_get_le16(body + 2), 400);
	KUNIT_EXPECT_EQ(test, gm_get_le32(body + 8), 0xfffffffeU);
	KUNIT_EXPECT_EQ(test, gm_get_le32(body + 16), 0x89abcdefU);
	KUNIT_ASSERT_EQ(test, gm_parse_status(body, GM_STATUS_LEN, &st2), 0);
	KUNIT_EXPECT_EQ(test, st2.state, st.state);
	KUNIT_EXPECT_EQ(test, st2.rate_hz, st.rate_hz);
	KUNIT_EXPECT_EQ(test, st2.error_flags, st.error_flags);
	KUNIT_EXPECT_EQ(test, st2.scans_dropped, st.scans_dropped);
	KUNIT_EXPECT_EQ(test, st2.cmd_errors, st.cmd_errors);
	KUNIT_EXPECT_EQ(test, st2.boot_id, st.boot_id);
	KUNIT_EXPECT_EQ(test, gm_encode_status(&st, body, GM_STATUS_LEN - 1),
			(long)-GM_ENOSPC);
	st.state = GM_STATE_ERROR + 1;
	KUNIT_EXPECT_EQ(test, gm_encode_status(&st, body, sizeof(body)),
			(long)-GM_EBODY);

	KUNIT_ASSERT_EQ(test, gm_encode_ack(&ack, body, GM_ACK_LEN),
			(long)GM_ACK_LEN);
	KUNIT_EXPECT_EQ(test, gm_get_le32(body + 4), 0xdeadbeefU);
	KUNIT_ASSERT_EQ(test, gm_parse_ack(body, GM_ACK_LEN, &ack2), 0);
	KUNIT_EXPECT_EQ(test, ack2.cmd, ack.cmd);
	KUNIT_EXPECT_EQ(test, ack2.result, ack.result);
	KUNIT_EXPECT_EQ(test, ack2.cmd_seq, ack.cmd_seq);
	KUNIT_EXPECT_EQ(test, gm_parse_ack(body, GM_ACK_LEN - 1, &ack2),
			-GM_EBODY);

	KUNIT_ASSERT_EQ(test, gm_encode_set_rate(1000, body, GM_SET_RATE_LEN),
			(long)GM_SET_RATE_LEN);
	KUNIT_EXPECT_EQ(test, gm_get_le16(body), 1000);
	KUNIT_ASSERT_EQ(test, gm_parse_set_rate(body, GM_SET_RATE_LEN, &rate),
			0);
	KUNIT_EXPECT_EQ(test, rate, 1000);
	KUNIT_EXPECT_EQ(test, gm_parse_set_rate(body, 2, &rate), -GM_EBODY);
	KUNIT_EXPECT_EQ(test, gm_encode_set_rate(1000, body, 3),
			(long)-GM_ENOSPC);
}

/* The header layout of the document, and gm_build_frame()'s limits. */
static void gm_test_header_layout(struct kunit *test)
{
	struct gm_hdr hdr = {
		.type = GM_T_DENSE, .flags = GM_F_OVERFLOW | GM_F_SATURATED,
		.body_len = 3, .seq = 0x11223344,
		.clock_us = 0x8899aabbccddeeffULL,
	}, got;
	static const u8 want[GM_HDR_LEN] = {
		0x03, 0x05, 0x03, 0x00, 0x44, 0x33, 0x22, 0x11,
		0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
	};
	u8 raw[GM_HDR_LEN + 3 + GM_CRC_LEN];
	long len;

	len = gm_build_frame(raw, sizeof(raw), &hdr, (const u8 *)"abc");
	KUNIT_ASSERT_EQ(test, len, (long)sizeof(raw));
	gm_expect_mem_eq(test, raw, want, GM_HDR_LEN, "header");
	gm_expect_mem_eq(test, raw + GM_HDR_LEN, "abc", 3, "body");
	KUNIT_EXPECT_EQ(test, gm_get_le32(raw + GM_HDR_LEN + 3),
			gm_crc32c(0, raw, GM_HDR_LEN + 3));
	KUNIT_ASSERT_EQ(test, gm_parse_hdr(raw, len, &got), 0);
	KUNIT_EXPECT_EQ(test, got.type, hdr.type);
	KUNIT_EXPECT_EQ(test, got.flags, hdr.flags);
	KUNIT_EXPECT_EQ(test, got.body_len, hdr.body_len);
	KUNIT_EXPECT_EQ(test, got.seq, hdr.seq);
	KUNIT_EXPECT_EQ(test, got.clock_us, hdr.clock_us);

	/* In place: the body already sits at gm_body(out). */
	memcpy(raw + GM_HDR_LEN, "xyz", 3);
	KUNIT_ASSERT_EQ(test, gm_build_frame(raw, sizeof(raw), &hdr,
					     gm_body(raw)), len);
	gm_expect_mem_eq(test, raw + GM_HDR_LEN, "xyz", 3, "in-place body");

	KUNIT_EXPECT_EQ(test, gm_build_frame(raw, sizeof(raw) - 1, &hdr,
					     (const u8 *)"abc"),
			(long)-GM_ENOSPC);
	hdr.body_len = GM_MAX_BODY + 1;
	KUNIT_EXPECT_EQ(test, gm_build_frame(raw, sizeof(raw), &hdr, raw),
			(long)-GM_ETOOLONG);
}

/* ---- Comparing announcements --------------------------------------------- */

enum gm_same_change {
	GM_CHG_RATE, GM_CHG_UNUSED, GM_CHG_SERIAL, GM_CHG_FW, GM_CHG_BOOT,
	GM_CHG_TILES, GM_CHG_ROWS, GM_CHG_COLS, GM_CHG_PITCH, GM_CHG_SCALE,
	GM_CHG_RATES, GM_CHG_N_RATES, GM_CHG_BAUD, GM_CHG_TILE_X,
	GM_CHG_ORIENT, GM_CHG_TFLAGS,
};

struct gm_same_case {
	const char *name;
	enum gm_same_change change;
	bool same;
};

static void gm_same_apply(struct gm_devinfo *di, enum gm_same_change change)
{
	switch (change) {
	case GM_CHG_RATE:
		di->rate_hz = 200;
		break;
	case GM_CHG_UNUSED:
		/* What no field means: slots past the counts, bytes past NUL. */
		di->rates[di->n_rates] = 400;
		di->tiles[di->n_tiles].x_mm = 77;
		di->tiles[di->n_tiles].flags = 0xff;
		di->serial[sizeof(di->serial) - 1] = 'X';
		break;
	case GM_CHG_SERIAL:
		di->serial[0] ^= 1;
		break;
	case GM_CHG_FW:
		di->fw_patch++;
		break;
	case GM_CHG_BOOT:
		di->boot_id++;
		break;
	case GM_CHG_TILES:
		di->n_tiles--;
		break;
	case GM_CHG_ROWS:
		di->rows++;
		break;
	case GM_CHG_COLS:
		di->cols++;
		break;
	case GM_CHG_PITCH:
		di->pitch_um++;
		break;
	case GM_CHG_SCALE:
		di->full_scale_kpa++;
		break;
	case GM_CHG_RATES:
		di->rates[1] = 120;
		break;
	case GM_CHG_N_RATES:
		di->n_rates--;
		break;
	case GM_CHG_BAUD:
		di->baud = 230400;
		break;
	case GM_CHG_TILE_X:
		di->tiles[1].x_mm++;
		break;
	case GM_CHG_ORIENT:
		di->tiles[0].orient ^= 2;
		break;
	case GM_CHG_TFLAGS:
		di->tiles[1].flags ^= 1;
		break;
	}
}

static const struct gm_same_case gm_same_cases[] = {
	{ "rate only", GM_CHG_RATE, true },
	{ "unused slots", GM_CHG_UNUSED, true },
	{ "serial", GM_CHG_SERIAL, false },
	{ "firmware", GM_CHG_FW, false },
	{ "boot id", GM_CHG_BOOT, false },
	{ "tile count", GM_CHG_TILES, false },
	{ "rows", GM_CHG_ROWS, false },
	{ "cols", GM_CHG_COLS, false },
	{ "pitch", GM_CHG_PITCH, false },
	{ "full scale", GM_CHG_SCALE, false },
	{ "rate list", GM_CHG_RATES, false },
	{ "rate count", GM_CHG_N_RATES, false },
	{ "baud", GM_CHG_BAUD, false },
	{ "tile position", GM_CHG_TILE_X, false },
	{ "tile orientation", GM_CHG_ORIENT, false },
	{ "tile flags", GM_CHG_TFLAGS, false },
};

static void gm_same_desc(const struct gm_same_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", c->name);
}

KUNIT_ARRAY_PARAM(gm_same, gm_same_cases, gm_same_desc);

/*
 * Whether an announcement changes the device is decided field by field:
 * bytes no field covers (padding, unused slots) never make a difference,
 * which a memcmp() of the structs would let them make.
 */
static void gm_test_devinfo_same(struct kunit *test)
{
	const struct gm_same_case *c = test->param_value;
	struct gm_devinfo *a, *b;

	a = kunit_kmalloc(test, sizeof(*a), GFP_KERNEL);
	b = kunit_kmalloc(test, sizeof(*b), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	gm_test_devinfo(a, T_TILES, T_ROWS, T_COLS);
	memcpy(b, a, sizeof(*b));
	gm_same_apply(b, c->change);
	KUNIT_EXPECT_EQ(test, gm_devinfo_same(a, b), c->same);
	KUNIT_EXPECT_EQ(test, gm_devinfo_same(b, a), c->same);
}

static void gm_test_devinfo_has_rate(struct kunit *test)
{
	struct gm_devinfo di;

	gm_test_devinfo(&di, T_TILES, T_ROWS, T_COLS);
	di.rates[di.n_rates] = 400;	/* past the count: not announced */
	KUNIT_EXPECT_TRUE(test, gm_devinfo_has_rate(&di, 50));
	KUNIT_EXPECT_TRUE(test, gm_devinfo_has_rate(&di, 200));
	KUNIT_EXPECT_FALSE(test, gm_devinfo_has_rate(&di, 120));
	KUNIT_EXPECT_FALSE(test, gm_devinfo_has_rate(&di, 0));
	KUNIT_EXPECT_FALSE(test, gm_devinfo_has_rate(&di, 400));
}

static void gm_test_strerror(struct kunit *test)
{
	const char *names[GM_EMAX];
	int i, j;

	for (i = 0; i < GM_EMAX; i++) {
		names[i] = gm_strerror(-i);
		KUNIT_ASSERT_NOT_NULL(test, names[i]);
		KUNIT_EXPECT_GT(test, strlen(names[i]), (size_t)0);
		KUNIT_EXPECT_PTR_EQ(test, gm_strerror(i), names[i]);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_STRNEQ(test, names[i], names[j]);
	}
	KUNIT_EXPECT_NOT_NULL(test, gm_strerror(-GM_EMAX));
	KUNIT_EXPECT_NOT_NULL(test, gm_strerror(INT_MIN + 1));
	KUNIT_EXPECT_NOT_NULL(test, gm_strerror(1000));
}

static struct kunit_case gm_proto_cases[] = {
	KUNIT_CASE_PARAM(gm_test_crc32c_vectors, gm_crc_gen_params),
	KUNIT_CASE(gm_test_crc32c_matches_kernel),
	KUNIT_CASE_PARAM(gm_test_cobs_vectors, gm_cobs_gen_params),
	KUNIT_CASE(gm_test_cobs_long_blocks),
	KUNIT_CASE(gm_test_rx_needs_first_delimiter),
	KUNIT_CASE_PARAM(gm_test_rx_split_delivery, gm_split_gen_params),
	KUNIT_CASE_PARAM(gm_test_rx_resync, gm_garbage_gen_params),
	KUNIT_CASE(gm_test_rx_capacity_edge),
	KUNIT_CASE_PARAM(gm_test_malformed_frames, gm_bad_gen_params),
	KUNIT_CASE_PARAM(gm_test_devinfo_limits, gm_di_gen_params),
	KUNIT_CASE_PARAM(gm_test_sparse_runs, gm_sparse_gen_params),
	KUNIT_CASE(gm_test_dense_layout),
	KUNIT_CASE_PARAM(gm_test_sparse_equals_dense, gm_image_gen_params),
	KUNIT_CASE(gm_test_small_bodies),
	KUNIT_CASE(gm_test_header_layout),
	KUNIT_CASE(gm_test_strerror),
	KUNIT_CASE_PARAM(gm_test_devinfo_same, gm_same_gen_params),
	KUNIT_CASE(gm_test_devinfo_has_rate),
	{}
};

static struct kunit_suite gm_proto_suite = {
	.name = "gaitmat_proto",
	.test_cases = gm_proto_cases,
};

kunit_test_suite(gm_proto_suite);

MODULE_DESCRIPTION("KUnit tests of the gaitmat wire codec");
MODULE_LICENSE("GPL");
