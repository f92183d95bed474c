//! Length-prefixed frames: a `u32` big-endian length, then that many bytes.

use std::io;
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// What went wrong reading a frame.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer broke the protocol (e.g. announced a frame above the limit).
    Violation(String),
    /// The stream failed (reset, connection lost).
    Io(io::Error),
}

/// Bytes a frame's buffer grows by at a time: memory follows the bytes that actually
/// arrived, not the length a peer announced.
const READ_CHUNK: usize = 64 * 1024;

/// Reads one frame. `Ok(None)` is a clean end of stream at a frame boundary.
///
/// The length is checked against `max_frame` before anything is allocated, and the buffer
/// then grows with the bytes received (a peer announcing 4 MiB and sending 10 bytes costs 10
/// bytes, not 4 MiB). Waiting for a frame to begin is not limited; once it has begun, a gap
/// of `stall` without any byte of it is a violation.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_frame: usize,
    stall: Duration,
) -> Result<Option<Vec<u8>>, ReadError> {
    let mut header = [0u8; 4];
    let mut filled = reader.read(&mut header).await.map_err(ReadError::Io)?;
    if filled == 0 {
        return Ok(None);
    }
    while filled < header.len() {
        let n = within(stall, reader.read(&mut header[filled..])).await?;
        if n == 0 {
            return Err(ReadError::Violation(
                "stream ended inside a frame header".into(),
            ));
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
    let mut body = Vec::with_capacity(len.min(READ_CHUNK));
    while body.len() < len {
        let start = body.len();
        body.resize(start + (len - start).min(READ_CHUNK), 0);
        let n = within(stall, reader.read(&mut body[start..])).await?;
        body.truncate(start + n);
        if n == 0 {
            return Err(ReadError::Violation(format!(
                "stream ended inside a frame ({} of {len} bytes)",
                body.len()
            )));
        }
    }
    Ok(Some(body))
}

/// One read of a frame already begun: an error after `stall` without a byte.
async fn within(
    stall: Duration,
    read: impl Future<Output = io::Result<usize>>,
) -> Result<usize, ReadError> {
    match tokio::time::timeout(stall, read).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(ReadError::Io(e)),
        Err(_) => Err(ReadError::Violation(format!(
            "a frame stalled: no byte of it for {} ms",
            stall.as_millis()
        ))),
    }
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

    const STALL: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn round_trip_and_limits() {
        let mut buf = Vec::new();
        encode_into(&mut buf, b"hello").unwrap();
        encode_into(&mut buf, b"").unwrap();
        let mut r = futures::io::Cursor::new(buf);
        assert_eq!(
            read_frame(&mut r, 5, STALL).await.unwrap(),
            Some(b"hello".to_vec())
        );
        assert_eq!(
            read_frame(&mut r, 5, STALL).await.unwrap(),
            Some(Vec::new())
        );
        assert!(read_frame(&mut r, 5, STALL).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn frames_larger_than_a_read_chunk_arrive_whole() {
        let frame: Vec<u8> = (0..3 * READ_CHUNK + 17).map(|i| i as u8).collect();
        let mut buf = Vec::new();
        encode_into(&mut buf, &frame).unwrap();
        let mut r = futures::io::Cursor::new(buf);
        assert_eq!(
            read_frame(&mut r, frame.len(), STALL).await.unwrap(),
            Some(frame)
        );
    }

    #[tokio::test]
    async fn oversized_prefix_is_a_violation_before_allocating() {
        let mut r = futures::io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
        let err = read_frame(&mut r, 1024, STALL).await.unwrap_err();
        assert!(matches!(err, ReadError::Violation(_)));
    }

    #[tokio::test]
    async fn truncated_frame_is_a_violation() {
        let mut bytes = 10u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let mut r = futures::io::Cursor::new(bytes);
        assert!(matches!(
            read_frame(&mut r, 1024, STALL).await,
            Err(ReadError::Violation(_))
        ));
        let mut r = futures::io::Cursor::new(vec![0u8, 0]);
        assert!(matches!(
            read_frame(&mut r, 1024, STALL).await,
            Err(ReadError::Violation(_))
        ));
    }

    /// A reader that hands out its bytes and then never answers again (a stalled peer).
    struct ThenStall(futures::io::Cursor<Vec<u8>>);

    impl AsyncRead for ThenStall {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let cursor = &mut self.0;
            if cursor.position() as usize >= cursor.get_ref().len() {
                return std::task::Poll::Pending;
            }
            std::pin::Pin::new(cursor).poll_read(cx, buf)
        }
    }

    #[tokio::test]
    async fn a_stalled_frame_is_a_violation_but_an_idle_stream_is_not() {
        let stall = Duration::from_millis(100);
        // A header and half a body, then nothing.
        let mut bytes = (4u32 << 20).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[1; 10]);
        let mut r = ThenStall(futures::io::Cursor::new(bytes));
        let started = tokio::time::Instant::now();
        match read_frame(&mut r, 8 << 20, stall).await {
            Err(ReadError::Violation(reason)) => assert!(reason.contains("stalled"), "{reason}"),
            other => panic!("expected a violation, got {other:?}"),
        }
        assert!(started.elapsed() >= stall);
        // Half a header, then nothing.
        let mut r = ThenStall(futures::io::Cursor::new(vec![0, 0]));
        assert!(matches!(
            read_frame(&mut r, 1024, stall).await,
            Err(ReadError::Violation(_))
        ));
        // Nothing at all: waiting for the next frame is not limited.
        let mut r = ThenStall(futures::io::Cursor::new(Vec::new()));
        let idle = tokio::time::timeout(stall * 10, read_frame(&mut r, 1024, stall)).await;
        assert!(idle.is_err(), "an idle stream must not be closed: {idle:?}");
    }
}
