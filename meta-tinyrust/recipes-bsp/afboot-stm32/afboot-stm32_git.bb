SUMMARY = "afboot-stm32: a minimal boot loader that starts Linux on STM32F4/F7/H7 boards"
DESCRIPTION = "Sets up clocks, SDRAM and the UART, then starts the XIP kernel with the device tree"
HOMEPAGE = "https://github.com/mcoquelin-stm32/afboot-stm32"
SECTION = "bootloaders"
# Upstream ships no license file; Buildroot packages it as GPL-2.0-or-later.
LICENSE = "GPL-2.0-or-later"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-or-later;md5=fed54355545ffd980b814dab4a3b312c"

PV = "0+git"
SRC_URI = "git://github.com/mcoquelin-stm32/afboot-stm32.git;protocol=https;branch=master \
           file://0001-Makefile-build-freestanding-link-without-nostartfiles.patch \
           "
SRCREV = "3566acd582e5536fb60864281788a30f5527df2d"

# Any machine of the SoC family (conf/machine/include/stm32f4.inc); TINYRUST_AFBOOT_BOARD
# names afboot-stm32's board (its make target).
COMPATIBLE_MACHINE = "stm32f4"
# Built with the machine's flash addresses: one package per machine, not per tune.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit deploy

EXTRA_OEMAKE = "CROSS_COMPILE=${TARGET_PREFIX} CC='${CC}' \
                KERNEL_ADDR=${TINYRUST_FLASH_KERNEL_ADDR} DTB_ADDR=${TINYRUST_FLASH_DTB_ADDR}"

do_compile() {
    oe_runmake ${TINYRUST_AFBOOT_BOARD}
}

do_install[noexec] = "1"

do_deploy() {
    install -m 0644 ${S}/${TINYRUST_AFBOOT_BOARD}.bin ${DEPLOYDIR}/${TINYRUST_AFBOOT_IMAGE}
}
addtask deploy after do_compile before do_build
