// SPDX-License-Identifier: GPL-2.0
/*
 * rinet: the classic network ioctls on an AF_INET socket (interface addresses,
 * routes, the ARP table), and SIOCGIFCONF's per-device answer. busybox ifconfig,
 * route, arp and udhcpc use them. They check their arguments as net/ipv4 does, then
 * call the stack under rinet_lock.
 */

#include <linux/capability.h>
#include <linux/if_arp.h>
#include <linux/inetdevice.h>
#include <linux/netdevice.h>
#include <linux/route.h>
#include <linux/sockios.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>

#include "af_rinet.h"
#include "rinet.h"

static u32 rinet_classful_prefix(__be32 addr)
{
	u32 a = ntohl(addr);

	if (IN_CLASSA(a))
		return 8;
	if (IN_CLASSB(a))
		return 16;
	return 24;
}

static int rinet_ifaddr_ioctl(struct net *net, unsigned int cmd, void __user *argp)
{
	bool set = cmd == SIOCSIFADDR || cmd == SIOCSIFNETMASK ||
		   cmd == SIOCSIFBRDADDR || cmd == SIOCSIFDSTADDR;
	struct sockaddr_in *sin;
	struct net_device *dev;
	struct ifreq ifr;
	void __user *data;
	u32 prefix = 0;
	u8 addr[4];
	int err;

	if (get_user_ifreq(&ifr, &data, argp))
		return -EFAULT;
	ifr.ifr_name[IFNAMSIZ - 1] = 0;
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	if (set && !ns_capable(net->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	dev = dev_get_by_name(net, ifr.ifr_name);
	if (!dev)
		return -ENODEV;
	rinet_lock_stack();
	err = rinet_if_get_addr(rinet, dev->ifindex, addr, &prefix);
	switch (cmd) {
	case SIOCGIFADDR:
	case SIOCGIFDSTADDR:
	case SIOCGIFNETMASK:
	case SIOCGIFBRDADDR: {
		__be32 a, mask;

		if (err)
			break;
		memcpy(&a, addr, 4);
		mask = inet_make_mask(prefix);
		sin->sin_family = AF_INET;
		sin->sin_port = 0;
		if (cmd == SIOCGIFNETMASK)
			sin->sin_addr.s_addr = mask;
		else if (cmd == SIOCGIFBRDADDR)
			sin->sin_addr.s_addr = a | ~mask;
		else
			sin->sin_addr.s_addr = a;
		break;
	}
	case SIOCSIFADDR:
		if (sin->sin_family != AF_INET) {
			err = -EINVAL;
			break;
		}
		err = rinet_if_set_addr(rinet, dev->ifindex, (u8 *)&sin->sin_addr,
					sin->sin_addr.s_addr ?
					rinet_classful_prefix(sin->sin_addr.s_addr) : 33);
		break;
	case SIOCSIFNETMASK: {
		__be32 mask = sin->sin_addr.s_addr;

		if (err)
			break;
		if (!bad_mask(mask, 0) || !mask)
			err = rinet_if_set_addr(rinet, dev->ifindex, addr,
						inet_mask_len(mask));
		else
			err = -EINVAL;
		break;
	}
	case SIOCSIFBRDADDR:
	case SIOCSIFDSTADDR:
		/* The broadcast address follows from address and netmask. */
		break;
	}
	rinet_unlock_stack();
	dev_put(dev);
	if (!err && !set && put_user_ifreq(&ifr, argp))
		return -EFAULT;
	return err;
}

static int rinet_route_ioctl(struct net *net, unsigned int cmd, void __user *argp)
{
	struct net_device *dev = NULL;
	struct rtentry rt;
	char name[IFNAMSIZ];
	__be32 dst, mask, gw = 0;
	u32 ifindex = 0, prefix;
	int err;

	if (!ns_capable(net->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	if (copy_from_user(&rt, argp, sizeof(rt)))
		return -EFAULT;
	if (rt.rt_dst.sa_family != AF_INET)
		return -EAFNOSUPPORT;
	dst = ((struct sockaddr_in *)&rt.rt_dst)->sin_addr.s_addr;
	mask = rt.rt_flags & RTF_HOST ? htonl(0xffffffff) :
		((struct sockaddr_in *)&rt.rt_genmask)->sin_addr.s_addr;
	if (bad_mask(mask, dst) && mask)
		return -EINVAL;
	prefix = inet_mask_len(mask);
	if (rt.rt_flags & RTF_GATEWAY)
		gw = ((struct sockaddr_in *)&rt.rt_gateway)->sin_addr.s_addr;
	if (rt.rt_dev) {
		if (strncpy_from_user(name, rt.rt_dev, IFNAMSIZ) < 0)
			return -EFAULT;
		name[IFNAMSIZ - 1] = 0;
		dev = dev_get_by_name(net, name);
		if (!dev)
			return -ENODEV;
		ifindex = dev->ifindex;
		dev_put(dev);
	}
	rinet_lock_stack();
	err = rinet_route(rinet, cmd == SIOCADDRT, (u8 *)&dst, prefix, (u8 *)&gw, ifindex,
			  rt.rt_metric > 0 ? rt.rt_metric - 1 : 0);
	rinet_unlock_stack();
	return err;
}

/*
 * SIOCSARP, SIOCGARP, SIOCDARP: the checks net/ipv4/arp.c makes on struct arpreq, then
 * the stack's neighbour table. Proxy ARP (ATF_PUBL) is not supported: setting it fails
 * with EOPNOTSUPP, deleting it finds nothing (ENOENT, Linux's answer for a missing one).
 */
static int rinet_arp_ioctl(struct net *net, unsigned int cmd, void __user *argp)
{
	struct rinet_neigh_info ni;
	struct net_device *dev = NULL;
	struct arpreq r;
	u32 ifindex = 0;
	u8 *ip;
	int err;

	if (cmd != SIOCGARP && !ns_capable(net->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	r.arp_dev[IFNAMSIZ - 1] = 0;
	if (r.arp_pa.sa_family != AF_INET)
		return -EPFNOSUPPORT;
	if (!(r.arp_flags & ATF_PUBL) && (r.arp_flags & (ATF_NETMASK | ATF_DONTPUB)))
		return -EINVAL;
	/* No proxy entries: none can be set, so none exists to delete. */
	if ((r.arp_flags & ATF_PUBL) && cmd == SIOCSARP)
		return -EOPNOTSUPP;
	if ((r.arp_flags & ATF_PUBL) && cmd == SIOCDARP)
		return -ENOENT;
	if (r.arp_dev[0]) {
		dev = dev_get_by_name(net, r.arp_dev);
		if (!dev)
			return -ENODEV;
		ifindex = dev->ifindex;
		if (!r.arp_ha.sa_family)
			r.arp_ha.sa_family = dev->type;
	} else if (cmd == SIOCGARP) {
		return -ENODEV;
	}
	/* Only Ethernet devices do ARP here; without a device the stack picks one. */
	err = -EINVAL;
	if (cmd == SIOCSARP && r.arp_ha.sa_family != ARPHRD_ETHER)
		goto out;
	if ((r.arp_flags & ATF_COM) && dev && r.arp_ha.sa_family != dev->type)
		goto out;
	ip = (u8 *)&((struct sockaddr_in *)&r.arp_pa)->sin_addr;
	rinet_lock_stack();
	if (cmd == SIOCSARP)
		err = rinet_neigh_set(rinet, ifindex, ip,
				      r.arp_flags & (ATF_COM | ATF_PERM) ?
				      (u8 *)r.arp_ha.sa_data : NULL,
				      !!(r.arp_flags & ATF_PERM));
	else if (cmd == SIOCDARP)
		err = rinet_neigh_delete(rinet, ifindex, ip);
	else
		err = rinet_neigh_get(rinet, ifindex, ip, &ni);
	rinet_unlock_stack();
	if (cmd == SIOCGARP && !err) {
		memcpy(r.arp_ha.sa_data, ni.mac, ETH_ALEN);
		r.arp_ha.sa_family = dev->type;
		r.arp_flags = ni.flags;
		if (copy_to_user(argp, &r, sizeof(r)))
			err = -EFAULT;
	}
out:
	dev_put(dev);
	return err;
}

/* The device-level ioctls; what rinet does not answer goes on to net/core. */
int rinet_dev_ioctl(struct net *net, unsigned int cmd, void __user *argp)
{
	switch (cmd) {
	case SIOCGIFADDR:
	case SIOCSIFADDR:
	case SIOCGIFNETMASK:
	case SIOCSIFNETMASK:
	case SIOCGIFBRDADDR:
	case SIOCSIFBRDADDR:
	case SIOCGIFDSTADDR:
	case SIOCSIFDSTADDR:
		return rinet_ifaddr_ioctl(net, cmd, argp);
	case SIOCADDRT:
	case SIOCDELRT:
		return rinet_route_ioctl(net, cmd, argp);
	case SIOCSARP:
	case SIOCGARP:
	case SIOCDARP:
		return rinet_arp_ioctl(net, cmd, argp);
	}
	/* Flags, MTU, hardware address, index: net/core answers those. */
	return -ENOIOCTLCMD;
}

int rinet_dev_addr(const struct net_device *dev, __be32 *addr, u32 *prefix)
{
	int err;

	rinet_lock_stack();
	err = rinet_if_get_addr(rinet, dev->ifindex, (u8 *)addr, prefix);
	rinet_unlock_stack();
	return err;
}

/*
 * SIOCGIFCONF: the core's dev_ifconf() asks every device for its IPv4 addresses
 * through inet_gifconf(), which include/linux/inetdevice.h routes here when rinet
 * replaces INET. One address per interface. Called under RTNL; returns the bytes
 * written (or needed, when buf is NULL) or -EFAULT.
 */
int rinet_gifconf(struct net_device *dev, char __user *buf, int len, int size)
{
	struct sockaddr_in *sin;
	struct ifreq ifr;
	__be32 addr;
	u32 prefix;

	if (WARN_ON(size > sizeof(struct ifreq)) || rinet_dev_addr(dev, &addr, &prefix))
		return 0;
	if (!buf)
		return size;
	if (len < size)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	strscpy(ifr.ifr_name, dev->name, IFNAMSIZ);
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = addr;
	if (copy_to_user(buf, &ifr, size))
		return -EFAULT;
	return size;
}
