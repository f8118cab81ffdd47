//! A line-based, indentation-aware editor for the YAML subset `openapi/apipod.yaml` uses.
//!
//! No Rust YAML library keeps comments and formatting, so `sync` edits the text itself.
//! The subset: block mappings and block sequences (sequences indented under their key),
//! plain or double-quoted scalars, folded (`>-`) descriptions, and full-line `#` comments.
//! Every edit touches only the lines it must; everything else stays byte for byte.
//!
//! A key's *block* is its line and every following line indented deeper (blank lines
//! inside included). Comment lines directly above a key, at the key's indentation, are
//! *attached* to it: they go when the key goes.

use serde_json::Value;

/// A YAML text as lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlText {
    lines: Vec<String>,
    final_newline: bool,
}

/// A key in the text: its line, indentation, and the end (exclusive) of its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Line index of the key.
    pub line: usize,
    /// Indentation of the key, in spaces.
    pub indent: usize,
    /// First line after the block.
    pub end: usize,
}

/// A sequence item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Line index of the `- ` line.
    pub line: usize,
    /// End (exclusive) of the item's block.
    pub end: usize,
    /// The item's text after `- `.
    pub text: String,
    /// The item parsed as YAML (`Null` when it does not parse on its own).
    pub value: Value,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

fn is_content(line: &str) -> bool {
    !is_blank(line) && !is_comment(line)
}

/// Splits a mapping line into its key and the (trimmed) value text after `:`.
pub fn split_key(line: &str) -> Option<(String, &str)> {
    let t = line.trim_start();
    if t.starts_with("- ") || t == "-" || t.starts_with('#') {
        return None;
    }
    for quote in ['"', '\''] {
        if let Some(rest) = t.strip_prefix(quote) {
            let close = rest.find(quote)?;
            let after = rest[close + 1..].strip_prefix(':')?;
            if !(after.is_empty() || after.starts_with(' ')) {
                return None;
            }
            return Some((rest[..close].to_string(), after.trim()));
        }
    }
    if let Some(idx) = t.find(": ") {
        return Some((t[..idx].to_string(), t[idx + 2..].trim()));
    }
    t.strip_suffix(':').map(|k| (k.to_string(), ""))
}

/// Parses the text of one scalar (`"16:9"`, `720p`, `5`) as YAML 1.2 would.
pub fn parse_scalar(text: &str) -> Value {
    apipod_codegen::load_spec(&format!("v: {text}\n"))
        .ok()
        .and_then(|v| v.get("v").cloned())
        .unwrap_or(Value::Null)
}

fn yaml11_special(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "y" | "yes" | "n" | "no" | "true" | "false" | "on" | "off" | "null" | "~"
    ) || lower.starts_with(".inf")
        || lower.starts_with("-.inf")
        || lower.starts_with("+.inf")
        || lower == ".nan"
}

fn numeric_looking(s: &str) -> bool {
    let body = s.trim_start_matches(['-', '+']);
    if body.is_empty() {
        return false;
    }
    let lower = body.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
        return true;
    }
    // YAML 1.1 integers and floats may contain `_`; anything made of digits, `_`, `.`
    // and an exponent reads as a number somewhere.
    let stripped: String = body.chars().filter(|c| *c != '_').collect();
    stripped.parse::<f64>().is_ok()
}

/// Parses the text of a sequence item (`"16:9"`, `$ref: "#/..."`) as YAML 1.2 would.
pub fn parse_item(text: &str) -> Value {
    apipod_codegen::load_spec(&format!("- {text}\n"))
        .ok()
        .and_then(|v| v.get(0).cloned())
        .unwrap_or(Value::Null)
}

/// Formats a value as a YAML scalar in the style of our spec: plain when that reads back
/// as the same string under YAML 1.1 and 1.2, double-quoted otherwise (always for
/// strings containing `:`, such as ratios, and for strings that look like numbers,
/// booleans or null).
pub fn format_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.trim() == s
                && !s.contains(':')
                && !s.contains(" #")
                && !s.contains('\n')
                && !s.starts_with([
                    '-', '?', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"',
                    '%', '@', '`',
                ])
                && !yaml11_special(s)
                && !numeric_looking(s)
                && parse_scalar(s) == *v;
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
            }
        }
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

impl YamlText {
    /// Splits `text` into lines.
    pub fn new(text: &str) -> Self {
        let final_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        YamlText {
            lines: if text.is_empty() {
                Vec::new()
            } else {
                body.split('\n').map(str::to_string).collect()
            },
            final_newline,
        }
    }

    /// The text.
    pub fn text(&self) -> String {
        let mut out = self.lines.join("\n");
        if self.final_newline {
            out.push('\n');
        }
        out
    }

    /// The lines.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    fn block_end(&self, line: usize) -> usize {
        let indent = indent_of(&self.lines[line]);
        let mut end = self.lines.len();
        for (i, l) in self.lines.iter().enumerate().skip(line + 1) {
            if !is_blank(l) && indent_of(l) <= indent {
                end = i;
                break;
            }
        }
        while end > line + 1 && is_blank(&self.lines[end - 1]) {
            end -= 1;
        }
        end
    }

    fn node_at(&self, line: usize) -> Node {
        Node {
            line,
            indent: indent_of(&self.lines[line]),
            end: self.block_end(line),
        }
    }

    /// Indentation of the children of `parent` (`None` for the top level), if it has any.
    fn child_indent(&self, parent: Option<&Node>) -> Option<usize> {
        let (start, end, min) = match parent {
            Some(p) => (p.line + 1, p.end, p.indent + 1),
            None => (0, self.lines.len(), 0),
        };
        self.lines[start..end]
            .iter()
            .find(|l| is_content(l))
            .map(|l| indent_of(l))
            .filter(|i| *i >= min)
    }

    /// The mapping children of `parent` (the top level for `None`), in order.
    pub fn children(&self, parent: Option<&Node>) -> Vec<(String, Node)> {
        let Some(indent) = self.child_indent(parent) else {
            return Vec::new();
        };
        let (start, end) = match parent {
            Some(p) => (p.line + 1, p.end),
            None => (0, self.lines.len()),
        };
        let mut out = Vec::new();
        for i in start..end {
            let l = &self.lines[i];
            if is_content(l)
                && indent_of(l) == indent
                && let Some((key, _)) = split_key(l)
            {
                out.push((key, self.node_at(i)));
            }
        }
        out
    }

    /// The child `key` of `parent`.
    pub fn child(&self, parent: Option<&Node>, key: &str) -> Option<Node> {
        self.children(parent)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n)
    }

    /// The node at a key path, e.g. `["components", "schemas", "TaskDetail"]`.
    pub fn find(&self, path: &[&str]) -> Option<Node> {
        let mut node: Option<Node> = None;
        for key in path {
            node = Some(self.child(node.as_ref(), key)?);
        }
        node
    }

    /// The value text on a key's line (`""` for a block).
    pub fn value_text(&self, node: &Node) -> String {
        split_key(&self.lines[node.line])
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    }

    /// The sequence items under `node`.
    pub fn items(&self, node: &Node) -> Vec<Item> {
        let Some(indent) = self.child_indent(Some(node)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in node.line + 1..node.end {
            let l = &self.lines[i];
            if is_content(l) && indent_of(l) == indent {
                let t = l.trim_start();
                if let Some(text) = t.strip_prefix("- ").or_else(|| (t == "-").then_some("")) {
                    let text = text.trim().to_string();
                    out.push(Item {
                        line: i,
                        end: self.block_end(i),
                        value: parse_item(&text),
                        text,
                    });
                }
            }
        }
        out
    }

    /// First line of `node` including the comments attached above it.
    pub fn attached_start(&self, node: &Node) -> usize {
        let mut start = node.line;
        while start > 0 {
            let prev = &self.lines[start - 1];
            if is_comment(prev) && indent_of(prev) == node.indent {
                start -= 1;
            } else {
                break;
            }
        }
        start
    }

    /// True when comments are attached above `node`.
    pub fn has_attached_comment(&self, node: &Node) -> bool {
        self.attached_start(node) < node.line
    }

    /// Replaces the value on a key's line, keeping the key as written.
    pub fn set_value(&mut self, node: &Node, value: &str) {
        let line = &self.lines[node.line];
        let t = line.trim_start();
        let key_len = if t.starts_with('"') || t.starts_with('\'') {
            let quote = t.as_bytes()[0] as char;
            t[1..].find(quote).map(|i| i + 2).unwrap_or(t.len())
        } else {
            t.find(": ").unwrap_or_else(|| t.len().saturating_sub(1))
        };
        let new = format!("{}{}: {}", " ".repeat(node.indent), &t[..key_len], value);
        self.lines[node.line] = new;
    }

    /// Removes a key's block and its attached comments.
    pub fn remove(&mut self, node: &Node) {
        let start = self.attached_start(node);
        self.lines.drain(start..node.end);
    }

    /// Removes a key's block but keeps the comments above it (for schemas, whose comments
    /// above are section headings rather than notes about the schema).
    pub fn remove_block(&mut self, node: &Node) {
        self.lines.drain(node.line..node.end);
    }

    /// Removes a sequence item.
    pub fn remove_item(&mut self, item: &Item) {
        self.lines.drain(item.line..item.end);
    }

    /// Inserts lines before line `at`.
    pub fn insert_lines(&mut self, at: usize, lines: Vec<String>) {
        self.lines.splice(at..at, lines);
    }

    /// Inserts a new child under `parent`. `body` is the child's lines, indented relative
    /// to the child (its first line is `key: value` or `key:`). It goes after the last
    /// existing child that comes before `key` in `order`, or first when there is none.
    pub fn insert_child(&mut self, parent: &Node, key: &str, body: &[String], order: &[&str]) {
        let children = self.children(Some(parent));
        let indent = self.child_indent(Some(parent)).unwrap_or(parent.indent + 2);
        let rank = |k: &str| order.iter().position(|o| *o == k);
        let new_rank = rank(key).unwrap_or(order.len());
        let after = children
            .iter()
            .filter(|(k, _)| rank(k).is_some_and(|r| r < new_rank))
            .map(|(_, n)| n)
            .next_back();
        let at = match (after, children.first()) {
            (Some(n), _) => n.end,
            (None, Some((_, first))) => self.attached_start(first),
            (None, None) => parent.line + 1,
        };
        let pad = " ".repeat(indent);
        let lines = body.iter().map(|l| format!("{pad}{l}")).collect();
        self.insert_lines(at, lines);
    }

    /// Inserts a sequence item under `node` before line `at` (or at the end for `None`).
    pub fn insert_item(&mut self, node: &Node, at: Option<usize>, text: &str) {
        let indent = self.child_indent(Some(node)).unwrap_or(node.indent + 2);
        let at = at.unwrap_or(node.end);
        self.insert_lines(at, vec![format!("{}- {}", " ".repeat(indent), text)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAMPLE: &str = "\
a:
  # about b
  b:
    c: 1
    list:
      - \"1:1\"
      - x
    desc: >-
      text: that looks
      - like yaml
  # about d
  d: \"q\"
e: 2
";

    #[test]
    fn finds_nodes_and_items() {
        let y = YamlText::new(SAMPLE);
        let b = y.find(&["a", "b"]).unwrap();
        assert_eq!((b.line, b.indent, b.end), (2, 2, 10));
        let list = y.find(&["a", "b", "list"]).unwrap();
        let items = y.items(&list);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].value, json!("1:1"));
        assert_eq!(parse_item("$ref: \"#/a/b\""), json!({"$ref": "#/a/b"}));
        assert!(y.find(&["a", "b", "text"]).is_none());
        assert_eq!(y.value_text(&y.find(&["a", "d"]).unwrap()), "\"q\"");
        assert_eq!(y.text(), SAMPLE);
    }

    #[test]
    fn edits_touch_only_their_lines() {
        let mut y = YamlText::new(SAMPLE);
        let d = y.find(&["a", "d"]).unwrap();
        y.remove(&d);
        assert!(!y.text().contains("about d"));
        let b = y.find(&["a", "b"]).unwrap();
        y.insert_child(&b, "z", &["z: 3".into()], &["c", "z", "list"]);
        let c = y.find(&["a", "b", "c"]).unwrap();
        y.set_value(&c, "4");
        let expected = SAMPLE
            .replace("    c: 1\n", "    c: 4\n    z: 3\n")
            .replace("  # about d\n  d: \"q\"\n", "");
        assert_eq!(y.text(), expected);
    }

    #[test]
    fn scalars_are_quoted_when_needed() {
        assert_eq!(format_scalar(&json!("16:9")), "\"16:9\"");
        assert_eq!(format_scalar(&json!("720p")), "720p");
        assert_eq!(format_scalar(&json!("4k")), "4k");
        assert_eq!(format_scalar(&json!("1080")), "\"1080\"");
        assert_eq!(format_scalar(&json!("1_000")), "\"1_000\"");
        assert_eq!(format_scalar(&json!("yes")), "\"yes\"");
        assert_eq!(format_scalar(&json!("")), "\"\"");
        assert_eq!(format_scalar(&json!("`x` y")), "\"`x` y\"");
        assert_eq!(
            format_scalar(&json!("Seedance 2.0 Image to Video")),
            "Seedance 2.0 Image to Video"
        );
        assert_eq!(format_scalar(&json!(5)), "5");
        assert_eq!(format_scalar(&json!(true)), "true");
        for s in ["16:9", "1080", "yes", "", "a #b", "-x", "1e3", "0x1F"] {
            assert_eq!(parse_scalar(&format_scalar(&json!(s))), json!(s), "{s}");
        }
    }
}
