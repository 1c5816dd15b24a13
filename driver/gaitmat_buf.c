// SPDX-License-Identifier: GPL-2.0-only
/*
 * gaitmat: the chardev buffer, a ring of whole scans.
 *
 * IIO's kfifo buffer keeps its scans in one kmalloc, rounded up to a power
 * of two of scans: 4 MiB at most, 256 one-tile scans, 128 ms at 2000 scans
 * per second. A reader held up longer than that by the scheduler, the disk
 * or its own durability syncs loses scans. This buffer keeps them in
 * kvmalloc()ed memory of exactly length * scan bytes, up to
 * GAITMAT_BUF_MAX_BYTES, so that a reader may ask for seconds of scans.
 *
 * One producer (the driver's push, under its rx_lock) and one consumer at a
 * time (readers of the chardev, under the buffer's lock) share the ring
 * through the count of scans stored: the producer publishes a scan with a
 * release after copying it in, the consumer frees scans with a release
 * after copying them out, and each side reads the count with an acquire
 * before touching the slots it allows. Head and tail each belong to one
 * side. The IIO core reallocates (request_update) only while the buffer is
 * disabled, when nothing is pushed; readers are held off by the lock.
 */

#include <linux/atomic.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <linux/iio/buffer.h>
#include <linux/iio/buffer_impl.h>

#include "gaitmat.h"

struct gaitmat_buf {
	struct iio_buffer buffer;
	struct mutex lock;	/* readers, and reallocation against them */
	u8 *data;		/* slots * bpd bytes */
	unsigned int slots;	/* scans the ring holds as allocated */
	size_t bpd;		/* bytes per scan as allocated */
	unsigned int head;	/* next slot to fill: the producer's */
	unsigned int tail;	/* next slot to read: the consumer's */
	atomic_t count;		/* scans stored and not yet read */
	bool update_needed;	/* length or scan size changed since */
};

static struct gaitmat_buf *to_gaitmat_buf(struct iio_buffer *buffer)
{
	return container_of(buffer, struct gaitmat_buf, buffer);
}

/**
 * gaitmat_buf_fits() - whether the ring can hold @length scans
 * @length: buffer length in scans (the buffer/length attribute)
 * @bytes_per_datum: scan size
 *
 * Return: true when @length * @bytes_per_datum is at most
 * GAITMAT_BUF_MAX_BYTES (and @length at least 2, as IIO stores it).
 */
bool gaitmat_buf_fits(unsigned int length, unsigned int bytes_per_datum)
{
	return (u64)max(length, 2U) * bytes_per_datum <= GAITMAT_BUF_MAX_BYTES;
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_buf_fits);

static int gaitmat_buf_store(struct iio_buffer *buffer, const void *data)
{
	struct gaitmat_buf *b = to_gaitmat_buf(buffer);

	/* Acquire: the consumer has finished with the slots it freed. */
	if (!b->data || atomic_read_acquire(&b->count) >= b->slots)
		return -EBUSY;	/* full: the caller counts an overrun */
	memcpy(b->data + (size_t)b->head * b->bpd, data, b->bpd);
	b->head = b->head + 1 == b->slots ? 0 : b->head + 1;
	/* Release: the scan is in its slot before the consumer may see it. */
	atomic_add_return_release(1, &b->count);
	return 0;
}

/**
 * gaitmat_buf_peek() - the scans readable in one piece at the tail
 * @buffer: a buffer from gaitmat_buf_alloc()
 * @max: most scans wanted
 * @scans: set to the first of them
 *
 * For the consumer, with the buffer's lock held (gaitmat_buf_read() takes
 * it); the scans stay in the ring until gaitmat_buf_consume().
 *
 * Return: how many scans from @scans on may be read, at most @max.
 */
unsigned int gaitmat_buf_peek(struct iio_buffer *buffer, unsigned int max,
			      const void **scans)
{
	struct gaitmat_buf *b = to_gaitmat_buf(buffer);
	/* Acquire: the scans counted are in their slots. */
	unsigned int n = atomic_read_acquire(&b->count);

	*scans = b->data + (size_t)b->tail * b->bpd;
	return min3(n, max, b->slots - b->tail);
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_buf_peek);

/**
 * gaitmat_buf_consume() - give back @n scans read at the tail
 * @buffer: a buffer from gaitmat_buf_alloc()
 * @n: scans, at most what gaitmat_buf_peek() returned
 */
void gaitmat_buf_consume(struct iio_buffer *buffer, unsigned int n)
{
	struct gaitmat_buf *b = to_gaitmat_buf(buffer);

	b->tail += n;
	if (b->tail >= b->slots)
		b->tail -= b->slots;
	/* Release: the scans are copied out before the producer reuses them. */
	atomic_sub_return_release(n, &b->count);
}
EXPORT_SYMBOL_IF_KUNIT(gaitmat_buf_consume);

static int gaitmat_buf_read(struct iio_buffer *buffer, size_t n,
			    char __user *buf)
{
	struct gaitmat_buf *b = to_gaitmat_buf(buffer);
	size_t copied = 0;
	int ret = 0;

	mutex_lock(&b->lock);
	if (!b->data || n < b->bpd) {
		ret = -EINVAL;
		goto out;
	}
	/* Up to the end of the ring, then on from its start. */
	while (n - copied >= b->bpd) {
		const void *scans;
		unsigned int k = gaitmat_buf_peek(buffer,
						  (n - copied) / b->bpd,
						  &scans);

		if (!k)
			break;
		if (copy_to_user(buf + copied, scans, k * b->bpd)) {
			ret = -EFAULT;	/* what was not copied stays */
			break;
		}
		gaitmat_buf_consume(buffer, k);
		copied += k * b->bpd;
	}
out:
	mutex_unlock(&b->lock);
	return copied ? copied : ret;
}

static size_t gaitmat_buf_data_available(struct iio_buffer *buffer)
{
	return atomic_read(&to_gaitmat_buf(buffer)->count);
}

static int gaitmat_buf_set_bytes_per_datum(struct iio_buffer *buffer,
					   size_t bpd)
{
	struct gaitmat_buf *b = to_gaitmat_buf(buffer);

	if (buffer->bytes_per_datum != bpd) {
		buffer->bytes_per_datum = bpd;
		b->update_needed = true;
	}
	return 0;
}

static int gaitmat_buf_set_length(struct iio_buffer *buffer,
				  unsigned int length)
{
	struct gaitmat_buf *b = to_gaitmat_buf(buffer);

	length = max(length, 2U);	/* as IIO's kfifo does */
	if (buffer->length != length) {
		buffer->length = length;
		b->update_needed = true;
	}
	return 0;
}

/*
 * Called by the IIO core before the buffer is enabled. IIO's buffer/length
 * store ignores what set_length returns, so a length that does not fit is
 * refused here: enabling fails with -EINVAL, and with -ENOMEM when the
 * memory is not there; either way the ring is empty and the device usable.
 */
static int gaitmat_buf_request_update(struct iio_buffer *buffer)
{
	struct gaitmat_buf *b = to_gaitmat_buf(buffer);
	size_t bpd = buffer->bytes_per_datum;
	int ret = 0;

	if (!bpd || !gaitmat_buf_fits(buffer->length, bpd))
		return -EINVAL;
	mutex_lock(&b->lock);
	if (b->update_needed || !b->data) {
		kvfree(b->data);
		/* Up to 64 MiB a process asked for: charge its cgroup. */
		b->data = kvmalloc_array(buffer->length, bpd,
					 GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		b->slots = b->data ? buffer->length : 0;
		b->bpd = bpd;
		b->update_needed = !b->data;
		if (!b->data)
			ret = -ENOMEM;
	}
	/* A new run starts empty, as IIO's kfifo does. */
	b->head = 0;
	b->tail = 0;
	atomic_set(&b->count, 0);
	mutex_unlock(&b->lock);
	return ret;
}

static void gaitmat_buf_release(struct iio_buffer *buffer)
{
	struct gaitmat_buf *b = to_gaitmat_buf(buffer);

	kvfree(b->data);
	mutex_destroy(&b->lock);
	kfree(b);
}

static const struct iio_buffer_access_funcs gaitmat_buf_access = {
	.store_to = gaitmat_buf_store,
	.read = gaitmat_buf_read,
	.data_available = gaitmat_buf_data_available,
	.request_update = gaitmat_buf_request_update,
	.set_bytes_per_datum = gaitmat_buf_set_bytes_per_datum,
	.set_length = gaitmat_buf_set_length,
	.release = gaitmat_buf_release,
	.modes = INDIO_BUFFER_SOFTWARE | INDIO_BUFFER_TRIGGERED,
};

/**
 * gaitmat_buf_alloc() - a new, empty ring buffer of @length scans
 * @length: initial buffer/length (the ring is allocated on enabling)
 *
 * Return: the buffer, holding one reference (iio_buffer_put() drops it),
 * or NULL.
 */
struct iio_buffer *gaitmat_buf_alloc(unsigned int length)
{
	struct gaitmat_buf *b = kzalloc(sizeof(*b), GFP_KERNEL);

	if (!b)
		return NULL;
	iio_buffer_init(&b->buffer);
	b->buffer.access = &gaitmat_buf_access;
	mutex_init(&b->lock);
	atomic_set(&b->count, 0);
	gaitmat_buf_set_length(&b->buffer, length);
	return &b->buffer;
}
