//! bufsum's core: reproducible and exact sums over any strided, byte-swapped or unaligned
//! memory, with no knowledge of Python.
//!
//! - [`format`](mod@format): the one parser of buffer format strings into a [`format::Dtype`].
//! - [`layout`]: where elements are ([`layout::Strided`], [`layout::StridedMut`]) and the one
//!   bounded gather/scatter walk.
//! - [`float`]: the canonical float64 summation order and its SIMD block kernels.
//! - [`exact`]: the exact accumulator behind `fsum` and `Accumulator`.
//! - [`certified`]: `fsum`'s fast path, a compensated sum with a rigorous certificate.
//! - [`column`](mod@column): the plain description of any input (segments, validity bitmaps) and the one
//!   place where absent values (nulls, NaNs on request) are compacted out.
//! - [`reduce`]: whole-buffer `sum`/`fsum`, dispatched once per element type.
//! - [`dot`]: `dot` and `fdot` over two inputs.
//! - [`reader`]: blocks of any input as f64 or i128, for reductions over several inputs.
//! - [`moments`]: `mean`, `var`, `std`, correctly rounded.
//! - [`axis`]: reductions along chosen axes.
//! - [`cumsum`]: running totals written into a destination buffer.
//! - [`kernels`]: the gather path's copy and byte-swap loops, per instruction set.
//! - [`simd`]: runtime choice of AVX-512 / AVX2 / portable code for whole loops.
//! - [`parallel`]: the thread pools and the tree-shaped split shared by all reductions.

pub mod axis;
pub mod certified;
pub mod column;
pub mod cumsum;
pub mod dot;
pub mod exact;
pub mod float;
pub mod format;
pub mod kernels;
pub mod layout;
pub mod moments;
pub mod parallel;
pub mod reader;
pub mod reduce;
pub mod scalar;
pub mod simd;
