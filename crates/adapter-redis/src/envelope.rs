//! Signed envelopes: what crosses the events channel is `<hex HMAC-SHA256>.<JSON>`, so a node
//! delivers only what a node holding the cluster secret published. Anyone who can reach the
//! Redis server can PUBLISH on the channel; without the secret, nothing they send reaches a
//! socket. A timestamp inside the signed JSON bounds how long a captured envelope can be
//! replayed.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use wire::delivery::Delivery;

type HmacSha256 = Hmac<Sha256>;

/// Hex characters of a MAC: 32 bytes.
const MAC_HEX: usize = 64;

/// The label the envelope key is derived under, so that the cluster secret (often the JWT
/// secret) is never used as a MAC key for two purposes.
const KEY_LABEL: &[u8] = b"chat-server cluster envelope v1";

#[derive(Serialize)]
struct Outgoing<'a> {
    node: &'a str,
    /// Milliseconds since the Unix epoch when the envelope was sealed.
    at: u64,
    delivery: &'a Delivery,
}

/// An envelope whose signature and age were checked.
#[derive(Deserialize)]
pub(crate) struct Incoming {
    pub(crate) node: String,
    pub(crate) at: u64,
    pub(crate) delivery: Delivery,
}

/// Why an envelope is not delivered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No signature, or one that does not match: not from a node of this cluster.
    Unsigned,
    /// Signed, but not a delivery this version understands.
    Malformed,
    /// Signed, but sealed longer ago (or further ahead) than the allowed age: a replay, or a
    /// node whose clock is far off.
    Stale,
}

/// Seals and opens envelopes with a key derived from the cluster secret.
pub(crate) struct Sealer {
    key: HmacSha256,
    max_age_ms: u64,
}

impl Sealer {
    /// A sealer for `secret`; `None` when the secret is empty.
    pub(crate) fn new(secret: &[u8], max_age: std::time::Duration) -> Option<Self> {
        if secret.is_empty() {
            return None;
        }
        let mut derive = HmacSha256::new_from_slice(secret).ok()?;
        derive.update(KEY_LABEL);
        let key = HmacSha256::new_from_slice(&derive.finalize().into_bytes()).ok()?;
        Some(Self { key, max_age_ms: u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX) })
    }

    /// The message to PUBLISH for `delivery` from `node`, sealed at `now_ms`.
    pub(crate) fn seal(&self, node: &str, delivery: &Delivery, now_ms: u64) -> Result<String, serde_json::Error> {
        let json = serde_json::to_string(&Outgoing { node, at: now_ms, delivery })?;
        let mut mac = self.key.clone();
        mac.update(json.as_bytes());
        let mut sealed = hex::encode(mac.finalize().into_bytes());
        sealed.push('.');
        sealed.push_str(&json);
        Ok(sealed)
    }

    /// The envelope inside `message`, if its signature holds and it is fresh at `now_ms`.
    pub(crate) fn open(&self, message: &[u8], now_ms: u64) -> Result<Incoming, Refused> {
        let (Some(tag), Some(b'.')) = (message.get(..MAC_HEX), message.get(MAC_HEX)) else {
            return Err(Refused::Unsigned);
        };
        let json = &message[MAC_HEX + 1..];
        let tag = hex::decode(tag).map_err(|_| Refused::Unsigned)?;
        let mut mac = self.key.clone();
        mac.update(json);
        mac.verify_slice(&tag).map_err(|_| Refused::Unsigned)?;
        let envelope: Incoming = serde_json::from_slice(json).map_err(|_| Refused::Malformed)?;
        if envelope.at.abs_diff(now_ms) > self.max_age_ms {
            return Err(Refused::Stale);
        }
        Ok(envelope)
    }
}

/// Milliseconds since the Unix epoch, by this node's clock.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sealer(secret: &[u8]) -> Sealer {
        Sealer::new(secret, Duration::from_secs(60)).unwrap()
    }

    fn delivery() -> Delivery {
        serde_json::from_str(r#"{"rooms":["chat-1"],"event":"message:new","data":{"text":"hi"}}"#).unwrap()
    }

    #[test]
    fn a_sealed_envelope_opens_with_the_same_secret() {
        let s = sealer(b"0123456789abcdef0123456789abcdef");
        let sealed = s.seal("n1", &delivery(), 1_000_000).unwrap();
        let opened = s.open(sealed.as_bytes(), 1_000_500).unwrap();
        assert_eq!((opened.node.as_str(), opened.at), ("n1", 1_000_000));
        assert_eq!(opened.delivery.data.get(), r#"{"text":"hi"}"#);
    }

    #[test]
    fn unsigned_forged_tampered_and_foreign_envelopes_are_refused() {
        let s = sealer(b"0123456789abcdef0123456789abcdef");
        let sealed = s.seal("n1", &delivery(), 1_000_000).unwrap();
        let json = &sealed[MAC_HEX + 1..];
        assert_eq!(s.open(json.as_bytes(), 1_000_000).err(), Some(Refused::Unsigned), "no signature");
        let forged = format!("{}.{json}", "0".repeat(MAC_HEX));
        assert_eq!(s.open(forged.as_bytes(), 1_000_000).err(), Some(Refused::Unsigned), "forged");
        let tampered = sealed.replace("hi", "hj");
        assert_eq!(s.open(tampered.as_bytes(), 1_000_000).err(), Some(Refused::Unsigned), "tampered");
        let other = sealer(b"another secret of the same length!!").seal("n1", &delivery(), 1_000_000).unwrap();
        assert_eq!(s.open(other.as_bytes(), 1_000_000).err(), Some(Refused::Unsigned), "other cluster");
        for garbage in [&b""[..], b".", b"zz.{}", &[0xff; 80]] {
            assert_eq!(s.open(garbage, 1_000_000).err(), Some(Refused::Unsigned));
        }
    }

    #[test]
    fn a_signed_envelope_that_is_not_a_delivery_is_malformed() {
        let s = sealer(b"secret");
        let mut mac = s.key.clone();
        mac.update(b"{\"node\":\"n\"}");
        let message = format!("{}.{{\"node\":\"n\"}}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(s.open(message.as_bytes(), 0).err(), Some(Refused::Malformed));
    }

    #[test]
    fn an_old_envelope_is_stale() {
        let s = sealer(b"secret");
        let sealed = s.seal("n1", &delivery(), 1_000_000).unwrap();
        assert!(s.open(sealed.as_bytes(), 1_060_000).is_ok(), "60 s old is still fresh");
        assert_eq!(s.open(sealed.as_bytes(), 1_060_001).err(), Some(Refused::Stale), "a replay a minute later");
        assert_eq!(s.open(sealed.as_bytes(), 939_999).err(), Some(Refused::Stale), "from a clock far ahead");
    }

    #[test]
    fn an_empty_secret_is_refused() {
        assert!(Sealer::new(b"", Duration::from_secs(60)).is_none());
    }
}
