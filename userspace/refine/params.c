// SPDX-License-Identifier: GPL-2.0
/*
 * Events to strides, strides to parameters: the definitions are those of
 * docs/gait-parameters.md. Writes events.tsv, strides.tsv and
 * parameters.json (json-c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "refine/refine_int.h"

#define STEADY_TOL	0.10	/* stride within 10 % of its bout's median */
#define STEADY_MIN_BOUT	5	/* strides a bout needs to lose its first and last */
#define BOUT_BREAK_S	2.5	/* no initial contact for longer: standing */
#define SYNC_WINDOW_S	0.15	/* mat and insole contacts this close match */

struct stride {
	uint8_t src, side;
	int64_t ic, to, next_ic;
	double stride_s, step_s, stance_s, swing_s, ss_s, ds_s;
	double step_m, stride_m, bos_m, angle_deg, vel_mps;
	uint32_t flags;
	bool used;
	int bout;
};

struct pstat {
	double sum, sum2;
	unsigned int n;
};

static void stat_add(struct pstat *s, double v)
{
	if (isnan(v))
		return;
	s->sum += v;
	s->sum2 += v * v;
	s->n++;
}

static double stat_mean(const struct pstat *s)
{
	return s->n ? s->sum / s->n : NAN;
}

static double stat_sd(const struct pstat *s)
{
	double m = stat_mean(s);

	return s->n > 1 ? sqrt(fmax(s->sum2 - s->n * m * m, 0) / (s->n - 1)) : NAN;
}

static int jadd(struct json_object *o, const char *k, struct json_object *v)
{
	if (!v || json_object_object_add(o, k, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* JSON has no NaN: a missing value is null (a NULL object in json-c). */
static int jaddn(struct json_object *o, const char *k, double v)
{
	if (!isfinite(v))
		return json_object_object_add(o, k, NULL) ? -ENOMEM : 0;
	return jadd(o, k, json_object_new_double(v));
}

static struct json_object *jstat(const struct pstat *s)
{
	struct json_object *o = json_object_new_object();
	double m = stat_mean(s), sd = stat_sd(s);

	if (!o || jaddn(o, "mean", m) || jaddn(o, "sd", sd) ||
	    jaddn(o, "cv_pct", m != 0 ? 100 * sd / fabs(m) : NAN) ||
	    jadd(o, "n", json_object_new_int64(s->n))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static double si_pct(const struct pstat *l, const struct pstat *r)
{
	double a = stat_mean(l), b = stat_mean(r);

	/* Robinson et al. 1987: 0 is perfect symmetry. */
	return 200 * (a - b) / (a + b);
}

struct strides {
	struct stride *v;
	size_t n, cap;
};

static int push(struct refine *R, struct strides *S, const struct stride *s)
{
	if (S->n == S->cap) {
		size_t cap = S->cap ? 2 * S->cap : 128;
		struct stride *v = realloc(S->v, cap * sizeof(*v));

		if (!v)
			return refine_fail(R, -ENOMEM, "out of memory");
		S->v = v;
		S->cap = cap;
	}
	S->v[S->n++] = *s;
	return 0;
}

/*
 * The first event at or after @t. Events are sorted by time by now
 * (refine_run()): the stride loops start there instead of at the first
 * event, which made them quadratic in the session's length.
 */
static size_t first_at(const struct refine *R, int64_t t)
{
	size_t lo = 0, hi = R->n_ev;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (R->ev[mid].t_ns < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first event of @src/@side/@kind in [from, to), or -1. */
static ssize_t find(const struct refine *R, unsigned int src, unsigned int side,
		    unsigned int kind, int64_t from, int64_t to, size_t start)
{
	size_t i = first_at(R, from);

	for (i = i > start ? i : start; i < R->n_ev && R->ev[i].t_ns < to; i++) {
		const struct refine_event *e = &R->ev[i];

		if (e->t_ns >= from && e->source == src && e->side == side &&
		    e->kind == kind)
			return (ssize_t)i;
	}
	return -1;
}

static size_t count(const struct refine *R, unsigned int src, unsigned int side,
		    unsigned int kind, int64_t from, int64_t to, uint32_t *flags)
{
	size_t n = 0;

	for (size_t i = first_at(R, from); i < R->n_ev && R->ev[i].t_ns < to; i++) {
		const struct refine_event *e = &R->ev[i];

		if (e->t_ns > from && e->source == src && e->side == side) {
			*flags |= e->flags & ~REFINE_Q_NOT_STEADY;
			n += e->kind == kind;
		}
	}
	return n;
}

/* Insole strides of one side: IC to the next IC of the same foot. */
static int insole_strides(struct refine *R, struct strides *S, unsigned int side)
{
	ssize_t prev = -1;
	int ret = 0;

	for (size_t i = 0; !ret && i < R->n_ev; i++) {
		const struct refine_event *e = &R->ev[i];
		struct stride s = { .src = REFINE_SRC_INSOLE, .side = (uint8_t)side };
		ssize_t to, oto, oic, oic_prev;
		int64_t a, b;

		if (e->source != REFINE_SRC_INSOLE || e->side != side || e->kind != REFINE_IC)
			continue;
		if (prev < 0) {
			prev = (ssize_t)i;
			continue;
		}
		a = R->ev[prev].t_ns;
		b = e->t_ns;
		prev = (ssize_t)i;
		s.ic = a;
		s.next_ic = b;
		s.flags = R->ev[i].flags & ~REFINE_Q_NOT_STEADY;
		s.stride_s = (b - a) / 1e9;
		/* IC, TO, IC: exactly one toe-off in between, one of each other. */
		if (count(R, REFINE_SRC_INSOLE, side, REFINE_TO, a, b, &s.flags) != 1 ||
		    count(R, REFINE_SRC_INSOLE, !side, REFINE_IC, a, b, &s.flags) != 1 ||
		    count(R, REFINE_SRC_INSOLE, !side, REFINE_TO, a, b, &s.flags) != 1)
			s.flags |= REFINE_Q_ORDER;
		to = find(R, REFINE_SRC_INSOLE, side, REFINE_TO, a, b, 0);
		oto = find(R, REFINE_SRC_INSOLE, !side, REFINE_TO, a, b, 0);
		oic = find(R, REFINE_SRC_INSOLE, !side, REFINE_IC, a, b, 0);
		/* The last contralateral IC before this stride. */
		oic_prev = -1;
		for (size_t j = first_at(R, a); j-- > 0;)
			if (R->ev[j].source == REFINE_SRC_INSOLE && R->ev[j].side == !side &&
			    R->ev[j].kind == REFINE_IC) {
				oic_prev = (ssize_t)j;
				break;
			}
		s.to = to >= 0 ? R->ev[to].t_ns : 0;
		s.stance_s = to >= 0 ? (R->ev[to].t_ns - a) / 1e9 : NAN;
		s.swing_s = to >= 0 ? (b - R->ev[to].t_ns) / 1e9 : NAN;
		/* Step time: contralateral IC to this IC (the stride's first). */
		s.step_s = oic_prev >= 0 && a - R->ev[oic_prev].t_ns < (b - a) ?
			   (a - R->ev[oic_prev].t_ns) / 1e9 : NAN;
		if (oto >= 0 && oic >= 0 && to >= 0 && R->ev[oto].t_ns < R->ev[oic].t_ns &&
		    R->ev[oic].t_ns < R->ev[to].t_ns) {
			s.ss_s = (R->ev[oic].t_ns - R->ev[oto].t_ns) / 1e9;
			s.ds_s = (R->ev[oto].t_ns - a + R->ev[to].t_ns - R->ev[oic].t_ns) / 1e9;
		} else {
			s.ss_s = s.ds_s = NAN;
			s.flags |= REFINE_Q_INCOMPLETE;
		}
		if (isnan(s.stance_s) || isnan(s.step_s))
			s.flags |= REFINE_Q_INCOMPLETE;
		s.step_m = s.stride_m = s.bos_m = s.angle_deg = s.vel_mps = NAN;
		ret = push(R, S, &s);
	}
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Steady state (docs/gait-parameters.md): bouts split at standing; the
 * first and last stride of a bout dropped; a stride used when it and its
 * neighbours lie within STEADY_TOL of the bout's median stride time. A bout
 * too short to spare two strides keeps them all, flagged SHORT_BOUT.
 */
static void steady(struct strides *S, size_t from, size_t to)
{
	size_t i = from;

	while (i < to) {
		size_t j = i + 1, n, k;
		double *d, med;

		while (j < to && S->v[j].ic == S->v[j - 1].next_ic &&
		       S->v[j].stride_s < BOUT_BREAK_S)
			j++;
		n = j - i;
		d = malloc(n * sizeof(*d));
		if (d) {
			for (k = 0; k < n; k++)
				d[k] = S->v[i + k].stride_s;
			qsort(d, n, sizeof(*d), cmp_double);
			med = d[n / 2];
			free(d);
			for (k = i; k < j; k++) {
				bool ok = n < STEADY_MIN_BOUT || (k > i && k + 1 < j);

				if (n < STEADY_MIN_BOUT)
					S->v[k].flags |= REFINE_Q_SHORT_BOUT;

				for (size_t q = k ? k - 1 : k; ok && q <= k + 1 && q < j; q++)
					ok = fabs(S->v[q].stride_s - med) <= STEADY_TOL * med;
				if (!ok)
					S->v[k].flags |= REFINE_Q_NOT_STEADY;
			}
		}
		i = j;
	}
	for (i = from; i < to; i++)
		S->v[i].used = !(S->v[i].flags & ~REFINE_Q_SHORT_BOUT);
}

/* Mat steps: each footprint measured against the two before it in its pass. */
static int mat_steps(struct refine *R, struct strides *S)
{
	const struct mat *m = &R->mat;
	int ret = 0;

	for (size_t i = 2; !ret && i < m->n_fp; i++) {
		const struct footprint *f = &m->fp[i], *c = &m->fp[i - 1], *p = &m->fp[i - 2];
		struct stride s = { .src = REFINE_SRC_MAT, .side = f->side };
		double ux, uy, len, ang;

		if (f->pass != c->pass || f->pass != p->pass || f->side == c->side ||
		    f->side != p->side || f->side == REFINE_SIDE_UNKNOWN)
			continue;
		s.flags = (f->flags | c->flags | p->flags) &
			  (REFINE_Q_PARTIAL | REFINE_Q_GAP | REFINE_Q_INCOMPLETE |
			   REFINE_Q_SATURATED);
		/*
		 * Alternation: the other foot lands within the middle of this
		 * stride; a footprint missed in between breaks it.
		 */
		if (c->ic_ns - p->ic_ns < (f->ic_ns - p->ic_ns) / 4 ||
		    c->ic_ns - p->ic_ns > (f->ic_ns - p->ic_ns) * 3 / 4 ||
		    f->ic_ns - p->ic_ns > (int64_t)(BOUT_BREAK_S * NS_PER_S))
			s.flags |= REFINE_Q_ORDER;
		ux = f->heel_x - p->heel_x;
		uy = f->heel_y - p->heel_y;
		len = hypot(ux, uy);
		if (len < 1)
			continue;
		ux /= len;
		uy /= len;
		s.ic = f->ic_ns;
		s.to = f->to_ns;
		s.next_ic = 0;
		s.stride_m = len / 1000;
		s.step_m = ((f->heel_x - c->heel_x) * ux + (f->heel_y - c->heel_y) * uy) / 1000;
		s.bos_m = fabs((c->heel_x - p->heel_x) * -uy + (c->heel_y - p->heel_y) * ux) / 1000;
		ang = atan2(ux * sin(f->axis) - uy * cos(f->axis),
			    ux * cos(f->axis) + uy * sin(f->axis));
		s.angle_deg = (f->side == REFINE_LEFT ? 1 : -1) * ang * 180 / M_PI;
		s.step_s = (f->ic_ns - c->ic_ns) / 1e9;
		s.stride_s = (f->ic_ns - p->ic_ns) / 1e9;
		s.stance_s = f->flags & REFINE_Q_INCOMPLETE ? NAN : (f->to_ns - f->ic_ns) / 1e9;
		s.swing_s = (f->ic_ns - p->to_ns) / 1e9;
		s.ss_s = s.ds_s = NAN;
		s.vel_mps = s.step_s > 0 ? s.step_m / s.step_s : NAN;
		s.used = !s.flags;
		ret = push(R, S, &s);
	}
	return ret;
}

static const char *side_name(unsigned int s)
{
	return s == REFINE_LEFT ? "left" : s == REFINE_RIGHT ? "right" : "unknown";
}

static FILE *create(struct refine *R, unsigned int which)
{
	const char *name = refine_out_files[which];
	char path[4096];
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", R->o->outdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		refine_fail(R, -errno, "%s: %s", path,
			    errno == EEXIST ? "exists already (refine never overwrites)" :
			    strerror(errno));
		return NULL;
	}
	R->created |= 1u << which;
	f = fdopen(fd, "w");
	if (!f) {
		refine_fail(R, -errno, "%s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

static int finish_file(struct refine *R, FILE *f, const char *name)
{
	bool bad = ferror(f);

	if (fclose(f) || bad)
		return refine_fail(R, -EIO, "%s/%s: write failed", R->o->outdir, name);
	return 0;
}

static int write_events(struct refine *R, int64_t t0)
{
	FILE *f = create(R, REFINE_OUT_EVENTS);

	if (!f)
		return -EIO;
	fprintf(f, "t_s\tt_ns\tsource\tdevice\tside\tevent\tflags\n");
	for (size_t i = 0; i < R->n_ev; i++) {
		const struct refine_event *e = &R->ev[i];

		fprintf(f, "%.4f\t%" PRId64 "\t%s\t%d\t%s\t%s\t0x%03x\n",
			(e->t_ns - t0) / 1e9, e->t_ns,
			e->source == REFINE_SRC_MAT ? "mat" : "insole", e->device,
			side_name(e->side), e->kind == REFINE_IC ? "IC" : "TO", e->flags);
	}
	return finish_file(R, f, "events.tsv");
}

static void tsv_num(FILE *f, double v, const char *fmt)
{
	fputc('\t', f);
	if (isfinite(v))
		fprintf(f, fmt, v);
	else
		fputs("NA", f);
}

static int write_strides(struct refine *R, const struct strides *S, int64_t t0)
{
	FILE *f = create(R, REFINE_OUT_STRIDES);

	if (!f)
		return -EIO;
	fprintf(f, "source\tside\tic_s\tic_ns\tstride_s\tstep_s\tstance_s\tswing_s\t"
		"single_support_s\tdouble_support_s\tstep_length_m\tstride_length_m\t"
		"base_of_support_m\tfoot_angle_deg\tvelocity_mps\tused\tflags\n");
	for (size_t i = 0; i < S->n; i++) {
		const struct stride *s = &S->v[i];

		fprintf(f, "%s\t%s\t%.4f\t%" PRId64, s->src == REFINE_SRC_MAT ? "mat" : "insole",
			side_name(s->side), (s->ic - t0) / 1e9, s->ic);
		tsv_num(f, s->stride_s, "%.4f");
		tsv_num(f, s->step_s, "%.4f");
		tsv_num(f, s->stance_s, "%.4f");
		tsv_num(f, s->swing_s, "%.4f");
		tsv_num(f, s->ss_s, "%.4f");
		tsv_num(f, s->ds_s, "%.4f");
		tsv_num(f, s->step_m, "%.4f");
		tsv_num(f, s->stride_m, "%.4f");
		tsv_num(f, s->bos_m, "%.4f");
		tsv_num(f, s->angle_deg, "%.2f");
		tsv_num(f, s->vel_mps, "%.3f");
		fprintf(f, "\t%d\t0x%03x\n", s->used, s->flags);
	}
	return finish_file(R, f, "strides.tsv");
}

enum { P_STRIDE, P_STEP, P_STANCE, P_SWING, P_SS, P_DS, P_STEP_M, P_STRIDE_M,
       P_BOS, P_ANGLE, P_VEL, P_COUNT };
static const char *const pname[P_COUNT] = {
	"stride_s", "step_s", "stance_s", "swing_s", "single_support_s",
	"double_support_s", "step_length_m", "stride_length_m",
	"base_of_support_m", "foot_angle_deg", "velocity_mps",
};

static void collect(const struct strides *S, unsigned int src, unsigned int side,
		    struct pstat st[P_COUNT])
{
	memset(st, 0, P_COUNT * sizeof(*st));
	for (size_t i = 0; i < S->n; i++) {
		const struct stride *s = &S->v[i];
		const double v[P_COUNT] = { s->stride_s, s->step_s, s->stance_s,
			s->swing_s, s->ss_s, s->ds_s, s->step_m, s->stride_m, s->bos_m,
			s->angle_deg, s->vel_mps };

		if (s->src != src || (side < 2 && s->side != side) || !s->used)
			continue;
		for (int p = 0; p < P_COUNT; p++)
			stat_add(&st[p], v[p]);
	}
}

static struct json_object *side_obj(const struct pstat st[P_COUNT], int from, int to,
				    unsigned int n_total, int n_short)
{
	struct json_object *o = json_object_new_object();
	int bad = !o;

	for (int p = from; !bad && p < to; p++)
		bad = jadd(o, pname[p], jstat(&st[p]));
	if (!bad)
		bad = jadd(o, "strides_used", json_object_new_int64(st[P_STRIDE].n)) ||
		      jadd(o, "strides_found", json_object_new_int64(n_total));
	/* Insoles: how many used strides come untrimmed from a short bout. */
	if (!bad && n_short >= 0)
		bad = jadd(o, "strides_short_bout", json_object_new_int64(n_short));
	if (bad) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static unsigned int n_of(const struct strides *S, unsigned int src, unsigned int side)
{
	unsigned int n = 0;

	for (size_t i = 0; i < S->n; i++)
		n += S->v[i].src == src && S->v[i].side == side;
	return n;
}

static int n_short(const struct strides *S, unsigned int side)
{
	int n = 0;

	for (size_t i = 0; i < S->n; i++)
		n += S->v[i].src == REFINE_SRC_INSOLE && S->v[i].side == side &&
		     S->v[i].used && (S->v[i].flags & REFINE_Q_SHORT_BOUT);
	return n;
}

/* Mat and insoles see one footfall: the mean offset of matched contacts. */
static void sync_offset(const struct refine *R, unsigned int kind, struct pstat *st)
{
	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < R->n_ev; i++) {
		const struct refine_event *m = &R->ev[i];
		double best = INFINITY;

		if (m->source != REFINE_SRC_MAT || m->kind != kind || m->flags)
			continue;
		for (size_t j = 0; j < R->n_ev; j++) {
			const struct refine_event *e = &R->ev[j];
			double d = (m->t_ns - e->t_ns) / 1e9;

			if (e->source == REFINE_SRC_INSOLE && e->kind == kind &&
			    e->side == m->side && fabs(d) < fabs(best))
				best = d;
		}
		if (fabs(best) <= SYNC_WINDOW_S)
			stat_add(st, best * 1000);
	}
}

static struct json_object *clock_obj(const struct ins *in)
{
	const struct refine_clock_fit *f = &in->fit;
	struct json_object *o = json_object_new_object();

	if (!o || jadd(o, "ok", json_object_new_boolean(f->ok)) ||
	    jadd(o, "offset_from", json_object_new_string(
			 f->from_records ? "clock_records" : "arrival_envelope")) ||
	    jaddn(o, "drift_ppm", f->drift * 1e6) ||
	    jaddn(o, "offset_ns", f->offset_ns) ||
	    jaddn(o, "residual_ms", f->residual_ns / 1e6) ||
	    jaddn(o, "offset_bound_ms", f->bound_ns / 1e6) ||
	    jaddn(o, "records_sigma_ms", f->rec_sigma_ns / 1e6) ||
	    jaddn(o, "records_uncertainty_ms", f->rec_unc_ns / 1e6) ||
	    jadd(o, "clock_records", json_object_new_int64(f->n_records)) ||
	    jadd(o, "records_used", json_object_new_int64(f->n_used)) ||
	    jadd(o, "records_rejected", json_object_new_int64(f->n_rejected)) ||
	    jadd(o, "envelope_points", json_object_new_int64(f->n_bins))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *quality_obj(const struct ins *in)
{
	const struct refine_insole_stats *q = &in->st;
	struct json_object *o = json_object_new_object(), *z = json_object_new_array();
	int bad = !o || !z;

	for (unsigned int c = 0; !bad && c < in->n_cells; c++)
		bad = json_object_array_add(z, json_object_new_double(q->zero_code[c]));
	if (bad || jadd(o, "stream", json_object_new_int64(in->stream)) ||
	    jadd(o, "notifications", json_object_new_int64(q->notifications)) ||
	    jadd(o, "samples", json_object_new_int64(q->samples)) ||
	    jadd(o, "corrupt", json_object_new_int64(q->corrupt)) ||
	    jadd(o, "foreign", json_object_new_int64(q->foreign)) ||
	    jadd(o, "duplicated", json_object_new_int64(q->duplicated)) ||
	    jadd(o, "out_of_order", json_object_new_int64(q->out_of_order)) ||
	    jadd(o, "held", json_object_new_int64(q->held)) ||
	    jadd(o, "saturated", json_object_new_int64(q->saturated)) ||
	    jadd(o, "gaps", json_object_new_int64(q->gaps)) ||
	    jadd(o, "missing_samples", json_object_new_int64(q->missing)) ||
	    jadd(o, "flat_cells", json_object_new_int64(q->flat_cells)) ||
	    jaddn(o, "threshold_n", q->threshold_n) ||
	    jaddn(o, "noise_n", q->noise_n) ||
	    jaddn(o, "peak_force_n", q->peak_n) ||
	    jadd(o, "zero_codes", json_object_get(z)) ||
	    jadd(o, "clock", clock_obj(in))) {
		json_object_put(z);
		json_object_put(o);
		return NULL;
	}
	json_object_put(z);
	return o;
}

/* Records lost times the stream's samples per record (one per scan). */
static uint64_t lost_samples(struct refine *R, const struct refine_loss *l)
{
	uint64_t rec = l->check_records + l->header_records;
	const struct refine_insole_stats *st = NULL;

	for (unsigned int k = 0; !l->mat && k < R->n_ins; k++)
		if (R->ins[k].stream == l->stream)
			st = &R->ins[k].st;
	if (!st || !st->notifications)
		return rec;
	return (uint64_t)((double)rec * st->samples / st->notifications + 0.5);
}

static void add_problem(void *ctx, bool error, const char *msg)
{
	if (error)
		json_object_array_add(ctx, json_object_new_string(msg));
}

/* "data_lost": per refined stream what damage cost, and the file's problems. */
static struct json_object *lost_obj(struct refine *R)
{
	const struct gcs_file_info *fi = gcs_reader_info(R->r);
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	struct json_object *p = json_object_new_array();
	int bad = !o || !a || !p;

	for (unsigned int k = 0; !bad && k < R->n_loss; k++) {
		const struct refine_loss *l = &R->loss[k].out;
		struct json_object *e = json_object_new_object();

		bad = !e ||
		      jadd(e, "stream", json_object_new_int64(l->stream)) ||
		      jadd(e, "source", json_object_new_string(l->mat ? "mat" : "insole")) ||
		      jadd(e, "side", json_object_new_string(side_name(l->side))) ||
		      jadd(e, "records_read", json_object_new_int64(l->records_read)) ||
		      jadd(e, "lost_chunks", json_object_new_int64(l->check_chunks +
								   l->header_chunks)) ||
		      jadd(e, "lost_records", json_object_new_int64(l->check_records +
								    l->header_records)) ||
		      jadd(e, "lost_samples", json_object_new_int64(l->lost_samples)) ||
		      jadd(e, "chunks_failed_check", json_object_new_int64(l->check_chunks)) ||
		      jadd(e, "records_failed_check", json_object_new_int64(l->check_records)) ||
		      jadd(e, "chunks_behind_damaged_headers",
			   json_object_new_int64(l->header_chunks)) ||
		      jadd(e, "records_behind_damaged_headers",
			   json_object_new_int64(l->header_records));
		if (!bad)
			bad = json_object_array_add(a, e);
		else
			json_object_put(e);
	}
	if (!bad)
		gcs_reader_problems(R->r, false, add_problem, p);
	if (bad ||
	    jadd(o, "cut_short", json_object_new_boolean(refine_cut_short(fi))) ||
	    (refine_cut_short(fi) ?
	     jadd(o, "cut_after_offset", json_object_new_int64((int64_t)fi->valid_end)) :
	     json_object_object_add(o, "cut_after_offset", NULL)) ||
	    jadd(o, "streams", json_object_get(a)) ||
	    jadd(o, "problems", json_object_get(p))) {
		json_object_put(o);
		o = NULL;
	}
	json_object_put(a);
	json_object_put(p);
	return o;
}

static int write_params(struct refine *R, const struct strides *S)
{
	struct json_object *root = json_object_new_object(), *ins = json_object_new_object();
	struct json_object *mat = json_object_new_object(), *sym = json_object_new_object();
	struct json_object *q = json_object_new_array(), *sync = json_object_new_object();
	struct pstat l[P_COUNT], r[P_COUNT], ml[P_COUNT], mr[P_COUNT], ma[P_COUNT], s_ic, s_to;
	struct pstat steps = { 0 };
	const char *s;
	FILE *f;
	int bad;

	collect(S, REFINE_SRC_INSOLE, REFINE_LEFT, l);
	collect(S, REFINE_SRC_INSOLE, REFINE_RIGHT, r);
	collect(S, REFINE_SRC_MAT, REFINE_LEFT, ml);
	collect(S, REFINE_SRC_MAT, REFINE_RIGHT, mr);
	collect(S, REFINE_SRC_MAT, 2, ma);
	/* Cadence: steps per minute from the mean step time of both feet. */
	steps.sum = l[P_STEP].sum + r[P_STEP].sum;
	steps.n = l[P_STEP].n + r[P_STEP].n;
	sync_offset(R, REFINE_IC, &s_ic);
	sync_offset(R, REFINE_TO, &s_to);
	bad = !root || !ins || !mat || !sym || !q || !sync ||
	      jadd(ins, "left", side_obj(l, P_STRIDE, P_STEP_M,
					 n_of(S, REFINE_SRC_INSOLE, REFINE_LEFT),
					 n_short(S, REFINE_LEFT))) ||
	      jadd(ins, "right", side_obj(r, P_STRIDE, P_STEP_M,
					  n_of(S, REFINE_SRC_INSOLE, REFINE_RIGHT),
					  n_short(S, REFINE_RIGHT))) ||
	      jaddn(ins, "cadence_steps_per_min", 60 / stat_mean(&steps)) ||
	      jaddn(sym, "stride_s", si_pct(&l[P_STRIDE], &r[P_STRIDE])) ||
	      jaddn(sym, "step_s", si_pct(&l[P_STEP], &r[P_STEP])) ||
	      jaddn(sym, "stance_s", si_pct(&l[P_STANCE], &r[P_STANCE])) ||
	      jaddn(sym, "swing_s", si_pct(&l[P_SWING], &r[P_SWING])) ||
	      jaddn(sym, "step_length_m", si_pct(&ml[P_STEP_M], &mr[P_STEP_M])) ||
	      jadd(ins, "symmetry_index_pct", json_object_get(sym)) ||
	      jadd(mat, "present", json_object_new_boolean(R->mat.present)) ||
	      jadd(mat, "footprints", json_object_new_int64(R->mat.n_fp)) ||
	      jadd(mat, "passes", json_object_new_int64(R->mat.n_passes)) ||
	      jadd(mat, "scans", json_object_new_int64(R->mat.scans)) ||
	      jadd(mat, "sequence_gaps", json_object_new_int64(R->mat.gaps)) ||
	      (R->mat.has_seq &&
	       jadd(mat, "missing_scans", json_object_new_int64((int64_t)R->mat.missing))) ||
	      jadd(mat, "duplicate_or_late_scans", json_object_new_int64(R->mat.dup)) ||
	      jadd(mat, "corrupt_scans", json_object_new_int64(R->mat.corrupt)) ||
	      jadd(mat, "saturated_scans", json_object_new_int64(R->mat.saturated)) ||
	      jadd(mat, "all", side_obj(ma, P_STEP, P_COUNT, 0, -1)) ||
	      jadd(mat, "left", side_obj(ml, P_STEP, P_COUNT, 0, -1)) ||
	      jadd(mat, "right", side_obj(mr, P_STEP, P_COUNT, 0, -1)) ||
	      jaddn(mat, "cadence_steps_per_min", 60 / stat_mean(&ma[P_STEP])) ||
	      jadd(sync, "ic_offset_ms", jstat(&s_ic)) ||
	      jadd(sync, "to_offset_ms", jstat(&s_to)) ||
	      jadd(sync, "definition", json_object_new_string(
			   "mat minus insole time of the same contact, matched within 150 ms")) ||
	      jadd(root, "insole", json_object_get(ins)) ||
	      jadd(root, "mat", json_object_get(mat)) ||
	      jadd(root, "insole_mat_sync", json_object_get(sync)) ||
	      jadd(root, "lost_chunks", json_object_new_int64(R->bad_chunks)) ||
	      jadd(root, "data_lost", lost_obj(R)) ||
	      jadd(root, "definitions", json_object_new_string("docs/gait-parameters.md"));
	for (unsigned int k = 0; !bad && k < R->n_ins; k++)
		bad = json_object_array_add(q, quality_obj(&R->ins[k]));
	if (!bad)
		bad = jadd(root, "insole_streams", json_object_get(q));
	s = bad ? NULL : json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	json_object_put(ins);
	json_object_put(mat);
	json_object_put(sym);
	json_object_put(q);
	json_object_put(sync);
	if (!s) {
		json_object_put(root);
		return refine_fail(R, -ENOMEM, "out of memory");
	}
	f = create(R, REFINE_OUT_PARAMS);
	if (!f) {
		json_object_put(root);
		return -EIO;
	}
	fputs(s, f);
	fputc('\n', f);
	json_object_put(root);
	return finish_file(R, f, "parameters.json");
}

int refine_outputs(struct refine *R, struct refine_result *res)
{
	struct strides S = { 0 };
	int64_t t0 = gcs_reader_info(R->r)->t_first_ns;
	size_t a;
	int ret;

	for (unsigned int k = 0; k < R->n_loss; k++)
		R->loss[k].out.lost_samples = lost_samples(R, &R->loss[k].out);
	ret = insole_strides(R, &S, REFINE_LEFT);
	a = S.n;
	if (!ret)
		steady(&S, 0, a);
	if (!ret)
		ret = insole_strides(R, &S, REFINE_RIGHT);
	if (!ret)
		steady(&S, a, S.n);
	if (!ret)
		ret = mat_steps(R, &S);
	if (!ret && R->o->outdir)
		ret = write_events(R, t0);
	if (!ret && R->o->outdir)
		ret = write_strides(R, &S, t0);
	if (!ret && R->o->outdir)
		ret = write_params(R, &S);
	if (res) {
		res->n_insoles = R->n_ins;
		for (unsigned int k = 0; k < R->n_ins; k++) {
			res->clock[k] = R->ins[k].fit;
			res->insole[k] = R->ins[k].st;
		}
		res->n_footprints = (unsigned int)R->mat.n_fp;
		res->n_passes = R->mat.n_passes;
		res->mat_scans = R->mat.scans;
		res->mat_corrupt = R->mat.corrupt;
		res->mat_gaps = R->mat.gaps;
		res->mat_saturated = R->mat.saturated;
		res->lost_chunks = R->bad_chunks;
		for (unsigned int k = 0; k < R->n_loss; k++)
			res->loss[k] = R->loss[k].out;
		res->n_loss = R->n_loss;
		res->cut_short = refine_cut_short(gcs_reader_info(R->r));
		res->cut_at = gcs_reader_info(R->r)->valid_end;
	}
	free(S.v);
	return ret;
}
