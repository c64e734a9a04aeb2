//! Exact summation: every finite f64 and every integer is a whole multiple of 2^-1074, so the
//! exact total is an integer in those units. [`ExactSum`] holds it as a fixed-point number in
//! signed 32-bit-radix digits with carries deferred (R. M. Neal's "small superaccumulator");
//! [`BinAcc`] (after his "large superaccumulator") is the fast front end that adds floats with
//! one integer add per element into a bin per sign and exponent, moved into [`ExactSum`] before
//! a bin could overflow and at the end. [`ExactSum::round`] rounds half-to-even once, at the end.

/// Digits of 32 bits: bit 0 weighs 2^-1074, the largest finite f64 ends at bit 2097, and a
/// total of up to 2^64 of them stays below bit 2162; the top digit keeps the sign.
const DIGITS: usize = 68;
/// Bit position of 2^0.
const UNIT_BIT: u32 = 1074;
/// Digit adds (each below 2^32 in magnitude) allowed before carries must be propagated.
const ADDS_BEFORE_CARRY: u32 = 1 << 30;
/// Integers added one by one must stay below 2^this, so that 2^64 of them still fit.
pub const MAX_INT_BITS: u32 = 2048;

/// An exact running total of floats and integers, with the IEEE special values tracked apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactSum {
    digits: [i64; DIGITS],
    pending: u32,
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum {
            digits: [0; DIGITS],
            pending: 0,
            nan: false,
            pos_inf: false,
            neg_inf: false,
        }
    }
}

/// Why an integer could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge;

impl ExactSum {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `mag · 2^(bit - 1074)` with the given sign; `bit + 160 <= 32·DIGITS` is the caller's
    /// promise.
    #[inline]
    fn add_at(&mut self, bit: u32, mag: u128, negative: bool) {
        if self.pending >= ADDS_BEFORE_CARRY {
            self.carry();
        }
        self.pending += 1;
        let k = (bit / 32) as usize;
        let r = bit % 32;
        let low = mag << r;
        let high = if r == 0 { 0 } else { (mag >> (128 - r)) as u64 };
        let pieces = [
            low as u32,
            (low >> 32) as u32,
            (low >> 64) as u32,
            (low >> 96) as u32,
            high as u32,
        ];
        for (i, &p) in pieces.iter().enumerate() {
            if p != 0 {
                let d = &mut self.digits[k + i];
                if negative {
                    *d -= i64::from(p);
                } else {
                    *d += i64::from(p);
                }
            }
        }
    }

    /// Adds the sum of mantissas `mag` (implicit bit included) of values with one sign and
    /// biased exponent `exp` in `1..2047` or `0` (subnormal).
    #[inline]
    fn add_bin(&mut self, negative: bool, exp: u32, mag: u64) {
        self.add_at(exp.max(1) - 1, u128::from(mag), negative);
    }

    /// Adds one float.
    pub fn add_f64(&mut self, x: f64) {
        let (idx, exp, mant) = split(x);
        if exp == 0x7ff {
            self.add_special(x);
        } else if mant != 0 {
            self.add_bin(idx & 0x800 != 0, exp, mant);
        }
    }

    fn add_special(&mut self, x: f64) {
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
        if v != 0 {
            self.add_at(UNIT_BIT, v.unsigned_abs(), v < 0);
        }
    }

    /// Adds the integer with these little-endian two's-complement bytes.
    ///
    /// # Errors
    /// [`TooLarge`] if its magnitude is `2^MAX_INT_BITS` or more (then nothing is added).
    pub fn add_int_le_bytes(&mut self, bytes: &[u8]) -> Result<(), TooLarge> {
        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
        // Magnitude as little-endian bytes.
        let mut mag: Vec<u8> = bytes.to_vec();
        if negative {
            let mut carry = true;
            for b in &mut mag {
                *b = !*b;
                if carry {
                    let (v, c) = b.overflowing_add(1);
                    *b = v;
                    carry = c;
                }
            }
        }
        while mag.last() == Some(&0) {
            mag.pop();
        }
        if mag.len() * 8 > MAX_INT_BITS as usize {
            let top = *mag.last().unwrap_or(&0);
            let bits = (mag.len() - 1) * 8 + (8 - top.leading_zeros() as usize);
            if bits > MAX_INT_BITS as usize {
                return Err(TooLarge);
            }
        }
        for (i, chunk) in mag.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            let v = u64::from_le_bytes(w);
            if v != 0 {
                self.add_at(UNIT_BIT + 64 * i as u32, u128::from(v), negative);
            }
        }
        Ok(())
    }

    /// Adds another total.
    pub fn merge(&mut self, other: &ExactSum) {
        self.carry();
        let mut o = other.clone();
        o.carry();
        for (d, e) in self.digits.iter_mut().zip(o.digits) {
            *d += e;
        }
        self.pending = 1;
        self.nan |= o.nan;
        self.pos_inf |= o.pos_inf;
        self.neg_inf |= o.neg_inf;
    }

    /// Propagates carries: afterwards every digit but the top one is in `0..2^32`.
    fn carry(&mut self) {
        normalize(&mut self.digits);
        self.pending = 0;
    }

    /// The total rounded to the nearest f64, ties to even; `±inf` if that overflows; NaN for a
    /// NaN or for `+inf` with `-inf`; an exact zero is `+0.0` (as `math.fsum` gives).
    #[must_use]
    pub fn round(&self) -> f64 {
        if self.nan || (self.pos_inf && self.neg_inf) {
            return f64::NAN;
        }
        if self.pos_inf {
            return f64::INFINITY;
        }
        if self.neg_inf {
            return f64::NEG_INFINITY;
        }
        let mut m = self.digits;
        normalize(&mut m);
        let negative = m[DIGITS - 1] < 0;
        if negative {
            for d in &mut m {
                *d = -*d;
            }
            normalize(&mut m);
        }
        let mag = round_magnitude(&m);
        if negative {
            -mag
        } else {
            mag
        }
    }

    /// Serialises the exact state (for pickling): a version byte, a flags byte, the digits.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut c = self.clone();
        c.carry();
        let mut out = Vec::with_capacity(2 + 8 * DIGITS);
        out.push(1u8);
        out.push(u8::from(c.nan) | u8::from(c.pos_inf) << 1 | u8::from(c.neg_inf) << 2);
        for d in c.digits {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out
    }

    /// The inverse of [`ExactSum::to_bytes`]; `None` for bytes it did not make.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 2 + 8 * DIGITS || bytes[0] != 1 || bytes[1] > 7 {
            return None;
        }
        let mut s = ExactSum {
            nan: bytes[1] & 1 != 0,
            pos_inf: bytes[1] & 2 != 0,
            neg_inf: bytes[1] & 4 != 0,
            ..Self::default()
        };
        for (d, chunk) in s.digits.iter_mut().zip(bytes[2..].chunks_exact(8)) {
            *d = i64::from_le_bytes(chunk.try_into().ok()?);
        }
        // Accept only the normalized form `to_bytes` writes.
        if s.digits[..DIGITS - 1]
            .iter()
            .any(|&d| !(0..1 << 32).contains(&d))
            || s.digits[DIGITS - 1].unsigned_abs() >= 1 << 40
        {
            return None;
        }
        Some(s)
    }
}

const FRAC: u64 = (1 << 52) - 1;

fn normalize(d: &mut [i64; DIGITS]) {
    let mut carry = 0i64;
    for x in d.iter_mut().take(DIGITS - 1) {
        let v = *x + carry;
        *x = v & 0xffff_ffff;
        carry = v >> 32;
    }
    d[DIGITS - 1] += carry;
}

/// Rounds a normalized non-negative digit array (units of 2^-1074) to the nearest f64.
fn round_magnitude(m: &[i64; DIGITS]) -> f64 {
    let Some(t) = m.iter().rposition(|&d| d != 0) else {
        return 0.0;
    };
    // The top 128 bits, from digit t down to t-3, and whether anything is set below them.
    let digit = |i: usize| -> u128 { u128::from(m[i] as u64) };
    let mut window: u128 = 0;
    for i in 0..4 {
        window <<= 32;
        if t >= i {
            window |= digit(t - i);
        }
    }
    let below = t >= 4 && m[..t - 3].iter().any(|&d| d != 0);
    let lz = window.leading_zeros();
    // Highest set bit, in units of 2^-1074.
    let top = 32 * t as i64 + 31 - i64::from(lz);
    if top < 53 {
        // Fewer than 54 significant bits from 2^-1074 upward: exact (subnormal or 2^-1022 range).
        #[allow(clippy::cast_precision_loss)]
        return (m[0] as u64 + ((m[1] as u64) << 32)) as f64 * f64::from_bits(1);
    }
    let w = window << lz;
    let mut mant = (w >> 75) as u64;
    let guard = (w >> 74) & 1 == 1;
    let sticky = (w & ((1u128 << 74) - 1)) != 0 || below;
    let mut top = top;
    if guard && (sticky || mant & 1 == 1) {
        mant += 1;
        if mant == 1 << 53 {
            mant = 1 << 52;
            top += 1;
        }
    }
    // value = mant · 2^(top - 52 - 1074); the leading bit weighs 2^(top - 1074).
    if top - 1074 > 1023 {
        return f64::INFINITY;
    }
    #[allow(clippy::cast_precision_loss)]
    let m = mant as f64;
    m * pow2(top - 52 - 1074)
}

/// 2^e for e in -1074..=1023, exactly.
fn pow2(e: i64) -> f64 {
    debug_assert!((-1074..=1023).contains(&e));
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    }
}

/// Interleaved tables of [`BinAcc`]: one cache line of slots per bin.
const WAYS: usize = 8;

/// Adds one slot may take: 2048 mantissas below 2^53 stay below 2^64.
const SLOT_ADDS: usize = 2048;

/// Exponent spread of a chunk above which [`BinAcc`] switches to its wide mode.
const WIDE_SPREAD: u32 = 64;

/// Bins of mantissa sums, one per sign and biased exponent: one integer add per element, in one
/// of two modes chosen per chunk from the data's exponent spread:
/// - narrow (typical data, few bins): element `i` goes to way `i % WAYS` of its bin, so
///   consecutive elements with the same exponent update different words and their
///   read-modify-writes do not wait for each other (measured 1.0 → 1.6 elements/ns for 1 → 8
///   ways); a chunk of `n` adds at most `⌈n/WAYS⌉` to a slot, and all bins are flushed into
///   [`ExactSum`] before a slot could overflow (every 8 chunks of 2048);
/// - wide (exponents all over the range, e.g. ill-conditioned sums): one way, and a per-bin
///   countdown flushes a bin only when it has taken `SLOT_ADDS` (2048) adds, so the cost of moving
///   bins into the exact total does not grow with the number of distinct exponents (Neal's
///   large superaccumulator).
///
/// Callers must [`BinAcc::flush`] at the end.
pub struct BinAcc {
    // Narrow mode: slot `WAYS·bin + way`; a bin's slots share one cache line.
    bins: Box<[u64; 4096 * WAYS]>,
    // Wide mode: one dense table (32 KiB, stays in L1) and the adds each bin may still take.
    dense: Box<[u64; 4096]>,
    room: Box<[u16; 4096]>,
    /// Exponent range of pending adds (empty when `lo > hi`).
    lo: u32,
    hi: u32,
    /// Narrow mode: most adds any slot may hold now.
    pending: usize,
    wide: bool,
}

impl Default for BinAcc {
    fn default() -> Self {
        BinAcc {
            bins: Box::new([0; 4096 * WAYS]),
            dense: Box::new([0; 4096]),
            room: Box::new([SLOT_ADDS as u16; 4096]),
            lo: 0x7ff,
            hi: 0,
            pending: 0,
            wide: false,
        }
    }
}

/// `(sign·2048 + biased exponent, biased exponent, mantissa with its implicit bit)`.
#[inline(always)]
fn split(x: f64) -> (usize, u32, u64) {
    let bits = x.to_bits();
    let idx = (bits >> 52) as usize;
    let exp = (idx & 0x7ff) as u32;
    (idx, exp, (bits & FRAC) | (u64::from(exp != 0) << 52))
}

impl BinAcc {
    /// Runs `f` with this thread's accumulator: bins are all zero after a flush, so one per
    /// thread is reused across calls (no 300 KiB allocation and clearing per call). `f` must
    /// leave it flushed.
    pub fn with_local<R>(f: impl FnOnce(&mut BinAcc) -> R) -> R {
        thread_local! {
            static BINS: std::cell::RefCell<BinAcc> = std::cell::RefCell::new(BinAcc::default());
        }
        BINS.with(|b| match b.try_borrow_mut() {
            Ok(mut bins) => f(&mut bins),
            // Re-entered on this thread (not done by bufsum itself): use a fresh one.
            Err(_) => f(&mut BinAcc::default()),
        })
    }

    /// Adds `xs` exactly (into the bins, and into `total` whenever bins must be flushed).
    pub fn add_block(&mut self, xs: &[f64], total: &mut ExactSum) {
        for chunk in xs.chunks(SLOT_ADDS) {
            if !self.wide {
                let need = chunk.len().div_ceil(WAYS);
                if self.pending + need > SLOT_ADDS {
                    self.flush(total);
                }
                self.pending += need;
            }
            let (lo, hi) = if self.wide {
                self.add_wide(chunk, total)
            } else {
                self.add_narrow(chunk)
            };
            let (lo, hi) = if hi == 0x7ff {
                self.specials(chunk, total)
            } else {
                (lo, hi)
            };
            self.lo = self.lo.min(lo);
            self.hi = self.hi.max(hi);
            // The next chunk probably looks like this one.
            let wide = lo <= hi && hi - lo > WIDE_SPREAD;
            if wide != self.wide {
                self.flush(total);
                self.wide = wide;
            }
        }
    }

    /// Narrow mode; returns the chunk's exponent range.
    fn add_narrow(&mut self, xs: &[f64]) -> (u32, u32) {
        let bins = &mut *self.bins;
        let (mut lo, mut hi) = (0x7ffu32, 0u32);
        let mut add = |x: f64, way: usize| {
            let (idx, exp, mant) = split(x);
            bins[WAYS * idx + way] += mant;
            lo = lo.min(exp);
            hi = hi.max(exp);
        };
        let mut groups = xs.chunks_exact(WAYS);
        for g in &mut groups {
            for (way, &x) in g.iter().enumerate() {
                add(x, way);
            }
        }
        for (way, &x) in groups.remainder().iter().enumerate() {
            add(x, way);
        }
        (lo, hi)
    }

    /// Wide mode; returns the chunk's exponent range.
    fn add_wide(&mut self, xs: &[f64], total: &mut ExactSum) -> (u32, u32) {
        let (mut lo, mut hi) = (0x7ffu32, 0u32);
        for &x in xs {
            let (idx, exp, mant) = split(x);
            self.dense[idx] += mant;
            self.room[idx] -= 1;
            if self.room[idx] == 0 {
                let v = std::mem::take(&mut self.dense[idx]);
                if exp != 0x7ff {
                    total.add_bin(idx & 0x800 != 0, exp, v);
                }
                self.room[idx] = SLOT_ADDS as u16;
            }
            lo = lo.min(exp);
            hi = hi.max(exp);
        }
        (lo, hi)
    }

    /// Infinities and NaNs (rare): recorded in `total`, their bins cleared; returns the chunk's
    /// finite exponent range.
    fn specials(&mut self, xs: &[f64], total: &mut ExactSum) -> (u32, u32) {
        for &x in xs.iter().filter(|x| !x.is_finite()) {
            total.add_special(x);
        }
        for idx in [0x7ff, 0xfff] {
            self.bins[WAYS * idx..WAYS * (idx + 1)].fill(0);
            self.dense[idx] = 0;
            self.room[idx] = SLOT_ADDS as u16;
        }
        let exps = || xs.iter().map(|&x| split(x).1).filter(|&e| e != 0x7ff);
        (exps().min().unwrap_or(0x7ff), exps().max().unwrap_or(0))
    }

    /// Moves every pending bin into `total` and leaves the bins zero.
    pub fn flush(&mut self, total: &mut ExactSum) {
        for exp in self.lo..=self.hi {
            for idx in [exp as usize, 0x800 | exp as usize] {
                let slots = &mut self.bins[WAYS * idx..WAYS * (idx + 1)];
                // At most `SLOT_ADDS` mantissas below 2^53 in one mode's slots: fits in u64
                // (only one mode holds anything: switching flushes).
                let v: u64 = slots.iter().sum::<u64>() + self.dense[idx];
                if v != 0 {
                    total.add_bin(idx & 0x800 != 0, exp, v);
                    slots.fill(0);
                    self.dense[idx] = 0;
                }
                self.room[idx] = SLOT_ADDS as u16;
            }
        }
        self.lo = 0x7ff;
        self.hi = 0;
        self.pending = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(xs: &[f64]) -> f64 {
        let mut t = ExactSum::new();
        let mut b = BinAcc::default();
        for c in xs.chunks(2048) {
            b.add_block(c, &mut t);
        }
        b.flush(&mut t);
        let mut one = ExactSum::new();
        for &x in xs {
            one.add_f64(x);
        }
        assert_eq!(
            one.round().to_bits(),
            t.round().to_bits(),
            "bins vs one by one"
        );
        t.round()
    }

    #[test]
    fn classic_cases() {
        assert_eq!(exact(&[]), 0.0);
        assert_eq!(exact(&[1e308, 1e308, -1e308]), 1e308);
        assert_eq!(exact(&[1.0, 1e100, 1.0, -1e100]), 2.0);
        assert_eq!(exact(&[0.1; 10]), 1.0);
        assert_eq!(exact(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(exact(&[-f64::MAX, -f64::MAX]), f64::NEG_INFINITY);
        assert!(exact(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert!(exact(&[1.0, f64::NAN]).is_nan());
        assert_eq!(exact(&[f64::INFINITY, -1e308]), f64::INFINITY);
        assert_eq!(exact(&[5e-324, 5e-324]), 1e-323);
        assert_eq!(exact(&[5e-324, -5e-324]).to_bits(), 0);
        assert_eq!(exact(&[-0.0]).to_bits(), 0);
        assert_eq!(
            exact(&[f64::MIN_POSITIVE, -5e-324]),
            f64::MIN_POSITIVE - 5e-324
        );
    }

    #[test]
    fn both_modes_and_their_switches_stay_exact() {
        let mut s = 7u64;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s
        };
        let mut xs = Vec::new();
        // Wide, then one exponent many times over (a bin's countdown runs out mid-way), then
        // wide again, then narrow, with specials inside a wide stretch.
        for _ in 0..2048 {
            xs.push(
                f64::from_bits(next() & 0x7fef_ffff_ffff_ffff)
                    * if next() & 1 == 0 { 1.0 } else { -1.0 },
            );
        }
        xs.extend(std::iter::repeat_n(1.0 + f64::EPSILON, 5000));
        for i in 0..4096 {
            xs.push(
                f64::from_bits(next() & 0x3fff_ffff_ffff_ffff) - if i % 3 == 0 { 1.5 } else { 0.0 },
            );
        }
        xs.extend((0..7000).map(|i| f64::from(i) * 0.25 - 300.0));
        let want = {
            let mut t = ExactSum::new();
            xs.iter().for_each(|&x| t.add_f64(x));
            t.round()
        };
        assert_eq!(exact(&xs).to_bits(), want.to_bits());
        let mut with_inf = xs.clone();
        with_inf[100] = f64::INFINITY;
        assert_eq!(exact(&with_inf), f64::INFINITY);
    }

    #[test]
    fn ties_round_to_even() {
        let ulp = f64::EPSILON;
        // 1 + ulp/2 is a tie between 1 (even) and 1 + ulp.
        assert_eq!(exact(&[1.0, ulp / 2.0]), 1.0);
        assert_eq!(exact(&[1.0 + ulp, ulp / 2.0]), 1.0 + 2.0 * ulp);
        // A hair above the tie rounds up.
        assert_eq!(exact(&[1.0, ulp / 2.0, 1e-300]), 1.0 + ulp);
        assert_eq!(exact(&[-1.0, -ulp / 2.0, -1e-300]), -1.0 - ulp);
        // Largest finite plus half an ulp is a tie with an odd mantissa: overflows.
        assert_eq!(exact(&[f64::MAX, 2f64.powi(970)]), f64::INFINITY);
        assert_eq!(exact(&[f64::MAX, 2f64.powi(969)]), f64::MAX);
    }

    #[test]
    fn integers_and_serialisation() {
        let mut t = ExactSum::new();
        t.add_i128(i128::from(i64::MAX));
        t.add_i128(i128::from(i64::MAX));
        t.add_f64(-0.5);
        #[allow(clippy::cast_precision_loss)]
        let want = (2 * i128::from(i64::MAX)) as f64;
        assert_eq!(t.round(), want);
        let back = ExactSum::from_bytes(&t.to_bytes()).unwrap();
        assert_eq!(back.round(), t.round());
        let mut big = ExactSum::new();
        let mut bytes = vec![0u8; 40];
        bytes[39] = 0x01; // 2^312
        big.add_int_le_bytes(&bytes).unwrap();
        assert_eq!(big.round(), 2f64.powi(312));
        let neg: Vec<u8> = (0..40).map(|i| if i == 39 { 0xff } else { 0 }).collect(); // -2^312
        big.add_int_le_bytes(&neg).unwrap();
        big.add_int_le_bytes(&neg).unwrap();
        assert_eq!(big.round(), -2f64.powi(312));
        assert_eq!(big.add_int_le_bytes(&[0xff; 300]), Ok(())); // -1
        let mut huge = vec![0u8; 300];
        huge[299] = 0x40;
        assert_eq!(big.add_int_le_bytes(&huge), Err(TooLarge));
    }

    #[test]
    fn merge_in_any_order() {
        let xs: Vec<f64> = (0..5000)
            .map(|i| f64::from(i).sin() * 10f64.powi(i % 30 - 15))
            .collect();
        let want = exact(&xs);
        let mut a = ExactSum::new();
        let mut b = ExactSum::new();
        for &x in &xs[..1234] {
            a.add_f64(x);
        }
        for &x in xs[1234..].iter().rev() {
            b.add_f64(x);
        }
        b.merge(&a);
        assert_eq!(b.round(), want);
    }
}
