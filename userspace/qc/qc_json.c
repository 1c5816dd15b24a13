// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap qc --json: the checks as JSON, built with json-c (docs/qc.md,
 * "JSON"). No paths or names: the file may travel with the data.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "gaitcap/gaitcap.h"
#include "qc/qc.h"

static int jadd(struct json_object *o, const char *k, struct json_object *v)
{
	if (json_object_object_add(o, k, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* A number, or null when it was not computed. */
static struct json_object *num(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

int qc_write_json(const struct qc_result *res, const char *path)
{
	struct json_object *o = json_object_new_object();
	struct json_object *checks = json_object_new_array();
	struct json_object *notes = json_object_new_array();
	int ret = -ENOMEM;

	if (!o || !checks || !notes)
		goto out;
	if (jadd(o, "tool", json_object_new_string("gaitcap qc")) ||
	    jadd(o, "version", json_object_new_string(GAITCAP_VERSION)) ||
	    jadd(o, "input", json_object_new_string(res->input)) ||
	    jadd(o, "overall", json_object_new_string(qc_status_name(res->overall))))
		goto out;
	for (size_t i = 0; i < res->n_checks; i++) {
		const struct qc_check *c = &res->check[i];
		struct json_object *e = json_object_new_object();

		if (!e || json_object_array_add(checks, e)) {
			json_object_put(e);
			goto out;
		}
		if (jadd(e, "id", json_object_new_string(c->id)) ||
		    jadd(e, "scope", json_object_new_string(c->scope)) ||
		    jadd(e, "status", json_object_new_string(qc_status_name(c->status))) ||
		    jadd(e, "value", num(c->value)) ||
		    jadd(e, "unit", json_object_new_string(c->unit)) ||
		    jadd(e, "warn", num(c->warn)) ||
		    jadd(e, "fail", num(c->fail)) ||
		    jadd(e, "bad_when", json_object_new_string(c->below_is_bad ? "below" : "above")) ||
		    jadd(e, "why", json_object_new_string(c->why)))
			goto out;
	}
	for (size_t i = 0; i < res->n_notes; i++)
		if (json_object_array_add(notes, json_object_new_string(res->notes[i])))
			goto out;
	if (jadd(o, "checks", json_object_get(checks)) ||
	    jadd(o, "notes", json_object_get(notes)) ||
	    (res->params && jadd(o, "parameters", json_object_get(res->params))))
		goto out;
	{
		const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
		char *line = NULL;

		/* A text file ends with a newline (and a terminal's prompt after it). */
		ret = txt && asprintf(&line, "%s\n", txt) > 0 ?
		      qc_write_file(path, line, strlen(line)) : -ENOMEM;
		free(line);
	}
out:
	json_object_put(checks);
	json_object_put(notes);
	json_object_put(o);
	return ret;
}
