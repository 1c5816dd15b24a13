/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ground truth of a gaitmat-sim run as JSON (json-c): the model's
 * parameters, the walkway, the controller's boots, every footfall with its
 * instants in controller time and scan numbers, and the fault log.
 * docs/simulator.md documents every field.
 */
#ifndef SIM_TRUTH_H
#define SIM_TRUTH_H

#include "gait_model.h"
#include "mat_ctrl.h"

struct json_object;

/* Why the run ended, recorded in the truth. */
#define SIM_END_DONE		"walk-complete"
#define SIM_END_SIGNAL		"signal"
#define SIM_END_OUTPUT_CLOSED	"output-closed"

/* Build the truth document; NULL when out of memory. */
struct json_object *sim_truth_build(const struct gait_model *model,
				    const struct mat_ctrl *ctrl,
				    const char *end_reason);

/* Build it and write it to @path (pretty-printed). 0 or -errno. */
int sim_truth_write(const char *path, const struct gait_model *model,
		    const struct mat_ctrl *ctrl, const char *end_reason);

#endif /* SIM_TRUTH_H */
