//! TCP user requests: listen/accept with a real backlog, connect (always non-blocking at
//! this layer), send/recv, shutdown, and the bookkeeping that turns engine state changes
//! into Linux-visible results (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH).

use super::Core;
use super::{Conn, Listener, Proto, Sock, SocketId, Tcp, MSG_PEEK};
use crate::addr::{Endpoint, Ipv4};
use crate::engine::{ERef, TcpInfo, TcpState};
use crate::errno::{Errno, SysResult};
use crate::iface::Net;
use crate::neigh::NEIGHBOR_TIMEOUT_US;
use crate::platform::Platform;

/// Largest accepted backlog (Linux `somaxconn`).
pub const SOMAXCONN: i32 = 4096;

fn secs(s: u32) -> u64 {
    u64::from(s) * 1_000_000
}

fn tcp_of(s: &mut Sock) -> SysResult<&mut Tcp> {
    match &mut s.proto {
        Proto::Tcp(t) => Ok(t),
        _ => Err(Errno::EOPNOTSUPP),
    }
}

impl<P: Platform> Core<P> {
    /// Push options that affect a live connection into the engine.
    pub(crate) fn apply_conn_opts(&mut self, id: SocketId) {
        let now = self.now;
        if let Some(s) = self.socks.get_mut(id) {
            if let Proto::Tcp(Tcp::Conn(c)) = &mut s.proto {
                let o = s.opts;
                self.engine.tcp_set_nodelay(c.r, o.nodelay);
                if !o.keepalive {
                    if core::mem::take(&mut c.probing) {
                        self.engine.tcp_set_keepalive(c.r, None);
                    }
                    c.keepalive_at = 0;
                } else if c.keepalive_at == 0 {
                    // As Linux: the timer starts when SO_KEEPALIVE comes on. (The engine's
                    // own keepalive would probe at once: smoltcp's `set_keep_alive`.)
                    c.keepalive_at = now + secs(o.keepidle);
                }
            }
        }
    }

    /// Move connections along a listener's pipeline and keep an engine socket listening
    /// while the accept queue has room.
    pub(crate) fn maintain_listener(&mut self, id: SocketId) {
        let Some(s) = self.socks.get(id) else { return };
        let (local, opts) = (s.local, s.opts);
        let Some(Proto::Tcp(Tcp::Listen(l))) = self.socks.get_mut(id).map(|s| &mut s.proto) else {
            return;
        };
        let engine = &mut self.engine;
        let mut passive = 0;
        // A listening socket that got a SYN joins the SYN queue.
        if let Some(r) = l.listening {
            match engine.tcp_info(r).map(|x| x.state) {
                Some(TcpState::Listen) => {}
                Some(TcpState::Closed) | None => {
                    engine.remove(r);
                    l.listening = None;
                }
                Some(_) => {
                    l.embryos.push((r, self.now));
                    l.listening = None;
                }
            }
        }
        // Connections that completed the handshake move to the accept queue, in order,
        // while it has room (Linux queues up to backlog + 1).
        let mut i = 0;
        while i < l.embryos.len() {
            let r = l.embryos[i].0;
            match engine.tcp_info(r).map(|x| x.state) {
                Some(TcpState::SynReceived) => i += 1,
                // Listen: a reset sent it back there (smoltcp).
                Some(TcpState::Closed | TcpState::Listen) | None => {
                    engine.remove(r);
                    l.embryos.remove(i);
                }
                Some(_) if l.ready.len() <= l.backlog => {
                    l.ready.push(l.embryos.remove(i).0);
                    passive += 1;
                }
                Some(_) => i += 1,
            }
        }
        // Refill, from the spare an eviction left if there is one.
        if l.listening.is_none() && l.ready.len() <= l.backlog {
            let (rx, tx) = opts.tcp_buffers();
            if let Ok(r) = l.spare.take().map_or_else(|| engine.tcp_new(rx, tx), Ok) {
                if engine.tcp_listen(r, local).is_ok() {
                    engine.tcp_set_nodelay(r, opts.nodelay);
                    l.listening = Some(r);
                } else {
                    engine.remove(r);
                }
            }
        }
        // A spare nothing needed goes before the engine would send its reset.
        if let Some(r) = l.spare.take() {
            engine.remove(r);
        }
        self.stats.mib.tcp_passive_opens += passive;
    }

    /// The connection of `id` failed with `err`: its engine socket goes, the socket is
    /// left with the error pending.
    pub(crate) fn end_conn(
        &mut self,
        id: SocketId,
        r: ERef,
        established: bool,
        err: Option<Errno>,
    ) {
        if !established {
            self.stats.mib.tcp_attempt_fails += 1;
        }
        self.engine.remove(r);
        self.socks.kick = true;
        if let Some(s) = self.socks.get_mut(id) {
            s.proto = Proto::Tcp(Tcp::Done);
            s.err = err;
        }
    }

    /// `listen(2)`. Calling it again on a listening socket changes the backlog.
    pub(crate) fn listen(&mut self, net: &Net, id: SocketId, backlog: i32) -> SysResult<()> {
        let backlog = backlog.clamp(0, SOMAXCONN) as usize;
        match tcp_of(self.socks.sock_mut(id)?)? {
            Tcp::Listen(l) => {
                l.backlog = backlog;
                self.maintain_listener(id);
                return Ok(());
            }
            Tcp::Idle => {}
            Tcp::Conn(_) | Tcp::Done => return Err(Errno::EINVAL),
        }
        self.autobind(net, id)?;
        let local = self.socks.sock(id)?.local;
        let taken = self.socks.iter().any(|(other, s)| {
            other != id
                && matches!(s.proto, Proto::Tcp(Tcp::Listen(_)))
                && s.local.port == local.port
                && (s.local.addr.is_any() || local.addr.is_any() || s.local.addr == local.addr)
        });
        if taken {
            return Err(Errno::EADDRINUSE);
        }
        self.socks.sock_mut(id)?.proto = Proto::Tcp(Tcp::Listen(Listener {
            backlog,
            ..Listener::default()
        }));
        self.maintain_listener(id);
        self.run_for(id);
        Ok(())
    }

    /// `accept(2)`: the oldest established connection, or EAGAIN.
    pub(crate) fn accept(&mut self, id: SocketId) -> SysResult<(SocketId, Endpoint)> {
        if self.socks.is_full(self.cfg.max_sockets) {
            // As Linux when no file can be had: fail, and leave the connection queued.
            return Err(Errno::ENOBUFS);
        }
        let s = self.socks.sock_mut(id)?;
        let opts = s.opts;
        let r = match tcp_of(s)? {
            Tcp::Listen(l) if !l.ready.is_empty() => l.ready.remove(0),
            Tcp::Listen(_) => return Err(Errno::EAGAIN),
            _ => return Err(Errno::EINVAL),
        };
        let info = self.engine.tcp_info(r).ok_or(Errno::ECONNABORTED)?;
        let (local, remote) = (
            info.local.unwrap_or_default(),
            info.remote.unwrap_or_default(),
        );
        let conn = Conn::new(r, info.state, (local, remote), self.now, None);
        let sock = Sock {
            local,
            bound: true,
            remote: Some(remote),
            ..Sock::new(Proto::Tcp(Tcp::Conn(conn)), opts)
        };
        // Cannot fail: there was room above and nothing ran since.
        let new = self.socks.insert(sock, self.cfg.max_sockets)?;
        self.apply_conn_opts(new);
        self.maintain_listener(id);
        self.run_for(id);
        Ok((new, remote))
    }

    /// TCP's `connect`: starts the handshake and returns EINPROGRESS (see
    /// [`crate::Stack::connect`]).
    pub(crate) fn tcp_connect(
        &mut self,
        net: &Net,
        id: SocketId,
        remote: Endpoint,
    ) -> SysResult<()> {
        let s = self.socks.sock_mut(id)?;
        match tcp_of(s)? {
            Tcp::Listen(_) => return Err(Errno::EISCONN),
            Tcp::Conn(c) if c.established => return Err(Errno::EISCONN),
            Tcp::Conn(_) => return Err(Errno::EALREADY),
            Tcp::Done => {
                // The previous attempt failed: report that first, as BSD does.
                if let Some(e) = s.err.take() {
                    self.seen_by_user(id);
                    return Err(e);
                }
                s.bound = s.bound && !s.local.addr.is_any();
            }
            Tcp::Idle => {}
        }
        // Linux: connecting to INADDR_ANY means the local host.
        let remote = if remote.addr.is_any() {
            Endpoint::new(Ipv4::LOCALHOST, remote.port)
        } else {
            remote
        };
        if remote.addr.is_broadcast() || remote.addr.is_multicast() {
            return Err(Errno::ENETUNREACH);
        }
        if remote.port == 0 {
            return Err(Errno::ECONNREFUSED);
        }
        let (out_if, src, hop) = net.route_out(remote.addr, self.socks.sock(id)?.opts.bound_if)?;
        let s = self.socks.sock(id)?;
        let src = if s.bound && !s.local.addr.is_any() {
            s.local.addr
        } else {
            src
        };
        net.check_source_if(src, out_if)?;
        let (reuse, bound, port) = (s.opts.reuseaddr, s.bound, s.local.port);
        let (rx, tx) = s.opts.tcp_buffers();
        let port = if bound {
            port
        } else {
            self.socks.ephemeral(true, src, reuse)?
        };
        let r = self.engine.tcp_new(rx, tx)?;
        let local = Endpoint::new(src, port);
        if let Err(e) = self.engine.tcp_connect(r, local, remote) {
            self.engine.remove(r);
            return Err(e);
        }
        let now = self.now;
        let s = self.socks.sock_mut(id)?;
        s.local = Endpoint::new(if s.bound { s.local.addr } else { Ipv4::ANY }, port);
        s.bound = true;
        s.remote = Some(remote);
        s.proto = Proto::Tcp(Tcp::Conn(Conn::new(
            r,
            TcpState::SynSent,
            (local, remote),
            now,
            Some((out_if, hop)),
        )));
        self.stats.mib.tcp_active_opens += 1;
        self.apply_conn_opts(id);
        self.run_for(id);
        // Even when it completed within the call (loopback), as Linux answers: the next
        // connect() tells the outcome.
        Err(Errno::EINPROGRESS)
    }

    /// TCP send of up to `len` bytes that `fill` copies straight into the send ring (see
    /// `Engine::tcp_send_with`): EAGAIN when the ring had no room, or `fill` gave none.
    pub(crate) fn tcp_send_with(
        &mut self,
        id: SocketId,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> SysResult<usize> {
        let s = self.socks.sock_mut(id)?;
        if let Some(e) = s.err.take() {
            return Err(e);
        }
        if s.shut_wr {
            return Err(Errno::EPIPE);
        }
        let r = match tcp_of(s)? {
            Tcp::Conn(c) if !c.established => return Err(Errno::EAGAIN),
            Tcp::Conn(c) => c.r,
            // Linux answers EPIPE on an unconnected or listening stream socket.
            _ => return Err(Errno::EPIPE),
        };
        let info = self.engine.tcp_info(r).ok_or(Errno::EPIPE)?;
        if !info.may_send {
            return Err(Errno::EPIPE);
        }
        if len == 0 {
            return Ok(0);
        }
        let n = self.engine.tcp_send_with(r, len, fill)?;
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        self.run_for(id);
        Ok(n)
    }

    /// TCP receive: 0 at end of stream, EAGAIN when nothing is there yet.
    pub(crate) fn tcp_recv(
        &mut self,
        id: SocketId,
        buf: &mut [u8],
        flags: u32,
    ) -> SysResult<usize> {
        let s = self.socks.sock_mut(id)?;
        let shut_rd = s.shut_rd;
        let r = match tcp_of(s)? {
            Tcp::Conn(c) if c.established => c.r,
            Tcp::Conn(_) => return Err(Errno::EAGAIN),
            Tcp::Done => {
                return match s.err.take() {
                    Some(e) => Err(e),
                    None => Ok(0),
                }
            }
            _ => return Err(Errno::ENOTCONN),
        };
        let info = self.engine.tcp_info(r).ok_or(Errno::ENOTCONN)?;
        if info.can_recv && !buf.is_empty() {
            let peek = flags & MSG_PEEK != 0;
            let n = self.engine.tcp_recv(r, buf, peek)?;
            self.after_read(id, peek, info);
            return Ok(n);
        }
        if let Some(e) = self.socks.sock_mut(id)?.err.take() {
            return Err(e);
        }
        // After SHUT_RD, what was queued (or arrives) is still read, as on Linux; an empty
        // queue then reads as end of stream.
        if !info.may_recv || buf.is_empty() || shut_rd {
            return Ok(0);
        }
        Err(Errno::EAGAIN)
    }

    /// A read took data from `id`'s receive queue (`info`: as it was before). If the
    /// window may have doubled since the peer last heard of it, the stack runs to tell
    /// it now (smoltcp announces a window once it doubled): that is when the queue held
    /// at least half the buffer. From a queue below half, the window last announced was
    /// at least a quarter of the buffer (every read from a fuller queue ran the stack,
    /// and the last one announced more than half, or the window had not halved), so the
    /// peer is not held up, and the update rides on the next segment; a run per read of
    /// a small request would cost a walk of the engine's sockets for nothing. The
    /// socket's mask is brought up to date as a run's report would.
    pub(crate) fn after_read(&mut self, id: SocketId, peek: bool, info: TcpInfo) {
        if !peek && info.recv_queue * 2 >= info.recv_capacity {
            self.run_for(id);
        } else {
            self.socks.touch(id);
            self.poll_mask(id);
        }
    }

    /// Follow a connection's engine state; turn its end into the errno Linux reports.
    pub(crate) fn maintain_conn(&mut self, net: &Net, id: SocketId) {
        let now = self.now;
        let Some(s) = self.socks.get_mut(id) else {
            return;
        };
        let Proto::Tcp(Tcp::Conn(c)) = &mut s.proto else {
            return;
        };
        let r: ERef = c.r;
        let info = self.engine.tcp_info(r);
        let state = info.map_or(TcpState::Closed, |i| i.state);
        let prev = c.state;
        c.state = state;
        if !c.established
            && !matches!(
                state,
                TcpState::SynSent | TcpState::SynReceived | TcpState::Closed
            )
        {
            c.established = true;
            if let Some(l) = info.and_then(|i| i.local) {
                c.local = l;
            }
        }
        let (mut probe, mut keepalive_reset) = (false, false);
        if let Some(i) = info {
            // Nothing outstanding: nothing can time out, as on Linux (a silent peer is
            // keepalive's to find).
            let give_up = !(matches!(i.state, TcpState::Established | TcpState::CloseWait)
                && i.send_queue == 0);
            if give_up != c.give_up {
                c.give_up = give_up;
                self.engine.tcp_set_give_up(r, give_up);
            }
            // SO_KEEPALIVE's timer ran out, as Linux's `tcp_keepalive_timer`: once the peer
            // has been silent for TCP_KEEPIDLE with nothing outstanding (data is the
            // retransmission timer's to watch), the engine probes at once and every
            // TCP_KEEPINTVL after, until a segment from the peer ends that (`note_heard`);
            // TCP_KEEPCNT intervals without one reset the connection.
            let o = &s.opts;
            if c.established && c.keepalive_at != 0 && now >= c.keepalive_at {
                if c.probing {
                    keepalive_reset = true;
                } else if i.send_queue > 0 || now < c.heard + secs(o.keepidle) {
                    let from = if i.send_queue > 0 { now } else { c.heard };
                    c.keepalive_at = from + secs(o.keepidle);
                } else {
                    (c.probing, probe) = (true, true);
                    c.keepalive_at = now + secs(o.keepcnt * o.keepintvl);
                    self.engine.tcp_set_keepalive(r, Some(o.keepintvl));
                }
            }
        }
        let (established, saw_rst, heard, hop) = (c.established, c.saw_rst, c.heard, c.hop);
        self.socks.kick |= probe;
        let err;
        if state == TcpState::SynSent
            && now.saturating_sub(heard) >= NEIGHBOR_TIMEOUT_US
            && !net.has_neighbor(hop.0, hop.1)
        {
            // The next hop never answered ARP: fail like Linux, without clogging others.
            self.engine.tcp_abort(r);
            err = Some(Errno::EHOSTUNREACH);
        } else if state == TcpState::Closed {
            err = if !established {
                Some(if saw_rst {
                    Errno::ECONNREFUSED
                } else {
                    Errno::ETIMEDOUT
                })
            } else if saw_rst {
                self.stats.mib.tcp_estab_resets += 1;
                Some(if prev == TcpState::CloseWait {
                    Errno::EPIPE
                } else {
                    Errno::ECONNRESET
                })
            } else if matches!(
                prev,
                TcpState::TimeWait | TcpState::LastAck | TcpState::Closing
            ) {
                None
            } else {
                Some(Errno::ETIMEDOUT)
            };
            if err.is_none() {
                self.engine.remove(r);
                if let Some(s) = self.socks.get_mut(id) {
                    s.proto = Proto::Tcp(Tcp::Done);
                }
                return;
            }
        } else if keepalive_reset {
            self.engine.tcp_abort(r);
            err = Some(Errno::ETIMEDOUT);
        } else {
            return;
        }
        self.end_conn(id, r, established, err);
    }
}

#[cfg(test)]
mod tests {
    //! Each errno here is the one Linux gives for the same call in the same state, as
    //! the host's own stack answered it (socket calls on loopback from Python).
    use super::*;
    use crate::socket::{SHUT_RDWR, SHUT_WR, SOCK_STREAM};
    use crate::stack::Stack;
    use crate::testing::*;

    fn tcp(st: &mut Stack<TestHost>) -> SocketId {
        st.socket(SOCK_STREAM, 0).unwrap()
    }

    /// A connection from the stack to its own address: (client, accepted).
    fn connected(st: &mut Stack<TestHost>) -> (SocketId, SocketId) {
        let l = tcp(st);
        st.bind(l, Endpoint::new(US, 80)).unwrap();
        st.listen(l, 4).unwrap();
        let c = tcp(st);
        let to = Endpoint::new(US, 80);
        assert_eq!(st.connect(c, to), Err(Errno::EINPROGRESS));
        advance(st, 1000);
        let (a, from) = st.accept(l).unwrap();
        assert_eq!(Some(from), st.local_endpoint(c).ok());
        assert_eq!(st.connect(c, to), Err(Errno::EISCONN));
        (c, a)
    }

    #[test]
    fn calls_before_a_connection_answer_as_linux() {
        let mut st = stack();
        let s = tcp(&mut st);
        let mut buf = [0u8; 4];
        assert_eq!(st.accept(s).err(), Some(Errno::EINVAL));
        assert_eq!(st.shutdown(s, SHUT_RDWR), Err(Errno::ENOTCONN));
        assert_eq!(st.send(s, b"x", None), Err(Errno::EPIPE));
        assert_eq!(st.recv(s, &mut buf, 0).err(), Some(Errno::ENOTCONN));
        assert_eq!(st.remote_endpoint(s), Err(Errno::ENOTCONN));
        assert_eq!(st.local_endpoint(s), Ok(Endpoint::default()));
        // listen() binds an unbound socket to an ephemeral port; again, it changes the
        // backlog.
        st.listen(s, 1).unwrap();
        let port = st.local_endpoint(s).unwrap().port;
        assert_ne!(port, 0);
        st.listen(s, 8).unwrap();
        assert_eq!(st.accept(s).err(), Some(Errno::EAGAIN));
        assert_eq!(st.connect(s, Endpoint::new(PEER, 80)), Err(Errno::EISCONN));
        for how in [3, -1] {
            assert_eq!(st.shutdown(s, how), Err(Errno::EINVAL));
        }
        let b = tcp(&mut st);
        st.bind(b, Endpoint::new(US, 0)).unwrap();
        assert_eq!(st.bind(b, Endpoint::new(US, 0)), Err(Errno::EINVAL));
        let d = tcp(&mut st);
        assert_eq!(st.bind(d, Endpoint::new(US, port)), Err(Errno::EADDRINUSE));
        assert_eq!(
            st.connect(d, Endpoint::new(US, 0)),
            Err(Errno::ECONNREFUSED)
        );
        // Nothing of this went on the wire.
        assert!(take_sent(&mut st).is_empty());
    }

    #[test]
    fn a_second_connect_tells_how_the_first_went() {
        let mut st = stack();
        let c = tcp(&mut st);
        let to = Endpoint::new(PEER, 80);
        assert_eq!(st.connect(c, to), Err(Errno::EINPROGRESS));
        assert_eq!(st.connect(c, to), Err(Errno::EALREADY));
        let sent = take_sent(&mut st);
        let (flags, seq, _) = sent.iter().find_map(|f| tcp_fields(f)).expect("a SYN");
        assert_eq!(flags, 0x02);
        let port = st.local_endpoint(c).unwrap().port;
        let refusal = tcp_frame((PEER, 80), (US, port), 0, seq.wrapping_add(1), 0x14, &[]);
        st.receive(IF, &refusal);
        assert_eq!(st.connect(c, to), Err(Errno::ECONNREFUSED));
        assert_eq!(st.stats().mib.tcp_attempt_fails, 1);
        // The error is told once; the socket may connect again.
        assert_eq!(st.connect(c, to), Err(Errno::EINPROGRESS));
    }

    #[test]
    fn shutting_writing_ends_the_peers_stream_and_not_its_replies() {
        let mut st = stack();
        let (c, a) = connected(&mut st);
        let mut buf = [0u8; 8];
        assert_eq!(st.send(c, b"ping", None), Ok(4));
        st.shutdown(c, SHUT_WR).unwrap();
        advance(&mut st, 1000);
        assert_eq!(st.recv(a, &mut buf, 0).unwrap().len, 4);
        assert_eq!(&buf[..4], b"ping");
        // End of stream, as often as it is asked.
        for _ in 0..2 {
            assert_eq!(st.recv(a, &mut buf, 0).unwrap().len, 0);
        }
        assert_eq!(st.send(c, b"more", None), Err(Errno::EPIPE));
        // The other direction still carries data.
        assert_eq!(st.send(a, b"pong", None), Ok(4));
        advance(&mut st, 1000);
        assert_eq!(st.recv(c, &mut buf, 0).unwrap().len, 4);
        assert_eq!(&buf[..4], b"pong");
    }
}
