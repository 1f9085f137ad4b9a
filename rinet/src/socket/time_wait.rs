//! TIME-WAIT without the connection: once a closed connection reaches TIME-WAIT, only its
//! four-tuple and deadline are kept (Linux's timewait "minisocks"), and the engine socket
//! goes with its buffers. A connection's buffers are tens of KiB; an entry here is a few
//! dozen bytes. On a board with 8 MiB of RAM, a web server's TIME-WAITs would otherwise
//! hold megabytes for their whole lifetime.
//!
//! While the entry lives, segments for its four-tuple are answered as TIME-WAIT answers
//! them (see [`Verdict`]), and its local port counts as in use for `bind(2)`.

use alloc::vec::Vec;

use crate::addr::{Endpoint, Ipv4};
use crate::wire::{TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};

/// How long TIME-WAIT lasts: smoltcp's value, kept so that behaviour does not change
/// whether the engine or this table holds the state (Linux: 60 s).
pub const TIME_WAIT_US: u64 = 10_000_000;

/// At most this many entries; a connection reaching TIME-WAIT beyond them closes at once
/// (Linux does the same past `tcp_max_tw_buckets`).
pub const MAX_TIME_WAIT: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWait {
    pub local: Endpoint,
    pub remote: Endpoint,
    /// SO_REUSEADDR was set: a new socket with it may bind the local port.
    pub reuse: bool,
    pub until: u64,
}

/// What to do with a segment for a four-tuple in TIME-WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The peer's FIN again (our last ACK was lost): acknowledge it with this sequence and
    /// acknowledgment number (the FIN's own acknowledgment is our next sequence number), and
    /// wait again.
    Ack { seq: u32, ack: u32 },
    /// A SYN opening the four-tuple again: TIME-WAIT ends and the segment goes on to the
    /// listener, as Linux allows.
    Reopen,
    /// A reset ends TIME-WAIT (Linux's default, without RFC 1337 protection); anything
    /// else is an old duplicate. Either way the segment goes no further.
    Drop,
}

/// The TCP header fields a verdict depends on.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload_len: usize,
}

#[derive(Default)]
pub struct TimeWaitTable {
    entries: Vec<TimeWait>,
}

impl TimeWaitTable {
    /// Start TIME-WAIT for a connection; false if the table is full (it then just closes).
    pub fn insert(&mut self, tw: TimeWait) -> bool {
        if self.entries.len() >= MAX_TIME_WAIT || self.entries.try_reserve(1).is_err() {
            return false;
        }
        self.entries.push(tw);
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, k: usize) -> Option<&TimeWait> {
        self.entries.get(k)
    }

    /// The segment for `local` from `remote` arrived: None if no entry has the
    /// four-tuple, else what to do with it (updating or ending the entry).
    pub fn segment(
        &mut self,
        (local, remote): (Endpoint, Endpoint),
        seg: Segment,
        now: u64,
    ) -> Option<Verdict> {
        let k = self
            .entries
            .iter()
            .position(|t| t.local == local && t.remote == remote)?;
        if seg.flags & TCP_RST != 0 {
            self.entries.swap_remove(k);
            return Some(Verdict::Drop);
        }
        if seg.flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
            self.entries.swap_remove(k);
            return Some(Verdict::Reopen);
        }
        if seg.flags & (TCP_FIN | TCP_ACK) == TCP_FIN | TCP_ACK {
            // RFC 9293 3.10.7.4: acknowledge it and restart the 2 MSL timeout.
            self.entries[k].until = now.saturating_add(TIME_WAIT_US);
            let fin_end = seg.seq.wrapping_add(seg.payload_len as u32).wrapping_add(1);
            return Some(Verdict::Ack {
                seq: seg.ack,
                ack: fin_end,
            });
        }
        Some(Verdict::Drop)
    }

    /// Forget entries whose time is up.
    pub fn expire(&mut self, now: u64) {
        self.entries.retain(|t| t.until > now);
    }

    /// Forget the entries on an address that went away.
    pub fn forget_addr(&mut self, addr: crate::Ipv4) {
        self.entries.retain(|t| t.local.addr != addr);
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.entries.iter().map(|t| t.until).min()
    }

    /// An entry holds the local port `ep` against a new binding (`reuse`: the new socket
    /// has SO_REUSEADDR).
    pub fn holds(&self, ep: Endpoint, reuse: bool) -> bool {
        let overlap = |a: Ipv4| a.is_any() || ep.addr.is_any() || a == ep.addr;
        self.entries
            .iter()
            .any(|t| t.local.port == ep.port && overlap(t.local.addr) && !(reuse && t.reuse))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Endpoint = Endpoint::new(Ipv4::new(10, 0, 0, 1), 80);
    const R: Endpoint = Endpoint::new(Ipv4::new(10, 0, 0, 2), 40000);

    fn table() -> TimeWaitTable {
        let mut t = TimeWaitTable::default();
        assert!(t.insert(TimeWait {
            local: L,
            remote: R,
            reuse: false,
            until: 100 + TIME_WAIT_US,
        }));
        t
    }

    fn seg(flags: u8) -> Segment {
        Segment {
            seq: 1000,
            ack: 5000,
            flags,
            payload_len: 0,
        }
    }

    #[test]
    fn a_retransmitted_fin_is_acknowledged_and_restarts_the_wait() {
        let mut t = table();
        let v = t.segment((L, R), seg(TCP_FIN | TCP_ACK), 200);
        assert_eq!(
            v,
            Some(Verdict::Ack {
                seq: 5000,
                ack: 1001
            })
        );
        assert_eq!(t.next_deadline(), Some(200 + TIME_WAIT_US));
    }

    #[test]
    fn other_tuples_and_interfaces_are_not_ours() {
        let mut t = table();
        assert_eq!(t.segment((R, L), seg(TCP_ACK), 200), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn syn_reopens_reset_ends_old_duplicates_drop() {
        let mut t = table();
        assert_eq!(t.segment((L, R), seg(TCP_ACK), 200), Some(Verdict::Drop));
        assert_eq!(t.len(), 1, "an old duplicate leaves the entry alone");
        // Without ACK there is no sequence number to answer with.
        assert_eq!(t.segment((L, R), seg(TCP_FIN), 200), Some(Verdict::Drop));
        assert_eq!(t.segment((L, R), seg(TCP_SYN), 200), Some(Verdict::Reopen));
        assert!(t.is_empty());
        let mut t = table();
        assert_eq!(t.segment((L, R), seg(TCP_RST), 200), Some(Verdict::Drop));
        assert!(t.is_empty());
    }

    #[test]
    fn entries_expire_and_hold_their_port_until_then() {
        let mut t = table();
        let any = |port| Endpoint::new(Ipv4::ANY, port);
        assert!(t.holds(any(80), false));
        assert!(
            t.holds(any(80), true),
            "the closed socket had no SO_REUSEADDR"
        );
        assert!(!t.holds(any(81), false));
        t.entries[0].reuse = true;
        assert!(!t.holds(any(80), true), "both have SO_REUSEADDR");
        t.expire(100 + TIME_WAIT_US - 1);
        assert_eq!(t.len(), 1);
        t.expire(100 + TIME_WAIT_US);
        assert!(t.is_empty());
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = TimeWaitTable::default();
        let tw = |port| TimeWait {
            local: Endpoint::new(L.addr, port),
            remote: R,
            reuse: false,
            until: 1,
        };
        for p in 0..MAX_TIME_WAIT {
            assert!(t.insert(tw(p as u16)));
        }
        assert!(!t.insert(tw(9)));
        assert_eq!(t.len(), MAX_TIME_WAIT);
    }
}
