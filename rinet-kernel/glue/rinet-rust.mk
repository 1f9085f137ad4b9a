# SPDX-License-Identifier: GPL-2.0
#
# The Rust target, rustc flags and cargo profile of rinet for each kernel architecture.
# This table is the only one: the kernel build (Makefile beside it), the size report and
# the Yocto recipe all take the target and flags from here, through the kernel's own
# CONFIG_ symbols. `make -f rinet-rust.mk CONFIG_X86_64=y rinet-print-target` prints a row.

# The cargo profile: "release" (opt-level s) or "release-z" (opt-level z).
rinet_profile := release
ifeq ($(CONFIG_X86_64),y)
# No GOT: the kernel link asserts an empty one.
rinet_target := x86_64-unknown-none
rinet_rustflags := -Crelocation-model=static -Zplt=yes
else ifeq ($(CONFIG_X86_32),y)
# The kernel's -mregparm=3 -freg-struct-return calling convention, no unwind tables.
rinet_target := i586-unknown-linux-gnu
rinet_rustflags := -Crelocation-model=static -Zregparm=3 -Zreg-struct-return -Cforce-unwind-tables=no
else ifeq ($(CONFIG_CPU_V7M),y)
# Flash is the limit on these boards: opt-level z, and a panic is a trap instruction in
# place (no panic arguments at each bounds check, no panic path: 4.4 KB). The trap ends in
# the kernel's fault handler, which prints the registers (PC names the function) and
# stops, as panic() does without panic_timeout.
rinet_target := thumbv7em-none-eabi
rinet_rustflags := -Zunstable-options -Cpanic=immediate-abort
rinet_profile := release-z
else
$(error rinet: no Rust target for this kernel architecture; add one to rinet-rust.mk)
endif

# The crate features of the optional parts (rinet-kernel/Cargo.toml), from Kconfig.
rinet_features-$(CONFIG_RINET_RAW) += raw
rinet_features-$(CONFIG_RINET_OFFLOAD) += offload
rinet_features-$(CONFIG_RINET_IDLE_PARKING) += park
rinet_cargo_features := $(if $(rinet_features-y),--features "$(rinet_features-y)")

.PHONY: rinet-print-target
rinet-print-target:
	@echo '$(rinet_target)|$(rinet_rustflags)|$(rinet_profile)'
