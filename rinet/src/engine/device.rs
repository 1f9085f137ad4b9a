//! The smoltcp `Device` rinet hands the engine during one poll. Packets are IP packets
//! (`Medium::Ip`): the stack strips and adds link headers. A received packet is borrowed
//! for one call, from the device's frame or from the loopback queue the stack keeps here;
//! transmitted packets are built behind [`HEADROOM`] spare bytes in one scratch buffer and
//! handed to a sink the stack provides, which may ask for them to be looped back.
//!
//! With the `offload` feature, smoltcp leaves TCP checksums to the stack and, when the
//! platform can have segments cut (`Queues::offload`), may emit a TCP segment of up to
//! [`OFFLOAD_MAX`] bytes; the sink then learns the segment size to cut it into (see
//! `crate::offload`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Bounded so that loopback traffic cannot grow memory without limit.
pub const RX_QUEUE_MAX: usize = 256;
const POOL_MAX: usize = 16;
/// Bytes in front of each transmitted packet for the sink to write a link header into
/// (Ethernet's), so that a frame is built in place, without a copy.
pub const HEADROOM: usize = 14;
/// The largest TCP/IPv4 packet the engine builds for segmentation offload: under the
/// 64 KiB Linux's `gso_max_size` allows by default, and small enough that a kernel frame
/// lent for it (see `Platform::lend_frame`), with its headroom and the skb's shared info
/// (320 B on x86_64), fits one 64 KiB block of pages rather than a 128 KiB one.
#[cfg(feature = "offload")]
pub const OFFLOAD_MAX: usize = 64 * 1024 - 1024;

/// Where the engine's packets go (the stack's egress).
pub trait PacketSink {
    /// Send the packet in `buf`, behind [`HEADROOM`] bytes the sink may fill, with the
    /// segment size to cut a larger TCP segment into (0: the packet goes as it is); true
    /// to have it delivered back to the engine. `buf` lies in `lent` when that holds a
    /// frame: the sink takes it only when it hands the frame to a device, and then leaves
    /// `buf` alone and returns false (the caller reads `buf` again only for a true).
    fn packet(&mut self, buf: &mut [u8], mss: u16, lent: &mut Option<Lent>) -> bool;
    /// A frame of `len` bytes to build the next packet in, lent by the host.
    fn lend(&mut self, _len: usize) -> Option<Lent> {
        None
    }
    /// Give back a lent frame the sink did not take.
    fn give_back(&mut self, _frame: Lent) {}
}

/// A frame lent by the host: only with offload, where frames are large enough for the
/// copy it saves to count.
#[cfg(feature = "offload")]
pub type Lent = crate::platform::LentFrame;
#[cfg(not(feature = "offload"))]
pub enum Lent {}

/// Tests and the engine's own set-up send through closures.
impl<F: FnMut(&mut [u8], u16) -> bool> PacketSink for F {
    fn packet(&mut self, buf: &mut [u8], mss: u16, _lent: &mut Option<Lent>) -> bool {
        self(buf, mss)
    }
}

pub type Sink<'a> = dyn PacketSink + 'a;

/// Packets shorter than this are built in the scratch buffer and copied: the copy costs
/// less than a lent frame that loopback or ARP would give back unused.
#[cfg(feature = "offload")]
const LEND_FROM: usize = 1024;

/// Packet storage kept across polls: the loopback queue, a pool of spare buffers and the
/// transmit scratch buffer.
#[derive(Default)]
pub struct Queues {
    pub rx: VecDeque<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    /// The engine builds TCP segments of many MSS for the stack to hand on whole: the
    /// platform's devices can cut them (see `Platform::segments_tcp`).
    #[cfg(feature = "offload")]
    pub offload: bool,
}

impl Queues {
    fn buffer(&mut self) -> Vec<u8> {
        let mut v = self.pool.pop().unwrap_or_default();
        v.clear();
        v
    }

    pub fn recycle(&mut self, v: Vec<u8>) {
        if self.pool.len() < POOL_MAX {
            self.pool.push(v);
        }
    }

    /// Queue a looped-back packet; false when the queue is full (the packet is dropped).
    pub fn push_rx(&mut self, packet: &[u8]) -> bool {
        if self.rx.len() >= RX_QUEUE_MAX {
            return false;
        }
        let mut v = self.buffer();
        if v.try_reserve(packet.len()).is_err() {
            return false;
        }
        v.extend_from_slice(packet);
        self.rx.push_back(v);
        true
    }
}

pub struct Port<'a> {
    pub q: &'a mut Queues,
    pub mtu: usize,
    /// The received packet of this call (see `Engine::ingress`).
    pub current: Option<&'a [u8]>,
    pub sink: &'a mut Sink<'a>,
}

impl<'a> phy::Device for Port<'a> {
    type RxToken<'b>
        = RxTok<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = TxTok<'b>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(RxTok<'_>, TxTok<'_>)> {
        Some((
            RxTok(self.current.take()?),
            TxTok {
                q: self.q,
                sink: self.sink,
                mss: 0,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxTok<'_>> {
        // A packet may be looped back: never more than the queue holds.
        if self.q.rx.len() >= RX_QUEUE_MAX {
            return None;
        }
        Some(TxTok {
            q: self.q,
            sink: self.sink,
            mss: 0,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps.max_burst_size = None;
        // The classifier (wire.rs) verified every received checksum already.
        let mut sums = ChecksumCapabilities::default();
        sums.ipv4 = Checksum::Tx;
        sums.udp = Checksum::Tx;
        sums.tcp = Checksum::Tx;
        sums.icmpv4 = Checksum::Tx;
        // The stack fills TCP checksums in, or has the device do it, as it cuts segments.
        #[cfg(feature = "offload")]
        {
            sums.tcp = Checksum::None;
            if self.q.offload {
                caps.segmentation.tcpv4 = core::num::NonZeroUsize::new(OFFLOAD_MAX);
            }
        }
        caps.checksum = sums;
        caps
    }
}

/// A received packet, borrowed.
pub struct RxTok<'a>(&'a [u8]);

impl phy::RxToken for RxTok<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

pub struct TxTok<'a> {
    q: &'a mut Queues,
    sink: &'a mut Sink<'a>,
    mss: u16,
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        #[cfg(feature = "offload")]
        if let Some(frame) = (len >= LEND_FROM)
            .then(|| self.sink.lend(HEADROOM + len))
            .flatten()
        {
            // SAFETY: the host lent these bytes to the stack alone until the frame goes
            // back; the sink touches `buf` no more once it has taken the frame.
            let buf = unsafe { core::slice::from_raw_parts_mut(frame.data.as_ptr(), frame.len) };
            let mut lent = Some(frame);
            let r = f(&mut buf[HEADROOM..]);
            if self.sink.packet(buf, self.mss, &mut lent) {
                self.q.push_rx(&buf[HEADROOM..]);
            }
            if let Some(frame) = lent {
                self.sink.give_back(frame);
            }
            return r;
        }
        let mut buf = core::mem::take(&mut self.q.scratch);
        buf.resize(HEADROOM + len, 0);
        let r = f(&mut buf[HEADROOM..]);
        if self.sink.packet(&mut buf, self.mss, &mut None) {
            self.q.push_rx(&buf[HEADROOM..]);
        }
        self.q.scratch = buf;
        r
    }

    #[cfg(feature = "offload")]
    fn set_meta(&mut self, meta: phy::PacketMeta) {
        self.mss = meta.segmentation_offload_size.map_or(0, |s| s.get());
    }
}
