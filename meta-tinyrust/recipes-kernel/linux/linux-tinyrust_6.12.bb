SUMMARY = "Linux 6.12 without INET, with the rinet TCP/IP stack (Rust) providing AF_INET"
DESCRIPTION = "A tiny kernel modelled on linux-yocto-tiny whose IPv4 stack is rinet, a Rust staticlib built for the kernel's target"
HOMEPAGE = "https://github.com/meta-tinyrust/meta-tinyrust"
SECTION = "kernel"
LICENSE = "GPL-2.0-only"

KBRANCH ?= "v6.12/standard/tiny/base"
LINUX_KERNEL_TYPE = "tiny"
KCONFIG_MODE = "--allnoconfig"

require recipes-kernel/linux/linux-yocto.inc
# crate:// sources of the Rust staticlib; regenerate with `cargo xtask yocto-crates`.
require linux-tinyrust-crates.inc
inherit cargo_common

LINUX_VERSION ?= "6.12.69"
LIC_FILES_CHKSUM = "file://COPYING;md5=6bc538ed5bd9a7fc9398086aedcd7e46"

DEPENDS += "cargo-native openssl-native rust-native util-linux-native"
DEPENDS += "${@bb.utils.contains('ARCH', 'x86', 'elfutils-native', '', d)}"

KMETA = "kernel-meta"
KCONF_BSP_AUDIT_LEVEL = "2"

# The linux-yocto tiny tree of 6.12.69, as oe-core whinlatter pinned it.
SRCREV_machine ?= "a7fbaf7533ae7ebc35f56c0dfb86970eda4d721c"
SRCREV_meta ?= "5b1ff7df002df6e7069a53b361d9e8f5f9df3aac"
SRCREV_FORMAT = "machine_meta"

PV = "${LINUX_VERSION}+git"

# The same patch series and fragments as the host tool (cargo xtask kernel) uses.
# nooelint: oelint.vars.downloadfilename - the Rust source tarball's name carries its version
SRC_URI = "git://git.yoctoproject.org/linux-yocto.git;branch=${KBRANCH};name=machine;protocol=https \
           git://git.yoctoproject.org/yocto-kernel-cache;type=kmeta;name=meta;branch=yocto-6.12;destsuffix=${KMETA};protocol=https \
           file://0001-net-build-rinet-in-place-of-ipv4.patch \
           file://0002-proc-add-PROC_MIN-for-a-minimal-proc.patch \
           file://0003-net-let-rinet-answer-SIOCGIFCONF.patch \
           file://tiny-base.cfg \
           file://size.cfg \
           file://proc-min.cfg \
           file://net-rinet.cfg \
           ${@' '.join('file://' + f for f in d.getVar('TINYRUST_KERNEL_FRAGMENTS').split())} \
           https://static.rust-lang.org/dist/rustc-${TINYRUST_RUST_VERSION}-src.tar.xz;name=rust;downloadfilename=rustc-${TINYRUST_RUST_VERSION}-src.tar.xz \
"
# core and alloc are built for the kernel's target from the source of the Rust compiler
# the build uses (-Zbuild-std), as the kernel's own Rust support does.
TINYRUST_RUST_VERSION = "1.94.1"
SRC_URI[rust.sha256sum] = "174fce10ce012317ca995810296d8af199318838180b03d68a853e0f02d4b571"

TINYRUST_KERNEL_FRAGMENTS ??= ""

COMPATIBLE_MACHINE = "^(galileo|stm32f429-disco|qemux86-64-tinyrust)$"

# The Rust target and flags per kernel architecture (rinet-kernel/glue/Makefile holds
# the same table for builds outside bitbake; `cargo xtask layer-check` compares them).
TINYRUST_RUST_TARGET = "x86_64-unknown-none"
TINYRUST_RUST_TARGET:galileo = "i586-unknown-linux-gnu"
TINYRUST_RUST_TARGET:stm32f429-disco = "thumbv7em-none-eabi"
TINYRUST_RUSTFLAGS = "-Crelocation-model=static -Zplt=yes"
TINYRUST_RUSTFLAGS:galileo = "-Crelocation-model=static -Zregparm=3 -Zreg-struct-return -Cforce-unwind-tables=no"
TINYRUST_RUSTFLAGS:stm32f429-disco = "-Zunstable-options -Cpanic=immediate-abort"
# The cargo profile: release (opt-level s), or release-z (opt-level z) where flash is short.
TINYRUST_CARGO_PROFILE = "release"
TINYRUST_CARGO_PROFILE:stm32f429-disco = "release-z"

# The glue and the crates come from the repository that holds this layer.
do_configure:prepend() {
    cargo_common_do_configure
    rm -rf ${S}/net/rinet
    mkdir -p ${S}/net/rinet
    cp ${TINYRUST_SRC_DIR}/rinet-kernel/glue/* ${S}/net/rinet/
    rm -rf ${WORKDIR}/rinet-src
    mkdir -p ${WORKDIR}/rinet-src
    cp -r ${TINYRUST_SRC_DIR}/rinet ${TINYRUST_SRC_DIR}/rinet-kernel ${WORKDIR}/rinet-src/
}

# A private sysroot: the compiler's own, plus the library sources -Zbuild-std needs.
# -Ztrim-paths keeps WORKDIR and the sysroot out of the panic locations in the image.
do_compile:prepend() {
    sysroot=${WORKDIR}/rust-kernel-sysroot
    rm -rf $sysroot
    cp -a $(rustc --print sysroot) $sysroot
    mkdir -p $sysroot/lib/rustlib/src/rust
    ln -sfn ${UNPACKDIR}/rustc-${TINYRUST_RUST_VERSION}-src/library $sysroot/lib/rustlib/src/rust/library
    printf '#!/bin/sh\nexec rustc --sysroot %s "$@"\n' "$sysroot" > ${WORKDIR}/rustc-kernel
    chmod +x ${WORKDIR}/rustc-kernel
    RUSTC=${WORKDIR}/rustc-kernel RUSTC_BOOTSTRAP=1 \
        RUSTFLAGS="${TINYRUST_RUSTFLAGS}" \
        cargo build --frozen --profile ${TINYRUST_CARGO_PROFILE} \
        --manifest-path ${WORKDIR}/rinet-src/rinet-kernel/Cargo.toml \
        --target ${TINYRUST_RUST_TARGET} -Zbuild-std=core,alloc -Ztrim-paths \
        --target-dir ${B}/rinet-cargo
}
EXTRA_OEMAKE += "RINET_LIB=${B}/rinet-cargo/${TINYRUST_RUST_TARGET}/${TINYRUST_CARGO_PROFILE}/librinet_kernel.a"
