#!/bin/sh
# Flash the STM32F429 discovery board over its ST-LINK with openocd: afboot-stm32, the
# device tree and the XIP kernel (with its initramfs bundled: @KERNEL_IMAGE@) at the
# board's flash addresses.
# Usage: flash-stm32f429-disco.sh [DEPLOY_DIR_IMAGE]   (default: the script's directory)
set -eu
dir=${1:-$(dirname "$0")}
board=${OPENOCD_BOARD:-board/stm32f429discovery.cfg}
for f in afboot-stm32f429i-disco.bin stm32f429-disco.dtb @KERNEL_IMAGE@; do
	[ -r "$dir/$f" ] || { echo "missing $dir/$f" >&2; exit 1; }
done
# The kernel slot ends at the end of the 2 MiB flash.
max=$((@FLASH_END@ - @KERNEL_ADDR@))
size=$(wc -c < "$dir/@KERNEL_IMAGE@")
if [ "$size" -gt "$max" ]; then
	echo "@KERNEL_IMAGE@ is $size bytes; the flash has room for $max" >&2
	exit 1
fi
exec openocd -f "$board" \
	-c "init" -c "reset init" -c "flash probe 0" \
	-c "flash write_image erase $dir/afboot-stm32f429i-disco.bin @AFBOOT_ADDR@" \
	-c "flash write_image erase $dir/stm32f429-disco.dtb @DTB_ADDR@" \
	-c "flash write_image erase $dir/@KERNEL_IMAGE@ @KERNEL_ADDR@" \
	-c "reset run" -c "shutdown"
