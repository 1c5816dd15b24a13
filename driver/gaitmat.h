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
#include <linux/export.h>
#include <linux/module.h>
#include <linux/types.h>

#include "gaitmat_proto.h"

/*
 * Symbol namespaces are string literals since Linux 6.13
 * (EXPORT_SYMBOL_NS_GPL(x, "IIO_GAITMAT")); 6.1 and 6.12 stringify an
 * identifier instead. Kbuild probes export.h and defines
 * GAITMAT_NS_STRINGIFIED for the older form.
 */
#ifdef GAITMAT_NS_STRINGIFIED
#define GAITMAT_NS		IIO_GAITMAT
#define GAITMAT_KUNIT_NS	EXPORTED_FOR_KUNIT_TESTING
#else
#define GAITMAT_NS		"IIO_GAITMAT"
#define GAITMAT_KUNIT_NS	"EXPORTED_FOR_KUNIT_TESTING"
#endif

/*
 * Test-only exports (EXPORT_SYMBOL_IF_KUNIT): kunit/visibility.h is in
 * every kernel this driver builds for (since 6.1); without CONFIG_KUNIT,
 * as in Debian's kernels, the helpers are not exported at all.
 */
#include <kunit/visibility.h>

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
void gaitmat_core_start(struct gaitmat *gm);
void gaitmat_core_receive(struct gaitmat *gm, const u8 *data, size_t len);

/* ---- Scan layout --------------------------------------------------------- */

/*
 * One scan is one frame: the sensels of every row of every tile in
 * elements of GAITMAT_CHUNK u16 values (32 bytes, the last of a row padded
 * with zeros), then the per-frame channels and the IIO timestamp, 32 bytes
 * together. Every element is a power of two in size and naturally aligned,
 * and the per-frame block is as large as a row element, so the kernel's
 * padded scan size equals libiio 0.24's unpadded sample size and the
 * timestamp is the last 8 bytes for both (docs/driver.md says which
 * selections keep that true). Per-tile summaries (sums, peaks, loaded
 * sensels, centre of pressure) are computed from the rows by userspace.
 */
#define GAITMAT_CHUNK		16	/* sensels per row element */
#define GAITMAT_ROW_ELEM_BYTES	(GAITMAT_CHUNK * 2)

/* Scan flags (struct gaitmat_scan_meta.flags); bits 0-7 are hdr.flags. */
#define GAITMAT_SCAN_F_WIRE	GENMASK(7, 0)	/* GM_F_* from the frame */
#define GAITMAT_SCAN_F_SPARSE	BIT(8)		/* sent as a SPARSE frame */
#define GAITMAT_SCAN_F_GAP	BIT(9)		/* scans missing before it */

/* The per-frame block as it sits in a full scan, little-endian. */
struct gaitmat_scan_meta {
	__le64 seq;		/* frame sequence number, extended to 64 bits */
	__le64 clock_us;	/* controller clock at the scan */
	__le32 flags;		/* GAITMAT_SCAN_F_* */
	__le32 missing;		/* sequence numbers skipped before this scan */
	__le64 timestamp;	/* written by the IIO core */
};

#define GAITMAT_META_BYTES	sizeof(struct gaitmat_scan_meta)

/* Scan elements after the rows, in scan order (see gaitmat_scan_meta). */
enum gaitmat_meta_elem {
	GAITMAT_M_SEQ,
	GAITMAT_M_CLOCK,
	GAITMAT_M_FLAGS,
	GAITMAT_M_MISSING,
	GAITMAT_M_NUM,
};

struct gaitmat_layout {
	unsigned int n_tiles;
	unsigned int rows;
	unsigned int cols;
	unsigned int chunks;		/* row elements per row */
	unsigned int n_row_chans;	/* n_tiles * rows * chunks */
	unsigned int n_elems;		/* row elements + meta + timestamp */
	unsigned int meta_offset;	/* byte offset of the meta block */
	unsigned int scan_bytes;	/* whole scan, timestamp included */
};

/*
 * Pure helpers, exported only for KUnit (EXPORT_SYMBOL_IF_KUNIT) so that
 * it can test them table-driven; none of them touches a device.
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
struct iio_dev;
int gaitmat_counter_read(struct iio_dev *indio_dev, const char *name,
			 u64 *val);
int gaitmat_seq_advance(u64 *seq64, bool *valid, u32 seq, u32 *missing);
void gaitmat_fill_scan(const struct gaitmat_layout *l, const u16 *sensels,
		       void *scan);

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
