/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel types rinet.h uses, for the freestanding ABI probe (no kernel headers). */
#ifndef _ABI_PROBE_LINUX_TYPES_H
#define _ABI_PROBE_LINUX_TYPES_H
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long size_t;
typedef long ssize_t;
typedef _Bool bool;
#endif
