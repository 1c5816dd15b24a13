// SPDX-License-Identifier: GPL-2.0
/* The gaitcap profile's device description (INSOLE_CHR_INFO), version 1. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ble/att.h"
#include "ble/insole_dec.h"

static float get_lef32(const uint8_t *p)
{
	uint32_t u = ble_get_le32(p);
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static bool scale_ok(float f)
{
	return isfinite(f) && f > 0;
}

int insole_desc_parse(const uint8_t *val, size_t len, struct insole_desc *d)
{
	const uint8_t *p;
	unsigned int i;

	if (len < INSOLE_INFO_HDR)
		return -EBADMSG;
	memset(d, 0, sizeof(*d));
	d->version = val[0];
	if (d->version != INSOLE_INFO_VERSION)
		return -EPROTONOSUPPORT;
	d->side = val[1];
	d->n_cells = val[2];
	d->imu = val[3];
	d->rate_hz = ble_get_le16(val + 4);
	d->max_batch = ble_get_le16(val + 6);
	d->full_scale = ble_get_le16(val + 8);
	d->kpa_per_code = get_lef32(val + 12);
	d->g_per_code = get_lef32(val + 16);
	d->dps_per_code = get_lef32(val + 20);
	if (d->side > 1 || !d->n_cells || d->n_cells > INSOLE_MAX_CELLS ||
	    d->imu & ~(INSOLE_DESC_IMU_ACCEL | INSOLE_DESC_IMU_GYRO) ||
	    !d->rate_hz || !d->max_batch || !d->full_scale ||
	    !scale_ok(d->kpa_per_code) ||
	    (d->imu & INSOLE_DESC_IMU_ACCEL && !scale_ok(d->g_per_code)) ||
	    (d->imu & INSOLE_DESC_IMU_GYRO && !scale_ok(d->dps_per_code)))
		return -EBADMSG;
	if (len != INSOLE_INFO_HDR + (size_t)d->n_cells * INSOLE_INFO_CELL)
		return -EBADMSG;
	for (i = 0; i < d->n_cells; i++) {
		p = val + INSOLE_INFO_HDR + i * INSOLE_INFO_CELL;
		d->cell[i].x_mm = (int16_t)ble_get_le16(p);
		d->cell[i].y_mm = (int16_t)ble_get_le16(p + 2);
		d->cell[i].area_mm2 = ble_get_le16(p + 4);
	}
	return 0;
}
