//! The one error type of the certificate library; every variant names what failed.

use std::path::PathBuf;

/// What went wrong while parsing a spec, issuing a certificate or talking to DNS.
///
/// Messages name the field, file, DNS record, server or HTTP status involved. They never
/// contain API tokens, TSIG secrets or private keys.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate spec: field `{field}`: {reason}")]
    Spec { field: String, reason: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("generating a {key_type} key: {reason}")]
    KeyGeneration { key_type: String, reason: String },

    #[error("local CA in {dir}: {reason}")]
    LocalCa { dir: PathBuf, reason: String },

    #[error("signing the certificate for {names}: {reason}")]
    Signing { names: String, reason: String },

    #[error("ACME {step} at {directory}: {reason}")]
    Acme {
        step: &'static str,
        directory: String,
        reason: String,
    },

    #[error("ACME authorization for {name} failed: {reason}")]
    Authorization { name: String, reason: String },

    #[error("{provider}: {operation} {record}: HTTP {status}: {body}")]
    DnsHttp {
        provider: &'static str,
        operation: &'static str,
        record: String,
        status: u16,
        body: String,
    },

    #[error("{provider}: {operation} {record}: {reason}")]
    DnsProvider {
        provider: &'static str,
        operation: &'static str,
        record: String,
        reason: String,
    },

    #[error("{provider}: no zone found for {name}")]
    ZoneNotFound {
        provider: &'static str,
        name: String,
    },

    #[error("DNS query for {record} at {server}: {reason}")]
    DnsQuery {
        record: String,
        server: String,
        reason: String,
    },

    #[error(
        "TXT record {record} not visible at {servers} after {waited_secs} s \
         (propagation timeout)"
    )]
    PropagationTimeout {
        record: String,
        servers: String,
        waited_secs: u64,
    },

    #[error("parsing {what}: {reason}")]
    Parse { what: String, reason: String },
}

impl CertError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CertError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn spec(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CertError::Spec {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn parse(what: impl Into<String>, reason: impl ToString) -> Self {
        CertError::Parse {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// The first `max` characters of an HTTP body, on one line, for error messages.
pub(crate) fn excerpt(body: &str, max: usize) -> String {
    let flat: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    match flat.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat.to_string(),
    }
}
