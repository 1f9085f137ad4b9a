//! The stack: interfaces and their addresses, routes, neighbours, counters, the receive
//! classifier, the transmit observer, and the poll loop that drives the engine. Socket calls
//! live in [`crate::socket`]; both are `impl Stack` blocks over the same state.
//!
//! The stack is event-driven: it runs when a frame arrives, when a socket call is made and
//! when the timer the platform armed (see [`Platform::set_timer`]) expires. An idle stack
//! arms no timer at all.

use alloc::vec::Vec;

use crate::addr::{Cidr, Ipv4};
use crate::engine::{Engine, Link, TcpState};
use crate::errno::{Errno, SysResult};
use crate::neigh::{Neighbor, Neighbors};
use crate::route::{Route, RouteTable};
use crate::socket::time_wait::{Segment, Verdict};
use crate::socket::{Proto, SocketId, SocketTable, Tcp};
use crate::stats::Stats;
use crate::wire::{self, DropReason, Frame, Transport};

/// What the stack needs from its host (the kernel glue, or the user-space runner).
pub trait Platform {
    /// Monotonic time in microseconds.
    fn now_us(&mut self) -> u64;
    /// Put a complete link-layer frame on interface `ifindex`.
    fn transmit(&mut self, ifindex: u32, frame: &[u8]);
    /// The poll mask of socket `id` changed to `mask`: wake its waiters.
    fn wake(&mut self, id: SocketId, mask: u32);
    /// The pending error of socket `id` (what `SO_ERROR` reports) is now `err`. The
    /// kernel keeps it in `sk_err`, where net/core's `getsockopt` reads it; a host that
    /// asks [`Stack::take_error`] instead needs nothing here.
    fn error(&mut self, _id: SocketId, _err: Option<crate::Errno>) {}
    /// Call [`Stack::poll`] at `at_us` (absolute); `None` cancels the timer.
    fn set_timer(&mut self, at_us: Option<u64>);
    /// Seed for initial sequence numbers and ephemeral ports; must differ per boot.
    fn random_seed(&mut self) -> u64;
}

/// Buffer sizes and limits. The defaults suit a small device serving HTTP.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub tcp_rx_buf: usize,
    pub tcp_tx_buf: usize,
    pub udp_buf: usize,
    pub udp_packets: usize,
    pub raw_buf: usize,
    pub raw_packets: usize,
    /// Most sockets open at once (user sockets; connections in TIME-WAIT not counted).
    pub max_sockets: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tcp_rx_buf: 32 * 1024,
            tcp_tx_buf: 32 * 1024,
            udp_buf: 16 * 1024,
            udp_packets: 16,
            raw_buf: 4 * 1024,
            raw_packets: 8,
            max_sockets: 256,
        }
    }
}

pub const LOOPBACK_IFINDEX: u32 = 1;

/// Interface flags, as `SIOCGIFFLAGS` reports them.
pub const IFF_UP: u32 = 0x1;
pub const IFF_LOOPBACK: u32 = 0x8;

#[derive(Clone, Debug)]
pub struct Netif {
    pub ifindex: u32,
    pub slot: usize,
    pub link: Link,
    pub mtu: usize,
    pub addr: Option<Cidr>,
    pub up: bool,
}

impl Netif {
    /// A socket bound to `local` (and to interface `bound_if`, if not 0) listens here: on
    /// every up interface for the wildcard and the limited broadcast, else on the one
    /// owning the address (or its subnet's broadcast) and loopback.
    pub(crate) fn serves(&self, local: Ipv4, bound_if: u32) -> bool {
        self.up
            && (bound_if == 0 || self.ifindex == bound_if)
            && (local.is_any()
                || local.is_broadcast()
                || self.ifindex == LOOPBACK_IFINDEX
                || self
                    .addr
                    .is_some_and(|c| c.addr == local || c.directed_broadcast() == Some(local)))
    }
}

/// The addresses one engine interface holds (smoltcp's `iface-max-addr-count`).
type EngineAddrs = heapless::Vec<Cidr, 4>;

/// The largest frame an interface with this IP MTU sends, link header included.
fn frame_mtu(link: Link, mtu: usize) -> usize {
    match link {
        Link::Ethernet(_) => mtu + wire::ETH_HDR_LEN,
        Link::Loopback => mtu,
    }
}

pub struct Stack<P: Platform> {
    pub(crate) platform: P,
    pub(crate) cfg: Config,
    pub(crate) engine: Engine,
    pub(crate) ifs: Vec<Netif>,
    pub(crate) routes: RouteTable,
    pub(crate) neighbors: Neighbors,
    pub(crate) socks: SocketTable,
    pub stats: Stats,
    pub(crate) now: u64,
    pub(crate) seed: u64,
    timer: Option<u64>,
    /// Addresses removed from an interface while TCP connections still use them, by
    /// engine slot. Like Linux, such connections are not killed: they pause (their frames
    /// are neither sent nor received) until the address returns or they time out.
    retained: Vec<(usize, Ipv4)>,
}

impl<P: Platform> Stack<P> {
    /// A stack with the loopback interface (127.0.0.1/8) up.
    pub fn new(cfg: Config, mut platform: P) -> SysResult<Stack<P>> {
        let now = platform.now_us();
        let seed = platform.random_seed();
        let mut s = Stack {
            platform,
            cfg,
            engine: Engine::default(),
            ifs: Vec::new(),
            routes: RouteTable::default(),
            neighbors: Neighbors::default(),
            socks: SocketTable::new(seed),
            stats: Stats::default(),
            now,
            seed,
            timer: None,
            retained: Vec::new(),
        };
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

    pub fn platform(&mut self) -> &mut P {
        &mut self.platform
    }

    pub fn config(&self) -> &Config {
        &self.cfg
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
        if nif.link == Link::Loopback {
            return Err(Errno::EINVAL);
        }
        let mtu = mtu.clamp(576, 65535);
        let (slot, mtu_changed) = (nif.slot, nif.mtu != mtu);
        let now = self.now;
        self.engine
            .set_link(slot, mac, frame_mtu(Link::Ethernet(mac), mtu), now)?;
        let nif = self.netif_mut(ifindex)?;
        nif.link = Link::Ethernet(mac);
        nif.mtu = mtu;
        if mtu_changed {
            self.restore_neighbors(ifindex);
        }
        Ok(())
    }

    fn add_link(&mut self, ifindex: u32, link: Link, mtu: usize) -> SysResult<()> {
        if self.ifs.iter().any(|i| i.ifindex == ifindex) {
            return Err(Errno::EEXIST);
        }
        let mtu = mtu.clamp(576, 65535);
        let frame_mtu = frame_mtu(link, mtu);
        let seed = self.seed ^ u64::from(ifindex);
        let slot = self.engine.add_iface(link, frame_mtu, seed, self.now)?;
        self.ifs.push(Netif {
            ifindex,
            slot,
            link,
            mtu,
            addr: None,
            up: false,
        });
        Ok(())
    }

    /// The device is gone: its routes, neighbours and sockets bound through it go too.
    pub fn remove_link(&mut self, ifindex: u32) -> SysResult<()> {
        if ifindex == LOOPBACK_IFINDEX {
            return Err(Errno::EINVAL);
        }
        let pos = self
            .ifs
            .iter()
            .position(|i| i.ifindex == ifindex)
            .ok_or(Errno::ENODEV)?;
        let slot = self.ifs[pos].slot;
        self.set_up(ifindex, false)?;
        self.forget_slot(slot);
        self.engine.remove_iface(slot);
        self.ifs.remove(pos);
        self.routes.flush_if(ifindex);
        self.neighbors.forget_if(ifindex);
        self.sync_addrs();
        self.run();
        Ok(())
    }

    pub fn netif(&self, ifindex: u32) -> Option<&Netif> {
        self.ifs.iter().find(|i| i.ifindex == ifindex)
    }

    pub fn netifs(&self) -> impl Iterator<Item = &Netif> {
        self.ifs.iter()
    }

    fn netif_mut(&mut self, ifindex: u32) -> SysResult<&mut Netif> {
        self.ifs
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
            self.routes.flush_if(ifindex);
        }
        self.sync_routes();
        self.rebind_all();
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
        self.routes.remove_connected(ifindex);
        if let (Some(c), true) = (cidr, up) {
            self.add_connected_route(ifindex, c);
        }
        self.sync_addrs();
        self.sync_routes();
        self.rebind_all();
        self.run();
        Ok(())
    }

    fn add_connected_route(&mut self, ifindex: u32, c: Cidr) {
        if ifindex == LOOPBACK_IFINDEX {
            return;
        }
        let _ = self.routes.add(Route {
            dest: c.addr,
            prefix: c.prefix,
            gateway: Ipv4::ANY,
            ifindex,
            metric: 0,
            connected: true,
        });
    }

    /// Push addresses to the engine. Loopback also answers for every local address, as
    /// Linux's local table does, so traffic to our own address never leaves the host.
    /// An address a TCP connection still uses stays in the engine (which would otherwise
    /// drop the connection silently) but is marked retained: not ours on the wire.
    fn sync_addrs(&mut self) {
        self.retained.clear();
        // By index, with the address lists on the stack: this runs after every frame
        // while an address is retained.
        for k in 0..self.ifs.len() {
            let Some(Netif {
                ifindex,
                slot,
                addr,
                ..
            }) = self.ifs.get(k).cloned()
            else {
                break;
            };
            let mut addrs = EngineAddrs::new();
            addrs.extend(addr);
            if ifindex == LOOPBACK_IFINDEX {
                let locals = self.ifs.iter().filter(|i| i.ifindex != LOOPBACK_IFINDEX);
                for c in locals.filter_map(|i| i.addr) {
                    let _ = addrs.push(Cidr {
                        addr: c.addr,
                        prefix: 32,
                    });
                }
            }
            let retained = &mut self.retained;
            self.engine.tcp_local_addrs(slot, &mut |a| {
                if !a.is_any() && !addrs.iter().any(|c| c.addr == a) {
                    let kept = addrs.push(Cidr {
                        addr: a,
                        prefix: 32,
                    });
                    if kept.is_ok() {
                        retained.push((slot, a));
                    }
                }
            });
            // Linux keeps its ARP cache across address changes (a connection whose peer
            // left the cache could not even answer a retransmission until ARP ran again).
            if self.engine.set_addrs(slot, &addrs) {
                self.restore_neighbors(ifindex);
            }
        }
    }

    fn is_retained(&self, slot: usize, addr: Ipv4) -> bool {
        self.retained.contains(&(slot, addr))
    }

    /// Push gateways to the engine. An interface without an address gets none: a paused
    /// connection on a retained address then fails to route, so the engine keeps what it
    /// could not send (an ACK, a window update, data) and sends it once the address is back,
    /// instead of believing it sent what the transmit filter dropped.
    fn sync_routes(&mut self) {
        for nif in &self.ifs {
            let usable = nif.addr.is_some();
            let mut it = self
                .routes
                .gateways_of(nif.ifindex)
                .filter(|_| usable)
                .map(|r| {
                    (
                        Cidr {
                            addr: r.dest,
                            prefix: r.prefix,
                        },
                        r.gateway,
                    )
                });
            self.engine.set_routes(nif.slot, &mut it);
        }
    }

    /// Add a route. With `ifindex` 0 the interface is the one whose subnet holds the
    /// gateway (what `route add default gw X` means).
    pub fn add_route(&mut self, r: Route) -> SysResult<()> {
        let r = if r.ifindex == 0 {
            let nif = self
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
        self.routes.add(Route {
            connected: false,
            ..r
        })?;
        self.sync_routes();
        Ok(())
    }

    pub fn delete_route(
        &mut self,
        dest: Ipv4,
        prefix: u8,
        gateway: Option<Ipv4>,
        ifindex: Option<u32>,
    ) -> SysResult<()> {
        self.routes.delete(dest, prefix, gateway, ifindex)?;
        self.sync_routes();
        Ok(())
    }

    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
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
    pub(crate) fn check_source_slot(&self, src: Ipv4, slot: usize) -> SysResult<()> {
        if src.is_loopback() && slot != self.loopback_slot() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    pub(crate) fn loopback_slot(&self) -> usize {
        self.ifs
            .iter()
            .find(|i| i.ifindex == LOOPBACK_IFINDEX)
            .map_or(0, |i| i.slot)
    }

    /// Output route for `dst`: (engine slot, source address, next hop). A socket bound
    /// to an interface (`bound_if` != 0) leaves only through it, by a route through that
    /// interface (limited broadcast needs none). Unlike Linux, which then takes any
    /// destination as on-link there, no route through it is ENETUNREACH: the engine
    /// only reaches its interfaces' subnets and gateways.
    pub(crate) fn route_out(&self, dst: Ipv4, bound_if: u32) -> SysResult<(usize, Ipv4, Ipv4)> {
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
            return Ok((self.loopback_slot(), src, dst));
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
        Ok((nif.slot, src, hop))
    }

    pub(crate) fn ifindex_of_slot(&self, slot: usize) -> u32 {
        self.ifs
            .iter()
            .find(|i| i.slot == slot)
            .map_or(0, |i| i.ifindex)
    }

    // ---- receive ----

    /// A frame arrived on `ifindex`. Malformed frames are dropped and counted here.
    pub fn receive(&mut self, ifindex: u32, frame: &[u8]) {
        let Some(nif) = self.netif(ifindex) else {
            return;
        };
        if !nif.up {
            return;
        }
        let slot = nif.slot;
        if !self.engine.push_rx(slot, frame) {
            self.stats.drop_frame(DropReason::Truncated);
            return;
        }
        self.run();
    }

    /// Classify a received frame before the engine sees it. False drops it.
    fn accept_frame(&mut self, slot: usize, loopback: bool, frame: &[u8]) -> bool {
        let parsed = if loopback {
            wire::parse_ipv4(frame, false).map(Frame::Ipv4)
        } else {
            wire::parse_ethernet(frame, true)
        };
        let info = match parsed {
            Ok(Frame::Arp(arp)) => {
                self.stats.arp_in += 1;
                // Neither answered nor learned: a sender that is us or a martian (as
                // Linux's arp_process, which routes the sender as a source).
                let sender = arp.sender_ip;
                let why = if self.is_local_addr(sender) {
                    Some(DropReason::ArpSenderLocal)
                } else {
                    wire::martian(sender, arp.target_ip)
                        .filter(|_| !sender.is_any())
                        .map(|_| DropReason::ArpMartian)
                };
                if let Some(why) = why {
                    self.stats.drop_frame(why);
                    return false;
                }
                self.learn_neighbor(slot, sender, arp.sender_mac);
                if self.is_retained(slot, arp.target_ip) {
                    // Not ours any more: someone else may own it now.
                    self.stats.drop_frame(DropReason::NotLocal);
                    return false;
                }
                return true;
            }
            Ok(Frame::Ipv4(info)) if self.is_retained(slot, info.dst) => {
                self.stats.drop_frame(DropReason::NotLocal);
                return false;
            }
            Ok(Frame::Ipv4(info)) if !loopback => {
                // Martians are dropped unanswered (and never ARPed for).
                let why = wire::martian(info.src, info.dst).or_else(|| {
                    self.is_local_addr(info.src)
                        .then_some(DropReason::MartianSrcLocal)
                });
                if let Some(why) = why {
                    self.stats.drop_frame(why);
                    return false;
                }
                info
            }
            Ok(Frame::Ipv4(info)) => info,
            Err(why) => {
                if matches!(why, DropReason::BadL4Header | DropReason::BadL4Checksum) {
                    // The IP header was sound: the protocol counts its own errors (Linux).
                    let ip = frame.get(if loopback { 0 } else { wire::ETH_HDR_LEN }..);
                    let proto = ip.and_then(|p| p.get(9)).copied().unwrap_or(0);
                    self.stats.l4_error(proto, why == DropReason::BadL4Checksum);
                }
                self.stats.drop_frame(why);
                return false;
            }
        };
        self.stats.mib.ip_in_receives += 1;
        match info.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                payload_len,
            } => {
                self.stats.mib.tcp_in_segs += 1;
                let local = crate::Endpoint::new(info.dst, dst_port);
                let remote = crate::Endpoint::new(info.src, src_port);
                let seg = Segment {
                    seq,
                    ack,
                    flags,
                    payload_len,
                };
                match self
                    .socks
                    .time_wait
                    .segment(slot, (local, remote), seg, self.now)
                {
                    None | Some(Verdict::Reopen) => {}
                    Some(Verdict::Drop) => return false,
                    Some(Verdict::Ack { seq, ack }) => {
                        // For a connection in TIME-WAIT, which the engine no longer has.
                        let peer_mac = frame.get(6..12).unwrap_or(&[0; 6]);
                        let seg = wire::tcp_segment(local, remote, (seq, ack), wire::TCP_ACK, 0);
                        self.send_ip(slot, peer_mac, &seg);
                        return false;
                    }
                }
                let rst = flags & wire::TCP_RST != 0;
                if let Some(r) = self.socks.note_heard((local, remote), rst, self.now) {
                    self.engine.tcp_set_keepalive(r, None);
                }
                let ifindex = self.ifindex_of_slot(slot);
                if flags & (wire::TCP_SYN | wire::TCP_ACK) == wire::TCP_SYN {
                    let peer_mac = frame.get(6..12).unwrap_or(&[0; 6]);
                    let syn = (local, remote, seq, peer_mac);
                    if let Some(why) = self.classify_syn((slot, ifindex), syn) {
                        self.stats.drop_frame(why);
                        return false;
                    }
                }
            }
            Transport::Udp { .. } => {}
            Transport::Icmp { ty, code, quoted } => {
                self.stats.mib.icmp_in_msgs += 1;
                if let Some(q) = quoted {
                    self.icmp_error(ty, code, q);
                }
                if ty == wire::ICMP_ECHO && code != 0 {
                    let ip = frame.get(if loopback { 0 } else { wire::ETH_HDR_LEN }..);
                    self.echo_reply(slot, frame, ip.unwrap_or_default(), info.dst);
                }
            }
            Transport::Other => {}
        }
        self.stats.mib.ip_in_delivers += 1;
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
    fn classify_syn(
        &mut self,
        (slot, ifindex): (usize, u32),
        (local, remote, seq, peer_mac): (crate::Endpoint, crate::Endpoint, u32, &[u8]),
    ) -> Option<DropReason> {
        match self.engine.tcp_owner(slot, local, remote) {
            Some((r, TcpState::TimeWait)) if self.socks.forget_orphan(r) => {
                self.engine.remove(r);
            }
            Some((_, TcpState::SynReceived)) => {
                if let Some((packet, len)) = self.socks.syn_acks.again(local, remote, seq, self.now)
                {
                    self.send_ip(slot, peer_mac, &packet[..len]);
                }
                return Some(DropReason::DuplicateSyn);
            }
            Some(_) => {
                self.socks.syn_acks.forget(local, remote);
                return Some(DropReason::DuplicateSyn);
            }
            None => self.socks.syn_acks.forget(local, remote),
        }
        match self
            .socks
            .admit_syn(&mut self.engine, (slot, ifindex), local, self.now)
        {
            Ok(evicted) => {
                self.stats.mib.syn_queue_evictions += u64::from(evicted);
                None
            }
            Err(why) => Some(why),
        }
    }

    /// Send an IPv4 packet the stack made itself out of `slot`, to `peer_mac` (the sender
    /// of the frame it answers).
    fn send_ip(&mut self, slot: usize, peer_mac: &[u8], packet: &[u8]) {
        let Some(nif) = self.ifs.iter().find(|i| i.slot == slot) else {
            return;
        };
        let port = IfPort::of(nif);
        match nif.link {
            // Both ends are this stack: it is received like the engine's own output.
            Link::Loopback => {
                self.engine.push_rx(slot, packet);
            }
            Link::Ethernet(own) => {
                let mut frame = Vec::new();
                if frame.try_reserve(wire::ETH_HDR_LEN + packet.len()).is_err() {
                    return;
                }
                frame.extend_from_slice(peer_mac);
                frame.extend_from_slice(&own);
                frame.extend_from_slice(&wire::ETHERTYPE_IPV4.to_be_bytes());
                frame.extend_from_slice(packet);
                self.with_sink(port, |_, _, sink| sink(&frame));
            }
        }
    }

    /// smoltcp answers echo requests of code 0 only; Linux answers any code, and keeps it
    /// in the reply. Only a request for this interface's own address is answered (a
    /// broadcast one is not, as on Linux).
    fn echo_reply(&mut self, slot: usize, frame: &[u8], ip: &[u8], to: Ipv4) {
        let ours = self.ifs.iter().any(|i| {
            i.slot == slot
                && (i.addr.is_some_and(|c| c.addr == to)
                    || i.link == Link::Loopback && self.is_local_addr(to))
        });
        if let Some(reply) = wire::echo_reply(ip).filter(|_| ours) {
            self.send_ip(slot, frame.get(6..12).unwrap_or(&[0; 6]), &reply);
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

    /// Drive the engine until it is quiet: every queued frame in, everything sendable out,
    /// socket bookkeeping after each frame (so a listener's backlog is refilled between two
    /// SYNs), then wakeups and the timer.
    pub(crate) fn run(&mut self) {
        self.now = self.platform.now_us();
        self.refresh_static_neighbors();
        // Bounded: loopback traffic ping-pongs, but every round drains the queues.
        for _round in 0..256 {
            let mut busy = false;
            // By index, with no list allocated per frame: nothing in here adds or
            // removes an interface.
            for k in 0..self.ifs.len() {
                let Some(port) = self.ifs.get(k).map(IfPort::of) else {
                    break;
                };
                while let Some(frame) = self.engine.pop_rx(port.slot) {
                    busy = true;
                    if !self.accept_frame(port.slot, port.loopback, &frame) {
                        self.engine.recycle(port.slot, frame);
                        continue;
                    }
                    self.with_sink(port, |engine, now, sink| {
                        engine.ingress(port.slot, frame, now, sink)
                    });
                    if self.neighbors.contradicted {
                        self.refresh_static_neighbors();
                    }
                    self.maintain();
                }
                self.with_sink(port, |engine, now, sink| {
                    engine.egress(port.slot, now, sink)
                });
                busy |= self.engine.rx_pending(port.slot);
            }
            self.socks.egress_rounds += 1;
            busy |= self.maintain();
            if !busy {
                break;
            }
        }
        self.report();
    }

    /// Let `f` drive the engine with a sink that counts and transmits what it emits on
    /// `port` (and holds back frames from a retained address).
    fn with_sink(&mut self, port: IfPort, f: impl FnOnce(&mut Engine, u64, &mut dyn FnMut(&[u8]))) {
        let Stack {
            engine,
            platform,
            stats,
            socks,
            now,
            retained,
            ..
        } = self;
        let mut sink = tx_sink(platform, stats, socks, TxPort { port, retained });
        f(engine, *now, &mut sink);
    }

    /// Wake sockets whose poll mask changed and re-arm the timer if the deadline moved.
    fn report(&mut self) {
        self.for_each_socket(|st, id| {
            let mask = st.current_mask(id);
            st.tell_error(id);
            if let Some(s) = st.socks.get_mut(id) {
                if s.reported != mask {
                    s.reported = mask;
                    st.platform.wake(id, mask);
                }
            }
        });
        let engine_at = self
            .engine
            .poll_delay(self.now)
            .map(|d| self.now.saturating_add(d));
        let at = match (engine_at, self.socks.next_deadline(self.now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if at != self.timer {
            self.timer = at;
            self.platform.set_timer(at);
        }
    }

    /// The socket layer's own bookkeeping after engine activity. Returns true when it
    /// queued something for the engine to send (an abort, a close).
    pub(crate) fn maintain(&mut self) -> bool {
        self.for_each_socket(Self::maintain_socket);
        self.socks.reap_orphans(&mut self.engine, self.now);
        if !self.retained.is_empty() {
            // Release retained addresses once no connection uses them.
            self.sync_addrs();
        }
        core::mem::take(&mut self.socks.kick)
    }

    fn maintain_socket(&mut self, id: SocketId) {
        let Some(sock) = self.socks.get_mut(id) else {
            return;
        };
        match &mut sock.proto {
            Proto::Tcp(Tcp::Listen(_)) => self.maintain_listener(id),
            Proto::Tcp(Tcp::Conn(_)) => self.maintain_conn(id),
            _ => {}
        }
    }

    /// Drop the engine sockets of an interface that is going away.
    fn forget_slot(&mut self, slot: usize) {
        self.for_each_socket(|st, id| {
            if let Some(s) = st.socks.get_mut(id) {
                s.forget_slot(&mut st.engine, slot);
            }
        });
        self.socks.forget_orphans_on(slot);
    }

    /// After an interface or address change: extend wildcard bindings to new interfaces.
    fn rebind_all(&mut self) {
        self.for_each_socket(Self::refresh_bindings);
    }

    /// Visit the sockets that exist now, by slot: no list of ids is allocated (this runs
    /// after every frame), and `f` may open or close sockets on the way (a slot freed
    /// before its turn is skipped; slots added after the start are not visited).
    fn for_each_socket(&mut self, mut f: impl FnMut(&mut Self, SocketId)) {
        for i in 0..self.socks.slot_count() {
            if let Some(id) = self.socks.id_at(i) {
                f(self, id);
            }
        }
    }

    pub(crate) fn sock_count(&self) -> usize {
        self.socks.len()
    }

    // ---- neighbours: the table in `neigh`, fed to the engine from here ----

    pub fn neighbors(&self) -> impl Iterator<Item = &Neighbor> {
        self.neighbors.iter()
    }

    /// Note a neighbour from an ARP packet it sent on `slot`.
    fn learn_neighbor(&mut self, slot: usize, ip: Ipv4, mac: [u8; 6]) {
        let ifindex = self.ifindex_of_slot(slot);
        let ours = self
            .netif(ifindex)
            .and_then(|i| i.addr)
            .is_some_and(|c| c.contains(ip));
        if ours && !ip.is_any() {
            self.neighbors.learn(ifindex, ip, mac, self.now);
        }
    }

    pub(crate) fn has_neighbor(&self, slot: usize, ip: Ipv4) -> bool {
        let ifindex = self.ifindex_of_slot(slot);
        ifindex == LOOPBACK_IFINDEX || self.neighbors.contains(ifindex, ip)
    }

    /// Give the engine back the neighbours of `ifindex` it may use (static ones and recent
    /// ones) after its cache was emptied.
    fn restore_neighbors(&mut self, ifindex: u32) {
        let Some(slot) = self.netif(ifindex).map(|i| i.slot) else {
            return;
        };
        let now = self.now;
        for n in self.neighbors.reusable(ifindex, now) {
            self.engine.add_neighbor(slot, n.mac, n.ip, now);
        }
    }

    /// Hand static entries to the engine again before its cache expires them, or at once
    /// after the wire contradicted one.
    fn refresh_static_neighbors(&mut self) {
        let Stack {
            neighbors,
            engine,
            ifs,
            now,
            ..
        } = self;
        neighbors.refresh_static(*now, |n| {
            if let Some(i) = ifs.iter().find(|i| i.ifindex == n.ifindex) {
                engine.add_neighbor(i.slot, n.mac, n.ip, *now);
            }
        });
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
        self.neighbors.set(ifindex, ip, mac, permanent, self.now)?;
        let Some(mac) = mac else {
            return Ok(());
        };
        if let Some(slot) = self.netif(ifindex).map(|i| i.slot) {
            self.engine.add_neighbor(slot, mac, ip, self.now);
        }
        self.run();
        Ok(())
    }

    /// `SIOCGARP`: the entry for `ip` on `ifindex`; ENXIO if there is none.
    pub fn neigh_get(&self, ifindex: u32, ip: Ipv4) -> SysResult<Neighbor> {
        self.neighbors.get(ifindex, ip)
    }

    /// `SIOCDARP`: forget the entry for `ip` (`ifindex` 0 as for [`Stack::neigh_set`]);
    /// the engine forgets it too and asks ARP again next time.
    pub fn neigh_delete(&mut self, ifindex: u32, ip: Ipv4) -> SysResult<()> {
        let ifindex = self.neigh_dev(ifindex, ip)?;
        self.neighbors.remove(ifindex, ip)?;
        self.now = self.platform.now_us();
        if let Some(slot) = self.netif(ifindex).map(|i| i.slot) {
            self.engine.flush_neighbors(slot);
        }
        self.restore_neighbors(ifindex);
        Ok(())
    }
}

/// One interface as the event loop drives it.
#[derive(Clone, Copy)]
struct IfPort {
    slot: usize,
    ifindex: u32,
    loopback: bool,
    up: bool,
}

impl IfPort {
    fn of(nif: &Netif) -> IfPort {
        IfPort {
            slot: nif.slot,
            ifindex: nif.ifindex,
            loopback: nif.link == Link::Loopback,
            up: nif.up,
        }
    }
}

/// Where the engine's frames for one interface go.
struct TxPort<'a> {
    port: IfPort,
    retained: &'a [(usize, Ipv4)],
}

fn tx_sink<'a, P: Platform>(
    platform: &'a mut P,
    stats: &'a mut Stats,
    socks: &'a mut SocketTable,
    port: TxPort<'a>,
) -> impl FnMut(&[u8]) + 'a {
    move |f: &[u8]| {
        let send = observe_tx(stats, socks, &port, f);
        if send && port.port.up && !port.port.loopback {
            platform.transmit(port.port.ifindex, f);
        }
    }
}

/// Transmit-side counters; data segments at or below the highest sequence already sent on
/// their connection are retransmissions. False for a frame that must not leave: its
/// source address is no longer ours (a paused connection's retransmission).
fn observe_tx(stats: &mut Stats, socks: &mut SocketTable, port: &TxPort, f: &[u8]) -> bool {
    let parsed = if port.port.loopback {
        wire::parse_ipv4(f, false).map(Frame::Ipv4)
    } else {
        wire::parse_ethernet(f, false)
    };
    let retained = |a: Ipv4| port.retained.contains(&(port.port.slot, a));
    match parsed {
        Ok(Frame::Arp(arp)) if retained(arp.sender_ip) => {
            stats.mib.ip_out_no_routes += 1;
            return false;
        }
        Ok(Frame::Ipv4(info)) if retained(info.src) => {
            stats.mib.ip_out_no_routes += 1;
            return false;
        }
        Ok(Frame::Arp(_)) => stats.arp_out += 1,
        Ok(Frame::Ipv4(info)) => {
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
                    stats.mib.tcp_out_segs += 1;
                    if flags & wire::TCP_RST != 0 {
                        stats.mib.tcp_out_rsts += 1;
                    }
                    let local = crate::Endpoint::new(info.src, src_port);
                    let remote = crate::Endpoint::new(info.dst, dst_port);
                    if flags & (wire::TCP_SYN | wire::TCP_ACK) == wire::TCP_SYN {
                        socks.note_syn(local, remote, seq);
                    }
                    if flags & (wire::TCP_SYN | wire::TCP_ACK) == wire::TCP_SYN | wire::TCP_ACK {
                        let ip = if port.port.loopback {
                            Some(f)
                        } else {
                            f.get(wire::ETH_HDR_LEN..)
                        };
                        if let Some(ip) = ip {
                            socks.syn_acks.note((local, remote), ack, ip);
                        }
                    }
                    if payload_len > 0 && socks.note_sent(local, remote, seq, payload_len as u32) {
                        stats.mib.tcp_retrans_segs += 1;
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
        }
        Err(_) => {}
    }
    true
}
