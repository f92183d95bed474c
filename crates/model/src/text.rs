//! Text splices in UTF-16 code units, the unit editors report positions in.

use automerge::transaction::Transactable;
use automerge::{ObjId, ReadDoc};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// One edit of a text: at `pos`, delete `delete` code units, then insert `insert`.
/// Positions and lengths count UTF-16 code units, as browser editors do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Splice {
    /// Where the edit starts, in UTF-16 code units from the start of the text.
    pub pos: usize,
    /// How many UTF-16 code units to delete at `pos`.
    pub delete: usize,
    /// The text to insert at `pos` after deleting.
    pub insert: String,
}

impl Splice {
    /// An insertion of `text` at `pos`.
    pub fn insert(pos: usize, text: impl Into<String>) -> Self {
        Splice {
            pos,
            delete: 0,
            insert: text.into(),
        }
    }

    /// A deletion of `delete` code units at `pos`.
    pub fn delete(pos: usize, delete: usize) -> Self {
        Splice {
            pos,
            delete,
            insert: String::new(),
        }
    }
}

/// The length of `s` in UTF-16 code units.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Checks that `pos` and `pos + delete` lie inside `text` and on character boundaries
/// (never inside a surrogate pair).
fn check_bounds(text: &str, splice: &Splice) -> Result<()> {
    let end = splice
        .pos
        .checked_add(splice.delete)
        .ok_or_else(|| ModelError::InvalidEdit("splice length overflows".into()))?;
    let mut len = 0usize;
    let mut pos_ok = splice.pos == 0;
    let mut end_ok = end == 0;
    for c in text.chars() {
        len += c.len_utf16();
        pos_ok |= len == splice.pos;
        end_ok |= len == end;
    }
    if end > len {
        return Err(ModelError::InvalidEdit(format!(
            "splice {}..{} is outside a text of {len} UTF-16 code units",
            splice.pos, end
        )));
    }
    if !pos_ok || !end_ok {
        return Err(ModelError::InvalidEdit(format!(
            "splice {}..{} would split a character (a UTF-16 surrogate pair)",
            splice.pos, end
        )));
    }
    Ok(())
}

/// Applies a validated splice to the Text object `text`.
pub(crate) fn apply<T: Transactable>(tx: &mut T, text: &ObjId, splice: &Splice) -> Result<()> {
    let current = tx.text(text)?;
    check_bounds(&current, splice)?;
    let delete = isize::try_from(splice.delete)
        .map_err(|_| ModelError::InvalidEdit("splice deletes too much".into()))?;
    tx.splice_text(text, splice.pos, delete, &splice.insert)?;
    Ok(())
}

/// The UTF-16 range `[start, end)` of `text` as a string, clamped to the text.
pub(crate) fn slice_utf16(text: &str, start: usize, end: usize) -> String {
    let mut at = 0usize;
    let mut out = String::new();
    for c in text.chars() {
        if at >= start && at < end {
            out.push(c);
        }
        at += c.len_utf16();
        if at >= end {
            break;
        }
    }
    out
}

/// The length in UTF-16 code units of the character starting at UTF-16 offset `at` (1 when
/// no character starts there).
pub(crate) fn char_len_at(text: &str, at: usize) -> usize {
    let mut pos = 0usize;
    for c in text.chars() {
        if pos == at {
            return c.len_utf16();
        }
        if pos > at {
            break;
        }
        pos += c.len_utf16();
    }
    1
}

/// Reads the text of `obj` (used by callers that hold a Text id).
pub(crate) fn read<R: ReadDoc>(doc: &R, obj: &ObjId) -> Result<String> {
    Ok(doc.text(obj)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_accept_edges_and_reject_split_pairs() {
        let text = "a😀b"; // a=1, 😀=2, b=1 -> 4 units
        assert!(check_bounds(text, &Splice::insert(0, "x")).is_ok());
        assert!(check_bounds(text, &Splice::insert(4, "x")).is_ok());
        assert!(check_bounds(text, &Splice::delete(1, 2)).is_ok());
        assert!(
            check_bounds(text, &Splice::insert(2, "x")).is_err(),
            "inside the pair"
        );
        assert!(
            check_bounds(text, &Splice::delete(1, 1)).is_err(),
            "ends inside the pair"
        );
        assert!(
            check_bounds(text, &Splice::insert(5, "x")).is_err(),
            "past the end"
        );
        assert!(check_bounds("", &Splice::insert(0, "x")).is_ok());
        assert!(check_bounds("", &Splice::delete(0, 1)).is_err());
    }

    #[test]
    fn slice_counts_utf16() {
        assert_eq!(slice_utf16("a😀b", 1, 3), "😀");
        assert_eq!(slice_utf16("a😀b", 3, 4), "b");
        assert_eq!(slice_utf16("abc", 1, 10), "bc");
    }
}
