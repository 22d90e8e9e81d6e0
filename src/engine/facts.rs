//! Facts: what a host is (hostname, OS, addresses, installed packages), gathered in the
//! same round trip that reads the handlers owed from an earlier run.

use serde_json::{json, Map, Value};

/// Handlers notified but not yet run are recorded here on the host, so a run that fails
/// after notifying does not lose them: root's in /var/lib/dsprov, another SSH user's in
/// its home, so that recording needs no sudo. A shell expression.
pub const PENDING_HANDLERS: &str =
    "\"$(if [ \"$(id -u)\" = 0 ]; then echo /var/lib/dsprov; else echo \"$HOME/.dsprov\"; fi)/pending-handlers\"";

pub fn script() -> String {
    format!(
        r#"echo "hostname=$(hostname)"
echo "fqdn=$(hostname -f 2>/dev/null || hostname)"
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=${{ID:-}}"
echo "os_version_id=${{VERSION_ID:-}}"
echo "os_codename=${{VERSION_CODENAME:-}}"
echo "os_pretty_name=${{PRETTY_NAME:-}}"
echo "user=$(id -un)"
ip -o addr show 2>/dev/null | while read -r _ _ _ addr _; do echo "address=${{addr%/*}}"; done
echo "@@packages"
dpkg-query -W -f='${{db:Status-Abbrev}} ${{Package}} ${{Version}}\n' 2>/dev/null
echo "@@pending"
cat {PENDING_HANDLERS} 2>/dev/null
true
"#
    )
}

#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub value: Value,
    pub user: String,
    pub pending_handlers: Vec<String>,
}

pub fn parse(stdout: &str) -> Facts {
    let mut fields = Map::new();
    let mut os = Map::new();
    let mut addresses = Vec::new();
    let mut packages = Map::new();
    let mut pending = Vec::new();
    let mut section = "";
    let mut user = String::new();

    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            section = if name == "packages" {
                "packages"
            } else {
                "pending"
            };
            continue;
        }
        match section {
            "packages" => {
                let mut parts = line.split_whitespace();
                if let (Some("ii"), Some(name), Some(version)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    let name = name.split(':').next().unwrap_or(name);
                    packages.insert(name.to_string(), Value::String(version.to_string()));
                }
            }
            "pending" => {
                if !line.trim().is_empty() && !pending.iter().any(|p| p == line.trim()) {
                    pending.push(line.trim().to_string());
                }
            }
            _ => {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                match k {
                    "address" => addresses.push(Value::String(v.to_string())),
                    "user" => user = v.to_string(),
                    k if k.starts_with("os_") => {
                        os.insert(k["os_".len()..].to_string(), Value::String(v.to_string()));
                    }
                    k => {
                        fields.insert(k.to_string(), Value::String(v.to_string()));
                    }
                }
            }
        }
    }
    fields.insert("os".into(), Value::Object(os));
    fields.insert("addresses".into(), Value::Array(addresses));
    fields.insert("packages".into(), Value::Object(packages));
    fields.insert("user".into(), Value::String(user.clone()));
    Facts {
        value: Value::Object(fields),
        user,
        pending_handlers: pending,
    }
}

/// Stand-in facts for checking a playbook without connecting: the right shape, empty values.
pub fn placeholder(host: &str) -> Value {
    json!({
        "hostname": host,
        "fqdn": host,
        "os": {"id": "", "version_id": "", "codename": "", "pretty_name": ""},
        "user": "",
        "addresses": [],
        "packages": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_parse_into_sections() {
        let out = "hostname=mail1\nos_id=debian\nos_version_id=12\nuser=root\naddress=127.0.0.11\n@@packages\nii  dovecot-core 1:2.3.19.1 \nrc  gone 1.0\nii  libc6:amd64 2.36\n@@pending\nrestart dovecot\nrestart dovecot\n";
        let facts = parse(out);
        assert_eq!(facts.value["os"]["id"], "debian");
        assert_eq!(facts.value["packages"]["dovecot-core"], "1:2.3.19.1");
        assert_eq!(facts.value["packages"]["libc6"], "2.36");
        assert!(facts.value["packages"].get("gone").is_none());
        assert_eq!(facts.pending_handlers, vec!["restart dovecot"]);
        assert_eq!(facts.user, "root");
    }
}
