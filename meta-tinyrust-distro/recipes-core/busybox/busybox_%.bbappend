# The network applets the tinyrust image needs, on top of busybox's defconfig, NOMMU-safe.
FILESEXTRAPATHS:prepend:tinyrust := "${THISDIR}/busybox:"
SRC_URI:append:tinyrust = " file://tinyrust.cfg"
# No MMU (oe-core's ARMv7-M tunes add the armv7m override, the Cortex-M4/M7 ones armv7em):
# vfork-only busybox with hush.
SRC_URI:append:tinyrust:armv7m = " file://nommu.cfg"
SRC_URI:append:tinyrust:armv7em = " file://nommu.cfg"
