// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap synth [OPTIONS] FILE -- a developer command, not listed in help.
 *
 * Writes a synthetic session through the same zero-copy path a capture
 * uses: scans are generated straight into reserved chunk payloads (where
 * IORING_OP_READ would put them), then committed. A subject walks back and
 * forth over a mat of tiles (mostly zeros, as real frames are), two insoles
 * send ATT notifications, clock records, markers and optional gaps follow.
 * Timestamps are simulated (from CLOCK_MONOTONIC at start) unless
 * --realtime paces it to the wall clock. Deterministic for a given --seed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"

#define NS		1000000000ll
#define MAX_INSOLES	4
#define INSOLE_PDU	23	/* opcode, handle, 20 value bytes */
#define MAT_TAIL	24	/* seq, flags, controller clock, timestamp */

struct synth {
	double seconds;
	unsigned int rate, tiles, rows, cols, insoles, chunk_ms;
	double gap_every;
	uint64_t seed;
	unsigned int abort_after;
	bool realtime, quiet;
	struct gcs_writer_opts o;

	uint64_t rng;
	uint32_t nsens, rec_size;
	uint32_t mat, ins[MAX_INSOLES];
	uint64_t mat_seq, ins_seq[MAX_INSOLES];
	int64_t t0;
};

static uint64_t rng_next(struct synth *s)
{
	/* splitmix64: small, good enough for noise */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/*
 * One footprint on the walkway (x along the tiles, y across), at stance
 * phase 0..1: pressure moves from heel to forefoot.
 */
static void paint_foot(struct synth *s, uint8_t *scan, double cx, double cy,
		       double phase)
{
	const double half_len = 13, half_wid = 4.5;
	unsigned int width = s->tiles * s->cols;

	for (int dx = -13; dx <= 13; dx++) {
		for (int dy = -5; dy <= 5; dy++) {
			double u = dx / half_len, v = dy / half_wid;
			double shape, w, val;
			int x = (int)lround(cx) + dx, y = (int)lround(cy) + dy;
			unsigned int tile, col, idx;

			if (u * u + v * v > 1 || x < 0 || y < 0 ||
			    x >= (int)width || y >= (int)s->rows)
				continue;
			shape = 1 - (u * u + v * v);
			w = u < 0 ? 1 - phase : phase;	/* heel, then toes */
			val = 3400 * shape * (0.3 + 0.7 * w) +
			      (double)(rng_next(s) % 41) - 20;
			if (val < 1)
				continue;
			if (val > 4095)
				val = 4095;
			tile = (unsigned int)x / s->cols;
			col = (unsigned int)x % s->cols;
			idx = (tile * s->rows + (unsigned int)y) * s->cols + col;
			put_le16(scan + 2 * idx, (uint16_t)val);
		}
	}
}

/* Walk back and forth at 1.2 m/s, 1 cm sensels, 1 s turns off the mat. */
static void paint_walk(struct synth *s, uint8_t *scan, double t)
{
	const double step_t = 0.55, stance = 0.68, step_len = 66;
	double length = s->tiles * s->cols + 60;	/* 30 cm off each end */
	double cross = length / 120.0, period = 2 * (cross + 1);
	double tp = fmod(t, period);
	bool back = tp >= cross + 1;
	double tc = back ? tp - cross - 1 : tp;

	if (tc > cross + stance)
		return;
	for (int k = 0; k * step_t <= tc; k++) {
		double phase = (tc - k * step_t) / stance, x;

		if (phase > 1)
			continue;
		x = -30 + 15 + k * step_len;
		if (back)
			x = length - 60 - x;
		paint_foot(s, scan, x, s->rows / 2.0 + (k % 2 ? 8 : -8), phase);
	}
}

static int write_mat_chunk(struct synth *s, struct gcs_writer *w,
			   uint32_t n, int64_t t_first, int64_t period)
{
	struct gcs_slot *slot;
	struct gcs_chunk_meta m;
	int ret;

	ret = gcs_writer_reserve(w, s->mat, n * s->rec_size, &slot);
	if (ret)
		return ret;
	/* Straight into the file's pages, as a read from the device would. */
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *scan = slot->data + (size_t)i * s->rec_size;
		uint8_t *tail = scan + 2 * (size_t)s->nsens;
		int64_t t = t_first + (int64_t)i * period;

		memset(scan, 0, 2 * (size_t)s->nsens);
		paint_walk(s, scan, (double)(t - s->t0) / NS);
		put_le32(tail, (uint32_t)(s->mat_seq + i));
		put_le32(tail + 4, 0);
		put_le64(tail + 8, (uint64_t)((t - s->t0) / 1000 + 5000000));
		put_le64(tail + 16, (uint64_t)t);
	}
	m = (struct gcs_chunk_meta){
		.len = n * s->rec_size, .n_records = n,
		.first_seq = s->mat_seq, .last_seq = s->mat_seq + n - 1,
		.t_first_ns = t_first + 200000,	/* host sees it a bit later */
		.t_last_ns = t_first + (int64_t)(n - 1) * period + 200000,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	ret = gcs_writer_commit(w, slot, &m);
	if (!ret)
		s->mat_seq += n;
	return ret;
}

static int write_insole_chunk(struct synth *s, struct gcs_writer *w,
			      unsigned int k, uint32_t n, int64_t t_first,
			      int64_t period)
{
	struct gcs_slot *slot;
	struct gcs_chunk_meta m = { 0 };
	uint8_t pdu[INSOLE_PDU];
	int ret;

	ret = gcs_writer_reserve(w, s->ins[k], n * gcs_var_rec_size(INSOLE_PDU),
				 &slot);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < n; i++) {
		int64_t t = t_first + (int64_t)i * period +
			    (int64_t)(rng_next(s) % 2000000);

		pdu[0] = 0x1b;			/* ATT Handle Value Notification */
		put_le16(pdu + 1, 0x002a);
		for (int b = 3; b < INSOLE_PDU; b++)
			pdu[b] = (uint8_t)(rng_next(s) & 0x3f);
		m.len += gcs_var_rec_put(slot->data + m.len, t, pdu, sizeof(pdu));
		if (!i)
			m.t_first_ns = t;
		m.t_last_ns = t;
	}
	m.n_records = n;
	m.first_seq = s->ins_seq[k];
	m.last_seq = s->ins_seq[k] + n - 1;
	m.flags = GCS_CHUNK_F_CONTIGUOUS;
	ret = gcs_writer_commit(w, slot, &m);
	if (!ret)
		s->ins_seq[k] += n;
	return ret;
}

/* A stream description: a constant template, completed by json-c. */
struct desc_field {
	const char *key;
	const char *str;	/* NULL: the number */
	int64_t num;
};

static int add_desc(struct gcs_writer *w, struct gcs_stream_def *d,
		    const char *tmpl, const struct desc_field *f, size_t n,
		    uint32_t *id)
{
	struct json_object *o = json_tokener_parse(tmpl);
	int ret = -ENOMEM;

	for (size_t i = 0; o && i < n; i++) {
		struct json_object *v = f[i].str ? json_object_new_string(f[i].str) :
						   json_object_new_int64(f[i].num);

		if (!v || json_object_object_add(o, f[i].key, v)) {
			json_object_put(v);
			goto out;
		}
	}
	if (o) {
		d->desc_json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		ret = gcs_writer_add_stream(w, d, id);
	}
out:
	json_object_put(o);
	return ret;
}

static int add_streams(struct synth *s, struct gcs_writer *w)
{
	const struct desc_field mat[] = {
		{ "tiles", NULL, s->tiles }, { "rows", NULL, s->rows },
		{ "cols", NULL, s->cols }, { "rate_hz", NULL, s->rate },
	};
	struct gcs_stream_def d = {
		.kind = GCS_KIND_IIO_SCAN, .record_size = s->rec_size,
		.ts_offset = s->rec_size - 8, .ts_clock = GCS_CLOCK_MONOTONIC,
	};
	int ret;

	ret = add_desc(w, &d,
		       "{\"device\":\"mat0\",\"model\":\"gaitmat-synth\",\"serial\":\"SYN-0001\","
		       "\"firmware\":\"1.0.0\",\"pitch_um\":10000,\"full_scale_kpa\":600,"
		       "\"sensel\":\"le:u12/16\",\"scan\":[\"sensels\",\"seq:le:u32\",\"flags:le:u32\","
		       "\"clock_us:le:u64\",\"timestamp:le:s64\"],\"calibration\":\"unit\"}",
		       mat, 4, &s->mat);
	for (unsigned int k = 0; !ret && k < s->insoles; k++) {
		char dev[24], serial[24];
		const struct desc_field ins[] = {
			{ "device", dev, 0 }, { "serial", serial, 0 },
			{ "side", k % 2 ? "right" : "left", 0 },
		};

		snprintf(dev, sizeof(dev), "insole%u", k);
		snprintf(serial, sizeof(serial), "SYN-I%04u", (k + 1) % 10000);
		d = (struct gcs_stream_def){
			.kind = GCS_KIND_BLE_ATT, .record_size = 0,
			.ts_offset = GCS_NO_TS, .ts_clock = GCS_CLOCK_MONOTONIC,
		};
		ret = add_desc(w, &d,
			       "{\"model\":\"insole-synth\",\"firmware\":\"2.1.0\",\"rate_hz\":100,"
			       "\"att_handle\":42,\"timestamp\":\"kernel_rx\"}",
			       ins, 3, &s->ins[k]);
	}
	return ret;
}

static void show_space(struct synth *s, struct gcs_writer *w, double t)
{
	struct gcs_space sp;
	struct gcs_writer_stats st;

	if (s->quiet || gcs_writer_space(w, mono_now(), &sp))
		return;
	gcs_writer_stats(w, &st);
	fprintf(stderr, "synth: t %6.1f s  raw %7.1f MiB  file %7.1f MiB  "
		"on disk %7.1f MiB  free %.1f GiB", t, (double)st.raw_bytes / (1 << 20),
		(double)sp.file_used / (1 << 20),
		(double)sp.allocated / (1 << 20),
		(double)(sp.fs_avail + sp.prealloc_left) / (1 << 30));
	if (sp.seconds_left >= 0)
		fprintf(stderr, " (~%.0f min left at %.2f MiB/s)",
			sp.seconds_left / 60, sp.rate / (1 << 20));
	fprintf(stderr, "\n");
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / NS, .tv_nsec = t % NS };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int run(struct synth *s, struct gcs_writer *w)
{
	int64_t mat_period = NS / s->rate, ins_period = NS / 100;
	int64_t chunk_ns = (int64_t)s->chunk_ms * 1000000;
	int64_t end, next_clock, next_gap, next_show, t;
	unsigned int chunks = 0;
	int ret;

	s->t0 = mono_now();
	end = s->t0 + (int64_t)(s->seconds * NS);
	next_clock = s->t0;
	next_show = s->t0 + 10 * NS;
	next_gap = s->gap_every > 0 ? s->t0 + (int64_t)(s->gap_every * NS) :
				      INT64_MAX;
	ret = gcs_writer_clock_host(w);
	if (!ret)
		ret = gcs_writer_marker(w, GCS_MARK_SESSION_START, GCS_STREAM_NONE,
					s->t0, 0);
	if (!ret)
		ret = gcs_writer_marker(w, GCS_MARK_TRIAL_START, GCS_STREAM_NONE,
					s->t0, 1);
	for (t = s->t0; !ret && t < end; t += chunk_ns) {
		uint32_t n = (uint32_t)((chunk_ns + mat_period - 1) / mat_period);

		if (s->realtime)
			sleep_until(t + chunk_ns);
		if (t >= next_clock) {
			struct gcs_clock_sample c = {
				.stream = s->mat, .flags = GCS_CLOCKREC_F_DEVICE,
				/* controller clock: 20 ppm fast, 5 s ahead */
				.device_ns = (t - s->t0) + (t - s->t0) / 50000 + 5 * NS,
				.mono_ns = t, .real_ns = t, .boot_ns = t,
				.uncertainty_ns = 50000,
			};

			ret = gcs_writer_clock(w, &c);
			next_clock += NS;
		}
		if (!ret && t >= next_gap) {
			/* The controller dropped 5 scans (link budget). */
			ret = gcs_writer_gap(w, s->mat, GCS_GAP_DEVICE_OVERFLOW,
					     s->mat_seq, s->mat_seq + 4, t,
					     t + 5 * mat_period);
			s->mat_seq += 5;
			next_gap += (int64_t)(s->gap_every * NS);
		}
		if (!ret)
			ret = write_mat_chunk(s, w, n, t, mat_period);
		for (unsigned int k = 0; !ret && k < s->insoles; k++)
			ret = write_insole_chunk(s, w, k,
						 (uint32_t)(chunk_ns / ins_period),
						 t, ins_period);
		if (!ret) {
			int p = gcs_writer_poll(w, mono_now(), false);

			ret = p < 0 ? p : 0;
		}
		if (!ret && t >= next_show) {
			show_space(s, w, (double)(t - s->t0) / NS);
			next_show += 10 * NS;
		}
		if (!ret && s->abort_after && ++chunks >= s->abort_after)
			return 1;
	}
	if (ret == -ENOSPC) {
		fprintf(stderr, "synth: filesystem full after %.1f s of data: "
			"ending the session cleanly\n", (double)(t - s->t0) / NS);
		return 0;
	}
	if (!ret)
		ret = gcs_writer_marker(w, GCS_MARK_TRIAL_END, GCS_STREAM_NONE,
					end, 1);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap synth [OPTIONS] FILE   (developer command)\n"
		"Write a synthetic walking session through the capture write path.\n"
		"  --seconds S      simulated duration (10)\n"
		"  --rate HZ        mat scan rate (100)\n"
		"  --tiles N --rows R --cols C   mat geometry (4 x 64 x 64)\n"
		"  --insoles N      BLE insole streams, 0..4 (2)\n"
		"  --chunk-ms MS    data per chunk (100)\n"
		"  --gap-every S    drop 5 mat scans every S seconds, with a gap record\n"
		"  --seed N         noise seed (1)\n"
		"  --no-compact, --no-reclaim, --grow-mib N, --sync-ms MS, --zstd-level N\n"
		"  --abort-after N  stop after N chunk periods without closing (a 'crash')\n"
		"  --realtime       pace the data to the wall clock\n"
		"  --quiet          no progress lines\n");
}

static int parse(struct synth *s, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "tiles", required_argument, NULL, 't' },
		{ "rows", required_argument, NULL, 'R' },
		{ "cols", required_argument, NULL, 'C' },
		{ "insoles", required_argument, NULL, 'i' },
		{ "chunk-ms", required_argument, NULL, 'c' },
		{ "gap-every", required_argument, NULL, 'g' },
		{ "seed", required_argument, NULL, 'S' },
		{ "no-compact", no_argument, NULL, 'N' },
		{ "no-reclaim", no_argument, NULL, 'P' },
		{ "grow-mib", required_argument, NULL, 'G' },
		{ "sync-ms", required_argument, NULL, 'y' },
		{ "zstd-level", required_argument, NULL, 'z' },
		{ "abort-after", required_argument, NULL, 'a' },
		{ "realtime", no_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* Each numeric option: its range, in the words of the refusal. */
	static const struct {
		int key;
		const char *name, *accepted;
		double lo, hi;
	} nums[] = {
		{ 's', "--seconds", "seconds, more than 0", 1e-3, 1e7 },
		{ 'r', "--rate", "Hz, 1..10000", 1, 10000 },
		{ 't', "--tiles", "1..8", 1, 8 },
		{ 'R', "--rows", "1..64", 1, 64 },
		{ 'C', "--cols", "1..64", 1, 64 },
		{ 'i', "--insoles", "0..4", 0, MAX_INSOLES },
		{ 'c', "--chunk-ms", "milliseconds, 1..10000", 1, 10000 },
		{ 'g', "--gap-every", "seconds, 0 (none) or more", 0, 1e7 },
		{ 'S', "--seed", "a whole number", 0, 1.8e19 },
		{ 'G', "--grow-mib", "MiB, 1..65536", 1, 65536 },
		{ 'y', "--sync-ms", "milliseconds, 1..3600000", 1, 3600000 },
		{ 'z', "--zstd-level", "1..22", 1, 22 },
		{ 'a', "--abort-after", "chunk periods, 0 (never)..1000000000", 0, 1e9 },
	};
	double v = 0;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
			if (nums[i].key == c &&
			    cli_num("synth", nums[i].name, optarg, nums[i].lo,
				    nums[i].hi, nums[i].accepted, &v))
				return 1;
		switch (c) {
		case 's':
			s->seconds = v;
			break;
		case 'r':
			s->rate = (unsigned int)v;
			break;
		case 't':
			s->tiles = (unsigned int)v;
			break;
		case 'R':
			s->rows = (unsigned int)v;
			break;
		case 'C':
			s->cols = (unsigned int)v;
			break;
		case 'i':
			s->insoles = (unsigned int)v;
			break;
		case 'c':
			s->chunk_ms = (unsigned int)v;
			break;
		case 'g':
			s->gap_every = v;
			break;
		case 'S':
			s->seed = strtoull(optarg, NULL, 0);
			break;
		case 'N':
			s->o.no_compact = true;
			break;
		case 'P':
			s->o.no_reclaim = true;
			break;
		case 'G':
			s->o.grow_step = (uint64_t)v << 20;
			break;
		case 'y':
			s->o.sync_interval_ms = (uint32_t)v;
			break;
		case 'z':
			s->o.zstd_level = (int)v;
			break;
		case 'a':
			s->abort_after = (unsigned int)v;
			break;
		case 'T':
			s->realtime = true;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return cli_getopt_error("synth", argv, c);
		}
	}
	if (optind == argc)
		return cli_usage_error("synth", "no session file given: expected one FILE");
	if (optind + 1 != argc)
		return cli_usage_error("synth", "one file at a time: '%s' and '%s' given",
				       argv[optind], argv[optind + 1]);
	/* 2 bytes a sensel and a 24-byte tail: scans stay 8-byte aligned. */
	if ((s->tiles * s->rows * s->cols) % 4)
		return cli_usage_error("synth", "--tiles x --rows x --cols = %u: expected a multiple of 4",
				       s->tiles * s->rows * s->cols);
	return 0;
}

int cmd_synth(int argc, char **argv)
{
	static const char meta[] =
		"{\"subject\":\"SYN-0001\",\"task\":\"walk_back_and_forth\","
		"\"appliance\":\"synth-01\",\"software\":\"gaitcap-" GAITCAP_VERSION "\","
		"\"protocol\":\"synthetic\",\"devices\":[{\"id\":\"mat0\",\"kind\":\"gaitmat\"}]}";
	struct synth s = {
		.seconds = 10, .rate = 100, .tiles = 4, .rows = 64, .cols = 64,
		.insoles = 2, .chunk_ms = 100, .seed = 1,
	};
	struct gcs_writer_stats st;
	struct gcs_writer *w;
	const char *path;
	int ret;

	gcs_writer_opts_init(&s.o);
	ret = parse(&s, argc, argv);
	if (ret)
		return ret;
	path = argv[optind];
	s.rng = s.seed;
	s.nsens = s.tiles * s.rows * s.cols;
	s.rec_size = 2 * s.nsens + MAT_TAIL;
	ret = gcs_writer_create(&w, path, &s.o, meta);
	if (ret) {
		fprintf(stderr, "gaitcap synth: %s: %s\n", path, gcs_strerror(ret));
		return 1;
	}
	ret = add_streams(&s, w);
	if (!ret)
		ret = run(&s, w);
	if (ret == 1) {
		gcs_writer_stats(w, &st);
		gcs_writer_abort(w);
		if (!s.quiet)
			fprintf(stderr, "synth: stopped without closing after %"
				PRIu64 " committed bytes\n", st.committed_end);
		return 0;
	}
	gcs_writer_stats(w, &st);
	if (ret) {
		fprintf(stderr, "gaitcap synth: %s\n", gcs_strerror(ret));
		gcs_writer_close(w);
		return 1;
	}
	ret = gcs_writer_close(w);
	if (ret) {
		fprintf(stderr, "gaitcap synth: closing: %s\n", gcs_strerror(ret));
		return 1;
	}
	if (!s.quiet)
		fprintf(stderr, "synth: %s: %" PRIu64 " raw bytes in %" PRIu64 " chunks, %" PRIu64
			" zstd chunks\n", path, st.raw_bytes, st.chunks, st.zchunks);
	return 0;
}
