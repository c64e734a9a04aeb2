//! Whole-buffer reductions: one dispatch from the element type to generic drivers.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::certified::{lanes_add_slice, Lanes, Partial};
use crate::column::{compact, compact_pairs, Column};
use crate::exact::{Adder, ExactSum};
use crate::float::{block_sum, block_sum_step2, Pairwise};
use crate::format::{Dtype, Elem, Kind};
use crate::kernels::{int_block_sum, widen_into};
use crate::layout::{block_count, Scratch, Strided, BLOCK};
use crate::parallel::{tree_reduce, Interrupted, Run};
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

// Every reduction runs through `tree_reduce` with the caller's `Run`: its threads, and its
// check between chunks, which may stop the work with `Interrupted`.

/// `sum`: exact for integers, the canonical float64 order for floats and each complex part.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn sum(a: &Strided, run: &Run) -> Result<Total, Interrupted> {
    by_elem!(a.dtype().elem, int: int_total, float: float_sum, complex: per_part(a, run, sum), (a, run))
}

/// `fsum`: the correctly rounded sum (integers: their exact sum, rounded once).
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn fsum(a: &Strided, run: &Run) -> Result<Total, Interrupted> {
    by_elem!(a.dtype().elem, int: int_fsum, float: float_fsum, complex: per_part(a, run, fsum), (a, run))
}

/// The exact total of a real buffer, for accumulators; `None` for complex formats.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn exact(a: &Strided, run: &Run) -> Result<Option<ExactSum>, Interrupted> {
    by_elem!(a.dtype().elem, int: int_exact, float: float_exact, complex: Ok(None), (a, run))
}

/// A complex reduction as the real reduction of each part: the parts are real views of the same
/// memory ([`Strided::complex_parts`]), so each gets exactly the order and rounding of a real
/// buffer holding those values.
fn per_part(
    a: &Strided,
    run: &Run,
    reduce: fn(&Strided, &Run) -> Result<Total, Interrupted>,
) -> Result<Total, Interrupted> {
    let real = |t| match t {
        Total::Float(v) => v,
        // Integers and complex cannot come from a float view; keep the types honest anyway.
        Total::Int(v) => v as f64,
        Total::BigInt(_) => f64::NAN,
        Total::Complex(re, _) => re,
    };
    match a.complex_parts() {
        Some((re, im)) => Ok(Total::Complex(
            real(reduce(&re, run)?),
            real(reduce(&im, run)?),
        )),
        None => reduce(a, run),
    }
}

fn int_sum<T: Int>(a: &Strided, run: &Run) -> Result<i128, Interrupted> {
    // Cannot overflow: at most isize::MAX elements (`Dims::new`) below 2^64 in magnitude.
    tree_reduce(
        block_count(a.len()),
        run,
        &|lo, hi| {
            let mut t = 0i128;
            a.for_each_block::<T>(lo, hi, |b| t += int_block_sum(b));
            t
        },
        &|x, y| x + y,
    )
}

fn int_total<T: Int>(a: &Strided, run: &Run) -> Result<Total, Interrupted> {
    Ok(Total::Int(int_sum::<T>(a, run)?))
}

fn int_fsum<T: Int>(a: &Strided, run: &Run) -> Result<Total, Interrupted> {
    // `as` rounds to nearest, ties to even.
    #[allow(clippy::cast_precision_loss)]
    Ok(Total::Float(int_sum::<T>(a, run)? as f64))
}

fn int_exact<T: Int>(a: &Strided, run: &Run) -> Result<Option<ExactSum>, Interrupted> {
    let mut e = ExactSum::new();
    e.add_i128(int_sum::<T>(a, run)?);
    Ok(Some(e))
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
    a.for_each_block::<T>(lo, hi, |b| f(widened(b, &mut wide)));
}

/// A block as f64: itself for f64, else converted into `wide`.
pub(crate) fn widened<'a, T: Float>(b: &'a [T], wide: &'a mut Scratch<f64>) -> &'a [f64] {
    match T::as_f64(b) {
        Some(x) => x,
        None => {
            widen_into(b, wide);
            wide.filled()
        }
    }
}

fn float_sum<T: Float>(a: &Strided, run: &Run) -> Result<Total, Interrupted> {
    if a.is_empty() {
        return Ok(Total::Float(0.0));
    }
    if a.len() <= BLOCK {
        // One block: its kernel total is the whole canonical tree (and the short-call path).
        let mut total = 0.0;
        f64_blocks::<T>(a, 0, 1, |b| total = block_sum(b));
        return Ok(Total::Float(total));
    }
    let step2 = is_every_second_f64(a);
    Ok(Total::Float(tree_reduce(
        block_count(a.len()),
        run,
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
    )?))
}

fn float_exact<T: Float>(a: &Strided, run: &Run) -> Result<Option<ExactSum>, Interrupted> {
    Ok(Some(tree_reduce(
        block_count(a.len()),
        run,
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
    )?))
}

/// When set, the correctly rounded reductions skip their certified fast paths and run the
/// exact accumulator (a test switch: results are the same either way, which tests check).
static FORCE_EXACT: AtomicBool = AtomicBool::new(false);

/// Sets the test switch that forces the exact paths; returns its previous value.
pub fn set_force_exact(on: bool) -> bool {
    FORCE_EXACT.swap(on, Ordering::Relaxed)
}

pub(crate) fn certify_allowed() -> bool {
    !FORCE_EXACT.load(Ordering::Relaxed)
}

/// Inputs up to this many elements go straight to the exact accumulator: the certified pass
/// has a fixed cost (closing 16 lanes, a 32-term cascade) that only pays on longer inputs.
pub(crate) const CERTIFY_MIN_LEN: usize = 256;

fn float_fsum<T: Float>(a: &Strided, run: &Run) -> Result<Total, Interrupted> {
    if a.len() >= CERTIFY_MIN_LEN && certify_allowed() {
        // Strided input is gathered first: reading it in place measured slower for this
        // compute-heavier pass (0.95 vs 1.6 elements/ns at a[::2], 10^7).
        let partial = tree_reduce(
            block_count(a.len()),
            run,
            &|lo, hi| {
                let mut lanes = Lanes::default();
                f64_blocks::<T>(a, lo, hi, |b| lanes_add_slice(&mut lanes, b));
                Partial::from_lanes(&lanes)
            },
            &|mut x, y| {
                x.merge(y);
                x
            },
        )?;
        if let Some(v) = partial.certify() {
            return Ok(Total::Float(v));
        }
    }
    Ok(Total::Float(
        float_exact::<T>(a, run)?.map_or(0.0, |e| e.round()),
    ))
}

// ---------------------------------------------------------------------------------------------
// Columns: inputs with absent values (Arrow nulls, NaNs under `nan_policy='omit'`) or several
// chunks. Dense one-segment columns take the buffer paths above unchanged (threads, in-place
// reads, SIMD); the others are compacted ([`crate::column::compact`]) into the canonical blocks
// of their present values and reduced sequentially (results never depend on threads anyway).

/// Whether `c` must be compacted: it has absent values or several segments (or `omit_nan`
/// asks to drop NaNs of a float type).
fn needs_compaction(c: &Column, omit_nan: bool) -> bool {
    c.as_strided().is_none() || (omit_nan && c.dtype().kind() != Kind::Int)
}

// A dense column goes through the driver (threads, chunks, interruption); the compacting walk
// runs on the calling thread to its end.

/// `sum` of the present values of `c` (nulls dropped; NaNs too with `omit_nan`): the bits of
/// [`sum`] over those values gathered into one contiguous buffer.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn sum_column(c: &Column, run: &Run, omit_nan: bool) -> Result<Total, Interrupted> {
    match c.as_strided() {
        Some(s) if !needs_compaction(c, omit_nan) => sum(s, run),
        _ => Ok(
            by_elem!(c.dtype().elem, int: int_total_compacted, float: float_sum_compacted, complex: complex_compacted(c, omit_nan, Op::Sum), (c, omit_nan)),
        ),
    }
}

/// `fsum` of the present values of `c`: the correctly rounded sum.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn fsum_column(c: &Column, run: &Run, omit_nan: bool) -> Result<Total, Interrupted> {
    match c.as_strided() {
        Some(s) if !needs_compaction(c, omit_nan) => fsum(s, run),
        _ => Ok(
            by_elem!(c.dtype().elem, int: int_fsum_compacted, float: float_fsum_compacted, complex: complex_compacted(c, omit_nan, Op::Fsum), (c, omit_nan)),
        ),
    }
}

/// The exact total of the present values of a real column and how many there are; `None` for
/// complex columns.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn exact_column(
    c: &Column,
    run: &Run,
    omit_nan: bool,
) -> Result<Option<(ExactSum, usize)>, Interrupted> {
    match c.as_strided() {
        Some(s) if !needs_compaction(c, omit_nan) => Ok(exact(s, run)?.map(|e| (e, s.len()))),
        _ => Ok(
            by_elem!(c.dtype().elem, int: int_exact_compacted, float: float_exact_compacted, complex: None, (c, omit_nan)),
        ),
    }
}

/// The correctly rounded sum of the values a replayable stream of f64 blocks yields: each call
/// `walk(f)` must call `f` with the same values in the same order (it runs once, or twice when
/// the certified pass cannot decide). `len_hint` (an upper bound on the count) only picks the
/// faster strategy.
pub fn fsum_of_blocks(len_hint: usize, walk: impl Fn(&mut dyn FnMut(&[f64]))) -> f64 {
    if len_hint >= CERTIFY_MIN_LEN && certify_allowed() {
        let mut lanes = Lanes::default();
        walk(&mut |b| lanes_add_slice(&mut lanes, b));
        if let Some(v) = Partial::from_lanes(&lanes).certify() {
            return v;
        }
    }
    exact_of_blocks(walk).round()
}

/// The exact total of the values a stream of f64 blocks yields.
pub fn exact_of_blocks(walk: impl FnOnce(&mut dyn FnMut(&[f64]))) -> ExactSum {
    let mut total = ExactSum::new();
    let mut adder = Adder::new();
    walk(&mut |b| adder.add(b, &mut total));
    adder.finish(&mut total);
    total
}

fn int_compacted<T: Int>(c: &Column, omit_nan: bool) -> (i128, usize) {
    let mut t = 0i128;
    let n = compact::<T>(c, omit_nan, |b| t += int_block_sum(b));
    (t, n)
}

fn int_total_compacted<T: Int>(c: &Column, omit_nan: bool) -> Total {
    Total::Int(int_compacted::<T>(c, omit_nan).0)
}

fn int_fsum_compacted<T: Int>(c: &Column, omit_nan: bool) -> Total {
    #[allow(clippy::cast_precision_loss)]
    Total::Float(int_compacted::<T>(c, omit_nan).0 as f64)
}

#[allow(clippy::unnecessary_wraps)] // one signature for both families of `by_elem!`
fn int_exact_compacted<T: Int>(c: &Column, omit_nan: bool) -> Option<(ExactSum, usize)> {
    let (t, n) = int_compacted::<T>(c, omit_nan);
    let mut e = ExactSum::new();
    e.add_i128(t);
    Some((e, n))
}

/// Calls `f` with the present values of `c` as canonical f64 blocks; returns their count.
pub(crate) fn compacted_f64<T: Float>(
    c: &Column,
    omit_nan: bool,
    f: &mut dyn FnMut(&[f64]),
) -> usize {
    let mut wide = Scratch::new();
    compact::<T>(c, omit_nan, |b| f(widened(b, &mut wide)))
}

fn float_sum_compacted<T: Float>(c: &Column, omit_nan: bool) -> Total {
    let mut tree = Pairwise::default();
    compacted_f64::<T>(c, omit_nan, &mut |b| tree.push(block_sum(b)));
    Total::Float(tree.finish().unwrap_or(0.0))
}

fn float_fsum_compacted<T: Float>(c: &Column, omit_nan: bool) -> Total {
    Total::Float(fsum_of_blocks(c.len(), |f| {
        compacted_f64::<T>(c, omit_nan, f);
    }))
}

#[allow(clippy::unnecessary_wraps)]
fn float_exact_compacted<T: Float>(c: &Column, omit_nan: bool) -> Option<(ExactSum, usize)> {
    let mut n = 0;
    let e = exact_of_blocks(|f| n = compacted_f64::<T>(c, omit_nan, f));
    Some((e, n))
}

#[derive(Clone, Copy)]
enum Op {
    Sum,
    Fsum,
}

/// A complex column with absent values: its parts are compacted together (an element is
/// absent when null, or with `omit_nan` when either part is NaN), each part reduced as a real
/// column of those values.
fn complex_compacted(c: &Column, omit_nan: bool, op: Op) -> Total {
    let Some((re, im)) = c.complex_parts() else {
        return Total::Complex(f64::NAN, f64::NAN);
    };
    fn parts<P: Float>(re: &Column, im: &Column, omit_nan: bool, op: Op) -> Total {
        // Each part's blocks, from one paired walk; `which` picks the part.
        let walk = |which: usize, f: &mut dyn FnMut(&[f64])| {
            let mut wide = Scratch::new();
            compact_pairs::<P, P>(re, im, omit_nan, |a, b| {
                f(widened(if which == 0 { a } else { b }, &mut wide));
            });
        };
        let reduce = |which: usize| match op {
            Op::Sum => {
                let mut tree = Pairwise::default();
                walk(which, &mut |b| tree.push(block_sum(b)));
                tree.finish().unwrap_or(0.0)
            }
            Op::Fsum => fsum_of_blocks(re.len(), |f| walk(which, f)),
        };
        Total::Complex(reduce(0), reduce(1))
    }
    match c.dtype().elem {
        Elem::C64 => parts::<f32>(&re, &im, omit_nan, op),
        _ => parts::<f64>(&re, &im, omit_nan, op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::{Bitmap, Segment, Values};
    use crate::layout::Dims;

    fn never() -> Result<(), Interrupted> {
        Ok(())
    }

    fn run(threads: usize) -> Run<'static> {
        Run::unclamped(threads, &never)
    }

    // The reductions on `threads` threads, never interrupted.
    fn sum(a: &Strided, threads: usize) -> Total {
        super::sum(a, &run(threads)).unwrap()
    }

    fn fsum(a: &Strided, threads: usize) -> Total {
        super::fsum(a, &run(threads)).unwrap()
    }

    fn sum_column(c: &Column, threads: usize, omit_nan: bool) -> Total {
        super::sum_column(c, &run(threads), omit_nan).unwrap()
    }

    fn fsum_column(c: &Column, threads: usize, omit_nan: bool) -> Total {
        super::fsum_column(c, &run(threads), omit_nan).unwrap()
    }

    fn exact_column(c: &Column, threads: usize, omit_nan: bool) -> Option<(ExactSum, usize)> {
        super::exact_column(c, &run(threads), omit_nan).unwrap()
    }

    fn strided<T: bytemuck::Pod>(xs: &[T], elem: Elem) -> Strided {
        // SAFETY: the tests keep `xs` alive while the view is used.
        unsafe {
            Strided::new(
                xs.as_ptr().cast(),
                Dims::new(&[xs.len()], &[std::mem::size_of::<T>() as isize]).unwrap(),
                Dtype::native(elem),
            )
        }
    }

    fn lcg(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let m = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                m * 2f64.powi(((s >> 5) % 60) as i32 - 30)
            })
            .collect()
    }

    /// `xs` in chunks at `cuts`, element `i` null when `null(i)`.
    fn column<T: bytemuck::Pod>(
        xs: &[T],
        elem: Elem,
        cuts: &[usize],
        null: impl Fn(usize) -> bool,
        maps: &mut Vec<Vec<u8>>,
    ) -> Column {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(xs.len());
        *maps = bounds
            .windows(2)
            .map(|w| {
                let mut m = vec![0u8; (w[1] - w[0]).div_ceil(8) + 1];
                for i in w[0]..w[1] {
                    m[(i - w[0]) / 8] |= u8::from(!null(i)) << ((i - w[0]) % 8);
                }
                m
            })
            .collect();
        let segs: Vec<Segment> = bounds
            .windows(2)
            .zip(maps.iter())
            .map(|(w, m)| Segment {
                values: Values::Strided(strided(&xs[w[0]..w[1]], elem)),
                // SAFETY: `m` covers the chunk's bits.
                validity: Some(unsafe { Bitmap::new(m.as_ptr(), 0) }),
            })
            .collect();
        Column::new(Dtype::native(elem), segs).unwrap()
    }

    #[test]
    fn columns_reduce_like_their_gathered_values() {
        let n = 9 * BLOCK + 123;
        let xs = lcg(n, 5);
        let null = |i: usize| i % 10 == 4 || (3000..3100).contains(&i);
        let kept: Vec<f64> = (0..n).filter(|&i| !null(i)).map(|i| xs[i]).collect();
        let gathered = strided(&kept, Elem::F64);
        let mut maps = Vec::new();
        for cuts in [vec![], vec![5, 2048, 7000], vec![BLOCK, 4 * BLOCK]] {
            let col = column(&xs, Elem::F64, &cuts, null, &mut maps);
            let want = sum(&gathered, 3);
            assert_eq!(sum_column(&col, 2, false), want);
            let Total::Float(w) = want else { panic!() };
            let Total::Float(g) = sum_column(&col, 1, false) else {
                panic!()
            };
            assert_eq!(g.to_bits(), w.to_bits());
            assert_eq!(fsum_column(&col, 1, false), fsum(&gathered, 1));
            let (e, count) = exact_column(&col, 1, false).unwrap();
            assert_eq!(count, kept.len());
            assert_eq!(Total::Float(e.round()), fsum(&gathered, 1));
        }
        let ints: Vec<i64> = (0..n as i64).map(|i| i * 1_000_003 - (1 << 40)).collect();
        let col = column(&ints, Elem::I64, &[77], null, &mut maps);
        let want: i128 = (0..n)
            .filter(|&i| !null(i))
            .map(|i| i128::from(ints[i]))
            .sum();
        assert_eq!(sum_column(&col, 1, false), Total::Int(want));
    }

    #[test]
    fn omit_nan_drops_nan_and_complex_parts_together() {
        let mut xs = lcg(3 * BLOCK, 9);
        xs[10] = f64::NAN;
        let col = Column::from_strided(strided(&xs, Elem::F64));
        let kept: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
        assert_eq!(
            sum_column(&col, 1, true),
            sum(&strided(&kept, Elem::F64), 1)
        );
        assert!(matches!(sum_column(&col, 1, false), Total::Float(v) if v.is_nan()));
        // Complex: element 1 has a NaN imaginary part, so its real part goes too.
        let z = [1.0, 2.0, 10.0, f64::NAN, 100.0, 200.0];
        // SAFETY: three complex128 elements inside `z`.
        let c = unsafe {
            Strided::new(
                z.as_ptr().cast(),
                Dims::new(&[3], &[16]).unwrap(),
                Dtype::native(Elem::C128),
            )
        };
        let col = Column::from_strided(c);
        assert_eq!(sum_column(&col, 1, true), Total::Complex(101.0, 202.0));
        assert_eq!(fsum_column(&col, 1, true), Total::Complex(101.0, 202.0));
    }

    /// A zero-stride view of `len` copies of the value in `bytes`.
    fn repeated(bytes: &[u8], elem: Elem, len: usize) -> Strided {
        let dims = Dims::new(&[len], &[0]).unwrap();
        // SAFETY: every element is the first `elem.size()` bytes of `bytes`.
        unsafe { Strided::new(bytes.as_ptr(), dims, Dtype::native(elem)) }
    }

    /// Astronomically long inputs (2^61 elements, zero strides) in debug mode: every count and
    /// offset is computed without overflow up to the first check, which stops the work.
    #[test]
    fn huge_lengths_run_until_interrupted() {
        use crate::cumsum::{cumsum, CumsumError};
        use crate::layout::StridedMut;
        use std::cell::Cell;

        let one = 1.0f64.to_ne_bytes();
        let checks = Cell::new(0);
        let stop = || {
            checks.set(checks.get() + 1);
            Err(Interrupted)
        };
        for threads in [1, 2] {
            // Chunks of 2^4 blocks per thread (32 Ki elements) keep debug mode quick.
            let run = Run::new(threads, &stop).with_chunk_log2(4);
            for elem in [Elem::F64, Elem::I8, Elem::U64] {
                let a = repeated(&one, elem, 1 << 61);
                assert_eq!(super::sum(&a, &run), Err(Interrupted), "{elem:?}");
                assert_eq!(super::fsum(&a, &run), Err(Interrupted), "{elem:?}");
                assert!(super::exact(&a, &run).is_err(), "{elem:?}");
            }
        }
        assert_eq!(checks.get(), 18);
        // cumsum into a zero-stride destination of the same length: a first chunk, then stop.
        let a = repeated(&one, Elem::F64, 1 << 61);
        let mut slot = [0u8; 8];
        let dims = Dims::new(&[1 << 61], &[0]).unwrap();
        // SAFETY: every element of the destination is `slot`.
        let mut dst = unsafe { StridedMut::new(slot.as_mut_ptr(), dims, Dtype::native(Elem::F64)) };
        let run = Run::new(1, &stop).with_chunk_log2(4);
        assert_eq!(cumsum(&a, &mut dst, &run), Err(CumsumError::Interrupted));
        // The last total written is that of the first chunk.
        assert_eq!(f64::from_ne_bytes(slot), (16 * BLOCK) as f64);
    }
}
