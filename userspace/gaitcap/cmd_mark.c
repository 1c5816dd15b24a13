// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap mark [CODE] [--value V]: add a marker to the running capture
 * through its control socket (docs/capture.md). The marker is stamped with
 * CLOCK_MONOTONIC here, when the command runs, not when capture reads it.
 * Exit status: 0 recorded, 1 refused or no capture answering.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"

static const struct {
	const char *name;
	uint32_t code;
} names[] = {
	{ "event", GCS_MARK_EVENT },
	{ "trial-start", GCS_MARK_TRIAL_START },
	{ "trial-end", GCS_MARK_TRIAL_END },
	{ "sync", GCS_MARK_SYNC },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap mark [OPTIONS] [CODE]\n"
		"Add a marker to the running capture. CODE: event (default), trial-start,\n"
		"trial-end, sync, or a number (site-defined codes from %u).\n"
		"\n"
		"  -v, --value N      the marker's value (event or trial number...)\n"
		"  -s, --stream S     the stream it concerns (default: none)\n"
		"  -c, --control PATH the capture's socket (default " ENG_CTL_DEFAULT_DIR "/"
		ENG_CTL_DEFAULT_NAME ")\n"
		"  -S, --status       print the capture's counters (key=value) instead\n"
		"  -t, --timeout MS   how long to wait for the answer (default 2000)\n"
		"  -h, --help         this help\n"
		"Exit status: 0 recorded, 1 refused, wrong options or no capture answering.\n",
		GCS_MARK_USER);
}

const struct option cmd_mark_options[] = {
	{ "value", required_argument, NULL, 'v' },
	{ "stream", required_argument, NULL, 's' },
	{ "control", required_argument, NULL, 'c' },
	{ "status", no_argument, NULL, 'S' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static const char *code_name(uint32_t code, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	snprintf(buf, len, "code %" PRIu32, code);
	return buf;
}

static int parse_code(const char *s, uint32_t *code)
{
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i].name)) {
			*code = names[i].code;
			return 0;
		}
	}
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || !v || v > UINT32_MAX)
		return -EINVAL;
	*code = (uint32_t)v;
	return 0;
}

int cmd_mark(int argc, char **argv)
{
	const char *path = ENG_CTL_DEFAULT_DIR "/" ENG_CTL_DEFAULT_NAME;
	char req[ENG_CTL_MAX_MSG], reply[ENG_CTL_MAX_MSG], when[64], nb[24];
	long long value = 0, stream = -1, timeout = 2000;
	uint32_t code = GCS_MARK_EVENT;
	bool status = false;
	struct timespec ts, real;
	struct tm tm;
	int o, ret;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":v:s:c:St:h", cmd_mark_options,
				NULL)) != -1) {
		switch (o) {
		case 'v':
			if (parse_ll(optarg, INT64_MIN, INT64_MAX, &value))
				return cli_bad_value("mark", "--value", optarg,
						     "a whole number, e.g. 3");
			break;
		case 's':
			if (parse_ll(optarg, 0, UINT32_MAX - 1, &stream))
				return cli_bad_value("mark", "--stream", optarg,
						     "a stream number, e.g. 0 (gaitcap info lists them)");
			break;
		case 'c':
			path = optarg;
			break;
		case 'S':
			status = true;
			break;
		case 't':
			if (parse_ll(optarg, 1, 3600000, &timeout))
				return cli_bad_value("mark", "--timeout", optarg,
						     "milliseconds, 1..3600000");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("mark", argv, o);
		}
	}
	if (optind + 1 < argc)
		return cli_usage_error("mark", "one CODE at a time: '%s' and '%s' given",
				       argv[optind], argv[optind + 1]);
	if (optind < argc && parse_code(argv[optind], &code))
		return cli_bad_value("mark", "CODE", argv[optind],
				     "event, trial-start, trial-end, sync or a number from 1");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	clock_gettime(CLOCK_REALTIME, &real);
	if (status)
		snprintf(req, sizeof(req), "STATUS");
	else
		snprintf(req, sizeof(req),
			 "MARK code=%" PRIu32 " value=%lld t=%lld stream=%lld", code,
			 value, (long long)ts.tv_sec * 1000000000 + ts.tv_nsec,
			 stream);
	ret = eng_control_request(path, req, reply, sizeof(reply), (int)timeout);
	if (ret) {
		fprintf(stderr, "gaitcap mark: %s: %s\n", path,
			ret == -ENOENT || ret == -ECONNREFUSED ?
			"no capture is running" :
			ret == -ETIMEDOUT ? "the capture did not answer" :
					    strerror(-ret));
		return 1;
	}
	if (strncmp(reply, "OK", 2)) {
		fprintf(stderr, "gaitcap mark: the capture refused: %s\n",
			strncmp(reply, "ERR ", 4) ? reply : reply + 4);
		return 1;
	}
	if (status) {
		printf("%s\n", reply + (reply[2] == ' ' ? 3 : 2));
		return 0;
	}
	/* The marker carries the monotonic time sent above: say it as wall time. */
	localtime_r(&real.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s marker recorded at %s.%03ld", code_name(code, nb, sizeof(nb)),
	       when, real.tv_nsec / 1000000);
	if (value)
		printf(", value %lld", value);
	if (stream >= 0)
		printf(", stream %lld", stream);
	printf("\n");
	return 0;
}
