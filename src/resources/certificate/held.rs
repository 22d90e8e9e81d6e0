//! What a host holds: the probe that reads the certificate's files, and its parsed output.

use base64::Engine as _;

use super::files::{CertFiles, Part};
use super::trust::TrustEntry;
use crate::cert::{HeldCert, KeyEvidence};
use crate::resources::remote::{quote, PathState};
use crate::resources::Probe;

/// The probe: each file's content (`cert=`, `chain=`, `fullchain=`, base64) and
/// attributes (`cert_stat=644 root root`); of the key only the public half when the host
/// has openssl (`keypub=`), else the key itself (`key=`); then the trust store entry.
pub fn probe(files: &CertFiles, trust: Option<&TrustEntry>) -> String {
    let mut script = String::from(
        "show() { if [ -r \"$2\" ]; then printf '%s=' \"$1\"; base64 -w0 < \"$2\"; echo; fi; }\n\
         attrs() { if [ -e \"$2\" ]; then printf '%s_stat=' \"$1\"; stat -c '%a %U %G' \"$2\"; fi; }\n",
    );
    for file in files.iter() {
        let (name, path) = (file.part.name(), quote(&file.path));
        script.push_str(&format!("attrs {name} {path}\n"));
        if file.part != Part::Key {
            script.push_str(&format!("show {name} {path}\n"));
            continue;
        }
        script.push_str(&format!(
            "if [ -r {path} ]; then\n\
               if command -v openssl >/dev/null 2>&1; then\n\
                 printf 'keypub='; openssl pkey -in {path} -pubout 2>/dev/null | base64 -w0; echo\n\
               else show key {path}; fi\n\
             fi\n"
        ));
    }
    if let Some(trust) = trust {
        script.push_str(&trust.probe());
    }
    script
}

/// The probe's output, decoded. `Debug` is not derived: it may hold the private key.
pub struct Held {
    pub cert: Option<String>,
    pub chain: Option<String>,
    pub fullchain: Option<String>,
    key_public: Option<String>,
    key_private: Option<String>,
    /// Attributes of the declared files that exist, by part.
    stats: Vec<(Part, PathState)>,
    pub trust: Option<String>,
    pub trust_linked: bool,
}

impl Held {
    pub fn parse(observed: &Probe) -> Held {
        let decoded = |field: &str| {
            let raw = observed.field(field)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw.trim())
                .ok()?;
            String::from_utf8(bytes).ok()
        };
        let stats = [Part::Cert, Part::Chain, Part::Fullchain, Part::Key]
            .into_iter()
            .filter_map(|part| {
                let line = observed.field(&format!("{}_stat", part.name()))?;
                let mut words = line.split_whitespace();
                let state = PathState {
                    kind: "file".into(),
                    mode: words.next().and_then(|m| u32::from_str_radix(m, 8).ok()),
                    owner: words.next().map(str::to_string),
                    group: words.next().map(str::to_string),
                    ..PathState::default()
                };
                Some((part, state))
            })
            .collect();
        Held {
            cert: decoded("cert"),
            chain: decoded("chain"),
            fullchain: decoded("fullchain"),
            key_public: decoded("keypub").filter(|k| !k.trim().is_empty()),
            key_private: decoded("key"),
            stats,
            trust: decoded("trust"),
            trust_linked: observed.field("trust_linked").is_some(),
        }
    }

    /// What `cert::check` needs: the certificate, its chain, and evidence of the key.
    pub fn as_held_cert(&self) -> HeldCert<'_> {
        let key = match (&self.key_public, &self.key_private) {
            (Some(public), _) => Some(KeyEvidence::PublicKeyPem(public)),
            (None, Some(private)) => Some(KeyEvidence::PrivateKeyPem(private)),
            (None, None) => None,
        };
        HeldCert {
            cert_pem: self.cert.as_deref(),
            chain_pem: self.chain.as_deref(),
            key,
        }
    }

    pub fn stat(&self, part: Part) -> Option<&PathState> {
        self.stats.iter().find(|(p, _)| *p == part).map(|(_, s)| s)
    }
}
