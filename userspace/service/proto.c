// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's protocol (docs/protocols/control-socket.md): an
 * AF_UNIX SOCK_SEQPACKET socket, one request per message, one reply per
 * request, then the service closes the connection. SEQPACKET keeps message
 * boundaries (no framing of our own) and tells the service who connected
 * (SO_PEERCRED) at accept time.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "service/service.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool is_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (; *s; s++)
		if (!name_char(*s))
			return false;
	return true;
}

int svc_session_name(char *buf, size_t len, time_t t, const char *subject)
{
	struct tm tm;
	char stamp[24];

	if (!is_name(subject, 32))
		return -EINVAL;
	if (!gmtime_r(&t, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm))
		return -EINVAL;
	if ((size_t)snprintf(buf, len, "%s_%s.gcs", stamp, subject) >= len)
		return -ENAMETOOLONG;
	return 0;
}

bool svc_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups,
		      size_t n_groups, uid_t svc_uid, gid_t svc_gid)
{
	if (uid == 0 || uid == svc_uid || gid == svc_gid)
		return true;
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i] == svc_gid)
			return true;
	return false;
}

/* "key=value" after START; values are checked again by the session. */
static int start_args(char *args, struct svc_request *r, const char **why)
{
	char *tok, *save, *eq;

	for (tok = strtok_r(args, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		eq = strchr(tok, '=');
		if (!eq) {
			*why = "expected key=value after START";
			return -EINVAL;
		}
		*eq++ = '\0';
		if (!strcmp(tok, "subject")) {
			if (!is_name(eq, 32)) {
				*why = "subject: 1..32 of [A-Za-z0-9_-] (a pseudonymous code)";
				return -EINVAL;
			}
			strcpy(r->subject, eq);
		} else if (!strcmp(tok, "task")) {
			if (!is_name(eq, 64)) {
				*why = "task: 1..64 of [A-Za-z0-9_-]";
				return -EINVAL;
			}
			strcpy(r->task, eq);
		} else {
			*why = "unknown key after START (subject=, task=)";
			return -EINVAL;
		}
	}
	if (!*r->subject) {
		*why = "START needs subject=ID";
		return -EINVAL;
	}
	if (!*r->task)
		strcpy(r->task, "walk");
	return 0;
}

int svc_request_parse(const char *msg, size_t len, struct svc_request *r,
		      const char **why)
{
	char buf[SVC_MSG_MAX + 1];

	memset(r, 0, sizeof(*r));
	*why = NULL;
	if (len > 512 || memchr(msg, '\0', len)) {
		*why = "a request is one line of text, at most 512 bytes";
		return -EINVAL;
	}
	memcpy(buf, msg, len);
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (strchr(buf, '\n') || strchr(buf, '\t') || strchr(buf, '\r')) {
		*why = "a request is one line; fields are separated by single spaces";
		return -EINVAL;
	}
	if (!strcmp(buf, "STOP")) {
		r->verb = SVC_STOP;
		return 0;
	}
	if (!strcmp(buf, "STATUS")) {
		r->verb = SVC_STATUS;
		return 0;
	}
	if (!strncmp(buf, "START ", 6) || !strcmp(buf, "START")) {
		r->verb = SVC_START;
		return start_args(buf + 5, r, why);
	}
	*why = "unknown request (START subject=ID [task=T], STOP, STATUS)";
	return -EINVAL;
}

int svc_request(const char *path, const char *req, char *reply,
		size_t reply_len, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	ssize_t n;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		goto out;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		ret = -errno;
		/* A refusal may be answered before the request is read. */
		n = recv(fd, reply, reply_len - 1, MSG_DONTWAIT);
		if (n > 0) {
			reply[n] = '\0';
			ret = 0;
		}
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ret = poll(&pfd, 1, timeout_ms);
	if (ret <= 0) {
		ret = ret ? -errno : -ETIMEDOUT;
		goto out;
	}
	n = recv(fd, reply, reply_len - 1, MSG_TRUNC);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	if ((size_t)n >= reply_len) {
		ret = -EMSGSIZE;
		goto out;
	}
	/* An empty message: the service closed without an answer. */
	reply[n] = '\0';
	ret = n ? 0 : -ECONNRESET;
out:
	close(fd);
	return ret;
}
