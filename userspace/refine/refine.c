// SPDX-License-Identifier: GPL-2.0
/*
 * refine_run(): two passes over a session (calibration, then events), the
 * refined session written as the second pass goes (on a second thread,
 * outq.c), then the parameters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "refine/refine_int.h"

int refine_fail(struct refine *R, int ret, const char *fmt, ...)
{
	va_list ap;

	/* The first failure is the one worth telling. */
	if (R->err && R->err_len && !R->err[0]) {
		va_start(ap, fmt);
		vsnprintf(R->err, R->err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int refine_add_event(struct refine *R, int64_t t, unsigned int side,
		     unsigned int kind, unsigned int src, uint32_t flags,
		     int device)
{
	if (R->n_ev == R->cap_ev) {
		size_t cap = R->cap_ev ? 2 * R->cap_ev : 256;
		struct refine_event *e = realloc(R->ev, cap * sizeof(*e));

		if (!e)
			return refine_fail(R, -ENOMEM, "out of memory");
		R->ev = e;
		R->cap_ev = cap;
	}
	R->ev[R->n_ev++] = (struct refine_event){
		.t_ns = t, .side = (uint8_t)side, .kind = (uint8_t)kind,
		.source = (uint8_t)src, .flags = flags, .device = device,
	};
	return 0;
}

static struct ins *ins_of(struct refine *R, uint32_t stream)
{
	for (unsigned int k = 0; k < R->n_ins; k++)
		if (R->ins[k].stream == stream)
			return &R->ins[k];
	return NULL;
}

/* REALTIME arrival stamps onto the monotonic timeline: host clock records. */
static int64_t real_to_mono(struct refine *R)
{
	for (size_t i = 0; i < gcs_reader_n_clocks(R->r); i++) {
		const struct gcs_clock_rec *c = gcs_reader_clock(R->r, i);

		if (c->s.stream == GCS_STREAM_NONE && c->s.real_ns)
			return c->s.mono_ns - c->s.real_ns;
	}
	return 0;
}

/* Per chunk only: per record, ins.loss and mat.loss spare the scan. */
static struct stream_loss *loss_of(struct refine *R, uint32_t stream)
{
	for (unsigned int k = 0; k < R->n_loss; k++)
		if (R->loss[k].out.stream == stream)
			return &R->loss[k];
	return NULL;
}

static struct stream_loss *add_loss(struct refine *R, uint32_t stream, bool mat,
				    uint8_t side)
{
	struct stream_loss *l = &R->loss[R->n_loss++];

	l->out = (struct refine_loss){ .stream = stream, .mat = mat, .side = side };
	return l;
}

static void first_problem(void *ctx, bool error, const char *msg)
{
	char *first = ctx;

	if (error && !*first)
		snprintf(first, 160, "%s", msg);
}

static int setup_streams(struct refine *R)
{
	char damage[160] = "";

	int ret = 0;

	for (size_t i = 0; !ret && i < gcs_reader_n_streams(R->r); i++) {
		const struct gcs_stream_info *si = gcs_reader_stream(R->r, i);

		if (si->kind == GCS_KIND_BLE_ATT) {
			struct ins *in = &R->ins[R->n_ins];

			if (R->n_ins == REFINE_MAX_INSOLES)
				return refine_fail(R, -E2BIG, "more than %d insole streams",
						   REFINE_MAX_INSOLES);
			ret = refine_insole_setup(R, in, si);
			if (!ret && si->ts_clock == GCS_CLOCK_REALTIME)
				in->rx_to_mono = real_to_mono(R);
			R->n_ins++;
			if (!ret)
				in->loss = add_loss(R, si->id, false, in->side);
		} else if (si->kind == GCS_KIND_IIO_SCAN) {
			ret = refine_mat_setup(R, si);
			if (!ret && R->mat.present && R->mat.stream == si->id)
				R->mat.loss = add_loss(R, si->id, true, REFINE_SIDE_UNKNOWN);
		}
	}
	/* None may be because the file lost them: say so, not just "none". */
	if (!ret && !R->n_ins && !R->mat.present &&
	    gcs_reader_problems(R->r, false, first_problem, damage))
		ret = refine_fail(R, -ENODATA, "no insole or mat stream to refine: the file is "
				  "damaged (%s; gaitcap info lists all)", damage);
	else if (!ret && !R->n_ins && !R->mat.present)
		ret = refine_fail(R, -ENODATA, "no insole or mat stream to refine");
	return ret;
}

typedef int (*rec_fn)(struct refine *R, const struct gcs_record *rec);

static int pass_a_rec(struct refine *R, const struct gcs_record *rec)
{
	struct ins *in = ins_of(R, rec->stream);

	if (in) {
		in->loss->out.records_read++;
		return refine_insole_pass_a(R, in, rec);
	}
	if (R->mat.present && rec->stream == R->mat.stream) {
		R->mat.loss->out.records_read++;
		refine_mat_pass_a(R, rec);
	}
	return 0;
}

static int pass_b_rec(struct refine *R, const struct gcs_record *rec)
{
	struct ins *in = ins_of(R, rec->stream);

	if (in)
		return refine_insole_pass_b(R, in, rec);
	if (R->mat.present && rec->stream == R->mat.stream)
		return refine_mat_pass_b(R, rec);
	return 0;
}

/*
 * Every record of @stream in order; a lost chunk is stepped over. One
 * stream at a time: refined.gcs is written in this order, stream by stream.
 * GCS_STREAM_NONE: every stream in one pass over the file (each stream's
 * records still in its order), the calibration's, which counts the lost
 * chunks of the refined streams.
 */
static int walk_stream(struct refine *R, uint32_t stream, rec_fn fn)
{
	struct gcs_rec_iter it;
	struct gcs_record rec;
	int ret;

	gcs_rec_iter_init(&it, R->r, stream);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
		if (ret == -EBADMSG) {
			struct stream_loss *l = loss_of(R, rec.stream);
			const struct gcs_chunk_info *ci;

			if (stream != GCS_STREAM_NONE || !l)
				continue;
			ci = gcs_reader_chunk(R->r, rec.chunk);
			l->out.check_chunks++;
			l->out.check_records += ci ? ci->n_records : 0;
			/* The reader counts a lost chunk in its stream's losses too. */
			if (ci && ci->status == GCS_CHUNK_LOST) {
				l->lost_chunks++;
				l->lost_records += ci->n_records;
			}
			continue;
		}
		if (ret < 0)
			return refine_fail(R, ret, "reading the session: %s", gcs_strerror(ret));
		ret = fn(R, &rec);
		if (ret)
			return ret;
	}
	return 0;
}

bool refine_cut_short(const struct gcs_file_info *fi)
{
	return fi->tail == GCS_TAIL_SHORT || fi->tail == GCS_TAIL_TORN ||
	       fi->valid_end < fi->durable_end ||
	       (fi->state != GCS_STATE_OPEN && fi->file_size != fi->end_off);
}

/*
 * After the calibration pass, which read every stream: what was lost
 * behind damaged record headers (the reader's per-stream counts, less the
 * lost chunks the pass met: those were counted as it met them). A session
 * with no sample left to refine is an error, not empty results.
 */
static int count_losses(struct refine *R)
{
	const struct gcs_file_info *fi = gcs_reader_info(R->r);
	uint64_t read = 0, lost = 0;

	for (unsigned int k = 0; k < R->n_loss; k++) {
		struct stream_loss *sl = &R->loss[k];
		struct refine_loss *l = &sl->out;
		const struct gcs_stream_info *si = gcs_reader_stream_by_id(R->r, l->stream);

		if (si && si->n_lost_chunks >= sl->lost_chunks)
			l->header_chunks = si->n_lost_chunks - sl->lost_chunks;
		if (si && si->lost_records >= sl->lost_records)
			l->header_records = si->lost_records - sl->lost_records;
		R->bad_chunks += l->check_chunks + l->header_chunks;
		lost += l->check_records + l->header_records;
		read += l->records_read;
	}
	if (read)
		return 0;
	if (lost || R->bad_chunks)
		return refine_fail(R, -ENODATA, "%s: no samples left: %" PRIu64 " records in %"
				   PRIu64 " chunks lost to damage, none readable",
				   R->o->session, lost, R->bad_chunks);
	if (refine_cut_short(fi))
		return refine_fail(R, -ENODATA, "%s: no samples: the file is cut short after "
				   "offset %" PRIu64 ", before any insole or mat record",
				   R->o->session, fi->valid_end);
	return refine_fail(R, -ENODATA, "%s: no samples: its insole and mat streams hold "
			   "no records", R->o->session);
}

/* The devices never look at each other's records while walking. */
static int walk(struct refine *R, rec_fn fn)
{
	int ret = 0;

	for (unsigned int k = 0; !ret && k < R->n_ins; k++)
		ret = walk_stream(R, R->ins[k].stream, fn);
	if (!ret && R->mat.present)
		ret = walk_stream(R, R->mat.stream, fn);
	return ret;
}

const char *const refine_out_files[REFINE_OUT_N] = {
	"refined.gcs", "events.tsv", "strides.tsv", "parameters.json",
};

/*
 * What can be known before the session is read: outdir is a folder we may
 * write in (or can be made), and holds none of the files. A run refused
 * here leaves nothing behind.
 */
static int check_outdir(struct refine *R)
{
	const char *dir = R->o->outdir;
	char path[4096], *slash;
	struct stat st;

	if (stat(dir, &st)) {
		if (errno != ENOENT)
			return refine_fail(R, -errno, "%s: %s", dir, strerror(errno));
		/* To be made: its parent must take it. */
		snprintf(path, sizeof(path), "%s", dir);
		while ((slash = strrchr(path, '/')) && slash > path && !slash[1])
			*slash = '\0';
		slash = strrchr(path, '/');
		if (!slash)
			snprintf(path, sizeof(path), ".");
		else
			slash[slash == path] = '\0';
		if (access(path, W_OK | X_OK))
			return refine_fail(R, -errno, "%s: cannot make it: %s: %s", dir,
					   path, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return refine_fail(R, -ENOTDIR, "%s: not a folder", dir);
	if (access(dir, W_OK | X_OK))
		return refine_fail(R, -errno, "%s: %s", dir, strerror(errno));
	for (unsigned int i = 0; i < REFINE_OUT_N; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, refine_out_files[i]);
		if (!lstat(path, &st))
			return refine_fail(R, -EEXIST, "%s: exists already (refine never overwrites)",
					   path);
		if (errno != ENOENT)
			return refine_fail(R, -errno, "%s: %s", path, strerror(errno));
	}
	return 0;
}

/* A failed run takes back what it created, and only that. */
static void remove_outputs(struct refine *R)
{
	char path[4096];

	for (unsigned int i = 0; i < REFINE_OUT_N; i++) {
		if (!(R->created & (1u << i)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", R->o->outdir, refine_out_files[i]);
		unlink(path);
	}
	if (R->made_outdir)
		rmdir(R->o->outdir);
}

static int open_output(struct refine *R)
{
	struct gcs_writer_opts wo;
	const char *meta = gcs_reader_meta(R->r);
	char path[4096];
	int ret;

	if (!mkdir(R->o->outdir, 0750))
		R->made_outdir = true;
	else if (errno != EEXIST)
		return refine_fail(R, -errno, "%s: %s", R->o->outdir, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", R->o->outdir, refine_out_files[REFINE_OUT_GCS]);
	gcs_writer_opts_init(&wo);
	wo.grow_step = 4 << 20;
	/*
	 * A compaction holds its batch raw, compressed and checked at once:
	 * a smaller batch than capture's keeps refine's peak low and reached
	 * within a minute of refined data, so it does not rise with length.
	 */
	wo.compact_target = 512 << 10;
	/* Written pages leave the resident set after 1 MiB, not 8. */
	wo.unmap_step = 1 << 20;
	/*
	 * Level 1, not capture's 3: an eighth less CPU for refine, an eighth
	 * more on disk (docs/gait-parameters.md, "Refine's time").
	 */
	wo.zstd_level = 1;
	if (!meta)
		return refine_fail(R, -EINVAL, "the session has no metadata to carry over");
	ret = gcs_writer_create(&R->w, path, &wo, meta);
	if (!ret)
		R->created |= 1u << REFINE_OUT_GCS;
	if (ret)
		return refine_fail(R, ret, "%s: %s", path,
				   ret == -EEXIST ? "exists already (refine never overwrites)" :
				   gcs_strerror(ret));
	for (unsigned int k = 0; !ret && k < R->n_ins; k++) {
		struct ins *in = &R->ins[k];
		char desc[512];
		struct gcs_stream_def d = {
			.kind = GCS_KIND_GENERIC, .record_size = 96, .ts_offset = 0,
			.ts_clock = GCS_CLOCK_MONOTONIC, .desc_json = desc,
		};

		/* docs/gait-parameters.md ("The refined session") lays it out. */
		snprintf(desc, sizeof(desc),
			 "{\"device\":\"refined-insole%u\",\"derived_from\":%u,\"side\":\"%s\","
			 "\"record\":[\"t_ns:le:s64\",\"device_us:le:u64\",\"seq:le:u32\","
			 "\"flags:le:u32\",\"force_n:le:f32\",\"cells_kpa:16xle:f32\",\"pad:4\"],"
			 "\"clock_drift_ppm\":%.3f,\"clock_offset_ns\":%.0f}",
			 k, in->stream,
			 in->side == REFINE_LEFT ? "left" : in->side == REFINE_RIGHT ? "right" : "unknown",
			 in->fit.drift * 1e6, in->fit.offset_ns);
		ret = gcs_writer_add_stream(R->w, &d, &in->out_stream);
		if (ret)
			return refine_fail(R, ret, "refined.gcs: %s", gcs_strerror(ret));
	}
	return 0;
}

static int cmp_ev(const void *a, const void *b)
{
	const struct refine_event *x = a, *y = b;

	return (x->t_ns > y->t_ns) - (x->t_ns < y->t_ns);
}

static int close_output(struct refine *R)
{
	int ret = 0;

	/* Every event as a marker: code USER + 4 x source + 2 x kind + side. */
	for (size_t i = 0; !ret && i < R->n_ev; i++) {
		const struct refine_event *e = &R->ev[i];
		uint32_t stream = e->source == REFINE_SRC_INSOLE ?
				  R->ins[e->device].out_stream : GCS_STREAM_NONE;

		ret = gcs_writer_marker(R->w, GCS_MARK_USER + 4 * e->source +
					2 * e->kind + (e->side & 1), stream, e->t_ns,
					e->flags);
	}
	if (ret) {
		gcs_writer_close(R->w);
		R->w = NULL;
		return refine_fail(R, ret, "refined.gcs: %s", gcs_strerror(ret));
	}
	/*
	 * The source's end, not the time refine ran: its last time is its
	 * SESSION_END marker in a session closed as it should be.
	 */
	gcs_writer_set_end(R->w, gcs_reader_info(R->r)->t_last_ns);
	ret = gcs_writer_close(R->w);
	R->w = NULL;
	return ret ? refine_fail(R, ret, "refined.gcs: %s", gcs_strerror(ret)) : 0;
}

int refine_run(const struct refine_opts *o, struct refine_result *res,
	       char *err, size_t err_len)
{
	struct refine *R = calloc(1, sizeof(*R));
	int ret, qret;

	if (err && err_len)
		err[0] = '\0';
	if (res)
		memset(res, 0, sizeof(*res));
	if (!R)
		return -ENOMEM;
	R->o = o;
	R->err = err;
	R->err_len = err_len;
	/* GSL's default handler aborts: errors come back as values instead. */
	gsl_set_error_handler_off();
	/* No per-chunk table: memory flat with the session's length. */
	ret = gcs_reader_open(&R->r, o->session, GCS_OPEN_STREAM);
	if (ret) {
		refine_fail(R, ret, "%s: %s", o->session, gcs_strerror(ret));
		goto out;
	}
	if (o->outdir)
		ret = check_outdir(R);
	if (!ret)
		ret = setup_streams(R);
	if (!ret)
		ret = walk_stream(R, GCS_STREAM_NONE, pass_a_rec);
	if (!ret)
		ret = count_losses(R);
	for (unsigned int k = 0; !ret && k < R->n_ins; k++) {
		refine_insole_calibrate(&R->ins[k]);
		ret = refine_clock_fit(R, &R->ins[k]);
	}
	if (!ret && o->outdir) {
		ret = open_output(R);
		if (!ret)
			refine_outq_start(&R->q, R->w);
	}
	if (!ret)
		ret = walk(R, pass_b_rec);
	for (unsigned int k = 0; !ret && k < R->n_ins; k++)
		ret = refine_insole_finish(R, &R->ins[k]);
	if (!ret)
		ret = refine_mat_finish(R);
	if (!ret && R->n_ev)
		qsort(R->ev, R->n_ev, sizeof(*R->ev), cmp_ev);
	/* The writer is this thread's again; nothing is written after its error. */
	qret = refine_outq_stop(&R->q);
	if (!ret && qret)
		ret = refine_fail(R, qret, "refined.gcs: %s", gcs_strerror(qret));
	if (!ret)
		ret = refine_outputs(R, res);
	if (!ret && R->w)
		ret = close_output(R);
out:
	if (R->w)
		gcs_writer_close(R->w);
	if (ret)
		remove_outputs(R);
	for (unsigned int k = 0; k < R->n_ins; k++)
		refine_insole_free(&R->ins[k]);
	refine_mat_free(&R->mat);
	if (res && !ret) {
		res->events = R->ev;
		res->n_events = R->n_ev;
		R->ev = NULL;
	}
	free(R->ev);
	if (R->r)
		gcs_reader_close(R->r);
	free(R);
	return ret;
}

void refine_result_free(struct refine_result *res)
{
	free(res->events);
	memset(res, 0, sizeof(*res));
}
