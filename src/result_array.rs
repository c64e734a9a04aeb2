//! The owner of axis-reduction results: a C-contiguous float64/int64 block of any shape
//! (zeros and 0-d included, which `memoryview.cast` cannot make), exported through the buffer
//! protocol so that `memoryview` and `numpy.asarray` wrap it without copying.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::{c_int, CStr};
use std::ptr::NonNull;

use bufsum_core::format::{Dtype, Elem};
use bufsum_core::layout::{Dims, StridedMut};
use pyo3::exceptions::{PyBufferError, PyMemoryError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;

/// Results of an axis reduction (`format` `'d'` or `'q'`); use it through `memoryview`.
#[pyclass(frozen, module = "bufsum", name = "_ResultArray")]
pub struct ResultArray {
    data: NonNull<u64>,
    len: usize,
    layout: Layout,
    /// The same shape and strides, for the core's writer.
    dims: Dims,
    shape: Vec<ffi::Py_ssize_t>,
    strides: Vec<ffi::Py_ssize_t>,
    format: &'static CStr,
}

// SAFETY: `data` is a heap block this object owns alone. Rust writes it only in `fill`, through
// `&mut self`, before the object is handed to Python; afterwards only buffer-protocol consumers
// touch it, through the pointer they were handed, exactly as with a `bytearray`.
unsafe impl Send for ResultArray {}
// SAFETY: as above: no Rust code touches the block through `&ResultArray`.
unsafe impl Sync for ResultArray {}

impl ResultArray {
    /// A zero-filled float64 (`'d'`) or int64 (`'q'`, `int` true) array of `shape` in C order.
    /// The allocation may fail: `ValueError` when the byte size does not fit the address space
    /// (NumPy's "array is too big"), `MemoryError` when the memory is not there. Zeros come
    /// from the allocator (untouched pages stay unmapped until written).
    ///
    /// `what` names the call in errors (`"bufsum.sum()"`).
    pub fn zeroed(shape: &[usize], int: bool, what: &str) -> PyResult<Self> {
        let len = shape.iter().try_fold(1usize, |p, &n| p.checked_mul(n));
        let layout = len
            .and_then(|n| Layout::array::<u64>(n).ok())
            .ok_or_else(|| {
                let bytes = shape
                    .iter()
                    .fold(8u128, |p, &n| p.saturating_mul(n as u128));
                PyValueError::new_err(format!(
                    "{what}: the result of shape {} would take {bytes} bytes, more than the \
                     address space holds ({} bytes)",
                    py_shape(shape),
                    isize::MAX
                ))
            })?;
        let data = if layout.size() == 0 {
            NonNull::dangling()
        } else {
            // SAFETY: `layout` has a nonzero size.
            NonNull::new(unsafe { alloc_zeroed(layout) })
                .ok_or_else(|| {
                    PyMemoryError::new_err(format!(
                        "{what}: unable to allocate {} for the result of shape {}",
                        human_bytes(layout.size()),
                        py_shape(shape)
                    ))
                })?
                .cast::<u64>()
        };
        // Dimensions come from Py_ssize_t shapes; strides of an empty array never address
        // anything and may saturate.
        let shape: Vec<ffi::Py_ssize_t> = shape
            .iter()
            .map(|&n| ffi::Py_ssize_t::try_from(n).unwrap_or(ffi::Py_ssize_t::MAX))
            .collect();
        let mut strides = vec![0; shape.len()];
        let mut step: ffi::Py_ssize_t = 8;
        for (s, &n) in strides.iter_mut().zip(&shape).rev() {
            *s = step;
            step = step.saturating_mul(n.max(1));
        }
        let dims = Dims::new(
            &shape.iter().map(|&n| n.unsigned_abs()).collect::<Vec<_>>(),
            &strides,
        )
        .map_err(|e| PyValueError::new_err(format!("{what}: result of shape {shape:?}: {e}")))?;
        Ok(ResultArray {
            data,
            len: layout.size() / 8,
            layout,
            dims,
            shape,
            strides,
            format: if int { c"q" } else { c"d" },
        })
    }

    /// Lends the elements to `f` as a destination for the core (native float64 or int64, C
    /// order), before the array is handed to Python.
    pub fn fill<R>(&mut self, f: impl FnOnce(&mut StridedMut) -> R) -> R {
        let elem = if self.format == c"q" {
            Elem::I64
        } else {
            Elem::F64
        };
        // SAFETY: the block holds `len` 8-byte elements laid out by these dims; `&mut self`
        // proves nobody else uses it while `f` runs (no Python consumer exists yet), and the
        // `StridedMut` does not outlive `f`.
        let mut dst = unsafe {
            StridedMut::new(
                self.data.as_ptr().cast::<u8>(),
                self.dims.clone(),
                Dtype::native(elem),
            )
        };
        f(&mut dst)
    }
}

/// A shape as Python prints a tuple: `(3,)`, `(2, 3)`.
fn py_shape(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `n` bytes as NumPy prints them in allocation errors ("8.00 GiB").
fn human_bytes(n: usize) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2} {}", UNITS[unit])
}

impl Drop for ResultArray {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: `data` came from `alloc_zeroed` with this layout; no export can be
        // outstanding, as every export holds a reference to this object.
        unsafe { dealloc(self.data.as_ptr().cast::<u8>(), self.layout) };
    }
}

#[pymethods]
impl ResultArray {
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("view is null"));
        }
        let this = slf.get();
        let contiguous_only = (flags & ffi::PyBUF_ND) != ffi::PyBUF_ND;
        // SAFETY: CPython hands us a writable `Py_buffer` to fill; the pointers stored into it
        // (data, shape, strides, format) live as long as this object, which the view keeps alive
        // through `obj`.
        unsafe {
            (*view).buf = this.data.as_ptr().cast();
            // At most `isize::MAX` (checked in `zeroed`).
            (*view).len = this.layout.size() as ffi::Py_ssize_t;
            (*view).readonly = 0;
            (*view).itemsize = 8;
            (*view).format = if flags & ffi::PyBUF_FORMAT != 0 {
                this.format.as_ptr().cast_mut()
            } else {
                std::ptr::null_mut()
            };
            // Without PyBUF_ND the consumer sees one run of bytes (the data is C-contiguous).
            (*view).ndim = if contiguous_only {
                1
            } else {
                this.shape.len() as c_int
            };
            (*view).shape = if contiguous_only {
                std::ptr::null_mut()
            } else {
                this.shape.as_ptr().cast_mut()
            };
            (*view).strides = if (flags & ffi::PyBUF_STRIDES) == ffi::PyBUF_STRIDES {
                this.strides.as_ptr().cast_mut()
            } else {
                std::ptr::null_mut()
            };
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = std::ptr::null_mut();
            (*view).obj = slf.into_any().into_ptr();
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}
