//! The socket-facing layer: what `socket(2)`, `bind(2)`, `setsockopt(2)`, `poll(2)` and
//! `close(2)` mean, on top of the engine. Protocol-specific requests live in [`tcp`] and
//! [`dgram`] (UDP and raw ICMP).
//!
//! Calls never block: where Linux would sleep, they return `EAGAIN`/`EINPROGRESS`, and the
//! caller (the kernel glue) waits for [`crate::Platform::wake`] with the right mask bits.

pub mod dgram;
pub mod icmp;
pub mod id;
pub mod opts;
pub mod syn_ack;
pub mod tcp;
pub mod time_wait;

use alloc::vec::Vec;

use crate::addr::{Endpoint, Ipv4};
use crate::engine::{ERef, Engine, TcpState};
use crate::errno::{Errno, SysResult};
use crate::iface::Net;
use crate::neigh::NEIGHBOR_TIMEOUT_US;
use crate::platform::{Config, Platform};
use crate::stats::Stats;
use crate::wire::DropReason;
pub use crate::wire::{IPPROTO_ICMP, IPPROTO_IP, IPPROTO_RAW, IPPROTO_TCP, IPPROTO_UDP};
use dgram::Received;
pub use id::SocketId;
pub use opts::Opts;
use opts::SocketSettings;
use time_wait::{TimeWait, TimeWaitTable};

pub const SOCK_STREAM: i32 = 1;
pub const SOCK_DGRAM: i32 = 2;
pub const SOCK_RAW: i32 = 3;

pub const POLLIN: u32 = 0x001;
pub const POLLOUT: u32 = 0x004;
pub const POLLERR: u32 = 0x008;
pub const POLLHUP: u32 = 0x010;
pub const POLLNVAL: u32 = 0x020;
pub const POLLRDNORM: u32 = 0x040;
pub const POLLWRNORM: u32 = 0x100;
pub const POLLWRBAND: u32 = 0x200;
pub const POLLRDHUP: u32 = 0x2000;

pub const SHUT_RD: i32 = 0;
pub const SHUT_WR: i32 = 1;
pub const SHUT_RDWR: i32 = 2;

pub const MSG_PEEK: u32 = 0x02;
pub const MSG_TRUNC: u32 = 0x20;

/// First and last ephemeral port (Linux `ip_local_port_range` default).
pub const EPHEMERAL_FIRST: u16 = 32768;
pub const EPHEMERAL_LAST: u16 = 60999;
/// Connections a SYN opened that are not yet in an accept queue, for the whole stack. Each
/// holds its socket's buffers, so this bounds what a SYN flood can take: 16 times a
/// connection's receive and send buffers (smoltcp fixes a connection's window when its
/// SYN arrives, so the buffers cannot come later, and cannot be SYN cookies either).
pub const SYN_QUEUE_MAX: usize = 16;
/// A SYN that finds the SYN queue full is dropped (its peer retries in a second), unless
/// the queue has been full for this long: then it evicts the oldest half-open connection.
/// Evicting at once would reset real peers whose ACK is on its way: a burst of 64 curl
/// clients at rinet-host, on a loaded machine, saw up to 5.3 ms from SYN to ACK. A flood
/// keeps the queue full (it counts as full until it falls below half), so after this
/// time every new SYN gets in, and a real peer's connection lives until [`SYN_QUEUE_MAX`]
/// more SYNs came (8 ms at 2,000 SYNs per second).
pub const SYN_FLOOD_US: u64 = 100_000;
/// How long a closed connection may sit in FIN-WAIT-2 (Linux `tcp_fin_timeout`).
pub const FIN_TIMEOUT_US: u64 = 60_000_000;

/// What `/proc/net/{tcp,udp,raw}` shows of a socket. `state` is a [`TcpState`] as Linux
/// numbers it; a connected UDP or raw socket shows as established, as on Linux.
#[derive(Clone, Copy, Debug)]
pub struct SockInfo {
    pub id: SocketId,
    pub proto: u8,
    pub state: u8,
    pub local: Endpoint,
    pub remote: Endpoint,
    pub tx_queue: u32,
    pub rx_queue: u32,
}

/// A listening TCP socket: the engine socket listening for the next SYN, its part of the
/// SYN queue, and the accept queue.
#[derive(Default)]
pub struct Listener {
    pub(crate) backlog: usize,
    pub(crate) listening: Option<ERef>,
    /// The connections a SYN opened, in the order the SYNs came, with the time each was
    /// seen: half-open ones (SYN-RECEIVED), and, while the accept queue is full, those
    /// that completed the handshake since. Bounded for the whole stack (see
    /// [`SYN_QUEUE_MAX`]).
    pub(crate) embryos: Vec<(ERef, u64)>,
    /// The accept queue, oldest first: at most `backlog + 1` (as Linux). A plain Vec:
    /// `accept` shifts at most `backlog` refs, and a ring buffer type would cost code of
    /// its own.
    pub(crate) ready: Vec<ERef>,
    /// The engine socket of a half-open connection evicted for a SYN while this
    /// listener had one listening: the next refill listens on it, so that a flood
    /// neither allocates nor frees buffers (a SYN per eviction); until then it is
    /// closed and silent.
    pub(crate) spare: Option<ERef>,
}

impl Listener {
    fn all(&self) -> impl Iterator<Item = ERef> + '_ {
        self.listening
            .iter()
            .chain(&self.spare)
            .chain(self.embryos.iter().map(|e| &e.0))
            .chain(&self.ready)
            .copied()
    }
}

/// A TCP connection, opened by `connect` or returned by `accept`.
pub struct Conn {
    pub(crate) r: ERef,
    pub(crate) state: TcpState,
    pub(crate) established: bool,
    pub(crate) saw_rst: bool,
    /// When the peer last sent a segment, or, until it has, when the connection started:
    /// a connect's ARP timeout and SO_KEEPALIVE's idle time count from it.
    pub(crate) heard: u64,
    /// Next hop and its interface, to detect a neighbour that never answers ARP.
    pub(crate) hop: (u32, Ipv4),
    pub(crate) local: Endpoint,
    pub(crate) remote: Endpoint,
    pub(crate) snd_max: Option<u32>,
    /// The sequence number of our SYN, once sent: an ICMP error about the handshake must
    /// quote it (RFC 5927), so that a blind one cannot end the connection.
    pub(crate) isn: Option<u32>,
    /// Whether the engine gives the connection up when unanswered (set while something is
    /// outstanding; see `maintain_conn`).
    pub(crate) give_up: bool,
    /// SO_KEEPALIVE's timer: when to look at the idle time again, or, while probing, when
    /// the probes count as unanswered (see `maintain_conn`); 0 when off (an armed timer is
    /// at least TCP_KEEPIDLE's one second past time 0). Not an `Option<u64>`: with one,
    /// rinet's code for thumbv7em was some 800 B larger (`cargo xtask size`).
    pub(crate) keepalive_at: u64,
    /// The engine is sending keepalive probes, none answered yet.
    pub(crate) probing: bool,
    /// Something may have changed the connection since the last report looked at it: a
    /// segment from the peer, or a call on its socket. An established connection that
    /// nothing touched is left out of a run's bookkeeping and wakeups (see
    /// [`SocketTable::needs_visit`]): idle connections cost a run nothing there.
    pub(crate) dirty: bool,
}

impl Conn {
    /// A connection the socket layer starts to follow at `started`. `hop` is the interface
    /// and next hop of one we open, whose handshake is still to come; without one it is a connection a
    /// listener made (accepted, or reset unaccepted), which counts as established: no
    /// neighbour timeout and no handshake error applies to it.
    pub(crate) fn new(
        r: ERef,
        state: TcpState,
        (local, remote): (Endpoint, Endpoint),
        started: u64,
        hop: Option<(u32, Ipv4)>,
    ) -> Conn {
        Conn {
            r,
            state,
            established: hop.is_none(),
            saw_rst: false,
            heard: started,
            hop: hop.unwrap_or_default(),
            local,
            remote,
            snd_max: None,
            isn: None,
            give_up: true,
            keepalive_at: 0,
            probing: false,
            dirty: true,
        }
    }
}

pub enum Tcp {
    /// Never connected (possibly bound).
    Idle,
    Listen(Listener),
    Conn(Conn),
    /// The connection ended; any error is in `Sock::err`.
    Done,
}

/// UDP or raw socket, and its engine socket once it has one (a UDP socket gets it when
/// bound).
#[derive(Default)]
pub struct Dgram {
    pub(crate) r: Option<ERef>,
    /// Raw sockets: the IP protocol.
    pub(crate) proto: u8,
}

pub enum Proto {
    Tcp(Tcp),
    Udp(Dgram),
    Raw(Dgram),
}

pub struct Sock {
    pub(crate) proto: Proto,
    pub(crate) local: Endpoint,
    pub(crate) bound: bool,
    pub(crate) remote: Option<Endpoint>,
    pub(crate) opts: Opts,
    /// Pending error (`SO_ERROR`), reported once.
    pub(crate) err: Option<Errno>,
    /// The pending error as the platform last heard of it (see `Platform::error`).
    pub(crate) err_told: Option<Errno>,
    pub(crate) shut_rd: bool,
    pub(crate) shut_wr: bool,
    /// Poll mask last reported through `Platform::wake`.
    pub(crate) reported: u32,
}

impl Sock {
    /// A socket as `socket(2)` makes it: unbound, unconnected, nothing pending.
    pub(crate) fn new(proto: Proto, opts: Opts) -> Sock {
        Sock {
            proto,
            local: Endpoint::default(),
            bound: false,
            remote: None,
            opts,
            err: None,
            err_told: None,
            shut_rd: false,
            shut_wr: false,
            reported: 0,
        }
    }

    pub(crate) fn is_tcp(&self) -> bool {
        matches!(self.proto, Proto::Tcp(_))
    }

    /// `addr` went with its device: the connections on it end (ENETUNREACH).
    pub(crate) fn forget_addr(&mut self, engine: &mut Engine, addr: Ipv4) {
        match &mut self.proto {
            Proto::Tcp(Tcp::Listen(l)) => {
                let gone = |engine: &mut Engine, r: ERef| {
                    let on = engine
                        .tcp_info(r)
                        .and_then(|i| i.local)
                        .is_some_and(|e| e.addr == addr);
                    if on {
                        engine.remove(r);
                    }
                    on
                };
                l.embryos.retain(|e| !gone(engine, e.0));
                l.ready.retain(|r| !gone(engine, *r));
            }
            Proto::Tcp(t @ Tcp::Conn(_)) => {
                if let Tcp::Conn(c) = t {
                    if c.local.addr == addr {
                        engine.remove(c.r);
                        *t = Tcp::Done;
                        self.err = Some(Errno::ENETUNREACH);
                    }
                }
            }
            Proto::Udp(_) | Proto::Raw(_) | Proto::Tcp(_) => {}
        }
    }
}

/// A connection the user closed that still finishes its FIN handshake or TIME-WAIT.
pub struct Orphan {
    r: ERef,
    local: Endpoint,
    remote: Endpoint,
    reuse: bool,
    since: u64,
    snd_max: Option<u32>,
    /// The engine's egress round in which it was first seen in TIME-WAIT.
    time_wait_seen: Option<u64>,
}

struct Slot {
    gen: u16,
    sock: Option<Sock>,
    /// The slot is in `SocketTable::visits`.
    #[cfg(feature = "park")]
    listed: bool,
}

/// What socket calls work with, and all they may touch: the socket table, the engine,
/// the counters, the host (for wakeups and pending errors), the configuration and the
/// time of the call. Not the interfaces, routes or neighbours: what a call needs of
/// those, the stack asks before or after it. Part of [`Stack`], which hands it to the
/// socket layer as a whole (one pointer, no view to build per call): see
/// [`crate::Stack`].
pub(crate) struct Core<P> {
    pub(crate) socks: SocketTable,
    pub(crate) engine: Engine,
    pub(crate) stats: Stats,
    pub(crate) platform: P,
    pub(crate) cfg: Config,
    pub(crate) now: u64,
    /// A call changed something the engine must act on: the stack runs once the call
    /// returns (see `Core::run_for`).
    pub(crate) run_asked: bool,
}

pub struct SocketTable {
    slots: Vec<Slot>,
    live: usize,
    /// Sockets bound to a device (SO_BINDTODEVICE): while there are none, the transmit
    /// path need not look for a packet's socket (`device_of`).
    bound_devices: usize,
    orphans: Vec<Orphan>,
    pub(crate) time_wait: TimeWaitTable,
    /// Counts the stack's passes over the engine's egress. An orphan that reached
    /// TIME-WAIT becomes a [`TimeWait`] entry only once an egress pass followed: by
    /// then the engine has sent the ACK of the peer's FIN.
    pub(crate) egress_rounds: u64,
    next_port: u16,
    /// Set when bookkeeping queued something for the engine to send.
    pub(crate) kick: bool,
    /// Since when a SYN found the SYN queue full (until one finds it below half).
    syn_full_since: Option<u64>,
    pub(crate) syn_acks: syn_ack::SynAcks<SYN_QUEUE_MAX>,
    /// The next run visits every socket, touched or not: set for runs the timer or a
    /// change of the interfaces, routes or neighbours starts, and when a deadline is due
    /// (then the engine may change a connection without a segment from its peer: a
    /// retransmission timeout, the end of TIME-WAIT, a keepalive).
    pub(crate) walk_all: bool,
    /// The slots a run that does not walk all looks at: every socket but the established
    /// connections nothing touched since a report looked at them, so that idle
    /// connections cost a run nothing, not even a look at their slot. Freed slots and
    /// settled connections leave it at the end of a report (`prune_visits`). Only with
    /// `park` (CONFIG_RINET_IDLE_PARKING), which takes idle connections out of the
    /// engine's walks as well: without it a run looks at every slot, which costs nothing
    /// worth the list's code on a board with a handful of sockets.
    #[cfg(feature = "park")]
    visits: Vec<u16>,
}

impl SocketTable {
    pub fn new(seed: u64) -> SocketTable {
        let span = u64::from(EPHEMERAL_LAST - EPHEMERAL_FIRST) + 1;
        SocketTable {
            slots: Vec::new(),
            live: 0,
            bound_devices: 0,
            orphans: Vec::new(),
            time_wait: TimeWaitTable::default(),
            egress_rounds: 0,
            walk_all: true,
            next_port: EPHEMERAL_FIRST + (seed % span) as u16,
            kick: false,
            syn_full_since: None,
            syn_acks: syn_ack::SynAcks::default(),
            #[cfg(feature = "park")]
            visits: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn get(&self, id: SocketId) -> Option<&Sock> {
        let slot = self.slots.get(id.index()?)?;
        if slot.gen != id.gen() {
            return None;
        }
        slot.sock.as_ref()
    }

    pub fn get_mut(&mut self, id: SocketId) -> Option<&mut Sock> {
        let slot = self.slots.get_mut(id.index()?)?;
        if slot.gen != id.gen() {
            return None;
        }
        slot.sock.as_mut()
    }

    /// The socket `id` names, or EBADF.
    pub(crate) fn sock(&self, id: SocketId) -> SysResult<&Sock> {
        self.get(id).ok_or(Errno::EBADF)
    }

    /// The socket a call changes (the next run looks at it), or EBADF.
    pub(crate) fn sock_mut(&mut self, id: SocketId) -> SysResult<&mut Sock> {
        self.touch(id);
        self.get_mut(id).ok_or(Errno::EBADF)
    }

    /// Whether a run's bookkeeping and wakeups must look at `id`: every socket but an
    /// established connection nothing touched since the last report (unless the run
    /// visits all).
    pub(crate) fn needs_visit(&self, id: SocketId) -> bool {
        self.walk_all || !self.settled_conn(id)
    }

    fn settled_conn(&self, id: SocketId) -> bool {
        matches!(self.get(id).map(|s| &s.proto),
            Some(Proto::Tcp(Tcp::Conn(c))) if c.established && !c.dirty)
    }

    /// Something may have changed `id`'s connection: the next run looks at it.
    pub(crate) fn touch(&mut self, id: SocketId) {
        if let Some(Proto::Tcp(Tcp::Conn(c))) = self.get_mut(id).map(|s| &mut s.proto) {
            c.dirty = true;
            if let Some(i) = id.index() {
                self.list(i);
            }
        }
    }

    /// Put slot `i` in the visits (once).
    #[cfg(not(feature = "park"))]
    fn list(&mut self, _: usize) {}

    /// Put slot `i` in the visits (once).
    #[cfg(feature = "park")]
    fn list(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i) {
            if !slot.listed && self.visits.try_reserve(1).is_ok() {
                slot.listed = true;
                self.visits.push(i as u16);
            }
        }
    }

    /// The slots listed for a run (see `visits`), in the order they were listed.
    pub(crate) fn visit_count(&self) -> usize {
        #[cfg(feature = "park")]
        return self.visits.len();
        #[cfg(not(feature = "park"))]
        self.slots.len()
    }

    /// The socket listed `n`th for a run, if its slot is live.
    pub(crate) fn visit_at(&self, n: usize) -> Option<SocketId> {
        #[cfg(feature = "park")]
        return self.id_at(usize::from(*self.visits.get(n)?));
        #[cfg(not(feature = "park"))]
        self.id_at(n)
    }

    /// After a report: drop freed slots and settled connections from the visits.
    #[cfg(not(feature = "park"))]
    pub(crate) fn prune_visits(&mut self) {}

    /// After a report: drop freed slots and settled connections from the visits.
    #[cfg(feature = "park")]
    pub(crate) fn prune_visits(&mut self) {
        let mut visits = core::mem::take(&mut self.visits);
        visits.retain(|&i| {
            let keep = self
                .id_at(usize::from(i))
                .is_some_and(|id| !self.settled_conn(id));
            if !keep {
                self.slots[usize::from(i)].listed = false;
            }
            keep
        });
        self.visits = visits;
    }

    /// The report looked at `id`: until something touches it again, runs may skip it.
    pub(crate) fn settled(&mut self, id: SocketId) {
        if let Some(Proto::Tcp(Tcp::Conn(c))) = self.get_mut(id).map(|s| &mut s.proto) {
            c.dirty = false;
        }
    }

    /// Number of slots, live or free: the bound for [`SocketTable::id_at`].
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The socket in slot `i`, if that slot is live.
    pub(crate) fn id_at(&self, i: usize) -> Option<SocketId> {
        let s = self.slots.get(i)?;
        s.sock.as_ref().map(|_| SocketId::new(i, s.gen))
    }

    pub fn ids(&self) -> impl Iterator<Item = SocketId> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.sock.is_some())
            .map(|(i, s)| SocketId::new(i, s.gen))
    }

    pub fn iter(&self) -> impl Iterator<Item = (SocketId, &Sock)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.sock.as_ref().map(|k| (SocketId::new(i, s.gen), k)))
    }

    /// True when `insert` would fail: `max` sockets live, or every one of the 0xffff ids.
    pub(crate) fn is_full(&self, max: usize) -> bool {
        self.live >= max.min(0xffff)
    }

    fn insert(&mut self, sock: Sock, max: usize) -> SysResult<SocketId> {
        if self.live >= max {
            return Err(Errno::ENOBUFS);
        }
        let index = match self.slots.iter().position(|s| s.sock.is_none()) {
            Some(i) => i,
            None if self.slots.len() < 0xffff => {
                self.slots.push(Slot {
                    gen: 0,
                    sock: None,
                    #[cfg(feature = "park")]
                    listed: false,
                });
                self.slots.len() - 1
            }
            None => return Err(Errno::ENOBUFS),
        };
        // A new socket is visited from its first run: a slot that cannot be listed is
        // not used.
        #[cfg(feature = "park")]
        if !self.slots[index].listed {
            self.visits.try_reserve(1).map_err(|_| Errno::ENOBUFS)?;
        }
        let slot = &mut self.slots[index];
        slot.sock = Some(sock);
        self.live += 1;
        self.bound_devices += usize::from(slot.sock.as_ref().is_some_and(|s| s.opts.bound_if != 0));
        let gen = slot.gen;
        self.list(index);
        Ok(SocketId::new(index, gen))
    }

    fn remove(&mut self, id: SocketId) -> Option<Sock> {
        let slot = self.slots.get_mut(id.index()?)?;
        if slot.gen != id.gen() {
            return None;
        }
        let s = slot.sock.take()?;
        slot.gen = slot.gen.wrapping_add(1);
        self.live -= 1;
        self.bound_devices -= usize::from(s.opts.bound_if != 0);
        Some(s)
    }

    /// Would binding `(addr, port)` for this protocol clash with an existing socket?
    /// Linux rules: overlapping addresses clash unless both sockets set SO_REUSEADDR and
    /// the existing one is not listening (TCP); for UDP both must set SO_REUSEADDR.
    pub(crate) fn bind_conflict(
        &self,
        me: Option<SocketId>,
        tcp: bool,
        ep: Endpoint,
        reuse: bool,
    ) -> bool {
        let overlap = |a: Ipv4| a.is_any() || ep.addr.is_any() || a == ep.addr;
        let socks = self.iter().filter(|(id, _)| Some(*id) != me).any(|(_, s)| {
            s.is_tcp() == tcp
                && s.bound
                && s.local.port == ep.port
                && overlap(s.local.addr)
                && !(reuse && s.opts.reuseaddr && !matches!(s.proto, Proto::Tcp(Tcp::Listen(_))))
        });
        let orphans = tcp
            && self
                .orphans
                .iter()
                .any(|o| o.local.port == ep.port && overlap(o.local.addr) && !(reuse && o.reuse));
        socks || orphans || (tcp && self.time_wait.holds(ep, reuse))
    }

    /// Pick a free ephemeral port, starting from a rolling cursor.
    pub(crate) fn ephemeral(&mut self, tcp: bool, addr: Ipv4, reuse: bool) -> SysResult<u16> {
        let span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
        for _ in 0..span {
            let port = self.next_port;
            self.next_port = if port >= EPHEMERAL_LAST {
                EPHEMERAL_FIRST
            } else {
                port + 1
            };
            if !self.bind_conflict(None, tcp, Endpoint::new(addr, port), reuse) {
                return Ok(port);
            }
        }
        Err(Errno::EADDRNOTAVAIL)
    }

    pub(crate) fn orphan(&mut self, c: &Conn, reuse: bool, now: u64) {
        self.orphans.push(Orphan {
            r: c.r,
            local: c.local,
            remote: c.remote,
            reuse,
            since: now,
            snd_max: c.snd_max,
            time_wait_seen: None,
        });
    }

    pub(crate) fn reap_orphans(&mut self, engine: &mut Engine, now: u64) {
        let mut kick = false;
        let (rounds, time_wait) = (self.egress_rounds, &mut self.time_wait);
        time_wait.expire(now);
        self.orphans.retain_mut(|o| match engine.tcp_info(o.r) {
            Some(i) if i.state == TcpState::Closed => {
                engine.remove(o.r);
                false
            }
            Some(_) if engine.tcp_has_data(o.r) => {
                // Data after close() has no reader: Linux resets the connection
                // (TCPAbortOnData), and the peer's next send meets EPIPE.
                engine.tcp_abort(o.r);
                kick = true;
                true
            }
            Some(i) if i.state == TcpState::TimeWait => match o.time_wait_seen {
                Some(seen) if seen < rounds => {
                    // Removing an engine socket sends nothing.
                    engine.remove(o.r);
                    time_wait.insert(TimeWait {
                        local: o.local,
                        remote: o.remote,
                        reuse: o.reuse,
                        until: now.saturating_add(time_wait::TIME_WAIT_US),
                    });
                    false
                }
                Some(_) => true,
                None => {
                    o.time_wait_seen = Some(rounds);
                    true
                }
            },
            Some(i)
                if i.state == TcpState::FinWait2
                    && now.saturating_sub(o.since) >= FIN_TIMEOUT_US =>
            {
                engine.tcp_abort(o.r);
                kick = true;
                true
            }
            Some(_) => true,
            None => false,
        });
        self.kick |= kick;
    }

    /// Drop `r` from the orphans; false if it is not one (it belongs to a socket).
    pub(crate) fn forget_orphan(&mut self, r: ERef) -> bool {
        let before = self.orphans.len();
        self.orphans.retain(|o| o.r != r);
        self.orphans.len() != before
    }

    /// Drop what still finishes on `addr` (its device is gone).
    pub(crate) fn forget_orphans_on(&mut self, engine: &mut Engine, addr: Ipv4) {
        self.orphans.retain(|o| {
            if o.local.addr == addr {
                engine.remove(o.r);
            }
            o.local.addr != addr
        });
        self.time_wait.forget_addr(addr);
    }

    /// Closed connections still finishing: orphans and TIME-WAIT entries.
    pub fn orphans(&self) -> usize {
        self.orphans.len() + self.time_wait.len()
    }

    fn conns_mut(&mut self) -> impl Iterator<Item = &mut Conn> {
        self.slots
            .iter_mut()
            .filter_map(|s| match s.sock.as_mut()?.proto {
                Proto::Tcp(Tcp::Conn(ref mut c)) => Some(c),
                _ => None,
            })
    }

    /// A segment for `local`-`remote` came from the peer at `now`; after a reset (`rst`)
    /// the connection ends with ECONNRESET or ECONNREFUSED rather than a timeout. Returns
    /// the engine socket whose keepalive probes it answers: the engine must stop probing
    /// before it takes the segment in, or it probes again TCP_KEEPINTVL after it, not
    /// TCP_KEEPIDLE.
    pub(crate) fn note_heard(
        &mut self,
        (local, remote): (Endpoint, Endpoint),
        rst: bool,
        now: u64,
    ) -> Option<ERef> {
        // One connection per four-tuple (classify_syn keeps it so): stop at it, as this
        // runs for every received segment.
        let (i, c) =
            self.slots
                .iter_mut()
                .enumerate()
                .find_map(|(i, s)| match s.sock.as_mut()?.proto {
                    Proto::Tcp(Tcp::Conn(ref mut c)) if c.local == local && c.remote == remote => {
                        Some((i, c))
                    }
                    _ => None,
                })?;
        c.saw_rst |= rst;
        c.heard = now;
        c.dirty = true;
        let probed = core::mem::take(&mut c.probing).then_some(c.r);
        self.list(i);
        probed
    }

    /// A segment taking `len` sequence numbers from `seq` left (`syn`: our SYN, whose
    /// number ICMP errors quote): true if it is a retransmission.
    pub(crate) fn note_sent(
        &mut self,
        (local, remote): (Endpoint, Endpoint),
        seq: u32,
        len: u32,
        syn: bool,
    ) -> bool {
        let end = seq.wrapping_add(len);
        let bump = |m: &mut Option<u32>| match *m {
            Some(max) if (max.wrapping_sub(end) as i32) >= 0 => true,
            _ => {
                *m = Some(end);
                false
            }
        };
        if let Some(c) = self
            .conns_mut()
            .find(|c| c.local == local && c.remote == remote)
        {
            if syn {
                c.isn = Some(seq);
            }
            return bump(&mut c.snd_max);
        }
        if let Some(o) = self
            .orphans
            .iter_mut()
            .find(|o| o.local == local && o.remote == remote)
        {
            return bump(&mut o.snd_max);
        }
        false
    }

    /// A SYN for `local` arrived on `ifindex` at `now`. A SYN for a listener
    /// whose accept queue is full is dropped (the peer retries), not reset, as on Linux.
    /// Otherwise it may open a connection in the SYN queue, which is bounded for the whole
    /// stack: when that is full, the SYN is dropped too, or, once it has been full for
    /// [`SYN_FLOOD_US`], it takes the place of the oldest half-open connection
    /// (evicted silently: a real peer behind it gets a reset when its ACK comes).
    /// Ok(true) when it evicted one; Ok(false) for a SYN let through with no eviction
    /// (also when no listener wants it: the engine refuses it).
    pub(crate) fn admit_syn(
        &mut self,
        engine: &mut Engine,
        ifindex: u32,
        local: Endpoint,
        now: u64,
    ) -> Result<bool, DropReason> {
        let mut me = None;
        let mut queued = 0;
        // (listener's slot index, position, SYN time) of the oldest half-open connection.
        let mut oldest: Option<(usize, usize, u64)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            let Some(Sock {
                proto: Proto::Tcp(Tcp::Listen(l)),
                local: at,
                opts,
                ..
            }) = &s.sock
            else {
                continue;
            };
            if at.port == local.port
                && (at.addr.is_any() || at.addr == local.addr)
                && (opts.bound_if == 0 || opts.bound_if == ifindex)
            {
                me = Some(i);
            }
            queued += l.embryos.len();
            // In SYN order: the first half-open one is the listener's oldest.
            let first = l.embryos.iter().position(|e| {
                engine
                    .tcp_info(e.0)
                    .is_some_and(|x| x.state == TcpState::SynReceived)
            });
            if let Some(k) = first {
                let born = l.embryos[k].1;
                if oldest.is_none_or(|o| born < o.2) {
                    oldest = Some((i, k, born));
                }
            }
        }
        let Some(me) = me else { return Ok(false) };
        if self
            .listener_at(me)
            .is_some_and(|l| l.ready.len() > l.backlog)
        {
            return Err(DropReason::ListenOverflow);
        }
        let mut evicted = false;
        if queued < SYN_QUEUE_MAX / 2 {
            self.syn_full_since = None;
        }
        if queued >= SYN_QUEUE_MAX {
            let since = *self.syn_full_since.get_or_insert(now);
            let (i, k, _) = oldest
                .filter(|_| now.saturating_sub(since) >= SYN_FLOOD_US)
                .ok_or(DropReason::SynQueueFull)?;
            let (r, _) = self
                .listener_at(i)
                .map(|l| l.embryos.remove(k))
                .ok_or(DropReason::SynQueueFull)?;
            engine.tcp_abort(r);
            // The evicted socket listens again, for this SYN, or is the listener's spare
            // for its next refill: no memory is allocated or freed while a flood lasts.
            let at = self.slots[me].sock.as_ref().map(|s| s.local);
            match (self.listener_at(me), at) {
                (Some(l), Some(at))
                    if i == me && l.listening.is_none() && engine.tcp_listen(r, at).is_ok() =>
                {
                    l.listening = Some(r)
                }
                (Some(l), _) if i == me && l.spare.is_none() => l.spare = Some(r),
                _ => engine.remove(r),
            }
            evicted = true;
        }
        let listening = self.listener_at(me).is_some_and(|l| {
            l.listening.is_some_and(|r| {
                engine
                    .tcp_info(r)
                    .is_some_and(|i| i.state == TcpState::Listen)
            })
        });
        if !listening {
            return Err(DropReason::ListenOverflow);
        }
        Ok(evicted)
    }

    /// Whether the sockets that have `local` (TCP listeners with `tcp`, else UDP sockets)
    /// are all bound to devices other than `ifindex`: one engine socket serves every
    /// device, so SO_BINDTODEVICE is enforced here.
    pub(crate) fn bound_elsewhere(&self, tcp: bool, local: Endpoint, ifindex: u32) -> bool {
        let mut elsewhere = false;
        for s in self.slots.iter().filter_map(|s| s.sock.as_ref()) {
            let kind = match s.proto {
                Proto::Tcp(Tcp::Listen(_)) => tcp,
                Proto::Udp(_) => !tcp,
                _ => false,
            };
            if !kind
                || s.local.port != local.port
                || !(s.local.addr.is_any() || s.local.addr == local.addr)
            {
                continue;
            }
            match s.opts.bound_if {
                0 => return false,
                b if b == ifindex => return false,
                _ => elsewhere = true,
            }
        }
        elsewhere
    }

    /// The device the socket that sent `packet` is bound to (SO_BINDTODEVICE), or 0.
    pub(crate) fn device_of(&self, packet: &crate::wire::Ipv4Info) -> u32 {
        if self.bound_devices == 0 {
            return 0;
        }
        let (sport, dport, tcp) = match packet.transport {
            crate::wire::Transport::Tcp {
                src_port, dst_port, ..
            } => (src_port, dst_port, true),
            crate::wire::Transport::Udp { src_port, dst_port } => (src_port, dst_port, false),
            _ => return 0,
        };
        let (local, remote) = (
            Endpoint::new(packet.src, sport),
            Endpoint::new(packet.dst, dport),
        );
        let at = |s: &Sock| {
            s.local.port == local.port && (s.local.addr.is_any() || s.local.addr == local.addr)
        };
        let dev = self
            .slots
            .iter()
            .filter_map(|s| s.sock.as_ref())
            .filter(|s| s.opts.bound_if != 0)
            .find(|s| match &s.proto {
                Proto::Tcp(Tcp::Conn(c)) => tcp && c.local == local && c.remote == remote,
                Proto::Tcp(Tcp::Listen(_)) => tcp && at(s),
                Proto::Udp(_) => !tcp && at(s),
                _ => false,
            })
            .map_or(0, |s| s.opts.bound_if);
        // Bound to loopback routes as unbound (see `Stack::route_out`).
        if dev == crate::iface::LOOPBACK_IFINDEX {
            0
        } else {
            dev
        }
    }

    /// Count the sockets bound to a device again (after a SO_BINDTODEVICE).
    pub(crate) fn recount_bound_devices(&mut self) {
        self.bound_devices = self
            .slots
            .iter()
            .filter_map(|s| s.sock.as_ref())
            .filter(|s| s.opts.bound_if != 0)
            .count();
    }

    fn listener_at(&mut self, i: usize) -> Option<&mut Listener> {
        match &mut self.slots.get_mut(i)?.sock.as_mut()?.proto {
            Proto::Tcp(Tcp::Listen(l)) => Some(l),
            _ => None,
        }
    }

    /// Earliest deadline of the socket layer's own timers.
    pub(crate) fn next_deadline(&self, now: u64) -> Option<u64> {
        let fin = self.orphans.iter().map(|o| o.since + FIN_TIMEOUT_US);
        let conn = self
            .slots
            .iter()
            .filter_map(|s| match &s.sock.as_ref()?.proto {
                Proto::Tcp(Tcp::Conn(c)) if c.established => Some(c.keepalive_at),
                Proto::Tcp(Tcp::Conn(c)) => Some(c.heard + NEIGHBOR_TIMEOUT_US),
                _ => None,
            });
        fin.chain(conn)
            .filter(|&t| t > now)
            .chain(self.time_wait.next_deadline())
            .min()
    }
}

impl<P: Platform> Core<P> {
    /// The call changed socket `id`: the stack runs for it when the call returns.
    pub(crate) fn run_for(&mut self, id: SocketId) {
        self.socks.touch(id);
        self.run_asked = true;
    }

    /// `socket(AF_INET, ty, protocol)`.
    pub(crate) fn socket(&mut self, ty: i32, protocol: i32) -> SysResult<SocketId> {
        // A number outside the protocol field's range names no protocol.
        let proto = match (ty, u8::try_from(protocol).ok()) {
            (SOCK_STREAM, Some(IPPROTO_IP | IPPROTO_TCP)) => Proto::Tcp(Tcp::Idle),
            (SOCK_STREAM, _) => return Err(Errno::EPROTONOSUPPORT),
            (SOCK_DGRAM, Some(IPPROTO_IP | IPPROTO_UDP)) => Proto::Udp(Dgram::default()),
            // Linux "ping sockets" are off by default (net.ipv4.ping_group_range = 1 0).
            (SOCK_DGRAM, Some(IPPROTO_ICMP)) => return Err(Errno::EACCES),
            (SOCK_DGRAM, _) => return Err(Errno::EPROTONOSUPPORT),
            // Without the `raw` feature (CONFIG_RINET_RAW=n) the last arm answers.
            #[cfg(feature = "raw")]
            (SOCK_RAW, Some(IPPROTO_ICMP)) => Proto::Raw(Dgram {
                r: None,
                proto: IPPROTO_ICMP,
            }),
            // IPPROTO_RAW sockets never receive (as on Linux); tools such as udhcpc open
            // one only for interface ioctls. Sending on them is not supported.
            (SOCK_RAW, Some(IPPROTO_RAW)) => Proto::Raw(Dgram {
                r: None,
                proto: IPPROTO_RAW,
            }),
            (SOCK_RAW, _) => return Err(Errno::EPROTONOSUPPORT),
            _ => return Err(Errno::ESOCKTNOSUPPORT),
        };
        let bufs = (self.cfg.tcp_rx_buf, self.cfg.tcp_tx_buf);
        let sock = Sock::new(proto, Opts::new(bufs));
        let id = self.socks.insert(sock, self.cfg.max_sockets)?;
        if let Some(Proto::Raw(_)) = self.socks.get(id).map(|s| &s.proto) {
            // A raw socket receives from the start.
            self.refresh_bindings(id);
        }
        let mask = self.current_mask(id);
        if let Some(s) = self.socks.get_mut(id) {
            s.reported = mask;
        }
        Ok(id)
    }

    /// After a call that may have lowered the poll mask without running the stack (a
    /// datagram taken, an error returned): see `forget_fallen`. An error it returned is
    /// no longer pending for the platform either.
    pub(crate) fn seen_by_user(&mut self, id: SocketId) {
        let m = self.current_mask(id);
        self.forget_fallen(id, m);
        self.tell_error(id);
    }

    /// `connect(AF_UNSPEC)` on a datagram socket: forget the peer.
    pub(crate) fn disconnect(&mut self, id: SocketId) -> SysResult<()> {
        let s = self.socks.sock_mut(id)?;
        match s.proto {
            Proto::Tcp(Tcp::Conn(_)) => Err(Errno::EOPNOTSUPP),
            _ => {
                s.remote = None;
                Ok(())
            }
        }
    }

    /// `getsockopt(2)` at the protocol levels: the bytes written to `out`.
    pub(crate) fn getsockopt(
        &mut self,
        id: SocketId,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> SysResult<usize> {
        let s = self.socks.sock(id)?;
        s.opts.get(s.is_tcp(), level, name, out)
    }

    /// After a change of address or port: a datagram socket's engine socket is made anew.
    pub(crate) fn rebind_engine_sockets(&mut self, id: SocketId) {
        if let Some(Proto::Udp(d) | Proto::Raw(d)) = self.socks.get_mut(id).map(|s| &mut s.proto) {
            if let Some(r) = d.r.take() {
                self.engine.remove(r);
            }
        }
        self.refresh_bindings(id);
    }

    /// Create the engine socket a binding needs.
    pub(crate) fn refresh_bindings(&mut self, id: SocketId) {
        let Some(s) = self.socks.get(id) else { return };
        match &s.proto {
            Proto::Tcp(Tcp::Listen(_)) => self.maintain_listener(id),
            Proto::Udp(_) | Proto::Raw(_) => {
                let _ = self.dgram_refresh(id);
            }
            Proto::Tcp(_) => {}
        }
    }

    /// A listener stops: connections nobody accepted are reset, as Linux does. They stay
    /// as orphans until the engine has sent the reset.
    pub(crate) fn reset_unaccepted(&mut self, l: Listener) {
        for r in l.all() {
            self.engine.tcp_abort(r);
            if let Some(i) = self.engine.tcp_info(r) {
                let ends = (i.local.unwrap_or_default(), i.remote.unwrap_or_default());
                let c = Conn::new(r, i.state, ends, self.now, None);
                self.socks.orphan(&c, false, self.now);
            }
        }
    }

    /// `getpeername(2)`.
    pub(crate) fn remote_endpoint(&mut self, id: SocketId) -> SysResult<Endpoint> {
        let s = self.socks.sock(id)?;
        match &s.proto {
            Proto::Tcp(Tcp::Conn(c)) if c.established => Ok(c.remote),
            Proto::Tcp(_) => Err(Errno::ENOTCONN),
            _ => s.remote.ok_or(Errno::ENOTCONN),
        }
    }

    /// Take the pending error (`SO_ERROR`).
    pub(crate) fn take_error(&mut self, id: SocketId) -> SysResult<Option<Errno>> {
        let e = self.socks.sock_mut(id)?.err.take();
        self.seen_by_user(id);
        Ok(e)
    }

    /// Tell the platform when the socket's pending error changed since it last heard.
    pub(crate) fn tell_error(&mut self, id: SocketId) {
        if let Some(s) = self.socks.get_mut(id) {
            if s.err != s.err_told {
                s.err_told = s.err;
                self.platform.error(id, s.err);
            }
        }
    }

    /// The socket's `poll(2)` mask, as Linux's `tcp_poll`/`datagram_poll` compute it.
    pub(crate) fn poll_mask(&mut self, id: SocketId) -> u32 {
        let m = self.current_mask(id);
        self.forget_fallen(id, m);
        m
    }

    /// What the user of socket `id` has seen (a poll, or a recv/send/getsockopt that
    /// lowered the mask) is no longer news: bits that fell since the last report are
    /// dropped from it, so that their next rise wakes the sleepers (see `report`). A bit
    /// that rose and was not yet reported stays unreported: other sleepers still need it.
    pub(crate) fn forget_fallen(&mut self, id: SocketId, mask: u32) {
        if let Some(s) = self.socks.get_mut(id) {
            s.reported &= mask;
        }
    }

    /// The socket's poll mask: readable, writable, error, hang-up.
    pub(crate) fn current_mask(&mut self, id: SocketId) -> u32 {
        let Some(s) = self.socks.get(id) else {
            return POLLNVAL;
        };
        let mut m = if s.err.is_some() { POLLERR } else { 0 };
        let (shut_rd, shut_wr) = (s.shut_rd, s.shut_wr);
        // As Linux's tcp_poll and datagram_poll: a direction shut for receiving reads as
        // end of file (POLLRDHUP), both shut is POLLHUP, and a stream shut for sending
        // stays writable, so that a writer goes on to meet EPIPE.
        const OUT: u32 = POLLOUT | POLLWRNORM;
        const IN: u32 = POLLIN | POLLRDNORM;
        match &s.proto {
            Proto::Tcp(Tcp::Idle) => m |= OUT | POLLHUP,
            // Reset, timed out or closed both ways: both directions are shut.
            Proto::Tcp(Tcp::Done) => m |= IN | POLLRDHUP | OUT | POLLHUP,
            Proto::Tcp(Tcp::Listen(l)) => {
                if !l.ready.is_empty() {
                    m |= IN;
                }
            }
            Proto::Tcp(Tcp::Conn(c)) => {
                let Some(i) = self.engine.tcp_info(c.r) else {
                    return m | IN | POLLRDHUP | OUT | POLLHUP;
                };
                if matches!(i.state, TcpState::SynSent | TcpState::SynReceived) {
                    return m;
                }
                let closed = i.state == TcpState::Closed;
                let rcv_shut = i.fin_received || shut_rd;
                if rcv_shut {
                    m |= IN | POLLRDHUP;
                }
                if i.can_recv {
                    m |= IN;
                }
                if (rcv_shut && shut_wr) || closed {
                    m |= POLLHUP;
                }
                if shut_wr || closed || i.writable {
                    m |= OUT;
                }
            }
            Proto::Udp(d) | Proto::Raw(d) => {
                let udp = matches!(s.proto, Proto::Udp(_));
                let engine = &mut self.engine;
                if shut_rd {
                    m |= IN | POLLRDHUP;
                }
                if d.r.is_some_and(|r| engine.dgram_has_data(r, udp)) {
                    m |= IN;
                }
                m |= OUT | POLLWRBAND;
                if shut_rd && shut_wr {
                    m |= POLLHUP;
                }
            }
        }
        m
    }

    /// A connection closed by its owner and still finishing (FIN-WAIT, LAST-ACK,
    /// TIME-WAIT...): listed like Linux lists them, with no socket (id `u32::MAX`).
    fn orphan_info(&mut self, k: usize) -> Option<SockInfo> {
        let Some(o) = self.socks.orphans.get(k) else {
            let t = self.socks.time_wait.get(k - self.socks.orphans.len())?;
            return Some(SockInfo {
                id: SocketId(u32::MAX),
                proto: IPPROTO_TCP,
                state: TcpState::TimeWait as u8,
                local: t.local,
                remote: t.remote,
                tx_queue: 0,
                rx_queue: 0,
            });
        };
        let (r, local, remote) = (o.r, o.local, o.remote);
        let i = self.engine.tcp_info(r);
        Some(SockInfo {
            id: SocketId(u32::MAX),
            proto: IPPROTO_TCP,
            state: i.map_or(TcpState::Closed as u8, |i| i.state as u8),
            local,
            remote,
            tx_queue: i.map_or(0, |i| i.send_queue as u32),
            rx_queue: i.map_or(0, |i| i.recv_queue as u32),
        })
    }

    /// Bytes readable now (`FIONREAD`/`SIOCINQ`): TCP queue, or the next datagram's size.
    pub(crate) fn bytes_readable(&mut self, id: SocketId) -> SysResult<usize> {
        let engine = &mut self.engine;
        match &self.socks.get(id).ok_or(Errno::EBADF)?.proto {
            Proto::Tcp(Tcp::Listen(_)) => Err(Errno::EINVAL),
            Proto::Tcp(Tcp::Conn(c)) => Ok(engine.tcp_info(c.r).map_or(0, |i| i.recv_queue)),
            Proto::Tcp(_) => Ok(0),
            Proto::Udp(d) => Ok(d.r.map_or(0, |r| engine.udp_pending(r).0)),
            Proto::Raw(d) => Ok(d.r.map_or(0, |r| engine.raw_pending(r))),
        }
    }

    /// Bytes not yet acknowledged by the peer (`SIOCOUTQ`).
    pub(crate) fn bytes_unsent(&mut self, id: SocketId) -> SysResult<usize> {
        let s = self.socks.sock(id)?;
        match &s.proto {
            Proto::Tcp(Tcp::Listen(_)) => Err(Errno::EINVAL),
            Proto::Tcp(Tcp::Conn(c)) => Ok(self.engine.tcp_info(c.r).map_or(0, |i| i.send_queue)),
            _ => Ok(0),
        }
    }

    /// A summary of socket `nth` (in table order) for `/proc/net/{tcp,udp,raw}`.
    pub(crate) fn socket_info(&mut self, nth: usize) -> Option<SockInfo> {
        let Some((id, s)) = self.socks.iter().nth(nth) else {
            return self.orphan_info(nth - self.socks.len());
        };
        let (proto, local_default, remote_default) = (
            match s.proto {
                Proto::Tcp(_) => IPPROTO_TCP,
                Proto::Udp(_) => IPPROTO_UDP,
                Proto::Raw(ref d) => d.proto,
            },
            s.local,
            s.remote.unwrap_or_default(),
        );
        let mut info = SockInfo {
            id,
            proto,
            state: TcpState::Closed as u8,
            local: local_default,
            remote: remote_default,
            tx_queue: 0,
            rx_queue: 0,
        };
        match &s.proto {
            Proto::Tcp(Tcp::Listen(l)) => {
                info.state = TcpState::Listen as u8;
                info.rx_queue = l.ready.len() as u32;
                info.tx_queue = l.backlog as u32;
            }
            Proto::Tcp(Tcp::Conn(c)) => {
                let r = c.r;
                let (local, remote) = (c.local, c.remote);
                if let Some(i) = self.engine.tcp_info(r) {
                    info.state = i.state as u8;
                    info.tx_queue = i.send_queue as u32;
                    info.rx_queue = i.recv_queue as u32;
                }
                info.local = local;
                info.remote = remote;
            }
            Proto::Udp(_) | Proto::Raw(_) => {
                if s.remote.is_some() {
                    info.state = TcpState::Established as u8;
                }
                info.rx_queue = self.bytes_readable(id).unwrap_or(0) as u32;
            }
            Proto::Tcp(_) => {}
        }
        Some(info)
    }

    /// `sendto(2)`/`send(2)`: `to` is ignored on a connected stream, as Linux does.
    pub(crate) fn send(
        &mut self,
        net: &Net,
        id: SocketId,
        data: &[u8],
        to: Option<Endpoint>,
    ) -> SysResult<usize> {
        match self.socks.sock(id)?.proto {
            Proto::Tcp(_) => {
                self.send_stream_with(id, data.len(), &mut crate::engine::copy_from(data))
            }
            Proto::Udp(_) | Proto::Raw(_) => self.send_datagram(net, id, data, to),
        }
    }

    /// `sendto(2)` of one datagram, whole (UDP, raw): EOPNOTSUPP for a stream socket,
    /// whose sends go through [`crate::Stack::send_stream_with`].
    pub(crate) fn send_datagram(
        &mut self,
        net: &Net,
        id: SocketId,
        data: &[u8],
        to: Option<Endpoint>,
    ) -> SysResult<usize> {
        match self.socks.sock(id)?.proto {
            Proto::Tcp(_) => Err(Errno::EOPNOTSUPP),
            Proto::Udp(_) | Proto::Raw(_) => self.dgram_send(net, id, data, to),
        }
    }

    /// `send(2)` on a stream socket of up to `len` bytes that `fill` copies straight into
    /// the send buffer (from a caller's iov in the kernel: no bounce buffer). `fill`
    /// returns how many bytes it wrote; fewer than asked ends the call. EOPNOTSUPP for a
    /// datagram socket.
    pub(crate) fn send_stream_with(
        &mut self,
        id: SocketId,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> SysResult<usize> {
        match self.socks.sock(id)?.proto {
            Proto::Tcp(_) => self.tcp_send_with(id, len, fill),
            Proto::Udp(_) | Proto::Raw(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    /// `recvfrom(2)`/`recv(2)`. `flags` may hold MSG_PEEK.
    pub(crate) fn recv(&mut self, id: SocketId, buf: &mut [u8], flags: u32) -> SysResult<Received> {
        match self.socks.sock(id)?.proto {
            Proto::Tcp(_) => self.tcp_recv(id, buf, flags).map(|n| Received {
                len: n,
                full_len: n,
                from: None,
            }),
            Proto::Udp(_) | Proto::Raw(_) => self.dgram_recv(id, buf, flags),
        }
    }

    /// `connect(2)`. Starts the handshake and returns EINPROGRESS; the result arrives
    /// through the poll mask (POLLOUT, or POLLERR with the error in SO_ERROR), and a
    /// second call returns it (EISCONN once connected).
    pub(crate) fn connect(&mut self, net: &Net, id: SocketId, remote: Endpoint) -> SysResult<()> {
        if self.socks.sock(id)?.is_tcp() {
            self.tcp_connect(net, id, remote)
        } else {
            self.dgram_connect(net, id, remote)
        }
    }

    /// `shutdown(2)`.
    pub(crate) fn shutdown(&mut self, id: SocketId, how: i32) -> SysResult<()> {
        if !(SHUT_RD..=SHUT_RDWR).contains(&how) {
            return Err(Errno::EINVAL);
        }
        let (rd, wr) = (how != SHUT_WR, how != SHUT_RD);
        let s = self.socks.get_mut(id).ok_or(Errno::EBADF)?;
        match &mut s.proto {
            Proto::Tcp(Tcp::Listen(_)) => {
                if rd {
                    // Linux: SHUT_RD on a listener stops listening and wakes accept().
                    let old = core::mem::replace(&mut s.proto, Proto::Tcp(Tcp::Idle));
                    s.shut_rd = true;
                    s.shut_wr |= wr;
                    if let Proto::Tcp(Tcp::Listen(l)) = old {
                        // Reset, not dropped: the peers would wait on them forever.
                        self.reset_unaccepted(l);
                    }
                }
            }
            Proto::Tcp(Tcp::Conn(c)) => {
                let r = c.r;
                if !c.established {
                    self.engine.tcp_abort(r);
                } else if wr && !s.shut_wr {
                    self.engine.tcp_close(r);
                }
                s.shut_rd |= rd;
                s.shut_wr |= wr;
            }
            Proto::Tcp(_) => return Err(Errno::ENOTCONN),
            Proto::Udp(_) | Proto::Raw(_) => {
                if s.remote.is_none() {
                    return Err(Errno::ENOTCONN);
                }
                s.shut_rd |= rd;
                s.shut_wr |= wr;
            }
        }
        self.run_for(id);
        Ok(())
    }

    /// `getsockname(2)`.
    pub(crate) fn local_endpoint(&mut self, net: &Net, id: SocketId) -> SysResult<Endpoint> {
        let s = self.socks.sock(id)?;
        let mut ep = match &s.proto {
            Proto::Tcp(Tcp::Conn(c)) => return Ok(c.local),
            Proto::Tcp(_) => return Ok(s.local),
            // Linux reports the protocol as a raw socket's port.
            Proto::Raw(d) => Endpoint::new(s.local.addr, u16::from(d.proto)),
            Proto::Udp(_) => s.local,
        };
        // A connected datagram socket reports the source its route gives, as Linux (a
        // common way to learn one's own address).
        if let Some(peer) = s.remote.filter(|_| ep.addr.is_any()) {
            let bound_if = s.opts.bound_if;
            ep.addr = net
                .route_out(peer.addr, bound_if)
                .map_or(Ipv4::ANY, |r| r.1);
        }
        Ok(ep)
    }

    /// The socket's SOL_SOCKET settings changed (the kernel glue calls this after every
    /// SOL_SOCKET `setsockopt` the socket core accepted, and for an accepted socket).
    pub(crate) fn set_settings(&mut self, id: SocketId, set: SocketSettings) -> SysResult<()> {
        if self.socks.sock_mut(id)?.opts.set_settings(set) {
            self.socks.recount_bound_devices();
            // A datagram socket's engine socket is made anew; a listener and a connection
            // keep theirs (the device is checked per packet: `bound_elsewhere`,
            // `device_of`).
            self.rebind_engine_sockets(id);
        }
        self.apply_conn_opts(id);
        // A keepalive timer armed here must reach the platform's timer.
        self.run_for(id);
        Ok(())
    }

    /// The settings as the stack holds them.
    pub(crate) fn settings(&self, id: SocketId) -> SysResult<SocketSettings> {
        Ok(self.socks.sock(id)?.opts.settings())
    }

    /// `setsockopt(2)` at the protocol levels (SOL_TCP, SOL_IP).
    pub(crate) fn setsockopt(
        &mut self,
        id: SocketId,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> SysResult<()> {
        let s = self.socks.sock_mut(id)?;
        let is_tcp = s.is_tcp();
        s.opts.set(is_tcp, level, name, val)?;
        self.apply_conn_opts(id);
        self.run_for(id);
        Ok(())
    }

    /// `bind(2)`.
    pub(crate) fn bind(&mut self, net: &Net, id: SocketId, ep: Endpoint) -> SysResult<()> {
        let s = self.socks.sock(id)?;
        if s.bound {
            return Err(Errno::EINVAL);
        }
        let (tcp, reuse) = (s.is_tcp(), s.opts.reuseaddr);
        // As Linux's inet_bind: local, broadcast (limited or of a subnet of ours) or any.
        if !(ep.addr.is_any() || net.is_local_addr(ep.addr) || net.is_broadcast_addr(ep.addr)) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let raw = matches!(s.proto, Proto::Raw(_));
        let port = if ep.port == 0 && !raw {
            self.socks.ephemeral(tcp, ep.addr, reuse)?
        } else {
            ep.port
        };
        let ep = Endpoint::new(ep.addr, if raw { 0 } else { port });
        if !raw && self.socks.bind_conflict(Some(id), tcp, ep, reuse) {
            return Err(Errno::EADDRINUSE);
        }
        let s = self.socks.sock_mut(id)?;
        s.local = ep;
        s.bound = true;
        self.rebind_engine_sockets(id);
        Ok(())
    }

    /// Bind to an ephemeral port on the wildcard address if not bound yet (Linux autobind).
    pub(crate) fn autobind(&mut self, net: &Net, id: SocketId) -> SysResult<()> {
        if self.socks.sock(id)?.bound {
            return Ok(());
        }
        self.bind(net, id, Endpoint::default())
    }

    /// `close(2)` (the last reference went away).
    pub(crate) fn close(&mut self, id: SocketId) -> SysResult<()> {
        let s = self.socks.remove(id).ok_or(Errno::EBADF)?;
        match s.proto {
            Proto::Tcp(Tcp::Conn(c)) => {
                let unread = self.engine.tcp_info(c.r).is_some_and(|i| i.recv_queue > 0);
                let abort = unread || s.opts.linger == Some(0);
                match c.state {
                    TcpState::SynSent | TcpState::SynReceived | TcpState::Closed => {
                        self.engine.tcp_abort(c.r);
                        self.socks.orphan(&c, s.opts.reuseaddr, self.now);
                    }
                    _ if abort => {
                        // Linux resets a connection closed with unread data (RFC 2525).
                        self.engine.tcp_abort(c.r);
                        self.stats.mib.tcp_estab_resets += 1;
                        self.socks.orphan(&c, s.opts.reuseaddr, self.now);
                    }
                    _ => {
                        self.engine.tcp_close(c.r);
                        // Nobody waits on an orphan: its FIN and unacknowledged data are
                        // given up on when the peer stays silent (an idle connection had
                        // the give-up time switched off, and retransmitted its FIN
                        // forever; Linux bounds orphans by tcp_orphan_retries).
                        self.engine.tcp_set_give_up(c.r, true);
                        self.socks.orphan(&c, s.opts.reuseaddr, self.now);
                    }
                }
            }
            Proto::Tcp(Tcp::Listen(l)) => self.reset_unaccepted(l),
            Proto::Udp(d) | Proto::Raw(d) => {
                if let Some(r) = d.r {
                    self.engine.remove(r);
                }
            }
            Proto::Tcp(Tcp::Idle | Tcp::Done) => {}
        }
        self.run_for(id);
        Ok(())
    }

    /// Number of user sockets open.
    pub(crate) fn socket_count(&self) -> usize {
        self.socks.len()
    }

    /// Connections closed by their owner that are still finishing (FIN handshake, TIME-WAIT).
    pub(crate) fn orphan_count(&self) -> usize {
        self.socks.orphans()
    }

    /// Sockets the engine holds, buffers and all: a listener, a connection, a bound UDP
    /// socket, a raw socket or an orphan has one; a connection in TIME-WAIT none.
    pub(crate) fn engine_socket_count(&self) -> usize {
        self.engine.socket_count()
    }

    /// Drop `n` received bytes of a stream after the caller copied them out with MSG_PEEK
    /// (so a fault while copying to user space loses nothing).
    pub(crate) fn consume(&mut self, id: SocketId, n: usize) -> SysResult<usize> {
        let s = self.socks.sock(id)?;
        let Proto::Tcp(Tcp::Conn(c)) = &s.proto else {
            return Err(Errno::EINVAL);
        };
        let r = c.r;
        let info = self.engine.tcp_info(r).ok_or(Errno::ENOTCONN)?;
        let n = self.engine.tcp_consume(r, n);
        self.after_read(id, false, info);
        Ok(n)
    }

    /// Every socket, for `/proc/net/{tcp,udp,raw}`.
    pub(crate) fn sockets(&self) -> impl Iterator<Item = (SocketId, &Sock)> + '_ {
        self.socks.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_generations() {
        let id = SocketId::new(5, 3);
        assert_eq!(id.index(), Some(5));
        assert_eq!(id.gen(), 3);
        assert_eq!(SocketId(0).index(), None);
    }

    #[test]
    fn table_reuses_slots_with_new_generation() {
        let mut t = SocketTable::new(0);
        let mk = || Sock::new(Proto::Tcp(Tcp::Idle), Opts::new((1024, 1024)));
        let a = t.insert(mk(), 4).unwrap();
        t.remove(a).unwrap();
        let b = t.insert(mk(), 4).unwrap();
        assert_ne!(a, b);
        assert!(t.get(a).is_none());
        assert!(t.get(b).is_some());
        for _ in 0..3 {
            t.insert(mk(), 4).unwrap();
        }
        assert_eq!(t.insert(mk(), 4).err(), Some(Errno::ENOBUFS));
    }

    #[test]
    fn runs_skip_only_established_connections_nothing_touched() {
        let mut engine = Engine::new(1500, 1, 0);
        let mut t = SocketTable::new(0);
        let opts = Opts::new((1024, 1024));
        let mut conn = |hop| {
            let r = engine.tcp_new(1024, 1024).unwrap();
            let c = Conn::new(r, TcpState::Established, Default::default(), 0, hop);
            Sock::new(Proto::Tcp(Tcp::Conn(c)), opts)
        };
        let accepted = t.insert(conn(None), 8).unwrap();
        let connecting = t
            .insert(conn(Some((2, Ipv4::new(10, 0, 0, 1)))), 8)
            .unwrap();
        let udp = t
            .insert(Sock::new(Proto::Udp(Dgram::default()), opts), 8)
            .unwrap();
        let all = [accepted, connecting, udp];
        // A new table's first run, and a new connection, are looked at.
        assert!(all.iter().all(|&id| t.needs_visit(id)));
        t.walk_all = false;
        assert!(t.needs_visit(accepted));
        // Once reported, the established connection drops out until touched.
        for id in all {
            t.settled(id);
        }
        assert!(!t.needs_visit(accepted));
        assert!(t.needs_visit(connecting) && t.needs_visit(udp));
        // With `park`, nor is its slot listed for a run once the report is done; without,
        // a run looks at every slot.
        let listed = |t: &SocketTable| -> Vec<SocketId> {
            (0..t.visit_count()).filter_map(|n| t.visit_at(n)).collect()
        };
        let listing = |expected: &[SocketId]| -> Vec<SocketId> {
            if cfg!(feature = "park") {
                expected.to_vec()
            } else {
                all.to_vec()
            }
        };
        assert_eq!(listed(&t), all);
        t.prune_visits();
        assert_eq!(listed(&t), listing(&[connecting, udp]));
        t.touch(accepted);
        assert!(t.needs_visit(accepted));
        t.touch(accepted);
        assert_eq!(
            listed(&t),
            listing(&[connecting, udp, accepted]),
            "listed once"
        );
        t.settled(accepted);
        t.prune_visits();
        // A segment from its peer touches it too.
        let none = Endpoint::default();
        assert_eq!(t.note_heard((none, none), false, 5), None);
        assert!(t.needs_visit(accepted));
        assert_eq!(listed(&t), listing(&[connecting, udp, accepted]));
        t.settled(accepted);
        t.walk_all = true;
        assert!(t.needs_visit(accepted));
    }
}
