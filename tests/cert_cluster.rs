//! The `certificate` module end to end: one certificate for a two-host cluster, issued
//! once on the controller (ACME through pebble, or the local CA), on both hosts, trusted
//! by both, renewed with the handler fired once per host, the key never in the output.

mod common;
mod support;

use std::time::Instant;

use common::project::{hosts_or_skip, Project, Run};
use common::vps::Vps;
use serde_json::json;
use support::pebble::Pebble;

const TLS: &str = "/etc/dsprov/tls";

const PLAYBOOK: &str = r#"
- hosts: cluster
  tasks:
    - name: key group
      group: {name: mail-tls, system: true}
    - name: tls dir
      file: {path: /etc/dsprov/tls, state: directory, owner: root, group: root, mode: "0755"}
    - name: cluster certificate
      certificate:
        names: "{{ cert_names }}"
        key_type: ecdsa_p256
        issuer: "{{ cert_issuer }}"
        renew_before: "{{ renew_before }}"
        cert:      {path: /etc/dsprov/tls/cert.pem, owner: root, group: root, mode: "0644"}
        chain:     {path: /etc/dsprov/tls/chain.pem, owner: root, group: root, mode: "0644"}
        fullchain: {path: /etc/dsprov/tls/fullchain.pem, owner: root, group: root, mode: "0644"}
        key:       {path: /etc/dsprov/tls/privkey.pem, owner: root, group: mail-tls, mode: "0640"}
      notify: [reload tls]
  handlers:
    - name: reload tls
      shell: echo reloaded >> /root/reloads
"#;

/// Two fresh hosts and a project declaring one certificate for both plus a service name.
fn cluster(names: [(&str, &str); 2], issuer: serde_json::Value) -> (Vec<Vps>, Project) {
    let hosts: Vec<Vps> = names.iter().map(|(n, a)| Vps::up(n, a)).collect();
    for h in &hosts {
        h.reset();
    }
    let cert_names = json!([
        "mail.example.test",
        format!("{}.example.test", names[0].0),
        format!("{}.example.test", names[1].0),
    ]);
    let p = Project::new();
    p.inventory(
        "cluster",
        &hosts.iter().collect::<Vec<_>>(),
        &format!("cert_names: {cert_names}\ncert_issuer: {issuer}\nrenew_before: 30d"),
    )
    .file("site.yml", PLAYBOOK);
    (hosts, p)
}

fn timed(p: &Project, what: &str, args: &[&str]) -> Run {
    let started = Instant::now();
    let run = p.dsprov(args);
    eprintln!("{what}: {:?}", started.elapsed());
    run
}

fn fingerprint(host: &Vps) -> String {
    host.ssh_ok(&format!(
        "openssl x509 -noout -fingerprint -sha256 -in {TLS}/cert.pem"
    ))
}

/// Per host, the status of the certificate task in a `--format json` run.
fn cert_status(run: &Run, host: &str) -> String {
    let doc = run.json();
    let tasks = doc["hosts"][host]["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    tasks
        .iter()
        .find(|t| t["task"] == "cluster certificate")
        .map(|t| t["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no certificate task for {host}:\n{}", run.all()))
}

/// The base64 lines of the key on `host`, each long enough to be unmistakable.
fn key_markers(host: &Vps) -> Vec<String> {
    let pem = host.ssh_ok(&format!("cat {TLS}/privkey.pem"));
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut markers: Vec<String> = body
        .iter()
        .filter(|l| l.len() >= 40)
        .map(|l| l.to_string())
        .collect();
    markers.push(body.concat());
    markers
}

fn assert_no_key(run: &Run, markers: &[String]) {
    let all = run.all();
    for marker in markers {
        assert!(!all.contains(marker.as_str()), "private key in the output");
    }
}

/// Every host holds the same certificate, valid for its own name against the system
/// trust store, with the key readable by the group only. (A local CA has no
/// intermediates: its chain file is empty, which `openssl verify -untrusted` refuses.)
fn assert_same_and_trusted(hosts: &[Vps]) -> String {
    let first = fingerprint(&hosts[0]);
    for h in hosts {
        assert_eq!(
            fingerprint(h),
            first,
            "{} holds another certificate",
            h.name
        );
        let verify = h.ssh_ok(&format!(
            "openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt \
             $([ -s {TLS}/chain.pem ] && echo -untrusted {TLS}/chain.pem) \
             -verify_hostname {}.example.test {TLS}/cert.pem",
            h.name
        ));
        assert!(verify.trim_end().ends_with(": OK"), "{verify}");
        assert_eq!(
            h.ssh_ok(&format!(
                "stat -c '%a %U %G' {TLS}/privkey.pem {TLS}/cert.pem"
            )),
            "640 root mail-tls\n644 root root\n"
        );
        let sans = h.ssh_ok(&format!(
            "openssl x509 -noout -ext subjectAltName -in {TLS}/cert.pem"
        ));
        for host in hosts {
            assert!(
                sans.contains(&format!("DNS:{}.example.test", host.name)),
                "{sans}"
            );
        }
        assert!(sans.contains("DNS:mail.example.test"), "{sans}");
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_certificate_lands_on_both_hosts_and_renews_once() {
    if !hosts_or_skip() {
        return;
    }
    let Some(pebble) = Pebble::with_challtestsrv().await else {
        return;
    };
    let srv = pebble.challtestsrv.as_ref().unwrap();
    let issuer = pebble.acme_issuer(
        json!({ "provider": "challtestsrv", "management_url": srv.management_url }),
        srv.dns,
    );
    let (hosts, p) = cluster([("cert1", "127.0.0.41"), ("cert2", "127.0.0.42")], issuer);

    timed(&p, "first apply (ACME issuance)", &["apply", "site.yml"]).assert_code(0);
    let first = assert_same_and_trusted(&hosts);
    for h in &hosts {
        assert_eq!(h.ssh_ok("cat /root/reloads"), "reloaded\n");
        let link = h.ssh_ok("readlink -f /etc/ssl/certs/dsprov-acme-127.0.0.1.pem");
        assert_eq!(
            link,
            "/usr/local/share/ca-certificates/dsprov-acme-127.0.0.1.crt\n"
        );
    }
    let stored: Vec<_> = std::fs::read_dir(pebble.dir.path().join("account/issued"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap())
        .collect();
    assert_eq!(stored.len(), 1, "one stored copy for the one spec");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&stored[0].permissions()) & 0o777,
        0o600
    );

    let again = timed(
        &p,
        "converged apply",
        &["apply", "site.yml", "--format", "json"],
    );
    again.assert_code(0);
    assert_eq!(again.json()["changed"], 0, "{}", again.all());
    timed(&p, "converged plan", &["plan", "site.yml"]).assert_code(0);

    // A window longer than pebble's five years: plan says why, apply re-issues once.
    let markers = key_markers(&hosts[0]);
    let plan = p.dsprov(&["plan", "site.yml", "-e", "renew_before=2000d"]);
    plan.assert_code(2);
    assert!(
        plan.stdout
            .contains("inside the 2000-day renewal window -> new from ACME at https://127.0.0.1:"),
        "{}",
        plan.all()
    );
    for h in &hosts {
        h.ssh_ok("rm -f /root/reloads");
    }
    let renew = timed(
        &p,
        "renewal apply",
        &[
            "apply",
            "site.yml",
            "-e",
            "renew_before=2000d",
            "--diff",
            "-vvv",
            "--format",
            "json",
        ],
    );
    renew.assert_code(0);
    assert_no_key(&renew, &markers);
    let renewed = assert_same_and_trusted(&hosts);
    assert_ne!(renewed, first, "renewal issued a new certificate");
    assert_no_key(&renew, &key_markers(&hosts[0]));
    for h in &hosts {
        assert_eq!(cert_status(&renew, &h.name), "changed");
        assert_eq!(h.ssh_ok("cat /root/reloads"), "reloaded\n", "{}", h.name);
    }

    // One host loses its files: it gets the cluster's certificate, not a new one.
    hosts[1].ssh_ok(&format!("rm -f {TLS}/*.pem"));
    let heal = timed(
        &p,
        "one host healed",
        &["apply", "site.yml", "--format", "json"],
    );
    heal.assert_code(0);
    assert_eq!(cert_status(&heal, "cert1"), "ok");
    assert_eq!(cert_status(&heal, "cert2"), "changed");
    assert_eq!(assert_same_and_trusted(&hosts), renewed);

    let last = p.dsprov(&["apply", "site.yml", "--format", "json"]);
    assert_eq!(last.json()["changed"], 0, "{}", last.all());
    for h in &hosts {
        h.down();
    }
}

#[test]
fn local_ca_is_trusted_by_both_hosts() {
    if !hosts_or_skip() {
        return;
    }
    let issuer = json!({ "local_ca": { "dir": ".dsprov/ca" } });
    let (hosts, p) = cluster([("cert3", "127.0.0.43"), ("cert4", "127.0.0.44")], issuer);

    let plan = p.dsprov(&["plan", "site.yml"]);
    plan.assert_code(2);
    assert!(
        plan.stdout
            .contains("cert.pem: certificate - -> new from the local CA"),
        "{}",
        plan.all()
    );
    assert!(!p.join(".dsprov").exists(), "plan created the CA");

    let first = timed(
        &p,
        "first apply (local CA)",
        &["apply", "site.yml", "--diff", "-vvv"],
    );
    first.assert_code(0);
    assert_no_key(&first, &key_markers(&hosts[0]));
    assert_same_and_trusted(&hosts);
    let ca_key = std::fs::metadata(p.join(".dsprov/ca/ca.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&ca_key.permissions()) & 0o777,
        0o600
    );

    // The peers verify each other over TLS with the system bundle.
    hosts[0].ssh_ok(&format!(
        "setsid timeout 30 openssl s_server -quiet -accept 127.0.0.43:8443 -naccept 1 \
         -cert {TLS}/fullchain.pem -key {TLS}/privkey.pem </dev/null >/dev/null 2>&1 &"
    ));
    let client = hosts[1].ssh_ok(
        "for i in $(seq 50); do \
           if echo | openssl s_client -connect 127.0.0.43:8443 -verify_return_error \
              -verify_hostname cert3.example.test -CAfile /etc/ssl/certs/ca-certificates.crt \
              >/tmp/s_client.out 2>&1; then break; fi; sleep 0.2; done; \
         grep -E 'Verify return code' /tmp/s_client.out",
    );
    assert!(client.contains("Verify return code: 0 (ok)"), "{client}");

    let again = timed(
        &p,
        "converged apply",
        &["apply", "site.yml", "--format", "json"],
    );
    again.assert_code(0);
    assert_eq!(again.json()["changed"], 0, "{}", again.all());
    p.dsprov(&["plan", "site.yml"]).assert_code(0);
    for h in &hosts {
        h.down();
    }
}
