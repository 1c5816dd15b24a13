// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests of the gaitmat core: its pure layout helpers, and the device
 * life cycle played through the virtual transport (announce, register,
 * push, silence, reset, removal) with exact counters.
 *
 * This file is not a translation unit of its own: driver/gaitmat_virt.c
 * includes it at its end when CONFIG_GAITMAT_CORE_KUNIT_TEST is set (as
 * fs/ext4/mballoc.c includes mballoc-test.c), because a KUnit test runs in
 * a kernel thread and cannot hand the misc device's read() and write()
 * user-space pointers. The tests open a virtual controller with
 * gaitmat_virt_open() on a zeroed struct file, feed it bytes through
 * gaitmat_virt_feed(), the very function write() calls once the bytes are
 * copied in, and a controller thread takes the host's commands with
 * gaitmat_virt_take(), as read() does, and answers them as the userspace
 * emulator would (ACKs; DEVINFO for GET_INFO when asked to).
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/iio/buffer_impl.h>
#include <linux/iio/iio.h>
#include <linux/kthread.h>
#include <linux/notifier.h>

/* The geometry most tests announce. */
#define GMK_TILES	2
#define GMK_ROWS	3
#define GMK_COLS	5
#define GMK_SENSELS	(GMK_TILES * GMK_ROWS * GMK_COLS)
/* Row channels hold 16 values (the minimum repeat), 32 bytes each. */
#define GMK_REPEAT	16	/* one 16-sensel element per row */
#define GMK_SCAN_BYTES	(GMK_TILES * GMK_ROWS * GMK_REPEAT * 2 + 32)
/* Rows, the per-frame channels, the timestamp. */
#define GMK_CHANNELS	(GMK_TILES * GMK_ROWS + GAITMAT_M_NUM + 1)
#define GMK_BOOT_A	0x5eed0001
#define GMK_BOOT_B	0x5eed0002

/* The core's defaults (module parameters silence_ms and ack_timeout_ms). */
#define GMK_SILENCE_MS	2000
#define GMK_ACK_MS	500
/* How long registration work may take on a slow, KASAN-instrumented UML. */
#define GMK_WAIT_MS	3000

/* Host command types are 0x81..0x85. */
#define GMK_CMD(type)	((type) & 0x7f)
#define GMK_N_CMD	8

struct gmk_watch;

struct gmk_ctrl {
	struct kunit *test;
	struct file *file;	/* stands in for an open /dev/gaitmat-virt */
	struct gaitmat_virt *vc;
	struct task_struct *thread;
	struct task_struct *feeder;	/* a second writer, if a test wants one */
	struct gmk_watch *watch;	/* an IIO bus notifier, if registered */
	char *page;		/* sysfs_emit() wants a page */

	/* Protects everything below; the controller thread shares it. */
	struct mutex lock;
	struct gm_devinfo di;	/* what the controller announces */
	bool answer_info;	/* answer GET_INFO with a DEVINFO */
	int ack_result;		/* GM_ACK_*, or -1: never answer */
	unsigned int n_cmds[GMK_N_CMD];
	u16 last_rate;		/* body of the last SET_RATE */
	struct gm_rx rx;	/* the controller's receiver for host frames */
	u8 rx_buf[64];
};

static void gmk_devinfo(struct gm_devinfo *di, u8 n_tiles, u8 rows, u8 cols,
			u32 boot_id)
{
	static const u16 rates[] = { 50, 100, 200 };
	unsigned int i;

	memset(di, 0, sizeof(*di));
	strscpy(di->serial, "KT-0002", sizeof(di->serial));
	di->fw_major = 1;
	di->fw_patch = 7;
	di->boot_id = boot_id;
	di->n_tiles = n_tiles;
	di->rows = rows;
	di->cols = cols;
	di->sensel_bits = GM_SENSEL_BITS;
	di->pitch_um = 8467;
	di->full_scale_kpa = 600;
	di->rate_hz = 100;
	di->n_rates = ARRAY_SIZE(rates);
	memcpy(di->rates, rates, sizeof(rates));
	di->baud = 3000000;
	for (i = 0; i < n_tiles; i++)
		di->tiles[i].x_mm = 500 * i;
}

/* ---- The controller side ---------------------------------------------- */

/* Bytes from the controller, as write() hands them on. */
static void gmk_send(struct gmk_ctrl *c, const u8 *data, size_t len)
{
	gaitmat_virt_feed(c->vc, data, len);
}

/*
 * One frame on the wire, after a delimiter (an empty frame, ignored) as a
 * controller sends after boot. Usable from the controller thread: no
 * KUnit assertion here.
 */
static int gmk_send_frame(struct gmk_ctrl *c, u8 type, u8 flags, u32 seq,
			  const u8 *body, size_t len)
{
	struct gm_hdr hdr = {
		.type = type, .flags = flags, .body_len = len, .seq = seq,
		.clock_us = 10000ULL * seq + 123,
	};
	long raw_len, wire_len;
	u8 *raw, *wire;
	int ret = 0;

	raw = kmalloc(GM_MAX_RAW, GFP_KERNEL);
	wire = kmalloc(GM_MAX_WIRE + 1, GFP_KERNEL);
	if (!raw || !wire) {
		ret = -ENOMEM;
		goto out;
	}
	raw_len = gm_build_frame(raw, GM_MAX_RAW, &hdr, body);
	wire[0] = GM_DELIM;
	wire_len = raw_len < 0 ? raw_len :
		   gm_cobs_encode(raw, raw_len, wire + 1, GM_MAX_WIRE);
	if (wire_len < 0) {
		ret = -EINVAL;
		goto out;
	}
	gmk_send(c, wire, wire_len + 1);
out:
	kfree(wire);
	kfree(raw);
	return ret;
}

static int gmk_announce_di(struct gmk_ctrl *c, const struct gm_devinfo *di)
{
	u8 body[GM_DEVINFO_FIXED_LEN + GM_MAX_TILES * GM_DEVINFO_TILE_LEN];
	long len;

	len = gm_encode_devinfo(di, body, sizeof(body));
	if (len < 0)
		return -EINVAL;
	return gmk_send_frame(c, GM_T_DEVINFO, 0, 0, body, len);
}

static int gmk_announce(struct gmk_ctrl *c)
{
	struct gm_devinfo di;

	mutex_lock(&c->lock);
	di = c->di;
	mutex_unlock(&c->lock);
	return gmk_announce_di(c, &di);
}

/* A host frame reached the controller: count it and answer like firmware. */
static void gmk_ctrl_command(struct gmk_ctrl *c, const u8 *raw, size_t len)
{
	struct gm_ack ack = { 0 };
	bool info = false, answer = false;
	struct gm_hdr hdr;
	u8 body[GM_ACK_LEN];
	u16 rate;

	if (gm_parse_hdr(raw, len, &hdr) || !(hdr.type & 0x80))
		return;
	mutex_lock(&c->lock);
	c->n_cmds[GMK_CMD(hdr.type) % GMK_N_CMD]++;
	if (hdr.type == GM_T_CMD_SET_RATE &&
	    !gm_parse_set_rate(gm_body(raw), hdr.body_len, &rate))
		c->last_rate = rate;
	if (hdr.type == GM_T_CMD_GET_INFO) {
		info = c->answer_info;
	} else if (c->ack_result >= 0) {
		answer = true;
		ack.cmd = hdr.type;
		ack.result = c->ack_result;
		ack.cmd_seq = hdr.seq;
	}
	mutex_unlock(&c->lock);

	if (info)
		gmk_announce(c);
	if (answer && gm_encode_ack(&ack, body, sizeof(body)) == GM_ACK_LEN)
		gmk_send_frame(c, GM_T_ACK, 0, 0, body, GM_ACK_LEN);
}

/* The controller process: reads what the host sends, as read() would. */
static int gmk_ctrl_thread(void *data)
{
	struct gmk_ctrl *c = data;
	struct gaitmat_virt *vc = c->vc;
	size_t n, off, used;
	u8 buf[128];
	bool start;
	int res;

	while (!kthread_should_stop()) {
		wait_event_interruptible_timeout(vc->tx_wait,
						 !kfifo_is_empty(&vc->tx) ||
						 kthread_should_stop(),
						 HZ / 10);
		n = gaitmat_virt_take(vc, buf, sizeof(buf));
		for (off = 0; off < n; off += used) {
			used = gm_rx_feed(&c->rx, buf + off, n - off, &res,
					  &start);
			if (res > 0)
				gmk_ctrl_command(c, c->rx.buf, res);
		}
	}
	return 0;
}

static unsigned int gmk_cmds(struct gmk_ctrl *c, u8 type)
{
	unsigned int n;

	mutex_lock(&c->lock);
	n = c->n_cmds[GMK_CMD(type) % GMK_N_CMD];
	mutex_unlock(&c->lock);
	return n;
}

/* Wait until the controller has seen more than @n commands of @type. */
static bool gmk_wait_cmd(struct gmk_ctrl *c, u8 type, unsigned int n,
			 unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);

	while (gmk_cmds(c, type) <= n) {
		if (time_after(jiffies, end))
			return false;
		msleep(20);
	}
	return true;
}

static void gmk_unwatch(struct gmk_ctrl *c);

static void gmk_unplug(struct gmk_ctrl *c)
{
	gmk_unwatch(c);
	if (c->feeder) {
		kthread_stop(c->feeder);
		c->feeder = NULL;
	}
	if (c->thread) {
		kthread_stop(c->thread);
		c->thread = NULL;
	}
	if (c->vc) {
		/* close(): unregisters the platform device and frees vc. */
		gaitmat_virt_release(NULL, c->file);
		c->vc = NULL;
	}
}

static int gmk_init(struct kunit *test)
{
	struct gmk_ctrl *c;
	int ret;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->test = test;
	mutex_init(&c->lock);
	gmk_devinfo(&c->di, GMK_TILES, GMK_ROWS, GMK_COLS, GMK_BOOT_A);
	c->ack_result = GM_ACK_OK;
	gm_rx_init(&c->rx, c->rx_buf, sizeof(c->rx_buf));
	c->page = (char *)get_zeroed_page(GFP_KERNEL);
	c->file = kunit_kzalloc(test, sizeof(*c->file), GFP_KERNEL);
	if (!c->page || !c->file)
		return -ENOMEM;
	test->priv = c;

	/* open(): plugs in a controller, the core probes and says hello. */
	ret = gaitmat_virt_open(NULL, c->file);
	if (ret)
		return ret;
	c->vc = c->file->private_data;
	c->thread = kthread_run(gmk_ctrl_thread, c, "gmk-ctrl");
	if (IS_ERR(c->thread)) {
		ret = PTR_ERR(c->thread);
		c->thread = NULL;
		return ret;
	}
	return 0;
}

static void gmk_exit(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;

	if (!c)
		return;
	gmk_unplug(c);
	free_page((unsigned long)c->page);
}

/* ---- The host side: the IIO device and its attributes ---------------------- */

static int gmk_is_iio(struct device *dev, void *data)
{
	return dev->bus == &iio_bus_type;
}

/* The registered IIO device below the link, with a reference, or NULL. */
static struct iio_dev *gmk_get_iio(struct gmk_ctrl *c)
{
	struct device *dev;

	dev = device_find_child(&c->vc->pdev->dev, NULL, gmk_is_iio);
	return dev ? dev_to_iio_dev(dev) : NULL;
}

static void gmk_put_iio(struct iio_dev *indio_dev)
{
	if (indio_dev)
		put_device(&indio_dev->dev);
}

/* Wait for an IIO device other than @old; the reference goes to the caller. */
static struct iio_dev *gmk_wait_iio(struct gmk_ctrl *c, struct iio_dev *old,
				    unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);
	struct iio_dev *indio_dev;

	for (;;) {
		indio_dev = gmk_get_iio(c);
		if (indio_dev && indio_dev != old)
			return indio_dev;
		gmk_put_iio(indio_dev);
		if (time_after(jiffies, end))
			return NULL;
		msleep(20);
	}
}

static bool gmk_wait_unregistered(struct iio_dev *indio_dev, unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);

	while (device_is_registered(&indio_dev->dev)) {
		if (time_after(jiffies, end))
			return false;
		msleep(20);
	}
	return true;
}

/* An attribute of the device as sysfs would show it, newline removed. */
static const char *gmk_show(struct gmk_ctrl *c, struct iio_dev *indio_dev,
			    const char *name)
{
	struct device_attribute *da;
	struct attribute **a;
	ssize_t n;

	if (!indio_dev->info || !indio_dev->info->attrs)
		return NULL;
	for (a = indio_dev->info->attrs->attrs; *a; a++) {
		if (strcmp((*a)->name, name))
			continue;
		da = container_of(*a, struct device_attribute, attr);
		n = da->show(&indio_dev->dev, da, c->page);
		if (n <= 0 || n >= PAGE_SIZE)
			return NULL;
		c->page[n] = '\0';
		if (c->page[n - 1] == '\n')
			c->page[n - 1] = '\0';
		return c->page;
	}
	return NULL;
}

/*
 * A counter, without KUnit assertions: usable from any thread. Counters
 * are debugfs files, which KUnit has no mount to read.
 */
static int gmk_read_counter(struct gmk_ctrl *c, struct iio_dev *indio_dev,
			    const char *name, u64 *v)
{
	return gaitmat_counter_read(indio_dev, name, v);
}

static u64 gmk_counter(struct kunit *test, struct iio_dev *indio_dev,
		       const char *name)
{
	struct gmk_ctrl *c = test->priv;
	u64 v = 0;

	KUNIT_ASSERT_EQ_MSG(test, gmk_read_counter(c, indio_dev, name, &v), 0,
			    "attribute %s", name);
	return v;
}

static int gmk_send_status(struct gmk_ctrl *c, u32 dropped)
{
	struct gm_status st = { .state = GM_STATE_IDLE };
	u8 body[GM_STATUS_LEN];

	mutex_lock(&c->lock);
	st.rate_hz = c->di.rate_hz;
	st.boot_id = c->di.boot_id;
	mutex_unlock(&c->lock);
	st.scans_dropped = dropped;
	if (gm_encode_status(&st, body, sizeof(body)) != GM_STATUS_LEN)
		return -EINVAL;
	return gmk_send_frame(c, GM_T_STATUS, 0, 0, body, GM_STATUS_LEN);
}

/*
 * Announce and wait for the new device; the reference goes to the caller.
 * The core routes frames to a device before it registers it, so the first
 * STATUS after the device shows up must count at once.
 */
static struct iio_dev *gmk_register(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev;

	KUNIT_ASSERT_EQ(test, gmk_announce(c), 0);
	indio_dev = gmk_wait_iio(c, NULL, GMK_WAIT_MS);
	KUNIT_ASSERT_NOT_NULL_MSG(test, indio_dev,
				  "no IIO device %u ms after DEVINFO",
				  GMK_WAIT_MS);
	KUNIT_ASSERT_EQ(test, gmk_send_status(c, 1), 0);
	KUNIT_ASSERT_EQ_MSG(test,
			    gmk_counter(test, indio_dev, "controller_dropped"),
			    1ULL, "device registered but not attached");
	KUNIT_ASSERT_EQ(test, gmk_send_status(c, 0), 0);
	return indio_dev;
}

/* ---- A capture buffer: an in-kernel consumer, as buffer-cb is ------------------ */

struct gmk_capture {
	struct iio_buffer buffer;
	u8 *data;
	size_t size;		/* bytes of room */
	size_t used;
	unsigned int scans;
	bool released;
};

static struct gmk_capture *gmk_cap(struct iio_buffer *buffer)
{
	return container_of(buffer, struct gmk_capture, buffer);
}

/* Full: refuse the scan as a full kfifo does. */
static int gmk_cap_store(struct iio_buffer *buffer, const void *data)
{
	struct gmk_capture *cap = gmk_cap(buffer);

	if (cap->size - cap->used < buffer->bytes_per_datum)
		return -EBUSY;
	memcpy(cap->data + cap->used, data, buffer->bytes_per_datum);
	cap->used += buffer->bytes_per_datum;
	cap->scans++;
	return 0;
}

static int gmk_cap_set_bpd(struct iio_buffer *buffer, size_t bpd)
{
	buffer->bytes_per_datum = bpd;
	return 0;
}

static void gmk_cap_release(struct iio_buffer *buffer)
{
	gmk_cap(buffer)->released = true;
}

static const struct iio_buffer_access_funcs gmk_cap_access = {
	.store_to = gmk_cap_store,
	.set_bytes_per_datum = gmk_cap_set_bpd,
	.release = gmk_cap_release,
	.modes = INDIO_BUFFER_SOFTWARE,
};

/*
 * A consumer buffer, not enabled yet, taking every scan element of a device
 * with @channels channels (the timestamp as @timestamp says), with room for
 * @scans scans of @bytes. The test holds the buffer's first reference.
 */
static struct gmk_capture *gmk_capture_new(struct kunit *test,
					   unsigned int channels,
					   unsigned int scans, size_t bytes,
					   bool timestamp)
{
	struct gmk_capture *cap;

	cap = kunit_kzalloc(test, sizeof(*cap), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cap);
	cap->size = scans * bytes;
	cap->data = kunit_kzalloc(test, cap->size, GFP_KERNEL);
	cap->buffer.scan_mask = kunit_kcalloc(test, BITS_TO_LONGS(channels),
					      sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cap->data);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, cap->buffer.scan_mask);
	iio_buffer_init(&cap->buffer);
	cap->buffer.access = &gmk_cap_access;
	/* All channels but the timestamp, which has its own switch. */
	bitmap_set(cap->buffer.scan_mask, 0, channels - 1);
	cap->buffer.scan_timestamp = timestamp;
	return cap;
}

/* Every scan element and the timestamp, room for @scans scans of @bytes. */
static struct gmk_capture *gmk_capture_on(struct kunit *test,
					  struct iio_dev *indio_dev,
					  unsigned int scans, size_t bytes)
{
	struct gmk_capture *cap;

	KUNIT_ASSERT_EQ(test, indio_dev->masklength,
			(unsigned int)indio_dev->num_channels);
	cap = gmk_capture_new(test, indio_dev->num_channels, scans, bytes,
			      true);
	KUNIT_ASSERT_EQ(test, iio_update_buffers(indio_dev, &cap->buffer, NULL),
			0);
	KUNIT_ASSERT_EQ(test, cap->buffer.bytes_per_datum, bytes);
	/*
	 * Hand the buffer over: from now on only the IIO core holds it, so
	 * ->release tells when the core lets go of it.
	 */
	iio_buffer_put(&cap->buffer);
	KUNIT_EXPECT_FALSE(test, cap->released);
	return cap;
}

/* ---- Pure helpers -------------------------------------------------------- */

struct gmk_layout_case {
	const char *name;
	unsigned int n_tiles, rows, cols;
	int ret;
	unsigned int chunks, meta_offset;
};

static const struct gmk_layout_case gmk_layout_cases[] = {
	{ "1x1x1", 1, 1, 1, 0, 1, 32 },
	{ "2x3x5", 2, 3, 5, 0, 1, 6 * 32 },
	{ "1x4x16", 1, 4, 16, 0, 1, 4 * 32 },
	{ "1x4x17", 1, 4, 17, 0, 2, 4 * 64 },
	{ "3x64x33", 3, 64, 33, 0, 3, 192 * 96 },
	{ "8x64x64", 8, 64, 64, 0, 4, 512 * 128 },
	{ "0 tiles", 0, 4, 4, -EINVAL },
	{ "9 tiles", 9, 4, 4, -EINVAL },
	{ "0 rows", 1, 0, 4, -EINVAL },
	{ "65 rows", 1, 65, 4, -EINVAL },
	{ "0 cols", 1, 4, 0, -EINVAL },
	{ "65 cols", 1, 4, 65, -EINVAL },
};

static void gmk_layout_desc(const struct gmk_layout_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gmk_layout, gmk_layout_cases, gmk_layout_desc);

/* Enable scan elements [first, first + n) of @mask. */
static void gmk_mask(unsigned long *mask, unsigned int nbits,
		     unsigned int first, unsigned int n)
{
	bitmap_zero(mask, nbits);
	bitmap_set(mask, first, n);
}

/*
 * Rows are cut into 32-byte elements of 16 sensels; the 32-byte per-frame
 * block (sequence, clock, flags, missing, timestamp) ends the scan. The
 * kernel and libiio 0.24 agree on the size of the full scan, the rows
 * alone and the per-frame block alone; rows with the timestamp but not the
 * per-frame channels leave the kernel padding libiio does not see.
 */
static void gmk_test_layout(struct kunit *test)
{
	const struct gmk_layout_case *c = test->param_value;
	unsigned int kernel, libiio, i, rows, sum = 0;
	struct gaitmat_layout l;
	unsigned long *mask;
	int ret;

	ret = gaitmat_layout_init(&l, c->n_tiles, c->rows, c->cols);
	KUNIT_ASSERT_EQ(test, ret, c->ret);
	if (ret)
		return;
	rows = c->n_tiles * c->rows * c->chunks;
	KUNIT_EXPECT_EQ(test, l.chunks, c->chunks);
	KUNIT_EXPECT_EQ(test, l.n_row_chans, rows);
	KUNIT_EXPECT_EQ(test, l.n_elems, rows + GAITMAT_M_NUM + 1);
	KUNIT_EXPECT_EQ(test, l.meta_offset, c->meta_offset);
	KUNIT_EXPECT_EQ(test, l.scan_bytes, c->meta_offset + 32);
	for (i = 0; i < l.n_elems; i++)
		sum += gaitmat_elem_bytes(&l, i);
	KUNIT_EXPECT_EQ(test, sum, l.scan_bytes);
	KUNIT_EXPECT_EQ(test, gaitmat_elem_bytes(&l, 0), 32U);
	KUNIT_EXPECT_EQ(test, gaitmat_elem_bytes(&l, rows + GAITMAT_M_SEQ), 8U);
	KUNIT_EXPECT_EQ(test, gaitmat_elem_bytes(&l, rows + GAITMAT_M_FLAGS),
			4U);
	KUNIT_EXPECT_EQ(test, gaitmat_elem_bytes(&l, l.n_elems), 0U);
	KUNIT_EXPECT_EQ(test, gaitmat_elem_bytes(&l, l.n_elems - 1), 8U);

	mask = bitmap_zalloc(l.n_elems, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, mask);
	gmk_mask(mask, l.n_elems, 0, l.n_elems - 1);
	gaitmat_scan_sizes(&l, mask, true, &kernel, &libiio);
	KUNIT_EXPECT_EQ(test, kernel, l.scan_bytes);
	KUNIT_EXPECT_EQ(test, libiio, l.scan_bytes);
	/* Rows only. */
	gmk_mask(mask, l.n_elems, 0, rows);
	gaitmat_scan_sizes(&l, mask, false, &kernel, &libiio);
	KUNIT_EXPECT_EQ(test, kernel, l.meta_offset);
	KUNIT_EXPECT_EQ(test, libiio, l.meta_offset);
	/* The per-frame block with the timestamp: 32 bytes. */
	gmk_mask(mask, l.n_elems, rows, GAITMAT_M_NUM);
	gaitmat_scan_sizes(&l, mask, true, &kernel, &libiio);
	KUNIT_EXPECT_EQ(test, kernel, 32U);
	KUNIT_EXPECT_EQ(test, libiio, 32U);
	/*
	 * Rows and the timestamp: the kernel pads to the 32-byte element
	 * and libiio 0.24 does not; the driver must refuse that mask rather
	 * than let libiio read every other scan at the wrong offset.
	 */
	gmk_mask(mask, l.n_elems, 0, rows);
	gaitmat_scan_sizes(&l, mask, true, &kernel, &libiio);
	KUNIT_EXPECT_EQ(test, libiio, l.meta_offset + 8);
	KUNIT_EXPECT_EQ(test, kernel, l.meta_offset + 32);
	bitmap_free(mask);
}

struct gmk_seq_case {
	const char *name;
	bool valid;
	u64 before;
	u32 seq;
	int ret;
	u64 after;
	u32 missing;
};

static const struct gmk_seq_case gmk_seq_cases[] = {
	{ "first frame", false, 0, 77, 0, 77, 0 },
	{ "next", true, 77, 78, 0, 78, 0 },
	{ "two lost", true, 77, 80, 0, 80, 2 },
	{ "repeated", true, 77, 77, -EINVAL, 77, 0 },
	{ "stale", true, 77, 76, -EINVAL, 77, 0 },
	{ "wrap", true, 0xffffffffULL, 0, 0, 0x100000000ULL, 0 },
	{ "wrap with a gap", true, 0x1fffffffeULL, 1, 0, 0x200000001ULL, 2 },
	{ "largest step forward", true, 10, 10 + 0x7fffffffU, 0,
	  10 + 0x7fffffffULL, 0x7ffffffe },
	{ "half the space is backwards", true, 10, 10 + 0x80000000U, -EINVAL,
	  10, 0 },
};

static void gmk_seq_desc(const struct gmk_seq_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gmk_seq, gmk_seq_cases, gmk_seq_desc);

static void gmk_test_seq_advance(struct kunit *test)
{
	const struct gmk_seq_case *c = test->param_value;
	u64 seq64 = c->before;
	bool valid = c->valid;
	u32 missing = 0xdead;

	KUNIT_EXPECT_EQ(test, gaitmat_seq_advance(&seq64, &valid, c->seq,
						  &missing), c->ret);
	KUNIT_EXPECT_TRUE(test, valid);
	KUNIT_EXPECT_EQ(test, seq64, c->after);
	KUNIT_EXPECT_EQ(test, missing, c->missing);
}

/* The test image of the data tests. */
static void gmk_image(u16 *img)
{
	memset(img, 0, GMK_SENSELS * sizeof(*img));
	img[1 * GMK_COLS + 2] = 100;			/* tile 0 (1, 2) */
	img[GMK_ROWS * GMK_COLS + 0] = 10;		/* tile 1 (0, 0) */
	img[GMK_ROWS * GMK_COLS + 1] = 30;		/* tile 1 (0, 1) */
	img[(GMK_ROWS + 2) * GMK_COLS + 4] = 4095;	/* tile 1 (2, 4) */
}

/* Row r of the scan holds row r of the image, zero-padded to 16. */
static void gmk_expect_rows(struct kunit *test, const u8 *scan,
			    const u16 *img)
{
	const __le16 *row = (const __le16 *)scan;
	unsigned int r, col;

	for (r = 0; r < GMK_TILES * GMK_ROWS; r++, row += GMK_REPEAT)
		for (col = 0; col < GMK_REPEAT; col++)
			KUNIT_EXPECT_EQ_MSG(test, le16_to_cpu(row[col]),
					    col < GMK_COLS ?
					    img[r * GMK_COLS + col] : 0,
					    "row %u col %u", r, col);
}

static void gmk_test_fill_scan(struct kunit *test)
{
	struct gaitmat_layout l;
	u16 img[GMK_SENSELS];
	u8 *scan;

	scan = kunit_kmalloc(test, GMK_SCAN_BYTES, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, scan);
	memset(scan, 0xa5, GMK_SCAN_BYTES);
	KUNIT_ASSERT_EQ(test, gaitmat_layout_init(&l, GMK_TILES, GMK_ROWS,
						  GMK_COLS), 0);
	gmk_image(img);
	gaitmat_fill_scan(&l, img, scan);
	gmk_expect_rows(test, scan, img);
	/* The meta block is not the rows' business. */
	KUNIT_EXPECT_EQ(test, scan[l.meta_offset], 0xa5);
}

static struct kunit_case gmk_helper_cases[] = {
	KUNIT_CASE_PARAM(gmk_test_layout, gmk_layout_gen_params),
	KUNIT_CASE_PARAM(gmk_test_seq_advance, gmk_seq_gen_params),
	KUNIT_CASE(gmk_test_fill_scan),
	{}
};

static struct kunit_suite gmk_helper_suite = {
	.name = "gaitmat_layout",
	.test_cases = gmk_helper_cases,
};

/* ---- Life cycle ------------------------------------------------------------- */

/* At plug-in the host asks who is there, and registers nothing yet. */
static void gmk_test_start_asks_info(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	u16 img[GMK_SENSELS];
	struct iio_dev *indio_dev;

	KUNIT_EXPECT_TRUE(test, gmk_wait_cmd(c, GM_T_CMD_GET_INFO, 0,
					     GMK_WAIT_MS));
	/* Data before any announcement has no device to go to. */
	gmk_image(img);
	{
		u8 body[GM_DENSE_HDR_LEN + GMK_TILES * GM_PACKED_LEN(15)];
		long len = gm_encode_dense(&c->di, img, body, sizeof(body));

		KUNIT_ASSERT_GT(test, len, 0L);
		KUNIT_ASSERT_EQ(test, gmk_send_frame(c, GM_T_DENSE, 0, 1, body,
						     len), 0);
	}
	msleep(100);
	indio_dev = gmk_get_iio(c);
	KUNIT_EXPECT_NULL(test, indio_dev);
	gmk_put_iio(indio_dev);
}

struct gmk_geom_case {
	const char *name;
	u8 n_tiles, rows, cols;
	unsigned int chunks;
};

static const struct gmk_geom_case gmk_geom_cases[] = {
	{ "1 tile of 1x1", 1, 1, 1, 1 },
	{ "2 tiles of 3x5", 2, 3, 5, 1 },
	{ "3 tiles of 64x17", 3, 64, 17, 2 },
	{ "4 tiles of 16x48", 4, 16, 48, 3 },
	{ "8 tiles of 64x64", 8, 64, 64, 4 },
};

static void gmk_geom_desc(const struct gmk_geom_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(gmk_geom, gmk_geom_cases, gmk_geom_desc);

/*
 * DEVINFO -> an IIO device with one pressure channel per row of every
 * tile, the per-frame channels, the timestamp last, and the announcement
 * in its attributes.
 */
static void gmk_test_announce_registers(struct kunit *test)
{
	const struct gmk_geom_case *g = test->param_value;
	struct gmk_ctrl *c = test->priv;
	unsigned int n_rows = g->n_tiles * g->rows * g->chunks, i;
	const struct iio_chan_spec *ch;
	struct iio_dev *indio_dev;
	char want[32];

	mutex_lock(&c->lock);
	gmk_devinfo(&c->di, g->n_tiles, g->rows, g->cols, GMK_BOOT_A);
	mutex_unlock(&c->lock);
	indio_dev = gmk_register(test);

	KUNIT_EXPECT_STREQ(test, indio_dev->name, "gaitmat");
	KUNIT_ASSERT_EQ(test, indio_dev->num_channels,
			(int)(n_rows + GAITMAT_M_NUM + 1));
	for (i = 0; i < n_rows; i++) {
		ch = &indio_dev->channels[i];
		KUNIT_EXPECT_EQ(test, ch->type, IIO_PRESSURE);
		KUNIT_EXPECT_EQ(test, ch->scan_index, (int)i);
		KUNIT_EXPECT_EQ(test, ch->scan_type.realbits, GM_SENSEL_BITS);
		KUNIT_EXPECT_EQ(test, ch->scan_type.storagebits, 16);
		KUNIT_EXPECT_EQ(test, ch->scan_type.repeat, 16);
	}
	/* The per-frame channels are counters, none shares the scale. */
	for (; i < n_rows + GAITMAT_M_NUM; i++) {
		ch = &indio_dev->channels[i];
		KUNIT_EXPECT_EQ(test, ch->type, IIO_COUNT);
		KUNIT_EXPECT_EQ(test, ch->info_mask_shared_by_type, 0UL);
	}
	ch = &indio_dev->channels[indio_dev->num_channels - 1];
	KUNIT_EXPECT_EQ(test, ch->type, IIO_TIMESTAMP);
	KUNIT_EXPECT_EQ(test, ch->scan_index, (int)(n_rows + GAITMAT_M_NUM));

	KUNIT_EXPECT_STREQ(test, gmk_show(c, indio_dev, "serialnumber"), "KT-0002");
	/* One value per file; a tile's position only for tiles it has. */
	snprintf(want, sizeof(want), "%u", g->n_tiles);
	KUNIT_EXPECT_STREQ(test, gmk_show(c, indio_dev, "num_tiles"), want);
	snprintf(want, sizeof(want), "%u", g->rows);
	KUNIT_EXPECT_STREQ(test, gmk_show(c, indio_dev, "rows_per_tile"), want);
	snprintf(want, sizeof(want), "%u", g->cols);
	KUNIT_EXPECT_STREQ(test, gmk_show(c, indio_dev, "columns_per_tile"),
			   want);
	KUNIT_EXPECT_STREQ(test, gmk_show(c, indio_dev, "sensel_pitch_um"),
			   "8467");
	snprintf(want, sizeof(want), "tile%u_rotation_deg", g->n_tiles - 1);
	KUNIT_EXPECT_NOT_NULL(test, gmk_show(c, indio_dev, want));
	snprintf(want, sizeof(want), "tile%u_x_mm", g->n_tiles);
	KUNIT_EXPECT_NULL(test, gmk_show(c, indio_dev, want));
	KUNIT_EXPECT_NULL(test, gmk_show(c, indio_dev, "geometry"));
	KUNIT_EXPECT_STREQ(test, gmk_show(c, indio_dev, "boot_id"), "5eed0001");
	KUNIT_EXPECT_STREQ(test, gmk_show(c, indio_dev, "firmware"), "1.0.7");
	/* Counters are no sysfs attributes: one value per file, no stats. */
	KUNIT_EXPECT_NULL(test, gmk_show(c, indio_dev, "crc_errors"));
	KUNIT_EXPECT_NULL(test, gmk_show(c, indio_dev, "serial"));
	/* Counters start at zero for a new device. */
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "crc_errors"), 0ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "seq_gaps"), 0ULL);
	gmk_put_iio(indio_dev);
}

static int gmk_read_rate(struct iio_dev *indio_dev, int *val)
{
	int val2;

	return indio_dev->info->read_raw(indio_dev, &indio_dev->channels[0],
					 val, &val2, IIO_CHAN_INFO_SAMP_FREQ);
}

/* What writing in_sampling_frequency does. */
static int gmk_write_rate(struct iio_dev *indio_dev, int val)
{
	return indio_dev->info->write_raw(indio_dev, &indio_dev->channels[0],
					  val, 0, IIO_CHAN_INFO_SAMP_FREQ);
}

/* The same controller announcing again keeps its device; a rate may change. */
static void gmk_test_reannounce_keeps_device(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev, *again;
	int val;

	indio_dev = gmk_register(test);
	KUNIT_ASSERT_EQ(test, gmk_announce(c), 0);
	mutex_lock(&c->lock);
	c->di.rate_hz = 200;
	mutex_unlock(&c->lock);
	KUNIT_ASSERT_EQ(test, gmk_announce(c), 0);
	msleep(200);
	KUNIT_EXPECT_TRUE(test, device_is_registered(&indio_dev->dev));
	again = gmk_get_iio(c);
	KUNIT_EXPECT_PTR_EQ(test, again, indio_dev);
	gmk_put_iio(again);
	KUNIT_EXPECT_EQ(test, gmk_read_rate(indio_dev, &val), IIO_VAL_INT);
	KUNIT_EXPECT_EQ(test, val, 200);
	gmk_put_iio(indio_dev);
}

/* An announcement the codec rejects registers nothing. */
static void gmk_test_bad_announce_ignored(struct kunit *test)
{
	u8 body[GM_DEVINFO_FIXED_LEN + GMK_TILES * GM_DEVINFO_TILE_LEN];
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev;
	long len;

	len = gm_encode_devinfo(&c->di, body, sizeof(body));
	KUNIT_ASSERT_GT(test, len, 0L);
	body[25] = 0;	/* rows: 0 */
	KUNIT_ASSERT_EQ(test, gmk_send_frame(c, GM_T_DEVINFO, 0, 0, body, len),
			0);
	msleep(300);
	indio_dev = gmk_get_iio(c);
	KUNIT_EXPECT_NULL(test, indio_dev);
	gmk_put_iio(indio_dev);
}

static int gmk_send_image(struct gmk_ctrl *c, u8 type, u8 flags, u32 seq,
			  const u16 *img)
{
	u8 body[64];
	long len;

	len = type == GM_T_DENSE ? gm_encode_dense(&c->di, img, body,
						   sizeof(body)) :
				   gm_encode_sparse(&c->di, img, body,
						    sizeof(body));
	if (len < 0)
		return -EINVAL;
	return gmk_send_frame(c, type, flags, seq, body, len);
}

/*
 * Enabling a buffer starts the controller (START, ACKed); then every data
 * frame becomes one scan: rows, per-tile summaries, sequence, flags, gap
 * and timestamp. Disabling stops it, and later frames are not pushed.
 */
static void gmk_test_scans_pushed(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	static const struct {
		u8 type, flags;
		u32 seq, want_flags, missing;
	} frames[] = {
		{ GM_T_DENSE, 0, 100, 0, 0 },
		{ GM_T_SPARSE, 0, 101, GAITMAT_SCAN_F_SPARSE, 0 },
		{ GM_T_DENSE, GM_F_SATURATED, 104,
		  GM_F_SATURATED | GAITMAT_SCAN_F_GAP, 2 },
		{ GM_T_SPARSE, GM_F_OVERFLOW, 105,
		  GM_F_OVERFLOW | GAITMAT_SCAN_F_SPARSE, 0 },
	};
	const struct gaitmat_scan_meta *m;
	struct iio_dev *indio_dev;
	struct gmk_capture *cap;
	unsigned int i, starts, stops;
	u16 img[GMK_SENSELS];
	s64 ts, last_ts = 0;
	const u8 *scan;

	indio_dev = gmk_register(test);
	gmk_image(img);
	starts = gmk_cmds(c, GM_T_CMD_START);
	cap = gmk_capture_on(test, indio_dev, 8, GMK_SCAN_BYTES);
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_START), starts + 1);

	for (i = 0; i < ARRAY_SIZE(frames); i++)
		KUNIT_ASSERT_EQ(test, gmk_send_image(c, frames[i].type,
						     frames[i].flags,
						     frames[i].seq, img), 0);
	/* The receive path pushes synchronously. */
	KUNIT_ASSERT_EQ(test, cap->scans, (unsigned int)ARRAY_SIZE(frames));
	for (i = 0; i < ARRAY_SIZE(frames); i++) {
		scan = cap->data + i * GMK_SCAN_BYTES;
		m = (const void *)(scan + GMK_SCAN_BYTES - GAITMAT_META_BYTES);
		gmk_expect_rows(test, scan, img);
		KUNIT_EXPECT_EQ(test, le64_to_cpu(m->seq), (u64)frames[i].seq);
		KUNIT_EXPECT_EQ(test, le64_to_cpu(m->clock_us),
				10000ULL * frames[i].seq + 123);
		KUNIT_EXPECT_EQ(test, le32_to_cpu(m->flags),
				frames[i].want_flags);
		KUNIT_EXPECT_EQ(test, le32_to_cpu(m->missing),
				frames[i].missing);
		/* The timestamp is the last 8 bytes, stamped at arrival. */
		ts = le64_to_cpu(m->timestamp);
		KUNIT_EXPECT_GT(test, ts, 0LL);
		KUNIT_EXPECT_GE(test, ts, last_ts);
		last_ts = ts;
	}
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "seq_gaps"), 2ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "overruns"), 0ULL);

	stops = gmk_cmds(c, GM_T_CMD_STOP);
	KUNIT_ASSERT_EQ(test, iio_update_buffers(indio_dev, NULL, &cap->buffer),
			0);
	KUNIT_EXPECT_TRUE(test, cap->released);
	KUNIT_EXPECT_TRUE(test, gmk_wait_cmd(c, GM_T_CMD_STOP, stops, 1000));
	KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, 106, img), 0);
	KUNIT_EXPECT_EQ(test, cap->scans, (unsigned int)ARRAY_SIZE(frames));
	gmk_put_iio(indio_dev);
}

/* The device's own ring: a full buffer drops scans and counts overruns. */
static void gmk_test_ring_overruns(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev;
	struct iio_buffer *buf;
	u16 img[GMK_SENSELS];
	unsigned int i, starts;
	u64 frames;

	indio_dev = gmk_register(test);
	buf = indio_dev->buffer;
	KUNIT_ASSERT_NOT_NULL(test, buf);
	/* What writing scan_elements/ and buffer/length does. */
	bitmap_set(buf->scan_mask, 0, indio_dev->num_channels - 1);
	KUNIT_ASSERT_EQ(test, buf->access->set_length(buf, 2), 0);
	/*
	 * Without the timestamp the kernel pads the scan and libiio 0.24
	 * does not: the driver refuses such a mask before starting anything.
	 */
	buf->scan_timestamp = false;
	starts = gmk_cmds(c, GM_T_CMD_START);
	KUNIT_EXPECT_EQ(test, iio_update_buffers(indio_dev, buf, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_START), starts);
	buf->scan_timestamp = true;
	KUNIT_ASSERT_EQ(test, iio_update_buffers(indio_dev, buf, NULL), 0);
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_START), starts + 1);
	KUNIT_EXPECT_EQ(test, buf->bytes_per_datum, (size_t)GMK_SCAN_BYTES);
	/* Enabling waited for the ACK of START: nothing else is on the way. */
	frames = gmk_counter(test, indio_dev, "frames");

	gmk_image(img);
	for (i = 0; i < 5; i++)
		KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, 1 + i,
						     img), 0);
	KUNIT_EXPECT_EQ(test, buf->access->data_available(buf), (size_t)2);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "overruns"), 3ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "frames"),
			frames + 5);
	KUNIT_EXPECT_EQ(test, iio_update_buffers(indio_dev, NULL, buf), 0);
	gmk_put_iio(indio_dev);
}

/*
 * Every error class lands in its own counter, exactly once per event, and
 * the counters of the controller's own report follow its last STATUS.
 */
static void gmk_test_counters_exact(struct kunit *test)
{
	static const u8 ecobs[] = { 0x00, 0x05, 0x11, 0x00 };
	static const u8 eshort[] = { 0x00, 0x01, 0x01, 0x01, 0x00 };
	static const u32 seqs[] = { 1, 2, 5, 6, 10 };
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev;
	u8 body[64], raw[128], wire[160];
	u16 img[GMK_SENSELS];
	struct gm_hdr hdr = { .type = GM_T_DENSE, .seq = 3 };
	unsigned int i;
	long len, wlen;
	u64 frames;
	u8 *noise;

	indio_dev = gmk_register(test);
	gmk_image(img);
	/* A new device starts from zero (frames: the STATUS of the sync). */
	frames = gmk_counter(test, indio_dev, "frames");
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "crc_errors"), 0ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "resyncs"), 0ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "seq_gaps"), 0ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "frame_errors"),
			0ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "controller_dropped"),
			0ULL);

	/* Three frames with a bad CRC. */
	len = gm_encode_dense(&c->di, img, body, sizeof(body));
	KUNIT_ASSERT_GT(test, len, 0L);
	hdr.body_len = len;
	len = gm_build_frame(raw, sizeof(raw), &hdr, body);
	KUNIT_ASSERT_GT(test, len, 0L);
	raw[GM_HDR_LEN + 3] ^= 0x40;
	wire[0] = GM_DELIM;
	wlen = gm_cobs_encode(raw, len, wire + 1, sizeof(wire) - 1);
	KUNIT_ASSERT_GT(test, wlen, 0L);
	for (i = 0; i < 3; i++)
		gmk_send(c, wire, wlen + 1);

	/* Framing: a cut block, a runt, a frame longer than any can be. */
	gmk_send(c, ecobs, sizeof(ecobs));
	gmk_send(c, eshort, sizeof(eshort));
	noise = kunit_kmalloc(test, GM_MAX_RAW + 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, noise);
	memset(noise, 0x41, GM_MAX_RAW + 63);
	noise[GM_MAX_RAW + 63] = GM_DELIM;
	gmk_send(c, noise, GM_MAX_RAW + 64);

	/* Data with gaps: 1, 2, (3, 4), 5, 6, (7, 8, 9), 10. */
	for (i = 0; i < ARRAY_SIZE(seqs); i++)
		KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, seqs[i],
						     img), 0);
	/*
	 * Frame errors: a repeat, a body of the wrong size, an unknown type
	 * (which passed framing and CRC all the same: it counts in frames).
	 */
	KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, 10, img), 0);
	len = gm_encode_dense(&c->di, img, body, sizeof(body));
	KUNIT_ASSERT_EQ(test, gmk_send_frame(c, GM_T_DENSE, 0, 11, body,
					     len - 1), 0);
	KUNIT_ASSERT_EQ(test, gmk_send_frame(c, 0x07, 0, 12, body, 4), 0);

	/* The controller's own drop count, cumulative since its boot. */
	KUNIT_ASSERT_EQ(test, gmk_send_status(c, 17), 0);
	KUNIT_ASSERT_EQ(test, gmk_send_status(c, 20), 0);

	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "crc_errors"), 3ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "resyncs"), 3ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "seq_gaps"), 5ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "frame_errors"),
			3ULL);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "controller_dropped"),
			20ULL);
	/*
	 * Every frame with a good CRC: five data frames, the repeat, the
	 * short one, the unknown type, two STATUS.
	 */
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "frames"),
			frames + 10);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "overruns"), 0ULL);
	/* None of it was a reason to drop the device. */
	KUNIT_EXPECT_TRUE(test, device_is_registered(&indio_dev->dev));
	gmk_put_iio(indio_dev);
}

/*
 * A controller that falls silent is pinged at half the silence time and
 * loses its device once silence_ms have passed (the watchdog looks every
 * silence_ms / 4, so by 1.5 x silence_ms at the latest); when it speaks
 * again it comes back.
 */
static void gmk_test_silence_unregisters(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev, *back;
	unsigned int pings, waited;
	unsigned long t0;

	indio_dev = gmk_register(test);
	t0 = jiffies;
	pings = gmk_cmds(c, GM_T_CMD_GET_INFO);

	msleep(GMK_SILENCE_MS * 3 / 4);
	KUNIT_EXPECT_TRUE_MSG(test, device_is_registered(&indio_dev->dev),
			      "gone after %u ms of a %u ms silence",
			      jiffies_to_msecs(jiffies - t0), GMK_SILENCE_MS);
	waited = jiffies_to_msecs(jiffies - t0);
	gmk_wait_unregistered(indio_dev, GMK_SILENCE_MS * 3 / 2 - waited);
	waited = jiffies_to_msecs(jiffies - t0);
	KUNIT_EXPECT_FALSE_MSG(test, device_is_registered(&indio_dev->dev),
			       "still there after %u ms of a %u ms silence",
			       waited, GMK_SILENCE_MS);
	KUNIT_EXPECT_GE(test, waited, (unsigned int)GMK_SILENCE_MS);
	/* It was asked to show itself before being given up. */
	KUNIT_EXPECT_GT(test, gmk_cmds(c, GM_T_CMD_GET_INFO), pings);

	back = gmk_register(test);
	KUNIT_EXPECT_PTR_NE(test, back, indio_dev);
	gmk_put_iio(back);
	gmk_put_iio(indio_dev);
}

/* An idle controller that answers the pings keeps its device. */
static void gmk_test_idle_answering_pings_stays(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev, *now;

	indio_dev = gmk_register(test);
	mutex_lock(&c->lock);
	c->answer_info = true;
	mutex_unlock(&c->lock);
	msleep(GMK_SILENCE_MS + GMK_SILENCE_MS / 2);
	KUNIT_EXPECT_TRUE(test, device_is_registered(&indio_dev->dev));
	now = gmk_get_iio(c);
	KUNIT_EXPECT_PTR_EQ(test, now, indio_dev);
	gmk_put_iio(now);
	gmk_put_iio(indio_dev);
}

/* A new boot_id in DEVINFO: the old device goes, a new one comes. */
static void gmk_test_reset_reregisters(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *old, *new;

	old = gmk_register(test);
	mutex_lock(&c->lock);
	c->di.boot_id = GMK_BOOT_B;
	mutex_unlock(&c->lock);
	KUNIT_ASSERT_EQ(test, gmk_announce(c), 0);
	KUNIT_EXPECT_TRUE(test, gmk_wait_unregistered(old, GMK_WAIT_MS));
	new = gmk_wait_iio(c, old, GMK_WAIT_MS);
	KUNIT_ASSERT_NOT_NULL(test, new);
	KUNIT_EXPECT_STREQ(test, gmk_show(c, new, "boot_id"), "5eed0002");
	gmk_put_iio(new);
	gmk_put_iio(old);
}

/*
 * A STATUS with another boot_id means a reset whose announcement was lost:
 * the device goes, the host asks GET_INFO, the answer registers anew.
 */
static void gmk_test_reset_seen_in_status(struct kunit *test)
{
	struct gm_status st = { .state = GM_STATE_IDLE, .rate_hz = 100,
				.boot_id = GMK_BOOT_B };
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *old, *new;
	unsigned int asks;
	u8 body[GM_STATUS_LEN];

	old = gmk_register(test);
	mutex_lock(&c->lock);
	c->di.boot_id = GMK_BOOT_B;
	c->answer_info = true;
	mutex_unlock(&c->lock);
	asks = gmk_cmds(c, GM_T_CMD_GET_INFO);
	KUNIT_ASSERT_EQ(test, gm_encode_status(&st, body, sizeof(body)),
			(long)GM_STATUS_LEN);
	KUNIT_ASSERT_EQ(test, gmk_send_frame(c, GM_T_STATUS, 0, 0, body,
					     GM_STATUS_LEN), 0);
	/*
	 * At once, not through the idle ping (after silence_ms / 2), which
	 * this controller would answer with its new boot_id as well.
	 */
	KUNIT_EXPECT_TRUE(test, gmk_wait_unregistered(old, GMK_SILENCE_MS / 4));
	KUNIT_EXPECT_TRUE(test, gmk_wait_cmd(c, GM_T_CMD_GET_INFO, asks,
					     GMK_SILENCE_MS / 4));
	new = gmk_wait_iio(c, old, GMK_WAIT_MS);
	KUNIT_ASSERT_NOT_NULL(test, new);
	KUNIT_EXPECT_STREQ(test, gmk_show(c, new, "boot_id"), "5eed0002");
	gmk_put_iio(new);
	gmk_put_iio(old);
}

/*
 * Unbinding the link's driver (echo > unbind) while capturing: the device
 * goes, the controller is told to STOP, the consumer's buffer is released,
 * and bytes that still arrive fall on the floor.
 */
static void gmk_test_unbind_while_streaming(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev;
	struct gmk_capture *cap;
	unsigned int stops;
	u16 img[GMK_SENSELS];

	indio_dev = gmk_register(test);
	cap = gmk_capture_on(test, indio_dev, 4, GMK_SCAN_BYTES);
	gmk_image(img);
	KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, 1, img), 0);
	KUNIT_EXPECT_EQ(test, cap->scans, 1U);
	stops = gmk_cmds(c, GM_T_CMD_STOP);

	device_release_driver(&c->vc->pdev->dev);
	KUNIT_EXPECT_FALSE(test, device_is_registered(&indio_dev->dev));
	KUNIT_EXPECT_TRUE(test, cap->released);
	KUNIT_EXPECT_TRUE(test, gmk_wait_cmd(c, GM_T_CMD_STOP, stops, 1000));
	KUNIT_EXPECT_NULL(test, c->vc->gm);

	KUNIT_ASSERT_EQ(test, gmk_announce(c), 0);
	KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, 2, img), 0);
	KUNIT_EXPECT_EQ(test, cap->scans, 1U);
	gmk_put_iio(indio_dev);
}

/* close() of the controller while its device is registered and in use. */
static void gmk_test_close_while_registered(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev;
	struct gmk_capture *cap;

	indio_dev = gmk_register(test);
	cap = gmk_capture_on(test, indio_dev, 4, GMK_SCAN_BYTES);
	gmk_unplug(c);
	KUNIT_EXPECT_FALSE(test, device_is_registered(&indio_dev->dev));
	KUNIT_EXPECT_TRUE(test, cap->released);
	/* Our reference keeps the iio_dev itself; its ops are gone. */
	KUNIT_EXPECT_NULL(test, indio_dev->info);
	gmk_put_iio(indio_dev);
}

/* sampling_frequency: SET_RATE goes out, the ACK decides. */
static void gmk_test_set_rate(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev;
	unsigned int sets;
	int val;

	indio_dev = gmk_register(test);
	sets = gmk_cmds(c, GM_T_CMD_SET_RATE);

	KUNIT_EXPECT_EQ(test, gmk_write_rate(indio_dev, 200), 0);
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_SET_RATE), sets + 1);
	mutex_lock(&c->lock);
	KUNIT_EXPECT_EQ(test, c->last_rate, 200);
	mutex_unlock(&c->lock);
	KUNIT_EXPECT_EQ(test, gmk_read_rate(indio_dev, &val), IIO_VAL_INT);
	KUNIT_EXPECT_EQ(test, val, 200);

	/* Not an announced rate: refused without asking the controller. */
	KUNIT_EXPECT_EQ(test, gmk_write_rate(indio_dev, 150), -EINVAL);
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_SET_RATE), sets + 1);

	mutex_lock(&c->lock);
	c->ack_result = GM_ACK_EBUSY;
	mutex_unlock(&c->lock);
	KUNIT_EXPECT_EQ(test, gmk_write_rate(indio_dev, 50), -EBUSY);

	/* No answer within ack_timeout_ms. */
	mutex_lock(&c->lock);
	c->ack_result = -1;
	mutex_unlock(&c->lock);
	KUNIT_EXPECT_EQ(test, gmk_write_rate(indio_dev, 50), -ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, gmk_read_rate(indio_dev, &val), IIO_VAL_INT);
	KUNIT_EXPECT_EQ(test, val, 200);
	gmk_put_iio(indio_dev);
}

/* ---- Acting the moment a device appears or goes: an IIO bus notifier ---- */

/*
 * BUS_NOTIFY_ADD_DEVICE comes from device_add() once the device's sysfs is
 * live and just before its "add" uevent; BUS_NOTIFY_DEL_DEVICE from
 * device_del() while its sysfs is still there. A callback there runs
 * inside gaitmat's own registration or removal, in its work item, at the
 * earliest (or latest) moment userspace could act on the device, so it
 * stands in for a udev rule that wins every race. Callbacks record what
 * they saw; the test thread checks it (no KUnit assertion off its thread).
 */
struct gmk_watch {
	struct notifier_block nb;
	struct gmk_ctrl *c;
	unsigned long action;
	struct device *parent;	/* the link's device: its IIO child only */
	struct iio_dev *only;	/* and only this one, when set */
	void (*act)(struct gmk_watch *w, struct iio_dev *indio_dev);
	struct gmk_capture *cap;
	u16 img[GMK_SENSELS];
	u32 seq;

	/* What the callback saw. */
	unsigned int fired;
	int status_ret, dropped_ret, rate_ret, enable_ret, data_ret;
	u64 dropped;
	unsigned int scans;
	unsigned long rate_jiffies;
};

static int gmk_watch_call(struct notifier_block *nb, unsigned long action,
			  void *data)
{
	struct gmk_watch *w = container_of(nb, struct gmk_watch, nb);
	struct device *dev = data;

	if (action != w->action || dev->parent != w->parent ||
	    (w->only && dev != &w->only->dev) || w->fired++)
		return NOTIFY_DONE;
	w->act(w, dev_to_iio_dev(dev));
	return NOTIFY_OK;
}

static struct gmk_watch *gmk_watch(struct kunit *test, unsigned long action,
				   void (*act)(struct gmk_watch *,
					       struct iio_dev *))
{
	struct gmk_ctrl *c = test->priv;
	struct gmk_watch *w;

	w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	w->c = c;
	w->action = action;
	w->parent = &c->vc->pdev->dev;
	w->act = act;
	w->nb.notifier_call = gmk_watch_call;
	gmk_image(w->img);
	KUNIT_ASSERT_EQ(test, bus_register_notifier(&iio_bus_type, &w->nb), 0);
	/* gmk_exit() unregisters it whatever happens. */
	c->watch = w;
	return w;
}

static void gmk_unwatch(struct gmk_ctrl *c)
{
	if (c->watch) {
		bus_unregister_notifier(&iio_bus_type, &c->watch->nb);
		c->watch = NULL;
	}
}

/*
 * At "add", as a udev rule would (and earlier: before the uevent is out):
 * the controller's STATUS counts, the sampling frequency is set, a buffer
 * is enabled and the next frame lands in it.
 */
static void gmk_act_at_add(struct gmk_watch *w, struct iio_dev *indio_dev)
{
	struct gmk_ctrl *c = w->c;

	w->status_ret = gmk_send_status(c, 5);
	w->dropped_ret = gmk_read_counter(c, indio_dev, "controller_dropped",
					  &w->dropped);
	w->rate_ret = gmk_write_rate(indio_dev, 200);
	w->enable_ret = iio_update_buffers(indio_dev, &w->cap->buffer, NULL);
	w->data_ret = gmk_send_image(c, GM_T_DENSE, 0, w->seq, w->img);
	w->scans = w->cap->scans;
}

/*
 * While the device is being removed but still in sysfs: a frame still
 * reaches its enabled buffer, and a command that would wait for an ACK
 * fails at once instead of holding the removal up.
 */
static void gmk_act_at_del(struct gmk_watch *w, struct iio_dev *indio_dev)
{
	unsigned long t0 = jiffies;

	w->data_ret = gmk_send_image(w->c, GM_T_DENSE, 0, w->seq, w->img);
	w->scans = w->cap->scans;
	w->rate_ret = gmk_write_rate(indio_dev, 50);
	w->rate_jiffies = jiffies - t0;
}

/*
 * The registration race: everything a udev rule might do on "add" works at
 * that very moment, and nothing is undone afterwards (counters kept, rate
 * kept, the buffer still streaming).
 */
static void gmk_test_usable_at_add(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev;
	struct gmk_watch *w;
	unsigned int starts, sets;
	int val;

	w = gmk_watch(test, BUS_NOTIFY_ADD_DEVICE, gmk_act_at_add);
	w->cap = gmk_capture_new(test, GMK_CHANNELS, 4, GMK_SCAN_BYTES, true);
	w->seq = 1;
	starts = gmk_cmds(c, GM_T_CMD_START);
	sets = gmk_cmds(c, GM_T_CMD_SET_RATE);

	KUNIT_ASSERT_EQ(test, gmk_announce(c), 0);
	indio_dev = gmk_wait_iio(c, NULL, GMK_WAIT_MS);
	KUNIT_ASSERT_NOT_NULL(test, indio_dev);
	/* The device is found only once device_add() is over. */
	KUNIT_ASSERT_EQ(test, w->fired, 1U);
	gmk_unwatch(c);
	/* From here the core holds the consumer buffer, if it took it. */
	iio_buffer_put(&w->cap->buffer);

	KUNIT_EXPECT_EQ(test, w->status_ret, 0);
	KUNIT_EXPECT_EQ(test, w->dropped_ret, 0);
	KUNIT_EXPECT_EQ_MSG(test, w->dropped, 5ULL,
			    "a STATUS at add was not routed to the device");
	KUNIT_EXPECT_EQ_MSG(test, w->rate_ret, 0,
			    "sampling_frequency written at add failed");
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_SET_RATE), sets + 1);
	KUNIT_EXPECT_EQ_MSG(test, w->enable_ret, 0,
			    "a buffer enabled at add failed");
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_START), starts + 1);
	KUNIT_EXPECT_EQ(test, w->data_ret, 0);
	KUNIT_EXPECT_EQ_MSG(test, w->scans, 1U,
			    "a frame at add did not reach the enabled buffer");

	/* Registration finished without undoing any of it. */
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "controller_dropped"),
			5ULL);
	KUNIT_EXPECT_EQ(test, gmk_read_rate(indio_dev, &val), IIO_VAL_INT);
	KUNIT_EXPECT_EQ(test, val, 200);
	KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, 2, w->img), 0);
	KUNIT_EXPECT_EQ(test, w->cap->scans, 2U);
	KUNIT_EXPECT_EQ(test, gmk_counter(test, indio_dev, "seq_gaps"), 0ULL);
	if (!w->enable_ret)
		KUNIT_EXPECT_EQ(test, iio_update_buffers(indio_dev, NULL,
							 &w->cap->buffer), 0);
	KUNIT_EXPECT_TRUE(test, w->cap->released);
	gmk_put_iio(indio_dev);
}

/*
 * The other end of the life cycle: a controller reset while capturing. Its
 * old device works until it is out of sysfs (a frame at that moment still
 * reaches the buffer, a waiting command fails at once), the buffer's
 * predisable still tells the controller to STOP, and only then is the
 * device let go.
 */
static void gmk_test_usable_until_removed(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *old, *new;
	struct gmk_watch *w;
	unsigned int stops;
	unsigned long end;

	old = gmk_register(test);
	w = gmk_watch(test, BUS_NOTIFY_DEL_DEVICE, gmk_act_at_del);
	w->only = old;
	w->cap = gmk_capture_on(test, old, 4, GMK_SCAN_BYTES);
	w->seq = 2;
	KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, 1, w->img), 0);
	KUNIT_ASSERT_EQ(test, w->cap->scans, 1U);
	stops = gmk_cmds(c, GM_T_CMD_STOP);

	mutex_lock(&c->lock);
	c->di.boot_id = GMK_BOOT_B;
	mutex_unlock(&c->lock);
	KUNIT_ASSERT_EQ(test, gmk_announce(c), 0);
	KUNIT_ASSERT_TRUE(test, gmk_wait_unregistered(old, GMK_WAIT_MS));
	KUNIT_ASSERT_EQ(test, w->fired, 1U);

	KUNIT_EXPECT_EQ(test, w->data_ret, 0);
	KUNIT_EXPECT_EQ_MSG(test, w->scans, 2U,
			    "a frame while the device was still in sysfs was dropped");
	KUNIT_EXPECT_EQ(test, w->rate_ret, -ENODEV);
	KUNIT_EXPECT_LT_MSG(test, jiffies_to_msecs(w->rate_jiffies),
			    (unsigned int)GMK_ACK_MS,
			    "a command held the removal up");
	/* The buffer is disabled after device_del(): wait for its STOP. */
	KUNIT_EXPECT_TRUE_MSG(test, gmk_wait_cmd(c, GM_T_CMD_STOP, stops, 1000),
			      "the controller was not told to STOP");
	end = jiffies + msecs_to_jiffies(1000);
	while (!w->cap->released && !time_after(jiffies, end))
		msleep(20);
	KUNIT_EXPECT_TRUE(test, w->cap->released);

	new = gmk_wait_iio(c, old, GMK_WAIT_MS);
	KUNIT_ASSERT_NOT_NULL(test, new);
	KUNIT_EXPECT_STREQ(test, gmk_show(c, new, "boot_id"), "5eed0002");
	/* The old device's frames stopped with it. */
	KUNIT_EXPECT_EQ(test, w->cap->scans, 2U);
	gmk_put_iio(new);
	gmk_put_iio(old);
}

/*
 * The scan-size check looks at what is enabled: the compound scan of all
 * enabled buffers (where the timestamp is pushed) and the chardev buffer's
 * own mask when it is one of them (what libiio reads), not the chardev's
 * mask when only an in-kernel consumer asks.
 */
static void gmk_test_consumer_mask_checked(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct gmk_capture *bad, *good;
	struct iio_dev *indio_dev;
	struct iio_buffer *buf;
	unsigned int starts;
	u16 img[GMK_SENSELS];

	indio_dev = gmk_register(test);
	buf = indio_dev->buffer;
	KUNIT_ASSERT_NOT_NULL(test, buf);
	gmk_image(img);

	/* A consumer alone with a mask the kernel pads: refused, no START. */
	starts = gmk_cmds(c, GM_T_CMD_START);
	bad = gmk_capture_new(test, GMK_CHANNELS, 4, GMK_SCAN_BYTES, false);
	KUNIT_EXPECT_EQ(test, iio_update_buffers(indio_dev, &bad->buffer, NULL),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_START), starts);
	iio_buffer_put(&bad->buffer);
	KUNIT_EXPECT_TRUE(test, bad->released);

	/* A bad chardev mask nobody enabled does not stand in the way. */
	bitmap_set(buf->scan_mask, 0, indio_dev->num_channels - 1);
	buf->scan_timestamp = false;
	good = gmk_capture_on(test, indio_dev, 4, GMK_SCAN_BYTES);
	KUNIT_EXPECT_EQ(test, gmk_cmds(c, GM_T_CMD_START), starts + 1);

	/*
	 * Enabled next to the consumer, the chardev gets its own mask's
	 * layout: the compound is fine, its own is not, so it is refused.
	 * (The IIO core then disables every buffer, the consumer's too: it
	 * has no way back to the previous set once preenable failed.)
	 */
	KUNIT_EXPECT_EQ(test, iio_update_buffers(indio_dev, buf, NULL), -EINVAL);
	KUNIT_EXPECT_TRUE(test, good->released);

	/* Rows only, no timestamp: both sizes agree, so both buffers run. */
	good = gmk_capture_on(test, indio_dev, 4, GMK_SCAN_BYTES);
	bitmap_zero(buf->scan_mask, indio_dev->masklength);
	bitmap_set(buf->scan_mask, 0, GMK_TILES * GMK_ROWS);
	KUNIT_ASSERT_EQ(test, iio_update_buffers(indio_dev, buf, NULL), 0);
	KUNIT_EXPECT_EQ(test, buf->bytes_per_datum,
			(size_t)(GMK_TILES * GMK_ROWS * GMK_REPEAT * 2));
	KUNIT_ASSERT_EQ(test, gmk_send_image(c, GM_T_DENSE, 0, 1, img), 0);
	KUNIT_EXPECT_EQ(test, good->scans, 1U);
	KUNIT_EXPECT_EQ(test, buf->access->data_available(buf), (size_t)1);
	gmk_expect_rows(test, good->data, img);

	KUNIT_EXPECT_EQ(test, iio_update_buffers(indio_dev, NULL, buf), 0);
	KUNIT_EXPECT_EQ(test, iio_update_buffers(indio_dev, NULL, &good->buffer),
			0);
	KUNIT_EXPECT_TRUE(test, good->released);
	gmk_put_iio(indio_dev);
}

/* A second controller-side writer: data and STATUS as fast as it can. */
static int gmk_feeder_thread(void *data)
{
	struct gmk_ctrl *c = data;
	u16 img[GMK_SENSELS];
	u32 seq = 1;

	gmk_image(img);
	while (!kthread_should_stop()) {
		gmk_send_image(c, seq & 1 ? GM_T_DENSE : GM_T_SPARSE, 0, seq,
			       img);
		if (seq % 8 == 0)
			gmk_send_status(c, 0);
		seq++;
		usleep_range(200, 400);
	}
	return 0;
}

/*
 * Devices come and go (controller resets, half of them while capturing)
 * while frames keep arriving from another thread: every removal lets go of
 * its buffer and nothing touches a freed device (KASAN watches).
 */
static void gmk_test_churn_while_feeding(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *cur, *old;
	struct gmk_capture *cap;
	unsigned long end;
	unsigned int i;
	char want[16];

	cur = gmk_register(test);
	c->feeder = kthread_run(gmk_feeder_thread, c, "gmk-feed");
	KUNIT_ASSERT_FALSE(test, IS_ERR(c->feeder));
	for (i = 0; i < 8; i++) {
		old = cur;
		cap = i % 2 ? NULL : gmk_capture_on(test, old, 64,
						     GMK_SCAN_BYTES);
		/* Capturing for real before the reset comes. */
		end = jiffies + msecs_to_jiffies(1000);
		while (cap && !cap->scans && !time_after(jiffies, end))
			msleep(20);
		mutex_lock(&c->lock);
		c->di.boot_id = GMK_BOOT_B + i;
		mutex_unlock(&c->lock);
		KUNIT_ASSERT_EQ(test, gmk_announce(c), 0);
		KUNIT_EXPECT_TRUE(test, gmk_wait_unregistered(old, GMK_WAIT_MS));
		cur = gmk_wait_iio(c, old, GMK_WAIT_MS);
		gmk_put_iio(old);
		KUNIT_ASSERT_NOT_NULL_MSG(test, cur, "round %u", i);
		snprintf(want, sizeof(want), "%08x", GMK_BOOT_B + i);
		KUNIT_EXPECT_STREQ(test, gmk_show(c, cur, "boot_id"), want);
		if (!cap)
			continue;
		end = jiffies + msecs_to_jiffies(1000);
		while (!cap->released && !time_after(jiffies, end))
			msleep(20);
		KUNIT_EXPECT_TRUE_MSG(test, cap->released, "round %u", i);
	}
	kthread_stop(c->feeder);
	c->feeder = NULL;
	gmk_put_iio(cur);
}

/*
 * A controller that talks (STATUS heartbeats) but whose announcement was
 * lost is asked again, not only an idle one; its answer brings the device.
 */
static void gmk_test_unannounced_talker_asked(struct kunit *test)
{
	struct gmk_ctrl *c = test->priv;
	struct iio_dev *indio_dev = NULL;
	unsigned long end;
	unsigned int asks;

	KUNIT_ASSERT_TRUE(test, gmk_wait_cmd(c, GM_T_CMD_GET_INFO, 0,
					     GMK_WAIT_MS));
	asks = gmk_cmds(c, GM_T_CMD_GET_INFO);
	/* The watchdog asks every silence_ms / 2, looking every / 4. */
	end = jiffies + msecs_to_jiffies(GMK_SILENCE_MS);
	while (gmk_cmds(c, GM_T_CMD_GET_INFO) == asks &&
	       !time_after(jiffies, end)) {
		KUNIT_ASSERT_EQ(test, gmk_send_status(c, 0), 0);
		msleep(100);
	}
	KUNIT_EXPECT_GT_MSG(test, gmk_cmds(c, GM_T_CMD_GET_INFO), asks,
			    "not asked again within %u ms of heartbeats",
			    GMK_SILENCE_MS);

	mutex_lock(&c->lock);
	c->answer_info = true;
	mutex_unlock(&c->lock);
	end = jiffies + msecs_to_jiffies(GMK_SILENCE_MS);
	while (!indio_dev && !time_after(jiffies, end)) {
		KUNIT_ASSERT_EQ(test, gmk_send_status(c, 0), 0);
		msleep(100);
		indio_dev = gmk_get_iio(c);
	}
	KUNIT_EXPECT_NOT_NULL(test, indio_dev);
	gmk_put_iio(indio_dev);
}

static struct kunit_case gmk_life_cases[] = {
	KUNIT_CASE(gmk_test_start_asks_info),
	KUNIT_CASE_PARAM(gmk_test_announce_registers, gmk_geom_gen_params),
	KUNIT_CASE(gmk_test_reannounce_keeps_device),
	KUNIT_CASE(gmk_test_bad_announce_ignored),
	KUNIT_CASE(gmk_test_scans_pushed),
	KUNIT_CASE(gmk_test_ring_overruns),
	KUNIT_CASE(gmk_test_counters_exact),
	KUNIT_CASE(gmk_test_silence_unregisters),
	KUNIT_CASE(gmk_test_idle_answering_pings_stays),
	KUNIT_CASE(gmk_test_reset_reregisters),
	KUNIT_CASE(gmk_test_reset_seen_in_status),
	KUNIT_CASE(gmk_test_unbind_while_streaming),
	KUNIT_CASE(gmk_test_close_while_registered),
	KUNIT_CASE(gmk_test_set_rate),
	KUNIT_CASE(gmk_test_usable_at_add),
	KUNIT_CASE(gmk_test_usable_until_removed),
	KUNIT_CASE(gmk_test_consumer_mask_checked),
	KUNIT_CASE(gmk_test_churn_while_feeding),
	KUNIT_CASE(gmk_test_unannounced_talker_asked),
	{}
};

static struct kunit_suite gmk_life_suite = {
	.name = "gaitmat_core",
	.init = gmk_init,
	.exit = gmk_exit,
	.test_cases = gmk_life_cases,
};

/* ---- The ring buffer (gaitmat_buf.c) ----------------------------------- */

#define GMK_BPD	24

/* A scan of GMK_BPD bytes that says which it is. */
static void gmk_ring_scan(u8 *scan, u32 n)
{
	unsigned int i;

	for (i = 0; i < GMK_BPD; i++)
		scan[i] = (u8)(n * 7 + i);
	memcpy(scan, &n, sizeof(n));
}

static u32 gmk_ring_seq(const u8 *scan)
{
	u32 n;

	memcpy(&n, scan, sizeof(n));
	return n;
}

static struct iio_buffer *gmk_ring(struct kunit *test, unsigned int length)
{
	struct iio_buffer *b = gaitmat_buf_alloc(length);

	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_EQ(test, b->access->set_bytes_per_datum(b, GMK_BPD), 0);
	KUNIT_ASSERT_EQ(test, b->access->request_update(b), 0);
	return b;
}

/* Take @n scans through peek/consume, checking they are @from on. */
static unsigned int gmk_ring_take(struct kunit *test, struct iio_buffer *b,
				  unsigned int n, u32 from)
{
	unsigned int got = 0, k, i;
	const void *p;

	while (got < n) {
		k = gaitmat_buf_peek(b, n - got, &p);
		if (!k)
			break;
		for (i = 0; i < k; i++) {
			u8 want[GMK_BPD];

			gmk_ring_scan(want, from + got + i);
			KUNIT_EXPECT_EQ_MSG(test, memcmp((const u8 *)p +
							 i * GMK_BPD, want,
							 GMK_BPD), 0,
					    "scan %u: seq %u", from + got + i,
					    gmk_ring_seq((const u8 *)p +
							 i * GMK_BPD));
		}
		gaitmat_buf_consume(b, k);
		got += k;
	}
	return got;
}

/* Exactly its length, the oldest kept when full, in order across the end. */
static void gmk_test_ring_wraps(struct kunit *test)
{
	struct iio_buffer *b = gmk_ring(test, 5);
	u8 scan[GMK_BPD];
	const void *p;
	u32 n = 0;

	KUNIT_EXPECT_EQ(test, b->access->data_available(b), (size_t)0);
	KUNIT_EXPECT_EQ(test, gaitmat_buf_peek(b, 10, &p), 0U);
	for (; n < 5; n++) {
		gmk_ring_scan(scan, n);
		KUNIT_EXPECT_EQ(test, b->access->store_to(b, scan), 0);
	}
	gmk_ring_scan(scan, 99);
	KUNIT_EXPECT_EQ(test, b->access->store_to(b, scan), -EBUSY);
	KUNIT_EXPECT_EQ(test, b->access->data_available(b), (size_t)5);
	KUNIT_EXPECT_EQ(test, gmk_ring_take(test, b, 2, 0), 2U);
	for (; n < 7; n++) {
		gmk_ring_scan(scan, n);
		KUNIT_EXPECT_EQ(test, b->access->store_to(b, scan), 0);
	}
	/* Scans 2..6: three up to the end of the ring, then two from its start. */
	KUNIT_EXPECT_EQ(test, gaitmat_buf_peek(b, 10, &p), 3U);
	KUNIT_EXPECT_EQ(test, gmk_ring_take(test, b, 5, 2), 5U);
	KUNIT_EXPECT_EQ(test, b->access->data_available(b), (size_t)0);
	iio_buffer_put(b);
}

/* Lengths beyond GAITMAT_BUF_MAX_BYTES, and a scan size of 0, are refused. */
static void gmk_test_ring_limits(struct kunit *test)
{
	unsigned int fit = GAITMAT_BUF_MAX_BYTES / GMK_BPD;
	struct iio_buffer *b = gaitmat_buf_alloc(2);

	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_TRUE(test, gaitmat_buf_fits(fit, GMK_BPD));
	KUNIT_EXPECT_FALSE(test, gaitmat_buf_fits(fit + 1, GMK_BPD));
	KUNIT_EXPECT_FALSE(test, gaitmat_buf_fits(UINT_MAX, UINT_MAX));
	/* No scan size yet: nothing to allocate. */
	KUNIT_EXPECT_EQ(test, b->access->request_update(b), -EINVAL);
	KUNIT_ASSERT_EQ(test, b->access->set_bytes_per_datum(b, GMK_BPD), 0);
	KUNIT_ASSERT_EQ(test, b->access->set_length(b, fit + 1), 0);
	KUNIT_EXPECT_EQ(test, b->access->request_update(b), -EINVAL);
	/* Lengths below 2 are 2, as IIO's kfifo has it. */
	KUNIT_ASSERT_EQ(test, b->access->set_length(b, 0), 0);
	KUNIT_EXPECT_EQ(test, b->length, 2U);
	KUNIT_EXPECT_EQ(test, b->access->request_update(b), 0);
	iio_buffer_put(b);
}

/* A new length takes effect on the next update, which starts empty. */
static void gmk_test_ring_resize(struct kunit *test)
{
	struct iio_buffer *b = gmk_ring(test, 3);
	u8 scan[GMK_BPD];
	u32 n;

	for (n = 0; n < 2; n++) {
		gmk_ring_scan(scan, n);
		KUNIT_EXPECT_EQ(test, b->access->store_to(b, scan), 0);
	}
	KUNIT_ASSERT_EQ(test, b->access->set_length(b, 9), 0);
	KUNIT_ASSERT_EQ(test, b->access->request_update(b), 0);
	KUNIT_EXPECT_EQ(test, b->access->data_available(b), (size_t)0);
	for (n = 0; n < 9; n++) {
		gmk_ring_scan(scan, n);
		KUNIT_EXPECT_EQ(test, b->access->store_to(b, scan), 0);
	}
	KUNIT_EXPECT_EQ(test, b->access->store_to(b, scan), -EBUSY);
	KUNIT_EXPECT_EQ(test, gmk_ring_take(test, b, 9, 0), 9U);
	iio_buffer_put(b);
}

struct gmk_producer {
	struct iio_buffer *b;
	u32 count;		/* scans to store */
	u32 busy;		/* times the ring was full */
	bool stop;		/* the consumer gave up */
	struct completion done;
};

static int gmk_producer_fn(void *arg)
{
	struct gmk_producer *pr = arg;
	u8 scan[GMK_BPD];
	u32 n = 0;

	while (n < pr->count && !READ_ONCE(pr->stop)) {
		gmk_ring_scan(scan, n);
		if (pr->b->access->store_to(pr->b, scan)) {
			pr->busy++;
			usleep_range(20, 50);	/* let the consumer run */
			continue;	/* full: the same scan again */
		}
		n++;
	}
	complete(&pr->done);
	return 0;
}

/* A producer thread and a consumer: every scan once, in order, unaltered. */
static void gmk_test_ring_concurrent(struct kunit *test)
{
	struct gmk_producer pr = { .count = 5000 };
	struct task_struct *t;
	unsigned long end = jiffies + msecs_to_jiffies(20000);
	u32 next = 0;

	pr.b = gmk_ring(test, 13);
	init_completion(&pr.done);
	t = kthread_run(gmk_producer_fn, &pr, "gmk-ring");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	while (next < pr.count && !time_after(jiffies, end)) {
		const void *p;
		unsigned int k = gaitmat_buf_peek(pr.b, 4, &p), i;

		for (i = 0; i < k; i++) {
			u8 want[GMK_BPD];

			gmk_ring_scan(want, next + i);
			if (memcmp((const u8 *)p + i * GMK_BPD, want, GMK_BPD)) {
				KUNIT_FAIL(test, "scan %u: seq %u", next + i,
					   gmk_ring_seq((const u8 *)p +
							i * GMK_BPD));
				next = pr.count;
				break;
			}
		}
		if (k && next < pr.count) {
			gaitmat_buf_consume(pr.b, k);
			next += k;
		}
		if (!k)
			usleep_range(20, 50);
	}
	KUNIT_EXPECT_EQ(test, next, pr.count);
	WRITE_ONCE(pr.stop, true);
	wait_for_completion(&pr.done);
	KUNIT_EXPECT_EQ(test, pr.b->access->data_available(pr.b), (size_t)0);
	iio_buffer_put(pr.b);
}

static struct kunit_case gmk_ring_cases[] = {
	KUNIT_CASE(gmk_test_ring_wraps),
	KUNIT_CASE(gmk_test_ring_limits),
	KUNIT_CASE(gmk_test_ring_resize),
	KUNIT_CASE(gmk_test_ring_concurrent),
	{}
};

static struct kunit_suite gmk_ring_suite = {
	.name = "gaitmat_buf",
	.test_cases = gmk_ring_cases,
};

kunit_test_suites(&gmk_helper_suite, &gmk_life_suite, &gmk_ring_suite);
/* The pure helpers are exported only for KUnit (EXPORT_SYMBOL_IF_KUNIT). */
MODULE_IMPORT_NS(GAITMAT_KUNIT_NS);
