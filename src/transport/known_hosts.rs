//! Host key verification against an OpenSSH known_hosts file.
//!
//! russh's own helpers are not used: they split lines on single spaces, stop at the first
//! unparsable matching line, ignore `@revoked` and host patterns, and report a changed
//! key only by line number. This reader handles plain, wildcard, negated and hashed
//! (`|1|salt|hash`) host fields, the `[host]:port` form, and `@revoked` markers.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use russh::keys::{HashAlg, PublicKey};
use sha1::Sha1;

use super::ssh_config::wildcard_match;

/// What known_hosts says about the key a host offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    Known,
    /// No entry of that key type names the host.
    Unknown,
    /// Entries of the same type name the host with other keys (their fingerprints).
    Changed {
        expected: Vec<String>,
    },
    /// The offered key is listed under `@revoked` for this host.
    Revoked {
        line: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

#[derive(Debug)]
struct Entry {
    line: usize,
    marker: Marker,
    hosts: String,
    key: PublicKey,
}

/// The parsed entries of one known_hosts file.
#[derive(Debug, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

impl KnownHosts {
    /// Reads `path`; a file that does not exist yet is an empty list.
    pub fn load(path: &Path) -> std::io::Result<KnownHosts> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(KnownHosts::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KnownHosts::default()),
            Err(e) => Err(e),
        }
    }

    /// Parses known_hosts text. Lines that cannot be parsed are skipped, as OpenSSH does.
    pub fn parse(text: &str) -> KnownHosts {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let marker = match first {
                "@revoked" => Marker::Revoked,
                "@cert-authority" => Marker::CertAuthority,
                _ => Marker::None,
            };
            if marker != Marker::None {
                first = fields.next().unwrap_or_default();
            }
            let (Some(_key_type), Some(base64)) = (fields.next(), fields.next()) else {
                tracing::debug!("known_hosts line {}: too few fields, skipped", index + 1);
                continue;
            };
            match russh::keys::parse_public_key_base64(base64) {
                Ok(key) => entries.push(Entry {
                    line: index + 1,
                    marker,
                    hosts: first.to_string(),
                    key,
                }),
                Err(e) => tracing::debug!("known_hosts line {}: bad key skipped: {e}", index + 1),
            }
        }
        KnownHosts { entries }
    }

    /// Checks `key` offered on `port` by a host known under any of `names` (the address
    /// connected to, and the inventory name when it differs).
    pub fn check(&self, names: &[&str], port: u16, key: &PublicKey) -> HostKeyStatus {
        let lookups = lookup_names(names, port);
        let mut known = false;
        let mut expected = Vec::new();
        for entry in self.entries.iter().filter(|e| e.names_any(&lookups)) {
            let same_key = entry.key.key_data() == key.key_data();
            match entry.marker {
                Marker::Revoked if same_key => return HostKeyStatus::Revoked { line: entry.line },
                Marker::None if same_key => known = true,
                Marker::None if entry.key.algorithm() == key.algorithm() => {
                    expected.push(fingerprint(&entry.key))
                }
                _ => {}
            }
        }
        if known {
            HostKeyStatus::Known
        } else if expected.is_empty() {
            HostKeyStatus::Unknown
        } else {
            HostKeyStatus::Changed { expected }
        }
    }

    /// Key types recorded for the host, so the handshake can ask for one of them first
    /// (as OpenSSH does) rather than trip over a host that has several.
    pub fn known_key_types(&self, names: &[&str], port: u16) -> Vec<russh::keys::Algorithm> {
        let lookups = lookup_names(names, port);
        let mut types = Vec::new();
        for entry in &self.entries {
            let algorithm = entry.key.algorithm();
            if entry.marker == Marker::None
                && !types.contains(&algorithm)
                && entry.names_any(&lookups)
            {
                types.push(algorithm);
            }
        }
        types
    }
}

impl Entry {
    fn names_any(&self, lookups: &[String]) -> bool {
        lookups
            .iter()
            .any(|name| hosts_field_matches(&self.hosts, name))
    }
}

/// The strings a known_hosts host field is compared with: `name` on port 22,
/// `[name]:port` elsewhere, lowercased as OpenSSH does.
fn lookup_names(names: &[&str], port: u16) -> Vec<String> {
    names.iter().map(|name| host_field(name, port)).collect()
}

/// How a host is written in known_hosts.
pub fn host_field(name: &str, port: u16) -> String {
    let name = name.to_ascii_lowercase();
    if port == 22 {
        name
    } else {
        format!("[{name}]:{port}")
    }
}

/// One host field (comma-separated patterns or a single hashed name) against one name.
/// A matching negated pattern rules the entry out, whatever else matches.
fn hosts_field_matches(field: &str, name: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    let mut matched = false;
    for pattern in field.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard_match(&negated.to_ascii_lowercase(), name) {
                return false;
            }
        } else if wildcard_match(&pattern.to_ascii_lowercase(), name) {
            matched = true;
        }
    }
    matched
}

/// `salt|hash`, both base64: the entry is HMAC-SHA1(salt, name).
fn hashed_matches(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (BASE64.decode(salt), BASE64.decode(hash)) else {
        return false;
    };
    let Ok(mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(name.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

/// `SHA256:...`, as OpenSSH prints fingerprints.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Appends a plain entry for `address` on `port`, creating the file (0600) and its
/// directory (0700) when missing.
pub fn append(path: &Path, address: &str, port: u16, key: &PublicKey) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let existing = std::fs::read(path).unwrap_or_default();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;

    let key_text = key.to_openssh().map_err(std::io::Error::other)?;
    // A file whose last line has no newline would otherwise get our entry glued to it.
    let separator = if existing.is_empty() || existing.ends_with(b"\n") {
        ""
    } else {
        "\n"
    };
    let line = format!("{separator}{} {key_text}\n", host_field(address, port));
    file.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPwhyxqRJDh6nkCV/6B2HKGTSBRSSMb/TFAGTuNAm0kS";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBK3N9bKzuXIY4zfpXSOmdXshnnJ4swQXWA2fNq9vYUB";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    /// `|1|salt|hash` for `name`, computed the way `ssh-keygen -H` does.
    fn hashed(name: &str) -> String {
        let salt = [7u8; 20];
        let mac = Hmac::<Sha1>::new_from_slice(&salt)
            .unwrap()
            .chain_update(name.as_bytes());
        let hash = mac.finalize().into_bytes();
        format!("|1|{}|{}", BASE64.encode(salt), BASE64.encode(hash))
    }

    #[test]
    fn plain_entry_on_port_22_and_bracketed_on_others() {
        let kh = KnownHosts::parse(&format!("web1,10.0.0.1 {ED1}\n[db]:2222 {ED1}\n"));
        assert_eq!(kh.check(&["10.0.0.1"], 22, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(kh.check(&["WEB1"], 22, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(kh.check(&["web1"], 2222, &key(ED1)), HostKeyStatus::Unknown);
        assert_eq!(kh.check(&["db"], 2222, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(kh.check(&["db"], 22, &key(ED1)), HostKeyStatus::Unknown);
    }

    #[test]
    fn address_or_inventory_name_matches() {
        let kh = KnownHosts::parse(&format!("web1 {ED1}\n"));
        assert_eq!(
            kh.check(&["10.0.0.1", "web1"], 22, &key(ED1)),
            HostKeyStatus::Known
        );
    }

    #[test]
    fn hashed_entries_match() {
        let kh = KnownHosts::parse(&format!(
            "{} {ED1}\n{} {ED2}\n",
            hashed("[127.0.0.5]:2201"),
            hashed("plain")
        ));
        assert_eq!(
            kh.check(&["127.0.0.5"], 2201, &key(ED1)),
            HostKeyStatus::Known
        );
        assert_eq!(kh.check(&["plain"], 22, &key(ED2)), HostKeyStatus::Known);
        assert_eq!(
            kh.check(&["127.0.0.6"], 2201, &key(ED1)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn changed_key_names_the_expected_fingerprint() {
        let kh = KnownHosts::parse(&format!("# comment\n\nweb1 {ED1}\n"));
        let expected = vec![fingerprint(&key(ED1))];
        assert_eq!(
            kh.check(&["web1"], 22, &key(ED2)),
            HostKeyStatus::Changed { expected }
        );
        assert!(fingerprint(&key(ED1)).starts_with("SHA256:"));
    }

    #[test]
    fn patterns_negation_and_revoked() {
        let kh = KnownHosts::parse(&format!(
            "*.example.com,!bad.example.com {ED1}\n@revoked * {ED2}\n@cert-authority * {ED1}\n"
        ));
        assert_eq!(
            kh.check(&["a.example.com"], 22, &key(ED1)),
            HostKeyStatus::Known
        );
        assert_eq!(
            kh.check(&["bad.example.com"], 22, &key(ED1)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            kh.check(&["a.example.com"], 22, &key(ED2)),
            HostKeyStatus::Revoked { line: 2 }
        );
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let kh = KnownHosts::parse(&format!(
            "junk\nweb1 ssh-ed25519 !!!\nweb1\t{ED1} comment\n"
        ));
        assert_eq!(kh.check(&["web1"], 22, &key(ED1)), HostKeyStatus::Known);
        assert_eq!(
            kh.known_key_types(&["web1"], 22),
            vec![key(ED1).algorithm()]
        );
    }

    #[test]
    fn append_creates_file_and_terminates_lines() {
        let dir = std::env::temp_dir().join(format!("dsprov-kh-{}", std::process::id()));
        let path = dir.join("sub/known_hosts");
        append(&path, "127.0.0.9", 2222, &key(ED1)).unwrap();
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap().trim_end()).unwrap();
        append(&path, "host2", 22, &key(ED2)).unwrap();

        let kh = KnownHosts::load(&path).unwrap();
        assert_eq!(
            kh.check(&["127.0.0.9"], 2222, &key(ED1)),
            HostKeyStatus::Known
        );
        assert_eq!(kh.check(&["host2"], 22, &key(ED2)), HostKeyStatus::Known);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
