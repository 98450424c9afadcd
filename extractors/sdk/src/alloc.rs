//! The components' allocator: free lists per size class for small blocks, in front of the
//! system allocator (wasi-libc's dlmalloc) for the rest.
//!
//! Why: parsers make very many small, short-lived allocations (`pdf-extract` builds a `String`
//! per character it decodes), and dlmalloc's `malloc` and `free` took about a sixth of a
//! sandboxed PDF extraction (talc, tried instead, was no faster). Popping a free list is a few
//! instructions. A component is single-threaded and lives for one file, so blocks freed to a
//! class stay there for reuse rather than going back to the system allocator: memory is the
//! peak of each class, still under the host's memory cap.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// Block sizes are multiples of this, and blocks are aligned to it.
const GRAIN: usize = 16;
/// Largest block served from the free lists; bigger ones go to the system allocator.
const MAX_SMALL: usize = 256;
const CLASSES: usize = MAX_SMALL / GRAIN;
/// Small blocks are carved from chunks of this size taken from the system allocator.
const CHUNK: usize = 64 * 1024;

struct State {
    /// Per class, the last freed block; each free block holds a pointer to the next.
    free: [*mut u8; CLASSES],
    /// The unused end of the current chunk.
    bump: *mut u8,
    bump_end: *mut u8,
}

/// Free lists per size class in front of `A`. Not thread-safe: see [`SizeClasses::new`].
pub struct SizeClasses<A> {
    inner: A,
    state: UnsafeCell<State>,
}

// SAFETY: components built for wasm32-wasip2 without the `atomics` feature have one thread, so
// the state is never touched from two threads at once.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SizeClasses<A> {}

impl<A> SizeClasses<A> {
    /// Small blocks from free lists, the rest from `inner`. Only for a single thread: the type
    /// is `Sync` only on single-threaded WebAssembly.
    pub const fn new(inner: A) -> Self {
        Self {
            inner,
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                bump: ptr::null_mut(),
                bump_end: ptr::null_mut(),
            }),
        }
    }
}

/// The size class of a small layout, or `None` for the system allocator.
fn class(layout: Layout) -> Option<usize> {
    (layout.size() <= MAX_SMALL && layout.align() <= GRAIN)
        .then(|| layout.size().max(1).div_ceil(GRAIN) - 1)
}

impl<A: GlobalAlloc> SizeClasses<A> {
    /// A block of class `class`: a freed one, or a new one from the current chunk.
    ///
    /// # Safety
    /// Called from one thread only (see the `Sync` impl).
    unsafe fn small(&self, class: usize) -> *mut u8 {
        // SAFETY: one thread, and no reference to the state outlives this call.
        let state = unsafe { &mut *self.state.get() };
        let head = state.free[class];
        if !head.is_null() {
            // SAFETY: a free block's first word is the next free block (written by `dealloc`).
            state.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = (class + 1) * GRAIN;
        if (state.bump_end as usize) - (state.bump as usize) < size {
            // The rest of the old chunk (less than one block) is left unused.
            // SAFETY: a valid, non-zero layout.
            let chunk = unsafe {
                self.inner
                    .alloc(Layout::from_size_align_unchecked(CHUNK, GRAIN))
            };
            if chunk.is_null() {
                return chunk;
            }
            state.bump = chunk;
            // SAFETY: within (one past the end of) the chunk just allocated.
            state.bump_end = unsafe { chunk.add(CHUNK) };
        }
        let block = state.bump;
        // SAFETY: `size` bytes are left in the chunk (checked above).
        state.bump = unsafe { block.add(size) };
        block
    }
}

// SAFETY: small blocks are GRAIN-aligned pieces of GRAIN-aligned chunks, at least as big as
// asked for, handed out once until freed; everything else is the inner allocator's.
unsafe impl<A: GlobalAlloc> GlobalAlloc for SizeClasses<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            // SAFETY: single-threaded (see the `Sync` impl).
            Some(class) => unsafe { self.small(class) },
            // SAFETY: forwarded with the caller's guarantees.
            None => unsafe { self.inner.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            Some(class) => {
                // SAFETY: single-threaded; the block has at least `layout.size()` bytes.
                unsafe {
                    let block = self.small(class);
                    if !block.is_null() {
                        ptr::write_bytes(block, 0, layout.size());
                    }
                    block
                }
            }
            // SAFETY: forwarded; the system allocator knows fresh memory is already zero.
            None => unsafe { self.inner.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class(layout) {
            Some(class) => {
                // SAFETY: single-threaded; `block` came from `small` for this class (same
                // layout) and is at least GRAIN bytes, room for the link.
                unsafe {
                    let state = &mut *self.state.get();
                    block.cast::<*mut u8>().write(state.free[class]);
                    state.free[class] = block;
                }
            }
            // SAFETY: the block came from the inner allocator with this layout.
            None => unsafe { self.inner.dealloc(block, layout) },
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new_layout)) {
            (Some(old), Some(new)) if old == new => block,
            // SAFETY: both large: the inner allocator's block, resized by it.
            (None, None) => unsafe { self.inner.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: a new block, the bytes both hold copied, the old one freed.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn small_blocks_are_reused_by_class_and_large_ones_forwarded() {
        let a = SizeClasses::new(System);
        let l24 = Layout::from_size_align(24, 8).unwrap();
        let l32 = Layout::from_size_align(32, 8).unwrap();
        let big = Layout::from_size_align(4096, 8).unwrap();
        unsafe {
            let x = a.alloc(l24);
            let y = a.alloc(l32);
            assert_eq!(x as usize % GRAIN, 0);
            assert_ne!(x, y, "24 and 32 bytes share a class but not a block");
            x.write_bytes(0xAB, 24);
            a.dealloc(x, l24);
            assert_eq!(a.alloc(l32), x, "a freed block is reused for its class");
            let z = a.alloc_zeroed(l24);
            assert!((0..24).all(|i| *z.add(i) == 0), "zeroed even when recycled");
            let b = a.alloc(big);
            b.write_bytes(7, 4096);
            let grown = a.realloc(b, big, 8192);
            assert_eq!(*grown.add(4095), 7);
            a.dealloc(grown, Layout::from_size_align(8192, 8).unwrap());
        }
    }

    #[test]
    fn realloc_across_classes_keeps_the_bytes() {
        let a = SizeClasses::new(System);
        let small = Layout::from_size_align(10, 1).unwrap();
        unsafe {
            let p = a.alloc(small);
            for i in 0..10 {
                *p.add(i) = i as u8;
            }
            let mid = a.realloc(p, small, 200);
            assert!((0..10).all(|i| *mid.add(i) == i as u8));
            let large = a.realloc(mid, Layout::from_size_align(200, 1).unwrap(), 5000);
            assert!((0..10).all(|i| *large.add(i) == i as u8));
            let back = a.realloc(large, Layout::from_size_align(5000, 1).unwrap(), 3);
            assert!((0..3).all(|i| *back.add(i) == i as u8));
            a.dealloc(back, Layout::from_size_align(3, 1).unwrap());
        }
    }

    #[test]
    fn many_blocks_span_chunks_without_overlap() {
        let a = SizeClasses::new(System);
        let l = Layout::from_size_align(MAX_SMALL, GRAIN).unwrap();
        let n = 3 * CHUNK / MAX_SMALL;
        let blocks: Vec<*mut u8> = (0..n).map(|_| unsafe { a.alloc(l) }).collect();
        for (i, &b) in blocks.iter().enumerate() {
            unsafe { b.write_bytes(i as u8, MAX_SMALL) };
        }
        for (i, &b) in blocks.iter().enumerate() {
            assert!(
                (0..MAX_SMALL).all(|j| unsafe { *b.add(j) } == i as u8),
                "block {i}"
            );
        }
    }
}
