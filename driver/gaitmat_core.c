// SPDX-License-Identifier: GPL-2.0-only
/*
 * gaitmat core: decodes the controller's byte stream, gives an announced
 * controller an IIO device with the geometry it reported, takes it away
 * when the controller resets, falls silent or is unplugged, and pushes one
 * scan per frame. Transports (serdev, virtual) feed it bytes.
 *
 * Life cycle: the receive path never sleeps on the IIO core; it records
 * what it saw (an announcement, a reset) and a work item registers or
 * unregisters the IIO device. A watchdog asks an idle controller to
 * identify itself and declares it lost after silence_ms without a frame.
 */
#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>

#include <linux/iio/buffer.h>
#include <linux/iio/buffer_impl.h>
#include <linux/iio/iio.h>
#include <linux/iio/sysfs.h>

#include "gaitmat.h"

#define CREATE_TRACE_POINTS
#include "gaitmat_trace.h"

static unsigned int silence_ms = 2000;
module_param(silence_ms, uint, 0644);
MODULE_PARM_DESC(silence_ms,
		 "A controller that sends no valid frame for this long is gone (ms, >= 200)");

static unsigned int ack_timeout_ms = 500;
module_param(ack_timeout_ms, uint, 0644);
MODULE_PARM_DESC(ack_timeout_ms, "How long a command waits for its ACK (ms)");

/* Default kfifo size when a device appears; userspace may ask for more. */
#define GAITMAT_DEFAULT_BUF_BYTES	SZ_1M
#define GAITMAT_MAX_DEFAULT_LENGTH	1024

/* Largest command frame: a header, a SET_RATE body and the CRC. */
#define GAITMAT_CMD_RAW		(GM_HDR_LEN + GM_SET_RATE_LEN + GM_CRC_LEN)
/* A leading delimiter, COBS overhead of one code byte, the delimiter. */
#define GAITMAT_CMD_WIRE	(GAITMAT_CMD_RAW + 3)

static DEFINE_IDA(gaitmat_ida);

/* Counters in debugfs; zeroed when a controller gets its IIO device. */
enum gaitmat_counter {
	GAITMAT_CNT_FRAMES,		/* passed framing and CRC, any type */
	GAITMAT_CNT_CRC,
	GAITMAT_CNT_RESYNC,
	GAITMAT_CNT_FRAME_ERR,
	GAITMAT_CNT_SEQ_GAP,		/* sequence numbers never seen */
	GAITMAT_CNT_CTRL_DROP,		/* as last reported by the controller */
	GAITMAT_CNT_OVERRUN,		/* scans dropped: the IIO buffer was full */
	GAITMAT_CNT_NUM,
};

/* Device attributes common to every mat (gaitmat_attrs). */
#define GAITMAT_N_ATTRS		8

/* One announced controller: lives in the iio_dev's private area. */
struct gaitmat_mat {
	struct gaitmat *gm;
	struct iio_dev *indio_dev;
	struct gm_devinfo di;		/* rate_hz is updated under rx_lock */
	struct gaitmat_layout layout;
	struct iio_chan_spec *channels;
	int rates[GM_MAX_RATES];
	struct iio_info info;		/* gaitmat_iio_info with attr_group */
	struct attribute_group attr_group;
	struct attribute *attrs[GAITMAT_N_ATTRS + 3 * GM_MAX_TILES + 1];
	struct iio_dev_attr tile_attrs[3 * GM_MAX_TILES];
	char tile_names[3 * GM_MAX_TILES][24];
	/* Protected by gm->rx_lock: */
	unsigned long *scan_mask;	/* what the buffer takes, or NULL */
	bool full_mask;
	bool streaming;
	bool going;			/* being unregistered, see gaitmat_retire() */
	bool seq_valid;
	u64 seq64;
};

struct gaitmat {
	struct device *dev;
	const struct gaitmat_transport_ops *ops;
	void *priv;
	int id;

	/* Serialises creating and destroying IIO devices (the work item). */
	struct mutex lock;
	struct work_struct work;
	struct gm_devinfo work_di;	/* the work's copy of pending_di */
	struct delayed_work watchdog;

	/*
	 * rx_lock protects the receiver and its buffers, the attached mat
	 * (as seen by the receive path and by commands), the pending life
	 * cycle requests, the counters and the ACK rendezvous. The mat is
	 * attached before its IIO device is registered and detached only
	 * after it is unregistered, both under lock and rx_lock.
	 */
	struct mutex rx_lock;
	struct gm_rx rx;
	u8 *rx_buf;
	u16 *sensels;
	u8 *scan;
	s64 frame_ts;
	struct gaitmat_mat *mat;
	struct gm_devinfo pending_di;
	bool pending;
	bool want_remove;
	bool want_info;
	bool dead;
	unsigned long last_rx;
	unsigned long last_ping;
	u64 cnt[GAITMAT_CNT_NUM];
	bool ack_pending;
	u8 ack_cmd;
	u32 ack_seq;
	int ack_result;
	struct completion ack_done;

	/* debugfs: gaitmat/<transport device>/<counter>, one per counter. */
	struct dentry *debugfs;
	struct gaitmat_cnt_file {
		struct gaitmat *gm;
		unsigned int idx;
	} cnt_files[GAITMAT_CNT_NUM];

	/* One command at a time; also serialises ops->write. */
	struct mutex cmd_lock;
	u32 cmd_seq;
	u8 tx_raw[GAITMAT_CMD_RAW];
	u8 tx_wire[GAITMAT_CMD_WIRE];
};

/* ---- Pure helpers -------------------------------------------------------- */

static const u8 gaitmat_meta_bytes[GAITMAT_M_NUM] = {
	[GAITMAT_M_SEQ] = 8,
	[GAITMAT_M_CLOCK] = 8,
	[GAITMAT_M_FLAGS] = 4,
	[GAITMAT_M_MISSING] = 4,
};

static_assert(GAITMAT_META_BYTES == GAITMAT_ROW_ELEM_BYTES);

/**
 * gaitmat_layout_init() - scan layout for a geometry
 * @l: layout to fill
 * @n_tiles: tiles the controller announced
 * @rows: rows per tile
 * @cols: columns per tile
 *
 * Each row is cut into elements of GAITMAT_CHUNK sensels (the last one
 * padded with zeros): 32 bytes, the size of the per-frame block.
 *
 * Return: 0, or -EINVAL for a geometry outside the protocol's limits.
 */
int gaitmat_layout_init(struct gaitmat_layout *l, unsigned int n_tiles,
			unsigned int rows, unsigned int cols)
{
	if (!n_tiles || n_tiles > GM_MAX_TILES || !rows || rows > GM_MAX_ROWS ||
	    !cols || cols > GM_MAX_COLS)
		return -EINVAL;
	l->n_tiles = n_tiles;
	l->rows = rows;
	l->cols = cols;
	l->chunks = DIV_ROUND_UP(cols, GAITMAT_CHUNK);
	l->n_row_chans = n_tiles * rows * l->chunks;
	l->n_elems = l->n_row_chans + GAITMAT_M_NUM + 1;
	l->meta_offset = l->n_row_chans * GAITMAT_ROW_ELEM_BYTES;
	l->scan_bytes = l->meta_offset + GAITMAT_META_BYTES;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_layout_init);

/**
 * gaitmat_elem_bytes() - storage bytes of one scan element
 * @l: the layout
 * @elem: scan index (rows, then enum gaitmat_meta_elem, then the timestamp)
 *
 * Return: the element's size, 0 past the last element.
 */
unsigned int gaitmat_elem_bytes(const struct gaitmat_layout *l,
				unsigned int elem)
{
	if (elem < l->n_row_chans)
		return GAITMAT_ROW_ELEM_BYTES;
	elem -= l->n_row_chans;
	if (elem < GAITMAT_M_NUM)
		return gaitmat_meta_bytes[elem];
	return elem == GAITMAT_M_NUM ? sizeof(s64) : 0;
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_elem_bytes);

/**
 * gaitmat_scan_sizes() - what the kernel and libiio 0.24 make of a mask
 * @l: the layout
 * @mask: enabled scan elements (timestamp bit not used)
 * @timestamp: whether the timestamp is enabled
 * @kernel: iio_compute_scan_bytes()'s result: elements aligned to their
 *	    size, the total padded to the largest element
 * @libiio: iio_device_get_sample_size_mask()'s result in libiio 0.24:
 *	    the same alignment but no final padding
 *
 * The two must agree, or libiio reads every scan after the first at the
 * wrong offset and the timestamp from the wrong bytes.
 */
void gaitmat_scan_sizes(const struct gaitmat_layout *l,
			const unsigned long *mask, bool timestamp,
			unsigned int *kernel, unsigned int *libiio)
{
	unsigned int k = 0, u = 0, largest = 0, len, i;
	unsigned int last = l->n_row_chans + GAITMAT_M_NUM;

	for (i = 0; i <= last; i++) {
		if (i < last ? !test_bit(i, mask) : !timestamp)
			continue;
		len = gaitmat_elem_bytes(l, i);
		k = ALIGN(k, len) + len;
		/* libiio's own arithmetic, kept as written there. */
		if (u % len)
			u += 2 * len - u % len;
		else
			u += len;
		largest = max(largest, len);
	}
	*kernel = largest ? ALIGN(k, largest) : 0;
	*libiio = u;
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_scan_sizes);

/**
 * gaitmat_pack_scan() - keep only the enabled elements of a full scan
 * @l: the layout
 * @mask: enabled scan elements (the timestamp bit is not used)
 * @scan: a full scan, packed in place
 *
 * Each kept element moves to the next offset aligned to its size, as the
 * IIO core lays out a scan for a mask; since no element moves up, in-place
 * copying in scan order is safe. The timestamp is written afterwards by
 * iio_push_to_buffers_with_timestamp() into the last 8 bytes.
 *
 * Return: the bytes the enabled elements take, before final padding.
 */
unsigned int gaitmat_pack_scan(const struct gaitmat_layout *l,
			       const unsigned long *mask, void *scan)
{
	unsigned int in = 0, out = 0, len, i;
	u8 *p = scan;

	for (i = 0; i < l->n_row_chans + GAITMAT_M_NUM; i++) {
		len = gaitmat_elem_bytes(l, i);
		/* The full layout has no holes: every element is aligned. */
		if (test_bit(i, mask)) {
			out = ALIGN(out, len);
			if (out != in)
				memmove(p + out, p + in, len);
			out += len;
		}
		in += len;
	}
	return out;
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_pack_scan);

/**
 * gaitmat_default_length() - buffer length a new device starts with
 * @bytes_per_datum: scan size
 *
 * Return: the largest power of two of scans that fits in
 * GAITMAT_DEFAULT_BUF_BYTES, at least 2 and at most
 * GAITMAT_MAX_DEFAULT_LENGTH.
 */
unsigned int gaitmat_default_length(unsigned int bytes_per_datum)
{
	unsigned int n = GAITMAT_DEFAULT_BUF_BYTES / max(bytes_per_datum, 1U);

	n = clamp(n, 2U, (unsigned int)GAITMAT_MAX_DEFAULT_LENGTH);
	return rounddown_pow_of_two(n);
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_default_length);

/**
 * gaitmat_seq_advance() - extend a 32-bit frame sequence number
 * @seq64: last extended sequence number, updated
 * @valid: whether @seq64 holds one yet, set
 * @seq: sequence number of the new frame
 * @missing: sequence numbers skipped before @seq
 *
 * Sequence numbers count scans and wrap at 2^32; a step forward of less
 * than 2^31 is progress (with @missing scans lost in between), anything
 * else is a repeated or stale frame.
 *
 * Return: 0, or -EINVAL for a frame that does not advance the sequence.
 */
int gaitmat_seq_advance(u64 *seq64, bool *valid, u32 seq, u32 *missing)
{
	u32 step;

	*missing = 0;
	if (!*valid) {
		*seq64 = seq;
		*valid = true;
		return 0;
	}
	step = seq - (u32)*seq64;
	if (!step || step > S32_MAX)
		return -EINVAL;
	*missing = step - 1;
	*seq64 += step;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_seq_advance);

/**
 * gaitmat_fill_scan() - lay decoded sensels out as row elements
 * @l: the layout
 * @sensels: tile-major, row-major values as gm_decode_dense() writes them
 * @scan: the scan, at least l->meta_offset bytes
 *
 * Columns beyond the tile's width, up to the last element's end, are zero.
 */
void gaitmat_fill_scan(const struct gaitmat_layout *l, const u16 *sensels,
		       void *scan)
{
	unsigned int stride = l->chunks * GAITMAT_CHUNK;
	__le16 *row = scan;
	unsigned int r, c;

	for (r = 0; r < l->n_tiles * l->rows; r++, row += stride) {
		for (c = 0; c < l->cols; c++)
			row[c] = cpu_to_le16(*sensels++);
		for (; c < stride; c++)
			row[c] = 0;
	}
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_fill_scan);

/* ---- Commands ------------------------------------------------------------ */

static int gaitmat_ack_errno(u8 result)
{
	switch (result) {
	case GM_ACK_OK:
		return 0;
	case GM_ACK_EINVAL:
		return -EINVAL;
	case GM_ACK_EBUSY:
		return -EBUSY;
	default:
		return -EOPNOTSUPP;
	}
}

/* Wake a command waiting for its ACK; called with rx_lock held. */
static void gaitmat_abort_command(struct gaitmat *gm)
{
	lockdep_assert_held(&gm->rx_lock);
	if (gm->ack_pending) {
		gm->ack_pending = false;
		gm->ack_result = -ENODEV;
		complete(&gm->ack_done);
	}
}

/* Tries a command gets when its ACK does not come (protocol section 8). */
#define GAITMAT_CMD_TRIES	3

/* One attempt of gaitmat_command(); called with cmd_lock held. */
static int gaitmat_command_once(struct gaitmat *gm, struct gaitmat_mat *mat,
				u8 type, const u8 *body, u16 body_len,
				bool wait)
{
	struct gm_hdr hdr = { .type = type, .body_len = body_len };
	unsigned long timeout = msecs_to_jiffies(READ_ONCE(ack_timeout_ms));
	long raw, wire;
	ssize_t sent;
	int ret = 0;

	mutex_lock(&gm->rx_lock);
	/*
	 * A device being removed still sends what needs no answer (the STOP
	 * of its buffer's predisable), but nothing that would wait.
	 */
	if (gm->dead || (mat && (gm->mat != mat || (wait && mat->going)))) {
		mutex_unlock(&gm->rx_lock);
		return -ENODEV;
	}
	/* Every attempt is a new command number, as the protocol asks. */
	hdr.seq = ++gm->cmd_seq;
	if (wait) {
		reinit_completion(&gm->ack_done);
		gm->ack_pending = true;
		gm->ack_cmd = type;
		gm->ack_seq = hdr.seq;
		gm->ack_result = -ETIMEDOUT;
	}
	mutex_unlock(&gm->rx_lock);

	raw = gm_build_frame(gm->tx_raw, sizeof(gm->tx_raw), &hdr, body);
	/* The leading delimiter resynchronises a receiver that saw noise. */
	gm->tx_wire[0] = GM_DELIM;
	wire = raw < 0 ? raw : gm_cobs_encode(gm->tx_raw, raw, gm->tx_wire + 1,
					      sizeof(gm->tx_wire) - 1);
	if (WARN_ON_ONCE(wire < 0)) {
		ret = -EINVAL;
		goto out;
	}
	sent = gm->ops->write(gm->priv, gm->tx_wire, wire + 1);
	if (sent < 0)
		ret = sent;
	else if (sent != wire + 1)
		ret = -EIO;
	if (!ret && wait)
		wait_for_completion_timeout(&gm->ack_done, timeout);
out:
	mutex_lock(&gm->rx_lock);
	if (wait && !ret)
		ret = gm->ack_result;
	gm->ack_pending = false;
	mutex_unlock(&gm->rx_lock);
	return ret;
}

/*
 * Send a command. @mat, when given, is the device the command is for: once
 * its removal has begun a command that waits fails at once, so that sysfs
 * writers never hold up its removal. With @wait, returns the controller's
 * answer, or -ETIMEDOUT when GAITMAT_CMD_TRIES attempts went unanswered.
 */
static int gaitmat_command(struct gaitmat *gm, struct gaitmat_mat *mat,
			   u8 type, const u8 *body, u16 body_len, bool wait)
{
	int tries = wait ? GAITMAT_CMD_TRIES : 1;
	int ret;

	mutex_lock(&gm->cmd_lock);
	do {
		ret = gaitmat_command_once(gm, mat, type, body, body_len, wait);
	} while (ret == -ETIMEDOUT && --tries);
	mutex_unlock(&gm->cmd_lock);
	return ret;
}

/* ---- IIO device ---------------------------------------------------------- */

/*
 * The per-frame channels. IIO has no channel type for a sequence number, a
 * foreign clock or status bits, and an out-of-tree driver cannot add one;
 * IIO_TIMESTAMP is reserved to the soft timestamp (the core toggles
 * scan_timestamp for any channel of that type). So they are counter
 * channels told apart by their labels (docs/ABI/sysfs-bus-iio-gaitmat).
 */
struct gaitmat_meta_chan {
	u8 realbits;
	const char *label;
};

static const struct gaitmat_meta_chan gaitmat_meta_chans[GAITMAT_M_NUM] = {
	[GAITMAT_M_SEQ] = { 64, "sequence" },
	[GAITMAT_M_CLOCK] = { 64, "controller_clock_us" },
	[GAITMAT_M_FLAGS] = { 32, "frame_flags" },
	[GAITMAT_M_MISSING] = { 32, "missing_scans" },
};

static const struct iio_chan_spec gaitmat_timestamp_chan =
	IIO_CHAN_SOFT_TIMESTAMP(0);

static void gaitmat_init_channels(struct gaitmat_mat *mat)
{
	const struct gaitmat_layout *l = &mat->layout;
	struct iio_chan_spec *ch = mat->channels;
	unsigned int i;

	for (i = 0; i < l->n_row_chans; i++, ch++) {
		ch->type = IIO_PRESSURE;
		ch->indexed = 1;
		ch->channel = i;
		ch->scan_index = i;
		ch->info_mask_shared_by_type = BIT(IIO_CHAN_INFO_SCALE);
		ch->info_mask_shared_by_all = BIT(IIO_CHAN_INFO_SAMP_FREQ);
		ch->info_mask_shared_by_all_available =
			BIT(IIO_CHAN_INFO_SAMP_FREQ);
		ch->scan_type.sign = 'u';
		ch->scan_type.realbits = GM_SENSEL_BITS;
		ch->scan_type.storagebits = 16;
		ch->scan_type.repeat = GAITMAT_CHUNK;
		ch->scan_type.endianness = IIO_LE;
	}
	for (i = 0; i < GAITMAT_M_NUM; i++, ch++) {
		ch->type = IIO_COUNT;
		ch->indexed = 1;
		ch->channel = i;
		ch->scan_index = l->n_row_chans + i;
		ch->scan_type.sign = 'u';
		ch->scan_type.realbits = gaitmat_meta_chans[i].realbits;
		ch->scan_type.storagebits = gaitmat_meta_bytes[i] * 8;
		ch->scan_type.endianness = IIO_LE;
	}
	*ch = gaitmat_timestamp_chan;
	ch->scan_index = l->n_row_chans + GAITMAT_M_NUM;
}

static struct gaitmat_mat *gaitmat_iio_mat(struct iio_dev *indio_dev)
{
	return iio_priv(indio_dev);
}

static struct gaitmat_mat *gaitmat_dev_mat(struct device *dev)
{
	return gaitmat_iio_mat(dev_to_iio_dev(dev));
}

static int gaitmat_read_raw(struct iio_dev *indio_dev,
			    struct iio_chan_spec const *chan,
			    int *val, int *val2, long mask)
{
	struct gaitmat_mat *mat = gaitmat_iio_mat(indio_dev);

	switch (mask) {
	case IIO_CHAN_INFO_SCALE:
		/* kPa per code: full scale maps to GM_SENSEL_MAX. */
		*val = mat->di.full_scale_kpa;
		*val2 = GM_SENSEL_MAX;
		return IIO_VAL_FRACTIONAL;
	case IIO_CHAN_INFO_SAMP_FREQ:
		mutex_lock(&mat->gm->rx_lock);
		*val = mat->di.rate_hz;
		mutex_unlock(&mat->gm->rx_lock);
		return IIO_VAL_INT;
	default:
		return -EINVAL;
	}
}

static int gaitmat_read_avail(struct iio_dev *indio_dev,
			      struct iio_chan_spec const *chan,
			      const int **vals, int *type, int *length,
			      long mask)
{
	struct gaitmat_mat *mat = gaitmat_iio_mat(indio_dev);

	if (mask != IIO_CHAN_INFO_SAMP_FREQ)
		return -EINVAL;
	*vals = mat->rates;
	*type = IIO_VAL_INT;
	*length = mat->di.n_rates;
	return IIO_AVAIL_LIST;
}

static int gaitmat_write_raw(struct iio_dev *indio_dev,
			     struct iio_chan_spec const *chan,
			     int val, int val2, long mask)
{
	struct gaitmat_mat *mat = gaitmat_iio_mat(indio_dev);
	struct gaitmat *gm = mat->gm;
	u8 body[GM_SET_RATE_LEN];
	unsigned int i;
	long len;
	int ret;

	if (mask != IIO_CHAN_INFO_SAMP_FREQ)
		return -EINVAL;
	if (val2)
		return -EINVAL;
	for (i = 0; i < mat->di.n_rates; i++)
		if (mat->rates[i] == val)
			break;
	if (i == mat->di.n_rates)
		return -EINVAL;

	len = gm_encode_set_rate(val, body, sizeof(body));
	if (len < 0)
		return -EINVAL;
	ret = gaitmat_command(gm, mat, GM_T_CMD_SET_RATE, body, len, true);
	if (ret)
		return ret;
	mutex_lock(&gm->rx_lock);
	mat->di.rate_hz = val;
	mutex_unlock(&gm->rx_lock);
	return 0;
}

static int gaitmat_write_raw_get_fmt(struct iio_dev *indio_dev,
				     struct iio_chan_spec const *chan,
				     long mask)
{
	return IIO_VAL_INT;
}

static int gaitmat_read_label(struct iio_dev *indio_dev,
			      struct iio_chan_spec const *chan, char *label)
{
	struct gaitmat_mat *mat = gaitmat_iio_mat(indio_dev);
	const struct gaitmat_layout *l = &mat->layout;
	unsigned int i = chan->scan_index;

	if (i < l->n_row_chans)
		return sysfs_emit(label, "tile%u_row%u_col%u\n",
				  i / l->chunks / l->rows,
				  i / l->chunks % l->rows,
				  i % l->chunks * GAITMAT_CHUNK);
	i -= l->n_row_chans;
	if (i < GAITMAT_M_NUM)
		return sysfs_emit(label, "%s\n", gaitmat_meta_chans[i].label);
	return -EINVAL;
}

/* ---- sysfs --------------------------------------------------------------- */

static const char *const gaitmat_cnt_names[GAITMAT_CNT_NUM] = {
	[GAITMAT_CNT_FRAMES] = "frames",
	[GAITMAT_CNT_CRC] = "crc_errors",
	[GAITMAT_CNT_RESYNC] = "resyncs",
	[GAITMAT_CNT_FRAME_ERR] = "frame_errors",
	[GAITMAT_CNT_SEQ_GAP] = "seq_gaps",
	[GAITMAT_CNT_CTRL_DROP] = "controller_dropped",
	[GAITMAT_CNT_OVERRUN] = "overruns",
};

static u64 gaitmat_cnt_get(struct gaitmat *gm, unsigned int idx)
{
	u64 v;

	mutex_lock(&gm->rx_lock);
	v = gm->cnt[idx];
	mutex_unlock(&gm->rx_lock);
	return v;
}

static int gaitmat_cnt_file_get(void *data, u64 *val)
{
	struct gaitmat_cnt_file *f = data;

	*val = gaitmat_cnt_get(f->gm, f->idx);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(gaitmat_cnt_fops, gaitmat_cnt_file_get, NULL,
			 "%llu\n");

/**
 * gaitmat_counter_read() - a receive counter of a device, by name
 * @indio_dev: a gaitmat IIO device
 * @name: the counter's debugfs name ("crc_errors", ...)
 * @val: its value
 *
 * For KUnit, which has no debugfs mount to read the files from.
 *
 * Return: 0, or -ENOENT for an unknown name.
 */
int gaitmat_counter_read(struct iio_dev *indio_dev, const char *name, u64 *val)
{
	struct gaitmat *gm = gaitmat_iio_mat(indio_dev)->gm;
	unsigned int i;

	for (i = 0; i < GAITMAT_CNT_NUM; i++) {
		if (!strcmp(name, gaitmat_cnt_names[i])) {
			*val = gaitmat_cnt_get(gm, i);
			return 0;
		}
	}
	return -ENOENT;
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_counter_read);

/* The announced geometry, one value per file. */
enum gaitmat_geom_attr {
	GAITMAT_GEOM_TILES,
	GAITMAT_GEOM_ROWS,
	GAITMAT_GEOM_COLS,
	GAITMAT_GEOM_PITCH,
};

static ssize_t gaitmat_geom_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	const struct gm_devinfo *di = &gaitmat_dev_mat(dev)->di;
	unsigned int v;

	switch (to_iio_dev_attr(attr)->address) {
	case GAITMAT_GEOM_TILES:
		v = di->n_tiles;
		break;
	case GAITMAT_GEOM_ROWS:
		v = di->rows;
		break;
	case GAITMAT_GEOM_COLS:
		v = di->cols;
		break;
	default:
		v = di->pitch_um;
		break;
	}
	return sysfs_emit(buf, "%u\n", v);
}

static IIO_DEVICE_ATTR(num_tiles, 0444, gaitmat_geom_show, NULL,
		       GAITMAT_GEOM_TILES);
static IIO_DEVICE_ATTR(rows_per_tile, 0444, gaitmat_geom_show, NULL,
		       GAITMAT_GEOM_ROWS);
static IIO_DEVICE_ATTR(columns_per_tile, 0444, gaitmat_geom_show, NULL,
		       GAITMAT_GEOM_COLS);
static IIO_DEVICE_ATTR(sensel_pitch_um, 0444, gaitmat_geom_show, NULL,
		       GAITMAT_GEOM_PITCH);

/*
 * Where each tile lies on the walkway: tile<N>_x_mm, tile<N>_y_mm and
 * tile<N>_rotation_deg, made for the announced tiles only
 * (gaitmat_init_attrs()). The attribute's address is tile * 3 + field.
 */
static ssize_t gaitmat_tile_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	const struct gm_devinfo *di = &gaitmat_dev_mat(dev)->di;
	unsigned long a = to_iio_dev_attr(attr)->address;
	const struct gm_tile *t = &di->tiles[a / 3];

	switch (a % 3) {
	case 0:
		return sysfs_emit(buf, "%d\n", t->x_mm);
	case 1:
		return sysfs_emit(buf, "%d\n", t->y_mm);
	default:
		return sysfs_emit(buf, "%u\n", t->orient * 90);
	}
}

/* The ABI's name for a device's serial number (sysfs-bus-iio). */
static ssize_t serialnumber_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", gaitmat_dev_mat(dev)->di.serial);
}
static IIO_DEVICE_ATTR_RO(serialnumber, 0);

static ssize_t firmware_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	const struct gm_devinfo *di = &gaitmat_dev_mat(dev)->di;

	return sysfs_emit(buf, "%u.%u.%u\n", di->fw_major, di->fw_minor,
			  di->fw_patch);
}
static IIO_DEVICE_ATTR_RO(firmware, 0);

static ssize_t boot_id_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%08x\n", gaitmat_dev_mat(dev)->di.boot_id);
}
static IIO_DEVICE_ATTR_RO(boot_id, 0);

static ssize_t zeroing_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t len)
{
	struct gaitmat_mat *mat = gaitmat_dev_mat(dev);
	bool zero;
	int ret;

	ret = kstrtobool(buf, &zero);
	if (ret)
		return ret;
	if (!zero)
		return -EINVAL;
	ret = gaitmat_command(mat->gm, mat, GM_T_CMD_ZERO, NULL, 0, true);
	return ret ? ret : len;
}
static IIO_DEVICE_ATTR_WO(zeroing, 0);

static struct attribute *gaitmat_attrs[] = {
	&iio_dev_attr_num_tiles.dev_attr.attr,
	&iio_dev_attr_rows_per_tile.dev_attr.attr,
	&iio_dev_attr_columns_per_tile.dev_attr.attr,
	&iio_dev_attr_sensel_pitch_um.dev_attr.attr,
	&iio_dev_attr_serialnumber.dev_attr.attr,
	&iio_dev_attr_firmware.dev_attr.attr,
	&iio_dev_attr_boot_id.dev_attr.attr,
	&iio_dev_attr_zeroing.dev_attr.attr,
};

static_assert(ARRAY_SIZE(gaitmat_attrs) == GAITMAT_N_ATTRS);

static const struct iio_info gaitmat_iio_info = {
	.read_raw = gaitmat_read_raw,
	.read_avail = gaitmat_read_avail,
	.write_raw = gaitmat_write_raw,
	.write_raw_get_fmt = gaitmat_write_raw_get_fmt,
	.read_label = gaitmat_read_label,
};

/*
 * The device's attributes: the common ones and those of the tiles it has,
 * so each mat gets its own iio_info pointing at its own list.
 */
static void gaitmat_init_attrs(struct gaitmat_mat *mat)
{
	static const char *const field[3] = { "x_mm", "y_mm", "rotation_deg" };
	struct iio_dev_attr *a;
	unsigned int n = 0, i;

	for (i = 0; i < ARRAY_SIZE(gaitmat_attrs); i++)
		mat->attrs[n++] = gaitmat_attrs[i];
	for (i = 0; i < 3 * mat->di.n_tiles; i++) {
		a = &mat->tile_attrs[i];
		snprintf(mat->tile_names[i], sizeof(mat->tile_names[i]),
			 "tile%u_%s", i / 3, field[i % 3]);
		sysfs_attr_init(&a->dev_attr.attr);
		a->dev_attr.attr.name = mat->tile_names[i];
		a->dev_attr.attr.mode = 0444;
		a->dev_attr.show = gaitmat_tile_show;
		a->address = i;
		mat->attrs[n++] = &a->dev_attr.attr;
	}
	mat->attrs[n] = NULL;
	mat->attr_group.attrs = mat->attrs;
	mat->info = gaitmat_iio_info;
	mat->info.attrs = &mat->attr_group;
}

/* ---- Buffer -------------------------------------------------------------- */

/*
 * Only scan masks whose kernel scan size equals libiio's sample size are
 * accepted; every such mask also puts the timestamp (when enabled) in the
 * last 8 bytes for both. The full mask with the timestamp always is one.
 */
static int gaitmat_check_mask(struct iio_dev *indio_dev, const char *what,
			      const unsigned long *mask, bool timestamp)
{
	struct gaitmat_mat *mat = gaitmat_iio_mat(indio_dev);
	unsigned int kernel, libiio;

	gaitmat_scan_sizes(&mat->layout, mask, timestamp, &kernel, &libiio);
	if (kernel == libiio)
		return 0;
	dev_dbg(&indio_dev->dev,
		"%s scan mask refused: %u bytes for the kernel, %u for libiio\n",
		what, kernel, libiio);
	return -EINVAL;
}

/*
 * Called once the IIO core has settled what every enabled buffer together
 * takes: indio_dev->active_scan_mask and scan_timestamp are the scan this
 * driver will push, whichever buffers (the chardev's, in-kernel consumers')
 * asked for it. iio_push_to_buffers_with_timestamp() writes the timestamp
 * into the last 8 bytes of that scan, where the demux of every buffer must
 * find it, so it is checked first. The chardev buffer, when enabled, gets
 * its own mask's layout through the demux, and that is what libiio reads.
 */
static int gaitmat_buffer_preenable(struct iio_dev *indio_dev)
{
	struct iio_buffer *buffer = indio_dev->buffer;
	int ret;

	ret = gaitmat_check_mask(indio_dev, "active",
				 indio_dev->active_scan_mask,
				 indio_dev->scan_timestamp);
	if (ret)
		return ret;
	/* Enabled buffers are on the device's list by now. */
	if (buffer && !list_empty(&buffer->buffer_list))
		ret = gaitmat_check_mask(indio_dev, "chardev",
					 buffer->scan_mask,
					 buffer->scan_timestamp);
	return ret;
}

static int gaitmat_buffer_postenable(struct iio_dev *indio_dev)
{
	struct gaitmat_mat *mat = gaitmat_iio_mat(indio_dev);
	struct gaitmat *gm = mat->gm;
	int ret;

	/*
	 * No available_scan_masks (multi-long masks make newer kernels
	 * complain): the scan is packed for the enabled elements here.
	 */
	mutex_lock(&gm->rx_lock);
	bitmap_copy(mat->scan_mask, indio_dev->active_scan_mask,
		    mat->layout.n_elems - 1);
	mat->full_mask = bitmap_full(mat->scan_mask, mat->layout.n_elems - 1);
	mat->streaming = true;
	mutex_unlock(&gm->rx_lock);

	ret = gaitmat_command(gm, mat, GM_T_CMD_START, NULL, 0, true);
	if (ret) {
		mutex_lock(&gm->rx_lock);
		mat->streaming = false;
		mutex_unlock(&gm->rx_lock);
	}
	return ret;
}

static int gaitmat_buffer_predisable(struct iio_dev *indio_dev)
{
	struct gaitmat_mat *mat = gaitmat_iio_mat(indio_dev);
	struct gaitmat *gm = mat->gm;

	/* Once rx_lock is dropped no push is in flight any more. */
	mutex_lock(&gm->rx_lock);
	mat->streaming = false;
	mutex_unlock(&gm->rx_lock);

	/* Best effort: the device may be going away with its controller. */
	gaitmat_command(gm, mat, GM_T_CMD_STOP, NULL, 0, false);
	return 0;
}

static const struct iio_buffer_setup_ops gaitmat_buffer_ops = {
	.preenable = gaitmat_buffer_preenable,
	.postenable = gaitmat_buffer_postenable,
	.predisable = gaitmat_buffer_predisable,
};

static int gaitmat_setup_buffer(struct gaitmat_mat *mat)
{
	struct iio_dev *indio_dev = mat->indio_dev;
	struct iio_buffer *buffer;
	int ret;

	buffer = gaitmat_buf_alloc(gaitmat_default_length(mat->layout.scan_bytes));
	if (!buffer)
		return -ENOMEM;
	ret = iio_device_attach_buffer(indio_dev, buffer);
	/* The device holds its own reference once attached. */
	iio_buffer_put(buffer);
	if (ret)
		return ret;
	indio_dev->modes |= INDIO_BUFFER_SOFTWARE;
	indio_dev->setup_ops = &gaitmat_buffer_ops;
	return 0;
}

/* ---- Life cycle ---------------------------------------------------------- */

static void gaitmat_mat_free(struct iio_dev *indio_dev)
{
	struct gaitmat_mat *mat = gaitmat_iio_mat(indio_dev);
	struct iio_chan_spec *channels = mat->channels;
	unsigned long *mask = mat->scan_mask;

	/*
	 * After unregistration the IIO core no longer looks at the channels
	 * or masks, although the iio_dev itself lives until its last file
	 * is closed.
	 */
	iio_device_free(indio_dev);
	kvfree(channels);
	bitmap_free(mask);
}

static struct gaitmat_mat *gaitmat_mat_create(struct gaitmat *gm,
					      const struct gm_devinfo *di)
{
	struct iio_dev *indio_dev;
	struct gaitmat_mat *mat;
	unsigned int i;
	int ret;

	indio_dev = iio_device_alloc(gm->dev, sizeof(*mat));
	if (!indio_dev)
		return ERR_PTR(-ENOMEM);
	mat = gaitmat_iio_mat(indio_dev);
	mat->gm = gm;
	mat->indio_dev = indio_dev;
	mat->di = *di;
	for (i = 0; i < di->n_rates; i++)
		mat->rates[i] = di->rates[i];

	ret = gaitmat_layout_init(&mat->layout, di->n_tiles, di->rows,
				  di->cols);
	if (ret)
		goto err_free;
	mat->channels = kvcalloc(mat->layout.n_elems, sizeof(*mat->channels),
				 GFP_KERNEL);
	mat->scan_mask = bitmap_zalloc(mat->layout.n_elems, GFP_KERNEL);
	if (!mat->channels || !mat->scan_mask) {
		ret = -ENOMEM;
		goto err_free;
	}
	gaitmat_init_channels(mat);

	indio_dev->name = "gaitmat";
	indio_dev->label = dev_name(gm->dev);
	gaitmat_init_attrs(mat);
	indio_dev->info = &mat->info;
	indio_dev->modes = INDIO_DIRECT_MODE;
	indio_dev->channels = mat->channels;
	indio_dev->num_channels = mat->layout.n_elems;

	ret = gaitmat_setup_buffer(mat);
	if (ret)
		goto err_free;
	return mat;

err_free:
	gaitmat_mat_free(indio_dev);
	return ERR_PTR(ret);
}

/*
 * Begin to take the attached mat away; called with lock and rx_lock held.
 * It stays attached while it is unregistered, so that it works for as long
 * as userspace can see it: frames are still pushed into its enabled
 * buffers, and the STOP of its buffers' predisable reaches the controller.
 * But it is no longer the controller the life cycle looks at (announcements
 * and STATUS frames are not matched against it, silence is not timed on
 * it), and commands for it that would wait for an ACK fail at once, the one
 * waiting now included, so that no sysfs writer holds up the removal.
 */
static struct gaitmat_mat *gaitmat_retire(struct gaitmat *gm)
{
	struct gaitmat_mat *mat = gm->mat;

	lockdep_assert_held(&gm->lock);
	lockdep_assert_held(&gm->rx_lock);
	mat->going = true;
	gaitmat_abort_command(gm);
	return mat;
}

/*
 * Unregister a retired mat, then detach it from the receive path, then free
 * it: the reverse of gaitmat_work()'s add. Detaching under rx_lock waits for
 * a receive in progress, so nothing reaches the mat once it is freed.
 * Called with lock held (not rx_lock).
 */
static void gaitmat_mat_remove(struct gaitmat *gm, struct gaitmat_mat *mat)
{
	lockdep_assert_held(&gm->lock);
	dev_info(gm->dev, "controller %s gone\n", mat->di.serial);
	iio_device_unregister(mat->indio_dev);

	mutex_lock(&gm->rx_lock);
	WARN_ON_ONCE(gm->mat != mat);
	gm->mat = NULL;
	mutex_unlock(&gm->rx_lock);
	gaitmat_mat_free(mat->indio_dev);
}

/* The attached mat unless it is being removed: the controller, as known. */
static struct gaitmat_mat *gaitmat_live_mat(struct gaitmat *gm)
{
	lockdep_assert_held(&gm->rx_lock);
	return gm->mat && !gm->mat->going ? gm->mat : NULL;
}

/* Whether a new announcement describes the device already registered. */
static bool gaitmat_same_controller(const struct gm_devinfo *a,
				    const struct gm_devinfo *b)
{
	struct gm_devinfo tmp = *b;

	/* Only the rate may change without new channels. */
	tmp.rate_hz = a->rate_hz;
	return !memcmp(a, &tmp, sizeof(tmp));
}

static void gaitmat_work(struct work_struct *work)
{
	struct gaitmat *gm = container_of(work, struct gaitmat, work);
	struct gm_devinfo *di = &gm->work_di;
	struct gaitmat_mat *old = NULL, *mat;
	bool add, ask;
	int ret;

	mutex_lock(&gm->lock);
	mutex_lock(&gm->rx_lock);
	add = gm->pending && !gm->dead;
	if (add)
		*di = gm->pending_di;
	gm->pending = false;
	if (add && !gm->want_remove && gm->mat &&
	    gaitmat_same_controller(&gm->mat->di, di)) {
		gm->mat->di.rate_hz = di->rate_hz;
		add = false;
	}
	if (gm->mat && (add || gm->want_remove || gm->dead))
		old = gaitmat_retire(gm);
	gm->want_remove = false;
	ask = gm->want_info && !add;
	gm->want_info = false;
	mutex_unlock(&gm->rx_lock);

	if (old)
		gaitmat_mat_remove(gm, old);
	if (add) {
		mat = gaitmat_mat_create(gm, di);
		ret = PTR_ERR_OR_ZERO(mat);
		if (ret)
			goto err;
		/*
		 * Attached, with fresh counters, before it is registered: by
		 * the time the uevent goes out and its sysfs is live, frames
		 * reach it and commands for it reach the controller, so a
		 * udev rule acting on "add" never races the driver. Nothing
		 * is pushed before a buffer is enabled (streaming is false).
		 */
		mutex_lock(&gm->rx_lock);
		if (gm->dead || gm->mat) {
			mutex_unlock(&gm->rx_lock);
			gaitmat_mat_free(mat->indio_dev);
			goto out;
		}
		gm->mat = mat;
		memset(&gm->cnt, 0, sizeof(gm->cnt));
		gm->last_rx = jiffies;
		mutex_unlock(&gm->rx_lock);

		ret = iio_device_register(mat->indio_dev);
		if (ret) {
			/* Never visible: nothing to unregister. */
			mutex_lock(&gm->rx_lock);
			gaitmat_retire(gm);
			gm->mat = NULL;
			mutex_unlock(&gm->rx_lock);
			gaitmat_mat_free(mat->indio_dev);
			goto err;
		}
		dev_info(gm->dev,
			 "controller %s: %u tiles of %ux%u at %u Hz, %s\n",
			 di->serial, di->n_tiles, di->rows, di->cols,
			 di->rate_hz, dev_name(&mat->indio_dev->dev));
	}
	goto out;
err:
	dev_err(gm->dev, "cannot register controller %s: %pe\n", di->serial,
		ERR_PTR(ret));
out:
	mutex_unlock(&gm->lock);
	/* A controller that reset unannounced: ask who it is now. */
	if (ask)
		gaitmat_command(gm, NULL, GM_T_CMD_GET_INFO, NULL, 0, false);
}

static unsigned long gaitmat_silence(void)
{
	return msecs_to_jiffies(max(READ_ONCE(silence_ms), 200U));
}

static void gaitmat_watchdog(struct work_struct *work)
{
	struct gaitmat *gm = container_of(to_delayed_work(work),
					  struct gaitmat, watchdog);
	unsigned long silence = gaitmat_silence();
	struct gaitmat_mat *mat;
	bool ping = false, idle, unknown;

	mutex_lock(&gm->rx_lock);
	if (gm->dead) {
		mutex_unlock(&gm->rx_lock);
		return;
	}
	mat = gaitmat_live_mat(gm);
	/*
	 * Lost: silent for silence_ms although asked who it is a while ago
	 * (so a change of silence_ms never removes a controller unasked).
	 */
	if (mat && !gm->want_remove &&
	    time_after_eq(jiffies, gm->last_rx + silence) &&
	    time_after(gm->last_ping, gm->last_rx) &&
	    time_after_eq(jiffies, gm->last_ping + silence / 4)) {
		dev_info(gm->dev, "controller %s silent for %u ms\n",
			 mat->di.serial, jiffies_to_msecs(silence));
		gm->want_remove = true;
		schedule_work(&gm->work);
	}
	/*
	 * An idle controller sends nothing: ask it to show it is there. One
	 * that talks (STATUS heartbeats) but has no device has not been
	 * heard announcing itself, its DEVINFO lost on the wire: ask again.
	 */
	idle = time_after_eq(jiffies, gm->last_rx + silence / 2);
	unknown = !mat && !gm->pending;
	if ((idle || unknown) &&
	    time_after_eq(jiffies, gm->last_ping + silence / 2)) {
		gm->last_ping = jiffies;
		ping = true;
	}
	mutex_unlock(&gm->rx_lock);

	if (ping)
		gaitmat_command(gm, NULL, GM_T_CMD_GET_INFO, NULL, 0, false);
	schedule_delayed_work(&gm->watchdog, max(silence / 4, 1UL));
}

/* ---- Receive path (rx_lock held) ----------------------------------------- */

static void gaitmat_count(struct gaitmat *gm, enum gaitmat_err_kind kind,
			  int code, enum gaitmat_counter counter, u64 n)
{
	gm->cnt[counter] += n;
	trace_gaitmat_error(gm->id, kind, code, n);
}

static void gaitmat_rx_error(struct gaitmat *gm, int err)
{
	switch (-err) {
	case GM_ECRC:
		gaitmat_count(gm, GAITMAT_ERR_CRC, err, GAITMAT_CNT_CRC, 1);
		break;
	case GM_ECOBS:
	case GM_ETOOLONG:
	case GM_ESHORT:
		gaitmat_count(gm, GAITMAT_ERR_RESYNC, err, GAITMAT_CNT_RESYNC, 1);
		break;
	default:
		gaitmat_count(gm, GAITMAT_ERR_FRAME, err,
			      GAITMAT_CNT_FRAME_ERR, 1);
		break;
	}
}

static void gaitmat_rx_devinfo(struct gaitmat *gm, const u8 *body, size_t len)
{
	struct gaitmat_mat *mat;
	struct gm_devinfo di;
	int ret;

	ret = gm_parse_devinfo(body, len, &di);
	if (ret) {
		gaitmat_rx_error(gm, ret);
		return;
	}
	mat = gaitmat_live_mat(gm);
	if (mat && !gm->want_remove && gaitmat_same_controller(&mat->di, &di)) {
		mat->di.rate_hz = di.rate_hz;
		gm->pending = false;
		return;
	}
	gm->pending_di = di;
	gm->pending = true;
	schedule_work(&gm->work);
}

static void gaitmat_rx_status(struct gaitmat *gm, const u8 *body, size_t len)
{
	struct gaitmat_mat *mat = gaitmat_live_mat(gm);
	struct gm_status st;
	int ret;

	ret = gm_parse_status(body, len, &st);
	if (ret) {
		gaitmat_rx_error(gm, ret);
		return;
	}
	if (!mat)
		return;
	if (st.boot_id != mat->di.boot_id) {
		/* It rebooted and we missed its announcement. */
		dev_info(gm->dev, "controller %s reset\n", mat->di.serial);
		gm->want_remove = true;
		gm->want_info = true;
		schedule_work(&gm->work);
		return;
	}
	mat->di.rate_hz = st.rate_hz;
	if (st.scans_dropped > gm->cnt[GAITMAT_CNT_CTRL_DROP])
		trace_gaitmat_error(gm->id, GAITMAT_ERR_CTRL_DROP, 0,
				    st.scans_dropped -
				    gm->cnt[GAITMAT_CNT_CTRL_DROP]);
	gm->cnt[GAITMAT_CNT_CTRL_DROP] = st.scans_dropped;
}

static void gaitmat_rx_ack(struct gaitmat *gm, const u8 *body, size_t len)
{
	struct gm_ack ack;
	int ret;

	ret = gm_parse_ack(body, len, &ack);
	if (ret) {
		gaitmat_rx_error(gm, ret);
		return;
	}
	if (gm->ack_pending && ack.cmd == gm->ack_cmd &&
	    ack.cmd_seq == gm->ack_seq) {
		gm->ack_pending = false;
		gm->ack_result = gaitmat_ack_errno(ack.result);
		complete(&gm->ack_done);
	}
}

static void gaitmat_rx_data(struct gaitmat *gm, const struct gm_hdr *hdr,
			    const u8 *body)
{
	struct gaitmat_mat *mat = gm->mat;
	struct gaitmat_scan_meta *meta;
	size_t n = GM_MAX_SENSELS;
	u32 missing, flags;
	int ret;

	/*
	 * Not announced (yet): nothing to fill. A device being removed
	 * (mat->going) still takes scans until its buffers are disabled.
	 */
	if (!mat)
		return;
	if (hdr->type == GM_T_DENSE)
		ret = gm_decode_dense(&mat->di, body, hdr->body_len,
				      gm->sensels, n);
	else
		ret = gm_decode_sparse(&mat->di, body, hdr->body_len,
				       gm->sensels, n);
	if (ret < 0) {
		gaitmat_rx_error(gm, ret);
		return;
	}
	if (gaitmat_seq_advance(&mat->seq64, &mat->seq_valid, hdr->seq,
				&missing)) {
		/* A repeated or stale frame: its scan is not new. */
		gaitmat_count(gm, GAITMAT_ERR_FRAME, 0, GAITMAT_CNT_FRAME_ERR,
			      1);
		return;
	}
	if (missing)
		gaitmat_count(gm, GAITMAT_ERR_SEQ_GAP, 0, GAITMAT_CNT_SEQ_GAP,
			      missing);
	if (!mat->streaming)
		return;

	gaitmat_fill_scan(&mat->layout, gm->sensels, gm->scan);
	meta = (struct gaitmat_scan_meta *)(gm->scan + mat->layout.meta_offset);
	flags = hdr->flags & GAITMAT_SCAN_F_WIRE;
	if (hdr->type == GM_T_SPARSE)
		flags |= GAITMAT_SCAN_F_SPARSE;
	if (missing)
		flags |= GAITMAT_SCAN_F_GAP;
	meta->seq = cpu_to_le64(mat->seq64);
	meta->clock_us = cpu_to_le64(hdr->clock_us);
	meta->flags = cpu_to_le32(flags);
	meta->missing = cpu_to_le32(missing);
	meta->timestamp = 0;
	if (!mat->full_mask)
		gaitmat_pack_scan(&mat->layout, mat->scan_mask, gm->scan);

	ret = iio_push_to_buffers_with_timestamp(mat->indio_dev, gm->scan,
						 gm->frame_ts);
	if (ret) {
		gaitmat_count(gm, GAITMAT_ERR_OVERRUN, ret, GAITMAT_CNT_OVERRUN,
			      1);
		return;
	}
	trace_gaitmat_frame_pushed(gm->id, mat->seq64, hdr->clock_us,
				   gm->frame_ts, mat->layout.scan_bytes);
}

static void gaitmat_rx_frame(struct gaitmat *gm, size_t len)
{
	const u8 *body = gm_body(gm->rx_buf);
	struct gaitmat_mat *mat;
	struct gm_hdr hdr;
	int ret;

	/*
	 * A frame with a good CRC proves the controller is there, and counts
	 * whatever its header says: a type this driver does not know may be
	 * a compatible addition of a later protocol version (section 12),
	 * which is dropped and also counted as a frame error.
	 */
	gm->cnt[GAITMAT_CNT_FRAMES]++;
	gm->last_rx = jiffies;

	ret = gm_parse_hdr(gm->rx_buf, len, &hdr);
	if (ret) {
		gaitmat_rx_error(gm, ret);
		return;
	}

	switch (hdr.type) {
	case GM_T_DEVINFO:
		gaitmat_rx_devinfo(gm, body, hdr.body_len);
		break;
	case GM_T_DENSE:
	case GM_T_SPARSE:
		gaitmat_rx_data(gm, &hdr, body);
		break;
	case GM_T_STATUS:
		gaitmat_rx_status(gm, body, hdr.body_len);
		break;
	case GM_T_ACK:
		gaitmat_rx_ack(gm, body, hdr.body_len);
		break;
	case GM_T_CALIB:
		/* Gains are applied downstream; only check the frame here. */
		mat = gaitmat_live_mat(gm);
		if (mat) {
			struct gm_calib cal;

			ret = gm_parse_calib(&mat->di, body, hdr.body_len, &cal);
			if (ret)
				gaitmat_rx_error(gm, ret);
		}
		break;
	default:
		/* A host command coming back: a loop or a confused peer. */
		gaitmat_rx_error(gm, -GM_ETYPE);
		break;
	}
}

/**
 * gaitmat_core_receive() - bytes from the controller
 * @gm: the link
 * @data: received bytes, in order
 * @len: how many
 *
 * Called in process context by the transport (serdev's receive_buf, the
 * virtual transport's write). Never waits for a reader: a scan that does
 * not fit in the IIO buffer is dropped and counted as an overrun.
 */
void gaitmat_core_receive(struct gaitmat *gm, const u8 *data, size_t len)
{
	bool frame_start;
	size_t used;
	int result;
	s64 now;

	mutex_lock(&gm->rx_lock);
	if (gm->dead)
		goto out;
	/* Frames are stamped with the arrival of the chunk they start in. */
	now = gm->mat ? iio_get_time_ns(gm->mat->indio_dev) : ktime_get_ns();
	while (len) {
		used = gm_rx_feed(&gm->rx, data, len, &result, &frame_start);
		if (frame_start) {
			gm->frame_ts = now;
			trace_gaitmat_frame_start(gm->id);
		}
		if (result > 0)
			gaitmat_rx_frame(gm, result);
		else if (result < 0)
			gaitmat_rx_error(gm, result);
		data += used;
		len -= used;
	}
out:
	mutex_unlock(&gm->rx_lock);
}
EXPORT_SYMBOL_NS_GPL(gaitmat_core_receive, GAITMAT_NS);

/**
 * gaitmat_core_start() - the transport can carry bytes both ways
 * @gm: the link
 *
 * Asks the controller to announce itself (it may have booted before the
 * link came up) and starts watching for silence.
 */
void gaitmat_core_start(struct gaitmat *gm)
{
	mutex_lock(&gm->rx_lock);
	gm->last_rx = jiffies;
	gm->last_ping = jiffies;
	mutex_unlock(&gm->rx_lock);
	gaitmat_command(gm, NULL, GM_T_CMD_GET_INFO, NULL, 0, false);
	schedule_delayed_work(&gm->watchdog, max(gaitmat_silence() / 4, 1UL));
}
EXPORT_SYMBOL_NS_GPL(gaitmat_core_start, GAITMAT_NS);

static void gaitmat_core_teardown(void *data)
{
	struct gaitmat *gm = data;
	struct gaitmat_mat *old;
	bool streaming;

	mutex_lock(&gm->rx_lock);
	streaming = gm->mat && gm->mat->streaming;
	mutex_unlock(&gm->rx_lock);
	/* Unbind or unload while capturing: let the controller rest. */
	if (streaming)
		gaitmat_command(gm, NULL, GM_T_CMD_STOP, NULL, 0, false);

	mutex_lock(&gm->rx_lock);
	gm->dead = true;
	gaitmat_abort_command(gm);
	mutex_unlock(&gm->rx_lock);

	cancel_delayed_work_sync(&gm->watchdog);
	cancel_work_sync(&gm->work);

	mutex_lock(&gm->lock);
	mutex_lock(&gm->rx_lock);
	old = gm->mat ? gaitmat_retire(gm) : NULL;
	mutex_unlock(&gm->rx_lock);
	if (old)
		gaitmat_mat_remove(gm, old);
	mutex_unlock(&gm->lock);
}

static void gaitmat_kvfree(void *p)
{
	kvfree(p);
}

static void *gaitmat_devm_kvzalloc(struct device *dev, size_t size)
{
	void *p = kvzalloc(size, GFP_KERNEL);

	if (!p || devm_add_action_or_reset(dev, gaitmat_kvfree, p))
		return NULL;
	return p;
}

static void gaitmat_ida_free(void *data)
{
	ida_free(&gaitmat_ida, (int)(long)data);
}

static struct dentry *gaitmat_debugfs_root;

static void gaitmat_debugfs_remove(void *data)
{
	debugfs_remove_recursive(data);
}

/*
 * The counters are diagnostics, not ABI: debugfs, one file per counter,
 * named after the transport device (the IIO device's label). Failures only
 * cost the files; removal waits for readers, before @gm is freed.
 */
static void gaitmat_debugfs_init(struct gaitmat *gm)
{
	unsigned int i;

	gm->debugfs = debugfs_create_dir(dev_name(gm->dev),
					 gaitmat_debugfs_root);
	for (i = 0; i < GAITMAT_CNT_NUM; i++) {
		gm->cnt_files[i].gm = gm;
		gm->cnt_files[i].idx = i;
		debugfs_create_file_unsafe(gaitmat_cnt_names[i], 0444,
					   gm->debugfs, &gm->cnt_files[i],
					   &gaitmat_cnt_fops);
	}
	if (devm_add_action_or_reset(gm->dev, gaitmat_debugfs_remove,
				     gm->debugfs))
		dev_warn(gm->dev, "no debugfs counters\n");
}

/**
 * devm_gaitmat_core_probe() - set up the core for one transport device
 * @dev: the transport's device; IIO devices appear as its children
 * @ops: how to send bytes to the controller
 * @priv: passed to @ops
 *
 * The transport then feeds gaitmat_core_receive() and calls
 * gaitmat_core_start() once bytes can flow both ways. Everything is undone
 * by devres when @dev is unbound; the transport must stop calling
 * gaitmat_core_receive() before that (devres order does it when the port
 * is opened after this call).
 *
 * Return: the link, or an ERR_PTR().
 */
struct gaitmat *devm_gaitmat_core_probe(struct device *dev,
					const struct gaitmat_transport_ops *ops,
					void *priv)
{
	struct gaitmat *gm;
	int ret;

	gm = devm_kzalloc(dev, sizeof(*gm), GFP_KERNEL);
	if (!gm)
		return ERR_PTR(-ENOMEM);
	gm->dev = dev;
	gm->ops = ops;
	gm->priv = priv;

	gm->id = ida_alloc(&gaitmat_ida, GFP_KERNEL);
	if (gm->id < 0)
		return ERR_PTR(gm->id);
	ret = devm_add_action_or_reset(dev, gaitmat_ida_free,
				       (void *)(long)gm->id);
	if (ret)
		return ERR_PTR(ret);

	gm->rx_buf = gaitmat_devm_kvzalloc(dev, GM_MAX_RAW);
	gm->sensels = gaitmat_devm_kvzalloc(dev, GM_MAX_SENSELS * sizeof(u16));
	gm->scan = gaitmat_devm_kvzalloc(dev, GM_MAX_TILES * GM_MAX_ROWS *
					 GM_MAX_COLS * sizeof(u16) +
					 GAITMAT_META_BYTES);
	if (!gm->rx_buf || !gm->sensels || !gm->scan)
		return ERR_PTR(-ENOMEM);
	gm_rx_init(&gm->rx, gm->rx_buf, GM_MAX_RAW);

	mutex_init(&gm->lock);
	mutex_init(&gm->rx_lock);
	mutex_init(&gm->cmd_lock);
	init_completion(&gm->ack_done);
	INIT_WORK(&gm->work, gaitmat_work);
	INIT_DELAYED_WORK(&gm->watchdog, gaitmat_watchdog);

	ret = devm_add_action_or_reset(dev, gaitmat_core_teardown, gm);
	if (ret)
		return ERR_PTR(ret);

	gaitmat_debugfs_init(gm);
	dev_info(dev, "gaitmat link %d\n", gm->id);
	return gm;
}
EXPORT_SYMBOL_NS_GPL(devm_gaitmat_core_probe, GAITMAT_NS);

static int __init gaitmat_core_init(void)
{
	gaitmat_debugfs_root = debugfs_create_dir("gaitmat", NULL);
	return 0;
}
module_init(gaitmat_core_init);

static void __exit gaitmat_core_exit(void)
{
	debugfs_remove_recursive(gaitmat_debugfs_root);
}
module_exit(gaitmat_core_exit);

MODULE_DESCRIPTION("gaitmat pressure-sensing gait mat: IIO core");
MODULE_LICENSE("GPL");
