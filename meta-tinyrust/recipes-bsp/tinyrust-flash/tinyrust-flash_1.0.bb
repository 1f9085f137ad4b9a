SUMMARY = "Flash script for the STM32F429 discovery (openocd)"
DESCRIPTION = "Writes afboot-stm32, the device tree and the XIP kernel at the board's flash addresses"
HOMEPAGE = "https://github.com/meta-tinyrust/meta-tinyrust"
SECTION = "bootloaders"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = "file://flash-stm32f429-disco.sh"
S = "${UNPACKDIR}"
# Apart from S: do_compile writes the script it reads, with the addresses filled in.
B = "${WORKDIR}/build"

COMPATIBLE_MACHINE = "^(stm32f429-disco)$"
# Built with the machine's flash addresses: one package per machine, not per tune.
PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit deploy kernel-artifact-names

# What kernel.bbclass deploys: with the initramfs bundled (the distro's default), the
# image to flash is xipImage-initramfs-<machine>.bin; plain "xipImage" is the kernel alone.
TINYRUST_FLASH_KERNEL_IMAGE = "${@'${KERNEL_IMAGETYPE}-${INITRAMFS_LINK_NAME}${KERNEL_IMAGE_BIN_EXT}' if d.getVar('INITRAMFS_IMAGE_BUNDLE') == '1' else '${KERNEL_IMAGETYPE}'}"

do_configure[noexec] = "1"
do_compile() {
    sed -e 's/@AFBOOT_ADDR@/${TINYRUST_FLASH_AFBOOT_ADDR}/' \
        -e 's/@DTB_ADDR@/${TINYRUST_FLASH_DTB_ADDR}/' \
        -e 's/@KERNEL_ADDR@/${TINYRUST_FLASH_KERNEL_ADDR}/g' \
        -e 's/@FLASH_END@/${TINYRUST_FLASH_END}/' \
        -e 's/@KERNEL_IMAGE@/${TINYRUST_FLASH_KERNEL_IMAGE}/g' \
        ${S}/flash-stm32f429-disco.sh > ${B}/flash-stm32f429-disco.sh
}
do_install[noexec] = "1"
do_deploy() {
    install -m 0755 ${B}/flash-stm32f429-disco.sh ${DEPLOYDIR}/
}
addtask deploy after do_compile before do_build
