// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap capture -o FILE [OPTIONS]: record a session (docs/capture.md).
 *
 * Finds the mat through libiio, reads its buffer's character device with
 * io_uring straight into the session file, and shows a line per stream.
 * SIGINT, SIGTERM and SIGHUP finish the file cleanly; markers come from
 * keys on the terminal or from `gaitcap mark` through the control socket.
 * Exit status: 0 the session was recorded and closed; 1 nothing recorded
 * (usage, no device...); 2 closed, but the capture ended on an error (disk
 * full, device lost); 3 the file could not be closed: run gaitcap recover.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "engine/engine.h"
#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"

#define MAX_SOURCES	8
#define MAX_INSOLES	2

struct capture {
	const char *out;
	const char *subject, *task, *appliance, *protocol, *site, *condition;
	long trial;
	double duration;
	bool mat;
	const char *sources[MAX_SOURCES];
	char src_names[MAX_SOURCES][32];	/* name= of the spec, or srcN */
	int n_sources;
	struct eng_ble_opts ins[MAX_INSOLES];
	int n_ins;
	char ins_adapter[MAX_INSOLES][18];	/* SIDE=ADDR@ADAPTER, or "" */
	double insole_wait;
	const char *adapter;
	struct eng_iio_opts iio;
	struct eng_opts eo;
	struct gcs_writer_opts wo;
	const char *control;
	double status_s;
	bool keys, quiet, probe;
	int rt_priority;		/* SCHED_FIFO priority of the loop, 0: none */

	struct eng *e;
	struct gcs_writer *w;
	bool tty;
	unsigned int lines;		/* status lines drawn last time */
	struct termios saved;
	bool raw;
	unsigned int events, trial_no;
	bool in_trial;
	int64_t t0;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap capture -o FILE --subject CODE [OPTIONS]\n"
		"Record a session: the mat (found through libiio), read with io_uring straight\n"
		"into FILE. Ctrl-C (SIGINT, SIGTERM, SIGHUP) finishes the file cleanly.\n"
		"\n"
		"Session:\n"
		"  -o, --output FILE      the session file to create (never overwritten; a file,\n"
		"                         not - : sessions are mapped, not streamed)\n"
		"      --subject CODE     pseudonymous subject code, required: 1..32 of\n"
		"                         [A-Za-z0-9_-], never a name or a date\n"
		"      --task NAME        task token, e.g. walk_back_and_forth (default walk)\n"
		"      --appliance ID     this box (default: the host name)\n"
		"      --protocol P       study protocol token\n"
		"      --site S           site token\n"
		"      --condition C      condition token\n"
		"      --trial N          trial number, 0..1000000000\n"
		"  -d, --duration S       stop after S seconds, e.g. 30 or 2.5 (default: until\n"
		"                         Ctrl-C)\n"
		"\n"
		"Sources:\n"
		"      --mat DEV          auto (default: the device named gaitmat), iio:deviceN,\n"
		"                         another IIO device name, or none\n"
		"      --source SPEC      another source (repeatable, up to %d):\n"
		"                         fd:PATH,record=N[,seq=OFF][,ts=OFF][,devclk=OFF]\n"
		"                         [,batch=N][,name=S]\n"
		"      --rate HZ|max      mat scan rate (default: keep the mat's)\n"
		"      --buffer N         kernel buffer length in scans, 2..1048576 (default: the\n"
		"                         largest that fits)\n"
		"      --watermark N      scans per wakeup, 1..1048576 (default: about 100 ms,\n"
		"                         at most a quarter of the buffer); 1 also commits\n"
		"                         each insole notification as soon as it arrives\n"
		"      --wait S           wait up to S seconds for the mat to appear (0..3600)\n"
		"      --clock C          IIO timestamp clock: monotonic (default), boottime,\n"
		"                         realtime\n"
		"      --no-reattach      a mat that resets or vanishes ends the capture\n"
		"      --insole SIDE=ADDR[/random][+secure|+plain][@ADAPTER]\n"
		"                         a BLE insole, SIDE left or right, ADDR its Bluetooth\n"
		"                         address (AA:BB:CC:DD:EE:FF), /random for a random\n"
		"                         static one (repeatable: left and right); @ADAPTER\n"
		"                         reaches it through that local controller; the link is\n"
		"                         encrypted when the insole asks (+secure: always,\n"
		"                         +plain: never)\n"
		"      --insole-wait S    an insole never reached within S seconds ends the\n"
		"                         capture, 1..3600 (default 30); lost later, it is\n"
		"                         reconnected\n"
		"      --adapter ADDR     the local Bluetooth controller to use (default: any)\n"
		"\n"
		"Engine:\n"
		"      --sync-ms MS       durability interval, 1..3600000 (default 1000)\n"
		"      --clock-ms MS      clock-offset records, 0 (none)..3600000 (default 1000)\n"
		"      --no-compact       keep raw chunks (no zstd compaction)\n"
		"      --io MODE          auto (default), poll-first, fast-poll, async\n"
		"      --blocking-sync    fdatasync() in the loop instead of IORING_OP_FSYNC\n"
		"      --prefault         touch the file's pages before each read (default)\n"
		"      --no-prefault      let reads fault the file's pages in one by one\n"
		"      --wait-recv        with --watermark 1, keep each insole's receive waiting\n"
		"                         in the kernel (default where io_uring can)\n"
		"      --no-wait-recv     with --watermark 1, poll each insole, then receive\n"
		"      --rt-priority N    run the I/O loop at real-time priority N (SCHED_FIFO,\n"
		"                         1..99; needs CAP_SYS_NICE or an RLIMIT_RTPRIO of N)\n"
		"      --probe            show what io_uring offers here and exit\n"
		"\n"
		"Operator:\n"
		"      --control PATH     marker socket (default " ENG_CTL_DEFAULT_DIR "/"
		ENG_CTL_DEFAULT_NAME "), or none\n"
		"      --status S         status lines every S seconds when not on a terminal\n"
		"                         (default 10; 0: none)\n"
		"      --no-keys          ignore the keyboard\n"
		"  -q, --quiet            no status, only errors and the summary\n"
		"  -h, --help             this help\n"
		"\n"
		"Keys while recording: m or space: event marker; t: trial start/end;\n"
		"s: sync marker; q: stop.\n"
		"Exit status: 0 recorded and closed; 1 nothing recorded (wrong options, no mat);\n"
		"2 closed, but the capture ended on an error (disk full, device lost); 3 the\n"
		"file could not be closed: run gaitcap recover.\n", MAX_SOURCES);
}

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Metadata ------------------------------------------------------------------- */

static bool is_token(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._:/+<>=-", *s)))
			return false;
	return true;
}

/* Add @v to @o under @key; @v is dropped if that fails (or is NULL). */
static int add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_str(struct json_object *o, const char *key, const char *v)
{
	return add(o, key, json_object_new_string(v));
}

/* The session object of the format (section 6): json-c quotes every value. */
static struct json_object *session_object(const struct capture *c,
					  const char *subject)
{
	char host[65] = "";
	const char *appliance = c->appliance;
	struct json_object *o = json_object_new_object(), *devs, *d;
	int ret;

	if (!appliance) {
		if (gethostname(host, sizeof(host) - 1) || !is_token(host, 64))
			strcpy(host, "appliance");
		appliance = host;
	}
	if (!o)
		return NULL;
	ret = add_str(o, "subject", subject) ?: add_str(o, "task", c->task) ?:
	      add_str(o, "appliance", appliance) ?:
	      add_str(o, "software", "gaitcap-" GAITCAP_VERSION);
	if (!ret && c->protocol)
		ret = add_str(o, "protocol", c->protocol);
	if (!ret && c->site)
		ret = add_str(o, "site", c->site);
	if (!ret && c->condition)
		ret = add_str(o, "condition", c->condition);
	if (!ret && c->trial >= 0)
		ret = add(o, "trial", json_object_new_int64(c->trial));
	devs = ret ? NULL : json_object_new_array();
	if (add(o, "devices", devs))
		goto fail;
	for (int i = -1; i < c->n_sources; i++) {
		if (i < 0 && !c->mat)
			continue;
		d = json_object_new_object();
		if (!d || json_object_array_add(devs, d)) {
			json_object_put(d);
			goto fail;
		}
		if (add_str(d, "id", i < 0 ? "mat0" : c->src_names[i]) ||
		    add_str(d, "kind", i < 0 ? "gaitmat" : "fd"))
			goto fail;
	}
	for (int i = 0; i < c->n_ins; i++) {
		char id[24];

		d = json_object_new_object();
		if (!d || json_object_array_add(devs, d)) {
			json_object_put(d);
			goto fail;
		}
		snprintf(id, sizeof(id), "insole-%s", c->ins[i].side);
		if (add_str(d, "id", id) || add_str(d, "kind", "ble_insole"))
			goto fail;
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static char *make_meta(const struct capture *c)
{
	struct json_object *o = session_object(c, c->subject);
	const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	char *meta = s ? strdup(s) : NULL;

	json_object_put(o);
	return meta;
}

/*
 * The privacy policy checks the whole document; to name the option at fault
 * each value is also checked alone, in an otherwise harmless session object.
 * The refused value is not repeated: it may be what must not be logged.
 */
static int check_meta_options(const struct capture *c)
{
	static const char *const keys[] = {
		"subject", "task", "appliance", "protocol", "site", "condition",
	};
	const char *vals[] = {
		c->subject, c->task, c->appliance, c->protocol, c->site,
		c->condition,
	};
	struct capture probe = {
		.task = "walk", .appliance = "appliance", .trial = -1,
	};
	struct json_object *o;
	const char *why = NULL;
	int ret;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!vals[i])
			continue;
		o = session_object(&probe, i ? "S0001" : vals[i]);
		if (!o || (i && add_str(o, keys[i], vals[i]))) {
			json_object_put(o);
			fprintf(stderr, "gaitcap capture: out of memory\n");
			return 1;
		}
		ret = gcs_meta_check(json_object_to_json_string_ext(o,
					JSON_C_TO_STRING_PLAIN), true, &why);
		json_object_put(o);
		if (ret)
			return cli_usage_error("capture",
				"--%s refused by the privacy policy (value not repeated here): %s",
				keys[i], why ? why : gcs_strerror(ret));
	}
	return 0;
}

/* ---- Terminal ------------------------------------------------------------------------ */

static struct capture *g_cap;	/* for the atexit() terminal restore only */

static void restore_tty(void)
{
	if (g_cap && g_cap->raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &g_cap->saved);
		g_cap->raw = false;
	}
}

static void raw_tty(struct capture *c)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &c->saved))
		return;
	t = c->saved;
	/* Keys one at a time, unechoed; Ctrl-C still sends SIGINT. */
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t))
		return;
	c->raw = true;
	g_cap = c;
	atexit(restore_tty);
}

static void mark(struct capture *c, uint32_t code, int64_t value,
		 const char *what)
{
	int ret = eng_marker(c->e, code, GCS_STREAM_NONE, 0, value);

	if (ret)
		fprintf(stderr, "\ngaitcap capture: marker: %s\n", strerror(-ret));
	else if (!c->quiet && !c->tty)
		fprintf(stderr, "gaitcap capture: %s\n", what);
}

static void on_key(struct eng *e, void *ctx, const char *buf, size_t len)
{
	struct capture *c = ctx;

	for (size_t i = 0; i < len; i++) {
		switch (buf[i]) {
		case 'm':
		case 'M':
		case ' ':
			mark(c, GCS_MARK_EVENT, ++c->events, "event marker");
			break;
		case 't':
		case 'T':
			if (c->in_trial) {
				mark(c, GCS_MARK_TRIAL_END, c->trial_no, "trial end");
			} else {
				c->trial_no++;
				mark(c, GCS_MARK_TRIAL_START, c->trial_no,
				     "trial start");
			}
			c->in_trial = !c->in_trial;
			break;
		case 's':
		case 'S':
			mark(c, GCS_MARK_SYNC, 0, "sync marker");
			break;
		case 'q':
		case 'Q':
			eng_stop(e, 0);
			break;
		}
	}
}

/* ---- Status ---------------------------------------------------------------------------- */

static void fmt_bytes(char *buf, size_t len, double b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

static void fmt_dur(char *buf, size_t len, double s)
{
	/* Clamped so the text always fits: 99999 hours is plenty. */
	long t = (long)(s < 0 ? 0 : s > 359999999 ? 359999999 : s);

	if (t >= 3600)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else
		snprintf(buf, len, "%02ld:%02ld", t / 60, t % 60);
}

/* A source that re-attached has older, ended channels: describe it once. */
static bool latest_of_source(struct eng *e, size_t i)
{
	struct eng_source *s = eng_chan_source(eng_chan_at(e, i));

	for (size_t k = i + 1; k < eng_n_chans(e); k++)
		if (eng_chan_source(eng_chan_at(e, k)) == s)
			return false;
	return true;
}

static void status(struct eng *e, void *ctx, int64_t now)
{
	struct capture *c = ctx;
	struct gcs_space sp;
	char disk[64] = "disk ?", left[24], sz[16], dur[24], dev[160];
	size_t n = eng_n_chans(e);

	if (!gcs_writer_space(c->w, now, &sp)) {
		fmt_bytes(sz, sizeof(sz), (double)(sp.fs_avail + sp.prealloc_left));
		if (sp.seconds_left >= 0) {
			fmt_dur(left, sizeof(left), sp.seconds_left);
			snprintf(disk, sizeof(disk), "disk %s (%s)", sz, left);
		} else {
			snprintf(disk, sizeof(disk), "disk %s", sz);
		}
	}
	if (c->tty && c->lines)
		fprintf(stderr, "\033[%uA", c->lines);
	c->lines = 0;
	for (size_t i = 0; i < n; i++) {
		struct eng_chan *ch = eng_chan_at(e, i);
		struct eng_source *s = eng_chan_source(ch);
		struct eng_chan_stats st;

		eng_chan_get_stats(ch, &st);
		fmt_bytes(sz, sizeof(sz), (double)st.bytes);
		/* Committed: what a kill -9 now would keep (docs/capture.md). */
		fmt_dur(dur, sizeof(dur), st.committed_records ?
			(double)(st.committed_t_ns - st.t_first_ns) / 1e9 : 0);
		dev[0] = '\0';
		if (s && s->ops->describe && latest_of_source(e, i))
			s->ops->describe(s, dev, sizeof(dev));
		fprintf(stderr, "%s%-6s %7.1f Hz  frames %-9" PRIu64 " drops %-6" PRIu64
			" gaps %-4" PRIu64 " peak %-5" PRIu32 " %10s  %s  %s%s%s%s\n",
			c->tty ? "\r\033[K" : "gaitcap: ", eng_chan_label(ch),
			st.ended ? 0.0 : st.rate_hz, st.committed_records, st.lost, st.gaps,
			st.peak_records, sz, dur, disk, st.ended ? "  ended" : "",
			*dev ? "  " : "", dev);
		c->lines++;
	}
	if (!n) {
		fprintf(stderr, "%swaiting for a device\n", c->tty ? "\r\033[K" : "gaitcap: ");
		c->lines++;
	}
	if (c->tty) {
		fprintf(stderr, "\r\033[K  %s  [m]ark  [t]rial %s  [s]ync  [q]uit   markers %u\n",
			c->out, c->in_trial ? "end" : "start",
			c->events);
		c->lines++;
	}
}

/* ---- Options ------------------------------------------------------------------------------- */

enum {
	O_MAT = 256, O_SOURCE, O_SUBJECT, O_TASK, O_APPLIANCE, O_PROTOCOL,
	O_SITE, O_CONDITION, O_TRIAL, O_RATE, O_BUFFER, O_WATERMARK, O_WAIT,
	O_CLOCK, O_NO_REATTACH, O_SYNC_MS, O_CLOCK_MS, O_NO_COMPACT, O_IO,
	O_BLOCKING_SYNC, O_CONTROL, O_STATUS, O_NO_KEYS, O_PROBE,
	O_PREFAULT,
	O_NO_PREFAULT,
	O_WAIT_RECV,
	O_NO_WAIT_RECV,
	O_INSOLE, O_INSOLE_WAIT, O_ADAPTER,
	O_RT_PRIORITY,
};

const struct option cmd_capture_options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "mat", required_argument, NULL, O_MAT },
	{ "source", required_argument, NULL, O_SOURCE },
	{ "duration", required_argument, NULL, 'd' },
	{ "subject", required_argument, NULL, O_SUBJECT },
	{ "task", required_argument, NULL, O_TASK },
	{ "appliance", required_argument, NULL, O_APPLIANCE },
	{ "protocol", required_argument, NULL, O_PROTOCOL },
	{ "site", required_argument, NULL, O_SITE },
	{ "condition", required_argument, NULL, O_CONDITION },
	{ "trial", required_argument, NULL, O_TRIAL },
	{ "rate", required_argument, NULL, O_RATE },
	{ "buffer", required_argument, NULL, O_BUFFER },
	{ "watermark", required_argument, NULL, O_WATERMARK },
	{ "wait", required_argument, NULL, O_WAIT },
	{ "clock", required_argument, NULL, O_CLOCK },
	{ "no-reattach", no_argument, NULL, O_NO_REATTACH },
	{ "insole", required_argument, NULL, O_INSOLE },
	{ "insole-wait", required_argument, NULL, O_INSOLE_WAIT },
	{ "adapter", required_argument, NULL, O_ADAPTER },
	{ "sync-ms", required_argument, NULL, O_SYNC_MS },
	{ "clock-ms", required_argument, NULL, O_CLOCK_MS },
	{ "no-compact", no_argument, NULL, O_NO_COMPACT },
	{ "io", required_argument, NULL, O_IO },
	{ "blocking-sync", no_argument, NULL, O_BLOCKING_SYNC },
	{ "prefault", no_argument, NULL, O_PREFAULT },
	{ "no-prefault", no_argument, NULL, O_NO_PREFAULT },
	{ "wait-recv", no_argument, NULL, O_WAIT_RECV },
	{ "no-wait-recv", no_argument, NULL, O_NO_WAIT_RECV },
	{ "rt-priority", required_argument, NULL, O_RT_PRIORITY },
	{ "control", required_argument, NULL, O_CONTROL },
	{ "status", required_argument, NULL, O_STATUS },
	{ "no-keys", no_argument, NULL, O_NO_KEYS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "probe", no_argument, NULL, O_PROBE },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

#define NUM(opt, lo, hi, what, out) \
	cli_num("capture", opt, optarg, lo, hi, what, out)

/* name=S of a source spec, if it has one (the spec itself was checked). */
static const char *spec_name(const char *spec)
{
	const char *p = strstr(spec, ",name=");

	while (p && strstr(p + 1, ",name="))
		p = strstr(p + 1, ",name=");	/* the last one wins, as in src_fd */
	return p ? p + 6 : NULL;
}

static int check_insole(struct capture *c, const char *spec)
{
	struct eng_ble_opts *o = &c->ins[c->n_ins];
	char *ad = c->ins_adapter[c->n_ins];
	const char *why, *at = strchr(spec, '@');
	char head[64];
	uint8_t b[6];

	if (c->n_ins == MAX_INSOLES)
		return cli_usage_error("capture", "too many --insole: at most %d (left and right)",
				       MAX_INSOLES);
	eng_ble_opts_init(o);
	ad[0] = '\0';
	/* @ADAPTER: one controller per insole (docs/capture.md, "Insoles"). */
	if (at) {
		if ((size_t)(at - spec) >= sizeof(head) || strlen(at + 1) != 17 ||
		    eng_ble_addr_parse(at + 1, b))
			return cli_usage_error("capture", "invalid --insole '%s': %s", spec,
					       "@ADAPTER must be a Bluetooth address, AA:BB:CC:DD:EE:FF");
		memcpy(head, spec, (size_t)(at - spec));
		head[at - spec] = '\0';
		memcpy(ad, at + 1, 18);
		spec = head;
	}
	if (eng_ble_parse(spec, o, &why))
		return cli_usage_error("capture", "invalid --insole '%s': %s", spec,
				       why);
	for (int k = 0; k < c->n_ins; k++) {
		if (!strcmp(c->ins[k].side, o->side))
			return cli_usage_error("capture", "--insole %s given twice",
					       o->side);
		if (!strcasecmp(c->ins[k].bdaddr, o->bdaddr))
			return cli_usage_error("capture", "--insole: %s is both insoles",
					       o->bdaddr);
	}
	c->n_ins++;
	return 0;
}

static int check_source(struct capture *c, const char *spec)
{
	static const char accepted[] =
		"fd:PATH,record=N[,seq=OFF][,ts=OFF][,devclk=OFF][,batch=N][,name=S]";
	struct eng_source *s;
	const char *why, *name;
	char *n;
	int i = c->n_sources, ret;

	if (i == MAX_SOURCES)
		return cli_usage_error("capture", "too many --source: at most %d",
				       MAX_SOURCES);
	ret = eng_source_fd_create_why(&s, spec, &why);
	if (ret == -EINVAL)
		return cli_usage_error("capture", "invalid --source '%s': %s; expected %s",
				       spec, why, accepted);
	if (ret) {
		fprintf(stderr, "gaitcap capture: --source: %s\n", strerror(-ret));
		return 1;
	}
	s->ops->destroy(s);
	name = spec_name(spec);
	n = c->src_names[i];
	if (name)
		snprintf(n, sizeof(c->src_names[i]), "%.*s",
			 (int)strcspn(name, ","), name);
	else
		snprintf(n, sizeof(c->src_names[i]), "src%d", i);
	if (name && (!*n || strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789_-") != strlen(n)))
		return cli_usage_error("capture", "invalid name= in --source '%s': expected 1..31 of [A-Za-z0-9_-]",
				       spec);
	for (int k = 0; k <= i; k++)
		if (k < i ? !strcmp(c->src_names[k], n) : !strcmp(n, "mat0"))
			return cli_usage_error("capture", "--source name '%s' is used twice",
					       n);
	c->sources[c->n_sources++] = spec;
	return 0;
}

/* 0, or the exit status after saying what was wrong. */
static int parse(struct capture *c, int argc, char **argv)
{
	bool mat_given = false;
	double v;
	int o, ret;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":o:d:qh", cmd_capture_options,
				NULL)) != -1) {
		switch (o) {
		case 'o':
			c->out = optarg;
			break;
		case O_MAT:
			mat_given = true;
			if (!*optarg)
				return cli_bad_value("capture", "--mat", optarg,
						     "auto, iio:deviceN, a device name or none");
			c->mat = strcmp(optarg, "none");
			c->iio.device = strcmp(optarg, "auto") ? optarg : NULL;
			break;
		case O_SOURCE:
			ret = check_source(c, optarg);
			if (ret)
				return ret;
			break;
		case O_INSOLE:
			ret = check_insole(c, optarg);
			if (ret)
				return ret;
			break;
		case O_INSOLE_WAIT:
			if (NUM("--insole-wait", 1, 3600, "seconds, 1..3600",
				&c->insole_wait))
				return 1;
			break;
		case O_ADAPTER: {
			uint8_t b[6];

			if (eng_ble_addr_parse(optarg, b))
				return cli_bad_value("capture", "--adapter", optarg,
						     "a Bluetooth address, AA:BB:CC:DD:EE:FF");
			c->adapter = optarg;
			break;
		}
		case 'd':
			if (NUM("--duration", 0.001, 1e7,
				"seconds, e.g. 30 or 2.5", &c->duration))
				return 1;
			break;
		case O_SUBJECT:
			c->subject = optarg;
			break;
		case O_TASK:
			c->task = optarg;
			break;
		case O_APPLIANCE:
			c->appliance = optarg;
			break;
		case O_PROTOCOL:
			c->protocol = optarg;
			break;
		case O_SITE:
			c->site = optarg;
			break;
		case O_CONDITION:
			c->condition = optarg;
			break;
		case O_TRIAL:
			if (NUM("--trial", 0, 1e9, "a trial number, 0..1000000000", &v) ||
			    (v != (long)v &&
			     cli_bad_value("capture", "--trial", optarg,
					   "a whole number, 0..1000000000")))
				return 1;
			c->trial = (long)v;
			break;
		case O_RATE:
			if (!strcmp(optarg, "max")) {
				c->iio.rate_hz = UINT_MAX;
				break;
			}
			if (NUM("--rate", 1, 1e6, "a rate in Hz (e.g. 100) or max", &v))
				return 1;
			c->iio.rate_hz = (unsigned int)v;
			break;
		case O_BUFFER:
			if (NUM("--buffer", 2, 1 << 20, "scans, 2..1048576", &v))
				return 1;
			c->iio.buffer_length = (unsigned int)v;
			break;
		case O_WATERMARK:
			if (NUM("--watermark", 1, 1 << 20, "scans, 1..1048576", &v))
				return 1;
			c->iio.watermark = (unsigned int)v;
			break;
		case O_WAIT:
			if (NUM("--wait", 0, 3600, "seconds, 0..3600", &v))
				return 1;
			c->iio.wait_ms = (unsigned int)(v * 1000);
			break;
		case O_CLOCK:
			if (strcmp(optarg, "monotonic") && strcmp(optarg, "boottime") &&
			    strcmp(optarg, "realtime"))
				return cli_bad_value("capture", "--clock", optarg,
						     "monotonic, boottime or realtime");
			c->iio.clock = optarg;
			break;
		case O_NO_REATTACH:
			c->iio.no_reattach = true;
			break;
		case O_SYNC_MS:
			if (NUM("--sync-ms", 1, 3600000,
				"milliseconds, 1..3600000 (e.g. 1000)", &v))
				return 1;
			c->wo.sync_interval_ms = (uint32_t)v;
			c->eo.sync_interval_ms = (uint32_t)v;
			break;
		case O_CLOCK_MS:
			if (NUM("--clock-ms", 0, 3600000,
				"milliseconds, 0 (no clock records)..3600000", &v))
				return 1;
			c->eo.clock_interval_ms = (uint32_t)v;
			break;
		case O_NO_COMPACT:
			c->wo.no_compact = true;
			c->eo.no_compact = true;
			break;
		case O_IO:
			if (eng_io_mode_parse(optarg, &c->eo.io_mode))
				return cli_bad_value("capture", "--io", optarg,
						     "auto, poll-first, fast-poll or async");
			break;
		case O_BLOCKING_SYNC:
			c->eo.blocking_sync = true;
			break;
		case O_PREFAULT:
			c->eo.prefault = true;
			break;
		case O_NO_PREFAULT:
			c->eo.prefault = false;
			break;
		case O_WAIT_RECV:
			c->eo.wait_recv = true;
			break;
		case O_NO_WAIT_RECV:
			c->eo.wait_recv = false;
			break;
		case O_RT_PRIORITY:
			if (NUM("--rt-priority", 1, 99, "a SCHED_FIFO priority, 1..99", &v) ||
			    (v != (int)v &&
			     cli_bad_value("capture", "--rt-priority", optarg,
					   "a whole number, 1..99")))
				return 1;
			c->rt_priority = (int)v;
			break;
		case O_CONTROL:
			c->control = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case O_STATUS:
			if (NUM("--status", 0, 3600,
				"seconds between status lines, 0 (none)..3600",
				&c->status_s))
				return 1;
			break;
		case O_NO_KEYS:
			c->keys = false;
			break;
		case 'q':
			c->quiet = true;
			break;
		case O_PROBE:
			c->probe = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return cli_getopt_error("capture", argv, o);
		}
	}
	if (optind != argc)
		return cli_usage_error("capture", "unexpected argument '%s' (the session file is given with -o FILE)",
				       argv[optind]);
	if (!mat_given)
		c->mat = !c->n_sources;
	if (c->probe)
		return 0;
	if (!c->out)
		return cli_usage_error("capture", "no session file: give -o FILE, e.g. -o walk-017.gcs");
	if (cli_out_path("capture", "-o", c->out))
		return 1;
	if (!c->mat && !c->n_sources && !c->n_ins)
		return cli_usage_error("capture", "nothing to record: --mat none and no --source or --insole");
	if (!c->subject)
		return cli_usage_error("capture", "no --subject: the format requires the subject's pseudonymous code, e.g. --subject P017 (never a name)");
	return check_meta_options(c);
}

static int probe(const struct capture *c)
{
	struct eng_features f;
	int ret = eng_probe(&c->eo, &f);

	if (ret) {
		fprintf(stderr, "gaitcap capture: io_uring: %s\n", strerror(-ret));
		return 1;
	}
	printf("io_uring opcodes: READ %s, READV %s, POLL_ADD %s, FSYNC %s, RECVMSG %s, SENDMSG %s, ASYNC_CANCEL %s\n",
	       f.op_read ? "yes" : "no", f.op_readv ? "yes" : "no",
	       f.op_poll_add ? "yes" : "no", f.op_fsync ? "yes" : "no",
	       f.op_recvmsg ? "yes" : "no", f.op_sendmsg ? "yes" : "no",
	       f.op_async_cancel ? "yes" : "no");
	printf("io_uring features: FAST_POLL %s, NODROP %s, SUBMIT_STABLE %s, EXT_ARG %s, RW_CUR_POS %s\n",
	       f.feat_fast_poll ? "yes" : "no", f.feat_nodrop ? "yes" : "no",
	       f.feat_submit_stable ? "yes" : "no", f.feat_ext_arg ? "yes" : "no",
	       f.feat_rw_cur_pos ? "yes" : "no");
	printf("capture would use: reads %s (%s), durability sync %s, compaction %s\n",
	       eng_io_mode_name(f.io_mode), f.read_op ? "IORING_OP_READ" : "IORING_OP_READV",
	       f.sync_on_ring ? "IORING_OP_FSYNC on the ring" : "fdatasync() in the loop",
	       f.compact_thread ? "on a worker thread" : "inline");
	printf("insoles with --watermark 1: %s\n", f.wait_recv ?
	       "IORING_OP_RECVMSG waiting in the kernel" : "poll, then receive");
	return 0;
}

/* Why a stream or the capture ended, in the words an operator needs. */
static const char *end_words(int err)
{
	switch (err) {
	case -ENOSPC:
		return "ENOSPC (disk full; everything committed was kept)";
	case -EPROTO:
		return "EPROTO (a sequence number went backwards, or a read was not "
		       "whole records: the device restarted or its record size is wrong)";
	case -ENODEV:
		return "ENODEV (the device went away)";
	default:
		return cli_err_words(err);
	}
}

/*
 * The loop thread alone goes real-time: SCHED_RESET_ON_FORK puts every
 * thread it creates later (compaction, io_uring workers) back to normal,
 * so zstd never runs at a priority that starves the rest of the box.
 * Done before the file is made: a refusal leaves nothing behind.
 */
static int set_rt_priority(int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	if (!sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
		return 0;
	if (errno == EPERM)
		fprintf(stderr, "gaitcap capture: --rt-priority %d: not permitted: needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least %d (systemd: LimitRTPRIO=%d and RestrictRealtime=no)\n",
			prio, prio, prio);
	else
		fprintf(stderr, "gaitcap capture: --rt-priority %d: %s\n",
			prio, strerror(errno));
	return 1;
}

/* ---- Summary ------------------------------------------------------------------------------- */

static void summary(struct capture *c, int run_err)
{
	size_t n = eng_n_chans(c->e);
	struct eng_stats es;

	eng_get_stats(c->e, &es);
	for (size_t i = 0; i < n; i++) {
		struct eng_chan *ch = eng_chan_at(c->e, i);
		struct eng_chan_stats st;
		char sz[16];

		eng_chan_get_stats(ch, &st);
		fmt_bytes(sz, sizeof(sz), (double)st.bytes);
		fprintf(stderr, "gaitcap capture: %s (stream %u): %" PRIu64
			" frames (seq %" PRIu64 "..%" PRIu64 "), %s, %" PRIu64
			" lost in %" PRIu64 " gaps (%" PRIu64 " kernel, %" PRIu64
			" device), %" PRIu64 " chunks, %" PRIu64 " reads (at most %"
			PRIu32 " frames, %.0f ms apart)%s%s\n",
			eng_chan_label(ch), eng_chan_stream(ch), st.records,
			st.first_seq, st.last_seq, sz, st.lost, st.gaps,
			st.lost_kernel, st.lost_device, st.chunks, st.reads,
			st.peak_records, st.read_gap_ns_max / 1e6,
			st.end_err ? ", ended: " : "",
			st.end_err ? end_words(st.end_err) : "");
	}
	for (size_t i = 0; i < eng_n_sources(c->e); i++) {
		struct eng_source *s = eng_source_at(c->e, i);
		char dev[160];

		if (s->ops->describe && s->ops->describe(s, dev, sizeof(dev)) > 0)
			fprintf(stderr, "gaitcap capture: %s: %s\n", s->name, dev);
		/* What went wrong last, in words: why an insole was not there. */
		if (run_err && *s->why)
			fprintf(stderr, "gaitcap capture: %s\n", s->why);
	}
	fprintf(stderr, "gaitcap capture: %" PRIu64 " durability syncs (longest %.1f ms), %"
		PRIu64 " compactions, %" PRIu64 " markers%s%s\n",
		es.syncs, es.sync_ns_max / 1e6, es.compactions, es.markers,
		run_err ? "; stopped by: " : "",
		run_err ? end_words(run_err) : "");
}

/* An insole needs a controller: say so before a file is made. */
static bool bluetooth_present(void)
{
	DIR *d = opendir("/sys/class/bluetooth");
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d)))
		found = !strncmp(de->d_name, "hci", 3);
	closedir(d);
	return found;
}

static bool ring_busy(struct eng *e)
{
	struct eng_stats es;

	eng_get_stats(e, &es);
	return es.inflight;
}

int cmd_capture(int argc, char **argv)
{
	struct capture c = {
		.task = "walk", .trial = -1, .keys = true,
		.control = ENG_CTL_DEFAULT_DIR "/" ENG_CTL_DEFAULT_NAME,
		.status_s = 10, .insole_wait = 30,
	};
	struct eng_source *s;
	const char *why;
	char *meta = NULL;
	int ret, run_err, rc = 1;
	bool started = false;

	eng_iio_opts_init(&c.iio);
	eng_opts_init(&c.eo);
	gcs_writer_opts_init(&c.wo);
	ret = parse(&c, argc, argv);
	if (ret)
		return ret;
	if (c.probe)
		return probe(&c);
	if (c.rt_priority && set_rt_priority(c.rt_priority))
		return 1;
	meta = make_meta(&c);
	if (!meta) {
		fprintf(stderr, "gaitcap capture: out of memory\n");
		return 1;
	}
	if (c.n_ins && !bluetooth_present()) {
		fprintf(stderr, "gaitcap capture: --insole: no Bluetooth adapter here (/sys/class/bluetooth has no hci device; is the controller plugged in and its driver loaded?)\n");
		goto out_meta;
	}
	ret = gcs_meta_check(meta, true, &why);
	if (ret) {
		fprintf(stderr, "gaitcap capture: metadata refused: %s\n",
			why ? why : gcs_strerror(ret));
		goto out_meta;
	}
	ret = gcs_writer_create(&c.w, c.out, &c.wo, meta);
	if (ret) {
		fprintf(stderr, "gaitcap capture: %s: %s\n", c.out,
			ret == -EEXIST ? "exists (a session is never overwritten)" :
					 gcs_strerror(ret));
		goto out_meta;
	}
	ret = eng_create(&c.e, c.w, &c.eo);
	if (ret) {
		fprintf(stderr, "gaitcap capture: io_uring: %s\n", strerror(-ret));
		goto out_writer;
	}
	/* Before any thread or device: signals go to the ring from now on. */
	ret = eng_watch_signals(c.e);
	if (ret) {
		fprintf(stderr, "gaitcap capture: signalfd: %s\n", strerror(-ret));
		goto out_engine;
	}
	signal(SIGPIPE, SIG_IGN);
	if (c.mat) {
		ret = eng_source_iio_create(&s, &c.iio);
		if (ret) {
			fprintf(stderr, "gaitcap capture: mat: %s\n",
				cli_err_words(ret));
			goto out_engine;
		}
		ret = eng_add_source(c.e, s);
		if (ret) {
			fprintf(stderr, "gaitcap capture: mat: %s\n",
				*s->why ? s->why : strerror(-ret));
			goto out_engine;
		}
	}
	for (int i = 0; i < c.n_ins; i++) {
		c.ins[i].wait_ms = (unsigned int)(c.insole_wait * 1000);
		c.ins[i].adapter = c.ins_adapter[i][0] ? c.ins_adapter[i] : c.adapter;
		/* The lowest latency for every source (docs/latency.md). */
		c.ins[i].commit_each = c.iio.watermark == 1;
		ret = eng_source_ble_create(&s, &c.ins[i]);
		if (!ret)
			ret = eng_add_source(c.e, s);
		if (ret) {
			fprintf(stderr, "gaitcap capture: insole %s: %s\n",
				c.ins[i].side, strerror(-ret));
			goto out_engine;
		}
	}
	for (int i = 0; i < c.n_sources; i++) {
		ret = eng_source_fd_create(&s, c.sources[i]);
		if (ret) {
			fprintf(stderr, "gaitcap capture: --source %s: %s\n",
				c.sources[i], strerror(-ret));
			goto out_engine;
		}
		snprintf(s->name, sizeof(s->name), "%s", c.src_names[i]);
		ret = eng_add_source(c.e, s);
		if (ret) {
			fprintf(stderr, "gaitcap capture: --source %s: %s\n",
				c.sources[i], *s->why ? s->why : strerror(-ret));
			goto out_engine;
		}
	}
	if (c.control) {
		ret = eng_control_listen(c.e, c.control);
		if (ret) {
			fprintf(stderr, "gaitcap capture: control socket %s: %s\n",
				c.control, ret == -EADDRINUSE ?
				"another capture is running (use --control PATH)" :
				strerror(-ret));
			goto out_engine;
		}
	}
	c.tty = isatty(STDERR_FILENO) && !c.quiet;
	if (c.keys && isatty(STDIN_FILENO)) {
		raw_tty(&c);
		eng_watch_input(c.e, STDIN_FILENO, on_key, &c);
	}
	if (c.tty)
		eng_set_tick(c.e, 1000, status, &c);
	else if (!c.quiet && c.status_s > 0)
		eng_set_tick(c.e, (uint32_t)(c.status_s * 1000), status, &c);
	eng_marker(c.e, GCS_MARK_SESSION_START, GCS_STREAM_NONE, 0, 0);
	if (!c.quiet)
		fprintf(stderr, "gaitcap capture: recording %s (Ctrl-C to stop)\n",
			c.out);
	started = true;
	c.t0 = mono_now();
	run_err = eng_run(c.e, c.duration > 0 ?
			  c.t0 + (int64_t)(c.duration * 1e9) : 0);
	restore_tty();
	eng_stop_sources(c.e);
	if (c.tty && !c.quiet)
		status(c.e, &c, mono_now());
	if (eng_stop_signal(c.e) && !c.quiet)
		fprintf(stderr, "gaitcap capture: %s: finishing the file\n",
			strsignal(eng_stop_signal(c.e)));
	summary(&c, run_err);
	if (ring_busy(c.e)) {
		/*
		 * The ring failed with reads still in flight into the file's
		 * mapping: closing (or unmapping) it now could let the kernel
		 * write elsewhere. Leave it as a killed capture would.
		 */
		fprintf(stderr, "gaitcap capture: the ring failed with reads in flight; %s left open: run gaitcap recover %s\n",
			c.out, c.out);
		free(meta);
		return 3;
	}
	ret = gcs_writer_close(c.w);
	if (ret == -EBUSY)
		gcs_writer_abort(c.w);	/* a sync never finished: as if killed */
	c.w = NULL;
	if (ret) {
		fprintf(stderr, "gaitcap capture: closing %s: %s; run gaitcap recover %s\n",
			c.out, gcs_strerror(ret), c.out);
		rc = 3;
	} else {
		fprintf(stderr, "gaitcap capture: %s closed\n", c.out);
		rc = run_err ? 2 : 0;
	}

out_engine:
	restore_tty();
	if (c.e)
		eng_stop_sources(c.e);
	if (c.w) {
		/* Nothing was recorded: leave no empty session behind. */
		if (gcs_writer_close(c.w) == 0 && !started)
			unlink(c.out);
		c.w = NULL;
	}
	eng_destroy(c.e);
out_writer:
	if (c.w) {
		gcs_writer_close(c.w);
		unlink(c.out);
	}
out_meta:
	free(meta);
	return rc;
}
