/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One unwind index entry for all of the Rust code in rinet_rust.o.
 *
 * The Rust code never unwinds (panic=immediate-abort: every function is nounwind), so
 * rustc gives each of its ~320 functions an EXIDX_CANTUNWIND entry of 8 bytes, and the
 * kernel's link keeps them all. rinet.lds drops them and places this entry in front of
 * the Rust code instead: an index entry covers everything up to the next one, so the
 * unwinder still stops at the first Rust frame, as it did with the per-function entries.
 */
#include <linux/linkage.h>
#include <asm/unwind.h>

	.section .text.rinet_rust_begin, "ax", %progbits
ENTRY(rinet_rust_begin)
UNWIND(	.fnstart	)
UNWIND(	.cantunwind	)
UNWIND(	.fnend		)
ENDPROC(rinet_rust_begin)
