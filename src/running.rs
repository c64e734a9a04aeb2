//! `cumsum`: running totals written into a buffer the caller built, GIL released.

use bufsum_core::cumsum::{cumsum as core_cumsum, CumsumError};
use bufsum_core::format::{Elem, Kind};
use bufsum_core::layout::{overlap, Overlap};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::detach_if_large;
use crate::view::{Slot, View};

pub fn cumsum(
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
            "bufsum.cumsum(): out must have format '{typecode}' ({}) for this input, got format {:?}",
            if want == Elem::F64 { "float64" } else { "int64" },
            out_view.format()
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
