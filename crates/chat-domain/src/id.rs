//! Identifiers: 12-byte values shown as 24 lowercase hex characters (MongoDB ObjectId form).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// A 12-byte identifier laid out like a MongoDB ObjectId: 4 bytes of seconds since the epoch,
/// 5 random bytes fixed per process, and a 3-byte counter. Ids made later in one process sort
/// after earlier ones, and ids from different processes do not collide.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 12]);

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

    /// Parses exactly 24 hexadecimal characters (either case; shown lowercase).
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let raw = text.as_bytes();
        if raw.len() != 24 {
            return Err(InvalidId);
        }
        let mut bytes = [0u8; 12];
        for (i, pair) in raw.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0]).ok_or(InvalidId)?;
            let lo = hex_value(pair[1]).ok_or(InvalidId)?;
            bytes[i] = (hi << 4) | lo;
        }
        Ok(Self(bytes))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
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
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = Id::generate(10);
        let b = Id::generate(10);
        let c = Id::generate(11);
        assert_ne!(a, b);
        assert!(c > a && c > b);
    }
}
