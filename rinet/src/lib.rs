//! rinet: a small TCP/IPv4 stack with Linux socket semantics, for kernels built without
//! `CONFIG_INET` and for user space on a TAP device.
//!
//! Layers, from the wire up (each a module):
//! - [`wire`]: frame validation and classification, apart from any socket logic;
//! - [`engine`]: the protocol engine boundary (smoltcp lives only there);
//! - [`iface`]: interfaces, routes and neighbours, and the questions socket calls ask of
//!   them (`Net`);
//! - [`platform`]: what the stack needs from its host, and its configuration;
//! - [`stack`]: receive/transmit, timers, counters and the public calls, over the socket
//!   layer's `Core` and the `Net`;
//! - [`neigh`]: the neighbour (ARP) table the host sees and edits;
//! - [`socket`]: the socket-facing layer (BSD semantics: backlog, ephemeral ports, shutdown,
//!   options, errno), in the spirit of BSD's "usrreq" layer;
//! - `ffi` (feature `ffi`): the narrow C ABI the kernel glue calls.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod addr;
pub mod engine;
pub mod errno;
pub mod iface;
pub mod neigh;
#[cfg(feature = "offload")]
pub mod offload;
pub mod platform;
pub mod route;
pub mod socket;
pub mod stack;
pub mod stats;
mod table;
pub mod wire;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(feature = "ffi")]
pub mod ffi;

pub use addr::{Cidr, Endpoint, Ipv4};
pub use errno::{Errno, SysResult};
pub use socket::SocketId;
pub use stack::{Config, Platform, Stack};
