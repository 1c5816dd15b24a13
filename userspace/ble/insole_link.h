/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One insole on one ATT bearer: the connect sequence and what follows.
 *
 * The caller owns the socket (an L2CAP LE socket on CID 4, connected) and
 * all reads: it hands each received PDU to insole_link_input() with its
 * receive time, and calls insole_link_tick() when insole_link_deadline()
 * has passed. Nothing here blocks or reads; PDUs go out through ops->send
 * or, when that is NULL, a non-blocking send(2) on the fd.
 *
 *	l = insole_link_new(fd, &ops, ctx, NULL);
 *	insole_link_connect(l);
 *	loop: insole_link_input(l, pdu, len, rx_ns) per received PDU;
 *	      insole_link_tick(l, now) once insole_link_deadline(l) <= now;
 *	ops.ready(ctx, 0, info) once streaming was asked for;
 *	ops.data(ctx, value, len, rx_ns) per data notification (decode it
 *	      with info->decoder, or match ATT_OP_NOTIFY + info->data_handle
 *	      on the raw PDU yourself);
 *	insole_link_stop(l) to ask the insole to stop; insole_link_free(l).
 *
 * The sequence (docs/protocols/insole-gatt.md): Exchange MTU, discovery,
 * reads of Device Information, Battery Level and RSC Feature when present,
 * then the profile: gaitcap vendor (device description, CCCDs, CLOCK_SYNC,
 * START through the control point, each answered by an indication) or the
 * commodity 0xFFF0 (CCCD, START). Callbacks must not free the link.
 * One link per connection: after a disconnect, free it and make a new one.
 */
#ifndef BLE_INSOLE_LINK_H
#define BLE_INSOLE_LINK_H

#include "ble/att.h"
#include "ble/gatt.h"
#include "ble/insole_dec.h"

#define GATT_CHR_RSC_FEATURE	0x2a54

enum insole_profile {
	INSOLE_PROFILE_NONE,
	INSOLE_PROFILE_GAITCAP,		/* vendor service, gaitcap-v1 */
	INSOLE_PROFILE_FFF0,		/* commodity 0xFFF0, decoder fff0 */
};

/* One CLOCK_SYNC exchange: the insole clock between two host instants. */
struct insole_clock_sync {
	bool valid;
	uint32_t token;
	uint64_t host_tx_ns;	/* ops->now when the request went out */
	uint64_t host_rx_ns;	/* rx_ns given with the answering indication */
	uint32_t insole_us;	/* the insole's clock in the answer */
};

#define INSOLE_STR_MAX 64

struct insole_link_info {
	enum insole_profile profile;
	const struct insole_decoder *decoder;
	uint16_t mtu;			/* ATT_MTU in force */
	uint16_t data_handle;		/* value handle of the data notifications */
	uint16_t control_handle;	/* START/STOP: control point or 0xFFF2 */
	/* Device Information strings, printable ASCII; "" when absent. */
	char manufacturer[INSOLE_STR_MAX], model[INSOLE_STR_MAX];
	char serial[INSOLE_STR_MAX], firmware[INSOLE_STR_MAX];
	int battery_pct;		/* -1: no Battery service or unreadable */
	bool has_rsc;
	uint16_t rsc_features;
	bool has_desc;			/* gaitcap: the device description */
	struct insole_desc desc;
	struct insole_clock_sync sync;	/* gaitcap only */
	/* On failure: the step, and the ATT error code when err == -EPROTO
	 * (ATT_ECODE_AUTHENTICATION / _ENCRYPTION: pair, then retry). */
	const char *failed_step;
	uint8_t att_ecode;
	uint8_t cp_status;		/* INSOLE_CP_* of a refused request */
};

struct insole_link_cfg {
	uint16_t rx_mtu;		/* 0: 247 */
	uint64_t att_timeout_ns;	/* 0: 30 s (ATT transaction) */
	uint64_t cp_timeout_ns;		/* 0: 5 s (control point answer) */
};

struct insole_link_ops {
	/* As in struct ble_att_ops; NULL: send(2) and CLOCK_MONOTONIC. */
	int (*send)(void *user, const uint8_t *pdu, size_t len);
	uint64_t (*now)(void *user);
	/* The sequence ended, once: 0 (streaming asked for) or -errno with
	 * @info telling how far it got. -ETIMEDOUT from the ATT layer means
	 * the bearer is dead: disconnect. */
	void (*ready)(void *user, int err, const struct insole_link_info *info);
	/* One data notification value (may come just before ready). */
	void (*data)(void *user, const uint8_t *val, size_t len,
		     uint64_t rx_ns);
	/* Diagnostics (refused PDUs, stray control point answers), or NULL. */
	void (*log)(void *user, int err, const char *msg);
};

/* @cfg may be NULL. Returns NULL when out of memory. */
struct insole_link *insole_link_new(int fd, const struct insole_link_ops *ops,
				    void *user,
				    const struct insole_link_cfg *cfg);
void insole_link_free(struct insole_link *l);
/* Start the connect sequence: 0 or -errno (-EALREADY when started). */
int insole_link_connect(struct insole_link *l);
/* One received PDU: 0, or -errno when refused (logged; the link goes on)
 * or -ETIMEDOUT once the bearer is dead. */
int insole_link_input(struct insole_link *l, const uint8_t *pdu, size_t len,
		      uint64_t rx_ns);
/* The next instant insole_link_tick() is due; ATT_NO_DEADLINE if none. */
uint64_t insole_link_deadline(const struct insole_link *l);
int insole_link_tick(struct insole_link *l, uint64_t now_ns);
/* Ask the insole to stop streaming (after ready): 0 or -errno. */
int insole_link_stop(struct insole_link *l);
const struct insole_link_info *insole_link_info(const struct insole_link *l);
struct ble_att *insole_link_att(struct insole_link *l);
/* The discovered attribute database (valid after discovery). */
const struct gatt_db *insole_link_db(const struct insole_link *l);

#endif /* BLE_INSOLE_LINK_H */
