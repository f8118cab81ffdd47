//! The typed per-model requests of the `apipod` crate (`apipod::models`), generated from the
//! same facts as the contract table.
//!
//! For each model: a struct named after the model id in UpperCamelCase (`seedream-v4.5` is
//! `SeedreamV45`) with `new(prompt)` (or `new()` for a model without a prompt), one setter per
//! field, and `#[non_exhaustive]` enums, in a module named after the model
//! (`apipod::models::seedream_v45::AspectRatio`), for every field whose values the docs list.
//! Variant names are readable and derived from the wire value ([`variant_name`]); `Display`
//! and `FromStr` use the exact wire spelling. With the `schemars` feature each request
//! implements `schemars::JsonSchema` with the contract's types, values, bounds and required
//! fields.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::{Map, Value, json};

use crate::schema::{FieldFacts, ModelFacts};

/// `seedream-v4.5` → `SeedreamV45`.
pub fn type_name(id: &str) -> String {
    let mut out = String::new();
    for part in id.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'M');
    }
    out
}

/// `SeedreamV45` → `seedream_v45`.
pub fn module_name(type_name: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in type_name.chars() {
        if c.is_ascii_uppercase() {
            if prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

fn camel(field: &str) -> String {
    type_name(field)
}

/// The Rust variant name of a listed value: `16:9` → `Ratio16x9`, `1080p` → `Res1080p`,
/// `auto` → `Auto`, `8` (an integer) → `N8`, or `Seconds8` for a `duration`.
pub fn variant_name(field: &str, value: &Value) -> String {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            let prefix = if field == "duration" { "Seconds" } else { "N" };
            match text.strip_prefix('-') {
                Some(abs) => format!("{prefix}Minus{}", abs.replace('.', "_")),
                None => format!("{prefix}{}", text.replace('.', "_")),
            }
        }
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::String(s) => {
            if let Some((a, b)) = s.split_once(':')
                && !a.is_empty()
                && !b.is_empty()
                && a.bytes()
                    .chain(b.bytes())
                    .all(|c| c.is_ascii_digit() || c == b'.')
            {
                return format!("Ratio{}x{}", a.replace('.', "_"), b.replace('.', "_"));
            }
            let mut name = String::new();
            for part in s.split(|c: char| !c.is_ascii_alphanumeric()) {
                let mut chars = part.chars();
                if let Some(first) = chars.next() {
                    name.push(first.to_ascii_uppercase());
                    name.extend(chars);
                }
            }
            if name.is_empty() {
                return "Empty".into();
            }
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                let digits = name.trim_start_matches(|c: char| c.is_ascii_digit());
                let res = ["k", "K", "p", "P", "px"].contains(&digits);
                name.insert_str(0, if res { "Res" } else { "V" });
            }
            name
        }
        _ => "Null".into(),
    }
}

/// Variant names for a value list, made unique by a numeric suffix where two collide.
fn variant_names(field: &str, values: &[Value]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    values
        .iter()
        .map(|v| {
            let base = variant_name(field, v);
            let mut name = base.clone();
            let mut n = 2;
            while !seen.insert(name.clone()) {
                name = format!("{base}{n}");
                n += 1;
            }
            name
        })
        .collect()
}

fn doc_text(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| format!(" {l}"));
    quote!(#(#[doc = #lines])*)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How a field is held and set.
enum Repr {
    Text,
    Integer,
    Number,
    Flag,
    Urls,
    Choice { int: bool, names: Vec<String> },
    Json,
}

fn repr(name: &str, f: &FieldFacts) -> Repr {
    if let Some(values) = f.enum_values.as_ref().filter(|v| !v.is_empty())
        && matches!(f.ty.as_deref(), Some("string" | "integer"))
    {
        return Repr::Choice {
            int: f.ty.as_deref() == Some("integer"),
            names: variant_names(name, values),
        };
    }
    match (f.ty.as_deref(), f.item_ty.as_deref()) {
        (Some("string"), _) => Repr::Text,
        (Some("integer"), _) => Repr::Integer,
        (Some("number"), _) => Repr::Number,
        (Some("boolean"), _) => Repr::Flag,
        (Some("array"), Some("string")) => Repr::Urls,
        _ => Repr::Json,
    }
}

fn field_ident(name: &str) -> Ident {
    let name = name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
    match name.as_str() {
        "type" | "ref" | "mod" | "fn" | "match" | "in" | "loop" | "move" | "self" | "use"
        | "where" | "async" | "await" | "dyn" | "final" | "box" | "crate" | "super" => {
            Ident::new_raw(&name, Span::call_site())
        }
        _ => Ident::new(&name, Span::call_site()),
    }
}

fn choice_enum(
    model: &str,
    name: &str,
    f: &FieldFacts,
    int: bool,
    names: &[String],
) -> TokenStream {
    let ty = format_ident!("{}", camel(name));
    let values = f.enum_values.clone().unwrap_or_default();
    let idents: Vec<Ident> = names.iter().map(|n| format_ident!("{n}")).collect();
    let texts: Vec<String> = values.iter().map(value_text).collect();
    let variant_docs = texts.iter().map(|t| {
        let d = if int {
            format!(" `{t}`")
        } else {
            format!(" `\"{t}\"`")
        };
        quote!(#[doc = #d])
    });
    let default_doc = f
        .default
        .as_ref()
        .map(|d| format!(" APIPod's default: `{}`.", value_text(d)))
        .unwrap_or_default();
    let head = format!(
        " The values `{name}` of `{model}` takes.{default_doc} `Display` and `FromStr` use the wire spelling."
    );
    let description = f.description.as_deref().map(doc_text).unwrap_or_default();
    let int_impls = if int {
        let nums: Vec<i64> = values.iter().filter_map(Value::as_i64).collect();
        quote! {
            impl #ty {
                /// The value as sent.
                pub fn value(self) -> i64 {
                    match self { #(Self::#idents => #nums),* }
                }
            }
            impl TryFrom<i64> for #ty {
                type Error = ParseValueError;
                fn try_from(n: i64) -> Result<Self, ParseValueError> {
                    match n {
                        #(#nums => Ok(Self::#idents),)*
                        _ => Err(ParseValueError::new(#model, #name, n.to_string(), &[#(#texts),*])),
                    }
                }
            }
            impl From<#ty> for serde_json::Value {
                fn from(v: #ty) -> Self { serde_json::Value::from(v.value()) }
            }
        }
    } else {
        quote! {
            impl From<#ty> for serde_json::Value {
                fn from(v: #ty) -> Self { serde_json::Value::String(v.as_str().to_string()) }
            }
        }
    };
    let schema_values = if int {
        let nums: Vec<i64> = values.iter().filter_map(Value::as_i64).collect();
        json!({"type": "integer", "enum": nums})
    } else {
        json!({"type": "string", "enum": texts})
    }
    .to_string();
    let schema_name = format!("{}{}", type_name(model), camel(name));
    quote! {
        #description
        #[doc = ""]
        #[doc = #head]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #ty {
            #(#variant_docs #idents,)*
        }

        impl #ty {
            /// Every value, in the docs' order.
            pub const ALL: &'static [Self] = &[#(Self::#idents),*];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { #(Self::#idents => #texts),* }
            }
        }

        impl std::fmt::Display for #ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for #ty {
            type Err = ParseValueError;
            /// Exact wire spelling only.
            fn from_str(s: &str) -> Result<Self, ParseValueError> {
                match s {
                    #(#texts => Ok(Self::#idents),)*
                    _ => Err(ParseValueError::new(#model, #name, s.to_string(), &[#(#texts),*])),
                }
            }
        }

        #int_impls

        #[cfg(feature = "schemars")]
        impl schemars::JsonSchema for #ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(#schema_name)
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                crate::models::schema_from_json(#schema_values)
            }
        }
    }
}

/// The JSON Schema of one model's request, from its facts: the contract the SDK enforces.
pub fn json_schema(m: &ModelFacts) -> Value {
    let mut props = Map::new();
    for (name, f) in &m.fields {
        let mut p = Map::new();
        if name == "model" {
            p.insert("const".into(), Value::String(m.id.clone()));
            p.insert("type".into(), json!("string"));
            props.insert(name.clone(), Value::Object(p));
            continue;
        }
        if let Some(ty) = &f.ty {
            p.insert("type".into(), Value::String(ty.clone()));
        }
        if let Some(d) = &f.description {
            p.insert("description".into(), Value::String(d.clone()));
        }
        if let Some(values) = f.enum_values.as_ref().filter(|v| !v.is_empty()) {
            p.insert("enum".into(), Value::Array(values.clone()));
        }
        if let Some(d) = &f.default {
            p.insert("default".into(), d.clone());
        }
        for (key, v) in [("minLength", f.min_length), ("maxLength", f.max_length)] {
            if let Some(n) = v {
                p.insert(key.into(), json!(n));
            }
        }
        let items = (f.min_items.or(f.x_min_items), f.max_items.or(f.x_max_items));
        for (key, v) in [("minItems", items.0), ("maxItems", items.1)] {
            if let Some(n) = v {
                p.insert(key.into(), json!(n));
            }
        }
        for (key, ex, b) in [
            ("minimum", "exclusiveMinimum", &f.minimum),
            ("maximum", "exclusiveMaximum", &f.maximum),
        ] {
            if let Some(b) = b {
                p.insert((if b.exclusive { ex } else { key }).into(), b.value.clone());
            }
        }
        if let Some(item) = &f.item_ty {
            p.insert("items".into(), json!({"type": item}));
        }
        props.insert(name.clone(), Value::Object(p));
    }
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": m.title.clone().unwrap_or_else(|| m.id.clone()),
        "type": "object",
        "properties": props,
        "required": m.required,
        "additionalProperties": false,
    });
    if let Some(d) = &m.description {
        schema["description"] = Value::String(d.clone());
    }
    if !m.require_one_of.is_empty() {
        schema["anyOf"] = Value::Array(
            m.require_one_of
                .iter()
                .map(|f| json!({"required": [f], "properties": {f: {"minItems": 1}}}))
                .collect(),
        );
    }
    schema
}

fn model_tokens(m: &ModelFacts) -> TokenStream {
    let id = &m.id;
    let tname = type_name(id);
    let ty = format_ident!("{tname}");
    let module = format_ident!("{}", module_name(&tname));
    let kind = m.kind.as_str();
    let has_prompt = m
        .field("prompt")
        .is_some_and(|f| f.ty.as_deref() == Some("string"));
    let mut enums = Vec::new();
    let mut struct_fields = Vec::new();
    let mut setters = Vec::new();
    let mut to_body = Vec::new();
    let field_names: Vec<&String> = m.fields.iter().map(|(n, _)| n).collect();
    for (name, f) in &m.fields {
        if name == "model" {
            continue;
        }
        let ident = field_ident(name);
        let required = m.required.contains(name);
        let mut doc = f
            .description
            .clone()
            .unwrap_or_else(|| format!("Sets `{name}`."));
        if required {
            doc.push_str(" Required.");
        }
        if let Some(d) = &f.default {
            doc.push_str(&format!(" APIPod's default: `{}`.", value_text(d)));
        }
        let docs = doc_text(&doc);
        let key = name.as_str();
        match repr(name, f) {
            Repr::Text => {
                struct_fields.push(quote!(#ident: Option<String>));
                setters.push(quote! {
                    #docs
                    pub fn #ident(mut self, value: impl Into<String>) -> Self {
                        self.#ident = Some(value.into());
                        self
                    }
                });
                to_body.push(quote! {
                    if let Some(v) = &self.#ident { body.insert(#key.into(), Value::String(v.clone())); }
                });
            }
            Repr::Integer => {
                struct_fields.push(quote!(#ident: Option<i64>));
                setters.push(quote! {
                    #docs
                    pub fn #ident(mut self, value: i64) -> Self {
                        self.#ident = Some(value);
                        self
                    }
                });
                to_body.push(quote! {
                    if let Some(v) = self.#ident { body.insert(#key.into(), Value::from(v)); }
                });
            }
            Repr::Number => {
                struct_fields.push(quote!(#ident: Option<f64>));
                setters.push(quote! {
                    #docs
                    pub fn #ident(mut self, value: f64) -> Self {
                        self.#ident = Some(value);
                        self
                    }
                });
                to_body.push(quote! {
                    if let Some(v) = self.#ident {
                        body.insert(#key.into(), serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number));
                    }
                });
            }
            Repr::Flag => {
                struct_fields.push(quote!(#ident: Option<bool>));
                setters.push(quote! {
                    #docs
                    pub fn #ident(mut self, value: bool) -> Self {
                        self.#ident = Some(value);
                        self
                    }
                });
                to_body.push(quote! {
                    if let Some(v) = self.#ident { body.insert(#key.into(), Value::Bool(v)); }
                });
            }
            Repr::Urls => {
                struct_fields.push(quote!(#ident: Option<Vec<String>>));
                setters.push(quote! {
                    #docs
                    pub fn #ident<I, S>(mut self, values: I) -> Self
                    where
                        I: IntoIterator<Item = S>,
                        S: Into<String>,
                    {
                        self.#ident = Some(values.into_iter().map(Into::into).collect());
                        self
                    }
                });
                to_body.push(quote! {
                    if let Some(v) = &self.#ident {
                        body.insert(#key.into(), Value::Array(v.iter().cloned().map(Value::String).collect()));
                    }
                });
            }
            Repr::Choice { int, names } => {
                let ety = format_ident!("{}", camel(name));
                enums.push(choice_enum(id, name, f, int, &names));
                struct_fields.push(quote!(#ident: Option<#module::#ety>));
                setters.push(quote! {
                    #docs
                    pub fn #ident(mut self, value: #module::#ety) -> Self {
                        self.#ident = Some(value);
                        self
                    }
                });
                to_body.push(quote! {
                    if let Some(v) = self.#ident { body.insert(#key.into(), Value::from(v)); }
                });
            }
            Repr::Json => {
                struct_fields.push(quote!(#ident: Option<Value>));
                setters.push(quote! {
                    #docs
                    pub fn #ident(mut self, value: Value) -> Self {
                        self.#ident = Some(value);
                        self
                    }
                });
                to_body.push(quote! {
                    if let Some(v) = &self.#ident { body.insert(#key.into(), v.clone()); }
                });
            }
        }
    }
    let title = m.title.clone().unwrap_or_else(|| id.clone());
    let article = if kind == "image" { "an" } else { "a" };
    let head = format!("{title}: model `{id}`, {article} {kind} model.");
    let description = m.description.as_deref().map(doc_text).unwrap_or_default();
    let head_doc = doc_text(&head);
    let enums_doc = format!(" The listed values of [`{tname}`]'s fields.");
    let constructor = if has_prompt {
        quote! {
            /// A request with this prompt and every other field left to APIPod's default.
            pub fn new(prompt: impl Into<String>) -> Self {
                Self { prompt: Some(prompt.into()), ..Self::default() }
            }
        }
    } else {
        quote! {
            /// A request with every field unset (set the required ones before submitting).
            pub fn new() -> Self {
                Self::default()
            }
        }
    };
    let schema_text = json_schema(m).to_string();
    let module_tokens = if enums.is_empty() {
        quote!()
    } else {
        quote! {
            #[doc = #enums_doc]
            pub mod #module {
                use super::ParseValueError;
                #(#enums)*
            }
        }
    };
    quote! {
        #module_tokens

        #head_doc
        #[doc = ""]
        #description
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct #ty {
            #(#struct_fields,)*
        }

        impl #ty {
            /// The model id sent as `model`.
            pub const ID: &'static str = #id;

            /// Every field this model accepts, `model` included, in the docs' order.
            pub const FIELDS: &'static [&'static str] = &[#(#field_names),*];

            #constructor

            /// The model's contract (fields, allowed values, limits, defaults).
            pub fn contract() -> Option<&'static ModelContract> {
                contract::find(Self::ID)
            }

            /// The body as it will be sent (unset fields are left out).
            pub fn to_json(&self) -> Value {
                Value::Object(self.to_body())
            }

            fn to_body(&self) -> Map<String, Value> {
                let mut body = Map::new();
                body.insert("model".into(), Value::String(Self::ID.into()));
                #(#to_body)*
                body
            }

            /// Checks the request against the contract without sending anything.
            pub fn validate(&self) -> crate::Result<()> {
                GenerationRequest::for_model(Self::ID, self.to_body()).map(drop)
            }

            #(#setters)*
        }

        impl IntoRequest for #ty {
            fn into_request(self) -> crate::Result<GenerationRequest> {
                GenerationRequest::for_model(Self::ID, self.to_body())
            }
        }

        #[cfg(feature = "schemars")]
        impl schemars::JsonSchema for #ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(#tname)
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schema_from_json(#schema_text)
            }
        }
    }
}

/// Renders `apipod::models` for every model.
pub fn render(models: &[ModelFacts]) -> TokenStream {
    let items = models.iter().map(model_tokens);
    let ids: Vec<&String> = models.iter().map(|m| &m.id).collect();
    let types: Vec<Ident> = models
        .iter()
        .map(|m| format_ident!("{}", type_name(&m.id)))
        .collect();
    quote! {
        #(#items)*

        /// The JSON Schema of model `id`'s typed request (`None` for an unknown id).
        #[cfg(feature = "schemars")]
        pub fn json_schema(id: &str) -> Option<schemars::Schema> {
            match id {
                #(#ids => Some(schemars::schema_for!(#types)),)*
                _ => None,
            }
        }
    }
}
