//! Whole-buffer reductions: one dispatch from the element type to generic drivers.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::certified::{lanes_add_slice, Lanes, Partial};
use crate::exact::{Adder, ExactSum};
use crate::float::{block_sum, block_sum_step2, Pairwise};
use crate::format::{Dtype, Elem};
use crate::kernels::{int_block_sum, widen_into};
use crate::layout::{block_count, Scratch, Strided, BLOCK};
use crate::parallel::tree_reduce;
use crate::scalar::{by_elem, Float, Int};

/// A total, by kind of element.
#[derive(Clone, Debug, PartialEq)]
pub enum Total {
    Int(i128),
    /// An exact integer that may not fit in i128 (integer dot products).
    BigInt(num_bigint::BigInt),
    Float(f64),
    Complex(f64, f64),
}

/// `sum`: exact for integers, the canonical float64 order for floats and each complex part.
#[must_use]
pub fn sum(a: &Strided, threads: usize) -> Total {
    by_elem!(a.dtype().elem, int: int_total, float: float_sum, complex: per_part(a, threads, sum), (a, threads))
}

/// `fsum`: the correctly rounded sum (integers: their exact sum, rounded once).
#[must_use]
pub fn fsum(a: &Strided, threads: usize) -> Total {
    by_elem!(a.dtype().elem, int: int_fsum, float: float_fsum, complex: per_part(a, threads, fsum), (a, threads))
}

/// The exact total of a real buffer, for accumulators; `None` for complex formats.
#[must_use]
pub fn exact(a: &Strided, threads: usize) -> Option<ExactSum> {
    by_elem!(a.dtype().elem, int: int_exact, float: float_exact, complex: None, (a, threads))
}

/// A complex reduction as the real reduction of each part: the parts are real views of the same
/// memory ([`Strided::complex_parts`]), so each gets exactly the order and rounding of a real
/// buffer holding those values.
fn per_part(a: &Strided, threads: usize, reduce: fn(&Strided, usize) -> Total) -> Total {
    let real = |t| match t {
        Total::Float(v) => v,
        // Integers and complex cannot come from a float view; keep the types honest anyway.
        Total::Int(v) => v as f64,
        Total::BigInt(_) => f64::NAN,
        Total::Complex(re, _) => re,
    };
    match a.complex_parts() {
        Some((re, im)) => Total::Complex(real(reduce(&re, threads)), real(reduce(&im, threads))),
        None => reduce(a, threads),
    }
}

fn int_sum<T: Int>(a: &Strided, threads: usize) -> i128 {
    tree_reduce(
        block_count(a.len()),
        threads,
        &|lo, hi| {
            let mut t = 0i128;
            a.for_each_block::<T>(lo, hi, |b| t += int_block_sum(b));
            t
        },
        &|x, y| x + y,
    )
}

fn int_total<T: Int>(a: &Strided, threads: usize) -> Total {
    Total::Int(int_sum::<T>(a, threads))
}

fn int_fsum<T: Int>(a: &Strided, threads: usize) -> Total {
    // `as` rounds to nearest, ties to even.
    #[allow(clippy::cast_precision_loss)]
    Total::Float(int_sum::<T>(a, threads) as f64)
}

fn int_exact<T: Int>(a: &Strided, threads: usize) -> Option<ExactSum> {
    let mut e = ExactSum::new();
    e.add_i128(int_sum::<T>(a, threads));
    Some(e)
}

/// Whether `a` is a 1-d view of every second native f64 (`a[::2]`), which kernels read in place.
fn is_every_second_f64(a: &Strided) -> bool {
    a.dtype() == Dtype::native(Elem::F64) && a.dims().strides() == [16]
}

/// Calls `f(pointer, count)` for each canonical block of blocks `lo..hi` of such a view.
///
/// # Safety
/// `a` must satisfy [`is_every_second_f64`].
unsafe fn step2_blocks(a: &Strided, lo: usize, hi: usize, mut f: impl FnMut(*const f64, usize)) {
    for blk in lo..hi {
        let start = blk * BLOCK;
        let n = BLOCK.min(a.len() - start);
        // SAFETY: elements `start .. start + n` of this 1-d view, 16 bytes apart, are inside the
        // buffer (contract of `Strided::new`).
        f(unsafe { a.as_ptr().cast::<f64>().add(2 * start) }, n);
    }
}

/// Calls `f` with each canonical block of blocks `lo..hi` widened to f64 (in place for f64).
pub(crate) fn f64_blocks<T: Float>(a: &Strided, lo: usize, hi: usize, mut f: impl FnMut(&[f64])) {
    let mut wide = Scratch::new();
    a.for_each_block::<T>(lo, hi, |b| match T::as_f64(b) {
        Some(x) => f(x),
        None => {
            widen_into(b, &mut wide);
            f(wide.filled());
        }
    });
}

fn float_sum<T: Float>(a: &Strided, threads: usize) -> Total {
    if a.is_empty() {
        return Total::Float(0.0);
    }
    if a.len() <= BLOCK {
        // One block: its kernel total is the whole canonical tree (and the short-call path).
        let mut total = 0.0;
        f64_blocks::<T>(a, 0, 1, |b| total = block_sum(b));
        return Total::Float(total);
    }
    let step2 = is_every_second_f64(a);
    Total::Float(tree_reduce(
        block_count(a.len()),
        threads,
        &|lo, hi| {
            let mut p = Pairwise::default();
            if step2 {
                // SAFETY: `a` is every second f64 (checked above).
                unsafe { step2_blocks(a, lo, hi, |x, n| p.push(block_sum_step2(x, n))) };
            } else {
                f64_blocks::<T>(a, lo, hi, |b| p.push(block_sum(b)));
            }
            p.finish().unwrap_or(0.0)
        },
        &|x, y| x + y,
    ))
}

fn float_exact<T: Float>(a: &Strided, threads: usize) -> Option<ExactSum> {
    Some(tree_reduce(
        block_count(a.len()),
        threads,
        &|lo, hi| {
            let mut total = ExactSum::new();
            let mut adder = Adder::new();
            f64_blocks::<T>(a, lo, hi, |b| adder.add(b, &mut total));
            adder.finish(&mut total);
            total
        },
        &|mut x, y| {
            x.merge(&y);
            x
        },
    ))
}

/// When set, the correctly rounded reductions skip their certified fast paths and run the
/// exact accumulator (a test switch: results are the same either way, which tests check).
static FORCE_EXACT: AtomicBool = AtomicBool::new(false);

/// Sets the test switch [`FORCE_EXACT`]; returns its previous value.
pub fn set_force_exact(on: bool) -> bool {
    FORCE_EXACT.swap(on, Ordering::Relaxed)
}

pub(crate) fn certify_allowed() -> bool {
    !FORCE_EXACT.load(Ordering::Relaxed)
}

/// Inputs up to this many elements go straight to the exact accumulator: the certified pass
/// has a fixed cost (closing 16 lanes, a 32-term cascade) that only pays on longer inputs.
pub(crate) const CERTIFY_MIN_LEN: usize = 256;

fn float_fsum<T: Float>(a: &Strided, threads: usize) -> Total {
    if a.len() >= CERTIFY_MIN_LEN && certify_allowed() {
        // Strided input is gathered first: reading it in place measured slower for this
        // compute-heavier pass (0.95 vs 1.6 elements/ns at a[::2], 10^7).
        let partial = tree_reduce(
            block_count(a.len()),
            threads,
            &|lo, hi| {
                let mut lanes = Lanes::default();
                f64_blocks::<T>(a, lo, hi, |b| lanes_add_slice(&mut lanes, b));
                Partial::from_lanes(&lanes)
            },
            &|mut x, y| {
                x.merge(y);
                x
            },
        );
        if let Some(v) = partial.certify() {
            return Total::Float(v);
        }
    }
    Total::Float(float_exact::<T>(a, threads).map_or(0.0, |e| e.round()))
}
