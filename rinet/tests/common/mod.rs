//! Two rinet stacks wired back to back in memory, on a simulated clock, with a fault
//! injector on the wire. Time only moves when the test says so, so every test is exact
//! and fast however long the protocol timers are.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use rinet::{Cidr, Config, Endpoint, Errno, Ipv4, Platform, SocketId, Stack};

pub const IF: u32 = 2;
/// A second interface a test may add; its frames are kept, not delivered.
pub const IF2: u32 = 3;

/// Frames sent on interfaces other than `IF`: (ifindex, frame).
pub type OtherFrames = Rc<RefCell<Vec<(u32, Vec<u8>)>>>;
/// Each `Platform::error` call: (socket, pending error).
pub type ErrorLog = Rc<RefCell<Vec<(SocketId, Option<Errno>)>>>;
pub const A_IP: Ipv4 = Ipv4::new(10, 0, 0, 1);
pub const B_IP: Ipv4 = Ipv4::new(10, 0, 0, 2);

#[derive(Clone)]
pub struct SimPlatform {
    clock: Rc<Cell<u64>>,
    out: Rc<RefCell<VecDeque<Vec<u8>>>>,
    pub other: OtherFrames,
    pub timer: Rc<Cell<Option<u64>>>,
    pub wakes: Rc<RefCell<Vec<(SocketId, u32)>>>,
    pub timer_sets: Rc<Cell<u64>>,
    /// Each socket's pending error as `Platform::error` last told it.
    pub errors: ErrorLog,
    /// With `offload`: the device segments and sums TCP (as a NIC with TSO would, through
    /// `rinet::offload::segments`); each frame it was handed: (length, segment size,
    /// TCP payload length).
    pub tso: Rc<Cell<bool>>,
    pub tso_frames: Rc<RefCell<Vec<(usize, u16, usize)>>>,
    /// With `offload`: the host lends frames to build packets in (`lend`, on unless a
    /// test turns it off), as the kernel's glue lends skbs; how many are out now, and how
    /// many went to the device.
    pub lend: Rc<Cell<bool>>,
    pub lent_out: Rc<Cell<i64>>,
    pub lent_sent: Rc<Cell<u64>>,
    seed: u64,
}

impl SimPlatform {
    /// Was socket `id` woken with any of `bits` in its mask?
    pub fn woke(&self, id: SocketId, bits: u32) -> bool {
        self.wakes
            .borrow()
            .iter()
            .any(|&(i, m)| i == id && m & bits != 0)
    }

    /// The pending error of `id` as the platform was last told.
    pub fn error_of(&self, id: SocketId) -> Option<Errno> {
        self.errors
            .borrow()
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .and_then(|(_, e)| *e)
    }
}

impl Platform for SimPlatform {
    fn now_us(&mut self) -> u64 {
        self.clock.get()
    }
    fn transmit(&mut self, ifindex: u32, frame: &[u8]) {
        if ifindex == IF {
            self.out.borrow_mut().push_back(frame.to_vec());
        } else {
            self.other.borrow_mut().push((ifindex, frame.to_vec()));
        }
    }
    /// Always: a device without TSO (`tso` false) has its segments cut by the stack.
    #[cfg(feature = "offload")]
    fn segments_tcp(&mut self) -> bool {
        true
    }
    #[cfg(feature = "offload")]
    fn transmit_tcp(&mut self, ifindex: u32, frame: &[u8], mss: u16) -> bool {
        if !self.tso.get() {
            return false;
        }
        let tcp = 14 + usize::from(frame[14] & 0xf) * 4;
        let payload = frame.len() - tcp - usize::from(frame[tcp + 12] >> 4) * 4;
        self.tso_frames
            .borrow_mut()
            .push((frame.len(), mss, payload));
        let mut f = frame.to_vec();
        rinet::offload::segments(&mut f, 14, mss, |seg| self.transmit(ifindex, seg));
        true
    }
    /// Filled with a pattern, so that a byte the stack forgot to write shows on the wire.
    #[cfg(feature = "offload")]
    fn lend_frame(&mut self, len: usize) -> Option<rinet::platform::LentFrame> {
        if !self.lend.get() {
            return None;
        }
        let data = Box::into_raw(vec![0xa5u8; len].into_boxed_slice()) as *mut u8;
        self.lent_out.set(self.lent_out.get() + 1);
        Some(rinet::platform::LentFrame {
            data: std::ptr::NonNull::new(data)?,
            len,
            handle: std::ptr::NonNull::new(data.cast())?,
        })
    }
    #[cfg(feature = "offload")]
    fn transmit_lent(
        &mut self,
        frame: rinet::platform::LentFrame,
        ifindex: u32,
        tcp: bool,
        mss: u16,
    ) -> Result<(), rinet::platform::LentFrame> {
        if tcp && !self.tso.get() {
            return Err(frame);
        }
        self.lent_sent.set(self.lent_sent.get() + 1);
        self.lent_out.set(self.lent_out.get() - 1);
        let bytes = take_back(frame);
        if tcp {
            assert!(self.transmit_tcp(ifindex, &bytes, mss));
        } else {
            self.transmit(ifindex, &bytes);
        }
        Ok(())
    }
    #[cfg(feature = "offload")]
    fn free_lent(&mut self, frame: rinet::platform::LentFrame) {
        self.lent_out.set(self.lent_out.get() - 1);
        take_back(frame);
    }
    fn wake(&mut self, id: SocketId, mask: u32) {
        self.wakes.borrow_mut().push((id, mask));
    }
    fn error(&mut self, id: SocketId, err: Option<Errno>) {
        self.errors.borrow_mut().push((id, err));
    }
    fn set_timer(&mut self, at_us: Option<u64>) {
        self.timer.set(at_us);
        self.timer_sets.set(self.timer_sets.get() + 1);
    }
    fn random_seed(&mut self) -> u64 {
        self.seed
    }
}

/// A lent frame's bytes, back from the stack (`SimPlatform::lend_frame` made them).
#[cfg(feature = "offload")]
fn take_back(frame: rinet::platform::LentFrame) -> Box<[u8]> {
    let slice = std::ptr::slice_from_raw_parts_mut(frame.data.as_ptr(), frame.len);
    // SAFETY: lend_frame leaked exactly this box, and the stack gives each frame back once.
    unsafe { Box::from_raw(slice) }
}

/// Decides the fate of each frame on the wire: `true` delivers it.
pub type Fault = Box<dyn FnMut(bool, &[u8]) -> bool>;

pub struct Net {
    pub a: Stack<SimPlatform>,
    pub b: Stack<SimPlatform>,
    clock: Rc<Cell<u64>>,
    a_out: Rc<RefCell<VecDeque<Vec<u8>>>>,
    b_out: Rc<RefCell<VecDeque<Vec<u8>>>>,
    a_timer: Rc<Cell<Option<u64>>>,
    b_timer: Rc<Cell<Option<u64>>>,
    pub fault: Fault,
    pub delivered: u64,
    pub dropped: u64,
    /// Frames held back to be delivered later (reordering).
    held: VecDeque<(bool, Vec<u8>)>,
}

/// A frame is lent only for the packet being built: none may be out between calls.
impl Drop for Net {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            for host in [self.a.platform(), self.b.platform()] {
                assert_eq!(host.lent_out.get(), 0, "lent frames not given back");
            }
        }
    }
}

fn plat(clock: &Rc<Cell<u64>>, seed: u64) -> SimPlatform {
    SimPlatform {
        clock: clock.clone(),
        out: Rc::default(),
        other: Rc::default(),
        timer: Rc::default(),
        wakes: Rc::default(),
        timer_sets: Rc::default(),
        errors: Rc::default(),
        tso: Rc::default(),
        tso_frames: Rc::default(),
        lend: Rc::new(Cell::new(true)),
        lent_out: Rc::default(),
        lent_sent: Rc::default(),
        seed,
    }
}

impl Net {
    pub fn new() -> Net {
        Net::with_config(Config::default())
    }

    pub fn with_config(cfg: Config) -> Net {
        let clock = Rc::new(Cell::new(1_000_000));
        let (pa, pb) = (plat(&clock, 1), plat(&clock, 2));
        let (a_out, b_out) = (pa.out.clone(), pb.out.clone());
        let (a_timer, b_timer) = (pa.timer.clone(), pb.timer.clone());
        let mut a = Stack::new(cfg, pa).unwrap();
        let mut b = Stack::new(cfg, pb).unwrap();
        for (s, ip, mac) in [(&mut a, A_IP, 1u8), (&mut b, B_IP, 2u8)] {
            s.add_ethernet(IF, [2, 0, 0, 0, 0, mac], 1500).unwrap();
            s.set_addr(
                IF,
                Some(Cidr {
                    addr: ip,
                    prefix: 24,
                }),
            )
            .unwrap();
            s.set_up(IF, true).unwrap();
        }
        Net {
            a,
            b,
            clock,
            a_out,
            b_out,
            a_timer,
            b_timer,
            fault: Box::new(|_, _| true),
            delivered: 0,
            dropped: 0,
            held: VecDeque::new(),
        }
    }

    pub fn now(&self) -> u64 {
        self.clock.get()
    }

    /// Move frames across the wire until both sides are quiet (bounded).
    pub fn pump(&mut self) {
        for _ in 0..100_000 {
            let fa = self.a_out.borrow_mut().pop_front();
            let fb = self.b_out.borrow_mut().pop_front();
            if fa.is_none() && fb.is_none() {
                return;
            }
            if let Some(f) = fa {
                if (self.fault)(true, &f) {
                    self.delivered += 1;
                    self.b.receive(IF, &f);
                } else {
                    self.dropped += 1;
                }
            }
            if let Some(f) = fb {
                if (self.fault)(false, &f) {
                    self.delivered += 1;
                    self.a.receive(IF, &f);
                } else {
                    self.dropped += 1;
                }
            }
        }
        panic!("wire never went quiet");
    }

    /// Take the frames `a` (or else `b`) sent and the wire has not carried yet.
    pub fn take_sent(&mut self, by_a: bool) -> Vec<Vec<u8>> {
        let out = if by_a { &self.a_out } else { &self.b_out };
        out.borrow_mut().drain(..).collect()
    }

    /// Hold a frame back and deliver it after the frames that follow (reordering).
    pub fn hold(&mut self, a_to_b: bool, f: Vec<u8>) {
        self.held.push_back((a_to_b, f));
    }

    /// Advance simulated time to the next timer (at most `max_us`), fire it, pump.
    pub fn step(&mut self, max_us: u64) {
        self.pump();
        let now = self.now();
        let next = [self.a_timer.get(), self.b_timer.get()]
            .into_iter()
            .flatten()
            .min();
        let to = next.map_or(now + max_us, |t| t.clamp(now, now + max_us));
        let to = to.max(now + 1);
        self.clock.set(to);
        // Like a real platform: a stack is polled only when the timer it armed is due.
        if self.a_timer.get().is_some_and(|t| t <= to) {
            self.a_timer.set(None);
            self.a.poll();
        }
        if self.b_timer.get().is_some_and(|t| t <= to) {
            self.b_timer.set(None);
            self.b.poll();
        }
        self.pump();
    }

    /// Run until `cond` holds, or fail after `limit_us` of simulated time.
    pub fn run_until(&mut self, limit_us: u64, mut cond: impl FnMut(&mut Net) -> bool) {
        let end = self.now() + limit_us;
        self.pump();
        while !cond(self) {
            assert!(
                self.now() < end,
                "condition not met within {limit_us} us of simulated time"
            );
            self.step(10_000);
        }
    }

    pub fn advance(&mut self, us: u64) {
        let end = self.now() + us;
        while self.now() < end {
            let left = end - self.now();
            self.step(left.min(100_000));
        }
    }

    pub fn a_timer(&self) -> Option<u64> {
        self.a_timer.get()
    }
    pub fn b_timer(&self) -> Option<u64> {
        self.b_timer.get()
    }
}

pub fn ep(ip: Ipv4, port: u16) -> Endpoint {
    Endpoint::new(ip, port)
}

/// Deterministic test payload.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A small deterministic generator (xorshift), so a failing seed can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 for 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// An index below `n` (0 for 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}
