//! `dot` and `fdot`: `Σ x[i]·y[i]` over two inputs of the same length, each with its own element
//! type, byte order and layout (and, as columns, its own chunks and nulls).
//!
//! - `dot` of floats follows `sum`'s canonical order over the rounded products `fl(x·y)` (no
//!   fused multiply-add), so its bits depend on the values alone; integers give the exact
//!   integer.
//! - `fdot` is the correctly rounded exact value, by the pattern `fsum` uses: every product is
//!   split error-free into `p + e` (a fused multiply-add), both go through `fsum`'s certified
//!   compensated lanes, and only when the certificate refuses does the exact accumulator run
//!   (fed the same split products; the rare products whose split is not exact — overflowing,
//!   underflowing, non-finite — are added exactly one by one).
//!
//! A value is a signed sum of *terms* over up to four real *sources* (the inputs, or their
//! real and imaginary parts): a complex part needs two terms. Each source comes block by block
//! as its nearest f64 values plus exact remainders (nonzero only for 64-bit integers beyond
//! 2^53), read in place or gathered for dense inputs, or compacted in lockstep
//! ([`compact_lockstep`]) when nulls, several chunks or `omit_nan` make positions absent: a
//! position is absent when any source is absent there. So every real, complex, integer,
//! chunked and null-holding combination is one loop over terms.

use smallvec::SmallVec;

use crate::certified::{lanes_add_products, Lanes, Partial};
use crate::column::{compact_lockstep, words, Column, MAX_LOCKSTEP};
use crate::exact::{Adder, ExactSum};
use crate::float::{block_dot, Pairwise};
use crate::format::{Dtype, Elem, Kind};
use crate::layout::{block_count, Scratch, Strided, BLOCK};
use crate::parallel::{tree_reduce, Interrupted, Run};
use crate::reader::{f64_blocks, f64_low_blocks, Blocks, Ints};
use crate::reduce::{certify_allowed, Total, CERTIFY_MIN_LEN};

/// What a visit calls with each block: per source, nearest values, remainders, and whether
/// the remainders can be nonzero.
type VisitFn<'a> = dyn FnMut(&[&[f64]], &[&[f64]], &[bool]) + 'a;

/// What a term's product blocks go to: `(x, y, negate)`.
type ProductFn<'a> = dyn FnMut(&[f64], &[f64], bool) + 'a;

/// A signed product term `±Σ s_i·s_j` over sources `i` and `j`.
#[derive(Clone, Copy, Debug)]
struct Term {
    i: usize,
    j: usize,
    negate: bool,
}

/// The sources and the real (and imaginary) terms of `Σ x·y`, no conjugation.
struct Plan {
    sources: SmallVec<[Column; MAX_LOCKSTEP]>,
    re: SmallVec<[Term; 2]>,
    im: Option<SmallVec<[Term; 2]>>,
    omit_nan: bool,
}

impl Plan {
    fn new(x: &Column, y: &Column, omit_nan: bool) -> Plan {
        let t = |i, j, negate| Term { i, j, negate };
        let mut sources = SmallVec::new();
        let (re, im) = match (x.complex_parts(), y.complex_parts()) {
            (None, None) => {
                sources.extend([x.clone(), y.clone()]);
                (smallvec_of([t(0, 1, false)]), None)
            }
            (Some((xr, xi)), None) => {
                sources.extend([xr, xi, y.clone()]);
                (
                    smallvec_of([t(0, 2, false)]),
                    Some(smallvec_of([t(1, 2, false)])),
                )
            }
            (None, Some((yr, yi))) => {
                sources.extend([x.clone(), yr, yi]);
                (
                    smallvec_of([t(0, 1, false)]),
                    Some(smallvec_of([t(0, 2, false)])),
                )
            }
            (Some((xr, xi)), Some((yr, yi))) => {
                sources.extend([xr, xi, yr, yi]);
                (
                    smallvec_of([t(0, 2, false), t(1, 3, true)]),
                    Some(smallvec_of([t(0, 3, false), t(1, 2, false)])),
                )
            }
        };
        Plan {
            sources,
            re,
            im,
            omit_nan,
        }
    }

    /// The sources as strided views when no position can be absent.
    fn dense(&self) -> Option<SmallVec<[&Strided; MAX_LOCKSTEP]>> {
        let nan_free = |c: &Column| !self.omit_nan || c.dtype().kind() == Kind::Int;
        self.sources
            .iter()
            .map(|c| c.as_strided().filter(|_| nan_free(c)))
            .collect()
    }

    fn len(&self) -> usize {
        self.sources.first().map_or(0, Column::len)
    }

    /// Calls `f(near, rest, has_rest)` for each block of present positions: per source, its
    /// values and remainders. Dense plans run blocks `lo..hi` (threads split them); others are
    /// compacted in one sequential walk (called with the whole range). Returns the number of
    /// positions visited.
    fn visit(&self, lo: usize, hi: usize, f: &mut VisitFn<'_>) -> usize {
        if let Some(dense) = self.dense() {
            return visit_dense(&dense, lo, hi, f);
        }
        if lo > 0 {
            return 0; // the compacting walk is one leaf
        }
        let mut ws: SmallVec<[_; MAX_LOCKSTEP]> = SmallVec::new();
        for c in &self.sources {
            match words(c, self.omit_nan) {
                Some(w) => ws.push(w),
                None => return 0,
            }
        }
        let has: SmallVec<[bool; MAX_LOCKSTEP]> = ws.iter().map(|w| w.has_rest()).collect();
        let lens: SmallVec<[usize; MAX_LOCKSTEP]> = self.sources.iter().map(Column::len).collect();
        compact_lockstep(&mut ws, self.len(), &lens, |near, rest| f(near, rest, &has)).unwrap_or(0)
    }

    /// Blocks the visit may be split into (one for a compacting walk).
    fn blocks(&self) -> usize {
        if self.dense().is_some() {
            block_count(self.len())
        } else {
            1
        }
    }
}

fn smallvec_of<const N: usize>(ts: [Term; N]) -> SmallVec<[Term; 2]> {
    ts.into_iter().collect()
}

/// The input as a native f64 slice when it can be read in place.
fn native_f64(a: &Strided) -> Option<&[f64]> {
    if a.dtype() == Dtype::native(Elem::F64) {
        a.as_slice::<f64>()
    } else {
        None
    }
}

fn visit_dense(srcs: &[&Strided], lo: usize, hi: usize, f: &mut VisitFn<'_>) -> usize {
    let len = srcs.first().map_or(0, |s| s.len());
    // Readers only for the sources that cannot be read in place.
    let mut near: SmallVec<[Option<Box<dyn Blocks<f64> + '_>>; MAX_LOCKSTEP]> = srcs
        .iter()
        .map(|s| {
            if native_f64(s).is_some() {
                None
            } else {
                f64_blocks(s, Ints::Split)
            }
        })
        .collect();
    let mut rest: SmallVec<[Option<Box<dyn Blocks<f64> + '_>>; MAX_LOCKSTEP]> =
        srcs.iter().map(|s| f64_low_blocks(s)).collect();
    let has: SmallVec<[bool; MAX_LOCKSTEP]> = rest.iter().map(Option::is_some).collect();
    let mut visited = 0;
    for blk in lo..hi {
        let r = blk * BLOCK..(blk * BLOCK + BLOCK).min(len);
        let k = r.len();
        let mut ns: SmallVec<[&[f64]; MAX_LOCKSTEP]> = SmallVec::new();
        for (s, reader) in srcs.iter().zip(near.iter_mut()) {
            match reader {
                Some(rd) => ns.push(rd.block(blk)),
                None => ns.push(&native_f64(s).unwrap_or(&[])[r.clone()]),
            }
        }
        let mut rs: SmallVec<[&[f64]; MAX_LOCKSTEP]> = SmallVec::new();
        for reader in &mut rest {
            match reader {
                Some(rd) => rs.push(rd.block(blk)),
                // Read only where `has` says so.
                None => rs.push(&[]),
            }
        }
        f(&ns, &rs, &has);
        visited += k;
    }
    visited
}

/// Calls `f(x, y, negate)` for every exact product block pair of a term: nearest values, and
/// the remainders of 64-bit integers (whose partner then has infinities and NaN zeroed: the
/// nearest part, nonzero and of the integer's sign, already carries those products).
fn term_products(
    t: Term,
    near: &[&[f64]],
    rest: &[&[f64]],
    has: &[bool],
    finite: &mut Scratch<f64>,
    f: &mut ProductFn<'_>,
) {
    f(near[t.i], near[t.j], t.negate);
    if has[t.j] {
        f(finite_or_zero(near[t.i], finite), rest[t.j], t.negate);
    }
    if has[t.i] {
        f(rest[t.i], finite_or_zero(near[t.j], finite), t.negate);
    }
    if has[t.i] && has[t.j] {
        f(rest[t.i], rest[t.j], t.negate);
    }
}

/// `xs` itself when every value is finite, else a copy with the non-finite ones zeroed.
fn finite_or_zero<'a>(xs: &'a [f64], scratch: &'a mut Scratch<f64>) -> &'a [f64] {
    if xs.iter().all(|x| x.is_finite()) {
        return xs;
    }
    scratch.fill(xs.iter().map(|&x| if x.is_finite() { x } else { 0.0 }))
}

/// Inputs this short go straight to exact products in `fdot` (below the certified minimum).
const SHORT_EXACT: usize = 64;

/// Both inputs as native f64 slices of at most `max` elements with nothing absent: the
/// short-call paths need no plan.
fn short_native<'a>(
    x: &'a Column,
    y: &'a Column,
    omit_nan: bool,
    max: usize,
) -> Option<(&'a [f64], &'a [f64])> {
    if omit_nan || x.len() > max {
        return None;
    }
    let xs = native_f64(x.as_strided()?)?;
    let ys = native_f64(y.as_strided()?)?;
    Some((xs, ys))
}

// Every function here runs through `tree_reduce` with the caller's `Run` (threads; checks
// between chunks, which may stop the work with `Interrupted`). A compacting walk is one leaf:
// it runs on the calling thread, to its end.

/// `dot` of two inputs of equal length (dense strided views).
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn dot(x: &Strided, y: &Strided, run: &Run) -> Result<Total, Interrupted> {
    dot_columns(
        &Column::from_strided(x.clone()),
        &Column::from_strided(y.clone()),
        run,
        false,
    )
}

/// `fdot` of two inputs of equal length (dense strided views).
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn fdot(x: &Strided, y: &Strided, run: &Run) -> Result<Total, Interrupted> {
    fdot_columns(
        &Column::from_strided(x.clone()),
        &Column::from_strided(y.clone()),
        run,
        false,
    )
}

/// The exact `Σ x[i]·y[i]` of two real dense inputs (for accumulators); `None` if either is
/// complex.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn exact_dot(x: &Strided, y: &Strided, run: &Run) -> Result<Option<ExactSum>, Interrupted> {
    Ok(exact_dot_columns(
        &Column::from_strided(x.clone()),
        &Column::from_strided(y.clone()),
        run,
        false,
    )?
    .map(|(e, _)| e))
}

/// `dot` over the present pairs of two columns of equal length (a pair is absent when either
/// element is null, or NaN with `omit_nan`): the exact integer for two integer columns, else
/// the canonical float order (per complex part: the canonical dots of its terms, added in term
/// order) — the bits `dot` gives on the present pairs gathered into two contiguous arrays.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn dot_columns(
    x: &Column,
    y: &Column,
    run: &Run,
    omit_nan: bool,
) -> Result<Total, Interrupted> {
    debug_assert_eq!(x.len(), y.len());
    if let Some((xs, ys)) = short_native(x, y, omit_nan, BLOCK).filter(|(xs, _)| !xs.is_empty()) {
        // One canonical block: its kernel total is the whole tree (the short-call path; no
        // pairs at all give +0.0, as the general path does).
        return Ok(Total::Float(block_dot(xs, ys)));
    }
    let plan = Plan::new(x, y, omit_nan);
    if x.dtype().kind() == Kind::Int && y.dtype().kind() == Kind::Int {
        let exact = exact_terms(&plan, &plan.re, run)?.0;
        return Ok(Total::BigInt(exact.to_bigint() >> ExactSum::UNIT_BITS));
    }
    let value = |terms: &[Term]| -> Result<f64, Interrupted> {
        let trees = tree_reduce(
            plan.blocks(),
            run,
            &|lo, hi| {
                let mut trees: SmallVec<[Pairwise; 2]> =
                    terms.iter().map(|_| Pairwise::default()).collect();
                plan.visit(lo, hi, &mut |near, _, _| {
                    for (tree, t) in trees.iter_mut().zip(terms) {
                        tree.push(block_dot(near[t.i], near[t.j]));
                    }
                });
                trees
                    .into_iter()
                    .map(|t| t.finish().unwrap_or(0.0))
                    .collect::<SmallVec<[f64; 2]>>()
            },
            &|a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
        )?;
        Ok(trees
            .iter()
            .zip(terms)
            // From -0.0, the exact additive identity: a lone term keeps its own sign of zero,
            // as `sum` does.
            .fold(
                -0.0,
                |acc, (&v, t)| if t.negate { acc - v } else { acc + v },
            ))
    };
    Ok(match &plan.im {
        None => Total::Float(value(&plan.re)?),
        Some(im) => Total::Complex(value(&plan.re)?, value(im)?),
    })
}

/// `fdot` over the present pairs of two columns: the correctly rounded exact value (per
/// complex part).
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn fdot_columns(
    x: &Column,
    y: &Column,
    run: &Run,
    omit_nan: bool,
) -> Result<Total, Interrupted> {
    debug_assert_eq!(x.len(), y.len());
    if let Some((xs, ys)) = short_native(x, y, omit_nan, SHORT_EXACT) {
        // Short: each product exactly, rounded once (the short-call path).
        let mut total = ExactSum::new();
        for (&a, &b) in xs.iter().zip(ys) {
            total.add_product(a, b);
        }
        return Ok(Total::Float(total.round()));
    }
    let plan = Plan::new(x, y, omit_nan);
    Ok(match &plan.im {
        None => Total::Float(correctly_rounded(&plan, &plan.re, run)?),
        Some(im) => Total::Complex(
            correctly_rounded(&plan, &plan.re, run)?,
            correctly_rounded(&plan, im, run)?,
        ),
    })
}

/// The exact `Σ x[i]·y[i]` over the present pairs of two real columns and their count; `None`
/// if either is complex.
///
/// # Errors
/// [`Interrupted`] when `run`'s check stops the work.
pub fn exact_dot_columns(
    x: &Column,
    y: &Column,
    run: &Run,
    omit_nan: bool,
) -> Result<Option<(ExactSum, usize)>, Interrupted> {
    if x.dtype().kind() == Kind::Complex || y.dtype().kind() == Kind::Complex {
        return Ok(None);
    }
    let plan = Plan::new(x, y, omit_nan);
    Ok(Some(exact_terms(&plan, &plan.re, run)?))
}

fn correctly_rounded(plan: &Plan, terms: &[Term], run: &Run) -> Result<f64, Interrupted> {
    if plan.len() >= CERTIFY_MIN_LEN && certify_allowed() {
        if let Some(v) = certified_terms(plan, terms, run)?.certify() {
            return Ok(v);
        }
    }
    Ok(exact_terms(plan, terms, run)?.0.round())
}

/// The certified pass: every product through `fsum`'s compensated lanes, split error-free
/// (negated terms in lanes of their own, negated when closed).
fn certified_terms(plan: &Plan, terms: &[Term], run: &Run) -> Result<Partial, Interrupted> {
    tree_reduce(
        plan.blocks(),
        run,
        &|lo, hi| {
            let (mut plus, mut minus) = (Lanes::default(), Lanes::default());
            let mut finite = Scratch::boxed();
            let mut pairs = 0usize;
            plan.visit(lo, hi, &mut |near, rest, has| {
                for &t in terms {
                    term_products(t, near, rest, has, &mut finite, &mut |x, y, negate| {
                        lanes_add_products(if negate { &mut minus } else { &mut plus }, x, y);
                        pairs += x.len().min(y.len());
                    });
                }
            });
            let mut partial = Partial::from_product_lanes(&plus);
            let mut neg = Partial::from_product_lanes(&minus);
            neg.negate();
            partial.merge(neg);
            // Each product's error term may have lost up to 2^-1075 to underflow.
            #[allow(clippy::cast_precision_loss)]
            partial.widen(pairs as f64 * f64::from_bits(1));
            partial
        },
        &|mut a, b| {
            a.merge(b);
            a
        },
    )
}

/// The exact value of the terms, and the number of positions visited.
fn exact_terms(plan: &Plan, terms: &[Term], run: &Run) -> Result<(ExactSum, usize), Interrupted> {
    tree_reduce(
        plan.blocks(),
        run,
        &|lo, hi| {
            let mut total = ExactSum::new();
            let mut adder = Adder::new();
            let mut finite = Scratch::boxed();
            let n = plan.visit(lo, hi, &mut |near, rest, has| {
                for &t in terms {
                    term_products(t, near, rest, has, &mut finite, &mut |x, y, negate| {
                        adder.add_products(x, y, negate, &mut total);
                    });
                }
            });
            adder.finish(&mut total);
            (total, n)
        },
        &|(mut a, n), (b, m)| {
            a.merge(&b);
            (a, n + m)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::tests::{assert_correctly_rounded, reference};
    use crate::format::Dtype;
    use crate::layout::Dims;

    fn never() -> Result<(), Interrupted> {
        Ok(())
    }

    fn run(threads: usize) -> Run<'static> {
        Run::unclamped(threads, &never)
    }

    // The functions on `threads` threads, never interrupted.
    fn dot(x: &Strided, y: &Strided, threads: usize) -> Total {
        super::dot(x, y, &run(threads)).unwrap()
    }

    fn fdot(x: &Strided, y: &Strided, threads: usize) -> Total {
        super::fdot(x, y, &run(threads)).unwrap()
    }

    fn dot_columns(x: &Column, y: &Column, threads: usize, omit_nan: bool) -> Total {
        super::dot_columns(x, y, &run(threads), omit_nan).unwrap()
    }

    fn fdot_columns(x: &Column, y: &Column, threads: usize, omit_nan: bool) -> Total {
        super::fdot_columns(x, y, &run(threads), omit_nan).unwrap()
    }

    fn exact_dot_columns(
        x: &Column,
        y: &Column,
        threads: usize,
        omit_nan: bool,
    ) -> Option<(ExactSum, usize)> {
        super::exact_dot_columns(x, y, &run(threads), omit_nan).unwrap()
    }

    fn sum(a: &Strided, threads: usize) -> Total {
        crate::reduce::sum(a, &run(threads)).unwrap()
    }

    fn exact_dot(x: &Strided, y: &Strided, threads: usize) -> Option<ExactSum> {
        super::exact_dot(x, y, &run(threads)).unwrap()
    }
    use num_bigint::BigInt;

    fn view<T: bytemuck::Pod>(v: &[T], elem: Elem) -> Strided {
        let dims = Dims::new(&[v.len()], &[std::mem::size_of::<T>() as isize]).unwrap();
        // SAFETY: the view covers exactly `v`, which outlives its use in each test.
        unsafe { Strided::new(v.as_ptr().cast(), dims, Dtype::native(elem)) }
    }

    fn reversed<T: bytemuck::Pod>(v: &[T], elem: Elem) -> Strided {
        let size = std::mem::size_of::<T>() as isize;
        let dims = Dims::new(&[v.len()], &[-size]).unwrap();
        // SAFETY: from the last element backwards: exactly the elements of `v`.
        unsafe {
            Strided::new(
                v.as_ptr().add(v.len() - 1).cast(),
                dims,
                Dtype::native(elem),
            )
        }
    }

    fn lcg(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s ^ (s >> 29)
        }
    }

    /// `Σ x·y` exactly, in units of 2^-UNIT_BITS (products of floats are multiples of 2^-2148).
    fn reference_dot(x: &[f64], y: &[f64]) -> BigInt {
        x.iter()
            .zip(y)
            .map(|(&a, &b)| (reference(a) * reference(b)) >> ExactSum::UNIT_BITS as usize)
            .sum()
    }

    fn both_paths(x: &Strided, y: &Strided, threads: usize) -> f64 {
        let Total::Float(fast) = fdot(x, y, threads) else {
            panic!("real")
        };
        let before = crate::reduce::set_force_exact(true);
        let Total::Float(exact) = fdot(x, y, threads) else {
            panic!("real")
        };
        crate::reduce::set_force_exact(before);
        assert_eq!(fast.to_bits(), exact.to_bits(), "certified vs exact");
        fast
    }

    #[test]
    fn fdot_is_correctly_rounded() {
        for seed in 0..40u64 {
            let mut r = lcg(seed);
            let n = (r() % 5000) as usize + 1;
            let spread = r() % 2000;
            let mut gen = || {
                let bits = r();
                let e = 1023 - spread / 2 + (bits >> 52) % (spread + 1);
                f64::from_bits((bits & 0x800f_ffff_ffff_ffff) | (e.clamp(1, 2046) << 52))
            };
            let x: Vec<f64> = (0..n).map(|_| gen()).collect();
            let y: Vec<f64> = (0..n).map(|_| gen()).collect();
            let got = both_paths(
                &view(&x, Elem::F64),
                &view(&y, Elem::F64),
                1 + seed as usize % 3,
            );
            assert_correctly_rounded(&reference_dot(&x, &y), got);
            let rev = both_paths(&reversed(&x, Elem::F64), &reversed(&y, Elem::F64), 2);
            let xr: Vec<f64> = x.iter().rev().copied().collect();
            let yr: Vec<f64> = y.iter().rev().copied().collect();
            assert_correctly_rounded(&reference_dot(&xr, &yr), rev);
        }
    }

    #[test]
    fn products_beyond_the_float_range_are_exact() {
        // Overflowing and underflowing products that cancel to something ordinary.
        // 1e600 - 1e600 + 2e-600 + 1.5 + 2^-2148 + 2·MAX - 2·MAX = 1.5 + (far below half an ulp).
        let xs = [
            1e300,
            1e300,
            1e-300,
            1e-300,
            3.0,
            5e-324,
            f64::MAX,
            f64::MAX,
        ];
        let ys = [1e300, -1e300, 1e-300, 1e-300, 0.5, 5e-324, 2.0, -2.0];
        let got = both_paths(&view(&xs, Elem::F64), &view(&ys, Elem::F64), 1);
        assert_eq!(got, 1.5);
        assert_correctly_rounded(&reference_dot(&xs, &ys), got);
        let tiny = both_paths(
            &view(&[1e-200; 300], Elem::F64),
            &view(&[1e-200; 300], Elem::F64),
            1,
        );
        assert_correctly_rounded(&reference_dot(&[1e-200; 300], &[1e-200; 300]), tiny);
        assert_eq!(tiny, 0.0);
        let sub = both_paths(
            &view(&[1e-160; 3000], Elem::F64),
            &view(&[1e-160; 3000], Elem::F64),
            1,
        );
        assert_correctly_rounded(&reference_dot(&[1e-160; 3000], &[1e-160; 3000]), sub);
        assert!(sub > 0.0);
    }

    #[test]
    fn specials() {
        let nan = |x: &[f64], y: &[f64]| {
            let Total::Float(v) = fdot(&view(x, Elem::F64), &view(y, Elem::F64), 1) else {
                panic!()
            };
            v
        };
        assert!(nan(&[f64::INFINITY, 1.0], &[0.0, 1.0]).is_nan());
        assert!(nan(&[f64::INFINITY, f64::INFINITY], &[1.0, -1.0]).is_nan());
        assert_eq!(nan(&[f64::INFINITY, 1e308], &[2.0, 1e308]), f64::INFINITY);
        assert!(nan(&[f64::NAN], &[0.0]).is_nan());
        assert_eq!(nan(&[1e308, 1e308], &[10.0, -10.0]), 0.0);
    }

    #[test]
    fn integers_exact_and_mixed() {
        let mut r = lcg(7);
        let a: Vec<i64> = (0..3000).map(|_| r() as i64).collect();
        let b: Vec<u64> = (0..3000).map(|_| r()).collect();
        let want: BigInt = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| BigInt::from(x) * BigInt::from(y))
            .sum();
        let Total::BigInt(got) = dot(&view(&a, Elem::I64), &view(&b, Elem::U64), 2) else {
            panic!()
        };
        assert_eq!(got, want);
        let Total::Float(f) = fdot(&view(&a, Elem::I64), &view(&b, Elem::U64), 1) else {
            panic!()
        };
        assert_correctly_rounded(&(want << ExactSum::UNIT_BITS as usize), f);
        // int64 (not exact in f64) times float: exact.
        let c: Vec<f64> = (0..3000)
            .map(|_| f64::from_bits(r() & 0xbfef_ffff_ffff_ffff))
            .collect();
        let want: BigInt = a
            .iter()
            .zip(&c)
            .map(|(&x, &y)| (BigInt::from(x) << ExactSum::UNIT_BITS as usize) * reference(y))
            .sum::<BigInt>()
            >> ExactSum::UNIT_BITS as usize;
        let got = both_paths(&view(&a, Elem::I64), &view(&c, Elem::F64), 1);
        assert_correctly_rounded(&want, got);
        let small: Vec<i8> = (0..5000).map(|_| r() as i8).collect();
        let bools: Vec<u8> = (0..5000).map(|_| (r() % 3) as u8).collect();
        let want: i64 = small
            .iter()
            .zip(&bools)
            .map(|(&x, &y)| i64::from(x) * i64::from(y != 0))
            .sum();
        let Total::BigInt(got) = dot(&view(&small, Elem::I8), &view(&bools, Elem::Bool), 1) else {
            panic!()
        };
        assert_eq!(got, BigInt::from(want));
    }

    #[test]
    fn absent_pairs_are_compacted_out() {
        use crate::column::{Bitmap, Segment, Values};
        let mut r = lcg(21);
        let n = 3 * BLOCK + 500;
        let x: Vec<f64> = (0..n).map(|_| (r() >> 11) as f64 / 9e15 - 0.5).collect();
        let mut y: Vec<i64> = (0..n).map(|_| (r() >> 3) as i64).collect();
        y[17] = 0;
        let mut xn = x.clone();
        xn[100] = f64::NAN;
        // x in two chunks, the second with nulls at every 7th position.
        let cut = 1000;
        let mut bits = vec![0u8; (n - cut).div_ceil(8)];
        for i in 0..n - cut {
            if i % 7 != 3 {
                bits[i / 8] |= 1 << (i % 8);
            }
        }
        let segs = [
            Segment::dense(view(&xn[..cut], Elem::F64)),
            Segment {
                values: Values::Strided(view(&xn[cut..], Elem::F64)),
                // SAFETY: `bits` covers the chunk.
                validity: Some(unsafe { Bitmap::new(bits.as_ptr(), 0) }),
            },
        ];
        let xc = Column::new(Dtype::native(Elem::F64), segs).unwrap();
        let yc = Column::from_strided(view(&y, Elem::I64));
        let keep: Vec<usize> = (0..n)
            .filter(|&i| i != 100 && (i < cut || (i - cut) % 7 != 3))
            .collect();
        let gx: Vec<f64> = keep.iter().map(|&i| x[i]).collect();
        let gy: Vec<i64> = keep.iter().map(|&i| y[i]).collect();
        let (vx, vy) = (view(&gx, Elem::F64), view(&gy, Elem::I64));
        for threads in [1, 3] {
            assert_eq!(dot_columns(&xc, &yc, threads, true), dot(&vx, &vy, threads));
            assert_eq!(
                fdot_columns(&xc, &yc, threads, true),
                fdot(&vx, &vy, threads)
            );
            let (e, count) = exact_dot_columns(&xc, &yc, threads, true).unwrap();
            assert_eq!(count, keep.len());
            assert_eq!(e.to_bigint(), exact_dot(&vx, &vy, 1).unwrap().to_bigint());
        }
        // Without omit_nan the NaN propagates.
        let Total::Float(v) = fdot_columns(&xc, &yc, 1, false) else {
            panic!()
        };
        assert!(v.is_nan());
    }

    #[test]
    fn split_integers_times_infinities() {
        let ints: Vec<i64> = vec![1, -(1 << 40), (1 << 60) - 1, 0];
        for (i, want) in [
            (0, f64::INFINITY),
            (1, f64::NEG_INFINITY),
            (2, f64::INFINITY),
        ] {
            let Total::Float(got) = fdot(
                &view(&ints[i..=i], Elem::I64),
                &view(&[f64::INFINITY], Elem::F64),
                1,
            ) else {
                panic!()
            };
            assert_eq!(got, want, "{}", ints[i]);
        }
        let Total::Float(zero) = fdot(
            &view(&ints[3..], Elem::I64),
            &view(&[f64::INFINITY], Elem::F64),
            1,
        ) else {
            panic!()
        };
        assert!(zero.is_nan());
    }

    #[test]
    fn dot_is_the_canonical_sum_of_rounded_products() {
        let mut r = lcg(3);
        let n = 5 * BLOCK + 77;
        let x: Vec<f64> = (0..n).map(|_| (r() >> 11) as f64 / 9e15 - 0.5).collect();
        let y: Vec<f32> = (0..n).map(|_| ((r() >> 40) as f32) / 1e6 - 3.0).collect();
        let products: Vec<f64> = x.iter().zip(&y).map(|(&a, &b)| a * f64::from(b)).collect();
        let Total::Float(want) = sum(&view(&products, Elem::F64), 1) else {
            panic!()
        };
        for threads in 1..4 {
            let Total::Float(got) = dot(&view(&x, Elem::F64), &view(&y, Elem::F32), threads) else {
                panic!()
            };
            assert_eq!(got.to_bits(), want.to_bits(), "threads {threads}");
            let Total::Float(rev) =
                dot(&reversed(&x, Elem::F64), &reversed(&y, Elem::F32), threads)
            else {
                panic!()
            };
            let rp: Vec<f64> = products.iter().rev().copied().collect();
            let Total::Float(want_rev) = sum(&view(&rp, Elem::F64), 1) else {
                panic!()
            };
            assert_eq!(rev.to_bits(), want_rev.to_bits());
        }
    }

    #[test]
    fn complex_without_conjugation() {
        // (1+2i)·(3-1i) + (0.5+0i)·(2+4i) = (3+2) + (-1+6)i + (1 + 2i) = 6 + 7i
        let x = [1.0, 2.0, 0.5, 0.0];
        let y = [3.0, -1.0, 2.0, 4.0];
        let dims = Dims::new(&[2], &[16]).unwrap();
        // SAFETY: two complex128 elements, exactly the arrays.
        let (cx, cy) = unsafe {
            (
                Strided::new(x.as_ptr().cast(), dims.clone(), Dtype::native(Elem::C128)),
                Strided::new(y.as_ptr().cast(), dims, Dtype::native(Elem::C128)),
            )
        };
        assert_eq!(fdot(&cx, &cy, 1), Total::Complex(6.0, 7.0));
        assert_eq!(dot(&cx, &cy, 1), Total::Complex(6.0, 7.0));
        let real = [2.0, -1.0];
        assert_eq!(
            fdot(&cx, &view(&real, Elem::F64), 1),
            Total::Complex(1.5, 4.0)
        );
    }
}
