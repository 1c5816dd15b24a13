/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libgcsvc: the capture appliance's service (`gaitcap service`) and the
 * protocol of its control socket (docs/operating.md, "The service";
 * docs/protocols/control-socket.md).
 *
 * The service waits for `gaitcap session start`, records one session at a
 * time with the capture engine (libgcengine: the same path as `gaitcap
 * capture`), lets the mat join when udev announces it, and reports to
 * systemd (sd_notify) and the journal. Functions return 0 or -errno.
 */
#ifndef GCSVC_H
#define GCSVC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SVC_CONF_PATH		"/etc/gaitcap/appliance.conf"
#define SVC_CONTROL_PATH	"/run/gaitcap/control.sock"
#define SVC_SESSIONS_DIR	"/var/lib/gaitcap/sessions"
/* Largest request or reply on the control socket (one SEQPACKET message). */
#define SVC_MSG_MAX		8192

/* /etc/gaitcap/appliance.conf (udev/appliance.conf documents each key). */
struct svc_conf {
	char site[65];			/* "" none */
	char sessions[PATH_MAX];
	char mat[64];			/* auto, an IIO device name, or none */
	char insole_left[18], insole_right[18];	/* "" none */
	char insole_profile[16];	/* gaitcap-v1, fff0, auto */
	unsigned int battery_low_percent;
	unsigned int disk_low_minutes;
	unsigned int gap_alarm_seconds;
	unsigned int status_seconds;	/* journal status line period */
	char source[256];		/* an extra engine source (test rigs) */
};

void svc_conf_init(struct svc_conf *c);
/*
 * Parse @text (the whole file). On a refusal, @why says which line and
 * what was wrong; the value is not repeated (it may be private).
 */
int svc_conf_parse(struct svc_conf *c, const char *text, char *why,
		   size_t why_len);
/* The file at @path; a missing file is the defaults (-ENOENT is not kept). */
int svc_conf_load(struct svc_conf *c, const char *path, char *why,
		  size_t why_len);

/*
 * Session file name: UTC start time and the pseudonymous id only, e.g.
 * 20261204T190102Z_LAB-01.gcs. -EINVAL: @subject is not 1..32 of
 * [A-Za-z0-9_-].
 */
int svc_session_name(char *buf, size_t len, time_t t, const char *subject);

/*
 * Who may talk to the service: root, the service's own user, and members
 * of its group (primary or supplementary: SO_PEERGROUPS).
 */
bool svc_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups,
		      size_t n_groups, uid_t svc_uid, gid_t svc_gid);

/*
 * One request on the control socket, parsed (docs/protocols/
 * control-socket.md). START carries subject= and task=.
 */
enum svc_verb { SVC_START = 1, SVC_STOP, SVC_STATUS };

struct svc_request {
	enum svc_verb verb;
	char subject[33];
	char task[65];
};

int svc_request_parse(const char *msg, size_t len, struct svc_request *r,
		      const char **why);

/* Client: send @req to the service at @path, wait for the one reply. */
int svc_request(const char *path, const char *req, char *reply,
		size_t reply_len, int timeout_ms);

struct svc_opts {
	const char *conf_path;		/* SVC_CONF_PATH */
	const char *control_path;	/* SVC_CONTROL_PATH */
	bool no_udev;			/* poll for the mat instead */
};

/* Run the service until SIGTERM/SIGINT; the exit status. */
int svc_main(const struct svc_opts *o);

#endif /* GCSVC_H */
