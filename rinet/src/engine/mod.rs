//! The protocol engine boundary. Everything smoltcp-specific lives below this module; the
//! socket layer sees only engine-neutral types (`ERef`, `TcpState`, `Endpoint`, `Cidr`).
//! Replacing smoltcp (for instance with its successor) means rewriting this module only.
//!
//! One smoltcp `Interface` on `Medium::Ip` serves every device (see [`Engine`]): packets go
//! in and out without a link header, and the stack routes what comes out.

mod device;
mod raw;
mod sockets;

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface};
use smoltcp::socket::{tcp, udp, AnySocket, Socket};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint, Ipv4Address, Ipv4Cidr,
};

use crate::addr::{Cidr, Endpoint, Ipv4};
use crate::errno::{Errno, SysResult};
#[cfg(feature = "offload")]
pub use device::OFFLOAD_MAX;
pub use device::{Lent, PacketSink, Sink, HEADROOM};
use device::{Port, Queues};
use sockets::Sockets;

/// A socket inside the engine. Opaque outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ERef {
    slot: u32,
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
    pub recv_capacity: usize,
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
        // Only with `offload-host`, which builds smoltcp with proto-ipv6 (see
        // Cargo.toml); the engine is given no IPv6 address, packet or endpoint.
        #[cfg(feature = "offload-host")]
        _ => Ipv4::ANY,
    }
}

/// A fill for [`Engine::tcp_send_with`] that copies `data` in order, piece after piece.
pub fn copy_from(mut data: &[u8]) -> impl FnMut(&mut [u8]) -> usize + '_ {
    move |buf| {
        let (now, rest) = data.split_at(buf.len());
        buf.copy_from_slice(now);
        data = rest;
        buf.len()
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

/// How long a connection waits for an answer before it fails with ETIMEDOUT.
const TCP_GIVE_UP: Duration = Duration::from_secs(120);

fn zeroed(len: usize) -> SysResult<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
    v.resize(len, 0);
    Ok(v)
}

/// One smoltcp interface on `Medium::Ip` for every device: the stack owns Ethernet, ARP
/// and the choice of the outgoing device, so a wildcard socket is one engine socket
/// whatever the number of devices, and smoltcp's Ethernet and ARP code is not linked.
pub struct Engine {
    iface: Interface,
    /// By slot (an `ERef`): smoltcp's accessors panic on a stale handle, and a scan of
    /// the set per lookup made the socket layer's walk over its sockets after every
    /// packet quadratic in the number of sockets.
    socks: Sockets,
    q: Queues,
    mtu: usize,
    seed: u64,
}

fn new_iface(q: &mut Queues, mtu: usize, seed: u64, now_us: u64) -> Interface {
    let mut sink = |_: &mut [u8], _: u16| false;
    let mut port = Port {
        q,
        mtu,
        current: None,
        sink: &mut sink,
    };
    let mut cfg = Config::new(HardwareAddress::Ip);
    cfg.random_seed = seed;
    let mut iface = Interface::new(cfg, &mut port, Instant::from_micros(now_us as i64));
    // The stack hands the engine only packets for this host (it decides which are, for
    // all of 127.0.0.0/8 too), and routes what comes out: smoltcp takes every packet and
    // believes every destination reachable.
    iface.set_any_ip(true);
    let _ = iface
        .routes_mut()
        .add_default_ipv4_route(Ipv4Address::new(127, 0, 0, 1));
    iface
}

impl Engine {
    /// The engine, for IP packets of at most `mtu` bytes.
    pub fn new(mtu: usize, seed: u64, now_us: u64) -> Engine {
        let mut q = Queues::default();
        let iface = new_iface(&mut q, mtu, seed, now_us);
        Engine {
            iface,
            socks: Sockets::new(),
            q,
            mtu,
            seed,
        }
    }

    /// The largest IP packet the engine builds is now `mtu` bytes. smoltcp reads a
    /// device's MTU once, when the interface is made: a new MTU needs a new interface.
    /// Sockets and addresses carry over.
    pub fn set_mtu(&mut self, mtu: usize, now_us: u64) {
        if self.mtu == mtu {
            return;
        }
        self.mtu = mtu;
        let mut iface = new_iface(&mut self.q, mtu, self.seed, now_us);
        iface.update_ip_addrs(|v| *v = self.iface.ip_addrs().iter().copied().collect());
        self.iface = iface;
    }

    /// Build TCP segments of many MSS, for devices that cut them (or the stack, for those
    /// that cannot). Like a new MTU, this needs a new interface.
    #[cfg(feature = "offload")]
    pub fn set_offload(&mut self, on: bool, now_us: u64) {
        self.q.offload = on;
        let mut iface = new_iface(&mut self.q, self.mtu, self.seed, now_us);
        iface.update_ip_addrs(|v| *v = self.iface.ip_addrs().iter().copied().collect());
        self.iface = iface;
    }

    /// The largest IP packet the engine builds.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Engine sockets alive (each holds its buffers).
    pub fn socket_count(&self) -> usize {
        self.socks.count()
    }

    /// Put `s` in the engine; ENOMEM if there is no room to note where it is.
    fn add<S: AnySocket<'static>>(&mut self, s: S) -> SysResult<ERef> {
        let slot = self.socks.add(s.upcast())?;
        Ok(ERef { slot })
    }

    /// Set the devices' addresses (the engine takes every packet it is handed; it uses
    /// them for subnet broadcasts); true if they changed.
    pub fn set_addrs(&mut self, addrs: &[Cidr]) -> bool {
        let same = self.iface.ip_addrs().len() == addrs.len()
            && addrs
                .iter()
                .zip(self.iface.ip_addrs())
                .all(|(c, have)| *have == IpCidr::Ipv4(Ipv4Cidr::new(v4(c.addr), c.prefix)));
        if same {
            return false;
        }
        self.iface.update_ip_addrs(|v| {
            v.clear();
            for c in addrs {
                let _ = v.push(IpCidr::Ipv4(Ipv4Cidr::new(v4(c.addr), c.prefix)));
            }
        });
        true
    }

    /// The TCP socket that holds the connection `local`-`remote`, and its state.
    /// smoltcp hands a segment to the first socket that accepts it, and a listening socket
    /// accepts any SYN; the stack asks this before it lets a SYN in.
    pub fn tcp_owner(&self, local: Endpoint, remote: Endpoint) -> Option<(ERef, TcpState)> {
        self.socks.iter().find_map(|(slot, s)| match s {
            Socket::Tcp(t)
                if t.local_endpoint().map(from_ep) == Some(local)
                    && t.remote_endpoint().map(from_ep) == Some(remote) =>
            {
                Some((ERef { slot }, state_of(t.state())))
            }
            _ => None,
        })
    }

    /// Visit the local address of each TCP connection (listeners excluded).
    pub fn tcp_local_addrs(&self, f: &mut dyn FnMut(Ipv4)) {
        for (_, s) in self.socks.iter() {
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

    /// Queue a packet the stack delivers to itself (loopback); false if the queue is full.
    pub fn push_rx(&mut self, packet: &[u8]) -> bool {
        self.q.push_rx(packet)
    }

    /// The oldest queued loopback packet, for the classifier to look at.
    pub fn pop_rx(&mut self) -> Option<Vec<u8>> {
        self.q.rx.pop_front()
    }

    /// Return a looped-back packet's buffer to the pool.
    pub fn recycle(&mut self, packet: Vec<u8>) {
        self.q.recycle(packet);
    }

    /// Let the engine process one accepted packet (and answer it through `sink`, which
    /// gets each outgoing packet behind [`HEADROOM`] bytes it may fill, with the size to
    /// cut an offloaded TCP segment into, and returns true to have it delivered back to
    /// the engine).
    pub fn ingress(&mut self, packet: &[u8], now_us: u64, sink: &mut Sink<'_>) {
        #[cfg(feature = "park")]
        self.socks.wake_for(packet);
        let mut port = Port {
            q: &mut self.q,
            mtu: self.mtu,
            current: Some(packet),
            sink,
        };
        self.iface.poll_ingress_single(
            Instant::from_micros(now_us as i64),
            &mut port,
            &mut self.socks.awake,
        );
    }

    /// Transmit what the sockets have queued.
    pub fn egress(&mut self, now_us: u64, sink: &mut Sink<'_>) {
        let mut port = Port {
            q: &mut self.q,
            mtu: self.mtu,
            current: None,
            sink,
        };
        let now = Instant::from_micros(now_us as i64);
        self.iface.poll_maintenance(now);
        // Bounded: each round sends at least one packet or stops.
        for _ in 0..64 {
            if self
                .iface
                .poll_egress(now, &mut port, &mut self.socks.awake)
                == smoltcp::iface::PollResult::None
            {
                #[cfg(feature = "park")]
                self.socks.park_idle(&mut self.iface, now);
                break;
            }
        }
    }

    pub fn rx_pending(&self) -> bool {
        !self.q.rx.is_empty()
    }

    /// Microseconds until the earliest engine timer, if any.
    pub fn poll_delay(&mut self, now_us: u64) -> Option<u64> {
        let now = Instant::from_micros(now_us as i64);
        self.iface
            .poll_delay(now, &self.socks.awake)
            .map(|d| d.total_micros())
    }

    // ---- TCP ----

    pub fn tcp_new(&mut self, rx: usize, tx: usize) -> SysResult<ERef> {
        let (rxb, txb) = (zeroed(rx)?, zeroed(tx)?);
        let mut s = tcp::Socket::new(tcp::SocketBuffer::new(rxb), tcp::SocketBuffer::new(txb));
        // Linux gives up on an unanswered connection after about two minutes; smoltcp
        // retransmits forever unless told otherwise.
        s.set_timeout(Some(TCP_GIVE_UP));
        self.add(s)
    }

    /// Look a socket up without smoltcp's panicking accessors: a stale or mistyped
    /// reference yields `None`, never a panic. A call that may change a socket wakes it
    /// (see `sockets`).
    fn sock(&mut self, r: ERef) -> Option<&mut Socket<'static>> {
        self.socks.get_mut(r.slot)
    }

    fn tcp(&mut self, r: ERef) -> Option<&mut tcp::Socket<'static>> {
        tcp::Socket::downcast_mut(self.sock(r)?)
    }

    /// A TCP socket to look at, left where it is.
    fn tcp_ref(&self, r: ERef) -> Option<&tcp::Socket<'static>> {
        tcp::Socket::downcast(self.socks.get(r.slot)?)
    }

    pub fn tcp_listen(&mut self, r: ERef, ep: Endpoint) -> SysResult<()> {
        let s = self.tcp(r).ok_or(Errno::ENODEV)?;
        s.listen(listen_ep(ep)).map_err(|_| Errno::EINVAL)
    }

    pub fn tcp_connect(&mut self, r: ERef, local: Endpoint, remote: Endpoint) -> SysResult<()> {
        let s = self
            .socks
            .get_mut(r.slot)
            .and_then(tcp::Socket::downcast_mut)
            .ok_or(Errno::EBADF)?;
        s.connect(self.iface.context(), ip_ep(remote), listen_ep(local))
            .map_err(|err| match err {
                tcp::ConnectError::InvalidState => Errno::EISCONN,
                tcp::ConnectError::Unaddressable => Errno::EADDRNOTAVAIL,
            })
    }

    pub fn tcp_info(&self, r: ERef) -> Option<TcpInfo> {
        let s = self.tcp_ref(r)?;
        let state = state_of(s.state());
        Some(TcpInfo {
            state,
            can_recv: s.can_recv(),
            may_recv: s.may_recv(),
            can_send: s.can_send(),
            writable: s.can_send() && s.send_queue() * 3 <= s.send_capacity() * 2,
            may_send: s.may_send(),
            recv_queue: s.recv_queue(),
            recv_capacity: s.recv_capacity(),
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
    pub fn tcp_has_data(&self, r: ERef) -> bool {
        self.tcp_ref(r).is_some_and(|s| s.recv_queue() > 0)
    }

    /// Queue up to `max` bytes that `fill` writes straight into the send ring (one
    /// contiguous piece at a time: two when the free space wraps); `fill` returns how many
    /// it wrote, fewer than asked when its source gave out. Returns the bytes queued.
    pub fn tcp_send_with(
        &mut self,
        r: ERef,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> SysResult<usize> {
        let s = self.tcp(r).ok_or(Errno::EPIPE)?;
        let mut done = 0;
        for _ in 0..2 {
            let (asked, got) = s
                .send(|buf| {
                    let asked = buf.len().min(max - done);
                    let got = fill(&mut buf[..asked]).min(asked);
                    (got, (asked, got))
                })
                .map_err(|_| Errno::EPIPE)?;
            done += got;
            if got < asked || asked == 0 || done == max {
                break;
            }
        }
        Ok(done)
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

    /// Whether an unanswered connection is given up after `TCP_GIVE_UP`. smoltcp
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

    pub fn udp_new(&mut self, bytes: usize, packets: usize, ep: Endpoint) -> SysResult<ERef> {
        let rx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; packets], zeroed(bytes)?);
        let tx = udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; packets], zeroed(bytes)?);
        let mut s = udp::Socket::new(rx, tx);
        s.bind(listen_ep(ep)).map_err(|_| Errno::EINVAL)?;
        self.add(s)
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
        self.socks.remove(r.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, Transport};

    const US: Ipv4 = Ipv4::new(10, 0, 0, 2);
    const PEER: Ipv4 = Ipv4::new(10, 0, 0, 1);

    fn engine() -> Engine {
        let mut e = Engine::new(1500, 7, 0);
        e.set_addrs(&[
            Cidr {
                addr: Ipv4::LOCALHOST,
                prefix: 8,
            },
            Cidr {
                addr: US,
                prefix: 24,
            },
        ]);
        e
    }

    fn listener(e: &mut Engine, port: u16) -> ERef {
        let r = e.tcp_new(4096, 4096).unwrap();
        e.tcp_listen(r, Endpoint::new(Ipv4::ANY, port)).unwrap();
        r
    }

    /// What the engine emits through a sink, as IP packets, with the headroom checked.
    fn sent(out: &[Vec<u8>]) -> Vec<wire::Ipv4Info> {
        out.iter()
            .map(|b| {
                assert_eq!(b[..HEADROOM], [0; HEADROOM], "the headroom is the sink's");
                wire::parse_ipv4(&b[HEADROOM..], true).expect("a sound packet")
            })
            .collect()
    }

    fn tcp_flags(i: &wire::Ipv4Info) -> u8 {
        match i.transport {
            Transport::Tcp { flags, .. } => flags,
            _ => panic!("not TCP: {i:?}"),
        }
    }

    /// What the engine sends for `packet`: its answer during ingress, then egress.
    fn answers(e: &mut Engine, packet: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut sink = |b: &mut [u8], _: u16| {
            #[cfg(feature = "offload")]
            crate::offload::fill_tcp_checksum(&mut b[HEADROOM..]);
            out.push(b.to_vec());
            false
        };
        e.ingress(packet, 0, &mut sink);
        e.egress(0, &mut sink);
        out
    }

    #[test]
    fn a_listener_answers_a_borrowed_syn_through_the_sink() {
        let mut e = engine();
        listener(&mut e, 80);
        let (local, remote) = (Endpoint::new(US, 80), Endpoint::new(PEER, 4000));
        let syn = wire::tcp_segment(remote, local, (1000, 0), wire::TCP_SYN, 8192);
        let out = answers(&mut e, &syn);
        let sent = sent(&out);
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].src, sent[0].dst), (US, PEER));
        assert_eq!(tcp_flags(&sent[0]), wire::TCP_SYN | wire::TCP_ACK);
        assert!(!e.rx_pending(), "nothing looped back");
        assert_eq!(
            e.tcp_owner(local, remote).map(|(_, s)| s),
            Some(TcpState::SynReceived)
        );
    }

    /// A listener on port 80 and a connection to it over loopback, its SYN not yet sent:
    /// (client, listener).
    fn loopback_pair(e: &mut Engine) -> (ERef, ERef) {
        let l = listener(e, 80);
        let c = e.tcp_new(4096, 4096).unwrap();
        let (local, remote) = (
            Endpoint::new(Ipv4::LOCALHOST, 5000),
            Endpoint::new(Ipv4::LOCALHOST, 80),
        );
        e.tcp_connect(c, local, remote).unwrap();
        (c, l)
    }

    #[test]
    fn packets_the_sink_keeps_local_come_back_through_the_loopback_queue() {
        let mut e = engine();
        let (c, l) = loopback_pair(&mut e);
        let mut sink = |_: &mut [u8], _: u16| true;
        // Bounded: the handshake takes three packets.
        for _ in 0..8 {
            e.egress(0, &mut sink);
            while let Some(p) = e.pop_rx() {
                e.ingress(&p, 0, &mut sink);
                e.recycle(p);
            }
        }
        assert_eq!(e.tcp_info(c).unwrap().state, TcpState::Established);
        assert_eq!(e.tcp_info(l).unwrap().state, TcpState::Established);
        assert_eq!(send(&mut e, c, b"hi"), Ok(2));
        e.egress(0, &mut sink);
        let p = e.pop_rx().expect("the data segment, looped back");
        e.ingress(&p, 0, &mut sink);
        let mut buf = [0u8; 4];
        assert_eq!(e.tcp_recv(l, &mut buf, false), Ok(2));

        // Sent straight into the ring: a fill that gives out early ends the send there;
        // free space that wraps around the ring's end is filled in two pieces.
        let mut pieces = 0;
        let short = e.tcp_send_with(c, 100, &mut |b| {
            pieces += 1;
            b[..4].copy_from_slice(b"abcd");
            4
        });
        assert_eq!((short, pieces), (Ok(4), 1));
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut got = Vec::new();
        let (mut at, mut wrapped) = (0, false);
        // Bounded: 4 KiB rings; time moves so that delayed ACKs go out.
        for round in 1..=64u64 {
            let now = round * 50_000;
            if at < data.len() {
                let before = pieces;
                let mut copy = copy_from(&data[at..]);
                at += e
                    .tcp_send_with(c, data.len() - at, &mut |b| {
                        pieces += 1;
                        copy(b)
                    })
                    .unwrap_or(0);
                wrapped |= pieces - before == 2;
            }
            e.egress(now, &mut sink);
            while let Some(p) = e.pop_rx() {
                e.ingress(&p, now, &mut sink);
                e.recycle(p);
            }
            let mut buf = [0u8; 4096];
            let n = e.tcp_recv(l, &mut buf, false).unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got.len(), 4 + data.len());
        assert!(
            got[..4] == *b"abcd" && got[4..] == data[..],
            "all of it, in order"
        );
        assert!(wrapped, "a send filled the ring's end and its start");
    }

    /// Run the engine over looped-back packets until nothing moves; every packet it sends
    /// is noted.
    #[cfg(feature = "park")]
    fn settle(e: &mut Engine, now: u64, sent: &mut Vec<wire::Ipv4Info>) {
        let mut sink = |_: &mut [u8], _: u16| true;
        // Bounded: a handshake or an exchange takes a few packets.
        for _ in 0..16 {
            e.egress(now, &mut sink);
            if !e.rx_pending() {
                break;
            }
            while let Some(p) = e.pop_rx() {
                sent.push(wire::parse_ipv4(&p, false).expect("a sound packet"));
                e.ingress(&p, now, &mut sink);
                e.recycle(p);
            }
        }
    }

    /// Idle connections leave the set smoltcp walks and come back for a segment or a call:
    /// data still flows both ways, no segment is answered with a reset, and a connection
    /// with a delayed ACK due stays until it is sent.
    #[test]
    #[cfg(feature = "park")]
    fn idle_connections_are_parked_and_woken_by_a_segment_or_a_call() {
        let mut e = engine();
        let (c, l) = loopback_pair(&mut e);
        let mut seen = Vec::new();
        settle(&mut e, 0, &mut seen);
        for r in [c, l] {
            e.tcp_set_nodelay(r, true);
            e.tcp_set_give_up(r, false);
        }
        settle(&mut e, 0, &mut seen);
        assert_eq!(e.socks.parked_count(), 2, "both ends idle");
        assert_eq!(e.poll_delay(0), None, "no timer of a parked socket");
        assert_eq!(e.tcp_info(l).unwrap().state, TcpState::Established);
        assert_eq!(e.socks.parked_count(), 2, "looking does not wake");

        // A call wakes the client; its segment wakes the server's end.
        assert_eq!(send(&mut e, c, b"ping"), Ok(4));
        settle(&mut e, 0, &mut seen);
        let mut buf = [0u8; 8];
        assert_eq!(e.tcp_recv(l, &mut buf, false), Ok(4));
        assert_eq!(send(&mut e, l, b"pong"), Ok(4));
        settle(&mut e, 0, &mut seen);
        assert_eq!(e.tcp_recv(c, &mut buf, false), Ok(4));
        assert_eq!(&buf[..4], b"pong");
        settle(&mut e, 0, &mut seen);
        assert_eq!(e.socks.parked_count(), 2, "idle again");

        // With delayed ACKs the server's end waits 10 ms to acknowledge: not idle.
        e.tcp_set_nodelay(l, false);
        assert_eq!(send(&mut e, c, b"late"), Ok(4));
        settle(&mut e, 1_000, &mut seen);
        assert_eq!(
            e.socks.parked_count(),
            0,
            "an ACK is due and data unacknowledged"
        );
        assert!(e.poll_delay(1_000).is_some_and(|d| d <= 10_000));
        settle(&mut e, 20_000, &mut seen);
        settle(&mut e, 20_000, &mut seen);
        assert_eq!(e.socks.parked_count(), 2, "the ACK went");
        assert!(
            seen.iter().all(|i| tcp_flags(i) & wire::TCP_RST == 0),
            "no segment met a reset"
        );
        e.remove(c);
        e.remove(l);
        assert_eq!((e.socket_count(), e.socks.parked_count()), (0, 0));
    }

    fn send(e: &mut Engine, r: ERef, data: &[u8]) -> SysResult<usize> {
        e.tcp_send_with(r, data.len(), &mut copy_from(data))
    }

    #[test]
    fn a_new_mtu_keeps_sockets_and_addresses_and_sets_the_mss() {
        let mut e = engine();
        listener(&mut e, 80);
        e.set_mtu(1000, 0);
        assert_eq!((e.mtu(), e.socket_count()), (1000, 1));
        let (local, remote) = (Endpoint::new(US, 80), Endpoint::new(PEER, 4000));
        let syn = wire::tcp_segment(remote, local, (1, 0), wire::TCP_SYN, 8192);
        let out = answers(&mut e, &syn);
        assert_eq!(
            sent(&out).len(),
            1,
            "the listener and the address carried over"
        );
        // The SYN-ACK's first option is the MSS: the MTU less 40 bytes of headers.
        let tcp = &out[0][HEADROOM + 20..];
        assert_eq!(tcp[20..24], [2, 4, 0x03, 0xc0], "MSS 960");
    }

    /// A removed handle, or one of another socket type, gets an error, never smoltcp's
    /// panic. (smoltcp reuses a removed socket's handle: the socket layer drops every
    /// copy of a handle when it removes the socket.)
    #[test]
    fn removed_or_mistyped_handles_are_refused_not_a_panic() {
        let mut e = engine();
        let r = listener(&mut e, 80);
        e.remove(r);
        assert_eq!(e.tcp_info(r).map(|i| i.state), None);
        assert_eq!(send(&mut e, r, b"x"), Err(Errno::EPIPE));
        e.remove(r);
        let u = e.udp_new(512, 2, Endpoint::new(Ipv4::ANY, 7)).unwrap();
        assert!(e.tcp_info(u).is_none(), "a UDP socket is no TCP socket");
        assert_eq!(e.tcp_recv(u, &mut [0; 4], false), Err(Errno::ENOTCONN));
        assert_eq!(e.socket_count(), 1);
    }
}
