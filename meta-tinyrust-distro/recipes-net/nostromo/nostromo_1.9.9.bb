SUMMARY = "nhttpd (nostromo): a small, fast HTTP server with CGI"
DESCRIPTION = "nostromo's nhttpd, run chrooted in /var/nostromo; needs fork(), so no-MMU machines use busybox httpd"
HOMEPAGE = "http://www.nazgul.ch/dev_nostromo.html"
SECTION = "net"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://src/nhttpd/main.c;beginline=2;endline=14;md5=0bb3711a867b9704d3bfabcf5529b64e"

# nhttpd links OpenSSL for its optional HTTPS port; the tiny image never configures it.
DEPENDS = "openssl virtual/crypt"

SRC_URI = "http://www.nazgul.ch/dev/${BP}.tar.gz \
           file://nhttpd.conf \
           file://hello-cgi.c \
           "
SRC_URI[sha256sum] = "1fad0a28d934835b582cedc98857e12e5adb991b14b87b52b39e6a501f4a9486"

# CVE-2019-16278 (path traversal to RCE) is fixed since 1.9.7, and the server runs
# chrooted (-r). Upstream is unmaintained: its CVEs are tracked here.
CVE_PRODUCT = "nazgul:nostromo_nhttpd"

# Make's command-line variables override the upstream GNUmakefiles' own CC and flags
# (make passes them down to the sub-makes), so no patch is needed to cross-compile.
EXTRA_OEMAKE = "CC='${CC}' CFLAGS='${CFLAGS}' LDFLAGS='${LDFLAGS}'"

# Inside the chroot there is no shell: the sample CGI is a static program.
do_compile:append() {
    ${CC} ${CFLAGS} ${LDFLAGS} -static -o ${B}/hello.cgi ${UNPACKDIR}/hello-cgi.c
}

do_install() {
    install -d ${D}${sbindir} ${D}${sysconfdir}
    install -m 0755 ${S}/src/nhttpd/nhttpd ${D}${sbindir}/nhttpd
    install -m 0644 ${UNPACKDIR}/nhttpd.conf ${D}${sysconfdir}/nhttpd.conf
    install -d ${D}${localstatedir}/nostromo/conf ${D}${localstatedir}/nostromo/logs
    install -d ${D}${localstatedir}/nostromo/htdocs/cgi-bin
    install -m 0644 ${S}/conf/mimes ${D}${localstatedir}/nostromo/conf/mimes
    install -m 0644 ${S}/htdocs/index.html ${D}${localstatedir}/nostromo/htdocs/index.html
    install -m 0755 ${B}/hello.cgi ${D}${localstatedir}/nostromo/htdocs/cgi-bin/hello.cgi
}

FILES:${PN} += "${localstatedir}/nostromo"
CONFFILES:${PN} = "${sysconfdir}/nhttpd.conf"
