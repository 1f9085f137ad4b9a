SUMMARY = "SD card for meta-tinyrust machines that boot from one (the Galileo)"
DESCRIPTION = "A wic image of the machine's WKS_FILE: an EFI system partition with the boot loader and the kernel, whose initramfs is bundled in. No root file system: the kernel carries its image."
HOMEPAGE = "https://github.com/meta-tinyrust/meta-tinyrust"
SECTION = "images"
LICENSE = "MIT"

# Nothing is installed: wic takes the boot loader and the kernel from DEPLOY_DIR_IMAGE
# (with INITRAMFS_IMAGE_BUNDLE, the bundled bzImage-initramfs-<machine>.bin).
PACKAGE_INSTALL = ""
IMAGE_FEATURES = ""
IMAGE_LINGUAS = ""
IMAGE_FSTYPES = "wic"

inherit image

# The kernel wic copies is the one do_deploy writes, after the bundling.
do_image_wic[depends] += "virtual/kernel:do_deploy"

# Machines of the SoC families that boot from an SD card through UEFI.
COMPATIBLE_MACHINE = "quark"
