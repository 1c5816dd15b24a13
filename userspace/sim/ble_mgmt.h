/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few Bluetooth management commands (BlueZ doc/mgmt-api.txt) the
 * insole simulator needs to be a peripheral: power, LE, the controller's
 * address, an advertising instance, and dropping a link; and the LE
 * discovery of gaitcap devices. One socket on HCI_CHANNEL_CONTROL;
 * commands are synchronous.
 */
#ifndef BLE_MGMT_H
#define BLE_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ble_mgmt {
	int fd;
	uint16_t index;
	uint8_t status;		/* of the last command (mgmt-api error code) */
	/* Events seen while waiting for a reply, for the caller's log. */
	void (*on_event)(void *ctx, uint16_t code, const uint8_t *p, size_t len);
	void *ctx;
};

/* Events the simulator logs. */
#define MGMT_EV_DEVICE_CONNECTED	0x000b
#define MGMT_EV_DEVICE_DISCONNECTED	0x000c

int ble_mgmt_open(struct ble_mgmt *m, uint16_t index);
void ble_mgmt_close(struct ble_mgmt *m);

/* Powers the controller on with LE; @addr gets its public address. */
int ble_mgmt_setup(struct ble_mgmt *m, uint8_t addr[6]);
/*
 * Connectable, general-discoverable advertising (instance 1) of @adv in
 * the advertising data and @scan_rsp in the scan response (AD structures,
 * at most 31 bytes each; the kernel adds the Flags field).
 */
int ble_mgmt_advertise(struct ble_mgmt *m, const uint8_t *adv, size_t adv_len,
		       const uint8_t *scan_rsp, size_t rsp_len);
int ble_mgmt_stop_advertising(struct ble_mgmt *m);
/* Drop the LE link to @addr (@type: 1 public, 2 random). */
int ble_mgmt_disconnect(struct ble_mgmt *m, const uint8_t addr[6],
			uint8_t type);
/*
 * Discovery (mgmt-api Start Discovery): @type 0x06 is LE public + random.
 * Each Device Found and Discovering event reaches on_event while waiting
 * or draining. The kernel ends an LE discovery by itself after about 10 s
 * (Discovering with 0). Stop Discovery stops whoever's discovery runs.
 */
#define MGMT_EV_DEVICE_FOUND		0x0012
#define MGMT_EV_DISCOVERING		0x0013
#define MGMT_DISCOV_LE			0x06
/* Command status codes (mgmt-api "Error Codes") in ble_mgmt.status. */
#define MGMT_STATUS_BUSY		0x0a
#define MGMT_STATUS_REJECTED		0x0b
#define MGMT_STATUS_NOT_SUPPORTED	0x0c
#define MGMT_STATUS_NOT_POWERED		0x0f
#define MGMT_STATUS_INVALID_INDEX	0x11
#define MGMT_STATUS_RFKILLED		0x12
#define MGMT_STATUS_PERMISSION_DENIED	0x14
/*
 * Pairing (Just Works in the kernel's SMP): bondable, an IO capability
 * (3: NoInputNoOutput), and the answer to a User Confirmation Request,
 * which the kernel asks of the responder even for Just Works.
 */
#define MGMT_EV_NEW_LONG_TERM_KEY	0x000a
#define MGMT_EV_USER_CONFIRM_REQUEST	0x000f
#define MGMT_EV_AUTH_FAILED		0x0011
#define MGMT_IO_CAP_NO_IO		0x03
int ble_mgmt_set_bondable(struct ble_mgmt *m, bool on);
int ble_mgmt_set_io_cap(struct ble_mgmt *m, uint8_t cap);
int ble_mgmt_confirm(struct ble_mgmt *m, const uint8_t addr[6], uint8_t type);
int ble_mgmt_start_discovery(struct ble_mgmt *m, uint8_t type);
int ble_mgmt_stop_discovery(struct ble_mgmt *m, uint8_t type);
/* Read and report pending events (the socket polled readable). */
int ble_mgmt_drain(struct ble_mgmt *m);

#endif /* BLE_MGMT_H */
