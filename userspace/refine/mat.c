// SPDX-License-Identifier: GPL-2.0
/*
 * The mat: each sensel zeroed at its lowest reading, loaded sensels grouped
 * into footprints as scans arrive, each footprint's contact span and shape
 * (heel, toe, axis) kept once it lifts off. Passes, walking direction and
 * sides are decided at the end from the footprint sequence.
 * docs/gait-parameters.md ("Mat footprints").
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "refine/refine_int.h"

#define THR_KPA		2.0	/* a sensel is loaded above its zero + this */
/*
 * A loaded sensel joins the open footprint whose box, with it, still fits a
 * foot: at most FOOT_LEN_MM long and FOOT_WID_MM wide (walkway axes). Heel
 * and forefoot load as separate islands first; two feet side by side or one
 * behind the other do not fit one box.
 */
#define FOOT_LEN_MM	330.0
#define FOOT_WID_MM	170.0
#define PASS_BREAK_S	2.0	/* a longer pause between contacts: new pass */

static double jnum(struct json_object *o, const char *key, double def)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !(json_object_is_type(v, json_type_int) ||
	      json_object_is_type(v, json_type_double)))
		return def;
	return json_object_get_double(v);
}

int refine_mat_setup(struct refine *R, const struct gcs_stream_info *si)
{
	struct mat *m = &R->mat;
	struct json_object *d = json_tokener_parse(si->desc_json ? si->desc_json : "{}");
	struct json_object *f = NULL, *tp = NULL;
	double full;
	uint32_t per_tile;

	if (m->present) {
		json_object_put(d);
		return 0;	/* one mat: the first */
	}
	if (!d)
		return refine_fail(R, -EINVAL, "stream %u: description is not JSON", si->id);
	m->stream = si->id;
	m->rec_size = si->record_size;
	m->tiles = (uint32_t)jnum(d, "tiles", 0);
	m->rows = (uint32_t)jnum(d, "rows", 0);
	m->cols = (uint32_t)jnum(d, "cols", 0);
	m->pitch_mm = jnum(d, "pitch_um", 0) / 1000.0;
	full = jnum(d, "full_scale_kpa", 600);
	m->kpa_per_code = jnum(d, "scale_kpa", full / 4095.0);
	m->nsens = m->tiles * m->rows * m->cols;
	if (!m->nsens || m->tiles > 64 || m->rows > 256 || m->cols > 256 ||
	    !(m->pitch_mm > 0) || !(m->kpa_per_code > 0) ||
	    2ull * m->nsens + 8 > m->rec_size) {
		json_object_put(d);
		return refine_fail(R, -EINVAL, "stream %u: the mat's geometry (%u tiles of %u x %u, "
				   "pitch %.1f mm) does not fit its %u-byte scans",
				   si->id, m->tiles, m->rows, m->cols, m->pitch_mm, m->rec_size);
	}
	json_object_object_get_ex(d, "fields", &f);
	m->has_seq = f && json_object_object_get_ex(f, "seq", NULL);
	m->off_seq = (uint32_t)jnum(f, "seq", 0);
	if (m->has_seq && m->off_seq + 4 > m->rec_size)
		m->has_seq = false;
	m->x = calloc(m->nsens, sizeof(*m->x));
	m->y = calloc(m->nsens, sizeof(*m->y));
	m->zero = calloc(m->nsens, sizeof(*m->zero));
	m->owner = malloc(m->nsens * sizeof(*m->owner));
	m->slot = calloc(m->nsens, sizeof(*m->slot));
	if (!m->x || !m->y || !m->zero || !m->owner || !m->slot) {
		json_object_put(d);
		return refine_fail(R, -ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < m->nsens; i++)
		m->owner[i] = -1;
	json_object_object_get_ex(d, "tile_placement", &tp);
	per_tile = m->rows * m->cols;
	m->ext_x0 = m->ext_y0 = INFINITY;
	m->ext_x1 = m->ext_y1 = -INFINITY;
	for (uint32_t i = 0; i < m->nsens; i++) {
		uint32_t t = i / per_tile, r = (i % per_tile) / m->cols, c = i % m->cols;
		struct json_object *e = tp && json_object_is_type(tp, json_type_array) ?
					json_object_array_get_idx(tp, t) : NULL;
		/* Without a placement: tiles side by side along x. */
		double tx = jnum(e, "x_mm", t * m->cols * m->pitch_mm);
		double ty = jnum(e, "y_mm", 0);
		int rot = ((int)lround(jnum(e, "rotation_deg", 0) / 90) % 4 + 4) % 4;
		double lx = (c + 0.5) * m->pitch_mm, ly = (r + 0.5) * m->pitch_mm;
		double rx = rot == 0 ? lx : rot == 1 ? -ly : rot == 2 ? -lx : ly;
		double ry = rot == 0 ? ly : rot == 1 ? lx : rot == 2 ? -ly : -lx;

		m->x[i] = (float)(tx + rx);
		m->y[i] = (float)(ty + ry);
		m->ext_x0 = fmin(m->ext_x0, m->x[i]);
		m->ext_y0 = fmin(m->ext_y0, m->y[i]);
		m->ext_x1 = fmax(m->ext_x1, m->x[i]);
		m->ext_y1 = fmax(m->ext_y1, m->y[i]);
	}
	json_object_put(d);
	m->thr_code = (uint16_t)fmax(3, ceil(THR_KPA / m->kpa_per_code));
	m->sat_code = 4095;
	m->present = true;
	return 0;
}

void refine_mat_free(struct mat *m)
{
	for (size_t i = 0; i < m->n_fp; i++) {
		free(m->fp[i].sens);
		free(m->fp[i].maxv);
	}
	free(m->fp);
	free(m->x);
	free(m->y);
	free(m->zero);
	free(m->lim);
	free(m->owner);
	free(m->slot);
}

static uint16_t sensel(const uint8_t *p, uint32_t i)
{
	return (uint16_t)((p[2 * i] | p[2 * i + 1] << 8) & 0x0fff);
}

/*
 * Sensels LIM_BLOCK at a time: a loop of a fixed count over unaliased
 * arrays is one that -O2 vectorises.
 */
#define LIM_BLOCK	64

static void zero_block(uint16_t *restrict z, const uint8_t *restrict p)
{
	for (unsigned int k = 0; k < LIM_BLOCK; k++) {
		uint16_t v;

		memcpy(&v, p + 2 * k, sizeof(v));	/* LE, as the format */
		v &= 0x0fff;
		z[k] = v < z[k] ? v : z[k];
	}
}

void refine_mat_pass_a(struct refine *R, const struct gcs_record *rec)
{
	struct mat *m = &R->mat;
	uint32_t i = 0;

	if (rec->len != m->rec_size)
		return;
	if (!m->zero_init) {
		for (i = 0; i < m->nsens; i++)
			m->zero[i] = sensel(rec->data, i);
		m->zero_init = true;
		return;
	}
	for (; i + LIM_BLOCK <= m->nsens; i += LIM_BLOCK)
		zero_block(m->zero + i, rec->data + 2 * i);
	for (; i < m->nsens; i++) {
		uint16_t v = sensel(rec->data, i);

		if (v < m->zero[i])
			m->zero[i] = v;
	}
}

/*
 * Most of a walkway is unloaded in most scans: a block of sensels all below
 * their threshold (lim, from pass A's zeros) is skipped as a whole.
 */
static int lim_setup(struct refine *R)
{
	struct mat *m = &R->mat;

	m->lim = malloc(m->nsens * sizeof(*m->lim));
	if (!m->lim)
		return refine_fail(R, -ENOMEM, "out of memory");
	/* Codes are 12 bits: a limit past 65535 is never reached either. */
	for (uint32_t i = 0; i < m->nsens; i++)
		m->lim[i] = (uint16_t)(m->zero[i] + m->thr_code > 0xffff ?
				       0xffff : m->zero[i] + m->thr_code);
	return 0;
}

static bool block_loaded(const uint16_t *restrict lim, const uint8_t *restrict p)
{
	uint16_t hit = 0;

	for (unsigned int k = 0; k < LIM_BLOCK; k++) {
		uint16_t v;

		memcpy(&v, p + 2 * k, sizeof(v));
		hit |= (v & 0x0fff) >= lim[k];
	}
	return hit;
}

static int fp_new(struct refine *R, int64_t t)
{
	struct mat *m = &R->mat;
	struct footprint *f;

	if (m->n_open == MAX_FOOTPRINTS_OPEN)
		return -1;
	if (m->n_fp == m->cap_fp) {
		size_t cap = m->cap_fp ? 2 * m->cap_fp : 64;
		struct footprint *p = realloc(m->fp, cap * sizeof(*p));

		if (!p)
			return refine_fail(R, -ENOMEM, "out of memory"), -2;
		m->fp = p;
		m->cap_fp = cap;
	}
	f = &m->fp[m->n_fp];
	memset(f, 0, sizeof(*f));
	f->open = true;
	f->t_first = f->t_last = t;
	f->t_before = m->have_last ? m->last_t : t;
	if (!m->have_last)
		f->flags |= REFINE_Q_INCOMPLETE;
	if (m->gap_pending)
		f->flags |= REFINE_Q_GAP;
	f->bx0 = f->by0 = INFINITY;
	f->bx1 = f->by1 = -INFINITY;
	f->pass = -1;
	f->side = REFINE_SIDE_UNKNOWN;
	m->open[m->n_open++] = (int)m->n_fp;
	return (int)m->n_fp++;
}

static int fp_add(struct refine *R, int id, uint32_t i, uint16_t v, int64_t t)
{
	struct mat *m = &R->mat;
	struct footprint *f = &m->fp[id];

	if (m->owner[i] == id) {
		uint32_t s = m->slot[i];

		if (v > f->maxv[s])
			f->maxv[s] = v;
		return 0;
	}
	if (f->n_sens == f->cap_sens) {
		uint32_t cap = f->cap_sens ? 2 * f->cap_sens : 128;
		uint32_t *s = realloc(f->sens, cap * sizeof(*s));
		uint16_t *mv;

		if (s)
			f->sens = s;
		mv = s ? realloc(f->maxv, cap * sizeof(*mv)) : NULL;
		if (!mv)
			return refine_fail(R, -ENOMEM, "out of memory");
		f->maxv = mv;
		f->cap_sens = cap;
	}
	m->owner[i] = id;
	m->slot[i] = f->n_sens;
	f->sens[f->n_sens] = i;
	f->maxv[f->n_sens] = v;
	f->n_sens++;
	f->bx0 = fmin(f->bx0, m->x[i]);
	f->by0 = fmin(f->by0, m->y[i]);
	f->bx1 = fmax(f->bx1, m->x[i]);
	f->by1 = fmax(f->by1, m->y[i]);
	return 0;
}

/* Lifted off: its shape, then its memory back. */
static void fp_close(struct mat *m, int id, int64_t t_after)
{
	struct footprint *f = &m->fp[id];
	double sw = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
	double ax, ay, lo = INFINITY, hi = -INFINITY;

	f->open = false;
	f->ic_ns = f->t_before + (f->t_first - f->t_before) / 2;
	f->to_ns = f->t_last + (t_after - f->t_last) / 2;
	for (uint32_t k = 0; k < f->n_sens; k++) {
		uint32_t i = f->sens[k];
		double w = f->maxv[k], x = m->x[i], y = m->y[i];

		sw += w;
		sx += w * x;
		sy += w * y;
		sxx += w * x * x;
		syy += w * y * y;
		sxy += w * x * y;
		m->owner[i] = -1;
	}
	if (sw > 0) {
		double cxx, cyy, cxy;

		f->cx = sx / sw;
		f->cy = sy / sw;
		cxx = sxx / sw - f->cx * f->cx;
		cyy = syy / sw - f->cy * f->cy;
		cxy = sxy / sw - f->cx * f->cy;
		/* The long axis: the principal direction of the load. */
		f->axis = 0.5 * atan2(2 * cxy, cxx - cyy);
	}
	ax = cos(f->axis);
	ay = sin(f->axis);
	for (uint32_t k = 0; k < f->n_sens; k++) {
		uint32_t i = f->sens[k];
		double p = (m->x[i] - f->cx) * ax + (m->y[i] - f->cy) * ay;

		lo = fmin(lo, p);
		hi = fmax(hi, p);
	}
	/*
	 * The foot's axis: from the load centre of its rear 30 % to that of its
	 * front 30 % (the principal axis leans towards the lateral arch).
	 */
	{
		double rw = 0, rx = 0, ry = 0, fw = 0, fx = 0, fy = 0, span = hi - lo;

		for (uint32_t k = 0; k < f->n_sens; k++) {
			uint32_t i = f->sens[k];
			double p = (m->x[i] - f->cx) * ax + (m->y[i] - f->cy) * ay;
			double w = f->maxv[k];

			if (p <= lo + 0.3 * span) {
				rw += w;
				rx += w * m->x[i];
				ry += w * m->y[i];
			} else if (p >= hi - 0.3 * span) {
				fw += w;
				fx += w * m->x[i];
				fy += w * m->y[i];
			}
		}
		if (rw > 0 && fw > 0) {
			f->axis = atan2(fy / fw - ry / rw, fx / fw - rx / rw);
			ax = cos(f->axis);
			ay = sin(f->axis);
			lo = INFINITY;
			hi = -INFINITY;
			for (uint32_t k = 0; k < f->n_sens; k++) {
				uint32_t i = f->sens[k];
				double p = (m->x[i] - f->cx) * ax + (m->y[i] - f->cy) * ay;

				lo = fmin(lo, p);
				hi = fmax(hi, p);
			}
		}
	}
	/* Heel and toe along the axis, to the sensels' outer edges. */
	f->heel_x = f->cx + ax * (lo - m->pitch_mm / 2);
	f->heel_y = f->cy + ay * (lo - m->pitch_mm / 2);
	f->toe_x = f->cx + ax * (hi + m->pitch_mm / 2);
	f->toe_y = f->cy + ay * (hi + m->pitch_mm / 2);
	if (f->bx0 <= m->ext_x0 + m->pitch_mm / 2 || f->by0 <= m->ext_y0 + m->pitch_mm / 2 ||
	    f->bx1 >= m->ext_x1 - m->pitch_mm / 2 || f->by1 >= m->ext_y1 - m->pitch_mm / 2)
		f->flags |= REFINE_Q_PARTIAL;
	free(f->sens);
	free(f->maxv);
	f->sens = NULL;
	f->maxv = NULL;
	f->n_sens = f->cap_sens = 0;
}

int refine_mat_pass_b(struct refine *R, const struct gcs_record *rec)
{
	struct mat *m = &R->mat;
	int64_t t = rec->t_ns;
	uint64_t seq = 0;
	bool sat = false;
	unsigned int k;

	if (rec->len != m->rec_size) {
		m->corrupt++;
		return 0;
	}
	if (m->has_seq) {
		const uint8_t *p = rec->data + m->off_seq;
		uint32_t raw = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;

		/* Unwrapped against the last scan, as the capture numbers them. */
		seq = m->have_last ? m->last_seq + (int64_t)(int32_t)(raw - (uint32_t)m->last_seq) : raw;
		if (m->have_last && seq <= m->last_seq) {
			m->dup++;
			return 0;
		}
		if (m->have_last && seq > m->last_seq + 1) {
			m->gaps++;
			m->missing += seq - m->last_seq - 1;
			m->gap_pending = true;
		}
	}
	if (m->have_last && t <= m->last_t) {
		m->dup++;
		return 0;
	}
	m->scans++;
	if (!m->lim && lim_setup(R))
		return -ENOMEM;
	for (uint32_t i = 0; i < m->nsens; i++) {
		uint16_t raw;
		int id;

		if (!(i % LIM_BLOCK) && i + LIM_BLOCK <= m->nsens &&
		    !block_loaded(m->lim + i, rec->data + 2 * i)) {
			i += LIM_BLOCK - 1;
			continue;
		}
		raw = sensel(rec->data, i);
		id = m->owner[i];

		if (raw < m->zero[i] + m->thr_code)
			continue;
		if (raw >= m->sat_code)
			sat = true;
		if (id < 0) {
			double best = INFINITY;

			for (k = 0; k < m->n_open; k++) {
				struct footprint *f = &m->fp[m->open[k]];
				double w = fmax(f->bx1, m->x[i]) - fmin(f->bx0, m->x[i]);
				double h = fmax(f->by1, m->y[i]) - fmin(f->by0, m->y[i]);
				double grow = w * h - (f->bx1 - f->bx0) * (f->by1 - f->by0);

				if (fmax(w, h) <= FOOT_LEN_MM && fmin(w, h) <= FOOT_WID_MM &&
				    grow < best) {
					best = grow;
					id = m->open[k];
				}
			}
		}
		if (id < 0) {
			id = fp_new(R, t);
			if (id == -2)
				return -ENOMEM;
			if (id < 0)
				continue;	/* more feet than anyone has */
		}
		if (fp_add(R, id, i, (uint16_t)(raw - m->zero[i]), t))
			return -ENOMEM;
		m->fp[id].missed = 0;
		m->fp[id].t_last = t;
		if (m->gap_pending)
			m->fp[id].flags |= REFINE_Q_GAP;
	}
	if (sat)
		m->saturated++;
	/* Feet not seen in this scan: two empty scans end a contact. */
	for (k = 0; k < m->n_open;) {
		struct footprint *f = &m->fp[m->open[k]];

		if (sat && f->t_last == t)
			f->flags |= REFINE_Q_SATURATED;
		if (f->t_last != t && ++f->missed >= 2) {
			fp_close(m, m->open[k], f->t_after_first_miss);
			m->open[k] = m->open[--m->n_open];
			continue;
		}
		if (f->t_last != t && f->missed == 1)
			f->t_after_first_miss = t;
		k++;
	}
	m->gap_pending = false;
	m->have_last = true;
	m->last_seq = seq;
	m->last_t = t;
	return 0;
}

static int cmp_fp(const void *a, const void *b)
{
	const struct footprint *x = a, *y = b;

	return (x->ic_ns > y->ic_ns) - (x->ic_ns < y->ic_ns);
}

/* Turn a footprint's axis to point along @dx, @dy (heel behind, toe ahead). */
static void orient(struct footprint *f, double dx, double dy)
{
	if ((f->toe_x - f->heel_x) * dx + (f->toe_y - f->heel_y) * dy < 0) {
		double hx = f->heel_x, hy = f->heel_y;

		f->heel_x = f->toe_x;
		f->heel_y = f->toe_y;
		f->toe_x = hx;
		f->toe_y = hy;
	}
	f->axis = atan2(f->toe_y - f->heel_y, f->toe_x - f->heel_x);
}

int refine_mat_finish(struct refine *R)
{
	struct mat *m = &R->mat;
	size_t i, j, start;
	int pass = 0, ret = 0;

	if (!m->present)
		return 0;
	for (unsigned int k = 0; k < m->n_open; k++) {
		struct footprint *f = &m->fp[m->open[k]];

		f->flags |= REFINE_Q_INCOMPLETE;	/* still down at the end */
		fp_close(m, m->open[k], f->t_last);
	}
	m->n_open = 0;
	if (m->n_fp)
		qsort(m->fp, m->n_fp, sizeof(*m->fp), cmp_fp);
	for (start = 0; start < m->n_fp; start = j, pass++) {
		double dx, dy, len;

		for (j = start + 1; j < m->n_fp &&
		     m->fp[j].ic_ns - m->fp[j - 1].ic_ns < PASS_BREAK_S * NS_PER_S; j++)
			;
		for (i = start; i < j; i++)
			m->fp[i].pass = pass;
		if (j - start < 2)
			continue;
		dx = m->fp[j - 1].cx - m->fp[start].cx;
		dy = m->fp[j - 1].cy - m->fp[start].cy;
		len = hypot(dx, dy);
		if (len < 1)
			continue;
		dx /= len;
		dy /= len;
		for (i = start; i < j; i++)
			orient(&m->fp[i], dx, dy);
		/* Left of the walking direction is the left foot. */
		for (i = start; i < j; i++) {
			const struct footprint *a = &m->fp[i > start ? i - 1 : i + 1];
			const struct footprint *b = &m->fp[i + 1 < j ? i + 1 : i - 1];
			double mx = (a->cx + b->cx) / 2, my = (a->cy + b->cy) / 2;
			double lat = dx * (m->fp[i].cy - my) - dy * (m->fp[i].cx - mx);

			m->fp[i].side = lat > 0 ? REFINE_LEFT : REFINE_RIGHT;
		}
	}
	R->mat.n_passes = pass;
	for (i = 0; !ret && i < m->n_fp; i++) {
		const struct footprint *f = &m->fp[i];

		ret = refine_add_event(R, f->ic_ns, f->side, REFINE_IC, REFINE_SRC_MAT,
				       f->flags, (int)i);
		if (!ret && !(f->flags & REFINE_Q_INCOMPLETE))
			ret = refine_add_event(R, f->to_ns, f->side, REFINE_TO,
					       REFINE_SRC_MAT, f->flags, (int)i);
	}
	return ret;
}
