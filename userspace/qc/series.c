// SPDX-License-Identifier: GPL-2.0
/*
 * What qc keeps for the report's plots, in memory bounded whatever the
 * session's length (docs/qc.md, "Memory and speed"): a decimated path, a
 * min/max envelope of the load, and the per-step overlay.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qc/qc.h"

/* The envelope's first bins: finer than any sample period qc meets. */
#define ENV_WIDTH0	(1.0 / 1024)

int qc_path_push(struct qc_series *s, double x, double y)
{
	if (!s->stride)
		s->stride = 1;
	if (s->seen++ % s->stride)
		return 0;
	if (s->n == QC_PATH_MAX) {
		/* Kept: every stride-th point; now every other of those. */
		for (size_t i = 0; i < s->n / 2; i++)
			s->p[i] = s->p[2 * i];
		s->n /= 2;
		s->stride *= 2;
		if ((s->seen - 1) % s->stride)
			return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct qc_pt *p = realloc(s->p, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->p = p;
		s->cap = cap;
	}
	s->p[s->n++] = (struct qc_pt){ (float)x, (float)y };
	return 0;
}

void qc_env_bin_merge(struct qc_env_bin *a, const struct qc_env_bin *b)
{
	bool lo_a, hi_a;

	if (!b->n)
		return;
	if (!a->n) {
		*a = *b;
		return;
	}
	lo_a = a->lo <= b->lo;
	hi_a = a->hi >= b->hi;
	/* @b's samples all come after @a's. */
	if (lo_a != hi_a)
		a->lo_first = lo_a;
	else if (!lo_a)
		a->lo_first = b->lo_first;
	if (!lo_a)
		a->lo = b->lo;
	if (!hi_a)
		a->hi = b->hi;
	a->last = b->last;
	a->n += b->n;
}

static void env_halve(struct qc_envelope *e)
{
	for (size_t i = 0; i < QC_ENV_BINS / 2; i++) {
		struct qc_env_bin m = e->bin[2 * i];

		qc_env_bin_merge(&m, &e->bin[2 * i + 1]);
		e->bin[i] = m;
	}
	memset(e->bin + QC_ENV_BINS / 2, 0, QC_ENV_BINS / 2 * sizeof(*e->bin));
	e->nbins = (e->nbins + 1) / 2;
	e->width *= 2;
}

int qc_env_add(struct qc_envelope *e, double t, double y)
{
	struct qc_env_bin *b;
	double at;
	size_t i;

	if (!e->bin) {
		e->bin = calloc(QC_ENV_BINS, sizeof(*e->bin));
		if (!e->bin)
			return -ENOMEM;
		e->t_start = e->t_min = e->t_max = t;
		e->y_min = e->y_max = y;
		e->width = ENV_WIDTH0;
	}
	e->n++;
	e->t_min = fmin(e->t_min, t);
	e->t_max = fmax(e->t_max, t);
	e->y_min = fmin(e->y_min, y);
	e->y_max = fmax(e->y_max, y);
	/* A sample stamped before the first goes to the first bin. */
	at = t > e->t_start ? (t - e->t_start) / e->width : 0;
	while (at >= QC_ENV_BINS) {
		env_halve(e);
		at = (t - e->t_start) / e->width;
	}
	i = (size_t)at;
	if (i >= e->nbins)
		e->nbins = i + 1;
	b = &e->bin[i];
	if (!b->n) {
		*b = (struct qc_env_bin){ (float)y, (float)y, (float)y, (float)y, 0, true };
	} else if (y < b->lo) {
		b->lo = (float)y;
		b->lo_first = false;
	} else if (y > b->hi) {
		b->hi = (float)y;
		b->lo_first = true;
	}
	b->last = (float)y;
	b->n++;
	return 0;
}

/* The stance in progress: sample @k of the buffer, the last one after it. */
static void step_point(const struct qc_steps *st, size_t k, double *t, double *y)
{
	if (k < st->n_buf) {
		*t = st->buf_t[k];
		*y = st->buf_y[k];
	} else {
		*t = st->last_t - st->t_start;
		*y = st->last_y;
	}
}

/* A stance ended: resample it to QC_STEP_PTS points and add it. */
static void step_end(struct qc_steps *st)
{
	size_t n = st->n_buf + ((st->buf_seen - 1) % st->buf_stride ? 1 : 0);
	double dur = st->last_t - st->t_start, v[QC_STEP_PTS];
	size_t j = 0;
	uint64_t idx;

	/*
	 * Too short for a stance; or the range grew by over a quarter while
	 * it lasted (the first steps), so its threshold was not yet the
	 * session's.
	 */
	if (dur < QC_STEP_MIN_S || !(st->hi > st->lo) ||
	    st->hi - st->lo > 1.25 * st->range_at_start)
		return;
	for (int p = 0; p < QC_STEP_PTS; p++) {
		double tp = dur * p / (QC_STEP_PTS - 1), t0, y0, t1, y1;

		step_point(st, j, &t0, &y0);
		while (j + 1 < n) {
			step_point(st, j + 1, &t1, &y1);
			if (t1 > tp)
				break;
			j++;
			t0 = t1;
			y0 = y1;
		}
		v[p] = y0;
		if (j + 1 < n) {
			step_point(st, j + 1, &t1, &y1);
			if (t1 > t0 && tp > t0)
				v[p] = y0 + (y1 - y0) * (tp - t0) / (t1 - t0);
		}
	}
	idx = st->n++;
	for (int p = 0; p < QC_STEP_PTS; p++) {
		st->sum[p] += v[p];
		st->sum2[p] += v[p] * v[p];
		st->min[p] = idx ? fminf(st->min[p], (float)v[p]) : (float)v[p];
		st->max[p] = idx ? fmaxf(st->max[p], (float)v[p]) : (float)v[p];
		st->y_max = fmax(st->y_max, v[p]);
	}
	/* Kept: every keep_stride-th step, spread evenly over the session. */
	if (!st->keep_stride)
		st->keep_stride = 1;
	if (idx % st->keep_stride)
		return;
	if (st->n_keep == QC_STEP_KEEP) {
		for (size_t i = 0; i < QC_STEP_KEEP / 2; i++)
			memcpy(st->keep[i], st->keep[2 * i], sizeof(st->keep[i]));
		st->n_keep /= 2;
		st->keep_stride *= 2;
		if (idx % st->keep_stride)
			return;
	}
	for (int p = 0; p < QC_STEP_PTS; p++)
		st->keep[st->n_keep][p] = (float)v[p];
	st->n_keep++;
}

int qc_steps_add(struct qc_steps *st, double t, double y)
{
	bool up;

	if (!st->samples++) {
		st->lo = st->hi = y;
		st->buf_t = malloc(QC_STEP_BUF * sizeof(*st->buf_t));
		st->buf_y = malloc(QC_STEP_BUF * sizeof(*st->buf_y));
		if (!st->buf_t || !st->buf_y)
			return -ENOMEM;
	}
	st->lo = fmin(st->lo, y);
	st->hi = fmax(st->hi, y);
	up = y > st->lo + 0.1 * (st->hi - st->lo);
	if (up && !st->in) {
		st->in = true;
		st->n_buf = 0;
		st->buf_seen = 0;
		st->buf_stride = 1;
		st->t_start = t;
		st->range_at_start = st->hi - st->lo;
	} else if (!up && st->in) {
		st->in = false;
		step_end(st);
	}
	if (!st->in)
		return 0;
	st->last_t = t;
	st->last_y = y;
	if (st->buf_seen++ % st->buf_stride)
		return 0;
	if (st->n_buf == QC_STEP_BUF) {
		/* A long stance (standing): every other sample is enough. */
		for (size_t i = 0; i < QC_STEP_BUF / 2; i++) {
			st->buf_t[i] = st->buf_t[2 * i];
			st->buf_y[i] = st->buf_y[2 * i];
		}
		st->n_buf /= 2;
		st->buf_stride *= 2;
		if ((st->buf_seen - 1) % st->buf_stride)
			return 0;
	}
	st->buf_t[st->n_buf] = (float)(t - st->t_start);
	st->buf_y[st->n_buf++] = (float)y;
	return 0;
}

void qc_steps_free(struct qc_steps *st)
{
	free(st->buf_t);
	free(st->buf_y);
	st->buf_t = st->buf_y = NULL;
}
