// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * libFuzzer target: the byte stream a UART delivers to the host.
 *
 * The input is fed to two receivers, one byte at a time and in chunks of
 * varying size, as receive_buf would see it; both must report the same
 * frames and errors (the receiver is a pure state machine over bytes, so
 * how they are split must not matter). Every frame it accepts must carry a
 * correct CRC and length, and goes through the header parser and the body
 * parser its type names, with the round-trip checks of fuzz_check.c.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

#define MAX_EVENTS 4096

static u8 buf_a[GM_MAX_RAW];
static u8 buf_b[GM_MAX_RAW];
/* What receiver A reported: results and the CRC of each frame. */
static int ev_res[MAX_EVENTS];
static u32 ev_crc[MAX_EVENTS];

static void check_frame(const u8 *frame, int len, struct gm_devinfo *di)
{
	struct gm_hdr hdr;

	FUZZ_ASSERT(len >= GM_HDR_LEN + GM_CRC_LEN && len <= GM_MAX_RAW);
	FUZZ_ASSERT(gm_crc32c(0, frame, len - GM_CRC_LEN) ==
		    gm_get_le32(frame + len - GM_CRC_LEN));
	if (gm_parse_hdr(frame, len, &hdr))
		return;
	FUZZ_ASSERT(GM_HDR_LEN + hdr.body_len + GM_CRC_LEN == len);
	fuzz_check_body(hdr.type, gm_body(frame), hdr.body_len, di);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gm_devinfo di;
	struct gm_rx a, b;
	size_t off, used, chunk;
	unsigned int n_ev = 0, i = 0;
	bool fs, pending_start = false;
	int res;
	u32 h = 2166136261u;

	fuzz_default_devinfo(&di);
	gm_rx_init(&a, buf_a, sizeof(buf_a));
	gm_rx_init(&b, buf_b, sizeof(buf_b));

	/* A: byte by byte, so each result is tied to the byte ending it. */
	for (off = 0; off < size; off++) {
		used = gm_rx_feed(&a, data + off, 1, &res, &fs);
		FUZZ_ASSERT(used == 1);
		FUZZ_ASSERT(a.len <= a.cap);
		pending_start |= fs;
		if (!res)
			continue;
		FUZZ_ASSERT(res > -GM_EMAX);
		/* Results only come with a delimiter, but overflow at once. */
		FUZZ_ASSERT(data[off] == GM_DELIM || res == -GM_ETOOLONG);
		/* Every frame reported, good or bad, was seen to start. */
		FUZZ_ASSERT(pending_start);
		pending_start = false;
		if (n_ev == MAX_EVENTS)
			break;
		ev_res[n_ev] = res;
		ev_crc[n_ev] = res > 0 ? gm_crc32c(0, buf_a, res) : 0;
		n_ev++;
		if (res > 0)
			check_frame(buf_a, res, &di);
	}
	if (n_ev == MAX_EVENTS)
		return 0;
	pending_start = false;

	/* B: chunks of 1..256 bytes, sizes drawn from a hash of the input. */
	for (off = 0; off < size; off += used) {
		h = (h ^ data[off]) * 16777619u;
		chunk = 1 + (h >> 24);
		if (chunk > size - off)
			chunk = size - off;
		used = gm_rx_feed(&b, data + off, chunk, &res, &fs);
		FUZZ_ASSERT(used >= 1 && used <= chunk);
		pending_start |= fs;
		if (!res) {
			FUZZ_ASSERT(used == chunk);
			continue;
		}
		FUZZ_ASSERT(i < n_ev);
		FUZZ_ASSERT(res == ev_res[i]);
		if (res > 0)
			FUZZ_ASSERT(gm_crc32c(0, buf_b, res) == ev_crc[i]);
		FUZZ_ASSERT(pending_start);
		pending_start = false;
		i++;
	}
	FUZZ_ASSERT(i == n_ev);
	return 0;
}
