// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated gait mat controller. See mat_ctrl.h for the time model and
 * docs/simulator.md for the behaviour on the wire.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mat_ctrl.h"

const uint16_t mat_rates[] = { 50, 100, 120, 200 };
const unsigned int mat_n_rates = sizeof(mat_rates) / sizeof(mat_rates[0]);

#define HOST_RX_CAP	64	/* the largest host frame is 24 bytes */
#define NO_TIME		UINT64_MAX

enum ev_kind { EV_INFO, EV_AUTOSTART, EV_SCAN, EV_HEARTBEAT, EV_NONE };

struct mat_ctrl {
	struct mat_cfg cfg;
	const struct gait_model *model;
	struct walkway w;
	struct gm_devinfo di;
	unsigned int n_sensels;
	uint16_t *gains;		/* Q4.12, tile-major like the images */
	double *counts_per_kpa;		/* raw counts per kPa, per sensel */
	mat_sink_fn sink;
	void *sink_ctx;
	struct sim_rng rng_ctrl;
	struct sim_rng rng_fault;

	/* Faults planned, and what was done. */
	struct fault_event *fev;
	size_t n_fev;
	size_t next_fev;
	struct mat_fault_record *flog;
	size_t n_flog;
	size_t cap_flog;

	/* Time and the line. */
	uint64_t now;
	uint64_t tx_free;		/* the UART is idle from then on */
	uint64_t silent_until;		/* nothing reaches the line before */

	/* The current boot. */
	uint64_t boot_sim;		/* sim time of clock 0 */
	uint32_t boot_id;
	struct mat_boot *boots;
	size_t n_boots;
	size_t cap_boots;
	bool info_pending;
	bool autostart_pending;
	uint64_t autostart_clock;
	uint64_t next_hb_clock;
	bool streaming;
	uint16_t rate;
	uint64_t scan_base_clock;	/* scan k is at base + k s / rate */
	uint64_t scan_k;
	uint32_t seq;			/* of the next scan */
	uint32_t scans_dropped;
	uint32_t cmd_errors;
	uint32_t err_flags;		/* since the last STATUS */
	bool pend_overflow;
	bool pend_zeroed;

	/* The run. */
	uint64_t gscan;			/* scans over all boots */
	uint64_t walk_start;
	struct mat_footfall_obs *obs;
	struct mat_stats st;

	/* Host commands. */
	struct gm_rx hrx;
	uint8_t hbuf[HOST_RX_CAP];

	/* Scratch. */
	uint16_t *img;
	double *kpa;
	uint32_t *touched;
	size_t n_touched;
	bool saturated;
	uint8_t *raw;
	uint8_t *wire;
};

bool mat_rate_valid(unsigned int rate_hz)
{
	unsigned int i;

	for (i = 0; i < mat_n_rates; i++)
		if (mat_rates[i] == rate_hz)
			return true;
	return false;
}

void mat_cfg_init(struct mat_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->n_tiles = 4;
	cfg->rate_hz = MAT_DEF_RATE;
	cfg->baud = MAT_DEF_BAUD;
	cfg->full_scale_kpa = MAT_DEF_FULL_SCALE;
	cfg->gain_spread = 0.05;
	cfg->seed = 1;
}

void mat_walkway_line(struct walkway *w, unsigned int n_tiles)
{
	unsigned int t;

	memset(w, 0, sizeof(*w));
	w->n_tiles = n_tiles;
	w->rows = MAT_TILE_SENSELS;
	w->cols = MAT_TILE_SENSELS;
	w->pitch_um = MAT_PITCH_UM;
	for (t = 0; t < n_tiles && t < GM_MAX_TILES; t++) {
		w->tiles[t].x_mm = t * MAT_TILE_MM;
		w->tiles[t].y_mm = 0;
		w->tiles[t].orient = 0;
		w->tiles[t].flags = GM_TILE_F_CALIB;
	}
}

static int fail(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* ---- Clock and schedule ---------------------------------------------------- */

static uint64_t period_us(const struct mat_ctrl *c)
{
	return 1000000 / c->rate;
}

/* Sim time of scan k of the current schedule; exact for 120 Hz too. */
static uint64_t scan_time(const struct mat_ctrl *c, uint64_t k)
{
	return c->boot_sim + c->scan_base_clock + k * 1000000 / c->rate;
}

/* Frame bodies are encoded in place, after the header. */
static uint8_t *body_buf(struct mat_ctrl *c)
{
	return c->raw + GM_HDR_LEN;
}

/* Line time of @len bytes: start bit, 8 data bits, stop bit. */
static uint64_t line_us(const struct mat_ctrl *c, size_t len)
{
	return ((uint64_t)len * 10 * 1000000 + c->cfg.baud - 1) / c->cfg.baud;
}

static uint64_t clock_of(const struct mat_ctrl *c, uint64_t sim_us)
{
	return sim_us >= c->boot_sim ? sim_us - c->boot_sim : 0;
}

static enum ev_kind next_event(const struct mat_ctrl *c, uint64_t *when)
{
	enum ev_kind kind = EV_NONE;
	uint64_t t, best = NO_TIME;

	/* Ties resolve in this order: boot info, autostart, scan, heartbeat. */
	if (c->info_pending) {
		t = c->boot_sim + MAT_BOOT_INFO_US;
		if (t < best) {
			best = t;
			kind = EV_INFO;
		}
	}
	if (c->autostart_pending) {
		t = c->boot_sim + c->autostart_clock;
		if (t < best) {
			best = t;
			kind = EV_AUTOSTART;
		}
	}
	if (c->streaming) {
		t = scan_time(c, c->scan_k);
		if (t < best) {
			best = t;
			kind = EV_SCAN;
		}
	}
	t = c->boot_sim + c->next_hb_clock;
	if (t < best) {
		best = t;
		kind = EV_HEARTBEAT;
	}
	*when = best;
	return kind;
}

uint64_t mat_ctrl_next_event_us(const struct mat_ctrl *c)
{
	uint64_t t;

	next_event(c, &t);
	return t;
}

uint64_t mat_ctrl_end_us(const struct mat_ctrl *c)
{
	if (c->walk_start == NO_TIME)
		return NO_TIME;
	return c->walk_start + gait_model_duration_us(c->model);
}

bool mat_ctrl_finished(const struct mat_ctrl *c)
{
	return c->walk_start != NO_TIME && c->now >= mat_ctrl_end_us(c);
}

uint64_t mat_ctrl_now_us(const struct mat_ctrl *c)
{
	return c->now;
}

/* ---- The line ------------------------------------------------------------- */

/*
 * Put @len bytes on the line at sim time @at (or when it is free). Returns
 * the offset of the first byte in the delivered stream, or NO_TIME when
 * the line is silenced (the bytes are lost and take no line time).
 */
static int line_send(struct mat_ctrl *c, const uint8_t *buf, size_t len,
		     uint64_t at, uint64_t *offset)
{
	uint64_t start = at > c->tx_free ? at : c->tx_free;
	int ret;

	if (offset)
		*offset = NO_TIME;
	if (start < c->silent_until)
		return 0;
	c->tx_free = start + line_us(c, len);
	ret = c->sink(c->sink_ctx, buf, len, start);
	if (ret)
		return ret;
	if (offset)
		*offset = c->st.bytes;
	c->st.bytes += len;
	return 0;
}

/* Raw frame in c->raw (body already at body_buf(c)) -> c->wire. */
static long frame_finish(struct mat_ctrl *c, uint8_t type, uint8_t flags,
			 size_t body_len, uint32_t seq, uint64_t clock_us,
			 size_t *raw_len)
{
	struct gm_hdr hdr = {
		.type = type,
		.flags = flags,
		.body_len = body_len,
		.seq = seq,
		.clock_us = clock_us,
	};
	long raw;

	raw = gm_build_frame(c->raw, GM_MAX_RAW, &hdr, body_buf(c));
	if (raw < 0)
		return raw;
	*raw_len = raw;
	return gm_cobs_encode(c->raw, raw, c->wire, GM_MAX_WIRE);
}

/* Build, encode and send a control frame whose body is in place. */
static int send_control(struct mat_ctrl *c, uint8_t type, long body_len,
			uint64_t at)
{
	size_t raw_len;
	long wire;

	if (body_len < 0)
		return -EPROTO;
	wire = frame_finish(c, type, 0, body_len, c->seq, clock_of(c, at),
			    &raw_len);
	if (wire < 0)
		return -EPROTO;
	if (type < sizeof(c->st.frames) / sizeof(c->st.frames[0]))
		c->st.frames[type]++;
	return line_send(c, c->wire, wire, at, NULL);
}

static int send_info(struct mat_ctrl *c, uint64_t at)
{
	unsigned int t, per_tile = c->w.rows * c->w.cols;
	long len;
	int ret;

	c->di.rate_hz = c->rate;
	c->di.boot_id = c->boot_id;
	len = gm_encode_devinfo(&c->di, body_buf(c), GM_MAX_BODY);
	ret = send_control(c, GM_T_DEVINFO, len, at);
	if (ret)
		return ret;
	for (t = 0; t < c->w.n_tiles; t++) {
		len = gm_encode_calib(&c->di, t, c->gains + t * per_tile,
				      body_buf(c), GM_MAX_BODY);
		ret = send_control(c, GM_T_CALIB, len, at);
		if (ret)
			return ret;
	}
	return 0;
}

static int send_status(struct mat_ctrl *c, uint64_t at)
{
	struct gm_status st = {
		.state = c->streaming ? GM_STATE_STREAMING : GM_STATE_IDLE,
		.rate_hz = c->rate,
		.error_flags = c->err_flags,
		.scans_dropped = c->scans_dropped,
		.cmd_errors = c->cmd_errors,
		.boot_id = c->boot_id,
	};

	/* Flags report what happened since the previous STATUS. */
	c->err_flags = 0;
	return send_control(c, GM_T_STATUS,
			    gm_encode_status(&st, body_buf(c), GM_MAX_BODY),
			    at);
}

static int send_ack(struct mat_ctrl *c, uint8_t cmd, uint8_t result,
		    uint32_t cmd_seq, uint64_t at)
{
	struct gm_ack ack = { .cmd = cmd, .result = result, .cmd_seq = cmd_seq };

	return send_control(c, GM_T_ACK,
			    gm_encode_ack(&ack, body_buf(c), GM_MAX_BODY),
			    at);
}

/* ---- Boot ----------------------------------------------------------------- */

static int push_boot(struct mat_ctrl *c)
{
	if (c->n_boots == c->cap_boots) {
		size_t cap = c->cap_boots ? 2 * c->cap_boots : 4;
		struct mat_boot *b = realloc(c->boots, cap * sizeof(*b));

		if (!b)
			return -ENOMEM;
		c->boots = b;
		c->cap_boots = cap;
	}
	c->boots[c->n_boots].boot_id = c->boot_id;
	c->boots[c->n_boots].sim_us = c->boot_sim;
	c->n_boots++;
	return 0;
}

/* Power-on state of the firmware, with its clock 0 at @boot_sim. */
static int boot(struct mat_ctrl *c, uint64_t boot_sim)
{
	uint32_t prev = c->boot_id;

	do {
		c->boot_id = (uint32_t)sim_rng_next(&c->rng_ctrl);
	} while (!c->boot_id || c->boot_id == prev);
	c->boot_sim = boot_sim;
	c->info_pending = true;
	c->autostart_pending = false;
	c->next_hb_clock = MAT_HEARTBEAT_US;
	c->streaming = false;
	c->rate = c->cfg.rate_hz;
	c->scan_base_clock = 0;
	c->scan_k = 0;
	c->seq = 0;
	c->scans_dropped = 0;
	c->cmd_errors = 0;
	c->err_flags = 0;
	c->pend_overflow = false;
	c->pend_zeroed = false;
	gm_rx_init(&c->hrx, c->hbuf, sizeof(c->hbuf));
	return push_boot(c);
}

static int do_info(struct mat_ctrl *c, uint64_t t)
{
	static const uint8_t delim = GM_DELIM;
	int ret;

	c->info_pending = false;
	/* A delimiter first: receivers sync on it, whatever came before. */
	ret = line_send(c, &delim, 1, t, NULL);
	if (ret)
		return ret;
	ret = send_info(c, t);
	if (ret)
		return ret;
	if (c->cfg.autostart) {
		/* Stream once the announcement is out, to the millisecond. */
		uint64_t done = clock_of(c, c->tx_free > t ? c->tx_free : t);

		c->autostart_pending = true;
		c->autostart_clock = (done + 999) / 1000 * 1000;
	}
	return 0;
}

static void start_streaming(struct mat_ctrl *c, uint64_t t)
{
	c->streaming = true;
	c->scan_base_clock = clock_of(c, t);
	c->scan_k = 0;
}

/* ---- Scans ---------------------------------------------------------------- */

static void add_kpa(void *ctx, unsigned int idx, double kpa)
{
	struct mat_ctrl *c = ctx;

	if (c->kpa[idx] == 0)
		c->touched[c->n_touched++] = idx;
	c->kpa[idx] += kpa;
}

/* Render walk time @walk_us into c->img (its touched sensels listed). */
static void render(struct mat_ctrl *c, uint64_t walk_us)
{
	size_t i;

	c->saturated = false;
	gait_model_render(c->model, walk_us, add_kpa, c);
	for (i = 0; i < c->n_touched; i++) {
		uint32_t idx = c->touched[i];
		double v = c->kpa[idx] * c->counts_per_kpa[idx];
		long raw = lround(v);

		if (raw >= GM_SENSEL_MAX) {
			raw = GM_SENSEL_MAX;
			c->saturated = true;
		}
		c->img[idx] = raw;
	}
}

static void render_clear(struct mat_ctrl *c)
{
	size_t i;

	for (i = 0; i < c->n_touched; i++) {
		c->img[c->touched[i]] = 0;
		c->kpa[c->touched[i]] = 0;
	}
	c->n_touched = 0;
}

void mat_ctrl_image(struct mat_ctrl *c, uint64_t walk_us, uint16_t *out)
{
	render(c, walk_us);
	memcpy(out, c->img, c->n_sensels * sizeof(*out));
	render_clear(c);
}

static void observe(struct mat_ctrl *c, uint64_t walk_us)
{
	struct mat_scan_ref ref = {
		.valid = true,
		.boot = c->n_boots - 1,
		.seq = c->seq,
		.scan = c->gscan,
	};
	size_t idx[8], n, i;

	n = gait_model_contacts(c->model, walk_us, idx, 8);
	for (i = 0; i < n && i < 8; i++) {
		struct mat_footfall_obs *o = &c->obs[idx[i]];

		if (!o->first.valid)
			o->first = ref;
		o->last = ref;
	}
}

static struct mat_fault_record *log_fault(struct mat_ctrl *c,
					  const struct fault_event *fe,
					  uint64_t t)
{
	struct mat_fault_record *r;

	if (c->n_flog == c->cap_flog) {
		size_t cap = c->cap_flog ? 2 * c->cap_flog : 16;

		r = realloc(c->flog, cap * sizeof(*r));
		if (!r)
			return NULL;
		c->flog = r;
		c->cap_flog = cap;
	}
	r = &c->flog[c->n_flog++];
	memset(r, 0, sizeof(*r));
	r->kind = fe->kind;
	r->scan = c->gscan;
	r->boot = c->n_boots - 1;
	r->seq = c->seq;
	r->clock_us = clock_of(c, t);
	r->sim_us = t;
	r->offset = c->st.bytes;
	return r;
}

static int do_reset(struct mat_ctrl *c, const struct fault_event *fe,
		    uint64_t t)
{
	struct mat_fault_record *r = log_fault(c, fe, t);
	int ret;

	if (!r)
		return -ENOMEM;
	ret = boot(c, t + FAULT_RESET_DOWN_US);
	r->detail = c->boot_id;
	/* Whatever was queued on the UART died with the firmware. */
	c->tx_free = t;
	return ret;
}

/* Encode c->img as the smaller of SPARSE and DENSE into c->raw's body. */
static long encode_image(struct mat_ctrl *c, uint8_t *type)
{
	size_t dense = GM_DENSE_HDR_LEN +
		       c->w.n_tiles * GM_PACKED_LEN(c->w.rows * c->w.cols);
	long len;

	/* A sparse body is only worth it when it is strictly smaller. */
	len = gm_encode_sparse(&c->di, c->img, body_buf(c), dense - 1);
	if (len >= 0) {
		*type = GM_T_SPARSE;
		return len;
	}
	if (len != -GM_ENOSPC)
		return len;
	*type = GM_T_DENSE;
	return gm_encode_dense(&c->di, c->img, body_buf(c), GM_MAX_BODY);
}

static int do_scan(struct mat_ctrl *c, uint64_t t)
{
	const struct fault_event *fe = NULL;
	struct mat_fault_record *r;
	uint64_t walk_us, clock = clock_of(c, t), off, end;
	uint8_t type, flags = 0, garbage[FAULT_GARBAGE_MAX + 1];
	size_t raw_len, wire_len;
	long body, wire;
	int ret = 0;

	if (c->next_fev < c->n_fev && c->fev[c->next_fev].scan == c->gscan)
		fe = &c->fev[c->next_fev++];
	c->scan_k++;
	if (fe && fe->kind == FAULT_RESET) {
		ret = do_reset(c, fe, t);
		c->gscan++;
		return ret;
	}
	if (c->walk_start == NO_TIME)
		c->walk_start = t;
	walk_us = t - c->walk_start;
	if (fe && fe->kind == FAULT_SILENCE) {
		r = log_fault(c, fe, t);
		if (!r)
			return -ENOMEM;
		r->detail = fe->param;
		c->silent_until = t + (uint64_t)fe->param * 1000;
	}
	observe(c, walk_us);
	render(c, walk_us);
	body = encode_image(c, &type);
	if (body < 0) {
		ret = -EPROTO;
		goto out;
	}
	if (c->pend_overflow)
		flags |= GM_F_OVERFLOW;
	if (c->pend_zeroed)
		flags |= GM_F_ZEROED;
	if (c->saturated)
		flags |= GM_F_SATURATED;
	wire = frame_finish(c, type, flags, body, c->seq, clock, &raw_len);
	if (wire < 0) {
		ret = -EPROTO;
		goto out;
	}

	/* The byte budget: the frame must be out before the next scan. */
	end = (t > c->tx_free ? t : c->tx_free) + line_us(c, wire);
	if (end > t + period_us(c) || (fe && fe->kind == FAULT_BUDGET)) {
		if (fe && fe->kind == FAULT_BUDGET && !log_fault(c, fe, t)) {
			ret = -ENOMEM;
			goto out;
		}
		c->scans_dropped++;
		c->st.budget_drops++;
		c->err_flags |= GM_ERRF_LINK_BUDGET;
		c->pend_overflow = true;
		goto out;
	}
	/* From here the firmware believes the frame is sent. */
	c->pend_overflow = false;
	c->pend_zeroed = false;
	c->st.data_frames++;
	c->st.frames[type]++;
	if (type == GM_T_DENSE)
		c->st.dense++;
	else
		c->st.sparse++;

	if (fe && fe->kind == FAULT_GARBAGE) {
		wire_len = fault_garbage(&c->rng_fault, fe->param, garbage);
		ret = line_send(c, garbage, wire_len, t, &off);
		if (ret)
			goto out;
		r = log_fault(c, fe, t);
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		r->offset = off;
		r->len = wire_len;
		r->detail = wire_len - 1;
	} else if (fe && fe->kind == FAULT_DROP) {
		if (!log_fault(c, fe, t))
			ret = -ENOMEM;
		goto out;
	} else if (fe && fe->kind == FAULT_CRC) {
		uint8_t x;

		r = log_fault(c, fe, t);
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		r->detail = fault_corrupt_body(&c->rng_fault, c->raw, raw_len,
					       &x);
		r->detail2 = x;
		wire = gm_cobs_encode(c->raw, raw_len, c->wire, GM_MAX_WIRE);
		if (wire < 0) {
			ret = -EPROTO;
			goto out;
		}
		ret = line_send(c, c->wire, wire, t, &r->offset);
		r->len = wire;
		goto out;
	} else if (fe && fe->kind == FAULT_TRUNCATE) {
		r = log_fault(c, fe, t);
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		r->detail2 = wire;
		wire = fault_truncate(&c->rng_fault, c->wire, wire);
		r->detail = wire - 1;
		ret = line_send(c, c->wire, wire, t, &r->offset);
		r->len = wire;
		goto out;
	}
	ret = line_send(c, c->wire, wire, t, NULL);
out:
	render_clear(c);
	c->seq++;
	c->gscan++;
	c->st.scans++;
	return ret;
}

static int process(struct mat_ctrl *c, enum ev_kind kind, uint64_t t)
{
	switch (kind) {
	case EV_INFO:
		return do_info(c, t);
	case EV_AUTOSTART:
		c->autostart_pending = false;
		if (!c->streaming)
			start_streaming(c, t);
		return 0;
	case EV_SCAN:
		return do_scan(c, t);
	case EV_HEARTBEAT:
		c->next_hb_clock += MAT_HEARTBEAT_US;
		return send_status(c, t);
	default:
		return 0;
	}
}

int mat_ctrl_run_until(struct mat_ctrl *c, uint64_t sim_us)
{
	uint64_t end = mat_ctrl_end_us(c), t;
	enum ev_kind kind;
	int ret;

	for (;;) {
		kind = next_event(c, &t);
		/* The walk's end is the run's end: nothing after it happens. */
		end = mat_ctrl_end_us(c);
		if (t > sim_us || t > end || kind == EV_NONE)
			break;
		c->now = t;
		ret = process(c, kind, t);
		if (ret)
			return ret;
	}
	if (sim_us > c->now)
		c->now = sim_us;
	return 0;
}

/* ---- Host commands -------------------------------------------------------- */

static void reject(struct mat_ctrl *c)
{
	c->cmd_errors++;
	c->err_flags |= GM_ERRF_CMD;
	c->st.host_errors++;
}

static int host_frame(struct mat_ctrl *c, const uint8_t *raw, size_t len,
		      uint64_t t)
{
	uint64_t at = t + MAT_CMD_LATENCY_US;
	struct gm_hdr hdr;
	uint16_t rate;
	int ret;

	c->st.host_frames++;
	ret = gm_parse_hdr(raw, len, &hdr);
	if (ret == -GM_ETYPE) {
		reject(c);
		return send_ack(c, raw[0], GM_ACK_EUNKNOWN,
				gm_get_le32(raw + 4), at);
	}
	if (ret == -GM_EBODY) {
		reject(c);
		return send_ack(c, hdr.type, GM_ACK_EINVAL, hdr.seq, at);
	}
	if (ret) {
		reject(c);
		return 0;
	}
	switch (hdr.type) {
	case GM_T_CMD_START:
		ret = send_ack(c, hdr.type, GM_ACK_OK, hdr.seq, at);
		if (!c->streaming)
			start_streaming(c, at);
		c->autostart_pending = false;
		return ret;
	case GM_T_CMD_STOP:
		c->streaming = false;
		c->autostart_pending = false;
		return send_ack(c, hdr.type, GM_ACK_OK, hdr.seq, at);
	case GM_T_CMD_SET_RATE:
		if (gm_parse_set_rate(gm_body(raw), hdr.body_len, &rate) ||
		    !mat_rate_valid(rate)) {
			reject(c);
			return send_ack(c, hdr.type, GM_ACK_EINVAL, hdr.seq, at);
		}
		if (c->streaming && rate != c->rate) {
			/* The new rate takes over at the next scan instant. */
			c->scan_base_clock = clock_of(c, scan_time(c, c->scan_k));
			c->scan_k = 0;
		}
		c->rate = rate;
		return send_ack(c, hdr.type, GM_ACK_OK, hdr.seq, at);
	case GM_T_CMD_ZERO:
		c->pend_zeroed = true;
		return send_ack(c, hdr.type, GM_ACK_OK, hdr.seq, at);
	case GM_T_CMD_GET_INFO:
		ret = send_ack(c, hdr.type, GM_ACK_OK, hdr.seq, at);
		if (ret)
			return ret;
		return send_info(c, at);
	default:
		/* A controller-to-host type coming from the host. */
		reject(c);
		return send_ack(c, hdr.type, GM_ACK_EUNKNOWN, hdr.seq, at);
	}
}

int mat_ctrl_host_input(struct mat_ctrl *c, uint64_t sim_us,
			const uint8_t *buf, size_t len)
{
	bool start;
	size_t used;
	int res, ret;

	ret = mat_ctrl_run_until(c, sim_us);
	if (ret)
		return ret;
	/* A rebooting or silenced controller hears nothing. */
	if (sim_us < c->boot_sim + MAT_BOOT_INFO_US || sim_us < c->silent_until)
		return 0;
	while (len) {
		used = gm_rx_feed(&c->hrx, buf, len, &res, &start);
		buf += used;
		len -= used;
		if (res > 0)
			ret = host_frame(c, c->hrx.buf, res, sim_us);
		else if (res < 0)
			reject(c);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- Life cycle ------------------------------------------------------------ */

static void devinfo_init(struct mat_ctrl *c)
{
	struct gm_devinfo *di = &c->di;
	unsigned int i;

	memset(di, 0, sizeof(*di));
	/* Device identity only: the seed, never anything about a subject. */
	snprintf(di->serial, sizeof(di->serial), "GMSIM-%08X",
		 (unsigned int)(c->cfg.seed * 0x9e3779b97f4a7c15ull >> 32));
	di->fw_major = 1;
	di->fw_minor = 0;
	di->fw_patch = 0;
	di->n_tiles = c->w.n_tiles;
	di->rows = c->w.rows;
	di->cols = c->w.cols;
	di->sensel_bits = GM_SENSEL_BITS;
	di->pitch_um = c->w.pitch_um;
	di->full_scale_kpa = c->cfg.full_scale_kpa;
	di->rate_hz = c->cfg.rate_hz;
	di->n_rates = mat_n_rates;
	for (i = 0; i < mat_n_rates; i++)
		di->rates[i] = mat_rates[i];
	di->baud = c->cfg.baud;
	for (i = 0; i < c->w.n_tiles; i++)
		di->tiles[i] = c->w.tiles[i];
}

static int alloc_buffers(struct mat_ctrl *c)
{
	size_t n = c->n_sensels;

	c->gains = calloc(n, sizeof(*c->gains));
	c->counts_per_kpa = calloc(n, sizeof(*c->counts_per_kpa));
	c->img = calloc(n, sizeof(*c->img));
	c->kpa = calloc(n, sizeof(*c->kpa));
	c->touched = calloc(n, sizeof(*c->touched));
	c->raw = malloc(GM_MAX_RAW);
	c->wire = malloc(GM_MAX_WIRE);
	c->obs = calloc(gait_model_n_footfalls(c->model) + 1, sizeof(*c->obs));
	if (!c->gains || !c->counts_per_kpa || !c->img || !c->kpa ||
	    !c->touched || !c->raw || !c->wire || !c->obs)
		return -ENOMEM;
	return 0;
}

int mat_ctrl_create(struct mat_ctrl **out, const struct mat_cfg *cfg,
		    const struct gait_model *model,
		    const struct fault_plan *faults, mat_sink_fn sink,
		    void *sink_ctx, char *err, size_t err_len)
{
	uint64_t n_scans;
	struct mat_ctrl *c;
	unsigned int i;
	int ret;

	if (cfg->n_tiles < 1 || cfg->n_tiles > GM_MAX_TILES)
		return fail(err, err_len, -EINVAL, "tiles must be 1..%d",
			    GM_MAX_TILES);
	if (!mat_rate_valid(cfg->rate_hz))
		return fail(err, err_len, -EINVAL,
			    "rate %u Hz not available (50, 100, 120, 200)",
			    cfg->rate_hz);
	if (cfg->baud < 1200 || cfg->baud > 12000000)
		return fail(err, err_len, -EINVAL, "baud %u outside [1200, 12000000]",
			    cfg->baud);
	if (!cfg->full_scale_kpa)
		return fail(err, err_len, -EINVAL, "full scale must be > 0");
	if (!(cfg->gain_spread >= 0 && cfg->gain_spread <= 0.5))
		return fail(err, err_len, -EINVAL, "gain spread outside [0, 0.5]");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->model = model;
	c->sink = sink;
	c->sink_ctx = sink_ctx;
	c->walk_start = NO_TIME;
	mat_walkway_line(&c->w, cfg->n_tiles);
	c->n_sensels = walkway_sensels(&c->w);
	ret = alloc_buffers(c);
	if (ret)
		goto err_destroy;
	devinfo_init(c);
	sim_rng_seed(&c->rng_ctrl, cfg->seed, SIM_RNG_CTRL);
	sim_rng_seed(&c->rng_fault, cfg->seed, SIM_RNG_FAULT_BYTES);
	/* A property of the mat: drawn once, kept across reboots. */
	for (i = 0; i < c->n_sensels; i++) {
		double g = 1.0 + cfg->gain_spread *
			   (2.0 * sim_rng_unit(&c->rng_ctrl) - 1.0);

		c->gains[i] = (uint16_t)lround(4096.0 * g);
		c->counts_per_kpa[i] = (double)GM_SENSEL_MAX /
				       cfg->full_scale_kpa *
				       4096.0 / c->gains[i];
	}
	n_scans = gait_model_duration_us(model) * cfg->rate_hz / 1000000;
	if (faults) {
		ret = fault_plan_place(faults, n_scans, cfg->rate_hz, cfg->seed,
				       &c->fev, &c->n_fev, err, err_len);
		if (ret)
			goto err_destroy;
	}
	ret = boot(c, 0);
	if (ret)
		goto err_destroy;
	*out = c;
	return 0;

err_destroy:
	mat_ctrl_destroy(c);
	return ret;
}

void mat_ctrl_destroy(struct mat_ctrl *c)
{
	if (!c)
		return;
	free(c->gains);
	free(c->counts_per_kpa);
	free(c->img);
	free(c->kpa);
	free(c->touched);
	free(c->raw);
	free(c->wire);
	free(c->obs);
	free(c->fev);
	free(c->flog);
	free(c->boots);
	free(c);
}

/* ---- Accessors -------------------------------------------------------------- */

const struct walkway *mat_ctrl_walkway(const struct mat_ctrl *c)
{
	return &c->w;
}

const struct mat_cfg *mat_ctrl_cfg(const struct mat_ctrl *c)
{
	return &c->cfg;
}

const struct gm_devinfo *mat_ctrl_devinfo(const struct mat_ctrl *c)
{
	return &c->di;
}

const uint16_t *mat_ctrl_gains(const struct mat_ctrl *c)
{
	return c->gains;
}

const struct mat_boot *mat_ctrl_boots(const struct mat_ctrl *c, size_t *n)
{
	*n = c->n_boots;
	return c->boots;
}

const struct mat_footfall_obs *mat_ctrl_footfall_obs(const struct mat_ctrl *c)
{
	return c->obs;
}

const struct mat_fault_record *mat_ctrl_fault_log(const struct mat_ctrl *c,
						  size_t *n)
{
	*n = c->n_flog;
	return c->flog;
}

const struct mat_stats *mat_ctrl_stats(const struct mat_ctrl *c)
{
	return &c->st;
}

uint64_t mat_ctrl_walk_start_us(const struct mat_ctrl *c)
{
	return c->walk_start;
}

void mat_ctrl_clock_at(const struct mat_ctrl *c, uint64_t sim_us,
		       uint32_t *boot, uint64_t *clock_us)
{
	size_t i = c->n_boots;

	while (i > 1 && c->boots[i - 1].sim_us > sim_us)
		i--;
	*boot = i - 1;
	*clock_us = sim_us >= c->boots[i - 1].sim_us ?
		    sim_us - c->boots[i - 1].sim_us : 0;
}
