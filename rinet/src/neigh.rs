//! The neighbour (ARP) table: the one cache the stack resolves next hops with, what
//! `/proc/net/arp` lists and what `SIOCSARP`, `SIOCGARP` and `SIOCDARP` edit, with Linux's
//! errors. Packets for a next hop not yet resolved wait here (a few, as Linux's
//! `unres_qlen`) while ARP asks, once a second, three times at most (Linux's
//! `mcast_solicit` and `retrans_time`).

use alloc::vec::Vec;

use crate::addr::Ipv4;
use crate::errno::{Errno, SysResult};
use crate::table::retain;

pub const MAX_NEIGHBORS: usize = 32;
/// How long a connection may wait for its next hop to answer ARP (Linux: 3 probes, 1 s).
pub const NEIGHBOR_TIMEOUT_US: u64 = 3_000_000;
/// A learned entry is used this long after the neighbour was last heard from; after that
/// it is asked for again (smoltcp's cache kept entries as long).
const REACHABLE_US: u64 = 60_000_000;
/// Time between two ARP requests for the same address.
const RETRANS_US: u64 = 1_000_000;
/// Requests sent before the packets waiting for an answer are given up.
const MAX_PROBES: u8 = 3;
/// Packets waiting for resolution, all next hops together (the oldest gives way).
const MAX_HELD: usize = 16;
/// Addresses being asked for at once.
const MAX_ASKING: usize = 8;

/// `arp_flags` bits, as in `<linux/if_arp.h>`.
pub const ATF_COM: u32 = 0x02;
pub const ATF_PERM: u32 = 0x04;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbor {
    pub ip: Ipv4,
    pub mac: [u8; 6],
    pub ifindex: u32,
    pub updated_us: u64,
    /// Set by `arp -s`: never replaced by what the wire says, never evicted.
    pub permanent: bool,
}

impl Neighbor {
    /// `arp_flags` as `SIOCGARP` and `/proc/net/arp` report them.
    pub fn flags(&self) -> u32 {
        if self.permanent {
            ATF_COM | ATF_PERM
        } else {
            ATF_COM
        }
    }
}

/// An address ARP is asking for.
#[derive(Clone, Copy, Debug)]
struct Asking {
    ifindex: u32,
    ip: Ipv4,
    /// When the next request is due, or, after the last one, when to give up.
    next_us: u64,
    sent: u8,
}

/// A packet (IP, no link header) waiting for its next hop's link address.
struct Held {
    ifindex: u32,
    hop: Ipv4,
    packet: Vec<u8>,
}

/// The table itself, with what waits for it.
#[derive(Default)]
pub struct Neighbors {
    entries: heapless::Vec<Neighbor, MAX_NEIGHBORS>,
    asking: heapless::Vec<Asking, MAX_ASKING>,
    held: Vec<Held>,
}

impl Neighbors {
    pub fn iter(&self) -> impl Iterator<Item = &Neighbor> {
        self.entries.iter()
    }

    /// Note a neighbour on `ifindex` from an ARP packet it sent. True if packets were
    /// waiting for it (see [`Neighbors::take_held`]).
    pub(crate) fn learn(&mut self, ifindex: u32, ip: Ipv4, mac: [u8; 6], now: u64) -> bool {
        match self.find_mut(ifindex, ip) {
            Some(n) if n.permanent => {}
            Some(n) => {
                n.mac = mac;
                n.updated_us = now;
            }
            None => {
                let _ = self.insert(Neighbor {
                    ip,
                    mac,
                    ifindex,
                    updated_us: now,
                    permanent: false,
                });
            }
        }
        self.answered(ifindex, ip)
    }

    /// A frame from `mac` arrived on `ifindex`: the neighbours at that address are alive
    /// (as smoltcp's cache and Linux's confirmations keep a neighbour that traffic comes
    /// from; a gateway is confirmed by everything routed through it). Static entries need
    /// nothing.
    pub(crate) fn heard_from(&mut self, ifindex: u32, mac: &[u8], now: u64) {
        for n in self.entries.iter_mut() {
            if n.ifindex == ifindex && n.mac == mac {
                n.updated_us = now;
            }
        }
    }

    /// ARP need not ask for `ip` any more; true if packets wait for it.
    fn answered(&mut self, ifindex: u32, ip: Ipv4) -> bool {
        retain(self.asking.as_mut_view(), |a| {
            !(a.ifindex == ifindex && a.ip == ip)
        });
        self.held
            .iter()
            .any(|h| h.ifindex == ifindex && h.hop == ip)
    }

    fn find_mut(&mut self, ifindex: u32, ip: Ipv4) -> Option<&mut Neighbor> {
        self.entries
            .iter_mut()
            .find(|n| n.ip == ip && n.ifindex == ifindex)
    }

    /// Add an entry, evicting the stalest learned one when the table is full.
    fn insert(&mut self, n: Neighbor) -> SysResult<()> {
        if self.entries.is_full() {
            let stalest = (0..self.entries.len())
                .filter(|&i| !self.entries[i].permanent)
                .min_by_key(|&i| self.entries[i].updated_us)
                .ok_or(Errno::ENOBUFS)?;
            self.entries.swap_remove(stalest);
        }
        self.entries.push(n).map_err(|_| Errno::ENOBUFS)
    }

    pub(crate) fn contains(&self, ifindex: u32, ip: Ipv4) -> bool {
        self.entries
            .iter()
            .any(|n| n.ip == ip && n.ifindex == ifindex)
    }

    /// The link address to send to `ip` on `ifindex` with, if it is known and fresh.
    pub(crate) fn resolve(&self, ifindex: u32, ip: Ipv4, now: u64) -> Option<[u8; 6]> {
        self.entries
            .iter()
            .find(|n| n.ip == ip && n.ifindex == ifindex)
            .filter(|n| n.permanent || now.saturating_sub(n.updated_us) < REACHABLE_US)
            .map(|n| n.mac)
    }

    /// Keep `packet` until `hop` answers ARP (the oldest held packet gives way when too
    /// many wait). True when a request for `hop` is to go out now; false when one is out
    /// already (or no more addresses can be asked for: the packet is then not kept).
    pub(crate) fn hold(&mut self, ifindex: u32, hop: Ipv4, packet: &[u8], now: u64) -> bool {
        let asked = self
            .asking
            .iter()
            .any(|a| a.ifindex == ifindex && a.ip == hop);
        let ask = !asked
            && self
                .asking
                .push(Asking {
                    ifindex,
                    ip: hop,
                    next_us: now + RETRANS_US,
                    sent: 1,
                })
                .is_ok();
        if !asked && !ask {
            return false;
        }
        if self.held.len() >= MAX_HELD {
            self.held.remove(0);
        }
        let mut copy = Vec::new();
        if copy.try_reserve_exact(packet.len()).is_ok() {
            copy.extend_from_slice(packet);
            self.held.push(Held {
                ifindex,
                hop,
                packet: copy,
            });
        }
        ask
    }

    /// Hand `send` the packets that waited for `hop` on `ifindex`, in the order they came.
    pub(crate) fn take_held(&mut self, ifindex: u32, hop: Ipv4, mut send: impl FnMut(&[u8])) {
        let mut i = 0;
        while i < self.held.len() {
            if self.held[i].ifindex == ifindex && self.held[i].hop == hop {
                let h = self.held.remove(i);
                send(&h.packet);
            } else {
                i += 1;
            }
        }
    }

    /// Run ARP's timers: `ask` gets each address due another request; the packets of an
    /// address asked for in vain are dropped. Returns how many were.
    pub(crate) fn tick(&mut self, now: u64, mut ask: impl FnMut(u32, Ipv4)) -> usize {
        let mut gave_up = 0;
        let (held, entries) = (&mut self.held, &mut self.entries);
        retain(self.asking.as_mut_view(), |a| {
            if now < a.next_us {
                return true;
            }
            if a.sent < MAX_PROBES {
                a.sent += 1;
                a.next_us = now + RETRANS_US;
                ask(a.ifindex, a.ip);
                return true;
            }
            let before = held.len();
            held.retain(|h| !(h.ifindex == a.ifindex && h.hop == a.ip));
            gave_up += before - held.len();
            // The stale entry asked for in vain goes (Linux: the entry fails), so that a
            // connect to it fails with EHOSTUNREACH.
            retain(entries.as_mut_view(), |n| {
                n.permanent || !(n.ifindex == a.ifindex && n.ip == a.ip)
            });
            false
        });
        gave_up
    }

    /// When ARP's next timer is due.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.asking.iter().map(|a| a.next_us).min()
    }

    /// `SIOCSARP` on the table (see [`crate::Stack::neigh_set`]).
    pub(crate) fn set(
        &mut self,
        ifindex: u32,
        ip: Ipv4,
        mac: Option<[u8; 6]>,
        permanent: bool,
        now: u64,
    ) -> SysResult<()> {
        let Some(mac) = mac else {
            let n = self.find_mut(ifindex, ip).ok_or(Errno::EINVAL)?;
            n.permanent = false;
            return Ok(());
        };
        // The engine keeps only unicast link addresses.
        if mac[0] & 1 != 0 || mac == [0; 6] {
            return Err(Errno::EINVAL);
        }
        let entry = Neighbor {
            ip,
            mac,
            ifindex,
            updated_us: now,
            permanent,
        };
        match self.find_mut(ifindex, ip) {
            Some(n) => *n = entry,
            None => self.insert(entry)?,
        }
        self.answered(ifindex, ip);
        Ok(())
    }

    /// `SIOCGARP`: the entry for `ip` on `ifindex`; ENXIO if there is none.
    pub fn get(&self, ifindex: u32, ip: Ipv4) -> SysResult<Neighbor> {
        self.entries
            .iter()
            .find(|n| n.ip == ip && n.ifindex == ifindex)
            .copied()
            .ok_or(Errno::ENXIO)
    }

    /// `SIOCDARP` on the table: ENXIO if there is no such entry.
    pub(crate) fn remove(&mut self, ifindex: u32, ip: Ipv4) -> SysResult<()> {
        let pos = self
            .entries
            .iter()
            .position(|n| n.ip == ip && n.ifindex == ifindex)
            .ok_or(Errno::ENXIO)?;
        self.entries.swap_remove(pos);
        Ok(())
    }

    /// The interface is gone, or down: what waits for it goes too.
    pub(crate) fn forget_if(&mut self, ifindex: u32) {
        retain(self.entries.as_mut_view(), |n| n.ifindex != ifindex);
        retain(self.asking.as_mut_view(), |a| a.ifindex != ifindex);
        self.held.retain(|h| h.ifindex != ifindex);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IF: u32 = 2;
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn ip(last: u8) -> Ipv4 {
        Ipv4::new(10, 0, 0, last)
    }

    #[test]
    fn the_wire_updates_learned_entries_but_not_static_ones() {
        let mut t = Neighbors::default();
        t.learn(IF, ip(1), MAC, 5);
        t.learn(IF, ip(1), [2, 0, 0, 0, 0, 8], 6);
        assert_eq!(t.get(IF, ip(1)).unwrap().mac, [2, 0, 0, 0, 0, 8]);
        t.set(IF, ip(2), Some(MAC), true, 7).unwrap();
        t.learn(IF, ip(2), [2, 0, 0, 0, 0, 8], 8);
        assert_eq!(t.get(IF, ip(2)).unwrap().mac, MAC);
        assert_eq!(
            t.resolve(IF, ip(2), u64::MAX),
            Some(MAC),
            "static: never stale"
        );
    }

    #[test]
    fn a_full_table_evicts_the_stalest_learned_entry_never_a_static_one() {
        let mut t = Neighbors::default();
        t.set(IF, ip(0), Some(MAC), true, 0).unwrap();
        for i in 1..MAX_NEIGHBORS as u8 {
            t.learn(IF, ip(i), MAC, u64::from(i));
        }
        t.learn(IF, ip(200), MAC, 100);
        assert!(t.contains(IF, ip(0)) && t.contains(IF, ip(200)));
        assert!(!t.contains(IF, ip(1)), "the stalest learned entry goes");
    }

    #[test]
    fn learned_entries_go_stale_and_bad_requests_fail_as_linux() {
        let mut t = Neighbors::default();
        t.learn(IF, ip(3), MAC, 0);
        assert_eq!(t.resolve(IF, ip(3), REACHABLE_US - 1), Some(MAC));
        assert_eq!(t.resolve(IF, ip(3), REACHABLE_US), None);
        assert_eq!(t.resolve(IF + 1, ip(3), 0), None, "another interface's");
        assert_eq!(
            t.set(IF, ip(5), Some([1, 0, 0, 0, 0, 0]), true, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(t.set(IF, ip(5), None, false, 0), Err(Errno::EINVAL));
        assert_eq!(t.remove(IF, ip(5)), Err(Errno::ENXIO));
    }

    #[test]
    fn traffic_from_a_neighbour_keeps_its_entry_fresh() {
        let mut t = Neighbors::default();
        t.learn(IF, ip(3), MAC, 0);
        t.learn(IF, ip(4), [2, 0, 0, 0, 0, 8], 0);
        t.heard_from(IF, &MAC, REACHABLE_US - 1);
        assert_eq!(t.resolve(IF, ip(3), REACHABLE_US + 5), Some(MAC));
        assert_eq!(
            t.resolve(IF, ip(4), REACHABLE_US + 5),
            None,
            "not heard from"
        );
        t.heard_from(IF + 1, &[2, 0, 0, 0, 0, 8], REACHABLE_US);
        assert_eq!(
            t.resolve(IF, ip(4), REACHABLE_US + 5),
            None,
            "another interface"
        );
    }

    #[test]
    fn held_packets_leave_in_order_once_the_neighbour_answers() {
        let mut t = Neighbors::default();
        assert!(t.hold(IF, ip(7), b"one", 0), "the first packet asks");
        assert!(!t.hold(IF, ip(7), b"two", 1), "one request at a time");
        assert!(t.hold(IF, ip(8), b"other", 1));
        assert!(t.learn(IF, ip(7), MAC, 2));
        let mut out = Vec::new();
        t.take_held(IF, ip(7), |p| out.push(p.to_vec()));
        assert_eq!(out, [b"one".to_vec(), b"two".to_vec()]);
        assert!(!t.learn(IF, ip(7), MAC, 3), "nothing waits any more");
    }

    #[test]
    fn arp_asks_three_times_a_second_apart_then_drops_what_waited() {
        let mut t = Neighbors::default();
        t.learn(IF, ip(9), MAC, 0);
        t.set(IF, ip(10), Some(MAC), true, 0).unwrap();
        assert!(t.hold(IF, ip(9), b"x", 0));
        assert!(!t.hold(IF, ip(9), b"y", 0));
        let mut asked = 0;
        for s in 1..=3u64 {
            assert_eq!(t.next_deadline(), Some(s * RETRANS_US));
            let dropped = t.tick(s * RETRANS_US, |_, a| {
                assert_eq!(a, ip(9));
                asked += 1;
            });
            assert_eq!(dropped, if s == 3 { 2 } else { 0 });
        }
        assert_eq!(asked, 2, "two more requests after the first");
        assert!(!t.contains(IF, ip(9)));
        assert_eq!(t.next_deadline(), None);
        assert!(t.hold(IF, ip(9), b"z", 4 * RETRANS_US), "asked for again");
    }

    #[test]
    fn held_packets_are_bounded_oldest_first() {
        let mut t = Neighbors::default();
        for i in 0..=MAX_HELD as u8 {
            t.hold(IF, ip(1), &[i], 0);
        }
        let mut out = Vec::new();
        t.learn(IF, ip(1), MAC, 1);
        t.take_held(IF, ip(1), |p| out.push(p[0]));
        assert_eq!(out.len(), MAX_HELD);
        assert_eq!(out[0], 1, "the oldest gave way");
    }
}
