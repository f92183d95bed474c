//! `cohort://join/<ticket>` deep links: parsing, validation, and delivery to the UI.
//!
//! The URL arrives from outside the app (another program, a web page, a chat message), so it
//! is validated here before the UI sees it: the scheme and host must be `cohort` and `join`
//! (any letter case), the ticket is the one path segment after them (percent-decoded, at most
//! [`MAX_TICKET_LEN`] characters), and it must look like a ticket: `cohort1` followed by
//! letters and digits. Whether the ticket is genuine (its checksum, its space) is for the
//! core to decide when the UI calls `join`.
//!
//! A link that arrives before the page is listening (the app was started by the link) is
//! held in [`Pending`] and delivered right after the UI's first `call` returns: the UI
//! subscribes to `cohort://deep-link` before it calls the core for the first time.

use std::sync::Mutex;

use serde::Serialize;

/// The URL scheme registered for the app (in tauri.conf.json and the .deb's desktop file).
pub const SCHEME: &str = "cohort";
/// The event the UI receives, with a [`DeepLink`] payload.
pub const EVENT: &str = "cohort://deep-link";
/// The longest ticket accepted (the core's own limit for ticket text).
pub const MAX_TICKET_LEN: usize = 4096;
/// The longest URL looked at: a fully percent-encoded maximal ticket plus the prefix.
pub const MAX_URL_LEN: usize = 3 * MAX_TICKET_LEN + 64;
/// How every ticket starts.
pub const TICKET_PREFIX: &str = "cohort1";

/// The payload of [`EVENT`]: `{ "ticket": "<ticket>" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeepLink {
    /// The invite ticket, lowercase, as the UI passes it to `join`.
    pub ticket: String,
}

/// Why a URL is not a join link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// Empty (or only whitespace).
    Empty,
    /// Longer than [`MAX_URL_LEN`], or a ticket longer than [`MAX_TICKET_LEN`].
    TooLong,
    /// Not `cohort://`.
    WrongScheme,
    /// `cohort://` but not `cohort://join/`.
    WrongHost,
    /// No ticket, or more than one path segment, a query or a fragment.
    MissingTicket,
    /// A `%` not followed by two hex digits, or percent-encoded bytes that are not text.
    BadEncoding,
    /// The ticket has characters or a prefix no ticket has.
    NotATicket,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LinkError::Empty => "the link is empty",
            LinkError::TooLong => "the link is too long to be an invite",
            LinkError::WrongScheme => "not a cohort:// link",
            LinkError::WrongHost => "not a cohort://join/ link",
            LinkError::MissingTicket => "the link has no invite ticket after cohort://join/",
            LinkError::BadEncoding => "the link is not properly percent-encoded",
            LinkError::NotATicket => "the link does not hold a Cohort invite ticket",
        })
    }
}

impl std::error::Error for LinkError {}

/// Parses `cohort://join/<ticket>` into the ticket.
pub fn parse(url: &str) -> Result<DeepLink, LinkError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(LinkError::Empty);
    }
    if url.len() > MAX_URL_LEN {
        return Err(LinkError::TooLong);
    }
    let rest = strip_prefix_ignore_case(url, SCHEME)
        .and_then(|r| r.strip_prefix("://"))
        .ok_or(LinkError::WrongScheme)?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !host.eq_ignore_ascii_case("join") {
        return Err(LinkError::WrongHost);
    }
    // One segment, optionally followed by a single slash; no query or fragment.
    let segment = path.strip_suffix('/').unwrap_or(path);
    if segment.is_empty() || segment.contains(['/', '?', '#']) {
        return Err(LinkError::MissingTicket);
    }
    let ticket = percent_decode(segment)?;
    let ticket = ticket.trim();
    if ticket.is_empty() {
        return Err(LinkError::MissingTicket);
    }
    if ticket.len() > MAX_TICKET_LEN {
        return Err(LinkError::TooLong);
    }
    let body = strip_prefix_ignore_case(ticket, TICKET_PREFIX).ok_or(LinkError::NotATicket)?;
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(LinkError::NotATicket);
    }
    Ok(DeepLink {
        ticket: ticket.to_ascii_lowercase(),
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn percent_decode(text: &str) -> Result<String, LinkError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(LinkError::BadEncoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| LinkError::BadEncoding)?;
            let value = u8::from_str_radix(hex, 16).map_err(|_| LinkError::BadEncoding)?;
            out.push(value);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| LinkError::BadEncoding)
}

/// Deep links waiting for the UI, and whether the UI is listening yet.
#[derive(Debug, Default)]
pub struct Pending {
    inner: Mutex<PendingState>,
}

#[derive(Debug, Default)]
struct PendingState {
    ready: bool,
    queue: Vec<DeepLink>,
}

impl Pending {
    /// Offers a link: returns it if the UI is ready (emit it now), or keeps it for later.
    pub fn offer(&self, link: DeepLink) -> Option<DeepLink> {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if state.ready {
            Some(link)
        } else {
            if !state.queue.contains(&link) {
                state.queue.push(link);
            }
            None
        }
    }

    /// Marks the UI ready; returns the links kept until now (empty after the first time).
    pub fn ready(&self) -> Vec<DeepLink> {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        state.ready = true;
        std::mem::take(&mut state.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "cohort1aebagbafaydqqcikbmga2dqpcaireeyuculbogazdinryhi6d4qa";

    fn ticket(url: &str) -> Result<String, LinkError> {
        parse(url).map(|l| l.ticket)
    }

    #[test]
    fn good_urls() {
        assert_eq!(ticket(&format!("cohort://join/{T}")), Ok(T.to_owned()));
        assert_eq!(ticket(&format!("cohort://join/{T}/")), Ok(T.to_owned()));
        assert_eq!(ticket(&format!("  cohort://join/{T}\n")), Ok(T.to_owned()));
        // Schemes and hosts are case-insensitive; tickets are read in lowercase.
        let upper = T.to_ascii_uppercase();
        assert_eq!(ticket(&format!("COHORT://Join/{upper}")), Ok(T.to_owned()));
    }

    #[test]
    fn percent_encoded_tickets_are_decoded() {
        let encoded: String = T.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(
            ticket(&format!("cohort://join/{encoded}")),
            Ok(T.to_owned())
        );
        let mixed = format!("cohort://join/%63ohort1{}", &T[7..]);
        assert_eq!(ticket(&mixed), Ok(T.to_owned()));
        // Encoded characters are validated after decoding: no smuggling.
        assert_eq!(
            ticket("cohort://join/cohort1abc%2Fdef"),
            Err(LinkError::NotATicket)
        );
        assert_eq!(
            ticket("cohort://join/cohort1abc%3Cscript%3E"),
            Err(LinkError::NotATicket)
        );
        assert_eq!(
            ticket("cohort://join/cohort1%zz"),
            Err(LinkError::BadEncoding)
        );
        assert_eq!(
            ticket("cohort://join/cohort1ab%4"),
            Err(LinkError::BadEncoding)
        );
        assert_eq!(
            ticket("cohort://join/cohort1%ff"),
            Err(LinkError::BadEncoding)
        );
        assert_eq!(
            ticket("cohort://join/%20%20"),
            Err(LinkError::MissingTicket)
        );
    }

    #[test]
    fn wrong_scheme_or_host() {
        assert_eq!(
            ticket(&format!("https://join/{T}")),
            Err(LinkError::WrongScheme)
        );
        assert_eq!(
            ticket(&format!("cohorts://join/{T}")),
            Err(LinkError::WrongScheme)
        );
        assert_eq!(
            ticket(&format!("cohort:join/{T}")),
            Err(LinkError::WrongScheme)
        );
        assert_eq!(
            ticket(&format!("cohort:///join/{T}")),
            Err(LinkError::WrongHost)
        );
        assert_eq!(
            ticket(&format!("cohort://invite/{T}")),
            Err(LinkError::WrongHost)
        );
        assert_eq!(
            ticket(&format!("cohort://join.evil/{T}")),
            Err(LinkError::WrongHost)
        );
        assert_eq!(ticket("cohort"), Err(LinkError::WrongScheme));
    }

    #[test]
    fn empty_and_missing_tickets() {
        assert_eq!(ticket(""), Err(LinkError::Empty));
        assert_eq!(ticket("   "), Err(LinkError::Empty));
        assert_eq!(ticket("cohort://join"), Err(LinkError::MissingTicket));
        assert_eq!(ticket("cohort://join/"), Err(LinkError::MissingTicket));
        assert_eq!(ticket("cohort://join//"), Err(LinkError::MissingTicket));
        assert_eq!(
            ticket(&format!("cohort://join/{T}/x")),
            Err(LinkError::MissingTicket)
        );
        assert_eq!(
            ticket(&format!("cohort://join/{T}?a=b")),
            Err(LinkError::MissingTicket)
        );
        assert_eq!(
            ticket(&format!("cohort://join/{T}#x")),
            Err(LinkError::MissingTicket)
        );
    }

    #[test]
    fn things_that_are_not_tickets() {
        assert_eq!(ticket("cohort://join/hello"), Err(LinkError::NotATicket));
        assert_eq!(ticket("cohort://join/cohort1"), Err(LinkError::NotATicket));
        assert_eq!(
            ticket("cohort://join/cohort1abc-def"),
            Err(LinkError::NotATicket)
        );
        assert_eq!(
            ticket("cohort://join/cohort1åäö"),
            Err(LinkError::NotATicket)
        );
    }

    #[test]
    fn overlong_urls_and_tickets() {
        let longest = format!(
            "cohort1{}",
            "a".repeat(MAX_TICKET_LEN - TICKET_PREFIX.len())
        );
        assert_eq!(
            ticket(&format!("cohort://join/{longest}")),
            Ok(longest.clone())
        );
        let too_long = format!("{longest}a");
        assert_eq!(
            ticket(&format!("cohort://join/{too_long}")),
            Err(LinkError::TooLong)
        );
        let huge = format!("cohort://join/cohort1{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(ticket(&huge), Err(LinkError::TooLong));
        // Percent-encoding cannot hide the length.
        let encoded: String = too_long.bytes().map(|b| format!("%{b:02x}")).collect();
        assert_eq!(
            ticket(&format!("cohort://join/{encoded}")),
            Err(LinkError::TooLong)
        );
    }

    #[test]
    fn links_wait_until_the_ui_is_ready() {
        let pending = Pending::default();
        let a = DeepLink {
            ticket: "cohort1a".to_owned(),
        };
        let b = DeepLink {
            ticket: "cohort1b".to_owned(),
        };
        assert_eq!(pending.offer(a.clone()), None);
        assert_eq!(
            pending.offer(a.clone()),
            None,
            "a repeated link is kept once"
        );
        assert_eq!(pending.offer(b.clone()), None);
        assert_eq!(pending.ready(), vec![a.clone(), b.clone()]);
        assert_eq!(pending.ready(), vec![]);
        assert_eq!(pending.offer(b.clone()), Some(b));
    }

    #[test]
    fn the_payload_is_an_object_with_the_ticket() {
        let json = serde_json::to_value(DeepLink {
            ticket: "cohort1x".to_owned(),
        })
        .expect("serializes");
        assert_eq!(json, serde_json::json!({ "ticket": "cohort1x" }));
    }
}
