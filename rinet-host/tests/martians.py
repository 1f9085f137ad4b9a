# Martian frames for a peer stack on a link (a TAP device), sent through an AF_PACKET
# socket, then a real echo request as a control; prints how many frames the peer sent
# back after each ("martians answered N", "control answered N"). None may be answered by
# anything: reply, reset, ARP request or reply. Each IP class goes as a TCP SYN to port 80,
# an echo request and a UDP datagram to port 7.
# Usage: martians.py IFACE PEER_MAC PEER_IP OWN_IP (as root, in the link's namespace).
# Used by rinet-host's interop tests and by the guest suite (xtask/src/guest/tap.rs).
import socket, struct, sys, time
IFACE, PEER, OWN = sys.argv[1], sys.argv[3], sys.argv[4]
RMAC = bytes.fromhex(sys.argv[2].replace(':', ''))
LMAC = bytes.fromhex(open('/sys/class/net/%s/address' % IFACE).read().strip().replace(':', ''))
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ip(src, dst, proto, l4):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return RMAC + LMAC + b'\x08\x00' + h[:10] + struct.pack('!H', csum(h)) + h[12:] + l4
def syn(src, dst):
    t = struct.pack('!HHIIBBHHH', 4000, 80, 1000, 0, 5 << 4, 2, 8192, 0, 0)
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, len(t))
    return t[:16] + struct.pack('!H', csum(ph + t)) + t[18:]
def echo(code):
    m = struct.pack('!BBHHH', 8, code, 0, 0x1234, 1) + b'martian'
    return m[:2] + struct.pack('!H', csum(m)) + m[4:]
def udp(port):
    return struct.pack('!HHHH', 4001, port, 8 + 7, 0) + b'martian'
def arp(sender, target):
    return (b'\xff' * 6 + LMAC + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1)
            + LMAC + socket.inet_aton(sender) + b'\0' * 6 + socket.inet_aton(target))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((IFACE, 0))
s.settimeout(0.1)
def answers(seconds):
    n, end = 0, time.time() + seconds
    while time.time() < end:
        try:
            f = s.recv(2048)
        except socket.timeout:
            continue
        if f[6:12] != RMAC:
            continue
        # The peer's DHCP client renews its lease on its own schedule (the guest suite's
        # leases are short): UDP from port 68 to port 67 answers nothing sent here.
        l4 = 14 + (f[14] & 0xf) * 4
        if f[12:14] == b'\x08\x00' and f[23] == 17:
            if f[l4:l4 + 4] == struct.pack('!HH', 68, 67):
                print('ignored: the peer\'s DHCP client', f[:42].hex())
                continue
        # Nor do the peer's own pings (the guest's checks ping the host now and then).
        if f[12:14] == b'\x08\x00' and f[23] == 1 and f[l4] == 8:
            print('ignored: the peer\'s own echo request', f[:42].hex())
            continue
        n += 1
        print('answer', f[:42].hex())
    return n
# Each frame with the drop counter the peer must count it under (its /proc/net/snmp
# RinetDrops name); the tests read the expected counts from the 'expect' line.
expect = {}
def count(reason):
    expect[reason] = expect.get(reason, 0) + 1
for src, dst, reason in [('127.0.0.1', PEER, 'MartianSrcLoopback'), (PEER, PEER, 'MartianSrcLocal'),
                         ('0.0.0.0', PEER, 'MartianSrcZero'), ('224.0.0.1', PEER, 'MartianSrcMulticast'),
                         ('255.255.255.255', PEER, 'MartianSrcBroadcast'), ('240.0.0.1', PEER, 'MartianSrcClassE'),
                         (OWN, '0.0.0.0', 'MartianDstZero'), (OWN, '127.0.0.1', 'MartianDstLoopback')]:
    s.send(ip(src, dst, 6, syn(src, dst)))
    s.send(ip(src, dst, 1, echo(0)))
    s.send(ip(src, dst, 17, udp(7)))
    for _ in range(3):
        count(reason)
for sender, reason in [(PEER, 'ArpSenderLocal'), ('127.0.0.1', 'ArpSenderLocal'), ('224.0.0.5', 'ArpMartian')]:
    s.send(arp(sender, PEER))
    count(reason)
print('expect', ' '.join('%s=%d' % kv for kv in sorted(expect.items())))
print('martians answered', answers(1.5))
s.send(ip(OWN, PEER, 1, echo(0)))
print('control answered', answers(0.5))
