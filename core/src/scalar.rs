//! Element types as Rust values: byte swapping, widening to f64, exact integer block sums.

use bytemuck::Pod;

use crate::layout::Scratch;
use half::{bf16, f16};

/// A plain-old-data element that can be byte-swapped.
pub trait Scalar: Pod + Send + Sync {
    #[must_use]
    fn swap_bytes(self) -> Self;

    /// Whether the value is a NaN (never, for integers and bools).
    #[inline(always)]
    fn is_nan(self) -> bool {
        false
    }
}

macro_rules! scalar_int {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            #[inline(always)]
            fn swap_bytes(self) -> Self { <$t>::swap_bytes(self) }
        }
    )*};
}
scalar_int!(u8, i8, u16, i16, u32, i32, u64, i64);

macro_rules! scalar_float {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            #[inline(always)]
            fn swap_bytes(self) -> Self { <$t>::from_bits(self.to_bits().swap_bytes()) }
            #[inline(always)]
            fn is_nan(self) -> bool { <$t>::is_nan(self) }
        }
    )*};
}
scalar_float!(f16, bf16, f32, f64);

/// A real float element, exactly representable as f64.
pub trait Float: Scalar {
    fn to_f64(self) -> f64;

    /// The slice itself when it already is f64 (no conversion needed).
    #[inline(always)]
    fn as_f64(_: &[Self]) -> Option<&[f64]> {
        None
    }

    /// Converts a block into `out` (read it back with `out.filled()`).
    #[inline(always)]
    fn widen_into(xs: &[Self], out: &mut Scratch<f64>) {
        out.fill(xs.iter().map(|&x| x.to_f64()));
    }
}

impl Float for f16 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f16::to_f64(self)
    }

    // `half` converts whole slices with F16C where the CPU has it (one feature check per block
    // instead of one per element).
    #[inline(always)]
    fn widen_into(xs: &[Self], out: &mut Scratch<f64>) {
        use half::slice::HalfFloatSliceExt;
        out.fill_with(xs.len(), |dst| xs.convert_to_f64_slice(dst));
    }
}

impl Float for bf16 {
    // bfloat16 is the top half of a float32: a shift, exact, and vectorised by the widening loop.
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(f32::from_bits(u32::from(self.to_bits()) << 16))
    }
}

/// The f64 bits of every value of an 8-bit float with `EXP` exponent bits (bias
/// `2^(EXP-1) - 1`) and `7 - EXP` mantissa bits. `FN` formats ("finite, NaN only") have no
/// infinities and one NaN per sign, all bits set; the others are IEEE-like (top exponent: inf
/// or NaN). Every 8-bit float is exactly an f64, so a table is exact.
const fn f8_table<const EXP: u32, const FN: bool>() -> [f64; 256] {
    let mbits = 7 - EXP;
    let bias = (1i64 << (EXP - 1)) - 1;
    let top = (1u64 << EXP) - 1;
    let mut table = [0.0; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u64;
        let sign = (byte >> 7) << 63;
        let exp = (byte >> mbits) & top;
        let mant = byte & ((1 << mbits) - 1);
        let bits = if FN && exp == top && mant == (1 << mbits) - 1 {
            0x7ff8_0000_0000_0000
        } else if !FN && exp == top {
            if mant == 0 {
                0x7ff0_0000_0000_0000
            } else {
                0x7ff8_0000_0000_0000
            }
        } else if exp > 0 {
            (((exp as i64 - bias + 1023) as u64) << 52) | (mant << (52 - mbits))
        } else if mant > 0 {
            // Subnormal: mant · 2^(1 - bias - mbits), normalised at its highest bit `p`.
            let p = 63 - mant.leading_zeros() as i64;
            let e = p + 1 - bias - mbits as i64;
            (((e + 1023) as u64) << 52) | ((mant - (1 << p)) << (52 - p))
        } else {
            0
        };
        table[b] = f64::from_bits(sign | bits);
        b += 1;
    }
    table
}

macro_rules! float8 {
    ($($(#[$doc:meta])* $name:ident = $exp:literal, $fn_:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, bytemuck::Zeroable)]
        #[repr(transparent)]
        pub struct $name(pub u8);

        impl $name {
            const TABLE: [f64; 256] = f8_table::<$exp, $fn_>();
        }

        impl Scalar for $name {
            #[inline(always)]
            fn swap_bytes(self) -> Self {
                self
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                Self::TABLE[usize::from(self.0)].is_nan()
            }
        }

        impl Float for $name {
            #[inline(always)]
            fn to_f64(self) -> f64 {
                Self::TABLE[usize::from(self.0)]
            }
        }
    )*};
}

float8! {
    /// A float8 E4M3FN element (4 exponent bits, bias 7; no infinities; max 448).
    F8E4M3FN = 4, true;
    /// A float8 E5M2 element (5 exponent bits, bias 15; IEEE-like infinities and NaNs).
    F8E5M2 = 5, false;
}

impl Float for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }

    #[inline(always)]
    fn as_f64(xs: &[Self]) -> Option<&[f64]> {
        Some(xs)
    }
}

/// A `?` element: one byte, nonzero means true.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, bytemuck::Zeroable)]
#[repr(transparent)]
pub struct Bool8(pub u8);

impl Scalar for Bool8 {
    #[inline(always)]
    fn swap_bytes(self) -> Self {
        self
    }
}

/// An integer element whose blocks sum exactly.
pub trait Int: Scalar {
    /// The exact sum of at most [`crate::layout::BLOCK`] elements.
    fn block_sum(xs: &[Self]) -> i128;
    /// The value, exactly.
    fn to_i128(self) -> i128;
}

// Narrow integers: a block of 2048 values below 2^32 cannot leave i64.
macro_rules! int_narrow {
    ($($t:ty),*) => {$(
        impl Int for $t {
            #[inline]
            fn block_sum(xs: &[Self]) -> i128 {
                i128::from(xs.iter().map(|&x| i64::from(x)).sum::<i64>())
            }
            #[inline(always)]
            fn to_i128(self) -> i128 { i128::from(self) }
        }
    )*};
}
int_narrow!(u8, i8, u16, i16, u32, i32);

impl Int for Bool8 {
    #[inline]
    fn block_sum(xs: &[Self]) -> i128 {
        i128::from(xs.iter().map(|&x| u64::from(x.0 != 0)).sum::<u64>())
    }
    #[inline(always)]
    fn to_i128(self) -> i128 {
        i128::from(self.0 != 0)
    }
}

// 64-bit integers: sum the high and low 32-bit halves in separate 64-bit lanes (vectorises),
// then join them exactly in i128.
impl Int for u64 {
    #[inline]
    fn block_sum(xs: &[Self]) -> i128 {
        let (mut lo, mut hi) = (0u64, 0u64);
        for &x in xs {
            lo += x & 0xffff_ffff;
            hi += x >> 32;
        }
        (i128::from(hi) << 32) + i128::from(lo)
    }
    #[inline(always)]
    fn to_i128(self) -> i128 {
        i128::from(self)
    }
}

impl Int for i64 {
    #[inline]
    fn block_sum(xs: &[Self]) -> i128 {
        let (mut lo, mut hi) = (0u64, 0i64);
        for &x in xs {
            #[allow(clippy::cast_sign_loss)]
            let low = x as u64 & 0xffff_ffff;
            lo += low;
            hi += x >> 32;
        }
        (i128::from(hi) << 32) + i128::from(lo)
    }
    #[inline(always)]
    fn to_i128(self) -> i128 {
        i128::from(self)
    }
}

/// Calls the generic `$f::<T>` chosen by `$elem` (integer or float family), or evaluates
/// `$complex` for complex formats.
macro_rules! by_elem {
    ($elem:expr, int: $fi:ident, float: $ff:ident, complex: $complex:expr, ($($arg:expr),*)) => {
        match $elem {
            $crate::format::Elem::Bool => $fi::<$crate::scalar::Bool8>($($arg),*),
            $crate::format::Elem::I8 => $fi::<i8>($($arg),*),
            $crate::format::Elem::U8 => $fi::<u8>($($arg),*),
            $crate::format::Elem::I16 => $fi::<i16>($($arg),*),
            $crate::format::Elem::U16 => $fi::<u16>($($arg),*),
            $crate::format::Elem::I32 => $fi::<i32>($($arg),*),
            $crate::format::Elem::U32 => $fi::<u32>($($arg),*),
            $crate::format::Elem::I64 => $fi::<i64>($($arg),*),
            $crate::format::Elem::U64 => $fi::<u64>($($arg),*),
            $crate::format::Elem::F16 => $ff::<half::f16>($($arg),*),
            $crate::format::Elem::F32 => $ff::<f32>($($arg),*),
            $crate::format::Elem::F64 => $ff::<f64>($($arg),*),
            $crate::format::Elem::BF16 => $ff::<half::bf16>($($arg),*),
            $crate::format::Elem::F8E4M3FN => $ff::<$crate::scalar::F8E4M3FN>($($arg),*),
            $crate::format::Elem::F8E5M2 => $ff::<$crate::scalar::F8E5M2>($($arg),*),
            $crate::format::Elem::C64 | $crate::format::Elem::C128 => $complex,
        }
    };
}
pub(crate) use by_elem;

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of a float8 byte from its definition, in f64 arithmetic.
    fn f8_reference(b: u8, exp_bits: i32, finite_nan: bool) -> f64 {
        let mbits = 7 - exp_bits;
        let bias = (1 << (exp_bits - 1)) - 1;
        let top = (1 << exp_bits) - 1;
        let sign = if b >> 7 == 1 { -1.0 } else { 1.0 };
        let e = i32::from(b >> mbits) & top;
        let m = f64::from(i32::from(b) & ((1 << mbits) - 1));
        let scale = f64::from(1 << mbits);
        if finite_nan && e == top && m == scale - 1.0 {
            return f64::NAN;
        }
        if !finite_nan && e == top {
            return if m == 0.0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            };
        }
        if e == 0 {
            sign * m / scale * 2f64.powi(1 - bias)
        } else {
            sign * (1.0 + m / scale) * 2f64.powi(e - bias)
        }
    }

    #[test]
    fn float8_tables_match_the_definitions() {
        for b in 0..=255u8 {
            for (got, want) in [
                (F8E4M3FN(b).to_f64(), f8_reference(b, 4, true)),
                (F8E5M2(b).to_f64(), f8_reference(b, 5, false)),
            ] {
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{b:#04x}: {got} vs {want}"
                );
            }
        }
        assert_eq!(F8E4M3FN(0x7e).to_f64(), 448.0);
        assert_eq!(F8E4M3FN(0x01).to_f64(), 2f64.powi(-9));
        assert_eq!(F8E5M2(0x7b).to_f64(), 57344.0);
        assert_eq!(F8E5M2(0x7c).to_f64(), f64::INFINITY);
        assert_eq!(F8E5M2(0x01).to_f64(), 2f64.powi(-16));
        assert!(F8E4M3FN(0xff).is_nan() && F8E5M2(0x7d).is_nan());
        assert_eq!(F8E4M3FN(0x80).to_f64().to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn bfloat16_is_the_top_half_of_a_float32() {
        for x in [1.0f32, -2.5, 3.140625, f32::INFINITY, -0.0, 1e-40, 3.0e38] {
            let b = bf16::from_f32(x);
            assert_eq!(b.to_f64(), f64::from(b.to_f32()));
        }
        assert!(Float::to_f64(bf16::NAN).is_nan());
    }
}
