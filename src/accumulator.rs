//! `Accumulator`: an exact, mergeable running sum shared safely between threads.

use std::sync::{Mutex, MutexGuard, PoisonError};

use bufsum_core::exact::ExactSum;
use bufsum_core::format::Kind;
use bufsum_core::moments::{Moments, Stat};
use bufsum_core::parallel::Interrupted;
use bufsum_core::reduce;
use num_bigint::{BigInt, BigUint};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyTuple};

use crate::args::Threads;
use crate::detach;
use crate::input::Input;
use crate::view::{wrong_type, Slot};

#[derive(Clone, Default)]
struct State {
    total: ExactSum,
    /// Elements added: unbounded, like a Python int (merging a copy of itself doubles it).
    count: BigUint,
}

/// An exact running sum of floats, integers and real buffers.
///
/// The value is the correctly rounded total of everything added (as `fsum` gives), whatever the
/// order of `add` and `merge` calls. Safe to share between threads.
#[pyclass(frozen, module = "bufsum")]
pub struct Accumulator {
    // A frozen class with its own lock: racing callers wait, never see a borrow error.
    state: Mutex<State>,
}

impl Accumulator {
    /// An accumulator holding `total` over `count` elements.
    pub fn from_exact(total: ExactSum, count: BigUint) -> Self {
        Accumulator {
            state: Mutex::new(State { total, count }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> State {
        self.lock().clone()
    }
}

#[pymethods]
impl Accumulator {
    #[new]
    fn new() -> Self {
        Accumulator {
            state: Mutex::new(State::default()),
        }
    }

    /// Add a float, an int, or every element of a buffer of a real format (GIL released).
    #[pyo3(signature = (x, /))]
    fn add(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(f) = x.cast::<PyFloat>() {
            let v = f.value();
            let mut s = self.lock();
            s.total.add_f64(v);
            s.count += 1u32;
            return Ok(());
        }
        if let Ok(i) = x.cast::<PyInt>() {
            return self.add_int(i);
        }
        if !Input::offered(x) {
            return Err(wrong_type(
                "Accumulator.add() argument",
                "a float, an int, or a buffer, Arrow array or DLPack tensor of a real type",
                x,
            ));
        }
        let mut slot = Slot::new();
        let input = Input::acquire(x, "Accumulator.add() argument", &mut slot)?;
        if input.dtype().kind() == Kind::Complex {
            return Err(PyTypeError::new_err(format!(
                "Accumulator.add(): complex data ({}) is not supported; add the real and \
                 imaginary parts to two accumulators",
                input.describe()
            )));
        }
        let data = input.column();
        let threads = Threads::Auto.count(input.nbytes())?;
        // Nulls are absent: neither added nor counted. An interrupted add adds nothing.
        let (part, count) = detach::run(py, input.nbytes(), threads, |run| {
            reduce::exact_column(data, run, false)
        })?
        .map_err(|Interrupted| detach::interrupted())?
        .ok_or_else(|| PyTypeError::new_err("Accumulator.add(): unsupported format"))?;
        let mut s = self.lock();
        s.total.merge(&part);
        s.count += count;
        Ok(())
    }

    /// Add the exact dot product Σ x[i]·y[i] of two buffers of the same shape and real formats
    /// (GIL released for large inputs); `count` grows by the number of pairs.
    #[pyo3(signature = (x, y, /))]
    fn add_products(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (mut sx, mut sy) = (Slot::new(), Slot::new());
        let ix = Input::acquire(x, "Accumulator.add_products() argument 'x'", &mut sx)?;
        let iy = Input::acquire(y, "Accumulator.add_products() argument 'y'", &mut sy)?;
        if ix.shape() != iy.shape() {
            return Err(PyValueError::new_err(format!(
                "Accumulator.add_products(): x and y must have the same shape, got {:?} and {:?}",
                ix.shape(),
                iy.shape()
            )));
        }
        let (cx, cy) = (ix.column(), iy.column());
        let bytes = ix.nbytes().saturating_add(iy.nbytes());
        let threads = Threads::Auto.count(bytes)?;
        // Pairs with an Arrow null on either side are absent: neither added nor counted.
        let (part, pairs) = detach::run(py, bytes, threads, |run| {
            bufsum_core::dot::exact_dot_columns(cx, cy, run, false)
        })?
        .map_err(|Interrupted| detach::interrupted())?
        .ok_or_else(|| {
            PyTypeError::new_err(
                "Accumulator.add_products(): complex buffers are not supported; accepted are \
                 real float, integer and bool formats",
            )
        })?;
        let mut s = self.lock();
        s.total.merge(&part);
        s.count += pairs;
        Ok(())
    }

    /// Add another accumulator's exact total and count.
    #[pyo3(signature = (other, /))]
    fn merge(&self, other: &Bound<'_, Accumulator>) {
        let o = other.get().snapshot();
        let mut s = self.lock();
        s.total.merge(&o.total);
        s.count += &o.count;
    }

    /// The correctly rounded total (round-half-even; ±inf on overflow; NaN for NaN or inf-inf).
    #[getter]
    fn value(&self) -> f64 {
        self.lock().total.round()
    }

    /// Number of elements added (a float or int counts one).
    #[getter]
    fn count(&self) -> BigUint {
        self.lock().count.clone()
    }

    fn __float__(&self) -> f64 {
        self.value()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let s = self.snapshot();
        let value = PyFloat::new(py, s.total.round()).repr()?;
        Ok(format!("Accumulator(value={value}, count={})", s.count))
    }

    fn __copy__(&self) -> Self {
        Accumulator {
            state: Mutex::new(self.snapshot()),
        }
    }

    #[pyo3(signature = (_memo, /))]
    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.__copy__()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let s = slf.get().snapshot();
        let state = PyBytes::new(py, &s.total.to_bytes());
        let restore = py
            .import("bufsum._bufsum")?
            .getattr("_restore_accumulator")?;
        PyTuple::new(
            py,
            [
                restore,
                PyTuple::new(
                    py,
                    [state.into_any(), s.count.into_pyobject(py)?.into_any()],
                )?
                .into_any(),
            ],
        )
    }
}

impl Accumulator {
    /// Any Python int, exactly (the accumulator has no size limit).
    fn add_int(&self, i: &Bound<'_, PyInt>) -> PyResult<()> {
        if let Ok(v) = i.extract::<i128>() {
            let mut s = self.lock();
            s.total.add_i128(v);
            s.count += 1u32;
            return Ok(());
        }
        let v: BigInt = i.extract()?;
        let mut s = self.lock();
        s.total.add_int(&v);
        s.count += 1u32;
        Ok(())
    }
}

/// Rebuilds an `Accumulator` from `__reduce__`'s state (for pickle and copy).
#[pyfunction]
#[pyo3(signature = (state, count, /))]
pub fn _restore_accumulator(state: &[u8], count: BigUint) -> PyResult<Accumulator> {
    let total = ExactSum::from_bytes(state)
        .ok_or_else(|| PyValueError::new_err("not an Accumulator state"))?;
    Ok(Accumulator::from_exact(total, count))
}

/// The correctly rounded `mean`, `var` or `std` (`stat`) of values whose exact sum is held by
/// `total`, whose exact sum of squares is held by `squares`, and whose count is
/// `total.count` (for distributed statistics built from mergeable partial states).
#[pyfunction]
#[pyo3(signature = (total, squares, stat, ddof, /))]
pub fn _stat_of_sums(
    total: &Bound<'_, Accumulator>,
    squares: &Bound<'_, Accumulator>,
    stat: &str,
    ddof: &Bound<'_, PyAny>,
) -> PyResult<f64> {
    let t = total.get().snapshot();
    let q = squares.get().snapshot();
    let ddof = crate::args::parse_ddof(&crate::args::Ddof::Given(ddof.clone()), stat)?;
    let which = match stat {
        "mean" => Stat::Mean,
        "var" => Stat::Var(ddof),
        "std" => Stat::Std(ddof),
        _ => {
            return Err(PyValueError::new_err(format!(
                "stat must be 'mean', 'var' or 'std', got {stat:?}"
            )))
        }
    };
    let count = u64::try_from(&t.count)
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("count beyond 2**64 values"))?;
    let m = Moments {
        sum: t.total,
        sum_sq: q.total,
        count,
    };
    Ok(m.finish(which))
}
