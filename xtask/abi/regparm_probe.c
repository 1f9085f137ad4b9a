// SPDX-License-Identifier: GPL-2.0
/*
 * Proof that rinet's Rust object speaks the i386 kernel's calling convention.
 *
 * The Galileo kernel is built with -mregparm=3 -freg-struct-return: the first three
 * integer arguments travel in eax, edx and ecx, not on the stack. This program is built
 * the same way, freestanding like the kernel (its own _start, syscalls, mem* and
 * allocator), and linked with the very rinet_rust.o that went into the Galileo vmlinux.
 * It drives the stack through its C ABI (calls of up to seven arguments, 64-bit results,
 * callbacks from Rust into C, pointer outputs) and checks every result. No call takes a
 * 64-bit argument by value (see galileo-ffi-has-no-64-bit-arguments in abi.rs).
 * Rust's own calls to memcpy/memset/memmove/bcmp land in the regparm versions below
 * (memcmp, which rustc calls with stack arguments, must not be called at all: abi.rs),
 * and its 64-bit divisions in the object's own rinet_divdi3.c, which calls div64_u64 and
 * div64_u64_rem below, as in the kernel.
 * Built without -mregparm=3 it must fail: the test can tell a wrong convention.
 */
#include "rinet.h"

#define MAC_PEER 0x02, 0x00, 0x00, 0x00, 0x00, 0x01
#define MAC_OURS 0x02, 0x00, 0x00, 0x00, 0x00, 0x02
#define CTX_MAGIC ((void *)0x5a5a1234)

static long sys3(long nr, long a, long b, long c)
{
	long r;

	asm volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return r;
}

static void say(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	sys3(4, 1, (long)s, (long)n);
}

/* ---- what the kernel provides to rinet: mem*, the allocator, the panic hook ---- */

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;

	if (dp < sp) {
		while (n--)
			*dp++ = *sp++;
	} else {
		while (n--)
			dp[n] = sp[n];
	}
	return d;
}

void *memset(void *d, int c, size_t n)
{
	u8 *dp = d;

	while (n--)
		*dp++ = (u8)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

int bcmp(const void *a, const void *b, size_t n)
{
	return memcmp(a, b, n);
}

/*
 * The kernel's 64-bit division (lib/math/div64.c), which rinet_divdi3.c calls, by shift
 * and subtract: a plain u64 division here would itself call __udivdi3.
 */
static u64 udivmod64(u64 n, u64 d, u64 *rem)
{
	u64 q = 0;
	int i;

	for (i = 63; i >= 0; i--) {
		if ((n >> i) >= d) {
			n -= d << i;
			q |= 1ULL << i;
		}
	}
	*rem = n;
	return q;
}

u64 div64_u64_rem(u64 n, u64 d, u64 *rem)
{
	return udivmod64(n, d, rem);
}

u64 div64_u64(u64 n, u64 d)
{
	u64 r;

	return udivmod64(n, d, &r);
}

static u8 arena[8 << 20] __attribute__((aligned(64)));
static size_t arena_used;

void *rinet_c_alloc(size_t size, size_t align)
{
	size_t at = (arena_used + align - 1) & ~(align - 1);

	if (at + size > sizeof(arena))
		return 0;
	arena_used = at + size;
	return arena + at;
}

void rinet_c_free(void *ptr)
{
}

void rinet_c_panic(const u8 *file, size_t len, u32 line)
{
	say("ABI-PROBE FAIL rust panic\n");
	sys3(1, 3, 0, 0);
}

/* ---- the platform callbacks Rust calls ---- */

static u64 clock_us = 0x100000000ULL;	/* above 2^32: both halves of a u64 matter */
static u8 last_frame[1600];
static size_t last_len;
static u32 last_ifindex, transmits, bad_ctx;
static u64 timer_at;

static u64 cb_now(void *ctx)
{
	bad_ctx |= ctx != CTX_MAGIC;
	return clock_us;
}

static u32 fills;

static size_t cb_fill(void *ctx, u8 *dst, size_t n)
{
	fills++;
	return 0;
}

static void cb_transmit(void *ctx, u32 ifindex, const u8 *frame, size_t len)
{
	bad_ctx |= ctx != CTX_MAGIC;
	last_ifindex = ifindex;
	last_len = len < sizeof(last_frame) ? len : sizeof(last_frame);
	memcpy(last_frame, frame, last_len);
	transmits++;
}

static void cb_wake(void *ctx, u32 sock, u32 mask)
{
	bad_ctx |= ctx != CTX_MAGIC;
}

static void cb_error(void *ctx, u32 sock, int err)
{
	bad_ctx |= ctx != CTX_MAGIC;
}

static void cb_set_timer(void *ctx, const u64 *at_us)
{
	bad_ctx |= ctx != CTX_MAGIC;
	timer_at = at_us ? *at_us : 0;
}

struct sin {
	u16 family;
	u8 port[2];
	u8 addr[4];
	u8 zero[8];
};

static const u8 arp_request[42] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, MAC_PEER, 0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
	MAC_PEER, 10, 0, 0, 1,
	0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
};

static u8 udp_frame[60] = {
	MAC_OURS, MAC_PEER, 0x08, 0x00,
	0x45, 0x00, 0x00, 35, 0x00, 0x00, 0x00, 0x00, 64, 17, 0x00, 0x00,
	10, 0, 0, 1, 10, 0, 0, 2,
	0x13, 0x88, 0x00, 0x07, 0x00, 15, 0x00, 0x00,
	'r', 'e', 'g', 'p', 'a', 'r', 'm',
};

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		say("ABI-PROBE FAIL ");
		say(what);
		say("\n");
		failures++;
	}
}

static int probe(void)
{
	struct rinet_ops ops = {
		.ctx = CTX_MAGIC, .now_us = cb_now, .transmit = cb_transmit,
		.wake = cb_wake, .error = cb_error, .set_timer = cb_set_timer,
		.seed = 0x0123456789abcdefULL,
	};
	struct rinet_config cfg = {
		.tcp_rx_buf = 4096, .tcp_tx_buf = 4096, .udp_buf = 4096, .max_sockets = 8,
	};
	static const u8 mac[6] = { MAC_OURS };
	static const u8 ip[4] = { 10, 0, 0, 2 };
	struct sin bind_to = { 2, { 0, 7 }, { 10, 0, 0, 2 } }, from = { 0 };
	u8 got_ip[4] = { 0 }, buf[64];
	u32 prefix = 0, id = 99, sum = 0, val = 0, i;
	size_t full = 0, vlen = sizeof(val);
	struct rinet_stack *st;
	ssize_t n;

	st = rinet_stack_new(&ops, &cfg);
	check(st != 0, "rinet_stack_new");
	if (!st)
		return 1;
	check(rinet_netdev_add(st, 2, mac, 1500) == 0, "netdev_add (4 args)");
	check(rinet_netdev_set_up(st, 2, 1) == 0, "netdev_set_up");
	check(rinet_if_set_addr(st, 2, ip, 24) == 0, "if_set_addr");
	check(rinet_if_get_addr(st, 2, got_ip, &prefix) == 0 && prefix == 24 &&
	      memcmp(got_ip, ip, 4) == 0, "if_get_addr round trip");
	check(rinet_socket(st, 2, 0, &id) == 0 && id != 99, "socket (pointer output)");
	check(rinet_bind(st, id, &bind_to, sizeof(bind_to)) == 0, "bind");

	/* An ARP request in, a reply out through the transmit callback. */
	transmits = 0;
	clock_us += 1000;
	rinet_netdev_rx(st, 2, arp_request, sizeof(arp_request));
	check(transmits == 1 && last_ifindex == 2 && last_len >= 42, "ARP reply transmitted");
	check(last_frame[12] == 0x08 && last_frame[13] == 0x06 && last_frame[21] == 2 &&
	      memcmp(last_frame + 28, ip, 4) == 0, "ARP reply contents");

	/* A UDP datagram in (IP header checksum computed here), read with 7 arguments. */
	for (i = 14; i < 34; i += 2)
		sum += (udp_frame[i] << 8) | udp_frame[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~(sum + (sum >> 16)) & 0xffff;
	udp_frame[24] = sum >> 8;
	udp_frame[25] = sum & 0xff;
	rinet_netdev_rx(st, 2, udp_frame, sizeof(udp_frame));
	check(rinet_poll_mask(st, id) & 1, "poll mask readable");
	n = rinet_recv(st, id, buf, sizeof(buf), 0, &full, &from);
	check(n == 7 && full == 7 && memcmp(buf, "regparm", 7) == 0, "recv (7 args)");
	check(from.family == 2 && from.port[0] == 0x13 && from.port[1] == 0x88 &&
	      from.addr[0] == 10 && from.addr[3] == 1, "recv source address");

	/* A reply out with 6 arguments, to the neighbour learnt from the ARP request. */
	transmits = 0;
	n = rinet_send(st, id, "pong", 4, &from, sizeof(from));
	check(n == 4, "send (6 args)");
	check(transmits == 1 && last_len >= 46 && last_frame[23] == 17 &&
	      memcmp(last_frame + 42, "pong", 4) == 0, "UDP datagram transmitted");
	/* IP_TTL: 64 */
	check(rinet_getsockopt(st, id, 0, 2, &val, &vlen) == 0 && val == 64 && vlen == 4,
	      "getsockopt IP_TTL (6 args)");
	check(rinet_close(st, id) == 0, "close");

	/* A TCP connect: a SYN out, and the retransmission timer armed (a u64, by pointer). */
	transmits = 0;
	timer_at = 0;
	check(rinet_socket(st, 1, 0, &id) == 0, "socket (stream)");
	check(rinet_connect(st, id, &from, sizeof(from)) == -115, "connect: EINPROGRESS");
	check(transmits == 1 && last_frame[23] == 6 && (last_frame[47] & 0x02),
	      "SYN transmitted");
	check((timer_at >> 32) == 1 && timer_at > clock_us &&
	      timer_at - clock_us <= 5000000ULL, "64-bit timer argument");
	/* A stream send through a fill callback (5 args): not connected yet, EAGAIN. */
	check(rinet_send_from(st, id, 4, cb_fill, CTX_MAGIC) == -11 && !fills,
	      "send_from on a connecting stream: EAGAIN (5 args)");
	check(!bad_ctx, "callback context pointer");
	if (!failures)
		say("ABI-PROBE PASS\n");
	return failures ? 1 : 0;
}

void _start(void)
{
	sys3(1, probe(), 0, 0);
	for (;;)
		;
}
