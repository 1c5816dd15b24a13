// SPDX-License-Identifier: GPL-2.0
/*
 * The ATT bearer: one outstanding request and a queue behind it (Core 5.3,
 * Vol 3, Part F, 3.3.2), the transaction timeout (3.3.3), notifications
 * routed to handlers, indications confirmed, and the server side kept to
 * what a client must answer: Exchange MTU, and Request Not Supported for
 * any other request. Commands are never answered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ble/att.h"

#define ATT_MAX_QUEUE	64
#define ATT_MAX_HANDLERS 16

struct att_req {
	struct att_req *next;
	ble_att_rsp_fn cb;
	void *user;
	uint64_t deadline;
	size_t len;
	uint8_t pdu[];
};

struct att_handler {
	uint16_t handle;
	ble_att_value_fn fn;
	void *user;
};

struct ble_att {
	int fd;
	struct ble_att_ops ops;
	void *user;
	uint16_t mtu, rx_mtu;
	uint64_t timeout;
	bool dead;
	struct att_req *pending;	/* sent, waiting for its response */
	struct att_req *head, *tail;	/* queued behind it */
	unsigned int queued;
	struct att_handler handlers[ATT_MAX_HANDLERS];
	unsigned int n_handlers;
	struct ble_att_stats stats;
};

static uint64_t att_now(struct ble_att *att)
{
	struct timespec ts;

	if (att->ops.now)
		return att->ops.now(att->user);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int att_send(struct ble_att *att, const uint8_t *pdu, size_t len)
{
	ssize_t n;
	int ret;

	if (att->ops.send) {
		ret = att->ops.send(att->user, pdu, len);
	} else {
		n = send(att->fd, pdu, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			ret = -errno;
		else
			ret = (size_t)n == len ? 0 : -EIO;
	}
	if (!ret)
		att->stats.tx_pdus++;
	return ret;
}

static int att_refuse(struct ble_att *att, int err, const char *what)
{
	att->stats.refused++;
	if (att->ops.error)
		att->ops.error(att->user, err, what);
	return err;
}

static void att_complete(struct att_req *req, int err, uint8_t ecode,
			 const uint8_t *pdu, size_t len)
{
	if (req->cb)
		req->cb(req->user, err, ecode, pdu, len);
	free(req);
}

/* Send queued requests until one is outstanding or the queue is empty. */
static void att_kick(struct ble_att *att)
{
	struct att_req *req;
	int ret;

	while (!att->pending && att->head && !att->dead) {
		req = att->head;
		att->head = req->next;
		if (!att->head)
			att->tail = NULL;
		att->queued--;
		req->next = NULL;
		/* Checked when queued, but a request may sit behind MTU. */
		if (req->len > att->mtu) {
			att_complete(req, -EMSGSIZE, 0, NULL, 0);
			continue;
		}
		ret = att_send(att, req->pdu, req->len);
		if (ret) {
			att_complete(req, ret, 0, NULL, 0);
			continue;
		}
		req->deadline = att_now(att) + att->timeout;
		att->pending = req;
	}
}

struct ble_att *ble_att_new(int fd, const struct ble_att_ops *ops, void *user)
{
	struct ble_att *att = calloc(1, sizeof(*att));

	if (!att)
		return NULL;
	att->fd = fd;
	if (ops)
		att->ops = *ops;
	att->user = user;
	att->mtu = ATT_DEFAULT_MTU;
	att->rx_mtu = 247;
	att->timeout = ATT_TIMEOUT_NS;
	return att;
}

static void att_fail_all(struct ble_att *att, int err)
{
	struct att_req *req;

	req = att->pending;
	att->pending = NULL;
	if (req)
		att_complete(req, err, 0, NULL, 0);
	while (att->head) {
		req = att->head;
		att->head = req->next;
		att->queued--;
		att_complete(req, err, 0, NULL, 0);
	}
	att->tail = NULL;
}

void ble_att_free(struct ble_att *att)
{
	if (!att)
		return;
	/* Callbacks must not queue again: a dead bearer refuses. */
	att->dead = true;
	att_fail_all(att, -ECANCELED);
	free(att);
}

int ble_att_set_rx_mtu(struct ble_att *att, uint16_t mtu)
{
	if (mtu < ATT_DEFAULT_MTU || mtu > ATT_MAX_MTU)
		return -EINVAL;
	att->rx_mtu = mtu;
	return 0;
}

void ble_att_set_timeout(struct ble_att *att, uint64_t ns)
{
	att->timeout = ns;
}

uint16_t ble_att_mtu(const struct ble_att *att)
{
	return att->mtu;
}

const struct ble_att_stats *ble_att_stats(const struct ble_att *att)
{
	return &att->stats;
}

bool ble_att_dead(const struct ble_att *att)
{
	return att->dead;
}

/* Opcodes whose answer is opcode + 1 and which a client may send. */
static bool att_is_client_request(uint8_t op)
{
	switch (op) {
	case ATT_OP_MTU_REQ:
	case ATT_OP_FIND_INFO_REQ:
	case 0x06:	/* Find By Type Value */
	case ATT_OP_READ_BY_TYPE_REQ:
	case ATT_OP_READ_REQ:
	case ATT_OP_READ_BLOB_REQ:
	case 0x0e:	/* Read Multiple */
	case ATT_OP_READ_BY_GRP_TYPE_REQ:
	case ATT_OP_WRITE_REQ:
	case 0x16:	/* Prepare Write */
	case 0x18:	/* Execute Write */
		return true;
	}
	return false;
}

int ble_att_request(struct ble_att *att, const uint8_t *pdu, size_t len,
		    ble_att_rsp_fn cb, void *user)
{
	struct att_req *req;

	if (att->dead)
		return -ETIMEDOUT;
	if (!len || !att_is_client_request(pdu[0]))
		return -EINVAL;
	if (len > att->mtu)
		return -EMSGSIZE;
	if (att->queued >= ATT_MAX_QUEUE)
		return -ENOBUFS;
	req = malloc(sizeof(*req) + len);
	if (!req)
		return -ENOMEM;
	req->next = NULL;
	req->cb = cb;
	req->user = user;
	req->deadline = ATT_NO_DEADLINE;
	req->len = len;
	memcpy(req->pdu, pdu, len);
	if (att->tail)
		att->tail->next = req;
	else
		att->head = req;
	att->tail = req;
	att->queued++;
	att_kick(att);
	return 0;
}

int ble_att_command(struct ble_att *att, const uint8_t *pdu, size_t len)
{
	if (att->dead)
		return -ETIMEDOUT;
	if (!len || !(pdu[0] & ATT_OP_CMD_FLAG))
		return -EINVAL;
	if (len > att->mtu)
		return -EMSGSIZE;
	return att_send(att, pdu, len);
}

int ble_att_exchange_mtu(struct ble_att *att, ble_att_rsp_fn cb, void *user)
{
	uint8_t pdu[3] = { ATT_OP_MTU_REQ };

	ble_put_le16(pdu + 1, att->rx_mtu);
	return ble_att_request(att, pdu, sizeof(pdu), cb, user);
}

int ble_att_on_value(struct ble_att *att, uint16_t handle,
		     ble_att_value_fn fn, void *user)
{
	unsigned int i;

	if (!handle)
		return -EINVAL;
	for (i = 0; i < att->n_handlers; i++) {
		if (att->handlers[i].handle != handle)
			continue;
		if (fn) {
			att->handlers[i].fn = fn;
			att->handlers[i].user = user;
		} else {
			att->handlers[i] = att->handlers[--att->n_handlers];
		}
		return 0;
	}
	if (!fn)
		return -ENOENT;
	if (att->n_handlers >= ATT_MAX_HANDLERS)
		return -ENOSPC;
	att->handlers[att->n_handlers++] =
		(struct att_handler){ handle, fn, user };
	return 0;
}

/* ATT_MTU is the smaller of the two receive MTUs, never below 23. */
static void att_set_mtu(struct ble_att *att, uint16_t peer)
{
	uint16_t mtu = peer < att->rx_mtu ? peer : att->rx_mtu;

	att->mtu = mtu < ATT_DEFAULT_MTU ? ATT_DEFAULT_MTU : mtu;
}

static int att_error_rsp(struct ble_att *att, uint8_t op, uint16_t handle,
			 uint8_t ecode)
{
	uint8_t pdu[5] = { ATT_OP_ERROR_RSP, op };

	ble_put_le16(pdu + 2, handle);
	pdu[4] = ecode;
	return att_send(att, pdu, sizeof(pdu));
}

/* What the peer asks of us as a server. */
static int att_peer_request(struct ble_att *att, const uint8_t *pdu,
			    size_t len)
{
	uint8_t rsp[3] = { ATT_OP_MTU_RSP };
	int ret;

	att->stats.peer_requests++;
	if (pdu[0] != ATT_OP_MTU_REQ)
		return att_error_rsp(att, pdu[0], 0, ATT_ECODE_REQ_NOT_SUPP);
	if (len != 3) {
		att_error_rsp(att, pdu[0], 0, ATT_ECODE_INVALID_PDU);
		return att_refuse(att, -EBADMSG, "malformed Exchange MTU Request");
	}
	ble_put_le16(rsp + 1, att->rx_mtu);
	/* Answer first: the new MTU applies after the response (3.4.2.2). */
	ret = att_send(att, rsp, sizeof(rsp));
	if (!ret)
		att_set_mtu(att, ble_get_le16(pdu + 1));
	return ret;
}

static int att_value(struct ble_att *att, const uint8_t *pdu, size_t len,
		     uint64_t rx_ns)
{
	bool ind = pdu[0] == ATT_OP_INDICATE;
	uint8_t confirm = ATT_OP_CONFIRM;
	uint16_t handle;
	unsigned int i;
	int ret = 0;

	if (len < 3)
		return att_refuse(att, -EBADMSG, ind ?
				  "indication shorter than its handle" :
				  "notification shorter than its handle");
	handle = ble_get_le16(pdu + 1);
	if (ind)
		att->stats.indications++;
	else
		att->stats.notifications++;
	/*
	 * Confirmed before the handler runs, even when nobody listens: the
	 * peer waits for it, and requests the handler sends come after.
	 */
	if (ind)
		ret = att_send(att, &confirm, 1);
	for (i = 0; i < att->n_handlers; i++)
		if (att->handlers[i].handle == handle)
			break;
	if (i < att->n_handlers)
		att->handlers[i].fn(att->handlers[i].user, handle, pdu + 3,
				    len - 3, ind, rx_ns);
	else if (att->ops.value)
		att->ops.value(att->user, handle, pdu + 3, len - 3, ind, rx_ns);
	return ret;
}

static int att_response(struct ble_att *att, const uint8_t *pdu, size_t len)
{
	struct att_req *req = att->pending;
	uint8_t op = pdu[0];

	if (!req)
		return att_refuse(att, -EPROTO, "response without a request");
	if (op == ATT_OP_ERROR_RSP) {
		if (len != 5) {
			att->pending = NULL;
			att_complete(req, -EBADMSG, 0, pdu, len);
			att_kick(att);
			return att_refuse(att, -EBADMSG,
					  "malformed Error Response");
		}
		if (pdu[1] != req->pdu[0])
			return att_refuse(att, -EPROTO,
					  "Error Response for another request");
		att->pending = NULL;
		att_complete(req, -EPROTO, pdu[4], pdu, len);
		att_kick(att);
		return 0;
	}
	if (op != req->pdu[0] + 1)
		return att_refuse(att, -EPROTO,
				  "response does not match the request");
	att->pending = NULL;
	if (op == ATT_OP_MTU_RSP) {
		if (len != 3) {
			att_complete(req, -EBADMSG, 0, pdu, len);
			att_kick(att);
			return att_refuse(att, -EBADMSG,
					  "malformed Exchange MTU Response");
		}
		att_set_mtu(att, ble_get_le16(pdu + 1));
	}
	att_complete(req, 0, 0, pdu, len);
	att_kick(att);
	return 0;
}

int ble_att_input(struct ble_att *att, const uint8_t *pdu, size_t len,
		  uint64_t rx_ns)
{
	struct att_req *req;
	uint8_t op;

	if (att->dead)
		return -ETIMEDOUT;
	if (!len)
		return att_refuse(att, -EBADMSG, "empty PDU");
	att->stats.rx_pdus++;
	op = pdu[0];
	if (len > att->mtu) {
		/* A too long answer still ends its transaction. */
		req = att->pending;
		if (req && (op == req->pdu[0] + 1 || op == ATT_OP_ERROR_RSP)) {
			att->pending = NULL;
			att_complete(req, -EMSGSIZE, 0, NULL, 0);
			att_kick(att);
		}
		return att_refuse(att, -EMSGSIZE, "PDU larger than ATT_MTU");
	}
	switch (op) {
	case ATT_OP_NOTIFY:
	case ATT_OP_INDICATE:
		return att_value(att, pdu, len, rx_ns);
	case ATT_OP_CONFIRM:
		return att_refuse(att, -EPROTO,
				  "confirmation without an indication");
	case 0x23:	/* Multiple Handle Value Notification: not enabled */
		return att_refuse(att, -EPROTO,
				  "unsupported multiple-value notification");
	}
	if (op == ATT_OP_ERROR_RSP || (op & 1 && att_is_client_request(op - 1)))
		return att_response(att, pdu, len);
	if (op & ATT_OP_CMD_FLAG)
		return 0;	/* a command: never answered (3.3) */
	return att_peer_request(att, pdu, len);
}

uint64_t ble_att_deadline(const struct ble_att *att)
{
	if (att->dead || !att->pending)
		return ATT_NO_DEADLINE;
	return att->pending->deadline;
}

int ble_att_tick(struct ble_att *att, uint64_t now_ns)
{
	if (att->dead)
		return -ETIMEDOUT;
	if (!att->pending || now_ns < att->pending->deadline)
		return 0;
	/* 3.3.3: no further ATT PDUs on this bearer after a timeout. */
	att->dead = true;
	att_fail_all(att, -ETIMEDOUT);
	att_refuse(att, -ETIMEDOUT, "ATT transaction timed out");
	return -ETIMEDOUT;
}
