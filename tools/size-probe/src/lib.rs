//! The smoltcp calls rinet makes, behind a minimal C ABI of the same shape (one frame in,
//! frames out through a callback, timers), with no socket semantics of its own.
#![no_std]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};

use smoltcp::iface::{Config, Interface, Route, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{raw, tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpProtocol, IpVersion, Ipv4Address, Ipv4Cidr,
};

extern "C" {
    fn rinet_c_alloc(size: usize, align: usize) -> *mut u8;
    fn rinet_c_free(ptr: *mut u8);
    fn rinet_c_panic(file: *const u8, len: usize, line: u32) -> !;
    fn probe_c_tx(frame: *const u8, len: usize);
}

struct A;
// SAFETY: forwards to the host allocator.
unsafe impl GlobalAlloc for A {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: plain call.
        unsafe { rinet_c_alloc(l.size(), l.align()) }
    }
    unsafe fn dealloc(&self, p: *mut u8, _: Layout) {
        // SAFETY: p came from alloc.
        unsafe { rinet_c_free(p) }
    }
}
#[global_allocator]
static ALLOC: A = A;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (f, l) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    // SAFETY: valid string.
    unsafe { rinet_c_panic(f.as_ptr(), f.len(), l) }
}

struct Dev {
    rx: VecDeque<Vec<u8>>,
    medium: Medium,
}
struct Rx(Vec<u8>);
struct Tx;
impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}
impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut b = vec![0u8; len];
        let r = f(&mut b);
        // SAFETY: valid buffer.
        unsafe { probe_c_tx(b.as_ptr(), b.len()) };
        r
    }
}
impl Device for Dev {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;
    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx)> {
        self.rx.pop_front().map(|b| (Rx(b), Tx))
    }
    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(Tx)
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = self.medium;
        c.max_transmission_unit = 1514;
        c
    }
}

struct Probe {
    dev: Dev,
    iface: Interface,
    sockets: SocketSet<'static>,
}

static mut PROBE: Option<Probe> = None;

#[allow(static_mut_refs)]
fn p() -> &'static mut Probe {
    // SAFETY: single-threaded probe; initialised by probe_init.
    unsafe {
        PROBE
            .as_mut()
            .unwrap_or_else(|| rinet_c_panic(b"init".as_ptr(), 4, 0))
    }
}

fn now(us: u64) -> Instant {
    Instant::from_micros(us as i64)
}

/// # Safety
/// `mac` points to 6 bytes.
#[no_mangle]
pub unsafe extern "C" fn probe_init(
    mac: *const u8,
    ip: u32,
    prefix: u8,
    gw: u32,
    loopback: bool,
    us: u64,
) {
    // rinet runs smoltcp on `Medium::Ip` for every device, and takes every packet it
    // hands over (the link address and the loopback flag only shape rinet's own side).
    let _ = (mac, loopback);
    let mut dev = Dev {
        rx: VecDeque::new(),
        medium: Medium::Ip,
    };
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut dev, now(us));
    iface.set_any_ip(true);
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::Ipv4(Ipv4Cidr::new(
            Ipv4Address::from_bits(ip),
            prefix,
        )));
    });
    iface.routes_mut().update(|r| {
        let _ = r.push(Route {
            cidr: IpCidr::Ipv4(Ipv4Cidr::new(Ipv4Address::UNSPECIFIED, 0)),
            via_router: IpAddress::Ipv4(Ipv4Address::from_bits(gw)),
            preferred_until: None,
            expires_at: None,
        });
    });
    // SAFETY: single-threaded probe.
    unsafe {
        PROBE = Some(Probe {
            dev,
            iface,
            sockets: SocketSet::new(vec![]),
        })
    };
}

/// # Safety
/// `f` is valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn probe_rx(f: *const u8, len: usize, us: u64) {
    let pr = p();
    // SAFETY: caller contract.
    pr.dev
        .rx
        .push_back(unsafe { core::slice::from_raw_parts(f, len) }.to_vec());
    pr.iface
        .poll_ingress_single(now(us), &mut pr.dev, &mut pr.sockets);
    pr.iface.poll_maintenance(now(us));
    pr.iface.poll_egress(now(us), &mut pr.dev, &mut pr.sockets);
}

#[no_mangle]
pub extern "C" fn probe_poll_delay(us: u64) -> u64 {
    let pr = p();
    pr.iface
        .poll_delay(now(us), &pr.sockets)
        .map_or(u64::MAX, |d| d.total_micros())
}

fn h(i: usize) -> SocketHandle {
    p().sockets
        .iter()
        .nth(i)
        .map(|(h, _)| h)
        .unwrap_or_else(|| unsafe { rinet_c_panic(b"h".as_ptr(), 1, 0) })
}

#[no_mangle]
pub extern "C" fn probe_tcp(port: u16, connect_to: u32, rx: usize) -> i32 {
    let pr = p();
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; rx]),
        tcp::SocketBuffer::new(vec![0; rx]),
    );
    s.set_timeout(Some(Duration::from_secs(120)));
    s.set_nagle_enabled(false);
    s.set_ack_delay(None);
    s.set_keep_alive(Some(Duration::from_secs(75)));
    let r = if connect_to == 0 {
        s.listen(port).is_ok()
    } else {
        s.connect(
            pr.iface.context(),
            IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::from_bits(connect_to)), port),
            40000,
        )
        .is_ok()
    };
    pr.sockets.add(s);
    r as i32
}

/// # Safety
/// `b` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn probe_tcp_io(i: usize, b: *mut u8, len: usize, op: i32) -> isize {
    let hh = h(i);
    let s = p().sockets.get_mut::<tcp::Socket>(hh);
    // SAFETY: caller contract.
    let buf = unsafe { core::slice::from_raw_parts_mut(b, len) };
    let r = match op {
        0 => s.send_slice(buf).map_err(|_| ()),
        1 => s.recv_slice(buf).map_err(|_| ()),
        2 => s.peek_slice(buf).map_err(|_| ()),
        3 => {
            s.close();
            Ok(0)
        }
        4 => {
            s.abort();
            Ok(0)
        }
        _ => {
            let _ = s.recv(|b| (b.len(), ()));
            Ok(s.state() as usize
                + s.recv_queue()
                + s.send_queue()
                + s.can_send() as usize
                + s.can_recv() as usize
                + s.may_send() as usize
                + s.may_recv() as usize
                + s.local_endpoint().map_or(0, |e| e.port as usize)
                + s.remote_endpoint().map_or(0, |e| e.port as usize))
        }
    };
    r.map_or(-1, |n| n as isize)
}

/// # Safety
/// `b` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn probe_udp(
    port: u16,
    b: *mut u8,
    len: usize,
    dst: u32,
    raw: bool,
) -> isize {
    let pr = p();
    // SAFETY: caller contract.
    let buf = unsafe { core::slice::from_raw_parts_mut(b, len) };
    if raw {
        let mut s = raw::Socket::new(
            Some(IpVersion::Ipv4),
            Some(IpProtocol::Icmp),
            raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; 8], vec![0; 4096]),
            raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; 8], vec![0; 4096]),
        );
        let _ = s.send_slice(buf);
        let n = s.peek().map_or(0, |d| d.len()) + s.recv_slice(buf).unwrap_or(0);
        pr.sockets.add(s);
        return n as isize;
    }
    let mut s = udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16384]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 16384]),
    );
    let _ = s.bind(port);
    let _ = s.send_slice(
        buf,
        IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::from_bits(dst)), port),
    );
    let n = s
        .peek()
        .map_or(0, |(d, m)| d.len() + m.endpoint.port as usize)
        + s.recv_slice(buf).map_or(0, |(n, _)| n);
    pr.sockets.add(s);
    n as isize
}

#[no_mangle]
pub extern "C" fn probe_remove(i: usize) {
    let hh = h(i);
    p().sockets.remove(hh);
}
