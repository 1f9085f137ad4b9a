SUMMARY = "The tinyrust device's /init, network configuration and web content"
DESCRIPTION = "/init and the scripts busybox init runs (network from /etc/tinyrust/network.conf, DHCP by default; supervised DHCP client and web server), a page and a CGI; the host tool's image uses the same files"
HOMEPAGE = "https://github.com/meta-tinyrust/meta-tinyrust"
SECTION = "base"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = "file://init \
           file://rcS \
           file://rc.ready \
           file://dhcp-client \
           file://web-server \
           file://network.conf \
           file://udhcpc.script \
           file://index.html \
           file://hello.cgi \
"
S = "${UNPACKDIR}"

do_install() {
    install -m 0755 ${S}/init ${D}/init
    install -d ${D}${sysconfdir}/tinyrust ${D}/www/cgi-bin
    for f in rcS rc.ready dhcp-client web-server; do
        install -m 0755 ${S}/$f ${D}${sysconfdir}/tinyrust/$f
    done
    install -m 0644 ${S}/network.conf ${D}${sysconfdir}/tinyrust/network.conf
    install -m 0755 ${S}/udhcpc.script ${D}${sysconfdir}/tinyrust/udhcpc.script
    install -m 0644 ${S}/index.html ${D}/www/index.html
    install -m 0755 ${S}/hello.cgi ${D}/www/cgi-bin/hello.cgi
}

FILES:${PN} += "/init ${sysconfdir}/tinyrust /www"
# busybox init runs the scripts (the inittab comes with busybox-inittab); httpd runs as
# www-data, which base-passwd defines.
RDEPENDS:${PN} = "busybox busybox-inittab base-passwd"
CONFFILES:${PN} = "${sysconfdir}/tinyrust/network.conf"
