//! Where the elements are: a base pointer, shape and strides, walked in C (row-major) order.
//!
//! Contiguous, aligned, native-order data is handed to kernels in place. Everything else goes
//! through [`Strided::gather`], which copies at most [`BLOCK`] elements at a time into a scratch
//! block owned by the caller, converting byte order and alignment on the way.

use std::mem::MaybeUninit;

use smallvec::SmallVec;

use crate::format::{Dtype, Elem};
use crate::kernels;
use crate::scalar::Scalar;

/// Elements per canonical block. Every reduction sees the logical sequence cut at multiples of
/// `BLOCK`; this fixes the summation order of `sum` and bounds scratch memory (16 KiB of f64).
pub const BLOCK: usize = 2048;

/// Most dimensions a buffer may have (CPython's `PyBUF_MAX_NDIM`).
pub const MAX_NDIM: usize = 64;

/// Why a layout was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutError {
    TooManyDims(usize),
    /// The element count, or the byte offset of some element, does not fit in `isize`.
    TooLarge,
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayoutError::TooManyDims(n) => {
                write!(
                    f,
                    "buffer has {n} dimensions; at most {MAX_NDIM} are supported"
                )
            }
            LayoutError::TooLarge => write!(
                f,
                "buffer's element count or byte extent overflows the address space"
            ),
        }
    }
}

impl std::error::Error for LayoutError {}

/// Shape and strides (in bytes) with size-1 axes dropped and mergeable axes merged, so that a
/// contiguous buffer of any ndim becomes one axis and most strided views two at most.
#[derive(Debug, PartialEq, Eq)]
pub struct Dims {
    // Inline up to 4 collapsed axes: no heap and little to copy on the per-call path.
    shape: SmallVec<[usize; 4]>,
    strides: SmallVec<[isize; 4]>,
    len: usize,
}

impl Clone for Dims {
    // A copy of the slices (the derived clone goes element by element: it was a quarter of the
    // time of axis reductions over many tiny slices).
    fn clone(&self) -> Self {
        Dims {
            shape: SmallVec::from_slice(&self.shape),
            strides: SmallVec::from_slice(&self.strides),
            len: self.len,
        }
    }
}

impl Dims {
    /// Collapses `shape`/`strides` (equal lengths, strides in bytes).
    ///
    /// # Errors
    /// Too many dimensions, or [`LayoutError::TooLarge`]: more than `isize::MAX` elements, or an
    /// element whose byte offset from the base does not fit in `isize` (no real buffer has one).
    /// Everything below may then compute element indices and byte offsets without overflow.
    pub fn new(shape: &[usize], strides: &[isize]) -> Result<Self, LayoutError> {
        debug_assert_eq!(shape.len(), strides.len());
        if shape.len() > MAX_NDIM {
            return Err(LayoutError::TooManyDims(shape.len()));
        }
        let mut d = Dims {
            shape: SmallVec::new(),
            strides: SmallVec::new(),
            len: 1,
        };
        for &n in shape {
            d.len = d.len.checked_mul(n).ok_or(LayoutError::TooLarge)?;
        }
        if isize::try_from(d.len).is_err() {
            return Err(LayoutError::TooLarge);
        }
        if d.len == 0 {
            d.shape.push(0);
            d.strides.push(0);
            return Ok(d);
        }
        // The lowest and highest element offsets: every partial sum of `index·stride` terms lies
        // between them, so once they fit, so does every offset computed from these dims.
        let (mut lo, mut hi) = (0isize, 0isize);
        for (&n, &s) in shape.iter().zip(strides) {
            // `n - 1 < len <= isize::MAX`.
            let reach = s
                .checked_mul((n - 1) as isize)
                .ok_or(LayoutError::TooLarge)?;
            let end = if reach < 0 { &mut lo } else { &mut hi };
            *end = end.checked_add(reach).ok_or(LayoutError::TooLarge)?;
        }
        for (&n, &s) in shape.iter().zip(strides) {
            if n == 1 {
                continue;
            }
            if let (Some(last_n), Some(last_s)) = (d.shape.last_mut(), d.strides.last_mut()) {
                // `n <= len <= isize::MAX`; an overflowing product is no stride of this buffer.
                if Some(*last_s) == s.checked_mul(n as isize) {
                    *last_n *= n;
                    *last_s = s;
                    continue;
                }
            }
            d.shape.push(n);
            d.strides.push(s);
        }
        Ok(d)
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Collapsed shape.
    #[must_use]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Collapsed strides, in bytes.
    #[must_use]
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    /// Whether consecutive logical elements are `itemsize` bytes apart in increasing order.
    #[must_use]
    pub fn is_contiguous(&self, itemsize: usize) -> bool {
        match self.shape.len() {
            0 => true,
            1 => self.shape[0] <= 1 || self.strides[0] == itemsize as isize,
            _ => false,
        }
    }

    /// Walks logical elements `start .. start + count` in C order as runs along the last axis:
    /// `f(byte offset of the run's first element, stride, index of that element counted from
    /// start, run length)`. The one walk that gather (reads) and scatter (writes) share.
    pub fn for_each_run(
        &self,
        start: usize,
        count: usize,
        mut f: impl FnMut(isize, isize, usize, usize),
    ) {
        debug_assert!(start + count <= self.len);
        if count == 0 {
            return;
        }
        let nd = self.shape.len();
        if nd == 0 {
            f(0, 0, 0, 1);
            return;
        }
        let shape = &self.shape[..];
        let strides = &self.strides[..];
        let mut index: SmallVec<[usize; 4]> = smallvec::smallvec![0; nd];
        let mut rem = start;
        for ax in (0..nd).rev() {
            index[ax] = rem % shape[ax];
            rem /= shape[ax];
        }
        let mut done = 0;
        while done < count {
            let offset: isize = (0..nd).map(|ax| index[ax] as isize * strides[ax]).sum();
            let run = (shape[nd - 1] - index[nd - 1]).min(count - done);
            f(offset, strides[nd - 1], done, run);
            done += run;
            index[nd - 1] += run;
            let mut ax = nd - 1;
            while ax > 0 && index[ax] == shape[ax] {
                index[ax] = 0;
                index[ax - 1] += 1;
                ax -= 1;
            }
        }
    }

    /// Byte offsets (relative to the base pointer) of the lowest and one past the highest byte
    /// touched, for an item of `itemsize` bytes; `None` when empty.
    #[must_use]
    pub fn extent(&self, itemsize: usize) -> Option<(isize, isize)> {
        if self.is_empty() {
            return None;
        }
        // No overflow: `Dims::new` checked these sums.
        let (mut lo, mut hi) = (0isize, 0isize);
        for (&n, &s) in self.shape().iter().zip(self.strides()) {
            let reach = s * (n as isize - 1);
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        let size = isize::try_from(itemsize).unwrap_or(isize::MAX);
        Some((lo, hi.saturating_add(size)))
    }
}

/// Read access to `len` elements of one [`Dtype`] laid out by [`Dims`] from a base pointer.
#[derive(Clone, Debug)]
pub struct Strided {
    ptr: *const u8,
    dims: Dims,
    dtype: Dtype,
}

// SAFETY: `Strided` is a pointer plus arithmetic. Its constructor obliges the creator to keep
// every element readable for as long as the value (or a copy) is used, from any thread; a
// concurrent writer can change the numbers read but not make the reads invalid.
unsafe impl Send for Strided {}
// SAFETY: as for `Send`: shared use only reads through the pointer.
unsafe impl Sync for Strided {}

impl Strided {
    /// # Safety
    /// For as long as the returned value or any copy of it is used, on any thread, every byte of
    /// every element (`ptr + Σ index_i·stride_i`, `dtype.size()` bytes) must be readable memory.
    /// It need not be aligned. Elements are read as plain-old-data values (any bit pattern is
    /// valid); contiguous aligned data through a shared slice one block at a time
    /// ([`Strided::as_slice`]), everything else with `read_unaligned`. Memory that others write
    /// meanwhile yields unspecified numbers (the caller's contract with its users, as for
    /// CPython's `hashlib`), and must not be written through this crate while a block is read.
    #[must_use]
    pub unsafe fn new(ptr: *const u8, dims: Dims, dtype: Dtype) -> Self {
        Strided { ptr, dims, dtype }
    }

    #[must_use]
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    #[must_use]
    pub fn dims(&self) -> &Dims {
        &self.dims
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.dims.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.dims.is_empty()
    }

    #[must_use]
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    /// The data as a native slice when it can be read in place: contiguous, aligned for `T`, in
    /// native byte order, and `T` of the buffer's element size.
    #[must_use]
    pub fn as_slice<T: Scalar>(&self) -> Option<&[T]> {
        let ok = !self.dtype.swap
            && std::mem::size_of::<T>() == self.dtype.size()
            && self.dims.is_contiguous(self.dtype.size())
            && (self.ptr as usize) % std::mem::align_of::<T>() == 0;
        if !ok {
            return None;
        }
        if self.is_empty() {
            return Some(&[]);
        }
        // SAFETY: contiguous, aligned and readable for `len` elements of `T`'s size (the
        // contract of `new`); `T` is plain old data, so every bit pattern is a valid value.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.cast::<T>(), self.len()) })
    }

    /// Copies logical elements `start .. start + out.len()` into `out` as native values
    /// (byte-swapped if the buffer's order is foreign).
    ///
    /// # Panics
    /// If the range exceeds the buffer or `T` is not of the element size (bugs in the caller).
    pub fn gather<T: Scalar>(&self, start: usize, out: &mut [T]) {
        // SAFETY: `MaybeUninit<T>` has `T`'s layout, and `gather_uninit` only writes valid `T`s.
        let out = unsafe { &mut *(std::ptr::from_mut(out) as *mut [MaybeUninit<T>]) };
        self.gather_uninit(start, out);
    }

    /// As [`Strided::gather`], into uninitialised slots: every slot is written, then returned.
    fn gather_uninit<'s, T: Scalar>(
        &self,
        start: usize,
        out: &'s mut [MaybeUninit<T>],
    ) -> &'s mut [T] {
        assert!(start + out.len() <= self.len(), "gather out of range");
        assert_eq!(std::mem::size_of::<T>(), self.dtype.size());
        let size = std::mem::size_of::<T>() as isize;
        let base = self.ptr;
        // The runs cover `0..out.len()` exactly once, in order.
        self.dims
            .for_each_run(start, out.len(), |offset, stride, at, len| {
                // SAFETY: `offset` addresses an element inside the buffer (contract of `new`).
                let p = unsafe { base.offset(offset) };
                let dst = &mut out[at..at + len];
                // SAFETY: (all arms) the run of `len` elements `stride` bytes apart stays inside its
                // axis, so inside the buffer; `dst` is `len` slots of `T`.
                unsafe {
                    match (stride % size == 0).then_some(stride / size) {
                        Some(1) => std::ptr::copy_nonoverlapping(
                            p,
                            dst.as_mut_ptr().cast::<u8>(),
                            len * size as usize,
                        ),
                        Some(2) => kernels::copy_step2(p, dst),
                        Some(3) => kernels::copy_step3(p, dst),
                        Some(4) => kernels::copy_step4(p, dst),
                        Some(-1) => kernels::copy_back(p, dst),
                        _ => {
                            for (k, o) in dst.iter_mut().enumerate() {
                                o.write(p.offset(k as isize * stride).cast::<T>().read_unaligned());
                            }
                        }
                    }
                }
            });
        // SAFETY: every slot was written above.
        let vals = unsafe { &mut *(std::ptr::from_mut(out) as *mut [T]) };
        if self.dtype.swap {
            kernels::swap_all(vals);
        }
        vals
    }

    /// Calls `f` on each canonical block of logical elements `lo_block*BLOCK ..` up to
    /// `hi_block*BLOCK` (clipped to the length), as native `T`: in place when possible, else
    /// gathered into a scratch block on the stack.
    pub fn for_each_block<T: Scalar>(
        &self,
        lo_block: usize,
        hi_block: usize,
        mut f: impl FnMut(&[T]),
    ) {
        let end = (hi_block * BLOCK).min(self.len());
        let mut start = lo_block * BLOCK;
        if let Some(all) = self.as_slice::<T>() {
            while start < end {
                let stop = (start + BLOCK).min(end);
                f(&all[start..stop]);
                start = stop;
            }
            return;
        }
        let mut scratch = Scratch::<T>::new();
        while start < end {
            let stop = (start + BLOCK).min(end);
            f(self.gather_uninit(start, &mut scratch.slots[..stop - start]));
            start = stop;
        }
    }

    /// The real and imaginary parts of a complex buffer as two real views of the same memory
    /// (same shape and strides; the imaginary part half an element in); `None` if not complex.
    #[must_use]
    pub fn complex_parts(&self) -> Option<(Strided, Strided)> {
        let part = match self.dtype.elem {
            Elem::C64 => Elem::F32,
            Elem::C128 => Elem::F64,
            _ => return None,
        };
        let dtype = Dtype {
            elem: part,
            swap: self.dtype.swap,
        };
        let view = |ptr| Strided {
            ptr,
            dims: self.dims.clone(),
            dtype,
        };
        // Each part's elements lie inside the complex elements, so both views satisfy the
        // contract of `new` whenever this one does (`wrapping_add`: an empty buffer's pointer
        // may point nowhere).
        Some((view(self.ptr), view(self.ptr.wrapping_add(part.size()))))
    }

    /// Another layout of the same memory: `dims` from `offset` bytes past this base pointer.
    ///
    /// # Safety
    /// Every element of the new layout must lie inside memory readable under this value's
    /// contract.
    #[must_use]
    pub unsafe fn with_layout(&self, offset: isize, dims: Dims) -> Strided {
        Strided {
            // SAFETY: the caller's offset stays inside the buffer.
            ptr: unsafe { self.ptr.offset(offset) },
            dims,
            dtype: self.dtype,
        }
    }
}

/// Write access to elements laid out by [`Dims`]: the destination of `cumsum` and of axis
/// reductions given `out`.
#[derive(Debug)]
pub struct StridedMut {
    // The same layout as a read view; the pointer was writable when given to `new`.
    view: Strided,
}

// SAFETY: a pointer plus arithmetic; the constructor obliges the creator to keep every element
// writable for as long as the value is used, from whichever thread uses it.
unsafe impl Send for StridedMut {}

impl StridedMut {
    /// # Safety
    /// For as long as the value is used, on any thread, every byte of every element must be
    /// writable memory that no Rust reference aliases. Others may read or write it meanwhile;
    /// they then see unspecified values, never undefined behaviour, because every access here
    /// is a `write_unaligned` of a plain-old-data type.
    #[must_use]
    pub unsafe fn new(ptr: *mut u8, dims: Dims, dtype: Dtype) -> Self {
        StridedMut {
            view: Strided {
                ptr: ptr.cast_const(),
                dims,
                dtype,
            },
        }
    }

    /// The same memory, for reading (its dtype, dims and length are the writer's too).
    #[must_use]
    pub fn as_strided(&self) -> &Strided {
        &self.view
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.view.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.view.is_empty()
    }

    /// Writes `vals` to logical elements `start ..`, byte-swapped if the buffer's order is
    /// foreign, touching no byte outside those elements.
    ///
    /// # Panics
    /// If the range exceeds the buffer or `T` is not of the element size (bugs in the caller).
    pub fn scatter<T: Scalar>(&mut self, start: usize, vals: &[T]) {
        assert!(start + vals.len() <= self.len(), "scatter out of range");
        assert_eq!(std::mem::size_of::<T>(), self.view.dtype.size());
        let swap = self.view.dtype.swap;
        // Writable by the contract of `new`; only ever written through raw pointers.
        let base = self.view.ptr.cast_mut();
        self.view
            .dims
            .for_each_run(start, vals.len(), |offset, stride, at, len| {
                // SAFETY: `offset` addresses an element inside the buffer (contract of `new`).
                let p = unsafe { base.offset(offset) };
                for (k, &v) in vals[at..at + len].iter().enumerate() {
                    let v = if swap { v.swap_bytes() } else { v };
                    // SAFETY: element `k < len` of a run that stays inside its axis.
                    unsafe { p.offset(k as isize * stride).cast::<T>().write_unaligned(v) };
                }
            });
    }
}

/// How two element sets share memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// No byte in common.
    Disjoint,
    /// The very same elements in the same logical order and size: safe for element-wise,
    /// in-order updates.
    Same,
    /// Anything else that shares a byte's range.
    Partial,
}

/// Compares the memory of `a` and `b` by their extents (conservative: interleaved views whose
/// ranges cross count as `Partial`).
#[must_use]
pub fn overlap(a: &Strided, b: &Strided) -> Overlap {
    let (Some((alo, ahi)), Some((blo, bhi))) =
        (a.dims.extent(a.dtype.size()), b.dims.extent(b.dtype.size()))
    else {
        return Overlap::Disjoint;
    };
    let (a0, b0) = (a.ptr as isize, b.ptr as isize);
    if a0 + ahi <= b0 + blo || b0 + bhi <= a0 + alo {
        return Overlap::Disjoint;
    }
    if a0 == b0 && a.dims == b.dims && a.dtype.size() == b.dtype.size() {
        Overlap::Same
    } else {
        Overlap::Partial
    }
}

/// One block of uninitialised scratch (nothing to zero on every call).
pub struct Scratch<T> {
    slots: [MaybeUninit<T>; BLOCK],
    /// Slots written by the last `fill`.
    filled: usize,
}

impl<T: Copy> Default for Scratch<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy> Scratch<T> {
    #[must_use]
    pub fn new() -> Self {
        Scratch {
            slots: [const { MaybeUninit::uninit() }; BLOCK],
            filled: 0,
        }
    }

    /// A scratch block on the heap, allocated without being written (no block-sized copy from
    /// the stack, as `Box::new(Scratch::new())` may make).
    #[must_use]
    pub fn boxed() -> Box<Self> {
        let mut b = Box::<Self>::new_uninit();
        // SAFETY: `filled` is initialised here; `slots` are `MaybeUninit`, for which
        // uninitialised memory is a valid value. So the whole value is initialised.
        unsafe {
            std::ptr::addr_of_mut!((*b.as_mut_ptr()).filled).write(0);
            b.assume_init()
        }
    }

    /// Writes `vals` (at most [`BLOCK`]) into the first slots and returns them.
    pub fn fill(&mut self, vals: impl IntoIterator<Item = T>) -> &[T] {
        let mut n = 0;
        for (slot, v) in self.slots.iter_mut().zip(vals) {
            slot.write(v);
            n += 1;
        }
        self.filled = n;
        self.filled()
    }

    /// Zeroes the first `n` slots (at most [`BLOCK`]), lets `write` overwrite them, and keeps
    /// them as filled: for converters that need an initialised `&mut [T]`.
    pub fn fill_with(&mut self, n: usize, write: impl FnOnce(&mut [T]))
    where
        T: bytemuck::Zeroable,
    {
        for slot in &mut self.slots[..n] {
            slot.write(T::zeroed());
        }
        self.filled = n;
        // SAFETY: the first `n` slots were just initialised.
        write(unsafe { &mut *(std::ptr::from_mut(&mut self.slots[..n]) as *mut [T]) });
    }

    /// What the last [`Scratch::fill`] wrote.
    #[must_use]
    pub fn filled(&self) -> &[T] {
        // SAFETY: `fill` wrote the first `filled` slots (zero before any fill).
        unsafe { assume_init(&self.slots[..self.filled]) }
    }
}

impl<T: Scalar> Scratch<T> {
    /// Gathers logical elements `start .. start + n` (`n <= BLOCK`) of `a` as native values
    /// (see [`Strided::gather`]) and returns them.
    pub fn gather_from(&mut self, a: &Strided, start: usize, n: usize) -> &[T] {
        let vals = a.gather_uninit(start, &mut self.slots[..n]);
        self.filled = n;
        vals
    }
}

/// # Safety
/// Every element of `s` must be initialised.
unsafe fn assume_init<T>(s: &[MaybeUninit<T>]) -> &[T] {
    // SAFETY: same layout, and the caller promises initialisation.
    unsafe { &*(std::ptr::from_ref(s) as *const [T]) }
}

/// Number of canonical blocks in `len` elements.
#[must_use]
pub fn block_count(len: usize) -> usize {
    len.div_ceil(BLOCK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Dtype, Elem};

    fn strided(
        data: &[u8],
        offset: usize,
        shape: &[usize],
        strides: &[isize],
        dtype: Dtype,
    ) -> Strided {
        // SAFETY: tests index only inside `data` (checked by extent below).
        let s = unsafe {
            Strided::new(
                data.as_ptr().add(offset),
                Dims::new(shape, strides).unwrap(),
                dtype,
            )
        };
        if let Some((lo, hi)) = s.dims().extent(dtype.size()) {
            assert!(offset as isize + lo >= 0 && offset as isize + hi <= data.len() as isize);
        }
        s
    }

    #[test]
    fn collapse_contiguous_nd() {
        let d = Dims::new(&[2, 3, 4], &[96, 32, 8]).unwrap();
        assert_eq!(d.shape(), &[24]);
        assert!(d.is_contiguous(8));
        let f = Dims::new(&[2, 3], &[8, 16]).unwrap(); // Fortran order
        assert_eq!(f.shape(), &[2, 3]);
        assert!(!f.is_contiguous(8));
        let z = Dims::new(&[3, 0, 2], &[0, 8, 8]).unwrap();
        assert_eq!(z.len(), 0);
        let s = Dims::new(&[], &[]).unwrap();
        assert_eq!(s.len(), 1);
        assert!(s.is_contiguous(8));
    }

    #[test]
    fn huge_layouts_are_refused_or_exact() {
        // A zero-stride view of 2^61 elements: fine, its extent is one element.
        let z = Dims::new(&[1 << 61], &[0]).unwrap();
        assert_eq!(z.len(), 1 << 61);
        assert_eq!(z.extent(1), Some((0, 1)));
        assert_eq!(block_count(z.len()), 1 << 50);
        // Counts beyond usize or isize, byte offsets beyond isize.
        let big = 1usize << 62;
        assert_eq!(Dims::new(&[big, 4], &[0, 0]), Err(LayoutError::TooLarge));
        assert_eq!(Dims::new(&[big, 3], &[0, 0]), Err(LayoutError::TooLarge));
        assert_eq!(Dims::new(&[big], &[8]), Err(LayoutError::TooLarge));
        assert_eq!(
            Dims::new(&[3, big], &[isize::MIN / 2, -1]),
            Err(LayoutError::TooLarge)
        );
        // Offsets that fit, but a stride · length that wraps around to the outer stride: the
        // axes must not be merged (the merged walk would overflow).
        let d = Dims::new(&[2, 1 << 31], &[isize::MIN, 1 << 32]).unwrap();
        assert_eq!(d.shape(), &[2, 1 << 31]);
        // Walking the last elements of a huge zero-stride view.
        let mut seen = 0;
        z.for_each_run((1 << 61) - 5, 5, |off, _, _, n| {
            assert_eq!(off, 0);
            seen += n;
        });
        assert_eq!(seen, 5);
    }

    #[test]
    fn gather_walks_c_order_with_swaps_and_negative_strides() {
        let vals: Vec<f64> = (0..24).map(f64::from).collect();
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
        // Reversed transpose of a 4x6 C array, read as 6x4 with negative strides.
        let s = strided(
            &bytes,
            23 * 8,
            &[6, 4],
            &[-8, -48],
            Dtype::native(Elem::F64),
        );
        let mut out = vec![0.0; 24];
        s.gather(0, &mut out);
        let expect: Vec<f64> = (0..6)
            .flat_map(|i| (0..4).map(move |j| (23 - i - 6 * j) as f64))
            .collect();
        assert_eq!(out, expect);
        // Any start inside gives the same elements.
        let mut part = vec![0.0; 7];
        s.gather(9, &mut part);
        assert_eq!(part, expect[9..16]);
        // Big-endian storage, one byte off alignment.
        let mut be = vec![0u8];
        be.extend(vals.iter().flat_map(|v| v.to_be_bytes()));
        let dt = Dtype {
            elem: Elem::F64,
            swap: cfg!(target_endian = "little"),
        };
        let s = strided(&be, 1, &[24], &[8], dt);
        assert!(s.as_slice::<f64>().is_none());
        let mut out = vec![0.0; 24];
        s.gather(0, &mut out);
        assert_eq!(out, vals);
    }

    #[test]
    fn blocks_cover_everything_once() {
        let n = 3 * BLOCK + 17;
        let vals: Vec<u32> = (0..n as u32).collect();
        let bytes: &[u8] = bytemuck::cast_slice(&vals);
        for stride in [4isize, 8] {
            let len = if stride == 4 { n } else { n / 2 };
            let s = strided(bytes, 0, &[len], &[stride], Dtype::native(Elem::U32));
            let mut seen = Vec::new();
            s.for_each_block::<u32>(0, block_count(len), |b| {
                assert!(b.len() <= BLOCK);
                seen.extend_from_slice(b);
            });
            let expect: Vec<u32> = (0..len).map(|i| vals[i * (stride as usize / 4)]).collect();
            assert_eq!(seen, expect);
        }
    }
}
