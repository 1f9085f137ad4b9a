//! Datagram user requests (UDP and raw ICMP): one protocol's code for both, as their
//! socket semantics are the same (one datagram per call, a peer by connect or per send).

use super::Core;
use super::{Proto, SocketId, IPPROTO_RAW, MSG_PEEK};
use crate::addr::{Endpoint, Ipv4};
use crate::engine::ERef;
use crate::errno::{Errno, SysResult};
use crate::iface::Net;
use crate::platform::Platform;
use crate::wire;

/// Largest UDP payload over IPv4.
pub const UDP_MAX_PAYLOAD: usize = 65507;

/// What `recv` returns: bytes copied, the datagram's full length (for MSG_TRUNC), and
/// the sender (datagram sockets only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    pub full_len: usize,
    pub from: Option<Endpoint>,
}

/// Linux's rule for a datagram sent or connected to 0.0.0.0: it means this host, the
/// socket's own address if it is bound to one, else 127.0.0.1 (ip_route_output). Never a
/// packet to 0.0.0.0 on a wire.
fn any_means_this_host(dst: Endpoint, bound: Ipv4) -> Endpoint {
    if !dst.addr.is_any() {
        dst
    } else if bound.is_any() || bound.is_broadcast() || bound.is_multicast() {
        Endpoint::new(Ipv4::LOCALHOST, dst.port)
    } else {
        Endpoint::new(bound, dst.port)
    }
}

impl<P: Platform> Core<P> {
    /// Make sure a bound UDP socket, or a raw one, has its engine socket.
    pub(crate) fn dgram_refresh(&mut self, id: SocketId) -> SysResult<()> {
        let s = self.socks.sock(id)?;
        let (local, bound) = (s.local, s.bound);
        let (udp, proto) = match &s.proto {
            Proto::Udp(d) | Proto::Raw(d) if d.r.is_some() => return Ok(()),
            Proto::Udp(_) => (true, 0),
            Proto::Raw(d) if d.proto != IPPROTO_RAW => (false, d.proto),
            _ => return Ok(()),
        };
        if udp && !bound {
            return Ok(());
        }
        let c = &self.cfg;
        let r = if udp {
            self.engine.udp_new(c.udp_buf, c.udp_packets, local)?
        } else {
            self.engine.raw_new(proto, c.raw_buf, c.raw_packets)?
        };
        if let Proto::Udp(d) | Proto::Raw(d) = &mut self.socks.sock_mut(id)?.proto {
            d.r = Some(r);
        }
        Ok(())
    }

    fn dgram_ref(&self, id: SocketId) -> SysResult<ERef> {
        match &self.socks.sock(id)?.proto {
            Proto::Udp(d) | Proto::Raw(d) => d.r.ok_or(Errno::ENETUNREACH),
            Proto::Tcp(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    pub(crate) fn dgram_recv(
        &mut self,
        id: SocketId,
        buf: &mut [u8],
        flags: u32,
    ) -> SysResult<Received> {
        let s = self.socks.sock_mut(id)?;
        let remote = s.remote;
        let udp = match &s.proto {
            Proto::Udp(_) => true,
            Proto::Raw(_) => false,
            Proto::Tcp(_) => return Err(Errno::EOPNOTSUPP),
        };
        let peek = flags & MSG_PEEK != 0;
        if let Ok(r) = self.dgram_ref(id) {
            // Bounded: at most the queue's worth of datagrams from strangers is skipped.
            for _ in 0..1024 {
                let got = if udp {
                    self.engine
                        .udp_recv(r, buf, peek)
                        .map(|(n, full, from, _)| (n, full, from))
                } else {
                    self.engine.raw_recv(r, buf, peek).map(|(n, full)| {
                        let src = buf
                            .get(12..16)
                            .and_then(|b| b.try_into().ok())
                            .map(crate::Ipv4);
                        (n, full, Endpoint::new(src.unwrap_or_default(), 0))
                    })
                };
                let Some((n, full, from)) = got else { break };
                // A connected socket only hears its peer (Linux filters the same way).
                if let Some(peer) = remote {
                    let matches = from.addr == peer.addr && (!udp || from.port == peer.port);
                    if !matches {
                        if peek {
                            let _ = if udp {
                                self.engine.udp_recv(r, &mut [], false).map(|_| ())
                            } else {
                                self.engine.raw_recv(r, &mut [], false).map(|_| ())
                            };
                        }
                        continue;
                    }
                }
                // Linux counts a datagram in when it is read.
                if udp && !peek {
                    self.stats.mib.udp_in_datagrams += 1;
                }
                return Ok(Received {
                    len: n,
                    full_len: full,
                    from: Some(from),
                });
            }
        }
        let s = self.socks.sock_mut(id)?;
        match s.err.take() {
            Some(e) => Err(e),
            // Queued datagrams are still read after SHUT_RD; then it reads as end of file.
            None if s.shut_rd => Ok(Received {
                len: 0,
                full_len: 0,
                from: None,
            }),
            None => Err(Errno::EAGAIN),
        }
    }

    pub(crate) fn dgram_connect(
        &mut self,
        net: &Net,
        id: SocketId,
        remote: Endpoint,
    ) -> SysResult<()> {
        let remote = any_means_this_host(remote, self.socks.sock(id)?.local.addr);
        net.route_out(remote.addr, self.socks.sock(id)?.opts.bound_if)?;
        if matches!(self.socks.sock(id)?.proto, Proto::Udp(_)) {
            self.autobind(net, id)?;
        }
        self.socks.sock_mut(id)?.remote = Some(remote);
        Ok(())
    }

    pub(crate) fn dgram_send(
        &mut self,
        net: &Net,
        id: SocketId,
        data: &[u8],
        to: Option<Endpoint>,
    ) -> SysResult<usize> {
        let s = self.socks.sock_mut(id)?;
        if let Some(e) = s.err.take() {
            return Err(e);
        }
        if s.shut_wr {
            return Err(Errno::EPIPE);
        }
        let udp = matches!(s.proto, Proto::Udp(_));
        if matches!(s.proto, Proto::Raw(ref d) if d.proto == IPPROTO_RAW) {
            return Err(Errno::EOPNOTSUPP);
        }
        let dst = to.or(s.remote).ok_or(Errno::EDESTADDRREQ)?;
        let (broadcast_ok, ttl, local, bound_if) =
            (s.opts.broadcast, s.opts.ttl, s.local, s.opts.bound_if);
        let dst = any_means_this_host(dst, local.addr);
        if udp && dst.port == 0 {
            return Err(Errno::EINVAL);
        }
        if net.is_broadcast_addr(dst.addr) && !broadcast_ok {
            return Err(Errno::EACCES);
        }
        let (out_if, src, _) = if dst.addr.is_broadcast() && bound_if == 0 {
            // Limited broadcast leaves through the default route's interface.
            net.route_out(crate::Ipv4::new(0, 0, 0, 1), 0)
                .map_err(|_| Errno::ENETUNREACH)?
        } else {
            net.route_out(dst.addr, bound_if)?
        };
        let src = if local.addr.is_any() || net.is_broadcast_addr(local.addr) {
            src
        } else {
            local.addr
        };
        net.check_source_if(src, out_if)?;
        // No fragmentation: a datagram must fit the interface MTU, and the engine's (the
        // smallest device MTU, loopback's included: see `Stack::sync_mtu`).
        let mtu = net
            .netif(out_if)
            .map_or(1500, |i| i.mtu)
            .min(self.engine.mtu());
        let header = if udp { 28 } else { 20 };
        if data.len() > UDP_MAX_PAYLOAD || data.len() + header > mtu {
            return Err(Errno::EMSGSIZE);
        }
        if udp {
            self.autobind(net, id)?;
        }
        self.dgram_refresh(id)?;
        let r = self.dgram_ref(id)?;
        if udp {
            self.engine.udp_send(r, src, dst, data)?;
        } else {
            let proto = match self.socks.sock(id)?.proto {
                Proto::Raw(ref d) => d.proto,
                _ => wire::IPPROTO_ICMP,
            };
            let hdr = wire::ipv4_header(src, dst.addr, proto, ttl, data.len());
            self.engine.raw_send(r, &[&hdr, data])?;
        }
        self.run_for(id);
        Ok(data.len())
    }
}

#[cfg(test)]
mod tests {
    //! Each errno here is the one Linux gives for the same call in the same state, as
    //! the host's own stack answered it (socket calls on loopback from Python).
    use super::*;
    use crate::socket::{MSG_PEEK, MSG_TRUNC, SHUT_RD, SOCK_DGRAM};
    use crate::stack::Stack;
    use crate::testing::*;

    fn udp(st: &mut Stack<TestHost>) -> SocketId {
        st.socket(SOCK_DGRAM, 0).unwrap()
    }

    #[test]
    fn calls_without_a_peer_answer_as_linux() {
        let mut st = stack();
        let u = udp(&mut st);
        let mut buf = [0u8; 4];
        assert_eq!(st.send(u, b"x", None), Err(Errno::EDESTADDRREQ));
        assert_eq!(st.recv(u, &mut buf, 0).err(), Some(Errno::EAGAIN));
        assert_eq!(st.listen(u, 1), Err(Errno::EOPNOTSUPP));
        assert_eq!(st.accept(u).err(), Some(Errno::EOPNOTSUPP));
        assert_eq!(st.shutdown(u, SHUT_RD), Err(Errno::ENOTCONN));
        assert_eq!(
            st.send(u, b"x", Some(Endpoint::new(PEER, 0))),
            Err(Errno::EINVAL)
        );
        let big = alloc::vec![0u8; 65_508];
        assert_eq!(
            st.send(u, &big, Some(Endpoint::new(PEER, 9))),
            Err(Errno::EMSGSIZE)
        );
        assert!(take_sent(&mut st).is_empty());
    }

    #[test]
    fn a_datagram_is_cut_to_the_buffer_and_the_rest_is_gone() {
        let mut st = stack();
        let (r, w) = (udp(&mut st), udp(&mut st));
        let at = Endpoint::new(US, 7);
        st.bind(r, at).unwrap();
        assert_eq!(st.send(w, b"abcdef", Some(at)), Ok(6));
        assert_eq!(st.send(w, b"gh", Some(at)), Ok(2));
        advance(&mut st, 1000);
        // The sender's address is the one its datagram left from, not its wildcard bind.
        let from = Endpoint::new(US, st.local_endpoint(w).unwrap().port);
        let mut buf = [0u8; 2];
        // A peek leaves the datagram where it is.
        let got = st.recv(r, &mut buf, MSG_PEEK).unwrap();
        assert_eq!((got.len, got.full_len), (2, 6));
        // MSG_TRUNC: the datagram's whole length, as Linux returns it.
        let got = st.recv(r, &mut buf, MSG_TRUNC).unwrap();
        assert_eq!((got.len, got.full_len, got.from), (2, 6, Some(from)));
        assert_eq!(&buf, b"ab");
        let got = st.recv(r, &mut buf, 0).unwrap();
        assert_eq!((got.len, &buf), (2, b"gh"));
        assert_eq!(st.recv(r, &mut buf, 0).err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn disconnect_forgets_the_peer() {
        let mut st = stack();
        let u = udp(&mut st);
        let peer = Endpoint::new(PEER, 9);
        st.connect(u, peer).unwrap();
        assert_eq!(st.remote_endpoint(u), Ok(peer));
        assert_eq!(st.send(u, b"x", None), Ok(1));
        st.disconnect(u).unwrap();
        assert_eq!(st.remote_endpoint(u), Err(Errno::ENOTCONN));
        assert_eq!(st.send(u, b"x", None), Err(Errno::EDESTADDRREQ));
        // The bound port stays.
        assert_ne!(st.local_endpoint(u).unwrap().port, 0);
    }
}
