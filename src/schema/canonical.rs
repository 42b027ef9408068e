//! Canonical JSON (object keys sorted at every level, no insignificant whitespace), the form every
//! revos hash is taken over (`schema_hash`, `inputs_hash`, `outputs_hash`).
//!
//! Two entries that produce the same bytes:
//! * [`of_value`] for a `serde_json::Value`;
//! * [`of`] for any `Serialize` type, written straight from its serde serialization — byte for
//!   byte what `of_value(&serde_json::to_value(x)?)` gives, without building the `Value` tree
//!   (for the 123-table schema that tree cost several milliseconds of allocation and hashing).
//!
//! Strings and numbers are written by serde_json itself, so escaping and number formatting are
//! serde_json's. An object is written field by field into the output, then its fields are put in
//! key order in place (keys compare as bytes, as `String`'s `Ord` does; a repeated map key keeps
//! its last value, as a `serde_json::Map` would).

use serde::ser::{self, Serialize};
use serde_json::Value;
use std::fmt;

/// Canonical JSON of a `Value`.
pub fn of_value(v: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_value(v, &mut out);
    into_string(out)
}

/// Canonical JSON of anything serde_json can turn into a `Value`: the same bytes as
/// `of_value(&serde_json::to_value(x)?)`.
pub fn of<T: Serialize + ?Sized>(x: &T) -> Result<String, Error> {
    let mut out = Vec::with_capacity(4096);
    x.serialize(&mut Canon { out: &mut out })?;
    Ok(into_string(out))
}

fn into_string(out: Vec<u8>) -> String {
    // Only whole UTF-8 strings and ASCII punctuation were written.
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write_value(x, out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(x, out);
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, other).expect("a scalar serializes"),
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("a string serializes");
}

/// What `serde_json::to_value` would have refused (a map key that is not a string, a number,
/// a bool or a char; a 128-bit integer out of range; a custom error of a `Serialize` impl).
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// The serializer: writes one value's canonical JSON at the end of `out`.
struct Canon<'a> {
    out: &'a mut Vec<u8>,
}

impl Canon<'_> {
    /// A scalar exactly as serde_json's Value would print it.
    fn scalar(&mut self, v: Value) -> Result<(), Error> {
        serde_json::to_writer(&mut *self.out, &v).map_err(|e| Error(e.to_string()))
    }
}

/// An object being written: fields go to `out` in the order given, `fields` remembers where
/// each one's key and value are; `end` sorts them.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    /// Where the object's first field starts (just after `{`).
    start: usize,
    /// (key, start of the `"key":value` bytes, end) per field.
    fields: Vec<(Key, usize, usize)>,
    /// For a map: the key of the entry whose value comes next.
    pending: Option<String>,
    /// `{"Variant":` was written before the object (a struct variant): close it too.
    variant: bool,
}

enum Key {
    Static(&'static str),
    Owned(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Key::Static(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'a> Object<'a> {
    fn new(out: &'a mut Vec<u8>, variant: bool) -> Self {
        out.push(b'{');
        let start = out.len();
        Object {
            out,
            start,
            fields: vec![],
            pending: None,
            variant,
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: Key, value: &T) -> Result<(), Error> {
        if !self.fields.is_empty() {
            self.out.push(b',');
        }
        let at = self.out.len();
        write_str(key.as_str(), self.out);
        self.out.push(b':');
        value.serialize(&mut Canon { out: self.out })?;
        self.fields.push((key, at, self.out.len()));
        Ok(())
    }

    fn end(mut self) -> Result<(), Error> {
        let sorted = self
            .fields
            .windows(2)
            .all(|w| w[0].0.as_str().as_bytes() < w[1].0.as_str().as_bytes());
        if !sorted {
            // Stable sort: among equal keys the one written last comes last; only it is kept.
            self.fields
                .sort_by(|a, b| a.0.as_str().as_bytes().cmp(b.0.as_str().as_bytes()));
            let mut keep: Vec<(usize, usize)> = Vec::with_capacity(self.fields.len());
            for (i, f) in self.fields.iter().enumerate() {
                let same = i > 0 && self.fields[i - 1].0.as_str() == f.0.as_str();
                if same {
                    keep.pop();
                }
                keep.push((f.1 - self.start, f.2 - self.start));
            }
            let written = self.out.split_off(self.start);
            for (i, (a, b)) in keep.into_iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                self.out.extend_from_slice(&written[a..b]);
            }
        }
        self.out.push(b'}');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

/// An array being written.
struct Array<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    variant: bool,
}

impl<'a> Array<'a> {
    fn new(out: &'a mut Vec<u8>, variant: bool) -> Self {
        out.push(b'[');
        Array {
            out,
            first: true,
            variant,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(&mut Canon { out: self.out })
    }

    fn end(self) -> Result<(), Error> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl<'a, 'b> ser::Serializer for &'b mut Canon<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<'b>;
    type SerializeTuple = Array<'b>;
    type SerializeTupleStruct = Array<'b>;
    type SerializeTupleVariant = Array<'b>;
    type SerializeMap = Object<'b>;
    type SerializeStruct = Object<'b>;
    type SerializeStructVariant = Object<'b>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.scalar(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.scalar(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.scalar(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.scalar(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.scalar(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        let v = serde_json::to_value(v).map_err(|e| Error(e.to_string()))?;
        self.scalar(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.scalar(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.scalar(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.scalar(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.scalar(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        let v = serde_json::to_value(v).map_err(|e| Error(e.to_string()))?;
        self.scalar(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        let v = serde_json::to_value(v).map_err(|e| Error(e.to_string()))?;
        self.scalar(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        let v = serde_json::to_value(v).map_err(|e| Error(e.to_string()))?;
        self.scalar(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut b = [0u8; 4];
        write_str(v.encode_utf8(&mut b), self.out);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(v, self.out);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut a = Array::new(self.out, false);
        for b in v {
            a.element(b)?;
        }
        a.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let mut o = Object::new(self.out, false);
        o.field(Key::Static(variant), v)?;
        o.end()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'b>, Error> {
        Ok(Array::new(self.out, false))
    }
    fn serialize_tuple(self, _: usize) -> Result<Array<'b>, Error> {
        Ok(Array::new(self.out, false))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Array<'b>, Error> {
        Ok(Array::new(self.out, false))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Array<'b>, Error> {
        self.out.push(b'{');
        write_str(variant, self.out);
        self.out.push(b':');
        Ok(Array::new(self.out, true))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Object<'b>, Error> {
        Ok(Object::new(self.out, false))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'b>, Error> {
        Ok(Object::new(self.out, false))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Object<'b>, Error> {
        self.out.push(b'{');
        write_str(variant, self.out);
        self.out.push(b':');
        Ok(Object::new(self.out, true))
    }
}

/// serde's four sequence traits, all an [`Array`].
macro_rules! array_trait {
    ($trait:ident, $method:ident) => {
        impl ser::$trait for Array<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.element(v)
            }
            fn end(self) -> Result<(), Error> {
                Array::end(self)
            }
        }
    };
}
array_trait!(SerializeSeq, serialize_element);
array_trait!(SerializeTuple, serialize_element);
array_trait!(SerializeTupleStruct, serialize_field);
array_trait!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // serde_json's rule for map keys: strings, and numbers, bools and chars as their text.
        let k = match serde_json::to_value(key).map_err(|e| Error(e.to_string()))? {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(Error("key must be a string".into())),
        };
        self.pending = Some(k);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let k = self
            .pending
            .take()
            .ok_or_else(|| Error("serialize_value before serialize_key".into()))?;
        self.field(Key::Owned(k), v)
    }
    fn end(self) -> Result<(), Error> {
        Object::end(self)
    }
}

/// serde's two struct traits, both an [`Object`] with static keys.
macro_rules! struct_trait {
    ($trait:ident) => {
        impl ser::$trait for Object<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                self.field(Key::Static(key), v)
            }
            fn end(self) -> Result<(), Error> {
                Object::end(self)
            }
        }
    };
}
struct_trait!(SerializeStruct);
struct_trait!(SerializeStructVariant);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::json;
    use std::collections::BTreeMap;

    /// The definition this module must agree with: `serde_json::to_value`, then keys sorted with
    /// each key and scalar printed by `Value`'s `Display` (the code revos hashed with before).
    pub(crate) fn reference(v: &Value) -> String {
        fn w(v: &Value, out: &mut String) {
            match v {
                Value::Object(m) => {
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    out.push('{');
                    for (i, k) in keys.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&Value::String((*k).clone()).to_string());
                        out.push(':');
                        w(&m[*k], out);
                    }
                    out.push('}');
                }
                Value::Array(a) => {
                    out.push('[');
                    for (i, x) in a.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        w(x, out);
                    }
                    out.push(']');
                }
                other => out.push_str(&other.to_string()),
            }
        }
        let mut out = String::new();
        w(v, &mut out);
        out
    }

    fn same<T: Serialize>(x: &T) {
        let want = reference(&serde_json::to_value(x).unwrap());
        assert_eq!(of(x).unwrap(), want);
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_]{0,6}",
            ".{0,8}",
            prop::sample::select(vec![
                "", "a", "A", "_", "é", "\"", "\\", "\u{7f}", "\u{1}", "\n\t", "ß", "😀", "aa",
                "a\u{0}"
            ])
            .prop_map(str::to_string),
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            arb_text().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((arb_text(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn a_value_canonicalizes_as_before(v in arb_json()) {
            let want = reference(&v);
            prop_assert_eq!(of_value(&v), want.clone());
            // through serde (Value's own Serialize) the same bytes
            prop_assert_eq!(of(&v).unwrap(), want);
        }
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { z: bool, a: Option<f64> },
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Wrapper(String);

    #[derive(Serialize)]
    struct Tuple(u16, char);

    #[derive(Serialize)]
    struct Every {
        zeta: Vec<Kind>,
        #[serde(rename = "Alpha")]
        alpha: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u32>,
        mid: (Unit, Wrapper, Tuple),
        map: BTreeMap<String, Vec<u8>>,
        ints: BTreeMap<i64, bool>,
        floats: [f64; 3],
        f32s: [f32; 2],
        big: (i128, u128),
        bytes: serde_bytes_like::Bytes,
        empty: BTreeMap<String, ()>,
        aaa: (),
    }

    /// Bytes serialized with serialize_bytes (serde's Vec<u8> uses a sequence).
    mod serde_bytes_like {
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn every_serde_shape_canonicalizes_as_to_value() {
        same(&Every {
            zeta: vec![
                Kind::Unit,
                Kind::Newtype(7),
                Kind::Tuple(-3, "x\"y".into()),
                Kind::Struct {
                    z: true,
                    a: Some(1.5e300),
                },
                Kind::Struct { z: false, a: None },
            ],
            alpha: Some("é\\\n".into()),
            skipped: None,
            mid: (Unit, Wrapper("w".into()), Tuple(65535, '√')),
            map: [
                ("b".to_string(), vec![1, 2]),
                ("B".to_string(), vec![]),
                ("".to_string(), vec![0]),
            ]
            .into_iter()
            .collect(),
            ints: [(-1, true), (10, false), (9, true)].into_iter().collect(),
            floats: [0.1, -0.0, 1e-7],
            f32s: [0.1, f32::NAN],
            big: (-(1i128 << 62), 1u128 << 63),
            bytes: serde_bytes_like::Bytes(vec![0, 255]),
            empty: BTreeMap::new(),
            aaa: (),
        });
        same(&f64::INFINITY);
        same(&Some(Kind::Unit));
        same(&Vec::<Kind>::new());
    }

    /// A map that repeats a key: the last value wins, in the first key's sorted place.
    #[test]
    fn a_repeated_map_key_keeps_its_last_value() {
        struct Dup;
        impl Serialize for Dup {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("k", &1)?;
                m.serialize_entry("a", &2)?;
                m.serialize_entry("k", &3)?;
                m.end()
            }
        }
        same(&Dup);
        assert_eq!(of(&Dup).unwrap(), r#"{"a":2,"k":3}"#);
    }

    #[test]
    fn a_key_that_is_not_a_string_is_refused_like_to_value() {
        let m: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(serde_json::to_value(&m).is_err());
        assert!(of(&m).is_err());
    }
}
