//! Memory settings of the switch's processes (`switchd`, `loadtest`), applied first thing in
//! `main`: memory is kept once touched, and transparent huge pages are off.
//!
//! Why, measured (BENCHMARKS.md, "Tail latency: memory faults and map growth"): at 20,000
//! payments per second, with mimalloc's defaults, the core thread spent stretches of 100 ms
//! and more in the kernel zeroing fresh pages (`clear_page_erms` under
//! `do_huge_pmd_anonymous_page`): mimalloc returns freed pages to the OS after 10 ms
//! (`purge_delay`) and faults them in again moments later, and it asks for huge pages, which
//! the kernel zeroes 2 MiB at a time and may compact memory for. Those stretches were most of
//! the p99. A switch sizes its machine for its peak anyway, so it keeps what it touched.
//!
//! Operators can still override: `MIMALLOC_PURGE_DELAY` in the environment is left as given.
//! THP for mimalloc's own memory is off at build time (the `no_thp` feature); the `prctl`
//! here turns it off for the rest of the process too, for kernels set to THP `always`.
//!
//! Guarantees: never fails the process; returns what it could apply.
#![allow(unsafe_code)] // two FFI calls that take and return plain integers

/// mimalloc's `mi_option_purge_delay`: position 15 of `mi_option_e` in both its v2 and v3
/// headers (`libmimalloc-sys` does not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// What [`keep_memory`] applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySettings {
    /// mimalloc's purge delay now in force, milliseconds (-1: freed memory is never returned).
    pub purge_delay_ms: i64,
    /// Transparent huge pages are disabled for this process.
    pub thp_disabled: bool,
}

/// Keep freed memory in the process and turn transparent huge pages off (see the module).
pub fn keep_memory() -> MemorySettings {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set stores an integer in mimalloc's option table; -1 is a valid
        // purge delay (never purge). No pointers cross.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    // SAFETY: reads one integer from mimalloc's option table.
    #[allow(clippy::useless_conversion)] // c_long is i64 on Linux, i32 elsewhere
    let purge_delay_ms =
        i64::from(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) });
    // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) passes integers only and sets a flag of
    // this process; PR_GET_THP_DISABLE reads it back.
    let thp_disabled = unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1
    };
    MemorySettings { purge_delay_ms, thp_disabled }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_is_kept_and_huge_pages_are_off() {
        let s = keep_memory();
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(s.purge_delay_ms, -1, "{s:?}");
        }
        assert!(s.thp_disabled, "{s:?}");
    }
}
