# The tinyrust device's busybox: busybox's allnoconfig with the image's applets
# (tinyrust.cfg), and on machines without an MMU nommu.cfg. The host tool builds and boots
# exactly this configuration on mps2-an386 (xtask/src/nommu_busybox.rs reads these files),
# so the user space that was tested is the one the layers build. Not oe-core's defconfig and
# its fragments: they switch on some 360 options the device has no use for.
FILESEXTRAPATHS:prepend:tinyrust := "${THISDIR}/busybox:"
SRC_URI:append:tinyrust = " file://tinyrust.cfg"
# oe-core's ARMv7-M tunes add the armv7m override, its Cortex-M4/M7 tunes armv7em.
SRC_URI:append:tinyrust:armv7m = " file://nommu.cfg"
SRC_URI:append:tinyrust:armv7em = " file://nommu.cfg"

# tinyrust.cfg, then nommu.cfg where SRC_URI has it
TINYRUST_BUSYBOX_CFGS:tinyrust = "${@' '.join(c for c in find_cfgs(d) if os.path.basename(c) in ('tinyrust.cfg', 'nommu.cfg'))}"

# oe-core's do_configure (with its cross settings and distro-feature lines), from
# allnoconfig instead of oe-core's defconfig, with the tinyrust fragments only.
do_configure:tinyrust () {
    export KCONFIG_NOTIMESTAMP=1
    oe_runmake allnoconfig
    for i in 'CROSS' 'DISTRO FEATURES'; do echo "### $i"; done >>.config
    sed -i -e '${configmangle}' .config
    merge_config.sh -m .config ${TINYRUST_BUSYBOX_CFGS}
    cml1_do_configure
    cp .config .config.orig
    cp include/autoconf.h include/autoconf.h.orig
}
