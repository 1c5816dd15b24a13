/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A Bluetooth ATT bearer engine (Core 5.3, Vol 3, Part F) on a plain file
 * descriptor. It never reads: the caller receives each PDU (from an
 * io_uring recvmsg, a test's socketpair, a fuzzer) and hands it over with
 * ble_att_input(); it asks ble_att_deadline() when to call ble_att_tick().
 * Nothing blocks. docs/protocols/insole-gatt.md lists the subset spoken.
 *
 * Times are nanoseconds in the caller's clock: ops->now (CLOCK_MONOTONIC if
 * NULL) stamps requests as they go out, ble_att_tick() takes the same clock.
 */
#ifndef BLE_ATT_H
#define BLE_ATT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes (Vol 3, Part F, 3.4.8). */
#define ATT_OP_ERROR_RSP		0x01
#define ATT_OP_MTU_REQ			0x02
#define ATT_OP_MTU_RSP			0x03
#define ATT_OP_FIND_INFO_REQ		0x04
#define ATT_OP_FIND_INFO_RSP		0x05
#define ATT_OP_READ_BY_TYPE_REQ		0x08
#define ATT_OP_READ_BY_TYPE_RSP		0x09
#define ATT_OP_READ_REQ			0x0a
#define ATT_OP_READ_RSP			0x0b
#define ATT_OP_READ_BLOB_REQ		0x0c
#define ATT_OP_READ_BLOB_RSP		0x0d
#define ATT_OP_READ_BY_GRP_TYPE_REQ	0x10
#define ATT_OP_READ_BY_GRP_TYPE_RSP	0x11
#define ATT_OP_WRITE_REQ		0x12
#define ATT_OP_WRITE_RSP		0x13
#define ATT_OP_NOTIFY			0x1b
#define ATT_OP_INDICATE			0x1d
#define ATT_OP_CONFIRM			0x1e
#define ATT_OP_WRITE_CMD		0x52
#define ATT_OP_CMD_FLAG			0x40	/* never answered */

/* Error codes (3.4.1.1). */
#define ATT_ECODE_INVALID_HANDLE	0x01
#define ATT_ECODE_READ_NOT_PERMITTED	0x02
#define ATT_ECODE_WRITE_NOT_PERMITTED	0x03
#define ATT_ECODE_INVALID_PDU		0x04
#define ATT_ECODE_AUTHENTICATION	0x05
#define ATT_ECODE_REQ_NOT_SUPP		0x06
#define ATT_ECODE_INVALID_OFFSET	0x07
#define ATT_ECODE_ATTR_NOT_FOUND	0x0a
#define ATT_ECODE_ATTR_NOT_LONG		0x0b
#define ATT_ECODE_UNLIKELY		0x0e
#define ATT_ECODE_ENCRYPTION		0x0f

#define ATT_DEFAULT_MTU			23	/* LE minimum */
#define ATT_MAX_MTU			517	/* largest PDU accepted */
#define ATT_MAX_VALUE			512	/* longest attribute value */
#define ATT_TIMEOUT_NS			(30ULL * 1000000000ULL) /* 3.3.3 */
#define ATT_NO_DEADLINE			UINT64_MAX

struct ble_att;

/*
 * A request's outcome. err 0: @pdu is the response (opcode first).
 * -EPROTO: the peer sent an Error Response, @ecode is its code.
 * -ETIMEDOUT: no answer within the transaction timeout (the bearer is then
 * dead, 3.3.3). -EBADMSG / -EMSGSIZE: the response was malformed or
 * larger than the MTU. -ECANCELED: the engine was freed first.
 */
typedef void (*ble_att_rsp_fn)(void *user, int err, uint8_t ecode,
			       const uint8_t *pdu, size_t len);

/* A notification or indication value (an indication is confirmed first). */
typedef void (*ble_att_value_fn)(void *user, uint16_t handle,
				 const uint8_t *val, size_t len, bool indication,
				 uint64_t rx_ns);

struct ble_att_ops {
	/* Send one PDU: 0 or -errno. NULL: send(2) on the fd, not blocking. */
	int (*send)(void *user, const uint8_t *pdu, size_t len);
	/* The clock for deadlines. NULL: CLOCK_MONOTONIC. */
	uint64_t (*now)(void *user);
	/* Values no handler registered for (may be NULL). */
	ble_att_value_fn value;
	/* A PDU refused or a peer misbehaving, outside any request. */
	void (*error)(void *user, int err, const char *what);
};

struct ble_att_stats {
	uint64_t rx_pdus, tx_pdus;
	uint64_t notifications, indications;
	uint64_t refused;		/* malformed, oversized, unexpected */
	uint64_t peer_requests;		/* answered, MTU or Error Response */
};

/* @ops is copied; @fd is only used when ops->send is NULL (not closed). */
struct ble_att *ble_att_new(int fd, const struct ble_att_ops *ops,
			    void *user);
/* Pending and queued requests complete with -ECANCELED first. */
void ble_att_free(struct ble_att *att);

/* Our receive MTU, offered in the exchange (23..517, default 247). */
int ble_att_set_rx_mtu(struct ble_att *att, uint16_t mtu);
/* The transaction timeout (default ATT_TIMEOUT_NS). */
void ble_att_set_timeout(struct ble_att *att, uint64_t ns);
/* The ATT_MTU in force (23 until an exchange). */
uint16_t ble_att_mtu(const struct ble_att *att);
const struct ble_att_stats *ble_att_stats(const struct ble_att *att);
/* True once a transaction timed out: disconnect, the bearer is unusable. */
bool ble_att_dead(const struct ble_att *att);

/*
 * Queue a request PDU (opcode first, at most ATT_MTU bytes). Requests go
 * out one at a time (3.3.2); @cb runs once with the outcome. Returns 0 or
 * -errno (-EINVAL for a command or a too long PDU, -ENOBUFS when the queue
 * is full, -ETIMEDOUT on a dead bearer).
 */
int ble_att_request(struct ble_att *att, const uint8_t *pdu, size_t len,
		    ble_att_rsp_fn cb, void *user);
/* Send a command (e.g. Write Command) now: 0 or -errno. */
int ble_att_command(struct ble_att *att, const uint8_t *pdu, size_t len);
/* Exchange MTU (client side): queued like any request. */
int ble_att_exchange_mtu(struct ble_att *att, ble_att_rsp_fn cb, void *user);

/* Route values of @handle to @fn (one handler per handle; NULL removes). */
int ble_att_on_value(struct ble_att *att, uint16_t handle,
		     ble_att_value_fn fn, void *user);

/*
 * One received PDU and its receive time (passed to value handlers).
 * Returns 0 when handled, -errno when refused (also reported through
 * ops->error); a refusal never breaks the bearer. -ETIMEDOUT once dead.
 */
int ble_att_input(struct ble_att *att, const uint8_t *pdu, size_t len,
		  uint64_t rx_ns);
/* When ble_att_tick() must run next; ATT_NO_DEADLINE when idle. */
uint64_t ble_att_deadline(const struct ble_att *att);
/* Expire the transaction if its deadline passed: 0 or -ETIMEDOUT. */
int ble_att_tick(struct ble_att *att, uint64_t now_ns);

/* Little-endian helpers shared by the GATT layer and the decoders. */
static inline uint16_t ble_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t ble_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void ble_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static inline void ble_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

#endif /* BLE_ATT_H */
