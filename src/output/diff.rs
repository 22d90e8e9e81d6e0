//! Showing changes: a unified diff for file contents, one line for everything else.

use console::Style;
use similar::{ChangeTag, TextDiff};

use crate::resources::Change;
use crate::vars::redact::redact;

/// The changes as text, secrets masked; coloured when `colour` is set.
pub fn render(changes: &[Change], colour: bool) -> String {
    let mut out = String::new();
    for change in changes {
        match change {
            Change::Content {
                path,
                before,
                after,
                sensitive,
            } => out.push_str(&content_diff(
                path,
                before.as_deref(),
                after,
                *sensitive,
                colour,
            )),
            other => {
                let line = format!("~ {}\n", redact(&other.to_string()));
                out.push_str(&paint(&line, Style::new().yellow(), colour));
            }
        }
    }
    out
}

fn content_diff(
    path: &str,
    before: Option<&[u8]>,
    after: &[u8],
    sensitive: bool,
    colour: bool,
) -> String {
    let header = match before {
        Some(_) => format!("--- {path}\n+++ {path} (declared)\n"),
        None => format!("--- /dev/null\n+++ {path} (declared)\n"),
    };
    if sensitive {
        return format!("{header}  (content hidden: sensitive or too large)\n");
    }
    let (Ok(old), Ok(new)) = (
        std::str::from_utf8(before.unwrap_or_default()),
        std::str::from_utf8(after),
    ) else {
        return format!("{header}  (binary content differs)\n");
    };

    // Masked whole before the diff cuts them into lines: a secret spanning lines would
    // not be recognised a line at a time.
    let (old, new) = (redact(old), redact(new));
    let diff = TextDiff::from_lines(&old, &new);
    let mut out = paint(&header, Style::new().bold(), colour);
    for group in diff.grouped_ops(3) {
        let first = group.first().expect("groups are not empty");
        let last = group.last().expect("groups are not empty");
        let (o, n) = (first.old_range().start, first.new_range().start);
        let (oe, ne) = (last.old_range().end, last.new_range().end);
        out.push_str(&paint(
            &format!("@@ -{},{} +{},{} @@\n", o + 1, oe - o, n + 1, ne - n),
            Style::new().cyan(),
            colour,
        ));
        for op in &group {
            for change in diff.iter_changes(op) {
                let (sign, style) = match change.tag() {
                    ChangeTag::Delete => ("-", Style::new().red()),
                    ChangeTag::Insert => ("+", Style::new().green()),
                    ChangeTag::Equal => (" ", Style::new()),
                };
                let mut line = format!("{sign}{}", change.value());
                if !line.ends_with('\n') {
                    line.push_str("\n\\ No newline at end of file\n");
                }
                out.push_str(&paint(&line, style, colour));
            }
        }
    }
    out
}

fn paint(text: &str, style: Style, colour: bool) -> String {
    if colour {
        style.force_styling(true).apply_to(text).to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_changes_render_as_unified_diff() {
        let change = Change::Content {
            path: "/etc/motd".into(),
            before: Some(b"a\nb\n".to_vec()),
            after: b"a\nc\n".to_vec(),
            sensitive: false,
        };
        let text = render(&[change], false);
        assert!(text.contains("-b\n+c\n"), "{text}");
        assert!(text.contains("@@ -1,2 +1,2 @@"), "{text}");
    }

    #[test]
    fn secrets_in_diffs_are_masked() {
        crate::vars::redact::register("hunter2-secret");
        let change = Change::Content {
            path: "/etc/app.conf".into(),
            before: None,
            after: b"password = hunter2-secret\n".to_vec(),
            sensitive: false,
        };
        let text = render(&[change], false);
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(text.contains("password = ********"), "{text}");
    }
}
