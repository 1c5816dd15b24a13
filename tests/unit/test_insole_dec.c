// SPDX-License-Identifier: GPL-2.0
/*
 * The insole decoders (userspace/ble/dec_*.c) and the device description
 * parser, against docs/protocols/insole-gatt.md: known answers built
 * byte by byte, then every truncation and every bad field refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ble/att.h"
#include "ble/insole_dec.h"

#define V1_LEN(n) (INSOLE_DATA_HDR + (n) * INSOLE_SAMPLE_SIZE)

/* A v1 batch of @n samples; cell k of sample i is 100 * i + k. */
static size_t v1_batch(uint8_t *b, unsigned int n, uint32_t seq,
		       uint32_t t_us, uint16_t period)
{
	unsigned int i, k;
	uint8_t *p;

	memset(b, 0, V1_LEN(n));
	b[0] = INSOLE_DATA_VERSION;
	b[1] = (uint8_t)n;
	ble_put_le16(b + 2, INSOLE_DATA_F_RESTART);
	ble_put_le32(b + 4, seq);
	ble_put_le32(b + 8, t_us);
	ble_put_le16(b + 12, period);
	for (i = 0; i < n; i++) {
		p = b + INSOLE_DATA_HDR + i * INSOLE_SAMPLE_SIZE;
		for (k = 0; k < INSOLE_CELLS; k++)
			ble_put_le16(p + 2 * k, (uint16_t)(100 * i + k));
		p += 2 * INSOLE_CELLS;
		ble_put_le16(p, (uint16_t)-1000);	/* accel x */
		ble_put_le16(p + 4, 2048);		/* accel z */
		ble_put_le16(p + 6, (uint16_t)-5);	/* gyro x */
		ble_put_le16(p + 10, (uint16_t)(i + 1));	/* gyro z */
	}
	return V1_LEN(n);
}

static void test_dec_registry(void **state)
{
	const struct insole_decoder *d;

	d = insole_decoder_find("gaitcap-v1");
	assert_non_null(d);
	assert_ptr_equal(d, &insole_dec_gaitcap_v1);
	d = insole_decoder_find("fff0");
	assert_non_null(d);
	assert_string_equal(d->name, "fff0");
	assert_null(insole_decoder_find("gaitcap-v2"));
	assert_null(insole_decoder_find(""));
	assert_null(insole_decoder_find(NULL));
}

static void test_dec_gaitcap_v1_batch(void **state)
{
	const struct insole_decoder *d = insole_decoder_find("gaitcap-v1");
	struct insole_sample s[INSOLE_MAX_BATCH];
	uint8_t b[V1_LEN(INSOLE_MAX_BATCH)];
	size_t len;

	/* The counter and the clock wrap as u32. */
	len = v1_batch(b, INSOLE_MAX_BATCH, 0xfffffffe, 0xffffff00, 10000);
	assert_int_equal(len, 234);	/* + 3: ATT_MTU 237 at least */
	assert_int_equal(d->decode(b, len, s, INSOLE_MAX_BATCH), 5);
	assert_int_equal(s[0].seq, 0xfffffffe);
	assert_int_equal(s[1].seq, 0xffffffff);
	assert_int_equal(s[2].seq, 0);
	assert_int_equal(s[4].seq, 2);
	assert_int_equal(s[0].t_us, 0xffffff00);
	assert_int_equal(s[1].t_us, 0xffffff00u + 10000u);
	assert_int_equal(s[4].t_us, (uint32_t)(0xffffff00u + 40000u));
	assert_true(s[3].has_seq && s[3].has_clock && s[3].has_imu);
	assert_int_equal(s[3].flags, INSOLE_DATA_F_RESTART);
	assert_int_equal(s[3].n_cells, 16);
	assert_int_equal(s[3].cell[0], 300);
	assert_int_equal(s[3].cell[15], 315);
	assert_int_equal(s[3].acc[0], -1000);
	assert_int_equal(s[3].acc[1], 0);
	assert_int_equal(s[3].acc[2], 2048);
	assert_int_equal(s[3].gyro[0], -5);
	assert_int_equal(s[3].gyro[2], 4);
	/* Too little room for the batch. */
	assert_int_equal(d->decode(b, len, s, 4), -ENOSPC);
}

static void test_dec_gaitcap_v1_refused(void **state)
{
	const struct insole_decoder *d = insole_decoder_find("gaitcap-v1");
	struct insole_sample s[INSOLE_MAX_BATCH];
	uint8_t b[V1_LEN(INSOLE_MAX_BATCH + 1) + 8];
	size_t len, cut;

	len = v1_batch(b, 2, 1, 2, 3);
	assert_int_equal(d->decode(b, len, s, INSOLE_MAX_BATCH), 2);
	/* Every truncation, and one byte too many. */
	for (cut = 0; cut < len; cut++)
		assert_int_equal(d->decode(b, cut, s, INSOLE_MAX_BATCH),
				 -EBADMSG);
	assert_int_equal(d->decode(b, len + 1, s, INSOLE_MAX_BATCH), -EBADMSG);
	/* n = 0, n above the batch limit, an unknown version. */
	b[1] = 0;
	assert_int_equal(d->decode(b, INSOLE_DATA_HDR, s, 5), -EBADMSG);
	len = v1_batch(b, INSOLE_MAX_BATCH, 1, 2, 3);
	memset(b + len, 0, INSOLE_SAMPLE_SIZE);
	b[1] = INSOLE_MAX_BATCH + 1;
	assert_int_equal(d->decode(b, len + INSOLE_SAMPLE_SIZE, s, 8),
			 -EBADMSG);
	len = v1_batch(b, 1, 1, 2, 3);
	b[0] = 2;
	assert_int_equal(d->decode(b, len, s, 5), -EPROTONOSUPPORT);
}

static void test_dec_fff0(void **state)
{
	const struct insole_decoder *d = insole_decoder_find("fff0");
	uint8_t b[2 + 2 * INSOLE_MAX_CELLS + 2] = { FFF0_MAGIC, 16 };
	struct insole_sample s[2];
	size_t len = 2 + 2 * 16, cut;
	unsigned int k;

	for (k = 0; k < 16; k++)
		ble_put_le16(b + 2 + 2 * k, (uint16_t)(4095 - k));
	memset(s, 0xa5, sizeof(s));
	assert_int_equal(d->decode(b, len, s, 2), 1);
	assert_int_equal(s[0].n_cells, 16);
	assert_int_equal(s[0].cell[0], 4095);
	assert_int_equal(s[0].cell[15], 4080);
	assert_int_equal(s[0].cell[16], 0);	/* no stale bytes */
	/* No counter, no clock, no IMU: the reader works from arrival. */
	assert_false(s[0].has_seq);
	assert_false(s[0].has_clock);
	assert_false(s[0].has_imu);
	assert_int_equal(s[0].seq, 0);
	for (cut = 0; cut < len; cut++)
		assert_int_equal(d->decode(b, cut, s, 2), -EBADMSG);
	assert_int_equal(d->decode(b, len + 1, s, 2), -EBADMSG);
	assert_int_equal(d->decode(b, len, s, 0), -ENOSPC);
	b[0] = 0x56;
	assert_int_equal(d->decode(b, len, s, 2), -EBADMSG);
	b[0] = FFF0_MAGIC;
	/* 0 cells, and more than a sample can hold. */
	b[1] = 0;
	assert_int_equal(d->decode(b, 2, s, 2), -EBADMSG);
	b[1] = INSOLE_MAX_CELLS + 1;
	assert_int_equal(d->decode(b, sizeof(b), s, 2), -EBADMSG);
	b[1] = INSOLE_MAX_CELLS;
	assert_int_equal(d->decode(b, sizeof(b) - 2, s, 2), 1);
	assert_int_equal(s[0].n_cells, INSOLE_MAX_CELLS);
}

static size_t desc(uint8_t *d, unsigned int n_cells)
{
	const float f[3] = { 0.25f, 1.0f / 2048, 0.0625f };
	unsigned int i;
	uint32_t u;

	memset(d, 0, INSOLE_INFO_HDR);
	d[0] = INSOLE_INFO_VERSION;
	d[1] = 0;
	d[2] = (uint8_t)n_cells;
	d[3] = INSOLE_DESC_IMU_ACCEL | INSOLE_DESC_IMU_GYRO;
	ble_put_le16(d + 4, 100);
	ble_put_le16(d + 6, INSOLE_MAX_BATCH);
	ble_put_le16(d + 8, 4095);
	ble_put_le16(d + 10, 0xbeef);	/* reserved: ignored */
	for (i = 0; i < 3; i++) {
		memcpy(&u, &f[i], 4);
		ble_put_le32(d + 12 + 4 * i, u);
	}
	for (i = 0; i < n_cells; i++) {
		ble_put_le16(d + 24 + 6 * i, (uint16_t)(-30 + 4 * (int)i));
		ble_put_le16(d + 26 + 6 * i, (uint16_t)(10 + 16 * i));
		ble_put_le16(d + 28 + 6 * i, (uint16_t)(150 + i));
	}
	return INSOLE_INFO_HDR + INSOLE_INFO_CELL * n_cells;
}

static void test_desc_parse(void **state)
{
	uint8_t b[INSOLE_INFO_HDR + INSOLE_INFO_CELL * INSOLE_MAX_CELLS + 4];
	struct insole_desc d;
	size_t len = desc(b, 16), cut;

	assert_int_equal(len, 120);
	assert_int_equal(insole_desc_parse(b, len, &d), 0);
	assert_int_equal(d.version, 1);
	assert_int_equal(d.side, 0);
	assert_int_equal(d.n_cells, 16);
	assert_int_equal(d.imu, 3);
	assert_int_equal(d.rate_hz, 100);
	assert_int_equal(d.max_batch, 5);
	assert_int_equal(d.full_scale, 4095);
	assert_true(d.kpa_per_code == 0.25f);
	assert_true(d.g_per_code == 1.0f / 2048);
	assert_true(d.dps_per_code == 0.0625f);
	assert_int_equal(d.cell[0].x_mm, -30);
	assert_int_equal(d.cell[15].x_mm, 30);
	assert_int_equal(d.cell[15].y_mm, 250);
	assert_int_equal(d.cell[15].area_mm2, 165);
	for (cut = 0; cut < len; cut++)
		assert_int_equal(insole_desc_parse(b, cut, &d), -EBADMSG);
	assert_int_equal(insole_desc_parse(b, len + 1, &d), -EBADMSG);
	len = desc(b, INSOLE_MAX_CELLS);
	assert_int_equal(insole_desc_parse(b, len, &d), 0);
}

static void test_desc_refused(void **state)
{
	uint8_t b[INSOLE_INFO_HDR + INSOLE_INFO_CELL * 40];
	const uint32_t nan = 0x7fc00000, inf = 0x7f800000, neg = 0xbf800000;
	struct insole_desc d;
	size_t len;
	struct {
		size_t off;
		unsigned int bytes;
		uint32_t v;
		int err;
	} bad[] = {
		{ 0, 1, 2, -EPROTONOSUPPORT },	/* version */
		{ 1, 1, 2, -EBADMSG },		/* side */
		{ 3, 1, 4, -EBADMSG },		/* imu bits */
		{ 4, 2, 0, -EBADMSG },		/* rate */
		{ 6, 2, 0, -EBADMSG },		/* batch */
		{ 8, 2, 0, -EBADMSG },		/* full scale */
		{ 12, 4, nan, -EBADMSG },
		{ 12, 4, 0, -EBADMSG },
		{ 16, 4, inf, -EBADMSG },
		{ 20, 4, neg, -EBADMSG },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = desc(b, 16);
		if (bad[i].bytes == 1)
			b[bad[i].off] = (uint8_t)bad[i].v;
		else if (bad[i].bytes == 2)
			ble_put_le16(b + bad[i].off, (uint16_t)bad[i].v);
		else
			ble_put_le32(b + bad[i].off, bad[i].v);
		if (insole_desc_parse(b, len, &d) != bad[i].err)
			fail_msg("field at %zu = 0x%x accepted", bad[i].off,
				 bad[i].v);
	}
	/* Cell counts: 0, and more than a sample holds. */
	len = desc(b, 16);
	b[2] = 0;
	assert_int_equal(insole_desc_parse(b, INSOLE_INFO_HDR, &d), -EBADMSG);
	len = desc(b, INSOLE_MAX_CELLS + 1);
	assert_int_equal(insole_desc_parse(b, len, &d), -EBADMSG);
	/* Without an IMU its scales do not matter. */
	len = desc(b, 16);
	b[3] = 0;
	ble_put_le32(b + 16, 0);
	assert_int_equal(insole_desc_parse(b, len, &d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dec_registry),
		cmocka_unit_test(test_dec_gaitcap_v1_batch),
		cmocka_unit_test(test_dec_gaitcap_v1_refused),
		cmocka_unit_test(test_dec_fff0),
		cmocka_unit_test(test_desc_parse),
		cmocka_unit_test(test_desc_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
