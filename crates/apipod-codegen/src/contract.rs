//! The per-model contract table compiled into `apipod-raw` (`apipod_raw::contract::MODELS`).
//!
//! It is rendered from what [`crate::schema`] reads and what [`crate::hints`] resolves, so
//! the SDK, the mock and the CLI validate against exactly the facts drift compares.

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

use crate::hints::Hints;
use crate::schema::{Bound, FieldFacts, Kind, ModelFacts};

fn opt_str(v: &Option<String>) -> TokenStream {
    match v {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
    }
}

fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    }
}

fn limit(b: &Option<Bound>) -> TokenStream {
    match b
        .as_ref()
        .and_then(|b| Some((b.value.as_f64()?, b.exclusive)))
    {
        Some((value, exclusive)) => quote!(Some(Limit { value: #value, exclusive: #exclusive })),
        None => quote!(None),
    }
}

fn field_type(f: &FieldFacts) -> TokenStream {
    match (f.ty.as_deref().unwrap_or("any"), f.item_ty.as_deref()) {
        ("string", _) => quote!(FieldType::String),
        ("integer", _) => quote!(FieldType::Integer),
        ("number", _) => quote!(FieldType::Number),
        ("boolean", _) => quote!(FieldType::Boolean),
        ("array", Some("string")) => quote!(FieldType::StringArray),
        _ => quote!(FieldType::Other),
    }
}

/// Renders the static contract table compiled into `apipod-raw` (`crate::contract::MODELS`),
/// one entry per model with its resolved hints (`hints[i]` belongs to `models[i]`).
pub fn render(models: &[ModelFacts], hints: &[Hints]) -> TokenStream {
    let entries = models.iter().zip(hints).map(|(m, h)| {
        let id = &m.id;
        let kind = match m.kind {
            Kind::Image => quote!(TaskKind::Image),
            Kind::Video => quote!(TaskKind::Video),
        };
        let schema = m.schema_name.clone().unwrap_or_default();
        // typify names the generated type after the schema, in PascalCase
        // (`MinimaxH3I2vRequest` becomes `MinimaxH3i2vRequest`).
        let wire_type =
            quote::format_ident!("{}", heck::ToPascalCase::to_pascal_case(schema.as_str()));
        let decode = match m.kind {
            Kind::Image => quote!(image::<crate::types::#wire_type>()),
            Kind::Video => quote!(video::<crate::types::#wire_type>()),
        };
        let title = m.title.clone().unwrap_or_else(|| m.id.clone());
        let description = m.description.clone().unwrap_or_default();
        let one_of = &m.require_one_of;
        let family = opt_str(&h.family);
        let polling = match h.polling {
            Some((interval_ms, max_attempts)) => {
                quote!(Some(PollingHint { interval_ms: #interval_ms, max_attempts: #max_attempts }))
            }
            None => quote!(None),
        };
        let timing = match h.timing {
            Some(t) => {
                let (q0, q1, r0, r1) = (t.queue_s.0, t.queue_s.1, t.run_s.0, t.run_s.1);
                quote!(Some(MockTiming { queue_s: (#q0, #q1), run_s: (#r0, #r1) }))
            }
            None => quote!(None),
        };
        let price = match &h.price {
            Some(p) => {
                let usd = p.usd;
                let per = opt_str(&p.per);
                quote!(Some(MockPrice { usd: #usd, per: #per }))
            }
            None => quote!(None),
        };
        let veo_object = h.result_form.as_deref() == Some("veo-object");
        let example = opt_str(&m.example.as_ref().map(|e| e.to_string()));
        let fields = m.fields.iter().map(|(name, f)| {
            let ty = field_type(f);
            let required = m.required.contains(name);
            let nullable = f.nullable;
            let description = opt_str(&f.description);
            let enum_values = f.enum_values.iter().flatten().map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            let default = opt_str(&f.default.as_ref().map(|d| d.to_string()));
            let min_length = opt_u64(f.min_length);
            let max_length = opt_u64(f.max_length);
            let minimum = limit(&f.minimum);
            let maximum = limit(&f.maximum);
            let min_items = opt_u64(f.min_items.or(f.x_min_items));
            let max_items = opt_u64(f.max_items.or(f.x_max_items));
            quote! {
                FieldContract {
                    name: #name,
                    ty: #ty,
                    required: #required,
                    nullable: #nullable,
                    description: #description,
                    enum_values: &[#(#enum_values),*],
                    default_json: #default,
                    min_length: #min_length,
                    max_length: #max_length,
                    minimum: #minimum,
                    maximum: #maximum,
                    min_items: #min_items,
                    max_items: #max_items,
                }
            }
        });
        quote! {
            ModelContract {
                id: #id,
                kind: #kind,
                schema: #schema,
                title: #title,
                description: #description,
                family: #family,
                fields: &[#(#fields),*],
                require_one_of: &[#(#one_of),*],
                polling: #polling,
                mock_timing: #timing,
                mock_price: #price,
                veo_object: #veo_object,
                example_json: #example,
                decoder: #decode,
            }
        }
    });
    let ids = models.iter().map(|m| m.id.as_str());
    let positions = 0..models.len();
    quote! {
        /// Every model's request contract, in spec order. Generated from `openapi/apipod.yaml`.
        pub static MODELS: &[ModelContract] = &[#(#entries),*];

        /// The position of model `id` in [`MODELS`]: a `match` on the id, so a lookup reads
        /// none of the table's entries but the one it returns.
        pub(crate) fn position(id: &str) -> Option<usize> {
            match id {
                #(#ids => Some(#positions),)*
                _ => None,
            }
        }
    }
}
