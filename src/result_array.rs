//! The owner of axis-reduction results: a C-contiguous float64/int64 block of any shape
//! (zeros and 0-d included, which `memoryview.cast` cannot make), exported through the buffer
//! protocol so that `memoryview` and `numpy.asarray` wrap it without copying.

use std::ffi::{c_int, CStr};
use std::ptr::NonNull;

use pyo3::exceptions::PyBufferError;
use pyo3::ffi;
use pyo3::prelude::*;

/// Results of an axis reduction (`format` `'d'` or `'q'`); use it through `memoryview`.
#[pyclass(frozen, module = "bufsum", name = "_ResultArray")]
pub struct ResultArray {
    data: NonNull<u64>,
    len: usize,
    shape: Vec<ffi::Py_ssize_t>,
    strides: Vec<ffi::Py_ssize_t>,
    format: &'static CStr,
}

// SAFETY: `data` is a heap block this object owns alone. Rust never reads or writes it after
// `new` returns; afterwards only buffer-protocol consumers do, through the pointer they were
// handed, exactly as with a `bytearray`.
unsafe impl Send for ResultArray {}
// SAFETY: as above: no Rust code touches the block through `&ResultArray`.
unsafe impl Sync for ResultArray {}

impl ResultArray {
    /// Takes 8-byte values in C order for `shape`; `format` is `c"d"` or `c"q"`.
    pub fn new(values: Vec<u64>, shape: &[usize], format: &'static CStr) -> Self {
        debug_assert_eq!(values.len(), shape.iter().product::<usize>());
        let len = values.len();
        let data = NonNull::from(Box::leak(values.into_boxed_slice())).cast::<u64>();
        let shape: Vec<ffi::Py_ssize_t> = shape.iter().map(|&n| n as ffi::Py_ssize_t).collect();
        let mut strides = vec![0; shape.len()];
        let mut step: ffi::Py_ssize_t = 8;
        for (s, &n) in strides.iter_mut().zip(&shape).rev() {
            *s = step;
            step *= n.max(1);
        }
        ResultArray {
            data,
            len,
            shape,
            strides,
            format,
        }
    }
}

impl Drop for ResultArray {
    fn drop(&mut self) {
        // SAFETY: `data`/`len` came from `Box::leak` of a boxed slice in `new`; no export can be
        // outstanding, as every export holds a reference to this object.
        drop(unsafe {
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.data.as_ptr(),
                self.len,
            ))
        });
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
            (*view).len = (this.len * 8) as ffi::Py_ssize_t;
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
