//! Reductions along chosen axes: each output entry is a whole-buffer reduction of one sub-array,
//! so it has exactly the bits that reducing that slice alone would give.

use crate::float::{tile_block_sum, Pairwise, LANES, TILE};
use crate::format::{Dtype, Elem};
use crate::layout::{Dims, LayoutError, Strided, BLOCK, MAX_NDIM};
use crate::parallel::map_indices;
use crate::reduce::{self, Total};

/// Which axes of an `ndim`-dimensional array are reduced, from a list that may use negative
/// indices.
///
/// # Errors
/// A message naming the offending axis: out of range, or repeated.
pub fn normalize_axes(axes: &[i64], ndim: usize) -> Result<[bool; MAX_NDIM], String> {
    let mut reduced = [false; MAX_NDIM];
    for &ax in axes {
        let n = i64::try_from(ndim).unwrap_or(i64::MAX);
        let a = if ax < 0 { ax + n } else { ax };
        if !(0..n).contains(&a) {
            return Err(format!(
                "axis {ax} is out of bounds for array of dimension {ndim}"
            ));
        }
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        let a = a as usize;
        if reduced[a] {
            return Err(format!("duplicate value in 'axis': {ax}"));
        }
        reduced[a] = true;
    }
    Ok(reduced)
}

/// The kept and reduced parts of a layout.
#[derive(Clone, Debug)]
pub struct AxisSplit {
    /// Shape of the result without kept-dims (the kept axes, in order).
    pub kept_shape: Vec<usize>,
    kept_strides: Vec<isize>,
    inner: Dims,
}

impl AxisSplit {
    /// # Errors
    /// As for [`Dims::new`].
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
        Ok(AxisSplit {
            kept_shape: ks,
            kept_strides: kt,
            inner: Dims::new(&rs, &rt)?,
        })
    }

    /// Number of output entries.
    #[must_use]
    pub fn outputs(&self) -> usize {
        self.kept_shape.iter().product()
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

    /// `sum` of every output entry (as [`reduce::sum`] of its slice), in C order of the kept axes.
    ///
    /// # Safety
    /// `base` must be the `Strided` of the full layout this split was made from.
    #[must_use]
    pub unsafe fn sum(&self, base: &Strided, threads: usize) -> Vec<Total> {
        // SAFETY: the caller's promise, forwarded.
        unsafe { self.sum_f64_columns(base, threads) }
            // SAFETY: as above.
            .unwrap_or_else(|| unsafe { self.map(base, threads, &reduce::sum) })
    }

    /// `fsum` of every output entry, in C order of the kept axes.
    ///
    /// # Safety
    /// As for [`AxisSplit::sum`].
    #[must_use]
    pub unsafe fn fsum(&self, base: &Strided, threads: usize) -> Vec<Total> {
        // SAFETY: the caller's promise, forwarded.
        unsafe { self.map(base, threads, &reduce::fsum) }
    }

    /// Native f64 whose reduced axes collapse to one strided axis and whose kept axes collapse
    /// to one contiguous axis (e.g. `axis=0` of a C-ordered matrix): [`TILE`] columns at a time,
    /// walking rows in memory order, each column with the bits of its own canonical sum.
    unsafe fn sum_f64_columns(&self, base: &Strided, threads: usize) -> Option<Vec<Total>> {
        let kept = Dims::new(&self.kept_shape, &self.kept_strides).ok()?;
        let contiguous_out = kept.shape().len() == 1 && kept.strides()[0] == 8;
        let one_reduced_axis = self.inner.shape().len() == 1 && !self.inner.is_empty();
        if base.dtype() != Dtype::native(Elem::F64) || !contiguous_out || !one_reduced_axis {
            return None;
        }
        let (cols, rows, row_stride) = (kept.len(), self.inner.len(), self.inner.strides()[0]);
        let first = self.offset(0);
        let per_tile = map_indices(cols.div_ceil(TILE), threads, &|t| {
            let (c0, width) = (t * TILE, TILE.min(cols - t * TILE));
            let mut trees = vec![Pairwise::default(); width];
            let (mut acc, mut totals) = (vec![0.0; LANES * width], vec![0.0; width]);
            for r0 in (0..rows).step_by(BLOCK) {
                // SAFETY: rows `r0..` of columns `c0 .. c0 + width` are elements of `base`.
                unsafe {
                    let p = base
                        .as_ptr()
                        .offset(first + (c0 * 8) as isize + r0 as isize * row_stride);
                    tile_block_sum(p, row_stride, BLOCK.min(rows - r0), &mut acc, &mut totals);
                }
                for (tree, &total) in trees.iter_mut().zip(&totals) {
                    tree.push(total);
                }
            }
            trees
                .into_iter()
                .map(|tree| Total::Float(tree.finish().unwrap_or(0.0)))
                .collect::<Vec<_>>()
        });
        Some(per_tile.into_iter().flatten().collect())
    }

    /// `f(x slice, y slice, threads)` for every output entry of two inputs of the same shape
    /// (`self` split from `x`'s layout, `other` from `y`'s, with the same reduced axes), in C
    /// order of the kept axes; threads as in [`AxisSplit::map`].
    ///
    /// # Safety
    /// `x` and `y` must be the `Strided` of the full layouts `self` and `other` were made from.
    pub unsafe fn map_pairs<R: Send>(
        &self,
        other: &AxisSplit,
        x: &Strided,
        y: &Strided,
        threads: usize,
        f: &(impl Fn(&Strided, &Strided, usize) -> R + Sync),
    ) -> Vec<R> {
        debug_assert_eq!(self.outputs(), other.outputs());
        let n = self.outputs();
        let (outer, inner) = if n >= threads {
            (threads, 1)
        } else {
            (1, threads)
        };
        map_indices(n, outer, &|i| {
            // SAFETY: entry `i` of each split lies inside its own base (the caller's promise).
            let (sx, sy) = unsafe {
                (
                    x.with_layout(self.offset(i), self.inner.clone()),
                    y.with_layout(other.offset(i), other.inner.clone()),
                )
            };
            f(&sx, &sy, inner)
        })
    }

    /// `f(sub-array, threads)` for every output entry, in C order of the kept axes.
    ///
    /// # Safety
    /// `base` must be the `Strided` of the full layout this split was made from.
    pub unsafe fn map_each<R: Send>(
        &self,
        base: &Strided,
        threads: usize,
        f: &(impl Fn(&Strided, usize) -> R + Sync),
    ) -> Vec<R> {
        // SAFETY: the caller's promise, forwarded.
        unsafe { self.map(base, threads, f) }
    }

    /// `f(sub-array)` for every output entry, in C order of the kept axes. With more entries
    /// than threads the entries are spread over the threads and `f` gets `1`; otherwise the
    /// entries run in turn and `f` gets all the threads.
    ///
    /// # Safety
    /// `base` must be the `Strided` of the full layout this split was made from.
    unsafe fn map<R: Send>(
        &self,
        base: &Strided,
        threads: usize,
        f: &(impl Fn(&Strided, usize) -> R + Sync),
    ) -> Vec<R> {
        let n = self.outputs();
        let (outer, inner) = if n >= threads {
            (threads, 1)
        } else {
            (1, threads)
        };
        map_indices(n, outer, &|i| {
            // SAFETY: entry `i` starts inside the base buffer and its reduced axes stay inside it
            // (the caller's promise that `base` is this layout).
            let sub = unsafe { base.with_layout(self.offset(i), self.inner.clone()) };
            f(&sub, inner)
        })
    }
}
