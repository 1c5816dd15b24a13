// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap devices: advertising data (AD structures, as mgmt's Device Found
 * hands them over: advertisement then scan response) to name + decoder.
 * Every input is parsed from an exact-size heap copy, so ASan reports a
 * single byte read past it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ble/adv.h"
#include "ble/insole_gatt.h"

static const uint8_t svc128[16] = INSOLE_UUID128(INSOLE_SVC);

/* Parse @len bytes of @ad into a zeroed @info; the parser's result. */
static int parse(const uint8_t *ad, size_t len, struct ble_adv_info *info)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	assert_non_null(copy);
	if (len)
		memcpy(copy, ad, len);
	memset(info, 0, sizeof(*info));
	ret = ble_adv_parse(copy, len, info);
	free(copy);
	return ret;
}

/* What gaitinsole-sim advertises: the service list, the name in the scan response. */
static size_t sim_adv(uint8_t *b, bool fff0, const char *name)
{
	size_t n = 0, nl = strlen(name);

	b[n++] = 2;			/* Flags, as the kernel adds them */
	b[n++] = 0x01;
	b[n++] = 0x06;
	if (fff0) {
		memcpy(b + n, "\x03\x03\xf0\xff", 4);
		n += 4;
	} else {
		b[n++] = 17;
		b[n++] = 0x07;
		memcpy(b + n, svc128, 16);
		n += 16;
	}
	b[n++] = nl + 1;
	b[n++] = 0x09;
	memcpy(b + n, name, nl);
	return n + nl;
}

static void test_devices_the_simulators_advertisements(void **state)
{
	struct ble_adv_info info;
	uint8_t b[64];

	(void)state;
	assert_int_equal(parse(b, sim_adv(b, false, "GI-LEFT"), &info), 0);
	assert_string_equal(info.decoder, "gaitcap-v1");
	assert_string_equal(info.name, "GI-LEFT");
	assert_true(info.name_complete);
	assert_int_equal(parse(b, sim_adv(b, true, "FFF-RIGHT"), &info), 0);
	assert_string_equal(info.decoder, "fff0");
	assert_string_equal(info.name, "FFF-RIGHT");
}

/* FFF0 as 16-bit, 32-bit and 128-bit (Base UUID) UUID, among others. */
static void test_devices_fff0_in_every_uuid_size(void **state)
{
	static const uint8_t u16[] = { 5, 0x02, 0x0f, 0x18, 0xf0, 0xff };
	static const uint8_t u32[] = { 9, 0x05, 0x0d, 0x18, 0, 0, 0xf0, 0xff, 0, 0 };
	static const uint8_t u128[] = { 17, 0x06, 0xfb, 0x34, 0x9b, 0x5f, 0x80,
		0x00, 0x00, 0x80, 0x00, 0x10, 0x00, 0x00, 0xf0, 0xff, 0x00, 0x00 };
	struct ble_adv_info info;

	(void)state;
	assert_int_equal(parse(u16, sizeof(u16), &info), 0);
	assert_string_equal(info.decoder, "fff0");
	assert_string_equal(info.name, "");
	assert_int_equal(parse(u32, sizeof(u32), &info), 0);
	assert_string_equal(info.decoder, "fff0");
	assert_int_equal(parse(u128, sizeof(u128), &info), 0);
	assert_string_equal(info.decoder, "fff0");
}

static void test_devices_gaitcap_wins_over_fff0(void **state)
{
	uint8_t b[40] = { 3, 0x03, 0xf0, 0xff, 17, 0x07 };
	struct ble_adv_info info;

	(void)state;
	memcpy(b + 6, svc128, 16);
	assert_int_equal(parse(b, 22, &info), 0);
	assert_string_equal(info.decoder, "gaitcap-v1");
	/* The other order. */
	memmove(b, b + 4, 18);
	memcpy(b + 18, "\x03\x03\xf0\xff", 4);
	assert_int_equal(parse(b, 22, &info), 0);
	assert_string_equal(info.decoder, "gaitcap-v1");
}

static void test_devices_other_devices_are_no_insoles(void **state)
{
	static const uint8_t heart_rate[] = { 3, 0x03, 0x0d, 0x18, 4, 0x09, 'H', 'R', 'M' };
	/* 0xFFF0 in a 32-bit UUID that is not 0x0000FFF0, and as data. */
	static const uint8_t near_miss[] = { 5, 0x05, 0xf0, 0xff, 1, 0,
					     5, 0xff, 0x03, 0x03, 0xf0, 0xff };
	struct ble_adv_info info;
	uint8_t b[18] = { 17, 0x07 };

	(void)state;
	for (size_t k = 0; k < 16; k++) {
		memcpy(b + 2, svc128, 16);
		b[2 + k] ^= 0x01;	/* another vendor's 128-bit service */
		assert_int_equal(parse(b, sizeof(b), &info), 0);
		assert_null(info.decoder);
	}
	assert_int_equal(parse(heart_rate, sizeof(heart_rate), &info), 0);
	assert_null(info.decoder);
	assert_string_equal(info.name, "HRM");
	assert_int_equal(parse(near_miss, sizeof(near_miss), &info), 0);
	assert_null(info.decoder);
}

/* A structure running past the end: refused, what came before counts. */
static void test_devices_truncated_structure(void **state)
{
	static const uint8_t cut[] = { 3, 0x03, 0xf0, 0xff, 10, 0x09, 'G', 'I', '-', 'L' };
	static const uint8_t cut_list[] = { 4, 0x09, 'A', 'B', 'C', 17, 0x07, 1, 2 };
	static const uint8_t lone_len[] = { 3, 0x03, 0xf0, 0xff, 5 };
	static const uint8_t max_len[] = { 0xff, 0x09, 'X' };
	struct ble_adv_info info;

	(void)state;
	assert_int_equal(parse(cut, sizeof(cut), &info), -EBADMSG);
	assert_string_equal(info.decoder, "fff0");
	assert_string_equal(info.name, "");
	assert_int_equal(parse(cut_list, sizeof(cut_list), &info), -EBADMSG);
	assert_null(info.decoder);
	assert_string_equal(info.name, "ABC");
	assert_int_equal(parse(lone_len, sizeof(lone_len), &info), -EBADMSG);
	assert_string_equal(info.decoder, "fff0");
	assert_int_equal(parse(max_len, sizeof(max_len), &info), -EBADMSG);
	assert_string_equal(info.name, "");
	assert_int_equal(parse(NULL, 0, &info), 0);
	assert_null(info.decoder);
}

/* A UUID list of a length no multiple of its UUIDs': skipped, the rest parsed. */
static void test_devices_broken_uuid_list_skipped(void **state)
{
	static const uint8_t odd16[] = { 4, 0x03, 0xf0, 0xff, 0x0f, 3, 0x09, 'O', 'K' };
	static const uint8_t odd128[] = { 16, 0x07, 0x6c, 0x6f, 0x73, 0x6e, 0x69,
		0x70, 0x61, 0x63, 0x74, 0x69, 0x61, 0x67, 0x01, 0x00, 0x7e,
		3, 0x03, 0xf0, 0xff };
	struct ble_adv_info info;

	(void)state;
	assert_int_equal(parse(odd16, sizeof(odd16), &info), -EBADMSG);
	assert_null(info.decoder);
	assert_string_equal(info.name, "OK");
	assert_int_equal(parse(odd128, sizeof(odd128), &info), -EBADMSG);
	assert_string_equal(info.decoder, "fff0");
}

/* Zeros after the advertisement (padding), then the scan response. */
static void test_devices_padding_then_scan_response(void **state)
{
	static const uint8_t b[] = { 3, 0x03, 0xf0, 0xff, 0, 0, 0, 0,
				     5, 0x09, 'F', 'F', 'F', '0', 0 };
	struct ble_adv_info info;

	(void)state;
	assert_int_equal(parse(b, sizeof(b), &info), 0);
	assert_string_equal(info.decoder, "fff0");
	assert_string_equal(info.name, "FFF0");
}

static void test_devices_names_printed_safely(void **state)
{
	static const uint8_t ctl[] = { 9, 0x09, 'A', 0x1b, '[', '2', 'J', '\n', 0, 0xc3 };
	static const uint8_t both[] = { 5, 0x09, 'L', 'O', 'N', 'G', 3, 0x08, 'L', 'O' };
	static const uint8_t empty[] = { 1, 0x09 };
	uint8_t long_name[2 + 200];
	struct ble_adv_info info;
	size_t i;

	(void)state;
	/* An escape sequence, a newline, NUL and UTF-8 never reach the terminal. */
	assert_int_equal(parse(ctl, sizeof(ctl), &info), 0);
	assert_string_equal(info.name, "A?[2J???");
	/* A complete name is not replaced by a shortened one, the reverse is. */
	assert_int_equal(parse(both, sizeof(both), &info), 0);
	assert_string_equal(info.name, "LONG");
	assert_true(info.name_complete);
	assert_int_equal(ble_adv_parse(both + 6, 4, &info), 0);
	assert_string_equal(info.name, "LONG");
	memset(&info, 0, sizeof(info));
	assert_int_equal(ble_adv_parse(both + 6, 4, &info), 0);
	assert_string_equal(info.name, "LO");
	assert_false(info.name_complete);
	assert_int_equal(ble_adv_parse(both, 6, &info), 0);
	assert_string_equal(info.name, "LONG");
	/* Extended advertising allows 200-byte names: cut, terminated. */
	long_name[0] = 201;
	long_name[1] = 0x09;
	for (i = 0; i < 200; i++)
		long_name[2 + i] = 'a' + i % 26;
	assert_int_equal(parse(long_name, sizeof(long_name), &info), 0);
	assert_int_equal(strlen(info.name), BLE_ADV_NAME_MAX);
	assert_memory_equal(info.name, long_name + 2, BLE_ADV_NAME_MAX);
	assert_int_equal(parse(empty, sizeof(empty), &info), 0);
	assert_string_equal(info.name, "");
	assert_true(info.name_complete);
}

/* Every prefix of a real advertisement: 0 or -EBADMSG, nothing read past. */
static void test_devices_every_prefix(void **state)
{
	struct ble_adv_info info;
	uint8_t b[64];
	size_t n = sim_adv(b, false, "GI-LEFT"), len;
	int ret;

	(void)state;
	for (len = 0; len <= n; len++) {
		ret = parse(b, len, &info);
		/* Whole structures end at 0, 3, 21 and n bytes. */
		if (len == 0 || len == 3 || len == 21 || len == n)
			assert_int_equal(ret, 0);
		else
			assert_int_equal(ret, -EBADMSG);
		if (len >= 21)
			assert_string_equal(info.decoder, "gaitcap-v1");
		else
			assert_null(info.decoder);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_devices_the_simulators_advertisements),
		cmocka_unit_test(test_devices_fff0_in_every_uuid_size),
		cmocka_unit_test(test_devices_gaitcap_wins_over_fff0),
		cmocka_unit_test(test_devices_other_devices_are_no_insoles),
		cmocka_unit_test(test_devices_truncated_structure),
		cmocka_unit_test(test_devices_broken_uuid_list_skipped),
		cmocka_unit_test(test_devices_padding_then_scan_response),
		cmocka_unit_test(test_devices_names_printed_safely),
		cmocka_unit_test(test_devices_every_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
