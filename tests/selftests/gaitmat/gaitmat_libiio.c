// SPDX-License-Identifier: GPL-2.0
/*
 * libiio as a client of the gaitmat driver, inside the QEMU lab: iio_info
 * lists the device and its channels; iio_readdev captures, byte for byte,
 * the scans of a walk the emulator (gaitmat-sim) produced; and a live walk
 * played by the emulator through /dev/gaitmat-virt comes out whole. And the
 * kernel's own tools/iio client reads the per-frame channels.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "virtctl.h"

#define WAIT_MS		10000
#define WALK		"/tmp/gaitmat-walk.bin"

/* ---- Child processes ------------------------------------------------------- */

struct child {
	pid_t pid;
	int out;		/* its stdout, or -1 */
	pthread_t thread;	/* collects out into buf */
	uint8_t *buf;
	size_t len, cap;
};

static void *collect(void *arg)
{
	struct child *ch = arg;
	ssize_t n;

	for (;;) {
		if (ch->len == ch->cap) {
			uint8_t *p = realloc(ch->buf, ch->cap * 2 + 65536);

			if (!p)
				break;
			ch->buf = p;
			ch->cap = ch->cap * 2 + 65536;
		}
		n = read(ch->out, ch->buf + ch->len, ch->cap - ch->len);
		if (n <= 0)
			break;
		ch->len += n;
	}
	return NULL;
}

/* Start argv[0] (found on PATH) with its stdout collected. */
static int spawn(struct child *ch, char *const argv[], bool capture)
{
	int fds[2] = { -1, -1 };

	memset(ch, 0, sizeof(*ch));
	ch->out = -1;
	if (capture && pipe2(fds, O_CLOEXEC))
		return -errno;
	ch->pid = fork();
	if (ch->pid < 0)
		return -errno;
	if (!ch->pid) {
		if (capture)
			dup2(fds[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (capture) {
		close(fds[1]);
		ch->out = fds[0];
		if (pthread_create(&ch->thread, NULL, collect, ch))
			return -EAGAIN;
	}
	return 0;
}

/* Wait for the child; returns its exit status, or -1 if killed. */
static int reap(struct child *ch, bool kill_it)
{
	int status = 0;

	if (kill_it)
		kill(ch->pid, SIGTERM);
	waitpid(ch->pid, &status, 0);
	if (ch->out >= 0) {
		pthread_join(ch->thread, NULL);
		close(ch->out);
		ch->out = -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool on_path(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return !system(cmd);
}

/* The one IIO device named gaitmat, as iio:deviceN. */
static int find_gaitmat(char *id, size_t cap, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	char path[512], name[64];
	struct dirent *de;
	DIR *d;

	do {
		d = opendir("/sys/bus/iio/devices");
		while (d && (de = readdir(d))) {
			snprintf(path, sizeof(path),
				 "/sys/bus/iio/devices/%s/name", de->d_name);
			if (sysfs_read(NULL, path, name, sizeof(name)) > 0 &&
			    !strcmp(name, "gaitmat")) {
				snprintf(id, cap, "%.*s", (int)cap - 1,
					 de->d_name);
				closedir(d);
				return 0;
			}
		}
		if (d)
			closedir(d);
		usleep(10000);
	} while (now_ns() < end);
	return -ETIMEDOUT;
}

static int wait_value(const char *path, long long want, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;

	do {
		if (path_read_ll(path) == want)
			return 0;
		usleep(5000);
	} while (now_ns() < end);
	return -ETIMEDOUT;
}

/* ---- A recorded walk ------------------------------------------------------- */

struct frame_ref {
	size_t off, len;	/* wire bytes in the file, delimiter included */
	struct gm_hdr hdr;
	bool data;
};

struct walk {
	uint8_t *bytes;
	size_t size;
	struct gm_devinfo di;
	bool have_di;
	struct frame_ref *frames;
	unsigned int n_frames, n_data;
};

static int walk_load(struct walk *w, const char *path)
{
	uint8_t *rxbuf = malloc(GM_MAX_RAW);
	size_t off = 0, used, start = 0;
	struct gm_rx rx;
	struct stat st;
	bool fs;
	int fd, res;

	memset(w, 0, sizeof(*w));
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || !rxbuf)
		return -errno;
	w->size = st.st_size;
	w->bytes = malloc(w->size);
	w->frames = calloc(w->size / 8 + 1, sizeof(*w->frames));
	if (!w->bytes || !w->frames || read(fd, w->bytes, w->size) !=
	    (ssize_t)w->size)
		return -EIO;
	close(fd);
	gm_rx_init(&rx, rxbuf, GM_MAX_RAW);
	while (off < w->size) {
		used = gm_rx_feed(&rx, w->bytes + off, w->size - off, &res, &fs);
		off += used;
		if (res < 0)
			return -EBADMSG;	/* a clean walk has no fault */
		if (res > 0) {
			struct frame_ref *f = &w->frames[w->n_frames++];

			f->off = start;
			f->len = off - start;
			if (gm_parse_hdr(rxbuf, res, &f->hdr))
				return -EBADMSG;
			f->data = f->hdr.type == GM_T_DENSE ||
				  f->hdr.type == GM_T_SPARSE;
			w->n_data += f->data;
			if (f->hdr.type == GM_T_DEVINFO && !w->have_di) {
				if (gm_parse_devinfo(gm_body(rxbuf),
						     f->hdr.body_len, &w->di))
					return -EBADMSG;
				w->have_di = true;
			}
		}
		if (res)
			start = off;
	}
	free(rxbuf);
	return w->have_di && w->n_data ? 0 : -ENODATA;
}

/* The scan the driver must make of data frame @f (timestamp aside). */
static void walk_expect(const struct walk *w, const struct frame_ref *f,
			uint64_t seq64, uint32_t missing, uint16_t *sensels,
			uint8_t *scan)
{
	uint8_t *raw = malloc(GM_MAX_RAW);
	struct gm_rx rx;
	size_t used;
	uint32_t flags;
	bool fs;
	int res = 0;

	gm_rx_init(&rx, raw, GM_MAX_RAW);
	rx.discard = false;
	used = gm_rx_feed(&rx, w->bytes + f->off, f->len, &res, &fs);
	(void)used;
	if (f->hdr.type == GM_T_DENSE)
		gm_decode_dense(&w->di, gm_body(raw), f->hdr.body_len, sensels,
				GM_MAX_SENSELS);
	else
		gm_decode_sparse(&w->di, gm_body(raw), f->hdr.body_len,
				 sensels, GM_MAX_SENSELS);
	flags = f->hdr.flags | (f->hdr.type == GM_T_SPARSE ? 1u << 8 : 0) |
		(missing ? 1u << 9 : 0);
	scan_expect(&w->di, sensels, seq64, f->hdr.clock_us, flags, missing,
		    scan);
	free(raw);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

FIXTURE(libiio) {
	struct vctl c;
	bool open;
};

FIXTURE_SETUP(libiio)
{
	if (geteuid())
		SKIP(return, "needs root (the virtual transport is 0600)");
	if (access(VIRT_DEV, F_OK))
		SKIP(return, VIRT_DEV " missing: gaitmat_virt not loaded");
	if (!on_path("iio_info") || !on_path("iio_readdev"))
		SKIP(return, "libiio-utils (iio_info, iio_readdev) not installed");
}

FIXTURE_TEARDOWN(libiio)
{
	if (self->open)
		vctl_close(&self->c);
}

/* iio_info sees the device, its channel count and their formats. */
TEST_F(libiio, iio_info_lists_device)
{
	char *argv[] = { "iio_info", "-u", "local:", NULL };
	struct gm_devinfo di;
	struct scan_layout l;
	struct child ch;
	char want[256], *text;

	vctl_devinfo(&di, 3, 20, 40, 0x11b10001);
	scan_layout(&di, &l);
	ASSERT_EQ(0, vctl_open(&self->c, &di));
	self->open = true;
	ASSERT_EQ(0, vctl_wait_iio(&self->c, WAIT_MS));

	ASSERT_EQ(0, spawn(&ch, argv, true));
	ASSERT_EQ(0, reap(&ch, false));
	text = calloc(1, ch.len + 1);
	ASSERT_NE(NULL, text);
	memcpy(text, ch.buf, ch.len);

	snprintf(want, sizeof(want), "%s: gaitmat (label: %s) (buffer capable)",
		 self->c.iio, self->c.pdev);
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("no '%s'", want);
	snprintf(want, sizeof(want), "%u channels found", l.n_chans + 5);
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("no '%s'", want);
	snprintf(want, sizeof(want),
		 "pressure59:  (input, index: 59, format: le:u12/16X16>>0)");
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("no '%s'", want);
	snprintf(want, sizeof(want),
		 "count0:  (input, index: %u, format: le:U64/64>>0)", l.n_chans);
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("no '%s'", want);
	snprintf(want, sizeof(want),
		 "count2:  (input, index: %u, format: le:U32/32>>0)",
		 l.n_chans + 2);
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("no '%s'", want);
	snprintf(want, sizeof(want),
		 "timestamp:  (input, index: %u, format: le:S64/64>>0)",
		 l.n_chans + 4);
	EXPECT_NE(NULL, strstr(text, want)) TH_LOG("no '%s'", want);
	EXPECT_NE(NULL, strstr(text, "label value: tile2_row19_col32"));
	EXPECT_NE(NULL, strstr(text, "label value: controller_clock_us"));
	EXPECT_NE(NULL, strstr(text, "sampling_frequency_available value: 50 100 120 200"));
	if (!_metadata->passed)
		fprintf(stderr, "%s", text);
	free(text);
	free(ch.buf);
}

/*
 * The emulator's walk, replayed through the virtual transport as the
 * controller sent it, captured by iio_readdev: every scan as the frames
 * say, the timestamps rising.
 */
TEST_F_TIMEOUT(libiio, readdev_matches_emulator, 300)
{
	char *sim[] = { "gaitmat-sim", "--out", WALK, "--no-pace", "--autostart",
			"--tiles", "2", "--duration", "2", "--seed", "7",
			"--quiet", NULL };
	char samples[32], len_path[256], avail_path[256];
	char *readdev[] = { "iio_readdev", "-u", "local:", "-b", "32", "-s",
			    samples, "-T", "20000", self->c.iio, NULL };
	struct scan_layout l;
	struct child sim_ch, rd;
	struct walk w;
	uint16_t *sensels;
	uint8_t *want;
	uint64_t seq64 = 0;
	uint32_t missing;
	unsigned int i, k, length, n_scans, from;
	int64_t prev = 0, ts;
	bool have_seq = false;

	if (!on_path("gaitmat-sim"))
		SKIP(return, "gaitmat-sim not on PATH (build userspace first)");
	ASSERT_EQ(0, spawn(&sim_ch, sim, false));
	ASSERT_EQ(0, reap(&sim_ch, false));
	ASSERT_EQ(0, walk_load(&w, WALK));
	scan_layout(&w.di, &l);
	TH_LOG("walk: %zu bytes, %u frames, %u scans of %u bytes", w.size,
	       w.n_frames, w.n_data, l.bytes);

	ASSERT_EQ(0, vctl_open(&self->c, &w.di));
	self->open = true;
	ASSERT_EQ(0, vctl_wait_iio(&self->c, WAIT_MS));
	ASSERT_EQ(0, sysfs_write(&self->c, "current_timestamp_clock",
				 "monotonic"));
	/* iio_readdev reads whole blocks of -b samples. */
	n_scans = w.n_data / 32 * 32;
	ASSERT_LT(0u, n_scans);
	snprintf(samples, sizeof(samples), "%u", n_scans);
	readdev[9] = self->c.iio;
	ASSERT_EQ(0, spawn(&rd, readdev, true));
	snprintf(len_path, sizeof(len_path), "%s/buffer/enable",
		 self->c.sysdir);
	ASSERT_EQ(0, wait_value(len_path, 1, WAIT_MS));
	/*
	 * libiio enables the buffer more than once while it sets up (it
	 * tries its high-speed mode first): frames sent between two enables
	 * would reach a disabled buffer. Start once it has settled.
	 */
	do {
		from = vctl_n_cmds(&self->c);
		usleep(500000);
	} while (vctl_n_cmds(&self->c) != from);
	ASSERT_EQ(0, wait_value(len_path, 1, WAIT_MS));
	TH_LOG("%u commands before the replay", vctl_n_cmds(&self->c));
	snprintf(len_path, sizeof(len_path), "%s/buffer/length",
		 self->c.sysdir);
	snprintf(avail_path, sizeof(avail_path), "%s/buffer/data_available",
		 self->c.sysdir);
	length = path_read_ll(len_path);
	ASSERT_LE(2u, length);

	/* The emulator's bytes, frame by frame, at the reader's pace. */
	for (i = 0; i < w.n_frames; i++) {
		while (path_read_ll(avail_path) >= length / 2)
			usleep(1000);
		ASSERT_EQ(0, vctl_write(&self->c, w.bytes + w.frames[i].off,
					w.frames[i].len));
	}
	EXPECT_EQ(0, reap(&rd, false));
	TH_LOG("buffer length %u; frames %lld, seq_gaps %lld, overruns %lld",
	       length, vctl_counter(&self->c, "frames"),
	       vctl_counter(&self->c, "seq_gaps"),
	       vctl_counter(&self->c, "overruns"));
	EXPECT_EQ(0, vctl_counter(&self->c, "overruns"));
	EXPECT_EQ(0, vctl_counter(&self->c, "crc_errors"));
	EXPECT_EQ(0, vctl_counter(&self->c, "frame_errors"));
	ASSERT_EQ((size_t)n_scans * l.bytes, rd.len);

	want = malloc(l.bytes);
	sensels = calloc(GM_MAX_SENSELS, sizeof(*sensels));
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, sensels);
	for (i = 0, k = 0; i < w.n_frames && k < n_scans; i++) {
		const struct frame_ref *f = &w.frames[i];
		const uint8_t *scan = rd.buf + (size_t)k * l.bytes;

		if (!f->data)
			continue;
		missing = have_seq ? f->hdr.seq - (uint32_t)seq64 - 1 : 0;
		seq64 = have_seq ? seq64 + missing + 1 : f->hdr.seq;
		have_seq = true;
		walk_expect(&w, f, seq64, missing, sensels, want);
		EXPECT_EQ(0, memcmp(want, scan, l.bytes - 8))
			TH_LOG("scan %u (seq %llu) differs", k,
			       (unsigned long long)seq64);
		ts = (int64_t)get64(scan + l.bytes - 8);
		EXPECT_LT(prev, ts);
		prev = ts;
		k++;
	}
	EXPECT_EQ(n_scans, k);
	free(want);
	free(sensels);
	free(rd.buf);
	free(w.bytes);
	free(w.frames);
	unlink(WALK);
}

/*
 * A live walk: the emulator plays the controller through the virtual
 * transport in real time and answers the driver's commands itself.
 */
TEST_F_TIMEOUT(libiio, live_walk_with_emulator, 120)
{
	char *sim[] = { "gaitmat-sim", "--out", VIRT_DEV, "--tiles", "2",
			"--duration", "6", "--quiet", NULL };
	char id[64], path[256], label[64];
	char *readdev[] = { "iio_readdev", "-u", "local:", "-b", "16", "-s",
			    "200", "-T", "10000", id, NULL };
	struct gm_devinfo di;
	struct scan_layout l;
	struct child sim_ch, rd;
	unsigned int k, i, loaded = 0;
	int64_t prev = 0, ts;
	uint64_t seq, first = 0;
	const uint8_t *m;

	if (!on_path("gaitmat-sim"))
		SKIP(return, "gaitmat-sim not on PATH (build userspace first)");
	ASSERT_EQ(0, spawn(&sim_ch, sim, false));
	ASSERT_EQ(0, find_gaitmat(id, sizeof(id), WAIT_MS));
	snprintf(path, sizeof(path), "/sys/bus/iio/devices/%s/current_timestamp_clock",
		 id);
	ASSERT_EQ(0, path_write(path, "monotonic"));
	vctl_devinfo(&di, 2, 64, 64, 0);
	scan_layout(&di, &l);

	ASSERT_EQ(0, spawn(&rd, readdev, true));
	EXPECT_EQ(0, reap(&rd, false));
	ASSERT_EQ(200 * (size_t)l.bytes, rd.len);
	for (k = 0; k < 200; k++) {
		m = rd.buf + (size_t)k * l.bytes + l.meta_offset;
		seq = get64(m);
		if (!k)
			first = seq;
		EXPECT_EQ(first + k, seq);		/* nothing lost */
		EXPECT_EQ(0u, get64(m + 16) & ~0x1ffull);	/* no gap */
		ts = (int64_t)get64(m + 24);
		EXPECT_LT(prev, ts);
		prev = ts;
		/* Any loaded sensel in the rows of this scan. */
		for (i = 0; i < l.meta_offset; i++)
			loaded |= m[(ssize_t)i - l.meta_offset];
	}
	/* Somebody walked on it. */
	EXPECT_LT(0u, loaded);
	/*
	 * The contiguous sequence above is the proof nothing was lost while
	 * capturing; the overruns counter may still count the scans that
	 * came after iio_readdev's last read, before it disabled the buffer.
	 */
	snprintf(path, sizeof(path), "/sys/bus/iio/devices/%s/label", id);
	ASSERT_LT(0, sysfs_read(NULL, path, label, sizeof(label)));
	EXPECT_EQ(0, gaitmat_counter(label, "crc_errors"));
	reap(&sim_ch, true);
	free(rd.buf);
}

/*
 * The kernel's own client, tools/iio/iio_generic_buffer (built from
 * linux-source-6.1 by tests/selftests/Makefile), reads the per-frame
 * channels and the timestamp: one line per scan, in scan order. It cannot
 * parse repeated elements (docs/driver.md), so the rows are left out.
 */
#define GENERIC_BUFFER	"/lab/selftests/gaitmat/iio_generic_buffer"

TEST_F(libiio, kernel_tool_reads_per_frame_channels)
{
	char cmd[256], path[128], *text, *copy, *line, *save;
	char *argv[] = { "sh", "-c", cmd, NULL };
	double seq, clock, flags, missing, prev = 0;
	unsigned int i, n = 1, lines = 0;
	struct gm_devinfo di;
	struct scan_layout l;
	uint16_t *sensels;
	struct child ch;
	long long ts;
	int rc;

	if (access(GENERIC_BUFFER, X_OK))
		SKIP(return, "iio_generic_buffer not built (tests/selftests)");
	vctl_devinfo(&di, 1, 8, 10, 0x7001);
	scan_layout(&di, &l);
	sensels = calloc(di.rows * di.cols, sizeof(*sensels));
	ASSERT_NE(NULL, sensels);
	ASSERT_EQ(0, vctl_open(&self->c, &di));
	self->open = true;
	ASSERT_EQ(0, vctl_wait_iio(&self->c, WAIT_MS));
	ASSERT_EQ(0, sysfs_write(&self->c, "current_timestamp_clock",
				 "monotonic"));
	ASSERT_EQ(0, vctl_scan_all(&self->c, true));
	for (i = 0; i < l.n_chans; i++) {
		snprintf(path, sizeof(path), "scan_elements/in_pressure%u_en", i);
		ASSERT_EQ(0, sysfs_write(&self->c, path, "0"));
	}
	/* Its complaints go to stderr: keep them with the scans. */
	snprintf(cmd, sizeof(cmd), "exec %s -N %s -g -c 4 -l 16 2>&1",
		 GENERIC_BUFFER, self->c.iio + strlen("iio:device"));

	ASSERT_EQ(0, spawn(&ch, argv, true));
	/* Frames until it has done its four reads, a few seconds at most. */
	for (i = 0; i < 300; i++) {
		siginfo_t si = { 0 };

		if (!waitid(P_PID, ch.pid, &si, WEXITED | WNOHANG | WNOWAIT) &&
		    si.si_pid)
			break;
		vctl_send_data(&self->c, GM_T_DENSE, n, 1000 * n, 0, sensels);
		n++;
		usleep(20000);
	}
	/* It ends with poll()'s last result as its status: 1 after a run. */
	rc = reap(&ch, i == 300);
	EXPECT_TRUE(rc == 0 || rc == 1) {
		TH_LOG("iio_generic_buffer exited with %d", rc);
	}
	text = calloc(1, ch.len + 1);
	copy = calloc(1, ch.len + 1);
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, copy);
	memcpy(text, ch.buf, ch.len);
	memcpy(copy, ch.buf, ch.len);
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%lf %lf %lf %lf %lld", &seq, &clock, &flags,
			   &missing, &ts) != 5)
			continue;
		lines++;
		EXPECT_LT(prev, seq);
		EXPECT_EQ(1000 * seq, clock);
		EXPECT_EQ(0, flags);
		EXPECT_EQ(0, missing);
		EXPECT_LT(0, ts);
		EXPECT_GT(now_ns(), ts);
		prev = seq;
	}
	EXPECT_LE(4u, lines);
	if (!_metadata->passed)
		fprintf(stderr, "%s", text);
	free(copy);
	free(text);
	free(ch.buf);
	free(sensels);
}

TEST_HARNESS_MAIN
