// SPDX-License-Identifier: GPL-2.0
/*
 * gaitmat_bufhold DEVNODE: keep an IIO buffer's file open without its
 * device's chardev, for tests/vm/scenarios/gaitmat-rmmod.sh.
 *
 * Opens DEVNODE (/dev/iio:deviceN), takes the buffer's own file with
 * IIO_BUFFER_GET_FD_IOCTL, closes the chardev and says "held" on stdout.
 * Then it waits for a line (or end of file) on stdin, closes the buffer's
 * file and says "closed". Whatever the scenario does in between (unplug
 * the controller, unload the modules) happens while only the buffer's file
 * holds the IIO device: closing it must not run code that is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/iio/buffer.h>

int main(int argc, char **argv)
{
	int fd, bfd = 0;
	char c;

	if (argc != 2) {
		fprintf(stderr, "usage: %s /dev/iio:deviceN\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* The ioctl takes the buffer index and returns the new file in it. */
	if (ioctl(fd, IIO_BUFFER_GET_FD_IOCTL, &bfd) < 0) {
		fprintf(stderr, "IIO_BUFFER_GET_FD_IOCTL: %s\n",
			strerror(errno));
		return 1;
	}
	close(fd);
	printf("held\n");
	fflush(stdout);

	while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
		;
	if (close(bfd)) {
		fprintf(stderr, "close: %s\n", strerror(errno));
		return 1;
	}
	printf("closed\n");
	return 0;
}
