// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the gaitmat-sim unit tests (see test_sim_util.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_sim_util.h"

/* ---- Receiver ---------------------------------------------------------------- */

static struct rx_frame *rx_push(struct rx_log *log)
{
	if (log->n == log->cap) {
		size_t cap = log->cap ? 2 * log->cap : 256;
		struct rx_frame *f = realloc(log->f, cap * sizeof(*f));

		if (!f)
			return NULL;
		log->f = f;
		log->cap = cap;
	}
	memset(&log->f[log->n], 0, sizeof(log->f[0]));
	return &log->f[log->n++];
}

static int rx_image_slot(struct rx_log *log, uint16_t **slot)
{
	static uint16_t *scratch;
	static size_t scratch_n;

	if (!log->keep_images) {
		if (scratch_n < log->n_sensels) {
			free(scratch);
			scratch = malloc(log->n_sensels * sizeof(*scratch));
			scratch_n = scratch ? log->n_sensels : 0;
			if (!scratch)
				return -1;
		}
		*slot = scratch;
		return -1;
	}
	/* Grow by doubling: images are kept for the whole stream. */
	if ((log->n_images & (log->n_images - 1)) == 0) {
		size_t cap = log->n_images ? 2 * log->n_images : 1;
		uint16_t *im = realloc(log->images,
				       cap * log->n_sensels * sizeof(*im));

		if (!im)
			return -2;
		log->images = im;
	}
	*slot = log->images + log->n_images * log->n_sensels;
	return log->n_images++;
}

static int rx_frame_done(struct rx_log *log, const uint8_t *raw, int len,
			 size_t offset)
{
	struct gm_hdr hdr;
	struct rx_frame *f;
	struct gm_calib cal;
	const uint8_t *body = gm_body(raw);
	uint16_t *img;
	unsigned int i, per_tile;
	long slot;

	if (gm_parse_hdr(raw, len, &hdr))
		return -1;
	f = rx_push(log);
	if (!f)
		return -1;
	f->type = hdr.type;
	f->flags = hdr.flags;
	f->seq = hdr.seq;
	f->clock_us = hdr.clock_us;
	f->offset = offset;
	f->image = -1;
	switch (hdr.type) {
	case GM_T_DEVINFO:
		if (gm_parse_devinfo(body, hdr.body_len, &f->u.di))
			return -1;
		if (!log->have_di || f->u.di.boot_id != log->di.boot_id)
			log->n_boots++;
		log->di = f->u.di;
		log->have_di = true;
		if (log->n_sensels != (unsigned int)log->di.n_tiles *
				       log->di.rows * log->di.cols) {
			if (log->n_images)
				return -1;	/* geometry changed mid-stream */
			log->n_sensels = log->di.n_tiles * log->di.rows *
					 log->di.cols;
			free(log->gains);
			log->gains = calloc(log->n_sensels, sizeof(*log->gains));
			if (!log->gains)
				return -1;
		}
		break;
	case GM_T_CALIB:
		if (!log->have_di ||
		    gm_parse_calib(&log->di, body, hdr.body_len, &cal))
			return -1;
		f->u.calib_tile = cal.tile;
		per_tile = log->di.rows * log->di.cols;
		for (i = 0; i < cal.n_gains; i++)
			log->gains[cal.tile * per_tile + i] =
				gm_get_le16(cal.gains + 2 * i);
		break;
	case GM_T_DENSE:
	case GM_T_SPARSE:
		if (!log->have_di)
			return -1;
		slot = rx_image_slot(log, &img);
		if (slot == -2)
			return -1;
		if ((hdr.type == GM_T_DENSE ?
		     gm_decode_dense(&log->di, body, hdr.body_len, img,
				     log->n_sensels) :
		     gm_decode_sparse(&log->di, body, hdr.body_len, img,
				      log->n_sensels)) != (int)log->n_sensels)
			return -1;
		f->image = slot;
		break;
	case GM_T_STATUS:
		if (gm_parse_status(body, hdr.body_len, &f->u.st))
			return -1;
		break;
	case GM_T_ACK:
		if (gm_parse_ack(body, hdr.body_len, &f->u.ack))
			return -1;
		break;
	default:
		return -1;
	}
	f->boot = log->n_boots ? log->n_boots - 1 : 0;
	return 0;
}

int rx_decode(const uint8_t *buf, size_t len, struct rx_log *log,
	      bool keep_images)
{
	uint8_t *raw = malloc(GM_MAX_RAW);
	size_t pos, start = 0;
	struct gm_rx rx;
	bool fs;
	int res, ret = 0;

	memset(log, 0, sizeof(*log));
	log->keep_images = keep_images;
	log->error_offsets = calloc(len + 1, sizeof(*log->error_offsets));
	if (!raw || !log->error_offsets) {
		free(raw);
		return -1;
	}
	gm_rx_init(&rx, raw, GM_MAX_RAW);
	/* A byte at a time, so a frame's first byte is known exactly. */
	for (pos = 0; pos < len; pos++) {
		gm_rx_feed(&rx, buf + pos, 1, &res, &fs);
		if (fs)
			start = pos;
		if (res > 0) {
			ret = rx_frame_done(log, raw, res, start);
			if (ret)
				break;
		} else if (res < 0) {
			log->errors[-res]++;
			log->error_offsets[log->n_errors++] = pos;
		}
	}
	free(raw);
	return ret;
}

void rx_free(struct rx_log *log)
{
	free(log->f);
	free(log->images);
	free(log->gains);
	free(log->error_offsets);
	memset(log, 0, sizeof(*log));
}

const uint16_t *rx_image(const struct rx_log *log, const struct rx_frame *f)
{
	if (f->image < 0 || !log->keep_images)
		return NULL;
	return log->images + (size_t)f->image * log->n_sensels;
}

size_t rx_count(const struct rx_log *log, uint8_t type)
{
	size_t i, n = 0;

	for (i = 0; i < log->n; i++)
		n += log->f[i].type == type;
	return n;
}

/* ---- Moticon fixture ------------------------------------------------------------ */

#define MOTICON_FILE	"moticon-opengo/walk_data_with_events.txt"

/* The repository's top, from this file's path (tests/unit/...). */
static void repo_top(char *buf, size_t len)
{
	const char *tail = strstr(__FILE__, "tests/unit/");

	if (!tail || __FILE__[0] != '/') {
		snprintf(buf, len, ".");
		return;
	}
	snprintf(buf, len, "%.*s", (int)(tail - __FILE__), __FILE__);
}

static FILE *moticon_open(char *where, size_t where_len)
{
	char top[512], path[4][700];
	const char *env = getenv("GAITCAP_FIXTURES");
	unsigned int i, n = 0;
	FILE *f;

	repo_top(top, sizeof(top));
	if (env)
		snprintf(path[n++], sizeof(path[0]), "%s/%s", env, MOTICON_FILE);
	snprintf(path[n++], sizeof(path[0]), "%stests/fixtures/%s", top,
		 MOTICON_FILE);
	/* CI and developers have shared/ beside the work tree. */
	snprintf(path[n++], sizeof(path[0]), "%s../shared/fixtures/%s", top,
		 MOTICON_FILE);
	where[0] = '\0';
	for (i = 0; i < n; i++) {
		f = fopen(path[i], "r");
		if (f)
			return f;
		snprintf(where + strlen(where), where_len - strlen(where),
			 "%s%s", i ? ", " : "", path[i]);
	}
	return NULL;
}

/* Column index (0-based) of @name in the tab-separated header line. */
static int column_of(const char *header, const char *name)
{
	const char *p = header;
	int col = 0;

	while (p) {
		if (!strncmp(p, name, strlen(name)))
			return col;
		p = strchr(p, '\t');
		if (p)
			p++;
		col++;
	}
	return -1;
}

static double field(const char *line, int col)
{
	const char *p = line;
	char *end;
	double v;

	while (col-- > 0) {
		p = strchr(p, '\t');
		if (!p)
			return NAN;
		p++;
	}
	v = strtod(p, &end);
	return end == p ? NAN : v;
}

int moticon_load(double **left, double **right, size_t *n, char *where,
		 size_t where_len)
{
	int lcol = -1, rcol = -1, ret = 0;
	size_t cap = 0, cnt = 0;
	char *line = NULL;
	size_t line_cap = 0;
	FILE *f;

	*left = *right = NULL;
	f = moticon_open(where, where_len);
	if (!f)
		return -ENOENT;
	while (getline(&line, &line_cap, f) > 0) {
		if (line[0] == '#') {
			/* "# time<TAB>left pressure 1[N/cm²]..." names the columns */
			if (!strncmp(line, "# time\t", 7)) {
				lcol = column_of(line + 2, "left total force");
				rcol = column_of(line + 2, "right total force");
			}
			continue;
		}
		if (lcol < 0 || rcol < 0) {
			ret = -EINVAL;
			break;
		}
		if (cnt == cap) {
			cap = cap ? 2 * cap : 512;
			*left = realloc(*left, cap * sizeof(double));
			*right = realloc(*right, cap * sizeof(double));
			if (!*left || !*right) {
				ret = -ENOMEM;
				break;
			}
		}
		(*left)[cnt] = field(line, lcol);
		(*right)[cnt] = field(line, rcol);
		cnt++;
	}
	free(line);
	fclose(f);
	*n = cnt;
	if (!ret && !cnt)
		ret = -EINVAL;
	return ret;
}

/* ---- Curves ------------------------------------------------------------------- */

static double sample_at(const double *x, size_t n, double t)
{
	size_t i = (size_t)floor(t);
	double fr = t - i;

	if (i + 1 >= n)
		return x[n - 1];
	return x[i] * (1 - fr) + x[i + 1] * fr;
}

int stance_mean_curve(const double *x, size_t n, double curve[CURVE_POINTS])
{
	double max = 0, thr, t0, t1, peak = 0;
	size_t i, j, k;
	int count = 0;

	for (i = 0; i < n; i++)
		if (!isnan(x[i]) && x[i] > max)
			max = x[i];
	thr = 0.1 * max;
	memset(curve, 0, CURVE_POINTS * sizeof(double));
	for (i = 1; i < n; i++) {
		if (isnan(x[i - 1]) || isnan(x[i]) ||
		    !(x[i - 1] < thr && x[i] >= thr))
			continue;
		for (j = i; j < n && !isnan(x[j]) && x[j] >= thr; j++)
			;
		if (j >= n || isnan(x[j]))
			break;	/* stance runs past the end: incomplete */
		/* Threshold crossings, linearly interpolated. */
		t0 = (i - 1) + (thr - x[i - 1]) / (x[i] - x[i - 1]);
		t1 = (j - 1) + (x[j - 1] - thr) / (x[j - 1] - x[j]);
		for (k = 0; k < CURVE_POINTS; k++)
			curve[k] += sample_at(x, n, t0 + (t1 - t0) * k /
					      (CURVE_POINTS - 1));
		count++;
		i = j;
	}
	if (!count)
		return 0;
	for (k = 0; k < CURVE_POINTS; k++)
		peak = fmax(peak, curve[k]);
	for (k = 0; k < CURVE_POINTS; k++)
		curve[k] /= peak;
	return count;
}

double pearson(const double *a, const double *b, size_t n)
{
	double ma = 0, mb = 0, sab = 0, sa = 0, sb = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		ma += a[i];
		mb += b[i];
	}
	ma /= n;
	mb /= n;
	for (i = 0; i < n; i++) {
		sab += (a[i] - ma) * (b[i] - mb);
		sa += (a[i] - ma) * (a[i] - ma);
		sb += (b[i] - mb) * (b[i] - mb);
	}
	return sab / sqrt(sa * sb);
}

int moticon_reference_curve(double ref[CURVE_POINTS], char *where,
			    size_t where_len)
{
	double *left, *right, rc[CURVE_POINTS];
	int nl, nr, ret;
	size_t n, k;

	ret = moticon_load(&left, &right, &n, where, where_len);
	if (ret)
		return ret;
	nl = stance_mean_curve(left, n, ref);
	nr = stance_mean_curve(right, n, rc);
	free(left);
	free(right);
	/* 5 s of walking: at least three whole stances a foot. */
	if (nl < 3 || nr < 3)
		return -EINVAL;
	for (k = 0; k < CURVE_POINTS; k++)
		ref[k] = (ref[k] * nl + rc[k] * nr) / (nl + nr);
	return 0;
}
