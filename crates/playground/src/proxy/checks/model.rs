//! The AWS API models, as botocore ships them (`botocore/data/<service>/
//! <version>/service-2.json[.gz]`), read into the few facts the request
//! checks need: each operation's input shape, and each shape's members,
//! lengths, patterns, ranges and enums.
//!
//! botocore comes with MiniStack's Python environment (scripts/setup), so the
//! models are found next to MiniStack and never copied into the checkout.
//! Each model is read once per process and shared by every playground.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Overrides where the models are read from (a `botocore/data` folder).
pub const DATA_DIR_VAR: &str = "CPSF_BOTOCORE_DATA";

pub type ShapeId = usize;

/// How a service's requests are written (the model's `protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelProtocol {
    Json,
    Query,
    Other,
}

#[derive(Debug)]
pub struct Model {
    pub protocol: ModelProtocol,
    /// `1.0` or `1.1` for AWS JSON services: the error's content type.
    pub json_version: String,
    /// Operation name → its input shape (None: it takes no input).
    operations: HashMap<String, Option<ShapeId>>,
    shapes: Vec<Shape>,
    names: HashMap<String, ShapeId>,
    /// Patterns regex-lite cannot compile (Java-only syntax such as
    /// `\p{L}`): their members are checked for everything but the pattern.
    pub patterns_skipped: Vec<String>,
}

#[derive(Debug)]
pub struct Shape {
    pub kind: Kind,
    /// AWS leaves a sensitive value out of its message ("Value at 'input'").
    pub sensitive: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Length {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

#[derive(Debug)]
pub enum Kind {
    Structure(Vec<Member>),
    List {
        member: ShapeId,
        /// The Query protocol's item name (`member` unless renamed).
        item_name: Option<String>,
        flattened: bool,
        length: Length,
    },
    Map {
        key: ShapeId,
        value: ShapeId,
        key_name: Option<String>,
        value_name: Option<String>,
        flattened: bool,
        length: Length,
    },
    String {
        length: Length,
        pattern: Option<Pattern>,
        enum_values: Option<Vec<String>>,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean,
    /// Timestamps, blobs, documents: not checked.
    Unchecked,
}

#[derive(Debug)]
pub struct Member {
    pub name: String,
    pub shape: ShapeId,
    pub required: bool,
    /// Its name in a Query request (`locationName`, else the member's name).
    pub serialized: String,
    pub flattened: bool,
    /// The model says the member's length is counted in UTF-8 bytes (Step
    /// Functions' payloads: "Length constraints apply to the payload size,
    /// and are expressed as bytes in UTF-8 encoding").
    pub utf8_bytes: bool,
}

#[derive(Debug)]
pub struct Pattern {
    /// As the model writes it: AWS quotes it in its message.
    pub source: String,
    /// Matched against the whole value, as Java's `matches` does; None when
    /// regex-lite cannot compile it.
    pub regex: Option<regex_lite::Regex>,
}

impl Model {
    /// Reads a model from botocore's JSON.
    pub fn parse(json: &Value) -> Result<Self, String> {
        let metadata = &json["metadata"];
        let protocol = match metadata["protocol"].as_str() {
            Some("json") => ModelProtocol::Json,
            Some("query") => ModelProtocol::Query,
            _ => ModelProtocol::Other,
        };
        let raw_shapes = json["shapes"]
            .as_object()
            .ok_or("the model has no shapes")?;
        let ids: HashMap<&str, ShapeId> = raw_shapes
            .keys()
            .enumerate()
            .map(|(id, name)| (name.as_str(), id))
            .collect();
        let id_of = |reference: &Value| -> Result<ShapeId, String> {
            let name = reference["shape"].as_str().unwrap_or_default();
            ids.get(name)
                .copied()
                .ok_or_else(|| format!("the model refers to an unknown shape '{name}'"))
        };
        let mut compiled: HashMap<String, Option<regex_lite::Regex>> = HashMap::new();
        let mut shapes = Vec::with_capacity(raw_shapes.len());
        for raw in raw_shapes.values() {
            let length = Length {
                min: raw["min"].as_u64(),
                max: raw["max"].as_u64(),
            };
            let kind = match raw["type"].as_str().unwrap_or_default() {
                "structure" => {
                    let required: Vec<&str> = raw["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let mut members = Vec::new();
                    for (name, member) in raw["members"].as_object().into_iter().flatten() {
                        members.push(Member {
                            name: name.clone(),
                            shape: id_of(member)?,
                            required: required.contains(&name.as_str()),
                            serialized: member["locationName"].as_str().unwrap_or(name).to_string(),
                            flattened: member["flattened"].as_bool().unwrap_or(false),
                            utf8_bytes: member["documentation"].as_str().is_some_and(|d| {
                                d.contains("expressed as bytes in UTF-8 encoding")
                            }),
                        });
                    }
                    Kind::Structure(members)
                }
                "list" => Kind::List {
                    member: id_of(&raw["member"])?,
                    item_name: raw["member"]["locationName"].as_str().map(str::to_string),
                    flattened: raw["flattened"].as_bool().unwrap_or(false),
                    length,
                },
                "map" => Kind::Map {
                    key: id_of(&raw["key"])?,
                    value: id_of(&raw["value"])?,
                    key_name: raw["key"]["locationName"].as_str().map(str::to_string),
                    value_name: raw["value"]["locationName"].as_str().map(str::to_string),
                    flattened: raw["flattened"].as_bool().unwrap_or(false),
                    length,
                },
                "string" => Kind::String {
                    length,
                    pattern: raw["pattern"].as_str().map(|source| Pattern {
                        source: source.to_string(),
                        regex: compiled
                            .entry(source.to_string())
                            .or_insert_with(|| compile(source))
                            .clone(),
                    }),
                    enum_values: raw["enum"].as_array().map(|values| {
                        values
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    }),
                },
                "integer" | "long" | "float" | "double" => Kind::Number {
                    min: raw["min"].as_f64(),
                    max: raw["max"].as_f64(),
                },
                "boolean" => Kind::Boolean,
                _ => Kind::Unchecked,
            };
            shapes.push(Shape {
                kind,
                sensitive: raw["sensitive"].as_bool().unwrap_or(false),
            });
        }
        let mut operations = HashMap::new();
        for (name, operation) in json["operations"].as_object().into_iter().flatten() {
            let input = match operation.get("input") {
                Some(input) => Some(id_of(input)?),
                None => None,
            };
            operations.insert(name.clone(), input);
        }
        let mut patterns_skipped: Vec<String> = compiled
            .into_iter()
            .filter(|(_, regex)| regex.is_none())
            .map(|(source, _)| source)
            .collect();
        patterns_skipped.sort();
        let names = ids
            .into_iter()
            .map(|(name, id)| (name.to_string(), id))
            .collect();
        Ok(Self {
            protocol,
            json_version: metadata["jsonVersion"]
                .as_str()
                .unwrap_or("1.1")
                .to_string(),
            operations,
            shapes,
            names,
            patterns_skipped,
        })
    }

    /// The operation's input shape: `None` if the model has no such
    /// operation, `Some(None)` if it takes no input.
    pub fn input_of(&self, operation: &str) -> Option<Option<ShapeId>> {
        self.operations.get(operation).copied()
    }

    pub fn shape(&self, id: ShapeId) -> &Shape {
        &self.shapes[id]
    }

    /// A shape by the model's name for it.
    pub fn shape_named(&self, name: &str) -> Option<ShapeId> {
        self.names.get(name).copied()
    }

    pub(super) fn shape_mut(&mut self, id: ShapeId) -> &mut Shape {
        &mut self.shapes[id]
    }

    pub(super) fn add_shape(&mut self, shape: Shape) -> ShapeId {
        self.shapes.push(shape);
        self.shapes.len() - 1
    }
}

/// A model pattern as a whole-value regex. botocore's patterns are Java's;
/// two Java-isms with an exact regex-lite spelling are translated (the
/// class `\p{ASCII}`; the supplementary planes written `\u10000-\u10FFFF`,
/// read as the code points they name: the permissive reading), anything
/// else regex-lite refuses
/// (`\p{L}`, lookarounds) is skipped and counted.
pub(super) fn compile(source: &str) -> Option<regex_lite::Regex> {
    let translated = source
        .replace(r"\p{ASCII}", r"[\x00-\x7F]")
        .replace(r"\u10000-\u10FFFF", r"\u{10000}-\u{10FFFF}");
    regex_lite::Regex::new(&format!("^(?:{translated})$")).ok()
}

/// The model folder of the service a request is signed for (its
/// credential scope): botocore names most folders after the signing name.
fn folder_of(service: &str) -> &str {
    match service {
        "states" => "stepfunctions",
        "monitoring" => "cloudwatch",
        "email" => "ses",
        other => other,
    }
}

/// Every model this process has read, by signing name.
pub struct Models {
    data: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Option<Arc<Model>>>>,
}

impl Models {
    /// The process's models, found once: `CPSF_BOTOCORE_DATA`, else the
    /// botocore beside MiniStack (`<venv>/lib/python3*/site-packages/
    /// botocore/data`).
    pub fn shared() -> &'static Models {
        static MODELS: OnceLock<Models> = OnceLock::new();
        MODELS.get_or_init(|| Models::at(find_data_dir()))
    }

    pub fn at(data: Option<PathBuf>) -> Self {
        Self {
            data,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Models given rather than read, by signing name (unit tests).
    pub fn preloaded(models: impl IntoIterator<Item = (&'static str, Model)>) -> Self {
        Self {
            data: Some(PathBuf::from("<preloaded>")),
            loaded: Mutex::new(
                models
                    .into_iter()
                    .map(|(service, model)| (service.to_string(), Some(Arc::new(model))))
                    .collect(),
            ),
        }
    }

    /// Where the models are read from, if anywhere.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data.as_deref()
    }

    /// The model of the service signed for as `service`, read on first use.
    pub fn get(&self, service: &str) -> Option<Arc<Model>> {
        let data = self.data.as_ref()?;
        let mut loaded = self.loaded.lock().expect("models lock poisoned");
        loaded
            .entry(service.to_string())
            .or_insert_with(|| match read(data, folder_of(service)) {
                Ok(model) => Some(Arc::new(model)),
                Err(error) => {
                    tracing::debug!(%service, %error, "no API model to check requests against");
                    None
                }
            })
            .clone()
    }
}

/// The newest version of a service's model in `data`.
fn read(data: &Path, folder: &str) -> Result<Model, String> {
    let service_dir = data.join(folder);
    let mut versions: Vec<PathBuf> = std::fs::read_dir(&service_dir)
        .map_err(|e| format!("{}: {e}", service_dir.display()))?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.is_dir())
        .collect();
    versions.sort();
    let version = versions
        .pop()
        .ok_or_else(|| format!("{} has no versions", service_dir.display()))?;
    let plain = version.join("service-2.json");
    let bytes = if plain.is_file() {
        std::fs::read(&plain).map_err(|e| format!("{}: {e}", plain.display()))?
    } else {
        let gz = version.join("service-2.json.gz");
        let file = std::fs::File::open(&gz).map_err(|e| format!("{}: {e}", gz.display()))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut bytes)
            .map_err(|e| format!("{}: {e}", gz.display()))?;
        bytes
    };
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{folder}: {e}"))?;
    let mut model = Model::parse(&json)?;
    super::documented::add_to(folder, &mut model);
    Ok(model)
}

fn find_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_VAR) {
        return Some(PathBuf::from(dir));
    }
    // <venv>/bin/ministack → <venv>/lib/python3.X/site-packages/botocore/data
    let venv = crate::ministack::locate()
        .ok()?
        .parent()?
        .parent()?
        .to_path_buf();
    std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .map(|lib| lib.join("site-packages/botocore/data"))
        .find(|data| data.is_dir())
}
