//! Columns: the one plain description of input memory that every input protocol produces, and
//! the one place where absent values are compacted out.
//!
//! A [`Column`] is a sequence of [`Segment`]s of one element type: one segment for a buffer or
//! a DLPack tensor, one per chunk for an Arrow stream. A segment holds values (strided memory,
//! or a bitmap for Arrow's bit-packed bools) and optionally a validity bitmap (Arrow nulls).
//!
//! **Absent values** are nulls and, when asked (`omit_nan`), NaNs (a complex element is NaN
//! when either part is). [`compact`] walks the segments in order and hands the *present* values
//! to its caller in canonical blocks of [`BLOCK`] values of the compacted sequence — exactly the
//! blocks a contiguous array of those values would give, so `sum` of a chunked, null-holding
//! column has the bits of `sum` of its present values gathered into one array. [`compact_pairs`]
//! does the same for two columns of equal length read in lockstep (dot products), dropping a
//! pair when either element is absent. Both read sequentially: results never depend on the
//! thread count, so the compacting path has no threads.
//!
//! A column of one segment with no validity ([`Column::as_strided`]) needs no compaction; the
//! reductions then take their in-place, threaded, SIMD paths unchanged.

use smallvec::SmallVec;

use crate::format::{Dtype, Elem};
use crate::layout::{overlap, Overlap, Scratch, Strided, BLOCK};
use crate::scalar::{Bool8, Scalar};

/// Values per presence word.
const WORD: usize = 64;

/// A bitmap of Arrow's layout: bit `i` is bit `(offset + i) % 8` (least significant first) of
/// byte `(offset + i) / 8` from `ptr`.
#[derive(Clone, Copy, Debug)]
pub struct Bitmap {
    ptr: *const u8,
    offset: usize,
}

impl Bitmap {
    /// # Safety
    /// Every byte holding one of the bits the bitmap is read at (bits `offset .. offset + len`
    /// for the length of the segment it describes) must stay readable for as long as the value,
    /// or a [`Column`] holding it, is used, from any thread (the contract of [`Strided::new`]).
    #[must_use]
    pub unsafe fn new(ptr: *const u8, offset: usize) -> Self {
        Bitmap { ptr, offset }
    }

    /// Bits `start .. start + n` (`0 < n <= 64`) as the low bits of a word, bit `start` lowest.
    /// Reads only the bytes holding those bits.
    #[inline]
    fn word(&self, start: usize, n: usize) -> u64 {
        debug_assert!(n > 0 && n <= WORD);
        let first = self.offset + start;
        let (lo, hi) = (first / 8, (first + n - 1) / 8);
        let mut acc = 0u128;
        for (k, i) in (lo..=hi).enumerate() {
            // SAFETY: byte `i` holds one of the bits asked for (contract of `new`).
            acc |= u128::from(unsafe { self.ptr.add(i).read() }) << (8 * k);
        }
        // Truncation keeps exactly the `n <= 64` bits asked for.
        #[allow(clippy::cast_possible_truncation)]
        let w = (acc >> (first % 8)) as u64;
        w & ones(n)
    }

    /// How many of bits `start .. start + len` are set.
    fn count_ones(&self, start: usize, len: usize) -> usize {
        let mut n = 0;
        let mut at = start;
        while at < start + len {
            let k = WORD.min(start + len - at);
            n += self.word(at, k).count_ones() as usize;
            at += k;
        }
        n
    }
}

/// The low `n <= 64` bits set.
#[inline(always)]
fn ones(n: usize) -> u64 {
    if n >= WORD {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Where a segment's values are.
#[derive(Clone, Debug)]
pub enum Values {
    /// Elements in memory, any layout (walked in C order).
    Strided(Strided),
    /// `len` bit-packed bools (Arrow `bool`), read as [`Bool8`] values.
    Bits { bits: Bitmap, len: usize },
}

/// One run of values, with its validity (`None`: every value is present).
#[derive(Clone, Debug)]
pub struct Segment {
    pub values: Values,
    pub validity: Option<Bitmap>,
}

impl Segment {
    /// A segment of present values.
    #[must_use]
    pub fn dense(values: Strided) -> Self {
        Segment {
            values: Values::Strided(values),
            validity: None,
        }
    }

    /// Number of values, present or not.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.values {
            Values::Strided(s) => s.len(),
            Values::Bits { len, .. } => *len,
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of null values.
    #[must_use]
    pub fn null_count(&self) -> usize {
        self.validity
            .map_or(0, |v| self.len() - v.count_ones(0, self.len()))
    }
}

/// Why segments do not make a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnError {
    /// A segment's element type differs from the column's.
    MixedTypes,
    /// Bit-packed values of a type other than bool.
    BitsNotBool,
}

/// A sequence of segments of one element type: the plain description of any input.
#[derive(Clone, Debug)]
pub struct Column {
    dtype: Dtype,
    segments: SmallVec<[Segment; 1]>,
    len: usize,
}

// SAFETY: a column is pointers plus arithmetic; every pointer in it came with the contract of
// `Strided::new` or `Bitmap::new` (readable from any thread while used), and it only reads.
unsafe impl Send for Column {}
// SAFETY: as for `Send`.
unsafe impl Sync for Column {}

impl Column {
    /// A column of `segments` (empty segments are dropped).
    ///
    /// # Errors
    /// A strided segment of another element type than `dtype`, or bits of a non-bool type.
    pub fn new(
        dtype: Dtype,
        segments: impl IntoIterator<Item = Segment>,
    ) -> Result<Self, ColumnError> {
        let mut col = Column {
            dtype,
            segments: SmallVec::new(),
            len: 0,
        };
        for seg in segments {
            match &seg.values {
                Values::Strided(s) if s.dtype() != dtype => return Err(ColumnError::MixedTypes),
                Values::Bits { .. } if dtype.elem != Elem::Bool => {
                    return Err(ColumnError::BitsNotBool)
                }
                _ => {}
            }
            if !seg.is_empty() {
                col.len += seg.len();
                col.segments.push(seg);
            }
        }
        Ok(col)
    }

    /// The column of one buffer's elements.
    #[must_use]
    pub fn from_strided(values: Strided) -> Self {
        let dtype = values.dtype();
        let len = values.len();
        let mut segments = SmallVec::new();
        segments.push(Segment::dense(values));
        Column {
            dtype,
            segments,
            len,
        }
    }

    #[must_use]
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Number of values, present or not.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[must_use]
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Number of nulls (NaNs are not counted).
    #[must_use]
    pub fn null_count(&self) -> usize {
        self.segments.iter().map(Segment::null_count).sum()
    }

    /// The values as one strided view when nothing needs compacting away: a single segment of
    /// strided values with no validity (or an empty column). Such columns take the reductions'
    /// in-place, threaded paths.
    #[must_use]
    pub fn as_strided(&self) -> Option<&Strided> {
        match &self.segments[..] {
            [Segment {
                values: Values::Strided(s),
                validity: None,
            }] => Some(s),
            _ => None,
        }
    }

    /// The real and imaginary parts of a complex column as two real columns over the same
    /// memory, with the same validity; `None` if not complex.
    #[must_use]
    pub fn complex_parts(&self) -> Option<(Column, Column)> {
        let part = |pick_im: bool| -> Option<Column> {
            let mut col = Column {
                dtype: Dtype::native(Elem::F64),
                segments: SmallVec::new(),
                len: self.len,
            };
            for seg in &self.segments {
                let Values::Strided(s) = &seg.values else {
                    return None;
                };
                let (re, im) = s.complex_parts()?;
                col.dtype = re.dtype();
                col.segments.push(Segment {
                    values: Values::Strided(if pick_im { im } else { re }),
                    validity: seg.validity,
                });
            }
            Some(col)
        };
        match self.dtype.elem {
            Elem::C64 | Elem::C128 => Some((part(false)?, part(true)?)),
            _ => None,
        }
    }

    /// Whether any value of the column may share memory with `other` (conservative).
    #[must_use]
    pub fn may_overlap(&self, other: &Strided) -> bool {
        self.segments.iter().any(|seg| match &seg.values {
            Values::Strided(s) => overlap(s, other) != Overlap::Disjoint,
            // A bitmap's bytes are not described by a `Strided`; compare its byte range.
            Values::Bits { bits, len } => {
                let lo = bits.ptr as usize + bits.offset / 8;
                let hi = bits.ptr as usize + (bits.offset + len).div_ceil(8);
                other
                    .dims()
                    .extent(other.dtype().size())
                    .is_some_and(|(a, b)| {
                        let base = other.as_ptr() as isize;
                        ((base + a) as usize) < hi && lo < (base + b) as usize
                    })
            }
        })
    }
}

/// Reads one column's values in order, a window at a time, with the presence of each.
struct Cursor<'c, T> {
    segments: &'c [Segment],
    omit_nan: bool,
    seg: usize,
    /// Next value inside the current segment.
    pos: usize,
    /// Values `stage_start .. stage_start + stage_len` of the current segment, readable as
    /// `T`: in place (`in_place`) or copied into `stage`.
    in_place: Option<&'c [T]>,
    stage: Box<Scratch<T>>,
    stage_start: usize,
    stage_len: usize,
}

impl<'c, T: Scalar> Cursor<'c, T> {
    fn new(col: &'c Column, omit_nan: bool) -> Self {
        Cursor {
            segments: &col.segments,
            omit_nan,
            seg: 0,
            pos: 0,
            in_place: None,
            stage: Scratch::boxed(),
            stage_start: 0,
            stage_len: 0,
        }
    }

    /// Values readable at once from the current position (0 at the end of the column), after
    /// moving past finished segments and staging the next window.
    fn available(&mut self) -> usize {
        loop {
            let Some(seg) = self.segments.get(self.seg) else {
                return 0;
            };
            if self.pos == seg.len() {
                self.seg += 1;
                self.pos = 0;
                self.in_place = None;
                self.stage_start = 0;
                self.stage_len = 0;
                continue;
            }
            if self.pos == self.stage_start + self.stage_len {
                self.restage(seg);
            }
            return self.stage_start + self.stage_len - self.pos;
        }
    }

    /// Makes values from `pos` on readable: the whole segment in place when it allows, else up
    /// to a block copied (gathered, byte-swapped, or expanded from bits) into the stage.
    fn restage(&mut self, seg: &'c Segment) {
        let n = BLOCK.min(seg.len() - self.pos);
        self.stage_start = self.pos;
        self.stage_len = n;
        match &seg.values {
            Values::Strided(s) => {
                if let Some(all) = s.as_slice::<T>() {
                    self.in_place = Some(all);
                    self.stage_start = 0;
                    self.stage_len = all.len();
                } else {
                    let pos = self.pos;
                    self.stage.fill_with(n, |dst| s.gather(pos, dst));
                }
            }
            Values::Bits { bits, .. } => {
                // Only bool columns hold bits (checked by `Column::new`), so `T` is one byte;
                // anything else reads as zeros rather than panicking.
                let pos = self.pos;
                self.stage.fill_with(n, |dst| {
                    for (c, chunk) in dst.chunks_mut(WORD).enumerate() {
                        let w = bits.word(pos + c * WORD, chunk.len());
                        for (j, d) in chunk.iter_mut().enumerate() {
                            let bit = Bool8(u8::from((w >> j) & 1 == 1));
                            *d = bytemuck::try_cast(bit).unwrap_or_else(|_| T::zeroed());
                        }
                    }
                });
            }
        }
    }

    /// Takes the next `k <= available()` values and their presence word; with `k > 64`
    /// (callers ask for that only when [`Cursor::is_dense_here`]) the word is all ones.
    fn take(&mut self, k: usize) -> (&[T], u64) {
        let seg = &self.segments[self.seg];
        let at = self.pos - self.stage_start;
        let vals = match self.in_place {
            Some(all) => &all[self.pos..self.pos + k],
            None => &self.stage.filled()[at..at + k],
        };
        let mut present = match seg.validity {
            Some(v) if k <= WORD => v.word(self.pos, k),
            _ => ones(k),
        };
        if self.omit_nan && k <= WORD {
            present &= !nan_mask(vals);
        }
        self.pos += k;
        (vals, present)
    }

    /// Whether every value of the current segment is present without looking (no validity,
    /// no NaN test), so runs longer than a word may be taken.
    fn is_dense_here(&self) -> bool {
        !self.omit_nan
            && self
                .segments
                .get(self.seg)
                .is_some_and(|s| s.validity.is_none())
    }
}

/// Bit `j` set where `vals[j]` (at most 64 values) is NaN; in groups of eight, which compile to
/// vector compares and mask extractions.
#[inline]
fn nan_mask<T: Scalar>(vals: &[T]) -> u64 {
    let mut mask = 0u64;
    let mut groups = vals.chunks_exact(8);
    let mut shift = 0;
    for g in &mut groups {
        let mut byte = 0u64;
        for (i, &x) in g.iter().enumerate() {
            byte |= u64::from(x.is_nan()) << i;
        }
        mask |= byte << shift;
        shift += 8;
    }
    for (i, &x) in groups.remainder().iter().enumerate() {
        mask |= u64::from(x.is_nan()) << (shift + i);
    }
    mask
}

/// Collects present values into canonical blocks.
struct Blocks<T> {
    // `BLOCK + WORD` slots: a word's values are written without a bounds decision per value.
    buf: Vec<T>,
    n: usize,
}

impl<T: Scalar> Blocks<T> {
    fn new() -> Self {
        Blocks {
            buf: vec![T::zeroed(); BLOCK + WORD],
            n: 0,
        }
    }

    /// Appends the values of `vals` whose bit is set in `present` (`vals.len() <= 64`).
    #[inline]
    fn push_word(&mut self, vals: &[T], present: u64) {
        let k = vals.len();
        if present == ones(k) {
            self.buf[self.n..self.n + k].copy_from_slice(vals);
            self.n += k;
        } else if present != 0 {
            // Branch-free: every value is written, the count moves only past present ones.
            let dst = &mut self.buf[self.n..self.n + k];
            let mut m = 0;
            for (j, &x) in vals.iter().enumerate() {
                dst[m] = x;
                m += ((present >> j) & 1) as usize;
            }
            self.n += m;
        }
    }

    /// Hands a full block to `f`, keeping the overflow for the next one.
    #[inline]
    fn flush_full(&mut self, f: &mut impl FnMut(&[T])) {
        if self.n >= BLOCK {
            f(&self.buf[..BLOCK]);
            self.buf.copy_within(BLOCK..self.n, 0);
            self.n -= BLOCK;
        }
    }
}

/// Calls `f` with the present values of `col` (nulls dropped, and NaNs when `omit_nan`), in
/// order, in canonical blocks: every block but the last holds exactly [`BLOCK`] values.
/// Returns the number of present values.
///
/// `T` must be the column's element type as a native value (what [`crate::scalar`]'s
/// `by_elem!` picks; bool columns read as [`Bool8`]). Complex columns are compacted through
/// their parts with [`compact_pairs`].
pub fn compact<T: Scalar>(col: &Column, omit_nan: bool, mut f: impl FnMut(&[T])) -> usize {
    let mut cur = Cursor::<T>::new(col, omit_nan);
    let mut out = Blocks::<T>::new();
    let mut total = 0;
    loop {
        let avail = cur.available();
        if avail == 0 {
            break;
        }
        if cur.is_dense_here() {
            // A run of present values: whole blocks straight from the source when the output is
            // at a block boundary, else copied in up to the boundary.
            let k = avail.min(BLOCK - out.n);
            let (vals, _) = cur.take(k);
            if out.n == 0 && k == BLOCK {
                f(vals);
            } else {
                out.buf[out.n..out.n + k].copy_from_slice(vals);
                out.n += k;
                out.flush_full(&mut f);
            }
            total += k;
            continue;
        }
        let k = avail.min(WORD);
        let before = out.n;
        let (vals, present) = cur.take(k);
        out.push_word(vals, present);
        total += out.n - before;
        out.flush_full(&mut f);
    }
    if out.n > 0 {
        f(&out.buf[..out.n]);
    }
    total
}

/// Calls `f` with the present pairs of `x` and `y` (equal lengths, any element types and
/// segment boundaries), in order, in canonical blocks of pairs: a pair is absent when either
/// element is (null, or NaN when `omit_nan`). Returns the number of present pairs, or `None`
/// (calling `f` never) when the lengths differ.
pub fn compact_pairs<T: Scalar, U: Scalar>(
    x: &Column,
    y: &Column,
    omit_nan: bool,
    mut f: impl FnMut(&[T], &[U]),
) -> Option<usize> {
    if x.len() != y.len() {
        return None;
    }
    let (mut cx, mut cy) = (Cursor::<T>::new(x, omit_nan), Cursor::<U>::new(y, omit_nan));
    let (mut ox, mut oy) = (Blocks::<T>::new(), Blocks::<U>::new());
    let mut total = 0;
    loop {
        let k = cx.available().min(cy.available()).min(WORD);
        if k == 0 {
            break;
        }
        let (vx, px) = cx.take(k);
        let (vy, py) = cy.take(k);
        let present = px & py;
        ox.push_word(vx, present);
        oy.push_word(vy, present);
        total += present.count_ones() as usize;
        if ox.n >= BLOCK {
            f(&ox.buf[..BLOCK], &oy.buf[..BLOCK]);
            ox.buf.copy_within(BLOCK..ox.n, 0);
            oy.buf.copy_within(BLOCK..oy.n, 0);
            ox.n -= BLOCK;
            oy.n -= BLOCK;
        }
    }
    if ox.n > 0 {
        f(&ox.buf[..ox.n], &oy.buf[..oy.n]);
    }
    Some(total)
}

/// How many present (non-null) values of `col` are NaN (a complex element counts once when
/// either part is NaN); 0 for integer columns.
#[must_use]
pub fn nan_count(col: &Column) -> usize {
    fn float<T: crate::scalar::Float>(c: &Column) -> usize {
        c.len() - c.null_count() - compact::<T>(c, true, |_| {})
    }
    #[allow(clippy::extra_unused_type_parameters)] // one signature for `by_elem!`
    fn int<T: crate::scalar::Int>(_: &Column) -> usize {
        0
    }
    let complex = || {
        let Some((re, im)) = col.complex_parts() else {
            return 0;
        };
        let (Some(a), Some(b)) = (words(&re, true), words(&im, true)) else {
            return 0;
        };
        let kept =
            compact_lockstep(&mut [a, b], re.len(), &[re.len(), im.len()], |_, _| {}).unwrap_or(0);
        col.len() - col.null_count() - kept
    };
    crate::scalar::by_elem!(col.dtype().elem, int: int, float: float, complex: complex(), (col))
}

/// One column's values as f64, a word at a time, with their presence: the element-type-free
/// face of the column cursor, so that walks over several columns in lockstep ([`compact_lockstep`])
/// are not generic over every pair of element types. A value is its nearest f64 plus an exact
/// remainder (nonzero only for 64-bit integers beyond 2^53).
pub trait Words {
    /// Values readable at once (0 at the end).
    fn available(&mut self) -> usize;
    /// Takes the next `k <= min(available(), 64)` values into `near` and `rest` and returns
    /// their presence word.
    fn take(&mut self, k: usize, near: &mut [f64], rest: &mut [f64]) -> u64;
    /// Whether remainders can be nonzero (64-bit integers).
    fn has_rest(&self) -> bool;
}

struct FloatWords<'c, T>(Cursor<'c, T>);
struct IntWords<'c, T>(Cursor<'c, T>, bool);

impl<T: crate::scalar::Float> Words for FloatWords<'_, T> {
    fn available(&mut self) -> usize {
        self.0.available()
    }
    fn take(&mut self, k: usize, near: &mut [f64], rest: &mut [f64]) -> u64 {
        let (vals, present) = self.0.take(k);
        for ((n, r), &v) in near.iter_mut().zip(rest.iter_mut()).zip(vals) {
            *n = v.to_f64();
            *r = 0.0;
        }
        present
    }
    fn has_rest(&self) -> bool {
        false
    }
}

impl<T: crate::scalar::Int> Words for IntWords<'_, T> {
    fn available(&mut self) -> usize {
        self.0.available()
    }
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    fn take(&mut self, k: usize, near: &mut [f64], rest: &mut [f64]) -> u64 {
        let (vals, present) = self.0.take(k);
        for ((n, r), &v) in near.iter_mut().zip(rest.iter_mut()).zip(vals) {
            let v = v.to_i128();
            *n = v as f64;
            // |v - nearest| <= 2^10 for 64-bit integers: exact.
            *r = (v - *n as i128) as f64;
        }
        present
    }
    fn has_rest(&self) -> bool {
        self.1
    }
}

/// The [`Words`] of a real column (NaNs absent too with `omit_nan`); `None` for complex ones
/// (take their [`Column::complex_parts`]).
#[must_use]
pub fn words(col: &Column, omit_nan: bool) -> Option<Box<dyn Words + '_>> {
    fn float<'c, T: crate::scalar::Float>(c: &'c Column, o: bool) -> Option<Box<dyn Words + 'c>> {
        Some(Box::new(FloatWords(Cursor::<T>::new(c, o))))
    }
    fn int<'c, T: crate::scalar::Int>(c: &'c Column, o: bool) -> Option<Box<dyn Words + 'c>> {
        let wide = matches!(c.dtype().elem, Elem::I64 | Elem::U64);
        Some(Box::new(IntWords(Cursor::<T>::new(c, o), wide)))
    }
    crate::scalar::by_elem!(col.dtype().elem, int: int, float: float, complex: None, (col, omit_nan))
}

/// What [`compact_lockstep`] calls with each block: per column, nearest values and remainders.
pub type LockstepFn<'a> = dyn FnMut(&[&[f64]], &[&[f64]]) + 'a;

/// Most columns walked in lockstep (the four real parts of two complex inputs).
pub const MAX_LOCKSTEP: usize = 4;

/// Walks columns of equal length in lockstep and calls `f` with canonical blocks of the
/// positions where *every* column is present: for each column its nearest-f64 values and
/// their exact remainders (all zero unless [`Words::has_rest`]). Every block but the last
/// holds exactly [`BLOCK`] positions. Returns how many positions were present in all, or
/// `None` (calling `f` never) when the lengths differ.
pub fn compact_lockstep(
    cols: &mut [Box<dyn Words + '_>],
    len: usize,
    lens: &[usize],
    mut f: impl FnMut(&[&[f64]], &[&[f64]]),
) -> Option<usize> {
    let m = cols.len();
    if m == 0 || m > MAX_LOCKSTEP || lens.iter().any(|&l| l != len) {
        return None;
    }
    // Per column: nearest and remainder output blocks, with a word of slack.
    let mut near = vec![vec![0.0f64; BLOCK + WORD]; m];
    let mut rest = vec![vec![0.0f64; BLOCK + WORD]; m];
    let (mut wn, mut wr) = (
        [[0.0f64; WORD]; MAX_LOCKSTEP],
        [[0.0f64; WORD]; MAX_LOCKSTEP],
    );
    let mut n = 0;
    let mut total = 0;
    let emit = |k: usize, near: &[Vec<f64>], rest: &[Vec<f64>], f: &mut LockstepFn<'_>| {
        let ns: SmallVec<[&[f64]; MAX_LOCKSTEP]> = near.iter().map(|v| &v[..k]).collect();
        let rs: SmallVec<[&[f64]; MAX_LOCKSTEP]> = rest.iter().map(|v| &v[..k]).collect();
        f(&ns, &rs);
    };
    loop {
        let k = cols
            .iter_mut()
            .map(|c| c.available())
            .min()
            .unwrap_or(0)
            .min(WORD);
        if k == 0 {
            break;
        }
        let mut present = ones(k);
        for (i, c) in cols.iter_mut().enumerate() {
            present &= c.take(k, &mut wn[i][..k], &mut wr[i][..k]);
        }
        // Branch-free compaction of each column's word (as `Blocks::push_word`).
        let mut added = 0;
        for i in 0..m {
            let (dn, dr) = (&mut near[i][n..n + k], &mut rest[i][n..n + k]);
            let mut at = 0;
            for j in 0..k {
                dn[at] = wn[i][j];
                dr[at] = wr[i][j];
                at += ((present >> j) & 1) as usize;
            }
            added = at;
        }
        n += added;
        total += added;
        if n >= BLOCK {
            emit(BLOCK, &near, &rest, &mut f);
            for i in 0..m {
                near[i].copy_within(BLOCK..n, 0);
                rest[i].copy_within(BLOCK..n, 0);
            }
            n -= BLOCK;
        }
    }
    if n > 0 {
        emit(n, &near, &rest, &mut f);
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Dims;

    fn strided<T: Scalar>(xs: &[T], elem: Elem) -> Strided {
        // SAFETY: the tests keep `xs` alive while the view is used.
        unsafe {
            Strided::new(
                xs.as_ptr().cast(),
                Dims::new(&[xs.len()], &[std::mem::size_of::<T>() as isize]).unwrap(),
                Dtype::native(elem),
            )
        }
    }

    fn bitmap(bits: &[bool]) -> Vec<u8> {
        let mut bytes = vec![0u8; bits.len().div_ceil(8) + 1];
        for (i, &b) in bits.iter().enumerate() {
            bytes[i / 8] |= u8::from(b) << (i % 8);
        }
        bytes
    }

    fn noisy(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    /// `xs` cut at `cuts`, each piece a segment, with `valid[i]` telling presence; the
    /// segments' bitmaps start at odd bit offsets.
    fn chunked(xs: &[f64], valid: &[bool], cuts: &[usize], maps: &mut Vec<Vec<u8>>) -> Column {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(xs.len());
        maps.clear();
        for w in bounds.windows(2) {
            let mut padded = vec![false; 3];
            padded.extend_from_slice(&valid[w[0]..w[1]]);
            maps.push(bitmap(&padded));
        }
        let segs = bounds.windows(2).zip(maps.iter()).map(|(w, m)| Segment {
            values: Values::Strided(strided(&xs[w[0]..w[1]], Elem::F64)),
            // SAFETY: the bitmap covers bits 3 .. 3 + len.
            validity: Some(unsafe { Bitmap::new(m.as_ptr(), 3) }),
        });
        Column::new(Dtype::native(Elem::F64), segs).unwrap()
    }

    #[test]
    fn compaction_gives_the_blocks_of_the_present_values() {
        let n = 5 * BLOCK + 333;
        let xs = noisy(n, 1);
        let valid: Vec<bool> = (0..n).map(|i| (i * 7919) % 10 != 3).collect();
        let want: Vec<f64> = xs
            .iter()
            .zip(&valid)
            .filter(|(_, &v)| v)
            .map(|(&x, _)| x)
            .collect();
        let mut maps = Vec::new();
        for cuts in [
            vec![],
            vec![1],
            vec![64, 65, 2000, 2048, 4100],
            vec![BLOCK, 2 * BLOCK],
        ] {
            let col = chunked(&xs, &valid, &cuts, &mut maps);
            let mut got = Vec::new();
            let count = compact::<f64>(&col, false, |b| {
                assert!(b.len() == BLOCK || got.len() + b.len() == want.len());
                got.extend_from_slice(b);
            });
            assert_eq!(got, want, "cuts {cuts:?}");
            assert_eq!(count, want.len());
            assert_eq!(col.null_count(), n - want.len());
        }
    }

    #[test]
    fn dense_chunks_and_nan_omission() {
        let mut xs = noisy(3 * BLOCK + 5, 2);
        xs[7] = f64::NAN;
        xs[BLOCK + 1] = f64::NAN;
        let (a, b) = xs.split_at(BLOCK - 3);
        let col = Column::new(
            Dtype::native(Elem::F64),
            [
                Segment::dense(strided(a, Elem::F64)),
                Segment::dense(strided(b, Elem::F64)),
            ],
        )
        .unwrap();
        assert!(col.as_strided().is_none());
        let mut got = Vec::new();
        compact::<f64>(&col, false, |b| got.extend_from_slice(b));
        assert_eq!(got.len(), xs.len());
        assert!(got.iter().zip(&xs).all(|(g, x)| g.to_bits() == x.to_bits()));
        got.clear();
        let n = compact::<f64>(&col, true, |b| got.extend_from_slice(b));
        let want: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
        assert_eq!((got, n), (want.clone(), want.len()));
    }

    #[test]
    fn bits_expand_to_bools() {
        let vals: Vec<bool> = (0..300).map(|i| i % 3 == 0).collect();
        let valid: Vec<bool> = (0..300).map(|i| i % 5 != 0).collect();
        let (vm, nm) = (bitmap(&vals), bitmap(&valid));
        // SAFETY: both bitmaps cover 300 bits from offset 0.
        let seg = unsafe {
            Segment {
                values: Values::Bits {
                    bits: Bitmap::new(vm.as_ptr(), 0),
                    len: 300,
                },
                validity: Some(Bitmap::new(nm.as_ptr(), 0)),
            }
        };
        let col = Column::new(Dtype::native(Elem::Bool), [seg]).unwrap();
        let mut got = Vec::new();
        compact::<Bool8>(&col, false, |b| got.extend(b.iter().map(|x| x.0)));
        let want: Vec<u8> = (0..300)
            .filter(|i| valid[*i])
            .map(|i| u8::from(vals[i]))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn pairs_drop_when_either_is_absent() {
        let n = 2 * BLOCK + 100;
        let xs = noisy(n, 3);
        let ys: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let vx: Vec<bool> = (0..n).map(|i| i % 7 != 0).collect();
        let mut maps = Vec::new();
        let x = chunked(&xs, &vx, &[100, 3000], &mut maps);
        let mut ys_nan = ys.clone();
        ys_nan[5] = f32::NAN;
        let (y1, y2) = ys_nan.split_at(777);
        let y = Column::new(
            Dtype::native(Elem::F32),
            [
                Segment::dense(strided(y1, Elem::F32)),
                Segment::dense(strided(y2, Elem::F32)),
            ],
        )
        .unwrap();
        let (mut gx, mut gy) = (Vec::new(), Vec::new());
        let count = compact_pairs::<f64, f32>(&x, &y, true, |a, b| {
            assert_eq!(a.len(), b.len());
            gx.extend_from_slice(a);
            gy.extend_from_slice(b);
        })
        .unwrap();
        let keep: Vec<usize> = (0..n).filter(|&i| vx[i] && i != 5).collect();
        assert_eq!(count, keep.len());
        assert_eq!(gx, keep.iter().map(|&i| xs[i]).collect::<Vec<_>>());
        assert_eq!(gy, keep.iter().map(|&i| ys[i]).collect::<Vec<_>>());
        let short = Column::from_strided(strided(&ys[1..], Elem::F32));
        assert!(compact_pairs::<f64, f32>(&x, &short, false, |_, _| {}).is_none());
    }
}
