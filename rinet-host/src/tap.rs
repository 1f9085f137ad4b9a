//! A Linux TAP device: Ethernet frames in and out of a file descriptor. With a virtio-net
//! header (`IFF_VNET_HDR`), a TCP frame written may leave its checksum and its cutting
//! into MSS-sized segments to the host kernel, as a guest's virtio-net device does
//! (`Tap::send_tcp`); frames read never need either (no `TUNSETOFFLOAD`: the host hands
//! over only finished frames).

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// `struct virtio_net_hdr`: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
const VNET_HDR_LEN: usize = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

pub struct Tap {
    fd: RawFd,
    vnet: bool,
}

impl Tap {
    /// Create (or attach to) TAP device `name` in the current network namespace; `vnet`:
    /// with the virtio-net header, for [`Tap::send_tcp`].
    pub fn open(name: &str, vnet: bool) -> io::Result<Tap> {
        if name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "interface name too long",
            ));
        }
        let path = CString::new("/dev/net/tun").expect("static path");
        // SAFETY: plain open(2) with a valid C string.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI | if vnet { IFF_VNET_HDR } else { 0 },
            _pad: [0; 22],
        };
        for (d, s) in req.name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        // SAFETY: TUNSETIFF takes a struct ifreq, which IfReq mirrors.
        if unsafe { libc::ioctl(fd, TUNSETIFF as _, &mut req) } < 0 {
            let e = io::Error::last_os_error();
            // SAFETY: fd is ours.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        Ok(Tap { fd, vnet })
    }

    /// One frame, or `None` when nothing is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let iov = [
            libc::iovec {
                iov_base: hdr.as_mut_ptr().cast(),
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            },
        ];
        let iov = if self.vnet { &iov[..] } else { &iov[1..] };
        // SAFETY: each iovec describes a live buffer of its length.
        let n = unsafe { libc::readv(self.fd, iov.as_ptr(), iov.len() as libc::c_int) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let hdr_len = if self.vnet { VNET_HDR_LEN } else { 0 };
        Ok(Some((n as usize).saturating_sub(hdr_len)))
    }

    pub fn send(&self, frame: &[u8]) {
        self.write(&[0; VNET_HDR_LEN], frame);
    }

    /// Send a TCP/IPv4 frame whose checksum field holds the pseudo-header sum, for the
    /// host to finish and, with `mss` not 0, to cut into `mss`-byte segments; false
    /// without the virtio-net header.
    pub fn send_tcp(&self, frame: &[u8], mss: u16) -> bool {
        if !self.vnet {
            return false;
        }
        let Some(&ihl) = frame.get(14) else {
            return false;
        };
        let csum_start = 14 + usize::from(ihl & 0x0f) * 4;
        let Some(&doff) = frame.get(csum_start + 12) else {
            return false;
        };
        let hdr_len = (csum_start + usize::from(doff >> 4) * 4) as u16;
        let mut h = [0u8; VNET_HDR_LEN];
        h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        if mss != 0 {
            h[1] = VIRTIO_NET_HDR_GSO_TCPV4;
        }
        // The host's byte order, as virtio's legacy header on a little-endian host.
        h[2..4].copy_from_slice(&hdr_len.to_ne_bytes());
        h[4..6].copy_from_slice(&mss.to_ne_bytes());
        h[6..8].copy_from_slice(&(csum_start as u16).to_ne_bytes());
        h[8..10].copy_from_slice(&16u16.to_ne_bytes());
        self.write(&h, frame);
        true
    }

    fn write(&self, hdr: &[u8; VNET_HDR_LEN], frame: &[u8]) {
        let iov = [
            libc::iovec {
                iov_base: hdr.as_ptr() as *mut _,
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: frame.as_ptr() as *mut _,
                iov_len: frame.len(),
            },
        ];
        let iov = if self.vnet { &iov[..] } else { &iov[1..] };
        // A full queue drops the frame, as a NIC would; TCP recovers.
        // SAFETY: each iovec describes a live buffer of its length; writev only reads.
        let _ = unsafe { libc::writev(self.fd, iov.as_ptr(), iov.len() as libc::c_int) };
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Sleep until a frame is waiting or `timeout_ms` passed.
    pub fn wait_readable(&self, timeout_ms: i32) {
        let mut p = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, timeout_ms) };
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        // SAFETY: fd is ours and closed once.
        unsafe { libc::close(self.fd) };
    }
}
