//! Socket options: `setsockopt(2)`/`getsockopt(2)` with Linux's levels, names, value
//! layouts and errors. Values arrive as the bytes user space passed (already copied into
//! the kernel); a short buffer is EINVAL, an unknown option ENOPROTOOPT.

use core::ffi::c_long;

use super::{Proto, Tcp, IPPROTO_TCP, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM};
use crate::errno::{Errno, SysResult};
use crate::stack::{Config, Platform, Stack};
use crate::SocketId;

pub const SOL_SOCKET: i32 = 1;
pub const SOL_IP: i32 = 0;
pub const SOL_TCP: i32 = IPPROTO_TCP;

pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_BROADCAST: i32 = 6;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_LINGER: i32 = 13;
pub const SO_RCVTIMEO_OLD: i32 = 20;
pub const SO_SNDTIMEO_OLD: i32 = 21;
pub const SO_ACCEPTCONN: i32 = 30;
pub const SO_PROTOCOL: i32 = 38;
/// The glue turns SO_BINDTODEVICE (a name) into this (an ifindex), as Linux itself has.
pub const SO_BINDTOIFINDEX: i32 = 62;
pub const SO_DOMAIN: i32 = 39;
pub const SO_RCVTIMEO_NEW: i32 = 66;
pub const SO_SNDTIMEO_NEW: i32 = 67;

pub const TCP_NODELAY: i32 = 1;
pub const TCP_MAXSEG: i32 = 2;
pub const TCP_KEEPIDLE: i32 = 4;
pub const TCP_KEEPINTVL: i32 = 5;
pub const TCP_KEEPCNT: i32 = 6;

pub const IP_TOS: i32 = 1;
pub const IP_TTL: i32 = 2;

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
    /// Microseconds; 0 means wait forever. Kept here for the glue, which does the waiting.
    pub rcvtimeo_us: u64,
    pub sndtimeo_us: u64,
    pub keepidle: u32,
    pub keepintvl: u32,
    pub keepcnt: u32,
    pub ttl: u8,
    pub tos: u8,
    /// SO_BINDTOIFINDEX: the only interface the socket sends and receives on (0: any).
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
            rcvtimeo_us: 0,
            sndtimeo_us: 0,
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

/// Parse a timeval: `{c_long sec; c_long usec}` (old) or `{i64; i64}` (new layout).
fn timeval(v: &[u8], wide: bool) -> SysResult<u64> {
    let w = if wide {
        8
    } else {
        core::mem::size_of::<c_long>()
    };
    let field = |at: usize| -> SysResult<i64> {
        let b = v.get(at..at + w).ok_or(Errno::EINVAL)?;
        let mut a = [0u8; 8];
        a[..w].copy_from_slice(b);
        // Sign-extend a 4-byte long.
        Ok(if w == 4 {
            i64::from(i32::from_ne_bytes([a[0], a[1], a[2], a[3]]))
        } else {
            i64::from_ne_bytes(a)
        })
    };
    let (sec, usec) = (field(0)?, field(w)?);
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM_COMPAT);
    }
    // Linux: a negative time means "no timeout" (treated as zero).
    if sec < 0 {
        return Ok(0);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000)
        .saturating_add(usec as u64))
}

fn write_timeval(out: &mut [u8], us: u64, wide: bool) -> usize {
    let (sec, usec) = ((us / 1_000_000) as i64, (us % 1_000_000) as i64);
    if wide || core::mem::size_of::<c_long>() == 8 {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&sec.to_ne_bytes());
        b[8..].copy_from_slice(&usec.to_ne_bytes());
        put(out, &b)
    } else {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(sec as i32).to_ne_bytes());
        b[4..].copy_from_slice(&(usec as i32).to_ne_bytes());
        put(out, &b)
    }
}

impl Errno {
    /// Linux returns EDOM for a timeval with usec out of range.
    pub const EDOM_COMPAT: Errno = Errno(33);
}

impl<P: Platform> Stack<P> {
    pub fn setsockopt(&mut self, id: SocketId, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
        let s = self.sock_mut(id)?;
        let is_tcp = s.is_tcp();
        let o = &mut s.opts;
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => o.reuseaddr = int(val)? != 0,
            (SOL_SOCKET, SO_KEEPALIVE) => o.keepalive = int(val)? != 0,
            (SOL_SOCKET, SO_BROADCAST) => o.broadcast = int(val)? != 0,
            (SOL_SOCKET, SO_RCVBUF) => {
                o.rcvbuf = (int(val)?.max(0) as u32)
                    .saturating_mul(2)
                    .clamp(BUF_MIN, BUF_MAX)
            }
            (SOL_SOCKET, SO_SNDBUF) => {
                o.sndbuf = (int(val)?.max(0) as u32)
                    .saturating_mul(2)
                    .clamp(BUF_MIN, BUF_MAX)
            }
            (SOL_SOCKET, SO_LINGER) => {
                let on = int(val)?;
                let secs = int(val.get(4..).ok_or(Errno::EINVAL)?)?;
                o.linger = (on != 0).then_some(secs.max(0) as u32);
            }
            (SOL_SOCKET, SO_RCVTIMEO_OLD) => o.rcvtimeo_us = timeval(val, false)?,
            (SOL_SOCKET, SO_SNDTIMEO_OLD) => o.sndtimeo_us = timeval(val, false)?,
            (SOL_SOCKET, SO_RCVTIMEO_NEW) => o.rcvtimeo_us = timeval(val, true)?,
            (SOL_SOCKET, SO_SNDTIMEO_NEW) => o.sndtimeo_us = timeval(val, true)?,
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
            (SOL_SOCKET, SO_BINDTOIFINDEX) => {
                let v = int(val)?;
                if v < 0 {
                    return Err(Errno::EINVAL);
                }
                let v = v as u32;
                if v != 0 && self.netif(v).is_none() {
                    return Err(Errno::ENODEV);
                }
                self.bind_to_interface(id, v)?;
                return Ok(());
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        self.apply_conn_opts(id);
        Ok(())
    }

    /// SO_BINDTOIFINDEX: keep the socket's engine sockets only on that interface (a
    /// listener or a bound datagram socket moves at once; a connection keeps its path).
    fn bind_to_interface(&mut self, id: SocketId, ifindex: u32) -> SysResult<()> {
        self.sock_mut(id)?.opts.bound_if = ifindex;
        self.rebind_engine_sockets(id);
        Ok(())
    }

    /// Returns the number of bytes written to `out` (the option's natural size, truncated
    /// to `out` as Linux does).
    pub fn getsockopt(
        &mut self,
        id: SocketId,
        level: i32,
        name: i32,
        out: &mut [u8],
    ) -> SysResult<usize> {
        let s = self.sock_mut(id)?;
        let o = s.opts;
        let b = |v: bool| i32::from(v);
        let v: i32 = match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => b(o.reuseaddr),
            (SOL_SOCKET, SO_KEEPALIVE) => b(o.keepalive),
            (SOL_SOCKET, SO_BROADCAST) => b(o.broadcast),
            (SOL_SOCKET, SO_RCVBUF) => o.rcvbuf as i32,
            (SOL_SOCKET, SO_SNDBUF) => o.sndbuf as i32,
            (SOL_SOCKET, SO_ERROR) => {
                let e = s.err.take().map_or(0, |e| e.0);
                self.seen_by_user(id);
                e
            }
            (SOL_SOCKET, SO_TYPE) => match s.proto {
                Proto::Tcp(_) => SOCK_STREAM,
                Proto::Udp(_) => SOCK_DGRAM,
                Proto::Raw(_) => SOCK_RAW,
            },
            (SOL_SOCKET, SO_PROTOCOL) => match &s.proto {
                Proto::Tcp(_) => 6,
                Proto::Udp(_) => 17,
                Proto::Raw(d) => i32::from(d.proto),
            },
            (SOL_SOCKET, SO_DOMAIN) => 2,
            (SOL_SOCKET, SO_ACCEPTCONN) => b(matches!(s.proto, Proto::Tcp(Tcp::Listen(_)))),
            (SOL_SOCKET, SO_LINGER) => {
                let mut l = [0u8; 8];
                l[..4].copy_from_slice(&b(o.linger.is_some()).to_ne_bytes());
                l[4..].copy_from_slice(&(o.linger.unwrap_or(0) as i32).to_ne_bytes());
                return Ok(put(out, &l));
            }
            (SOL_SOCKET, SO_RCVTIMEO_OLD) => return Ok(write_timeval(out, o.rcvtimeo_us, false)),
            (SOL_SOCKET, SO_SNDTIMEO_OLD) => return Ok(write_timeval(out, o.sndtimeo_us, false)),
            (SOL_SOCKET, SO_RCVTIMEO_NEW) => return Ok(write_timeval(out, o.rcvtimeo_us, true)),
            (SOL_SOCKET, SO_SNDTIMEO_NEW) => return Ok(write_timeval(out, o.sndtimeo_us, true)),
            (SOL_TCP, TCP_NODELAY) if s.is_tcp() => b(o.nodelay),
            (SOL_TCP, TCP_KEEPIDLE) if s.is_tcp() => o.keepidle as i32,
            (SOL_TCP, TCP_KEEPINTVL) if s.is_tcp() => o.keepintvl as i32,
            (SOL_TCP, TCP_KEEPCNT) if s.is_tcp() => o.keepcnt as i32,
            (SOL_TCP, TCP_MAXSEG) if s.is_tcp() => 1460,
            (SOL_IP, IP_TTL) => i32::from(o.ttl),
            (SOL_IP, IP_TOS) => i32::from(o.tos),
            (SOL_SOCKET, SO_BINDTOIFINDEX) => o.bound_if as i32,
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(put(out, &v.to_ne_bytes()))
    }

    /// Receive and send timeouts (microseconds, 0 = none) for the glue's waits.
    pub fn timeouts(&self, id: SocketId) -> SysResult<(u64, u64)> {
        let o = self.sock(id)?.opts;
        Ok((o.rcvtimeo_us, o.sndtimeo_us))
    }

    /// Does `MSG_NOSIGNAL`-less `send` on this socket deserve SIGPIPE? (TCP only.)
    pub fn is_stream(&self, id: SocketId) -> bool {
        self.socks.get(id).is_some_and(|s| s.is_tcp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeval_layouts() {
        let mut b = [0u8; 16];
        let n = write_timeval(&mut b, 2_500_000, true);
        assert_eq!(n, 16);
        assert_eq!(timeval(&b, true), Ok(2_500_000));
        let mut bad = [0u8; 16];
        bad[8..].copy_from_slice(&2_000_000i64.to_ne_bytes());
        assert_eq!(timeval(&bad, true), Err(Errno::EDOM_COMPAT));
        assert_eq!(timeval(&b[..4], true), Err(Errno::EINVAL));
    }

    #[test]
    fn int_needs_four_bytes() {
        assert_eq!(int(&[1, 0]), Err(Errno::EINVAL));
        assert_eq!(int(&1i32.to_ne_bytes()), Ok(1));
    }
}
