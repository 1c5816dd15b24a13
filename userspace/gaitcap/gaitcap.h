/* SPDX-License-Identifier: GPL-2.0 */
/* The gaitcap command: one function per subcommand, main.c dispatches. */
#ifndef GAITCAP_H
#define GAITCAP_H

#define GAITCAP_VERSION "0.4.0"

/* Each returns the process exit status; argv[0] is the subcommand name. */
int cmd_capture(int argc, char **argv);
int cmd_mark(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_synth(int argc, char **argv);

#endif /* GAITCAP_H */
