//! The enum of one field's listed values: readable variants, the wire spelling in
//! `Display`/`FromStr`, `TryFrom<i64>` for integer lists, and a `JsonSchema` impl.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use serde_json::{Value, json};

use super::names::{camel, doc_text, type_name, value_text};
use crate::schema::FieldFacts;

pub(crate) fn choice_enum(
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
