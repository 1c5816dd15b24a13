// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat life-cycle stress, run inside the QEMU lab as root: the driver
 * side unbound, and the controller unplugged, while a reader is blocked in
 * read() on the IIO device, a hundred times each; unbinding while a
 * poll() and a sysfs command wait. The lab fails the run on any oops,
 * WARNING or lockdep report in the kernel log.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "virtctl.h"

#define ROUNDS		100
#define WAIT_MS		5000

struct blocked {
	const char *node;
	size_t len;
	int mode;		/* 0: read(), 1: poll() */
	int poll_ms;
	pid_t tid;
	volatile int started;
	volatile int done;
	ssize_t ret;
	int err;
	short revents;
	ssize_t read_ret;	/* poll(): the read() after it */
	int read_err;
};

static void *blocked_reader(void *arg)
{
	struct blocked *b = arg;
	struct pollfd pfd = { .events = POLLIN };
	uint8_t *buf = malloc(b->len);
	int fd;

	b->tid = syscall(SYS_gettid);
	fd = open(b->node, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		b->ret = -1;
		b->err = errno;
		b->started = 1;
		free(buf);
		return NULL;
	}
	b->started = 1;
	if (b->mode == 0) {
		b->ret = read(fd, buf, b->len);
		b->err = errno;
	} else {
		pfd.fd = fd;
		b->ret = poll(&pfd, 1, b->poll_ms);
		b->revents = pfd.revents;
		b->err = errno;
		b->read_ret = read(fd, buf, b->len);
		b->read_err = errno;
	}
	b->done = 1;
	close(fd);
	free(buf);
	return NULL;
}

/* Whether thread @tid sleeps (state S: in the read's or poll's wait). */
static bool sleeping(pid_t tid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool s = false;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		s = p && p[1] == ' ' && p[2] == 'S';
	}
	fclose(f);
	return s;
}

/* Times thread @tid gave up the CPU to sleep, from its status; -1 if unknown. */
static long long wakeups(pid_t tid)
{
	char path[64], line[128];
	long long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int wait_blocked(struct blocked *b, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;

	while (now_ns() < end) {
		if (b->started && b->ret == 0 && b->tid && sleeping(b->tid))
			return 0;
		if (b->started && b->ret < 0)
			return -1;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

static int join_within(pthread_t t, int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts);
}

FIXTURE(stress) {
	struct vctl c;
	struct gm_devinfo di;
	struct scan_layout l;
	bool open;
};

FIXTURE_SETUP(stress)
{
	if (geteuid())
		SKIP(return, "needs root (the virtual transport is 0600)");
	if (access(VIRT_DEV, F_OK))
		SKIP(return, VIRT_DEV " missing: gaitmat_virt not loaded");
	vctl_devinfo(&self->di, 1, 8, 10, 0x57e55001);
	scan_layout(&self->di, &self->l);
}

FIXTURE_TEARDOWN(stress)
{
	if (self->open) {
		sysfs_write(&self->c, "buffer/enable", "0");
		vctl_close(&self->c);
	}
}

static int start_capture(struct vctl *c)
{
	int ret;

	ret = vctl_wait_iio(c, WAIT_MS);
	if (!ret)
		ret = vctl_scan_all(c, true);
	if (!ret)
		ret = vctl_buffer(c, 0, true);
	return ret;
}

static int unbind(struct vctl *c, bool bind)
{
	return path_write(bind ? VIRT_DRVDIR "/bind" : VIRT_DRVDIR "/unbind",
			  c->pdev);
}

TEST_F_TIMEOUT(stress, unbind_during_blocked_read, 600)
{
	struct blocked b;
	pthread_t t;
	int i;

	ASSERT_EQ(0, vctl_open(&self->c, &self->di));
	self->open = true;
	for (i = 0; i < ROUNDS; i++) {
		ASSERT_EQ(0, start_capture(&self->c)) {
			TH_LOG("round %d: no capture", i);
		}
		memset(&b, 0, sizeof(b));
		b.node = self->c.devnode;
		b.len = self->l.bytes;
		ASSERT_EQ(0, pthread_create(&t, NULL, blocked_reader, &b));
		ASSERT_EQ(0, wait_blocked(&b, WAIT_MS)) {
			TH_LOG("round %d: reader not blocked (%zd, %s)", i,
			       b.ret, strerror(b.err));
		}
		ASSERT_EQ(0, unbind(&self->c, false));
		ASSERT_EQ(0, join_within(t, WAIT_MS)) {
			TH_LOG("round %d: reader still blocked after unbind", i);
		}
		EXPECT_EQ(-1, b.ret);
		EXPECT_EQ(ENODEV, b.err);
		/* Rebinding asks the controller, which announces itself. */
		ASSERT_EQ(0, unbind(&self->c, true));
	}
	ASSERT_EQ(0, start_capture(&self->c));
}

TEST_F_TIMEOUT(stress, unplug_during_blocked_read, 600)
{
	struct blocked b;
	pthread_t t;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		self->di.boot_id++;
		ASSERT_EQ(0, vctl_open(&self->c, &self->di));
		self->open = true;
		ASSERT_EQ(0, start_capture(&self->c)) {
			TH_LOG("round %d: no capture", i);
		}
		memset(&b, 0, sizeof(b));
		b.node = self->c.devnode;
		b.len = self->l.bytes * 4;
		ASSERT_EQ(0, pthread_create(&t, NULL, blocked_reader, &b));
		ASSERT_EQ(0, wait_blocked(&b, WAIT_MS));
		/* Half the rounds with scans in flight when it goes. */
		if (i % 2) {
			uint16_t s[80] = { [3] = 100, [40] = 4095 };

			vctl_send_data(&self->c, GM_T_DENSE, i, i, 0, s);
		}
		vctl_close(&self->c);
		self->open = false;
		ASSERT_EQ(0, join_within(t, WAIT_MS)) {
			TH_LOG("round %d: reader still blocked after unplug", i);
		}
		/* A scan may have been read before the device went. */
		if (b.ret < 0) {
			EXPECT_EQ(ENODEV, b.err);
		} else {
			EXPECT_EQ((ssize_t)self->l.bytes, b.ret);
		}
		ASSERT_EQ(0, vctl_wait_iio_gone(&self->c, WAIT_MS));
	}
}

/*
 * poll() on a device that goes away: the IIO core wakes the poller at once
 * (seen as the sleeping thread running again, or its poll ending); 6.1 and
 * 6.12 then report no event, so the poll itself ends at its timeout. A
 * read() on the same file then says ENODEV. Nothing hangs beyond that.
 */
TEST_F_TIMEOUT(stress, unbind_during_poll, 120)
{
	long long before, now;
	struct blocked b;
	int64_t end;
	bool woken;
	pthread_t t;
	int i;

	ASSERT_EQ(0, vctl_open(&self->c, &self->di));
	self->open = true;
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, start_capture(&self->c));
		memset(&b, 0, sizeof(b));
		b.node = self->c.devnode;
		b.len = self->l.bytes;
		b.mode = 1;
		b.poll_ms = 2000;
		ASSERT_EQ(0, pthread_create(&t, NULL, blocked_reader, &b));
		ASSERT_EQ(0, wait_blocked(&b, WAIT_MS));
		before = wakeups(b.tid);
		ASSERT_LE(0, before);
		ASSERT_EQ(0, unbind(&self->c, false));
		/* Woken well before the poll's own timeout. */
		end = now_ns() + 500 * 1000000ll;
		woken = false;
		while (!woken && now_ns() < end) {
			now = wakeups(b.tid);
			woken = b.done || now > before;
			usleep(1000);
		}
		EXPECT_TRUE(woken) {
			TH_LOG("round %d: poller not woken within 500 ms", i);
		}
		ASSERT_EQ(0, join_within(t, b.poll_ms + WAIT_MS));
		EXPECT_LE(0, b.ret);
		EXPECT_EQ(0, b.revents & POLLIN);
		EXPECT_EQ(-1, b.read_ret);
		EXPECT_EQ(ENODEV, b.read_err);
		ASSERT_EQ(0, unbind(&self->c, true));
	}
}

struct cmd_writer {
	const char *path;
	int ret;
	int64_t took;
};

static void *write_rate(void *arg)
{
	struct cmd_writer *w = arg;
	int64_t t0 = now_ns();

	w->ret = path_write(w->path, "200");
	w->took = now_ns() - t0;
	return NULL;
}

/* A sysfs command waiting for its ACK does not hold up the unbind. */
TEST_F_TIMEOUT(stress, unbind_during_command, 120)
{
	char path[256];
	struct cmd_writer w;
	long long ack_ms;
	unsigned int from;
	pthread_t t;
	int i;

	ack_ms = path_read_ll(GAITMAT_PARAMS "/ack_timeout_ms");
	ASSERT_LT(0, ack_ms);
	ASSERT_EQ(0, path_write(GAITMAT_PARAMS "/ack_timeout_ms", "20000"));
	ASSERT_EQ(0, vctl_open(&self->c, &self->di));
	self->open = true;
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, vctl_wait_iio(&self->c, WAIT_MS));
		vctl_set(&self->c, true, false, GM_ACK_OK);
		snprintf(path, sizeof(path), "%s/sampling_frequency",
			 self->c.sysdir);
		w.path = path;
		w.ret = 1;
		from = vctl_n_cmds(&self->c);
		ASSERT_EQ(0, pthread_create(&t, NULL, write_rate, &w));
		ASSERT_LE(0, vctl_wait_cmd(&self->c, GM_T_CMD_SET_RATE, from,
					   WAIT_MS));
		ASSERT_EQ(0, unbind(&self->c, false));
		ASSERT_EQ(0, join_within(t, WAIT_MS));
		EXPECT_EQ(-ENODEV, w.ret);
		EXPECT_GT(10000000000ll, w.took);
		vctl_set(&self->c, true, true, GM_ACK_OK);
		ASSERT_EQ(0, unbind(&self->c, true));
	}
	snprintf(path, sizeof(path), "%lld", ack_ms);
	path_write(GAITMAT_PARAMS "/ack_timeout_ms", path);
}

TEST_HARNESS_MAIN
