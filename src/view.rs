//! Holding a Python buffer, and the one place that turns it into pointers for GIL-free use.
//!
//! # The safety story (reads and writes without the GIL)
//!
//! [`View::new`] calls `PyObject_GetBuffer` and keeps the filled `Py_buffer` (in a [`Slot`] on
//! the caller's stack that cannot move meanwhile) until [`View`] is dropped, which calls
//! `PyBuffer_Release`. Every path (success, error, panic unwinding) drops it, and only while
//! attached to the interpreter, because `View` is not `Send` and so cannot enter a `py.detach`
//! closure.
//!
//! **What the held view guarantees.** While an export is outstanding, the exporter must keep
//! its memory where it is: `bytearray` and `array.array` refuse to resize (`BufferError`), NumPy
//! refuses to resize or free the data, `mmap` refuses to close, and the exporting object itself
//! is kept alive by the view's reference. So the pointer, shape and strides copied out of the
//! view stay valid until the release — including while the GIL is released.
//!
//! **What this code promises.** [`View::strided`] and [`View::strided_mut`] copy pointer,
//! shape and strides out *before* the GIL is released; the detached work touches no Python
//! object; it touches exactly the elements the shape and strides name, as plain-old-data types
//! (every bit pattern is a valid value). Strided, unaligned or byte-swapped data is read with
//! `read_unaligned`; contiguous aligned data is read through a shared slice for one block at a
//! time. Writes go only to buffers acquired with `PyBUF_WRITABLE` (read-only exporters refuse),
//! through `write_unaligned`, never while a Rust reference to that memory is alive: in-place
//! `cumsum` reads a block completely before writing it.
//!
//! **What nobody can prevent.** Another thread (Python or native) may write into the same
//! memory meanwhile — through another view, or a NumPy array sharing it. That is a data race
//! the exporter's protocol cannot forbid: the numbers read or written mid-update are
//! unspecified, but no memory is freed or moved under us and every value read is a valid
//! float or integer, so the result is a wrong number, never a crash. CPython's own `hashlib`
//! releases the GIL over buffers under the same contract, as do NumPy's ufuncs.

use std::ffi::CStr;
use std::mem::MaybeUninit;

use bufsum_core::format::{parse, Dtype};
use bufsum_core::layout::{Dims, Strided, StridedMut, MAX_NDIM};
use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use smallvec::SmallVec;

use crate::input::Failure;

/// Storage for one `Py_buffer`, on the caller's stack. An exporter may rely on the address it
/// filled staying put until the release, so a [`View`] borrows its slot mutably for its whole
/// life: the slot cannot move meanwhile, and no heap allocation is made per call.
pub struct Slot(MaybeUninit<ffi::Py_buffer>);

impl Slot {
    pub fn new() -> Self {
        Slot(MaybeUninit::zeroed())
    }
}

/// An acquired buffer export, released on drop.
pub struct View<'s> {
    raw: &'s mut ffi::Py_buffer,
    // Copied out (no heap: this is the per-call path), the strides computed when not exported.
    shape: SmallVec<[usize; 8]>,
    strides: SmallVec<[isize; 8]>,
    dtype: Dtype,
    /// The argument, for errors.
    what: &'static str,
}

pub const ACCEPTED_OBJECTS: &str =
    "an object supporting the buffer protocol (bytes, bytearray, memoryview, array.array, \
     numpy.ndarray, ctypes array, mmap, ...)";

impl<'s> View<'s> {
    /// Acquires `obj`'s buffer (writable if asked), parses its format and layout.
    ///
    /// `what` names the argument in errors, e.g. `"bufsum.sum() argument 'data'"`.
    pub fn new(
        obj: &Bound<'_, PyAny>,
        writable: bool,
        what: &'static str,
        slot: &'s mut Slot,
    ) -> PyResult<View<'s>> {
        if !is_buffer(obj) {
            return Err(wrong_type(what, ACCEPTED_OBJECTS, obj));
        }
        Self::try_new(obj, writable, what, slot).map_err(Failure::into_err)
    }

    /// As [`View::new`] for an object known to export buffers, telling a refused export
    /// ([`Failure::Refused`]: another protocol may still serve) from an export whose format or
    /// layout is not supported.
    pub fn try_new(
        obj: &Bound<'_, PyAny>,
        writable: bool,
        what: &'static str,
        slot: &'s mut Slot,
    ) -> Result<View<'s>, Failure> {
        // INDIRECT asks for everything, so that exporters with suboffsets export and we can
        // refuse them by name rather than have them fail with a vaguer error.
        let flags = ffi::PyBUF_FULL_RO | if writable { ffi::PyBUF_WRITABLE } else { 0 };
        slot.0 = MaybeUninit::zeroed();
        // SAFETY: `Py_buffer` is a plain C struct (integers and raw pointers) for which all-zero
        // is a valid value.
        let raw: &'s mut ffi::Py_buffer = unsafe { slot.0.assume_init_mut() };
        // SAFETY: attached; `raw` is writable storage for one `Py_buffer`.
        if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), std::ptr::from_mut(raw), flags) } != 0 {
            let err = PyErr::fetch(obj.py());
            if writable {
                let e = PyBufferError::new_err(format!(
                    "{what} must be a writable buffer; '{}' refused a writable export: {err}",
                    type_name(obj)
                ));
                e.set_cause(obj.py(), Some(err));
                return Err(Failure::Refused(e));
            }
            if err.is_instance_of::<PyValueError>(obj.py()) {
                // E.g. NumPy datetime arrays: a type the exporter cannot describe as a buffer.
                let e = PyTypeError::new_err(format!(
                    "{what}: '{}' could not export a buffer ({err}); accepted are buffers of {}",
                    type_name(obj),
                    bufsum_core::format::ACCEPTED
                ));
                e.set_cause(obj.py(), Some(err));
                return Err(Failure::Refused(e));
            }
            return Err(Failure::Refused(err));
        }
        // From here on `raw` holds an export: build the `View` first so that every early return
        // below releases it.
        let mut view = View {
            raw,
            shape: SmallVec::new(),
            strides: SmallVec::new(),
            dtype: Dtype::native(bufsum_core::format::Elem::U8),
            what,
        };
        view.read_layout(what).map_err(Failure::Unsupported)?;
        Ok(view)
    }

    fn read_layout(&mut self, what: &str) -> PyResult<()> {
        let raw = &*self.raw;
        let itemsize = usize::try_from(raw.itemsize).unwrap_or(0);
        let format = self.format();
        self.dtype =
            parse(format, itemsize).map_err(|e| PyTypeError::new_err(format!("{what}: {e}")))?;
        let ndim = usize::try_from(raw.ndim)
            .map_err(|_| PyValueError::new_err(format!("{what}: the exporter gave ndim < 0")))?;
        if ndim > MAX_NDIM {
            return Err(PyValueError::new_err(format!(
                "{what}: {ndim} dimensions; at most {MAX_NDIM} are supported"
            )));
        }
        let indirect = !raw.suboffsets.is_null()
            // SAFETY: the exporter filled `shape`, `strides` and `suboffsets` with `ndim`
            // entries each when non-null, valid while the export is held.
            && unsafe { std::slice::from_raw_parts(raw.suboffsets, ndim) }.iter().any(|&s| s >= 0);
        if indirect {
            return Err(PyTypeError::new_err(format!(
                "{what}: buffers with suboffsets (indirect, PIL-style arrays) are not supported; \
                 pass a strided or contiguous buffer"
            )));
        }
        if raw.shape.is_null() {
            if ndim > 0 {
                self.shape
                    .push(usize::try_from(raw.len).unwrap_or(0) / itemsize.max(1));
            }
        } else {
            // SAFETY: see above.
            let shape = unsafe { std::slice::from_raw_parts(raw.shape, ndim) };
            for &n in shape {
                self.shape.push(usize::try_from(n).map_err(|_| {
                    PyValueError::new_err(format!("{what}: the exporter gave a negative shape"))
                })?);
            }
        }
        if raw.strides.is_null() {
            // No strides: C-contiguous (ctypes exports this way).
            self.strides.resize(self.shape.len(), 0);
            let mut step = isize::try_from(itemsize).unwrap_or(0);
            for (st, &n) in self.strides.iter_mut().zip(&self.shape).rev() {
                *st = step;
                step = step.saturating_mul(isize::try_from(n).unwrap_or(isize::MAX));
            }
        } else {
            // SAFETY: see above.
            let strides = unsafe { std::slice::from_raw_parts(raw.strides, self.shape.len()) };
            self.strides.extend_from_slice(strides);
        }
        Ok(())
    }

    /// The format string as exported (`"B"` when the exporter gave none).
    pub fn format(&self) -> &str {
        if self.raw.format.is_null() {
            "B"
        } else {
            // SAFETY: a non-null `format` is a NUL-terminated string owned by the export, which
            // lives as long as `self`.
            unsafe { CStr::from_ptr(self.raw.format) }
                .to_str()
                .unwrap_or("?")
        }
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Logical shape, as exported.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Strides in bytes, as exported (computed for C order when the exporter gave none).
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    fn dims(&self) -> PyResult<Dims> {
        Dims::new(self.shape(), self.strides())
            .map_err(|e| PyValueError::new_err(format!("{}: {e}", self.what)))
    }

    /// The elements, for reading without the GIL.
    pub fn strided(&self) -> PyResult<Strided> {
        let dims = self.dims()?;
        // SAFETY: the export is held for as long as `self` lives, and every use of the returned
        // value happens inside the caller's scope, before `self` is dropped (see module docs):
        // the memory stays allocated and in place; every element lies inside it by the buffer
        // protocol's definition of shape and strides.
        Ok(unsafe { Strided::new(self.raw.buf.cast_const().cast::<u8>(), dims, self.dtype) })
    }

    /// The elements, for writing without the GIL; only for views acquired writable.
    pub fn strided_mut(&self) -> PyResult<StridedMut> {
        if self.raw.readonly != 0 {
            return Err(PyBufferError::new_err(format!(
                "{} must be writable; the buffer is read-only",
                self.what
            )));
        }
        let dims = self.dims()?;
        // SAFETY: as in `strided`, and the exporter granted a writable export; the core writes
        // through raw pointers only and holds no reference into this memory.
        Ok(unsafe { StridedMut::new(self.raw.buf.cast::<u8>(), dims, self.dtype) })
    }
}

impl Drop for View<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` holds a successful export (a `View` exists only after
        // `PyObject_GetBuffer` succeeded), at the address the exporter filled (the slot is
        // borrowed, so it did not move), and is released exactly once, here. `View` is not
        // `Send`, so this runs on a thread attached to the interpreter.
        unsafe { ffi::PyBuffer_Release(std::ptr::from_mut(self.raw)) };
    }
}

/// Whether `obj` exports buffers at all (cheap; acquires nothing).
pub fn is_buffer(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: attached, valid object.
    unsafe { ffi::PyObject_CheckBuffer(obj.as_ptr()) != 0 }
}

/// `TypeError` for an argument of the wrong type, naming the type.
pub fn wrong_type(what: &str, expected: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{what} must be {expected}, not '{}'",
        type_name(obj)
    ))
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string())
}
