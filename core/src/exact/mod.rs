//! Exact accumulation: every finite f64, every product of two f64 and every integer is an
//! integer multiple of `2^-2176`, so an exact total is an integer in those units.
//!
//! [`ExactSum`] holds such a total exactly, whatever was added: the fixed-point part in
//! [`digits::Digits`] (4224 bits, enough for any single term, deferred carries), the part beyond
//! `2^2048` as an unbounded integer, and the IEEE special values as flags. [`Adder`] is the fast
//! way to add many floats. [`round::round_limbs`] turns exact values into correctly rounded
//! floats, once, at the end.
//!
//! # Bounds of every integer on the exact path
//!
//! | integer | width | bound and why it holds |
//! |---|---|---|
//! | extraction sums (f64, per run of 2048) | exact | at most `2^53` units of their step (`2^(E-42)`, `2^(E-84)`): 2048 parts of at most `2^42` units each ([`adder`] docs) |
//! | exponent bin | i64 | `<= 2^62 + 2^53 < 2^63`: flushed as soon as it leaves `-2^62 ..= 2^62 - 1` (adds `< 2^53`) |
//! | digit | i64 | `< 2^33 + 2^30 · 2^32 < 2^63`: carries propagated every `2^30` adds of `< 2^32` |
//! | top digit (normalized) | i64 | `< 2^32`; the rest leaves as a carry into `beyond` |
//! | `beyond` | `BigInt` | unbounded (multiples of `2^2048`, from huge totals and huge ints) |
//! | Python int added | `BigInt`/i128 | any size: low 2048 bits into the digits, the rest into `beyond` |
//! | integer buffer sums | i128 | `< 2^63 elements · 2^64 = 2^127` (see `reduce`) |
//! | element counts | `BigUint` in the binding | unbounded |

pub mod adder;
pub mod digits;
pub mod round;

use num_bigint::{BigInt, Sign};
use num_traits::{Signed, ToPrimitive, Zero};

pub use adder::Adder;
use digits::{Digits, DIGITS, UNIT_BIT};

/// An exact running total of floats, products of floats and integers, with the IEEE special
/// values tracked apart.
#[derive(Clone, Debug, Default)]
pub struct ExactSum {
    digits: Digits,
    /// Multiples of `2^(32·DIGITS - UNIT_BIT) = 2^2048` beyond the digits (usually zero: no
    /// heap).
    beyond: BigInt,
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
}

/// Value of one unit of `beyond`, as a power of two (in units of 2^0).
const BEYOND_EXP: u32 = 32 * DIGITS as u32 - UNIT_BIT;

impl ExactSum {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `mag · 2^(bit - UNIT_BIT)` with the given sign (`bit + log2(mag) < 4224`).
    #[inline]
    pub(crate) fn add_at(&mut self, bit: u32, mag: u128, negative: bool) {
        let carry = self.digits.add_at(bit, mag, negative);
        if carry != 0 {
            self.beyond += carry;
        }
    }

    /// Adds one float.
    pub fn add_f64(&mut self, x: f64) {
        let (e, m, negative) = adder::split(x);
        if e == 0x7ff {
            self.add_special(x);
        } else if m != 0 {
            self.add_at(
                (e - 1075 + i64::from(UNIT_BIT)) as u32,
                u128::from(m),
                negative,
            );
        }
    }

    /// Adds every element of `xs` (the fast route for many floats).
    pub fn add_f64s(&mut self, xs: &[f64]) {
        let mut adder = Adder::new();
        adder.add(xs, self);
        adder.finish(self);
    }

    /// Adds the exact product `x · y` (no rounding, overflow or underflow).
    pub fn add_product(&mut self, x: f64, y: f64) {
        let (ex, mx, nx) = adder::split(x);
        let (ey, my, ny) = adder::split(y);
        if ex == 0x7ff || ey == 0x7ff {
            let p = x * y; // IEEE gives the right special: NaN for inf·0 and NaN inputs
            if p.is_nan() || p.is_infinite() {
                self.add_special(p);
            }
            return;
        }
        let mag = u128::from(mx) * u128::from(my);
        if mag != 0 {
            // Weight 2^(ex-1075) · 2^(ey-1075); the lowest is 2^-2148 (bit 28).
            let bit = ex + ey - 2150 + i64::from(UNIT_BIT);
            self.add_at(bit as u32, mag, nx != ny);
        }
    }

    pub(crate) fn add_special(&mut self, x: f64) {
        if x.is_nan() {
            self.nan = true;
        } else if x > 0.0 {
            self.pos_inf = true;
        } else {
            self.neg_inf = true;
        }
    }

    /// Adds an integer exactly.
    pub fn add_i128(&mut self, v: i128) {
        self.add_at(UNIT_BIT, v.unsigned_abs(), v < 0);
    }

    /// Adds an integer of any size exactly.
    pub fn add_int(&mut self, v: &BigInt) {
        if let Some(small) = v.to_i128() {
            self.add_i128(small);
            return;
        }
        let negative = v.is_negative();
        let mag = v.magnitude();
        // The low 2048 bits fill digits UNIT_BIT/32 .. DIGITS exactly; the rest is `beyond`.
        for (i, limb) in mag
            .iter_u64_digits()
            .take(BEYOND_EXP as usize / 64)
            .enumerate()
        {
            self.add_at(UNIT_BIT + 64 * i as u32, u128::from(limb), negative);
        }
        let high = BigInt::from_biguint(
            if negative { Sign::Minus } else { Sign::Plus },
            mag >> BEYOND_EXP,
        );
        self.beyond += high;
    }

    /// Adds another total.
    pub fn merge(&mut self, other: &ExactSum) {
        let mut o = other.digits.clone();
        let carry = o.normalize();
        let own = self.digits.normalize();
        let sum = self.digits.add_digits(&o);
        let after = self.digits.normalize();
        for c in [carry, own, sum, after] {
            if c != 0 {
                self.beyond += c;
            }
        }
        if !other.beyond.is_zero() {
            self.beyond += &other.beyond;
        }
        self.nan |= other.nan;
        self.pos_inf |= other.pos_inf;
        self.neg_inf |= other.neg_inf;
    }

    /// Normalizes the digits and settles `beyond`: afterwards either `beyond` is zero and the
    /// digits hold the whole (signed) value, or `|value| >= 2^2048` with the sign of `beyond`.
    fn settle(&mut self) {
        let c = self.digits.normalize();
        if c != 0 {
            self.beyond += c;
        }
        if self.beyond.is_zero() || self.digits.is_zero_normalized() {
            return;
        }
        // A carry of ±1 against digits of the opposite sign may be a small value: fold it.
        let negative = self.digits.is_negative_normalized();
        let one = BigInt::from(1);
        if (self.beyond == one && negative) || (self.beyond == -one.clone() && !negative) {
            let c = if negative { 1 } else { -1 };
            self.digits.fold_carry(c);
            self.beyond = BigInt::zero();
            let c = self.digits.normalize();
            debug_assert_eq!(c, 0, "a folded carry fits the window");
            if c != 0 {
                self.beyond += c;
            }
        }
    }

    /// The total when special values decide it: NaN for a NaN or infinities of both signs,
    /// else `±inf` for infinities of one sign; `None` when only finite values were added.
    #[must_use]
    pub fn special(&self) -> Option<f64> {
        if self.is_nan() {
            Some(f64::NAN)
        } else if self.pos_inf {
            Some(f64::INFINITY)
        } else if self.neg_inf {
            Some(f64::NEG_INFINITY)
        } else {
            None
        }
    }

    /// Whether any NaN, or infinities of both signs, were added (the total is NaN).
    #[must_use]
    pub fn is_nan(&self) -> bool {
        self.nan || (self.pos_inf && self.neg_inf)
    }

    /// The total rounded to the nearest f64, ties to even; `±inf` if that overflows; NaN for a
    /// NaN or for `+inf` with `-inf`; an exact zero is `+0.0` (as `math.fsum` gives).
    #[must_use]
    pub fn round(&self) -> f64 {
        if self.is_nan() {
            return f64::NAN;
        }
        if self.pos_inf {
            return f64::INFINITY;
        }
        if self.neg_inf {
            return f64::NEG_INFINITY;
        }
        let mut s = self.clone();
        s.settle();
        if !s.beyond.is_zero() {
            return if s.beyond.is_positive() {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
        }
        let negative = s.digits.is_negative_normalized();
        if negative && s.digits.negate() != 0 {
            // The magnitude is exactly 2^(32·DIGITS) units (2^2048): beyond every float.
            return f64::NEG_INFINITY;
        }
        let mut buf = [0u32; DIGITS];
        let limbs = s.digits.limbs(&mut buf);
        let lsb = 32 * s.digits.lo() as i64 - i64::from(UNIT_BIT);
        round::round_limbs(limbs, lsb, false, negative)
    }

    /// The exact finite part as an integer in units of `2^-UNIT_BIT` (for exact rational
    /// arithmetic on totals), ignoring special values.
    #[must_use]
    pub fn to_bigint(&self) -> BigInt {
        let mut s = self.clone();
        s.settle();
        let mut v = s.beyond << (32 * DIGITS);
        if !s.digits.is_zero_normalized() {
            for i in (s.digits.lo()..=s.digits.hi()).rev() {
                v += BigInt::from(s.digits.digit(i)) << (32 * i);
            }
        }
        v
    }

    /// Units of [`ExactSum::to_bigint`]: its integer times `2^-UNIT_BITS`.
    pub const UNIT_BITS: u32 = UNIT_BIT;

    /// Serialises the exact state (for pickling): see [`ExactSum::from_bytes`].
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = self.clone();
        s.settle();
        let mut out = vec![
            FORMAT_VERSION,
            u8::from(s.nan) | u8::from(s.pos_inf) << 1 | u8::from(s.neg_inf) << 2,
        ];
        let (lo, n) = if s.digits.is_zero_normalized() {
            (0, 0)
        } else {
            (s.digits.lo(), s.digits.hi() - s.digits.lo() + 1)
        };
        out.extend_from_slice(&(lo as u16).to_le_bytes());
        out.extend_from_slice(&(n as u16).to_le_bytes());
        for i in lo..lo + n {
            out.extend_from_slice(&s.digits.digit(i).to_le_bytes());
        }
        out.extend_from_slice(&s.beyond.to_signed_bytes_le());
        out
    }

    /// The inverse of [`ExactSum::to_bytes`]: version 2 (this layout: version, flags, first
    /// digit u16, digit count u16, the normalized digits as i64, then `beyond` as signed
    /// little-endian bytes), and version 1 (68 digits in units of 2^-1074, written by earlier
    /// releases). `None` for bytes neither wrote.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&version, rest) = bytes.split_first()?;
        let (&flags, rest) = rest.split_first()?;
        if flags > 7 {
            return None;
        }
        let mut s = ExactSum {
            nan: flags & 1 != 0,
            pos_inf: flags & 2 != 0,
            neg_inf: flags & 4 != 0,
            ..Self::default()
        };
        match version {
            FORMAT_VERSION => {
                let lo = usize::from(u16::from_le_bytes(rest.get(..2)?.try_into().ok()?));
                let n = usize::from(u16::from_le_bytes(rest.get(2..4)?.try_into().ok()?));
                let digits: Vec<i64> = rest
                    .get(4..4 + 8 * n)?
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect();
                s.digits = Digits::from_normalized(lo, &digits)?;
                let beyond = &rest[4 + 8 * n..];
                s.beyond = BigInt::from_signed_bytes_le(beyond);
                // Only the canonical form `to_bytes` writes.
                if s.to_bytes() != bytes {
                    return None;
                }
                Some(s)
            }
            1 => {
                // 68 signed i64 digits of 32 bits from 2^-1074: interior in 0..2^32, top signed.
                if rest.len() != 8 * 68 {
                    return None;
                }
                for (i, c) in rest.chunks_exact(8).enumerate() {
                    let d = i64::from_le_bytes(c.try_into().ok()?);
                    if i < 67 && !(0..1i64 << 32).contains(&d) {
                        return None;
                    }
                    if d != 0 {
                        let shift = UNIT_BIT - 1074 + 32 * i as u32;
                        s.add_at(shift, u128::from(d.unsigned_abs()), d < 0);
                    }
                }
                s.settle();
                Some(s)
            }
            _ => None,
        }
    }
}

/// Version byte of [`ExactSum::to_bytes`].
const FORMAT_VERSION: u8 = 2;

#[cfg(test)]
pub(crate) mod tests;
