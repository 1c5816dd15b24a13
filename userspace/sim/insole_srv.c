// SPDX-License-Identifier: GPL-2.0
/*
 * ATT server and GATT database of the simulated insole (Bluetooth Core
 * 5.3, Vol 3, Part F for ATT and Part G for GATT), and its sample stream.
 * The server answers one request at a time, as ATT wants, and keeps at
 * most one indication in flight (Part F 3.4.7.2).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bluetooth/bluetooth.h>

#include "insole_srv.h"
#include "sim_rng.h"

/* ATT opcodes (Part F 3.4.8) and error codes (3.4.1.1). */
enum {
	ATT_ERROR_RSP = 0x01,
	ATT_MTU_REQ = 0x02,
	ATT_MTU_RSP = 0x03,
	ATT_FIND_INFO_REQ = 0x04,
	ATT_FIND_INFO_RSP = 0x05,
	ATT_FIND_BY_TYPE_REQ = 0x06,
	ATT_FIND_BY_TYPE_RSP = 0x07,
	ATT_READ_BY_TYPE_REQ = 0x08,
	ATT_READ_BY_TYPE_RSP = 0x09,
	ATT_READ_REQ = 0x0a,
	ATT_READ_RSP = 0x0b,
	ATT_READ_BLOB_REQ = 0x0c,
	ATT_READ_BLOB_RSP = 0x0d,
	ATT_READ_BY_GROUP_REQ = 0x10,
	ATT_READ_BY_GROUP_RSP = 0x11,
	ATT_WRITE_REQ = 0x12,
	ATT_WRITE_RSP = 0x13,
	ATT_NOTIFY = 0x1b,
	ATT_INDICATE = 0x1d,
	ATT_CONFIRM = 0x1e,
	ATT_WRITE_CMD = 0x52,
	ATT_CMD_FLAG = 0x40,
};

enum {
	ATT_E_INVALID_HANDLE = 0x01,
	ATT_E_READ_NOT_PERMITTED = 0x02,
	ATT_E_WRITE_NOT_PERMITTED = 0x03,
	ATT_E_INVALID_PDU = 0x04,
	ATT_E_REQ_NOT_SUPPORTED = 0x06,
	ATT_E_INVALID_OFFSET = 0x07,
	ATT_E_NOT_FOUND = 0x0a,
	ATT_E_INVALID_LEN = 0x0d,
	ATT_E_INSUFF_ENC = 0x0f,
	ATT_E_UNSUPPORTED_GROUP = 0x10,
	ATT_E_VALUE_NOT_ALLOWED = 0x13,
	ATT_E_CCCD_IMPROPER = 0xfd,	/* Core Spec Supplement Part B 1.2 */
};

/* GATT declarations and descriptors. */
#define UUID_PRIMARY		0x2800
#define UUID_SECONDARY		0x2801
#define UUID_CHARACTERISTIC	0x2803
#define UUID_CCCD		0x2902
#define UUID_DEVICE_NAME	0x2a00
#define UUID_APPEARANCE		0x2a01
#define UUID_RSC_FEATURE	0x2a54
#define SVC_GAP			0x1800

#define PROP_READ		0x02
#define PROP_WRITE_CMD		0x04
#define PROP_WRITE		0x08
#define PROP_NOTIFY		0x10
#define PROP_INDICATE		0x20

#define P_READ		1
#define P_WRITE		2
#define P_WRITE_CMD	4

enum attr_kind {
	A_STATIC,	/* value in the attribute */
	A_CCCD,		/* client characteristic configuration */
	A_INFO,		/* the device description, built on read */
	A_CP,		/* control point */
	A_FFF2,		/* commodity start/stop */
	A_NOVALUE,	/* notify-only values: nothing to read */
};

#define MAX_ATTRS	48
#define ATTR_VAL_MAX	40
#define QUEUE_LEN	256
#define IND_QUEUE	8
#define RSC_PERIOD_US	1000000

struct attr {
	uint16_t handle;
	uint8_t type[16];
	uint8_t type_len;
	uint8_t perm;
	enum attr_kind kind;
	uint8_t val[ATTR_VAL_MAX];
	uint8_t val_len;
	uint16_t group_end;	/* services */
	uint16_t cccd;		/* A_CCCD */
};

struct batch {
	uint8_t val[INSOLE_SRV_MAX_MTU];
	size_t len;
	uint32_t seq;
	unsigned int n;
	uint64_t clock_us;
	uint64_t due_us;
};

struct insole_srv {
	struct insole_srv_cfg cfg;
	struct attr attrs[MAX_ATTRS];
	unsigned int n_attrs;
	uint16_t h_data, h_data_cccd, h_cp, h_cp_cccd, h_rsc, h_rsc_cccd;
	uint16_t h_fff2;
	uint16_t h_profile;	/* first handle of the profile's service */
	int fd;
	uint16_t mtu;
	struct sim_rng rng;
	/* Indications: one in flight, the rest wait for its confirmation. */
	uint8_t ind[IND_QUEUE][16];
	uint8_t ind_len[IND_QUEUE];
	unsigned int ind_head, ind_n;
	bool ind_busy;
	/* The stream. */
	bool streaming;
	bool restart;
	unsigned int rate_hz;
	uint64_t period_us;
	uint64_t next_clock;
	uint64_t k;		/* samples asked of the source */
	uint32_t seq;		/* next sample's sequence number */
	struct insole_reading cur[INSOLE_MAX_BATCH];
	unsigned int cur_n;
	uint32_t cur_seq;
	bool cur_restart;
	struct batch queue[QUEUE_LEN];
	unsigned int q_head, q_n;
	uint64_t last_due;
	uint64_t notify_index;
	size_t next_fault;
	uint64_t next_rsc;
};

static const uint8_t base_uuid[16] = {
	0xfb, 0x34, 0x9b, 0x5f, 0x80, 0x00, 0x00, 0x80,
	0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
};

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
	return p[0] | p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* Any UUID as 128 bits, for comparisons across sizes. */
static void uuid_full(const uint8_t *u, size_t len, uint8_t out[16])
{
	if (len == 16) {
		memcpy(out, u, 16);
		return;
	}
	memcpy(out, base_uuid, 16);
	out[12] = u[0];
	out[13] = u[1];
}

static bool uuid_eq(const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen)
{
	uint8_t fa[16], fb[16];

	uuid_full(a, alen, fa);
	uuid_full(b, blen, fb);
	return !memcmp(fa, fb, 16);
}

static bool type_is(const struct attr *a, uint16_t uuid16)
{
	uint8_t u[2];

	put16(u, uuid16);
	return uuid_eq(a->type, a->type_len, u, 2);
}

/* ---- The database --------------------------------------------------------- */

static struct attr *db_add(struct insole_srv *s, const uint8_t *type,
			   size_t type_len, uint8_t perm, enum attr_kind kind,
			   const void *val, size_t val_len)
{
	struct attr *a = &s->attrs[s->n_attrs];

	a->handle = ++s->n_attrs;
	memcpy(a->type, type, type_len);
	a->type_len = type_len;
	a->perm = perm;
	a->kind = kind;
	if (val_len > ATTR_VAL_MAX)
		val_len = ATTR_VAL_MAX;
	if (val)
		memcpy(a->val, val, val_len);
	a->val_len = val_len;
	return a;
}

static struct attr *db_service(struct insole_srv *s, const uint8_t *uuid,
			       size_t len)
{
	uint8_t t[2];

	put16(t, UUID_PRIMARY);
	return db_add(s, t, 2, P_READ, A_STATIC, uuid, len);
}

static struct attr *db_service16(struct insole_srv *s, uint16_t uuid)
{
	uint8_t u[2];

	put16(u, uuid);
	return db_service(s, u, 2);
}

/* A characteristic: declaration, value and, if it notifies, its CCCD. */
static uint16_t db_chr(struct insole_srv *s, const uint8_t *uuid, size_t ulen,
		       uint8_t props, enum attr_kind kind, const void *val,
		       size_t val_len, uint16_t *cccd)
{
	uint8_t decl[19], t[2];
	uint8_t perm = 0;
	uint16_t vh = s->n_attrs + 2;

	decl[0] = props;
	put16(decl + 1, vh);
	memcpy(decl + 3, uuid, ulen);
	put16(t, UUID_CHARACTERISTIC);
	db_add(s, t, 2, P_READ, A_STATIC, decl, 3 + ulen);
	if (props & PROP_READ)
		perm |= P_READ;
	if (props & PROP_WRITE)
		perm |= P_WRITE;
	if (props & PROP_WRITE_CMD)
		perm |= P_WRITE_CMD;
	db_add(s, uuid, ulen, perm, kind, val, val_len);
	if (props & (PROP_NOTIFY | PROP_INDICATE)) {
		put16(t, UUID_CCCD);
		db_add(s, t, 2, P_READ | P_WRITE, A_CCCD, NULL, 0);
		if (cccd)
			*cccd = s->n_attrs;
	}
	return vh;
}

static uint16_t db_chr16(struct insole_srv *s, uint16_t uuid, uint8_t props,
			 enum attr_kind kind, const void *val, size_t val_len,
			 uint16_t *cccd)
{
	uint8_t u[2];

	put16(u, uuid);
	return db_chr(s, u, 2, props, kind, val, val_len, cccd);
}

static uint16_t db_str(struct insole_srv *s, uint16_t uuid, const char *str)
{
	return db_chr16(s, uuid, PROP_READ, A_STATIC, str, strlen(str), NULL);
}

static void db_build(struct insole_srv *s)
{
	const struct insole_srv_cfg *c = &s->cfg;
	static const uint8_t svc[16] = INSOLE_UUID128(INSOLE_SVC);
	static const uint8_t data[16] = INSOLE_UUID128(INSOLE_CHR_DATA);
	static const uint8_t cp[16] = INSOLE_UUID128(INSOLE_CHR_CONTROL);
	static const uint8_t info[16] = INSOLE_UUID128(INSOLE_CHR_INFO);
	uint8_t appearance[2] = { 0, 0 }, feature[2] = { 0, 0 };
	unsigned int i;

	db_service16(s, SVC_GAP);
	db_str(s, UUID_DEVICE_NAME, c->name);
	db_chr16(s, UUID_APPEARANCE, PROP_READ, A_STATIC, appearance, 2, NULL);

	db_service16(s, GATT_SVC_DEVICE_INFO);
	db_str(s, GATT_CHR_MANUFACTURER, "gaitcap simulator");
	db_str(s, GATT_CHR_MODEL_NUMBER, c->profile == INSOLE_PROFILE_FFF0 ?
	       "FFF0 insole (simulated)" : "gaitcap insole v1 (simulated)");
	db_str(s, GATT_CHR_SERIAL_NUMBER, c->serial);
	db_str(s, GATT_CHR_FIRMWARE_REV, "1.0.0");

	db_service16(s, GATT_SVC_BATTERY);
	db_chr16(s, GATT_CHR_BATTERY_LEVEL, PROP_READ, A_STATIC,
		 &c->battery_pct, 1, NULL);

	db_service16(s, GATT_SVC_RSC);
	s->h_rsc = db_chr16(s, GATT_CHR_RSC_MEASURE, PROP_NOTIFY, A_NOVALUE,
			    NULL, 0, &s->h_rsc_cccd);
	db_chr16(s, UUID_RSC_FEATURE, PROP_READ, A_STATIC, feature, 2, NULL);

	s->h_profile = s->n_attrs + 1;
	if (c->profile == INSOLE_PROFILE_GAITCAP) {
		db_service(s, svc, 16);
		s->h_data = db_chr(s, data, 16, PROP_NOTIFY, A_NOVALUE, NULL, 0,
				   &s->h_data_cccd);
		s->h_cp = db_chr(s, cp, 16, PROP_WRITE | PROP_INDICATE, A_CP,
				 NULL, 0, &s->h_cp_cccd);
		db_chr(s, info, 16, PROP_READ, A_INFO, NULL, 0, NULL);
	} else {
		db_service16(s, FFF0_SVC);
		s->h_data = db_chr16(s, FFF0_CHR_NOTIFY, PROP_NOTIFY, A_NOVALUE,
				     NULL, 0, &s->h_data_cccd);
		s->h_fff2 = db_chr16(s, FFF0_CHR_WRITE,
				     PROP_WRITE | PROP_WRITE_CMD, A_FFF2,
				     NULL, 0, NULL);
	}
	/* Each service's group ends where the next begins. */
	for (i = 0; i < s->n_attrs; i++) {
		unsigned int j;

		if (!type_is(&s->attrs[i], UUID_PRIMARY))
			continue;
		for (j = i + 1; j < s->n_attrs; j++)
			if (type_is(&s->attrs[j], UUID_PRIMARY))
				break;
		s->attrs[i].group_end = j;	/* handle of the last = index */
	}
}

static struct attr *attr_get(struct insole_srv *s, uint16_t h)
{
	return h && h <= s->n_attrs ? &s->attrs[h - 1] : NULL;
}

/* The value of a readable attribute; returns its length. */
static size_t attr_value(struct insole_srv *s, const struct attr *a,
			 uint8_t *buf, size_t cap)
{
	switch (a->kind) {
	case A_CCCD:
		put16(buf, a->cccd);
		return 2;
	case A_INFO:
		return insole_model_describe(s->cfg.model, s->rate_hz, buf, cap);
	case A_STATIC:
		memcpy(buf, a->val, a->val_len);
		return a->val_len;
	default:
		return 0;
	}
}

/* ---- Sending ---------------------------------------------------------------- */

static int send_pdu(struct insole_srv *s, const uint8_t *pdu, size_t len)
{
	ssize_t n;

	if (s->fd < 0)
		return -ENOTCONN;
	n = write(s->fd, pdu, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static int send_error(struct insole_srv *s, uint8_t req, uint16_t h,
		      uint8_t ecode)
{
	uint8_t pdu[5] = { ATT_ERROR_RSP, req };

	put16(pdu + 2, h);
	pdu[4] = ecode;
	return send_pdu(s, pdu, sizeof(pdu));
}

static int ind_kick(struct insole_srv *s)
{
	uint8_t pdu[3 + 16];
	unsigned int i = s->ind_head;
	struct attr *cccd = attr_get(s, s->h_cp_cccd);

	if (s->ind_busy || !s->ind_n || s->fd < 0)
		return 0;
	s->ind_head = (s->ind_head + 1) % IND_QUEUE;
	s->ind_n--;
	if (!cccd || !(cccd->cccd & 2))
		return 0;
	pdu[0] = ATT_INDICATE;
	put16(pdu + 1, s->h_cp);
	memcpy(pdu + 3, s->ind[i], s->ind_len[i]);
	s->ind_busy = true;
	return send_pdu(s, pdu, 3 + s->ind_len[i]);
}

static int ind_queue(struct insole_srv *s, const uint8_t *val, size_t len)
{
	unsigned int i;

	if (s->ind_n == IND_QUEUE)
		return 0;		/* a client that never confirms */
	i = (s->ind_head + s->ind_n) % IND_QUEUE;
	memcpy(s->ind[i], val, len);
	s->ind_len[i] = len;
	s->ind_n++;
	return ind_kick(s);
}

static void event(struct insole_srv *s, const char *what, uint64_t now,
		  uint32_t arg)
{
	if (s->cfg.on_event)
		s->cfg.on_event(s->cfg.cb_ctx, what, now, arg);
}

/* ---- The stream -------------------------------------------------------------- */

static size_t sample_bytes(const struct insole_srv *s)
{
	return s->cfg.profile == INSOLE_PROFILE_FFF0 ? 2 + 2 * INSOLE_CELLS :
	       INSOLE_SAMPLE_SIZE;
}

/* Samples per notification: the configured batch, as far as the MTU allows. */
static unsigned int batch_limit(const struct insole_srv *s)
{
	size_t room = s->mtu - 3;
	unsigned int n;

	if (s->cfg.profile == INSOLE_PROFILE_FFF0)
		return 1;
	n = room > INSOLE_DATA_HDR ?
	    (room - INSOLE_DATA_HDR) / INSOLE_SAMPLE_SIZE : 0;
	if (n > s->cfg.batch)
		n = s->cfg.batch;
	return n ? n : 1;	/* too small an MTU: formed, never sent */
}

static void stream_start(struct insole_srv *s, uint64_t now)
{
	if (s->streaming)
		return;
	s->streaming = true;
	s->restart = true;
	/* The insole samples on its own tick grid. */
	s->next_clock = (now / s->period_us + 1) * s->period_us;
	event(s, "start", now, s->seq);
}

static uint64_t batch_delay(struct insole_srv *s)
{
	uint64_t ci = s->cfg.conn_interval_us, d;

	if (!ci)
		return 0;
	/* Wait for the next connection event, and for a retry or three. */
	d = sim_rng_below(&s->rng, ci);
	if (sim_rng_below(&s->rng, 100) < s->cfg.retx_pct)
		d += ci * (1 + sim_rng_below(&s->rng, 3));
	return d;
}

static void encode_sample(const struct insole_srv *s,
			  const struct insole_reading *r, uint8_t *p)
{
	unsigned int i;

	if (s->cfg.profile == INSOLE_PROFILE_FFF0) {
		p[0] = FFF0_MAGIC;
		p[1] = INSOLE_CELLS;
		for (i = 0; i < INSOLE_CELLS; i++)
			put16(p + 2 + 2 * i, r->cell[i]);
		return;
	}
	for (i = 0; i < INSOLE_CELLS; i++)
		put16(p + 2 * i, r->cell[i]);
	for (i = 0; i < 3; i++) {
		put16(p + 2 * INSOLE_CELLS + 2 * i, (uint16_t)r->acc[i]);
		put16(p + 2 * INSOLE_CELLS + 6 + 2 * i, (uint16_t)r->gyro[i]);
	}
}

static void batch_close(struct insole_srv *s)
{
	struct batch *b;
	uint16_t flags = 0;
	unsigned int i;
	uint64_t due;
	size_t off;

	if (!s->cur_n)
		return;
	if (s->q_n == QUEUE_LEN) {
		/* The insole's buffer is full: the oldest batch is lost. */
		s->q_head = (s->q_head + 1) % QUEUE_LEN;
		s->q_n--;
	}
	b = &s->queue[(s->q_head + s->q_n) % QUEUE_LEN];
	s->q_n++;
	b->seq = s->cur_seq;
	b->n = s->cur_n;
	b->clock_us = s->cur[0].clock_us;
	off = 0;
	if (s->cfg.profile == INSOLE_PROFILE_GAITCAP) {
		for (i = 0; i < s->cur_n; i++)
			if (s->cur[i].saturated)
				flags |= INSOLE_DATA_F_SATURATED;
		if (s->cur_restart)
			flags |= INSOLE_DATA_F_RESTART;
		b->val[INSOLE_DATA_OFF_VERSION] = INSOLE_DATA_VERSION;
		b->val[INSOLE_DATA_OFF_N] = s->cur_n;
		put16(b->val + INSOLE_DATA_OFF_FLAGS, flags);
		put32(b->val + INSOLE_DATA_OFF_SEQ, s->cur_seq);
		put32(b->val + INSOLE_DATA_OFF_T_US, (uint32_t)b->clock_us);
		put16(b->val + INSOLE_DATA_OFF_PERIOD, s->period_us);
		off = INSOLE_DATA_HDR;
	}
	for (i = 0; i < s->cur_n; i++, off += sample_bytes(s))
		encode_sample(s, &s->cur[i], b->val + off);
	b->len = off;
	due = s->cur[s->cur_n - 1].clock_us + batch_delay(s);
	/* BLE delivers in order: a late batch holds back the next. */
	if (due < s->last_due)
		due = s->last_due;
	b->due_us = s->last_due = due;
	s->cur_n = 0;
}

static void take_samples(struct insole_srv *s, uint64_t now)
{
	while (s->streaming && s->next_clock <= now) {
		struct insole_reading r;
		int rc = s->cfg.source.sample(s->cfg.source.ctx, s->k,
					      s->next_clock, &r);

		s->k++;
		if (rc == -ENOENT) {
			batch_close(s);
			s->streaming = false;
			event(s, "source-end", s->next_clock, s->seq);
			break;
		}
		s->next_clock += s->period_us;
		if (rc) {
			/* A row the recording lacks: the sample is lost. */
			batch_close(s);
			s->seq++;
			continue;
		}
		if (!s->cur_n) {
			s->cur_seq = s->seq;
			s->cur_restart = s->restart;
			s->restart = false;
		}
		s->cur[s->cur_n++] = r;
		s->seq++;
		if (s->cur_n >= batch_limit(s))
			batch_close(s);
	}
}

/* A broken PDU in place of batch @b (docs/simulator.md lists the kinds). */
static unsigned int send_malformed(struct insole_srv *s, const struct batch *b)
{
	uint8_t pdu[INSOLE_SRV_MAX_MTU + 16];
	unsigned int kind = sim_rng_below(&s->rng, 5);
	size_t len = 3 + b->len;

	pdu[0] = ATT_NOTIFY;
	put16(pdu + 1, s->h_data);
	memcpy(pdu + 3, b->val, b->len);
	switch (kind) {
	case 0:		/* a notification without its handle */
		len = 2;
		break;
	case 1:		/* the value cut in the middle of a sample */
		len = 3 + (b->len > 8 ? b->len - sample_bytes(s) / 2 : 1);
		break;
	case 2:		/* a header that lies: wrong version / magic */
		pdu[3] = 0x7f;
		break;
	case 3:		/* a handle that does not exist */
		put16(pdu + 1, 0xfff0);
		break;
	default:	/* longer than the MTU */
		len = s->mtu + 8;
		if (len > sizeof(pdu))
			len = sizeof(pdu);
		memset(pdu + 3 + b->len, 0xa5, len > 3 + b->len ?
		       len - 3 - b->len : 0);
		break;
	}
	send_pdu(s, pdu, len);
	return kind;
}

static int send_batch(struct insole_srv *s, const struct batch *b,
		      struct insole_notify_info *info)
{
	struct attr *cccd = attr_get(s, s->h_data_cccd);
	uint8_t pdu[3 + INSOLE_SRV_MAX_MTU];
	int rc;

	if (s->fd < 0 || !cccd || !(cccd->cccd & 1) || 3 + b->len > s->mtu) {
		info->status = INSOLE_UNSENT;
		return 0;
	}
	pdu[0] = ATT_NOTIFY;
	put16(pdu + 1, s->h_data);
	memcpy(pdu + 3, b->val, b->len);
	rc = send_pdu(s, pdu, 3 + b->len);
	info->status = rc ? INSOLE_SEND_FAILED : INSOLE_SENT;
	return rc;
}

static int send_rsc(struct insole_srv *s, uint64_t now)
{
	const struct gait_params *gp;
	struct attr *cccd = attr_get(s, s->h_rsc_cccd);
	uint8_t pdu[7] = { ATT_NOTIFY };
	double v;

	s->next_rsc = now + RSC_PERIOD_US;
	if (s->fd < 0 || !cccd || !(cccd->cccd & 1))
		return 0;
	gp = gait_model_params(insole_model_gait(s->cfg.model));
	put16(pdu + 1, s->h_rsc);
	pdu[3] = 0;			/* flags: walking, nothing optional */
	v = gp->speed_mps * 256;
	put16(pdu + 4, v > 65535 ? 65535 : (uint16_t)lround(v));
	pdu[6] = gp->cadence_spm > 255 ? 255 : (uint8_t)lround(gp->cadence_spm);
	return send_pdu(s, pdu, sizeof(pdu));
}

int insole_srv_pump(struct insole_srv *s, uint64_t now)
{
	int rc = 0;

	take_samples(s, now);
	while (s->q_n && s->queue[s->q_head].due_us <= now) {
		struct batch *b = &s->queue[s->q_head];
		struct insole_notify_info info = {
			.index = s->notify_index, .seq = b->seq, .n = b->n,
			.clock_us = b->clock_us, .due_us = b->due_us,
			.value = b->val, .len = b->len,
		};
		const struct insole_fault *f = NULL;

		if (s->next_fault < s->cfg.n_faults &&
		    s->cfg.faults[s->next_fault].at <= s->notify_index)
			f = &s->cfg.faults[s->next_fault];
		if (f && f->kind == INSOLE_FAULT_DISCONNECT) {
			s->next_fault++;
			event(s, "fault-disconnect", now, s->notify_index);
			/* Only if there is a link to drop; else it is spent. */
			if (s->fd >= 0)
				return 1;
			continue;
		}
		if (f) {
			s->next_fault++;
			if (f->kind == INSOLE_FAULT_DROP) {
				info.status = INSOLE_DROPPED;
			} else {
				info.status = INSOLE_MALFORMED;
				info.malformed_kind = send_malformed(s, b);
			}
		} else {
			rc = send_batch(s, b, &info);
		}
		s->notify_index++;
		s->q_head = (s->q_head + 1) % QUEUE_LEN;
		s->q_n--;
		if (s->cfg.on_notify)
			s->cfg.on_notify(s->cfg.cb_ctx, &info);
		if (rc)
			return rc;
	}
	if (s->streaming && s->next_rsc <= now)
		rc = send_rsc(s, now);
	return rc;
}

uint64_t insole_srv_next_us(const struct insole_srv *s)
{
	uint64_t t = UINT64_MAX;

	if (s->streaming) {
		t = s->next_clock;
		if (s->next_rsc < t)
			t = s->next_rsc;
	}
	if (s->q_n && s->queue[s->q_head].due_us < t)
		t = s->queue[s->q_head].due_us;
	return t;
}

/* ---- Requests ------------------------------------------------------------------ */

/*
 * The profile's values are only for an encrypted link: the level the
 * kernel reports on the socket (a socketpair in the unit tests has none).
 */
static bool enc_refused(struct insole_srv *s, const struct attr *a)
{
	struct bt_security sec = { 0 };
	socklen_t len = sizeof(sec);

	if (!s->cfg.require_encryption || !s->h_profile ||
	    a->handle <= s->h_profile || type_is(a, UUID_CHARACTERISTIC))
		return false;
	if (getsockopt(s->fd, SOL_BLUETOOTH, BT_SECURITY, &sec, &len))
		return true;
	return sec.level < BT_SECURITY_MEDIUM;
}

static int on_mtu(struct insole_srv *s, const uint8_t *pdu, size_t len)
{
	uint8_t rsp[3] = { ATT_MTU_RSP };
	uint16_t client;

	if (len != 3)
		return send_error(s, pdu[0], 0, ATT_E_INVALID_PDU);
	client = get16(pdu + 1);
	put16(rsp + 1, s->cfg.max_mtu);
	s->mtu = client < s->cfg.max_mtu ? client : s->cfg.max_mtu;
	if (s->mtu < INSOLE_SRV_DEF_MTU)
		s->mtu = INSOLE_SRV_DEF_MTU;
	return send_pdu(s, rsp, sizeof(rsp));
}

/* Start and end handle of a range request; 0 or an error was sent. */
static int range(struct insole_srv *s, const uint8_t *pdu, uint16_t *start,
		 uint16_t *end)
{
	*start = get16(pdu + 1);
	*end = get16(pdu + 3);
	if (!*start || *start > *end) {
		send_error(s, pdu[0], *start, ATT_E_INVALID_HANDLE);
		return -1;
	}
	return 0;
}

static int on_find_info(struct insole_srv *s, const uint8_t *pdu, size_t len)
{
	uint8_t rsp[INSOLE_SRV_MAX_MTU];
	uint16_t start, end, h;
	size_t off = 2, ulen = 0;

	if (len != 5)
		return send_error(s, pdu[0], 0, ATT_E_INVALID_PDU);
	if (range(s, pdu, &start, &end))
		return 0;
	for (h = start; h <= end && h <= s->n_attrs; h++) {
		const struct attr *a = &s->attrs[h - 1];

		if (!ulen)
			ulen = a->type_len;
		if (a->type_len != ulen || off + 2 + ulen > s->mtu)
			break;
		put16(rsp + off, h);
		memcpy(rsp + off + 2, a->type, ulen);
		off += 2 + ulen;
	}
	if (!ulen)
		return send_error(s, pdu[0], start, ATT_E_NOT_FOUND);
	rsp[0] = ATT_FIND_INFO_RSP;
	rsp[1] = ulen == 2 ? 1 : 2;
	return send_pdu(s, rsp, off);
}

static int on_find_by_type(struct insole_srv *s, const uint8_t *pdu,
			   size_t len)
{
	uint8_t rsp[INSOLE_SRV_MAX_MTU];
	uint16_t start, end, h;
	size_t off = 1;

	if (len < 7)
		return send_error(s, pdu[0], 0, ATT_E_INVALID_PDU);
	if (range(s, pdu, &start, &end))
		return 0;
	for (h = start; h <= end && h <= s->n_attrs; h++) {
		const struct attr *a = &s->attrs[h - 1];

		if (!type_is(a, get16(pdu + 5)) || a->kind != A_STATIC ||
		    a->val_len != len - 7 || memcmp(a->val, pdu + 7, len - 7))
			continue;
		if (off + 4 > s->mtu)
			break;
		put16(rsp + off, h);
		put16(rsp + off + 2, a->group_end ? a->group_end : h);
		off += 4;
	}
	if (off == 1)
		return send_error(s, pdu[0], start, ATT_E_NOT_FOUND);
	rsp[0] = ATT_FIND_BY_TYPE_RSP;
	return send_pdu(s, rsp, off);
}

static int on_read_by_type(struct insole_srv *s, const uint8_t *pdu,
			   size_t len)
{
	uint8_t rsp[INSOLE_SRV_MAX_MTU], val[256];
	size_t off = 2, each = 0, vlen;
	uint16_t start, end, h;

	if (len != 7 && len != 21)
		return send_error(s, pdu[0], 0, ATT_E_INVALID_PDU);
	if (range(s, pdu, &start, &end))
		return 0;
	for (h = start; h <= end && h <= s->n_attrs; h++) {
		const struct attr *a = &s->attrs[h - 1];

		if (!uuid_eq(a->type, a->type_len, pdu + 5, len - 5))
			continue;
		if (!(a->perm & P_READ)) {
			if (!each)
				return send_error(s, pdu[0], h,
						  ATT_E_READ_NOT_PERMITTED);
			break;
		}
		if (enc_refused(s, a)) {
			if (!each)
				return send_error(s, pdu[0], h,
						  ATT_E_INSUFF_ENC);
			break;
		}
		vlen = attr_value(s, a, val, sizeof(val));
		if (vlen > (size_t)s->mtu - 4)
			vlen = s->mtu - 4;
		if (vlen > 253)
			vlen = 253;
		if (!each)
			each = 2 + vlen;
		if (2 + vlen != each || off + each > s->mtu)
			break;
		put16(rsp + off, h);
		memcpy(rsp + off + 2, val, vlen);
		off += each;
	}
	if (!each)
		return send_error(s, pdu[0], start, ATT_E_NOT_FOUND);
	rsp[0] = ATT_READ_BY_TYPE_RSP;
	rsp[1] = each;
	return send_pdu(s, rsp, off);
}

static int on_read(struct insole_srv *s, const uint8_t *pdu, size_t len)
{
	uint8_t rsp[INSOLE_SRV_MAX_MTU], val[256];
	bool blob = pdu[0] == ATT_READ_BLOB_REQ;
	uint16_t h, offset = 0;
	struct attr *a;
	size_t vlen, n;

	if (len != (blob ? 5u : 3u))
		return send_error(s, pdu[0], 0, ATT_E_INVALID_PDU);
	h = get16(pdu + 1);
	if (blob)
		offset = get16(pdu + 3);
	a = attr_get(s, h);
	if (!a)
		return send_error(s, pdu[0], h, ATT_E_INVALID_HANDLE);
	if (!(a->perm & P_READ))
		return send_error(s, pdu[0], h, ATT_E_READ_NOT_PERMITTED);
	if (enc_refused(s, a))
		return send_error(s, pdu[0], h, ATT_E_INSUFF_ENC);
	vlen = attr_value(s, a, val, sizeof(val));
	if (offset > vlen)
		return send_error(s, pdu[0], h, ATT_E_INVALID_OFFSET);
	n = vlen - offset;
	if (n > (size_t)s->mtu - 1)
		n = s->mtu - 1;
	rsp[0] = blob ? ATT_READ_BLOB_RSP : ATT_READ_RSP;
	memcpy(rsp + 1, val + offset, n);
	return send_pdu(s, rsp, 1 + n);
}

static int on_read_by_group(struct insole_srv *s, const uint8_t *pdu,
			    size_t len)
{
	uint8_t rsp[INSOLE_SRV_MAX_MTU], u[2];
	size_t off = 2, each = 0;
	uint16_t start, end, h;

	if (len != 7 && len != 21)
		return send_error(s, pdu[0], 0, ATT_E_INVALID_PDU);
	if (range(s, pdu, &start, &end))
		return 0;
	put16(u, UUID_SECONDARY);
	if (uuid_eq(pdu + 5, len - 5, u, 2))
		return send_error(s, pdu[0], start, ATT_E_NOT_FOUND);
	put16(u, UUID_PRIMARY);
	if (!uuid_eq(pdu + 5, len - 5, u, 2))
		return send_error(s, pdu[0], start, ATT_E_UNSUPPORTED_GROUP);
	for (h = start; h <= end && h <= s->n_attrs; h++) {
		const struct attr *a = &s->attrs[h - 1];

		if (!type_is(a, UUID_PRIMARY))
			continue;
		if (!each)
			each = 4 + a->val_len;
		if (4u + a->val_len != each || off + each > s->mtu)
			break;
		put16(rsp + off, h);
		put16(rsp + off + 2, a->group_end);
		memcpy(rsp + off + 4, a->val, a->val_len);
		off += each;
	}
	if (!each)
		return send_error(s, pdu[0], start, ATT_E_NOT_FOUND);
	rsp[0] = ATT_READ_BY_GROUP_RSP;
	rsp[1] = each;
	return send_pdu(s, rsp, off);
}

static bool rate_ok(unsigned int hz)
{
	return hz == 25 || hz == 50 || hz == 100 || hz == 200;
}

/* A control point request; the answer goes out as an indication. */
static int control_point(struct insole_srv *s, const uint8_t *v, size_t len,
			 uint64_t now)
{
	uint8_t ind[11] = { INSOLE_CP_RESPONSE, v[0], INSOLE_CP_OK };
	size_t ilen = 3;

	switch (v[0]) {
	case INSOLE_CP_START:
	case INSOLE_CP_STOP:
		if (len != 1) {
			ind[2] = INSOLE_CP_INVALID;
			break;
		}
		if (v[0] == INSOLE_CP_START) {
			stream_start(s, now);
		} else if (s->streaming) {
			batch_close(s);
			s->streaming = false;
			event(s, "stop", now, s->seq);
		}
		break;
	case INSOLE_CP_SET_RATE:
		if (len != 3 || !rate_ok(get16(v + 1)) ||
		    (s->cfg.fixed_rate && get16(v + 1) != s->cfg.rate_hz))
			ind[2] = INSOLE_CP_INVALID;
		else if (s->streaming)
			ind[2] = INSOLE_CP_BUSY;
		else {
			s->rate_hz = get16(v + 1);
			s->period_us = 1000000 / s->rate_hz;
			event(s, "rate", now, s->rate_hz);
		}
		break;
	case INSOLE_CP_CLOCK_SYNC:
		if (len != 5) {
			ind[2] = INSOLE_CP_INVALID;
			break;
		}
		memcpy(ind + 3, v + 1, 4);
		put32(ind + 7, (uint32_t)now);
		ilen = 11;
		event(s, "clock-sync", now, get32(v + 1));
		break;
	default:
		ind[2] = INSOLE_CP_UNSUPPORTED;
		break;
	}
	return ind_queue(s, ind, ilen);
}

static int on_write(struct insole_srv *s, const uint8_t *pdu, size_t len,
		    uint64_t now)
{
	bool cmd = pdu[0] == ATT_WRITE_CMD;
	uint8_t rsp = ATT_WRITE_RSP;
	const uint8_t *v = pdu + 3;
	size_t vlen = len - 3;
	struct attr *a;
	uint16_t h;
	int rc;

	if (len < 3)
		return cmd ? 0 : send_error(s, pdu[0], 0, ATT_E_INVALID_PDU);
	h = get16(pdu + 1);
	a = attr_get(s, h);
	if (!a)
		return cmd ? 0 : send_error(s, pdu[0], h, ATT_E_INVALID_HANDLE);
	if (!(a->perm & (cmd ? P_WRITE_CMD : P_WRITE)))
		return cmd ? 0 : send_error(s, pdu[0], h,
					    ATT_E_WRITE_NOT_PERMITTED);
	if (enc_refused(s, a))
		return cmd ? 0 : send_error(s, pdu[0], h, ATT_E_INSUFF_ENC);
	switch (a->kind) {
	case A_CCCD:
		if (vlen != 2)
			return send_error(s, pdu[0], h, ATT_E_INVALID_LEN);
		a->cccd = get16(v);
		rc = send_pdu(s, &rsp, 1);
		if (!rc && h == s->h_data_cccd && (a->cccd & 1) &&
		    s->cfg.autostart)
			stream_start(s, now);
		if (!rc && h == s->h_rsc_cccd)
			s->next_rsc = a->cccd & 1 ? now : UINT64_MAX;
		if (!rc && h == s->h_cp_cccd)
			rc = ind_kick(s);
		return rc;
	case A_CP:
		if (!vlen)
			return send_error(s, pdu[0], h, ATT_E_INVALID_LEN);
		if (!(attr_get(s, s->h_cp_cccd)->cccd & 2))
			return send_error(s, pdu[0], h, ATT_E_CCCD_IMPROPER);
		rc = send_pdu(s, &rsp, 1);
		return rc ? rc : control_point(s, v, vlen, now);
	case A_FFF2:
		if (vlen != 1 || (v[0] != FFF0_CMD_START && v[0] != FFF0_CMD_STOP))
			return cmd ? 0 : send_error(s, pdu[0], h,
						    ATT_E_VALUE_NOT_ALLOWED);
		if (v[0] == FFF0_CMD_START) {
			stream_start(s, now);
		} else if (s->streaming) {
			batch_close(s);
			s->streaming = false;
			event(s, "stop", now, s->seq);
		}
		return cmd ? 0 : send_pdu(s, &rsp, 1);
	default:
		return cmd ? 0 : send_error(s, pdu[0], h,
					    ATT_E_WRITE_NOT_PERMITTED);
	}
}

int insole_srv_handle(struct insole_srv *s, const uint8_t *pdu, size_t len,
		      uint64_t now)
{
	if (!len)
		return 0;
	switch (pdu[0]) {
	case ATT_MTU_REQ:
		return on_mtu(s, pdu, len);
	case ATT_FIND_INFO_REQ:
		return on_find_info(s, pdu, len);
	case ATT_FIND_BY_TYPE_REQ:
		return on_find_by_type(s, pdu, len);
	case ATT_READ_BY_TYPE_REQ:
		return on_read_by_type(s, pdu, len);
	case ATT_READ_REQ:
	case ATT_READ_BLOB_REQ:
		return on_read(s, pdu, len);
	case ATT_READ_BY_GROUP_REQ:
		return on_read_by_group(s, pdu, len);
	case ATT_WRITE_REQ:
	case ATT_WRITE_CMD:
		return on_write(s, pdu, len, now);
	case ATT_CONFIRM:
		s->ind_busy = false;
		return ind_kick(s);
	default:
		/* Commands and whatever a client should not send: ignored. */
		if (pdu[0] & ATT_CMD_FLAG || pdu[0] == ATT_ERROR_RSP ||
		    pdu[0] & 1 || pdu[0] == ATT_NOTIFY || pdu[0] == ATT_INDICATE)
			return 0;
		return send_error(s, pdu[0], 0, ATT_E_REQ_NOT_SUPPORTED);
	}
}

/* ---- Life cycle ------------------------------------------------------------------ */

int insole_srv_create(struct insole_srv **out, const struct insole_srv_cfg *cfg)
{
	struct insole_srv *s;

	if (!cfg->source.sample || !cfg->model || !rate_ok(cfg->rate_hz) ||
	    !cfg->batch || cfg->batch > INSOLE_MAX_BATCH ||
	    cfg->max_mtu < INSOLE_SRV_DEF_MTU ||
	    cfg->max_mtu > INSOLE_SRV_MAX_MTU || !cfg->name || !cfg->serial)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->fd = -1;
	s->mtu = INSOLE_SRV_DEF_MTU;
	s->rate_hz = cfg->rate_hz;
	s->period_us = 1000000 / cfg->rate_hz;
	s->next_rsc = UINT64_MAX;
	sim_rng_seed(&s->rng, cfg->seed, 40 + cfg->side);
	db_build(s);
	*out = s;
	return 0;
}

void insole_srv_destroy(struct insole_srv *s)
{
	free(s);
}

void insole_srv_attach(struct insole_srv *s, int fd)
{
	unsigned int i;

	s->fd = fd;
	s->mtu = INSOLE_SRV_DEF_MTU;
	s->next_rsc = UINT64_MAX;
	s->ind_busy = false;
	s->ind_n = 0;
	for (i = 0; i < s->n_attrs; i++)
		s->attrs[i].cccd = 0;
}

void insole_srv_detach(struct insole_srv *s)
{
	s->fd = -1;
	s->ind_busy = false;
	s->ind_n = 0;
}

bool insole_srv_streaming(const struct insole_srv *s)
{
	return s->streaming;
}

uint16_t insole_srv_mtu(const struct insole_srv *s)
{
	return s->mtu;
}

uint16_t insole_srv_value_handle(const struct insole_srv *s, uint16_t uuid16,
				 bool vendor)
{
	uint8_t u[16] = INSOLE_UUID128(0);
	unsigned int i;

	if (vendor) {
		u[12] = uuid16 & 0xff;
		u[13] = uuid16 >> 8;
	}
	for (i = 0; i + 1 < s->n_attrs; i++) {
		const struct attr *d = &s->attrs[i];

		if (!type_is(d, UUID_CHARACTERISTIC))
			continue;
		if (vendor ? d->val_len == 19 && !memcmp(d->val + 3, u, 16) :
		    d->val_len == 5 && get16(d->val + 3) == uuid16)
			return get16(d->val + 1);
	}
	return 0;
}
