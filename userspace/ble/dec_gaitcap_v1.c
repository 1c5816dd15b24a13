// SPDX-License-Identifier: GPL-2.0
/*
 * The gaitcap vendor profile, data notification version 1: a 14-byte
 * header and 1..INSOLE_MAX_BATCH samples of INSOLE_SAMPLE_SIZE bytes.
 * Sample i carries seq + i and t_us + i * period (both wrap as u32).
 */
#include <errno.h>

#include "ble/att.h"
#include "ble/insole_dec.h"

static int gaitcap_v1_decode(const uint8_t *val, size_t len,
			     struct insole_sample *out, size_t max)
{
	const uint8_t *p;
	uint32_t seq, t_us;
	uint16_t flags, period;
	unsigned int n, i, k;

	if (len < INSOLE_DATA_HDR)
		return -EBADMSG;
	if (val[INSOLE_DATA_OFF_VERSION] != INSOLE_DATA_VERSION)
		return -EPROTONOSUPPORT;
	n = val[INSOLE_DATA_OFF_N];
	if (!n || n > INSOLE_MAX_BATCH ||
	    len != INSOLE_DATA_HDR + (size_t)n * INSOLE_SAMPLE_SIZE)
		return -EBADMSG;
	if (n > max)
		return -ENOSPC;
	flags = ble_get_le16(val + INSOLE_DATA_OFF_FLAGS);
	seq = ble_get_le32(val + INSOLE_DATA_OFF_SEQ);
	t_us = ble_get_le32(val + INSOLE_DATA_OFF_T_US);
	period = ble_get_le16(val + INSOLE_DATA_OFF_PERIOD);
	for (i = 0; i < n; i++) {
		p = val + INSOLE_DATA_HDR + i * INSOLE_SAMPLE_SIZE;
		out[i] = (struct insole_sample){
			.seq = seq + i,
			.t_us = t_us + i * (uint32_t)period,
			.has_seq = true,
			.has_clock = true,
			.has_imu = true,
			.flags = flags,
			.n_cells = INSOLE_CELLS,
		};
		for (k = 0; k < INSOLE_CELLS; k++)
			out[i].cell[k] = ble_get_le16(p + 2 * k);
		p += 2 * INSOLE_CELLS;
		for (k = 0; k < 3; k++) {
			out[i].acc[k] = (int16_t)ble_get_le16(p + 2 * k);
			out[i].gyro[k] = (int16_t)ble_get_le16(p + 6 + 2 * k);
		}
	}
	return n;
}

const struct insole_decoder insole_dec_gaitcap_v1 = {
	.name = "gaitcap-v1",
	.decode = gaitcap_v1_decode,
};
