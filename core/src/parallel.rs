//! Threads, and the one driver every reduction runs through.
//!
//! **One pool.** There is at most one pool, of [`usable_threads`] threads (the CPUs this process
//! may use), built on the first call that wants more than one thread and kept. A call asking for
//! `k` threads runs at most `k` tasks at once in it (`k` is first clamped to the pool size: more
//! threads than CPUs only add switching, and results never depend on the count), so the process
//! never holds more than one pool's threads, whatever counts its callers ask for.
//!
//! **fork.** The pool's threads do not exist in a child process, so a child must never use the
//! pool it inherits. Handlers installed with `pthread_atfork` (once, with the first pool) take
//! care of it: before the fork an idle pool is shut down and its threads joined, so the child
//! starts without them (and a parent that forks often does not look multi-threaded to Python's
//! fork warning); in the child whatever pool is still recorded — one busy in another thread of
//! the parent — is forgotten without being touched, and the next call builds a fresh one. They
//! run inside `fork()` itself, for every fork (`os.fork`, `multiprocessing`, C code), at the one
//! moment the child is known to have a single thread.
//!
//! **The driver.** [`tree_reduce`] evaluates a reduction over the canonical blocks of an input
//! ([`BLOCK`] elements each, combined along the fixed binary tree of [`crate::float`]) in
//! *chunks*: aligned, complete subtrees of [`CHUNK_BLOCKS`] blocks per thread. Each chunk is
//! spread over the threads; between chunks the calling thread runs the caller's
//! [`Run::check`], which may stop the work ([`Interrupted`]). Because chunks are whole subtrees,
//! recombined by [`Subtrees`], the result has the same bits as one pass over everything, for
//! every chunk size and thread count.
//!
//! **Adding a reduction.** Pick the partial result `R` of a run of canonical blocks (`f64`
//! subtree totals for `sum`, certified lanes or an exact state for `fsum`, `i128` for integers;
//! for two inputs such as a dot product, the partial over the same blocks of both), then:
//! 1. `leaf(lo, hi) -> R` reduces blocks `lo..hi` on one thread, as the canonical subtree of
//!    those blocks (e.g. [`crate::float::Pairwise`] over block totals);
//! 2. `combine(left, right) -> R` joins two neighbouring subtrees;
//! 3. `tree_reduce(block_count(len), run, &leaf, &combine)?` with the caller's [`Run`]: threads,
//!    chunking and interruption come with it; return [`Interrupted`] (or an error made from it)
//!    upwards.
//!
//! Per-axis versions go through [`crate::axis::write_outputs`] (or
//! [`crate::axis::AxisSplit::reduce_into`] for a function of one slice); in the binding,
//! `detach::run` supplies the `Run` and releases the GIL, and `reduction::AxisTarget` the
//! destination.

use std::cell::UnsafeCell;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use crate::float::{split_point, Subtrees};
use crate::layout::BLOCK;

/// Bytes below which `threads=None` stays on the calling thread. Waking pool threads costs
/// ~10-20 µs; measured on a 2-core Zen 4 VM, two threads gained nothing on 3 MiB (0.9-0.95× the
/// time), 0.6-0.75× on 8 MiB and 0.4-0.45× on 32 MiB.
pub const AUTO_PARALLEL_MIN_BYTES: usize = 8 << 20;

/// log2 of [`CHUNK_BLOCKS`].
pub const CHUNK_BLOCKS_LOG2: u32 = 12;

/// Canonical blocks per chunk and thread: 2^12 blocks = 8 Mi elements, between two checks for
/// interruption. That is 1-4 ms of `sum` (2-8 elements/ns from memory) and at most ~40 ms on
/// the slowest paths (the exact accumulator on gathered data, ~0.2 elements/ns), so Ctrl-C is
/// seen within a fraction of a second, while a check (a clock read; Python's signal check at
/// most every 50 ms, see the binding) and a chunk's hand-over to the threads cost well under
/// 1% of a chunk's work.
pub const CHUNK_BLOCKS: usize = 1 << CHUNK_BLOCKS_LOG2;

/// Elements per chunk and thread ([`CHUNK_BLOCKS`] blocks): also the work between checks when an
/// axis reduction walks many small outputs.
pub const CHUNK_ELEMS: usize = CHUNK_BLOCKS * BLOCK;

/// Leaves (separately evaluated subtrees) per task slot and chunk: enough that a thread that
/// runs slower (a shared core) finishes at most a small leaf after the others.
const LEAVES_PER_THREAD: usize = 8;

/// The smallest leaf, in blocks (16 Ki elements): task overhead stays small next to its work.
const MIN_LEAF_BLOCKS: usize = 8;

/// The work was stopped by [`Run::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

fn never() -> Result<(), Interrupted> {
    Ok(())
}

/// How one call may run: how many threads, and what to call between chunks.
///
/// The check is an `&dyn Fn` without `Sync`, so a `Run` cannot be sent to or shared with other
/// threads: the compiler makes sure that only the calling thread ever runs the check (the
/// binding's check re-enters the Python interpreter, which only the caller may do). Work handed
/// to pool threads runs with [`Run::serial`].
#[derive(Clone, Copy)]
pub struct Run<'a> {
    threads: usize,
    check: &'a dyn Fn() -> Result<(), Interrupted>,
    /// log2 of the chunk per thread, in blocks: [`CHUNK_BLOCKS_LOG2`] (smaller in tests).
    chunk_log2: u32,
}

impl<'a> Run<'a> {
    /// `threads` (clamped to `1..=`[`usable_threads`]) and the check to make between chunks.
    #[must_use]
    #[inline]
    pub fn new(threads: usize, check: &'a dyn Fn() -> Result<(), Interrupted>) -> Self {
        Run {
            threads: threads.clamp(1, usable_threads()),
            check,
            chunk_log2: CHUNK_BLOCKS_LOG2,
        }
    }

    /// One thread, never interrupted: for work inside a task that another `Run` drives.
    #[must_use]
    pub fn serial() -> Run<'static> {
        Run {
            threads: 1,
            check: &never,
            chunk_log2: CHUNK_BLOCKS_LOG2,
        }
    }

    /// Threads this call may use.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Canonical blocks per chunk and thread ([`CHUNK_BLOCKS`]).
    #[must_use]
    pub fn chunk_blocks(&self) -> usize {
        1 << self.chunk_log2
    }

    /// Runs the caller's check.
    ///
    /// # Errors
    /// [`Interrupted`] when the work must stop.
    pub fn check(&self) -> Result<(), Interrupted> {
        (self.check)()
    }

    /// A `Run` whose thread count is not clamped to the CPUs, for tests of the decomposition.
    #[cfg(test)]
    pub(crate) fn unclamped(
        threads: usize,
        check: &'a dyn Fn() -> Result<(), Interrupted>,
    ) -> Self {
        Run {
            threads,
            check,
            chunk_log2: CHUNK_BLOCKS_LOG2,
        }
    }

    /// The same `Run` with chunks of `2^log2` blocks per thread, so that tests can cross chunk
    /// boundaries cheaply.
    #[cfg(test)]
    pub(crate) fn with_chunk_log2(mut self, log2: u32) -> Self {
        self.chunk_log2 = log2;
        self
    }
}

/// Threads this process may use: the CPUs its affinity mask and CPU quota allow (read once).
/// The pool has this many threads, and no call uses more.
#[must_use]
pub fn usable_threads() -> usize {
    static USABLE: OnceLock<usize> = OnceLock::new();
    *USABLE.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// The environment variable that sets the thread count of `threads=None` for large inputs.
pub const THREADS_ENV: &str = "BUFSUM_NUM_THREADS";

/// [`THREADS_ENV`] holds something other than an integer >= 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadThreadsEnv {
    /// The value found (lossily decoded).
    pub value: String,
}

impl std::fmt::Display for BadThreadsEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "environment variable {THREADS_ENV}='{}' is not valid: set it to an integer >= 1 \
             (values above the {} usable CPUs mean {}) or unset it",
            self.value,
            usable_threads(),
            usable_threads()
        )
    }
}

impl std::error::Error for BadThreadsEnv {}

/// Reads a [`THREADS_ENV`] value: `None` when empty (as if unset), else a count >= 1 (digits,
/// optionally surrounded by spaces; any count, however large, is valid and later clamped).
///
/// # Errors
/// Anything else: zero, negative numbers, non-digits, text that is not UTF-8.
pub fn parse_threads_env(value: &OsStr) -> Result<Option<usize>, BadThreadsEnv> {
    let bad = || BadThreadsEnv {
        value: value.to_string_lossy().into_owned(),
    };
    let text = value.to_str().ok_or_else(bad)?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if digits.bytes().all(|b| b == b'0') {
        return Err(bad());
    }
    // Too many digits for a usize is still a valid (huge) count.
    Ok(Some(digits.parse::<usize>().unwrap_or(usize::MAX)))
}

/// The thread count `threads=None` means for `bytes` of input: 1 below
/// [`AUTO_PARALLEL_MIN_BYTES`], else [`THREADS_ENV`] if set, else [`usable_threads`] (never more
/// than that). The variable is read at the first call and, once valid, kept.
///
/// # Errors
/// [`BadThreadsEnv`] whenever the variable is set to an invalid value, whatever the size of
/// the input, so a typo is noticed on the first call rather than on the first large one.
#[inline(always)]
pub fn auto_threads(bytes: usize) -> Result<usize, BadThreadsEnv> {
    let default = match DEFAULT_THREADS.get() {
        Some(&n) => n,
        None => default_threads()?,
    };
    Ok(if bytes < AUTO_PARALLEL_MIN_BYTES {
        1
    } else {
        default
    })
}

/// [`auto_threads`] for large inputs, once known valid.
static DEFAULT_THREADS: OnceLock<usize> = OnceLock::new();

/// Reads [`THREADS_ENV`] (the first call, and every call while it is invalid).
#[cold]
fn default_threads() -> Result<usize, BadThreadsEnv> {
    let set = std::env::var_os(THREADS_ENV)
        .map(|v| parse_threads_env(&v))
        .transpose()?
        .flatten();
    Ok(*DEFAULT_THREADS.get_or_init(|| set.unwrap_or(usize::MAX).min(usable_threads())))
}

/// The pool's rayon handle and the join handles of its threads (rayon itself never joins).
struct Pool {
    rayon: Option<rayon::ThreadPool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Dropping the rayon handle tells the (idle: nobody holds the pool any more) threads to
        // exit; joining makes sure they are gone before this returns.
        drop(self.rayon.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The process's pool, behind a spin lock held only to clone, take or store the `Arc`
/// (nanoseconds). A spin lock rather than a `Mutex` because the child of a `fork` must be able to
/// reset it: a thread of the parent may have held it at the moment of the fork, and that thread
/// does not exist in the child.
struct Slot {
    locked: AtomicBool,
    pool: UnsafeCell<Option<Arc<Pool>>>,
}

// SAFETY: `pool` is only accessed by the thread that holds `locked` (see `Slot::with`), or by
// the child's only thread right after a fork (`forget_after_fork`).
unsafe impl Sync for Slot {}

static SLOT: Slot = Slot {
    locked: AtomicBool::new(false),
    pool: UnsafeCell::new(None),
};

impl Slot {
    /// Runs `f` on the recorded pool under the lock. `f` must be short and must not drop a pool
    /// (dropping joins threads): callers move pools out and drop them after.
    fn with<R>(&self, f: impl FnOnce(&mut Option<Arc<Pool>>) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        // SAFETY: this thread holds the lock, so it alone accesses `pool` until the store below.
        let r = f(unsafe { &mut *self.pool.get() });
        self.locked.store(false, Ordering::Release);
        r
    }
}

/// The pool (built on first use), or `None` if threads cannot be started.
fn pool() -> Option<Arc<Pool>> {
    if let Some(p) = SLOT.with(|slot| slot.clone()) {
        return Some(p);
    }
    install_fork_handlers();
    let built = Arc::new(build_pool(usable_threads())?);
    let (used, spare) = SLOT.with(|slot| match slot {
        Some(other) => (Arc::clone(other), Some(Arc::clone(&built))),
        None => {
            *slot = Some(Arc::clone(&built));
            (Arc::clone(&built), None)
        }
    });
    // Another thread recorded its pool first: ours is dropped here, outside the lock.
    drop((spare, built));
    Some(used)
}

fn build_pool(threads: usize) -> Option<Pool> {
    let mut handles = Vec::with_capacity(threads);
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("bufsum-{i}"))
        .spawn_handler(|thread| {
            let mut b = std::thread::Builder::new();
            if let Some(name) = thread.name() {
                b = b.name(name.to_owned());
            }
            if let Some(size) = thread.stack_size() {
                b = b.stack_size(size);
            }
            handles.push(b.spawn(|| thread.run())?);
            Ok(())
        })
        .build();
    match rayon {
        Ok(rayon) => Some(Pool {
            rayon: Some(rayon),
            threads: handles,
        }),
        Err(_) => {
            // rayon terminates the threads it had started; wait for them.
            for t in handles {
                let _ = t.join();
            }
            None
        }
    }
}

/// Before a fork: takes the pool out of the slot, so the child will build its own, and, if
/// no call is using it, shuts it down and joins its threads now (else the last call to finish
/// with it does).
fn prepare_fork() {
    drop(SLOT.with(Option::take));
}

/// In the child of a fork: forgets whatever pool the parent still had recorded, touching none
/// of it (its threads do not exist here), and frees the lock if a vanished thread held it.
///
/// # Safety
/// Only right after `fork`, in the child, while it has a single thread.
unsafe fn forget_after_fork() {
    // SAFETY: the caller promises a single thread; nobody else can access `pool`.
    let stale = unsafe { (*SLOT.pool.get()).take() };
    std::mem::forget(stale);
    SLOT.locked.store(false, Ordering::Release);
}

#[cfg(unix)]
fn install_fork_handlers() {
    extern "C" fn prepare() {
        prepare_fork();
    }
    extern "C" fn child() {
        // SAFETY: `pthread_atfork` runs child handlers in the child of a fork, inside `fork()`,
        // before it returns: the child has exactly one thread.
        unsafe { forget_after_fork() };
    }
    extern "C" {
        fn pthread_atfork(
            prepare: Option<extern "C" fn()>,
            parent: Option<extern "C" fn()>,
            child: Option<extern "C" fn()>,
        ) -> std::ffi::c_int;
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers two `extern "C"` functions that live as long as the process (this
        // library is never unloaded while Python runs). The child handler only stores to two
        // statics, which is async-signal-safe as POSIX asks of it. If registration fails (out of
        // memory), forks behave as before: the child must not use the pool, documented.
        unsafe { pthread_atfork(Some(prepare), None, Some(child)) };
    });
}

#[cfg(not(unix))]
fn install_fork_handlers() {}

/// Runs `task(i)` for every `i in 0..n`, at most `workers` at a time on the pool's threads, each
/// worker taking the next index until none is left; on the calling thread when `workers <= 1`,
/// `n <= 1`, or no pool can be built.
pub fn run_tasks(n: usize, workers: usize, task: &(impl Fn(usize) + Sync)) {
    let workers = workers.min(n);
    let pool = if workers > 1 { pool() } else { None };
    let Some(rayon) = pool.as_ref().and_then(|p| p.rayon.as_ref()) else {
        (0..n).for_each(task);
        return;
    };
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        task(i);
    };
    rayon.in_place_scope(|s| {
        for _ in 0..workers {
            s.spawn(|_| work());
        }
    });
}

/// Reduces the canonical blocks `0..blocks`: `leaf(lo, hi)` evaluates the canonical subtree of
/// blocks `lo..hi` (the tree of `hi - lo` blocks, as if they were the whole input), and
/// `combine(left, right)` joins neighbouring subtrees along the canonical tree. The result is
/// that of the whole tree whatever the number of threads; with one thread and one chunk it is
/// `leaf(0, blocks)` on the calling thread.
///
/// This is the one driver of every reduction. Inputs longer than a chunk ([`CHUNK_BLOCKS`]
/// blocks per thread, rounded up to a power of two so that chunks are whole subtrees) are
/// reduced chunk by chunk; `run.check()` is called on the calling thread between chunks.
///
/// # Errors
/// [`Interrupted`] if a check said so; no further chunk is started.
pub fn tree_reduce<R: Send>(
    blocks: usize,
    run: &Run,
    leaf: &(impl Fn(usize, usize) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> Result<R, Interrupted> {
    let threads = run.threads();
    let log2 = run.chunk_log2 + threads.next_power_of_two().trailing_zeros();
    let chunk = 1usize.checked_shl(log2).unwrap_or(usize::MAX);
    if blocks <= chunk {
        return Ok(reduce_range(0, blocks, threads, leaf, combine));
    }
    let mut tree = Subtrees::default();
    let mut lo = 0;
    while lo < blocks {
        if lo > 0 {
            run.check()?;
        }
        let hi = lo + chunk.min(blocks - lo);
        let total = reduce_range(lo, hi, threads, leaf, combine);
        // Every chunk but the last is a complete subtree of height `log2`; the last one is the
        // tree's final part, below every pending height.
        tree.push(if hi - lo == chunk { log2 } else { 0 }, total, combine);
        lo = hi;
    }
    Ok(tree
        .finish(combine)
        .unwrap_or_else(|| reduce_range(0, 0, 1, leaf, combine)))
}

/// The canonical subtree of blocks `lo..hi` on up to `workers` threads: split along the tree
/// into leaves of at most a grain, evaluated by the workers in any order, joined along the tree.
fn reduce_range<R: Send>(
    lo: usize,
    hi: usize,
    workers: usize,
    leaf: &(impl Fn(usize, usize) -> R + Sync),
    combine: &(impl Fn(R, R) -> R + Sync),
) -> R {
    if workers <= 1 || hi - lo < 2 {
        return leaf(lo, hi);
    }
    let grain = (hi - lo)
        .div_ceil(LEAVES_PER_THREAD * workers)
        .max(MIN_LEAF_BLOCKS);
    let mut ranges = Vec::new();
    leaves(lo, hi, grain, &mut ranges);
    if ranges.len() < 2 {
        return leaf(lo, hi);
    }
    let slots: Vec<Mutex<Option<R>>> = ranges.iter().map(|_| Mutex::new(None)).collect();
    run_tasks(ranges.len(), workers, &|i| {
        let (a, b) = ranges[i];
        let r = leaf(a, b);
        *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
    });
    let mut results = slots
        .into_iter()
        .map(|s| s.into_inner().unwrap_or_else(PoisonError::into_inner));
    // Every task ran before `run_tasks` returned; a missing result would be a bug, and is
    // recomputed rather than turned into a panic.
    let mut next = |a: usize, b: usize| results.next().flatten().unwrap_or_else(|| leaf(a, b));
    fold(lo, hi, grain, &mut next, combine)
}

/// The leaves of the canonical subtree `lo..hi`: ranges of at most `grain` blocks, in order.
fn leaves(lo: usize, hi: usize, grain: usize, out: &mut Vec<(usize, usize)>) {
    if hi - lo <= grain {
        out.push((lo, hi));
        return;
    }
    let mid = lo + split_point(hi - lo);
    leaves(lo, mid, grain, out);
    leaves(mid, hi, grain, out);
}

/// Joins the leaves of [`leaves`] (given in order by `next`) along the same tree.
fn fold<R>(
    lo: usize,
    hi: usize,
    grain: usize,
    next: &mut impl FnMut(usize, usize) -> R,
    combine: &impl Fn(R, R) -> R,
) -> R {
    if hi - lo <= grain {
        return next(lo, hi);
    }
    let mid = lo + split_point(hi - lo);
    let a = fold(lo, mid, grain, next, combine);
    let b = fold(mid, hi, grain, next, combine);
    combine(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A leaf that records its range, and a combine that keeps the tree's shape as text.
    fn shape(blocks: usize, run: &Run) -> Result<String, Interrupted> {
        tree_reduce(blocks, run, &|lo, hi| format!("[{lo},{hi})"), &|a, b| {
            format!("({a}+{b})")
        })
    }

    /// The canonical tree of `lo..hi` with one-block leaves, as text.
    fn canonical(lo: usize, hi: usize) -> String {
        if hi - lo <= 1 {
            return format!("[{lo},{hi})");
        }
        let mid = lo + split_point(hi - lo);
        format!("({}+{})", canonical(lo, mid), canonical(mid, hi))
    }

    /// Replaces each leaf `[a,b)` by its canonical tree of single blocks.
    fn expand(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('[') {
            out.push_str(&rest[..i]);
            let j = rest[i..].find(')').unwrap() + i;
            let (a, b) = rest[i + 1..j].split_once(',').unwrap();
            out.push_str(&canonical(a.parse().unwrap(), b.parse().unwrap()));
            rest = &rest[j + 1..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn every_thread_count_and_chunking_evaluates_the_canonical_tree() {
        // Chunks of 2^3 blocks per thread (the real ones are 2^12: same code, bigger numbers).
        let chunk = 8;
        let sizes = [
            0,
            1,
            2,
            3,
            chunk - 1,
            chunk,
            chunk + 1,
            3 * chunk + 5,
            8 * chunk,
            100,
            1000,
        ];
        for blocks in sizes {
            let want = canonical(0, blocks);
            for threads in [1, 2, 3, 4, 7, 16] {
                let run = Run::unclamped(threads, &never).with_chunk_log2(3);
                let got = expand(&shape(blocks, &run).unwrap());
                assert_eq!(got, want, "blocks {blocks} threads {threads}");
            }
        }
        // And the real chunk size, across its first boundary.
        for blocks in [CHUNK_BLOCKS, CHUNK_BLOCKS + 1, 2 * CHUNK_BLOCKS + 3] {
            let run = Run::unclamped(1, &never);
            assert_eq!(expand(&shape(blocks, &run).unwrap()), canonical(0, blocks));
        }
    }

    #[test]
    fn checks_run_between_chunks_and_stop_the_work() {
        let blocks = 5 * CHUNK_BLOCKS + 3;
        let calls = Cell::new(0);
        let check = || {
            calls.set(calls.get() + 1);
            Ok(())
        };
        shape(blocks, &Run::unclamped(1, &check)).unwrap();
        assert_eq!(calls.get(), 5, "one check before each chunk but the first");

        let leaves_run = AtomicUsize::new(0);
        let stop = || Err(Interrupted);
        let r = tree_reduce(
            blocks,
            &Run::unclamped(1, &stop),
            &|_, _| {
                leaves_run.fetch_add(1, Ordering::Relaxed);
            },
            &|(), ()| (),
        );
        assert_eq!(r, Err(Interrupted));
        assert_eq!(
            leaves_run.load(Ordering::Relaxed),
            1,
            "only the first chunk ran"
        );
    }

    #[test]
    fn tasks_run_once_each_and_at_most_the_workers_at_once() {
        let n = 200;
        let done: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        run_tasks(n, 2, &|i| {
            let at = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(at, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_micros(50));
            done[i].fetch_add(1, Ordering::Relaxed);
            now.fetch_sub(1, Ordering::SeqCst);
        });
        assert!(done.iter().all(|d| d.load(Ordering::Relaxed) == 1));
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn thread_counts_are_clamped_to_the_machine() {
        let run = Run::new(usize::MAX, &never);
        assert_eq!(run.threads(), usable_threads());
        assert_eq!(Run::new(0, &never).threads(), 1);
    }

    #[test]
    fn threads_env_values() {
        let p = |s: &str| parse_threads_env(OsStr::new(s));
        assert_eq!(p(""), Ok(None));
        assert_eq!(p("  "), Ok(None));
        assert_eq!(p("4"), Ok(Some(4)));
        assert_eq!(p(" 2\n"), Ok(Some(2)));
        assert_eq!(p("+3"), Ok(Some(3)));
        assert_eq!(p("99999999999999999999999999"), Ok(Some(usize::MAX)));
        for bad in ["0", "00", "-1", "abc", "2.5", "1e3", "+", "4 threads"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
        assert!(p("x").unwrap_err().to_string().contains(THREADS_ENV));
    }
}
