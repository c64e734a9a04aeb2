//! The fixed-point part of an exact total: signed radix-2^32 digits with deferred carries
//! (R. M. Neal's "small superaccumulator"), over a window of bit positions wide enough for every
//! finite f64, every product or square of two f64, and every integer below 2^2048.
//!
//! Bit `b` weighs `2^(b - UNIT_BIT)`. The smallest weight anything can have is the product of
//! two subnormal units, `2^-2148`, at bit 28; the largest single term is a product below
//! `2^2048`, ending below bit `UNIT_BIT + 2048 = 32·DIGITS`. Whatever a total grows beyond that
//! leaves through [`Digits::normalize`] as a carry, which the caller keeps exactly (unbounded).

/// Radix-2^32 digits: `DIGITS · 32 = 4224` bits.
pub const DIGITS: usize = 132;
/// Bit position of 2^0. A multiple of 32, so integers add digit-aligned.
pub const UNIT_BIT: u32 = 2176;

/// Adds between carry propagations. Each add changes a digit by less than 2^32 in magnitude and a
/// normalized digit is below 2^33 in magnitude, so a digit stays below
/// `2^33 + 2^30 · 2^32 < 2^63` in magnitude: no i64 digit can overflow.
const ADDS_BEFORE_CARRY: u32 = 1 << 30;

/// A signed fixed-point integer in digits `lo..=hi` (all others zero).
///
/// Normalized form (after [`Digits::normalize`]): digits `lo..hi` in `0..2^32`, the top digit
/// `hi` signed with magnitude below 2^32 (it carries the sign of the whole value).
#[derive(Clone, Debug)]
pub struct Digits {
    d: [i64; DIGITS],
    /// Adds since the last normalization (at most [`ADDS_BEFORE_CARRY`]).
    pending: u32,
    /// Digit range that may be nonzero; empty when `lo > hi`.
    lo: usize,
    hi: usize,
}

impl Default for Digits {
    fn default() -> Self {
        Digits {
            d: [0; DIGITS],
            pending: 0,
            lo: DIGITS,
            hi: 0,
        }
    }
}

impl Digits {
    #[inline]
    fn widen(&mut self, lo: usize, hi: usize) {
        self.lo = self.lo.min(lo);
        self.hi = self.hi.max(hi);
    }

    /// Adds `mag · 2^bit` (in units of `2^-UNIT_BIT`) with the given sign. Returns the carry out
    /// of the top digit if carries had to be propagated first (usually 0).
    ///
    /// The caller promises `bit + 128 <= 32·DIGITS` or that `mag`'s bits above that are zero:
    /// every term in this crate is below 2^2048 in value (see the module docs).
    #[inline]
    pub fn add_at(&mut self, bit: u32, mag: u128, negative: bool) -> i64 {
        if mag == 0 {
            return 0;
        }
        let carry = if self.pending >= ADDS_BEFORE_CARRY {
            self.normalize()
        } else {
            0
        };
        self.pending += 1;
        // Bound: at most ADDS_BEFORE_CARRY adds of < 2^32 per digit since the last carry.
        debug_assert!(self.pending <= ADDS_BEFORE_CARRY);
        let k = (bit / 32) as usize;
        let r = bit % 32;
        let low = mag << r;
        let high = if r == 0 { 0 } else { (mag >> (128 - r)) as u32 };
        let pieces = [
            low as u32,
            (low >> 32) as u32,
            (low >> 64) as u32,
            (low >> 96) as u32,
            high,
        ];
        let used = pieces.iter().rposition(|&p| p != 0).unwrap_or(0);
        debug_assert!(k + used < DIGITS, "term beyond the digit window");
        // Pieces beyond the window would be a broken promise; dropping them keeps this from
        // panicking in release builds (a debug build stops above).
        let top = (k + used).min(DIGITS - 1);
        self.widen(k.min(DIGITS - 1), top);
        for (i, &p) in pieces.iter().enumerate().take(used + 1) {
            if let Some(d) = self.d.get_mut(k + i) {
                if negative {
                    *d -= i64::from(p);
                } else {
                    *d += i64::from(p);
                }
            }
        }
        carry
    }

    /// Adds another normalized digit set (digit by digit; counts as two adds: its digits are
    /// below 2^33 in magnitude).
    pub fn add_digits(&mut self, other: &Digits) -> i64 {
        debug_assert_eq!(other.pending, 0, "merge a normalized value");
        if other.lo > other.hi {
            return 0;
        }
        let carry = if self.pending + 2 > ADDS_BEFORE_CARRY {
            self.normalize()
        } else {
            0
        };
        self.pending += 2;
        self.widen(other.lo, other.hi);
        for i in other.lo..=other.hi {
            self.d[i] += other.d[i];
        }
        carry
    }

    /// Propagates carries: afterwards digits `lo..hi` are in `0..2^32` and the top digit's
    /// magnitude is below 2^32 (the range grows upward to hold carries). Returns the carry out
    /// of the last digit, in units of `2^(32·DIGITS)`, which the caller must keep.
    pub fn normalize(&mut self) -> i64 {
        self.pending = 0;
        if self.lo > self.hi {
            return 0;
        }
        let mut carry = 0i64;
        let mut i = self.lo;
        loop {
            let v = self.d[i] + carry;
            if i >= self.hi && (-(1i64 << 32)..1i64 << 32).contains(&v) {
                // The top digit keeps its sign.
                self.d[i] = v;
                self.hi = i;
                break;
            }
            self.d[i] = v & 0xffff_ffff;
            carry = v >> 32;
            if i == DIGITS - 1 {
                self.hi = i;
                // The window is full: the rest leaves as a carry (digits stay non-negative).
                self.trim();
                return carry;
            }
            i += 1;
        }
        self.trim();
        0
    }

    /// Drops zero digits at both ends of the range.
    fn trim(&mut self) {
        while self.lo <= self.hi && self.d[self.lo] == 0 {
            self.lo += 1;
        }
        while self.hi > self.lo && self.d[self.hi] == 0 {
            self.hi -= 1;
        }
        if self.lo > self.hi {
            self.lo = DIGITS;
            self.hi = 0;
        }
    }

    /// Whether a normalized value is zero.
    #[must_use]
    pub fn is_zero_normalized(&self) -> bool {
        self.lo > self.hi
    }

    /// The sign of a normalized value: the sign of its top digit.
    #[must_use]
    pub fn is_negative_normalized(&self) -> bool {
        debug_assert_eq!(self.pending, 0);
        self.lo <= self.hi && self.d[self.hi] < 0
    }

    /// Adds `c · 2^(32·DIGITS)` for `c` in `{-1, 1}` to a normalized value whose sign is
    /// opposite to `c` (a carry folded back into the window: the result's magnitude is below
    /// `2^(32·DIGITS)`, so it fits again).
    pub fn fold_carry(&mut self, c: i64) {
        debug_assert!(c == 1 || c == -1);
        debug_assert_eq!(self.pending, 0);
        self.widen(DIGITS - 1, DIGITS - 1);
        // |d| < 2^32 before, so |d + c·2^32| < 2^33: within the normalized bound.
        self.d[DIGITS - 1] += c << 32;
        self.pending = 1;
    }

    /// Negates the value (renormalized; the carry, if any, is returned).
    pub fn negate(&mut self) -> i64 {
        if self.lo > self.hi {
            return 0;
        }
        for d in &mut self.d[self.lo..=self.hi] {
            *d = -*d;
        }
        self.normalize()
    }

    /// The magnitude of a normalized non-negative value as little-endian 32-bit limbs starting
    /// at digit `lo()`, written into `out` (returns the filled part).
    pub fn limbs<'a>(&self, out: &'a mut [u32; DIGITS]) -> &'a [u32] {
        debug_assert_eq!(self.pending, 0);
        if self.lo > self.hi {
            return &out[..0];
        }
        let n = self.hi - self.lo + 1;
        for (o, &d) in out.iter_mut().zip(&self.d[self.lo..=self.hi]) {
            debug_assert!((0..1i64 << 32).contains(&d));
            *o = d as u32;
        }
        &out[..n]
    }

    /// Lowest digit of the range (meaningful when nonzero).
    #[must_use]
    pub fn lo(&self) -> usize {
        self.lo
    }

    /// Top digit of the range.
    #[must_use]
    pub fn hi(&self) -> usize {
        self.hi
    }

    /// Digit `i` (normalized values: see the type's docs).
    #[must_use]
    pub fn digit(&self, i: usize) -> i64 {
        self.d[i]
    }

    /// Builds a normalized value from digits `lo..=hi` (interior in `0..2^32`, top signed below
    /// 2^32 in magnitude); `None` if they are not in that form.
    #[must_use]
    pub fn from_normalized(lo: usize, digits: &[i64]) -> Option<Self> {
        let mut s = Digits::default();
        if digits.is_empty() {
            return Some(s);
        }
        let hi = lo.checked_add(digits.len() - 1)?;
        if hi >= DIGITS {
            return None;
        }
        let (top, inner) = digits.split_last()?;
        if inner.iter().any(|&d| !(0..1i64 << 32).contains(&d))
            || !(-(1i64 << 32)..1i64 << 32).contains(top)
        {
            return None;
        }
        s.d[lo..=hi].copy_from_slice(digits);
        s.lo = lo;
        s.hi = hi;
        s.trim();
        Some(s)
    }
}
