/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Replay of a Moticon OpenGo text export (one side of it) as an insole
 * sample source for gaitinsole-sim: row k of the file is sample k of the
 * stream, pressures in N/cm^2 and IMU values converted to the codes of the
 * insole model's description; a row with an empty field is a lost sample.
 */
#ifndef INSOLE_REPLAY_H
#define INSOLE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "insole_model.h"

struct insole_replay;

/*
 * Read @path for @side, scaled as @m describes. Returns 0, or -errno with
 * a reason in @err (no such file, no columns for that side, bad numbers).
 */
int insole_replay_load(struct insole_replay **out, const char *path,
		       enum gait_side side, const struct insole_model *m,
		       bool loop, char *err, size_t err_len);
void insole_replay_destroy(struct insole_replay *r);

size_t insole_replay_rows(const struct insole_replay *r);
/* Sample rate of the recording (from its time column), Hz. */
unsigned int insole_replay_rate(const struct insole_replay *r);
/* Time of row @k in the recording, us from its first row. */
int64_t insole_replay_time_us(const struct insole_replay *r, size_t k);

/* struct insole_source's callback; @ctx is the replay. */
int insole_replay_sample(void *ctx, uint64_t k, uint64_t clock_us,
			 struct insole_reading *out);

#endif /* INSOLE_REPLAY_H */
