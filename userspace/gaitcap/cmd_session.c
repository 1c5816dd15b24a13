// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap session start|stop|status: the operator's side of gaitcap
 * service, over its control socket (docs/protocols/control-socket.md).
 * Exit status: 0 done; 1 wrong options, refused, or no service answering.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "gaitcap/gaitcap.h"
#include "service/service.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap session start --subject ID [--task TASK] [OPTIONS]\n"
		"       gaitcap session stop [OPTIONS]\n"
		"       gaitcap session status [--json] [OPTIONS]\n"
		"Start, stop or show the appliance's recording (gaitcap service).\n"
		"\n"
		"      --subject ID    pseudonymous subject code, 1..32 of [A-Za-z0-9_-]\n"
		"                      (never a name or a date); names the session file\n"
		"      --task TASK     task token, 1..64 of [A-Za-z0-9_-] (default walk)\n"
		"      --json          status as one JSON object\n"
		"      --control PATH  the service's socket (default " SVC_CONTROL_PATH ")\n"
		"  -t, --timeout MS    how long to wait for the answer (default 10000)\n"
		"  -h, --help          this help\n"
		"Exit status: 0 done; 1 wrong options, refused, or no service answering.\n");
}

enum { O_SUBJECT = 256, O_TASK, O_JSON, O_CONTROL };

const struct option cmd_session_options[] = {
	{ "subject", required_argument, NULL, O_SUBJECT },
	{ "task", required_argument, NULL, O_TASK },
	{ "json", no_argument, NULL, O_JSON },
	{ "control", required_argument, NULL, O_CONTROL },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static double num(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static void print_status(struct json_object *o)
{
	struct json_object *a, *x;
	double t = num(o, "elapsed_s");

	printf("state: %s\n", str(o, "state"));
	if (json_object_object_get_ex(o, "last_session", &x))
		printf("last session: %s\n", json_object_get_string(x));
	if (!json_object_object_get_ex(o, "file", &x))
		return;
	printf("file: %s\ntask: %s, recording for %ld:%02ld\n", str(o, "file"),
	       str(o, "task"), (long)t / 60, (long)t % 60);
	if (json_object_object_get_ex(o, "streams", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			x = json_object_array_get_idx(a, i);
			printf("  %s (stream %.0f): %s%.1f Hz, %.0f frames, %.0f gaps, %.0f lost\n",
			       str(x, "label"), num(x, "stream"),
			       json_object_get_boolean(json_object_object_get(x, "ended")) ?
			       "ended, " : "", num(x, "rate_hz"), num(x, "frames"),
			       num(x, "gaps"), num(x, "lost"));
		}
	if (json_object_object_get_ex(o, "sources", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			x = json_object_array_get_idx(a, i);
			printf("  %s: %s", str(x, "name"), str(x, "state"));
			if (json_object_object_get(x, "battery_percent"))
				printf(", battery %.0f %%", num(x, "battery_percent"));
			printf("\n");
		}
	if (json_object_object_get_ex(o, "disk", &x)) {
		double left = num(x, "seconds_left");

		printf("disk: %.1f GiB free", num(x, "free_bytes") / (1 << 30));
		if (left >= 0)
			printf(", about %ldh%02ld of recording left", (long)left / 3600,
			       (long)left / 60 % 60);
		printf("\n");
	}
	if (json_object_object_get_ex(o, "warnings", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++)
			printf("warning: %s\n",
			       json_object_get_string(json_object_array_get_idx(a, i)));
}

int cmd_session(int argc, char **argv)
{
	const char *control = SVC_CONTROL_PATH, *subject = NULL, *task = NULL, *verb;
	char req[512], reply[SVC_MSG_MAX];
	struct json_object *o;
	bool json = false;
	double timeout = 10000;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:h", cmd_session_options, NULL)) != -1) {
		switch (c) {
		case O_SUBJECT:
			subject = optarg;
			break;
		case O_TASK:
			task = optarg;
			break;
		case O_JSON:
			json = true;
			break;
		case O_CONTROL:
			control = optarg;
			break;
		case 't':
			if (cli_num("session", "--timeout", optarg, 1, 3600000,
				    "milliseconds, 1..3600000", &timeout))
				return 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("session", argv, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error("session", "no action: expected start, stop or status");
	verb = argv[optind++];
	if (optind != argc)
		return cli_usage_error("session", "unexpected argument '%s'", argv[optind]);
	if (!strcmp(verb, "start")) {
		if (!subject)
			return cli_usage_error("session", "start needs --subject ID (pseudonymous, e.g. LAB-01)");
		if (strchr(subject, ' ') || (task && strchr(task, ' ')))
			return cli_usage_error("session", "--subject and --task are single tokens of [A-Za-z0-9_-]");
		snprintf(req, sizeof(req), "START subject=%.40s task=%.70s", subject,
			 task ? task : "walk");
	} else if (!strcmp(verb, "stop") || !strcmp(verb, "status")) {
		if (subject || task)
			return cli_usage_error("session", "--subject and --task belong to start");
		snprintf(req, sizeof(req), "%s", *verb == 's' && verb[2] == 'o' ?
			 "STOP" : "STATUS");
	} else {
		return cli_usage_error("session", "unknown action '%s': expected start, stop or status",
				       verb);
	}
	if (json && strcmp(verb, "status"))
		return cli_usage_error("session", "--json belongs to status");
	ret = svc_request(control, req, reply, sizeof(reply), (int)timeout);
	if (ret) {
		fprintf(stderr, "gaitcap session: %s: %s\n", control,
			ret == -ENOENT || ret == -ECONNREFUSED ?
			"no service answering (systemctl status gaitcap)" :
			ret == -EACCES ? "permission denied (join group gaitcap)" :
			cli_err_words(ret));
		return 1;
	}
	if (strncmp(reply, "OK", 2)) {
		fprintf(stderr, "gaitcap session %s: %s\n", verb,
			!strncmp(reply, "ERR ", 4) ? reply + 4 : reply);
		return 1;
	}
	if (strcmp(verb, "status")) {
		printf("%s\n", reply[2] ? reply + 3 : "done");
		return 0;
	}
	if (json) {
		printf("%s\n", reply + 3);
		return 0;
	}
	o = json_tokener_parse(reply + 3);
	if (!o) {
		fprintf(stderr, "gaitcap session status: the service's answer is not JSON\n");
		return 1;
	}
	print_status(o);
	json_object_put(o);
	return 0;
}
