//! The fast path of `fsum`: a compensated sum whose result is *certified* correctly rounded by
//! a rigorous a-posteriori error bound, else `None` (then the exact accumulator runs).
//!
//! Each of [`LANES`] lanes keeps `s` (Knuth's TwoSum running sum, error-free), `c` (the float
//! sum of TwoSum's errors) and `q = Σ c_k²`. In a lane of `m` elements the exact sum is
//! `s + Σe_k`, and `c` differs from `Σe_k` by at most `u·Σ|c_k| ≤ u·sqrt(m·Σc_k²)` (Cauchy–Schwarz),
//! where `u = 2^-53`; `q` itself is computed with `2m` roundings and may underflow, which the
//! bound accounts for. The lanes' `s` and `c` are then combined by a TwoSum cascade whose own
//! error is bounded the same way, giving the exact total as `hi + lo + err` with `|err| ≤ E`.
//! `hi` is the correctly rounded total if `|lo| + E` is below half the smaller gap next to `hi`;
//! that test is done in floating point, which is rigorous because the gap is representable and
//! rounding is monotone. Anything non-finite, or `|hi|` outside `[1e-290, 1e300]`, refuses.
//! This follows the design measured in the project's `EXACT_SUM.md`.

use crate::simd::multiversion;

/// Lanes of the compensated pass: two AVX-512 or four AVX2 registers per state variable.
pub const LANES: usize = 16;

const U: f64 = 1.0 / 9_007_199_254_740_992.0; // 2^-53

/// Per-lane state of the compensated pass over some elements.
#[derive(Clone, Debug)]
pub struct Lanes {
    s: [f64; LANES],
    c: [f64; LANES],
    q: [f64; LANES],
    /// Elements per lane, at most (the bound only needs an upper estimate).
    m: u64,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes {
            s: [0.0; LANES],
            c: [0.0; LANES],
            q: [0.0; LANES],
            m: 0,
        }
    }
}

#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bp = s - a;
    let e = (a - (s - bp)) + (b - bp);
    (s, e)
}

/// [`two_sum`] with two of its subtractions issued as `fma(v, one, -w)` (`one` = 1.0, hidden
/// from the optimiser): the same roundings, so the same bits, but they run on the multiply
/// pipes, which additions otherwise leave idle (`EXACT_SUM.md`). Only where FMA is hardware.
#[inline(always)]
fn two_sum_fma(a: f64, b: f64, one: f64) -> (f64, f64) {
    let s = a + b;
    let bp = s.mul_add(one, -a);
    let e = (a - (s - bp)) + b.mul_add(one, -bp);
    (s, e)
}

/// `q + c²`: one fused multiply-add where FMA is hardware (one rounding instead of two, which
/// the bound's count of roundings already covers), a multiply and an add elsewhere.
#[inline(always)]
fn sq_add<const FMA: bool>(c: f64, q: f64) -> f64 {
    if FMA {
        c.mul_add(c, q)
    } else {
        c * c + q
    }
}

/// Lane steps generic over the TwoSum flavour (`FMA`: [`two_sum_fma`]).
#[inline(always)]
fn sum2<const FMA: bool>(a: f64, b: f64, one: f64) -> (f64, f64) {
    if FMA {
        two_sum_fma(a, b, one)
    } else {
        two_sum(a, b)
    }
}

#[inline(always)]
fn lane_step<const FMA: bool>(st: &mut Lanes, j: usize, x: f64, one: f64) {
    let (s, e) = sum2::<FMA>(st.s[j], x, one);
    st.s[j] = s;
    st.c[j] += e;
    st.q[j] = sq_add::<FMA>(st.c[j], st.q[j]);
}

/// One pair into lane `j` (Ogita, Rump and Oishi's `Dot2`): the product is split error-free
/// into `p + e`, `p` is added by TwoSum, and the two errors go into `c` together. See
/// [`Partial::from_product_lanes`] for what this does to the bound.
#[inline(always)]
fn product_step<const FMA: bool>(st: &mut Lanes, j: usize, x: f64, y: f64, one: f64) {
    let p = x * y;
    let e = x.mul_add(y, -p);
    let (s, err) = sum2::<FMA>(st.s[j], p, one);
    st.s[j] = s;
    st.c[j] += err + e;
    st.q[j] = sq_add::<FMA>(st.c[j], st.q[j]);
}

#[inline(always)]
fn lanes_add_pairs<const FMA: bool>(st: &mut Lanes, xs: &[f64], ys: &[f64]) {
    let one = std::hint::black_box(1.0);
    let n = xs.len().min(ys.len());
    let (xs, ys) = (&xs[..n], &ys[..n]);
    let mut cx = xs.chunks_exact(LANES);
    let mut cy = ys.chunks_exact(LANES);
    for (a, b) in (&mut cx).zip(&mut cy) {
        for j in 0..LANES {
            product_step::<FMA>(st, j, a[j], b[j], one);
        }
    }
    for (j, (&a, &b)) in cx.remainder().iter().zip(cy.remainder()).enumerate() {
        product_step::<FMA>(st, j, a, b, one);
    }
    st.m += n.div_ceil(LANES) as u64;
}

multiversion! {
    /// Adds the products `x[i]·y[i]` (the shorter length counts) to the lanes; close them with
    /// [`Partial::from_product_lanes`].
    pub fn lanes_add_products / lanes_add_products_on(st: &mut Lanes, xs: &[f64], ys: &[f64]) -> () = lanes_add_pairs::<true>, portable lanes_add_pairs::<false>;
}

/// The certified pass of `mean`/`var`/`std`: around a shift `c`, each `x` becomes `d + dl =
/// x - c` (TwoSum: `d` rounded, `dl` exact); `U = Σ(x - c)` is `Σd` (TwoSum lanes) plus `Σdl`,
/// and `W = Σ(x - c)²` is `Σd²` (product lanes) plus `Σ dl·(2d + dl)`. The small sums of `dl`
/// and of the cross terms are plain float sums whose error [`Shifted::close`] bounds from
/// their absolute sums.
#[derive(Clone, Debug, Default)]
pub struct Shifted {
    u: Lanes,
    w: Lanes,
    dl: [f64; LANES],
    dl_abs: [f64; LANES],
    cross: [f64; LANES],
    cross_abs: [f64; LANES],
}

#[inline(always)]
fn shifted_step<const FMA: bool>(st: &mut Shifted, j: usize, x: f64, c: f64, one: f64) {
    let (d, dl) = two_sum(x, -c);
    lane_step::<FMA>(&mut st.u, j, d, one);
    product_step::<FMA>(&mut st.w, j, d, d, one);
    st.dl[j] += dl;
    st.dl_abs[j] += dl.abs();
    let t = dl * (2.0 * d + dl);
    st.cross[j] += t;
    st.cross_abs[j] += t.abs();
}

#[inline(always)]
fn shifted_body<const FMA: bool>(st: &mut Shifted, xs: &[f64], c: f64) {
    let one = std::hint::black_box(1.0);
    let mut chunks = xs.chunks_exact(LANES);
    for ch in &mut chunks {
        for (j, &x) in ch.iter().enumerate() {
            shifted_step::<FMA>(st, j, x, c, one);
        }
    }
    for (j, &x) in chunks.remainder().iter().enumerate() {
        shifted_step::<FMA>(st, j, x, c, one);
    }
    let m = xs.len().div_ceil(LANES) as u64;
    st.u.m += m;
    st.w.m += m;
}

multiversion! {
    /// Adds values to the shifted sums of [`Shifted`].
    pub fn shifted_add / shifted_add_on(st: &mut Shifted, xs: &[f64], c: f64) -> () = shifted_body::<true>, portable shifted_body::<false>;
}

impl Shifted {
    /// Enclosures of `U = Σ(x - c)` and `W = Σ(x - c)²` over everything added.
    #[must_use]
    pub fn close(&self) -> (Partial, Partial) {
        #[allow(clippy::cast_precision_loss)]
        let m = self.u.m as f64;
        // A lane's float sum of k terms errs by at most γ_k·Σ|terms|; adding the 16 lane sums
        // adds γ_16 more. The cross terms carry up to 2u + u² relative error of their own
        // (two roundings). Every bound is inflated by 1.01 for its own rounding.
        let g = gamma(m + LANES as f64);
        let sum = |a: &[f64; LANES]| a.iter().sum::<f64>();
        let mut pu = Partial::from_lanes(&self.u);
        pu.push(sum(&self.dl));
        pu.widen(g * sum(&self.dl_abs) * 1.01);
        let mut pw = Partial::from_product_lanes(&self.w);
        pw.push(sum(&self.cross));
        pw.widen((g + 3.0 * U) * sum(&self.cross_abs) * 1.01);
        // Each d² error term may have lost up to 2^-1075 to underflow.
        pw.widen(m * LANES as f64 * f64::from_bits(1));
        (pu, pw)
    }
}

/// Adds `n` values `STEP` elements apart from `p` (any alignment); element `k` of each group of
/// [`LANES`] goes to lane `k`.
///
/// # Safety
/// `p + k·STEP` must be readable as an f64 for every `k < n`.
#[inline(always)]
unsafe fn lanes_add_step<const STEP: usize, const FMA: bool>(
    st: &mut Lanes,
    p: *const f64,
    n: usize,
) {
    let one = std::hint::black_box(1.0);
    let full = n / LANES;
    for c in 0..full {
        // SAFETY: elements `c·LANES + j < n` (caller's promise).
        let base = unsafe { p.add(c * LANES * STEP) };
        for j in 0..LANES {
            // SAFETY: as above.
            lane_step::<FMA>(st, j, unsafe { base.add(j * STEP).read_unaligned() }, one);
        }
    }
    for j in 0..n % LANES {
        // SAFETY: element `full·LANES + j < n`.
        lane_step::<FMA>(
            st,
            j,
            unsafe { p.add((full * LANES + j) * STEP).read_unaligned() },
            one,
        );
    }
    st.m += n.div_ceil(LANES) as u64;
}

#[inline(always)]
fn lanes_add<const FMA: bool>(st: &mut Lanes, xs: &[f64]) {
    // SAFETY: the slice's `len` elements are readable.
    unsafe { lanes_add_step::<1, FMA>(st, xs.as_ptr(), xs.len()) }
}

multiversion! {
    /// Adds a slice to the lanes.
    pub fn lanes_add_slice / lanes_add_slice_on(st: &mut Lanes, xs: &[f64]) -> () = lanes_add::<true>, portable lanes_add::<false>;
}

/// The error-free products `x[i]·y[i] = p[i] + e[i]`: `p` the rounded product, `e` its error
/// by a fused multiply-add. Exact whenever `p` is finite and `|p| >= 2^-968` or `p = 0` with
/// exact zero operands; below, `e` may lose at most `2^-1075` to underflow (the callers' bounds
/// or exact paths account for it). Fills `p` and `e` with the shorter length of `xs`, `ys`.
#[inline(always)]
fn products_body(xs: &[f64], ys: &[f64], p: &mut [f64], e: &mut [f64]) {
    for (((&x, &y), p), e) in xs.iter().zip(ys).zip(p.iter_mut()).zip(e.iter_mut()) {
        let prod = x * y;
        *p = prod;
        *e = x.mul_add(y, -prod);
    }
}

multiversion! {
    /// Error-free products: `p[i] + e[i] = x[i]·y[i]` (exact unless `p` overflows or `|p| < 2^-968`).
    pub fn two_products / two_products_on(xs: &[f64], ys: &[f64], p: &mut [f64], e: &mut [f64]) -> () = products_body;
}

/// `γ_n = n·u / (1 - n·u)`, rounded up generously (callers inflate the bound again).
fn gamma(n: f64) -> f64 {
    let nu = n * U;
    if nu >= 0.5 {
        f64::INFINITY
    } else {
        nu / (1.0 - nu)
    }
}

/// Partial results of the compensated pass: the terms whose exact sum equals the data's sum up
/// to `bound`.
#[derive(Clone, Debug, Default)]
pub struct Partial {
    terms: Vec<f64>,
    bound: f64,
}

impl Partial {
    /// Closes a set of lanes.
    #[must_use]
    pub fn from_lanes(st: &Lanes) -> Self {
        Self::close(st, 1.0)
    }

    /// Closes a set of lanes fed by [`lanes_add_products`]. There `c` adds `t_k = fl(err_k +
    /// e_k)`, one more rounding per step: `|c - Σ(err_k + e_k)| <= u·Σ|c_k| + u·Σ|t_k|`, and
    /// `|t_k| <= (1+u)|c_k| + |c_(k-1)|`, so the lane bound grows by a factor `3 + u` (3.01
    /// here). The product errors `e_k` are exact unless they underflow (at most `2^-1075` each),
    /// which the caller adds with [`Partial::widen`].
    #[must_use]
    pub fn from_product_lanes(st: &Lanes) -> Self {
        Self::close(st, 3.01)
    }

    fn close(st: &Lanes, factor: f64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let m = st.m as f64;
        let mut bound = 0.0;
        for &q in &st.q {
            // Σ|c_k| ≤ sqrt(m·Σc_k²); Σc_k² ≤ q·(1+γ_2m) + m·2^-1074 (underflow of the squares).
            let sum_sq = q * (1.0 + gamma(2.0 * m)) + m * f64::from_bits(1);
            bound += factor * U * (m * sum_sq).sqrt();
        }
        let mut terms = Vec::with_capacity(2 * LANES);
        terms.extend_from_slice(&st.s);
        terms.extend_from_slice(&st.c);
        Partial { terms, bound }
    }

    /// Widens the bound by `extra` (an error the lanes did not see, e.g. underflow in the
    /// error terms of products).
    pub fn widen(&mut self, extra: f64) {
        self.bound += extra;
    }

    /// Negates the partial's value (its bound is unchanged).
    pub fn negate(&mut self) {
        for t in &mut self.terms {
            *t = -*t;
        }
    }

    /// Adds another partial (terms kept, bounds added).
    pub fn merge(&mut self, other: Partial) {
        self.terms.extend(other.terms);
        self.bound += other.bound;
    }

    /// An enclosure of the exact sum: `(hi, lo, e)` with `hi + lo` exact (a TwoSum) and the
    /// exact sum within `e` of it; `None` if anything is not finite.
    #[must_use]
    pub fn enclose(&self) -> Option<(f64, f64, f64)> {
        // TwoSum cascade over the terms: Σ terms = sigma + Σ e exactly.
        let (mut sigma, mut tau, mut tau_abs_bound) = (0.0f64, 0.0f64, 0.0f64);
        for &t in &self.terms {
            let (s, e) = two_sum(sigma, t);
            sigma = s;
            tau += e;
            tau_abs_bound += tau.abs();
        }
        #[allow(clippy::cast_precision_loss)]
        let n = self.terms.len() as f64;
        // |tau - Σe| ≤ u·Σ|tau_k| (each partial of tau rounded once); computed Σ|tau_k| is low by
        // at most a factor (1 - γ_n); the final 1.001 covers the rounding of this very line.
        let e_total =
            (self.bound + U * tau_abs_bound * (1.0 + gamma(n)) + n * f64::from_bits(1)) * 1.001;
        let (hi, lo) = two_sum(sigma, tau);
        (hi.is_finite() && e_total.is_finite() && lo.is_finite()).then_some((hi, lo, e_total))
    }

    /// The correctly rounded sum if the bound certifies it.
    #[must_use]
    pub fn certify(&self) -> Option<f64> {
        let (hi, lo, e) = self.enclose()?;
        let g = half_gap(hi)?;
        (lo.abs() + e < g).then_some(hi)
    }

    /// Adds one exact term.
    pub fn push(&mut self, t: f64) {
        self.terms.push(t);
    }

    /// Adds the exact product `a·b` as two terms (a fused multiply-add gives the error term;
    /// it may lose up to 2^-1075 to underflow, which the bound takes).
    pub fn push_product(&mut self, a: f64, b: f64) {
        let p = a * b;
        self.terms.push(p);
        self.terms.push(a.mul_add(b, -p));
        self.bound += f64::from_bits(1);
    }
}

/// The smaller half-gap between `v` and its neighbouring floats: an exact value closer to `v`
/// than this rounds to `v`. `None` outside `[1e-290, 1e300]` in magnitude, where gaps are
/// irregular or rounding may overflow (callers then take an exact path).
#[must_use]
pub fn half_gap(v: f64) -> Option<f64> {
    let mag = v.abs();
    if !(1e-290..=1e300).contains(&mag) {
        return None;
    }
    let bits = mag.to_bits();
    let exp = bits >> 52;
    // Half an ulp of v is 2^(exp - 1076); a quarter when v is a power of two (the gap below it
    // is half as wide).
    let power_of_two = bits & ((1 << 52) - 1) == 0;
    Some(f64::from_bits(
        (exp - if power_of_two { 54 } else { 53 }) << 52,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::ExactSum;

    fn certified(xs: &[f64]) -> Option<f64> {
        let mut results = crate::simd::available().into_iter().map(|isa| {
            let mut st = Lanes::default();
            for b in xs.chunks(2048) {
                lanes_add_slice_on(isa, &mut st, b);
            }
            Partial::from_lanes(&st).certify()
        });
        let first = results.next().flatten();
        for other in results {
            assert_eq!(
                other.map(f64::to_bits),
                first.map(f64::to_bits),
                "instruction sets disagree"
            );
        }
        first
    }

    fn exact(xs: &[f64]) -> f64 {
        let mut t = ExactSum::new();
        for &x in xs {
            t.add_f64(x);
        }
        t.round()
    }

    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        }
    }

    #[test]
    fn certificate_is_never_wrong() {
        let mut certified_count = 0;
        for seed in 0..200u64 {
            let mut r = lcg(seed);
            let n = 1 + (seed as usize * 37) % 5000;
            let spread = (seed % 7) as i32 * 50;
            let xs: Vec<f64> = (0..n)
                .map(|_| r() * 2f64.powi((r() * 2.0 * f64::from(spread)) as i32))
                .collect();
            let want = exact(&xs);
            if let Some(got) = certified(&xs) {
                certified_count += 1;
                assert_eq!(got.to_bits(), want.to_bits(), "seed {seed}");
            }
        }
        assert!(certified_count > 150, "only {certified_count} certified");
    }

    #[test]
    fn hard_cases_refuse_or_are_right() {
        let u = f64::EPSILON / 2.0;
        let cases: Vec<Vec<f64>> = vec![
            vec![1.0, u],
            vec![1.0, u, 1e-300],
            vec![1e308, 1e308, -1e308],
            vec![1.0, 1e100, 1.0, -1e100],
            vec![0.1; 10],
            vec![f64::INFINITY, 1.0],
            vec![0.0, -0.0],
            vec![5e-324, 5e-324],
            vec![2f64.powi(60), 1.0, -2f64.powi(60), 2f64.powi(-60)],
        ];
        for xs in cases {
            if let Some(got) = certified(&xs) {
                assert_eq!(got.to_bits(), exact(&xs).to_bits(), "{xs:?}");
            }
        }
    }
}
