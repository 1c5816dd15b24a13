// SPDX-License-Identifier: GPL-2.0
/*
 * Moticon OpenGo text export reader for the insole replay. Header lines
 * start with '#'; the last of them names the tab-separated columns
 * ("left pressure 1[N/cm²]", "left acceleration X[g]", ...).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insole_replay.h"

#define N_VALS	(INSOLE_CELLS + 6)

struct row {
	int64_t t_us;
	bool present;
	double v[N_VALS];	/* 16 pressures (N/cm^2), acc (g), gyro (dps) */
};

struct insole_replay {
	struct row *rows;
	size_t n;
	unsigned int rate_hz;
	bool loop;
	const struct insole_model *m;
};

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return rc;
}

/* Column index of each value of @side from the header line, or -1. */
static int find_columns(char *hdr, const char *side, int col[N_VALS])
{
	static const char *const imu[6] = {
		"acceleration X[", "acceleration Y[", "acceleration Z[",
		"angular X[", "angular Y[", "angular Z[",
	};
	char want[64], *tok, *save;
	int i, c = 0;

	for (i = 0; i < N_VALS; i++)
		col[i] = -1;
	for (tok = strtok_r(hdr, "\t\r\n", &save); tok;
	     tok = strtok_r(NULL, "\t\r\n", &save), c++) {
		if (c == 0 && tok[0] == '#')
			tok += tok[1] == ' ' ? 2 : 1;
		for (i = 0; i < N_VALS; i++) {
			if (i < INSOLE_CELLS)
				snprintf(want, sizeof(want), "%s pressure %d[",
					 side, i + 1);
			else
				snprintf(want, sizeof(want), "%s %s", side,
					 imu[i - INSOLE_CELLS]);
			if (!strncmp(tok, want, strlen(want)))
				col[i] = c;
		}
	}
	for (i = 0; i < N_VALS; i++)
		if (col[i] < 0)
			return -1;
	return 0;
}

static int parse_row(char *line, const int col[N_VALS], struct row *r)
{
	char *p = line, *end;
	int c = 0, i;
	double t;

	t = strtod(p, &end);
	if (end == p || !isfinite(t))
		return -1;
	r->t_us = llround(t * 1e6);
	r->present = true;
	for (i = 0; i < N_VALS; i++)
		r->v[i] = NAN;
	/* Fields are split by hand: strtok would merge empty ones. */
	while (p) {
		char *next = strchr(p, '\t');

		if (next)
			*next++ = '\0';
		for (i = 0; i < N_VALS; i++) {
			if (col[i] != c)
				continue;
			if (!*p || *p == '\r' || *p == '\n') {
				r->present = false;
				continue;
			}
			r->v[i] = strtod(p, &end);
			if (end == p || !isfinite(r->v[i]))
				return -1;
		}
		p = next;
		c++;
	}
	for (i = 0; i < N_VALS; i++)
		if (isnan(r->v[i]))
			r->present = false;
	return 0;
}

int insole_replay_load(struct insole_replay **out, const char *path,
		       enum gait_side side, const struct insole_model *m,
		       bool loop, char *err, size_t err_len)
{
	const char *sname = side == GAIT_LEFT ? "left" : "right";
	char *line = NULL, *hdr = NULL;
	struct insole_replay *r;
	size_t cap = 0, lcap = 0;
	int col[N_VALS], rc = 0;
	unsigned long lineno = 0;
	ssize_t len;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return fail(err, err_len, -errno, "%s: %s", path,
			    strerror(errno));
	r = calloc(1, sizeof(*r));
	if (!r) {
		fclose(f);
		return -ENOMEM;
	}
	r->m = m;
	r->loop = loop;
	while ((len = getline(&line, &lcap, f)) > 0) {
		lineno++;
		if (line[0] == '#') {
			free(hdr);
			hdr = strdup(line);
			if (!hdr) {
				rc = -ENOMEM;
				goto out;
			}
			continue;
		}
		if (!r->n && (!hdr || find_columns(hdr, sname, col))) {
			rc = fail(err, err_len, -EINVAL,
				  "%s: no %s insole columns in its header",
				  path, sname);
			goto out;
		}
		if (r->n == cap) {
			struct row *n;

			cap = cap ? 2 * cap : 1024;
			n = realloc(r->rows, cap * sizeof(*n));
			if (!n) {
				rc = -ENOMEM;
				goto out;
			}
			r->rows = n;
		}
		if (parse_row(line, col, &r->rows[r->n])) {
			rc = fail(err, err_len, -EINVAL,
				  "%s:%lu: not a data row", path, lineno);
			goto out;
		}
		r->n++;
	}
	if (r->n < 2) {
		rc = fail(err, err_len, -EINVAL, "%s: fewer than two rows", path);
		goto out;
	}
	{
		double span = (double)(r->rows[r->n - 1].t_us - r->rows[0].t_us);

		r->rate_hz = span > 0 ? (unsigned int)lround((r->n - 1) * 1e6 /
							     span) : 0;
	}
	if (!r->rate_hz) {
		rc = fail(err, err_len, -EINVAL, "%s: time does not advance",
			  path);
		goto out;
	}
out:
	free(line);
	free(hdr);
	fclose(f);
	if (rc) {
		insole_replay_destroy(r);
		return rc;
	}
	*out = r;
	return 0;
}

void insole_replay_destroy(struct insole_replay *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r);
}

size_t insole_replay_rows(const struct insole_replay *r)
{
	return r->n;
}

unsigned int insole_replay_rate(const struct insole_replay *r)
{
	return r->rate_hz;
}

int64_t insole_replay_time_us(const struct insole_replay *r, size_t k)
{
	return r->rows[k % r->n].t_us - r->rows[0].t_us;
}

static int16_t clamp16(double v)
{
	v = round(v);
	return v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : (int16_t)v;
}

int insole_replay_sample(void *ctx, uint64_t k, uint64_t clock_us,
			 struct insole_reading *out)
{
	struct insole_replay *r = ctx;
	const struct insole_params *p = insole_model_params(r->m);
	const struct row *row;
	unsigned int i;

	if (!r->loop && k >= r->n)
		return -ENOENT;
	row = &r->rows[k % r->n];
	if (!row->present)
		return -ENODATA;
	memset(out, 0, sizeof(*out));
	out->clock_us = clock_us;
	out->walk_us = (double)insole_model_walk_ns(r->m, clock_us) / 1000;
	for (i = 0; i < INSOLE_CELLS; i++) {
		/* N/cm^2 x 10 = kPa. */
		double code = round(row->v[i] * 10 / p->kpa_per_code);

		if (code < 0)
			code = 0;
		if (code >= p->full_scale) {
			code = p->full_scale;
			out->saturated = true;
		}
		out->cell[i] = (uint16_t)code;
		out->force_n += row->v[i] * 10 *
				insole_model_cells(r->m)[i].area_mm2 / 1000;
	}
	for (i = 0; i < 3; i++) {
		out->acc[i] = clamp16(row->v[INSOLE_CELLS + i] / p->g_per_code);
		out->gyro[i] = clamp16(row->v[INSOLE_CELLS + 3 + i] /
				       p->dps_per_code);
	}
	return 0;
}
