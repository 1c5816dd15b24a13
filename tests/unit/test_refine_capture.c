// SPDX-License-Identifier: GPL-2.0
/*
 * refine reads an insole stream as `gaitcap capture` describes it
 * (src_ble.c: profile "gaitcap" with decoder "gaitcap-v1", the cells as
 * cell_xy_area_mm, full_scale), not only as `gaitcap synth` does.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "refine/refine_int.h"

/* The description of a captured left insole (make demo's, cut short). */
static const char capture_desc[] =
	"{\"device\":\"insole-left\",\"side\":\"left\",\"profile\":\"gaitcap\","
	"\"decoder\":\"gaitcap-v1\",\"att_handle\":26,\"cells\":16,"
	"\"rate_hz\":100,\"full_scale\":4095,\"kpa_per_code\":0.125,"
	"\"cell_xy_area_mm\":[[14,18,500],[-14,18,500],[20,47,500],[-20,47,500],"
	"[-25,86,400],[-28,120,400],[10,120,300],[32,172,450],[11,179,450],"
	"[-11,179,450],[-32,172,450],[22,203,350],[-22,203,350],[26,234,500],"
	"[4,231,350],[-22,221,300]]}";

static int setup(const char *desc, struct ins *in, char *err, size_t len)
{
	struct refine R = { .err = err, .err_len = len };
	struct gcs_stream_info si = { .id = 1, .desc_json = desc };

	err[0] = '\0';
	return refine_insole_setup(&R, in, &si);
}

static void test_refine_capture_description(void **state)
{
	struct ins in;
	char err[256];

	(void)state;
	assert_int_equal(setup(capture_desc, &in, err, sizeof(err)), 0);
	assert_int_equal(in.side, REFINE_LEFT);
	assert_true(in.has_handle);
	assert_int_equal(in.handle, 26);
	assert_int_equal(in.full_code, 4095);
	assert_true(in.have_areas);
	/* kPa per code x area: N per code. */
	assert_true(in.k_cell[0] > 0.0624 && in.k_cell[0] < 0.0626);
	assert_true(in.k_cell[6] > 0.0374 && in.k_cell[6] < 0.0376);
	refine_insole_free(&in);
}

static void test_refine_capture_other_decoder_refused(void **state)
{
	char desc[sizeof(capture_desc)], err[256], *p;
	struct ins in;

	(void)state;
	memcpy(desc, capture_desc, sizeof(desc));
	p = strstr(desc, "gaitcap-v1");
	memcpy(p, "fff0-v1   ", 10);
	assert_int_equal(setup(desc, &in, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "only gaitcap-v1 is decoded"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refine_capture_description),
		cmocka_unit_test(test_refine_capture_other_decoder_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
