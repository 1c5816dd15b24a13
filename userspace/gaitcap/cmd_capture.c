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
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"

#define MAX_SOURCES	8

struct capture {
	const char *out;
	const char *subject, *task, *appliance, *protocol, *site, *condition;
	long trial;
	double duration;
	bool mat;
	const char *sources[MAX_SOURCES];
	int n_sources;
	struct eng_iio_opts iio;
	struct eng_opts eo;
	struct gcs_writer_opts wo;
	const char *control;
	double status_s;
	bool keys, quiet, probe;

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
		"Usage: gaitcap capture -o FILE [OPTIONS]\n"
		"Record a session: the mat (found through libiio), read with io_uring straight\n"
		"into FILE. Ctrl-C (SIGINT, SIGTERM) finishes the file cleanly.\n"
		"\n"
		"  -o, --output FILE      session file to create (never overwritten)\n"
		"      --mat DEV          auto (a device named gaitmat), iio:deviceN, or none\n"
		"      --source SPEC      another source, e.g. fd:PATH,record=N[,seq=OFF][,ts=OFF]\n"
		"  -d, --duration S       stop after S seconds\n"
		"      --subject ID       pseudonymous subject code (no names)\n"
		"      --task NAME        task token, e.g. walk_back_and_forth (default walk)\n"
		"      --appliance ID     this box (default: the host name)\n"
		"      --protocol P, --site S, --condition C, --trial N   more session metadata\n"
		"      --rate HZ|max      mat scan rate (default: keep the mat's)\n"
		"      --buffer N         kernel buffer length in scans (default: largest)\n"
		"      --watermark N      scans per wakeup (default: about 20 ms)\n"
		"      --wait S           wait up to S seconds for the mat to appear\n"
		"      --clock C          IIO timestamp clock: monotonic (default), boottime\n"
		"      --no-reattach      a mat that resets or vanishes ends the capture\n"
		"      --sync-ms MS       durability interval (default 1000)\n"
		"      --clock-ms MS      clock-offset records (default 1000)\n"
		"      --no-compact       keep raw chunks (no zstd compaction)\n"
		"      --io MODE          auto, poll-first, fast-poll, async\n"
		"      --blocking-sync    fdatasync() in the loop instead of IORING_OP_FSYNC\n"
		"      --no-prefault      let reads fault the file's pages in one by one\n"
		"      --control PATH     marker socket (default " ENG_CTL_DEFAULT_DIR "/"
		ENG_CTL_DEFAULT_NAME "), or none\n"
		"      --status S         status lines every S seconds when not on a terminal\n"
		"      --no-keys          ignore the keyboard\n"
		"  -q, --quiet            no status, only errors and the summary\n"
		"      --probe            show what io_uring offers here and exit\n"
		"\n"
		"Keys while recording: m or space: event marker; t: trial start/end;\n"
		"s: sync marker; q: stop.\n");
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

static void put(char *buf, size_t len, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	*used += n > 0 ? (size_t)n : 0;
}

/* Session metadata; gcs_meta_check() then applies the privacy policy. */
static char *make_meta(struct capture *c)
{
	char host[65] = "", buf[2048];
	const char *appliance = c->appliance;
	size_t used = 0;

	if (!appliance) {
		if (gethostname(host, sizeof(host) - 1) || !is_token(host, 64))
			strcpy(host, "appliance");
		appliance = host;
	}
	put(buf, sizeof(buf), &used,
	    "{\"subject\":\"%s\",\"task\":\"%s\",\"appliance\":\"%s\","
	    "\"software\":\"gaitcap-" GAITCAP_VERSION "\",\"devices\":[",
	    c->subject, c->task, appliance);
	if (c->mat)
		put(buf, sizeof(buf), &used, "{\"id\":\"mat0\",\"kind\":\"gaitmat\"}");
	for (int i = 0; i < c->n_sources; i++)
		put(buf, sizeof(buf), &used, "%s{\"id\":\"src%d\",\"kind\":\"fd\"}",
		    c->mat || i ? "," : "", i);
	put(buf, sizeof(buf), &used, "]");
	if (c->protocol)
		put(buf, sizeof(buf), &used, ",\"protocol\":\"%s\"", c->protocol);
	if (c->site)
		put(buf, sizeof(buf), &used, ",\"site\":\"%s\"", c->site);
	if (c->condition)
		put(buf, sizeof(buf), &used, ",\"condition\":\"%s\"", c->condition);
	if (c->trial >= 0)
		put(buf, sizeof(buf), &used, ",\"trial\":%ld", c->trial);
	put(buf, sizeof(buf), &used, "}");
	return used < sizeof(buf) ? strdup(buf) : NULL;
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
};

static int num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse(struct capture *c, int argc, char **argv)
{
	static const struct option opts[] = {
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
		{ "sync-ms", required_argument, NULL, O_SYNC_MS },
		{ "clock-ms", required_argument, NULL, O_CLOCK_MS },
		{ "no-compact", no_argument, NULL, O_NO_COMPACT },
		{ "io", required_argument, NULL, O_IO },
		{ "blocking-sync", no_argument, NULL, O_BLOCKING_SYNC },
		{ "prefault", no_argument, NULL, O_PREFAULT },
		{ "no-prefault", no_argument, NULL, O_NO_PREFAULT },
		{ "control", required_argument, NULL, O_CONTROL },
		{ "status", required_argument, NULL, O_STATUS },
		{ "no-keys", no_argument, NULL, O_NO_KEYS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "probe", no_argument, NULL, O_PROBE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool mat_given = false;
	double v;
	int o;

	while ((o = getopt_long(argc, argv, "o:d:qh", opts, NULL)) != -1) {
		switch (o) {
		case 'o':
			c->out = optarg;
			break;
		case O_MAT:
			mat_given = true;
			c->mat = strcmp(optarg, "none");
			c->iio.device = strcmp(optarg, "auto") ? optarg : NULL;
			break;
		case O_SOURCE:
			if (c->n_sources == MAX_SOURCES)
				return -E2BIG;
			c->sources[c->n_sources++] = optarg;
			break;
		case 'd':
			if (num(optarg, 0.001, 1e7, &c->duration))
				return -EINVAL;
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
			if (num(optarg, 0, 1e9, &v))
				return -EINVAL;
			c->trial = (long)v;
			break;
		case O_RATE:
			if (!strcmp(optarg, "max")) {
				c->iio.rate_hz = UINT_MAX;
				break;
			}
			if (num(optarg, 1, 1e6, &v))
				return -EINVAL;
			c->iio.rate_hz = (unsigned int)v;
			break;
		case O_BUFFER:
			if (num(optarg, 2, 1 << 20, &v))
				return -EINVAL;
			c->iio.buffer_length = (unsigned int)v;
			break;
		case O_WATERMARK:
			if (num(optarg, 1, 1 << 20, &v))
				return -EINVAL;
			c->iio.watermark = (unsigned int)v;
			break;
		case O_WAIT:
			if (num(optarg, 0, 3600, &v))
				return -EINVAL;
			c->iio.wait_ms = (unsigned int)(v * 1000);
			break;
		case O_CLOCK:
			c->iio.clock = optarg;
			break;
		case O_NO_REATTACH:
			c->iio.no_reattach = true;
			break;
		case O_SYNC_MS:
			if (num(optarg, 1, 3600000, &v))
				return -EINVAL;
			c->wo.sync_interval_ms = (uint32_t)v;
			c->eo.sync_interval_ms = (uint32_t)v;
			break;
		case O_CLOCK_MS:
			if (num(optarg, 0, 3600000, &v))
				return -EINVAL;
			c->eo.clock_interval_ms = (uint32_t)v;
			break;
		case O_NO_COMPACT:
			c->wo.no_compact = true;
			c->eo.no_compact = true;
			break;
		case O_IO:
			if (eng_io_mode_parse(optarg, &c->eo.io_mode))
				return -EINVAL;
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
		case O_CONTROL:
			c->control = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case O_STATUS:
			if (num(optarg, 0, 3600, &c->status_s))
				return -EINVAL;
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
			return -EINVAL;
		}
	}
	if (optind != argc)
		return -EINVAL;
	if (!mat_given)
		c->mat = !c->n_sources;
	if (c->probe)
		return 0;
	if (!c->out || (!c->mat && !c->n_sources))
		return -EINVAL;
	return 0;
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
	return 0;
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
			st.end_err ? strerror(-st.end_err) : "");
	}
	for (size_t i = 0; i < eng_n_sources(c->e); i++) {
		struct eng_source *s = eng_source_at(c->e, i);
		char dev[160];

		if (s->ops->describe && s->ops->describe(s, dev, sizeof(dev)) > 0)
			fprintf(stderr, "gaitcap capture: %s: %s\n", s->name, dev);
	}
	fprintf(stderr, "gaitcap capture: %" PRIu64 " durability syncs (longest %.1f ms), %"
		PRIu64 " compactions, %" PRIu64 " markers%s%s\n",
		es.syncs, es.sync_ns_max / 1e6, es.compactions, es.markers,
		run_err ? "; stopped by: " : "",
		run_err ? (run_err == -ENOSPC ? "disk full" :
			   gcs_strerror(run_err)) : "");
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
		.subject = "none", .task = "walk", .trial = -1, .keys = true,
		.control = ENG_CTL_DEFAULT_DIR "/" ENG_CTL_DEFAULT_NAME,
		.status_s = 10,
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
	if (ret) {
		usage(stderr);
		return 1;
	}
	if (c.probe)
		return probe(&c);
	meta = make_meta(&c);
	if (!meta) {
		fprintf(stderr, "gaitcap capture: out of memory\n");
		return 1;
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
			fprintf(stderr, "gaitcap capture: mat: %s\n", strerror(-ret));
			goto out_engine;
		}
		ret = eng_add_source(c.e, s);
		if (ret) {
			fprintf(stderr, "gaitcap capture: mat: %s\n",
				*s->why ? s->why : strerror(-ret));
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
		snprintf(s->name, sizeof(s->name), "src%d", i);
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
