/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A gait mat controller played through /dev/gaitmat-virt, for the
 * selftests: it sends what the test asks (frames built with the driver's
 * own codec, or raw bytes for faults) and, from a thread, answers the
 * host's commands as the protocol says (DEVINFO for GET_INFO, an ACK for
 * the others), logging every command it received.
 *
 * Plus small helpers for the IIO device the driver makes of it: finding
 * it, sysfs reads and writes, buffer setup.
 */
#ifndef GAITMAT_VIRTCTL_H
#define GAITMAT_VIRTCTL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gaitmat_proto.h"

#define VIRT_DEV	"/dev/gaitmat-virt"
#define VIRT_SYSDIR	"/sys/devices/virtual/misc/gaitmat-virt"
#define VIRT_DRVDIR	"/sys/bus/platform/drivers/gaitmat-virt"
#define GAITMAT_PARAMS	"/sys/module/gaitmat/parameters"

#define VCTL_MAX_CMDS	512

struct vctl_cmd {
	uint8_t type;
	uint32_t seq;
	uint16_t rate_hz;	/* SET_RATE only */
};

struct vctl {
	int fd;
	char pdev[64];		/* gaitmat-virt.N */
	char iio[64];		/* iio:deviceN, once found */
	char sysdir[128];	/* /sys/bus/iio/devices/iio:deviceN */
	char devnode[128];	/* /dev/iio:deviceN */

	pthread_t thread;
	bool thread_running;
	volatile bool stop;

	pthread_mutex_t lock;	/* everything below, and writes to fd */
	pthread_cond_t cond;
	struct gm_devinfo di;	/* what GET_INFO is answered with */
	bool answer_info;	/* reply to GET_INFO */
	bool answer_cmds;	/* ACK the other commands */
	uint8_t ack_result;	/* result the ACKs carry */
	struct vctl_cmd cmds[VCTL_MAX_CMDS];
	unsigned int n_cmds;
	unsigned int n_info_sent;

	uint8_t rx_buf[256];
	struct gm_rx rx;
};

/* A devinfo for @n_tiles tiles of @rows x @cols at 100 Hz (50..200). */
void vctl_devinfo(struct gm_devinfo *di, unsigned int n_tiles,
		  unsigned int rows, unsigned int cols, uint32_t boot_id);

/* Open a controller (one new platform device) and start its thread. */
int vctl_open(struct vctl *c, const struct gm_devinfo *di);
void vctl_close(struct vctl *c);

/* Wire bytes of one frame (leading delimiter included) into @out. */
long vctl_encode(const struct gm_hdr *hdr, const uint8_t *body,
		 uint8_t *out, size_t cap);
/* Write bytes as one write(); returns 0 or -errno. */
int vctl_write(struct vctl *c, const void *buf, size_t len);
int vctl_send(struct vctl *c, const struct gm_hdr *hdr, const uint8_t *body);
int vctl_announce(struct vctl *c);
int vctl_send_data(struct vctl *c, uint8_t type, uint32_t seq,
		   uint64_t clock_us, uint8_t flags, const uint16_t *sensels);
int vctl_send_status(struct vctl *c, uint32_t scans_dropped,
		     uint32_t boot_id);

/* Wait until the controller's IIO device exists (or, with @gone, not). */
int vctl_wait_iio(struct vctl *c, int timeout_ms);
/* Look once for the IIO device's sysfs folder (no wait); 0 or -ENOENT. */
int vctl_find_iio(struct vctl *c);
/* Use the IIO device @name (iio:deviceN), as a uevent names it. */
void vctl_set_iio(struct vctl *c, const char *name);
int vctl_wait_iio_gone(struct vctl *c, int timeout_ms);
/* Wait for a command of @type after the first @from logged; its index. */
int vctl_wait_cmd(struct vctl *c, uint8_t type, unsigned int from,
		  int timeout_ms);
unsigned int vctl_n_cmds(struct vctl *c);
void vctl_set(struct vctl *c, bool answer_info, bool answer_cmds,
	      uint8_t ack_result);

/* sysfs, relative to the IIO device's folder unless absolute. */
int sysfs_read(const struct vctl *c, const char *attr, char *buf,
	       size_t cap);
long long sysfs_read_ll(const struct vctl *c, const char *attr);
int sysfs_write(const struct vctl *c, const char *attr, const char *val);
int path_write(const char *path, const char *val);
long long path_read_ll(const char *path);

/*
 * The driver's receive counters are diagnostics in debugfs, one file each:
 * /sys/kernel/debug/gaitmat/<label>/<name>, <label> the IIO device's
 * (mounted here when needed). -1 when unreadable.
 */
long long gaitmat_counter(const char *label, const char *name);
long long vctl_counter(const struct vctl *c, const char *name);

/* Enable every scan element (and the timestamp unless @no_ts). */
int vctl_scan_all(struct vctl *c, bool ts);
int vctl_buffer(struct vctl *c, unsigned int length, bool enable);

/* Scan layout as the selftests compute it independently. */
struct scan_layout {
	unsigned int repeat;		/* u16 per row: 16 per element */
	unsigned int n_rows;		/* rows of the image, all tiles */
	unsigned int n_chans;		/* row elements: in_pressure0.. */
	unsigned int meta_offset;
	unsigned int bytes;
};
void scan_layout(const struct gm_devinfo *di, struct scan_layout *l);
/* The scan the driver must produce for a frame (all but the timestamp). */
void scan_expect(const struct gm_devinfo *di, const uint16_t *sensels,
		 uint64_t seq64, uint64_t clock_us, uint32_t flags,
		 uint32_t missing, uint8_t *scan);

/* Monotonic nanoseconds. */
int64_t now_ns(void);

#endif /* GAITMAT_VIRTCTL_H */
