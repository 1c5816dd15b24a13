/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Quantiles of a stream of doubles in bounded memory: a log-linear
 * histogram with a relative resolution of 1/QH_SUB (docs/qc.md, "Memory
 * and speed"). Blocks of QH_SUB bins are allocated per binary exponent
 * the data reach, so memory depends on the values' range, never on their
 * number.
 */
#ifndef QC_QHIST_H
#define QC_QHIST_H

#include <stdint.h>

#define QH_SUB_BITS	10
#define QH_SUB		(1u << QH_SUB_BITS)
#define QH_EXP_MIN	(-24)	/* |x| < 2^-25 counts as zero */
#define QH_EXP_MAX	40	/* |x| >= 2^40 counts in the top bin */
#define QH_EXPS		(QH_EXP_MAX - QH_EXP_MIN + 1)

struct qhist {
	uint32_t *blk[2][QH_EXPS];	/* [negative, positive][exponent] */
	uint64_t zero, n;
	double min, max;		/* exact, for clamping */
};

int qh_add(struct qhist *h, double x);
void qh_free(struct qhist *h);

/*
 * The @q quantile (0..1) as gsl_stats_quantile_from_sorted_data() defines
 * it, each value taken at its bin's centre; NAN if empty or out of memory.
 */
double qh_quantile(const struct qhist *h, double q);

/* The @q quantile of |x - @c| over the values added. */
double qh_dev_quantile(const struct qhist *h, double c, double q);

/* How many values are above @thr (those in @thr's own bin by its centre). */
uint64_t qh_count_above(const struct qhist *h, double thr);

#endif /* QC_QHIST_H */
