//! Just enough of Dovecot's and MariaDB's configuration syntax to read settings back out
//! of rendered files: comments and sections understood, includes and variables not.

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The enclosing sections, outermost first: `["service replicator"]`; for an INI file
    /// the one `[section]`.
    pub section: Vec<String>,
    pub key: String,
    pub value: String,
}

/// The settings of a Dovecot configuration file. A line ending in `\` continues on the
/// next; `#` starts a comment at the start of a line or after a blank outside quotes.
pub fn dovecot(text: &str) -> Vec<Setting> {
    let mut settings = Vec::new();
    let mut section: Vec<String> = Vec::new();
    let mut pending = String::new();

    for raw in text.lines() {
        if let Some(head) = raw.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(raw);
        let line = strip_comment(&pending).trim().to_string();
        pending.clear();

        if line == "}" {
            section.pop();
        } else if let Some(head) = line.strip_suffix('{') {
            section.push(head.split_whitespace().collect::<Vec<_>>().join(" "));
        } else if let Some((key, value)) = line.split_once('=') {
            settings.push(Setting {
                section: section.clone(),
                key: key.trim().to_string(),
                value: value.trim().to_string(),
            });
        }
    }
    settings
}

/// The settings of a MariaDB option file, keys normalised: lower case, `_` for `-`, no
/// `loose_` prefix.
pub fn mariadb(text: &str) -> Vec<Setting> {
    let mut settings = Vec::new();
    let mut section = String::new();
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_ascii_lowercase();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let key = key.trim().to_ascii_lowercase().replace('-', "_");
        let key = key.strip_prefix("loose_").unwrap_or(&key).to_string();
        settings.push(Setting {
            section: vec![section.clone()],
            key,
            value: unquote(value.trim()).to_string(),
        });
    }
    settings
}

fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_blank = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev_blank => return &line[..i],
            _ => {}
        }
        prev_blank = c.is_whitespace();
    }
    line
}

fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_sections_comments_and_continuations() {
        let text = "# replication_sync_timeout = 2\nplugin {\n  mail_replica = tcps:b:4000 # peer\n}\nservice replicator {\n  unix_listener replicator-doveadm {\n    mode = 0600\n  }\n}\nq = SELECT a, \\\n  b FROM t\np = x#y\n";
        let s = dovecot(text);
        assert_eq!(s.len(), 4, "{s:?}");
        assert_eq!(s[0].section, ["plugin"]);
        assert_eq!(s[0].value, "tcps:b:4000");
        assert_eq!(
            s[1].section,
            ["service replicator", "unix_listener replicator-doveadm"]
        );
        assert_eq!(s[2].value, "SELECT a,   b FROM t");
        assert_eq!(s[3].value, "x#y");
    }

    #[test]
    fn mariadb_keys_are_normalised() {
        let s = mariadb(
            "; c\n[mysqld]\nserver-id = '2' # x\nloose_gtid-domain-id=3\nskip_name_resolve\n",
        );
        assert_eq!(s[0].key, "server_id");
        assert_eq!(s[0].value, "2");
        assert_eq!(s[1].key, "gtid_domain_id");
        assert_eq!(s[2].key, "skip_name_resolve");
        assert_eq!(s[2].section, ["mysqld"]);
    }
}
