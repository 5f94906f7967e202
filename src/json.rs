//! JSON values for the protocol and the resume journal, parsed and written
//! by the platform's own JSON: in the browser `JSON.parse`/`JSON.stringify`
//! (no JSON parser, writer or float formatting compiled into the module:
//! serde_json and what it pulled in were about a fifth of its size), natively
//! (the engine's tests) serde_json. The code that reads a reply's fields
//! ([`crate::protocol`]) is the same on both.

#[allow(unused_imports)]
use crate::prelude::*;

/// A JSON value. Numbers are JavaScript's: `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true`, `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, its members in order.
    Object(Vec<(String, Json)>),
}

/// The largest integer a JSON number (an `f64`) holds exactly: 2^53 - 1.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

impl Json {
    /// An object of these members.
    pub fn object<const N: usize>(members: [(&str, Json); N]) -> Self {
        Self::object_of(Vec::from(members))
    }

    /// [`Json::object`]'s work, once for every number of members (a
    /// generic body would be copied into the module for each).
    fn object_of(members: Vec<(&str, Json)>) -> Self {
        let mut out = Vec::with_capacity(members.len());
        for (k, v) in members {
            out.push((k.to_owned(), v));
        }
        Self::Object(out)
    }

    /// Member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Self::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Adds (or replaces) member `key` of an object; anything else is left as it is.
    pub fn insert(&mut self, key: &str, value: Json) {
        if let Self::Object(members) = self {
            match members.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => members.push((key.to_owned(), value)),
            }
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a whole number from 0 to 2^53 - 1.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::Number(n) if (0.0..=MAX_SAFE_INTEGER).contains(&n) && n == (n as u64) as f64 => Some(n as u64),
            _ => None,
        }
    }

    /// The JSON text of this value (compact).
    pub fn text(&self) -> String {
        platform::stringify(self)
    }

    /// Parses JSON text; the error is the parser's message.
    pub fn parse(text: &str) -> Result<Json, String> {
        platform::parse(text)
    }
}

/// `s` in double quotes, escaped as JSON escapes it (for messages).
pub fn quoted(s: &str) -> String {
    Json::from(s).text()
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Self {
        Self::Number(n as f64)
    }
}

impl From<u16> for Json {
    fn from(n: u16) -> Self {
        Self::Number(f64::from(n))
    }
}

impl From<u32> for Json {
    fn from(n: u32) -> Self {
        Self::Number(f64::from(n))
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Self {
        Self::Array(items.into_iter().map(Into::into).collect())
    }
}

#[cfg(target_arch = "wasm32")]
mod platform {
    use js_sys::{Array, JSON, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    #[allow(unused_imports)]
    use crate::prelude::*;

    use super::Json;

    pub fn parse(text: &str) -> Result<Json, String> {
        JSON::parse(text).map(|v| from_js(&v)).map_err(|e| String::from(e.unchecked_into::<js_sys::Error>().message()))
    }

    pub fn stringify(value: &Json) -> String {
        JSON::stringify(&to_js(value)).ok().and_then(|s| s.as_string()).unwrap_or_default()
    }

    /// A value `JSON.parse` made (or a hook returned) as [`Json`]; what JSON
    /// has no form for (functions, `undefined`) is `null`.
    pub fn from_js(v: &JsValue) -> Json {
        if let Some(b) = v.as_bool() {
            Json::Bool(b)
        } else if let Some(n) = v.as_f64() {
            Json::Number(n)
        } else if let Some(s) = v.as_string() {
            Json::String(s)
        } else if Array::is_array(v) {
            Json::Array(Array::from(v).iter().map(|x| from_js(&x)).collect())
        } else if v.is_object() && !v.is_function() {
            let entries = Object::entries(v.unchecked_ref());
            let members = entries.iter().filter_map(|pair| {
                let pair: Array = pair.unchecked_into();
                Some((pair.get(0).as_string()?, from_js(&pair.get(1))))
            });
            Json::Object(members.collect())
        } else {
            Json::Null
        }
    }

    pub fn to_js(value: &Json) -> JsValue {
        match value {
            Json::Null => JsValue::NULL,
            Json::Bool(b) => JsValue::from_bool(*b),
            Json::Number(n) => JsValue::from_f64(*n),
            Json::String(s) => JsValue::from_str(s),
            Json::Array(items) => items.iter().map(to_js).collect::<Array>().into(),
            Json::Object(members) => {
                let o = Object::new();
                for (k, v) in members {
                    let _ = Reflect::set(&o, &JsValue::from_str(k), &to_js(v));
                }
                o.into()
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use platform::from_js;

#[cfg(not(target_arch = "wasm32"))]
mod platform {
    use serde_json::Value;

    use super::{Json, MAX_SAFE_INTEGER};

    pub fn parse(text: &str) -> Result<Json, String> {
        serde_json::from_str::<Value>(text).map(|v| from_serde(&v)).map_err(|e| e.to_string())
    }

    pub fn stringify(value: &Json) -> String {
        to_serde(value).to_string()
    }

    fn from_serde(v: &Value) -> Json {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Json::String(s.clone()),
            Value::Array(items) => Json::Array(items.iter().map(from_serde).collect()),
            Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), from_serde(v))).collect()),
        }
    }

    fn to_serde(value: &Json) -> Value {
        match value {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            // Whole numbers as integers, as JSON.stringify writes them.
            Json::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER => Value::from(*n as i64),
            Json::Number(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(to_serde).collect()),
            Json::Object(members) => Value::Object(members.iter().map(|(k, v)| (k.clone(), to_serde(v))).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reads_and_writes() {
        let v = Json::parse(
            r#"{"a": "x", "n": 3, "f": 1.5, "big": 9007199254740993, "neg": -1, "l": [true, null], "o": {}}"#,
        )
        .expect("json");
        assert_eq!(v.get("a").and_then(Json::as_str), Some("x"));
        assert_eq!(v.get("n").and_then(Json::as_u64), Some(3));
        assert_eq!(v.get("f").and_then(Json::as_u64), None, "not whole");
        assert_eq!(v.get("big").and_then(Json::as_u64), None, "beyond 2^53");
        assert_eq!(v.get("neg").and_then(Json::as_u64), None, "negative");
        assert_eq!(v.get("l"), Some(&Json::Array(vec![Json::Bool(true), Json::Null])));
        assert_eq!(v.get("missing"), None);
        assert_eq!(Json::parse(&v.text()).expect("again"), v, "what it writes it reads back");
        let mut o = Json::object([("k", "v\"\n".into()), ("p", 7u16.into())]);
        o.insert("k", 1u64.into());
        o.insert("z", Json::Null);
        assert_eq!(o.text(), r#"{"k":1,"p":7,"z":null}"#);
        assert!(Json::parse("{").is_err());
        assert!(Json::parse("").is_err());
    }
}
