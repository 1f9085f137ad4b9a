//! Socket options. Two kinds, as in Linux:
//! - SOL_SOCKET options belong to the socket core: in the kernel, net/core parses them,
//!   keeps them in `struct sock` and answers `getsockopt` for them itself (SO_ERROR from
//!   `sk_err`, which the glue keeps in step with the stack: see `Platform::error`). The
//!   stack only acts on the few that change what the protocol does, handed to it whole
//!   as [`SocketSettings`] after every change.
//! - SOL_TCP and SOL_IP options are the protocol's own: `setsockopt(2)`/`getsockopt(2)`
//!   with Linux's names, value layouts and errors. Values arrive as the bytes user space
//!   passed (already copied into the kernel); a short buffer is EINVAL, an unknown option
//!   ENOPROTOOPT.

use crate::errno::{Errno, SysResult};
use crate::stack::{Config, Platform, Stack};
use crate::wire::IPPROTO_TCP;
use crate::SocketId;

pub const SOL_SOCKET: i32 = 1;
pub const SOL_IP: i32 = 0;
pub const SOL_TCP: i32 = IPPROTO_TCP as i32;

pub const TCP_NODELAY: i32 = 1;
pub const TCP_MAXSEG: i32 = 2;
pub const TCP_KEEPIDLE: i32 = 4;
pub const TCP_KEEPINTVL: i32 = 5;
pub const TCP_KEEPCNT: i32 = 6;

pub const IP_TOS: i32 = 1;
pub const IP_TTL: i32 = 2;

/// The SOL_SOCKET options the protocol acts on, as the socket core holds them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketSettings {
    /// SO_REUSEADDR.
    pub reuseaddr: bool,
    /// SO_KEEPALIVE.
    pub keepalive: bool,
    /// SO_BROADCAST.
    pub broadcast: bool,
    /// SO_LINGER: `Some(seconds)` when on.
    pub linger: Option<u32>,
    /// SO_RCVBUF and SO_SNDBUF as `struct sock` holds them: twice the usable size
    /// (0 keeps the current size).
    pub rcvbuf: u32,
    pub sndbuf: u32,
    /// SO_BINDTODEVICE: the only interface the socket sends and receives on (0: any).
    pub bound_if: u32,
}

/// Smallest and largest buffer sizes accepted (Linux doubles what the user asks for).
const BUF_MIN: u32 = 2048;
const BUF_MAX: u32 = 1 << 20;

#[derive(Clone, Copy, Debug)]
pub struct Opts {
    pub reuseaddr: bool,
    pub keepalive: bool,
    pub nodelay: bool,
    pub broadcast: bool,
    /// As `getsockopt` reports it: twice the usable buffer.
    pub rcvbuf: u32,
    pub sndbuf: u32,
    /// `Some(seconds)` when SO_LINGER is on.
    pub linger: Option<u32>,
    pub keepidle: u32,
    pub keepintvl: u32,
    pub keepcnt: u32,
    pub ttl: u8,
    pub tos: u8,
    /// SO_BINDTODEVICE: the only interface the socket sends and receives on (0: any).
    pub bound_if: u32,
}

impl Opts {
    pub fn new(cfg: &Config) -> Opts {
        Opts {
            reuseaddr: false,
            keepalive: false,
            nodelay: false,
            broadcast: false,
            rcvbuf: (cfg.tcp_rx_buf as u32).saturating_mul(2),
            sndbuf: (cfg.tcp_tx_buf as u32).saturating_mul(2),
            linger: None,
            keepidle: 7200,
            keepintvl: 75,
            keepcnt: 9,
            bound_if: 0,
            ttl: 64,
            tos: 0,
        }
    }

    /// Engine buffer sizes for a new TCP connection.
    pub fn tcp_buffers(&self) -> (usize, usize) {
        (
            (self.rcvbuf / 2).max(1024) as usize,
            (self.sndbuf / 2).max(1024) as usize,
        )
    }
}

fn int(v: &[u8]) -> SysResult<i32> {
    let b: [u8; 4] = v
        .get(..4)
        .ok_or(Errno::EINVAL)?
        .try_into()
        .map_err(|_| Errno::EINVAL)?;
    Ok(i32::from_ne_bytes(b))
}

fn put(out: &mut [u8], bytes: &[u8]) -> usize {
    let n = bytes.len().min(out.len());
    out[..n].copy_from_slice(&bytes[..n]);
    n
}

impl<P: Platform> Stack<P> {
    /// The socket's SOL_SOCKET settings changed (the kernel glue calls this after every
    /// SOL_SOCKET `setsockopt` the socket core accepted, and for an accepted socket).
    pub fn set_settings(&mut self, id: SocketId, set: SocketSettings) -> SysResult<()> {
        let o = &mut self.sock_mut(id)?.opts;
        let rebind = o.bound_if != set.bound_if;
        o.reuseaddr = set.reuseaddr;
        o.keepalive = set.keepalive;
        o.broadcast = set.broadcast;
        o.linger = set.linger;
        for (have, want) in [(&mut o.rcvbuf, set.rcvbuf), (&mut o.sndbuf, set.sndbuf)] {
            if want != 0 {
                *have = want.clamp(BUF_MIN, BUF_MAX);
            }
        }
        o.bound_if = set.bound_if;
        if rebind {
            // A listener or a bound datagram socket moves at once; a connection keeps
            // its path.
            self.rebind_engine_sockets(id);
        }
        self.apply_conn_opts(id);
        Ok(())
    }

    /// The settings as the stack holds them.
    pub fn settings(&self, id: SocketId) -> SysResult<SocketSettings> {
        let o = self.sock(id)?.opts;
        Ok(SocketSettings {
            reuseaddr: o.reuseaddr,
            keepalive: o.keepalive,
            broadcast: o.broadcast,
            linger: o.linger,
            rcvbuf: o.rcvbuf,
            sndbuf: o.sndbuf,
            bound_if: o.bound_if,
        })
    }

    /// `setsockopt(2)` at the protocol levels (SOL_TCP, SOL_IP).
    pub fn setsockopt(&mut self, id: SocketId, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
        let s = self.sock_mut(id)?;
        let is_tcp = s.is_tcp();
        let o = &mut s.opts;
        match (level, name) {
            (SOL_TCP, TCP_NODELAY) if is_tcp => o.nodelay = int(val)? != 0,
            (SOL_TCP, TCP_KEEPIDLE | TCP_KEEPINTVL | TCP_KEEPCNT) if is_tcp => {
                let v = int(val)?;
                let max = if name == TCP_KEEPCNT { 127 } else { 32767 };
                if !(1..=max).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                match name {
                    TCP_KEEPIDLE => o.keepidle = v as u32,
                    TCP_KEEPINTVL => o.keepintvl = v as u32,
                    _ => o.keepcnt = v as u32,
                }
            }
            (SOL_TCP, TCP_MAXSEG) if is_tcp => {
                let v = int(val)?;
                if v != 0 && !(88..=65535).contains(&v) {
                    return Err(Errno::EINVAL);
                }
            }
            (SOL_IP, IP_TTL) => {
                let v = int(val)?;
                o.ttl = match v {
                    -1 => 64,
                    1..=255 => v as u8,
                    _ => return Err(Errno::EINVAL),
                };
            }
            (SOL_IP, IP_TOS) => o.tos = int(val)? as u8,
            _ => return Err(Errno::ENOPROTOOPT),
        }
        self.apply_conn_opts(id);
        Ok(())
    }

    /// `getsockopt(2)` at the protocol levels. Returns the number of bytes written to
    /// `out` (the option's natural size, truncated to `out` as Linux does).
    pub fn getsockopt(
        &mut self,
        id: SocketId,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> SysResult<usize> {
        let s = self.sock(id)?;
        let (o, tcp) = (s.opts, s.is_tcp());
        let v: i32 = match (level, name) {
            (SOL_TCP, TCP_NODELAY) if tcp => i32::from(o.nodelay),
            (SOL_TCP, TCP_KEEPIDLE) if tcp => o.keepidle as i32,
            (SOL_TCP, TCP_KEEPINTVL) if tcp => o.keepintvl as i32,
            (SOL_TCP, TCP_KEEPCNT) if tcp => o.keepcnt as i32,
            (SOL_TCP, TCP_MAXSEG) if tcp => 1460,
            (SOL_IP, IP_TTL) => i32::from(o.ttl),
            (SOL_IP, IP_TOS) => i32::from(o.tos),
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(put(out, &v.to_ne_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_needs_four_bytes() {
        assert_eq!(int(&[1, 0]), Err(Errno::EINVAL));
        assert_eq!(int(&1i32.to_ne_bytes()), Ok(1));
    }
}
