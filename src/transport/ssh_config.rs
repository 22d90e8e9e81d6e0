//! The part of `~/.ssh/config` dsprov honours: HostName, User, Port and IdentityFile.
//!
//! Semantics follow ssh_config(5): a `Host` line matches when one of its patterns matches
//! the name and none of its negated (`!`) patterns does; for each keyword the first value
//! obtained wins, except IdentityFile, where every matching line adds a file.

use std::path::{Path, PathBuf};

/// The settings `~/.ssh/config` gives one host; `None` when the file says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshConfigEntry {
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
}

/// Reads the config at `path` and returns what applies to `host` (the inventory name).
/// A missing or unreadable file gives an empty entry: ssh_config is optional.
pub fn lookup(path: &Path, host: &str) -> SshConfigEntry {
    match std::fs::read_to_string(path) {
        Ok(text) => lookup_in(&text, host),
        Err(e) => {
            tracing::debug!("no ssh config read from {}: {e}", path.display());
            SshConfigEntry::default()
        }
    }
}

/// Same as `lookup`, on the text of a config file.
pub fn lookup_in(text: &str, host: &str) -> SshConfigEntry {
    let host = host.to_ascii_lowercase();
    let mut entry = SshConfigEntry::default();
    // Lines before the first Host apply to every host.
    let mut applies = true;

    for (number, raw) in text.lines().enumerate() {
        let Some((keyword, args)) = split_line(raw) else {
            continue;
        };
        match keyword.as_str() {
            "host" => applies = host_line_matches(&args, &host),
            // Match criteria (exec, canonical, ...) are not evaluated: a Match block is
            // skipped as a whole, which can only leave a setting to the defaults.
            "match" => {
                tracing::debug!("ssh config line {}: Match block ignored", number + 1);
                applies = false;
            }
            _ if !applies => {}
            "hostname" => {
                let name = args.first().map(|n| expand_tokens(n, &host));
                set_once(&mut entry.host_name, name)
            }
            "user" => set_once(&mut entry.user, args.first().cloned()),
            "port" => match args.first().map(|p| p.parse::<u16>()) {
                Some(Ok(port)) => set_once(&mut entry.port, Some(port)),
                _ => tracing::debug!("ssh config line {}: bad Port ignored", number + 1),
            },
            "identityfile" => {
                if let Some(file) = args.first() {
                    entry.identity_files.push(expand_path(file, &host));
                }
            }
            _ => {}
        }
    }
    entry
}

fn set_once<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// Splits `Keyword value...` or `Keyword=value` into a lowercase keyword and its
/// arguments, honouring double quotes. Blank lines and comments give `None`.
fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let split_at = line.find(|c: char| c.is_whitespace() || c == '=')?;
    let (keyword, rest) = line.split_at(split_at);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);

    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in rest.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        args.push(current);
    }
    Some((keyword.to_ascii_lowercase(), args))
}

fn host_line_matches(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard_match(&negated.to_ascii_lowercase(), host) {
                return false;
            }
        } else if wildcard_match(&pattern.to_ascii_lowercase(), host) {
            matched = true;
        }
    }
    matched
}

/// OpenSSH's pattern match: `*` is any run of characters, `?` exactly one.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Expands a leading `~` and the tokens of `expand_tokens` in an IdentityFile path.
fn expand_path(raw: &str, host: &str) -> PathBuf {
    let home = dirs::home_dir().unwrap_or_default();
    let expanded = match raw.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{}", home.display(), expand_tokens(rest, host))
        }
        _ => expand_tokens(raw, host),
    };
    PathBuf::from(expanded)
}

/// Expands `%d` (home), `%h` (the host as given) and `%%`; other tokens stay as written.
fn expand_tokens(raw: &str, host: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&dirs::home_dir().unwrap_or_default().to_string_lossy()),
            Some('h') => out.push_str(host),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
# global defaults come first
User = everyone-default-is-overridden-later

Host web? !web9
    HostName 10.0.0.%h
    Port 2200
    IdentityFile ~/.ssh/web_key

Host web9
    HostName web9.internal
    User nine

Match exec "true"
    User from-match

Host *.example.com "quoted host"
    Port 2201
    User example

Host *
    User fallback
    Port 22
    IdentityFile "/keys/with space"
"#;

    #[test]
    fn first_obtained_value_wins() {
        let e = lookup_in(CONFIG, "web1");
        assert_eq!(e.host_name.as_deref(), Some("10.0.0.web1"));
        assert_eq!(e.port, Some(2200));
        assert_eq!(
            e.user.as_deref(),
            Some("everyone-default-is-overridden-later")
        );
        let home = dirs::home_dir().unwrap();
        assert_eq!(
            e.identity_files,
            vec![home.join(".ssh/web_key"), PathBuf::from("/keys/with space")]
        );
    }

    #[test]
    fn negation_excludes_a_host_line() {
        let e = lookup_in(CONFIG, "web9");
        assert_eq!(e.host_name.as_deref(), Some("web9.internal"));
        assert_eq!(e.port, Some(22));
    }

    #[test]
    fn match_blocks_are_skipped_and_wildcards_match() {
        let text = CONFIG.replace("User = everyone-default-is-overridden-later", "");
        let e = lookup_in(&text, "DB.Example.com");
        assert_eq!(e.user.as_deref(), Some("example"));
        assert_eq!(e.port, Some(2201));
        assert_eq!(e.host_name, None);
        assert_eq!(lookup_in(&text, "quoted host").port, Some(2201));
    }

    #[test]
    fn unmatched_host_gets_only_the_catch_all() {
        let text = "Host a\n User x\nHost b*\n Port 1\n";
        assert_eq!(lookup_in(text, "c"), SshConfigEntry::default());
        assert_eq!(lookup_in(text, "bee").port, Some(1));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b?c", "axxbyc"));
        assert!(wildcard_match("*.example.com", "a.b.example.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(!wildcard_match("web?", "web10"));
        assert!(wildcard_match("10.0.*.?", "10.0.3.4"));
    }

    #[test]
    fn tokens_expand() {
        let home = dirs::home_dir().unwrap();
        assert_eq!(
            expand_path("%d/k_%h%%", "h1"),
            PathBuf::from(format!("{}/k_h1%", home.display()))
        );
        assert_eq!(expand_path("/k/%r", "h1"), PathBuf::from("/k/%r"));
    }
}
