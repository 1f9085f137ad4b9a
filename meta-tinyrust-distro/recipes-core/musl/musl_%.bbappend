# ARMv7-M (Cortex-M, no MMU) has no CP15 thread-pointer register: musl reads the thread
# pointer through the kernel's get_tls call instead. oe-core's ARMv7-M tunes add the
# armv7m override, its Cortex-M4/M7 tunes armv7em.
FILESEXTRAPATHS:prepend:tinyrust := "${THISDIR}/musl:"
SRC_URI:append:tinyrust:armv7m = " file://0001-arm-read-the-thread-pointer-with-get_tls-on-M-profile.patch"
SRC_URI:append:tinyrust:armv7em = " file://0001-arm-read-the-thread-pointer-with-get_tls-on-M-profile.patch"
