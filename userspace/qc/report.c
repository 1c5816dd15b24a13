// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap qc --report: one self-contained HTML page for a clinician
 * (docs/qc.md, "The report"). Plots are drawn with cairo into PNGs and
 * embedded as data: URIs, so the page needs nothing beside it. Every plot
 * and table has a fixed id, which the report test looks for.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo/cairo.h>
#include <json-c/json.h>

#include "qc/qc.h"

#define W	960

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static cairo_status_t buf_write(void *closure, const unsigned char *data,
				unsigned int len)
{
	struct buf *b = closure;

	if (b->n + len > b->cap) {
		size_t cap = (b->n + len) * 2;
		unsigned char *p = realloc(b->p, cap);

		if (!p)
			return CAIRO_STATUS_NO_MEMORY;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	return CAIRO_STATUS_SUCCESS;
}

static void base64(FILE *f, const unsigned char *p, size_t n)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		fputc(t[v >> 18 & 63], f);
		fputc(t[v >> 12 & 63], f);
		fputc(i + 1 < n ? t[v >> 6 & 63] : '=', f);
		fputc(i + 2 < n ? t[v & 63] : '=', f);
	}
}

/* The surface as <img id=...>, PNG in a data: URI. */
static int emit(FILE *f, cairo_surface_t *s, const char *id, const char *alt)
{
	struct buf b = { 0 };
	int ret = 0;

	if (cairo_surface_write_to_png_stream(s, buf_write, &b) != CAIRO_STATUS_SUCCESS) {
		ret = -ENOMEM;
	} else {
		fprintf(f, "<figure><img id=\"%s\" alt=\"%s\" src=\"data:image/png;base64,", id, alt);
		base64(f, b.p, b.n);
		fprintf(f, "\"><figcaption>%s</figcaption></figure>\n", alt);
	}
	free(b.p);
	return ret;
}

static void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

/* Blue (low) through green and yellow to red (high), for 0..1. */
static void heat(cairo_t *cr, double v)
{
	double r, g, b;

	v = v < 0 ? 0 : v > 1 ? 1 : v;
	if (v < 0.33) {
		r = 0, g = v / 0.33, b = 1 - v / 0.33;
	} else if (v < 0.66) {
		r = (v - 0.33) / 0.33, g = 1, b = 0;
	} else {
		r = 1, g = 1 - (v - 0.66) / 0.34, b = 0;
	}
	cairo_set_source_rgb(cr, r, g, b);
}

static void label(cairo_t *cr, double x, double y, const char *s, double size)
{
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
			       CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

static cairo_surface_t *canvas(int w, int h, cairo_t **cr)
{
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);

	*cr = cairo_create(s);
	cairo_set_source_rgb(*cr, 1, 1, 1);
	cairo_paint(*cr);
	return s;
}

/* A foot outline and its cells coloured by peak pressure. */
static void draw_insole(cairo_t *cr, const struct qc_side *q, double ox,
			double oy, double scale, double vmax, const char *title)
{
	label(cr, ox - 150, oy - 290 * scale - 10, title, 13);
	cairo_save(cr);
	cairo_translate(cr, ox, oy);
	cairo_scale(cr, scale * 1.0, scale * 1.3);
	cairo_arc(cr, 0, -135, 60, 0, 2 * M_PI);
	cairo_restore(cr);
	cairo_set_source_rgb(cr, 0.92, 0.92, 0.92);
	cairo_fill(cr);
	for (unsigned int c = 0; c < q->n_cells; c++) {
		double x = ox + q->cell_pos[c].x * scale * 1.2;
		double y = oy - q->cell_pos[c].y * scale;

		heat(cr, vmax > 0 ? q->cell_peak[c] / vmax : 0);
		cairo_arc(cr, x, y, 12 * scale, 0, 2 * M_PI);
		cairo_fill(cr);
	}
}

static int plot_footprints(FILE *f, const struct qc_result *res)
{
	const struct qc_mat *m = &res->mat;
	int h = 60, y = 30, ret;
	double vmax = 0;
	cairo_surface_t *s;
	cairo_t *cr;
	char t[160];

	if (m->on)
		h += (int)((double)W / m->w * m->h) + 30;
	if (res->side[0].on || res->side[1].on)
		h += 320;
	s = canvas(W, h, &cr);
	if (m->on) {
		double px = (double)W / m->w, vm = 0;

		for (size_t i = 0; i < (size_t)m->w * m->h; i++)
			if (m->peak[i] > vm)
				vm = m->peak[i];
		snprintf(t, sizeof(t), "Mat: peak pressure per sensel over the session (max %.0f codes)", vm);
		label(cr, 10, 20, t, 14);
		for (unsigned int yy = 0; yy < m->h; yy++)
			for (unsigned int x = 0; x < m->w; x++) {
				float v = m->peak[yy * m->w + x];

				if (v <= 0)
					continue;
				heat(cr, vm > 0 ? v / vm : 0);
				cairo_rectangle(cr, x * px, y + yy * px, px + 0.5, px + 0.5);
				cairo_fill(cr);
			}
		cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
		cairo_set_line_width(cr, 1);
		cairo_rectangle(cr, 0.5, y + 0.5, W - 1, m->h * px);
		cairo_stroke(cr);
		y += (int)(m->h * px) + 30;
	}
	if (res->side[0].on || res->side[1].on) {
		for (int k = 0; k < 2; k++)
			for (unsigned int c = 0; c < res->side[k].n_cells; c++)
				if (res->side[k].cell_peak[c] > vmax)
					vmax = res->side[k].cell_peak[c];
		for (int k = 0; k < 2; k++) {
			if (!res->side[k].on)
				continue;
			snprintf(t, sizeof(t), "%s insole, peak per cell (max %.0f kPa)%s",
				 k ? "Right" : "Left", vmax,
				 res->side[k].cell_pos_known ? "" : ", schematic");
			draw_insole(cr, &res->side[k], W / 4.0 + k * W / 2.0, y + 290, 1.0,
				    vmax, t);
		}
	}
	cairo_destroy(cr);
	ret = emit(f, s, "plot-footprints",
		   "Pressure map of the footprints: peak pressure, red highest");
	cairo_surface_destroy(s);
	return ret;
}

static const double SIDE_RGB[2][3] = { { 0.1, 0.3, 0.8 }, { 0.85, 0.2, 0.1 } };

static void event_color(cairo_t *cr, const char *kind)
{
	if (!strcmp(kind, "IC"))
		cairo_set_source_rgb(cr, 0, 0.6, 0);
	else if (!strcmp(kind, "TO"))
		cairo_set_source_rgb(cr, 0.8, 0.5, 0);
	else
		cairo_set_source_rgb(cr, 0.5, 0, 0.6);
}

/* One pixel column of the envelope: first, lowest and highest in order, last. */
static void column(cairo_t *cr, const struct qc_env_bin *c, double x,
		   double oy, double py, double vmax, bool *started)
{
	float v[4] = { c->first, c->lo_first ? c->lo : c->hi,
		       c->lo_first ? c->hi : c->lo, c->last };

	double y = 0;

	for (int i = 0; i < 4; i++) {
		y = oy + py - v[i] / vmax * py;
		if (!*started)
			cairo_move_to(cr, x, y);
		else
			cairo_line_to(cr, x, y);
		*started = true;
	}
	/* Short strokes: cairo's cost grows faster than a path's length. */
	if ((long)x % 32 == 0) {
		cairo_stroke(cr);
		cairo_move_to(cr, x, y);
	}
}

/*
 * Load against time, one panel per side, events as vertical lines. The
 * envelope's bins are folded into pixel columns: the line drawn is the one
 * every sample would give, at a few vertices per column.
 */
static int plot_force(FILE *f, const struct qc_result *res)
{
	const int ph = 220, h = 2 * ph + 20;
	cairo_surface_t *s;
	cairo_t *cr;
	int ret;

	s = canvas(W, h, &cr);
	for (int k = 0; k < 2; k++) {
		const struct qc_envelope *e = &res->side[k].load;
		double t0 = e->t_min, t1 = e->t_max, vmax = e->y_max, oy = 10 + k * ph;
		double x0 = 60, pw = W - 80, py = ph - 50;
		struct qc_env_bin col = { 0 };
		bool started = false, drawn[3][W + 1];
		long cx = -1;
		char t[128];

		snprintf(t, sizeof(t), "%s: %s against time (s)", k ? "Right" : "Left",
			 !strcmp(res->side[k].load_unit, "N") ? "total force (N)" :
			 "summed cell pressure (kPa)");
		label(cr, x0, oy + 14, e->n ? t : "no insole data for this side", 13);
		if (!e->n || !(t1 > t0) || !(vmax > 0))
			continue;
		oy += 24;
		cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
		cairo_set_line_width(cr, 1);
		cairo_rectangle(cr, x0, oy, pw, py);
		cairo_stroke(cr);
		/* One line per pixel column and kind: a long session has thousands. */
		memset(drawn, 0, sizeof(drawn));
		for (size_t i = 0; i < res->n_events; i++) {
			const struct qc_event *ev = &res->events[i];
			long px = lround((ev->t - t0) / (t1 - t0) * pw);
			int kind = !strcmp(ev->kind, "IC") ? 0 : !strcmp(ev->kind, "TO") ? 1 : 2;

			if (ev->side != k || ev->t < t0 || ev->t > t1 || drawn[kind][px])
				continue;
			drawn[kind][px] = true;
			event_color(cr, ev->kind);
			cairo_move_to(cr, x0 + px + 0.5, oy);
			cairo_line_to(cr, x0 + px + 0.5, oy + py);
			cairo_stroke(cr);
		}
		cairo_set_source_rgb(cr, SIDE_RGB[k][0], SIDE_RGB[k][1], SIDE_RGB[k][2]);
		cairo_set_line_width(cr, 1.2);
		for (size_t i = 0; i < e->nbins; i++) {
			double tm = fmin(fmax(e->t_start + (i + 0.5) * e->width, t0), t1);
			long px = (long)floor((tm - t0) / (t1 - t0) * pw);

			if (!e->bin[i].n)
				continue;
			if (px != cx && col.n)
				column(cr, &col, x0 + cx + 0.5, oy, py, vmax, &started);
			if (px != cx)
				col = (struct qc_env_bin){ 0 };
			cx = px;
			qc_env_bin_merge(&col, &e->bin[i]);
		}
		if (col.n)
			column(cr, &col, x0 + cx + 0.5, oy, py, vmax, &started);
		cairo_stroke(cr);
		snprintf(t, sizeof(t), "%.1f", t0);
		label(cr, x0, oy + py + 14, t, 11);
		snprintf(t, sizeof(t), "%.1f s", t1);
		label(cr, x0 + pw - 40, oy + py + 14, t, 11);
		snprintf(t, sizeof(t), "%.0f", vmax);
		label(cr, 5, oy + 10, t, 11);
	}
	cairo_destroy(cr);
	ret = emit(f, s, "plot-force",
		   "Force against time per side; green lines initial contacts, orange toe-offs, "
		   "purple operator events");
	cairo_surface_destroy(s);
	return ret;
}

static void step_curve(cairo_t *cr, const double *v, double x0, double pw,
		       double oy, double py, double vmax)
{
	for (int p = 0; p < QC_STEP_PTS; p++) {
		double x = x0 + pw * p / (QC_STEP_PTS - 1);
		double y = oy + py - fmax(v[p], 0) / vmax * py;

		if (!p)
			cairo_move_to(cr, x, y);
		else
			cairo_line_to(cr, x, y);
	}
}

static void band(cairo_t *cr, const double *upper, const float *lower,
		 double x0, double pw, double oy, double py, double vmax)
{
	step_curve(cr, upper, x0, pw, oy, py, vmax);
	for (int p = QC_STEP_PTS - 1; p >= 0; p--)
		cairo_line_to(cr, x0 + pw * p / (QC_STEP_PTS - 1),
			      oy + py - fmax(lower[p], 0) / vmax * py);
	cairo_close_path(cr);
}

/*
 * The steps over their stance, 0..100 % (qc.h, struct qc_steps): the mean,
 * a band of one SD either side and the range over all steps, and the
 * steps kept, evenly spread over the session, drawn thin.
 */
static int plot_steps(FILE *f, const struct qc_result *res)
{
	const int h = 300;
	cairo_surface_t *s;
	cairo_t *cr;
	int ret;
	char t[160];

	s = canvas(W, h, &cr);
	for (int k = 0; k < 2; k++) {
		const struct qc_steps *st = &res->side[k].steps;
		double x0 = 40 + k * W / 2.0, pw = W / 2.0 - 70, py = h - 70, oy = 30;
		double mean[QC_STEP_PTS], up[QC_STEP_PTS], dn[QC_STEP_PTS], v[QC_STEP_PTS];
		double vmax = st->y_max;
		float dnf[QC_STEP_PTS];

		snprintf(t, sizeof(t), "%s: force per step, stance 0..100 %%", k ? "Right" : "Left");
		label(cr, x0, 18, t, 13);
		cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
		cairo_set_line_width(cr, 1);
		cairo_rectangle(cr, x0, oy, pw, py);
		cairo_stroke(cr);
		if (!st->n || !(vmax > 0))
			goto marks;
		for (int p = 0; p < QC_STEP_PTS; p++) {
			double m = st->sum[p] / st->n;
			double sd = sqrt(fmax(st->sum2[p] / st->n - m * m, 0));

			mean[p] = m;
			up[p] = m + sd;
			dn[p] = m - sd;
			vmax = fmax(vmax, up[p]);
		}
		/* Bands: up the upper edge, back along the lower one. */
		for (int p = 0; p < QC_STEP_PTS; p++)
			v[p] = st->max[p];
		band(cr, v, st->min, x0, pw, oy, py, vmax);
		cairo_set_source_rgba(cr, SIDE_RGB[k][0], SIDE_RGB[k][1], SIDE_RGB[k][2], 0.10);
		cairo_fill(cr);
		for (int p = 0; p < QC_STEP_PTS; p++)
			dnf[p] = (float)dn[p];
		band(cr, up, dnf, x0, pw, oy, py, vmax);
		cairo_set_source_rgba(cr, SIDE_RGB[k][0], SIDE_RGB[k][1], SIDE_RGB[k][2], 0.25);
		cairo_fill(cr);
		cairo_set_source_rgba(cr, SIDE_RGB[k][0], SIDE_RGB[k][1], SIDE_RGB[k][2], 0.45);
		cairo_set_line_width(cr, 0.8);
		for (size_t i = 0; i < st->n_keep; i++) {
			for (int p = 0; p < QC_STEP_PTS; p++)
				v[p] = st->keep[i][p];
			step_curve(cr, v, x0, pw, oy, py, vmax);
			cairo_stroke(cr);
		}
		cairo_set_source_rgb(cr, SIDE_RGB[k][0] * 0.6, SIDE_RGB[k][1] * 0.6,
				     SIDE_RGB[k][2] * 0.6);
		cairo_set_line_width(cr, 2.2);
		step_curve(cr, mean, x0, pw, oy, py, vmax);
		cairo_stroke(cr);
marks:
		/* Initial contact at 0 %, toe-off at 100 %. */
		cairo_set_line_width(cr, 1);
		event_color(cr, "IC");
		cairo_move_to(cr, x0, oy);
		cairo_line_to(cr, x0, oy + py);
		cairo_stroke(cr);
		event_color(cr, "TO");
		cairo_move_to(cr, x0 + pw, oy);
		cairo_line_to(cr, x0 + pw, oy + py);
		cairo_stroke(cr);
		snprintf(t, sizeof(t),
			 "%llu steps: mean (thick), \302\261 1 SD (dark band), range (light), %zu drawn",
			 (unsigned long long)st->n, st->n_keep);
		label(cr, x0, oy + py + 16, t, 11);
		label(cr, x0, oy + py + 30, "IC (green) at 0 %, toe-off (orange) at 100 %", 11);
	}
	cairo_destroy(cr);
	ret = emit(f, s, "plot-steps",
		   "Force curves per step over the stance phase (mean, one SD either side, range, "
		   "and steps spread over the session), initial contact and toe-off marked");
	cairo_surface_destroy(s);
	return ret;
}

static int plot_cop(FILE *f, const struct qc_result *res)
{
	const int h = 420;
	cairo_surface_t *s;
	cairo_t *cr;
	int ret;

	s = canvas(W, h, &cr);
	for (int k = 0; k < 2; k++) {
		const struct qc_side *q = &res->side[k];
		double cx = W / 6.0 + k * W / 3.0, oy = 40, ph = h - 80;
		double xmin = -0.5, xmax = 0.5, ymin = -0.5, ymax = 0.5, sc;

		label(cr, cx - 80, 20, k ? "Right insole: centre of pressure" :
		      "Left insole: centre of pressure", 13);
		if (!q->cop.n)
			continue;
		/* Vendor fractions of the insole, or millimetres of the cell layout. */
		if (!q->cop_frac) {
			xmin = ymin = INFINITY;
			xmax = ymax = -INFINITY;
			for (unsigned int c = 0; c < q->n_cells; c++) {
				xmin = fmin(xmin, q->cell_pos[c].x - 20);
				xmax = fmax(xmax, q->cell_pos[c].x + 20);
				ymin = fmin(ymin, q->cell_pos[c].y - 20);
				ymax = fmax(ymax, q->cell_pos[c].y + 20);
			}
		}
		sc = ph / (ymax - ymin);
		{
			double bw = !q->cop_frac ? (xmax - xmin) * sc : ph * 0.4;
			double sx = bw / (xmax - xmin);

			cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
			cairo_rectangle(cr, cx - bw / 2, oy, bw, ph);
			cairo_stroke(cr);
			/*
			 * Dots, not a line: the points kept are samples apart
			 * (struct qc_series), and one path crossing itself
			 * thousands of times took most of qc's time to fill.
			 */
			cairo_set_source_rgba(cr, SIDE_RGB[k][0], SIDE_RGB[k][1], SIDE_RGB[k][2], 0.3);
			for (size_t i = 0; i < q->cop.n; i++) {
				double x = cx + (q->cop.p[i].x - (xmin + xmax) / 2) * sx;
				double y = oy + ph - (q->cop.p[i].y - ymin) * sc;

				cairo_rectangle(cr, x - 1, y - 1, 2, 2);
				cairo_fill(cr);
			}
		}
		label(cr, cx - 40, h - 20, "heel (bottom) to toe (top)", 11);
	}
	if (res->mat.on && res->mat.cop.n) {
		const struct qc_mat *m = &res->mat;
		double x0 = 2 * W / 3.0 + 10, pw = W / 3.0 - 30, sc = pw / m->w;

		label(cr, x0, 20, "Mat: centre of pressure over the walkway", 13);
		cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
		cairo_rectangle(cr, x0, 40, pw, m->h * sc);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		for (size_t i = 0; i < m->cop.n; i++) {
			cairo_rectangle(cr, x0 + m->cop.p[i].x * sc, 40 + m->cop.p[i].y * sc, 1.5, 1.5);
			cairo_fill(cr);
		}
	}
	cairo_destroy(cr);
	ret = emit(f, s, "plot-cop", "Centre-of-pressure paths: insoles (heel to toe) and the mat");
	cairo_surface_destroy(s);
	return ret;
}

static void param_rows(FILE *f, struct json_object *o, char *prefix, size_t cap)
{
	size_t len = strlen(prefix);

	json_object_object_foreach(o, k, v) {
		struct json_object *mean, *sd, *n;

		snprintf(prefix + len, cap - len, "%s%s", len ? "." : "", k);
		if (json_object_is_type(v, json_type_object) &&
		    json_object_object_get_ex(v, "mean", &mean)) {
			fputs("<tr><td>", f);
			html_text(f, prefix);
			fprintf(f, "</td><td>%.4g</td><td>", json_object_get_double(mean));
			if (json_object_object_get_ex(v, "sd", &sd))
				fprintf(f, "%.3g", json_object_get_double(sd));
			fputs("</td><td>", f);
			if (json_object_object_get_ex(v, "n", &n))
				fprintf(f, "%d", json_object_get_int(n));
			fputs("</td></tr>\n", f);
		} else if (json_object_is_type(v, json_type_object)) {
			param_rows(f, v, prefix, cap);
		} else if (json_object_is_type(v, json_type_double) ||
			   json_object_is_type(v, json_type_int)) {
			fputs("<tr><td>", f);
			html_text(f, prefix);
			fprintf(f, "</td><td>%.4g</td><td></td><td></td></tr>\n",
				json_object_get_double(v));
		}
		prefix[len] = '\0';
	}
}

int qc_write_report(const struct qc_result *res, const char *path)
{
	char prefix[256] = "", *html = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	/* Made in memory, written at once: a write error keeps its errno. */
	f = open_memstream(&html, &len);
	if (!f)
		return -errno;
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		"<title>gaitcap quality report</title><style>"
		"body{font-family:sans-serif;margin:2em;max-width:%dpx}"
		"table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}"
		".pass{background:#d8f5d8}.warn{background:#fff1c2}.fail{background:#f8c9c9}.note{background:#dde8ff}"
		"img{max-width:100%%;border:1px solid #ddd}</style></head><body>\n", W + 40);
	fprintf(f, "<h1>Gait session quality report</h1>\n<p id=\"verdict\" class=\"%s\">"
		"Overall: <b>%s</b> (input: %s). Clinical observations are shown as notes and never "
		"fail a session.</p>\n", qc_status_name(res->overall),
		qc_status_name(res->overall), res->input);
	for (size_t i = 0; i < res->n_notes; i++) {
		fputs("<p class=\"note\">", f);
		html_text(f, res->notes[i]);
		fputs("</p>\n", f);
	}
	fputs("<h2>Footprints</h2>\n", f);
	ret = plot_footprints(f, res);
	fputs("<h2>Force</h2>\n", f);
	if (!ret)
		ret = plot_force(f, res);
	if (!ret)
		ret = plot_steps(f, res);
	fputs("<h2>Centre of pressure</h2>\n", f);
	if (!ret)
		ret = plot_cop(f, res);
	fputs("<h2>Gait parameters</h2>\n<table id=\"table-parameters\"><tr><th>parameter"
	      "</th><th>mean</th><th>SD</th><th>n</th></tr>\n", f);
	if (res->params)
		param_rows(f, res->params, prefix, sizeof(prefix));
	else
		fputs("<tr><td colspan=\"4\">No parameters: run gaitcap refine and give qc "
		      "its output folder.</td></tr>\n", f);
	fputs("</table>\n<h2>Quality checks</h2>\n<table id=\"table-checks\"><tr><th>check</th>"
	      "<th>of</th><th>verdict</th><th>value</th><th>warn</th><th>fail</th><th>measured</th></tr>\n", f);
	for (size_t i = 0; i < res->n_checks; i++) {
		const struct qc_check *c = &res->check[i];
		const char *op = c->below_is_bad ? "&lt;" : "&gt;";

		fprintf(f, "<tr class=\"%s\"><td>%s</td><td>", qc_status_name(c->status), c->id);
		html_text(f, c->scope);
		fprintf(f, "</td><td>%s</td>", qc_status_name(c->status));
		if (isnan(c->value))
			fputs("<td>-</td>", f);
		else
			fprintf(f, "<td>%.3g %s</td>", c->value, c->unit);
		if (isnan(c->warn))
			fputs("<td></td><td></td>", f);
		else
			fprintf(f, "<td>%s %.3g</td><td>%s %.3g</td>", op, c->warn, op, c->fail);
		fputs("<td>", f);
		html_text(f, c->why);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<p>Definitions and thresholds: docs/qc.md.</p></body></html>\n", f);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (!ret)
		ret = qc_write_file(path, html, len);
	free(html);
	return ret;
}
