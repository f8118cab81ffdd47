//! Benchmark results: headline figures with their targets, printed as a table and written
//! as JSON. A benchmark that runs several rounds reports each figure once per round;
//! [`merge_rounds`] turns those into one figure per name whose target is judged on the
//! median, with the spread beside it.

use serde::{Deserialize, Serialize};

use crate::stats::median;

/// How a figure's number is compared with its target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Goal {
    /// Met when the value is at most this.
    AtMost(f64),
    /// Met when the value is at least this.
    AtLeast(f64),
}

impl Goal {
    /// Whether `value` meets the goal (a NaN never does).
    pub fn met(self, value: f64) -> bool {
        match self {
            Goal::AtMost(limit) => value <= limit,
            Goal::AtLeast(limit) => value >= limit,
        }
    }
}

/// How a figure's number is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// A ratio printed as a change: 1.042 is `+4.2%`.
    Change,
    /// A ratio printed as a factor: `×0.951`.
    Factor,
    /// Seconds printed as microseconds.
    Micros,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// Bytes per second printed as MiB/s.
    MibPerSecond,
    /// A plain number.
    Number,
    /// 1 for yes, 0 for no.
    Flag,
}

impl Unit {
    /// `value` in this unit.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Change => format!("{:+.1}%", (value - 1.0) * 100.0),
            Unit::Factor => format!("x{value:.3}"),
            Unit::Micros => format!("{:.1} µs", value * 1e6),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::Bytes => format!("{value:.0} B"),
            Unit::MibPerSecond => format!("{:.0} MiB/s", value / (1024.0 * 1024.0)),
            Unit::Number => {
                if value.abs() >= 100.0 {
                    format!("{value:.0}")
                } else {
                    format!("{value:.2}")
                }
            }
            Unit::Flag => if value >= 0.5 { "yes" } else { "no" }.to_string(),
        }
    }
}

/// One headline figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Benchmark id, e.g. `B1`.
    pub bench: String,
    /// What is measured.
    pub name: String,
    /// The measured value, formatted with its unit (for merged rounds: the median round's).
    pub measured: String,
    /// The target, in words (empty when the figure is informational).
    pub target: String,
    /// Whether the target was met (`None` for informational figures).
    pub met: Option<bool>,
    /// The number the target is judged on (or the headline number of an informational
    /// figure), when there is one.
    #[serde(default)]
    pub value: Option<f64>,
    /// How `value` is judged.
    #[serde(default)]
    pub goal: Option<Goal>,
    /// How `value` is printed.
    #[serde(default)]
    pub unit: Option<Unit>,
    /// The value of each round, once rounds are merged.
    #[serde(default)]
    pub rounds: Vec<f64>,
}

impl Figure {
    /// A yes/no figure with a target (judged on the majority when rounds are merged).
    pub fn new(
        bench: &str,
        name: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) -> Self {
        let value = if met { 1.0 } else { 0.0 };
        Figure::judged(
            bench,
            name,
            measured,
            target,
            (value, Unit::Flag),
            Goal::AtLeast(1.0),
        )
    }

    /// A figure whose number `value` is judged against `goal`.
    pub fn judged(
        bench: &str,
        name: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        (value, unit): (f64, Unit),
        goal: Goal,
    ) -> Self {
        Figure {
            bench: bench.into(),
            name: name.into(),
            measured: measured.into(),
            target: target.into(),
            met: Some(goal.met(value)),
            value: Some(value),
            goal: Some(goal),
            unit: Some(unit),
            rounds: Vec::new(),
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
            value: None,
            goal: None,
            unit: None,
            rounds: Vec::new(),
        }
    }

    /// The same figure with a headline number, so merged rounds show its spread.
    pub fn with_value(mut self, value: f64, unit: Unit) -> Self {
        self.value = Some(value);
        self.unit = Some(unit);
        self
    }

    /// `min..max (n rounds)` of the merged rounds, or `-` for a single round.
    pub fn spread(&self) -> String {
        match (self.unit, self.rounds.len()) {
            (Some(unit), n) if n > 1 => {
                let lo = self.rounds.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = self
                    .rounds
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                format!("{} .. {} ({n})", unit.format(lo), unit.format(hi))
            }
            _ => "-".into(),
        }
    }
}

/// Merges the figures of several rounds of one benchmark: one figure per name, in the
/// order of first appearance. A figure with a number keeps the median round's text, gets
/// the median as its value and is judged on it; the others keep the last round's text and
/// are met only if met in every round.
pub fn merge_rounds(rounds: &[Vec<Figure>]) -> Vec<Figure> {
    let mut names: Vec<(String, String)> = Vec::new();
    for f in rounds.iter().flatten() {
        let key = (f.bench.clone(), f.name.clone());
        if !names.contains(&key) {
            names.push(key);
        }
    }
    names
        .into_iter()
        .filter_map(|(bench, name)| {
            let same: Vec<&Figure> = rounds
                .iter()
                .flatten()
                .filter(|f| f.bench == bench && f.name == name)
                .collect();
            let last = (*same.last()?).clone();
            let values: Vec<f64> = same.iter().filter_map(|f| f.value).collect();
            if values.len() != same.len() {
                let met = last
                    .met
                    .map(|_| same.iter().all(|f| f.met.unwrap_or(false)));
                return Some(Figure { met, ..last });
            }
            let mid = median(&values);
            // The text of the round whose value is the median (an actual round).
            let text = same
                .iter()
                .find(|f| f.value == Some(mid))
                .map(|f| f.measured.clone())
                .unwrap_or(last.measured.clone());
            Some(Figure {
                measured: text,
                met: last.goal.map(|g| g.met(mid)),
                value: Some(mid),
                rounds: values,
                ..last
            })
        })
        .collect()
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
    let rows: Vec<[String; 6]> = figures
        .iter()
        .map(|f| {
            [
                f.bench.clone(),
                f.name.clone(),
                f.measured.clone(),
                f.spread(),
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
    let header = [
        "bench",
        "figure",
        "measured (median round)",
        "spread (rounds)",
        "target",
        "met (on the median)",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
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
        assert!(lines[2].contains("| yes "));
        assert!(lines[3].ends_with("| -                   |"));
    }

    #[test]
    fn rounds_are_judged_on_the_median() {
        let round = |v: f64, done: bool| {
            vec![
                Figure::judged(
                    "B1",
                    "p50",
                    format!("{v}"),
                    "within +5%",
                    (v, Unit::Change),
                    Goal::AtMost(1.05),
                ),
                Figure::new("B1", "all done", "", "all", done),
                Figure::info("B1", "note", "x"),
            ]
        };
        // One bad round out of three: the median (1.04) meets the target.
        let merged = merge_rounds(&[round(1.03, true), round(1.09, false), round(1.04, true)]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].value, Some(1.04));
        assert_eq!(merged[0].measured, "1.04");
        assert_eq!(merged[0].met, Some(true));
        assert_eq!(merged[0].spread(), "+3.0% .. +9.0% (3)");
        assert_eq!(merged[1].met, Some(true));
        assert_eq!(merged[2].met, None);
        // Two bad rounds: the median misses.
        let merged = merge_rounds(&[round(1.06, true), round(1.09, true), round(1.04, true)]);
        assert_eq!(merged[0].met, Some(false));
    }
}
