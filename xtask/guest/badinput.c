// SPDX-License-Identifier: MIT
/*
 * Bad input for the AF_INET socket API: NULL and out-of-range pointers, bad lengths,
 * wrong families and types, unknown options and ioctls. Each call must fail with the
 * errno Linux's own IPv4 stack gives; the same binary runs on the INET guest to prove
 * the expectations. Prints "BADINPUT <name> PASS" or "BADINPUT <name> FAIL got ..."
 * and a final "BADINPUT-DONE <failures>". SIOCGIFCONF (answered through a core hook)
 * and SO_BINDTODEVICE are also checked with good arguments, and so are the ARP ioctls
 * (set, read back, delete a static entry on eth0).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;

static void expect(const char *name, long rc, int want)
{
	int got = rc < 0 ? errno : 0;

	if (rc < 0 && got == want) {
		printf("BADINPUT %s PASS\n", name);
	} else {
		printf("BADINPUT %s FAIL got rc=%ld errno=%d (%s), want errno %d (%s)\n",
		       name, rc, got, strerror(got), want, strerror(want));
		failures++;
	}
}

#define BAD ((void *)16)

static void check(const char *name, int ok)
{
	if (ok) {
		printf("BADINPUT %s PASS\n", name);
	} else {
		printf("BADINPUT %s FAIL errno=%d (%s)\n", name, errno, strerror(errno));
		failures++;
	}
}

/* SO_BINDTODEVICE to ifname, read back by name; then unbound again. */
static void check_bindtodevice(const char *name, int fd, const char *ifname)
{
	char got[IFNAMSIZ] = "";
	socklen_t len = sizeof(got);
	int ok;

	ok = setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) == 0 &&
	     getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, got, &len) == 0 &&
	     len == strlen(ifname) + 1 && !strcmp(got, ifname);
	len = sizeof(got);
	ok = ok && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "", 0) == 0 &&
	     getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, got, &len) == 0 && len == 0;
	check(name, ok);
}

static void expect_listed(const char *name, int fd, const char *ifname)
{
	struct ifreq reqs[8];
	struct ifconf ifc = { .ifc_len = sizeof(reqs), .ifc_req = reqs };
	int i, found = 0;

	if (ioctl(fd, SIOCGIFCONF, &ifc) == 0) {
		for (i = 0; i < ifc.ifc_len / (int)sizeof(reqs[0]); i++) {
			struct sockaddr_in *a = (struct sockaddr_in *)&reqs[i].ifr_addr;

			if (!strcmp(reqs[i].ifr_name, ifname) && a->sin_family == AF_INET &&
			    a->sin_addr.s_addr)
				found = 1;
		}
	}
	if (found) {
		printf("BADINPUT %s PASS\n", name);
	} else {
		printf("BADINPUT %s FAIL %s not listed (%d bytes)\n", name, ifname, ifc.ifc_len);
		failures++;
	}
}

/* An ARP request for ip on dev ("" for none), with a static Ethernet address. */
static struct arpreq *arp(struct arpreq *r, const char *ip, const char *dev, int flags)
{
	static const unsigned char mac[6] = { 0x02, 0, 0, 0, 0, 0x77 };
	struct sockaddr_in *pa = (struct sockaddr_in *)&r->arp_pa;

	memset(r, 0, sizeof(*r));
	pa->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &pa->sin_addr);
	r->arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(r->arp_ha.sa_data, mac, sizeof(mac));
	r->arp_flags = flags;
	strncpy(r->arp_dev, dev, sizeof(r->arp_dev) - 1);
	return r;
}

/* arp -s, then SIOCGARP reads it back, then arp -d removes it. */
static void check_static_arp(const char *name, int fd)
{
	struct arpreq r;
	int ok;

	ok = ioctl(fd, SIOCSARP, arp(&r, "10.0.2.77", "eth0", ATF_COM | ATF_PERM)) == 0 &&
	     ioctl(fd, SIOCGARP, arp(&r, "10.0.2.77", "eth0", 0)) == 0 &&
	     r.arp_flags == (ATF_COM | ATF_PERM) && r.arp_ha.sa_family == ARPHRD_ETHER &&
	     (unsigned char)r.arp_ha.sa_data[5] == 0x77 &&
	     ioctl(fd, SIOCDARP, arp(&r, "10.0.2.77", "", 0)) == 0;
	check(name, ok);
	expect("arp-get-after-delete", ioctl(fd, SIOCGARP, arp(&r, "10.0.2.77", "eth0", 0)), ENXIO);
}

int main(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242) };
	struct sockaddr_in wrong = { .sin_family = AF_INET6 };
	struct arpreq ar;
	struct ifreq ifr;
	socklen_t len = sizeof(int);
	int v = 1, tcp, udp, lst;
	char buf[64];

	signal(SIGPIPE, SIG_IGN);
	expect("socket-type-out-of-range", socket(AF_INET, 99, 0), EINVAL);
	expect("socket-stream-udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	expect("socket-seqpacket", socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
	expect("socket-raw-proto-0", socket(AF_INET, SOCK_RAW, 0), EPROTONOSUPPORT);
	expect("socket-negative-proto", socket(AF_INET, SOCK_STREAM, -1), EINVAL);

	tcp = socket(AF_INET, SOCK_STREAM, 0);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	lst = socket(AF_INET, SOCK_STREAM, 0);
	if (tcp < 0 || udp < 0 || lst < 0) {
		printf("BADINPUT-DONE setup-failed errno=%d\n", errno);
		return 1;
	}
	expect("bind-null", bind(tcp, NULL, sizeof(sin)), EFAULT);
	expect("bind-bad-pointer", bind(tcp, BAD, sizeof(sin)), EFAULT);
	expect("bind-short", bind(tcp, (struct sockaddr *)&sin, 4), EINVAL);
	expect("bind-negative-len", bind(tcp, (struct sockaddr *)&sin, -1), EINVAL);
	expect("bind-wrong-family", bind(tcp, (struct sockaddr *)&wrong, sizeof(wrong)), EAFNOSUPPORT);
	expect("connect-null", connect(tcp, NULL, sizeof(sin)), EFAULT);
	expect("connect-short", connect(tcp, (struct sockaddr *)&sin, 1), EINVAL);
	expect("setsockopt-null", setsockopt(tcp, SOL_SOCKET, SO_RCVBUF, NULL, 4), EFAULT);
	expect("setsockopt-short", setsockopt(tcp, SOL_SOCKET, SO_RCVBUF, &v, 2), EINVAL);
	expect("setsockopt-unknown", setsockopt(tcp, SOL_SOCKET, 9999, &v, 4), ENOPROTOOPT);
	expect("setsockopt-unknown-tcp", setsockopt(tcp, IPPROTO_TCP, 9999, &v, 4), ENOPROTOOPT);
	expect("setsockopt-keepcnt-zero", setsockopt(tcp, IPPROTO_TCP, TCP_KEEPCNT, (int[]){0}, 4), EINVAL);
	expect("getsockopt-null-value", getsockopt(tcp, SOL_SOCKET, SO_ERROR, NULL, &len), EFAULT);
	expect("getsockopt-null-len", getsockopt(tcp, SOL_SOCKET, SO_ERROR, &v, NULL), EFAULT);
	len = (socklen_t)-1;
	expect("getsockopt-negative-len", getsockopt(tcp, SOL_SOCKET, SO_ERROR, &v, &len), EINVAL);
	expect("ioctl-null", ioctl(tcp, SIOCGIFADDR, NULL), EFAULT);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "nosuch0");
	expect("ioctl-no-such-device", ioctl(tcp, SIOCGIFADDR, &ifr), ENODEV);
	expect("ioctl-unknown", ioctl(tcp, 0x12345678, &ifr), ENOTTY);
	expect("ioctl-addrt-null", ioctl(tcp, SIOCADDRT, NULL), EFAULT);
	expect("ioctl-fionread-listener", (listen(lst, 1), ioctl(lst, FIONREAD, &v)), EINVAL);
	expect("sendto-bad-address", sendto(udp, "x", 1, 0, BAD, sizeof(sin)), EFAULT);
	expect("sendto-bad-buffer", sendto(udp, BAD, 10, 0, (struct sockaddr *)&sin, sizeof(sin)), EFAULT);
	expect("sendto-no-destination", send(udp, "x", 1, 0), EDESTADDRREQ);
	expect("recv-empty-nonblocking", recv(udp, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	expect("send-unconnected-stream", send(tcp, "x", 1, MSG_NOSIGNAL), EPIPE);
	expect("recv-unconnected-stream", recv(tcp, buf, sizeof(buf), 0), ENOTCONN);
	expect("listen-udp", listen(udp, 1), EOPNOTSUPP);
	expect("accept-not-listening", accept(tcp, NULL, NULL), EINVAL);
	expect("shutdown-bad-how", shutdown(tcp, 99), EINVAL);
	expect("shutdown-unconnected", shutdown(tcp, SHUT_RDWR), ENOTCONN);
	len = sizeof(sin);
	expect("getpeername-unconnected", getpeername(tcp, (struct sockaddr *)&sin, &len), ENOTCONN);
	expect("ifconf-null", ioctl(udp, SIOCGIFCONF, NULL), EFAULT);
	expect("ifconf-bad-buffer",
	       ioctl(udp, SIOCGIFCONF, &(struct ifconf){ .ifc_len = sizeof(ifr), .ifc_buf = BAD }),
	       EFAULT);
	expect_listed("ifconf-lists-eth0", udp, "eth0");
	expect("bindtodevice-unknown", setsockopt(udp, SOL_SOCKET, SO_BINDTODEVICE, "nosuch0", 8),
	       ENODEV);
	expect("bindtodevice-bad-pointer", setsockopt(udp, SOL_SOCKET, SO_BINDTODEVICE, BAD, 4),
	       EFAULT);
	len = 2;
	expect("getbindtodevice-short",
	       (setsockopt(udp, SOL_SOCKET, SO_BINDTODEVICE, "eth0", 4),
		getsockopt(udp, SOL_SOCKET, SO_BINDTODEVICE, buf, &len)),
	       EINVAL);
	setsockopt(udp, SOL_SOCKET, SO_BINDTODEVICE, "", 0);
	check_bindtodevice("bindtodevice-eth0", udp, "eth0");
	check_bindtodevice("bindtodevice-tcp-eth0", tcp, "eth0");
	expect("arp-get-null", ioctl(udp, SIOCGARP, NULL), EFAULT);
	expect("arp-set-bad-pointer", ioctl(udp, SIOCSARP, BAD), EFAULT);
	arp(&ar, "10.0.2.77", "eth0", 0);
	ar.arp_pa.sa_family = AF_UNIX;
	expect("arp-get-wrong-family", ioctl(udp, SIOCGARP, &ar), EPFNOSUPPORT);
	expect("arp-get-no-device", ioctl(udp, SIOCGARP, arp(&ar, "10.0.2.77", "", 0)), ENODEV);
	expect("arp-get-unknown-device", ioctl(udp, SIOCGARP, arp(&ar, "10.0.2.77", "nosuch0", 0)),
	       ENODEV);
	expect("arp-get-unknown-entry", ioctl(udp, SIOCGARP, arp(&ar, "10.0.2.77", "eth0", 0)),
	       ENXIO);
	expect("arp-delete-unknown-entry", ioctl(udp, SIOCDARP, arp(&ar, "10.0.2.77", "eth0", 0)),
	       ENXIO);
	expect("arp-set-off-link",
	       ioctl(udp, SIOCSARP, arp(&ar, "192.168.77.1", "", ATF_COM | ATF_PERM)), ENETUNREACH);
	expect("arp-set-netmask-without-publ",
	       ioctl(udp, SIOCSARP, arp(&ar, "10.0.2.77", "eth0", ATF_NETMASK)), EINVAL);
	arp(&ar, "10.0.2.77", "eth0", ATF_COM);
	ar.arp_ha.sa_family = ARPHRD_LOOPBACK;
	expect("arp-set-wrong-hardware-type", ioctl(udp, SIOCSARP, &ar), EINVAL);
	check_static_arp("arp-set-get-delete", udp);
	printf("BADINPUT-DONE %d\n", failures);
	return failures != 0;
}
