// SPDX-License-Identifier: GPL-2.0
/*
 * rinet: AF_INET sockets for a kernel built without INET.
 *
 * This is the thin glue between the kernel and rinet, a TCP/IP stack in Rust: the
 * socket family and its proto_ops, frame reception (dev_add_pack) and transmission
 * (dev_queue_xmit), the netdevice notifier, the stack timer and the one lock that
 * covers all of it. The interface ioctls, /proc/net and rtnetlink are in files of their
 * own (rinet_ioctl.c, rinet_proc.c, rinet_netlink.c). All protocol logic is on the
 * Rust side, behind the C ABI in rinet.h.
 *
 * Locking: rinet_lock (a BH-disabling spinlock) is held around every call into Rust,
 * from process context (socket calls), softirq (frame reception, the timer) alike.
 * Nothing sleeps under it: frames to send are queued under the lock and handed to
 * dev_queue_xmit() after it is released; user memory is copied before or after.
 */

#include <linux/capability.h>
#include <linux/hrtimer.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/init.h>
#include <linux/in.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <linux/xarray.h>
#include <asm/ioctls.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp_states.h>

#include "af_rinet.h"
#include "rinet.h"

/* Largest chunk copied through the bounce buffer per call into the stack. */
#define RINET_CHUNK	(16 * 1024)
#define RINET_MSG_PEEK	0x02

static DEFINE_SPINLOCK(rinet_lock);
struct rinet_stack *rinet;
static struct sk_buff_head rinet_txq;	/* frames queued under the lock */
static struct hrtimer rinet_timer;
DEFINE_XARRAY(rinet_socks);	/* socket id -> struct rinet_sock */
atomic_long_t rinet_timer_fires = ATOMIC_LONG_INIT(0);
/* Lists of received frames (a NAPI poll's) and the frames in them, for /proc/net/snmp. */
atomic_long_t rinet_rx_batches = ATOMIC_LONG_INIT(0);
atomic_long_t rinet_rx_batch_frames = ATOMIC_LONG_INIT(0);
/* TCP frames handed to devices to segment (TSO), and the segments they carried. */
atomic_long_t rinet_tx_offload_frames = ATOMIC_LONG_INIT(0);
atomic_long_t rinet_tx_offload_segs = ATOMIC_LONG_INIT(0);
static u32 rinet_tcp_buf_bytes;	/* per connection and direction */

static u32 rinet_id(const struct socket *sock)
{
	return rinet_sk(sock->sk)->id;
}

void rinet_lock_stack(void)
{
	spin_lock_bh(&rinet_lock);
}

/* Drop the lock, then transmit what the stack queued while it was held. */
void rinet_unlock_stack(void)
{
	struct sk_buff_head q;
	struct sk_buff *skb;

	__skb_queue_head_init(&q);
	skb_queue_splice_init(&rinet_txq, &q);
	spin_unlock_bh(&rinet_lock);
	while ((skb = __skb_dequeue(&q))) {
		struct net_device *dev = skb->dev;

		dev_queue_xmit(skb);
		dev_put(dev);
	}
}

/* ---- what the Rust side calls ---- */

void *rinet_c_alloc(size_t size, size_t align)
{
	/* kmalloc aligns power-of-two sizes to their size. */
	if (align > ARCH_KMALLOC_MINALIGN)
		size = roundup_pow_of_two(max(size, align));
	return kmalloc(size, GFP_ATOMIC | __GFP_NOWARN);
}

void rinet_c_free(void *ptr)
{
	kfree(ptr);
}

void rinet_c_panic(const u8 *file, size_t len, u32 line)
{
	/*
	 * panic() dumps the stack only with DEBUG_BUGVERBOSE, and on ARMv7-M the
	 * location is redacted to save flash: the stack is what finds the bug.
	 */
	dump_stack();
	panic("rinet: Rust panic at %.*s:%u\n", (int)len, file, line);
}

static u64 rinet_cb_now(void *ctx)
{
	return div_u64(ktime_get_ns(), NSEC_PER_USEC);
}

static void rinet_cb_transmit(void *ctx, u32 ifindex, const u8 *frame, size_t len)
{
	struct net_device *dev;
	struct sk_buff *skb;

	rcu_read_lock();
	dev = dev_get_by_index_rcu(&init_net, ifindex);
	if (!dev || !netif_running(dev) || len < ETH_HLEN)
		goto out;
	skb = netdev_alloc_skb(dev, len);
	if (!skb) {
		dev_core_stats_tx_dropped_inc(dev);
		goto out;
	}
	skb_put_data(skb, frame, len);
	skb_reset_mac_header(skb);
	skb->protocol = eth_hdr(skb)->h_proto;
	skb_set_network_header(skb, ETH_HLEN);
	dev_hold(dev);
	__skb_queue_tail(&rinet_txq, skb);
out:
	rcu_read_unlock();
}

#ifdef CONFIG_RINET_OFFLOAD
/*
 * Queue a frame rinet built for @dev. With @tcp it is a TCP segment whose checksum field
 * holds the pseudo-header sum (CHECKSUM_PARTIAL, which net/core finishes in software for
 * a device without checksum offload) and, with @mss, it is to be cut into @mss-byte
 * segments (TSO).
 */
static void rinet_queue_frame(struct sk_buff *skb, struct net_device *dev, bool tcp,
			      u32 mss)
{
	skb->dev = dev;
	skb->protocol = htons(ETH_P_IP);
	skb_reset_mac_header(skb);
	skb_set_network_header(skb, ETH_HLEN);
	if (tcp) {
		unsigned int thoff = ETH_HLEN + (skb->data[ETH_HLEN] & 0x0f) * 4;

		skb_set_transport_header(skb, thoff);
		skb->ip_summed = CHECKSUM_PARTIAL;
		skb->csum_start = skb_transport_header(skb) - skb->head;
		skb->csum_offset = offsetof(struct tcphdr, check);
	}
	if (tcp && mss) {
		unsigned int hdr = skb_transport_offset(skb) + tcp_hdrlen(skb);

		skb_shinfo(skb)->gso_size = mss;
		skb_shinfo(skb)->gso_type = SKB_GSO_TCPV4;
		skb_shinfo(skb)->gso_segs = DIV_ROUND_UP(skb->len - hdr, mss);
		atomic_long_inc(&rinet_tx_offload_frames);
		atomic_long_add(skb_shinfo(skb)->gso_segs, &rinet_tx_offload_segs);
	}
	dev_hold(dev);
	__skb_queue_tail(&rinet_txq, skb);
}

/*
 * Whether @dev takes a frame of @len bytes to be cut into @mss-byte segments. Without
 * INET there is no software GSO for TCP: if the device cannot, rinet cuts it itself.
 */
static bool rinet_dev_segments(struct net_device *dev, size_t len, u32 mss)
{
	return !mss || ((dev->features & NETIF_F_TSO) && len < READ_ONCE(dev->gso_max_size));
}

/*
 * A TCP segment rinet left for the device (see rinet_queue_frame); false if the device
 * cannot take it, or the pages for the frame are not there. The payload goes into page
 * fragments, so that a 64 KiB frame needs no high-order allocation.
 */
static bool rinet_cb_transmit_tcp(void *ctx, u32 ifindex, const u8 *frame, size_t len,
				  u32 mss)
{
	unsigned int thoff = ETH_HLEN + (frame[ETH_HLEN] & 0x0f) * 4;
	unsigned int hdr = thoff + (frame[thoff + 12] >> 4) * 4;
	struct net_device *dev;
	struct sk_buff *skb;
	bool taken = true;
	int err;

	rcu_read_lock();
	dev = dev_get_by_index_rcu(&init_net, ifindex);
	if (!dev || !netif_running(dev))
		goto out;	/* dropped, as rinet_cb_transmit drops it */
	if (!rinet_dev_segments(dev, len, mss)) {
		taken = false;
		goto out;
	}
	skb = alloc_skb_with_frags(NET_SKB_PAD + hdr, len - hdr, 0, &err,
				   GFP_ATOMIC | __GFP_NOWARN);
	if (!skb) {
		taken = false;
		goto out;
	}
	skb_reserve(skb, NET_SKB_PAD);
	skb_put(skb, hdr);
	skb->data_len = len - hdr;
	skb->len = len;
	skb_store_bits(skb, 0, frame, len);
	rinet_queue_frame(skb, dev, true, mss);
out:
	rcu_read_unlock();
	return taken;
}

/*
 * A linear skb for rinet to build a frame in, so that the frame reaches the device
 * without a copy. Only for this: an order-4 page block for the 64 KiB TSO frames, which
 * GFP_ATOMIC may not find; rinet then builds the frame in its own buffer.
 */
static void *rinet_cb_lend_frame(void *ctx, size_t len, u8 **data)
{
	struct sk_buff *skb = alloc_skb(NET_SKB_PAD + len, GFP_ATOMIC | __GFP_NOWARN);

	if (!skb)
		return NULL;
	skb_reserve(skb, NET_SKB_PAD);
	*data = skb_put(skb, len);
	return skb;
}

static bool rinet_cb_transmit_lent(void *ctx, void *frame, u32 ifindex, bool tcp, u32 mss)
{
	struct sk_buff *skb = frame;
	struct net_device *dev;
	bool taken = true;

	rcu_read_lock();
	dev = dev_get_by_index_rcu(&init_net, ifindex);
	if (!dev || !netif_running(dev))
		kfree_skb(skb);	/* dropped, as rinet_cb_transmit drops it */
	else if (tcp && !rinet_dev_segments(dev, skb->len, mss))
		taken = false;
	else
		rinet_queue_frame(skb, dev, tcp, mss);
	rcu_read_unlock();
	return taken;
}

static void rinet_cb_free_lent(void *ctx, void *frame)
{
	consume_skb(frame);
}
#endif

static void rinet_cb_wake(void *ctx, u32 id, u32 mask)
{
	struct rinet_sock *rs = xa_load(&rinet_socks, id);
	struct socket_wq *wq;

	if (!rs)
		return;
	rcu_read_lock();
	wq = rcu_dereference(rs->sk.sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, mask);
	rcu_read_unlock();
}

/*
 * The socket's pending error changed: net/core's getsockopt(SO_ERROR) reads it from
 * sk_err, as it does for Linux's own protocols.
 */
static void rinet_cb_error(void *ctx, u32 id, int err)
{
	struct rinet_sock *rs = xa_load(&rinet_socks, id);

	if (!rs)
		return;
	rs->err_mirrored = err != 0;
	WRITE_ONCE(rs->sk.sk_err, err);
}

static void rinet_cb_set_timer(void *ctx, const u64 *at_us)
{
	if (!at_us)
		hrtimer_try_to_cancel(&rinet_timer);
	else
		hrtimer_start(&rinet_timer, ns_to_ktime(*at_us * NSEC_PER_USEC),
			      HRTIMER_MODE_ABS_SOFT);
}

static enum hrtimer_restart rinet_timer_fn(struct hrtimer *t)
{
	atomic_long_inc(&rinet_timer_fires);
	rinet_lock_stack();
	rinet_poll(rinet);
	rinet_unlock_stack();
	return HRTIMER_NORESTART;
}

/* ---- frames in ---- */

/* An Ethernet frame for this host, in one piece; else the frame is freed. */
static bool rinet_frame_usable(struct sk_buff *skb)
{
	if (skb->pkt_type == PACKET_OTHERHOST ||
	    skb->data - skb_mac_header(skb) != ETH_HLEN || skb_linearize(skb)) {
		kfree_skb(skb);
		return false;
	}
	return true;
}

static int rinet_rcv(struct sk_buff *skb, struct net_device *dev,
		     struct packet_type *pt, struct net_device *orig_dev)
{
	if (!rinet_frame_usable(skb))
		return NET_RX_DROP;
	rinet_lock_stack();
	rinet_netdev_rx(rinet, dev->ifindex, skb_mac_header(skb), skb->len + ETH_HLEN);
	rinet_unlock_stack();
	consume_skb(skb);
	return NET_RX_SUCCESS;
}

/*
 * The frames a NAPI poll received together (netif_receive_skb_list: up to
 * gro_normal_batch of them from drivers that use GRO, as e1000 does): the stack
 * takes them all in, then runs once, so that one acknowledgment covers the batch.
 */
static void rinet_rcv_list(struct list_head *head, struct packet_type *pt,
			   struct net_device *orig_dev)
{
	struct sk_buff *skb, *next;

	atomic_long_inc(&rinet_rx_batches);
	rinet_lock_stack();
	list_for_each_entry_safe(skb, next, head, list) {
		atomic_long_inc(&rinet_rx_batch_frames);
		skb_list_del_init(skb);
		if (!rinet_frame_usable(skb))
			continue;
		rinet_netdev_rx_batched(rinet, skb->dev->ifindex, skb_mac_header(skb),
					skb->len + ETH_HLEN);
		consume_skb(skb);
	}
	rinet_run(rinet);
	rinet_unlock_stack();
}

static struct packet_type rinet_ip_packet __read_mostly = {
	.type = cpu_to_be16(ETH_P_IP),
	.func = rinet_rcv,
	.list_func = rinet_rcv_list,
};

static struct packet_type rinet_arp_packet __read_mostly = {
	.type = cpu_to_be16(ETH_P_ARP),
	.func = rinet_rcv,
	.list_func = rinet_rcv_list,
};

static int rinet_netdev_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	if (!net_eq(dev_net(dev), &init_net) || dev->type != ARPHRD_ETHER)
		return NOTIFY_DONE;
	rinet_lock_stack();
	switch (event) {
	case NETDEV_REGISTER:
		rinet_netdev_add(rinet, dev->ifindex, dev->dev_addr, dev->mtu);
		break;
	case NETDEV_UP:
		/* Some drivers (smsc911x) set the address only after registering. */
		rinet_netdev_change(rinet, dev->ifindex, dev->dev_addr, dev->mtu);
		rinet_netdev_set_up(rinet, dev->ifindex, 1);
		break;
	case NETDEV_CHANGEADDR:
	case NETDEV_CHANGEMTU:
		rinet_netdev_change(rinet, dev->ifindex, dev->dev_addr, dev->mtu);
		break;
	case NETDEV_DOWN:
		rinet_netdev_set_up(rinet, dev->ifindex, 0);
		break;
	case NETDEV_UNREGISTER:
		rinet_netdev_remove(rinet, dev->ifindex);
		break;
	}
	rinet_unlock_stack();
	return NOTIFY_DONE;
}

static struct notifier_block rinet_netdev_notifier = {
	.notifier_call = rinet_netdev_event,
};

/* ---- sockets ---- */

static struct proto rinet_proto = {
	.name = "RINET",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct rinet_sock),
};

/*
 * Lock the stack for a call on @sk. If getsockopt(SO_ERROR) took the pending error
 * from sk_err since the stack mirrored it there, the stack drops its copy first, so
 * that the error is reported once, as on Linux.
 */
static void rinet_lock_sock(struct sock *sk)
{
	struct rinet_sock *rs = rinet_sk(sk);

	rinet_lock_stack();
	if (rs->err_mirrored && !READ_ONCE(sk->sk_err))
		rinet_take_error(rinet, rs->id);
}

/* Hand the stack the SOL_SOCKET options it acts on; net/core keeps them in the sock. */
static int rinet_push_settings(struct sock *sk)
{
	struct rinet_sock_settings set = {
		.reuseaddr = sk->sk_reuse != SK_NO_REUSE,
		.keepalive = sock_flag(sk, SOCK_KEEPOPEN),
		.broadcast = sock_flag(sk, SOCK_BROADCAST),
		.linger_on = sock_flag(sk, SOCK_LINGER),
		.linger_s = min_t(unsigned long, READ_ONCE(sk->sk_lingertime) / HZ, U32_MAX),
		.rcvbuf = READ_ONCE(sk->sk_rcvbuf),
		.sndbuf = READ_ONCE(sk->sk_sndbuf),
		.bound_if = READ_ONCE(sk->sk_bound_dev_if),
	};
	int err;

	rinet_lock_stack();
	err = rinet_set_settings(rinet, rinet_sk(sk)->id, &set);
	rinet_unlock_stack();
	return err;
}

/*
 * Sleep until the socket's poll mask shows one of @want (or an error or hang-up), a
 * signal arrives or *@timeo runs out. The stack's wake callback ends the sleep.
 */
static int rinet_wait(struct sock *sk, u32 want, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	u32 id = rinet_sk(sk)->id;
	int err = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		u32 mask;

		rinet_lock_sock(sk);
		mask = rinet_poll_mask(rinet, id);
		rinet_unlock_stack();
		if (mask & (want | EPOLLERR | EPOLLHUP | EPOLLNVAL))
			break;
		if (!*timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(*timeo);
			break;
		}
		*timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, *timeo);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

static const struct proto_ops rinet_stream_ops;
static const struct proto_ops rinet_dgram_ops;

static struct sock *rinet_sk_alloc(struct net *net, struct socket *sock, u32 id,
				   int protocol, int kern)
{
	struct sock *sk = sk_alloc(net, PF_INET, GFP_KERNEL, &rinet_proto, kern);

	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	/* SOL_SOCKET options reach our setsockopt, which hands them to net/core first. */
	set_bit(SOCK_CUSTOM_SOCKOPT, &sock->flags);
	sk->sk_protocol = protocol;
	if (sock->type == SOCK_STREAM) {
		/* What SO_RCVBUF/SO_SNDBUF report: twice the buffers (see rinet_init). */
		sk->sk_rcvbuf = 2 * rinet_tcp_buf_bytes;
		sk->sk_sndbuf = 2 * rinet_tcp_buf_bytes;
	}
	rinet_sk(sk)->id = id;
	if (xa_err(xa_store(&rinet_socks, id, sk, GFP_KERNEL))) {
		sock->sk = NULL;
		sk_free(sk);
		return NULL;
	}
	return sk;
}

static int rinet_create(struct net *net, struct socket *sock, int protocol, int kern)
{
	const struct proto_ops *ops;
	u32 id;
	int err;

	if (!net_eq(net, &init_net))
		return -EAFNOSUPPORT;
	if (protocol < 0 || protocol >= IPPROTO_MAX)
		return -EINVAL;
	switch (sock->type) {
	case SOCK_STREAM:
		ops = &rinet_stream_ops;
		break;
	case SOCK_RAW:
		if (!kern && !ns_capable(net->user_ns, CAP_NET_RAW))
			return -EPERM;
		fallthrough;
	case SOCK_DGRAM:
		ops = &rinet_dgram_ops;
		break;
	default:
		return -ESOCKTNOSUPPORT;
	}
	rinet_lock_stack();
	err = rinet_socket(rinet, sock->type, protocol, &id);
	rinet_unlock_stack();
	if (err)
		return err;
	sock->ops = ops;
	if (!protocol)
		protocol = sock->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
	if (!rinet_sk_alloc(net, sock, id, protocol, kern)) {
		rinet_lock_stack();
		rinet_close(rinet, id);
		rinet_unlock_stack();
		return -ENOBUFS;
	}
	return 0;
}

static int rinet_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (!sk)
		return 0;
	rinet_lock_stack();
	rinet_close(rinet, rinet_sk(sk)->id);
	rinet_unlock_stack();
	xa_erase(&rinet_socks, rinet_sk(sk)->id);
	sock_orphan(sk);
	sock->sk = NULL;
	sock_put(sk);
	return 0;
}

static int rinet_bind_op(struct socket *sock, struct sockaddr *uaddr, int len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)uaddr;
	int err;

	if (len < (int)sizeof(*sin))
		return -EINVAL;
	if (sin->sin_family == AF_INET && ntohs(sin->sin_port) &&
	    ntohs(sin->sin_port) < PROT_SOCK && sock->type != SOCK_RAW &&
	    !ns_capable(sock_net(sock->sk)->user_ns, CAP_NET_BIND_SERVICE))
		return -EACCES;
	rinet_lock_stack();
	err = rinet_bind(rinet, rinet_id(sock), uaddr, len);
	rinet_unlock_stack();
	return err;
}

static int rinet_connect_op(struct socket *sock, struct sockaddr *uaddr, int len, int flags)
{
	struct sock *sk = sock->sk;
	long timeo;
	int err;

	if (len < (int)sizeof(sa_family_t))
		return -EINVAL;
	rinet_lock_sock(sk);
	err = rinet_connect(rinet, rinet_id(sock), uaddr, len);
	rinet_unlock_stack();
	/*
	 * As __inet_stream_connect: after EINPROGRESS, the first connect() once the
	 * handshake completed returns 0; only later ones say EISCONN.
	 */
	if (err == -EISCONN && sock->state == SS_CONNECTING)
		err = 0;
	if (err == -EINPROGRESS)
		sock->state = SS_CONNECTING;
	if (err != -EINPROGRESS || (flags & O_NONBLOCK))
		goto out;
	timeo = sock_sndtimeo(sk, false);
	err = rinet_wait(sk, EPOLLOUT, &timeo);
	if (err)
		return err == -EAGAIN ? -EINPROGRESS : err;
	/* The handshake finished one way or the other: ask for the outcome. */
	rinet_lock_sock(sk);
	err = rinet_connect(rinet, rinet_id(sock), uaddr, len);
	rinet_unlock_stack();
	if (err == -EISCONN)
		err = 0;
out:
	if (!err)
		sock->state = SS_CONNECTED;
	return err;
}

/* An accepted socket starts with its listener's socket options, as on Linux. */
static void rinet_inherit(struct sock *nsk, const struct sock *osk)
{
	static const enum sock_flags flags[] = {
		SOCK_KEEPOPEN, SOCK_LINGER, SOCK_BROADCAST, SOCK_URGINLINE,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++)
		sock_valbool_flag(nsk, flags[i], sock_flag(osk, flags[i]));
	nsk->sk_reuse = osk->sk_reuse;
	nsk->sk_lingertime = osk->sk_lingertime;
	nsk->sk_userlocks = osk->sk_userlocks;
	nsk->sk_rcvbuf = osk->sk_rcvbuf;
	nsk->sk_sndbuf = osk->sk_sndbuf;
	nsk->sk_bound_dev_if = osk->sk_bound_dev_if;
	nsk->sk_rcvtimeo = osk->sk_rcvtimeo;
	nsk->sk_sndtimeo = osk->sk_sndtimeo;
	nsk->sk_priority = osk->sk_priority;
	nsk->sk_mark = osk->sk_mark;
}

static int rinet_accept_op(struct socket *sock, struct socket *newsock,
			   struct proto_accept_arg *arg)
{
	struct sock *sk = sock->sk;
	long timeo = sock_rcvtimeo(sk, arg->flags & O_NONBLOCK);
	u32 id;
	int err;

	for (;;) {
		rinet_lock_stack();
		err = rinet_accept(rinet, rinet_id(sock), &id, NULL);
		rinet_unlock_stack();
		if (err != -EAGAIN)
			break;
		err = rinet_wait(sk, EPOLLIN, &timeo);
		if (err)
			return err;
	}
	if (err)
		return err;
	newsock->ops = sock->ops;
	if (!rinet_sk_alloc(sock_net(sk), newsock, id, IPPROTO_TCP, arg->kern)) {
		rinet_lock_stack();
		rinet_close(rinet, id);
		rinet_unlock_stack();
		return -ENOBUFS;
	}
	/* The stack gave the connection the listener's settings; so does the sock. */
	rinet_inherit(newsock->sk, sk);
	newsock->state = SS_CONNECTED;
	return 0;
}

static int rinet_getname_op(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	int err;

	rinet_lock_stack();
	err = rinet_getname(rinet, rinet_id(sock), peer, uaddr);
	rinet_unlock_stack();
	return err ? err : (int)sizeof(struct sockaddr_in);
}

static __poll_t rinet_poll_op(struct file *file, struct socket *sock, poll_table *wait)
{
	u32 mask;

	sock_poll_wait(file, sock, wait);
	rinet_lock_sock(sock->sk);
	mask = rinet_poll_mask(rinet, rinet_id(sock));
	rinet_unlock_stack();
	return (__force __poll_t)mask;
}

static int rinet_listen_op(struct socket *sock, int backlog)
{
	int err;

	if (sock->type != SOCK_STREAM)
		return -EOPNOTSUPP;
	rinet_lock_stack();
	err = rinet_listen(rinet, rinet_id(sock), backlog);
	rinet_unlock_stack();
	if (!err)
		sock->sk->sk_state = TCP_LISTEN;	/* for SO_ACCEPTCONN */
	return err;
}

static int rinet_shutdown_op(struct socket *sock, int how)
{
	int err;

	/* SHUT_RD..SHUT_RDWR arrive as 0..2, as the Rust side expects. */
	rinet_lock_stack();
	err = rinet_shutdown(rinet, rinet_id(sock), how);
	rinet_unlock_stack();
	if (err)
		return err;
	/* SHUT_RD stops a listener. */
	if (how != SHUT_WR && sock->sk->sk_state == TCP_LISTEN)
		sock->sk->sk_state = TCP_CLOSE;
	sock->sk->sk_state_change(sock->sk);
	return 0;
}

static int rinet_setsockopt_op(struct socket *sock, int level, int name,
			       sockptr_t optval, unsigned int optlen)
{
	u8 buf[32];
	int err;

	if (level == SOL_SOCKET) {
		/* net/core parses and keeps these; the stack hears of the ones it acts on. */
		err = sock_setsockopt(sock, level, name, optval, optlen);
		return err ? err : rinet_push_settings(sock->sk);
	}
	if (optlen > sizeof(buf))
		optlen = sizeof(buf);
	if (copy_from_sockptr(buf, optval, optlen))
		return -EFAULT;
	rinet_lock_stack();
	err = rinet_setsockopt(rinet, rinet_id(sock), level, name, buf, optlen);
	rinet_unlock_stack();
	return err;
}

/* SOL_TCP and SOL_IP; net/core answers SOL_SOCKET from the sock itself. */
static int rinet_getsockopt_op(struct socket *sock, int level, int name,
			       char __user *optval, int __user *optlen)
{
	u8 buf[32];
	size_t len;
	int ulen, err;

	if (get_user(ulen, optlen))
		return -EFAULT;
	if (ulen < 0)
		return -EINVAL;
	len = min_t(size_t, ulen, sizeof(buf));
	rinet_lock_stack();
	err = rinet_getsockopt(rinet, rinet_id(sock), level, name, buf, &len);
	rinet_unlock_stack();
	if (err)
		return err;
	if (copy_to_user(optval, buf, len) || put_user((int)len, optlen))
		return -EFAULT;
	return 0;
}

/* The sender's data, copied by the stack straight into a connection's send buffer. */
struct rinet_fill {
	struct iov_iter *from;
	bool short_copy;	/* a user page was not there (page faults are off) */
};

static size_t rinet_fill_from_iter(void *ctx, u8 *dst, size_t n)
{
	struct rinet_fill *f = ctx;
	size_t copied = copy_from_iter(dst, n, f->from);

	if (copied < n)
		f->short_copy = true;
	return copied;
}

/*
 * A stream send copies from the caller's iov (sendfile's pages included) into the send
 * buffer under the lock, without a bounce buffer. Page faults cannot be taken there: with
 * them off, a user page not present ends the copy short; it is faulted in without the
 * lock and the send goes on. At least one call: a zero-length send reports EPIPE too.
 */
static int rinet_send_stream(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct sock *sk = sock->sk;
	long timeo = sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT);
	size_t sent = 0;
	ssize_t r;

	do {
		struct rinet_fill f = { .from = &msg->msg_iter };

		rinet_lock_sock(sk);
		pagefault_disable();
		r = rinet_send_from(rinet, rinet_id(sock), len - sent, rinet_fill_from_iter, &f);
		pagefault_enable();
		rinet_unlock_stack();
		if (r > 0)
			sent += r;
		if (f.short_copy) {
			if (fault_in_iov_iter_readable(&msg->msg_iter, len - sent) == len - sent) {
				r = -EFAULT;
				break;
			}
			r = 0;
		} else if (r == -EAGAIN) {
			r = rinet_wait(sk, EPOLLOUT, &timeo);
		}
	} while (r >= 0 && sent < len);
	if (r == -EPIPE && !sent && !(msg->msg_flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	return sent ? sent : r;
}

static int rinet_sendmsg_op(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct sock *sk = sock->sk;
	long timeo = sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT);
	const void *to = msg->msg_name;
	ssize_t r;
	void *buf;

	if (msg->msg_flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (sock->type == SOCK_STREAM)
		return rinet_send_stream(sock, msg, len);
	if (len > 65535)
		return -EMSGSIZE;
	if (to && msg->msg_namelen < (int)sizeof(struct sockaddr_in))
		return -EINVAL;
	/* A datagram goes whole: through a bounce buffer (one call; zero length too). */
	buf = kvmalloc(max_t(size_t, len, 1), GFP_KERNEL);
	if (!buf)
		return -ENOBUFS;
	if (copy_from_iter(buf, len, &msg->msg_iter) != len) {
		kvfree(buf);
		return -EFAULT;
	}
	do {
		rinet_lock_sock(sk);
		r = rinet_send(rinet, rinet_id(sock), buf, len, to, to ? msg->msg_namelen : 0);
		rinet_unlock_stack();
		if (r == -EAGAIN)
			r = rinet_wait(sk, EPOLLOUT, &timeo);
		else
			break;
	} while (r >= 0);
	kvfree(buf);
	return r;
}

static int rinet_recvmsg_op(struct socket *sock, struct msghdr *msg, size_t len, int flags)
{
	struct sock *sk = sock->sk;
	bool stream = sock->type == SOCK_STREAM;
	/*
	 * MSG_WAITALL: a stream read returns once all of @len came, or the stream ended
	 * or failed, or a signal or the timeout cut it short (as tcp_recvmsg).
	 */
	bool waitall = stream && (flags & (MSG_WAITALL | MSG_PEEK)) == MSG_WAITALL;
	size_t chunk = min_t(size_t, len, stream ? RINET_CHUNK : 65535);
	long timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	struct sockaddr_in sin = {};
	size_t full = 0, done = 0, copied;
	ssize_t r;
	void *buf;

	if (flags & (MSG_OOB | MSG_ERRQUEUE))
		return -EOPNOTSUPP;
	buf = kvmalloc(max_t(size_t, chunk, 1), GFP_KERNEL);
	if (!buf)
		return -ENOBUFS;
	for (;;) {
		/* Streams peek first and consume only what reached user space. */
		rinet_lock_sock(sk);
		r = rinet_recv(rinet, rinet_id(sock), buf, min(chunk, len - done),
			       stream || (flags & MSG_PEEK) ? RINET_MSG_PEEK : 0, &full, &sin);
		rinet_unlock_stack();
		if (r == -EAGAIN) {
			r = rinet_wait(sk, EPOLLIN, &timeo);
			if (r)
				break;
			continue;
		}
		if (r <= 0 || !stream)
			break;
		copied = copy_to_iter(buf, r, &msg->msg_iter);
		if (!(flags & MSG_PEEK) && copied) {
			rinet_lock_stack();
			rinet_consume(rinet, rinet_id(sock), copied);
			rinet_unlock_stack();
		}
		done += copied;
		if (copied < r) {
			r = -EFAULT;
			break;
		}
		if (!waitall || done == len)
			break;
	}
	if (stream) {
		r = done ? done : r;
		goto out;
	}
	if (r < 0)
		goto out;
	if (copy_to_iter(buf, r, &msg->msg_iter) != r) {
		r = -EFAULT;
		goto out;
	}
	if (msg->msg_name) {
		memcpy(msg->msg_name, &sin, sizeof(sin));
		msg->msg_namelen = sizeof(sin);
	}
	if (full > r)
		msg->msg_flags |= MSG_TRUNC;
	if (flags & MSG_TRUNC)
		r = full;
out:
	kvfree(buf);
	return r;
}

static int rinet_ioctl_op(struct socket *sock, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	ssize_t n;

	switch (cmd) {
	case SIOCINQ:
	case SIOCOUTQ:
		rinet_lock_stack();
		n = rinet_queue_len(rinet, rinet_id(sock), cmd == SIOCOUTQ);
		rinet_unlock_stack();
		if (n < 0)
			return n;
		return put_user((int)min_t(ssize_t, n, INT_MAX), (int __user *)argp);
	}
	return rinet_dev_ioctl(sock_net(sock->sk), cmd, argp);
}

static const struct proto_ops rinet_stream_ops = {
	.family = PF_INET,
	.owner = THIS_MODULE,
	.release = rinet_release,
	.bind = rinet_bind_op,
	.connect = rinet_connect_op,
	.socketpair = sock_no_socketpair,
	.accept = rinet_accept_op,
	.getname = rinet_getname_op,
	.poll = rinet_poll_op,
	.ioctl = rinet_ioctl_op,
	.gettstamp = sock_gettstamp,
	.listen = rinet_listen_op,
	.shutdown = rinet_shutdown_op,
	.setsockopt = rinet_setsockopt_op,
	.getsockopt = rinet_getsockopt_op,
	.sendmsg = rinet_sendmsg_op,
	.recvmsg = rinet_recvmsg_op,
	.mmap = sock_no_mmap,
};

static const struct proto_ops rinet_dgram_ops = {
	.family = PF_INET,
	.owner = THIS_MODULE,
	.release = rinet_release,
	.bind = rinet_bind_op,
	.connect = rinet_connect_op,
	.socketpair = sock_no_socketpair,
	.accept = sock_no_accept,
	.getname = rinet_getname_op,
	.poll = rinet_poll_op,
	.ioctl = rinet_ioctl_op,
	.gettstamp = sock_gettstamp,
	.listen = sock_no_listen,
	.shutdown = rinet_shutdown_op,
	.setsockopt = rinet_setsockopt_op,
	.getsockopt = rinet_getsockopt_op,
	.sendmsg = rinet_sendmsg_op,
	.recvmsg = rinet_recvmsg_op,
	.mmap = sock_no_mmap,
};

static const struct net_proto_family rinet_family_ops = {
	.family = PF_INET,
	.create = rinet_create,
	.owner = THIS_MODULE,
};

static const struct rinet_ops rinet_callbacks = {
	.now_us = rinet_cb_now,
	.transmit = rinet_cb_transmit,
#ifdef CONFIG_RINET_OFFLOAD
	.transmit_tcp = rinet_cb_transmit_tcp,
	.lend_frame = rinet_cb_lend_frame,
	.transmit_lent = rinet_cb_transmit_lent,
	.free_lent = rinet_cb_free_lent,
#endif
	.wake = rinet_cb_wake,
	.error = rinet_cb_error,
	.set_timer = rinet_cb_set_timer,
};

/*
 * A connection's buffers are allocated whole when it opens: each direction gets
 * 1/512 of RAM, between 4 and 64 KiB (8 KiB on an 8 MiB board), unless the boot
 * parameter rinet.tcp_buf=BYTES sets it (rounded down to a power of two, 1 KiB
 * to 1 MiB). Larger buffers keep more data in flight, at the cost of GFP_ATOMIC
 * memory for every connection; in QEMU, 64 KiB downloads about 1.17 times as
 * fast as 32 KiB, and 128 KiB was no faster than 64.
 */
static unsigned int rinet_tcp_buf;
module_param_named(tcp_buf, rinet_tcp_buf, uint, 0444);
MODULE_PARM_DESC(tcp_buf, "TCP buffer per connection and direction, bytes (0: 1/512 of RAM)");

static u32 __init rinet_tcp_buf_size(void)
{
	unsigned long share = (totalram_pages() << PAGE_SHIFT) / 512;

	if (rinet_tcp_buf)
		return rounddown_pow_of_two(clamp_t(unsigned int, rinet_tcp_buf,
						    1024, 1024 * 1024));
	return clamp_t(unsigned long, rounddown_pow_of_two(share), 4096, 65536);
}

static int __init rinet_init(void)
{
	struct rinet_ops ops = rinet_callbacks;
	struct rinet_config cfg;
	int err;

	rinet_tcp_buf_bytes = rinet_tcp_buf_size();
	cfg = (struct rinet_config){
		.tcp_rx_buf = rinet_tcp_buf_bytes,
		.tcp_tx_buf = rinet_tcp_buf_bytes,
		.udp_buf = 8 * 1024,
		.max_sockets = 256,
	};

	ops.seed = get_random_u64();
	skb_queue_head_init(&rinet_txq);
	hrtimer_init(&rinet_timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	rinet_timer.function = rinet_timer_fn;
	rinet = rinet_stack_new(&ops, &cfg);
	if (!rinet)
		return -ENOMEM;
	err = proto_register(&rinet_proto, 0);
	if (err)
		return err;
	err = sock_register(&rinet_family_ops);
	if (err)
		return err;
	register_netdevice_notifier(&rinet_netdev_notifier);
	dev_add_pack(&rinet_ip_packet);
	dev_add_pack(&rinet_arp_packet);
	rinet_proc_init();
	rinet_netlink_init();
	pr_info("rinet: AF_INET provided by the rinet stack, %u KiB TCP buffers\n",
		cfg.tcp_rx_buf / 1024);
	return 0;
}

fs_initcall(rinet_init);
