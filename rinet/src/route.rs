//! The IPv4 route table: longest-prefix match, then lowest metric.
//! A fixed-capacity table (heapless) so a route flood cannot exhaust memory.

use crate::addr::Ipv4;
use crate::errno::{Errno, SysResult};
use crate::table::retain;

pub const MAX_ROUTES: usize = 16;

/// Route flags as `/proc/net/route` and `SIOCADDRT` know them.
pub const RTF_UP: u16 = 0x0001;
pub const RTF_GATEWAY: u16 = 0x0002;
pub const RTF_HOST: u16 = 0x0004;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub dest: Ipv4,
    pub prefix: u8,
    /// `ANY` for an on-link route.
    pub gateway: Ipv4,
    pub ifindex: u32,
    pub metric: u32,
    /// Added by the stack for a configured address (not by the user).
    pub connected: bool,
}

impl Route {
    pub fn flags(&self) -> u16 {
        let mut f = RTF_UP;
        if !self.gateway.is_any() {
            f |= RTF_GATEWAY;
        }
        if self.prefix == 32 {
            f |= RTF_HOST;
        }
        f
    }
}

#[derive(Default)]
pub struct RouteTable {
    routes: heapless::Vec<Route, MAX_ROUTES>,
}

impl RouteTable {
    pub fn add(&mut self, r: Route) -> SysResult<()> {
        let net = Ipv4::from_u32(r.dest.to_u32() & Ipv4::mask(r.prefix).to_u32());
        let r = Route { dest: net, ..r };
        if self.routes.iter().any(|x| {
            x.dest == r.dest
                && x.prefix == r.prefix
                && x.metric == r.metric
                && x.ifindex == r.ifindex
        }) {
            return Err(Errno::EEXIST);
        }
        self.routes.push(r).map_err(|_| Errno::ENOBUFS)
    }

    /// Delete the first route matching dest/prefix and, when given, gateway and interface.
    pub fn delete(
        &mut self,
        dest: Ipv4,
        prefix: u8,
        gateway: Option<Ipv4>,
        ifindex: Option<u32>,
    ) -> SysResult<Route> {
        let net = Ipv4::from_u32(dest.to_u32() & Ipv4::mask(prefix).to_u32());
        let pos = self
            .routes
            .iter()
            .position(|x| {
                x.dest == net
                    && x.prefix == prefix
                    && gateway.is_none_or(|g| g == x.gateway)
                    && ifindex.is_none_or(|i| i == x.ifindex)
            })
            .ok_or(Errno::ESRCH)?;
        Ok(self.routes.remove(pos))
    }

    /// Remove every route through `ifindex` (interface down or gone).
    pub fn flush_if(&mut self, ifindex: u32) {
        retain(self.routes.as_mut_view(), |r| r.ifindex != ifindex);
    }

    pub fn remove_connected(&mut self, ifindex: u32) {
        retain(self.routes.as_mut_view(), |r| {
            !(r.connected && r.ifindex == ifindex)
        });
    }

    /// The best route for `dst`: longest prefix, then lowest metric.
    pub fn lookup(&self, dst: Ipv4) -> Option<&Route> {
        self.lookup_on(dst, 0)
    }

    /// The best route for `dst` through interface `ifindex` only (0: any interface).
    pub fn lookup_on(&self, dst: Ipv4, ifindex: u32) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| (ifindex == 0 || r.ifindex == ifindex) && dst.in_subnet(r.dest, r.prefix))
            .min_by_key(|r| (core::cmp::Reverse(r.prefix), r.metric))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(dest: [u8; 4], prefix: u8, gw: [u8; 4], ifindex: u32, metric: u32) -> Route {
        Route {
            dest: Ipv4(dest),
            prefix,
            gateway: Ipv4(gw),
            ifindex,
            metric,
            connected: false,
        }
    }

    #[test]
    fn longest_prefix_then_metric() {
        let mut t = RouteTable::default();
        t.add(r([0, 0, 0, 0], 0, [10, 0, 0, 1], 2, 0)).unwrap();
        t.add(r([10, 0, 0, 0], 24, [0; 4], 2, 0)).unwrap();
        t.add(r([10, 0, 0, 0], 24, [0; 4], 3, 10)).unwrap();
        assert_eq!(t.lookup(Ipv4::new(10, 0, 0, 7)).unwrap().ifindex, 2);
        assert_eq!(
            t.lookup(Ipv4::new(8, 8, 8, 8)).unwrap().gateway,
            Ipv4::new(10, 0, 0, 1)
        );
        assert_eq!(
            t.add(r([10, 0, 0, 9], 24, [0; 4], 2, 0)),
            Err(Errno::EEXIST)
        );
        t.delete(Ipv4::ANY, 0, None, None).unwrap();
        assert!(t.lookup(Ipv4::new(8, 8, 8, 8)).is_none());
        assert_eq!(t.delete(Ipv4::ANY, 0, None, None), Err(Errno::ESRCH));
    }

    #[test]
    fn table_is_bounded() {
        let mut t = RouteTable::default();
        for i in 0..MAX_ROUTES as u8 {
            t.add(r([10, i, 0, 0], 16, [0; 4], 2, 0)).unwrap();
        }
        assert_eq!(
            t.add(r([11, 0, 0, 0], 8, [0; 4], 2, 0)),
            Err(Errno::ENOBUFS)
        );
        t.flush_if(2);
        assert_eq!(t.iter().count(), 0);
    }
}
