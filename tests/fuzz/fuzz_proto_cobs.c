// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * libFuzzer target: framing round trip. The input becomes the body of a
 * frame; the frame is COBS-encoded and fed to a receiver in chunks whose
 * sizes come from the input's first bytes. The receiver must give back
 * exactly the raw frame, the encoding must contain no 0x00 but the
 * delimiter and stay within the documented overhead.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

static u8 raw[GM_MAX_RAW];
static u8 wire[GM_MAX_WIRE + 1];
static u8 rxbuf[GM_MAX_RAW];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gm_hdr hdr = { .type = GM_T_DENSE };
	struct gm_rx rx;
	size_t off, used, chunk;
	long n, w;
	int res = 0;
	bool fs, started = false;
	unsigned int k = 0;

	if (size > GM_MAX_BODY)
		size = GM_MAX_BODY;
	hdr.body_len = (u16)size;
	if (size >= 12) {
		hdr.flags = data[0];
		hdr.seq = gm_get_le32(data);
		hdr.clock_us = gm_get_le64(data + 4);
	}
	n = gm_build_frame(raw, sizeof(raw), &hdr, data);
	FUZZ_ASSERT(n == (long)(GM_HDR_LEN + size + GM_CRC_LEN));
	wire[0] = GM_DELIM;
	w = gm_cobs_encode(raw, n, wire + 1, sizeof(wire) - 1);
	FUZZ_ASSERT(w > 0 && w <= n + n / 254 + 2);
	FUZZ_ASSERT(wire[w] == GM_DELIM);
	FUZZ_ASSERT(!memchr(wire + 1, GM_DELIM, w - 1));
	/* One byte less room must be refused, never truncated. */
	FUZZ_ASSERT(gm_cobs_encode(raw, n, wire + 1, w - 1) == -GM_ENOSPC);
	FUZZ_ASSERT(gm_cobs_encode(raw, n, wire + 1, w) == w);

	gm_rx_init(&rx, rxbuf, sizeof(rxbuf));
	for (off = 0; off < (size_t)w + 1; off += used) {
		chunk = size ? 1 + data[k++ % size] : 1;
		if (chunk > (size_t)w + 1 - off)
			chunk = w + 1 - off;
		used = gm_rx_feed(&rx, wire + off, chunk, &res, &fs);
		FUZZ_ASSERT(used == chunk);
		started |= fs;
		FUZZ_ASSERT(res == 0 || off + used == (size_t)w + 1);
	}
	FUZZ_ASSERT(started);
	FUZZ_ASSERT(res == n);
	FUZZ_ASSERT(!memcmp(rxbuf, raw, n));
	return 0;
}
