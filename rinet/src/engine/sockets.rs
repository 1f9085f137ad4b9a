//! Where the engine's sockets live.
//!
//! smoltcp walks every socket of the set it is handed: on each packet in (to find the one
//! that accepts it), on each transmit (to let each send) and on each timer question
//! (`poll_at`). An established connection with nothing to do would cost every one of
//! those walks, so the stack's cost would grow with its idle connections. Such a
//! connection is parked instead, outside the set smoltcp polls: a segment for it (found
//! by its four-tuple) or any call that may change it wakes it first. Only a connection
//! smoltcp itself says needs nothing but a segment (`Interface::poll_at`) is parked, so
//! no timer of a parked socket can come due.
//!
//! A socket is named by its slot, which stays its own wherever the socket is. Without the
//! `park` feature (the kernel's CONFIG_RINET_IDLE_PARKING) every socket stays awake.

use alloc::vec::Vec;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::Socket;
#[cfg(feature = "park")]
use smoltcp::{
    iface::Interface,
    socket::{tcp, AnySocket},
    time::Instant,
    wire::IpEndpoint,
};

#[cfg(feature = "park")]
use super::from_ip;
use crate::errno::{Errno, SysResult};

#[derive(Clone, Copy)]
enum Place {
    Free,
    Awake(SocketHandle),
    /// Index into `Sockets::parked`.
    #[cfg(feature = "park")]
    Parked(u32),
}

/// A connection's four-tuple as a segment carries it: local address and port, remote
/// address and port, in network order, as one integer. Not a byte array: ordering
/// arrays calls memcmp, which rustc calls with stack arguments even under -Zregparm=3,
/// against the i586 kernel's register-argument memcmp (the Galileo oopsed on it; the
/// Galileo check `galileo-rinet-object-calls-no-memcmp` now refuses such an object).
#[cfg(feature = "park")]
type Tuple = u128;

pub(super) struct Sockets {
    /// The set smoltcp polls.
    pub(super) awake: SocketSet<'static>,
    /// A one-socket set, to ask smoltcp whether a connection is idle (it answers per set).
    #[cfg(feature = "park")]
    probe: SocketSet<'static>,
    /// Parked connections, with their slots.
    #[cfg(feature = "park")]
    parked: Vec<(u32, Socket<'static>)>,
    /// Parked connections by four-tuple, sorted: the lookup of every segment in.
    #[cfg(feature = "park")]
    by_tuple: Vec<(Tuple, u32)>,
    places: Vec<Place>,
    /// The slots in `awake`: the park pass looks at these only. Without parking,
    /// `places` says it all (a board without parking has a handful of sockets).
    #[cfg(feature = "park")]
    awake_slots: Vec<u32>,
    /// Storage slots `awake` has: smoltcp walks them all, empty or not, so a set that
    /// grew in a burst is built again once most of it is empty.
    #[cfg(feature = "park")]
    awake_storage: usize,
}

/// The four-tuple of its parts, each in network order.
#[cfg(feature = "park")]
fn tuple(local: &[u8], local_port: &[u8], remote: &[u8], remote_port: &[u8]) -> Tuple {
    let mut t = [0u8; 16];
    t[..4].copy_from_slice(local);
    t[4..6].copy_from_slice(local_port);
    t[6..10].copy_from_slice(remote);
    t[10..12].copy_from_slice(remote_port);
    u128::from_be_bytes(t)
}

#[cfg(feature = "park")]
fn tuple_of(local: IpEndpoint, remote: IpEndpoint) -> Tuple {
    tuple(
        &from_ip(local.addr).0,
        &local.port.to_be_bytes(),
        &from_ip(remote.addr).0,
        &remote.port.to_be_bytes(),
    )
}

#[cfg(feature = "park")]
fn tuple_of_socket(s: &Socket<'static>) -> Option<Tuple> {
    let t = tcp::Socket::downcast(s)?;
    Some(tuple_of(t.local_endpoint()?, t.remote_endpoint()?))
}

/// The four-tuple of the connection a TCP segment in an IPv4 packet is for.
#[cfg(feature = "park")]
fn tuple_of_packet(p: &[u8]) -> Option<Tuple> {
    let ihl = usize::from(*p.first()? & 0x0f) * 4;
    if p.len() < ihl + 4 || ihl < 20 || p[9] != 6 {
        return None;
    }
    Some(tuple(
        &p[16..20],
        &p[ihl + 2..ihl + 4],
        &p[12..16],
        &p[ihl..ihl + 2],
    ))
}

/// A connection that may be idle: smoltcp's probe decides. Everything here is cheap to
/// ask and rules out most sockets that are not.
#[cfg(feature = "park")]
fn may_be_idle(s: &Socket<'static>) -> bool {
    tcp::Socket::downcast(s).is_some_and(|t| {
        t.state() == tcp::State::Established
            && t.send_queue() == 0
            && t.keep_alive().is_none()
            && t.timeout().is_none()
    })
}

impl Sockets {
    pub(super) fn new() -> Sockets {
        Sockets {
            awake: SocketSet::new(Vec::new()),
            #[cfg(feature = "park")]
            probe: SocketSet::new(Vec::new()),
            #[cfg(feature = "park")]
            parked: Vec::new(),
            #[cfg(feature = "park")]
            by_tuple: Vec::new(),
            places: Vec::new(),
            #[cfg(feature = "park")]
            awake_slots: Vec::new(),
            #[cfg(feature = "park")]
            awake_storage: 0,
        }
    }

    /// Sockets alive.
    pub(super) fn count(&self) -> usize {
        #[cfg(feature = "park")]
        return self.awake_slots.len() + self.parked.len();
        #[cfg(not(feature = "park"))]
        self.awake.iter().count()
    }

    #[cfg(all(test, feature = "park"))]
    pub(super) fn parked_count(&self) -> usize {
        self.parked.len()
    }

    /// Put `s` in the awake set; ENOMEM if there is no room to note where it is.
    pub(super) fn add(&mut self, s: Socket<'static>) -> SysResult<u32> {
        let free = self.places.iter().position(|p| matches!(p, Place::Free));
        if free.is_none() {
            self.places.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        }
        #[cfg(feature = "park")]
        self.awake_slots.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        let slot = free.unwrap_or(self.places.len());
        if free.is_none() {
            self.places.push(Place::Free);
        }
        self.put_awake(slot as u32, s);
        Ok(slot as u32)
    }

    fn put_awake(&mut self, slot: u32, s: Socket<'static>) {
        let h = self.awake.add(s);
        self.places[slot as usize] = Place::Awake(h);
        #[cfg(feature = "park")]
        {
            self.awake_slots.push(slot);
            self.awake_storage = self.awake_storage.max(self.awake_slots.len());
        }
    }

    fn place(&self, slot: u32) -> Place {
        self.places
            .get(slot as usize)
            .copied()
            .unwrap_or(Place::Free)
    }

    /// The socket in `slot`, awake or parked, to look at.
    pub(super) fn get(&self, slot: u32) -> Option<&Socket<'static>> {
        match self.place(slot) {
            Place::Free => None,
            Place::Awake(h) => Some(self.awake.get::<Socket<'static>>(h)),
            #[cfg(feature = "park")]
            Place::Parked(i) => Some(&self.parked[i as usize].1),
        }
    }

    /// The socket in `slot`, woken: a change may give it something to do.
    pub(super) fn get_mut(&mut self, slot: u32) -> Option<&mut Socket<'static>> {
        #[cfg(feature = "park")]
        self.wake(slot);
        match self.place(slot) {
            Place::Awake(h) => Some(self.awake.get_mut::<Socket<'static>>(h)),
            _ => None,
        }
    }

    /// Take `slot`'s socket out of the parked ones (its place is the caller's to set).
    #[cfg(feature = "park")]
    fn unpark(&mut self, slot: u32, i: u32) -> Socket<'static> {
        let (_, s) = self.parked.swap_remove(i as usize);
        if let Some((moved, _)) = self.parked.get(i as usize) {
            self.places[*moved as usize] = Place::Parked(i);
        }
        if let Some(at) = tuple_of_socket(&s).and_then(|t| {
            self.by_tuple
                .binary_search_by(|(k, _)| k.cmp(&t))
                .ok()
                .filter(|&at| self.by_tuple[at].1 == slot)
        }) {
            self.by_tuple.remove(at);
        }
        s
    }

    #[cfg(feature = "park")]
    pub(super) fn wake(&mut self, slot: u32) {
        if let Place::Parked(i) = self.place(slot) {
            let s = self.unpark(slot, i);
            self.put_awake(slot, s);
        }
    }

    /// Wake the parked connection an IPv4 packet is a TCP segment for, if any: smoltcp
    /// answers a segment no socket of its set takes with a reset.
    #[cfg(feature = "park")]
    pub(super) fn wake_for(&mut self, packet: &[u8]) {
        if self.by_tuple.is_empty() {
            return;
        }
        let Some(t) = tuple_of_packet(packet) else {
            return;
        };
        if let Ok(at) = self.by_tuple.binary_search_by(|(k, _)| k.cmp(&t)) {
            let slot = self.by_tuple[at].1;
            self.wake(slot);
        }
    }

    pub(super) fn remove(&mut self, slot: u32) {
        match self.place(slot) {
            Place::Free => return,
            Place::Awake(h) => {
                self.awake.remove(h);
                #[cfg(feature = "park")]
                if let Some(at) = self.awake_slots.iter().position(|&s| s == slot) {
                    self.awake_slots.swap_remove(at);
                }
            }
            #[cfg(feature = "park")]
            Place::Parked(i) => {
                self.unpark(slot, i);
            }
        }
        self.places[slot as usize] = Place::Free;
    }

    /// Every socket, awake or parked.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &Socket<'static>)> {
        let awake = self
            .places
            .iter()
            .enumerate()
            .filter_map(|(slot, p)| match p {
                Place::Awake(h) => Some((slot as u32, self.awake.get::<Socket<'static>>(*h))),
                _ => None,
            });
        #[cfg(feature = "park")]
        return awake.chain(self.parked.iter().map(|(slot, s)| (*slot, s)));
        #[cfg(not(feature = "park"))]
        awake
    }

    /// Park the awake connections that need nothing but a segment, after a transmit that
    /// ran to its end (a connection it left with data to send is not idle).
    #[cfg(feature = "park")]
    pub(super) fn park_idle(&mut self, iface: &mut Interface, now: Instant) {
        let mut i = 0;
        while i < self.awake_slots.len() {
            let slot = self.awake_slots[i];
            let Place::Awake(h) = self.place(slot) else {
                self.awake_slots.swap_remove(i);
                continue;
            };
            if !may_be_idle(self.awake.get::<Socket<'static>>(h))
                || self.parked.try_reserve(1).is_err()
                || self.by_tuple.try_reserve(1).is_err()
            {
                i += 1;
                continue;
            }
            let ph = self.probe.add(self.awake.remove(h));
            let idle = iface.poll_at(now, &self.probe).is_none();
            let s = self.probe.remove(ph);
            match tuple_of_socket(&s).filter(|_| idle) {
                Some(t) => {
                    let at = self
                        .by_tuple
                        .binary_search_by(|(k, _)| k.cmp(&t))
                        .unwrap_or_else(|at| at);
                    self.by_tuple.insert(at, (t, slot));
                    self.places[slot as usize] = Place::Parked(self.parked.len() as u32);
                    self.parked.push((slot, s));
                    self.awake_slots.swap_remove(i);
                }
                None => {
                    self.places[slot as usize] = Place::Awake(self.awake.add(s));
                    i += 1;
                }
            }
        }
        if self.awake_storage > 16 && self.awake_slots.len() * 4 < self.awake_storage {
            self.compact();
        }
    }

    /// Build the awake set again with only its sockets in it.
    #[cfg(feature = "park")]
    fn compact(&mut self) {
        let mut set = SocketSet::new(Vec::new());
        for &slot in &self.awake_slots {
            if let Place::Awake(h) = self.places[slot as usize] {
                self.places[slot as usize] = Place::Awake(set.add(self.awake.remove(h)));
            }
        }
        self.awake = set;
        self.awake_storage = self.awake_slots.len();
    }
}

#[cfg(all(test, feature = "park"))]
mod tests {
    use super::*;
    use smoltcp::wire::{IpAddress, Ipv4Address};

    #[test]
    fn a_segment_and_its_connection_name_the_same_four_tuple() {
        let local = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), 80);
        let remote = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1)), 4000);
        let seg = crate::wire::tcp_segment(
            crate::Endpoint::new(crate::Ipv4::new(10, 0, 0, 1), 4000),
            crate::Endpoint::new(crate::Ipv4::new(10, 0, 0, 2), 80),
            (1, 2),
            crate::wire::TCP_ACK,
            100,
        );
        assert_eq!(tuple_of_packet(&seg), Some(tuple_of(local, remote)));
        assert_eq!(tuple_of_packet(&seg[..22]), None, "too short for the ports");
        let mut udp = seg;
        udp[9] = 17;
        assert_eq!(tuple_of_packet(&udp), None, "not TCP");
    }
}
