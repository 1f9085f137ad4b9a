// SPDX-License-Identifier: GPL-2.0
/*
 * rinet: rtnetlink for PF_INET, addresses and routes (busybox ip addr, ip route).
 * Built with CONFIG_RINET_RTNETLINK. One address per interface, as the stack keeps.
 */

#include <linux/inetdevice.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/rtnetlink.h>
#include <net/sock.h>

#include "af_rinet.h"
#include "rinet.h"
static int rinet_fill_addr(struct sk_buff *skb, struct net_device *dev, __be32 addr,
			   u32 prefix, u32 portid, u32 seq, int flags)
{
	__be32 mask = inet_make_mask(prefix);
	struct ifaddrmsg *ifm;
	struct nlmsghdr *nlh;

	nlh = nlmsg_put(skb, portid, seq, RTM_NEWADDR, sizeof(*ifm), flags);
	if (!nlh)
		return -EMSGSIZE;
	ifm = nlmsg_data(nlh);
	ifm->ifa_family = AF_INET;
	ifm->ifa_prefixlen = prefix;
	ifm->ifa_flags = IFA_F_PERMANENT;
	ifm->ifa_scope = ipv4_is_loopback(addr) ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
	ifm->ifa_index = dev->ifindex;
	if (nla_put_in_addr(skb, IFA_ADDRESS, addr) ||
	    nla_put_in_addr(skb, IFA_LOCAL, addr) ||
	    (prefix < 31 && nla_put_in_addr(skb, IFA_BROADCAST, addr | ~mask)) ||
	    nla_put_string(skb, IFA_LABEL, dev->name)) {
		nlmsg_cancel(skb, nlh);
		return -EMSGSIZE;
	}
	nlmsg_end(skb, nlh);
	return 0;
}

static int rinet_dump_addr(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct net_device *dev;
	int idx = 0;

	for_each_netdev(sock_net(skb->sk), dev) {
		__be32 addr;
		u32 prefix;
		int err;

		if (idx++ < cb->args[0])
			continue;
		err = rinet_dev_addr(dev, &addr, &prefix);
		if (!err && rinet_fill_addr(skb, dev, addr, prefix,
					    NETLINK_CB(cb->skb).portid,
					    cb->nlh->nlmsg_seq, NLM_F_MULTI)) {
			idx--;
			break;
		}
	}
	cb->args[0] = idx;
	return skb->len;
}

/* One address per interface: RTM_NEWADDR replaces it, RTM_DELADDR removes it. */
static int rinet_rtm_addr(struct sk_buff *skb, struct nlmsghdr *nlh,
			  struct netlink_ext_ack *extack)
{
	struct nlattr *tb[IFA_MAX + 1];
	struct net_device *dev;
	struct ifaddrmsg *ifm;
	__be32 addr, cur;
	u32 prefix;
	int err;

	err = nlmsg_parse_deprecated(nlh, sizeof(*ifm), tb, IFA_MAX, NULL, extack);
	if (err)
		return err;
	ifm = nlmsg_data(nlh);
	if (ifm->ifa_prefixlen > 32 || (!tb[IFA_LOCAL] && !tb[IFA_ADDRESS]))
		return -EINVAL;
	addr = nla_get_in_addr(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
	dev = __dev_get_by_index(sock_net(skb->sk), ifm->ifa_index);
	if (!dev)
		return -ENODEV;
	rinet_lock_stack();
	if (nlh->nlmsg_type == RTM_NEWADDR) {
		err = rinet_if_set_addr(rinet, dev->ifindex, (u8 *)&addr, ifm->ifa_prefixlen);
	} else {
		err = rinet_if_get_addr(rinet, dev->ifindex, (u8 *)&cur, &prefix);
		if (!err && cur != addr)
			err = -EADDRNOTAVAIL;
		if (!err)
			err = rinet_if_set_addr(rinet, dev->ifindex, (u8 *)&addr, 33);
	}
	rinet_unlock_stack();
	return err;
}

static int rinet_dump_route(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct rinet_route_info ri;
	u32 nth;

	for (nth = cb->args[0];; nth++) {
		struct nlmsghdr *nlh;
		struct rtmsg *rtm;
		__be32 dst, gw, mask;
		int err;

		rinet_lock_stack();
		err = rinet_route_info(rinet, nth, &ri);
		rinet_unlock_stack();
		if (err)
			break;
		memcpy(&dst, ri.dest, 4);
		memcpy(&gw, ri.gateway, 4);
		memcpy(&mask, ri.mask, 4);
		nlh = nlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				RTM_NEWROUTE, sizeof(*rtm), NLM_F_MULTI);
		if (!nlh)
			break;
		rtm = nlmsg_data(nlh);
		memset(rtm, 0, sizeof(*rtm));
		rtm->rtm_family = AF_INET;
		rtm->rtm_dst_len = inet_mask_len(mask);
		rtm->rtm_table = RT_TABLE_MAIN;
		rtm->rtm_protocol = gw ? RTPROT_BOOT : RTPROT_KERNEL;
		rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
		rtm->rtm_type = RTN_UNICAST;
		if (nla_put_u32(skb, RTA_TABLE, RT_TABLE_MAIN) ||
		    (rtm->rtm_dst_len && nla_put_in_addr(skb, RTA_DST, dst)) ||
		    (gw && nla_put_in_addr(skb, RTA_GATEWAY, gw)) ||
		    nla_put_u32(skb, RTA_OIF, ri.ifindex) ||
		    (ri.metric && nla_put_u32(skb, RTA_PRIORITY, ri.metric))) {
			nlmsg_cancel(skb, nlh);
			break;
		}
		nlmsg_end(skb, nlh);
	}
	cb->args[0] = nth;
	return skb->len;
}

static int rinet_rtm_route(struct sk_buff *skb, struct nlmsghdr *nlh,
			   struct netlink_ext_ack *extack)
{
	struct nlattr *tb[RTA_MAX + 1];
	__be32 dst = 0, gw = 0;
	struct rtmsg *rtm;
	int err;

	err = nlmsg_parse_deprecated(nlh, sizeof(*rtm), tb, RTA_MAX, NULL, extack);
	if (err)
		return err;
	rtm = nlmsg_data(nlh);
	if (rtm->rtm_family != AF_INET || rtm->rtm_dst_len > 32)
		return -EINVAL;
	if (tb[RTA_DST])
		dst = nla_get_in_addr(tb[RTA_DST]);
	if (tb[RTA_GATEWAY])
		gw = nla_get_in_addr(tb[RTA_GATEWAY]);
	rinet_lock_stack();
	err = rinet_route(rinet, nlh->nlmsg_type == RTM_NEWROUTE, (u8 *)&dst,
			  rtm->rtm_dst_len, (u8 *)&gw,
			  tb[RTA_OIF] ? nla_get_u32(tb[RTA_OIF]) : 0,
			  tb[RTA_PRIORITY] ? nla_get_u32(tb[RTA_PRIORITY]) : 0);
	rinet_unlock_stack();
	return err;
}

void __init rinet_netlink_init(void)
{
	rtnl_register(PF_INET, RTM_NEWADDR, rinet_rtm_addr, NULL, 0);
	rtnl_register(PF_INET, RTM_DELADDR, rinet_rtm_addr, NULL, 0);
	rtnl_register(PF_INET, RTM_GETADDR, NULL, rinet_dump_addr, 0);
	rtnl_register(PF_INET, RTM_NEWROUTE, rinet_rtm_route, NULL, 0);
	rtnl_register(PF_INET, RTM_DELROUTE, rinet_rtm_route, NULL, 0);
	rtnl_register(PF_INET, RTM_GETROUTE, NULL, rinet_dump_route, 0);
}
