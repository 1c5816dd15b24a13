// SPDX-License-Identifier: GPL-2.0
/*
 * The command line as a new user meets it (docs/operating.md). Each command
 * runs in a child with its output in a file: refusals name the option, the
 * value and what is accepted in one line (never the whole usage); metadata
 * options cannot reshape the session JSON; info reads several files and
 * names why a session ended; every tool's --help lists exactly the options
 * its section of the docs lists, and every option its parser accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"
#include "test_session_util.h"

int attach_main(int argc, char **argv);
int sim_main(int argc, char **argv);
int insole_sim_main(int argc, char **argv);

typedef int (*cmd_fn)(int argc, char **argv);

/*
 * sched_setscheduler() is wrapped (cli.mk): with fake_sched_errno set it
 * fails as an unprivileged service would, without dropping root here.
 */
static int fake_sched_errno;
int __real_sched_setscheduler(pid_t pid, int policy, const struct sched_param *sp);
int __wrap_sched_setscheduler(pid_t pid, int policy, const struct sched_param *sp);

int __wrap_sched_setscheduler(pid_t pid, int policy, const struct sched_param *sp)
{
	if (fake_sched_errno) {
		errno = fake_sched_errno;
		return -1;
	}
	return __real_sched_setscheduler(pid, policy, sp);
}

/*
 * Run @fn(argv) in a child (--help and argp exit; capture takes signals),
 * in the fixture's directory, stdout and stderr into f->out; its status.
 */
static int run_argv(struct tu_cmd *f, cmd_fn fn, char **argv)
{
	int argc = 0, st, fd;
	pid_t pid;

	while (argv[argc])
		argc++;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		fd = open(f->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir(f->dir))
			_exit(125);
		optind = 0;
		st = fn(argc, argv);
		fflush(stdout);
		fflush(stderr);
		_exit(st);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

#define run(f, fn, ...) run_argv(f, fn, (char *[]){ __VA_ARGS__, NULL })

static void write_records(struct tu_cmd *f, const char *name)
{
	char *p = tu_path(f->dir, name);
	static const uint8_t zero[16 * 50];

	assert_int_equal(tu_write_file(p, zero, sizeof(zero)), 0);
	free(p);
}

static void unlink_in(struct tu_cmd *f, const char *name)
{
	char *p = tu_path(f->dir, name);

	assert_int_equal(unlink(p), 0);
	free(p);
}

static bool exists(struct tu_cmd *f, const char *name)
{
	char *p = tu_path(f->dir, name);
	bool e = access(p, F_OK) == 0;

	free(p);
	return e;
}

/* ---- Refusals ------------------------------------------------------------------- */

struct refusal {
	cmd_fn fn;
	const char *cmd;
	const char *argv[16];
	const char *says;	/* the line must contain this */
	const char *never;	/* and must not contain this (a refused value) */
};

#define CAP	"capture", "-o", "new.gcs", "--no-keys", "--control", "none"
#define SRC	"--mat", "none", "--source", "fd:rec.bin,record=16"

static const struct refusal refusals[] = {
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--duration", "abc" },
	  "invalid --duration 'abc': expected seconds, e.g. 30 or 2.5", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--io", "bogus" },
	  "invalid --io 'bogus': expected auto, poll-first, fast-poll or async", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--sync-ms", "0" },
	  "invalid --sync-ms '0': expected milliseconds, 1..3600000", NULL },
	{ cmd_capture, "capture", { "capture", "--subject", "P1" },
	  "no session file: give -o FILE", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--clock", "bogus" },
	  "invalid --clock 'bogus': expected monotonic, boottime or realtime", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--source", "bogus:x" },
	  "invalid --source 'bogus:x'", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--source", "fd:rec.bin" },
	  "record=N (the record size in bytes) is required", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--source",
				    "fd:rec.bin,record=16,name=a b" },
	  "invalid name= in --source", NULL },
	{ cmd_capture, "capture", { "capture", "-o", "-", "--subject", "P1", SRC },
	  "invalid -o '-': expected a file name", NULL },
	{ cmd_capture, "capture", { CAP, SRC },
	  "no --subject: the format requires the subject's pseudonymous code", NULL },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "John Smith" },
	  "--subject refused by the privacy policy", "John" },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "P1\",\"site\":\"x" },
	  "--subject refused by the privacy policy", "site" },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "1985-03-12" },
	  "subject must not contain a date", "1985" },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "P1", "--site", "St Mary" },
	  "--site refused by the privacy policy", "Mary" },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "P1", "--bogus" },
	  "unrecognized option '--bogus'", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--insole", "00:AA:01:01:00:01" },
	  "invalid --insole '00:AA:01:01:00:01': expected SIDE=", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--insole", "left=00:AA:01:01:00" },
	  "not a Bluetooth address", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--insole",
				    "left=00:AA:01:01:00:01/random" },
	  "a random static address starts with C0..FF", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--insole", "left=00:AA:01:01:00:01",
				    "--insole", "left=00:AA:01:01:00:02" },
	  "--insole left given twice", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--insole",
				    "left=00:AA:01:01:00:01@hci3" },
	  "@ADAPTER must be a Bluetooth address", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--insole",
				    "left=00:AA:01:01:00@00:AA:01:03:00:03" },
	  "invalid --insole 'left=00:AA:01:01:00': not a Bluetooth address", NULL },
	{ cmd_capture, "capture", { CAP, "--subject", "P1", "--adapter", "hci0" },
	  "invalid --adapter 'hci0': expected a Bluetooth address", NULL },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "P1", "--rt-priority", "0" },
	  "invalid --rt-priority '0': expected a SCHED_FIFO priority, 1..99", NULL },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "P1", "--rt-priority", "100" },
	  "invalid --rt-priority '100': expected a SCHED_FIFO priority, 1..99", NULL },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "P1", "--rt-priority", "2.5" },
	  "invalid --rt-priority '2.5': expected a whole number, 1..99", NULL },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "P1", "--rt-priority", "high" },
	  "invalid --rt-priority 'high'", NULL },
	{ cmd_capture, "capture", { CAP, SRC, "--subject", "P1", "--rt-priority" },
	  "option '--rt-priority' needs a value", NULL },
	{ cmd_info, "info", { "info" }, "no session file given: expected one or more FILEs", NULL },
	{ cmd_info, "info", { "info", "--bogus", "x.gcs" }, "unrecognized option '--bogus'", NULL },
	{ cmd_info, "info", { "info", "--json=yes", "x.gcs" }, "option '--json' takes no value", NULL },
	{ cmd_recover, "recover", { "recover" }, "no session file given", NULL },
	/* "" and "-": a file named "-" made, or ENOENT said of nothing. */
	{ cmd_info, "info", { "info", "" }, "empty file name given as input", NULL },
	{ cmd_info, "info", { "info", "rec.bin", "" }, "empty file name given as input", NULL },
	{ cmd_recover, "recover", { "recover", "" }, "empty file name given as input", NULL },
	{ cmd_recover, "recover", { "recover", "-o", "-", "rec.bin" },
	  "invalid -o '-': expected a file name", NULL },
	{ cmd_synth, "synth", { "synth", "-" }, "invalid session file '-': expected a file name", NULL },
	{ cmd_synth, "synth", { "synth", "" }, "empty session file: expected a file name", NULL },
	{ cmd_synth, "synth", { "synth", "--tiles", "9", "new.gcs" },
	  "invalid --tiles '9': expected 1..8", NULL },
	{ cmd_mark, "mark", { "mark", "--value", "x" },
	  "invalid --value 'x': expected a whole number", NULL },
	{ cmd_mark, "mark", { "mark", "trial-begin" },
	  "invalid CODE 'trial-begin': expected event, trial-start", NULL },
	{ cmd_mark, "mark", { "mark", "--timeout" }, "option '--timeout' needs a value", NULL },
	{ cmd_devices, "devices", { "devices", "--hci", "x" },
	  "invalid --hci 'x': expected a controller number, e.g. 0 or hci0", NULL },
	{ cmd_devices, "devices", { "devices", "--hci", "-1" }, "invalid --hci '-1'", NULL },
	{ cmd_devices, "devices", { "devices", "--hci", "hci65535" },
	  "invalid --hci 'hci65535'", NULL },
	{ cmd_devices, "devices", { "devices", "--timeout", "0" },
	  "invalid --timeout '0': expected whole seconds, 1..600", NULL },
	{ cmd_devices, "devices", { "devices", "-t", "2.5" },
	  "invalid --timeout '2.5': expected whole seconds, 1..600", NULL },
	{ cmd_devices, "devices", { "devices", "--hci" }, "option '--hci' needs a value", NULL },
	{ cmd_devices, "devices", { "devices", "--all=yes" }, "option '--all' takes no value", NULL },
	{ cmd_devices, "devices", { "devices", "hci0" }, "unexpected argument 'hci0'", NULL },
};

static void test_gaitcap_cli_refusals_name_what_was_wrong(void **state)
{
	struct tu_cmd *f = *state;

	write_records(f, "rec.bin");
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		char want[128], *s;
		int rc = run_argv(f, r->fn, (char **)r->argv);

		s = tu_cmd_output(f);
		snprintf(want, sizeof(want), "gaitcap %s: ", r->cmd);
		if (rc != 1 || strncmp(s, want, strlen(want)) || !strstr(s, r->says))
			fail_msg("refusal %zu (rc %d) should say '%s', said:\n%s",
				 i, rc, r->says, s);
		/* One line, then where the help is: not the whole usage. */
		snprintf(want, sizeof(want), "\nTry 'gaitcap %s --help'.\n", r->cmd);
		if (strcmp(strchr(s, '\n'), want))
			fail_msg("refusal %zu: not one line + Try: %s", i, s);
		if (r->never && strstr(s, r->never))
			fail_msg("refusal %zu repeats the refused value: %s", i, s);
		assert_false(exists(f, "new.gcs"));
		free(s);
	}
}

/* ---- Metadata ------------------------------------------------------------------- */

static struct json_object *info_json(struct tu_cmd *f, char **argv, int want)
{
	struct json_object *o;
	char *s;

	assert_int_equal(run_argv(f, cmd_info, argv), want);
	s = tu_cmd_output(f);
	o = json_tokener_parse(s);
	if (!o)
		fail_msg("info --json printed no JSON: %s", s);
	free(s);
	return o;
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char *copy = strdup(path), *save = NULL;

	for (char *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(k));
		else if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
		if (!o)
			fail_msg("no %s in the JSON", path);
	}
	free(copy);
	return o;
}

static void test_gaitcap_cli_meta_is_json_c(void **state)
{
	struct tu_cmd *f = *state;
	struct json_object *o, *meta;

	write_records(f, "rec.bin");
	assert_int_equal(run(f, cmd_capture, CAP, "-q", "--subject", "P017",
			     "--site", "S-01", "--trial", "3", "--mat", "none",
			     "--source", "fd:rec.bin,record=16,name=left",
			     "--source", "fd:rec.bin,record=16"), 0);
	o = info_json(f, (char *[]){ "info", "--json", "new.gcs", NULL }, 0);
	meta = get(o, "metadata");
	assert_string_equal(json_object_get_string(get(meta, "subject")), "P017");
	assert_string_equal(json_object_get_string(get(meta, "site")), "S-01");
	assert_int_equal(json_object_get_int64(get(meta, "trial")), 3);
	/* name= is the stream's label and its devices entry; others are srcN. */
	assert_string_equal(json_object_get_string(get(meta, "devices.0.id")), "left");
	assert_string_equal(json_object_get_string(get(meta, "devices.1.id")), "src1");
	assert_string_equal(json_object_get_string(
		get(o, "streams.0.description.device")), "left");
	assert_string_equal(json_object_get_string(
		get(o, "streams.1.description.device")), "src1");
	assert_int_equal(json_object_get_int64(
		get(o, "streams.0.description.record_size")), 16);
	assert_int_equal(json_object_object_length(meta), 7);
	json_object_put(o);
}

static void test_gaitcap_cli_subject_dates_refused(void **state)
{
	static const char *const refused[] = {
		"1985-03-12", "P-12-03-1985", "S19850312", "12_3_1985",
		"x03-12-1985y", "P1-2001-1-9",
	};
	static const char *const kept[] = {
		"P017", "S01-02-03", "LAB-01", "12345678", "SITE2-0042", "P1985",
	};
	char json[160];
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"subject\":\"%s\",\"task\":\"t\",\"appliance\":\"a\",\"software\":\"s\"}",
			 refused[i]);
		if (gcs_meta_check(json, true, &why) != -GCS_EPOLICY)
			fail_msg("subject %s was not refused", refused[i]);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"subject\":\"%s\",\"task\":\"t\",\"appliance\":\"a\",\"software\":\"s\"}",
			 kept[i]);
		if (gcs_meta_check(json, true, &why))
			fail_msg("subject %s was refused: %s", kept[i], why);
	}
}

/* A device that restarts: sequence numbers 0, 1, 2, then 0 again. */
static void test_gaitcap_cli_capture_names_why_a_stream_ended(void **state)
{
	struct tu_cmd *f = *state;
	uint64_t rec[4][2] = { { 0 }, { 1 }, { 2 }, { 0 } };
	char *p = tu_path(f->dir, "seq.bin"), *s;

	assert_int_equal(tu_write_file(p, rec, sizeof(rec)), 0);
	assert_int_equal(run(f, cmd_capture, CAP, "-q", "--subject", "P1",
			     "--mat", "none", "--source", "fd:seq.bin,record=16,seq=0"), 2);
	s = tu_cmd_output(f);
	if (!strstr(s, "ended: EPROTO (a sequence number went backwards"))
		fail_msg("the summary does not say why: %s", s);
	assert_null(strstr(s, "Protocol error"));
	free(s);
	free(p);
}

/*
 * The capture, then the scheduling its loop thread was left with, printed
 * after the capture's own lines (it runs in run()'s child).
 */
static int capture_then_policy(int argc, char **argv)
{
	struct sched_param sp = { 0 };
	int rc = cmd_capture(argc, argv), pol = sched_getscheduler(0);

	sched_getparam(0, &sp);
	printf("policy %s%s priority %d\n",
	       (pol & ~SCHED_RESET_ON_FORK) == SCHED_FIFO ? "fifo" : "other",
	       pol & SCHED_RESET_ON_FORK ? " reset-on-fork" : "",
	       sp.sched_priority);
	return rc;
}

/* --rt-priority: the loop thread at SCHED_FIFO, or a refusal that says why. */
static void test_gaitcap_cli_capture_rt_priority(void **state)
{
	struct tu_cmd *f = *state;
	char *s;

	write_records(f, "rec.bin");
	/* Without the privilege: exit 1 before a file is made, and the cure. */
	fake_sched_errno = EPERM;
	assert_int_equal(run(f, capture_then_policy, CAP, "-q", "--subject", "P1",
			     SRC, "--rt-priority", "20"), 1);
	fake_sched_errno = 0;
	s = tu_cmd_output(f);
	if (!strstr(s, "gaitcap capture: --rt-priority 20: not permitted: needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least 20"))
		fail_msg("an unprivileged --rt-priority should say what it needs:\n%s", s);
	assert_non_null(strstr(s, "policy other priority 0"));
	assert_false(exists(f, "new.gcs"));
	free(s);

	if (geteuid())
		skip();		/* the real call needs CAP_SYS_NICE (CI runs as root) */
	assert_int_equal(run(f, capture_then_policy, CAP, "-q", "--subject", "P1",
			     SRC, "--rt-priority", "20"), 0);
	s = tu_cmd_output(f);
	/* Reset on fork: compaction and io_uring's workers stay normal. */
	if (!strstr(s, "policy fifo reset-on-fork priority 20"))
		fail_msg("the loop should run at SCHED_FIFO 20, reset on fork:\n%s", s);
	assert_true(exists(f, "new.gcs"));
	free(s);

	/* Without the option nothing changes. */
	unlink_in(f, "new.gcs");
	assert_int_equal(run(f, capture_then_policy, CAP, "-q", "--subject", "P1", SRC), 0);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "policy other priority 0"));
	free(s);
}

/* gaitcap mark against a live capture: it answers in words, not nanoseconds. */
static void test_gaitcap_cli_mark_says_when(void **state)
{
	struct tu_cmd *f = *state;
	char *feed = tu_path(f->dir, "feed"), *sock = tu_path(f->dir, "ctl.sock");
	char *cap_out = tu_path(f->dir, "capture.out"), *s;
	int fd, st, rc, tries = 0;
	pid_t pid;

	assert_int_equal(mkfifo(feed, 0600), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char *argv[] = { "capture", "-o", "m.gcs", "--no-keys", "-q",
				 "--subject", "P1", "--control", sock, "--mat", "none",
				 "--source", "fd:feed,record=16", NULL };

		fd = open(cap_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir(f->dir))
			_exit(125);
		optind = 0;
		_exit(cmd_capture(13, argv));
	}
	/* Non-blocking, bounded: a capture that failed never opens the fifo. */
	while ((fd = open(feed, O_WRONLY | O_NONBLOCK)) < 0 && errno == ENXIO &&
	       tries++ < 1000)
		usleep(10000);
	while (fd >= 0 && access(sock, F_OK) && tries++ < 1000)
		usleep(10000);
	rc = fd >= 0 ? run(f, cmd_mark, "mark", "-c", sock, "--value", "7") : -1;
	if (fd >= 0)
		close(fd);	/* end of the source: the capture ends */
	else
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(rc, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	s = tu_cmd_output(f);
	if (strncmp(s, "event marker recorded at 2", 26) || !strstr(s, ", value 7\n") ||
	    strstr(s, "t="))
		fail_msg("gaitcap mark said: %s", s);
	free(s);
	assert_int_equal(run(f, cmd_info, "info", "m.gcs"), 0);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "event value 7"));
	free(s);
	free(feed);
	free(sock);
	free(cap_out);
}

/* ---- info ------------------------------------------------------------------------ */

static void end_on_enospc(struct tu_cmd *f, const char *name)
{
	static const char meta[] =
		"{\"subject\":\"P1\",\"task\":\"t\",\"appliance\":\"a\",\"software\":\"s\"}";
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	char *p = tu_path(f->dir, name);

	gcs_writer_opts_init(&o);
	assert_int_equal(gcs_writer_create(&w, p, &o, meta), 0);
	assert_int_equal(gcs_writer_marker(w, GCS_MARK_SESSION_END, GCS_STREAM_NONE,
					   1, ENOSPC), 0);
	assert_int_equal(gcs_writer_close(w), 0);
	free(p);
}

static void test_gaitcap_cli_info_several_files_and_end_reason(void **state)
{
	struct tu_cmd *f = *state;
	struct json_object *o, *m;
	bool named = false;
	char *s, *a, *b;

	end_on_enospc(f, "full.gcs");
	assert_int_equal(run(f, cmd_synth, "synth", "--quiet", "--seconds", "1",
			     "--tiles", "1", "--rows", "16", "--cols", "16",
			     "walk.gcs"), 0);
	assert_int_equal(run(f, cmd_info, "info", "full.gcs", "walk.gcs"), 0);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "file        full.gcs"));
	assert_non_null(strstr(s, "file        walk.gcs"));
	assert_non_null(strstr(s, "session_end ENOSPC (No space left on device)"));
	assert_non_null(strstr(s, "the capture ended on ENOSPC"));
	assert_null(strstr(s, "value 28"));
	free(s);

	o = info_json(f, (char *[]){ "info", "--json", "full.gcs", "walk.gcs", NULL }, 0);
	assert_true(json_object_is_type(o, json_type_array));
	assert_int_equal(json_object_array_length(o), 2);
	m = get(o, "0.markers");
	for (size_t i = 0; i < json_object_array_length(m); i++) {
		struct json_object *r;

		if (json_object_object_get_ex(json_object_array_get_idx(m, i),
					      "reason", &r))
			named = !strcmp(json_object_get_string(r), "ENOSPC");
	}
	assert_true(named);
	json_object_put(o);

	/* A file name that is not UTF-8: the JSON stays UTF-8. */
	a = tu_path(f->dir, "walk.gcs");
	b = tu_path(f->dir, "w\xff\xc0\x80.gcs");
	assert_int_equal(rename(a, b), 0);
	o = info_json(f, (char *[]){ "info", "--json", "w\xff\xc0\x80.gcs", NULL }, 0);
	assert_string_equal(json_object_get_string(get(o, "file")), "w???.gcs");
	json_object_put(o);
	assert_int_equal(rename(b, a), 0);
	free(a);
	free(b);

	/* One unreadable file among good ones: exit 1, the others still shown. */
	write_records(f, "junk.gcs");
	assert_int_equal(run(f, cmd_info, "info", "walk.gcs", "junk.gcs"), 1);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "file        walk.gcs"));
	assert_non_null(strstr(s, "junk.gcs: not a gaitcap session file"));
	free(s);
}

/* ---- --help against the docs ---------------------------------------------------- */

#define MAX_OPTS 64

struct optset {
	char *name[MAX_OPTS];
	size_t n;
};

static bool has(const struct optset *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return true;
	return false;
}

/* Every --long-option in @text; what argp adds to every tool is left out. */
static void long_opts(const char *text, struct optset *s)
{
	for (const char *p = text; (p = strstr(p, "--")); ) {
		size_t n;
		char *name;

		p += 2;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
		/* A name starts with a letter, after a space, ` or (: not a table rule. */
		if (!n || *p < 'a' || *p > 'z' ||
		    (p - 2 > text && !strchr(" `(\n[", p[-3])))
			continue;
		name = strndup(p, n);
		assert_non_null(name);
		if (has(s, name) || !strcmp(name, "help") || !strcmp(name, "usage") ||
		    !strcmp(name, "version") || s->n == MAX_OPTS)
			free(name);
		else
			s->name[s->n++] = name;
		p += n;
	}
}

static void free_opts(struct optset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->name[i]);
	s->n = 0;
}

/*
 * The section under @heading (to the next heading), or the whole file;
 * with @end, from @heading (or the top) to @end, or to the end of the file
 * when @end is "".
 */
static char *doc_section(const char *doc, const char *heading,
			 const char *end)
{
	char path[512], *text, *a, *b;
	uint8_t *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/docs/%s", TOP_DIR, doc);
	assert_int_equal(tu_read_file(path, &buf, &len), 0);
	text = realloc(buf, len + 1);
	assert_non_null(text);
	text[len] = 0;
	if (!heading && !end)
		return text;
	a = heading ? strstr(text, heading) : text;
	if (!a)
		fail_msg("docs/%s has no '%s'", doc, heading);
	a += heading ? strlen(heading) : 0;
	b = end ? (*end ? strstr(a, end) : NULL) : strstr(a, "\n#");
	memmove(text, a, b ? (size_t)(b - a) : strlen(a));
	text[b ? b - a : (ptrdiff_t)strlen(a)] = 0;
	return text;
}

struct tool {
	const char *what;
	cmd_fn fn;
	const char *argv0;
	const struct option *opts;	/* the parser's table, when it is ours */
	const char *doc, *heading;
	const char *end;		/* see doc_section() */
};

static void test_gaitcap_cli_help_matches_docs(void **state)
{
	const struct tool tools[] = {
		{ "gaitcap capture", cmd_capture, "capture", cmd_capture_options,
		  "operating.md", "\n### gaitcap capture\n", NULL },
		{ "gaitcap mark", cmd_mark, "mark", cmd_mark_options,
		  "operating.md", "\n### gaitcap mark\n", NULL },
		{ "gaitcap info", cmd_info, "info", cmd_info_options,
		  "operating.md", "\n### gaitcap info\n", NULL },
		{ "gaitcap recover", cmd_recover, "recover", cmd_recover_options,
		  "operating.md", "\n### gaitcap recover\n", NULL },
		{ "gaitcap devices", cmd_devices, "devices", cmd_devices_options,
		  "operating.md", "\n### gaitcap devices\n", NULL },
		{ "gaitmat-attach", attach_main, "gaitmat-attach", NULL,
		  "driver.md", "\n### gaitmat-attach\n", NULL },
		{ "gaitmat-sim", sim_main, "gaitmat-sim", NULL,
		  "simulator.md", NULL, "\n# gaitinsole-sim" },
		{ "gaitinsole-sim", insole_sim_main, "gaitinsole-sim", NULL,
		  "simulator.md", "\n# gaitinsole-sim", "" },
	};
	struct tu_cmd *f = *state;
	int bad = 0;

	for (size_t t = 0; t < sizeof(tools) / sizeof(tools[0]); t++) {
		const struct tool *tl = &tools[t];
		struct optset help = { 0 }, doc = { 0 };
		char *h, *d;

		assert_int_equal(run(f, tl->fn, (char *)tl->argv0, "--help"), 0);
		h = tu_cmd_output(f);
		d = doc_section(tl->doc, tl->heading, tl->end);
		long_opts(h, &help);
		long_opts(d, &doc);
		assert_non_null(strstr(h, "--help"));
		for (size_t i = 0; i < help.n; i++)
			if (!has(&doc, help.name[i])) {
				print_error("%s --help lists --%s, docs/%s does not\n",
					    tl->what, help.name[i], tl->doc);
				bad++;
			}
		for (size_t i = 0; i < doc.n; i++)
			if (!has(&help, doc.name[i])) {
				print_error("docs/%s lists --%s, %s --help does not\n",
					    tl->doc, doc.name[i], tl->what);
				bad++;
			}
		for (const struct option *o = tl->opts; o && o->name; o++)
			if (strcmp(o->name, "help") && !has(&help, o->name)) {
				print_error("%s accepts --%s, its --help does not say\n",
					    tl->what, o->name);
				bad++;
			}
		free_opts(&help);
		free_opts(&doc);
		free(h);
		free(d);
	}
	assert_int_equal(bad, 0);
}

/* ---- The other tools' refusals ---------------------------------------------------- */

static void test_gaitcap_cli_tools_usage_status(void **state)
{
	struct tu_cmd *f = *state;
	char *s;

	/* docs/driver.md: 2 on a usage error (argp would exit 64). */
	assert_int_equal(run(f, attach_main, "gaitmat-attach"), 2);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "gaitmat-attach: no TTY given"));
	free(s);
	assert_int_equal(run(f, attach_main, "gaitmat-attach", "-B", "fast", "/dev/null"), 2);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "invalid --baud 'fast'"));
	free(s);
	assert_int_equal(run(f, sim_main, "gaitmat-sim", "--out", "x", "--rate", "abc"), 2);
	s = tu_cmd_output(f);
	assert_non_null(strstr(s, "gaitmat-sim: invalid --rate 'abc': expected a whole number"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gaitcap_cli_refusals_name_what_was_wrong,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_gaitcap_cli_meta_is_json_c,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test(test_gaitcap_cli_subject_dates_refused),
		cmocka_unit_test_setup_teardown(test_gaitcap_cli_mark_says_when,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_gaitcap_cli_capture_names_why_a_stream_ended,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_gaitcap_cli_capture_rt_priority,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_gaitcap_cli_info_several_files_and_end_reason,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_gaitcap_cli_help_matches_docs,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_gaitcap_cli_tools_usage_status,
						tu_cmd_setup, tu_cmd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
