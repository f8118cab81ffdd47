//! Looking models up in the SDK's catalog (the contract table generated from the spec),
//! with CLI-sized messages.

use apipod::contract::{self, ModelContract};

use crate::exit::CliError;

/// The contract of model `id`, or a usage error that names the closest known ids and
/// points at `apipod models`.
pub fn find_model(id: &str) -> Result<&'static ModelContract, CliError> {
    contract::find(id).ok_or_else(|| unknown_model(id))
}

/// The usage error for an id the catalog does not know.
pub fn unknown_model(id: &str) -> CliError {
    let mut close: Vec<(usize, &str)> = contract::MODELS
        .iter()
        .map(|m| (distance(id, m.id), m.id))
        .filter(|(d, m)| *d <= 3 || m.starts_with(id) || (id.len() >= 3 && m.contains(id)))
        .collect();
    close.sort();
    close.truncate(4);
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(
            "; did you mean {}?",
            close.iter().map(|(_, m)| *m).collect::<Vec<_>>().join(", ")
        )
    };
    CliError::usage(format!(
        "unknown model {id:?}{hint} (`apipod models` lists all {} models)",
        contract::MODELS.len()
    ))
}

/// Levenshtein distance, for the suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_ids_and_never_mentions_library_calls() {
        let first = contract::MODELS[0].id;
        let typo = format!("{first}x");
        let msg = unknown_model(&typo).to_string();
        assert!(msg.contains(first), "{msg}");
        assert!(msg.contains("apipod models"), "{msg}");
        assert!(!msg.contains("GenerationRequest"), "{msg}");
        assert!(find_model(first).is_ok());
    }
}
