/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The insole simulator's GATT server: an ATT server on a plain file
 * descriptor (an L2CAP LE ATT socket in gaitinsole-sim, one end of a
 * socketpair in the unit tests), the database of one insole (GAP, Device
 * Information, Battery, Running Speed and Cadence, and either the gaitcap
 * vendor profile or the commodity 0xFFF0 one, as ble/insole_gatt.h
 * defines them) and the sample stream.
 *
 * Time is given, never read: the caller passes the insole clock (us) to
 * every call that may act on it, so tests drive the server without sleeps.
 * docs/simulator.md describes the behaviour, faults included.
 */
#ifndef INSOLE_SRV_H
#define INSOLE_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "insole_model.h"

enum insole_profile {
	INSOLE_PROFILE_GAITCAP,		/* 128-bit vendor service */
	INSOLE_PROFILE_FFF0,		/* commodity: 0xFFF0 / FFF1 / FFF2 */
};

#define INSOLE_SRV_MAX_MTU	247
#define INSOLE_SRV_DEF_MTU	23

/* Where samples come from: the walking model or a replayed recording. */
struct insole_source {
	/*
	 * The reading of sample @k of the stream (k counts samples since the
	 * simulator started streaming) when the insole clock shows @clock_us.
	 * 0, -ENODATA (no sample this tick: a gap in the recording) or
	 * -ENOENT (the recording is over: the stream stops).
	 */
	int (*sample)(void *ctx, uint64_t k, uint64_t clock_us,
		      struct insole_reading *r);
	void *ctx;
};

enum insole_fault_kind {
	INSOLE_FAULT_DROP,		/* the notification is never sent */
	INSOLE_FAULT_MALFORMED,		/* a broken PDU is sent instead */
	INSOLE_FAULT_DISCONNECT,	/* the link is dropped before it */
};

struct insole_fault {
	uint64_t at;			/* index of the data notification */
	enum insole_fault_kind kind;
};

/* What became of one data notification, for the ground truth. */
enum insole_notify_status {
	INSOLE_SENT,
	INSOLE_DROPPED,			/* fault: never sent */
	INSOLE_MALFORMED,		/* fault: a broken PDU sent instead */
	INSOLE_UNSENT,			/* no link or notifications disabled */
	INSOLE_SEND_FAILED,		/* the socket refused it */
};

struct insole_notify_info {
	uint64_t index;			/* data notification number, from 0 */
	uint32_t seq;			/* of the first sample (gaitcap) */
	unsigned int n;			/* samples */
	uint64_t clock_us;		/* insole clock of the first sample */
	uint64_t due_us;		/* insole clock it was meant to leave */
	enum insole_notify_status status;
	const uint8_t *value;		/* what was (or would have been) sent */
	size_t len;
	unsigned int malformed_kind;	/* which broken PDU, when MALFORMED */
};

struct insole_srv_cfg {
	enum insole_profile profile;
	enum gait_side side;
	const char *name;		/* GAP device name */
	const char *serial;		/* Device Information serial number */
	uint8_t battery_pct;
	unsigned int rate_hz;		/* at power-on */
	bool fixed_rate;		/* SET_RATE only accepts rate_hz */
	unsigned int batch;		/* samples per notification, at most */
	bool autostart;			/* stream once notifications are on */
	uint16_t max_mtu;		/* our receive MTU (<= 247) */
	/* Reads and writes of the profile's attributes (vendor or 0xFFF0
	 * service, CCCDs included) need an encrypted link (BT_SECURITY of
	 * the attached socket >= MEDIUM); else ATT Insufficient Encryption. */
	bool require_encryption;
	/* One-sided delivery delay of each batch, insole clock us. */
	unsigned int conn_interval_us;	/* batches leave at a connection event */
	unsigned int retx_pct;		/* ... or 1-3 events later (lost PDU) */
	uint64_t seed;
	const struct insole_model *model;	/* description, RSC values */
	struct insole_source source;
	const struct insole_fault *faults;	/* sorted by at */
	size_t n_faults;
	/* Called for every data notification formed; may be NULL. */
	void (*on_notify)(void *ctx, const struct insole_notify_info *info);
	/* Control point requests and stream changes, for the log. */
	void (*on_event)(void *ctx, const char *what, uint64_t clock_us,
			 uint32_t arg);
	void *cb_ctx;
};

struct insole_srv;

int insole_srv_create(struct insole_srv **out, const struct insole_srv_cfg *cfg);
void insole_srv_destroy(struct insole_srv *s);

/* A new link on @fd (not owned): MTU 23, every CCCD off (no bonding). */
void insole_srv_attach(struct insole_srv *s, int fd);
/* The link is gone: notifications are counted as UNSENT until the next. */
void insole_srv_detach(struct insole_srv *s);

/*
 * Handle one received ATT PDU at insole clock @now_us. Returns 0, or
 * -errno when the socket failed (the caller drops the link).
 */
int insole_srv_handle(struct insole_srv *s, const uint8_t *pdu, size_t len,
		      uint64_t now_us);

/*
 * Take every sample due by @now_us and send every batch whose delivery
 * time has come. Returns 0, 1 when a DISCONNECT fault fires (the caller
 * drops the link now), or -errno when the socket failed.
 */
int insole_srv_pump(struct insole_srv *s, uint64_t now_us);

/* Insole clock of the next thing pump() will do, or UINT64_MAX. */
uint64_t insole_srv_next_us(const struct insole_srv *s);

bool insole_srv_streaming(const struct insole_srv *s);
uint16_t insole_srv_mtu(const struct insole_srv *s);
/* Handle of a characteristic value by its 16-bit UUID or vendor id. */
uint16_t insole_srv_value_handle(const struct insole_srv *s, uint16_t uuid16,
				 bool vendor);

#endif /* INSOLE_SRV_H */
