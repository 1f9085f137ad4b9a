//! What the unit tests run a stack on: one Ethernet interface, 10.0.0.2/24 with the
//! peer 10.0.0.1 as a static neighbour and default gateway, a clock that moves only when
//! a test moves it, and every frame the stack sends kept. The back-to-back tests
//! (`tests/`) wire two stacks together; these test one module's rules on one stack. The
//! fuzzers (feature `testing`) take the addresses and frame builders from here.

use alloc::vec::Vec;

use crate::addr::{Cidr, Ipv4};
use crate::route::Route;
use crate::socket::SocketId;
use crate::stack::{Config, Platform, Stack};
use crate::wire::{csum_add, csum_fold, ipv4_header, IPPROTO_TCP};

pub const IF: u32 = 2;
pub const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const US: Ipv4 = Ipv4::new(10, 0, 0, 2);
pub const PEER: Ipv4 = Ipv4::new(10, 0, 0, 1);

#[derive(Default)]
pub struct TestHost {
    pub now: u64,
    pub timer: Option<u64>,
    /// Every frame sent: (interface, frame).
    pub sent: Vec<(u32, Vec<u8>)>,
    pub wakes: Vec<(SocketId, u32)>,
}

impl Platform for TestHost {
    fn now_us(&mut self) -> u64 {
        self.now
    }
    fn transmit(&mut self, ifindex: u32, frame: &[u8]) {
        self.sent.push((ifindex, frame.to_vec()));
    }
    fn wake(&mut self, id: SocketId, mask: u32) {
        self.wakes.push((id, mask));
    }
    fn set_timer(&mut self, at_us: Option<u64>) {
        self.timer = at_us;
    }
    fn random_seed(&mut self) -> u64 {
        0x5eed
    }
}

/// A stack with its interface up and addressed, the peer reachable.
pub fn stack() -> Stack<TestHost> {
    let host = TestHost {
        now: 1_000_000,
        ..TestHost::default()
    };
    let mut st = Stack::new(Config::default(), host).unwrap();
    st.add_ethernet(IF, OUR_MAC, 1500).unwrap();
    st.set_addr(
        IF,
        Some(Cidr {
            addr: US,
            prefix: 24,
        }),
    )
    .unwrap();
    st.set_up(IF, true).unwrap();
    st.add_route(Route {
        dest: Ipv4::ANY,
        prefix: 0,
        gateway: PEER,
        ifindex: IF,
        metric: 0,
        connected: false,
    })
    .unwrap();
    st.neigh_set(IF, PEER, Some(PEER_MAC), true).unwrap();
    st.platform().sent.clear();
    st
}

/// Let `us` microseconds pass, firing the stack's timer as a host would.
pub fn advance(st: &mut Stack<TestHost>, us: u64) {
    let end = st.platform().now + us;
    while let Some(t) = st.platform().timer.filter(|&t| t <= end) {
        let host = st.platform();
        host.now = host.now.max(t);
        host.timer = None;
        st.poll();
    }
    st.platform().now = end;
}

/// The frames sent since the last call.
pub fn take_sent(st: &mut Stack<TestHost>) -> Vec<Vec<u8>> {
    st.platform().sent.drain(..).map(|(_, f)| f).collect()
}

/// An Ethernet frame from the peer's link address carrying an IPv4 packet from `src` to
/// `dst` with `l4` as protocol `proto`.
pub fn ip_frame(src: Ipv4, dst: Ipv4, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = OUR_MAC.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[8, 0]);
    f.extend_from_slice(&ipv4_header(src, dst, proto, 64, l4.len()));
    f.extend_from_slice(l4);
    f
}

/// A TCP segment without options carrying `data`, its checksum filled in.
pub fn tcp_frame(
    src: (Ipv4, u16),
    dst: (Ipv4, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + data.len());
    t.extend_from_slice(&src.1.to_be_bytes());
    t.extend_from_slice(&dst.1.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[5 << 4, flags, 0x20, 0, 0, 0, 0, 0]);
    t.extend_from_slice(data);
    let mut pseudo = src.0 .0.to_vec();
    pseudo.extend_from_slice(&dst.0 .0);
    pseudo.extend_from_slice(&[0, IPPROTO_TCP]);
    pseudo.extend_from_slice(&(t.len() as u16).to_be_bytes());
    let sum = csum_fold(csum_add(csum_add(0, &pseudo), &t));
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    ip_frame(src.0, dst.0, IPPROTO_TCP, &t)
}

/// (flags, seq, ack) of a TCP segment in an IPv4 frame without options, if it is one.
pub fn tcp_fields(f: &[u8]) -> Option<(u8, u32, u32)> {
    if f.len() < 54 || f[12..14] != [8, 0] || f[23] != IPPROTO_TCP {
        return None;
    }
    let t = 14 + usize::from(f[14] & 0xf) * 4;
    let n = |at: usize| u32::from_be_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]]);
    Some((f[t + 13], n(t + 4), n(t + 8)))
}
