//! The rfc2136 provider against a real BIND 9, and a full ACME issuance through it.

mod support;

use std::time::Instant;

use dsprov::cert::dns::{self, DnsProviderConfig};
use dsprov::cert::{self, CertSpec, HeldCert, KeyEvidence};
use serde_json::json;
use support::bind::Bind;
use support::pebble::Pebble;

fn provider(config: serde_json::Value) -> Box<dyn dns::DnsProvider> {
    let config: DnsProviderConfig = serde_json::from_value(config).unwrap();
    dns::provider(&config).unwrap()
}

#[tokio::test]
async fn sets_and_clears_txt_with_tsig() {
    let Some(bind) = Bind::start() else {
        return;
    };
    let dns = provider(bind.dns_config());
    let record = "_acme-challenge.mx1.example.test";

    let first = dns.set_txt(record, "value-one").await.expect("TSIG update");
    let second = dns.set_txt(record, "value-two").await.unwrap();
    let mut seen = support::txt_at(bind.addr, &format!("{record}."));
    seen.sort();
    assert_eq!(seen, ["value-one", "value-two"]);

    // Clearing removes exactly that record.
    dns.clear_txt(&first).await.unwrap();
    assert_eq!(
        support::txt_at(bind.addr, &format!("{record}.")),
        ["value-two"]
    );
    dns.clear_txt(&second).await.unwrap();
    assert!(support::txt_at(bind.addr, &format!("{record}.")).is_empty());
}

#[tokio::test]
async fn wrong_secret_is_refused_without_leaking_it() {
    let Some(bind) = Bind::start() else {
        return;
    };
    let mut config = bind.dns_config();
    let wrong = "c2VjcmV0LXRoYXQtaXMtd3JvbmctYW5kLWxvbmctZW5vdWdoCg==";
    config["key_secret"] = json!(wrong);
    let err = provider(config)
        .set_txt("_acme-challenge.mail.example.test", "v")
        .await
        .unwrap_err()
        .to_string();
    eprintln!("wrong secret: {err}");
    assert!(
        err.contains("NOTAUTH") || err.contains("Not Authorized") || err.contains("TSIG"),
        "{err}"
    );
    assert!(
        !err.contains(wrong) && !err.contains(&bind.key_secret),
        "{err}"
    );

    // A name outside the zone gets a clear error, not a hang.
    let err = provider(bind.dns_config())
        .set_txt("_acme-challenge.elsewhere.invalid", "v")
        .await
        .unwrap_err()
        .to_string();
    eprintln!("outside the zone: {err}");
    assert!(err.contains("elsewhere.invalid"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_issuance_through_bind() {
    let Some(bind) = Bind::start() else {
        return;
    };
    if !support::have(support::pebble::PEBBLE) {
        return;
    }
    // pebble resolves _acme-challenge through this BIND.
    let pebble = Pebble::start(bind.addr).await;
    let spec = CertSpec::from_value(&json!({
        "names": ["mail.example.test", "mx1.example.test", "mx2.example.test"],
        "issuer": pebble.acme_issuer(bind.dns_config(), bind.addr),
    }))
    .unwrap();

    let started = Instant::now();
    let issued = cert::issue(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bind.log()));
    eprintln!(
        "ACME issuance through BIND (3 names): {:?}",
        started.elapsed()
    );

    let held = HeldCert {
        cert_pem: Some(&issued.cert_pem),
        chain_pem: Some(&issued.chain_pem),
        key: Some(KeyEvidence::PrivateKeyPem(&issued.key_pem)),
    };
    let root = cert::trust_root(&spec).unwrap();
    let status = cert::check(&held, &spec, root.as_deref());
    assert!(status.is_valid(), "{status:?}");
    for name in ["mail", "mx1", "mx2"] {
        let record = format!("_acme-challenge.{name}.example.test.");
        assert!(
            support::txt_at(bind.addr, &record).is_empty(),
            "{record} left behind"
        );
    }
}
