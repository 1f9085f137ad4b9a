//! Engine-neutral IPv4 addresses, endpoints and the `sockaddr_in` wire layout.

use crate::errno::{Errno, SysResult};

/// An IPv4 address in network byte order, stored as four octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ipv4(pub [u8; 4]);

impl Ipv4 {
    pub const ANY: Ipv4 = Ipv4([0, 0, 0, 0]);
    pub const BROADCAST: Ipv4 = Ipv4([255, 255, 255, 255]);
    pub const LOCALHOST: Ipv4 = Ipv4([127, 0, 0, 1]);

    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Ipv4 {
        Ipv4([a, b, c, d])
    }
    pub const fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }
    pub const fn from_u32(v: u32) -> Ipv4 {
        Ipv4(v.to_be_bytes())
    }
    pub fn is_any(self) -> bool {
        self == Ipv4::ANY
    }
    pub fn is_loopback(self) -> bool {
        self.0[0] == 127
    }
    pub fn is_multicast(self) -> bool {
        self.0[0] & 0xf0 == 0xe0
    }
    pub fn is_broadcast(self) -> bool {
        self == Ipv4::BROADCAST
    }
    /// Netmask of a prefix length (0..=32).
    pub fn mask(prefix: u8) -> Ipv4 {
        let p = u32::from(prefix.min(32));
        Ipv4::from_u32(if p == 0 { 0 } else { u32::MAX << (32 - p) })
    }
    /// Prefix length of a netmask, or `None` if the mask is not contiguous.
    pub fn prefix_len(self) -> Option<u8> {
        let v = self.to_u32();
        let ones = v.leading_ones();
        (v.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
    }
    pub fn in_subnet(self, net: Ipv4, prefix: u8) -> bool {
        let m = Ipv4::mask(prefix).to_u32();
        self.to_u32() & m == net.to_u32() & m
    }
}

/// An IPv4 address with its prefix length, as configured on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4,
    pub prefix: u8,
}

impl Cidr {
    pub fn contains(&self, a: Ipv4) -> bool {
        a.in_subnet(self.addr, self.prefix)
    }
    pub fn broadcast(&self) -> Ipv4 {
        Ipv4::from_u32(self.addr.to_u32() | !Ipv4::mask(self.prefix).to_u32())
    }
    /// The subnet's broadcast address, which /31 and /32 subnets lack (RFC 3021).
    pub fn directed_broadcast(&self) -> Option<Ipv4> {
        (self.prefix < 31).then(|| self.broadcast())
    }
}

/// An (address, port) pair; the address may be `ANY` for a wildcard bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Endpoint {
    pub addr: Ipv4,
    pub port: u16,
}

impl Endpoint {
    pub const fn new(addr: Ipv4, port: u16) -> Endpoint {
        Endpoint { addr, port }
    }
}

pub const AF_UNSPEC: u16 = 0;
pub const AF_INET: u16 = 2;
/// `sizeof(struct sockaddr_in)`.
pub const SOCKADDR_IN_LEN: usize = 16;

/// Parse a `struct sockaddr_in` as user space passed it (already copied into the kernel).
pub fn parse_sockaddr_in(buf: &[u8]) -> SysResult<Endpoint> {
    if buf.len() < SOCKADDR_IN_LEN {
        return Err(Errno::EINVAL);
    }
    let family = u16::from_ne_bytes([buf[0], buf[1]]);
    if family != AF_INET {
        return Err(Errno::EAFNOSUPPORT);
    }
    Ok(Endpoint {
        port: u16::from_be_bytes([buf[2], buf[3]]),
        addr: Ipv4([buf[4], buf[5], buf[6], buf[7]]),
    })
}

/// Write a `struct sockaddr_in` for `ep`.
pub fn write_sockaddr_in(ep: Endpoint) -> [u8; SOCKADDR_IN_LEN] {
    let mut out = [0u8; SOCKADDR_IN_LEN];
    out[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
    out[2..4].copy_from_slice(&ep.port.to_be_bytes());
    out[4..8].copy_from_slice(&ep.addr.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(Ipv4::mask(24), Ipv4::new(255, 255, 255, 0));
        assert_eq!(Ipv4::mask(0), Ipv4::ANY);
        assert_eq!(Ipv4::mask(32), Ipv4::BROADCAST);
        assert_eq!(Ipv4::new(255, 255, 240, 0).prefix_len(), Some(20));
        assert_eq!(Ipv4::new(255, 0, 255, 0).prefix_len(), None);
        assert_eq!(Ipv4::ANY.prefix_len(), Some(0));
        let c = Cidr {
            addr: Ipv4::new(10, 0, 0, 5),
            prefix: 24,
        };
        assert!(c.contains(Ipv4::new(10, 0, 0, 200)));
        assert!(!c.contains(Ipv4::new(10, 0, 1, 1)));
        assert_eq!(c.broadcast(), Ipv4::new(10, 0, 0, 255));
    }

    #[test]
    fn sockaddr_round_trip_and_errors() {
        let ep = Endpoint::new(Ipv4::new(192, 0, 2, 1), 8080);
        let raw = write_sockaddr_in(ep);
        assert_eq!(parse_sockaddr_in(&raw), Ok(ep));
        assert_eq!(parse_sockaddr_in(&raw[..8]), Err(Errno::EINVAL));
        let mut bad = raw;
        bad[0..2].copy_from_slice(&10u16.to_ne_bytes());
        assert_eq!(parse_sockaddr_in(&bad), Err(Errno::EAFNOSUPPORT));
    }
}
