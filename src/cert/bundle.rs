//! What issuing produces: the certificate, its chain, the key, and the root to trust.

use std::fmt;

/// A freshly issued certificate, ready to be written to hosts.
///
/// `Debug` never shows `key_pem`.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The leaf certificate alone.
    pub cert_pem: String,
    /// The intermediates, leaf excluded (may be empty for a local CA).
    pub chain_pem: String,
    /// Leaf followed by the chain: what servers usually want.
    pub fullchain_pem: String,
    /// PKCS#8 private key of the leaf.
    pub key_pem: String,
    /// The root hosts should install into their trust store: the local CA's certificate,
    /// or the ACME issuer's `trust_root_file` when one is configured.
    pub root_pem: Option<String>,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert_pem", &self.cert_pem)
            .field("chain_pem", &self.chain_pem)
            .field(
                "fullchain_pem",
                &format_args!("<{} bytes>", self.fullchain_pem.len()),
            )
            .field("key_pem", &format_args!("<redacted>"))
            .field("root_pem", &self.root_pem)
            .finish()
    }
}

/// Whether two PEM texts hold the same certificates in the same order, whatever their
/// line endings or the text around the blocks.
pub fn same_certificates(a: &str, b: &str) -> bool {
    pem_blocks(a) == pem_blocks(b)
}

/// Splits concatenated PEM blocks, keeping each block's own text.
pub(crate) fn pem_blocks(pem: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in pem.lines() {
        if line.starts_with("-----BEGIN ") {
            current.clear();
        }
        current.push_str(line.trim_end());
        current.push('\n');
        if line.starts_with("-----END ") {
            blocks.push(std::mem::take(&mut current));
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_key() {
        let issued = IssuedCert {
            cert_pem: "CERT".into(),
            chain_pem: String::new(),
            fullchain_pem: "CERT".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----\nSECRET\n".into(),
            root_pem: None,
        };
        let shown = format!("{issued:?}");
        assert!(
            !shown.contains("SECRET") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn splits_pem() {
        let pem = "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n\n-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n";
        let blocks = pem_blocks(pem);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[1].contains("\nB\n"));
    }
}
