// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the ATT/GATT client (userspace/ble) fed by a hostile
 * peer. The input is a list of records, each a u16 length then that many
 * bytes of one PDU; length 0xffff instead advances the clock by the next
 * byte in seconds and runs the timers. An insole link in its connect
 * sequence takes them all. Whatever the peer says, the client must not
 * crash or leak, and:
 *   - never sends a PDU longer than ATT_MTU, nor one it does not speak;
 *   - never sends a request while another one is outstanding (3.3.2);
 *   - says "ready" at most once, and sends nothing once the bearer died;
 *   - hands every data value to a decoder that stays in bounds.
 *
 * Built with -DGEN_SEEDS (no libFuzzer), the same file writes seeds: the
 * peer's side of a whole connect sequence for both profiles: gen DIR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ble/insole_link.h"

#define FUZZ_ASSERT(c)							\
	do {								\
		if (!(c)) {						\
			fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
				__FILE__, __LINE__, #c);		\
			abort();					\
		}							\
	} while (0)

#define SEC 1000000000ULL
#define REC_TICK 0xffff

#ifndef GEN_SEEDS

struct fz {
	struct insole_link *link;
	uint64_t now;
	int n_ready;
	bool dead_seen;
};

static uint64_t fz_now(void *user)
{
	return ((struct fz *)user)->now;
}

static bool fz_speaks(uint8_t op)
{
	switch (op) {
	case ATT_OP_ERROR_RSP:
	case ATT_OP_MTU_REQ:
	case ATT_OP_MTU_RSP:
	case ATT_OP_FIND_INFO_REQ:
	case ATT_OP_READ_BY_TYPE_REQ:
	case ATT_OP_READ_REQ:
	case ATT_OP_READ_BLOB_REQ:
	case ATT_OP_READ_BY_GRP_TYPE_REQ:
	case ATT_OP_WRITE_REQ:
	case ATT_OP_WRITE_CMD:
	case ATT_OP_CONFIRM:
		return true;
	}
	return false;
}

static int fz_send(void *user, const uint8_t *pdu, size_t len)
{
	struct fz *f = user;
	struct ble_att *att = insole_link_att(f->link);

	FUZZ_ASSERT(len >= 1 && len <= ble_att_mtu(att));
	FUZZ_ASSERT(fz_speaks(pdu[0]));
	FUZZ_ASSERT(!ble_att_dead(att));
	/* A request goes out only when none is outstanding. */
	if (pdu[0] != ATT_OP_WRITE_CMD && pdu[0] != ATT_OP_CONFIRM &&
	    pdu[0] != ATT_OP_ERROR_RSP && pdu[0] != ATT_OP_MTU_RSP)
		FUZZ_ASSERT(ble_att_deadline(att) == ATT_NO_DEADLINE);
	return 0;
}

static void fz_ready(void *user, int err, const struct insole_link_info *info)
{
	struct fz *f = user;

	f->n_ready++;
	if (getenv("FUZZ_ATT_VERBOSE"))
		fprintf(stderr, "ready: %d (%s), profile %d\n", err,
			info->failed_step ? info->failed_step : "-",
			info->profile);
	FUZZ_ASSERT(f->n_ready == 1);
	FUZZ_ASSERT(err <= 0);
	if (!err) {
		FUZZ_ASSERT(info->decoder && info->data_handle);
		FUZZ_ASSERT(info->mtu >= ATT_DEFAULT_MTU);
	}
	FUZZ_ASSERT(info->battery_pct >= -1 && info->battery_pct <= 100);
	FUZZ_ASSERT(strlen(info->manufacturer) < INSOLE_STR_MAX);
}

static void fz_data(void *user, const uint8_t *val, size_t len,
		    uint64_t rx_ns)
{
	struct fz *f = user;
	const struct insole_link_info *info = insole_link_info(f->link);
	struct insole_sample s[INSOLE_MAX_BATCH];
	int n;

	FUZZ_ASSERT(info->decoder);
	n = info->decoder->decode(val, len, s, INSOLE_MAX_BATCH);
	FUZZ_ASSERT(n <= INSOLE_MAX_BATCH);
	if (n > 0)
		FUZZ_ASSERT(s[n - 1].n_cells <= INSOLE_MAX_CELLS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct insole_link_ops ops = {
		.send = fz_send, .now = fz_now, .ready = fz_ready,
		.data = fz_data,
	};
	struct fz f = { .now = 1 * SEC };
	size_t off = 0, len;
	uint64_t deadline;

	f.link = insole_link_new(-1, &ops, &f, NULL);
	FUZZ_ASSERT(f.link);
	FUZZ_ASSERT(insole_link_connect(f.link) == 0);
	while (off + 2 <= size) {
		len = (size_t)data[off] | (size_t)data[off + 1] << 8;
		off += 2;
		if (len == REC_TICK) {
			if (off >= size)
				break;
			f.now += data[off++] * SEC;
			deadline = insole_link_deadline(f.link);
			insole_link_tick(f.link, f.now);
			/* A deadline that passed has been dealt with. */
			if (deadline <= f.now)
				FUZZ_ASSERT(insole_link_deadline(f.link) >
					    f.now);
			continue;
		}
		if (len > size - off)
			len = size - off;
		insole_link_input(f.link, data + off, len, f.now);
		off += len;
	}
	/* A stop asked for at any point must be refused or sent cleanly. */
	insole_link_stop(f.link);
	insole_link_free(f.link);
	return 0;
}

#else /* GEN_SEEDS */

#define U128(x) 0x6c, 0x6f, 0x73, 0x6e, 0x69, 0x70, 0x61, 0x63, 0x74, 0x69, \
		0x61, 0x67, (x), 0x00, 0x7e, 0x5a
#define P(...) { (const uint8_t[]){ __VA_ARGS__ }, \
		 sizeof((const uint8_t[]){ __VA_ARGS__ }) }

struct pdu {
	const uint8_t *p;
	size_t len;
};

/* The peer's side of tests/unit/test_att.c's gaitcap sequence (MTU 64). */
static const struct pdu gaitcap_head[] = {
	P(0x03, 0x40, 0x00),
	P(0x11, 0x06, 0x01, 0x00, 0x09, 0x00, 0x0a, 0x18,
	  0x0a, 0x00, 0x0d, 0x00, 0x0f, 0x18),
	P(0x11, 0x14, 0x0e, 0x00, 0x16, 0x00, U128(0x01)),
	P(0x01, 0x10, 0x17, 0x00, 0x0a),
	P(0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x29, 0x2a,
	  0x04, 0x00, 0x02, 0x05, 0x00, 0x24, 0x2a,
	  0x06, 0x00, 0x02, 0x07, 0x00, 0x25, 0x2a,
	  0x08, 0x00, 0x02, 0x09, 0x00, 0x26, 0x2a),
	P(0x01, 0x08, 0x09, 0x00, 0x0a),
	P(0x09, 0x07, 0x0b, 0x00, 0x12, 0x0c, 0x00, 0x19, 0x2a),
	P(0x01, 0x08, 0x0c, 0x00, 0x0a),
	P(0x09, 0x15, 0x0f, 0x00, 0x10, 0x10, 0x00, U128(0x02),
	  0x12, 0x00, 0x28, 0x13, 0x00, U128(0x03)),
	P(0x09, 0x15, 0x15, 0x00, 0x02, 0x16, 0x00, U128(0x04)),
	P(0x01, 0x08, 0x16, 0x00, 0x0a),
	P(0x05, 0x01, 0x0d, 0x00, 0x02, 0x29),
	P(0x05, 0x01, 0x11, 0x00, 0x02, 0x29),
	P(0x05, 0x01, 0x14, 0x00, 0x02, 0x29),
	P(0x0b, 'G', 'a', 'i', 't', 'c', 'a', 'p'),
	P(0x0b, 'G', 'I', '-', '1'),
	P(0x0b, 'S', 'I', 'M', '1'),
	P(0x0b, '1', '.', '0'),
	P(0x0b, 87),
};

/* Token: the fuzzer's clock, 1 s, in us, | 1. */
#define TOKEN 0x41, 0x42, 0x0f, 0x00
static const struct pdu gaitcap_tail[] = {
	P(0x13),
	P(0x13),
	P(0x13),
	P(0x1d, 0x13, 0x00, 0x80, 0x04, 0x00, TOKEN, 0x78, 0x56, 0x34, 0x12),
	P(0x1d, 0x13, 0x00, 0x80, 0x01, 0x00),
	P(0x13),
};

static const struct pdu fff0_all[] = {
	P(0x03, 0x40, 0x00),
	P(0x11, 0x06, 0x01, 0x00, 0x03, 0x00, 0x14, 0x18,
	  0x04, 0x00, 0x09, 0x00, 0xf0, 0xff),
	P(0x01, 0x10, 0x0a, 0x00, 0x0a),
	P(0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x54, 0x2a),
	P(0x01, 0x08, 0x03, 0x00, 0x0a),
	P(0x09, 0x07, 0x05, 0x00, 0x10, 0x06, 0x00, 0xf1, 0xff,
	  0x08, 0x00, 0x04, 0x09, 0x00, 0xf2, 0xff),
	P(0x01, 0x08, 0x09, 0x00, 0x0a),
	P(0x05, 0x01, 0x07, 0x00, 0x02, 0x29),
	P(0x0b, 0x03, 0x00),
	P(0x13),
	P(0x1b, 0x06, 0x00, 0x55, 0x02, 0x01, 0x00, 0x02, 0x00),
};

static void put(FILE *f, const uint8_t *p, size_t len)
{
	fputc((int)(len & 0xff), f);
	fputc((int)(len >> 8), f);
	fwrite(p, 1, len, f);
}

static void put_all(FILE *f, const struct pdu *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put(f, s[i].p, s[i].len);
}

static FILE *open_seed(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	return f;
}

int main(int argc, char **argv)
{
	uint8_t d[1 + INSOLE_INFO_HDR + INSOLE_INFO_CELL * INSOLE_CELLS];
	uint8_t ntf[3 + INSOLE_DATA_HDR + INSOLE_SAMPLE_SIZE] = { 0x1b, 0x10 };
	const float scale[3] = { 0.5f, 0.001f, 0.07f };
	size_t dlen = sizeof(d) - 1;
	unsigned int i;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* The description, 120 bytes: a Read of 63, a Read Blob of 57. */
	memset(d, 0, sizeof(d));
	d[1] = INSOLE_INFO_VERSION;
	d[3] = INSOLE_CELLS;
	d[4] = 3;
	ble_put_le16(d + 5, 100);
	ble_put_le16(d + 7, 5);
	ble_put_le16(d + 9, 4095);
	for (i = 0; i < 3; i++)
		memcpy(d + 13 + 4 * i, &scale[i], 4);
	for (i = 0; i < INSOLE_CELLS; i++)
		ble_put_le16(d + 1 + INSOLE_INFO_HDR + 6 * i + 4, 150);
	ntf[3] = INSOLE_DATA_VERSION;
	ntf[4] = 1;

	f = open_seed(argv[1], "gaitcap-connect");
	put_all(f, gaitcap_head, sizeof(gaitcap_head) / sizeof(*gaitcap_head));
	d[0] = ATT_OP_READ_RSP;
	put(f, d, 64);
	d[63] = ATT_OP_READ_BLOB_RSP;
	put(f, d + 63, dlen - 63 + 1);
	put_all(f, gaitcap_tail, sizeof(gaitcap_tail) / sizeof(*gaitcap_tail));
	put(f, ntf, sizeof(ntf));
	fclose(f);

	f = open_seed(argv[1], "gaitcap-timeout");
	put_all(f, gaitcap_head, 3);
	fwrite((const uint8_t[]){ 0xff, 0xff, 31 }, 1, 3, f);	/* 31 s */
	fclose(f);

	f = open_seed(argv[1], "fff0-connect");
	put_all(f, fff0_all, sizeof(fff0_all) / sizeof(*fff0_all));
	fclose(f);
	return 0;
}

#endif /* GEN_SEEDS */
