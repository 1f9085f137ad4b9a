//! The C ABI the kernel glue calls (and the user-space runner, so it is exercised outside
//! the kernel too). Narrow on purpose: opaque handles, plain integers, byte buffers with
//! explicit lengths, negative errno returns. The caller holds the stack lock around every
//! call; callbacks run under that lock and must not sleep.
//!
//! Buffers are kernel memory the glue already copied from or will copy to user space
//! (`copy_from_user`/`copy_to_user` stay in C); a NULL pointer with a non-zero length is
//! answered with -EFAULT, never dereferenced.

mod layout;

use alloc::boxed::Box;
use core::ffi::c_void;

use crate::addr::{self, Cidr, Endpoint, Ipv4};
use crate::engine::TcpState;
use crate::errno::{Errno, SysResult};
#[cfg(feature = "offload")]
use crate::platform::LentFrame;
use crate::route::Route;
use crate::socket::SocketId;
use crate::stack::{Config, Platform, Stack};

/// Callbacks into the host. All must be non-NULL.
#[repr(C)]
pub struct RinetOps {
    pub ctx: *mut c_void,
    pub now_us: unsafe extern "C" fn(ctx: *mut c_void) -> u64,
    pub transmit:
        unsafe extern "C" fn(ctx: *mut c_void, ifindex: u32, frame: *const u8, len: usize),
    /// A TCP/IPv4 frame for the device to checksum and, with `mss` not 0, to segment;
    /// false when it cannot (see `Platform::transmit_tcp`). Called only with the
    /// `offload` feature; NULL otherwise.
    pub transmit_tcp: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            ifindex: u32,
            frame: *const u8,
            len: usize,
            mss: u32,
        ) -> bool,
    >,
    /// Lend `len` bytes to build a frame in, `*data` set to them; NULL when there are
    /// none (see `Platform::lend_frame`). The frame comes back through `transmit_lent`
    /// or `free_lent`. All three are NULL without the `offload` feature.
    pub lend_frame: Option<
        unsafe extern "C" fn(ctx: *mut c_void, len: usize, data: *mut *mut u8) -> *mut c_void,
    >,
    /// Transmit a lent frame as `transmit` does or, with `tcp`, as `transmit_tcp` does;
    /// false (`tcp` only) when the device cannot take it: the frame is still rinet's.
    pub transmit_lent: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            frame: *mut c_void,
            ifindex: u32,
            tcp: bool,
            mss: u32,
        ) -> bool,
    >,
    pub free_lent: Option<unsafe extern "C" fn(ctx: *mut c_void, frame: *mut c_void)>,
    pub wake: unsafe extern "C" fn(ctx: *mut c_void, sock: u32, mask: u32),
    /// The socket's pending error is now `err` (a positive errno, 0 for none).
    pub error: unsafe extern "C" fn(ctx: *mut c_void, sock: u32, err: i32),
    /// Arm the timer for `*at_us`; NULL cancels it. The time comes by pointer because
    /// rustc's `-Zregparm=3` passes a 64-bit argument on the stack where GCC's
    /// `-mregparm=3` (the i386 kernel) expects it in edx:ecx (rust-lang/rust#145694): a
    /// `u64` by value would reach the Galileo kernel as whatever those registers held.
    pub set_timer: unsafe extern "C" fn(ctx: *mut c_void, at_us: *const u64),
    pub seed: u64,
}

/// Buffer and table sizes, `struct rinet_config` in C.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RinetConfig {
    pub tcp_rx_buf: u32,
    pub tcp_tx_buf: u32,
    pub udp_buf: u32,
    pub max_sockets: u32,
}

pub struct FfiPlatform {
    ops: RinetOps,
}

impl Platform for FfiPlatform {
    fn now_us(&mut self) -> u64 {
        // SAFETY: the glue guarantees valid callbacks for the stack's lifetime.
        unsafe { (self.ops.now_us)(self.ops.ctx) }
    }
    fn transmit(&mut self, ifindex: u32, frame: &[u8]) {
        // SAFETY: as above; the frame is valid for the call.
        unsafe { (self.ops.transmit)(self.ops.ctx, ifindex, frame.as_ptr(), frame.len()) }
    }
    #[cfg(feature = "offload")]
    fn segments_tcp(&mut self) -> bool {
        self.ops.transmit_tcp.is_some()
    }
    #[cfg(feature = "offload")]
    fn transmit_tcp(&mut self, ifindex: u32, frame: &[u8], mss: u16) -> bool {
        let Some(f) = self.ops.transmit_tcp else {
            return false;
        };
        // SAFETY: as above.
        unsafe {
            f(
                self.ops.ctx,
                ifindex,
                frame.as_ptr(),
                frame.len(),
                mss.into(),
            )
        }
    }
    #[cfg(feature = "offload")]
    fn lend_frame(&mut self, len: usize) -> Option<LentFrame> {
        let mut data = core::ptr::null_mut();
        // SAFETY: as above; `data` is written before the call returns.
        let handle = unsafe { (self.ops.lend_frame?)(self.ops.ctx, len, &mut data) };
        Some(LentFrame {
            data: core::ptr::NonNull::new(data)?,
            len,
            handle: core::ptr::NonNull::new(handle)?,
        })
    }
    #[cfg(feature = "offload")]
    fn transmit_lent(
        &mut self,
        frame: LentFrame,
        ifindex: u32,
        tcp: bool,
        mss: u16,
    ) -> Result<(), LentFrame> {
        let Some(f) = self.ops.transmit_lent else {
            return Err(frame);
        };
        // SAFETY: as above; the frame is the glue's from here unless it answers false.
        match unsafe {
            f(
                self.ops.ctx,
                frame.handle.as_ptr(),
                ifindex,
                tcp,
                mss.into(),
            )
        } {
            true => Ok(()),
            false => Err(frame),
        }
    }
    #[cfg(feature = "offload")]
    fn free_lent(&mut self, frame: LentFrame) {
        if let Some(f) = self.ops.free_lent {
            // SAFETY: as above; the frame goes back to the glue.
            unsafe { f(self.ops.ctx, frame.handle.as_ptr()) }
        }
    }
    fn wake(&mut self, id: SocketId, mask: u32) {
        // SAFETY: as above.
        unsafe { (self.ops.wake)(self.ops.ctx, id.0, mask) }
    }
    fn error(&mut self, id: SocketId, err: Option<Errno>) {
        // SAFETY: as above.
        unsafe { (self.ops.error)(self.ops.ctx, id.0, err.map_or(0, |e| e.0)) }
    }
    fn set_timer(&mut self, at_us: Option<u64>) {
        let at = at_us
            .as_ref()
            .map_or(core::ptr::null(), |at| at as *const u64);
        // SAFETY: as above; `at` is NULL or points at `at_us` for the call.
        unsafe { (self.ops.set_timer)(self.ops.ctx, at) }
    }
    fn random_seed(&mut self) -> u64 {
        self.ops.seed
    }
}

/// The opaque `struct rinet_stack`.
pub type RinetStack = Stack<FfiPlatform>;

fn ret(r: SysResult<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => -e.0,
    }
}

fn ret_len(r: SysResult<usize>) -> isize {
    match r {
        Ok(n) => n.min(isize::MAX as usize) as isize,
        Err(e) => -(e.0 as isize),
    }
}

/// # Safety
/// `p` must be NULL or valid for `len` bytes.
unsafe fn slice<'a>(p: *const u8, len: usize) -> SysResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: caller contract.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// The 6-byte hardware address at `p`.
///
/// # Safety
/// `p` is null or points to 6 readable bytes.
unsafe fn mac_at(p: *const u8) -> SysResult<[u8; 6]> {
    let mut hw = [0u8; 6];
    // SAFETY: caller contract.
    hw.copy_from_slice(unsafe { slice(p, 6)? });
    Ok(hw)
}

/// # Safety
/// `p` must be NULL or valid for writes of `len` bytes.
unsafe fn slice_mut<'a>(p: *mut u8, len: usize) -> SysResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: caller contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
}

/// # Safety
/// `p` must be NULL or valid for 4 bytes.
unsafe fn ip_at(p: *const u8) -> SysResult<Ipv4> {
    // SAFETY: caller contract.
    let a = unsafe { slice(p, 4)? };
    Ok(Ipv4([a[0], a[1], a[2], a[3]]))
}

/// # Safety
/// `st` must be a live stack from `rinet_stack_new`.
unsafe fn stack<'a>(st: *mut RinetStack) -> SysResult<&'a mut RinetStack> {
    // SAFETY: caller contract; NULL is rejected.
    unsafe { st.as_mut() }.ok_or(Errno::EINVAL)
}

fn write_addr(out: *mut u8, ep: Endpoint) {
    if !out.is_null() {
        let sa = addr::write_sockaddr_in(ep);
        // SAFETY: the glue passes a buffer of at least sizeof(struct sockaddr_in).
        unsafe { core::ptr::copy_nonoverlapping(sa.as_ptr(), out, sa.len()) };
    }
}

/// Create a stack. Returns NULL if `ops` is NULL or memory is short.
///
/// # Safety
/// `ops` must point to valid callbacks that outlive the stack; `cfg` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn rinet_stack_new(
    ops: *const RinetOps,
    cfg: *const RinetConfig,
) -> *mut RinetStack {
    // SAFETY: caller contract.
    let Some(ops) = (unsafe { ops.as_ref() }) else {
        return core::ptr::null_mut();
    };
    let mut c = Config::default();
    // SAFETY: caller contract.
    if let Some(k) = unsafe { cfg.as_ref() } {
        let nz = |v: u32, d: usize| if v == 0 { d } else { v as usize };
        c.tcp_rx_buf = nz(k.tcp_rx_buf, c.tcp_rx_buf);
        c.tcp_tx_buf = nz(k.tcp_tx_buf, c.tcp_tx_buf);
        c.udp_buf = nz(k.udp_buf, c.udp_buf);
        c.max_sockets = nz(k.max_sockets, c.max_sockets);
    }
    let plat = FfiPlatform {
        ops: RinetOps { ..*ops },
    };
    match Stack::new(c, plat) {
        Ok(s) => Box::into_raw(Box::new(s)),
        Err(_) => core::ptr::null_mut(),
    }
}

/// # Safety
/// `st` must come from `rinet_stack_new` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rinet_stack_free(st: *mut RinetStack) {
    if !st.is_null() {
        // SAFETY: caller contract.
        drop(unsafe { Box::from_raw(st) });
    }
}

/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_socket(
    st: *mut RinetStack,
    ty: i32,
    protocol: i32,
    id: *mut u32,
) -> i32 {
    let r = (|| {
        // SAFETY: caller contract.
        let s = unsafe { stack(st) }?;
        if id.is_null() {
            return Err(Errno::EFAULT);
        }
        let new = s.socket(ty, protocol)?;
        // SAFETY: checked non-NULL; the glue passes a u32.
        unsafe { *id = new.0 };
        Ok(())
    })();
    ret(r)
}

/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_bind(
    st: *mut RinetStack,
    id: u32,
    sa: *const u8,
    len: usize,
) -> i32 {
    // SAFETY: caller contract.
    ret((|| unsafe {
        stack(st)?.bind(SocketId(id), addr::parse_sockaddr_in(slice(sa, len)?)?)
    })())
}

/// `connect(2)`; an `AF_UNSPEC` address dissolves a datagram association.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_connect(
    st: *mut RinetStack,
    id: u32,
    sa: *const u8,
    len: usize,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, raw) = unsafe { (stack(st)?, slice(sa, len)?) };
        if raw.len() >= 2 && u16::from_ne_bytes([raw[0], raw[1]]) == addr::AF_UNSPEC {
            return s.disconnect(SocketId(id));
        }
        s.connect(SocketId(id), addr::parse_sockaddr_in(raw)?)
    })())
}

/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_listen(st: *mut RinetStack, id: u32, backlog: i32) -> i32 {
    // SAFETY: caller contract.
    ret((|| unsafe { stack(st)?.listen(SocketId(id), backlog) })())
}

/// `sa_out` (may be NULL) receives a 16-byte `sockaddr_in` of the peer.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_accept(
    st: *mut RinetStack,
    id: u32,
    new_id: *mut u32,
    sa_out: *mut u8,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let s = unsafe { stack(st)? };
        if new_id.is_null() {
            return Err(Errno::EFAULT);
        }
        let (n, peer) = s.accept(SocketId(id))?;
        // SAFETY: checked non-NULL.
        unsafe { *new_id = n.0 };
        write_addr(sa_out, peer);
        Ok(())
    })())
}

/// A datagram (UDP, raw), sent whole: returns its length or -errno. `sa` may be NULL
/// (no destination given). A stream socket gets -EOPNOTSUPP: stream sends go through
/// [`rinet_send_from`], and leaving them out here keeps a second copy of the TCP send
/// path out of the kernel (288 B on the STM32F429).
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_send(
    st: *mut RinetStack,
    id: u32,
    buf: *const u8,
    len: usize,
    sa: *const u8,
    sa_len: usize,
) -> isize {
    ret_len((|| {
        // SAFETY: caller contract.
        let (s, data) = unsafe { (stack(st)?, slice(buf, len)?) };
        let to = if sa.is_null() {
            None
        } else {
            // SAFETY: caller contract.
            Some(addr::parse_sockaddr_in(unsafe { slice(sa, sa_len)? })?)
        };
        s.send_datagram(SocketId(id), data, to)
    })())
}

/// A stream send of up to `len` bytes that `fill` copies into the stack's send buffer:
/// `fill(ctx, dst, n)` writes at most `n` bytes at `dst` (valid for the call) and returns
/// how many; fewer ends the send. Returns the bytes taken or -errno (-EAGAIN: no room).
///
/// # Safety
/// Pointers as documented on the module; `fill` is safe to call with `ctx`.
#[no_mangle]
pub unsafe extern "C" fn rinet_send_from(
    st: *mut RinetStack,
    id: u32,
    len: usize,
    fill: unsafe extern "C" fn(ctx: *mut c_void, dst: *mut u8, n: usize) -> usize,
    ctx: *mut c_void,
) -> isize {
    ret_len((|| {
        // SAFETY: caller contract.
        let s = unsafe { stack(st)? };
        s.send_stream_with(SocketId(id), len, &mut |buf| {
            // SAFETY: `buf` is valid for its length; the caller vouches for `fill`.
            unsafe { fill(ctx, buf.as_mut_ptr(), buf.len()) }.min(buf.len())
        })
    })())
}

/// Returns bytes copied or -errno; `full_len` (may be NULL) gets the datagram's length,
/// `sa_out` (may be NULL) the sender.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_recv(
    st: *mut RinetStack,
    id: u32,
    buf: *mut u8,
    len: usize,
    flags: u32,
    full_len: *mut usize,
    sa_out: *mut u8,
) -> isize {
    ret_len((|| {
        // SAFETY: caller contract.
        let (s, out) = unsafe { (stack(st)?, slice_mut(buf, len)?) };
        let r = s.recv(SocketId(id), out, flags)?;
        if !full_len.is_null() {
            // SAFETY: checked non-NULL.
            unsafe { *full_len = r.full_len };
        }
        if let Some(from) = r.from {
            write_addr(sa_out, from);
        }
        Ok(r.len)
    })())
}

/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_shutdown(st: *mut RinetStack, id: u32, how: i32) -> i32 {
    // SAFETY: caller contract.
    ret((|| unsafe { stack(st)?.shutdown(SocketId(id), how) })())
}

/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_close(st: *mut RinetStack, id: u32) -> i32 {
    // SAFETY: caller contract.
    ret((|| unsafe { stack(st)?.close(SocketId(id)) })())
}

/// `getsockname` (peer = 0) or `getpeername` (peer = 1) into a 16-byte `sa_out`.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_getname(
    st: *mut RinetStack,
    id: u32,
    peer: i32,
    sa_out: *mut u8,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let s = unsafe { stack(st)? };
        if sa_out.is_null() {
            return Err(Errno::EFAULT);
        }
        let ep = if peer != 0 {
            s.remote_endpoint(SocketId(id))?
        } else {
            s.local_endpoint(SocketId(id))?
        };
        write_addr(sa_out, ep);
        Ok(())
    })())
}

/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_setsockopt(
    st: *mut RinetStack,
    id: u32,
    level: i32,
    name: i32,
    val: *const u8,
    len: usize,
) -> i32 {
    // SAFETY: caller contract.
    ret((|| unsafe {
        stack(st)?.setsockopt(SocketId(id), level, name, slice(val, len)?)
    })())
}

/// On entry `*len` is the buffer size; on return the option's length.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_getsockopt(
    st: *mut RinetStack,
    id: u32,
    level: i32,
    name: i32,
    val: *mut u8,
    len: *mut usize,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let s = unsafe { stack(st)? };
        // SAFETY: caller contract.
        let cap = unsafe { len.as_mut() }.ok_or(Errno::EFAULT)?;
        // SAFETY: caller contract.
        let out = unsafe { slice_mut(val, *cap)? };
        *cap = s.getsockopt(SocketId(id), level, name, out)?;
        Ok(())
    })())
}

/// The socket's poll mask (POLLNVAL for a bad handle).
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_poll_mask(st: *mut RinetStack, id: u32) -> u32 {
    // SAFETY: caller contract.
    match unsafe { stack(st) } {
        Ok(s) => s.poll_mask(SocketId(id)),
        Err(_) => crate::socket::POLLNVAL,
    }
}

/// `which` = 0: bytes readable (FIONREAD/SIOCINQ); 1: bytes unsent (SIOCOUTQ).
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_queue_len(st: *mut RinetStack, id: u32, which: i32) -> isize {
    ret_len((|| {
        // SAFETY: caller contract.
        let s = unsafe { stack(st)? };
        match which {
            0 => s.bytes_readable(SocketId(id)),
            1 => s.bytes_unsent(SocketId(id)),
            _ => Err(Errno::EINVAL),
        }
    })())
}

/// `struct rinet_sock_settings`: the SOL_SOCKET options the protocol acts on, as the
/// socket core holds them (see [`crate::socket::opts`]).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct RinetSockSettings {
    pub reuseaddr: u8,
    pub keepalive: u8,
    pub broadcast: u8,
    pub linger_on: u8,
    pub linger_s: u32,
    pub rcvbuf: u32,
    pub sndbuf: u32,
    pub bound_if: u32,
}

/// The socket's SOL_SOCKET settings changed.
///
/// # Safety
/// Pointers as documented on the module; `set` points to a `struct rinet_sock_settings`.
#[no_mangle]
pub unsafe extern "C" fn rinet_set_settings(
    st: *mut RinetStack,
    id: u32,
    set: *const RinetSockSettings,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, k) = unsafe { (stack(st)?, set.as_ref().ok_or(Errno::EFAULT)?) };
        s.set_settings(
            SocketId(id),
            crate::socket::opts::SocketSettings {
                reuseaddr: k.reuseaddr != 0,
                keepalive: k.keepalive != 0,
                broadcast: k.broadcast != 0,
                linger: (k.linger_on != 0).then_some(k.linger_s),
                rcvbuf: k.rcvbuf,
                sndbuf: k.sndbuf,
                bound_if: k.bound_if,
            },
        )
    })())
}

/// Take the socket's pending error: the errno (positive), 0 if none, or -EBADF.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_take_error(st: *mut RinetStack, id: u32) -> i32 {
    // SAFETY: caller contract.
    match unsafe { stack(st) }.and_then(|s| s.take_error(SocketId(id))) {
        Ok(e) => e.map_or(0, |e| e.0),
        Err(e) => -e.0,
    }
}

/// Register an Ethernet device. `mac` points to 6 bytes.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_netdev_add(
    st: *mut RinetStack,
    ifindex: u32,
    mac: *const u8,
    mtu: u32,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, hw) = unsafe { (stack(st)?, mac_at(mac)?) };
        s.add_ethernet(ifindex, hw, mtu as usize)
    })())
}

/// The device's hardware address or MTU changed (`NETDEV_CHANGEADDR`,
/// `NETDEV_CHANGEMTU`), or the glue refreshes them as the device comes up.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_netdev_change(
    st: *mut RinetStack,
    ifindex: u32,
    mac: *const u8,
    mtu: u32,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, hw) = unsafe { (stack(st)?, mac_at(mac)?) };
        s.set_link(ifindex, hw, mtu as usize)
    })())
}

/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_netdev_remove(st: *mut RinetStack, ifindex: u32) -> i32 {
    // SAFETY: caller contract.
    ret((|| unsafe { stack(st)?.remove_link(ifindex) })())
}

/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_netdev_set_up(st: *mut RinetStack, ifindex: u32, up: i32) -> i32 {
    // SAFETY: caller contract.
    ret((|| unsafe { stack(st)?.set_up(ifindex, up != 0) })())
}

/// A frame arrived (link header included).
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_netdev_rx(
    st: *mut RinetStack,
    ifindex: u32,
    frame: *const u8,
    len: usize,
) {
    // SAFETY: caller contract.
    if let (Ok(s), Ok(f)) = unsafe { (stack(st), slice(frame, len)) } {
        s.receive(ifindex, f);
    }
}

/// A frame of a batch arrived (see [`Stack::receive_batched`]); `rinet_run` follows
/// the batch.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_netdev_rx_batched(
    st: *mut RinetStack,
    ifindex: u32,
    frame: *const u8,
    len: usize,
) {
    // SAFETY: caller contract.
    if let (Ok(s), Ok(f)) = unsafe { (stack(st), slice(frame, len)) } {
        s.receive_batched(ifindex, f);
    }
}

/// Run the stack after a batch of `rinet_netdev_rx_batched` frames.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_run(st: *mut RinetStack) {
    // SAFETY: caller contract.
    if let Ok(s) = unsafe { stack(st) } {
        s.run_changed();
    }
}

/// The timer armed through `set_timer` expired.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_poll(st: *mut RinetStack) {
    // SAFETY: caller contract.
    if let Ok(s) = unsafe { stack(st) } {
        s.poll();
    }
}

/// Set an interface address (`addr` in network byte order as 4 bytes); prefix > 32 removes it.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_if_set_addr(
    st: *mut RinetStack,
    ifindex: u32,
    addr: *const u8,
    prefix: u32,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, ip) = unsafe { (stack(st)?, ip_at(addr)?) };
        let cidr = (prefix <= 32).then_some(Cidr {
            addr: ip,
            prefix: prefix as u8,
        });
        s.set_addr(ifindex, cidr)
    })())
}

/// Add (`add` = 1) or delete a route. Addresses are 4 bytes, network order; gateway
/// 0.0.0.0 means on-link; on delete, `ifindex` 0 matches any interface.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_route(
    st: *mut RinetStack,
    add: i32,
    dest: *const u8,
    prefix: u32,
    gateway: *const u8,
    ifindex: u32,
    metric: u32,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, dest, gateway) = unsafe { (stack(st)?, ip_at(dest)?, ip_at(gateway)?) };
        if prefix > 32 {
            return Err(Errno::EINVAL);
        }
        if add != 0 {
            s.add_route(Route {
                dest,
                prefix: prefix as u8,
                gateway,
                ifindex,
                metric,
                connected: false,
            })
        } else {
            let gw = (!gateway.is_any()).then_some(gateway);
            s.delete_route(dest, prefix as u8, gw, (ifindex != 0).then_some(ifindex))
        }
    })())
}

/// Address and prefix of an interface; -EADDRNOTAVAIL if it has none.
///
/// # Safety
/// `addr` points to 4 writable bytes, `prefix` to a u32.
#[no_mangle]
pub unsafe extern "C" fn rinet_if_get_addr(
    st: *mut RinetStack,
    ifindex: u32,
    addr: *mut u8,
    prefix: *mut u32,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, out) = unsafe { (stack(st)?, slice_mut(addr, 4)?) };
        let c = s
            .netif(ifindex)
            .ok_or(Errno::ENODEV)?
            .addr
            .ok_or(Errno::EADDRNOTAVAIL)?;
        out.copy_from_slice(&c.addr.0);
        // SAFETY: caller contract.
        *unsafe { prefix.as_mut() }.ok_or(Errno::EFAULT)? = u32::from(c.prefix);
        Ok(())
    })())
}

/// Drop `n` bytes a stream socket received (after the glue copied them with MSG_PEEK).
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_consume(st: *mut RinetStack, id: u32, n: usize) -> isize {
    // SAFETY: caller contract.
    ret_len((|| unsafe { stack(st)?.consume(SocketId(id), n) })())
}

/// One socket for `/proc/net/{tcp,udp,raw}`; addresses in network byte order.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct RinetSockInfo {
    pub id: u32,
    pub proto: u8,
    pub state: u8,
    pub local_port: u16,
    pub local: [u8; 4],
    pub remote: [u8; 4],
    pub remote_port: u16,
    pub pad: u16,
    pub tx_queue: u32,
    pub rx_queue: u32,
}

/// Socket number `nth`; -ENOENT past the last.
///
/// # Safety
/// `out` points to a writable `struct rinet_sock_info`.
#[no_mangle]
pub unsafe extern "C" fn rinet_sock_info(
    st: *mut RinetStack,
    nth: u32,
    out: *mut RinetSockInfo,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, o) = unsafe { (stack(st)?, out.as_mut().ok_or(Errno::EFAULT)?) };
        let i = s.socket_info(nth as usize).ok_or(Errno::ENOENT)?;
        *o = RinetSockInfo {
            id: i.id.0,
            proto: i.proto,
            state: i.state,
            local_port: i.local.port,
            local: i.local.addr.0,
            remote: i.remote.addr.0,
            remote_port: i.remote.port,
            pad: 0,
            tx_queue: i.tx_queue,
            rx_queue: i.rx_queue,
        };
        Ok(())
    })())
}

/// One route for `/proc/net/route`; addresses in network byte order.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct RinetRouteInfo {
    pub ifindex: u32,
    pub dest: [u8; 4],
    pub gateway: [u8; 4],
    pub mask: [u8; 4],
    pub flags: u32,
    pub metric: u32,
}

/// Route number `nth`; -ENOENT past the last.
///
/// # Safety
/// `out` points to a writable `struct rinet_route_info`.
#[no_mangle]
pub unsafe extern "C" fn rinet_route_info(
    st: *mut RinetStack,
    nth: u32,
    out: *mut RinetRouteInfo,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, o) = unsafe { (stack(st)?, out.as_mut().ok_or(Errno::EFAULT)?) };
        let r = s.routes().nth(nth as usize).ok_or(Errno::ENOENT)?;
        *o = RinetRouteInfo {
            ifindex: r.ifindex,
            dest: r.dest.0,
            gateway: r.gateway.0,
            mask: Ipv4::mask(r.prefix).0,
            flags: u32::from(r.flags()),
            metric: r.metric,
        };
        Ok(())
    })())
}

/// One neighbour (ARP entry) for `/proc/net/arp`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct RinetNeighInfo {
    pub ifindex: u32,
    pub ip: [u8; 4],
    pub mac: [u8; 6],
    /// `arp_flags` (`ATF_COM`, `ATF_PERM`).
    pub flags: u16,
}

impl RinetNeighInfo {
    fn from(n: &crate::neigh::Neighbor) -> RinetNeighInfo {
        RinetNeighInfo {
            ifindex: n.ifindex,
            ip: n.ip.0,
            mac: n.mac,
            flags: n.flags() as u16,
        }
    }
}

/// Neighbour number `nth`; -ENOENT past the last.
///
/// # Safety
/// `out` points to a writable `struct rinet_neigh_info`.
#[no_mangle]
pub unsafe extern "C" fn rinet_neigh_info(
    st: *mut RinetStack,
    nth: u32,
    out: *mut RinetNeighInfo,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, o) = unsafe { (stack(st)?, out.as_mut().ok_or(Errno::EFAULT)?) };
        let n = s.neighbors().nth(nth as usize).ok_or(Errno::ENOENT)?;
        *o = RinetNeighInfo::from(n);
        Ok(())
    })())
}

/// `SIOCSARP`: set the neighbour `ip` (4 bytes) on `ifindex` (0: the interface it is
/// on-link through) to `mac` (6 bytes; NULL without `ATF_COM`), permanent if `permanent`
/// is not 0.
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_neigh_set(
    st: *mut RinetStack,
    ifindex: u32,
    ip: *const u8,
    mac: *const u8,
    permanent: u32,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let s = unsafe { stack(st)? };
        let mac = if mac.is_null() {
            None
        } else {
            let mut m = [0u8; 6];
            // SAFETY: caller contract.
            m.copy_from_slice(unsafe { slice(mac, 6)? });
            Some(m)
        };
        // SAFETY: caller contract.
        s.neigh_set(ifindex, unsafe { ip_at(ip)? }, mac, permanent != 0)
    })())
}

/// `SIOCGARP`: the neighbour `ip` on `ifindex`; -ENXIO if unknown.
///
/// # Safety
/// Pointers as documented on the module; `out` points to a writable
/// `struct rinet_neigh_info`.
#[no_mangle]
pub unsafe extern "C" fn rinet_neigh_get(
    st: *mut RinetStack,
    ifindex: u32,
    ip: *const u8,
    out: *mut RinetNeighInfo,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, o) = unsafe { (stack(st)?, out.as_mut().ok_or(Errno::EFAULT)?) };
        // SAFETY: caller contract.
        let ip = unsafe { ip_at(ip)? };
        *o = RinetNeighInfo::from(&s.neigh_get(ifindex, ip)?);
        Ok(())
    })())
}

/// `SIOCDARP`: forget the neighbour `ip` on `ifindex` (0 as for `rinet_neigh_set`).
///
/// # Safety
/// Pointers as documented on the module.
#[no_mangle]
pub unsafe extern "C" fn rinet_neigh_delete(
    st: *mut RinetStack,
    ifindex: u32,
    ip: *const u8,
) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let s = unsafe { stack(st)? };
        // SAFETY: caller contract.
        s.neigh_delete(ifindex, unsafe { ip_at(ip)? })
    })())
}

/// The glue's `struct rinet_snmp`.
pub type RinetSnmp = crate::stats::Mib;

/// # Safety
/// `out` points to a writable `struct rinet_snmp`.
#[no_mangle]
pub unsafe extern "C" fn rinet_snmp(st: *mut RinetStack, out: *mut RinetSnmp) -> i32 {
    ret((|| {
        // SAFETY: caller contract.
        let (s, o) = unsafe { (stack(st)?, out.as_mut().ok_or(Errno::EFAULT)?) };
        let estab = (0..)
            .map_while(|i| s.socket_info(i))
            .filter(|i| {
                let open = [TcpState::Established, TcpState::CloseWait].map(|s| s as u8);
                i.proto == crate::wire::IPPROTO_TCP && open.contains(&i.state)
            })
            .count() as u64;
        s.core.stats.mib.tcp_curr_estab = estab;
        *o = s.core.stats.mib.clone();
        Ok(())
    })())
}

/// The name of drop reason `reason` (`rinet::wire::DropReason`) as a NUL-terminated
/// string for `/proc/net/snmp`, or NULL past the last.
#[no_mangle]
pub extern "C" fn rinet_drop_name(reason: u32) -> *const core::ffi::c_char {
    crate::wire::DROP_NAMES
        .get(reason as usize)
        .map_or(core::ptr::null(), |n| n.as_ptr())
}

#[cfg(test)]
mod tests {
    //! The C ABI's answers to bad pointers, lengths and arguments: an errno, never a read
    //! or a write through them. Where Linux has the same case, its errno (as the host's
    //! own stack gave it).
    use super::*;
    use crate::socket::{SOCK_DGRAM, SOCK_STREAM};

    unsafe extern "C" fn now_us(_: *mut c_void) -> u64 {
        1_000_000
    }
    unsafe extern "C" fn transmit(_: *mut c_void, _: u32, _: *const u8, _: usize) {}
    unsafe extern "C" fn wake(_: *mut c_void, _: u32, _: u32) {}
    unsafe extern "C" fn error(_: *mut c_void, _: u32, _: i32) {}
    unsafe extern "C" fn set_timer(_: *mut c_void, _: *const u64) {}

    struct Owned(*mut RinetStack);

    impl Drop for Owned {
        fn drop(&mut self) {
            // SAFETY: made by rinet_stack_new, freed once.
            unsafe { rinet_stack_free(self.0) };
        }
    }

    fn new_stack() -> Owned {
        let ops = RinetOps {
            ctx: core::ptr::null_mut(),
            now_us,
            transmit,
            transmit_tcp: None,
            lend_frame: None,
            transmit_lent: None,
            free_lent: None,
            wake,
            error,
            set_timer,
            seed: 1,
        };
        // SAFETY: the callbacks are plain functions; NULL asks for the default config.
        let st = unsafe { rinet_stack_new(&ops, core::ptr::null()) };
        assert!(!st.is_null());
        Owned(st)
    }

    fn socket(st: *mut RinetStack, ty: i32, proto: i32) -> Result<u32, i32> {
        let mut id = 0;
        // SAFETY: st is live, id writable.
        match unsafe { rinet_socket(st, ty, proto, &mut id) } {
            0 => Ok(id),
            e => Err(e),
        }
    }

    fn sockaddr(family: u16, port: u16) -> [u8; 16] {
        let mut sa = [0u8; 16];
        sa[..2].copy_from_slice(&family.to_ne_bytes());
        sa[2..4].copy_from_slice(&port.to_be_bytes());
        sa
    }

    #[test]
    fn no_stack_and_no_ops_are_refused() {
        // SAFETY: NULL is what is being tested.
        unsafe {
            assert!(rinet_stack_new(core::ptr::null(), core::ptr::null()).is_null());
            assert_eq!(rinet_listen(core::ptr::null_mut(), 1, 1), -Errno::EINVAL.0);
            rinet_stack_free(core::ptr::null_mut());
        }
    }

    #[test]
    fn socket_types_and_protocols_answer_as_linux() {
        let st = new_stack();
        assert_eq!(socket(st.0, 5, 0), Err(-Errno::ESOCKTNOSUPPORT.0));
        assert_eq!(
            socket(st.0, SOCK_STREAM, 17),
            Err(-Errno::EPROTONOSUPPORT.0)
        );
        assert_eq!(socket(st.0, SOCK_DGRAM, 6), Err(-Errno::EPROTONOSUPPORT.0));
        assert!(socket(st.0, SOCK_STREAM, 6).is_ok());
        // SAFETY: a NULL out-pointer, refused before any write.
        let r = unsafe { rinet_socket(st.0, SOCK_DGRAM, 0, core::ptr::null_mut()) };
        assert_eq!(r, -Errno::EFAULT.0);
    }

    #[test]
    fn bad_addresses_and_buffers_are_errnos() {
        let st = new_stack();
        let s = socket(st.0, SOCK_DGRAM, 0).unwrap();
        let good = sockaddr(2, 7);
        let v6 = sockaddr(10, 7);
        let null = core::ptr::null_mut::<u8>();
        // SAFETY: every pointer is valid for its length, or NULL where that is tested.
        unsafe {
            assert_eq!(rinet_bind(st.0, s, null, 16), -Errno::EFAULT.0);
            assert_eq!(rinet_bind(st.0, s, good.as_ptr(), 8), -Errno::EINVAL.0);
            assert_eq!(rinet_bind(st.0, s, v6.as_ptr(), 16), -Errno::EAFNOSUPPORT.0);
            assert_eq!(rinet_connect(st.0, s, good.as_ptr(), 8), -Errno::EINVAL.0);
            assert_eq!(rinet_bind(st.0, s + 1, good.as_ptr(), 16), -Errno::EBADF.0);
            assert_eq!(rinet_bind(st.0, s, good.as_ptr(), 16), 0);
            assert_eq!(rinet_getname(st.0, s, 0, null), -Errno::EFAULT.0);
            let r = rinet_recv(st.0, s, null, 4, 0, core::ptr::null_mut(), null);
            assert_eq!(r, -(Errno::EFAULT.0 as isize));
            assert_eq!(
                rinet_send(st.0, s, null, 4, good.as_ptr(), 16),
                -(Errno::EFAULT.0 as isize)
            );
            // getsockopt: no length, or a length with no buffer.
            let (sol_ip, ip_ttl) = (0, 2);
            let r = rinet_getsockopt(st.0, s, sol_ip, ip_ttl, null, core::ptr::null_mut());
            assert_eq!(r, -Errno::EFAULT.0);
            let mut len = 4usize;
            let r = rinet_getsockopt(st.0, s, sol_ip, ip_ttl, null, &mut len);
            assert_eq!(r, -Errno::EFAULT.0);
            let mut ttl = [0u8; 4];
            assert_eq!(
                rinet_getsockopt(st.0, s, sol_ip, ip_ttl, ttl.as_mut_ptr(), &mut len),
                0
            );
            assert_eq!((i32::from_ne_bytes(ttl), len), (64, 4));
        }
    }
}
