# Answers that differ by code or port: echo requests of codes 9, 0 and 255 to PEER (Linux
# answers each with an echo reply of the same code), then three datagrams to UDP port 9,
# where nothing listens (each is refused: a port unreachable comes back), then, with
# ECHO_PORT, one datagram to a UDP echo service there. Prints one line per answer.
# Usage: codes.py PEER [ECHO_PORT] (as root: raw ICMP socket).
import socket, struct, sys
PEER = sys.argv[1]
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
for code in (9, 0, 255):
    m = struct.pack('!BBHHH', 8, code, 0, 0x4242, code) + b'codes!'
    s.sendto(m[:2] + struct.pack('!H', csum(m)) + m[4:], (PEER, 0))
    while True:
        p = s.recv(256)[20:]
        if p[0] == 0 and p[4:6] == b'\x42\x42':
            break
    print('reply', p[0], p[1], csum(p), p[8:] == b'codes!')
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
u.connect((PEER, 9))
for i in range(3):
    u.send(b'nobody')
    try:
        u.recv(64)
    except ConnectionRefusedError:
        print('refused')
if len(sys.argv) > 2:
    u.connect((PEER, int(sys.argv[2])))
    u.send(b'echo')
    print('echoed', u.recv(64))
