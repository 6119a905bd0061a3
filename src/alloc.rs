//! The heap: mimalloc, counted, so that one query cannot take the whole machine.
//!
//! A thin wrapper around the allocator keeps a running total of live heap bytes (one relaxed
//! atomic add per allocation). The engine compares it with `--memory-limit` at the points where a
//! query's memory can grow (pattern expansion, grouping, sorting, updates) and stops the query
//! with an error instead of letting the kernel kill the server.
//!
//! mimalloc rather than glibc's malloc, because a graph is millions of small records and the
//! persistent maps over them, copied in part at every write: with glibc, `malloc` and `free` were
//! about 40% of a point lookup's instructions. Measured on one machine: a 1,000,000-row `LOAD CSV`
//! 1.2–1.6× as fast with 10% less memory resident after it, synced `CREATE` from 16 sessions 1.2×
//! (README, "The heap allocator"). mimalloc returns freed pages to the system only after a delay
//! by default, which left more resident after a bulk load than glibc; [`configure`] makes it
//! return them at once.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mimalloc::MiMalloc;

/// mimalloc, counted.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Whether mimalloc's plain functions serve `align` for a block of `size` bytes. Every block
/// they return is aligned to 16 (`MI_MAX_ALIGN_SIZE`), except that an 8-byte block is aligned to
/// 8 only, hence `align <= size` (as std's `System` asks of `malloc`). Nearly every layout
/// qualifies, and the plain calls are cheaper: the `MiMalloc` ones always take mimalloc's aligned
/// entry points, which check the block they find and fall back to a slower path when it does not
/// fit. About 5% of the instructions of a lookup or a commit.
fn plain(align: usize, size: usize) -> bool {
    align <= 16 && align <= size
}

// SAFETY: every call is forwarded to mimalloc: to its plain functions when they guarantee the
// layout's alignment (see `plain`), otherwise unchanged to `MiMalloc`. Blocks from either are freed
// and reallocated by either (mimalloc's own contract). The counter does not affect the memory
// handed out.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = if plain(layout.align(), layout.size()) {
            libmimalloc_sys::mi_malloc(layout.size()).cast()
        } else {
            MiMalloc.alloc(layout)
        };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = if plain(layout.align(), layout.size()) {
            libmimalloc_sys::mi_zalloc(layout.size()).cast()
        } else {
            MiMalloc.alloc_zeroed(layout)
        };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        MiMalloc.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = if plain(layout.align(), new_size) {
            libmimalloc_sys::mi_realloc(ptr.cast(), new_size).cast()
        } else {
            MiMalloc.realloc(ptr, layout, new_size)
        };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

// libcrypto's allocator hooks (crypto.h, OpenSSL 1.1.0 and later), which openssl-sys does not
// declare.
extern "C" {
    fn CRYPTO_set_mem_functions(
        malloc: unsafe extern "C" fn(usize, *const libc::c_char, libc::c_int) -> *mut libc::c_void,
        realloc: unsafe extern "C" fn(
            *mut libc::c_void,
            usize,
            *const libc::c_char,
            libc::c_int,
        ) -> *mut libc::c_void,
        free: unsafe extern "C" fn(*mut libc::c_void, *const libc::c_char, libc::c_int),
    ) -> libc::c_int;
}

#[allow(unsafe_code)]
unsafe extern "C" fn openssl_malloc(
    size: usize,
    _file: *const libc::c_char,
    _line: libc::c_int,
) -> *mut libc::c_void {
    libmimalloc_sys::mi_malloc(size)
}

/// OpenSSL's own realloc frees the block and returns null for a size of 0; callers may rely on it.
#[allow(unsafe_code)]
unsafe extern "C" fn openssl_realloc(
    p: *mut libc::c_void,
    size: usize,
    _file: *const libc::c_char,
    _line: libc::c_int,
) -> *mut libc::c_void {
    if size == 0 && !p.is_null() {
        libmimalloc_sys::mi_free(p);
        return std::ptr::null_mut();
    }
    libmimalloc_sys::mi_realloc(p, size)
}

#[allow(unsafe_code)]
unsafe extern "C" fn openssl_free(
    p: *mut libc::c_void,
    _file: *const libc::c_char,
    _line: libc::c_int,
) {
    libmimalloc_sys::mi_free(p);
}

/// Whether libcrypto allocates from mimalloc ([`configure`] got in before its first allocation).
static OPENSSL_ON_MIMALLOC: AtomicBool = AtomicBool::new(false);

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (mimalloc.h), which the -sys crate does not
/// name.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the allocator up for a server: freed memory goes back to the system at once instead of
/// after mimalloc's default delay of 10 ms (`MIMALLOC_PURGE_DELAY` in the environment still
/// overrides this). Call it first thing in `main`, while no other thread exists: mimalloc's option
/// setter is not thread-safe.
///
/// It also hands libcrypto's allocations to mimalloc. OpenSSL allocates and frees about eight
/// blocks per TLS round trip besides its handshakes, each about 60-90 instructions with glibc;
/// with mimalloc a TLS round trip costs 1.2% fewer instructions and a handshake 2.7% fewer.
/// Those blocks stay outside the `--memory-limit` count, as before: they belong to connections,
/// whose number `--bolt-max-connections` bounds. libcrypto accepts the hooks only before its
/// first allocation, hence first thing in `main`.
#[allow(unsafe_code)]
pub fn configure() {
    // SAFETY: the three functions keep OpenSSL's contract (null in, null or a block out; realloc
    // to 0 frees); libcrypto refuses the hooks (returns 0) once it has allocated with others, so
    // no block can be freed by an allocator that did not make it.
    let hooked = unsafe { CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) };
    OPENSSL_ON_MIMALLOC.store(hooked == 1, Ordering::Relaxed);
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: a plain store into mimalloc's option table, made before any other thread runs.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
}

/// Which allocator libcrypto uses: "mimalloc", or "libc" when [`configure`] came too late.
pub fn openssl_heap() -> &'static str {
    if OPENSSL_ON_MIMALLOC.load(Ordering::Relaxed) {
        "mimalloc"
    } else {
        "libc"
    }
}

/// The purge delay in force, in milliseconds.
#[allow(unsafe_code)]
pub fn purge_delay() -> libc::c_long {
    // SAFETY: a plain read of mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

/// Live heap bytes right now.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The default `--memory-limit`, as Memgraph chooses it: 90% of the memory available to the
/// process: physical memory (`/proc/meminfo`), or the container's cgroup limit when that is
/// smaller (otherwise the kernel would kill the server before the limit is reached). `None`
/// where neither can be read.
pub fn default_limit() -> Option<usize> {
    let physical = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: usize = info
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kib * 1024)
        });
    // cgroup v2 says "max" when unlimited, which does not parse and so does not count.
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
    let available = match (physical, cgroup) {
        (Some(p), Some(c)) => p.min(c),
        (p, c) => p.or(c)?,
    };
    Some(available / 10 * 9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn every_layout_gets_its_alignment_and_keeps_its_bytes_across_reallocs() {
        use std::alloc::{alloc, alloc_zeroed, dealloc, realloc};
        let byte = |i: usize| (i % 251) as u8;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1usize, 3, 8, 9, 16, 24, 40, 1000, 1025, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                let (grown, shrunk) = (size * 3, (size / 2).max(1));
                // SAFETY: non-zero sizes; each block is read and written within its size and
                // reallocated and freed with the layout it has at that moment.
                unsafe {
                    let zeroed = size % 2 == 1;
                    let p = if zeroed {
                        alloc_zeroed(layout)
                    } else {
                        alloc(layout)
                    };
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size}, align {align}");
                    if zeroed {
                        assert!(std::slice::from_raw_parts(p, size).iter().all(|b| *b == 0));
                    }
                    for i in 0..size {
                        *p.add(i) = byte(i);
                    }
                    let p = realloc(p, layout, grown);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "{size} -> {grown}, align {align}");
                    assert!((0..size).all(|i| *p.add(i) == byte(i)));
                    let p = realloc(p, Layout::from_size_align(grown, align).unwrap(), shrunk);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "{grown} -> {shrunk}, align {align}");
                    assert!((0..shrunk).all(|i| *p.add(i) == byte(i)));
                    dealloc(p, Layout::from_size_align(shrunk, align).unwrap());
                }
            }
        }
    }

    #[test]
    fn allocations_are_counted() {
        // Other tests allocate concurrently, so only a large, held allocation is certain to show.
        let before = live_bytes();
        let big = vec![1u8; 64 << 20];
        assert!(live_bytes() >= before + (32 << 20));
        drop(big);
        assert!(default_limit().is_some_and(|l| l > 0));
    }
}
