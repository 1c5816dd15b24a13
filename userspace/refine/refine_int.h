/* SPDX-License-Identifier: GPL-2.0 */
/* librefine's insides: the per-device state shared by its files. */
#ifndef REFINE_INT_H
#define REFINE_INT_H

#include <pthread.h>
#include <stdio.h>

#include "ble/insole_gatt.h"
#include "refine/refine.h"
#include "session/gcsession.h"

#define NS_PER_S	1000000000ll
#define FRAW_BINS	16384		/* total force histogram, 1 N bins */
#define REORDER_MAX	16		/* samples held back to put them in order */
#define CONFIRM_S	0.03		/* a crossing must hold this long */
#define MAX_FOOTPRINTS_OPEN 16
#define KNEE_RING	64		/* samples kept to place a toe-off */

struct env_bin {
	int64_t key;			/* host second since the first arrival */
	int64_t dev_ns;			/* device time of the fastest arrival */
	int64_t lat_ns;			/* its arrival minus its device time */
};

/* A refined stream's losses, and which of them the reader counts too. */
struct stream_loss {
	struct refine_loss out;		/* copied into refine_result */
	/* Failed checks of chunks lost (no valid copy): in the reader's counts. */
	uint64_t lost_chunks, lost_records;
};

struct rsample {
	uint64_t seq;
	uint64_t dev_us;		/* unwrapped device clock */
	int64_t rx_ns;
	uint16_t flags;
	uint16_t cell[INSOLE_MAX_CELLS];
	int16_t imu[6];			/* acc, gyro: all zero without an IMU */
};

struct ins {
	uint32_t stream;
	uint8_t side;
	uint16_t handle;
	bool has_handle;
	bool have_areas;
	unsigned int n_cells;
	double k_cell[INSOLE_MAX_CELLS];	/* N per code */
	uint16_t full_code;
	double rate_hz;
	int64_t rx_to_mono;		/* add to arrival stamps (REALTIME files) */
	bool have_rx_chunk;		/* device-clock stamps: chunk of rx_dev0 */
	size_t rx_chunk;
	int64_t rx_dev0;		/* its first record's stamp */

	/* unwrapping, identical in both passes */
	bool have_raw;
	uint32_t last_raw_t, last_raw_seq;
	uint64_t dev_us, seq;

	/* pass A */
	uint32_t *cell_hist;		/* n_cells x 4096 */
	uint32_t *fraw_hist;		/* FRAW_BINS */
	double fraw_max;
	int64_t first_rx;
	struct env_bin *bins;
	size_t n_bins, cap_bins;

	/* pass B */
	struct rsample buf[REORDER_MAX + 1];
	unsigned int n_buf;
	bool emitted_any;
	uint64_t last_seq;
	uint16_t last_cell[INSOLE_MAX_CELLS];
	int16_t last_imu[6];
	unsigned int held_run;		/* repeats in a row, this one included */
	bool held_wait;			/* the run's first, unloaded: not yet counted */
	uint32_t flat_run[INSOLE_MAX_CELLS];
	bool flat_seen[INSOLE_MAX_CELLS];
	bool gap_pending;
	/* detector */
	int state;			/* -1 unknown, 0 swing, 1 stance */
	bool have_prev;
	int64_t prev_t;
	double prev_f;
	int64_t cand_t;
	unsigned int cand_n;
	uint32_t cand_flags;
	uint32_t run_flags;		/* held/saturated since the last event */
	unsigned int confirm;
	double zero_sum_n;
	/* the last samples, for the toe-off's end of unloading */
	int64_t knee_t[KNEE_RING];
	double knee_f[KNEE_RING];
	unsigned int knee_n, knee_at;
	int64_t last_ic;		/* the search stops there */
	/* refined.gcs */
	uint32_t out_stream;
	uint8_t *out_buf;
	uint32_t out_n;
	uint64_t out_seq;
	int64_t out_t0, out_t1;

	struct refine_clock_fit fit;
	struct refine_insole_stats st;
	struct stream_loss *loss;	/* its entry in refine.loss[] */
};

struct footprint {
	int64_t ic_ns, to_ns;
	int64_t t_before, t_first, t_last, t_after_first_miss;
	double heel_x, heel_y, toe_x, toe_y, cx, cy, axis;
	double bx0, by0, bx1, by1;	/* bounding box, mm */
	uint32_t flags;
	uint8_t side;
	int pass;
	/* while open */
	bool open;
	unsigned int missed;
	uint32_t n_sens, cap_sens;
	uint32_t *sens;			/* sensel indices */
	uint16_t *maxv;
};

struct mat {
	bool present;
	uint32_t stream;
	uint32_t rec_size, nsens, tiles, rows, cols;
	double pitch_mm, kpa_per_code;
	uint32_t off_seq, off_ts;
	bool has_seq;
	float *x, *y;			/* walkway mm of each sensel */
	double ext_x0, ext_y0, ext_x1, ext_y1;
	uint16_t *zero;			/* pass A: lowest code of each sensel */
	uint16_t *lim;			/* pass B: zero + thr_code, capped */
	bool zero_init;
	int32_t *owner;			/* open footprint of each sensel, or -1 */
	uint32_t *slot;
	uint16_t thr_code;
	uint16_t sat_code;
	/* pass B */
	bool have_last;
	uint64_t last_seq;
	int64_t last_t;
	bool gap_pending;
	int open[MAX_FOOTPRINTS_OPEN];
	unsigned int n_open;
	struct footprint *fp;
	size_t n_fp, cap_fp;
	uint64_t scans, corrupt, gaps, saturated, dup;
	uint64_t missing;	/* scans the counter skipped (gaitcap qc's mat loss) */
	unsigned int n_passes;
	struct stream_loss *loss;	/* its entry in refine.loss[] */
};

#define OUTQ_LEN	16		/* refined.gcs chunks queued for the writer */

struct outq_item {
	uint32_t stream;
	struct gcs_chunk_meta m;
	uint8_t *data;
	size_t cap;
};

/* refined.gcs chunks on their way to the writer's thread (outq.c). */
struct outq {
	struct gcs_writer *w;		/* the thread's alone while running */
	pthread_t th;
	bool running;
	pthread_mutex_t lock;		/* protects what follows */
	pthread_cond_t cond;		/* a slot taken or freed, or stop */
	struct outq_item it[OUTQ_LEN];
	unsigned int head, n;
	bool stop;
	int err;			/* the writer's first error */
};

struct refine {
	struct gcs_reader *r;
	const struct refine_opts *o;
	char *err;
	size_t err_len;
	struct ins ins[REFINE_MAX_INSOLES];
	unsigned int n_ins;
	struct mat mat;
	struct refine_event *ev;
	size_t n_ev, cap_ev;
	struct gcs_writer *w;
	struct outq q;
	uint64_t bad_chunks;
	struct stream_loss loss[REFINE_MAX_INSOLES + 1];
	unsigned int n_loss;
	/* What this run created in outdir: removed again if it fails. */
	unsigned int created;		/* bit i: refine_out_files[i] */
	bool made_outdir;
};

/* The files refine writes into outdir, in the order it creates them. */
enum { REFINE_OUT_GCS, REFINE_OUT_EVENTS, REFINE_OUT_STRIDES, REFINE_OUT_PARAMS,
       REFINE_OUT_N };
extern const char *const refine_out_files[REFINE_OUT_N];

int refine_fail(struct refine *R, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int refine_add_event(struct refine *R, int64_t t, unsigned int side,
		     unsigned int kind, unsigned int src, uint32_t flags,
		     int device);

/* clockfit.c */
int refine_clock_fit(struct refine *R, struct ins *in);
int64_t refine_clock_map(const struct refine_clock_fit *f, uint64_t dev_us);

/* insole.c */
int refine_insole_setup(struct refine *R, struct ins *in,
			const struct gcs_stream_info *si);
int refine_insole_pass_a(struct refine *R, struct ins *in,
			 const struct gcs_record *rec);
void refine_insole_calibrate(struct ins *in);
int refine_insole_pass_b(struct refine *R, struct ins *in,
			 const struct gcs_record *rec);
int refine_insole_finish(struct refine *R, struct ins *in);
void refine_insole_free(struct ins *in);

/* mat.c */
int refine_mat_setup(struct refine *R, const struct gcs_stream_info *si);
void refine_mat_pass_a(struct refine *R, const struct gcs_record *rec);
int refine_mat_pass_b(struct refine *R, const struct gcs_record *rec);
int refine_mat_finish(struct refine *R);
void refine_mat_free(struct mat *m);

/* outq.c */
void refine_outq_start(struct outq *q, struct gcs_writer *w);
int refine_outq_put(struct outq *q, uint32_t stream, const void *data,
		    const struct gcs_chunk_meta *m);
int refine_outq_stop(struct outq *q);

/* params.c */
int refine_outputs(struct refine *R, struct refine_result *res);
bool refine_cut_short(const struct gcs_file_info *fi);

#endif /* REFINE_INT_H */
