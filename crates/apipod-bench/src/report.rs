//! Benchmark results: headline figures with their targets, printed as a table and written
//! as JSON.

use serde::{Deserialize, Serialize};

/// One headline figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Benchmark id, e.g. `B1`.
    pub bench: String,
    /// What is measured.
    pub name: String,
    /// The measured value, formatted with its unit.
    pub measured: String,
    /// The target, in words (empty when the figure is informational).
    pub target: String,
    /// Whether the target was met (`None` for informational figures).
    pub met: Option<bool>,
}

impl Figure {
    /// A figure with a target.
    pub fn new(
        bench: &str,
        name: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) -> Self {
        Figure {
            bench: bench.into(),
            name: name.into(),
            measured: measured.into(),
            target: target.into(),
            met: Some(met),
        }
    }

    /// An informational figure (no target).
    pub fn info(bench: &str, name: impl Into<String>, measured: impl Into<String>) -> Self {
        Figure {
            bench: bench.into(),
            name: name.into(),
            measured: measured.into(),
            target: String::new(),
            met: None,
        }
    }
}

/// What one benchmark reports: its figures and free-form details for the JSON report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchResult {
    /// Benchmark id, e.g. `B1`.
    pub bench: String,
    /// Headline figures.
    pub figures: Vec<Figure>,
    /// Everything else that was measured.
    pub details: serde_json::Value,
    /// Remarks (skipped parts, caveats).
    pub notes: Vec<String>,
    /// Wall-clock seconds the benchmark took.
    pub seconds: f64,
}

/// Renders figures as a Markdown table (which also reads well in a terminal).
pub fn table(figures: &[Figure]) -> String {
    let rows: Vec<[String; 5]> = figures
        .iter()
        .map(|f| {
            [
                f.bench.clone(),
                f.name.clone(),
                f.measured.clone(),
                if f.target.is_empty() {
                    "-".into()
                } else {
                    f.target.clone()
                },
                match f.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let header = ["bench", "figure", "measured", "target", "met"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(&[
            Figure::new("B1", "latency", "1.02x", "<= 1.10x", true),
            Figure::info("B5", "status reads/s", "12000"),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() == lines[0].chars().count())
        );
        assert!(lines[2].contains("| yes |"));
        assert!(lines[3].ends_with("| -   |"));
    }
}
