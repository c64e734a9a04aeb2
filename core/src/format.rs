//! The one parser for buffer `format` strings (PEP 3118 / `struct` syntax, single element).

use std::fmt;

/// The element types bufsum reads, as stored in memory (before any byte swap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F16,
    F32,
    F64,
    /// bfloat16 (8 exponent bits, 7 mantissa bits); from DLPack only (no `struct` code).
    BF16,
    /// float8 E4M3FN (no infinities, NaN `S.1111.111`); from DLPack only.
    F8E4M3FN,
    /// float8 E5M2 (IEEE-like, with infinities); from DLPack only.
    F8E5M2,
    /// Complex of two float32 (`Zf`).
    C64,
    /// Complex of two float64 (`Zd`).
    C128,
}

/// What kind of result an element type sums to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `b B h H i I l L q Q n N ?`: exact integer sums.
    Int,
    /// `e f d` (and bfloat16, float8 from DLPack): float64 accumulation.
    Float,
    /// `Zf Zd`: each part as for floats.
    Complex,
}

impl Elem {
    /// The element's usual name (NumPy's, where it has one), for messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Elem::Bool => "bool",
            Elem::I8 => "int8",
            Elem::U8 => "uint8",
            Elem::I16 => "int16",
            Elem::U16 => "uint16",
            Elem::I32 => "int32",
            Elem::U32 => "uint32",
            Elem::I64 => "int64",
            Elem::U64 => "uint64",
            Elem::F16 => "float16",
            Elem::F32 => "float32",
            Elem::F64 => "float64",
            Elem::BF16 => "bfloat16",
            Elem::F8E4M3FN => "float8_e4m3fn",
            Elem::F8E5M2 => "float8_e5m2",
            Elem::C64 => "complex64",
            Elem::C128 => "complex128",
        }
    }

    /// Bytes per element.
    #[must_use]
    pub const fn size(self) -> usize {
        match self {
            Elem::Bool | Elem::I8 | Elem::U8 | Elem::F8E4M3FN | Elem::F8E5M2 => 1,
            Elem::I16 | Elem::U16 | Elem::F16 | Elem::BF16 => 2,
            Elem::I32 | Elem::U32 | Elem::F32 => 4,
            Elem::I64 | Elem::U64 | Elem::F64 | Elem::C64 => 8,
            Elem::C128 => 16,
        }
    }

    #[must_use]
    pub const fn kind(self) -> Kind {
        match self {
            Elem::F16 | Elem::F32 | Elem::F64 | Elem::BF16 | Elem::F8E4M3FN | Elem::F8E5M2 => {
                Kind::Float
            }
            Elem::C64 | Elem::C128 => Kind::Complex,
            _ => Kind::Int,
        }
    }
}

/// A parsed element format: the element type and whether its bytes must be swapped to be read
/// on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dtype {
    pub elem: Elem,
    pub swap: bool,
}

impl Dtype {
    /// Native-order `Dtype` of `elem`.
    #[must_use]
    pub const fn native(elem: Elem) -> Self {
        Dtype { elem, swap: false }
    }

    #[must_use]
    pub const fn kind(self) -> Kind {
        self.elem.kind()
    }

    #[must_use]
    pub const fn size(self) -> usize {
        self.elem.size()
    }
}

/// The formats accepted, for error messages.
pub const ACCEPTED: &str = "the struct codes b B h H i I l L q Q n N ? e f d and complex Zf Zd, \
                            with an optional byte-order prefix @ = < > !";

/// Why a format string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub format: String,
    pub reason: &'static str,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported buffer format {:?} ({}); accepted are {}",
            self.format, self.reason, ACCEPTED
        )
    }
}

impl std::error::Error for FormatError {}

fn int_of_size(size: usize, signed: bool) -> Option<Elem> {
    Some(match (size, signed) {
        (1, true) => Elem::I8,
        (1, false) => Elem::U8,
        (2, true) => Elem::I16,
        (2, false) => Elem::U16,
        (4, true) => Elem::I32,
        (4, false) => Elem::U32,
        (8, true) => Elem::I64,
        (8, false) => Elem::U64,
        _ => return None,
    })
}

/// Parses a single-element `format` whose elements are `itemsize` bytes long.
///
/// Standard-size prefixes (`= < > !`) give `l`/`L` four bytes, as `struct` does; `ctypes`,
/// however, labels its 8-byte `c_long` arrays `<l`. The exporter's `itemsize` is the truth about
/// the memory, so an integer code is read at the exporter's `itemsize` when that is the code's
/// standard or native size, and refused otherwise.
///
/// # Errors
/// A [`FormatError`] naming the format for anything but one supported element.
pub fn parse(format: &str, itemsize: usize) -> Result<Dtype, FormatError> {
    let err = |reason| FormatError {
        format: format.to_owned(),
        reason,
    };
    let bytes = format.as_bytes();
    let (order, mut rest) = match bytes.first() {
        Some(&c @ (b'@' | b'=' | b'<' | b'>' | b'!')) => (c, &bytes[1..]),
        _ => (b'@', bytes),
    };
    // A repeat count of exactly one ("1d") is the same single element.
    if rest.first() == Some(&b'1') && rest.len() > 1 && !rest[1].is_ascii_digit() {
        rest = &rest[1..];
    }
    let native = order == b'@';
    let swap = match order {
        b'<' => cfg!(target_endian = "big"),
        b'>' | b'!' => cfg!(target_endian = "little"),
        _ => false,
    };
    let elem = match rest {
        [b'?'] => Elem::Bool,
        [b'e'] => Elem::F16,
        [b'f'] => Elem::F32,
        [b'd'] => Elem::F64,
        [b'Z', b'f'] => Elem::C64,
        [b'Z', b'd'] => Elem::C128,
        [c @ (b'b' | b'B' | b'h' | b'H' | b'i' | b'I' | b'l' | b'L' | b'q' | b'Q' | b'n' | b'N')] =>
        {
            let signed = c.is_ascii_lowercase();
            let (standard, native_size) = match c.to_ascii_lowercase() {
                b'b' => (1, 1),
                b'h' => (2, 2),
                b'i' => (4, std::mem::size_of::<std::ffi::c_int>()),
                b'l' => (4, std::mem::size_of::<std::ffi::c_long>()),
                b'q' => (8, 8),
                _ => (std::mem::size_of::<usize>(), std::mem::size_of::<usize>()),
            };
            let expected = if native { native_size } else { standard };
            let size = if itemsize == expected || itemsize == native_size || itemsize == standard {
                itemsize
            } else {
                return Err(err("itemsize does not match the type code"));
            };
            int_of_size(size, signed).ok_or_else(|| err("itemsize does not match the type code"))?
        }
        [] => return Err(err("empty format")),
        [b'Z', ..] => return Err(err("only complex Zf and Zd are supported")),
        [_] => return Err(err("type code not summable")),
        _ => return Err(err("not a single numeric element")),
    };
    if elem.size() != itemsize {
        return Err(err("itemsize does not match the type code"));
    }
    Ok(Dtype { elem, swap })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LE: bool = cfg!(target_endian = "little");

    #[test]
    fn native_and_prefixed_codes() {
        assert_eq!(parse("d", 8), Ok(Dtype::native(Elem::F64)));
        assert_eq!(parse("@d", 8), Ok(Dtype::native(Elem::F64)));
        assert_eq!(parse("<d", 8).unwrap().swap, !LE);
        assert_eq!(parse(">d", 8).unwrap().swap, LE);
        assert_eq!(parse("!i", 4).unwrap().swap, LE);
        assert_eq!(parse("=e", 2).unwrap().elem, Elem::F16);
        assert_eq!(parse("<Zd", 16).unwrap().elem, Elem::C128);
        assert_eq!(parse("Zf", 8).unwrap().elem, Elem::C64);
        assert_eq!(parse("?", 1).unwrap().elem, Elem::Bool);
        assert_eq!(parse("B", 1).unwrap().elem, Elem::U8);
        assert_eq!(parse("1d", 8).unwrap().elem, Elem::F64);
    }

    #[test]
    fn standard_and_native_long() {
        assert_eq!(parse("<l", 4).unwrap().elem, Elem::I32);
        assert_eq!(parse("=L", 4).unwrap().elem, Elem::U32);
        // ctypes labels c_long arrays "<l" with 8-byte items.
        let native_long = std::mem::size_of::<std::ffi::c_long>();
        assert_eq!(parse("<l", native_long).unwrap().size(), native_long);
        assert_eq!(parse("l", native_long).unwrap().size(), native_long);
        assert_eq!(parse("n", 8).unwrap().elem, Elem::I64);
        assert_eq!(parse("N", 8).unwrap().elem, Elem::U64);
        assert!(parse("q", 4).is_err());
        assert!(parse("d", 4).is_err());
    }

    #[test]
    fn refusals_name_the_format() {
        for f in [
            "c", "x", "P", "O", "3s", "s", "dd", "T{d:a:}", "g", "Zg", "", "<", "2d", "w",
        ] {
            let e = parse(f, 8).unwrap_err();
            assert_eq!(e.format, f);
            assert!(e.to_string().contains("accepted"));
        }
    }
}
