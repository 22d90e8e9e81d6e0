//! Fresh Debian test hosts for integration tests, made by `tests/vps/vps`.
//!
//! A test brings a host up on its own 127.0.0.x address, talks to it over SSH with the
//! test key, and brings it down again:
//!
//! ```ignore
//! if !vps::vps_available() { return; }
//! let host = Vps::up("mail1", "127.0.0.11");
//! let out = host.ssh("hostname");
//! host.down();
//! ```
//!
//! Hosts are not brought down on drop: a host left running after a failed test can be
//! looked at, and the next `up` of the same name replaces it anyway.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A test host that `tests/vps/vps up` brought up and that answers SSH.
#[derive(Debug, Clone)]
pub struct Vps {
    pub name: String,
    pub address: String,
}

impl Vps {
    /// Brings host `name` up on `address`, fresh, or reuses it if it runs there already.
    /// Panics with the script's output if the host does not come up.
    pub fn up(name: &str, address: &str) -> Vps {
        run_script(&["up", name, address]);
        Vps {
            name: name.to_string(),
            address: address.to_string(),
        }
    }

    /// Runs `command` as root on the host through the system's ssh client, with the test
    /// key and strict checking against the test known_hosts file.
    pub fn ssh(&self, command: &str) -> Output {
        let mut ssh = Command::new("ssh");
        ssh.args(ssh_options())
            .arg(format!("root@{}", self.address))
            .arg(command);
        ssh.output()
            .expect("cannot run ssh; tests/vps/ci-setup.sh installs it")
    }

    /// Like [`Vps::ssh`], but panics unless the command succeeds; returns its stdout.
    pub fn ssh_ok(&self, command: &str) -> String {
        let out = self.ssh(command);
        assert!(
            out.status.success(),
            "`{command}` on {} failed ({}):\n{}{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Puts the host back to a fresh copy of the image and boots it.
    pub fn reset(&self) {
        run_script(&["reset", &self.name]);
    }

    /// Shuts the host down; nothing it started keeps running.
    pub fn down(&self) {
        run_script(&["down", &self.name]);
    }

    /// PID of the host's systemd-nspawn as the script recorded it, if the file is there.
    pub fn nspawn_pid(&self) -> Option<u32> {
        let file = vps_home().join("hosts").join(&self.name).join("nspawn.pid");
        std::fs::read_to_string(file).ok()?.trim().parse().ok()
    }
}

/// `$VPS_HOME`, where the script keeps the image, the hosts, the key and known_hosts.
pub fn vps_home() -> PathBuf {
    std::env::var_os("VPS_HOME").map_or_else(|| PathBuf::from("/var/lib/dsprov-vps"), PathBuf::from)
}

/// The `tests/vps/vps` script.
pub fn script_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vps/vps")
}

/// The options that reach a test host over SSH as the issue and the README describe,
/// for tests that build their own ssh command line.
pub fn ssh_options() -> Vec<String> {
    let home = vps_home();
    vec![
        "-F".into(),
        "/dev/null".into(),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        format!("UserKnownHostsFile={}", home.join("known_hosts").display()),
        "-i".into(),
        home.join("id_ed25519").display().to_string(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "ConnectTimeout=5".into(),
    ]
}

/// Whether test hosts can be made here: root and systemd-nspawn. When not, it says why
/// on stderr, so a test that returns early shows up as skipped for a reason.
pub fn vps_available() -> bool {
    // Root owns /proc/self; this avoids a libc dependency just for geteuid.
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let nspawn = ["/usr/bin/systemd-nspawn", "/bin/systemd-nspawn"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if !root {
        eprintln!("skipped: test hosts need root (systemd-nspawn, cgroups, mounts)");
    } else if !nspawn {
        eprintln!("skipped: systemd-nspawn missing; run tests/vps/ci-setup.sh");
    }
    root && nspawn
}

fn run_script(args: &[&str]) {
    let out = Command::new(script_path())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script_path().display()));
    assert!(
        out.status.success(),
        "vps {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}
