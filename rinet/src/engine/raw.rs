//! Raw IPv4 sockets (protocol ICMP) in the engine, with the `raw` feature. Without it
//! smoltcp's raw sockets are not built, and the socket layer never asks for one: it
//! refuses SOCK_RAW with IPPROTO_ICMP (EPROTONOSUPPORT), so the calls below only say
//! there is nothing.

use super::{ERef, Engine};
use crate::errno::{Errno, SysResult};

#[cfg(feature = "raw")]
use {
    super::zeroed,
    alloc::vec,
    smoltcp::socket::{raw, AnySocket},
    smoltcp::wire::{IpProtocol, IpVersion},
};

#[cfg(feature = "raw")]
impl Engine {
    pub fn raw_new(&mut self, proto: u8, bytes: usize, packets: usize) -> SysResult<ERef> {
        let rx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; packets], zeroed(bytes)?);
        let tx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; packets], zeroed(bytes)?);
        let s = raw::Socket::new(Some(IpVersion::Ipv4), Some(IpProtocol::from(proto)), rx, tx);
        self.add(s)
    }

    fn raw(&mut self, r: ERef) -> Option<&mut raw::Socket<'static>> {
        raw::Socket::downcast_mut(self.sock(r)?)
    }

    /// Send a whole IPv4 packet (header included).
    pub fn raw_send(&mut self, r: ERef, packet: &[&[u8]]) -> SysResult<()> {
        let s = self.raw(r).ok_or(Errno::ENETUNREACH)?;
        let len = packet.iter().map(|p| p.len()).sum();
        if len > s.payload_send_capacity() {
            return Err(Errno::EMSGSIZE);
        }
        let out = s.send(len).map_err(|_| Errno::EAGAIN)?;
        let mut at = 0;
        for p in packet {
            out[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        Ok(())
    }

    /// Receive one IPv4 packet (header included): (copied, full length).
    pub fn raw_recv(&mut self, r: ERef, buf: &mut [u8], peek: bool) -> Option<(usize, usize)> {
        let s = self.raw(r)?;
        let data = s.peek().ok()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        let full = data.len();
        if !peek {
            let _ = s.recv();
        }
        Some((n, full))
    }

    pub fn raw_pending(&mut self, r: ERef) -> usize {
        self.raw(r)
            .and_then(|s| s.peek().ok().map(<[u8]>::len))
            .unwrap_or(0)
    }
}

#[cfg(not(feature = "raw"))]
impl Engine {
    pub fn raw_new(&mut self, _: u8, _: usize, _: usize) -> SysResult<ERef> {
        Err(Errno::EPROTONOSUPPORT)
    }

    pub fn raw_send(&mut self, _: ERef, _: &[&[u8]]) -> SysResult<()> {
        Err(Errno::ENETUNREACH)
    }

    pub fn raw_recv(&mut self, _: ERef, _: &mut [u8], _: bool) -> Option<(usize, usize)> {
        None
    }

    pub fn raw_pending(&mut self, _: ERef) -> usize {
        0
    }
}
