//! The entry points: issue a certificate for a spec, and know which root it chains to.

use crate::cert::{acme, stored, CertError, CertSpec, IssuedCert, IssuerConfig, LocalCa};

/// Issues a new certificate and key for `spec` from its configured issuer.
pub async fn issue(spec: &CertSpec) -> Result<IssuedCert, CertError> {
    match &spec.issuer {
        IssuerConfig::LocalCa(ca) => {
            let ca = LocalCa::open_or_create(&ca.dir)?;
            ca.issue(&spec.names, spec.key_type)
        }
        IssuerConfig::Acme(config) => acme::issue(spec, config).await,
    }
}

/// The certificate every host of `spec` should hold: the controller's stored copy while
/// it still passes `check`, else a new one, which then becomes the stored copy.
///
/// The second value says whether the certificate was issued just now.
pub async fn obtain(spec: &CertSpec) -> Result<(IssuedCert, bool), CertError> {
    let root = trust_root(spec)?;
    if let Some(kept) = stored::reusable(spec, root.as_deref())? {
        tracing::debug!(names = %spec.names.join(","), "reusing the stored certificate");
        return Ok((kept, false));
    }
    let issued = issue(spec).await?;
    stored::save(spec, &issued)?;
    tracing::info!(names = %spec.names.join(","), "issued a new certificate");
    Ok((issued, true))
}

/// The root certificate (PEM) that certificates of `spec`'s issuer chain to, for
/// `inspect::check` and for hosts' trust stores. Reads only; creates no CA.
///
/// `None`: a local CA that does not exist yet, or an ACME issuer without `trust_root_file`.
pub fn trust_root(spec: &CertSpec) -> Result<Option<String>, CertError> {
    match &spec.issuer {
        IssuerConfig::LocalCa(ca) => LocalCa::existing_cert(&ca.dir),
        IssuerConfig::Acme(config) => match &config.trust_root_file {
            Some(path) => std::fs::read_to_string(path)
                .map(Some)
                .map_err(|e| CertError::io(path, e)),
            None => Ok(None),
        },
    }
}
