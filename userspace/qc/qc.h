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

struct qc_series {
	struct qc_pt *p;
	size_t n, cap;
};

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
	struct qc_series load;	/* t (s), load */
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

int qc_write_json(const struct qc_result *res, const char *path);
int qc_write_report(const struct qc_result *res, const char *path);

/* Append a check (tests build results by hand through it too). */
struct qc_check *qc_add(struct qc_result *res, const char *id,
			const char *scope, double value, const char *unit,
			double warn, double fail, bool below_is_bad);

#endif /* QC_QC_H */
