// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * libFuzzer target: the body parsers and scan decoders directly, without
 * the CRC that keeps random stream bytes from reaching them.
 *
 * Input: byte 0 selects the frame type, bytes 1..3 are n_tiles, rows and
 * cols of the geometry (any value, so out-of-range ones are exercised),
 * the rest is the body. The body is copied into a buffer of exactly its
 * size, so that AddressSanitizer catches any read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static const u8 types[] = {
	GM_T_DEVINFO, GM_T_CALIB, GM_T_DENSE, GM_T_SPARSE, GM_T_STATUS,
	GM_T_ACK, GM_T_CMD_SET_RATE,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gm_devinfo di;
	struct gm_hdr hdr;
	u8 *body;
	size_t len;

	if (size < 4 || size - 4 > GM_MAX_BODY + 16)
		return 0;
	fuzz_default_devinfo(&di);
	di.n_tiles = data[1] & 0x0f;
	di.rows = data[2] & 0x7f;
	di.cols = data[3] & 0x7f;
	len = size - 4;
	body = malloc(len ? len : 1);
	if (!body)
		return 0;
	memcpy(body, data + 4, len);
	fuzz_check_body(types[data[0] % sizeof(types)], body, len, &di);
	/* The header parser over the same bytes, read as a raw frame. */
	gm_parse_hdr(body, len, &hdr);
	free(body);
	return 0;
}
