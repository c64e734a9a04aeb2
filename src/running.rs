//! `cumsum`: running totals written into a buffer the caller built, GIL released.

use bufsum_core::cumsum::{cumsum_column, CumsumError};
use bufsum_core::format::{Elem, Kind};
use bufsum_core::layout::{overlap, Overlap};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::detach;
use crate::input::Input;
use crate::view::{Slot, View};

pub fn cumsum(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let mut slot = Slot::new();
    let input = Input::acquire(data, "bufsum.cumsum() argument 'data'", &mut slot)?;
    let src = input.column();
    let nulls = src.null_count();
    if nulls > 0 {
        return Err(PyValueError::new_err(format!(
            "bufsum.cumsum(): data holds {nulls} null(s); running totals need every value \
             (fill or drop the nulls first)"
        )));
    }
    let (typecode, want) = match src.dtype().kind() {
        Kind::Float => ("d", Elem::F64),
        Kind::Int => ("q", Elem::I64),
        Kind::Complex => {
            return Err(PyTypeError::new_err(format!(
                "bufsum.cumsum(): complex data ({}) is not supported; accepted are real float, \
                 integer and bool formats",
                input.describe()
            )));
        }
    };
    let target = match out.filter(|o| !o.is_none()) {
        Some(o) => o.clone(),
        None => {
            // One 8-byte zero repeated: a single allocation, of `len · 8` bytes, which must be
            // addressable (NumPy's "array is too big"); Python raises MemoryError if it fails.
            if src
                .len()
                .checked_mul(8)
                .and_then(|b| isize::try_from(b).ok())
                .is_none()
            {
                return Err(PyValueError::new_err(format!(
                    "bufsum.cumsum(): the result would have {} elements of 8 bytes, more than \
                     the address space holds; pass a smaller input",
                    src.len()
                )));
            }
            let zero = py
                .import("array")?
                .getattr("array")?
                .call1((typecode, PyBytes::new(py, &[0; 8])))?;
            zero.mul(src.len())?
        }
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
    let partial = src
        .as_strided()
        .is_some_and(|s| overlap(s, dst.as_strided()) == Overlap::Partial);
    if partial {
        return Err(PyValueError::new_err(
            "bufsum.cumsum(): out partly overlaps data; pass data itself (in place) or separate memory",
        ));
    }
    // One thread: each running total needs the one before.
    detach::run(py, input.nbytes(), 1, |run| {
        cumsum_column(src, &mut dst, run)
    })?
    .map_err(|e| match e {
        CumsumError::Overflow => {
            PyOverflowError::new_err("bufsum.cumsum(): a running total does not fit in int64")
        }
        CumsumError::Mismatch => PyValueError::new_err("bufsum.cumsum(): out does not match data"),
        CumsumError::Nulls(n) => {
            PyValueError::new_err(format!("bufsum.cumsum(): data holds {n} null(s)"))
        }
        CumsumError::Overlap => PyValueError::new_err(
            "bufsum.cumsum(): out shares memory with data; pass separate memory",
        ),
        CumsumError::Interrupted => detach::interrupted(),
    })?;
    drop(out_view);
    Ok(target.unbind())
}
