//! Facts the docs do not state, resolved per model from the spec's extensions.
//!
//! A model names its family with `x-apipod-family`; the top-level `x-apipod-families`
//! gives each family's defaults, and the model may override any of them:
//!
//! | family key | model override | meaning |
//! |---|---|---|
//! | `polling` | `x-apipod-polling` | status-read hint: `{interval_ms, max_attempts}` |
//! | `mock-timing` | `x-apipod-mock-timing` | the mock's realistic queue/run ranges, seconds |
//! | `mock-price` | `x-apipod-mock-price` | the mock's made-up unit price, optionally `per` field |
//! | `result-form` | `x-apipod-result-form` | `veo-object` when the live result is Veo's object |
//!
//! What media the mock renders is not a hint: it follows from the contract (the create
//! path, `aspect_ratio`/`size`/`resolution`, `n`, `duration`).

use serde_json::Value;

use crate::schema::ModelFacts;

/// Seconds ranges the mock draws a task's queue and run time from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Time spent `pending`, low and high.
    pub queue_s: (f64, f64),
    /// Time spent `processing`, low and high.
    pub run_s: (f64, f64),
}

/// The mock's made-up price of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// US dollars per task, or per unit of `per`.
    pub usd: f64,
    /// The request field whose value multiplies the price (`duration`, `n`).
    pub per: Option<String>,
}

/// Every resolved hint of one model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hints {
    /// `x-apipod-family`.
    pub family: Option<String>,
    /// (interval ms, max attempts).
    pub polling: Option<(u64, u64)>,
    /// The mock's realistic timing.
    pub timing: Option<Timing>,
    /// The mock's price.
    pub price: Option<Price>,
    /// `veo-object` or `None` (a list of URLs).
    pub result_form: Option<String>,
}

fn pair(v: Option<&Value>) -> Option<(f64, f64)> {
    match v?.as_array()?.as_slice() {
        [a, b] => Some((a.as_f64()?, b.as_f64()?)),
        _ => None,
    }
}

fn polling(v: &Value) -> Result<(u64, u64), String> {
    Ok((
        v.get("interval_ms")
            .and_then(Value::as_u64)
            .ok_or("polling needs interval_ms")?,
        v.get("max_attempts")
            .and_then(Value::as_u64)
            .ok_or("polling needs max_attempts")?,
    ))
}

fn timing(v: &Value) -> Result<Timing, String> {
    let queue_s = pair(v.get("queue_s")).ok_or("mock-timing needs queue_s: [low, high]")?;
    let run_s = pair(v.get("run_s")).ok_or("mock-timing needs run_s: [low, high]")?;
    for (lo, hi) in [queue_s, run_s] {
        if !(lo >= 0.0 && hi >= lo && hi.is_finite()) {
            return Err(format!(
                "mock-timing range [{lo}, {hi}] is not 0 <= low <= high"
            ));
        }
    }
    Ok(Timing { queue_s, run_s })
}

fn price(v: &Value) -> Result<Price, String> {
    let usd = v
        .get("usd")
        .and_then(Value::as_f64)
        .filter(|u| *u >= 0.0 && u.is_finite())
        .ok_or("mock-price needs usd >= 0")?;
    let per = v.get("per").and_then(Value::as_str).map(str::to_string);
    Ok(Price { usd, per })
}

/// Resolves `model`'s hints against the spec `doc` (its family defaults, then the model's
/// own overrides). A family that is named but not defined, a `per` field the model does not
/// have, or a malformed value is an error.
pub fn resolve(doc: &Value, model: &ModelFacts) -> Result<Hints, String> {
    let id = &model.id;
    let ext = |key: &str| model.extensions.get(&format!("x-apipod-{key}"));
    let family = ext("family").and_then(Value::as_str).map(str::to_string);
    let defaults = match &family {
        Some(f) => Some(
            doc.get("x-apipod-families")
                .and_then(|fams| fams.get(f))
                .ok_or_else(|| format!("{id}: family {f:?} is not in x-apipod-families"))?,
        ),
        None => None,
    };
    let pick = |key: &str| ext(key).or_else(|| defaults.and_then(|d| d.get(key)));
    let err = |e: String| format!("{id}: {e}");
    let hints = Hints {
        polling: pick("polling").map(polling).transpose().map_err(err)?,
        timing: pick("mock-timing").map(timing).transpose().map_err(err)?,
        price: pick("mock-price").map(price).transpose().map_err(err)?,
        result_form: pick("result-form")
            .and_then(Value::as_str)
            .map(str::to_string),
        family,
    };
    if let Some(per) = hints.price.as_ref().and_then(|p| p.per.as_deref())
        && model.field(per).is_none()
    {
        // A family price per `duration` does not apply to a member without that field.
        return Ok(Hints {
            price: hints.price.map(|p| Price { per: None, ..p }),
            ..hints
        });
    }
    Ok(hints)
}
