// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * Writes the seed corpora of the protocol fuzzers, built with the encoder
 * so that the seeds are valid frames the fuzzers then mutate:
 *
 *   gen_corpus DIR
 *     DIR/fuzz_proto_rx/    wire streams: announce, scans, status, commands
 *     DIR/fuzz_proto_body/  type selector + geometry + one valid body
 *     DIR/fuzz_proto_cobs/  frame bodies around the COBS block sizes
 *
 * Sensel values are synthetic (a seeded generator drawing pressure blobs),
 * never recorded data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gaitmat_proto.h"

static const char *outdir;
static u8 body[GM_MAX_BODY];
static u8 raw[GM_MAX_RAW];
static u8 stream[1 << 20];
static size_t stream_len;
static u16 scan[GM_MAX_SENSELS];
static u16 gains[GM_TILE_MAX_SENSELS];
static u32 rng = 12345;
static u32 seq;

static u32 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static int write_file(const char *sub, const char *name, const u8 *a,
		      size_t alen, const u8 *b, size_t blen)
{
	char path[4096];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", outdir, sub);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	if (fwrite(a, 1, alen, f) != alen || fwrite(b, 1, blen, f) != blen)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret)
		fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(-ret));
	return ret;
}

/* Append one framed body (already in body[]) to the stream. */
static int put_frame(u8 type, u8 flags, long body_len)
{
	struct gm_hdr h = {
		.type = type,
		.flags = flags,
		.body_len = (u16)body_len,
		.seq = seq++,
		.clock_us = 1000000ULL + 5000ULL * seq,
	};
	long n, w;

	if (body_len < 0) {
		fprintf(stderr, "gen_corpus: encode type %#x: %s\n", type,
			gm_strerror((int)body_len));
		return -EINVAL;
	}
	n = gm_build_frame(raw, sizeof(raw), &h, body);
	if (n < 0)
		return -EINVAL;
	w = gm_cobs_encode(raw, n, stream + stream_len,
			   sizeof(stream) - stream_len);
	if (w < 0)
		return -ENOSPC;
	stream_len += w;
	return 0;
}

static void devinfo(struct gm_devinfo *di, u8 n_tiles, u8 rows, u8 cols)
{
	unsigned int i;

	memset(di, 0, sizeof(*di));
	snprintf(di->serial, sizeof(di->serial), "SIM-%u-%u-%u", n_tiles,
		 rows, cols);
	di->fw_major = 1;
	di->boot_id = rnd();
	di->n_tiles = n_tiles;
	di->rows = rows;
	di->cols = cols;
	di->sensel_bits = GM_SENSEL_BITS;
	di->pitch_um = 10000;
	di->full_scale_kpa = 700;
	di->rate_hz = 100;
	di->n_rates = 3;
	di->rates[0] = 50;
	di->rates[1] = 100;
	di->rates[2] = 200;
	di->baud = 3000000;
	for (i = 0; i < n_tiles; i++) {
		di->tiles[i].x_mm = (s16)(i * rows * 10);
		di->tiles[i].orient = i & 3;
		di->tiles[i].flags = GM_TILE_F_CALIB;
	}
}

/* A synthetic footprint: one blob of pressure in a random tile. */
static void make_scan(const struct gm_devinfo *di)
{
	size_t n = (size_t)di->n_tiles * di->rows * di->cols;
	int t = rnd() % di->n_tiles, r0 = rnd() % di->rows;
	int c0 = rnd() % di->cols, r, c, d;

	memset(scan, 0, n * sizeof(scan[0]));
	for (r = 0; r < di->rows; r++) {
		for (c = 0; c < di->cols; c++) {
			d = (r - r0) * (r - r0) + (c - c0) * (c - c0);
			if (d < 12)
				scan[((size_t)t * di->rows + r) * di->cols + c] =
					GM_SENSEL_MAX - d * 300;
		}
	}
}

/* Selector, geometry, then the body just encoded into body[]. */
static int body_seed(const char *geom, const char *what, u8 sel,
		     const struct gm_devinfo *di, long len)
{
	u8 pre[4] = { sel, di->n_tiles, di->rows, di->cols };
	char name[64];

	if (len < 0)
		return -EINVAL;
	snprintf(name, sizeof(name), "%s-%s", geom, what);
	return write_file("fuzz_proto_body", name, pre, 4, body, len);
}

/*
 * One whole session of a controller with this geometry; its stream is an
 * rx seed only when @rx_seed (large seeds slow the stream fuzzer down for
 * little new coverage: the framing does not care about the size).
 */
static int session(u8 n_tiles, u8 rows, u8 cols, bool rx_seed)
{
	struct gm_devinfo di;
	struct gm_status st = { .state = GM_STATE_STREAMING, .rate_hz = 100 };
	struct gm_ack ack = { .cmd = GM_T_CMD_START, .cmd_seq = 1 };
	char name[32], variant[48];
	unsigned int t, i;
	int ret = 0;
	long n;

	devinfo(&di, n_tiles, rows, cols);
	st.boot_id = di.boot_id;
	stream_len = 0;
	stream[stream_len++] = GM_DELIM;
	snprintf(name, sizeof(name), "%ux%ux%u", n_tiles, rows, cols);

	n = gm_encode_devinfo(&di, body, sizeof(body));
	ret |= body_seed(name, "devinfo", 0, &di, n);
	ret |= put_frame(GM_T_DEVINFO, 0, n);
	for (t = 0; t < n_tiles; t++) {
		for (i = 0; i < (unsigned int)rows * cols; i++)
			gains[i] = 3500 + rnd() % 1200;
		n = gm_encode_calib(&di, (u8)t, gains, body, sizeof(body));
		if (t == 0)
			ret |= body_seed(name, "calib", 1, &di, n);
		ret |= put_frame(GM_T_CALIB, 0, n);
	}
	make_scan(&di);
	n = gm_encode_dense(&di, scan, body, sizeof(body));
	ret |= body_seed(name, "dense", 2, &di, n);
	ret |= put_frame(GM_T_DENSE, 0, n);
	make_scan(&di);
	n = gm_encode_sparse(&di, scan, body, sizeof(body));
	ret |= body_seed(name, "sparse", 3, &di, n);
	ret |= put_frame(GM_T_SPARSE, GM_F_OVERFLOW, n);
	n = gm_encode_status(&st, body, sizeof(body));
	ret |= body_seed(name, "status", 4, &di, n);
	ret |= put_frame(GM_T_STATUS, 0, n);
	n = gm_encode_ack(&ack, body, sizeof(body));
	ret |= body_seed(name, "ack", 5, &di, n);
	ret |= put_frame(GM_T_ACK, 0, n);
	/* Idle fill, then the host's commands. */
	stream[stream_len++] = GM_DELIM;
	stream[stream_len++] = GM_DELIM;
	n = gm_encode_set_rate(200, body, sizeof(body));
	ret |= body_seed(name, "set_rate", 6, &di, n);
	ret |= put_frame(GM_T_CMD_SET_RATE, 0, n);
	ret |= put_frame(GM_T_CMD_START, 0, 0);
	ret |= put_frame(GM_T_CMD_ZERO, 0, 0);
	ret |= put_frame(GM_T_CMD_GET_INFO, 0, 0);
	ret |= put_frame(GM_T_CMD_STOP, 0, 0);
	if (!rx_seed)
		return ret;
	ret |= write_file("fuzz_proto_rx", name, stream, stream_len, NULL, 0);
	/* The same, cut in the middle of a frame, and with line noise. */
	snprintf(variant, sizeof(variant), "%s-cut", name);
	ret |= write_file("fuzz_proto_rx", variant, stream,
			  stream_len * 2 / 3, NULL, 0);
	for (i = 0; i < 8; i++)
		stream[1 + rnd() % (stream_len - 1)] = (u8)rnd();
	snprintf(variant, sizeof(variant), "%s-noise", name);
	ret |= write_file("fuzz_proto_rx", variant, stream, stream_len,
			  NULL, 0);
	return ret;
}

static int cobs_seeds(void)
{
	static const size_t lens[] = { 0, 1, 12, 233, 234, 235, 254, 255,
				       487, 488, 489, 1000 };
	char name[32];
	unsigned int i, k;
	int ret = 0;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (k = 0; k < lens[i]; k++)
			body[k] = (u8)(1 + rnd() % 255);
		snprintf(name, sizeof(name), "nonzero-%zu", lens[i]);
		ret |= write_file("fuzz_proto_cobs", name, body, lens[i],
				  NULL, 0);
		for (k = 0; k < lens[i]; k += 1 + rnd() % 300)
			body[k] = 0;
		snprintf(name, sizeof(name), "zeros-%zu", lens[i]);
		ret |= write_file("fuzz_proto_cobs", name, body, lens[i],
				  NULL, 0);
	}
	return ret;
}

int main(int argc, char **argv)
{
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) && errno != EEXIST) {
		perror(outdir);
		return 1;
	}
	ret |= session(1, 8, 8, true);
	ret |= session(2, 16, 16, true);
	ret |= session(3, 5, 7, true);
	ret |= session(8, 4, 4, true);
	ret |= session(1, 64, 64, false);
	ret |= cobs_seeds();
	return ret ? 1 : 0;
}
