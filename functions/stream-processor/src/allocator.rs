//! The function's allocator: mimalloc, keeping the memory it frees.
//!
//! A function's process has its sandbox's memory to itself: pages handed back to the OS between
//! invocations serve nothing, and taking them again costs the kernel's zeroing of every page on the
//! next invocation (a quarter of the handler's time, and most of its spread, in the profile of
//! BENCHMARKS.md). So freed memory is never purged, and transparent huge pages are off (the workspace
//! builds mimalloc with `no_thp`): a page fault then zeroes 4 KiB, not 2 MiB.

/// mimalloc's `mi_option_purge_delay` in the enum of the mimalloc (v3) that `libmimalloc-sys` builds;
/// the crate's own option constants are those of mimalloc v2. A test checks it by its default.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The function's global allocator (declared by each binary: `main.rs`, the bench).
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
