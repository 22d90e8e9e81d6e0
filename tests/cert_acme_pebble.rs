//! ACME DNS-01 against a real pebble, with challtestsrv as the DNS provider.

mod support;

use std::time::Instant;

use dsprov::cert::{self, CertProblem, CertSpec, CertStatus, HeldCert, KeyEvidence};
use serde_json::json;
use support::pebble::Pebble;

const NAMES: [&str; 3] = ["mail.example.test", "mx1.example.test", "mx2.example.test"];

fn spec(pebble: &Pebble, extra: serde_json::Value) -> CertSpec {
    let srv = pebble.challtestsrv.as_ref().unwrap();
    let mut value = json!({
        "names": NAMES,
        "issuer": pebble.acme_issuer(
            json!({ "provider": "challtestsrv", "management_url": srv.management_url }),
            srv.dns,
        ),
    });
    for (k, v) in extra.as_object().unwrap() {
        value[k] = v.clone();
    }
    CertSpec::from_value(&value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_one_certificate_for_three_names() {
    let Some(pebble) = Pebble::with_challtestsrv().await else {
        return;
    };
    let spec = spec(&pebble, json!({}));

    let started = Instant::now();
    let issued = cert::issue(&spec).await.expect("issue via pebble");
    eprintln!(
        "ACME issuance (new account, 3 names, ECDSA): {:?}",
        started.elapsed()
    );

    assert_eq!(
        issued.root_pem.as_deref(),
        Some(pebble.issuing_root_pem.as_str())
    );
    assert!(!issued.chain_pem.is_empty(), "pebble sends an intermediate");
    assert!(!format!("{issued:?}").contains(&issued.key_pem));
    let independent = support::openssl_verify(
        pebble.dir.path(),
        &pebble.issuing_root_pem,
        &issued.chain_pem,
        &issued.cert_pem,
    );
    assert_ne!(
        independent,
        Some(false),
        "openssl does not accept the chain"
    );

    let held = HeldCert {
        cert_pem: Some(&issued.cert_pem),
        chain_pem: Some(&issued.chain_pem),
        key: Some(KeyEvidence::PrivateKeyPem(&issued.key_pem)),
    };
    let root = cert::trust_root(&spec).unwrap();
    let status = cert::check(&held, &spec, root.as_deref());
    assert!(status.is_valid(), "{status:?}");

    // The fullchain alone is just as good as cert + chain.
    let fullchain = HeldCert {
        cert_pem: Some(&issued.fullchain_pem),
        chain_pem: None,
        key: held.key,
    };
    assert!(cert::check(&fullchain, &spec, root.as_deref()).is_valid());

    // pebble certificates live five years: a six-year window means renew now.
    let long_window = spec_with_window(&spec, "6y");
    match cert::check(&held, &long_window, root.as_deref()) {
        CertStatus::NeedsIssue(problems) => assert!(
            matches!(
                problems.as_slice(),
                [CertProblem::ExpiresWithin {
                    window_days: 2190,
                    ..
                }]
            ),
            "{problems:?}"
        ),
        valid => panic!("expected ExpiresWithin, got {valid:?}"),
    }

    // The challenge records are gone.
    let dns = pebble.challtestsrv.as_ref().unwrap().dns;
    for name in NAMES {
        let record = format!("_acme-challenge.{name}.");
        assert!(
            support::txt_at(dns, &record).is_empty(),
            "{record} left behind"
        );
    }

    // Second issuance reuses the stored account, this time with an RSA key.
    let account_files: Vec<_> = std::fs::read_dir(pebble.dir.path().join("account"))
        .unwrap()
        .collect();
    assert_eq!(account_files.len(), 1);
    let meta = account_files[0].as_ref().unwrap().metadata().unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );

    let rsa = spec_with_key(&spec, "rsa2048");
    let started = Instant::now();
    let issued_rsa = cert::issue(&rsa).await.expect("second issuance");
    eprintln!(
        "ACME issuance (stored account, RSA 2048): {:?}",
        started.elapsed()
    );
    let held_rsa = HeldCert {
        cert_pem: Some(&issued_rsa.fullchain_pem),
        chain_pem: None,
        key: Some(KeyEvidence::PrivateKeyPem(&issued_rsa.key_pem)),
    };
    assert!(cert::check(&held_rsa, &rsa, root.as_deref()).is_valid());
    // The ECDSA spec sees the RSA certificate as the wrong key type.
    let problems = cert::check(&held_rsa, &spec, root.as_deref());
    assert!(
        problems
            .problems()
            .iter()
            .any(|p| matches!(p, CertProblem::KeyTypeDiffers { .. })),
        "{problems:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propagation_timeout_names_the_record_and_cleans_up() {
    let Some(pebble) = Pebble::with_challtestsrv().await else {
        return;
    };
    let srv = pebble.challtestsrv.as_ref().unwrap();
    // Watch a server where nothing listens: the record never becomes visible there.
    let nowhere = format!("127.0.0.1:{}", support::free_port());
    let mut issuer = pebble.acme_issuer(
        json!({ "provider": "challtestsrv", "management_url": srv.management_url }),
        srv.dns,
    );
    issuer["acme"]["propagation"] = json!({ "nameservers": [nowhere], "timeout": "2s" });
    let spec =
        CertSpec::from_value(&json!({ "names": ["late.example.test"], "issuer": issuer })).unwrap();

    let err = cert::issue(&spec).await.unwrap_err().to_string();
    assert!(
        err.contains("_acme-challenge.late.example.test") && err.contains("propagation timeout"),
        "{err}"
    );
    assert!(support::txt_at(srv.dns, "_acme-challenge.late.example.test.").is_empty());
}

fn spec_with_window(spec: &CertSpec, window: &str) -> CertSpec {
    let mut spec = spec.clone();
    spec.renew_before = cert::spec::parse_duration(window).unwrap();
    spec
}

fn spec_with_key(spec: &CertSpec, key: &str) -> CertSpec {
    let mut spec = spec.clone();
    spec.key_type = serde_json::from_value(json!(key)).unwrap();
    spec
}
