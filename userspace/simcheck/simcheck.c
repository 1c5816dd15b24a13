// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat-simcheck: check the mat scans of session files against the
 * emulator's own record of the walk.
 *
 * gaitmat-sim is a pure function of its seed and options, and its ground
 * truth (--truth) says when the walk started and when each controller boot
 * began. From the same options this tool rebuilds the walking model and the
 * controller (calibration gains included), and for every scan in a session
 * asks the controller which sensel values it sent at that scan's instant
 * (mat_ctrl_image(), what the emulator's own tests decode frames against).
 * Every row must match exactly and columns past the tile's width must be
 * zero.
 * So a scan that went through the driver, the engine, a crash and a
 * recovery is checked bit for bit without keeping the bytes anywhere else.
 *
 * Exit status: 0 every scan matched; 1 a mismatch (or fewer scans than
 * --min-scans); 2 usage or I/O error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "session/gcsession.h"
#include "sim/gait_model.h"
#include "sim/mat_ctrl.h"

/* Sequence, controller clock, flags, missing scans, timestamp. */
#define META_BYTES	32

struct opts {
	const char *truth;
	struct mat_cfg cfg;
	struct gait_params gait;
	unsigned int boot;
	uint64_t min_scans;
	bool contiguous, quiet, allow_empty, raw;
	bool boot_per_stream;	/* the k-th scan stream is boot k (resets) */
};

/* What the truth says about time. */
struct truth {
	uint64_t walk_start_sim;
	uint64_t walk_duration_us;
	uint64_t *boot_sim;
	size_t n_boots;
	unsigned int n_tiles;
};

/* The scan layout of one stream, from its description. */
struct layout {
	unsigned int tiles, rows, cols, repeat;
	uint32_t scan_bytes, rows_bytes;
	uint32_t off_seq, off_clock, off_ts;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitmat-simcheck [--truth FILE] [SIM OPTIONS] [--min-scans N] SESSION...\n"
		"Check every mat scan of the sessions against the emulator's walk.\n"
		"Without --truth (the emulator died too), scan 0 of boot 0 must be in a session.\n"
		"SIM OPTIONS: the gaitmat-sim options of the run that matter for the image:\n"
		"  --tiles N --seed N --duration S | --passes N --gait KIND --full-scale KPA\n"
		"  --gain-spread PCT --rate HZ --speed --cadence --step-length\n"
		"  --boot N           the controller boot the scans belong to (default 0)\n"
		"  --boot-per-stream  stream k of a file is boot N + k (reattached after resets)\n"
		"  --contiguous       no gap allowed inside a session\n"
		"  --min-scans N      fail when a session holds fewer scans (SESSION@N: for one)\n"
		"  --allow-empty      a session without scans (killed early) is fine\n"
		"  --raw              the files are raw scans back to back (iio_readdev's\n"
		"                     output), 64 x 64 tiles; needs --truth\n"
		"  -q, --quiet        print only failures and the total\n");
}

static uint64_t get_u64(struct json_object *o, const char *path)
{
	struct json_object *v = o;
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
		if (!v || !json_object_object_get_ex(v, tok, &v))
			return UINT64_MAX;
	return v ? (uint64_t)json_object_get_int64(v) : UINT64_MAX;
}

static int read_truth(const char *path, struct truth *t)
{
	struct json_object *root = json_object_from_file(path), *boots;
	size_t i;

	if (!root) {
		fprintf(stderr, "gaitmat-simcheck: %s: not a JSON file\n", path);
		return -EINVAL;
	}
	t->walk_start_sim = get_u64(root, "controller.walk_start.sim_us");
	t->walk_duration_us = get_u64(root, "model.walk_duration_us");
	t->n_tiles = (unsigned int)get_u64(root, "walkway.n_tiles");
	if (!json_object_object_get_ex(root, "controller", &boots) ||
	    !json_object_object_get_ex(boots, "boots", &boots) ||
	    t->walk_start_sim == UINT64_MAX) {
		fprintf(stderr, "gaitmat-simcheck: %s: no boots or walk start (did the emulator stream?)\n",
			path);
		json_object_put(root);
		return -EINVAL;
	}
	t->n_boots = json_object_array_length(boots);
	t->boot_sim = calloc(t->n_boots ? t->n_boots : 1, sizeof(*t->boot_sim));
	if (!t->boot_sim) {
		json_object_put(root);
		return -ENOMEM;
	}
	for (i = 0; i < t->n_boots; i++)
		t->boot_sim[i] = get_u64(json_object_array_get_idx(boots, i),
					 "sim_us");
	json_object_put(root);
	return 0;
}

static int stream_layout(const struct gcs_stream_info *si, struct layout *l);

/*
 * Without a truth file (the emulator died with the guest): walk time 0 is
 * the controller's first streaming scan, sequence number 0 of boot 0, so
 * its controller clock, found in any of the sessions, anchors the walk.
 */
static int truth_from_seq0(char **files, int n, struct truth *t)
{
	for (int i = 0; i < n; i++) {
		struct gcs_reader *r;

		if (gcs_reader_open(&r, files[i], 0))
			continue;
		for (size_t k = 0; k < gcs_reader_n_streams(r); k++) {
			const struct gcs_stream_info *si = gcs_reader_stream(r, k);
			struct gcs_rec_iter it;
			struct gcs_record rec;
			struct layout l;

			if (si->kind != GCS_KIND_IIO_SCAN || si->first_seq ||
			    stream_layout(si, &l))
				continue;
			gcs_rec_iter_init(&it, r, si->id);
			if (gcs_rec_iter_next(&it, &rec) == 1 && !rec.seq) {
				const uint8_t *p = rec.data + l.off_clock;
				uint64_t clock = 0;

				for (int b = 7; b >= 0; b--)
					clock = clock << 8 | p[b];
				t->walk_start_sim = clock;
				t->n_tiles = l.tiles;
				t->n_boots = 1;
				t->boot_sim = calloc(1, sizeof(*t->boot_sim));
				gcs_reader_close(r);
				return t->boot_sim ? 0 : -ENOMEM;
			}
		}
		gcs_reader_close(r);
	}
	fprintf(stderr, "gaitmat-simcheck: no truth file and no session holds scan 0: cannot place the walk\n");
	return -ENOENT;
}

static int json_uint(struct json_object *o, const char *k, unsigned int *v)
{
	struct json_object *x;

	if (!json_object_object_get_ex(o, k, &x))
		return -ENOENT;
	*v = (unsigned int)json_object_get_int64(x);
	return 0;
}

static int stream_layout(const struct gcs_stream_info *si, struct layout *l)
{
	struct json_object *d = json_tokener_parse(si->desc_json), *f;
	unsigned int v[6] = { 0 };
	int ret = -EINVAL;

	if (!d)
		return -EINVAL;
	if (json_uint(d, "tiles", &l->tiles) || json_uint(d, "rows", &l->rows) ||
	    json_uint(d, "cols", &l->cols) || json_uint(d, "scan_bytes", v) ||
	    json_uint(d, "rows_bytes", v + 1) ||
	    !json_object_object_get_ex(d, "fields", &f) ||
	    json_uint(f, "seq", v + 2) ||
	    json_uint(f, "controller_clock_us", v + 3) ||
	    json_uint(f, "timestamp", v + 4))
		goto out;
	l->scan_bytes = v[0];
	l->rows_bytes = v[1];
	l->off_seq = v[2];
	l->off_clock = v[3];
	l->off_ts = v[4];
	if (!l->tiles || !l->rows || !l->cols || l->scan_bytes != si->record_size ||
	    l->rows_bytes % (2 * l->tiles * l->rows) ||
	    l->off_seq != l->rows_bytes || l->off_seq + META_BYTES != l->scan_bytes)
		goto out;
	l->repeat = l->rows_bytes / (2 * l->tiles * l->rows);
	ret = l->repeat >= l->cols ? 0 : -EINVAL;
out:
	json_object_put(d);
	return ret;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int check_scan(struct mat_ctrl *ctrl, const struct truth *t,
		      const struct opts *o, const struct layout *l,
		      const uint8_t *scan, uint16_t *img, char *why, size_t len)
{
	uint64_t clock = le64(scan + l->off_clock);
	int64_t walk_us = (int64_t)(t->boot_sim[o->boot] + clock) -
			  (int64_t)t->walk_start_sim;

	if (walk_us < 0) {
		snprintf(why, len, "scan at controller clock %" PRIu64
			 " us is before the walk started", clock);
		return -1;
	}
	mat_ctrl_image(ctrl, (uint64_t)walk_us, img);
	for (unsigned int ch = 0; ch < l->tiles * l->rows; ch++) {
		const uint8_t *row = scan + (size_t)ch * l->repeat * 2;

		for (unsigned int c = 0; c < l->repeat; c++) {
			uint16_t want = c < l->cols ? img[ch * l->cols + c] : 0;

			if (le16(row + 2 * c) != want) {
				snprintf(why, len, "tile %u row %u col %u: %u, expected %u (walk %.6f s)",
					 ch / l->rows, ch % l->rows, c,
					 le16(row + 2 * c), want, walk_us / 1e6);
				return -1;
			}
		}
	}
	return 0;
}

/* What one file's scans add up to, whatever holds them. */
struct tally {
	const char *path;
	uint64_t scans, bad, gaps, first, last, prev_seq;
	int64_t first_ts, last_ts, prev_ts;
	bool have;
	uint16_t *img;
};

/* One scan; @chunk_seq is the sequence number its container gives it. */
static void feed(struct tally *y, struct mat_ctrl *ctrl, const struct truth *t,
		 const struct opts *o, const struct layout *l,
		 const uint8_t *scan, uint64_t chunk_seq)
{
	uint64_t seq = le64(scan + l->off_seq);
	int64_t ts = (int64_t)le64(scan + l->off_ts);
	char why[256] = "";

	if (chunk_seq != seq)
		snprintf(why, sizeof(why), "seq %" PRIu64 " in the chunk, %" PRIu64
			 " in the scan", chunk_seq, seq);
	else if (y->have && seq <= y->prev_seq)
		snprintf(why, sizeof(why), "seq %" PRIu64 " after %" PRIu64, seq,
			 y->prev_seq);
	else if (y->have && ts < y->prev_ts)
		snprintf(why, sizeof(why), "timestamp goes back");
	else
		check_scan(ctrl, t, o, l, scan, y->img, why, sizeof(why));
	if (*why && !y->bad++)
		fprintf(stderr, "%s: seq %" PRIu64 ": %s\n", y->path, seq, why);
	if (y->have && seq > y->prev_seq + 1)
		y->gaps += seq - y->prev_seq - 1;
	if (!y->have && !y->scans) {
		y->first = seq;
		y->first_ts = ts;
	}
	y->last = seq;
	if (ts > y->last_ts)
		y->last_ts = ts;
	y->prev_seq = seq;
	y->prev_ts = ts;
	y->have = true;
	y->scans++;
}

static int verdict(struct tally *y, const struct opts *o, int rc, bool any,
		   uint64_t *total)
{
	if (!any && !rc && !o->allow_empty) {
		fprintf(stderr, "%s: no gaitmat scans\n", y->path);
		rc = 1;
	}
	if (y->bad) {
		fprintf(stderr, "%s: %" PRIu64 " of %" PRIu64 " scans differ from the walk\n",
			y->path, y->bad, y->scans);
		rc = 1;
	}
	if (o->contiguous && y->gaps) {
		fprintf(stderr, "%s: %" PRIu64 " scans missing between seq %" PRIu64
			" and %" PRIu64 "\n", y->path, y->gaps, y->first, y->last);
		rc = 1;
	}
	if (y->scans < o->min_scans) {
		fprintf(stderr, "%s: %" PRIu64 " scans, fewer than %" PRIu64 "\n",
			y->path, y->scans, o->min_scans);
		rc = 1;
	}
	if (!rc && !o->quiet)
		printf("%s: %" PRIu64 " scans match the walk (seq %" PRIu64 "..%" PRIu64
		       ", %" PRIu64 " missing in between) first_t=%" PRId64
		       " last_t=%" PRId64 "\n", y->path, y->scans, y->first,
		       y->last, y->gaps, y->first_ts, y->last_ts);
	*total += y->scans;
	free(y->img);
	return rc;
}

static int check_file(const char *path, struct mat_ctrl *ctrl,
		      const struct truth *t, const struct opts *o,
		      uint64_t *total)
{
	struct tally y = { .path = path };
	const struct gcs_file_info *fi;
	struct gcs_reader *r;
	unsigned int k = 0;
	int ret, rc = 0;
	bool any = false;

	ret = gcs_reader_open(&r, path, GCS_OPEN_VERIFY);
	if (ret) {
		fprintf(stderr, "%s: %s\n", path, gcs_strerror(ret));
		return 2;
	}
	fi = gcs_reader_info(r);
	if (fi->n_damaged || fi->n_lost) {
		fprintf(stderr, "%s: %" PRIu64 " damaged records, %" PRIu64
			" lost chunks\n", path, fi->n_damaged, fi->n_lost);
		rc = 1;
	}
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		const struct gcs_stream_info *si = gcs_reader_stream(r, i);
		struct gcs_rec_iter it;
		struct gcs_record rec;
		struct opts so = *o;
		struct layout l;

		if (si->kind != GCS_KIND_IIO_SCAN)
			continue;
		/* A capture that reattached after a reset: a stream per boot. */
		if (o->boot_per_stream)
			so.boot = o->boot + k++;
		if (so.boot >= t->n_boots) {
			fprintf(stderr, "%s: stream %u: the walk has no boot %u\n",
				path, si->id, so.boot);
			rc = 1;
			continue;
		}
		if (stream_layout(si, &l)) {
			fprintf(stderr, "%s: stream %u: not a gaitmat scan description\n",
				path, si->id);
			rc = 2;
			continue;
		}
		if (l.tiles != t->n_tiles) {
			fprintf(stderr, "%s: stream %u has %u tiles, the walk %u\n",
				path, si->id, l.tiles, t->n_tiles);
			rc = 1;
			continue;
		}
		free(y.img);
		y.img = calloc((size_t)l.tiles * l.rows * l.cols, sizeof(*y.img));
		if (!y.img) {
			rc = 2;
			break;
		}
		/* A stream per attach: sequence numbers start over in each. */
		y.have = false;
		any = true;
		gcs_rec_iter_init(&it, r, si->id);
		while ((ret = gcs_rec_iter_next(&it, &rec)) == 1) {
			if (rec.len != l.scan_bytes) {
				y.bad++;
				continue;
			}
			feed(&y, ctrl, t, &so, &l, rec.data, rec.seq);
		}
		if (ret < 0) {
			fprintf(stderr, "%s: stream %u: unreadable chunk\n", path,
				si->id);
			rc = 1;
		}
	}
	gcs_reader_close(r);
	return verdict(&y, o, rc, any, total);
}

/*
 * A raw capture (iio_readdev's output, a read()/write() loop's): scans back
 * to back, in the driver's layout for 64 x 64 tiles (docs/driver.md).
 */
static int check_raw(const char *path, struct mat_ctrl *ctrl,
		     const struct truth *t, const struct opts *o,
		     uint64_t *total)
{
	struct tally y = { .path = path };
	/* 64 columns: four 16-sensel elements per row, no padding. */
	struct layout l = {
		.tiles = t->n_tiles, .rows = 64, .cols = 64, .repeat = 64,
	};
	uint8_t *scan;
	FILE *f;
	int rc = 0;

	l.rows_bytes = l.tiles * l.rows * l.repeat * 2;
	l.scan_bytes = l.rows_bytes + META_BYTES;
	l.off_seq = l.rows_bytes;
	l.off_clock = l.rows_bytes + 8;
	l.off_ts = l.scan_bytes - 8;
	f = fopen(path, "rb");
	scan = malloc(l.scan_bytes);
	y.img = calloc((size_t)l.tiles * l.rows * l.cols, sizeof(*y.img));
	if (!f || !scan || !y.img) {
		fprintf(stderr, "%s: cannot read it\n", path);
		if (f)
			fclose(f);
		free(scan);
		free(y.img);
		return 2;
	}
	while (fread(scan, l.scan_bytes, 1, f) == 1)
		feed(&y, ctrl, t, o, &l, scan, le64(scan + l.off_seq));
	if (!feof(f) || ftell(f) % l.scan_bytes) {
		fprintf(stderr, "%s: ends in the middle of a scan\n", path);
		rc = 1;
	}
	fclose(f);
	free(scan);
	return verdict(&y, o, rc, y.scans > 0, total);
}

static int sink(void *ctx, const uint8_t *buf, size_t len, uint64_t sim_us)
{
	(void)ctx;
	(void)buf;
	(void)len;
	(void)sim_us;
	return 0;
}

static int num(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	enum {
		O_TRUTH = 256, O_TILES, O_SEED, O_DURATION, O_PASSES, O_GAIT,
		O_FULL_SCALE, O_GAIN_SPREAD, O_RATE, O_SPEED, O_CADENCE,
		O_STEP_LENGTH, O_BOOT, O_CONTIGUOUS, O_MIN_SCANS, O_ALLOW_EMPTY,
		O_RAW, O_BOOT_PER_STREAM,
	};
	static const struct option lopts[] = {
		{ "truth", required_argument, NULL, O_TRUTH },
		{ "tiles", required_argument, NULL, O_TILES },
		{ "seed", required_argument, NULL, O_SEED },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "passes", required_argument, NULL, O_PASSES },
		{ "gait", required_argument, NULL, O_GAIT },
		{ "full-scale", required_argument, NULL, O_FULL_SCALE },
		{ "gain-spread", required_argument, NULL, O_GAIN_SPREAD },
		{ "rate", required_argument, NULL, O_RATE },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "cadence", required_argument, NULL, O_CADENCE },
		{ "step-length", required_argument, NULL, O_STEP_LENGTH },
		{ "boot", required_argument, NULL, O_BOOT },
		{ "contiguous", no_argument, NULL, O_CONTIGUOUS },
		{ "min-scans", required_argument, NULL, O_MIN_SCANS },
		{ "allow-empty", no_argument, NULL, O_ALLOW_EMPTY },
		{ "raw", no_argument, NULL, O_RAW },
		{ "boot-per-stream", no_argument, NULL, O_BOOT_PER_STREAM },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { 0 };
	struct gait_model *model = NULL;
	struct mat_ctrl *ctrl = NULL;
	struct fault_plan faults;
	struct truth t = { 0 };
	struct walkway w;
	uint64_t total = 0;
	char err[200];
	int c, rc = 0, files = 0, failed = 0;
	long long *mins = NULL;
	double v = 0;

	mat_cfg_init(&o.cfg);
	gait_params_init(&o.gait);
	memset(&faults, 0, sizeof(faults));
	while ((c = getopt_long(argc, argv, "qh", lopts, NULL)) != -1) {
		if (c != 'q' && c != 'h' && c != O_TRUTH && c != O_GAIT &&
		    c != O_CONTIGUOUS && c != O_ALLOW_EMPTY && c != O_RAW && c != '?' &&
		    c != O_BOOT_PER_STREAM &&
		    num(optarg, &v)) {
			usage(stderr);
			return 2;
		}
		switch (c) {
		case O_TRUTH:
			o.truth = optarg;
			break;
		case O_TILES:
			o.cfg.n_tiles = (unsigned int)v;
			break;
		case O_SEED:
			o.cfg.seed = (uint64_t)v;
			break;
		case O_DURATION:
			o.gait.duration_s = v;
			break;
		case O_PASSES:
			o.gait.passes = (unsigned int)v;
			break;
		case O_GAIT:
			if (gait_kind_parse(optarg, &o.gait.kind)) {
				usage(stderr);
				return 2;
			}
			break;
		case O_FULL_SCALE:
			o.cfg.full_scale_kpa = (uint16_t)v;
			break;
		case O_GAIN_SPREAD:
			o.cfg.gain_spread = v / 100.0;
			break;
		case O_RATE:
			o.cfg.rate_hz = (unsigned int)v;
			break;
		case O_SPEED:
			o.gait.speed_mps = v;
			break;
		case O_CADENCE:
			o.gait.cadence_spm = v;
			break;
		case O_STEP_LENGTH:
			o.gait.step_length_m = v;
			break;
		case O_BOOT:
			o.boot = (unsigned int)v;
			break;
		case O_CONTIGUOUS:
			o.contiguous = true;
			break;
		case O_MIN_SCANS:
			o.min_scans = (uint64_t)v;
			break;
		case O_ALLOW_EMPTY:
			o.allow_empty = true;
			break;
		case O_RAW:
			o.raw = true;
			break;
		case O_BOOT_PER_STREAM:
			o.boot_per_stream = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	mins = calloc((size_t)argc, sizeof(*mins));
	if (!mins)
		return 2;
	/* SESSION@N: at least N scans in that one (what its capture committed). */
	for (int i = optind; i < argc; i++) {
		char *at = strrchr(argv[i], '@');

		mins[i] = -1;
		if (at && !num(at + 1, &v)) {
			*at = '\0';
			mins[i] = (long long)v;
		}
	}
	if (o.raw && !o.truth) {
		usage(stderr);
		free(mins);
		return 2;
	}
	if (o.truth ? read_truth(o.truth, &t) :
		      truth_from_seq0(argv + optind, argc - optind, &t)) {
		free(mins);
		return 2;
	}
	if (o.boot >= t.n_boots) {
		fprintf(stderr, "gaitmat-simcheck: the walk has %zu boots\n", t.n_boots);
		rc = 2;
		goto out;
	}
	if (gait_params_resolve(&o.gait, err, sizeof(err))) {
		fprintf(stderr, "gaitmat-simcheck: %s\n", err);
		rc = 2;
		goto out;
	}
	mat_walkway_line(&w, o.cfg.n_tiles);
	if (gait_model_create(&model, &o.gait, &w, o.cfg.seed) ||
	    mat_ctrl_create(&ctrl, &o.cfg, model, &faults, sink, NULL, err,
			    sizeof(err))) {
		fprintf(stderr, "gaitmat-simcheck: cannot rebuild the emulator\n");
		rc = 2;
		goto out;
	}
	/* The same options must give the same walk: its length proves it. */
	if ((o.truth && gait_model_duration_us(model) != t.walk_duration_us) ||
	    o.cfg.n_tiles != t.n_tiles) {
		fprintf(stderr,
			"gaitmat-simcheck: these options give another walk than %s (%" PRIu64
			" us, %u tiles; it says %" PRIu64 " us, %u tiles)\n",
			o.truth, gait_model_duration_us(model), o.cfg.n_tiles,
			t.walk_duration_us, t.n_tiles);
		rc = 2;
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		struct opts fo = o;
		int r;

		if (mins[i] >= 0)
			fo.min_scans = (uint64_t)mins[i];
		r = o.raw ? check_raw(argv[i], ctrl, &t, &fo, &total) :
			    check_file(argv[i], ctrl, &t, &fo, &total);

		files++;
		if (r)
			failed++;
		if (r > rc)
			rc = r;
	}
	printf("gaitmat-simcheck: %d of %d sessions match the walk, %" PRIu64 " scans checked\n",
	       files - failed, files, total);
out:
	free(mins);
	mat_ctrl_destroy(ctrl);
	gait_model_destroy(model);
	free(t.boot_sim);
	return rc;
}
