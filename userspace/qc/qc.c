// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap qc: signal-quality checks (docs/qc.md). One pass over each
 * stream's records gathers what the checks need (histograms of intervals
 * and loads, runs of identical samples) and what the report draws, all in
 * memory bounded whatever the session's length; GSL does the robust clock
 * fit.
 * Given a refine output folder, the stride checks, the insole-mat agreement
 * and the parameter table come from refine's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <json-c/json.h>

#include "ble/insole_gatt.h"
#include "qc/import.h"
#include "qc/qc.h"
#include "qc/qhist.h"
#include "session/gcsession.h"

/* Thresholds (docs/qc.md says why each). */
#define LOSS_WARN_PCT		0.5
#define LOSS_FAIL_PCT		2.0
#define JITTER_WARN_PCT		10.0
#define JITTER_FAIL_PCT		25.0
#define CLOCK_WARN_MS		2.0
#define CLOCK_FAIL_MS		10.0
#define SAT_WARN_PCT		1.0
#define SAT_FAIL_PCT		5.0
#define FLAT_WARN_S		0.25
#define FLAT_FAIL_S		1.0
#define ZERO_WARN_PCT		15.0
#define ZERO_FAIL_PCT		30.0
#define STRIDES_WARN		10.0
#define STRIDES_FAIL		4.0
#define AGREE_WARN_MS		20.0
#define AGREE_FAIL_MS		40.0
/* refine's text files are far smaller (a 60 s session: 10 KiB each). */
#define REFINE_FILE_MAX		(64 << 20)
/* Any problem gaitcap info calls one fails; a file with no data fails. */
#define INTEGRITY_WARN		0.0
#define INTEGRITY_FAIL		0.0
#define DATA_WARN		1.0
#define DATA_FAIL		1.0
/* A sample is loaded above this fraction of the stream's p95 load. */
#define LOADED_FRAC		0.05
/* Clinical observations (notes, never verdicts). */
#define SLOW_CADENCE		80.0
#define SLOW_SPEED		0.6
#define ASYM_PCT		10.0
#define SHUFFLE_STEP_M		0.35

const char *qc_status_name(int s)
{
	static const char *const n[] = { "n/a", "pass", "warn", "fail", "note" };

	return s >= 0 && s <= QC_NOTE ? n[s] : "?";
}

struct qc_check *qc_add(struct qc_result *res, const char *id,
			const char *scope, double value, const char *unit,
			double warn, double fail, bool below_is_bad)
{
	struct qc_check *c;

	if (res->n_checks >= QC_MAX_CHECKS)
		return NULL;
	c = &res->check[res->n_checks++];
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->scope, sizeof(c->scope), "%s", scope);
	snprintf(c->unit, sizeof(c->unit), "%s", unit);
	c->value = value;
	c->warn = warn;
	c->fail = fail;
	c->below_is_bad = below_is_bad;
	if (isnan(value))
		c->status = QC_NA;
	else if (below_is_bad)
		c->status = value < fail ? QC_FAIL : value < warn ? QC_WARN : QC_PASS;
	else
		c->status = value > fail ? QC_FAIL : value > warn ? QC_WARN : QC_PASS;
	return c;
}

static struct qc_check *na(struct qc_result *res, const char *id,
			   const char *scope, const char *unit, double warn,
			   double fail, bool below, const char *why)
{
	struct qc_check *c = qc_add(res, id, scope, NAN, unit, warn, fail, below);

	if (c)
		snprintf(c->why, sizeof(c->why), "%s", why);
	return c;
}

/* A sample of a side's load, for the force and per-step plots. */
static int plot_load(struct qc_side *q, double t, double y)
{
	int ret = qc_env_add(&q->load, t, y);

	return ret ? ret : qc_steps_add(&q->steps, t, y);
}

static int add_event(struct qc_result *res, double t, int side,
		     const char *kind, const char *source)
{
	struct qc_event *e;

	if (res->n_events == res->cap_events) {
		size_t cap = res->cap_events ? 2 * res->cap_events : 64;

		e = realloc(res->events, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		res->events = e;
		res->cap_events = cap;
	}
	e = &res->events[res->n_events++];
	memset(e, 0, sizeof(*e));
	e->t = t;
	e->side = side;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	snprintf(e->source, sizeof(e->source), "%s", source);
	return 0;
}

/* A growing array of doubles: per footfall or clock record, not per sample. */
struct dvec {
	double *v;
	size_t n, cap;
};

static int dpush(struct dvec *d, double x)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 4096;
		double *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = x;
	return 0;
}

/* The @q quantile (0..1) of @d, sorting it in place; NAN if empty. */
static double quantile(struct dvec *d, double q)
{
	if (!d->n)
		return NAN;
	gsl_sort(d->v, 1, d->n);
	return gsl_stats_quantile_from_sorted_data(d->v, 1, d->n, q);
}

/* ---- What one stream holds --------------------------------------------------------- */

enum skind { S_OTHER, S_INSOLE, S_MAT, S_DERIVED, S_REFINED };

struct sacc {
	enum skind kind;
	char name[32];
	int side;			/* insoles, derived: 0 left, 1 right */
	uint32_t of_stream;		/* derived, refined: its session stream */
	/* description */
	double kpa_per_code;
	uint32_t full_code;
	unsigned int tiles, rows, cols;
	double pitch_mm;
	/* refined insole records: field offsets from the description */
	int off_seq, off_force, off_cells;
	/* completeness, on the payload's sample counter when there is one */
	bool have_seq;
	uint64_t seq_first, seq_next, got;
	uint64_t rec_next;		/* the record sequence, for jitter */
	uint64_t records, bad_chunks;	/* read, and chunks that failed their check */
	uint32_t last_raw_seq;
	/* jitter: per-sample intervals on the stamps analysis uses */
	struct qhist iv;
	int64_t last_t;
	bool have_last;
	uint32_t last_t_us;
	uint64_t t_us_hi;
	const char *stamp_what;
	/* load, saturation, flat runs */
	struct qhist load;
	uint64_t saturated, samples;
	uint64_t run, longest_run;
	uint8_t prev[INSOLE_SAMPLE_SIZE];
	uint32_t frame_crc;
	double period_s;
};

static void desc_str(struct json_object *d, const char *k, char *out, size_t cap)
{
	struct json_object *v;

	if (d && json_object_object_get_ex(d, k, &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(out, cap, "%s", json_object_get_string(v));
}

static double desc_num(struct json_object *d, const char *k, double dflt)
{
	struct json_object *v;

	if (d && json_object_object_get_ex(d, k, &v) &&
	    (json_object_is_type(v, json_type_int) ||
	     json_object_is_type(v, json_type_double)))
		return json_object_get_double(v);
	return dflt;
}

/*
 * gaitcap refine's refined insole records: fixed-size, described field by
 * field ("force_n:le:f32", "cells_kpa:16xle:f32", ...). qc reads the force,
 * the cells and the sample counter wherever the description puts them.
 */
static void refined_layout(struct sacc *a, struct json_object *d, uint32_t size,
			   struct qc_side sides[2])
{
	struct json_object *rec;
	uint32_t off = 0;

	if (!json_object_object_get_ex(d, "record", &rec) ||
	    !json_object_is_type(rec, json_type_array))
		return;
	a->off_seq = a->off_force = a->off_cells = -1;
	for (size_t i = 0; i < json_object_array_length(rec); i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(rec, i));
		const char *t = f ? strrchr(f, ':') : NULL;
		unsigned int rep = 1, bytes;
		const char *x = f ? strchr(f, ':') : NULL;

		if (!t || !x)
			return;
		if (x[1] >= '0' && x[1] <= '9')
			rep = (unsigned int)strtoul(x + 1, NULL, 10);
		bytes = (unsigned int)strtoul(t + 2, NULL, 10) / 8;
		if (!strcmp(t + 1, "pad") || strncmp(f, "pad:", 4) == 0)
			bytes = 1, rep = (unsigned int)strtoul(x + 1, NULL, 10);
		if (!bytes || !rep || rep > 64)
			return;
		if (!strcmp(f, "seq:le:u32"))
			a->off_seq = (int)off;
		else if (!strcmp(f, "force_n:le:f32"))
			a->off_force = (int)off;
		else if (!strcmp(f, "cells_kpa:16xle:f32"))
			a->off_cells = (int)off;
		off += bytes * rep;
	}
	if (off != size || a->off_force < 0)
		return;
	a->kind = S_REFINED;
	a->of_stream = (uint32_t)desc_num(d, "derived_from", GCS_STREAM_NONE);
	a->full_code = 0;
	sides[a->side].on = true;
	snprintf(sides[a->side].device, sizeof(sides[a->side].device), "%s", a->name);
	snprintf(sides[a->side].load_unit, sizeof(sides[a->side].load_unit), "N");
	if (a->off_cells >= 0 && !sides[a->side].n_cells) {
		sides[a->side].n_cells = INSOLE_CELLS;
		for (int c = 0; c < INSOLE_CELLS; c++) {
			sides[a->side].cell_pos[c].x = (c % 2 ? -20.0f : 20.0f) * (a->side ? -1 : 1);
			sides[a->side].cell_pos[c].y = 16.0f + 32.0f * (float)(c / 2);
		}
	}
}

static void classify(struct sacc *a, const struct gcs_stream_info *si,
		     struct qc_side sides[2])
{
	struct json_object *d = si->desc_json ? json_tokener_parse(si->desc_json) : NULL;
	char s[32] = "", prof[32] = "", layout[32] = "";

	snprintf(a->name, sizeof(a->name), "stream%u", si->id);
	desc_str(d, "device", a->name, sizeof(a->name));
	desc_str(d, "side", s, sizeof(s));
	desc_str(d, "profile", prof, sizeof(prof));
	desc_str(d, "layout", layout, sizeof(layout));
	a->side = !strcmp(s, "right") ? 1 : !strcmp(s, "left") ? 0 : -1;
	a->period_s = 1.0 / desc_num(d, "rate_hz", 100);
	if (si->kind == GCS_KIND_BLE_ATT && !strcmp(prof, "gaitcap-v1") && a->side >= 0) {
		struct json_object *cells;
		struct qc_side *q = &sides[a->side];

		a->kind = S_INSOLE;
		a->kpa_per_code = desc_num(d, "kpa_per_code", 1);
		a->full_code = (uint32_t)desc_num(d, "full_scale_code", 65535);
		q->on = true;
		q->n_cells = INSOLE_CELLS;
		snprintf(q->device, sizeof(q->device), "%s", a->name);
		if (!q->load_unit[0])
			snprintf(q->load_unit, sizeof(q->load_unit), "kPa");
		if (json_object_object_get_ex(d, "cells", &cells) &&
		    json_object_is_type(cells, json_type_array) &&
		    json_object_array_length(cells) == INSOLE_CELLS) {
			for (int c = 0; c < INSOLE_CELLS; c++) {
				struct json_object *e = json_object_array_get_idx(cells, (size_t)c);

				q->cell_pos[c].x = (float)desc_num(e, "x_mm", 0);
				q->cell_pos[c].y = (float)desc_num(e, "y_mm", 0);
			}
			q->cell_pos_known = true;
		} else {
			/* A schematic layout: two columns, heel (0) to toe (7). */
			for (int c = 0; c < INSOLE_CELLS; c++) {
				q->cell_pos[c].x = (c % 2 ? -20.0f : 20.0f) * (a->side ? -1 : 1);
				q->cell_pos[c].y = 16.0f + 32.0f * (float)(c / 2);
			}
		}
	} else if (si->kind == GCS_KIND_IIO_SCAN && desc_num(d, "tiles", 0) > 0 &&
		   desc_num(d, "rows", 0) > 0 && desc_num(d, "cols", 0) > 0) {
		a->kind = S_MAT;
		a->tiles = (unsigned int)desc_num(d, "tiles", 0);
		a->rows = (unsigned int)desc_num(d, "rows", 0);
		a->cols = (unsigned int)desc_num(d, "cols", 0);
		a->pitch_mm = desc_num(d, "pitch_um", 10000) / 1000;
		a->full_code = 4095;	/* le:u12/16 sensels */
	} else if (si->kind == GCS_KIND_GENERIC && !strcmp(layout, "moticon-derived-v1") &&
		   si->record_size == MOT_DERIVED_SIZE && a->side >= 0) {
		a->kind = S_DERIVED;
		a->of_stream = (uint32_t)desc_num(d, "of_stream", 0);
		snprintf(sides[a->side].load_unit, sizeof(sides[a->side].load_unit), "N");
	}
	if (a->kind == S_OTHER && si->kind == GCS_KIND_GENERIC && a->side >= 0 &&
	    si->record_size)
		refined_layout(a, d, si->record_size, sides);
	json_object_put(d);
}

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t g32(const uint8_t *p)
{
	return g16(p) | (uint32_t)g16(p + 2) << 16;
}

static float gf32(const uint8_t *p)
{
	uint32_t u = g32(p);
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* One sample's load, saturation and flatness. */
static int sample(struct sacc *a, double load, bool sat, const uint8_t *bytes,
		  size_t len)
{
	a->samples++;
	if (sat)
		a->saturated++;
	if (len && len <= sizeof(a->prev)) {
		if (a->samples > 1 && load > 0 && !memcmp(a->prev, bytes, len)) {
			if (++a->run > a->longest_run)
				a->longest_run = a->run;
		} else {
			a->run = 0;
		}
		memcpy(a->prev, bytes, len);
	}
	return qh_add(&a->load, load);
}

/*
 * @n samples from @seq on the payload's sample counter (u32 on the wire:
 * unwrapped). True when they follow on from the last ones.
 */
static bool seq_count(struct sacc *a, uint32_t seq, unsigned int n)
{
	bool next = false;

	if (!a->have_seq) {
		a->have_seq = true;
		a->seq_first = a->seq_next = seq;
	} else {
		uint64_t s64 = (a->seq_next & ~0xffffffffull) | seq;

		if (s64 + 0x80000000ull < a->seq_next)
			s64 += 1ull << 32;
		next = s64 == a->seq_next;
		if (s64 >= a->seq_next)
			a->seq_next = s64;
	}
	a->seq_next += n;
	a->got += n;
	return next;
}

static int insole_record(struct qc_result *res, struct sacc *a,
			 const struct gcs_record *rec, double t_s)
{
	const uint8_t *v = rec->data + 3;
	struct qc_side *q = &res->side[a->side];
	unsigned int n;
	uint32_t seq, t_us;
	uint16_t flags, period;
	int ret = 0;

	if (rec->len < 3 + INSOLE_DATA_HDR || rec->data[0] != 0x1b ||
	    v[INSOLE_DATA_OFF_VERSION] != INSOLE_DATA_VERSION)
		return 0;
	n = v[INSOLE_DATA_OFF_N];
	if (!n || n > INSOLE_MAX_BATCH ||
	    rec->len < 3 + INSOLE_DATA_HDR + n * INSOLE_SAMPLE_SIZE)
		return 0;
	seq = g32(v + INSOLE_DATA_OFF_SEQ);
	t_us = g32(v + INSOLE_DATA_OFF_T_US);
	flags = g16(v + INSOLE_DATA_OFF_FLAGS);
	period = g16(v + INSOLE_DATA_OFF_PERIOD);
	if (period)
		a->period_s = period / 1e6;
	if (seq_count(a, seq, n) && a->have_last) {
		uint32_t dus = t_us - a->last_t_us;	/* wraps */

		ret = qh_add(&a->iv, dus / 1e6 / (double)a->last_raw_seq);
	}
	a->last_t_us = t_us;
	a->have_last = true;
	a->last_raw_seq = n;
	for (unsigned int k = 0; k < n && !ret; k++) {
		const uint8_t *s = v + INSOLE_DATA_HDR + k * INSOLE_SAMPLE_SIZE;
		double load = 0, cx = 0, cy = 0;
		bool sat = false;

		for (int c = 0; c < INSOLE_CELLS; c++) {
			uint16_t code = g16(s + 2 * c);
			double kpa = code * a->kpa_per_code;

			load += kpa;
			cx += kpa * q->cell_pos[c].x;
			cy += kpa * q->cell_pos[c].y;
			if (kpa > q->cell_peak[c])
				q->cell_peak[c] = kpa;
			if (code >= a->full_code)
				sat = true;
		}
		if ((flags & INSOLE_DATA_F_SATURATED) && n == 1)
			sat = true;
		ret = sample(a, load, sat, s, INSOLE_SAMPLE_SIZE);
		if (!ret && strcmp(q->load_unit, "N"))
			ret = plot_load(q, t_s + k * a->period_s, load);
		if (!ret && load > 0 && strcmp(q->load_unit, "N"))
			ret = qc_path_push(&q->cop, cx / load, cy / load);
	}
	a->stamp_what = "the insole's clock (t_us of each notification)";
	return ret;
}

static int mat_record(struct qc_result *res, struct sacc *a,
		      const struct gcs_record *rec)
{
	unsigned int w = a->tiles * a->cols, h = a->rows, ns = w * h;
	struct qc_mat *m = &res->mat;
	double load = 0, cx = 0, cy = 0;
	bool sat = false;
	uint32_t crc;

	if (rec->len < 2 * ns)
		return 0;
	if (!m->on) {
		m->peak = calloc(ns, sizeof(*m->peak));
		if (!m->peak)
			return -ENOMEM;
		m->on = true;
		m->w = w;
		m->h = h;
		m->pitch_mm = a->pitch_mm;
	}
	if (m->w != w || m->h != h)
		return 0;	/* a second mat: only the first is drawn */
	for (unsigned int t = 0; t < a->tiles; t++)
		for (unsigned int r = 0; r < a->rows; r++)
			for (unsigned int c = 0; c < a->cols; c++) {
				unsigned int i = (t * a->rows + r) * a->cols + c;
				unsigned int x = t * a->cols + c;
				uint16_t code = g16(rec->data + 2 * i) & 0x0fff;

				if (!code)
					continue;
				load += code;
				cx += code * x;
				cy += code * r;
				if (code > m->peak[r * w + x])
					m->peak[r * w + x] = code;
				if (code >= a->full_code)
					sat = true;
			}
	if (load > 0 && qc_path_push(&m->cop, cx / load, cy / load))
		return -ENOMEM;
	/* Flat frames: a checksum of the sensels stands for the bytes. */
	crc = gcs_crc32c(0, rec->data, 2 * (size_t)ns);
	a->samples++;
	if (sat)
		a->saturated++;
	if (a->samples > 1 && load > 0 && crc == a->frame_crc) {
		if (++a->run > a->longest_run)
			a->longest_run = a->run;
	} else {
		a->run = 0;
	}
	a->frame_crc = crc;
	return qh_add(&a->load, load);
}

static int derived_record(struct qc_result *res, struct sacc *a,
			  const struct gcs_record *rec, double t_s)
{
	struct qc_side *q = &res->side[a->side];
	uint32_t flags;
	int ret = 0;

	if (rec->len != MOT_DERIVED_SIZE)
		return 0;
	flags = g32(rec->data + 12);
	q->cop_frac = true;
	if (flags & MOT_DERIVED_F_FORCE)
		ret = plot_load(q, t_s, gf32(rec->data + 16));
	if (!ret && (flags & MOT_DERIVED_F_COP) &&
	    (!(flags & MOT_DERIVED_F_FORCE) || gf32(rec->data + 16) > 20))
		ret = qc_path_push(&q->cop, gf32(rec->data + 20), gf32(rec->data + 24));
	return ret;
}

static int refined_record(struct qc_result *res, struct sacc *a,
			  const struct gcs_record *rec, double t_s)
{
	struct qc_side *q = &res->side[a->side];
	double force, cx = 0, cy = 0, sum = 0;
	int ret;

	/* refine keeps the insole's counter: its jumps are the samples lost. */
	if (a->off_seq >= 0)
		seq_count(a, g32(rec->data + a->off_seq), 1);
	force = gf32(rec->data + a->off_force);
	if (!isfinite(force))
		return 0;
	if (a->off_cells >= 0) {
		for (int c = 0; c < INSOLE_CELLS; c++) {
			double kpa = gf32(rec->data + a->off_cells + 4 * c);

			if (!isfinite(kpa) || kpa <= 0)
				continue;
			sum += kpa;
			cx += kpa * q->cell_pos[c].x;
			cy += kpa * q->cell_pos[c].y;
			if (kpa > q->cell_peak[c])
				q->cell_peak[c] = kpa;
		}
	}
	/* Bytes after the stamps: the sample itself, for flat runs. */
	ret = sample(a, force, false, rec->data + a->off_force,
		     rec->len - (uint32_t)a->off_force > INSOLE_SAMPLE_SIZE ?
		     INSOLE_SAMPLE_SIZE : rec->len - (uint32_t)a->off_force);
	if (!ret)
		ret = plot_load(q, t_s, force);
	/* Below 20 N (swing, after calibration) a centre of pressure is noise. */
	if (!ret && sum > 0 && force > 20)
		ret = qc_path_push(&q->cop, cx / sum, cy / sum);
	return ret;
}

/* Robust fit of the device clock against the host's (GSL bisquare). */
static double clock_residual_ms(struct gcs_reader *r, uint32_t stream, size_t *np,
				double *unc_ms)
{
	size_t n = 0, nc = gcs_reader_n_clocks(r);
	gsl_matrix *X = NULL, *cov = NULL;
	gsl_vector *y = NULL, *c = NULL;
	gsl_multifit_robust_workspace *w = NULL;
	gsl_multifit_robust_stats st;
	double res = NAN, dev0 = 0, mono0 = 0, hi = 0, last = 0;
	struct dvec u = { 0 };
	size_t k = 0;

	for (size_t i = 0; i < nc; i++) {
		const struct gcs_clock_rec *cr = gcs_reader_clock(r, i);

		if (cr->s.stream == stream && (cr->s.flags & GCS_CLOCKREC_F_DEVICE)) {
			n++;
			dpush(&u, cr->s.uncertainty_ns / 1e6);
		}
	}
	*np = n;
	*unc_ms = quantile(&u, 0.5);
	free(u.v);
	if (n < 3)
		return NAN;
	X = gsl_matrix_alloc(n, 2);
	y = gsl_vector_alloc(n);
	c = gsl_vector_alloc(2);
	cov = gsl_matrix_alloc(2, 2);
	w = gsl_multifit_robust_alloc(gsl_multifit_robust_bisquare, n, 2);
	if (!X || !y || !c || !cov || !w)
		goto out;
	for (size_t i = 0; i < nc; i++) {
		const struct gcs_clock_rec *cr = gcs_reader_clock(r, i);
		double dev, mono;

		if (cr->s.stream != stream || !(cr->s.flags & GCS_CLOCKREC_F_DEVICE))
			continue;
		dev = (double)cr->s.device_ns;
		/* A device clock of u32 microseconds wraps every 4295 s. */
		if (k && dev + hi < last - 2147483648e3)
			hi += 4294967296e3;
		last = dev + hi;
		if (!k) {
			dev0 = last;
			mono0 = (double)cr->s.mono_ns;
		}
		mono = (double)cr->s.mono_ns - mono0;
		gsl_matrix_set(X, k, 0, 1.0);
		gsl_matrix_set(X, k, 1, mono / 1e9);
		gsl_vector_set(y, k, (last - dev0) / 1e6);	/* ms */
		k++;
	}
	if (!gsl_multifit_robust(X, y, c, cov, w)) {
		st = gsl_multifit_robust_statistics(w);
		res = st.sigma;
	}
out:
	gsl_multifit_robust_free(w);
	gsl_matrix_free(cov);
	gsl_vector_free(c);
	gsl_vector_free(y);
	gsl_matrix_free(X);
	return res;
}

static int side_of(const char *s);
static double jpath(struct json_object *o, const char *a, const char *b,
		    const char *c);

/*
 * A stream's records lost to damage (chunks whose data failed, behind
 * damaged headers), those read and the chunks, as refine counted them
 * (parameters.json's data_lost): @source "insole" or "mat", @side -1 for none.
 */
static bool refine_damage(struct json_object *p, const char *source, int side,
			  double *lost, double *read, double *chunks)
{
	struct json_object *dl, *st, *e, *v;

	if (!p || !json_object_object_get_ex(p, "data_lost", &dl) ||
	    !json_object_object_get_ex(dl, "streams", &st) ||
	    !json_object_is_type(st, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(st); i++) {
		const char *src = NULL, *sd = NULL;

		e = json_object_array_get_idx(st, i);
		if (json_object_object_get_ex(e, "source", &v))
			src = json_object_get_string(v);
		if (json_object_object_get_ex(e, "side", &v))
			sd = json_object_get_string(v);
		if (!src || !sd || strcmp(src, source) || side_of(sd) != side)
			continue;
		*lost = jpath(e, "lost_records", NULL, NULL);
		*read = jpath(e, "records_read", NULL, NULL);
		*chunks = jpath(e, "lost_chunks", NULL, NULL);
		return !isnan(*lost) && !isnan(*read) && !isnan(*chunks);
	}
	return false;
}

/*
 * The share of records lost to damage, when more than @loss: a counter
 * misses what was lost before its first sample read or after its last.
 */
static bool damage_loss(struct qc_result *res, const char *scope, double loss,
			double lost, double read, double chunks, const char *by,
			double got, double expected, const char *unit)
{
	struct qc_check *c;

	if (!(lost > 0) || 100 * lost / (lost + read) <= loss)
		return false;
	c = qc_add(res, "packet_loss", scope, 100 * lost / (lost + read), "%",
		   LOSS_WARN_PCT, LOSS_FAIL_PCT, false);
	if (c)
		snprintf(c->why, sizeof(c->why),
			 "%.0f of %.0f records lost to damage (%.0f chunks), more than the %s "
			 "shows (%.0f of %.0f %s): it misses losses at the stream's ends",
			 lost, lost + read, chunks, by, got, expected, unit);
	return true;
}

/*
 * refined.gcs holds no clock records: the same robust sigma over the
 * session's, as refine recorded it per insole stream (parameters.json).
 */
static double refined_residual_ms(const struct qc_result *res, const struct sacc *a,
				  size_t *np, double *unc_ms, const char **why)
{
	struct json_object *st, *clk;
	double n;

	*np = 0;
	*unc_ms = NAN;
	*why = "no clock fit of the stream in parameters.json";
	if (!res->params || !json_object_object_get_ex(res->params, "insole_streams", &st) ||
	    !json_object_is_type(st, json_type_array))
		return NAN;
	for (size_t i = 0; i < json_object_array_length(st); i++) {
		struct json_object *e = json_object_array_get_idx(st, i);

		if (jpath(e, "stream", NULL, NULL) != a->of_stream ||
		    !json_object_object_get_ex(e, "clock", &clk))
			continue;
		n = jpath(clk, "clock_records", NULL, NULL);
		*np = n > 0 ? (size_t)n : 0;
		*unc_ms = jpath(clk, "records_uncertainty_ms", NULL, NULL);
		*why = *np < 3 ? NULL : "parameters.json has no records_sigma_ms (an older refine)";
		return jpath(clk, "records_sigma_ms", NULL, NULL);
	}
	return NAN;
}

static void stream_checks(struct qc_result *res, struct gcs_reader *r,
			  const struct gcs_stream_info *si, struct sacc *a)
{
	double expected, got, loss, p95, q95, q05, med, dlost = 0, dread = 0, dchunks = 0;
	struct qc_check *c;
	bool known;
	size_t ncl;

	if (a->kind == S_DERIVED)
		return;	/* its notification stream is checked */
	/* Completeness: the payload's counter where there is one. */
	if (a->have_seq) {
		expected = (double)(a->seq_next - a->seq_first);
		got = (double)a->got;
	} else {
		/* Records read, not listed: a chunk lost to damage is missing. */
		expected = si->n_records ? (double)(si->last_seq - si->first_seq + 1) : 0;
		got = (double)a->records;
	}
	loss = expected > 0 ? 100.0 * (expected - got) / expected : NAN;
	if (a->kind == S_REFINED) {
		known = refine_damage(res->params, "insole", a->side, &dlost, &dread, &dchunks);
	} else {
		known = true;
		dlost = (double)si->lost_records;
		dread = (double)a->records;
		dchunks = (double)si->n_lost_chunks;
	}
	if (known && damage_loss(res, a->name, loss, dlost, dread, dchunks,
				a->have_seq ? "insole sample counter" : "record sequence",
				got, expected, a->have_seq ? "samples" : "records"))
		c = NULL;
	else
		c = qc_add(res, "packet_loss", a->name, loss, "%", LOSS_WARN_PCT,
			   LOSS_FAIL_PCT, false);
	if (c)
		snprintf(c->why, sizeof(c->why),
			 "%.0f of %.0f %s received (%s), %llu gap records, "
			 "%llu chunks unreadable (damage)",
			 got, expected, a->have_seq ? "samples" : "records",
			 a->have_seq ? "insole sample counter" : "record sequence",
			 (unsigned long long)si->n_gaps,
			 (unsigned long long)a->bad_chunks);
	/* Jitter, as a share of the median per-sample interval. */
	med = qh_quantile(&a->iv, 0.5);
	p95 = qh_dev_quantile(&a->iv, med, 0.95);
	if (a->iv.n < 10 || !(med > 0)) {
		na(res, "timestamp_jitter", a->name, "%", JITTER_WARN_PCT, JITTER_FAIL_PCT,
		   false, "fewer than 10 intervals between consecutive samples");
	} else {
		c = qc_add(res, "timestamp_jitter", a->name, 100 * p95 / med, "%",
			   JITTER_WARN_PCT, JITTER_FAIL_PCT, false);
		if (c)
			snprintf(c->why, sizeof(c->why),
				 "95th percentile |interval - %.3f ms| = %.3f ms over %zu intervals, on %s",
				 med * 1e3, p95 * 1e3, (size_t)a->iv.n,
				 a->stamp_what ? a->stamp_what : "the records' timestamps");
	}
	{
		const char *rwhy = NULL;
		double unc = NAN, ms = a->kind == S_REFINED ?
				       refined_residual_ms(res, a, &ncl, &unc, &rwhy) :
				       clock_residual_ms(r, si->id, &ncl, &unc);
		/*
		 * A clock record read over a link is only known to within its
		 * stated uncertainty (half a BLE round trip): scatter within it
		 * is the link, not the clock (docs/qc.md).
		 */
		double warn = fmax(CLOCK_WARN_MS, isnan(unc) ? 0 : unc / 2);
		double fail = fmax(CLOCK_FAIL_MS, isnan(unc) ? 0 : unc);

		if (isnan(ms)) {
			char why[96];

			snprintf(why, sizeof(why), "%zu device clock records: a fit needs 3 or more",
				 ncl);
			na(res, "clock_residual", a->name, "ms", CLOCK_WARN_MS, CLOCK_FAIL_MS,
			   false, rwhy ? rwhy : why);
		} else if ((c = qc_add(res, "clock_residual", a->name, ms, "ms",
				       warn, fail, false))) {
			snprintf(c->why, sizeof(c->why), a->kind == S_REFINED ?
				 "robust (bisquare) sigma of device vs host clock over the session's %zu "
				 "clock records (refine's records_sigma_ms); median uncertainty %.2f ms" :
				 "robust (bisquare) sigma of device vs host clock over %zu clock records; "
				 "their median stated uncertainty %.2f ms", ncl, unc);
		}
	}
	if (a->kind == S_OTHER) {
		static const char *const ids[] = { "saturation", "flat_line", "zero_offset" };

		for (int i = 0; i < 3; i++)
			na(res, ids[i], a->name, "", 0, 0, false,
			   "the stream's layout is not one qc decodes (gaitcap-v1 insole, gaitmat scan)");
		return;
	}
	q95 = qh_quantile(&a->load, 0.95);
	q05 = qh_quantile(&a->load, 0.05);
	if (a->kind == S_REFINED) {
		na(res, "saturation", a->name, "%", SAT_WARN_PCT, SAT_FAIL_PCT, false,
		   "a refined stream holds kPa, not codes: see the raw session's check");
	} else {
		uint64_t loaded = qh_count_above(&a->load, LOADED_FRAC * q95);

		c = qc_add(res, "saturation", a->name,
			   loaded ? 100.0 * (double)a->saturated / (double)loaded : 0, "%",
			   SAT_WARN_PCT, SAT_FAIL_PCT, false);
		if (c)
			snprintf(c->why, sizeof(c->why),
				 "%llu of %llu loaded samples with a cell at full scale (code %u)",
				 (unsigned long long)a->saturated, (unsigned long long)loaded,
				 a->full_code);
	}
	c = qc_add(res, "flat_line", a->name, (double)a->longest_run * a->period_s, "s",
		   FLAT_WARN_S, FLAT_FAIL_S, false);
	if (c)
		snprintf(c->why, sizeof(c->why),
			 "longest run of loaded samples identical to the one before: %llu",
			 (unsigned long long)a->longest_run);
	if (!(q95 > 0)) {
		na(res, "zero_offset", a->name, "%", ZERO_WARN_PCT, ZERO_FAIL_PCT, false,
		   "no load at all: nothing to compare the unloaded level with");
	} else if ((c = qc_add(res, "zero_offset", a->name, 100 * q05 / q95, "%",
			       ZERO_WARN_PCT, ZERO_FAIL_PCT, false))) {
		snprintf(c->why, sizeof(c->why),
			 "unloaded level (5th percentile of the summed load) %.1f against the loaded level (95th) %.1f",
			 q05, q95);
	}
}

struct problems {
	int errors, notes;
	char first[96];			/* the first error, else the first note */
};

static void on_problem(void *ctx, bool error, const char *msg)
{
	struct problems *p = ctx;

	if (error ? !p->errors : !p->errors && !p->notes)
		snprintf(p->first, sizeof(p->first), "%s", msg);
	p->errors += error;
	p->notes += !error;
}

/* The file as gaitcap info judges it, and whether it holds anything to judge. */
static void file_checks(struct qc_result *res, const struct gcs_reader *r,
			const char *path, const struct sacc *acc, size_t ns)
{
	const char *scope = strcmp(res->input, "refine") ? "session" : "refined.gcs";
	struct problems p = { 0 };
	struct qc_check *c;
	int judged = 0;

	gcs_reader_problems(r, gcs_file_live_writer(path), on_problem, &p);
	c = qc_add(res, "integrity", scope, p.errors, "problems",
		   INTEGRITY_WARN, INTEGRITY_FAIL, false);
	if (c && p.errors + p.notes)
		snprintf(c->why, sizeof(c->why), "%s%s (%d here; gaitcap info lists all)",
			 p.errors ? "" : "notes only: ", p.first, p.errors + p.notes);
	else if (c)
		snprintf(c->why, sizeof(c->why), "closed, every chunk passes its checksum");
	for (size_t i = 0; i < ns; i++)
		judged += (acc[i].kind == S_INSOLE || acc[i].kind == S_MAT ||
			   acc[i].kind == S_REFINED) && acc[i].samples;
	c = qc_add(res, "data", scope, judged, "streams", DATA_WARN, DATA_FAIL, true);
	if (c)
		snprintf(c->why, sizeof(c->why), judged ? "insole or mat streams with samples" :
			 "no insole or mat sample: nothing was recorded, or the file lost it");
}

static int read_session(struct qc_result *res, const char *path, char *err,
			size_t errlen)
{
	struct gcs_reader *r;
	struct sacc *acc;
	size_t ns;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	size_t chunk;
	bool have_chunk;
	int64_t dev0;
	int ret, k;

	/* One stream, one iterator at a time: no per-chunk table needed. */
	ret = gcs_reader_open(&r, path, GCS_OPEN_USE_INDEX | GCS_OPEN_STREAM);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, gcs_strerror(ret));
		return ret;
	}
	ns = gcs_reader_n_streams(r);
	acc = calloc(ns ? ns : 1, sizeof(*acc));
	if (!acc) {
		gcs_reader_close(r);
		return -ENOMEM;
	}
	res->t0 = gcs_reader_info(r)->t_first_ns / 1e9;
	for (size_t i = 0; i < ns; i++)
		classify(&acc[i], gcs_reader_stream(r, i), res->side);
	/* Derived streams first: their force is what the report plots. */
	for (int pass = 0; pass < 2 && !ret; pass++) {
		for (size_t i = 0; i < ns && !ret; i++) {
			const struct gcs_stream_info *si = gcs_reader_stream(r, i);
			struct sacc *a = &acc[i];

			if ((a->kind == S_DERIVED) != (pass == 0))
				continue;
			chunk = 0;
			have_chunk = false;
			dev0 = 0;
			gcs_rec_iter_init(&it, r, si->id);
			while ((k = gcs_rec_iter_next(&it, &rec)) != 0) {
				/* A chunk that fails its check counts as missing. */
				double t_s;

				if (k < 0) {
					a->bad_chunks++;
					continue;
				}
				a->records++;
				/*
				 * On the host timeline: monotonic stamps as they are,
				 * others (device, kernel realtime) as offsets from the
				 * first record of their chunk, placed at its host time.
				 */
				if (rec.chunk != chunk || !have_chunk) {
					chunk = rec.chunk;
					have_chunk = true;
					dev0 = rec.t_ns;
				}
				t_s = (gcs_reader_chunk(r, rec.chunk)->t_first_ns +
				       (rec.ts_source == GCS_TS_RECORD ? rec.t_ns - dev0 : 0)) / 1e9 -
				      res->t0;
				if (rec.ts_clock == GCS_CLOCK_MONOTONIC || rec.ts_source != GCS_TS_RECORD)
					t_s = rec.t_ns / 1e9 - res->t0;
				if (a->kind == S_INSOLE) {
					ret = insole_record(res, a, &rec, t_s);
				} else if (a->kind == S_MAT) {
					ret = mat_record(res, a, &rec);
				} else if (a->kind == S_DERIVED) {
					ret = derived_record(res, a, &rec, t_s);
				} else if (a->kind == S_REFINED) {
					ret = refined_record(res, a, &rec, t_s);
				}
				if (ret)
					break;
				if (a->kind != S_INSOLE && rec.ts_source == GCS_TS_RECORD) {
					if (a->have_last && (rec.seq == GCS_SEQ_UNKNOWN ||
							     rec.seq == a->rec_next))
						ret = qh_add(&a->iv, (rec.t_ns - a->last_t) / 1e9);
					a->last_t = rec.t_ns;
					a->have_last = true;
					a->rec_next = rec.seq + 1;
				}
			}
		}
	}
	for (size_t i = 0; i < ns && !ret; i++)
		stream_checks(res, r, gcs_reader_stream(r, i), &acc[i]);
	if (!ret)
		file_checks(res, r, path, acc, ns);
	/* Markers: the operator's (imported) events, for the plots. */
	for (size_t i = 0; i < gcs_reader_n_markers(r) && !ret; i++) {
		const struct gcs_marker *m = gcs_reader_marker(r, i);
		char kind[8];
		int side = -1;

		if (m->code != GCS_MARK_EVENT)
			continue;
		for (size_t j = 0; j < ns; j++)
			if (gcs_reader_stream(r, j)->id == m->stream)
				side = acc[j].side;
		snprintf(kind, sizeof(kind), "M%lld", (long long)(m->value % 1000));
		ret = add_event(res, m->t_ns / 1e9 - res->t0, side, kind, "marker");
	}
	for (size_t i = 0; i < ns; i++) {
		qh_free(&acc[i].iv);
		qh_free(&acc[i].load);
	}
	free(acc);
	gcs_reader_close(r);
	if (ret)
		snprintf(err, errlen, "%s: %s", path, gcs_strerror(ret));
	return ret;
}

/* ---- A refine output folder ---------------------------------------------------------- */

struct tsv {
	char **col;
	size_t ncol;
};

static void tsv_free(struct tsv *t)
{
	for (size_t i = 0; i < t->ncol; i++)
		free(t->col[i]);
	free(t->col);
	t->col = NULL;
	t->ncol = 0;
}

/* Split a line at tabs into @t (strdup'ed fields). */
static int tsv_split(char *line, struct tsv *t)
{
	char *save = NULL, *f;

	line[strcspn(line, "\r\n")] = '\0';
	tsv_free(t);
	for (f = strtok_r(line, "\t", &save); f; f = strtok_r(NULL, "\t", &save)) {
		char **c = realloc(t->col, (t->ncol + 1) * sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->col = c;
		t->col[t->ncol] = strdup(f);
		if (!t->col[t->ncol])
			return -ENOMEM;
		t->ncol++;
	}
	return 0;
}

/* The first header column whose name is one of @names (NULL-terminated). */
static int tsv_find(const struct tsv *h, const char *const *names)
{
	for (const char *const *n = names; *n; n++)
		for (size_t i = 0; i < h->ncol; i++)
			if (!strcmp(h->col[i], *n))
				return (int)i;
	return -1;
}

static int side_of(const char *s)
{
	if (!strcmp(s, "left") || !strcmp(s, "L") || !strcmp(s, "l"))
		return 0;
	if (!strcmp(s, "right") || !strcmp(s, "R") || !strcmp(s, "r"))
		return 1;
	return -1;
}

static void note(struct qc_result *res, const char *fmt, const char *a)
{
	if (res->n_notes < sizeof(res->notes) / sizeof(res->notes[0]))
		snprintf(res->notes[res->n_notes++], sizeof(res->notes[0]), fmt, a);
}

static const char *const SIDE_COLS[] = { "side", "foot", NULL };

/*
 * Open refine's @name in @dir: an fd, or -errno with @why said: -ENOENT
 * missing; -EINVAL not a regular file (a FIFO, a link to /dev/zero) and
 * -EFBIG beyond REFINE_FILE_MAX, which qc refuses to read at all.
 */
static int refine_open(const char *dir, const char *name, char *why, size_t len)
{
	char path[4096];
	struct stat st;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* Not blocking in open() on a FIFO: it is refused below. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		snprintf(why, len, "%s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(why, len, "not a regular file (refine writes regular files)");
	} else if (st.st_size > REFINE_FILE_MAX) {
		ret = -EFBIG;
		snprintf(why, len, "%lld bytes, more than the %d MiB qc reads",
			 (long long)st.st_size, REFINE_FILE_MAX >> 20);
	}
	if (ret && fd >= 0)
		close(fd);
	return ret ? ret : fd;
}

/* refine_open() as a stream; NULL with *@err and @why when it cannot be. */
static FILE *refine_fopen(const char *dir, const char *name, int *err, char *why,
			  size_t len)
{
	int fd = refine_open(dir, name, why, len);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

	*err = fd < 0 ? fd : 0;
	if (fd >= 0 && !f) {
		*err = -errno;
		snprintf(why, len, "%s", strerror(errno));
		close(fd);
	}
	return f;
}

/*
 * strides.tsv is there but holds no strides table: refine's output is
 * damaged or cut short, and no stride is counted (a fail, as for none).
 */
static void strides_damaged(struct qc_result *res, const char *what, const char *cause)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "%s%s%s", what, cause ? ": " : "", cause ? cause : "");
	for (int k = 0; k < 2; k++) {
		struct qc_check *c = qc_add(res, "valid_strides", k ? "right" : "left", 0,
					    "strides", STRIDES_WARN, STRIDES_FAIL, true);

		if (c)
			snprintf(c->why, sizeof(c->why), "strides.tsv %s: no stride read", msg);
	}
	note(res, "strides.tsv %s: refine's output is damaged or cut short", msg);
}

static void strides(struct qc_result *res, const char *dir)
{
	static const char *const valid_cols[] = { "valid", "steady", "used", "ok", NULL };
	static const char *const src_cols[] = { "source", NULL };
	static const char *const srcs[3] = { "", "insole", "mat" };
	char why[96], *line = NULL, scope[32];
	size_t cap = 0;
	struct tsv h = { 0 }, t = { 0 };
	double n[3][2] = { { 0 } };
	bool seen[3] = { false };
	int cs, cv = -1, cso = -1, err;
	FILE *f;

	f = refine_fopen(dir, "strides.tsv", &err, why, sizeof(why));
	if (!f && err == -ENOENT) {
		for (int k = 0; k < 2; k++)
			na(res, "valid_strides", k ? "right" : "left", "strides",
			   STRIDES_WARN, STRIDES_FAIL, true, "no strides.tsv in the refine folder");
		goto out;
	}
	if (!f) {
		strides_damaged(res, "cannot be read", why);
		goto out;
	}
	if (getline(&line, &cap, f) < 0 || tsv_split(line, &h)) {
		strides_damaged(res, "is empty", NULL);
		goto out;
	}
	cs = tsv_find(&h, SIDE_COLS);
	cv = tsv_find(&h, valid_cols);
	cso = tsv_find(&h, src_cols);
	if (cs < 0) {
		strides_damaged(res, "has no side column", NULL);
		goto out;
	}
	if (cso < 0)
		seen[0] = true;
	while (getline(&line, &cap, f) >= 0) {
		int s, src = 0;

		if (line[0] == '#' || tsv_split(line, &t) || (size_t)cs >= t.ncol)
			continue;
		s = side_of(t.col[cs]);
		if (s < 0)
			continue;
		/* Insole and mat strides are counted apart: one device each. */
		if (cso >= 0) {
			if ((size_t)cso >= t.ncol)
				continue;
			src = !strcmp(t.col[cso], "mat") ? 2 : 1;
			seen[src] = true;
		}
		/* Without a validity column every listed stride counts. */
		if (cv >= 0 && (size_t)cv < t.ncol &&
		    (!strcmp(t.col[cv], "0") || !strcmp(t.col[cv], "false") ||
		     !strcmp(t.col[cv], "no")))
			continue;
		n[src][s]++;
	}
	if (cso >= 0 && !seen[1] && !seen[2])
		seen[1] = true;	/* a header and no rows: say so for the insoles */
	for (int src = 0; src < 3; src++)
		for (int k = 0; seen[src] && k < 2; k++) {
			struct qc_check *c;

			snprintf(scope, sizeof(scope), "%s%s%s", srcs[src], src ? " " : "",
				 k ? "right" : "left");
			c = qc_add(res, "valid_strides", scope, n[src][k], "strides",
				   STRIDES_WARN, STRIDES_FAIL, true);
			if (c)
				snprintf(c->why, sizeof(c->why), "strides in strides.tsv%s",
					 cv >= 0 ? " marked valid (steady state)" :
					 " (no validity column: all counted)");
		}
out:
	tsv_free(&h);
	tsv_free(&t);
	free(line);
	if (f)
		fclose(f);
}

/* Event times from events.tsv; IC of insoles and mat compared per side. */
static void events(struct qc_result *res, const char *dir)
{
	static const char *const t_cols[] = { "t_s", "time_s", "t", "time", NULL };
	static const char *const tns_cols[] = { "t_ns", "time_ns", "mono_ns", NULL };
	static const char *const ev_cols[] = { "event", "type", "kind", NULL };
	static const char *const src_cols[] = { "source", "device", NULL };
	char why[96], *line = NULL;
	size_t cap = 0;
	struct tsv h = { 0 }, t = { 0 };
	struct dvec ic[2][2] = { { { 0 } } };	/* [device: insole, mat][side] */
	struct dvec d = { 0 };
	int ct, cns, cs, ce, cd, err;
	FILE *f;

	f = refine_fopen(dir, "events.tsv", &err, why, sizeof(why));
	if (!f || getline(&line, &cap, f) < 0 || tsv_split(line, &h)) {
		if (f || err != -ENOENT)
			note(res, "events.tsv %s", f ? "is empty" : why);
		else
			note(res, "%s", "no events.tsv in the refine folder: no refined events "
			     "in the plots, insole-mat agreement not computed");
		na(res, "insole_mat_agreement", "session", "ms", AGREE_WARN_MS, AGREE_FAIL_MS,
		   false, "no events.tsv");
		goto out;
	}
	ct = tsv_find(&h, t_cols);
	cns = tsv_find(&h, tns_cols);
	cs = tsv_find(&h, SIDE_COLS);
	ce = tsv_find(&h, ev_cols);
	cd = tsv_find(&h, src_cols);
	if ((ct < 0 && cns < 0) || cs < 0 || ce < 0) {
		na(res, "insole_mat_agreement", "session", "ms", AGREE_WARN_MS, AGREE_FAIL_MS,
		   false, "events.tsv lacks a time, side or event column");
		goto out;
	}
	while (getline(&line, &cap, f) >= 0) {
		size_t need;
		double ts;
		int s, dev = 0;
		const char *e;

		if (line[0] == '#' || tsv_split(line, &t))
			continue;
		need = (size_t)(ct > cns ? ct : cns);
		if ((size_t)cs > need)
			need = (size_t)cs;
		if ((size_t)ce > need)
			need = (size_t)ce;
		if (need >= t.ncol || (cd >= 0 && (size_t)cd >= t.ncol))
			continue;
		/* Host nanoseconds place events on this timeline exactly. */
		ts = cns >= 0 ? atof(t.col[cns]) / 1e9 - res->t0 : atof(t.col[ct]);
		s = side_of(t.col[cs]);
		e = t.col[ce];
		if (cd >= 0 && !strncmp(t.col[cd], "mat", 3))
			dev = 1;
		if (!strcmp(e, "initial_contact") || !strcmp(e, "heel_strike"))
			e = "IC";
		else if (!strcmp(e, "toe_off") || !strcmp(e, "foot_off"))
			e = "TO";
		if (!isfinite(ts))
			continue;
		if (add_event(res, ts, s, e, dev ? "mat" : "refine"))
			break;
		if (s >= 0 && !strcmp(e, "IC") && dpush(&ic[dev][s], ts))
			break;
	}
	/* Each mat IC against the nearest insole IC of that side (within 0.2 s). */
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < ic[1][s].n; i++) {
			double best = INFINITY;

			for (size_t j = 0; j < ic[0][s].n; j++)
				if (fabs(ic[0][s].v[j] - ic[1][s].v[i]) < fabs(best))
					best = ic[0][s].v[j] - ic[1][s].v[i];
			if (fabs(best) < 0.2)
				dpush(&d, best);
		}
	if (d.n < 3) {
		na(res, "insole_mat_agreement", "session", "ms", AGREE_WARN_MS, AGREE_FAIL_MS,
		   false, "fewer than 3 footfalls with both an insole and a mat initial contact");
	} else {
		double med = quantile(&d, 0.5), p95;
		struct qc_check *c;

		for (size_t i = 0; i < d.n; i++)
			d.v[i] = fabs(d.v[i] - med);
		p95 = quantile(&d, 0.95);
		c = qc_add(res, "insole_mat_agreement", "session", p95 * 1e3, "ms",
			   AGREE_WARN_MS, AGREE_FAIL_MS, false);
		if (c)
			snprintf(c->why, sizeof(c->why),
				 "95th percentile of |insole IC - mat IC - median offset %.1f ms| over %zu footfalls",
				 med * 1e3, d.n);
	}
out:
	for (int a = 0; a < 2; a++)
		for (int s = 0; s < 2; s++)
			free(ic[a][s].v);
	free(d.v);
	tsv_free(&h);
	tsv_free(&t);
	free(line);
	if (f)
		fclose(f);
}

/* parameters.json: kept for the table; clinical observations as notes. */
static double jpath(struct json_object *o, const char *a, const char *b,
		    const char *c)
{
	const char *p[3] = { a, b, c };
	struct json_object *v = o;

	for (int i = 0; i < 3 && p[i]; i++)
		if (!v || !json_object_object_get_ex(v, p[i], &v))
			return NAN;
	if (v && (json_object_is_type(v, json_type_double) ||
		  json_object_is_type(v, json_type_int)))
		return json_object_get_double(v);
	if (v && json_object_is_type(v, json_type_object))
		return jpath(v, "mean", NULL, NULL);
	return NAN;
}

static void clinical(struct qc_result *res, const char *id, double v,
		     const char *unit, bool flag, const char *what)
{
	struct qc_check *c;

	if (isnan(v))
		return;
	c = qc_add(res, id, "session", v, unit, NAN, NAN, false);
	if (!c)
		return;
	c->status = QC_NOTE;
	snprintf(c->why, sizeof(c->why), "%s%s", flag ? "clinical observation: " : "",
		 flag ? what : "within the usual range");
}

/*
 * refined.gcs holds no mat stream: the mat's packet_loss comes from refine's
 * count of the scans its counter skipped, against those read, as qc counts
 * them in the session (lost chunks are skipped scans too).
 */
static void mat_loss(struct qc_result *res, struct json_object *p)
{
	double read, missing = jpath(p, "mat", "missing_scans", NULL), lost, loss;
	double dlost, dread, dchunks;
	struct json_object *m, *present;
	struct qc_check *c;

	if (!json_object_object_get_ex(p, "mat", &m) ||
	    !json_object_object_get_ex(m, "present", &present) ||
	    !json_object_get_boolean(present))
		return;
	read = jpath(p, "mat", "scans", NULL) + jpath(p, "mat", "duplicate_or_late_scans", NULL) +
	       jpath(p, "mat", "corrupt_scans", NULL);
	lost = jpath(p, "lost_chunks", NULL, NULL);
	if (isnan(missing) || isnan(read)) {
		na(res, "packet_loss", "mat", "%", LOSS_WARN_PCT, LOSS_FAIL_PCT, false,
		   "parameters.json has no mat.missing_scans (scans without a counter, or an older refine)");
		return;
	}
	loss = read + missing > 0 ? 100 * missing / (read + missing) : NAN;
	if (refine_damage(p, "mat", -1, &dlost, &dread, &dchunks) &&
	    damage_loss(res, "mat", loss, dlost, dread, dchunks, "mat scan counter",
			read, read + missing, "scans"))
		return;
	c = qc_add(res, "packet_loss", "mat", loss, "%", LOSS_WARN_PCT, LOSS_FAIL_PCT, false);
	if (c)
		snprintf(c->why, sizeof(c->why),
			 "%.0f of %.0f scans received (mat scan counter, parameters.json), "
			 "%.0f chunks of the session unreadable (damage)",
			 read, read + missing, isnan(lost) ? 0 : lost);
}

/* Read before refined.gcs: its refined streams' losses need data_lost. */
static void load_params(struct qc_result *res, const char *dir)
{
	struct json_object *p = NULL;
	char why[96];
	int fd = refine_open(dir, "parameters.json", why, sizeof(why));

	if (fd >= 0) {
		p = json_object_from_fd(fd);
		close(fd);
	}
	if (p && json_object_is_type(p, json_type_object))
		res->params = p;
	else
		json_object_put(p);
}

static void params(struct qc_result *res)
{
	struct json_object *p = res->params, *o = NULL;
	double cad, v, sl, l, r;

	if (!p) {
		note(res, "%s", "no readable parameters.json in the refine folder: "
		     "no parameter table, no clinical observations");
		return;
	}
	mat_loss(res, p);
	cad = jpath(p, "insole", "cadence_steps_per_min", NULL);
	if (isnan(cad))
		cad = jpath(p, "mat", "cadence_steps_per_min", NULL);
	clinical(res, "cadence", cad, "steps/min", cad < SLOW_CADENCE,
		 "slow cadence (reported, never a quality failure)");
	v = jpath(p, "mat", "velocity_m_s", NULL);
	if (isnan(v))
		v = jpath(p, "mat", "velocity_mps", NULL);
	if (isnan(v))
		v = jpath(p, "mat", "all", "velocity_mps");
	clinical(res, "velocity", v, "m/s", v < SLOW_SPEED,
		 "very slow walking (reported, never a quality failure)");
	l = jpath(p, "insole", "left", "stance_s");
	r = jpath(p, "insole", "right", "stance_s");
	if (!isnan(l) && !isnan(r) && l + r > 0) {
		double si = 100 * fabs(l - r) / (0.5 * (l + r));

		clinical(res, "stance_asymmetry", si, "%", si > ASYM_PCT,
			 "asymmetric gait (reported, never a quality failure)");
	}
	sl = jpath(p, "mat", "step_length_m", NULL);
	if (isnan(sl))
		sl = jpath(p, "mat", "all", "step_length_m");
	if (isnan(sl) && json_object_object_get_ex(p, "mat", &o))
		sl = (jpath(o, "left", "step_length_m", NULL) +
		      jpath(o, "right", "step_length_m", NULL)) / 2;
	clinical(res, "step_length", sl, "m", sl < SHUFFLE_STEP_M,
		 "short steps, shuffling gait (reported, never a quality failure)");
}

/* A folder holding at least one of refine's outputs. */
static bool refine_folder(const char *dir)
{
	static const char *const out[] = {
		"refined.gcs", "events.tsv", "strides.tsv", "parameters.json",
	};
	char p[4096];

	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, out[i]);
		if (!access(p, F_OK))
			return true;
	}
	return false;
}

int qc_run(const char *path, struct qc_result *res, char *err, size_t errlen)
{
	static const char *const texts[] = { "events.tsv", "strides.tsv", "parameters.json" };
	struct stat st;
	char sess[4096];
	int ret = 0;

	memset(res, 0, sizeof(*res));
	gsl_set_error_handler_off();
	if (stat(path, &st)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!refine_folder(path)) {
			snprintf(err, errlen, "%s: not a refine folder (none of refined.gcs, "
				 "events.tsv, strides.tsv, parameters.json)", path);
			return -ENOENT;
		}
		snprintf(res->input, sizeof(res->input), "refine");
		/* A FIFO or /dev/zero would never end: refused before anything. */
		for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			char why[96];
			int fd = refine_open(path, texts[i], why, sizeof(why));

			if (fd >= 0) {
				close(fd);
			} else if (fd == -EINVAL || fd == -EFBIG) {
				snprintf(err, errlen, "%s/%s: %s", path, texts[i], why);
				return fd;
			}
		}
		snprintf(sess, sizeof(sess), "%s/refined.gcs", path);
		load_params(res, path);
		if (access(sess, R_OK)) {
			note(res, "%s", "no refined.gcs in the refine folder: "
			     "no per-stream checks, no signal plots");
		} else {
			ret = read_session(res, sess, err, errlen);
		}
		if (!ret) {
			events(res, path);
			strides(res, path);
			params(res);
		}
	} else {
		snprintf(res->input, sizeof(res->input), "session");
		ret = read_session(res, path, err, errlen);
		if (!ret) {
			note(res, "%s", "a session alone: stride checks, insole-mat agreement and "
			     "the parameter table need 'gaitcap refine' (give qc its OUTDIR)");
			for (int k = 0; k < 2; k++)
				na(res, "valid_strides", k ? "right" : "left", "strides",
				   STRIDES_WARN, STRIDES_FAIL, true, "needs gaitcap refine's strides.tsv");
			na(res, "insole_mat_agreement", "session", "ms", AGREE_WARN_MS,
			   AGREE_FAIL_MS, false, "needs gaitcap refine's events.tsv");
		}
	}
	res->overall = QC_PASS;
	for (size_t i = 0; i < res->n_checks; i++) {
		int s = res->check[i].status;

		if ((s == QC_WARN || s == QC_FAIL) && s > res->overall)
			res->overall = s;
	}
	return ret;
}

void qc_result_free(struct qc_result *res)
{
	for (int k = 0; k < 2; k++) {
		free(res->side[k].load.bin);
		qc_steps_free(&res->side[k].steps);
		free(res->side[k].cop.p);
	}
	free(res->mat.peak);
	free(res->mat.cop.p);
	free(res->events);
	json_object_put(res->params);
	memset(res, 0, sizeof(*res));
}
