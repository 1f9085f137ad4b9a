// SPDX-License-Identifier: MIT
/*
 * Bad input for the AF_INET socket API: NULL and out-of-range pointers, bad lengths,
 * wrong families and types, unknown options and ioctls. Each call must fail with the
 * errno Linux's own IPv4 stack gives; the same binary runs on the INET guest to prove
 * the expectations. Prints "BADINPUT <name> PASS" or "BADINPUT <name> FAIL got ..."
 * and a final "BADINPUT-DONE <failures>".
 */
#include <errno.h>
#include <net/if.h>
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

int main(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242) };
	struct sockaddr_in wrong = { .sin_family = AF_INET6 };
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
	printf("BADINPUT-DONE %d\n", failures);
	return failures != 0;
}
