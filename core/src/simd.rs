//! Which instruction set this CPU offers, detected once, for the loops that have variants
//! compiled per instruction set. Results never depend on the choice: copies and swaps are exact,
//! float kernels fix their own order, and Rust never contracts `a * b + c` into a fused
//! multiply-add.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Portable = 1,
    Avx2 = 2,
    Avx512 = 3,
}

/// The best instruction set this CPU offers (detected once).
#[must_use]
pub fn isa() -> Isa {
    static ISA: AtomicU8 = AtomicU8::new(0);
    match ISA.load(Ordering::Relaxed) {
        1 => Isa::Portable,
        2 => Isa::Avx2,
        3 => Isa::Avx512,
        _ => {
            let best = detect();
            ISA.store(best as u8, Ordering::Relaxed);
            best
        }
    }
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        // F16C for half-precision conversion, FMA for the error-free products of `fdot`.
        let f16c_fma = std::arch::is_x86_feature_detected!("f16c")
            && std::arch::is_x86_feature_detected!("fma");
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx2")
            && f16c_fma
        {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && f16c_fma {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

impl Isa {
    /// Short name, as `bufsum._kernel()` reports it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

/// Every instruction set this CPU runs, best first (for tests that compare the variants).
#[must_use]
pub fn available() -> Vec<Isa> {
    [Isa::Avx512, Isa::Avx2, Isa::Portable]
        .into_iter()
        .filter(|&i| i <= isa())
        .collect()
}

/// The one dispatch: `multiversion! { pub fn name / name_on(args) -> ret = body_fn; }` defines
/// `name`, which runs `body_fn` (an `#[inline(always)]` function) compiled for the best
/// instruction set of this CPU, and `name_on`, which runs the variant for a given [`Isa`]
/// (clamped to what the CPU has). `unsafe fn` forwards the body's safety contract.
/// `= body_fn, portable other_fn;` gives the portable variant a body of its own.
macro_rules! multiversion {
    // Safe functions, optionally generic over types (`<T: Bound>`).
    ($(#[$m:meta])* $vis:vis fn $name:ident $(<$($g:ident: $b:path),+>)? / $on:ident ($($a:ident: $t:ty),* $(,)?) -> $ret:ty = $imp:path;) => {
        $crate::simd::multiversion! {
            $(#[$m])* $vis fn $name $(<$($g: $b),+>)? / $on ($($a: $t),*) -> $ret = $imp, portable $imp;
        }
    };
    // Safe functions with a body of their own for the portable path (e.g. without fused
    // multiply-adds, which baseline x86-64 has only in software).
    ($(#[$m:meta])* $vis:vis fn $name:ident $(<$($g:ident: $b:path),+>)? / $on:ident ($($a:ident: $t:ty),* $(,)?) -> $ret:ty = $imp:path, portable $pimp:path;) => {
        $(#[$m])*
        #[inline]
        $vis fn $name $(<$($g: $b),+>)? ($($a: $t),*) -> $ret {
            $on($crate::simd::isa(), $($a),*)
        }

        /// The same, compiled for `isa` (or the best this CPU has, if lower).
        $vis fn $on $(<$($g: $b),+>)? (isa: $crate::simd::Isa, $($a: $t),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx2,f16c,fma")]
            fn v512 $(<$($g: $b),+>)? ($($a: $t),*) -> $ret {
                $imp($($a),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,f16c,fma")]
            fn v2 $(<$($g: $b),+>)? ($($a: $t),*) -> $ret {
                $imp($($a),*)
            }
            match isa.min($crate::simd::isa()) {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: this CPU has AVX-512F/BW, AVX2, F16C and FMA (checked by `isa()`).
                $crate::simd::Isa::Avx512 => unsafe { v512($($a),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: this CPU has AVX2, F16C and FMA (checked by `isa()`).
                $crate::simd::Isa::Avx2 => unsafe { v2($($a),*) },
                _ => $pimp($($a),*),
            }
        }
    };
    // Unsafe functions: the body's safety contract is forwarded.
    ($(#[$m:meta])* $vis:vis unsafe fn $name:ident $(<$($g:ident: $b:path),+>)? / $on:ident ($($a:ident: $t:ty),* $(,)?) -> $ret:ty = $imp:path;) => {
        $(#[$m])*
        #[inline]
        $vis unsafe fn $name $(<$($g: $b),+>)? ($($a: $t),*) -> $ret {
            // SAFETY: the caller's promise, forwarded.
            unsafe { $on($crate::simd::isa(), $($a),*) }
        }

        /// The same, compiled for `isa` (or the best this CPU has, if lower).
        ///
        /// # Safety
        /// As for the function without `_on`.
        $vis unsafe fn $on $(<$($g: $b),+>)? (isa: $crate::simd::Isa, $($a: $t),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx2,f16c,fma")]
            unsafe fn v512 $(<$($g: $b),+>)? ($($a: $t),*) -> $ret {
                // SAFETY: the caller's promise, forwarded.
                unsafe { $imp($($a),*) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,f16c,fma")]
            unsafe fn v2 $(<$($g: $b),+>)? ($($a: $t),*) -> $ret {
                // SAFETY: the caller's promise, forwarded.
                unsafe { $imp($($a),*) }
            }
            match isa.min($crate::simd::isa()) {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: this CPU has the features (`isa()`); the rest is the caller's promise.
                $crate::simd::Isa::Avx512 => unsafe { v512($($a),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above.
                $crate::simd::Isa::Avx2 => unsafe { v2($($a),*) },
                // SAFETY: the caller's promise.
                _ => unsafe { $imp($($a),*) },
            }
        }
    };
}
pub(crate) use multiversion;
