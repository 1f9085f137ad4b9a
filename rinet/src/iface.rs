//! Interfaces, and the network side of the stack that socket calls consult: which
//! addresses are this host's, the output route for a destination, whether a next hop's
//! link address is known. Owned by the stack beside the socket layer's `Core`.

use alloc::vec::Vec;

use crate::addr::{Cidr, Ipv4};
use crate::errno::{Errno, SysResult};
use crate::neigh::Neighbors;
use crate::route::RouteTable;

pub const LOOPBACK_IFINDEX: u32 = 1;

/// Interface flags, as `SIOCGIFFLAGS` reports them.
pub const IFF_UP: u32 = 0x1;
pub const IFF_LOOPBACK: u32 = 0x8;

/// Link type of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet([u8; 6]),
    Loopback,
}

#[derive(Clone, Debug)]
pub struct Netif {
    pub ifindex: u32,
    pub link: Link,
    pub mtu: usize,
    pub addr: Option<Cidr>,
    pub up: bool,
}

/// Interfaces, routes and neighbours.
#[derive(Default)]
pub struct Net {
    pub(crate) ifs: Vec<Netif>,
    pub(crate) routes: RouteTable,
    pub(crate) neighbors: Neighbors,
    /// Addresses removed from an interface while TCP connections still use them. Like
    /// Linux, such connections are not killed: they pause (their packets are neither sent
    /// nor received) until the address returns or they time out. What the engine sent
    /// meanwhile is lost on the way out, and resent on its retransmission timer.
    pub(crate) retained: Vec<Ipv4>,
}

impl Net {
    pub fn netif(&self, ifindex: u32) -> Option<&Netif> {
        self.ifs.iter().find(|i| i.ifindex == ifindex)
    }

    /// Is `a` the limited broadcast or the broadcast address of one of our subnets?
    pub fn is_broadcast_addr(&self, a: Ipv4) -> bool {
        a.is_broadcast()
            || self
                .ifs
                .iter()
                .any(|i| i.addr.is_some_and(|c| c.directed_broadcast() == Some(a)))
    }

    /// Is `a` an address of this host?
    pub fn is_local_addr(&self, a: Ipv4) -> bool {
        a.is_loopback() || self.ifs.iter().any(|i| i.addr.is_some_and(|c| c.addr == a))
    }

    /// Linux: a loopback source never leaves through another interface (EINVAL).
    pub(crate) fn check_source_if(&self, src: Ipv4, ifindex: u32) -> SysResult<()> {
        if src.is_loopback() && ifindex != LOOPBACK_IFINDEX {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// Output route for `dst`: (interface, source address, next hop). A socket bound
    /// to an interface (`bound_if` != 0) leaves only through it, by a route through that
    /// interface (limited broadcast needs none). Unlike Linux, which then takes any
    /// destination as on-link there, no route through it is ENETUNREACH.
    pub(crate) fn route_out(&self, dst: Ipv4, bound_if: u32) -> SysResult<(u32, Ipv4, Ipv4)> {
        // Loopback has no routes of its own: a socket bound to it routes as unbound.
        let bound_if = if bound_if == LOOPBACK_IFINDEX {
            0
        } else {
            bound_if
        };
        if bound_if == 0 && self.is_local_addr(dst) {
            let src = if dst.is_loopback() {
                Ipv4::LOCALHOST
            } else {
                dst
            };
            return Ok((LOOPBACK_IFINDEX, src, dst));
        }
        let (ifindex, hop) = if bound_if != 0 && dst.is_broadcast() {
            (bound_if, dst)
        } else {
            let r = self
                .routes
                .lookup_on(dst, bound_if)
                .ok_or(Errno::ENETUNREACH)?;
            let hop = if r.gateway.is_any() { dst } else { r.gateway };
            (r.ifindex, hop)
        };
        let nif = self
            .netif(ifindex)
            .filter(|i| i.up)
            .ok_or(Errno::ENETUNREACH)?;
        let src = nif.addr.ok_or(Errno::ENETUNREACH)?.addr;
        Ok((ifindex, src, hop))
    }

    pub(crate) fn has_neighbor(&self, ifindex: u32, ip: Ipv4) -> bool {
        ifindex == LOOPBACK_IFINDEX || self.neighbors.contains(ifindex, ip)
    }

    pub(crate) fn is_retained(&self, addr: Ipv4) -> bool {
        self.retained.contains(&addr)
    }
}
