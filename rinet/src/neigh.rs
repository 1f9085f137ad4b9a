//! The neighbour (ARP) table as the host sees it: what `/proc/net/arp` lists and what
//! `SIOCSARP`, `SIOCGARP` and `SIOCDARP` edit, with Linux's errors.
//!
//! The engine resolves addresses with a cache of its own. This table feeds it what it
//! would otherwise lose: entries an address change flushes, and static entries set by an
//! administrator, which the engine alone would let expire (after 60 s) or overwrite with
//! whatever the wire says.

use crate::addr::Ipv4;
use crate::errno::{Errno, SysResult};
use crate::stack::{Platform, Stack, LOOPBACK_IFINDEX};

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

impl<P: Platform> Stack<P> {
    pub fn neighbors(&self) -> impl Iterator<Item = &Neighbor> {
        self.neighbors.iter()
    }

    /// Note a neighbour from an ARP packet it sent on `slot`.
    pub(crate) fn learn_neighbor(&mut self, slot: usize, ip: Ipv4, mac: [u8; 6]) {
        let ifindex = self.ifindex_of_slot(slot);
        let ours = self
            .netif(ifindex)
            .and_then(|i| i.addr)
            .is_some_and(|c| c.contains(ip));
        if !ours || ip.is_any() {
            return;
        }
        let now = self.now;
        if let Some(n) = self.neighbor_mut(ifindex, ip) {
            if n.permanent {
                if n.mac != mac {
                    // The engine takes the wire's word; put the static entry back at once.
                    n.injected_us = None;
                    self.static_contradicted = true;
                }
            } else {
                n.mac = mac;
                n.updated_us = now;
            }
            return;
        }
        let _ = self.insert_neighbor(Neighbor {
            ip,
            mac,
            ifindex,
            updated_us: now,
            permanent: false,
            injected_us: None,
        });
    }

    fn neighbor_mut(&mut self, ifindex: u32, ip: Ipv4) -> Option<&mut Neighbor> {
        self.neighbors
            .iter_mut()
            .find(|n| n.ip == ip && n.ifindex == ifindex)
    }

    /// Add an entry, evicting the stalest learned one when the table is full.
    fn insert_neighbor(&mut self, n: Neighbor) -> SysResult<()> {
        if self.neighbors.is_full() {
            let stalest = (0..self.neighbors.len())
                .filter(|&i| !self.neighbors[i].permanent)
                .min_by_key(|&i| self.neighbors[i].updated_us)
                .ok_or(Errno::ENOBUFS)?;
            self.neighbors.swap_remove(stalest);
        }
        self.neighbors.push(n).map_err(|_| Errno::ENOBUFS)
    }

    pub(crate) fn has_neighbor(&self, slot: usize, ip: Ipv4) -> bool {
        let ifindex = self.ifindex_of_slot(slot);
        ifindex == LOOPBACK_IFINDEX
            || self
                .neighbors
                .iter()
                .any(|n| n.ip == ip && n.ifindex == ifindex)
    }

    /// Give the engine back the neighbours of `ifindex` it may use (static ones and recent
    /// ones) after its cache was emptied.
    pub(crate) fn restore_neighbors(&mut self, ifindex: u32) {
        let Some(slot) = self.netif(ifindex).map(|i| i.slot) else {
            return;
        };
        let now = self.now;
        for n in self.neighbors.iter().filter(|n| n.ifindex == ifindex) {
            if n.permanent || now.saturating_sub(n.updated_us) < NEIGHBOR_REUSE_US {
                self.engine.add_neighbor(slot, n.mac, n.ip, now);
            }
        }
    }

    /// Hand static entries to the engine again before its cache expires them, or at once
    /// after the wire contradicted one.
    pub(crate) fn refresh_static_neighbors(&mut self) {
        self.static_contradicted = false;
        let now = self.now;
        for i in 0..self.neighbors.len() {
            let n = self.neighbors[i];
            let due = n
                .injected_us
                .is_none_or(|t| now.saturating_sub(t) >= STATIC_REFRESH_US);
            if !n.permanent || !due {
                continue;
            }
            if let Some(slot) = self.netif(n.ifindex).map(|i| i.slot) {
                self.engine.add_neighbor(slot, n.mac, n.ip, now);
            }
            self.neighbors[i].injected_us = Some(now);
        }
    }

    /// The interface an ARP request without a device name means: the one `ip` is on-link
    /// through (Linux looks up a link-scope route). Local addresses are not ARP's business.
    fn neigh_dev(&self, ifindex: u32, ip: Ipv4) -> SysResult<u32> {
        if ifindex != 0 {
            let nif = self.netif(ifindex).ok_or(Errno::ENODEV)?;
            return if nif.ifindex == LOOPBACK_IFINDEX {
                Err(Errno::EINVAL)
            } else {
                Ok(ifindex)
            };
        }
        if self.is_local_addr(ip) {
            return Err(Errno::EINVAL);
        }
        self.ifs
            .iter()
            .filter(|i| i.ifindex != LOOPBACK_IFINDEX && i.up)
            .find(|i| i.addr.is_some_and(|c| c.contains(ip)))
            .map(|i| i.ifindex)
            .ok_or(Errno::ENETUNREACH)
    }

    /// `SIOCSARP`: set the entry for `ip` (`ifindex` 0: the interface it is on-link
    /// through). Without a hardware address (no `ATF_COM`) only an existing entry can be
    /// set, and it stops being permanent, as on Linux.
    pub fn neigh_set(
        &mut self,
        ifindex: u32,
        ip: Ipv4,
        mac: Option<[u8; 6]>,
        permanent: bool,
    ) -> SysResult<()> {
        if ip.is_any() || ip.is_broadcast() || ip.is_multicast() {
            return Err(Errno::EINVAL);
        }
        let ifindex = self.neigh_dev(ifindex, ip)?;
        self.now = self.platform.now_us();
        let now = self.now;
        let Some(mac) = mac else {
            let n = self.neighbor_mut(ifindex, ip).ok_or(Errno::EINVAL)?;
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
        match self.neighbor_mut(ifindex, ip) {
            Some(n) => *n = entry,
            None => self.insert_neighbor(entry)?,
        }
        if let Some(slot) = self.netif(ifindex).map(|i| i.slot) {
            self.engine.add_neighbor(slot, mac, ip, now);
        }
        self.run();
        Ok(())
    }

    /// `SIOCGARP`: the entry for `ip` on `ifindex`; ENXIO if there is none.
    pub fn neigh_get(&self, ifindex: u32, ip: Ipv4) -> SysResult<Neighbor> {
        self.neighbors
            .iter()
            .find(|n| n.ip == ip && n.ifindex == ifindex)
            .copied()
            .ok_or(Errno::ENXIO)
    }

    /// `SIOCDARP`: forget the entry for `ip` (`ifindex` 0 as for [`Stack::neigh_set`]);
    /// the engine forgets it too and asks ARP again next time.
    pub fn neigh_delete(&mut self, ifindex: u32, ip: Ipv4) -> SysResult<()> {
        let ifindex = self.neigh_dev(ifindex, ip)?;
        let pos = self
            .neighbors
            .iter()
            .position(|n| n.ip == ip && n.ifindex == ifindex)
            .ok_or(Errno::ENXIO)?;
        self.neighbors.swap_remove(pos);
        self.now = self.platform.now_us();
        if let Some(slot) = self.netif(ifindex).map(|i| i.slot) {
            self.engine.flush_neighbors(slot);
        }
        self.restore_neighbors(ifindex);
        Ok(())
    }
}
