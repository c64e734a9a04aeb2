//! The Python binding of bufsum: parse arguments, acquire and validate views, detach, call the
//! core, turn results and errors into Python objects. The arithmetic lives in `bufsum-core`.
//! Reading arguments come through [`input`], which tries the buffer protocol ([`view`]), Arrow
//! ([`arrow`]) and DLPack ([`dlpack`]) in that order; each of those modules holds the SAFETY
//! story for GIL-free access through its protocol; releasing the GIL and letting Ctrl-C in is
//! [`detach`]'s.

mod accumulator;
mod args;
mod arrow;
mod detach;
mod dlpack;
mod input;
mod reduction;
mod result_array;
mod running;
mod view;

use bufsum_core::layout::BLOCK;
use bufsum_core::moments::Stat;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::reduction::Op;
use crate::result_array::ResultArray;

/// Sum of a buffer's elements, with the GIL released for large inputs.
///
/// Floats give a float accumulated in float64 in one fixed order, so the bits are the same for
/// any layout, exporter, byte order, alignment, thread count or CPU. Integers and bools give an
/// exact int; complex gives a complex. With `axis`, a memoryview of per-slice sums.
#[pyfunction]
#[pyo3(
    signature = (data, /, *, axis=None, out=None, keepdims=None, nan_policy=None, threads=None),
    text_signature = "(data, /, *, axis=None, out=None, keepdims=False, nan_policy=None, threads=None)"
)]
fn sum(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: Option<&Bound<'_, PyAny>>,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    reduction::call(
        py,
        Op::Sum,
        &[data],
        axis,
        out,
        keepdims,
        nan_policy,
        threads,
    )
}

/// Correctly rounded sum of a buffer's elements (round-half-even), as math.fsum gives, and exact
/// where math.fsum raises for an intermediate overflow.
///
/// Floats and integers give a float, complex a complex (each part rounded). ±inf if the rounded
/// result overflows; NaN for any NaN or for +inf with -inf.
#[pyfunction]
#[pyo3(
    signature = (data, /, *, axis=None, out=None, keepdims=None, nan_policy=None, threads=None),
    text_signature = "(data, /, *, axis=None, out=None, keepdims=False, nan_policy=None, threads=None)"
)]
fn fsum(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: Option<&Bound<'_, PyAny>>,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    reduction::call(
        py,
        Op::Fsum,
        &[data],
        axis,
        out,
        keepdims,
        nan_policy,
        threads,
    )
}

/// Dot product Σ x[i]·y[i] of two buffers of the same shape (no broadcasting, no conjugation),
/// with the GIL released for large inputs.
///
/// Integers give the exact int; otherwise a float from the rounded products summed in sum's
/// canonical order (the same bits for any layouts, exporters, byte orders, thread counts or
/// CPUs); complex gives a complex. With `axis`, a memoryview of per-slice dot products.
#[pyfunction]
#[pyo3(
    signature = (x, y, /, *, axis=None, out=None, keepdims=None, nan_policy=None, threads=None),
    text_signature = "(x, y, /, *, axis=None, out=None, keepdims=False, nan_policy=None, threads=None)"
)]
#[allow(clippy::too_many_arguments)]
fn dot(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: Option<&Bound<'_, PyAny>>,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    reduction::call(
        py,
        Op::Dot,
        &[x, y],
        axis,
        out,
        keepdims,
        nan_policy,
        threads,
    )
}

/// Correctly rounded dot product: the exact Σ x[i]·y[i] rounded once (half-even), integers of
/// any size included, with no intermediate overflow or underflow.
///
/// A float (complex for complex inputs, each part rounded). ±inf only if the rounded result
/// overflows; NaN for any NaN, inf·0, or infinite products of opposite signs.
#[pyfunction]
#[pyo3(
    signature = (x, y, /, *, axis=None, out=None, keepdims=None, nan_policy=None, threads=None),
    text_signature = "(x, y, /, *, axis=None, out=None, keepdims=False, nan_policy=None, threads=None)"
)]
#[allow(clippy::too_many_arguments)]
fn fdot(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: Option<&Bound<'_, PyAny>>,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    reduction::call(
        py,
        Op::Fdot,
        &[x, y],
        axis,
        out,
        keepdims,
        nan_policy,
        threads,
    )
}

/// Arithmetic mean, correctly rounded: the exact sum over the count (complex: each part).
///
/// NaN for no elements; `nan_policy='omit'` skips NaNs (and Arrow nulls are always skipped),
/// not counting them. With `axis`, a memoryview of per-slice means.
#[pyfunction]
#[pyo3(
    signature = (data, /, *, axis=None, out=None, keepdims=None, nan_policy=None, threads=None),
    text_signature = "(data, /, *, axis=None, out=None, keepdims=False, nan_policy=None, threads=None)"
)]
fn mean(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: Option<&Bound<'_, PyAny>>,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    reduction::call(
        py,
        Op::Stat(Stat::Mean),
        &[data],
        axis,
        out,
        keepdims,
        nan_policy,
        threads,
    )
}

/// Variance, correctly rounded: the exact Σ(x - m)² / (n - ddof) with m the exact mean, rounded
/// once. Real data only.
///
/// NaN when n - ddof <= 0; NaN for any NaN (with 'propagate') or infinity. With `axis`, a
/// memoryview of per-slice variances.
#[pyfunction]
#[pyo3(
    signature = (data, /, *, ddof=args::Ddof::Default, axis=None, out=None, keepdims=None, nan_policy=None, threads=None),
    text_signature = "(data, /, *, ddof=0, axis=None, out=None, keepdims=False, nan_policy=None, threads=None)"
)]
#[allow(clippy::too_many_arguments)]
fn var(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    ddof: args::Ddof<'_>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: Option<&Bound<'_, PyAny>>,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let ddof = args::parse_ddof(&ddof, "var")?;
    reduction::call(
        py,
        Op::Stat(Stat::Var(ddof)),
        &[data],
        axis,
        out,
        keepdims,
        nan_policy,
        threads,
    )
}

/// Standard deviation, correctly rounded: the square root of the exact variance (as `var`
/// defines it), rounded once. Real data only.
#[pyfunction(name = "std")]
#[pyo3(
    signature = (data, /, *, ddof=args::Ddof::Default, axis=None, out=None, keepdims=None, nan_policy=None, threads=None),
    text_signature = "(data, /, *, ddof=0, axis=None, out=None, keepdims=False, nan_policy=None, threads=None)"
)]
#[allow(clippy::too_many_arguments)]
fn std_(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    ddof: args::Ddof<'_>,
    axis: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    keepdims: Option<&Bound<'_, PyAny>>,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let ddof = args::parse_ddof(&ddof, "std")?;
    reduction::call(
        py,
        Op::Stat(Stat::Std(ddof)),
        &[data],
        axis,
        out,
        keepdims,
        nan_policy,
        threads,
    )
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
    running::cumsum(py, data, out)
}

/// Combines `sum` totals of consecutive chunks of `2^log2_blocks` canonical blocks each (the
/// last one may be shorter) into the bits one call over the whole buffer gives: chunk totals
/// are whole subtrees of the canonical tree. Used by the command line's progress bar.
#[pyfunction]
#[pyo3(signature = (totals, log2_blocks, last_full, /))]
fn _combine_chunk_sums(totals: Vec<f64>, log2_blocks: u32, last_full: bool) -> f64 {
    let mut tree = bufsum_core::float::Pairwise::default();
    let n = totals.len();
    for (i, t) in totals.into_iter().enumerate() {
        let full = i + 1 < n || last_full;
        tree.push_subtree(if full { log2_blocks } else { 0 }, t);
    }
    tree.finish().unwrap_or(0.0)
}

/// Test switch: with `on`, the correctly rounded functions skip their certified fast paths and
/// run the exact accumulator (results are identical either way). Returns the previous setting.
/// Process-wide; use it through `bufsum._force_exact()`.
#[pyfunction]
#[pyo3(signature = (on, /))]
fn _set_force_exact(on: bool) -> bool {
    bufsum_core::reduce::set_force_exact(on)
}

/// Sum (`how="sum"`), fsum (`"fsum"`) or an exact `Accumulator` (`"exact"`) of the elements of
/// `format` laid out in `data`'s bytes from `offset` by `shape` and non-negative byte `strides`:
/// how the command line sums `.npy` and raw files without NumPy (any byte order, float16,
/// complex, Fortran order), with the bits `sum` gives for the same array.
#[pyfunction]
#[pyo3(signature = (data, offset, format, itemsize, shape, strides, how, /))]
#[allow(clippy::too_many_arguments)]
fn _reduce_bytes(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    offset: usize,
    format: &str,
    itemsize: usize,
    shape: Vec<usize>,
    strides: Vec<usize>,
    how: &str,
) -> PyResult<Py<PyAny>> {
    let how = match how {
        "sum" => reduction::BytesOp::Reduce(Op::Sum),
        "fsum" => reduction::BytesOp::Reduce(Op::Fsum),
        "exact" => reduction::BytesOp::Exact,
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "how must be 'sum', 'fsum' or 'exact'",
            ))
        }
    };
    reduction::reduce_bytes(py, data, offset, format, itemsize, &shape, &strides, how)
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
    m.add_function(wrap_pyfunction!(dot, m)?)?;
    m.add_function(wrap_pyfunction!(fdot, m)?)?;
    m.add_function(wrap_pyfunction!(mean, m)?)?;
    m.add_function(wrap_pyfunction!(var, m)?)?;
    m.add_function(wrap_pyfunction!(std_, m)?)?;
    m.add_function(wrap_pyfunction!(cumsum, m)?)?;
    m.add_function(wrap_pyfunction!(_kernel, m)?)?;
    m.add_function(wrap_pyfunction!(_set_force_exact, m)?)?;
    m.add_function(wrap_pyfunction!(_combine_chunk_sums, m)?)?;
    m.add_function(wrap_pyfunction!(_reduce_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(accumulator::_restore_accumulator, m)?)?;
    m.add_function(wrap_pyfunction!(accumulator::_stat_of_sums, m)?)?;
    m.add_function(wrap_pyfunction!(detach::_after_fork_in_child, m)?)?;
    m.add_class::<accumulator::Accumulator>()?;
    m.add_class::<ResultArray>()?;
    m.add("_BLOCK", BLOCK)?;
    let py = m.py();
    detach::init(py)?;
    // Keep the main thread right in forked children (the thread pool is reset by the core's
    // own fork handler). No `register_at_fork` where there is no fork (Windows).
    let os = py.import("os")?;
    if os.hasattr("register_at_fork")? {
        let kwargs = PyDict::new(py);
        kwargs.set_item("after_in_child", m.getattr("_after_fork_in_child")?)?;
        os.call_method("register_at_fork", (), Some(&kwargs))?;
    }
    Ok(())
}
