//! The global allocator of pinpipe's binaries: mimalloc, keeping the memory it frees.
//!
//! mimalloc instead of glibc's malloc: the handlers allocate and free per record (glibc's malloc and
//! free were 28 % of the stream processor's time), and glibc hands every large buffer back to the OS
//! when it is freed, so the next one is faulted in and zeroed by the kernel again (a fifth of
//! `pinpipe transform`'s time on mostly-distinct data; BENCHMARKS.md).
//!
//! A function's process has its sandbox's memory to itself: pages handed back to the OS between
//! invocations serve nothing, and taking them again costs the kernel's zeroing of every page on the
//! next invocation (a quarter of the stream handler's time, and most of its spread). So a function, and
//! a one-shot command, calls [`keep_freed_memory`] at start; transparent huge pages are off (the
//! workspace builds mimalloc with `no_thp`): a page fault then zeroes 4 KiB, not 2 MiB.
//!
//! Each binary declares it (a library cannot):
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: pinpipe_allocator::Allocator = pinpipe_allocator::Allocator {};
//! ```

/// mimalloc's `mi_option_purge_delay` in the enum of the mimalloc (v3) that `libmimalloc-sys` builds;
/// the crate's own option constants are those of mimalloc v2. A test checks it by its default.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The global allocator (declared by each binary).
pub type Allocator = mimalloc::MiMalloc;

/// Makes the allocator keep the memory it frees for the life of the process. Call at start.
pub fn keep_freed_memory() {
    // SAFETY: sets one of mimalloc's options, which it reads atomically; -1 is "never purge".
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads an option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(get(), 1000, "mimalloc's default purge delay (ms): the option's index has moved");
        keep_freed_memory();
        assert_eq!(get(), -1);
    }
}
