// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat-sim's controller, decoded back through the driver's codec: the
 * frames match the walking model, every fault class has exactly its
 * documented effect on a receiver, the same seed gives the same bytes, the
 * link budget drops scans, host commands are answered.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "sim/faults.h"
#include "sim/gait_model.h"
#include "sim/mat_ctrl.h"
#include "sim/sim_truth.h"
#include "test_sim_util.h"

/* ---- A run captured in memory ---------------------------------------------- */

struct cap {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint64_t last_us;
};

struct run {
	struct walkway w;
	struct gait_params gp;
	struct mat_cfg cfg;
	struct fault_plan plan;
	struct gait_model *m;
	struct mat_ctrl *c;
	struct cap cap;
	struct rx_log rx;
	bool decoded;
};

static int cap_sink(void *ctx, const uint8_t *buf, size_t len, uint64_t sim_us)
{
	struct cap *cap = ctx;

	/* The line is serial: chunks leave in time order. */
	assert_true(sim_us >= cap->last_us);
	cap->last_us = sim_us;
	if (cap->len + len > cap->cap) {
		size_t n = cap->cap ? cap->cap : 65536;

		while (n < cap->len + len)
			n *= 2;
		cap->buf = realloc(cap->buf, n);
		assert_non_null(cap->buf);
		cap->cap = n;
	}
	memcpy(cap->buf + cap->len, buf, len);
	cap->len += len;
	return 0;
}

static int setup(void **state)
{
	struct run *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	gait_params_init(&r->gp);
	mat_cfg_init(&r->cfg);
	r->cfg.n_tiles = 2;
	r->cfg.autostart = true;
	r->cfg.seed = 1234;
	*state = r;
	return 0;
}

static void run_reset(struct run *r)
{
	mat_ctrl_destroy(r->c);
	gait_model_destroy(r->m);
	if (r->decoded)
		rx_free(&r->rx);
	free(r->cap.buf);
	r->c = NULL;
	r->m = NULL;
	r->decoded = false;
	memset(&r->cap, 0, sizeof(r->cap));
}

static int teardown(void **state)
{
	struct run *r = *state;

	run_reset(r);
	free(r);
	return 0;
}

static void add_fault(struct run *r, const char *spec)
{
	char err[160] = "";

	if (fault_plan_add(&r->plan, spec, err, sizeof(err)))
		fail_msg("fault %s: %s", spec, err);
}

static void run_create(struct run *r)
{
	char err[200] = "";
	int ret;

	mat_walkway_line(&r->w, r->cfg.n_tiles);
	assert_int_equal(gait_model_create(&r->m, &r->gp, &r->w, r->cfg.seed), 0);
	ret = mat_ctrl_create(&r->c, &r->cfg, r->m, &r->plan, cap_sink,
			      &r->cap, err, sizeof(err));
	if (ret)
		fail_msg("mat_ctrl_create: %d %s", ret, err);
}

/* Run the whole walk (autostart) as fast as possible, then decode it. */
static void run_walk(struct run *r, bool keep_images)
{
	uint64_t next, end;

	run_create(r);
	while (!mat_ctrl_finished(r->c)) {
		next = mat_ctrl_next_event_us(r->c);
		end = mat_ctrl_end_us(r->c);
		assert_true(next < 600000000);	/* 10 min: something is stuck */
		assert_int_equal(mat_ctrl_run_until(r->c, next < end ? next : end),
				 0);
	}
	assert_int_equal(rx_decode(r->cap.buf, r->cap.len, &r->rx, keep_images),
			 0);
	r->decoded = true;
}

static uint64_t period(unsigned int rate)
{
	return 1000000 / rate;
}

/* The data frames of boot @boot, in stream order. */
static size_t data_frames(const struct rx_log *rx, unsigned int boot,
			  const struct rx_frame **out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < rx->n; i++) {
		if (!rx_is_data(&rx->f[i]) || rx->f[i].boot != boot)
			continue;
		if (n < max)
			out[n] = &rx->f[i];
		n++;
	}
	return n;
}

static const struct rx_frame *find_seq(const struct rx_log *rx,
				       unsigned int boot, uint32_t seq)
{
	size_t i;

	for (i = 0; i < rx->n; i++)
		if (rx_is_data(&rx->f[i]) && rx->f[i].boot == boot &&
		    rx->f[i].seq == seq)
			return &rx->f[i];
	return NULL;
}

/*
 * Sequence numbers missing between received data frames of one boot
 * (up to the last one received), written to @missing.
 */
static size_t missing_seqs(const struct rx_log *rx, unsigned int boot,
			   uint32_t *missing, size_t max)
{
	const struct rx_frame *prev = NULL;
	size_t i, n = 0;
	uint32_t s;

	for (i = 0; i < rx->n; i++) {
		const struct rx_frame *f = &rx->f[i];

		if (!rx_is_data(f) || f->boot != boot)
			continue;
		if (prev) {
			assert_true(f->seq > prev->seq);
			for (s = prev->seq + 1; s < f->seq; s++) {
				if (n < max)
					missing[n] = s;
				n++;
			}
		}
		prev = f;
	}
	return n;
}

static const struct mat_fault_record *faults_of(const struct run *r,
						enum fault_kind kind,
						size_t *n)
{
	static struct mat_fault_record out[64];
	const struct mat_fault_record *log;
	size_t i, total;

	*n = 0;
	log = mat_ctrl_fault_log(r->c, &total);
	for (i = 0; i < total; i++)
		if (log[i].kind == kind && *n < 64)
			out[(*n)++] = log[i];
	return out;
}

/* ---- Frames against the model ------------------------------------------------ */

static void test_sim_boot_announces_devinfo_and_calib(void **state)
{
	struct run *r = *state;
	const struct mat_boot *boots;
	const struct rx_frame *f;
	size_t n_boots;

	r->gp.passes = 1;
	run_walk(r, false);
	boots = mat_ctrl_boots(r->c, &n_boots);
	assert_int_equal(n_boots, 1);
	/* A delimiter first, so a receiver syncs on the very first frame. */
	assert_int_equal(r->cap.buf[0], GM_DELIM);
	assert_int_equal(r->rx.n_errors, 0);
	assert_int_equal(r->rx.n_boots, 1);
	f = &r->rx.f[0];
	assert_int_equal(f->type, GM_T_DEVINFO);
	assert_int_equal(f->clock_us, MAT_BOOT_INFO_US);
	assert_int_equal(f->u.di.boot_id, boots[0].boot_id);
	assert_int_equal(f->u.di.n_tiles, 2);
	assert_int_equal(f->u.di.rows, 64);
	assert_int_equal(f->u.di.cols, 64);
	assert_int_equal(f->u.di.pitch_um, 9500);
	assert_int_equal(f->u.di.rate_hz, 100);
	assert_int_equal(f->u.di.baud, MAT_DEF_BAUD);
	assert_int_equal(f->u.di.full_scale_kpa, MAT_DEF_FULL_SCALE);
	assert_int_equal(f->u.di.n_rates, 4);
	assert_int_equal(f->u.di.rates[3], 200);
	assert_int_equal(f->u.di.tiles[1].x_mm, 608);
	assert_int_equal(strncmp(f->u.di.serial, "GMSIM-", 6), 0);
	assert_int_equal(r->rx.f[1].type, GM_T_CALIB);
	assert_int_equal(r->rx.f[1].u.calib_tile, 0);
	assert_int_equal(r->rx.f[2].type, GM_T_CALIB);
	assert_int_equal(r->rx.f[2].u.calib_tile, 1);
	/* The gains announced are the ones the images were divided by. */
	assert_memory_equal(r->rx.gains, mat_ctrl_gains(r->c),
			    2 * 4096 * sizeof(uint16_t));
	assert_true(r->rx.gains[0] != r->rx.gains[1] ||
		    r->rx.gains[1] != r->rx.gains[2]);
}

static void test_sim_frames_decode_to_model(void **state)
{
	struct run *r = *state;
	const struct rx_frame **df;
	uint16_t *want;
	uint64_t start_clock;
	size_t n, i, loaded = 0, saturated = 0;

	run_walk(r, true);
	assert_int_equal(r->rx.n_errors, 0);
	df = calloc(20000, sizeof(*df));
	want = malloc(r->rx.n_sensels * sizeof(*want));
	assert_non_null(df);
	assert_non_null(want);
	n = data_frames(&r->rx, 0, df, 20000);
	assert_int_equal(n, mat_ctrl_stats(r->c)->scans);
	assert_true(n > 500);
	start_clock = df[0]->clock_us;
	assert_int_equal(start_clock, mat_ctrl_walk_start_us(r->c));
	for (i = 0; i < n; i++) {
		const uint16_t *img = rx_image(&r->rx, df[i]);
		bool any = false, sat = false;
		unsigned int k;

		/* Contiguous scans at exactly the configured rate. */
		assert_int_equal(df[i]->seq, i);
		assert_int_equal(df[i]->clock_us, start_clock + i * period(100));
		mat_ctrl_image(r->c, df[i]->clock_us - start_clock, want);
		assert_memory_equal(img, want, r->rx.n_sensels * sizeof(*want));
		for (k = 0; k < r->rx.n_sensels; k++) {
			any |= img[k] != 0;
			sat |= img[k] == GM_SENSEL_MAX;
		}
		loaded += any;
		saturated += sat;
		assert_int_equal(!!(df[i]->flags & GM_F_SATURATED), sat);
		assert_false(df[i]->flags & (GM_F_OVERFLOW | GM_F_ZEROED));
	}
	/* Most of a walk over 1.2 m of mat has someone on it. */
	assert_true(loaded > n / 4);
	assert_true(saturated < n / 10);
	free(want);
	free(df);
}

static void test_sim_picks_smaller_encoding(void **state)
{
	struct run *r = *state;
	uint8_t *body = malloc(GM_MAX_BODY);
	size_t i, checked = 0;

	assert_non_null(body);
	r->cfg.n_tiles = 1;
	r->gp.passes = 1;
	r->gp.foot_length_m = 0.36;
	r->gp.foot_width_m = 0.16;
	run_walk(r, true);
	for (i = 0; i < r->rx.n; i++) {
		const struct rx_frame *f = &r->rx.f[i];
		const uint16_t *img;
		long sparse, dense;

		if (!rx_is_data(f))
			continue;
		img = rx_image(&r->rx, f);
		sparse = gm_encode_sparse(&r->rx.di, img, body, GM_MAX_BODY);
		dense = gm_encode_dense(&r->rx.di, img, body, GM_MAX_BODY);
		assert_true(sparse > 0 && dense > 0);
		assert_int_equal(f->type, sparse < dense ? GM_T_SPARSE :
				 GM_T_DENSE);
		checked++;
	}
	assert_true(checked > 100);
	free(body);
}

static void test_sim_heartbeat_every_500ms(void **state)
{
	struct run *r = *state;
	size_t i, k = 0;
	uint32_t seen_data = 0;

	run_walk(r, false);
	for (i = 0; i < r->rx.n; i++) {
		const struct rx_frame *f = &r->rx.f[i];

		if (rx_is_data(f))
			seen_data = f->seq + 1;
		if (f->type != GM_T_STATUS)
			continue;
		k++;
		assert_int_equal(f->clock_us, k * MAT_HEARTBEAT_US);
		assert_int_equal(f->u.st.state, GM_STATE_STREAMING);
		assert_int_equal(f->u.st.rate_hz, 100);
		assert_int_equal(f->u.st.boot_id, r->rx.di.boot_id);
		assert_int_equal(f->u.st.scans_dropped, 0);
		assert_int_equal(f->u.st.error_flags, 0);
		/* A STATUS carries the number of the next scan. */
		assert_int_equal(f->seq, seen_data);
	}
	assert_int_equal(k, mat_ctrl_end_us(r->c) / MAT_HEARTBEAT_US);
}

/* Foot-local coordinates of sensel @idx: along and across the foot, mm. */
static void foot_local(const struct walkway *w, const struct footfall *f,
		       unsigned int idx, double *u, double *v)
{
	double x, y, c = cos(f->heading_rad), s = sin(f->heading_rad);

	walkway_sensel_pos(w, idx, &x, &y);
	x -= f->heel_x_mm;
	y -= f->heel_y_mm;
	*u = x * c + y * s;
	*v = -x * s + y * c;
}

struct foot_load {
	unsigned int n;		/* loaded sensels in the foot's rectangle */
	double u_min, u_max;	/* along the foot, mm */
	double cop_u;		/* pressure-weighted mean of u */
	double force_n;		/* from the counts, the gains, full scale */
};

static struct foot_load foot_load(const struct run *r, const uint16_t *img,
				  const struct footfall *f)
{
	const struct gait_params *p = gait_model_params(r->m);
	double len = p->foot_length_m * 1000, half = p->foot_width_m * 500;
	double pitch = 9.5, area = 9.5e-3 * 9.5e-3, sum = 0, u, v, kpa;
	struct foot_load fl = { .u_min = INFINITY, .u_max = -INFINITY };
	unsigned int k;

	for (k = 0; k < r->rx.n_sensels; k++) {
		if (!img[k])
			continue;
		foot_local(&r->w, f, k, &u, &v);
		if (u < -pitch || u > len + pitch || fabs(v) > half + pitch)
			continue;
		kpa = img[k] * (r->rx.gains[k] / 4096.0) *
		      r->rx.di.full_scale_kpa / GM_SENSEL_MAX;
		fl.n++;
		fl.u_min = fmin(fl.u_min, u);
		fl.u_max = fmax(fl.u_max, u);
		fl.cop_u += u * kpa;
		sum += kpa;
	}
	fl.cop_u = sum > 0 ? fl.cop_u / sum : NAN;
	fl.force_n = sum * 1000.0 * area;
	return fl;
}

static void test_sim_footfalls_visible_at_contact_and_toe_off(void **state)
{
	struct run *r = *state;
	const struct mat_footfall_obs *obs;
	uint64_t start;
	double len;
	size_t i, checked = 0;

	r->cfg.n_tiles = 4;
	r->cfg.rate_hz = 200;
	run_walk(r, true);
	obs = mat_ctrl_footfall_obs(r->c);
	start = mat_ctrl_walk_start_us(r->c);
	len = gait_model_params(r->m)->foot_length_m * 1000;
	for (i = 0; i < gait_model_n_footfalls(r->m); i++) {
		const struct footfall *f = gait_model_footfall(r->m, i);
		const struct rx_frame *first, *before, *last, *after;
		struct foot_load fl;

		if (!f->fully_on_mat || f->turning)
			continue;
		assert_true(obs[i].first.valid && obs[i].last.valid);
		first = find_seq(&r->rx, 0, obs[i].first.seq);
		before = find_seq(&r->rx, 0, obs[i].first.seq - 1);
		last = find_seq(&r->rx, 0, obs[i].last.seq);
		after = find_seq(&r->rx, 0, obs[i].last.seq + 1);
		assert_non_null(first);
		assert_non_null(before);
		assert_non_null(last);
		assert_non_null(after);
		/* The truth's scans bracket the true instants. */
		assert_true(before->clock_us <= start + f->ic_us);
		assert_true(first->clock_us > start + f->ic_us);
		assert_true(last->clock_us < start + f->to_us);
		assert_true(after->clock_us >= start + f->to_us);

		/* Nothing before contact; then the heel alone. */
		fl = foot_load(r, rx_image(&r->rx, before), f);
		assert_int_equal(fl.n, 0);
		fl = foot_load(r, rx_image(&r->rx, first), f);
		assert_true(fl.n > 3);
		assert_true(fl.u_max < 0.35 * len);
		/* The toes last; then nothing. */
		fl = foot_load(r, rx_image(&r->rx, last), f);
		assert_true(fl.n > 0);
		assert_true(fl.u_min > 0.5 * len);
		fl = foot_load(r, rx_image(&r->rx, after), f);
		assert_int_equal(fl.n, 0);
		checked++;
	}
	assert_true(checked >= 6);
}

static void test_sim_pressure_rolls_heel_to_toe(void **state)
{
	struct run *r = *state;
	const struct mat_footfall_obs *obs;
	size_t i, checked = 0;
	double len;

	run_walk(r, true);
	obs = mat_ctrl_footfall_obs(r->c);
	len = gait_model_params(r->m)->foot_length_m * 1000;
	for (i = 0; i < gait_model_n_footfalls(r->m); i++) {
		const struct footfall *f = gait_model_footfall(r->m, i);
		uint32_t a = obs[i].first.seq, b = obs[i].last.seq;
		double cop[3];
		int k;

		if (!f->fully_on_mat || f->turning)
			continue;
		/* Centre of pressure at 10, 50 and 90 % of the stance. */
		for (k = 0; k < 3; k++) {
			uint32_t s = a + (b - a) * (1 + 4 * k) / 10;

			cop[k] = foot_load(r, rx_image(&r->rx,
						       find_seq(&r->rx, 0, s)),
					   f).cop_u;
		}
		assert_true(cop[0] < 0.3 * len);
		assert_true(cop[0] < cop[1] && cop[1] < cop[2]);
		assert_true(cop[2] > 0.6 * len);
		checked++;
	}
	assert_true(checked >= 2);
}

static void test_sim_frame_force_matches_model_and_moticon(void **state)
{
	struct run *r = *state;
	const struct mat_footfall_obs *obs;
	double ref[CURVE_POINTS], curve[CURVE_POINTS], mean[CURVE_POINTS];
	double x[400], rho;
	char where[2200];
	uint64_t start;
	size_t i, k, stances = 0;
	int ret;

	r->cfg.n_tiles = 4;
	r->gp.passes = 2;
	run_walk(r, true);
	obs = mat_ctrl_footfall_obs(r->c);
	start = mat_ctrl_walk_start_us(r->c);
	memset(mean, 0, sizeof(mean));
	for (i = 0; i < gait_model_n_footfalls(r->m); i++) {
		const struct footfall *f = gait_model_footfall(r->m, i);
		size_t n = 0;
		uint32_t s;

		if (!f->fully_on_mat || f->turning)
			continue;
		/* This foot's force, scan by scan, 5 scans of swing around. */
		for (s = obs[i].first.seq - 5; s <= obs[i].last.seq + 5 && n < 400;
		     s++) {
			const struct rx_frame *fr = find_seq(&r->rx, 0, s);
			struct foot_load fl;
			double model;

			assert_non_null(fr);
			fl = foot_load(r, rx_image(&r->rx, fr), f);
			model = gait_footfall_force(f, fr->clock_us - start);
			if (!(fr->flags & GM_F_SATURATED))
				assert_float_equal(fl.force_n, model,
						   0.005 * model + 0.5);
			x[n++] = fl.force_n;
		}
		assert_int_equal(stance_mean_curve(x, n, curve), 1);
		for (k = 0; k < CURVE_POINTS; k++)
			mean[k] += curve[k];
		stances++;
	}
	assert_true(stances >= 4);
	ret = moticon_reference_curve(ref, where, sizeof(where));
	if (ret == -ENOENT) {
		fprintf(stderr, "# SKIP Moticon fixture not found in: %s\n",
			where);
		skip();
	}
	assert_int_equal(ret, 0);
	rho = pearson(mean, ref, CURVE_POINTS);
	print_message("# decoded frames vs Moticon stance curve: r = %.3f\n",
		      rho);
	assert_true(rho >= 0.9);
}

static void test_sim_rate_120_schedule_is_exact(void **state)
{
	struct run *r = *state;
	const struct rx_frame **df = calloc(5000, sizeof(*df));
	size_t n, i;

	assert_non_null(df);
	r->cfg.n_tiles = 1;
	r->cfg.rate_hz = 120;
	r->gp.passes = 1;
	run_walk(r, false);
	n = data_frames(&r->rx, 0, df, 5000);
	assert_true(n > 300);
	/* 8333.33 us: no drift, each instant rounded down on its own. */
	for (i = 0; i < n; i++)
		assert_int_equal(df[i]->clock_us,
				 df[0]->clock_us + i * 1000000 / 120);
	free(df);
}

/* ---- Determinism ------------------------------------------------------------------ */

static char *busy_run(struct run *r, uint64_t seed, uint8_t **bytes,
		      size_t *len)
{
	struct json_object *truth;
	char *s;

	run_reset(r);
	memset(&r->plan, 0, sizeof(r->plan));
	r->cfg.seed = seed;
	add_fault(r, "crc:3");
	add_fault(r, "garbage:3");
	add_fault(r, "truncate:2");
	add_fault(r, "budget:2");
	add_fault(r, "reset:at=150");
	run_walk(r, false);
	*bytes = malloc(r->cap.len);
	assert_non_null(*bytes);
	memcpy(*bytes, r->cap.buf, r->cap.len);
	*len = r->cap.len;
	truth = sim_truth_build(r->m, r->c, SIM_END_DONE);
	assert_non_null(truth);
	s = strdup(json_object_to_json_string_ext(truth, JSON_C_TO_STRING_PLAIN));
	json_object_put(truth);
	assert_non_null(s);
	return s;
}

static void test_sim_same_seed_same_bytes(void **state)
{
	struct run *r = *state;
	uint8_t *a, *b, *c;
	size_t la, lb, lc;
	char *ta, *tb, *tc;

	ta = busy_run(r, 77, &a, &la);
	tb = busy_run(r, 77, &b, &lb);
	tc = busy_run(r, 78, &c, &lc);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_string_equal(ta, tb);
	/* Another seed: another walk, other boot ids, other faults. */
	assert_true(lc != la || memcmp(a, c, la));
	assert_string_not_equal(ta, tc);
	free(a);
	free(b);
	free(c);
	free(ta);
	free(tb);
	free(tc);
}

static void test_sim_faults_do_not_change_the_walk(void **state)
{
	struct run *r = *state;
	struct footfall *clean;
	size_t n, i;

	run_walk(r, false);
	n = gait_model_n_footfalls(r->m);
	clean = malloc(n * sizeof(*clean));
	assert_non_null(clean);
	for (i = 0; i < n; i++)
		clean[i] = *gait_model_footfall(r->m, i);
	run_reset(r);
	add_fault(r, "garbage:4");
	add_fault(r, "drop:2");
	run_walk(r, false);
	assert_int_equal(gait_model_n_footfalls(r->m), n);
	for (i = 0; i < n; i++)
		assert_memory_equal(&clean[i], gait_model_footfall(r->m, i),
				    sizeof(*clean));
	free(clean);
}

/* ---- Faults, one class at a time ------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The protocol's exact accounting between two STATUS frames A and B
 * (gaitmat-uart.md 9.3): taken - dropped - received = lost on the wire,
 * which must be exactly the scans in [A.seq, B.seq) listed in @lost.
 */
static void assert_status_windows(const struct run *r, const uint32_t *lost,
				  size_t n_lost)
{
	const struct rx_frame *a = NULL;
	size_t i, j, k, windows = 0;

	for (i = 0; i < r->rx.n; i++) {
		const struct rx_frame *b = &r->rx.f[i];
		uint32_t taken, dropped, received = 0, expect = 0;

		if (b->type != GM_T_STATUS || b->boot != 0)
			continue;
		if (a) {
			taken = b->seq - a->seq;
			dropped = b->u.st.scans_dropped - a->u.st.scans_dropped;
			for (j = 0; j < r->rx.n; j++)
				received += rx_is_data(&r->rx.f[j]) &&
					    r->rx.f[j].boot == 0 &&
					    r->rx.f[j].seq >= a->seq &&
					    r->rx.f[j].seq < b->seq;
			for (k = 0; k < n_lost; k++)
				expect += lost[k] >= a->seq && lost[k] < b->seq;
			assert_int_equal(taken - dropped - received, expect);
			windows++;
		}
		a = b;
	}
	assert_true(windows > 5);
}

/* The seqs the faults hit are exactly the seqs a receiver misses. */
static void assert_missing_are(const struct run *r,
			       const struct mat_fault_record *rec, size_t n)
{
	uint32_t missing[64], want[64];
	size_t i, m;

	m = missing_seqs(&r->rx, 0, missing, 64);
	assert_int_equal(m, n);
	for (i = 0; i < n; i++)
		want[i] = rec[i].seq;
	qsort(want, n, sizeof(want[0]), cmp_u32);
	for (i = 0; i < n; i++)
		assert_int_equal(missing[i], want[i]);
	/* Budget drops are the controller's; the rest were lost on the wire. */
	if (n && rec[0].kind == FAULT_BUDGET)
		assert_status_windows(r, NULL, 0);
	else
		assert_status_windows(r, want, n);
}

static void test_sim_fault_garbage(void **state)
{
	struct run *r = *state;
	const struct mat_fault_record *rec;
	size_t n, i, k;

	add_fault(r, "garbage:5,len=40");
	run_walk(r, false);
	rec = faults_of(r, FAULT_GARBAGE, &n);
	assert_int_equal(n, 5);
	/* One rejected frame per burst, no frame lost. */
	assert_int_equal(r->rx.n_errors, 5);
	assert_int_equal(missing_seqs(&r->rx, 0, NULL, 0), 0);
	assert_int_equal(data_frames(&r->rx, 0, NULL, 0),
			 mat_ctrl_stats(r->c)->scans);
	for (i = 0; i < n; i++) {
		assert_true(rec[i].len >= 2 && rec[i].len <= 41);
		assert_int_equal(rec[i].detail, rec[i].len - 1);
		for (k = 0; k + 1 < rec[i].len; k++)
			assert_int_not_equal(r->cap.buf[rec[i].offset + k], 0);
		assert_int_equal(r->cap.buf[rec[i].offset + rec[i].len - 1], 0);
		/* The receiver rejects it at the burst's delimiter. */
		assert_int_equal(r->rx.error_offsets[i],
				 rec[i].offset + rec[i].len - 1);
		/* ... and the scan's own frame follows intact. */
		assert_non_null(find_seq(&r->rx, 0, rec[i].seq));
	}
}

static void test_sim_fault_crc(void **state)
{
	struct run *r = *state;
	const struct mat_fault_record *rec;
	size_t n, i;

	add_fault(r, "crc:5");
	run_walk(r, false);
	rec = faults_of(r, FAULT_CRC, &n);
	assert_int_equal(n, 5);
	assert_int_equal(r->rx.n_errors, 5);
	assert_int_equal(r->rx.errors[GM_ECRC], 5);
	assert_missing_are(r, rec, n);
	for (i = 0; i < n; i++) {
		assert_true(rec[i].detail >= GM_HDR_LEN);
		assert_true(rec[i].detail2 != 0);
		assert_int_equal(r->rx.error_offsets[i],
				 rec[i].offset + rec[i].len - 1);
	}
}

static void test_sim_fault_truncate(void **state)
{
	struct run *r = *state;
	const struct mat_fault_record *rec;
	size_t n, i;

	add_fault(r, "truncate:5");
	run_walk(r, false);
	rec = faults_of(r, FAULT_TRUNCATE, &n);
	assert_int_equal(n, 5);
	assert_int_equal(r->rx.n_errors, 5);
	assert_int_equal(r->rx.errors[GM_ECRC] + r->rx.errors[GM_ECOBS] +
			 r->rx.errors[GM_ESHORT] + r->rx.errors[GM_ELEN], 5);
	assert_missing_are(r, rec, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(rec[i].len, rec[i].detail + 1);
		assert_true(rec[i].len < rec[i].detail2);
		assert_int_equal(r->rx.error_offsets[i],
				 rec[i].offset + rec[i].len - 1);
	}
}

static void test_sim_fault_drop(void **state)
{
	struct run *r = *state;
	const struct mat_fault_record *rec;
	size_t n, i;

	add_fault(r, "drop:5");
	run_walk(r, false);
	rec = faults_of(r, FAULT_DROP, &n);
	assert_int_equal(n, 5);
	assert_int_equal(r->rx.n_errors, 0);
	assert_missing_are(r, rec, n);
	/* The controller thinks it sent them: no overflow, no count. */
	for (i = 0; i < r->rx.n; i++) {
		assert_false(r->rx.f[i].flags & GM_F_OVERFLOW);
		if (r->rx.f[i].type == GM_T_STATUS)
			assert_int_equal(r->rx.f[i].u.st.scans_dropped, 0);
	}
	for (i = 0; i < n; i++)
		assert_int_equal(rec[i].len, 0);
}

static void test_sim_fault_reset(void **state)
{
	struct run *r = *state;
	const struct mat_fault_record *rec;
	const struct mat_boot *boots;
	const struct rx_frame **df;
	uint16_t *want;
	uint64_t start;
	size_t n, n_boots, nd, i, devinfo1 = 0;

	add_fault(r, "reset:at=150");
	run_walk(r, true);
	rec = faults_of(r, FAULT_RESET, &n);
	assert_int_equal(n, 1);
	assert_int_equal(rec[0].seq, 150);
	boots = mat_ctrl_boots(r->c, &n_boots);
	assert_int_equal(n_boots, 2);
	assert_int_not_equal(boots[0].boot_id, boots[1].boot_id);
	assert_int_equal(rec[0].detail, boots[1].boot_id);
	assert_int_equal(boots[1].sim_us, rec[0].sim_us + FAULT_RESET_DOWN_US);
	assert_int_equal(r->rx.n_errors, 0);
	assert_int_equal(r->rx.n_boots, 2);

	/* Boot 0: seqs 0..149, nothing missing. */
	df = calloc(2000, sizeof(*df));
	want = malloc(r->rx.n_sensels * sizeof(*want));
	assert_non_null(df);
	assert_non_null(want);
	nd = data_frames(&r->rx, 0, df, 2000);
	assert_int_equal(nd, 150);
	assert_int_equal(df[nd - 1]->seq, 149);
	/* Boot 1: announces itself again, seq restarts at 0. */
	for (i = 0; i < r->rx.n; i++) {
		const struct rx_frame *f = &r->rx.f[i];

		if (f->boot != 1)
			continue;
		if (f->type == GM_T_DEVINFO) {
			assert_int_equal(f->u.di.boot_id, boots[1].boot_id);
			assert_int_equal(f->clock_us, MAT_BOOT_INFO_US);
			devinfo1++;
		}
		if (f->type == GM_T_STATUS)
			assert_int_equal(f->u.st.boot_id, boots[1].boot_id);
	}
	assert_int_equal(devinfo1, 1);
	nd = data_frames(&r->rx, 1, df, 2000);
	assert_true(nd > 100);
	assert_int_equal(missing_seqs(&r->rx, 1, NULL, 0), 0);
	assert_int_equal(df[0]->seq, 0);
	/* The subject kept walking: the images follow the walk's clock. */
	start = mat_ctrl_walk_start_us(r->c);
	for (i = 0; i < nd; i++) {
		mat_ctrl_image(r->c, boots[1].sim_us + df[i]->clock_us - start,
			       want);
		assert_memory_equal(rx_image(&r->rx, df[i]), want,
				    r->rx.n_sensels * sizeof(*want));
	}
	free(want);
	free(df);
}

static void test_sim_fault_silence(void **state)
{
	struct run *r = *state;
	const struct mat_fault_record *rec;
	uint32_t missing[400];
	size_t n, i, m;

	add_fault(r, "silence:at=200,ms=3000");
	run_walk(r, false);
	rec = faults_of(r, FAULT_SILENCE, &n);
	assert_int_equal(n, 1);
	assert_int_equal(rec[0].seq, 200);
	assert_int_equal(rec[0].detail, 3000);
	assert_int_equal(r->rx.n_errors, 0);
	/* Not a byte for 3 s: no data, no heartbeat. */
	for (i = 0; i < r->rx.n; i++)
		assert_false(r->rx.f[i].clock_us >= rec[0].clock_us &&
			     r->rx.f[i].clock_us < rec[0].clock_us + 3000000);
	/* The scans went on: 3 s at 100 Hz missing, then seqs resume. */
	m = missing_seqs(&r->rx, 0, missing, 400);
	assert_int_equal(m, 300);
	for (i = 0; i < m; i++)
		assert_int_equal(missing[i], 200 + i);
	assert_non_null(find_seq(&r->rx, 0, 500));
	/* Its heartbeats went missing too; the accounting still holds. */
	assert_status_windows(r, missing, m);
}

/* OVERFLOW marks exactly the first frame after dropped scans; STATUS counts. */
static void assert_budget_accounting(const struct run *r, const uint32_t *drop,
				     size_t n_drop)
{
	const struct rx_frame *prev = NULL, *prev_st = NULL;
	size_t i, k, below;

	for (i = 0; i < r->rx.n; i++) {
		const struct rx_frame *f = &r->rx.f[i];

		if (rx_is_data(f)) {
			bool gap = prev ? f->seq != prev->seq + 1 : f->seq != 0;

			assert_int_equal(!!(f->flags & GM_F_OVERFLOW), gap);
			prev = f;
		}
		if (f->type != GM_T_STATUS)
			continue;
		below = 0;
		for (k = 0; k < n_drop; k++)
			below += drop[k] < f->seq;
		assert_int_equal(f->u.st.scans_dropped, below);
		/* The flag says "since the last STATUS". */
		assert_int_equal(!!(f->u.st.error_flags & GM_ERRF_LINK_BUDGET),
				 below > (prev_st ? prev_st->u.st.scans_dropped : 0));
		prev_st = f;
	}
}

static void test_sim_fault_budget(void **state)
{
	struct run *r = *state;
	const struct mat_fault_record *rec;
	uint32_t drop[5];
	size_t n, i;

	add_fault(r, "budget:5");
	run_walk(r, false);
	rec = faults_of(r, FAULT_BUDGET, &n);
	assert_int_equal(n, 5);
	assert_int_equal(r->rx.n_errors, 0);
	assert_missing_are(r, rec, n);
	assert_int_equal(mat_ctrl_stats(r->c)->budget_drops, 5);
	for (i = 0; i < n; i++)
		drop[i] = rec[i].seq;
	assert_budget_accounting(r, drop, n);
}

static void test_sim_low_baud_drops_scans(void **state)
{
	struct run *r = *state;
	const struct mat_stats *st;
	uint32_t *missing;
	size_t m;

	r->cfg.baud = 230400;	/* 230 bytes a scan at 100 Hz */
	run_walk(r, false);
	st = mat_ctrl_stats(r->c);
	assert_int_equal(r->rx.n_errors, 0);
	assert_true(st->budget_drops > 10);
	assert_true(st->budget_drops < st->scans / 2);
	missing = calloc(st->scans, sizeof(*missing));
	assert_non_null(missing);
	m = missing_seqs(&r->rx, 0, missing, st->scans);
	/* Every drop is a gap, except drops after the last frame received. */
	assert_true(m <= st->budget_drops && m + 5 >= st->budget_drops);
	assert_budget_accounting(r, missing, m);
	assert_status_windows(r, NULL, 0);
	free(missing);
}

/* ---- Host commands ------------------------------------------------------------------ */

static void host_send(struct run *r, uint64_t t, uint8_t type, uint32_t seq,
		      int rate, bool corrupt)
{
	struct gm_hdr h = { .type = type, .seq = seq };
	uint8_t body[GM_SET_RATE_LEN], raw[64], wire[80];
	long n, w;

	if (rate >= 0) {
		h.body_len = gm_encode_set_rate(rate, body, sizeof(body));
		assert_int_equal(h.body_len, GM_SET_RATE_LEN);
	}
	n = gm_build_frame(raw, sizeof(raw), &h, body);
	assert_true(n > 0);
	if (corrupt)
		raw[n - 1] ^= 0x5a;
	/* As the driver does: a delimiter first. */
	wire[0] = GM_DELIM;
	w = gm_cobs_encode(raw, n, wire + 1, sizeof(wire) - 1);
	assert_true(w > 0);
	assert_int_equal(mat_ctrl_host_input(r->c, t, wire, w + 1), 0);
}

static const struct rx_frame *status_at(const struct rx_log *rx,
					uint64_t clock)
{
	size_t i;

	for (i = 0; i < rx->n; i++)
		if (rx->f[i].type == GM_T_STATUS && rx->f[i].clock_us == clock)
			return &rx->f[i];
	fail_msg("no STATUS at %llu us", (unsigned long long)clock);
	return NULL;
}

static void test_sim_host_commands(void **state)
{
	static const struct { uint8_t cmd, result; uint32_t seq; uint64_t t; } acks[] = {
		{ GM_T_CMD_START, GM_ACK_OK, 1, 200000 },
		{ GM_T_CMD_SET_RATE, GM_ACK_OK, 2, 300000 },
		{ GM_T_CMD_SET_RATE, GM_ACK_EINVAL, 3, 400000 },
		{ GM_T_CMD_ZERO, GM_ACK_OK, 4, 1100000 },
		{ GM_T_CMD_GET_INFO, GM_ACK_OK, 5, 1200000 },
		{ 0x86, GM_ACK_EUNKNOWN, 6, 1300000 },
		{ GM_T_CMD_STOP, GM_ACK_OK, 7, 1600000 },
		{ GM_T_CMD_START, GM_ACK_OK, 8, 2600000 },
	};
	struct run *r = *state;
	const struct rx_frame *prev = NULL, *st;
	size_t i, n_ack = 0, n_zeroed = 0, n_devinfo = 0, n_gaps = 0;
	uint32_t seq_before_stop = 0;

	r->cfg.autostart = false;
	r->cfg.n_tiles = 1;
	run_create(r);
	assert_int_equal(mat_ctrl_run_until(r->c, 200000), 0);
	host_send(r, 200000, GM_T_CMD_START, 1, -1, false);
	assert_int_equal(mat_ctrl_run_until(r->c, 300000), 0);
	host_send(r, 300000, GM_T_CMD_SET_RATE, 2, 200, false);
	host_send(r, 400000, GM_T_CMD_SET_RATE, 3, 75, false);
	host_send(r, 1100000, GM_T_CMD_ZERO, 4, -1, false);
	host_send(r, 1200000, GM_T_CMD_GET_INFO, 5, -1, false);
	host_send(r, 1300000, 0x86, 6, -1, false);
	host_send(r, 1400000, GM_T_CMD_START, 9, -1, true);
	host_send(r, 1600000, GM_T_CMD_STOP, 7, -1, false);
	host_send(r, 2600000, GM_T_CMD_START, 8, -1, false);
	assert_int_equal(mat_ctrl_run_until(r->c, 3000000), 0);
	assert_int_equal(rx_decode(r->cap.buf, r->cap.len, &r->rx, false), 0);
	r->decoded = true;
	assert_int_equal(r->rx.n_errors, 0);
	assert_int_equal(r->rx.n_boots, 1);

	for (i = 0; i < r->rx.n; i++) {
		const struct rx_frame *f = &r->rx.f[i];

		if (f->type == GM_T_ACK) {
			assert_true(n_ack < 8);
			assert_int_equal(f->u.ack.cmd, acks[n_ack].cmd);
			assert_int_equal(f->u.ack.result, acks[n_ack].result);
			assert_int_equal(f->u.ack.cmd_seq, acks[n_ack].seq);
			assert_int_equal(f->clock_us,
					 acks[n_ack].t + MAT_CMD_LATENCY_US);
			n_ack++;
		}
		if (f->type == GM_T_DEVINFO) {
			/* At boot, then for GET_INFO with the new rate. */
			assert_int_equal(f->u.di.rate_hz, n_devinfo ? 200 : 100);
			n_devinfo++;
		}
		if (!rx_is_data(f))
			continue;
		/* Nothing before START, nothing between STOP and START. */
		assert_true(f->clock_us >= 200200);
		assert_false(f->clock_us > 1600200 && f->clock_us < 2600200);
		if (f->flags & GM_F_ZEROED) {
			/* The first scan taken after the command. */
			assert_true(prev->clock_us < 1100000);
			assert_true(f->clock_us >= 1100000);
			n_zeroed++;
		}
		if (!prev) {
			assert_int_equal(f->clock_us, 200200);
			assert_int_equal(f->seq, 0);
		} else if (f->clock_us == 2600200) {
			/* Streaming again: seq goes on from where it was. */
			assert_int_equal(f->seq, seq_before_stop + 1);
		} else {
			/* 100 Hz until 300.2 ms, then 200 Hz (75 refused). */
			assert_int_equal(f->clock_us - prev->clock_us,
					 (f->seq - prev->seq) *
					 (f->clock_us <= 300200 ? 10000 : 5000));
			/*
			 * GET_INFO's 8 KB CALIB holds the line for 27 ms at
			 * 3 Mbaud: the scans meanwhile are budget drops.
			 */
			if (f->seq != prev->seq + 1) {
				assert_true(f->flags & GM_F_OVERFLOW);
				assert_true(prev->clock_us + 5000 > 1200000 &&
					    f->clock_us < 1250000);
				n_gaps++;
			}
		}
		if (f->clock_us <= 1600200)
			seq_before_stop = f->seq;
		prev = f;
	}
	assert_int_equal(n_ack, 8);
	assert_int_equal(n_zeroed, 1);
	assert_int_equal(n_devinfo, 2);
	assert_int_equal(n_gaps, 1);

	st = status_at(&r->rx, 500000);
	assert_int_equal(st->u.st.rate_hz, 200);
	assert_int_equal(st->u.st.cmd_errors, 1);
	assert_true(st->u.st.error_flags & GM_ERRF_CMD);
	st = status_at(&r->rx, 1000000);
	assert_int_equal(st->u.st.cmd_errors, 1);
	assert_int_equal(st->u.st.error_flags, 0);
	/* EINVAL, EUNKNOWN and the corrupted START. */
	st = status_at(&r->rx, 1500000);
	assert_int_equal(st->u.st.cmd_errors, 3);
	assert_true(st->u.st.error_flags & GM_ERRF_CMD);
	assert_int_equal(st->u.st.state, GM_STATE_STREAMING);
	st = status_at(&r->rx, 2000000);
	assert_int_equal(st->u.st.state, GM_STATE_IDLE);
	st = status_at(&r->rx, 3000000);
	assert_int_equal(st->u.st.state, GM_STATE_STREAMING);
}

/* ---- Ground truth ------------------------------------------------------------------ */

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no key %s", key);
	return v;
}

static void test_sim_truth_json(void **state)
{
	struct run *r = *state;
	struct json_object *root, *back, *ff, *faults, *boots, *f0;
	char path[] = "/tmp/test_sim_truth_XXXXXX";
	size_t i, on_mat = 0;
	uint64_t start;
	int fd;

	add_fault(r, "crc:2");
	add_fault(r, "reset:at=120");
	run_walk(r, false);
	root = sim_truth_build(r->m, r->c, SIM_END_DONE);
	assert_non_null(root);
	assert_string_equal(json_object_get_string(jget(root, "format")),
			    "gaitmat-sim-truth");
	assert_int_equal(json_object_get_uint64(jget(jget(root, "generator"),
						     "seed")), 1234);
	ff = jget(root, "footfalls");
	assert_int_equal(json_object_array_length(ff),
			 gait_model_n_footfalls(r->m));
	start = mat_ctrl_walk_start_us(r->c);
	for (i = 0; i < json_object_array_length(ff); i++) {
		struct json_object *f = json_object_array_get_idx(ff, i);
		const struct footfall *m = gait_model_footfall(r->m, i);
		struct json_object *ic = jget(f, "ic"), *heel = jget(f, "heel_mm");
		struct json_object *hx = json_object_array_get_idx(heel, 0);

		assert_string_equal(json_object_get_string(jget(f, "side")),
				    gait_side_name(m->side));
		assert_int_equal(json_object_get_uint64(jget(ic, "sim_us")),
				 start + m->ic_us);
		assert_float_equal(json_object_get_double(hx), m->heel_x_mm,
				   0.051);
		if (json_object_get_boolean(jget(f, "on_mat"))) {
			on_mat++;
			assert_non_null(jget(f, "first_scan"));
		}
	}
	assert_true(on_mat >= 4);
	faults = jget(root, "faults");
	assert_int_equal(json_object_array_length(faults), 3);
	boots = jget(jget(root, "controller"), "boots");
	assert_int_equal(json_object_array_length(boots), 2);
	for (i = 0; i < 3; i++) {
		struct json_object *b1 = json_object_array_get_idx(boots, 1);

		f0 = json_object_array_get_idx(faults, i);
		if (!strcmp(json_object_get_string(jget(f0, "kind")), "reset"))
			assert_int_equal(json_object_get_uint64(jget(f0, "new_boot_id")),
					 json_object_get_uint64(jget(b1, "boot_id")));
	}

	/* The file holds the same document. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sim_truth_write(path, r->m, r->c, SIM_END_DONE), 0);
	back = json_object_from_file(path);
	unlink(path);
	assert_non_null(back);
	assert_string_equal(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN),
			    json_object_to_json_string_ext(back, JSON_C_TO_STRING_PLAIN));
	json_object_put(back);
	json_object_put(root);
}

/* ---- Fault specs and placement ------------------------------------------------------ */

static void test_sim_fault_spec_parse(void **state)
{
	static const char *const bad[] = {
		"foo", "crc:0", "crc:x", "silence:len=3", "garbage:len=300",
		"drop:at=-1", "crc:n=", "reset:at=1,bogus=2", "crc:5x",
	};
	struct fault_plan plan = { 0 };
	char err[160];
	size_t i;

	assert_int_equal(fault_plan_add(&plan, "crc", err, sizeof(err)), 0);
	assert_int_equal(plan.specs[0].kind, FAULT_CRC);
	assert_int_equal(plan.specs[0].count, 1);
	assert_false(plan.specs[0].has_at);
	assert_int_equal(fault_plan_add(&plan, "garbage:n=3,len=8", err,
					sizeof(err)), 0);
	assert_int_equal(plan.specs[1].count, 3);
	assert_int_equal(plan.specs[1].len, 8);
	assert_int_equal(fault_plan_add(&plan, "silence:at=10,ms=500", err,
					sizeof(err)), 0);
	assert_true(plan.specs[2].has_at);
	assert_int_equal(plan.specs[2].at, 10);
	assert_int_equal(plan.specs[2].ms, 500);
	assert_int_equal(fault_plan_add(&plan, "budget:7", err, sizeof(err)), 0);
	assert_int_equal(plan.specs[3].count, 7);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (fault_plan_add(&plan, bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(plan.n_specs, 4);
	(void)state;
}

static void test_sim_fault_placement(void **state)
{
	struct fault_plan plan = { 0 };
	struct fault_event *ev, *ev2;
	size_t n, n2, i, j;
	char err[160];

	assert_int_equal(fault_plan_add(&plan, "crc:20", err, sizeof(err)), 0);
	assert_int_equal(fault_plan_add(&plan, "drop:20", err, sizeof(err)), 0);
	assert_int_equal(fault_plan_add(&plan, "silence:ms=1000", err,
					sizeof(err)), 0);
	assert_int_equal(fault_plan_add(&plan, "reset:at=5", err, sizeof(err)), 0);
	assert_int_equal(fault_plan_place(&plan, 1000, 100, 9, &ev, &n, err,
					  sizeof(err)), 0);
	assert_int_equal(n, 42);
	for (i = 0; i < n; i++) {
		assert_true(ev[i].scan >= 1 && ev[i].scan <= 998);
		if (i)
			assert_true(ev[i].scan >= ev[i - 1].scan + 2);
		if (ev[i].kind != FAULT_SILENCE)
			continue;
		assert_int_equal(ev[i].param, 1000);
		/* Nothing hides inside a silence. */
		for (j = 0; j < n; j++)
			assert_false(j != i && ev[j].scan >= ev[i].scan &&
				     ev[j].scan <= ev[i].scan + 102);
	}
	assert_int_equal(ev[0].scan, 5);
	assert_int_equal(ev[0].kind, FAULT_RESET);
	/* Same seed, same places. */
	assert_int_equal(fault_plan_place(&plan, 1000, 100, 9, &ev2, &n2, err,
					  sizeof(err)), 0);
	assert_int_equal(n2, n);
	assert_memory_equal(ev, ev2, n * sizeof(*ev));
	free(ev);
	free(ev2);

	memset(&plan, 0, sizeof(plan));
	assert_int_equal(fault_plan_add(&plan, "crc:600", err, sizeof(err)), 0);
	assert_int_equal(fault_plan_place(&plan, 1000, 100, 9, &ev, &n, err,
					  sizeof(err)), -EINVAL);
	assert_null(ev);
	(void)state;
}

#define SIM_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SIM_TEST(test_sim_boot_announces_devinfo_and_calib),
		SIM_TEST(test_sim_frames_decode_to_model),
		SIM_TEST(test_sim_picks_smaller_encoding),
		SIM_TEST(test_sim_heartbeat_every_500ms),
		SIM_TEST(test_sim_footfalls_visible_at_contact_and_toe_off),
		SIM_TEST(test_sim_pressure_rolls_heel_to_toe),
		SIM_TEST(test_sim_frame_force_matches_model_and_moticon),
		SIM_TEST(test_sim_rate_120_schedule_is_exact),
		SIM_TEST(test_sim_same_seed_same_bytes),
		SIM_TEST(test_sim_faults_do_not_change_the_walk),
		SIM_TEST(test_sim_fault_garbage),
		SIM_TEST(test_sim_fault_crc),
		SIM_TEST(test_sim_fault_truncate),
		SIM_TEST(test_sim_fault_drop),
		SIM_TEST(test_sim_fault_reset),
		SIM_TEST(test_sim_fault_silence),
		SIM_TEST(test_sim_fault_budget),
		SIM_TEST(test_sim_low_baud_drops_scans),
		SIM_TEST(test_sim_host_commands),
		SIM_TEST(test_sim_truth_json),
		SIM_TEST(test_sim_fault_spec_parse),
		SIM_TEST(test_sim_fault_placement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
