//! What the stack needs from its host (the kernel glue, or the user-space runner), and the
//! sizes and limits it is built with: apart from [`crate::stack`], so that the socket layer
//! can name them without naming the stack.

use crate::socket::id::SocketId;

/// What the stack needs from its host (the kernel glue, or the user-space runner).
pub trait Platform {
    /// Monotonic time in microseconds.
    fn now_us(&mut self) -> u64;
    /// Put a complete link-layer frame on interface `ifindex`.
    fn transmit(&mut self, ifindex: u32, frame: &[u8]);
    /// Put a TCP/IPv4 frame whose TCP checksum field holds the pseudo-header sum on
    /// interface `ifindex`, for the device to finish the checksum and, when `mss` is not
    /// 0, to cut the segment into segments of `mss` payload bytes. False when the device
    /// cannot: the stack then does both in software and calls [`Platform::transmit`].
    #[cfg(feature = "offload")]
    fn transmit_tcp(&mut self, _ifindex: u32, _frame: &[u8], _mss: u16) -> bool {
        false
    }
    /// Lend `len` bytes to build an outgoing frame in (the kernel: an skb's data), so
    /// that the frame reaches the device without a copy. None: the stack builds it in
    /// its own buffer and [`Platform::transmit`] copies it. The frame comes back through
    /// [`Platform::transmit_lent`] or [`Platform::free_lent`].
    #[cfg(feature = "offload")]
    fn lend_frame(&mut self, _len: usize) -> Option<LentFrame> {
        None
    }
    /// Put a lent frame on interface `ifindex`, as [`Platform::transmit`] does or, with
    /// `tcp`, as [`Platform::transmit_tcp`] does; the frame back when the device cannot
    /// take it (`tcp` only: the stack then cuts the segment itself).
    #[cfg(feature = "offload")]
    fn transmit_lent(
        &mut self,
        frame: LentFrame,
        _ifindex: u32,
        _tcp: bool,
        _mss: u16,
    ) -> Result<(), LentFrame> {
        Err(frame)
    }
    /// Take back a lent frame that was not transmitted.
    #[cfg(feature = "offload")]
    fn free_lent(&mut self, _frame: LentFrame) {}
    /// Whether TCP segments of many MSS are worth building: true where devices can cut
    /// them (the stack cuts them for a device that cannot, at a cost). Asked once.
    #[cfg(feature = "offload")]
    fn segments_tcp(&mut self) -> bool {
        false
    }
    /// The poll mask of socket `id` changed to `mask`: wake its waiters.
    fn wake(&mut self, id: SocketId, mask: u32);
    /// The pending error of socket `id` (what `SO_ERROR` reports) is now `err`. The
    /// kernel keeps it in `sk_err`, where net/core's `getsockopt` reads it; a host that
    /// asks [`crate::Stack::take_error`] instead needs nothing here.
    fn error(&mut self, _id: SocketId, _err: Option<crate::Errno>) {}
    /// Call [`crate::Stack::poll`] at `at_us` (absolute); `None` cancels the timer.
    fn set_timer(&mut self, at_us: Option<u64>);
    /// Seed for initial sequence numbers and ephemeral ports; must differ per boot.
    fn random_seed(&mut self) -> u64;
}

/// A frame buffer the host lent the stack (see [`Platform::lend_frame`]): `len` bytes at
/// `data`, which stay valid and the stack's alone until the frame goes back to the host.
#[cfg(feature = "offload")]
pub struct LentFrame {
    pub data: core::ptr::NonNull<u8>,
    pub len: usize,
    /// The host's name for the frame (the kernel: the skb).
    pub handle: core::ptr::NonNull<core::ffi::c_void>,
}

/// Buffer sizes and limits. The defaults suit a small device serving HTTP.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub tcp_rx_buf: usize,
    pub tcp_tx_buf: usize,
    pub udp_buf: usize,
    pub udp_packets: usize,
    pub raw_buf: usize,
    pub raw_packets: usize,
    /// Most sockets open at once (user sockets; connections in TIME-WAIT not counted).
    pub max_sockets: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            tcp_rx_buf: 32 * 1024,
            tcp_tx_buf: 32 * 1024,
            udp_buf: 16 * 1024,
            udp_packets: 16,
            raw_buf: 4 * 1024,
            raw_packets: 8,
            max_sockets: 256,
        }
    }
}
