/* SPDX-License-Identifier: GPL-2.0 */
/*
 * librefine: a session file in, trustworthy gait numbers out. It reads
 * session files only (libgcsession) and never touches a device.
 * docs/gait-parameters.md defines every parameter, event and threshold.
 *
 * refine_run() streams through the session twice (calibration, then
 * events): memory holds per-device state, one chunk at a time and the
 * event lists, never the samples of the whole session.
 */
#ifndef REFINE_H
#define REFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REFINE_MAX_INSOLES	8

enum refine_side { REFINE_LEFT = 0, REFINE_RIGHT = 1, REFINE_SIDE_UNKNOWN = 2 };
enum refine_kind { REFINE_IC = 0, REFINE_TO = 1 };
enum refine_source { REFINE_SRC_INSOLE = 0, REFINE_SRC_MAT = 1 };

/* Quality flags of an event or a stride (strides.tsv, events.tsv). */
#define REFINE_Q_GAP		0x001	/* a sequence gap in the interval */
#define REFINE_Q_SATURATED	0x002	/* a cell or sensel at full scale */
#define REFINE_Q_HELD		0x004	/* repeated (held) samples in it */
#define REFINE_Q_ORDER		0x008	/* IC, TO, IC or L/R alternation broken */
#define REFINE_Q_NOT_STEADY	0x010	/* start/end of a bout, turn, outlier */
#define REFINE_Q_PARTIAL	0x020	/* footprint touches the mat's edge */
#define REFINE_Q_INCOMPLETE	0x040	/* a needed event is missing */
#define REFINE_Q_SHORT_BOUT	0x080	/* used, but its bout is too short to trim */

struct refine_event {
	int64_t t_ns;			/* common timeline: host CLOCK_MONOTONIC */
	uint8_t side;			/* enum refine_side */
	uint8_t kind;			/* enum refine_kind */
	uint8_t source;			/* enum refine_source */
	uint32_t flags;			/* REFINE_Q_* */
	int32_t device;			/* insole index, or footprint index */
};

/* host_ns = dev_ns + offset_ns + drift * (dev_ns - dev_ref_ns) */
struct refine_clock_fit {
	uint32_t stream;
	bool ok;
	bool from_records;		/* offset from clock records, not arrivals */
	int64_t dev_ref_ns;
	double offset_ns;
	double drift;			/* (host - device) per device ns */
	double residual_ns;		/* RMS of the arrival envelope about the fit */
	double bound_ns;		/* half-width of the offset's feasible interval */
	/* 3 or more clock records: their robust sigma about a line, median uncertainty */
	double rec_sigma_ns, rec_unc_ns;
	unsigned int n_records, n_used, n_rejected, n_bins;
	uint64_t wrap_base;		/* first raw u32 clock: unwrapped from here */
};

struct refine_insole_stats {
	uint32_t stream;
	uint8_t side;
	uint64_t notifications, samples;
	uint64_t corrupt, foreign, duplicated, out_of_order, held, saturated;
	uint64_t gaps, missing;		/* sequence gaps and samples in them */
	unsigned int flat_cells;	/* cells that never change for 2 s or more */
	double zero_code[32];		/* per-cell zero offset, codes */
	double threshold_n;		/* event threshold above the baseline */
	double noise_n;
	double peak_n;			/* 95th percentile of total force */
};

/*
 * What a refined stream lost to damage in the file (docs/gait-parameters.md,
 * "Lost data"). Samples: the records times the stream's samples per record.
 */
struct refine_loss {
	uint32_t stream;
	bool mat;			/* the mat's stream, else an insole's */
	uint8_t side;			/* an insole's enum refine_side */
	uint64_t records_read;
	uint64_t check_chunks, check_records;	/* chunk data failed its check */
	uint64_t header_chunks, header_records;	/* behind damaged record headers */
	uint64_t lost_samples;
};

struct refine_result {
	struct refine_event *events;	/* sorted by time */
	size_t n_events;
	struct refine_clock_fit clock[REFINE_MAX_INSOLES];
	struct refine_insole_stats insole[REFINE_MAX_INSOLES];
	unsigned int n_insoles;
	unsigned int n_footprints, n_passes;
	uint64_t mat_scans, mat_corrupt, mat_gaps, mat_saturated;
	uint64_t lost_chunks;		/* of the refined streams: not read */
	struct refine_loss loss[REFINE_MAX_INSOLES + 1];
	unsigned int n_loss;
	bool cut_short;			/* truncated or torn: what followed is unknown */
	uint64_t cut_at;		/* end of the last valid record */
};

struct refine_opts {
	const char *session;
	const char *outdir;		/* NULL: compute only (tests) */
};

/*
 * Refine @o->session into @o->outdir (created if missing; its four files
 * must not exist). On error returns -errno or a GCS error and writes a
 * sentence into @err. @res (may be NULL) gets the events and clock fits;
 * free it with refine_result_free().
 */
int refine_run(const struct refine_opts *o, struct refine_result *res,
	       char *err, size_t err_len);
void refine_result_free(struct refine_result *res);

/* The gaitcap-v1 notification decoder (same signature as insole_decoder). */
struct insole_sample;
int refine_decode_gaitcap_v1(const uint8_t *val, size_t len,
			     struct insole_sample *out, size_t max);

#endif /* REFINE_H */
