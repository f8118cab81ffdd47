//! The route table compiled into `apipod-raw` (`apipod_raw::routes`): one constant per
//! operation with its method and path template, read from the spec's `paths`.
//!
//! The SDK builds the URLs of its hottest calls (creates and status reads) from these
//! constants instead of formatting strings, so the spec stays the only place a path is
//! written down.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Renders `pub const <OPERATION_ID>: Route` for every operation, and `ALL` (sorted by path).
pub fn render(spec: &Value) -> Result<TokenStream, String> {
    let paths = spec
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("routes: the spec has no paths")?;
    let mut consts = Vec::new();
    let mut names = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("routes: {} {path} has no operationId", method))?;
            let name = format_ident!("{}", heck::ToShoutySnakeCase::to_shouty_snake_case(id));
            let upper = method.to_ascii_uppercase();
            let doc = format!(" `{upper} {path}` (`{id}`).");
            consts.push(quote! {
                #[doc = #doc]
                pub const #name: Route = Route { operation_id: #id, method: #upper, path: #path };
            });
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err("routes: the spec has no operations".into());
    }
    Ok(quote! {
        #(#consts)*
        /// Every operation's route, sorted by path.
        pub static ALL: &[Route] = &[#(#names),*];
    })
}
