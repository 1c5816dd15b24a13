// SPDX-License-Identifier: GPL-2.0
/*
 * lab_warn - the QEMU lab's own test module.
 *
 * Loaded without parameters it does nothing, and the lab must pass. With
 * plant=warn, plant=bug or plant=hung its init makes the kernel log exactly
 * the kind of report the lab promises to catch (a WARNING, a BUG oops, a hung
 * task), so tests/vm/labtest can prove that each one fails the run. It exists
 * only to test the test harness; nothing else loads it.
 */
#include <linux/bug.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>

static char *plant = "";
module_param(plant, charp, 0444);
MODULE_PARM_DESC(plant, "report to provoke at load: warn, bug or hung (default: none)");

static unsigned int hang_ms = 6000;
module_param(hang_ms, uint, 0444);
MODULE_PARM_DESC(hang_ms, "how long plant=hung sleeps uninterruptibly (ms)");

static int __init lab_warn_init(void)
{
	if (!strcmp(plant, "warn")) {
		WARN(1, "lab_warn: planted warning (this is a test of the lab)\n");
	} else if (!strcmp(plant, "bug")) {
		/* On purpose: the lab must report the oops this causes. */
		pr_info("lab_warn: planting a BUG (this is a test of the lab)\n");
		BUG();
	} else if (!strcmp(plant, "hung")) {
		/*
		 * msleep() sleeps in TASK_UNINTERRUPTIBLE, which is what the
		 * hung task detector watches; the scenario lowers
		 * hung_task_timeout_secs below hang_ms.
		 */
		pr_info("lab_warn: blocking for %u ms (this is a test of the lab)\n",
			hang_ms);
		msleep(hang_ms);
	} else if (plant[0]) {
		pr_err("lab_warn: unknown plant '%s'\n", plant);
		return -EINVAL;
	}
	return 0;
}
module_init(lab_warn_init);

static void __exit lab_warn_exit(void)
{
}
module_exit(lab_warn_exit);

MODULE_DESCRIPTION("Provokes kernel reports on demand to test the QEMU lab");
MODULE_LICENSE("GPL");
