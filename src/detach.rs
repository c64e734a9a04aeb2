//! Running core work: without the GIL for large inputs, and stoppable by Ctrl-C.
//!
//! Every call into the core goes through [`run`]: it hands the core a [`Run`] (threads, and a
//! check the core calls between chunks of work on this thread) and releases the GIL around it
//! when the input is large. The check lets Python run its signal handlers about every
//! [`SIGNAL_CHECK_INTERVAL`]; if a handler raises (`KeyboardInterrupt` from Ctrl-C), the core
//! stops at the next chunk boundary, the views are released as on any other error, and the
//! exception is raised from the call.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bufsum_core::parallel::{Interrupted, Run};
use pyo3::ffi;
use pyo3::prelude::*;

/// Inputs smaller than this are summed without releasing the GIL: below ~1 µs of work the
/// release and re-acquisition (two atomic handshakes, and a possible wait for the GIL) cost more
/// than they give to other threads.
pub const DETACH_MIN_BYTES: usize = 16 * 1024;

/// Least time between two signal checks of one call. A check re-attaches to the interpreter,
/// which may wait up to the switch interval (5 ms) for the GIL when another thread runs Python
/// code: at most every 50 ms that costs a long call at most ~10% in that case, nothing
/// measurable otherwise, and Ctrl-C still arrives within a fraction of a second.
pub const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// Python's main thread, the only one that runs signal handlers: checks on other threads would
/// only wait for the GIL to do nothing. Set at import and in a forked child (where the thread
/// that forked becomes the main thread).
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

// `c_ulong` is 32 bits on Windows.
#[allow(clippy::useless_conversion)]
fn current_thread() -> u64 {
    // SAFETY: returns the calling thread's identifier; needs no interpreter state (it is
    // `pthread_self` on POSIX), so it may be called without being attached.
    u64::from(unsafe { ffi::PyThread_get_thread_ident() })
}

/// Records Python's main thread; called at import.
pub fn init(py: Python<'_>) -> PyResult<()> {
    let ident: u64 = py
        .import("threading")?
        .call_method0("main_thread")?
        .getattr("ident")?
        .extract()?;
    MAIN_THREAD.store(ident, Ordering::Relaxed);
    Ok(())
}

/// Registered with `os.register_at_fork(after_in_child=...)`: in the child the thread that
/// forked is the main thread. (The core's thread pool is reset in the child by its own fork
/// handler.)
#[pyfunction]
pub fn _after_fork_in_child() {
    MAIN_THREAD.store(current_thread(), Ordering::Relaxed);
}

/// The error for work that reports [`Interrupted`] although no handler raised: never expected,
/// since [`run`] returns the handler's exception first; a `KeyboardInterrupt` all the same.
pub fn interrupted() -> PyErr {
    pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted")
}

fn no_check() -> Result<(), Interrupted> {
    Ok(())
}

/// Runs `work` for an input of `bytes` bytes on `threads` threads (clamped to the machine): with
/// the GIL released when `bytes >= DETACH_MIN_BYTES`, else directly. `work` gets the [`Run`] to
/// pass to the core; if a signal handler raised meanwhile, its exception is returned instead of
/// `work`'s result (which then reports [`Interrupted`] in its own way).
pub fn run<T: Send>(
    py: Python<'_>,
    bytes: usize,
    threads: usize,
    work: impl FnOnce(&Run) -> T + Send,
) -> PyResult<T> {
    if bytes < DETACH_MIN_BYTES {
        // Microseconds of work, attached: nothing to interrupt, so no check to set up.
        return Ok(work(&Run::new(threads, &no_check)));
    }
    let go = move || {
        let raised = Cell::new(None::<PyErr>);
        let last = Cell::new(None::<Instant>);
        let check = || {
            if current_thread() != MAIN_THREAD.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now = Instant::now();
            if last
                .get()
                .is_some_and(|t| now.duration_since(t) < SIGNAL_CHECK_INTERVAL)
            {
                return Ok(());
            }
            last.set(Some(now));
            Python::attach(|py| py.check_signals()).map_err(|e| {
                raised.set(Some(e));
                Interrupted
            })
        };
        let out = work(&Run::new(threads, &check));
        (out, raised.into_inner())
    };
    let (out, raised) = py.detach(go);
    match raised {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
