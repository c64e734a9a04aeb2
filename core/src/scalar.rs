//! Element types as Rust values: byte swapping, widening to f64, exact integer block sums.

use bytemuck::Pod;

use crate::layout::Scratch;
use half::f16;

/// A plain-old-data element that can be byte-swapped.
pub trait Scalar: Pod + Send + Sync {
    #[must_use]
    fn swap_bytes(self) -> Self;
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
        }
    )*};
}
scalar_float!(f16, f32, f64);

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
            $crate::format::Elem::C64 | $crate::format::Elem::C128 => $complex,
        }
    };
}
pub(crate) use by_elem;
