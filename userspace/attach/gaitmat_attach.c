// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat-attach: attach a gait mat controller on a serial port (typically
 * a USB-serial bridge, /dev/ttyUSB0) to the gaitmat driver through its
 * virtual transport, as btattach attaches an HCI UART. The tty is put in
 * raw mode at the link rate; every byte from it is written to
 * /dev/gaitmat-virt (the driver sees what a UART driver would) and every
 * byte the driver sends is written to the tty. When the tty goes away
 * (the bridge is unplugged) the helper exits, which unplugs the virtual
 * controller: its IIO device disappears.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define VIRT_PATH	"/dev/gaitmat-virt"
#define XFER_SIZE	4096

static struct env {
	const char *tty;
	const char *virt;
	unsigned long baud;
	bool flow;
	bool verbose;
} env = {
	.virt = VIRT_PATH,
	.baud = 3000000,
};

const char *argp_program_version = "gaitmat-attach 1.0";
static const char doc[] =
"Attach a gait mat controller on a serial port to the gaitmat driver.\n"
"\n"
"USAGE: gaitmat-attach [-B BAUD] [-f] [-d PATH] [-v] TTY\n"
"\n"
"EXAMPLES:\n"
"  gaitmat-attach /dev/ttyUSB0           a mat on a USB-serial bridge, 3 Mbaud\n"
"  gaitmat-attach -B 921600 /dev/ttyS1   a slower link on a board UART\n"
"  gaitmat-attach -f -v /dev/ttyACM0     with RTS/CTS, logging byte counts\n";

static const struct argp_option options[] = {
	{ "baud", 'B', "BAUD", 0, "Link rate (default 3000000)", 0 },
	{ "flow", 'f', NULL, 0, "RTS/CTS hardware flow control", 0 },
	{ "virt", 'd', "PATH", 0, "Virtual transport (default " VIRT_PATH ")", 0 },
	{ "verbose", 'v', NULL, 0, "Report byte counts on stderr", 0 },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'B':
		errno = 0;
		env.baud = strtoul(arg, &end, 10);
		if (errno || *end || end == arg || !env.baud)
			argp_error(state, "invalid --baud '%s': expected a rate such as 3000000 or 921600",
				   arg);
		return 0;
	case 'f':
		env.flow = true;
		return 0;
	case 'd':
		env.virt = arg;
		return 0;
	case 'v':
		env.verbose = true;
		return 0;
	case ARGP_KEY_ARG:
		if (env.tty)
			argp_error(state, "one TTY at a time: '%s' and '%s' given",
				   env.tty, arg);
		env.tty = arg;
		return 0;
	case ARGP_KEY_END:
		if (!env.tty)
			argp_error(state, "no TTY given: expected the serial port, e.g. /dev/ttyUSB0");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp argp = {
	.options = options,
	.parser = parse_arg,
	.args_doc = "TTY",
	.doc = doc,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* termios speed constant of a rate, or B0 when there is none. */
static speed_t baud_const(unsigned long baud)
{
	static const struct { unsigned long baud; speed_t code; } rates[] = {
		{ 9600, B9600 }, { 19200, B19200 }, { 38400, B38400 },
		{ 57600, B57600 }, { 115200, B115200 }, { 230400, B230400 },
		{ 460800, B460800 }, { 500000, B500000 }, { 576000, B576000 },
		{ 921600, B921600 }, { 1000000, B1000000 },
		{ 1152000, B1152000 }, { 1500000, B1500000 },
		{ 2000000, B2000000 }, { 2500000, B2500000 },
		{ 3000000, B3000000 }, { 3500000, B3500000 },
		{ 4000000, B4000000 },
	};
	size_t i;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (rates[i].baud == baud)
			return rates[i].code;
	return B0;
}

/* Raw 8N1 at @baud: no echo, no line discipline, no character mapping. */
static int tty_setup(int fd, unsigned long baud, bool flow)
{
	speed_t speed = baud_const(baud);
	struct termios t;

	if (speed == B0)
		return -EINVAL;
	if (tcgetattr(fd, &t))
		return -errno;
	cfmakeraw(&t);
	t.c_cflag &= ~(CSTOPB | PARENB | CRTSCTS);
	t.c_cflag |= CS8 | CLOCAL | CREAD;
	if (flow)
		t.c_cflag |= CRTSCTS;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, speed) || cfsetospeed(&t, speed))
		return -errno;
	if (tcsetattr(fd, TCSANOW, &t))
		return -errno;
	/* Stale bytes from before we owned the port are not the controller's. */
	tcflush(fd, TCIOFLUSH);
	return 0;
}

/* Write all of @buf to a blocking fd; returns 0 or -errno. */
static int write_all(int fd, const unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

struct counts {
	unsigned long long from_tty;
	unsigned long long to_tty;
};

/*
 * Shuttle bytes both ways until the tty or the driver goes away, or a
 * signal arrives. Writes to /dev/gaitmat-virt never block (the driver
 * drops and counts what does not fit); writes to the tty may, briefly, and
 * only carry the driver's short commands.
 */
static int shuttle(int tty, int virt, struct counts *c)
{
	struct pollfd pfd[2] = {
		{ .fd = tty, .events = POLLIN },
		{ .fd = virt, .events = POLLIN },
	};
	unsigned char buf[XFER_SIZE];
	ssize_t n;
	int ret;

	while (!stop) {
		ret = poll(pfd, 2, -1);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents & POLLIN) {
			n = read(tty, buf, sizeof(buf));
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				return -errno;
			if (n == 0)
				return -ENODEV;	/* hung up */
			if (n > 0) {
				ret = write_all(virt, buf, n);
				if (ret)
					return ret;
				c->from_tty += n;
			}
		} else if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			return -ENODEV;		/* the bridge was unplugged */
		}
		if (pfd[1].revents & POLLIN) {
			n = read(virt, buf, sizeof(buf));
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				return -errno;
			if (n > 0) {
				ret = write_all(tty, buf, n);
				if (ret)
					return ret;
				c->to_tty += n;
			}
		} else if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			return -EPIPE;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct counts c = { 0 };
	int tty, virt, ret;

	/* docs/driver.md: 2 on a usage error (argp's own default is 64). */
	argp_err_exit_status = 2;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (baud_const(env.baud) == B0) {
		fprintf(stderr, "gaitmat-attach: unsupported --baud %lu: expected a standard rate, 9600..4000000 (e.g. 115200, 921600, 3000000)\n"
			"Try 'gaitmat-attach --help'.\n", env.baud);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	tty = open(env.tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tty < 0) {
		ret = -errno;
		fprintf(stderr, "gaitmat-attach: %s: %s\n", env.tty,
			strerror(-ret));
		return 1;
	}
	ret = tty_setup(tty, env.baud, env.flow);
	if (ret) {
		fprintf(stderr, "gaitmat-attach: %s: cannot set raw %lu baud: %s\n",
			env.tty, env.baud, strerror(-ret));
		goto close_tty;
	}
	/* Opening the virtual transport plugs a controller in. */
	virt = open(env.virt, O_RDWR | O_CLOEXEC);
	if (virt < 0) {
		ret = -errno;
		fprintf(stderr, "gaitmat-attach: %s: %s%s\n", env.virt,
			strerror(-ret),
			ret == -ENOENT ? " (is gaitmat_virt loaded?)" : "");
		goto close_tty;
	}
	if (env.verbose)
		fprintf(stderr, "gaitmat-attach: %s at %lu baud attached\n",
			env.tty, env.baud);

	ret = shuttle(tty, virt, &c);
	if (env.verbose || ret)
		fprintf(stderr,
			"gaitmat-attach: %s: %s; %llu bytes from the controller, %llu to it\n",
			env.tty, ret ? strerror(-ret) : "stopped", c.from_tty,
			c.to_tty);
	/* A controller that went away is a normal end, not a failure. */
	if (ret == -ENODEV || ret == -EIO)
		ret = 0;
	close(virt);
close_tty:
	close(tty);
	return ret ? 1 : 0;
}
