// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap synth [OPTIONS] FILE -- a developer command, not listed in help.
 *
 * Writes a synthetic session through the same zero-copy path a capture
 * uses: scans are generated straight into reserved chunk payloads (where
 * IORING_OP_READ would put them), then committed. The content comes from
 * the simulator's walking model (sim/gait_model.h): the mat shows the
 * model's footprints, and two insoles send gaitcap-v1 ATT notifications
 * (ble/insole_gatt.h) sampled on their own drifting clocks, received after
 * one-sided BLE delays, with clock records and optional link losses. A
 * ground-truth file (FILE.truth.json) says what really happened; refine's
 * tests measure against it. docs/simulator.md lists the fields.
 * Deterministic for a given --seed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "ble/insole_gatt.h"
#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"
#include "sim/gait_model.h"
#include "sim/insole_model.h"
#include "sim/sim_rng.h"

#define NS		1000000000ll
#define MAX_INSOLES	4
#define MAT_TAIL	24	/* seq, flags, controller clock, timestamp */
#define MAT_PITCH_UM	10000
#define MAT_FULL_KPA	600.0
#define SENSEL_MAX	4095
#define INS_HANDLE	0x0012	/* value handle of INSOLE_CHR_DATA */
#define INS_BATCH	1	/* samples per notification */
#define CONN_INTERVAL_NS 15000000ll
#define RNG_SYNTH	16	/* a stream of our own, apart from the model's */

struct insole {
	uint32_t stream;
	enum gait_side side;
	double drift;			/* ppm x 1e-6 */
	uint64_t dev0_us;		/* device clock at walk time 0 */
	uint64_t j;			/* next sample */
	uint64_t rec_seq;		/* records written (engine sequence) */
	int64_t last_rx;
	int64_t next_sync;
	struct insole_model *im;	/* the insole model (sim/insole_model.h) */
	int64_t drop_start, drop_end;	/* host ns of the current link loss */
	bool restart;
	/* truth: every link loss */
	struct json_object *drops;
};

struct synth {
	double seconds;
	unsigned int rate, tiles, rows, cols, insoles, chunk_ms, ins_rate;
	double gap_every, drop_every, drift_ppm, ble_delay_ms, speed;
	enum gait_kind gait;
	uint64_t seed;
	unsigned int abort_after;
	bool realtime, quiet, no_truth;
	const char *truth_path;
	struct gcs_writer_opts o;

	struct sim_rng rng;
	struct gait_model *model;
	struct walkway w;
	uint32_t nsens, rec_size;
	uint32_t mat;
	uint64_t mat_seq, mat_scan;
	struct insole ins[MAX_INSOLES];
	int64_t t0;
	float *kpa;
	uint32_t *touched;
	uint32_t n_touched;
};

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- The mat ---------------------------------------------------------------- */

static void add_kpa(void *ctx, unsigned int idx, double kpa)
{
	struct synth *s = ctx;

	if (idx >= s->nsens)
		return;
	if (s->kpa[idx] == 0)
		s->touched[s->n_touched++] = idx;
	s->kpa[idx] += (float)kpa;
}

/* Scan i samples the walk at i periods: the mat is the host's timeline. */
static void paint_scan(struct synth *s, uint8_t *scan, uint64_t walk_us)
{
	memset(scan, 0, 2 * (size_t)s->nsens);
	s->n_touched = 0;
	gait_model_render(s->model, walk_us, add_kpa, s);
	for (uint32_t i = 0; i < s->n_touched; i++) {
		uint32_t idx = s->touched[i];
		double v = s->kpa[idx] * SENSEL_MAX / MAT_FULL_KPA;

		s->kpa[idx] = 0;
		if (v < 1)
			continue;
		put_le16(scan + 2 * idx, (uint16_t)fmin(lround(v), SENSEL_MAX));
	}
}

static int write_mat_chunk(struct synth *s, struct gcs_writer *w,
			   uint32_t n, int64_t period)
{
	struct gcs_slot *slot;
	struct gcs_chunk_meta m;
	int64_t t_first = s->t0 + (int64_t)s->mat_scan * period;
	int ret;

	ret = gcs_writer_reserve(w, s->mat, n * s->rec_size, &slot);
	if (ret)
		return ret;
	/* Straight into the file's pages, as a read from the device would. */
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *scan = slot->data + (size_t)i * s->rec_size;
		uint8_t *tail = scan + 2 * (size_t)s->nsens;
		int64_t walk_ns = (int64_t)(s->mat_scan + i) * period;

		paint_scan(s, scan, (uint64_t)(walk_ns / 1000));
		put_le32(tail, (uint32_t)(s->mat_seq + i));
		put_le32(tail + 4, 0);
		/* controller clock: 20 ppm fast, 5 s ahead */
		put_le64(tail + 8, (uint64_t)(walk_ns / 1000 + walk_ns / 50000000 + 5000000));
		put_le64(tail + 16, (uint64_t)(s->t0 + walk_ns));
	}
	m = (struct gcs_chunk_meta){
		.len = n * s->rec_size, .n_records = n,
		.first_seq = s->mat_seq, .last_seq = s->mat_seq + n - 1,
		.t_first_ns = t_first + 200000,	/* host sees it a bit later */
		.t_last_ns = t_first + (int64_t)(n - 1) * period + 200000,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	ret = gcs_writer_commit(w, slot, &m);
	if (!ret) {
		s->mat_seq += n;
		s->mat_scan += n;
	}
	return ret;
}

/* ---- The insoles --------------------------------------------------------------- */

/* Device clock (us, unwrapped) at walk time @walk_ns, and back. */
static double dev_us_at(const struct insole *in, double walk_ns)
{
	return (double)insole_model_clock_us(in->im, (int64_t)floor(walk_ns / 1000));
}

/* Sample j is taken at the insole clock dev0 + j periods. */
static double walk_ns_of_sample(const struct synth *s, const struct insole *in,
				uint64_t j)
{
	return (double)insole_model_walk_ns(in->im, in->dev0_us +
					    j * (1000000 / s->ins_rate));
}

/* One-sided BLE delay: wait for a connection event, then radio and host. */
static int64_t ble_delay(struct synth *s, int64_t t)
{
	int64_t ce = CONN_INTERVAL_NS - (t - s->t0) % CONN_INTERVAL_NS;

	return ce + 300000 + (int64_t)(-log(1 - sim_rng_unit(&s->rng)) *
				       s->ble_delay_ms * 1e6);
}

static int clock_sync(struct synth *s, struct gcs_writer *w, struct insole *in,
		      int64_t h1)
{
	int64_t a = ble_delay(s, h1), h2;
	double dev;
	struct gcs_clock_sample c;

	/*
	 * The insole reads its clock when the request arrives and answers in
	 * the same connection event: no wait for the next one on the way back.
	 */
	dev = dev_us_at(in, (double)(h1 + a - s->t0));
	h2 = h1 + a + 300000 + (int64_t)(-log(1 - sim_rng_unit(&s->rng)) *
					 s->ble_delay_ms * 1e6);
	c = (struct gcs_clock_sample){
		.stream = in->stream, .flags = GCS_CLOCKREC_F_DEVICE,
		/* as the insole answers: u32 microseconds */
		.device_ns = (int64_t)((uint32_t)(uint64_t)floor(dev)) * 1000,
		.mono_ns = h1 + (h2 - h1) / 2, .real_ns = h1 + (h2 - h1) / 2,
		.boot_ns = h1 + (h2 - h1) / 2, .uncertainty_ns = (h2 - h1) / 2,
	};
	return gcs_writer_clock(w, &c);
}

/* Notifications of every batch sampled before host time @until. */
static int write_insole_chunk(struct synth *s, struct gcs_writer *w,
			      struct insole *in, int64_t until)
{
	uint32_t pdu_len = 3 + INSOLE_DATA_HDR + INS_BATCH * INSOLE_SAMPLE_SIZE;
	uint32_t cap = 0, n = 0, period_us = 1000000 / s->ins_rate;
	uint64_t until_j;
	struct gcs_chunk_meta m = { 0 };
	struct gcs_slot *slot;
	uint8_t pdu[3 + INSOLE_DATA_HDR + INSOLE_MAX_BATCH * INSOLE_SAMPLE_SIZE];
	int ret;

	/* An insole sends the samples of the session's length, on its clock. */
	until_j = (uint64_t)(s->seconds * s->ins_rate);
	for (uint64_t j = in->j; j + INS_BATCH <= until_j &&
	     s->t0 + walk_ns_of_sample(s, in, j + INS_BATCH - 1) < until;
	     j += INS_BATCH)
		cap += gcs_var_rec_size(pdu_len);
	if (!cap)
		return 0;
	ret = gcs_writer_reserve(w, in->stream, cap, &slot);
	if (ret)
		return ret;
	while (in->j + INS_BATCH <= until_j &&
	       s->t0 + walk_ns_of_sample(s, in, in->j + INS_BATCH - 1) < until) {
		uint64_t j0 = in->j;
		int64_t t_last = s->t0 + (int64_t)walk_ns_of_sample(s, in, j0 + INS_BATCH - 1);
		int64_t rx = t_last + 1000000 + ble_delay(s, t_last + 1000000);
		bool sat = false;
		uint16_t flags = 0;

		in->j += INS_BATCH;
		if (t_last >= in->drop_start && t_last < in->drop_end)
			continue;	/* the link is down: the batch is lost */
		pdu[0] = 0x1b;		/* ATT Handle Value Notification */
		put_le16(pdu + 1, INS_HANDLE);
		uint8_t *v = pdu + 3;

		v[INSOLE_DATA_OFF_VERSION] = INSOLE_DATA_VERSION;
		v[INSOLE_DATA_OFF_N] = INS_BATCH;
		put_le32(v + INSOLE_DATA_OFF_SEQ, (uint32_t)j0);
		put_le32(v + INSOLE_DATA_OFF_T_US,
			 (uint32_t)(in->dev0_us + j0 * period_us));
		put_le16(v + INSOLE_DATA_OFF_PERIOD, (uint16_t)period_us);
		for (int k = 0; k < INS_BATCH; k++) {
			uint8_t *smp = v + INSOLE_DATA_HDR + k * INSOLE_SAMPLE_SIZE;
			struct insole_reading r;

			insole_model_sample(in->im, in->dev0_us + (j0 + k) * period_us, &r);
			sat |= r.saturated;
			for (int c = 0; c < INSOLE_CELLS; c++)
				put_le16(smp + 2 * c, r.cell[c]);
			for (int a = 0; a < 3; a++) {
				put_le16(smp + 2 * INSOLE_CELLS + 2 * a, (uint16_t)r.acc[a]);
				put_le16(smp + 2 * INSOLE_CELLS + 6 + 2 * a, (uint16_t)r.gyro[a]);
			}
		}
		if (sat)
			flags |= INSOLE_DATA_F_SATURATED;
		if (in->restart)
			flags |= INSOLE_DATA_F_RESTART;
		in->restart = false;
		put_le16(v + INSOLE_DATA_OFF_FLAGS, flags);
		/* The kernel stamps arrivals in order. */
		if (rx <= in->last_rx)
			rx = in->last_rx + 1000;
		in->last_rx = rx;
		m.len += gcs_var_rec_put(slot->data + m.len, rx, pdu, pdu_len);
		if (!n)
			m.t_first_ns = rx;
		m.t_last_ns = rx;
		n++;
	}
	if (!n) {
		gcs_writer_abandon(w, slot);
		return 0;
	}
	m.n_records = n;
	m.first_seq = in->rec_seq;
	m.last_seq = in->rec_seq + n - 1;
	m.flags = GCS_CHUNK_F_CONTIGUOUS;
	ret = gcs_writer_commit(w, slot, &m);
	if (!ret)
		in->rec_seq += n;
	return ret;
}

/* ---- Stream descriptions ----------------------------------------------------------- */

static int jadd(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_desc(struct gcs_writer *w, struct gcs_stream_def *d,
		    struct json_object *o, uint32_t *id)
{
	int ret = -ENOMEM;

	if (o) {
		d->desc_json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		ret = d->desc_json ? gcs_writer_add_stream(w, d, id) : -ENOMEM;
	}
	json_object_put(o);
	return ret;
}

/* The mat: as the capture describes it, plus where each tile lies. */
static struct json_object *mat_desc(struct synth *s)
{
	struct json_object *o = json_object_new_object(), *f, *tiles;
	uint32_t base = 2 * s->nsens;
	int ret;

	f = json_object_new_object();
	tiles = json_object_new_array();
	ret = !o || !f || !tiles ||
	      jadd(o, "device", json_object_new_string("mat0")) ||
	      jadd(o, "model", json_object_new_string("gaitmat-synth")) ||
	      jadd(o, "serial", json_object_new_string("SYN-0001")) ||
	      jadd(o, "firmware", json_object_new_string("1.0.0")) ||
	      jadd(o, "tiles", json_object_new_int64(s->tiles)) ||
	      jadd(o, "rows", json_object_new_int64(s->rows)) ||
	      jadd(o, "cols", json_object_new_int64(s->cols)) ||
	      jadd(o, "pitch_um", json_object_new_int64(MAT_PITCH_UM)) ||
	      jadd(o, "rate_hz", json_object_new_int64(s->rate)) ||
	      jadd(o, "full_scale_kpa", json_object_new_int64((int64_t)MAT_FULL_KPA)) ||
	      jadd(o, "scale_kpa", json_object_new_double(MAT_FULL_KPA / SENSEL_MAX)) ||
	      jadd(o, "sensel", json_object_new_string("le:u12/16")) ||
	      jadd(o, "scan_bytes", json_object_new_int64(s->rec_size)) ||
	      jadd(f, "seq", json_object_new_int64(base)) ||
	      jadd(f, "flags", json_object_new_int64(base + 4)) ||
	      jadd(f, "controller_clock_us", json_object_new_int64(base + 8)) ||
	      jadd(f, "timestamp", json_object_new_int64(base + 16)) ||
	      jadd(o, "fields", json_object_get(f)) ||
	      jadd(o, "timestamp_clock", json_object_new_string("monotonic")) ||
	      jadd(o, "calibration", json_object_new_string("unit"));
	for (unsigned int t = 0; !ret && t < s->tiles; t++) {
		struct json_object *e = json_object_new_object();

		ret = !e || jadd(e, "x_mm", json_object_new_int64(s->w.tiles[t].x_mm)) ||
		      jadd(e, "y_mm", json_object_new_int64(s->w.tiles[t].y_mm)) ||
		      jadd(e, "rotation_deg", json_object_new_int64(90 * s->w.tiles[t].orient)) ||
		      json_object_array_add(tiles, e);
	}
	if (!ret)
		ret = jadd(o, "tile_placement", json_object_get(tiles));
	json_object_put(f);
	json_object_put(tiles);
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* An insole: what its INFO characteristic says (ble/insole_gatt.h). */
static struct json_object *insole_desc(struct synth *s, unsigned int k)
{
	const struct insole_params *ip = insole_model_params(s->ins[k].im);
	const struct insole_cell *cells = insole_model_cells(s->ins[k].im);
	struct json_object *o = json_object_new_object(), *jcells;
	char dev[24], serial[24];
	int ret;

	snprintf(dev, sizeof(dev), "insole%u", k);
	snprintf(serial, sizeof(serial), "SYN-I%04u", (k + 1) % 10000);
	jcells = json_object_new_array();
	ret = !o || !jcells ||
	      jadd(o, "device", json_object_new_string(dev)) ||
	      jadd(o, "model", json_object_new_string("insole-synth")) ||
	      jadd(o, "serial", json_object_new_string(serial)) ||
	      jadd(o, "firmware", json_object_new_string("2.1.0")) ||
	      jadd(o, "side", json_object_new_string(k % 2 ? "right" : "left")) ||
	      jadd(o, "profile", json_object_new_string("gaitcap-v1")) ||
	      jadd(o, "att_handle", json_object_new_int64(INS_HANDLE)) ||
	      jadd(o, "rate_hz", json_object_new_int64(s->ins_rate)) ||
	      jadd(o, "n_cells", json_object_new_int64(INSOLE_CELLS)) ||
	      jadd(o, "full_scale_code", json_object_new_int64(ip->full_scale)) ||
	      jadd(o, "kpa_per_code", json_object_new_double(ip->kpa_per_code)) ||
	      jadd(o, "g_per_code", json_object_new_double(ip->g_per_code)) ||
	      jadd(o, "dps_per_code", json_object_new_double(ip->dps_per_code)) ||
	      jadd(o, "timestamp", json_object_new_string("kernel_rx"));
	for (int c = 0; !ret && c < INSOLE_CELLS; c++) {
		struct json_object *e = json_object_new_object();

		ret = !e || jadd(e, "x_mm", json_object_new_int64(cells[c].x_mm)) ||
		      jadd(e, "y_mm", json_object_new_int64(cells[c].y_mm)) ||
		      jadd(e, "area_mm2", json_object_new_int64(cells[c].area_mm2)) ||
		      json_object_array_add(jcells, e);
	}
	if (!ret)
		ret = jadd(o, "cells", json_object_get(jcells));
	json_object_put(jcells);
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int add_streams(struct synth *s, struct gcs_writer *w)
{
	struct gcs_stream_def d = {
		.kind = GCS_KIND_IIO_SCAN, .record_size = s->rec_size,
		.ts_offset = s->rec_size - 8, .ts_clock = GCS_CLOCK_MONOTONIC,
	};
	int ret;

	ret = add_desc(w, &d, mat_desc(s), &s->mat);
	for (unsigned int k = 0; !ret && k < s->insoles; k++) {
		d = (struct gcs_stream_def){
			.kind = GCS_KIND_BLE_ATT, .record_size = 0,
			.ts_offset = GCS_NO_TS, .ts_clock = GCS_CLOCK_MONOTONIC,
		};
		ret = add_desc(w, &d, insole_desc(s, k), &s->ins[k].stream);
	}
	return ret;
}

/* ---- Ground truth ------------------------------------------------------------- */

static double heel_dist_along(const struct footfall *a, const struct footfall *b,
			      double ux, double uy)
{
	return (b->heel_x_mm - a->heel_x_mm) * ux + (b->heel_y_mm - a->heel_y_mm) * uy;
}

/*
 * Step length as a walkway measures it (docs/gait-parameters.md): along the
 * line of progression (the heel of the previous same-side footfall to this
 * heel), from the previous contralateral heel to this one. NAN when the
 * three footfalls are not of one straight pass.
 */
static void truth_spatial(const struct gait_model *m, size_t i,
			  struct json_object *o)
{
	const struct footfall *f = gait_model_footfall(m, i), *c, *p;
	double ux, uy, len, ang;

	if (i < 2)
		return;
	c = gait_model_footfall(m, i - 1);
	p = gait_model_footfall(m, i - 2);
	if (f->turning || c->turning || p->turning || c->pass != f->pass ||
	    p->pass != f->pass || c->side == f->side)
		return;
	ux = f->heel_x_mm - p->heel_x_mm;
	uy = f->heel_y_mm - p->heel_y_mm;
	len = hypot(ux, uy);
	ux /= len;
	uy /= len;
	/* From the line of progression to the foot's axis, counter-clockwise. */
	ang = atan2(ux * sin(f->heading_rad) - uy * cos(f->heading_rad),
		    ux * cos(f->heading_rad) + uy * sin(f->heading_rad));
	jadd(o, "stride_length_m", json_object_new_double(len / 1000));
	jadd(o, "step_length_m", json_object_new_double(heel_dist_along(c, f, ux, uy) / 1000));
	jadd(o, "base_of_support_m", json_object_new_double(
		     fabs((c->heel_x_mm - p->heel_x_mm) * -uy +
			  (c->heel_y_mm - p->heel_y_mm) * ux) / 1000));
	/* Toe-out positive on both sides. */
	jadd(o, "foot_angle_deg", json_object_new_double(
		     (f->side == GAIT_LEFT ? 1 : -1) * ang * 180 / M_PI));
}

static int write_truth(struct synth *s, const char *path)
{
	struct json_object *o = json_object_new_object(), *ff, *ins, *mat;
	const struct gait_params *p = gait_model_params(s->model);
	size_t n = gait_model_n_footfalls(s->model);
	int ret;

	ff = json_object_new_array();
	ins = json_object_new_array();
	mat = json_object_new_object();
	ret = !o || !ff || !ins || !mat ||
	      jadd(o, "gait", json_object_new_string(gait_kind_name(p->kind))) ||
	      jadd(o, "speed_mps", json_object_new_double(p->speed_mps)) ||
	      jadd(o, "cadence_spm", json_object_new_double(p->cadence_spm)) ||
	      jadd(o, "step_length_m", json_object_new_double(p->step_length_m)) ||
	      jadd(o, "body_weight_n", json_object_new_double(gait_model_body_weight_n(s->model))) ||
	      jadd(o, "seed", json_object_new_int64((int64_t)s->seed)) ||
	      jadd(o, "t0_mono_ns", json_object_new_int64(s->t0)) ||
	      jadd(mat, "stream", json_object_new_int64(s->mat)) ||
	      jadd(mat, "period_ns", json_object_new_int64(NS / s->rate)) ||
	      jadd(mat, "note", json_object_new_string(
			   "scan k samples walk time k x period; its timestamp is t0 + k x period")) ||
	      jadd(o, "mat", json_object_get(mat));
	for (unsigned int k = 0; !ret && k < s->insoles; k++) {
		struct insole *in = &s->ins[k];
		struct json_object *e = json_object_new_object();

		ret = !e || jadd(e, "stream", json_object_new_int64(in->stream)) ||
		      jadd(e, "side", json_object_new_string(gait_side_name(in->side))) ||
		      jadd(e, "rate_hz", json_object_new_int64(s->ins_rate)) ||
		      jadd(e, "dev0_us", json_object_new_int64((int64_t)in->dev0_us)) ||
		      jadd(e, "drift_ppm", json_object_new_double(insole_model_drift_ppb(in->im) / 1e3)) ||
		      jadd(e, "clock", json_object_new_string(
				   "device_us = dev0_us + (mono_ns - t0_mono_ns) / 1000 x (1 + drift_ppm / 1e6), modulo 2^32 on the wire")) ||
		      jadd(e, "drops_mono_ns", json_object_get(in->drops)) ||
		      json_object_array_add(ins, e);
	}
	for (size_t i = 0; !ret && i < n; i++) {
		const struct footfall *f = gait_model_footfall(s->model, i);
		struct json_object *e = json_object_new_object();

		ret = !e || jadd(e, "side", json_object_new_string(gait_side_name(f->side))) ||
		      jadd(e, "pass", json_object_new_int64(f->pass)) ||
		      jadd(e, "turning", json_object_new_boolean(f->turning)) ||
		      jadd(e, "ic_ns", json_object_new_int64(s->t0 + (int64_t)f->ic_us * 1000)) ||
		      jadd(e, "to_ns", json_object_new_int64(s->t0 + (int64_t)f->to_us * 1000)) ||
		      jadd(e, "heel_x_mm", json_object_new_double(f->heel_x_mm)) ||
		      jadd(e, "heel_y_mm", json_object_new_double(f->heel_y_mm)) ||
		      jadd(e, "toe_x_mm", json_object_new_double(f->toe_x_mm)) ||
		      jadd(e, "toe_y_mm", json_object_new_double(f->toe_y_mm)) ||
		      jadd(e, "on_mat", json_object_new_boolean(f->on_mat)) ||
		      jadd(e, "fully_on_mat", json_object_new_boolean(f->fully_on_mat)) ||
		      json_object_array_add(ff, e);
		if (!ret)
			truth_spatial(s->model, i, e);
	}
	if (!ret)
		ret = jadd(o, "insoles", json_object_get(ins)) ||
		      jadd(o, "footfalls", json_object_get(ff));
	json_object_put(ins);
	json_object_put(ff);
	json_object_put(mat);
	if (!ret) {
		FILE *fp = fopen(path, "wx");

		ret = !fp ? -errno : 0;
		if (fp) {
			fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY), fp);
			fputc('\n', fp);
			if (fclose(fp))
				ret = -errno;
		}
	} else {
		ret = -ENOMEM;
	}
	json_object_put(o);
	return ret;
}

/* ---- The run ---------------------------------------------------------------- */

static void show_space(struct synth *s, struct gcs_writer *w, double t)
{
	struct gcs_space sp;
	struct gcs_writer_stats st;

	if (s->quiet || gcs_writer_space(w, mono_now(), &sp))
		return;
	gcs_writer_stats(w, &st);
	fprintf(stderr, "synth: t %6.1f s  raw %7.1f MiB  file %7.1f MiB  "
		"on disk %7.1f MiB  free %.1f GiB", t, (double)st.raw_bytes / (1 << 20),
		(double)sp.file_used / (1 << 20),
		(double)sp.allocated / (1 << 20),
		(double)(sp.fs_avail + sp.prealloc_left) / (1 << 30));
	if (sp.seconds_left >= 0)
		fprintf(stderr, " (~%.0f min left at %.2f MiB/s)",
			sp.seconds_left / 60, sp.rate / (1 << 20));
	fprintf(stderr, "\n");
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / NS, .tv_nsec = t % NS };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Link losses and clock exchanges of insole @in due before host time @t. */
static int insole_events(struct synth *s, struct gcs_writer *w,
			 struct insole *in, int64_t t, int64_t chunk_ns)
{
	int ret = 0;

	while (!ret && in->next_sync < t + chunk_ns) {
		ret = clock_sync(s, w, in, in->next_sync);
		/* The host's timer is not locked to the connection events. */
		in->next_sync += NS + (int64_t)(sim_rng_unit(&s->rng) * CONN_INTERVAL_NS);
	}
	if (!ret && s->drop_every > 0 && t >= in->drop_end &&
	    t - s->t0 >= (int64_t)(s->drop_every * NS) &&
	    (t - s->t0) / (int64_t)(s->drop_every * NS) !=
	    (t - chunk_ns - s->t0) / (int64_t)(s->drop_every * NS)) {
		struct json_object *d = json_object_new_array();

		/* 0.4 s without link: a gap of unknown records, from its start. */
		in->drop_start = t;
		in->drop_end = t + 400000000;
		ret = gcs_writer_gap(w, in->stream, GCS_GAP_DISCONNECT,
				     GCS_SEQ_UNKNOWN, GCS_SEQ_UNKNOWN,
				     in->drop_start, in->drop_end);
		in->restart = true;
		if (d) {
			json_object_array_add(d, json_object_new_int64(in->drop_start));
			json_object_array_add(d, json_object_new_int64(in->drop_end));
			json_object_array_add(in->drops, d);
		}
	}
	return ret;
}

static int run(struct synth *s, struct gcs_writer *w)
{
	int64_t mat_period = NS / s->rate;
	int64_t chunk_ns = (int64_t)s->chunk_ms * 1000000;
	int64_t end, next_clock, next_gap, next_show, t;
	unsigned int chunks = 0;
	int ret;

	end = s->t0 + (int64_t)(s->seconds * NS);
	next_clock = s->t0;
	next_show = s->t0 + 10 * NS;
	next_gap = s->gap_every > 0 ? s->t0 + (int64_t)(s->gap_every * NS) :
				      INT64_MAX;
	ret = gcs_writer_clock_host(w);
	if (!ret)
		ret = gcs_writer_marker(w, GCS_MARK_SESSION_START, GCS_STREAM_NONE,
					s->t0, 0);
	if (!ret)
		ret = gcs_writer_marker(w, GCS_MARK_TRIAL_START, GCS_STREAM_NONE,
					s->t0, 1);
	for (t = s->t0; !ret && t < end; t += chunk_ns) {
		uint32_t n = (uint32_t)((chunk_ns + mat_period - 1) / mat_period);

		if (s->realtime)
			sleep_until(t + chunk_ns);
		if (t >= next_clock) {
			int64_t dt = t - s->t0;
			struct gcs_clock_sample c = {
				.stream = s->mat, .flags = GCS_CLOCKREC_F_DEVICE,
				/* controller clock: 20 ppm fast, 5 s ahead */
				.device_ns = dt + dt / 50000 + 5 * NS,
				.mono_ns = t, .real_ns = t, .boot_ns = t,
				.uncertainty_ns = 50000,
			};

			ret = gcs_writer_clock(w, &c);
			next_clock += NS;
		}
		if (!ret && t >= next_gap) {
			/* The controller dropped 5 scans (link budget). */
			ret = gcs_writer_gap(w, s->mat, GCS_GAP_DEVICE_OVERFLOW,
					     s->mat_seq, s->mat_seq + 4, t,
					     t + 5 * mat_period);
			s->mat_seq += 5;
			s->mat_scan += 5;	/* the walk went on meanwhile */
			next_gap += (int64_t)(s->gap_every * NS);
		}
		if (!ret)
			ret = write_mat_chunk(s, w, n, mat_period);
		for (unsigned int k = 0; !ret && k < s->insoles; k++) {
			ret = insole_events(s, w, &s->ins[k], t, chunk_ns);
			if (!ret)
				ret = write_insole_chunk(s, w, &s->ins[k], t + chunk_ns);
		}
		if (!ret) {
			int p = gcs_writer_poll(w, mono_now(), false);

			ret = p < 0 ? p : 0;
		}
		if (!ret && t >= next_show) {
			show_space(s, w, (double)(t - s->t0) / NS);
			next_show += 10 * NS;
		}
		if (!ret && s->abort_after && ++chunks >= s->abort_after)
			return 1;
	}
	/* The data runs ahead of the clock: the session ends where it does. */
	gcs_writer_set_end(w, ret == -ENOSPC || t > end ? t : end);
	if (ret == -ENOSPC) {
		fprintf(stderr, "synth: filesystem full after %.1f s of data: "
			"ending the session cleanly\n", (double)(t - s->t0) / NS);
		return 0;
	}
	if (!ret)
		ret = gcs_writer_marker(w, GCS_MARK_TRIAL_END, GCS_STREAM_NONE,
					end, 1);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap synth [OPTIONS] FILE   (developer command)\n"
		"Write a synthetic walking session through the capture write path,\n"
		"and its ground truth to FILE.truth.json.\n"
		"  --seconds S      simulated duration (10)\n"
		"  --rate HZ        mat scan rate (100)\n"
		"  --tiles N --rows R --cols C   mat geometry (4 x 64 x 64)\n"
		"  --insoles N      BLE insole streams, 0..4 (2)\n"
		"  --gait KIND      normal, antalgic, asymmetric or shuffling (normal)\n"
		"  --speed M/S      walking speed (the gait's own)\n"
		"  --insole-rate HZ insole sampling rate, 50..500 (100)\n"
		"  --drift-ppm PPM  insole clock drift: left +PPM, right -PPM/2 (40)\n"
		"  --ble-delay-ms MS mean one-sided BLE delay beyond the connection event (2)\n"
		"  --drop-every S   lose the insole link for 0.4 s every S seconds\n"
		"  --chunk-ms MS    data per chunk (100)\n"
		"  --gap-every S    drop 5 mat scans every S seconds, with a gap record\n"
		"  --seed N         noise seed (1)\n"
		"  --truth FILE     where the ground truth goes; --no-truth: nowhere\n"
		"  --no-compact, --no-reclaim, --grow-mib N, --sync-ms MS, --zstd-level N\n"
		"  --abort-after N  stop after N chunk periods without closing (a 'crash')\n"
		"  --realtime       pace the data to the wall clock\n"
		"  --quiet          no progress lines\n");
}

static int parse(struct synth *s, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "tiles", required_argument, NULL, 't' },
		{ "rows", required_argument, NULL, 'R' },
		{ "cols", required_argument, NULL, 'C' },
		{ "insoles", required_argument, NULL, 'i' },
		{ "gait", required_argument, NULL, 'k' },
		{ "speed", required_argument, NULL, 'v' },
		{ "insole-rate", required_argument, NULL, 'I' },
		{ "drift-ppm", required_argument, NULL, 'd' },
		{ "ble-delay-ms", required_argument, NULL, 'b' },
		{ "drop-every", required_argument, NULL, 'D' },
		{ "chunk-ms", required_argument, NULL, 'c' },
		{ "gap-every", required_argument, NULL, 'g' },
		{ "seed", required_argument, NULL, 'S' },
		{ "truth", required_argument, NULL, 'u' },
		{ "no-truth", no_argument, NULL, 'U' },
		{ "no-compact", no_argument, NULL, 'N' },
		{ "no-reclaim", no_argument, NULL, 'P' },
		{ "grow-mib", required_argument, NULL, 'G' },
		{ "sync-ms", required_argument, NULL, 'y' },
		{ "zstd-level", required_argument, NULL, 'z' },
		{ "abort-after", required_argument, NULL, 'a' },
		{ "realtime", no_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* Each numeric option: its range, in the words of the refusal. */
	static const struct {
		int key;
		const char *name, *accepted;
		double lo, hi;
	} nums[] = {
		{ 's', "--seconds", "seconds, 0.001..10000000", 1e-3, 1e7 },
		{ 'r', "--rate", "Hz, 1..10000", 1, 10000 },
		{ 't', "--tiles", "1..8", 1, 8 },
		{ 'R', "--rows", "1..64", 1, 64 },
		{ 'C', "--cols", "1..64", 1, 64 },
		{ 'i', "--insoles", "0..4", 0, MAX_INSOLES },
		{ 'v', "--speed", "m/s, 0.1..3", 0.1, 3 },
		{ 'I', "--insole-rate", "Hz, 50..500", 50, 500 },
		{ 'd', "--drift-ppm", "ppm, -500..500", -500, 500 },
		{ 'b', "--ble-delay-ms", "milliseconds, 0..500", 0, 500 },
		{ 'D', "--drop-every", "seconds, 0 (none) or 1 and more", 0, 1e7 },
		{ 'c', "--chunk-ms", "milliseconds, 1..10000", 1, 10000 },
		{ 'g', "--gap-every", "seconds, 0 (none) or more", 0, 1e7 },
		{ 'S', "--seed", "a whole number", 0, 1.8e19 },
		{ 'G', "--grow-mib", "MiB, 1..65536", 1, 65536 },
		{ 'y', "--sync-ms", "milliseconds, 1..3600000", 1, 3600000 },
		{ 'z', "--zstd-level", "1..22", 1, 22 },
		{ 'a', "--abort-after", "chunk periods, 0 (never)..1000000000", 0, 1e9 },
	};
	double v = 0;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
			if (nums[i].key == c &&
			    cli_num("synth", nums[i].name, optarg, nums[i].lo,
				    nums[i].hi, nums[i].accepted, &v))
				return 1;
		switch (c) {
		case 's':
			s->seconds = v;
			break;
		case 'r':
			s->rate = (unsigned int)v;
			break;
		case 't':
			s->tiles = (unsigned int)v;
			break;
		case 'R':
			s->rows = (unsigned int)v;
			break;
		case 'C':
			s->cols = (unsigned int)v;
			break;
		case 'i':
			s->insoles = (unsigned int)v;
			break;
		case 'k':
			if (gait_kind_parse(optarg, &s->gait))
				return cli_usage_error("synth", "--gait '%s': expected normal, antalgic, asymmetric or shuffling",
						       optarg);
			break;
		case 'v':
			s->speed = v;
			break;
		case 'I':
			s->ins_rate = (unsigned int)v;
			break;
		case 'd':
			s->drift_ppm = v;
			break;
		case 'b':
			s->ble_delay_ms = v;
			break;
		case 'D':
			if (v > 0 && v < 1)
				return cli_usage_error("synth", "--drop-every %s: expected 0 (none) or 1 second and more",
						       optarg);
			s->drop_every = v;
			break;
		case 'c':
			s->chunk_ms = (unsigned int)v;
			break;
		case 'g':
			s->gap_every = v;
			break;
		case 'S':
			s->seed = strtoull(optarg, NULL, 0);
			break;
		case 'u':
			s->truth_path = optarg;
			break;
		case 'U':
			s->no_truth = true;
			break;
		case 'N':
			s->o.no_compact = true;
			break;
		case 'P':
			s->o.no_reclaim = true;
			break;
		case 'G':
			s->o.grow_step = (uint64_t)v << 20;
			break;
		case 'y':
			s->o.sync_interval_ms = (uint32_t)v;
			break;
		case 'z':
			s->o.zstd_level = (int)v;
			break;
		case 'a':
			s->abort_after = (unsigned int)v;
			break;
		case 'T':
			s->realtime = true;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return cli_getopt_error("synth", argv, c);
		}
	}
	if (optind == argc)
		return cli_usage_error("synth", "no session file given: expected one FILE");
	if (optind + 1 != argc)
		return cli_usage_error("synth", "one file at a time: '%s' and '%s' given",
				       argv[optind], argv[optind + 1]);
	if (cli_out_path("synth", "session file", argv[optind]))
		return 1;
	/* 2 bytes a sensel and a 24-byte tail: scans stay 8-byte aligned. */
	if ((s->tiles * s->rows * s->cols) % 4)
		return cli_usage_error("synth", "--tiles x --rows x --cols = %u: expected a multiple of 4",
				       s->tiles * s->rows * s->cols);
	return 0;
}

/* The walkway, the model and the insoles' clocks, all from the seed. */
static int setup(struct synth *s)
{
	struct insole_params ip;
	struct gait_params p;
	char err[160];
	int ret;

	memset(&s->w, 0, sizeof(s->w));
	s->w.n_tiles = s->tiles;
	s->w.rows = s->rows;
	s->w.cols = s->cols;
	s->w.pitch_um = MAT_PITCH_UM;
	for (unsigned int t = 0; t < s->tiles; t++)
		s->w.tiles[t].x_mm = (int16_t)(t * s->cols * MAT_PITCH_UM / 1000);
	gait_params_init(&p);
	p.kind = s->gait;
	if (s->speed > 0)
		p.speed_mps = s->speed;
	p.duration_s = fmax(s->seconds, 0.5);
	ret = gait_params_resolve(&p, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "gaitcap synth: the walk: %s\n", err);
		return ret;
	}
	ret = gait_model_create(&s->model, &p, &s->w, s->seed);
	if (ret)
		return ret;
	s->kpa = calloc(s->nsens, sizeof(*s->kpa));
	s->touched = calloc(s->nsens, sizeof(*s->touched));
	if (!s->kpa || !s->touched)
		return -ENOMEM;
	sim_rng_seed(&s->rng, s->seed, RNG_SYNTH);
	for (unsigned int k = 0; k < s->insoles; k++) {
		struct insole *in = &s->ins[k];

		in->side = k % 2 ? GAIT_RIGHT : GAIT_LEFT;
		in->drift = (k % 2 ? -0.5 : 1.0) * s->drift_ppm * 1e-6;
		/* The right insole's u32 clock wraps 4 s into the walk. */
		in->dev0_us = k % 2 ? (1ull << 32) - 4000000 :
			      12300000 + 1000000 * (s->seed % 100);
		in->restart = true;
		in->drop_start = in->drop_end = INT64_MIN;
		in->drops = json_object_new_array();
		if (!in->drops)
			return -ENOMEM;
		insole_params_init(&ip);
		ip.rate_hz = s->ins_rate;
		ip.drift_ppm = in->drift * 1e6;
		ip.clock_offset_s = in->dev0_us / 1e6;
		ret = insole_model_create(&in->im, s->model, in->side, &ip, s->seed);
		if (ret) {
			fprintf(stderr, "gaitcap synth: the insole model: %s\n", strerror(-ret));
			return ret;
		}
		in->dev0_us = insole_model_clock_offset_us(in->im);
	}
	return 0;
}

static void teardown(struct synth *s)
{
	for (unsigned int k = 0; k < MAX_INSOLES; k++) {
		json_object_put(s->ins[k].drops);
		insole_model_destroy(s->ins[k].im);
	}
	gait_model_destroy(s->model);
	free(s->kpa);
	free(s->touched);
}

int cmd_synth(int argc, char **argv)
{
	static const char meta[] =
		"{\"subject\":\"SYN-0001\",\"task\":\"walk_back_and_forth\","
		"\"appliance\":\"synth-01\",\"software\":\"gaitcap-" GAITCAP_VERSION "\","
		"\"protocol\":\"synthetic\",\"devices\":[{\"id\":\"mat0\",\"kind\":\"gaitmat\"}]}";
	struct synth s = {
		.seconds = 10, .rate = 100, .tiles = 4, .rows = 64, .cols = 64,
		.insoles = 2, .chunk_ms = 100, .seed = 1, .ins_rate = 100,
		.drift_ppm = 40, .ble_delay_ms = 2, .gait = GAIT_NORMAL,
	};
	struct gcs_writer_stats st;
	struct gcs_writer *w;
	char truth[4096];
	const char *path;
	int ret;

	gcs_writer_opts_init(&s.o);
	ret = parse(&s, argc, argv);
	if (ret)
		return ret;
	path = argv[optind];
	s.nsens = s.tiles * s.rows * s.cols;
	s.rec_size = 2 * s.nsens + MAT_TAIL;
	if (setup(&s)) {
		teardown(&s);
		return 1;
	}
	ret = gcs_writer_create(&w, path, &s.o, meta);
	if (ret) {
		fprintf(stderr, "gaitcap synth: %s: %s\n", path, gcs_strerror(ret));
		teardown(&s);
		return 1;
	}
	s.t0 = mono_now();
	for (unsigned int k = 0; k < s.insoles; k++)
		s.ins[k].next_sync = s.t0 + (int64_t)k * 97000000;
	ret = add_streams(&s, w);
	if (!ret)
		ret = run(&s, w);
	if (ret >= 0 && !s.no_truth) {
		int err;

		if (!s.truth_path) {
			snprintf(truth, sizeof(truth), "%s.truth.json", path);
			s.truth_path = truth;
		}
		err = write_truth(&s, s.truth_path);
		if (err) {
			fprintf(stderr, "gaitcap synth: %s: %s\n", s.truth_path,
				strerror(-err));
			ret = ret ? ret : err;
		}
	}
	if (ret == 1) {
		gcs_writer_stats(w, &st);
		gcs_writer_abort(w);
		if (!s.quiet)
			fprintf(stderr, "synth: stopped without closing after %"
				PRIu64 " committed bytes\n", st.committed_end);
		teardown(&s);
		return 0;
	}
	gcs_writer_stats(w, &st);
	teardown(&s);
	if (ret) {
		fprintf(stderr, "gaitcap synth: %s\n", gcs_strerror(ret));
		gcs_writer_close(w);
		return 1;
	}
	ret = gcs_writer_close(w);
	if (ret) {
		fprintf(stderr, "gaitcap synth: closing: %s\n", gcs_strerror(ret));
		return 1;
	}
	if (!s.quiet)
		fprintf(stderr, "synth: %s: %" PRIu64 " raw bytes in %" PRIu64 " chunks, %" PRIu64
			" zstd chunks\n", path, st.raw_bytes, st.chunks, st.zchunks);
	return 0;
}
