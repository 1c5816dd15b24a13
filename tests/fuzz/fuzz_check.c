// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Round-trip oracles for the protocol fuzzers. Whatever a parser accepts
 * must encode back to the same bytes (reserved fields aside, which are
 * ignored on receipt and sent as zero), and the re-encoding must parse to
 * the same values: so a parser that skips a field, or accepts a value the
 * encoder cannot represent, shows up as a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static u8 enc[GM_MAX_BODY + 64];
static u16 vals[GM_MAX_SENSELS];
static u16 vals2[GM_MAX_SENSELS];

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

void fuzz_default_devinfo(struct gm_devinfo *di)
{
	memset(di, 0, sizeof(*di));
	memcpy(di->serial, "FUZZ", 4);
	di->n_tiles = 2;
	di->rows = 4;
	di->cols = 5;
	di->sensel_bits = GM_SENSEL_BITS;
	di->pitch_um = 5000;
	di->full_scale_kpa = 600;
	di->rate_hz = 100;
	di->n_rates = 1;
	di->rates[0] = 100;
	di->baud = 3000000;
}

/* Compare @len bytes, skipping the [@skip, @skip + @n) reserved range. */
static bool same_except(const u8 *a, const u8 *b, size_t len, size_t skip,
			size_t n)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((i < skip || i >= skip + n) && a[i] != b[i])
			return false;
	return true;
}

static void check_devinfo(const u8 *body, size_t len, struct gm_devinfo *di)
{
	struct gm_devinfo got, again;
	long n;
	unsigned int i;

	if (gm_parse_devinfo(body, len, &got))
		return;
	n = gm_encode_devinfo(&got, enc, sizeof(enc));
	FUZZ_ASSERT(n == (long)len);
	/* Byte for byte, except each tile's reserved u16. */
	FUZZ_ASSERT(!memcmp(enc, body, GM_DEVINFO_FIXED_LEN));
	for (i = 0; i < got.n_tiles; i++) {
		size_t off = GM_DEVINFO_FIXED_LEN + i * GM_DEVINFO_TILE_LEN;

		FUZZ_ASSERT(same_except(enc + off, body + off,
					GM_DEVINFO_TILE_LEN, 6, 2));
	}
	FUZZ_ASSERT(gm_parse_devinfo(enc, n, &again) == 0);
	FUZZ_ASSERT(!strcmp(again.serial, got.serial));
	FUZZ_ASSERT(again.n_tiles == got.n_tiles && again.rows == got.rows &&
		    again.cols == got.cols && again.rate_hz == got.rate_hz);
	*di = got;
}

static void check_calib(const u8 *body, size_t len,
			const struct gm_devinfo *di)
{
	struct gm_calib cal;
	unsigned int i;
	long n;

	if (gm_parse_calib(di, body, len, &cal))
		return;
	FUZZ_ASSERT(cal.tile < di->n_tiles);
	FUZZ_ASSERT(cal.gains == body + GM_CALIB_HDR_LEN);
	FUZZ_ASSERT(GM_CALIB_HDR_LEN + 2 * (size_t)cal.n_gains == len);
	for (i = 0; i < cal.n_gains; i++)
		vals[i] = gm_get_le16(cal.gains + 2 * i);
	n = gm_encode_calib(di, cal.tile, vals, enc, sizeof(enc));
	FUZZ_ASSERT(n == (long)len);
	FUZZ_ASSERT(same_except(enc, body, len, 2, 2));
}

static bool geom_ok(const struct gm_devinfo *di)
{
	return di->n_tiles >= 1 && di->n_tiles <= GM_MAX_TILES &&
	       di->rows >= 1 && di->rows <= GM_MAX_ROWS &&
	       di->cols >= 1 && di->cols <= GM_MAX_COLS;
}

/*
 * The sparse body rules of the protocol document, checked the slow and
 * obvious way (a coverage map), to compare with the decoder's verdict: a
 * decoder that lets an overlapping or unordered run through still decodes
 * to some matrix, which no round trip would notice.
 */
static bool ref_sparse_valid(const struct gm_devinfo *di, const u8 *body,
			     size_t len)
{
	static bool covered[GM_MAX_SENSELS];
	size_t pos = GM_SPARSE_HDR_LEN, idx, last_end = 0;
	unsigned int n_runs, i, k, t, r, c, l;

	if (len < GM_SPARSE_HDR_LEN)
		return false;
	memset(covered, 0, sizeof(covered));
	n_runs = gm_get_le16(body);
	for (i = 0; i < n_runs; i++) {
		if (pos + GM_RUN_HDR_LEN > len)
			return false;
		t = body[pos];
		r = body[pos + 1];
		c = body[pos + 2];
		l = body[pos + 3];
		pos += GM_RUN_HDR_LEN;
		if (t >= di->n_tiles || r >= di->rows || l == 0 ||
		    c + l > di->cols)
			return false;
		idx = ((size_t)t * di->rows + r) * di->cols + c;
		if (i && idx < last_end)
			return false;	/* (tile,row,col) order */
		for (k = 0; k < l; k++) {
			if (covered[idx + k])
				return false;
			covered[idx + k] = true;
		}
		last_end = idx + l;
		if (pos + GM_PACKED_LEN(l) > len)
			return false;
		if ((l & 1) && (body[pos + GM_PACKED_LEN(l) - 1] & 0xf0))
			return false;
		pos += GM_PACKED_LEN(l);
	}
	return pos == len;
}

static void check_scan(u8 type, const u8 *body, size_t len,
		       const struct gm_devinfo *di)
{
	size_t total = (size_t)di->n_tiles * di->rows * di->cols;
	long n;
	int ret;

	if (type == GM_T_DENSE) {
		ret = gm_decode_dense(di, body, len, vals, GM_MAX_SENSELS);
	} else {
		ret = gm_decode_sparse(di, body, len, vals, GM_MAX_SENSELS);
		if (geom_ok(di))
			FUZZ_ASSERT((ret >= 0) == ref_sparse_valid(di, body,
								   len));
	}
	if (ret < 0)
		return;
	FUZZ_ASSERT((size_t)ret == total);
	n = gm_encode_dense(di, vals, enc, sizeof(enc));
	FUZZ_ASSERT(n > 0);
	if (type == GM_T_DENSE) {
		/* Only the 3 reserved bytes may differ. */
		FUZZ_ASSERT(n == (long)len);
		FUZZ_ASSERT(same_except(enc, body, len, 1, 3));
	}
	FUZZ_ASSERT(gm_decode_dense(di, enc, n, vals2, GM_MAX_SENSELS) == ret);
	FUZZ_ASSERT(!memcmp(vals, vals2, total * sizeof(u16)));
	/* Any scan the sparse encoder can fit decodes to the same values. */
	n = gm_encode_sparse(di, vals, enc, sizeof(enc));
	if (n == -GM_ENOSPC)
		return;
	FUZZ_ASSERT(n >= GM_SPARSE_HDR_LEN);
	FUZZ_ASSERT(gm_decode_sparse(di, enc, n, vals2, GM_MAX_SENSELS) ==
		    ret);
	FUZZ_ASSERT(!memcmp(vals, vals2, total * sizeof(u16)));
}

static void check_status(const u8 *body, size_t len)
{
	struct gm_status st;

	if (gm_parse_status(body, len, &st))
		return;
	FUZZ_ASSERT(gm_encode_status(&st, enc, sizeof(enc)) == GM_STATUS_LEN);
	FUZZ_ASSERT(same_except(enc, body, len, 1, 1));
}

static void check_ack(const u8 *body, size_t len)
{
	struct gm_ack ack;

	if (gm_parse_ack(body, len, &ack))
		return;
	FUZZ_ASSERT(gm_encode_ack(&ack, enc, sizeof(enc)) == GM_ACK_LEN);
	FUZZ_ASSERT(same_except(enc, body, len, 2, 2));
}

static void check_set_rate(const u8 *body, size_t len)
{
	u16 rate;

	if (gm_parse_set_rate(body, len, &rate))
		return;
	FUZZ_ASSERT(gm_encode_set_rate(rate, enc, sizeof(enc)) ==
		    GM_SET_RATE_LEN);
	FUZZ_ASSERT(same_except(enc, body, len, 2, 2));
}

void fuzz_check_body(u8 type, const u8 *body, size_t len,
		    struct gm_devinfo *di)
{
	switch (type) {
	case GM_T_DEVINFO:
		check_devinfo(body, len, di);
		break;
	case GM_T_CALIB:
		check_calib(body, len, di);
		break;
	case GM_T_DENSE:
	case GM_T_SPARSE:
		check_scan(type, body, len, di);
		break;
	case GM_T_STATUS:
		check_status(body, len);
		break;
	case GM_T_ACK:
		check_ack(body, len);
		break;
	case GM_T_CMD_SET_RATE:
		check_set_rate(body, len);
		break;
	default:
		break;
	}
}
