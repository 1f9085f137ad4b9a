//! The SYN-ACKs of connections being set up, kept to be sent again when the peer's SYN
//! comes again: the peer retransmits its SYN because our SYN-ACK was lost, and the
//! engine would otherwise answer only on its own retransmission timer, which backs off
//! apart from the peer's (on a lossy link a connect could then fail with both sides
//! retrying, never at the same time). Linux answers such a SYN with the same SYN-ACK
//! (`tcp_check_req`), at most once per `tcp_invalid_ratelimit`; so does this.

use alloc::vec::Vec;

use crate::addr::Endpoint;

/// Linux's `tcp_invalid_ratelimit` default: one answer per half second and connection.
const RESEND_GAP_US: u64 = 500_000;
/// An IPv4 header without options and a TCP header with all the options it can carry.
const SYN_ACK_MAX: usize = 20 + 60;

struct Entry {
    ends: (Endpoint, Endpoint),
    /// Its acknowledgment number: the SYN it answers has the sequence number before it.
    ack: u32,
    /// The IPv4 packet as it left (header and TCP segment, options included).
    packet: [u8; SYN_ACK_MAX],
    len: usize,
    resent_at: Option<u64>,
}

/// At most one entry per connection and `N` in all, as many as the SYN queue holds (when
/// full, new ones take the places in turn): a connection this table has forgotten still
/// gets its SYN-ACK from the engine's timer.
#[derive(Default)]
pub struct SynAcks<const N: usize> {
    entries: Vec<Entry>,
    next_replaced: usize,
}

impl<const N: usize> SynAcks<N> {
    /// Our SYN-ACK for `local`-`remote`, acknowledging `ack`, left as `packet` (perhaps
    /// sent again from here). True if it is a retransmission: one answering the same SYN
    /// left before.
    pub(crate) fn note(
        &mut self,
        (local, remote): (Endpoint, Endpoint),
        ack: u32,
        packet: &[u8],
    ) -> bool {
        let ends = (local, remote);
        let found = self.entries.iter().position(|e| e.ends == ends);
        let again = found.is_some_and(|i| self.entries[i].ack == ack);
        if packet.len() > SYN_ACK_MAX {
            return again;
        }
        // Sent again by the stack, not the engine: with offload, the copy needs the
        // checksum the device would have filled in.
        #[cfg(feature = "offload")]
        let filled = {
            let mut p = [0; SYN_ACK_MAX];
            p[..packet.len()].copy_from_slice(packet);
            crate::offload::fill_tcp_checksum(&mut p[..packet.len()]);
            p
        };
        #[cfg(feature = "offload")]
        let packet = &filled[..packet.len()];
        let at = match found {
            Some(i) if self.entries[i].packet[..self.entries[i].len] == *packet => return again,
            Some(i) => i,
            None if self.entries.len() < N => {
                if self.entries.try_reserve(1).is_err() {
                    return again;
                }
                self.entries.push(Entry {
                    ends,
                    ack,
                    packet: [0; SYN_ACK_MAX],
                    len: 0,
                    resent_at: None,
                });
                self.entries.len() - 1
            }
            None => {
                let i = self.next_replaced;
                self.next_replaced = (i + 1) % N;
                i
            }
        };
        let e = &mut self.entries[at];
        e.ends = ends;
        e.ack = ack;
        e.packet[..packet.len()].copy_from_slice(packet);
        e.len = packet.len();
        e.resent_at = None;
        again
    }

    /// The SYN-ACK to send again (a copy, and its length) for a SYN with sequence number
    /// `seq` from `remote`, if it answers that SYN and none was sent again in the last half
    /// second.
    pub(crate) fn again(
        &mut self,
        local: Endpoint,
        remote: Endpoint,
        seq: u32,
        now: u64,
    ) -> Option<([u8; SYN_ACK_MAX], usize)> {
        let e = self
            .entries
            .iter_mut()
            .find(|e| e.ends == (local, remote))?;
        if e.ack != seq.wrapping_add(1)
            || e.resent_at
                .is_some_and(|t| now.saturating_sub(t) < RESEND_GAP_US)
        {
            return None;
        }
        e.resent_at = Some(now);
        Some((e.packet, e.len))
    }

    /// The connection left SYN-RECEIVED (or never was there).
    pub(crate) fn forget(&mut self, local: Endpoint, remote: Endpoint) {
        if let Some(i) = self.entries.iter().position(|e| e.ends == (local, remote)) {
            self.entries.swap_remove(i);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Ipv4;
    use crate::wire::{tcp_segment, TCP_ACK, TCP_SYN};

    const CAP: usize = 16;

    fn ends(port: u16) -> (Endpoint, Endpoint) {
        (
            Endpoint::new(Ipv4::new(10, 0, 0, 2), 80),
            Endpoint::new(Ipv4::new(10, 0, 0, 1), port),
        )
    }

    /// What `again` hands back, as the bytes to send.
    fn again(
        t: &mut SynAcks<CAP>,
        (l, r): (Endpoint, Endpoint),
        seq: u32,
        now: u64,
    ) -> Option<Vec<u8>> {
        t.again(l, r, seq, now).map(|(p, len)| p[..len].to_vec())
    }

    fn syn_ack(port: u16, their_isn: u32) -> Vec<u8> {
        let (l, r) = ends(port);
        tcp_segment(
            l,
            r,
            (77, their_isn.wrapping_add(1)),
            TCP_SYN | TCP_ACK,
            1024,
        )
        .to_vec()
    }

    #[test]
    fn the_same_syn_gets_the_same_syn_ack_at_most_twice_a_second() {
        let mut t = SynAcks::<CAP>::default();
        let e = ends(4000);
        let sent = syn_ack(4000, u32::MAX);
        assert!(!t.note(e, 0, &sent), "the first is no retransmission");
        assert_eq!(again(&mut t, e, u32::MAX, 1_000_000), Some(sent.clone()));
        // The copy sent again is seen leaving like any other, as a retransmission.
        assert!(t.note(e, 0, &sent));
        assert_eq!(again(&mut t, e, u32::MAX, 1_400_000), None);
        assert_eq!(again(&mut t, e, u32::MAX, 1_500_000), Some(sent));
    }

    #[test]
    fn another_syn_or_another_peer_gets_nothing() {
        let mut t = SynAcks::<CAP>::default();
        let e = ends(4000);
        t.note(e, 11, &syn_ack(4000, 10));
        // The answer to a new SYN from the same port is a new SYN-ACK.
        assert!(!t.note(e, 12, &syn_ack(4000, 11)));
        assert_eq!(again(&mut t, e, 12, 0), None);
        assert_eq!(again(&mut t, (e.0, ends(4001).1), 10, 0), None);
        t.forget(e.0, e.1);
        assert_eq!(again(&mut t, e, 10, 0), None);
        assert!(t.is_empty());
    }

    #[test]
    fn bounded_by_the_syn_queue_keeping_the_newest() {
        let mut t = SynAcks::<CAP>::default();
        for port in 0..CAP as u16 + 3 {
            t.note(ends(port), 6, &syn_ack(port, 5));
            t.note(ends(port), 6, &syn_ack(port, 5));
        }
        assert_eq!(t.len(), CAP);
        assert_eq!(again(&mut t, ends(0), 5, 0), None);
        assert!(again(&mut t, ends(CAP as u16 + 2), 5, 0).is_some());
    }
}
