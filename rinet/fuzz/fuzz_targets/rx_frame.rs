//! The receive path: arbitrary frames into a stack with live sockets of every kind (a
//! listener, an established connection with data both ways, a connection being opened,
//! a bound UDP socket, a raw ICMP socket). The input is a run of frames, each behind a
//! two-byte length; between frames a little time passes and the stack's timers fire.
//! Nothing may panic, and afterwards every socket closes and nothing is left.
#![no_main]

#[path = "../harness/mod.rs"]
mod harness;

use harness::*;
use libfuzzer_sys::fuzz_target;
use rinet::ffi::*;
use rinet::socket::{IPPROTO_ICMP, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM};
use rinet::Ipv4;

fn live_stack() -> Fx {
    let mut fx = Fx::new();
    let st = fx.st;
    let l = fx.socket(SOCK_STREAM, 0).unwrap();
    let u = fx.socket(SOCK_DGRAM, 0).unwrap();
    let _raw = fx.socket(SOCK_RAW, IPPROTO_ICMP.into()).unwrap();
    let c = fx.socket(SOCK_STREAM, 0).unwrap();
    // SAFETY: st is live; the buffers are valid for the calls.
    unsafe {
        let sa = sockaddr(Ipv4::ANY, 80);
        assert_eq!(rinet_bind(st, l, sa.as_ptr(), sa.len()), 0);
        assert_eq!(rinet_listen(st, l, 4), 0);
        let sa = sockaddr(Ipv4::ANY, 7);
        assert_eq!(rinet_bind(st, u, sa.as_ptr(), sa.len()), 0);
    }
    fx.peer_connects(40000, 80);
    let mut id = 0;
    // SAFETY: as above.
    unsafe {
        let mut sa = [0u8; 16];
        assert_eq!(rinet_accept(st, l, &mut id, sa.as_mut_ptr()), 0);
        let msg = [7u8; 300];
        assert_eq!(send_all_from(st, id, &msg), 300);
        let sa = sockaddr(PEER, 40001);
        let _ = rinet_connect(st, c, sa.as_ptr(), sa.len());
    }
    fx.advance(1000);
    fx.peer_segment(40000, 0x18, 0, 0, b"GET / HTTP/1.0\r\n\r\n");
    fx.advance(1000);
    fx
}

fuzz_target!(|data: &[u8]| {
    let mut fx = live_stack();
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (frame, tail) = rest[2..].split_at(n);
        fx.rx(frame);
        fx.advance(2_000);
        rest = tail;
    }
    if !rest.is_empty() {
        fx.rx(rest);
    }
    fx.close_all_and_drain();
});
