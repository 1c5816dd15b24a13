// SPDX-License-Identifier: GPL-2.0
/*
 * Insole streams: ATT notifications decoded, cleaned (corrupt, foreign,
 * duplicated, out-of-order, held, saturated, flat), put on the common
 * timeline, zeroed, and turned into initial contacts and toe-offs.
 * Thresholds and their reasons: docs/gait-parameters.md ("Events").
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "refine/refine_int.h"

#define ATT_OP_NOTIFY	0x1b
#define CODES		4096
#define FLAT_S		2.0
#define OUT_REC		96	/* refined.gcs insole record, see refine.c */
#define OUT_BATCH	256
#define QUANTA_WINDOW	3	/* the zero's spread: +-3 steps of a quantised cell */
#define KNEE_S		0.3	/* a toe-off's unloading is searched back this far */
#define KNEE_RATE	2.0	/* fast unloading: peak forces per second */
#define KNEE_TAIL	0.15	/* a relaxation tail stays below this share of the peak */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

/* gaitcap-v1 (ble/insole_gatt.h): a 14-byte header, then n samples. */
int refine_decode_gaitcap_v1(const uint8_t *val, size_t len,
			     struct insole_sample *out, size_t max)
{
	unsigned int n;
	uint32_t seq, t;
	uint16_t period, flags;

	if (len < INSOLE_DATA_HDR || val[INSOLE_DATA_OFF_VERSION] != INSOLE_DATA_VERSION)
		return -EBADMSG;
	n = val[INSOLE_DATA_OFF_N];
	if (!n || n > INSOLE_MAX_BATCH || n > max ||
	    len != INSOLE_DATA_HDR + (size_t)n * INSOLE_SAMPLE_SIZE)
		return -EBADMSG;
	flags = le16(val + INSOLE_DATA_OFF_FLAGS);
	seq = le32(val + INSOLE_DATA_OFF_SEQ);
	t = le32(val + INSOLE_DATA_OFF_T_US);
	period = le16(val + INSOLE_DATA_OFF_PERIOD);
	for (unsigned int k = 0; k < n; k++) {
		const uint8_t *s = val + INSOLE_DATA_HDR + k * INSOLE_SAMPLE_SIZE;
		struct insole_sample *o = &out[k];

		memset(o, 0, sizeof(*o));
		o->seq = seq + k;
		o->t_us = t + k * (uint32_t)period;
		o->has_seq = o->has_clock = o->has_imu = true;
		o->flags = flags;
		o->n_cells = INSOLE_CELLS;
		for (int c = 0; c < INSOLE_CELLS; c++)
			o->cell[c] = le16(s + 2 * c);
		for (int a = 0; a < 3; a++) {
			o->acc[a] = (int16_t)le16(s + 2 * INSOLE_CELLS + 2 * a);
			o->gyro[a] = (int16_t)le16(s + 2 * INSOLE_CELLS + 6 + 2 * a);
		}
	}
	return (int)n;
}

static double jnum(struct json_object *o, const char *key, double def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !(json_object_is_type(v, json_type_int) ||
	      json_object_is_type(v, json_type_double)))
		return def;
	return json_object_get_double(v);
}

int refine_insole_setup(struct refine *R, struct ins *in,
			const struct gcs_stream_info *si)
{
	struct json_object *d = json_tokener_parse(si->desc_json ? si->desc_json : "{}");
	struct json_object *v, *cells;
	const char *side = "", *profile = "gaitcap-v1";
	double kpa;

	memset(in, 0, sizeof(*in));
	in->stream = si->id;
	in->state = -1;
	if (!d)
		return refine_fail(R, -EINVAL, "stream %u: description is not JSON", si->id);
	if (json_object_object_get_ex(d, "side", &v))
		side = json_object_get_string(v);
	if (json_object_object_get_ex(d, "profile", &v))
		profile = json_object_get_string(v);
	/* A capture names the profile and its decoder apart (src_ble.c). */
	if (!strcmp(profile, "gaitcap") &&
	    json_object_object_get_ex(d, "decoder", &v) &&
	    !strcmp(json_object_get_string(v), "gaitcap-v1"))
		profile = "gaitcap-v1";
	if (strcmp(profile, "gaitcap-v1")) {
		/* profile points into d: tell before letting it go. */
		int ret = refine_fail(R, -ENOTSUP, "stream %u: insole profile '%s': only gaitcap-v1 is decoded",
				      si->id, profile);

		json_object_put(d);
		return ret;
	}
	in->side = !strcmp(side, "left") ? REFINE_LEFT :
		   !strcmp(side, "right") ? REFINE_RIGHT : REFINE_SIDE_UNKNOWN;
	in->has_handle = json_object_object_get_ex(d, "att_handle", &v);
	in->handle = (uint16_t)jnum(d, "att_handle", 0);
	in->n_cells = INSOLE_CELLS;
	in->rate_hz = jnum(d, "rate_hz", 100);
	if (!(in->rate_hz >= 1 && in->rate_hz <= 10000))
		in->rate_hz = 100;
	in->full_code = (uint16_t)jnum(d, "full_scale_code",
				       jnum(d, "full_scale", 4095));
	kpa = jnum(d, "kpa_per_code", 1);
	/* Without areas, force is in code units: thresholds are relative. */
	for (unsigned int c = 0; c < in->n_cells; c++)
		in->k_cell[c] = kpa * 1e-3;
	if (json_object_object_get_ex(d, "cells", &cells) &&
	    json_object_is_type(cells, json_type_array)) {
		for (unsigned int c = 0; c < in->n_cells &&
		     c < json_object_array_length(cells); c++) {
			double a = jnum(json_object_array_get_idx(cells, c), "area_mm2", 1);

			in->k_cell[c] = kpa * a * 1e-3;	/* kPa x mm2 = mN */
		}
		in->have_areas = true;
	}
	/* A capture's description: [x mm, y mm, area mm2] per cell. */
	if (json_object_object_get_ex(d, "cell_xy_area_mm", &cells) &&
	    json_object_is_type(cells, json_type_array) &&
	    json_object_array_length(cells) >= in->n_cells) {
		for (unsigned int c = 0; c < in->n_cells; c++) {
			struct json_object *e = json_object_array_get_idx(cells, c);
			struct json_object *a = json_object_is_type(e, json_type_array) ?
						json_object_array_get_idx(e, 2) : NULL;

			if (!a || !(json_object_get_double(a) > 0))
				break;
			in->k_cell[c] = kpa * json_object_get_double(a) * 1e-3;
			in->have_areas = c + 1 == in->n_cells;
		}
	}
	json_object_put(d);
	in->cell_hist = calloc((size_t)in->n_cells * CODES, sizeof(*in->cell_hist));
	in->fraw_hist = calloc(FRAW_BINS, sizeof(*in->fraw_hist));
	if (!in->cell_hist || !in->fraw_hist)
		return refine_fail(R, -ENOMEM, "out of memory");
	in->st.stream = si->id;
	in->st.side = in->side;
	in->fraw_max = 0;
	for (unsigned int c = 0; c < in->n_cells; c++)
		in->fraw_max += 4095 * in->k_cell[c];
	return 0;
}

void refine_insole_free(struct ins *in)
{
	free(in->cell_hist);
	free(in->fraw_hist);
	free(in->bins);
	free(in->out_buf);
}

/* Decode one record; 0 samples for anything that is not our data. */
static int decode_rec(struct ins *in, const struct gcs_record *rec,
		      struct insole_sample *s, bool count)
{
	int n;

	if (rec->len < 3 || rec->data[0] != ATT_OP_NOTIFY ||
	    (in->has_handle && le16(rec->data + 1) != in->handle)) {
		if (count)
			in->st.foreign++;
		return 0;
	}
	n = refine_decode_gaitcap_v1(rec->data + 3, rec->len - 3, s,
				     INSOLE_MAX_BATCH);
	if (n < 0) {
		if (count)
			in->st.corrupt++;
		return 0;
	}
	return n;
}

/* The u32 counter and clock, unwrapped by the shortest signed step. */
static void unwrap(struct ins *in, const struct insole_sample *s,
		   uint64_t *seq, uint64_t *dev)
{
	if (!in->have_raw) {
		in->have_raw = true;
		in->seq = s->seq;
		in->dev_us = s->t_us;
	} else {
		in->seq += (int64_t)(int32_t)(s->seq - in->last_raw_seq);
		in->dev_us += (int64_t)(int32_t)(s->t_us - in->last_raw_t);
	}
	in->last_raw_seq = s->seq;
	in->last_raw_t = s->t_us;
	*seq = in->seq;
	*dev = in->dev_us;
}

/*
 * A record's arrival on the host timeline. A device-clock stamp (an import,
 * docs/import-moticon.md) is no arrival: the record goes at its chunk's host
 * time plus its distance from the chunk's first record, as qc places it.
 */
static int64_t rx_time(struct refine *R, struct ins *in,
		       const struct gcs_record *rec)
{
	if (rec->ts_clock != GCS_CLOCK_DEVICE || rec->ts_source != GCS_TS_RECORD)
		return rec->t_ns + in->rx_to_mono;
	if (!in->have_rx_chunk || rec->chunk != in->rx_chunk) {
		in->have_rx_chunk = true;
		in->rx_chunk = rec->chunk;
		in->rx_dev0 = rec->t_ns;
	}
	return gcs_reader_chunk(R->r, rec->chunk)->t_first_ns +
	       (rec->t_ns - in->rx_dev0);
}

int refine_insole_pass_a(struct refine *R, struct ins *in,
			 const struct gcs_record *rec)
{
	struct insole_sample s[INSOLE_MAX_BATCH];
	int n = decode_rec(in, rec, s, false);
	int64_t rx = rx_time(R, in, rec), key;
	uint64_t seq, dev = 0;

	for (int k = 0; k < n; k++) {
		double fraw = 0;

		unwrap(in, &s[k], &seq, &dev);
		for (unsigned int c = 0; c < in->n_cells; c++) {
			uint16_t v = s[k].cell[c] < CODES ? s[k].cell[c] : CODES - 1;

			in->cell_hist[c * CODES + v]++;
			fraw += v * in->k_cell[c];
		}
		in->fraw_hist[(size_t)fmin(fraw / fmax(in->fraw_max, 1e-9) *
					    (FRAW_BINS - 1), FRAW_BINS - 1)]++;
	}
	if (n <= 0)
		return 0;
	/* The notification left after its last sample: one envelope point. */
	if (!in->n_bins && !in->first_rx)
		in->first_rx = rx;
	key = (rx - in->first_rx) / NS_PER_S;
	if (in->n_bins && in->bins[in->n_bins - 1].key == key) {
		struct env_bin *b = &in->bins[in->n_bins - 1];

		if (rx - (int64_t)dev * 1000 < b->lat_ns) {
			b->lat_ns = rx - (int64_t)dev * 1000;
			b->dev_ns = (int64_t)dev * 1000;
		}
		return 0;
	}
	if (in->n_bins == in->cap_bins) {
		size_t cap = in->cap_bins ? 2 * in->cap_bins : 256;
		struct env_bin *b = realloc(in->bins, cap * sizeof(*b));

		if (!b)
			return refine_fail(R, -ENOMEM, "out of memory");
		in->bins = b;
		in->cap_bins = cap;
	}
	in->bins[in->n_bins++] = (struct env_bin){
		.key = key, .dev_ns = (int64_t)dev * 1000,
		.lat_ns = rx - (int64_t)dev * 1000,
	};
	return 0;
}

/*
 * The smallest step between codes the cell took: 1 for a noisy ADC, 25 for
 * the OpenGo's 0.25 N/cm2 in 0.01 N/cm2 codes. 0 if it took one code only.
 */
static unsigned int cell_quantum(const uint32_t *h)
{
	unsigned int q = 0;
	int last = -1;

	for (unsigned int v = 0; v < CODES; v++) {
		if (!h[v])
			continue;
		if (last >= 0 && (!q || v - (unsigned int)last < q))
			q = v - (unsigned int)last;
		last = (int)v;
	}
	return q;
}

/* The most frequent code of a cell: an unloaded insole most of the time. */
static double cell_zero(const uint32_t *h, double *sd)
{
	uint64_t best = 0, n = 0;
	unsigned int at = 0, win;
	double s = 0, ss = 0;

	for (unsigned int v = 0; v < CODES; v++) {
		uint64_t w = h[v] + (v ? h[v - 1] : 0) + (v + 1 < CODES ? h[v + 1] : 0);

		if (w > best) {
			best = w;
			at = v;
		}
	}
	/* A quantised cell's noise is whole steps: a window of 8 codes sees none. */
	win = cell_quantum(h) * QUANTA_WINDOW;
	if (win < 8)
		win = 8;
	for (unsigned int v = at >= win ? at - win : 0; v <= at + win && v < CODES; v++) {
		n += h[v];
		s += (double)v * h[v];
		ss += (double)v * v * h[v];
	}
	if (!n) {
		*sd = 0;
		return at;
	}
	*sd = sqrt(fmax(ss / n - (s / n) * (s / n), 0));
	return s / n;
}

void refine_insole_calibrate(struct ins *in)
{
	double var = 0, zero_sum = 0;
	uint64_t total = 0, acc = 0;

	for (unsigned int c = 0; c < in->n_cells; c++) {
		double sd;

		in->st.zero_code[c] = cell_zero(in->cell_hist + (size_t)c * CODES, &sd);
		zero_sum += in->st.zero_code[c] * in->k_cell[c];
		var += (sd * in->k_cell[c]) * (sd * in->k_cell[c]);
	}
	in->zero_sum_n = zero_sum;
	in->st.noise_n = sqrt(var);
	for (size_t b = 0; b < FRAW_BINS; b++)
		total += in->fraw_hist[b];
	for (size_t b = 0; b < FRAW_BINS && total; b++) {
		acc += in->fraw_hist[b];
		if (acc >= total * 95 / 100) {
			in->st.peak_n = (b + 0.5) * in->fraw_max / (FRAW_BINS - 1) - zero_sum;
			break;
		}
	}
	/* docs/gait-parameters.md: 2 % of the loaded peak, 5 x noise, 5 N. */
	in->st.threshold_n = fmax(fmax(0.02 * in->st.peak_n, 5 * in->st.noise_n),
				  in->have_areas ? 5.0 : 0);
	in->confirm = (unsigned int)fmax(2, ceil(CONFIRM_S * in->rate_hz));
	in->have_raw = false;
	in->seq = in->dev_us = 0;
}

/* ---- Pass B: one sample at a time, in sequence order ------------------------ */

static int out_flush(struct refine *R, struct ins *in)
{
	struct gcs_chunk_meta m;
	int ret;

	if (!R->w || !in->out_n)
		return 0;
	m = (struct gcs_chunk_meta){
		.len = in->out_n * OUT_REC, .n_records = in->out_n,
		.first_seq = in->out_seq, .last_seq = in->out_seq + in->out_n - 1,
		.t_first_ns = in->out_t0, .t_last_ns = in->out_t1,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	ret = refine_outq_put(&R->q, in->out_stream, in->out_buf, &m);
	if (ret)
		return refine_fail(R, ret, "refined.gcs: %s", gcs_strerror(ret));
	in->out_seq += in->out_n;
	in->out_n = 0;
	return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);	/* little-endian hosts only, as the format */
}

static int out_sample(struct refine *R, struct ins *in, const struct rsample *s,
		      int64_t t, double force, uint32_t flags)
{
	uint8_t *p;
	float f = (float)force;
	uint32_t seq = (uint32_t)s->seq;

	if (!R->w)
		return 0;
	if (!in->out_buf) {
		in->out_buf = calloc(OUT_BATCH, OUT_REC);
		if (!in->out_buf)
			return refine_fail(R, -ENOMEM, "out of memory");
	}
	p = in->out_buf + (size_t)in->out_n * OUT_REC;
	memset(p, 0, OUT_REC);
	put64(p, (uint64_t)t);
	put64(p + 8, s->dev_us);
	memcpy(p + 16, &seq, 4);
	memcpy(p + 20, &flags, 4);
	memcpy(p + 24, &f, 4);
	for (unsigned int c = 0; c < in->n_cells && c < 16; c++) {
		float kpa = (float)((s->cell[c] - in->st.zero_code[c]) * in->k_cell[c]);

		memcpy(p + 28 + 4 * c, &kpa, 4);
	}
	if (!in->out_n)
		in->out_t0 = t;
	in->out_t1 = t;
	if (++in->out_n == OUT_BATCH)
		return out_flush(R, in);
	return 0;
}

/*
 * A toe-off whose force crept down to the threshold (a cell relaxing, the
 * shoe pressing: seen on the OpenGo) happened where the fast unloading
 * ended: the last pair, at most KNEE_S back from the crossing @age samples
 * ago, falling faster than KNEE_RATE peaks per second into a tail below
 * KNEE_TAIL of the peak. Otherwise the crossing's @t stands.
 */
static int64_t to_knee(const struct ins *in, unsigned int age, int64_t t)
{
	double peak = in->st.peak_n;

	for (unsigned int a = age; a + 1 < in->knee_n; a++) {
		unsigned int i = (in->knee_at + KNEE_RING - a) % KNEE_RING;
		unsigned int j = (in->knee_at + KNEE_RING - a - 1) % KNEE_RING;
		double dt = (double)(in->knee_t[i] - in->knee_t[j]) / 1e9;

		if (!(peak > 0) || dt <= 0 || in->knee_f[i] > KNEE_TAIL * peak ||
		    t - in->knee_t[i] > (int64_t)(KNEE_S * NS_PER_S) ||
		    in->knee_t[j] < in->last_ic)
			break;
		if (in->knee_f[j] - in->knee_f[i] >= KNEE_RATE * peak * dt)
			return in->knee_t[j] + (in->knee_t[i] - in->knee_t[j]) / 2;
	}
	return t;
}

static int detect(struct refine *R, struct ins *in, int64_t t, double f,
		  uint32_t flags)
{
	int side_now = f >= in->st.threshold_n;
	int ret = 0;

	in->knee_at = (in->knee_at + 1) % KNEE_RING;
	in->knee_t[in->knee_at] = t;
	in->knee_f[in->knee_at] = f;
	if (in->knee_n < KNEE_RING)
		in->knee_n++;
	in->run_flags |= flags & (REFINE_Q_HELD | REFINE_Q_SATURATED | REFINE_Q_GAP);
	if (in->state < 0) {
		in->state = side_now;	/* no event at the very start */
	} else if (side_now != in->state) {
		if (!in->cand_n) {
			/* Between the two samples: their midpoint. */
			in->cand_t = in->prev_t + (t - in->prev_t) / 2;
			in->cand_flags = flags & REFINE_Q_GAP;
		}
		if (++in->cand_n >= in->confirm) {
			in->state = side_now;
			if (!side_now)
				in->cand_t = to_knee(in, in->cand_n - 1, in->cand_t);
			else
				in->last_ic = in->cand_t;
			ret = refine_add_event(R, in->cand_t, in->side,
					       side_now ? REFINE_IC : REFINE_TO,
					       REFINE_SRC_INSOLE,
					       in->cand_flags | in->run_flags,
					       (int)(in - R->ins));
			in->cand_n = 0;
			in->run_flags = 0;
		}
	} else {
		in->cand_n = 0;
	}
	if (flags & REFINE_Q_GAP && in->cand_n)
		in->cand_flags |= REFINE_Q_GAP;
	in->prev_t = t;
	in->prev_f = f;
	in->have_prev = true;
	return ret;
}

static int emit(struct refine *R, struct ins *in, const struct rsample *s)
{
	uint32_t flags = 0;
	bool held = in->emitted_any, imu = false;
	double f = -in->zero_sum_n;
	int64_t t;
	int ret;

	if (in->emitted_any && s->seq > in->last_seq + 1) {
		in->st.gaps++;
		in->st.missing += s->seq - in->last_seq - 1;
		flags |= REFINE_Q_GAP;
	}
	for (unsigned int c = 0; c < in->n_cells; c++) {
		if (s->cell[c] != in->last_cell[c])
			held = false;
		if (s->cell[c] >= in->full_code)
			flags |= REFINE_Q_SATURATED;
		if (in->emitted_any && s->cell[c] == in->last_cell[c]) {
			if (++in->flat_run[c] >= FLAT_S * in->rate_hz && !in->flat_seen[c]) {
				in->flat_seen[c] = true;
				in->st.flat_cells++;
			}
		} else {
			in->flat_run[c] = 0;
		}
		f += s->cell[c] * in->k_cell[c];
	}
	/*
	 * Held: the whole sample again. Quantised cells of an unloaded foot
	 * repeat for real (a fifth of the fixture's), the IMU rarely (1 in
	 * 500): unloaded, two repeats in a row are needed, and without an IMU
	 * (all zero) nothing tells. Under load 16 cells never stand still.
	 */
	for (int a = 0; a < 6; a++) {
		imu |= s->imu[a] != 0;
		if (s->imu[a] != in->last_imu[a])
			held = false;
	}
	in->held_run = held ? in->held_run + 1 : 0;
	if (held && (f >= in->st.threshold_n || (imu && in->held_run >= 2))) {
		/* an unloaded run's first repeat counts once a second confirms it */
		in->st.held += 1 + (in->held_run == 2 && in->held_wait);
		flags |= REFINE_Q_HELD;
	}
	in->held_wait = held && imu && in->held_run == 1 && f < in->st.threshold_n;
	if (flags & REFINE_Q_SATURATED)
		in->st.saturated++;
	memcpy(in->last_cell, s->cell, sizeof(in->last_cell));
	memcpy(in->last_imu, s->imu, sizeof(in->last_imu));
	in->last_seq = s->seq;
	in->emitted_any = true;
	t = refine_clock_map(&in->fit, s->dev_us);
	in->st.samples++;
	ret = out_sample(R, in, s, t, f, flags);
	return ret ? ret : detect(R, in, t, f, flags);
}

/* Keep up to REORDER_MAX samples sorted by counter; emit the oldest. */
static int push(struct refine *R, struct ins *in, const struct rsample *s)
{
	unsigned int i;

	if (in->emitted_any && s->seq <= in->last_seq) {
		if (s->seq == in->last_seq)
			in->st.duplicated++;
		else
			in->st.out_of_order++;	/* too late to place: dropped */
		return 0;
	}
	for (i = in->n_buf; i > 0 && in->buf[i - 1].seq >= s->seq; i--)
		;
	if (i < in->n_buf && in->buf[i].seq == s->seq) {
		in->st.duplicated++;
		return 0;
	}
	if (i < in->n_buf)
		in->st.out_of_order++;	/* reordered */
	memmove(&in->buf[i + 1], &in->buf[i], (in->n_buf - i) * sizeof(*s));
	in->buf[i] = *s;
	in->n_buf++;
	if (in->n_buf > REORDER_MAX) {
		int ret = emit(R, in, &in->buf[0]);

		in->n_buf--;
		memmove(&in->buf[0], &in->buf[1], in->n_buf * sizeof(*s));
		return ret;
	}
	return 0;
}

int refine_insole_pass_b(struct refine *R, struct ins *in,
			 const struct gcs_record *rec)
{
	struct insole_sample s[INSOLE_MAX_BATCH];
	int n = decode_rec(in, rec, s, true);

	in->st.notifications++;
	for (int k = 0; k < n; k++) {
		struct rsample r = { .rx_ns = rx_time(R, in, rec), .flags = s[k].flags };
		int ret;

		unwrap(in, &s[k], &r.seq, &r.dev_us);
		memcpy(r.cell, s[k].cell, sizeof(r.cell));
		memcpy(r.imu, s[k].acc, sizeof(s[k].acc));
		memcpy(r.imu + 3, s[k].gyro, sizeof(s[k].gyro));
		ret = push(R, in, &r);
		if (ret)
			return ret;
	}
	return 0;
}

int refine_insole_finish(struct refine *R, struct ins *in)
{
	int ret = 0;

	for (unsigned int i = 0; !ret && i < in->n_buf; i++)
		ret = emit(R, in, &in->buf[i]);
	in->n_buf = 0;
	if (!ret)
		ret = out_flush(R, in);
	return ret;
}
