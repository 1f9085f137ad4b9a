//! The smoltcp `Device` rinet hands the engine during one poll: received frames wait in a
//! queue (the classifier already accepted them); transmitted frames go straight to a sink
//! the stack provides, or, on loopback, back into the receive queue.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Bounded so that a flood cannot grow memory without limit.
pub const RX_QUEUE_MAX: usize = 256;
const POOL_MAX: usize = 16;

/// Frame storage kept across polls: the receive queue and a pool of spare buffers.
#[derive(Default)]
pub struct Queues {
    pub rx: VecDeque<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    scratch: Vec<u8>,
}

impl Queues {
    pub fn buffer(&mut self) -> Vec<u8> {
        let mut v = self.pool.pop().unwrap_or_default();
        v.clear();
        v
    }

    pub fn recycle(&mut self, v: Vec<u8>) {
        if self.pool.len() < POOL_MAX {
            self.pool.push(v);
        }
    }

    /// Queue a received frame; false when the queue is full (the frame is dropped).
    pub fn push_rx(&mut self, frame: &[u8]) -> bool {
        if self.rx.len() >= RX_QUEUE_MAX {
            return false;
        }
        let mut v = self.buffer();
        if v.try_reserve(frame.len()).is_err() {
            return false;
        }
        v.extend_from_slice(frame);
        self.rx.push_back(v);
        true
    }
}

pub struct Port<'a> {
    pub q: &'a mut Queues,
    pub medium: Medium,
    pub mtu: usize,
    pub loopback: bool,
    pub sink: &'a mut dyn FnMut(&[u8]),
}

impl phy::Device for Port<'_> {
    type RxToken<'b>
        = RxTok
    where
        Self: 'b;
    type TxToken<'b>
        = TxTok<'b>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(RxTok, TxTok<'_>)> {
        let buf = self.q.rx.pop_front()?;
        Some((
            RxTok(buf),
            TxTok {
                q: self.q,
                loopback: self.loopback,
                sink: self.sink,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxTok<'_>> {
        if self.loopback && self.q.rx.len() >= RX_QUEUE_MAX {
            return None;
        }
        Some(TxTok {
            q: self.q,
            loopback: self.loopback,
            sink: self.sink,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = self.medium;
        caps.max_transmission_unit = self.mtu;
        caps.max_burst_size = None;
        let mut sums = ChecksumCapabilities::default();
        if self.loopback {
            sums = ChecksumCapabilities::ignored();
        } else {
            // The classifier (wire.rs) verified every received checksum already.
            sums.ipv4 = Checksum::Tx;
            sums.udp = Checksum::Tx;
            sums.tcp = Checksum::Tx;
            sums.icmpv4 = Checksum::Tx;
        }
        caps.checksum = sums;
        caps
    }
}

/// A received frame, handed back to the pool by the engine after processing.
pub struct RxTok(pub Vec<u8>);

impl phy::RxToken for RxTok {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

pub struct TxTok<'a> {
    q: &'a mut Queues,
    loopback: bool,
    sink: &'a mut dyn FnMut(&[u8]),
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if self.loopback {
            let mut v = self.q.buffer();
            v.resize(len, 0);
            let r = f(&mut v);
            (self.sink)(&v);
            self.q.rx.push_back(v);
            r
        } else {
            let buf = &mut self.q.scratch;
            buf.resize(len, 0);
            let r = f(&mut buf[..len]);
            (self.sink)(&buf[..len]);
            r
        }
    }
}
