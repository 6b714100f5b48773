//! Identifiers: 12-byte values shown as 24 lowercase hex characters (MongoDB ObjectId form).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A 12-byte identifier laid out like a MongoDB ObjectId: 4 bytes of seconds since the epoch,
/// 5 random bytes fixed per process, and a 3-byte counter. Ids made later in one process sort
/// after earlier ones, and ids from different processes do not collide.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id([u8; 12]);

/// Ordered as the bytes are (so as the hex text is, and by time first), compared as one
/// integer: the derived order called `memcmp` for each comparison, which made sorting and
/// searching a group's receipts a tenth of a history request's CPU.
impl Ord for Id {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.ordinal().cmp(&other.ordinal())
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The text was not 24 hexadecimal characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id")]
pub struct InvalidId;

fn process_unique() -> &'static [u8; 5] {
    static UNIQUE: OnceLock<[u8; 5]> = OnceLock::new();
    UNIQUE.get_or_init(rand::random)
}

fn counter() -> &'static AtomicU32 {
    static COUNTER: OnceLock<AtomicU32> = OnceLock::new();
    COUNTER.get_or_init(|| AtomicU32::new(rand::random::<u32>() & 0x00ff_ffff))
}

impl Id {
    /// Makes a fresh id stamped with `unix_seconds`.
    pub fn generate(unix_seconds: u32) -> Self {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&unix_seconds.to_be_bytes());
        bytes[4..9].copy_from_slice(process_unique());
        let count = counter().fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
        bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        Self(bytes)
    }

    pub const fn from_bytes(bytes: [u8; 12]) -> Self {
        Self(bytes)
    }

    pub const fn bytes(&self) -> [u8; 12] {
        self.0
    }

    /// The bytes as one big-endian integer: ordered as the bytes are.
    const fn ordinal(&self) -> u128 {
        let b = self.0;
        u128::from_be_bytes([0, 0, 0, 0, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]])
    }

    /// Parses exactly 24 hexadecimal characters (either case; shown lowercase).
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        Self::parse_ascii(text.as_bytes())
    }

    /// [`parse`](Self::parse) on bytes not yet known to be UTF-8 (a stored column): anything
    /// but 24 hex digits is refused, so no separate UTF-8 check is needed.
    pub fn parse_ascii(text: &[u8]) -> Result<Self, InvalidId> {
        let raw: &[u8; 24] = text.try_into().map_err(|_| InvalidId)?;
        let mut bytes = [0u8; 12];
        for (byte, pair) in bytes.iter_mut().zip(raw.chunks_exact(2)) {
            let (hi, lo) = (HEX_VALUES[usize::from(pair[0])], HEX_VALUES[usize::from(pair[1])]);
            if (hi | lo) == INVALID {
                return Err(InvalidId);
            }
            *byte = (hi << 4) | lo;
        }
        Ok(Self(bytes))
    }

    /// The 24 lowercase hex characters, on the stack (what `Display` writes, without going
    /// through the formatting machinery once per byte).
    pub fn text(&self) -> IdText {
        let mut text = [0u8; 24];
        for (pair, byte) in text.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
            pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
        }
        IdText(text)
    }
}

/// An id as its 24 lowercase hex characters, held on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdText([u8; 24]);

impl IdText {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn as_bytes(&self) -> &[u8; 24] {
        &self.0
    }
}

impl fmt::Debug for IdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Marks a byte that is not a hex digit in [`HEX_VALUES`]; its high bits cannot come from
/// OR-ing two digit values, so one test covers both characters of a pair.
const INVALID: u8 = 0xff;

/// The value of every byte read as a hex digit (either case), or [`INVALID`].
const HEX_VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Id);

        impl $name {
            pub fn generate(unix_seconds: u32) -> Self {
                Self(Id::generate(unix_seconds))
            }
            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                Id::parse(text).map(Self)
            }
            /// The 24 lowercase hex characters, on the stack.
            pub fn text(&self) -> IdText {
                self.0.text()
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

typed_id!(
    /// Identifies a user account.
    UserId
);
typed_id!(
    /// Identifies a chat.
    ChatId
);
typed_id!(
    /// Identifies a message.
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_hex() {
        let id = Id::generate(1_700_000_000);
        let text = id.to_string();
        assert_eq!(text.len(), 24);
        assert!(text.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(Id::parse(&text), Ok(id));
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "abc",
            "zzzzzzzzzzzzzzzzzzzzzzzz",
            "0123456789abcdef0123456",
            "0123456789abcdef012345678",
            "é123456789abcdef0123456",
        ] {
            assert_eq!(Id::parse(bad), Err(InvalidId), "{bad:?}");
        }
        assert!(Id::parse("0123456789ABCDEF01234567").is_ok());
        // Bytes that are not UTF-8, or a multi-byte character in 24 bytes, are no id either.
        assert_eq!(Id::parse_ascii(&[0xff; 24]), Err(InvalidId));
        assert_eq!(Id::parse_ascii("é0123456789abcdef012345".as_bytes()), Err(InvalidId));
        // Bytes next to the digit ranges, and ones above ASCII, are not digits.
        for bad in ["/", ":", "@", "G", "`", "g", "\u{ff}"] {
            let text = format!("{bad}{}", "0".repeat(24 - bad.len()));
            assert_eq!(Id::parse(&text), Err(InvalidId), "{text:?}");
        }
    }

    #[test]
    fn text_is_lowercase_hex_of_every_byte() {
        let id = Id::from_bytes([0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80, 0x9a, 0xab, 0xcd, 0xef, 0xf0, 0xff]);
        assert_eq!(id.text().as_str(), "00010f107f809aabcdeff0ff");
        assert_eq!(id.to_string(), "00010f107f809aabcdeff0ff");
        assert_eq!(MessageId(id).text(), id.text());
        assert_eq!(Id::parse("00010F107F809AABCDEFF0FF"), Ok(id));
        for byte in 0..=255u8 {
            let id = Id::from_bytes([byte; 12]);
            assert_eq!(id.text().as_str(), format!("{byte:02x}").repeat(12));
            assert_eq!(Id::parse(id.text().as_str()), Ok(id));
        }
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = Id::generate(10);
        let b = Id::generate(10);
        let c = Id::generate(11);
        assert_ne!(a, b);
        assert!(c > a && c > b);
    }

    #[test]
    fn ids_are_ordered_as_their_bytes_and_their_text() {
        // Pairs that differ first at each byte, either way, and equal ones.
        let base: [u8; 12] = rand::random();
        for at in 0..12 {
            for (low, high) in [(0u8, 1u8), (0x7f, 0x80), (0xfe, 0xff), (0, 0xff)] {
                let (mut a, mut b) = (base, base);
                a[at] = low;
                b[at] = high;
                let (a, b) = (Id::from_bytes(a), Id::from_bytes(b));
                assert_eq!(a.cmp(&b), a.bytes().cmp(&b.bytes()), "byte {at}");
                assert_eq!(b.cmp(&a), b.text().as_str().cmp(a.text().as_str()), "byte {at}");
            }
        }
        let id = Id::from_bytes(base);
        assert_eq!(id.cmp(&id), std::cmp::Ordering::Equal);
        for _ in 0..1000 {
            let (a, b) = (Id::from_bytes(rand::random()), Id::from_bytes(rand::random()));
            assert_eq!(a.cmp(&b), a.bytes().cmp(&b.bytes()));
            assert_eq!(a.partial_cmp(&b), Some(a.text().as_str().cmp(b.text().as_str())));
        }
    }
}
