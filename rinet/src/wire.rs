//! Wire formats rinet inspects itself, apart from the engine: the receive-path classifier
//! (validation and drop accounting before any frame reaches the protocol engine) and the
//! transmit-path observer (segment counters). Parsing never indexes out of bounds: every
//! access goes through `get`, so a truncated or malformed frame can only be dropped.

use crate::addr::{Endpoint, Ipv4};

pub const ETH_HDR_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// IP protocol numbers: the IPv4 header's protocol field, and the `protocol` argument of
/// `socket(2)` (where `IPPROTO_IP`, 0, asks for the socket type's default).
pub const IPPROTO_IP: u8 = 0;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_RAW: u8 = 255;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// Why a received frame was dropped before reaching the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DropReason {
    /// Shorter than the headers it claims to carry.
    Truncated = 0,
    /// An EtherType the stack does not speak (IPv6, VLAN, ...).
    UnknownEthertype = 1,
    /// IPv4 version/IHL/total length inconsistent.
    BadIpHeader = 2,
    BadIpChecksum = 3,
    /// IPv4 fragments: reassembly is not supported.
    Fragment = 4,
    BadL4Header = 5,
    BadL4Checksum = 6,
    /// Malformed ARP packet.
    BadArp = 7,
    /// A SYN for a listener whose accept backlog is full (Linux: ListenOverflows).
    ListenOverflow = 8,
    /// Martian source (below, up to `MartianDstLoopback`: on a non-loopback interface, as
    /// Linux's `ip_route_input_slow` finds them): multicast.
    MartianSrcMulticast = 9,
    /// For an address this host no longer has (kept only so that connections using it
    /// can resume if it returns). Linux counts these as InAddrErrors.
    NotLocal = 10,
    /// A SYN for a connection that already exists (a retransmission whose SYN-ACK was
    /// lost, or a peer that restarted): the connection answers on its own timers.
    DuplicateSyn = 11,
    /// A SYN while the SYN queue is full of half-open connections too young to evict
    /// (Linux: TCPReqQFullDrop).
    SynQueueFull = 12,
    /// Martian source: the limited broadcast.
    MartianSrcBroadcast = 13,
    /// Martian source: 0.0.0.0/8 (0.0.0.0 is allowed towards the limited broadcast only:
    /// DHCP and BOOTP clients).
    MartianSrcZero = 14,
    /// Martian source: 127.0.0.0/8.
    MartianSrcLoopback = 15,
    /// Martian source: an address of this host.
    MartianSrcLocal = 16,
    /// Source in 240.0.0.0/4, reserved. Linux 6.12 accepts these (rinet does not).
    MartianSrcClassE = 17,
    /// Martian destination: 0.0.0.0/8.
    MartianDstZero = 18,
    /// Martian destination: 127.0.0.0/8.
    MartianDstLoopback = 19,
    /// ARP whose sender is an address of this host ("who-has A tell A" from another).
    ArpSenderLocal = 20,
    /// ARP whose sender or target address is martian (0.0.0.0, a probe, is not).
    ArpMartian = 21,
}

pub const DROP_REASONS: usize = 22;

/// The names of the [`DropReason`]s, in their order, NUL-terminated: the kernel glue's
/// `/proc/net/snmp` takes them from here (`rinet_drop_name`).
pub const DROP_NAMES: [&core::ffi::CStr; DROP_REASONS] = [
    c"Truncated",
    c"UnknownEthertype",
    c"BadIpHeader",
    c"BadIpChecksum",
    c"Fragment",
    c"BadL4Header",
    c"BadL4Checksum",
    c"BadArp",
    c"ListenOverflow",
    c"MartianSrcMulticast",
    c"NotLocal",
    c"DuplicateSyn",
    c"SynQueueFull",
    c"MartianSrcBroadcast",
    c"MartianSrcZero",
    c"MartianSrcLoopback",
    c"MartianSrcLocal",
    c"MartianSrcClassE",
    c"MartianDstZero",
    c"MartianDstLoopback",
    c"ArpSenderLocal",
    c"ArpMartian",
];

/// Why a packet from `src` to `dst` received on a non-loopback interface is a martian,
/// if it is, by the rules of Linux's `ip_route_input_slow` (with `rp_filter`,
/// `route_localnet` and `accept_local` off), and class E sources besides. The check
/// against the host's own addresses is the caller's.
pub fn martian(src: Ipv4, dst: Ipv4) -> Option<DropReason> {
    use DropReason::*;
    let (s, d) = (src.0[0], dst.0[0]);
    Some(if src.is_broadcast() {
        MartianSrcBroadcast
    } else if src.is_multicast() {
        MartianSrcMulticast
    } else if src.is_any() && dst.is_broadcast() {
        return None;
    } else if s == 0 {
        MartianSrcZero
    } else if d == 0 {
        MartianDstZero
    } else if d == 127 {
        MartianDstLoopback
    } else if s == 127 {
        MartianSrcLoopback
    } else if s >= 240 {
        MartianSrcClassE
    } else {
        return None;
    })
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4,
    pub target_ip: Ipv4,
}

/// The transport header fields the socket layer and counters need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        payload_len: usize,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    Icmp {
        ty: u8,
        code: u8,
        /// An error message's quote of the datagram it answers.
        quoted: Option<Quoted>,
    },
    Other,
}

pub const ICMP_ECHO: u8 = 8;
pub const ICMP_PORT_UNREACH: u8 = 3;
/// ICMP types that report an error about a datagram (RFC 792).
pub const ICMP_DEST_UNREACH: u8 = 3;
pub const ICMP_TIME_EXCEEDED: u8 = 11;
pub const ICMP_PARAMETER_PROB: u8 = 12;

/// The start of the datagram an ICMP error quotes: its protocol, endpoints and (TCP)
/// sequence number, which RFC 792's 64 bits of the original transport header carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    pub proto: u8,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
}

/// The quote of an ICMP error message (`icmp` from its type on); None if too short.
fn quoted(icmp: &[u8]) -> Option<Quoted> {
    let ip = icmp.get(8..)?;
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    let l4 = ip.get(ihl..ihl + 8)?;
    Some(Quoted {
        proto: *ip.get(9)?,
        src: Endpoint::new(ip4(ip, 12)?, be16(l4, 0)?),
        dst: Endpoint::new(ip4(ip, 16)?, be16(l4, 2)?),
        seq: be32(l4, 4)?,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Info {
    pub src: Ipv4,
    pub dst: Ipv4,
    pub proto: u8,
    pub transport: Transport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    Arp(Arp),
    Ipv4(Ipv4Info),
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

fn ip4(b: &[u8], at: usize) -> Option<Ipv4> {
    Some(Ipv4(b.get(at..at + 4)?.try_into().ok()?))
}

/// One's-complement sum of `data`, folded into 16 bits by the caller.
pub fn csum_add(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

pub fn csum_fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn pseudo_header_sum(src: Ipv4, dst: Ipv4, proto: u8, len: usize) -> u32 {
    let acc = csum_add(csum_add(0, &src.0), &dst.0);
    acc + u32::from(proto) + (len as u32 & 0xffff) + (len as u32 >> 16)
}

/// Build a 20-byte IPv4 header without options (for raw sockets).
pub fn ipv4_header(src: Ipv4, dst: Ipv4, proto: u8, ttl: u8, payload_len: usize) -> [u8; 20] {
    let total = (20 + payload_len) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[6] = 0x40; // DF: rinet never fragments.
    h[8] = ttl;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.0);
    h[16..20].copy_from_slice(&dst.0);
    let c = csum_fold(csum_add(0, &h));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// The echo reply to an echo request `req` (an IPv4 packet), as Linux's `icmp_echo` makes
/// it: the request's ICMP message, code and all, with type 0, in a new IPv4 header.
pub fn echo_reply(req: &[u8]) -> Option<alloc::vec::Vec<u8>> {
    let ihl = usize::from(*req.first()? & 0x0f) * 4;
    let icmp = req.get(ihl..usize::from(be16(req, 2)?))?;
    let mut p = alloc::vec::Vec::new();
    p.try_reserve(20 + icmp.len()).ok()?;
    p.extend_from_slice(&ipv4_header(
        ip4(req, 16)?,
        ip4(req, 12)?,
        IPPROTO_ICMP,
        64,
        icmp.len(),
    ));
    p.extend_from_slice(icmp);
    p[20] = 0;
    p[22..24].copy_from_slice(&[0, 0]);
    let sum = csum_fold(csum_add(0, &p[20..]));
    p[22..24].copy_from_slice(&sum.to_be_bytes());
    Some(p)
}

pub const TCP_SEGMENT_LEN: usize = 40;

/// An IPv4 packet with a TCP header and no options or payload, checksums filled in.
pub fn tcp_segment(
    src: Endpoint,
    dst: Endpoint,
    (seq, ack): (u32, u32),
    flags: u8,
    window: u16,
) -> [u8; TCP_SEGMENT_LEN] {
    let mut p = [0u8; TCP_SEGMENT_LEN];
    p[..20].copy_from_slice(&ipv4_header(src.addr, dst.addr, IPPROTO_TCP, 64, 20));
    let tcp = &mut p[20..];
    tcp[0..2].copy_from_slice(&src.port.to_be_bytes());
    tcp[2..4].copy_from_slice(&dst.port.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&window.to_be_bytes());
    let sum = csum_fold(csum_add(
        pseudo_header_sum(src.addr, dst.addr, IPPROTO_TCP, 20),
        tcp,
    ));
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    p
}

pub const ARP_FRAME_LEN: usize = ETH_HDR_LEN + 28;
pub const ARP_OP_REQUEST: u16 = 1;
pub const ARP_OP_REPLY: u16 = 2;
pub const MAC_BROADCAST: [u8; 6] = [0xff; 6];
/// 224.0.0.1, the group every IPv4 host is in.
pub const ALL_SYSTEMS: Ipv4 = Ipv4([224, 0, 0, 1]);

/// Write an Ethernet header for an IPv4 packet from `src` to `dst` into `h`.
pub fn eth_header(h: &mut [u8], dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    h[0..6].copy_from_slice(&dst);
    h[6..12].copy_from_slice(&src);
    h[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// The Ethernet address IPv4 multicast group `a` is sent to (RFC 1112).
pub fn multicast_mac(a: Ipv4) -> [u8; 6] {
    [0x01, 0x00, 0x5e, a.0[1] & 0x7f, a.0[2], a.0[3]]
}

/// An Ethernet ARP packet of operation `op` from `sender` to `target` (each a MAC and an
/// IPv4 address); a request goes to the broadcast address, with the target MAC unknown.
pub fn arp_frame(op: u16, sender: ([u8; 6], Ipv4), target: ([u8; 6], Ipv4)) -> [u8; ARP_FRAME_LEN] {
    let mut f = [0u8; ARP_FRAME_LEN];
    let to = if op == ARP_OP_REQUEST {
        MAC_BROADCAST
    } else {
        target.0
    };
    eth_header(&mut f, to, sender.0, ETHERTYPE_ARP);
    f[14..20].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
    f[20..22].copy_from_slice(&op.to_be_bytes());
    f[22..28].copy_from_slice(&sender.0);
    f[28..32].copy_from_slice(&sender.1 .0);
    if op != ARP_OP_REQUEST {
        f[32..38].copy_from_slice(&target.0);
    }
    f[38..42].copy_from_slice(&target.1 .0);
    f
}

/// Validate an IPv4 packet (no link header) and extract what the stack inspects.
/// `verify_csum` is false on loopback, where checksums are never computed.
pub fn parse_ipv4(p: &[u8], verify_csum: bool) -> Result<Ipv4Info, DropReason> {
    let vihl = *p.first().ok_or(DropReason::Truncated)?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < 20 {
        return Err(DropReason::BadIpHeader);
    }
    let total = usize::from(be16(p, 2).ok_or(DropReason::Truncated)?);
    if p.len() < ihl {
        return Err(DropReason::Truncated);
    }
    if total < ihl {
        return Err(DropReason::BadIpHeader);
    }
    if p.len() < total {
        return Err(DropReason::Truncated);
    }
    if verify_csum && csum_fold(csum_add(0, &p[..ihl])) != 0 {
        return Err(DropReason::BadIpChecksum);
    }
    let frag = be16(p, 6).ok_or(DropReason::Truncated)?;
    if frag & 0x3fff != 0 {
        return Err(DropReason::Fragment);
    }
    let src = ip4(p, 12).ok_or(DropReason::Truncated)?;
    let dst = ip4(p, 16).ok_or(DropReason::Truncated)?;
    let proto = p[9];
    let l4 = &p[ihl..total];
    let transport = parse_transport(src, dst, proto, l4, verify_csum)?;
    Ok(Ipv4Info {
        src,
        dst,
        proto,
        transport,
    })
}

fn parse_transport(
    src: Ipv4,
    dst: Ipv4,
    proto: u8,
    l4: &[u8],
    verify_csum: bool,
) -> Result<Transport, DropReason> {
    let bad_sum = |sum_field_set: bool| {
        verify_csum
            && sum_field_set
            && csum_fold(csum_add(pseudo_header_sum(src, dst, proto, l4.len()), l4)) != 0
    };
    match proto {
        IPPROTO_TCP => {
            let off = usize::from(*l4.get(12).ok_or(DropReason::Truncated)? >> 4) * 4;
            if off < 20 {
                return Err(DropReason::BadL4Header);
            }
            if l4.len() < off {
                return Err(DropReason::Truncated);
            }
            if bad_sum(true) {
                return Err(DropReason::BadL4Checksum);
            }
            Ok(Transport::Tcp {
                src_port: be16(l4, 0).ok_or(DropReason::Truncated)?,
                dst_port: be16(l4, 2).ok_or(DropReason::Truncated)?,
                seq: be32(l4, 4).ok_or(DropReason::Truncated)?,
                ack: be32(l4, 8).ok_or(DropReason::Truncated)?,
                flags: l4[13],
                payload_len: l4.len() - off,
            })
        }
        IPPROTO_UDP => {
            let len = usize::from(be16(l4, 4).ok_or(DropReason::BadL4Header)?);
            if len < 8 || len > l4.len() {
                return Err(DropReason::BadL4Header);
            }
            // A zero UDP checksum means "not computed" (RFC 768).
            let field = be16(l4, 6).ok_or(DropReason::Truncated)?;
            if len == l4.len() && bad_sum(field != 0) {
                return Err(DropReason::BadL4Checksum);
            }
            Ok(Transport::Udp {
                src_port: be16(l4, 0).ok_or(DropReason::Truncated)?,
                dst_port: be16(l4, 2).ok_or(DropReason::Truncated)?,
            })
        }
        IPPROTO_ICMP => {
            if l4.len() < 8 {
                return Err(DropReason::BadL4Header);
            }
            if verify_csum && csum_fold(csum_add(0, l4)) != 0 {
                return Err(DropReason::BadL4Checksum);
            }
            let ty = l4[0];
            let error = matches!(
                ty,
                ICMP_DEST_UNREACH | ICMP_TIME_EXCEEDED | ICMP_PARAMETER_PROB
            );
            Ok(Transport::Icmp {
                ty,
                code: l4[1],
                quoted: if error { quoted(l4) } else { None },
            })
        }
        _ => Ok(Transport::Other),
    }
}

/// Validate an Ethernet frame carrying ARP or IPv4.
pub fn parse_ethernet(f: &[u8], verify_csum: bool) -> Result<Frame, DropReason> {
    let ty = be16(f, 12).ok_or(DropReason::Truncated)?;
    let payload = f.get(ETH_HDR_LEN..).ok_or(DropReason::Truncated)?;
    match ty {
        ETHERTYPE_IPV4 => parse_ipv4(payload, verify_csum).map(Frame::Ipv4),
        ETHERTYPE_ARP => parse_arp(payload).map(Frame::Arp),
        _ => Err(DropReason::UnknownEthertype),
    }
}

fn parse_arp(p: &[u8]) -> Result<Arp, DropReason> {
    if p.len() < 28 {
        return Err(DropReason::Truncated);
    }
    // htype Ethernet, ptype IPv4, hlen 6, plen 4.
    if p[0..6] != [0, 1, 8, 0, 6, 4] {
        return Err(DropReason::BadArp);
    }
    let mut sender_mac = [0u8; 6];
    sender_mac.copy_from_slice(&p[8..14]);
    Ok(Arp {
        op: u16::from_be_bytes([p[6], p[7]]),
        sender_mac,
        sender_ip: ip4(p, 14).ok_or(DropReason::Truncated)?,
        target_ip: ip4(p, 24).ok_or(DropReason::Truncated)?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid TCP SYN from 10.0.0.1:40000 to 10.0.0.2:80 inside an Ethernet frame.
    pub fn tcp_syn_frame() -> [u8; 54] {
        let mut f = [0u8; 54];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let src = Endpoint::new(Ipv4::new(10, 0, 0, 1), 40000);
        let dst = Endpoint::new(Ipv4::new(10, 0, 0, 2), 80);
        f[14..].copy_from_slice(&tcp_segment(src, dst, (1234, 0), TCP_SYN, 1024));
        f
    }

    #[test]
    fn parses_valid_syn() {
        let f = tcp_syn_frame();
        let Ok(Frame::Ipv4(info)) = parse_ethernet(&f, true) else {
            panic!("valid frame rejected")
        };
        assert_eq!(info.dst, Ipv4::new(10, 0, 0, 2));
        assert!(matches!(
            info.transport,
            Transport::Tcp {
                dst_port: 80,
                flags: TCP_SYN,
                payload_len: 0,
                ..
            }
        ));
    }

    #[test]
    fn every_truncation_is_rejected_not_panicking() {
        let f = tcp_syn_frame();
        for n in 0..f.len() {
            assert!(parse_ethernet(&f[..n], true).is_err(), "len {n}");
        }
    }

    #[test]
    fn bad_checksums_and_headers() {
        let mut f = tcp_syn_frame();
        f[14 + 8] ^= 1; // TTL changes: IP checksum breaks
        assert_eq!(parse_ethernet(&f, true), Err(DropReason::BadIpChecksum));
        assert!(parse_ethernet(&f, false).is_ok());
        let mut f = tcp_syn_frame();
        f[50] ^= 0xff; // TCP window: TCP checksum breaks
        assert_eq!(parse_ethernet(&f, true), Err(DropReason::BadL4Checksum));
        let mut f = tcp_syn_frame();
        f[14] = 0x46; // IHL 6 with a 20-byte header: checksum now covers TCP bytes
        assert!(parse_ethernet(&f, true).is_err());
        let mut f = tcp_syn_frame();
        f[14 + 6] = 0x20; // more-fragments
        assert_eq!(parse_ethernet(&f, false), Err(DropReason::Fragment));
        let mut f = tcp_syn_frame();
        f[12] = 0x86;
        f[13] = 0xdd;
        assert_eq!(parse_ethernet(&f, true), Err(DropReason::UnknownEthertype));
    }

    #[test]
    fn icmp_error_quotes_the_datagram() {
        let syn = tcp_syn_frame();
        // Port unreachable from 10.0.0.2 to 10.0.0.1, quoting the SYN's IP header and
        // its first 8 transport bytes.
        let mut icmp = [0u8; 8 + 28];
        icmp[0] = ICMP_DEST_UNREACH;
        icmp[1] = 3;
        icmp[8..].copy_from_slice(&syn[14..14 + 28]);
        let c = csum_fold(csum_add(0, &icmp));
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let mut p = [0u8; 20 + 36];
        let (a, b) = (Ipv4::new(10, 0, 0, 1), Ipv4::new(10, 0, 0, 2));
        p[..20].copy_from_slice(&ipv4_header(b, a, IPPROTO_ICMP, 64, 36));
        p[20..].copy_from_slice(&icmp);
        let info = parse_ipv4(&p, true).unwrap();
        let Transport::Icmp {
            ty: 3,
            code: 3,
            quoted: Some(q),
        } = info.transport
        else {
            panic!("no quote: {:?}", info.transport)
        };
        assert_eq!((q.proto, q.seq), (IPPROTO_TCP, 1234));
        assert_eq!(q.src, Endpoint::new(a, 40000));
        assert_eq!(q.dst, Endpoint::new(b, 80));
        // A quote too short to hold the ports: still a valid ICMP message, no quote.
        let mut short = p;
        short[2..4].copy_from_slice(&(20u16 + 8 + 20 + 2).to_be_bytes());
        let short = &mut short[..50];
        short[10..12].copy_from_slice(&[0, 0]);
        let c = csum_fold(csum_add(0, &short[..20]));
        short[10..12].copy_from_slice(&c.to_be_bytes());
        let info = parse_ipv4(short, false).unwrap();
        assert!(matches!(
            info.transport,
            Transport::Icmp { quoted: None, .. }
        ));
    }

    #[test]
    fn martians_by_linux_rules() {
        use DropReason::*;
        let ip = |a, b, c, d| Ipv4::new(a, b, c, d);
        let (us, peer) = (ip(10, 0, 0, 2), ip(192, 0, 2, 7));
        assert_eq!(martian(peer, us), None);
        assert_eq!(martian(peer, Ipv4::BROADCAST), None);
        // DHCP and BOOTP clients: only towards the limited broadcast.
        assert_eq!(martian(Ipv4::ANY, Ipv4::BROADCAST), None);
        assert_eq!(martian(Ipv4::ANY, us), Some(MartianSrcZero));
        assert_eq!(
            martian(ip(0, 9, 9, 9), Ipv4::BROADCAST),
            Some(MartianSrcZero)
        );
        assert_eq!(martian(Ipv4::BROADCAST, us), Some(MartianSrcBroadcast));
        assert_eq!(martian(ip(224, 0, 0, 1), us), Some(MartianSrcMulticast));
        assert_eq!(martian(ip(239, 255, 0, 1), us), Some(MartianSrcMulticast));
        assert_eq!(martian(ip(127, 0, 0, 1), us), Some(MartianSrcLoopback));
        assert_eq!(martian(ip(240, 0, 0, 1), us), Some(MartianSrcClassE));
        assert_eq!(martian(peer, Ipv4::ANY), Some(MartianDstZero));
        assert_eq!(martian(peer, ip(0, 1, 0, 0)), Some(MartianDstZero));
        assert_eq!(martian(peer, ip(127, 0, 0, 1)), Some(MartianDstLoopback));
        assert_eq!(
            martian(ip(127, 0, 0, 1), ip(127, 0, 0, 1)),
            Some(MartianDstLoopback)
        );
        assert_eq!(DROP_NAMES[MartianSrcLocal as usize], c"MartianSrcLocal");
        assert_eq!(DROP_NAMES[ArpMartian as usize], c"ArpMartian");
        assert_eq!(DROP_NAMES[DROP_REASONS - 1], c"ArpMartian");
    }

    #[test]
    fn arp_parse() {
        let mut p = [0u8; 28];
        p[0..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        p[8..14].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        p[14..18].copy_from_slice(&[10, 0, 0, 9]);
        p[24..28].copy_from_slice(&[10, 0, 0, 2]);
        let arp = parse_arp(&p).unwrap();
        assert_eq!(arp.op, 1);
        assert_eq!(arp.sender_ip, Ipv4::new(10, 0, 0, 9));
        p[4] = 8;
        assert_eq!(parse_arp(&p), Err(DropReason::BadArp));
    }

    #[test]
    fn arp_reply_round_trips() {
        let (a, b) = ([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 2]);
        let f = arp_frame(
            ARP_OP_REPLY,
            (a, Ipv4::new(10, 0, 0, 9)),
            (b, Ipv4::new(10, 0, 0, 2)),
        );
        assert_eq!(f[0..6], b);
        let Ok(Frame::Arp(arp)) = parse_ethernet(&f, true) else {
            panic!("not ARP");
        };
        assert_eq!(arp.op, 2);
        assert_eq!(arp.sender_mac, a);
        assert_eq!(arp.sender_ip, Ipv4::new(10, 0, 0, 9));
        assert_eq!(arp.target_ip, Ipv4::new(10, 0, 0, 2));
    }
}
