/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SSDT for the QEMU lab (tests/vm/lab --ssdt): a gaitmat on the guest's
 * second UART, the way firmware on a real board would describe it.
 *
 * QEMU's pc machine names its ISA serial ports \_SB.PCI0.S08.COM1/COM2. A
 * child of COM2 with a UartSerialBusV2 resource makes the kernel's serdev
 * core claim ttyS1 and create a serdev device (serial0-0) for it; _HID
 * PRP0001 plus the _DSD "compatible" property lets a driver match it through
 * its of_match_table ("gaitcap,gaitmat"), as on a device-tree system.
 * The host end of that UART is -serial pipe:PATH (fifos PATH.in/PATH.out).
 */
DefinitionBlock ("", "SSDT", 2, "GAITCP", "GAITMAT", 0x00000001)
{
	External (\_SB.PCI0.S08.COM2, DeviceObj)

	Scope (\_SB.PCI0.S08.COM2)
	{
		Device (GMAT)
		{
			Name (_HID, "PRP0001")
			Name (_UID, Zero)
			Name (_CRS, ResourceTemplate ()
			{
				/* 3 Mbaud 8N1 as on the mat; 64-byte FIFOs. */
				UartSerialBusV2 (3000000, DataBitsEight, StopBitsOne,
					0x00, LittleEndian, ParityTypeNone,
					FlowControlNone, 0x0040, 0x0040,
					"\\_SB.PCI0.S08.COM2", 0x00,
					ResourceConsumer, , Exclusive, )
			})
			Name (_DSD, Package ()
			{
				/* Device Properties UUID */
				ToUUID ("daffd814-6eba-4d8c-8a91-bc9bbf4aa301"),
				Package ()
				{
					Package () { "compatible", "gaitcap,gaitmat" },
				}
			})
		}
	}
}
