//! The fast way to add many floats exactly: per block, a vectorised extraction pass for the
//! elements near the block's largest magnitude, and exponent bins for the rest (after R. M.
//! Neal's "large superaccumulator").
//!
//! **Extraction pass** (Rump, Ogita and Oishi's error-free `ExtractScalar`, twice). Let every
//! `|x|` of a block be below `2^E`. With `σ = 1.5·2^(E+10)`, `q = (σ + x) - σ` is `x` rounded to
//! a multiple of `2^(E-42)` and `r = x - q` is exact (`σ + x` stays in one binade, Sterbenz's
//! lemma makes the subtraction exact, and `r` fits in `x`'s own precision). The `q`s of a block
//! of at most 2048 elements are at most `2^E` each, so their float sum is at most `2^53` units of
//! `2^(E-42)`: exact. The same step on `r` with `σ₂ = 1.5·2^(E-32)` takes the next 42 bits. What
//! is left (`r₂`) is zero for every element within 32 binades of `2^E`; the others
//! ("stragglers", far below the block's largest value) add their exact `r₂` to the bins in a
//! scalar second look. Only IEEE additions, so it vectorises on every instruction set (2, 4 or 8
//! lanes) and no integer shifts are needed. It needs `σ₂` normal and `σ` finite:
//! `-990 <= E <= 1013`; other blocks go to the bins.
//!
//! **Bins.** One signed i64 per biased exponent: an element adds `±m` (its 53-bit mantissa) to
//! its exponent's bin; a bin reaching `2^62` in magnitude is moved into the exact total at once.
//! Blocks whose values spread over many binades (the extraction would leave most elements) go
//! to the bins directly, chosen per block from the previous block's stragglers. The choice only
//! affects speed.
//!
//! Nothing here outlives one [`Adder`]: bins are allocated (zeroed) on first use and dropped with
//! it, so no call can see another's state.

use super::digits::UNIT_BIT;
use super::ExactSum;
use crate::certified::two_products;
use crate::simd::multiversion;

const FRAC: u64 = (1 << 52) - 1;

/// Lanes of the extraction pass: two AVX-512 or four AVX2 registers per accumulator.
const LANES: usize = 16;

/// Elements per extraction pass: the float sum of its extracted parts is exact only while the
/// count is at most 2^11 (see the module docs).
pub const MAX_RUN: usize = 2048;

/// `E` (all `|x| < 2^E`) must lie here for the extraction pass: `σ = 1.5·2^(E+10)` finite and
/// `σ₂ = 1.5·2^(E-32)` normal (its unit `2^(E-84)` then is at least `2^-1074`).
const EXTRACT_E: std::ops::RangeInclusive<i32> = -990..=1013;

/// Below this many pairs, [`Adder::add_products`] adds each product exactly one by one (no
/// buffers to set up: the short-call path).
const SHORT_PRODUCTS: usize = 64;

/// A bin is moved into the exact total when its magnitude reaches this: adds are below 2^53, so
/// a bin never exceeds `2^62 + 2^53 < 2^63`.
const BIN_LIMIT: i64 = 1 << 62;

/// Blocks are sent straight to the bins after a block in which more than this share of
/// elements (in 1/16) were stragglers.
const WIDE_SHARE_16THS: usize = 4;

/// Bit of the fixed-point total (units `2^-UNIT_BIT`) where the mantissa unit of biased
/// exponent `e` (0 for subnormals) sits: `max(e, 1) - 1075 + UNIT_BIT`. Bin 2047 (infinities
/// and NaN) is never filled by callers; only a racing writer could put a value there, and then
/// it is counted as the largest finite binade rather than panicking.
#[inline(always)]
fn unit_bit(e: usize) -> u32 {
    (e.clamp(1, 2046) as u32) + UNIT_BIT - 1075
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

/// Largest `|x|` of a block, and whether a NaN is there.
#[inline(always)]
fn max_abs_body(xs: &[f64]) -> (f64, bool) {
    let mut acc = [0.0f64; LANES];
    let mut nan = [false; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            let v = c[j].abs();
            acc[j] = if v > acc[j] { v } else { acc[j] };
            nan[j] |= v.is_nan();
        }
    }
    let (mut m, mut any_nan) = (0.0f64, false);
    for &x in chunks.remainder().iter().chain(&acc) {
        let v = x.abs();
        m = if v > m { v } else { m };
        any_nan |= v.is_nan();
    }
    (m, any_nan || nan.contains(&true))
}

multiversion! {
    /// Largest `|x|` of a block, and whether a NaN is there.
    fn max_abs / max_abs_on(xs: &[f64]) -> (f64, bool) = max_abs_body;
}

/// `σ = 1.5·2^k` (normal `k`).
#[inline(always)]
fn sigma(k: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&k));
    f64::from_bits((((k + 1023) as u64) << 52) | (1 << 51))
}

/// The two extraction steps on one element: `(q₁, q₂, r₂)` with `x = q₁ + q₂ + r₂` exactly.
#[inline(always)]
fn extract(x: f64, s1: f64, s2: f64) -> (f64, f64, f64) {
    let q1 = (s1 + x) - s1;
    let r1 = x - q1;
    let q2 = (s2 + r1) - s2;
    (q1, q2, r1 - q2)
}

/// The extraction pass over at most [`MAX_RUN`] elements whose magnitudes are below `2^e_top`:
/// the exact sums of the first and second extracted parts, and how many elements left a
/// remainder. A NaN or infinity makes the sums non-finite.
#[inline(always)]
fn extract_body(xs: &[f64], e_top: i32) -> (f64, f64, usize) {
    debug_assert!(xs.len() <= MAX_RUN && EXTRACT_E.contains(&e_top));
    let (s1, s2) = (sigma(e_top + 10), sigma(e_top - 32));
    let mut a1 = [0.0f64; LANES];
    let mut a2 = [0.0f64; LANES];
    let mut left = [0u64; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            let (q1, q2, r2) = extract(c[j], s1, s2);
            a1[j] += q1;
            a2[j] += q2;
            left[j] += u64::from(r2 != 0.0);
        }
    }
    for (j, &x) in chunks.remainder().iter().enumerate() {
        let (q1, q2, r2) = extract(x, s1, s2);
        a1[j] += q1;
        a2[j] += q2;
        left[j] += u64::from(r2 != 0.0);
    }
    // Exact: every partial sum is a bounded multiple of the step's unit (module docs).
    let (mut t1, mut t2, mut n) = (0.0, 0.0, 0);
    for j in 0..LANES {
        t1 += a1[j];
        t2 += a2[j];
        n += left[j] as usize;
    }
    (t1, t2, n)
}

multiversion! {
    /// The extraction pass (see the module docs).
    fn extract_sums / extract_sums_on(xs: &[f64], e_top: i32) -> (f64, f64, usize) = extract_body;
}

/// Adds a run of finite floats to the bins: exponents and signed mantissas are computed for a
/// group at a time (vectorised), then each is added to its bin.
#[inline(always)]
fn bins_body(bins: &mut [i64; 2048], xs: &[f64], base: usize, total: &mut ExactSum) -> usize {
    const G: usize = 16;
    let mut inside = 0;
    let mut groups = xs.chunks_exact(G);
    for group in &mut groups {
        let mut idx = [0usize; G];
        let mut val = [0i64; G];
        for j in 0..G {
            (idx[j], val[j]) = bin_and_value(group[j]);
            inside += usize::from(idx[j] >= base);
        }
        for j in 0..G {
            add_to_bin(bins, idx[j], val[j], total);
        }
    }
    for &x in groups.remainder() {
        let (i, v) = bin_and_value(x);
        inside += usize::from(i >= base);
        add_to_bin(bins, i, v, total);
    }
    inside
}

/// The bin (biased exponent, below 2048) and signed mantissa of a float, in shifts and adds
/// only (so that a group of them vectorises).
#[inline(always)]
fn bin_and_value(x: f64) -> (usize, i64) {
    let b = x.to_bits();
    let e = (b >> 52) & 0x7ff;
    // The implicit bit: (e + 2047) >> 11 is 1 for e >= 1, 0 for subnormals.
    let m = ((b & FRAC) | (((e + 0x7ff) >> 11) << 52)) as i64;
    // Two's-complement negation by mask: x ^ -1 - (-1) = -x.
    let neg = 0i64.wrapping_sub((b >> 63) as i64);
    (e as usize, (m ^ neg) - neg)
}

#[inline(always)]
fn add_to_bin(bins: &mut [i64; 2048], idx: usize, val: i64, total: &mut ExactSum) {
    // Infinities and NaN (bin 2047) never come here: callers filter them.
    let bin = &mut bins[idx & 0x7ff];
    // Bound: |bin| <= 2^62 between adds and |val| < 2^53, so no i64 overflow here.
    debug_assert!(bin.unsigned_abs() <= BIN_LIMIT as u64 && val.unsigned_abs() < 1 << 53);
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
    total.add_at(unit_bit(idx), u128::from(v.unsigned_abs()), v < 0);
}

multiversion! {
    /// Adds finite floats to the exponent bins; returns how many have a biased exponent of at
    /// least `base` (whether the extraction pass would have suited this block).
    fn bins_add / bins_add_on(bins: &mut [i64; 2048], xs: &[f64], base: usize, total: &mut ExactSum) -> usize = bins_body;
}

/// Adds floats exactly into an [`ExactSum`], fast: see the module docs. Call
/// [`Adder::finish`] at the end (dropping it unfinished loses the binned part).
#[derive(Default)]
pub struct Adder {
    /// Exponent bins, allocated zeroed on first use.
    bins: Option<Box<[i64; 2048]>>,
    /// Products and their errors of one run ([`Adder::add_products`]): grown to the longest
    /// run seen (at most `2 · MAX_RUN`), so short inputs set up little.
    products: Vec<f64>,
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
        let (top, nan) = max_abs(xs);
        if nan || top.is_infinite() {
            self.add_with_specials(xs, total);
            return;
        }
        // All |x| < 2^e_top (a zero block takes any exponent in range).
        let e_top = if top == 0.0 {
            0
        } else {
            ((top.to_bits() >> 52) as i32).max(1) - 1022
        };
        // Elements this many binades below the top are the extraction's stragglers.
        let base = (e_top + 1022 - 32).max(0) as usize;
        if self.wide || self.bins_only || !EXTRACT_E.contains(&e_top) {
            let inside = bins_add(self.bins(), xs, base, total);
            // Back to the extraction when this block's spread would have suited it.
            self.wide = 16 * (xs.len() - inside) > WIDE_SHARE_16THS * xs.len();
            return;
        }
        let (t1, t2, left) = extract_sums(xs, e_top);
        if !(t1.is_finite() && t2.is_finite()) {
            // Only if the data changed under our feet (a racing writer): redo it one by one.
            self.add_with_specials(xs, total);
            return;
        }
        // Bound: each sum is at most 2^53 units of its step (2^(e_top-42), 2^(e_top-84)), so
        // exact; a racing writer could break that, never memory safety.
        debug_assert!(t1.abs() <= 2f64.powi(e_top + 11) && t2.abs() <= 2f64.powi(e_top - 31));
        total.add_f64(t1);
        total.add_f64(t2);
        if left > 0 {
            let (s1, s2) = (sigma(e_top + 10), sigma(e_top - 32));
            let bins = self.bins();
            for &x in xs {
                let r2 = extract(x, s1, s2).2;
                if r2 != 0.0 {
                    add_one(bins, r2, total);
                }
            }
        }
        self.wide = 16 * left > WIDE_SHARE_16THS * xs.len();
    }

    /// Adds the exact products `xs[i]·ys[i]` (equal lengths; negated if asked) to `total`: each
    /// is split error-free into `p + e` ([`two_products`]) and both go through [`Adder::add`]; the rare
    /// pairs whose split is not exact (products that overflow, underflow below `2^-968`, or
    /// involve an infinity or NaN) are added exactly one by one instead.
    pub fn add_products(&mut self, xs: &[f64], ys: &[f64], negate: bool, total: &mut ExactSum) {
        debug_assert_eq!(xs.len(), ys.len());
        if xs.len() < SHORT_PRODUCTS {
            for (&x, &y) in xs.iter().zip(ys) {
                total.add_product(if negate { -x } else { x }, y);
            }
            return;
        }
        let mut buf = std::mem::take(&mut self.products);
        for (cx, cy) in xs.chunks(MAX_RUN).zip(ys.chunks(MAX_RUN)) {
            let n = cx.len().min(cy.len());
            if buf.len() < 2 * n {
                buf.resize(2 * n, 0.0);
            }
            let (p, e) = buf[..2 * n].split_at_mut(n);
            two_products(cx, cy, p, e);
            for i in 0..n {
                if !split_is_exact(p[i], cx[i], cy[i]) {
                    let x = if negate { -cx[i] } else { cx[i] };
                    total.add_product(x, cy[i]);
                    p[i] = 0.0;
                    e[i] = 0.0;
                }
            }
            if negate {
                p.iter_mut().chain(e.iter_mut()).for_each(|v| *v = -*v);
            }
            self.add(p, total);
            self.add(e, total);
        }
        self.products = buf;
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
                    total.add_at(unit_bit(e), u128::from(v.unsigned_abs()), v < 0);
                }
            }
        }
    }
}

/// Whether `p + e` from [`two_products`] is exactly `x·y`: `p` finite and at least `2^-968` in
/// magnitude (then the error term is representable), or an exact zero from a zero operand.
#[inline(always)]
fn split_is_exact(p: f64, x: f64, y: f64) -> bool {
    const TINY: f64 = f64::from_bits((1023 - 968) << 52); // 2^-968
    let a = p.abs();
    (TINY..=f64::MAX).contains(&a) || (p == 0.0 && (x == 0.0 || y == 0.0))
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
        let want = extract_sums_on(crate::simd::Isa::Portable, &xs, 21);
        for isa in available() {
            assert_eq!(extract_sums_on(isa, &xs, 21), want, "{isa:?}");
            assert_eq!(
                max_abs_on(isa, &xs),
                max_abs_on(crate::simd::Isa::Portable, &xs)
            );
        }
    }
}
