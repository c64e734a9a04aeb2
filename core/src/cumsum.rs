//! Running totals written into a caller's buffer, element by element in logical order.

use crate::column::{compact, Column};
use crate::format::{Elem, Kind};
use crate::layout::{block_count, Scratch, Strided, StridedMut};
use crate::parallel::{Interrupted, Run};
use crate::reduce::{f64_blocks, widened};
use crate::scalar::{by_elem, Float, Int};

/// Why `cumsum` stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CumsumError {
    /// A running total of integers leaves int64 (nothing was written).
    Overflow,
    /// `dst` is not float64 for float data or int64 for integer data, or sizes differ (nothing
    /// was written).
    Mismatch,
    /// A column holds this many nulls (running totals of absent values are undefined).
    Nulls(usize),
    /// `dst` shares memory with a column that is not one dense buffer.
    Overlap,
    /// The check between chunks stopped the work: a prefix of `dst` (whole chunks) may have
    /// been written, nothing after it.
    Interrupted,
}

impl From<Interrupted> for CumsumError {
    fn from(_: Interrupted) -> Self {
        CumsumError::Interrupted
    }
}

/// Calls `f(lo, hi)` for consecutive ranges of at most one chunk
/// ([`crate::parallel::CHUNK_BLOCKS`]) of the blocks of `len` elements, with `run`'s check
/// before every range but the first.
fn in_chunks(len: usize, run: &Run, mut f: impl FnMut(usize, usize)) -> Result<(), Interrupted> {
    let blocks = block_count(len);
    let mut lo = 0;
    while lo < blocks {
        if lo > 0 {
            run.check()?;
        }
        let hi = lo + run.chunk_blocks().min(blocks - lo);
        f(lo, hi);
        lo = hi;
    }
    Ok(())
}

/// Writes running totals of `src` into `dst` (same element count): float data into float64
/// (`out[i] = out[i-1] + x[i]`, in order), integer data into int64 after a pre-pass has checked
/// that no total leaves int64. `dst` may be the very same memory as `src` ([`crate::layout::overlap`]
/// `== Same`); each block is copied out before it is overwritten. Runs on one thread (each
/// total needs the one before), checking `run` between chunks.
///
/// # Errors
/// [`CumsumError`]; `dst` is then untouched, except after [`CumsumError::Interrupted`].
pub fn cumsum(src: &Strided, dst: &mut StridedMut, run: &Run) -> Result<(), CumsumError> {
    check(src.len(), src.dtype().kind(), dst)?;
    by_elem!(src.dtype().elem, int: int_cumsum, float: float_cumsum, complex: Err(CumsumError::Mismatch), (src, dst, run))
}

fn check(len: usize, kind: Kind, dst: &StridedMut) -> Result<(), CumsumError> {
    let fits = matches!(
        (kind, dst.as_strided().dtype().elem),
        (Kind::Float, Elem::F64) | (Kind::Int, Elem::I64)
    );
    if len != dst.len() || !fits {
        return Err(CumsumError::Mismatch);
    }
    Ok(())
}

/// [`cumsum`] of a column: one dense buffer as above; several chunks (Arrow streams, bit-packed
/// bools) are read in order. A column with nulls is refused, and so is a `dst` that shares
/// memory with a column of several chunks (the very same memory, in place, is for buffers).
/// Only a dense column is checked for interruption (the chunked walk runs to its end).
///
/// # Errors
/// [`CumsumError`]; `dst` is then untouched, except after [`CumsumError::Interrupted`].
pub fn cumsum_column(src: &Column, dst: &mut StridedMut, run: &Run) -> Result<(), CumsumError> {
    if let Some(s) = src.as_strided() {
        return cumsum(s, dst, run);
    }
    check(src.len(), src.dtype().kind(), dst)?;
    match src.null_count() {
        0 => {}
        n => return Err(CumsumError::Nulls(n)),
    }
    if src.may_overlap(dst.as_strided()) {
        return Err(CumsumError::Overlap);
    }
    by_elem!(src.dtype().elem, int: int_cumsum_column, float: float_cumsum_column, complex: Err(CumsumError::Mismatch), (src, dst))
}

#[allow(clippy::unnecessary_wraps)]
fn float_cumsum_column<T: Float>(src: &Column, dst: &mut StridedMut) -> Result<(), CumsumError> {
    let (mut running, mut start) = (-0.0f64, 0);
    let (mut wide, mut out) = (Scratch::new(), Scratch::new());
    // `dst` shares no memory with `src` (checked by the caller), so blocks may be written while
    // a source block is borrowed.
    compact::<T>(src, false, |b| {
        out.fill(widened(b, &mut wide).iter().map(|&x| {
            running += x;
            running
        }));
        dst.scatter(start, out.filled());
        start += b.len();
    });
    Ok(())
}

fn int_cumsum_column<T: Int>(src: &Column, dst: &mut StridedMut) -> Result<(), CumsumError> {
    let (mut running, mut lo, mut hi) = (0i128, 0i128, 0i128);
    compact::<T>(src, false, |b| {
        for &x in b {
            running += x.to_i128();
            lo = lo.min(running);
            hi = hi.max(running);
        }
    });
    if lo < i128::from(i64::MIN) || hi > i128::from(i64::MAX) {
        return Err(CumsumError::Overflow);
    }
    let (mut running, mut start) = (0i64, 0);
    let mut out = Scratch::new();
    compact::<T>(src, false, |b| {
        out.fill(b.iter().map(|&x| {
            // Cannot wrap: every running total was checked above.
            #[allow(clippy::cast_possible_truncation)]
            let v = x.to_i128() as i64;
            running = running.wrapping_add(v);
            running
        }));
        dst.scatter(start, out.filled());
        start += b.len();
    });
    Ok(())
}

fn float_cumsum<T: Float>(
    src: &Strided,
    dst: &mut StridedMut,
    run: &Run,
) -> Result<(), CumsumError> {
    let mut running = -0.0f64; // exact identity: the first total is x[0] itself
    let mut out = Scratch::new();
    let mut start = 0;
    // `f64_blocks` may lend the source in place; totals go to `out` and are written after the
    // block has been read in full, so in-place (same memory) is safe.
    in_chunks(src.len(), run, |lo, hi| {
        for blk in lo..hi {
            // The block is read in full (and its borrow ends) before anything is written.
            f64_blocks::<T>(src, blk, blk + 1, |b| {
                out.fill(b.iter().map(|&x| {
                    running += x;
                    running
                }));
            });
            dst.scatter(start, out.filled());
            start += out.filled().len();
        }
    })?;
    Ok(())
}

fn int_cumsum<T: Int>(src: &Strided, dst: &mut StridedMut, run: &Run) -> Result<(), CumsumError> {
    // Pre-pass: the extreme running totals, exactly (at most isize::MAX elements below 2^64 in
    // magnitude: no i128 overflow).
    let (mut running, mut lo, mut hi) = (0i128, 0i128, 0i128);
    in_chunks(src.len(), run, |lo_blk, hi_blk| {
        src.for_each_block::<T>(lo_blk, hi_blk, |b| {
            for &x in b {
                running += x.to_i128();
                lo = lo.min(running);
                hi = hi.max(running);
            }
        });
    })?;
    if lo < i128::from(i64::MIN) || hi > i128::from(i64::MAX) {
        return Err(CumsumError::Overflow);
    }
    let mut running = 0i64;
    let mut out = Scratch::new();
    let mut start = 0;
    in_chunks(src.len(), run, |lo_blk, hi_blk| {
        for blk in lo_blk..hi_blk {
            src.for_each_block::<T>(blk, blk + 1, |b| {
                out.fill(b.iter().map(|&x| {
                    // Cannot wrap: every running total was checked above.
                    #[allow(clippy::cast_possible_truncation)]
                    let v = x.to_i128() as i64;
                    running = running.wrapping_add(v);
                    running
                }));
            });
            dst.scatter(start, out.filled());
            start += out.filled().len();
        }
    })?;
    Ok(())
}
