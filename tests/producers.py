"""Small DLPack and Arrow producers written with ctypes, for what installed exporters cannot
make: any dtype code (bfloat16, float8), strides, byte_offset, device, flags, DLPack version,
Arrow buffers with any offset, failing streams; and release callbacks / deleters that count
their calls."""

from __future__ import annotations

import ctypes
from ctypes import POINTER, CFUNCTYPE, Structure, c_char_p, c_int, c_int32, c_int64, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p
from typing import Any, Optional, Sequence

_api = ctypes.pythonapi
_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [c_void_p, c_char_p, c_void_p]
_api.PyCapsule_IsValid.restype = c_int
_api.PyCapsule_IsValid.argtypes = [c_void_p, c_char_p]
_api.PyCapsule_GetPointer.restype = c_void_p
_api.PyCapsule_GetPointer.argtypes = [c_void_p, c_char_p]
_api.PyCapsule_GetName.restype = c_char_p
_api.PyCapsule_GetName.argtypes = [ctypes.py_object]

CAPSULE_DESTRUCTOR = CFUNCTYPE(None, c_void_p)
_api.Py_IncRef.argtypes = [ctypes.py_object]


def forever(callback: Any) -> Any:
    """Keeps a ctypes callback alive for the rest of the process (a deliberate, test-only leak).
    Capsules call these from their destructors, which may run after the producer that made
    them was collected: the cyclic GC frees a cycle's objects in no fixed order, and on
    free-threaded 3.14t a callback's thunk was freed first and the destructor jumped into
    freed memory."""
    _api.Py_IncRef(callback)
    return callback


def capsule_name(cap: Any) -> bytes:
    return _api.PyCapsule_GetName(cap)


# --------------------------------------------------------------------------------------------
# DLPack


class DLDevice(Structure):
    _fields_ = [("device_type", c_int32), ("device_id", c_int32)]


class DLDataType(Structure):
    _fields_ = [("code", c_uint8), ("bits", c_uint8), ("lanes", c_uint16)]


class DLTensor(Structure):
    _fields_ = [
        ("data", c_void_p), ("device", DLDevice), ("ndim", c_int32), ("dtype", DLDataType),
        ("shape", POINTER(c_int64)), ("strides", POINTER(c_int64)), ("byte_offset", c_uint64),
    ]


class DLPackVersion(Structure):
    _fields_ = [("major", c_uint32), ("minor", c_uint32)]


class DLManagedTensorVersioned(Structure):
    pass


class DLManagedTensor(Structure):
    pass


DELETER_V = CFUNCTYPE(None, POINTER(DLManagedTensorVersioned))
DELETER_L = CFUNCTYPE(None, POINTER(DLManagedTensor))
DLManagedTensorVersioned._fields_ = [
    ("version", DLPackVersion), ("manager_ctx", c_void_p), ("deleter", DELETER_V),
    ("flags", c_uint64), ("dl_tensor", DLTensor),
]
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", c_void_p), ("deleter", DELETER_L)]

DLTENSOR_VERSIONED = b"dltensor_versioned"
DLTENSOR = b"dltensor"

# DLPack type codes.
INT, UINT, FLOAT, BFLOAT, COMPLEX, BOOL, F8_E4M3FN, F8_E5M2 = 0, 1, 2, 4, 5, 6, 10, 12


class DLPackProducer:
    """Exports `raw` bytes as a DLPack tensor of any dtype and layout; counts deleter calls.

    `strides` are in elements (None: NULL strides). `legacy_only`: `__dlpack__` refuses the
    `max_version` keyword like pre-1.0 producers. `version`: what a versioned capsule claims.
    """

    def __init__(
        self, raw: bytes, code: int, bits: int, shape: Sequence[int], strides: Optional[Sequence[int]] = None,
        byte_offset: int = 0, device: tuple[int, int] = (1, 0), lanes: int = 1, flags: int = 0,
        legacy_only: bool = False, versioned: bool = True, version: tuple[int, int] = (1, 1),
    ) -> None:
        self.buf = ctypes.create_string_buffer(raw, max(len(raw), 1))
        self.code, self.bits, self.lanes = code, bits, lanes
        self.shape, self.strides, self.byte_offset = list(shape), strides, byte_offset
        self.device, self.flags = device, flags
        self.legacy_only, self.versioned, self.version = legacy_only, versioned, version
        self.deleted = 0
        self.requested: list[Any] = []
        self.capsules: list[Any] = []
        self._keep: list[Any] = []

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.device

    def __dlpack__(self, *, stream: Any = None, max_version: Any = None, dl_device: Any = None, copy: Any = None) -> Any:
        if self.legacy_only and max_version is not None:
            raise TypeError("__dlpack__() got an unexpected keyword argument 'max_version'")
        self.requested.append(max_version)
        versioned = self.versioned and max_version is not None and max_version[0] >= 1
        nd = len(self.shape)
        shape = (c_int64 * max(nd, 1))(*self.shape)
        strides = (c_int64 * max(nd, 1))(*self.strides) if self.strides is not None else None
        t = DLTensor(
            data=ctypes.addressof(self.buf), device=DLDevice(*self.device), ndim=nd,
            dtype=DLDataType(self.code, self.bits, self.lanes), shape=shape,
            strides=strides if strides is not None else None, byte_offset=self.byte_offset,
        )
        if versioned:
            m = DLManagedTensorVersioned(version=DLPackVersion(*self.version), flags=self.flags, dl_tensor=t)
            deleter = forever(DELETER_V(self._deleted))
            name = DLTENSOR_VERSIONED
        else:
            m = DLManagedTensor(dl_tensor=t)
            deleter = forever(DELETER_L(self._deleted))
            name = DLTENSOR
        m.deleter = deleter

        # The producer's capsule destructor, per the protocol (what it uses is bound now: it may
        # run at interpreter exit, after module globals are gone).
        def destroy(cap: int, is_valid: Any = _api.PyCapsule_IsValid, name: bytes = name) -> None:
            if is_valid(cap, name):
                self._deleted(None)

        destructor = forever(CAPSULE_DESTRUCTOR(destroy))
        self._keep += [shape, strides, m, deleter, destructor]
        cap = _api.PyCapsule_New(ctypes.addressof(m), name, ctypes.cast(destructor, c_void_p))
        self.capsules.append(cap)
        return cap

    def _deleted(self, _p: Any) -> None:
        self.deleted += 1


# --------------------------------------------------------------------------------------------
# Arrow C data interface


class ArrowSchema(Structure):
    pass


class ArrowArray(Structure):
    pass


class ArrowArrayStream(Structure):
    pass


SCHEMA_RELEASE = CFUNCTYPE(None, POINTER(ArrowSchema))
ARRAY_RELEASE = CFUNCTYPE(None, POINTER(ArrowArray))
ArrowSchema._fields_ = [
    ("format", c_char_p), ("name", c_char_p), ("metadata", c_char_p), ("flags", c_int64),
    ("n_children", c_int64), ("children", c_void_p), ("dictionary", c_void_p),
    ("release", SCHEMA_RELEASE), ("private_data", c_void_p),
]
ArrowArray._fields_ = [
    ("length", c_int64), ("null_count", c_int64), ("offset", c_int64), ("n_buffers", c_int64),
    ("n_children", c_int64), ("buffers", POINTER(c_void_p)), ("children", c_void_p),
    ("dictionary", c_void_p), ("release", ARRAY_RELEASE), ("private_data", c_void_p),
]
GET_SCHEMA = CFUNCTYPE(c_int, POINTER(ArrowArrayStream), POINTER(ArrowSchema))
GET_NEXT = CFUNCTYPE(c_int, POINTER(ArrowArrayStream), POINTER(ArrowArray))
GET_LAST_ERROR = CFUNCTYPE(c_void_p, POINTER(ArrowArrayStream))
STREAM_RELEASE = CFUNCTYPE(None, POINTER(ArrowArrayStream))
ArrowArrayStream._fields_ = [
    ("get_schema", GET_SCHEMA), ("get_next", GET_NEXT), ("get_last_error", GET_LAST_ERROR),
    ("release", STREAM_RELEASE), ("private_data", c_void_p),
]


class Chunk:
    """One primitive Arrow array: `data` bytes (bit-packed for bool), optional validity bytes."""

    def __init__(self, data: bytes, length: int, validity: Optional[bytes] = None, offset: int = 0, null_count: int = -1) -> None:
        self.data, self.length, self.validity, self.offset, self.null_count = data, length, validity, offset, null_count


class ArrowProducer:
    """Exports chunks of one Arrow `format` through `__arrow_c_array__` (one chunk) or
    `__arrow_c_stream__`; counts releases of every schema, array and stream it hands out.
    `fail_at`: the stream's get_next returns an error (EIO) instead of that chunk."""

    def __init__(self, fmt: str, chunks: Sequence[Chunk], stream: bool = True, fail_at: Optional[int] = None) -> None:
        self.fmt = fmt.encode()
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.released = {"schema": 0, "array": 0, "stream": 0}
        self.exported = {"schema": 0, "array": 0, "stream": 0}
        self._keep: list[Any] = []
        if stream:
            self.__arrow_c_stream__ = self._stream
        else:
            self.__arrow_c_array__ = self._array

    def _release_schema(self, p: Any) -> None:
        self.released["schema"] += 1
        p.contents.release = SCHEMA_RELEASE()

    def _release_array(self, p: Any) -> None:
        self.released["array"] += 1
        p.contents.release = ARRAY_RELEASE()

    def _fill_schema(self, s: Any) -> None:
        self.exported["schema"] += 1
        s.format = self.fmt
        s.name = None
        s.metadata = None
        s.flags = 2  # nullable
        s.n_children = 0
        s.children = None
        s.dictionary = None
        s.release = self._schema_release_cb
        s.private_data = None

    def _fill_array(self, a: Any, chunk: Chunk) -> None:
        self.exported["array"] += 1
        data = ctypes.create_string_buffer(chunk.data, max(len(chunk.data), 1))
        validity = ctypes.create_string_buffer(chunk.validity, len(chunk.validity)) if chunk.validity is not None else None
        bufs = (c_void_p * 2)(ctypes.addressof(validity) if validity is not None else None, ctypes.addressof(data))
        self._keep += [data, validity, bufs]
        a.length, a.null_count, a.offset = chunk.length, chunk.null_count, chunk.offset
        a.n_buffers, a.n_children = 2, 0
        a.buffers = ctypes.cast(bufs, POINTER(c_void_p))
        a.children = None
        a.dictionary = None
        a.release = self._array_release_cb
        a.private_data = None

    @property
    def _schema_release_cb(self) -> Any:
        if not hasattr(self, "_src"):
            self._src = forever(SCHEMA_RELEASE(self._release_schema))
        return self._src

    @property
    def _array_release_cb(self) -> Any:
        if not hasattr(self, "_arc"):
            self._arc = forever(ARRAY_RELEASE(self._release_array))
        return self._arc

    def _capsule(self, struct: Any, name: bytes, release_field: str) -> Any:
        # Releases the struct unless a consumer moved it out (bound now: may run at exit).
        def destroy(cap: int, get: Any = _api.PyCapsule_GetPointer) -> None:
            p = get(cap, name)
            s = type(struct).from_address(p)
            if getattr(s, release_field):
                getattr(s, release_field)(ctypes.pointer(s))

        d = forever(CAPSULE_DESTRUCTOR(destroy))
        self._keep += [struct, d]
        return _api.PyCapsule_New(ctypes.addressof(struct), name, ctypes.cast(d, c_void_p))

    def _array(self, requested_schema: Any = None) -> tuple[Any, Any]:
        s, a = ArrowSchema(), ArrowArray()
        self._fill_schema(s)
        self._fill_array(a, self.chunks[0])
        return self._capsule(s, b"arrow_schema", "release"), self._capsule(a, b"arrow_array", "release")

    def _stream(self, requested_schema: Any = None) -> Any:
        self.exported["stream"] += 1
        st = ArrowArrayStream()
        state = {"next": 0}

        def get_schema(_st: Any, out: Any) -> int:
            self._fill_schema(out.contents)
            return 0

        def get_next(_st: Any, out: Any) -> int:
            i = state["next"]
            if self.fail_at is not None and i == self.fail_at:
                return 5  # EIO
            state["next"] = i + 1
            if i >= len(self.chunks):
                out.contents.release = ARRAY_RELEASE()
                return 0
            self._fill_array(out.contents, self.chunks[i])
            return 0

        message = ctypes.create_string_buffer(b"producer failed on purpose")

        def get_last_error(_st: Any) -> int:
            return ctypes.addressof(message)

        def release(p: Any) -> None:
            self.released["stream"] += 1
            p.contents.release = STREAM_RELEASE()

        cbs = [forever(GET_SCHEMA(get_schema)), forever(GET_NEXT(get_next)), forever(GET_LAST_ERROR(get_last_error)), forever(STREAM_RELEASE(release))]
        st.get_schema, st.get_next, st.get_last_error, st.release = cbs
        self._keep += [*cbs, message]
        return self._capsule(st, b"arrow_array_stream", "release")


def bitmap(bits: Sequence[bool], pad: int = 0) -> bytes:
    """LSB-first bitmap of `bits`, after `pad` leading zero bits."""
    allbits = [False] * pad + list(bits)
    out = bytearray((len(allbits) + 7) // 8)
    for i, b in enumerate(allbits):
        if b:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)
