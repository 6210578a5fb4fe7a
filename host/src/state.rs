//! nice-plug's saved state, as bytes on the CLAP state stream and as editable JSON.
//!
//! On the stream nice-plug writes an 8-byte little-endian length, then the JSON document
//! `{"version":..,"params":{..},"fields":{"<name>":"<JSON as a string>"}}`. Persisted fields
//! are JSON encoded a second time, as strings; [`PluginStateJson::field`] and
//! [`PluginStateJson::set_field`] hide that.

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

/// A decoded nice-plug state document.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginStateJson {
    pub doc: Value,
}

impl PluginStateJson {
    /// Decodes the bytes a plugin wrote to the CLAP state stream.
    pub fn from_clap_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 8 {
            bail!("state too short ({} bytes)", bytes.len());
        }
        let (len, rest) = bytes.split_at(8);
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
        let len = usize::try_from(len).context("state length")?;
        if len != rest.len() {
            bail!(
                "state length prefix says {len} bytes, stream holds {}",
                rest.len()
            );
        }
        let doc: Value = serde_json::from_slice(rest).context("state is not JSON")?;
        if !doc.is_object() {
            bail!("state JSON is not an object");
        }
        Ok(PluginStateJson { doc })
    }

    /// Encodes for the CLAP state stream (length prefix + JSON).
    pub fn to_clap_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec(&self.doc).expect("JSON values serialise");
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&json);
        out
    }

    /// A parameter's saved value (`params.<id>`).
    pub fn param(&self, id: &str) -> Option<&Value> {
        self.doc.get("params")?.get(id)
    }

    pub fn set_param(&mut self, id: &str, value: Value) {
        self.object("params").insert(id.to_owned(), value);
    }

    /// A persisted field, decoded from its JSON string.
    pub fn field(&self, name: &str) -> Result<Value> {
        let raw = self
            .doc
            .get("fields")
            .and_then(|f| f.get(name))
            .with_context(|| format!("state has no field {name:?}"))?;
        match raw {
            Value::String(s) => {
                serde_json::from_str(s).with_context(|| format!("field {name:?} is not JSON"))
            }
            // Tolerate a field stored as plain JSON.
            other => Ok(other.clone()),
        }
    }

    /// Sets a persisted field (encoded as a JSON string, as nice-plug expects).
    pub fn set_field(&mut self, name: &str, value: &Value) {
        let s = serde_json::to_string(value).expect("JSON values serialise");
        self.object("fields")
            .insert(name.to_owned(), Value::String(s));
    }

    /// Changes keys of a field's JSON object, keeping the others.
    pub fn patch_field(&mut self, name: &str, patch: &[(&str, Value)]) -> Result<()> {
        let mut value = self.field(name)?;
        let obj = value
            .as_object_mut()
            .with_context(|| format!("field {name:?} is not an object"))?;
        for (k, v) in patch {
            obj.insert((*k).to_owned(), v.clone());
        }
        self.set_field(name, &value);
        Ok(())
    }

    fn object(&mut self, key: &str) -> &mut Map<String, Value> {
        let root = self.doc.as_object_mut().expect("checked on decode");
        let entry = root
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        entry.as_object_mut().expect("just made an object")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_patch() {
        let stream = json!({"name": null, "role": "stem"}).to_string();
        let doc = json!({"version": "0.1.0", "params": {"record": false},
                         "fields": {"stream": stream}});
        let json = serde_json::to_vec(&doc).unwrap();
        let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&json);

        let mut st = PluginStateJson::from_clap_bytes(&bytes).unwrap();
        assert_eq!(st.to_clap_bytes(), bytes);
        assert_eq!(st.field("stream").unwrap()["role"], "stem");
        st.patch_field("stream", &[("role", json!("mix"))]).unwrap();
        assert_eq!(st.field("stream").unwrap()["role"], "mix");
        assert!(st.field("stream").unwrap()["name"].is_null());
        assert!(PluginStateJson::from_clap_bytes(&bytes[..bytes.len() - 1]).is_err());
    }
}
