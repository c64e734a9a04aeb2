//! Parsing of the keyword arguments shared by the functions.

use bufsum_core::parallel::{auto_threads, MAX_THREADS};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyTuple};

/// Threads requested: `None` (automatic, by input size) or a fixed count.
#[derive(Clone, Copy, Debug)]
pub enum Threads {
    Auto,
    Fixed(usize),
}

impl Threads {
    pub fn parse(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let Some(obj) = obj.filter(|o| !o.is_none()) else {
            return Ok(Threads::Auto);
        };
        let not_int = || crate::view::wrong_type("threads", "None or an int >= 1", obj);
        if obj.is_instance_of::<PyBool>() {
            return Err(not_int());
        }
        // Anything with `__index__` (Python or NumPy integers); floats and strings are refused.
        let n = match obj.extract::<i64>() {
            Ok(n) => n,
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
                if obj.gt(0)? {
                    i64::MAX
                } else {
                    i64::MIN
                }
            }
            Err(_) => return Err(not_int()),
        };
        if n < 1 {
            return Err(PyValueError::new_err(format!(
                "threads must be None or an int >= 1, got {n}"
            )));
        }
        Ok(Threads::Fixed(
            usize::try_from(n).unwrap_or(MAX_THREADS).min(MAX_THREADS),
        ))
    }

    /// The count for an input of `bytes` bytes.
    pub fn count(self, bytes: usize) -> usize {
        match self {
            Threads::Auto => auto_threads(bytes),
            Threads::Fixed(n) => n,
        }
    }
}

/// `axis`: `None`, an int, or a tuple of ints (anything with `__index__`).
pub fn parse_axis(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let one = |o: &Bound<'_, PyAny>| -> PyResult<i64> {
        if o.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(
                "axis must be an int or a tuple of ints, not 'bool'",
            ));
        }
        o.extract::<i64>()
            .map_err(|_| crate::view::wrong_type("axis", "None, an int or a tuple of ints", o))
    };
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|o| one(&o))
            .collect::<PyResult<Vec<_>>>()
            .map(Some);
    }
    Ok(Some(vec![one(obj)?]))
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

/// `ddof`: an int `>= 0`; values beyond u64 saturate (the result is then NaN, as for any
/// `ddof >= n`).
pub fn ddof(v: i128, func: &str) -> PyResult<u64> {
    if v < 0 {
        return Err(PyValueError::new_err(format!(
            "bufsum.{func}(): ddof must be an int >= 0, got {v}"
        )));
    }
    Ok(u64::try_from(v).unwrap_or(u64::MAX))
}
