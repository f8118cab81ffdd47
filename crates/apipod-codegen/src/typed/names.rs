//! Rust names for model ids, fields and listed values.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

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

pub(crate) fn camel(field: &str) -> String {
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
pub(crate) fn variant_names(field: &str, values: &[Value]) -> Vec<String> {
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

pub(crate) fn doc_text(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| format!(" {l}"));
    quote!(#(#[doc = #lines])*)
}

pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
