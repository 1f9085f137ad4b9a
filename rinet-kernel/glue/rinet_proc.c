// SPDX-License-Identifier: GPL-2.0
/*
 * rinet: /proc/net. route is always there (busybox route and udhcpc's scripts read
 * it); tcp, udp, raw, arp and snmp (netstat, arp -a, monitoring) come with
 * CONFIG_RINET_PROC_NET. The formats are net/ipv4's, column for column.
 */

#include <linux/if_arp.h>
#include <linux/in.h>
#include <linux/netdevice.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "af_rinet.h"
#include "rinet.h"

static unsigned long rinet_inode(u32 id, kuid_t *uid)
{
	struct rinet_sock *rs;
	unsigned long ino;

	*uid = GLOBAL_ROOT_UID;
	/*
	 * release() may be closing this socket on another CPU: it erases the entry
	 * before it drops its reference, so a reference taken under the xarray's
	 * lock keeps the sock alive while we read it.
	 */
	xa_lock(&rinet_socks);
	rs = xa_load(&rinet_socks, id);
	if (rs)
		sock_hold(&rs->sk);
	xa_unlock(&rinet_socks);
	if (!rs)
		return 0;
	*uid = sock_i_uid(&rs->sk);
	ino = sock_i_ino(&rs->sk);
	sock_put(&rs->sk);
	return ino;
}

static void rinet_show_socks(struct seq_file *seq, u8 proto)
{
	struct rinet_sock_info si;
	u32 nth, sl = 0;

	for (nth = 0;; nth++) {
		unsigned long ino;
		kuid_t uid;
		__be32 la, ra;
		int err;

		rinet_lock_stack();
		err = rinet_sock_info(rinet, nth, &si);
		rinet_unlock_stack();
		if (err)
			break;
		if (si.proto != proto)
			continue;
		memcpy(&la, si.local, 4);
		memcpy(&ra, si.remote, 4);
		ino = rinet_inode(si.id, &uid);
		seq_setwidth(seq, 127);
		seq_printf(seq, "%4d: %08X:%04X %08X:%04X %02X %08X:%08X 00:00000000 00000000 %5u %8d %lu",
			   sl++, la, si.local_port, ra, si.remote_port, si.state,
			   si.tx_queue, si.rx_queue,
			   from_kuid_munged(seq_user_ns(seq), uid), 0, ino);
		seq_pad(seq, '\n');
	}
}

static int rinet_tcp_show(struct seq_file *seq, void *v)
{
	seq_setwidth(seq, 149);
	seq_puts(seq, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode");
	seq_pad(seq, '\n');
	rinet_show_socks(seq, IPPROTO_TCP);
	return 0;
}

static int rinet_udp_show(struct seq_file *seq, void *v)
{
	seq_setwidth(seq, 127);
	seq_puts(seq, "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops");
	seq_pad(seq, '\n');
	rinet_show_socks(seq, IPPROTO_UDP);
	return 0;
}

static int rinet_raw_show(struct seq_file *seq, void *v)
{
	seq_setwidth(seq, 127);
	seq_puts(seq, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops");
	seq_pad(seq, '\n');
	rinet_show_socks(seq, IPPROTO_ICMP);
	return 0;
}

static int rinet_route_show(struct seq_file *seq, void *v)
{
	struct rinet_route_info ri;
	u32 nth;

	seq_setwidth(seq, 127);
	seq_puts(seq, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT");
	seq_pad(seq, '\n');
	for (nth = 0;; nth++) {
		struct net_device *dev;
		__be32 d, g, m;
		char name[IFNAMSIZ] = "*";
		int err;

		rinet_lock_stack();
		err = rinet_route_info(rinet, nth, &ri);
		rinet_unlock_stack();
		if (err)
			break;
		rcu_read_lock();
		dev = dev_get_by_index_rcu(&init_net, ri.ifindex);
		if (dev)
			strscpy(name, dev->name, sizeof(name));
		rcu_read_unlock();
		memcpy(&d, ri.dest, 4);
		memcpy(&g, ri.gateway, 4);
		memcpy(&m, ri.mask, 4);
		seq_setwidth(seq, 127);
		seq_printf(seq, "%s\t%08X\t%08X\t%04X\t%d\t%u\t%d\t%08X\t%d\t%u\t%u",
			   name, d, g, ri.flags, 0, 0, ri.metric, m, 0, 0, 0);
		seq_pad(seq, '\n');
	}
	return 0;
}

static int rinet_arp_show(struct seq_file *seq, void *v)
{
	struct rinet_neigh_info ni;
	u32 nth;

	seq_puts(seq, "IP address       HW type     Flags       HW address            Mask     Device\n");
	for (nth = 0;; nth++) {
		struct net_device *dev;
		char name[IFNAMSIZ] = "*", ip[16];
		int err;

		rinet_lock_stack();
		err = rinet_neigh_info(rinet, nth, &ni);
		rinet_unlock_stack();
		if (err)
			break;
		rcu_read_lock();
		dev = dev_get_by_index_rcu(&init_net, ni.ifindex);
		if (dev)
			strscpy(name, dev->name, sizeof(name));
		rcu_read_unlock();
		snprintf(ip, sizeof(ip), "%pI4", ni.ip);
		seq_printf(seq, "%-16s 0x%-10x0x%-10x%pM     *        %s\n",
			   ip, ARPHRD_ETHER, ni.flags, ni.mac, name);
	}
	return 0;
}

static int rinet_snmp_show(struct seq_file *seq, void *v)
{
	struct rinet_snmp s;
	size_t heap;
	int i;

	rinet_lock_stack();
	rinet_snmp(rinet, &s);
	heap = rinet_heap_bytes();
	rinet_unlock_stack();
	seq_puts(seq, "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits\n");
	seq_printf(seq, "Ip: 2 64 %llu %llu %llu 0 0 0 %llu %llu 0 %llu 0 0 0 %llu 0 0 0 %llu\n",
		   s.ip_in_receives, s.ip_in_hdr_errors, s.ip_in_addr_errors, s.ip_in_delivers,
		   s.ip_out_requests, s.ip_out_no_routes, s.ip_reasm_fails, s.ip_out_requests);
	seq_puts(seq, "Icmp: InMsgs InErrors InCsumErrors OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost\n");
	seq_printf(seq, "Icmp: %llu %llu %llu %llu 0 0 0\n", s.icmp_in_msgs, s.icmp_in_errors,
		   s.icmp_in_csum_errors, s.icmp_out_msgs);
	seq_puts(seq, "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n");
	seq_printf(seq, "Tcp: 1 1000 60000 -1 %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu\n",
		   s.tcp_active_opens, s.tcp_passive_opens, s.tcp_attempt_fails,
		   s.tcp_estab_resets, s.tcp_curr_estab, s.tcp_in_segs, s.tcp_out_segs,
		   s.tcp_retrans_segs, s.tcp_in_errs, s.tcp_out_rsts, s.tcp_in_csum_errors);
	seq_puts(seq, "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n");
	seq_printf(seq, "Udp: %llu %llu %llu %llu 0 0 %llu 0 0\n",
		   s.udp_in_datagrams, s.udp_no_ports, s.udp_in_errors, s.udp_out_datagrams,
		   s.udp_in_csum_errors);
	seq_puts(seq, "Rinet: RxDrops ListenOverflows TimerFires SynQueueEvictions HeapBytes RxBatches RxBatchFrames TxOffloadFrames TxOffloadSegs\n");
	seq_printf(seq, "Rinet: %llu %llu %ld %llu %zu %ld %ld %ld %ld\n", s.rx_drops,
		   s.tcp_listen_overflows, atomic_long_read(&rinet_timer_fires),
		   s.syn_queue_evictions, heap, atomic_long_read(&rinet_rx_batches),
		   atomic_long_read(&rinet_rx_batch_frames),
		   atomic_long_read(&rinet_tx_offload_frames),
		   atomic_long_read(&rinet_tx_offload_segs));
	/* Received frames the stack dropped, by reason (their sum is RxDrops). */
	seq_puts(seq, "RinetDrops:");
	for (i = 0; i < RINET_DROP_REASONS; i++)
		seq_printf(seq, " %s", rinet_drop_name(i));
	seq_puts(seq, "\nRinetDrops:");
	for (i = 0; i < RINET_DROP_REASONS; i++)
		seq_printf(seq, " %llu", s.drops[i]);
	seq_puts(seq, "\n");
	return 0;
}

void __init rinet_proc_init(void)
{
	struct proc_dir_entry *net = init_net.proc_net;

	proc_create_single("route", 0444, net, rinet_route_show);
	if (!IS_ENABLED(CONFIG_RINET_PROC_NET))
		return;
	proc_create_single("tcp", 0444, net, rinet_tcp_show);
	proc_create_single("udp", 0444, net, rinet_udp_show);
	if (IS_ENABLED(CONFIG_RINET_RAW))
		proc_create_single("raw", 0444, net, rinet_raw_show);
	proc_create_single("arp", 0444, net, rinet_arp_show);
	proc_create_single("snmp", 0444, net, rinet_snmp_show);
}
