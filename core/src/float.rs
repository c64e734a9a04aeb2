//! The reproducible float64 sum: one canonical order, SIMD kernels chosen at run time.
//!
//! The order is fixed by the logical element sequence alone:
//! 1. the sequence is cut into blocks of [`BLOCK`](crate::layout::BLOCK) elements;
//! 2. inside a block, element `i` goes to lane `i % LANES`; each lane starts at `-0.0` (the exact
//!    additive identity) and adds its elements left to right; the lanes are folded by halves
//!    (`lane[j] += lane[j + w]` for `w = 16, 8, 4, 2, 1`);
//! 3. block totals are combined by a fixed binary tree: a range of `n > 1` blocks is split at the
//!    largest power of two below `n`, left part plus right part.
//!
//! Any SIMD width that keeps the lanes apart and never fuses a multiply-add (Rust never
//! contracts) gives the same bits, and threads that evaluate subtrees of step 3 do too. Error:
//! each lane adds at most `BLOCK / LANES = 64` values, the fold adds 5 levels and the tree
//! `log2(n / BLOCK)`, so the bound is about `(70 + log2 n) · u · Σ|x|`.

use crate::simd::multiversion;

use smallvec::SmallVec;

/// Independent accumulators per block: 4 AVX-512, 8 AVX2 or 16 SSE2 registers of partial sums.
pub const LANES: usize = 32;

#[inline(always)]
fn lanes_sum(xs: &[f64]) -> f64 {
    let mut acc = [-0.0f64; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            acc[j] += c[j];
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a += x;
    }
    fold(acc)
}

/// The canonical order over the rounded products `fl(x[i]·y[i])` (no fused multiply-add, so
/// every instruction set gives the same bits).
#[inline(always)]
fn lanes_dot(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len().min(ys.len());
    let (xs, ys) = (&xs[..n], &ys[..n]);
    let mut acc = [-0.0f64; LANES];
    let mut cx = xs.chunks_exact(LANES);
    let mut cy = ys.chunks_exact(LANES);
    for (a, b) in (&mut cx).zip(&mut cy) {
        for j in 0..LANES {
            acc[j] += a[j] * b[j];
        }
    }
    for ((s, &a), &b) in acc.iter_mut().zip(cx.remainder()).zip(cy.remainder()) {
        *s += a * b;
    }
    fold(acc)
}

/// The same order over `n` values `STEP` elements apart (no gather copy for `a[::2]`).
///
/// # Safety
/// `p + k·STEP` must be readable as an f64 (any alignment) for every `k < n`.
#[inline(always)]
unsafe fn lanes_sum_step<const STEP: usize>(p: *const f64, n: usize) -> f64 {
    let mut acc = [-0.0f64; LANES];
    let full = n / LANES;
    for c in 0..full {
        // SAFETY: element `c·LANES + j < n` (caller's promise).
        let base = unsafe { p.add(c * LANES * STEP) };
        #[allow(clippy::needless_range_loop)]
        for j in 0..LANES {
            // SAFETY: as above.
            acc[j] += unsafe { base.add(j * STEP).read_unaligned() };
        }
    }
    for (j, a) in acc.iter_mut().enumerate().take(n % LANES) {
        // SAFETY: element `full·LANES + j < n`.
        *a += unsafe { p.add((full * LANES + j) * STEP).read_unaligned() };
    }
    fold(acc)
}

/// [`lanes_sum_step`] for `a[::2]`.
///
/// # Safety
/// As for [`lanes_sum_step`].
#[inline(always)]
unsafe fn lanes_sum_step2(p: *const f64, n: usize) -> f64 {
    // SAFETY: forwarded promise.
    unsafe { lanes_sum_step::<2>(p, n) }
}

#[inline(always)]
fn fold(mut acc: [f64; LANES]) -> f64 {
    let mut w = LANES / 2;
    while w > 0 {
        for j in 0..w {
            acc[j] += acc[j + w];
        }
        w /= 2;
    }
    acc[0]
}

/// Most adjacent columns summed at once by [`tile_block_sum`]: their lane accumulators
/// (`LANES · TILE` f64) take 64 KiB.
pub const TILE: usize = 256;

/// The canonical block totals of `out.len() <= TILE` adjacent f64 columns: `rows` rows,
/// `row_stride` bytes apart, from `p` (any alignment), walking each row in memory order (axis-0
/// sums of C-ordered arrays). Column `c` gets exactly the lanes, the order and the fold of
/// [`lanes_sum`] over its own elements, so `out[c]` has the bits of that column's block sum.
/// `acc` is scratch of at least `LANES · out.len()` values.
///
/// # Safety
/// Every `p + i·row_stride + c·8` for `i < rows`, `c < out.len()` must be readable as an f64.
#[inline(always)]
unsafe fn tile_lanes(
    p: *const u8,
    row_stride: isize,
    rows: usize,
    acc: &mut [f64],
    out: &mut [f64],
) {
    let cols = out.len();
    let acc = &mut acc[..LANES * cols];
    acc.fill(-0.0);
    for i in 0..rows {
        // SAFETY: row `i < rows` (caller's promise).
        let row = unsafe { p.offset(i as isize * row_stride) }.cast::<f64>();
        let lane = (i % LANES) * cols;
        for (c, a) in acc[lane..lane + cols].iter_mut().enumerate() {
            // SAFETY: column `c < cols` of that row.
            *a += unsafe { row.add(c).read_unaligned() };
        }
    }
    let mut w = LANES / 2;
    while w > 0 {
        let (lo, hi) = acc.split_at_mut(w * cols);
        for (a, b) in lo.iter_mut().zip(hi.iter()) {
            *a += *b;
        }
        w /= 2;
    }
    out.copy_from_slice(&acc[..cols]);
}

multiversion! {
    /// The canonical sum of one block (at most [`BLOCK`](crate::layout::BLOCK) values).
    pub fn block_sum / block_sum_on(xs: &[f64]) -> f64 = lanes_sum;
}

multiversion! {
    /// The canonical sum of one block of products `x[i]·y[i]` (each rounded; the shorter
    /// length counts).
    pub fn block_dot / block_dot_on(xs: &[f64], ys: &[f64]) -> f64 = lanes_dot;
}

multiversion! {
    /// The canonical sum of one block of `n` f64 read every second element (`a[::2]`) from `p`
    /// (any alignment).
    ///
    /// # Safety
    /// `p + 2k` must be readable as an f64 for every `k < n`.
    pub unsafe fn block_sum_step2 / block_sum_step2_on(p: *const f64, n: usize) -> f64 = lanes_sum_step2;
}

multiversion! {
    /// The canonical block totals of `out.len() <= TILE` adjacent f64 columns: `rows` rows,
    /// `row_stride` bytes apart, from `p` (any alignment); `out[c]` has the bits of column
    /// `c`'s own block sum. `acc` is scratch of at least `LANES · out.len()` values.
    ///
    /// # Safety
    /// Every `p + i·row_stride + c·8` for `i < rows`, `c < out.len()` must be readable as f64.
    pub unsafe fn tile_block_sum / tile_block_sum_on(
        p: *const u8,
        row_stride: isize,
        rows: usize,
        acc: &mut [f64],
        out: &mut [f64],
    ) -> () = tile_lanes;
}

/// Step 3 of the canonical order for any partial result `R`, evaluated left to right: a stack of
/// complete subtrees, each `(height, total of its 2^height blocks)`. Pushing the totals of
/// consecutive aligned subtrees (of any heights that the canonical tree has at those places)
/// and finishing gives exactly what evaluating the canonical tree over all the blocks gives.
/// `combine(left, right)` joins two neighbouring parts.
#[derive(Clone, Debug)]
pub struct Subtrees<R> {
    // Heights strictly decrease from bottom to top, so eight entries inline cover 2^8 subtrees
    // before the stack moves to the heap.
    stack: SmallVec<[(u32, R); 8]>,
}

impl<R> Default for Subtrees<R> {
    fn default() -> Self {
        Subtrees {
            stack: SmallVec::new(),
        }
    }
}

impl<R> Subtrees<R> {
    /// Appends the total of the next complete subtree of `2^height` blocks, or — with a height
    /// below every pending one — the total of the final, incomplete part.
    #[inline]
    pub fn push(&mut self, mut height: u32, mut total: R, combine: impl Fn(R, R) -> R) {
        while self.stack.last().is_some_and(|&(h, _)| h == height) {
            let Some((_, left)) = self.stack.pop() else {
                break;
            };
            total = combine(left, total);
            // Heights are below 64 for any real input; saturate rather than wrap on nonsense.
            height = height.saturating_add(1);
        }
        self.stack.push((height, total));
    }

    /// The tree total of everything pushed (`None` if nothing was).
    #[must_use]
    pub fn finish(mut self, combine: impl Fn(R, R) -> R) -> Option<R> {
        let mut acc = self.stack.pop()?.1;
        while let Some((_, left)) = self.stack.pop() {
            acc = combine(left, acc);
        }
        Some(acc)
    }
}

/// [`Subtrees`] of f64 block totals: the float sum's step 3.
#[derive(Clone, Debug, Default)]
pub struct Pairwise(Subtrees<f64>);

/// `right + left`: the operand order this crate has always used (it only matters for which of
/// two NaN payloads survives).
#[inline(always)]
#[allow(clippy::needless_pass_by_value)]
fn add_pair(left: f64, right: f64) -> f64 {
    right + left
}

impl Pairwise {
    /// Appends the next block total.
    #[inline]
    pub fn push(&mut self, total: f64) {
        self.0.push(0, total, add_pair);
    }

    /// Appends the total of a complete subtree of `2^height` blocks computed elsewhere (e.g. a
    /// chunk summed by its own call), or — with a height below every pending one — the total of
    /// the final, incomplete part.
    #[inline]
    pub fn push_subtree(&mut self, height: u32, total: f64) {
        self.0.push(height, total, add_pair);
    }

    /// The tree total of everything pushed (`None` if nothing was).
    #[must_use]
    pub fn finish(self) -> Option<f64> {
        self.0.finish(add_pair)
    }
}

/// Where the canonical tree splits a range of `n > 1` blocks: the largest power of two below `n`.
#[must_use]
pub fn split_point(n: usize) -> usize {
    debug_assert!(n > 1);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::BLOCK;
    use crate::simd::available;

    /// The canonical order written as its recursive definition, with a naive block kernel.
    fn reference(xs: &[f64]) -> f64 {
        fn block(xs: &[f64]) -> f64 {
            let mut acc = [-0.0f64; LANES];
            for (i, &x) in xs.iter().enumerate() {
                acc[i % LANES] += x;
            }
            let mut w = LANES / 2;
            while w > 0 {
                for j in 0..w {
                    acc[j] += acc[j + w];
                }
                w /= 2;
            }
            acc[0]
        }
        fn tree(bs: &[&[f64]]) -> f64 {
            if bs.len() == 1 {
                return block(bs[0]);
            }
            let m = split_point(bs.len());
            tree(&bs[..m]) + tree(&bs[m..])
        }
        let bs: Vec<&[f64]> = xs.chunks(BLOCK).collect();
        tree(&bs)
    }

    fn noisy(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let m = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                m * 2f64.powi(((s >> 3) % 40) as i32 - 20)
            })
            .collect()
    }

    #[test]
    fn every_kernel_matches_the_definition() {
        for n in [
            1,
            2,
            31,
            32,
            33,
            2047,
            2048,
            2049,
            3 * 2048,
            5 * 2048 + 7,
            11 * 2048 + 1000,
        ] {
            let xs = noisy(n, n as u64);
            let want = reference(&xs);
            for isa in available() {
                let mut p = Pairwise::default();
                for b in xs.chunks(BLOCK) {
                    p.push(block_sum_on(isa, b));
                }
                assert_eq!(
                    p.finish().unwrap().to_bits(),
                    want.to_bits(),
                    "{isa:?} n={n}"
                );
            }
        }
    }

    #[test]
    fn stride_two_kernel_matches() {
        for n in [1, 31, 33, 2048, 2000] {
            let xs = noisy(2 * n, 7);
            let evens: Vec<f64> = xs.iter().step_by(2).copied().collect();
            for isa in available() {
                // SAFETY: `n` elements two apart lie inside `xs`.
                let got = unsafe { block_sum_step2_on(isa, xs.as_ptr(), n) };
                assert_eq!(got.to_bits(), reference(&evens).to_bits(), "{isa:?} n={n}");
            }
        }
    }

    #[test]
    fn column_tiles_match_each_column() {
        let (rows, cols) = (2048 + 77, 13);
        let xs = noisy(rows * cols, 11);
        let mut acc = vec![0.0; LANES * TILE];
        for isa in available() {
            for r in [1, 31, 2048, rows - 2048] {
                let mut got = [0.0; 11];
                // SAFETY: `r` rows of 11 columns from column 2 lie inside `xs`.
                unsafe {
                    tile_block_sum_on(
                        isa,
                        xs.as_ptr().add(2).cast(),
                        (8 * cols) as isize,
                        r,
                        &mut acc,
                        &mut got,
                    );
                }
                for (c, &g) in got.iter().enumerate() {
                    let col: Vec<f64> = (0..r).map(|i| xs[i * cols + 2 + c]).collect();
                    assert_eq!(
                        g.to_bits(),
                        reference(&col).to_bits(),
                        "{isa:?} rows {r} col {c}"
                    );
                }
            }
        }
    }

    #[test]
    fn subtrees_combine_like_one_sum() {
        let xs = noisy(5 * 4 * BLOCK + 777, 3);
        let chunk = 4 * BLOCK; // 2^2 blocks
        let mut p = Pairwise::default();
        for c in xs.chunks(chunk) {
            let t = sum_slice(c).unwrap();
            p.push_subtree(if c.len() == chunk { 2 } else { 0 }, t);
        }
        assert_eq!(
            p.finish().unwrap().to_bits(),
            sum_slice(&xs).unwrap().to_bits()
        );
    }

    #[test]
    fn split_points() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1024), 512);
        assert_eq!(split_point(1025), 1024);
    }

    /// The canonical sum of a slice on one thread (`None` when empty).
    fn sum_slice(xs: &[f64]) -> Option<f64> {
        let mut p = Pairwise::default();
        for b in xs.chunks(BLOCK) {
            p.push(block_sum(b));
        }
        p.finish()
    }

    #[test]
    fn signed_zero_and_specials() {
        assert_eq!(sum_slice(&[-0.0]).unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(sum_slice(&[-0.0, 0.0]).unwrap().to_bits(), 0f64.to_bits());
        assert!(sum_slice(&[f64::INFINITY, f64::NEG_INFINITY])
            .unwrap()
            .is_nan());
        assert!(sum_slice(&[1.0, f64::NAN]).unwrap().is_nan());
        assert_eq!(sum_slice(&[]), None);
    }
}
