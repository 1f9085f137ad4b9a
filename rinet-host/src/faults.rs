//! Fault injection for tests against Linux, applied the same way to the frames rinet
//! receives and to the frames it transmits: loss, reordering (a frame held back until the
//! next one has gone), duplication and corruption (one byte of an IPv4 packet changed,
//! which the IPv4, ICMP or TCP/UDP checksum must catch). Rates are in percent.
//!
//! Only IPv4 frames are corrupted: a frame damaged on a wire fails its Ethernet FCS and
//! never reaches a stack, so what gets through damaged is a packet corrupted in some
//! router's memory. ARP has no checksum of its own: a damaged ARP frame handed on would
//! teach both peers a wrong MAC address, which no real link does; it is dropped instead.

use std::cell::{Cell, RefCell};

#[derive(Clone, Copy, Default)]
pub struct Faults {
    pub loss_pct: u32,
    pub reorder_pct: u32,
    pub duplicate_pct: u32,
    pub corrupt_pct: u32,
}

impl Faults {
    pub fn is_none(&self) -> bool {
        self.loss_pct == 0
            && self.reorder_pct == 0
            && self.duplicate_pct == 0
            && self.corrupt_pct == 0
    }
}

/// What was done so far, both directions together.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Injected {
    pub dropped: u64,
    pub reordered: u64,
    pub duplicated: u64,
    pub corrupted: u64,
}

/// Ethernet header: corruption starts after it, so the frame still reaches the stack.
const ETH_HEADER: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];

pub struct Injector {
    faults: Faults,
    rng: Cell<u64>,
    injected: Cell<Injected>,
}

impl Injector {
    pub fn new(faults: Faults, seed: u64) -> Injector {
        Injector {
            faults,
            rng: Cell::new(seed | 1),
            injected: Cell::new(Injected::default()),
        }
    }

    pub fn injected(&self) -> Injected {
        self.injected.get()
    }

    /// xorshift64: deterministic per seed, good enough to pick frames.
    fn next(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    fn chance(&self, pct: u32) -> bool {
        pct != 0 && self.next() % 100 < u64::from(pct)
    }

    fn count(&self, f: impl FnOnce(&mut Injected)) {
        let mut i = self.injected.get();
        f(&mut i);
        self.injected.set(i);
    }

    /// Pass `frame` on to `out` (zero, one or more times, maybe altered, maybe later);
    /// `held` is this direction's frame held back for reordering.
    pub fn pass(&self, frame: &[u8], held: &RefCell<Option<Vec<u8>>>, out: &mut dyn FnMut(&[u8])) {
        let f = self.faults;
        if self.chance(f.loss_pct) {
            self.count(|i| i.dropped += 1);
            return;
        }
        let mut frame = std::borrow::Cow::Borrowed(frame);
        if frame.len() > ETH_HEADER && self.chance(f.corrupt_pct) {
            self.count(|i| i.corrupted += 1);
            if frame[12..ETH_HEADER] != ETHERTYPE_IPV4 {
                return;
            }
            let r = self.next();
            let at = ETH_HEADER + (r % (frame.len() - ETH_HEADER) as u64) as usize;
            // A nonzero XOR: the byte always changes.
            frame.to_mut()[at] ^= ((r >> 32) % 255 + 1) as u8;
        }
        if held.borrow().is_none() && self.chance(f.reorder_pct) {
            self.count(|i| i.reordered += 1);
            *held.borrow_mut() = Some(frame.into_owned());
            return;
        }
        out(&frame);
        if self.chance(f.duplicate_pct) {
            self.count(|i| i.duplicated += 1);
            out(&frame);
        }
        if let Some(h) = held.borrow_mut().take() {
            out(&h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(faults: Faults, frames: usize) -> (Vec<Vec<u8>>, Injected) {
        let inj = Injector::new(faults, 42);
        let held = RefCell::new(None);
        let mut out = Vec::new();
        for n in 0..frames {
            let mut frame: Vec<u8> = (0..60).map(|b| (b + n) as u8).collect();
            frame[12..ETH_HEADER].copy_from_slice(&ETHERTYPE_IPV4);
            inj.pass(&frame, &held, &mut |f| out.push(f.to_vec()));
        }
        (out, inj.injected())
    }

    #[test]
    fn no_faults_pass_every_frame_unchanged_in_order() {
        let (out, injected) = run(Faults::default(), 100);
        assert_eq!(injected, Injected::default());
        assert_eq!(out.len(), 100);
        assert!(out.iter().enumerate().all(|(n, f)| f[0] == n as u8));
    }

    #[test]
    fn each_fault_happens_at_about_its_rate_and_is_counted() {
        let faults = Faults {
            loss_pct: 10,
            reorder_pct: 10,
            duplicate_pct: 10,
            corrupt_pct: 10,
        };
        let (out, i) = run(faults, 10_000);
        for n in [i.dropped, i.reordered, i.duplicated, i.corrupted] {
            assert!((500..1500).contains(&n), "{i:?}");
        }
        // Every frame not dropped goes out once, duplicates twice; one may still be held.
        let sent = 10_000 - i.dropped + i.duplicated;
        assert!(
            out.len() as u64 == sent || out.len() as u64 + 1 == sent,
            "{} {i:?}",
            out.len()
        );
    }

    #[test]
    fn corruption_changes_one_byte_past_the_ethernet_header() {
        let faults = Faults {
            corrupt_pct: 100,
            ..Faults::default()
        };
        let (out, _) = run(faults, 200);
        for (n, f) in out.iter().enumerate() {
            let mut orig: Vec<u8> = (0..60).map(|b| (b + n) as u8).collect();
            orig[12..ETH_HEADER].copy_from_slice(&ETHERTYPE_IPV4);
            let diff: Vec<usize> = (0..60).filter(|&b| f[b] != orig[b]).collect();
            assert_eq!(diff.len(), 1, "frame {n}");
            assert!(diff[0] >= ETH_HEADER);
        }
    }

    #[test]
    fn a_corrupted_arp_frame_is_dropped_never_handed_on() {
        let inj = Injector::new(
            Faults {
                corrupt_pct: 100,
                ..Faults::default()
            },
            42,
        );
        let held = RefCell::new(None);
        let mut arp = [0u8; 60];
        arp[12..ETH_HEADER].copy_from_slice(&[0x08, 0x06]);
        let mut out = 0;
        for _ in 0..50 {
            inj.pass(&arp, &held, &mut |_| out += 1);
        }
        assert_eq!(out, 0);
        assert_eq!(inj.injected().corrupted, 50);
    }
}
