// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap service (docs/operating.md): appliance.conf, the session file's
 * name, who may talk to the control socket, the request grammar, a whole
 * session through the socket (a fifo as the source, as a test rig's
 * appliance.conf names it), and the io_uring ring limited to capture's
 * operations.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/ring.h"
#include "service/service.h"
#include "session/gcs_format.h"
#include "session/gcsession.h"

/* ---- appliance.conf ---------------------------------------------------------------- */

static void test_svc_conf_defaults_and_every_key(void **state)
{
	struct svc_conf c;
	char why[256];

	svc_conf_init(&c);
	assert_string_equal(c.sessions, "/var/lib/gaitcap/sessions");
	assert_string_equal(c.mat, "auto");
	assert_int_equal(c.battery_low_percent, 20);
	assert_int_equal(svc_conf_parse(&c,
		"# comment\n\n  site = GAITLAB-1\nsessions=/srv/s\nmat = none\n"
		"insole_left = C0:4E:30:00:10:01\ninsole_right = c0:4e:30:00:10:02\n"
		"insole_profile = fff0\nbattery_low_percent = 15\n"
		"disk_low_minutes = 0\ngap_alarm_seconds = 5\nstatus_seconds = 2\n"
		"source = fd:/tmp/f,record=16\n", why, sizeof(why)), 0);
	assert_string_equal(c.site, "GAITLAB-1");
	assert_string_equal(c.sessions, "/srv/s");
	assert_string_equal(c.mat, "none");
	assert_string_equal(c.insole_right, "c0:4e:30:00:10:02");
	assert_string_equal(c.insole_profile, "fff0");
	assert_int_equal(c.battery_low_percent, 15);
	assert_int_equal(c.disk_low_minutes, 0);
	assert_int_equal(c.gap_alarm_seconds, 5);
	assert_int_equal(c.status_seconds, 2);
	assert_string_equal(c.source, "fd:/tmp/f,record=16");
}

static void test_svc_conf_refusals_name_the_line(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "mat = auto\nsite = A B\n", "line 2: site: expected" },
		{ "\n\nsessoins = /x\n", "line 3: unknown key 'sessoins'" },
		{ "mat = auto\nmat = none\n", "line 2: mat given twice" },
		{ "battery_low_percent = 101\n", "line 1: battery_low_percent" },
		{ "battery_low_percent = -1\n", "line 1: battery_low_percent" },
		{ "gap_alarm_seconds = 2 # two\n", "(no comment after a value)" },
		{ "sessions = relative/path\n", "line 1: sessions" },
		{ "insole_left = C0:4E:30:00:10\n", "line 1: insole_left" },
		{ "insole_profile = v2\n", "line 1: insole_profile" },
		{ "just words\n", "line 1: expected key = value" },
		{ "source = /dev/iio:device0\n", "line 1: source" },
	};
	struct svc_conf c;
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		svc_conf_init(&c);
		assert_int_equal(svc_conf_parse(&c, bad[i].text, why, sizeof(why)),
				 -EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("%s: got '%s', want '%s'", bad[i].text, why, bad[i].why);
	}
	/* A refused value is not repeated: it may be private. */
	svc_conf_init(&c);
	assert_int_equal(svc_conf_parse(&c, "site = Jane Doe\n", why, sizeof(why)),
			 -EINVAL);
	assert_null(strstr(why, "Jane"));
}

static void test_svc_conf_missing_file_is_the_defaults(void **state)
{
	struct svc_conf c;
	char why[64];

	svc_conf_init(&c);
	assert_int_equal(svc_conf_load(&c, "/nonexistent/appliance.conf", why,
				       sizeof(why)), 0);
	assert_string_equal(c.mat, "auto");
}

/* ---- Names, peers, requests -------------------------------------------------------- */

static void test_svc_session_name_is_time_and_code_only(void **state)
{
	char n[80];

	assert_int_equal(svc_session_name(n, sizeof(n), 1796410862, "LAB-01"), 0);
	assert_string_equal(n, "20261204T190102Z_LAB-01.gcs");
	assert_int_equal(svc_session_name(n, sizeof(n), 0, "Jane Doe"), -EINVAL);
	assert_int_equal(svc_session_name(n, sizeof(n), 0, "../etc"), -EINVAL);
	assert_int_equal(svc_session_name(n, sizeof(n), 0, ""), -EINVAL);
	assert_int_equal(svc_session_name(n, sizeof(n), 0,
					  "A23456789012345678901234567890123"), -EINVAL);
	assert_int_equal(svc_session_name(n, 10, 0, "LAB-01"), -ENAMETOOLONG);
}

static void test_svc_peer_allowed_root_self_and_group(void **state)
{
	gid_t groups[] = { 24, 998, 27 };

	assert_true(svc_peer_allowed(0, 0, NULL, 0, 999, 998));
	assert_true(svc_peer_allowed(999, 1000, NULL, 0, 999, 998));
	assert_true(svc_peer_allowed(1000, 998, NULL, 0, 999, 998));
	assert_true(svc_peer_allowed(1000, 1000, groups, 3, 999, 998));
	assert_false(svc_peer_allowed(1000, 1000, groups, 1, 999, 998));
	assert_false(svc_peer_allowed(1000, 1000, NULL, 0, 999, 998));
}

static void test_svc_request_grammar(void **state)
{
	struct svc_request r;
	const char *why;

	assert_int_equal(svc_request_parse("START subject=LAB-01 task=tug", 29, &r,
					   &why), 0);
	assert_int_equal(r.verb, SVC_START);
	assert_string_equal(r.subject, "LAB-01");
	assert_string_equal(r.task, "tug");
	assert_int_equal(svc_request_parse("START subject=P1\n", 17, &r, &why), 0);
	assert_string_equal(r.task, "walk");
	assert_int_equal(svc_request_parse("STOP", 4, &r, &why), 0);
	assert_int_equal(r.verb, SVC_STOP);
	assert_int_equal(svc_request_parse("STATUS", 6, &r, &why), 0);
	assert_int_equal(r.verb, SVC_STATUS);
	assert_int_equal(svc_request_parse("START", 5, &r, &why), -EINVAL);
	assert_int_equal(svc_request_parse("START task=x", 12, &r, &why), -EINVAL);
	assert_int_equal(svc_request_parse("START subject=a/b", 17, &r, &why), -EINVAL);
	assert_int_equal(svc_request_parse("START subject=a name=b", 22, &r, &why),
			 -EINVAL);
	assert_int_equal(svc_request_parse("STOP\nSTART", 10, &r, &why), -EINVAL);
	assert_int_equal(svc_request_parse("STO\0P", 5, &r, &why), -EINVAL);
	assert_int_equal(svc_request_parse("stop", 4, &r, &why), -EINVAL);
	assert_non_null(why);
}

/* ---- A session through the socket ------------------------------------------------ */

struct rig {
	char dir[64], conf[96], sock[96], fifo[96], sessions[96];
	pid_t svc, feeder;
};

static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* 16-byte records (le64 seq, le64 CLOCK_MONOTONIC ns) at about 200 Hz. */
static void feed(const char *fifo, int n)
{
	int fd = open(fifo, O_WRONLY);

	for (uint64_t i = 0; fd >= 0 && i < (uint64_t)n; i++) {
		uint64_t rec[2] = { i, (uint64_t)mono() };

		if (write(fd, rec, sizeof(rec)) != sizeof(rec))
			_exit(1);
		usleep(5000);
	}
	pause();	/* the end of the fifo would end the stream */
	_exit(0);
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct svc_opts o = { .no_udev = true };
	char reply[256];
	FILE *f;

	assert_non_null(r);
	strcpy(r->dir, "/tmp/test_svc.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->conf, sizeof(r->conf), "%s/appliance.conf", r->dir);
	snprintf(r->sock, sizeof(r->sock), "%s/control.sock", r->dir);
	snprintf(r->fifo, sizeof(r->fifo), "%s/fifo", r->dir);
	snprintf(r->sessions, sizeof(r->sessions), "%s/sessions", r->dir);
	assert_int_equal(mkdir(r->sessions, 0750), 0);
	assert_int_equal(mkfifo(r->fifo, 0600), 0);
	f = fopen(r->conf, "w");
	assert_non_null(f);
	fprintf(f, "sessions = %s\nmat = none\nstatus_seconds = 1\n"
		"source = fd:%s,record=16,seq=0,ts=8\n", r->sessions, r->fifo);
	fclose(f);
	o.conf_path = r->conf;
	o.control_path = r->sock;
	r->svc = fork();
	assert_true(r->svc >= 0);
	if (!r->svc) {
		/* The journal lines go nowhere: a test shows TAP only. */
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		_exit(svc_main(&o));
	}
	for (int i = 0; i < 200 && svc_request(r->sock, "STATUS", reply,
					       sizeof(reply), 1000); i++)
		usleep(10000);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;
	char cmd[128];
	int st;

	if (r->feeder > 0) {
		kill(r->feeder, SIGKILL);
		waitpid(r->feeder, &st, 0);
	}
	kill(r->svc, SIGTERM);
	waitpid(r->svc, &st, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	if (system(cmd))
		return -1;
	free(r);
	return 0;
}

static int count_files(const char *dir)
{
	char cmd[160], out[16] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls %s | wc -l", dir);
	p = popen(cmd, "r");
	if (!p || !fgets(out, sizeof(out), p))
		out[0] = '\0';
	if (p)
		pclose(p);
	return atoi(out);
}

static void test_svc_session_start_status_stop(void **state)
{
	struct rig *r = *state;
	char reply[SVC_MSG_MAX], path[SVC_MSG_MAX], *file, *sp;
	const struct gcs_stream_info *si;
	struct gcs_reader *rd;
	struct stat sb;
	int st;

	assert_int_equal(svc_request(r->sock, "STOP", reply, sizeof(reply), 2000), 0);
	assert_string_equal(reply, "ERR no session is recording");
	/* A subject the privacy policy refuses leaves no file behind. */
	assert_int_equal(svc_request(r->sock, "START subject=P-19800314 task=walk", reply,
				     sizeof(reply), 2000), 0);
	assert_int_equal(strncmp(reply, "ERR ", 4), 0);
	assert_int_equal(count_files(r->sessions), 0);

	r->feeder = fork();
	assert_true(r->feeder >= 0);
	if (!r->feeder)
		feed(r->fifo, 300);
	assert_int_equal(svc_request(r->sock, "START subject=LAB-01 task=tug", reply,
				     sizeof(reply), 5000), 0);
	assert_int_equal(strncmp(reply, "OK file=", 8), 0);
	snprintf(path, sizeof(path), "%s", reply + 8);
	file = strrchr(path, '/') + 1;
	/* YYYYmmddTHHMMSSZ_LAB-01.gcs: the time and the code, nothing else. */
	assert_int_equal(strlen(file), 16 + 1 + 6 + 4);
	assert_int_equal(file[8], 'T');
	assert_string_equal(file + 15, "Z_LAB-01.gcs");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);

	assert_int_equal(svc_request(r->sock, "START subject=LAB-02", reply,
				     sizeof(reply), 2000), 0);
	assert_non_null(strstr(reply, "ERR busy"));
	usleep(700000);
	assert_int_equal(svc_request(r->sock, "STATUS", reply, sizeof(reply), 2000), 0);
	assert_non_null(strstr(reply, "\"state\":\"recording\""));
	assert_non_null(strstr(reply, "\"label\":\"src0\""));
	assert_non_null(strstr(reply, "\"free_bytes\""));
	/* Stop is answered once the file is closed, with its counts. */
	/* The feeder paces 300 records 5 ms apart: wait for all of them, not a
	 * fixed time, which a loaded machine overruns. */
	for (int i = 0; i < 150; i++) {
		assert_int_equal(svc_request(r->sock, "STATUS", reply, sizeof(reply), 2000), 0);
		if (strstr(reply, "\"frames\":300"))
			break;
		usleep(100000);
	}
	waitpid(r->feeder, &st, WNOHANG);
	assert_int_equal(svc_request(r->sock, "STOP", reply, sizeof(reply), 5000), 0);
	assert_int_equal(strncmp(reply, "OK file=", 8), 0);
	sp = strstr(reply, " frames=");
	assert_non_null(sp);
	assert_int_equal(atoi(sp + 8), 300);
	assert_int_equal(svc_request(r->sock, "STATUS", reply, sizeof(reply), 2000), 0);
	assert_non_null(strstr(reply, "\"state\":\"idle\""));

	assert_int_equal(gcs_reader_open(&rd, path, 0), 0);
	assert_int_equal(gcs_reader_info(rd)->state, GCS_STATE_CLOSED);
	assert_non_null(strstr(gcs_reader_meta(rd), "\"subject\":\"LAB-01\""));
	assert_non_null(strstr(gcs_reader_meta(rd), "\"task\":\"tug\""));
	si = gcs_reader_stream(rd, 0);
	assert_non_null(si);
	assert_int_equal(si->n_records, 300);
	assert_int_equal(si->n_gaps, 0);
	gcs_reader_close(rd);
}

static void test_svc_bad_requests_and_second_service(void **state)
{
	struct rig *r = *state;
	struct svc_opts o = { .conf_path = r->conf, .control_path = r->sock,
			      .no_udev = true };
	char reply[512];
	int saved, null, ret;

	assert_int_equal(svc_request(r->sock, "FORMAT /", reply, sizeof(reply), 2000), 0);
	assert_int_equal(strncmp(reply, "ERR unknown request", 19), 0);
	assert_int_equal(svc_request(r->sock, "START subject=../../etc", reply,
				     sizeof(reply), 2000), 0);
	assert_int_equal(strncmp(reply, "ERR subject", 11), 0);
	/* The socket answers: a second service refuses to take it over. */
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	null = open("/dev/null", O_WRONLY);
	dup2(null, STDERR_FILENO);
	ret = svc_main(&o);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	assert_int_equal(ret, 1);
	assert_int_equal(svc_request(r->sock, "STATUS", reply, sizeof(reply), 2000), 0);
}

/*
 * SO_PEERCRED: a user outside the service's group is refused even when the
 * socket's mode lets it connect (here opened to all on purpose).
 */
static void test_svc_peer_outside_group_refused(void **state)
{
	struct rig *r = *state;
	char reply[256];
	pid_t pid;
	int st;

	if (geteuid() != 0)
		skip();		/* needs to become another user */
	assert_int_equal(chmod(r->sock, 0666), 0);
	assert_int_equal(chmod(r->dir, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		st = svc_request(r->sock, "STATUS", reply, sizeof(reply), 2000);
		if (st) {
			fprintf(stderr, "# request as uid 65534: %s\n", strerror(-st));
			_exit(3);
		}
		_exit(strcmp(reply, "ERR permission denied: join group gaitcap") ? 4 : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- io_uring restrictions --------------------------------------------------------- */

struct top {
	struct ring_op op;
	int res, calls;
};

static void top_done(struct ring_op *op, int res)
{
	struct top *t = (struct top *)op;

	t->res = res;
	t->calls++;
}

/* Submit what @prep queued and wait for its completion: its res. */
static int one(struct ring *r, struct top *t)
{
	t->calls = 0;
	for (int i = 0; i < 100 && !t->calls; i++)
		assert_int_equal(ring_turn(r), 0);
	assert_int_equal(t->calls, 1);
	return t->res;
}

static void test_svc_ring_restricted_to_capture_ops(void **state)
{
	struct top t = { .op.done = top_done };
	struct io_uring_sqe *sqe;
	struct eng_features f;
	char buf[8] = "abcdefg";
	struct ring r;
	int p[2];

	for (int restricted = 0; restricted <= 1; restricted++) {
		assert_int_equal(pipe(p), 0);
		assert_int_equal(ring_init_restricted(&r, 8, &f, restricted), 0);
		assert_int_equal(f.restricted, restricted);
		/* Allowed: READ of what is there. */
		assert_int_equal(write(p[1], "x", 1), 1);
		sqe = ring_sqe(&r, &t.op);
		io_uring_prep_read(sqe, p[0], buf, 1, (uint64_t)-1);
		assert_int_equal(one(&r, &t), 1);
		/* Forbidden when restricted: WRITE, NOP, OPENAT, linked SQEs. */
		sqe = ring_sqe(&r, &t.op);
		io_uring_prep_write(sqe, p[1], buf, 4, (uint64_t)-1);
		assert_int_equal(one(&r, &t), restricted ? -EACCES : 4);
		sqe = ring_sqe(&r, &t.op);
		io_uring_prep_nop(sqe);
		assert_int_equal(one(&r, &t), restricted ? -EACCES : 0);
		sqe = ring_sqe(&r, &t.op);
		io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
		if (restricted)
			assert_int_equal(one(&r, &t), -EACCES);
		else
			assert_true(one(&r, &t) >= 0);
		sqe = ring_sqe(&r, &t.op);
		io_uring_prep_read(sqe, p[0], buf, 1, (uint64_t)-1);
		sqe->flags |= IOSQE_IO_DRAIN;
		assert_int_equal(one(&r, &t), restricted ? -EACCES : 1);
		/* ... and every io_uring_register() once enabled. */
		if (restricted) {
			struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

			assert_int_equal(io_uring_register_buffers(&r.uring, &iov, 1),
					 -EACCES);
		}
		ring_exit(&r);
		close(p[0]);
		close(p[1]);
	}
}

/* The engine asks for the restricted ring unless told otherwise. */
static void test_svc_engine_ring_restricted_by_default(void **state)
{
	char path[] = "/tmp/test_svc_eng.XXXXXX";
	struct gcs_writer_opts wo;
	struct gcs_writer *w;
	struct eng_opts eo;
	struct eng *e;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	gcs_writer_opts_init(&wo);
	assert_int_equal(gcs_writer_create(&w, path, &wo,
		"{\"subject\":\"S1\",\"task\":\"walk\",\"appliance\":\"a\",\"software\":\"t\",\"devices\":[]}"), 0);
	eng_opts_init(&eo);
	assert_true(eo.restrict_ops);
	assert_int_equal(eng_create(&e, w, &eo), 0);
	assert_true(eng_features(e)->restricted);
	eng_destroy(e);
	gcs_writer_close(w);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_svc_conf_defaults_and_every_key),
		cmocka_unit_test(test_svc_conf_refusals_name_the_line),
		cmocka_unit_test(test_svc_conf_missing_file_is_the_defaults),
		cmocka_unit_test(test_svc_session_name_is_time_and_code_only),
		cmocka_unit_test(test_svc_peer_allowed_root_self_and_group),
		cmocka_unit_test(test_svc_request_grammar),
		cmocka_unit_test_setup_teardown(test_svc_session_start_status_stop,
						rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_svc_bad_requests_and_second_service,
						rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_svc_peer_outside_group_refused,
						rig_setup, rig_teardown),
		cmocka_unit_test(test_svc_ring_restricted_to_capture_ops),
		cmocka_unit_test(test_svc_engine_ring_restricted_by_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
