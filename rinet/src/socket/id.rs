//! Socket handles, apart from the socket layer: the host names sockets by them too
//! ([`crate::platform::Platform::wake`]).

/// A socket handle: slot index and a generation, so a stale handle never reaches a new
/// socket that reused the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct SocketId(pub u32);

impl SocketId {
    pub(super) fn new(index: usize, gen: u16) -> SocketId {
        SocketId((u32::from(gen) << 16) | (index as u32 + 1))
    }

    pub(super) fn index(self) -> Option<usize> {
        ((self.0 & 0xffff) as usize).checked_sub(1)
    }

    pub(super) fn gen(self) -> u16 {
        (self.0 >> 16) as u16
    }
}
