//! Identifiers and timestamps. Every id is 128 random bits chosen by the caller (the model
//! never draws randomness itself), shown as 32 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An id string that is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} id {text:?}: expected 32 hex digits")]
pub struct ParseIdError {
    /// Which kind of id was being parsed.
    pub what: &'static str,
    /// The text that failed to parse (cut to 64 characters).
    pub text: String,
}

macro_rules! id128 {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(ts_rs::TS)]
        #[ts(type = "string")]
        pub struct $name([u8; 16]);

        impl $name {
            /// Wraps 16 bytes (from the caller's id source).
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }
            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
            /// The first 8 hex digits, for compact display.
            pub fn short(&self) -> String {
                let mut s = self.to_string();
                s.truncate(8);
                s
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut bytes = [0u8; 16];
                match hex::decode_to_slice(s, &mut bytes) {
                    Ok(()) if s.len() == 32 => Ok(Self(bytes)),
                    _ => Err(ParseIdError {
                        what: $what,
                        text: s.chars().take(64).collect(),
                    }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id128!(
    /// A document: one Automerge document of any kind.
    DocId,
    "document"
);
id128!(
    /// A space: the unit of sharing and access control (a personal space or a cohort).
    SpaceId,
    "space"
);
id128!(
    /// A person (a profile with one or more devices).
    PersonId,
    "person"
);
id128!(
    /// An item inside a document: a module, post, checklist item, question, or log entry.
    ItemId,
    "item"
);

/// Milliseconds since the Unix epoch, as given by the caller's clock.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Default,
    ts_rs::TS,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Whole seconds since the Unix epoch (what Automerge change metadata records).
    pub const fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_through_text() {
        let id = DocId::from_bytes([0xab; 16]);
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<DocId>(), Ok(id));
        assert_eq!(id.short(), "abababab");
    }

    #[test]
    fn bad_ids_are_rejected() {
        for bad in ["", "abc", "zz", &"a".repeat(31), &"a".repeat(34)] {
            assert!(bad.parse::<SpaceId>().is_err(), "{bad:?} must not parse");
        }
    }
}
