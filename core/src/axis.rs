//! Reductions along chosen axes: each output entry is a whole-buffer reduction of one sub-array,
//! so it has exactly the bits that reducing that slice alone would give.
//!
//! [`write_outputs`] is the one axis-output writer: it computes entries in bounded chunks, each
//! spread over the threads, and writes each chunk into the destination before the next, with a
//! check for interruption in between. No temporary grows with the number of entries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::float::{tile_block_sum, Pairwise, LANES, TILE};
use crate::format::{Dtype, Elem, Kind};
use crate::layout::{block_count, Dims, LayoutError, Strided, StridedMut, BLOCK, MAX_NDIM};
use crate::parallel::{run_tasks, tree_reduce, Interrupted, Run, CHUNK_ELEMS};
use crate::reduce::f64_blocks;
use crate::reduce::{self, Total};
use crate::scalar::{by_elem, Float, Int};

/// An entry of an `axis` argument that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisArgError {
    /// `axes[i]` is not in `-ndim..ndim`.
    OutOfBounds(usize),
    /// `axes[i]` names an axis already named before it.
    Duplicate(usize),
}

/// Which axes of an `ndim`-dimensional array are reduced, from a list that may use negative
/// indices.
///
/// # Errors
/// The position in `axes` of the first entry out of range or repeated.
pub fn normalize_axes(axes: &[i64], ndim: usize) -> Result<[bool; MAX_NDIM], AxisArgError> {
    let mut reduced = [false; MAX_NDIM];
    let n = i64::try_from(ndim.min(MAX_NDIM)).unwrap_or(0);
    for (i, &ax) in axes.iter().enumerate() {
        // `ax + n` cannot overflow: `n <= 64` and `ax < 0`.
        let a = if ax < 0 { ax + n } else { ax };
        let Some(a) = usize::try_from(a).ok().filter(|&a| a < ndim) else {
            return Err(AxisArgError::OutOfBounds(i));
        };
        if std::mem::replace(&mut reduced[a], true) {
            return Err(AxisArgError::Duplicate(i));
        }
    }
    Ok(reduced)
}

/// Why an axis reduction stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisError {
    /// The check between chunks stopped the work.
    Interrupted,
    /// An integer total does not fit in int64.
    Overflow,
    /// Complex data (axis reductions write one real value per entry).
    Complex,
}

impl From<Interrupted> for AxisError {
    fn from(_: Interrupted) -> Self {
        AxisError::Interrupted
    }
}

/// A total as the 8 bytes of its output entry: float64 bits, or int64 for integer totals.
///
/// # Errors
/// [`AxisError::Overflow`] for an integer beyond int64, [`AxisError::Complex`] for complex.
pub fn output_bits(t: Total) -> Result<u64, AxisError> {
    match t {
        Total::Float(v) => Ok(v.to_bits()),
        // Two's complement bits of the int64.
        #[allow(clippy::cast_sign_loss)]
        Total::Int(v) => i64::try_from(v)
            .map(|x| x as u64)
            .map_err(|_| AxisError::Overflow),
        #[allow(clippy::cast_sign_loss)]
        Total::BigInt(v) => i64::try_from(&v)
            .map(|x| x as u64)
            .map_err(|_| AxisError::Overflow),
        Total::Complex(..) => Err(AxisError::Complex),
    }
}

/// The largest magnitude of an integer element type (`None` for other kinds).
fn int_magnitude(elem: Elem) -> Option<u128> {
    Some(match elem {
        Elem::Bool => 1,
        Elem::I8 => 1 << 7,
        Elem::U8 => u128::from(u8::MAX),
        Elem::I16 => 1 << 15,
        Elem::U16 => u128::from(u16::MAX),
        Elem::I32 => 1 << 31,
        Elem::U32 => u128::from(u32::MAX),
        Elem::I64 => 1 << 63,
        Elem::U64 => u128::from(u64::MAX),
        _ => return None,
    })
}

/// Whether integer sums of `len` elements of type `elem` can leave int64 (decides whether a
/// verification pass must come before writing into a caller's buffer).
#[must_use]
pub fn int_sum_may_overflow(elem: Elem, len: usize) -> bool {
    int_magnitude(elem).is_some_and(|m| (len as u128) * m > i64::MAX as u128)
}

/// Whether integer dot products of `len` pairs of types `x` and `y` can leave int64.
#[must_use]
pub fn int_dot_may_overflow(x: Elem, y: Elem, len: usize) -> bool {
    match (int_magnitude(x), int_magnitude(y)) {
        (Some(a), Some(b)) => a
            .checked_mul(b)
            .and_then(|p| p.checked_mul(len as u128))
            .is_none_or(|t| t > i64::MAX as u128),
        _ => false,
    }
}

/// Most entries computed before they are written (the staging block: 512 KiB).
pub const MAX_STAGED: usize = 1 << 16;

/// The axis-output writer: computes the 8-byte results of entries `0..outputs` and writes them
/// in order to `out` (float64 or int64 elements in C order of the output shape), or drops them
/// when `out` is `None` (a pass that only verifies every entry can be computed).
///
/// `compute(first, dst, run)` fills `dst[j]` with entry `first + j`, using `run` for its own
/// threads and checks; `per_entry` is the number of elements an entry reads, and ranges handed
/// to `compute` start at multiples of `group` (entries it computes together best).
///
/// Scheduling: when entries are few (fewer groups than threads) or large (a group reads at least
/// [`CHUNK_ELEMS`]), groups run in turn, each with every thread and the caller's checks inside;
/// otherwise entries go in chunks of about [`CHUNK_ELEMS`] elements of input (at most
/// [`MAX_STAGED`] entries), each chunk spread over the threads with [`Run::serial`] inside. Either
/// way `run`'s check comes between chunks or groups, and a chunk is written before the next
/// starts: when the work stops, `out` holds the entries of the finished chunks and nothing else.
///
/// # Errors
/// The first error of `compute` (or [`Interrupted`] from the check); no chunk is started after it.
///
/// # Panics
/// If `out` has fewer than `outputs` elements or elements of another size than 8 bytes (bugs).
pub fn write_outputs<E: From<Interrupted> + Send>(
    outputs: usize,
    per_entry: usize,
    group: usize,
    run: &Run,
    mut out: Option<&mut StridedMut>,
    compute: &(impl Fn(usize, &mut [u64], &Run) -> Result<(), E> + Sync),
) -> Result<(), E> {
    let threads = run.threads();
    let group = group.max(1);
    let work = per_entry.max(1);
    if outputs.div_ceil(group) < threads || work.saturating_mul(group) >= CHUNK_ELEMS {
        let mut stage = vec![0u64; group.min(outputs)];
        for (n, first) in (0..outputs).step_by(group).enumerate() {
            if n > 0 {
                run.check()?;
            }
            let dst = &mut stage[..group.min(outputs - first)];
            compute(first, dst, run)?;
            if let Some(o) = out.as_deref_mut() {
                o.scatter(first, dst);
            }
        }
        return Ok(());
    }
    let per_chunk = (CHUNK_ELEMS / work).clamp(group, MAX_STAGED.max(group)) / group * group;
    let mut stage = vec![0u64; per_chunk.min(outputs)];
    for (n, first) in (0..outputs).step_by(per_chunk).enumerate() {
        if n > 0 {
            run.check()?;
        }
        let dst = &mut stage[..per_chunk.min(outputs - first)];
        if threads == 1 {
            compute(first, dst, &Run::serial())?;
            if let Some(o) = out.as_deref_mut() {
                o.scatter(first, dst);
            }
            continue;
        }
        // A few pieces per thread, whole groups each, so a slow thread finishes last by little.
        let piece = dst.len().div_ceil(4 * threads).div_ceil(group).max(1) * group;
        let pieces: Vec<Mutex<(usize, &mut [u64])>> = dst
            .chunks_mut(piece)
            .enumerate()
            .map(|(j, d)| Mutex::new((first + j * piece, d)))
            .collect();
        let failed = AtomicBool::new(false);
        let error: Mutex<Option<E>> = Mutex::new(None);
        run_tasks(pieces.len(), threads, &|j| {
            if failed.load(Ordering::Relaxed) {
                return;
            }
            let mut piece = pieces[j].lock().unwrap_or_else(PoisonError::into_inner);
            let (at, ref mut d) = *piece;
            if let Err(e) = compute(at, d, &Run::serial()) {
                failed.store(true, Ordering::Relaxed);
                error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(e);
            }
        });
        if let Some(e) = error.into_inner().unwrap_or_else(PoisonError::into_inner) {
            return Err(e);
        }
        drop(pieces);
        if let Some(o) = out.as_deref_mut() {
            o.scatter(first, dst);
        }
    }
    Ok(())
}

/// The kept and reduced parts of a layout.
#[derive(Clone, Debug)]
pub struct AxisSplit {
    /// Shape of the result without kept-dims (the kept axes, in order).
    pub kept_shape: Vec<usize>,
    kept_strides: Vec<isize>,
    /// The kept axes collapsed (empty when the reduced axes are: entries are never located then).
    kept: Dims,
    inner: Dims,
    outputs: usize,
}

impl AxisSplit {
    /// # Errors
    /// As for [`Dims::new`]; [`LayoutError::TooLarge`] also when the number of output entries
    /// overflows (possible when a reduced axis is empty).
    pub fn new(shape: &[usize], strides: &[isize], reduced: &[bool]) -> Result<Self, LayoutError> {
        let (mut ks, mut kt, mut rs, mut rt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (&n, &s)) in shape.iter().zip(strides).enumerate() {
            if reduced[i] {
                rs.push(n);
                rt.push(s);
            } else {
                ks.push(n);
                kt.push(s);
            }
        }
        let inner = Dims::new(&rs, &rt)?;
        let (kept, outputs) = if inner.is_empty() {
            // Entries are never located (they are all zero): their layout needs no check.
            let outputs = ks
                .iter()
                .try_fold(1usize, |p, &n| p.checked_mul(n))
                .filter(|&p| isize::try_from(p).is_ok())
                .ok_or(LayoutError::TooLarge)?;
            (Dims::new(&[0], &[0])?, outputs)
        } else {
            let kept = Dims::new(&ks, &kt)?;
            let outputs = kept.len();
            (kept, outputs)
        };
        Ok(AxisSplit {
            kept_shape: ks,
            kept_strides: kt,
            kept,
            inner,
            outputs,
        })
    }

    /// Number of output entries.
    #[must_use]
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Number of elements each entry reduces.
    #[must_use]
    pub fn inner_len(&self) -> usize {
        self.inner.len()
    }

    /// Byte offset of output entry `i` (C order over the kept axes).
    fn offset(&self, mut i: usize) -> isize {
        let mut off = 0isize;
        for (&n, &s) in self.kept_shape.iter().zip(&self.kept_strides).rev() {
            off += (i % n) as isize * s;
            i /= n;
        }
        off
    }

    /// The sub-array that output entry `i < outputs()` reduces.
    ///
    /// # Safety
    /// `base` must be the `Strided` of the full layout this split was made from.
    #[must_use]
    pub unsafe fn slice(&self, base: &Strided, i: usize) -> Strided {
        if self.inner.is_empty() {
            // SAFETY: an empty layout reads nothing.
            return unsafe { base.with_layout(0, self.inner.clone()) };
        }
        // SAFETY: entry `i` starts inside the base buffer and its reduced axes stay inside it
        // (the caller's promise that `base` is this layout).
        unsafe { base.with_layout(self.offset(i), self.inner.clone()) }
    }

    /// `sum` of every output entry (as [`reduce::sum`] of its slice) into `out`; see
    /// [`AxisSplit::reduce_into`].
    ///
    /// # Safety
    /// As for [`AxisSplit::slice`].
    ///
    /// # Errors
    /// As for [`AxisSplit::reduce_into`].
    pub unsafe fn sum_into(
        &self,
        base: &Strided,
        run: &Run,
        out: Option<&mut StridedMut>,
    ) -> Result<(), AxisError> {
        if let Some(cols) = self.f64_columns(base) {
            return write_outputs(
                self.outputs,
                cols.rows,
                TILE,
                run,
                out,
                &|first, dst, run| {
                    // SAFETY: `cols` describes `base`, the caller's layout.
                    unsafe { cols.sums(base, first, dst, run) }.map_err(AxisError::from)
                },
            );
        }
        if self.inner.len() == 1 {
            // SAFETY: forwarded.
            return unsafe { self.one_element_each(base, run, out, false) };
        }
        // SAFETY: forwarded.
        unsafe { self.reduce_into(base, run, out, &reduce::sum) }
    }

    /// `fsum` of every output entry into `out`; see [`AxisSplit::reduce_into`].
    ///
    /// # Safety
    /// As for [`AxisSplit::slice`].
    ///
    /// # Errors
    /// As for [`AxisSplit::reduce_into`].
    pub unsafe fn fsum_into(
        &self,
        base: &Strided,
        run: &Run,
        out: Option<&mut StridedMut>,
    ) -> Result<(), AxisError> {
        if self.inner.len() == 1 {
            // SAFETY: forwarded.
            return unsafe { self.one_element_each(base, run, out, true) };
        }
        // SAFETY: forwarded.
        unsafe { self.reduce_into(base, run, out, &reduce::fsum) }
    }

    /// `sum` (or `fsum`) of slices of one element each (e.g. `axis=1` of shape `(n, 1)`): the
    /// elements of the kept axes, converted in blocks to what reducing each alone gives, without
    /// a reduction's per-call cost (which would be 100-500 ns an entry).
    ///
    /// # Safety
    /// As for [`AxisSplit::slice`].
    unsafe fn one_element_each(
        &self,
        base: &Strided,
        run: &Run,
        out: Option<&mut StridedMut>,
        fsum: bool,
    ) -> Result<(), AxisError> {
        // SAFETY: each entry's one element sits at the entry's own offset; the kept dims walk
        // exactly those offsets, inside `base` (the caller's promise).
        let kept = unsafe { base.with_layout(0, self.kept.clone()) };
        write_outputs(self.outputs, 1, BLOCK, run, out, &|first, dst, _| {
            // `first` is a multiple of BLOCK (the group).
            let lo = first / BLOCK;
            let hi = lo + dst.len().div_ceil(BLOCK);
            by_elem!(kept.dtype().elem, int: one_int, float: one_float, complex: Err(AxisError::Complex), (&kept, lo, hi, fsum, dst))
        })
    }

    /// `f(slice, run)` of every output entry, written through [`write_outputs`] into `out` in C
    /// order of the kept axes (or dropped when `out` is `None`).
    ///
    /// # Safety
    /// As for [`AxisSplit::slice`].
    ///
    /// # Errors
    /// [`AxisError`]: interrupted, an integer total beyond int64, or complex data.
    pub unsafe fn reduce_into(
        &self,
        base: &Strided,
        run: &Run,
        out: Option<&mut StridedMut>,
        f: &(impl Fn(&Strided, &Run) -> Result<Total, Interrupted> + Sync),
    ) -> Result<(), AxisError> {
        if base.dtype().kind() == Kind::Complex {
            return Err(AxisError::Complex);
        }
        if self.inner.is_empty() {
            // Every entry is the reduction of nothing: computed once.
            // SAFETY: an empty slice.
            let empty = output_bits(f(&unsafe { self.slice(base, 0) }, run)?)?;
            return write_outputs(self.outputs, 1, MAX_STAGED, run, out, &|_, dst, _| {
                dst.fill(empty);
                Ok::<(), AxisError>(())
            });
        }
        write_outputs(
            self.outputs,
            self.inner.len(),
            1,
            run,
            out,
            &|first, dst, run| {
                for (j, d) in dst.iter_mut().enumerate() {
                    // SAFETY: the caller's promise; `first + j < outputs`.
                    let slice = unsafe { self.slice(base, first + j) };
                    *d = output_bits(f(&slice, run)?)?;
                }
                Ok(())
            },
        )
    }

    /// `f(x slice, y slice, run)` of every output entry of two inputs of the same shape (`self`
    /// split from `x`'s layout, `other` from `y`'s, with the same reduced axes), written through
    /// [`write_outputs`] into `out` in C order of the kept axes (or dropped when `out` is `None`).
    ///
    /// # Safety
    /// `x` and `y` must be the `Strided` of the full layouts `self` and `other` were made from.
    ///
    /// # Errors
    /// As for [`AxisSplit::reduce_into`].
    pub unsafe fn reduce_pairs_into(
        &self,
        other: &AxisSplit,
        x: &Strided,
        y: &Strided,
        run: &Run,
        out: Option<&mut StridedMut>,
        f: &(impl Fn(&Strided, &Strided, &Run) -> Result<Total, Interrupted> + Sync),
    ) -> Result<(), AxisError> {
        debug_assert_eq!(self.outputs(), other.outputs());
        if x.dtype().kind() == Kind::Complex || y.dtype().kind() == Kind::Complex {
            return Err(AxisError::Complex);
        }
        write_outputs(
            self.outputs,
            self.inner.len(),
            1,
            run,
            out,
            &|first, dst, run| {
                for (j, d) in dst.iter_mut().enumerate() {
                    // SAFETY: entry `first + j` of each split lies inside its own base (the
                    // caller's promise).
                    let (sx, sy) = unsafe { (self.slice(x, first + j), other.slice(y, first + j)) };
                    *d = output_bits(f(&sx, &sy, run)?)?;
                }
                Ok(())
            },
        )
    }

    /// Native f64 whose reduced axes collapse to one strided axis and whose kept axes collapse
    /// to one contiguous axis (e.g. `axis=0` of a C-ordered matrix): summed [`TILE`] columns at
    /// a time, walking rows in memory order.
    fn f64_columns(&self, base: &Strided) -> Option<Columns> {
        let kept = &self.kept;
        let contiguous_out = kept.shape().len() == 1 && kept.strides()[0] == 8;
        let one_reduced_axis = self.inner.shape().len() == 1 && !self.inner.is_empty();
        if base.dtype() != Dtype::native(Elem::F64) || !contiguous_out || !one_reduced_axis {
            return None;
        }
        Some(Columns {
            rows: self.inner.len(),
            row_stride: self.inner.strides()[0],
            first: self.offset(0),
        })
    }
}

/// [`AxisSplit::one_element_each`] for floats: blocks `lo..hi` of `v` into `dst`.
#[allow(clippy::unnecessary_wraps)] // one signature for both families of `by_elem!`
fn one_float<T: Float>(
    v: &Strided,
    lo: usize,
    hi: usize,
    fsum: bool,
    dst: &mut [u64],
) -> Result<(), AxisError> {
    let mut at = 0;
    // Widened exactly as the reductions widen them.
    f64_blocks::<T>(v, lo, hi, |b| {
        for (d, &x) in dst[at..at + b.len()].iter_mut().zip(b) {
            *d = one_value(x, fsum).to_bits();
        }
        at += b.len();
    });
    Ok(())
}

/// `sum` or `fsum` of the one value `x`. `sum`: the canonical block sum of one value is `-0.0 + x`
/// (lanes start at `-0.0`, and the fold adds `-0.0`, which changes nothing). `fsum`: the exact
/// sum of one value is that value, correctly rounded already, and an exact zero is `+0.0`
/// (`x + 0.0` gives both); a NaN goes through the exact path so its bits match it too.
#[inline]
fn one_value(x: f64, fsum: bool) -> f64 {
    if !fsum {
        return -0.0 + x;
    }
    if !x.is_nan() {
        return x + 0.0;
    }
    let Ok(dims) = Dims::new(&[1], &[8]) else {
        return x;
    };
    // SAFETY: one readable f64 (`x`), which outlives the view.
    let one = unsafe {
        Strided::new(
            std::ptr::from_ref(&x).cast(),
            dims,
            Dtype::native(Elem::F64),
        )
    };
    match reduce::fsum(&one, &Run::serial()) {
        Ok(Total::Float(v)) => v,
        _ => x,
    }
}

/// [`AxisSplit::one_element_each`] for integers and bools: blocks `lo..hi` of `v` into `dst`.
fn one_int<T: Int>(
    v: &Strided,
    lo: usize,
    hi: usize,
    fsum: bool,
    dst: &mut [u64],
) -> Result<(), AxisError> {
    let mut at = 0;
    let mut status = Ok(());
    v.for_each_block::<T>(lo, hi, |b| {
        for (d, &x) in dst[at..at + b.len()].iter_mut().zip(b) {
            let x = x.to_i128();
            *d = if fsum {
                // `as` rounds to nearest, ties to even, as `fsum` of integers does.
                #[allow(clippy::cast_precision_loss)]
                (x as f64).to_bits()
            } else {
                output_bits(Total::Int(x)).unwrap_or_else(|e| {
                    status = Err(e);
                    0
                })
            };
        }
        at += b.len();
    });
    status
}

/// Adjacent f64 columns: `rows` rows `row_stride` bytes apart, column `c` at byte
/// `first + 8c` from the base.
struct Columns {
    rows: usize,
    row_stride: isize,
    first: isize,
}

impl Columns {
    /// The `sum` bits of columns `first ..` into `dst`, [`TILE`] columns at a time: each
    /// column's canonical tree over its row blocks, evaluated by the driver (so row ranges are
    /// spread over the threads and checked between chunks when a tile is large).
    ///
    /// # Safety
    /// `base` is the layout these columns were taken from, and the columns exist.
    unsafe fn sums(
        &self,
        base: &Strided,
        first: usize,
        dst: &mut [u64],
        run: &Run,
    ) -> Result<(), Interrupted> {
        for (t, dst) in dst.chunks_mut(TILE).enumerate() {
            let (c0, width) = (first + t * TILE, dst.len());
            let leaf = |lo: usize, hi: usize| {
                let mut trees = vec![Pairwise::default(); width];
                let (mut acc, mut totals) = (vec![0.0; LANES * width], vec![0.0; width]);
                for blk in lo..hi {
                    let r0 = blk * BLOCK;
                    // SAFETY: rows `r0 ..` of columns `c0 .. c0 + width` are elements of `base`
                    // (the caller's promise); offsets fit (checked by `Dims::new`).
                    unsafe {
                        let p = base
                            .as_ptr()
                            .offset(self.first + (c0 * 8) as isize + r0 as isize * self.row_stride);
                        tile_block_sum(
                            p,
                            self.row_stride,
                            BLOCK.min(self.rows - r0),
                            &mut acc,
                            &mut totals,
                        );
                    }
                    for (tree, &total) in trees.iter_mut().zip(&totals) {
                        tree.push(total);
                    }
                }
                trees
                    .into_iter()
                    .map(|tree| tree.finish().unwrap_or(0.0))
                    .collect::<Vec<f64>>()
            };
            let combine = |mut left: Vec<f64>, right: Vec<f64>| {
                for (l, r) in left.iter_mut().zip(right) {
                    *l += r;
                }
                left
            };
            let totals = tree_reduce(block_count(self.rows), run, &leaf, &combine)?;
            for (d, v) in dst.iter_mut().zip(totals) {
                *d = v.to_bits();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Dtype;

    fn never() -> Result<(), Interrupted> {
        Ok(())
    }

    #[test]
    fn axes_are_normalized_or_refused_by_position() {
        let r = normalize_axes(&[-1, 0], 3).unwrap();
        assert_eq!(&r[..3], &[true, false, true]);
        assert_eq!(
            normalize_axes(&[0, 3], 3),
            Err(AxisArgError::OutOfBounds(1))
        );
        assert_eq!(normalize_axes(&[-4], 3), Err(AxisArgError::OutOfBounds(0)));
        assert_eq!(
            normalize_axes(&[i64::MIN], 3),
            Err(AxisArgError::OutOfBounds(0))
        );
        assert_eq!(
            normalize_axes(&[i64::MAX], 3),
            Err(AxisArgError::OutOfBounds(0))
        );
        assert_eq!(normalize_axes(&[1, -2], 3), Err(AxisArgError::Duplicate(1)));
        assert_eq!(normalize_axes(&[0], 0), Err(AxisArgError::OutOfBounds(0)));
    }

    #[test]
    fn overflow_bound() {
        assert!(!int_sum_may_overflow(Elem::I32, (1 << 32) - 1));
        assert!(int_sum_may_overflow(Elem::I32, 1 << 32));
        assert!(int_sum_may_overflow(Elem::I64, 2));
        assert!(!int_sum_may_overflow(Elem::I64, 0));
        assert!(!int_sum_may_overflow(Elem::Bool, usize::MAX >> 1));
        assert!(!int_sum_may_overflow(Elem::F64, usize::MAX));
        assert!(!int_dot_may_overflow(Elem::I16, Elem::I16, 1 << 32));
        assert!(int_dot_may_overflow(Elem::I32, Elem::I32, 2));
        assert!(int_dot_may_overflow(Elem::U64, Elem::U64, 1));
        assert!(!int_dot_may_overflow(Elem::Bool, Elem::I8, 1000));
    }

    #[test]
    fn many_entries_are_written_in_chunks_with_checks() {
        // Zero strides: 3·MAX_STAGED + 5 entries of 2 elements each, all equal to 2.
        let one = 1i64.to_ne_bytes();
        let dims = Dims::new(&[3 * MAX_STAGED + 5, 2], &[0, 0]).unwrap();
        // SAFETY: every element is the 8 bytes of `one`.
        let base = unsafe { Strided::new(one.as_ptr(), dims, Dtype::native(Elem::I64)) };
        let split = AxisSplit::new(&[3 * MAX_STAGED + 5, 2], &[0, 0], &[false, true]).unwrap();
        let mut out = vec![0i64; split.outputs()];
        let out_dims = Dims::new(&[out.len()], &[8]).unwrap();
        // SAFETY: `out` is writable for its length and only accessed through `dst` meanwhile.
        let mut dst =
            unsafe { StridedMut::new(out.as_mut_ptr().cast(), out_dims, Dtype::native(Elem::I64)) };
        for threads in [1, 3] {
            let checks = std::cell::Cell::new(0);
            let check = || {
                checks.set(checks.get() + 1);
                Ok(())
            };
            // SAFETY: `base` is the layout of the split.
            unsafe { split.sum_into(&base, &Run::unclamped(threads, &check), Some(&mut dst)) }
                .unwrap();
            assert!(out.iter().all(|&v| v == 2));
            assert_eq!(checks.get(), 3, "threads {threads}");
            out.fill(0);
        }
        // Stopped at the second check: the first chunk is written, nothing after it.
        let calls = std::cell::Cell::new(0);
        let stop = || {
            calls.set(calls.get() + 1);
            if calls.get() == 2 {
                Err(Interrupted)
            } else {
                Ok(())
            }
        };
        // SAFETY: as above.
        let r = unsafe { split.sum_into(&base, &Run::unclamped(2, &stop), Some(&mut dst)) };
        assert_eq!(r, Err(AxisError::Interrupted));
        assert!(out[..2 * MAX_STAGED].iter().all(|&v| v == 2));
        assert!(out[2 * MAX_STAGED..].iter().all(|&v| v == 0));
        // A verification pass writes nothing.
        out.fill(0);
        // SAFETY: as above.
        unsafe { split.sum_into(&base, &Run::unclamped(2, &never), None) }.unwrap();
        assert!(out.iter().all(|&v| v == 0));
    }

    #[test]
    fn empty_reduced_axes_and_huge_outputs() {
        // (0, 2^62) reduced over axis 0: 2^62 entries, never located.
        let s = AxisSplit::new(&[0, 1 << 62], &[8, 1 << 40], &[true, false]).unwrap();
        assert_eq!(s.outputs(), 1 << 62);
        assert_eq!(s.inner_len(), 0);
        // More entries than isize::MAX, or than usize can count.
        let big = AxisSplit::new(&[0, 1 << 62, 4], &[8, 0, 0], &[true, false, false]);
        assert_eq!(big.unwrap_err(), LayoutError::TooLarge);
        let big = AxisSplit::new(&[0, 1 << 62, 1 << 62], &[8, 0, 0], &[true, false, false]);
        assert_eq!(big.unwrap_err(), LayoutError::TooLarge);
    }

    /// Entries through `sum_into`/`fsum_into` against each slice reduced alone.
    fn check_one_element_slices(bytes: &[u8], elem: Elem) {
        let size = elem.size();
        let n = bytes.len() / size;
        let (shape, strides) = ([n, 1], [size as isize, size as isize]);
        let dims = Dims::new(&shape, &strides).unwrap();
        // SAFETY: the layout covers `bytes` exactly.
        let base = unsafe { Strided::new(bytes.as_ptr(), dims, Dtype::native(elem)) };
        let split = AxisSplit::new(&shape, &strides, &[false, true]).unwrap();
        for fsum in [false, true] {
            let f = if fsum { reduce::fsum } else { reduce::sum };
            let want: Result<Vec<u64>, AxisError> = (0..n)
                .map(|i| {
                    // SAFETY: entry `i` of `base`.
                    let slice = unsafe { split.slice(&base, i) };
                    output_bits(f(&slice, &Run::serial()).unwrap())
                })
                .collect();
            let mut out = vec![0u64; n];
            let od = Dims::new(&[n], &[8]).unwrap();
            let out_elem = if elem.kind() == Kind::Int && !fsum {
                Elem::I64
            } else {
                Elem::F64
            };
            // SAFETY: `out` is writable and only accessed through `dst` meanwhile.
            let mut dst =
                unsafe { StridedMut::new(out.as_mut_ptr().cast(), od, Dtype::native(out_elem)) };
            // SAFETY: `base` is the layout of the split.
            let got = unsafe {
                if fsum {
                    split.fsum_into(&base, &Run::serial(), Some(&mut dst))
                } else {
                    split.sum_into(&base, &Run::serial(), Some(&mut dst))
                }
            };
            match want {
                Ok(w) => {
                    got.unwrap();
                    assert_eq!(out, w, "{elem:?} fsum={fsum}");
                }
                Err(e) => assert_eq!(got, Err(e), "{elem:?} fsum={fsum}"),
            }
        }
    }

    #[test]
    fn one_element_slices_match_the_reductions() {
        let specials = [
            0.0,
            -0.0,
            1.5,
            -2.25,
            5e-324,
            -f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001), // signalling NaN
            f64::from_bits(0xfff8_0000_0000_1234), // negative NaN with a payload
        ];
        let many: Vec<f64> = (0..3 * BLOCK + 5)
            .map(|i| specials[i % specials.len()] * (i as f64))
            .collect();
        for xs in [&specials[..], &many[..]] {
            check_one_element_slices(bytemuck::cast_slice(xs), Elem::F64);
            let f32s: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
            check_one_element_slices(bytemuck::cast_slice(&f32s), Elem::F32);
            let f16s: Vec<half::f16> = xs.iter().map(|&x| half::f16::from_f64(x)).collect();
            check_one_element_slices(bytemuck::cast_slice(&f16s), Elem::F16);
        }
        let ints: Vec<i64> = vec![0, -1, i64::MIN, i64::MAX, 12345];
        check_one_element_slices(bytemuck::cast_slice(&ints), Elem::I64);
        let bools = [0u8, 1, 2, 255];
        check_one_element_slices(&bools, Elem::Bool);
        let fits: Vec<u64> = vec![0, 1, i64::MAX as u64];
        check_one_element_slices(bytemuck::cast_slice(&fits), Elem::U64);
        // u64 beyond int64: `sum` overflows, `fsum` rounds.
        let big: Vec<u64> = vec![1, u64::MAX];
        check_one_element_slices(bytemuck::cast_slice(&big), Elem::U64);
    }

    #[test]
    fn column_sums_match_per_column_sums_for_every_thread_count() {
        // Many columns in tiles (the last one partial) spread over threads; few columns over
        // many row blocks, split into leaves across threads: every column has the bits of its
        // own canonical sum.
        for (rows, cols) in [(BLOCK + 17, 2 * TILE + 9), (20 * BLOCK + 17, 9)] {
            let mut s = 7u64;
            let xs: Vec<f64> = (0..rows * cols)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e3
                })
                .collect();
            let bytes: &[u8] = bytemuck::cast_slice(&xs);
            let shape = [rows, cols];
            let strides = [(8 * cols) as isize, 8];
            let dims = Dims::new(&shape, &strides).unwrap();
            // SAFETY: the layout covers `xs` exactly.
            let base = unsafe { Strided::new(bytes.as_ptr(), dims, Dtype::native(Elem::F64)) };
            let split = AxisSplit::new(&shape, &strides, &[true, false]).unwrap();
            assert!(split.f64_columns(&base).is_some());
            let want: Vec<u64> = (0..cols)
                .map(|c| {
                    // SAFETY: the column lies inside `xs`.
                    let col = unsafe { split.slice(&base, c) };
                    output_bits(reduce::sum(&col, &Run::serial()).unwrap()).unwrap()
                })
                .collect();
            for threads in [1, 2, 5] {
                let mut out = vec![0u64; cols];
                let od = Dims::new(&[cols], &[8]).unwrap();
                // SAFETY: `out` is writable and only accessed through `dst` meanwhile.
                let mut dst = unsafe {
                    StridedMut::new(out.as_mut_ptr().cast(), od, Dtype::native(Elem::F64))
                };
                let run = Run::unclamped(threads, &never);
                // SAFETY: `base` is the layout of the split.
                unsafe { split.sum_into(&base, &run, Some(&mut dst)) }.unwrap();
                assert_eq!(out, want, "rows {rows} cols {cols} threads {threads}");
            }
        }
    }
}
