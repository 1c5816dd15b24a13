// SPDX-License-Identifier: GPL-2.0
/*
 * The ATT/GATT client (userspace/ble) driven by byte scripts, as BlueZ's
 * unit/test-gatt.c does: the engine owns one end of a
 * socketpair(AF_UNIX, SOCK_SEQPACKET) and sends on it; the script says
 * what it must send (TX) and what the peer answers (RX). A test passes
 * only when every scripted PDU was used and nothing more was sent.
 * Time is injected: the timeouts are tested without sleeping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ble/att.h"
#include "ble/gatt.h"
#include "ble/insole_link.h"

#define SEC 1000000000ULL

enum { STEP_TX, STEP_RX };

struct pdu_step {
	int dir;
	const uint8_t *p;
	size_t len;
	int ret;	/* RX: what the engine's input must return */
};

#define B(...) (const uint8_t[]){ __VA_ARGS__ }
#define BN(...) sizeof((const uint8_t[]){ __VA_ARGS__ })
#define TX(...) { STEP_TX, B(__VA_ARGS__), BN(__VA_ARGS__), 0 }
#define RX(...) { STEP_RX, B(__VA_ARGS__), BN(__VA_ARGS__), 0 }
#define RXE(e, ...) { STEP_RX, B(__VA_ARGS__), BN(__VA_ARGS__), (e) }
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The vendor UUIDs as bytes inside a script. */
#define U128(x) 0x6c, 0x6f, 0x73, 0x6e, 0x69, 0x70, 0x61, 0x63, 0x74, 0x69, \
		0x61, 0x67, (x), 0x00, 0x7e, 0x5a

struct tctx {
	int fd[2];		/* [0] the engine's end, [1] the peer's */
	uint64_t now;
	struct ble_att *att;
	struct insole_link *link;
	/* What the callbacks saw. */
	int n_err, last_err;
	int n_value;
	uint16_t value_handle;
	bool value_ind;
	uint64_t value_rx;
	uint8_t value[ATT_MAX_MTU];
	size_t value_len;
	int n_rsp, rsp_err;
	uint8_t rsp_ecode;
	uint8_t rsp[ATT_MAX_MTU];
	size_t rsp_len;
	int n_ready, ready_err;
	struct insole_link_info info;
	int n_data;
	uint64_t data_rx;
	uint8_t data[ATT_MAX_MTU];
	size_t data_len;
};

static uint64_t t_now(void *user)
{
	return ((struct tctx *)user)->now;
}

static void t_error(void *user, int err, const char *what)
{
	struct tctx *t = user;

	t->n_err++;
	t->last_err = err;
}

static void t_value(void *user, uint16_t handle, const uint8_t *val,
		    size_t len, bool ind, uint64_t rx_ns)
{
	struct tctx *t = user;

	t->n_value++;
	t->value_handle = handle;
	t->value_ind = ind;
	t->value_rx = rx_ns;
	memcpy(t->value, val, len);
	t->value_len = len;
}

static void t_rsp(void *user, int err, uint8_t ecode, const uint8_t *pdu,
		  size_t len)
{
	struct tctx *t = user;

	t->n_rsp++;
	t->rsp_err = err;
	t->rsp_ecode = ecode;
	t->rsp_len = pdu ? len : 0;
	if (pdu)
		memcpy(t->rsp, pdu, len);
}

static void t_done(void *user, int err, uint8_t ecode)
{
	t_rsp(user, err, ecode, NULL, 0);
}

static void t_read(void *user, int err, uint8_t ecode, const uint8_t *val,
		   size_t len)
{
	t_rsp(user, err, ecode, val, len);
}

static void t_ready(void *user, int err, const struct insole_link_info *info)
{
	struct tctx *t = user;

	t->n_ready++;
	t->ready_err = err;
	t->info = *info;
}

static void t_data(void *user, const uint8_t *val, size_t len, uint64_t rx_ns)
{
	struct tctx *t = user;

	t->n_data++;
	t->data_rx = rx_ns;
	memcpy(t->data, val, len);
	t->data_len = len;
}

static void t_log(void *user, int err, const char *msg)
{
	t_error(user, err, msg);
}

static int setup(void **state)
{
	static const struct ble_att_ops ops = {
		.now = t_now, .value = t_value, .error = t_error,
	};
	struct tctx *t = calloc(1, sizeof(*t));

	if (!t || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, t->fd))
		return -1;
	t->now = 5 * SEC;
	t->att = ble_att_new(t->fd[0], &ops, t);
	if (!t->att)
		return -1;
	*state = t;
	return 0;
}

static int setup_link(void **state)
{
	static const struct insole_link_ops ops = {
		.now = t_now, .ready = t_ready, .data = t_data, .log = t_log,
	};
	struct tctx *t = calloc(1, sizeof(*t));

	if (!t || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, t->fd))
		return -1;
	t->now = 5 * SEC;
	t->link = insole_link_new(t->fd[0], &ops, t, NULL);
	if (!t->link)
		return -1;
	t->att = insole_link_att(t->link);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tctx *t = *state;

	if (t->link)
		insole_link_free(t->link);
	else
		ble_att_free(t->att);
	close(t->fd[0]);
	close(t->fd[1]);
	free(t);
	return 0;
}

static const char *hex(const uint8_t *p, size_t len, char *buf, size_t cap)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < len && o + 4 < cap; i++)
		o += snprintf(buf + o, cap - o, "%02x ", p[i]);
	return buf;
}

static int t_input(struct tctx *t, const uint8_t *pdu, size_t len)
{
	if (t->link)
		return insole_link_input(t->link, pdu, len, t->now);
	return ble_att_input(t->att, pdu, len, t->now);
}

/* The peer sends @p; the engine gets it through the socket. */
static int peer_send(struct tctx *t, const uint8_t *p, size_t len)
{
	uint8_t buf[2048];
	ssize_t n;

	assert_int_equal(send(t->fd[1], p, len, 0), (ssize_t)len);
	n = recv(t->fd[0], buf, sizeof(buf), MSG_DONTWAIT);
	assert_int_equal(n, (ssize_t)len);
	return t_input(t, buf, (size_t)n);
}

static void run(struct tctx *t, const struct pdu_step *s, size_t n)
{
	char h1[1600], h2[1600];
	uint8_t buf[2048];
	ssize_t got;
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		if (s[i].dir == STEP_RX) {
			ret = peer_send(t, s[i].p, s[i].len);
			if (ret != s[i].ret)
				fail_msg("step %zu: input of %s returned %d, expected %d",
					 i, hex(s[i].p, s[i].len, h1, sizeof(h1)),
					 ret, s[i].ret);
			continue;
		}
		got = recv(t->fd[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (got < 0)
			fail_msg("step %zu: the client sent nothing, expected %s",
				 i, hex(s[i].p, s[i].len, h1, sizeof(h1)));
		if ((size_t)got != s[i].len || memcmp(buf, s[i].p, s[i].len))
			fail_msg("step %zu: the client sent %s, expected %s", i,
				 hex(buf, (size_t)got, h1, sizeof(h1)),
				 hex(s[i].p, s[i].len, h2, sizeof(h2)));
	}
}

/* Nothing more than the script: the client has sent nothing else. */
static void assert_quiet(struct tctx *t)
{
	char h[1600];
	uint8_t buf[2048];
	ssize_t got = recv(t->fd[1], buf, sizeof(buf), MSG_DONTWAIT);

	if (got >= 0)
		fail_msg("the client sent an unscripted PDU: %s",
			 hex(buf, (size_t)got, h, sizeof(h)));
	assert_int_equal(errno, EAGAIN);
}

/* ---- ATT: MTU ---------------------------------------------------------- */

static void test_att_mtu_exchange(void **state)
{
	const struct pdu_step s[] = {
		TX(0x02, 0xf7, 0x00),
		RX(0x03, 0x64, 0x00),
	};
	struct tctx *t = *state;

	assert_int_equal(ble_att_mtu(t->att), 23);
	assert_int_equal(ble_att_exchange_mtu(t->att, t_rsp, t), 0);
	run(t, s, N(s));
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, 0);
	assert_int_equal(ble_att_mtu(t->att), 100);
	assert_quiet(t);
}

/* A server MTU below 23 is invalid; the link keeps 23. */
static void test_att_mtu_floor(void **state)
{
	const struct pdu_step s[] = {
		TX(0x02, 0x00, 0x02),
		RX(0x03, 0x05, 0x00),
	};
	struct tctx *t = *state;

	assert_int_equal(ble_att_set_rx_mtu(t->att, 512), 0);
	assert_int_equal(ble_att_set_rx_mtu(t->att, 22), -EINVAL);
	assert_int_equal(ble_att_set_rx_mtu(t->att, 518), -EINVAL);
	assert_int_equal(ble_att_exchange_mtu(t->att, t_rsp, t), 0);
	run(t, s, N(s));
	assert_int_equal(t->rsp_err, 0);
	assert_int_equal(ble_att_mtu(t->att), 23);
	assert_quiet(t);
}

/* The peer's own Exchange MTU is answered with our receive MTU. */
static void test_att_peer_mtu_request(void **state)
{
	const struct pdu_step s[] = {
		RX(0x02, 0x00, 0x01),
		TX(0x03, 0xf7, 0x00),
		RXE(-EBADMSG, 0x02, 0x00),
		TX(0x01, 0x02, 0x00, 0x00, 0x04),
	};
	struct tctx *t = *state;

	run(t, s, N(s));
	assert_int_equal(ble_att_mtu(t->att), 247);
	assert_int_equal(ble_att_stats(t->att)->peer_requests, 2);
	assert_quiet(t);
}

/* ---- ATT: the peer's requests and commands ------------------------------ */

static void test_att_peer_request_unsupported(void **state)
{
	const struct pdu_step s[] = {
		/* Read, Read By Group Type, Write: Request Not Supported. */
		RX(0x0a, 0x03, 0x00),
		TX(0x01, 0x0a, 0x00, 0x00, 0x06),
		RX(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
		TX(0x01, 0x10, 0x00, 0x00, 0x06),
		RX(0x12, 0x05, 0x00, 0x01),
		TX(0x01, 0x12, 0x00, 0x00, 0x06),
		/* An opcode nobody defined, without the command flag. */
		RX(0x3f, 0x01),
		TX(0x01, 0x3f, 0x00, 0x00, 0x06),
		/* Commands (Write Command, Signed Write): never answered. */
		RX(0x52, 0x05, 0x00, 0x01),
		RX(0xd2, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		   0),
		RX(0x7f),
	};
	struct tctx *t = *state;

	run(t, s, N(s));
	assert_int_equal(ble_att_stats(t->att)->peer_requests, 4);
	assert_quiet(t);
}

/* The two directions are independent: the peer asks while we wait. */
static void test_att_peer_request_during_ours(void **state)
{
	const struct pdu_step s[] = {
		TX(0x0a, 0x05, 0x00),
		RX(0x08, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28),
		TX(0x01, 0x08, 0x00, 0x00, 0x06),
		RX(0x1b, 0x20, 0x00, 0x07),
		RX(0x0b, 0x33),
	};
	struct tctx *t = *state;

	assert_int_equal(ble_att_request(t->att, B(0x0a, 5, 0), 3, t_rsp, t),
			 0);
	run(t, s, N(s));
	assert_int_equal(t->n_value, 1);
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, 0);
	assert_memory_equal(t->rsp, B(0x0b, 0x33), 2);
	assert_quiet(t);
}

static int fail_send(void *user, const uint8_t *pdu, size_t len)
{
	return -EPIPE;
}

/* A request that cannot be sent ends at once; the next one still goes. */
static void test_att_send_error(void **state)
{
	const struct ble_att_ops ops = { .send = fail_send, .now = t_now };
	struct tctx *t = *state;
	struct ble_att *att = ble_att_new(-1, &ops, t);

	assert_non_null(att);
	assert_int_equal(ble_att_request(att, B(0x0a, 5, 0), 3, t_rsp, t), 0);
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, -EPIPE);
	assert_int_equal(ble_att_deadline(att), ATT_NO_DEADLINE);
	assert_int_equal(ble_att_command(att, B(0x52, 5, 0, 1), 4), -EPIPE);
	assert_int_equal(ble_att_input(att, B(0x1d, 0x05, 0x00), 3, 0),
			 -EPIPE);
	assert_int_equal(ble_att_stats(att)->tx_pdus, 0);
	ble_att_free(att);
}

/* ---- ATT: notifications and indications ------------------------------ */

static void t_value2(void *user, uint16_t handle, const uint8_t *val,
		     size_t len, bool ind, uint64_t rx_ns)
{
	struct tctx *t = user;

	t->n_data++;
	t->data_rx = rx_ns;
	memcpy(t->data, val, len);
	t->data_len = len;
}

static void test_att_notifications(void **state)
{
	const struct pdu_step s1[] = { RX(0x1b, 0x10, 0x00, 1, 2, 3) };
	const struct pdu_step s2[] = {
		RX(0x1b, 0x20, 0x00, 9),
		RX(0x1b, 0x10, 0x00),	/* an empty value is valid */
	};
	struct tctx *t = *state;

	assert_int_equal(ble_att_on_value(t->att, 0x0010, t_value2, t), 0);
	t->now = 7 * SEC;
	run(t, s1, N(s1));
	assert_int_equal(t->n_data, 1);
	assert_int_equal(t->data_len, 3);
	assert_memory_equal(t->data, B(1, 2, 3), 3);
	assert_int_equal(t->data_rx, 7 * SEC);
	assert_int_equal(t->n_value, 0);
	/* Another handle: the catch-all. */
	run(t, s2, N(s2));
	assert_int_equal(t->n_value, 1);
	assert_int_equal(t->value_handle, 0x20);
	assert_false(t->value_ind);
	assert_int_equal(t->n_data, 2);
	assert_int_equal(t->data_len, 0);
	/* Removed: the catch-all again. */
	assert_int_equal(ble_att_on_value(t->att, 0x0010, NULL, NULL), 0);
	run(t, s1, N(s1));
	assert_int_equal(t->n_value, 2);
	assert_int_equal(ble_att_stats(t->att)->notifications, 4);
	assert_quiet(t);
}

static void test_att_indication_confirmed(void **state)
{
	const struct pdu_step s[] = {
		RX(0x1d, 0x13, 0x00, 0x80, 0x01, 0x00),
		TX(0x1e),
		/* Confirmed even when nobody listens. */
		RX(0x1d, 0x99, 0x00),
		TX(0x1e),
	};
	struct tctx *t = *state;

	assert_int_equal(ble_att_on_value(t->att, 0x0013, t_value2, t), 0);
	run(t, s, N(s));
	assert_int_equal(t->n_data, 1);
	assert_int_equal(t->data_len, 3);
	assert_int_equal(t->n_value, 1);
	assert_true(t->value_ind);
	assert_int_equal(ble_att_stats(t->att)->indications, 2);
	assert_quiet(t);
}

/* ---- ATT: requests, queue, errors -------------------------------------- */

static void test_att_error_response(void **state)
{
	const struct pdu_step s[] = {
		TX(0x0a, 0x05, 0x00),
		RX(0x01, 0x0a, 0x05, 0x00, 0x02),
	};
	struct tctx *t = *state;

	assert_int_equal(ble_att_request(t->att, B(0x0a, 0x05, 0x00), 3,
					 t_rsp, t), 0);
	run(t, s, N(s));
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, -EPROTO);
	assert_int_equal(t->rsp_ecode, ATT_ECODE_READ_NOT_PERMITTED);
	assert_int_equal(ble_att_deadline(t->att), ATT_NO_DEADLINE);
	assert_quiet(t);
}

/* One request outstanding (3.3.2): the next one waits for the answer. */
static void test_att_one_outstanding(void **state)
{
	const struct pdu_step s1[] = { TX(0x0a, 0x01, 0x00) };
	const struct pdu_step s2[] = {
		RX(0x0b, 0xaa),
		TX(0x0a, 0x02, 0x00),
		RX(0x0b, 0xbb),
		TX(0x0a, 0x03, 0x00),
		RX(0x0b, 0xcc),
	};
	struct tctx *t = *state;
	int i;

	for (i = 1; i <= 3; i++)
		assert_int_equal(ble_att_request(t->att, B(0x0a, i, 0x00), 3,
						 t_rsp, t), 0);
	run(t, s1, N(s1));
	assert_quiet(t);	/* the two others wait */
	run(t, s2, N(s2));
	assert_int_equal(t->n_rsp, 3);
	assert_memory_equal(t->rsp, B(0x0b, 0xcc), 2);
	assert_quiet(t);
	/* Not requests: refused. */
	assert_int_equal(ble_att_request(t->att, B(0x52, 1, 0, 1), 4, t_rsp, t),
			 -EINVAL);
	assert_int_equal(ble_att_request(t->att, B(0x0b), 1, t_rsp, t),
			 -EINVAL);
	assert_int_equal(ble_att_command(t->att, B(0x12, 1, 0), 3), -EINVAL);
}

static void test_att_queue_limit(void **state)
{
	struct tctx *t = *state;
	int i, ret = 0;

	for (i = 0; i < 100 && !ret; i++)
		ret = ble_att_request(t->att, B(0x0a, 1, 0), 3, t_rsp, t);
	assert_int_equal(ret, -ENOBUFS);
	assert_int_equal(i, 66);	/* one sent, 64 queued, one refused */
}

static void test_att_malformed(void **state)
{
	const struct pdu_step idle[] = {
		RXE(-EBADMSG, 0x1b, 0x10),		/* no full handle */
		RXE(-EBADMSG, 0x1d, 0x10),
		RXE(-EPROTO, 0x0b, 0x01),		/* nothing asked */
		RXE(-EPROTO, 0x1e),			/* nothing indicated */
		RXE(-EPROTO, 0x23, 0x01, 0x00),
	};
	const struct pdu_step s[] = {
		TX(0x0a, 0x05, 0x00),
		RXE(-EPROTO, 0x0d, 0x01),		/* not a Read Blob */
		RXE(-EPROTO, 0x01, 0x0c, 0x05, 0x00, 0x01), /* other request */
		RX(0x0b, 0x42),
		TX(0x02, 0xf7, 0x00),
		RXE(-EBADMSG, 0x03, 0x40),		/* short MTU */
		TX(0x0a, 0x06, 0x00),
		RXE(-EBADMSG, 0x01, 0x0a, 0x06, 0x00),	/* short error */
	};
	struct tctx *t = *state;

	assert_int_equal(ble_att_input(t->att, B(0), 0, 0), -EBADMSG);
	run(t, idle, N(idle));
	assert_int_equal(ble_att_request(t->att, B(0x0a, 5, 0), 3, t_rsp, t),
			 0);
	assert_int_equal(ble_att_exchange_mtu(t->att, t_rsp, t), 0);
	assert_int_equal(ble_att_request(t->att, B(0x0a, 6, 0), 3, t_rsp, t),
			 0);
	run(t, s, N(s));
	/* The read got its value; the malformed answers end theirs. */
	assert_int_equal(t->n_rsp, 3);
	assert_int_equal(t->rsp_err, -EBADMSG);
	assert_int_equal(ble_att_mtu(t->att), 23);
	assert_int_equal(ble_att_stats(t->att)->refused, 10);
	assert_int_equal(t->n_err, 10);
	assert_false(ble_att_dead(t->att));
	assert_quiet(t);
}

static void test_att_oversized(void **state)
{
	const struct pdu_step s[] = { TX(0x0a, 0x05, 0x00) };
	struct tctx *t = *state;
	uint8_t big[600];

	memset(big, 0x11, sizeof(big));
	big[0] = ATT_OP_NOTIFY;
	/* 24 bytes at ATT_MTU 23. */
	assert_int_equal(peer_send(t, big, 24), -EMSGSIZE);
	assert_int_equal(peer_send(t, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(t->n_value, 0);
	/* A too long answer ends its request. */
	assert_int_equal(ble_att_request(t->att, B(0x0a, 5, 0), 3, t_rsp, t),
			 0);
	run(t, s, N(s));
	big[0] = ATT_OP_READ_RSP;
	assert_int_equal(peer_send(t, big, 24), -EMSGSIZE);
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, -EMSGSIZE);
	assert_int_equal(ble_att_stats(t->att)->refused, 3);
	/* Nor does the client send more than ATT_MTU. */
	memset(big, 0, sizeof(big));
	big[0] = ATT_OP_WRITE_REQ;
	assert_int_equal(ble_att_request(t->att, big, 24, t_rsp, t),
			 -EMSGSIZE);
	assert_int_equal(gatt_write(t->att, 1, big, 21, t_done, t), -EMSGSIZE);
	assert_quiet(t);
}

static void test_att_timeout(void **state)
{
	const struct pdu_step s[] = { TX(0x0a, 0x05, 0x00) };
	struct tctx *t = *state;

	assert_int_equal(ble_att_deadline(t->att), ATT_NO_DEADLINE);
	t->now = 100 * SEC;
	assert_int_equal(ble_att_request(t->att, B(0x0a, 5, 0), 3, t_rsp, t),
			 0);
	assert_int_equal(ble_att_request(t->att, B(0x0a, 6, 0), 3, t_rsp, t),
			 0);
	run(t, s, N(s));
	assert_int_equal(ble_att_deadline(t->att), 130 * SEC);
	assert_int_equal(ble_att_tick(t->att, 130 * SEC - 1), 0);
	assert_int_equal(t->n_rsp, 0);
	assert_int_equal(ble_att_tick(t->att, 130 * SEC), -ETIMEDOUT);
	/* Both the pending and the queued request fail. */
	assert_int_equal(t->n_rsp, 2);
	assert_int_equal(t->rsp_err, -ETIMEDOUT);
	assert_true(ble_att_dead(t->att));
	/* 3.3.3: nothing more on this bearer, not even an answer. */
	assert_int_equal(ble_att_request(t->att, B(0x0a, 5, 0), 3, t_rsp, t),
			 -ETIMEDOUT);
	assert_int_equal(peer_send(t, B(0x0b, 0x01), 2), -ETIMEDOUT);
	assert_int_equal(peer_send(t, B(0x02, 0x40, 0x00), 3), -ETIMEDOUT);
	assert_int_equal(ble_att_deadline(t->att), ATT_NO_DEADLINE);
	assert_quiet(t);
}

static void test_att_timeout_configurable(void **state)
{
	const struct pdu_step s[] = {
		TX(0x0a, 0x05, 0x00),
		RX(0x0b, 0x01),
	};
	struct tctx *t = *state;

	ble_att_set_timeout(t->att, 2 * SEC);
	assert_int_equal(ble_att_request(t->att, B(0x0a, 5, 0), 3, t_rsp, t),
			 0);
	assert_int_equal(ble_att_deadline(t->att), 7 * SEC);
	/* An answer in time clears the deadline. */
	run(t, s, N(s));
	assert_int_equal(ble_att_deadline(t->att), ATT_NO_DEADLINE);
	assert_int_equal(ble_att_tick(t->att, 100 * SEC), 0);
	assert_int_equal(t->rsp_err, 0);
	assert_quiet(t);
}

/* ---- GATT -------------------------------------------------------------- */

static void test_gatt_discover(void **state)
{
	const struct pdu_step s[] = {
		TX(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
		RX(0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18,
		   0x06, 0x00, 0x0a, 0x00, 0x0f, 0x18),
		TX(0x10, 0x0b, 0x00, 0xff, 0xff, 0x00, 0x28),
		RX(0x11, 0x14, 0x10, 0x00, 0xff, 0xff, U128(0x01)),
		/* GAP: two characteristics, no descriptors wanted. */
		TX(0x08, 0x01, 0x00, 0x05, 0x00, 0x03, 0x28),
		RX(0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a,
		   0x04, 0x00, 0x02, 0x05, 0x00, 0x01, 0x2a),
		TX(0x08, 0x05, 0x00, 0x05, 0x00, 0x03, 0x28),
		RX(0x01, 0x08, 0x05, 0x00, 0x0a),
		/* Battery. */
		TX(0x08, 0x06, 0x00, 0x0a, 0x00, 0x03, 0x28),
		RX(0x09, 0x07, 0x07, 0x00, 0x12, 0x08, 0x00, 0x19, 0x2a),
		TX(0x08, 0x08, 0x00, 0x0a, 0x00, 0x03, 0x28),
		RX(0x01, 0x08, 0x08, 0x00, 0x0a),
		/* Vendor, to the end of the handle space. */
		TX(0x08, 0x10, 0x00, 0xff, 0xff, 0x03, 0x28),
		RX(0x09, 0x15, 0x11, 0x00, 0x30, 0x12, 0x00, U128(0x03)),
		TX(0x08, 0x12, 0x00, 0xff, 0xff, 0x03, 0x28),
		RX(0x01, 0x08, 0x12, 0x00, 0x0a),
		/* Descriptors of battery level: 0x0009..0x000a. */
		TX(0x04, 0x09, 0x00, 0x0a, 0x00),
		RX(0x05, 0x01, 0x09, 0x00, 0x01, 0x29),
		TX(0x04, 0x0a, 0x00, 0x0a, 0x00),
		RX(0x05, 0x01, 0x0a, 0x00, 0x02, 0x29),
		/* The vendor one, a 128-bit descriptor first. */
		TX(0x04, 0x13, 0x00, 0xff, 0xff),
		RX(0x05, 0x02, 0x13, 0x00, U128(0x09)),
		TX(0x04, 0x14, 0x00, 0xff, 0xff),
		RX(0x05, 0x01, 0x14, 0x00, 0x02, 0x29, 0x15, 0x00, 0x01, 0x29),
		TX(0x04, 0x16, 0x00, 0xff, 0xff),
		RX(0x01, 0x04, 0x16, 0x00, 0x0a),
	};
	static const uint8_t vendor[16] = INSOLE_UUID128(INSOLE_SVC);
	static const uint8_t cp[16] = INSOLE_UUID128(INSOLE_CHR_CONTROL);
	struct tctx *t = *state;
	const struct gatt_svc *svc;
	const struct gatt_chr *c;
	struct gatt_db db;

	assert_int_equal(ble_att_set_rx_mtu(t->att, 23), 0);
	assert_int_equal(gatt_discover(t->att, &db, t_done, t), 0);
	run(t, s, N(s));
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, 0);
	assert_int_equal(db.n_svc, 3);
	assert_int_equal(db.n_chr, 4);
	svc = gatt_db_find_svc16(&db, 0x180f);
	assert_non_null(svc);
	assert_int_equal(svc->start, 6);
	assert_int_equal(svc->end, 10);
	c = gatt_db_find_chr(&db, svc, 0x2a19, NULL);
	assert_non_null(c);
	assert_int_equal(c->value, 8);
	assert_int_equal(c->end, 10);
	assert_int_equal(c->cccd, 10);
	c = gatt_db_find_chr(&db, gatt_db_find_svc16(&db, 0x1800), 0x2a00,
			     NULL);
	assert_non_null(c);
	assert_int_equal(c->end, 3);	/* up to the next declaration */
	assert_int_equal(c->cccd, 0);
	svc = gatt_db_find_svc128(&db, vendor);
	assert_non_null(svc);
	assert_int_equal(svc->end, 0xffff);
	c = gatt_db_find_chr(&db, svc, 0, cp);
	assert_non_null(c);
	assert_int_equal(c->props, 0x30);
	assert_int_equal(c->cccd, 0x14);
	assert_null(gatt_db_find_svc16(&db, 0x180a));
	assert_quiet(t);
}

/* A peer that lies about handles ends discovery, never loops. */
static void test_gatt_discover_malformed(void **state)
{
	const struct {
		const uint8_t *p;
		size_t len;
	} bad[] = {
		/* Entry size 5, a size no service can have. */
		{ B(0x11, 0x05, 0x01, 0x00, 0x05, 0x00, 0x00), 7 },
		/* End before start. */
		{ B(0x11, 0x06, 0x05, 0x00, 0x01, 0x00, 0x00, 0x18), 8 },
		/* Trailing bytes. */
		{ B(0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18, 0x00), 9 },
		/* No entry at all. */
		{ B(0x11, 0x06), 2 },
		{ B(0x11), 1 },
	};
	const struct pdu_step s[] = {
		TX(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
		RX(0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18),
		TX(0x10, 0x06, 0x00, 0xff, 0xff, 0x00, 0x28),
		/* Going backwards: a service that starts before 6. */
		RX(0x11, 0x06, 0x02, 0x00, 0x08, 0x00, 0x00, 0x18),
	};
	const struct pdu_step s2[] = {
		TX(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
		RX(0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18),
		TX(0x10, 0x06, 0x00, 0xff, 0xff, 0x00, 0x28),
		RX(0x01, 0x10, 0x06, 0x00, 0x0a),
		TX(0x08, 0x01, 0x00, 0x05, 0x00, 0x03, 0x28),
		/* A value handle outside its service. */
		RX(0x09, 0x07, 0x02, 0x00, 0x02, 0x09, 0x00, 0x00, 0x2a),
	};
	struct tctx *t = *state;
	struct gatt_db db;
	size_t i;

	for (i = 0; i < N(bad); i++) {
		t->n_rsp = 0;
		assert_int_equal(gatt_discover(t->att, &db, t_done, t), 0);
		run(t, s, 1);
		assert_int_equal(peer_send(t, bad[i].p, bad[i].len), 0);
		assert_int_equal(t->n_rsp, 1);
		assert_int_equal(t->rsp_err, -EBADMSG);
	}
	t->n_rsp = 0;
	assert_int_equal(gatt_discover(t->att, &db, t_done, t), 0);
	run(t, s, N(s));
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, -EBADMSG);
	t->n_rsp = 0;
	assert_int_equal(gatt_discover(t->att, &db, t_done, t), 0);
	run(t, s2, N(s2));
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, -EBADMSG);
	assert_quiet(t);
}

/* 50 bytes at ATT_MTU 23: a Read, then Read Blobs of 22 bytes. */
static void test_gatt_read_long(void **state)
{
	uint8_t v[60], rsp[23];
	struct tctx *t = *state;
	size_t i;

	for (i = 0; i < sizeof(v); i++)
		v[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(gatt_read(t->att, 0x0016, t_read, t), 0);
	run(t, (struct pdu_step[]){ TX(0x0a, 0x16, 0x00) }, 1);
	rsp[0] = ATT_OP_READ_RSP;
	memcpy(rsp + 1, v, 22);
	assert_int_equal(peer_send(t, rsp, 23), 0);
	run(t, (struct pdu_step[]){ TX(0x0c, 0x16, 0x00, 22, 0x00) }, 1);
	rsp[0] = ATT_OP_READ_BLOB_RSP;
	memcpy(rsp + 1, v + 22, 22);
	assert_int_equal(peer_send(t, rsp, 23), 0);
	run(t, (struct pdu_step[]){ TX(0x0c, 0x16, 0x00, 44, 0x00) }, 1);
	assert_int_equal(t->n_rsp, 0);
	memcpy(rsp + 1, v + 44, 6);
	assert_int_equal(peer_send(t, rsp, 7), 0);
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, 0);
	assert_int_equal(t->rsp_len, 50);
	assert_memory_equal(t->rsp, v, 50);

	/* 44 bytes: the value ends with a part, the next blob says so. */
	t->n_rsp = 0;
	assert_int_equal(gatt_read(t->att, 0x0016, t_read, t), 0);
	run(t, (struct pdu_step[]){ TX(0x0a, 0x16, 0x00) }, 1);
	rsp[0] = ATT_OP_READ_RSP;
	memcpy(rsp + 1, v, 22);
	assert_int_equal(peer_send(t, rsp, 23), 0);
	run(t, (struct pdu_step[]){ TX(0x0c, 0x16, 0x00, 22, 0x00) }, 1);
	rsp[0] = ATT_OP_READ_BLOB_RSP;
	memcpy(rsp + 1, v + 22, 22);
	assert_int_equal(peer_send(t, rsp, 23), 0);
	run(t, (struct pdu_step[]){
		TX(0x0c, 0x16, 0x00, 44, 0x00),
		RX(0x01, 0x0c, 0x16, 0x00, 0x07),
	}, 2);
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, 0);
	assert_int_equal(t->rsp_len, 44);
	assert_memory_equal(t->rsp, v, 44);

	/* An error on the first read is the read's error. */
	t->n_rsp = 0;
	assert_int_equal(gatt_read(t->att, 0x0016, t_read, t), 0);
	run(t, (struct pdu_step[]){
		TX(0x0a, 0x16, 0x00),
		RX(0x01, 0x0a, 0x16, 0x00, 0x0f),
	}, 2);
	assert_int_equal(t->rsp_err, -EPROTO);
	assert_int_equal(t->rsp_ecode, ATT_ECODE_ENCRYPTION);
	assert_quiet(t);
}

/* A server that never stops filling parts: cut at 512 bytes. */
static void test_gatt_read_long_capped(void **state)
{
	struct tctx *t = *state;
	uint8_t rsp[23], req[5] = { 0x0c, 0x01, 0x00 };
	unsigned int off;

	memset(rsp, 0x5a, sizeof(rsp));
	assert_int_equal(gatt_read(t->att, 1, t_read, t), 0);
	run(t, (struct pdu_step[]){ TX(0x0a, 0x01, 0x00) }, 1);
	rsp[0] = ATT_OP_READ_RSP;
	assert_int_equal(peer_send(t, rsp, 23), 0);
	rsp[0] = ATT_OP_READ_BLOB_RSP;
	for (off = 22; off < 512; off += 22) {
		ble_put_le16(req + 3, (uint16_t)off);
		run(t, (struct pdu_step[]){ { STEP_TX, req, 5, 0 } }, 1);
		assert_int_equal(peer_send(t, rsp, 23), 0);
	}
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, -EMSGSIZE);
	assert_quiet(t);
}

static void test_gatt_write_cccd(void **state)
{
	const struct pdu_step s[] = {
		TX(0x12, 0x11, 0x00, 0x01, 0x00),
		RX(0x13),
		TX(0x12, 0x14, 0x00, 0x02, 0x00),
		RX(0x01, 0x12, 0x14, 0x00, 0x05),
		TX(0x52, 0x20, 0x00, 0x01),
		TX(0x12, 0x20, 0x00, 0x09, 0x08),
		RX(0x13, 0x00),		/* a Write Response has no value */
	};
	struct gatt_chr data = { .value = 0x10, .props = GATT_PROP_NOTIFY,
				 .cccd = 0x11 };
	struct gatt_chr cp = { .value = 0x13, .props = GATT_PROP_INDICATE |
			       GATT_PROP_WRITE, .cccd = 0x14 };
	struct gatt_chr none = { .value = 0x16, .props = GATT_PROP_READ };
	struct tctx *t = *state;

	assert_int_equal(gatt_write_cccd(t->att, &data, GATT_CCCD_NOTIFY,
					 t_done, t), 0);
	assert_int_equal(gatt_write_cccd(t->att, &cp, GATT_CCCD_INDICATE,
					 t_done, t), 0);
	assert_int_equal(gatt_write_cccd(t->att, &none, GATT_CCCD_NOTIFY,
					 t_done, t), -ENOENT);
	assert_int_equal(gatt_write_cccd(t->att, &data, GATT_CCCD_INDICATE,
					 t_done, t), -EINVAL);
	run(t, s, 2);
	assert_int_equal(t->n_rsp, 1);
	assert_int_equal(t->rsp_err, 0);
	run(t, s + 2, 2);
	assert_int_equal(t->n_rsp, 2);
	assert_int_equal(t->rsp_err, -EPROTO);
	assert_int_equal(t->rsp_ecode, ATT_ECODE_AUTHENTICATION);
	assert_int_equal(gatt_write_cmd(t->att, 0x20, B(0x01), 1), 0);
	assert_int_equal(gatt_write(t->att, 0x20, B(0x09, 0x08), 2, t_done, t),
			 0);
	run(t, s + 4, 3);
	assert_int_equal(t->n_rsp, 3);
	assert_int_equal(t->rsp_err, -EBADMSG);
	assert_quiet(t);
}

/* ---- The insole connect sequence ------------------------------------- */

/* The gaitcap profile's server, ATT_MTU 64 (so the description is long). */
#define GC_DISCOVERY							\
	TX(0x02, 0xf7, 0x00),						\
	RX(0x03, 0x40, 0x00),						\
	TX(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),			\
	RX(0x11, 0x06, 0x01, 0x00, 0x09, 0x00, 0x0a, 0x18,		\
	   0x0a, 0x00, 0x0d, 0x00, 0x0f, 0x18),				\
	TX(0x10, 0x0e, 0x00, 0xff, 0xff, 0x00, 0x28),			\
	RX(0x11, 0x14, 0x0e, 0x00, 0x16, 0x00, U128(0x01)),		\
	TX(0x10, 0x17, 0x00, 0xff, 0xff, 0x00, 0x28),			\
	RX(0x01, 0x10, 0x17, 0x00, 0x0a),				\
	TX(0x08, 0x01, 0x00, 0x09, 0x00, 0x03, 0x28),			\
	RX(0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x29, 0x2a,	\
	   0x04, 0x00, 0x02, 0x05, 0x00, 0x24, 0x2a,			\
	   0x06, 0x00, 0x02, 0x07, 0x00, 0x25, 0x2a,			\
	   0x08, 0x00, 0x02, 0x09, 0x00, 0x26, 0x2a),			\
	TX(0x08, 0x09, 0x00, 0x09, 0x00, 0x03, 0x28),			\
	RX(0x01, 0x08, 0x09, 0x00, 0x0a),				\
	TX(0x08, 0x0a, 0x00, 0x0d, 0x00, 0x03, 0x28),			\
	RX(0x09, 0x07, 0x0b, 0x00, 0x12, 0x0c, 0x00, 0x19, 0x2a),	\
	TX(0x08, 0x0c, 0x00, 0x0d, 0x00, 0x03, 0x28),			\
	RX(0x01, 0x08, 0x0c, 0x00, 0x0a),				\
	TX(0x08, 0x0e, 0x00, 0x16, 0x00, 0x03, 0x28),			\
	RX(0x09, 0x15, 0x0f, 0x00, 0x10, 0x10, 0x00, U128(0x02),	\
	   0x12, 0x00, 0x28, 0x13, 0x00, U128(0x03)),			\
	TX(0x08, 0x13, 0x00, 0x16, 0x00, 0x03, 0x28),			\
	RX(0x09, 0x15, 0x15, 0x00, 0x02, 0x16, 0x00, U128(0x04)),	\
	TX(0x08, 0x16, 0x00, 0x16, 0x00, 0x03, 0x28),			\
	RX(0x01, 0x08, 0x16, 0x00, 0x0a),				\
	TX(0x04, 0x0d, 0x00, 0x0d, 0x00),				\
	RX(0x05, 0x01, 0x0d, 0x00, 0x02, 0x29),				\
	TX(0x04, 0x11, 0x00, 0x11, 0x00),				\
	RX(0x05, 0x01, 0x11, 0x00, 0x02, 0x29),				\
	TX(0x04, 0x14, 0x00, 0x14, 0x00),				\
	RX(0x05, 0x01, 0x14, 0x00, 0x02, 0x29),				\
	TX(0x0a, 0x03, 0x00),						\
	RX(0x0b, 'G', 'a', 'i', 't', 'c', 'a', 'p'),			\
	TX(0x0a, 0x05, 0x00),						\
	RX(0x0b, 'G', 'I', '-', '1', 0x07),				\
	TX(0x0a, 0x07, 0x00),						\
	RX(0x01, 0x0a, 0x07, 0x00, 0x05),				\
	TX(0x0a, 0x09, 0x00),						\
	RX(0x0b, '1', '.', '0'),					\
	TX(0x0a, 0x0c, 0x00),						\
	RX(0x0b, 87),							\
	TX(0x0a, 0x16, 0x00)

static const struct pdu_step gc_discovery[] = { GC_DISCOVERY };

/* CLOCK_SYNC's token: the injected clock, 5 s, in us, | 1. */
#define GC_TOKEN 0x41, 0x4b, 0x4c, 0x00

static const struct pdu_step gc_stream[] = {
	TX(0x12, 0x14, 0x00, 0x02, 0x00),
	RX(0x13),
	TX(0x12, 0x11, 0x00, 0x01, 0x00),
	RX(0x13),
	TX(0x12, 0x13, 0x00, 0x04, GC_TOKEN),
	RX(0x13),
	RX(0x1d, 0x13, 0x00, 0x80, 0x04, 0x00, GC_TOKEN, 0x78, 0x56, 0x34,
	   0x12),
	TX(0x1e),
	TX(0x12, 0x13, 0x00, 0x01),
	/* The answer may come before the write's response. */
	RX(0x1d, 0x13, 0x00, 0x80, 0x01, 0x00),
	TX(0x1e),
	RX(0x13),
};

static void desc_bytes(uint8_t *d, size_t *len, unsigned int n_cells)
{
	float f[3] = { 0.5f, 0.001f, 0.07f };
	unsigned int i;

	memset(d, 0, INSOLE_INFO_HDR);
	d[0] = INSOLE_INFO_VERSION;
	d[1] = 1;		/* right */
	d[2] = (uint8_t)n_cells;
	d[3] = 3;
	ble_put_le16(d + 4, 100);
	ble_put_le16(d + 6, 5);
	ble_put_le16(d + 8, 4095);
	for (i = 0; i < 3; i++)
		memcpy(d + 12 + 4 * i, &f[i], 4);	/* x86: little-endian */
	for (i = 0; i < n_cells; i++) {
		ble_put_le16(d + 24 + 6 * i, (uint16_t)(i * 3 - 20));
		ble_put_le16(d + 26 + 6 * i, (uint16_t)(i * 15));
		ble_put_le16(d + 28 + 6 * i, 180);
	}
	*len = INSOLE_INFO_HDR + INSOLE_INFO_CELL * n_cells;
}

/* The description (120 bytes) at ATT_MTU 64: one Read, one Read Blob. */
static void gc_send_desc(struct tctx *t, unsigned int n_cells)
{
	uint8_t d[512], rsp[64];
	size_t len;

	desc_bytes(d, &len, n_cells);
	rsp[0] = ATT_OP_READ_RSP;
	memcpy(rsp + 1, d, 63);
	assert_int_equal(peer_send(t, rsp, 64), 0);
	run(t, (struct pdu_step[]){ TX(0x0c, 0x16, 0x00, 63, 0x00) }, 1);
	rsp[0] = ATT_OP_READ_BLOB_RSP;
	memcpy(rsp + 1, d + 63, len - 63);
	assert_int_equal(peer_send(t, rsp, len - 63 + 1), 0);
}

static void test_insole_connect_gaitcap(void **state)
{
	struct tctx *t = *state;
	struct insole_sample smp[INSOLE_MAX_BATCH];
	const struct insole_link_info *info;
	uint8_t ntf[3 + INSOLE_DATA_HDR + INSOLE_SAMPLE_SIZE] = { 0x1b, 0x10 };
	int i;

	assert_int_equal(insole_link_connect(t->link), 0);
	assert_int_equal(insole_link_connect(t->link), -EALREADY);
	run(t, gc_discovery, N(gc_discovery));
	gc_send_desc(t, 16);
	run(t, gc_stream, N(gc_stream) - 1);
	assert_int_equal(t->n_ready, 0);	/* START's write unanswered */
	run(t, gc_stream + N(gc_stream) - 1, 1);
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(t->ready_err, 0);
	info = &t->info;
	assert_int_equal(info->profile, INSOLE_PROFILE_GAITCAP);
	assert_string_equal(info->decoder->name, "gaitcap-v1");
	assert_int_equal(info->mtu, 64);
	assert_int_equal(info->data_handle, 0x10);
	assert_int_equal(info->control_handle, 0x13);
	assert_string_equal(info->manufacturer, "Gaitcap");
	assert_string_equal(info->model, "GI-1?");	/* not printable */
	assert_string_equal(info->serial, "");		/* refused: optional */
	assert_string_equal(info->firmware, "1.0");
	assert_int_equal(info->battery_pct, 87);
	assert_false(info->has_rsc);
	assert_true(info->has_desc);
	assert_int_equal(info->desc.side, 1);
	assert_int_equal(info->desc.n_cells, 16);
	assert_int_equal(info->desc.cell[15].y_mm, 225);
	assert_true(info->sync.valid);
	assert_int_equal(info->sync.token, 0x004c4b41);
	assert_int_equal(info->sync.insole_us, 0x12345678);
	assert_int_equal(info->sync.host_tx_ns, 5 * SEC);
	assert_int_equal(t->n_err, 1);			/* the serial */

	/* A data notification reaches ops->data and decodes. */
	ntf[3] = INSOLE_DATA_VERSION;
	ntf[4] = 1;
	ble_put_le32(ntf + 3 + INSOLE_DATA_OFF_SEQ, 77);
	for (i = 0; i < INSOLE_CELLS; i++)
		ble_put_le16(ntf + 3 + INSOLE_DATA_HDR + 2 * i, (uint16_t)i);
	t->now = 9 * SEC;
	assert_int_equal(peer_send(t, ntf, sizeof(ntf)), 0);
	assert_int_equal(t->n_data, 1);
	assert_int_equal(t->data_rx, 9 * SEC);
	assert_int_equal(info->decoder->decode(t->data, t->data_len, smp,
					       INSOLE_MAX_BATCH), 1);
	assert_int_equal(smp[0].seq, 77);
	assert_int_equal(smp[0].cell[15], 15);

	assert_int_equal(insole_link_stop(t->link), 0);
	run(t, (struct pdu_step[]){
		TX(0x12, 0x13, 0x00, 0x02),
		RX(0x13),
		RX(0x1d, 0x13, 0x00, 0x80, 0x02, 0x00),
		TX(0x1e),
	}, 4);
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(insole_link_deadline(t->link), ATT_NO_DEADLINE);
	assert_quiet(t);
}

/* A description with other than 16 cells does not fit data v1. */
static void test_insole_connect_bad_desc(void **state)
{
	struct tctx *t = *state;

	assert_int_equal(insole_link_connect(t->link), 0);
	run(t, gc_discovery, N(gc_discovery));
	gc_send_desc(t, 15);
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(t->ready_err, -EBADMSG);
	assert_string_equal(t->info.failed_step, "read device description");
	assert_quiet(t);
}

/* A CCCD refused for lack of encryption: the caller learns it must pair. */
static void test_insole_connect_needs_encryption(void **state)
{
	struct tctx *t = *state;

	assert_int_equal(insole_link_connect(t->link), 0);
	run(t, gc_discovery, N(gc_discovery));
	gc_send_desc(t, 16);
	run(t, (struct pdu_step[]){
		TX(0x12, 0x14, 0x00, 0x02, 0x00),
		RX(0x01, 0x12, 0x14, 0x00, 0x0f),
	}, 2);
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(t->ready_err, -EPROTO);
	assert_int_equal(t->info.att_ecode, ATT_ECODE_ENCRYPTION);
	assert_string_equal(t->info.failed_step,
			    "enable control point indications");
	assert_quiet(t);
}

/* The control point answers with BUSY, then not at all. */
static void test_insole_control_point(void **state)
{
	struct tctx *t = *state;

	assert_int_equal(insole_link_connect(t->link), 0);
	run(t, gc_discovery, N(gc_discovery));
	gc_send_desc(t, 16);
	run(t, gc_stream, 6);
	/* The sync request is written; its answer is 5 s away at most. */
	assert_int_equal(insole_link_deadline(t->link), 10 * SEC);
	assert_int_equal(insole_link_tick(t->link, 10 * SEC - 1), 0);
	assert_int_equal(t->n_ready, 0);
	/* An answer to another request is not this one's. */
	run(t, (struct pdu_step[]){
		RX(0x1d, 0x13, 0x00, 0x80, 0x01, 0x03),
		TX(0x1e),
	}, 2);
	assert_int_equal(t->n_ready, 0);
	assert_int_equal(insole_link_tick(t->link, 10 * SEC), -ETIMEDOUT);
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(t->ready_err, -ETIMEDOUT);
	assert_string_equal(t->info.failed_step, "CLOCK_SYNC");
	assert_false(ble_att_dead(t->att));	/* ATT itself is fine */
	assert_quiet(t);
}

static void test_insole_control_point_refused(void **state)
{
	struct tctx *t = *state;

	assert_int_equal(insole_link_connect(t->link), 0);
	run(t, gc_discovery, N(gc_discovery));
	gc_send_desc(t, 16);
	run(t, gc_stream, 6);
	run(t, (struct pdu_step[]){
		RX(0x1d, 0x13, 0x00, 0x80, 0x04, 0x03),
		TX(0x1e),
	}, 2);
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(t->ready_err, -EBUSY);
	assert_int_equal(t->info.cp_status, INSOLE_CP_BUSY);
	assert_quiet(t);
}

/* ATT's 30 s in the middle of the sequence: the link fails once. */
static void test_insole_connect_att_timeout(void **state)
{
	struct tctx *t = *state;

	assert_int_equal(insole_link_connect(t->link), 0);
	run(t, gc_discovery, 3);
	assert_int_equal(insole_link_deadline(t->link), 35 * SEC);
	assert_int_equal(insole_link_tick(t->link, 35 * SEC), -ETIMEDOUT);
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(t->ready_err, -ETIMEDOUT);
	assert_string_equal(t->info.failed_step, "discovery");
	assert_int_equal(insole_link_input(t->link, B(0x1b, 0x10, 0x00), 3,
					   0), -ETIMEDOUT);
	assert_quiet(t);
}

/*
 * The commodity insole: RSC present, Exchange MTU answered, the data
 * characteristic notifies, START a Write Command on 0xFFF2.
 */
static const struct pdu_step fff0_seq[] = {
	TX(0x02, 0xf7, 0x00),
	RX(0x03, 0x40, 0x00),
	TX(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
	RX(0x11, 0x06, 0x01, 0x00, 0x03, 0x00, 0x14, 0x18,
	   0x04, 0x00, 0x09, 0x00, 0xf0, 0xff),
	TX(0x10, 0x0a, 0x00, 0xff, 0xff, 0x00, 0x28),
	RX(0x01, 0x10, 0x0a, 0x00, 0x0a),
	TX(0x08, 0x01, 0x00, 0x03, 0x00, 0x03, 0x28),
	RX(0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x54, 0x2a),
	TX(0x08, 0x03, 0x00, 0x03, 0x00, 0x03, 0x28),
	RX(0x01, 0x08, 0x03, 0x00, 0x0a),
	TX(0x08, 0x04, 0x00, 0x09, 0x00, 0x03, 0x28),
	RX(0x09, 0x07, 0x05, 0x00, 0x10, 0x06, 0x00, 0xf1, 0xff,
	   0x08, 0x00, 0x04, 0x09, 0x00, 0xf2, 0xff),
	TX(0x08, 0x09, 0x00, 0x09, 0x00, 0x03, 0x28),
	RX(0x01, 0x08, 0x09, 0x00, 0x0a),
	TX(0x04, 0x07, 0x00, 0x07, 0x00),
	RX(0x05, 0x01, 0x07, 0x00, 0x02, 0x29),
	TX(0x0a, 0x03, 0x00),
	RX(0x0b, 0x03, 0x00),
	TX(0x12, 0x07, 0x00, 0x01, 0x00),
	RX(0x13),
	TX(0x52, 0x09, 0x00, 0x01),
};

static void test_insole_connect_fff0(void **state)
{
	struct tctx *t = *state;
	struct insole_sample smp[2];
	uint8_t ntf[3 + 2 + 2 * 16] = { 0x1b, 0x06, 0x00, FFF0_MAGIC, 16 };

	assert_int_equal(insole_link_connect(t->link), 0);
	run(t, fff0_seq, N(fff0_seq));
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(t->ready_err, 0);
	assert_int_equal(t->info.profile, INSOLE_PROFILE_FFF0);
	assert_string_equal(t->info.decoder->name, "fff0");
	assert_int_equal(t->info.data_handle, 6);
	assert_int_equal(t->info.control_handle, 9);
	assert_true(t->info.has_rsc);
	assert_int_equal(t->info.rsc_features, 3);
	assert_int_equal(t->info.battery_pct, -1);
	assert_false(t->info.sync.valid);
	assert_false(t->info.has_desc);

	ble_put_le16(ntf + 5 + 2 * 15, 4000);
	assert_int_equal(peer_send(t, ntf, sizeof(ntf)), 0);
	assert_int_equal(t->n_data, 1);
	assert_int_equal(t->info.decoder->decode(t->data, t->data_len, smp, 2),
			 1);
	assert_false(smp[0].has_seq);
	assert_false(smp[0].has_clock);
	assert_int_equal(smp[0].cell[15], 4000);

	assert_int_equal(insole_link_stop(t->link), 0);
	run(t, (struct pdu_step[]){ TX(0x52, 0x09, 0x00, 0x00) }, 1);
	assert_int_equal(insole_link_deadline(t->link), ATT_NO_DEADLINE);
	assert_quiet(t);
}

/* Neither profile: the sequence says so after discovery. */
static void test_insole_connect_no_profile(void **state)
{
	struct tctx *t = *state;

	assert_int_equal(insole_link_connect(t->link), 0);
	run(t, (struct pdu_step[]){
		TX(0x02, 0xf7, 0x00),
		RX(0x01, 0x02, 0x00, 0x00, 0x06),	/* keeps 23 */
		TX(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
		RX(0x11, 0x06, 0x01, 0x00, 0xff, 0xff, 0x0f, 0x18),
		TX(0x08, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28),
		RX(0x01, 0x08, 0x01, 0x00, 0x0a),
	}, 6);
	assert_int_equal(t->n_ready, 1);
	assert_int_equal(t->ready_err, -ENODEV);
	assert_int_equal(t->info.mtu, 23);
	assert_int_equal(insole_link_stop(t->link), -EINVAL);
	assert_quiet(t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TL(f) cmocka_unit_test_setup_teardown(f, setup_link, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_att_mtu_exchange),
		T(test_att_mtu_floor),
		T(test_att_peer_mtu_request),
		T(test_att_peer_request_unsupported),
		T(test_att_peer_request_during_ours),
		T(test_att_send_error),
		T(test_att_notifications),
		T(test_att_indication_confirmed),
		T(test_att_error_response),
		T(test_att_one_outstanding),
		T(test_att_queue_limit),
		T(test_att_malformed),
		T(test_att_oversized),
		T(test_att_timeout),
		T(test_att_timeout_configurable),
		T(test_gatt_discover),
		T(test_gatt_discover_malformed),
		T(test_gatt_read_long),
		T(test_gatt_read_long_capped),
		T(test_gatt_write_cccd),
		TL(test_insole_connect_gaitcap),
		TL(test_insole_connect_bad_desc),
		TL(test_insole_connect_needs_encryption),
		TL(test_insole_control_point),
		TL(test_insole_control_point_refused),
		TL(test_insole_connect_att_timeout),
		TL(test_insole_connect_fff0),
		TL(test_insole_connect_no_profile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
