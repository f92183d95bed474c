//! The wire protocol of `/cohort/sync/1`: versioned, length-prefixed frames and their
//! size-checked codec.
//!
//! # Framing
//!
//! A connection is a reliable, ordered byte stream carrying frames:
//!
//! ```text
//! u32 length (big-endian, counts the bytes after itself) | u8 version | u8 type | payload
//! ```
//!
//! `length` is checked against [`MAX_FRAME`] before anything is buffered or allocated, and
//! every count and length inside a payload is checked against the bytes actually present
//! (and against [`MAX_CHANGE_BYTES`]) before a vector is sized from it. Decoding never
//! panics: any byte string yields a [`Frame`], a "need more bytes" answer, or a
//! [`FrameError`]. [`decode_frame`] is the entry point a fuzz target calls.
//!
//! Integers inside payloads are unsigned LEB128 varints (at most 5 bytes, values that fit in
//! a `u32`) unless noted; ids are their raw 16 bytes.
//!
//! # Frames (version 1)
//!
//! | type | frame      | payload                                                        |
//! |------|------------|----------------------------------------------------------------|
//! | 1    | `Hello`    | space (16) · protocol (u32 BE)                                 |
//! | 2    | `Welcome`  | space (16)                                                     |
//! | 3    | `Refused`  | space (16) · reason (u8)                                       |
//! | 4    | `Digest`   | space (16) · root digest (16) · doc count (varint)             |
//! | 5    | `Summary`  | space (16) · n (varint) · n × (doc (16) · heads digest (8))    |
//! | 6    | `SyncBatch`| space (16) · n (varint) · n × (doc (16) · len (varint) · bytes) |
//! | 7    | `Redeem`   | space (16) · protocol (u32 BE) · len (varint, ≤ 8 KiB) · request |
//!
//! # A session
//!
//! The dialer of a connection opens one session per space it shares with the other device:
//!
//! 1. dialer → `Hello { space, protocol }`. It sends this only for spaces its own membership
//!    view says the other device may read.
//! 2. The responder checks the authenticated device against that space's membership. If it
//!    may not read the space (or the space is unknown: the answer is the same), the reply is
//!    `Refused { space, NotAuthorized }` and nothing else is ever said about that space on
//!    this connection. Otherwise `Welcome { space }` followed by its `Digest`.
//! 3. On `Welcome` the dialer sends its own `Digest`. A `Digest` is a 16-byte hash over the
//!    sorted `(doc id, heads digest)` list of the space, so two peers already in sync learn
//!    it with ~40 bytes per space, whatever the number of documents.
//! 4. If the roots differ, each side sends its `Summary`: every document id with an 8-byte
//!    digest of its sorted heads.
//! 5. For every document whose digest differs, or that only one side holds, the side that
//!    holds it starts `automerge::sync` (a fresh `sync::State` per document per
//!    connection); messages for many documents travel together in `SyncBatch` frames. From
//!    then on the session is live: local changes, and changes received from other peers, are
//!    pushed as further `SyncBatch` entries.
//!
//! A dialer that is not a member yet but holds an invite sends `Redeem` instead of `Hello`:
//! the same request plus an admission request (its redemption of the invite, signed by its
//! own device). The responder's host checks it against the space's membership log; if it
//! admits the dialer it appends the redemption to the log (so the dialer is a member for
//! every peer from then on) and answers `Welcome`, otherwise `Refused` with the reason
//! (`InviteInvalid`, `InviteExpired`, `InviteUsedUp`, `AdmissionUnavailable`, or
//! `NotAuthorized` for a space it does not hold). Any member holding the log can admit: the
//! redemption is valid by itself because the invite was issued by a facilitator.
//!
//! Every frame after `Hello` names its space; a frame for a space without an authorized
//! session on that connection is a protocol violation and closes the connection.
//!
//! There are no `Done`/`Ack` frames: `automerge::sync` is itself request/response per
//! document (a side does not send again while its message is in flight), and backpressure
//! comes from the transport (the host reports written bytes, see the engine).

use cohort_model::{DocId, SpaceId};

/// The protocol version in every frame header.
pub const VERSION: u8 = 1;
/// The session protocol number carried in `Hello`.
pub const PROTOCOL: u32 = 1;
/// The largest frame (the value of the length prefix) accepted or produced: 4 MiB.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;
/// The largest single encoded `automerge::sync::Message` inside a `SyncBatch`.
pub const MAX_CHANGE_BYTES: usize = MAX_FRAME - 64;
/// Bytes in the length prefix.
pub const LEN_BYTES: usize = 4;
/// Bytes of a frame before its payload: length prefix, version, type.
pub const HEADER_BYTES: usize = LEN_BYTES + 2;

const T_HELLO: u8 = 1;
const T_WELCOME: u8 = 2;
const T_REFUSED: u8 = 3;
const T_DIGEST: u8 = 4;
const T_SUMMARY: u8 = 5;
const T_SYNC_BATCH: u8 = 6;
const T_REDEEM: u8 = 7;

/// The longest admission request (an encoded, signed membership entry) a `Redeem` frame may
/// carry.
pub const MAX_REDEEM_BYTES: usize = 8 * 1024;

/// The digest of one document's heads: the first 8 bytes of BLAKE3 over its sorted heads.
pub type HeadsDigest = [u8; 8];
/// The digest of a whole space: the first 16 bytes of BLAKE3 over its sorted
/// `(doc id, heads digest)` list.
pub type RootDigest = [u8; 16];

/// Why a session was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefuseReason {
    /// The device may not read this space (also said for spaces this peer does not hold, so
    /// a refusal reveals nothing).
    NotAuthorized,
    /// The `Hello` asked for a protocol this peer does not speak.
    UnsupportedProtocol,
    /// Too many sessions are open on this connection.
    TooManySessions,
    /// The invite presented is not known here, or the redemption does not prove it (a wrong
    /// secret, role or device).
    InviteInvalid,
    /// The invite presented has expired.
    InviteExpired,
    /// The invite presented has no uses left.
    InviteUsedUp,
    /// This peer holds the space but cannot admit anyone right now (for example, it has not
    /// received the invite yet); another member may.
    AdmissionUnavailable,
    /// A reason code this version does not know (kept, not rejected, for forward
    /// compatibility).
    Other(u8),
}

impl RefuseReason {
    fn code(self) -> u8 {
        match self {
            RefuseReason::NotAuthorized => 1,
            RefuseReason::UnsupportedProtocol => 2,
            RefuseReason::TooManySessions => 3,
            RefuseReason::InviteInvalid => 4,
            RefuseReason::InviteExpired => 5,
            RefuseReason::InviteUsedUp => 6,
            RefuseReason::AdmissionUnavailable => 7,
            RefuseReason::Other(c) => c,
        }
    }
    fn from_code(code: u8) -> Self {
        match code {
            1 => RefuseReason::NotAuthorized,
            2 => RefuseReason::UnsupportedProtocol,
            3 => RefuseReason::TooManySessions,
            4 => RefuseReason::InviteInvalid,
            5 => RefuseReason::InviteExpired,
            6 => RefuseReason::InviteUsedUp,
            7 => RefuseReason::AdmissionUnavailable,
            c => RefuseReason::Other(c),
        }
    }
}

/// One frame of the sync protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens a session for `space` (sent by the dialer).
    Hello {
        /// The space to sync.
        space: SpaceId,
        /// The session protocol ([`PROTOCOL`]).
        protocol: u32,
    },
    /// Like `Hello`, from a dialer that is not a member yet: asks to be admitted to `space`
    /// with a redemption of an invite (`request`: an encoded membership entry signed by the
    /// dialer's device, at most [`MAX_REDEEM_BYTES`]), and to sync it once admitted. The
    /// answer is `Welcome` or `Refused`, as for `Hello`.
    Redeem {
        /// The space.
        space: SpaceId,
        /// The session protocol ([`PROTOCOL`]).
        protocol: u32,
        /// The admission request.
        request: Vec<u8>,
    },
    /// The responder authorized the dialer for `space`.
    Welcome {
        /// The space.
        space: SpaceId,
    },
    /// The responder will not sync `space` with the dialer.
    Refused {
        /// The space.
        space: SpaceId,
        /// Why.
        reason: RefuseReason,
    },
    /// A compact digest of the sender's whole space.
    Digest {
        /// The space.
        space: SpaceId,
        /// Hash over the sorted `(doc id, heads digest)` list.
        root: RootDigest,
        /// How many documents the sender holds in the space.
        count: u32,
    },
    /// Every document of the sender's space with a digest of its heads.
    Summary {
        /// The space.
        space: SpaceId,
        /// `(document, digest of its sorted heads)`, sorted by document id.
        docs: Vec<(DocId, HeadsDigest)>,
    },
    /// `automerge::sync` messages for many documents of one space.
    SyncBatch {
        /// The space.
        space: SpaceId,
        /// `(document, encoded automerge::sync::Message)`.
        messages: Vec<(DocId, Vec<u8>)>,
    },
}

impl Frame {
    /// The space this frame is about (every frame names one).
    pub fn space(&self) -> SpaceId {
        match self {
            Frame::Hello { space, .. }
            | Frame::Redeem { space, .. }
            | Frame::Welcome { space }
            | Frame::Refused { space, .. }
            | Frame::Digest { space, .. }
            | Frame::Summary { space, .. }
            | Frame::SyncBatch { space, .. } => *space,
        }
    }
}

/// Why bytes are not (yet) a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not an error: the buffer holds the start of a frame; `needed` more bytes complete it
    /// (or complete its header).
    #[error("incomplete frame: {needed} more bytes needed")]
    Incomplete {
        /// How many more bytes are needed at least.
        needed: usize,
    },
    /// The length prefix exceeds [`MAX_FRAME`].
    #[error("frame of {len} bytes exceeds the maximum of {MAX_FRAME}")]
    TooLarge {
        /// The announced length.
        len: usize,
    },
    /// The length prefix is too small to hold a version and a type.
    #[error("frame of {len} bytes is too short")]
    TooShort {
        /// The announced length.
        len: usize,
    },
    /// A frame version this peer does not speak.
    #[error("unsupported frame version {0}")]
    UnsupportedVersion(u8),
    /// A frame type this peer does not know.
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    /// A sync message larger than [`MAX_CHANGE_BYTES`].
    #[error("sync message of {len} bytes exceeds the maximum of {MAX_CHANGE_BYTES}")]
    ChangeTooLarge {
        /// The announced length.
        len: usize,
    },
    /// The payload does not match its type's layout.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
}

/// Looks at the start of `buf` and, if a whole frame is there, returns the total number of
/// bytes it occupies (length prefix included). Checks the announced length against
/// [`MAX_FRAME`] first, so a reader knows how much to buffer before buffering it.
pub fn frame_len(buf: &[u8]) -> Result<usize, FrameError> {
    let Some(prefix) = buf.get(..LEN_BYTES) else {
        return Err(FrameError::Incomplete {
            needed: LEN_BYTES - buf.len(),
        });
    };
    let mut len_bytes = [0u8; LEN_BYTES];
    len_bytes.copy_from_slice(prefix);
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge { len });
    }
    if len < 2 {
        return Err(FrameError::TooShort { len });
    }
    let total = LEN_BYTES + len;
    if buf.len() < total {
        return Err(FrameError::Incomplete {
            needed: total - buf.len(),
        });
    }
    Ok(total)
}

/// Decodes the frame at the start of `buf`, returning it and the number of bytes consumed.
/// [`FrameError::Incomplete`] says how many more bytes are needed; every other error means
/// the stream is corrupt or hostile and must be closed. Never panics.
pub fn decode_frame(buf: &[u8]) -> Result<(Frame, usize), FrameError> {
    let total = frame_len(buf)?;
    let body = buf
        .get(LEN_BYTES..total)
        .ok_or(FrameError::Malformed("length"))?;
    let mut r = Reader { buf: body };
    let version = r.u8()?;
    if version != VERSION {
        return Err(FrameError::UnsupportedVersion(version));
    }
    let ty = r.u8()?;
    let frame = match ty {
        T_HELLO => Frame::Hello {
            space: r.space()?,
            protocol: u32::from_be_bytes(r.array()?),
        },
        T_REDEEM => {
            let space = r.space()?;
            let protocol = u32::from_be_bytes(r.array()?);
            let len = r.varint()? as usize;
            if len > MAX_REDEEM_BYTES {
                return Err(FrameError::Malformed("admission request too large"));
            }
            Frame::Redeem {
                space,
                protocol,
                request: r.bytes(len)?.to_vec(),
            }
        }
        T_WELCOME => Frame::Welcome { space: r.space()? },
        T_REFUSED => Frame::Refused {
            space: r.space()?,
            reason: RefuseReason::from_code(r.u8()?),
        },
        T_DIGEST => Frame::Digest {
            space: r.space()?,
            root: r.array()?,
            count: r.varint()?,
        },
        T_SUMMARY => {
            let space = r.space()?;
            let n = r.varint()? as usize;
            const ENTRY: usize = 16 + 8;
            if n.checked_mul(ENTRY) != Some(r.buf.len()) {
                return Err(FrameError::Malformed(
                    "summary count does not match its length",
                ));
            }
            let mut docs = Vec::with_capacity(n);
            for _ in 0..n {
                docs.push((DocId::from_bytes(r.array()?), r.array()?));
            }
            Frame::Summary { space, docs }
        }
        T_SYNC_BATCH => {
            let space = r.space()?;
            let n = r.varint()? as usize;
            // The smallest entry is a doc id and a one-byte length.
            const MIN_ENTRY: usize = 16 + 1;
            if n > r.buf.len() / MIN_ENTRY {
                return Err(FrameError::Malformed("batch count exceeds its length"));
            }
            let mut messages = Vec::with_capacity(n);
            for _ in 0..n {
                let doc = DocId::from_bytes(r.array()?);
                let len = r.varint()? as usize;
                if len > MAX_CHANGE_BYTES {
                    return Err(FrameError::ChangeTooLarge { len });
                }
                messages.push((doc, r.bytes(len)?.to_vec()));
            }
            Frame::SyncBatch { space, messages }
        }
        other => return Err(FrameError::UnknownType(other)),
    };
    if !r.buf.is_empty() {
        return Err(FrameError::Malformed("trailing bytes"));
    }
    Ok((frame, total))
}

/// Appends `frame`, encoded with its length prefix, to `out`.
///
/// The caller keeps frames under [`MAX_FRAME`] (the engine sizes its batches so); a frame
/// that is larger still encodes, and a peer rejects it.
pub fn encode_frame_into(frame: &Frame, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; LEN_BYTES]);
    out.push(VERSION);
    match frame {
        Frame::Hello { space, protocol } => {
            out.push(T_HELLO);
            out.extend_from_slice(space.as_bytes());
            out.extend_from_slice(&protocol.to_be_bytes());
        }
        Frame::Redeem {
            space,
            protocol,
            request,
        } => {
            out.push(T_REDEEM);
            out.extend_from_slice(space.as_bytes());
            out.extend_from_slice(&protocol.to_be_bytes());
            put_varint(out, len_u32(request.len()));
            out.extend_from_slice(request);
        }
        Frame::Welcome { space } => {
            out.push(T_WELCOME);
            out.extend_from_slice(space.as_bytes());
        }
        Frame::Refused { space, reason } => {
            out.push(T_REFUSED);
            out.extend_from_slice(space.as_bytes());
            out.push(reason.code());
        }
        Frame::Digest { space, root, count } => {
            out.push(T_DIGEST);
            out.extend_from_slice(space.as_bytes());
            out.extend_from_slice(root);
            put_varint(out, *count);
        }
        Frame::Summary { space, docs } => {
            out.push(T_SUMMARY);
            out.extend_from_slice(space.as_bytes());
            put_varint(out, len_u32(docs.len()));
            for (doc, digest) in docs {
                out.extend_from_slice(doc.as_bytes());
                out.extend_from_slice(digest);
            }
        }
        Frame::SyncBatch { space, messages } => {
            out.push(T_SYNC_BATCH);
            out.extend_from_slice(space.as_bytes());
            put_varint(out, len_u32(messages.len()));
            for (doc, msg) in messages {
                out.extend_from_slice(doc.as_bytes());
                put_varint(out, len_u32(msg.len()));
                out.extend_from_slice(msg);
            }
        }
    }
    let len = len_u32(out.len() - start - LEN_BYTES);
    out[start..start + LEN_BYTES].copy_from_slice(&len.to_be_bytes());
}

/// Encodes `frame` with its length prefix.
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame_into(frame, &mut out);
    out
}

/// The encoded size of one `SyncBatch` entry holding a message of `msg_len` bytes.
pub fn batch_entry_len(msg_len: usize) -> usize {
    16 + varint_len(len_u32(msg_len)) + msg_len
}

/// The encoded size of a `SyncBatch` frame header (length prefix included) for `n` entries.
pub fn batch_header_len(n: usize) -> usize {
    HEADER_BYTES + 16 + varint_len(len_u32(n))
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn varint_len(mut v: u32) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if n > self.buf.len() {
            return Err(FrameError::Malformed("truncated payload"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.array::<1>()?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }
    fn space(&mut self) -> Result<SpaceId, FrameError> {
        Ok(SpaceId::from_bytes(self.array()?))
    }
    fn varint(&mut self) -> Result<u32, FrameError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let byte = self.u8()?;
            let bits = u32::from(byte & 0x7f);
            if i == 4 && bits > 0x0f {
                return Err(FrameError::Malformed("varint overflows u32"));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return Err(FrameError::Malformed("varint not minimal"));
                }
                return Ok(value);
            }
        }
        Err(FrameError::Malformed("varint too long"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn space(b: u8) -> SpaceId {
        SpaceId::from_bytes([b; 16])
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        let id = any::<[u8; 16]>();
        prop_oneof![
            (id, any::<u32>()).prop_map(|(s, protocol)| Frame::Hello {
                space: SpaceId::from_bytes(s),
                protocol
            }),
            (id, any::<u32>(), prop::collection::vec(any::<u8>(), 0..200)).prop_map(
                |(s, protocol, request)| Frame::Redeem {
                    space: SpaceId::from_bytes(s),
                    protocol,
                    request
                }
            ),
            id.prop_map(|s| Frame::Welcome {
                space: SpaceId::from_bytes(s)
            }),
            (id, any::<u8>()).prop_map(|(s, c)| Frame::Refused {
                space: SpaceId::from_bytes(s),
                reason: RefuseReason::from_code(c)
            }),
            (id, id, any::<u32>()).prop_map(|(s, root, count)| Frame::Digest {
                space: SpaceId::from_bytes(s),
                root,
                count
            }),
            (id, prop::collection::vec((id, any::<[u8; 8]>()), 0..20)).prop_map(|(s, d)| {
                Frame::Summary {
                    space: SpaceId::from_bytes(s),
                    docs: d
                        .into_iter()
                        .map(|(a, b)| (DocId::from_bytes(a), b))
                        .collect(),
                }
            }),
            (
                id,
                prop::collection::vec((id, prop::collection::vec(any::<u8>(), 0..300)), 0..10)
            )
                .prop_map(|(s, m)| Frame::SyncBatch {
                    space: SpaceId::from_bytes(s),
                    messages: m
                        .into_iter()
                        .map(|(a, b)| (DocId::from_bytes(a), b))
                        .collect(),
                }),
        ]
    }

    proptest! {
        #[test]
        fn frames_round_trip(frame in arb_frame()) {
            let bytes = encode_frame(&frame);
            let (decoded, used) = decode_frame(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(decoded, frame);
        }

        #[test]
        fn every_prefix_asks_for_more(frame in arb_frame()) {
            let bytes = encode_frame(&frame);
            for cut in 0..bytes.len() {
                let needed = match decode_frame(&bytes[..cut]) {
                    Err(FrameError::Incomplete { needed }) => needed,
                    other => return Err(TestCaseError::fail(format!("prefix {cut}: {other:?}"))),
                };
                prop_assert!(needed >= 1 && cut + needed <= bytes.len());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok((_, used)) = decode_frame(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }

        #[test]
        fn mutated_frames_never_panic(frame in arb_frame(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
            let mut bytes = encode_frame(&frame);
            for (i, b) in flips {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            if let Ok((_, used)) = decode_frame(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }
    }

    #[test]
    fn oversized_length_is_rejected_from_the_prefix_alone() {
        let len = (MAX_FRAME as u32 + 1).to_be_bytes();
        assert_eq!(
            decode_frame(&len),
            Err(FrameError::TooLarge { len: MAX_FRAME + 1 }),
            "the length prefix alone must be enough to reject an oversized frame"
        );
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        // A SyncBatch claiming u32::MAX entries in a tiny frame.
        let mut body = vec![VERSION, T_SYNC_BATCH];
        body.extend_from_slice(space(1).as_bytes());
        put_varint(&mut body, u32::MAX);
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        assert!(matches!(
            decode_frame(&frame),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_message_is_rejected_before_copying() {
        let mut body = vec![VERSION, T_SYNC_BATCH];
        body.extend_from_slice(space(1).as_bytes());
        put_varint(&mut body, 1);
        body.extend_from_slice(&[7; 16]);
        put_varint(&mut body, MAX_CHANGE_BYTES as u32 + 1);
        body.extend_from_slice(&[0; 8]);
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        assert_eq!(
            decode_frame(&frame),
            Err(FrameError::ChangeTooLarge {
                len: MAX_CHANGE_BYTES + 1
            })
        );
    }

    #[test]
    fn unknown_version_and_type_are_errors() {
        let mut f = encode_frame(&Frame::Welcome { space: space(2) });
        f[4] = 9;
        assert_eq!(decode_frame(&f), Err(FrameError::UnsupportedVersion(9)));
        let mut f = encode_frame(&Frame::Welcome { space: space(2) });
        f[5] = 77;
        assert_eq!(decode_frame(&f), Err(FrameError::UnknownType(77)));
    }

    #[test]
    fn batch_size_helpers_match_the_encoding() {
        let messages: Vec<(DocId, Vec<u8>)> = (0..3u8)
            .map(|i| (DocId::from_bytes([i; 16]), vec![i; 200 * i as usize]))
            .collect();
        let expected = batch_header_len(messages.len())
            + messages
                .iter()
                .map(|(_, m)| batch_entry_len(m.len()))
                .sum::<usize>();
        let frame = Frame::SyncBatch {
            space: space(3),
            messages,
        };
        assert_eq!(encode_frame(&frame).len(), expected);
    }
}
