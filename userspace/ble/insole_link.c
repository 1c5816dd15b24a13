// SPDX-License-Identifier: GPL-2.0
/*
 * The insole connect sequence as a plan of steps, built once discovery
 * has shown what the insole offers, and run one ATT transaction at a time.
 * Optional steps (standard services) log a failure and go on; required
 * ones (the profile) end the sequence with the error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ble/insole_link.h"

#define CP_TIMEOUT_NS	(5ULL * 1000000000ULL)
#define MAX_STEPS	16

enum step_kind {
	STEP_READ_STR,		/* a Device Information string */
	STEP_READ_BATTERY,
	STEP_READ_RSC,
	STEP_READ_DESC,
	STEP_CCCD,
	STEP_CP,		/* control point request + its indication */
	STEP_WRITE_REQ,		/* fff0 START */
	STEP_WRITE_CMD,
};

struct step {
	enum step_kind kind;
	const char *name;
	bool optional;
	uint16_t handle;
	const struct gatt_chr *chr;	/* STEP_CCCD */
	uint16_t bits;
	char *str;			/* STEP_READ_STR */
	uint8_t val[8];
	size_t len;
};

enum link_state { LINK_IDLE, LINK_MTU, LINK_DISCOVER, LINK_PLAN, LINK_READY,
		  LINK_FAILED };

struct insole_link {
	struct ble_att *att;
	struct insole_link_ops ops;
	void *user;
	uint64_t cp_timeout;
	enum link_state state;
	struct gatt_db db;
	struct insole_link_info info;
	struct step plan[MAX_STEPS];
	unsigned int n_steps, cur;
	/* The control point step in flight: its write answered, its
	 * indication received, and when to give up on the latter. */
	bool cp_wait, cp_written, cp_answered;
	uint64_t cp_deadline;
	bool control_req;	/* fff0: START/STOP as Write Request */
	const uint8_t *uuid_svc, *uuid_data, *uuid_cp, *uuid_info;
};

static const uint8_t uuid_svc[16] = INSOLE_UUID128(INSOLE_SVC);
static const uint8_t uuid_data[16] = INSOLE_UUID128(INSOLE_CHR_DATA);
static const uint8_t uuid_cp[16] = INSOLE_UUID128(INSOLE_CHR_CONTROL);
static const uint8_t uuid_info[16] = INSOLE_UUID128(INSOLE_CHR_INFO);

static void link_next(struct insole_link *l);

static uint64_t link_now(struct insole_link *l)
{
	struct timespec ts;

	if (l->ops.now)
		return l->ops.now(l->user);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void link_log(struct insole_link *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void link_log(struct insole_link *l, int err, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (!l->ops.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->ops.log(l->user, err, msg);
}

static void link_done(struct insole_link *l, int err, const char *step,
		      uint8_t ecode)
{
	if (l->state == LINK_READY || l->state == LINK_FAILED)
		return;
	l->state = err ? LINK_FAILED : LINK_READY;
	l->cp_wait = false;
	l->info.mtu = ble_att_mtu(l->att);
	if (err) {
		l->info.failed_step = step;
		l->info.att_ecode = ecode;
	}
	if (l->ops.ready)
		l->ops.ready(l->user, err, &l->info);
}

/* An optional step may fail; a required one ends the sequence. */
static void step_failed(struct insole_link *l, int err, uint8_t ecode)
{
	struct step *s = &l->plan[l->cur];

	if (s->optional && err != -ETIMEDOUT && err != -ECANCELED) {
		link_log(l, err, "%s failed (ATT error 0x%02x), going on",
			 s->name, ecode);
		l->cur++;
		link_next(l);
		return;
	}
	link_done(l, err, s->name, ecode);
}

static void ascii_copy(char *dst, const uint8_t *val, size_t len)
{
	size_t i, n = len < INSOLE_STR_MAX - 1 ? len : INSOLE_STR_MAX - 1;

	for (i = 0; i < n && val[i]; i++)
		dst[i] = val[i] >= 0x20 && val[i] < 0x7f ? (char)val[i] : '?';
	dst[i] = '\0';
}

static void on_read(void *user, int err, uint8_t ecode, const uint8_t *val,
		    size_t len)
{
	struct insole_link *l = user;
	struct step *s = &l->plan[l->cur];

	if (err) {
		step_failed(l, err, ecode);
		return;
	}
	switch (s->kind) {
	case STEP_READ_STR:
		ascii_copy(s->str, val, len);
		break;
	case STEP_READ_BATTERY:
		if (len != 1 || val[0] > 100) {
			step_failed(l, -EBADMSG, 0);
			return;
		}
		l->info.battery_pct = val[0];
		break;
	case STEP_READ_RSC:
		if (len != 2) {
			step_failed(l, -EBADMSG, 0);
			return;
		}
		l->info.rsc_features = ble_get_le16(val);
		break;
	case STEP_READ_DESC:
		err = insole_desc_parse(val, len, &l->info.desc);
		if (!err && l->info.desc.n_cells != INSOLE_CELLS)
			err = -EBADMSG;	/* data v1 carries 16 cells */
		if (err) {
			link_log(l, err, "device description refused");
			step_failed(l, err, 0);
			return;
		}
		l->info.has_desc = true;
		break;
	default:
		break;
	}
	l->cur++;
	link_next(l);
}

static void cp_step_check(struct insole_link *l)
{
	if (l->cp_written && l->cp_answered) {
		l->cp_wait = false;
		l->cur++;
		link_next(l);
	}
}

static void on_write(void *user, int err, uint8_t ecode)
{
	struct insole_link *l = user;
	struct step *s;

	if (l->state != LINK_PLAN) {
		/* STOP after ready: nobody waits for it. */
		if (err && err != -ECANCELED)
			link_log(l, err, "write failed (ATT error 0x%02x)",
				 ecode);
		return;
	}
	s = &l->plan[l->cur];
	if (err) {
		step_failed(l, err, ecode);
		return;
	}
	if (s->kind == STEP_CP) {
		l->cp_written = true;
		cp_step_check(l);
		return;
	}
	l->cur++;
	link_next(l);
}

static int cp_status_err(uint8_t status)
{
	switch (status) {
	case INSOLE_CP_OK:
		return 0;
	case INSOLE_CP_UNSUPPORTED:
		return -EOPNOTSUPP;
	case INSOLE_CP_BUSY:
		return -EBUSY;
	default:
		return -EINVAL;
	}
}

/* Control point indications: 0x80, request opcode, status, ... */
static void on_control(void *user, uint16_t handle, const uint8_t *val,
		       size_t len, bool ind, uint64_t rx_ns)
{
	struct insole_link *l = user;
	struct step *s = l->cp_wait ? &l->plan[l->cur] : NULL;
	int err;

	if (len < 3 || val[0] != INSOLE_CP_RESPONSE) {
		link_log(l, -EBADMSG, "malformed control point answer");
		return;
	}
	if (!s || val[1] != s->val[0]) {
		if (val[2] != INSOLE_CP_OK)
			link_log(l, cp_status_err(val[2]),
				 "control point request 0x%02x refused: 0x%02x",
				 val[1], val[2]);
		return;
	}
	err = cp_status_err(val[2]);
	if (err) {
		l->info.cp_status = val[2];
		link_done(l, err, s->name, 0);
		return;
	}
	if (val[1] == INSOLE_CP_CLOCK_SYNC) {
		if (len != 11 || ble_get_le32(val + 3) != l->info.sync.token) {
			link_done(l, -EBADMSG, s->name, 0);
			return;
		}
		l->info.sync.host_rx_ns = rx_ns;
		l->info.sync.insole_us = ble_get_le32(val + 7);
		l->info.sync.valid = true;
	}
	l->cp_answered = true;
	cp_step_check(l);
}

static void on_data(void *user, uint16_t handle, const uint8_t *val,
		    size_t len, bool ind, uint64_t rx_ns)
{
	struct insole_link *l = user;

	if (l->ops.data)
		l->ops.data(l->user, val, len, rx_ns);
}

static void link_next(struct insole_link *l)
{
	struct step *s;
	int err;

	if (l->state != LINK_PLAN)
		return;
	if (l->cur >= l->n_steps) {
		link_done(l, 0, NULL, 0);
		return;
	}
	s = &l->plan[l->cur];
	switch (s->kind) {
	case STEP_READ_STR:
	case STEP_READ_BATTERY:
	case STEP_READ_RSC:
	case STEP_READ_DESC:
		err = gatt_read(l->att, s->handle, on_read, l);
		break;
	case STEP_CCCD:
		err = gatt_write_cccd(l->att, s->chr, s->bits, on_write, l);
		break;
	case STEP_CP:
		if (s->val[0] == INSOLE_CP_CLOCK_SYNC) {
			l->info.sync.host_tx_ns = link_now(l);
			ble_put_le32(s->val + 1, l->info.sync.token);
		}
		l->cp_wait = true;
		l->cp_written = false;
		l->cp_answered = false;
		l->cp_deadline = link_now(l) + l->cp_timeout;
		err = gatt_write(l->att, s->handle, s->val, s->len, on_write,
				 l);
		break;
	case STEP_WRITE_REQ:
		err = gatt_write(l->att, s->handle, s->val, s->len, on_write,
				 l);
		break;
	case STEP_WRITE_CMD:
		err = gatt_write_cmd(l->att, s->handle, s->val, s->len);
		if (!err) {
			l->cur++;
			link_next(l);
			return;
		}
		break;
	default:
		err = -EINVAL;
	}
	if (err)
		step_failed(l, err, 0);
}

static struct step *plan_add(struct insole_link *l, enum step_kind kind,
			     const char *name, bool optional, uint16_t handle)
{
	struct step *s = &l->plan[l->n_steps++];

	*s = (struct step){ .kind = kind, .name = name, .optional = optional,
			    .handle = handle };
	return s;
}

static void plan_read(struct insole_link *l, const struct gatt_svc *svc,
		      uint16_t uuid, enum step_kind kind, const char *name,
		      char *str)
{
	const struct gatt_chr *c = gatt_db_find_chr(&l->db, svc, uuid, NULL);

	if (c && c->props & GATT_PROP_READ)
		plan_add(l, kind, name, true, c->value)->str = str;
}

static void plan_cccd(struct insole_link *l, const struct gatt_chr *c,
		      uint16_t bits, const char *name)
{
	struct step *s = plan_add(l, STEP_CCCD, name, false, c->cccd);

	s->chr = c;
	s->bits = bits;
}

static int plan_gaitcap(struct insole_link *l, const struct gatt_svc *svc)
{
	const struct gatt_chr *data, *cp, *info;
	struct step *s;

	data = gatt_db_find_chr(&l->db, svc, 0, uuid_data);
	cp = gatt_db_find_chr(&l->db, svc, 0, uuid_cp);
	info = gatt_db_find_chr(&l->db, svc, 0, uuid_info);
	if (!data || !cp || !info || !(data->props & GATT_PROP_NOTIFY) ||
	    !(cp->props & GATT_PROP_WRITE) ||
	    !(cp->props & GATT_PROP_INDICATE) || !(info->props & GATT_PROP_READ))
		return -ENODEV;
	if (!data->cccd || !cp->cccd)
		return -ENOENT;
	l->info.profile = INSOLE_PROFILE_GAITCAP;
	l->info.decoder = insole_decoder_find("gaitcap-v1");
	l->info.data_handle = data->value;
	l->info.control_handle = cp->value;
	plan_add(l, STEP_READ_DESC, "read device description", false,
		 info->value);
	plan_cccd(l, cp, GATT_CCCD_INDICATE, "enable control point indications");
	plan_cccd(l, data, GATT_CCCD_NOTIFY, "enable data notifications");
	s = plan_add(l, STEP_CP, "CLOCK_SYNC", false, cp->value);
	s->val[0] = INSOLE_CP_CLOCK_SYNC;
	s->len = 5;
	/* Any token will do; the host clock makes it differ per connection. */
	l->info.sync.token = (uint32_t)(link_now(l) / 1000) | 1;
	s = plan_add(l, STEP_CP, "START", false, cp->value);
	s->val[0] = INSOLE_CP_START;
	s->len = 1;
	ble_att_on_value(l->att, cp->value, on_control, l);
	ble_att_on_value(l->att, data->value, on_data, l);
	return 0;
}

static int plan_fff0(struct insole_link *l, const struct gatt_svc *svc)
{
	const struct gatt_chr *data, *wr;
	struct step *s;

	data = gatt_db_find_chr(&l->db, svc, FFF0_CHR_NOTIFY, NULL);
	wr = gatt_db_find_chr(&l->db, svc, FFF0_CHR_WRITE, NULL);
	if (!data || !wr || !(data->props & GATT_PROP_NOTIFY) ||
	    !(wr->props & (GATT_PROP_WRITE | GATT_PROP_WRITE_NR)))
		return -ENODEV;
	if (!data->cccd)
		return -ENOENT;
	l->info.profile = INSOLE_PROFILE_FFF0;
	l->info.decoder = insole_decoder_find("fff0");
	l->info.data_handle = data->value;
	l->info.control_handle = wr->value;
	l->control_req = wr->props & GATT_PROP_WRITE;
	plan_cccd(l, data, GATT_CCCD_NOTIFY, "enable data notifications");
	/* A Write Request when offered: its answer tells START arrived. */
	s = plan_add(l, wr->props & GATT_PROP_WRITE ? STEP_WRITE_REQ :
		     STEP_WRITE_CMD, "START", false, wr->value);
	s->val[0] = FFF0_CMD_START;
	s->len = 1;
	ble_att_on_value(l->att, data->value, on_data, l);
	return 0;
}

static void on_discovered(void *user, int err, uint8_t ecode)
{
	struct insole_link *l = user;
	const struct gatt_svc *svc;

	if (err) {
		link_done(l, err, "discovery", ecode);
		return;
	}
	svc = gatt_db_find_svc16(&l->db, GATT_SVC_DEVICE_INFO);
	plan_read(l, svc, GATT_CHR_MANUFACTURER, STEP_READ_STR,
		  "read manufacturer", l->info.manufacturer);
	plan_read(l, svc, GATT_CHR_MODEL_NUMBER, STEP_READ_STR,
		  "read model number", l->info.model);
	plan_read(l, svc, GATT_CHR_SERIAL_NUMBER, STEP_READ_STR,
		  "read serial number", l->info.serial);
	plan_read(l, svc, GATT_CHR_FIRMWARE_REV, STEP_READ_STR,
		  "read firmware revision", l->info.firmware);
	svc = gatt_db_find_svc16(&l->db, GATT_SVC_BATTERY);
	plan_read(l, svc, GATT_CHR_BATTERY_LEVEL, STEP_READ_BATTERY,
		  "read battery level", NULL);
	svc = gatt_db_find_svc16(&l->db, GATT_SVC_RSC);
	l->info.has_rsc = svc != NULL;
	plan_read(l, svc, GATT_CHR_RSC_FEATURE, STEP_READ_RSC,
		  "read RSC feature", NULL);

	svc = gatt_db_find_svc128(&l->db, uuid_svc);
	err = svc ? plan_gaitcap(l, svc) : -ENODEV;
	if (err == -ENODEV) {
		svc = gatt_db_find_svc16(&l->db, FFF0_SVC);
		err = svc ? plan_fff0(l, svc) : -ENODEV;
	}
	if (err) {
		link_done(l, err, "find the insole profile", 0);
		return;
	}
	l->state = LINK_PLAN;
	l->cur = 0;
	link_next(l);
}

static void on_mtu(void *user, int err, uint8_t ecode, const uint8_t *pdu,
		   size_t len)
{
	struct insole_link *l = user;

	/* A server without the exchange keeps 23 (3.4.2). */
	if (err && !(err == -EPROTO && ecode == ATT_ECODE_REQ_NOT_SUPP)) {
		link_done(l, err, "exchange MTU", ecode);
		return;
	}
	l->state = LINK_DISCOVER;
	err = gatt_discover(l->att, &l->db, on_discovered, l);
	if (err)
		link_done(l, err, "discovery", 0);
}

static void on_att_error(void *user, int err, const char *what)
{
	struct insole_link *l = user;

	link_log(l, err, "%s", what);
}

static int fwd_send(void *user, const uint8_t *pdu, size_t len)
{
	struct insole_link *l = user;

	return l->ops.send(l->user, pdu, len);
}

static uint64_t fwd_now(void *user)
{
	struct insole_link *l = user;

	return l->ops.now(l->user);
}

struct insole_link *insole_link_new(int fd, const struct insole_link_ops *ops,
				    void *user,
				    const struct insole_link_cfg *cfg)
{
	struct insole_link *l = calloc(1, sizeof(*l));
	struct ble_att_ops aops = { .error = on_att_error };

	if (!l)
		return NULL;
	if (ops)
		l->ops = *ops;
	l->user = user;
	if (l->ops.send)
		aops.send = fwd_send;
	if (l->ops.now)
		aops.now = fwd_now;
	l->att = ble_att_new(fd, &aops, l);
	if (!l->att) {
		free(l);
		return NULL;
	}
	l->cp_timeout = CP_TIMEOUT_NS;
	if (cfg) {
		if (cfg->rx_mtu && ble_att_set_rx_mtu(l->att, cfg->rx_mtu)) {
			ble_att_free(l->att);
			free(l);
			return NULL;
		}
		if (cfg->att_timeout_ns)
			ble_att_set_timeout(l->att, cfg->att_timeout_ns);
		if (cfg->cp_timeout_ns)
			l->cp_timeout = cfg->cp_timeout_ns;
	}
	l->info.battery_pct = -1;
	return l;
}

void insole_link_free(struct insole_link *l)
{
	if (!l)
		return;
	/* No ready() from the requests cancelled below. */
	l->state = LINK_FAILED;
	ble_att_free(l->att);
	free(l);
}

int insole_link_connect(struct insole_link *l)
{
	int err;

	if (l->state != LINK_IDLE)
		return -EALREADY;
	l->state = LINK_MTU;
	err = ble_att_exchange_mtu(l->att, on_mtu, l);
	if (err)
		l->state = LINK_FAILED;
	return err;
}

int insole_link_input(struct insole_link *l, const uint8_t *pdu, size_t len,
		      uint64_t rx_ns)
{
	return ble_att_input(l->att, pdu, len, rx_ns);
}

uint64_t insole_link_deadline(const struct insole_link *l)
{
	uint64_t d = ble_att_deadline(l->att);

	if (l->cp_wait && l->cp_deadline < d)
		d = l->cp_deadline;
	return d;
}

int insole_link_tick(struct insole_link *l, uint64_t now_ns)
{
	int err = ble_att_tick(l->att, now_ns);

	if (err)
		return err;
	if (l->cp_wait && now_ns >= l->cp_deadline) {
		l->cp_wait = false;
		link_log(l, -ETIMEDOUT, "no control point answer");
		link_done(l, -ETIMEDOUT, l->plan[l->cur].name, 0);
		return -ETIMEDOUT;
	}
	return 0;
}

int insole_link_stop(struct insole_link *l)
{
	uint8_t v;

	if (l->state != LINK_READY)
		return -EINVAL;
	if (l->info.profile == INSOLE_PROFILE_GAITCAP) {
		v = INSOLE_CP_STOP;
		return gatt_write(l->att, l->info.control_handle, &v, 1,
				  on_write, l);
	}
	v = FFF0_CMD_STOP;
	if (l->control_req)
		return gatt_write(l->att, l->info.control_handle, &v, 1,
				  on_write, l);
	return gatt_write_cmd(l->att, l->info.control_handle, &v, 1);
}

const struct insole_link_info *insole_link_info(const struct insole_link *l)
{
	return &l->info;
}

struct ble_att *insole_link_att(struct insole_link *l)
{
	return l->att;
}

const struct gatt_db *insole_link_db(const struct insole_link *l)
{
	return &l->db;
}
