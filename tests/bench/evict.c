// SPDX-License-Identifier: GPL-2.0
/*
 * evict: drop files' pages from the page cache, so that the next read of
 * them comes from the disk (the refine bench's cold-cache ratio). Dirty
 * pages are written first: the kernel keeps those.
 *
 *   evict FILE...
 *
 * Exit 1 if a file cannot be opened or advised.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: evict FILE...\n");
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		int ret;

		if (fd < 0) {
			fprintf(stderr, "evict: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
			continue;
		}
		if (fdatasync(fd) && errno != EINVAL && errno != EROFS)
			fprintf(stderr, "evict: %s: %s\n", argv[i], strerror(errno));
		/* Returns the error number itself, not -1 and errno. */
		ret = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (ret) {
			fprintf(stderr, "evict: %s: %s\n", argv[i], strerror(ret));
			rc = 1;
		}
		close(fd);
	}
	return rc;
}
