//! Canonical blocks of any input as `f64` or exact `i128` values, one block at a time, for
//! reductions that walk several inputs side by side (`dot`, `fdot`). A reader dispatches on the
//! element type once, when it is made; the pair loops above it are not generic.

use crate::format::Elem;
use crate::kernels::widen_into;
use crate::layout::{Scratch, Strided, BLOCK};
use crate::scalar::{by_elem, Float, Int};

/// Blocks of one input as values of type `O`.
pub trait Blocks<O> {
    /// Canonical block `blk` (elements `blk·BLOCK ..`, at most [`BLOCK`]).
    fn block(&mut self, blk: usize) -> &[O];
}

/// How a float reader treats 64-bit integers, whose values need not be exact in an f64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ints {
    /// Rounded to the nearest f64 (for `dot`, whose float result is rounded anyway).
    Rounded,
    /// Split into two exact parts: [`f64_blocks`] then yields `v` rounded to the nearest f64
    /// (nonzero, of `v`'s sign, whenever `v` is) and [`f64_low_blocks`] the exact remainder
    /// `v - rounded` (at most 2^10 in magnitude for 64-bit integers).
    Split,
}

struct FloatReader<'a, T: Float> {
    a: &'a Strided,
    raw: Box<Scratch<T>>,
    wide: Box<Scratch<f64>>,
}

impl<T: Float> Blocks<f64> for FloatReader<'_, T> {
    fn block(&mut self, blk: usize) -> &[f64] {
        let (start, n) = span(self.a, blk);
        if let Some(all) = self.a.as_slice::<T>().and_then(T::as_f64) {
            return &all[start..start + n];
        }
        let raw = self.raw.gather_from(self.a, start, n);
        if let Some(x) = T::as_f64(raw) {
            return x;
        }
        widen_into(raw, &mut self.wide);
        self.wide.filled()
    }
}

/// Integers as f64: rounded, or the exact remainder of that rounding (see [`Ints`]).
struct IntAsFloat<'a, T: Int> {
    a: &'a Strided,
    raw: Box<Scratch<T>>,
    wide: Box<Scratch<f64>>,
    part: Part,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The nearest f64.
    Rounded,
    /// The exact remainder after rounding.
    Low,
}

impl<T: Int> Blocks<f64> for IntAsFloat<'_, T> {
    fn block(&mut self, blk: usize) -> &[f64] {
        let (start, n) = span(self.a, blk);
        let raw = self.raw.gather_from(self.a, start, n);
        let part = self.part;
        #[allow(clippy::cast_precision_loss)] // rounded on purpose; the remainder is exact
        self.wide.fill(raw.iter().map(|&x| {
            let v = x.to_i128();
            let rounded = v as f64;
            match part {
                Part::Rounded => rounded,
                // |v - rounded| <= 2^10 for |v| < 2^64: an exact small integer.
                Part::Low => (v - rounded as i128) as f64,
            }
        }));
        self.wide.filled()
    }
}

struct IntReader<'a, T: Int> {
    a: &'a Strided,
    raw: Box<Scratch<T>>,
    wide: Box<Scratch<i128>>,
}

impl<T: Int> Blocks<i128> for IntReader<'_, T> {
    fn block(&mut self, blk: usize) -> &[i128] {
        let (start, n) = span(self.a, blk);
        let raw = self.raw.gather_from(self.a, start, n);
        self.wide.fill(raw.iter().map(|&x| x.to_i128()));
        self.wide.filled()
    }
}

fn span(a: &Strided, blk: usize) -> (usize, usize) {
    let start = blk * BLOCK;
    debug_assert!(start < a.len());
    (start, BLOCK.min(a.len() - start))
}

/// Whether the element type is an integer whose values may not be exact in an f64.
#[must_use]
pub fn is_wide_int(elem: Elem) -> bool {
    matches!(elem, Elem::I64 | Elem::U64)
}

/// A reader of a real input's blocks as f64: floats widened exactly, integers rounded to the
/// nearest f64 (with [`Ints::Split`], [`f64_low_blocks`] gives the exact remainder). `None`
/// for complex inputs.
#[must_use]
pub fn f64_blocks<'a>(a: &'a Strided, ints: Ints) -> Option<Box<dyn Blocks<f64> + 'a>> {
    fn float<'a, T: Float>(a: &'a Strided, _: Ints) -> Option<Box<dyn Blocks<f64> + 'a>> {
        Some(Box::new(FloatReader::<T> {
            a,
            raw: Scratch::boxed(),
            wide: Scratch::boxed(),
        }))
    }
    fn int<'a, T: Int>(a: &'a Strided, _: Ints) -> Option<Box<dyn Blocks<f64> + 'a>> {
        // Rounded either way: with `Ints::Split` the remainder comes from `f64_low_blocks`.
        Some(Box::new(IntAsFloat::<T> {
            a,
            raw: Scratch::boxed(),
            wide: Scratch::boxed(),
            part: Part::Rounded,
        }))
    }
    by_elem!(a.dtype().elem, int: int, float: float, complex: None, (a, ints))
}

/// The exact remainders `v - rounded(v)` of a 64-bit integer input split by [`Ints::Split`];
/// `None` for any other input (whose [`f64_blocks`] are exact alone).
#[must_use]
pub fn f64_low_blocks<'a>(a: &'a Strided) -> Option<Box<dyn Blocks<f64> + 'a>> {
    fn low<'a, T: Int>(a: &'a Strided) -> Option<Box<dyn Blocks<f64> + 'a>> {
        Some(Box::new(IntAsFloat::<T> {
            a,
            raw: Scratch::boxed(),
            wide: Scratch::boxed(),
            part: Part::Low,
        }))
    }
    match a.dtype().elem {
        Elem::I64 => low::<i64>(a),
        Elem::U64 => low::<u64>(a),
        _ => None,
    }
}

/// A reader of an integer (or bool) input's blocks as exact i128; `None` otherwise.
#[must_use]
pub fn i128_blocks<'a>(a: &'a Strided) -> Option<Box<dyn Blocks<i128> + 'a>> {
    fn int<'a, T: Int>(a: &'a Strided) -> Option<Box<dyn Blocks<i128> + 'a>> {
        Some(Box::new(IntReader::<T> {
            a,
            raw: Scratch::boxed(),
            wide: Scratch::boxed(),
        }))
    }
    #[allow(clippy::extra_unused_type_parameters)] // one signature for `by_elem!`
    fn float<T: Float>(_: &Strided) -> Option<Box<dyn Blocks<i128> + '_>> {
        None
    }
    by_elem!(a.dtype().elem, int: int, float: float, complex: None, (a))
}
