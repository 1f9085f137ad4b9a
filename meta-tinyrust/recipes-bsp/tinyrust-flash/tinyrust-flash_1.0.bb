SUMMARY = "Flash script for STM32F4 boards (openocd)"
DESCRIPTION = "Writes afboot-stm32, the device tree and the XIP kernel at the board's flash addresses"
HOMEPAGE = "https://github.com/meta-tinyrust/meta-tinyrust"
SECTION = "bootloaders"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = "file://flash-stm32.sh"
S = "${UNPACKDIR}"
# Apart from S: do_compile writes the script it reads, with the addresses filled in.
B = "${WORKDIR}/build"

# Any machine of the SoC family (conf/machine/include/stm32f4.inc); its machine file gives
# the flash map and the openocd board script.
COMPATIBLE_MACHINE = "stm32f4"
# Built with the machine's flash addresses: one package per machine, not per tune.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit deploy kernel-artifact-names

# What kernel.bbclass deploys: with the initramfs bundled (the distro's default), the
# image to flash is xipImage-initramfs-<machine>.bin; plain "xipImage" is the kernel alone.
TINYRUST_FLASH_KERNEL_IMAGE = "${@'${KERNEL_IMAGETYPE}-${INITRAMFS_LINK_NAME}${KERNEL_IMAGE_BIN_EXT}' if d.getVar('INITRAMFS_IMAGE_BUNDLE') == '1' else '${KERNEL_IMAGETYPE}'}"

do_configure[noexec] = "1"
TINYRUST_FLASH_DTB = "${@os.path.basename(d.getVar('KERNEL_DEVICETREE').split()[0])}"

do_compile() {
    sed -e 's/@AFBOOT_ADDR@/${TINYRUST_FLASH_AFBOOT_ADDR}/' \
        -e 's|@AFBOOT_IMAGE@|${TINYRUST_AFBOOT_IMAGE}|g' \
        -e 's|@DTB@|${TINYRUST_FLASH_DTB}|g' \
        -e 's|@OPENOCD_BOARD@|${TINYRUST_OPENOCD_BOARD}|' \
        -e 's/@MACHINE@/${MACHINE}/g' \
        -e 's/@DTB_ADDR@/${TINYRUST_FLASH_DTB_ADDR}/' \
        -e 's/@KERNEL_ADDR@/${TINYRUST_FLASH_KERNEL_ADDR}/g' \
        -e 's/@FLASH_END@/${TINYRUST_FLASH_END}/' \
        -e 's/@KERNEL_IMAGE@/${TINYRUST_FLASH_KERNEL_IMAGE}/g' \
        ${S}/flash-stm32.sh > ${B}/flash-${MACHINE}.sh
}
do_install[noexec] = "1"
do_deploy() {
    install -m 0755 ${B}/flash-${MACHINE}.sh ${DEPLOYDIR}/
}
addtask deploy after do_compile before do_build
