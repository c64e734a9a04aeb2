//! Element loops outside the float kernels — the gather path's copies and byte swaps, integer
//! block sums, float widening — compiled for AVX-512 / AVX2 / baseline and chosen at run time
//! (baseline x86-64 has no byte shuffle, so a byte swap there is one `bswap` per element, and no
//! 256-bit integer adds).

use std::mem::MaybeUninit;

use crate::layout::Scratch;
use crate::scalar::{Float, Int, Scalar};
use crate::simd::{isa, Isa};

#[inline(always)]
unsafe fn copy_step_generic<T: Scalar, const STEP: isize>(
    p: *const u8,
    dst: &mut [MaybeUninit<T>],
) {
    let p = p.cast::<T>();
    for (k, o) in dst.iter_mut().enumerate() {
        // SAFETY: the caller's promise (see `copy_step`).
        o.write(unsafe { p.offset(k as isize * STEP).read_unaligned() });
    }
}

#[inline(always)]
fn swap_generic<T: Scalar>(xs: &mut [T]) {
    for x in xs {
        *x = x.swap_bytes();
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{copy_step_generic, swap_generic, Float, Int, MaybeUninit, Scalar, Scratch};

    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    pub fn int_sum_avx512<T: Int>(xs: &[T]) -> i128 {
        T::block_sum(xs)
    }

    #[target_feature(enable = "avx2")]
    pub fn int_sum_avx2<T: Int>(xs: &[T]) -> i128 {
        T::block_sum(xs)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx2,f16c")]
    pub fn widen_avx512<'a, T: Float>(xs: &'a [T], scratch: &'a mut Scratch<f64>) -> &'a [f64] {
        T::widen(xs, scratch)
    }

    #[target_feature(enable = "avx2,f16c")]
    pub fn widen_avx2<'a, T: Float>(xs: &'a [T], scratch: &'a mut Scratch<f64>) -> &'a [f64] {
        T::widen(xs, scratch)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    pub unsafe fn copy_step_avx512<T: Scalar, const STEP: isize>(
        p: *const u8,
        dst: &mut [MaybeUninit<T>],
    ) {
        // SAFETY: forwarded promise.
        unsafe { copy_step_generic::<T, STEP>(p, dst) }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn copy_step_avx2<T: Scalar, const STEP: isize>(
        p: *const u8,
        dst: &mut [MaybeUninit<T>],
    ) {
        // SAFETY: forwarded promise.
        unsafe { copy_step_generic::<T, STEP>(p, dst) }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    pub fn swap_avx512<T: Scalar>(xs: &mut [T]) {
        swap_generic(xs);
    }

    #[target_feature(enable = "avx2")]
    pub fn swap_avx2<T: Scalar>(xs: &mut [T]) {
        swap_generic(xs);
    }
}

/// Reads `dst.len()` elements, `STEP` elements apart, starting at `p`.
///
/// # Safety
/// Every element read (`p + k·STEP·size_of::<T>()` for `k < dst.len()`) must be readable.
pub unsafe fn copy_step<T: Scalar, const STEP: isize>(p: *const u8, dst: &mut [MaybeUninit<T>]) {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the features (`isa`); the read promise is the caller's.
        Isa::Avx512 => unsafe { x86::copy_step_avx512::<T, STEP>(p, dst) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::copy_step_avx2::<T, STEP>(p, dst) },
        // SAFETY: the caller's promise.
        _ => unsafe { copy_step_generic::<T, STEP>(p, dst) },
    }
}

/// Byte-swaps every element in place.
pub fn swap_all<T: Scalar>(xs: &mut [T]) {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the features (`isa`).
        Isa::Avx512 => unsafe { x86::swap_avx512(xs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::swap_avx2(xs) },
        _ => swap_generic(xs),
    }
}

/// The exact sum of a block of integers.
pub fn int_block_sum<T: Int>(xs: &[T]) -> i128 {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the features (`isa`).
        Isa::Avx512 => unsafe { x86::int_sum_avx512(xs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::int_sum_avx2(xs) },
        _ => T::block_sum(xs),
    }
}

/// A block of floats as f64 (the slice itself for f64).
pub fn widen<'a, T: Float>(xs: &'a [T], scratch: &'a mut Scratch<f64>) -> &'a [f64] {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the features (`isa`).
        Isa::Avx512 => unsafe { x86::widen_avx512(xs, scratch) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { x86::widen_avx2(xs, scratch) },
        _ => T::widen(xs, scratch),
    }
}
