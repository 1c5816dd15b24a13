// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap service: the appliance's capture daemon (docs/operating.md).
 *
 * Idle, it waits in poll() for the control socket, udev and signals. A
 * session is one capture engine (the path `gaitcap capture` takes) whose
 * loop then runs the service too: every 100 ms its tick answers the
 * control socket, reads udev's monitor and reports. One thread, so no
 * engine call ever comes from two threads.
 *
 * Journal: stderr lines with a syslog priority prefix ("<4>..."), which
 * systemd's journal stream parses (SyslogLevelPrefix= defaults to on);
 * on a terminal they stay readable. systemd: sd_notify(READY=1, STATUS=).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libudev.h>
#include <systemd/sd-daemon.h>

#include "engine/engine.h"
#include "gaitcap/gaitcap.h"
#include "service/service.h"
#include "session/gcsession.h"

#define MAX_CONNS	8
#define MAX_WATCH	32	/* channels and sources whose alarms are kept */
#define CONN_WAIT_NS	2000000000ll	/* a client that connects and says nothing */

enum { LOG_CRIT_ = 2, LOG_ERR_ = 3, LOG_WARN_ = 4, LOG_NOTICE_ = 5, LOG_INFO_ = 6 };

struct conn {
	int fd;
	uid_t uid;
	int64_t t;
	bool refused;		/* SO_PEERCRED: not root, us or our group */
};

struct svc {
	const struct svc_opts *o;
	struct svc_conf conf;
	int lfd, sigfd;
	uid_t uid;
	gid_t gid;
	struct udev *udev;
	struct udev_monitor *mon;
	int mon_fd;
	struct conn conns[MAX_CONNS];
	size_t n_conns;
	bool quit;
	char mat_name[64];		/* the IIO name a mat has */

	/* The session, while one records. */
	struct eng *e;
	struct gcs_writer *w;
	struct eng_source *mat;
	struct eng_source *insoles[2];	/* left, right: as configured */
	char path[PATH_MAX], name[80], task[65];
	int64_t t0, next_status, next_alarm;
	int stop_fd;			/* STOP's connection, answered once closed */
	bool silent_warned[MAX_WATCH];
	bool ended_logged[MAX_WATCH];
	int64_t chan_t0[MAX_WATCH];	/* when the tick first saw channel i */
	uint64_t gaps_logged[MAX_WATCH];
	bool battery_warned[MAX_WATCH];
	bool disk_warned;
	char mat_said[sizeof(((struct eng_source *)0)->why)];	/* its why, as logged */
	char last[512];			/* how the last session ended */
};

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((format(printf, 2, 3)))
static void logp(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line: lines of two writers never mix. */
	dprintf(STDERR_FILENO, "<%d>%s\n", prio, line);
}

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

static void fmt_left(char *buf, size_t len, double s)
{
	long t = (long)(s < 0 ? 0 : s > 359999999 ? 359999999 : s);

	snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

/* ---- Status ------------------------------------------------------------------------ */

static int jadd(struct json_object *o, const char *k, struct json_object *v)
{
	if (!v || json_object_object_add(o, k, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int jarr(struct json_object *a, struct json_object *v)
{
	if (!v || json_object_array_add(a, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/*
 * How long channel @i has been without data, in seconds (0: flowing or
 * ended): since its last record, or since it joined if it has none.
 */
static double silent_s(struct svc *s, size_t i, const struct eng_chan_stats *st,
		       int64_t now)
{
	int64_t last;

	if (st->ended)
		return 0;
	if (i < MAX_WATCH && !s->chan_t0[i])
		s->chan_t0[i] = now;
	last = st->records ? st->t_last_ns :
	       i < MAX_WATCH ? s->chan_t0[i] : s->t0;
	return (double)(now - last) / 1e9;
}

static bool battery_low(const struct svc *s, int pct)
{
	return pct >= 0 && (unsigned int)pct < s->conf.battery_low_percent;
}

/*
 * The status as one JSON object: `gaitcap session status --json` prints
 * it, the text form and the journal line are made from the same values.
 */
static struct json_object *status_json(struct svc *s, int64_t now)
{
	struct json_object *o = json_object_new_object(), *a, *x, *warn;
	struct gcs_space sp;
	char w[160];
	int ret = 0;

	if (!o)
		return NULL;
	warn = json_object_new_array();
	ret = jadd(o, "state", json_object_new_string(s->e ? (eng_stopping(s->e) ?
			"stopping" : "recording") : "idle"));
	if (!ret && !s->e && *s->last)
		ret = jadd(o, "last_session", json_object_new_string(s->last));
	if (ret || !s->e)
		goto out;
	ret = jadd(o, "file", json_object_new_string(s->path)) ?:
	      jadd(o, "task", json_object_new_string(s->task)) ?:
	      jadd(o, "elapsed_s", json_object_new_double((double)(now - s->t0) / 1e9));
	a = json_object_new_array();
	ret = ret ?: jadd(o, "streams", a);
	for (size_t i = 0; !ret && i < eng_n_chans(s->e); i++) {
		struct eng_chan *c = eng_chan_at(s->e, i);
		struct eng_chan_stats st;
		double quiet;

		eng_chan_get_stats(c, &st);
		quiet = silent_s(s, i, &st, now);
		x = json_object_new_object();
		ret = jarr(a, x) ?:
		      jadd(x, "label", json_object_new_string(eng_chan_label(c))) ?:
		      jadd(x, "stream", json_object_new_int64(eng_chan_stream(c))) ?:
		      jadd(x, "rate_hz", json_object_new_double(st.ended ? 0 : st.rate_hz)) ?:
		      jadd(x, "frames", json_object_new_uint64(st.committed_records)) ?:
		      jadd(x, "durable_frames", json_object_new_uint64(st.durable_records)) ?:
		      jadd(x, "gaps", json_object_new_uint64(st.gaps)) ?:
		      jadd(x, "lost", json_object_new_uint64(st.lost)) ?:
		      jadd(x, "silent_s", json_object_new_double(quiet)) ?:
		      jadd(x, "ended", json_object_new_boolean(st.ended));
		if (!ret && quiet >= s->conf.gap_alarm_seconds) {
			snprintf(w, sizeof(w), "%s: no data for %.0f s",
				 eng_chan_label(c), quiet);
			ret = jarr(warn, json_object_new_string(w));
		}
	}
	a = json_object_new_array();
	ret = ret ?: jadd(o, "sources", a);
	for (size_t i = 0; !ret && i < eng_n_sources(s->e); i++) {
		struct eng_source *src = eng_source_at(s->e, i);
		char d[192] = "";
		int pct = -ENODATA;

		if (src->ops->describe)
			src->ops->describe(src, d, sizeof(d));
		x = json_object_new_object();
		ret = jarr(a, x) ?:
		      jadd(x, "name", json_object_new_string(src->name)) ?:
		      jadd(x, "kind", json_object_new_string(src->ops->kind)) ?:
		      jadd(x, "waiting", json_object_new_boolean(src->waiting)) ?:
		      jadd(x, "state", json_object_new_string(d));
		/* Insoles (blecap's BLE source) answer ops->battery. */
		if (!ret && src->ops->battery)
			pct = src->ops->battery(src);
		if (!ret && pct >= 0)
			ret = jadd(x, "battery_percent", json_object_new_int(pct));
		if (!ret && battery_low(s, pct)) {
			snprintf(w, sizeof(w), "%s: battery low, %d %% (below %u %%)",
				 src->name, pct, s->conf.battery_low_percent);
			ret = jarr(warn, json_object_new_string(w));
		}
	}
	if (!ret && !gcs_writer_space(s->w, now, &sp)) {
		x = json_object_new_object();
		ret = jadd(o, "disk", x) ?:
		      jadd(x, "free_bytes", json_object_new_uint64(sp.fs_avail + sp.prealloc_left)) ?:
		      jadd(x, "seconds_left", json_object_new_double(sp.seconds_left));
		if (!ret && sp.seconds_left >= 0 &&
		    sp.seconds_left < s->conf.disk_low_minutes * 60.0) {
			snprintf(w, sizeof(w), "disk: about %.0f min of recording left",
				 sp.seconds_left / 60);
			ret = jarr(warn, json_object_new_string(w));
		}
	}
out:
	if (!ret)
		ret = jadd(o, "warnings", warn);
	else
		json_object_put(warn);
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The journal line and systemd's STATUS=, every status_seconds. */
static void report(struct svc *s, int64_t now)
{
	char line[768], part[160], sz[24], left[24];
	struct gcs_space sp;
	size_t n = 0;

	n += (size_t)snprintf(line, sizeof(line), "recording %s:", s->name);
	for (size_t i = 0; i < eng_n_chans(s->e) && n < sizeof(line); i++) {
		struct eng_chan *c = eng_chan_at(s->e, i);
		struct eng_chan_stats st;

		eng_chan_get_stats(c, &st);
		if (st.ended)
			continue;	/* an earlier registration of a mat */
		snprintf(part, sizeof(part), " %s %.1f Hz frames %" PRIu64
			 " gaps %" PRIu64 " lost %" PRIu64 ";", eng_chan_label(c),
			 st.rate_hz, st.committed_records, st.gaps, st.lost);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s", part);
	}
	for (size_t i = 0; i < eng_n_sources(s->e) && n < sizeof(line); i++) {
		struct eng_source *src = eng_source_at(s->e, i);
		int pct = src->ops->battery ? src->ops->battery(src) : -ENODATA;

		if (src->waiting)
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      " %s waiting;", src->name);
		if (pct >= 0 && n < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      " %s battery %d %%;", src->name, pct);
	}
	if (n < sizeof(line) && !gcs_writer_space(s->w, now, &sp)) {
		fmt_bytes(sz, sizeof(sz), (double)(sp.fs_avail + sp.prealloc_left));
		if (sp.seconds_left >= 0)
			fmt_left(left, sizeof(left), sp.seconds_left);
		snprintf(line + n, sizeof(line) - n, " disk %s free%s%s%s", sz,
			 sp.seconds_left >= 0 ? " (" : "",
			 sp.seconds_left >= 0 ? left : "",
			 sp.seconds_left >= 0 ? " left)" : "");
	}
	logp(LOG_INFO_, "%s", line);
	sd_notifyf(0, "STATUS=%s", line);
}

/* Warnings, each said once when it starts (and again after it ended). */
static void alarms(struct svc *s, int64_t now)
{
	struct gcs_space sp;

	for (size_t i = 0; i < eng_n_chans(s->e) && i < MAX_WATCH; i++) {
		struct eng_chan *c = eng_chan_at(s->e, i);
		struct eng_chan_stats st;
		double q;

		eng_chan_get_stats(c, &st);
		q = silent_s(s, i, &st, now);
		if (q >= s->conf.gap_alarm_seconds && !s->silent_warned[i]) {
			logp(LOG_WARN_, "%s: no data for %.0f s", eng_chan_label(c), q);
			s->silent_warned[i] = true;
		} else if (!st.ended && q < s->conf.gap_alarm_seconds &&
			   s->silent_warned[i]) {
			logp(LOG_NOTICE_, "%s: data flows again", eng_chan_label(c));
			s->silent_warned[i] = false;
		}
		if (st.gaps > s->gaps_logged[i]) {
			logp(LOG_WARN_, "%s: %" PRIu64 " gap records (%" PRIu64
			     " frames lost in all)", eng_chan_label(c), st.gaps, st.lost);
			s->gaps_logged[i] = st.gaps;
		}
		if (st.ended && !s->ended_logged[i]) {
			logp(st.end_err ? LOG_WARN_ : LOG_NOTICE_, "%s (stream %u): ended%s%s",
			     eng_chan_label(c), eng_chan_stream(c),
			     st.end_err ? ": " : "",
			     st.end_err ? gcs_strerror(st.end_err) : "");
			s->ended_logged[i] = true;
		}
	}
	for (size_t i = 0; i < eng_n_sources(s->e) && i < MAX_WATCH; i++) {
		struct eng_source *src = eng_source_at(s->e, i);
		int pct = src->ops->battery ? src->ops->battery(src) : -ENODATA;

		if (battery_low(s, pct) && !s->battery_warned[i]) {
			logp(LOG_WARN_, "%s: battery low, %d %% (below %u %%): charge it after this session",
			     src->name, pct, s->conf.battery_low_percent);
			s->battery_warned[i] = true;
		} else if (pct >= 0 && !battery_low(s, pct)) {
			s->battery_warned[i] = false;
		}
	}
	/* The mat's joins and failed attempts: what the status alone cannot keep. */
	if (s->mat && strcmp(s->mat->why, s->mat_said)) {
		logp(LOG_NOTICE_, "%s: %s", s->mat->name, s->mat->why);
		snprintf(s->mat_said, sizeof(s->mat_said), "%s", s->mat->why);
	}
	if (!gcs_writer_space(s->w, now, &sp) && sp.seconds_left >= 0) {
		bool low = sp.seconds_left < s->conf.disk_low_minutes * 60.0;

		if (low && !s->disk_warned)
			logp(LOG_WARN_, "disk: about %.0f min of recording left",
			     sp.seconds_left / 60);
		s->disk_warned = low;
	}
}

/* ---- udev ------------------------------------------------------------------------------ */

/*
 * udev's monitor, not the kernel's: its events come once the rules ran
 * (70-gaitmat.rules gives the group the chardev and the buffer's sysfs
 * files), so the mat can be opened at once. The rule's SYSTEMD_WANTS
 * starts this service when a mat appears while it is stopped.
 */
static void udev_open(struct svc *s)
{
	int fl;

	s->mon_fd = -1;
	if (s->o->no_udev)
		return;
	s->udev = udev_new();
	if (s->udev)
		s->mon = udev_monitor_new_from_netlink(s->udev, "udev");
	/* bluetooth: an adapter coming up lets the insoles connect at once. */
	if (!s->mon ||
	    udev_monitor_filter_add_match_subsystem_devtype(s->mon, "iio", NULL) ||
	    udev_monitor_filter_add_match_subsystem_devtype(s->mon, "bluetooth", "host") ||
	    udev_monitor_enable_receiving(s->mon)) {
		logp(LOG_WARN_, "udev monitor unavailable: looking for the mat every 0.5 s instead");
		if (s->mon)
			udev_monitor_unref(s->mon);
		s->mon = NULL;
		return;
	}
	s->mon_fd = udev_monitor_get_fd(s->mon);
	fl = fcntl(s->mon_fd, F_GETFL);
	fcntl(s->mon_fd, F_SETFL, fl | O_NONBLOCK);
}

static bool have_insoles(const struct svc *s)
{
	return *s->conf.insole_left || *s->conf.insole_right;
}

/*
 * A Bluetooth adapter (hciN) registered: the insoles' sources, waiting
 * between connection attempts (their backoff reaches 8 s), try now.
 */
static void bt_event(struct svc *s, const char *act, const char *sys)
{
	if (!act || !have_insoles(s))
		return;
	if (!strcmp(act, "add")) {
		logp(LOG_NOTICE_, "Bluetooth adapter %s appeared%s", sys,
		     s->e ? ": connecting the insoles" : " (no session recording)");
		for (int i = 0; i < 2 && s->e; i++)
			if (s->insoles[i])
				eng_source_ble_kick(s->insoles[i]);
	} else if (!strcmp(act, "remove")) {
		logp(LOG_WARN_, "Bluetooth adapter %s went away", sys);
	}
}

static void udev_events(struct svc *s)
{
	struct udev_device *d;

	if (!s->mon)
		return;
	while ((d = udev_monitor_receive_device(s->mon))) {
		const char *act = udev_device_get_action(d);
		const char *sys = udev_device_get_sysname(d);
		const char *ss = udev_device_get_subsystem(d);
		const char *name;

		if (ss && !strcmp(ss, "bluetooth")) {
			bt_event(s, act, sys);
			udev_device_unref(d);
			continue;
		}
		name = udev_device_get_sysattr_value(d, "name");
		if (act && !strcmp(act, "add") && name && !strcmp(name, s->mat_name)) {
			logp(LOG_NOTICE_, "mat %s appeared%s", sys,
			     s->mat ? ": joining the session" : " (no session recording)");
			if (s->mat)
				eng_source_iio_rescan(s->mat);
		} else if (act && !strcmp(act, "remove")) {
			logp(LOG_NOTICE_, "IIO device %s went away", sys);
		}
		udev_device_unref(d);
	}
}

/* ---- Sessions ---------------------------------------------------------------------------- */

static char *session_meta(const struct svc *s, const struct svc_request *r)
{
	struct json_object *o = json_object_new_object(), *devs, *d;
	char host[65] = "";
	char *meta = NULL;
	int ret;

	if (gethostname(host, sizeof(host) - 1) || !*host)
		strcpy(host, "appliance");
	for (char *p = host; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
			*p = '_';
	if (!o)
		return NULL;
	ret = jadd(o, "subject", json_object_new_string(r->subject)) ?:
	      jadd(o, "task", json_object_new_string(r->task)) ?:
	      jadd(o, "appliance", json_object_new_string(host)) ?:
	      jadd(o, "software", json_object_new_string("gaitcap-" GAITCAP_VERSION));
	if (!ret && *s->conf.site)
		ret = jadd(o, "site", json_object_new_string(s->conf.site));
	devs = json_object_new_array();
	ret = ret ?: jadd(o, "devices", devs);
	if (!ret && strcmp(s->conf.mat, "none")) {
		d = json_object_new_object();
		ret = jarr(devs, d) ?: jadd(d, "id", json_object_new_string("mat0")) ?:
		      jadd(d, "kind", json_object_new_string("gaitmat"));
	}
	for (int i = 0; i < 2 && !ret; i++) {
		if (!*(i ? s->conf.insole_right : s->conf.insole_left))
			continue;
		d = json_object_new_object();
		ret = jarr(devs, d) ?:
		      jadd(d, "id", json_object_new_string(i ? "insole-right" : "insole-left")) ?:
		      jadd(d, "kind", json_object_new_string("insole"));
	}
	if (!ret && *s->conf.source) {
		d = json_object_new_object();
		ret = jarr(devs, d) ?: jadd(d, "id", json_object_new_string("src0")) ?:
		      jadd(d, "kind", json_object_new_string("fd"));
	}
	if (!ret)
		meta = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return meta;
}

static void tick(struct eng *e, void *ctx, int64_t now);
static void serve(struct svc *s);

static void session_cleanup(struct svc *s, bool unlink_file)
{
	if (s->e) {
		eng_stop_sources(s->e);
		eng_destroy(s->e);
	}
	if (s->w && !gcs_writer_close(s->w) && unlink_file)
		unlink(s->path);
	s->e = NULL;
	s->w = NULL;
	s->mat = NULL;
	s->insoles[0] = s->insoles[1] = NULL;
}

/*
 * The insole of side @i (0 left, 1 right) from appliance.conf, on the same
 * BLE source as `gaitcap capture --insole`: it waits for the insole as
 * long as the session lasts and reconnects after a loss.
 */
static int add_insole(struct svc *s, int i, char *err, size_t len)
{
	const char *addr = i ? s->conf.insole_right : s->conf.insole_left;
	struct eng_ble_opts bo;
	struct eng_source *src;
	int ret;

	if (!*addr)
		return 0;
	eng_ble_opts_init(&bo);
	snprintf(bo.side, sizeof(bo.side), "%s", i ? "right" : "left");
	snprintf(bo.bdaddr, sizeof(bo.bdaddr), "%s", addr);
	ret = eng_source_ble_create(&src, &bo);
	if (ret) {
		snprintf(err, len, "insole_%s: %s", bo.side, strerror(-ret));
		return ret;
	}
	ret = eng_add_source(s->e, src);
	if (ret) {
		snprintf(err, len, "insole_%s: %s", bo.side,
			 *src->why ? src->why : strerror(-ret));
		return ret;
	}
	s->insoles[i] = src;
	return 0;
}

static int add_sources(struct svc *s, char *err, size_t len)
{
	struct eng_iio_opts io;
	struct eng_source *src;
	int ret;

	if (strcmp(s->conf.mat, "none")) {
		eng_iio_opts_init(&io);
		io.device = strcmp(s->conf.mat, "auto") ? s->conf.mat : NULL;
		io.absent_ok = true;
		io.rescan_on_request = s->mon != NULL;
		ret = eng_source_iio_create(&src, &io);
		if (ret) {
			snprintf(err, len, "mat: %s", gcs_strerror(ret));
			return ret;
		}
		ret = eng_add_source(s->e, src);
		if (ret) {
			snprintf(err, len, "mat: %s", *src->why ? src->why : strerror(-ret));
			return ret;
		}
		s->mat = src;
	}
	for (int i = 0; i < 2; i++) {
		ret = add_insole(s, i, err, len);
		if (ret)
			return ret;
	}
	if (*s->conf.source) {
		ret = eng_source_fd_create(&src, s->conf.source);
		if (ret) {
			snprintf(err, len, "source (appliance.conf): %s", strerror(-ret));
			return ret;
		}
		snprintf(src->name, sizeof(src->name), "src0");
		ret = eng_add_source(s->e, src);
		if (ret) {
			snprintf(err, len, "source (appliance.conf): %s",
				 *src->why ? src->why : strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int session_start(struct svc *s, const struct svc_request *r,
			 char *err, size_t len)
{
	struct gcs_writer_opts wo;
	struct eng_opts eo;
	char name[80], mark[PATH_MAX + 16], dir[PATH_MAX], *meta;
	const char *why = NULL;
	int ret;

	ret = svc_session_name(name, sizeof(name), time(NULL), r->subject);
	if (ret) {
		snprintf(err, len, "subject: 1..32 of [A-Za-z0-9_-]");
		return ret;
	}
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s", s->conf.sessions,
			     name) >= sizeof(s->path)) {
		snprintf(err, len, "sessions folder name too long");
		return -ENAMETOOLONG;
	}
	meta = session_meta(s, r);
	if (!meta) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	ret = gcs_meta_check(meta, true, &why);
	if (ret) {
		/* The value is not repeated: it may be what must not be kept. */
		snprintf(err, len, "metadata refused by the privacy policy: %s",
			 why ? why : gcs_strerror(ret));
		free(meta);
		return ret;
	}
	gcs_writer_opts_init(&wo);
	ret = gcs_writer_create(&s->w, s->path, &wo, meta);
	free(meta);
	if (ret) {
		snprintf(err, len, "%s: %s", s->path, ret == -EEXIST ?
			 "exists (a session is never overwritten; wait a second)" :
			 gcs_strerror(ret));
		s->w = NULL;
		return ret;
	}
	/* 0640 whatever the umask: group gaitcap reads, nobody else. */
	chmod(s->path, 0640);
	eng_opts_init(&eo);
	ret = eng_create(&s->e, s->w, &eo);
	if (ret) {
		snprintf(err, len, "io_uring: %s", strerror(-ret));
		goto fail;
	}
	ret = eng_watch_signals(s->e) ?: add_sources(s, err, len);
	if (ret) {
		if (!*err)
			snprintf(err, len, "signalfd: %s", strerror(-ret));
		goto fail;
	}
	if (!eng_features(s->e)->restricted)
		logp(LOG_WARN_, "io_uring restrictions unavailable (kernel before 5.10): the ring is not limited");
	/* `gaitcap mark` reaches a session through the engine's own socket. */
	snprintf(dir, sizeof(dir), "%s", s->o->control_path);
	snprintf(mark, sizeof(mark), "%s/" ENG_CTL_DEFAULT_NAME, dirname(dir));
	ret = eng_control_listen(s->e, mark);
	if (ret)
		logp(LOG_WARN_, "marker socket %s: %s (gaitcap mark will not reach this session)",
		     mark, strerror(-ret));
	eng_set_tick(s->e, 100, tick, s);
	eng_marker(s->e, GCS_MARK_SESSION_START, GCS_STREAM_NONE, 0, 0);
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->task, sizeof(s->task), "%s", r->task);
	s->t0 = mono_now();
	s->next_status = s->t0 + (int64_t)s->conf.status_seconds * 1000000000;
	s->next_alarm = s->t0;
	s->stop_fd = -1;
	memset(s->silent_warned, 0, sizeof(s->silent_warned));
	memset(s->ended_logged, 0, sizeof(s->ended_logged));
	memset(s->chan_t0, 0, sizeof(s->chan_t0));
	memset(s->gaps_logged, 0, sizeof(s->gaps_logged));
	memset(s->battery_warned, 0, sizeof(s->battery_warned));
	s->disk_warned = false;
	snprintf(s->mat_said, sizeof(s->mat_said), "%s", s->mat ? s->mat->why : "");
	logp(LOG_NOTICE_, "session %s started (task %s)%s", name, r->task,
	     s->mat && s->mat->waiting ? "; waiting for the mat" : "");
	sd_notifyf(0, "STATUS=recording %s", name);
	return 0;
fail:
	session_cleanup(s, true);
	return ret;
}

/* eng_run until a STOP, a signal or every stream ending; then close. */
static void session_run(struct svc *s)
{
	uint64_t frames = 0, gaps = 0, lost = 0;
	struct eng_stats es;
	char reply[PATH_MAX + 128];
	int run_err, ret, sig;

	run_err = eng_run(s->e, 0);
	eng_stop_sources(s->e);
	sig = eng_stop_signal(s->e);
	for (size_t i = 0; i < eng_n_chans(s->e); i++) {
		struct eng_chan_stats st;

		eng_chan_get_stats(eng_chan_at(s->e, i), &st);
		frames += st.records;
		gaps += st.gaps;
		lost += st.lost;
		logp(LOG_INFO_, "%s (stream %u): %" PRIu64 " frames, %" PRIu64
		     " lost in %" PRIu64 " gaps%s%s", eng_chan_label(eng_chan_at(s->e, i)),
		     eng_chan_stream(eng_chan_at(s->e, i)), st.records, st.lost,
		     st.gaps, st.end_err ? ", ended: " : "",
		     st.end_err ? gcs_strerror(st.end_err) : "");
	}
	eng_get_stats(s->e, &es);
	if (es.inflight) {
		/* The ring failed with reads into the mapping: as if killed. */
		logp(LOG_CRIT_, "the ring failed with reads in flight: %s left for gaitcap recover",
		     s->path);
		exit(3);
	}
	ret = gcs_writer_close(s->w);
	if (ret == -EBUSY)
		gcs_writer_abort(s->w);
	s->w = NULL;
	if (ret) {
		snprintf(reply, sizeof(reply), "ERR closing %s: %s; run gaitcap recover",
			 s->path, gcs_strerror(ret));
		logp(LOG_ERR_, "%s", reply + 4);
	} else {
		snprintf(reply, sizeof(reply), "OK file=%s frames=%" PRIu64
			 " gaps=%" PRIu64 " lost=%" PRIu64, s->path, frames, gaps, lost);
		logp(LOG_NOTICE_, "session %s closed: %" PRIu64 " frames, %" PRIu64
		     " gaps%s%s%s", s->name, frames, gaps,
		     run_err ? "; ended by: " : "", run_err ? gcs_strerror(run_err) : "",
		     sig ? "; stopped by a signal" : "");
	}
	snprintf(s->last, sizeof(s->last), "%s", reply + (ret ? 4 : 3));
	if (s->stop_fd >= 0) {
		send(s->stop_fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
		close(s->stop_fd);
		s->stop_fd = -1;
	}
	s->mat = NULL;
	s->insoles[0] = s->insoles[1] = NULL;
	eng_destroy(s->e);
	s->e = NULL;
	if (sig) {
		logp(LOG_NOTICE_, "%s: exiting", strsignal(sig));
		s->quit = true;
	}
	sd_notify(0, "STATUS=idle");
}

/* ---- The control socket ---------------------------------------------------------------- */

static void reply_close(struct svc *s, size_t i, const char *msg)
{
	send(s->conns[i].fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(s->conns[i].fd);
	s->conns[i] = s->conns[--s->n_conns];
}

static void handle(struct svc *s, size_t i, const char *msg, size_t len)
{
	struct svc_request r;
	struct json_object *st;
	const char *why;
	char err[PATH_MAX + 128] = "", out[SVC_MSG_MAX];

	if (svc_request_parse(msg, len, &r, &why)) {
		snprintf(out, sizeof(out), "ERR %s", why);
		reply_close(s, i, out);
		return;
	}
	switch (r.verb) {
	case SVC_START:
		if (s->e) {
			snprintf(out, sizeof(out), "ERR busy: %s is recording (gaitcap session stop first)",
				 s->name);
		} else if (session_start(s, &r, err, sizeof(err))) {
			logp(LOG_ERR_, "session refused: %s", err);
			snprintf(out, sizeof(out), "ERR %s", err);
		} else {
			snprintf(out, sizeof(out), "OK file=%s", s->path);
		}
		reply_close(s, i, out);
		return;
	case SVC_STOP:
		if (!s->e || s->stop_fd >= 0) {
			reply_close(s, i, s->e ? "ERR already stopping" :
				    "ERR no session is recording");
			return;
		}
		/* Answered by session_run once the file is closed. */
		s->stop_fd = s->conns[i].fd;
		s->conns[i] = s->conns[--s->n_conns];
		eng_stop(s->e, 0);
		return;
	case SVC_STATUS:
		st = status_json(s, mono_now());
		snprintf(out, sizeof(out), "%s%s", st ? "OK " : "ERR out of memory",
			 st ? json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN) : "");
		json_object_put(st);
		reply_close(s, i, out);
		return;
	}
}

static void accept_all(struct svc *s)
{
	gid_t groups[64];
	struct ucred cred;
	socklen_t len;
	size_t n_groups;
	int fd;

	while ((fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
			close(fd);
			continue;
		}
		len = sizeof(groups);
		n_groups = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) ?
			   0 : len / sizeof(gid_t);
		if (s->n_conns == MAX_CONNS) {
			send(fd, "ERR busy: too many clients", 26,
			     MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		/*
		 * The socket's mode should have kept others out already. A
		 * refusal is answered once the request is read: closing a
		 * socket with unread data makes the client's recv() fail with
		 * ECONNRESET instead of showing the answer.
		 */
		s->conns[s->n_conns++] = (struct conn){
			.fd = fd, .uid = cred.uid, .t = mono_now(),
			.refused = !svc_peer_allowed(cred.uid, cred.gid, groups,
						     n_groups, s->uid, s->gid),
		};
	}
}

static void serve(struct svc *s)
{
	char msg[SVC_MSG_MAX];
	int64_t now = mono_now();
	ssize_t n;

	accept_all(s);
	for (size_t i = 0; i < s->n_conns;) {
		n = recv(s->conns[i].fd, msg, sizeof(msg), MSG_DONTWAIT);
		if (n > 0 && s->conns[i].refused) {
			logp(LOG_WARN_, "control: uid %u refused (not in the service's group)",
			     (unsigned int)s->conns[i].uid);
			reply_close(s, i, "ERR permission denied: join group gaitcap");
			continue;
		}
		if (n > 0) {
			handle(s, i, msg, (size_t)n);
			continue;	/* slot i now holds another connection */
		}
		if ((n < 0 && errno == EAGAIN && now - s->conns[i].t < CONN_WAIT_NS)) {
			i++;
			continue;
		}
		close(s->conns[i].fd);
		s->conns[i] = s->conns[--s->n_conns];
	}
}

static void tick(struct eng *e, void *ctx, int64_t now)
{
	struct svc *s = ctx;

	serve(s);
	udev_events(s);
	if (!s->e || eng_stopping(e))
		return;
	if (now >= s->next_alarm) {
		alarms(s, now);
		s->next_alarm = now + 1000000000;
	}
	if (now >= s->next_status) {
		report(s, now);
		s->next_status = now + (int64_t)s->conf.status_seconds * 1000000000;
	}
}

static int listen_control(struct svc *s, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A live service accepts; a stale socket of a dead one is replaced. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0660) || listen(fd, MAX_CONNS)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	s->lfd = fd;
	return 0;
}

static int setup_signals(struct svc *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Blocked for good: idle they come here, in a session to the engine. */
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return s->sigfd < 0 ? -errno : 0;
}

int svc_main(const struct svc_opts *o)
{
	struct svc s = { .o = o, .lfd = -1, .sigfd = -1, .mon_fd = -1, .stop_fd = -1 };
	struct pollfd pfd[3 + MAX_CONNS];
	struct signalfd_siginfo si;
	char why[256];
	int ret;

	signal(SIGPIPE, SIG_IGN);
	svc_conf_init(&s.conf);
	ret = svc_conf_load(&s.conf, o->conf_path, why, sizeof(why));
	if (ret) {
		logp(LOG_ERR_, "%s: %s", o->conf_path, *why ? why : strerror(-ret));
		return 1;
	}
	snprintf(s.mat_name, sizeof(s.mat_name), "%s",
		 strcmp(s.conf.mat, "auto") ? s.conf.mat : "gaitmat");
	s.uid = geteuid();
	s.gid = getegid();
	ret = setup_signals(&s);
	if (!ret)
		ret = listen_control(&s, o->control_path);
	if (ret) {
		logp(LOG_ERR_, "control socket %s: %s", o->control_path,
		     ret == -EADDRINUSE ? "another service answers there" : strerror(-ret));
		return 1;
	}
	udev_open(&s);
	logp(LOG_NOTICE_, "ready: control socket %s, sessions in %s, mat %s, insoles%s%s%s",
	     o->control_path, s.conf.sessions, s.conf.mat,
	     *s.conf.insole_left ? " left" : "", *s.conf.insole_right ? " right" : "",
	     have_insoles(&s) ? "" : " none");
	sd_notify(0, "READY=1\nSTATUS=idle");
	while (!s.quit) {
		size_t n = 0;

		if (s.e) {
			session_run(&s);
			continue;
		}
		pfd[n++] = (struct pollfd){ .fd = s.sigfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s.lfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s.mon_fd, .events = POLLIN };
		for (size_t i = 0; i < s.n_conns; i++)
			pfd[n++] = (struct pollfd){ .fd = s.conns[i].fd, .events = POLLIN };
		if (poll(pfd, n, s.n_conns ? 500 : -1) < 0 && errno != EINTR) {
			logp(LOG_ERR_, "poll: %s", strerror(errno));
			break;
		}
		if (read(s.sigfd, &si, sizeof(si)) == sizeof(si)) {
			logp(LOG_NOTICE_, "%s: exiting", strsignal((int)si.ssi_signo));
			break;
		}
		serve(&s);
		udev_events(&s);
	}
	sd_notify(0, "STOPPING=1");
	for (size_t i = 0; i < s.n_conns; i++)
		close(s.conns[i].fd);
	close(s.lfd);
	unlink(o->control_path);
	close(s.sigfd);
	if (s.mon)
		udev_monitor_unref(s.mon);
	if (s.udev)
		udev_unref(s.udev);
	return 0;
}
