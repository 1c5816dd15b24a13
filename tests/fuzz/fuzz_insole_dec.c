// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the insole decoders and the device description parser
 * (userspace/ble). The first byte picks the parser, the rest is the value
 * of one notification or read. What a parser accepts must round-trip:
 * encoding the decoded samples (or description) again gives the input
 * bytes back, so nothing was read from outside the value or dropped.
 *
 * Built with -DGEN_SEEDS, the same file writes one valid value per parser.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ble/att.h"
#include "ble/insole_dec.h"

#define FUZZ_ASSERT(c)							\
	do {								\
		if (!(c)) {						\
			fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
				__FILE__, __LINE__, #c);		\
			abort();					\
		}							\
	} while (0)

enum { P_GAITCAP_V1, P_FFF0, P_DESC, P_N };

#ifndef GEN_SEEDS

static void check_v1(const uint8_t *v, size_t len)
{
	const struct insole_decoder *d = insole_decoder_find("gaitcap-v1");
	struct insole_sample s[INSOLE_MAX_BATCH + 1];
	uint8_t out[INSOLE_DATA_HDR + INSOLE_MAX_BATCH * INSOLE_SAMPLE_SIZE];
	int n, i, k;
	uint8_t *p;

	n = d->decode(v, len, s, INSOLE_MAX_BATCH + 1);
	if (n < 0) {
		FUZZ_ASSERT(n == -EBADMSG || n == -EPROTONOSUPPORT);
		return;
	}
	FUZZ_ASSERT(n >= 1 && n <= INSOLE_MAX_BATCH);
	FUZZ_ASSERT(len == INSOLE_DATA_HDR + (size_t)n * INSOLE_SAMPLE_SIZE);
	memcpy(out, v, INSOLE_DATA_HDR);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(s[i].has_seq && s[i].has_clock);
		FUZZ_ASSERT(s[i].seq == s[0].seq + (uint32_t)i);
		FUZZ_ASSERT(s[i].n_cells == INSOLE_CELLS);
		p = out + INSOLE_DATA_HDR + i * INSOLE_SAMPLE_SIZE;
		for (k = 0; k < INSOLE_CELLS; k++)
			ble_put_le16(p + 2 * k, s[i].cell[k]);
		for (k = 0; k < 3; k++) {
			ble_put_le16(p + 32 + 2 * k, (uint16_t)s[i].acc[k]);
			ble_put_le16(p + 38 + 2 * k, (uint16_t)s[i].gyro[k]);
		}
	}
	FUZZ_ASSERT(s[0].seq == ble_get_le32(v + INSOLE_DATA_OFF_SEQ));
	FUZZ_ASSERT(s[0].t_us == ble_get_le32(v + INSOLE_DATA_OFF_T_US));
	if (n > 1)
		FUZZ_ASSERT(s[1].t_us - s[0].t_us ==
			    ble_get_le16(v + INSOLE_DATA_OFF_PERIOD));
	FUZZ_ASSERT(!memcmp(out, v, len));
	/* Less room than samples: refused, never overrun. */
	FUZZ_ASSERT(d->decode(v, len, s, (size_t)n - 1) == -ENOSPC);
}

static void check_fff0(const uint8_t *v, size_t len)
{
	const struct insole_decoder *d = insole_decoder_find("fff0");
	uint8_t out[2 + 2 * INSOLE_MAX_CELLS] = { FFF0_MAGIC };
	struct insole_sample s;
	unsigned int k;
	int n;

	n = d->decode(v, len, &s, 1);
	if (n < 0) {
		FUZZ_ASSERT(n == -EBADMSG);
		return;
	}
	FUZZ_ASSERT(n == 1);
	FUZZ_ASSERT(!s.has_seq && !s.has_clock && !s.has_imu);
	FUZZ_ASSERT(s.n_cells >= 1 && s.n_cells <= INSOLE_MAX_CELLS);
	FUZZ_ASSERT(len == 2 + 2 * (size_t)s.n_cells);
	out[1] = (uint8_t)s.n_cells;
	for (k = 0; k < s.n_cells; k++)
		ble_put_le16(out + 2 + 2 * k, s.cell[k]);
	FUZZ_ASSERT(!memcmp(out, v, len));
}

static void check_desc(const uint8_t *v, size_t len)
{
	struct insole_desc d;
	unsigned int i;
	int ret;

	ret = insole_desc_parse(v, len, &d);
	if (ret) {
		FUZZ_ASSERT(ret == -EBADMSG || ret == -EPROTONOSUPPORT);
		return;
	}
	FUZZ_ASSERT(d.n_cells >= 1 && d.n_cells <= INSOLE_MAX_CELLS);
	FUZZ_ASSERT(len == INSOLE_INFO_HDR +
		    (size_t)d.n_cells * INSOLE_INFO_CELL);
	FUZZ_ASSERT(isfinite(d.kpa_per_code) && d.kpa_per_code > 0);
	FUZZ_ASSERT(d.side <= 1 && d.rate_hz && d.full_scale);
	for (i = 0; i < d.n_cells; i++) {
		const uint8_t *p = v + INSOLE_INFO_HDR + i * INSOLE_INFO_CELL;

		FUZZ_ASSERT(d.cell[i].x_mm == (int16_t)ble_get_le16(p));
		FUZZ_ASSERT(d.cell[i].area_mm2 == ble_get_le16(p + 4));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *v;

	if (!size)
		return 0;
	/* An exact-size copy, so ASan sees any read past the value. */
	v = malloc(size - 1 ? size - 1 : 1);
	FUZZ_ASSERT(v);
	memcpy(v, data + 1, size - 1);
	switch (data[0] % P_N) {
	case P_GAITCAP_V1:
		check_v1(v, size - 1);
		break;
	case P_FFF0:
		check_fff0(v, size - 1);
		break;
	default:
		check_desc(v, size - 1);
		break;
	}
	free(v);
	return 0;
}

#else /* GEN_SEEDS */

static void seed(const char *dir, const char *name, const uint8_t *p,
		 size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint8_t b[1 + INSOLE_DATA_HDR + INSOLE_MAX_BATCH * INSOLE_SAMPLE_SIZE];
	const float scale[3] = { 0.5f, 0.001f, 0.07f };
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 37);
	b[0] = P_GAITCAP_V1;
	b[1] = INSOLE_DATA_VERSION;
	b[2] = 3;
	seed(argv[1], "gaitcap-v1", b, 1 + INSOLE_DATA_HDR +
	     3 * INSOLE_SAMPLE_SIZE);
	b[0] = P_FFF0;
	b[1] = FFF0_MAGIC;
	b[2] = 16;
	seed(argv[1], "fff0", b, 3 + 32);
	memset(b, 0, sizeof(b));
	b[0] = P_DESC;
	b[1] = INSOLE_INFO_VERSION;
	b[3] = INSOLE_CELLS;
	b[4] = 3;
	ble_put_le16(b + 5, 100);
	ble_put_le16(b + 7, 5);
	ble_put_le16(b + 9, 4095);
	for (i = 0; i < 3; i++)
		memcpy(b + 13 + 4 * i, &scale[i], 4);
	seed(argv[1], "desc", b, 1 + INSOLE_INFO_HDR +
	     INSOLE_CELLS * INSOLE_INFO_CELL);
	return 0;
}

#endif /* GEN_SEEDS */
