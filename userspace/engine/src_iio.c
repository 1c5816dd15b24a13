// SPDX-License-Identifier: GPL-2.0
/*
 * The gait mat's IIO source.
 *
 * libiio finds the device (name "gaitmat"), describes its channels and
 * writes its attributes: sampling frequency, timestamp clock, buffer length
 * and watermark. The buffer itself is not libiio's: iio_device_create_buffer()
 * would read the character device with its own read()s into its own memory.
 * The source instead opens /dev/iio:deviceN non-blocking, enables the scan
 * elements and the buffer through sysfs, and hands the descriptor to the
 * engine, whose reads land straight in the session file (docs/capture.md).
 *
 * Scan layout (docs/driver.md, docs/ABI/sysfs-bus-iio-gaitmat): the rows of
 * every tile in elements of 16 u16, then the per-frame channels (sequence
 * u64, controller clock u64, flags u32, missing scans u32) and the
 * timestamp, last. Offsets are computed from libiio's channel formats, and
 * the per-frame channels are found by their labels.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <iio.h>
#include <json-c/json.h>

#include "engine/engine_internal.h"

#define SYSFS_IIO	"/sys/bus/iio/devices"
#define DRIVER_NAME	"gaitmat"
/*
 * The kernel buffer asked for by default: as many scans as BUFFER_BYTES
 * holds, at most MAX_LENGTH. The gaitmat driver's ring takes up to 64 MiB;
 * IIO's kfifo (drivers before 0.4, other IIO devices) one kmalloc of a power
 * of two of scans, 4 MiB on x86-64: enabling then fails and the length is
 * halved until it fits. 32 MiB is 4032 one-tile scans: 2 s at 10 x 200 Hz.
 */
#define BUFFER_BYTES	(32u << 20)
#define MAX_LENGTH	4096u
#define WATERMARK_MS	100
#define RESCAN_NS	(500 * NS_PER_MS)
/* After a udev event's burst: a missed event or a slow settle still ends. */
#define RESCAN_SLOW_NS	(5000 * NS_PER_MS)
#define NO_OFF		UINT32_MAX

/* Meta channels by label, with the id the driver gives them otherwise. */
enum { F_SEQ, F_CLOCK, F_FLAGS, F_MISSING, F_TS, F_NUM };
static const char *const field_label[F_NUM] = {
	"sequence", "controller_clock_us", "frame_flags", "missing_scans", NULL,
};

static const char *const field_id[F_NUM] = {
	"count0", "count1", "count2", "count3", "timestamp",
};

static const char *const field_key[F_NUM] = {
	"seq", "controller_clock_us", "flags", "missing", "timestamp",
};

struct src_iio {
	struct eng_source s;
	struct eng_iio_opts o;
	char *device, *clock;
	struct iio_context *ctx;
	struct iio_device *dev;
	char id[32];			/* iio:deviceN */
	char sys[PATH_MAX];		/* its sysfs folder */
	ino_t sys_ino;			/* ... which a new registration replaces */
	char lost_id[32];		/* the device lost last, never taken again */
	ino_t lost_ino;
	int fd;
	bool enabled;
	struct eng_chan *chan;
	uint32_t stream;
	bool have_stream;
	unsigned int n_attach;

	uint32_t scan_bytes;
	uint32_t off[F_NUM];
	uint32_t rows_bytes;
	unsigned int rate, length, watermark;
	char serial[48], firmware[24];
	int64_t next_scan;
	int64_t scan_until;	/* rescan_on_request: look often until then */
	char fail[192];		/* why the last look found no mat to attach */
	int64_t next_check;
	char final[160];	/* the driver's counters when we stopped */
	int64_t lost_t;		/* last scan before the mat went away */
	/* Scan timestamps in the device's clock, onto the file's monotonic. */
	struct eng_clock_map clk;
};

void eng_iio_opts_init(struct eng_iio_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->clock = "monotonic";
}

/* ---- sysfs ------------------------------------------------------------------- */

static int sys_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int sys_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;
	size_t len = strlen(val);

	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

static int dev_file(struct src_iio *x, const char *rel, char *out, size_t len)
{
	return snprintf(out, len, "%s/%s", x->sys, rel) < (int)len ? 0 :
	       -ENAMETOOLONG;
}

static int dev_read(struct src_iio *x, const char *rel, char *buf, size_t len)
{
	char p[PATH_MAX];

	return dev_file(x, rel, p, sizeof(p)) ?: sys_read(p, buf, len);
}

static int dev_write(struct src_iio *x, const char *rel, const char *val)
{
	char p[PATH_MAX];

	return dev_file(x, rel, p, sizeof(p)) ?: sys_write(p, val);
}

static int dev_uint(struct src_iio *x, const char *rel, unsigned int *v)
{
	char buf[24], *end;
	unsigned long n;
	int ret = dev_read(x, rel, buf, sizeof(buf));

	if (ret)
		return ret;
	errno = 0;
	n = strtoul(buf, &end, 10);
	if (errno || end == buf || *end || n > UINT_MAX)
		return -EINVAL;
	*v = (unsigned int)n;
	return 0;
}

static int why(struct src_iio *x, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int why(struct src_iio *x, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->s.why, sizeof(x->s.why), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- Finding the device ------------------------------------------------------------ */

static bool wanted(struct src_iio *x, const struct iio_device *d)
{
	const char *name = iio_device_get_name(d);

	if (!x->device || !strcmp(x->device, "auto"))
		return name && !strcmp(name, DRIVER_NAME);
	return !strcmp(iio_device_get_id(d), x->device) ||
	       (name && !strcmp(name, x->device)) ||
	       (iio_device_get_label(d) &&
		!strcmp(iio_device_get_label(d), x->device));
}

static unsigned long dev_number(const struct iio_device *d)
{
	const char *id = iio_device_get_id(d);

	return strncmp(id, "iio:device", 10) ? ULONG_MAX :
	       strtoul(id + 10, NULL, 10);
}

/*
 * A device's sysfs folder is made anew at each registration: its inode
 * tells a new device from the one lost, even when IIO reuses the name.
 */
static ino_t sys_ino_of(const char *id)
{
	char p[PATH_MAX];
	struct stat sb;

	snprintf(p, sizeof(p), SYSFS_IIO "/%s", id);
	return stat(p, &sb) ? 0 : sb.st_ino;
}

/* Scan sysfs once; the lowest-numbered matching device wins. */
static int find_device(struct src_iio *x)
{
	struct iio_device *best = NULL;
	unsigned int i, n;

	if (x->ctx)
		iio_context_destroy(x->ctx);
	x->dev = NULL;
	x->ctx = iio_create_local_context();
	if (!x->ctx)
		return -errno ? -errno : -ENODEV;
	n = iio_context_get_devices_count(x->ctx);
	for (i = 0; i < n; i++) {
		struct iio_device *d = iio_context_get_device(x->ctx, i);

		if (!wanted(x, d) || (best && dev_number(d) > dev_number(best)))
			continue;
		/* A device we already captured and lost is not coming back. */
		if (x->lost_ino && !strcmp(iio_device_get_id(d), x->lost_id) &&
		    sys_ino_of(x->lost_id) == x->lost_ino)
			continue;
		best = d;
	}
	if (!best)
		return -ENODEV;
	x->dev = best;
	snprintf(x->id, sizeof(x->id), "%s", iio_device_get_id(best));
	snprintf(x->sys, sizeof(x->sys), SYSFS_IIO "/%s", x->id);
	x->sys_ino = sys_ino_of(x->id);
	return 0;
}

/* ---- Layout ---------------------------------------------------------------------- */

static const char *chan_label(const struct iio_channel *ch, char *buf,
			      size_t len)
{
	if (!iio_channel_find_attr(ch, "label") ||
	    iio_channel_attr_read(ch, "label", buf, len) <= 0)
		return "";
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int by_scan_index(const void *a, const void *b)
{
	long ia = iio_channel_get_index(*(struct iio_channel *const *)a);
	long ib = iio_channel_get_index(*(struct iio_channel *const *)b);

	return (ia > ib) - (ia < ib);
}

/*
 * Byte offsets of every scan element with all of them enabled, as the
 * kernel lays them out: each element aligned to its own size, in index
 * order (the driver keeps every element a power of two and the total a
 * multiple of the largest, so libiio 0.24 agrees, see docs/driver.md).
 */
static int layout(struct src_iio *x)
{
	unsigned int n = iio_device_get_channels_count(x->dev), i, k;
	unsigned int count = 0, off = 0, largest = 0;
	struct iio_channel **order;
	char label[64];
	int ret = 0;

	/* A large mat has thousands of row elements: sized by the device. */
	order = calloc(n ? n : 1, sizeof(*order));
	if (!order)
		return why(x, -ENOMEM, "%s: no memory for %u channels", x->id, n);
	for (k = 0; k < F_NUM; k++)
		x->off[k] = NO_OFF;
	for (i = 0; i < n; i++) {
		struct iio_channel *ch = iio_device_get_channel(x->dev, i);

		if (!iio_channel_is_scan_element(ch) || iio_channel_is_output(ch))
			continue;
		iio_channel_enable(ch);
		order[count++] = ch;
	}
	qsort(order, count, sizeof(*order), by_scan_index);
	x->rows_bytes = 0;
	for (i = 0; i < count; i++) {
		const struct iio_data_format *f = iio_channel_get_data_format(order[i]);
		unsigned int len = f->length / 8 * (f->repeat ? f->repeat : 1);
		const char *id = iio_channel_get_id(order[i]);
		const char *lab = chan_label(order[i], label, sizeof(label));

		if (!len) {
			ret = why(x, -EPROTO, "%s: scan element %s has no size",
				  x->id, id);
			goto out_free;
		}
		if (off % len)
			off += len - off % len;
		for (k = 0; k < F_NUM; k++) {
			if ((field_label[k] && !strcmp(lab, field_label[k])) ||
			    (!*lab && !strcmp(id, field_id[k])))
				x->off[k] = off;
		}
		{
			unsigned int t, r;

			/* Row elements are labelled tileT_rowR_colC. */
			if (!strncmp(id, "pressure", 8) &&
			    sscanf(lab, "tile%u_row%u", &t, &r) == 2)
				x->rows_bytes = off + len;
		}
		off += len;
		if (len > largest)
			largest = len;
	}
	if (largest && off % largest)
		off += largest - off % largest;
	x->scan_bytes = off;
out_free:
	free(order);
	if (ret)
		return ret;
	for (k = 0; k < F_NUM; k++)
		if (x->off[k] == NO_OFF)
			return why(x, -EPROTO, "%s: no %s channel: not a gaitmat scan layout",
				   x->id, field_key[k]);
	if (x->off[F_TS] + 8 != x->scan_bytes)
		return why(x, -EPROTO, "%s: the timestamp is not the last 8 bytes of a scan",
			   x->id);
	if (iio_device_get_sample_size(x->dev) != (ssize_t)x->scan_bytes)
		return why(x, -EPROTO, "%s: libiio says %zd bytes per scan, the kernel %u",
			   x->id, iio_device_get_sample_size(x->dev),
			   x->scan_bytes);
	return 0;
}

/* Every scan element on: the driver accepts only the full mask. */
static int enable_elements(struct src_iio *x)
{
	char dir[PATH_MAX], p[PATH_MAX + 256];
	struct dirent *de;
	int ret = 0, n = 0;
	DIR *d;

	if (dev_file(x, "scan_elements", dir, sizeof(dir)))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return why(x, -errno, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 4 || strcmp(de->d_name + len - 3, "_en"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		ret = sys_write(p, "1");
		if (ret) {
			why(x, ret, "%s: %s", p, strerror(-ret));
			break;
		}
		n++;
	}
	closedir(d);
	if (!ret && !n)
		ret = why(x, -ENODEV, "%s: no scan elements", x->id);
	return ret;
}

/* ---- Attributes ------------------------------------------------------------------------ */

static int set_rate(struct src_iio *x)
{
	char avail[256], cur[32], *tok, *save;
	unsigned int best = 0, want = x->o.rate_hz;
	bool listed = false;
	ssize_t n;

	n = iio_device_attr_read(x->dev, "sampling_frequency", cur, sizeof(cur));
	if (n <= 0)
		return why(x, n < 0 ? (int)n : -EIO, "%s: no sampling_frequency", x->id);
	if (!want) {
		x->rate = (unsigned int)strtoul(cur, NULL, 10);
		return 0;
	}
	n = iio_device_attr_read(x->dev, "sampling_frequency_available", avail,
				 sizeof(avail));
	if (n <= 0)
		return why(x, -EIO, "%s: no sampling_frequency_available", x->id);
	for (tok = strtok_r(avail, "\t \n", &save); tok;
	     tok = strtok_r(NULL, "\t \n", &save)) {
		unsigned int r = (unsigned int)strtoul(tok, NULL, 10);

		if (r > best)
			best = r;
		if (r == want)
			listed = true;
	}
	if (want == UINT_MAX)
		want = best;
	else if (!listed)
		return why(x, -EINVAL, "%s: %u Hz is not one of the mat's rates",
			   x->id, want);
	/* Every write is a command to the controller: none if not needed. */
	if ((unsigned int)strtoul(cur, NULL, 10) == want) {
		x->rate = want;
		return 0;
	}
	snprintf(cur, sizeof(cur), "%u", want);
	n = iio_device_attr_write(x->dev, "sampling_frequency", cur);
	if (n < 0)
		return why(x, (int)n, "%s: setting %u Hz: %s", x->id, want,
			   strerror((int)-n));
	x->rate = want;
	return 0;
}

static int set_clock(struct src_iio *x)
{
	char cur[32];
	ssize_t n;

	n = iio_device_attr_write(x->dev, "current_timestamp_clock", x->clock);
	if (n < 0)
		return why(x, (int)n, "%s: current_timestamp_clock %s: %s", x->id,
			   x->clock, strerror((int)-n));
	n = iio_device_attr_read(x->dev, "current_timestamp_clock", cur,
				 sizeof(cur));
	cur[n > 0 ? strcspn(cur, "\n") : 0] = '\0';
	if (n <= 0 || strcmp(cur, x->clock))
		return why(x, -EIO, "%s: timestamp clock reads back as '%s'",
			   x->id, cur);
	return 0;
}

static int buffer_attr(struct src_iio *x, const char *attr, unsigned int v)
{
	char val[24], rel[64];
	ssize_t n;

	snprintf(val, sizeof(val), "%u", v);
	n = iio_device_buffer_attr_write(x->dev, attr, val);
	if (n >= 0)
		return 0;
	/* libiio without buffer attributes: the same file by hand. */
	snprintf(rel, sizeof(rel), "buffer/%s", attr);
	return dev_write(x, rel, val);
}

/* Length, watermark, enable; a buffer too large to allocate is halved. */
static int enable_buffer(struct src_iio *x)
{
	int ret;

	x->length = x->o.buffer_length;
	if (!x->length) {
		x->length = BUFFER_BYTES / x->scan_bytes;
		if (x->length > MAX_LENGTH)
			x->length = MAX_LENGTH;
		if (x->length < 2)
			x->length = 2;
	}
	for (;;) {
		x->watermark = x->o.watermark;
		if (!x->watermark)
			x->watermark = x->rate * WATERMARK_MS / 1000;
		if (x->watermark > x->length / 4)
			x->watermark = x->length / 4;
		if (!x->watermark)
			x->watermark = 1;
		ret = buffer_attr(x, "length", x->length);
		if (!ret)
			ret = buffer_attr(x, "watermark", x->watermark);
		if (ret)
			return why(x, ret, "%s: buffer length %u: %s", x->id,
				   x->length, strerror(-ret));
		ret = dev_write(x, "buffer/enable", "1");
		/* START waits for the controller's ACK; a busy one may miss it. */
		for (int i = 0; i < 2 && ret == -ETIMEDOUT; i++)
			ret = dev_write(x, "buffer/enable", "1");
		if (!ret)
			break;
		if (ret != -EINVAL && ret != -ENOMEM)
			return why(x, ret, "%s: enabling the buffer: %s", x->id,
				   strerror(-ret));
		if (x->o.buffer_length || x->length <= 2)
			return why(x, ret, "%s: enabling a buffer of %u scans: %s",
				   x->id, x->length, strerror(-ret));
		x->length /= 2;
	}
	x->enabled = true;
	return 0;
}

static void disable_buffer(struct src_iio *x)
{
	if (x->enabled)
		dev_write(x, "buffer/enable", "0");
	x->enabled = false;
}

/* ---- Records ------------------------------------------------------------------------ */

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void iio_rec_info(void *priv, const uint8_t *rec, uint32_t len,
			 struct eng_rec_info *ri)
{
	struct src_iio *x = priv;
	uint32_t missing;

	(void)len;
	ri->seq = le64_at(rec + x->off[F_SEQ]);
	/* The record keeps its own clock (ts_clock); chunk times are monotonic. */
	ri->t_ns = eng_clock_map(&x->clk, (int64_t)le64_at(rec + x->off[F_TS]));
	ri->device_ns = (int64_t)le64_at(rec + x->off[F_CLOCK]) * 1000;
	ri->has_device_ns = true;
	memcpy(&missing, rec + x->off[F_MISSING], 4);
	ri->missing = missing;
}

static uint32_t gcs_clock_of(const char *clock)
{
	if (!strcmp(clock, "monotonic"))
		return GCS_CLOCK_MONOTONIC;
	if (!strcmp(clock, "realtime"))
		return GCS_CLOCK_REALTIME;
	if (!strcmp(clock, "boottime"))
		return GCS_CLOCK_BOOTTIME;
	return GCS_CLOCK_NONE;
}

/* json_object_object_add() that takes @v's reference even when it fails. */
static int jadd(struct json_object *o, const char *key, struct json_object *v)
{
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static clockid_t clockid_of(const char *clock)
{
	switch (gcs_clock_of(clock)) {
	case GCS_CLOCK_REALTIME:
		return CLOCK_REALTIME;
	case GCS_CLOCK_BOOTTIME:
		return CLOCK_BOOTTIME;
	default:
		return CLOCK_MONOTONIC;
	}
}

static int add_stream(struct src_iio *x)
{
	unsigned int tiles = 0, rows = 0, cols = 0, pitch = 0;
	struct json_object *desc, *fields;
	char scale[32] = "", *end;
	double scale_v;
	struct gcs_stream_def def;
	int ret;

	dev_read(x, "serialnumber", x->serial, sizeof(x->serial));
	dev_read(x, "firmware", x->firmware, sizeof(x->firmware));
	dev_read(x, "in_pressure_scale", scale, sizeof(scale));
	/* One value per file; zeros if the driver says otherwise. */
	if (dev_uint(x, "num_tiles", &tiles) || dev_uint(x, "rows_per_tile", &rows) ||
	    dev_uint(x, "columns_per_tile", &cols) ||
	    dev_uint(x, "sensel_pitch_um", &pitch))
		tiles = rows = cols = pitch = 0;
	/* Metadata values must be tokens: anything odd becomes '_'. */
	for (char *p = x->serial; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= 'a' && *p <= 'z') || strchr("._:-", *p)))
			*p = '_';
	for (char *p = x->firmware; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			*p = '_';
	scale_v = strtod(scale, &end);
	/* JSON wants a digit on each side of the point. */
	if (end == scale || *end || strspn(scale, "0123456789.") != strlen(scale) ||
	    !strchr("0123456789", scale[0]) || !strchr("0123456789", end[-1]))
		scale[0] = '\0';	/* not a plain decimal: stored as null */
	desc = json_object_new_object();
	fields = json_object_new_object();
	if (!desc || !fields ||
	    jadd(desc, "device", json_object_new_string(x->s.name)) ||
	    jadd(desc, "driver", json_object_new_string(DRIVER_NAME)) ||
	    jadd(desc, "iio", json_object_new_string(x->id)) ||
	    jadd(desc, "serial", json_object_new_string(*x->serial ? x->serial : "unknown")) ||
	    jadd(desc, "firmware", json_object_new_string(*x->firmware ? x->firmware : "unknown")) ||
	    jadd(desc, "tiles", json_object_new_int64(tiles)) ||
	    jadd(desc, "rows", json_object_new_int64(rows)) ||
	    jadd(desc, "cols", json_object_new_int64(cols)) ||
	    jadd(desc, "pitch_um", json_object_new_int64(pitch)) ||
	    jadd(desc, "rate_hz", json_object_new_int64(x->rate)) ||
	    jadd(desc, "scale_kpa", *scale ? json_object_new_double_s(scale_v, scale) : NULL) ||
	    jadd(desc, "sensel", json_object_new_string("le:u12/16")) ||
	    jadd(desc, "scan_bytes", json_object_new_int64(x->scan_bytes)) ||
	    jadd(desc, "rows_bytes", json_object_new_int64(x->rows_bytes)) ||
	    jadd(fields, "seq", json_object_new_int64(x->off[F_SEQ])) ||
	    jadd(fields, "controller_clock_us", json_object_new_int64(x->off[F_CLOCK])) ||
	    jadd(fields, "flags", json_object_new_int64(x->off[F_FLAGS])) ||
	    jadd(fields, "missing", json_object_new_int64(x->off[F_MISSING])) ||
	    jadd(fields, "timestamp", json_object_new_int64(x->off[F_TS])) ||
	    jadd(desc, "fields", json_object_get(fields)) ||
	    jadd(desc, "timestamp_clock", json_object_new_string(x->clock)) ||
	    jadd(desc, "buffer_length", json_object_new_int64(x->length)) ||
	    jadd(desc, "watermark", json_object_new_int64(x->watermark)) ||
	    jadd(desc, "attach", json_object_new_int64(x->n_attach))) {
		json_object_put(fields);
		json_object_put(desc);
		return why(x, -ENOMEM, "%s: describing the stream: %s", x->id,
			   strerror(ENOMEM));
	}
	json_object_put(fields);
	def = (struct gcs_stream_def){
		.kind = GCS_KIND_IIO_SCAN, .record_size = x->scan_bytes,
		.ts_offset = x->off[F_TS], .ts_clock = gcs_clock_of(x->clock),
		.desc_json = json_object_to_json_string_ext(desc, JSON_C_TO_STRING_PLAIN),
	};
	ret = gcs_writer_add_stream(eng_writer(x->s.e), &def, &x->stream);
	json_object_put(desc);
	if (ret)
		return why(x, ret, "%s: declaring the stream: %s", x->id,
			   gcs_strerror(ret));
	x->have_stream = true;
	return 0;
}

/* ---- Attach / detach --------------------------------------------------------------------- */

static void detach(struct src_iio *x)
{
	disable_buffer(x);
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}

static int attach(struct src_iio *x)
{
	struct eng_chan_def cd;
	char devnode[64], en[8];
	int ret;

	snprintf(devnode, sizeof(devnode), "/dev/%s", x->id);
	/* Opening first claims the device: IIO lets one reader in. */
	x->fd = open(devnode, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (x->fd < 0) {
		ret = -errno;
		return why(x, ret, "%s: %s", devnode,
			   ret == -EBUSY ? "in use (another capture?)" :
					   strerror(-ret));
	}
	/* Left on by a capture that was killed: start from a clean state. */
	if (!dev_read(x, "buffer/enable", en, sizeof(en)) && en[0] == '1')
		dev_write(x, "buffer/enable", "0");
	ret = layout(x);
	if (!ret)
		ret = enable_elements(x);
	if (!ret)
		ret = set_rate(x);
	if (!ret)
		ret = set_clock(x);
	if (!ret)
		ret = enable_buffer(x);
	if (!ret)
		ret = add_stream(x);
	if (ret)
		goto err;
	cd = (struct eng_chan_def){
		.label = x->s.name, .fd = x->fd, .kind = ENG_CHAN_RECORDS,
		.stream = x->stream, .record_size = x->scan_bytes,
		.max_records = x->length, .batch_records = x->watermark,
		.whole_records = true, .gap_reason = GCS_GAP_KERNEL_OVERFLOW,
		/*
		 * IIO wakes pollers on every scan: read about a watermark at a
		 * time instead (the engine shortens the hold if scans come
		 * faster than the device's rate says). A watermark of 1 asks
		 * for one wakeup per scan: no hold, read as soon as it polls.
		 */
		.hold_us = x->rate && x->watermark > 1 ?
			(uint32_t)((uint64_t)x->watermark * 1000000 / x->rate) : 0,
		.has_seq = true, .rec_ts = true, .rec_info = iio_rec_info,
		.priv = x,
	};
	ret = eng_chan_add(x->s.e, &x->s, &cd, &x->chan);
	if (ret) {
		why(x, ret, "%s: %s", x->id, strerror(-ret));
		goto err;
	}
	x->n_attach++;
	x->s.waiting = false;
	return 0;
err:
	detach(x);
	return ret;
}

static int iio_start(struct eng_source *s)
{
	struct src_iio *x = s->priv;
	int64_t until = eng_now() + (int64_t)x->o.wait_ms * NS_PER_MS;
	int ret;

	for (;;) {
		ret = find_device(x);
		if (!ret || eng_now() >= until)
			break;
		usleep(200000);
	}
	if (ret && x->o.absent_ok) {
		/* The mat joins when it appears (iio_tick). */
		why(x, 0, "waiting for the mat");
		s->waiting = true;
		x->next_scan = eng_now();
		x->scan_until = 0;
		return 0;
	}
	if (ret)
		return why(x, ret, "no IIO device %s%s%s",
			   x->device ? x->device : "named " DRIVER_NAME,
			   x->o.wait_ms ? " appeared" : "",
			   " (is the driver loaded and the mat connected?)");
	return attach(x);
}

/* The device went away (controller reset, unplugged, silent). */
static int iio_chan_end(struct eng_source *s, struct eng_chan *c, int err)
{
	struct src_iio *x = s->priv;
	int64_t now = eng_now();

	struct eng_chan_stats st;

	eng_chan_get_stats(c, &st);
	x->lost_t = st.records ? st.t_last_ns : now;
	snprintf(x->lost_id, sizeof(x->lost_id), "%s", x->id);
	x->lost_ino = x->sys_ino;
	x->chan = NULL;
	detach(x);
	if (err != -ENODEV || x->o.no_reattach)
		return why(x, err ? err : -ENODEV, "%s: %s", x->id,
			   err ? strerror(-err) : "end of data");
	why(x, 0, "%s: gone; waiting for the mat to come back", x->id);
	s->waiting = true;
	x->next_scan = now;
	return 0;
}

static void iio_tick(struct eng_source *s, int64_t now)
{
	struct src_iio *x = s->priv;
	uint32_t old = x->stream;
	struct stat sb;
	int ret;

	if (x->chan && now >= x->next_check) {
		x->next_check = now + 200 * NS_PER_MS;
		/*
		 * An unregistered IIO device never reports readable again,
		 * and its name may already belong to the next registration:
		 * make the channel read, which then says -ENODEV.
		 */
		if (stat(x->sys, &sb) || sb.st_ino != x->sys_ino)
			eng_chan_poke(x->chan);
	}
	if (!s->waiting || now < x->next_scan)
		return;
	x->next_scan = now + (x->o.rescan_on_request && now > x->scan_until ?
			      RESCAN_SLOW_NS : RESCAN_NS);
	ret = find_device(x);
	if (ret) {
		/* Say why in the status: the operator sees more than "waiting". */
		if (ret != -ENODEV) {
			why(x, 0, "looking for the mat: %s", strerror(-ret));
			snprintf(x->fail, sizeof(x->fail), "%s", x->s.why);
		}
		return;
	}
	if (attach(x)) {
		/* Not ready yet (or refused): try again later. */
		snprintf(x->fail, sizeof(x->fail), "%s", x->s.why);
		return;
	}
	x->fail[0] = '\0';
	if (x->n_attach == 1) {
		/* The first mat of a capture that started without one. */
		why(x, 0, "%s: joined as stream %u", x->id, x->stream);
		return;
	}
	/*
	 * The outage, on the old stream: no sequence numbers can say what
	 * was missed (the new boot counts from 0), the times can.
	 */
	eng_gap(s->e, old, GCS_GAP_DISCONNECT, GCS_SEQ_UNKNOWN, GCS_SEQ_UNKNOWN,
		x->lost_t, now);
	eng_marker(s->e, GCS_MARK_DEVICE_RESET, old, now, x->stream);
	why(x, 0, "%s: attached again as stream %u", x->id, x->stream);
}

/*
 * Losses as this capture saw them in the sequence numbers: scans the
 * kernel buffer dropped and scans the controller says were never sent.
 * The driver's own counters are debugfs diagnostics: only the
 * controller's drop count is taken from there, when it can be read.
 */
static int counters(struct src_iio *x, char *buf, size_t len)
{
	char drop[24] = "?", label[64], p[PATH_MAX];
	struct eng_chan_stats st = { 0 };

	if (x->chan)
		eng_chan_get_stats(x->chan, &st);
	if (!dev_read(x, "label", label, sizeof(label)) &&
	    snprintf(p, sizeof(p), "/sys/kernel/debug/gaitmat/%s/controller_dropped",
		     label) < (int)sizeof(p))
		sys_read(p, drop, sizeof(drop));
	return snprintf(buf, len, "%s %u Hz buf %u/%u overruns %" PRIu64
			" seq_gaps %" PRIu64 " ctrl_dropped %s",
			x->id, x->rate, x->watermark, x->length, st.lost_kernel,
			st.lost_device, drop);
}

static void iio_stop(struct eng_source *s)
{
	struct src_iio *x = s->priv;

	if (x->fd >= 0)
		counters(x, x->final, sizeof(x->final));
	detach(x);
}

static int iio_describe(struct eng_source *s, char *buf, size_t len)
{
	struct src_iio *x = s->priv;

	if (x->fd >= 0)
		return counters(x, buf, len);
	if (s->waiting)
		return snprintf(buf, len, "waiting for the mat%s%s",
				*x->fail ? "; last try: " : "", x->fail);
	return snprintf(buf, len, "%s", *x->final ? x->final : "stopped");
}

static void iio_destroy(struct eng_source *s)
{
	struct src_iio *x = s->priv;

	detach(x);
	if (x->ctx)
		iio_context_destroy(x->ctx);
	free(x->device);
	free(x->clock);
	free(x);
}

static const struct eng_source_ops iio_ops = {
	.kind = "iio",
	.start = iio_start,
	.tick = iio_tick,
	.chan_end = iio_chan_end,
	.stop = iio_stop,
	.describe = iio_describe,
	.destroy = iio_destroy,
};

int eng_source_iio_create(struct eng_source **sp, const struct eng_iio_opts *o)
{
	struct src_iio *x = calloc(1, sizeof(*x));

	*sp = NULL;
	if (!x)
		return -ENOMEM;
	x->s.priv = x;
	x->o = *o;
	x->fd = -1;
	x->device = o->device ? strdup(o->device) : NULL;
	x->clock = strdup(o->clock ? o->clock : "monotonic");
	if ((o->device && !x->device) || !x->clock) {
		iio_destroy(&x->s);
		return -ENOMEM;
	}
	if (gcs_clock_of(x->clock) == GCS_CLOCK_NONE) {
		iio_destroy(&x->s);
		return -EINVAL;
	}
	eng_clock_map_init(&x->clk, clockid_of(x->clock));
	x->o.device = x->device;
	x->o.clock = x->clock;
	x->s.ops = &iio_ops;
	snprintf(x->s.name, sizeof(x->s.name), "mat0");
	*sp = &x->s;
	return 0;
}

void eng_source_iio_rescan(struct eng_source *s)
{
	struct src_iio *x = s->priv;
	int64_t now = eng_now();

	if (s->ops != &iio_ops)
		return;
	/* Tries for a while: under load, 5 s once missed the mat for good. */
	x->next_scan = now;
	x->scan_until = now + 30 * (int64_t)NS_PER_MS * 1000;
}
