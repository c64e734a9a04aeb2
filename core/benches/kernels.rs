//! Kernel-level throughput of the core, without Python: `cargo bench -p bufsum-core`.
//! Prints elements per nanosecond (best of several runs) for each kernel and layout.

use std::hint::black_box;
use std::time::Instant;

use bufsum_core::format::{Dtype, Elem};
use bufsum_core::layout::{Dims, Strided};
use bufsum_core::parallel::Run;
use bufsum_core::reduce::{exact, fsum, sum};

fn data(n: usize) -> Vec<f64> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            #[allow(clippy::cast_precision_loss)]
            let v = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            v
        })
        .collect()
}

fn view(v: &[f64], step: usize, swap: bool) -> Strided {
    let n = v.len() / step;
    let dims = Dims::new(&[n], &[(8 * step) as isize]).unwrap();
    // SAFETY: n elements `step` apart lie inside `v`, which outlives the view's use below.
    unsafe {
        Strided::new(
            v.as_ptr().cast(),
            dims,
            Dtype {
                elem: Elem::F64,
                swap,
            },
        )
    }
}

fn rate(n: usize, mut f: impl FnMut()) -> f64 {
    let reps = (20_000_000 / n).clamp(3, 10_000);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    n as f64 / best / 1e9
}

fn main() {
    println!("kernel: {}", bufsum_core::simd::isa().name());
    println!(
        "{:<28}{:>12}{:>12}{:>12}",
        "case (elements/ns)", "1e4", "1e6", "1e7"
    );
    let cases: [(&str, usize, bool); 4] = [
        ("contiguous", 1, false),
        ("byte-swapped", 1, true),
        ("stride 2", 2, false),
        ("stride 3", 3, false),
    ];
    // Ill-conditioned: exponents over ±300 and exact cancellation, so fsum's certificate refuses
    // and the exact accumulator runs.
    let mut line = format!("{:<28}", "fsum, ill-conditioned");
    for n in [10_000, 1_000_000, 10_000_000] {
        let mut v = data(n);
        for (i, x) in v.iter_mut().enumerate() {
            *x *= 10f64.powi((i % 601) as i32 - 300);
        }
        let half = n / 2;
        for i in 0..half {
            v[half + i] = -v[i];
        }
        let a = view(&v, 1, false);
        line += &format!(
            "{:>12.2}",
            rate(n, || {
                let _ = black_box(fsum(black_box(&a), &Run::serial()));
            })
        );
    }
    println!("{line}");
    for (name, step, swap) in cases {
        for (op, which) in [("sum", 0), ("fsum", 1), ("exact (Accumulator)", 2)] {
            let mut line = format!("{:<28}", format!("{op}, {name}"));
            for n in [10_000, 1_000_000, 10_000_000] {
                let mut v = data(n * step);
                if swap {
                    // The same values stored big-endian (little-endian on big-endian machines).
                    v.iter_mut()
                        .for_each(|x| *x = f64::from_bits(x.to_bits().swap_bytes()));
                }
                let a = view(&v, step, swap);
                let r = rate(n, || match which {
                    0 => {
                        let _ = black_box(sum(black_box(&a), &Run::serial()));
                    }
                    1 => {
                        let _ = black_box(fsum(black_box(&a), &Run::serial()));
                    }
                    _ => drop(black_box(exact(black_box(&a), &Run::serial()))),
                });
                line += &format!("{r:>12.2}");
            }
            println!("{line}");
        }
    }
}
