// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap devices: the insoles advertising nearby. LE discovery through
 * the kernel's management interface (HCI_CHANNEL_CONTROL), as bluetoothd
 * does it, so the kernel runs the scan, merges scan responses and ends a
 * scan we could not stop ourselves; the advertised services say which
 * decoder a capture would use (docs/capture.md, "Finding insoles").
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ble/adv.h"
#include "gaitcap/gaitcap.h"
#include "sim/ble_mgmt.h"

#define MAX_FOUND	256
/* mgmt address types (mgmt-api "Device Found"). */
#define ADDR_LE_PUBLIC	1
#define ADDR_LE_RANDOM	2

struct found {
	uint8_t addr[6];	/* little-endian, as on the air */
	uint8_t type;
	int8_t rssi;
	struct ble_adv_info adv;
};

struct scan {
	struct found dev[MAX_FOUND];
	int n;
	bool discovering;	/* a discovery runs on the controller */
	bool ours;		/* ... and this process started it */
	bool told_busy;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

const struct option cmd_devices_options[] = {
	{ "hci", required_argument, NULL, 'i' },
	{ "timeout", required_argument, NULL, 't' },
	{ "all", no_argument, NULL, 'a' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap devices [--hci N] [--timeout S] [--all]\n"
		"Scan for BLE insoles advertising nearby and list them: address, address\n"
		"type, the decoder a capture would use (gaitcap-v1 or fff0), RSSI, name.\n"
		"\n"
		"  -i, --hci N        the local controller to scan with: N or hciN (default 0)\n"
		"  -t, --timeout S    scan for S seconds, 1..600 (default 5); Ctrl-C ends it early\n"
		"  -a, --all          also list LE devices that are not insoles\n"
		"  -h, --help         this help\n"
		"Exit status: 0 scanned, 1 wrong options, 2 the controller cannot scan,\n"
		"130 interrupted (what was found is listed).\n");
}

static void on_device_found(struct scan *s, const uint8_t *p, size_t len)
{
	struct found *f;
	size_t eir_len;
	int i;

	/* addr(6) type(1) rssi(1) flags(4) eir_len(2) eir */
	if (len < 14)
		return;
	eir_len = p[12] | p[13] << 8;
	if (eir_len > len - 14 || (p[6] != ADDR_LE_PUBLIC && p[6] != ADDR_LE_RANDOM))
		return;
	for (i = 0; i < s->n; i++)
		if (!memcmp(s->dev[i].addr, p, 6) && s->dev[i].type == p[6])
			break;
	if (i == s->n) {
		if (s->n == MAX_FOUND)
			return;
		f = &s->dev[s->n++];
		memset(f, 0, sizeof(*f));
		memcpy(f->addr, p, 6);
		f->type = p[6];
	}
	f = &s->dev[i];
	f->rssi = (int8_t)p[7];
	/* A later report (a scan response) adds to what is known. */
	ble_adv_parse(p + 14, eir_len, &f->adv);
}

static void on_event(void *ctx, uint16_t code, const uint8_t *p, size_t len)
{
	struct scan *s = ctx;

	if (code == MGMT_EV_DEVICE_FOUND) {
		on_device_found(s, p, len);
	} else if (code == MGMT_EV_DISCOVERING && len >= 2) {
		/* type(1) discovering(1): ours ended, or someone else's. */
		s->discovering = p[1];
		if (!p[1])
			s->ours = false;
	}
}

/* Why the controller cannot scan, in words. */
static const char *scan_error(int ret, uint8_t status)
{
	if (ret == -EAFNOSUPPORT)
		return "this kernel has no Bluetooth";
	if (ret == -EPERM || ret == -EACCES)
		return "no permission (needs CAP_NET_ADMIN: run as root)";
	if (ret == -ETIMEDOUT)
		return "the kernel did not answer in 5 s";
	if (ret != -EPROTO)
		return strerror(-ret);
	switch (status) {
	case MGMT_STATUS_INVALID_INDEX:
		return "no such controller";
	case MGMT_STATUS_PERMISSION_DENIED:
		return "no permission (needs CAP_NET_ADMIN: run as root)";
	case MGMT_STATUS_RFKILLED:
		return "blocked by rfkill (rfkill unblock bluetooth)";
	case MGMT_STATUS_NOT_SUPPORTED:
		return "the controller has no Bluetooth LE";
	case MGMT_STATUS_NOT_POWERED:
		return "the controller is powered off";
	default:
		return "the controller refused";
	}
}

/*
 * Start a discovery unless one runs. Another's (bluetoothd's) is not ours
 * to stop: its Device Found events reach every control socket, but the
 * controller reports each device once per scan, so devices it found
 * before we came are only listed once our own discovery follows it.
 */
static int ensure_discovery(struct ble_mgmt *m, struct scan *s, long hci)
{
	int ret;

	if (s->discovering)
		return 0;
	ret = ble_mgmt_start_discovery(m, MGMT_DISCOV_LE);
	if (!ret) {
		s->ours = s->discovering = true;
		return 0;
	}
	if (ret == -EPROTO && m->status == MGMT_STATUS_BUSY) {
		/* Its end (Discovering 0) makes us start our own. */
		s->discovering = true;
		if (s->told_busy)
			return 0;
		s->told_busy = true;
		fprintf(stderr, "gaitcap devices: another discovery is running on hci%ld (bluetoothd?): listing what it reports from now on, and scanning once it ends\n",
			hci);
		return 0;
	}
	return ret;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Scan until @timeout_s passes or a signal comes; 0 or -errno. */
static int scan(struct ble_mgmt *m, struct scan *s, long hci, long timeout_s,
		const sigset_t *wait_mask)
{
	int64_t end = now_ms() + timeout_s * 1000, left;
	uint8_t addr[6];
	int ret;

	ret = ble_mgmt_setup(m, addr);
	if (ret)
		return ret;
	while (!stop_signal && (left = end - now_ms()) > 0) {
		struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
		struct timespec ts = { left / 1000, left % 1000 * 1000000 };

		ret = ensure_discovery(m, s, hci);
		if (ret)
			break;
		/* Signals are blocked except while waiting here. */
		if (ppoll(&pfd, 1, &ts, wait_mask) > 0) {
			ret = ble_mgmt_drain(m);
			if (ret)
				break;
		}
	}
	/* A discovery left running would make the next one busy for 10 s. */
	if (s->ours && ble_mgmt_stop_discovery(m, MGMT_DISCOV_LE) &&
	    m->status != MGMT_STATUS_REJECTED)
		fprintf(stderr, "gaitcap devices: hci%ld: stopping the discovery failed; the kernel ends it within 11 s\n",
			hci);
	return ret;
}

static int by_address(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	for (int i = 5; i >= 0; i--)
		if (x->addr[i] != y->addr[i])
			return x->addr[i] - y->addr[i];
	return x->type - y->type;
}

static void list(struct scan *s, bool all, int *shown)
{
	qsort(s->dev, s->n, sizeof(s->dev[0]), by_address);
	printf("%-17s  %-7s  %-10s  %4s  %s\n", "ADDRESS", "TYPE", "DECODER",
	       "RSSI", "NAME");
	for (int i = 0; i < s->n; i++) {
		const struct found *f = &s->dev[i];
		const char *type = "public";
		char rssi[8] = "-";

		if (!f->adv.decoder && !all)
			continue;
		/* Random static addresses start 11b; others change (private). */
		if (f->type == ADDR_LE_RANDOM)
			type = (f->addr[5] & 0xc0) == 0xc0 ? "random" : "private";
		/* 127: the controller gave no RSSI (Core Vol 4, Part E, 7.7.65.2). */
		if (f->rssi != 127)
			snprintf(rssi, sizeof(rssi), "%d", f->rssi);
		printf("%02X:%02X:%02X:%02X:%02X:%02X  %-7s  %-10s  %4s  %s\n",
		       f->addr[5], f->addr[4], f->addr[3], f->addr[2],
		       f->addr[1], f->addr[0], type,
		       f->adv.decoder ? f->adv.decoder : "-", rssi,
		       f->adv.name[0] ? f->adv.name : "-");
		(*shown)++;
	}
}

static int parse_hci(const char *arg, long *hci)
{
	const char *s = strncmp(arg, "hci", 3) ? arg : arg + 3;
	char *end;

	errno = 0;
	*hci = strtol(s, &end, 10);
	/* 0xffff is mgmt's "no controller". */
	return errno || end == s || *end || *s == '-' || *s == '+' ||
	       *hci > 0xfffe ? -EINVAL : 0;
}

int cmd_devices(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_sa[3];
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct ble_mgmt m = { .fd = -1 };
	sigset_t block, old_mask;
	long hci = 0, timeout = 5;
	int o, ret, shown = 0;
	bool all = false;
	struct scan *s;
	int64_t start;
	double t;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":i:t:ah", cmd_devices_options,
				NULL)) != -1) {
		switch (o) {
		case 'i':
			if (parse_hci(optarg, &hci))
				return cli_bad_value("devices", "--hci", optarg,
						     "a controller number, e.g. 0 or hci0");
			break;
		case 't':
			if (cli_num("devices", "--timeout", optarg, 1, 600,
				    "whole seconds, 1..600", &t))
				return 1;
			if (t != (long)t)
				return cli_bad_value("devices", "--timeout", optarg,
						     "whole seconds, 1..600");
			timeout = (long)t;
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("devices", argv, o);
		}
	}
	if (optind < argc)
		return cli_usage_error("devices", "unexpected argument '%s'",
				       argv[optind]);

	s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "gaitcap devices: out of memory\n");
		return 2;
	}
	/*
	 * Blocked but for the waits, so a signal never cuts a command short.
	 * One ignored on entry (nohup, a shell's background job) stays so.
	 */
	sigemptyset(&block);
	for (size_t i = 0; i < 3; i++) {
		sigaction(sigs[i], NULL, &old_sa[i]);
		if (old_sa[i].sa_handler == SIG_IGN)
			continue;
		sigaddset(&block, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	stop_signal = 0;
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	m.on_event = on_event;
	m.ctx = s;
	start = now_ms();
	ret = ble_mgmt_open(&m, (uint16_t)hci);
	if (!ret)
		ret = scan(&m, s, hci, timeout, &old_mask);
	ble_mgmt_close(&m);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	for (size_t i = 0; i < 3; i++)
		sigaction(sigs[i], &old_sa[i], NULL);

	if (ret) {
		fprintf(stderr, "gaitcap devices: cannot scan with hci%ld: %s\n",
			hci, scan_error(ret, m.status));
		free(s);
		return 2;
	}
	list(s, all, &shown);
	fflush(stdout);
	fprintf(stderr, "gaitcap devices: %d %s%s on hci%ld in %ld s%s\n", shown,
		all ? "LE device" : "insole", shown == 1 ? "" : "s", hci,
		(long)((now_ms() - start + 500) / 1000),
		stop_signal ? " (interrupted)" : "");
	free(s);
	return stop_signal ? 128 + stop_signal : 0;
}
