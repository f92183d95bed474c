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

/// Checks that `pos` and `pos + delete` lie inside the text `obj` of `doc` and on
/// character boundaries (never inside a surrogate pair). It looks only at the characters
/// around the two positions, never reads the whole text: a keystroke into a long text
/// costs what the splice costs.
fn check_bounds<R: ReadDoc>(doc: &R, obj: &ObjId, splice: &Splice) -> Result<()> {
    let end = splice
        .pos
        .checked_add(splice.delete)
        .ok_or_else(|| ModelError::InvalidEdit("splice length overflows".into()))?;
    let len = doc.length(obj);
    if end > len {
        return Err(ModelError::InvalidEdit(format!(
            "splice {}..{} is outside a text of {len} UTF-16 code units",
            splice.pos, end
        )));
    }
    if !on_boundary(doc, obj, splice.pos, len)? || !on_boundary(doc, obj, end, len)? {
        return Err(ModelError::InvalidEdit(format!(
            "splice {}..{} would split a character (a UTF-16 surrogate pair)",
            splice.pos, end
        )));
    }
    Ok(())
}

/// Whether UTF-16 offset `at` of a text of `len` units starts a character (or is its end):
/// the units on either side belong to different characters.
fn on_boundary<R: ReadDoc>(doc: &R, obj: &ObjId, at: usize, len: usize) -> Result<bool> {
    if at == 0 || at >= len {
        return Ok(true);
    }
    let id = |i| Ok::<_, ModelError>(doc.get(obj, i)?.map(|(_, id)| id));
    Ok(id(at - 1)? != id(at)?)
}

/// Applies a validated splice to the Text object `text`.
pub(crate) fn apply<T: Transactable>(tx: &mut T, text: &ObjId, splice: &Splice) -> Result<()> {
    check_bounds(tx, text, splice)?;
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
    use automerge::{AutoCommit, ObjType, ROOT};

    use super::*;

    fn text_of(content: &str) -> (AutoCommit, ObjId) {
        let mut doc = AutoCommit::new();
        let obj = doc
            .put_object(ROOT, "body", ObjType::Text)
            .unwrap_or_else(|e| panic!("{e}"));
        doc.splice_text(&obj, 0, 0, content)
            .unwrap_or_else(|e| panic!("{e}"));
        (doc, obj)
    }

    #[test]
    fn bounds_accept_edges_and_reject_split_pairs() {
        let (doc, text) = text_of("a😀b"); // a=1, 😀=2, b=1 -> 4 units
        let check = |s: Splice| check_bounds(&doc, &text, &s);
        assert!(check(Splice::insert(0, "x")).is_ok());
        assert!(check(Splice::insert(1, "x")).is_ok());
        assert!(check(Splice::insert(3, "x")).is_ok());
        assert!(check(Splice::insert(4, "x")).is_ok());
        assert!(check(Splice::delete(1, 2)).is_ok());
        assert!(check(Splice::delete(0, 4)).is_ok());
        assert!(check(Splice::insert(2, "x")).is_err(), "inside the pair");
        assert!(check(Splice::delete(1, 1)).is_err(), "ends inside the pair");
        assert!(
            check(Splice::delete(2, 2)).is_err(),
            "starts inside the pair"
        );
        assert!(check(Splice::insert(5, "x")).is_err(), "past the end");
        assert!(check(Splice::delete(3, 2)).is_err(), "ends past the end");
        assert!(check(Splice::delete(usize::MAX, 1)).is_err(), "overflows");
        let (empty, text) = text_of("");
        assert!(check_bounds(&empty, &text, &Splice::insert(0, "x")).is_ok());
        assert!(check_bounds(&empty, &text, &Splice::delete(0, 1)).is_err());
        let (pairs, text) = text_of("😀😀");
        assert!(
            check_bounds(&pairs, &text, &Splice::insert(2, "x")).is_ok(),
            "between two pairs"
        );
        assert!(check_bounds(&pairs, &text, &Splice::insert(3, "x")).is_err());
    }

    #[test]
    fn slice_counts_utf16() {
        assert_eq!(slice_utf16("a😀b", 1, 3), "😀");
        assert_eq!(slice_utf16("a😀b", 3, 4), "b");
        assert_eq!(slice_utf16("abc", 1, 10), "bc");
    }
}
