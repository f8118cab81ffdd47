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

mod choice;
mod json_schema;
mod names;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::schema::{FieldFacts, ModelFacts};
use choice::choice_enum;
pub use json_schema::json_schema;
use names::{camel, doc_text, value_text, variant_names};
pub use names::{module_name, type_name, variant_name};

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
