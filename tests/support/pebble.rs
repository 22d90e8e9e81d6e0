//! pebble and pebble-challtestsrv (Debian's 2.4.0) on loopback, with their own TLS cert.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use serde_json::json;

use super::{free_port, have, wait_tcp, ChildGuard};

pub const PEBBLE: &str = "/usr/bin/pebble";
pub const CHALLTESTSRV: &str = "/usr/bin/pebble-challtestsrv";

pub struct Pebble {
    pub dir: tempfile::TempDir,
    /// The ACME directory URL.
    pub directory: String,
    /// The CA of pebble's own TLS listener (for `root_ca_file`).
    pub tls_root_file: PathBuf,
    /// pebble's issuing root, fetched after start (for `trust_root_file`).
    pub issuing_root_file: PathBuf,
    pub issuing_root_pem: String,
    /// Set when pebble resolves through our own challtestsrv.
    pub challtestsrv: Option<Challtestsrv>,
    _pebble: ChildGuard,
}

pub struct Challtestsrv {
    pub management_url: String,
    pub dns: SocketAddr,
    _child: ChildGuard,
}

impl Pebble {
    /// pebble resolving through a fresh challtestsrv; `None` when skipping.
    pub async fn with_challtestsrv() -> Option<Pebble> {
        if !have(PEBBLE) || !have(CHALLTESTSRV) {
            return None;
        }
        let dns_port = free_port();
        let mgmt_port = free_port();
        let child = Command::new(CHALLTESTSRV)
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-management", &format!("127.0.0.1:{mgmt_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble-challtestsrv");
        let mut guard = ChildGuard {
            name: "pebble-challtestsrv",
            child,
        };
        wait_tcp(([127, 0, 0, 1], mgmt_port).into(), &mut guard);
        let dns: SocketAddr = ([127, 0, 0, 1], dns_port).into();
        let mut pebble = Self::start(dns).await;
        pebble.challtestsrv = Some(Challtestsrv {
            management_url: format!("http://127.0.0.1:{mgmt_port}"),
            dns,
            _child: guard,
        });
        Some(pebble)
    }

    /// pebble resolving DNS-01 through `dns_server`.
    pub async fn start(dns_server: SocketAddr) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let acme_port = free_port();
        let mgmt_port = free_port();

        // Debian ships no certificate for pebble's listener: make a CA and a leaf.
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        leaf_params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let issuer = Issuer::new(ca_params, &ca_key);
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let tls_root_file = dir.path().join("tls-ca.pem");
        std::fs::write(&tls_root_file, ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();
        let config = json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": 5002,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_file = dir.path().join("pebble.json");
        std::fs::write(&config_file, config.to_string()).unwrap();

        let log = std::fs::File::create(dir.path().join("pebble.log")).unwrap();
        let child = Command::new(PEBBLE)
            .arg("-config")
            .arg(&config_file)
            .args(["-dnsserver", &dns_server.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start pebble");
        let mut guard = ChildGuard {
            name: "pebble",
            child,
        };
        wait_tcp(([127, 0, 0, 1], acme_port).into(), &mut guard);
        wait_tcp(([127, 0, 0, 1], mgmt_port).into(), &mut guard);

        // The issuing root is new at every start.
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_cert.pem().as_bytes()).unwrap())
            .build()
            .unwrap();
        let issuing_root_pem = http
            .get(format!("https://127.0.0.1:{mgmt_port}/roots/0"))
            .send()
            .await
            .expect("fetch pebble's root")
            .text()
            .await
            .unwrap();
        assert!(
            issuing_root_pem.contains("BEGIN CERTIFICATE"),
            "{issuing_root_pem}"
        );
        let issuing_root_file = dir.path().join("issuing-root.pem");
        std::fs::write(&issuing_root_file, &issuing_root_pem).unwrap();

        Pebble {
            directory: format!("https://127.0.0.1:{acme_port}/dir"),
            tls_root_file,
            issuing_root_file,
            issuing_root_pem,
            challtestsrv: None,
            dir,
            _pebble: guard,
        }
    }

    /// The `acme:` issuer block for this pebble, with `dns` and the servers to watch.
    pub fn acme_issuer(&self, dns: serde_json::Value, nameserver: SocketAddr) -> serde_json::Value {
        json!({ "acme": {
            "directory": self.directory,
            "email": "admin@example.test",
            "account_dir": self.dir.path().join("account"),
            "root_ca_file": self.tls_root_file,
            "trust_root_file": self.issuing_root_file,
            "dns": dns,
            "propagation": { "nameservers": [nameserver.to_string()], "timeout": "30s" },
        }})
    }
}
