//! The SSH transport against the machine's real OpenSSH server on a loopback address.
//!
//! Each test starts its own `sshd -D` with a fresh host key and authorized keys in a
//! temporary directory, and kills it by PID when done. Without root or without sshd the
//! tests print why and pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dsprov::transport::ssh::{connect, ExplicitSsh, SshTarget};
use dsprov::transport::ssh_config;
use dsprov::transport::{Transport, TransportError};

const SSHD: &str = "/usr/sbin/sshd";
const ADDRESS: &str = "127.0.0.61";

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !root {
        return Some("not running as root".into());
    }
    for tool in [SSHD, "/usr/bin/ssh-keygen"] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is missing (install openssh-server)"));
        }
    }
    None
}

macro_rules! require_sshd {
    () => {
        if let Some(reason) = skip_reason() {
            eprintln!("skipping SSH transport test: {reason}");
            return;
        }
    };
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("dsprov-ssh-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs ssh-keygen for a new unencrypted key of `kind` at `path`; returns the public line.
fn keygen(path: &Path, kind: &str) -> String {
    keygen_with(path, kind, "")
}

fn keygen_with(path: &Path, kind: &str, passphrase: &str) -> String {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            kind,
            "-N",
            passphrase,
            "-C",
            "dsprov-test",
            "-f",
        ])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "ssh-keygen -t {kind} failed");
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

/// `SHA256:...` of a public key file, from ssh-keygen itself.
fn fingerprint(pub_path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pub_path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// The server's public host key as a known_hosts line for the test address and port.
fn known_line(server: &Sshd) -> String {
    let key = std::fs::read_to_string(server.dir.join("host_key.pub")).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    format!("[{ADDRESS}]:{} {}\n", server.port, key.join(" "))
}

/// A running `sshd -D`, killed by PID on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// Client keys the server accepts, by type.
    keys: Vec<(String, PathBuf)>,
    _tmp: TempDir,
}

impl Sshd {
    /// Starts a server with an ed25519 host key, accepting a new client key of each of
    /// `client_key_types`.
    fn start(client_key_types: &[&str]) -> Sshd {
        Sshd::start_with(&["ed25519"], client_key_types)
    }

    /// The first host key type is written to `host_key`, the others to `host_key_TYPE`.
    fn start_with(host_key_types: &[&str], client_key_types: &[&str]) -> Sshd {
        let tmp = TempDir::new();
        let dir = tmp.0.clone();
        let mut host_keys = String::new();
        for (i, kind) in host_key_types.iter().enumerate() {
            let name = if i == 0 {
                "host_key".to_string()
            } else {
                format!("host_key_{kind}")
            };
            keygen(&tmp.join(&name), kind);
            host_keys.push_str(&format!("HostKey {}\n", tmp.join(&name).display()));
        }

        let mut authorized = String::new();
        let mut keys = Vec::new();
        for kind in client_key_types {
            let path = tmp.join(&format!("id_{kind}"));
            authorized.push_str(&keygen(&path, kind));
            keys.push((kind.to_string(), path));
        }
        std::fs::write(tmp.join("authorized_keys"), authorized).unwrap();
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();

        let port = free_port();
        let config = format!(
            "ListenAddress {ADDRESS}:{port}\n{host_keys}\
             AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
             PermitRootLogin yes\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nLogLevel VERBOSE\n",
            d = dir.display()
        );
        std::fs::write(tmp.join("sshd_config"), config).unwrap();
        let log = std::fs::File::create(tmp.join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(tmp.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();

        let mut server = Sshd {
            child,
            port,
            dir,
            keys,
            _tmp: tmp,
        };
        server.wait_listening();
        server
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("sshd exited with {status}: {}", self.log());
            }
            if std::net::TcpStream::connect((ADDRESS, self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("sshd did not listen within 10 s: {}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    fn key(&self, kind: &str) -> PathBuf {
        self.keys.iter().find(|(k, _)| k == kind).unwrap().1.clone()
    }

    /// A target for this server with the first client key and an empty known_hosts.
    fn target(&self) -> SshTarget {
        SshTarget {
            host: "testhost".into(),
            address: ADDRESS.into(),
            port: self.port,
            user: "root".into(),
            identity_files: self.keys.iter().take(1).map(|(_, p)| p.clone()).collect(),
            known_hosts: self.dir.join("known_hosts"),
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
            agent_socket: None,
        }
    }

    /// A target whose known_hosts already holds this server's key.
    fn trusted_target(&self) -> SshTarget {
        let target = self.target();
        std::fs::write(&target.known_hosts, known_line(self)).unwrap();
        target
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Only the listener we started, by its PID; connection processes end with their
        // connections.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind((ADDRESS, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

async fn run(transport: &impl Transport, script: &str) -> dsprov::transport::Output {
    transport.exec("sh -s", script.as_bytes()).await.unwrap()
}

#[tokio::test]
async fn exec_returns_stdout_stderr_and_status() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let started = Instant::now();
    let ssh = connect(&server.trusted_target()).await.unwrap();
    eprintln!("connect + auth on loopback: {:?}", started.elapsed());

    let out = run(&ssh, "echo out; echo err >&2; exit 3").await;
    assert_eq!(
        (out.status, out.stdout_text(), out.stderr_text()),
        (3, "out\n".into(), "err\n".into())
    );

    let out = run(&ssh, "whoami").await;
    assert!(out.success());
    assert_eq!(out.stdout_text(), "root\n");

    let rounds = 50;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(ssh.exec("true", b"").await.unwrap().success());
    }
    eprintln!(
        "exec round trip on loopback: {:?} each",
        started.elapsed() / rounds
    );
    ssh.close().await;
    assert!(ssh.exec("true", b"").await.is_err());
}

#[tokio::test]
async fn killed_command_reports_status_minus_one() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let ssh = connect(&server.trusted_target()).await.unwrap();
    let out = ssh.exec("kill -KILL $$", b"").await.unwrap();
    assert_eq!(out.status, -1);
    // The connection stays usable.
    assert!(run(&ssh, "exit 0").await.success());
}

#[tokio::test]
async fn stdin_streams_megabytes_both_ways() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let ssh = connect(&server.trusted_target()).await.unwrap();

    let data: Vec<u8> = (0..4 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let started = Instant::now();
    let out = ssh.exec("cat", &data).await.unwrap();
    eprintln!("4 MiB through cat and back: {:?}", started.elapsed());
    assert!(out.success());
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data);

    // A command that reads none of its stdin is not an error.
    let out = ssh.exec("echo done", &data).await.unwrap();
    assert_eq!(out.stdout_text(), "done\n");
}

#[tokio::test]
async fn concurrent_execs_share_one_connection() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let ssh = Arc::new(connect(&server.trusted_target()).await.unwrap());

    // 20 is twice sshd's default MaxSessions, so this also checks that extra calls wait
    // for a free channel. Each command blocks until ten have started: run one after
    // another, they would never finish.
    let counter = server.dir.join("started");
    let script = format!(
        "echo x >> {c}; while [ $(wc -l < {c}) -lt 10 ]; do sleep 0.05; done; echo $N",
        c = counter.display()
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let ssh = ssh.clone();
        let script = format!("N={i}\n{script}");
        tasks.spawn(async move { (i, ssh.exec("sh -s", script.as_bytes()).await) });
    }
    let mut seen = Vec::new();
    let all = async {
        while let Some(done) = tasks.join_next().await {
            let (i, out) = done.unwrap();
            let out = out.unwrap_or_else(|e| panic!("exec {i}: {e}\n{}", server.log()));
            assert!(out.success(), "exec {i}: {}", out.stderr_text());
            assert_eq!(out.stdout_text(), format!("{i}\n"));
            seen.push(i);
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("execs did not overlap");
    eprintln!("20 concurrent execs: {:?}", started.elapsed());
    assert_eq!(seen.len(), 20);

    // One connection: sshd logged a single accepted login.
    let logins = server.log().matches("Accepted publickey").count();
    assert_eq!(logins, 1, "{}", server.log());
}

#[tokio::test]
async fn unknown_host_key_is_refused() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let target = server.target();

    let err = connect(&target).await.err().expect("must refuse");
    let expected = fingerprint(&server.dir.join("host_key.pub"));
    match &err {
        TransportError::UnknownHostKey { host, fingerprint } => {
            assert_eq!(host, "testhost");
            assert_eq!(fingerprint, &expected);
        }
        other => panic!("expected UnknownHostKey, got {other:?}"),
    }
    assert!(!target.known_hosts.exists(), "nothing may be recorded");
}

#[tokio::test]
async fn accepted_new_host_key_is_recorded_and_then_trusted() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let mut target = server.target();
    target.known_hosts = server.dir.join("new/dir/known_hosts");
    target.accept_new_host_keys = true;

    let ssh = connect(&target).await.unwrap();
    assert!(run(&ssh, "true").await.success());
    let recorded = std::fs::read_to_string(&target.known_hosts).unwrap();
    assert_eq!(recorded, known_line(&server));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target.known_hosts)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    target.accept_new_host_keys = false;
    connect(&target).await.unwrap();
    // Known now, so nothing more is appended.
    assert_eq!(
        std::fs::read_to_string(&target.known_hosts).unwrap(),
        recorded
    );

    // OpenSSH's own client agrees with what was written.
    let status = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            target.known_hosts.display()
        ))
        .arg("-i")
        .arg(server.key("ed25519"))
        .args([
            "-p",
            &server.port.to_string(),
            &format!("root@{ADDRESS}"),
            "true",
        ])
        .stdin(Stdio::null())
        .status();
    if let Ok(status) = status {
        assert!(status.success(), "ssh rejected the recorded entry");
    }
}

#[tokio::test]
async fn hashed_known_hosts_entry_is_accepted() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let target = server.trusted_target();
    let status = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&target.known_hosts)
        .output()
        .unwrap();
    assert!(status.status.success());
    let hashed = std::fs::read_to_string(&target.known_hosts).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");

    let ssh = connect(&target).await.unwrap();
    assert!(run(&ssh, "true").await.success());
}

#[tokio::test]
async fn entry_under_the_inventory_name_is_accepted() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let target = server.target();
    let line = known_line(&server).replace(ADDRESS, "testhost");
    std::fs::write(&target.known_hosts, line).unwrap();
    assert!(run(&connect(&target).await.unwrap(), "true")
        .await
        .success());
}

#[tokio::test]
async fn known_key_type_is_asked_for_first() {
    require_sshd!();
    // The server offers ed25519 and RSA host keys; known_hosts has only the RSA one.
    let server = Sshd::start_with(&["rsa", "ed25519"], &["ed25519"]);
    let target = server.trusted_target();
    assert!(known_line(&server).contains("ssh-rsa"));
    assert!(run(&connect(&target).await.unwrap(), "true")
        .await
        .success());
}

#[tokio::test]
async fn changed_host_key_is_refused_with_both_fingerprints() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let mut target = server.target();
    // Even accept_new must not paper over a changed key.
    target.accept_new_host_keys = true;
    let other = server.dir.join("other_host_key");
    let other_key = keygen(&other, "ed25519");
    let other_key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    let line = format!("[{ADDRESS}]:{} {}\n", server.port, other_key.join(" "));
    std::fs::write(&target.known_hosts, &line).unwrap();

    let err = connect(&target).await.err().expect("must refuse");
    let message = err.to_string();
    let expected = fingerprint(&other.with_extension("pub"));
    let offered = fingerprint(&server.dir.join("host_key.pub"));
    assert!(
        matches!(err, TransportError::ChangedHostKey { .. }),
        "{err:?}"
    );
    assert!(message.contains("testhost"), "{message}");
    assert!(
        message.contains(&expected) && message.contains(&offered),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&target.known_hosts).unwrap(), line);
}

#[tokio::test]
async fn ed25519_ecdsa_and_rsa_keys_authenticate() {
    require_sshd!();
    let server = Sshd::start(&["ed25519", "ecdsa", "rsa"]);
    for kind in ["ed25519", "ecdsa", "rsa"] {
        let mut target = server.trusted_target();
        target.identity_files = vec![server.key(kind)];
        let ssh = connect(&target)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(run(&ssh, "true").await.success(), "{kind}");
    }
    // sshd saw rsa-sha2 signatures, never the SHA-1 ssh-rsa.
    let log = server.log();
    assert!(
        log.contains("Accepted publickey for root") && log.contains("RSA SHA256:"),
        "{log}"
    );
    assert!(!log.contains("ssh-rsa"), "{log}");
}

#[tokio::test]
async fn unauthorized_or_encrypted_key_is_an_auth_error() {
    require_sshd!();
    let server = Sshd::start(&["ed25519"]);
    let stranger = server.dir.join("stranger");
    keygen(&stranger, "ed25519");
    let locked = server.dir.join("locked");
    keygen_with(&locked, "ed25519", "secret passphrase");

    let mut target = server.trusted_target();
    target.identity_files = vec![stranger.clone(), locked.clone(), server.dir.join("missing")];
    let err = connect(&target).await.err().expect("must refuse");
    let message = err.to_string();
    assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");
    assert!(message.contains("as root on testhost"), "{message}");
    assert!(
        message.contains(&format!("{} was refused", stranger.display())),
        "{message}"
    );
    assert!(message.contains("passphrase"), "{message}");
    assert!(!message.contains("secret passphrase"), "{message}");
}

#[tokio::test]
async fn agent_keys_are_tried_first() {
    require_sshd!();
    let server = Sshd::start(&["rsa"]);
    let socket = server.dir.join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(Stdio::null())
        .spawn();
    let Ok(agent_child) = agent.as_mut() else {
        eprintln!("skipping agent test: no ssh-agent");
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = Command::new("ssh-add")
        .arg(server.key("rsa"))
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let mut target = server.trusted_target();
    target.identity_files = vec![server.dir.join("no-such-key")];
    target.agent_socket = Some(socket);
    let result = connect(&target).await;
    let _ = agent_child.kill();
    let _ = agent_child.wait();

    let ssh = result.unwrap();
    assert!(run(&ssh, "true").await.success());
}

#[tokio::test]
async fn ssh_config_supplies_hostname_user_port_and_identity() {
    require_sshd!();
    let server = Sshd::start(&["ecdsa"]);
    let config = server.dir.join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host other\n  User nobody\nHost web*\n  HostName {ADDRESS}\n  User root\n  Port {}\n  \
             IdentityFile {}\nHost *\n  Port 22\n",
            server.port,
            server.key("ecdsa").display()
        ),
    )
    .unwrap();

    let entry = ssh_config::lookup(&config, "web1");
    let mut target = SshTarget::resolve("web1", &ExplicitSsh::default(), &entry);
    assert_eq!(
        (target.address.as_str(), target.port, target.user.as_str()),
        (ADDRESS, server.port, "root")
    );
    target.known_hosts = server.dir.join("known_hosts");
    target.accept_new_host_keys = true;
    target.agent_socket = None;
    let ssh = connect(&target).await.unwrap();
    assert_eq!(run(&ssh, "whoami").await.stdout_text(), "root\n");

    // An explicit inventory port wins over the file's.
    let explicit = ExplicitSsh {
        port: Some(1),
        ..Default::default()
    };
    assert_eq!(SshTarget::resolve("web1", &explicit, &entry).port, 1);
}

#[tokio::test]
async fn silent_server_times_out_and_closed_port_is_refused() {
    require_sshd!();
    let listener = tokio::net::TcpListener::bind((ADDRESS, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(socket);
    });
    let tmp = TempDir::new();
    let target = SshTarget {
        host: "silent".into(),
        address: ADDRESS.into(),
        port,
        user: "root".into(),
        identity_files: vec![],
        known_hosts: tmp.join("known_hosts"),
        accept_new_host_keys: false,
        connect_timeout: Duration::from_millis(300),
        agent_socket: None,
    };
    let started = Instant::now();
    let err = connect(&target).await.err().expect("must time out");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, TransportError::Connect { .. }) && err.to_string().contains("timed out"),
        "{err}"
    );
    hold.abort();

    let closed = SshTarget {
        port: free_port(),
        ..target
    };
    let err = connect(&closed).await.err().expect("must fail");
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
}
