//! Socket calls through the C ABI, as the kernel glue makes them on behalf of programs
//! (socket, bind, listen, connect, accept, send, recv, shutdown, close, options), in any
//! order and with any arguments, interleaved with the peer's segments (forged from what the
//! stack last sent, so that connections get established and carry data), raw frames and
//! time. Every call must return 0, a length, or minus a Linux errno; nothing may panic;
//! and once every socket is closed and ten minutes pass, nothing may be left.
#![no_main]

#[path = "../harness/mod.rs"]
mod harness;

use harness::*;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rinet::ffi::*;
use rinet::Ipv4;

#[derive(Arbitrary, Debug)]
enum Op {
    Socket {
        ty: u8,
        proto: u8,
    },
    Bind {
        s: u8,
        addr: u8,
        port: u8,
    },
    Listen {
        s: u8,
        backlog: i8,
    },
    Connect {
        s: u8,
        addr: u8,
        port: u8,
    },
    Accept {
        s: u8,
    },
    Send {
        s: u8,
        len: u16,
        to: Option<(u8, u8)>,
    },
    Recv {
        s: u8,
        len: u16,
        flags: u8,
    },
    Consume {
        s: u8,
        n: u16,
    },
    Shutdown {
        s: u8,
        how: u8,
    },
    Close {
        s: u8,
    },
    SetOpt {
        s: u8,
        level: u8,
        name: u8,
        val: i32,
        len: u8,
    },
    GetOpt {
        s: u8,
        level: u8,
        name: u8,
        len: u8,
    },
    Peer {
        port: u8,
        flags: u8,
        seq_delta: i16,
        ack_delta: i16,
        len: u16,
    },
    PeerSyn {
        port: u8,
        to: u8,
    },
    Frame(Vec<u8>),
    Advance {
        ms: u16,
    },
    LinkUp(bool),
}

const ADDRS: [Ipv4; 7] = [
    US,
    PEER,
    Ipv4::ANY,
    Ipv4::LOCALHOST,
    Ipv4::new(255, 255, 255, 255),
    Ipv4::new(10, 0, 0, 9),
    Ipv4::new(224, 0, 0, 1),
];
const PORTS: [u16; 6] = [80, 7, 0, 40000, 40001, 12345];
const PEER_PORTS: [u16; 3] = [40000, 40001, 40002];

struct Run {
    fx: Fx,
    ids: Vec<u32>,
}

impl Run {
    /// The socket `s` names: one of those opened, or now and then an id never handed out.
    fn id(&self, s: u8) -> u32 {
        if s == 255 || self.ids.is_empty() {
            return 0xdead;
        }
        self.ids[usize::from(s) % self.ids.len()]
    }

    fn op(&mut self, op: Op) {
        let st = self.fx.st;
        let ret = |r: isize, what: &str| check_ret(r, what);
        // SAFETY (every call below): st is live; each pointer is valid for its length.
        match op {
            Op::Socket { ty, proto } => {
                let ty = [1, 2, 3, 5, 0][usize::from(ty) % 5];
                let proto = [0, 1, 6, 17, 255][usize::from(proto) % 5];
                if self.ids.len() < 24 {
                    if let Some(id) = self.fx.socket(ty, proto) {
                        self.ids.push(id);
                    }
                }
            }
            Op::Bind { s, addr, port } => {
                let sa = sockaddr(ADDRS[usize::from(addr) % 7], PORTS[usize::from(port) % 6]);
                let len = if addr == 255 { 3 } else { sa.len() };
                ret(
                    unsafe { rinet_bind(st, self.id(s), sa.as_ptr(), len) } as isize,
                    "bind",
                );
            }
            Op::Listen { s, backlog } => {
                ret(
                    unsafe { rinet_listen(st, self.id(s), i32::from(backlog)) } as isize,
                    "listen",
                );
            }
            Op::Connect { s, addr, port } => {
                let sa = sockaddr(ADDRS[usize::from(addr) % 7], PORTS[usize::from(port) % 6]);
                ret(
                    unsafe { rinet_connect(st, self.id(s), sa.as_ptr(), sa.len()) } as isize,
                    "connect",
                );
            }
            Op::Accept { s } => {
                let (mut id, mut sa) = (0u32, [0u8; 16]);
                let r = unsafe { rinet_accept(st, self.id(s), &mut id, sa.as_mut_ptr()) };
                ret(r as isize, "accept");
                if r == 0 && self.ids.len() < 32 {
                    self.ids.push(id);
                }
            }
            Op::Send { s, len, to } => {
                let buf = vec![0x5a; usize::from(len) % 5000];
                let r = match to {
                    Some((a, p)) => {
                        let sa = sockaddr(ADDRS[usize::from(a) % 7], PORTS[usize::from(p) % 6]);
                        unsafe {
                            rinet_send(
                                st,
                                self.id(s),
                                buf.as_ptr(),
                                buf.len(),
                                sa.as_ptr(),
                                sa.len(),
                            )
                        }
                    }
                    // The kernel's stream send: the stack pulls the data through a fill
                    // callback, which may give out early (a user page not present).
                    None if len % 2 == 1 => {
                        let mut src = Source {
                            data: &buf,
                            budget: usize::from(len) / 3,
                        };
                        let r = unsafe {
                            rinet_send_from(
                                st,
                                self.id(s),
                                buf.len(),
                                fill,
                                &mut src as *mut Source as *mut std::ffi::c_void,
                            )
                        };
                        assert!(
                            r <= (buf.len() - src.data.len()) as isize,
                            "send_from claims more than the fill gave"
                        );
                        r
                    }
                    // A datagram, whole; a stream socket refuses it (EOPNOTSUPP) and
                    // takes the data as the kernel sends it, through a fill that gives
                    // everything.
                    None => {
                        let r = unsafe {
                            rinet_send(st, self.id(s), buf.as_ptr(), buf.len(), std::ptr::null(), 0)
                        };
                        if r == -(rinet::Errno::EOPNOTSUPP.0 as isize) {
                            unsafe { send_all_from(st, self.id(s), &buf) }
                        } else {
                            r
                        }
                    }
                };
                ret(r, "send");
                assert!(r <= buf.len() as isize, "send took more than it was given");
            }
            Op::Recv { s, len, flags } => {
                let mut buf = vec![0u8; usize::from(len) % 5000];
                let mut full = 0usize;
                let mut sa = [0u8; 16];
                // MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_DONTWAIT and an unknown bit.
                let flags = [0x2, 0x20, 0x100, 0x40, 0x8000]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| flags & (1 << i) != 0)
                    .fold(0, |a, (_, f)| a | f);
                let r = unsafe {
                    rinet_recv(
                        st,
                        self.id(s),
                        buf.as_mut_ptr(),
                        buf.len(),
                        flags,
                        &mut full,
                        sa.as_mut_ptr(),
                    )
                };
                ret(r, "recv");
                assert!(r <= buf.len() as isize, "recv wrote past the buffer");
            }
            Op::Consume { s, n } => {
                ret(
                    unsafe { rinet_consume(st, self.id(s), usize::from(n)) },
                    "consume",
                );
            }
            Op::Shutdown { s, how } => {
                ret(
                    unsafe { rinet_shutdown(st, self.id(s), i32::from(how % 4)) } as isize,
                    "shutdown",
                );
            }
            Op::Close { s } => {
                let id = self.id(s);
                let r = unsafe { rinet_close(st, id) };
                ret(r as isize, "close");
                if r == 0 {
                    self.ids.retain(|&i| i != id);
                }
            }
            Op::SetOpt {
                s,
                level,
                name,
                val,
                len,
            } => {
                let level = [1, 0, 6, 17, 99][usize::from(level) % 5];
                let v = val.to_ne_bytes();
                let mut buf = [0u8; 16];
                buf[..4].copy_from_slice(&v);
                let len = usize::from(len) % 17;
                ret(
                    unsafe {
                        rinet_setsockopt(
                            st,
                            self.id(s),
                            level,
                            i32::from(name % 64),
                            buf.as_ptr(),
                            len,
                        )
                    } as isize,
                    "setsockopt",
                );
            }
            Op::GetOpt {
                s,
                level,
                name,
                len,
            } => {
                let level = [1, 0, 6, 17, 99][usize::from(level) % 5];
                let mut buf = [0u8; 32];
                let mut l = usize::from(len) % 33;
                let r = unsafe {
                    rinet_getsockopt(
                        st,
                        self.id(s),
                        level,
                        i32::from(name % 64),
                        buf.as_mut_ptr(),
                        &mut l,
                    )
                };
                ret(r as isize, "getsockopt");
                assert!(l <= 32, "getsockopt claims {l} bytes");
            }
            Op::Peer {
                port,
                flags,
                seq_delta,
                ack_delta,
                len,
            } => {
                let data = vec![0xa5; usize::from(len) % 3000];
                let port = PEER_PORTS[usize::from(port) % 3];
                self.fx.peer_segment(
                    port,
                    flags,
                    i32::from(seq_delta),
                    i32::from(ack_delta),
                    &data,
                );
            }
            Op::PeerSyn { port, to } => {
                let f = tcp_frame(
                    PEER_PORTS[usize::from(port) % 3],
                    PORTS[usize::from(to) % 6],
                    7777,
                    0,
                    0x02,
                    &[],
                );
                self.fx.rx(&f);
            }
            Op::Frame(f) => self.fx.rx(&f),
            Op::Advance { ms } => self.fx.advance(u64::from(ms) * 1000),
            Op::LinkUp(up) => {
                ret(
                    unsafe { rinet_netdev_set_up(st, IF, i32::from(up)) } as isize,
                    "set_up",
                );
            }
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut run = Run {
        fx: Fx::new(),
        ids: Vec::new(),
    };
    for op in ops.into_iter().take(200) {
        run.op(op);
    }
    // The link comes back for the drain: the peer stays silent either way.
    // SAFETY: st is live.
    unsafe { rinet_netdev_set_up(run.fx.st, IF, 1) };
    run.fx.close_all_and_drain();
});
