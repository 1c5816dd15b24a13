// SPDX-License-Identifier: GPL-2.0-only
/*
 * gaitmat virtual transport: /dev/gaitmat-virt lets a userspace process
 * play a mat controller, as /dev/vhci does for Bluetooth and /dev/uhid for
 * HID. Each open() plugs in one controller, close() unplugs it.
 *
 *   write()        bytes from the controller: the UART's wire bytes
 *   read()/poll()  bytes the host sends to the controller (commands)
 *
 * The link behaves like the wire: a writer is never blocked by a slow
 * reader of the IIO device (a scan that does not fit is dropped and
 * counted as an overrun), and commands the controller process does not
 * read in time are dropped, as on a UART nobody listens to.
 *
 * Each open file gets a platform device "gaitmat-virt.N", child of the
 * misc device, which this module's platform driver binds: the IIO device
 * hangs below it, and unbinding it through sysfs unplugs the controller's
 * driver side while the file stays open, as for a real device.
 */
#include <linux/fs.h>
#include <linux/kfifo.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "gaitmat.h"

#define GAITMAT_VIRT_NAME	"gaitmat-virt"
/* Commands queued for the controller process; a few hundred fit. */
#define GAITMAT_VIRT_TX_SIZE	4096
/* Bytes handed to the core at a time: as a UART driver sees them. */
#define GAITMAT_VIRT_CHUNK	4096

struct gaitmat_virt {
	struct platform_device *pdev;

	/* Protects gm (cleared on unbind); held while bytes are fed. */
	struct mutex lock;
	struct gaitmat *gm;
	/* One writer at a time; protects chunk, where its bytes land. */
	struct mutex write_lock;
	u8 chunk[GAITMAT_VIRT_CHUNK];

	/*
	 * Host to controller bytes. The core is the only producer (its
	 * command lock serialises it); read_lock serialises consumers.
	 */
	DECLARE_KFIFO(tx, u8, GAITMAT_VIRT_TX_SIZE);
	struct mutex read_lock;	/* one reader of tx at a time */
	wait_queue_head_t tx_wait;
};

static struct miscdevice gaitmat_virt_misc;

static ssize_t gaitmat_virt_send(void *priv, const u8 *buf, size_t len)
{
	struct gaitmat_virt *vc = priv;

	/* Whole frames or nothing: half a command would only be noise. */
	if (kfifo_avail(&vc->tx) < len)
		return 0;
	len = kfifo_in(&vc->tx, buf, len);
	wake_up_interruptible(&vc->tx_wait);
	return len;
}

static const struct gaitmat_transport_ops gaitmat_virt_ops = {
	.write = gaitmat_virt_send,
};

static void gaitmat_virt_detach(void *data)
{
	struct gaitmat_virt *vc = data;

	/* Waits for a write in progress; later bytes fall on the floor. */
	mutex_lock(&vc->lock);
	vc->gm = NULL;
	mutex_unlock(&vc->lock);
}

static int gaitmat_virt_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct gaitmat_virt **pvc = dev_get_platdata(dev);
	struct gaitmat_virt *vc;
	struct gaitmat *gm;
	int ret;

	/* Only devices made by open() carry a controller. */
	if (!pvc || dev->parent != gaitmat_virt_misc.this_device)
		return -ENODEV;
	vc = *pvc;

	gm = devm_gaitmat_core_probe(dev, &gaitmat_virt_ops, vc);
	if (IS_ERR(gm))
		return dev_err_probe(dev, PTR_ERR(gm), "core setup failed\n");
	/* Registered after the core, so it runs first on unbind. */
	ret = devm_add_action_or_reset(dev, gaitmat_virt_detach, vc);
	if (ret)
		return ret;

	mutex_lock(&vc->lock);
	vc->gm = gm;
	mutex_unlock(&vc->lock);
	gaitmat_core_start(gm);
	return 0;
}

static struct platform_driver gaitmat_virt_driver = {
	.probe = gaitmat_virt_probe,
	.driver = {
		.name = GAITMAT_VIRT_NAME,
	},
};

static int gaitmat_virt_open(struct inode *inode, struct file *file)
{
	struct platform_device *pdev;
	struct gaitmat_virt *vc;
	bool bound;

	vc = kzalloc(sizeof(*vc), GFP_KERNEL);
	if (!vc)
		return -ENOMEM;
	mutex_init(&vc->lock);
	mutex_init(&vc->write_lock);
	mutex_init(&vc->read_lock);
	INIT_KFIFO(vc->tx);
	init_waitqueue_head(&vc->tx_wait);

	pdev = platform_device_register_data(gaitmat_virt_misc.this_device,
					     GAITMAT_VIRT_NAME,
					     PLATFORM_DEVID_AUTO,
					     &vc, sizeof(vc));
	if (IS_ERR(pdev)) {
		kfree(vc);
		return PTR_ERR(pdev);
	}
	vc->pdev = pdev;

	mutex_lock(&vc->lock);
	bound = vc->gm;
	mutex_unlock(&vc->lock);
	if (!bound) {
		platform_device_unregister(pdev);
		kfree(vc);
		return -ENODEV;
	}

	file->private_data = vc;
	return stream_open(inode, file);
}

static int gaitmat_virt_release(struct inode *inode, struct file *file)
{
	struct gaitmat_virt *vc = file->private_data;

	/* Unplugged: unbinding tears the IIO device down before we free. */
	platform_device_unregister(vc->pdev);
	kfree(vc);
	return 0;
}

/**
 * gaitmat_virt_feed() - bytes from the controller, already in the kernel
 * @vc: the virtual link
 * @data: the bytes, in order
 * @len: how many
 *
 * What write() does once the bytes are copied in (and what the KUnit tests
 * call): hands them to the core in pieces of at most GAITMAT_VIRT_CHUNK, as
 * a UART driver sees them, so frames are stamped as they would be there.
 * Bytes fed while the link's driver is unbound fall on the floor, like a
 * wire with nobody at the other end.
 */
static void gaitmat_virt_feed(struct gaitmat_virt *vc, const u8 *data,
			      size_t len)
{
	size_t n;

	mutex_lock(&vc->lock);
	while (vc->gm && len) {
		n = min_t(size_t, len, GAITMAT_VIRT_CHUNK);
		gaitmat_core_receive(vc->gm, data, n);
		data += n;
		len -= n;
	}
	mutex_unlock(&vc->lock);
}

/**
 * gaitmat_virt_take() - bytes the host sent to the controller
 * @vc: the virtual link
 * @buf: where to put them, kernel memory
 * @len: room in @buf
 *
 * What read() does before copying out (and what the KUnit tests call).
 * Never waits: wait on @vc->tx_wait for the queue to fill.
 *
 * Return: the number of bytes taken, 0 when none are queued.
 */
static size_t gaitmat_virt_take(struct gaitmat_virt *vc, u8 *buf, size_t len)
{
	size_t n;

	mutex_lock(&vc->read_lock);
	n = kfifo_out(&vc->tx, buf, len);
	mutex_unlock(&vc->read_lock);
	return n;
}

static ssize_t gaitmat_virt_write(struct file *file, const char __user *buf,
				  size_t count, loff_t *ppos)
{
	struct gaitmat_virt *vc = file->private_data;
	size_t done = 0, n;
	ssize_t ret = 0;

	/*
	 * The user copy happens outside vc->lock, so an unbind never waits
	 * for a page fault of the writer.
	 */
	mutex_lock(&vc->write_lock);
	while (done < count) {
		n = min_t(size_t, count - done, sizeof(vc->chunk));
		if (copy_from_user(vc->chunk, buf + done, n)) {
			ret = -EFAULT;
			break;
		}
		gaitmat_virt_feed(vc, vc->chunk, n);
		done += n;
	}
	mutex_unlock(&vc->write_lock);
	return done ? done : ret;
}

static ssize_t gaitmat_virt_read(struct file *file, char __user *buf,
				 size_t count, loff_t *ppos)
{
	struct gaitmat_virt *vc = file->private_data;
	size_t n;
	ssize_t ret;
	u8 *kbuf;

	if (!count)
		return 0;
	/* Never more than the queue holds: one take empties it. */
	count = min_t(size_t, count, GAITMAT_VIRT_TX_SIZE);
	kbuf = kmalloc(count, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	for (;;) {
		n = gaitmat_virt_take(vc, kbuf, count);
		if (n)
			break;
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			goto out;
		}
		ret = wait_event_interruptible(vc->tx_wait,
					       !kfifo_is_empty(&vc->tx));
		if (ret)
			goto out;
	}
	/* Taken bytes that cannot be copied out are lost, as on a wire. */
	ret = copy_to_user(buf, kbuf, n) ? -EFAULT : n;
out:
	kfree(kbuf);
	return ret;
}

static __poll_t gaitmat_virt_poll(struct file *file, poll_table *wait)
{
	struct gaitmat_virt *vc = file->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &vc->tx_wait, wait);
	if (!kfifo_is_empty(&vc->tx))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static const struct file_operations gaitmat_virt_fops = {
	.owner = THIS_MODULE,
	.open = gaitmat_virt_open,
	.release = gaitmat_virt_release,
	.read = gaitmat_virt_read,
	.write = gaitmat_virt_write,
	.poll = gaitmat_virt_poll,
};

static struct miscdevice gaitmat_virt_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = GAITMAT_VIRT_NAME,
	.fops = &gaitmat_virt_fops,
	.mode = 0600,
};

static int __init gaitmat_virt_init(void)
{
	int ret;

	ret = platform_driver_register(&gaitmat_virt_driver);
	if (ret)
		return ret;
	ret = misc_register(&gaitmat_virt_misc);
	if (ret)
		platform_driver_unregister(&gaitmat_virt_driver);
	return ret;
}
module_init(gaitmat_virt_init);

static void __exit gaitmat_virt_exit(void)
{
	misc_deregister(&gaitmat_virt_misc);
	platform_driver_unregister(&gaitmat_virt_driver);
}
module_exit(gaitmat_virt_exit);

MODULE_DESCRIPTION("gaitmat virtual transport: a mat controller played from userspace");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(GAITMAT_NS);

/*
 * The life-cycle KUnit suite plays a controller through this transport with
 * kernel pointers (gaitmat_virt_feed() and gaitmat_virt_take()), so it is
 * compiled here, as fs/ext4/mballoc.c includes mballoc-test.c; the test
 * kernel tree of tests/kunit/run-kunit.sh places the file next to this one.
 */
#if IS_ENABLED(CONFIG_GAITMAT_CORE_KUNIT_TEST)
#include "gaitmat_core_kunit.c"
#endif
