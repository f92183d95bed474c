//! Typed, validating access to Automerge values. Every reader names the path it reads so a
//! malformed document yields an error that says where the problem is.

use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};

use crate::error::{ModelError, Result};

/// A path inside a document, for error messages.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn value_at<'a, R: ReadDoc>(
    doc: &'a R,
    obj: &ObjId,
    key: &str,
) -> Result<Option<(Value<'a>, ObjId)>> {
    Ok(doc.get(obj, key)?)
}

fn describe(v: &Value<'_>) -> String {
    match v {
        Value::Object(t) => format!("a {t:?} object"),
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(_) => "a string".into(),
            ScalarValue::Int(_) | ScalarValue::Uint(_) => "a number".into(),
            ScalarValue::Boolean(_) => "a boolean".into(),
            ScalarValue::Null => "null".into(),
            other => format!("{other:?}"),
        },
    }
}

/// A scalar string, or a Text object read as a string.
pub(crate) fn opt_string<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
    path: &str,
) -> Result<Option<String>> {
    as_opt_string(doc, value_at(doc, obj, key)?, key, path)
}

/// [`opt_string`] of a value already read.
fn as_opt_string<R: ReadDoc>(
    doc: &R,
    found: Option<(Value<'_>, ObjId)>,
    key: &str,
    path: &str,
) -> Result<Option<String>> {
    match found {
        None => Ok(None),
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(s) => Ok(Some(s.to_string())),
            ScalarValue::Null => Ok(None),
            _ => Err(ModelError::malformed(
                join(path, key),
                format!("expected a string, found {}", describe(&Value::Scalar(s))),
            )),
        },
        Some((Value::Object(ObjType::Text), id)) => Ok(Some(doc.text(&id)?)),
        Some((v, _)) => Err(ModelError::malformed(
            join(path, key),
            format!("expected a string, found {}", describe(&v)),
        )),
    }
}

/// A required string (scalar or Text).
pub(crate) fn string<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str, path: &str) -> Result<String> {
    opt_string(doc, obj, key, path)?
        .ok_or_else(|| ModelError::malformed(join(path, key), "missing"))
}

/// A required value parsed from a string (ids, kinds).
pub(crate) fn parsed<R: ReadDoc, T>(doc: &R, obj: &ObjId, key: &str, path: &str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    required(opt_parsed(doc, obj, key, path)?, key, path)
}

/// An optional value parsed from a string; null or absent is `None`.
pub(crate) fn opt_parsed<R: ReadDoc, T>(
    doc: &R,
    obj: &ObjId,
    key: &str,
    path: &str,
) -> Result<Option<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    parse_text(opt_string(doc, obj, key, path)?, key, path)
}

fn parse_text<T>(text: Option<String>, key: &str, path: &str) -> Result<Option<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match text {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|e: T::Err| ModelError::malformed(join(path, key), e.to_string())),
    }
}

/// A value that must be there.
fn required<T>(value: Option<T>, key: &str, path: &str) -> Result<T> {
    value.ok_or_else(|| ModelError::malformed(join(path, key), "missing"))
}

/// An optional integer (Int, Uint or Timestamp scalar).
pub(crate) fn opt_int<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
    path: &str,
) -> Result<Option<i64>> {
    as_opt_int(value_at(doc, obj, key)?, key, path)
}

/// [`opt_int`] of a value already read.
fn as_opt_int(found: Option<(Value<'_>, ObjId)>, key: &str, path: &str) -> Result<Option<i64>> {
    match found {
        None => Ok(None),
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Ok(Some(*i)),
            ScalarValue::Uint(u) => i64::try_from(*u)
                .map(Some)
                .map_err(|_| ModelError::malformed(join(path, key), "number out of range")),
            ScalarValue::Null => Ok(None),
            _ => Err(ModelError::malformed(
                join(path, key),
                format!("expected a number, found {}", describe(&Value::Scalar(s))),
            )),
        },
        Some((v, _)) => Err(ModelError::malformed(
            join(path, key),
            format!("expected a number, found {}", describe(&v)),
        )),
    }
}

/// A required integer.
pub(crate) fn int<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str, path: &str) -> Result<i64> {
    required(opt_int(doc, obj, key, path)?, key, path)
}

/// A boolean; absent or null reads as `false`.
pub(crate) fn flag<R: ReadDoc>(doc: &R, obj: &ObjId, key: &str, path: &str) -> Result<bool> {
    as_flag(value_at(doc, obj, key)?, key, path)
}

/// [`flag`] of a value already read.
fn as_flag(found: Option<(Value<'_>, ObjId)>, key: &str, path: &str) -> Result<bool> {
    match found {
        None => Ok(false),
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Boolean(b) => Ok(*b),
            ScalarValue::Null => Ok(false),
            _ => Err(ModelError::malformed(
                join(path, key),
                format!("expected a boolean, found {}", describe(&Value::Scalar(s))),
            )),
        },
        Some((v, _)) => Err(ModelError::malformed(
            join(path, key),
            format!("expected a boolean, found {}", describe(&v)),
        )),
    }
}

/// The id of a child object of the given type; absent is `None`.
pub(crate) fn opt_object<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
    ty: ObjType,
    path: &str,
) -> Result<Option<ObjId>> {
    as_opt_object(value_at(doc, obj, key)?, key, ty, path)
}

/// [`opt_object`] of a value already read.
fn as_opt_object(
    found: Option<(Value<'_>, ObjId)>,
    key: &str,
    ty: ObjType,
    path: &str,
) -> Result<Option<ObjId>> {
    match found {
        None => Ok(None),
        Some((Value::Object(t), id)) if t == ty => Ok(Some(id)),
        Some((Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Null) => Ok(None),
        Some((v, _)) => Err(ModelError::malformed(
            join(path, key),
            format!("expected a {ty:?} object, found {}", describe(&v)),
        )),
    }
}

/// The id of a required child object.
pub(crate) fn object<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
    ty: ObjType,
    path: &str,
) -> Result<ObjId> {
    required(opt_object(doc, obj, key, ty, path)?, key, path)
}

/// Every field of a map read in one pass over it, for readers that take most of an
/// object's fields (a lookup per field costs a search of the document each). Each reader
/// checks its field as the free function of the same name does.
pub(crate) struct Fields<'a, R: ReadDoc> {
    doc: &'a R,
    path: &'a str,
    items: Vec<(String, Value<'static>, ObjId)>,
}

impl<'a, R: ReadDoc> Fields<'a, R> {
    /// The fields of map `obj` (at `path`, for error messages).
    pub(crate) fn read(doc: &'a R, obj: &ObjId, path: &'a str) -> Fields<'a, R> {
        let items = doc
            .map_range(obj, ..)
            .map(|item| {
                let id = item.id();
                (item.key.into_owned(), Value::from(item.value), id)
            })
            .collect();
        Fields { doc, path, items }
    }

    /// The keys read, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(k, _, _)| k.as_str())
    }

    fn get(&self, key: &str) -> Option<(Value<'static>, ObjId)> {
        self.items
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, id)| (v.clone(), id.clone()))
    }

    pub(crate) fn opt_string(&self, key: &str) -> Result<Option<String>> {
        as_opt_string(self.doc, self.get(key), key, self.path)
    }

    pub(crate) fn opt_parsed<T>(&self, key: &str) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        parse_text(self.opt_string(key)?, key, self.path)
    }

    pub(crate) fn parsed<T>(&self, key: &str) -> Result<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        required(self.opt_parsed(key)?, key, self.path)
    }

    pub(crate) fn opt_int(&self, key: &str) -> Result<Option<i64>> {
        as_opt_int(self.get(key), key, self.path)
    }

    pub(crate) fn int(&self, key: &str) -> Result<i64> {
        required(self.opt_int(key)?, key, self.path)
    }

    pub(crate) fn flag(&self, key: &str) -> Result<bool> {
        as_flag(self.get(key), key, self.path)
    }

    pub(crate) fn string(&self, key: &str) -> Result<String> {
        required(self.opt_string(key)?, key, self.path)
    }

    pub(crate) fn opt_object(&self, key: &str, ty: ObjType) -> Result<Option<ObjId>> {
        as_opt_object(self.get(key), key, ty, self.path)
    }

    pub(crate) fn object(&self, key: &str, ty: ObjType) -> Result<ObjId> {
        required(self.opt_object(key, ty)?, key, self.path)
    }
}

/// The map objects of a list, with their paths.
pub(crate) fn list_maps<R: ReadDoc>(
    doc: &R,
    list: &ObjId,
    path: &str,
) -> Result<Vec<(ObjId, String)>> {
    let mut out = Vec::new();
    for (i, item) in doc.list_range(list, ..).enumerate() {
        let item_path = format!("{path}[{i}]");
        let id = item.id();
        match Value::from(item.value) {
            Value::Object(ObjType::Map) => out.push((id, item_path)),
            v => {
                return Err(ModelError::malformed(
                    item_path,
                    format!("expected a map, found {}", describe(&v)),
                ));
            }
        }
    }
    Ok(out)
}

/// The strings of a list of scalar strings.
pub(crate) fn list_strings<R: ReadDoc>(doc: &R, list: &ObjId, path: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, item) in doc.list_range(list, ..).enumerate() {
        let value = Value::from(item.value);
        match &value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(s) => out.push(s.to_string()),
                _ => {
                    return Err(ModelError::malformed(
                        format!("{path}[{i}]"),
                        format!("expected a string, found {}", describe(&value)),
                    ));
                }
            },
            v => {
                return Err(ModelError::malformed(
                    format!("{path}[{i}]"),
                    format!("expected a string, found {}", describe(v)),
                ));
            }
        }
    }
    Ok(out)
}

/// A list of strings parsed into `T`.
pub(crate) fn list_parsed<R: ReadDoc, T>(doc: &R, list: &ObjId, path: &str) -> Result<Vec<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    list_strings(doc, list, path)?
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse()
                .map_err(|e: T::Err| ModelError::malformed(format!("{path}[{i}]"), e.to_string()))
        })
        .collect()
}

/// The keys of a map.
pub(crate) fn keys<R: ReadDoc>(doc: &R, map: &ObjId) -> Vec<String> {
    doc.keys(map).collect()
}

/// Finds the index and object id of the map in `list` whose `id` field equals `id`.
pub(crate) fn find_by_id<R: ReadDoc>(
    doc: &R,
    list: &ObjId,
    id: &str,
) -> Result<Option<(usize, ObjId)>> {
    for (i, item) in doc.list_range(list, ..).enumerate() {
        if let Value::Object(ObjType::Map) = Value::from(item.value.clone()) {
            let obj = item.id();
            if let Some((Value::Scalar(s), _)) = doc.get(&obj, "id")?
                && let ScalarValue::Str(s) = s.as_ref()
                && s.as_str() == id
            {
                return Ok(Some((i, obj)));
            }
        }
    }
    Ok(None)
}

/// Creates a Text object at `key` holding `text`.
pub(crate) fn put_text<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    text: &str,
) -> Result<ObjId> {
    let id = tx.put_object(obj, key, ObjType::Text)?;
    if !text.is_empty() {
        tx.splice_text(&id, 0, 0, text)?;
    }
    Ok(id)
}

/// Replaces the content of the Text object at `key` (creating it when absent) with the
/// smallest edit that turns the old text into `text`.
pub(crate) fn update_text<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    text: &str,
    path: &str,
) -> Result<()> {
    match opt_object(tx, obj, key, ObjType::Text, path)? {
        Some(id) => Ok(tx.update_text(&id, text)?),
        None => put_text(tx, obj, key, text).map(|_| ()),
    }
}

/// Creates a list of strings at `key`.
pub(crate) fn put_string_list<T: Transactable, S: AsRef<str>>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    items: &[S],
) -> Result<ObjId> {
    let list = tx.put_object(obj, key, ObjType::List)?;
    for (i, item) in items.iter().enumerate() {
        tx.insert(&list, i, item.as_ref())?;
    }
    Ok(list)
}
