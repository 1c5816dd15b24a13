// SPDX-License-Identifier: GPL-2.0
/*
 * The commodity "FFF0" insole: 0x55, u8 n_cells, n_cells x u16, one sample
 * per notification, no counter, no clock, no IMU. Loss and jitter can only
 * be estimated from arrival times (docs/protocols/insole-gatt.md).
 */
#include <errno.h>

#include "ble/att.h"
#include "ble/insole_dec.h"

static int fff0_decode(const uint8_t *val, size_t len,
		       struct insole_sample *out, size_t max)
{
	unsigned int n, k;

	if (len < 2 || val[0] != FFF0_MAGIC)
		return -EBADMSG;
	n = val[1];
	if (!n || n > INSOLE_MAX_CELLS || len != 2 + 2 * (size_t)n)
		return -EBADMSG;
	if (!max)
		return -ENOSPC;
	*out = (struct insole_sample){ .n_cells = (uint16_t)n };
	for (k = 0; k < n; k++)
		out->cell[k] = ble_get_le16(val + 2 + 2 * k);
	return 1;
}

const struct insole_decoder insole_dec_fff0 = {
	.name = "fff0",
	.decode = fff0_decode,
};
