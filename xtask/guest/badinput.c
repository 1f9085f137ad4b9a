// SPDX-License-Identifier: MIT
/*
 * Bad input for the AF_INET socket API: NULL and out-of-range pointers, bad lengths,
 * wrong families and types, unknown options and ioctls. Each call must fail with the
 * errno Linux's own IPv4 stack gives; the same binary runs on the INET guest to prove
 * the expectations. Prints "BADINPUT <name> PASS" or "BADINPUT <name> FAIL got ..."
 * and a final "BADINPUT-DONE <failures>". SIOCGIFCONF (answered through a core hook)
 * and SO_BINDTODEVICE are also checked with good arguments, and so are the ARP ioctls
 * (set, read back, delete a static entry on eth0).
 *
 * "badinput leak" opens and closes a thousand connections and datagram sockets twice and
 * checks that the second round leaves free memory where the first left it.
 *
 * "badinput options" checks instead the socket options whose effect the protocol must
 * see although net/core parses and keeps them (SO_ERROR, SO_LINGER, SO_REUSEADDR,
 * SO_BROADCAST, SO_BINDTODEVICE, SO_ACCEPTCONN, SO_PROTOCOL, and what an accepted socket
 * inherits from its listener), each by what it does. It runs once the host's load is
 * over and its TIME-WAITs are gone: the SO_REUSEADDR check needs its own connection's
 * TIME-WAIT, which a table full of the web server's would not keep (a connection
 * closes at once beyond Linux's tcp_max_tw_buckets, and beyond rinet's 512).
 */
#define _GNU_SOURCE	/* POLLRDHUP */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
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

static int intopt(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -errno - 1000;
	return v;
}

static void setint(int fd, int level, int name, int v)
{
	setsockopt(fd, level, name, &v, sizeof(v));
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void pause_ms(long ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

/* A listener on 127.0.0.1:port (SO_REUSEADDR as given), or -1. */
static int listener(int port, int reuse)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	setint(fd, SOL_SOCKET, SO_REUSEADDR, reuse);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A connection to 127.0.0.1:port and its accepted end (*server), or -1. */
static int connected(int lst, int port, int *server)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	*server = accept(lst, NULL, NULL);
	return fd;
}

/* A refused non-blocking connect: SO_ERROR says ECONNREFUSED once, then POLLERR is gone. */
static void check_so_error(void)
{
	struct sockaddr_in a = loopback(4999);
	struct pollfd p;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), rc, err, again;

	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (rc < 0 && errno == ECONNREFUSED) {
		check("so-error-refused", 1);
	} else {
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		poll(&p, 1, 3000);
		err = intopt(fd, SOL_SOCKET, SO_ERROR);
		if (err != ECONNREFUSED)
			printf("BADINPUT so-error-refused FAIL connect rc=%d errno=%d revents=%#x SO_ERROR=%d\n",
			       rc, errno, p.revents, err);
		else
			check("so-error-refused", (p.revents & POLLERR) != 0);
		failures += err != ECONNREFUSED;
	}
	again = intopt(fd, SOL_SOCKET, SO_ERROR);
	p = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	poll(&p, 1, 0);
	if (again == 0 && !(p.revents & POLLERR)) {
		check("so-error-reported-once", 1);
	} else {
		printf("BADINPUT so-error-reported-once FAIL SO_ERROR=%d revents=%#x\n", again,
		       p.revents);
		failures++;
	}
	close(fd);
}

/* SO_LINGER {1, 0}: close() resets the connection, the peer's recv() says ECONNRESET. */
static void check_linger_reset(void)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	int lst = listener(5001, 0), srv = -1, cli = connected(lst, 5001, &srv), rc;
	char c;

	setsockopt(cli, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(cli);
	pause_ms(200);
	rc = recv(srv, &c, 1, MSG_DONTWAIT);
	expect("so-linger-zero-resets", cli < 0 || srv < 0 ? 0 : rc, ECONNRESET);
	close(srv);
	close(lst);
}

/*
 * SO_REUSEADDR: after the server closed first, its end waits in TIME-WAIT; binding the
 * port again is EADDRINUSE without SO_REUSEADDR and allowed with it (both sides set it).
 */
static void check_reuseaddr(void)
{
	struct sockaddr_in a = loopback(5002);
	int lst = listener(5002, 1), srv = -1, cli = connected(lst, 5002, &srv), fd;

	close(srv);
	pause_ms(100);
	close(cli);
	close(lst);
	pause_ms(200);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	expect("so-reuseaddr-off-time-wait-in-use", bind(fd, (struct sockaddr *)&a, sizeof(a)),
	       EADDRINUSE);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	check("so-reuseaddr-on-time-wait-binds", bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	close(fd);
}

/* SO_BROADCAST: a datagram to 255.255.255.255 needs it (EACCES without). */
static void check_broadcast(void)
{
	struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons(9),
				 .sin_addr.s_addr = htonl(INADDR_BROADCAST) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	expect("so-broadcast-off", sendto(fd, "x", 1, 0, (struct sockaddr *)&b, sizeof(b)),
	       EACCES);
	setint(fd, SOL_SOCKET, SO_BROADCAST, 1);
	check("so-broadcast-on", sendto(fd, "x", 1, 0, (struct sockaddr *)&b, sizeof(b)) == 1);
	close(fd);
}

/* SO_BINDTODEVICE eth0: a datagram arriving over loopback does not reach the socket. */
static void check_bindtodevice_filters(void)
{
	struct sockaddr_in a = loopback(5003), any = a;
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0), rc;
	char c;

	any.sin_addr.s_addr = htonl(INADDR_ANY);
	bind(rx, (struct sockaddr *)&any, sizeof(any));
	setsockopt(rx, SOL_SOCKET, SO_BINDTODEVICE, "eth0", 4);
	sendto(tx, "a", 1, 0, (struct sockaddr *)&a, sizeof(a));
	pause_ms(100);
	expect("so-bindtodevice-ignores-loopback", recv(rx, &c, 1, MSG_DONTWAIT), EAGAIN);
	setsockopt(rx, SOL_SOCKET, SO_BINDTODEVICE, "", 0);
	sendto(tx, "b", 1, 0, (struct sockaddr *)&a, sizeof(a));
	pause_ms(100);
	rc = recv(rx, &c, 1, MSG_DONTWAIT);
	check("so-bindtodevice-unbound-receives", rc == 1 && c == 'b');
	close(rx);
	close(tx);
}

/* SO_ACCEPTCONN and SO_PROTOCOL, and the options an accepted socket inherits. */
static void check_identity_and_inheritance(void)
{
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), udp = socket(AF_INET, SOCK_DGRAM, 0);
	int lst = listener(5004, 0), srv = -1, cli, v;

	check("so-protocol", intopt(lst, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP &&
	      intopt(udp, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDP &&
	      intopt(raw, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_ICMP);
	check("so-acceptconn", intopt(lst, SOL_SOCKET, SO_ACCEPTCONN) == 1 &&
	      intopt(udp, SOL_SOCKET, SO_ACCEPTCONN) == 0);
	setint(lst, SOL_SOCKET, SO_KEEPALIVE, 1);
	setint(lst, SOL_SOCKET, SO_RCVBUF, 8192);
	cli = connected(lst, 5004, &srv);
	v = intopt(srv, SOL_SOCKET, SO_RCVBUF);
	check("accepted-inherits-keepalive", srv >= 0 && intopt(srv, SOL_SOCKET, SO_KEEPALIVE) == 1);
	if (v == 16384 && intopt(srv, SOL_SOCKET, SO_ACCEPTCONN) == 0) {
		check("accepted-inherits-rcvbuf", 1);
	} else {
		printf("BADINPUT accepted-inherits-rcvbuf FAIL SO_RCVBUF=%d\n", v);
		failures++;
	}
	close(cli);
	close(srv);
	close(lst);
	close(udp);
	close(raw);
}

/* Every poll event at once, without waiting. */
static int poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI | POLLOUT | POLLRDNORM |
			    POLLRDBAND | POLLWRNORM | POLLWRBAND | POLLRDHUP };

	poll(&p, 1, 0);
	return p.revents;
}

static void expect_mask(const char *name, int fd, int want)
{
	int got = poll_now(fd);

	if (got == want) {
		printf("BADINPUT %s PASS\n", name);
	} else {
		printf("BADINPUT %s FAIL poll mask %#x, want %#x\n", name, got, want);
		failures++;
	}
}

static void expect_value(const char *name, long got, long want)
{
	if (got == want) {
		printf("BADINPUT %s PASS\n", name);
	} else {
		printf("BADINPUT %s FAIL got %ld (errno %d), want %ld\n", name, got, errno, want);
		failures++;
	}
}

#define M_DATA (POLLIN | POLLRDNORM)
#define M_WRITE (POLLOUT | POLLWRNORM)

/*
 * A stream's life as poll(2), recv(2) and send(2) see it, values as Linux's tcp_poll and
 * tcp_recvmsg give them: data, the peer's FIN, both directions shut, a reset.
 */
static void check_stream_life(void)
{
	int lst = listener(5010, 1), srv = -1, cli = connected(lst, 5010, &srv), v = -1;
	char b[16];

	expect_mask("stream-fresh-mask", cli, M_WRITE);
	send(srv, "hello", 5, 0);
	pause_ms(50);
	expect_mask("stream-data-mask", cli, M_DATA | M_WRITE);
	ioctl(cli, SIOCINQ, &v);
	expect_value("stream-siocinq", v, 5);
	shutdown(srv, SHUT_WR);
	pause_ms(50);
	expect_mask("stream-peer-fin-mask", cli, M_DATA | M_WRITE | POLLRDHUP);
	expect_value("stream-recv-data", recv(cli, b, sizeof(b), 0), 5);
	expect_value("stream-recv-eof", recv(cli, b, sizeof(b), 0), 0);
	shutdown(cli, SHUT_WR);
	pause_ms(50);
	/* Linux keeps POLLOUT after SHUT_WR, so that a writer goes on to meet EPIPE. */
	expect_mask("stream-both-shut-mask", cli, M_DATA | M_WRITE | POLLRDHUP | POLLHUP);
	expect_mask("stream-both-shut-peer-mask", srv, M_DATA | M_WRITE | POLLRDHUP | POLLHUP);
	close(cli);
	close(srv);

	/* The peer closed; our next segment meets its reset (we were in CLOSE-WAIT). */
	cli = connected(lst, 5010, &srv);
	close(srv);
	pause_ms(50);
	expect_mask("stream-peer-closed-mask", cli, M_DATA | M_WRITE | POLLRDHUP);
	expect_value("stream-send-to-closed-peer", send(cli, "x", 1, 0), 1);
	pause_ms(50);
	expect_mask("stream-reset-mask", cli, M_DATA | M_WRITE | POLLRDHUP | POLLHUP | POLLERR);
	expect("stream-send-after-reset", send(cli, "x", 1, 0), EPIPE);
	expect_value("stream-recv-after-reset", recv(cli, b, 1, 0), 0);
	close(cli);

	/* The peer closed with our data unread: a reset, ECONNRESET once, then end of file. */
	cli = connected(lst, 5010, &srv);
	send(cli, "abc", 3, 0);
	pause_ms(20);
	close(srv);
	pause_ms(50);
	expect_mask("stream-reset-unread-mask", cli,
		    M_DATA | M_WRITE | POLLRDHUP | POLLHUP | POLLERR);
	expect("stream-recv-reset", recv(cli, b, 1, 0), ECONNRESET);
	expect_value("stream-recv-after-reset-eof", recv(cli, b, 1, 0), 0);
	close(cli);

	/* MSG_WAITALL waits for the whole request, across two segments. */
	cli = connected(lst, 5010, &srv);
	if (fork() == 0) {
		pause_ms(100);
		send(srv, "abc", 3, 0);
		pause_ms(100);
		send(srv, "def", 3, 0);
		_exit(0);
	}
	expect_value("stream-recv-waitall", recv(cli, b, 6, MSG_WAITALL), 6);
	wait(NULL);
	close(cli);
	close(srv);
	close(lst);
}

/* Datagram details: MSG_TRUNC, ICMP port unreachable on a connected socket. */
static void check_datagrams(void)
{
	struct sockaddr_in closed = loopback(5011), open = loopback(5012);
	int c = socket(AF_INET, SOCK_DGRAM, 0), rx = socket(AF_INET, SOCK_DGRAM, 0);
	int tx = socket(AF_INET, SOCK_DGRAM, 0);
	char b[8];

	bind(rx, (struct sockaddr *)&open, sizeof(open));
	sendto(tx, "hello", 5, 0, (struct sockaddr *)&open, sizeof(open));
	pause_ms(20);
	expect_value("udp-recv-msg-trunc", recv(rx, b, 2, MSG_TRUNC | MSG_DONTWAIT), 5);
	connect(c, (struct sockaddr *)&closed, sizeof(closed));
	expect_value("udp-send-to-closed-port", send(c, "x", 1, 0), 1);
	pause_ms(50);
	expect("udp-port-unreachable-refuses", recv(c, b, 1, MSG_DONTWAIT), ECONNREFUSED);
	close(c);
	close(rx);
	close(tx);
}

/* Addresses: autobind takes an ephemeral port, all of 127/8 is local. */
static void check_addresses(void)
{
	struct sockaddr_in a = loopback(5013), n;
	int lst = listener(5014, 1), srv = -1, cli = connected(lst, 5014, &srv), fd;
	socklen_t len = sizeof(n);

	getsockname(cli, (struct sockaddr *)&n, &len);
	check("autobind-ephemeral-range", ntohs(n.sin_port) >= 32768 && ntohs(n.sin_port) <= 60999);
	a.sin_addr.s_addr = htonl(0x7f000002);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	check("bind-127.0.0.2", bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	close(fd);
	close(cli);
	close(srv);
	close(lst);
}

/* Connecting, accepting and the calls that do not fit a socket's state. */
static void check_connect_accept(void)
{
	struct sockaddr_in a = loopback(5020), n;
	int lst = listener(5020, 1), nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), srv;
	socklen_t len = sizeof(n);
	char b[8];

	fcntl(lst, F_SETFL, O_NONBLOCK);
	expect("accept-nothing-pending", accept(lst, NULL, NULL), EAGAIN);
	expect("connect-nonblocking", connect(nb, (struct sockaddr *)&a, sizeof(a)), EINPROGRESS);
	pause_ms(50);
	/* The first connect() after the handshake says it is done; later ones EISCONN. */
	expect_value("connect-again-completes", connect(nb, (struct sockaddr *)&a, sizeof(a)), 0);
	expect("connect-again-isconn", connect(nb, (struct sockaddr *)&a, sizeof(a)), EISCONN);
	expect_mask("listener-pending-mask", lst, M_DATA);
	srv = accept4(lst, NULL, NULL, SOCK_NONBLOCK);
	check("accept4-nonblock", srv >= 0 && (fcntl(srv, F_GETFL) & O_NONBLOCK));
	expect("recv-accepted-empty", recv(srv, b, 1, 0), EAGAIN);
	expect("recv-on-listener", recv(lst, b, 1, MSG_DONTWAIT), ENOTCONN);
	expect("listen-on-connected", listen(nb, 1), EINVAL);
	expect("bind-connected", bind(nb, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	getpeername(nb, (struct sockaddr *)&n, &len);
	expect_value("getpeername-port", ntohs(n.sin_port), 5020);
	len = sizeof(n);
	getsockname(srv, (struct sockaddr *)&n, &len);
	expect_value("accepted-getsockname-port", ntohs(n.sin_port), 5020);
	close(srv);
	close(nb);
	close(lst);
}

/* Reading a stream: MSG_PEEK leaves the data, MSG_TRUNC drops it; SHUT_RD drops none. */
static void check_stream_reads(void)
{
	int lst = listener(5021, 1), srv = -1, cli = connected(lst, 5021, &srv), v = -1;
	char b[64];

	memset(b, 'x', sizeof(b));
	send(cli, b, sizeof(b), 0);
	pause_ms(50);
	expect_value("peek-stream", recv(srv, b, 10, MSG_PEEK), 10);
	ioctl(srv, SIOCINQ, &v);
	expect_value("peek-leaves-data", v, 64);
	expect_value("trunc-stream", recv(srv, b, 10, MSG_TRUNC), 10);
	ioctl(srv, SIOCINQ, &v);
	expect_value("trunc-stream-drops", v, 54);
	/* Linux's SHUT_RD discards nothing: what is queued is still read, then end of file. */
	shutdown(srv, SHUT_RD);
	expect_mask("shut-rd-mask", srv, M_DATA | M_WRITE | POLLRDHUP);
	expect_value("shut-rd-keeps-data", recv(srv, b, sizeof(b), MSG_DONTWAIT), 54);
	expect_value("shut-rd-then-eof", recv(srv, b, sizeof(b), MSG_DONTWAIT), 0);
	shutdown(cli, SHUT_WR);
	expect("send-after-shut-wr", send(cli, "x", 1, 0), EPIPE);
	expect_value("shutdown-twice", shutdown(cli, SHUT_WR), 0);
	close(cli);
	close(srv);
	close(lst);
}

/* Datagram queue lengths and empty datagrams. */
static void check_datagram_queue(void)
{
	struct sockaddr_in a = loopback(5022);
	int u = socket(AF_INET, SOCK_DGRAM, 0), v = -1;
	char b[8];

	bind(u, (struct sockaddr *)&a, sizeof(a));
	ioctl(u, FIONREAD, &v);
	expect_value("udp-fionread-empty", v, 0);
	sendto(u, "abc", 3, 0, (struct sockaddr *)&a, sizeof(a));
	sendto(u, "defgh", 5, 0, (struct sockaddr *)&a, sizeof(a));
	sendto(u, "", 0, 0, (struct sockaddr *)&a, sizeof(a));
	pause_ms(20);
	ioctl(u, FIONREAD, &v);
	expect_value("udp-fionread-next-datagram", v, 3);
	expect_value("udp-recv-first", recv(u, b, sizeof(b), 0), 3);
	expect_value("udp-recv-second", recv(u, b, sizeof(b), 0), 5);
	expect_value("udp-recv-empty-datagram", recv(u, b, sizeof(b), MSG_DONTWAIT), 0);
	expect("udp-recv-then-nothing", recv(u, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	close(u);
}

static struct sockaddr_in addr_of(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* bind(2) on a fresh socket of @type to @ip:@port; the socket stays open in *fd. */
static long bind_to(int type, const char *ip, int port, int *fd)
{
	struct sockaddr_in a = addr_of(ip, port);

	*fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
	return bind(*fd, (struct sockaddr *)&a, sizeof(a));
}

/* Source addresses and what may be bound, on the guest's 10.0.2.15/24 (gateway .2). */
static void check_source_addresses(void)
{
	struct sockaddr_in gw = addr_of("10.0.2.2", 53), lo = addr_of("127.0.0.1", 9), n;
	struct sockaddr_in own = addr_of("10.0.2.15", 5031);
	socklen_t len = sizeof(n);
	int fd[10], i, e;
	char ip[INET_ADDRSTRLEN] = "";

	/* A connected datagram socket reports the source address its route gives. */
	fd[0] = socket(AF_INET, SOCK_DGRAM, 0);
	connect(fd[0], (struct sockaddr *)&gw, sizeof(gw));
	getsockname(fd[0], (struct sockaddr *)&n, &len);
	inet_ntop(AF_INET, &n.sin_addr, ip, sizeof(ip));
	if (!strcmp(ip, "10.0.2.15") && n.sin_port) {
		check("udp-connected-getsockname", 1);
	} else {
		printf("BADINPUT udp-connected-getsockname FAIL %s:%d\n", ip, ntohs(n.sin_port));
		failures++;
	}
	/* A loopback source never leaves through eth0; eth0's address reaches loopback. */
	bind_to(SOCK_STREAM, "127.0.0.1", 0, &fd[1]);
	expect("tcp-loopback-source-out", connect(fd[1], (struct sockaddr *)&gw, sizeof(gw)),
	       EINVAL);
	bind_to(SOCK_DGRAM, "127.0.0.1", 0, &fd[2]);
	expect("udp-loopback-source-out", sendto(fd[2], "x", 1, 0, (struct sockaddr *)&gw,
						 sizeof(gw)), EINVAL);
	bind_to(SOCK_DGRAM, "10.0.2.15", 0, &fd[3]);
	expect_value("udp-eth-source-to-loopback",
		     sendto(fd[3], "x", 1, 0, (struct sockaddr *)&lo, sizeof(lo)), 1);
	/* Binding: the same port on two addresses, then the wildcard over them. */
	bind_to(SOCK_DGRAM, "127.0.0.1", 5030, &fd[4]);
	expect_value("udp-bind-port-on-second-address", bind_to(SOCK_DGRAM, "10.0.2.15", 5030,
								 &fd[5]), 0);
	expect("udp-bind-wildcard-over-them", bind_to(SOCK_DGRAM, "0.0.0.0", 5030, &fd[6]),
	       EADDRINUSE);
	expect("bind-foreign-address", bind_to(SOCK_STREAM, "10.0.2.99", 0, &fd[7]),
	       EADDRNOTAVAIL);
	/* Linux's inet_bind takes broadcast addresses, the subnet's too, for any type. */
	expect_value("tcp-bind-subnet-broadcast", bind_to(SOCK_STREAM, "10.0.2.255", 0, &fd[8]),
		     0);
	expect_value("udp-bind-subnet-broadcast", bind_to(SOCK_DGRAM, "10.0.2.255", 5032,
							   &fd[9]), 0);
	for (i = 0; i < 10; i++)
		close(fd[i]);
	/* Our own address, nobody listening: refused, as over loopback. */
	fd[0] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(fd[0], (struct sockaddr *)&own, sizeof(own));
	pause_ms(100);
	e = intopt(fd[0], SOL_SOCKET, SO_ERROR);
	expect_value("connect-own-address-refused", e, ECONNREFUSED);
	close(fd[0]);
}

/* A raw ICMP socket: ping 127.0.0.1 by hand; it sees the request and the reply. */
static void check_raw_icmp(void)
{
	struct sockaddr_in lo = loopback(0), n;
	unsigned char ping[16] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1, 'h', 'i' }, b[128];
	unsigned int sum = 0;
	socklen_t len = sizeof(n);
	int r = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), i, v = -1;
	long got[2];

	for (i = 0; i < 16; i += 2)
		sum += ping[i] << 8 | ping[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~(sum + (sum >> 16)) & 0xffff;
	ping[2] = sum >> 8;
	ping[3] = sum;
	expect_value("raw-icmp-sendto", sendto(r, ping, 16, 0, (struct sockaddr *)&lo, sizeof(lo)),
		     16);
	pause_ms(50);
	for (i = 0; i < 2; i++) {
		got[i] = recv(r, b, sizeof(b), MSG_DONTWAIT);
		/* With its IP header: the ICMP type follows it. */
		if (got[i] == 36)
			got[i] = b[(b[0] & 15) * 4];
	}
	expect_value("raw-icmp-sees-request", got[0], ICMP_ECHO);
	expect_value("raw-icmp-sees-reply", got[1], ICMP_ECHOREPLY);
	expect("raw-icmp-then-nothing", recv(r, b, sizeof(b), MSG_DONTWAIT), EAGAIN);
	ioctl(r, FIONREAD, &v);
	expect_value("raw-icmp-fionread-empty", v, 0);
	/* Linux reports the protocol as a raw socket's port. */
	getsockname(r, (struct sockaddr *)&n, &len);
	expect_value("raw-icmp-getsockname-port", ntohs(n.sin_port), IPPROTO_ICMP);
	connect(r, (struct sockaddr *)&lo, sizeof(lo));
	expect_value("raw-icmp-send-connected", send(r, ping, 16, 0), 16);
	close(r);
}

static int check_options_take_effect(void)
{
	signal(SIGPIPE, SIG_IGN);
	check_so_error();
	check_linger_reset();
	check_reuseaddr();
	check_broadcast();
	check_bindtodevice_filters();
	check_identity_and_inheritance();
	check_stream_life();
	check_datagrams();
	check_addresses();
	check_connect_accept();
	check_stream_reads();
	check_datagram_queue();
	check_source_addresses();
	check_raw_icmp();
	printf("BADINPUT-DONE %d\n", failures);
	return failures != 0;
}

/* MemFree (KiB, from /proc/meminfo): what a leak of kernel memory would eat. */
static long free_kib(void)
{
	char line[128];
	long v, sum = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld", &v) == 1)
			sum += v;
	if (f)
		fclose(f);
	return sum;
}

/* Connections still in /proc/net/tcp other than listeners. */
static int busy_tcp(void)
{
	char line[256], st[8];
	int n = 0;
	FILE *f = fopen("/proc/net/tcp", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %7s", st) == 1 && strcmp(st, "0A") && strcmp(st, "st"))
			n++;
	if (f)
		fclose(f);
	return n;
}

/*
 * @n loopback connections (a request and a reply each) and @n datagram sockets; returns how
 * many of the connections completed their exchange and how many datagrams were sent, so
 * that a stack whose connect() broke cannot pass the leak check by opening nothing.
 */
static int churn(int n)
{
	int lst = listener(5040, 1), i, srv, cli, u, done = 0;
	struct sockaddr_in a = loopback(5041);
	char b[16];

	for (i = 0; lst >= 0 && i < n; i++) {
		cli = connected(lst, 5040, &srv);
		if (cli >= 0 && srv >= 0 && send(cli, "ping", 4, 0) == 4 &&
		    recv(srv, b, sizeof(b), 0) == 4 && !memcmp(b, "ping", 4) &&
		    send(srv, "pong", 4, 0) == 4 && recv(cli, b, sizeof(b), 0) == 4 &&
		    !memcmp(b, "pong", 4))
			done++;
		if (cli >= 0)
			close(cli);
		if (cli >= 0 && srv >= 0)
			close(srv);
		u = socket(AF_INET, SOCK_DGRAM, 0);
		if (u >= 0 && sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1)
			done++;
		if (u >= 0)
			close(u);
	}
	if (lst >= 0)
		close(lst);
	/* Until every connection has left TIME-WAIT (Linux: 60 s, rinet: 10 s). */
	for (i = 0; i < 750 && busy_tcp(); i++)
		pause_ms(100);
	return done;
}

/*
 * Sockets and connections come and go without eating memory: after a first round (which
 * fills caches and tables to their working size), a second of the same size must leave
 * free memory where it found it, within 256 KiB: 256 bytes a connection, less than any
 * socket of either stack costs, and above the slab and page-cache drift that Linux INET
 * itself shows (88 KiB measured).
 */
static int check_no_leak(void)
{
	long before, after;
	int first, second;

	time_t start = time(NULL);

	first = churn(1000);
	before = free_kib();
	second = churn(1000);
	after = free_kib();
	if (first != 2000 || second != 2000) {
		printf("BADINPUT sockets-do-not-leak FAIL only %d and %d of 2000 exchanges completed\n",
		       first, second);
		failures++;
	} else if (before - after <= 256) {
		printf("BADINPUT sockets-do-not-leak PASS %ld KiB (%ld s)\n", before - after,
		       (long)(time(NULL) - start));
	} else {
		printf("BADINPUT sockets-do-not-leak FAIL %ld KiB less free after 1000 more connections\n",
		       before - after);
		failures++;
	}
	printf("BADINPUT-DONE %d\n", failures);
	return failures != 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242) };
	struct sockaddr_in wrong = { .sin_family = AF_INET6 };
	struct arpreq ar;
	struct ifreq ifr;
	socklen_t len = sizeof(int);
	int v = 1, tcp, udp, lst;
	char buf[64];

	/* Line by line, so that the console shows how far a slow guest got. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (argc > 1 && !strcmp(argv[1], "options"))
		return check_options_take_effect();
	if (argc > 1 && !strcmp(argv[1], "leak"))
		return check_no_leak();
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
