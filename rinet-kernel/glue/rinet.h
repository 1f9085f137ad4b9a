/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C ABI of rinet's Rust staticlib (rinet/src/ffi.rs). Every call must be made with
 * rinet_lock held; callbacks run under it and must not sleep. Functions return 0 or a
 * negative errno; buffers are kernel memory. The structs below must have the Rust side's
 * layout: rinet_layout.c checks each size and field offset when the kernel is built.
 */
#ifndef _NET_RINET_RINET_H
#define _NET_RINET_RINET_H

#include <linux/types.h>

struct rinet_stack;

struct rinet_ops {
	void *ctx;
	u64 (*now_us)(void *ctx);
	void (*transmit)(void *ctx, u32 ifindex, const u8 *frame, size_t len);
	/*
	 * A TCP/IPv4 frame whose TCP checksum field holds the pseudo-header sum, for the
	 * device to finish and, if mss is not 0, to cut into mss-byte segments; false if
	 * it cannot. NULL without CONFIG_RINET_OFFLOAD.
	 */
	bool (*transmit_tcp)(void *ctx, u32 ifindex, const u8 *frame, size_t len, u32 mss);
	/*
	 * Lend len bytes to build a frame in (*data set to them), so that it reaches the
	 * device without a copy; NULL if there are none. The frame comes back through
	 * transmit_lent (as transmit, or with tcp as transmit_tcp; false: not taken, the
	 * frame is still rinet's) or free_lent. All three NULL without CONFIG_RINET_OFFLOAD.
	 */
	void *(*lend_frame)(void *ctx, size_t len, u8 **data);
	bool (*transmit_lent)(void *ctx, void *frame, u32 ifindex, bool tcp, u32 mss);
	void (*free_lent)(void *ctx, void *frame);
	void (*wake)(void *ctx, u32 sock, u32 mask);
	void (*error)(void *ctx, u32 sock, int err);	/* pending error now err (0: none) */
	/*
	 * NULL: cancel. By pointer: rustc's -Zregparm=3 passes a u64 argument on the
	 * stack, GCC's -mregparm=3 in edx:ecx (rust-lang/rust#145694).
	 */
	void (*set_timer)(void *ctx, const u64 *at_us);
	u64 seed;
};

struct rinet_config {
	u32 tcp_rx_buf;
	u32 tcp_tx_buf;
	u32 udp_buf;
	u32 max_sockets;
};

/* The SOL_SOCKET options the protocol acts on, as struct sock holds them. */
struct rinet_sock_settings {
	u8 reuseaddr;
	u8 keepalive;
	u8 broadcast;
	u8 linger_on;
	u32 linger_s;
	u32 rcvbuf;	/* sk_rcvbuf: twice the usable size; 0 keeps the current one */
	u32 sndbuf;
	u32 bound_if;
};

struct rinet_sock_info {
	u32 id;
	u8 proto;
	u8 state;
	u16 local_port;
	u8 local[4];
	u8 remote[4];
	u16 remote_port;
	u16 pad;
	u32 tx_queue;
	u32 rx_queue;
};

struct rinet_route_info {
	u32 ifindex;
	u8 dest[4];
	u8 gateway[4];
	u8 mask[4];
	u32 flags;
	u32 metric;
};

struct rinet_neigh_info {
	u32 ifindex;
	u8 ip[4];
	u8 mac[6];
	u16 flags;	/* ATF_COM, ATF_PERM */
};

/* rinet::wire::DROP_REASONS: why the stack dropped a received frame. */
#define RINET_DROP_REASONS 22

/* The stack's own counters (rinet::stats::Mib, #[repr(C)]). */
struct rinet_snmp {
	u64 ip_in_receives, ip_in_hdr_errors, ip_in_delivers, ip_out_requests, ip_reasm_fails;
	u64 icmp_in_msgs, icmp_out_msgs;
	u64 tcp_active_opens, tcp_passive_opens, tcp_attempt_fails, tcp_estab_resets;
	u64 tcp_curr_estab, tcp_in_segs, tcp_out_segs, tcp_retrans_segs, tcp_in_errs;
	u64 tcp_out_rsts;
	u64 udp_in_datagrams, udp_in_errors, udp_out_datagrams;
	u64 rx_drops, tcp_listen_overflows;
	u64 ip_in_addr_errors, ip_out_no_routes;
	u64 syn_queue_evictions;
	u64 tcp_in_csum_errors, udp_no_ports, udp_in_csum_errors;
	u64 icmp_in_errors, icmp_in_csum_errors;
	u64 drops[RINET_DROP_REASONS];	/* by rinet::wire::DropReason */
};

/* Provided by the glue for the Rust side. */
#ifdef CONFIG_X86_32
u64 __udivdi3(u64 n, u64 d);
u64 __umoddi3(u64 n, u64 d);
#endif
#ifdef CONFIG_ARM
void __aeabi_uldivmod(void);
void __aeabi_memcpy(void *dest, const void *src, size_t n);
void __aeabi_memcpy4(void *dest, const void *src, size_t n);
void __aeabi_memcpy8(void *dest, const void *src, size_t n);
void __aeabi_memmove(void *dest, const void *src, size_t n);
void __aeabi_memmove4(void *dest, const void *src, size_t n);
void __aeabi_memmove8(void *dest, const void *src, size_t n);
void __aeabi_memset(void *dest, size_t n, int c);
void __aeabi_memset4(void *dest, size_t n, int c);
void __aeabi_memset8(void *dest, size_t n, int c);
void __aeabi_memclr(void *dest, size_t n);
void __aeabi_memclr4(void *dest, size_t n);
void __aeabi_memclr8(void *dest, size_t n);
#endif
void *rinet_c_alloc(size_t size, size_t align);
void rinet_c_free(void *ptr);
/* What the stack holds from rinet_c_alloc now, in requested bytes. */
size_t rinet_heap_bytes(void);
void rinet_c_panic(const u8 *file, size_t len, u32 line);

struct rinet_stack *rinet_stack_new(const struct rinet_ops *ops,
				    const struct rinet_config *cfg);
int rinet_socket(struct rinet_stack *st, int type, int protocol, u32 *id);
int rinet_bind(struct rinet_stack *st, u32 id, const void *sa, size_t len);
int rinet_connect(struct rinet_stack *st, u32 id, const void *sa, size_t len);
int rinet_listen(struct rinet_stack *st, u32 id, int backlog);
int rinet_accept(struct rinet_stack *st, u32 id, u32 *new_id, void *sa_out);
/* A datagram, whole; a stream socket gets -EOPNOTSUPP (it sends with rinet_send_from). */
ssize_t rinet_send(struct rinet_stack *st, u32 id, const void *buf, size_t len,
		   const void *sa, size_t sa_len);
/*
 * A stream send of up to len bytes that fill copies into the send buffer: fill(ctx,
 * dst, n) writes at most n bytes at dst and returns how many; fewer ends the send.
 */
ssize_t rinet_send_from(struct rinet_stack *st, u32 id, size_t len,
			size_t (*fill)(void *ctx, u8 *dst, size_t n), void *ctx);
ssize_t rinet_recv(struct rinet_stack *st, u32 id, void *buf, size_t len,
		   u32 flags, size_t *full_len, void *sa_out);
ssize_t rinet_consume(struct rinet_stack *st, u32 id, size_t n);
int rinet_shutdown(struct rinet_stack *st, u32 id, int how);
int rinet_close(struct rinet_stack *st, u32 id);
int rinet_getname(struct rinet_stack *st, u32 id, int peer, void *sa_out);
int rinet_setsockopt(struct rinet_stack *st, u32 id, int level, int name,
		     const void *val, size_t len);
int rinet_getsockopt(struct rinet_stack *st, u32 id, int level, int name,
		     void *val, size_t *len);
u32 rinet_poll_mask(struct rinet_stack *st, u32 id);
ssize_t rinet_queue_len(struct rinet_stack *st, u32 id, int which);
int rinet_set_settings(struct rinet_stack *st, u32 id, const struct rinet_sock_settings *set);
int rinet_take_error(struct rinet_stack *st, u32 id);
int rinet_netdev_add(struct rinet_stack *st, u32 ifindex, const u8 *mac, u32 mtu);
int rinet_netdev_change(struct rinet_stack *st, u32 ifindex, const u8 *mac, u32 mtu);
int rinet_netdev_remove(struct rinet_stack *st, u32 ifindex);
int rinet_netdev_set_up(struct rinet_stack *st, u32 ifindex, int up);
void rinet_netdev_rx(struct rinet_stack *st, u32 ifindex, const u8 *frame, size_t len);
/* A frame of a batch: the stack runs at rinet_run, after the batch. */
void rinet_netdev_rx_batched(struct rinet_stack *st, u32 ifindex, const u8 *frame, size_t len);
void rinet_run(struct rinet_stack *st);
void rinet_poll(struct rinet_stack *st);
int rinet_if_set_addr(struct rinet_stack *st, u32 ifindex, const u8 *addr, u32 prefix);
int rinet_if_get_addr(struct rinet_stack *st, u32 ifindex, u8 *addr, u32 *prefix);
int rinet_route(struct rinet_stack *st, int add, const u8 *dest, u32 prefix,
		const u8 *gateway, u32 ifindex, u32 metric);
int rinet_sock_info(struct rinet_stack *st, u32 nth, struct rinet_sock_info *out);
int rinet_route_info(struct rinet_stack *st, u32 nth, struct rinet_route_info *out);
int rinet_neigh_info(struct rinet_stack *st, u32 nth, struct rinet_neigh_info *out);
int rinet_neigh_set(struct rinet_stack *st, u32 ifindex, const u8 *ip, const u8 *mac,
		    u32 permanent);
int rinet_neigh_get(struct rinet_stack *st, u32 ifindex, const u8 *ip,
		    struct rinet_neigh_info *out);
int rinet_neigh_delete(struct rinet_stack *st, u32 ifindex, const u8 *ip);
int rinet_snmp(struct rinet_stack *st, struct rinet_snmp *out);
/* The name of drop reason `reason` (rinet::wire::DropReason), NULL past the last. */
const char *rinet_drop_name(u32 reason);

#endif
