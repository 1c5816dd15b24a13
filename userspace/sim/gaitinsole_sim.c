// SPDX-License-Identifier: GPL-2.0
/*
 * gaitinsole-sim: play one BLE smart insole on a real (or btvirt) LE
 * controller. It advertises, accepts on an L2CAP LE ATT server socket,
 * serves the insole's GATT database and streams the walking model's (or a
 * Moticon recording's) samples; every notification and the model's contact
 * instants go to a ground-truth file. See docs/simulator.md.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/l2cap.h>

#include "ble_mgmt.h"
#include "gait_model.h"
#include "insole_model.h"
#include "insole_replay.h"
#include "insole_srv.h"
#include "mat_ctrl.h"
#include "sim_rng.h"

#define ATT_CID			4
#define MAX_FAULTS		64
#define TRUTH_FORMAT		1

static struct env {
	int hci;
	enum gait_side side;
	bool side_set;
	enum insole_profile profile;
	const char *name;
	const char *truth_path;
	const char *replay_path;
	const char *ready_path;
	bool loop;
	unsigned int rate_hz;
	unsigned int batch;
	bool autostart;
	bool require_enc;
	double exit_after_s;
	int64_t walk_start_ns;		/* CLOCK_MONOTONIC; -1: at start */
	unsigned int conn_interval_ms;
	unsigned int retx_pct;
	unsigned int tiles;
	uint64_t seed;
	struct gait_params gait;
	struct insole_params insole;
	struct insole_fault faults[MAX_FAULTS];
	size_t n_faults;
	bool quiet;
} env = {
	.hci = -1, .profile = INSOLE_PROFILE_GAITCAP, .rate_hz = 100,
	.batch = INSOLE_MAX_BATCH, .walk_start_ns = -1,
	.conn_interval_ms = 15, .retx_pct = 5, .tiles = 4, .seed = 1,
};

const char *argp_program_version = "gaitinsole-sim 1.0";
static const char doc[] =
"Play a BLE smart insole: a real LE peripheral on a Bluetooth controller\n"
"that serves the gaitcap insole profile (or the commodity FFF0 one) and\n"
"streams a walking model or a Moticon recording, with ground truth.\n"
"\n"
"USAGE: gaitinsole-sim --hci N --side left|right [OPTION...]\n"
"\n"
"EXAMPLES:\n"
"  gaitinsole-sim --hci 1 --side left --truth left.tsv\n"
"        the left insole on hci1, until SIGINT/SIGTERM\n"
"  gaitinsole-sim --hci 2 --side right --profile fff0 --autostart\n"
"        a commodity insole that streams once notifications are on\n"
"  gaitinsole-sim --hci 1 --side left --replay walk_data_with_events.txt\n"
"        replay the left insole of a Moticon OpenGo text export\n"
"  gaitinsole-sim --hci 1 --side left --fault drop:3 \\\n"
"        --fault disconnect,at=200 --fault malformed,at=50\n"
"        a link that loses, breaks and garbles notifications\n";

enum {
	OPT_QUIET = 'q',
	OPT_HCI = 0x100, OPT_SIDE, OPT_PROFILE, OPT_NAME, OPT_TRUTH,
	OPT_REPLAY, OPT_LOOP, OPT_READY, OPT_RATE, OPT_BATCH, OPT_AUTOSTART, OPT_REQUIRE_ENC,
	OPT_EXIT_AFTER, OPT_WALK_START, OPT_CONN_INTERVAL, OPT_RETX,
	OPT_DRIFT, OPT_CLOCK_OFFSET, OPT_SEED, OPT_FAULT, OPT_TILES,
	OPT_PASSES, OPT_DURATION, OPT_GAIT, OPT_SPEED, OPT_CADENCE,
	OPT_MASS, OPT_ASYMMETRY, OPT_AFFECTED,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Device:", 1 },
	{ "hci", OPT_HCI, "N", 0, "Controller index (hciN); required", 1 },
	{ "side", OPT_SIDE, "SIDE", 0, "left or right; required", 1 },
	{ "profile", OPT_PROFILE, "P", 0,
	  "gaitcap (vendor service, default) or fff0 (commodity)", 1 },
	{ "name", OPT_NAME, "NAME", 0,
	  "Advertised and GAP name (default gaitcap-insole-L / -R)", 1 },
	{ "rate", OPT_RATE, "HZ", 0, "Sample rate at power-on: 25, 50, 100, 200 (default 100)", 1 },
	{ "batch", OPT_BATCH, "N", 0, "Samples per notification, 1-5 (default 5)", 1 },
	{ "autostart", OPT_AUTOSTART, NULL, 0,
	  "Stream once notifications are enabled, without START", 1 },
	{ "require-encryption", OPT_REQUIRE_ENC, NULL, 0,
	  "Serve the profile only over an encrypted link (Just Works bonding)", 1 },
	{ "drift", OPT_DRIFT, "PPM", 0, "Insole clock drift (default 40)", 1 },
	{ "clock-offset", OPT_CLOCK_OFFSET, "S", 0,
	  "Insole clock at walk time 0 (default: 5-60 s from the seed)", 1 },
	{ NULL, 0, NULL, 0, "Link:", 2 },
	{ "conn-interval", OPT_CONN_INTERVAL, "MS", 0,
	  "Batches wait up to one interval to leave (default 15; 0: none)", 2 },
	{ "retx", OPT_RETX, "PCT", 0,
	  "Share of batches delayed 1-3 more intervals (default 5)", 2 },
	{ "fault", OPT_FAULT, "KIND[:N][,at=I]", 0,
	  "drop, malformed or disconnect, N times, from notification I", 2 },
	{ NULL, 0, NULL, 0, "Run:", 3 },
	{ "truth", OPT_TRUTH, "FILE", 0, "Write the ground truth (TSV)", 3 },
	{ "ready-file", OPT_READY, "FILE", 0,
	  "Create FILE (the controller's address in it) once advertising", 3 },
	{ "exit-after", OPT_EXIT_AFTER, "S", 0,
	  "Exit after S seconds (default: at SIGINT or SIGTERM)", 3 },
	{ "walk-start", OPT_WALK_START, "NS", 0,
	  "CLOCK_MONOTONIC instant of walk time 0 (default: at start); share it between the insoles", 3 },
	{ "replay", OPT_REPLAY, "FILE", 0,
	  "Stream this side of a Moticon OpenGo text export", 3 },
	{ "loop", OPT_LOOP, NULL, 0, "Replay the recording again and again", 3 },
	{ "seed", OPT_SEED, "N", 0, "Seed of every random choice (default 1)", 3 },
	{ "quiet", OPT_QUIET, NULL, 0, "No log on stderr", 3 },
	{ NULL, 0, NULL, 0, "Walking model (as gaitmat-sim's):", 4 },
	{ "tiles", OPT_TILES, "N", 0, "Walkway tiles (default 4)", 4 },
	{ "passes", OPT_PASSES, "N", 0, "Passes over the walkway (default 2)", 4 },
	{ "duration", OPT_DURATION, "S", 0, "Walk for S seconds instead", 4 },
	{ "gait", OPT_GAIT, "KIND", 0, "normal, antalgic, asymmetric, shuffling", 4 },
	{ "speed", OPT_SPEED, "M/S", 0, "Walking speed", 4 },
	{ "cadence", OPT_CADENCE, "STEPS/MIN", 0, "Cadence", 4 },
	{ "mass", OPT_MASS, "KG", 0, "Body mass (default 70)", 4 },
	{ "asymmetry", OPT_ASYMMETRY, "PCT", 0, "Symmetry index of the affected side", 4 },
	{ "affected", OPT_AFFECTED, "SIDE", 0, "left or right (default right)", 4 },
	{ 0 },
};

static int parse_double(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) ? -EINVAL : 0;
}

static int parse_ull(const char *s, unsigned long long max,
		     unsigned long long *v)
{
	char *end;

	errno = 0;
	if (*s == '-')
		return -EINVAL;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end || *v > max ? -EINVAL : 0;
}

static const char *const fault_names[] = {
	[INSOLE_FAULT_DROP] = "drop",
	[INSOLE_FAULT_MALFORMED] = "malformed",
	[INSOLE_FAULT_DISCONNECT] = "disconnect",
};

static int cmp_fault(const void *a, const void *b)
{
	const struct insole_fault *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

/* KIND[:N][,at=I]: N faults at notifications I, I+1, ... (I from the seed). */
static int fault_add(const char *arg, char *err, size_t len)
{
	unsigned long long n = 1, at = ULLONG_MAX;
	char buf[96], *opt, *save, *kind;
	unsigned int k, i;

	snprintf(buf, sizeof(buf), "%s", arg);
	kind = strtok_r(buf, ",", &save);
	opt = kind ? strchr(kind, ':') : NULL;
	if (opt) {
		*opt++ = '\0';
		if (parse_ull(opt, MAX_FAULTS, &n) || !n) {
			snprintf(err, len, "bad count '%s'", opt);
			return -EINVAL;
		}
	}
	for (k = 0; k < 3; k++)
		if (kind && !strcmp(kind, fault_names[k]))
			break;
	if (k == 3) {
		snprintf(err, len, "unknown kind (drop, malformed, disconnect)");
		return -EINVAL;
	}
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (strncmp(opt, "at=", 3) || parse_ull(opt + 3, UINT32_MAX, &at)) {
			snprintf(err, len, "bad option '%s'", opt);
			return -EINVAL;
		}
	}
	if (env.n_faults + n > MAX_FAULTS) {
		snprintf(err, len, "more than %d faults", MAX_FAULTS);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		struct insole_fault *f = &env.faults[env.n_faults++];

		f->kind = k;
		/* Placed from the seed later: at stays the marker. */
		f->at = at == ULLONG_MAX ? UINT64_MAX : at + i;
	}
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct gait_params *g = &env.gait;
	unsigned long long u;
	char err[128];
	double d;

	switch (key) {
	case OPT_SIDE:
		if (!strcmp(arg, "left"))
			env.side = GAIT_LEFT;
		else if (!strcmp(arg, "right"))
			env.side = GAIT_RIGHT;
		else
			argp_error(state, "invalid --side '%s': expected left or right", arg);
		env.side_set = true;
		return 0;
	case OPT_AFFECTED:
		if (!strcmp(arg, "left"))
			g->affected = GAIT_LEFT;
		else if (!strcmp(arg, "right"))
			g->affected = GAIT_RIGHT;
		else
			argp_error(state, "invalid --affected '%s'", arg);
		return 0;
	case OPT_PROFILE:
		if (!strcmp(arg, "gaitcap"))
			env.profile = INSOLE_PROFILE_GAITCAP;
		else if (!strcmp(arg, "fff0"))
			env.profile = INSOLE_PROFILE_FFF0;
		else
			argp_error(state, "invalid --profile '%s': expected gaitcap or fff0", arg);
		return 0;
	case OPT_GAIT:
		if (gait_kind_parse(arg, &g->kind))
			argp_error(state, "invalid --gait '%s'", arg);
		return 0;
	case OPT_NAME:
		if (strlen(arg) > 29)
			argp_error(state, "--name: at most 29 bytes");
		env.name = arg;
		return 0;
	case OPT_TRUTH:
		env.truth_path = arg;
		return 0;
	case OPT_REPLAY:
		env.replay_path = arg;
		return 0;
	case OPT_READY:
		env.ready_path = arg;
		return 0;
	case OPT_LOOP:
		env.loop = true;
		return 0;
	case OPT_AUTOSTART:
		env.autostart = true;
		return 0;
	case OPT_REQUIRE_ENC:
		env.require_enc = true;
		return 0;
	case OPT_QUIET:
		env.quiet = true;
		return 0;
	case OPT_FAULT:
		if (fault_add(arg, err, sizeof(err)))
			argp_error(state, "--fault %s: %s", arg, err);
		return 0;
	case OPT_HCI:
	case OPT_RATE:
	case OPT_BATCH:
	case OPT_CONN_INTERVAL:
	case OPT_RETX:
	case OPT_SEED:
	case OPT_TILES:
	case OPT_PASSES:
	case OPT_WALK_START:
		if (parse_ull(arg, key == OPT_SEED || key == OPT_WALK_START ?
			      LLONG_MAX : 65535, &u))
			argp_error(state, "invalid number '%s'", arg);
		if (key == OPT_HCI)
			env.hci = u;
		else if (key == OPT_RATE)
			env.rate_hz = u;
		else if (key == OPT_BATCH)
			env.batch = u;
		else if (key == OPT_CONN_INTERVAL)
			env.conn_interval_ms = u;
		else if (key == OPT_RETX)
			env.retx_pct = u;
		else if (key == OPT_SEED)
			env.seed = u;
		else if (key == OPT_TILES)
			env.tiles = u;
		else if (key == OPT_PASSES)
			g->passes = u;
		else
			env.walk_start_ns = u;
		return 0;
	case OPT_EXIT_AFTER:
	case OPT_DRIFT:
	case OPT_CLOCK_OFFSET:
	case OPT_DURATION:
	case OPT_SPEED:
	case OPT_CADENCE:
	case OPT_MASS:
	case OPT_ASYMMETRY:
		if (parse_double(arg, &d))
			argp_error(state, "invalid number '%s'", arg);
		if (key == OPT_EXIT_AFTER)
			env.exit_after_s = d;
		else if (key == OPT_DRIFT)
			env.insole.drift_ppm = d;
		else if (key == OPT_CLOCK_OFFSET)
			env.insole.clock_offset_s = d;
		else if (key == OPT_DURATION)
			g->duration_s = d;
		else if (key == OPT_SPEED)
			g->speed_mps = d;
		else if (key == OPT_CADENCE)
			g->cadence_spm = d;
		else if (key == OPT_MASS)
			g->body_mass_kg = d;
		else
			g->asymmetry_pct = d;
		return 0;
	case ARGP_KEY_END:
		if (env.hci < 0 || !env.side_set)
			argp_error(state, "--hci and --side are required");
		if (env.batch < 1 || env.batch > INSOLE_MAX_BATCH)
			argp_error(state, "--batch: 1 to %d", INSOLE_MAX_BATCH);
		if (env.retx_pct > 100)
			argp_error(state, "--retx: a percentage");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* ---- Run state -------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;

struct run {
	FILE *truth;
	struct ble_mgmt mgmt;
	struct gait_model *gm;
	struct insole_model *im;
	struct insole_replay *replay;
	struct insole_srv *srv;
	int64_t t0_ns;			/* CLOCK_MONOTONIC of walk time 0 */
	int64_t t0_real_ns;
	uint8_t addr[6];
	int lfd, cfd;
	struct sockaddr_l2 peer;
	uint64_t n_sent, n_unsent, n_dropped, n_malformed;
};

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t clock_now(const struct run *r)
{
	int64_t walk_ns = now_ns(CLOCK_MONOTONIC) - r->t0_ns;

	/* Floor to whole microseconds of walk time. */
	return insole_model_clock_us(r->im, walk_ns >= 0 ? walk_ns / 1000 :
				     -((-walk_ns + 999) / 1000));
}

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	if (env.quiet)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "gaitinsole-sim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *const status_names[] = {
	[INSOLE_SENT] = "sent",
	[INSOLE_DROPPED] = "dropped",
	[INSOLE_MALFORMED] = "malformed",
	[INSOLE_UNSENT] = "unsent",
	[INSOLE_SEND_FAILED] = "send-failed",
};

static void on_notify(void *ctx, const struct insole_notify_info *in)
{
	struct run *r = ctx;
	size_t i;

	switch (in->status) {
	case INSOLE_SENT:
		r->n_sent++;
		break;
	case INSOLE_DROPPED:
		r->n_dropped++;
		break;
	case INSOLE_MALFORMED:
		r->n_malformed++;
		break;
	default:
		r->n_unsent++;
		break;
	}
	if (!r->truth)
		return;
	fprintf(r->truth, "notify\t%llu\t%s\t%u\t%u\t%llu\t%lld\t%llu\t%lld\t%lld\t%u\t",
		(unsigned long long)in->index, status_names[in->status],
		in->seq, in->n, (unsigned long long)in->clock_us,
		(long long)insole_model_walk_ns(r->im, in->clock_us),
		(unsigned long long)in->due_us,
		(long long)now_ns(CLOCK_MONOTONIC),
		(long long)now_ns(CLOCK_REALTIME), in->malformed_kind);
	for (i = 0; i < in->len; i++)
		fprintf(r->truth, "%02x", in->value[i]);
	fputc('\n', r->truth);
}

static void on_event(void *ctx, const char *what, uint64_t clock_us,
		     uint32_t arg)
{
	struct run *r = ctx;

	if (r->truth)
		fprintf(r->truth, "event\t%s\t%lld\t%llu\t%u\n", what,
			(long long)now_ns(CLOCK_MONOTONIC),
			(unsigned long long)clock_us, arg);
	logmsg("%s (%u)", what, arg);
}

static void addr_str(const uint8_t a[6], char out[18])
{
	snprintf(out, 18, "%02X:%02X:%02X:%02X:%02X:%02X",
		 a[5], a[4], a[3], a[2], a[1], a[0]);
}

static void on_mgmt_event(void *ctx, uint16_t code, const uint8_t *p,
			  size_t len)
{
	struct run *r = ctx;
	char a[18];

	if (len < 7)
		return;
	addr_str(p, a);
	/* Pairing: accept Just Works, log each key and failure once. */
	if (code == MGMT_EV_USER_CONFIRM_REQUEST) {
		logmsg("pairing with %s: confirmed (Just Works)", a);
		if (ble_mgmt_confirm(&r->mgmt, p, p[6]))
			logmsg("pairing: confirm refused (mgmt status %u)",
			       r->mgmt.status);
		return;
	}
	if (code == MGMT_EV_NEW_LONG_TERM_KEY || code == MGMT_EV_AUTH_FAILED) {
		const char *what = code == MGMT_EV_AUTH_FAILED ?
				   "pair-failed" : "new-ltk";

		if (code == MGMT_EV_NEW_LONG_TERM_KEY && len >= 8)
			addr_str(p + 1, a);	/* after store_hint */
		if (r->truth)
			fprintf(r->truth, "link\t%s\t%lld\t%s\n", what,
				(long long)now_ns(CLOCK_MONOTONIC), a);
		logmsg("pairing: %s %s", what, a);
		return;
	}
	if (code != MGMT_EV_DEVICE_CONNECTED &&
	    code != MGMT_EV_DEVICE_DISCONNECTED)
		return;
	if (r->truth)
		fprintf(r->truth, "link\t%s\t%lld\t%s\n",
			code == MGMT_EV_DEVICE_CONNECTED ? "le-connected" :
			"le-disconnected", (long long)now_ns(CLOCK_MONOTONIC), a);
}

static void truth_header(struct run *r)
{
	const struct gait_params *gp = gait_model_params(r->gm);
	FILE *f = r->truth;
	char a[18];
	size_t i;

	addr_str(r->addr, a);
	fprintf(f, "# gaitinsole-sim ground truth (docs/simulator.md)\n");
	fprintf(f, "run\tformat\t%d\n", TRUTH_FORMAT);
	fprintf(f, "run\tside\t%s\n", gait_side_name(env.side));
	fprintf(f, "run\tprofile\t%s\n",
		env.profile == INSOLE_PROFILE_FFF0 ? "fff0" : "gaitcap");
	fprintf(f, "run\tsource\t%s\n", env.replay_path ? "replay" : "model");
	fprintf(f, "run\taddress\t%s\n", a);
	fprintf(f, "run\tseed\t%llu\n", (unsigned long long)env.seed);
	fprintf(f, "run\trate_hz\t%u\n", env.rate_hz);
	fprintf(f, "run\tbatch\t%u\n", env.batch);
	fprintf(f, "run\tclock_offset_us\t%llu\n",
		(unsigned long long)insole_model_clock_offset_us(r->im));
	fprintf(f, "run\tdrift_ppb\t%lld\n",
		(long long)insole_model_drift_ppb(r->im));
	fprintf(f, "run\twalk_t0_mono_ns\t%lld\n", (long long)r->t0_ns);
	fprintf(f, "run\twalk_t0_real_ns\t%lld\n", (long long)r->t0_real_ns);
	fprintf(f, "run\tdata_handle\t%u\n",
		env.profile == INSOLE_PROFILE_FFF0 ?
		insole_srv_value_handle(r->srv, FFF0_CHR_NOTIFY, false) :
		insole_srv_value_handle(r->srv, INSOLE_CHR_DATA, true));
	fprintf(f, "run\tgait\t%s\n", gait_kind_name(gp->kind));
	fprintf(f, "run\tcadence_spm\t%.3f\n", gp->cadence_spm);
	fprintf(f, "run\tspeed_mps\t%.4f\n", gp->speed_mps);
	fprintf(f, "run\twalk_duration_us\t%llu\n",
		(unsigned long long)gait_model_duration_us(r->gm));
	for (i = 0; i < env.n_faults; i++)
		fprintf(f, "fault\t%s\t%llu\n", fault_names[env.faults[i].kind],
			(unsigned long long)env.faults[i].at);
	if (env.replay_path)
		return;
	/* The model's true contacts of this side, walk time and insole clock. */
	for (i = 0; i < gait_model_n_footfalls(r->gm); i++) {
		const struct footfall *ff = gait_model_footfall(r->gm, i);

		if (ff->side != env.side)
			continue;
		fprintf(f, "contact\t%u\t%llu\t%llu\t%llu\t%llu\t%u\t%d\n",
			ff->index, (unsigned long long)ff->ic_us,
			(unsigned long long)ff->to_us,
			(unsigned long long)insole_model_clock_us(r->im, ff->ic_us),
			(unsigned long long)insole_model_clock_us(r->im, ff->to_us),
			ff->pass, ff->turning);
	}
}

static int model_sample(void *ctx, uint64_t k, uint64_t clock_us,
			struct insole_reading *out)
{
	insole_model_sample(ctx, clock_us, out);
	return 0;
}

/* Faults without at=: spread over the walk's notifications from the seed. */
static void place_faults(const struct run *r)
{
	uint64_t span = gait_model_duration_us(r->gm) * env.rate_hz /
			1000000 / env.batch;
	struct sim_rng rng;
	size_t i;

	if (span < 20)
		span = 20;
	sim_rng_seed(&rng, env.seed, SIM_RNG_FAULT_PLACE);
	for (i = 0; i < env.n_faults; i++)
		if (env.faults[i].at == UINT64_MAX)
			env.faults[i].at = 10 + sim_rng_below(&rng, span - 10);
	qsort(env.faults, env.n_faults, sizeof(env.faults[0]), cmp_fault);
}

static int advertise(struct run *r)
{
	static const uint8_t svc128[16] = INSOLE_UUID128(INSOLE_SVC);
	uint8_t adv[31], rsp[31];
	size_t alen, nlen = strlen(env.name);

	if (env.profile == INSOLE_PROFILE_GAITCAP) {
		adv[0] = 17;
		adv[1] = 0x07;		/* complete list of 128-bit UUIDs */
		memcpy(adv + 2, svc128, 16);
		alen = 18;
	} else {
		adv[0] = 3;
		adv[1] = 0x03;		/* complete list of 16-bit UUIDs */
		adv[2] = FFF0_SVC & 0xff;
		adv[3] = FFF0_SVC >> 8;
		alen = 4;
	}
	rsp[0] = nlen + 1;
	rsp[1] = 0x09;			/* complete local name */
	memcpy(rsp + 2, env.name, nlen);
	return ble_mgmt_advertise(&r->mgmt, adv, alen, rsp, nlen + 2);
}

static int listen_att(struct run *r)
{
	struct sockaddr_l2 a = { .l2_family = AF_BLUETOOTH };

	r->lfd = socket(PF_BLUETOOTH, SOCK_SEQPACKET | SOCK_CLOEXEC,
			BTPROTO_L2CAP);
	if (r->lfd < 0)
		return -errno;
	memcpy(&a.l2_bdaddr, r->addr, 6);
	a.l2_cid = htobs(ATT_CID);
	a.l2_bdaddr_type = BDADDR_LE_PUBLIC;
	if (bind(r->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(r->lfd, 1) < 0)
		return -errno;
	return 0;
}

static void drop_link(struct run *r, bool force)
{
	char a[18];

	if (r->cfd < 0)
		return;
	addr_str((const uint8_t *)&r->peer.l2_bdaddr, a);
	/* Closing the socket alone leaves the LE link up (docs/lab.md). */
	if (force)
		ble_mgmt_disconnect(&r->mgmt, (const uint8_t *)&r->peer.l2_bdaddr,
				    r->peer.l2_bdaddr_type);
	insole_srv_detach(r->srv);
	close(r->cfd);
	r->cfd = -1;
	if (r->truth)
		fprintf(r->truth, "link\t%s\t%lld\t%s\n",
			force ? "dropped" : "closed",
			(long long)now_ns(CLOCK_MONOTONIC), a);
	logmsg("link to %s %s", a, force ? "dropped" : "closed");
	/* Advertise again for the client's reconnection. */
	ble_mgmt_stop_advertising(&r->mgmt);
	if (advertise(r))
		logmsg("advertising again failed (mgmt status %u)",
		       r->mgmt.status);
}

static int accept_link(struct run *r)
{
	socklen_t len = sizeof(r->peer);
	char a[18];
	int fd;

	fd = accept4(r->lfd, (struct sockaddr *)&r->peer, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (r->cfd >= 0) {
		close(fd);	/* one client at a time, as a real insole */
		return 0;
	}
	r->cfd = fd;
	insole_srv_attach(r->srv, fd);
	addr_str((const uint8_t *)&r->peer.l2_bdaddr, a);
	if (r->truth)
		fprintf(r->truth, "link\taccepted\t%lld\t%s\n",
			(long long)now_ns(CLOCK_MONOTONIC), a);
	logmsg("link from %s", a);
	return 0;
}

static int run_loop(struct run *r)
{
	int64_t end_ns = env.exit_after_s > 0 ?
		now_ns(CLOCK_MONOTONIC) + (int64_t)(env.exit_after_s * 1e9) :
		INT64_MAX;
	uint8_t pdu[INSOLE_SRV_MAX_MTU + 64];
	int rc = 0;

	while (!stop_signal) {
		struct pollfd p[3] = {
			{ .fd = r->mgmt.fd, .events = POLLIN },
			{ .fd = r->lfd, .events = POLLIN },
			{ .fd = r->cfd, .events = POLLIN },
		};
		uint64_t next = insole_srv_next_us(r->srv);
		int64_t mono = now_ns(CLOCK_MONOTONIC), wait_ms = 1000;

		if (mono >= end_ns)
			break;
		if (next != UINT64_MAX) {
			int64_t due = r->t0_ns + insole_model_walk_ns(r->im, next);

			wait_ms = due > mono ? (due - mono + 999999) / 1000000 : 0;
			if (wait_ms > 1000)
				wait_ms = 1000;
		}
		if (poll(p, 3, (int)wait_ms) < 0 && errno != EINTR)
			return -errno;
		if (p[0].revents & POLLIN)
			ble_mgmt_drain(&r->mgmt);
		if (p[1].revents & POLLIN) {
			rc = accept_link(r);
			if (rc)
				return rc;
		}
		if (r->cfd >= 0 && p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(r->cfd, pdu, sizeof(pdu), MSG_DONTWAIT);

			if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
				drop_link(r, false);
			} else if (n > 0 &&
				   insole_srv_handle(r->srv, pdu, n, clock_now(r))) {
				drop_link(r, false);
			}
		}
		rc = insole_srv_pump(r->srv, clock_now(r));
		if (rc == 1)
			drop_link(r, true);
		else if (rc < 0)
			drop_link(r, false);
		if (r->truth)
			fflush(r->truth);
	}
	return 0;
}

static int setup(struct run *r)
{
	struct walkway w;
	char err[160];
	int rc;

	if (!env.gait.passes && isnan(env.gait.duration_s))
		env.gait.passes = 2;
	if (gait_params_resolve(&env.gait, err, sizeof(err))) {
		fprintf(stderr, "gaitinsole-sim: %s\n", err);
		return -EINVAL;
	}
	mat_walkway_line(&w, env.tiles);
	rc = gait_model_create(&r->gm, &env.gait, &w, env.seed);
	if (rc)
		return rc;
	rc = insole_model_create(&r->im, r->gm, env.side, &env.insole,
				 env.seed);
	if (rc) {
		fprintf(stderr, "gaitinsole-sim: invalid insole parameters\n");
		return rc;
	}
	if (env.replay_path) {
		rc = insole_replay_load(&r->replay, env.replay_path, env.side,
					r->im, env.loop, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "gaitinsole-sim: %s\n", err);
			return rc;
		}
		env.rate_hz = insole_replay_rate(r->replay);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = options, .parser = parse_opt, .doc = doc,
	};
	struct run r = { .lfd = -1, .cfd = -1, .mgmt = { .fd = -1 } };
	struct insole_srv_cfg cfg = { 0 };
	char serial[32], name[32], a[18];
	struct sigaction sa = { .sa_handler = on_signal };
	int rc, status = 1;

	gait_params_init(&env.gait);
	insole_params_init(&env.insole);
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (setup(&r))
		goto out;
	if (!env.name) {
		snprintf(name, sizeof(name), "%s-insole-%c",
			 env.profile == INSOLE_PROFILE_FFF0 ? "FFF0" : "gaitcap",
			 env.side == GAIT_LEFT ? 'L' : 'R');
		env.name = name;
	}
	snprintf(serial, sizeof(serial), "SIM-%c-%llu",
		 env.side == GAIT_LEFT ? 'L' : 'R',
		 (unsigned long long)env.seed);
	place_faults(&r);
	cfg.profile = env.profile;
	cfg.side = env.side;
	cfg.name = env.name;
	cfg.serial = serial;
	cfg.battery_pct = 87;
	cfg.rate_hz = env.rate_hz;
	cfg.fixed_rate = env.replay_path != NULL;
	cfg.batch = env.batch;
	cfg.autostart = env.autostart;
	cfg.require_encryption = env.require_enc;
	cfg.max_mtu = INSOLE_SRV_MAX_MTU;
	cfg.conn_interval_us = env.conn_interval_ms * 1000;
	cfg.retx_pct = env.retx_pct;
	cfg.seed = env.seed;
	cfg.model = r.im;
	cfg.source.sample = env.replay_path ? insole_replay_sample : model_sample;
	cfg.source.ctx = env.replay_path ? (void *)r.replay : (void *)r.im;
	cfg.faults = env.faults;
	cfg.n_faults = env.n_faults;
	cfg.on_notify = on_notify;
	cfg.on_event = on_event;
	cfg.cb_ctx = &r;
	rc = insole_srv_create(&r.srv, &cfg);
	if (rc) {
		fprintf(stderr, "gaitinsole-sim: bad configuration (rate %u)\n",
			env.rate_hz);
		goto out;
	}
	r.mgmt.on_event = on_mgmt_event;
	r.mgmt.ctx = &r;
	rc = ble_mgmt_open(&r.mgmt, env.hci);
	if (!rc)
		rc = ble_mgmt_setup(&r.mgmt, r.addr);
	/* Bonding needs both ends bondable; NoInputNoOutput: Just Works. */
	if (!rc && env.require_enc) {
		rc = ble_mgmt_set_bondable(&r.mgmt, true);
		if (!rc)
			rc = ble_mgmt_set_io_cap(&r.mgmt, MGMT_IO_CAP_NO_IO);
	}
	if (rc) {
		fprintf(stderr, "gaitinsole-sim: hci%d: cannot power on: %s\n",
			env.hci, strerror(-rc));
		goto out;
	}
	rc = listen_att(&r);
	if (rc) {
		fprintf(stderr, "gaitinsole-sim: ATT server socket: %s\n",
			strerror(-rc));
		goto out;
	}
	rc = advertise(&r);
	if (rc) {
		fprintf(stderr, "gaitinsole-sim: hci%d: cannot advertise (mgmt status %u)\n",
			env.hci, r.mgmt.status);
		goto out;
	}
	r.t0_ns = env.walk_start_ns >= 0 ? env.walk_start_ns :
		  now_ns(CLOCK_MONOTONIC);
	r.t0_real_ns = now_ns(CLOCK_REALTIME) -
		       (now_ns(CLOCK_MONOTONIC) - r.t0_ns);
	if (env.truth_path) {
		r.truth = fopen(env.truth_path, "we");
		if (!r.truth) {
			fprintf(stderr, "gaitinsole-sim: %s: %s\n",
				env.truth_path, strerror(errno));
			goto out;
		}
		truth_header(&r);
		fflush(r.truth);
	}
	addr_str(r.addr, a);
	if (env.ready_path) {
		FILE *f = fopen(env.ready_path, "we");

		if (!f || fprintf(f, "%s\n", a) < 0 || fclose(f)) {
			fprintf(stderr, "gaitinsole-sim: %s: %s\n",
				env.ready_path, strerror(errno));
			goto out;
		}
	}
	logmsg("%s insole %s advertising on hci%d as %s", gait_side_name(env.side),
	       env.name, env.hci, a);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = run_loop(&r);
	if (rc)
		fprintf(stderr, "gaitinsole-sim: %s\n", strerror(-rc));
	else
		status = 0;
	if (r.truth)
		fprintf(r.truth, "end\t%s\t%lld\t%llu\t%llu\t%llu\t%llu\n",
			stop_signal ? "signal" : "exit-after",
			(long long)now_ns(CLOCK_MONOTONIC),
			(unsigned long long)r.n_sent,
			(unsigned long long)r.n_unsent,
			(unsigned long long)r.n_dropped,
			(unsigned long long)r.n_malformed);
	logmsg("%llu notifications sent, %llu unsent, %llu dropped, %llu malformed",
	       (unsigned long long)r.n_sent, (unsigned long long)r.n_unsent,
	       (unsigned long long)r.n_dropped,
	       (unsigned long long)r.n_malformed);
out:
	if (r.truth && fclose(r.truth))
		status = 1;
	if (r.cfd >= 0)
		close(r.cfd);
	if (r.lfd >= 0)
		close(r.lfd);
	if (r.mgmt.fd >= 0) {
		ble_mgmt_stop_advertising(&r.mgmt);
		ble_mgmt_close(&r.mgmt);
	}
	insole_srv_destroy(r.srv);
	insole_replay_destroy(r.replay);
	insole_model_destroy(r.im);
	gait_model_destroy(r.gm);
	return status;
}
