// SPDX-License-Identifier: GPL-2.0
/*
 * A gait mat controller played through /dev/gaitmat-virt, for the
 * selftests. See virtctl.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "virtctl.h"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void vctl_devinfo(struct gm_devinfo *di, unsigned int n_tiles,
		  unsigned int rows, unsigned int cols, uint32_t boot_id)
{
	static const uint16_t rates[] = { 50, 100, 120, 200 };
	unsigned int i;

	memset(di, 0, sizeof(*di));
	snprintf(di->serial, sizeof(di->serial), "SELFTEST-%04x",
		 boot_id & 0xffff);
	di->fw_major = 1;
	di->fw_minor = 4;
	di->fw_patch = 2;
	di->boot_id = boot_id;
	di->n_tiles = n_tiles;
	di->rows = rows;
	di->cols = cols;
	di->sensel_bits = GM_SENSEL_BITS;
	di->pitch_um = 9500;
	di->full_scale_kpa = 600;
	di->rate_hz = 100;
	di->n_rates = 4;
	for (i = 0; i < 4; i++)
		di->rates[i] = rates[i];
	di->baud = 3000000;
	for (i = 0; i < n_tiles; i++) {
		di->tiles[i].x_mm = 608 * i;
		di->tiles[i].y_mm = -5;
		di->tiles[i].orient = i & 3;
	}
}

/* ---- Bytes on the wire ---------------------------------------------------- */

long vctl_encode(const struct gm_hdr *hdr, const uint8_t *body, uint8_t *out,
		 size_t cap)
{
	uint8_t *raw = malloc(GM_MAX_RAW);
	long len, wire;

	if (!raw)
		return -ENOMEM;
	len = gm_build_frame(raw, GM_MAX_RAW, hdr, body);
	if (len < 0 || cap < 2) {
		free(raw);
		return -EINVAL;
	}
	/* A delimiter first: the receiver resynchronises on it. */
	out[0] = GM_DELIM;
	wire = gm_cobs_encode(raw, len, out + 1, cap - 1);
	free(raw);
	return wire < 0 ? -ENOSPC : wire + 1;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int vctl_write(struct vctl *c, const void *buf, size_t len)
{
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = write_all(c->fd, buf, len);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* Called with c->lock held. */
static int send_locked(struct vctl *c, const struct gm_hdr *hdr,
		       const uint8_t *body)
{
	uint8_t *wire = malloc(GM_MAX_WIRE + 1);
	long len;
	int ret;

	if (!wire)
		return -ENOMEM;
	len = vctl_encode(hdr, body, wire, GM_MAX_WIRE + 1);
	ret = len < 0 ? (int)len : write_all(c->fd, wire, len);
	free(wire);
	return ret;
}

int vctl_send(struct vctl *c, const struct gm_hdr *hdr, const uint8_t *body)
{
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = send_locked(c, hdr, body);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

static int announce_locked(struct vctl *c)
{
	uint8_t body[GM_DEVINFO_FIXED_LEN + GM_MAX_TILES * GM_DEVINFO_TILE_LEN];
	struct gm_hdr hdr = { .type = GM_T_DEVINFO };
	long len;

	len = gm_encode_devinfo(&c->di, body, sizeof(body));
	if (len < 0)
		return -EINVAL;
	hdr.body_len = len;
	c->n_info_sent++;
	return send_locked(c, &hdr, body);
}

int vctl_announce(struct vctl *c)
{
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = announce_locked(c);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int vctl_send_data(struct vctl *c, uint8_t type, uint32_t seq,
		   uint64_t clock_us, uint8_t flags, const uint16_t *sensels)
{
	struct gm_hdr hdr = { .type = type, .flags = flags, .seq = seq,
			      .clock_us = clock_us };
	uint8_t *body = malloc(GM_MAX_BODY);
	long len;
	int ret;

	if (!body)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	if (type == GM_T_DENSE)
		len = gm_encode_dense(&c->di, sensels, body, GM_MAX_BODY);
	else
		len = gm_encode_sparse(&c->di, sensels, body, GM_MAX_BODY);
	if (len < 0) {
		ret = -EINVAL;
	} else {
		hdr.body_len = len;
		ret = send_locked(c, &hdr, body);
	}
	pthread_mutex_unlock(&c->lock);
	free(body);
	return ret;
}

int vctl_send_status(struct vctl *c, uint32_t scans_dropped, uint32_t boot_id)
{
	struct gm_status st = {
		.state = GM_STATE_STREAMING,
		.scans_dropped = scans_dropped,
		.boot_id = boot_id,
	};
	struct gm_hdr hdr = { .type = GM_T_STATUS, .body_len = GM_STATUS_LEN };
	uint8_t body[GM_STATUS_LEN];

	pthread_mutex_lock(&c->lock);
	st.rate_hz = c->di.rate_hz;
	pthread_mutex_unlock(&c->lock);
	if (gm_encode_status(&st, body, sizeof(body)) < 0)
		return -EINVAL;
	return vctl_send(c, &hdr, body);
}

/* ---- The controller's side of commands ------------------------------------ */

static void handle_cmd(struct vctl *c, const uint8_t *frame, size_t len)
{
	struct gm_ack ack = { 0 };
	struct gm_hdr hdr, ahdr = { .type = GM_T_ACK, .body_len = GM_ACK_LEN };
	struct vctl_cmd *cmd;
	uint8_t body[GM_ACK_LEN];
	uint16_t rate = 0;

	if (gm_parse_hdr(frame, len, &hdr))
		return;
	if (hdr.type == GM_T_CMD_SET_RATE &&
	    gm_parse_set_rate(gm_body(frame), hdr.body_len, &rate))
		return;

	pthread_mutex_lock(&c->lock);
	if (c->n_cmds < VCTL_MAX_CMDS) {
		cmd = &c->cmds[c->n_cmds++];
		cmd->type = hdr.type;
		cmd->seq = hdr.seq;
		cmd->rate_hz = rate;
	}
	switch (hdr.type) {
	case GM_T_CMD_GET_INFO:
		if (c->answer_info)
			announce_locked(c);
		break;
	case GM_T_CMD_START:
	case GM_T_CMD_STOP:
	case GM_T_CMD_ZERO:
	case GM_T_CMD_SET_RATE:
		if (!c->answer_cmds)
			break;
		ack.cmd = hdr.type;
		ack.result = c->ack_result;
		ack.cmd_seq = hdr.seq;
		if (hdr.type == GM_T_CMD_SET_RATE && ack.result == GM_ACK_OK)
			c->di.rate_hz = rate;
		gm_encode_ack(&ack, body, sizeof(body));
		send_locked(c, &ahdr, body);
		break;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void *vctl_thread(void *arg)
{
	struct vctl *c = arg;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	uint8_t buf[512];
	size_t off, used;
	bool start;
	ssize_t n;
	int res;

	while (!c->stop) {
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = read(c->fd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (off = 0; off < (size_t)n; off += used) {
			used = gm_rx_feed(&c->rx, buf + off, n - off, &res,
					  &start);
			if (res > 0)
				handle_cmd(c, c->rx_buf, res);
		}
	}
	return NULL;
}

void vctl_set(struct vctl *c, bool answer_info, bool answer_cmds,
	      uint8_t ack_result)
{
	pthread_mutex_lock(&c->lock);
	c->answer_info = answer_info;
	c->answer_cmds = answer_cmds;
	c->ack_result = ack_result;
	pthread_mutex_unlock(&c->lock);
}

unsigned int vctl_n_cmds(struct vctl *c)
{
	unsigned int n;

	pthread_mutex_lock(&c->lock);
	n = c->n_cmds;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int vctl_wait_cmd(struct vctl *c, uint8_t type, unsigned int from,
		  int timeout_ms)
{
	struct timespec deadline;
	unsigned int i;
	int ret = -ETIMEDOUT;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	for (;;) {
		for (i = from; i < c->n_cmds; i++) {
			if (c->cmds[i].type == type) {
				ret = i;
				goto out;
			}
		}
		if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline))
			break;
	}
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* ---- Opening and finding ---------------------------------------------------- */

/* Names of the gaitmat-virt.N devices now present, as a bitmap of N. */
static int list_pdevs(uint8_t *seen, size_t n)
{
	struct dirent *de;
	unsigned int id;
	DIR *d;

	memset(seen, 0, n);
	d = opendir(VIRT_SYSDIR);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (sscanf(de->d_name, "gaitmat-virt.%u", &id) == 1 && id < n)
			seen[id] = 1;
	}
	closedir(d);
	return 0;
}

int vctl_open(struct vctl *c, const struct gm_devinfo *di)
{
	uint8_t before[4096], after[4096];
	unsigned int i;
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->di = *di;
	c->answer_info = true;
	c->answer_cmds = true;
	c->ack_result = GM_ACK_OK;
	gm_rx_init(&c->rx, c->rx_buf, sizeof(c->rx_buf));

	ret = list_pdevs(before, sizeof(before));
	if (ret)
		return ret;
	c->fd = open(VIRT_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = list_pdevs(after, sizeof(after));
	if (ret)
		goto err;
	ret = -ENOENT;
	for (i = 0; i < sizeof(after); i++) {
		if (after[i] && !before[i]) {
			/* PLATFORM_DEVID_AUTO names: gaitmat-virt.N.auto */
			snprintf(c->pdev, sizeof(c->pdev), "gaitmat-virt.%u.auto",
				 i);
			ret = 0;
			break;
		}
	}
	if (ret)
		goto err;
	ret = -pthread_create(&c->thread, NULL, vctl_thread, c);
	if (ret)
		goto err;
	c->thread_running = true;
	return 0;
err:
	close(c->fd);
	c->fd = -1;
	return ret;
}

void vctl_close(struct vctl *c)
{
	if (c->thread_running) {
		c->stop = true;
		pthread_join(c->thread, NULL);
		c->thread_running = false;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void vctl_set_iio(struct vctl *c, const char *name)
{
	snprintf(c->iio, sizeof(c->iio), "%.*s", (int)sizeof(c->iio) - 1,
		 name);
	snprintf(c->sysdir, sizeof(c->sysdir), "/sys/bus/iio/devices/%s",
		 c->iio);
	snprintf(c->devnode, sizeof(c->devnode), "/dev/%s", c->iio);
}

int vctl_find_iio(struct vctl *c)
{
	char dir[PATH_MAX];
	struct dirent *de;
	unsigned int n;
	int ret = -ENOENT;
	DIR *d;

	snprintf(dir, sizeof(dir), VIRT_SYSDIR "/%s", c->pdev);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (sscanf(de->d_name, "iio:device%u", &n) != 1)
			continue;
		vctl_set_iio(c, de->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

int vctl_wait_iio(struct vctl *c, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	struct stat st;

	do {
		/* The node appears a little after the sysfs folder. */
		if (!vctl_find_iio(c) && !stat(c->devnode, &st) &&
		    !access(c->sysdir, R_OK))
			return 0;
		sleep_ms(5);
	} while (now_ns() < end);
	return -ETIMEDOUT;
}

int vctl_wait_iio_gone(struct vctl *c, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), VIRT_SYSDIR "/%s/%s", c->pdev, c->iio);
	do {
		if (access(path, F_OK))
			return 0;
		sleep_ms(5);
	} while (now_ns() < end);
	return -ETIMEDOUT;
}

/* ---- sysfs ------------------------------------------------------------------ */

static void attr_path(const struct vctl *c, const char *attr, char *path,
		      size_t cap)
{
	if (attr[0] == '/')
		snprintf(path, cap, "%s", attr);
	else
		snprintf(path, cap, "%s/%s", c->sysdir, attr);
}

int sysfs_read(const struct vctl *c, const char *attr, char *buf, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	attr_path(c, attr, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	return n;
}

long long sysfs_read_ll(const struct vctl *c, const char *attr)
{
	char buf[64];
	int ret;

	ret = sysfs_read(c, attr, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	return strtoll(buf, NULL, 0);
}

int path_write(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : 0;
}

long long path_read_ll(const char *path)
{
	return sysfs_read_ll(NULL, path);
}

int sysfs_write(const struct vctl *c, const char *attr, const char *val)
{
	char path[PATH_MAX];

	attr_path(c, attr, path, sizeof(path));
	return path_write(path, val);
}

long long gaitmat_counter(const char *label, const char *name)
{
	char path[PATH_MAX];

	if (access("/sys/kernel/debug/gaitmat", F_OK))
		mount("none", "/sys/kernel/debug", "debugfs", 0, NULL);
	snprintf(path, sizeof(path), "/sys/kernel/debug/gaitmat/%s/%s", label,
		 name);
	return path_read_ll(path);
}

long long vctl_counter(const struct vctl *c, const char *name)
{
	return gaitmat_counter(c->pdev, name);
}

int vctl_scan_all(struct vctl *c, bool ts)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *de;
	size_t n;
	int ret = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/scan_elements", c->sysdir);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && !ret) {
		n = strlen(de->d_name);
		if (n < 3 || strcmp(de->d_name + n - 3, "_en"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!strcmp(de->d_name, "in_timestamp_en"))
			ret = path_write(path, ts ? "1" : "0");
		else
			ret = path_write(path, "1");
	}
	closedir(d);
	return ret;
}

int vctl_buffer(struct vctl *c, unsigned int length, bool enable)
{
	char val[32];
	int ret;

	if (length) {
		snprintf(val, sizeof(val), "%u", length);
		ret = sysfs_write(c, "buffer/length", val);
		if (ret)
			return ret;
	}
	return sysfs_write(c, "buffer/enable", enable ? "1" : "0");
}

/* ---- Expected scans ------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

void scan_layout(const struct gm_devinfo *di, struct scan_layout *l)
{
	unsigned int chunks = (di->cols + 15) / 16;

	l->repeat = 16 * chunks;
	l->n_rows = di->n_tiles * di->rows;
	l->n_chans = l->n_rows * chunks;
	l->meta_offset = l->n_rows * l->repeat * 2;
	l->bytes = l->meta_offset + 32;
}

/*
 * docs/driver.md, "Scan layout": rows of u16 in elements of 16, the last
 * padded with zeros, then seq (u64), controller clock (u64), flags (u32),
 * missing (u32) and the timestamp (s64), all little-endian.
 */
void scan_expect(const struct gm_devinfo *di, const uint16_t *sensels,
		 uint64_t seq64, uint64_t clock_us, uint32_t flags,
		 uint32_t missing, uint8_t *scan)
{
	struct scan_layout l;
	unsigned int r, col;
	uint8_t *m;

	scan_layout(di, &l);
	memset(scan, 0, l.bytes);
	for (r = 0; r < l.n_rows; r++)
		for (col = 0; col < di->cols; col++)
			put16(scan + (r * l.repeat + col) * 2,
			      sensels[r * di->cols + col]);
	m = scan + l.meta_offset;
	put64(m, seq64);
	put64(m + 8, clock_us);
	put32(m + 16, flags);
	put32(m + 20, missing);
}
