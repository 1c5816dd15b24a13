// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat driver selftests, run inside the QEMU lab as root with the
 * gaitmat and gaitmat_virt modules loaded. A controller is played through
 * /dev/gaitmat-virt (virtctl.c) with frames built by the driver's own codec;
 * what the IIO device then shows and captures is checked byte for byte.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <iio.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "virtctl.h"

#define WAIT_MS		5000
/* The driver's ring: length * scan bytes, at most (GAITMAT_BUF_MAX_BYTES). */
#define BUF_MAX		(64u << 20)

/* ---- Test data ------------------------------------------------------------- */

static uint32_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s >> 16;
}

/*
 * A pressure image with footprints: about a third of the sensels loaded,
 * some saturated, whole rows empty, so sparse frames have runs of all
 * lengths.
 */
static void make_sensels(const struct gm_devinfo *di, unsigned int k,
			 uint16_t *out)
{
	unsigned int i, n = di->n_tiles * di->rows * di->cols;
	uint64_t s = 0x9e3779b97f4a7c15ULL ^ (k * 0x100000001b3ULL);
	uint32_t r;

	for (i = 0; i < n; i++) {
		r = rng_next(&s);
		if ((i / di->cols) % 5 == k % 5 || r % 3)
			out[i] = 0;
		else if (r % 17 == 0)
			out[i] = GM_SENSEL_MAX;
		else
			out[i] = 1 + (r >> 4) % GM_SENSEL_MAX;
	}
}

static int read_scans(const char *node, uint8_t *buf, size_t want,
		      int timeout_ms)
{
	struct pollfd pfd = { .events = POLLIN };
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	size_t got = 0;
	ssize_t n;

	pfd.fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (pfd.fd < 0)
		return -errno;
	while (got < want && now_ns() < end) {
		n = read(pfd.fd, buf + got, want - got);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			break;
		poll(&pfd, 1, 50);
	}
	close(pfd.fd);
	return got;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- Fixture: one controller, announced, with its IIO device ----------- */

FIXTURE(mat) {
	struct vctl c;
	struct gm_devinfo di;
	struct scan_layout l;
	uint16_t *sensels;
	bool open;
};

FIXTURE_VARIANT(mat) {
	unsigned int n_tiles, rows, cols;
};

/* One row channel per row; 10 columns pad to 16 values, 24 to 32. */
FIXTURE_VARIANT_ADD(mat, small) { .n_tiles = 1, .rows = 8, .cols = 10 };
FIXTURE_VARIANT_ADD(mat, medium) { .n_tiles = 2, .rows = 16, .cols = 24 };
/* The emulator's mat: four 64 x 64 tiles, 128-byte rows. */
FIXTURE_VARIANT_ADD(mat, full) { .n_tiles = 4, .rows = 64, .cols = 64 };

FIXTURE_SETUP(mat)
{
	if (geteuid())
		SKIP(return, "needs root (the virtual transport is 0600)");
	if (access(VIRT_DEV, F_OK))
		SKIP(return, VIRT_DEV " missing: gaitmat_virt not loaded");
	vctl_devinfo(&self->di, variant->n_tiles, variant->rows,
		     variant->cols, 0x5e1f0001);
	scan_layout(&self->di, &self->l);
	self->sensels = calloc(GM_MAX_SENSELS, sizeof(uint16_t));
	ASSERT_NE(NULL, self->sensels);
	ASSERT_EQ(0, vctl_open(&self->c, &self->di));
	self->open = true;
	/* The driver asks who is there; virtctl answers with DEVINFO. */
	ASSERT_EQ(0, vctl_wait_iio(&self->c, WAIT_MS)) {
		TH_LOG("no IIO device appeared for %s", self->c.pdev);
	}
	ASSERT_EQ(0, sysfs_write(&self->c, "current_timestamp_clock",
				 "monotonic"));
}

FIXTURE_TEARDOWN(mat)
{
	if (!self->open)
		return;
	sysfs_write(&self->c, "buffer/enable", "0");
	vctl_close(&self->c);
	free(self->sensels);
}

static int counters_equal(struct vctl *c, const long long *want)
{
	static const char *const names[] = {
		"crc_errors", "resyncs", "frame_errors", "seq_gaps",
		"controller_dropped", "overruns",
	};
	unsigned int i;
	long long v;
	int bad = 0;

	for (i = 0; i < 6; i++) {
		v = vctl_counter(c, names[i]);
		if (v != want[i]) {
			fprintf(stderr, "# %s: %lld, expected %lld\n",
				names[i], v, want[i]);
			bad = 1;
		}
	}
	return !bad;
}

/* ---- The sysfs ABI -------------------------------------------------------- */

TEST_F(mat, sysfs_abi)
{
	char buf[4096], want[256], attr[128];
	long long len;
	unsigned int t;

	ASSERT_LT(0, sysfs_read(&self->c, "name", buf, sizeof(buf)));
	EXPECT_STREQ("gaitmat", buf);
	ASSERT_LT(0, sysfs_read(&self->c, "label", buf, sizeof(buf)));
	EXPECT_STREQ(self->c.pdev, buf);

	/* One value per file. */
	EXPECT_EQ(variant->n_tiles, sysfs_read_ll(&self->c, "num_tiles"));
	EXPECT_EQ(variant->rows, sysfs_read_ll(&self->c, "rows_per_tile"));
	EXPECT_EQ(variant->cols, sysfs_read_ll(&self->c, "columns_per_tile"));
	EXPECT_EQ(9500, sysfs_read_ll(&self->c, "sensel_pitch_um"));
	EXPECT_GT(0, sysfs_read(&self->c, "geometry", buf, sizeof(buf)));
	ASSERT_LT(0, sysfs_read(&self->c, "serialnumber", buf, sizeof(buf)));
	EXPECT_STREQ(self->di.serial, buf);
	ASSERT_LT(0, sysfs_read(&self->c, "firmware", buf, sizeof(buf)));
	EXPECT_STREQ("1.4.2", buf);
	ASSERT_LT(0, sysfs_read(&self->c, "boot_id", buf, sizeof(buf)));
	EXPECT_STREQ("5e1f0001", buf);
	for (t = 0; t < 8; t++) {
		snprintf(attr, sizeof(attr), "tile%u_x_mm", t);
		if (t >= variant->n_tiles) {
			/* Only the tiles the controller has. */
			EXPECT_GT(0, sysfs_read(&self->c, attr, buf,
						sizeof(buf)));
			continue;
		}
		EXPECT_EQ(608 * t, sysfs_read_ll(&self->c, attr));
		snprintf(attr, sizeof(attr), "tile%u_y_mm", t);
		EXPECT_EQ(-5, sysfs_read_ll(&self->c, attr));
		snprintf(attr, sizeof(attr), "tile%u_rotation_deg", t);
		EXPECT_EQ((t & 3) * 90, sysfs_read_ll(&self->c, attr));
	}
	EXPECT_GT(0, sysfs_read(&self->c, "tiles", buf, sizeof(buf)));

	ASSERT_LT(0, sysfs_read(&self->c, "sampling_frequency", buf,
				sizeof(buf)));
	EXPECT_STREQ("100", buf);
	ASSERT_LT(0, sysfs_read(&self->c, "sampling_frequency_available", buf,
				sizeof(buf)));
	EXPECT_STREQ("50 100 120 200", buf);
	/* 600 kPa at code 4095. */
	ASSERT_LT(0, sysfs_read(&self->c, "in_pressure_scale", buf,
				sizeof(buf)));
	EXPECT_STREQ("0.146520146", buf);

	/* Rows: 12 of 16 bits, in elements of 16 sensels. */
	ASSERT_LT(0, sysfs_read(&self->c, "scan_elements/in_pressure0_type",
				buf, sizeof(buf)));
	EXPECT_STREQ("le:u12/16X16>>0", buf);
	snprintf(attr, sizeof(attr), "scan_elements/in_pressure%u_index",
		 self->l.n_chans - 1);
	EXPECT_EQ(self->l.n_chans - 1, sysfs_read_ll(&self->c, attr));
	ASSERT_LT(0, sysfs_read(&self->c, "in_pressure0_label", buf,
				sizeof(buf)));
	EXPECT_STREQ("tile0_row0_col0", buf);
	snprintf(attr, sizeof(attr), "in_pressure%u_label", self->l.n_chans - 1);
	snprintf(want, sizeof(want), "tile%u_row%u_col%u",
		 variant->n_tiles - 1, variant->rows - 1,
		 (variant->cols - 1) / 16 * 16);
	ASSERT_LT(0, sysfs_read(&self->c, attr, buf, sizeof(buf)));
	EXPECT_STREQ(want, buf);
	/* No per-tile summaries: userspace computes them from the rows. */
	snprintf(attr, sizeof(attr), "scan_elements/in_pressure%u_en",
		 self->l.n_chans);
	EXPECT_GT(0, sysfs_read(&self->c, attr, buf, sizeof(buf)));
	EXPECT_GT(0, sysfs_read(&self->c,
				"scan_elements/in_positionrelative0_en", buf,
				sizeof(buf)));
	EXPECT_GT(0, sysfs_read(&self->c, "scan_elements/in_count4_en", buf,
				sizeof(buf)));

	/* The per-frame channels and their place in the scan. */
	ASSERT_LT(0, sysfs_read(&self->c, "in_count0_label", buf, sizeof(buf)));
	EXPECT_STREQ("sequence", buf);
	ASSERT_LT(0, sysfs_read(&self->c, "scan_elements/in_count0_type", buf,
				sizeof(buf)));
	EXPECT_STREQ("le:u64/64>>0", buf);
	EXPECT_EQ(self->l.n_chans, sysfs_read_ll(&self->c,
					  "scan_elements/in_count0_index"));
	ASSERT_LT(0, sysfs_read(&self->c, "in_count1_label", buf, sizeof(buf)));
	EXPECT_STREQ("controller_clock_us", buf);
	ASSERT_LT(0, sysfs_read(&self->c, "in_count2_label", buf, sizeof(buf)));
	EXPECT_STREQ("frame_flags", buf);
	ASSERT_LT(0, sysfs_read(&self->c, "scan_elements/in_count2_type", buf,
				sizeof(buf)));
	EXPECT_STREQ("le:u32/32>>0", buf);
	ASSERT_LT(0, sysfs_read(&self->c, "in_count3_label", buf, sizeof(buf)));
	EXPECT_STREQ("missing_scans", buf);
	ASSERT_LT(0, sysfs_read(&self->c, "scan_elements/in_timestamp_type",
				buf, sizeof(buf)));
	EXPECT_STREQ("le:s64/64>>0", buf);
	EXPECT_EQ(self->l.n_chans + 4,
		  sysfs_read_ll(&self->c, "scan_elements/in_timestamp_index"));

	/* Counters start at zero with the device. */
	{
		const long long zero[6] = { 0 };

		EXPECT_TRUE(counters_equal(&self->c, zero));
	}

	/* The default buffer: a power of two of scans, within 1 MiB. */
	len = sysfs_read_ll(&self->c, "buffer/length");
	EXPECT_GE(len, 2);
	EXPECT_EQ(0, len & (len - 1));
	EXPECT_LE(len * self->l.bytes, 1u << 20);

	/* Read-only attributes refuse writes. */
	EXPECT_NE(0, sysfs_write(&self->c, "num_tiles", "1"));
	/* Counters are debugfs diagnostics, not sysfs ABI. */
	EXPECT_GT(0, sysfs_read(&self->c, "crc_errors", buf, sizeof(buf)));
	EXPECT_GT(0, sysfs_read(&self->c, "serial", buf, sizeof(buf)));
}

TEST_F(mat, commands)
{
	unsigned int from;
	char buf[64];
	int i;

	/* A listed rate goes to the controller and is acknowledged. */
	from = vctl_n_cmds(&self->c);
	ASSERT_EQ(0, sysfs_write(&self->c, "sampling_frequency", "200"));
	i = vctl_wait_cmd(&self->c, GM_T_CMD_SET_RATE, from, 100);
	ASSERT_LE(0, i);
	EXPECT_EQ(200, self->c.cmds[i].rate_hz);
	ASSERT_LT(0, sysfs_read(&self->c, "sampling_frequency", buf,
				sizeof(buf)));
	EXPECT_STREQ("200", buf);

	/* An unlisted one never leaves the host. */
	from = vctl_n_cmds(&self->c);
	EXPECT_EQ(-EINVAL, sysfs_write(&self->c, "sampling_frequency", "75"));
	EXPECT_EQ(-ETIMEDOUT, vctl_wait_cmd(&self->c, GM_T_CMD_SET_RATE, from,
					    100));

	/* The controller refuses: the write fails, the rate stays. */
	vctl_set(&self->c, true, true, GM_ACK_EINVAL);
	EXPECT_EQ(-EINVAL, sysfs_write(&self->c, "sampling_frequency", "50"));
	ASSERT_LT(0, sysfs_read(&self->c, "sampling_frequency", buf,
				sizeof(buf)));
	EXPECT_STREQ("200", buf);
	vctl_set(&self->c, true, true, GM_ACK_EBUSY);
	EXPECT_EQ(-EBUSY, sysfs_write(&self->c, "zeroing", "1"));

	/* No answer: three tries, each a new command number, then give up. */
	vctl_set(&self->c, true, false, GM_ACK_OK);
	from = vctl_n_cmds(&self->c);
	EXPECT_EQ(-ETIMEDOUT, sysfs_write(&self->c, "sampling_frequency",
					  "120"));
	{
		unsigned int k, n = 0;
		uint32_t seqs[3] = { 0 };

		pthread_mutex_lock(&self->c.lock);
		for (k = from; k < self->c.n_cmds; k++)
			if (self->c.cmds[k].type == GM_T_CMD_SET_RATE && n < 3)
				seqs[n++] = self->c.cmds[k].seq;
		pthread_mutex_unlock(&self->c.lock);
		EXPECT_EQ(3u, n);
		EXPECT_EQ(seqs[0] + 1, seqs[1]);
		EXPECT_EQ(seqs[1] + 1, seqs[2]);
	}

	/* Zeroing. */
	vctl_set(&self->c, true, true, GM_ACK_OK);
	from = vctl_n_cmds(&self->c);
	EXPECT_EQ(0, sysfs_write(&self->c, "zeroing", "1"));
	EXPECT_LE(0, vctl_wait_cmd(&self->c, GM_T_CMD_ZERO, from, 100));
	EXPECT_EQ(-EINVAL, sysfs_write(&self->c, "zeroing", "0"));

	/* Enabling the buffer starts the controller, disabling stops it. */
	from = vctl_n_cmds(&self->c);
	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, true));
	EXPECT_LE(0, vctl_wait_cmd(&self->c, GM_T_CMD_START, from, 100));
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, false));
	EXPECT_LE(0, vctl_wait_cmd(&self->c, GM_T_CMD_STOP, from, 1000));

	/* A controller that refuses to start: enabling fails. */
	vctl_set(&self->c, true, true, GM_ACK_EBUSY);
	EXPECT_EQ(-EBUSY, vctl_buffer(&self->c, 0, true));
	ASSERT_LT(0, sysfs_read(&self->c, "buffer/enable", buf, sizeof(buf)));
	EXPECT_STREQ("0", buf);
}

/* ---- Capture -------------------------------------------------------------- */

#define N_FRAMES	24

TEST_F(mat, capture_exact)
{
	size_t bytes = self->l.bytes;
	uint8_t *got, *want;
	int64_t before[N_FRAMES], after[N_FRAMES], ts, prev = 0;
	uint32_t seq;
	uint64_t seq64 = 0;
	unsigned int k, missing;
	uint8_t type, flags;
	int n;

	got = calloc(N_FRAMES, bytes);
	want = malloc(bytes);
	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	ASSERT_EQ(0, vctl_buffer(&self->c, 32, true));

	/* Starts just below 2^32, so the sequence number wraps. */
	seq = 0xfffffff0u;
	for (k = 0; k < N_FRAMES; k++) {
		make_sensels(&self->di, k, self->sensels);
		type = k % 2 ? GM_T_SPARSE : GM_T_DENSE;
		flags = k % 3 ? 0 : GM_F_SATURATED;
		/* Every fourth frame follows a gap of two scans. */
		missing = k && k % 4 == 0 ? 2 : 0;
		seq += missing + (k ? 1 : 0);
		before[k] = now_ns();
		ASSERT_EQ(0, vctl_send_data(&self->c, type, seq,
					    1000000ull + 10000ull * k, flags,
					    self->sensels));
		after[k] = now_ns();
	}

	n = read_scans(self->c.devnode, got, N_FRAMES * bytes, WAIT_MS);
	ASSERT_EQ((int)(N_FRAMES * bytes), n);

	seq = 0xfffffff0u;
	for (k = 0; k < N_FRAMES; k++) {
		const uint8_t *scan = got + k * bytes;
		uint32_t f;

		make_sensels(&self->di, k, self->sensels);
		missing = k && k % 4 == 0 ? 2 : 0;
		seq += missing + (k ? 1 : 0);
		seq64 = k ? seq64 + missing + 1 : seq;
		f = (k % 3 ? 0 : GM_F_SATURATED) | (k % 2 ? 1u << 8 : 0) |
		    (missing ? 1u << 9 : 0);
		scan_expect(&self->di, self->sensels, seq64,
			    1000000ull + 10000ull * k, f, missing, want);
		EXPECT_EQ(0, memcmp(want, scan, bytes - 8)) {
			unsigned int i;

			for (i = 0; i < bytes - 8; i++)
				if (want[i] != scan[i])
					break;
			TH_LOG("scan %u differs first at byte %u of %zu (%02x, expected %02x)",
			       k, i, bytes, scan[i], want[i]);
		}
		/* Stamped when its first byte came in: within the write. */
		ts = (int64_t)get64(scan + bytes - 8);
		EXPECT_LE(before[k], ts);
		EXPECT_GE(after[k], ts);
		EXPECT_LT(prev, ts);
		prev = ts;
	}
	/* The 32-bit sequence number wrapped; the 64-bit one did not. */
	EXPECT_LT(0xffffffffull, seq64);
	EXPECT_EQ(5 * 2, vctl_counter(&self->c, "seq_gaps"));
	EXPECT_EQ(0, vctl_counter(&self->c, "overruns"));
	free(got);
	free(want);
}

/* The kernel's scan size is libiio's sample size, for what the driver takes. */
TEST_F(mat, read_size_is_libiio_sample_size)
{
	struct iio_context *ctx;
	struct iio_device *dev;
	unsigned int i, n;
	ssize_t libiio;
	uint8_t *buf, *want;
	char path[128];
	int fd;

	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	ctx = iio_create_local_context();
	ASSERT_NE(NULL, ctx);
	dev = iio_context_find_device(ctx, self->c.iio);
	ASSERT_NE(NULL, dev);
	n = iio_device_get_channels_count(dev);
	EXPECT_EQ(self->l.n_chans + 5, n);
	for (i = 0; i < n; i++) {
		struct iio_channel *ch = iio_device_get_channel(dev, i);

		if (iio_channel_is_scan_element(ch))
			iio_channel_enable(ch);
	}
	libiio = iio_device_get_sample_size(dev);
	iio_context_destroy(ctx);
	EXPECT_EQ((ssize_t)self->l.bytes, libiio);

	buf = malloc(self->l.bytes * 2);
	want = malloc(self->l.bytes);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, vctl_buffer(&self->c, 8, true));
	make_sensels(&self->di, 1, self->sensels);
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, 1, 1, 0,
				    self->sensels));
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, 2, 2, 0,
				    self->sensels));
	fd = open(self->c.devnode, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	/* One byte less than a scan is refused: the scan is that size. */
	EXPECT_EQ(-1, read(fd, buf, libiio - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(libiio, read(fd, buf, libiio));
	/* The timestamp is the last 8 bytes: a monotonic time. */
	EXPECT_LT(0, (int64_t)get64(buf + libiio - 8));
	EXPECT_GT(now_ns(), (int64_t)get64(buf + libiio - 8));
	close(fd);
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, false));

	/* Every element but the timestamp: libiio would not pad; refused. */
	ASSERT_EQ(0, vctl_scan_all(&self->c, false));
	EXPECT_EQ(-EINVAL, vctl_buffer(&self->c, 0, true));

	/* Only the rows: the sizes agree, so it is taken. */
	ASSERT_EQ(0, vctl_scan_all(&self->c, false));
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "scan_elements/in_count%u_en", i);
		ASSERT_EQ(0, sysfs_write(&self->c, path, "0"));
	}
	/*
	 * Rows and the timestamp alone: the kernel pads 24 bytes after the
	 * timestamp that libiio 0.24 does not count (docs/driver.md), so it
	 * is refused rather than misread.
	 */
	ASSERT_EQ(0, sysfs_write(&self->c, "scan_elements/in_timestamp_en",
				 "1"));
	EXPECT_EQ(-EINVAL, vctl_buffer(&self->c, 0, true));
	ASSERT_EQ(0, sysfs_write(&self->c, "scan_elements/in_timestamp_en",
				 "0"));
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, true));
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, 3, 3, 0,
				    self->sensels));
	fd = open(self->c.devnode, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, self->l.meta_offset - 1));
	EXPECT_EQ((ssize_t)self->l.meta_offset,
		  read(fd, buf, self->l.meta_offset));
	close(fd);
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, false));

	/* Only the per-frame channels and the timestamp: 32 bytes. */
	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	for (i = 0; i < self->l.n_chans; i++) {
		snprintf(path, sizeof(path), "scan_elements/in_pressure%u_en", i);
		ASSERT_EQ(0, sysfs_write(&self->c, path, "0"));
	}
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, true));
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, 4, 4, 0,
				    self->sensels));
	fd = open(self->c.devnode, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, 31));
	EXPECT_EQ(32, read(fd, buf, 32));
	scan_expect(&self->di, self->sensels, 4, 4, 0, 0, want);
	EXPECT_EQ(0, memcmp(want + self->l.meta_offset, buf, 24));
	close(fd);
	free(want);
	free(buf);
}

TEST_F(mat, buffer_length_limits)
{
	unsigned int fit = BUF_MAX / self->l.bytes;
	char val[32];

	ASSERT_EQ(0, vctl_scan_all(&self->c, true));

	/* The largest ring the driver takes works, far beyond a kfifo... */
	ASSERT_LT(4u << 20, (size_t)fit * self->l.bytes);
	ASSERT_EQ(0, vctl_buffer(&self->c, fit, true));
	EXPECT_EQ(fit, sysfs_read_ll(&self->c, "buffer/length"));
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, false));
	/* ...one scan more is refused cleanly, as is anything larger. */
	EXPECT_EQ(-EINVAL, vctl_buffer(&self->c, fit + 1, true));
	EXPECT_EQ(-EINVAL, vctl_buffer(&self->c, 1u << 30, true));
	EXPECT_EQ(-EINVAL, vctl_buffer(&self->c, 4294967295u, true));
	/* And the device is still usable. */
	snprintf(val, sizeof(val), "%u", fit / 2);
	ASSERT_EQ(0, sysfs_write(&self->c, "buffer/length", val));
	EXPECT_EQ(0, vctl_buffer(&self->c, 0, true));
}

/* ---- The ABI file ----------------------------------------------------------- */

/* The What: lines of docs/ABI/sysfs-bus-iio-gaitmat, below the device. */
static const char *const abi_whats[] = {
#include "abi_whats.h"
};

/* The IIO and driver core's own entries, not this driver's ABI. */
static const char *const core_entries[] = {
	"dev", "uevent", "power", "subsystem", "buffer", "buffer0",
	"scan_elements", "trigger", "of_node", "firmware_node",
	"waiting_for_supplier",
};

static bool abi_documented(const char *rel)
{
	char pat[256], *y;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(abi_whats); i++) {
		/* "Y" is a channel number there: in_pressureY_label. */
		snprintf(pat, sizeof(pat), "%s", abi_whats[i]);
		while ((y = strstr(pat, "Y_")) || (y = strstr(pat, "Y/")))
			*y = '*';
		if (!fnmatch(pat, rel, FNM_PATHNAME))
			return true;
	}
	return false;
}

static int abi_check_dir(struct __test_metadata *_metadata,
			 const struct vctl *c, const char *sub)
{
	char dir[PATH_MAX], rel[300];
	struct dirent *de;
	unsigned int i;
	int bad = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s%s%s", c->sysdir, *sub ? "/" : "", sub);
	d = opendir(dir);
	if (!d)
		return 1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		for (i = 0; i < ARRAY_SIZE(core_entries); i++)
			if (!*sub && !strcmp(de->d_name, core_entries[i]))
				break;
		if (i < ARRAY_SIZE(core_entries))
			continue;
		snprintf(rel, sizeof(rel), "%s%s%s", sub, *sub ? "/" : "",
			 de->d_name);
		if (!abi_documented(rel)) {
			TH_LOG("%s is not in docs/ABI/sysfs-bus-iio-gaitmat", rel);
			bad = 1;
		}
	}
	closedir(d);
	return bad;
}

/*
 * Every attribute the driver creates is documented in the ABI file, and
 * every documented attribute without a channel number exists.
 */
TEST_F(mat, sysfs_matches_abi_file)
{
	char path[PATH_MAX];
	unsigned int i;

	ASSERT_LT(10u, ARRAY_SIZE(abi_whats));
	EXPECT_EQ(0, abi_check_dir(_metadata, &self->c, ""));
	EXPECT_EQ(0, abi_check_dir(_metadata, &self->c, "scan_elements"));
	for (i = 0; i < ARRAY_SIZE(abi_whats); i++) {
		if (strchr(abi_whats[i], 'Y'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", self->c.sysdir,
			 abi_whats[i]);
		EXPECT_EQ(0, access(path, F_OK)) {
			TH_LOG("documented %s is missing", abi_whats[i]);
		}
	}
}

/* ---- The ring's memory is the caller's --------------------------------------- */

#define CG_ROOT		"/sys/fs/cgroup"
#define CG_TEST		CG_ROOT "/gaitmat-selftest"

static long long cg_current(void)
{
	return path_read_ll(CG_TEST "/memory.current");
}

/*
 * Up to 64 MiB of ring is allocated when a process enables the buffer: it
 * is charged to that process's memory cgroup (__GFP_ACCOUNT), so a
 * container's limit covers it. Enabling from inside a fresh cgroup must
 * raise its memory.current by at least the ring.
 */
TEST_F(mat, ring_charged_to_cgroup)
{
	unsigned int length = (32u << 20) / self->l.bytes;
	long long before, during;
	char pid[16];

	if (access(CG_ROOT "/cgroup.controllers", F_OK))
		mount("none", CG_ROOT, "cgroup2", 0, NULL);
	if (access(CG_ROOT "/cgroup.controllers", F_OK))
		SKIP(return, "no cgroup2 hierarchy");
	path_write(CG_ROOT "/cgroup.subtree_control", "+memory");
	if (mkdir(CG_TEST, 0755) && errno != EEXIST)
		SKIP(return, "cannot make a cgroup: %s", strerror(errno));
	if (access(CG_TEST "/memory.current", F_OK))
		SKIP(return, "no memory controller");
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, path_write(CG_TEST "/cgroup.procs", pid));

	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	before = cg_current();
	ASSERT_EQ(0, vctl_buffer(&self->c, length, true));
	during = cg_current();
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, false));
	TH_LOG("memory.current %lld -> %lld for a ring of %u scans (%zu bytes)",
	       before, during, length, (size_t)length * self->l.bytes);
	EXPECT_LE(before + (long long)length * self->l.bytes, during);

	path_write(CG_ROOT "/cgroup.procs", pid);
	rmdir(CG_TEST);
}

/*
 * The ring holds exactly its length (no rounding up, as a kfifo does), keeps
 * the oldest scans when full, and gives them back in order across its end.
 */
TEST_F(mat, ring_wraps_in_order)
{
	const unsigned int length = 7;
	size_t bytes = self->l.bytes;
	unsigned int k, sent = 0, next = 0;
	uint8_t *got, *want;
	int n;

	got = calloc(length + 1, bytes);
	want = malloc(bytes);
	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	ASSERT_EQ(0, vctl_buffer(&self->c, length, true));
	make_sensels(&self->di, 5, self->sensels);

	/* 5 in, 3 out, 5 in: the last ones go round the end of the ring. */
	for (k = 0; k < 5; k++, sent++)
		ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_SPARSE, sent, sent,
					    0, self->sensels));
	n = read_scans(self->c.devnode, got, 3 * bytes, WAIT_MS);
	ASSERT_EQ((int)(3 * bytes), n);
	for (k = 0; k < 3; k++, next++)
		EXPECT_EQ(next, get64(got + k * bytes + self->l.meta_offset));
	for (k = 0; k < 5; k++, sent++)
		ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_SPARSE, sent, sent,
					    0, self->sensels));
	/* Exactly 7 fit: the eighth is an overrun (a kfifo would take it). */
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_SPARSE, sent, sent, 0,
				    self->sensels));
	sent++;
	EXPECT_EQ(length, sysfs_read_ll(&self->c, "buffer/data_available"));
	EXPECT_EQ(1, vctl_counter(&self->c, "overruns"));

	n = read_scans(self->c.devnode, got, (length + 1) * bytes, 300);
	ASSERT_EQ((int)(length * bytes), n);
	for (k = 0; k < length; k++, next++) {
		/* The whole scan came through, not only its sequence number. */
		scan_expect(&self->di, self->sensels, next, next, 1u << 8, 0,
			    want);
		EXPECT_EQ(0, memcmp(want, got + k * bytes, bytes - 8))
			TH_LOG("scan %u (seq %u) differs", k, next);
	}
	EXPECT_EQ(sent - 1, next);
	free(want);
	free(got);
}

/* ---- Counters under faults ------------------------------------------------- */

/* Wire bytes of a raw frame, with a leading delimiter. */
static long wire_of(const uint8_t *raw, long len, uint8_t *wire, size_t cap)
{
	long n;

	wire[0] = GM_DELIM;
	n = gm_cobs_encode(raw, len, wire + 1, cap - 1);
	return n < 0 ? n : n + 1;
}

TEST_F(mat, counters_exact_under_faults)
{
	long long want[6] = { 0 };	/* crc resync frame gap ctrl overrun */
	const size_t cap = GM_MAX_RAW + 1024;
	struct gm_hdr hdr = { .type = GM_T_DENSE };
	static const uint8_t cut_block[] = { 0, 5, 1, 2, 0 };
	static const uint8_t empty_frame[] = { 0, 1, 0 };
	uint8_t *wire = malloc(cap), *raw = malloc(GM_MAX_RAW);
	uint8_t *body = malloc(GM_MAX_BODY);
	uint32_t seq = 100;
	long long frames;
	long len, blen;

	ASSERT_NE(NULL, wire);
	ASSERT_NE(NULL, raw);
	ASSERT_NE(NULL, body);
	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	ASSERT_EQ(0, vctl_buffer(&self->c, 64, true));
	make_sensels(&self->di, 7, self->sensels);
	blen = gm_encode_dense(&self->di, self->sensels, body, GM_MAX_BODY);
	ASSERT_LT(0, blen);
	hdr.body_len = blen;

	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, seq, 0, 0,
				    self->sensels));
	EXPECT_TRUE(counters_equal(&self->c, want));

	/* One flipped bit in the body: a CRC error, and that scan missing. */
	hdr.seq = ++seq;
	len = gm_build_frame(raw, GM_MAX_RAW, &hdr, body);
	ASSERT_LT(0, len);
	raw[GM_HDR_LEN + blen / 2] ^= 0x10;
	len = wire_of(raw, len, wire, cap);
	ASSERT_LT(0, len);
	ASSERT_EQ(0, vctl_write(&self->c, wire, len));
	want[0]++;
	EXPECT_TRUE(counters_equal(&self->c, want));
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, ++seq, 0, 0,
				    self->sensels));
	want[3] += 1;
	EXPECT_TRUE(counters_equal(&self->c, want));

	/* A COBS block cut short by a delimiter: framing lost. */
	ASSERT_EQ(0, vctl_write(&self->c, cut_block, sizeof(cut_block)));
	want[1]++;
	EXPECT_TRUE(counters_equal(&self->c, want));
	/* A frame of no bytes at all (a code byte only): too short. */
	ASSERT_EQ(0, vctl_write(&self->c, empty_frame, sizeof(empty_frame)));
	want[1]++;
	EXPECT_TRUE(counters_equal(&self->c, want));
	/* A frame that does not end within the receive buffer. */
	memset(wire, 0xff, GM_MAX_RAW + 600);
	wire[GM_MAX_RAW + 600] = 0;
	ASSERT_EQ(0, vctl_write(&self->c, wire, GM_MAX_RAW + 601));
	want[1]++;
	EXPECT_TRUE(counters_equal(&self->c, want));
	/*
	 * A frame cut in its first COBS block (the type byte, then the zero
	 * flags byte make it "02 03"), then at once a good one.
	 */
	hdr.seq = ++seq;
	len = vctl_encode(&hdr, body, wire, cap);
	ASSERT_LT(0, len);
	ASSERT_EQ(2, wire[1]);
	wire[2] = 0;
	ASSERT_EQ(0, vctl_write(&self->c, wire, 3));
	want[1]++;
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, ++seq, 0, 0,
				    self->sensels));
	want[3] += 1;
	EXPECT_TRUE(counters_equal(&self->c, want));

	/* Well framed, good CRC, but wrong: one frame error each. */
	frames = vctl_counter(&self->c, "frames");
	hdr.seq = ++seq;
	hdr.type = 0x7f;		/* no such type */
	ASSERT_EQ(0, vctl_send(&self->c, &hdr, body));
	want[2]++;
	hdr.type = GM_T_DENSE;
	hdr.body_len = blen - 3;	/* too short for the geometry */
	ASSERT_EQ(0, vctl_send(&self->c, &hdr, body));
	want[2]++;
	hdr.body_len = blen;
	body[0] ^= 0x0f;		/* a tile count never announced */
	ASSERT_EQ(0, vctl_send(&self->c, &hdr, body));
	body[0] ^= 0x0f;
	want[2]++;
	EXPECT_TRUE(counters_equal(&self->c, want));
	/* They passed framing and CRC, the unknown type too: frames. */
	EXPECT_EQ(frames + 3, vctl_counter(&self->c, "frames"));
	/* That scan once, fine; twice, the second is not new. */
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, seq, 0, 0,
				    self->sensels));
	EXPECT_TRUE(counters_equal(&self->c, want));
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, seq, 0, 0,
				    self->sensels));
	want[2]++;
	EXPECT_TRUE(counters_equal(&self->c, want));

	/* Sequence gaps count the scans that never came. */
	seq += 6;
	ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, seq, 0, 0,
				    self->sensels));
	want[3] += 5;
	EXPECT_TRUE(counters_equal(&self->c, want));

	/* What the controller says it dropped, as it says it. */
	ASSERT_EQ(0, vctl_send_status(&self->c, 7, self->di.boot_id));
	want[4] = 7;
	EXPECT_TRUE(counters_equal(&self->c, want));
	ASSERT_EQ(0, vctl_send_status(&self->c, 19, self->di.boot_id));
	want[4] = 19;
	EXPECT_TRUE(counters_equal(&self->c, want));

	/* Only the good frames became scans: seq 100, 102, 104, 105, 111. */
	EXPECT_EQ(5, sysfs_read_ll(&self->c, "buffer/data_available"));
	free(wire);
	free(raw);
	free(body);
}

/* ---- Overload -------------------------------------------------------------- */

TEST_F(mat, overload_drops_and_counts)
{
	const unsigned int length = 16, extra = 40;
	size_t bytes = self->l.bytes;
	int64_t t0, worst = 0, dt;
	unsigned int k;
	uint8_t *got;
	int n;

	got = calloc(length + 1, bytes);
	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	ASSERT_EQ(0, vctl_buffer(&self->c, length, true));

	/* Nobody reads: the writer must never wait for a reader. */
	make_sensels(&self->di, 3, self->sensels);
	for (k = 0; k < length + extra; k++) {
		t0 = now_ns();
		ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_SPARSE, k, k, 0,
					    self->sensels));
		dt = now_ns() - t0;
		if (dt > worst)
			worst = dt;
	}
	/* Generous for TCG; a blocked writer would hang the test. */
	EXPECT_GT(2000000000ll, worst);
	EXPECT_EQ(extra, vctl_counter(&self->c, "overruns"));
	EXPECT_EQ(0, vctl_counter(&self->c, "seq_gaps"));
	EXPECT_EQ(length, sysfs_read_ll(&self->c, "buffer/data_available"));

	/* What was kept is the oldest scans, in order. */
	n = read_scans(self->c.devnode, got, (length + 1) * bytes, 300);
	EXPECT_EQ((int)(length * bytes), n);
	for (k = 0; k < length && (int)((k + 1) * bytes) <= n; k++)
		EXPECT_EQ(k, get64(got + k * bytes + self->l.meta_offset));
	free(got);
}

/* ---- Life cycle ------------------------------------------------------------ */

TEST_F(mat, unplug_removes_device)
{
	vctl_close(&self->c);
	EXPECT_EQ(0, vctl_wait_iio_gone(&self->c, WAIT_MS));
	self->open = false;
	free(self->sensels);
}

/* Wait until the controller's IIO device shows @val in @attr. */
static int wait_attr(struct vctl *c, const char *attr, const char *val,
		     int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	char buf[256];

	do {
		if (!vctl_wait_iio(c, 10) &&
		    sysfs_read(c, attr, buf, sizeof(buf)) >= 0 &&
		    !strcmp(buf, val))
			return 0;
		usleep(5000);
	} while (now_ns() < end);
	return -ETIMEDOUT;
}

TEST_F(mat, reset_reregisters)
{
	unsigned int from;
	char buf[64];
	int fd;

	/* A reader of the old device learns it is gone. */
	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	ASSERT_EQ(0, vctl_buffer(&self->c, 0, true));
	fd = open(self->c.devnode, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);

	/* The controller rebooted: a new boot id in its announcement. */
	pthread_mutex_lock(&self->c.lock);
	self->c.di.boot_id = 0x5e1f0002;
	pthread_mutex_unlock(&self->c.lock);
	from = vctl_n_cmds(&self->c);
	ASSERT_EQ(0, vctl_announce(&self->c));
	ASSERT_EQ(0, vctl_wait_iio_gone(&self->c, WAIT_MS));
	/*
	 * The device is unregistered while still attached, so disabling
	 * its buffer still tells the controller to STOP.
	 */
	EXPECT_LE(0, vctl_wait_cmd(&self->c, GM_T_CMD_STOP, from, 1000));
	ASSERT_EQ(0, wait_attr(&self->c, "boot_id", "5e1f0002", WAIT_MS));
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(ENODEV, errno);
	close(fd);

	/* A STATUS from yet another boot: it reset unannounced. The
	 * driver drops the device, asks, and the answer brings it back.
	 */
	pthread_mutex_lock(&self->c.lock);
	self->c.di.boot_id = 0x5e1f0003;
	pthread_mutex_unlock(&self->c.lock);
	ASSERT_EQ(0, vctl_send_status(&self->c, 0, 0x5e1f0003));
	ASSERT_EQ(0, wait_attr(&self->c, "boot_id", "5e1f0003", WAIT_MS));

	/* Same boot, other geometry: channels are fixed, so a new device. */
	pthread_mutex_lock(&self->c.lock);
	self->c.di.n_tiles = self->di.n_tiles == 1 ? 2 : 1;
	self->c.di.tiles[1].x_mm = 608;
	pthread_mutex_unlock(&self->c.lock);
	snprintf(buf, sizeof(buf), "%u", self->c.di.n_tiles);
	ASSERT_EQ(0, vctl_announce(&self->c));
	ASSERT_EQ(0, wait_attr(&self->c, "num_tiles", buf, WAIT_MS));

	/* A repeated announcement changes nothing: the device stays. */
	fd = open(self->c.devnode, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vctl_announce(&self->c));
	usleep(300000);
	EXPECT_FALSE(read(fd, buf, sizeof(buf)) < 0 && errno == ENODEV);
	close(fd);
}

TEST_F(mat, silence_removes_device)
{
	char param[32], buf[64];
	long long old;
	int64_t t0;
	int fd;

	old = path_read_ll(GAITMAT_PARAMS "/silence_ms");
	ASSERT_LT(0, old);
	ASSERT_EQ(0, path_write(GAITMAT_PARAMS "/silence_ms", "400"));
	/* Alive while it answers the driver's questions... */
	fd = open(self->c.devnode, O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, fd);
	usleep(1500000);
	EXPECT_FALSE(read(fd, buf, sizeof(buf)) < 0 && errno == ENODEV);
	close(fd);
	/* ...gone once it stops. */
	vctl_set(&self->c, false, true, GM_ACK_OK);
	t0 = now_ns();
	EXPECT_EQ(0, vctl_wait_iio_gone(&self->c, WAIT_MS));
	EXPECT_LT(100000000ll, now_ns() - t0);
	/* Back when it talks again. */
	vctl_set(&self->c, true, true, GM_ACK_OK);
	EXPECT_EQ(0, vctl_wait_iio(&self->c, WAIT_MS));
	snprintf(param, sizeof(param), "%lld", old);
	path_write(GAITMAT_PARAMS "/silence_ms", param);
}

/* ---- Acting the moment the device appears ----------------------------------- */

/*
 * What a udev rule does on "add" (set the rate, enable the buffer) must
 * work at that very moment: the driver routes frames and commands to the
 * device before it becomes visible. Each round plugs in a controller,
 * waits for its IIO device as fast as possible (the kernel's uevent, or
 * the sysfs folder showing up, polled without sleeping) and acts at once.
 */
#define HOTPLUG_ROUNDS	20

static int uevent_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd, ret, size = 1 << 20;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		    NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	/* Every uevent of the machine comes here: room for a burst. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Wait for the kernel's "add" of an IIO device below @pdev; its name. */
static int uevent_wait_add(int fd, const char *pdev, char *name, size_t cap,
			   int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[8192], want[160];
	size_t wlen;
	ssize_t n;

	wlen = snprintf(want, sizeof(want), "add@%s/%s/iio:device",
			VIRT_SYSDIR + strlen("/sys"), pdev);
	while (now_ns() < end) {
		poll(&pfd, 1, 50);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (strncmp(buf, want, wlen))
			continue;
		snprintf(name, cap, "%s", strrchr(buf, '/') + 1);
		return 0;
	}
	return -ETIMEDOUT;
}

/*
 * The sysfs folder appears in device_add() before its attributes do: when
 * acting on the folder rather than the uevent, a missing file (ENOENT) is
 * retried, and only that. Any other error is the answer.
 */
static int write_once_there(const struct vctl *c, const char *attr,
			    const char *val)
{
	int64_t end = now_ns() + (int64_t)WAIT_MS * 1000000;
	int ret;

	while ((ret = sysfs_write(c, attr, val)) == -ENOENT && now_ns() < end)
		sched_yield();
	return ret;
}

static int scan_all_once_there(struct vctl *c)
{
	int64_t end = now_ns() + (int64_t)WAIT_MS * 1000000;
	int ret;

	while ((ret = vctl_scan_all(c, true)) == -ENOENT && now_ns() < end)
		sched_yield();
	return ret;
}

FIXTURE(hotplug) {
	struct vctl c;
	struct gm_devinfo di;
	struct scan_layout l;
	uint16_t *sensels;
	uint8_t *scan;
	int ufd;
};

FIXTURE_VARIANT(hotplug) {
	bool uevent;	/* act on the uevent, or on the folder appearing */
};

FIXTURE_VARIANT_ADD(hotplug, uevent) { .uevent = true };
FIXTURE_VARIANT_ADD(hotplug, folder) { .uevent = false };

FIXTURE_SETUP(hotplug)
{
	self->ufd = -1;
	self->c.fd = -1;
	if (geteuid())
		SKIP(return, "needs root (the virtual transport is 0600)");
	if (access(VIRT_DEV, F_OK))
		SKIP(return, VIRT_DEV " missing: gaitmat_virt not loaded");
	vctl_devinfo(&self->di, 1, 8, 10, 0x5e1f0001);
	scan_layout(&self->di, &self->l);
	self->sensels = calloc(GM_MAX_SENSELS, sizeof(uint16_t));
	self->scan = malloc(self->l.bytes);
	ASSERT_NE(NULL, self->sensels);
	ASSERT_NE(NULL, self->scan);
	make_sensels(&self->di, 2, self->sensels);
	if (variant->uevent) {
		self->ufd = uevent_open();
		ASSERT_LE(0, self->ufd) {
			TH_LOG("uevent socket: %s", strerror(-self->ufd));
		}
	}
}

FIXTURE_TEARDOWN(hotplug)
{
	vctl_close(&self->c);
	if (self->ufd >= 0)
		close(self->ufd);
	free(self->sensels);
	free(self->scan);
}

TEST_F(hotplug, act_at_once)
{
	char name[64], buf[64];
	unsigned int round;
	int64_t t0;
	int n;

	for (round = 0; round < HOTPLUG_ROUNDS; round++) {
		/* Opening plugs a controller in; it answers GET_INFO at once. */
		ASSERT_EQ(0, vctl_open(&self->c, &self->di));
		if (variant->uevent) {
			ASSERT_EQ(0, uevent_wait_add(self->ufd, self->c.pdev,
						     name, sizeof(name),
						     WAIT_MS)) {
				TH_LOG("round %u: no add uevent", round);
			}
			vctl_set_iio(&self->c, name);
		} else {
			t0 = now_ns();
			while (vctl_find_iio(&self->c) &&
			       now_ns() - t0 < (int64_t)WAIT_MS * 1000000)
				;
			ASSERT_EQ(0, vctl_find_iio(&self->c)) {
				TH_LOG("round %u: no IIO folder", round);
			}
		}

		/* The controller's drop count, sent now, shows now. */
		ASSERT_EQ(0, vctl_send_status(&self->c, 7, self->di.boot_id));
		EXPECT_EQ(7, vctl_counter(&self->c, "controller_dropped")) {
			TH_LOG("round %u: a STATUS at add was lost", round);
		}
		EXPECT_EQ(0, write_once_there(&self->c, "sampling_frequency",
					      "200")) {
			TH_LOG("round %u: setting the rate at add failed",
			       round);
		}
		EXPECT_EQ(0, scan_all_once_there(&self->c));
		EXPECT_EQ(0, write_once_there(&self->c, "buffer/enable", "1")) {
			TH_LOG("round %u: enabling the buffer at add failed",
			       round);
		}
		/* The next frame is a scan to read. */
		ASSERT_EQ(0, vctl_send_data(&self->c, GM_T_DENSE, 1, 1, 0,
					    self->sensels));
		ASSERT_EQ(0, vctl_wait_iio(&self->c, WAIT_MS));
		n = read_scans(self->c.devnode, self->scan, self->l.bytes,
			       WAIT_MS);
		EXPECT_EQ((int)self->l.bytes, n) {
			TH_LOG("round %u: no scan from the buffer enabled at add",
			       round);
		}

		/* Registration is long over: nothing of it was undone. */
		EXPECT_EQ(7, vctl_counter(&self->c, "controller_dropped"));
		ASSERT_LT(0, sysfs_read(&self->c, "sampling_frequency", buf,
					sizeof(buf)));
		EXPECT_STREQ("200", buf);
		ASSERT_LT(0, sysfs_read(&self->c, "buffer/enable", buf,
					sizeof(buf)));
		EXPECT_STREQ("1", buf);

		sysfs_write(&self->c, "buffer/enable", "0");
		vctl_close(&self->c);
		ASSERT_EQ(0, vctl_wait_iio_gone(&self->c, WAIT_MS));
		if (_metadata->passed == 0)
			break;
	}
}

TEST_HARNESS_MAIN
