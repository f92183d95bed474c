//! What the core answers about the network, with or without a running node.

use std::collections::BTreeSet;

use cohort_net::PeerId;

use super::Core;
use crate::error::{CoreError, Result};
use crate::node::{self, ADDRS_KEY, NodeLink};
use crate::sync_views::PeerView;

impl Core {
    /// Connects the core to its running node (`None` when it stops).
    pub(crate) fn attach_node(&mut self, link: Option<NodeLink>) {
        self.node = link;
    }

    /// Whether a node is running over this core.
    pub fn node_running(&self) -> bool {
        self.node.is_some()
    }

    /// Devices connected now or seen before (from the saved peer book when no node runs),
    /// with the person and name the cohorts' logs and member cards give them; connected ones
    /// first.
    pub fn peers(&mut self) -> Result<Vec<PeerView>> {
        let (book, connected) = match &self.node {
            Some(link) => {
                let shared = link.shared();
                (shared.book.clone(), shared.connected.clone())
            }
            None => (node::load_book(self), BTreeSet::new()),
        };
        let now = self.now();
        let mut out = Vec::new();
        for (peer, record) in book {
            let Ok(peer_id) = peer.parse::<PeerId>() else {
                continue;
            };
            let Some(device) = node::device_of(&peer_id) else {
                continue;
            };
            let is_connected = connected.contains(&peer);
            let who = self.person_of_device(device)?;
            out.push(PeerView {
                device: device.to_string(),
                person: who.as_ref().map(|(p, _)| *p),
                name: who.map(|(_, n)| n),
                connected: is_connected,
                addr: record.addr,
                last_seen: if is_connected {
                    Some(now)
                } else {
                    record.last_seen
                },
            });
        }
        out.sort_by(|a, b| b.connected.cmp(&a.connected).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Where other devices can reach this one, for tickets: the running node's addresses, or
    /// the ones it last listened on.
    pub fn ticket_addresses(&mut self) -> Vec<String> {
        if let Some(link) = &self.node {
            return link.shared().addrs.clone();
        }
        self.setting(ADDRS_KEY)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Asks the running node to dial known peers and sync now.
    pub fn sync_now(&mut self) -> Result<()> {
        match &self.node {
            Some(link) if link.sync_now() => Ok(()),
            Some(_) => Err(CoreError::InvalidInput(
                "the node is busy or stopping; try again".into(),
            )),
            None => Err(CoreError::InvalidInput(
                "no node is running on this data dir: start one with `cohort serve`".into(),
            )),
        }
    }
}
