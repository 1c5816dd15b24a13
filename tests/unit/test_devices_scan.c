// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap devices against a scripted kernel: the mgmt socket is one end of
 * socketpair(AF_UNIX, SOCK_SEQPACKET) (ble_mgmt_open() wrapped), the test
 * plays the kernel on the other, as BlueZ's unit tests play a peer. Each
 * step is a command gaitcap must send (answered with a status) or events
 * the kernel sends; a test passes only when every step was used. The
 * command runs in a child with its output in a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ble/insole_gatt.h"
#include "gaitcap/gaitcap.h"
#include "sim/ble_mgmt.h"

#define OP_READ_INFO	0x0004
#define OP_SET_POWERED	0x0005
#define OP_SET_LE	0x000d
#define OP_START_DISC	0x0023
#define OP_STOP_DISC	0x0024
#define EV_CMD_COMPLETE	0x0001
#define EV_CMD_STATUS	0x0002

static int child_fd = -1;

/* The child's "socket": its end of the pair, non-blocking as the real one. */
int __wrap_ble_mgmt_open(struct ble_mgmt *m, uint16_t index)
{
	m->index = index;
	m->fd = child_fd;
	return fcntl(m->fd, F_SETFL, O_NONBLOCK) ? -errno : 0;
}

struct run {
	int fd;			/* the kernel's end */
	pid_t pid;
	char out[64];
};

static void start(struct run *r, char **argv)
{
	int sv[2], argc = 0, fd;

	while (argv[argc])
		argc++;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	snprintf(r->out, sizeof(r->out), "/tmp/test_devices_scan.%d", (int)getpid());
	fflush(stdout);
	fflush(stderr);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (!r->pid) {
		close(sv[0]);
		child_fd = sv[1];
		fd = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(125);
		optind = 0;
		_exit(cmd_devices(argc, argv));
	}
	close(sv[1]);
	r->fd = sv[0];
}

/* The child's exit status and its output (freed by the caller). */
static int finish(struct run *r, char **out)
{
	char buf[8192];
	ssize_t n;
	int st, fd;

	assert_int_equal(waitpid(r->pid, &st, 0), r->pid);
	close(r->fd);
	fd = open(r->out, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	unlink(r->out);
	*out = strdup(buf);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void send_event(struct run *r, uint16_t code, uint16_t index,
		       const void *p, size_t len)
{
	uint8_t b[4096];

	assert_true(len + 6 <= sizeof(b));
	put16(b, code);
	put16(b + 2, index);
	put16(b + 4, len);
	memcpy(b + 6, p, len);
	assert_int_equal(write(r->fd, b, len + 6), (ssize_t)(len + 6));
}

/* The next command must be @op for hci0; answer it with @status. */
static void expect(struct run *r, uint16_t op, uint8_t status)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	uint8_t b[512], rp[3 + 280] = { 0 };
	size_t rlen = 3;
	ssize_t n;

	if (poll(&pfd, 1, 30000) != 1)
		fail_msg("no command 0x%04x within 30 s", op);
	n = read(r->fd, b, sizeof(b));
	assert_true(n >= 6);
	if ((b[0] | b[1] << 8) != op)
		fail_msg("command 0x%04x, expected 0x%04x", b[0] | b[1] << 8, op);
	assert_int_equal(b[2] | b[3] << 8, 0);
	assert_int_equal(b[4] | b[5] << 8, n - 6);
	put16(rp, op);
	rp[2] = status;
	if (op == OP_READ_INFO && !status)
		rlen += 280;	/* the address, then zeros */
	if (op == OP_START_DISC || op == OP_STOP_DISC) {
		assert_int_equal(n, 7);
		assert_int_equal(b[6], MGMT_DISCOV_LE);
		rp[3] = b[6];
		rlen++;
	}
	send_event(r, status ? EV_CMD_STATUS : EV_CMD_COMPLETE, 0, rp, rlen);
}

/* Nothing more from gaitcap for @ms (the child ends on its own). */
static void expect_nothing(struct run *r, int ms)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	uint8_t b[64];

	if (poll(&pfd, 1, ms) == 1 && read(r->fd, b, sizeof(b)) > 0)
		fail_msg("unexpected command 0x%04x", b[0] | b[1] << 8);
}

static void discovering(struct run *r, uint8_t on)
{
	const uint8_t p[2] = { MGMT_DISCOV_LE, on };

	send_event(r, MGMT_EV_DISCOVERING, 0, p, 2);
}

/* Device Found: @last is the address' most significant byte. */
static void found(struct run *r, uint16_t index, uint8_t last, uint8_t type,
		  int8_t rssi, const void *eir, size_t eir_len)
{
	uint8_t p[14 + 300] = { 0x01, 0x00, 0x01, 0x01, 0xaa, last, type, (uint8_t)rssi };

	put16(p + 12, eir_len);
	memcpy(p + 14, eir, eir_len);
	send_event(r, MGMT_EV_DEVICE_FOUND, index, p, 14 + eir_len);
}

static void setup_ok(struct run *r)
{
	expect(r, OP_SET_LE, 0);
	expect(r, OP_SET_POWERED, 0);
	expect(r, OP_READ_INFO, 0);
}

static uint8_t gaitcap_adv[18] = { 17, 0x07 };

static void test_devices_scan_lists_insoles_merges_scan_responses(void **state)
{
	static const uint8_t fff0_adv[] = { 3, 0x03, 0xf0, 0xff };
	static const uint8_t name_rsp[] = { 8, 0x09, 'G', 'I', '-', 'L', 'E', 'F', 'T' };
	static const uint8_t evil_rsp[] = { 9, 0x09, 'F', 0x1b, '[', '2', 'J', '\n', 'x', 'R' };
	static const uint8_t hr_adv[] = { 3, 0x03, 0x0d, 0x18, 4, 0x09, 'H', 'R', 'M' };
	uint8_t big[2100] = { 0 };
	struct run r;
	char *out;

	(void)state;
	start(&r, (char *[]){ "devices", "--timeout", "1", NULL });
	setup_ok(&r);
	expect(&r, OP_START_DISC, 0);
	discovering(&r, 1);
	/* The advertisement, then the same with its scan response. */
	found(&r, 0, 0x00, 1, -60, gaitcap_adv, sizeof(gaitcap_adv));
	found(&r, 0, 0x00, 1, -58, name_rsp, sizeof(name_rsp));
	found(&r, 0, 0xc2, 2, 127, fff0_adv, sizeof(fff0_adv));
	found(&r, 0, 0xc2, 2, 127, evil_rsp, sizeof(evil_rsp));
	found(&r, 0, 0x10, 1, -70, hr_adv, sizeof(hr_adv));
	/* Another controller's, a BR/EDR one, a lying length, an oversize event. */
	found(&r, 1, 0x20, 1, -40, gaitcap_adv, sizeof(gaitcap_adv));
	found(&r, 0, 0x21, 0, -40, gaitcap_adv, sizeof(gaitcap_adv));
	{
		uint8_t p[14 + 18] = { 1, 0, 1, 1, 0xaa, 0x22, 1, 0 };

		put16(p + 12, 19);
		memcpy(p + 14, gaitcap_adv, 18);
		send_event(&r, MGMT_EV_DEVICE_FOUND, 0, p, sizeof(p));
	}
	send_event(&r, MGMT_EV_DEVICE_FOUND, 0, big, sizeof(big));
	found(&r, 0, 0x40, 2, -80, gaitcap_adv, sizeof(gaitcap_adv));
	expect(&r, OP_STOP_DISC, 0);
	assert_int_equal(finish(&r, &out), 0);
	if (strcmp(out,
		   "ADDRESS            TYPE     DECODER     RSSI  NAME\n"
		   "00:AA:01:01:00:01  public   gaitcap-v1   -58  GI-LEFT\n"
		   "40:AA:01:01:00:01  private  gaitcap-v1   -80  -\n"
		   "C2:AA:01:01:00:01  random   fff0           -  F?[2J?xR\n"
		   "gaitcap devices: 3 insoles on hci0 in 1 s\n"))
		fail_msg("gaitcap devices printed:\n%s", out);
	free(out);
}

static void test_devices_scan_all_lists_other_devices(void **state)
{
	static const uint8_t hr_adv[] = { 3, 0x03, 0x0d, 0x18 };
	struct run r;
	char *out;

	(void)state;
	start(&r, (char *[]){ "devices", "--all", "-t", "1", "--hci", "hci0", NULL });
	setup_ok(&r);
	expect(&r, OP_START_DISC, 0);
	found(&r, 0, 0x10, 1, -70, hr_adv, sizeof(hr_adv));
	expect(&r, OP_STOP_DISC, 0);
	assert_int_equal(finish(&r, &out), 0);
	if (strcmp(out,
		   "ADDRESS            TYPE     DECODER     RSSI  NAME\n"
		   "10:AA:01:01:00:01  public   -            -70  -\n"
		   "gaitcap devices: 1 LE device on hci0 in 1 s\n"))
		fail_msg("gaitcap devices --all printed:\n%s", out);
	free(out);
}

/* The kernel ends LE discovery after 10.24 s: a longer scan starts it again. */
static void test_devices_scan_restarts_discovery(void **state)
{
	struct run r;
	char *out;

	(void)state;
	start(&r, (char *[]){ "devices", "--timeout", "1", NULL });
	setup_ok(&r);
	expect(&r, OP_START_DISC, 0);
	discovering(&r, 1);
	discovering(&r, 0);
	expect(&r, OP_START_DISC, 0);
	found(&r, 0, 0x00, 1, -60, gaitcap_adv, sizeof(gaitcap_adv));
	expect(&r, OP_STOP_DISC, 0);
	assert_int_equal(finish(&r, &out), 0);
	assert_non_null(strstr(out, "00:AA:01:01:00:01  public   gaitcap-v1"));
	free(out);
}

/* Busy: another's discovery is listened to, not stopped; ours follows it. */
static void test_devices_scan_busy_waits_for_the_other(void **state)
{
	struct run r;
	char *out;

	(void)state;
	start(&r, (char *[]){ "devices", "--timeout", "1", NULL });
	setup_ok(&r);
	expect(&r, OP_START_DISC, MGMT_STATUS_BUSY);
	found(&r, 0, 0x00, 1, -60, gaitcap_adv, sizeof(gaitcap_adv));
	discovering(&r, 0);
	expect(&r, OP_START_DISC, MGMT_STATUS_BUSY);	/* it came back */
	discovering(&r, 0);
	expect(&r, OP_START_DISC, 0);
	expect(&r, OP_STOP_DISC, 0);
	assert_int_equal(finish(&r, &out), 0);
	assert_non_null(strstr(out, "00:AA:01:01:00:01  public   gaitcap-v1"));
	/* Said once. */
	assert_non_null(strstr(out, "another discovery is running on hci0"));
	assert_null(strstr(strstr(out, "another discovery") + 1, "another discovery"));
	free(out);

	/* Never ours: nothing to stop. */
	start(&r, (char *[]){ "devices", "--timeout", "1", NULL });
	setup_ok(&r);
	expect(&r, OP_START_DISC, MGMT_STATUS_BUSY);
	expect_nothing(&r, 1500);
	assert_int_equal(finish(&r, &out), 0);
	free(out);
}

/* SIGINT (and SIGTERM) end the scan: Stop Discovery, the list, 128 + signal. */
static void test_devices_scan_signal_stops_discovery(void **state)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	struct run r;
	char *out;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		start(&r, (char *[]){ "devices", "--timeout", "60", NULL });
		setup_ok(&r);
		expect(&r, OP_START_DISC, 0);
		found(&r, 0, 0x00, 1, -60, gaitcap_adv, sizeof(gaitcap_adv));
		usleep(100000);
		kill(r.pid, sigs[i]);
		expect(&r, OP_STOP_DISC, 0);
		assert_int_equal(finish(&r, &out), 128 + sigs[i]);
		assert_non_null(strstr(out, "00:AA:01:01:00:01  public   gaitcap-v1"));
		assert_non_null(strstr(out, "in 0 s (interrupted)\n"));
		free(out);
	}
}

/* A signal while a command waits for its answer is held until the wait. */
static void test_devices_scan_signal_during_a_command(void **state)
{
	struct run r;
	char *out;

	(void)state;
	start(&r, (char *[]){ "devices", "--timeout", "60", NULL });
	setup_ok(&r);
	{
		struct pollfd pfd = { .fd = r.fd, .events = POLLIN };

		/* Start Discovery sent, not answered yet: the signal comes now. */
		assert_int_equal(poll(&pfd, 1, 30000), 1);
		kill(r.pid, SIGINT);
		usleep(100000);
	}
	{
		uint8_t b[64], rp[4] = { OP_START_DISC & 0xff, OP_START_DISC >> 8, 0,
					 MGMT_DISCOV_LE };

		assert_int_equal(read(r.fd, b, sizeof(b)), 7);
		send_event(&r, EV_CMD_COMPLETE, 0, rp, sizeof(rp));
	}
	expect(&r, OP_STOP_DISC, 0);
	assert_int_equal(finish(&r, &out), 130);
	free(out);
}

static void test_devices_scan_errors_named(void **state)
{
	static const struct {
		uint16_t op;
		uint8_t status;
		const char *says;
	} cases[] = {
		{ OP_SET_POWERED, MGMT_STATUS_INVALID_INDEX, "cannot scan with hci0: no such controller\n" },
		{ OP_SET_POWERED, MGMT_STATUS_PERMISSION_DENIED, "no permission (needs CAP_NET_ADMIN" },
		{ OP_SET_POWERED, MGMT_STATUS_RFKILLED, "blocked by rfkill" },
		{ OP_START_DISC, MGMT_STATUS_NOT_SUPPORTED, "the controller has no Bluetooth LE" },
		{ OP_START_DISC, 0x03, "cannot scan with hci0: the controller refused" },
	};
	struct run r;
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(&r, (char *[]){ "devices", "--timeout", "1", NULL });
		expect(&r, OP_SET_LE, cases[i].op == OP_SET_POWERED ? cases[i].status : 0);
		expect(&r, OP_SET_POWERED, cases[i].op == OP_SET_POWERED ? cases[i].status : 0);
		if (cases[i].op == OP_START_DISC) {
			expect(&r, OP_READ_INFO, 0);
			expect(&r, OP_START_DISC, cases[i].status);
		}
		expect_nothing(&r, 200);
		assert_int_equal(finish(&r, &out), 2);
		if (strncmp(out, "gaitcap devices: ", 17) || !strstr(out, cases[i].says) ||
		    strchr(out, '\n') != out + strlen(out) - 1)
			fail_msg("case %zu said: %s", i, out);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_devices_scan_lists_insoles_merges_scan_responses),
		cmocka_unit_test(test_devices_scan_all_lists_other_devices),
		cmocka_unit_test(test_devices_scan_restarts_discovery),
		cmocka_unit_test(test_devices_scan_busy_waits_for_the_other),
		cmocka_unit_test(test_devices_scan_signal_stops_discovery),
		cmocka_unit_test(test_devices_scan_signal_during_a_command),
		cmocka_unit_test(test_devices_scan_errors_named),
	};
	const uint8_t svc128[16] = INSOLE_UUID128(INSOLE_SVC);

	memcpy(gaitcap_adv + 2, svc128, 16);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
