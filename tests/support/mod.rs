//! Helpers the certificate tests share: real servers as child processes on loopback.
#![allow(dead_code)]

pub mod bind;
pub mod pebble;

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

/// True when `binary` exists. When it does not: as root (CI) that is a failure, since
/// CI installs the servers; otherwise the test prints why it skips.
pub fn have(binary: &str) -> bool {
    if Path::new(binary).exists() {
        return true;
    }
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    assert!(
        !root,
        "{binary} is not installed; CI must install it (see .ci/run)"
    );
    eprintln!("skipping: {binary} is not installed and we are not root");
    false
}

/// A port on 127.0.0.1 free for both TCP and UDP right now.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A child process killed (by its own PID) when the guard goes away.
pub struct ChildGuard {
    pub name: &'static str,
    pub child: Child,
}

impl ChildGuard {
    /// Panics with the child's exit status if it died already.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early: {status}", self.name);
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_tcp(addr: SocketAddr, guard: &mut ChildGuard) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        guard.assert_running();
        assert!(
            Instant::now() < deadline,
            "{} did not listen on {addr}",
            guard.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The TXT strings `server` answers for `name`, asked without recursion over UDP.
pub fn txt_at(server: SocketAddr, name: &str) -> Vec<String> {
    try_txt_at(server, name).unwrap_or_else(|e| panic!("TXT {name} at {server}: {e}"))
}

pub fn try_txt_at(server: SocketAddr, name: &str) -> Result<Vec<String>, String> {
    let name = Name::from_ascii(name).unwrap();
    let mut message = Message::query();
    message.metadata.recursion_desired = false;
    message.add_query(Query::query(name.clone(), RecordType::TXT));

    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    socket
        .send_to(&message.to_vec().unwrap(), server)
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).map_err(|e| e.to_string())?;
    let response = Message::from_vec(&buf[..n]).map_err(|e| e.to_string())?;
    Ok(response
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

/// Runs `openssl verify` as an independent check of a chain, if openssl is there.
pub fn openssl_verify(dir: &Path, root_pem: &str, chain_pem: &str, leaf_pem: &str) -> Option<bool> {
    if !Path::new("/usr/bin/openssl").exists() {
        eprintln!("openssl not installed: skipping the independent chain check");
        return None;
    }
    let root = dir.join("verify-root.pem");
    let chain = dir.join("verify-chain.pem");
    let leaf = dir.join("verify-leaf.pem");
    std::fs::write(&root, root_pem).unwrap();
    std::fs::write(&chain, chain_pem).unwrap();
    std::fs::write(&leaf, leaf_pem).unwrap();
    let mut cmd = std::process::Command::new("/usr/bin/openssl");
    cmd.arg("verify").arg("-CAfile").arg(&root);
    if !chain_pem.trim().is_empty() {
        cmd.arg("-untrusted").arg(&chain);
    }
    let out = cmd.arg(&leaf).output().unwrap();
    eprintln!(
        "openssl verify: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    Some(out.status.success())
}
