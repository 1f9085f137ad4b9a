//! rinet driven through its C ABI, exactly as the kernel glue drives it: the callbacks
//! below play the kernel's part (clock, transmit, wakeups, hrtimer), and the safe
//! wrappers are what the glue's proto_ops do after copying user memory.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::time::Instant;

use rinet::addr::{parse_sockaddr_in, write_sockaddr_in};
use rinet::ffi::*;
use rinet::{Cidr, Endpoint, Errno, Ipv4};

use crate::faults::{Faults, Injected, Injector};
use crate::tap::Tap;

pub const IFINDEX: u32 = 2;

struct Ctx {
    tap: Tap,
    start: Instant,
    timer_at: Cell<u64>,
    faults: Injector,
    /// The transmitted frame held back for reordering.
    tx_held: RefCell<Option<Vec<u8>>>,
    /// Sockets woken since the runner last asked (`Host::take_woken`).
    woken: RefCell<Vec<Sock>>,
}

unsafe extern "C" fn cb_now(ctx: *mut c_void) -> u64 {
    // SAFETY: ctx is the Box<Ctx> the Host keeps alive.
    let c = unsafe { &*(ctx as *const Ctx) };
    c.start.elapsed().as_micros() as u64
}

unsafe extern "C" fn cb_transmit(ctx: *mut c_void, _ifindex: u32, frame: *const u8, len: usize) {
    // SAFETY: as above; frame is valid for the call.
    let (c, f) = unsafe {
        (
            &*(ctx as *const Ctx),
            std::slice::from_raw_parts(frame, len),
        )
    };
    c.faults.pass(f, &c.tx_held, &mut |f| c.tap.send(f));
}

/// A TCP frame for the host kernel to checksum and segment (see `Tap::send_tcp`); only
/// on a link without injected faults, which act on the frames on the wire.
unsafe extern "C" fn cb_transmit_tcp(
    ctx: *mut c_void,
    _ifindex: u32,
    frame: *const u8,
    len: usize,
    mss: u32,
) -> bool {
    // SAFETY: as above; frame is valid for the call.
    let (c, f) = unsafe {
        (
            &*(ctx as *const Ctx),
            std::slice::from_raw_parts(frame, len),
        )
    };
    c.tap.send_tcp(f, mss as u16)
}

/// The sockets whose poll mask changed, for the runner to look at (as epoll's ready list
/// after the kernel glue's wakeups).
unsafe extern "C" fn cb_wake(ctx: *mut c_void, sock: u32, _mask: u32) {
    // SAFETY: as above.
    let c = unsafe { &*(ctx as *const Ctx) };
    c.woken.borrow_mut().push(sock);
}

unsafe extern "C" fn cb_error(_ctx: *mut c_void, _sock: u32, _err: i32) {
    // The kernel keeps the error in sk_err for net/core's SO_ERROR; the runner asks
    // rinet_take_error instead.
}

unsafe extern "C" fn cb_set_timer(ctx: *mut c_void, at_us: *const u64) {
    // SAFETY: as above; `at_us` is NULL (cancel) or valid for the call.
    let (c, at) = unsafe { (&*(ctx as *const Ctx), at_us.as_ref()) };
    c.timer_at.set(at.copied().unwrap_or(u64::MAX));
}

pub struct Host {
    st: *mut RinetStack,
    ctx: Box<Ctx>,
    buf: Vec<u8>,
    /// The received frame held back for reordering.
    rx_held: RefCell<Option<Vec<u8>>>,
    /// `--dump-rx DIR`: save the first frames received, to seed the fuzzer's corpus.
    pub dump: Option<(std::path::PathBuf, u32)>,
}

pub type Sock = u32;

fn check(rc: i32) -> Result<(), Errno> {
    if rc < 0 {
        Err(Errno(-rc))
    } else {
        Ok(())
    }
}

fn check_len(rc: isize) -> Result<usize, Errno> {
    if rc < 0 {
        Err(Errno(-rc as i32))
    } else {
        Ok(rc as usize)
    }
}

impl Host {
    /// rinet on TAP `tap_name` with address `cidr` and an optional default gateway.
    pub fn new(
        tap_name: &str,
        cidr: Cidr,
        gw: Option<Ipv4>,
        faults: Faults,
        tcp_buf: u32,
    ) -> std::io::Result<Host> {
        // Offload to the host's kernel only where no fault acts on the wire's frames.
        let offload = faults.is_none();
        let tap = Tap::open(tap_name, offload)?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        let ctx = Box::new(Ctx {
            tap,
            start: Instant::now(),
            timer_at: Cell::new(u64::MAX),
            faults: Injector::new(faults, seed),
            tx_held: RefCell::new(None),
            woken: RefCell::new(Vec::new()),
        });
        let ops = RinetOps {
            ctx: &*ctx as *const Ctx as *mut c_void,
            now_us: cb_now,
            transmit: cb_transmit,
            transmit_tcp: if offload { Some(cb_transmit_tcp) } else { None },
            // A write to the TAP copies the frame whatever buffer it was built in.
            lend_frame: None,
            transmit_lent: None,
            free_lent: None,
            wake: cb_wake,
            error: cb_error,
            set_timer: cb_set_timer,
            seed,
        };
        let cfg = RinetConfig {
            tcp_rx_buf: tcp_buf,
            tcp_tx_buf: tcp_buf,
            udp_buf: 0,
            max_sockets: 0,
        };
        // SAFETY: ops and cfg are valid; ctx outlives the stack (dropped after it in Drop).
        let st = unsafe { rinet_stack_new(&ops, &cfg) };
        if st.is_null() {
            return Err(std::io::Error::other("rinet_stack_new failed"));
        }
        let mut h = Host {
            st,
            ctx,
            buf: vec![0u8; 65536],
            rx_held: RefCell::new(None),
            dump: None,
        };
        // A locally administered MAC derived from the address.
        let mac = [
            0x02,
            0x52,
            cidr.addr.0[0],
            cidr.addr.0[1],
            cidr.addr.0[2],
            cidr.addr.0[3],
        ];
        let err = |e: Errno| std::io::Error::other(format!("rinet setup: {e:?}"));
        // SAFETY: st is live; pointers are to locals valid for the call.
        unsafe {
            check(rinet_netdev_add(h.st, IFINDEX, mac.as_ptr(), 1500)).map_err(err)?;
            // What the kernel glue does on NETDEV_UP: refresh address and MTU, then up.
            check(rinet_netdev_change(h.st, IFINDEX, mac.as_ptr(), 1500)).map_err(err)?;
            check(rinet_netdev_set_up(h.st, IFINDEX, 1)).map_err(err)?;
            check(rinet_if_set_addr(
                h.st,
                IFINDEX,
                cidr.addr.0.as_ptr(),
                u32::from(cidr.prefix),
            ))
            .map_err(err)?;
            if let Some(g) = gw {
                check(rinet_route(
                    h.st,
                    1,
                    [0u8; 4].as_ptr(),
                    0,
                    g.0.as_ptr(),
                    IFINDEX,
                    0,
                ))
                .map_err(err)?;
            }
        }
        h.pump(0);
        Ok(h)
    }

    /// Wait up to `max_ms` for frames or the stack timer, then feed the stack.
    pub fn pump(&mut self, max_ms: i32) {
        let now = self.now_us();
        let timer = self.ctx.timer_at.get();
        let until_timer = if timer == u64::MAX {
            max_ms
        } else {
            (timer.saturating_sub(now) / 1000) as i32
        };
        self.ctx.tap.wait_readable(max_ms.min(until_timer).max(0));
        // Bounded batch so timers and apps get their turn under load. The stack takes
        // the frames read together in as one batch and runs once after them, as the
        // kernel glue does with a NAPI poll's frames.
        let mut batch = 0;
        for _ in 0..256 {
            match self.ctx.tap.recv(&mut self.buf) {
                Ok(Some(n)) => {
                    self.deliver(n);
                    batch += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("tap read: {e}");
                    break;
                }
            }
        }
        if batch > 0 {
            // SAFETY: st is live.
            unsafe { rinet_run(self.st) };
        }
        if self.now_us() >= self.ctx.timer_at.get() {
            // SAFETY: st is live.
            unsafe { rinet_poll(self.st) };
        }
    }

    fn deliver(&mut self, n: usize) {
        if let Some((dir, left)) = self.dump.as_mut() {
            if *left > 0 {
                *left -= 1;
                let _ = std::fs::write(dir.join(format!("rx-{left:03}.bin")), &self.buf[..n]);
            }
        }
        let st = self.st;
        self.ctx
            .faults
            .pass(&self.buf[..n], &self.rx_held, &mut |f| {
                // SAFETY: st is live; f is valid for the call.
                unsafe { rinet_netdev_rx_batched(st, IFINDEX, f.as_ptr(), f.len()) };
            });
    }

    /// What the fault injector did so far, both directions.
    pub fn faults_injected(&self) -> Injected {
        self.ctx.faults.injected()
    }

    /// The sockets the stack woke since the last call, each once.
    pub fn take_woken(&mut self) -> Vec<Sock> {
        let mut w = core::mem::take(&mut *self.ctx.woken.borrow_mut());
        w.sort_unstable();
        w.dedup();
        w
    }

    pub fn now_us(&self) -> u64 {
        self.ctx.start.elapsed().as_micros() as u64
    }

    pub fn stats(&self) -> &rinet::stats::Stats {
        // SAFETY: st is live; a shared borrow while no call is in progress.
        unsafe { (*self.st).stats() }
    }

    /// Sockets the engine holds, each with its buffers.
    pub fn engine_sockets(&self) -> usize {
        // SAFETY: as in `stats`.
        unsafe { (*self.st).engine_socket_count() }
    }

    pub fn socket(&mut self, ty: i32, proto: i32) -> Result<Sock, Errno> {
        let mut id = 0u32;
        // SAFETY: st is live; id is a valid out pointer.
        check(unsafe { rinet_socket(self.st, ty, proto, &mut id) })?;
        Ok(id)
    }

    pub fn bind(&mut self, s: Sock, ep: Endpoint) -> Result<(), Errno> {
        let sa = write_sockaddr_in(ep);
        // SAFETY: as above.
        check(unsafe { rinet_bind(self.st, s, sa.as_ptr(), sa.len()) })
    }

    pub fn listen(&mut self, s: Sock, backlog: i32) -> Result<(), Errno> {
        // SAFETY: as above.
        check(unsafe { rinet_listen(self.st, s, backlog) })
    }

    pub fn accept(&mut self, s: Sock) -> Result<(Sock, Endpoint), Errno> {
        let mut id = 0;
        let mut sa = [0u8; 16];
        // SAFETY: as above.
        check(unsafe { rinet_accept(self.st, s, &mut id, sa.as_mut_ptr()) })?;
        Ok((id, parse_sockaddr_in(&sa)?))
    }

    pub fn connect(&mut self, s: Sock, ep: Endpoint) -> Result<(), Errno> {
        let sa = write_sockaddr_in(ep);
        // SAFETY: as above.
        check(unsafe { rinet_connect(self.st, s, sa.as_ptr(), sa.len()) })
    }

    /// `send(2)`: a datagram whole (`rinet_send`), or, when the socket is a stream
    /// (`rinet_send` refuses it with EOPNOTSUPP; this API keeps no socket types), stream
    /// data pulled by the stack from `data` as the kernel's glue has it pull from the
    /// caller's iov (`rinet_send_from`).
    pub fn send(&mut self, s: Sock, data: &[u8]) -> Result<usize, Errno> {
        // SAFETY: as above.
        match check_len(unsafe {
            rinet_send(self.st, s, data.as_ptr(), data.len(), std::ptr::null(), 0)
        }) {
            Err(Errno::EOPNOTSUPP) => self.send_stream(s, data),
            r => r,
        }
    }

    fn send_stream(&mut self, s: Sock, data: &[u8]) -> Result<usize, Errno> {
        /// Copies from the slice behind `ctx`, from where the last call stopped.
        unsafe extern "C" fn copy(ctx: *mut c_void, dst: *mut u8, n: usize) -> usize {
            // SAFETY: `ctx` is `send_stream`'s `rest`, alive for the call.
            let rest = unsafe { &mut *(ctx as *mut &[u8]) };
            let n = n.min(rest.len());
            // SAFETY: the stack hands `dst` valid for `n` bytes.
            unsafe { std::ptr::copy_nonoverlapping(rest.as_ptr(), dst, n) };
            *rest = &rest[n..];
            n
        }
        let mut rest = data;
        let ctx = &mut rest as *mut &[u8] as *mut c_void;
        // SAFETY: as above; `copy` reads `rest`, alive for the call.
        check_len(unsafe { rinet_send_from(self.st, s, data.len(), copy, ctx) })
    }

    pub fn send_to(&mut self, s: Sock, data: &[u8], to: Endpoint) -> Result<usize, Errno> {
        let sa = write_sockaddr_in(to);
        // SAFETY: as above.
        check_len(unsafe {
            rinet_send(self.st, s, data.as_ptr(), data.len(), sa.as_ptr(), sa.len())
        })
    }

    pub fn recv(&mut self, s: Sock, buf: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: as above.
        check_len(unsafe {
            rinet_recv(
                self.st,
                s,
                buf.as_mut_ptr(),
                buf.len(),
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        })
    }

    pub fn recv_from(&mut self, s: Sock, buf: &mut [u8]) -> Result<(usize, Endpoint), Errno> {
        let mut sa = [0u8; 16];
        // SAFETY: as above.
        let n = check_len(unsafe {
            rinet_recv(
                self.st,
                s,
                buf.as_mut_ptr(),
                buf.len(),
                0,
                std::ptr::null_mut(),
                sa.as_mut_ptr(),
            )
        })?;
        Ok((n, parse_sockaddr_in(&sa)?))
    }

    pub fn close(&mut self, s: Sock) -> Result<(), Errno> {
        // SAFETY: as above.
        check(unsafe { rinet_close(self.st, s) })
    }

    pub fn mask(&mut self, s: Sock) -> u32 {
        // SAFETY: as above.
        unsafe { rinet_poll_mask(self.st, s) }
    }

    pub fn set_int(&mut self, s: Sock, level: i32, name: i32, v: i32) -> Result<(), Errno> {
        let b = v.to_ne_bytes();
        // SAFETY: as above.
        check(unsafe { rinet_setsockopt(self.st, s, level, name, b.as_ptr(), b.len()) })
    }

    /// SO_REUSEADDR, as the glue hands it over after net/core took the option.
    pub fn set_reuseaddr(&mut self, s: Sock, on: bool) -> Result<(), Errno> {
        let set = RinetSockSettings {
            reuseaddr: u8::from(on),
            ..RinetSockSettings::default()
        };
        // SAFETY: as above.
        check(unsafe { rinet_set_settings(self.st, s, &set) })
    }

    /// SO_ERROR: the pending error, taken.
    pub fn so_error(&mut self, s: Sock) -> Result<i32, Errno> {
        // SAFETY: as above.
        let e = unsafe { rinet_take_error(self.st, s) };
        check(e.min(0))?;
        Ok(e)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: st came from rinet_stack_new and is freed once, before ctx.
        unsafe { rinet_stack_free(self.st) };
    }
}
