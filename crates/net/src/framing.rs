//! Length-prefixed frames: a `u32` big-endian length, then that many bytes.

use std::io;

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// What went wrong reading a frame.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer broke the protocol (e.g. announced a frame above the limit).
    Violation(String),
    /// The stream failed (reset, connection lost).
    Io(io::Error),
}

/// Reads one frame. `Ok(None)` is a clean end of stream at a frame boundary.
///
/// The length is checked against `max_frame` before anything is allocated.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_frame: usize,
) -> Result<Option<Vec<u8>>, ReadError> {
    let mut header = [0u8; 4];
    let mut filled = 0;
    while filled < header.len() {
        let n = reader
            .read(&mut header[filled..])
            .await
            .map_err(ReadError::Io)?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(ReadError::Violation(
                    "stream ended inside a frame header".into(),
                ))
            };
        }
        filled += n;
    }
    let announced = u32::from_be_bytes(header);
    let len = usize::try_from(announced).unwrap_or(usize::MAX);
    if len > max_frame {
        return Err(ReadError::Violation(format!(
            "frame length {announced} exceeds the maximum of {max_frame}"
        )));
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await.map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReadError::Violation("stream ended inside a frame".into())
        } else {
            ReadError::Io(e)
        }
    })?;
    Ok(Some(body))
}

/// Appends the encoding of `frame` to `buf` (the caller checked `frame.len() <= u32::MAX`).
pub(crate) fn encode_into(buf: &mut Vec<u8>, frame: &[u8]) -> io::Result<()> {
    let len = u32::try_from(frame.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame longer than u32::MAX"))?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(frame);
    Ok(())
}

/// Writes `buf` (one or more encoded frames) and flushes.
pub(crate) async fn write_all_flush<W: AsyncWrite + Unpin>(
    writer: &mut W,
    buf: &[u8],
) -> io::Result<()> {
    writer.write_all(buf).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn round_trip_and_limits() {
        let mut buf = Vec::new();
        encode_into(&mut buf, b"hello").unwrap();
        encode_into(&mut buf, b"").unwrap();
        let mut r = futures::io::Cursor::new(buf);
        block_on(async {
            assert_eq!(
                read_frame(&mut r, 5).await.unwrap(),
                Some(b"hello".to_vec())
            );
            assert_eq!(read_frame(&mut r, 5).await.unwrap(), Some(Vec::new()));
            assert!(read_frame(&mut r, 5).await.unwrap().is_none());
        });
    }

    #[test]
    fn oversized_prefix_is_a_violation_before_allocating() {
        let mut r = futures::io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
        let err = block_on(read_frame(&mut r, 1024)).unwrap_err();
        assert!(matches!(err, ReadError::Violation(_)));
    }

    #[test]
    fn truncated_frame_is_a_violation() {
        let mut bytes = 10u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let mut r = futures::io::Cursor::new(bytes);
        assert!(matches!(
            block_on(read_frame(&mut r, 1024)),
            Err(ReadError::Violation(_))
        ));
        let mut r = futures::io::Cursor::new(vec![0u8, 0]);
        assert!(matches!(
            block_on(read_frame(&mut r, 1024)),
            Err(ReadError::Violation(_))
        ));
    }
}
