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
    let mut secrets = SECRETS.write().expect("secret list lock");
    if !secrets.iter().any(|s| s == value) {
        secrets.push(value.to_string());
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
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
}
