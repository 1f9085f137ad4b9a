/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of rinet's glue share: the stack, its lock, the socket table, and
 * the entry points of the optional parts. af_rinet.c owns all of it; the others
 * (rinet_ioctl.c, rinet_proc.c, rinet_netlink.c) only read it.
 */
#ifndef _NET_RINET_AF_RINET_H
#define _NET_RINET_AF_RINET_H

#include <linux/atomic.h>
#include <linux/init.h>
#include <linux/types.h>
#include <linux/xarray.h>
#include <net/sock.h>

struct rinet_sock {
	struct sock sk;		/* must be first */
	u32 id;
	bool err_mirrored;	/* sk_err holds the stack's pending error */
};

static inline struct rinet_sock *rinet_sk(const struct sock *sk)
{
	return (struct rinet_sock *)sk;
}

extern struct rinet_stack *rinet;
extern struct xarray rinet_socks;	/* socket id -> struct rinet_sock */
extern atomic_long_t rinet_timer_fires;
extern atomic_long_t rinet_rx_batches;
extern atomic_long_t rinet_rx_batch_frames;
extern atomic_long_t rinet_tx_offload_frames;
extern atomic_long_t rinet_tx_offload_segs;

/* Every call into the stack is made between these two (see af_rinet.c). */
void rinet_lock_stack(void);
void rinet_unlock_stack(void);

/* rinet_ioctl.c */
int rinet_dev_ioctl(struct net *net, unsigned int cmd, void __user *argp);
int rinet_dev_addr(const struct net_device *dev, __be32 *addr, u32 *prefix);

/* rinet_proc.c */
void __init rinet_proc_init(void);

/* rinet_netlink.c */
#ifdef CONFIG_RINET_RTNETLINK
void __init rinet_netlink_init(void);
#else
static inline void rinet_netlink_init(void) { }
#endif

#endif /* _NET_RINET_AF_RINET_H */
