//! The protocol engine boundary. Everything smoltcp-specific lives below this module; the
//! socket layer sees only engine-neutral types (`ERef`, `TcpState`, `Endpoint`, `Cidr`).
//! Replacing smoltcp (for instance with its successor) means rewriting this module only.
//!
//! Each interface is one smoltcp `Interface` with its own `SocketSet`, so a socket can only
//! ever be transmitted through the interface the socket layer's route selection chose.

mod device;
mod raw;

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, Route, SocketHandle, SocketSet};
use smoltcp::phy::Medium;
use smoltcp::socket::{tcp, udp, AnySocket, Socket};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint, Ipv4Address,
    Ipv4Cidr,
};

use crate::addr::{Cidr, Endpoint, Ipv4};
use crate::errno::{Errno, SysResult};
use crate::wire;
use device::{Port, Queues};

/// A socket inside the engine: which interface, which engine socket. Opaque outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ERef {
    slot: u16,
    gen: u16,
    h: SocketHandle,
}

impl ERef {
    pub fn slot(&self) -> usize {
        usize::from(self.slot)
    }
}

/// TCP states, numbered as Linux numbers them in `/proc/net/tcp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TcpState {
    Established = 1,
    SynSent = 2,
    SynReceived = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Closed = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
}

/// What the socket layer needs to know about a TCP connection after a poll.
#[derive(Clone, Copy, Debug)]
pub struct TcpInfo {
    pub state: TcpState,
    pub can_recv: bool,
    pub may_recv: bool,
    pub can_send: bool,
    /// Room enough to wake a writer: at most two thirds of the send buffer queued, as
    /// Linux's `sk_stream_is_writeable` (a writer then fills a third of the buffer per
    /// wakeup instead of the few KiB each ACK frees).
    pub writable: bool,
    pub may_send: bool,
    pub recv_queue: usize,
    pub send_queue: usize,
    /// The peer's FIN arrived (whether or not all data was read).
    pub fin_received: bool,
    pub local: Option<Endpoint>,
    pub remote: Option<Endpoint>,
}

fn state_of(s: tcp::State) -> TcpState {
    match s {
        tcp::State::Closed => TcpState::Closed,
        tcp::State::Listen => TcpState::Listen,
        tcp::State::SynSent => TcpState::SynSent,
        tcp::State::SynReceived => TcpState::SynReceived,
        tcp::State::Established => TcpState::Established,
        tcp::State::FinWait1 => TcpState::FinWait1,
        tcp::State::FinWait2 => TcpState::FinWait2,
        tcp::State::CloseWait => TcpState::CloseWait,
        tcp::State::Closing => TcpState::Closing,
        tcp::State::LastAck => TcpState::LastAck,
        tcp::State::TimeWait => TcpState::TimeWait,
    }
}

fn v4(a: Ipv4) -> Ipv4Address {
    Ipv4Address::from_octets(a.0)
}

fn from_ip(a: IpAddress) -> Ipv4 {
    match a {
        IpAddress::Ipv4(a) => Ipv4(a.octets()),
    }
}

fn from_ep(e: IpEndpoint) -> Endpoint {
    Endpoint::new(from_ip(e.addr), e.port)
}

fn listen_ep(e: Endpoint) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!e.addr.is_any()).then(|| IpAddress::Ipv4(v4(e.addr))),
        port: e.port,
    }
}

fn ip_ep(e: Endpoint) -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(v4(e.addr)), e.port)
}

struct EIface {
    gen: u16,
    iface: Interface,
    sockets: SocketSet<'static>,
    q: Queues,
    medium: Medium,
    mtu: usize,
    loopback: bool,
    /// The interface's random seed, for when it is made again.
    seed: u64,
}

impl EIface {
    fn port<'a>(
        &'a mut self,
        sink: &'a mut dyn FnMut(&[u8]),
    ) -> (&'a mut Interface, &'a mut SocketSet<'static>, Port<'a>) {
        (
            &mut self.iface,
            &mut self.sockets,
            Port {
                q: &mut self.q,
                medium: self.medium,
                mtu: self.mtu,
                loopback: self.loopback,
                sink,
            },
        )
    }
}

/// Link type of an engine interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet([u8; 6]),
    Loopback,
}

/// How long a connection waits for an answer before it fails with ETIMEDOUT.
const TCP_GIVE_UP: Duration = Duration::from_secs(120);

fn zeroed(len: usize) -> SysResult<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
    v.resize(len, 0);
    Ok(v)
}

#[derive(Default)]
pub struct Engine {
    ifaces: Vec<Option<EIface>>,
    /// Bumped on every interface added, so a stale `ERef` never reaches a new socket set.
    next_gen: u16,
}

impl Engine {
    /// Add an interface; returns its slot.
    pub fn add_iface(
        &mut self,
        link: Link,
        mtu: usize,
        seed: u64,
        now_us: u64,
    ) -> SysResult<usize> {
        let (medium, hw, loopback) = match link {
            Link::Ethernet(mac) => {
                let mac = EthernetAddress(mac);
                if !mac.is_unicast() {
                    return Err(Errno::EINVAL);
                }
                (Medium::Ethernet, HardwareAddress::Ethernet(mac), false)
            }
            Link::Loopback => (Medium::Ip, HardwareAddress::Ip, true),
        };
        let mut q = Queues::default();
        let mut sink = |_: &[u8]| {};
        let mut port = Port {
            q: &mut q,
            medium,
            mtu,
            loopback,
            sink: &mut sink,
        };
        let mut cfg = Config::new(hw);
        cfg.random_seed = seed;
        let mut iface = Interface::new(cfg, &mut port, Instant::from_micros(now_us as i64));
        // Loopback answers for all of 127.0.0.0/8 and for every local address; only
        // traffic routed to it ever reaches it.
        iface.set_any_ip(loopback);
        self.next_gen = self.next_gen.wrapping_add(1);
        let e = EIface {
            gen: self.next_gen,
            iface,
            sockets: SocketSet::new(vec![]),
            q,
            medium,
            mtu,
            loopback,
            seed,
        };
        let slot = match self.ifaces.iter().position(Option::is_none) {
            Some(s) => {
                self.ifaces[s] = Some(e);
                s
            }
            None => {
                self.ifaces.push(Some(e));
                self.ifaces.len() - 1
            }
        };
        Ok(slot)
    }

    /// A device's hardware address or MTU changed (or was only known once it came up:
    /// some drivers, smsc911x among them, set the address after registering).
    pub fn set_link(
        &mut self,
        slot: usize,
        mac: [u8; 6],
        mtu: usize,
        now_us: u64,
    ) -> SysResult<()> {
        let e = self.get(slot)?;
        let mac = EthernetAddress(mac);
        if e.medium != Medium::Ethernet || !mac.is_unicast() {
            return Err(Errno::EINVAL);
        }
        e.iface.set_hardware_addr(HardwareAddress::Ethernet(mac));
        if e.mtu != mtu {
            // smoltcp reads a device's MTU once, when the interface is made: a new MTU
            // needs a new interface. Sockets, addresses and routes carry over; the caller
            // puts back the neighbours it knows.
            e.mtu = mtu;
            let mut sink = |_: &[u8]| {};
            let mut port = Port {
                q: &mut e.q,
                medium: e.medium,
                mtu,
                loopback: e.loopback,
                sink: &mut sink,
            };
            let mut cfg = Config::new(HardwareAddress::Ethernet(mac));
            cfg.random_seed = e.seed;
            let now = Instant::from_micros(now_us as i64);
            let mut iface = Interface::new(cfg, &mut port, now);
            iface.update_ip_addrs(|v| *v = e.iface.ip_addrs().iter().copied().collect());
            e.iface.routes_mut().update(|old| {
                iface.routes_mut().update(|v| v.clone_from(old));
            });
            e.iface = iface;
        }
        Ok(())
    }

    /// Engine sockets alive on all interfaces (each holds its buffers).
    pub fn socket_count(&self) -> usize {
        self.ifaces
            .iter()
            .flatten()
            .map(|e| e.sockets.iter().count())
            .sum()
    }

    /// Remove an interface and every engine socket on it.
    pub fn remove_iface(&mut self, slot: usize) {
        if let Some(s) = self.ifaces.get_mut(slot) {
            *s = None;
        }
    }

    fn get(&mut self, slot: usize) -> SysResult<&mut EIface> {
        self.ifaces
            .get_mut(slot)
            .and_then(Option::as_mut)
            .ok_or(Errno::ENODEV)
    }

    /// Set the addresses of `slot`; true if they changed. smoltcp then forgets every
    /// neighbour (the caller puts back those it still knows with [`Engine::add_neighbor`]).
    pub fn set_addrs(&mut self, slot: usize, addrs: &[Cidr]) -> bool {
        let Ok(e) = self.get(slot) else { return false };
        let same = e.iface.ip_addrs().len() == addrs.len()
            && addrs
                .iter()
                .zip(e.iface.ip_addrs())
                .all(|(c, have)| *have == IpCidr::Ipv4(Ipv4Cidr::new(v4(c.addr), c.prefix)));
        if same {
            return false;
        }
        e.iface.update_ip_addrs(|v| {
            v.clear();
            for c in addrs {
                let _ = v.push(IpCidr::Ipv4(Ipv4Cidr::new(v4(c.addr), c.prefix)));
            }
        });
        true
    }

    /// Empty the neighbour cache of `slot`.
    pub fn flush_neighbors(&mut self, slot: usize) {
        if let Ok(e) = self.get(slot) {
            // smoltcp has no call to forget one neighbour: an address "update" flushes all.
            e.iface.update_ip_addrs(|_| {});
        }
    }

    /// Put `ip` at `mac` in the neighbour cache of `slot`, as if it had just answered ARP
    /// (smoltcp fills its cache from nothing else). Ignored unless `ip` is on one of the
    /// interface's subnets, the only neighbours the engine ever resolves.
    pub fn add_neighbor(&mut self, slot: usize, mac: [u8; 6], ip: Ipv4, now_us: u64) {
        let Ok(e) = self.get(slot) else { return };
        if e.medium != Medium::Ethernet {
            return;
        }
        let Some(ours) = e.iface.ip_addrs().iter().find_map(|c| match c {
            IpCidr::Ipv4(c) if c.contains_addr(&v4(ip)) => Some(Ipv4(c.address().octets())),
            _ => None,
        }) else {
            return;
        };
        let HardwareAddress::Ethernet(EthernetAddress(own_mac)) = e.iface.hardware_addr() else {
            return;
        };
        // In front of any frame still queued: this one is processed right now.
        let mut reply = e.q.buffer();
        reply.extend_from_slice(&wire::arp_reply((mac, ip), (own_mac, ours)));
        e.q.rx.push_front(reply);
        let mut discard = |_: &[u8]| {};
        let (iface, sockets, mut port) = e.port(&mut discard);
        iface.poll_ingress_single(Instant::from_micros(now_us as i64), &mut port, sockets);
    }

    /// The TCP socket of `slot` that holds the connection `local`-`remote`, and its state.
    /// smoltcp hands a segment to the first socket that accepts it, and a listening socket
    /// accepts any SYN; the stack asks this before it lets a SYN in.
    pub fn tcp_owner(
        &self,
        slot: usize,
        local: Endpoint,
        remote: Endpoint,
    ) -> Option<(ERef, TcpState)> {
        let e = self.ifaces.get(slot)?.as_ref()?;
        e.sockets.iter().find_map(|(h, s)| match s {
            Socket::Tcp(t)
                if t.local_endpoint().map(from_ep) == Some(local)
                    && t.remote_endpoint().map(from_ep) == Some(remote) =>
            {
                let r = ERef {
                    slot: slot as u16,
                    gen: e.gen,
                    h,
                };
                Some((r, state_of(t.state())))
            }
            _ => None,
        })
    }

    /// Visit the local address of each TCP connection on `slot` (listeners excluded).
    pub fn tcp_local_addrs(&self, slot: usize, f: &mut dyn FnMut(Ipv4)) {
        let Some(e) = self.ifaces.get(slot).and_then(Option::as_ref) else {
            return;
        };
        for (_, s) in e.sockets.iter() {
            if let Socket::Tcp(t) = s {
                if let Some(IpEndpoint {
                    addr: IpAddress::Ipv4(a),
                    ..
                }) = t.local_endpoint()
                {
                    f(Ipv4(a.octets()));
                }
            }
        }
    }

    /// Set the gateways this interface may use (destination prefix → router).
    pub fn set_routes(&mut self, slot: usize, routes: &mut dyn Iterator<Item = (Cidr, Ipv4)>) {
        if let Ok(e) = self.get(slot) {
            e.iface.routes_mut().update(|v| {
                v.clear();
                for (dst, gw) in routes {
                    let _ = v.push(Route {
                        cidr: IpCidr::Ipv4(Ipv4Cidr::new(v4(dst.addr), dst.prefix)),
                        via_router: IpAddress::Ipv4(v4(gw)),
                        preferred_until: None,
                        expires_at: None,
                    });
                }
            });
        }
    }

    /// Queue a received frame for `slot`; false if the queue is full.
    pub fn push_rx(&mut self, slot: usize, frame: &[u8]) -> bool {
        self.get(slot).is_ok_and(|e| e.q.push_rx(frame))
    }

    /// Take the oldest queued frame of `slot`, for the classifier to look at.
    pub fn pop_rx(&mut self, slot: usize) -> Option<Vec<u8>> {
        self.get(slot).ok()?.q.rx.pop_front()
    }

    /// Return a frame the classifier dropped to the buffer pool.
    pub fn recycle(&mut self, slot: usize, frame: Vec<u8>) {
        if let Ok(e) = self.get(slot) {
            e.q.recycle(frame);
        }
    }

    /// Let the engine process one accepted frame (and answer it through `sink`).
    pub fn ingress(
        &mut self,
        slot: usize,
        frame: Vec<u8>,
        now_us: u64,
        sink: &mut dyn FnMut(&[u8]),
    ) {
        let Ok(e) = self.get(slot) else { return };
        e.q.rx.push_front(frame);
        let (iface, sockets, mut port) = e.port(sink);
        iface.poll_ingress_single(Instant::from_micros(now_us as i64), &mut port, sockets);
    }

    /// Transmit what the sockets of `slot` have queued.
    pub fn egress(&mut self, slot: usize, now_us: u64, sink: &mut dyn FnMut(&[u8])) {
        let Ok(e) = self.get(slot) else { return };
        let (iface, sockets, mut port) = e.port(sink);
        let now = Instant::from_micros(now_us as i64);
        iface.poll_maintenance(now);
        // Bounded: each round sends at least one packet or stops.
        for _ in 0..64 {
            if iface.poll_egress(now, &mut port, sockets) == smoltcp::iface::PollResult::None {
                break;
            }
        }
    }

    pub fn rx_pending(&self, slot: usize) -> bool {
        self.ifaces
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|e| !e.q.rx.is_empty())
    }

    /// Microseconds until the earliest engine timer of any interface, if any.
    pub fn poll_delay(&mut self, now_us: u64) -> Option<u64> {
        let now = Instant::from_micros(now_us as i64);
        self.ifaces
            .iter_mut()
            .flatten()
            .filter_map(|e| e.iface.poll_delay(now, &e.sockets))
            .map(|d| d.total_micros())
            .min()
    }

    // ---- TCP ----

    pub fn tcp_new(&mut self, slot: usize, rx: usize, tx: usize) -> SysResult<ERef> {
        let (rxb, txb) = (zeroed(rx)?, zeroed(tx)?);
        let e = self.get(slot)?;
        let mut s = tcp::Socket::new(tcp::SocketBuffer::new(rxb), tcp::SocketBuffer::new(txb));
        // Linux gives up on an unanswered connection after about two minutes; smoltcp
        // retransmits forever unless told otherwise.
        s.set_timeout(Some(TCP_GIVE_UP));
        let h = e.sockets.add(s);
        Ok(ERef {
            slot: slot as u16,
            gen: e.gen,
            h,
        })
    }

    /// Look a socket up without smoltcp's panicking accessors: a stale or mistyped
    /// handle yields `None`, never a panic.
    fn sock(&mut self, r: ERef) -> Option<&mut Socket<'static>> {
        let e = self.ifaces.get_mut(r.slot())?.as_mut()?;
        if e.gen != r.gen {
            return None;
        }
        e.sockets
            .iter_mut()
            .find(|(h, _)| *h == r.h)
            .map(|(_, s)| s)
    }

    fn tcp(&mut self, r: ERef) -> Option<&mut tcp::Socket<'static>> {
        tcp::Socket::downcast_mut(self.sock(r)?)
    }

    pub fn tcp_listen(&mut self, r: ERef, ep: Endpoint) -> SysResult<()> {
        let s = self.tcp(r).ok_or(Errno::ENODEV)?;
        s.listen(listen_ep(ep)).map_err(|_| Errno::EINVAL)
    }

    pub fn tcp_connect(&mut self, r: ERef, local: Endpoint, remote: Endpoint) -> SysResult<()> {
        let e = self.get(r.slot())?;
        if e.gen != r.gen {
            return Err(Errno::ENODEV);
        }
        let s = e
            .sockets
            .iter_mut()
            .find(|(h, _)| *h == r.h)
            .and_then(|(_, s)| tcp::Socket::downcast_mut(s))
            .ok_or(Errno::EBADF)?;
        s.connect(e.iface.context(), ip_ep(remote), listen_ep(local))
            .map_err(|err| match err {
                tcp::ConnectError::InvalidState => Errno::EISCONN,
                tcp::ConnectError::Unaddressable => Errno::EADDRNOTAVAIL,
            })
    }

    pub fn tcp_info(&mut self, r: ERef) -> Option<TcpInfo> {
        let s = self.tcp(r)?;
        let state = state_of(s.state());
        Some(TcpInfo {
            state,
            can_recv: s.can_recv(),
            may_recv: s.may_recv(),
            can_send: s.can_send(),
            writable: s.can_send() && s.send_queue() * 3 <= s.send_capacity() * 2,
            may_send: s.may_send(),
            recv_queue: s.recv_queue(),
            fin_received: matches!(
                state,
                TcpState::CloseWait
                    | TcpState::LastAck
                    | TcpState::Closing
                    | TcpState::TimeWait
                    | TcpState::Closed
            ),
            send_queue: s.send_queue(),
            local: s.local_endpoint().map(from_ep),
            remote: s.remote_endpoint().map(from_ep),
        })
    }

    /// Received data waits in the connection's buffer.
    pub fn tcp_has_data(&mut self, r: ERef) -> bool {
        self.tcp(r).is_some_and(|s| s.recv_queue() > 0)
    }

    pub fn tcp_send(&mut self, r: ERef, data: &[u8]) -> SysResult<usize> {
        let s = self.tcp(r).ok_or(Errno::EPIPE)?;
        s.send_slice(data).map_err(|_| Errno::EPIPE)
    }

    pub fn tcp_recv(&mut self, r: ERef, buf: &mut [u8], peek: bool) -> SysResult<usize> {
        let s = self.tcp(r).ok_or(Errno::ENOTCONN)?;
        let res = if peek {
            s.peek_slice(buf)
        } else {
            s.recv_slice(buf)
        };
        res.map_err(|_| Errno::ENOTCONN)
    }

    /// Drop up to `n` received bytes; returns how many were dropped.
    /// The receive ring hands out one contiguous piece at a time, so a span that
    /// straddles its end takes two.
    pub fn tcp_consume(&mut self, r: ERef, n: usize) -> usize {
        let Some(s) = self.tcp(r) else { return 0 };
        let mut done = 0;
        while done < n {
            let left = n - done;
            match s.recv(|b| (b.len().min(left), b.len().min(left))) {
                Ok(0) | Err(_) => break,
                Ok(k) => done += k,
            }
        }
        done
    }

    pub fn tcp_close(&mut self, r: ERef) {
        if let Some(s) = self.tcp(r) {
            s.close();
        }
    }

    pub fn tcp_abort(&mut self, r: ERef) {
        if let Some(s) = self.tcp(r) {
            s.abort();
        }
    }

    pub fn tcp_set_nodelay(&mut self, r: ERef, on: bool) {
        if let Some(s) = self.tcp(r) {
            s.set_nagle_enabled(!on);
            // Linux acks immediately with TCP_NODELAY-style request/response traffic.
            s.set_ack_delay(if on {
                None
            } else {
                Some(Duration::from_millis(10))
            });
        }
    }

    /// Whether an unanswered connection is given up after [`TCP_GIVE_UP`]. smoltcp
    /// counts that time from the last segment received even when nothing is outstanding,
    /// so an idle connection must run without it (Linux keeps idle connections forever).
    pub fn tcp_set_give_up(&mut self, r: ERef, on: bool) {
        if let Some(s) = self.tcp(r) {
            s.set_timeout(on.then_some(TCP_GIVE_UP));
        }
    }

    /// Keepalive probes: on an idle connection smoltcp sends one at once, then one after
    /// every `interval_s` without a segment either way; `None` sends no more once a
    /// segment has come or gone.
    pub fn tcp_set_keepalive(&mut self, r: ERef, interval_s: Option<u32>) {
        if let Some(s) = self.tcp(r) {
            s.set_keep_alive(interval_s.map(|v| Duration::from_secs(u64::from(v))));
        }
    }

    // ---- UDP ----

    pub fn udp_new(
        &mut self,
        slot: usize,
        bytes: usize,
        packets: usize,
        ep: Endpoint,
    ) -> SysResult<ERef> {
        let rx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; packets], zeroed(bytes)?);
        let tx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; packets], zeroed(bytes)?);
        let e = self.get(slot)?;
        let mut s = udp::Socket::new(rx, tx);
        s.bind(listen_ep(ep)).map_err(|_| Errno::EINVAL)?;
        Ok(ERef {
            slot: slot as u16,
            gen: e.gen,
            h: e.sockets.add(s),
        })
    }

    fn udp(&mut self, r: ERef) -> Option<&mut udp::Socket<'static>> {
        udp::Socket::downcast_mut(self.sock(r)?)
    }

    pub fn udp_send(&mut self, r: ERef, src: Ipv4, dst: Endpoint, data: &[u8]) -> SysResult<()> {
        let s = self.udp(r).ok_or(Errno::ENETUNREACH)?;
        if data.len() > s.payload_send_capacity() {
            return Err(Errno::EMSGSIZE);
        }
        let mut meta = udp::UdpMetadata::from(ip_ep(dst));
        if !src.is_any() {
            meta.local_address = Some(IpAddress::Ipv4(v4(src)));
        }
        s.send_slice(data, meta).map_err(|e| match e {
            udp::SendError::BufferFull => Errno::EAGAIN,
            udp::SendError::Unaddressable => Errno::EINVAL,
        })
    }

    /// Receive one datagram: (bytes copied, full datagram length, source, destination).
    pub fn udp_recv(
        &mut self,
        r: ERef,
        buf: &mut [u8],
        peek: bool,
    ) -> Option<(usize, usize, Endpoint, Ipv4)> {
        let s = self.udp(r)?;
        let (data, meta) = s.peek().ok()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        let out = (
            n,
            data.len(),
            from_ep(meta.endpoint),
            meta.local_address.map(from_ip).unwrap_or_default(),
        );
        if !peek {
            let _ = s.recv();
        }
        Some(out)
    }

    pub fn udp_pending(&mut self, r: ERef) -> (usize, bool) {
        match self.udp(r) {
            Some(s) => (s.peek().map(|(d, _)| d.len()).unwrap_or(0), s.can_recv()),
            None => (0, false),
        }
    }

    pub fn udp_can_send(&mut self, r: ERef) -> bool {
        self.udp(r).is_some_and(|s| s.can_send())
    }

    /// A datagram (UDP or raw) waits on `r`.
    pub fn dgram_has_data(&mut self, r: ERef, udp: bool) -> bool {
        if udp {
            self.udp_pending(r).1
        } else {
            self.raw_pending(r) > 0
        }
    }

    // ---- common ----

    pub fn remove(&mut self, r: ERef) {
        if self.sock(r).is_some() {
            if let Some(Some(e)) = self.ifaces.get_mut(r.slot()) {
                e.sockets.remove(r.h);
            }
        }
    }
}
