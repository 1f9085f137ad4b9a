#!/bin/sh
# Flash an STM32F4 board over its ST-LINK with openocd: afboot-stm32, the device tree and
# the XIP kernel (with its initramfs bundled: @KERNEL_IMAGE@) at the machine's flash
# addresses. Written for @MACHINE@ by the tinyrust-flash recipe.
# Usage: flash-@MACHINE@.sh [DEPLOY_DIR_IMAGE]   (default: the script's directory)
set -eu
dir=${1:-$(dirname "$0")}
board=${OPENOCD_BOARD:-@OPENOCD_BOARD@}
for f in @AFBOOT_IMAGE@ @DTB@ @KERNEL_IMAGE@; do
	[ -r "$dir/$f" ] || { echo "missing $dir/$f" >&2; exit 1; }
done
# The kernel's slot runs from its address to the end of the flash.
max=$((@FLASH_END@ - @KERNEL_ADDR@))
size=$(wc -c < "$dir/@KERNEL_IMAGE@")
if [ "$size" -gt "$max" ]; then
	echo "@KERNEL_IMAGE@ is $size bytes; the flash has room for $max" >&2
	exit 1
fi
exec openocd -f "$board" \
	-c "init" -c "reset init" -c "flash probe 0" \
	-c "flash write_image erase $dir/@AFBOOT_IMAGE@ @AFBOOT_ADDR@" \
	-c "flash write_image erase $dir/@DTB@ @DTB_ADDR@" \
	-c "flash write_image erase $dir/@KERNEL_IMAGE@ @KERNEL_ADDR@" \
	-c "reset run" -c "shutdown"
