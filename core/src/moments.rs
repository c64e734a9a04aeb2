//! `mean`, `var` and `std`, correctly rounded: the mean is the exact sum over the count, the
//! variance `Σ(x - m)² / (n - ddof)` with `m` the exact (rational) mean, the standard deviation
//! the square root of that exact variance — each rounded once.
//!
//! The pattern of `fsum`: a certified pass, else the exact path.
//! - **Certified pass** (one pass over the data): around a shift `c` (the float mean of the
//!   first block), [`Shifted`] gives enclosures of `U = Σ(x - c)` and `W = Σ(x - c)²` to about
//!   `2^-100` relative. Then `S = n·c + U`, `n·N = n·W - U²` (`N = Σ(x - m)²`), all as sums of
//!   exact terms (products split by fused multiply-adds) with a rigorous bound. A candidate
//!   result `r` is verified by the sign of such an exact residual: the mean `q` by
//!   `|S - n·q| < n·g(q)`, the variance `v` by `|n·N - n·k·v| < n·k·g(v)` (`k = n - ddof`), the
//!   standard deviation `s` by `n·k·(s - g)² < n·N < n·k·(s + g)²`, with `g` the half-gap around
//!   the candidate. The shift keeps `U²/n` small next to `W`, so no catastrophic cancellation
//!   hides the variance of data far from zero.
//! - **Exact path**: `Σx` and `Σx²` exactly ([`ExactSum`]), then one exact division
//!   ([`round_ratio`]) or an exact integer square root ([`round_sqrt_ratio`]).

use num_bigint::{BigInt, BigUint};

use crate::certified::{half_gap, lanes_add_slice, shifted_add, Lanes, Partial, Shifted};
use crate::column::{compact, compact_lockstep, words, Column};
use crate::exact::round::{round_ratio, round_sqrt_ratio};
use crate::exact::{Adder, ExactSum};
use crate::format::Kind;
use crate::kernels::int_block_sum;
use crate::layout::{block_count, Strided};
use crate::parallel::{tree_reduce, Interrupted, Run};
use crate::reduce::{certify_allowed, compacted_f64, f64_blocks, Total, CERTIFY_MIN_LEN};
use crate::scalar::{by_elem, Float, Int};

/// Which statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Mean,
    /// Variance with `ddof` delta degrees of freedom.
    Var(u64),
    /// Standard deviation with `ddof`.
    Std(u64),
}

/// The statistic of a real input (complex inputs: `mean` per part; `var`/`std` are the caller's
/// to refuse).
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn stat(a: &Strided, which: Stat, run: &Run) -> Result<Total, Interrupted> {
    if let Some((re, im)) = a.complex_parts() {
        return Ok(Total::Complex(
            real(&re, which, run)?,
            real(&im, which, run)?,
        ));
    }
    Ok(Total::Float(real(a, which, run)?))
}

/// The statistic of the present values of a column (nulls dropped; NaNs too with `omit_nan`).
/// Dense columns take [`stat`]'s threaded (and interruptible) paths; others are compacted and
/// walked in order, to their end.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn stat_column(
    c: &Column,
    which: Stat,
    run: &Run,
    omit_nan: bool,
) -> Result<Total, Interrupted> {
    Ok(match c.as_strided() {
        Some(s) if !omit_nan || c.dtype().kind() == Kind::Int => stat(s, which, run)?,
        _ => match c.complex_parts() {
            Some((re, im)) => {
                // An element is absent when either part is: the parts are compacted together.
                let part = |p: usize| {
                    stat_of_blocks(which, c.len(), &|f| {
                        let (Some(a), Some(b)) = (words(&re, omit_nan), words(&im, omit_nan))
                        else {
                            return;
                        };
                        let mut ws = [a, b];
                        compact_lockstep(&mut ws, re.len(), &[re.len(), im.len()], |near, _| {
                            f(near[p]);
                        });
                    })
                };
                Total::Complex(part(0), part(1))
            }
            None => Total::Float(
                by_elem!(c.dtype().elem, int: int_stat_compacted, float: float_stat_compacted, complex: f64::NAN, (c, which, omit_nan)),
            ),
        },
    })
}

fn int_stat_compacted<T: Int>(c: &Column, which: Stat, omit_nan: bool) -> f64 {
    let (mut s, mut q) = (0i128, Wide::default());
    let n = compact::<T>(c, omit_nan, |b| {
        s += int_block_sum(b);
        for &x in b {
            q.add(x.to_i128().unsigned_abs().pow(2));
        }
    });
    exact_ints(n as u64, s, q).finish(which)
}

fn float_stat_compacted<T: Float>(c: &Column, which: Stat, omit_nan: bool) -> f64 {
    stat_of_blocks(which, c.len(), &|f| {
        compacted_f64::<T>(c, omit_nan, f);
    })
}

/// A replayable stream of f64 blocks: `walk(f)` calls `f` with each block, the same every time.
pub type BlockWalk<'a> = dyn Fn(&mut dyn FnMut(&[f64])) + 'a;

/// The statistic of the values a replayable stream of f64 blocks yields (each `walk(f)` calls
/// `f` with the same blocks in the same order; it runs once, or twice when the certified pass
/// cannot decide). `len_hint` bounds the count and only picks the strategy.
pub fn stat_of_blocks(which: Stat, len_hint: usize, walk: &BlockWalk<'_>) -> f64 {
    if len_hint >= CERTIFY_MIN_LEN && certify_allowed() {
        let (mut pass, mut n) = (None, 0u64);
        walk(&mut |b| {
            pass.get_or_insert_with(|| Pass::new(which, shift(b)))
                .add(b);
            n += b.len() as u64;
        });
        let pass = pass.unwrap_or_else(|| Pass::new(which, 0.0));
        let (pu, pw) = pass.close();
        if let Some(v) = certify(which, n, pass.c, pu, pw) {
            return v;
        }
    }
    let mut m = Moments::default();
    let mut adders = [Adder::new(), Adder::new()];
    walk(&mut |b| m.add_f64s(b, &mut adders, which != Stat::Mean));
    m.finish_adders(&mut adders);
    m.finish(which)
}

fn real(a: &Strided, which: Stat, run: &Run) -> Result<f64, Interrupted> {
    by_elem!(a.dtype().elem, int: int_stat, float: float_stat, complex: Ok(f64::NAN), (a, which, run))
}

/// The exact state behind the statistics: `Σx`, `Σx²` and the count. Mergeable (chunks,
/// threads, distributed partials).
#[derive(Clone, Debug, Default)]
pub struct Moments {
    pub sum: ExactSum,
    pub sum_sq: ExactSum,
    pub count: u64,
}

impl Moments {
    /// Adds floats exactly (their squares too when `squares`: `var` and `std` need them, the
    /// mean does not).
    pub fn add_f64s(&mut self, xs: &[f64], adders: &mut [Adder; 2], squares: bool) {
        let [a, b] = adders;
        a.add(xs, &mut self.sum);
        if squares {
            b.add_products(xs, xs, false, &mut self.sum_sq);
        }
        self.count += xs.len() as u64;
    }

    /// Moves what the adders hold into the sums.
    fn finish_adders(&mut self, adders: &mut [Adder; 2]) {
        let [a, b] = adders;
        a.finish(&mut self.sum);
        b.finish(&mut self.sum_sq);
    }

    pub fn merge(&mut self, o: &Moments) {
        self.sum.merge(&o.sum);
        self.sum_sq.merge(&o.sum_sq);
        self.count += o.count;
    }

    /// The statistic, correctly rounded from the exact sums.
    #[must_use]
    pub fn finish(&self, which: Stat) -> f64 {
        let n = self.count;
        let k = match which {
            Stat::Mean => n,
            Stat::Var(ddof) | Stat::Std(ddof) => n.saturating_sub(ddof),
        };
        if n == 0 || k == 0 {
            return f64::NAN;
        }
        if let Some(special) = self.sum.special() {
            // NaN stays NaN; infinities make the mean infinite and the spread undefined.
            return if which == Stat::Mean {
                special
            } else {
                f64::NAN
            };
        }
        let unit = i64::from(ExactSum::UNIT_BITS);
        let s = self.sum.to_bigint();
        if which == Stat::Mean {
            return round_ratio(&s, &BigUint::from(n), -unit);
        }
        // n·N = n·Σx² - (Σx)², in units of 2^-2·UNIT_BITS; never negative.
        let q = self.sum_sq.to_bigint();
        let num = ((BigInt::from(n) * q) << ExactSum::UNIT_BITS) - &s * &s;
        let den = BigUint::from(n) * BigUint::from(k);
        let num = num.to_biguint().unwrap_or_default();
        match which {
            Stat::Var(_) => round_ratio(&BigInt::from(num), &den, -2 * unit),
            _ => round_sqrt_ratio(&num, &den, -2 * unit),
        }
    }
}

fn int_stat<T: Int>(a: &Strided, which: Stat, run: &Run) -> Result<f64, Interrupted> {
    // Integers are exact: Σx in i128, Σx² per block in a 256-bit (hi, lo) pair.
    let (s, q) = tree_reduce(
        block_count(a.len()),
        run,
        &|lo, hi| {
            let (mut s, mut q) = (0i128, Wide::default());
            a.for_each_block::<T>(lo, hi, |b| {
                s += int_block_sum(b);
                for &x in b {
                    q.add(x.to_i128().unsigned_abs().pow(2));
                }
            });
            (s, q)
        },
        &|(s1, q1), (s2, q2)| (s1 + s2, q1.plus(q2)),
    )?;
    Ok(exact_ints(a.len() as u64, s, q).finish(which))
}

/// The exact state of `n` integers with sum `s` and sum of squares `q`.
fn exact_ints(n: u64, s: i128, q: Wide) -> Moments {
    let mut m = Moments {
        count: n,
        ..Moments::default()
    };
    m.sum.add_i128(s);
    m.sum_sq.add_int(&q.to_bigint());
    m
}

/// A non-negative 256-bit integer `hi·2^128 + lo` (sums of squares of 64-bit integers).
#[derive(Clone, Copy, Debug, Default)]
struct Wide {
    hi: u128,
    lo: u128,
}

impl Wide {
    #[inline]
    fn add(&mut self, v: u128) {
        let (lo, carry) = self.lo.overflowing_add(v);
        self.lo = lo;
        self.hi += u128::from(carry);
    }

    fn plus(mut self, o: Wide) -> Wide {
        self.add(o.lo);
        self.hi += o.hi;
        self
    }

    fn to_bigint(self) -> BigInt {
        (BigInt::from(self.hi) << 128) + BigInt::from(self.lo)
    }
}

fn float_stat<T: Float>(a: &Strided, which: Stat, run: &Run) -> Result<f64, Interrupted> {
    let n = a.len();
    if n >= CERTIFY_MIN_LEN && certify_allowed() {
        let mut c = f64::NAN;
        f64_blocks::<T>(a, 0, 1, |b| c = shift(b));
        let c = Pass::new(which, c).c;
        let (pu, pw) = tree_reduce(
            block_count(n),
            run,
            &|lo, hi| {
                let mut pass = Pass::new(which, c);
                f64_blocks::<T>(a, lo, hi, |b| pass.add(b));
                pass.close()
            },
            &|(mut u1, mut w1), (u2, w2)| {
                u1.merge(u2);
                w1.merge(w2);
                (u1, w1)
            },
        )?;
        if let Some(v) = certify(which, n as u64, c, pu, pw) {
            return Ok(v);
        }
    }
    let squares = which != Stat::Mean;
    let m = tree_reduce(
        block_count(n),
        run,
        &|lo, hi| {
            let mut m = Moments::default();
            let mut adders = [Adder::new(), Adder::new()];
            f64_blocks::<T>(a, lo, hi, |b| m.add_f64s(b, &mut adders, squares));
            m.finish_adders(&mut adders);
            m
        },
        &|mut x, y| {
            x.merge(&y);
            x
        },
    )?;
    Ok(m.finish(which))
}

/// The certified pass of a statistic over blocks: the mean needs only `S = Σx` (fsum's lanes,
/// around `c = 0`); the variance and standard deviation need the shifted sums of [`Shifted`].
struct Pass {
    which: Stat,
    c: f64,
    lanes: Lanes,
    shifted: Shifted,
}

impl Pass {
    fn new(which: Stat, c: f64) -> Self {
        Pass {
            which,
            c: if which == Stat::Mean { 0.0 } else { c },
            lanes: Lanes::default(),
            shifted: Shifted::default(),
        }
    }

    fn add(&mut self, b: &[f64]) {
        if self.which == Stat::Mean {
            lanes_add_slice(&mut self.lanes, b);
        } else {
            shifted_add(&mut self.shifted, b, self.c);
        }
    }

    /// Enclosures of `U` and `W` (for the mean, `U = S` and `W` unused).
    fn close(&self) -> (Partial, Partial) {
        if self.which == Stat::Mean {
            (Partial::from_lanes(&self.lanes), Partial::default())
        } else {
            self.shifted.close()
        }
    }
}

/// The shift of the certified pass: the float mean of the first block (any value would be
/// correct; one near the mean keeps the residual sums small).
#[must_use]
pub fn shift(first: &[f64]) -> f64 {
    if first.is_empty() {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let c = first.iter().sum::<f64>() / first.len() as f64;
    c
}

/// The certified statistic from the shifted sums `U` (`pu`) and `W` (`pw`) of `n` values
/// around `c`, or `None` when the certificate cannot decide (then the exact path runs).
#[must_use]
pub fn certify(which: Stat, n: u64, c: f64, pu: Partial, pw: Partial) -> Option<f64> {
    if n >= 1 << 53 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let nf = n as f64;
    // Margin against the roundings of each comparison below.
    const SAFE: f64 = 1.0 - 1e-12;
    match which {
        Stat::Mean => {
            // S = n·c + U.
            let mut s = pu;
            s.push_product(nf, c);
            let (hi, _, _) = s.enclose()?;
            // A candidate, then corrections from the exact residual S - n·q until it is
            // certain (a candidate off by an ulp is corrected in one step).
            let mut q = hi / nf;
            for _ in 0..3 {
                let g = half_gap(q)?;
                let mut t = s.clone();
                t.push_product(-nf, q);
                let (th, tl, te) = t.enclose()?;
                if th.abs() + tl.abs() + te < nf * g * SAFE {
                    return Some(q);
                }
                q += th / nf;
            }
            None
        }
        Stat::Var(ddof) | Stat::Std(ddof) => {
            let k = n.checked_sub(ddof).filter(|&k| k > 0)?;
            #[allow(clippy::cast_precision_loss)]
            let kf = k as f64;
            let nn = scaled_spread(nf, &pu, &pw)?;
            // n·k as an exact pair (integers below 2^53: the product is exact in two floats).
            let (nkh, nkl) = (nf * kf, nf.mul_add(kf, -(nf * kf)));
            let (h, _, _) = nn.enclose()?;
            let mut v = h / nkh;
            if let Stat::Var(_) = which {
                for _ in 0..3 {
                    let g = half_gap(v)?;
                    let mut t = nn.clone();
                    t.push_product(-nkh, v);
                    t.push_product(-nkl, v);
                    let (th, tl, te) = t.enclose()?;
                    if th.abs() + tl.abs() + te < nkh * g * SAFE {
                        return Some(v);
                    }
                    v += th / nkh;
                }
                return None;
            }
            let mut s = v.sqrt();
            for _ in 0..3 {
                let g = half_gap(s)?;
                if !(1e-140..=1e140).contains(&s) {
                    return None;
                }
                // n·N - n·k·(s ∓ g)² must be positive below and negative above.
                let (bh, bl, be) = residual(&nn, nkh, nkl, s, -g).enclose()?;
                let (ah, al, ae) = residual(&nn, nkh, nkl, s, g).enclose()?;
                let lower_ok = bh > 0.0 && bl.abs() + be < bh * SAFE;
                let upper_ok = ah < 0.0 && al.abs() + ae < -ah * SAFE;
                if lower_ok && upper_ok {
                    return Some(s);
                }
                // Newton: sqrt(N/k) ≈ s + (n·N - n·k·s²) / (2·s·n·k).
                let (th, _, _) = residual(&nn, nkh, nkl, s, 0.0).enclose()?;
                s += th / (2.0 * s * nkh);
            }
            None
        }
    }
}

/// `n·N = n·W - U²` as exact terms with a bound, from enclosures of `U` and `W`.
fn scaled_spread(nf: f64, pu: &Partial, pw: &Partial) -> Option<Partial> {
    let (uh, ul, ue) = pu.enclose()?;
    let (wh, wl, we) = pw.enclose()?;
    let mut nn = Partial::default();
    nn.push_product(nf, wh);
    nn.push_product(nf, wl);
    nn.push_product(-uh, uh);
    nn.push_product(-2.0 * uh, ul);
    nn.push_product(-ul, ul);
    // U² differs from (uh + ul)² by at most 2·|U|·ue + ue²; n·W from n·(wh + wl) by n·we.
    let u_abs = uh.abs() + ul.abs() + ue;
    nn.widen((nf * we + 2.0 * u_abs * ue + ue * ue) * 1.01);
    nn.enclose().map(|_| nn)
}

/// `n·N - n·k·(s + d)²` as exact terms (`d` is 0 or ± a power of two: `2sd` and `d²` are
/// exact).
fn residual(nn: &Partial, nkh: f64, nkl: f64, s: f64, d: f64) -> Partial {
    let mut t = nn.clone();
    let s2 = s * s;
    let s2l = s.mul_add(s, -s2);
    for sq in [s2, s2l, 2.0 * s * d, d * d] {
        t.push_product(-nkh, sq);
        t.push_product(-nkl, sq);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> Result<(), Interrupted> {
        Ok(())
    }

    /// The statistic on `threads` threads, never interrupted.
    fn real(a: &Strided, which: Stat, threads: usize) -> f64 {
        super::real(a, which, &Run::unclamped(threads, &never)).unwrap()
    }
    use crate::format::{Dtype, Elem};
    use crate::layout::Dims;
    use num_traits::Float as _;

    fn view(v: &[f64]) -> Strided {
        let dims = Dims::new(&[v.len()], &[8]).unwrap();
        // SAFETY: the view covers exactly `v`, alive while used.
        unsafe { Strided::new(v.as_ptr().cast(), dims, Dtype::native(Elem::F64)) }
    }

    /// Exact `Σx` and `Σx²` as integers in units of 2^-1075 and 2^-2150, by an independent
    /// decoding.
    fn reference_sums(xs: &[f64]) -> (BigInt, BigInt) {
        let mut s = BigInt::default();
        let mut q = BigInt::default();
        for &x in xs {
            let (m, e, sign) = x.integer_decode();
            if m == 0 {
                continue;
            }
            let v = BigInt::from(m) << (i64::from(e) + 1075) as usize;
            let v = if sign < 0 { -v } else { v };
            q += &v * &v;
            s += v;
        }
        (s, q)
    }

    /// The exact variance as a rational `num / den · 2^-2150`, and the mean as `s / n · 2^-1075`.
    fn check(xs: &[f64], ddof: u64) {
        let n = xs.len() as u64;
        let (s, q) = reference_sums(xs);
        let mean = round_ratio(&s, &BigUint::from(n), -1075);
        let run = |w: Stat| -> [f64; 2] {
            let a = view(xs);
            let got = real(&a, w, 2);
            let before = crate::reduce::set_force_exact(true);
            let exact = real(&a, w, 1);
            crate::reduce::set_force_exact(before);
            [got, exact]
        };
        for got in run(Stat::Mean) {
            assert_eq!(got.to_bits(), mean.to_bits(), "mean");
        }
        if n > ddof {
            let num = (BigInt::from(n) * &q - &s * &s).to_biguint().unwrap();
            let den = BigUint::from(n) * BigUint::from(n - ddof);
            let var = round_ratio(&BigInt::from(num.clone()), &den, -2150);
            let std = round_sqrt_ratio(&num, &den, -2150);
            for got in run(Stat::Var(ddof)) {
                assert_eq!(got.to_bits(), var.to_bits(), "var");
            }
            for got in run(Stat::Std(ddof)) {
                assert_eq!(got.to_bits(), std.to_bits(), "std");
            }
        } else {
            assert!(run(Stat::Var(ddof))[0].is_nan());
        }
    }

    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed | 1;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        }
    }

    #[test]
    fn statistics_are_correctly_rounded() {
        for seed in 0..12u64 {
            let mut r = lcg(seed);
            let n = [1, 2, 3, 255, 256, 1000, 5000][seed as usize % 7];
            let offset = [0.0, 1e15, -3.0, 1e-300, 1e200][seed as usize % 5];
            let xs: Vec<f64> = (0..n)
                .map(|_| offset + r() * (1.0 + offset.abs() * 1e-12))
                .collect();
            check(&xs, seed % 3);
        }
        // Huge mean, tiny spread; squares that overflow or underflow.
        check(&[1e15 + 0.125, 1e15 - 0.25, 1e15, 1e15 + 0.5], 1);
        check(&vec![1e300; 400], 0);
        let mut big = vec![1e300; 300];
        big.push(-1e300);
        check(&big, 1);
        check(&[5e-324, 1e-320, 0.0, 3e-310], 0);
        check(&[1.0, 2.0, 3.0, 4.0], 1);
        check(&[f64::MAX, f64::MAX], 0);
    }

    #[test]
    fn certificate_accepts_ordinary_data() {
        let mut r = lcg(9);
        for offset in [0.0, 1e15, -7.5, 1e-5] {
            let xs: Vec<f64> = (0..10_000).map(|_| offset + r()).collect();
            let c = shift(&xs[..2048]);
            let mut st = Shifted::default();
            shifted_add(&mut st, &xs, c);
            for w in [Stat::Mean, Stat::Var(0), Stat::Var(1), Stat::Std(1)] {
                let (pu, pw) = st.close();
                assert!(
                    certify(w, 10_000, c, pu, pw).is_some(),
                    "{w:?} around {offset}"
                );
            }
        }
    }

    #[test]
    fn specials_and_edges() {
        let s = |xs: &[f64], w| real(&view(xs), w, 1);
        assert!(s(&[], Stat::Mean).is_nan());
        assert!(s(&[1.0], Stat::Var(1)).is_nan());
        assert_eq!(s(&[1.0], Stat::Var(0)), 0.0);
        assert_eq!(s(&[1.0, f64::INFINITY], Stat::Mean), f64::INFINITY);
        assert!(s(&[1.0, f64::INFINITY], Stat::Var(0)).is_nan());
        assert!(s(&[f64::INFINITY, f64::NEG_INFINITY], Stat::Mean).is_nan());
        assert!(s(&[1.0, f64::NAN], Stat::Std(0)).is_nan());
        assert_eq!(s(&[f64::MAX, f64::MAX], Stat::Mean), f64::MAX);
    }
}
