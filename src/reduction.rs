//! `sum` and `fsum`: whole-buffer reductions to a Python number, and axis reductions to a
//! memoryview (or into `out`).

use std::ffi::CStr;

use bufsum_core::axis::{normalize_axes, AxisSplit};
use bufsum_core::format::{Elem, Kind};
use bufsum_core::layout::StridedMut;
use bufsum_core::reduce::{self, Total};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyFloat};
use pyo3::IntoPyObjectExt;

use crate::args::{parse_axis, Threads};
use crate::detach_if_large;
use crate::result_array::ResultArray;
use crate::view::{Slot, View};

fn total_to_py(py: Python<'_>, t: Total) -> PyResult<Py<PyAny>> {
    match t {
        Total::Int(v) => v.into_py_any(py),
        Total::Float(v) => Ok(PyFloat::new(py, v).into_any().unbind()),
        Total::Complex(re, im) => Ok(PyComplex::from_doubles(py, re, im).into_any().unbind()),
    }
}

/// Which reduction a call asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Op {
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

pub fn call(
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
    let n = threads.count(whole.len() * whole.dtype().size());
    if axes.is_none() && out.is_none() && !keepdims {
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
