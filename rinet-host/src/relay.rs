//! A faulty link between a QEMU guest and a TAP device, where the kernel has no netem:
//! QEMU's `-netdev socket,udp=` carries the guest's Ethernet frames as UDP datagrams to
//! this relay, which passes them to the TAP and back through the same fault injector
//! rinet-host uses for its own frames (loss, reordering, duplication, corruption, each way).

use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::faults::{Faults, Injected, Injector};
use crate::tap::Tap;

/// Relay frames between the TAP `tap` and QEMU at `qemu` (which sends to `local`) until
/// `stop` is set; returns what the injector did.
pub fn run(
    tap: &str,
    local: SocketAddr,
    qemu: SocketAddr,
    faults: Faults,
    stop: &AtomicBool,
) -> io::Result<Injected> {
    let tap = Tap::open(tap, false)?;
    let udp = UdpSocket::bind(local)?;
    udp.set_nonblocking(true)?;
    let inj = Injector::new(faults, 0x7e1a7);
    let (to_guest_held, to_host_held) = (RefCell::new(None), RefCell::new(None));
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [
            libc::pollfd {
                fd: tap.fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: udp.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 100) };
        while let Some(n) = tap.recv(&mut buf)? {
            inj.pass(&buf[..n], &to_guest_held, &mut |f| {
                let _ = udp.send_to(f, qemu);
            });
        }
        loop {
            match udp.recv_from(&mut buf) {
                Ok((n, from)) if from == qemu => {
                    inj.pass(&buf[..n], &to_host_held, &mut |f| tap.send(f));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(inj.injected())
}
