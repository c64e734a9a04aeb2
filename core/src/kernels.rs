//! Element loops outside the float kernels — the gather path's strided copies and byte swaps,
//! integer block sums, float widening — each compiled per instruction set by `multiversion!`
//! (baseline x86-64 has no byte shuffle, so a byte swap there is one `bswap` per element, and no
//! 256-bit integer adds).

use std::mem::MaybeUninit;

use crate::layout::Scratch;
use crate::scalar::{Float, Int, Scalar};
use crate::simd::multiversion;

/// Reads `dst.len()` elements `STEP` elements apart from `p`; a compile-time step lets LLVM load
/// whole vectors and shuffle.
///
/// # Safety
/// Every element read (`p + k·STEP·size_of::<T>()`, `k < dst.len()`) must be readable.
#[inline(always)]
unsafe fn copy_step<T: Scalar, const STEP: isize>(p: *const u8, dst: &mut [MaybeUninit<T>]) {
    let p = p.cast::<T>();
    for (k, o) in dst.iter_mut().enumerate() {
        // SAFETY: the caller's promise.
        o.write(unsafe { p.offset(k as isize * STEP).read_unaligned() });
    }
}

macro_rules! copy_steps {
    ($($name:ident / $on:ident / $inner:ident = $step:literal),*) => {$(
        #[inline(always)]
        unsafe fn $inner<T: Scalar>(p: *const u8, dst: &mut [MaybeUninit<T>]) {
            // SAFETY: forwarded promise.
            unsafe { copy_step::<T, $step>(p, dst) }
        }
        multiversion! {
            #[doc = concat!("Reads `dst.len()` elements ", stringify!($step), " elements apart from `p`.")]
            ///
            /// # Safety
            /// Every element read must be readable memory.
            pub unsafe fn $name<T: Scalar> / $on(p: *const u8, dst: &mut [MaybeUninit<T>]) -> () = $inner;
        }
    )*};
}

copy_steps!(
    copy_step2 / copy_step2_on / copy2 = 2,
    copy_step3 / copy_step3_on / copy3 = 3,
    copy_step4 / copy_step4_on / copy4 = 4,
    copy_back / copy_back_on / copy_m1 = -1
);

#[inline(always)]
fn swap_each<T: Scalar>(xs: &mut [T]) {
    for x in xs {
        *x = x.swap_bytes();
    }
}

multiversion! {
    /// Byte-swaps every element in place.
    pub fn swap_all<T: Scalar> / swap_all_on(xs: &mut [T]) -> () = swap_each;
}

#[inline(always)]
fn int_sum<T: Int>(xs: &[T]) -> i128 {
    T::block_sum(xs)
}

multiversion! {
    /// The exact sum of a block of integers.
    pub fn int_block_sum<T: Int> / int_block_sum_on(xs: &[T]) -> i128 = int_sum;
}

#[inline(always)]
fn widen_each<T: Float>(xs: &[T], out: &mut Scratch<f64>) {
    T::widen_into(xs, out);
}

multiversion! {
    /// Converts a block of floats to f64 into `out` (read it with `out.filled()`).
    pub fn widen_into<T: Float> / widen_into_on(xs: &[T], out: &mut Scratch<f64>) -> () = widen_each;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::available;

    #[test]
    fn every_instruction_set_agrees() {
        let ints: Vec<i64> = (0..2048)
            .map(|i: i64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64))
            .collect();
        let want: i128 = ints.iter().map(|&x| i128::from(x)).sum();
        let floats: Vec<f32> = (0..2048u16).map(|i| f32::from(i) * 0.37 - 100.0).collect();
        for isa in available() {
            assert_eq!(int_block_sum_on(isa, &ints), want, "{isa:?}");
            let mut swapped = ints.clone();
            swap_all_on(isa, &mut swapped);
            swap_all_on(isa, &mut swapped);
            assert_eq!(swapped, ints, "{isa:?}");
            let mut wide = Scratch::new();
            widen_into_on(isa, &floats, &mut wide);
            assert!(
                wide.filled()
                    .iter()
                    .zip(&floats)
                    .all(|(&w, &f)| w == f64::from(f)),
                "{isa:?}"
            );
            let mut out = [MaybeUninit::<i64>::uninit(); 100];
            // SAFETY: 100 elements two apart lie inside `ints`.
            unsafe { copy_step2_on(isa, ints.as_ptr().cast(), &mut out) };
            // SAFETY: every slot was written.
            let got: Vec<i64> = out.iter().map(|o| unsafe { o.assume_init() }).collect();
            assert_eq!(
                got,
                ints.iter()
                    .step_by(2)
                    .take(100)
                    .copied()
                    .collect::<Vec<_>>(),
                "{isa:?}"
            );
        }
    }
}
