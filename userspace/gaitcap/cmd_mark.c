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
		"      --status       print the capture's counters instead\n"
		"  -t, --timeout MS   how long to wait for the answer (default 2000)\n",
		GCS_MARK_USER);
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
	static const struct option opts[] = {
		{ "value", required_argument, NULL, 'v' },
		{ "stream", required_argument, NULL, 's' },
		{ "control", required_argument, NULL, 'c' },
		{ "status", no_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = ENG_CTL_DEFAULT_DIR "/" ENG_CTL_DEFAULT_NAME;
	char req[ENG_CTL_MAX_MSG], reply[ENG_CTL_MAX_MSG], *end;
	long long value = 0, stream = -1;
	uint32_t code = GCS_MARK_EVENT;
	bool status = false;
	long timeout = 2000;
	struct timespec ts;
	int o, ret;

	while ((o = getopt_long(argc, argv, "v:s:c:t:h", opts, NULL)) != -1) {
		switch (o) {
		case 'v':
			value = strtoll(optarg, &end, 0);
			if (*end)
				goto bad;
			break;
		case 's':
			stream = strtoll(optarg, &end, 0);
			if (*end || stream < 0 || stream >= UINT32_MAX)
				goto bad;
			break;
		case 'c':
			path = optarg;
			break;
		case 'S':
			status = true;
			break;
		case 't':
			timeout = strtol(optarg, &end, 0);
			if (*end || timeout < 1)
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind + 1 < argc || (optind < argc && parse_code(argv[optind], &code)))
		goto bad;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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
		fprintf(stderr, "gaitcap mark: %s\n", reply);
		return 1;
	}
	printf("%s\n", reply + (reply[2] == ' ' ? 3 : 2));
	return 0;
bad:
	usage(stderr);
	return 1;
}
