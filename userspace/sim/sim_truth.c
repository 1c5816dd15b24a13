// SPDX-License-Identifier: GPL-2.0
/*
 * The ground-truth JSON document of a run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "sim_truth.h"

#define TRUTH_FORMAT	"gaitmat-sim-truth"
#define TRUTH_VERSION	1

/* Doubles with a fixed number of decimals: stable, readable output. */
static struct json_object *jdouble(double v, int decimals)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	return json_object_new_double_s(v, buf);
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static struct json_object *point(double x, double y)
{
	struct json_object *a = json_object_new_array();

	json_object_array_add(a, jdouble(x, 1));
	json_object_array_add(a, jdouble(y, 1));
	return a;
}

static struct json_object *model_json(const struct gait_model *m)
{
	const struct gait_params *p = gait_model_params(m);
	struct json_object *o = json_object_new_object();

	add(o, "gait", json_object_new_string(gait_kind_name(p->kind)));
	add(o, "speed_mps", jdouble(p->speed_mps, 4));
	add(o, "cadence_spm", jdouble(p->cadence_spm, 3));
	add(o, "step_length_m", jdouble(p->step_length_m, 4));
	add(o, "step_width_m", jdouble(p->step_width_m, 4));
	add(o, "foot_length_m", jdouble(p->foot_length_m, 4));
	add(o, "foot_width_m", jdouble(p->foot_width_m, 4));
	add(o, "toe_out_deg", jdouble(p->toe_out_deg, 2));
	add(o, "body_mass_kg", jdouble(p->body_mass_kg, 2));
	add(o, "body_weight_n", jdouble(gait_model_body_weight_n(m), 2));
	add(o, "asymmetry_pct", jdouble(p->asymmetry_pct, 2));
	add(o, "affected_side",
	    json_object_new_string(gait_side_name(p->affected)));
	add(o, "variability_pct", jdouble(p->variability_pct, 2));
	add(o, "stance_fraction", jdouble(p->stance_fraction, 4));
	if (p->passes)
		add(o, "passes", json_object_new_int(p->passes));
	else
		add(o, "duration_s", jdouble(p->duration_s, 3));
	add(o, "lead_in_m", jdouble(p->lead_in_m, 3));
	add(o, "turn_margin_m", jdouble(p->turn_margin_m, 3));
	add(o, "walk_duration_us",
	    json_object_new_uint64(gait_model_duration_us(m)));
	return o;
}

static struct json_object *walkway_json(const struct mat_ctrl *c)
{
	const struct walkway *w = mat_ctrl_walkway(c);
	struct json_object *o = json_object_new_object();
	struct json_object *tiles = json_object_new_array();
	struct json_object *ext = json_object_new_array();
	double x0, y0, x1, y1;
	unsigned int t;

	add(o, "n_tiles", json_object_new_int(w->n_tiles));
	add(o, "rows", json_object_new_int(w->rows));
	add(o, "cols", json_object_new_int(w->cols));
	add(o, "pitch_um", json_object_new_int(w->pitch_um));
	add(o, "full_scale_kpa",
	    json_object_new_int(mat_ctrl_cfg(c)->full_scale_kpa));
	walkway_extent(w, &x0, &y0, &x1, &y1);
	json_object_array_add(ext, jdouble(x0, 1));
	json_object_array_add(ext, jdouble(y0, 1));
	json_object_array_add(ext, jdouble(x1, 1));
	json_object_array_add(ext, jdouble(y1, 1));
	add(o, "extent_mm", ext);
	for (t = 0; t < w->n_tiles; t++) {
		struct json_object *tj = json_object_new_object();

		add(tj, "x_mm", json_object_new_int(w->tiles[t].x_mm));
		add(tj, "y_mm", json_object_new_int(w->tiles[t].y_mm));
		add(tj, "orient", json_object_new_int(w->tiles[t].orient));
		json_object_array_add(tiles, tj);
	}
	add(o, "tiles", tiles);
	return o;
}

/* An instant of the walk: sim time, boot and controller clock. */
static struct json_object *instant(const struct mat_ctrl *c, uint64_t walk_us)
{
	uint64_t start = mat_ctrl_walk_start_us(c), clock;
	struct json_object *o = json_object_new_object();
	uint32_t boot;

	add(o, "walk_us", json_object_new_uint64(walk_us));
	if (start == UINT64_MAX)
		return o;
	mat_ctrl_clock_at(c, start + walk_us, &boot, &clock);
	add(o, "sim_us", json_object_new_uint64(start + walk_us));
	add(o, "boot", json_object_new_int(boot));
	add(o, "clock_us", json_object_new_uint64(clock));
	return o;
}

static struct json_object *scan_ref(const struct mat_scan_ref *r)
{
	struct json_object *o;

	if (!r->valid)
		return NULL;
	o = json_object_new_object();
	add(o, "boot", json_object_new_int(r->boot));
	add(o, "seq", json_object_new_uint64(r->seq));
	add(o, "scan", json_object_new_uint64(r->scan));
	return o;
}

static struct json_object *controller_json(const struct mat_ctrl *c)
{
	const struct gm_devinfo *di = mat_ctrl_devinfo(c);
	const struct mat_cfg *cfg = mat_ctrl_cfg(c);
	struct json_object *o = json_object_new_object();
	struct json_object *boots = json_object_new_array();
	struct json_object *rates = json_object_new_array();
	const struct mat_boot *b;
	uint64_t start;
	size_t n, i;

	add(o, "serial", json_object_new_string(di->serial));
	add(o, "baud", json_object_new_uint64(cfg->baud));
	add(o, "rate_hz", json_object_new_int(cfg->rate_hz));
	for (i = 0; i < mat_n_rates; i++)
		json_object_array_add(rates, json_object_new_int(mat_rates[i]));
	add(o, "rates_hz", rates);
	add(o, "gain_spread", jdouble(cfg->gain_spread, 4));
	add(o, "autostart", json_object_new_boolean(cfg->autostart));
	b = mat_ctrl_boots(c, &n);
	for (i = 0; i < n; i++) {
		struct json_object *bj = json_object_new_object();

		add(bj, "boot_id", json_object_new_uint64(b[i].boot_id));
		add(bj, "sim_us", json_object_new_uint64(b[i].sim_us));
		json_object_array_add(boots, bj);
	}
	add(o, "boots", boots);
	start = mat_ctrl_walk_start_us(c);
	add(o, "walk_start", start == UINT64_MAX ? NULL : instant(c, 0));
	return o;
}

static struct json_object *footfalls_json(const struct gait_model *m,
					  const struct mat_ctrl *c)
{
	const struct mat_footfall_obs *obs = mat_ctrl_footfall_obs(c);
	struct json_object *a = json_object_new_array();
	size_t i, n = gait_model_n_footfalls(m);

	for (i = 0; i < n; i++) {
		const struct footfall *f = gait_model_footfall(m, i);
		struct json_object *o = json_object_new_object();
		double peak = 0;
		unsigned int k;

		for (k = 0; k < GAIT_FORCE_KNOTS; k++)
			peak = fmax(peak, f->force_n[k]);
		add(o, "index", json_object_new_int(f->index));
		add(o, "side", json_object_new_string(gait_side_name(f->side)));
		add(o, "pass", json_object_new_int(f->pass));
		add(o, "turning", json_object_new_boolean(f->turning));
		add(o, "on_mat", json_object_new_boolean(f->on_mat));
		add(o, "fully_on_mat", json_object_new_boolean(f->fully_on_mat));
		add(o, "ic", instant(c, f->ic_us));
		add(o, "to", instant(c, f->to_us));
		add(o, "first_scan", scan_ref(&obs[i].first));
		add(o, "last_scan", scan_ref(&obs[i].last));
		add(o, "heel_mm", point(f->heel_x_mm, f->heel_y_mm));
		add(o, "toe_mm", point(f->toe_x_mm, f->toe_y_mm));
		add(o, "heading_deg", jdouble(f->heading_rad * 180.0 / M_PI, 2));
		add(o, "peak_force_n", jdouble(peak, 1));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *faults_json(const struct mat_ctrl *c)
{
	struct json_object *a = json_object_new_array();
	const struct mat_fault_record *r;
	size_t n, i;

	r = mat_ctrl_fault_log(c, &n);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		add(o, "kind", json_object_new_string(fault_kind_name(r[i].kind)));
		add(o, "scan", json_object_new_uint64(r[i].scan));
		add(o, "boot", json_object_new_int(r[i].boot));
		add(o, "seq", json_object_new_uint64(r[i].seq));
		add(o, "clock_us", json_object_new_uint64(r[i].clock_us));
		add(o, "sim_us", json_object_new_uint64(r[i].sim_us));
		/* null: the bytes never reached the line (a silence hid them). */
		add(o, "offset", r[i].offset == UINT64_MAX ? NULL :
		    json_object_new_uint64(r[i].offset));
		add(o, "len", json_object_new_uint64(r[i].len));
		switch (r[i].kind) {
		case FAULT_GARBAGE:
			add(o, "garbage_bytes", json_object_new_uint64(r[i].detail));
			break;
		case FAULT_CRC:
			add(o, "raw_byte", json_object_new_uint64(r[i].detail));
			add(o, "xor", json_object_new_uint64(r[i].detail2));
			break;
		case FAULT_TRUNCATE:
			add(o, "kept_bytes", json_object_new_uint64(r[i].detail));
			add(o, "original_len", json_object_new_uint64(r[i].detail2));
			break;
		case FAULT_SILENCE:
			add(o, "ms", json_object_new_uint64(r[i].detail));
			break;
		case FAULT_RESET:
			add(o, "new_boot_id", json_object_new_uint64(r[i].detail));
			add(o, "new_boot", json_object_new_int(r[i].boot + 1));
			break;
		default:
			break;
		}
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *stats_json(const struct mat_ctrl *c)
{
	const struct mat_stats *st = mat_ctrl_stats(c);
	struct json_object *o = json_object_new_object();

	add(o, "bytes", json_object_new_uint64(st->bytes));
	add(o, "scans", json_object_new_uint64(st->scans));
	add(o, "data_frames", json_object_new_uint64(st->data_frames));
	add(o, "dense_frames", json_object_new_uint64(st->dense));
	add(o, "sparse_frames", json_object_new_uint64(st->sparse));
	add(o, "budget_drops", json_object_new_uint64(st->budget_drops));
	add(o, "devinfo_frames", json_object_new_uint64(st->frames[GM_T_DEVINFO]));
	add(o, "calib_frames", json_object_new_uint64(st->frames[GM_T_CALIB]));
	add(o, "status_frames", json_object_new_uint64(st->frames[GM_T_STATUS]));
	add(o, "ack_frames", json_object_new_uint64(st->frames[GM_T_ACK]));
	add(o, "host_frames", json_object_new_uint64(st->host_frames));
	add(o, "host_errors", json_object_new_uint64(st->host_errors));
	return o;
}

struct json_object *sim_truth_build(const struct gait_model *model,
				    const struct mat_ctrl *ctrl,
				    const char *end_reason)
{
	struct json_object *root = json_object_new_object();
	struct json_object *gen;

	if (!root)
		return NULL;
	add(root, "format", json_object_new_string(TRUTH_FORMAT));
	add(root, "version", json_object_new_int(TRUTH_VERSION));
	gen = json_object_new_object();
	add(gen, "name", json_object_new_string("gaitmat-sim"));
	add(gen, "seed", json_object_new_uint64(mat_ctrl_cfg(ctrl)->seed));
	add(gen, "end_reason", json_object_new_string(end_reason));
	add(root, "generator", gen);
	add(root, "model", model_json(model));
	add(root, "walkway", walkway_json(ctrl));
	add(root, "controller", controller_json(ctrl));
	add(root, "footfalls", footfalls_json(model, ctrl));
	add(root, "faults", faults_json(ctrl));
	add(root, "stats", stats_json(ctrl));
	return root;
}

int sim_truth_write(const char *path, const struct gait_model *model,
		    const struct mat_ctrl *ctrl, const char *end_reason)
{
	struct json_object *root = sim_truth_build(model, ctrl, end_reason);
	int ret = 0;

	if (!root)
		return -ENOMEM;
	if (json_object_to_file_ext(path, root, JSON_C_TO_STRING_PRETTY |
				    JSON_C_TO_STRING_SPACED |
				    JSON_C_TO_STRING_NOSLASHESCAPE))
		ret = errno ? -errno : -EIO;
	json_object_put(root);
	return ret;
}
