//! The exact path against an independent big-integer reference: values decoded with
//! `num_traits::Float::integer_decode` and summed as `BigInt`s; results checked to be correctly
//! rounded by exact comparison with the neighbouring floats (not by a second rounding routine).

use super::*;
use num_traits::Float as _;

/// `x` exactly, in units of `2^-UNIT_BIT`.
pub(crate) fn reference(x: f64) -> BigInt {
    let (mant, exp, sign) = x.integer_decode();
    let v = BigInt::from(mant) << (i64::from(exp) + i64::from(UNIT_BIT)) as usize;
    if sign < 0 {
        -v
    } else {
        v
    }
}

fn reference_sum(xs: &[f64]) -> BigInt {
    xs.iter().map(|&x| reference(x)).sum()
}

/// Asserts that `f` is the f64 nearest to `v` (units of `2^-UNIT_BIT`), ties to even, with
/// `±inf` exactly when the rounded magnitude would reach 2^1024.
pub(crate) fn assert_correctly_rounded(v: &BigInt, f: f64) {
    let max = reference(f64::MAX);
    let half_ulp_max = BigInt::from(1) << (970 + UNIT_BIT as usize);
    if f.is_infinite() {
        // MAX + half an ulp is a tie that rounds to the even 2^1024.
        let limit = &max + &half_ulp_max;
        if f > 0.0 {
            assert!(*v >= limit, "rounded to inf below the overflow threshold");
        } else {
            assert!(*v <= -limit, "rounded to -inf above the overflow threshold");
        }
        return;
    }
    assert!(f.is_finite());
    let fv = reference(f);
    let diff = v - &fv;
    let (up, down) = (f.next_up(), f.next_down());
    let gap_up = if up.is_finite() {
        reference(up) - &fv
    } else {
        BigInt::from(2) * &half_ulp_max
    };
    let gap_down = if down.is_finite() {
        &fv - reference(down)
    } else {
        BigInt::from(2) * &half_ulp_max
    };
    let twice = BigInt::from(2) * &diff;
    let even = f.to_bits() & 1 == 0 || f == 0.0;
    if diff >= BigInt::zero() {
        assert!(
            twice < gap_up || (twice == gap_up && even),
            "{f:e} is not the nearest float (too low)"
        );
    } else {
        assert!(
            -&twice < gap_down || (-twice == gap_down && even),
            "{f:e} is not the nearest float (too high)"
        );
    }
}

/// Every route gives the exact total: one by one, the window route, bins only, chunked and
/// merged; and the rounding is correct.
fn check(xs: &[f64]) -> f64 {
    let finite: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    let want = reference_sum(&finite);
    let mut one = ExactSum::new();
    xs.iter().for_each(|&x| one.add_f64(x));
    let mut fast = ExactSum::new();
    fast.add_f64s(xs);
    let mut binned = ExactSum::new();
    let mut a = Adder::bins_only();
    a.add(xs, &mut binned);
    a.finish(&mut binned);
    let mut merged = ExactSum::new();
    for c in xs.chunks(777) {
        let mut part = ExactSum::new();
        part.add_f64s(c);
        merged.merge(&part);
    }
    for (name, s) in [
        ("one", &one),
        ("fast", &fast),
        ("bins", &binned),
        ("merged", &merged),
    ] {
        assert_eq!(s.to_bigint(), want, "{name}: exact total");
        assert_eq!(
            s.round().to_bits(),
            one.round().to_bits(),
            "{name}: rounding"
        );
    }
    let f = fast.round();
    if xs.iter().all(|x| x.is_finite()) {
        assert_correctly_rounded(&want, f);
    }
    f
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

#[test]
fn issue_reproducers() {
    assert_eq!(check(&vec![1.0; 4096]), 4096.0);
    let mut xs = vec![1e300];
    xs.extend(std::iter::repeat_n(1.0, 10000));
    xs.push(-1e300);
    assert_eq!(check(&xs), 10000.0);
    check(&vec![1e-300; 10000]);
    assert_eq!(check(&vec![f64::MIN_POSITIVE; 1 << 14]), 2f64.powi(-1008));
}

#[test]
fn equal_values_around_every_threshold() {
    // Full-mantissa values at the top of a binade maximise every sub-total.
    let big = 2.0 - f64::EPSILON;
    for k in 8..=17 {
        for n in [(1 << k) - 1, 1 << k, (1 << k) + 1] {
            for x in [
                big,
                1.0,
                big * 2f64.powi(1000),
                big * 2f64.powi(-1060),
                5e-324,
            ] {
                for sign in [1.0, -1.0] {
                    let xs = vec![sign * x; n];
                    check(&xs);
                }
            }
        }
    }
}

#[test]
fn one_long_run_past_every_flush() {
    // 2^22 + 1 equal maximal mantissas in one binade: every bin and lane limit is crossed.
    let xs = vec![2.0 - f64::EPSILON; (1 << 22) + 1];
    check(&xs);
    let alt: Vec<f64> = (0..(1 << 20) + 3)
        .map(|i| {
            if i % 3 == 0 {
                -(2.0 - f64::EPSILON)
            } else {
                2.0 - f64::EPSILON
            }
        })
        .collect();
    check(&alt);
}

#[test]
fn every_exponent() {
    let mut r = lcg(5);
    for e in (-1074..=1023).step_by(7) {
        let xs: Vec<f64> = (0..300)
            .map(|_| {
                let m = f64::from_bits((r() & ((1 << 52) - 1)) | (1023 << 52)); // [1, 2)
                let v = (m * 2f64.powi(e.max(-1022))).max(5e-324);
                if r() & 1 == 0 {
                    v
                } else {
                    -v
                }
            })
            .collect();
        check(&xs);
    }
    // Near overflow: the total leaves the float range and comes back.
    let mut xs = vec![f64::MAX; 1000];
    xs.extend(vec![-f64::MAX; 999]);
    xs.push(-1.0);
    assert_eq!(check(&xs), f64::MAX);
    assert_eq!(check(&[f64::MAX; 3]), f64::INFINITY);
    assert_eq!(check(&[-f64::MAX; 3]), f64::NEG_INFINITY);
}

#[test]
fn random_bits_all_routes() {
    for seed in 0..60 {
        let mut r = lcg(seed);
        let n = (r() % 9000) as usize;
        let spread = r() % 2047;
        let xs: Vec<f64> = (0..n)
            .map(|_| {
                let bits = r();
                let e = (bits >> 52) % (spread + 1);
                f64::from_bits((bits & !(0x7ff << 52)) | (e.min(2046) << 52))
            })
            .collect();
        check(&xs);
    }
}

#[test]
fn cancellation_across_the_range() {
    let mut r = lcg(9);
    let half: Vec<f64> = (0..5000)
        .map(|_| f64::from_bits(r() & 0xffef_ffff_ffff_ffff))
        .collect();
    let mut xs = half.clone();
    xs.extend(half.iter().map(|x| -x));
    xs.push(0.1);
    assert_eq!(check(&xs), 0.1);
    xs.pop();
    assert_eq!(check(&xs).to_bits(), 0);
}

#[test]
fn specials() {
    assert!(check(&[1.0, f64::NAN]).is_nan());
    assert!(check(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
    assert_eq!(check(&[f64::INFINITY, -1e308, 1.0]), f64::INFINITY);
    assert_eq!(check(&[-0.0]).to_bits(), 0);
    let mut xs = vec![1.0; 3000];
    xs[2500] = f64::NEG_INFINITY;
    assert_eq!(check(&xs), f64::NEG_INFINITY);
}

#[test]
fn ties_round_to_even() {
    let ulp = f64::EPSILON;
    assert_eq!(check(&[1.0, ulp / 2.0]), 1.0);
    assert_eq!(check(&[1.0 + ulp, ulp / 2.0]), 1.0 + 2.0 * ulp);
    assert_eq!(check(&[1.0, ulp / 2.0, 1e-300]), 1.0 + ulp);
    assert_eq!(check(&[f64::MAX, 2f64.powi(970)]), f64::INFINITY);
    assert_eq!(check(&[f64::MAX, 2f64.powi(969)]), f64::MAX);
    assert_eq!(
        check(&[f64::MIN_POSITIVE, -5e-324]),
        f64::MIN_POSITIVE - 5e-324
    );
    assert_eq!(check(&[5e-324, 5e-324]), 1e-323);
}

#[test]
fn merging_with_itself_thousands_of_times() {
    let mut s = ExactSum::new();
    s.add_f64s(&[3.5, 888.75, 4.125]);
    let v = s.to_bigint();
    for k in 1..=3000 {
        let c = s.clone();
        s.merge(&c);
        if k % 500 == 0 || k < 1100 && k % 97 == 0 {
            assert_eq!(s.to_bigint(), &v << k);
            assert_eq!(
                s.round(),
                if k > 1013 {
                    f64::INFINITY
                } else {
                    896.375 * 2f64.powi(k)
                }
            );
            let back = ExactSum::from_bytes(&s.to_bytes()).expect("round trip");
            assert_eq!(back.to_bigint(), s.to_bigint());
        }
    }
    // And back down: subtract the same amount built the same way.
    let mut t = ExactSum::new();
    t.add_f64s(&[-3.5, -888.75, -4.125]);
    for _ in 0..3000 {
        let c = t.clone();
        t.merge(&c);
    }
    t.add_f64(0.25);
    s.merge(&t);
    assert_eq!(s.round(), 0.25);
}

#[test]
fn integers_of_any_size() {
    let mut r = lcg(3);
    let mut s = ExactSum::new();
    let mut want = BigInt::zero();
    for i in 0..400 {
        let bits = (r() % 5000) as usize;
        let mut v = BigInt::from(1) << bits;
        v -= BigInt::from(r());
        if i % 2 == 1 {
            v = -v;
        }
        s.add_int(&v);
        want += &v << UNIT_BIT as usize;
        let x = f64::from_bits(r() & 0x7fef_ffff_ffff_ffff);
        s.add_f64(x);
        want += reference(x);
        assert_eq!(s.to_bigint(), want);
    }
    assert_correctly_rounded(&want, s.round());
    // Huge in, huge out: the small remainder survives.
    let huge = BigInt::from(1) << 5000;
    let mut t = ExactSum::new();
    t.add_int(&huge);
    t.add_f64(1.5);
    assert_eq!(t.round(), f64::INFINITY);
    t.add_int(&-huge);
    assert_eq!(t.round(), 1.5);
    let mut u = ExactSum::new();
    u.add_int(&(BigInt::from(1) << 1102usize));
    assert_eq!(u.round(), f64::INFINITY);
    u.add_int(&-(BigInt::from(1) << 1102usize));
    u.add_int(&(BigInt::from(1) << 1023usize));
    assert_eq!(u.round(), 2f64.powi(1023));
}

#[test]
fn totals_at_the_edge_of_the_digit_window() {
    // -(2^2047 - 2^1900) - (2^2047 + 2^1000): the top digit reaches exactly -2^32.
    let a = -((BigInt::from(1) << 2047usize) - (BigInt::from(1) << 1900usize));
    let b = -((BigInt::from(1) << 2047usize) + (BigInt::from(1) << 1000usize));
    let mut s = ExactSum::new();
    s.add_int(&a);
    s.add_int(&b);
    assert_eq!(s.round(), f64::NEG_INFINITY);
    assert_eq!(s.to_bigint(), (&a + &b) << UNIT_BIT as usize);
    for k in [2047usize, 2048, 2049] {
        let mut t = ExactSum::new();
        t.add_int(&-(BigInt::from(1) << k));
        t.add_int(&-(BigInt::from(1) << k));
        assert_eq!(t.round(), f64::NEG_INFINITY, "-2^{k} twice");
        t.add_int(&(BigInt::from(1) << (k + 1)));
        t.add_f64(-2.5);
        assert_eq!(t.round(), -2.5, "back from -2^{}", k + 1);
    }
}

#[test]
fn products_exactly() {
    let mut r = lcg(11);
    let mut s = ExactSum::new();
    let mut want = BigInt::zero();
    for _ in 0..3000 {
        let x = f64::from_bits(r() & 0xffef_ffff_ffff_ffff);
        let y = f64::from_bits(r() & 0xffef_ffff_ffff_ffff);
        s.add_product(x, y);
        want += (reference(x) * reference(y)) >> UNIT_BIT as usize;
    }
    // Every product is a multiple of 2^-2148, so the shift above is exact.
    assert_eq!(s.to_bigint(), want);
    let mut t = ExactSum::new();
    t.add_product(5e-324, 5e-324);
    t.add_product(f64::MAX, f64::MAX);
    t.add_product(-f64::MAX, f64::MAX);
    assert_eq!(t.to_bigint(), BigInt::from(1) << 28);
    assert_eq!(t.round(), 0.0);
    t.add_product(1e300, 1e-300);
    assert_correctly_rounded(&t.to_bigint(), t.round());
    let mut nan = ExactSum::new();
    nan.add_product(f64::INFINITY, 0.0);
    assert!(nan.round().is_nan());
}

#[test]
fn serialisation_round_trips_and_refuses_garbage() {
    let mut s = ExactSum::new();
    s.add_f64s(&[1e300, -3.0, 5e-324]);
    s.add_int(&(BigInt::from(-1) << 3000));
    s.add_special(f64::INFINITY);
    let b = s.to_bytes();
    let back = ExactSum::from_bytes(&b).expect("round trip");
    assert_eq!(back.to_bigint(), s.to_bigint());
    assert_eq!(back.to_bytes(), b);
    let mut r = lcg(2);
    for len in 0..200 {
        let junk: Vec<u8> = (0..len).map(|_| r() as u8).collect();
        let _ = ExactSum::from_bytes(&junk);
        let mut flipped = b.clone();
        let i = (r() as usize) % flipped.len();
        flipped[i] ^= 1 << (r() % 8);
        if let Some(x) = ExactSum::from_bytes(&flipped) {
            let _ = x.round();
        }
    }
    // Version 1 (earlier releases, units of 2^-1074): 1.5 and -2^40 · 2^(32·67 - 1074).
    let mut v1 = vec![1u8, 0];
    let mut digits = [0i64; 68];
    digits[33] = 3 << 17; // 3·2^(32·33 + 17 - 1074) = 3 · 2^-1 = 1.5
    for d in digits {
        v1.extend_from_slice(&d.to_le_bytes());
    }
    assert_eq!(ExactSum::from_bytes(&v1).expect("v1").round(), 1.5);
}
