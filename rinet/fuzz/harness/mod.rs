//! One rinet stack driven through its C ABI, as the kernel glue drives it: a host that
//! records what the stack transmits and keeps its clock and timer, an Ethernet interface
//! 10.0.0.2/24 with the peer 10.0.0.1 as gateway and static neighbour, and helpers that
//! forge the peer's TCP segments from what the stack last sent (so that fuzz input can
//! reach established connections, not only handshakes).
#![allow(dead_code)]

use std::ffi::c_void;

use rinet::addr::write_sockaddr_in;
use rinet::ffi::*;
use rinet::{Endpoint, Ipv4};

pub use rinet::testing::{IF, OUR_MAC, PEER, PEER_MAC, US};

/// The host side of the C ABI.
#[derive(Default)]
pub struct Host {
    pub now: u64,
    pub timer: Option<u64>,
    pub sent: Vec<Vec<u8>>,
    /// The last TCP segment sent to each peer port: (our port, seq, ack, flags, payload).
    pub last_tcp: Vec<(u16, u16, u32, u32, u8, usize)>,
}

unsafe extern "C" fn now_us(ctx: *mut c_void) -> u64 {
    // SAFETY: ctx is the Host boxed in Fx, alive as long as the stack.
    unsafe { (*(ctx as *mut Host)).now }
}

unsafe extern "C" fn transmit(ctx: *mut c_void, _ifindex: u32, frame: *const u8, len: usize) {
    // SAFETY: as above; the stack passes a valid frame.
    let (host, f) = unsafe {
        (
            &mut *(ctx as *mut Host),
            std::slice::from_raw_parts(frame, len),
        )
    };
    if let Some(seg) = tcp_fields(f) {
        host.last_tcp.retain(|t| t.1 != seg.1);
        host.last_tcp.push(seg);
    }
    if host.sent.len() < 4096 {
        host.sent.push(f.to_vec());
    }
}

unsafe extern "C" fn wake(_ctx: *mut c_void, _sock: u32, _mask: u32) {}
unsafe extern "C" fn error(_ctx: *mut c_void, _sock: u32, err: i32) {
    assert!((0..=4095).contains(&err), "pending error {err} is no errno");
}
unsafe extern "C" fn set_timer(ctx: *mut c_void, at_us: *const u64) {
    // SAFETY: as above; `at_us` is NULL or valid for the call.
    unsafe { (*(ctx as *mut Host)).timer = at_us.as_ref().copied() };
}

/// (our port, peer port, seq, ack, flags, payload length) of a TCP frame the stack sent.
fn tcp_fields(f: &[u8]) -> Option<(u16, u16, u32, u32, u8, usize)> {
    if f.len() < 54 || f[12..14] != [8, 0] || f[23] != 6 {
        return None;
    }
    let ihl = usize::from(f[14] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let t = 14 + ihl;
    let doff = usize::from(f.get(t + 12)? >> 4) * 4;
    let n = |at: usize| u32::from_be_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]]);
    Some((
        u16::from_be_bytes([f[t], f[t + 1]]),
        u16::from_be_bytes([f[t + 2], f[t + 3]]),
        n(t + 4),
        n(t + 8),
        f[t + 13],
        total.saturating_sub(ihl + doff),
    ))
}

/// A TCP segment from the peer to us, checksum filled in.
pub fn tcp_frame(
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    rinet::testing::tcp_frame((PEER, src_port), (US, dst_port), seq, ack, flags, data)
}

pub fn sockaddr(addr: Ipv4, port: u16) -> [u8; 16] {
    write_sockaddr_in(Endpoint::new(addr, port))
}

/// An errno as the C ABI returns it: 0 or more, or minus a Linux errno.
pub fn check_ret(r: isize, what: &str) {
    assert!(r >= -4095, "{what} returned {r}, no errno");
}

pub struct Fx {
    pub st: *mut RinetStack,
    pub host: Box<Host>,
}

impl Fx {
    pub fn new() -> Fx {
        let mut host = Box::<Host>::default();
        host.now = 1_000_000;
        let ops = RinetOps {
            ctx: &mut *host as *mut Host as *mut c_void,
            now_us,
            transmit,
            transmit_tcp: None,
            lend_frame: None,
            transmit_lent: None,
            free_lent: None,
            wake,
            error,
            set_timer,
            seed: 0x5eed,
        };
        // SAFETY: ops are valid for the stack's life (the Host box moves with Fx).
        let st = unsafe { rinet_stack_new(&ops, std::ptr::null()) };
        assert!(!st.is_null());
        let fx = Fx { st, host };
        // SAFETY: st is live; the pointers are valid for the calls.
        unsafe {
            assert_eq!(rinet_netdev_add(st, IF, OUR_MAC.as_ptr(), 1500), 0);
            assert_eq!(rinet_netdev_set_up(st, IF, 1), 0);
            assert_eq!(rinet_if_set_addr(st, IF, US.0.as_ptr(), 24), 0);
            let any = [0u8; 4];
            assert_eq!(
                rinet_route(st, 1, any.as_ptr(), 0, PEER.0.as_ptr(), IF, 0),
                0
            );
            assert_eq!(
                rinet_neigh_set(st, IF, PEER.0.as_ptr(), PEER_MAC.as_ptr(), 1),
                0
            );
        }
        fx
    }

    pub fn stack(&mut self) -> &mut RinetStack {
        // SAFETY: st is live until drop.
        unsafe { &mut *self.st }
    }

    pub fn rx(&mut self, frame: &[u8]) {
        // SAFETY: st is live; frame is valid.
        unsafe { rinet_netdev_rx(self.st, IF, frame.as_ptr(), frame.len()) };
    }

    /// Let `us` microseconds pass, firing the stack's timer as a host would.
    pub fn advance(&mut self, us: u64) {
        let end = self.host.now + us;
        loop {
            match self.host.timer {
                Some(t) if t <= end => {
                    self.host.now = self.host.now.max(t);
                    self.host.timer = None;
                    // SAFETY: st is live.
                    unsafe { rinet_poll(self.st) };
                }
                _ => break,
            }
        }
        self.host.now = end;
    }

    /// The peer's segment on the connection to `peer_port`, built from what the stack last
    /// sent there: seq and ack shifted by the deltas.
    pub fn peer_segment(
        &mut self,
        peer_port: u16,
        flags: u8,
        seq_delta: i32,
        ack_delta: i32,
        data: &[u8],
    ) {
        let Some(&(ours, _, seq, ack, fl, len)) =
            self.host.last_tcp.iter().find(|t| t.1 == peer_port)
        else {
            return;
        };
        let consumed = len as u32 + u32::from(fl & 0x03 != 0);
        let their_seq = ack.wrapping_add(seq_delta as u32);
        let their_ack = seq.wrapping_add(consumed).wrapping_add(ack_delta as u32);
        let f = tcp_frame(peer_port, ours, their_seq, their_ack, flags, data);
        self.rx(&f);
    }

    pub fn socket(&mut self, ty: i32, proto: i32) -> Option<u32> {
        let mut id = 0;
        // SAFETY: st is live; id is writable.
        let r = unsafe { rinet_socket(self.st, ty, proto, &mut id) };
        check_ret(r as isize, "socket");
        (r == 0).then_some(id)
    }

    /// Open a connection from the peer's `peer_port` to our `port` (a listener must be
    /// there): SYN, then the ACK of the SYN-ACK.
    pub fn peer_connects(&mut self, peer_port: u16, port: u16) {
        let syn = tcp_frame(peer_port, port, 1000, 0, 0x02, &[]);
        self.rx(&syn);
        self.advance(1000);
        self.peer_segment(peer_port, 0x10, 0, 0, &[]);
        self.advance(1000);
    }

    /// Close every socket the stack lists, then let ten minutes pass with the peer silent:
    /// nothing may be left (no socket, no orphan, no engine socket).
    pub fn close_all_and_drain(&mut self) {
        loop {
            let mut info = RinetSockInfo::default();
            // SAFETY: st is live; info is writable.
            if unsafe { rinet_sock_info(self.st, 0, &mut info) } != 0 {
                break;
            }
            if self.stack().orphan_count() > 0 && self.stack().socket_count() == 0 {
                break;
            }
            // SAFETY: st is live.
            let r = unsafe { rinet_close(self.st, info.id) };
            if r != 0 {
                break;
            }
        }
        self.advance(600_000_000);
        let (socks, orphans, engine) = (
            self.stack().socket_count(),
            self.stack().orphan_count(),
            self.stack().engine_socket_count(),
        );
        assert_eq!(
            (socks, orphans, engine),
            (0, 0, 0),
            "left after close and 10 minutes"
        );
    }
}

impl Drop for Fx {
    fn drop(&mut self) {
        // SAFETY: st came from rinet_stack_new and is freed once.
        unsafe { rinet_stack_free(self.st) };
    }
}

/// What `rinet_send_from`'s fill callback copies from, and how much it gives before it
/// stops short.
pub struct Source<'a> {
    pub data: &'a [u8],
    pub budget: usize,
}

pub unsafe extern "C" fn fill(ctx: *mut std::ffi::c_void, dst: *mut u8, n: usize) -> usize {
    let src = unsafe { &mut *(ctx as *mut Source) };
    assert!(n <= src.data.len(), "asked for more than the send's length");
    let give = n.min(src.budget);
    unsafe { std::ptr::copy_nonoverlapping(src.data.as_ptr(), dst, give) };
    src.data = &src.data[give..];
    src.budget -= give;
    give
}

/// A stream send of all of `data` as the kernel makes it (`rinet_send_from`, the fill
/// copying from the caller's buffer): the bytes taken or -errno.
///
/// # Safety
/// `st` is a live stack.
pub unsafe fn send_all_from(st: *mut RinetStack, id: u32, data: &[u8]) -> isize {
    let mut src = Source {
        data,
        budget: data.len(),
    };
    let ctx = &mut src as *mut Source as *mut c_void;
    // SAFETY: the caller's `st`; `fill` reads `src`, alive for the call.
    unsafe { rinet_send_from(st, id, data.len(), fill, ctx) }
}
