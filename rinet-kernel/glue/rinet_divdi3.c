// SPDX-License-Identifier: GPL-2.0
/*
 * 64-bit division helpers for rinet's Rust object on i386.
 *
 * With -Zregparm=3, LLVM calls __udivdi3 and __umoddi3 with the kernel's regparm(3)
 * convention, but the compiler_builtins copies linked with the object take their
 * arguments on the stack (rust-lang/rust#145271): every u64 division would divide
 * garbage. These strong definitions, built by the kernel's compiler with the kernel's
 * flags, replace those weak ones. The Rust callers never divide by zero (Rust checks).
 */
#include <linux/math64.h>
#include "rinet.h"

u64 __udivdi3(u64 n, u64 d)
{
	return div64_u64(n, d);
}

u64 __umoddi3(u64 n, u64 d)
{
	u64 rem;

	div64_u64_rem(n, d, &rem);
	return rem;
}
