/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The insole GATT profiles gaitcap speaks, as constants and byte offsets.
 * The gaitcap profile (a 128-bit vendor service) and the commodity "FFF0"
 * insole. docs/protocols/insole-gatt.md describes both byte by byte; this
 * header is the single source the client, the decoders and the simulator
 * share. All multi-byte fields are little-endian, as ATT is.
 */
#ifndef INSOLE_GATT_H
#define INSOLE_GATT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 5a7eXXXX-6761-6974-6361-70696e736f6c, in ATT's little-endian byte order. */
#define INSOLE_UUID128(x) { 0x6c, 0x6f, 0x73, 0x6e, 0x69, 0x70, 0x61, 0x63, \
			    0x74, 0x69, 0x61, 0x67, (x) & 0xff, (x) >> 8, \
			    0x7e, 0x5a }
#define INSOLE_SVC		0x0001	/* primary service */
#define INSOLE_CHR_DATA		0x0002	/* notify: sample batches */
#define INSOLE_CHR_CONTROL	0x0003	/* write + indicate: control point */
#define INSOLE_CHR_INFO		0x0004	/* read: the device description */

/* Data notification: a header, then n samples. */
#define INSOLE_DATA_VERSION	1
#define INSOLE_DATA_HDR		14
#define INSOLE_DATA_OFF_VERSION	0	/* u8 */
#define INSOLE_DATA_OFF_N	1	/* u8: samples in this notification */
#define INSOLE_DATA_OFF_FLAGS	2	/* u16 */
#define INSOLE_DATA_OFF_SEQ	4	/* u32: counter of the first sample */
#define INSOLE_DATA_OFF_T_US	8	/* u32: insole clock at the first sample */
#define INSOLE_DATA_OFF_PERIOD	12	/* u16: us between samples, insole clock */
#define INSOLE_CELLS		16
/* Per sample: 16 x u16 cell codes, then accel and gyro as 3 x s16 each. */
#define INSOLE_SAMPLE_SIZE	(INSOLE_CELLS * 2 + 12)
#define INSOLE_MAX_BATCH	5	/* fits ATT_MTU 247 */
#define INSOLE_DATA_F_SATURATED	0x0001	/* a cell of the batch at full scale */
#define INSOLE_DATA_F_RESTART	0x0002	/* first batch after START */

/* Control point requests (write) and their answers (indication). */
#define INSOLE_CP_START		0x01
#define INSOLE_CP_STOP		0x02
#define INSOLE_CP_SET_RATE	0x03	/* u16 Hz */
#define INSOLE_CP_CLOCK_SYNC	0x04	/* u32 token */
#define INSOLE_CP_RESPONSE	0x80	/* u8 request opcode, u8 status, ... */
/* CLOCK_SYNC answer: 0x80 0x04 status, u32 token, u32 insole clock (us). */
#define INSOLE_CP_OK		0x00
#define INSOLE_CP_UNSUPPORTED	0x01
#define INSOLE_CP_INVALID	0x02
#define INSOLE_CP_BUSY		0x03

/*
 * Device description (read, longer than one MTU: Read Blob):
 * u8 version, u8 side (0 left, 1 right), u8 n_cells, u8 imu bits
 * (1 accel, 2 gyro), u16 rate_hz, u16 max_batch, u16 full_scale_code,
 * u16 reserved, f32 kpa_per_code, f32 g_per_code, f32 dps_per_code,
 * then per cell: s16 x_mm (medial +), s16 y_mm (from the heel to the toe),
 * u16 area_mm2.
 */
#define INSOLE_INFO_VERSION	1
#define INSOLE_INFO_HDR		24
#define INSOLE_INFO_CELL	6

/* The commodity insole: 16-bit service 0xFFF0. */
#define FFF0_SVC		0xfff0
#define FFF0_CHR_NOTIFY		0xfff1	/* 0x55, u8 n_cells, n_cells x u16 */
#define FFF0_CHR_WRITE		0xfff2	/* 0x01 start, 0x00 stop */
#define FFF0_MAGIC		0x55
#define FFF0_CMD_START		0x01
#define FFF0_CMD_STOP		0x00

/* Standard services read when present. */
#define GATT_SVC_DEVICE_INFO	0x180a
#define GATT_SVC_BATTERY	0x180f
#define GATT_SVC_RSC		0x1814
#define GATT_CHR_BATTERY_LEVEL	0x2a19
#define GATT_CHR_MODEL_NUMBER	0x2a24
#define GATT_CHR_SERIAL_NUMBER	0x2a25
#define GATT_CHR_FIRMWARE_REV	0x2a26
#define GATT_CHR_MANUFACTURER	0x2a29
#define GATT_CHR_RSC_MEASURE	0x2a53

/*
 * What a decoder makes of one notification value: up to INSOLE_MAX_BATCH
 * samples in device units. Models without a counter or a clock leave
 * has_seq / has_clock false; the reader then works from arrival times.
 */
#define INSOLE_MAX_CELLS	32
struct insole_sample {
	uint32_t seq;
	uint32_t t_us;
	bool has_seq, has_clock, has_imu;
	uint16_t flags;
	uint16_t n_cells;
	uint16_t cell[INSOLE_MAX_CELLS];
	int16_t acc[3], gyro[3];
};

/* A vendor decoder: one per insole model, one file each (docs). */
struct insole_decoder {
	const char *name;		/* "gaitcap-v1", "fff0" */
	/* Decode the value of one notification; returns samples or -errno. */
	int (*decode)(const uint8_t *val, size_t len,
		      struct insole_sample *out, size_t max);
};

const struct insole_decoder *insole_decoder_find(const char *name);

#endif /* INSOLE_GATT_H */
