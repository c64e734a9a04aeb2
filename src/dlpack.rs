//! DLPack tensors (`__dlpack__`): versioned capsules (DLPack 1.x) with a fallback to legacy
//! ones, read in place on the CPU.
//!
//! The few `#[repr(C)]` structs of `dlpack.h` are written here rather than taken from a crate:
//! they are a small, stable ABI, and `dlpark` (the maintained Rust wrapper) pins its own PyO3
//! release and brings tensor abstractions bufsum does not need.
//!
//! # The safety story
//!
//! **Ownership.** `__dlpack__` returns a capsule named `dltensor_versioned` (or `dltensor`)
//! holding a managed tensor. As the protocol requires, we rename the capsule
//! `used_dltensor_versioned` (`used_dltensor`), which tells its destructor that the consumer
//! owns the tensor now; from then on the tensor's `deleter` is ours to call, exactly once, in
//! [`Managed`]'s `Drop`, on every path. [`Managed`] holds a raw pointer, so it is not `Send`:
//! it cannot enter a `py.detach` closure and is dropped attached to the interpreter.
//!
//! **What an undeleted tensor guarantees.** Until its deleter runs, the producer keeps the
//! memory (data, shape, strides) allocated and in place — the DLPack protocol's contract —
//! and we keep the exporting object alive as well.
//!
//! **What this code promises.** Only tensors on the CPU (or CUDA-host pinned memory, which
//! the CPU reads directly) are read, at the elements `shape` and `strides` (in elements, NULL
//! meaning C-contiguous) name from `data + byte_offset`, as plain-old-data values, never
//! written (the read-only flag is honoured trivially). A major version other than 1 is never
//! read past the fields DLPack keeps stable for this purpose (`version`, `deleter`).
//!
//! **What nobody can prevent.** Another thread or library writing into the tensor meanwhile:
//! the numbers read are then unspecified, but nothing is freed or moved, so the result is a
//! wrong number, never a crash (the same contract as for buffers).

use std::ffi::{c_void, CStr};

use bufsum_core::column::Column;
use bufsum_core::format::{Dtype, Elem};
use bufsum_core::layout::{Dims, Strided, MAX_NDIM};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::{ffi, intern};
use smallvec::SmallVec;

use crate::input::Failure;

#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // fields of the ABI layout, not all read
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
#[allow(dead_code)] // fields of the ABI layout, not all read
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

/// Legacy (pre-1.0) managed tensor.
#[repr(C)]
#[allow(dead_code)] // fields of the ABI layout, not all read
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // fields of the ABI layout, not all read
struct DLPackVersion {
    major: u32,
    minor: u32,
}

/// DLPack 1.x managed tensor.
#[repr(C)]
#[allow(dead_code)] // fields of the ABI layout, not all read
struct DLManagedTensorVersioned {
    version: DLPackVersion,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    flags: u64,
    dl_tensor: DLTensor,
}

/// The newest DLPack version read here (1.1 added the float8 type codes).
const MAX_VERSION: (u32, u32) = (1, 1);

const CPU: i32 = 1;
const CUDA_HOST: i32 = 3;

/// A managed tensor whose deleter is ours to call.
enum Managed {
    Versioned(*mut DLManagedTensorVersioned),
    Legacy(*mut DLManagedTensor),
}

impl Managed {
    fn tensor(&self) -> &DLTensor {
        // SAFETY: the pointer came from a capsule we consumed and is not yet deleted (deletion
        // happens only in `drop`); for versioned tensors the caller checked the major version
        // before reading past `flags` (see `acquire`).
        unsafe {
            match *self {
                Managed::Versioned(p) => &(*p).dl_tensor,
                Managed::Legacy(p) => &(*p).dl_tensor,
            }
        }
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        // SAFETY: a tensor we own (its capsule was renamed "used_…", so no one else deletes
        // it), deleted exactly once, here; `version`, `manager_ctx` and `deleter` keep their
        // places in every 1.x (and future) versioned layout. A NULL deleter means there is
        // nothing to free.
        unsafe {
            match *self {
                Managed::Versioned(p) => {
                    if let Some(d) = (*p).deleter {
                        d(p);
                    }
                }
                Managed::Legacy(p) => {
                    if let Some(d) = (*p).deleter {
                        d(p);
                    }
                }
            }
        }
    }
}

/// A held DLPack tensor (deleted on drop) and the memory it describes.
pub struct Export {
    /// The elements: pointers into the tensor below.
    pub column: Column,
    /// Logical shape and strides in bytes, for axis reductions.
    pub shape: SmallVec<[usize; 8]>,
    pub strides: SmallVec<[isize; 8]>,
    // Declared after `column`, so dropped after it.
    _managed: Managed,
}

/// Whether `obj` offers `__dlpack__`.
pub fn offered(obj: &Bound<'_, PyAny>) -> bool {
    matches!(
        obj.getattr_opt(intern!(obj.py(), "__dlpack__")),
        Ok(Some(_))
    )
}

/// Calls `__dlpack__(max_version=(1, 1))`, or `__dlpack__()` for producers that refuse the
/// keyword (`TypeError`); `Ok(None)` if `obj` has no `__dlpack__`.
fn capsule<'py>(obj: &Bound<'py, PyAny>) -> Result<Option<Bound<'py, PyAny>>, Failure> {
    let py = obj.py();
    let Some(method) = obj
        .getattr_opt(intern!(py, "__dlpack__"))
        .map_err(Failure::Refused)?
    else {
        return Ok(None);
    };
    let kwargs = PyDict::new(py);
    kwargs
        .set_item(intern!(py, "max_version"), MAX_VERSION)
        .map_err(Failure::Refused)?;
    match method.call((), Some(&kwargs)) {
        Ok(c) => Ok(Some(c)),
        Err(e) if e.is_instance_of::<PyTypeError>(py) => {
            method.call0().map(Some).map_err(Failure::Refused)
        }
        Err(e) => Err(Failure::Refused(e)),
    }
}

/// Takes ownership of the tensor in `cap` (renaming the capsule), or explains why not.
fn consume(cap: &Bound<'_, PyAny>, what: &str) -> Result<Managed, Failure> {
    let refused = |msg: String| Failure::Unsupported(PyTypeError::new_err(msg));
    // SAFETY: attached; checks the type only.
    if unsafe { ffi::PyCapsule_CheckExact(cap.as_ptr()) } == 0 {
        return Err(refused(format!(
            "{what}: __dlpack__ returned a '{}', not a capsule",
            cap.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        )));
    }
    // SAFETY: a capsule; its name is NULL or a NUL-terminated string it owns.
    let name = unsafe { ffi::PyCapsule_GetName(cap.as_ptr()) };
    let name = if name.is_null() {
        c""
    } else {
        // SAFETY: see above; copied before the capsule can change.
        unsafe { CStr::from_ptr(name) }
    };
    let (used, versioned): (&'static CStr, bool) = match name.to_bytes() {
        b"dltensor_versioned" => (c"used_dltensor_versioned", true),
        b"dltensor" => (c"used_dltensor", false),
        other => {
            return Err(refused(format!(
                "{what}: __dlpack__ returned a capsule named {:?}; expected \"dltensor_versioned\" \
                 or \"dltensor\" (a capsule can be consumed only once)",
                String::from_utf8_lossy(other)
            )))
        }
    };
    // SAFETY: a capsule of this name holds a managed tensor of the matching layout.
    let p = unsafe { ffi::PyCapsule_GetPointer(cap.as_ptr(), name.as_ptr()) };
    if p.is_null() {
        return Err(Failure::Refused(PyErr::fetch(cap.py())));
    }
    // The capsule names a static string from now on; renaming marks the tensor consumed, so
    // its destructor will not call the deleter (ours is the only call).
    // SAFETY: a valid capsule; `used` is a static C string (the capsule keeps its pointer).
    if unsafe { ffi::PyCapsule_SetName(cap.as_ptr(), used.as_ptr()) } != 0 {
        return Err(Failure::Refused(PyErr::fetch(cap.py())));
    }
    Ok(if versioned {
        Managed::Versioned(p.cast())
    } else {
        Managed::Legacy(p.cast())
    })
}

/// Reads `obj`'s DLPack export; `Ok(None)` if it has no `__dlpack__`.
pub fn acquire(obj: &Bound<'_, PyAny>, what: &str) -> Result<Option<Export>, Failure> {
    let Some(cap) = capsule(obj)? else {
        return Ok(None);
    };
    let managed = consume(&cap, what)?;
    let unsupported = |msg: String| Failure::Unsupported(PyTypeError::new_err(msg));
    let bad = |msg: String| Failure::Unsupported(PyValueError::new_err(format!("{what}: {msg}")));
    if let Managed::Versioned(p) = managed {
        // SAFETY: `version` is the first field of every versioned layout.
        let v = unsafe { (*p).version };
        if v.major != MAX_VERSION.0 {
            // `managed` is dropped here: its deleter runs, the one field besides `version`
            // DLPack keeps in place across major versions.
            return Err(unsupported(format!(
                "{what}: DLPack tensor of version {}.{}; versions 1.x are supported",
                v.major, v.minor
            )));
        }
    }
    let t = managed.tensor();
    let dev = t.device;
    if dev.device_type != CPU && dev.device_type != CUDA_HOST {
        return Err(unsupported(format!(
            "{what}: the DLPack tensor is on device {}:{} (DLPack device type {}); only CPU \
             and CUDA-host (pinned) memory are read, and no copy to the host is made",
            device_name(dev.device_type),
            dev.device_id,
            dev.device_type
        )));
    }
    let dt = t.dtype;
    let elem = elem_of(dt).ok_or_else(|| {
        unsupported(format!(
            "{what}: unsupported DLPack dtype (code {}, bits {}, lanes {}){}; accepted are \
             int/uint 8-64, bool, float16/32/64, bfloat16, complex64/128 and float8 \
             e4m3fn/e5m2, with one lane",
            dt.code,
            dt.bits,
            dt.lanes,
            code_name(dt.code).map_or(String::new(), |n| format!(" = {n}"))
        ))
    })?;
    let ndim = usize::try_from(t.ndim).map_err(|_| bad("negative ndim".into()))?;
    if ndim > MAX_NDIM {
        return Err(bad(format!(
            "{ndim} dimensions; at most {MAX_NDIM} are supported"
        )));
    }
    if ndim > 0 && t.shape.is_null() {
        return Err(bad("the DLPack tensor has no shape".into()));
    }
    let shape_el = if ndim == 0 {
        &[][..]
    } else {
        // SAFETY: `shape` (and `strides` when non-null) hold `ndim` entries while the tensor
        // lives.
        unsafe { std::slice::from_raw_parts(t.shape, ndim) }
    };
    let mut shape = SmallVec::<[usize; 8]>::new();
    for &n in shape_el {
        shape.push(usize::try_from(n).map_err(|_| bad(format!("negative extent {n}")))?);
    }
    let size = isize::try_from(elem.size()).unwrap_or(1);
    let mut strides = SmallVec::<[isize; 8]>::new();
    if t.strides.is_null() {
        // NULL strides: C-contiguous.
        strides.resize(ndim, 0);
        let mut step = size;
        for (st, &n) in strides.iter_mut().zip(&shape).rev() {
            *st = step;
            step = step.saturating_mul(isize::try_from(n).unwrap_or(isize::MAX));
        }
    } else {
        // SAFETY: see above.
        let st = unsafe { std::slice::from_raw_parts(t.strides, ndim) };
        for &s in st {
            let bytes = isize::try_from(s)
                .ok()
                .and_then(|s| s.checked_mul(size))
                .ok_or_else(|| bad(format!("stride {s} out of range")))?;
            strides.push(bytes);
        }
    }
    let dims = Dims::new(&shape, &strides).map_err(|e| bad(e.to_string()))?;
    if !dims.is_empty() && t.data.is_null() {
        return Err(bad("the DLPack tensor has no data".into()));
    }
    let offset =
        usize::try_from(t.byte_offset).map_err(|_| bad("byte_offset out of range".into()))?;
    // SAFETY: the producer keeps every element (`data + byte_offset + Σ index·stride`) readable
    // until the deleter runs, which `Export` delays until after the column's last use.
    // `wrapping_add`: an empty tensor's pointer may point nowhere.
    let strided = unsafe {
        Strided::new(
            t.data.cast::<u8>().cast_const().wrapping_add(offset),
            dims,
            Dtype::native(elem),
        )
    };
    Ok(Some(Export {
        column: Column::from_strided(strided),
        shape,
        strides,
        _managed: managed,
    }))
}

/// The element type of a DLPack dtype with one lane.
fn elem_of(dt: DLDataType) -> Option<Elem> {
    if dt.lanes != 1 {
        return None;
    }
    Some(match (dt.code, dt.bits) {
        (0, 8) => Elem::I8,
        (0, 16) => Elem::I16,
        (0, 32) => Elem::I32,
        (0, 64) => Elem::I64,
        (1, 8) => Elem::U8,
        (1, 16) => Elem::U16,
        (1, 32) => Elem::U32,
        (1, 64) => Elem::U64,
        (2, 16) => Elem::F16,
        (2, 32) => Elem::F32,
        (2, 64) => Elem::F64,
        (4, 16) => Elem::BF16,
        (5, 64) => Elem::C64,
        (5, 128) => Elem::C128,
        (6, 8) => Elem::Bool,
        (10, 8) => Elem::F8E4M3FN,
        (12, 8) => Elem::F8E5M2,
        _ => return None,
    })
}

fn code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "int",
        1 => "uint",
        2 => "float",
        3 => "opaque handle",
        4 => "bfloat",
        5 => "complex",
        6 => "bool",
        7 => "float8_e3m4",
        8 => "float8_e4m3",
        9 => "float8_e4m3b11fnuz",
        10 => "float8_e4m3fn",
        11 => "float8_e4m3fnuz",
        12 => "float8_e5m2",
        13 => "float8_e5m2fnuz",
        14 => "float8_e8m0fnu",
        15 => "float6_e2m3fn",
        16 => "float6_e3m2fn",
        17 => "float4_e2m1fn",
        _ => return None,
    })
}

fn device_name(device_type: i32) -> &'static str {
    match device_type {
        2 => "CUDA",
        4 => "OpenCL",
        7 => "Vulkan",
        8 => "Metal",
        9 => "VPI",
        10 => "ROCm",
        11 => "ROCmHost",
        12 => "ExtDev",
        13 => "CUDAManaged",
        14 => "OneAPI",
        15 => "WebGPU",
        16 => "Hexagon",
        17 => "MAIA",
        18 => "Trn",
        _ => "unknown",
    }
}
