// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap: the capture appliance's command. Subcommands live in cmd_*.c;
 * the session format itself is libgcsession's business.
 */
#include <stdio.h>
#include <string.h>

#include "gaitcap/gaitcap.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;	/* NULL: a developer command, not listed */
};

static const struct command commands[] = {
	{ "capture", cmd_capture, "record a session from the mat (and other sources)" },
	{ "mark", cmd_mark, "add a marker to the running capture" },
	{ "info", cmd_info, "show a session file: metadata, streams, sizes, integrity" },
	{ "recover", cmd_recover, "repair the tail of a session file in place" },
	{ "import", cmd_import, "turn another system's recording into a session" },
	{ "qc", cmd_qc, "check a session's signal quality; JSON and HTML report" },
	{ "synth", cmd_synth, NULL },
	{ "refine", cmd_refine, "events, strides and gait parameters of a session" },
	{ "service", cmd_service, "the appliance's capture service (run by systemd)" },
	{ "session", cmd_session, "start, stop or show the service's recording" },
	{ "devices", cmd_devices, "list the BLE insoles advertising nearby" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: gaitcap COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			fprintf(f, "  %-10s %s\n", commands[i].name,
				commands[i].summary);
	fprintf(f, "\n  --help     this help\n  --version  the version\n"
		"\n'gaitcap COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "gaitcap: no command given\n");
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("gaitcap %s\n", GAITCAP_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	/* The list is the table's, so it cannot fall behind it. */
	fprintf(stderr, "gaitcap: unknown command '%s': expected", argv[1]);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			fprintf(stderr, "%s %s", i ? "," : "", commands[i].name);
	fprintf(stderr, "\nTry 'gaitcap --help'.\n");
	return 1;
}
