// SPDX-License-Identifier: GPL-2.0-only
/*
 * gaitmat serdev transport: the mat controller on a UART, described by
 * firmware with the "gaitcap,gaitmat" compatible (device tree, or ACPI
 * through PRP0001 and a _DSD "compatible" property).
 *
 * Optional property "current-speed": the link rate, 3000000 by default.
 */
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/property.h>
#include <linux/serdev.h>

#include "gaitmat.h"

#define GAITMAT_DEFAULT_BAUD	3000000

static ssize_t gaitmat_serdev_send(void *priv, const u8 *buf, size_t len)
{
	struct serdev_device *serdev = priv;

	/* Commands are a few dozen bytes: they fit in the tty's buffer. */
	return serdev_device_write_buf(serdev, buf, len);
}

static const struct gaitmat_transport_ops gaitmat_serdev_transport = {
	.write = gaitmat_serdev_send,
};

#ifdef GAITMAT_SERDEV_RECEIVE_SIZE_T
static size_t gaitmat_serdev_receive(struct serdev_device *serdev,
				     const u8 *data, size_t count)
#else
static int gaitmat_serdev_receive(struct serdev_device *serdev,
				  const unsigned char *data, size_t count)
#endif
{
	gaitmat_core_receive(serdev_device_get_drvdata(serdev), data, count);
	return count;
}

static const struct serdev_device_ops gaitmat_serdev_ops = {
	.receive_buf = gaitmat_serdev_receive,
	.write_wakeup = serdev_device_write_wakeup,
};

static int gaitmat_serdev_probe(struct serdev_device *serdev)
{
	struct device *dev = &serdev->dev;
	u32 baud = GAITMAT_DEFAULT_BAUD;
	struct gaitmat *gm;
	int ret;

	gm = devm_gaitmat_core_probe(dev, &gaitmat_serdev_transport, serdev);
	if (IS_ERR(gm))
		return dev_err_probe(dev, PTR_ERR(gm), "core setup failed\n");
	serdev_device_set_drvdata(serdev, gm);
	serdev_device_set_client_ops(serdev, &gaitmat_serdev_ops);

	/*
	 * Opened after the core is set up, so devres closes the port (no
	 * more receive_buf calls) before it tears the core down.
	 */
	ret = devm_serdev_device_open(dev, serdev);
	if (ret)
		return dev_err_probe(dev, ret, "cannot open the UART\n");

	device_property_read_u32(dev, "current-speed", &baud);
	serdev_device_set_baudrate(serdev, baud);
	serdev_device_set_flow_control(serdev, false);
	ret = serdev_device_set_parity(serdev, SERDEV_PARITY_NONE);
	if (ret)
		return dev_err_probe(dev, ret, "cannot set 8N1\n");

	gaitmat_core_start(gm);
	return 0;
}

static const struct of_device_id gaitmat_serdev_of_match[] = {
	{ .compatible = "gaitcap,gaitmat" },
	{ }
};
MODULE_DEVICE_TABLE(of, gaitmat_serdev_of_match);

static struct serdev_device_driver gaitmat_serdev_driver = {
	.probe = gaitmat_serdev_probe,
	.driver = {
		.name = "gaitmat",
		.of_match_table = gaitmat_serdev_of_match,
	},
};
module_serdev_device_driver(gaitmat_serdev_driver);

MODULE_DESCRIPTION("gaitmat serdev transport: the mat controller on a UART");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(GAITMAT_NS);
