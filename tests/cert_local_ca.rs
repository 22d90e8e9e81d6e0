//! The local CA on the controller, and `check` on what it issues.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use dsprov::cert::{self, CertProblem, CertSpec, HeldCert, KeyEvidence, KeyType, LocalCa};
use serde_json::json;
use sha2::Digest;

fn spec(dir: &Path, names: &[&str]) -> CertSpec {
    CertSpec::from_value(&json!({ "names": names, "issuer": { "local_ca": { "dir": dir } } }))
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

const NAMES: [&str; 3] = ["mail.example.test", "mx1.example.test", "mx2.example.test"];

#[tokio::test]
async fn creates_the_ca_once_and_issues_verifiable_leaves() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = tmp.path().join(".dsprov/ca");
    let spec = spec(&ca_dir, &NAMES);

    // Planning before anything exists creates nothing.
    assert_eq!(cert::trust_root(&spec).unwrap(), None);
    assert!(!ca_dir.exists());

    let issued = cert::issue(&spec).await.unwrap();
    assert_eq!(mode(&ca_dir.join("ca.key")), 0o600);
    assert_eq!(mode(&ca_dir), 0o700);
    let ca_pem = std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap();
    assert_eq!(issued.root_pem.as_deref(), Some(ca_pem.as_str()));
    assert_eq!(
        cert::trust_root(&spec).unwrap().as_deref(),
        Some(ca_pem.as_str())
    );

    // A second issuance reuses the same CA.
    let key_before = std::fs::read(ca_dir.join("ca.key")).unwrap();
    let again = cert::issue(&spec).await.unwrap();
    assert_eq!(std::fs::read(ca_dir.join("ca.key")).unwrap(), key_before);
    assert_eq!(again.root_pem, issued.root_pem);
    assert_ne!(again.cert_pem, issued.cert_pem);

    if let Some(ok) = openssl_verify(tmp.path(), &ca_pem, &issued.cert_pem) {
        assert!(ok, "openssl rejects the leaf");
    }

    let root = cert::trust_root(&spec).unwrap();
    let held = HeldCert {
        cert_pem: Some(&issued.fullchain_pem),
        chain_pem: None,
        key: Some(KeyEvidence::PrivateKeyPem(&issued.key_pem)),
    };
    let status = cert::check(&held, &spec, root.as_deref());
    assert!(status.is_valid(), "{status:?}");
}

#[tokio::test]
async fn check_names_each_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec(&tmp.path().join("ca"), &NAMES);
    let issued = cert::issue(&spec).await.unwrap();
    let other = cert::issue(&spec).await.unwrap();
    let root = cert::trust_root(&spec).unwrap();
    let problems = |held: HeldCert<'_>, spec: &CertSpec| {
        cert::check(&held, spec, root.as_deref())
            .problems()
            .to_vec()
    };
    // Nothing on the host.
    assert_eq!(problems(HeldCert::default(), &spec), [CertProblem::Missing]);

    // Key of another certificate.
    let mismatched = HeldCert {
        cert_pem: Some(&issued.cert_pem),
        chain_pem: None,
        key: Some(KeyEvidence::PrivateKeyPem(&other.key_pem)),
    };
    assert_eq!(problems(mismatched, &spec), [CertProblem::KeyMismatch]);

    // The public half alone is enough to match, as PEM or as a SPKI digest.
    let public_pem = rcgen::KeyPair::from_pem(&issued.key_pem)
        .unwrap()
        .public_key_pem();
    let by_public = HeldCert {
        cert_pem: Some(&issued.cert_pem),
        chain_pem: None,
        key: Some(KeyEvidence::PublicKeyPem(&public_pem)),
    };
    assert!(problems(by_public, &spec).is_empty());
    let spki = x509_parser::pem::parse_x509_pem(public_pem.as_bytes())
        .unwrap()
        .1
        .contents;
    let digest = hex::encode(sha2::Sha256::digest(&spki));
    let by_digest = HeldCert {
        cert_pem: Some(&issued.cert_pem),
        chain_pem: None,
        key: Some(KeyEvidence::SpkiSha256(&digest)),
    };
    assert!(problems(by_digest, &spec).is_empty());

    // A spec that grew a name.
    let mut wider = spec.clone();
    wider.names.push("mx3.example.test".into());
    let good = HeldCert {
        cert_pem: Some(&issued.cert_pem),
        chain_pem: None,
        key: Some(KeyEvidence::PrivateKeyPem(&issued.key_pem)),
    };
    assert_eq!(
        problems(good, &wider),
        [CertProblem::NamesNotCovered {
            missing: vec!["mx3.example.test".into()]
        }]
    );

    // Issued by a different CA than the configured one.
    let stranger_spec = {
        let mut s = spec.clone();
        s.issuer = dsprov::cert::IssuerConfig::LocalCa(dsprov::cert::LocalCaConfig {
            dir: tmp.path().join("other-ca"),
        });
        s
    };
    let stranger = cert::issue(&stranger_spec).await.unwrap();
    let foreign = HeldCert {
        cert_pem: Some(&stranger.cert_pem),
        chain_pem: None,
        key: Some(KeyEvidence::PrivateKeyPem(&stranger.key_pem)),
    };
    let found = problems(foreign, &spec);
    assert!(
        matches!(found.as_slice(), [CertProblem::WrongIssuer { .. }]),
        "{found:?}"
    );

    // Another key type declared.
    let mut rsa = spec.clone();
    rsa.key_type = KeyType::Rsa2048;
    let found = problems(good, &rsa);
    assert!(
        matches!(found.as_slice(), [CertProblem::KeyTypeDiffers { .. }]),
        "{found:?}"
    );

    // Garbage.
    let garbage = HeldCert {
        cert_pem: Some(
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        ),
        ..HeldCert::default()
    };
    let found = problems(garbage, &spec);
    assert!(
        matches!(found.as_slice(), [CertProblem::Unparsable { .. }]),
        "{found:?}"
    );
}

#[tokio::test]
async fn rsa_leaves_from_the_local_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = spec(&tmp.path().join("ca"), &["db.example.test"]);
    spec.key_type = KeyType::Rsa2048;
    let issued = cert::issue(&spec).await.unwrap();
    let held = HeldCert {
        cert_pem: Some(&issued.cert_pem),
        chain_pem: None,
        key: Some(KeyEvidence::PrivateKeyPem(&issued.key_pem)),
    };
    let status = cert::check(&held, &spec, cert::trust_root(&spec).unwrap().as_deref());
    assert!(status.is_valid(), "{status:?}");
}

#[test]
fn half_a_ca_is_an_error_not_a_new_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    LocalCa::open_or_create(&dir).unwrap();
    std::fs::remove_file(dir.join("ca.pem")).unwrap();
    let err = LocalCa::open_or_create(&dir).err().unwrap().to_string();
    assert!(err.contains("ca.pem is missing"), "{err}");
}

fn openssl_verify(dir: &Path, ca: &str, leaf: &str) -> Option<bool> {
    if !Path::new("/usr/bin/openssl").exists() {
        eprintln!("openssl not installed: skipping the independent check");
        return None;
    }
    std::fs::write(dir.join("ca-check.pem"), ca).unwrap();
    std::fs::write(dir.join("leaf-check.pem"), leaf).unwrap();
    let out = std::process::Command::new("/usr/bin/openssl")
        .arg("verify")
        .arg("-purpose")
        .arg("sslserver")
        .arg("-CAfile")
        .arg(dir.join("ca-check.pem"))
        .arg(dir.join("leaf-check.pem"))
        .output()
        .unwrap();
    Some(out.status.success())
}
