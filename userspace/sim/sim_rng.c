// SPDX-License-Identifier: GPL-2.0
/*
 * xoshiro256** and splitmix64, written from the published algorithm
 * descriptions (https://prng.di.unimi.it/).
 */
#include <math.h>

#include "sim_rng.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void sim_rng_seed(struct sim_rng *rng, uint64_t seed, unsigned int stream)
{
	/* Mix the stream number in first: stream seeds are far apart. */
	uint64_t x = seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(stream + 1));
	int i;

	for (i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

uint64_t sim_rng_next(struct sim_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t sim_rng_below(struct sim_rng *rng, uint64_t n)
{
	/* Rejection keeps the result unbiased for any n. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;

	do {
		x = sim_rng_next(rng);
	} while (x >= limit);
	return x % n;
}

double sim_rng_unit(struct sim_rng *rng)
{
	return (double)(sim_rng_next(rng) >> 11) * 0x1.0p-53;
}

double sim_rng_normal(struct sim_rng *rng)
{
	double u, v, z;

	/* Box-Muller; one value per call keeps the stream easy to reason on. */
	do {
		u = sim_rng_unit(rng);
	} while (u <= 0.0);
	v = sim_rng_unit(rng);
	z = sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
	if (z > 3.0)
		z = 3.0;
	if (z < -3.0)
		z = -3.0;
	return z;
}
