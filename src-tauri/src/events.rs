//! The one place that turns the core's change events into UI events.
//!
//! [`pump`] reads the core's bounded broadcast of [`ChangeEvent`]s and emits each as
//! `cohort://change` with the `ChangeEvent` JSON as payload. Bursts are coalesced: after the
//! first event the pump waits one [`WINDOW`] (a frame), then takes everything that arrived
//! meanwhile, drops repeats (same document, same kind of change) and emits the rest in order.
//!
//! When the pump fell behind the core (the broadcast reported `Lagged`, so some events are
//! lost) or a burst holds more than [`MAX_BURST`] distinct events (a bulk import, a first
//! sync), it emits ONE `cohort://change` with the payload `{ "lagged": true }` instead: the
//! UI then reloads whatever it shows, since it cannot know what changed.

use std::time::Duration;

use cohort_api::ChangeEvent;
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

/// The event the UI listens to.
pub const EVENT: &str = "cohort://change";
/// How long the pump waits after the first event of a burst before emitting (one frame).
pub const WINDOW: Duration = Duration::from_millis(16);
/// More distinct events than this in one burst become one refresh.
pub const MAX_BURST: usize = 64;

/// What the UI receives on `cohort://change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum UiChange {
    /// One document changed: the core's `ChangeEvent` as JSON.
    Change(ChangeEvent),
    /// Unknown changes were missed: reload everything shown. Serializes as
    /// `{ "lagged": true }`.
    Refresh {
        /// Always `true`.
        lagged: bool,
    },
}

impl UiChange {
    /// The refresh event.
    pub fn refresh() -> UiChange {
        UiChange::Refresh { lagged: true }
    }
}

/// Collects one burst of events.
#[derive(Debug, Default)]
pub struct Burst {
    events: Vec<ChangeEvent>,
    lagged: bool,
}

impl Burst {
    /// Adds an event, unless the same change of the same document is already in the burst.
    pub fn push(&mut self, event: ChangeEvent) {
        if self.lagged || self.events.len() > MAX_BURST {
            return; // already a refresh: stop collecting
        }
        if !self.events.contains(&event) {
            self.events.push(event);
        }
    }

    /// Notes that events were lost.
    pub fn lagged(&mut self) {
        self.lagged = true;
        self.events.clear();
    }

    /// What to emit for the burst, emptying it.
    pub fn take(&mut self) -> Vec<UiChange> {
        let events = std::mem::take(&mut self.events);
        if std::mem::take(&mut self.lagged) || events.len() > MAX_BURST {
            vec![UiChange::refresh()]
        } else {
            events.into_iter().map(UiChange::Change).collect()
        }
    }
}

/// Forwards change events to `emit` until the core closes the channel (the data dir was
/// closed). `emit` is called from the pump's task; it should not block.
pub async fn pump<F>(mut rx: broadcast::Receiver<ChangeEvent>, window: Duration, mut emit: F)
where
    F: FnMut(UiChange),
{
    let mut burst = Burst::default();
    loop {
        match rx.recv().await {
            Ok(event) => burst.push(event),
            Err(RecvError::Lagged(_)) => burst.lagged(),
            Err(RecvError::Closed) => return,
        }
        tokio::time::sleep(window).await;
        let mut closed = false;
        loop {
            match rx.try_recv() {
                Ok(event) => burst.push(event),
                Err(TryRecvError::Lagged(_)) => burst.lagged(),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => {
                    closed = true;
                    break;
                }
            }
        }
        for change in burst.take() {
            emit(change);
        }
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_api::{ChangeKind, DocId, DocKind, SpaceId};
    use serde_json::json;

    fn event(n: u8, change: ChangeKind) -> ChangeEvent {
        ChangeEvent {
            doc: DocId::from_bytes([n; 16]),
            space: SpaceId::from_bytes([1; 16]),
            kind: DocKind::Thread,
            change,
        }
    }

    #[test]
    fn payloads_are_the_change_event_or_a_refresh() {
        let change = serde_json::to_value(UiChange::Change(event(2, ChangeKind::Updated)))
            .expect("serializes");
        let plain = serde_json::to_value(event(2, ChangeKind::Updated)).expect("serializes");
        assert_eq!(
            change, plain,
            "a change is the core's ChangeEvent, unwrapped"
        );
        assert_eq!(change["change"], json!("updated"));
        let refresh = serde_json::to_value(UiChange::refresh()).expect("serializes");
        assert_eq!(refresh, json!({ "lagged": true }));
    }

    #[test]
    fn a_burst_drops_repeats_and_keeps_order() {
        let mut burst = Burst::default();
        assert_eq!(burst.take(), vec![]);
        burst.push(event(1, ChangeKind::Created));
        burst.push(event(2, ChangeKind::Updated));
        burst.push(event(1, ChangeKind::Updated));
        burst.push(event(2, ChangeKind::Updated));
        burst.push(event(1, ChangeKind::Created));
        assert_eq!(
            burst.take(),
            vec![
                UiChange::Change(event(1, ChangeKind::Created)),
                UiChange::Change(event(2, ChangeKind::Updated)),
                UiChange::Change(event(1, ChangeKind::Updated)),
            ]
        );
        assert_eq!(burst.take(), vec![], "taking empties the burst");
    }

    #[test]
    fn a_large_burst_or_a_lag_becomes_one_refresh() {
        let mut burst = Burst::default();
        for n in 0..=u8::try_from(MAX_BURST).expect("small") {
            burst.push(event(n, ChangeKind::Updated));
        }
        assert_eq!(burst.take(), vec![UiChange::refresh()]);

        let mut burst = Burst::default();
        burst.push(event(1, ChangeKind::Updated));
        burst.lagged();
        burst.push(event(2, ChangeKind::Updated));
        assert_eq!(burst.take(), vec![UiChange::refresh()]);
        assert_eq!(burst.take(), vec![]);
    }

    fn collect(rx: broadcast::Receiver<ChangeEvent>) -> tokio::task::JoinHandle<Vec<UiChange>> {
        tokio::spawn(async move {
            let mut out = Vec::new();
            pump(rx, Duration::from_millis(20), |c| out.push(c)).await;
            out
        })
    }

    #[tokio::test]
    async fn the_pump_coalesces_bursts_and_stops_when_the_core_closes() {
        let (tx, rx) = broadcast::channel(16);
        let task = collect(rx);
        for _ in 0..5 {
            tx.send(event(1, ChangeKind::Updated)).expect("sent");
        }
        tx.send(event(2, ChangeKind::Created)).expect("sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(event(1, ChangeKind::Updated)).expect("sent");
        drop(tx);
        let out = task.await.expect("pump finished");
        assert_eq!(
            out,
            vec![
                UiChange::Change(event(1, ChangeKind::Updated)),
                UiChange::Change(event(2, ChangeKind::Created)),
                // A later burst reports the same change again.
                UiChange::Change(event(1, ChangeKind::Updated)),
            ]
        );
    }

    #[tokio::test]
    async fn the_pump_turns_a_lag_into_a_refresh() {
        let (tx, rx) = broadcast::channel(4);
        // Overflow the channel before the pump reads anything.
        for n in 0..10 {
            tx.send(event(n, ChangeKind::Updated)).expect("sent");
        }
        let task = collect(rx);
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(event(42, ChangeKind::Deleted)).expect("sent");
        drop(tx);
        let out = task.await.expect("pump finished");
        assert_eq!(
            out,
            vec![
                UiChange::refresh(),
                UiChange::Change(event(42, ChangeKind::Deleted)),
            ]
        );
    }
}
