SUMMARY = "The tinyrust initramfs: busybox, a web server with CGI, DHCP networking"
DESCRIPTION = "Bundled into the rinet kernel for every meta-tinyrust machine: one image to flash"
SECTION = "images"
LICENSE = "MIT"

PACKAGE_INSTALL = "tinyrust-base busybox ${VIRTUAL-RUNTIME_dev_manager} base-passwd \
                   ${@'nostromo' if d.getVar('TINYRUST_HTTPD') == 'nostromo' else ''} \
                   ${ROOTFS_BOOTSTRAP_INSTALL} \
                   "

IMAGE_FEATURES = ""
IMAGE_LINGUAS = ""
IMAGE_FSTYPES = "${INITRAMFS_FSTYPES}"
IMAGE_ROOTFS_SIZE = "8192"
IMAGE_ROOTFS_EXTRA_SPACE = "0"

inherit core-image

COMPATIBLE_HOST = "(i.86|x86_64|arm).*-linux.*"
