//! Reading arguments: one acquired input from whichever protocol an object offers — the
//! buffer protocol, then Arrow (`__arrow_c_array__` / `__arrow_c_stream__`), then DLPack
//! (`__dlpack__`) — described to the core as one [`Column`].
//!
//! Each protocol keeps its own safety story in its module ([`crate::view`], [`crate::arrow`],
//! [`crate::dlpack`]); this module only chooses and holds. An [`Input`] owns every export it made
//! (the `Py_buffer` view, the Arrow arrays and stream, the DLPack tensor) and the producing
//! object, and releases them when dropped — exactly once, on every path, attached to the
//! interpreter (`Input` is not `Send`, so it cannot enter a `py.detach` closure; its
//! [`Column`] can, and is used only while the `Input` lives).

use std::marker::PhantomData;

use bufsum_core::column::Column;
use bufsum_core::format::Dtype;
use bufsum_core::layout::Strided;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::view::{is_buffer, type_name, Slot, View};
use crate::{arrow, dlpack};

/// Why one protocol did not give an input.
pub enum Failure {
    /// The producer refused to export: another protocol may still serve, and this error is
    /// reported only if none does.
    Refused(PyErr),
    /// An export was made but its type, device or layout is not supported: reported at once.
    Unsupported(PyErr),
}

impl Failure {
    pub fn into_err(self) -> PyErr {
        match self {
            Failure::Refused(e) | Failure::Unsupported(e) => e,
        }
    }
}

/// Which protocol an input came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Buffer,
    Arrow,
    DLPack,
}

/// What is accepted, for messages.
pub const ACCEPTED: &str = "an object supporting the buffer protocol (bytes, bytearray, \
    memoryview, array.array, numpy.ndarray, ctypes array, mmap, ...), an Arrow array or stream \
    (__arrow_c_array__ / __arrow_c_stream__: pyarrow, polars, ...) or a DLPack tensor \
    (__dlpack__: NumPy, PyTorch, JAX, ...)";

/// The exports an input holds. Arrow and DLPack exports are boxed so that the common case,
/// a buffer, moves little on the per-call path (boxing the buffer instead would allocate on it).
#[allow(clippy::large_enum_variant)]
enum Held<'s> {
    Buffer(View<'s>, Column),
    Arrow(Box<arrow::Export>),
    DLPack(Box<dlpack::Export>),
}

/// An acquired reading argument: the memory as a [`Column`], held until dropped.
pub struct Input<'s> {
    held: Held<'s>,
    // Not `Send`, whatever the exports hold: dropped (and so released) attached.
    _attached: PhantomData<*const ()>,
}

/// The n-d layout of an input whose elements are one strided block (no nulls, one chunk).
pub struct Dense<'a> {
    pub strided: &'a Strided,
    pub shape: &'a [usize],
    /// In bytes.
    pub strides: &'a [isize],
}

impl<'s> Input<'s> {
    /// Acquires `obj` through the first protocol that serves, in the order buffer, Arrow,
    /// DLPack. A protocol whose producer refuses to export passes the object on to the next;
    /// one that exports something unsupported (a type, device or layout) ends the search with
    /// that error. `what` names the argument in errors (e.g. `"bufsum.sum() argument 'data'"`);
    /// `slot` stores a buffer view (see [`Slot`]).
    ///
    /// # Errors
    /// `TypeError` naming the type and the accepted kinds when no protocol is offered; the
    /// error about an unsupported export; else the first refusal (the buffer protocol's own
    /// error, when the object offers buffers).
    pub fn acquire(
        obj: &Bound<'_, PyAny>,
        what: &'static str,
        slot: &'s mut Slot,
    ) -> PyResult<Self> {
        let mut refused: Option<PyErr> = None;
        let mut note = |f: Failure| match f {
            Failure::Unsupported(e) => Err(e),
            Failure::Refused(e) => {
                refused.get_or_insert(e);
                Ok(())
            }
        };
        if is_buffer(obj) {
            match View::try_new(obj, false, what, slot) {
                Ok(view) => return Self::from_view(view),
                Err(f) => note(f)?,
            }
        }
        match arrow::acquire(obj, what) {
            Ok(Some(export)) => return Ok(Self::from_arrow(export)),
            Ok(None) => {}
            Err(f) => note(f)?,
        }
        match dlpack::acquire(obj, what) {
            Ok(Some(export)) => return Ok(Self::from_dlpack(export)),
            Ok(None) => {}
            Err(f) => note(f)?,
        }
        Err(refused.unwrap_or_else(|| {
            PyTypeError::new_err(format!(
                "{what} must be {ACCEPTED}, not '{}'",
                type_name(obj)
            ))
        }))
    }

    /// Whether `obj` offers any protocol [`Input::acquire`] reads (attribute look-ups only).
    pub fn offered(obj: &Bound<'_, PyAny>) -> bool {
        is_buffer(obj) || arrow::offered(obj) || dlpack::offered(obj)
    }

    fn from_view(view: View<'s>) -> PyResult<Self> {
        let column = Column::from_strided(view.strided()?);
        Ok(Input {
            held: Held::Buffer(view, column),
            _attached: PhantomData,
        })
    }

    fn from_arrow(export: arrow::Export) -> Self {
        Input {
            held: Held::Arrow(Box::new(export)),
            _attached: PhantomData,
        }
    }

    fn from_dlpack(export: dlpack::Export) -> Self {
        Input {
            held: Held::DLPack(Box::new(export)),
            _attached: PhantomData,
        }
    }

    /// Logical shape and byte strides (Arrow: one axis of the column's length).
    fn layout(&self) -> (&[usize], &[isize]) {
        match &self.held {
            Held::Buffer(v, _) => (v.shape(), v.strides()),
            Held::Arrow(e) => (&e.shape, &e.strides),
            Held::DLPack(e) => (&e.shape, &e.strides),
        }
    }

    /// The memory, for the core (usable without the GIL while `self` lives).
    pub fn column(&self) -> &Column {
        match &self.held {
            Held::Buffer(_, c) => c,
            Held::Arrow(e) => &e.column,
            Held::DLPack(e) => &e.column,
        }
    }

    pub fn dtype(&self) -> Dtype {
        self.column().dtype()
    }

    pub fn source(&self) -> Source {
        match self.held {
            Held::Buffer(..) => Source::Buffer,
            Held::Arrow(_) => Source::Arrow,
            Held::DLPack(_) => Source::DLPack,
        }
    }

    /// The n-d layout, when the elements are one strided block with every value present.
    pub fn dense(&self) -> Option<Dense<'_>> {
        let (shape, strides) = self.layout();
        Some(Dense {
            strided: self.column().as_strided()?,
            shape,
            strides,
        })
    }

    /// Logical shape (Arrow: the column's length).
    pub fn shape(&self) -> &[usize] {
        self.layout().0
    }

    /// Bytes the values span (for the decisions to detach and to use threads).
    pub fn nbytes(&self) -> usize {
        let c = self.column();
        c.len().saturating_mul(c.dtype().size())
    }

    /// How the input describes its elements, for messages: the buffer format, the Arrow
    /// format, or the DLPack element type.
    pub fn describe(&self) -> String {
        match &self.held {
            Held::Buffer(v, _) => format!("format {:?}", v.format()),
            Held::Arrow(e) => format!("Arrow format {:?}", e.format),
            Held::DLPack(e) => format!("DLPack {}", e.column.dtype().elem.name()),
        }
    }
}
