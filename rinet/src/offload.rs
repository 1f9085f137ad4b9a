//! TCP segmentation and checksum offload (the `offload` feature).
//!
//! With it, the engine builds TCP segments of up to [`crate::engine::OFFLOAD_MAX`] bytes
//! and leaves their checksums out, so that one pass of the engine, one transmit call and
//! one frame for the device carry up to 64 KiB, where they carried one MSS. A device that
//! can (Linux's `NETIF_F_TSO` and checksum offload) cuts the segment into MSS-sized ones
//! and sums them; for any other device, for packets held while ARP resolves and for
//! peers in user space, this module does the same in software, as Linux's GSO would.
//! Without the feature none of this is linked: boards whose devices have no offload
//! (the STM32F429's, the LAN9118) keep smoltcp's own checksums and MSS-sized segments.

use alloc::vec::Vec;

use crate::wire::{csum_add, csum_fold, TCP_FIN};

const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// The IPv4 header length and the TCP header length of the TCP/IPv4 packet `ip`, if it is
/// one whose headers lie within it.
fn tcp_headers(ip: &[u8]) -> Option<(usize, usize)> {
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ip.len() < 20 || *ip.get(9)? != crate::wire::IPPROTO_TCP {
        return None;
    }
    let thl = usize::from(*ip.get(ihl + 12)? >> 4) * 4;
    (thl >= 20 && ip.len() >= ihl + thl).then_some((ihl, thl))
}

/// The one's-complement sum of the TCP pseudo-header of `ip` (a TCP/IPv4 packet with
/// headers of `ihl` bytes), not yet folded.
fn pseudo_sum(ip: &[u8], ihl: usize) -> u32 {
    let len = (ip.len() - ihl) as u32;
    csum_add(csum_add(0, &ip[12..16]), &ip[16..20])
        + u32::from(crate::wire::IPPROTO_TCP)
        + (len & 0xffff)
        + (len >> 16)
}

/// Write the TCP pseudo-header's folded sum into the checksum field of `ip`, as Linux
/// leaves it for a device that finishes the checksum (`CHECKSUM_PARTIAL`). False if `ip`
/// is not a TCP/IPv4 packet.
pub fn fill_pseudo_checksum(ip: &mut [u8]) -> bool {
    let Some((ihl, _)) = tcp_headers(ip) else {
        return false;
    };
    let sum = !csum_fold(pseudo_sum(ip, ihl));
    ip[ihl + 16..ihl + 18].copy_from_slice(&sum.to_be_bytes());
    true
}

/// Fill in the TCP checksum of `ip` in software.
pub fn fill_tcp_checksum(ip: &mut [u8]) {
    let Some((ihl, _)) = tcp_headers(ip) else {
        return;
    };
    ip[ihl + 16..ihl + 18].copy_from_slice(&[0, 0]);
    let sum = csum_fold(csum_add(pseudo_sum(ip, ihl), &ip[ihl..]));
    ip[ihl + 16..ihl + 18].copy_from_slice(&sum.to_be_bytes());
}

/// Hand `emit` the frame (a `link`-byte link header, then a TCP/IPv4 packet) cut into
/// segments of at most `mss` bytes of payload (0: as it is), each complete with its IP
/// length, IP and TCP checksums: what a device's segmentation offload would put on the
/// wire. FIN and PSH go on the last segment only, CWR on the first. A frame that is not
/// TCP/IPv4 goes out unchanged.
pub fn segments(frame: &mut [u8], link: usize, mss: u16, mut emit: impl FnMut(&mut [u8])) {
    let Some((ihl, thl)) = frame.get(link..).and_then(tcp_headers) else {
        emit(frame);
        return;
    };
    let hdr = link + ihl + thl;
    let payload = frame.len() - hdr;
    let mss = usize::from(mss);
    if mss == 0 || payload <= mss {
        fill_tcp_checksum(&mut frame[link..]);
        emit(frame);
        return;
    }
    let seq = u32::from_be_bytes([
        frame[link + ihl + 4],
        frame[link + ihl + 5],
        frame[link + ihl + 6],
        frame[link + ihl + 7],
    ]);
    let flags = frame[link + ihl + 13];
    let mut seg = Vec::new();
    if seg.try_reserve_exact(hdr + mss).is_err() {
        return;
    }
    for (i, chunk) in frame[hdr..].chunks(mss).enumerate() {
        let off = i * mss;
        seg.clear();
        seg.extend_from_slice(&frame[..hdr]);
        seg.extend_from_slice(chunk);
        let ip = &mut seg[link..];
        let total = (ihl + thl + chunk.len()) as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[10..12].copy_from_slice(&[0, 0]);
        let sum = csum_fold(csum_add(0, &ip[..ihl]));
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let tcp = &mut ip[ihl..];
        tcp[4..8].copy_from_slice(&seq.wrapping_add(off as u32).to_be_bytes());
        let last = off + chunk.len() == payload;
        let mut f = flags;
        if !last {
            f &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            f &= !TCP_CWR;
        }
        tcp[13] = f;
        fill_tcp_checksum(ip);
        emit(&mut seg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::{Endpoint, Ipv4};
    use crate::wire::{self, Transport};

    /// A frame with a 14-byte link header and a TCP/IPv4 packet carrying `payload`, with
    /// `flags`, and its TCP checksum left as a device would expect it.
    fn frame(payload: &[u8], flags: u8) -> Vec<u8> {
        let seg = wire::tcp_segment(
            Endpoint::new(Ipv4([10, 0, 0, 1]), 80),
            Endpoint::new(Ipv4([10, 0, 0, 2]), 4000),
            (1000, 7),
            flags,
            512,
        );
        let mut f = vec![0xee; 14];
        f.extend_from_slice(&seg);
        f.extend_from_slice(payload);
        let total = (seg.len() + payload.len()) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f[24..26].copy_from_slice(&[0, 0]);
        let sum = csum_fold(csum_add(0, &f[14..34]));
        f[24..26].copy_from_slice(&sum.to_be_bytes());
        assert!(fill_pseudo_checksum(&mut f[14..]));
        f
    }

    fn tcp_of(ip: &[u8]) -> (u32, u8, usize) {
        match wire::parse_ipv4(ip, true)
            .expect("sound, checksums included")
            .transport
        {
            Transport::Tcp {
                seq,
                flags,
                payload_len,
                ..
            } => (seq, flags, payload_len),
            t => panic!("not TCP: {t:?}"),
        }
    }

    #[test]
    fn a_large_segment_is_cut_as_a_device_would_cut_it() {
        let payload: Vec<u8> = (0..3500u32).map(|i| i as u8).collect();
        let mut f = frame(&payload, wire::TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR);
        let mut out = Vec::new();
        segments(&mut f, 14, 1460, |s| out.push(s.to_vec()));
        assert_eq!(out.len(), 3);
        let mut joined = Vec::new();
        for (i, s) in out.iter().enumerate() {
            assert_eq!(s[..14], [0xee; 14], "the link header is copied");
            let (seq, flags, len) = tcp_of(&s[14..]);
            assert_eq!(seq, 1000 + 1460 * i as u32);
            assert_eq!(len, [1460, 1460, 580][i]);
            assert_eq!(flags & TCP_CWR != 0, i == 0, "CWR on the first only");
            assert_eq!(
                flags & (TCP_PSH | TCP_FIN) != 0,
                i == 2,
                "PSH, FIN on the last"
            );
            assert!(flags & wire::TCP_ACK != 0);
            joined.extend_from_slice(&s[54..]);
        }
        assert_eq!(joined, payload);
    }

    #[test]
    fn a_segment_within_the_mss_only_gets_its_checksum() {
        let mut f = frame(b"hello", wire::TCP_ACK);
        let mut out = Vec::new();
        segments(&mut f, 14, 1460, |s| out.push(s.to_vec()));
        assert_eq!(out.len(), 1);
        assert_eq!(tcp_of(&out[0][14..]), (1000, wire::TCP_ACK, 5));
        let mut bare = frame(b"", wire::TCP_ACK);
        segments(&mut bare, 14, 0, |s| out.push(s.to_vec()));
        assert_eq!(tcp_of(&out[1][14..]).2, 0);
    }

    #[test]
    fn the_pseudo_header_sum_is_what_a_device_completes() {
        // A device sums the TCP header and payload, starting from the field's value, and
        // stores the complement: the result must be the full checksum.
        let mut f = frame(b"odd-length", wire::TCP_ACK);
        let tcp = &f[34..];
        let done = csum_fold(csum_add(0, tcp));
        f[50..52].copy_from_slice(&done.to_be_bytes());
        tcp_of(&f[14..]);
    }

    #[test]
    fn other_packets_are_left_alone() {
        let mut udp = vec![0u8; 14 + 28];
        udp[14] = 0x45;
        udp[23] = wire::IPPROTO_UDP;
        let before = udp.clone();
        let mut out = Vec::new();
        segments(&mut udp, 14, 100, |s| out.push(s.to_vec()));
        assert_eq!(out, [before]);
        assert!(!fill_pseudo_checksum(&mut [0x45; 10]));
    }
}
