/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal insole peripheral for tests: a GATT server over an attribute
 * table (the gaitcap profile of userspace/ble/insole_gatt.h, Device
 * Information, Battery) on any SOCK_SEQPACKET descriptor, and a notifier
 * that streams data notifications once START was written. Used over a
 * socketpair in the unit tests and over an L2CAP socket in the guest
 * (gaitcap-test-insole) where the insole simulator is not at hand.
 */
#ifndef TESTS_BLE_PEER_H
#define TESTS_BLE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_DATA_HANDLE		15	/* value handle of the data notifications */

struct ble_peer {
	int fd;
	uint16_t mtu;
	bool notify_on, indicate_on, streaming;
	uint8_t side;			/* 0 left, 1 right */
	unsigned int batch;		/* samples per notification */
	uint32_t counter;		/* next sample's counter */
	uint32_t t_us;			/* next sample's clock */
	uint32_t period_us;
	unsigned int requests;		/* answered */
	unsigned int starts;		/* START writes seen */
};

void ble_peer_init(struct ble_peer *p, int fd, uint8_t side);
/*
 * Answer one PDU from the client (requests, commands, confirmations).
 * 0, or -errno when the descriptor failed or closed (-ENOTCONN).
 */
int ble_peer_handle(struct ble_peer *p, const uint8_t *pdu, size_t len);
/* Read and answer what is waiting, for up to @ms: 0 or -errno. */
int ble_peer_serve(struct ble_peer *p, int ms);
/*
 * Send the next data notification (p->batch samples from p->counter);
 * with @skip, advance the counter and clock as if it was sent but send
 * nothing (a notification the insole lost). Returns the first sample's
 * counter, or -errno.
 */
long ble_peer_notify(struct ble_peer *p, bool skip);
/* Build a data notification PDU for @counter into @pdu: its length. */
size_t ble_peer_data_pdu(const struct ble_peer *p, uint8_t *pdu,
			 uint32_t counter, uint32_t t_us, uint16_t flags);

#endif /* TESTS_BLE_PEER_H */
