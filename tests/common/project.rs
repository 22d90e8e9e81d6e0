//! A throwaway dsprov project for a test: write a playbook, an inventory for some test
//! hosts, run dsprov on it the way a user would, look at what it printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::vps::{vps_home, Vps};

pub struct Project {
    dir: tempfile::TempDir,
}

/// What one dsprov run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything printed, for asserting that something appears nowhere.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            code,
            "dsprov exited {} (wanted {code}):\n{}",
            self.code,
            self.all()
        );
        self
    }

    /// The JSON document of a `--format json` run.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.all()))
    }
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` inside the project, creating directories.
    pub fn file(&self, name: &str, text: &str) -> &Project {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// An `inventory.yml` listing `hosts` in group `group`, reached with the test key,
    /// with `extra` (YAML lines, indented for `all.vars`) as group vars.
    pub fn inventory(&self, group: &str, hosts: &[&Vps], vars: &str) -> &Project {
        let key = vps_home().join("id_ed25519");
        let mut text = format!(
            "all:\n  vars:\n    ssh_key: {}\n    user: root\n",
            key.display()
        );
        for line in vars.lines() {
            text.push_str(&format!("    {line}\n"));
        }
        text.push_str(&format!("  children:\n    {group}:\n      hosts:\n"));
        for h in hosts {
            text.push_str(&format!(
                "        {}:\n          address: {}\n",
                h.name, h.address
            ));
        }
        self.file("inventory.yml", &text)
    }

    /// Runs `dsprov ARGS` in the project dir, checking host keys against the test hosts'
    /// known_hosts.
    pub fn dsprov(&self, args: &[&str]) -> Run {
        let known = vps_home().join("known_hosts");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dsprov"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("SSH_AUTH_SOCK");
        let subcommand = args.first().copied().unwrap_or_default();
        if ["apply", "plan"].contains(&subcommand) && !args.contains(&"--known-hosts") {
            cmd.arg("--known-hosts").arg(known);
        }
        let out = cmd.output().expect("dsprov runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Test hosts are required where CI runs; elsewhere (not root) a test may skip.
pub fn hosts_or_skip() -> bool {
    if super::vps::vps_available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must be able to make test hosts"
    );
    false
}
