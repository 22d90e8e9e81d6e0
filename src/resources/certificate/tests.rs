//! The module's decisions on hand-made probe output, with a real local CA.

use base64::Engine as _;
use serde_json::json;

use super::*;

fn resource(dir: &std::path::Path, renew: &str) -> Certificate {
    let values = json!({
        "names": ["mail.example.test", "mx1.example.test"],
        "key_type": "ecdsa_p256",
        "issuer": { "local_ca": { "dir": ".dsprov/ca" } },
        "renew_before": renew,
        "cert": { "path": "/etc/tls/cert.pem", "owner": "root", "group": "root", "mode": "0644" },
        "chain": "/etc/tls/chain.pem",
        "fullchain": { "path": "/etc/tls/fullchain.pem", "mode": "0644" },
        "key": { "path": "/etc/tls/privkey.pem", "owner": "root", "group": "mail-tls", "mode": "0640" },
    });
    let mut args = Args::new("certificate", values.as_object().unwrap().clone());
    let render = |_: &std::path::Path| Ok(String::new());
    let ctx = BuildCtx {
        host: "mx1",
        file_dirs: &[],
        template_dirs: &[],
        inventory_dir: dir,
        render_file: &render,
    };
    let resource = Certificate::from_args(&mut args, &ctx).unwrap();
    args.finish().unwrap();
    resource
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// What the probe prints for a host holding `issued` as written by `apply`.
fn holding(issued: &IssuedCert, root: &str) -> String {
    format!(
        "key_stat=640 root mail-tls\nkey={}\ncert_stat=644 root root\ncert={}\n\
         chain_stat=644 root root\nchain={}\nfullchain_stat=644 root root\nfullchain={}\n\
         trust={}\ntrust_linked=1\n",
        b64(&issued.key_pem),
        b64(&issued.cert_pem),
        b64(&issued.chain_pem),
        b64(&issued.fullchain_pem),
        b64(root),
    )
}

fn probe(stdout: String) -> Probe {
    Probe { status: 0, stdout }
}

#[tokio::test]
async fn missing_then_converged_then_drift() {
    let tmp = tempfile::tempdir().unwrap();
    let res = resource(tmp.path(), "30d");
    assert!(
        res.spec.issuer
            == cert::IssuerConfig::LocalCa(cert::LocalCaConfig {
                dir: tmp.path().join(".dsprov/ca")
            }),
        "relative to the inventory"
    );
    assert!(res.probe().contains("openssl pkey"));

    let changes = res.diff(&Probe::default()).unwrap();
    let shown: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with("/etc/tls/cert.pem: certificate - -> new from the local CA in "),
        "{shown:?}"
    );
    assert!(
        shown[1].contains("/usr/local/share/ca-certificates/dsprov-local-ca.crt"),
        "{shown:?}"
    );

    let run = RunCertificates::default();
    let issued = run.obtain_once(&res.spec).await.unwrap();
    let again = run.obtain_once(&res.spec).await.unwrap();
    assert_eq!(issued.cert_pem, again.cert_pem, "obtained once per run");
    let root = cert::trust_root(&res.spec).unwrap().unwrap();

    let converged = holding(&issued, &root);
    assert_eq!(res.diff(&probe(converged.clone())).unwrap(), vec![]);

    // Only an attribute drifted: fixed in place, nothing issued.
    let drifted = converged.replace("key_stat=640 root mail-tls", "key_stat=644 root root");
    let shown: Vec<String> = res
        .diff(&probe(drifted))
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        shown,
        [
            "/etc/tls/privkey.pem: mode 0644 -> 0640",
            "/etc/tls/privkey.pem: group root -> mail-tls"
        ]
    );

    // The root is installed but update-ca-certificates did not run.
    let unlinked = converged.replace("trust_linked=1\n", "");
    let changes = res.diff(&probe(unlinked)).unwrap();
    assert!(
        matches!(&changes[..], [Change::Run { what }] if what.starts_with("update-ca-certificates")),
        "{changes:?}"
    );
}

#[tokio::test]
async fn a_host_with_another_valid_certificate_gets_the_stored_one() {
    let tmp = tempfile::tempdir().unwrap();
    let res = resource(tmp.path(), "30d");
    let mine = cert::issue(&res.spec).await.unwrap();
    let (cluster, fresh) = cert::obtain(&res.spec).await.unwrap();
    assert!(fresh, "nothing stored yet");
    let root = cert::trust_root(&res.spec).unwrap().unwrap();

    let changes = res.diff(&probe(holding(&mine, &root))).unwrap();
    let shown = changes[0].to_string();
    assert!(
        shown.contains("not the certificate the other hosts get -> the cluster's (serial "),
        "{shown}"
    );
    assert!(!format!("{changes:?}").contains(cluster.key_pem.trim()));
    assert_eq!(res.diff(&probe(holding(&cluster, &root))).unwrap(), vec![]);

    // A window longer than the validity: the stored copy is not good either.
    let renew = resource(tmp.path(), "400d");
    let shown = renew.diff(&probe(holding(&cluster, &root))).unwrap()[0].to_string();
    assert!(
        shown.contains("inside the 400-day renewal window -> new from the local CA"),
        "{shown}"
    );
}

#[test]
fn the_roles_shape_is_accepted_and_trust_can_be_off() {
    let tmp = tempfile::tempdir().unwrap();
    let values = json!({
        "names": ["a.example.test"],
        "issuer": { "local_ca": { "dir": "ca" } },
        "cert": "/c.pem", "key": "/k.pem", "trust_store": false,
    });
    let mut args = Args::new("certificate", values.as_object().unwrap().clone());
    let render = |_: &std::path::Path| Ok(String::new());
    let ctx = BuildCtx {
        host: "h",
        file_dirs: &[],
        template_dirs: &[],
        inventory_dir: tmp.path(),
        render_file: &render,
    };
    let res = Certificate::from_args(&mut args, &ctx).unwrap();
    args.finish().unwrap();
    assert!(res.trust.is_none());
    assert!(!res.probe().contains("ca-certificates"));
}
