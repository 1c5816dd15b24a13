// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap import moticon (docs/import-moticon.md) on the real OpenGo export
 * in tests/fixtures/moticon-opengo and on damaged copies of it: every value
 * read back from the session equals the export's, empty fields become gap
 * records, free text stays out, and a malformed file leaves no session.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ble/insole_gatt.h"
#include "gaitcap/gaitcap.h"
#include "qc/import.h"
#include "qc/moticon.h"
#include "session/gcsession.h"
#include "test_session_util.h"

#define FIXTURE TOP_DIR "/tests/fixtures/moticon-opengo/walk_data_with_events.txt"

static char *fixture_text(size_t *len)
{
	uint8_t *buf;

	assert_int_equal(tu_read_file(FIXTURE, &buf, len), 0);
	buf = realloc(buf, *len + 1);
	assert_non_null(buf);
	buf[*len] = '\0';
	return (char *)buf;
}

/* The fixture with line @line (1-based) passed through @edit. */
static char *damaged(struct tu_cmd *f, const char *name, int line,
		     void (*edit)(char *l, size_t cap))
{
	size_t len;
	char *txt = fixture_text(&len), *out = malloc(len + 4096), *p = txt;
	char *path = tu_path(f->dir, name);
	size_t n = 0;

	assert_non_null(out);
	for (int ln = 1; *p; ln++) {
		char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		char buf[8192];

		assert_true(l < sizeof(buf));
		memcpy(buf, p, l);
		buf[l] = '\0';
		if (ln == line || (line < 0 && ln >= -line))
			edit(buf, sizeof(buf));
		n += (size_t)sprintf(out + n, "%s\n", buf);
		p += l + (nl ? 1 : 0);
	}
	assert_int_equal(tu_write_file(path, out, n), 0);
	free(txt);
	free(out);
	return path;
}

static int imp(struct tu_cmd *f, const char *in, const char *out, bool labels)
{
	if (labels)
		return tu_cmd_run(f, cmd_import, "import", "moticon", in, "-o", out,
				  "--subject", "LAB-01", "--keep-labels", NULL);
	return tu_cmd_run(f, cmd_import, "import", "moticon", in, "-o", out,
			  "--subject", "LAB-01", NULL);
}

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t g32(const uint8_t *p)
{
	return g16(p) | (uint32_t)g16(p + 2) << 16;
}

/* Column @col (1-based) of data row @row (0-based) of the fixture. */
static double fixture_value(const char *txt, int row, int col, bool *empty)
{
	const char *p = txt;
	int r = 0;

	while (p && *p) {
		if (*p != '#' && r++ == row)
			break;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	assert_true(p && *p);
	for (int c = 1; c < col; c++) {
		p = strchr(p, '\t');
		assert_non_null(p);
		p++;
	}
	*empty = *p == '\t' || *p == '\n';
	return atof(p);
}

static void test_qc_import_fixture_round_trip(void **state)
{
	struct tu_cmd *f = *state;
	char *out = tu_path(f->dir, "m.gcs"), *meta, *txt;
	struct gcs_reader *r;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	size_t len;
	int n = 0, ev = 0;

	assert_int_equal(imp(f, FIXTURE, out, false), 0);
	meta = tu_cmd_output(f);
	assert_non_null(strstr(meta, "499 rows at 100.0 Hz"));
	free(meta);
	assert_int_equal(gcs_reader_open(&r, out, GCS_OPEN_VERIFY), 0);
	assert_int_equal(gcs_reader_n_streams(r), 4);
	assert_int_equal(gcs_reader_stream(r, 0)->kind, GCS_KIND_BLE_ATT);
	assert_int_equal(gcs_reader_stream(r, 1)->record_size, MOT_DERIVED_SIZE);
	assert_non_null(strstr(gcs_reader_stream(r, 0)->desc_json, "\"profile\":\"gaitcap-v1\""));
	assert_non_null(strstr(gcs_reader_stream(r, 2)->desc_json, "\"serial\":\"SN6181\""));
	/* Free text stays out: the recording's Name is "walking". */
	assert_null(strstr(gcs_reader_meta(r), "walking"));
	assert_true(gcs_reader_info(r)->meta_policy_ok);
	txt = fixture_text(&len);
	/* Right insole (stream 2): every cell and IMU value, row by row. */
	gcs_rec_iter_init(&it, r, 2);
	while (gcs_rec_iter_next(&it, &rec) == 1) {
		const uint8_t *v = rec.data + 3, *s = v + INSOLE_DATA_HDR;
		bool e;

		assert_int_equal(rec.len, 3 + INSOLE_DATA_HDR + INSOLE_SAMPLE_SIZE);
		assert_int_equal(rec.data[0], 0x1b);
		assert_int_equal(rec.seq, (uint64_t)n);
		assert_int_equal(g32(v + INSOLE_DATA_OFF_SEQ), (uint32_t)n);
		assert_int_equal(g32(v + INSOLE_DATA_OFF_T_US), (uint32_t)(n + 1) * 10000);
		if (n % 37 == 0 || n == 498) {
			for (int c = 0; c < 16; c++)
				assert_float_equal(g16(s + 2 * c) * 0.01,
						   fixture_value(txt, n, 27 + c, &e), 1e-9);
			assert_float_equal((int16_t)g16(s + 32) / 2048.0,
					   fixture_value(txt, n, 43, &e), 1e-6);
			assert_float_equal((int16_t)g16(s + 44 - 2) * 0.07,
					   fixture_value(txt, n, 48, &e), 1e-5);
		}
		n++;
	}
	assert_int_equal(n, 499);
	for (size_t i = 0; i < gcs_reader_n_markers(r); i++) {
		const struct gcs_marker *m = gcs_reader_marker(r, i);

		if (m->code == GCS_MARK_EVENT) {
			assert_true(m->stream == 0 || m->stream == 2);
			assert_true(m->value == 1 || m->value == 2);
			ev++;
		}
	}
	assert_int_equal(ev, 16);
	assert_int_equal(gcs_reader_n_gaps(r), 0);
	/* The start time is kept, as the session's own clock record only. */
	assert_int_equal(gcs_reader_clock(r, 0)->s.real_ns, 1663250316241000000ll);
	gcs_reader_close(r);
	free(txt);
	free(out);
}

static void blank_right(char *l, size_t cap)
{
	/* Fields 27..51: the right insole's samples. */
	char out[8192];
	int col = 1;
	size_t n = 0;

	for (char *p = l; *p; p++) {
		if (*p == '\t')
			col++;
		if (*p != '\t' && col >= 27 && col <= 51)
			continue;
		out[n++] = *p;
	}
	out[n] = '\0';
	snprintf(l, cap, "%s", out);
}

static void blank_one_cell(char *l, size_t cap)
{
	char *p = l;

	for (int c = 1; c < 5; c++)
		p = strchr(p, '\t') + 1;
	memmove(p, strchr(p, '\t'), strlen(strchr(p, '\t')) + 1);
}

static void test_qc_import_empty_fields_are_gaps(void **state)
{
	struct tu_cmd *f = *state;
	char *in = damaged(f, "gap.txt", -500, blank_right);
	char *in2 = damaged(f, "partial.txt", 120, blank_one_cell);
	char *out = tu_path(f->dir, "gap.gcs"), *out2 = tu_path(f->dir, "partial.gcs");
	struct gcs_reader *r;
	const struct gcs_gap *g;
	char *msg;

	/* Data rows 489..498 (lines 500..509) lose the right insole. */
	assert_int_equal(imp(f, in, out, false), 2);
	assert_int_equal(gcs_reader_open(&r, out, 0), 0);
	assert_int_equal(gcs_reader_stream(r, 2)->n_records, 489);
	assert_int_equal(gcs_reader_stream(r, 0)->n_records, 499);
	assert_int_equal(gcs_reader_n_gaps(r), 2);
	g = gcs_reader_gap(r, 0);
	assert_int_equal(g->stream, 2);
	assert_int_equal(g->first_seq, 489);
	assert_int_equal(g->last_seq, 498);
	assert_int_equal(gcs_reader_stream(r, 2)->n_unexplained, 0);
	gcs_reader_close(r);
	/* One empty left cell in row 109: the whole left sample is missing. */
	assert_int_equal(imp(f, in2, out2, false), 2);
	msg = tu_cmd_output(f);
	assert_non_null(strstr(msg, "1 left and 0 right rows were partly empty"));
	free(msg);
	assert_int_equal(gcs_reader_open(&r, out2, 0), 0);
	assert_int_equal(gcs_reader_stream(r, 0)->n_records, 498);
	assert_int_equal(gcs_reader_stream(r, 0)->gap_records, 1);
	assert_int_equal(gcs_reader_gap(r, 0)->first_seq, 109);
	gcs_reader_close(r);
	free(in);
	free(in2);
	free(out);
	free(out2);
}

static void not_a_number(char *l, size_t cap)
{
	memcpy(strchr(l, '\t') + 1, "x.00", 4);
}

static void bad_unit(char *l, size_t cap)
{
	char *p = strstr(l, "[g]");

	memcpy(p, "[G]", 3);
}

static void time_back(char *l, size_t cap)
{
	l[2] = '0';
	l[3] = '1';
}

static void short_row(char *l, size_t cap)
{
	*strrchr(l, '\t') = '\0';
}

static void drop_header(char *l, size_t cap)
{
	l[0] = 'x';
}

static void test_qc_import_refuses_malformed(void **state)
{
	static const struct {
		const char *name;
		int line;
		void (*edit)(char *l, size_t cap);
		const char *why;
	} bad[] = {
		{ "nan.txt", 40, not_a_number, "line 40: row 30, column 2: 'x.0" },
		{ "unit.txt", 10, bad_unit, "unit 'G' is not the one expected" },
		{ "back.txt", 30, time_back, "line 30: row 20: time 0.010 s does not follow 0.190 s" },
		{ "short.txt", 200, short_row, "line 200: row 190 has 56 fields, the column header 57" },
		{ "nohdr.txt", 10, drop_header, "line 10: data before the '# time' column header" },
	};
	struct tu_cmd *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *in = damaged(f, bad[i].name, bad[i].line, bad[i].edit);
		char *out = tu_path(f->dir, "bad.gcs"), *msg;

		assert_int_equal(imp(f, in, out, false), 1);
		msg = tu_cmd_output(f);
		if (!strstr(msg, bad[i].why))
			fail_msg("%s: said '%s', expected '%s'", bad[i].name, msg, bad[i].why);
		free(msg);
		/* Nothing written: the check runs before the writer. */
		assert_int_equal(access(out, F_OK), -1);
		free(in);
		free(out);
	}
}

/*
 * A copy cut inside a row (no newline after it): the rows before it are
 * imported and the cut one named; the same short row ended by a newline
 * is refused, as any malformed row.
 */
static void test_qc_import_cut_copy_keeps_rows(void **state)
{
	struct tu_cmd *f = *state;
	char *in = tu_path(f->dir, "cut.txt"), *out = tu_path(f->dir, "cut.gcs");
	char *ended = tu_path(f->dir, "cut-nl.txt"), *msg, *p;
	size_t len;
	char *txt = fixture_text(&len);

	p = txt;
	for (int ln = 1; ln < 145; ln++)
		p = strchr(p, '\n') + 1;
	for (int tab = 0; tab < 22; tab++)
		p = strchr(p, '\t') + 1;
	p += 2;				/* inside the 23rd field */
	assert_int_equal(tu_write_file(in, txt, (size_t)(p - txt)), 0);
	assert_int_equal(imp(f, in, out, false), 2);
	msg = tu_cmd_output(f);
	if (!strstr(msg, "134 rows at 100.0 Hz") ||
	    !strstr(msg, "line 145: the file ends inside this row"))
		fail_msg("said '%s'", msg);
	free(msg);
	assert_int_equal(access(out, F_OK), 0);

	*p = '\n';
	assert_int_equal(tu_write_file(ended, txt, (size_t)(p - txt) + 1), 0);
	free(out);
	out = tu_path(f->dir, "cut-nl.gcs");
	assert_int_equal(imp(f, ended, out, false), 1);
	msg = tu_cmd_output(f);
	assert_non_null(strstr(msg, "line 145: row 135 has 23 fields"));
	assert_int_equal(access(out, F_OK), -1);
	free(msg);
	free(txt);
	free(in);
	free(ended);
	free(out);
}

static void add_notes(char *l, size_t cap)
{
	snprintf(l, cap, "# Notes: Mrs Example, knee pain");
}

static void test_qc_import_labels_only_when_asked(void **state)
{
	struct tu_cmd *f = *state;
	char *in = damaged(f, "notes.txt", 8, add_notes);
	char *out = tu_path(f->dir, "l.gcs"), *out2 = tu_path(f->dir, "n.gcs"), *msg;
	struct gcs_reader *r;
	uint8_t *buf;
	size_t len;

	assert_int_equal(imp(f, in, out, true), 0);
	assert_int_equal(gcs_reader_open(&r, out, 0), 0);
	assert_non_null(strstr(gcs_reader_meta(r), "\"task\":\"walking\""));
	gcs_reader_close(r);
	assert_int_equal(imp(f, in, out2, false), 0);
	msg = tu_cmd_output(f);
	assert_non_null(strstr(msg, "Notes were left out"));
	free(msg);
	/* Neither the notes nor the label are anywhere in the bytes. */
	for (int k = 0; k < 2; k++) {
		assert_int_equal(tu_read_file(k ? out2 : out, &buf, &len), 0);
		assert_null(memmem(buf, len, "Example", 7));
		assert_null(memmem(buf, len, "knee", 4));
		if (k)
			assert_null(memmem(buf, len, "walking", 7));
		free(buf);
	}
	/* Never over an existing file. */
	assert_int_equal(imp(f, in, out, false), 1);
	free(in);
	free(out);
	free(out2);
}

static void test_qc_import_usage(void **state)
{
	struct tu_cmd *f = *state;
	char *msg;

	assert_int_equal(tu_cmd_run(f, cmd_import, "import", "moticon", FIXTURE,
				    "-o", "x.gcs", NULL), 1);
	msg = tu_cmd_output(f);
	assert_non_null(strstr(msg, "no subject given"));
	free(msg);
	assert_int_equal(tu_cmd_run(f, cmd_import, "import", "vicon", FIXTURE,
				    "-o", "x.gcs", "--subject", "S1", NULL), 1);
	msg = tu_cmd_output(f);
	assert_non_null(strstr(msg, "invalid format 'vicon': expected moticon"));
	free(msg);
}

/* The import reads its input twice: a FIFO (no writer: no hang) is refused. */
static void test_qc_import_needs_a_file(void **state)
{
	struct tu_cmd *f = *state;
	char *fifo = tu_path(f->dir, "in.fifo"), *out = tu_path(f->dir, "p.gcs"), *msg;

	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(imp(f, fifo, out, false), 1);
	msg = tu_cmd_output(f);
	assert_non_null(strstr(msg, "not a regular file: the import reads it twice"));
	free(msg);
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(imp(f, f->dir, out, false), 1);
	msg = tu_cmd_output(f);
	assert_non_null(strstr(msg, "Is a directory"));
	free(msg);
	free(fifo);
	free(out);
}

/* The parser alone: a line too long and a NUL byte. */
static void test_qc_import_parser_limits(void **state)
{
	struct mot_parser p;
	struct mot_row row;
	char *big = calloc(1, MOT_MAX_LINE + 2);

	assert_non_null(big);
	memset(big, '#', MOT_MAX_LINE + 1);
	mot_parser_init(&p, false);
	assert_int_equal(mot_parser_line(&p, big, MOT_MAX_LINE + 1, &row), -E2BIG);
	assert_non_null(strstr(p.err, "longer than"));
	mot_parser_init(&p, false);
	assert_int_equal(mot_parser_line(&p, "# a\0b", 5, &row), -EINVAL);
	assert_int_equal(mot_parser_finish(&p), -EINVAL);
	free(big);
}

/* Device facts in the header are kept only when they look like them. */
static void test_qc_import_header_facts_checked(void **state)
{
	static const char *const hdr[] = {
		"# Sensor insoles: Left Jane, Right SN6181",
		"# Size: 42 Jane Doe",
		"# time\tleft pr\xe9ssure 1[N/cm\xb2]",
	};
	struct mot_parser p;
	struct mot_row row;

	(void)state;
	mot_parser_init(&p, false);
	assert_int_equal(mot_parser_finish(&p), -EINVAL);
	assert_string_equal(p.err, "empty file: not an OpenGo text export");
	mot_parser_init(&p, false);
	for (int i = 0; i < 2; i++)
		assert_int_equal(mot_parser_line(&p, hdr[i], strlen(hdr[i]), &row), 0);
	assert_string_equal(p.hdr.serial[0], "");
	assert_string_equal(p.hdr.serial[1], "SN6181");
	assert_string_equal(p.hdr.size, "");
	assert_int_equal(p.hdr.unknown_fields, 2);
	/* A Latin-1 byte from the file never reaches the terminal raw. */
	assert_int_equal(mot_parser_line(&p, hdr[2], strlen(hdr[2]), &row), -EINVAL);
	assert_non_null(strstr(p.err, "'left pr?ssure 1[N/cm?]'"));
	mot_parser_init(&p, false);
	assert_int_equal(mot_parser_line(&p, "# Size: 3.5", 11, &row), 0);
	assert_string_equal(p.hdr.size, "3.5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_qc_import_fixture_round_trip,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_import_empty_fields_are_gaps,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_import_refuses_malformed,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_import_cut_copy_keeps_rows,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_import_labels_only_when_asked,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_import_usage,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_import_needs_a_file,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test(test_qc_import_parser_limits),
		cmocka_unit_test(test_qc_import_header_facts_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
