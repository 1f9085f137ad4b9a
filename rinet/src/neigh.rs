//! The neighbour (ARP) table as the host sees it: what `/proc/net/arp` lists and what
//! `SIOCSARP`, `SIOCGARP` and `SIOCDARP` edit, with Linux's errors.
//!
//! The engine resolves addresses with a cache of its own. This table feeds it what it
//! would otherwise lose: entries an address change flushes, and static entries set by an
//! administrator, which the engine alone would let expire (after 60 s) or overwrite with
//! whatever the wire says.

use crate::addr::Ipv4;
use crate::errno::{Errno, SysResult};

pub const MAX_NEIGHBORS: usize = 32;
/// How long a connection may wait for its next hop to answer ARP (Linux: 3 probes, 1 s).
pub const NEIGHBOR_TIMEOUT_US: u64 = 3_000_000;
/// A neighbour heard from this recently is still trusted after an address change (the
/// engine's own cache keeps entries this long).
const NEIGHBOR_REUSE_US: u64 = 60_000_000;
/// A static entry is handed to the engine again this often, well before the engine's own
/// cache would let it expire.
const STATIC_REFRESH_US: u64 = 30_000_000;

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
    /// When a static entry was last handed to the engine.
    injected_us: Option<u64>,
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

/// The table itself; the stack feeds the engine from it.
#[derive(Default)]
pub struct Neighbors {
    entries: heapless::Vec<Neighbor, MAX_NEIGHBORS>,
    /// The wire contradicted a static entry: it is to be handed to the engine again at
    /// once.
    pub(crate) contradicted: bool,
}

impl Neighbors {
    pub fn iter(&self) -> impl Iterator<Item = &Neighbor> {
        self.entries.iter()
    }

    /// Note a neighbour on `ifindex` from an ARP packet it sent.
    pub(crate) fn learn(&mut self, ifindex: u32, ip: Ipv4, mac: [u8; 6], now: u64) {
        if let Some(n) = self.find_mut(ifindex, ip) {
            if n.permanent {
                if n.mac != mac {
                    // The engine takes the wire's word; put the static entry back at once.
                    n.injected_us = None;
                    self.contradicted = true;
                }
            } else {
                n.mac = mac;
                n.updated_us = now;
            }
            return;
        }
        let _ = self.insert(Neighbor {
            ip,
            mac,
            ifindex,
            updated_us: now,
            permanent: false,
            injected_us: None,
        });
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

    /// The neighbours of `ifindex` the engine may use after its cache was emptied: static
    /// ones and recent ones.
    pub(crate) fn reusable(&self, ifindex: u32, now: u64) -> impl Iterator<Item = &Neighbor> {
        self.entries.iter().filter(move |n| {
            n.ifindex == ifindex
                && (n.permanent || now.saturating_sub(n.updated_us) < NEIGHBOR_REUSE_US)
        })
    }

    /// Hand `feed` the static entries due to reach the engine again (before its cache
    /// expires them, or at once after the wire contradicted one).
    pub(crate) fn refresh_static(&mut self, now: u64, mut feed: impl FnMut(&Neighbor)) {
        self.contradicted = false;
        for n in self.entries.iter_mut().filter(|n| n.permanent) {
            let due = n
                .injected_us
                .is_none_or(|t| now.saturating_sub(t) >= STATIC_REFRESH_US);
            if due {
                feed(n);
                n.injected_us = Some(now);
            }
        }
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
            injected_us: Some(now),
        };
        match self.find_mut(ifindex, ip) {
            Some(n) => *n = entry,
            None => self.insert(entry)?,
        }
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

    /// The interface is gone.
    pub(crate) fn forget_if(&mut self, ifindex: u32) {
        self.entries.retain(|n| n.ifindex != ifindex);
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
        assert!(
            t.contradicted,
            "the engine took the wire's word: put it back"
        );
        let mut fed = 0;
        t.refresh_static(8, |n| {
            assert_eq!(n.ip, ip(2));
            fed += 1;
        });
        assert_eq!((fed, t.contradicted), (1, false));
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
    fn only_static_and_recent_entries_are_given_back() {
        let mut t = Neighbors::default();
        t.set(IF, ip(1), Some(MAC), true, 0).unwrap();
        t.learn(IF, ip(2), MAC, 0);
        t.learn(IF, ip(3), MAC, NEIGHBOR_REUSE_US);
        t.learn(IF + 1, ip(4), MAC, NEIGHBOR_REUSE_US);
        let back: Vec<_> = t
            .reusable(IF, NEIGHBOR_REUSE_US + 1)
            .map(|n| n.ip)
            .collect();
        assert_eq!(back, [ip(1), ip(3)]);
        assert_eq!(
            t.set(IF, ip(5), Some([1, 0, 0, 0, 0, 0]), true, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(t.set(IF, ip(5), None, false, 0), Err(Errno::EINVAL));
        assert_eq!(t.remove(IF, ip(5)), Err(Errno::ENXIO));
    }
}
