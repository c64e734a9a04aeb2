//! The reductions (`sum`, `fsum`, `dot`, `fdot`, `mean`, `var`, `std`): whole-input reductions
//! to a Python number, and axis reductions to a memoryview (or into `out`). One entry point for
//! one and two inputs, with `nan_policy` applied in one place.

use std::ffi::CStr;

use bufsum_core::axis::{normalize_axes, AxisSplit};
use bufsum_core::column::{nan_count, Column};
use bufsum_core::dot;
use bufsum_core::format::{parse, Elem, Kind};
use bufsum_core::layout::{Dims, Strided, StridedMut};
use bufsum_core::moments::{self, Stat};
use bufsum_core::reduce::{self, Total};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyFloat};
use pyo3::IntoPyObjectExt;
use smallvec::SmallVec;

use crate::accumulator::Accumulator;
use crate::args::{parse_axis, parse_nan_policy, NanPolicy, Threads};
use crate::detach_if;
use crate::input::{Input, Source};
use crate::result_array::ResultArray;
use crate::view::{Slot, View};

fn total_to_py(py: Python<'_>, t: Total) -> PyResult<Py<PyAny>> {
    match t {
        Total::Int(v) => v.into_py_any(py),
        Total::BigInt(v) => v.into_py_any(py),
        Total::Float(v) => Ok(PyFloat::new(py, v).into_any().unbind()),
        Total::Complex(re, im) => Ok(PyComplex::from_doubles(py, re, im).into_any().unbind()),
    }
}

/// Which reduction a call asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Sum,
    Fsum,
    Dot,
    Fdot,
    /// `mean`, `var(ddof)`, `std(ddof)`.
    Stat(Stat),
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Sum => "sum",
            Op::Fsum => "fsum",
            Op::Dot => "dot",
            Op::Fdot => "fdot",
            Op::Stat(Stat::Mean) => "mean",
            Op::Stat(Stat::Var(_)) => "var",
            Op::Stat(Stat::Std(_)) => "std",
        }
    }

    /// How errors name the arguments (static: this is on every call's path).
    fn arg(self, arg: &str) -> &'static str {
        match (self, arg) {
            (Op::Sum, "data") => "bufsum.sum() argument 'data'",
            (Op::Fsum, "data") => "bufsum.fsum() argument 'data'",
            (Op::Sum, _) => "bufsum.sum() argument 'out'",
            (Op::Fsum, _) => "bufsum.fsum() argument 'out'",
            (Op::Dot, "x") => "bufsum.dot() argument 'x'",
            (Op::Dot, "y") => "bufsum.dot() argument 'y'",
            (Op::Dot, _) => "bufsum.dot() argument 'out'",
            (Op::Fdot, "x") => "bufsum.fdot() argument 'x'",
            (Op::Fdot, "y") => "bufsum.fdot() argument 'y'",
            (Op::Fdot, _) => "bufsum.fdot() argument 'out'",
            (Op::Stat(Stat::Mean), "data") => "bufsum.mean() argument 'data'",
            (Op::Stat(Stat::Mean), _) => "bufsum.mean() argument 'out'",
            (Op::Stat(Stat::Var(_)), "data") => "bufsum.var() argument 'data'",
            (Op::Stat(Stat::Var(_)), _) => "bufsum.var() argument 'out'",
            (Op::Stat(Stat::Std(_)), "data") => "bufsum.std() argument 'data'",
            (Op::Stat(Stat::Std(_)), _) => "bufsum.std() argument 'out'",
        }
    }

    /// Whether integer inputs give integer results (else floats).
    fn exact_ints(self) -> bool {
        matches!(self, Op::Sum | Op::Dot)
    }

    /// The reduction of whole inputs given as columns: absent values (Arrow nulls, and NaNs
    /// with `omit_nan`) are skipped and not counted.
    fn compute_columns(self, inputs: &[&Column], threads: usize, omit_nan: bool) -> Total {
        match (self, inputs) {
            (Op::Sum, [a]) => reduce::sum_column(a, threads, omit_nan),
            (Op::Fsum, [a]) => reduce::fsum_column(a, threads, omit_nan),
            (Op::Stat(w), [a]) => moments::stat_column(a, w, threads, omit_nan),
            (Op::Dot, [x, y]) => dot::dot_columns(x, y, threads, omit_nan),
            (Op::Fdot, [x, y]) => dot::fdot_columns(x, y, threads, omit_nan),
            _ => unreachable!("arity checked by the callers"),
        }
    }
}

/// Most inputs a reduction takes.
const MAX_INPUTS: usize = 2;

#[allow(clippy::too_many_arguments)]
pub fn call(
    py: Python<'_>,
    op: Op,
    data: &[&Bound<'_, PyAny>],
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    debug_assert!((1..=MAX_INPUTS).contains(&data.len()));
    let threads = Threads::parse(threads)?;
    let policy: NanPolicy = parse_nan_policy(nan_policy, op.name())?;
    let omit_nan = policy == NanPolicy::Omit;
    let mut slots = [Slot::new(), Slot::new()];
    let names = ["x", "y"];
    let mut inputs: SmallVec<[Input<'_>; MAX_INPUTS]> = SmallVec::new();
    for (i, (obj, slot)) in data.iter().zip(slots.iter_mut()).enumerate() {
        let name = if data.len() == 1 { "data" } else { names[i] };
        inputs.push(Input::acquire(obj, op.arg(name), slot)?);
    }
    if let [x, y] = &inputs[..] {
        if x.shape() != y.shape() {
            return Err(PyValueError::new_err(format!(
                "bufsum.{}(): x and y must have the same shape, got {:?} and {:?}",
                op.name(),
                x.shape(),
                y.shape()
            )));
        }
    }
    if let Op::Stat(Stat::Var(_) | Stat::Std(_)) = op {
        if let Some(c) = inputs.iter().find(|i| i.dtype().kind() == Kind::Complex) {
            return Err(PyTypeError::new_err(format!(
                "bufsum.{}(): complex data is not supported ({}); accepted are real float, \
                 integer and bool formats",
                op.name(),
                c.describe()
            )));
        }
    }
    let axes = parse_axis(axis)?;
    let out = out.filter(|o| !o.is_none());
    let bytes: usize = inputs
        .iter()
        .map(Input::nbytes)
        .fold(0, usize::saturating_add);
    let n = threads.count(bytes);
    let columns: SmallVec<[&Column; MAX_INPUTS]> = inputs.iter().map(Input::column).collect();
    if policy == NanPolicy::Raise {
        // Counted before anything is computed or written.
        let nans: usize = detach_if(py, bytes, || columns.iter().map(|c| nan_count(c)).sum());
        if nans > 0 {
            return Err(PyValueError::new_err(format!(
                "bufsum.{}(): nan_policy='raise' and the data holds {nans} NaN value{}",
                op.name(),
                if nans == 1 { "" } else { "s" }
            )));
        }
    }
    let whole = || op.compute_columns(&columns, n, omit_nan);
    if axes.is_none() && out.is_none() && !keepdims {
        let total = detach_if(py, bytes, whole);
        return total_to_py(py, total);
    }
    // Axis reductions (axis=None with out/keepdims reduces every axis).
    let shape = inputs[0].shape().to_vec();
    let ndim = shape.len();
    let axes = axes.unwrap_or_else(|| (0..ndim as i64).collect());
    let reduced = normalize_axes(&axes, ndim).map_err(PyValueError::new_err)?;
    if let Some(c) = inputs.iter().find(|i| i.dtype().kind() == Kind::Complex) {
        return Err(PyTypeError::new_err(format!(
            "bufsum.{}(): axis, out and keepdims support real formats only; got complex data ({})",
            op.name(),
            c.describe()
        )));
    }
    if inputs.iter().any(|i| i.source() == Source::Arrow) && !reduced[0] {
        return Err(PyValueError::new_err(format!(
            "bufsum.{}(): Arrow inputs are one-dimensional; axis may be None, 0 or -1",
            op.name()
        )));
    }
    let int_out = op.exact_ints() && inputs.iter().all(|i| i.dtype().kind() == Kind::Int);
    // Dense inputs reduce slice by slice; an Arrow column with nulls or several chunks is
    // one-dimensional and reduced whole (checked above), giving one entry.
    let dense: Option<SmallVec<[_; MAX_INPUTS]>> = inputs.iter().map(Input::dense).collect();
    let splits = match &dense {
        Some(d) => Some(
            d.iter()
                .map(|d| AxisSplit::new(d.shape, d.strides, &reduced))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| PyValueError::new_err(e.to_string()))?,
        ),
        None => None,
    };
    let result_shape: Vec<usize> = shape
        .iter()
        .enumerate()
        .filter_map(|(i, &n)| match (reduced[i], keepdims) {
            (false, _) => Some(n),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
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
    let values: Result<Vec<u64>, ()> = detach_if(py, bytes, || {
        let totals = match (&splits, &dense) {
            // SAFETY: each split was made from its own input's shape and strides.
            (Some(splits), Some(dense)) => unsafe {
                let one = |a: &Strided, t: usize| {
                    op.compute_columns(&[&Column::from_strided(a.clone())], t, omit_nan)
                };
                match (&splits[..], &dense[..]) {
                    ([s], [w]) => match op {
                        _ if omit_nan => s.map_each(w.strided, n, &one),
                        Op::Sum => s.sum(w.strided, n),
                        Op::Fsum => s.fsum(w.strided, n),
                        _ => s.map_each(w.strided, n, &one),
                    },
                    ([sx, sy], [x, y]) => sx.map_pairs(sy, x.strided, y.strided, n, &|a, b, t| {
                        let (a, b) = (
                            Column::from_strided(a.clone()),
                            Column::from_strided(b.clone()),
                        );
                        op.compute_columns(&[&a, &b], t, omit_nan)
                    }),
                    _ => unreachable!("one split per input"),
                }
            },
            _ => vec![whole()],
        };
        let bits: Result<Vec<u64>, ()> = totals
            .into_iter()
            .map(|t| match t {
                Total::Float(v) => Ok(v.to_bits()),
                Total::Int(v) => i64::try_from(v).map(|x| x as u64).map_err(|_| ()),
                Total::BigInt(v) => i64::try_from(&v).map(|x| x as u64).map_err(|_| ()),
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

/// What [`reduce_bytes`] returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BytesOp {
    Reduce(Op),
    /// An `Accumulator` holding the exact total (for chunked exact sums).
    Exact,
}

/// Reduces the elements of `format` (`itemsize` bytes each) that lie in the contiguous bytes
/// of `data` from byte `offset`, laid out by `shape` and non-negative byte `strides`: what the
/// command line needs to sum a `.npy` or raw file through `mmap` in any byte order, float16,
/// complex or Fortran order (which `memoryview.cast` cannot describe), with the bits `sum`
/// gives for the same array. Refused unless every element lies inside `data`.
#[allow(clippy::too_many_arguments)]
pub fn reduce_bytes(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    offset: usize,
    format: &str,
    itemsize: usize,
    shape: &[usize],
    strides: &[usize],
    how: BytesOp,
) -> PyResult<Py<PyAny>> {
    let mut slot = Slot::new();
    let view = View::new(data, false, "data", &mut slot)?;
    let bytes = view.strided()?;
    if bytes.dtype().size() != 1 || !bytes.dims().is_contiguous(1) {
        return Err(PyTypeError::new_err(
            "data must be a contiguous buffer of bytes",
        ));
    }
    let dtype = parse(format, itemsize).map_err(|e| PyTypeError::new_err(e.to_string()))?;
    if shape.len() != strides.len() {
        return Err(PyValueError::new_err("shape and strides differ in length"));
    }
    // One past the last byte read, checked so that no element lies outside `data`.
    let end = if shape.contains(&0) {
        Some(offset)
    } else {
        offset.checked_add(itemsize).and_then(|first| {
            shape.iter().zip(strides).try_fold(first, |end, (&n, &s)| {
                end.checked_add((n - 1).checked_mul(s)?)
            })
        })
    };
    if end.is_none_or(|end| end > bytes.len()) {
        return Err(PyValueError::new_err(format!(
            "elements of shape {shape:?} at offset {offset} do not fit in {} bytes",
            bytes.len()
        )));
    }
    // Each stride of an axis longer than 1 is at most `end`, so it fits in `isize`; axes of
    // length 1 are dropped by `Dims::new` whatever their stride.
    let strides: Vec<isize> = strides.iter().map(|&s| s as isize).collect();
    let dims = Dims::new(shape, &strides).map_err(|e| PyValueError::new_err(e.to_string()))?;
    // SAFETY: every element lies inside the held view of `data` (checked just above: `end`
    // bounds the highest byte read, strides are non-negative), and the view outlives every use.
    let elems = unsafe { Strided::new(bytes.as_ptr().add(offset), dims, dtype) };
    let nbytes = elems.len().saturating_mul(dtype.size());
    let threads = Threads::Auto.count(nbytes);
    match how {
        BytesOp::Reduce(op) => {
            let column = Column::from_strided(elems);
            let total = detach_if(py, nbytes, || {
                op.compute_columns(&[&column], threads, false)
            });
            total_to_py(py, total)
        }
        BytesOp::Exact => {
            let total = detach_if(py, nbytes, || reduce::exact(&elems, threads))
                .ok_or_else(|| PyTypeError::new_err("exact partial sums need a real format"))?;
            let acc = Accumulator::from_exact(total, elems.len().into());
            Ok(Bound::new(py, acc)?.into_any().unbind())
        }
    }
}

fn check_out(v: &View, shape: &[usize], int_out: bool, op: Op) -> PyResult<()> {
    let want = if int_out { Elem::I64 } else { Elem::F64 };
    if v.dtype().elem != want {
        return Err(PyTypeError::new_err(format!(
            "bufsum.{}(): out must have format {} for this input, got format {:?}",
            op.name(),
            if int_out {
                "'q' (int64)"
            } else {
                "'d' (float64)"
            },
            v.format()
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
