/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * gaitmat wire protocol: constants, frame layouts and the pure codec.
 *
 * docs/protocols/gaitmat-uart.md is the normative description; this header
 * mirrors it. The codec (gaitmat_proto.c) has no kernel or libc dependency
 * beyond fixed-width integers and memset/memcpy, so the same file builds into
 * the kernel driver, KUnit, the userspace emulator, its tests and the fuzzers.
 *
 * Every function returns a length (>= 0) or a negative GM_E* code; none of
 * them allocates memory.
 */
#ifndef GAITMAT_PROTO_H
#define GAITMAT_PROTO_H

#ifdef __KERNEL__
#include <linux/string.h>
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
#endif

/* ---- Framing ---------------------------------------------------------- */

/*
 * On the wire every frame is COBS(raw frame) followed by one 0x00 byte.
 * A raw frame is a 16-byte header, a body of hdr.body_len bytes and a
 * CRC-32C (Castagnoli, reflected, init 0xffffffff, final xor 0xffffffff)
 * over header and body, little-endian.
 */
#define GM_DELIM		0x00
#define GM_HDR_LEN		16
#define GM_CRC_LEN		4
#define GM_PROTO_VERSION	1

/* Geometry limits of protocol version 1. */
#define GM_MAX_TILES		8
#define GM_MAX_ROWS		64
#define GM_MAX_COLS		64
#define GM_SENSEL_BITS		12
#define GM_SENSEL_MAX		((1u << GM_SENSEL_BITS) - 1)
#define GM_MAX_RATES		8
#define GM_SERIAL_LEN		16

/* Bytes of n 12-bit values packed two per three bytes (last nibble 0). */
#define GM_PACKED_LEN(n)	(((n) * 3 + 1) / 2)
#define GM_TILE_MAX_SENSELS	(GM_MAX_ROWS * GM_MAX_COLS)
#define GM_MAX_SENSELS		(GM_MAX_TILES * GM_TILE_MAX_SENSELS)

/* Largest body: a dense frame of 8 full tiles (4 + 8 * 6144 bytes). */
#define GM_DENSE_HDR_LEN	4
#define GM_MAX_BODY		(GM_DENSE_HDR_LEN + \
				 GM_MAX_TILES * GM_PACKED_LEN(GM_TILE_MAX_SENSELS))
#define GM_MAX_RAW		(GM_HDR_LEN + GM_MAX_BODY + GM_CRC_LEN)
/* COBS adds one byte per 254 and the delimiter adds one. */
#define GM_MAX_WIRE		(GM_MAX_RAW + GM_MAX_RAW / 254 + 2)

/* Frame types. Controller to host: */
#define GM_T_DEVINFO		0x01
#define GM_T_CALIB		0x02
#define GM_T_DENSE		0x03
#define GM_T_SPARSE		0x04
#define GM_T_STATUS		0x05
#define GM_T_ACK		0x06
/* Host to controller (bit 7 set): */
#define GM_T_CMD_START		0x81
#define GM_T_CMD_STOP		0x82
#define GM_T_CMD_SET_RATE	0x83
#define GM_T_CMD_ZERO		0x84
#define GM_T_CMD_GET_INFO	0x85

/* hdr.flags of DENSE/SPARSE frames. */
#define GM_F_OVERFLOW		0x01	/* scans dropped since last data frame */
#define GM_F_ZEROED		0x02	/* first frame after a zeroing */
#define GM_F_SATURATED		0x04	/* a sensel reads GM_SENSEL_MAX */

/* Codec error codes (returned negated). */
enum gm_err {
	GM_EOK = 0,
	GM_ECOBS,	/* invalid COBS code sequence (0x00 inside a block) */
	GM_ETOOLONG,	/* frame longer than the receive buffer */
	GM_ESHORT,	/* fewer bytes than a header and a CRC */
	GM_ECRC,	/* CRC mismatch */
	GM_ELEN,	/* hdr.body_len disagrees with the frame's length */
	GM_ETYPE,	/* unknown frame type */
	GM_EBODY,	/* body malformed for its type (size, field range) */
	GM_EGEOM,	/* geometry out of the protocol's limits */
	GM_ERUN,	/* sparse run out of bounds, empty, unordered or overlapping */
	GM_ENOSPC,	/* output buffer too small */
	GM_EMAX
};

/* Human-readable name of a GM_E* code (positive or negative). */
const char *gm_strerror(int err);

/* ---- Header ------------------------------------------------------------ */

struct gm_hdr {
	u8 type;
	u8 flags;
	u16 body_len;
	u32 seq;	/* scan sequence number, see the protocol doc */
	u64 clock_us;	/* controller clock, microseconds since its boot */
};

/* ---- Frame bodies (decoded, host-endian) -------------------------------- */

struct gm_tile {
	s16 x_mm;	/* walkway position of the tile's sensel (0,0) corner */
	s16 y_mm;
	u8 orient;	/* rotation, multiples of 90 degrees (0..3) */
	u8 flags;	/* GM_TILE_F_* */
};

#define GM_TILE_F_CALIB		0x01	/* a CALIB frame follows for this tile */

#define GM_DEVINFO_FIXED_LEN	56
#define GM_DEVINFO_TILE_LEN	8

struct gm_devinfo {
	char serial[GM_SERIAL_LEN + 1];	/* NUL-terminated */
	u8 fw_major;
	u8 fw_minor;
	u16 fw_patch;
	u32 boot_id;		/* random per controller boot */
	u8 n_tiles;		/* 1..GM_MAX_TILES */
	u8 rows;		/* 1..GM_MAX_ROWS */
	u8 cols;		/* 1..GM_MAX_COLS */
	u8 sensel_bits;		/* GM_SENSEL_BITS */
	u16 pitch_um;
	u16 full_scale_kpa;	/* pressure at GM_SENSEL_MAX */
	u16 rate_hz;		/* current scan rate */
	u8 n_rates;		/* 1..GM_MAX_RATES */
	u16 rates[GM_MAX_RATES];	/* available rates, ascending */
	u32 baud;		/* link rate the controller runs at */
	struct gm_tile tiles[GM_MAX_TILES];
};

#define GM_CALIB_HDR_LEN	4
#define GM_CALIB_FMT_Q4_12	0	/* u16 gains, 4096 == 1.0 */

struct gm_calib {
	u8 tile;
	u8 format;
	const u8 *gains;	/* rows * cols little-endian u16, in the body */
	u16 n_gains;
};

#define GM_STATUS_LEN		20
#define GM_STATE_IDLE		0
#define GM_STATE_STREAMING	1
#define GM_STATE_ERROR		2

/* error_flags of a STATUS frame. */
#define GM_ERRF_SENSOR		0x01
#define GM_ERRF_OVERTEMP	0x02
#define GM_ERRF_LINK_BUDGET	0x04	/* scans are being dropped */
#define GM_ERRF_CMD		0x08	/* a host command was rejected */

struct gm_status {
	u8 state;
	u16 rate_hz;
	u32 error_flags;
	u32 scans_dropped;	/* cumulative since boot */
	u32 cmd_errors;		/* cumulative host frames rejected */
	u32 boot_id;
};

#define GM_ACK_LEN		8
#define GM_ACK_OK		0
#define GM_ACK_EINVAL		1
#define GM_ACK_EBUSY		2
#define GM_ACK_EUNKNOWN		3

struct gm_ack {
	u8 cmd;		/* type of the command acknowledged */
	u8 result;	/* GM_ACK_* */
	u32 cmd_seq;	/* hdr.seq of that command */
};

#define GM_SET_RATE_LEN		4
#define GM_SPARSE_HDR_LEN	4
#define GM_RUN_HDR_LEN		4

/* ---- CRC and COBS -------------------------------------------------------- */

/* CRC-32C; start with crc = 0 and chain calls over consecutive buffers. */
u32 gm_crc32c(u32 crc, const void *buf, size_t len);

/*
 * COBS-encode @len bytes into @dst (capacity @cap) and append the 0x00
 * delimiter. Returns the number of bytes written or -GM_ENOSPC.
 */
long gm_cobs_encode(const u8 *src, size_t len, u8 *dst, size_t cap);

/* ---- Streaming receiver ---------------------------------------------------- */

/*
 * Byte-at-a-time COBS decoder and frame checker, as a UART receive_buf needs
 * it. The caller owns @buf (GM_MAX_RAW bytes is always enough). Bytes before
 * the first delimiter after init or an error are discarded (resync).
 */
struct gm_rx {
	u8 *buf;
	u32 cap;
	u32 len;	/* decoded bytes of the current frame */
	u8 code;	/* current COBS code byte */
	u8 left;	/* bytes left in the current COBS block */
	bool started;	/* a byte of the current frame has been seen */
	bool discard;	/* skipping to the next delimiter */
	bool synced;	/* a delimiter has been seen since init */
};

void gm_rx_init(struct gm_rx *rx, u8 *buf, u32 cap);

/*
 * Consume bytes from @data until a frame ends or @len bytes are used.
 * Returns the number of bytes consumed. *@result is set to:
 *   0      no frame ended within the consumed bytes;
 *   > 0    a frame of that many raw bytes, CRC and length checked, is in
 *          rx->buf (valid until the next call);
 *   < 0    -GM_E* : a frame ended and was rejected.
 * *@frame_start is set to true when the consumed bytes began a new frame
 * (the first byte after a delimiter), so the caller can stamp it.
 * Empty frames (two delimiters in a row) are ignored silently.
 */
size_t gm_rx_feed(struct gm_rx *rx, const u8 *data, size_t len, int *result,
		  bool *frame_start);

/* ---- Frame parsing ------------------------------------------------------------ */

/* Parse the header of a checked raw frame of @len bytes. */
int gm_parse_hdr(const u8 *frame, size_t len, struct gm_hdr *hdr);

static inline const u8 *gm_body(const u8 *frame)
{
	return frame + GM_HDR_LEN;
}

int gm_parse_devinfo(const u8 *body, size_t len, struct gm_devinfo *di);
int gm_parse_calib(const struct gm_devinfo *di, const u8 *body, size_t len,
		   struct gm_calib *cal);
int gm_parse_status(const u8 *body, size_t len, struct gm_status *st);
/*
 * Whether two announcements describe the same device: every field but the
 * current rate (rate_hz), which may change without new channels.
 */
bool gm_devinfo_same(const struct gm_devinfo *a, const struct gm_devinfo *b);
/* Whether @rate_hz is one of the rates @di announced. */
bool gm_devinfo_has_rate(const struct gm_devinfo *di, u16 rate_hz);
int gm_parse_ack(const u8 *body, size_t len, struct gm_ack *ack);
int gm_parse_set_rate(const u8 *body, size_t len, u16 *rate_hz);

/*
 * Decode a DENSE or SPARSE body into @out: n_tiles * rows * cols values,
 * tile-major, then row-major (out[(t * rows + r) * cols + c]). Sparse frames
 * zero every sensel not in a run. Returns the number of values written.
 */
int gm_decode_dense(const struct gm_devinfo *di, const u8 *body, size_t len,
		    u16 *out, size_t out_cap);
int gm_decode_sparse(const struct gm_devinfo *di, const u8 *body, size_t len,
		     u16 *out, size_t out_cap);

/* ---- Frame building (emulator, host commands, tests) --------------------------- */

/*
 * Build a raw frame (header + @body + CRC) into @out. @body may alias
 * gm_body(out) when the body was encoded in place. Returns the raw length.
 */
long gm_build_frame(u8 *out, size_t cap, const struct gm_hdr *hdr,
		    const u8 *body);

long gm_encode_devinfo(const struct gm_devinfo *di, u8 *body, size_t cap);
long gm_encode_calib(const struct gm_devinfo *di, u8 tile, const u16 *gains,
		     u8 *body, size_t cap);
long gm_encode_status(const struct gm_status *st, u8 *body, size_t cap);
long gm_encode_ack(const struct gm_ack *ack, u8 *body, size_t cap);
long gm_encode_set_rate(u16 rate_hz, u8 *body, size_t cap);
long gm_encode_dense(const struct gm_devinfo *di, const u16 *sensels,
		     u8 *body, size_t cap);
/* Sparse: one run per maximal horizontal stretch of non-zero sensels. */
long gm_encode_sparse(const struct gm_devinfo *di, const u16 *sensels,
		      u8 *body, size_t cap);

/* Little-endian helpers shared by codec users. */
static inline u16 gm_get_le16(const u8 *p)
{
	return (u16)(p[0] | (p[1] << 8));
}

static inline u32 gm_get_le32(const u8 *p)
{
	return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) |
	       ((u32)p[3] << 24);
}

static inline u64 gm_get_le64(const u8 *p)
{
	return (u64)gm_get_le32(p) | ((u64)gm_get_le32(p + 4) << 32);
}

static inline void gm_put_le16(u8 *p, u16 v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static inline void gm_put_le32(u8 *p, u32 v)
{
	gm_put_le16(p, v & 0xffff);
	gm_put_le16(p + 2, v >> 16);
}

static inline void gm_put_le64(u8 *p, u64 v)
{
	gm_put_le32(p, (u32)v);
	gm_put_le32(p + 4, (u32)(v >> 32));
}

#endif /* GAITMAT_PROTO_H */
