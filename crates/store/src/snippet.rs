//! Search snippets made in Rust from the stored text, so a hit costs a primary-key lookup
//! instead of another full-text query (FTS5 evaluates the whole MATCH again for each
//! `snippet()` call, which for a common prefix costs milliseconds per hit).

use crate::table::fts::{SNIPPET_END, SNIPPET_START};

/// Words shown in a snippet.
const SNIPPET_WORDS: usize = 24;
/// Words shown before the first match.
const LEAD_WORDS: usize = 6;

/// The words of a query, matched against text the way the index tokenizes it: runs of
/// letters and digits, compared case-insensitively, the last word also as a prefix.
#[derive(Debug, Clone)]
pub(crate) struct Highlighter {
    words: Vec<String>,
    prefix: Option<String>,
}

fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

impl Highlighter {
    /// The highlighter for `terms`, the query's terms as the index query uses them, and
    /// whether the last one matches as a prefix.
    pub(crate) fn new(terms: &[String], last_is_prefix: bool) -> Highlighter {
        let mut all: Vec<String> = terms
            .iter()
            .flat_map(|t| {
                words(t)
                    .into_iter()
                    .map(move |(s, e)| t[s..e].to_lowercase())
            })
            .collect();
        let prefix = if last_is_prefix { all.pop() } else { None };
        Highlighter { words: all, prefix }
    }

    fn matches(&self, word: &str) -> bool {
        let lower = word.to_lowercase();
        self.words.contains(&lower)
            || self
                .prefix
                .as_ref()
                .is_some_and(|p| lower.starts_with(p.as_str()))
    }

    /// About [`SNIPPET_WORDS`] words of `text` around its first match, matches wrapped in
    /// [`SNIPPET_START`]/[`SNIPPET_END`], with `…` where text was cut.
    pub(crate) fn snippet(&self, text: &str) -> String {
        let spans = words(text);
        if spans.is_empty() {
            return String::new();
        }
        let first = spans
            .iter()
            .position(|&(s, e)| self.matches(&text[s..e]))
            .unwrap_or(0);
        let from = first.saturating_sub(LEAD_WORDS);
        let to = (from + SNIPPET_WORDS).min(spans.len());
        let mut out = String::new();
        if from > 0 {
            out.push('…');
        }
        let mut at = spans[from].0;
        for &(s, e) in &spans[from..to] {
            out.push_str(&text[at..s]);
            let word = &text[s..e];
            if self.matches(word) {
                out.push_str(SNIPPET_START);
                out.push_str(word);
                out.push_str(SNIPPET_END);
            } else {
                out.push_str(word);
            }
            at = e;
        }
        if to < spans.len() {
            out.push('…');
        } else {
            out.push_str(&text[at..]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> String {
        s.replace(SNIPPET_START, "[").replace(SNIPPET_END, "]")
    }

    #[test]
    fn matches_are_marked_case_insensitively_and_the_last_word_as_a_prefix() {
        let h = Highlighter::new(&["Light".into(), "chlor".into()], true);
        assert_eq!(
            plain(&h.snippet("light enters the Chloroplast; LIGHT!")),
            "[light] enters the [Chloroplast]; [LIGHT]!"
        );
    }

    #[test]
    fn long_text_is_cut_around_the_first_match() {
        let text: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let h = Highlighter::new(&["w50".into()], false);
        let s = plain(&h.snippet(&text.join(" ")));
        assert!(s.starts_with("…w44 "), "{s}");
        assert!(s.contains("[w50]"));
        assert!(s.ends_with("w67…"), "{s}");
    }

    #[test]
    fn no_match_shows_the_start_and_empty_text_is_empty() {
        let h = Highlighter::new(&["zebra".into()], false);
        assert_eq!(h.snippet("a b c"), "a b c");
        assert_eq!(h.snippet(""), "");
        assert_eq!(h.snippet("  ...  "), "");
    }

    #[test]
    fn unicode_words_are_matched_whole() {
        let h = Highlighter::new(&["ünïcode".into(), "日本".into()], false);
        assert_eq!(
            plain(&h.snippet("ÜNÏCODE and 日本 text")),
            "[ÜNÏCODE] and [日本] text"
        );
    }
}
