//! Running totals written into a caller's buffer, element by element in logical order.

use crate::format::{Elem, Kind};
use crate::layout::{Scratch, Strided, StridedMut, BLOCK};
use crate::reduce::f64_blocks;
use crate::scalar::{by_elem, Int};

/// Why `cumsum` wrote nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CumsumError {
    /// A running total of integers leaves int64.
    Overflow,
    /// `dst` is not float64 for float data or int64 for integer data, or sizes differ.
    Mismatch,
}

/// Writes running totals of `src` into `dst` (same element count): float data into float64
/// (`out[i] = out[i-1] + x[i]`, in order), integer data into int64 after a pre-pass has checked
/// that no total leaves int64. `dst` may be the very same memory as `src` ([`crate::layout::overlap`]
/// `== Same`); each block is copied out before it is overwritten.
///
/// # Errors
/// [`CumsumError`]; `dst` is then untouched.
pub fn cumsum(src: &Strided, dst: &mut StridedMut) -> Result<(), CumsumError> {
    if src.len() != dst.len() {
        return Err(CumsumError::Mismatch);
    }
    let fits = matches!(
        (src.dtype().kind(), dst.as_strided().dtype().elem),
        (Kind::Float, Elem::F64) | (Kind::Int, Elem::I64)
    );
    if !fits {
        return Err(CumsumError::Mismatch);
    }
    by_elem!(src.dtype().elem, int: int_cumsum, float: float_cumsum, complex: Err(CumsumError::Mismatch), (src, dst))
}

#[allow(clippy::unnecessary_wraps)] // one signature for both families of `by_elem!`
fn float_cumsum<T: crate::scalar::Float>(
    src: &Strided,
    dst: &mut StridedMut,
) -> Result<(), CumsumError> {
    let mut running = -0.0f64; // exact identity: the first total is x[0] itself
    let mut out = Scratch::new();
    let mut start = 0;
    // `f64_blocks` may lend the source in place; totals go to `out` and are written after the
    // block has been read in full, so in-place (same memory) is safe.
    let blocks = src.len().div_ceil(BLOCK);
    for blk in 0..blocks {
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
    Ok(())
}

fn int_cumsum<T: Int>(src: &Strided, dst: &mut StridedMut) -> Result<(), CumsumError> {
    // Pre-pass: the extreme running totals, exactly.
    let (mut running, mut lo, mut hi) = (0i128, 0i128, 0i128);
    src.for_each_block::<T>(0, src.len().div_ceil(BLOCK), |b| {
        for &x in b {
            running += x.to_i128();
            lo = lo.min(running);
            hi = hi.max(running);
        }
    });
    if lo < i128::from(i64::MIN) || hi > i128::from(i64::MAX) {
        return Err(CumsumError::Overflow);
    }
    let mut running = 0i64;
    let mut out = Scratch::new();
    let mut start = 0;
    for blk in 0..src.len().div_ceil(BLOCK) {
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
    Ok(())
}
