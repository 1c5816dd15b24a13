// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap info FILE [--json] [--quick] [--index]
 *
 * Metadata, streams, counts, gaps, duration, sizes and integrity of a
 * session file. Exit status: 0 intact (or being written), 2 problems found
 * (see the integrity section), 1 the file could not be read at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
		"writer",
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

static bool writer_alive(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool live = false;

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK)
		live = true;
	close(fd);
	return live;
}

static void assess(struct report *rp)
{
	const struct gcs_file_info *fi = rp->fi;
	uint64_t bad_chunks = 0, unexplained = 0;

	for (size_t i = 0; i < gcs_reader_n_streams(rp->r); i++) {
		bad_chunks += gcs_reader_stream(rp->r, i)->n_bad_chunks;
		unexplained += gcs_reader_stream(rp->r, i)->n_unexplained;
	}
	if (fi->state == GCS_STATE_OPEN && rp->live)
		problem(rp, false, "being written by a live capture (tail not final)");
	else if (fi->state == GCS_STATE_OPEN)
		problem(rp, true, "not closed: its writer died; run 'gaitcap recover'");
	if (!rp->live && fi->tail == GCS_TAIL_TORN)
		problem(rp, true, "torn data after offset %" PRIu64, fi->valid_end);
	if (fi->tail == GCS_TAIL_SHORT)
		problem(rp, true, "the record at offset %" PRIu64
			" runs past the end (truncated file)", fi->valid_end);
	if (fi->valid_end < fi->durable_end)
		problem(rp, true, "%" PRIu64 " bytes below the durable mark are missing",
			fi->durable_end - fi->valid_end);
	if (fi->state != GCS_STATE_OPEN &&
	    (fi->valid_end != fi->end_off || fi->file_size != fi->end_off))
		problem(rp, true, "the file does not end where its header says (%"
			PRIu64 " != %" PRIu64 ")", fi->file_size, fi->end_off);
	if (fi->n_damaged)
		problem(rp, true, "%" PRIu64 " damaged records (checksum) below the durable mark",
			fi->n_damaged);
	if (fi->n_lost)
		problem(rp, true, "%" PRIu64 " chunks lost: no copy passes its checksum",
			fi->n_lost);
	if (fi->n_conflicts || fi->n_orphan_parts || bad_chunks)
		problem(rp, true, "%" PRIu64 " inconsistent records",
			fi->n_conflicts + fi->n_orphan_parts + bad_chunks);
	if (fi->slots_valid != 3)
		problem(rp, false, "one header copy is invalid (the other is used)");
	if (!fi->meta_policy_ok)
		problem(rp, true, "metadata missing or breaking the privacy policy");
	if (unexplained)
		problem(rp, false, "%" PRIu64 " sequence jumps without a gap record",
			unexplained);
	if (!rp->verified)
		problem(rp, false, "chunk data not verified (--quick)");
	rp->verdict = rp->n_errors ? "PROBLEMS" : "OK";
}

static void find_real_start(struct report *rp)
{
	for (size_t i = 0; i < gcs_reader_n_clocks(rp->r); i++) {
		const struct gcs_clock_rec *c = gcs_reader_clock(rp->r, i);

		if (c->s.stream == GCS_STREAM_NONE && c->s.real_ns) {
			rp->real_start_ns = c->s.real_ns +
					    (rp->fi->t_first_ns - c->s.mono_ns);
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
	int64_t span = s->t_last_ns - s->t_first_ns;

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
	int64_t dur = fi->t_last_ns - fi->t_first_ns;

	printf("file        %s\n", rp->path);
	printf("format      %u.%u, %s, generation %" PRIu64 ", header copies valid %d/2%s\n",
	       fi->ver_major, fi->ver_minor, state_name(fi->state),
	       fi->generation, __builtin_popcount(fi->slots_valid),
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
		       " (%" PRIu64 " unexplained), raw %s, time %s\n",
		       s->n_gaps, s->gap_records, s->n_discont,
		       s->n_unexplained, human_bytes(s->raw_bytes, b1, sizeof(b1)),
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
		printf("t %+.3f..%+.3f s\n", secs(g->t_start_ns - fi->t_first_ns),
		       secs(g->t_end_ns - fi->t_first_ns));
	}
	if (gcs_reader_n_markers(rp->r))
		printf("markers\n");
	for (size_t i = 0; i < gcs_reader_n_markers(rp->r); i++) {
		const struct gcs_marker *m = gcs_reader_marker(rp->r, i);
		char nb[32];

		printf("  t %+.3f s  %s", secs(m->t_ns - fi->t_first_ns),
		       marker_name(m->code, nb, sizeof(nb)));
		if (m->stream != GCS_STREAM_NONE)
			printf(" stream %u", m->stream);
		if (m->value)
			printf(" value %" PRId64, m->value);
		printf("\n");
	}
	printf("clock       %zu records\n", gcs_reader_n_clocks(rp->r));
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void add_i64(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static struct json_object *parse_or_null(const char *s)
{
	return s ? json_tokener_parse(s) : NULL;
}

static int print_json(struct report *rp)
{
	const struct gcs_file_info *fi = rp->fi;
	struct json_object *root = json_object_new_object();
	struct json_object *o, *a;
	char nb[32];

	if (!root)
		return -ENOMEM;
	add_str(root, "file", rp->path);
	o = json_object_new_object();
	json_object_object_add(root, "format", o);
	add_u64(o, "major", fi->ver_major);
	add_u64(o, "minor", fi->ver_minor);
	add_str(o, "state", state_name(fi->state));
	add_u64(o, "generation", fi->generation);
	add_u64(o, "header_copies_valid", (uint64_t)__builtin_popcount(fi->slots_valid));
	json_object_object_add(o, "used_index", json_object_new_boolean(fi->used_index));
	json_object_object_add(o, "live_writer", json_object_new_boolean(rp->live));
	json_object_object_add(root, "metadata", parse_or_null(gcs_reader_meta(rp->r)));

	o = json_object_new_object();
	json_object_object_add(root, "time", o);
	add_i64(o, "first_ns", fi->t_first_ns);
	add_i64(o, "last_ns", fi->t_last_ns);
	add_i64(o, "duration_ns", fi->t_last_ns - fi->t_first_ns);
	add_str(o, "clock", "monotonic");
	if (rp->real_start_ns)
		add_i64(o, "realtime_start_ns", rp->real_start_ns);

	o = json_object_new_object();
	json_object_object_add(root, "sizes", o);
	add_u64(o, "raw", fi->raw_bytes);
	add_u64(o, "stored", fi->stored_bytes);
	add_u64(o, "stored_raw_chunks", fi->raw_stored);
	add_u64(o, "stored_zstd_chunks", fi->zstd_stored);
	add_u64(o, "file", fi->file_size);
	add_u64(o, "allocated", fi->allocated);

	o = json_object_new_object();
	json_object_object_add(root, "records", o);
	add_u64(o, "total", fi->n_records);
	add_u64(o, "meta", fi->n_by_type[0]);
	add_u64(o, "stream", fi->n_by_type[1]);
	add_u64(o, "chunk", fi->n_by_type[2]);
	add_u64(o, "zchunk", fi->n_by_type[3]);
	add_u64(o, "clock", fi->n_by_type[4]);
	add_u64(o, "marker", fi->n_by_type[5]);
	add_u64(o, "gap", fi->n_by_type[6]);
	add_u64(o, "index", fi->n_by_type[7]);
	add_u64(o, "pad", fi->n_pad);
	add_u64(o, "unknown", fi->n_unknown);
	add_u64(o, "logical_chunks", gcs_reader_n_chunks(rp->r));

	o = json_object_new_object();
	json_object_object_add(root, "integrity", o);
	add_str(o, "verdict", rp->verdict);
	json_object_object_add(o, "verified", json_object_new_boolean(rp->verified));
	add_str(o, "tail", tail_name(fi->tail));
	add_u64(o, "valid_end", fi->valid_end);
	add_u64(o, "durable_end", fi->durable_end);
	add_u64(o, "end_off", fi->end_off);
	add_u64(o, "sync_interval_ms", fi->sync_interval_ms);
	add_u64(o, "damaged", fi->n_damaged);
	add_u64(o, "lost_chunks", fi->n_lost);
	add_u64(o, "conflicts", fi->n_conflicts);
	add_u64(o, "orphan_parts", fi->n_orphan_parts);
	json_object_object_add(o, "metadata_policy_ok",
			       json_object_new_boolean(fi->meta_policy_ok));
	a = json_object_new_array();
	json_object_object_add(o, "problems", a);
	for (int i = 0; i < rp->n_problems; i++)
		json_object_array_add(a, json_object_new_string(rp->problems[i]));

	a = json_object_new_array();
	json_object_object_add(root, "streams", a);
	for (size_t i = 0; i < gcs_reader_n_streams(rp->r); i++) {
		const struct gcs_stream_info *s = gcs_reader_stream(rp->r, i);

		o = json_object_new_object();
		json_object_array_add(a, o);
		add_u64(o, "id", s->id);
		add_str(o, "kind", kind_name(s->kind));
		add_u64(o, "record_size", s->record_size);
		if (s->ts_offset != GCS_NO_TS)
			add_u64(o, "ts_offset", s->ts_offset);
		add_str(o, "ts_clock", clock_name(s->ts_clock));
		json_object_object_add(o, "description", parse_or_null(s->desc_json));
		add_u64(o, "chunks", s->n_chunks);
		add_u64(o, "records", s->n_records);
		add_u64(o, "raw_bytes", s->raw_bytes);
		add_u64(o, "first_seq", s->first_seq);
		add_u64(o, "last_seq", s->last_seq);
		add_i64(o, "t_first_ns", s->t_first_ns);
		add_i64(o, "t_last_ns", s->t_last_ns);
		json_object_object_add(o, "rate_hz", json_object_new_double(stream_rate(s)));
		add_u64(o, "gaps", s->n_gaps);
		add_u64(o, "gap_records", s->gap_records);
		add_u64(o, "discontinuities", s->n_discont);
		add_u64(o, "unexplained", s->n_unexplained);
		add_u64(o, "bad_chunks", s->n_bad_chunks);
	}
	a = json_object_new_array();
	json_object_object_add(root, "gaps", a);
	for (size_t i = 0; i < gcs_reader_n_gaps(rp->r); i++) {
		const struct gcs_gap *g = gcs_reader_gap(rp->r, i);

		o = json_object_new_object();
		json_object_array_add(a, o);
		add_u64(o, "stream", g->stream);
		add_str(o, "reason", gap_reason(g->reason));
		if (g->first_seq != GCS_SEQ_UNKNOWN) {
			add_u64(o, "first_seq", g->first_seq);
			add_u64(o, "last_seq", g->last_seq);
		}
		add_i64(o, "t_start_ns", g->t_start_ns);
		add_i64(o, "t_end_ns", g->t_end_ns);
	}
	a = json_object_new_array();
	json_object_object_add(root, "markers", a);
	for (size_t i = 0; i < gcs_reader_n_markers(rp->r); i++) {
		const struct gcs_marker *m = gcs_reader_marker(rp->r, i);

		o = json_object_new_object();
		json_object_array_add(a, o);
		add_str(o, "code", marker_name(m->code, nb, sizeof(nb)));
		if (m->stream != GCS_STREAM_NONE)
			add_u64(o, "stream", m->stream);
		add_i64(o, "t_ns", m->t_ns);
		add_i64(o, "value", m->value);
	}
	a = json_object_new_array();
	json_object_object_add(root, "clock", a);
	for (size_t i = 0; i < gcs_reader_n_clocks(rp->r); i++) {
		const struct gcs_clock_rec *c = gcs_reader_clock(rp->r, i);

		o = json_object_new_object();
		json_object_array_add(a, o);
		if (c->s.stream != GCS_STREAM_NONE)
			add_u64(o, "stream", c->s.stream);
		if (c->s.flags & GCS_CLOCKREC_F_DEVICE)
			add_i64(o, "device_ns", c->s.device_ns);
		add_i64(o, "mono_ns", c->s.mono_ns);
		add_i64(o, "real_ns", c->s.real_ns);
		add_i64(o, "boot_ns", c->s.boot_ns);
		add_i64(o, "uncertainty_ns", c->s.uncertainty_ns);
	}
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap info [--json] [--quick] [--index] FILE\n"
		"Show a session file's metadata, streams, gaps, markers, sizes and integrity.\n"
		"  --json    machine-readable output\n"
		"  --quick   do not read chunk data (headers are still checked)\n"
		"  --index   use the file's index when it is closed (faster)\n"
		"Exit status: 0 intact or being written, 2 problems found, 1 unreadable.\n");
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "index", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct report rp = { 0 };
	unsigned int flags = GCS_OPEN_VERIFY;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jqih", opts, NULL)) != -1) {
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
			usage(stderr);
			return 1;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 1;
	}
	rp.path = argv[optind];
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
	if (json)
		ret = print_json(&rp);
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
