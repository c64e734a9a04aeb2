//! `dot` and `fdot`: `Σ x[i]·y[i]` over two inputs of the same length, each with its own element
//! type, byte order and layout.
//!
//! - `dot` of floats follows `sum`'s canonical order over the rounded products `fl(x·y)` (no
//!   fused multiply-add), so its bits depend on the values alone; integers give the exact
//!   integer.
//! - `fdot` is the correctly rounded exact value, by the pattern `fsum` uses: every product is
//!   split error-free into `p + e` (a fused multiply-add), both streams go through `fsum`'s
//!   certified compensated lanes, and only when the certificate refuses does the exact
//!   accumulator run (fed the same split products; the rare products whose split is not exact —
//!   overflowing, underflowing, non-finite — are added exactly one by one).
//!
//! A real value is a signed sum of *terms* `x·y` (complex parts need two; a 64-bit integer,
//! not exact in an f64, is split into two exact f64 parts, its high and low 32 bits), so every
//! real and complex combination is one loop over terms.

use crate::certified::{lanes_add_products, Lanes, Partial};
use crate::exact::{Adder, ExactSum};
use crate::float::{block_dot, Pairwise};
use crate::format::{Dtype, Elem, Kind};
use crate::layout::{block_count, Scratch, Strided, BLOCK};
use crate::parallel::tree_reduce;
use crate::reader::{f64_blocks, f64_low_blocks, Blocks, Ints};
use crate::reduce::{certify_allowed, Total, CERTIFY_MIN_LEN};

/// One signed product stream of a real value: `±Σ x[i]·y[i]`.
#[derive(Clone, Copy)]
struct Term<'a> {
    x: &'a Strided,
    y: &'a Strided,
    negate: bool,
}

/// The real and imaginary terms of `Σ x·y` (no conjugation).
fn terms<'a>(
    x: &'a Strided,
    y: &'a Strided,
    xp: &'a Option<(Strided, Strided)>,
    yp: &'a Option<(Strided, Strided)>,
) -> (Vec<Term<'a>>, Option<Vec<Term<'a>>>) {
    let t = |x, y, negate| Term { x, y, negate };
    match (xp, yp) {
        (None, None) => (vec![t(x, y, false)], None),
        (Some((xr, xi)), None) => (vec![t(xr, y, false)], Some(vec![t(xi, y, false)])),
        (None, Some((yr, yi))) => (vec![t(x, yr, false)], Some(vec![t(x, yi, false)])),
        (Some((xr, xi)), Some((yr, yi))) => (
            vec![t(xr, yr, false), t(xi, yi, true)],
            Some(vec![t(xr, yi, false), t(xi, yr, false)]),
        ),
    }
}

/// `dot`: exact integer for two integer inputs, else the canonical float order (per complex
/// part: the canonical dots of its terms, added in term order).
#[must_use]
pub fn dot(x: &Strided, y: &Strided, threads: usize) -> Total {
    debug_assert_eq!(x.len(), y.len());
    if x.dtype().kind() == Kind::Int && y.dtype().kind() == Kind::Int {
        let exact = exact_terms(
            &[Term {
                x,
                y,
                negate: false,
            }],
            threads,
        );
        return Total::BigInt(exact.to_bigint() >> ExactSum::UNIT_BITS);
    }
    let (xp, yp) = (x.complex_parts(), y.complex_parts());
    let (re, im) = terms(x, y, &xp, &yp);
    let part = |ts: &[Term]| {
        ts.iter().fold(0.0, |acc, t| {
            let v = canonical_dot(t.x, t.y, threads);
            if t.negate {
                acc - v
            } else {
                acc + v
            }
        })
    };
    match im {
        None => Total::Float(part(&re)),
        Some(im) => Total::Complex(part(&re), part(&im)),
    }
}

/// `fdot`: the correctly rounded exact value (per complex part).
#[must_use]
pub fn fdot(x: &Strided, y: &Strided, threads: usize) -> Total {
    debug_assert_eq!(x.len(), y.len());
    let (xp, yp) = (x.complex_parts(), y.complex_parts());
    let (re, im) = terms(x, y, &xp, &yp);
    match im {
        None => Total::Float(correctly_rounded(&re, threads)),
        Some(im) => Total::Complex(
            correctly_rounded(&re, threads),
            correctly_rounded(&im, threads),
        ),
    }
}

/// The exact `Σ x[i]·y[i]` of two real inputs (for accumulators); `None` if either is complex.
#[must_use]
pub fn exact_dot(x: &Strided, y: &Strided, threads: usize) -> Option<ExactSum> {
    if x.dtype().kind() == Kind::Complex || y.dtype().kind() == Kind::Complex {
        return None;
    }
    Some(exact_terms(
        &[Term {
            x,
            y,
            negate: false,
        }],
        threads,
    ))
}

/// One real input's blocks as exact f64 parts (two for 64-bit integers).
fn parts(a: &Strided) -> Vec<Box<dyn Blocks<f64> + '_>> {
    let mut v = Vec::with_capacity(2);
    v.extend(f64_blocks(a, Ints::Split));
    v.extend(f64_low_blocks(a));
    v
}

/// The input as a native f64 slice when it can be read in place.
fn native_f64(a: &Strided) -> Option<&[f64]> {
    if a.dtype() == Dtype::native(Elem::F64) {
        a.as_slice::<f64>()
    } else {
        None
    }
}

/// Calls `f(x, y, negate)` for every exact product block pair of the terms over blocks
/// `lo..hi` (a term with split integers gives up to four pairs per block).
fn for_each_product_block(
    terms: &[Term],
    lo: usize,
    hi: usize,
    mut f: impl FnMut(&[f64], &[f64], bool),
) {
    for t in terms {
        if let (Some(xs), Some(ys)) = (native_f64(t.x), native_f64(t.y)) {
            for blk in lo..hi {
                let r = blk * BLOCK..(blk * BLOCK + BLOCK).min(xs.len());
                f(&xs[r.clone()], &ys[r], t.negate);
            }
            continue;
        }
        let mut xs = parts(t.x);
        let mut ys = parts(t.y);
        let mut finite = Scratch::boxed();
        for blk in lo..hi {
            for (i, xr) in xs.iter_mut().enumerate() {
                let xb = xr.block(blk);
                for (j, yr) in ys.iter_mut().enumerate() {
                    let yb = yr.block(blk);
                    // A remainder part times an infinity or NaN must add nothing: the rounded
                    // part (nonzero, of the integer's sign) already carries that product.
                    match (i, j) {
                        (0, 0) => f(xb, yb, t.negate),
                        (_, 0) => f(xb, finite_or_zero(yb, &mut finite), t.negate),
                        _ => f(finite_or_zero(xb, &mut finite), yb, t.negate),
                    }
                }
            }
        }
    }
}

/// `xs` itself when every value is finite, else a copy with the non-finite ones zeroed.
fn finite_or_zero<'a>(xs: &'a [f64], scratch: &'a mut Scratch<f64>) -> &'a [f64] {
    if xs.iter().all(|x| x.is_finite()) {
        return xs;
    }
    scratch.fill(xs.iter().map(|&x| if x.is_finite() { x } else { 0.0 }))
}

fn correctly_rounded(terms: &[Term], threads: usize) -> f64 {
    let n = terms.first().map_or(0, |t| t.x.len());
    if n >= CERTIFY_MIN_LEN && certify_allowed() {
        if let Some(v) = certified_terms(terms, threads).certify() {
            return v;
        }
    }
    exact_terms(terms, threads).round()
}

/// The certified pass: every product through `fsum`'s compensated lanes, split error-free
/// (negated terms in lanes of their own, negated when closed).
fn certified_terms(terms: &[Term], threads: usize) -> Partial {
    let n = terms.first().map_or(0, |t| t.x.len());
    tree_reduce(
        block_count(n),
        threads,
        &|lo, hi| {
            let (mut plus, mut minus) = (Lanes::default(), Lanes::default());
            let mut pairs = 0usize;
            for_each_product_block(terms, lo, hi, |x, y, negate| {
                lanes_add_products(if negate { &mut minus } else { &mut plus }, x, y);
                pairs += x.len().min(y.len());
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

/// The exact value of the terms.
fn exact_terms(terms: &[Term], threads: usize) -> ExactSum {
    let n = terms.first().map_or(0, |t| t.x.len());
    tree_reduce(
        block_count(n),
        threads,
        &|lo, hi| {
            let mut total = ExactSum::new();
            let mut adder = Adder::new();
            for_each_product_block(terms, lo, hi, |x, y, negate| {
                adder.add_products(x, y, negate, &mut total);
            });
            adder.finish(&mut total);
            total
        },
        &|mut a, b| {
            a.merge(&b);
            a
        },
    )
}

/// The canonical float dot of two real inputs (integers rounded to f64).
fn canonical_dot(x: &Strided, y: &Strided, threads: usize) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    tree_reduce(
        block_count(x.len()),
        threads,
        &|lo, hi| {
            let mut tree = Pairwise::default();
            match native_f64(x).zip(native_f64(y)) {
                Some((xs, ys)) => {
                    for blk in lo..hi {
                        let r = blk * BLOCK..(blk * BLOCK + BLOCK).min(xs.len());
                        tree.push(block_dot(&xs[r.clone()], &ys[r]));
                    }
                }
                _ => {
                    let (Some(mut xr), Some(mut yr)) =
                        (f64_blocks(x, Ints::Rounded), f64_blocks(y, Ints::Rounded))
                    else {
                        return 0.0;
                    };
                    for blk in lo..hi {
                        tree.push(block_dot(xr.block(blk), yr.block(blk)));
                    }
                }
            }
            tree.finish().unwrap_or(0.0)
        },
        &|a, b| a + b,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact::tests::{assert_correctly_rounded, reference};
    use crate::format::Dtype;
    use crate::layout::Dims;
    use crate::reduce::sum;
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
