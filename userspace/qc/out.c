// SPDX-License-Identifier: GPL-2.0
/*
 * Where qc's outputs go (docs/qc.md, "Outputs"): never over the input, a
 * session or a file of refine's, and a file is either whole or untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qc/qc.h"
#include "session/gcs_format.h"

/* refine's outputs (gaitcap refine --help): an OUTDIR owns these names. */
static const char *const REFINE_OUT[] = {
	"refined.gcs", "events.tsv", "strides.tsv", "parameters.json",
};

/*
 * @path with its folder resolved (the file itself too when it exists), so
 * two spellings of one file compare equal; @path as given if its folder
 * does not resolve (the write will say why).
 */
static void canon(const char *path, char *out, size_t cap)
{
	char d[PATH_MAX], b[PATH_MAX], real[PATH_MAX];

	if (realpath(path, real)) {
		snprintf(out, cap, "%s", real);
		return;
	}
	snprintf(d, sizeof(d), "%s", path);
	snprintf(b, sizeof(b), "%s", path);
	if (realpath(dirname(d), real))
		snprintf(out, cap, "%s/%s", strcmp(real, "/") ? real : "", basename(b));
	else
		snprintf(out, cap, "%s", path);
}

static bool is_session(const char *path)
{
	char magic[sizeof(GCS_FILE_MAGIC) - 1];
	struct stat st;
	bool ret = false;
	int fd;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	ret = read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	      !memcmp(magic, GCS_FILE_MAGIC, sizeof(magic));
	close(fd);
	return ret;
}

static int refuse_one(const char *input, bool input_dir, const char *opt,
		      const char *out, char *err, size_t errlen)
{
	char in[PATH_MAX], o[PATH_MAX + 8], dir[PATH_MAX + 8];
	const char *base;

	canon(input, in, sizeof(in));
	canon(out, o, sizeof(o));
	if (!strcmp(in, o)) {
		snprintf(err, errlen, "%s %s: that is the input: refusing to overwrite it",
			 opt, out);
		return -EEXIST;
	}
	if (is_session(out)) {
		snprintf(err, errlen, "%s %s: a gaitcap session file: refusing to overwrite it",
			 opt, out);
		return -EEXIST;
	}
	base = strrchr(o, '/');
	if (input_dir && base) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - o), o);
		for (size_t i = 0; i < sizeof(REFINE_OUT) / sizeof(REFINE_OUT[0]); i++)
			if (!strcmp(dir, in) && !strcmp(base + 1, REFINE_OUT[i])) {
				snprintf(err, errlen, "%s %s: refine's %s in the input folder: "
					 "refusing to write it", opt, out, REFINE_OUT[i]);
				return -EEXIST;
			}
	}
	return 0;
}

int qc_check_outputs(const char *input, const char *json, const char *html,
		     char *err, size_t errlen)
{
	struct stat st;
	bool dir = !stat(input, &st) && S_ISDIR(st.st_mode);
	int ret = 0;

	if (json)
		ret = refuse_one(input, dir, "--json", json, err, errlen);
	if (!ret && html)
		ret = refuse_one(input, dir, "--report", html, err, errlen);
	if (!ret && json && html) {
		char a[PATH_MAX + 8], b[PATH_MAX + 8];

		canon(json, a, sizeof(a));
		canon(html, b, sizeof(b));
		if (!strcmp(a, b)) {
			snprintf(err, errlen, "--json and --report both name %s", json);
			ret = -EINVAL;
		}
	}
	return ret;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int qc_write_file(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX], d[PATH_MAX];
	struct stat st;
	mode_t mask;
	int fd, ret;

	/* A device or FIFO (/dev/stdout): nothing to replace, written as it is. */
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
		if (fd < 0)
			return -errno;
		ret = write_all(fd, buf, len);
		if (close(fd) && !ret)
			ret = -errno;
		return ret;
	}
	/* A short name beside it: a suffix would not fit a 255-byte name. */
	snprintf(d, sizeof(d), "%s", path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.qc-out.XXXXXX", dirname(d)) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	/* mkstemp makes 0600: give the file the mode fopen() would. */
	mask = umask(0);
	umask(mask);
	ret = fchmod(fd, 0666 & ~mask) ? -errno : 0;
	if (!ret)
		ret = write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
