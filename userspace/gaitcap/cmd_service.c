// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap service: the appliance's capture daemon, started by systemd
 * (gaitcap.service, user gaitcap). libgcsvc does the work.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "gaitcap/gaitcap.h"
#include "service/service.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap service [OPTIONS]\n"
		"The appliance's capture service: records one session at a time, started and\n"
		"stopped with gaitcap session; run by systemd (gaitcap.service) as user gaitcap.\n"
		"\n"
		"  -c, --config PATH   the appliance's settings (default " SVC_CONF_PATH ")\n"
		"      --control PATH  the control socket (default " SVC_CONTROL_PATH ")\n"
		"      --no-udev       look for the mat every 0.5 s instead of on udev events\n"
		"  -h, --help          this help\n"
		"Logs go to standard error with syslog priority prefixes (the journal).\n"
		"Exit status: 0 stopped by a signal, 1 could not start, 3 a session file was left\n"
		"open after a ring failure (gaitcap recover repairs it).\n");
}

enum { O_CONTROL = 256, O_NO_UDEV };

const struct option cmd_service_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "control", required_argument, NULL, O_CONTROL },
	{ "no-udev", no_argument, NULL, O_NO_UDEV },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_service(int argc, char **argv)
{
	struct svc_opts o = {
		.conf_path = SVC_CONF_PATH, .control_path = SVC_CONTROL_PATH,
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", cmd_service_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.conf_path = optarg;
			break;
		case O_CONTROL:
			o.control_path = optarg;
			break;
		case O_NO_UDEV:
			o.no_udev = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("service", argv, c);
		}
	}
	if (optind != argc)
		return cli_usage_error("service", "unexpected argument '%s'",
				       argv[optind]);
	return svc_main(&o);
}
