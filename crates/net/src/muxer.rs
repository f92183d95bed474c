//! Yamux with a bounded receive window.
//!
//! `libp2p-yamux` 0.48 keeps yamux's default connection receive window of 1 GiB: a stream
//! whose reader keeps up has its window doubled again and again (auto-tuning towards the
//! bandwidth-delay product), so on a fast link one stream may end up with hundreds of
//! megabytes of credit, and when its reader then stops (our reader waits while the
//! application is slow) the peer can still push all of that into our memory. The crate
//! offers no way to lower that limit, so this module adapts the `yamux` crate to libp2p's
//! [`StreamMuxer`] itself, with [`yamux::Config::set_max_connection_receive_window`] set.
//!
//! What one connection can make us buffer is then at most its connection window: every
//! stream is granted yamux's initial 256 KiB, and only what is configured above
//! `max_streams * 256 KiB` is shared out as extra window to busy streams.

use std::collections::VecDeque;
use std::io;
use std::iter;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures::future;
use futures::{AsyncRead, AsyncWrite};
use libp2p::core::muxing::{StreamMuxer, StreamMuxerEvent};
use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade, UpgradeInfo};

/// The window yamux grants every stream to begin with (and at least).
pub(crate) const STREAM_CREDIT: usize = yamux::DEFAULT_CREDIT as usize;

/// The multiplexer upgrade: negotiates `/yamux/1.0.0` and runs yamux with a bounded window.
#[derive(Debug, Clone)]
pub(crate) struct BoundedYamux {
    config: yamux::Config,
    max_streams: usize,
}

impl BoundedYamux {
    /// Yamux allowing `max_streams` concurrent streams and buffering at most
    /// `connection_window` bytes of unread data per connection. The caller checked
    /// `connection_window >= max_streams * STREAM_CREDIT` (yamux panics otherwise).
    pub(crate) fn new(max_streams: usize, connection_window: usize) -> Self {
        let mut config = yamux::Config::default();
        // Each setter checks the pair (window >= streams * 256 KiB): the stream count goes
        // first, against the default window of 1 GiB, then the window is lowered.
        config.set_max_num_streams(max_streams);
        config.set_max_connection_receive_window(Some(connection_window));
        Self {
            config,
            max_streams,
        }
    }
}

impl UpgradeInfo for BoundedYamux {
    type Info = &'static str;
    type InfoIter = iter::Once<Self::Info>;

    fn protocol_info(&self) -> Self::InfoIter {
        iter::once("/yamux/1.0.0")
    }
}

impl<C> InboundConnectionUpgrade<C> for BoundedYamux
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = Muxer<C>;
    type Error = io::Error;
    type Future = future::Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_inbound(self, io: C, _: Self::Info) -> Self::Future {
        future::ready(Ok(Muxer::new(
            yamux::Connection::new(io, self.config, yamux::Mode::Server),
            self.max_streams,
        )))
    }
}

impl<C> OutboundConnectionUpgrade<C> for BoundedYamux
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Output = Muxer<C>;
    type Error = io::Error;
    type Future = future::Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_outbound(self, io: C, _: Self::Info) -> Self::Future {
        future::ready(Ok(Muxer::new(
            yamux::Connection::new(io, self.config, yamux::Mode::Client),
            self.max_streams,
        )))
    }
}

/// One yamux connection as a libp2p [`StreamMuxer`].
///
/// Yamux only reads from the socket while its next inbound stream is polled, so
/// [`StreamMuxer::poll`] (which the connection task calls continuously) does that and keeps
/// the streams it finds until [`StreamMuxer::poll_inbound`] takes them; beyond `max_streams`
/// waiting ones, new streams are reset.
pub(crate) struct Muxer<C> {
    connection: yamux::Connection<C>,
    waiting: VecDeque<yamux::Stream>,
    max_waiting: usize,
    inbound_waker: Option<Waker>,
}

impl<C> Muxer<C> {
    fn new(connection: yamux::Connection<C>, max_waiting: usize) -> Self {
        Self {
            connection,
            waiting: VecDeque::new(),
            max_waiting: max_waiting.max(1),
            inbound_waker: None,
        }
    }
}

impl<C> Muxer<C>
where
    C: AsyncRead + AsyncWrite + Unpin + 'static,
{
    fn next_inbound(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<yamux::Stream, yamux::ConnectionError>> {
        match self.connection.poll_next_inbound(cx) {
            Poll::Ready(Some(result)) => Poll::Ready(result),
            Poll::Ready(None) => Poll::Ready(Err(yamux::ConnectionError::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<C> StreamMuxer for Muxer<C>
where
    C: AsyncRead + AsyncWrite + Unpin + 'static,
{
    type Substream = yamux::Stream;
    type Error = yamux::ConnectionError;

    fn poll_inbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = self.get_mut();
        if let Some(stream) = this.waiting.pop_front() {
            return Poll::Ready(Ok(stream));
        }
        match this.next_inbound(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => {
                this.inbound_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_outbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        self.get_mut().connection.poll_new_outbound(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().connection.poll_close(cx)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        let this = self.get_mut();
        let stream = match this.next_inbound(cx) {
            Poll::Ready(Ok(stream)) => stream,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        if this.waiting.len() >= this.max_waiting {
            tracing::debug!(%stream, "resetting an inbound stream: too many waiting");
            drop(stream);
        } else {
            this.waiting.push_back(stream);
            if let Some(waker) = this.inbound_waker.take() {
                waker.wake();
            }
        }
        // More may be ready: come back soon, after others had their turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
