/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Insole decoders (one file per model, listed in dec_registry.c) and the
 * gaitcap profile's device description (INSOLE_CHR_INFO), as
 * docs/protocols/insole-gatt.md lays them out.
 */
#ifndef BLE_INSOLE_DEC_H
#define BLE_INSOLE_DEC_H

#include "ble/insole_gatt.h"

struct insole_cell {
	int16_t x_mm;		/* medial + */
	int16_t y_mm;		/* from the heel to the toe */
	uint16_t area_mm2;
};

struct insole_desc {
	uint8_t version;
	uint8_t side;		/* 0 left, 1 right */
	uint8_t n_cells;
	uint8_t imu;		/* 1 accel, 2 gyro */
	uint16_t rate_hz, max_batch, full_scale;
	float kpa_per_code, g_per_code, dps_per_code;
	struct insole_cell cell[INSOLE_MAX_CELLS];
};

#define INSOLE_DESC_IMU_ACCEL	0x01
#define INSOLE_DESC_IMU_GYRO	0x02

/*
 * Parse a device description value. 0, or -EBADMSG (length or a field out
 * of range), -EPROTONOSUPPORT (a version this code does not know).
 */
int insole_desc_parse(const uint8_t *val, size_t len, struct insole_desc *d);

/* The registry behind insole_decoder_find(), NULL-terminated. */
extern const struct insole_decoder *const insole_decoders[];
extern const struct insole_decoder insole_dec_gaitcap_v1;
extern const struct insole_decoder insole_dec_fff0;

#endif /* BLE_INSOLE_DEC_H */
