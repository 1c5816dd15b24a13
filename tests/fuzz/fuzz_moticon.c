// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the Moticon OpenGo text parser (userspace/qc/moticon.c)
 * over arbitrary bytes, split into lines as the importer splits them. Every
 * refusal must say why; every accepted row must be in range and in order.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qc/moticon.h"

#define CHECK(c)							\
	do {								\
		if (!(c)) {						\
			fprintf(stderr, "invariant broken: %s (%s:%d)\n",\
				#c, __FILE__, __LINE__);		\
			abort();					\
		}							\
	} while (0)

static void check_side(const struct mot_side *s)
{
	for (int c = 0; c < MOT_CELLS; c++)
		CHECK(s->cell[c] >= 0 && s->cell[c] <= 655.35f);
	for (int a = 0; a < 3; a++) {
		CHECK(fabsf(s->acc[a]) <= 16.0f);
		CHECK(fabsf(s->gyro[a]) <= 2293.7f);
	}
	CHECK(isfinite(s->force) && isfinite(s->cop[0]) && isfinite(s->cop[1]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mot_parser p;
	struct mot_row row;
	size_t pos = 0;
	uint64_t rows = 0;
	int64_t last = INT64_MIN;
	int ret = 0;

	/* The first byte picks the option; the rest is the file. */
	mot_parser_init(&p, size && (data[0] & 1));
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - data) - pos : size - pos;

		ret = mot_parser_line(&p, (const char *)data + pos, len, &row);
		CHECK(ret == 0 || ret == 1 || ret == -EINVAL || ret == -E2BIG);
		if (ret < 0) {
			CHECK(p.err[0] != '\0');
			CHECK(memchr(p.err, '\0', sizeof(p.err)));
			break;
		}
		if (ret == 1) {
			CHECK(row.index == rows);
			CHECK(row.t_ns > last);
			CHECK(row.t_ns >= 0 && row.t_ns <= 10000000000000000ll);
			last = row.t_ns;
			rows++;
			check_side(&row.side[0]);
			check_side(&row.side[1]);
		}
		pos += len + 1;
	}
	if (ret >= 0) {
		ret = mot_parser_finish(&p);
		CHECK(ret == 0 || (ret == -EINVAL && p.err[0]));
		CHECK(!ret == (rows > 0 && p.have_columns));
	}
	if (!p.keep_labels)
		CHECK(!p.hdr.label[0] && !p.hdr.tag[0]);
	return 0;
}
