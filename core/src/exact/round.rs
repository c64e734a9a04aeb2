//! Correct rounding of an exact binary number to f64: the one place where exact totals,
//! quotients and square roots become floats.

use num_bigint::{BigInt, BigUint};
use num_integer::Integer;
use num_traits::{Signed, Zero};

/// The f64 nearest to `±(Σ limbs[i]·2^(32i) + ε) · 2^lsb_exp`, ties to even, where `ε` is an
/// infinitesimal positive amount when `sticky` is set (a nonzero remainder of a division or
/// square root below the limbs). `±inf` if the rounded magnitude is `2^1024` or more; an exact
/// zero (no limb set, no sticky) is `+0.0`.
#[must_use]
pub fn round_limbs(limbs: &[u32], lsb_exp: i64, sticky: bool, negative: bool) -> f64 {
    let mag = round_magnitude(limbs, lsb_exp, sticky);
    if negative {
        -mag
    } else {
        mag
    }
}

fn round_magnitude(limbs: &[u32], lsb_exp: i64, sticky: bool) -> f64 {
    let Some(t) = limbs.iter().rposition(|&l| l != 0) else {
        // Only an infinitesimal: below every float, rounds to zero.
        return 0.0;
    };
    // Position of the top set bit, counted from bit 0 of limb 0.
    let top = 32 * t as i64 + 31 - i64::from(limbs[t].leading_zeros());
    if top + lsb_exp >= 1024 {
        return f64::INFINITY;
    }
    // Lowest kept bit: 53 significant bits, but none below 2^-1074 (subnormals).
    let keep_from = (top - 52).max(-1074 - lsb_exp);
    if keep_from <= 0 {
        // Every bit is kept: the value is exact in at most 53 bits at or above 2^-1074. A sticky
        // remainder (below one unit of limb 0) could not be rounded here without a guard bit:
        // callers that pass one also pass enough limbs that `keep_from > 0`.
        debug_assert!(
            !sticky,
            "sticky rounding needs a guard bit below the kept bits"
        );
        return scale(bits(limbs, 0, (top + 1) as u32), lsb_exp);
    }
    // Nothing may be kept when the whole value lies below half the smallest subnormal.
    let len = (top + 1 - keep_from).max(0) as u32;
    let keep_from = keep_from as u32;
    let mut q = bits(limbs, keep_from, len);
    let guard = bit(limbs, keep_from - 1);
    let rest = sticky || any_below(limbs, keep_from - 1);
    if guard && (rest || q & 1 == 1) {
        q += 1; // may become 2^53: still exact below
    }
    scale(q, i64::from(keep_from) + lsb_exp)
}

/// Significant bits a quotient or root is computed to before rounding: 53 kept, a guard bit,
/// and one more so that the sticky remainder lies strictly below the guard bit.
const WORK_BITS: u64 = 55;

/// The f64 nearest to `num / den · 2^exp` (ties to even; `den > 0`); `±inf` when it overflows.
#[must_use]
pub fn round_ratio(num: &BigInt, den: &BigUint, exp: i64) -> f64 {
    debug_assert!(!den.is_zero());
    let negative = num.is_negative();
    let mag = num.magnitude();
    if mag.is_zero() {
        return 0.0;
    }
    // Scale so the quotient has at least WORK_BITS bits (and reaches below 2^-1076, for
    // subnormal results): q = floor(mag · 2^k / den), sticky when the division is inexact.
    let k = (WORK_BITS + den.bits()).saturating_sub(mag.bits()) as i64 + 1;
    let k = k.max(-1076 - exp).max(0);
    let (q, r) = (mag << k as u64).div_rem(den);
    round_limbs(&q.to_u32_digits(), exp - k, !r.is_zero(), negative)
}

/// The f64 nearest to `sqrt(num / den · 2^exp)` (ties to even; `num >= 0`, `den > 0`, `exp`
/// even); `inf` when it overflows.
#[must_use]
pub fn round_sqrt_ratio(num: &BigUint, den: &BigUint, exp: i64) -> f64 {
    debug_assert!(!den.is_zero() && exp % 2 == 0);
    if num.is_zero() {
        return 0.0;
    }
    // sqrt(num·2^(2k)/den)·2^((exp-2k)/2): the integer part t = floor(num·2^(2k)/den) has at
    // least 2·WORK_BITS bits, so its integer square root has WORK_BITS; the root of the exact
    // value lies in [isqrt(t), isqrt(t) + 1), strictly above isqrt(t) unless t is a perfect
    // square and the division exact.
    let k = ((2 * WORK_BITS + den.bits()).saturating_sub(num.bits()) as i64 / 2 + 1)
        .max((-2152 - exp) / 2)
        .max(0);
    let (t, r) = (num << (2 * k) as u64).div_rem(den);
    let root = t.sqrt();
    let inexact = !r.is_zero() || &root * &root != t;
    round_limbs(&root.to_u32_digits(), exp / 2 - k, inexact, false)
}

/// `q · 2^e` for `q <= 2^53` and `e >= -1074`, exactly (or `inf` when it is 2^1024 or more).
fn scale(q: u64, e: i64) -> f64 {
    debug_assert!(e >= -1074 && q <= 1 << 53);
    if q == 0 {
        return 0.0;
    }
    if e > 1023 {
        return f64::INFINITY;
    }
    #[allow(clippy::cast_precision_loss)] // q <= 2^53: exact
    let q = q as f64;
    // Two exact steps keep 2^e representable for every e in -1074..=1023.
    if e >= -1022 {
        q * pow2(e)
    } else {
        q * pow2(e + 64) * pow2(-64)
    }
}

/// 2^e for e in -1022..=1023 (normal powers), exactly.
fn pow2(e: i64) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// `len <= 64` bits of the number starting at bit `from`.
fn bits(limbs: &[u32], from: u32, len: u32) -> u64 {
    debug_assert!(len <= 64);
    let mut v: u128 = 0;
    let first = (from / 32) as usize;
    // Three limbs cover any 64-bit window (offset < 32).
    for i in (0..3).rev() {
        v <<= 32;
        v |= u128::from(limbs.get(first + i).copied().unwrap_or(0));
    }
    let v = v >> (from % 32);
    if len == 64 {
        v as u64
    } else {
        (v as u64) & ((1u64 << len) - 1)
    }
}

fn bit(limbs: &[u32], at: u32) -> bool {
    limbs
        .get((at / 32) as usize)
        .is_some_and(|&l| (l >> (at % 32)) & 1 == 1)
}

/// Whether any bit strictly below `at` is set.
fn any_below(limbs: &[u32], at: u32) -> bool {
    let k = (at / 32) as usize;
    let r = at % 32;
    let partial = limbs
        .get(k)
        .is_some_and(|&l| r > 0 && l & ((1u32 << r) - 1) != 0);
    partial || limbs[..k.min(limbs.len())].iter().any(|&l| l != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: u128, e: i64) -> f64 {
        let limbs = [
            v as u32,
            (v >> 32) as u32,
            (v >> 64) as u32,
            (v >> 96) as u32,
        ];
        round_limbs(&limbs, e, false, false)
    }

    #[test]
    fn exact_and_rounded() {
        assert_eq!(r(1, 0), 1.0);
        assert_eq!(r(3, -1), 1.5);
        assert_eq!(r(1, -1074), 5e-324);
        assert_eq!(r(1, -1075), 0.0); // half the smallest subnormal: tie to even 0
        assert_eq!(r(3, -1075), 1e-323); // 1.5 units: tie to even 2 units
        assert_eq!(r(1, 1023), 2f64.powi(1023));
        assert_eq!(r(1, 1024), f64::INFINITY);
        let max = (1u128 << 53) - 1;
        assert_eq!(r(max, 971), f64::MAX);
        assert_eq!(r(2 * max + 1, 970), f64::INFINITY); // MAX + half ulp: tie, odd → up
        assert_eq!(r(2 * max, 970), f64::MAX);
        assert_eq!(r((1 << 53) + 1, 0), 2f64.powi(53)); // tie to even
        assert_eq!(r((1 << 53) + 3, 0), 2f64.powi(53) + 4.0);
        assert_eq!(r(u128::MAX, 0), 2f64.powi(128));
    }

    #[test]
    fn ratios_and_roots() {
        let big = |v: i64| BigInt::from(v);
        let ubig = |v: u64| BigUint::from(v);
        assert_eq!(round_ratio(&big(1), &ubig(3), 0), 1.0 / 3.0);
        assert_eq!(round_ratio(&big(-2), &ubig(3), 0), -2.0 / 3.0);
        assert_eq!(round_ratio(&big(10), &ubig(4), 0), 2.5);
        assert_eq!(round_ratio(&big(1), &ubig(3), -1074), 0.0); // a third of 5e-324
        assert_eq!(round_ratio(&big(2), &ubig(3), -1074), 5e-324);
        assert_eq!(round_ratio(&big(1), &ubig(1), 1024), f64::INFINITY);
        assert_eq!(round_ratio(&big(7), &ubig(7 << 40), 0), 2f64.powi(-40));
        assert_eq!(round_sqrt_ratio(&ubig(2), &ubig(1), 0), 2f64.sqrt());
        assert_eq!(round_sqrt_ratio(&ubig(9), &ubig(4), 0), 1.5);
        assert_eq!(
            round_sqrt_ratio(&ubig(1), &ubig(3), 0),
            (1.0f64 / 3.0).sqrt()
        );
        assert_eq!(round_sqrt_ratio(&ubig(1), &ubig(1), -2148), 5e-324);
        assert_eq!(round_sqrt_ratio(&ubig(1), &ubig(1), 2046), 2f64.powi(1023));
        // Every double's square root is correctly rounded by the hardware: agree with it.
        for bits in (0..200u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 2) {
            let x = f64::from_bits(bits % 0x7fe0_0000_0000_0000 + 1);
            let (mant, exp, _) = num_traits::Float::integer_decode(x);
            let (m, e) = if exp % 2 == 0 {
                (mant, exp)
            } else {
                (mant * 2, exp - 1)
            };
            assert_eq!(
                round_sqrt_ratio(&ubig(m), &ubig(1), i64::from(e)),
                x.sqrt(),
                "{x:e}"
            );
            let q = x / 3.0;
            assert_eq!(
                round_ratio(&BigInt::from(mant), &ubig(3), i64::from(exp)),
                q,
                "{x:e}"
            );
        }
    }

    #[test]
    fn sticky_breaks_ties_upward() {
        let limbs = [1u32];
        assert_eq!(round_limbs(&limbs, -1075, true, false), 5e-324);
        assert_eq!(
            round_limbs(&limbs, -1075, false, true).to_bits(),
            (-0.0f64).to_bits()
        );
        let tie = [1u32, 1 << 21]; // 2^53 + 1
        assert_eq!(round_limbs(&tie, 0, true, false), 2f64.powi(53) + 2.0);
    }
}
