//! The one list of secret values in this run, and masking them out of any text.
//!
//! It is process-wide on purpose: output, errors and tracing all pass through `redact`,
//! and a value that becomes secret mid-run (a generated password) is masked from then on.

use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a secret is replaced by.
pub const MASK: &str = "********";

/// Marks `value` as secret. Very short values are ignored: masking "1" or "no"
/// everywhere would garble output without protecting anything.
pub fn register(value: &str) {
    if value.len() < 4 {
        return;
    }
    // The forms a secret takes in other people's messages too: escaped as JSON or Tera
    // print it, escaped for SQL as MariaDB echoes it, and line by line for a multi-line
    // secret (a key) that a line diff shows a line at a time.
    let json = serde_json::to_string(value).unwrap_or_default();
    let mut forms = vec![
        value.to_string(),
        json.trim_matches('"').to_string(),
        value.replace('\\', "\\\\").replace('\'', "\\'"),
    ];
    if value.contains('\n') {
        forms.extend(
            value
                .lines()
                .map(str::trim)
                .filter(|l| l.len() >= 8)
                .map(str::to_string),
        );
    }

    let mut secrets = SECRETS.write().expect("secret list lock");
    for form in forms {
        if form.len() >= 4 && !secrets.contains(&form) {
            secrets.push(form);
        }
    }
    // Longest first, so a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every registered secret masked.
pub fn redact(text: &str) -> String {
    let secrets = SECRETS.read().expect("secret list lock");
    let mut out = text.to_string();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_longest_first() {
        register("s3cret-value");
        register("s3cret-value-longer");
        assert_eq!(
            redact("a s3cret-value-longer b s3cret-value"),
            "a ******** b ********"
        );
        register("ab");
        assert_eq!(redact("ab"), "ab");
    }

    #[test]
    fn escaped_and_multi_line_forms_are_masked() {
        register("it's\"x-secret\\y");
        assert_eq!(redact(r#"got `"it's\"x-secret\\y"`"#), "got `\"********\"`");
        assert_eq!(
            redact(r"near 'it\'s"),
            r"near 'it\'s",
            "short fragments stay"
        );
        assert_eq!(
            redact(r#"VALUES ('it\'s"x-secret\\y')"#),
            "VALUES ('********')"
        );
        register("-----BEGIN KEY-----\nAAAAsecretline1\nBBBBsecretline2\n-----END KEY-----\n");
        assert_eq!(redact("+AAAAsecretline1\n"), "+********\n");
    }
}
