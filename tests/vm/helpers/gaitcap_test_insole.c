// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap-test-insole: the capture tests' minimal insole and their oracle.
 *
 *   gaitcap-test-insole serve --adapter ADDR --side left|right --count N
 *		[--period-ms MS | --period-us US] [--drop I,...] [--log FILE]
 *	A real LE peripheral on the controller with address ADDR: listens on
 *	an L2CAP socket on the ATT channel (CID 4), serves the gaitcap profile
 *	(tests/unit/ble_peer.c), and once START was written sends
 *	notifications 0..N-1 every MS (default 20: 2 samples of 10 ms each),
 *	clocked by time like a real insole: while no client is connected the
 *	notifications due are not sent; --drop leaves out the ones listed.
 *	Each notification sent is logged as "sent I". A client that goes away
 *	is waited for again. Exits after N (and --linger-s, 2 s, connected),
 *	or after --max-s seconds (60) whatever happened.
 *
 *   gaitcap-test-insole check SESSION --side S --log FILE
 *	The oracle: the records of the insole stream of side S in SESSION are
 *	exactly the notifications FILE says were sent, each once and in order,
 *	and every missing one lies in a gap record. A notification sent as the
 *	link was cut may never arrive: one missing is accepted only inside a
 *	DISCONNECT gap's range (stream numbers are notification numbers here).
 *	Prints what it found; exit 0 when they agree.
 *
 * The insole simulator (gaitinsole-sim) is the product's; this is only the
 * smallest peer that lets the capture be tested on btvirt by itself.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>

#include "ble/insole_gatt.h"
#include "../../unit/ble_peer.h"
#include "engine/engine.h"
#include "session/gcsession.h"

#define MAX_N	100000

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listen_att(const char *adapter)
{
	struct sockaddr_l2 a = { .l2_family = AF_BLUETOOTH,
				 .l2_cid = htobs(4),
				 .l2_bdaddr_type = BDADDR_LE_PUBLIC };
	int fd = socket(AF_BLUETOOTH, SOCK_SEQPACKET, BTPROTO_L2CAP);

	if (fd < 0 || eng_ble_addr_parse(adapter, a.l2_bdaddr.b) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) {
		perror("gaitcap-test-insole: listen");
		exit(2);
	}
	return fd;
}

static int serve(int argc, char **argv)
{
	const char *adapter = NULL, *log_path = NULL, *drops = "";
	unsigned int count = 0, period_us = 20000, side = 0, max_s = 60, linger_s = 2;
	static bool drop[MAX_N];
	struct ble_peer p;
	FILE *log = stdout;
	int64_t t0 = 0, end = 0, t_end = 0;
	unsigned int next = 0;
	int lfd, fd = -1;

	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--adapter"))
			adapter = argv[i + 1];
		else if (!strcmp(argv[i], "--side"))
			side = !strcmp(argv[i + 1], "right");
		else if (!strcmp(argv[i], "--count"))
			count = (unsigned int)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--period-ms"))
			period_us = 1000 * (unsigned int)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--period-us"))	/* the BLE bench */
			period_us = (unsigned int)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--drop"))
			drops = argv[i + 1];
		else if (!strcmp(argv[i], "--log"))
			log_path = argv[i + 1];
		else if (!strcmp(argv[i], "--linger-s"))
			linger_s = (unsigned int)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--max-s"))
			max_s = (unsigned int)strtoul(argv[i + 1], NULL, 0);
	}
	if (!adapter || !count || count > MAX_N || !period_us)
		return 1;
	for (const char *s = drops; *s;) {
		unsigned long v = strtoul(s, (char **)&s, 0);

		if (v < MAX_N)
			drop[v] = true;
		if (*s == ',')
			s++;
		else
			break;
	}
	if (log_path && !(log = fopen(log_path, "w")))
		return 2;
	setvbuf(log, NULL, _IOLBF, 0);
	lfd = listen_att(adapter);
	fprintf(log, "listening\n");
	end = now_ms() + (int64_t)max_s * 1000;	/* never longer than that */
	ble_peer_init(&p, -1, (uint8_t)side);
	p.period_us = period_us / p.batch;
	for (;;) {
		struct pollfd pf[2] = { { .fd = lfd, .events = POLLIN },
					{ .fd = fd, .events = POLLIN } };
		int64_t now = now_ms();
		int wait = 10;

		if (end && now >= end)
			break;
		if (poll(pf, fd >= 0 ? 2 : 1, wait) < 0)
			return 2;
		if (pf[0].revents & POLLIN) {
			int nfd = accept(lfd, NULL, NULL);

			if (nfd >= 0) {
				if (fd >= 0)
					close(fd);
				fd = nfd;
				p.fd = fd;
				p.streaming = false;
				p.notify_on = p.indicate_on = false;
				p.mtu = 23;
				fprintf(log, "connected\n");
			}
		}
		if (fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    ble_peer_serve(&p, 0)) {
			fprintf(log, "disconnected\n");
			close(fd);
			fd = -1;
			p.fd = -1;
			p.streaming = false;
		}
		if (!t0 && p.streaming)
			t0 = now_us();	/* the first START starts the clock */
		/* Notifications due by now: sent when connected and streaming. */
		while (t0 && next < count &&
		       now_us() >= t0 + (int64_t)next * period_us) {
			bool send_it = fd >= 0 && p.streaming && p.notify_on &&
				       !drop[next];

			if (ble_peer_notify(&p, !send_it) < 0) {
				fprintf(log, "disconnected\n");
				close(fd);
				fd = -1;
				p.fd = -1;
				p.streaming = false;
			} else if (send_it) {
				fprintf(log, "sent %u\n", next);
			}
			next++;
		}
		if (next == count && !t_end) {
			t_end = now_ms() + (int64_t)linger_s * 1000;
			if (t_end < end)
				end = t_end;
		}
	}
	fprintf(log, "done %u of %u\n", next, count);
	return 0;
}

static int check(int argc, char **argv)
{
	const char *path = argc > 2 ? argv[2] : NULL, *side = NULL, *log_path = NULL;
	static bool sent[MAX_N];
	struct gcs_reader *r;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	unsigned int n_sent = 0, n_rec = 0, dups = 0, order = 0, extra = 0;
	unsigned int unexplained = 0, gaps = 0, gap_dev = 0, gap_link = 0;
	unsigned int missing = 0, in_outage = 0;
	long last = -1;
	uint32_t stream = UINT32_MAX;
	uint64_t prev_seq = 0;
	static bool seen[MAX_N];
	char line[64], want[32];
	FILE *f;

	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--side"))
			side = argv[i + 1];
		else if (!strcmp(argv[i], "--log"))
			log_path = argv[i + 1];
	}
	if (!path || !side || !log_path || !(f = fopen(log_path, "r")))
		return 2;
	while (fgets(line, sizeof(line), f)) {
		unsigned int v;

		if (sscanf(line, "sent %u", &v) == 1 && v < MAX_N) {
			sent[v] = true;
			n_sent++;
		}
	}
	fclose(f);
	if (gcs_reader_open(&r, path, GCS_OPEN_VERIFY))
		return 2;
	snprintf(want, sizeof(want), "\"side\":\"%s\"", side);
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		const struct gcs_stream_info *si = gcs_reader_stream(r, i);

		if (si->kind == GCS_KIND_BLE_ATT && strstr(si->desc_json, want))
			stream = si->id;
	}
	if (stream == UINT32_MAX) {
		printf("no ble_att stream of side %s\n", side);
		return 1;
	}
	gcs_rec_iter_init(&it, r, stream);
	while (gcs_rec_iter_next(&it, &rec) == 1) {
		uint32_t ctr;
		long i;

		if (rec.len < 3 + INSOLE_DATA_HDR || rec.data[0] != 0x1b) {
			extra++;
			continue;
		}
		memcpy(&ctr, rec.data + 3 + INSOLE_DATA_OFF_SEQ, 4);
		i = ctr / 2;
		if (i >= MAX_N || !sent[i])
			extra++;
		else if (seen[i])
			dups++;
		else
			seen[i] = true;
		if (i <= last)
			order++;
		/* A jump in the stream's numbers must lie inside a gap record. */
		if (n_rec && rec.seq != prev_seq + 1) {
			bool ok = false;

			for (size_t g = 0; g < gcs_reader_n_gaps(r); g++) {
				const struct gcs_gap *gp = gcs_reader_gap(r, g);

				if (gp->stream == stream && gp->first_seq == prev_seq + 1 &&
				    gp->last_seq == rec.seq - 1)
					ok = true;
			}
			unexplained += !ok;
		}
		prev_seq = rec.seq;
		last = i;
		n_rec++;
	}
	for (size_t g = 0; g < gcs_reader_n_gaps(r); g++) {
		const struct gcs_gap *gp = gcs_reader_gap(r, g);

		if (gp->stream != stream)
			continue;
		gaps++;
		gap_dev += gp->reason == GCS_GAP_DEVICE_OVERFLOW;
		gap_link += gp->reason == GCS_GAP_DISCONNECT;
	}
	for (unsigned int i = 0; i < MAX_N; i++) {
		if (!sent[i] || seen[i])
			continue;
		missing++;
		for (size_t g = 0; g < gcs_reader_n_gaps(r); g++) {
			const struct gcs_gap *gp = gcs_reader_gap(r, g);

			if (gp->stream == stream &&
			    gp->reason == GCS_GAP_DISCONNECT &&
			    gp->first_seq != GCS_SEQ_UNKNOWN &&
			    i >= gp->first_seq && i <= gp->last_seq) {
				in_outage++;
				break;
			}
		}
	}
	gcs_reader_close(r);
	printf("side %s: sent %u, records %u, missing %u (%u lost with the link), duplicates %u, out of order %u, not sent %u, unexplained jumps %u, gaps %u (device %u, link %u)\n",
	       side, n_sent, n_rec, missing, in_outage, dups, order, extra,
	       unexplained, gaps, gap_dev, gap_link);
	return missing == in_outage && !dups && !order && !extra &&
	       !unexplained ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return serve(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "check"))
		return check(argc, argv);
	fprintf(stderr, "usage: gaitcap-test-insole serve --adapter ADDR --side S --count N [--period-ms MS | --period-us US] [--drop I,..] [--log F]\n"
		"       gaitcap-test-insole check SESSION --side S --log F\n");
	return 1;
}
