/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * gaitmat: IIO driver core for the gaitcap pressure-sensing gait mat.
 *
 * The core owns everything that does not depend on how bytes travel: the
 * wire decoder, the device life cycle (an announced controller gets an IIO
 * device, a lost one loses it), the scan layout, sysfs and the counters.
 * A transport (gaitmat_serdev.c for the UART, gaitmat_virt.c for a
 * controller played from userspace) only binds to its bus, feeds received
 * bytes to gaitmat_core_receive() and carries the core's commands back.
 *
 * docs/driver.md describes the ABI; docs/protocols/gaitmat-uart.md the wire.
 */
#ifndef GAITMAT_H
#define GAITMAT_H

#include <linux/bitmap.h>
#include <linux/types.h>

#include "gaitmat_proto.h"

struct device;
struct gaitmat;

/**
 * struct gaitmat_transport_ops - what the core needs from a transport
 * @write: send @len bytes to the controller. Called in process context with
 *	   the core's command lock held, so calls never overlap; may sleep
 *	   briefly but must not wait for the controller. Returns the number of
 *	   bytes taken (less than @len means the rest was dropped) or -errno.
 */
struct gaitmat_transport_ops {
	ssize_t (*write)(void *priv, const u8 *buf, size_t len);
};

struct gaitmat *devm_gaitmat_core_probe(struct device *dev,
					const struct gaitmat_transport_ops *ops,
					void *priv);
int gaitmat_core_start(struct gaitmat *gm);
void gaitmat_core_receive(struct gaitmat *gm, const u8 *data, size_t len);

/*
 * Re-registration back-off: a registration less than GAITMAT_REREG_QUIET_MS
 * after the previous one is allowed at once the first time, then waits a
 * hold-off that doubles from GAITMAT_HOLDOFF_MIN_MS to GAITMAT_HOLDOFF_MAX_MS.
 */
#define GAITMAT_REREG_QUIET_MS	10000
#define GAITMAT_HOLDOFF_MIN_MS	250
#define GAITMAT_HOLDOFF_MAX_MS	2000

/* ---- Scan layout --------------------------------------------------------- */

/*
 * One scan is one frame: a pressure channel per row of every tile, then
 * GAITMAT_META_BYTES of per-frame channels ending with the IIO timestamp.
 * Every element is a power of two in size and naturally aligned, and the
 * meta block ends on a multiple of the largest element, so the kernel's
 * padded scan size equals libiio 0.24's unpadded sample size and the
 * timestamp is the last 8 bytes for both.
 */
#define GAITMAT_META_TILES	8	/* per-tile arrays, = GM_MAX_TILES */
#define GAITMAT_META_BYTES	128
#define GAITMAT_ROW_MIN_REPEAT	16	/* rows are at least 32 bytes */
#define GAITMAT_COP_NONE	0xffff	/* centre of pressure of an empty tile */

/* Scan flags (struct gaitmat_scan_meta.flags); bits 0-7 are hdr.flags. */
#define GAITMAT_SCAN_F_WIRE	GENMASK(7, 0)	/* GM_F_* from the frame */
#define GAITMAT_SCAN_F_SPARSE	BIT(8)		/* sent as a SPARSE frame */
#define GAITMAT_SCAN_F_GAP	BIT(9)		/* scans missing before it */

/* The meta block as it sits in a scan, little-endian like the rows. */
struct gaitmat_scan_meta {
	__le64 seq;		/* frame sequence number, extended to 64 bits */
	__le64 clock_us;	/* controller clock at the scan */
	__le16 loaded[GAITMAT_META_TILES];	/* sensels above zero, per tile */
	__le32 load[GAITMAT_META_TILES];	/* sum of sensel codes, per tile */
	__le16 cop[2 * GAITMAT_META_TILES];	/* centre of pressure x, y */
	__le16 peak[GAITMAT_META_TILES];	/* largest sensel code, per tile */
	__le32 flags;		/* GAITMAT_SCAN_F_* */
	__le32 missing;		/* sequence numbers skipped before this scan */
	__le64 timestamp;	/* written by the IIO core */
};

/* Scan elements after the rows, in scan order (see gaitmat_scan_meta). */
enum gaitmat_meta_elem {
	GAITMAT_M_SEQ,
	GAITMAT_M_CLOCK,
	GAITMAT_M_LOADED,
	GAITMAT_M_LOAD,
	GAITMAT_M_COP,
	GAITMAT_M_PEAK,
	GAITMAT_M_FLAGS,
	GAITMAT_M_MISSING,
	GAITMAT_M_NUM,
};

struct gaitmat_layout {
	unsigned int n_tiles;
	unsigned int rows;
	unsigned int cols;
	unsigned int repeat;		/* u16 values per row channel */
	unsigned int n_row_chans;	/* n_tiles * rows */
	unsigned int n_elems;		/* rows + meta + timestamp */
	unsigned int meta_offset;	/* byte offset of the meta block */
	unsigned int scan_bytes;	/* whole scan, timestamp included */
};

/*
 * Pure helpers, exported in the GAITMAT namespace so that KUnit can test
 * them table-driven; none of them touches a device.
 */
int gaitmat_layout_init(struct gaitmat_layout *l, unsigned int n_tiles,
			unsigned int rows, unsigned int cols);
unsigned int gaitmat_elem_bytes(const struct gaitmat_layout *l,
				unsigned int elem);
void gaitmat_scan_sizes(const struct gaitmat_layout *l,
			const unsigned long *mask, bool timestamp,
			unsigned int *kernel, unsigned int *libiio);
unsigned int gaitmat_pack_scan(const struct gaitmat_layout *l,
			       const unsigned long *mask, void *scan);
unsigned int gaitmat_default_length(unsigned int bytes_per_datum);
int gaitmat_seq_advance(u64 *seq64, bool *valid, u32 seq, u32 *missing);
void gaitmat_fill_scan(const struct gaitmat_layout *l, const u16 *sensels,
		       void *scan);
void gaitmat_tile_stats(const struct gaitmat_layout *l, const u16 *sensels,
			struct gaitmat_scan_meta *m);

/*
 * gaitmat_buf.c: the chardev buffer, a ring of whole scans in kvmalloc()ed
 * memory of exactly length * scan bytes, up to GAITMAT_BUF_MAX_BYTES (IIO's
 * kfifo stops at one kmalloc, 4 MiB).
 */
#define GAITMAT_BUF_MAX_BYTES	(64U << 20)

struct iio_buffer;

struct iio_buffer *gaitmat_buf_alloc(unsigned int length);
bool gaitmat_buf_fits(unsigned int length, unsigned int bytes_per_datum);
unsigned int gaitmat_buf_peek(struct iio_buffer *buffer, unsigned int max,
			      const void **scans);
void gaitmat_buf_consume(struct iio_buffer *buffer, unsigned int n);

#endif /* GAITMAT_H */
