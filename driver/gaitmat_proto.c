// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * gaitmat wire protocol codec: CRC-32C, COBS, the streaming receiver, and
 * the parsers and encoders of every frame body.
 *
 * docs/protocols/gaitmat-uart.md is the normative description. This file
 * is shared by the kernel driver, KUnit, the userspace emulator, the unit
 * tests and the fuzzers, so it uses nothing but fixed-width integers and
 * memset/memcpy, no floating point and only small stack frames.
 *
 * Parsers are strict: every length is checked against the exact size its
 * type implies, every field with a defined range is range-checked, and the
 * encoders refuse whatever the parsers would reject, so a frame built here
 * always parses back to the same values.
 */
#include "gaitmat_proto.h"

/* ---- Error names --------------------------------------------------------- */

static const char *const gm_err_names[GM_EMAX] = {
	[GM_EOK] = "ok",
	[GM_ECOBS] = "invalid COBS block",
	[GM_ETOOLONG] = "frame too long",
	[GM_ESHORT] = "frame too short",
	[GM_ECRC] = "CRC mismatch",
	[GM_ELEN] = "body length mismatch",
	[GM_ETYPE] = "unknown frame type",
	[GM_EBODY] = "malformed body",
	[GM_EGEOM] = "geometry out of limits",
	[GM_ERUN] = "invalid sparse run",
	[GM_ENOSPC] = "output buffer too small",
};

const char *gm_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= GM_EMAX)
		return "unknown error";
	return gm_err_names[err];
}

/* ---- CRC-32C ------------------------------------------------------------- */

/*
 * Reflected Castagnoli polynomial 0x82f63b78; entry i is the CRC register
 * after shifting the byte i through it eight times.
 */
static const u32 gm_crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4,
	0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
	0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
	0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b,
	0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54,
	0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
	0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
	0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5,
	0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45,
	0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
	0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
	0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48,
	0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687,
	0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
	0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
	0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8,
	0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096,
	0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
	0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
	0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9,
	0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36,
	0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
	0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
	0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043,
	0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3,
	0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
	0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
	0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652,
	0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d,
	0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
	0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
	0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2,
	0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530,
	0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
	0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
	0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f,
	0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90,
	0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
	0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
	0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321,
	0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81,
	0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
	0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

u32 gm_crc32c(u32 crc, const void *buf, size_t len)
{
	const u8 *p = buf;

	/* Pre- and post-inversion inside, so that calls chain from 0. */
	crc = ~crc;
	while (len--)
		crc = gm_crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- COBS ---------------------------------------------------------------- */

/*
 * Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999): the frame with
 * a phantom 0x00 appended is cut after every zero and after every run of 254
 * non-zero bytes; each block becomes a code byte (its non-zero byte count
 * + 1) and those bytes. Blocks of code 0xff stand for no zero. The encoding
 * never contains 0x00, so the delimiter can end the frame. As is usual, a
 * frame ending in a full block is not followed by an empty (0x01) block;
 * receivers accept one anyway.
 */
long gm_cobs_encode(const u8 *src, size_t len, u8 *dst, size_t cap)
{
	size_t code_pos = 0;
	size_t out = 1;
	u8 code = 1;
	size_t i;

	if (cap < 2)
		return -GM_ENOSPC;
	for (i = 0; i < len; i++) {
		if (src[i]) {
			if (out >= cap)
				return -GM_ENOSPC;
			dst[out++] = src[i];
			code++;
			if (code != 0xff)
				continue;
			if (i + 1 == len)
				break;	/* the phantom zero needs no block */
		}
		/* Close the block: at a zero, or after 254 data bytes. */
		dst[code_pos] = code;
		if (out >= cap)
			return -GM_ENOSPC;
		code_pos = out++;
		code = 1;
	}
	dst[code_pos] = code;
	if (out >= cap)
		return -GM_ENOSPC;
	dst[out++] = GM_DELIM;
	return out;
}

/* ---- Raw frame check ----------------------------------------------------- */

static int gm_check_raw(const u8 *frame, size_t len)
{
	u32 crc;

	if (len < GM_HDR_LEN + GM_CRC_LEN)
		return -GM_ESHORT;
	crc = gm_crc32c(0, frame, len - GM_CRC_LEN);
	if (crc != gm_get_le32(frame + len - GM_CRC_LEN))
		return -GM_ECRC;
	if (GM_HDR_LEN + (size_t)gm_get_le16(frame + 2) + GM_CRC_LEN != len)
		return -GM_ELEN;
	return 0;
}

/* ---- Streaming receiver -------------------------------------------------- */

static void gm_rx_reset_frame(struct gm_rx *rx)
{
	rx->len = 0;
	rx->code = 0;
	rx->left = 0;
	rx->started = false;
}

void gm_rx_init(struct gm_rx *rx, u8 *buf, u32 cap)
{
	memset(rx, 0, sizeof(*rx));
	rx->buf = buf;
	rx->cap = cap;
	/* The link may come up in the middle of a frame: wait for a delimiter. */
	rx->discard = true;
}

/* A delimiter arrived: returns 0 (nothing to report), a length or -GM_E*. */
static int gm_rx_end_frame(struct gm_rx *rx)
{
	u32 len = rx->len;
	bool started = rx->started;
	u8 left = rx->left;
	int ret;

	if (rx->discard) {
		rx->discard = false;
		rx->synced = true;
		gm_rx_reset_frame(rx);
		return 0;
	}
	gm_rx_reset_frame(rx);
	if (!started)
		return 0;	/* empty frame: idle fill or a resync marker */
	if (left)
		return -GM_ECOBS;	/* the block was cut short */
	ret = gm_check_raw(rx->buf, len);
	return ret < 0 ? ret : (int)len;
}

static int gm_rx_put(struct gm_rx *rx, u8 b)
{
	if (rx->len >= rx->cap)
		return -GM_ETOOLONG;
	rx->buf[rx->len++] = b;
	return 0;
}

size_t gm_rx_feed(struct gm_rx *rx, const u8 *data, size_t len, int *result,
		  bool *frame_start)
{
	size_t i;
	int ret;

	*result = 0;
	*frame_start = false;
	for (i = 0; i < len; i++) {
		u8 b = data[i];

		if (b == GM_DELIM) {
			ret = gm_rx_end_frame(rx);
			if (ret) {
				*result = ret;
				return i + 1;
			}
			continue;
		}
		if (rx->discard)
			continue;
		if (!rx->started) {
			/* First code byte: no zero precedes the first block. */
			rx->started = true;
			*frame_start = true;
			rx->code = b;
			rx->left = b - 1;
			continue;
		}
		if (rx->left) {
			ret = gm_rx_put(rx, b);
			rx->left--;
		} else {
			/* A new block: the previous one ended in a zero unless full. */
			ret = rx->code == 0xff ? 0 : gm_rx_put(rx, 0);
			rx->code = b;
			rx->left = b - 1;
		}
		if (ret) {
			/* Report at once; the rest of the frame is skipped. */
			gm_rx_reset_frame(rx);
			rx->discard = true;
			*result = ret;
			return i + 1;
		}
	}
	return len;
}

/* ---- Header -------------------------------------------------------------- */

/* Fixed body length of @type, -1 if its length varies, -2 if unknown. */
static int gm_fixed_body_len(u8 type)
{
	switch (type) {
	case GM_T_STATUS:
		return GM_STATUS_LEN;
	case GM_T_ACK:
		return GM_ACK_LEN;
	case GM_T_CMD_SET_RATE:
		return GM_SET_RATE_LEN;
	case GM_T_CMD_START:
	case GM_T_CMD_STOP:
	case GM_T_CMD_ZERO:
	case GM_T_CMD_GET_INFO:
		return 0;
	case GM_T_DEVINFO:
	case GM_T_CALIB:
	case GM_T_DENSE:
	case GM_T_SPARSE:
		return -1;
	default:
		return -2;
	}
}

int gm_parse_hdr(const u8 *frame, size_t len, struct gm_hdr *hdr)
{
	int fixed;

	if (len < GM_HDR_LEN + GM_CRC_LEN)
		return -GM_ESHORT;
	hdr->type = frame[0];
	hdr->flags = frame[1];
	hdr->body_len = gm_get_le16(frame + 2);
	hdr->seq = gm_get_le32(frame + 4);
	hdr->clock_us = gm_get_le64(frame + 8);
	if (GM_HDR_LEN + (size_t)hdr->body_len + GM_CRC_LEN != len)
		return -GM_ELEN;
	fixed = gm_fixed_body_len(hdr->type);
	if (fixed == -2)
		return -GM_ETYPE;
	if (fixed >= 0 && hdr->body_len != fixed)
		return -GM_EBODY;
	return 0;
}

long gm_build_frame(u8 *out, size_t cap, const struct gm_hdr *hdr,
		    const u8 *body)
{
	size_t len = GM_HDR_LEN + (size_t)hdr->body_len + GM_CRC_LEN;

	if (hdr->body_len > GM_MAX_BODY)
		return -GM_ETOOLONG;
	if (len > cap)
		return -GM_ENOSPC;
	out[0] = hdr->type;
	out[1] = hdr->flags;
	gm_put_le16(out + 2, hdr->body_len);
	gm_put_le32(out + 4, hdr->seq);
	gm_put_le64(out + 8, hdr->clock_us);
	/* The body may already be in place (encoded into gm_body(out)). */
	if (hdr->body_len && body != out + GM_HDR_LEN)
		memcpy(out + GM_HDR_LEN, body, hdr->body_len);
	gm_put_le32(out + len - GM_CRC_LEN,
		    gm_crc32c(0, out, len - GM_CRC_LEN));
	return len;
}

/* ---- 12-bit packing ------------------------------------------------------ */

/* Pack @n values; fails with -GM_EBODY on a value above GM_SENSEL_MAX. */
static int gm_pack12(const u16 *v, size_t n, u8 *dst)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2, dst += 3) {
		if (v[i] > GM_SENSEL_MAX || v[i + 1] > GM_SENSEL_MAX)
			return -GM_EBODY;
		dst[0] = v[i] & 0xff;
		dst[1] = (v[i] >> 8) | ((v[i + 1] & 0xf) << 4);
		dst[2] = v[i + 1] >> 4;
	}
	if (i < n) {
		if (v[i] > GM_SENSEL_MAX)
			return -GM_EBODY;
		dst[0] = v[i] & 0xff;
		dst[1] = v[i] >> 8;	/* high nibble (the missing value) 0 */
	}
	return 0;
}

/* Unpack @n values; the padding nibble of an odd count must be 0. */
static int gm_unpack12(const u8 *src, size_t n, u16 *v)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2, src += 3) {
		v[i] = src[0] | ((src[1] & 0xf) << 8);
		v[i + 1] = (src[1] >> 4) | (src[2] << 4);
	}
	if (i < n) {
		if (src[1] & 0xf0)
			return -GM_EBODY;
		v[i] = src[0] | ((src[1] & 0xf) << 8);
	}
	return 0;
}

/* ---- DEVINFO ------------------------------------------------------------- */

/* Offsets in the DEVINFO body. */
#define DI_SERIAL	0
#define DI_FW_MAJOR	16
#define DI_FW_MINOR	17
#define DI_FW_PATCH	18
#define DI_BOOT_ID	20
#define DI_N_TILES	24
#define DI_ROWS		25
#define DI_COLS		26
#define DI_SENSEL_BITS	27
#define DI_PITCH	28
#define DI_FULL_SCALE	30
#define DI_RATE		32
#define DI_N_RATES	34
#define DI_VERSION	35
#define DI_RATES	36
#define DI_BAUD		52
#define DI_TILES	GM_DEVINFO_FIXED_LEN

/* Tile record offsets. */
#define TI_X		0
#define TI_Y		2
#define TI_ORIENT	4
#define TI_FLAGS	5

static bool gm_geom_ok(const struct gm_devinfo *di)
{
	return di->n_tiles >= 1 && di->n_tiles <= GM_MAX_TILES &&
	       di->rows >= 1 && di->rows <= GM_MAX_ROWS &&
	       di->cols >= 1 && di->cols <= GM_MAX_COLS;
}

static size_t gm_tile_sensels(const struct gm_devinfo *di)
{
	return (size_t)di->rows * di->cols;
}

/* Everything but the serial number, which the callers check as bytes. */
static int gm_check_devinfo(const struct gm_devinfo *di)
{
	bool rate_listed = false;
	unsigned int i;

	if (!gm_geom_ok(di))
		return -GM_EGEOM;
	if (di->sensel_bits != GM_SENSEL_BITS)
		return -GM_EBODY;
	if (!di->pitch_um || !di->full_scale_kpa || !di->baud)
		return -GM_EBODY;
	if (di->n_rates < 1 || di->n_rates > GM_MAX_RATES)
		return -GM_EBODY;
	for (i = 0; i < GM_MAX_RATES; i++) {
		if (i >= di->n_rates) {
			if (di->rates[i])
				return -GM_EBODY;	/* unused slots are 0 */
			continue;
		}
		if (!di->rates[i] || (i && di->rates[i] <= di->rates[i - 1]))
			return -GM_EBODY;	/* strictly ascending, non-zero */
		if (di->rates[i] == di->rate_hz)
			rate_listed = true;
	}
	if (!rate_listed)
		return -GM_EBODY;
	for (i = 0; i < di->n_tiles; i++)
		if (di->tiles[i].orient > 3)
			return -GM_EBODY;
	return 0;
}

/*
 * Printable ASCII, then NUL padding to the end: the serial ends up in sysfs
 * and in session files, so nothing else is let through.
 */
static int gm_check_serial(const u8 *s, size_t n)
{
	bool pad = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!s[i])
			pad = true;
		else if (pad || s[i] < 0x20 || s[i] > 0x7e)
			return -GM_EBODY;
	}
	return 0;
}

int gm_parse_devinfo(const u8 *body, size_t len, struct gm_devinfo *di)
{
	const u8 *t;
	unsigned int i;
	int ret;

	if (len < GM_DEVINFO_FIXED_LEN)
		return -GM_EBODY;
	memset(di, 0, sizeof(*di));
	ret = gm_check_serial(body + DI_SERIAL, GM_SERIAL_LEN);
	if (ret)
		return ret;
	memcpy(di->serial, body + DI_SERIAL, GM_SERIAL_LEN);
	di->fw_major = body[DI_FW_MAJOR];
	di->fw_minor = body[DI_FW_MINOR];
	di->fw_patch = gm_get_le16(body + DI_FW_PATCH);
	di->boot_id = gm_get_le32(body + DI_BOOT_ID);
	di->n_tiles = body[DI_N_TILES];
	di->rows = body[DI_ROWS];
	di->cols = body[DI_COLS];
	di->sensel_bits = body[DI_SENSEL_BITS];
	di->pitch_um = gm_get_le16(body + DI_PITCH);
	di->full_scale_kpa = gm_get_le16(body + DI_FULL_SCALE);
	di->rate_hz = gm_get_le16(body + DI_RATE);
	di->n_rates = body[DI_N_RATES];
	for (i = 0; i < GM_MAX_RATES; i++)
		di->rates[i] = gm_get_le16(body + DI_RATES + 2 * i);
	di->baud = gm_get_le32(body + DI_BAUD);
	/* A later, incompatible protocol version announces itself here. */
	if (body[DI_VERSION])
		return -GM_EBODY;
	if (!gm_geom_ok(di))
		return -GM_EGEOM;
	if (len != GM_DEVINFO_FIXED_LEN +
		   (size_t)di->n_tiles * GM_DEVINFO_TILE_LEN)
		return -GM_EBODY;
	for (i = 0; i < di->n_tiles; i++) {
		t = body + DI_TILES + i * GM_DEVINFO_TILE_LEN;
		di->tiles[i].x_mm = (s16)gm_get_le16(t + TI_X);
		di->tiles[i].y_mm = (s16)gm_get_le16(t + TI_Y);
		di->tiles[i].orient = t[TI_ORIENT];
		di->tiles[i].flags = t[TI_FLAGS];
	}
	return gm_check_devinfo(di);
}

bool gm_devinfo_has_rate(const struct gm_devinfo *di, u16 rate_hz)
{
	unsigned int i;

	for (i = 0; i < di->n_rates && i < GM_MAX_RATES; i++)
		if (di->rates[i] == rate_hz)
			return true;
	return false;
}

bool gm_devinfo_same(const struct gm_devinfo *a, const struct gm_devinfo *b)
{
	unsigned int i;

	/* Field by field: padding and unused slots say nothing. */
	if (strncmp(a->serial, b->serial, sizeof(a->serial)) ||
	    a->fw_major != b->fw_major || a->fw_minor != b->fw_minor ||
	    a->fw_patch != b->fw_patch || a->boot_id != b->boot_id ||
	    a->n_tiles != b->n_tiles || a->rows != b->rows ||
	    a->cols != b->cols || a->sensel_bits != b->sensel_bits ||
	    a->pitch_um != b->pitch_um ||
	    a->full_scale_kpa != b->full_scale_kpa ||
	    a->n_rates != b->n_rates || a->baud != b->baud ||
	    a->n_tiles > GM_MAX_TILES || a->n_rates > GM_MAX_RATES)
		return false;
	for (i = 0; i < a->n_rates; i++)
		if (a->rates[i] != b->rates[i])
			return false;
	for (i = 0; i < a->n_tiles; i++)
		if (a->tiles[i].x_mm != b->tiles[i].x_mm ||
		    a->tiles[i].y_mm != b->tiles[i].y_mm ||
		    a->tiles[i].orient != b->tiles[i].orient ||
		    a->tiles[i].flags != b->tiles[i].flags)
			return false;
	return true;
}

long gm_encode_devinfo(const struct gm_devinfo *di, u8 *body, size_t cap)
{
	size_t len;
	unsigned int i;
	u8 *t;
	int ret;

	ret = gm_check_devinfo(di);
	if (ret)
		return ret;
	len = GM_DEVINFO_FIXED_LEN + (size_t)di->n_tiles * GM_DEVINFO_TILE_LEN;
	if (len > cap)
		return -GM_ENOSPC;
	memset(body, 0, len);
	for (i = 0; i < GM_SERIAL_LEN && di->serial[i]; i++)
		body[DI_SERIAL + i] = di->serial[i];
	ret = gm_check_serial(body + DI_SERIAL, GM_SERIAL_LEN);
	if (ret)
		return ret;
	body[DI_FW_MAJOR] = di->fw_major;
	body[DI_FW_MINOR] = di->fw_minor;
	gm_put_le16(body + DI_FW_PATCH, di->fw_patch);
	gm_put_le32(body + DI_BOOT_ID, di->boot_id);
	body[DI_N_TILES] = di->n_tiles;
	body[DI_ROWS] = di->rows;
	body[DI_COLS] = di->cols;
	body[DI_SENSEL_BITS] = di->sensel_bits;
	gm_put_le16(body + DI_PITCH, di->pitch_um);
	gm_put_le16(body + DI_FULL_SCALE, di->full_scale_kpa);
	gm_put_le16(body + DI_RATE, di->rate_hz);
	body[DI_N_RATES] = di->n_rates;
	for (i = 0; i < GM_MAX_RATES; i++)
		gm_put_le16(body + DI_RATES + 2 * i, di->rates[i]);
	gm_put_le32(body + DI_BAUD, di->baud);
	for (i = 0; i < di->n_tiles; i++) {
		t = body + DI_TILES + i * GM_DEVINFO_TILE_LEN;
		gm_put_le16(t + TI_X, (u16)di->tiles[i].x_mm);
		gm_put_le16(t + TI_Y, (u16)di->tiles[i].y_mm);
		t[TI_ORIENT] = di->tiles[i].orient;
		t[TI_FLAGS] = di->tiles[i].flags;
	}
	return len;
}

/* ---- CALIB --------------------------------------------------------------- */

int gm_parse_calib(const struct gm_devinfo *di, const u8 *body, size_t len,
		   struct gm_calib *cal)
{
	if (!gm_geom_ok(di))
		return -GM_EGEOM;
	if (len < GM_CALIB_HDR_LEN)
		return -GM_EBODY;
	if (body[0] >= di->n_tiles || body[1] != GM_CALIB_FMT_Q4_12)
		return -GM_EBODY;
	if (len != GM_CALIB_HDR_LEN + 2 * gm_tile_sensels(di))
		return -GM_EBODY;
	cal->tile = body[0];
	cal->format = body[1];
	cal->gains = body + GM_CALIB_HDR_LEN;
	cal->n_gains = gm_tile_sensels(di);
	return 0;
}

long gm_encode_calib(const struct gm_devinfo *di, u8 tile, const u16 *gains,
		     u8 *body, size_t cap)
{
	size_t n, len, i;

	if (!gm_geom_ok(di))
		return -GM_EGEOM;
	if (tile >= di->n_tiles)
		return -GM_EBODY;
	n = gm_tile_sensels(di);
	len = GM_CALIB_HDR_LEN + 2 * n;
	if (len > cap)
		return -GM_ENOSPC;
	body[0] = tile;
	body[1] = GM_CALIB_FMT_Q4_12;
	gm_put_le16(body + 2, 0);
	for (i = 0; i < n; i++)
		gm_put_le16(body + GM_CALIB_HDR_LEN + 2 * i, gains[i]);
	return len;
}

/* ---- STATUS, ACK, SET_RATE ----------------------------------------------- */

int gm_parse_status(const u8 *body, size_t len, struct gm_status *st)
{
	if (len != GM_STATUS_LEN || body[0] > GM_STATE_ERROR)
		return -GM_EBODY;
	st->state = body[0];
	st->rate_hz = gm_get_le16(body + 2);
	st->error_flags = gm_get_le32(body + 4);
	st->scans_dropped = gm_get_le32(body + 8);
	st->cmd_errors = gm_get_le32(body + 12);
	st->boot_id = gm_get_le32(body + 16);
	return 0;
}

long gm_encode_status(const struct gm_status *st, u8 *body, size_t cap)
{
	if (st->state > GM_STATE_ERROR)
		return -GM_EBODY;
	if (cap < GM_STATUS_LEN)
		return -GM_ENOSPC;
	body[0] = st->state;
	body[1] = 0;
	gm_put_le16(body + 2, st->rate_hz);
	gm_put_le32(body + 4, st->error_flags);
	gm_put_le32(body + 8, st->scans_dropped);
	gm_put_le32(body + 12, st->cmd_errors);
	gm_put_le32(body + 16, st->boot_id);
	return GM_STATUS_LEN;
}

int gm_parse_ack(const u8 *body, size_t len, struct gm_ack *ack)
{
	if (len != GM_ACK_LEN || body[1] > GM_ACK_EUNKNOWN)
		return -GM_EBODY;
	ack->cmd = body[0];
	ack->result = body[1];
	ack->cmd_seq = gm_get_le32(body + 4);
	return 0;
}

long gm_encode_ack(const struct gm_ack *ack, u8 *body, size_t cap)
{
	if (ack->result > GM_ACK_EUNKNOWN)
		return -GM_EBODY;
	if (cap < GM_ACK_LEN)
		return -GM_ENOSPC;
	body[0] = ack->cmd;
	body[1] = ack->result;
	gm_put_le16(body + 2, 0);
	gm_put_le32(body + 4, ack->cmd_seq);
	return GM_ACK_LEN;
}

int gm_parse_set_rate(const u8 *body, size_t len, u16 *rate_hz)
{
	if (len != GM_SET_RATE_LEN)
		return -GM_EBODY;
	*rate_hz = gm_get_le16(body);
	return 0;
}

long gm_encode_set_rate(u16 rate_hz, u8 *body, size_t cap)
{
	if (cap < GM_SET_RATE_LEN)
		return -GM_ENOSPC;
	gm_put_le16(body, rate_hz);
	gm_put_le16(body + 2, 0);
	return GM_SET_RATE_LEN;
}

/* ---- DENSE --------------------------------------------------------------- */

int gm_decode_dense(const struct gm_devinfo *di, const u8 *body, size_t len,
		    u16 *out, size_t out_cap)
{
	size_t n, tile_bytes, t;
	int ret;

	if (!gm_geom_ok(di))
		return -GM_EGEOM;
	n = gm_tile_sensels(di);
	tile_bytes = GM_PACKED_LEN(n);
	if (len < GM_DENSE_HDR_LEN)
		return -GM_EBODY;
	if (body[0] != di->n_tiles)
		return -GM_EGEOM;
	if (len != GM_DENSE_HDR_LEN + di->n_tiles * tile_bytes)
		return -GM_EBODY;
	if (out_cap < di->n_tiles * n)
		return -GM_ENOSPC;
	body += GM_DENSE_HDR_LEN;
	for (t = 0; t < di->n_tiles; t++) {
		ret = gm_unpack12(body + t * tile_bytes, n, out + t * n);
		if (ret)
			return ret;
	}
	return di->n_tiles * n;
}

long gm_encode_dense(const struct gm_devinfo *di, const u16 *sensels,
		     u8 *body, size_t cap)
{
	size_t n, tile_bytes, len, t;
	int ret;

	if (!gm_geom_ok(di))
		return -GM_EGEOM;
	n = gm_tile_sensels(di);
	tile_bytes = GM_PACKED_LEN(n);
	len = GM_DENSE_HDR_LEN + di->n_tiles * tile_bytes;
	if (len > cap)
		return -GM_ENOSPC;
	body[0] = di->n_tiles;
	body[1] = 0;
	body[2] = 0;
	body[3] = 0;
	for (t = 0; t < di->n_tiles; t++) {
		ret = gm_pack12(sensels + t * n, n,
				body + GM_DENSE_HDR_LEN + t * tile_bytes);
		if (ret)
			return ret;
	}
	return len;
}

/* ---- SPARSE -------------------------------------------------------------- */

int gm_decode_sparse(const struct gm_devinfo *di, const u8 *body, size_t len,
		     u16 *out, size_t out_cap)
{
	size_t total, pos, next = 0, start, vlen;
	unsigned int n_runs, i;
	u8 tile, row, col, rlen;
	int ret;

	if (!gm_geom_ok(di))
		return -GM_EGEOM;
	total = (size_t)di->n_tiles * gm_tile_sensels(di);
	if (out_cap < total)
		return -GM_ENOSPC;
	if (len < GM_SPARSE_HDR_LEN)
		return -GM_EBODY;
	n_runs = gm_get_le16(body);
	memset(out, 0, total * sizeof(*out));
	pos = GM_SPARSE_HDR_LEN;
	for (i = 0; i < n_runs; i++) {
		if (len - pos < GM_RUN_HDR_LEN)
			return -GM_EBODY;
		tile = body[pos];
		row = body[pos + 1];
		col = body[pos + 2];
		rlen = body[pos + 3];
		pos += GM_RUN_HDR_LEN;
		if (tile >= di->n_tiles || row >= di->rows || !rlen ||
		    col >= di->cols || rlen > di->cols - col)
			return -GM_ERUN;
		/*
		 * Runs never cross a row, so ordering by (tile, row, col) and
		 * not overlapping both mean: each starts at or after the end
		 * of the previous one in the tile-major sensel index.
		 */
		start = ((size_t)tile * di->rows + row) * di->cols + col;
		if (start < next)
			return -GM_ERUN;
		next = start + rlen;
		vlen = GM_PACKED_LEN(rlen);
		if (len - pos < vlen)
			return -GM_EBODY;
		ret = gm_unpack12(body + pos, rlen, out + start);
		if (ret)
			return ret;
		pos += vlen;
	}
	if (pos != len)
		return -GM_EBODY;
	return total;
}

long gm_encode_sparse(const struct gm_devinfo *di, const u16 *sensels,
		      u8 *body, size_t cap)
{
	size_t row_base, pos = GM_SPARSE_HDR_LEN, vlen;
	unsigned int t, r, c, end, n_runs = 0;
	int ret;

	if (!gm_geom_ok(di))
		return -GM_EGEOM;
	/* A body the receiver cannot hold is never worth sending. */
	if (cap > GM_MAX_BODY)
		cap = GM_MAX_BODY;
	if (cap < GM_SPARSE_HDR_LEN)
		return -GM_ENOSPC;
	for (t = 0; t < di->n_tiles; t++) {
		for (r = 0; r < di->rows; r++) {
			row_base = ((size_t)t * di->rows + r) * di->cols;
			for (c = 0; c < di->cols; c = end) {
				if (!sensels[row_base + c]) {
					end = c + 1;
					continue;
				}
				end = c + 1;
				while (end < di->cols && sensels[row_base + end])
					end++;
				vlen = GM_PACKED_LEN(end - c);
				if (cap - pos < GM_RUN_HDR_LEN + vlen)
					return -GM_ENOSPC;
				body[pos] = t;
				body[pos + 1] = r;
				body[pos + 2] = c;
				body[pos + 3] = end - c;
				ret = gm_pack12(sensels + row_base + c, end - c,
						body + pos + GM_RUN_HDR_LEN);
				if (ret)
					return ret;
				pos += GM_RUN_HDR_LEN + vlen;
				n_runs++;
			}
		}
	}
	gm_put_le16(body, n_runs);
	gm_put_le16(body + 2, 0);
	return pos;
}
