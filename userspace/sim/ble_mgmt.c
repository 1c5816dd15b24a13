// SPDX-License-Identifier: GPL-2.0
/* Bluetooth management commands of the insole simulator (BlueZ mgmt-api). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>

#include "ble_mgmt.h"

#define MGMT_OP_READ_INFO		0x0004
#define MGMT_OP_SET_POWERED		0x0005
#define MGMT_OP_SET_LE			0x000d
#define MGMT_OP_SET_BONDABLE		0x0009
#define MGMT_OP_DISCONNECT		0x0014
#define MGMT_OP_SET_IO_CAPABILITY	0x0018
#define MGMT_OP_USER_CONFIRM_REPLY	0x001c
#define MGMT_OP_START_DISCOVERY		0x0023
#define MGMT_OP_STOP_DISCOVERY		0x0024
#define MGMT_OP_ADD_ADVERTISING		0x003e
#define MGMT_OP_REMOVE_ADVERTISING	0x003f
#define MGMT_EV_CMD_COMPLETE		0x0001
#define MGMT_EV_CMD_STATUS		0x0002
#define MGMT_ADV_CONNECTABLE		(1u << 0)
#define MGMT_ADV_DISCOVERABLE		(1u << 1)
#define MGMT_REPLY_TIMEOUT_MS		5000
/*
 * Room for any event: a Device Found carries advertising data and scan
 * response, up to 251 bytes each with extended advertising.
 */
#define MGMT_MAX_MSG			2048

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

int ble_mgmt_open(struct ble_mgmt *m, uint16_t index)
{
	struct sockaddr_hci a = {
		.hci_family = AF_BLUETOOTH,
		.hci_dev = HCI_DEV_NONE,
		.hci_channel = HCI_CHANNEL_CONTROL,
	};

	m->index = index;
	m->fd = socket(PF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       BTPROTO_HCI);
	if (m->fd < 0)
		return -errno;
	if (bind(m->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int rc = -errno;

		close(m->fd);
		m->fd = -1;
		return rc;
	}
	return 0;
}

void ble_mgmt_close(struct ble_mgmt *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

/* One event; returns its code and fills @p (@len in/out), or -errno. */
static int read_event(struct ble_mgmt *m, uint8_t *p, size_t *len, int wait_ms)
{
	uint8_t buf[6 + MGMT_MAX_MSG];
	struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
	ssize_t n;
	size_t plen;

	if (wait_ms && poll(&pfd, 1, wait_ms) <= 0)
		return -ETIMEDOUT;
	n = read(m->fd, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (n < 6 || (size_t)n < 6u + get16(buf + 4))
		return -EBADMSG;
	plen = get16(buf + 4);
	if (get16(buf + 2) != m->index && get16(buf) > MGMT_EV_CMD_STATUS) {
		*len = 0;
		return 0;	/* another controller's news */
	}
	if (plen > *len)
		plen = *len;
	memcpy(p, buf + 6, plen);
	*len = plen;
	return get16(buf);
}

/* Send a command and wait for its reply; @rsp gets the return parameters. */
static int command(struct ble_mgmt *m, uint16_t op, const void *param,
		   size_t plen, uint8_t *rsp, size_t *rsp_len)
{
	uint8_t buf[6 + 512], ev[MGMT_MAX_MSG];
	int code;

	put16(buf, op);
	put16(buf + 2, m->index);
	put16(buf + 4, plen);
	if (plen)
		memcpy(buf + 6, param, plen);
	/*
	 * A command refused before it ran (no such index, no permission)
	 * "writes" 0 bytes: its Command Status is queued all the same.
	 */
	if (write(m->fd, buf, 6 + plen) < 0)
		return -errno;
	for (;;) {
		size_t len = sizeof(ev);

		code = read_event(m, ev, &len, MGMT_REPLY_TIMEOUT_MS);
		if (code == -EBADMSG)
			continue;
		if (code < 0)
			return code;
		if ((code == MGMT_EV_CMD_COMPLETE ||
		     code == MGMT_EV_CMD_STATUS) && len >= 3 &&
		    get16(ev) == op) {
			m->status = ev[2];
			if (ev[2])
				return -EPROTO;
			if (rsp && rsp_len) {
				len -= 3;
				if (len > *rsp_len)
					len = *rsp_len;
				memcpy(rsp, ev + 3, len);
				*rsp_len = len;
			}
			return 0;
		}
		if (code > MGMT_EV_CMD_STATUS && m->on_event)
			m->on_event(m->ctx, code, ev, len);
	}
}

int ble_mgmt_setup(struct ble_mgmt *m, uint8_t addr[6])
{
	uint8_t on = 1, info[280];
	size_t len = sizeof(info);
	int rc;

	/* An LE-only controller may refuse Set LE: it is on anyway. */
	command(m, MGMT_OP_SET_LE, &on, 1, NULL, NULL);
	rc = command(m, MGMT_OP_SET_POWERED, &on, 1, NULL, NULL);
	if (rc)
		return rc;
	rc = command(m, MGMT_OP_READ_INFO, NULL, 0, info, &len);
	if (rc)
		return rc;
	if (len < 6)
		return -EBADMSG;
	memcpy(addr, info, 6);
	return 0;
}

int ble_mgmt_advertise(struct ble_mgmt *m, const uint8_t *adv, size_t adv_len,
		       const uint8_t *scan_rsp, size_t rsp_len)
{
	uint8_t p[11 + 62];
	uint8_t rsp[1];
	size_t rlen = sizeof(rsp);
	uint32_t flags = MGMT_ADV_CONNECTABLE | MGMT_ADV_DISCOVERABLE;

	if (adv_len > 31 || rsp_len > 31)
		return -EINVAL;
	p[0] = 1;			/* instance */
	put16(p + 1, flags & 0xffff);
	put16(p + 3, flags >> 16);
	put16(p + 5, 0);		/* duration: default */
	put16(p + 7, 0);		/* timeout: none */
	p[9] = adv_len;
	p[10] = rsp_len;
	memcpy(p + 11, adv, adv_len);
	memcpy(p + 11 + adv_len, scan_rsp, rsp_len);
	return command(m, MGMT_OP_ADD_ADVERTISING, p, 11 + adv_len + rsp_len,
		       rsp, &rlen);
}

int ble_mgmt_stop_advertising(struct ble_mgmt *m)
{
	uint8_t inst = 1;

	return command(m, MGMT_OP_REMOVE_ADVERTISING, &inst, 1, NULL, NULL);
}

int ble_mgmt_disconnect(struct ble_mgmt *m, const uint8_t addr[6],
			uint8_t type)
{
	uint8_t p[7];

	memcpy(p, addr, 6);
	p[6] = type;
	return command(m, MGMT_OP_DISCONNECT, p, sizeof(p), NULL, NULL);
}

int ble_mgmt_set_bondable(struct ble_mgmt *m, bool on)
{
	uint8_t v = on;

	return command(m, MGMT_OP_SET_BONDABLE, &v, 1, NULL, NULL);
}

int ble_mgmt_set_io_cap(struct ble_mgmt *m, uint8_t cap)
{
	return command(m, MGMT_OP_SET_IO_CAPABILITY, &cap, 1, NULL, NULL);
}

int ble_mgmt_confirm(struct ble_mgmt *m, const uint8_t addr[6], uint8_t type)
{
	uint8_t p[7], rsp[7];
	size_t rlen = sizeof(rsp);

	memcpy(p, addr, 6);
	p[6] = type;
	return command(m, MGMT_OP_USER_CONFIRM_REPLY, p, sizeof(p), rsp, &rlen);
}

int ble_mgmt_drain(struct ble_mgmt *m)
{
	uint8_t ev[MGMT_MAX_MSG];

	for (;;) {
		size_t len = sizeof(ev);
		int code = read_event(m, ev, &len, 0);

		if (code == -EAGAIN)
			return 0;
		/* A malformed message is consumed: go on with the next. */
		if (code == -EBADMSG)
			continue;
		if (code < 0)
			return code;
		if (code > MGMT_EV_CMD_STATUS && m->on_event)
			m->on_event(m->ctx, code, ev, len);
	}
}

int ble_mgmt_start_discovery(struct ble_mgmt *m, uint8_t type)
{
	uint8_t rsp[1];
	size_t rlen = sizeof(rsp);

	return command(m, MGMT_OP_START_DISCOVERY, &type, 1, rsp, &rlen);
}

int ble_mgmt_stop_discovery(struct ble_mgmt *m, uint8_t type)
{
	uint8_t rsp[1];
	size_t rlen = sizeof(rsp);

	return command(m, MGMT_OP_STOP_DISCOVERY, &type, 1, rsp, &rlen);
}
