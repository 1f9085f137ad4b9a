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
use crate::wire::IPPROTO_TCP;

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
    /// Linux's defaults, with the stack's TCP buffer sizes (receive, send) in bytes.
    pub fn new((tcp_rx_buf, tcp_tx_buf): (usize, usize)) -> Opts {
        Opts {
            reuseaddr: false,
            keepalive: false,
            nodelay: false,
            broadcast: false,
            rcvbuf: (tcp_rx_buf as u32).saturating_mul(2),
            sndbuf: (tcp_tx_buf as u32).saturating_mul(2),
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

impl Opts {
    /// Take the socket core's SOL_SOCKET settings. Returns whether the socket moved to
    /// another interface (SO_BINDTODEVICE).
    pub(crate) fn set_settings(&mut self, set: SocketSettings) -> bool {
        let rebind = self.bound_if != set.bound_if;
        self.reuseaddr = set.reuseaddr;
        self.keepalive = set.keepalive;
        self.broadcast = set.broadcast;
        self.linger = set.linger;
        for (have, want) in [
            (&mut self.rcvbuf, set.rcvbuf),
            (&mut self.sndbuf, set.sndbuf),
        ] {
            if want != 0 {
                *have = want.clamp(BUF_MIN, BUF_MAX);
            }
        }
        self.bound_if = set.bound_if;
        rebind
    }

    /// The SOL_SOCKET settings as the stack holds them.
    pub(crate) fn settings(&self) -> SocketSettings {
        SocketSettings {
            reuseaddr: self.reuseaddr,
            keepalive: self.keepalive,
            broadcast: self.broadcast,
            linger: self.linger,
            rcvbuf: self.rcvbuf,
            sndbuf: self.sndbuf,
            bound_if: self.bound_if,
        }
    }

    /// `setsockopt(2)` at the protocol levels (SOL_TCP, SOL_IP) on a TCP socket or not.
    pub(crate) fn set(&mut self, is_tcp: bool, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
        match (level, name) {
            (SOL_TCP, TCP_NODELAY) if is_tcp => self.nodelay = int(val)? != 0,
            (SOL_TCP, TCP_KEEPIDLE | TCP_KEEPINTVL | TCP_KEEPCNT) if is_tcp => {
                let v = int(val)?;
                let max = if name == TCP_KEEPCNT { 127 } else { 32767 };
                if !(1..=max).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                match name {
                    TCP_KEEPIDLE => self.keepidle = v as u32,
                    TCP_KEEPINTVL => self.keepintvl = v as u32,
                    _ => self.keepcnt = v as u32,
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
                self.ttl = match v {
                    -1 => 64,
                    1..=255 => v as u8,
                    _ => return Err(Errno::EINVAL),
                };
            }
            (SOL_IP, IP_TOS) => self.tos = int(val)? as u8,
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// `getsockopt(2)` at the protocol levels. Returns the number of bytes written to
    /// `out` (the option's natural size, truncated to `out` as Linux does).
    pub(crate) fn get(
        &self,
        is_tcp: bool,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> SysResult<usize> {
        let v: i32 = match (level, name) {
            (SOL_TCP, TCP_NODELAY) if is_tcp => i32::from(self.nodelay),
            (SOL_TCP, TCP_KEEPIDLE) if is_tcp => self.keepidle as i32,
            (SOL_TCP, TCP_KEEPINTVL) if is_tcp => self.keepintvl as i32,
            (SOL_TCP, TCP_KEEPCNT) if is_tcp => self.keepcnt as i32,
            (SOL_TCP, TCP_MAXSEG) if is_tcp => 1460,
            (SOL_IP, IP_TTL) => i32::from(self.ttl),
            (SOL_IP, IP_TOS) => i32::from(self.tos),
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
