# The network applets the tinyrust image needs, on top of busybox's defconfig, NOMMU-safe.
FILESEXTRAPATHS:prepend:tinyrust := "${THISDIR}/busybox:"
SRC_URI:append:tinyrust = " file://tinyrust.cfg"
