// SPDX-License-Identifier: GPL-2.0
/*
 * The gaitcap subcommands that own session files (synth, info, recover),
 * called in-process with argument vectors; their output goes to a file
 * and is checked, the JSON one through json-c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "gaitcap/gaitcap.h"
#include "test_session_util.h"

static struct json_object *info_json(struct tu_cmd *f, const char *path,
				     int want_rc)
{
	struct json_object *o;
	char *s;

	assert_int_equal(tu_cmd_run(f, cmd_info, "info", "--json", path, NULL), want_rc);
	s = tu_cmd_output(f);
	o = json_tokener_parse(s);
	if (!o)
		fail_msg("info --json printed no JSON: %s", s);
	free(s);
	return o;
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char *copy = strdup(path), *save = NULL;

	for (char *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			fail_msg("no %s in the JSON", path);
	free(copy);
	return o;
}

static void test_session_cli_synth_info_json(void **state)
{
	struct tu_cmd *f = *state;
	char *p = tu_path(f->dir, "walk.gcs");
	struct json_object *o, *streams, *s0;

	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--quiet", "--seconds", "3",
			     "--tiles", "2", "--rows", "32", "--cols", "32",
			     "--gap-every", "1", p, NULL), 0);
	o = info_json(f, p, 0);
	assert_string_equal(json_object_get_string(get(o, "integrity.verdict")), "OK");
	assert_string_equal(json_object_get_string(get(o, "format.state")), "closed");
	assert_string_equal(json_object_get_string(get(o, "metadata.subject")), "SYN-0001");
	streams = get(o, "streams");
	assert_int_equal(json_object_array_length(streams), 3);
	s0 = json_object_array_get_idx(streams, 0);
	assert_string_equal(json_object_get_string(get(s0, "kind")), "iio_scan");
	assert_int_equal(json_object_get_int64(get(s0, "records")), 300);
	assert_int_equal(json_object_get_int64(get(s0, "gaps")), 2);
	assert_int_equal(json_object_get_int64(get(s0, "gap_records")), 10);
	assert_int_equal(json_object_get_int64(get(s0, "unexplained")), 0);
	assert_int_equal(json_object_get_int64(get(s0, "record_size")),
			 2 * 2 * 32 * 32 + 24);
	/* Mostly-zero frames: stored is a small fraction of raw. */
	assert_true(json_object_get_int64(get(o, "sizes.stored")) * 10 <
		    json_object_get_int64(get(o, "sizes.raw")));
	/* The mat is compacted; the insoles' 0.1 s chunks free no block, stay raw. */
	assert_true(json_object_get_int64(get(o, "records.zchunk")) >= 1);
	/* 3 s of data; the session-end marker is stamped when synth closes. */
	assert_true(json_object_get_int64(get(o, "time.duration_ns")) >= 3000000000ll);
	assert_true(json_object_get_int64(get(o, "time.duration_ns")) < 600000000000ll);
	assert_int_equal(json_object_array_length(get(o, "gaps")), 2);
	json_object_put(o);
	free(p);
}

static void test_session_cli_crash_recover(void **state)
{
	struct tu_cmd *f = *state;
	char *p = tu_path(f->dir, "crash.gcs"), *s;
	struct json_object *o;

	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--quiet", "--seconds", "10",
			     "--tiles", "1", "--rows", "16", "--cols", "16",
			     "--abort-after", "17", p, NULL), 0);
	/* A dead writer's file: info says so and exits 2. */
	o = info_json(f, p, 2);
	assert_string_equal(json_object_get_string(get(o, "format.state")), "open");
	assert_string_equal(json_object_get_string(get(o, "integrity.tail")), "uncommitted");
	assert_string_equal(json_object_get_string(get(o, "integrity.verdict")), "PROBLEMS");
	assert_int_equal(json_object_get_int64(get(o, "records.chunk")), 17 * 3);
	json_object_put(o);

	assert_int_equal(tu_cmd_run(f, cmd_recover, "recover", p, NULL), 0);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "kept"));
	assert_non_null(strstr(s, "state recovered"));
	free(s);
	o = info_json(f, p, 0);
	assert_string_equal(json_object_get_string(get(o, "format.state")), "recovered");
	assert_string_equal(json_object_get_string(get(o, "integrity.verdict")), "OK");
	json_object_put(o);
	assert_int_equal(tu_cmd_run(f, cmd_recover, "recover", p, NULL), 0);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "nothing to do"));
	free(s);

	/* The human form has every section. */
	assert_int_equal(tu_cmd_run(f, cmd_info, "info", p, NULL), 0);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "integrity   OK"));
	assert_non_null(strstr(s, "streams     3"));
	assert_non_null(strstr(s, "sizes       raw"));
	assert_non_null(strstr(s, "duration"));
	free(s);
	free(p);
}

static double jnum(struct json_object *o, const char *path)
{
	return json_object_get_double(get(o, path));
}

/*
 * Each stream's device clock against the host: synth's controller runs
 * 20 ppm fast, its left insole +40 ppm, its right one -20 ppm with a u32
 * microsecond clock that wraps 4 s in.
 */
static void test_session_cli_info_device_clocks(void **state)
{
	static const double want[3] = { 20, 40, -20 };
	struct tu_cmd *f = *state;
	char *p = tu_path(f->dir, "clocks.gcs"), *s;
	struct json_object *o, *streams;

	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--quiet", "--seconds", "120",
			     "--tiles", "1", "--rows", "4", "--cols", "4",
			     "--no-truth", p, NULL), 0);
	o = info_json(f, p, 0);
	streams = get(o, "streams");
	assert_int_equal(json_object_array_length(streams), 3);
	for (int i = 0; i < 3; i++) {
		struct json_object *st = json_object_array_get_idx(streams, i);
		double drift = jnum(st, "device_clock.drift_ppm");
		double se = jnum(st, "device_clock.drift_se_ppm");

		assert_true(json_object_get_int64(get(st, "device_clock.records")) >= 110);
		assert_true(se < 15);
		if (fabs(drift - want[i]) > 3 * se + 0.5)
			fail_msg("stream %d: drift %.1f +- %.1f ppm, want %.0f",
				 i, drift, se, want[i]);
	}
	/* Unwrapped: 120 s past a wrap of the u32 microseconds. */
	assert_true(json_object_get_int64(get(json_object_array_get_idx(streams, 2),
					      "device_clock.last_ns")) >
		    ((int64_t)1000 << 32) + 100000000000ll);
	json_object_put(o);

	assert_int_equal(tu_cmd_run(f, cmd_info, "info", p, NULL), 0);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "  0 mat0         device clock 5.000.."));
	assert_non_null(strstr(s, "  2 insole1      device clock "));
	assert_non_null(strstr(s, " ppm, off the fit by "));
	free(s);
	free(p);
}

static void test_session_cli_errors(void **state)
{
	struct tu_cmd *f = *state;
	char *p = tu_path(f->dir, "junk"), *s;

	assert_int_equal(tu_write_file(p, "not a session at all", 20), 0);
	assert_int_equal(tu_cmd_run(f, cmd_info, "info", p, NULL), 1);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "not a gaitcap session file"));
	free(s);
	assert_int_equal(tu_cmd_run(f, cmd_recover, "recover", p, NULL), 1);
	assert_int_equal(tu_cmd_run(f, cmd_info, "info", NULL), 1);	/* no file */
	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--tiles", "9", p, NULL), 1);
	/* An existing file is never overwritten. */
	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--quiet", p, NULL), 1);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "File exists"));
	free(s);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_cli_synth_info_json),
		cmocka_unit_test(test_session_cli_crash_recover),
		cmocka_unit_test(test_session_cli_info_device_clocks),
		cmocka_unit_test(test_session_cli_errors),
	};

	return cmocka_run_group_tests(tests, tu_cmd_setup, tu_cmd_teardown);
}
