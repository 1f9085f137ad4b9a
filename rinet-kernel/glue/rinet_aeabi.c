// SPDX-License-Identifier: GPL-2.0
/*
 * ARM EABI helpers for rinet's Rust object, on the kernel's own routines.
 *
 * LLVM lowers Rust's copies and fills to __aeabi_memcpy*, __aeabi_memmove* and
 * __aeabi_memclr*, and u64 division to __aeabi_uldivmod, none of which the kernel
 * provides. Without these, the Rust archive brings compiler_builtins' own memcpy,
 * memmove, memset and 64-bit division (1.5 KB of flash). This object is linked into
 * rinet_rust.o ahead of the archive, so those are never pulled in. They call the
 * kernel's __memcpy, __memmove and __memset: the archive also defines (hidden, weak)
 * memcpy, memmove and memset, which would win inside that link.
 */
#include <linux/math64.h>
#include <linux/string.h>
#include "rinet.h"

/*
 * The quotient in r0:r1 and the remainder in r2:r3, which C cannot return. The Rust
 * callers never divide by zero (Rust checks first).
 */
void __naked __aeabi_uldivmod(void)
{
	asm volatile("	push	{r4, lr}\n"
		     "	sub	sp, sp, #16\n"	/* [sp]: &rem; [sp + 8]: rem */
		     "	add	r4, sp, #8\n"
		     "	str	r4, [sp]\n"
		     "	bl	div64_u64_rem\n"
		     "	ldrd	r2, r3, [sp, #8]\n"
		     "	add	sp, sp, #16\n"
		     "	pop	{r4, pc}\n");
}

void __aeabi_memcpy(void *dest, const void *src, size_t n)
{
	__memcpy(dest, src, n);
}

void __aeabi_memcpy4(void *dest, const void *src, size_t n)
{
	__memcpy(dest, src, n);
}

void __aeabi_memcpy8(void *dest, const void *src, size_t n)
{
	__memcpy(dest, src, n);
}

void __aeabi_memmove(void *dest, const void *src, size_t n)
{
	__memmove(dest, src, n);
}

void __aeabi_memmove4(void *dest, const void *src, size_t n)
{
	__memmove(dest, src, n);
}

void __aeabi_memmove8(void *dest, const void *src, size_t n)
{
	__memmove(dest, src, n);
}

/* The EABI's memset takes the length before the value. */
void __aeabi_memset(void *dest, size_t n, int c)
{
	__memset(dest, c, n);
}

void __aeabi_memset4(void *dest, size_t n, int c)
{
	__memset(dest, c, n);
}

void __aeabi_memset8(void *dest, size_t n, int c)
{
	__memset(dest, c, n);
}

void __aeabi_memclr(void *dest, size_t n)
{
	__memset(dest, 0, n);
}

void __aeabi_memclr4(void *dest, size_t n)
{
	__memset(dest, 0, n);
}

void __aeabi_memclr8(void *dest, size_t n)
{
	__memset(dest, 0, n);
}
