//! What a `certificate` task declares: the names, the key type, the issuer, the renewal window.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::cert::{CertError, IssuerConfig};

/// Let's Encrypt's limit of names on one certificate.
const MAX_NAMES: usize = 100;

/// One certificate as declared: every host that declares the same spec gets the same one.
#[derive(Debug, Clone, PartialEq)]
pub struct CertSpec {
    /// The DNS names (SANs), lower-cased, first one also the subject CN.
    pub names: Vec<String>,
    pub key_type: KeyType,
    pub issuer: IssuerConfig,
    /// Re-issue when the certificate expires within this window.
    pub renew_before: Duration,
}

/// The private key algorithm of the leaf certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum KeyType {
    #[default]
    #[serde(
        rename = "ecdsa_p256",
        alias = "ecdsa-p256",
        alias = "p256",
        alias = "ecdsa"
    )]
    EcdsaP256,
    #[serde(
        rename = "rsa2048",
        alias = "rsa_2048",
        alias = "rsa-2048",
        alias = "rsa"
    )]
    Rsa2048,
    #[serde(rename = "rsa4096", alias = "rsa_4096", alias = "rsa-4096")]
    Rsa4096,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::EcdsaP256 => "ECDSA P-256",
            KeyType::Rsa2048 => "RSA 2048",
            KeyType::Rsa4096 => "RSA 4096",
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    names: Vec<String>,
    #[serde(default)]
    key_type: KeyType,
    issuer: IssuerConfig,
    #[serde(default)]
    renew_before: Option<DurationValue>,
}

/// A duration as written in a playbook: `"30d"`, `"12h"`, `"90s"`, `"6y"`, or seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Seconds(u64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Seconds(s) => Ok(DurationValue(Duration::from_secs(s))),
            Either::Text(t) => parse_duration(&t)
                .map(DurationValue)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `<number><unit>` with unit `s`, `m`, `h`, `d`, `w` or `y` (365 days).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30d, 12h or 90s"))?;
    let unit_secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use s, m, h, d, w or y)"
            ))
        }
    };
    Ok(Duration::from_secs(number * unit_secs))
}

impl CertSpec {
    pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);

    /// Parses a spec from the task's arguments (YAML or JSON, as a `serde_json::Value`).
    ///
    /// Errors name the offending field by its path, e.g. `issuer.acme.dns.api_token`.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, CertError> {
        let raw: RawSpec = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "certificate".to_string()
            } else {
                path
            };
            CertError::spec(field, e.into_inner().to_string())
        })?;

        let names = normalize_names(raw.names)?;
        Ok(CertSpec {
            names,
            key_type: raw.key_type,
            issuer: raw.issuer,
            renew_before: raw.renew_before.map_or(Self::DEFAULT_RENEW_BEFORE, |d| d.0),
        })
    }

    /// Makes the issuer's relative directories and files relative to `base`, the
    /// inventory's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        self.issuer.resolve_paths(base);
    }
}

fn normalize_names(names: Vec<String>) -> Result<Vec<String>, CertError> {
    if names.is_empty() {
        return Err(CertError::spec("names", "at least one DNS name is needed"));
    }
    if names.len() > MAX_NAMES {
        return Err(CertError::spec(
            "names",
            format!(
                "{} names given, at most {MAX_NAMES} fit on one certificate",
                names.len()
            ),
        ));
    }

    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let wildcard_ok = name.strip_prefix("*.").unwrap_or(&name);
        if name.len() > 253 || !wildcard_ok.split('.').all(label_ok) || !name.contains('.') {
            return Err(CertError::spec(
                format!("names[{i}]"),
                format!("`{name}` is not a DNS name"),
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn local(dir: &str) -> serde_json::Value {
        json!({ "local_ca": { "dir": dir } })
    }

    #[test]
    fn defaults_are_ecdsa_and_thirty_days() {
        let spec = CertSpec::from_value(&json!({
            "names": ["Mail.Example.com", "mx1.example.com", "mail.example.com."],
            "issuer": local("/tmp/ca"),
        }))
        .unwrap();
        assert_eq!(spec.names, ["mail.example.com", "mx1.example.com"]);
        assert_eq!(spec.key_type, KeyType::EcdsaP256);
        assert_eq!(spec.renew_before, Duration::from_secs(30 * 86_400));
    }

    #[test]
    fn errors_name_the_field() {
        let err = CertSpec::from_value(&json!({
            "names": ["a.example"], "key_type": "dsa", "issuer": local("x"),
        }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("key_type"), "{err}");

        let err = CertSpec::from_value(&json!({
            "names": ["a.example"],
            "issuer": { "acme": { "directory": "https://127.0.0.1:14000/dir",
                "account_dir": "acct", "dns": { "provider": "cloudflare" } } },
        }))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("issuer.acme.dns") && err.contains("api_token"),
            "{err}"
        );

        let err =
            CertSpec::from_value(&json!({ "names": ["no spaces.example"], "issuer": local("x") }))
                .unwrap_err()
                .to_string();
        assert!(err.contains("names[0]"), "{err}");

        let err = CertSpec::from_value(&json!({ "names": ["a.example"], "issuer": local("x"),
            "renew_before": "3 fortnights" }))
        .unwrap_err()
        .to_string();
        assert!(err.contains("renew_before"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("6y").unwrap(),
            Duration::from_secs(6 * 365 * 86_400)
        );
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("d").is_err());
    }
}
