//! The fast way to add many floats exactly: per block, one vectorised fixed-point pass for the
//! elements near the block's largest exponent, and exponent bins for the rest (after R. M.
//! Neal's "large superaccumulator").
//!
//! **Window pass.** A finite f64 is `m · 2^(e-1075)` with a 53-bit integer `m` and `e =
//! max(biased exponent, 1)`. With `base = max(e_max, 1) - WINDOW` for the block's largest
//! exponent `e_max`, every element with `0 <= e - base <= WINDOW` is the integer `m · 2^(e-base)`
//! (below 2^84) times `2^(base-1075)`. It is split into a low 32-bit piece and a high piece
//! (below 2^52) that are added, signed, into lane accumulators — no table, no branch, one
//! vector loop. Zeros take part with any shift. Everything else in the block (a "straggler":
//! far below the block's largest value, or changed under our feet by a racing writer) goes to
//! the bins in a scalar second look.
//!
//! **Bins.** One signed i64 per biased exponent: an element adds `±m` to its exponent's bin; a
//! bin reaching `2^62` in magnitude is moved into the exact total at once. Blocks whose values
//! spread over many binades (the window would catch few) go to the bins directly, chosen per
//! block from the previous block's stragglers. The choice only affects speed.
//!
//! Nothing here outlives one [`Adder`]: bins are allocated (zeroed) on first use and dropped with
//! it, so no call can see another's state.

use super::digits::UNIT_BIT;
use super::ExactSum;
use crate::simd::multiversion;

const FRAC: u64 = (1 << 52) - 1;

/// Binades below a block's largest exponent that the window pass takes. The high piece of
/// `m · 2^s` for `s <= WINDOW` is below 2^(53+31-32) = 2^52.
const WINDOW: i64 = 31;

/// Lanes of the window pass (one AVX-512 register of i64; two AVX2).
const LANES: usize = 8;

/// Elements per window pass: each lane then takes at most `MAX_RUN / LANES = 256` elements, so
/// a lane's high sum stays below `256 · 2^52 = 2^60` and its low sum below `2^40`; the run's
/// total is below `2048 · 2^84 = 2^95`, which fits the `u128` magnitude of
/// [`ExactSum::add_at`] with room to spare.
pub const MAX_RUN: usize = 2048;

/// A bin is moved into the exact total when its magnitude reaches this: adds are below 2^53, so
/// a bin never exceeds `2^62 + 2^53 < 2^63`.
const BIN_LIMIT: i64 = 1 << 62;

/// Blocks are sent straight to the bins after a block in which more than this share of
/// elements (in 1/16) were stragglers.
const WIDE_SHARE_16THS: usize = 4;

/// Bit of the fixed-point total (units `2^-UNIT_BIT`) where the mantissa unit of exponent `e`
/// (already `max(biased, 1)`) sits: `e - 1075 + UNIT_BIT`.
#[inline(always)]
fn unit_bit(e: i64) -> u32 {
    debug_assert!((-WINDOW..=2046).contains(&e));
    (e - 1075 + i64::from(UNIT_BIT)) as u32
}

/// `(max(biased exponent, 1), mantissa with implicit bit, negative)`; exponent 2047 for
/// infinities and NaN.
#[inline(always)]
pub(crate) fn split(x: f64) -> (i64, u64, bool) {
    let b = x.to_bits();
    let e = ((b >> 52) & 0x7ff) as i64;
    let m = (b & FRAC) | (u64::from(e != 0) << 52);
    (e.max(1), m, b >> 63 != 0)
}

/// Largest `|x|` of a block as its bit pattern (`>= 0x7ff0…` when an infinity or NaN is there).
#[inline(always)]
fn max_abs_bits_body(xs: &[f64]) -> u64 {
    let mut acc = [0u64; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            acc[j] = acc[j].max(c[j].to_bits() & !(1 << 63));
        }
    }
    let mut m = chunks
        .remainder()
        .iter()
        .fold(0, |a, x| a.max(x.to_bits() & !(1 << 63)));
    for a in acc {
        m = m.max(a);
    }
    m
}

multiversion! {
    /// Largest `|x|` of a block, as bits.
    fn max_abs_bits / max_abs_bits_on(xs: &[f64]) -> u64 = max_abs_bits_body;
}

/// The window pass over at most [`MAX_RUN`] elements: the exact sum of the in-window elements
/// in units of `2^(base-1075)`, and how many elements were left out.
#[inline(always)]
fn window_body(xs: &[f64], base: i64) -> (i128, usize) {
    debug_assert!(xs.len() <= MAX_RUN);
    let mut lo = [0i64; LANES];
    let mut hi = [0i64; LANES];
    let mut out = [0u64; LANES];
    let mut step = |j: usize, x: f64| {
        let b = x.to_bits();
        let e = ((b >> 52) & 0x7ff) as i64;
        let m = (b & FRAC) | (u64::from(e != 0) << 52);
        let s = e.max(1) - base;
        let inside = (0..=WINDOW).contains(&s) || m == 0;
        // A zero is inside with any shift; clamping keeps every shift in range.
        let m = if inside { m } else { 0 };
        let s = s.clamp(0, WINDOW) as u32;
        let low = ((m << s) & 0xffff_ffff) as i64;
        let high = (m >> (32 - s)) as i64;
        // Two's-complement negation by mask: x ^ -1 - (-1) = -x.
        let neg = -((b >> 63) as i64);
        lo[j] += (low ^ neg) - neg;
        hi[j] += (high ^ neg) - neg;
        out[j] += u64::from(!inside);
    };
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for (j, &x) in c.iter().enumerate() {
            step(j, x);
        }
    }
    for (j, &x) in chunks.remainder().iter().enumerate() {
        step(j, x);
    }
    let mut total = 0i128;
    let mut left_out = 0usize;
    for j in 0..LANES {
        total += (i128::from(hi[j]) << 32) + i128::from(lo[j]);
        left_out += out[j] as usize;
    }
    (total, left_out)
}

multiversion! {
    /// The window pass (see the module docs).
    fn window_sum / window_sum_on(xs: &[f64], base: i64) -> (i128, usize) = window_body;
}

/// Adds a run of finite floats to the bins: exponents and signed mantissas are computed for a
/// group at a time (vectorised), then each is added to its bin.
#[inline(always)]
fn bins_body(bins: &mut [i64; 2048], xs: &[f64], base: i64, total: &mut ExactSum) -> usize {
    const G: usize = 16;
    let mut inside = 0;
    let mut groups = xs.chunks_exact(G);
    for group in &mut groups {
        let mut idx = [0usize; G];
        let mut val = [0i64; G];
        for j in 0..G {
            (idx[j], val[j]) = bin_and_value(group[j]);
            inside += usize::from(idx[j].max(1) as i64 >= base);
        }
        for j in 0..G {
            add_to_bin(bins, idx[j], val[j], total);
        }
    }
    for &x in groups.remainder() {
        let (i, v) = bin_and_value(x);
        inside += usize::from(i.max(1) as i64 >= base);
        add_to_bin(bins, i, v, total);
    }
    inside
}

/// The bin (biased exponent, below 2048) and signed mantissa of a float.
#[inline(always)]
fn bin_and_value(x: f64) -> (usize, i64) {
    let b = x.to_bits();
    let e = ((b >> 52) & 0x7ff) as usize;
    let m = ((b & FRAC) | (u64::from(e != 0) << 52)) as i64;
    // Two's-complement negation by mask: x ^ -1 - (-1) = -x.
    let neg = -((b >> 63) as i64);
    (e, (m ^ neg) - neg)
}

#[inline(always)]
fn add_to_bin(bins: &mut [i64; 2048], idx: usize, val: i64, total: &mut ExactSum) {
    // Infinities and NaN (bin 2047) never come here: callers filter them.
    let bin = &mut bins[idx & 0x7ff];
    let v = *bin + val;
    // `v` outside `-2^62 .. 2^62`, tested without a data-dependent sign branch.
    if (v.wrapping_add(BIN_LIMIT) as u64) >= 2 * BIN_LIMIT as u64 {
        flush_bin(idx, v, total);
        *bin = 0;
    } else {
        *bin = v;
    }
}

#[cold]
#[inline(never)]
fn flush_bin(idx: usize, v: i64, total: &mut ExactSum) {
    total.add_at(
        unit_bit((idx as i64).max(1)),
        u128::from(v.unsigned_abs()),
        v < 0,
    );
}

multiversion! {
    /// Adds finite floats to the exponent bins; returns how many have an exponent of at least
    /// `base` (whether the window pass would have suited this block).
    fn bins_add / bins_add_on(bins: &mut [i64; 2048], xs: &[f64], base: i64, total: &mut ExactSum) -> usize = bins_body;
}

/// Adds floats exactly into an [`ExactSum`], fast: see the module docs. Call
/// [`Adder::finish`] at the end (dropping it unfinished loses the binned part).
#[derive(Default)]
pub struct Adder {
    /// Exponent bins, allocated zeroed on first use.
    bins: Option<Box<[i64; 2048]>>,
    /// Whether the last block sent most elements to the bins.
    wide: bool,
    /// Forces every element through the bins (tests compare both routes).
    bins_only: bool,
}

impl Adder {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An adder that sends every element to the bins (for tests of both routes).
    #[must_use]
    pub fn bins_only() -> Self {
        Adder {
            bins_only: true,
            ..Self::default()
        }
    }

    fn bins(&mut self) -> &mut [i64; 2048] {
        self.bins.get_or_insert_with(|| Box::new([0; 2048]))
    }

    /// Adds every element of `xs` to `total`.
    pub fn add(&mut self, xs: &[f64], total: &mut ExactSum) {
        for run in xs.chunks(MAX_RUN) {
            self.add_run(run, total);
        }
    }

    fn add_run(&mut self, xs: &[f64], total: &mut ExactSum) {
        let top = max_abs_bits(xs);
        let e_max = (top >> 52) as i64;
        if e_max == 0x7ff {
            self.add_with_specials(xs, total);
            return;
        }
        let base = e_max.max(1) - WINDOW;
        if self.wide || self.bins_only {
            let inside = bins_add(self.bins(), xs, base, total);
            // Back to the window when this block's spread would have suited it.
            self.wide = 16 * (xs.len() - inside) > WIDE_SHARE_16THS * xs.len();
            return;
        }
        let (sum, left_out) = window_sum(xs, base);
        if sum != 0 {
            total.add_at(unit_bit(base), sum.unsigned_abs(), sum < 0);
        }
        if left_out > 0 {
            let bins = self.bins();
            for &x in xs {
                let (e, m, _) = split(x);
                let s = e - base;
                if !((0..=WINDOW).contains(&s) || m == 0) {
                    add_one(bins, x, total);
                }
            }
        }
        self.wide = 16 * left_out > WIDE_SHARE_16THS * xs.len();
    }

    /// A block holding an infinity or NaN (rare): those set flags, the rest go to the bins.
    fn add_with_specials(&mut self, xs: &[f64], total: &mut ExactSum) {
        let bins = self.bins();
        for &x in xs {
            if x.is_finite() {
                add_one(bins, x, total);
            } else {
                total.add_special(x);
            }
        }
    }

    /// Moves the bins into `total` (the adder can be used again afterwards).
    pub fn finish(&mut self, total: &mut ExactSum) {
        if let Some(bins) = self.bins.as_mut() {
            for (e, bin) in bins.iter_mut().enumerate() {
                if *bin != 0 {
                    let v = std::mem::take(bin);
                    total.add_at(
                        unit_bit((e as i64).max(1)),
                        u128::from(v.unsigned_abs()),
                        v < 0,
                    );
                }
            }
        }
    }
}

/// One finite float into its bin.
#[inline]
fn add_one(bins: &mut [i64; 2048], x: f64, total: &mut ExactSum) {
    let (i, v) = bin_and_value(x);
    add_to_bin(bins, i, v, total);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::simd::available;

    #[test]
    fn every_instruction_set_agrees() {
        let xs: Vec<f64> = (0..2048)
            .map(|i| (f64::from(i) * 0.37).sin() * 2f64.powi(i % 40 - 20))
            .collect();
        let base = 1023 - WINDOW;
        let want = window_sum_on(crate::simd::Isa::Portable, &xs, base);
        for isa in available() {
            assert_eq!(window_sum_on(isa, &xs, base), want, "{isa:?}");
            assert_eq!(
                max_abs_bits_on(isa, &xs),
                max_abs_bits_on(crate::simd::Isa::Portable, &xs)
            );
        }
    }
}
