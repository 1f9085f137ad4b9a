//! The stack: the receive path (Ethernet, ARP and the classifier), the transmit path
//! (route, neighbour, Ethernet header), the poll loop that drives the engine, and the
//! public calls. It owns the socket layer's `Core` (see [`crate::socket`]) and the
//! interfaces, routes and neighbours ([`Net`], see [`crate::iface`]); a socket call hands
//! the socket layer `self.core` and, where it needs them, `&self.net`.
//!
//! The stack is event-driven: it runs when a frame arrives, when a socket call is made and
//! when the timer the platform armed (see [`Platform::set_timer`]) expires. An idle stack
//! arms no timer at all.

use alloc::vec::Vec;

use crate::addr::{Cidr, Endpoint, Ipv4};
use crate::engine::{Engine, Lent, PacketSink, Sink, TcpState, HEADROOM};
use crate::errno::{Errno, SysResult};
use crate::neigh::{Neighbor, Neighbors};
use crate::route::{Route, RouteTable};
use crate::socket::dgram::Received;
use crate::socket::opts::SocketSettings;
use crate::socket::time_wait::{Segment, Verdict};
use crate::socket::{Core, Proto, Sock, SockInfo, SocketId, SocketTable, Tcp};
use crate::stats::Stats;
use crate::wire::{self, DropReason, Frame, Ipv4Info, Transport};

pub use crate::iface::{Link, Net, Netif, IFF_LOOPBACK, IFF_UP, LOOPBACK_IFINDEX};
pub use crate::platform::{Config, Platform};

/// The addresses the engine holds (smoltcp's `iface-max-addr-count`): one per device,
/// loopback's included. Retained addresses stay out (see `sync_addrs`).
type EngineAddrs = heapless::Vec<Cidr, 8>;

/// The engine's IP MTU while no device is registered.
const DEFAULT_MTU: usize = 1500;

pub struct Stack<P: Platform> {
    /// What socket calls work with (see [`Core`]).
    pub(crate) core: Core<P>,
    /// Interfaces, routes and neighbours (see [`Net`]).
    pub(crate) net: Net,
    timer: Option<u64>,
}

impl<P: Platform> Stack<P> {
    /// A stack with the loopback interface (127.0.0.1/8) up.
    pub fn new(cfg: Config, mut platform: P) -> SysResult<Stack<P>> {
        let now = platform.now_us();
        let seed = platform.random_seed();
        let mut s = Stack {
            core: Core {
                platform,
                cfg,
                engine: Engine::new(DEFAULT_MTU, seed, now),
                socks: SocketTable::new(seed),
                stats: Stats::default(),
                now,
                run_asked: false,
            },
            net: Net::default(),
            timer: None,
        };
        #[cfg(feature = "offload")]
        if s.core.platform.segments_tcp() {
            s.core.engine.set_offload(true, now);
        }
        s.add_link(LOOPBACK_IFINDEX, Link::Loopback, 65535)?;
        s.set_addr(
            LOOPBACK_IFINDEX,
            Some(Cidr {
                addr: Ipv4::LOCALHOST,
                prefix: 8,
            }),
        )?;
        s.set_up(LOOPBACK_IFINDEX, true)?;
        Ok(s)
    }

    // ---- socket calls: crate::socket answers them; the stack then runs if one asked ----

    /// After a socket call: run the stack if the call asked for it (`Core::run_for`).
    fn after_call(&mut self) {
        if core::mem::take(&mut self.core.run_asked) {
            self.run_changed();
        }
    }

    /// After a call that sends or receives: the stack runs if asked, then what the call
    /// changed of the socket's poll mask and pending error is told (`Core::seen_by_user`).
    fn after_transfer(&mut self, id: SocketId) {
        self.after_call();
        self.core.seen_by_user(id);
    }

    /// `sendto(2)`/`send(2)`: `to` is ignored on a connected stream, as Linux does.
    pub fn send(&mut self, id: SocketId, data: &[u8], to: Option<Endpoint>) -> SysResult<usize> {
        self.core.now = self.core.platform.now_us();
        let r = self.core.send(&self.net, id, data, to);
        self.after_transfer(id);
        r
    }

    /// `sendto(2)` of one datagram, whole (UDP, raw): EOPNOTSUPP for a stream socket,
    /// whose sends go through [`Stack::send_stream_with`].
    pub fn send_datagram(
        &mut self,
        id: SocketId,
        data: &[u8],
        to: Option<Endpoint>,
    ) -> SysResult<usize> {
        self.core.now = self.core.platform.now_us();
        let r = self.core.send_datagram(&self.net, id, data, to);
        self.after_transfer(id);
        r
    }

    /// `send(2)` on a stream socket of up to `len` bytes that `fill` copies straight into
    /// the send buffer (from a caller's iov in the kernel: no bounce buffer). `fill`
    /// returns how many bytes it wrote; fewer than asked ends the call. EOPNOTSUPP for a
    /// datagram socket.
    pub fn send_stream_with(
        &mut self,
        id: SocketId,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> SysResult<usize> {
        self.core.now = self.core.platform.now_us();
        let r = self.core.send_stream_with(id, len, fill);
        self.after_transfer(id);
        r
    }

    /// `recvfrom(2)`/`recv(2)`. `flags` may hold MSG_PEEK.
    pub fn recv(&mut self, id: SocketId, buf: &mut [u8], flags: u32) -> SysResult<Received> {
        self.core.now = self.core.platform.now_us();
        let r = self.core.recv(id, buf, flags);
        self.after_transfer(id);
        r
    }

    /// `connect(2)`. A stream socket starts its handshake and gets EINPROGRESS; the
    /// result arrives through the poll mask, and a second call returns it.
    pub fn connect(&mut self, id: SocketId, remote: Endpoint) -> SysResult<()> {
        let r = self.core.connect(&self.net, id, remote);
        self.after_call();
        r
    }

    /// `shutdown(2)`.
    pub fn shutdown(&mut self, id: SocketId, how: i32) -> SysResult<()> {
        let r = self.core.shutdown(id, how);
        self.after_call();
        r
    }

    /// `getsockname(2)`.
    pub fn local_endpoint(&mut self, id: SocketId) -> SysResult<Endpoint> {
        self.core.local_endpoint(&self.net, id)
    }

    /// The socket's SOL_SOCKET settings changed (the kernel glue calls this after every
    /// SOL_SOCKET `setsockopt` the socket core accepted, and for an accepted socket).
    pub fn set_settings(&mut self, id: SocketId, set: SocketSettings) -> SysResult<()> {
        let r = self.core.set_settings(id, set);
        self.after_call();
        r
    }

    pub fn settings(&self, id: SocketId) -> SysResult<SocketSettings> {
        self.core.settings(id)
    }

    /// `setsockopt(2)` at the protocol levels (SOL_TCP, SOL_IP).
    pub fn setsockopt(&mut self, id: SocketId, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
        let r = self.core.setsockopt(id, level, name, val);
        self.after_call();
        r
    }

    /// `bind(2)`.
    pub fn bind(&mut self, id: SocketId, ep: Endpoint) -> SysResult<()> {
        let r = self.core.bind(&self.net, id, ep);
        self.after_call();
        r
    }

    /// `close(2)`.
    pub fn close(&mut self, id: SocketId) -> SysResult<()> {
        let r = self.core.close(id);
        self.after_call();
        r
    }

    /// `listen(2)`. Calling it again on a listening socket changes the backlog.
    pub fn listen(&mut self, id: SocketId, backlog: i32) -> SysResult<()> {
        let r = self.core.listen(&self.net, id, backlog);
        self.after_call();
        r
    }

    /// `accept(2)`: the oldest established connection, or EAGAIN.
    pub fn accept(&mut self, id: SocketId) -> SysResult<(SocketId, Endpoint)> {
        let r = self.core.accept(id);
        self.after_call();
        r
    }

    /// Drop `n` bytes from the front of the receive queue (`MSG_TRUNC` on a stream).
    pub fn consume(&mut self, id: SocketId, n: usize) -> SysResult<usize> {
        let r = self.core.consume(id, n);
        self.after_call();
        r
    }

    /// Open sockets.
    pub fn socket_count(&self) -> usize {
        self.core.socket_count()
    }

    /// Connections closed by their owner that are still finishing (FIN handshake,
    /// TIME-WAIT).
    pub fn orphan_count(&self) -> usize {
        self.core.orphan_count()
    }

    /// Sockets the engine holds (see `Core::engine_socket_count`).
    pub fn engine_socket_count(&self) -> usize {
        self.core.engine_socket_count()
    }

    /// Every socket, for `/proc/net/{tcp,udp,raw}`.
    pub fn sockets(&self) -> impl Iterator<Item = (SocketId, &Sock)> + '_ {
        self.core.sockets()
    }

    /// `socket(AF_INET, ty, protocol)`.
    pub fn socket(&mut self, ty: i32, protocol: i32) -> SysResult<SocketId> {
        self.core.socket(ty, protocol)
    }

    /// `connect(AF_UNSPEC)` on a datagram socket: forget the peer.
    pub fn disconnect(&mut self, id: SocketId) -> SysResult<()> {
        self.core.disconnect(id)
    }

    /// `getsockopt(2)` at the protocol levels: the bytes written to `out`.
    pub fn getsockopt(
        &mut self,
        id: SocketId,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> SysResult<usize> {
        self.core.getsockopt(id, level, name, out)
    }

    /// `getpeername(2)`.
    pub fn remote_endpoint(&mut self, id: SocketId) -> SysResult<Endpoint> {
        self.core.remote_endpoint(id)
    }

    /// Take the pending error (`SO_ERROR`).
    pub fn take_error(&mut self, id: SocketId) -> SysResult<Option<Errno>> {
        self.core.take_error(id)
    }

    /// The socket's `poll(2)` mask, as Linux's `tcp_poll`/`datagram_poll` compute it.
    pub fn poll_mask(&mut self, id: SocketId) -> u32 {
        self.core.poll_mask(id)
    }

    /// Bytes readable now (`FIONREAD`/`SIOCINQ`): TCP queue, or the next datagram's size.
    pub fn bytes_readable(&mut self, id: SocketId) -> SysResult<usize> {
        self.core.bytes_readable(id)
    }

    /// Bytes not yet acknowledged by the peer (`SIOCOUTQ`).
    pub fn bytes_unsent(&mut self, id: SocketId) -> SysResult<usize> {
        self.core.bytes_unsent(id)
    }

    /// A summary of socket `nth` (in table order) for `/proc/net/{tcp,udp,raw}`.
    pub fn socket_info(&mut self, nth: usize) -> Option<SockInfo> {
        self.core.socket_info(nth)
    }

    pub fn netif(&self, ifindex: u32) -> Option<&Netif> {
        self.net.netif(ifindex)
    }

    /// Is `a` a broadcast address here (limited, or an interface's directed one)?
    pub fn is_broadcast_addr(&self, a: Ipv4) -> bool {
        self.net.is_broadcast_addr(a)
    }

    /// Is `a` an address of this host?
    pub fn is_local_addr(&self, a: Ipv4) -> bool {
        self.net.is_local_addr(a)
    }

    /// The counters (`/proc/net/snmp`).
    pub fn stats(&self) -> &Stats {
        &self.core.stats
    }

    pub fn platform(&mut self) -> &mut P {
        &mut self.core.platform
    }

    pub fn config(&self) -> &Config {
        &self.core.cfg
    }

    // ---- interfaces ----

    /// Register an Ethernet device (down, no address).
    pub fn add_ethernet(&mut self, ifindex: u32, mac: [u8; 6], mtu: usize) -> SysResult<()> {
        self.add_link(ifindex, Link::Ethernet(mac), mtu)
    }

    /// The device's hardware address or MTU is now `mac` and `mtu`: what goes on the wire
    /// from here on uses them.
    pub fn set_link(&mut self, ifindex: u32, mac: [u8; 6], mtu: usize) -> SysResult<()> {
        let nif = self.netif_mut(ifindex)?;
        if nif.link == Link::Loopback || mac[0] & 1 != 0 {
            return Err(Errno::EINVAL);
        }
        nif.link = Link::Ethernet(mac);
        nif.mtu = mtu.clamp(576, 65535);
        self.sync_mtu();
        Ok(())
    }

    fn add_link(&mut self, ifindex: u32, link: Link, mtu: usize) -> SysResult<()> {
        if self.net.ifs.iter().any(|i| i.ifindex == ifindex) {
            return Err(Errno::EEXIST);
        }
        if matches!(link, Link::Ethernet(mac) if mac[0] & 1 != 0) {
            return Err(Errno::EINVAL);
        }
        self.net.ifs.push(Netif {
            ifindex,
            link,
            mtu: mtu.clamp(576, 65535),
            addr: None,
            up: false,
        });
        self.sync_mtu();
        Ok(())
    }

    /// The engine builds packets for the smallest device MTU: it does not know which
    /// device a packet will leave by (loopback traffic is no exception).
    fn sync_mtu(&mut self) {
        let mtu = self
            .net
            .ifs
            .iter()
            .filter(|i| i.link != Link::Loopback)
            .map(|i| i.mtu)
            .min()
            .unwrap_or(DEFAULT_MTU);
        self.core.engine.set_mtu(mtu, self.core.now);
    }

    /// The device is gone: its routes, neighbours and the connections on its address go
    /// too.
    pub fn remove_link(&mut self, ifindex: u32) -> SysResult<()> {
        if ifindex == LOOPBACK_IFINDEX {
            return Err(Errno::EINVAL);
        }
        let pos = self
            .net
            .ifs
            .iter()
            .position(|i| i.ifindex == ifindex)
            .ok_or(Errno::ENODEV)?;
        self.set_up(ifindex, false)?;
        if let Some(c) = self.net.ifs[pos].addr {
            self.forget_addr(c.addr);
        }
        self.net.ifs.remove(pos);
        self.net.routes.flush_if(ifindex);
        self.net.neighbors.forget_if(ifindex);
        self.sync_mtu();
        self.sync_addrs();
        self.run();
        Ok(())
    }

    pub fn netifs(&self) -> impl Iterator<Item = &Netif> {
        self.net.ifs.iter()
    }

    fn netif_mut(&mut self, ifindex: u32) -> SysResult<&mut Netif> {
        self.net
            .ifs
            .iter_mut()
            .find(|i| i.ifindex == ifindex)
            .ok_or(Errno::ENODEV)
    }

    pub fn set_up(&mut self, ifindex: u32, up: bool) -> SysResult<()> {
        let nif = self.netif_mut(ifindex)?;
        if nif.up == up {
            return Ok(());
        }
        nif.up = up;
        let addr = nif.addr;
        if up {
            if let Some(c) = addr {
                self.add_connected_route(ifindex, c);
            }
        } else {
            self.net.routes.flush_if(ifindex);
            // Linux flushes the device's ARP entries (static ones too) when it goes down;
            // what waited for an answer goes with them.
            self.net.neighbors.forget_if(ifindex);
        }
        self.run();
        Ok(())
    }

    /// Set (or with `None`, remove) the interface's address.
    pub fn set_addr(&mut self, ifindex: u32, cidr: Option<Cidr>) -> SysResult<()> {
        if let Some(c) = cidr {
            if c.prefix > 32 || c.addr.is_multicast() || c.addr.is_broadcast() {
                return Err(Errno::EINVAL);
            }
        }
        let nif = self.netif_mut(ifindex)?;
        nif.addr = cidr;
        let up = nif.up;
        self.net.routes.remove_connected(ifindex);
        if let (Some(c), true) = (cidr, up) {
            self.add_connected_route(ifindex, c);
        }
        self.sync_addrs();
        self.run();
        Ok(())
    }

    fn add_connected_route(&mut self, ifindex: u32, c: Cidr) {
        if ifindex == LOOPBACK_IFINDEX {
            return;
        }
        let _ = self.net.routes.add(Route {
            dest: c.addr,
            prefix: c.prefix,
            gateway: Ipv4::ANY,
            ifindex,
            metric: 0,
            connected: true,
        });
    }

    /// Push the devices' addresses to the engine (it takes every packet the stack hands
    /// it; it uses them for subnet broadcasts), and note which addresses TCP connections
    /// still use though no device has them: retained, not ours on the wire.
    fn sync_addrs(&mut self) {
        self.net.retained.clear();
        let mut addrs = EngineAddrs::new();
        for c in self.net.ifs.iter().filter_map(|i| i.addr) {
            let _ = addrs.push(c);
        }
        let (ifs, retained) = (&self.net.ifs, &mut self.net.retained);
        self.core.engine.tcp_local_addrs(&mut |a| {
            let held = a.is_any() || ifs.iter().any(|i| i.addr.is_some_and(|c| c.addr == a));
            if !held && !retained.contains(&a) {
                retained.push(a);
            }
        });
        self.core.engine.set_addrs(&addrs);
    }

    /// Add a route. With `ifindex` 0 the interface is the one whose subnet holds the
    /// gateway (what `route add default gw X` means).
    pub fn add_route(&mut self, r: Route) -> SysResult<()> {
        let r = if r.ifindex == 0 {
            let nif = self
                .net
                .ifs
                .iter()
                .filter(|i| i.ifindex != LOOPBACK_IFINDEX)
                .find(|i| !r.gateway.is_any() && i.addr.is_some_and(|c| c.contains(r.gateway)))
                .ok_or(Errno::ENETUNREACH)?;
            Route {
                ifindex: nif.ifindex,
                ..r
            }
        } else {
            r
        };
        let nif = self.netif(r.ifindex).ok_or(Errno::ENODEV)?;
        if !nif.up {
            return Err(Errno::ENETDOWN);
        }
        if !r.gateway.is_any() {
            // Linux: the gateway must be reachable on-link through that interface.
            if !nif.addr.is_some_and(|c| c.contains(r.gateway)) {
                return Err(Errno::ENETUNREACH);
            }
        }
        self.net.routes.add(Route {
            connected: false,
            ..r
        })
    }

    pub fn delete_route(
        &mut self,
        dest: Ipv4,
        prefix: u8,
        gateway: Option<Ipv4>,
        ifindex: Option<u32>,
    ) -> SysResult<()> {
        self.net
            .routes
            .delete(dest, prefix, gateway, ifindex)
            .map(drop)
    }

    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.net.routes.iter()
    }

    // ---- receive ----

    /// A frame arrived on `ifindex`. Malformed frames are dropped and counted here; the
    /// engine gets the IP packet of an accepted one once, borrowed. Then the stack runs.
    pub fn receive(&mut self, ifindex: u32, frame: &[u8]) {
        self.receive_batched(ifindex, frame);
        self.run_changed();
    }

    /// One frame of a batch the device received together: taken in as
    /// [`Stack::receive`] takes it, but what it makes the stack send (acknowledgments, the
    /// data they open the window for) and the socket wakeups wait for
    /// [`Stack::run_changed`] after the batch, so that one acknowledgment covers the batch's segments and one run
    /// serves them all.
    pub fn receive_batched(&mut self, ifindex: u32, frame: &[u8]) {
        let Some(nif) = self.netif(ifindex) else {
            return;
        };
        let (Link::Ethernet(own), true) = (nif.link, nif.up) else {
            return;
        };
        self.core.now = self.core.platform.now_us();
        // Another host's unicast frame (a device in promiscuous mode, a switch that
        // floods): Linux drops it before IP looks at it (PACKET_OTHERHOST).
        if frame.get(..6).is_some_and(|d| d != own && d[0] & 1 == 0) {
            self.core.stats.other_host += 1;
            return;
        }
        let mut peer = [0u8; 6];
        if let Some(m) = frame.get(6..12) {
            peer.copy_from_slice(m);
        }
        match wire::parse_ethernet(frame, true) {
            Ok(Frame::Arp(arp)) => self.arp_input(ifindex, own, arp),
            Ok(Frame::Ipv4(info)) => {
                let packet = &frame[wire::ETH_HDR_LEN..];
                self.net.neighbors.heard_from(ifindex, &peer, self.core.now);
                if self.accept_ip(ifindex, &info, packet, peer) {
                    self.with_egress(|engine, now, sink| engine.ingress(packet, now, sink));
                    self.after_ingress(&info);
                }
            }
            Err(why) => self.drop_malformed(why, frame.get(wire::ETH_HDR_LEN..)),
        }
    }

    /// After the engine took a packet: a listener's engine socket that took a SYN is
    /// replaced at once, before the next SYN; the rest of the bookkeeping waits for the
    /// run after the batch (a walk over every socket per packet is what idle sockets cost).
    fn after_ingress(&mut self, info: &wire::Ipv4Info) {
        if matches!(info.transport, wire::Transport::Tcp { flags, .. }
            if flags & (wire::TCP_SYN | wire::TCP_ACK) == wire::TCP_SYN)
        {
            self.maintain();
        }
    }

    fn drop_malformed(&mut self, why: DropReason, ip: Option<&[u8]>) {
        if matches!(why, DropReason::BadL4Header | DropReason::BadL4Checksum) {
            // The IP header was sound: the protocol counts its own errors (Linux).
            let proto = ip.and_then(|p| p.get(9)).copied().unwrap_or(0);
            self.core
                .stats
                .l4_error(proto, why == DropReason::BadL4Checksum);
        }
        self.core.stats.drop_frame(why);
    }

    /// An ARP packet on `ifindex`, whose link address is `own`. As Linux's arp_process: a
    /// request for the interface's address is answered and makes an entry for its sender;
    /// any ARP packet refreshes an entry that exists; what waited for the sender leaves.
    fn arp_input(&mut self, ifindex: u32, own: [u8; 6], arp: wire::Arp) {
        self.core.stats.arp_in += 1;
        // Neither answered nor learned: a sender that is us or a martian (as Linux's
        // arp_process, which routes the sender as a source).
        let sender = arp.sender_ip;
        let why = if self.is_local_addr(sender) {
            Some(DropReason::ArpSenderLocal)
        } else {
            wire::martian(sender, arp.target_ip)
                .filter(|_| !sender.is_any())
                .map(|_| DropReason::ArpMartian)
        };
        // Only requests and replies, from a unicast link address (as smoltcp's process_arp).
        let op_ok = matches!(arp.op, wire::ARP_OP_REQUEST | wire::ARP_OP_REPLY);
        let mac_ok = arp.sender_mac[0] & 1 == 0 && arp.sender_mac != [0; 6];
        let why = why.or((!op_ok || !mac_ok).then_some(DropReason::BadArp));
        if let Some(why) = why {
            self.core.stats.drop_frame(why);
            return;
        }
        if self.net.is_retained(arp.target_ip) {
            // Not ours any more: someone else may own it now.
            self.core.stats.drop_frame(DropReason::NotLocal);
            return;
        }
        let subnet = self.netif(ifindex).and_then(|i| i.addr);
        let for_us = subnet.is_some_and(|c| c.addr == arp.target_ip);
        let on_link = !sender.is_any() && subnet.is_some_and(|c| c.contains(sender));
        if on_link
            && (for_us || self.net.neighbors.contains(ifindex, sender))
            && self
                .net
                .neighbors
                .learn(ifindex, sender, arp.sender_mac, self.core.now)
        {
            self.send_held(ifindex, sender);
        }
        if for_us && arp.op == wire::ARP_OP_REQUEST {
            let reply = wire::arp_frame(
                wire::ARP_OP_REPLY,
                (own, arp.target_ip),
                (arp.sender_mac, sender),
            );
            self.core.stats.arp_out += 1;
            self.core.platform.transmit(ifindex, &reply);
        }
    }

    /// Send the packets that waited for `hop` on `ifindex` to resolve.
    fn send_held(&mut self, ifindex: u32, hop: Ipv4) {
        let Some(mac) = self.net.neighbors.resolve(ifindex, hop, self.core.now) else {
            return;
        };
        let Some((Link::Ethernet(own), true)) = self.netif(ifindex).map(|i| (i.link, i.up)) else {
            return;
        };
        let Stack {
            net: Net { neighbors, .. },
            core: Core { platform, .. },
            ..
        } = self;
        neighbors.take_held(ifindex, hop, |p| {
            let mut f = Vec::new();
            if f.try_reserve_exact(wire::ETH_HDR_LEN + p.len()).is_ok() {
                f.extend_from_slice(&[0; wire::ETH_HDR_LEN]);
                wire::eth_header(&mut f, mac, own, wire::ETHERTYPE_IPV4);
                f.extend_from_slice(p);
                platform.transmit(ifindex, &f);
            }
        });
    }

    /// Classify a received IPv4 packet (`info`, parsed from `packet`) before the engine
    /// sees it; `peer` is the link address it came from. False drops it.
    fn accept_ip(&mut self, in_if: u32, info: &Ipv4Info, packet: &[u8], peer: [u8; 6]) -> bool {
        if self.net.is_retained(info.dst) {
            self.core.stats.drop_frame(DropReason::NotLocal);
            return false;
        }
        if in_if != LOOPBACK_IFINDEX {
            // Martians are dropped unanswered (and never ARPed for).
            let why = wire::martian(info.src, info.dst).or_else(|| {
                self.is_local_addr(info.src)
                    .then_some(DropReason::MartianSrcLocal)
            });
            if let Some(why) = why {
                self.core.stats.drop_frame(why);
                return false;
            }
            // Not for this host: with forwarding off, Linux drops it (InAddrErrors).
            let dst = info.dst;
            let for_us =
                self.is_local_addr(dst) || self.is_broadcast_addr(dst) || dst == wire::ALL_SYSTEMS;
            if !for_us {
                self.core.stats.drop_frame(DropReason::NotLocal);
                return false;
            }
        }
        self.core.stats.mib.ip_in_receives += 1;
        match info.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                payload_len,
            } => {
                self.core.stats.mib.tcp_in_segs += 1;
                if !self.is_local_addr(info.dst) {
                    // TCP to a broadcast or multicast address: no socket may take it.
                    self.core.stats.drop_frame(DropReason::NotLocal);
                    return false;
                }
                let local = crate::Endpoint::new(info.dst, dst_port);
                let remote = crate::Endpoint::new(info.src, src_port);
                let seg = Segment {
                    seq,
                    ack,
                    flags,
                    payload_len,
                };
                match self
                    .core
                    .socks
                    .time_wait
                    .segment((local, remote), seg, self.core.now)
                {
                    None | Some(Verdict::Reopen) => {}
                    Some(Verdict::Drop) => return false,
                    Some(Verdict::Ack { seq, ack }) => {
                        // For a connection in TIME-WAIT, which the engine no longer has.
                        let seg = wire::tcp_segment(local, remote, (seq, ack), wire::TCP_ACK, 0);
                        self.send_ip(in_if, peer, &seg);
                        return false;
                    }
                }
                let rst = flags & wire::TCP_RST != 0;
                if let Some(r) = self
                    .core
                    .socks
                    .note_heard((local, remote), rst, self.core.now)
                {
                    self.core.engine.tcp_set_keepalive(r, None);
                }
                if flags & (wire::TCP_SYN | wire::TCP_ACK) == wire::TCP_SYN
                    && !self.classify_syn(in_if, (local, remote, seq, peer))
                {
                    return false;
                }
            }
            Transport::Udp { dst_port, .. } => {
                let local = crate::Endpoint::new(info.dst, dst_port);
                if self.core.socks.bound_elsewhere(false, local, in_if) {
                    // Only sockets bound to another device (SO_BINDTODEVICE) have the
                    // port: Linux finds no socket here.
                    self.core.stats.mib.udp_no_ports += 1;
                    return false;
                }
            }
            Transport::Icmp { ty, code, quoted } => {
                self.core.stats.mib.icmp_in_msgs += 1;
                if let Some(q) = quoted {
                    self.core.icmp_error(ty, code, q);
                }
                if ty == wire::ICMP_ECHO && !self.is_local_addr(info.dst) {
                    // To a broadcast or multicast address: Linux ignores it
                    // (icmp_echo_ignore_broadcasts).
                    return false;
                }
                if ty == wire::ICMP_ECHO && code != 0 {
                    self.echo_reply(in_if, peer, packet, info.dst);
                }
            }
            Transport::Other => {}
        }
        self.core.stats.mib.ip_in_delivers += 1;
        true
    }

    /// Where a SYN (without ACK) may go. A connection that already has the four-tuple
    /// keeps it: left to smoltcp, the SYN would go to whichever socket comes first, and a
    /// listening socket in front of the connection would start a second one with the same
    /// peer, whose SYN-ACK the peer answers with a reset. Only an orphan in TIME-WAIT gives
    /// way, so that a peer may open the same four-tuple again at once, as on Linux.
    ///
    /// A SYN that comes again while its connection is in SYN-RECEIVED gets the SYN-ACK
    /// that answered it again, at once, sent to the frame's sender (see `syn_ack`).
    ///
    /// False when the SYN is dropped (and counted).
    fn classify_syn(
        &mut self,
        in_if: u32,
        syn: (crate::Endpoint, crate::Endpoint, u32, [u8; 6]),
    ) -> bool {
        match self.syn_verdict(in_if, syn) {
            Ok(()) => true,
            Err(Some(why)) => {
                self.core.stats.drop_frame(why);
                false
            }
            Err(None) => false,
        }
    }

    fn syn_verdict(
        &mut self,
        in_if: u32,
        (local, remote, seq, peer): (crate::Endpoint, crate::Endpoint, u32, [u8; 6]),
    ) -> Result<(), Option<DropReason>> {
        match self.core.engine.tcp_owner(local, remote) {
            Some((r, TcpState::TimeWait)) if self.core.socks.forget_orphan(r) => {
                self.core.engine.remove(r);
            }
            Some((_, TcpState::SynReceived)) => {
                if let Some((packet, len)) =
                    self.core
                        .socks
                        .syn_acks
                        .again(local, remote, seq, self.core.now)
                {
                    self.send_ip(in_if, peer, &packet[..len]);
                }
                return Err(Some(DropReason::DuplicateSyn));
            }
            Some(_) => {
                self.core.socks.syn_acks.forget(local, remote);
                return Err(Some(DropReason::DuplicateSyn));
            }
            None => self.core.socks.syn_acks.forget(local, remote),
        }
        if self.core.socks.bound_elsewhere(true, local, in_if) {
            // Only listeners bound to another device have the port: refused, as Linux
            // refuses a SYN no socket wants (the engine's listener would take it).
            let ack = seq.wrapping_add(1);
            let flags = wire::TCP_RST | wire::TCP_ACK;
            let rst = wire::tcp_segment(local, remote, (0, ack), flags, 0);
            self.send_ip(in_if, peer, &rst);
            return Err(None);
        }
        let evicted = self
            .core
            .socks
            .admit_syn(&mut self.core.engine, in_if, local, self.core.now)
            .map_err(Some)?;
        self.core.stats.mib.syn_queue_evictions += u64::from(evicted);
        Ok(())
    }

    /// Send an IPv4 packet the stack made itself out of `out_if`, to `peer` (the sender
    /// of the packet it answers).
    fn send_ip(&mut self, out_if: u32, peer: [u8; 6], packet: &[u8]) {
        if out_if == LOOPBACK_IFINDEX {
            // Both ends are this stack: it is received like the engine's own output.
            self.core.engine.push_rx(packet);
            return;
        }
        let Some(Link::Ethernet(own)) = self.netif(out_if).map(|i| i.link) else {
            return;
        };
        let mut frame = Vec::new();
        if frame.try_reserve_exact(HEADROOM + packet.len()).is_err() {
            return;
        }
        frame.extend_from_slice(&[0; HEADROOM]);
        frame.extend_from_slice(packet);
        let (mut out, _) = self.split_egress();
        out.frame(out_if, (own, peer), &mut frame);
    }

    /// smoltcp answers echo requests of code 0 only; Linux answers any code, and keeps it
    /// in the reply. Only a request for this interface's own address is answered (a
    /// broadcast one is not, as on Linux).
    fn echo_reply(&mut self, in_if: u32, peer: [u8; 6], ip: &[u8], to: Ipv4) {
        let ours = if in_if == LOOPBACK_IFINDEX {
            self.is_local_addr(to)
        } else {
            self.netif(in_if)
                .is_some_and(|i| i.addr.is_some_and(|c| c.addr == to))
        };
        if let Some(reply) = wire::echo_reply(ip).filter(|_| ours) {
            self.send_ip(in_if, peer, &reply);
        }
    }

    // ---- the poll loop ----

    /// Run timers; the platform calls this when the timer it armed expires.
    pub fn poll(&mut self) {
        // The platform's timer has fired, so none is armed: the next report must arm one
        // even when the deadline it computes equals the one that just expired.
        self.timer = None;
        self.run();
    }

    /// [`Stack::run_changed`] for every socket: for the timer, and for changes of the
    /// interfaces, addresses and neighbours, which may concern any connection.
    pub fn run(&mut self) {
        self.core.socks.walk_all = true;
        self.run_changed();
    }

    /// Drive the engine until it is quiet: every looped-back packet in, everything
    /// sendable out, socket bookkeeping after each round (and after each SYN, so that a
    /// listener's backlog is refilled between two SYNs), then wakeups and the timer.
    /// Established connections nothing touched since the last run are left out of the
    /// bookkeeping and the wakeups, unless a deadline is due (see `SocketTable::walk_all`):
    /// this is what runs after received frames and socket calls.
    pub fn run_changed(&mut self) {
        self.core.now = self.core.platform.now_us();
        if self.timer.is_some_and(|at| self.core.now >= at) {
            self.core.socks.walk_all = true;
        }
        self.arp_timers();
        // Bounded: loopback traffic ping-pongs, but every round drains the queue.
        for _round in 0..256 {
            let mut busy = false;
            while let Some(packet) = self.core.engine.pop_rx() {
                busy = true;
                match wire::parse_ipv4(&packet, false) {
                    Ok(info) => {
                        if self.accept_ip(LOOPBACK_IFINDEX, &info, &packet, [0; 6]) {
                            self.with_egress(|engine, now, sink| {
                                engine.ingress(&packet, now, sink)
                            });
                            self.after_ingress(&info);
                        }
                    }
                    Err(why) => self.drop_malformed(why, Some(&packet)),
                }
                self.core.engine.recycle(packet);
            }
            self.with_egress(|engine, now, sink| engine.egress(now, sink));
            busy |= self.core.engine.rx_pending();
            self.core.socks.egress_rounds += 1;
            busy |= self.maintain();
            if !busy {
                break;
            }
        }
        self.report();
    }

    /// The transmit path, apart from the engine it serves.
    fn split_egress(&mut self) -> (Egress<'_, P>, &mut Engine) {
        let Stack {
            core:
                Core {
                    engine,
                    platform,
                    stats,
                    socks,
                    now,
                    ..
                },
            net:
                Net {
                    neighbors,
                    ifs,
                    routes,
                    retained,
                },
            ..
        } = self;
        let out = Egress {
            platform,
            stats,
            socks,
            neighbors,
            ifs,
            routes,
            retained,
            now: *now,
        };
        (out, engine)
    }

    /// Let `f` drive the engine with a sink that routes, counts and transmits what it
    /// emits (see [`Egress::packet`]).
    fn with_egress(&mut self, f: impl FnOnce(&mut Engine, u64, &mut Sink<'_>)) {
        let now = self.core.now;
        let (mut out, engine) = self.split_egress();
        f(engine, now, &mut out);
    }

    /// ARP's timers: requests asked again, packets given up.
    fn arp_timers(&mut self) {
        let mut due = heapless::Vec::<(u32, Ipv4), 8>::new();
        let gave_up = self.net.neighbors.tick(self.core.now, |ifindex, hop| {
            let _ = due.push((ifindex, hop));
        });
        self.core.stats.unresolved += gave_up as u64;
        for (ifindex, hop) in due {
            let (mut out, _) = self.split_egress();
            out.ask(ifindex, hop);
        }
    }

    /// Wake sockets whose poll mask changed and re-arm the timer if the deadline moved.
    fn report(&mut self) {
        self.for_each_changed_socket(|st, id| {
            let mask = st.core.current_mask(id);
            st.core.tell_error(id);
            if let Some(s) = st.core.socks.get_mut(id) {
                if s.reported != mask {
                    s.reported = mask;
                    st.core.platform.wake(id, mask);
                }
            }
            st.core.socks.settled(id);
        });
        self.core.socks.walk_all = false;
        self.core.socks.prune_visits();
        let engine_at = self
            .core
            .engine
            .poll_delay(self.core.now)
            .map(|d| self.core.now.saturating_add(d));
        let at = [
            engine_at,
            self.core.socks.next_deadline(self.core.now),
            self.net.neighbors.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        if at != self.timer {
            self.timer = at;
            self.core.platform.set_timer(at);
        }
    }

    /// The socket layer's own bookkeeping after engine activity. Returns true when it
    /// queued something for the engine to send (an abort, a close).
    pub(crate) fn maintain(&mut self) -> bool {
        self.for_each_changed_socket(Self::maintain_socket);
        self.core
            .socks
            .reap_orphans(&mut self.core.engine, self.core.now);
        if !self.net.retained.is_empty() {
            // Release retained addresses once no connection uses them.
            self.sync_addrs();
        }
        core::mem::take(&mut self.core.socks.kick)
    }

    fn maintain_socket(&mut self, id: SocketId) {
        let Some(sock) = self.core.socks.get_mut(id) else {
            return;
        };
        match &mut sock.proto {
            Proto::Tcp(Tcp::Listen(_)) => self.core.maintain_listener(id),
            Proto::Tcp(Tcp::Conn(_)) => self.core.maintain_conn(&self.net, id),
            _ => {}
        }
    }

    /// `addr` went with its device: the connections on it end, and what still finishes
    /// on it (orphans, TIME-WAIT) is dropped.
    fn forget_addr(&mut self, addr: Ipv4) {
        self.for_each_socket(|st, id| {
            if let Some(s) = st.core.socks.get_mut(id) {
                s.forget_addr(&mut st.core.engine, addr);
            }
        });
        self.core
            .socks
            .forget_orphans_on(&mut self.core.engine, addr);
    }

    /// Visit the sockets that exist now, by slot: no list of ids is allocated (this runs
    /// after every frame), and `f` may open or close sockets on the way (a slot freed
    /// before its turn is skipped; slots added after the start are not visited).
    fn for_each_socket(&mut self, mut f: impl FnMut(&mut Self, SocketId)) {
        for i in 0..self.core.socks.slot_count() {
            if let Some(id) = self.core.socks.id_at(i) {
                f(self, id);
            }
        }
    }

    /// [`Stack::for_each_socket`], leaving out what a run need not look at
    /// (`SocketTable::needs_visit`).
    fn for_each_changed_socket(&mut self, mut f: impl FnMut(&mut Self, SocketId)) {
        // Every slot, or the listed ones; either way sockets `f` opens come after the end
        // and wait for the next run. One loop, so that `f` is built into the code once.
        let all = self.core.socks.walk_all;
        let n = if all {
            self.core.socks.slot_count()
        } else {
            self.core.socks.visit_count()
        };
        for k in 0..n {
            let id = if all {
                self.core.socks.id_at(k)
            } else {
                self.core.socks.visit_at(k)
            };
            if let Some(id) = id.filter(|&id| self.core.socks.needs_visit(id)) {
                f(self, id);
            }
        }
    }

    // ---- neighbours ----

    pub fn neighbors(&self) -> impl Iterator<Item = &Neighbor> {
        self.net.neighbors.iter()
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
        self.net
            .ifs
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
        self.core.now = self.core.platform.now_us();
        self.net
            .neighbors
            .set(ifindex, ip, mac, permanent, self.core.now)?;
        self.send_held(ifindex, ip);
        self.run();
        Ok(())
    }

    /// `SIOCGARP`: the entry for `ip` on `ifindex`; ENXIO if there is none.
    pub fn neigh_get(&self, ifindex: u32, ip: Ipv4) -> SysResult<Neighbor> {
        self.net.neighbors.get(ifindex, ip)
    }

    /// `SIOCDARP`: forget the entry for `ip` (`ifindex` 0 as for [`Stack::neigh_set`]);
    /// ARP asks again next time.
    pub fn neigh_delete(&mut self, ifindex: u32, ip: Ipv4) -> SysResult<()> {
        let ifindex = self.neigh_dev(ifindex, ip)?;
        self.net.neighbors.remove(ifindex, ip)
    }
}

/// The transmit path: what the engine emits (an IP packet behind [`HEADROOM`] spare bytes)
/// is counted, routed to a device and a next hop, given the next hop's link address (or
/// held while ARP asks for it) and sent.
struct Egress<'a, P: Platform> {
    platform: &'a mut P,
    stats: &'a mut Stats,
    socks: &'a mut SocketTable,
    neighbors: &'a mut Neighbors,
    ifs: &'a [Netif],
    routes: &'a RouteTable,
    retained: &'a [Ipv4],
    now: u64,
}

impl<P: Platform> PacketSink for Egress<'_, P> {
    /// Send the packet in `buf` (after [`HEADROOM`]), a TCP segment to be cut into `mss`
    /// bytes of payload each if `mss` is not 0; true when it is for this host and goes
    /// back to the engine (whole: the loopback path has no MTU, and takes the engine's
    /// checksums as they are).
    fn packet(&mut self, buf: &mut [u8], mss: u16, lent: &mut Option<Lent>) -> bool {
        let Some(Ok(info)) = buf.get(HEADROOM..).map(|p| wire::parse_ipv4(p, false)) else {
            return false;
        };
        if !self.observe(&info, &buf[HEADROOM..], mss) {
            return false;
        }
        let dst = info.dst;
        if dst.is_loopback()
            || self
                .ifs
                .iter()
                .any(|i| i.addr.is_some_and(|c| c.addr == dst))
        {
            return true;
        }
        if info.src.is_loopback() {
            // Never on a wire (Linux drops it at output too).
            self.stats.mib.ip_out_no_routes += 1;
            return false;
        }
        let oif = self.socks.device_of(&info);
        let Some((nif, hop)) = self.next_hop(info.src, dst, oif) else {
            self.stats.mib.ip_out_no_routes += 1;
            return false;
        };
        let (Link::Ethernet(own), true) = (nif.link, nif.up) else {
            return false;
        };
        let ifindex = nif.ifindex;
        let mac =
            if dst.is_broadcast() || nif.addr.and_then(|c| c.directed_broadcast()) == Some(dst) {
                wire::MAC_BROADCAST
            } else if dst.is_multicast() {
                wire::multicast_mac(dst)
            } else if let Some(mac) = self.neighbors.resolve(ifindex, hop, self.now) {
                mac
            } else {
                if self.hold(ifindex, hop, buf, mss) {
                    self.ask(ifindex, hop);
                }
                return false;
            };
        wire::eth_header(buf, mac, own, wire::ETHERTYPE_IPV4);
        self.transmit(ifindex, buf, mss, lent);
        false
    }

    #[cfg(feature = "offload")]
    fn lend(&mut self, len: usize) -> Option<Lent> {
        self.platform.lend_frame(len)
    }

    #[cfg(feature = "offload")]
    fn give_back(&mut self, frame: Lent) {
        self.platform.free_lent(frame)
    }
}

impl<P: Platform> Egress<'_, P> {
    /// Keep the engine's packet in `buf` until ARP resolves `hop`; true when a request is
    /// to go out. A held packet is complete: with offload, its TCP segment is cut and
    /// summed here, as no device will do it.
    fn hold(&mut self, ifindex: u32, hop: Ipv4, buf: &mut [u8], _mss: u16) -> bool {
        #[cfg(feature = "offload")]
        {
            let (neighbors, now) = (&mut *self.neighbors, self.now);
            let mut ask = false;
            crate::offload::segments(buf, HEADROOM, _mss, |seg| {
                ask |= neighbors.hold(ifindex, hop, &seg[HEADROOM..], now);
            });
            ask
        }
        #[cfg(not(feature = "offload"))]
        self.neighbors
            .hold(ifindex, hop, &buf[HEADROOM..], self.now)
    }

    /// Transmit the engine's frame in `buf`, from the host's frame in `lent` if it is
    /// there. With offload, a TCP segment goes to the device to be summed and cut into
    /// `mss`-byte segments, or is summed and cut here when the device cannot.
    fn transmit(&mut self, ifindex: u32, buf: &mut [u8], _mss: u16, _lent: &mut Option<Lent>) {
        #[cfg(feature = "offload")]
        {
            let tcp = crate::offload::fill_pseudo_checksum(&mut buf[HEADROOM..]);
            if let Some(frame) = _lent.take() {
                match self.platform.transmit_lent(frame, ifindex, tcp, _mss) {
                    Ok(()) => return,
                    // The device cannot cut it: cut below, from the frame still lent.
                    Err(frame) => *_lent = Some(frame),
                }
            } else if tcp && self.platform.transmit_tcp(ifindex, buf, _mss) {
                return;
            }
            if tcp {
                let platform = &mut *self.platform;
                crate::offload::segments(buf, HEADROOM, _mss, |seg| {
                    platform.transmit(ifindex, seg)
                });
                return;
            }
        }
        self.platform.transmit(ifindex, buf);
    }

    /// The device and next hop for a packet from `src` to `dst`, of a socket bound to
    /// device `oif` (0: none). As Linux: by the destination's route, through `oif` only
    /// when there is one; the limited broadcast leaves by `oif`, else by the source
    /// address's device (the socket layer chose that address by the default route).
    fn next_hop(&self, src: Ipv4, dst: Ipv4, oif: u32) -> Option<(&Netif, Ipv4)> {
        let dev = |ifindex: u32| self.ifs.iter().find(|i| i.ifindex == ifindex);
        if dst.is_broadcast() {
            let by_src = || {
                self.ifs
                    .iter()
                    .find(|i| i.link != Link::Loopback && i.addr.is_some_and(|c| c.addr == src))
            };
            return dev(oif).or_else(by_src).map(|i| (i, dst));
        }
        let r = if oif != 0 {
            self.routes.lookup_on(dst, oif)
        } else {
            self.routes.lookup(dst)
        }?;
        let hop = if r.gateway.is_any() { dst } else { r.gateway };
        Some((dev(r.ifindex)?, hop))
    }

    /// Ask who has `hop` on `ifindex`.
    fn ask(&mut self, ifindex: u32, hop: Ipv4) {
        let Some(nif) = self.ifs.iter().find(|i| i.ifindex == ifindex) else {
            return;
        };
        let (Link::Ethernet(own), Some(c), true) = (nif.link, nif.addr, nif.up) else {
            return;
        };
        let req = wire::arp_frame(wire::ARP_OP_REQUEST, (own, c.addr), ([0; 6], hop));
        self.stats.arp_out += 1;
        self.platform.transmit(ifindex, &req);
    }

    /// Send a frame the stack built itself, from `own` to `peer`, with its packet after
    /// [`HEADROOM`].
    fn frame(&mut self, ifindex: u32, (own, peer): ([u8; 6], [u8; 6]), buf: &mut [u8]) {
        let Ok(info) = wire::parse_ipv4(&buf[HEADROOM..], false) else {
            return;
        };
        if self.observe(&info, &buf[HEADROOM..], 0) {
            wire::eth_header(buf, peer, own, wire::ETHERTYPE_IPV4);
            self.platform.transmit(ifindex, buf);
        }
    }

    /// Transmit-side counters; data segments at or below the highest sequence already
    /// sent on their connection are retransmissions. A segment to be cut into `mss`-byte
    /// ones counts as the segments it will be, as Linux counts them. False for a packet
    /// that must not leave: its source address is no longer ours (a paused connection's).
    fn observe(&mut self, info: &Ipv4Info, ip: &[u8], mss: u16) -> bool {
        let stats = &mut *self.stats;
        if self.retained.contains(&info.src) {
            stats.mib.ip_out_no_routes += 1;
            return false;
        }
        stats.mib.ip_out_requests += 1;
        match info.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                payload_len,
            } => {
                let segs = match (mss, payload_len) {
                    (0, _) | (_, 0) => 1,
                    (mss, len) => len.div_ceil(usize::from(mss)),
                };
                if flags & wire::TCP_RST != 0 {
                    stats.mib.tcp_out_rsts += 1;
                }
                let local = crate::Endpoint::new(info.src, src_port);
                let remote = crate::Endpoint::new(info.dst, dst_port);
                let socks = &mut *self.socks;
                // SYN and FIN take a sequence number each: sent again, they are
                // retransmissions too. As Linux counts them, a retransmitted segment is
                // in RetransSegs and not in OutSegs.
                let syn = flags & wire::TCP_SYN != 0;
                let seq_len =
                    payload_len as u32 + u32::from(syn) + u32::from(flags & wire::TCP_FIN != 0);
                let again = if syn && flags & wire::TCP_ACK != 0 {
                    socks.syn_acks.note((local, remote), ack, ip)
                } else {
                    seq_len > 0 && socks.note_sent((local, remote), seq, seq_len, syn)
                };
                if again {
                    stats.mib.tcp_retrans_segs += segs as u64;
                } else {
                    stats.mib.tcp_out_segs += segs as u64;
                }
            }
            Transport::Udp { .. } => stats.mib.udp_out_datagrams += 1,
            Transport::Icmp { ty, code, .. } => {
                stats.mib.icmp_out_msgs += 1;
                // The engine found no socket for a datagram (Linux counts NoPorts
                // where it sends this; the engine sends it for UDP only, and only a
                // raw socket's own would be miscounted).
                if (ty, code) == (wire::ICMP_DEST_UNREACH, wire::ICMP_PORT_UNREACH) {
                    stats.mib.udp_no_ports += 1;
                }
            }
            Transport::Other => {}
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Endpoint;
    use crate::socket::SOCK_STREAM;
    use crate::testing::*;
    use crate::wire::DropReason;

    const SYN: u8 = 0x02;
    const RST_ACK: u8 = 0x14;

    #[test]
    fn a_syn_to_a_closed_port_is_refused_with_a_reset() {
        let mut st = stack();
        st.receive(IF, &tcp_frame((PEER, 4000), (US, 81), 100, 0, SYN, &[]));
        let sent = take_sent(&mut st);
        assert_eq!(sent.len(), 1);
        assert_eq!(tcp_fields(&sent[0]), Some((RST_ACK, 0, 101)));
        assert_eq!(sent[0][..6], PEER_MAC);
        assert_eq!(st.core.stats.mib.tcp_out_rsts, 1);
        assert_eq!(st.core.stats.total_drops(), 0);
    }

    #[test]
    fn martian_sources_are_dropped_counted_and_never_answered() {
        let mut st = stack();
        let martians = [
            (Ipv4::LOCALHOST, DropReason::MartianSrcLoopback),
            (US, DropReason::MartianSrcLocal),
            (Ipv4::ANY, DropReason::MartianSrcZero),
            (Ipv4::BROADCAST, DropReason::MartianSrcBroadcast),
            (Ipv4::new(224, 0, 0, 1), DropReason::MartianSrcMulticast),
            (Ipv4::new(240, 0, 0, 1), DropReason::MartianSrcClassE),
        ];
        for (src, why) in martians {
            st.receive(IF, &tcp_frame((src, 4000), (US, 81), 100, 0, SYN, &[]));
            assert_eq!(st.core.stats.dropped(why), 1, "{src:?}");
        }
        assert_eq!(st.core.stats.total_drops(), martians.len() as u64);
        assert!(take_sent(&mut st).is_empty(), "no reset, no ARP request");
        assert_eq!(st.core.stats.mib.tcp_out_rsts, 0);
    }

    #[test]
    fn bad_frames_are_dropped_by_reason() {
        let mut st = stack();
        let good = tcp_frame((PEER, 4000), (US, 81), 100, 0, SYN, &[]);
        let mut bad_sum = good.clone();
        bad_sum[24] ^= 0xff;
        // A first fragment (more fragments to come), its header checksum made right.
        let mut fragment = good.clone();
        fragment[20] |= 0x20;
        fragment[24..26].fill(0);
        let sum = wire::csum_fold(wire::csum_add(0, &fragment[14..34]));
        fragment[24..26].copy_from_slice(&sum.to_be_bytes());
        let mut ipv6 = good.clone();
        ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
        let cases = [
            (good[..20].to_vec(), DropReason::Truncated),
            (bad_sum, DropReason::BadIpChecksum),
            (fragment, DropReason::Fragment),
            (ipv6, DropReason::UnknownEthertype),
        ];
        for (frame, why) in cases {
            st.receive(IF, &frame);
            assert_eq!(st.core.stats.dropped(why), 1, "{why:?}");
        }
        // A frame for another link address is not ours to count as bad, nor to answer.
        let mut other = good;
        other[5] = 9;
        st.receive(IF, &other);
        assert_eq!(st.core.stats.other_host, 1);
        assert!(take_sent(&mut st).is_empty());
    }

    #[test]
    fn the_timer_is_armed_for_the_retransmission_and_fires_it() {
        let mut st = stack();
        let c = st.socket(SOCK_STREAM, 0).unwrap();
        let _ = st.connect(c, Endpoint::new(PEER, 80));
        let first = take_sent(&mut st);
        let (_, seq, _) = tcp_fields(&first[0]).unwrap();
        let armed = st
            .platform()
            .timer
            .expect("a timer for the SYN's retransmission");
        let now = st.platform().now;
        assert!(armed > now, "a timer in the future");
        advance(&mut st, armed - now - 1);
        assert!(take_sent(&mut st).is_empty(), "nothing before it");
        advance(&mut st, 1);
        let again = take_sent(&mut st);
        assert_eq!(tcp_fields(&again[0]), Some((SYN, seq, 0)));
        // Linux counts a SYN sent again in RetransSegs and not in OutSegs (measured: a
        // connect into a veth whose peer is down, in a namespace, 3.5 s: OutSegs 1,
        // RetransSegs 3).
        let mib = &st.core.stats.mib;
        assert_eq!((mib.tcp_out_segs, mib.tcp_retrans_segs), (1, 1));
    }
}
