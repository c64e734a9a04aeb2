//! The reductions (`sum`, `fsum`, `dot`, `fdot`, `mean`, `var`, `std`): whole-input reductions
//! to a Python number, and axis reductions to a memoryview (or into `out`). One entry point for
//! one and two inputs, with `nan_policy` applied in one place.

use bufsum_core::axis::{
    int_dot_may_overflow, int_sum_may_overflow, normalize_axes, output_bits, write_outputs,
    AxisError, AxisSplit,
};
use bufsum_core::column::{nan_count, Column};
use bufsum_core::dot;
use bufsum_core::format::{parse, Elem, Kind};
use bufsum_core::layout::{Dims, Strided, StridedMut};
use bufsum_core::moments::{self, Stat};
use bufsum_core::parallel::{Interrupted, Run};
use bufsum_core::reduce::{self, Total};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyFloat};
use pyo3::IntoPyObjectExt;
use smallvec::SmallVec;

use crate::accumulator::Accumulator;
use crate::args::{parse_flag, parse_nan_policy, Axes, NanPolicy, Threads};
use crate::detach;
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
    fn compute_columns(
        self,
        inputs: &[&Column],
        run: &Run,
        omit_nan: bool,
    ) -> Result<Total, Interrupted> {
        match (self, inputs) {
            (Op::Sum, [a]) => reduce::sum_column(a, run, omit_nan),
            (Op::Fsum, [a]) => reduce::fsum_column(a, run, omit_nan),
            (Op::Stat(w), [a]) => moments::stat_column(a, w, run, omit_nan),
            (Op::Dot, [x, y]) => dot::dot_columns(x, y, run, omit_nan),
            (Op::Fdot, [x, y]) => dot::fdot_columns(x, y, run, omit_nan),
            _ => unreachable!("arity checked by the callers"),
        }
    }

    /// Whether the reduction of nothing is 0 or +0.0 (all zero bits), which a new result array
    /// already holds (`mean`, `var`, `std` of nothing are NaN).
    fn empty_is_zero(self) -> bool {
        !matches!(self, Op::Stat(_))
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
    keepdims: Option<&Bound<'_, PyAny>>,
    nan_policy: Option<&Bound<'_, PyAny>>,
    threads: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    debug_assert!((1..=MAX_INPUTS).contains(&data.len()));
    let threads = Threads::parse(threads)?;
    let axes = Axes::parse(axis)?;
    let keepdims = parse_flag(keepdims, "keepdims")?;
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
    let out = out.filter(|o| !o.is_none());
    let bytes: usize = inputs
        .iter()
        .map(Input::nbytes)
        .fold(0, usize::saturating_add);
    let n = threads.count(bytes)?;
    let columns: SmallVec<[&Column; MAX_INPUTS]> = inputs.iter().map(Input::column).collect();
    if policy == NanPolicy::Raise {
        // Counted before anything is computed or written.
        let nans: usize =
            detach::run(py, bytes, 1, |_| columns.iter().map(|c| nan_count(c)).sum())?;
        if nans > 0 {
            return Err(PyValueError::new_err(format!(
                "bufsum.{}(): nan_policy='raise' and the data holds {nans} NaN value{}",
                op.name(),
                if nans == 1 { "" } else { "s" }
            )));
        }
    }
    let whole = |run: &Run| op.compute_columns(&columns, run, omit_nan);
    if axes.is_none() && out.is_none() && !keepdims {
        let total = detach::run(py, bytes, n, whole)?;
        // `Interrupted` comes with the exception a signal handler raised, returned above.
        return total_to_py(py, total.map_err(|Interrupted| detach::interrupted())?);
    }
    // Axis reductions (axis=None with out/keepdims reduces every axis).
    let shape = inputs[0].shape().to_vec();
    let ndim = shape.len();
    let values = axes
        .as_ref()
        .map_or_else(|| (0..ndim as i64).collect(), Axes::values);
    let reduced = normalize_axes(&values, ndim).map_err(|e| match &axes {
        Some(a) => a.error(e, ndim),
        None => PyValueError::new_err("axis out of range"),
    })?;
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
                .collect::<Result<SmallVec<[AxisSplit; MAX_INPUTS]>, _>>()
                .map_err(|e| PyValueError::new_err(format!("bufsum.{}(): {e}", op.name())))?,
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
    // Elements each entry reduces (the whole column when it is reduced whole).
    let inner = splits
        .as_ref()
        .map_or(columns[0].len(), |s| s[0].inner_len());
    let verify_first = int_out
        && match &inputs[..] {
            [a] => int_sum_may_overflow(a.dtype().elem, inner),
            [x, y] => int_dot_may_overflow(x.dtype().elem, y.dtype().elem, inner),
            _ => true,
        };
    let target = AxisTarget {
        name: op.name(),
        out_arg: op.arg("out"),
        shape: &result_shape,
        int: int_out,
    };
    target.write(py, out, bytes, n, verify_first, |run, dst, zeroed| {
        if zeroed && inner == 0 && op.empty_is_zero() {
            return Ok(()); // every entry is 0 or 0.0, which the new array already holds
        }
        let (Some(splits), Some(dense)) = (&splits, &dense) else {
            return write_outputs(1, inner, 1, run, dst, &|_, d, run| {
                d[0] = output_bits(whole(run)?)?;
                Ok::<(), AxisError>(())
            });
        };
        let one = |a: &Strided, run: &Run| {
            op.compute_columns(&[&Column::from_strided(a.clone())], run, omit_nan)
        };
        // SAFETY: each split was made from its own input's shape and strides.
        unsafe {
            match (&splits[..], &dense[..], op) {
                ([s], [w], Op::Sum) if !omit_nan => s.sum_into(w.strided, run, dst),
                ([s], [w], Op::Fsum) if !omit_nan => s.fsum_into(w.strided, run, dst),
                ([s], [w], _) => s.reduce_into(w.strided, run, dst, &one),
                ([sx, sy], [x, y], _) => {
                    sx.reduce_pairs_into(sy, x.strided, y.strided, run, dst, &|a, b, run| {
                        let (a, b) = (
                            Column::from_strided(a.clone()),
                            Column::from_strided(b.clone()),
                        );
                        op.compute_columns(&[&a, &b], run, omit_nan)
                    })
                }
                _ => unreachable!("one split per input"),
            }
        }
    })
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
    let threads = Threads::Auto.count(nbytes)?;
    match how {
        BytesOp::Reduce(op) => {
            let column = Column::from_strided(elems);
            let total = detach::run(py, nbytes, threads, |run| {
                op.compute_columns(&[&column], run, false)
            })?
            .map_err(|Interrupted| detach::interrupted())?;
            total_to_py(py, total)
        }
        BytesOp::Exact => {
            let total = detach::run(py, nbytes, threads, |run| reduce::exact(&elems, run))?
                .map_err(|Interrupted| detach::interrupted())?
                .ok_or_else(|| PyTypeError::new_err("exact partial sums need a real format"))?;
            let acc = Accumulator::from_exact(total, elems.len().into());
            Ok(Bound::new(py, acc)?.into_any().unbind())
        }
    }
}

/// Where an axis reduction's entries go: the caller's `out` (checked against the result's shape
/// and format) or a new result array, returned as a `memoryview`. The binding's half of the
/// core's axis-output writer ([`bufsum_core::axis::write_outputs`]), shared by every reduction
/// with `axis`/`out`/`keepdims`.
pub struct AxisTarget<'a> {
    /// The function, for messages (`"sum"`).
    pub name: &'a str,
    /// How errors name `out` (`"bufsum.sum() argument 'out'"`).
    pub out_arg: &'static str,
    /// The result's shape (with kept dims if asked).
    pub shape: &'a [usize],
    /// int64 entries (`'q'`) rather than float64 (`'d'`).
    pub int: bool,
}

impl AxisTarget<'_> {
    /// Validates `out` (before anything is written) or allocates the result, then runs
    /// `fill(run, destination, zeroed)` through [`detach::run`] (`zeroed`: the destination is a
    /// new array of zeros). With `verify_first`, when writing into a caller's `out`, `fill` runs
    /// first with no destination, so that an error it finds (an integer total beyond int64)
    /// leaves `out` untouched. An interrupted `fill` may have written some entries of `out`.
    pub fn write(
        &self,
        py: Python<'_>,
        out: Option<&Bound<'_, PyAny>>,
        bytes: usize,
        threads: usize,
        verify_first: bool,
        fill: impl Fn(&Run, Option<&mut StridedMut>, bool) -> Result<(), AxisError> + Send + Sync,
    ) -> PyResult<Py<PyAny>> {
        let Some(out) = out else {
            let mut arr =
                ResultArray::zeroed(self.shape, self.int, &format!("bufsum.{}()", self.name))?;
            let status =
                arr.fill(|dst| detach::run(py, bytes, threads, |run| fill(run, Some(dst), true)))?;
            self.status(status)?;
            let arr = Bound::new(py, arr)?;
            return Ok(py
                .import("builtins")?
                .getattr("memoryview")?
                .call1((arr,))?
                .unbind());
        };
        let mut slot = Slot::new();
        let view = View::new(out, true, self.out_arg, &mut slot)?;
        self.check_out(&view)?;
        let mut dst = view.strided_mut()?;
        let status = detach::run(py, bytes, threads, |run| {
            if verify_first {
                fill(run, None, false)?;
            }
            fill(run, Some(&mut dst), false)
        })?;
        drop(view);
        self.status(status)?;
        Ok(out.clone().unbind())
    }

    fn status(&self, status: Result<(), AxisError>) -> PyResult<()> {
        status.map_err(|e| match e {
            AxisError::Overflow => PyOverflowError::new_err(format!(
                "bufsum.{}(): an integer total does not fit in int64",
                self.name
            )),
            AxisError::Complex => PyTypeError::new_err(format!(
                "bufsum.{}(): axis, out and keepdims support real formats only",
                self.name
            )),
            AxisError::Interrupted => detach::interrupted(),
        })
    }

    fn check_out(&self, v: &View) -> PyResult<()> {
        let want = if self.int { Elem::I64 } else { Elem::F64 };
        if v.dtype().elem != want {
            return Err(PyTypeError::new_err(format!(
                "{} must have format {} for this input, got format {:?}",
                self.out_arg,
                if self.int {
                    "'q' (int64)"
                } else {
                    "'d' (float64)"
                },
                v.format()
            )));
        }
        if v.shape() != self.shape {
            return Err(PyValueError::new_err(format!(
                "{} has shape {:?}, the result has shape {:?}",
                self.out_arg,
                v.shape(),
                self.shape
            )));
        }
        Ok(())
    }
}
