// SPDX-License-Identifier: GPL-2.0
/*
 * A minimal insole peripheral: a GATT server over a fixed attribute table
 * (Core 5.3, Vol 3, Part F and G, the requests a client's discovery and
 * reads use) and the gaitcap profile's control point and notifications.
 * Written apart from the client (userspace/ble/) so that each checks the
 * other; docs/protocols/insole-gatt.md has the profile.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ble/insole_gatt.h"
#include "ble_peer.h"

#define OP_ERROR		0x01
#define OP_MTU_REQ		0x02
#define OP_MTU_RSP		0x03
#define OP_FIND_INFO_REQ	0x04
#define OP_FIND_INFO_RSP	0x05
#define OP_READ_TYPE_REQ	0x08
#define OP_READ_TYPE_RSP	0x09
#define OP_READ_REQ		0x0a
#define OP_READ_RSP		0x0b
#define OP_BLOB_REQ		0x0c
#define OP_BLOB_RSP		0x0d
#define OP_READ_GROUP_REQ	0x10
#define OP_READ_GROUP_RSP	0x11
#define OP_WRITE_REQ		0x12
#define OP_WRITE_RSP		0x13
#define OP_NOTIFY		0x1b
#define OP_INDICATE		0x1d
#define OP_CONFIRM		0x1e
#define OP_WRITE_CMD		0x52

#define E_INVALID_HANDLE	0x01
#define E_INVALID_PDU		0x04
#define E_REQ_NOT_SUPP		0x06
#define E_INVALID_OFFSET	0x07
#define E_NOT_FOUND		0x0a

#define SERVER_MTU		247

struct attr {
	uint16_t handle;
	uint8_t type_len;	/* 2 or 16 */
	uint8_t type[16];
	uint8_t len;
	uint8_t val[128];
};

static struct attr table[24];
static unsigned int n_attr;

static const uint8_t u128_svc[16] = INSOLE_UUID128(INSOLE_SVC);
static const uint8_t u128_data[16] = INSOLE_UUID128(INSOLE_CHR_DATA);
static const uint8_t u128_cp[16] = INSOLE_UUID128(INSOLE_CHR_CONTROL);
static const uint8_t u128_info[16] = INSOLE_UUID128(INSOLE_CHR_INFO);

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static struct attr *add(uint16_t type16, const uint8_t *type128,
			const void *val, size_t len)
{
	struct attr *a = &table[n_attr];

	memset(a, 0, sizeof(*a));
	a->handle = (uint16_t)(++n_attr);
	if (type128) {
		a->type_len = 16;
		memcpy(a->type, type128, 16);
	} else {
		a->type_len = 2;
		put16(a->type, type16);
	}
	a->len = (uint8_t)len;
	memcpy(a->val, val, len);
	return a;
}

static void service16(uint16_t uuid)
{
	uint8_t v[2];

	put16(v, uuid);
	add(0x2800, NULL, v, 2);
}

/* A characteristic: declaration, value; returns the value attribute. */
static struct attr *chr(uint8_t props, uint16_t uuid16, const uint8_t *u128,
			const void *val, size_t len)
{
	uint8_t d[19];
	size_t dl = 3;

	d[0] = props;
	put16(d + 1, (uint16_t)(n_attr + 2));
	if (u128) {
		memcpy(d + 3, u128, 16);
		dl += 16;
	} else {
		put16(d + 3, uuid16);
		dl += 2;
	}
	add(0x2803, NULL, d, dl);
	return add(uuid16, u128, val, len);
}

static void build_table(uint8_t side)
{
	uint8_t desc[INSOLE_INFO_HDR + INSOLE_INFO_CELL * INSOLE_CELLS] = { 0 };
	const float scale[3] = { 0.25f, 0.001f, 0.061f };
	uint8_t zero2[2] = { 0 }, batt = 87;

	n_attr = 0;
	service16(GATT_SVC_DEVICE_INFO);			/* 1 */
	chr(0x02, GATT_CHR_MANUFACTURER, NULL, "Gaitcap", 7);	/* 2, 3 */
	chr(0x02, GATT_CHR_MODEL_NUMBER, NULL, "GI T1 (test)", 12);	/* 4, 5 */
	chr(0x02, GATT_CHR_SERIAL_NUMBER, NULL, side ? "TR-0002" : "TL-0001", 7);
	chr(0x02, GATT_CHR_FIRMWARE_REV, NULL, "0.9", 3);	/* 8, 9 */
	service16(GATT_SVC_BATTERY);				/* 10 */
	chr(0x02, GATT_CHR_BATTERY_LEVEL, NULL, &batt, 1);	/* 11, 12 */
	add(0x2800, NULL, u128_svc, 16);			/* 13 */
	chr(0x10, 0, u128_data, "", 0);				/* 14, 15 */
	add(0x2902, NULL, zero2, 2);				/* 16 */
	chr(0x28, 0, u128_cp, "", 0);				/* 17, 18 */
	add(0x2902, NULL, zero2, 2);				/* 19 */
	desc[0] = INSOLE_INFO_VERSION;
	desc[1] = side;
	desc[2] = INSOLE_CELLS;
	desc[3] = 3;
	put16(desc + 4, 100);
	put16(desc + 6, INSOLE_MAX_BATCH);
	put16(desc + 8, 4095);
	memcpy(desc + 12, scale, sizeof(scale));	/* f32, little-endian hosts */
	for (unsigned int i = 0; i < INSOLE_CELLS; i++) {
		put16(desc + 24 + 6 * i, (uint16_t)(int16_t)((int)(i % 4) * 20 - 30));
		put16(desc + 26 + 6 * i, (uint16_t)(i / 4 * 60 + 20));
		put16(desc + 28 + 6 * i, 300);
	}
	chr(0x02, 0, u128_info, desc, sizeof(desc));		/* 20, 21 */
}

void ble_peer_init(struct ble_peer *p, int fd, uint8_t side)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->mtu = 23;
	p->side = side;
	p->batch = 2;
	p->period_us = 10000;
	p->t_us = 5000000;
	build_table(side);
}

static int send_pdu(struct ble_peer *p, const uint8_t *pdu, size_t len)
{
	if (send(p->fd, pdu, len, MSG_NOSIGNAL) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

static int error_rsp(struct ble_peer *p, uint8_t req, uint16_t h, uint8_t ec)
{
	uint8_t e[5] = { OP_ERROR, req };

	put16(e + 2, h);
	e[4] = ec;
	return send_pdu(p, e, sizeof(e));
}

static struct attr *find(uint16_t h)
{
	return h && h <= n_attr ? &table[h - 1] : NULL;
}

static bool is_type16(const struct attr *a, uint16_t t)
{
	return a->type_len == 2 && get16(a->type) == t;
}

static int read_group(struct ble_peer *p, const uint8_t *q, size_t len)
{
	uint16_t start = get16(q + 1), end = get16(q + 3);
	uint8_t r[SERVER_MTU] = { OP_READ_GROUP_RSP };
	size_t off = 2, ent = 0;

	if (len != 7 || get16(q + 5) != 0x2800)
		return error_rsp(p, q[0], start, E_REQ_NOT_SUPP);
	for (unsigned int i = 0; i < n_attr; i++) {
		struct attr *a = &table[i];
		uint16_t gend = 0xffff;

		if (a->handle < start || a->handle > end || !is_type16(a, 0x2800))
			continue;
		for (unsigned int k = i + 1; k < n_attr; k++)
			if (is_type16(&table[k], 0x2800)) {
				gend = (uint16_t)(table[k].handle - 1);
				break;
			}
		if (!ent)
			ent = 4 + a->len;
		if (ent != 4u + a->len || off + ent > p->mtu)
			break;
		put16(r + off, a->handle);
		put16(r + off + 2, gend);
		memcpy(r + off + 4, a->val, a->len);
		off += ent;
	}
	if (!ent)
		return error_rsp(p, q[0], start, E_NOT_FOUND);
	r[1] = (uint8_t)ent;
	return send_pdu(p, r, off);
}

static int read_type(struct ble_peer *p, const uint8_t *q, size_t len)
{
	uint16_t start = get16(q + 1), end = get16(q + 3);
	uint8_t r[SERVER_MTU] = { OP_READ_TYPE_RSP };
	size_t off = 2, ent = 0, tl = len - 5;

	if (tl != 2 && tl != 16)
		return error_rsp(p, q[0], start, E_INVALID_PDU);
	for (unsigned int i = 0; i < n_attr; i++) {
		struct attr *a = &table[i];
		size_t vl = a->len;

		if (a->handle < start || a->handle > end || a->type_len != tl ||
		    memcmp(a->type, q + 5, tl))
			continue;
		if (vl > p->mtu - 4u)
			vl = p->mtu - 4u;
		if (!ent)
			ent = 2 + vl;
		if (ent != 2 + vl || off + ent > p->mtu)
			break;
		put16(r + off, a->handle);
		memcpy(r + off + 2, a->val, vl);
		off += ent;
	}
	if (!ent)
		return error_rsp(p, q[0], start, E_NOT_FOUND);
	r[1] = (uint8_t)ent;
	return send_pdu(p, r, off);
}

static int find_info(struct ble_peer *p, const uint8_t *q, size_t len)
{
	uint16_t start = get16(q + 1), end = get16(q + 3);
	uint8_t r[SERVER_MTU] = { OP_FIND_INFO_RSP };
	size_t off = 2, tl = 0;

	if (len != 5)
		return error_rsp(p, q[0], start, E_INVALID_PDU);
	for (unsigned int i = 0; i < n_attr; i++) {
		struct attr *a = &table[i];

		if (a->handle < start || a->handle > end)
			continue;
		if (!tl)
			tl = a->type_len;
		if (a->type_len != tl || off + 2 + tl > p->mtu)
			break;
		put16(r + off, a->handle);
		memcpy(r + off + 2, a->type, tl);
		off += 2 + tl;
	}
	if (!tl)
		return error_rsp(p, q[0], start, E_NOT_FOUND);
	r[1] = tl == 2 ? 1 : 2;
	return send_pdu(p, r, off);
}

static int read_value(struct ble_peer *p, const uint8_t *q, size_t len)
{
	uint8_t r[SERVER_MTU];
	uint16_t h = get16(q + 1), off = 0;
	struct attr *a = find(h);
	size_t n;

	if (len != (q[0] == OP_BLOB_REQ ? 5u : 3u))
		return error_rsp(p, q[0], h, E_INVALID_PDU);
	if (!a)
		return error_rsp(p, q[0], h, E_INVALID_HANDLE);
	if (q[0] == OP_BLOB_REQ)
		off = get16(q + 3);
	if (off > a->len)
		return error_rsp(p, q[0], h, E_INVALID_OFFSET);
	n = a->len - off;
	if (n > p->mtu - 1u)
		n = p->mtu - 1u;
	r[0] = q[0] == OP_BLOB_REQ ? OP_BLOB_RSP : OP_READ_RSP;
	memcpy(r + 1, a->val + off, n);
	return send_pdu(p, r, n + 1);
}

/* The control point: the write's response, then the answer indicated. */
static int control(struct ble_peer *p, const uint8_t *v, size_t n, bool rsp)
{
	uint8_t ind[16] = { OP_INDICATE };
	uint8_t w = OP_WRITE_RSP;
	size_t il = 6;
	int ret;

	if (rsp && (ret = send_pdu(p, &w, 1)))
		return ret;
	if (!n)
		return 0;
	put16(ind + 1, 18);
	ind[3] = INSOLE_CP_RESPONSE;
	ind[4] = v[0];
	ind[5] = INSOLE_CP_OK;
	switch (v[0]) {
	case INSOLE_CP_START:
		p->streaming = true;
		p->starts++;
		break;
	case INSOLE_CP_STOP:
		p->streaming = false;
		break;
	case INSOLE_CP_CLOCK_SYNC:
		if (n < 5) {
			ind[5] = INSOLE_CP_INVALID;
			break;
		}
		memcpy(ind + 6, v + 1, 4);
		put32(ind + 10, p->t_us);
		il = 14;
		break;
	case INSOLE_CP_SET_RATE:
		break;
	default:
		ind[5] = INSOLE_CP_UNSUPPORTED;
	}
	return p->indicate_on ? send_pdu(p, ind, il) : 0;
}

static int write_value(struct ble_peer *p, const uint8_t *q, size_t len)
{
	bool rsp = q[0] == OP_WRITE_REQ;
	uint16_t h = len >= 3 ? get16(q + 1) : 0;
	struct attr *a = find(h);
	uint8_t w = OP_WRITE_RSP;

	if (!a || len < 3)
		return rsp ? error_rsp(p, q[0], h, E_INVALID_HANDLE) : 0;
	if (h == 16 || h == 19) {
		if (len != 5)
			return rsp ? error_rsp(p, q[0], h, E_INVALID_PDU) : 0;
		memcpy(a->val, q + 3, 2);
		if (h == 16)
			p->notify_on = q[3] & 1;
		else
			p->indicate_on = q[3] & 2;
		return rsp ? send_pdu(p, &w, 1) : 0;
	}
	if (h == 18)
		return control(p, q + 3, len - 3, rsp);
	return rsp ? error_rsp(p, q[0], h, 0x03) : 0;	/* not writable */
}

int ble_peer_handle(struct ble_peer *p, const uint8_t *q, size_t len)
{
	uint8_t r[3];

	if (!len)
		return 0;
	p->requests++;
	switch (q[0]) {
	case OP_MTU_REQ:
		if (len != 3)
			return error_rsp(p, q[0], 0, E_INVALID_PDU);
		p->mtu = get16(q + 1) < SERVER_MTU ? get16(q + 1) : SERVER_MTU;
		if (p->mtu < 23)
			p->mtu = 23;
		r[0] = OP_MTU_RSP;
		put16(r + 1, SERVER_MTU);
		return send_pdu(p, r, 3);
	case OP_READ_GROUP_REQ:
		return read_group(p, q, len);
	case OP_READ_TYPE_REQ:
		return read_type(p, q, len);
	case OP_FIND_INFO_REQ:
		return find_info(p, q, len);
	case OP_READ_REQ:
	case OP_BLOB_REQ:
		return read_value(p, q, len);
	case OP_WRITE_REQ:
	case OP_WRITE_CMD:
		return write_value(p, q, len);
	case OP_CONFIRM:
		return 0;
	}
	if (q[0] & 0x40)
		return 0;		/* a command: never answered */
	return error_rsp(p, q[0], 0, E_REQ_NOT_SUPP);
}

int ble_peer_serve(struct ble_peer *p, int ms)
{
	struct pollfd pf = { .fd = p->fd, .events = POLLIN };
	uint8_t buf[600];
	ssize_t n;
	int ret;

	for (;;) {
		ret = poll(&pf, 1, ms);
		if (ret < 0)
			return -errno;
		if (!ret)
			return 0;
		n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (!n)
			return -ENOTCONN;
		ret = ble_peer_handle(p, buf, (size_t)n);
		if (ret)
			return ret;
		ms = 0;		/* what is already there, then return */
	}
}

size_t ble_peer_data_pdu(const struct ble_peer *p, uint8_t *pdu,
			 uint32_t counter, uint32_t t_us, uint16_t flags)
{
	uint8_t *v = pdu + 3;

	pdu[0] = OP_NOTIFY;
	put16(pdu + 1, BP_DATA_HANDLE);
	v[INSOLE_DATA_OFF_VERSION] = INSOLE_DATA_VERSION;
	v[INSOLE_DATA_OFF_N] = (uint8_t)p->batch;
	put16(v + INSOLE_DATA_OFF_FLAGS, flags);
	put32(v + INSOLE_DATA_OFF_SEQ, counter);
	put32(v + INSOLE_DATA_OFF_T_US, t_us);
	put16(v + INSOLE_DATA_OFF_PERIOD, (uint16_t)p->period_us);
	for (unsigned int s = 0; s < p->batch; s++) {
		uint8_t *smp = v + INSOLE_DATA_HDR + s * INSOLE_SAMPLE_SIZE;

		for (unsigned int c = 0; c < INSOLE_CELLS; c++)
			put16(smp + 2 * c, (uint16_t)((counter + s) * 7 + c));
		memset(smp + 2 * INSOLE_CELLS, 0, 12);
	}
	return 3 + INSOLE_DATA_HDR + p->batch * INSOLE_SAMPLE_SIZE;
}

long ble_peer_notify(struct ble_peer *p, bool skip)
{
	uint8_t pdu[SERVER_MTU];
	uint32_t first = p->counter;
	size_t len;
	int ret;

	len = ble_peer_data_pdu(p, pdu, p->counter, p->t_us,
				p->starts == 1 && !p->counter ? INSOLE_DATA_F_RESTART : 0);
	p->counter += p->batch;
	p->t_us += p->batch * p->period_us;
	if (skip)
		return first;
	ret = send_pdu(p, pdu, len);
	return ret ? ret : (long)first;
}
