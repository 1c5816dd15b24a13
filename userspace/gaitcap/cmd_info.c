// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap info [--json] [--quick] [--index] FILE...
 *
 * Metadata, streams, counts, gaps, duration, sizes and integrity of a
 * session file. Exit status: 0 intact (or being written), 2 problems found
 * (see the integrity section), 1 the file could not be read at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

#include <json-c/json.h>

#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"

#define MAX_PROBLEMS 16

struct report {
	const char *path;
	struct gcs_reader *r;
	const struct gcs_file_info *fi;
	bool live;			/* a writer holds the file */
	bool verified;
	const char *verdict;
	char *problems[MAX_PROBLEMS];
	int n_problems;
	int n_errors;			/* problems that are not just notes */
	int64_t real_start_ns;		/* 0 if no host clock record */
};

static const char *state_name(uint32_t s)
{
	switch (s) {
	case GCS_STATE_OPEN: return "open";
	case GCS_STATE_CLOSED: return "closed";
	case GCS_STATE_RECOVERED: return "recovered";
	default: return "?";
	}
}

/* The checksum of record bodies (format doc 4.1). */
static const char *body_sum_name(const struct gcs_file_info *fi)
{
	return fi->incompat & GCS_INCOMPAT_BODY_XXH64 ? "xxh64" : "crc32c";
}

static const char *kind_name(uint16_t k)
{
	switch (k) {
	case GCS_KIND_IIO_SCAN: return "iio_scan";
	case GCS_KIND_BLE_ATT: return "ble_att";
	default: return "generic";
	}
}

static const char *clock_name(uint32_t c)
{
	static const char *const n[] = {
		"none", "monotonic", "realtime", "boottime", "device",
	};

	return c < sizeof(n) / sizeof(n[0]) ? n[c] : "?";
}

static const char *gap_reason(uint32_t r)
{
	static const char *const n[] = {
		"unknown", "device_overflow", "kernel_overflow", "disconnect",
		"writer", "damaged",
	};

	return r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}

static const char *marker_name(uint32_t c, char *buf, size_t len)
{
	static const char *const n[] = {
		NULL, "session_start", "session_end", "trial_start",
		"trial_end", "sync", "event", "device_reset",
	};

	if (c < sizeof(n) / sizeof(n[0]) && n[c])
		return n[c];
	snprintf(buf, len, "%s_%u", c >= GCS_MARK_USER ? "user" : "code", c);
	return buf;
}

/* A session_end marker's value is the errno that ended the capture. */
static bool end_reason(const struct gcs_marker *m)
{
	return m->code == GCS_MARK_SESSION_END && m->value > 0 &&
	       m->value < GCS_EBASE;
}

static const char *tail_name(uint32_t t)
{
	static const char *const n[] = { "clean", "uncommitted", "torn", "short" };

	return t < 4 ? n[t] : "?";
}

__attribute__((format(printf, 3, 4)))
static void problem(struct report *rp, bool error, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (rp->n_problems == MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return;
	rp->problems[rp->n_problems++] = s;
	rp->n_errors += error;
}

/* A killed capture's lock outlives it a moment: that writer is dead. */
static bool writer_alive(const char *path)
{
	return gcs_file_live_writer(path);
}

static void on_problem(void *ctx, bool error, const char *msg)
{
	problem(ctx, error, "%s", msg);
}

static void assess(struct report *rp)
{
	gcs_reader_problems(rp->r, rp->live, on_problem, rp);
	if (!rp->verified)
		problem(rp, false, "chunk data not verified (--quick)");
	rp->verdict = rp->n_errors ? "PROBLEMS" : "OK";
}

static void find_real_start(struct report *rp)
{
	for (size_t i = 0; i < gcs_reader_n_clocks(rp->r); i++) {
		const struct gcs_clock_rec *c = gcs_reader_clock(rp->r, i);

		if (c->s.stream == GCS_STREAM_NONE && c->s.real_ns) {
			/* A hostile file's times must not overflow: then none. */
			if (__builtin_add_overflow(c->s.real_ns,
						   gcs_ns_diff(rp->fi->t_first_ns,
							       c->s.mono_ns),
						   &rp->real_start_ns))
				rp->real_start_ns = 0;
			return;
		}
	}
}

static double secs(int64_t ns)
{
	return (double)ns / 1e9;
}

static double stream_rate(const struct gcs_stream_info *s)
{
	int64_t span = gcs_ns_diff(s->t_last_ns, s->t_first_ns);

	return s->n_records > 1 && span > 0 ?
	       (double)(s->n_records - 1) / secs(span) : 0;
}

/* A short label from a stream description: its "device" key, if any. */
static const char *stream_label(const struct gcs_stream_info *s, char *buf,
				size_t len)
{
	struct json_object *o = json_tokener_parse(s->desc_json), *v;

	snprintf(buf, len, "-");
	if (o && json_object_object_get_ex(o, "device", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(v));
	json_object_put(o);
	return buf;
}

/* A stream's device clock against host MONOTONIC, from its clock records. */
struct devclk {
	uint64_t n;
	int64_t dev_first_ns, dev_last_ns;
	double drift_ppm;		/* device rate minus host rate */
	double drift_se_ppm;		/* its standard error (0: too few) */
	double resid_max_ns;		/* worst record off the fitted line */
};

/*
 * Least squares of device time on host time; the standard error says how
 * much the transport's delays leave of the drift. A value that falls back
 * by more than half of a u32 microsecond clock while inside that range is
 * a wrap (gaitcap synth stores the insole's u32 clock as it answers).
 */
static bool device_clock(struct gcs_reader *r, uint32_t stream,
			 struct devclk *dc)
{
	const int64_t wrap = (int64_t)1000 << 32;
	double sx = 0, sy = 0, sxx = 0, sxy = 0, ss = 0, a = 0, b = 1, d;
	int64_t m0 = 0, d0 = 0, add, prev;

	memset(dc, 0, sizeof(*dc));
	for (int pass = 0; pass < 2; pass++) {
		uint64_t k = 0;

		add = 0;
		prev = 0;
		for (size_t i = 0; i < gcs_reader_n_clocks(r); i++) {
			const struct gcs_clock_sample *c =
				&gcs_reader_clock(r, i)->s;
			double x, y, e;

			if (c->stream != stream ||
			    !(c->flags & GCS_CLOCKREC_F_DEVICE))
				continue;
			if (!k++) {
				m0 = c->mono_ns;
				d0 = c->device_ns;
			} else if (c->device_ns + wrap / 2 < prev &&
				   prev < wrap && c->device_ns >= 0) {
				add += wrap;
			}
			prev = c->device_ns;
			x = (double)gcs_ns_diff(c->mono_ns, m0);
			y = (double)gcs_ns_diff(c->device_ns, d0) + (double)add;
			if (pass == 0) {
				dc->n++;
				dc->dev_last_ns = d0 + (int64_t)y;
				sx += x;
				sy += y;
				sxx += x * x;
				sxy += x * y;
				continue;
			}
			e = y - (a + b * x);
			ss += e * e;
			if (fabs(e) > dc->resid_max_ns)
				dc->resid_max_ns = fabs(e);
		}
		if (!dc->n)
			return false;
		d = (double)dc->n * sxx - sx * sx;
		if (pass == 0 && dc->n > 1 && d > 0) {
			b = ((double)dc->n * sxy - sx * sy) / d;
			a = (sy - b * sx) / (double)dc->n;
			dc->drift_ppm = (b - 1) * 1e6;
		}
	}
	/* se(b) = sqrt(s^2 / Sxx), Sxx = d / n */
	if (dc->n > 2 && d > 0)
		dc->drift_se_ppm = sqrt(ss / (double)(dc->n - 2) /
					(d / (double)dc->n)) * 1e6;
	dc->dev_first_ns = d0;
	return true;
}

static const char *human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
	return buf;
}

static void print_human(struct report *rp)
{
	const struct gcs_file_info *fi = rp->fi;
	char b1[32], b2[32], b3[32], b4[32], lbl[64];
	const char *meta = gcs_reader_meta(rp->r);
	int64_t dur = fi->duration_ns;

	printf("file        %s\n", rp->path);
	printf("format      %u.%u, %s, %s bodies, generation %" PRIu64
	       ", header copies valid %d/2%s\n",
	       fi->ver_major, fi->ver_minor, state_name(fi->state),
	       body_sum_name(fi), fi->generation,
	       __builtin_popcount(fi->slots_valid),
	       fi->used_index ? ", read through its index" : "");
	printf("metadata    %s\n", meta ? meta : "(missing)");
	printf("duration    %.3f s", secs(dur));
	if (rp->real_start_ns) {
		time_t t = (time_t)(rp->real_start_ns / 1000000000);
		struct tm tm;
		char when[32];

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf(", started %s", when);
	}
	printf("\n");
	printf("sizes       raw %s, stored %s (%.1f %% of raw; zstd %s), file %s, on disk %s\n",
	       human_bytes(fi->raw_bytes, b1, sizeof(b1)),
	       human_bytes(fi->stored_bytes, b2, sizeof(b2)),
	       fi->raw_bytes ? 100.0 * (double)fi->stored_bytes /
			       (double)fi->raw_bytes : 0.0,
	       human_bytes(fi->zstd_stored, b3, sizeof(b3)),
	       human_bytes(fi->file_size, b4, sizeof(b4)),
	       human_bytes(fi->allocated, lbl, sizeof(lbl)));
	printf("records     %" PRIu64 ": %" PRIu64 " chunks, %" PRIu64
	       " zstd chunks, %" PRIu64 " clock, %" PRIu64 " markers, %" PRIu64
	       " gaps, %" PRIu64 " pad, %" PRIu64 " unknown\n",
	       fi->n_records, fi->n_by_type[2], fi->n_by_type[3],
	       fi->n_by_type[4], fi->n_by_type[5], fi->n_by_type[6],
	       fi->n_pad, fi->n_unknown);
	/* A mark past the readable end is the header's claim, not the file's. */
	if (fi->durable_end > fi->valid_end)
		printf("durability  the header says durable to %" PRIu64 " bytes, only %"
		       PRIu64 " readable, sync every %u ms, tail %s\n",
		       fi->durable_end, fi->valid_end, fi->sync_interval_ms,
		       tail_name(fi->tail));
	else
		printf("durability  durable to %" PRIu64 " of %" PRIu64
		       " bytes, sync every %u ms, tail %s\n",
		       fi->durable_end, fi->valid_end, fi->sync_interval_ms,
		       tail_name(fi->tail));
	printf("integrity   %s", rp->verdict);
	if (rp->verified)
		printf(" (%zu chunks checked)", gcs_reader_n_chunks(rp->r));
	printf("\n");
	for (int i = 0; i < rp->n_problems; i++)
		printf("  - %s\n", rp->problems[i]);

	printf("streams     %zu\n", gcs_reader_n_streams(rp->r));
	for (size_t i = 0; i < gcs_reader_n_streams(rp->r); i++) {
		const struct gcs_stream_info *s = gcs_reader_stream(rp->r, i);

		printf("  %u %-8s %-8s ", s->id, kind_name(s->kind),
		       stream_label(s, lbl, sizeof(lbl)));
		if (s->record_size)
			printf("%u B/record", s->record_size);
		else
			printf("variable");
		printf(", %.2f Hz, %" PRIu64 " records in %" PRIu64 " chunks",
		       stream_rate(s), s->n_records, s->n_chunks);
		if (s->n_chunks)
			printf(", seq %" PRIu64 "..%" PRIu64, s->first_seq,
			       s->last_seq);
		printf(", gaps %" PRIu64 " (%" PRIu64 " records), jumps %" PRIu64
		       " (%" PRIu64 " unexplained), ", s->n_gaps, s->gap_records,
		       s->n_discont, s->n_unexplained);
		if (s->lost_records)
			printf("lost to damage %" PRIu64 " records, ",
			       s->lost_records);
		printf("raw %s, time %s\n",
		       human_bytes(s->raw_bytes, b1, sizeof(b1)),
		       clock_name(s->ts_clock));
	}
	if (gcs_reader_n_gaps(rp->r))
		printf("gaps\n");
	for (size_t i = 0; i < gcs_reader_n_gaps(rp->r); i++) {
		const struct gcs_gap *g = gcs_reader_gap(rp->r, i);

		printf("  stream %u, %s, ", g->stream, gap_reason(g->reason));
		if (g->first_seq != GCS_SEQ_UNKNOWN)
			printf("seq %" PRIu64 "..%" PRIu64 ", ", g->first_seq,
			       g->last_seq);
		printf("t %+.3f..%+.3f s\n",
		       secs(gcs_ns_diff(g->t_start_ns, fi->t_first_ns)),
		       secs(gcs_ns_diff(g->t_end_ns, fi->t_first_ns)));
	}
	if (gcs_reader_n_markers(rp->r))
		printf("markers\n");
	for (size_t i = 0; i < gcs_reader_n_markers(rp->r); i++) {
		const struct gcs_marker *m = gcs_reader_marker(rp->r, i);
		char nb[32];

		printf("  t %+.3f s  %s", secs(gcs_ns_diff(m->t_ns, fi->t_first_ns)),
		       marker_name(m->code, nb, sizeof(nb)));
		if (m->stream != GCS_STREAM_NONE)
			printf(" stream %u", m->stream);
		if (end_reason(m))
			printf(" %s", cli_err_words((int)m->value));
		else if (m->value)
			printf(" value %" PRId64, m->value);
		printf("\n");
	}
	printf("clock       %zu records\n", gcs_reader_n_clocks(rp->r));
	for (size_t i = 0; i < gcs_reader_n_streams(rp->r); i++) {
		const struct gcs_stream_info *s = gcs_reader_stream(rp->r, i);
		struct devclk dc;

		printf("  %u %-12s ", s->id, stream_label(s, lbl, sizeof(lbl)));
		if (!device_clock(rp->r, s->id, &dc)) {
			printf("no device clock records\n");
			continue;
		}
		printf("device clock %.3f..%.3f s, %" PRIu64 " clock records, drift %+.1f +- %.1f ppm, off the fit by %.2f ms at most\n",
		       secs(dc.dev_first_ns), secs(dc.dev_last_ns), dc.n,
		       dc.drift_ppm, dc.drift_se_ppm, dc.resid_max_ns / 1e6);
	}
}

/*
 * The JSON report is written as member lists, one per object, in output
 * order: JOBJ({ "key", value }, ...). Some keys exist only in some records:
 * JIF(cond, "key") leaves that member out (its value dropped) unless cond.
 */
struct jmember {
	const char *key;
	struct json_object *val;
};

static const char no_key[1];
#define JIF(cond, key)	((cond) ? (key) : no_key)
#define JOBJ(...)	jobject((const struct jmember[]){ __VA_ARGS__, { 0 } })
#define JU64(v)		json_object_new_uint64(v)
#define JI64(v)		json_object_new_int64(v)
#define JSTR(v)		json_object_new_string(v)
#define JBOOL(v)	json_object_new_boolean(v)

static struct json_object *jobject(const struct jmember *m)
{
	struct json_object *o = json_object_new_object();

	for (; m->key; m++)
		if (!o || m->key == no_key ||
		    json_object_object_add(o, m->key, m->val))
			json_object_put(m->val);
	return o;
}

static struct json_object *parse_or_null(const char *s)
{
	return s ? json_tokener_parse(s) : NULL;
}

static int print_json(struct report *rp, struct json_object *all)
{
	const struct gcs_file_info *fi = rp->fi;
	const uint64_t *nt = fi->n_by_type;
	struct json_object *root, *a, *problems = json_object_new_array();
	char nb[32], file[PATH_MAX];

	/* JSON strings are UTF-8: a file name need not be. */
	snprintf(file, sizeof(file), "%s", rp->path);
	gcs_text_printable(file);
	for (int i = 0; problems && i < rp->n_problems; i++)
		json_object_array_add(problems, JSTR(rp->problems[i]));
	root = JOBJ(
		{ "file", JSTR(file) },
		{ "format", JOBJ(
			{ "major", JU64(fi->ver_major) },
			{ "minor", JU64(fi->ver_minor) },
			{ "state", JSTR(state_name(fi->state)) },
			{ "body_sum", JSTR(body_sum_name(fi)) },
			{ "generation", JU64(fi->generation) },
			{ "header_copies_valid",
			  JU64((uint64_t)__builtin_popcount(fi->slots_valid)) },
			{ "used_index", JBOOL(fi->used_index) },
			{ "live_writer", JBOOL(rp->live) }) },
		{ "metadata", parse_or_null(gcs_reader_meta(rp->r)) },
		{ "time", JOBJ(
			{ "first_ns", JI64(fi->t_first_ns) },
			{ "last_ns", JI64(fi->t_last_ns) },
			{ "duration_ns", JI64(fi->duration_ns) },
			{ "clock", JSTR("monotonic") },
			{ JIF(rp->real_start_ns, "realtime_start_ns"),
			  JI64(rp->real_start_ns) }) },
		{ "sizes", JOBJ(
			{ "raw", JU64(fi->raw_bytes) },
			{ "stored", JU64(fi->stored_bytes) },
			{ "stored_raw_chunks", JU64(fi->raw_stored) },
			{ "stored_zstd_chunks", JU64(fi->zstd_stored) },
			{ "file", JU64(fi->file_size) },
			{ "allocated", JU64(fi->allocated) }) },
		{ "records", JOBJ(
			{ "total", JU64(fi->n_records) },
			{ "meta", JU64(nt[0]) },
			{ "stream", JU64(nt[1]) },
			{ "chunk", JU64(nt[2]) },
			{ "zchunk", JU64(nt[3]) },
			{ "clock", JU64(nt[4]) },
			{ "marker", JU64(nt[5]) },
			{ "gap", JU64(nt[6]) },
			{ "index", JU64(nt[7]) },
			{ "pad", JU64(fi->n_pad) },
			{ "unknown", JU64(fi->n_unknown) },
			{ "logical_chunks", JU64(gcs_reader_n_chunks(rp->r)) }) },
		{ "integrity", JOBJ(
			{ "verdict", JSTR(rp->verdict) },
			{ "verified", JBOOL(rp->verified) },
			{ "tail", JSTR(tail_name(fi->tail)) },
			{ "valid_end", JU64(fi->valid_end) },
			{ "durable_end", JU64(fi->durable_end) },
			{ JIF(fi->sync_error, "sync_error"),
			  JSTR(cli_errname((int)fi->sync_error)) },
			{ "end_off", JU64(fi->end_off) },
			{ "sync_interval_ms", JU64(fi->sync_interval_ms) },
			{ "damaged", JU64(fi->n_damaged) },
			{ "lost_chunks", JU64(fi->n_lost) },
			{ "conflicts", JU64(fi->n_conflicts) },
			{ "orphan_parts", JU64(fi->n_orphan_parts) },
			{ "lost_ranges", JU64(fi->n_lost_ranges) },
			{ "lost_bytes", JU64(fi->lost_bytes) },
			{ JIF(fi->lost_records_known, "lost_records"),
			  JU64(fi->n_lost_records) },
			{ "metadata_policy_ok", JBOOL(fi->meta_policy_ok) },
			{ "problems", problems }) });
	if (!root)
		return -ENOMEM;

	a = json_object_new_array();
	json_object_object_add(root, "streams", a);
	for (size_t i = 0; a && i < gcs_reader_n_streams(rp->r); i++) {
		const struct gcs_stream_info *s = gcs_reader_stream(rp->r, i);
		struct devclk dc;
		bool has_dc = device_clock(rp->r, s->id, &dc);

		json_object_array_add(a, JOBJ(
			{ "id", JU64(s->id) },
			{ "kind", JSTR(kind_name(s->kind)) },
			{ "record_size", JU64(s->record_size) },
			{ JIF(s->ts_offset != GCS_NO_TS, "ts_offset"),
			  JU64(s->ts_offset) },
			{ "ts_clock", JSTR(clock_name(s->ts_clock)) },
			{ "description", parse_or_null(s->desc_json) },
			{ "chunks", JU64(s->n_chunks) },
			{ "records", JU64(s->n_records) },
			{ "raw_bytes", JU64(s->raw_bytes) },
			{ "first_seq", JU64(s->first_seq) },
			{ "last_seq", JU64(s->last_seq) },
			{ "t_first_ns", JI64(s->t_first_ns) },
			{ "t_last_ns", JI64(s->t_last_ns) },
			{ "rate_hz", json_object_new_double(stream_rate(s)) },
			{ "gaps", JU64(s->n_gaps) },
			{ "gap_records", JU64(s->gap_records) },
			{ "discontinuities", JU64(s->n_discont) },
			{ "unexplained", JU64(s->n_unexplained) },
			{ "bad_chunks", JU64(s->n_bad_chunks) },
			{ "lost_chunks", JU64(s->n_lost_chunks) },
			{ "lost_records", JU64(s->lost_records) },
			{ "device_clock", has_dc ? JOBJ(
				{ "records", JU64(dc.n) },
				{ "first_ns", JI64(dc.dev_first_ns) },
				{ "last_ns", JI64(dc.dev_last_ns) },
				{ "drift_ppm", json_object_new_double(dc.drift_ppm) },
				{ "drift_se_ppm", json_object_new_double(dc.drift_se_ppm) },
				{ "fit_max_ns", JI64((int64_t)dc.resid_max_ns) }) :
				NULL }));
	}
	a = json_object_new_array();
	json_object_object_add(root, "gaps", a);
	for (size_t i = 0; a && i < gcs_reader_n_gaps(rp->r); i++) {
		const struct gcs_gap *g = gcs_reader_gap(rp->r, i);
		bool seq = g->first_seq != GCS_SEQ_UNKNOWN;

		json_object_array_add(a, JOBJ(
			{ "stream", JU64(g->stream) },
			{ "reason", JSTR(gap_reason(g->reason)) },
			{ JIF(seq, "first_seq"), JU64(g->first_seq) },
			{ JIF(seq, "last_seq"), JU64(g->last_seq) },
			{ "t_start_ns", JI64(g->t_start_ns) },
			{ "t_end_ns", JI64(g->t_end_ns) }));
	}
	a = json_object_new_array();
	json_object_object_add(root, "markers", a);
	for (size_t i = 0; a && i < gcs_reader_n_markers(rp->r); i++) {
		const struct gcs_marker *m = gcs_reader_marker(rp->r, i);

		json_object_array_add(a, JOBJ(
			{ "code", JSTR(marker_name(m->code, nb, sizeof(nb))) },
			{ JIF(m->stream != GCS_STREAM_NONE, "stream"),
			  JU64(m->stream) },
			{ "t_ns", JI64(m->t_ns) },
			{ "value", JI64(m->value) },
			{ JIF(end_reason(m), "reason"),
			  JSTR(cli_errname((int)m->value)) }));
	}
	a = json_object_new_array();
	json_object_object_add(root, "clock", a);
	for (size_t i = 0; a && i < gcs_reader_n_clocks(rp->r); i++) {
		const struct gcs_clock_sample *c = &gcs_reader_clock(rp->r, i)->s;

		json_object_array_add(a, JOBJ(
			{ JIF(c->stream != GCS_STREAM_NONE, "stream"),
			  JU64(c->stream) },
			{ JIF(c->flags & GCS_CLOCKREC_F_DEVICE, "device_ns"),
			  JI64(c->device_ns) },
			{ "mono_ns", JI64(c->mono_ns) },
			{ "real_ns", JI64(c->real_ns) },
			{ "boot_ns", JI64(c->boot_ns) },
			{ "uncertainty_ns", JI64(c->uncertainty_ns) }));
	}
	if (all)
		return json_object_array_add(all, root) ? -ENOMEM : 0;
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}

/* An early end is no damage, but the reader should not have to decode it. */
static void note_end(struct report *rp)
{
	for (size_t i = 0; i < gcs_reader_n_markers(rp->r); i++) {
		const struct gcs_marker *m = gcs_reader_marker(rp->r, i);

		if (end_reason(m))
			problem(rp, false, "the capture ended on %s; what was committed before is kept",
				cli_err_words((int)m->value));
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap info [--json] [--quick] [--index] FILE...\n"
		"Show session files' metadata, streams, gaps, markers, sizes and integrity.\n"
		"  -j, --json    machine-readable output (an array when several files)\n"
		"  -q, --quick   do not read chunk data (headers are still checked)\n"
		"  -i, --index   use the file's index when it is closed (faster)\n"
		"  -h, --help    this help\n"
		"Exit status: 0 all intact or being written, 2 problems found in one,\n"
		"1 one could not be read at all (or wrong options).\n");
}

const struct option cmd_info_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "quick", no_argument, NULL, 'q' },
	{ "index", no_argument, NULL, 'i' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* One file: 0 intact, 2 problems, 1 unreadable (the exit statuses). */
static int info_one(const char *path, unsigned int flags, bool json,
		    struct json_object *all)
{
	struct report rp = { 0 };
	int ret;

	rp.path = path;
	rp.live = writer_alive(rp.path);
	ret = gcs_reader_open(&rp.r, rp.path, flags);
	if (ret) {
		fprintf(stderr, "gaitcap info: %s: %s\n", rp.path,
			gcs_strerror(ret));
		return 1;
	}
	rp.fi = gcs_reader_info(rp.r);
	rp.verified = flags & GCS_OPEN_VERIFY;
	find_real_start(&rp);
	assess(&rp);
	note_end(&rp);
	if (json)
		ret = print_json(&rp, all);
	else
		print_human(&rp);
	for (int i = 0; i < rp.n_problems; i++)
		free(rp.problems[i]);
	gcs_reader_close(rp.r);
	if (ret) {
		fprintf(stderr, "gaitcap info: %s\n", gcs_strerror(ret));
		return 1;
	}
	return rp.n_errors ? 2 : 0;
}

int cmd_info(int argc, char **argv)
{
	struct json_object *all = NULL;
	unsigned int flags = GCS_OPEN_VERIFY;
	bool json = false, unreadable = false, problems = false;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jqih", cmd_info_options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'q':
			flags &= ~GCS_OPEN_VERIFY;
			break;
		case 'i':
			flags |= GCS_OPEN_USE_INDEX;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("info", argv, c);
		}
	}
	if (optind == argc)
		return cli_usage_error("info", "no session file given: expected one or more FILEs, e.g. gaitcap info *.gcs");
	for (int i = optind; i < argc; i++)
		if (cli_in_path("info", argv[i]))
			return 1;
	if (json && argc - optind > 1) {
		all = json_object_new_array();
		if (!all) {
			fprintf(stderr, "gaitcap info: %s\n", strerror(ENOMEM));
			return 1;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (i > optind && !json)
			printf("\n");
		ret = info_one(argv[i], flags, json, all);
		unreadable |= ret == 1;
		problems |= ret == 2;
	}
	if (all)
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	return unreadable ? 1 : problems ? 2 : 0;
}
