//! The Python binding of bufsum: parse arguments, acquire and validate views, detach, call the
//! core, turn results and errors into Python objects. The arithmetic lives in `bufsum-core`;
//! the one SAFETY story for GIL-free access lives in [`view`].

mod accumulator;
mod args;
mod result_array;
mod view;

use std::ffi::CStr;

use bufsum_core::axis::{normalize_axes, AxisSplit};
use bufsum_core::cumsum::{cumsum as core_cumsum, CumsumError};
use bufsum_core::format::{Elem, Kind};
use bufsum_core::layout::{overlap, Overlap, Strided, StridedMut};
use bufsum_core::reduce::{self, Total};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyFloat};
use pyo3::IntoPyObjectExt;

use crate::args::{parse_axis, Threads};
use crate::result_array::ResultArray;
use crate::view::{Slot, View};

/// Inputs smaller than this are summed without releasing the GIL: below ~1 µs of work the
/// release and re-acquisition (two atomic handshakes, and a possible wait for the GIL) cost more
/// than they give to other threads.
const DETACH_MIN_BYTES: usize = 16 * 1024;

/// Runs `f` without the GIL when `data` is large, else directly: one closure, two ways to call.
fn detach_if_large<T: Send>(py: Python<'_>, data: &Strided, f: impl FnOnce() -> T + Send) -> T {
    if data.len().saturating_mul(data.dtype().size()) >= DETACH_MIN_BYTES {
        py.detach(f)
    } else {
        f()
    }
}

fn total_to_py(py: Python<'_>, t: Total) -> PyResult<Py<PyAny>> {
    match t {
        Total::Int(v) => v.into_py_any(py),
        Total::Float(v) => Ok(PyFloat::new(py, v).into_any().unbind()),
        Total::Complex(re, im) => Ok(PyComplex::from_doubles(py, re, im).into_any().unbind()),
    }
}

/// Which reduction a call asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Sum,
    Fsum,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Sum => "sum",
            Op::Fsum => "fsum",
        }
    }

    /// How errors name the arguments.
    fn arg(self, arg: &str) -> &'static str {
        match (self, arg) {
            (Op::Sum, "data") => "bufsum.sum() argument 'data'",
            (Op::Fsum, "data") => "bufsum.fsum() argument 'data'",
            (Op::Sum, _) => "bufsum.sum() argument 'out'",
            (Op::Fsum, _) => "bufsum.fsum() argument 'out'",
        }
    }
}

fn reduce_call(
    py: Python<'_>,
    op: Op,
    data: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let threads = Threads::parse(threads)?;
    let mut slot = Slot::new();
    let view = View::new(data, false, op.arg("data"), &mut slot)?;
    let axes = parse_axis(axis)?;
    let out = out.filter(|o| !o.is_none());
    let whole = view.strided()?;
    if axes.is_none() && out.is_none() && !keepdims {
        let n = threads.count(whole.len() * whole.dtype().size());
        let total = detach_if_large(py, &whole, || match op {
            Op::Sum => reduce::sum(&whole, n),
            Op::Fsum => reduce::fsum(&whole, n),
        });
        return total_to_py(py, total);
    }
    // Axis reductions (axis=None with out/keepdims reduces every axis).
    let ndim = view.shape().len();
    let axes = axes.unwrap_or_else(|| (0..ndim as i64).collect());
    let reduced = normalize_axes(&axes, ndim).map_err(PyValueError::new_err)?;
    let kind = view.dtype().kind();
    if kind == Kind::Complex {
        return Err(PyTypeError::new_err(format!(
            "bufsum.{}(): axis, out and keepdims support real formats only; got complex data",
            op.name()
        )));
    }
    let int_out = op == Op::Sum && kind == Kind::Int;
    let split = AxisSplit::new(view.shape(), view.strides(), &reduced)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let result_shape: Vec<usize> = if keepdims {
        view.shape()
            .iter()
            .enumerate()
            .map(|(i, &n)| if reduced[i] { 1 } else { n })
            .collect()
    } else {
        split.kept_shape.clone()
    };
    let mut out_slot = Slot::new();
    let out_view = match out {
        Some(o) => {
            let v = View::new(o, true, op.arg("out"), &mut out_slot)?;
            check_out(&v, &result_shape, int_out, op)?;
            Some(v)
        }
        None => None,
    };
    let mut dst = out_view.as_ref().map(View::strided_mut).transpose()?;
    let n = threads.count(whole.len() * whole.dtype().size());
    let values: Result<Vec<u64>, ()> = detach_if_large(py, &whole, || {
        // SAFETY: `split` was made from this view's own shape and strides.
        let totals = unsafe {
            match op {
                Op::Sum => split.sum(&whole, n),
                Op::Fsum => split.fsum(&whole, n),
            }
        };
        let bits: Result<Vec<u64>, ()> = totals
            .into_iter()
            .map(|t| match t {
                Total::Float(v) => Ok(v.to_bits()),
                Total::Int(v) => i64::try_from(v).map(|x| x as u64).map_err(|_| ()),
                Total::Complex(..) => Err(()),
            })
            .collect();
        if let (Ok(b), Some(d)) = (&bits, dst.as_mut()) {
            write_bits(d, b, int_out);
        }
        bits
    });
    let values = values.map_err(|()| {
        PyOverflowError::new_err(format!(
            "bufsum.{}(): an integer total does not fit in int64",
            op.name()
        ))
    })?;
    if let Some(o) = out {
        return Ok(o.clone().unbind());
    }
    let format: &'static CStr = if int_out { c"q" } else { c"d" };
    let arr = Bound::new(py, ResultArray::new(values, &result_shape, format))?;
    Ok(py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((arr,))?
        .unbind())
}

fn check_out(v: &View, shape: &[usize], int_out: bool, op: Op) -> PyResult<()> {
    let want = if int_out { Elem::I64 } else { Elem::F64 };
    if v.dtype().elem != want {
        return Err(PyTypeError::new_err(format!(
            "bufsum.{}(): out must have format {} for this input, got {:?}",
            op.name(),
            if int_out {
                "'q' (int64)"
            } else {
                "'d' (float64)"
            },
            v.dtype().elem
        )));
    }
    if v.shape() != shape {
        return Err(PyValueError::new_err(format!(
            "bufsum.{}(): out has shape {:?}, the result has shape {:?}",
            op.name(),
            v.shape(),
            shape
        )));
    }
    Ok(())
}

fn write_bits(dst: &mut StridedMut, bits: &[u64], int_out: bool) {
    if int_out {
        let v: Vec<i64> = bits.iter().map(|&b| b as i64).collect();
        dst.scatter(0, &v);
    } else {
        let v: Vec<f64> = bits.iter().map(|&b| f64::from_bits(b)).collect();
        dst.scatter(0, &v);
    }
}

/// Sum of a buffer's elements, with the GIL released for large inputs.
///
/// Floats give a float accumulated in float64 in one fixed order, so the bits are the same for
/// any layout, exporter, byte order, alignment, thread count or CPU. Integers and bools give an
/// exact int; complex gives a complex. With `axis`, a memoryview of per-slice sums.
#[pyfunction]
#[pyo3(signature = (data, /, *, axis=None, out=None, keepdims=false, threads=None))]
fn sum(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    reduce_call(py, Op::Sum, data, axis, out, keepdims, threads)
}

/// Correctly rounded sum of a buffer's elements (round-half-even), as math.fsum gives, and exact
/// where math.fsum raises for an intermediate overflow.
///
/// Floats and integers give a float, complex a complex (each part rounded). ±inf if the rounded
/// result overflows; NaN for any NaN or for +inf with -inf.
#[pyfunction]
#[pyo3(signature = (data, /, *, axis=None, out=None, keepdims=false, threads=None))]
fn fsum(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    reduce_call(py, Op::Fsum, data, axis, out, keepdims, threads)
}

/// Running totals of a buffer's elements, written with the GIL released.
///
/// Floats give float64 totals (out[i] = out[i-1] + data[i]), integers and bools int64 totals
/// (OverflowError, before anything is written, if one does not fit). Without `out`, returns a
/// new array.array ('d' or 'q'); otherwise writes into `out` (a writable float64/int64 buffer
/// with as many elements, any shape and strides, or `data` itself) and returns it.
#[pyfunction]
#[pyo3(signature = (data, /, *, out=None))]
fn cumsum(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let mut slot = Slot::new();
    let view = View::new(data, false, "bufsum.cumsum() argument 'data'", &mut slot)?;
    let src = view.strided()?;
    let (typecode, want) = match src.dtype().kind() {
        Kind::Float => ("d", Elem::F64),
        Kind::Int => ("q", Elem::I64),
        Kind::Complex => {
            return Err(PyTypeError::new_err("bufsum.cumsum(): complex data is not supported; accepted are real float, integer and bool formats"));
        }
    };
    let target = match out.filter(|o| !o.is_none()) {
        Some(o) => o.clone(),
        None => py.import("array")?.getattr("array")?.call1((
            typecode,
            py.import("builtins")?
                .getattr("bytes")?
                .call1((src.len() * 8,))?,
        ))?,
    };
    let mut out_slot = Slot::new();
    let out_view = View::new(
        &target,
        true,
        "bufsum.cumsum() argument 'out'",
        &mut out_slot,
    )?;
    if out_view.dtype().elem != want {
        return Err(PyTypeError::new_err(format!(
            "bufsum.cumsum(): out must have format '{typecode}' ({}) for this input, got {:?}",
            if want == Elem::F64 {
                "float64"
            } else {
                "int64"
            },
            out_view.dtype().elem
        )));
    }
    let mut dst = out_view.strided_mut()?;
    if dst.len() != src.len() {
        return Err(PyValueError::new_err(format!(
            "bufsum.cumsum(): out has {} elements, data has {}",
            dst.len(),
            src.len()
        )));
    }
    if overlap(&src, dst.as_strided()) == Overlap::Partial {
        return Err(PyValueError::new_err(
            "bufsum.cumsum(): out partly overlaps data; pass data itself (in place) or separate memory",
        ));
    }
    detach_if_large(py, &src, || core_cumsum(&src, &mut dst)).map_err(|e| match e {
        CumsumError::Overflow => {
            PyOverflowError::new_err("bufsum.cumsum(): a running total does not fit in int64")
        }
        CumsumError::Mismatch => PyValueError::new_err("bufsum.cumsum(): out does not match data"),
    })?;
    drop(out_view);
    Ok(target.unbind())
}

/// Which block kernel this CPU runs for float sums (e.g. "avx512", "avx2", "portable").
#[pyfunction]
fn _kernel() -> &'static str {
    bufsum_core::simd::isa().name()
}

/// Sum any buffer-protocol object in Rust with the GIL released: reproducible float sums,
/// exact integer sums, correctly rounded fsum, running totals written into your buffers, and an
/// exact mergeable Accumulator.
#[pymodule(gil_used = false)]
fn _bufsum(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sum, m)?)?;
    m.add_function(wrap_pyfunction!(fsum, m)?)?;
    m.add_function(wrap_pyfunction!(cumsum, m)?)?;
    m.add_function(wrap_pyfunction!(_kernel, m)?)?;
    m.add_function(wrap_pyfunction!(accumulator::_restore_accumulator, m)?)?;
    m.add_class::<accumulator::Accumulator>()?;
    m.add_class::<ResultArray>()?;
    m.add("_BLOCK", bufsum_core::layout::BLOCK)?;
    Ok(())
}
