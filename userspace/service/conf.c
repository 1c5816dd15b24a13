// SPDX-License-Identifier: GPL-2.0
/*
 * /etc/gaitcap/appliance.conf: `key = value` lines, `#` comments on lines
 * of their own. A key given twice or unknown is refused, so that a typo
 * never silently leaves a default in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/service.h"

void svc_conf_init(struct svc_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sessions, sizeof(c->sessions), "%s", SVC_SESSIONS_DIR);
	strcpy(c->mat, "auto");
	strcpy(c->insole_profile, "auto");
	c->battery_low_percent = 20;
	c->disk_low_minutes = 30;
	c->gap_alarm_seconds = 2;
	c->status_seconds = 60;
}

static bool is_token(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* AA:BB:CC:DD:EE:FF, hex digits either case. */
static bool is_bdaddr(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return true;
}

static int uint_in(const char *v, unsigned int lo, unsigned int hi,
		   unsigned int *out)
{
	char *end;
	unsigned long n;

	if (!*v || !strchr("0123456789", *v))
		return -EINVAL;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -EINVAL;
	*out = (unsigned int)n;
	return 0;
}

static int copy(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -EINVAL;
	strcpy(dst, v);
	return 0;
}

struct key {
	const char *name;
	const char *accepted;
	int (*set)(struct svc_conf *c, const char *v);
};

static int set_site(struct svc_conf *c, const char *v)
{
	return is_token(v, "._:/+<>=-") && *v ? copy(c->site, sizeof(c->site), v) :
						-EINVAL;
}

static int set_sessions(struct svc_conf *c, const char *v)
{
	return v[0] == '/' ? copy(c->sessions, sizeof(c->sessions), v) : -EINVAL;
}

static int set_mat(struct svc_conf *c, const char *v)
{
	return *v && is_token(v, "_-.:") ? copy(c->mat, sizeof(c->mat), v) : -EINVAL;
}

static int set_left(struct svc_conf *c, const char *v)
{
	return is_bdaddr(v) ? copy(c->insole_left, sizeof(c->insole_left), v) :
			      -EINVAL;
}

static int set_right(struct svc_conf *c, const char *v)
{
	return is_bdaddr(v) ? copy(c->insole_right, sizeof(c->insole_right), v) :
			      -EINVAL;
}

static int set_profile(struct svc_conf *c, const char *v)
{
	if (strcmp(v, "auto") && strcmp(v, "gaitcap-v1") && strcmp(v, "fff0"))
		return -EINVAL;
	return copy(c->insole_profile, sizeof(c->insole_profile), v);
}

static int set_battery(struct svc_conf *c, const char *v)
{
	return uint_in(v, 0, 100, &c->battery_low_percent);
}

static int set_disk(struct svc_conf *c, const char *v)
{
	return uint_in(v, 0, 100000, &c->disk_low_minutes);
}

static int set_gap(struct svc_conf *c, const char *v)
{
	return uint_in(v, 1, 3600, &c->gap_alarm_seconds);
}

static int set_status(struct svc_conf *c, const char *v)
{
	return uint_in(v, 1, 86400, &c->status_seconds);
}

static int set_source(struct svc_conf *c, const char *v)
{
	return !strncmp(v, "fd:", 3) ? copy(c->source, sizeof(c->source), v) :
				       -EINVAL;
}

static const struct key keys[] = {
	{ "site", "a token of [A-Za-z0-9._:/+<>=-], 1..64", set_site },
	{ "sessions", "an absolute folder", set_sessions },
	{ "mat", "auto, an IIO device name, or none", set_mat },
	{ "insole_left", "an LE address, AA:BB:CC:DD:EE:FF", set_left },
	{ "insole_right", "an LE address, AA:BB:CC:DD:EE:FF", set_right },
	{ "insole_profile", "auto, gaitcap-v1 or fff0", set_profile },
	{ "battery_low_percent", "0..100", set_battery },
	{ "disk_low_minutes", "0..100000", set_disk },
	{ "gap_alarm_seconds", "1..3600", set_gap },
	{ "status_seconds", "1..86400", set_status },
	{ "source", "an engine source spec fd:PATH,record=N[,...]", set_source },
};

#define N_KEYS	(sizeof(keys) / sizeof(keys[0]))

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && strchr(" \t\r", e[-1]))
		*--e = '\0';
	return s;
}

int svc_conf_parse(struct svc_conf *c, const char *text, char *why,
		   size_t why_len)
{
	bool seen[N_KEYS] = { false };
	char *copy_text = strdup(text), *line, *save, *eq, *k, *v;
	unsigned int lineno = 0;
	const char *p;
	int ret = 0;
	size_t i;

	if (!copy_text)
		return -ENOMEM;
	*why = '\0';
	/* strtok_r would skip empty lines and lose the numbering. */
	for (line = copy_text; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		k = trim(line);
		if (!*k || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			snprintf(why, why_len, "line %u: expected key = value", lineno);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		for (i = 0; i < N_KEYS && strcmp(keys[i].name, k); i++)
			;
		if (i == N_KEYS) {
			/* Key names are ours, not private: say which. */
			snprintf(why, why_len, "line %u: unknown key '%.40s' (known: site, sessions, mat, insole_left, insole_right, insole_profile, battery_low_percent, disk_low_minutes, gap_alarm_seconds, status_seconds, source)",
				 lineno, k);
			ret = -EINVAL;
			break;
		}
		if (seen[i]) {
			snprintf(why, why_len, "line %u: %s given twice", lineno, k);
			ret = -EINVAL;
			break;
		}
		seen[i] = true;
		p = strchr(v, '#');
		if (p || keys[i].set(c, v)) {
			snprintf(why, why_len, "line %u: %s: expected %s%s", lineno,
				 k, keys[i].accepted,
				 p ? " (no comment after a value)" : "");
			ret = -EINVAL;
			break;
		}
	}
	free(copy_text);
	return ret;
}

int svc_conf_load(struct svc_conf *c, const char *path, char *why,
		  size_t why_len)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;
	int ret;

	*why = '\0';
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	/* A conf file of 1 MiB or more is not one. */
	text = calloc(1, 1 << 20);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(text, 1, (1 << 20) - 1, f);
	ret = ferror(f) ? -EIO : 0;
	if (!ret && !feof(f))
		ret = -EFBIG;
	fclose(f);
	if (!ret && memchr(text, '\0', len))
		ret = -EINVAL;
	if (ret == -EINVAL)
		snprintf(why, why_len, "a NUL byte: not a text file");
	if (!ret)
		ret = svc_conf_parse(c, text, why, why_len);
	free(text);
	return ret;
}
