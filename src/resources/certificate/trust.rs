//! The issuer's root in the host's trust store, so that hosts verify each other's
//! certificate (doveadm over tcps, MariaDB replication with the system CA bundle).

use crate::cert::{CertSpec, IssuerConfig};
use crate::resources::remote::{quote, write_file_script, Attrs};

/// Where `update-ca-certificates` picks up local roots.
const LOCAL_ROOTS: &str = "/usr/local/share/ca-certificates";
/// Where it links them, as `<name>.pem`, and bundles them into `ca-certificates.crt`.
const SYSTEM_CERTS: &str = "/etc/ssl/certs";

/// One root file in the trust store: `/usr/local/share/ca-certificates/dsprov-<name>.crt`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustEntry {
    name: String,
}

impl TrustEntry {
    /// The entry for `spec`'s issuer: always for a local CA; for ACME only with a
    /// `trust_root_file` (a public CA is in the store already).
    ///
    /// The name is stable per issuer, so a replaced root overwrites the old one rather
    /// than staying trusted beside it.
    pub fn for_spec(spec: &CertSpec) -> Option<TrustEntry> {
        let name = match &spec.issuer {
            IssuerConfig::LocalCa(_) => "local-ca".to_string(),
            IssuerConfig::Acme(acme) => {
                acme.trust_root_file.as_ref()?;
                format!("acme-{}", url_host(&acme.directory))
            }
        };
        Some(TrustEntry {
            name: format!("dsprov-{name}"),
        })
    }

    pub fn path(&self) -> String {
        format!("{LOCAL_ROOTS}/{}.crt", self.name)
    }

    fn link(&self) -> String {
        format!("{SYSTEM_CERTS}/{}.pem", self.name)
    }

    /// Probe lines: `trust=` (base64 of the installed root) and `trust_linked=1` once
    /// `update-ca-certificates` has taken it in.
    pub fn probe(&self) -> String {
        let (path, link) = (quote(&self.path()), quote(&self.link()));
        format!(
            "show trust {path}\n\
             if [ \"$(readlink -f {link} 2>/dev/null)\" = {path} ]; then echo trust_linked=1; fi\n"
        )
    }

    /// Writes `root_pem` (when given) and runs `update-ca-certificates`.
    pub fn install_script(&self, root_pem: Option<&str>) -> String {
        let mut script = String::from(
            "command -v update-ca-certificates >/dev/null 2>&1 || \
             { echo 'update-ca-certificates not found: install the ca-certificates package' >&2; exit 1; }\n",
        );
        if let Some(root) = root_pem {
            script.push_str(&format!("mkdir -p {LOCAL_ROOTS}\n"));
            let attrs = Attrs {
                mode: Some(0o644),
                owner: Some("root".into()),
                group: Some("root".into()),
            };
            script.push_str(&write_file_script(
                &self.path(),
                root.as_bytes(),
                &attrs,
                None,
                false,
            ));
        }
        script.push_str("update-ca-certificates >/dev/null\n");
        script
    }
}

/// The host of a URL, made safe for a file name: `https://127.0.0.1:14000/dir` -> `127.0.0.1`.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_issuer() {
        assert_eq!(url_host("https://127.0.0.1:14000/dir"), "127.0.0.1");
        assert_eq!(
            url_host("https://acme-staging-v02.api.example/directory"),
            "acme-staging-v02.api.example"
        );
        assert_eq!(url_host("https://[::1]:14000/dir"), "__1");
    }
}
