//! The global allocator of every Plinth service: mimalloc, with its arenas
//! committed on demand.
//!
//! A request allocates and frees many small buffers (bodies, decoded messages,
//! metadata, futures) on the tokio workers and hands some of them to the
//! storage threads. With the system allocator, `malloc`, `free` and
//! `malloc_consolidate` were a fifth of the workers' time in profiles of
//! durable writes (`BENCHMARKS.md`); with mimalloc, under a tenth.
//!
//! On Linux mimalloc commits each arena eagerly, which kept the memory freed
//! after startup resident: an idle service used about twice the memory. The
//! first allocation turns that off (`arena_eager_commit = 0`), which left
//! throughput unchanged in the same benchmarks. A service that needs another
//! allocator turns off Plinth's default features and declares its own
//! `#[global_allocator]`.

// The one place with `unsafe`: `GlobalAlloc` is an unsafe trait, and setting a
// mimalloc option is a foreign call.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, Ordering};

use mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` in mimalloc's `mi_option_t` (`mimalloc.h`;
/// the same index in its versions 2 and 3). `libmimalloc-sys` does not name it.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Whether the options were set.
static CONFIGURED: AtomicBool = AtomicBool::new(false);

/// mimalloc, configured before its first allocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator;

#[inline]
fn configure() {
    if !CONFIGURED.load(Ordering::Relaxed) {
        // SAFETY: `mi_option_set` stores a number in mimalloc's option table;
        // it allocates nothing, so calling it from inside the allocator cannot
        // recurse. Two threads racing here store the same value.
        unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) };
        CONFIGURED.store(true, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `MiMalloc`, which upholds the
// `GlobalAlloc` contract; `configure` only changes how mimalloc commits the
// memory it reserves.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        configure();
        // SAFETY: the caller's guarantees for `layout` are passed on.
        unsafe { MiMalloc.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        configure();
        // SAFETY: as for `alloc`.
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `MiMalloc`.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `MiMalloc`; the caller's guarantees are passed on.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Allocator = Allocator;
