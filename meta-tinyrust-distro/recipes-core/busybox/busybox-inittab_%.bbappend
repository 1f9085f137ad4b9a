# The tinyrust device's own inittab (one copy: the host tool's test image reads the same
# file): rcS, then the supervised DHCP client and web server. It replaces oe-core's, and
# with it the getty lines oe-core adds for SERIAL_CONSOLES: the tiny image has no login.
FILESEXTRAPATHS:prepend:tinyrust := "${THISDIR}/${BPN}:"

do_install:tinyrust() {
    install -D -m 0644 ${S}/inittab ${D}${sysconfdir}/inittab
}

RDEPENDS:${PN}:tinyrust = ""
