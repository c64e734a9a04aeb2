//! Which instruction set this CPU offers, detected once, for the loops that have variants
//! compiled per instruction set. Results never depend on the choice: copies and swaps are exact,
//! float kernels fix their own order, and Rust never contracts `a * b + c` into a fused
//! multiply-add.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        let f16c = std::arch::is_x86_feature_detected!("f16c");
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx2")
            && f16c
        {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && f16c {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}
