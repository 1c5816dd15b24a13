// SPDX-License-Identifier: GPL-2.0
/*
 * Source "ble": one insole over Bluetooth LE (docs/capture.md, "Insoles").
 *
 * The insole is reached on an L2CAP LE socket bound to the ATT fixed
 * channel (CID 4), connected without blocking; the kernel makes the LE
 * link. The GATT sequence (MTU, discovery, Device Information, battery,
 * the profile's description, CCCDs, CLOCK_SYNC, START) is libgaitble's
 * insole_link, fed with the PDUs this source receives through the ring:
 * first by a service read of its own (recvmsg into a small buffer), then,
 * once the insole streams, by a MESSAGES channel that receives straight
 * into the session file. Every PDU still goes to the link (indications,
 * the peer's requests); only data notifications become records.
 *
 * Sequence numbers are the stream's own, one per notification, across
 * reconnections. A jump of the profile's sample counter is a device gap
 * (the notifications it would have taken); a lost link is a DISCONNECT
 * gap from the last record before it to the first after it; a notification
 * the counter says was already stored is dropped, never stored twice.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/l2cap.h>
#include <json-c/json.h>

#include "ble/insole_link.h"
#include "engine/engine_internal.h"
#include "gcprobes.h"

#define ATT_CID			4
#define MAX_PENDING		32	/* notifications before the channel exists */

enum ble_state {
	BS_IDLE,		/* not connected: next attempt at next_try */
	BS_CONNECTING,		/* connect() in progress */
	BS_SETUP,		/* the GATT sequence, read by the service op */
	BS_STREAMING,		/* the channel reads */
};

struct ble_pending {
	uint8_t pdu[ATT_MAX_MTU];
	uint32_t len;
	int64_t t_real, t_mono;
};

struct ble_src {
	struct eng_source s;
	struct eng_ble_opts o;
	bdaddr_t addr;
	enum ble_state state;
	int fd;
	struct insole_link *link;
	struct insole_link_info info;
	bool ready, failed;
	bool secure;		/* BT_SECURITY MEDIUM at connect */
	int mgmt_fd;		/* Just Works confirmations while connecting */
	int sec_level;		/* BT_SECURITY of the last link, -1: unknown */
	int64_t attempt_at, next_try, first_try;
	unsigned int backoff_ms;
	bool ever_connected;
	bool reached;		/* a link came up, if no stream yet */

	/* the service read of the GATT sequence */
	struct eng_svc svc;
	struct msghdr msg;
	struct iovec iov;
	uint8_t buf[ATT_MAX_MTU];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct timespec)) * 2];
	} cbuf;
	struct eng_clock_map rt;
	struct ble_pending *pend;
	unsigned int n_pend;

	struct eng_chan *chan;
	bool have_stream;
	uint32_t stream;

	/* sequence: records, the profile's counter, the insole's clock */
	uint64_t rec_seq;
	bool have_ctr;
	uint32_t next_ctr;
	bool have_t;
	uint32_t last_t_us;
	uint64_t t_hi;
	/* a lost link, written as a gap once the next record is in */
	bool gap_pending;
	int64_t lost_at;
	int64_t last_rec_t;

	unsigned int connects, losses;
	uint64_t duplicates;
};

static const char *const state_names[] = {
	[BS_IDLE] = "idle", [BS_CONNECTING] = "connecting",
	[BS_SETUP] = "setup", [BS_STREAMING] = "streaming",
};

void eng_ble_opts_init(struct eng_ble_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 10000;
	o->setup_timeout_ms = 20000;
	o->backoff_min_ms = 250;
	o->backoff_max_ms = 8000;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int eng_ble_addr_parse(const char *s, uint8_t out[6])
{
	int i, h, l;

	if (strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		h = hexval(s[3 * i]);
		l = hexval(s[3 * i + 1]);
		if (h < 0 || l < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		out[5 - i] = (uint8_t)(h << 4 | l);	/* bdaddr_t: LSB first */
	}
	return 0;
}

int eng_ble_parse(const char *spec, struct eng_ble_opts *o, const char **why)
{
	const char *eq = strchr(spec, '='), *addr, *slash, *plus;
	char head[40];
	uint8_t b[6];
	size_t n;

	*why = "expected SIDE=AA:BB:CC:DD:EE:FF[/random][+secure|+plain], SIDE left or right";
	if (!eq)
		return -EINVAL;
	o->security = ENG_BLE_SEC_AUTO;
	plus = strchr(eq, '+');
	if (plus) {
		if (!strcmp(plus + 1, "secure")) {
			o->security = ENG_BLE_SEC_SECURE;
		} else if (!strcmp(plus + 1, "plain")) {
			o->security = ENG_BLE_SEC_PLAIN;
		} else {
			*why = "the link security must be +secure or +plain";
			return -EINVAL;
		}
		n = (size_t)(plus - spec);
		if (n >= sizeof(head)) {
			*why = "not a Bluetooth address (six hex bytes: AA:BB:CC:DD:EE:FF)";
			return -EINVAL;
		}
		memcpy(head, spec, n);
		head[n] = '\0';
		eq = head + (eq - spec);
		spec = head;
	}
	n = (size_t)(eq - spec);
	if (!((n == 4 && !strncmp(spec, "left", 4)) ||
	      (n == 5 && !strncmp(spec, "right", 5)))) {
		*why = "the side must be left or right";
		return -EINVAL;
	}
	memcpy(o->side, spec, n);
	o->side[n] = '\0';
	addr = eq + 1;
	slash = strchr(addr, '/');
	n = slash ? (size_t)(slash - addr) : strlen(addr);
	if (n != 17) {
		*why = "not a Bluetooth address (six hex bytes: AA:BB:CC:DD:EE:FF)";
		return -EINVAL;
	}
	memcpy(o->bdaddr, addr, 17);
	o->bdaddr[17] = '\0';
	if (eng_ble_addr_parse(o->bdaddr, b)) {
		*why = "not a Bluetooth address (six hex bytes: AA:BB:CC:DD:EE:FF)";
		return -EINVAL;
	}
	o->random = false;
	if (slash) {
		if (!strcmp(slash + 1, "random")) {
			/* A random static address has its two top bits set. */
			if ((b[5] & 0xc0) != 0xc0) {
				*why = "a random static address starts with C0..FF";
				return -EINVAL;
			}
			o->random = true;
		} else if (strcmp(slash + 1, "public")) {
			*why = "the address type must be /random or /public";
			return -EINVAL;
		}
	}
	return 0;
}

static int64_t ms_ns(unsigned int ms)
{
	return (int64_t)ms * NS_PER_MS;
}

/* ---- Sequence numbers and gaps -------------------------------------------------- */

/*
 * One data notification (its ATT value): its stream sequence number, the
 * insole's clock, and whether it is new. false: already stored (dropped).
 */
static bool ble_sequence(struct ble_src *b, const uint8_t *val, size_t len,
			 struct eng_rec_info *ri)
{
	uint64_t lost = 0;

	if (b->info.profile == INSOLE_PROFILE_GAITCAP &&
	    len >= INSOLE_DATA_HDR) {
		uint32_t ctr = ble_get_le32(val + INSOLE_DATA_OFF_SEQ);
		uint32_t t_us = ble_get_le32(val + INSOLE_DATA_OFF_T_US);
		uint16_t flags = ble_get_le16(val + INSOLE_DATA_OFF_FLAGS);
		uint32_t n = val[INSOLE_DATA_OFF_N];

		if (b->have_ctr && !(flags & INSOLE_DATA_F_RESTART)) {
			int32_t d = (int32_t)(ctr - b->next_ctr);

			if (d < 0) {
				b->duplicates++;
				return false;
			}
			/* The notifications the missing samples filled. */
			if (d > 0)
				lost = n ? ((uint64_t)d + n - 1) / n : 1;
		}
		if (flags & INSOLE_DATA_F_RESTART)
			b->have_t = false;	/* its clock may restart too */
		b->have_ctr = true;
		b->next_ctr = ctr + n;
		if (b->have_t && t_us < b->last_t_us &&
		    b->last_t_us - t_us > 0x80000000u)
			b->t_hi += 1ull << 32;
		b->have_t = true;
		b->last_t_us = t_us;
		ri->device_ns = (int64_t)((b->t_hi + t_us) * 1000);
		ri->has_device_ns = true;
	}
	if (b->gap_pending) {
		/* The outage: what the counter says it took, or its time. */
		uint64_t first = lost ? b->rec_seq : GCS_SEQ_UNKNOWN;
		uint64_t last = lost ? b->rec_seq + lost - 1 : GCS_SEQ_UNKNOWN;
		int ret = eng_gap(b->s.e, b->stream, GCS_GAP_DISCONNECT, first,
				  last, b->lost_at, ri->t_ns);

		if (ret)
			eng_fail(b->s.e, ret);
		b->gap_pending = false;
		ri->missing = 0;
	} else {
		ri->missing = (uint32_t)(lost > UINT32_MAX ? UINT32_MAX : lost);
	}
	ri->seq = b->rec_seq + lost;
	b->rec_seq = ri->seq + 1;
	b->last_rec_t = ri->t_ns;
	return true;
}

static bool is_data(const struct ble_src *b, const uint8_t *pdu, size_t len)
{
	return len >= 3 && pdu[0] == ATT_OP_NOTIFY &&
	       ble_get_le16(pdu + 1) == b->info.data_handle;
}

/* Every PDU of the streaming channel: to the link; data are records. */
static void ble_rec_info(void *priv, const uint8_t *pdu, uint32_t len,
			 struct eng_rec_info *ri)
{
	struct ble_src *b = priv;
	bool data = is_data(b, pdu, len);

	if (b->link)
		insole_link_input(b->link, pdu, len, (uint64_t)ri->t_ns);
	if (!data || !ble_sequence(b, pdu + 3, len - 3, ri))
		ri->drop = true;
}

/* ---- The stream ------------------------------------------------------------------ */

static void jadd_str(struct json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

/*
 * A string the insole chose (Device Information): free text such as
 * "ACME insole v2 (L)", which the session's metadata policy refuses
 * (tokens only, docs/session-format.md). Kept as a token: every other
 * character becomes '_', at most 64.
 */
static void jadd_device_str(struct json_object *o, const char *k, const char *v)
{
	char t[65];
	size_t i;

	for (i = 0; v && v[i] && i < sizeof(t) - 1; i++)
		t[i] = isalnum((unsigned char)v[i]) || strchr("._:/+<>=-", v[i]) ?
		       v[i] : '_';
	t[i] = '\0';
	jadd_str(o, k, t);
}

static void jadd_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void jadd_num(struct json_object *o, const char *k, double v)
{
	json_object_object_add(o, k, json_object_new_double(v));
}

/* What a reader needs to decode the records, from what the insole said. */
static struct json_object *ble_describe(const struct ble_src *b)
{
	const struct insole_link_info *in = &b->info;
	struct json_object *o = json_object_new_object(), *a;
	char dev[24];
	bool gaitcap = in->profile == INSOLE_PROFILE_GAITCAP;

	if (!o)
		return NULL;
	snprintf(dev, sizeof(dev), "insole-%s", b->o.side);
	jadd_str(o, "device", dev);
	jadd_str(o, "side", b->o.side);
	jadd_str(o, "bdaddr", b->o.bdaddr);
	jadd_str(o, "bdaddr_type", b->o.random ? "random" : "public");
	jadd_str(o, "profile", gaitcap ? "gaitcap" : "fff0");
	jadd_str(o, "decoder", in->decoder ? in->decoder->name : "");
	jadd_device_str(o, "model", in->model[0] ? in->model :
			    (in->decoder ? in->decoder->name : "unknown"));
	jadd_device_str(o, "manufacturer", in->manufacturer);
	jadd_device_str(o, "serial", in->serial);
	jadd_device_str(o, "firmware", in->firmware);
	if (in->battery_pct >= 0)
		jadd_int(o, "battery_pct", in->battery_pct);
	if (in->has_rsc)
		jadd_int(o, "rsc_features", in->rsc_features);
	if (b->sec_level >= 0)
		jadd_str(o, "security", b->sec_level >= BT_SECURITY_MEDIUM ?
			 "encrypted" : "none");
	jadd_int(o, "att_mtu", in->mtu);
	jadd_int(o, "att_handle", in->data_handle);
	jadd_str(o, "record", "att_pdu");	/* opcode, handle, value */
	jadd_str(o, "timestamp", "kernel_rx");
	jadd_str(o, "seq", "notification");
	json_object_object_add(o, "sample_counter",
			       json_object_new_boolean(gaitcap));
	json_object_object_add(o, "device_clock",
			       json_object_new_boolean(gaitcap));
	if (!gaitcap)
		/* No counter, no clock: loss and jitter from arrival times. */
		jadd_str(o, "loss_from", "arrival_times");
	if (in->has_desc) {
		const struct insole_desc *d = &in->desc;

		jadd_int(o, "cells", d->n_cells);
		jadd_int(o, "rate_hz", d->rate_hz);
		jadd_int(o, "max_batch", d->max_batch);
		jadd_int(o, "full_scale", d->full_scale);
		jadd_num(o, "kpa_per_code", d->kpa_per_code);
		if (d->imu & INSOLE_DESC_IMU_ACCEL)
			jadd_num(o, "g_per_code", d->g_per_code);
		if (d->imu & INSOLE_DESC_IMU_GYRO)
			jadd_num(o, "dps_per_code", d->dps_per_code);
		a = json_object_new_array();
		for (unsigned int i = 0; a && i < d->n_cells; i++) {
			struct json_object *c = json_object_new_array();

			json_object_array_add(c, json_object_new_int(d->cell[i].x_mm));
			json_object_array_add(c, json_object_new_int(d->cell[i].y_mm));
			json_object_array_add(c, json_object_new_int(d->cell[i].area_mm2));
			json_object_array_add(a, c);
		}
		json_object_object_add(o, "cell_xy_area_mm", a);
	}
	if (in->sync.valid) {
		jadd_int(o, "sync_host_tx_ns", (int64_t)in->sync.host_tx_ns);
		jadd_int(o, "sync_host_rx_ns", (int64_t)in->sync.host_rx_ns);
		jadd_int(o, "sync_insole_us", in->sync.insole_us);
	}
	return o;
}

static int ble_declare(struct ble_src *b)
{
	struct gcs_stream_def def = {
		.kind = GCS_KIND_BLE_ATT, .record_size = 0,
		.ts_offset = GCS_NO_TS, .ts_clock = GCS_CLOCK_REALTIME,
	};
	struct json_object *o;
	int ret;

	if (b->have_stream)
		return 0;
	o = ble_describe(b);
	if (!o)
		return -ENOMEM;
	def.desc_json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ret = gcs_writer_add_stream(eng_writer(b->s.e), &def, &b->stream);
	json_object_put(o);
	if (!ret)
		b->have_stream = true;
	return ret;
}

/*
 * Notifications that came in with the sequence's last answers, before the
 * channel: one chunk, written as it is (the only copy this source makes).
 */
static int ble_flush_pending(struct ble_src *b)
{
	struct gcs_chunk_meta m = { .flags = GCS_CHUNK_F_CONTIGUOUS };
	uint8_t *body;
	uint32_t len = 0, n = 0;
	int ret = 0;

	for (unsigned int i = 0; i < b->n_pend; i++)
		len += gcs_var_rec_size(b->pend[i].len);
	if (!len)
		return 0;
	body = malloc(len);
	if (!body)
		return -ENOMEM;
	len = 0;
	for (unsigned int i = 0; i < b->n_pend; i++) {
		struct ble_pending *p = &b->pend[i];
		struct eng_rec_info ri = { .t_ns = p->t_mono };

		if (!ble_sequence(b, p->pdu + 3, p->len - 3, &ri))
			continue;
		if (n && ri.seq != m.last_seq + 1) {
			/* A jump: what came before goes as its own chunk. */
			ret = gcs_writer_write_chunk(eng_writer(b->s.e), b->stream,
						     body, &m);
			if (ret)
				goto out;
			len = 0;
			n = 0;
		}
		if (ri.missing)
			eng_gap(b->s.e, b->stream, GCS_GAP_DEVICE_OVERFLOW,
				ri.seq - ri.missing, ri.seq - 1,
				b->lost_at ? b->lost_at : p->t_mono, p->t_mono);
		if (!n) {
			m.first_seq = ri.seq;
			m.t_first_ns = p->t_mono;
		}
		GCPROBE4(msg_early, b->stream, ri.seq, (uintptr_t)p->pdu, p->len);
		if (GCPROBE_ENABLED(msg_notes))
			gcprobe_note_msg(b->stream, ri.seq, 0, 0, p->pdu, p->len);
		m.last_seq = ri.seq;
		m.t_last_ns = p->t_mono > m.t_first_ns ? p->t_mono : m.t_first_ns;
		len += gcs_var_rec_put(body + len, p->t_real, p->pdu, p->len);
		n++;
		m.len = len;
		m.n_records = n;
	}
	if (n)
		ret = gcs_writer_write_chunk(eng_writer(b->s.e), b->stream, body,
					     &m);
out:
	free(body);
	b->n_pend = 0;
	return ret;
}

/* ---- The link ------------------------------------------------------------------ */

static void ble_agent_close(struct ble_src *b);

static void ble_close(struct ble_src *b)
{
	if (b->link) {
		insole_link_free(b->link);
		b->link = NULL;
	}
	if (b->fd >= 0) {
		close(b->fd);
		b->fd = -1;
	}
	ble_agent_close(b);
	b->ready = false;
	b->failed = false;
	b->n_pend = 0;
}

/* Try again later: each failure doubles the wait, up to backoff_max_ms. */
static void ble_retry(struct ble_src *b, int64_t now)
{
	ble_close(b);
	b->state = BS_IDLE;
	b->next_try = now + ms_ns(b->backoff_ms);
	b->backoff_ms = !b->backoff_ms ? b->o.backoff_min_ms :
			b->backoff_ms * 2 > b->o.backoff_max_ms ?
			b->o.backoff_max_ms : b->backoff_ms * 2;
	b->s.waiting = true;
}

static void link_ready(void *user, int err, const struct insole_link_info *info)
{
	struct ble_src *b = user;

	if (err) {
		bool enc = err == -EPROTO &&
			   (info->att_ecode == ATT_ECODE_AUTHENTICATION ||
			    info->att_ecode == ATT_ECODE_ENCRYPTION);

		snprintf(b->s.why, sizeof(b->s.why),
			 "%s: GATT setup failed at %s: %s%s", b->s.name,
			 info->failed_step ? info->failed_step : "?",
			 strerror(-err),
			 !enc ? "" : b->o.security == ENG_BLE_SEC_PLAIN ?
			 " (the insole requires an encrypted link; +plain forbids it)" :
			 b->secure ? " (the insole refuses even the encrypted link)" :
			 " (the insole requires an encrypted link: encrypting)");
		/* As BlueZ's GATT client: raise the security, then again. */
		if (enc && !b->secure && b->o.security != ENG_BLE_SEC_PLAIN) {
			b->secure = true;
			b->backoff_ms = 0;
		}
		b->failed = true;
		return;
	}
	b->info = *info;
	b->ready = true;
}

static void link_log(void *user, int err, const char *msg)
{
	(void)user;
	(void)err;
	(void)msg;	/* counted by the ATT engine; nothing prints here */
}

static const struct insole_link_ops link_ops = {
	.ready = link_ready, .log = link_log,
};

static int ble_add_channel(struct ble_src *b)
{
	struct eng_chan_def cd = {
		.label = b->s.name, .fd = b->fd, .kind = ENG_CHAN_MESSAGES,
		.stream = b->stream, .msg_max = ATT_MAX_MTU,
		.rx_timestamp = true, .has_seq = true, .rec_ts = true,
		.gap_reason = GCS_GAP_DEVICE_OVERFLOW,
		.rec_info = ble_rec_info, .priv = b,
		.commit_each = b->o.commit_each,
	};

	return eng_chan_add(b->s.e, &b->s, &cd, &b->chan);
}

/* The sequence is done: the stream (first time), what came early, the channel. */
static void ble_stream(struct ble_src *b)
{
	int ret = ble_declare(b);

	if (!ret)
		ret = ble_flush_pending(b);
	if (!ret)
		ret = ble_add_channel(b);
	if (ret) {
		eng_fail(b->s.e, ret);
		return;
	}
	b->state = BS_STREAMING;
	b->s.waiting = false;
	b->backoff_ms = b->o.backoff_min_ms;
	b->connects++;
	b->ever_connected = true;
}

static int64_t cmsg_time(struct msghdr *msg)
{
	struct cmsghdr *cm;
	struct timespec ts;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_TIMESTAMPNS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(ts))) {
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
		}
	}
	return eng_clock_ns(CLOCK_REALTIME);
}

static int ble_svc_arm(struct ble_src *b)
{
	b->iov.iov_base = b->buf;
	b->iov.iov_len = sizeof(b->buf);
	memset(&b->msg, 0, sizeof(b->msg));
	b->msg.msg_iov = &b->iov;
	b->msg.msg_iovlen = 1;
	b->msg.msg_control = b->cbuf.buf;
	b->msg.msg_controllen = sizeof(b->cbuf.buf);
	b->svc.fd = b->fd;
	return eng_svc_arm(b->s.e, &b->svc);
}

/* A PDU of the GATT sequence, through the source's own read. */
static void svc_done(struct eng *e, struct eng_svc *svc, int res)
{
	struct ble_src *b = svc->ctx;
	int64_t t_real, t_mono, now = eng_now();

	if (b->state != BS_SETUP)
		return;		/* cancelled as the capture stops */
	if (res == -ECANCELED) {
		if (!eng_stopping(e))
			ble_retry(b, now);
		return;
	}
	if (res <= 0) {
		snprintf(b->s.why, sizeof(b->s.why), "%s: link lost during setup: %s",
			 b->s.name, res ? strerror(-res) : "closed by the insole");
		ble_retry(b, now);
		return;
	}
	t_real = cmsg_time(&b->msg);
	t_mono = eng_clock_map(&b->rt, t_real);
	if (b->link && is_data(b, b->buf, (size_t)res) && b->n_pend < MAX_PENDING) {
		struct ble_pending *p = &b->pend[b->n_pend++];

		memcpy(p->pdu, b->buf, (size_t)res);
		p->len = (uint32_t)res;
		p->t_real = t_real;
		p->t_mono = t_mono;
	}
	insole_link_input(b->link, b->buf, (size_t)res, (uint64_t)t_mono);
	if (b->failed) {
		ble_retry(b, now);
		return;
	}
	if (b->ready) {
		ble_stream(b);
		return;
	}
	if (ble_svc_arm(b))
		ble_retry(b, now);
}

/*
 * The kernel asks the host to confirm even Just Works pairing (mgmt User
 * Confirmation Request, confirm hint 1), at the central too. bluetoothd's
 * agent answers when it runs; without it nobody does and SMP stalls, so
 * while our own secure connect is pending we confirm Just Works for this
 * insole's address only. No socket (no CAP_NET_ADMIN): bluetoothd's job.
 */
#define MGMT_EV_USER_CONFIRM_REQUEST	0x000f
#define MGMT_OP_USER_CONFIRM_REPLY	0x001c

static void ble_agent_open(struct ble_src *b)
{
	struct sockaddr_hci a = { .hci_family = AF_BLUETOOTH,
				  .hci_dev = HCI_DEV_NONE,
				  .hci_channel = HCI_CHANNEL_CONTROL };
	int fd;

	if (b->mgmt_fd >= 0)
		return;
	fd = socket(AF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    BTPROTO_HCI);
	if (fd < 0)
		return;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return;
	}
	b->mgmt_fd = fd;
}

static void ble_agent_close(struct ble_src *b)
{
	if (b->mgmt_fd >= 0)
		close(b->mgmt_fd);
	b->mgmt_fd = -1;
}

static void ble_agent_poll(struct ble_src *b)
{
	uint8_t ev[6 + 64], rep[6 + 7];
	ssize_t n;

	while (b->mgmt_fd >= 0 &&
	       (n = read(b->mgmt_fd, ev, sizeof(ev))) >= 6 + 12) {
		/* opcode, index, length; then address, type, hint, value */
		if ((ev[0] | ev[1] << 8) != MGMT_EV_USER_CONFIRM_REQUEST ||
		    memcmp(ev + 6, b->addr.b, 6) || ev[6 + 7] != 1)
			continue;
		rep[0] = MGMT_OP_USER_CONFIRM_REPLY & 0xff;
		rep[1] = MGMT_OP_USER_CONFIRM_REPLY >> 8;
		rep[2] = ev[2];
		rep[3] = ev[3];
		rep[4] = 7;
		rep[5] = 0;
		memcpy(rep + 6, ev + 6, 7);
		if (write(b->mgmt_fd, rep, sizeof(rep)) < 0)
			ble_agent_close(b);
	}
}

static int ble_connect(struct ble_src *b, int64_t now)
{
	struct sockaddr_l2 la = { .l2_family = AF_BLUETOOTH,
				  .l2_cid = htobs(ATT_CID),
				  .l2_bdaddr_type = BDADDR_LE_PUBLIC };
	struct sockaddr_l2 ra = { .l2_family = AF_BLUETOOTH,
				  .l2_cid = htobs(ATT_CID) };
	int fd, ret;

	fd = socket(AF_BLUETOOTH, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    BTPROTO_L2CAP);
	if (fd < 0)
		return -errno;
	if (b->o.adapter)
		eng_ble_addr_parse(b->o.adapter, la.l2_bdaddr.b);
	if (bind(fd, (struct sockaddr *)&la, sizeof(la)))
		goto err;
	/*
	 * Encryption before any ATT PDU: the connect completes once the
	 * link is encrypted, with the stored LTK or after (Just Works)
	 * pairing, and fails if that fails.
	 */
	if (b->secure) {
		struct bt_security sec = { .level = BT_SECURITY_MEDIUM };

		if (setsockopt(fd, SOL_BLUETOOTH, BT_SECURITY, &sec, sizeof(sec)))
			goto err;
		ble_agent_open(b);
	}
	ra.l2_bdaddr = b->addr;
	ra.l2_bdaddr_type = b->o.random ? BDADDR_LE_RANDOM : BDADDR_LE_PUBLIC;
	if (connect(fd, (struct sockaddr *)&ra, sizeof(ra)) && errno != EINPROGRESS)
		goto err;
	b->fd = fd;
	b->state = BS_CONNECTING;
	b->attempt_at = now;
	return 0;
err:
	ret = -errno;
	close(fd);
	return ret;
}

static int ble_sec_level(int fd)
{
	struct bt_security sec = { 0 };
	socklen_t len = sizeof(sec);

	if (getsockopt(fd, SOL_BLUETOOTH, BT_SECURITY, &sec, &len))
		return -1;
	return sec.level;
}

/* connect() finished (the socket is writable): start the GATT sequence. */
static int ble_connected(struct ble_src *b, int64_t now)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	if (err)
		return -err;
	b->sec_level = ble_sec_level(b->fd);
	b->reached = true;
	ble_agent_close(b);
	err = 1;
	if (setsockopt(b->fd, SOL_SOCKET, SO_TIMESTAMPNS, &err, sizeof(err)))
		return -errno;
	b->link = insole_link_new(b->fd, &link_ops, b, NULL);
	if (!b->link)
		return -ENOMEM;
	b->state = BS_SETUP;
	b->attempt_at = now;
	b->ready = b->failed = false;
	err = insole_link_connect(b->link);
	if (!err)
		err = ble_svc_arm(b);
	return err;
}

static void ble_tick(struct eng_source *s, int64_t now)
{
	struct ble_src *b = s->priv;
	struct pollfd p;
	int ret;

	if (b->o.wait_ms && !b->ever_connected &&
	    now - b->first_try > ms_ns(b->o.wait_ms)) {
		char last[sizeof(s->why)];

		/* Reached but refused: the last refusal says why. */
		snprintf(last, sizeof(last), "%s", s->why);
		if (b->reached && last[0]) {
			int n = snprintf(s->why, sizeof(s->why),
					 "not started within %u ms: ", b->o.wait_ms);

			if (n > 0 && (size_t)n < sizeof(s->why))
				snprintf(s->why + n, sizeof(s->why) - (size_t)n,
					 "%.*s", (int)(sizeof(s->why) - (size_t)n - 1), last);
		}
		else
			snprintf(s->why, sizeof(s->why),
				 "%s: insole %s not found within %u ms (is it on, in range, advertising?)",
				 s->name, b->o.bdaddr, b->o.wait_ms);
		s->waiting = false;
		ble_close(b);
		b->state = BS_IDLE;
		b->next_try = INT64_MAX;
		eng_stop(s->e, -EHOSTDOWN);
		return;
	}
	switch (b->state) {
	case BS_IDLE:
		if (now < b->next_try)
			return;
		if (b->o.dial) {
			ret = b->o.dial(b->o.dial_ctx);
			if (ret >= 0) {
				b->fd = ret;
				ret = ble_connected(b, now);
			}
			if (ret)
				ble_retry(b, now);
			return;
		}
		ret = ble_connect(b, now);
		if (ret) {
			snprintf(s->why, sizeof(s->why), "%s: connect: %s",
				 s->name, strerror(-ret));
			if (ret == -EAFNOSUPPORT || ret == -EPROTONOSUPPORT) {
				eng_stop(s->e, ret);	/* no Bluetooth here */
				return;
			}
			ble_retry(b, now);
		}
		return;
	case BS_CONNECTING:
		ble_agent_poll(b);
		p = (struct pollfd){ .fd = b->fd, .events = POLLOUT };
		if (poll(&p, 1, 0) == 1) {
			ret = ble_connected(b, now);
			if (ret) {
				snprintf(s->why, sizeof(s->why), "%s: connect: %s%s",
					 s->name, strerror(-ret), b->secure ?
					 " (encrypting the link failed: not paired, or pairing refused)" : "");
				ble_retry(b, now);
			}
		} else if (now - b->attempt_at > ms_ns(b->o.connect_timeout_ms)) {
			snprintf(s->why, sizeof(s->why), "%s: connect%s: no answer in %u ms",
				 s->name, b->secure ? " (encrypted)" : "",
				 b->o.connect_timeout_ms);
			ble_retry(b, now);
		}
		return;
	case BS_SETUP:
		if (now - b->attempt_at > ms_ns(b->o.setup_timeout_ms)) {
			snprintf(s->why, sizeof(s->why), "%s: GATT setup took over %u ms",
				 s->name, b->o.setup_timeout_ms);
			/* The read in flight ends with the socket: svc_done retries. */
			shutdown(b->fd, SHUT_RDWR);
			return;
		}
		/* fall through */
	case BS_STREAMING:
		if (b->link && insole_link_deadline(b->link) <= (uint64_t)now &&
		    insole_link_tick(b->link, (uint64_t)now) == -ETIMEDOUT)
			shutdown(b->fd, SHUT_RDWR);	/* a dead bearer: reconnect */
		if (b->state == BS_SETUP && b->failed)
			shutdown(b->fd, SHUT_RDWR);
		return;
	}
}

static int ble_start(struct eng_source *s)
{
	struct ble_src *b = s->priv;

	b->first_try = eng_now();
	b->next_try = b->first_try;
	s->waiting = true;
	return 0;
}

/* The link went away (or the insole closed it): reconnect, later. */
static int ble_chan_end(struct eng_source *s, struct eng_chan *c, int err)
{
	struct ble_src *b = s->priv;
	struct eng_chan_stats st;

	if (c != b->chan)
		return 0;
	eng_chan_get_stats(c, &st);
	b->chan = NULL;
	if (!b->gap_pending) {
		b->lost_at = b->last_rec_t ? b->last_rec_t : eng_now();
		b->gap_pending = true;
	}
	b->losses++;
	snprintf(s->why, sizeof(s->why), "%s: link lost: %s", s->name,
		 err ? strerror(-err) : "closed by the insole");
	if (b->o.no_reconnect) {
		ble_close(b);
		b->state = BS_IDLE;
		b->next_try = INT64_MAX;
		s->waiting = false;
		return err ? err : -ENOTCONN;
	}
	b->backoff_ms = b->o.backoff_min_ms;
	ble_retry(b, eng_now());
	return 0;
}

static void ble_stopping(struct eng_source *s)
{
	struct ble_src *b = s->priv;

	s->waiting = false;
	if (b->svc.op.busy)
		ring_cancel(&s->e->ring, &b->svc.op);
}

static void ble_stop(struct eng_source *s)
{
	struct ble_src *b = s->priv;

	if (b->gap_pending && b->have_stream) {
		/* Still lost at the end: the outage up to now. */
		gcs_writer_gap(eng_writer(s->e), b->stream, GCS_GAP_DISCONNECT,
			       GCS_SEQ_UNKNOWN, GCS_SEQ_UNKNOWN, b->lost_at,
			       eng_now());
		b->gap_pending = false;
	}
	if (b->link && b->state == BS_STREAMING)
		insole_link_stop(b->link);	/* best effort: STOP, not waited for */
	ble_close(b);
	b->state = BS_IDLE;
}

static int ble_describe_status(struct eng_source *s, char *buf, size_t len)
{
	struct ble_src *b = s->priv;

	return snprintf(buf, len, "%s %s%s %s connects %u losses %u dup %llu%s%s",
			b->o.side, b->o.bdaddr, b->o.random ? "/random" : "",
			state_names[b->state], b->connects, b->losses,
			(unsigned long long)b->duplicates,
			b->state != BS_STREAMING && *s->why ? "; last: " : "",
			b->state != BS_STREAMING ? s->why : "");
}

/* The Battery Service level read at the last connect; -ENODATA: none. */
static int ble_battery(struct eng_source *s)
{
	struct ble_src *b = s->priv;

	return b->ever_connected && b->info.battery_pct >= 0 ?
	       b->info.battery_pct : -ENODATA;
}

void eng_source_ble_kick(struct eng_source *s)
{
	struct ble_src *b = s->priv;

	if (s->ops->battery != ble_battery || b->state != BS_IDLE ||
	    b->next_try == INT64_MAX)
		return;
	b->backoff_ms = b->o.backoff_min_ms;
	b->next_try = eng_now();
}

static void ble_destroy(struct eng_source *s)
{
	struct ble_src *b = s->priv;

	ble_close(b);
	free(b->pend);
	free(b);
}

static const struct eng_source_ops ble_ops = {
	.kind = "ble", .start = ble_start, .tick = ble_tick,
	.chan_end = ble_chan_end, .stopping = ble_stopping, .stop = ble_stop,
	.describe = ble_describe_status, .destroy = ble_destroy,
	.battery = ble_battery,
};

int eng_source_ble_create(struct eng_source **sp, const struct eng_ble_opts *o)
{
	struct ble_src *b;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->pend = calloc(MAX_PENDING, sizeof(*b->pend));
	if (!b->pend) {
		free(b);
		return -ENOMEM;
	}
	b->o = *o;
	if (!b->o.backoff_min_ms)
		b->o.backoff_min_ms = 250;
	if (b->o.backoff_max_ms < b->o.backoff_min_ms)
		b->o.backoff_max_ms = b->o.backoff_min_ms;
	if (!b->o.connect_timeout_ms)
		b->o.connect_timeout_ms = 10000;
	if (!b->o.setup_timeout_ms)
		b->o.setup_timeout_ms = 20000;
	if (eng_ble_addr_parse(b->o.bdaddr, b->addr.b)) {
		free(b->pend);
		free(b);
		return -EINVAL;
	}
	b->fd = -1;
	b->mgmt_fd = -1;
	b->secure = b->o.security == ENG_BLE_SEC_SECURE;
	b->sec_level = -1;
	b->backoff_ms = b->o.backoff_min_ms;
	eng_clock_map_init(&b->rt, CLOCK_REALTIME);
	b->svc = (struct eng_svc){
		.what = "ble setup", .fd = -1, .recvmsg = true, .msg = &b->msg,
		.done = svc_done, .ctx = b,
	};
	b->s.ops = &ble_ops;
	b->s.priv = b;
	snprintf(b->s.name, sizeof(b->s.name), "insole-%s", b->o.side);
	*sp = &b->s;
	return 0;
}
