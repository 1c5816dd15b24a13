/* SPDX-License-Identifier: GPL-2.0 */
/*
 * GATT client procedures (Core 5.3, Vol 3, Part G, 4) over a ble_att
 * bearer: discovery of primary services, their characteristics and the
 * descriptors of those that notify or indicate; reads (long values with
 * Read Blob); writes; CCCD writes. Each procedure is a chain of ATT
 * requests that ends in one callback; none blocks.
 */
#ifndef BLE_GATT_H
#define BLE_GATT_H

#include "ble/att.h"

#define GATT_UUID_PRIMARY	0x2800
#define GATT_UUID_CHARACTER	0x2803
#define GATT_UUID_CCCD		0x2902

#define GATT_PROP_READ		0x02
#define GATT_PROP_WRITE_NR	0x04	/* Write Without Response */
#define GATT_PROP_WRITE		0x08
#define GATT_PROP_NOTIFY	0x10
#define GATT_PROP_INDICATE	0x20

#define GATT_CCCD_NOTIFY	0x0001
#define GATT_CCCD_INDICATE	0x0002

#define GATT_MAX_SVC		32
#define GATT_MAX_CHR		128

/* A UUID as ATT carries it: 2 or 16 bytes, little-endian. */
struct gatt_uuid {
	uint8_t len;
	uint8_t b[16];
};

struct gatt_chr {
	uint16_t decl, value, end;	/* end: last handle of its descriptors */
	uint8_t props;
	uint16_t cccd;			/* 0: none found */
	struct gatt_uuid uuid;
};

struct gatt_svc {
	uint16_t start, end;
	struct gatt_uuid uuid;
	unsigned int first_chr, n_chr;	/* into gatt_db.chr */
};

struct gatt_db {
	struct gatt_svc svc[GATT_MAX_SVC];
	unsigned int n_svc;
	struct gatt_chr chr[GATT_MAX_CHR];
	unsigned int n_chr;
};

/* A procedure's end: err as for ble_att_rsp_fn (ecode for -EPROTO). */
typedef void (*gatt_done_fn)(void *user, int err, uint8_t ecode);
/* A read's end: the whole value (long values reassembled). */
typedef void (*gatt_read_fn)(void *user, int err, uint8_t ecode,
			     const uint8_t *val, size_t len);

bool gatt_uuid_is16(const struct gatt_uuid *u, uint16_t v);
bool gatt_uuid_eq(const struct gatt_uuid *u, const uint8_t b128[16]);
const struct gatt_svc *gatt_db_find_svc16(const struct gatt_db *db,
					  uint16_t uuid);
const struct gatt_svc *gatt_db_find_svc128(const struct gatt_db *db,
					   const uint8_t uuid[16]);
/* A characteristic of @svc by its 16- or 128-bit UUID (the other NULL/0). */
const struct gatt_chr *gatt_db_find_chr(const struct gatt_db *db,
					const struct gatt_svc *svc,
					uint16_t uuid16, const uint8_t *uuid128);

/*
 * Discover everything into @db (cleared first): primary services, then
 * characteristics per service, then descriptors (CCCD) of the ones that
 * notify or indicate. @db must outlive the procedure.
 */
int gatt_discover(struct ble_att *att, struct gatt_db *db, gatt_done_fn cb,
		  void *user);
/* Read a value; Read Blob continues it while parts fill the MTU. */
int gatt_read(struct ble_att *att, uint16_t handle, gatt_read_fn cb,
	      void *user);
/* Write Request (at most ATT_MTU - 3 bytes). */
int gatt_write(struct ble_att *att, uint16_t handle, const uint8_t *val,
	       size_t len, gatt_done_fn cb, void *user);
/* Write Command: no answer, 0 once sent. */
int gatt_write_cmd(struct ble_att *att, uint16_t handle, const uint8_t *val,
		   size_t len);
/* Write GATT_CCCD_NOTIFY / _INDICATE bits to @chr's CCCD. */
int gatt_write_cccd(struct ble_att *att, const struct gatt_chr *chr,
		    uint16_t bits, gatt_done_fn cb, void *user);

#endif /* BLE_GATT_H */
