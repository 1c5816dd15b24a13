// SPDX-License-Identifier: GPL-2.0
/*
 * Metadata privacy policy (docs/session-format.md section 6). Session files
 * hold medical data; their metadata must not carry names, free text or other
 * identifying data. The policy cannot recognise a name, so it removes the
 * places one could go: keys come from a small alphabet and may not mention
 * names, birth dates, contacts or notes; string values are short tokens
 * without spaces; the session object only has the keys the format lists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "session/gcs_internal.h"

#define KEY_MAX		32
#define TOKEN_MAX	64
#define SUBJECT_MAX	32
#define DEPTH_MAX	8

static const char *const forbidden_in_keys[] = {
	"name", "birth", "gender", "address", "street", "postal", "phone",
	"mail", "note", "comment", "text", "remark", "patient", "initials",
	"insurance", "diagnosis", NULL,
};

static const char *const forbidden_keys[] = {
	"age", "sex", "dob", "zip", "ssn", "mrn", NULL,
};

static const char *const session_keys[] = {
	"subject", "task", "appliance", "software", "devices", "protocol",
	"trial", "site", "condition", NULL,
};

static const char *const session_required[] = {
	"subject", "task", "appliance", "software", NULL,
};

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	if (!n || n > KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	for (const char *const *f = forbidden_in_keys; *f; f++)
		if (strstr(k, *f))
			return false;
	return !in_list(k, forbidden_keys);
}

/* A token: identifiers, versions, units, channel formats; never prose. */
static bool token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (!strchr("._:/+<>=-", c))
			return false;
	}
	return true;
}

static bool valid_dmy(unsigned int d, unsigned int m, unsigned int y)
{
	return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static unsigned int digits_val(const char *s, size_t n)
{
	unsigned int v = 0;

	while (n--)
		v = v * 10 + (unsigned int)(*s++ - '0');
	return v;
}

/*
 * A calendar date with a four-digit year, 1900..2099: YYYYMMDD, DDMMYYYY or
 * MMDDYYYY as one run of digits, or Y-M-D, D-M-Y, M-D-Y with - or _ between
 * (section 6). Two-digit years are let through: too many codes look so.
 */
static bool has_date(const char *s)
{
	const char *r[3], *p = s;
	size_t l[3], n;
	int k = 0;		/* runs held, each joined to the last by - or _ */

	while (*p) {
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		n = strspn(p, "0123456789");
		if (n == 8) {
			unsigned int a = digits_val(p, 4), b = digits_val(p + 4, 4);

			if (valid_dmy(b % 100, b / 100, a) ||
			    valid_dmy(a / 100, a % 100, b) ||
			    valid_dmy(a % 100, a / 100, b))
				return true;
		}
		if (!k || r[k - 1] + l[k - 1] + 1 != p || !strchr("-_", p[-1]))
			k = 0;
		if (k == 3) {
			r[0] = r[1], l[0] = l[1];
			r[1] = r[2], l[1] = l[2];
			k = 2;
		}
		r[k] = p;
		l[k++] = n;
		if (k == 3) {
			unsigned int x = digits_val(r[0], l[0]);
			unsigned int y = digits_val(r[1], l[1]);
			unsigned int z = digits_val(r[2], l[2]);

			if (l[0] == 4 && l[1] <= 2 && l[2] <= 2 && valid_dmy(z, y, x))
				return true;
			if (l[0] <= 2 && l[1] <= 2 && l[2] == 4 &&
			    (valid_dmy(x, y, z) || valid_dmy(y, x, z)))
				return true;
		}
		p += n;
	}
	return false;
}

static bool subject_ok(const char *s)
{
	if (!token_ok(s, SUBJECT_MAX))
		return false;
	/* token_ok() allowed more punctuation than a subject code may have. */
	return !strpbrk(s, ".:/+<>=");
}

static int check_value(struct json_object *v, int depth, const char **why)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		if (!token_ok(json_object_get_string(v), TOKEN_MAX)) {
			*why = "string values must be tokens (no spaces, <= 64 characters)";
			return -GCS_EPOLICY;
		}
		return 0;
	case json_type_array:
		if (depth >= DEPTH_MAX)
			goto too_deep;
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			int ret = check_value(json_object_array_get_idx(v, i),
					      depth + 1, why);
			if (ret)
				return ret;
		}
		return 0;
	case json_type_object:
		if (depth >= DEPTH_MAX)
			goto too_deep;
		json_object_object_foreach(v, key, val) {
			int ret;

			if (!key_ok(key)) {
				*why = "keys must be [a-z0-9_] and not name identifying data";
				return -GCS_EPOLICY;
			}
			ret = check_value(val, depth + 1, why);
			if (ret)
				return ret;
		}
		return 0;
	default:
		return 0;	/* numbers, booleans, null */
	}
too_deep:
	*why = "metadata nested too deeply";
	return -GCS_EPOLICY;
}

static int check_session(struct json_object *o, const char **why)
{
	struct json_object *v;

	json_object_object_foreach(o, key, val) {
		(void)val;
		if (!in_list(key, session_keys)) {
			*why = "unknown key in the session metadata";
			return -GCS_EPOLICY;
		}
	}
	for (const char *const *k = session_required; *k; k++) {
		if (!json_object_object_get_ex(o, *k, &v) ||
		    !json_object_is_type(v, json_type_string)) {
			*why = "session metadata needs subject, task, appliance, software";
			return -GCS_EPOLICY;
		}
	}
	json_object_object_get_ex(o, "subject", &v);
	if (!subject_ok(json_object_get_string(v))) {
		*why = "subject must be a pseudonymous code: 1..32 of [A-Za-z0-9_-]";
		return -GCS_EPOLICY;
	}
	/* The commonest identifying mistake in a subject code: a birth date. */
	if (has_date(json_object_get_string(v))) {
		*why = "subject must not contain a date (a birth date identifies)";
		return -GCS_EPOLICY;
	}
	if (json_object_object_get_ex(o, "devices", &v) &&
	    !json_object_is_type(v, json_type_array)) {
		*why = "devices must be an array";
		return -GCS_EPOLICY;
	}
	return 0;
}

int gcs_meta_canon(const char *json, bool session, char **out,
		   const char **why)
{
	struct json_tokener *tok;
	struct json_object *o;
	const char *dummy;
	size_t len;
	int ret;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!json) {
		*why = "no metadata";
		return -EINVAL;
	}
	len = strlen(json);
	if (!len || len > GCS_MAX_JSON) {
		*why = "metadata empty or larger than 1 MiB";
		return -EINVAL;
	}
	tok = json_tokener_new_ex(DEPTH_MAX + 2);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		*why = "metadata is not one valid JSON value";
		ret = -EINVAL;
		goto out_tok;
	}
	if (!json_object_is_type(o, json_type_object)) {
		*why = "metadata must be a JSON object";
		ret = -EINVAL;
		goto out_obj;
	}
	/* The session's own rules first: they say more about the subject. */
	ret = session ? check_session(o, why) : 0;
	if (!ret)
		ret = check_value(o, 0, why);
	if (!ret && out) {
		const char *s = json_object_to_json_string_ext(o,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		*out = s ? strdup(s) : NULL;
		if (!*out)
			ret = -ENOMEM;
	}
out_obj:
	json_object_put(o);
out_tok:
	json_tokener_free(tok);
	return ret;
}

/* Length of the valid UTF-8 sequence at @u, 0 if there is none (RFC 3629). */
static int utf8_len(const unsigned char *u)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, k;

	if (*u < 0x80)
		return 1;
	if (*u >= 0xc2 && *u <= 0xdf)
		n = 2;
	else if (*u >= 0xe0 && *u <= 0xef)
		n = 3;
	else if (*u >= 0xf0 && *u <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range rules out overlongs, surrogates, > U+10FFFF. */
	if (*u == 0xe0)
		lo = 0xa0;
	else if (*u == 0xed)
		hi = 0x9f;
	else if (*u == 0xf0)
		lo = 0x90;
	else if (*u == 0xf4)
		hi = 0x8f;
	if (u[1] < lo || u[1] > hi)
		return 0;
	for (k = 2; k < n; k++)
		if ((u[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

void gcs_text_printable(char *s)
{
	unsigned char *u = (unsigned char *)s;

	while (*u) {
		int n = utf8_len(u);

		if (!n || (n == 1 && (*u < 0x20 || *u == 0x7f))) {
			*u++ = '?';
			continue;
		}
		u += n;
	}
}

int gcs_meta_check(const char *json, bool session, const char **why)
{
	return gcs_meta_canon(json, session, NULL, why);
}
