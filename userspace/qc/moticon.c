// SPDX-License-Identifier: GPL-2.0
/*
 * Moticon OpenGo text export parser (docs/import-moticon.md).
 *
 * The export is "# Key: value" header lines, a "# time<TAB>..." column
 * header naming each column and its unit, then one tab-separated row per
 * sample time. Every column is recognised by name and unit or the file is
 * refused: a unit we did not expect would be misread, not imported.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qc/moticon.h"
#include "session/gcsession.h"

/* The gaitcap-v1 layout's ranges (docs/import-moticon.md, "Codes"). */
#define CELL_MAX_NCM2	655.35
#define ACC_MAX_G	(32767.0 / 2048.0)
#define GYRO_MAX_DPS	(32767.0 * 0.07)
#define MAX_TIME_S	1e7

static int fail(struct mot_parser *p, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct mot_parser *p, int err, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (p->line_no)
		n = snprintf(p->err, sizeof(p->err), "line %llu: ",
			     (unsigned long long)p->line_no);
	if (n < 0 || (size_t)n >= sizeof(p->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(p->err + n, sizeof(p->err) - (size_t)n, fmt, ap);
	va_end(ap);
	/* Bytes that are not UTF-8 text (a Latin-1 export, control codes). */
	gcs_text_printable(p->err);
	return err;
}

void mot_parser_init(struct mot_parser *p, bool keep_labels)
{
	memset(p, 0, sizeof(*p));
	p->keep_labels = keep_labels;
	p->last_t_ns = INT64_MIN;
}

/* Copy a value as a metadata token: anything outside [A-Za-z0-9._-] is '_'. */
static void token(char *dst, size_t cap, const char *s, size_t len)
{
	size_t n = 0;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		char c = s[i];

		dst[n++] = ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
			    (c >= 'a' && c <= 'z') || c == '.' || c == '-') ? c : '_';
	}
	dst[n] = '\0';
}

/*
 * Header values stored as device facts must look like them, so that free
 * text (a name typed where a serial goes) is never kept: a serial is letters
 * and digits with at least one digit, a size a number up to 99 or a half.
 */
static bool is_serial(const char *t)
{
	bool digit = false;

	for (; *t; t++) {
		if (!isalnum((unsigned char)*t))
			return false;
		digit |= isdigit((unsigned char)*t) != 0;
	}
	return digit;
}

static bool is_size(const char *t)
{
	size_t n = strspn(t, "0123456789");

	return n >= 1 && n <= 2 && (!t[n] || !strcmp(t + n, ".5"));
}

static bool key_is(const char *k, size_t klen, const char *want)
{
	return klen == strlen(want) && !strncasecmp(k, want, klen);
}

/* "Left SN5392, Right SN6181": the serial after each side's word. */
static void parse_serials(struct mot_parser *p, const char *v, size_t len)
{
	static const char *const words[2] = { "left", "right" };

	for (int s = 0; s < 2; s++) {
		size_t wl = strlen(words[s]);

		for (size_t i = 0; i + wl < len; i++) {
			size_t j;

			if (strncasecmp(v + i, words[s], wl) || v[i + wl] != ' ')
				continue;
			j = i + wl + 1;
			i = j;
			while (j < len && v[j] != ',' && v[j] != ' ')
				j++;
			if (j - i < sizeof(p->hdr.serial[s]))
				token(p->hdr.serial[s], sizeof(p->hdr.serial[s]),
				      v + i, j - i);
			if (!is_serial(p->hdr.serial[s])) {
				p->hdr.serial[s][0] = '\0';
				p->hdr.unknown_fields++;
			}
			break;
		}
	}
}

static int header_field(struct mot_parser *p, const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	const char *v;
	size_t klen, vlen;

	if (!colon) {
		p->hdr.unknown_fields++;
		return 0;
	}
	klen = (size_t)(colon - s);
	v = colon + 1;
	vlen = len - klen - 1;
	while (vlen && *v == ' ')
		v++, vlen--;
	if (key_is(s, klen, "Start timestamp")) {
		char buf[32];
		char *end;
		long long ms;

		if (!vlen || vlen >= sizeof(buf))
			return fail(p, -EINVAL, "Start timestamp '%.*s': expected milliseconds since 1970",
				    (int)(vlen < 40 ? vlen : 40), v);
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		errno = 0;
		ms = strtoll(buf, &end, 10);
		/* 1970 .. 2100: anything else is not a recording's start. */
		if (errno || *end || end == buf || ms < 0 || ms > 4102444800000ll)
			return fail(p, -EINVAL, "Start timestamp '%s': expected milliseconds since 1970",
				    buf);
		p->hdr.have_start = true;
		p->hdr.start_ms = ms;
	} else if (key_is(s, klen, "Sensor insoles")) {
		parse_serials(p, v, vlen);
	} else if (key_is(s, klen, "Size")) {
		if (vlen < sizeof(p->hdr.size))
			token(p->hdr.size, sizeof(p->hdr.size), v, vlen);
		if (!is_size(p->hdr.size)) {
			p->hdr.size[0] = '\0';
			p->hdr.unknown_fields++;
		}
	} else if (key_is(s, klen, "Recording type")) {
		token(p->hdr.rec_type, sizeof(p->hdr.rec_type), v, vlen);
	} else if (key_is(s, klen, "Name")) {
		if (p->keep_labels)
			token(p->hdr.label, sizeof(p->hdr.label), v, vlen);
	} else if (key_is(s, klen, "Tag")) {
		if (p->keep_labels)
			token(p->hdr.tag, sizeof(p->hdr.tag), v, vlen);
	} else if (key_is(s, klen, "Notes")) {
		p->hdr.has_notes = vlen > 0;
	} else if (!key_is(s, klen, "Start time") && !key_is(s, klen, "Duration")) {
		p->hdr.unknown_fields++;
	}
	return 0;
}

/* One column name "left pressure 3[N/cm²]": its field, side and index. */
static int column(struct mot_parser *p, unsigned int c, const char *s,
		  size_t len)
{
	static const struct {
		const char *name;	/* after the side word */
		const char *unit;
		uint8_t field, index;
	} known[] = {
		{ "acceleration X", "g", MOT_F_ACC, 0 },
		{ "acceleration Y", "g", MOT_F_ACC, 1 },
		{ "acceleration Z", "g", MOT_F_ACC, 2 },
		{ "angular X", "dps", MOT_F_GYRO, 0 },
		{ "angular Y", "dps", MOT_F_GYRO, 1 },
		{ "angular Z", "dps", MOT_F_GYRO, 2 },
		{ "total force", "N", MOT_F_FORCE, 0 },
		{ "center of pressure X", "-0.5...+0.5", MOT_F_COP, 0 },
		{ "center of pressure Y", "-0.5...+0.5", MOT_F_COP, 1 },
		{ "Events label", "", MOT_F_EVENT_LABEL, 0 },
		{ "Events", "", MOT_F_EVENT, 0 },
		{ "COP velocity", "1", MOT_F_IGNORED, 0 },
	};
	const char *br = memchr(s, '[', len), *name = s, *unit;
	size_t nlen, ulen;
	struct mot_col *col = &p->col[c];
	uint8_t side;

	if (!br || s[len - 1] != ']')
		return fail(p, -EINVAL, "column %u '%.*s': expected NAME[UNIT]", c + 1,
			    (int)(len < 60 ? len : 60), s);
	nlen = (size_t)(br - s);
	unit = br + 1;
	ulen = len - nlen - 2;
	if (nlen > 5 && !strncasecmp(name, "left ", 5)) {
		side = 0;
		name += 5, nlen -= 5;
	} else if (nlen > 6 && !strncasecmp(name, "right ", 6)) {
		side = 1;
		name += 6, nlen -= 6;
	} else {
		return fail(p, -EINVAL, "column %u '%.*s': expected a left or right column",
			    c + 1, (int)(len < 60 ? len : 60), s);
	}
	*col = (struct mot_col){ .side = side };
	if (nlen > 9 && !strncasecmp(name, "pressure ", 9)) {
		unsigned int n = 0;

		for (size_t i = 9; i < nlen; i++) {
			if (name[i] < '0' || name[i] > '9' || n > 100)
				goto unknown;
			n = n * 10 + (unsigned int)(name[i] - '0');
		}
		if (n < 1 || n > MOT_CELLS)
			goto unknown;
		if (ulen != strlen("N/cm²") || strncmp(unit, "N/cm²", ulen))
			goto bad_unit;
		col->field = MOT_F_CELL;
		col->index = (uint8_t)(n - 1);
		return 0;
	}
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		if (!key_is(name, nlen, known[k].name))
			continue;
		if (ulen != strlen(known[k].unit) || strncmp(unit, known[k].unit, ulen))
			goto bad_unit;
		col->field = known[k].field;
		col->index = known[k].index;
		return 0;
	}
unknown:
	return fail(p, -EINVAL, "column %u '%.*s': not a column of the OpenGo export this importer knows",
		    c + 1, (int)(len < 60 ? len : 60), s);
bad_unit:
	return fail(p, -EINVAL, "column %u '%.*s': unit '%.*s' is not the one expected",
		    c + 1, (int)(nlen < 40 ? nlen : 40), name, (int)(ulen < 20 ? ulen : 20), unit);
}

static int columns(struct mot_parser *p, const char *s, size_t len)
{
	/* Each field counted once per side: all cells or axes, or refuse. */
	uint32_t seen[2][MOT_F_IGNORED + 1] = { { 0 } };
	size_t pos = 0;
	unsigned int c = 0;
	int ret;

	while (pos <= len) {
		const char *tab = memchr(s + pos, '\t', len - pos);
		size_t end = tab ? (size_t)(tab - s) : len;

		if (c >= MOT_MAX_COLS)
			return fail(p, -E2BIG, "more than %d columns", MOT_MAX_COLS);
		if (!c) {
			if (end - pos != 4 || strncmp(s + pos, "time", 4))
				return fail(p, -EINVAL, "the first column is '%.*s': expected 'time'",
					    (int)((end - pos) < 40 ? end - pos : 40), s + pos);
			p->col[0] = (struct mot_col){ .field = MOT_F_TIME };
		} else {
			struct mot_col *col = &p->col[c];
			uint32_t bit;

			if (end == pos)
				return fail(p, -EINVAL, "column %u has no name", c + 1);
			ret = column(p, c, s + pos, end - pos);
			if (ret)
				return ret;
			bit = 1u << col->index;
			if (seen[col->side][col->field] & bit)
				return fail(p, -EINVAL, "column %u '%.*s' appears twice", c + 1,
					    (int)((end - pos) < 60 ? end - pos : 60), s + pos);
			seen[col->side][col->field] |= bit;
		}
		c++;
		pos = end + 1;
	}
	p->n_cols = c;
	for (int sd = 0; sd < 2; sd++) {
		static const struct { uint8_t field; uint32_t all, have; } need[] = {
			{ MOT_F_CELL, 0xffff, MOT_HAVE_CELLS },
			{ MOT_F_ACC, 0x7, MOT_HAVE_IMU },
			{ MOT_F_FORCE, 0x1, MOT_HAVE_FORCE },
			{ MOT_F_COP, 0x3, MOT_HAVE_COP },
		};

		for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
			uint32_t got = seen[sd][need[k].field];

			if (need[k].field == MOT_F_ACC &&
			    (got != 0) != (seen[sd][MOT_F_GYRO] != 0))
				return fail(p, -EINVAL, "the %s insole has %s but not %s",
					    sd ? "right" : "left",
					    got ? "acceleration" : "angular rate",
					    got ? "angular rate" : "acceleration");
			if (need[k].field == MOT_F_ACC &&
			    seen[sd][MOT_F_GYRO] && seen[sd][MOT_F_GYRO] != 0x7)
				return fail(p, -EINVAL, "the %s insole lacks an angular rate axis",
					    sd ? "right" : "left");
			if (got && got != need[k].all)
				return fail(p, -EINVAL, "the %s insole has only some of its %s columns",
					    sd ? "right" : "left",
					    need[k].field == MOT_F_CELL ? "pressure" :
					    need[k].field == MOT_F_ACC ? "acceleration" :
					    "centre of pressure");
			if (got)
				p->side_cols[sd] |= need[k].have;
		}
	}
	if (!(p->side_cols[0] & MOT_HAVE_CELLS) && !(p->side_cols[1] & MOT_HAVE_CELLS))
		return fail(p, -EINVAL, "no pressure columns for either insole");
	p->have_columns = true;
	return 0;
}

/* A number as the export writes it: digits, sign, point, exponent. */
static int number(struct mot_parser *p, unsigned int c, const char *s,
		  size_t len, double *out)
{
	char buf[48];
	char *end;

	/* The field is not NUL-terminated: look at it only through the copy. */
	if (len >= sizeof(buf))
		return fail(p, -EINVAL, "row %llu, column %u: '%.*s...' is not a number",
			    (unsigned long long)p->rows + 1, c + 1, 40, s);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strspn(buf, "0123456789.-+eE") < len)
		return fail(p, -EINVAL, "row %llu, column %u: '%.40s' is not a number",
			    (unsigned long long)p->rows + 1, c + 1, buf);
	*out = strtod(buf, &end);
	if (*end || end == buf || !isfinite(*out))
		return fail(p, -EINVAL, "row %llu, column %u: '%s' is not a number",
			    (unsigned long long)p->rows + 1, c + 1, buf);
	return 0;
}

static int range(struct mot_parser *p, unsigned int c, double v, double lo,
		 double hi, const char *what)
{
	if (v >= lo && v <= hi)
		return 0;
	return fail(p, -EINVAL, "row %llu, column %u: %s %g outside %g..%g",
		    (unsigned long long)p->rows + 1, c + 1, what, v, lo, hi);
}

static int data_row(struct mot_parser *p, const char *s, size_t len,
		    struct mot_row *row)
{
	/* Fields seen non-empty per side and field kind, to tell partial rows. */
	uint32_t present[2][MOT_F_IGNORED + 1] = { { 0 } };
	size_t pos = 0;
	unsigned int c = 0;
	int ret;

	memset(row, 0, sizeof(*row));
	while (pos <= len) {
		const char *tab = memchr(s + pos, '\t', len - pos);
		size_t end = tab ? (size_t)(tab - s) : len;
		const struct mot_col *col;
		struct mot_side *sd;
		double v = 0;

		if (c >= p->n_cols)
			return fail(p, -EINVAL, "row %llu has more fields than the %u columns",
				    (unsigned long long)p->rows + 1, p->n_cols);
		col = &p->col[c];
		sd = &row->side[col->side];
		if (end == pos) {
			if (!c)
				return fail(p, -EINVAL, "row %llu has no time",
					    (unsigned long long)p->rows + 1);
			goto next;
		}
		if (col->field == MOT_F_EVENT_LABEL || col->field == MOT_F_IGNORED)
			goto next;	/* free text or derived: not read */
		ret = number(p, c, s + pos, end - pos, &v);
		if (ret)
			return ret;
		present[col->side][col->field] |= 1u << col->index;
		switch (col->field) {
		case MOT_F_TIME:
			ret = range(p, c, v, 0, MAX_TIME_S, "time (s)");
			row->t_ns = llround(v * 1e9);
			break;
		case MOT_F_CELL:
			ret = range(p, c, v, 0, CELL_MAX_NCM2, "pressure (N/cm²)");
			sd->cell[col->index] = (float)v;
			break;
		case MOT_F_ACC:
			ret = range(p, c, v, -ACC_MAX_G, ACC_MAX_G, "acceleration (g)");
			sd->acc[col->index] = (float)v;
			break;
		case MOT_F_GYRO:
			ret = range(p, c, v, -GYRO_MAX_DPS, GYRO_MAX_DPS, "angular rate (dps)");
			sd->gyro[col->index] = (float)v;
			break;
		case MOT_F_FORCE:
			ret = range(p, c, v, -1e5, 1e5, "total force (N)");
			sd->force = (float)v;
			break;
		case MOT_F_COP:
			ret = range(p, c, v, -10, 10, "centre of pressure");
			sd->cop[col->index] = (float)v;
			break;
		case MOT_F_EVENT:
			ret = range(p, c, v, -1e9, 1e9, "event");
			if (!ret && v != floor(v))
				ret = fail(p, -EINVAL, "row %llu, column %u: event %g is not a whole number",
					   (unsigned long long)p->rows + 1, c + 1, v);
			sd->has_event = true;
			sd->event = (int32_t)v;
			break;
		}
		if (ret)
			return ret;
next:
		c++;
		pos = end + 1;
	}
	if (c != p->n_cols)
		return fail(p, -EINVAL, "row %llu has %u fields, the column header %u",
			    (unsigned long long)p->rows + 1, c, p->n_cols);
	if (row->t_ns <= p->last_t_ns)
		return fail(p, -EINVAL, "row %llu: time %.3f s does not follow %.3f s",
			    (unsigned long long)p->rows + 1, row->t_ns / 1e9,
			    p->last_t_ns / 1e9);
	p->last_t_ns = row->t_ns;
	for (int k = 0; k < 2; k++) {
		struct mot_side *sd = &row->side[k];
		uint32_t imu = present[k][MOT_F_ACC] | present[k][MOT_F_GYRO] << 3;

		if (present[k][MOT_F_CELL] == 0xffff)
			sd->have |= MOT_HAVE_CELLS;
		else if (present[k][MOT_F_CELL])
			sd->have |= MOT_PARTIAL;
		if (imu == 0x3f)
			sd->have |= MOT_HAVE_IMU;
		else if (imu)
			sd->have |= MOT_PARTIAL;
		if (present[k][MOT_F_FORCE])
			sd->have |= MOT_HAVE_FORCE;
		if (present[k][MOT_F_COP] == 0x3)
			sd->have |= MOT_HAVE_COP;
	}
	row->index = p->rows++;
	return 1;
}

int mot_parser_line(struct mot_parser *p, const char *line, size_t len,
		    struct mot_row *row)
{
	p->line_no++;
	if (len && line[len - 1] == '\r')
		len--;
	if (len > MOT_MAX_LINE)
		return fail(p, -E2BIG, "longer than %d bytes", MOT_MAX_LINE);
	if (memchr(line, '\0', len))
		return fail(p, -EINVAL, "a NUL byte: not a text export");
	if (len && line[0] == '#') {
		line++, len--;
		if (len && line[0] == ' ')
			line++, len--;
		if (p->have_columns)
			return fail(p, -EINVAL, "a header line after the data began");
		if (len >= 5 && !strncmp(line, "time\t", 5))
			return columns(p, line, len);
		return header_field(p, line, len);
	}
	if (!len)
		return 0;
	if (!p->have_columns)
		return fail(p, -EINVAL, "data before the '# time' column header: not an OpenGo text export");
	return data_row(p, line, len, row);
}

int mot_parser_finish(struct mot_parser *p)
{
	if (!p->line_no)
		return fail(p, -EINVAL, "empty file: not an OpenGo text export");
	if (!p->have_columns)
		return fail(p, -EINVAL, "no '# time' column header: not an OpenGo text export");
	if (!p->rows)
		return fail(p, -EINVAL, "no data rows");
	return 0;
}
