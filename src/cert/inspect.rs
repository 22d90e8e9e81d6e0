//! Deciding whether the certificate a host holds still fits the spec.

use std::fmt;

use sha2::Digest;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::public_key::PublicKey;

use crate::cert::{CertSpec, IssuerConfig, KeyType};

/// How many intermediates `check` follows from the leaf towards the root.
const MAX_CHAIN: usize = 5;

/// What a host holds, as read from its files. Any part may be absent.
#[derive(Clone, Copy, Default)]
pub struct HeldCert<'a> {
    pub cert_pem: Option<&'a str>,
    /// Intermediates, if the host keeps them apart; a fullchain in `cert_pem` works too.
    pub chain_pem: Option<&'a str>,
    pub key: Option<KeyEvidence<'a>>,
}

/// What is known of the host's private key: the key itself, or only its public half.
#[derive(Clone, Copy)]
pub enum KeyEvidence<'a> {
    PrivateKeyPem(&'a str),
    /// A `-----BEGIN PUBLIC KEY-----` (SPKI) PEM, e.g. from `openssl pkey -pubout`.
    PublicKeyPem(&'a str),
    /// Hex SHA-256 of the DER SubjectPublicKeyInfo.
    SpkiSha256(&'a str),
}

impl fmt::Debug for KeyEvidence<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyEvidence::PrivateKeyPem(_) => f.write_str("PrivateKeyPem(<redacted>)"),
            KeyEvidence::PublicKeyPem(p) => f.debug_tuple("PublicKeyPem").field(p).finish(),
            KeyEvidence::SpkiSha256(h) => f.debug_tuple("SpkiSha256").field(h).finish(),
        }
    }
}

/// The verdict on a host's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    Valid {
        not_after: OffsetDateTime,
    },
    /// Every check that failed, in the order they were made; never empty.
    NeedsIssue(Vec<CertProblem>),
}

impl CertStatus {
    pub fn is_valid(&self) -> bool {
        matches!(self, CertStatus::Valid { .. })
    }

    pub fn problems(&self) -> &[CertProblem] {
        match self {
            CertStatus::Valid { .. } => &[],
            CertStatus::NeedsIssue(problems) => problems,
        }
    }
}

/// One reason why a certificate must be (re-)issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertProblem {
    Missing,
    Unparsable {
        what: String,
        reason: String,
    },
    NamesNotCovered {
        missing: Vec<String>,
    },
    WrongIssuer {
        reason: String,
    },
    KeyMissing,
    KeyMismatch,
    KeyTypeDiffers {
        expected: KeyType,
        found: String,
    },
    /// `days_left` is negative once expired.
    ExpiresWithin {
        days_left: i64,
        window_days: i64,
    },
}

impl fmt::Display for CertProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertProblem::Missing => f.write_str("no certificate"),
            CertProblem::Unparsable { what, reason } => {
                write!(f, "{what} cannot be parsed: {reason}")
            }
            CertProblem::NamesNotCovered { missing } => {
                write!(f, "does not cover {}", missing.join(", "))
            }
            CertProblem::WrongIssuer { reason } => {
                write!(f, "not issued by the configured issuer: {reason}")
            }
            CertProblem::KeyMissing => f.write_str("no private key"),
            CertProblem::KeyMismatch => f.write_str("private key does not match the certificate"),
            CertProblem::KeyTypeDiffers { expected, found } => {
                write!(f, "key is {found}, {expected} is declared")
            }
            CertProblem::ExpiresWithin { days_left, .. } if *days_left < 0 => {
                write!(f, "expired {} days ago", -days_left)
            }
            CertProblem::ExpiresWithin {
                days_left,
                window_days,
            } => {
                write!(
                    f,
                    "expires in {days_left} days, inside the {window_days}-day renewal window"
                )
            }
        }
    }
}

/// Checks `held` against `spec` now. `trust_root` is what `trust_root(spec)` returned.
pub fn check(held: &HeldCert<'_>, spec: &CertSpec, trust_root: Option<&str>) -> CertStatus {
    check_at(held, spec, trust_root, OffsetDateTime::now_utc())
}

/// `check` at a given time.
pub fn check_at(
    held: &HeldCert<'_>,
    spec: &CertSpec,
    trust_root: Option<&str>,
    now: OffsetDateTime,
) -> CertStatus {
    let Some(cert_pem) = held.cert_pem.filter(|p| !p.trim().is_empty()) else {
        return CertStatus::NeedsIssue(vec![CertProblem::Missing]);
    };
    let cert_pems = match parse_pems(cert_pem, "certificate") {
        Ok(pems) if !pems.is_empty() => pems,
        Ok(_) => return unparsable("certificate", "no PEM block"),
        Err(p) => return CertStatus::NeedsIssue(vec![p]),
    };
    let mut chain_pems = match held.chain_pem.map(|c| parse_pems(c, "chain")).transpose() {
        Ok(pems) => pems.unwrap_or_default(),
        Err(p) => return CertStatus::NeedsIssue(vec![p]),
    };
    chain_pems.extend(cert_pems[1..].iter().cloned());

    let leaf = match cert_pems[0].parse_x509() {
        Ok(leaf) => leaf,
        Err(e) => return unparsable("certificate", e),
    };
    let mut problems = Vec::new();

    let missing = names_not_covered(&leaf, &spec.names);
    if !missing.is_empty() {
        problems.push(CertProblem::NamesNotCovered { missing });
    }
    if let Err(reason) = verify_issuer(&leaf, &chain_pems, trust_root, &spec.issuer) {
        problems.push(CertProblem::WrongIssuer { reason });
    }

    let found = key_type_of(&leaf);
    if found.as_deref() != Some(describe(spec.key_type)) {
        problems.push(CertProblem::KeyTypeDiffers {
            expected: spec.key_type,
            found: found.unwrap_or_else(|| "an unknown key type".into()),
        });
    }
    match held.key.map(|k| key_matches(&leaf, k)) {
        None => problems.push(CertProblem::KeyMissing),
        Some(Ok(true)) => {}
        Some(Ok(false)) => problems.push(CertProblem::KeyMismatch),
        Some(Err(reason)) => problems.push(CertProblem::Unparsable {
            what: "private key".into(),
            reason,
        }),
    }

    let not_after = leaf.validity().not_after.to_datetime();
    let left = not_after - now;
    let window = time::Duration::try_from(spec.renew_before).unwrap_or(time::Duration::MAX);
    if left < window {
        problems.push(CertProblem::ExpiresWithin {
            days_left: left.whole_days(),
            window_days: window.whole_days(),
        });
    }

    if problems.is_empty() {
        CertStatus::Valid { not_after }
    } else {
        CertStatus::NeedsIssue(problems)
    }
}

/// A one-line description of the leaf in `cert_pem` for plans and logs:
/// `serial 3f9a…, valid until 2030-05-01`. `None` if it cannot be parsed.
pub fn summary(cert_pem: &str) -> Option<String> {
    let pems = parse_pems(cert_pem, "certificate").ok()?;
    let leaf = pems.first()?.parse_x509().ok()?;
    let serial = hex::encode(leaf.raw_serial());
    let short = serial.get(..8).unwrap_or(&serial);
    let date = leaf.validity().not_after.to_datetime().date();
    Some(format!("serial {short}…, valid until {date}"))
}

fn unparsable(what: &str, reason: impl ToString) -> CertStatus {
    CertStatus::NeedsIssue(vec![CertProblem::Unparsable {
        what: what.into(),
        reason: reason.to_string(),
    }])
}

fn parse_pems(text: &str, what: &str) -> Result<Vec<Pem>, CertProblem> {
    Pem::iter_from_buffer(text.as_bytes())
        .filter(|p| !matches!(p, Ok(p) if p.label != "CERTIFICATE"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertProblem::Unparsable {
            what: what.into(),
            reason: e.to_string(),
        })
}

/// The spec's names that no SAN of `leaf` covers (a `*.zone` SAN covers one label).
fn names_not_covered(leaf: &X509Certificate<'_>, names: &[String]) -> Vec<String> {
    let sans: Vec<String> = match leaf.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let covered = |name: &String| {
        sans.iter().any(|san| {
            san == name
                || (!name.starts_with("*.")
                    && san.strip_prefix("*.").is_some_and(|zone| {
                        name.split_once('.').is_some_and(|(_, rest)| rest == zone)
                    }))
        })
    };
    names.iter().filter(|n| !covered(n)).cloned().collect()
}

/// Follows signatures from `leaf` through `chain` to `trust_root`.
fn verify_issuer(
    leaf: &X509Certificate<'_>,
    chain: &[Pem],
    trust_root: Option<&str>,
    issuer: &IssuerConfig,
) -> Result<(), String> {
    let roots = match trust_root {
        Some(pem) => parse_pems(pem, "trust root").map_err(|p| p.to_string())?,
        None if matches!(issuer, IssuerConfig::LocalCa(_)) => {
            return Err("the local CA has not been created yet".into())
        }
        // Without a configured root only the held chain can be checked.
        None => Vec::new(),
    };
    let roots: Vec<X509Certificate<'_>> = roots
        .iter()
        .map(|p| p.parse_x509().map_err(|e| format!("trust root: {e}")))
        .collect::<Result<_, _>>()?;
    let chain: Vec<X509Certificate<'_>> = chain
        .iter()
        .map(|p| p.parse_x509().map_err(|e| format!("chain: {e}")))
        .collect::<Result<_, _>>()?;

    let signed_by = |child: &X509Certificate<'_>, parent: &X509Certificate<'_>| {
        child.issuer() == parent.subject()
            && child.verify_signature(Some(parent.public_key())).is_ok()
    };

    let mut current = leaf.clone();
    for _ in 0..=MAX_CHAIN {
        if roots.is_empty() && !chain.iter().any(|c| c.subject() == current.issuer()) {
            return Ok(());
        }
        if roots
            .iter()
            .any(|r| r.subject() == current.subject() && r.public_key() == current.public_key())
            || roots.iter().any(|r| signed_by(&current, r))
        {
            return Ok(());
        }
        match chain.iter().find(|c| signed_by(&current, c)) {
            Some(parent) => current = parent.clone(),
            None => {
                let expected = roots
                    .first()
                    .map(|r| r.subject().to_string())
                    .unwrap_or_default();
                return Err(format!("{} is not signed by {expected}", current.subject()));
            }
        }
    }
    Err(format!(
        "no path to the trust root within {MAX_CHAIN} certificates"
    ))
}

fn describe(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::EcdsaP256 => "ECDSA P-256",
        KeyType::Rsa2048 => "RSA 2048",
        KeyType::Rsa4096 => "RSA 4096",
    }
}

fn key_type_of(cert: &X509Certificate<'_>) -> Option<String> {
    match cert.public_key().parsed().ok()? {
        PublicKey::EC(ec) => Some(match ec.key_size() {
            256 => "ECDSA P-256".into(),
            bits => format!("ECDSA {bits}"),
        }),
        PublicKey::RSA(rsa) => Some(format!("RSA {}", rsa.key_size())),
        _ => None,
    }
}

fn key_matches(leaf: &X509Certificate<'_>, key: KeyEvidence<'_>) -> Result<bool, String> {
    let cert_spki = leaf.public_key().raw;
    match key {
        KeyEvidence::PrivateKeyPem(pem) => {
            let pair = rcgen::KeyPair::from_pem(pem).map_err(|e| e.to_string())?;
            use rcgen::PublicKeyData;
            Ok(pair.subject_public_key_info() == cert_spki)
        }
        KeyEvidence::PublicKeyPem(pem) => {
            let block = Pem::iter_from_buffer(pem.as_bytes())
                .next()
                .ok_or("no PEM block")?
                .map_err(|e| e.to_string())?;
            Ok(block.contents == cert_spki)
        }
        KeyEvidence::SpkiSha256(hex_digest) => Ok(
            hex::encode(sha2::Sha256::digest(cert_spki)).eq_ignore_ascii_case(hex_digest.trim())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_with(sans: &[&str]) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    fn uncovered(sans: &[&str], names: &[&str]) -> Vec<String> {
        let pem = leaf_with(sans);
        let block = Pem::iter_from_buffer(pem.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let cert = block.parse_x509().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        names_not_covered(&cert, &names)
    }

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(uncovered(&["*.example.test"], &["mx1.example.test"]).is_empty());
        assert_eq!(
            uncovered(&["*.example.test"], &["a.b.example.test"]),
            ["a.b.example.test"]
        );
        assert_eq!(
            uncovered(&["*.example.test"], &["example.test"]),
            ["example.test"]
        );
        assert_eq!(
            uncovered(&["mx1.example.test"], &["*.example.test"]),
            ["*.example.test"]
        );
        assert!(uncovered(&["MX1.Example.Test"], &["mx1.example.test"]).is_empty());
    }

    #[test]
    fn problems_read_well() {
        let p = CertProblem::ExpiresWithin {
            days_left: 12,
            window_days: 30,
        };
        assert_eq!(
            p.to_string(),
            "expires in 12 days, inside the 30-day renewal window"
        );
        let p = CertProblem::ExpiresWithin {
            days_left: -3,
            window_days: 30,
        };
        assert_eq!(p.to_string(), "expired 3 days ago");
    }
}
