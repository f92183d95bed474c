//! The desktop app's sync node: the same libp2p node `cohort serve` runs, over the shell's
//! open data dir, so a cohort syncs while the app is open.
//!
//! [`start`] runs it on Tauri's async runtime and forwards its notices (peers connecting,
//! spaces synced, admissions) to the UI as `cohort://sync`. The node is stopped cleanly
//! when the app exits ([`NodeSlot::stop`]): every edit was already committed when it was
//! acknowledged, so stopping only closes connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cohort_api::{Api, ApiResult, Node, NodeConfig, SyncNotice};
use tokio::sync::broadcast::{self, error::RecvError};

/// The event the UI listens to for sync notices.
pub const EVENT: &str = "cohort://sync";
/// How long exiting waits for the node to close its connections.
const STOP_WAIT: Duration = Duration::from_secs(3);

/// The running node, if any (managed state).
#[derive(Default)]
pub struct NodeSlot(Mutex<Option<Node<Api>>>);

impl NodeSlot {
    fn put(&self, node: Node<Api>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(node);
    }

    /// Stops the node, if it runs (blocking, bounded by a few seconds).
    pub fn stop(&self) {
        let node = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(node) = node {
            let stopped = tauri::async_runtime::block_on(async {
                tokio::time::timeout(STOP_WAIT, node.shutdown()).await
            });
            match stopped {
                Ok(Ok(())) => tracing::info!("sync stopped"),
                Ok(Err(e)) => tracing::warn!("sync stopped with an error: {e}"),
                Err(_) => tracing::warn!("sync did not stop in time"),
            }
        }
    }
}

/// The node's settings for the desktop: every interface, random ports (kept across
/// launches by the node), mDNS unless turned off.
pub fn config(mdns: bool) -> NodeConfig {
    NodeConfig {
        mdns,
        ..NodeConfig::default()
    }
}

/// Starts the node over `api` and forwards its notices with `emit`. A node that cannot
/// start (no network, ports refused) leaves the app working offline and says why.
pub async fn start(
    api: Arc<Mutex<Api>>,
    config: NodeConfig,
    slot: Arc<NodeSlot>,
    emit: impl Fn(&SyncNotice) + Send + 'static,
) -> ApiResult<()> {
    let node = Node::start(api, config).await?;
    for addr in node.addresses() {
        tracing::info!("sync listening on {addr}");
    }
    let notices = node.subscribe();
    slot.put(node);
    tauri::async_runtime::spawn(forward(notices, emit));
    Ok(())
}

/// Forwards notices until the node stops. Notices are progress reports: if the UI falls
/// behind, the missed ones are skipped (the sync panel asks for the status itself).
async fn forward(
    mut notices: broadcast::Receiver<SyncNotice>,
    emit: impl Fn(&SyncNotice) + Send + 'static,
) {
    loop {
        match notices.recv().await {
            Ok(notice) => emit(&notice),
            Err(RecvError::Lagged(n)) => tracing::debug!("skipped {n} sync notices"),
            Err(RecvError::Closed) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_api::OpenOptions;

    #[test]
    fn the_node_starts_over_the_shell_api_and_stops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let api = Api::open(dir.path(), OpenOptions::default()).expect("opens");
        let api = Arc::new(Mutex::new(api));
        let slot = Arc::new(NodeSlot::default());
        let config = NodeConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("an address")],
            mdns: false,
            ..NodeConfig::default()
        };
        tauri::async_runtime::block_on(start(api.clone(), config, slot.clone(), |_| {}))
            .expect("starts");
        // The core now knows the node: its peers and ticket addresses come from it.
        let addrs = slot
            .0
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map(|n| n.addresses())
            .expect("running");
        assert!(addrs.iter().any(|a| a.starts_with("/ip4/127.0.0.1/tcp/")));
        slot.stop();
        assert!(slot.0.lock().expect("not poisoned").is_none());
        // The data dir is still usable after the node stopped.
        let me = api.lock().expect("not poisoned").me().expect("profile");
        assert!(!me.device.is_empty());
    }
}
