/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The simulator's only source of randomness: xoshiro256** seeded through
 * splitmix64 (Blackman & Vigna, 2018). Every random choice of a run comes
 * from one user seed, split into independent streams so that, e.g., adding
 * a fault does not change the walk. No time of day, no /dev/urandom.
 */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdint.h>

struct sim_rng {
	uint64_t s[4];
};

/* Stream numbers: one per consumer, so consumers never disturb each other. */
enum sim_rng_stream {
	SIM_RNG_GAIT = 1,	/* stride-to-stride variability */
	SIM_RNG_CTRL,		/* boot ids, calibration gains */
	SIM_RNG_FAULT_PLACE,	/* where faults land */
	SIM_RNG_FAULT_BYTES,	/* what faults write */
};

void sim_rng_seed(struct sim_rng *rng, uint64_t seed, unsigned int stream);
uint64_t sim_rng_next(struct sim_rng *rng);
/* Uniform in [0, n); n > 0. */
uint64_t sim_rng_below(struct sim_rng *rng, uint64_t n);
/* Uniform in [0, 1). */
double sim_rng_unit(struct sim_rng *rng);
/* Standard normal, truncated to [-3, 3] so a jitter never flips a sign. */
double sim_rng_normal(struct sim_rng *rng);

#endif /* SIM_RNG_H */
