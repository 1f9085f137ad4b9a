# The network applets the tinyrust image needs, on top of busybox's defconfig, NOMMU-safe.
FILESEXTRAPATHS:prepend:tinyrust := "${THISDIR}/busybox:"
SRC_URI:append:tinyrust = " file://tinyrust.cfg"
# No MMU (the ARMv7-M tunes add the armv7m override): vfork-only busybox with hush.
SRC_URI:append:tinyrust:armv7m = " file://nommu.cfg"
