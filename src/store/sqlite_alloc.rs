//! SQLite's own allocations through mimalloc, the executable's allocator.
//!
//! The bundled SQLite allocates with the C library's `malloc` whatever allocator Rust code
//! uses: every value bound to a statement is copied into a new allocation, and a burst's
//! rows and pages are allocated on SQLite's thread. glibc's `malloc`, `free` and their
//! consolidation took an eighth to a fifth of SQLite's thread in a burst (BENCHMARKS.md,
//! eighteenth round). [`use_mimalloc`] hands SQLite mimalloc's functions instead
//! (`SQLITE_CONFIG_MALLOC`), which SQLite accepts only before it initialises, so the
//! executable calls it first thing. A program that embeds this library and opens SQLite
//! databases calls it itself, or SQLite keeps the C library's `malloc`.

use std::ffi::{c_int, c_void};

use libsqlite3_sys as ffi;

// In every build of mimalloc's C library; `libmimalloc-sys` declares them only with its
// `extended` feature, which would add a crate for two declarations.
unsafe extern "C" {
    fn mi_usable_size(p: *const c_void) -> usize;
    fn mi_good_size(size: usize) -> usize;
}

/// Why SQLite kept its own allocator.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AllocatorError {
    /// SQLite has initialised already (a database was opened): its allocator is fixed.
    #[error("SQLite is initialised already and keeps its allocator")]
    TooLate,
    #[error("SQLite refused the allocator (code {0})")]
    Refused(c_int),
}

fn size(n: c_int) -> usize {
    usize::try_from(n).unwrap_or(0)
}

fn int(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
    // SAFETY: mimalloc's malloc takes any size and returns null when out of memory, as
    // SQLite expects of `xMalloc`.
    unsafe { libmimalloc_sys::mi_malloc(size(n)) }
}

unsafe extern "C" fn free(p: *mut c_void) {
    // SAFETY: SQLite frees only what `malloc` or `realloc` above returned (or null).
    unsafe { libmimalloc_sys::mi_free(p) }
}

unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    // SAFETY: as `free`: `p` came from this allocator.
    unsafe { libmimalloc_sys::mi_realloc(p, size(n)) }
}

unsafe extern "C" fn usable_size(p: *mut c_void) -> c_int {
    // SAFETY: as `free`: `p` came from this allocator.
    int(unsafe { mi_usable_size(p) })
}

unsafe extern "C" fn roundup(n: c_int) -> c_int {
    // SAFETY: a pure function of its argument.
    int(unsafe { mi_good_size(size(n)) })
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn shutdown(_: *mut c_void) {}

/// Makes SQLite allocate with mimalloc. Call it before the process opens a SQLite database;
/// after that SQLite keeps its allocator and this returns [`AllocatorError::TooLate`].
pub fn use_mimalloc() -> Result<(), AllocatorError> {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(malloc),
        xFree: Some(free),
        xRealloc: Some(realloc),
        xSize: Some(usable_size),
        xRoundup: Some(roundup),
        xInit: Some(init),
        xShutdown: Some(shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLITE_CONFIG_MALLOC takes a pointer to a `sqlite3_mem_methods`, which SQLite
    // copies before it returns; the functions are valid for the whole process.
    let code = unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_MALLOC,
            &methods as *const ffi::sqlite3_mem_methods,
        )
    };
    match code {
        ffi::SQLITE_OK => Ok(()),
        ffi::SQLITE_MISUSE => Err(AllocatorError::TooLate),
        other => Err(AllocatorError::Refused(other)),
    }
}
