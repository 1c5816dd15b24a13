// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap-ble-baseline: the BLE bench's plain reader (tests/bench, make
 * bench; docs/capture.md, "Insoles: the BLE bench").
 *
 *   gaitcap-ble-baseline recv --adapter ADDR --peer ADDR -o FILE
 *	Connects an L2CAP LE socket on the ATT channel (CID 4) from the
 *	controller ADDR to the insole, asks for ATT_MTU 247, switches the
 *	data characteristic's notifications on, writes START to the control
 *	point, then recv()s in a blocking loop and write()s each PDU to FILE
 *	behind a 2-byte length, until SIGINT/SIGTERM or the link closes.
 *	Prints "pdus=N notifications=N bytes=N" at the end.
 *
 *   gaitcap-ble-baseline count FILE
 *	Reads such a file back: "notifications=N unique=N out_of_order=N
 *	first=I last=I", I being notification numbers (the data header's
 *	sample counter over the peer's batch, 2).
 *
 * No GATT discovery: the handles are the ones gaitcap-test-insole serves
 * (tests/unit/ble_peer.c, whose table is fixed), which is the least any
 * reader of that peripheral must do. Nothing else happens per PDU: no
 * timestamps, no parsing, no session format, no sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>

#include "ble/insole_gatt.h"
#include "../unit/ble_peer.h"

#define ATT_CID		4
#define ATT_MTU		247
#define OP_ERROR	0x01
#define OP_MTU_REQ	0x02
#define OP_MTU_RSP	0x03
#define OP_WRITE_REQ	0x12
#define OP_WRITE_RSP	0x13
#define OP_NOTIFY	0x1b
/* ble_peer's table: data value, its CCC, then the control point's value. */
#define H_DATA		BP_DATA_HANDLE
#define H_DATA_CCC	(BP_DATA_HANDLE + 1)
#define H_CONTROL	(BP_DATA_HANDLE + 3)
#define PEER_BATCH	2
/* The data header's sample counter, after the 3-byte ATT header. */
_Static_assert(3 + INSOLE_DATA_OFF_SEQ == 7, "counter offset");

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int parse_addr(const char *s, bdaddr_t *a)
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[5], &b[4], &b[3], &b[2],
		   &b[1], &b[0], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		a->b[i] = (uint8_t)b[i];
	}
	return 0;
}

/* Send a request and wait for its answer (expected opcode): 0 or -errno. */
static int request(int fd, const uint8_t *req, size_t len, uint8_t want)
{
	uint8_t rsp[ATT_MTU];
	ssize_t n;

	if (send(fd, req, len, 0) != (ssize_t)len)
		return -errno;
	do {
		n = recv(fd, rsp, sizeof(rsp), 0);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOTCONN;
	} while (rsp[0] != want && rsp[0] != OP_ERROR);
	return rsp[0] == want ? 0 : -EPROTO;
}

static int start_stream(int fd)
{
	const uint8_t mtu[] = { OP_MTU_REQ, ATT_MTU & 0xff, ATT_MTU >> 8 };
	const uint8_t ccc[] = { OP_WRITE_REQ, H_DATA_CCC & 0xff, H_DATA_CCC >> 8,
				0x01, 0x00 };
	const uint8_t go[] = { OP_WRITE_REQ, H_CONTROL & 0xff, H_CONTROL >> 8,
			       INSOLE_CP_START };
	int ret;

	ret = request(fd, mtu, sizeof(mtu), OP_MTU_RSP);
	if (!ret)
		ret = request(fd, ccc, sizeof(ccc), OP_WRITE_RSP);
	if (!ret)
		ret = request(fd, go, sizeof(go), OP_WRITE_RSP);
	return ret;
}

static int do_recv(int argc, char **argv)
{
	struct sockaddr_l2 local = { .l2_family = AF_BLUETOOTH,
				     .l2_cid = htobs(ATT_CID),
				     .l2_bdaddr_type = BDADDR_LE_PUBLIC };
	struct sockaddr_l2 peer = local;
	const char *adapter = NULL, *peer_s = NULL, *out_path = NULL;
	unsigned long long pdus = 0, notes = 0, bytes = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	uint8_t buf[2 + 1024];
	int fd, out, ret;

	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--adapter"))
			adapter = argv[i + 1];
		else if (!strcmp(argv[i], "--peer"))
			peer_s = argv[i + 1];
		else if (!strcmp(argv[i], "-o"))
			out_path = argv[i + 1];
	}
	if (!adapter || !peer_s || !out_path ||
	    parse_addr(adapter, &local.l2_bdaddr) ||
	    parse_addr(peer_s, &peer.l2_bdaddr)) {
		fprintf(stderr, "usage: gaitcap-ble-baseline recv --adapter ADDR --peer ADDR -o FILE\n");
		return 1;
	}
	/* No SA_RESTART: the signal must end the blocking recv(). */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		perror("gaitcap-ble-baseline: open");
		return 2;
	}
	fd = socket(AF_BLUETOOTH, SOCK_SEQPACKET | SOCK_CLOEXEC, BTPROTO_L2CAP);
	if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof(local)) ||
	    connect(fd, (struct sockaddr *)&peer, sizeof(peer))) {
		perror("gaitcap-ble-baseline: connect");
		return 2;
	}
	ret = start_stream(fd);
	if (ret) {
		fprintf(stderr, "gaitcap-ble-baseline: starting the stream: %s\n",
			strerror(-ret));
		return 2;
	}
	fprintf(stderr, "gaitcap-ble-baseline: streaming\n");
	while (!stop) {
		ssize_t n = recv(fd, buf + 2, sizeof(buf) - 2, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf[0] = (uint8_t)(n & 0xff);
		buf[1] = (uint8_t)(n >> 8);
		if (write(out, buf, (size_t)n + 2) != n + 2) {
			perror("gaitcap-ble-baseline: write");
			return 2;
		}
		pdus++;
		notes += buf[2] == OP_NOTIFY;
		bytes += (unsigned long long)n;
	}
	close(fd);
	if (close(out)) {
		perror("gaitcap-ble-baseline: close");
		return 2;
	}
	printf("pdus=%llu notifications=%llu bytes=%llu\n", pdus, notes, bytes);
	return 0;
}

static int do_count(const char *path)
{
	unsigned long long n = 0, unique = 0, order = 0;
	long long first = -1, last = -1;
	static uint8_t seen[1 << 20];
	uint8_t pdu[1024], len[2];
	FILE *f = fopen(path, "rb");

	if (!f) {
		perror("gaitcap-ble-baseline: count");
		return 2;
	}
	while (fread(len, 1, 2, f) == 2) {
		size_t l = (size_t)(len[0] | len[1] << 8);
		uint32_t ctr, i;

		if (l > sizeof(pdu) || fread(pdu, 1, l, f) != l) {
			fprintf(stderr, "gaitcap-ble-baseline: %s: truncated\n", path);
			fclose(f);
			return 2;
		}
		if (l < 3 + INSOLE_DATA_HDR || pdu[0] != OP_NOTIFY ||
		    (pdu[1] | pdu[2] << 8) != H_DATA)
			continue;
		ctr = (uint32_t)pdu[7] | (uint32_t)pdu[8] << 8 |
		      (uint32_t)pdu[9] << 16 | (uint32_t)pdu[10] << 24;
		i = (ctr / PEER_BATCH) & ((1u << 20) - 1);
		n++;
		unique += !seen[i];
		seen[i] = 1;
		order += (long long)i <= last;
		if (first < 0)
			first = i;
		last = i;
	}
	fclose(f);
	printf("notifications=%llu unique=%llu out_of_order=%llu first=%lld last=%lld\n",
	       n, unique, order, first, last);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "recv"))
		return do_recv(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "count"))
		return do_count(argv[2]);
	fprintf(stderr, "usage: gaitcap-ble-baseline recv --adapter ADDR --peer ADDR -o FILE\n"
		"       gaitcap-ble-baseline count FILE\n");
	return 1;
}
