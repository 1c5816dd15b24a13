// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: `gaitcap mark` (or any script) adds markers to a
 * running capture. A Unix datagram socket, read through the capture's ring
 * with IORING_OP_RECVMSG; each request is one text line and gets one line
 * back (IORING_OP_SENDMSG) when the client bound an address to receive it.
 * One request at a time: the next receive is armed once the reply is out,
 * so requests wait in the socket's queue instead of being dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/engine_internal.h"

struct eng_ctl {
	struct eng *e;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	bool bound;
	struct eng_svc svc;
	struct msghdr msg;
	struct iovec iov;
	char buf[ENG_CTL_MAX_MSG + 1];
	struct sockaddr_un peer;
	struct ring_op op_send;
	struct msghdr smsg;
	struct iovec siov;
	char reply[ENG_CTL_MAX_MSG];
};

static void recv_arm(struct eng *e, struct eng_ctl *c)
{
	memset(&c->msg, 0, sizeof(c->msg));
	c->iov.iov_base = c->buf;
	c->iov.iov_len = ENG_CTL_MAX_MSG;
	c->msg.msg_iov = &c->iov;
	c->msg.msg_iovlen = 1;
	c->msg.msg_name = &c->peer;
	c->msg.msg_namelen = sizeof(c->peer);
	if (!e->closing)
		eng_svc_arm(e, &c->svc);
}

static bool stream_known(struct eng *e, uint32_t stream)
{
	if (stream == GCS_STREAM_NONE)
		return true;
	for (size_t i = 0; i < eng_n_chans(e); i++)
		if (eng_chan_stream(eng_chan_at(e, i)) == stream)
			return true;
	return false;
}

/* "KEY=VALUE" tokens after the verb; unknown keys are an error. */
static int parse_mark(char *args, uint32_t *code, int64_t *value, int64_t *t,
		      uint32_t *stream)
{
	bool have_code = false;
	char *tok, *save, *end, *eq;
	long long v;

	for (tok = strtok_r(args, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		eq = strchr(tok, '=');
		if (!eq)
			return -EINVAL;
		*eq++ = '\0';
		errno = 0;
		v = strtoll(eq, &end, 0);
		if (errno || end == eq || *end)
			return -EINVAL;
		if (!strcmp(tok, "code") && v > 0 && v <= UINT32_MAX) {
			*code = (uint32_t)v;
			have_code = true;
		} else if (!strcmp(tok, "value")) {
			*value = v;
		} else if (!strcmp(tok, "t") && v >= 0) {
			*t = v;
		} else if (!strcmp(tok, "stream") && v >= -1 && v < UINT32_MAX) {
			*stream = v < 0 ? GCS_STREAM_NONE : (uint32_t)v;
		} else {
			return -EINVAL;
		}
	}
	return have_code ? 0 : -EINVAL;
}

static void handle(struct eng *e, struct eng_ctl *c, char *req)
{
	uint32_t code = 0, stream = GCS_STREAM_NONE;
	int64_t value = 0, t = 0;
	uint64_t frames = 0, lost = 0, gaps = 0, bytes = 0, durable = 0, committed = 0;
	int64_t durable_t = 0;
	uint32_t peak = 0;	/* most frames one read of a channel brought */
	int ret;

	if (!strncmp(req, "MARK", 4) && (!req[4] || req[4] == ' ')) {
		if (parse_mark(req + 4, &code, &value, &t, &stream)) {
			snprintf(c->reply, sizeof(c->reply),
				 "ERR usage: MARK code=N [value=V] [t=NS] [stream=S]");
			return;
		}
		if (!stream_known(e, stream)) {
			snprintf(c->reply, sizeof(c->reply), "ERR no stream %u",
				 stream);
			return;
		}
		if (e->stopping) {
			snprintf(c->reply, sizeof(c->reply), "ERR stopping");
			return;
		}
		if (!t)
			t = eng_now();
		ret = eng_marker(e, code, stream, t, value);
		if (ret)
			snprintf(c->reply, sizeof(c->reply), "ERR %s",
				 strerror(-ret));
		else
			snprintf(c->reply, sizeof(c->reply), "OK t=%" PRId64, t);
		return;
	}
	if (!strcmp(req, "STATUS")) {
		for (size_t i = 0; i < eng_n_chans(e); i++) {
			struct eng_chan_stats st;

			eng_chan_get_stats(eng_chan_at(e, i), &st);
			frames += st.records;
			committed += st.committed_records;
			lost += st.lost;
			gaps += st.gaps;
			bytes += st.bytes;
			durable += st.durable_records;
			if (st.peak_records > peak)
				peak = st.peak_records;
			if (st.durable_t_ns > durable_t)
				durable_t = st.durable_t_ns;
		}
		/* durable_*: what a power loss now would keep, at least. */
		snprintf(c->reply, sizeof(c->reply),
			 "OK frames=%" PRIu64 " committed_frames=%" PRIu64
			 " bytes=%" PRIu64 " gaps=%" PRIu64
			 " lost=%" PRIu64 " chans=%zu markers=%" PRIu64
			 " durable_frames=%" PRIu64 " durable_t=%" PRId64
			 " now=%" PRId64 " stopping=%d peak_frames=%" PRIu32,
			 frames, committed, bytes, gaps, lost, e->n_ch,
			 e->st.markers,
			 durable, durable_t, eng_now(), eng_stopping(e), peak);
		return;
	}
	snprintf(c->reply, sizeof(c->reply), "ERR unknown request");
}

static void recv_done(struct eng *e, struct eng_svc *s, int res)
{
	struct eng_ctl *c = s->ctx;
	struct io_uring_sqe *sqe;
	size_t len;

	if (res == -ECANCELED)
		return;
	if (res < 0) {
		/* The socket is broken; markers can still come from keys. */
		return;
	}
	c->buf[res] = '\0';
	len = strcspn(c->buf, "\r\n");
	c->buf[len] = '\0';
	handle(e, c, c->buf);
	/* An unbound client (plain sendto) wants no answer. */
	if (c->msg.msg_namelen <= sizeof(sa_family_t) || e->closing) {
		recv_arm(e, c);
		return;
	}
	memset(&c->smsg, 0, sizeof(c->smsg));
	c->siov.iov_base = c->reply;
	c->siov.iov_len = strlen(c->reply);
	c->smsg.msg_iov = &c->siov;
	c->smsg.msg_iovlen = 1;
	c->smsg.msg_name = &c->peer;
	c->smsg.msg_namelen = c->msg.msg_namelen;
	sqe = ring_sqe(&e->ring, &c->op_send);
	if (!sqe)
		return;
	io_uring_prep_sendmsg(sqe, c->fd, &c->smsg, MSG_DONTWAIT);
}

static void send_done(struct ring_op *op, int res)
{
	struct eng_ctl *c = container_of(op, struct eng_ctl, op_send);

	/* A client that went away (-ECONNREFUSED...) only misses its answer. */
	(void)res;
	recv_arm(c->e, c);
}

void ctl_stop(struct eng *e)
{
	if (e->ctl)
		ring_cancel(&e->ring, &e->ctl->svc.op);
}

void ctl_destroy(struct eng_ctl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->bound)
		unlink(c->path);
	free(c);
}

/* Is a capture answering on @path? */
static bool live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ret;

	if (fd < 0)
		return true;	/* cannot tell: do not steal it */
	ret = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ||
	      errno != ECONNREFUSED;
	close(fd);
	return ret;
}

int eng_control_listen(struct eng *e, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct eng_ctl *c;
	char *dir;
	int ret;

	if (e->ctl)
		return -EBUSY;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = e;
	strcpy(c->path, path);
	c->fd = -1;
	dir = strdup(path);
	if (!dir) {
		ret = -ENOMEM;
		goto err;
	}
	/* /run/gaitcap may not exist yet (a tmpfs after boot). */
	if (mkdir(dirname(dir), 0750) && errno != EEXIST) {
		ret = -errno;
		free(dir);
		goto err;
	}
	free(dir);
	c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = -errno;
		goto err;
	}
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		if (ret != -EADDRINUSE)
			goto err;
		if (live(&sa))
			goto err;	/* another capture listens there */
		unlink(path);		/* left by a capture that died */
		if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
			ret = -errno;
			goto err;
		}
	}
	c->bound = true;
	chmod(path, 0660);
	c->svc = (struct eng_svc){
		.what = "control", .fd = c->fd, .recvmsg = true, .msg = &c->msg,
		.done = recv_done, .ctx = c,
	};
	c->op_send.done = send_done;
	e->ctl = c;
	recv_arm(e, c);
	return 0;
err:
	ctl_destroy(c);
	return ret;
}

int eng_control_request(const char *path, const char *req, char *reply,
			size_t reply_len, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	sa_family_t fam = AF_UNIX;
	struct pollfd pfd;
	ssize_t n;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Autobind to an abstract address so that the answer can come back. */
	if (bind(fd, (struct sockaddr *)&fam, sizeof(fam))) {
		ret = -errno;
		goto out;
	}
	if (sendto(fd, req, strlen(req), 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0) {
		ret = -errno;
		goto out;
	}
	if (!ret) {
		ret = -ETIMEDOUT;
		goto out;
	}
	n = recv(fd, reply, reply_len - 1, 0);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	reply[n] = '\0';
	ret = 0;
out:
	close(fd);
	return ret;
}
