//! rinet as the kernel links it: the C ABI of `rinet::ffi`, an allocator on top of the
//! glue's `kmalloc(GFP_ATOMIC)`, and a panic handler that reports through the glue.
//! A panic is a bug: the glue dumps the stack and panics the kernel with the location.
#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

pub use rinet::ffi::*;

extern "C" {
    /// `kmalloc(size, GFP_ATOMIC)`; NULL on failure (never sleeps: called under the stack lock).
    fn rinet_c_alloc(size: usize, align: usize) -> *mut u8;
    fn rinet_c_free(ptr: *mut u8);
    /// Report a Rust panic (file, line) and never return.
    fn rinet_c_panic(file: *const u8, len: usize, line: u32) -> !;
}

struct KernelAlloc;

/// What the stack holds from the kernel allocator, in requested bytes: /proc/net/snmp
/// shows it (`HeapBytes`), so that what a flood makes the stack hold can be measured
/// apart from the rest of the kernel (MemFree also moves with the slab caches).
static HEAP_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Add `delta` (wrapping) to [`HEAP_BYTES`]. Every call into the stack holds the glue's
/// stack lock (and `rinet_stack_new` runs before any other), so a plain load and store
/// suffice; a locked add would be refused on the Galileo, whose errata forbid the LOCK
/// prefix (`cargo xtask galileo-checks`).
fn heap_add(delta: usize) {
    HEAP_BYTES.store(HEAP_BYTES.load(Relaxed).wrapping_add(delta), Relaxed);
}

// SAFETY: forwards to the kernel allocator, which returns memory aligned to at least
// ARCH_KMALLOC_MINALIGN; the glue rounds larger alignments up.
unsafe impl GlobalAlloc for KernelAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain allocation call.
        let p = unsafe { rinet_c_alloc(layout.size(), layout.align()) };
        if !p.is_null() {
            heap_add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        heap_add(layout.size().wrapping_neg());
        // SAFETY: ptr came from rinet_c_alloc.
        unsafe { rinet_c_free(ptr) }
    }
}

/// The bytes the stack holds from the kernel allocator now (under the stack lock).
#[no_mangle]
pub extern "C" fn rinet_heap_bytes() -> usize {
    HEAP_BYTES.load(Relaxed)
}

#[global_allocator]
static ALLOC: KernelAlloc = KernelAlloc;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // No formatting machinery: file and line, with the stack the glue dumps, find the bug.
    // ARMv7-M builds with -Cpanic=immediate-abort: there a panic is a trap instruction and
    // this handler is never called.
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    // SAFETY: file is a valid string for the call.
    unsafe { rinet_c_panic(file.as_ptr(), file.len(), line) }
}
