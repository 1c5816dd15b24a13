/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Signal-quality checks of a session, and of a refine output folder
 * (docs/qc.md defines every check, its threshold and why). Reads session
 * files through libgcsession only.
 */
#ifndef QC_QC_H
#define QC_QC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum qc_status {
	QC_NA = 0,	/* not computed: the input does not allow it (why says) */
	QC_PASS,
	QC_WARN,
	QC_FAIL,
	QC_NOTE,	/* a clinical observation: never a quality verdict */
};

const char *qc_status_name(int status);

struct qc_check {
	char id[24];		/* "packet_loss", ... (docs/qc.md) */
	char scope[32];		/* stream device name, side, or "session" */
	double value;		/* NAN when not computed */
	char unit[12];
	double warn, fail;	/* thresholds, in unit */
	bool below_is_bad;	/* fails when value < fail (else when >) */
	int status;		/* enum qc_status */
	char why[160];		/* what was measured, or why not */
};

#define QC_MAX_CHECKS	96
#define QC_MAX_STREAMS	16

struct qc_pt {
	float x, y;
};

/*
 * What the report draws is bounded, whatever the session's length
 * (docs/qc.md, "Memory and speed"). A path (centre of pressure) keeps every
 * stride-th point, the stride doubling whenever QC_PATH_MAX are kept.
 */
#define QC_PATH_MAX	4096

struct qc_series {
	struct qc_pt *p;
	size_t n, cap;
	uint64_t seen, stride;
};

int qc_path_push(struct qc_series *s, double x, double y);

/*
 * Load against time as an envelope: bins of equal time, each with its
 * first, lowest, highest and last value (all a line through its samples
 * can touch at one pixel column); two neighbours merge, doubling the
 * width, whenever more than QC_ENV_BINS would be needed.
 */
#define QC_ENV_BINS	4096

struct qc_env_bin {
	float first, lo, hi, last;
	uint32_t n;		/* samples; 0: empty */
	bool lo_first;		/* the lowest came before the highest */
};

struct qc_envelope {
	struct qc_env_bin *bin;	/* QC_ENV_BINS, on the first sample */
	size_t nbins;		/* in use */
	double t_start, width;	/* bin i: [t_start + i * width, + width) */
	double t_min, t_max, y_min, y_max;
	uint64_t n;		/* samples */
};

int qc_env_add(struct qc_envelope *e, double t, double y);
/* Fold @b (later samples) into @a. */
void qc_env_bin_merge(struct qc_env_bin *a, const struct qc_env_bin *b);

/*
 * Steps for the per-step plot, detected as the samples stream by: a
 * stance is where the load stays above 10 % of its range so far for at
 * least QC_STEP_MIN_S. Every step is resampled to QC_STEP_PTS points of
 * its stance; all of them make the mean, SD and range, and up to QC_STEP_KEEP,
 * evenly spread over the session, are drawn as they are.
 */
#define QC_STEP_PTS	101
#define QC_STEP_KEEP	32
#define QC_STEP_BUF	1024
#define QC_STEP_MIN_S	0.15

struct qc_steps {
	uint64_t n;			/* steps drawn in the mean */
	double sum[QC_STEP_PTS], sum2[QC_STEP_PTS];
	float min[QC_STEP_PTS], max[QC_STEP_PTS];
	float keep[QC_STEP_KEEP][QC_STEP_PTS];
	size_t n_keep;
	uint64_t keep_stride;
	double y_max;
	/* detection: the stance in progress, every buf_stride-th sample */
	float *buf_t, *buf_y;
	size_t n_buf;
	uint64_t buf_stride, buf_seen, samples;
	double t_start, last_t, last_y;	/* buf_t is from t_start */
	double lo, hi, range_at_start;
	bool in;
};

int qc_steps_add(struct qc_steps *st, double t, double y);
void qc_steps_free(struct qc_steps *st);

/* An event for the report: time on the session timeline (s), kind. */
struct qc_event {
	double t;
	int side;		/* 0 left, 1 right, -1 none */
	char kind[8];		/* "IC", "TO", or "M1".. for a marker value */
	char source[8];		/* "refine", "marker", "threshold" */
};

/* What the report draws, per insole side. */
struct qc_side {
	bool on;
	char device[32];
	char load_unit[16];	/* "N" (vendor total force) or "kPa" (summed cells) */
	struct qc_envelope load;	/* t (s), load */
	struct qc_steps steps;
	struct qc_series cop;	/* x, y: mm of the cell layout, or fractions */
	bool cop_frac;		/* vendor COP: fractions of width and length */
	double cell_peak[32];
	struct qc_pt cell_pos[32];	/* mm, or a schematic layout */
	bool cell_pos_known;
	unsigned int n_cells;
};

struct qc_mat {
	bool on;
	unsigned int w, h;	/* sensels along the walkway, across */
	float *peak;		/* w x h, kPa or codes */
	struct qc_series cop;	/* sensel units */
	double pitch_mm;
};

struct qc_result {
	struct qc_check check[QC_MAX_CHECKS];
	size_t n_checks;
	int overall;		/* worst of PASS/WARN/FAIL; PASS if none */
	char input[16];		/* "session" or "refine" */
	double t0;		/* timeline origin (s) for plots */
	struct qc_side side[2];
	struct qc_mat mat;
	struct qc_event *events;
	size_t n_events, cap_events;
	/* refine's parameters.json, as parsed (json_object *), or NULL */
	void *params;
	char notes[4][160];	/* files missing from OUTDIR, and the like */
	size_t n_notes;
};

/*
 * Check @path: a session file, or a refine output folder (its refined.gcs
 * and its parameters.json, events.tsv, strides.tsv when present). Returns
 * 0 with @res filled, or -errno / a libgcsession error with @err set.
 */
int qc_run(const char *path, struct qc_result *res, char *err, size_t errlen);
void qc_result_free(struct qc_result *res);

/*
 * Write the JSON or the report to @path: through a temporary file in its
 * folder renamed into place, so a failure leaves @path as it was. 0 or
 * -errno (the cause: ENOSPC, EACCES, ...).
 */
int qc_write_json(const struct qc_result *res, const char *path);
int qc_write_report(const struct qc_result *res, const char *path);
int qc_write_file(const char *path, const char *buf, size_t len);

/*
 * Refuse outputs that would destroy data: the input itself, a session
 * file, refine's files in an input OUTDIR, or both outputs on one file.
 * 0, or a negative errno with @err set; nothing is written either way.
 */
int qc_check_outputs(const char *input, const char *json, const char *html,
		     char *err, size_t errlen);

/* Append a check (tests build results by hand through it too). */
struct qc_check *qc_add(struct qc_result *res, const char *id,
			const char *scope, double value, const char *unit,
			double warn, double fail, bool below_is_bad);

#endif /* QC_QC_H */
