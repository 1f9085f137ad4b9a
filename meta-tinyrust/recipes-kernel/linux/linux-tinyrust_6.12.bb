SUMMARY = "Linux 6.12 without INET, with the rinet TCP/IP stack (Rust) providing AF_INET"
DESCRIPTION = "A tiny kernel modelled on linux-yocto-tiny whose IPv4 stack is rinet, a Rust staticlib built for the kernel's target by the kernel's own Kbuild"
HOMEPAGE = "https://github.com/meta-tinyrust/meta-tinyrust"
SECTION = "kernel"
# The kernel; rinet and its glue (MIT); the crates linked into the image: smoltcp and
# managed (0BSD), heapless, hash32, stable_deref_trait, cfg-if, bitflags and Rust's core
# and alloc (MIT or Apache-2.0), byteorder (Unlicense or MIT), compiler_builtins (also
# Apache-2.0 with the LLVM exception).
LICENSE = "GPL-2.0-only & MIT & 0BSD & (MIT | Apache-2.0) & (Unlicense | MIT) & Apache-2.0-with-LLVM-exception"
LIC_FILES_CHKSUM = "file://COPYING;md5=6bc538ed5bd9a7fc9398086aedcd7e46 \
                    file://${UNPACKDIR}/LICENSE;md5=f31889ec5946f987ea74ebd76d72a79b \
"

# Before the kernel classes: kernel-yocto sets KBRANCH ?= "master", and the first weak
# assignment wins.
KBRANCH ?= "v6.12/standard/tiny/base"

# cargo_common first: the kernel classes that follow define do_configure, and the last
# definition is the one that runs (kernel_do_configure, not cargo_common_do_configure).
inherit cargo_common
inherit kernel kernel-yocto

# oe-core's Rust and cargo build the staticlib; the rest is what linux-yocto.inc adds.
DEPENDS += "cargo-native rust-native bc-native xz-native openssl-native util-linux-native"
DEPENDS += "${@bb.utils.contains('ARCH', 'x86', 'elfutils-native', '', d)}"

LINUX_KERNEL_TYPE = "tiny"
KCONFIG_MODE = "--allnoconfig"
LINUX_VERSION ?= "6.12.69"
PV = "${LINUX_VERSION}+git"

# The linux-yocto tiny tree of 6.12.69, as oe-core whinlatter pinned it.
SRCREV_machine ?= "a7fbaf7533ae7ebc35f56c0dfb86970eda4d721c"
SRCREV_FORMAT = "machine"

# Every value a fragment asks for must reach the final .config; a build where one does
# not (a dependency missing, a symbol renamed) fails instead of booting without it.
KCONF_AUDIT_LEVEL = "2"
KMETA_AUDIT_WERROR = "1"

# The sources: the kernel tree; the layer's kernel metadata (tinyrust-kmeta/: each
# machine's BSP description <machine>-tiny.scc, the patches and the fragments, which the
# host tool reads too); and rinet (the glue, the crates, the script that places them in
# the tree) from the repository that holds this layer, through the symbolic links
# linux-tinyrust/{rinet,rinet-kernel,LICENSE}. Those file:// sources are in the task
# signatures by their contents, not by where the checkout lies. (Not FILESEXTRAPATHS:
# kernel-yocto checksums every FILESEXTRAPATHS directory whole, build outputs included.)
SRC_URI = "git://git.yoctoproject.org/linux-yocto.git;branch=${KBRANCH};name=machine;protocol=https \
           file://tinyrust-kmeta;type=kmeta;destsuffix=tinyrust-kmeta \
           file://LICENSE \
           file://rinet/Cargo.toml \
           file://rinet/src \
           file://rinet-kernel/Cargo.toml \
           file://rinet-kernel/Cargo.lock \
           file://rinet-kernel/src \
           file://rinet-kernel/glue \
           file://rinet-kernel/place-in-tree.sh \
           file://rinet-kernel/patches \
"
# crate:// sources of the Rust staticlib and of the Rust library -Zbuild-std builds;
# regenerate with `cargo xtask yocto-crates`. After SRC_URI's assignment, which would
# otherwise drop them.
require linux-tinyrust-crates.inc

# rinet in the tree before kernel_configme reads net/Kconfig (patch 0001 sources
# net/rinet/Kconfig), and rinet's patches to crates (rinet-kernel/patches) applied to the
# vendored crates, by the script the host tool runs too; and cargo's configuration (the
# vendored crates in place of crates.io), as cargo_common writes it.
do_rinet_place() {
    sh ${UNPACKDIR}/rinet-kernel/place-in-tree.sh ${S} ${CARGO_VENDORING_DIRECTORY}
    cargo_common_do_configure
}
do_rinet_place[dirs] = "${S}"
do_rinet_place[doc] = "Places the rinet glue and crates in the kernel tree and configures cargo for the vendored crates"
addtask rinet_place after do_patch before do_kernel_configme

# The kernel's Kbuild builds the staticlib (net/rinet/Makefile, its Rust target and flags
# from net/rinet/rinet-rust.mk): the recipe gives it oe-core's Rust, whose native sysroot
# holds the library sources -Zbuild-std compiles, the vendored crates (--frozen: nothing
# fetched) and oe-core's path remapping.
export RINET_CARGO_FLAGS = "--frozen"
export RINET_RUSTFLAGS = "--remap-path-prefix=${WORKDIR}=${TARGET_DBGSRC_DIR} --remap-path-prefix=${TMPDIR}/work-shared=${TARGET_DBGSRC_DIR}"

# Any machine whose architecture has a row in rinet-rust.mk (x86_64, i586, ARMv7-M); the
# kernel build stops with a message on another one. Only where it is the machine's kernel
# (as linux-yocto.inc does): other machines of a build parse it but never build it.
COMPATIBLE_HOST = "(x86_64|i.86|arm).*-linux.*"

B = "${WORKDIR}/linux-${PACKAGE_ARCH}-${LINUX_KERNEL_TYPE}-build"

# A board that runs the kernel in place from flash sets TINYRUST_FLASH_END in its machine
# file: the kernel image that gets flashed (the initramfs-bundled one when the distro
# bundles the image) must fit between TINYRUST_FLASH_KERNEL_ADDR and that end. The build
# fails here rather than on the board. (kernel.bbclass's do_sizecheck with
# KERNEL_IMAGE_MAXSIZE sees only the image without the initramfs, in KiB as du counts them,
# and only warns while one image type fits.)
TINYRUST_FLASH_END ??= ""
TINYRUST_FLASH_KERNEL_ADDR ??= ""
do_flash_sizecheck() {
    # (bitbake's shell parser has no $((...)); printf reads the hexadecimal addresses)
    slot=$(expr $(printf %d ${TINYRUST_FLASH_END}) - $(printf %d ${TINYRUST_FLASH_KERNEL_ADDR}))
    for imageType in ${KERNEL_IMAGETYPES}; do
        image=${KERNEL_OUTPUT_DIR}/$imageType
        if [ -e $image.initramfs ]; then
            image=$image.initramfs
        fi
        size=$(stat -L -c %s $image)
        if [ $size -gt $slot ]; then
            bbfatal "$image is $size bytes: over the $slot bytes of flash from ${TINYRUST_FLASH_KERNEL_ADDR} to ${TINYRUST_FLASH_END} by $(expr $size - $slot)"
        fi
        bbnote "$image: $size of $slot bytes of flash ($(expr $slot - $size) free)"
    done
}
do_flash_sizecheck[dirs] = "${B}"
do_flash_sizecheck[doc] = "Checks that the kernel image to flash, with its bundled initramfs, fits the machine's flash"
# nooelint: oelint.task.noanonpython - linux-yocto.inc's parse-time skip; the flash check only for machines with a flash map, after the bundling when there is one
python () {
    if d.getVar("PREFERRED_PROVIDER_virtual/kernel") != d.getVar("PN"):
        raise bb.parse.SkipRecipe("Set PREFERRED_PROVIDER_virtual/kernel to %s to enable it" % d.getVar("PN"))
    if d.getVar("TINYRUST_FLASH_END"):
        bundled = d.getVar("INITRAMFS_IMAGE") and bb.utils.to_boolean(d.getVar("INITRAMFS_IMAGE_BUNDLE"))
        bb.build.addtask("do_flash_sizecheck", "do_deploy", "do_bundle_initramfs" if bundled else "do_install", d)
}
