// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap refine on a real recording: the Moticon OpenGo fixture (5 s at
 * 100 Hz, events set by hand in the vendor's software), imported with
 * gaitcap import. Refine's events against the labelled ones, its parameters
 * against clinical ranges, and the held-sample check on real quantised data
 * and on a real hold (docs/gait-parameters.md, "The Moticon fixture").
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "gaitcap/gaitcap.h"
#include "refine/refine.h"
#include "session/gcsession.h"
#include "test_session_util.h"

#define FIXTURE TOP_DIR "/tests/fixtures/moticon-opengo/walk_data_with_events.txt"
#define MAX_LABELS	64
#define MAX_FIELDS	128
/*
 * A label is set by hand on a 100 Hz trace (one sample, 10 ms, either way);
 * refine's contact lies between two samples (5 ms) and needs a few per cent
 * of body weight, one more sample on a soft heel contact (10 ms): 3 samples.
 */
#define LABEL_TOL_MS	30.0

struct label {
	double t_s;
	int side;			/* enum refine_side */
	int value;			/* the export's event number */
};

struct run {
	struct refine_result res;
	int64_t t0;			/* the session's start, host ns */
	char *outdir;
	int left, right;		/* index of each side in res.insole */
};

/* Split @line at tabs in place, empty fields kept; returns the count. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		f[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

/* The hand-set events, read from the export by column name, not the importer. */
static size_t read_labels(struct label *lab, size_t max)
{
	FILE *in = fopen(FIXTURE, "r");
	char line[16384], *f[MAX_FIELDS];
	int col[2] = { -1, -1 };
	size_t n = 0;

	assert_non_null(in);
	while (fgets(line, sizeof(line), in)) {
		size_t nf;

		line[strcspn(line, "\r\n")] = '\0';
		if (!strncmp(line, "# time\t", 7)) {
			nf = split(line, f, MAX_FIELDS);
			for (size_t i = 0; i < nf; i++) {
				if (!strcmp(f[i], "Left Events[]"))
					col[REFINE_LEFT] = (int)i;
				if (!strcmp(f[i], "Right Events[]"))
					col[REFINE_RIGHT] = (int)i;
			}
			continue;
		}
		if (line[0] == '#' || !line[0])
			continue;
		assert_true(col[0] > 0 && col[1] > 0);
		nf = split(line, f, MAX_FIELDS);
		for (int s = 0; s < 2; s++) {
			if ((size_t)col[s] >= nf || !f[col[s]][0])
				continue;
			assert_true(n < max);
			lab[n++] = (struct label){ .t_s = strtod(f[0], NULL), .side = s,
						   .value = (int)lround(strtod(f[col[s]], NULL)) };
		}
	}
	fclose(in);
	return n;
}

/*
 * The fixture, optionally without its IMU columns, with the left insole's
 * fields of @hold_n data rows from @hold_row (0-based) replaced by the row
 * before them: what an insole whose firmware re-sends its last sample gives.
 */
static char *edited_fixture(struct tu_cmd *f, const char *name, bool drop_imu,
			    int hold_row, int hold_n)
{
	FILE *in = fopen(FIXTURE, "r"), *out;
	static char line[16384], prev[16384];
	char *fl[MAX_FIELDS], *fp[MAX_FIELDS];
	char *path = tu_path(f->dir, name);
	bool drop[MAX_FIELDS] = { false }, left[MAX_FIELDS] = { false };
	size_t np = 0;
	int row = 0;

	assert_non_null(in);
	out = fopen(path, "w");
	assert_non_null(out);
	while (fgets(line, sizeof(line), in)) {
		bool hdr = !strncmp(line, "# time\t", 7);
		size_t nf;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' && !hdr) {
			fprintf(out, "%s\n", line);
			continue;
		}
		nf = split(line, fl, MAX_FIELDS);
		for (size_t i = 0; hdr && i < nf; i++) {
			drop[i] = drop_imu && (strstr(fl[i], "acceleration") ||
					       strstr(fl[i], "angular"));
			left[i] = !strncmp(fl[i], "left ", 5);
		}
		if (!hdr && hold_row >= 0 && row >= hold_row && row < hold_row + hold_n) {
			for (size_t i = 0; i < nf && i < np; i++)
				if (left[i])
					fl[i] = fp[i];
		}
		for (size_t i = 0, o = 0; i < nf; i++)
			if (!drop[i])
				fprintf(out, "%s%s", o++ ? "\t" : "", fl[i]);
		fputc('\n', out);
		if (!hdr && (hold_row < 0 || row < hold_row)) {
			/* keep this row (its fields are NUL-separated in place) */
			memcpy(prev, line, sizeof(prev));
			np = nf;
			for (size_t i = 0; i < nf; i++)
				fp[i] = prev + (fl[i] - line);
		}
		row += !hdr;
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	return path;
}

/* gaitcap import, then refine into OUTDIR; the events and the session start. */
static void import_refine(struct tu_cmd *f, const char *txt, const char *name,
			  struct run *rn)
{
	char *session = tu_path(f->dir, name), msg[512], outname[256];
	struct refine_opts o = { 0 };
	struct gcs_reader *r;
	int ret;

	/* "-" is no file name for a session (no file "-" appears). */
	ret = tu_cmd_run(f, cmd_import, "import", "moticon", txt, "-o", "-",
			 "--subject", "LAB-01", NULL);
	assert_int_equal(ret, 1);
	ret = tu_cmd_run(f, cmd_import, "import", "moticon", txt, "-o", session,
			 "--subject", "LAB-01", NULL);
	assert_int_equal(ret, 0);
	assert_int_equal(gcs_reader_open(&r, session, 0), 0);
	rn->t0 = gcs_reader_info(r)->t_first_ns;
	gcs_reader_close(r);
	snprintf(outname, sizeof(outname), "%s.out", name);
	rn->outdir = tu_path(f->dir, outname);
	o.session = session;
	o.outdir = rn->outdir;
	ret = refine_run(&o, &rn->res, msg, sizeof(msg));
	if (ret)
		fail_msg("refine %s: %d %s", name, ret, msg);
	assert_int_equal(rn->res.n_insoles, 2);
	rn->left = rn->res.insole[0].side == REFINE_LEFT ? 0 : 1;
	rn->right = !rn->left;
	assert_int_equal(rn->res.insole[rn->left].side, REFINE_LEFT);
	assert_int_equal(rn->res.insole[rn->right].side, REFINE_RIGHT);
	free(session);
}

static void run_free(struct run *rn)
{
	refine_result_free(&rn->res);
	free(rn->outdir);
}

static double ev_s(const struct run *rn, const struct refine_event *e)
{
	return (double)(e->t_ns - rn->t0) / 1e9;
}

/* The insole event of @side and @kind nearest @t_s. */
static const struct refine_event *nearest(const struct run *rn, int side,
					  int kind, double t_s)
{
	const struct refine_event *best = NULL;

	for (size_t i = 0; i < rn->res.n_events; i++) {
		const struct refine_event *e = &rn->res.events[i];

		if (e->source != REFINE_SRC_INSOLE || e->side != side || e->kind != kind)
			continue;
		if (!best || fabs(ev_s(rn, e) - t_s) < fabs(ev_s(rn, best) - t_s))
			best = e;
	}
	return best;
}

static const char *side_name(int s)
{
	return s == REFINE_LEFT ? "left" : "right";
}

/*
 * Event "1" of each side is that foot's initial contact: the total force
 * leaves the unloaded level at the next sample every time. Event "2" is no
 * toe-off: it sits at the valley between the two force peaks of the same
 * foot's stance (mid-stance), about 0.35 s before the force falls.
 */
static void test_refine_moticon_labelled_events(void **state)
{
	struct tu_cmd *f = *state;
	struct label lab[MAX_LABELS];
	size_t n = read_labels(lab, MAX_LABELS);
	struct run rn;
	double sum = 0, worst = 0;
	unsigned int n_ic = 0, n_mid = 0;

	assert_int_equal(n, 16);
	import_refine(f, FIXTURE, "fixture.gcs", &rn);

	/* On the session's timeline: inside the 5 s recording, not days off. */
	for (size_t i = 0; i < rn.res.n_events; i++) {
		double t = ev_s(&rn, &rn.res.events[i]);

		print_message("# refine %-5s %s %.3f s flags 0x%03x\n",
			      side_name(rn.res.events[i].side),
			      rn.res.events[i].kind == REFINE_IC ? "IC" : "TO", t,
			      rn.res.events[i].flags);
		assert_true(t >= 0 && t <= 5.0);
		/* Real quantised data repeats cells: no hold in it. */
		assert_int_equal(rn.res.events[i].flags, 0);
	}
	assert_int_equal(rn.res.insole[rn.left].held, 0);
	assert_int_equal(rn.res.insole[rn.right].held, 0);

	for (size_t i = 0; i < n; i++) {
		const struct refine_event *ic, *to;
		double err, frac;

		if (lab[i].value == 1) {
			ic = nearest(&rn, lab[i].side, REFINE_IC, lab[i].t_s);
			assert_non_null(ic);
			err = (ev_s(&rn, ic) - lab[i].t_s) * 1e3;
			print_message("# %-5s label 1 at %.2f s: refine IC %.3f s, error %+.1f ms\n",
				      side_name(lab[i].side), lab[i].t_s, ev_s(&rn, ic), err);
			assert_true(fabs(err) <= LABEL_TOL_MS);
			sum += err;
			worst = fmax(worst, fabs(err));
			n_ic++;
			continue;
		}
		assert_int_equal(lab[i].value, 2);
		/* Inside the same foot's stance, near its middle. */
		ic = NULL;
		to = NULL;
		for (size_t k = 0; k < rn.res.n_events; k++) {
			const struct refine_event *e = &rn.res.events[k];

			if (e->source != REFINE_SRC_INSOLE || e->side != lab[i].side)
				continue;
			if (e->kind == REFINE_IC && ev_s(&rn, e) <= lab[i].t_s)
				ic = e;
			if (e->kind == REFINE_TO && ev_s(&rn, e) > lab[i].t_s && !to)
				to = e;
		}
		assert_non_null(ic);
		assert_non_null(to);
		frac = (lab[i].t_s - ev_s(&rn, ic)) / (ev_s(&rn, to) - ev_s(&rn, ic));
		print_message("# %-5s label 2 at %.2f s: in the stance %.3f-%.3f s at %.0f %% of it\n",
			      side_name(lab[i].side), lab[i].t_s, ev_s(&rn, ic), ev_s(&rn, to),
			      100 * frac);
		assert_true(frac > 0.3 && frac < 0.7);
		n_mid++;
	}
	assert_int_equal(n_ic, 8);
	assert_int_equal(n_mid, 8);
	print_message("# labelled ICs: n %u, mean error %+.1f ms, max |error| %.1f ms (tolerance %.0f ms)\n",
		      n_ic, sum / n_ic, worst, LABEL_TOL_MS);

	/* Nothing spurious: within the labelled span, one refine IC per label. */
	for (int s = 0; s < 2; s++) {
		double first = INFINITY, last = -INFINITY;
		unsigned int labels = 0, ics = 0;

		for (size_t i = 0; i < n; i++) {
			if (lab[i].side != s || lab[i].value != 1)
				continue;
			first = fmin(first, lab[i].t_s);
			last = fmax(last, lab[i].t_s);
			labels++;
		}
		for (size_t k = 0; k < rn.res.n_events; k++) {
			const struct refine_event *e = &rn.res.events[k];
			double t = ev_s(&rn, e);

			ics += e->side == s && e->kind == REFINE_IC &&
			       t >= first - LABEL_TOL_MS / 1e3 && t <= last + LABEL_TOL_MS / 1e3;
		}
		assert_int_equal(ics, labels);
	}
	run_free(&rn);
}

static struct json_object *jget(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("parameters.json: no '%s'", k);
	return v;
}

static double jmean(struct json_object *side, const char *k, int *n)
{
	struct json_object *p = jget(side, k);

	*n = json_object_get_int(jget(p, "n"));
	return json_object_get_double(jget(p, "mean"));
}

/*
 * Healthy adults at their own pace (Hollman et al., Gait & Posture 34
 * (2011) 111-118; Perry's 60/40 stance/swing): stride 0.9-1.3 s, stance
 * 55-68 % of the stride, double support 16-34 %, cadence 95-125 steps/min.
 * And the stride time against the labelled contacts' own intervals.
 */
static void test_refine_moticon_parameters(void **state)
{
	struct tu_cmd *f = *state;
	struct label lab[MAX_LABELS];
	size_t n = read_labels(lab, MAX_LABELS);
	struct run rn;
	struct json_object *p, *ins;
	char *path;
	double cad;

	import_refine(f, FIXTURE, "params.gcs", &rn);
	path = tu_path(rn.outdir, "parameters.json");
	p = json_object_from_file(path);
	assert_non_null(p);
	ins = jget(p, "insole");
	for (int s = 0; s < 2; s++) {
		struct json_object *side = jget(ins, side_name(s));
		int n_stride, n_stance, n_swing, n_ds, n_step;
		double stride = jmean(side, "stride_s", &n_stride);
		double stance = jmean(side, "stance_s", &n_stance);
		double swing = jmean(side, "swing_s", &n_swing);
		double ds = jmean(side, "double_support_s", &n_ds);
		double step = jmean(side, "step_s", &n_step);
		double lsum = 0, lprev = NAN;
		int used = json_object_get_int(jget(side, "strides_used"));
		int shrt = json_object_get_int(jget(side, "strides_short_bout"));
		unsigned int ln = 0;

		for (size_t i = 0; i < n; i++) {
			if (lab[i].side != s || lab[i].value != 1)
				continue;
			if (!isnan(lprev)) {
				lsum += lab[i].t_s - lprev;
				ln++;
			}
			lprev = lab[i].t_s;
		}
		print_message("# %-5s stride %.3f s (n %d; labelled %.3f s, n %u), step %.3f s (n %d), "
			      "stance %.3f s = %.1f %%, swing %.3f s, double support %.3f s = %.1f %%, "
			      "used %d of %d found, %d from a short bout\n",
			      side_name(s), stride, n_stride, lsum / ln, ln, step, n_step, stance,
			      100 * stance / stride, swing, ds, 100 * ds / stride, used,
			      json_object_get_int(jget(side, "strides_found")), shrt);
		/* A 5 s walk: its 3-4 strides a side are all used, and say so. */
		assert_true(n_stride >= 3 && n_stance >= 3 && n_swing >= 3 && n_ds >= 3 &&
			    n_step >= 3);
		assert_int_equal(used, n_stride);
		assert_int_equal(shrt, used);
		assert_true(stride >= 0.9 && stride <= 1.3);
		assert_true(fabs(stride - lsum / ln) <= 0.02);
		assert_true(stance / stride >= 0.55 && stance / stride <= 0.68);
		assert_true(fabs(stance + swing - stride) <= 0.011);
		assert_true(ds / stride >= 0.16 && ds / stride <= 0.34);
		assert_true(step / stride >= 0.45 && step / stride <= 0.55);
	}
	cad = json_object_get_double(jget(ins, "cadence_steps_per_min"));
	print_message("# cadence %.1f steps/min\n", cad);
	assert_true(cad >= 95 && cad <= 125);
	json_object_put(p);
	free(path);
	run_free(&rn);
}

/* Data row 250 (2.51 s) is in the left foot's stance: a hold of 5 samples. */
#define HOLD_ROW	250
#define HOLD_N		5

static const struct refine_event *next_event(const struct run *rn, int side, double t_s)
{
	for (size_t i = 0; i < rn->res.n_events; i++) {
		const struct refine_event *e = &rn->res.events[i];

		if (e->side == side && ev_s(rn, e) > t_s)
			return e;
	}
	return NULL;
}

/* A real hold, in a stream with an IMU: every repeat counted, flagged. */
static void test_refine_moticon_held_imu(void **state)
{
	struct tu_cmd *f = *state;
	char *txt = edited_fixture(f, "hold.txt", false, HOLD_ROW, HOLD_N);
	const struct refine_event *e;
	struct run rn;

	import_refine(f, txt, "hold.gcs", &rn);
	print_message("# held samples: left %llu, right %llu\n",
		      (unsigned long long)rn.res.insole[rn.left].held,
		      (unsigned long long)rn.res.insole[rn.right].held);
	assert_int_equal(rn.res.insole[rn.left].held, HOLD_N);
	assert_int_equal(rn.res.insole[rn.right].held, 0);
	e = next_event(&rn, REFINE_LEFT, (HOLD_ROW + 1) / 100.0);
	assert_non_null(e);
	assert_true(e->flags & REFINE_Q_HELD);
	run_free(&rn);
	free(txt);
}

/*
 * In swing (data row 106, 1.07 s: the left foot unloaded), with an IMU: a
 * lone repeat of cells and IMU is chance (the fixture's unloaded cells
 * repeat in a fifth of its samples, its IMU in 1 of 500), three in a row
 * are a hold, every one counted.
 */
static void test_refine_moticon_held_unloaded(void **state)
{
	struct tu_cmd *f = *state;
	char *one = edited_fixture(f, "swing1.txt", false, 106, 1);
	char *three = edited_fixture(f, "swing3.txt", false, 106, 3);
	const struct refine_event *e;
	struct run rn;

	import_refine(f, one, "swing1.gcs", &rn);
	assert_int_equal(rn.res.insole[rn.left].held, 0);
	run_free(&rn);

	import_refine(f, three, "swing3.gcs", &rn);
	print_message("# swing hold of 3: held left %llu, right %llu\n",
		      (unsigned long long)rn.res.insole[rn.left].held,
		      (unsigned long long)rn.res.insole[rn.right].held);
	assert_int_equal(rn.res.insole[rn.left].held, 3);
	assert_int_equal(rn.res.insole[rn.right].held, 0);
	e = next_event(&rn, REFINE_LEFT, 1.07);
	assert_non_null(e);
	assert_int_equal(e->kind, REFINE_IC);
	assert_true(e->flags & REFINE_Q_HELD);
	run_free(&rn);
	free(one);
	free(three);
}

/*
 * Without an IMU only the cells tell: the unloaded foot's repeats (41 in
 * the fixture) are no hold, a repeat under load is.
 */
static void test_refine_moticon_held_no_imu(void **state)
{
	struct tu_cmd *f = *state;
	char *plain = edited_fixture(f, "noimu.txt", true, -1, 0);
	char *hold = edited_fixture(f, "noimu-hold.txt", true, HOLD_ROW, HOLD_N);
	const struct refine_event *e;
	struct run rn;

	import_refine(f, plain, "noimu.gcs", &rn);
	assert_int_equal(rn.res.insole[rn.left].held, 0);
	assert_int_equal(rn.res.insole[rn.right].held, 0);
	run_free(&rn);

	import_refine(f, hold, "noimu-hold.gcs", &rn);
	print_message("# no IMU, held samples: left %llu, right %llu\n",
		      (unsigned long long)rn.res.insole[rn.left].held,
		      (unsigned long long)rn.res.insole[rn.right].held);
	assert_int_equal(rn.res.insole[rn.left].held, HOLD_N);
	assert_int_equal(rn.res.insole[rn.right].held, 0);
	e = next_event(&rn, REFINE_LEFT, (HOLD_ROW + 1) / 100.0);
	assert_non_null(e);
	assert_true(e->flags & REFINE_Q_HELD);
	run_free(&rn);
	free(plain);
	free(hold);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_refine_moticon_labelled_events,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_refine_moticon_parameters,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_refine_moticon_held_imu,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_refine_moticon_held_unloaded,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_refine_moticon_held_no_imu,
						tu_cmd_setup, tu_cmd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
