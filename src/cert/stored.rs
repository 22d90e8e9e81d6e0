//! The controller's copy of the last certificate issued for a spec.
//!
//! Kept beside the CA key or the ACME account (one 0600 file in a 0700 directory), it
//! lets a host that needs the certificate get the one its peers already hold, instead of
//! a new one that would differ from theirs. It is reused only while it passes `check`.

use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::cert::bundle::pem_blocks;
use crate::cert::private_file::{ensure_private_dir, write_atomic};
use crate::cert::{check, CertError, CertSpec, HeldCert, IssuedCert, IssuerConfig, KeyEvidence};

/// Where the copy for `spec` lives: `<CA dir or account dir>/issued/<first name>-<id>.pem`.
///
/// The id covers the names, their order (the first is the subject), the key type and the
/// ACME directory, so specs that would get different certificates never share a copy.
pub fn path(spec: &CertSpec) -> PathBuf {
    let (dir, directory) = match &spec.issuer {
        IssuerConfig::LocalCa(ca) => (&ca.dir, ""),
        IssuerConfig::Acme(acme) => (&acme.account_dir, acme.directory.as_str()),
    };
    let mut digest = sha2::Sha256::new();
    digest.update(spec.names.join(",").as_bytes());
    digest.update(format!("|{}|{directory}", spec.key_type).as_bytes());
    let first: String = spec.names[0]
        .chars()
        .map(|c| if c == '*' { '_' } else { c })
        .collect();
    dir.join("issued").join(format!(
        "{first}-{}.pem",
        hex::encode(&digest.finalize()[..6])
    ))
}

/// Keeps `issued` as the copy for `spec`: key, leaf and chain in one file, mode 0600.
pub fn save(spec: &CertSpec, issued: &IssuedCert) -> Result<(), CertError> {
    let path = path(spec);
    ensure_private_dir(path.parent().expect("the copy lives in a directory"))?;
    let mut text = issued.key_pem.trim_end().to_string();
    text.push('\n');
    text.push_str(&issued.fullchain_pem);
    write_atomic(&path, text.as_bytes(), 0o600)
}

/// The copy for `spec` if there is one and it still passes `check` against `root`.
///
/// A copy that cannot be parsed is ignored (the next issuance replaces it); one that
/// cannot be read is an error, since reissuing would hide a permission problem.
pub fn reusable(spec: &CertSpec, root: Option<&str>) -> Result<Option<IssuedCert>, CertError> {
    let path = path(spec);
    let Some(issued) = load(&path, root)? else {
        return Ok(None);
    };
    let held = HeldCert {
        cert_pem: Some(&issued.cert_pem),
        chain_pem: Some(&issued.chain_pem),
        key: Some(KeyEvidence::PrivateKeyPem(&issued.key_pem)),
    };
    let status = check(&held, spec, root);
    if status.is_valid() {
        return Ok(Some(issued));
    }
    let problems: Vec<String> = status.problems().iter().map(|p| p.to_string()).collect();
    tracing::debug!(path = %path.display(), "stored certificate not reused: {}", problems.join("; "));
    Ok(None)
}

fn load(path: &Path, root: Option<&str>) -> Result<Option<IssuedCert>, CertError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CertError::io(path, e)),
    };
    let blocks = pem_blocks(&text);
    let key = blocks.iter().find(|b| b.contains("PRIVATE KEY-----"));
    let certs: Vec<&String> = blocks
        .iter()
        .filter(|b| b.starts_with("-----BEGIN CERTIFICATE-----"))
        .collect();
    let (Some(key), Some((leaf, chain))) = (key, certs.split_first()) else {
        tracing::warn!(path = %path.display(), "stored certificate is incomplete; ignored");
        return Ok(None);
    };
    let chain: String = chain.iter().map(|b| b.as_str()).collect();
    Ok(Some(IssuedCert {
        cert_pem: leaf.to_string(),
        fullchain_pem: format!("{leaf}{chain}"),
        chain_pem: chain,
        key_pem: key.clone(),
        root_pem: root.map(str::to_string),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    fn spec(dir: &Path, names: &[&str], renew: &str) -> CertSpec {
        CertSpec::from_value(&json!({
            "names": names, "issuer": { "local_ca": { "dir": dir } }, "renew_before": renew,
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn kept_private_and_reused_only_while_valid() {
        let tmp = tempfile::tempdir().unwrap();
        let ca = tmp.path().join("ca");
        let spec = spec(&ca, &["a.example.test", "b.example.test"], "30d");
        assert!(reusable(&spec, None).unwrap().is_none());

        let issued = crate::cert::issue(&spec).await.unwrap();
        save(&spec, &issued).unwrap();
        let file = path(&spec);
        assert!(file.starts_with(ca.join("issued")));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);

        let root = crate::cert::trust_root(&spec).unwrap();
        let again = reusable(&spec, root.as_deref()).unwrap().expect("reused");
        assert_eq!(again.cert_pem, issued.cert_pem);
        assert_eq!(again.key_pem.trim(), issued.key_pem.trim());
        assert_eq!(again.fullchain_pem, issued.fullchain_pem);

        // A window longer than the validity left, or other names: not reused.
        let long = self::spec(&ca, &["a.example.test", "b.example.test"], "400d");
        assert_eq!(path(&long), file, "the window is not part of the id");
        assert!(reusable(&long, root.as_deref()).unwrap().is_none());
        let other = self::spec(&ca, &["b.example.test", "a.example.test"], "30d");
        assert_ne!(path(&other), file, "the first name is the subject");
    }
}
