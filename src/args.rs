//! Parsing of the keyword arguments shared by the functions. Every error names the argument,
//! shows what was given (its type, or its value when the type was right) and says what is
//! accepted.

use bufsum_core::axis::AxisArgError;
use bufsum_core::parallel::auto_threads;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyTuple};

use crate::view::wrong_type;

/// An integer argument: anything with `__index__` except `bool`, as its exact Python int and
/// that value saturated to `i64` (enough to compare with any bound that fits an `i64`).
pub struct IntArg<'py> {
    pub value: i64,
    pub exact: Bound<'py, PyInt>,
}

/// Reads an integer argument named `name`; `accepted` completes "must be ..." in the error.
pub fn int_arg<'py>(obj: &Bound<'py, PyAny>, name: &str, accepted: &str) -> PyResult<IntArg<'py>> {
    if obj.is_instance_of::<PyBool>() {
        return Err(wrong_type(name, accepted, obj));
    }
    // SAFETY: attached; `obj` is a valid object. `PyNumber_Index` returns a new reference to an
    // int, or NULL with an exception set (which `from_owned_ptr_or_err` takes).
    let exact =
        unsafe { Bound::from_owned_ptr_or_err(obj.py(), pyo3::ffi::PyNumber_Index(obj.as_ptr())) }
            .map_err(|e| {
                let err = wrong_type(name, accepted, obj);
                // A type with a broken `__index__` keeps its own error as the cause.
                if !e.is_instance_of::<PyTypeError>(obj.py()) {
                    err.set_cause(obj.py(), Some(e));
                }
                err
            })?;
    let exact = exact.cast_into::<PyInt>().map_err(PyErr::from)?;
    let value = match exact.extract::<i64>() {
        Ok(v) => v,
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
            if exact.lt(0)? {
                i64::MIN
            } else {
                i64::MAX
            }
        }
        Err(e) => return Err(e),
    };
    Ok(IntArg { value, exact })
}

/// Threads requested: `None` (automatic, by input size) or a fixed count.
#[derive(Clone, Copy, Debug)]
pub enum Threads {
    Auto,
    Fixed(usize),
}

const THREADS_ACCEPTED: &str = "None or an int >= 1";

impl Threads {
    /// `threads`: `None` or an int >= 1 (anything with `__index__`; any size: counts beyond the
    /// CPUs this process may use are clamped to them).
    pub fn parse(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let Some(obj) = obj.filter(|o| !o.is_none()) else {
            return Ok(Threads::Auto);
        };
        let n = int_arg(obj, "threads", THREADS_ACCEPTED)?;
        if n.value < 1 {
            return Err(PyValueError::new_err(format!(
                "threads must be {THREADS_ACCEPTED}, got {}",
                n.exact
            )));
        }
        Ok(Threads::Fixed(
            usize::try_from(n.value).unwrap_or(usize::MAX),
        ))
    }

    /// The count for an input of `bytes` bytes (the core's `Run` clamps it to the machine).
    ///
    /// `ValueError` if `threads=None` and `BUFSUM_NUM_THREADS` is set to something invalid.
    #[inline(always)]
    pub fn count(self, bytes: usize) -> PyResult<usize> {
        match self {
            Threads::Auto => auto_threads(bytes).map_err(|e| PyValueError::new_err(e.to_string())),
            Threads::Fixed(n) => Ok(n),
        }
    }
}

/// `axis`: `None`, an int, or a tuple of ints (anything with `__index__`). The ints are
/// kept as given, for messages.
pub struct Axes<'py> {
    given: Vec<IntArg<'py>>,
}

const AXIS_ACCEPTED: &str = "None, an int or a tuple of ints";

impl<'py> Axes<'py> {
    pub fn parse(obj: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Self>> {
        let Some(obj) = obj.filter(|o| !o.is_none()) else {
            return Ok(None);
        };
        let given = match obj.cast::<PyTuple>() {
            Ok(t) => t
                .iter()
                .map(|o| int_arg(&o, "axis", AXIS_ACCEPTED))
                .collect::<PyResult<Vec<_>>>()?,
            Err(_) => vec![int_arg(obj, "axis", AXIS_ACCEPTED)?],
        };
        Ok(Some(Axes { given }))
    }

    /// The values, saturated to `i64` (for `bufsum_core::axis::normalize_axes`).
    pub fn values(&self) -> Vec<i64> {
        self.given.iter().map(|a| a.value).collect()
    }

    /// The `ValueError` for an entry the core refused, with the value as given.
    pub fn error(&self, e: AxisArgError, ndim: usize) -> PyErr {
        match e {
            AxisArgError::OutOfBounds(i) => PyValueError::new_err(format!(
                "axis {} is out of bounds for array of dimension {ndim} (accepted: \
                 -{ndim} <= axis < {ndim})",
                self.given[i].exact
            )),
            AxisArgError::Duplicate(i) => PyValueError::new_err(format!(
                "duplicate value in 'axis': {} names an axis already given",
                self.given[i].exact
            )),
        }
    }
}

/// A flag such as `keepdims`: `True` or `False` (NumPy's `bool_` too); absent is `False`.
pub fn parse_flag(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<bool> {
    obj.map_or(Ok(false), |o| {
        o.extract::<bool>()
            .map_err(|_| wrong_type(name, "a bool (True or False)", o))
    })
}

/// `nan_policy`, as in `scipy.stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NanPolicy {
    /// NaN in, NaN out (the default).
    Propagate,
    /// NaN elements are absent: skipped and not counted.
    Omit,
    /// `ValueError` if any NaN is found, before anything is written.
    Raise,
}

/// `nan_policy`: `None` or one of `'propagate'`, `'omit'`, `'raise'`.
pub fn parse_nan_policy(obj: Option<&Bound<'_, PyAny>>, func: &str) -> PyResult<NanPolicy> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(NanPolicy::Propagate);
    };
    let bad = || {
        PyValueError::new_err(format!(
            "bufsum.{func}(): nan_policy must be 'propagate', 'omit' or 'raise', got {}",
            obj.repr()
                .map_or_else(|_| "?".to_owned(), |r| r.to_string())
        ))
    };
    let Ok(s) = obj.extract::<std::borrow::Cow<'_, str>>() else {
        return Err(bad());
    };
    match &*s {
        "propagate" => Ok(NanPolicy::Propagate),
        "omit" => Ok(NanPolicy::Omit),
        "raise" => Ok(NanPolicy::Raise),
        _ => Err(bad()),
    }
}

/// `ddof` as the call gave it: absent (0), or an object to read with [`parse_ddof`]. A type of
/// its own so that an explicit `None` is an error while the default is 0.
pub enum Ddof<'py> {
    Default,
    Given(Bound<'py, PyAny>),
}

impl<'py> FromPyObject<'_, 'py> for Ddof<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        Ok(Ddof::Given(obj.to_owned()))
    }
}

/// `ddof`: an int `>= 0` (anything with `__index__`); absent is 0. Values beyond u64 saturate
/// (the result is then NaN, as for any `ddof >= n`).
pub fn parse_ddof(ddof: &Ddof<'_>, func: &str) -> PyResult<u64> {
    let Ddof::Given(obj) = ddof else {
        return Ok(0);
    };
    let v = int_arg(obj, "ddof", "an int >= 0")?;
    if v.value < 0 {
        return Err(PyValueError::new_err(format!(
            "bufsum.{func}(): ddof must be an int >= 0, got {}",
            v.exact
        )));
    }
    Ok(u64::try_from(v.value).unwrap_or(u64::MAX))
}
