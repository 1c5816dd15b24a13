// SPDX-License-Identifier: GPL-2.0
/*
 * GATT client procedures as chains of ATT requests. Every response is
 * checked against what was asked (handles inside the range, ascending,
 * entry sizes the spec allows): a peer that lies ends the procedure with
 * -EBADMSG instead of looping or writing out of bounds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ble/gatt.h"

bool gatt_uuid_is16(const struct gatt_uuid *u, uint16_t v)
{
	return u->len == 2 && ble_get_le16(u->b) == v;
}

bool gatt_uuid_eq(const struct gatt_uuid *u, const uint8_t b128[16])
{
	return u->len == 16 && !memcmp(u->b, b128, 16);
}

const struct gatt_svc *gatt_db_find_svc16(const struct gatt_db *db,
					  uint16_t uuid)
{
	unsigned int i;

	for (i = 0; i < db->n_svc; i++)
		if (gatt_uuid_is16(&db->svc[i].uuid, uuid))
			return &db->svc[i];
	return NULL;
}

const struct gatt_svc *gatt_db_find_svc128(const struct gatt_db *db,
					   const uint8_t uuid[16])
{
	unsigned int i;

	for (i = 0; i < db->n_svc; i++)
		if (gatt_uuid_eq(&db->svc[i].uuid, uuid))
			return &db->svc[i];
	return NULL;
}

const struct gatt_chr *gatt_db_find_chr(const struct gatt_db *db,
					const struct gatt_svc *svc,
					uint16_t uuid16, const uint8_t *uuid128)
{
	const struct gatt_chr *c;
	unsigned int i;

	if (!svc)
		return NULL;
	for (i = 0; i < svc->n_chr; i++) {
		c = &db->chr[svc->first_chr + i];
		if (uuid128 ? gatt_uuid_eq(&c->uuid, uuid128) :
			      gatt_uuid_is16(&c->uuid, uuid16))
			return c;
	}
	return NULL;
}

static void uuid_set(struct gatt_uuid *u, const uint8_t *p, size_t len)
{
	u->len = (uint8_t)len;
	memset(u->b, 0, sizeof(u->b));
	memcpy(u->b, p, len);
}

/* ---- discovery ---------------------------------------------------------- */

enum disc_phase { DISC_SVC, DISC_CHR, DISC_DESC };

struct disc {
	struct ble_att *att;
	struct gatt_db *db;
	gatt_done_fn cb;
	void *user;
	enum disc_phase phase;
	unsigned int idx;	/* service (CHR) or characteristic (DESC) */
	bool open;		/* idx's range has been started */
	uint32_t next;		/* next handle to ask for; > 0xffff: done */
};

static void disc_rsp(void *user, int err, uint8_t ecode, const uint8_t *pdu,
		     size_t len);

static void disc_finish(struct disc *d, int err, uint8_t ecode)
{
	d->cb(d->user, err, ecode);
	free(d);
}

static int disc_range_req(struct disc *d, uint8_t op, uint16_t end,
			  uint16_t type)
{
	uint8_t pdu[7] = { op };
	size_t len = 5;

	ble_put_le16(pdu + 1, (uint16_t)d->next);
	ble_put_le16(pdu + 3, end);
	if (op != ATT_OP_FIND_INFO_REQ) {
		ble_put_le16(pdu + 5, type);
		len = 7;
	}
	return ble_att_request(d->att, pdu, len, disc_rsp, d);
}

static bool disc_wants_desc(const struct gatt_chr *c)
{
	return c->props & (GATT_PROP_NOTIFY | GATT_PROP_INDICATE) &&
	       c->value < c->end;
}

/* Issue the next request, moving through the phases; 1 when all done. */
static int disc_step(struct disc *d)
{
	struct gatt_db *db = d->db;
	struct gatt_svc *s;
	struct gatt_chr *c;

	if (d->phase == DISC_SVC) {
		if (d->next <= 0xffff)
			return disc_range_req(d, ATT_OP_READ_BY_GRP_TYPE_REQ,
					      0xffff, GATT_UUID_PRIMARY);
		d->phase = DISC_CHR;
		d->idx = 0;
		d->open = false;
	}
	if (d->phase == DISC_CHR) {
		for (; d->idx < db->n_svc; d->idx++, d->open = false) {
			s = &db->svc[d->idx];
			if (!d->open) {
				d->open = true;
				s->first_chr = db->n_chr;
				d->next = s->start;
			}
			if (d->next <= s->end)
				return disc_range_req(d,
					ATT_OP_READ_BY_TYPE_REQ, s->end,
					GATT_UUID_CHARACTER);
			/* Done: its last characteristic ends with it. */
			s->n_chr = db->n_chr - s->first_chr;
			if (s->n_chr)
				db->chr[db->n_chr - 1].end = s->end;
		}
		d->phase = DISC_DESC;
		d->idx = 0;
		d->open = false;
	}
	for (; d->idx < db->n_chr; d->idx++, d->open = false) {
		c = &db->chr[d->idx];
		if (!d->open) {
			if (!disc_wants_desc(c))
				continue;
			d->open = true;
			d->next = c->value + 1;
		}
		if (d->next <= c->end)
			return disc_range_req(d, ATT_OP_FIND_INFO_REQ, c->end,
					      0);
	}
	return 1;
}

static int disc_services(struct disc *d, const uint8_t *pdu, size_t len)
{
	struct gatt_db *db = d->db;
	struct gatt_svc *s;
	uint16_t start, end;
	size_t el, off;

	if (len < 2)
		return -EBADMSG;
	el = pdu[1];
	if ((el != 6 && el != 20) || len - 2 < el || (len - 2) % el)
		return -EBADMSG;
	for (off = 2; off < len; off += el) {
		start = ble_get_le16(pdu + off);
		end = ble_get_le16(pdu + off + 2);
		if (start < d->next || end < start)
			return -EBADMSG;
		if (db->n_svc >= GATT_MAX_SVC)
			return -ENOSPC;
		s = &db->svc[db->n_svc++];
		memset(s, 0, sizeof(*s));
		s->start = start;
		s->end = end;
		uuid_set(&s->uuid, pdu + off + 4, el - 4);
		d->next = (uint32_t)end + 1;
	}
	return 0;
}

static int disc_chars(struct disc *d, const uint8_t *pdu, size_t len)
{
	struct gatt_db *db = d->db;
	struct gatt_svc *s = &db->svc[d->idx];
	struct gatt_chr *c;
	uint16_t decl, value;
	size_t el, off;

	if (len < 2)
		return -EBADMSG;
	el = pdu[1];
	if ((el != 7 && el != 21) || len - 2 < el || (len - 2) % el)
		return -EBADMSG;
	for (off = 2; off < len; off += el) {
		decl = ble_get_le16(pdu + off);
		value = ble_get_le16(pdu + off + 3);
		if (decl < d->next || decl > s->end || value <= decl ||
		    value > s->end)
			return -EBADMSG;
		if (db->n_chr > s->first_chr) {
			c = &db->chr[db->n_chr - 1];
			if (decl <= c->value)
				return -EBADMSG;
			c->end = decl - 1;
		}
		if (db->n_chr >= GATT_MAX_CHR)
			return -ENOSPC;
		c = &db->chr[db->n_chr++];
		memset(c, 0, sizeof(*c));
		c->decl = decl;
		c->props = pdu[off + 2];
		c->value = value;
		c->end = s->end;
		uuid_set(&c->uuid, pdu + off + 5, el - 5);
		d->next = (uint32_t)decl + 1;	/* 4.6.1 */
	}
	return 0;
}

static int disc_descs(struct disc *d, const uint8_t *pdu, size_t len)
{
	struct gatt_chr *c = &d->db->chr[d->idx];
	uint16_t handle;
	size_t el, off;

	if (len < 2 || (pdu[1] != 1 && pdu[1] != 2))
		return -EBADMSG;
	el = pdu[1] == 1 ? 4 : 18;
	if (len - 2 < el || (len - 2) % el)
		return -EBADMSG;
	for (off = 2; off < len; off += el) {
		handle = ble_get_le16(pdu + off);
		if (handle < d->next || handle > c->end)
			return -EBADMSG;
		if (el == 4 && ble_get_le16(pdu + off + 2) == GATT_UUID_CCCD)
			c->cccd = handle;
		d->next = (uint32_t)handle + 1;
	}
	return 0;
}

static void disc_rsp(void *user, int err, uint8_t ecode, const uint8_t *pdu,
		     size_t len)
{
	struct disc *d = user;
	int ret;

	if (err == -EPROTO && ecode == ATT_ECODE_ATTR_NOT_FOUND) {
		/* The end of a range (4.4.1, 4.6.1, 4.7.1). */
		d->next = 0x10000;
	} else if (err) {
		disc_finish(d, err, ecode);
		return;
	} else {
		if (d->phase == DISC_SVC)
			err = disc_services(d, pdu, len);
		else if (d->phase == DISC_CHR)
			err = disc_chars(d, pdu, len);
		else
			err = disc_descs(d, pdu, len);
		if (err) {
			disc_finish(d, err, 0);
			return;
		}
	}
	ret = disc_step(d);
	if (ret)
		disc_finish(d, ret > 0 ? 0 : ret, 0);
}

int gatt_discover(struct ble_att *att, struct gatt_db *db, gatt_done_fn cb,
		  void *user)
{
	struct disc *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	memset(db, 0, sizeof(*db));
	d->att = att;
	d->db = db;
	d->cb = cb;
	d->user = user;
	d->phase = DISC_SVC;
	d->next = 1;
	ret = disc_step(d);
	if (ret)
		free(d);
	return ret < 0 ? ret : 0;
}

/* ---- reads and writes --------------------------------------------------- */

struct rd {
	struct ble_att *att;
	uint16_t handle;
	gatt_read_fn cb;
	void *user;
	size_t len;
	uint8_t buf[ATT_MAX_VALUE];
};

static void rd_finish(struct rd *r, int err, uint8_t ecode)
{
	r->cb(r->user, err, ecode, err ? NULL : r->buf, err ? 0 : r->len);
	free(r);
}

static void rd_rsp(void *user, int err, uint8_t ecode, const uint8_t *pdu,
		   size_t len)
{
	struct rd *r = user;
	uint8_t req[5] = { ATT_OP_READ_BLOB_REQ };
	size_t part;

	/* A value that ended exactly where a part did (4.8.3). */
	if (err == -EPROTO && r->len && (ecode == ATT_ECODE_ATTR_NOT_LONG ||
					 ecode == ATT_ECODE_INVALID_OFFSET))
		err = 0, len = 1;
	if (err) {
		rd_finish(r, err, ecode);
		return;
	}
	part = len - 1;
	if (r->len + part > ATT_MAX_VALUE) {
		rd_finish(r, -EMSGSIZE, 0);
		return;
	}
	memcpy(r->buf + r->len, pdu + 1, part);
	r->len += part;
	if (part < (size_t)ble_att_mtu(r->att) - 1 || r->len == ATT_MAX_VALUE) {
		rd_finish(r, 0, 0);
		return;
	}
	ble_put_le16(req + 1, r->handle);
	ble_put_le16(req + 3, (uint16_t)r->len);
	err = ble_att_request(r->att, req, sizeof(req), rd_rsp, r);
	if (err)
		rd_finish(r, err, 0);
}

int gatt_read(struct ble_att *att, uint16_t handle, gatt_read_fn cb,
	      void *user)
{
	uint8_t req[3] = { ATT_OP_READ_REQ };
	struct rd *r;
	int ret;

	if (!handle)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->att = att;
	r->handle = handle;
	r->cb = cb;
	r->user = user;
	ble_put_le16(req + 1, handle);
	ret = ble_att_request(att, req, sizeof(req), rd_rsp, r);
	if (ret)
		free(r);
	return ret;
}

struct wr {
	gatt_done_fn cb;
	void *user;
};

static void wr_rsp(void *user, int err, uint8_t ecode, const uint8_t *pdu,
		   size_t len)
{
	struct wr *w = user;

	if (!err && len != 1)
		err = -EBADMSG;
	if (w->cb)
		w->cb(w->user, err, ecode);
	free(w);
}

static int write_pdu(uint8_t *pdu, struct ble_att *att, uint8_t op,
		     uint16_t handle, const uint8_t *val, size_t len)
{
	if (!handle)
		return -EINVAL;
	if (len + 3 > ble_att_mtu(att))
		return -EMSGSIZE;
	pdu[0] = op;
	ble_put_le16(pdu + 1, handle);
	if (len)
		memcpy(pdu + 3, val, len);
	return 0;
}

int gatt_write(struct ble_att *att, uint16_t handle, const uint8_t *val,
	       size_t len, gatt_done_fn cb, void *user)
{
	uint8_t pdu[ATT_MAX_MTU];
	struct wr *w;
	int ret;

	ret = write_pdu(pdu, att, ATT_OP_WRITE_REQ, handle, val, len);
	if (ret)
		return ret;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->user = user;
	ret = ble_att_request(att, pdu, len + 3, wr_rsp, w);
	if (ret)
		free(w);
	return ret;
}

int gatt_write_cmd(struct ble_att *att, uint16_t handle, const uint8_t *val,
		   size_t len)
{
	uint8_t pdu[ATT_MAX_MTU];
	int ret;

	ret = write_pdu(pdu, att, ATT_OP_WRITE_CMD, handle, val, len);
	if (ret)
		return ret;
	return ble_att_command(att, pdu, len + 3);
}

int gatt_write_cccd(struct ble_att *att, const struct gatt_chr *chr,
		    uint16_t bits, gatt_done_fn cb, void *user)
{
	uint8_t v[2];

	if (!chr->cccd)
		return -ENOENT;
	if ((bits & GATT_CCCD_NOTIFY && !(chr->props & GATT_PROP_NOTIFY)) ||
	    (bits & GATT_CCCD_INDICATE && !(chr->props & GATT_PROP_INDICATE)) ||
	    bits & ~(GATT_CCCD_NOTIFY | GATT_CCCD_INDICATE))
		return -EINVAL;
	ble_put_le16(v, bits);
	return gatt_write(att, chr->cccd, v, sizeof(v), cb, user);
}
