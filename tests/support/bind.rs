//! BIND 9 on loopback: one primary zone, updatable with a fresh TSIG key.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, have, try_txt_at, ChildGuard};

pub const NAMED: &str = "/usr/sbin/named";
pub const TSIG_KEYGEN: &str = "/usr/sbin/tsig-keygen";
pub const ZONE: &str = "example.test";
pub const KEY_NAME: &str = "dsprov-test";

pub struct Bind {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub key_secret: String,
    _named: ChildGuard,
}

impl Bind {
    /// `None` when skipping (BIND not installed and not root).
    pub fn start() -> Option<Bind> {
        if !have(NAMED) || !have(TSIG_KEYGEN) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let port = free_port();

        let key = Command::new(TSIG_KEYGEN)
            .args(["-a", "hmac-sha256", KEY_NAME])
            .output()
            .expect("run tsig-keygen");
        let key_text = String::from_utf8(key.stdout).unwrap();
        let key_secret = key_text
            .split("secret \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("secret in tsig-keygen output")
            .to_string();
        std::fs::write(dir.path().join("tsig.key"), &key_text).unwrap();

        let zone = format!(
            "$TTL 60\n\
             @ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n\
             @ IN NS ns1.{ZONE}.\n\
             ns1 IN A 127.0.0.1\n\
             mail IN A 127.0.0.1\n\
             mx1 IN A 127.0.0.1\n\
             mx2 IN A 127.0.0.1\n"
        );
        std::fs::write(dir.path().join("zone.db"), zone).unwrap();
        let conf = format!(
            "options {{\n\
               directory \"{d}\";\n\
               pid-file \"{d}/named.pid\";\n\
               session-keyfile \"{d}/session.key\";\n\
               managed-keys-directory \"{d}\";\n\
               listen-on port {port} {{ 127.0.0.1; }};\n\
               listen-on-v6 {{ none; }};\n\
               recursion no;\n\
               dnssec-validation no;\n\
             }};\n\
             controls {{ }};\n\
             include \"{d}/tsig.key\";\n\
             zone \"{ZONE}\" {{\n\
               type primary;\n\
               file \"{d}/zone.db\";\n\
               allow-update {{ key \"{KEY_NAME}\"; }};\n\
             }};\n"
        );
        let conf_file = dir.path().join("named.conf");
        std::fs::write(&conf_file, conf).unwrap();

        let log = std::fs::File::create(dir.path().join("named.log")).unwrap();
        let child = Command::new(NAMED)
            .arg("-g")
            .arg("-c")
            .arg(&conf_file)
            .args(["-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start named");
        let mut guard = ChildGuard {
            name: "named",
            child,
        };

        // Ready once it answers for the zone.
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            guard.assert_running();
            if try_txt_at(addr, &format!("ns1.{ZONE}.")).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "named did not answer on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }

        Some(Bind {
            dir,
            addr,
            key_secret,
            _named: guard,
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }

    /// The `dns:` block for the rfc2136 provider pointed at this server.
    pub fn dns_config(&self) -> serde_json::Value {
        serde_json::json!({
            "provider": "rfc2136",
            "server": "127.0.0.1",
            "port": self.addr.port(),
            "key_name": KEY_NAME,
            "key_secret": self.key_secret,
            "key_algorithm": "hmac-sha256",
        })
    }
}
