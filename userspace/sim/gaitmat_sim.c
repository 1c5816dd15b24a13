// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat-sim: play a gait mat controller. A subject walks across an
 * emulated walkway; the frames the controller would send go to a file, a
 * fifo (QEMU's -serial pipe), a tty or /dev/gaitmat-virt; the ground truth
 * goes to a JSON file. See docs/simulator.md.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"
#include "gait_model.h"
#include "mat_ctrl.h"
#include "sim_truth.h"

static struct env {
	const char *out_path;
	const char *in_path;
	const char *truth_path;
	struct mat_cfg cfg;
	struct gait_params gait;
	struct fault_plan faults;
	int pace;		/* -1: by output type */
	double rate_scale;
	double start_timeout_s;
	bool quiet;
	bool verbose;
} env;

const char *argp_program_version = "gaitmat-sim 1.0";
static const char doc[] =
"Emulate a gait mat controller: a walking model drives the frames of the\n"
"gaitmat UART protocol, with ground truth and optional faults.\n"
"\n"
"USAGE: gaitmat-sim --out PATH [OPTION...]\n"
"\n"
"EXAMPLES:\n"
"  gaitmat-sim --out walk.bin --no-pace --autostart --truth walk.json\n"
"        two passes over 4 tiles into a file, as fast as possible\n"
"  gaitmat-sim --out /dev/gaitmat-virt --tiles 6 --rate 200 --passes 4\n"
"        play a 6-tile mat through the driver's virtual transport\n"
"  gaitmat-sim --out /tmp/ser.in --in /tmp/ser.out --autostart\n"
"        feed QEMU's -serial pipe:/tmp/ser, read its commands back\n"
"  gaitmat-sim --out f.bin --no-pace --autostart --gait antalgic \\\n"
"        --fault crc:5 --fault reset:at=300 --fault silence:ms=3000\n"
"        a limping subject and a misbehaving link\n";

enum {
	OPT_IN = 'i', OPT_OUT = 'o', OPT_QUIET = 'q', OPT_VERBOSE = 'v',
	OPT_TRUTH = 0x100, OPT_TILES, OPT_RATE, OPT_BAUD, OPT_FULL_SCALE,
	OPT_GAIN_SPREAD, OPT_DURATION, OPT_PASSES, OPT_SPEED, OPT_CADENCE,
	OPT_STEP_LENGTH, OPT_STEP_WIDTH, OPT_FOOT_LENGTH, OPT_FOOT_WIDTH,
	OPT_TOE_OUT, OPT_MASS, OPT_GAIT, OPT_ASYMMETRY, OPT_AFFECTED,
	OPT_VARIABILITY, OPT_LEAD_IN, OPT_TURN_MARGIN, OPT_SEED, OPT_FAULT,
	OPT_AUTOSTART, OPT_PACE, OPT_NO_PACE, OPT_RATE_SCALE,
	OPT_START_TIMEOUT,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Output:", 1 },
	{ "out", OPT_OUT, "PATH", 0,
	  "Where the wire bytes go: a file, a fifo, a tty, /dev/gaitmat-virt, or - for stdout", 1 },
	{ "in", OPT_IN, "PATH", 0,
	  "Read host commands from PATH (e.g. QEMU's PATH.out fifo)", 1 },
	{ "truth", OPT_TRUTH, "FILE", 0, "Write the ground truth as JSON", 1 },
	{ "autostart", OPT_AUTOSTART, NULL, 0,
	  "Stream at boot without waiting for a START command", 1 },
	{ "pace", OPT_PACE, NULL, 0,
	  "Send in real time (default for devices and fifos)", 1 },
	{ "no-pace", OPT_NO_PACE, NULL, 0,
	  "Send as fast as possible (default for files)", 1 },
	{ "rate-scale", OPT_RATE_SCALE, "N", 0,
	  "When pacing, play N times faster than real time (default 1)", 1 },
	{ "start-timeout", OPT_START_TIMEOUT, "S", 0,
	  "Give up if nothing started streaming within S seconds (default: wait)", 1 },
	{ "quiet", OPT_QUIET, NULL, 0, "No summary on stderr", 1 },
	{ "verbose", OPT_VERBOSE, NULL, 0, "Log faults and host commands on stderr", 1 },

	{ NULL, 0, NULL, 0, "Mat and link:", 2 },
	{ "tiles", OPT_TILES, "N", 0,
	  "Tiles in a line along x, 0.608 m each, 64 x 64 sensels (1..8, default 4)", 2 },
	{ "rate", OPT_RATE, "HZ", 0, "Scan rate at boot: 50, 100, 120, 200 (default 100)", 2 },
	{ "baud", OPT_BAUD, "N", 0, "Link rate; bytes cost 10 bits (default 3000000)", 2 },
	{ "full-scale", OPT_FULL_SCALE, "KPA", 0, "Pressure at count 4095 (default 600)", 2 },
	{ "gain-spread", OPT_GAIN_SPREAD, "PCT", 0,
	  "Calibration gains spread +-PCT around 1 (default 5)", 2 },
	{ "seed", OPT_SEED, "N", 0, "Seed of every random choice (default 1)", 2 },
	{ "fault", OPT_FAULT, "KIND[:OPTS]", 0,
	  "Inject a fault (repeatable). KIND: garbage, crc, truncate, drop, reset, silence, budget; "
	  "OPTS (comma-separated): N or n=N (count), at=SCAN (scan index), ms=MS (silence), "
	  "len=BYTES (garbage burst)", 2 },

	{ NULL, 0, NULL, 0, "The walk:", 3 },
	{ "passes", OPT_PASSES, "N", 0,
	  "Crossings of the walkway, turning beyond its ends (default 2)", 3 },
	{ "duration", OPT_DURATION, "S", 0, "Walk back and forth for S seconds instead", 3 },
	{ "gait", OPT_GAIT, "KIND", 0,
	  "normal, antalgic, asymmetric or shuffling (default normal)", 3 },
	{ "speed", OPT_SPEED, "M/S", 0, "Walking speed", 3 },
	{ "cadence", OPT_CADENCE, "STEPS/MIN", 0, "Cadence (normal: 110)", 3 },
	{ "step-length", OPT_STEP_LENGTH, "M", 0, "Step length (normal: 0.65)", 3 },
	{ "step-width", OPT_STEP_WIDTH, "M", 0, "Step width (normal: 0.10)", 3 },
	{ "foot-length", OPT_FOOT_LENGTH, "M", 0, "Foot length (default 0.26)", 3 },
	{ "foot-width", OPT_FOOT_WIDTH, "M", 0, "Foot width (default 0.10)", 3 },
	{ "toe-out", OPT_TOE_OUT, "DEG", 0, "Foot progression angle (normal: 6)", 3 },
	{ "mass", OPT_MASS, "KG", 0, "Body mass (default 70)", 3 },
	{ "asymmetry", OPT_ASYMMETRY, "PCT", 0,
	  "Symmetry index of the affected side (antalgic: 20, asymmetric: 15)", 3 },
	{ "affected", OPT_AFFECTED, "SIDE", 0, "left or right (default right)", 3 },
	{ "variability", OPT_VARIABILITY, "PCT", 0,
	  "Step-to-step variation of times and lengths (normal: 2)", 3 },
	{ "lead-in", OPT_LEAD_IN, "M", 0, "Start this far before the walkway (default 1.0)", 3 },
	{ "turn-margin", OPT_TURN_MARGIN, "M", 0,
	  "Turn this far beyond the walkway's end; 0 turns on it (default 0.8)", 3 },
	{},
};

static int parse_double(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*v))
		return -EINVAL;
	return 0;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoul(s, &end, 0);
	if (errno || *end || *v > max)
		return -EINVAL;
	return 0;
}

/* The long name of option @key, for messages that name it. */
static const char *opt_name(int key)
{
	for (const struct argp_option *o = options; o->name || o->doc; o++)
		if (o->name && o->key == key)
			return o->name;
	return "?";
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct gait_params *g = &env.gait;
	char err[160];
	unsigned long u = 0;
	double d = 0;

	switch (key) {
	case OPT_OUT:
		env.out_path = arg;
		return 0;
	case OPT_IN:
		env.in_path = arg;
		return 0;
	case OPT_TRUTH:
		env.truth_path = arg;
		return 0;
	case OPT_AUTOSTART:
		env.cfg.autostart = true;
		return 0;
	case OPT_PACE:
		env.pace = 1;
		return 0;
	case OPT_NO_PACE:
		env.pace = 0;
		return 0;
	case OPT_QUIET:
		env.quiet = true;
		return 0;
	case OPT_VERBOSE:
		env.verbose = true;
		return 0;
	case OPT_FAULT:
		if (fault_plan_add(&env.faults, arg, err, sizeof(err)))
			argp_error(state, "--fault %s", err);
		return 0;
	case OPT_GAIT:
		if (gait_kind_parse(arg, &g->kind))
			argp_error(state, "invalid --gait '%s': expected normal, antalgic, asymmetric or shuffling",
				   arg);
		return 0;
	case OPT_AFFECTED:
		if (!strcmp(arg, "left"))
			g->affected = GAIT_LEFT;
		else if (!strcmp(arg, "right"))
			g->affected = GAIT_RIGHT;
		else
			argp_error(state, "invalid --affected '%s': expected left or right",
				   arg);
		return 0;
	case OPT_TILES:
	case OPT_RATE:
	case OPT_BAUD:
	case OPT_FULL_SCALE:
	case OPT_PASSES:
	case OPT_SEED:
		if (parse_ulong(arg, key == OPT_SEED ? ULONG_MAX : UINT32_MAX, &u))
			argp_error(state, "invalid --%s '%s': expected a whole number",
				   opt_name(key), arg);
		switch (key) {
		case OPT_TILES:
			env.cfg.n_tiles = u;
			break;
		case OPT_RATE:
			env.cfg.rate_hz = u;
			break;
		case OPT_BAUD:
			env.cfg.baud = u;
			break;
		case OPT_FULL_SCALE:
			if (!u || u > UINT16_MAX)
				argp_error(state, "invalid --full-scale '%s': expected 1..65535 kPa",
					   arg);
			env.cfg.full_scale_kpa = u;
			break;
		case OPT_PASSES:
			if (!u)
				argp_error(state, "invalid --passes '%s': expected at least 1",
					   arg);
			g->passes = u;
			break;
		default:
			env.cfg.seed = u;
			break;
		}
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s' (the output is given with --out PATH)",
			   arg);
		return 0;
	default:
		break;
	}
	if (key < OPT_TRUTH || key > OPT_START_TIMEOUT)
		return ARGP_ERR_UNKNOWN;
	if (parse_double(arg, &d))
		argp_error(state, "invalid --%s '%s': expected a number",
			   opt_name(key), arg);
	switch (key) {
	case OPT_GAIN_SPREAD:
		env.cfg.gain_spread = d / 100.0;
		break;
	case OPT_DURATION:
		g->duration_s = d;
		break;
	case OPT_SPEED:
		g->speed_mps = d;
		break;
	case OPT_CADENCE:
		g->cadence_spm = d;
		break;
	case OPT_STEP_LENGTH:
		g->step_length_m = d;
		break;
	case OPT_STEP_WIDTH:
		g->step_width_m = d;
		break;
	case OPT_FOOT_LENGTH:
		g->foot_length_m = d;
		break;
	case OPT_FOOT_WIDTH:
		g->foot_width_m = d;
		break;
	case OPT_TOE_OUT:
		g->toe_out_deg = d;
		break;
	case OPT_MASS:
		g->body_mass_kg = d;
		break;
	case OPT_ASYMMETRY:
		g->asymmetry_pct = d;
		break;
	case OPT_VARIABILITY:
		g->variability_pct = d;
		break;
	case OPT_LEAD_IN:
		g->lead_in_m = d;
		break;
	case OPT_TURN_MARGIN:
		g->turn_margin_m = d;
		break;
	case OPT_RATE_SCALE:
		if (!(d > 0 && d <= 1000))
			argp_error(state, "invalid --rate-scale '%s': expected more than 0, at most 1000",
				   arg);
		env.rate_scale = d;
		break;
	case OPT_START_TIMEOUT:
		if (!(d > 0))
			argp_error(state, "invalid --start-timeout '%s': expected seconds, more than 0",
				   arg);
		env.start_timeout_s = d;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* ---- I/O ------------------------------------------------------------------ */

struct io {
	int out_fd;
	int in_fd;		/* -1, out_fd (bidirectional) or its own */
	bool pace;
	double rate_scale;
	struct timespec t0;	/* real time of sim time 0 */
	bool closed;		/* the reader went away */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t real_to_sim(const struct io *io)
{
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (now.tv_sec - io->t0.tv_sec) * 1e6 +
	     (now.tv_nsec - io->t0.tv_nsec) / 1e3;
	return dt <= 0 ? 0 : (uint64_t)(dt * io->rate_scale);
}

static struct timespec sim_to_real(const struct io *io, uint64_t sim_us)
{
	double us = sim_us / io->rate_scale;
	struct timespec ts = io->t0;
	long long ns = ts.tv_nsec + (long long)llround(fmod(us, 1e6) * 1e3);

	ts.tv_sec += (time_t)(us / 1e6) + ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	return ts;
}

static int write_all(struct io *io, const uint8_t *buf, size_t len)
{
	struct pollfd pfd = { .fd = io->out_fd, .events = POLLOUT };
	ssize_t n;

	while (len) {
		n = write(io->out_fd, buf, len);
		if (n < 0) {
			if (errno == EINTR && !stop_signal)
				continue;
			if (errno == EAGAIN) {
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return -errno;
				if (stop_signal)
					return -EINTR;
				continue;
			}
			if (errno == EPIPE)
				io->closed = true;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* The controller's sink: hold each chunk until its time on the line. */
static int io_sink(void *ctx, const uint8_t *buf, size_t len, uint64_t sim_us)
{
	struct io *io = ctx;

	if (io->pace) {
		struct timespec ts = sim_to_real(io, sim_us);

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR) {
			if (stop_signal)
				return -EINTR;
		}
	}
	return write_all(io, buf, len);
}

/* Read what the host sent and hand it to the controller at @sim_us. */
static int io_read_host(struct io *io, struct mat_ctrl *c, uint64_t sim_us)
{
	uint8_t buf[512];
	ssize_t n;

	for (;;) {
		n = read(io->in_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				return 0;
			return -errno;
		}
		if (n == 0) {
			/* End of file: nobody will write commands any more. */
			if (io->in_fd != io->out_fd)
				close(io->in_fd);
			io->in_fd = -1;
			return 0;
		}
		if (sim_us < mat_ctrl_now_us(c))
			sim_us = mat_ctrl_now_us(c);
		if (env.verbose)
			fprintf(stderr, "gaitmat-sim: %zd host bytes at %.6f s\n",
				n, sim_us / 1e6);
		n = mat_ctrl_host_input(c, sim_us, buf, n);
		if (n)
			return n;
	}
}

/* Wait for host bytes until sim time @until (paced) or @timeout_ms. */
static int io_wait(struct io *io, struct mat_ctrl *c, uint64_t until,
		   int timeout_ms)
{
	struct pollfd pfd = { .fd = io->in_fd, .events = POLLIN };
	struct timespec ts;
	int ret;

	for (;;) {
		if (stop_signal)
			return -EINTR;
		if (io->pace) {
			uint64_t now = real_to_sim(io);
			uint64_t left = until > now ? until - now : 0;
			double real_us = left / io->rate_scale;

			if (!left)
				return 0;
			ts.tv_sec = (time_t)(real_us / 1e6);
			ts.tv_nsec = (long)(fmod(real_us, 1e6) * 1e3);
		} else {
			ts.tv_sec = timeout_ms / 1000;
			ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
		}
		ret = ppoll(io->in_fd >= 0 ? &pfd : NULL, io->in_fd >= 0, &ts,
			    NULL);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (ret > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			ret = io_read_host(io, c, io->pace ? real_to_sim(io) :
					   mat_ctrl_now_us(c));
			if (ret)
				return ret;
			if (io->pace)
				continue;
		}
		if (!io->pace)
			return 0;
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int open_output(struct io *io, bool *default_pace)
{
	struct stat st;
	int fd;

	*default_pace = false;
	if (!strcmp(env.out_path, "-")) {
		io->out_fd = STDOUT_FILENO;
		*default_pace = isatty(STDOUT_FILENO) ||
				(!fstat(STDOUT_FILENO, &st) && S_ISFIFO(st.st_mode));
		return 0;
	}
	if (!stat(env.out_path, &st) && S_ISCHR(st.st_mode)) {
		/* A device (tty, /dev/gaitmat-virt): both ways if allowed. */
		fd = open(env.out_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			if (!env.in_path)
				io->in_fd = fd;
		} else {
			fd = open(env.out_path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		}
		if (fd < 0)
			return -errno;
		if (isatty(fd)) {
			struct termios tio;

			if (!tcgetattr(fd, &tio)) {
				cfmakeraw(&tio);
				tcsetattr(fd, TCSANOW, &tio);
			}
		}
		*default_pace = true;
	} else if (!stat(env.out_path, &st) && S_ISFIFO(st.st_mode)) {
		/* Blocks until the reader (QEMU) opens its end. */
		fd = open(env.out_path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*default_pace = true;
	} else {
		fd = open(env.out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0644);
		if (fd < 0)
			return -errno;
	}
	io->out_fd = fd;
	return 0;
}

static int open_input(struct io *io)
{
	struct stat st;
	int fd;

	if (!env.in_path)
		return io->in_fd >= 0 ? set_nonblock(io->in_fd) : 0;
	/*
	 * A fifo opened read-write never reports end of file when its writer
	 * (QEMU) is not there yet or restarts; we never write to it.
	 */
	if (!stat(env.in_path, &st) && S_ISFIFO(st.st_mode))
		fd = open(env.in_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	else
		fd = open(env.in_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	io->in_fd = fd;
	return 0;
}

static void log_faults(const struct mat_ctrl *c, size_t *logged)
{
	const struct mat_fault_record *r;
	size_t n;

	r = mat_ctrl_fault_log(c, &n);
	for (; *logged < n; (*logged)++) {
		const struct mat_fault_record *f = &r[*logged];

		fprintf(stderr,
			"gaitmat-sim: fault %s at scan %llu (boot %u, seq %u, clock %llu us)\n",
			fault_kind_name(f->kind), (unsigned long long)f->scan,
			f->boot, f->seq, (unsigned long long)f->clock_us);
	}
}

static int run(struct io *io, struct mat_ctrl *c, const char **end_reason)
{
	uint64_t timeout_us = env.start_timeout_s > 0 ?
			      (uint64_t)(env.start_timeout_s * 1e6) : UINT64_MAX;
	size_t logged = 0;
	uint64_t next;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &io->t0);
	while (!mat_ctrl_finished(c)) {
		uint64_t end = mat_ctrl_end_us(c);
		bool started = end != UINT64_MAX;

		next = mat_ctrl_next_event_us(c);
		if (next > end)
			next = end;
		if (!started && next > timeout_us)
			return -ETIMEDOUT;
		if (io->in_fd >= 0 || io->pace) {
			/* Unpaced and idle: let the host catch up before START. */
			ret = io_wait(io, c, next, started ? 0 : 10);
			if (ret)
				goto out;
		}
		ret = mat_ctrl_run_until(c, next);
		if (env.verbose)
			log_faults(c, &logged);
		if (ret)
			goto out;
	}
	*end_reason = SIM_END_DONE;
	return 0;
out:
	if (stop_signal) {
		*end_reason = SIM_END_SIGNAL;
		return 0;
	}
	if (io->closed) {
		*end_reason = SIM_END_OUTPUT_CLOSED;
		return 0;
	}
	return ret;
}

static void summary(const struct mat_ctrl *c, const char *end_reason)
{
	const struct mat_stats *st = mat_ctrl_stats(c);
	size_t n_faults, n_boots;

	mat_ctrl_fault_log(c, &n_faults);
	mat_ctrl_boots(c, &n_boots);
	fprintf(stderr,
		"gaitmat-sim: %s: %llu scans, %llu data frames (%llu sparse, %llu dense), "
		"%llu budget drops, %zu faults, %zu boots, %llu bytes\n",
		end_reason, (unsigned long long)st->scans,
		(unsigned long long)st->data_frames,
		(unsigned long long)st->sparse, (unsigned long long)st->dense,
		(unsigned long long)st->budget_drops, n_faults, n_boots,
		(unsigned long long)st->bytes);
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = options,
		.parser = parse_arg,
		.doc = doc,
	};
	struct io io = { .out_fd = -1, .in_fd = -1 };
	const char *end_reason = SIM_END_DONE;
	struct gait_model *model = NULL;
	struct mat_ctrl *ctrl = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	struct walkway w;
	bool default_pace;
	char err[200];
	int ret;

	mat_cfg_init(&env.cfg);
	gait_params_init(&env.gait);
	env.pace = -1;
	env.rate_scale = 1.0;
	argp_err_exit_status = 2;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (!env.out_path) {
		fprintf(stderr, "gaitmat-sim: no --out PATH: expected a file, fifo, tty, /dev/gaitmat-virt or -\n"
			"Try 'gaitmat-sim --help'.\n");
		return 2;
	}
	ret = gait_params_resolve(&env.gait, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "gaitmat-sim: %s\n", err);
		return 2;
	}
	if (env.cfg.n_tiles < 1 || env.cfg.n_tiles > GM_MAX_TILES) {
		fprintf(stderr, "gaitmat-sim: invalid --tiles %u: expected 1..%d\n",
			env.cfg.n_tiles, GM_MAX_TILES);
		return 2;
	}
	mat_walkway_line(&w, env.cfg.n_tiles);
	ret = gait_model_create(&model, &env.gait, &w, env.cfg.seed);
	if (ret) {
		fprintf(stderr, "gaitmat-sim: walking model: %s\n", strerror(-ret));
		return 1;
	}
	ret = mat_ctrl_create(&ctrl, &env.cfg, model, &env.faults, io_sink, &io,
			      err, sizeof(err));
	if (ret) {
		if (ret == -EINVAL)
			fprintf(stderr, "gaitmat-sim: %s\n", err);
		else
			fprintf(stderr, "gaitmat-sim: %s\n", strerror(-ret));
		ret = ret == -EINVAL ? 2 : 1;
		goto out_model;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = open_output(&io, &default_pace);
	if (ret) {
		fprintf(stderr, "gaitmat-sim: %s: %s\n", env.out_path,
			strerror(-ret));
		ret = 1;
		goto out_ctrl;
	}
	ret = open_input(&io);
	if (ret) {
		fprintf(stderr, "gaitmat-sim: %s: %s\n",
			env.in_path ? env.in_path : env.out_path, strerror(-ret));
		ret = 1;
		goto out_close;
	}
	io.pace = env.pace < 0 ? default_pace : env.pace;
	io.rate_scale = env.rate_scale;
	if (!env.cfg.autostart && io.in_fd < 0) {
		fprintf(stderr,
			"gaitmat-sim: nothing can send START to this output: use --autostart or --in\n");
		ret = 2;
		goto out_close;
	}

	ret = run(&io, ctrl, &end_reason);
	if (ret) {
		fprintf(stderr, "gaitmat-sim: %s\n",
			ret == -ETIMEDOUT ? "no START from the host in time" :
			strerror(-ret));
		end_reason = ret == -ETIMEDOUT ? "start-timeout" : "error";
	}
	if (env.truth_path) {
		int tret = sim_truth_write(env.truth_path, model, ctrl,
					   end_reason);

		if (tret) {
			fprintf(stderr, "gaitmat-sim: %s: %s\n", env.truth_path,
				strerror(-tret));
			if (!ret)
				ret = tret;
		}
	}
	if (!env.quiet)
		summary(ctrl, end_reason);
	ret = ret ? 1 : 0;
out_close:
	if (io.in_fd >= 0 && io.in_fd != io.out_fd)
		close(io.in_fd);
	if (io.out_fd > STDERR_FILENO)
		close(io.out_fd);
out_ctrl:
	mat_ctrl_destroy(ctrl);
out_model:
	gait_model_destroy(model);
	return ret;
}
