//! Arrow columns through the Arrow PyCapsule interface (`__arrow_c_array__`,
//! `__arrow_c_stream__`), read with the Arrow C data interface directly: no pyarrow or polars
//! import at run time.
//!
//! The three `#[repr(C)]` structs of the C data and stream interfaces are written here rather
//! than taken from a crate: they are a stable ABI of a few fields, and the crates that wrap them
//! for Python (`pyo3-arrow`, `arrow-pyarrow`) pin older PyO3 releases than ours, while
//! `arrow-data`'s FFI types would bring all of arrow-rs for what these 60 lines do.
//!
//! # The safety story
//!
//! **Ownership.** A capsule holds an `ArrowSchema`, `ArrowArray` or `ArrowArrayStream`. We move
//! the struct out (a bitwise copy, which the C data interface allows) and mark the capsule's
//! copy released (`release = NULL`), so the capsule's destructor does nothing and the moved
//! struct is ours: its `release` callback runs exactly once, in `Drop`, on every path (success,
//! error, unwinding). An [`Export`] holds raw pointers, so it is not `Send`: it cannot enter a
//! `py.detach` closure and is dropped attached to the interpreter. Arrays taken from a stream
//! are owned the same way; the stream itself is released after them.
//!
//! **What an unreleased array guarantees.** Its buffers stay allocated, in place and unchanged
//! until its `release` runs (Arrow arrays are immutable), whatever happens to the Python
//! object that exported it — which we keep alive anyway.
//!
//! **What this code promises.** Only primitive layouts are read: bits `offset .. offset +
//! length` of the validity bitmap and of bool data, elements `offset .. offset + length` of
//! fixed-width data, as plain-old-data values (any bit pattern is valid), never written. The
//! pointers, lengths and offsets are copied into a [`Column`] before the GIL is released, and
//! the column is used only while the [`Export`] lives.
//!
//! **What nobody can prevent.** A producer that writes into buffers it exported breaks Arrow's
//! contract; the numbers read are then unspecified, but nothing is freed or moved, so the
//! result is a wrong number, never a crash.

use std::ffi::{c_char, c_int, c_void, CStr};

use bufsum_core::column::{Bitmap, Column, Segment, Values};
use bufsum_core::format::{Dtype, Elem};
use bufsum_core::layout::{Dims, Strided};
use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::{ffi, intern};
use smallvec::SmallVec;

use crate::input::Failure;

/// `struct ArrowSchema` of the Arrow C data interface.
#[repr(C)]
#[allow(dead_code)] // fields of the ABI layout, not all read
struct ArrowSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut ArrowSchema,
    dictionary: *mut ArrowSchema,
    release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    private_data: *mut c_void,
}

/// `struct ArrowArray` of the Arrow C data interface.
#[repr(C)]
#[allow(dead_code)] // fields of the ABI layout, not all read
struct ArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut ArrowArray,
    dictionary: *mut ArrowArray,
    release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    private_data: *mut c_void,
}

/// `struct ArrowArrayStream` of the Arrow C stream interface.
#[repr(C)]
#[allow(dead_code)] // fields of the ABI layout, not all read
struct ArrowArrayStream {
    get_schema: Option<unsafe extern "C" fn(*mut ArrowArrayStream, *mut ArrowSchema) -> c_int>,
    get_next: Option<unsafe extern "C" fn(*mut ArrowArrayStream, *mut ArrowArray) -> c_int>,
    get_last_error: Option<unsafe extern "C" fn(*mut ArrowArrayStream) -> *const c_char>,
    release: Option<unsafe extern "C" fn(*mut ArrowArrayStream)>,
    private_data: *mut c_void,
}

macro_rules! released_on_drop {
    ($($t:ident),*) => {$(
        impl $t {
            /// A released (empty) struct, for a producer to fill.
            #[allow(dead_code)] // not every struct is filled by a producer
            fn empty() -> Self {
                // SAFETY: every field is an integer, a raw pointer or an `Option` of a function
                // pointer, for which all-zero bits are valid (0, NULL, `None` = released).
                unsafe { std::mem::zeroed() }
            }

            /// Moves the struct out of a capsule named `name` and marks the capsule's copy
            /// released, so that only the returned value releases it.
            fn take_from(capsule: &Bound<'_, PyAny>, name: &CStr) -> PyResult<Self> {
                // SAFETY: attached; `PyCapsule_GetPointer` checks the type and the name and
                // returns NULL (with an exception set) otherwise.
                let p = unsafe { ffi::PyCapsule_GetPointer(capsule.as_ptr(), name.as_ptr()) }
                    .cast::<$t>();
                if p.is_null() {
                    return Err(PyErr::fetch(capsule.py()));
                }
                // SAFETY: a capsule of this name holds a valid struct of this type (the PyCapsule
                // interface's contract). Moving it by bitwise copy and marking the source
                // released is the C data interface's way of taking ownership.
                unsafe {
                    let owned = p.read();
                    (*p).release = None;
                    Ok(owned)
                }
            }
        }

        impl Drop for $t {
            fn drop(&mut self) {
                if let Some(release) = self.release {
                    // SAFETY: an unreleased struct we own (moved out of its capsule or filled by
                    // a stream for us): released exactly once, here; the callback marks it
                    // released itself.
                    unsafe { release(self) };
                }
            }
        }
    )*};
}
released_on_drop!(ArrowSchema, ArrowArray, ArrowArrayStream);

/// Held Arrow exports, released on drop; and the column they describe.
pub struct Export {
    /// The data: pointers into the arrays below.
    pub column: Column,
    /// The Arrow format string, for messages.
    pub format: String,
    /// One axis: the column's length, and the element size as its stride.
    pub shape: [usize; 1],
    pub strides: [isize; 1],
    // Declared after `column`, so dropped after it; arrays before their stream.
    _arrays: SmallVec<[ArrowArray; 1]>,
    _stream: Option<Box<ArrowArrayStream>>,
}

/// Accepted Arrow types, for messages.
pub const ACCEPTED: &str = "Arrow bool, int8..int64, uint8..uint64, float16, float32 and float64";

/// How the values of an Arrow type are read.
#[derive(Clone, Copy)]
enum Layout {
    /// Fixed-width elements.
    Fixed(Elem),
    /// Bit-packed bools.
    Bits,
}

fn layout_of(format: &str) -> Option<Layout> {
    Some(Layout::Fixed(match format {
        "b" => return Some(Layout::Bits),
        "c" => Elem::I8,
        "C" => Elem::U8,
        "s" => Elem::I16,
        "S" => Elem::U16,
        "i" => Elem::I32,
        "I" => Elem::U32,
        "l" => Elem::I64,
        "L" => Elem::U64,
        "e" => Elem::F16,
        "f" => Elem::F32,
        "g" => Elem::F64,
        _ => return None,
    }))
}

/// A readable name for an Arrow format string (its main families), for messages.
fn type_name(format: &str) -> &'static str {
    match format.as_bytes() {
        b"n" => "null",
        b"u" | b"U" | b"vu" => "string",
        b"z" | b"Z" | b"vz" => "binary",
        [b'w', b':', ..] => "fixed-size binary",
        [b'd', b':', ..] => "decimal",
        [b't', b'd', ..] => "date",
        [b't', b't', ..] => "time",
        [b't', b's', ..] => "timestamp",
        [b't', b'D', ..] => "duration",
        [b't', b'i', ..] => "interval",
        b"+s" => "struct (several columns)",
        b"+m" => "map",
        [b'+', b'l' | b'L' | b'w' | b'v', ..] => "list",
        [b'+', b'u', ..] => "union",
        b"+r" => "run-end encoded",
        _ => "unsupported",
    }
}

/// Whether `obj` offers the Arrow PyCapsule interface (one attribute look-up at most two).
pub fn offered(obj: &Bound<'_, PyAny>) -> bool {
    let py = obj.py();
    matches!(
        obj.getattr_opt(intern!(py, "__arrow_c_array__")),
        Ok(Some(_))
    ) || matches!(
        obj.getattr_opt(intern!(py, "__arrow_c_stream__")),
        Ok(Some(_))
    )
}

/// Reads `obj`'s Arrow export: `__arrow_c_array__` if it has one (one chunk), else
/// `__arrow_c_stream__`; `Ok(None)` if it has neither.
pub fn acquire(obj: &Bound<'_, PyAny>, what: &str) -> Result<Option<Export>, Failure> {
    let py = obj.py();
    if let Some(method) = obj
        .getattr_opt(intern!(py, "__arrow_c_array__"))
        .map_err(Failure::Refused)?
    {
        let pair = method.call0().map_err(Failure::Refused)?;
        let (schema, array) = pair
            .extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()
            .map_err(Failure::Refused)?;
        let schema = ArrowSchema::take_from(&schema, c"arrow_schema").map_err(Failure::Refused)?;
        let array = ArrowArray::take_from(&array, c"arrow_array").map_err(Failure::Refused)?;
        let (format, layout) = read_schema(&schema, what)?;
        let mut arrays = SmallVec::new();
        arrays.push(array);
        return finish(arrays, None, format, layout, what).map(Some);
    }
    let Some(method) = obj
        .getattr_opt(intern!(py, "__arrow_c_stream__"))
        .map_err(Failure::Refused)?
    else {
        return Ok(None);
    };
    let capsule = method.call0().map_err(Failure::Refused)?;
    let mut stream = Box::new(
        ArrowArrayStream::take_from(&capsule, c"arrow_array_stream").map_err(Failure::Refused)?,
    );
    let mut schema = ArrowSchema::empty();
    let get_schema = stream.get_schema.ok_or_else(|| bad_stream(what))?;
    let get_next = stream.get_next.ok_or_else(|| bad_stream(what))?;
    // SAFETY: an unreleased stream we own; `schema` is writable storage for one struct.
    let rc = unsafe { get_schema(&raw mut *stream, &raw mut schema) };
    if rc != 0 {
        return Err(Failure::Refused(stream_error(&mut stream, rc, what)));
    }
    let (format, layout) = read_schema(&schema, what)?;
    let mut arrays = SmallVec::new();
    loop {
        let mut array = ArrowArray::empty();
        // SAFETY: as above; `array` is writable storage for one struct, released (empty) by
        // the producer at the end of the stream.
        let rc = unsafe { get_next(&raw mut *stream, &raw mut array) };
        if rc != 0 {
            return Err(Failure::Refused(stream_error(&mut stream, rc, what)));
        }
        if array.release.is_none() {
            break;
        }
        arrays.push(array);
    }
    finish(arrays, Some(stream), format, layout, what).map(Some)
}

fn bad_stream(what: &str) -> Failure {
    Failure::Refused(PyBufferError::new_err(format!(
        "{what}: the Arrow stream has no get_schema/get_next callback"
    )))
}

fn stream_error(stream: &mut ArrowArrayStream, rc: c_int, what: &str) -> PyErr {
    let msg = stream
        .get_last_error
        // SAFETY: an unreleased stream; the message, if any, lives until the next call on it.
        .map(|f| unsafe { f(stream) })
        .filter(|p| !p.is_null())
        // SAFETY: a non-null message is a NUL-terminated string.
        .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        .unwrap_or_default();
    PyBufferError::new_err(format!(
        "{what}: the Arrow stream failed (error {rc}): {msg}"
    ))
}

fn read_schema(schema: &ArrowSchema, what: &str) -> Result<(String, Layout), Failure> {
    if schema.format.is_null() {
        return Err(Failure::Unsupported(PyTypeError::new_err(format!(
            "{what}: the Arrow schema has no format"
        ))));
    }
    // SAFETY: a non-null format is a NUL-terminated string owned by the unreleased schema.
    let format = unsafe { CStr::from_ptr(schema.format) }
        .to_string_lossy()
        .into_owned();
    let layout =
        layout_of(&format).filter(|_| schema.dictionary.is_null() && schema.n_children == 0);
    match layout {
        Some(layout) => Ok((format, layout)),
        None => {
            let name = if schema.dictionary.is_null() {
                type_name(&format)
            } else {
                "dictionary-encoded"
            };
            Err(Failure::Unsupported(PyTypeError::new_err(format!(
                "{what}: unsupported Arrow type {format:?} ({name}); accepted are {ACCEPTED}"
            ))))
        }
    }
}

fn finish(
    arrays: SmallVec<[ArrowArray; 1]>,
    stream: Option<Box<ArrowArrayStream>>,
    format: String,
    layout: Layout,
    what: &str,
) -> Result<Export, Failure> {
    let elem = match layout {
        Layout::Fixed(e) => e,
        Layout::Bits => Elem::Bool,
    };
    let mut segments = SmallVec::<[Segment; 1]>::new();
    for a in &arrays {
        if let Some(seg) = segment(a, layout, what).map_err(Failure::Unsupported)? {
            segments.push(seg);
        }
    }
    let column = Column::new(Dtype::native(elem), segments)
        .map_err(|e| Failure::Unsupported(PyValueError::new_err(format!("{what}: {e:?}"))))?;
    Ok(Export {
        shape: [column.len()],
        strides: [isize::try_from(elem.size()).unwrap_or(1)],
        column,
        format,
        _arrays: arrays,
        _stream: stream,
    })
}

/// The segment an array describes (`None` when empty).
fn segment(a: &ArrowArray, layout: Layout, what: &str) -> PyResult<Option<Segment>> {
    let bad = |why: &str| PyValueError::new_err(format!("{what}: malformed Arrow array ({why})"));
    let len = usize::try_from(a.length).map_err(|_| bad("negative length"))?;
    let offset = usize::try_from(a.offset).map_err(|_| bad("negative offset"))?;
    if len == 0 {
        return Ok(None);
    }
    if a.n_buffers != 2 || a.buffers.is_null() {
        return Err(bad("a primitive array has two buffers"));
    }
    // SAFETY: `buffers` points to `n_buffers` (2) pointers, valid while the array is unreleased.
    let (validity, data) = unsafe { (*a.buffers, *a.buffers.add(1)) };
    if data.is_null() {
        return Err(bad("no data buffer"));
    }
    // A null count of 0 means no nulls whatever the bitmap says; -1 (unknown) reads the bitmap.
    let validity = (!validity.is_null() && a.null_count != 0)
        // SAFETY: the bitmap covers bits `offset .. offset + length` (C data interface), and
        // lives while the array is unreleased, which its `Export` guarantees.
        .then(|| unsafe { Bitmap::new(validity.cast(), offset) });
    let values = match layout {
        Layout::Bits => Values::Bits {
            // SAFETY: as for the validity bitmap.
            bits: unsafe { Bitmap::new(data.cast(), offset) },
            len,
        },
        Layout::Fixed(elem) => {
            let size = elem.size();
            let start = offset
                .checked_mul(size)
                .filter(|&b| isize::try_from(b).is_ok())
                .ok_or_else(|| bad("offset out of range"))?;
            let stride = isize::try_from(size).unwrap_or(1);
            let dims = Dims::new(&[len], &[stride]).map_err(|e| bad(&e.to_string()))?;
            // SAFETY: the data buffer holds elements `offset .. offset + length` of `size`
            // bytes (C data interface), readable while the array is unreleased, which its
            // `Export` guarantees for as long as the column is used.
            Values::Strided(unsafe {
                Strided::new(data.cast::<u8>().add(start), dims, Dtype::native(elem))
            })
        }
    };
    Ok(Some(Segment { values, validity }))
}
