//! Privileges for `mariadb_user`: Ansible's `db.table:PRIV,PRIV/db2.*:ALL` notation, the
//! lines `SHOW GRANTS` prints, both read into one normal form, and the GRANT and REVOKE
//! statements that turn one into the other.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::mariadb_client::ident;

/// What a grant applies to: `*.*`, `db.*` or `db.table` (names unquoted, `*` a wildcard).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub db: String,
    pub table: String,
}

impl Target {
    fn sql(&self) -> String {
        let part = |s: &str| if s == "*" { "*".to_string() } else { ident(s) };
        format!("{}.{}", part(&self.db), part(&self.table))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.db, self.table)
    }
}

/// The privileges held on one target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Level {
    pub privs: BTreeSet<String>,
    pub grant_option: bool,
}

impl Level {
    fn show(&self) -> String {
        let mut words: Vec<&str> = self.privs.iter().map(String::as_str).collect();
        if self.grant_option {
            words.push("GRANT");
        }
        if words.is_empty() {
            "-".into()
        } else {
            words.join(",")
        }
    }
}

pub type Privs = BTreeMap<Target, Level>;

/// Splits `s` at `sep` where it is outside parentheses and backticks.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut parts = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '`' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && depth == 0 && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One privilege in normal form; `None` for USAGE (no privilege at all).
fn normal_priv(word: &str) -> Option<String> {
    let mut p: String = word.split_whitespace().collect::<Vec<_>>().join(" ");
    p = p.to_ascii_uppercase();
    // Column lists: compare `SELECT (a, b)` and `SELECT (`a`,`b`)` alike.
    if let Some(open) = p.find('(') {
        let cols: String = p[open..].chars().filter(|c| !" `".contains(*c)).collect();
        p = format!("{} {cols}", p[..open].trim_end());
    }
    let p = match p.as_str() {
        "USAGE" => return None,
        "ALL" => "ALL PRIVILEGES".to_string(),
        // Names MariaDB 10.5 renamed; the old ones still work in GRANT everywhere.
        "BINLOG MONITOR" => "REPLICATION CLIENT".to_string(),
        _ => p
            .split(' ')
            .map(|w| if w == "REPLICA" { "SLAVE" } else { w })
            .collect::<Vec<_>>()
            .join(" "),
    };
    Some(p)
}

/// A name at the start of `s`: backtick-quoted (with ``` `` ``` for a backtick), or bare up
/// to `stop`. Returns the name and the rest.
fn take_name(s: &str, stop: char) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix('`') {
        let mut name = String::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '`' {
                if chars.peek().map(|(_, c)| *c) == Some('`') {
                    chars.next();
                    name.push('`');
                } else {
                    return Some((name, &rest[i + 1..]));
                }
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = s.find(stop).unwrap_or(s.len());
        let name = s[..end].trim();
        // `PROCEDURE db.p` and other words before a name are not a bare name.
        (!name.contains([' ', '`'])).then(|| (name.to_string(), &s[end..]))
    }
}

fn parse_target(s: &str) -> Option<Target> {
    let (db, rest) = take_name(s.trim(), '.')?;
    let rest = rest.strip_prefix('.')?;
    let (table, rest) = take_name(rest, ' ')?;
    (rest.trim().is_empty() && !db.is_empty() && !table.is_empty()).then_some(Target { db, table })
}

/// Reads Ansible's `priv` notation.
pub fn parse_spec(spec: &str) -> Result<Privs, String> {
    let mut privs = Privs::new();
    for item in spec.split('/').map(str::trim).filter(|i| !i.is_empty()) {
        let (target, words) = item
            .rsplit_once(':')
            .ok_or_else(|| format!("`{item}` is not `db.table:PRIVILEGES`"))?;
        let target = parse_target(target).ok_or_else(|| format!("`{target}` is not `db.table`"))?;
        let level = privs.entry(target).or_default();
        for word in split_top(words, ',') {
            match word.trim().to_ascii_uppercase().as_str() {
                "" => return Err(format!("`{item}`: empty privilege")),
                "GRANT" | "GRANT OPTION" => level.grant_option = true,
                "REQUIRESSL" => return Err("use `require_ssl: true`, not REQUIRESSL".into()),
                _ => level.privs.extend(normal_priv(word)),
            }
        }
    }
    Ok(privs)
}

/// Reads the lines of `SHOW GRANTS`. Role, proxy and routine grants are not managed and
/// are left out.
pub fn parse_show_grants<'a>(lines: impl IntoIterator<Item = &'a str>) -> Privs {
    let mut privs = Privs::new();
    for line in lines {
        let Some(body) = line.strip_prefix("GRANT ") else {
            continue;
        };
        let parts = split_top(body, ' ');
        let Some(on) = parts.iter().position(|w| *w == "ON") else {
            continue;
        };
        let words = parts[..on].join(" ");
        let Some(to) = parts
            .iter()
            .skip(on)
            .position(|w| *w == "TO")
            .map(|p| p + on)
        else {
            continue;
        };
        let Some(target) = parse_target(&parts[on + 1..to].join(" ")) else {
            continue; // FUNCTION / PROCEDURE / PACKAGE grants
        };
        if words == "PROXY" {
            continue;
        }
        let rest = parts[to..].join(" ");
        let level = privs.entry(target).or_default();
        level
            .privs
            .extend(split_top(&words, ',').into_iter().filter_map(normal_priv));
        level.grant_option |= rest.contains(" WITH GRANT OPTION");
    }
    privs.retain(|_, l| !l.privs.is_empty() || l.grant_option);
    privs
}

/// One target whose privileges differ: shown as a change, turned into statements.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelDiff {
    pub target: Target,
    pub have: Level,
    pub want: Level,
}

impl LevelDiff {
    pub fn from_to(&self) -> (String, String) {
        (self.have.show(), self.want.show())
    }

    /// REVOKE what is extra, then GRANT what is missing, for `account` (`'u'@'h'`).
    pub fn statements(&self, account: &str) -> String {
        let on = self.target.sql();
        let mut sql = String::new();
        let extra: Vec<&str> = self
            .have
            .privs
            .difference(&self.want.privs)
            .map(String::as_str)
            .collect();
        if !extra.is_empty() {
            sql.push_str(&format!(
                "REVOKE {} ON {on} FROM {account};\n",
                extra.join(", ")
            ));
        }
        if self.have.grant_option && !self.want.grant_option {
            sql.push_str(&format!("REVOKE GRANT OPTION ON {on} FROM {account};\n"));
        }
        let missing: Vec<&str> = self
            .want
            .privs
            .difference(&self.have.privs)
            .map(String::as_str)
            .collect();
        let grant_option = self.want.grant_option && !self.have.grant_option;
        if !missing.is_empty() || grant_option {
            // GRANT needs a privilege; USAGE adds none and carries the grant option.
            let words = if missing.is_empty() {
                "USAGE".to_string()
            } else {
                missing.join(", ")
            };
            let with = if grant_option {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            sql.push_str(&format!("GRANT {words} ON {on} TO {account}{with};\n"));
        }
        sql
    }
}

/// The targets to change to go from `have` to `want`. With `append`, privileges the user
/// has beyond `want` are kept.
pub fn plan(want: &Privs, have: &Privs, append: bool) -> Vec<LevelDiff> {
    let empty = Level::default();
    let mut targets: BTreeSet<&Target> = want.keys().collect();
    if !append {
        targets.extend(have.keys());
    }
    targets
        .into_iter()
        .filter_map(|t| {
            let have = have.get(t).unwrap_or(&empty).clone();
            let mut want = want.get(t).cloned().unwrap_or_default();
            if append {
                // ALL PRIVILEGES already covers whatever else is asked for on the target.
                if have.privs.contains("ALL PRIVILEGES") {
                    want.privs.clear();
                }
                want.privs.extend(have.privs.iter().cloned());
                want.grant_option |= have.grant_option;
            }
            (have != want).then(|| LevelDiff {
                target: t.clone(),
                have,
                want,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(db: &str, table: &str) -> Target {
        Target {
            db: db.into(),
            table: table.into(),
        }
    }

    #[test]
    fn ansible_notation_is_read() {
        let p = parse_spec("app.*:SELECT,insert/`my-db`.`t.1`:ALL,GRANT/*.*:REPLICATION CLIENT")
            .unwrap();
        let app = &p[&target("app", "*")];
        assert_eq!(app.privs.iter().collect::<Vec<_>>(), ["INSERT", "SELECT"]);
        let t = &p[&target("my-db", "t.1")];
        assert!(t.grant_option && t.privs.contains("ALL PRIVILEGES"));
        assert!(p[&target("*", "*")].privs.contains("REPLICATION CLIENT"));
        assert!(parse_spec("app:SELECT").is_err());
        assert!(parse_spec("*.*:REQUIRESSL").is_err());
    }

    #[test]
    fn show_grants_is_read_without_usage_or_roles() {
        let lines = [
            "GRANT USAGE ON *.* TO `app`@`localhost` IDENTIFIED BY PASSWORD '-'",
            "GRANT SELECT, INSERT, UPDATE (`id`, `name`) ON `app`.* TO `app`@`localhost`",
            "GRANT ALL PRIVILEGES ON `we``ird`.`t` TO `app`@`localhost` WITH GRANT OPTION",
            "GRANT BINLOG MONITOR ON *.* TO `app`@`localhost`",
            "GRANT `reader` TO `app`@`localhost`",
            "GRANT EXECUTE ON PROCEDURE `app`.`p` TO `app`@`localhost`",
        ];
        let p = parse_show_grants(lines);
        assert_eq!(p.len(), 3);
        let app = &p[&target("app", "*")];
        assert!(app.privs.contains("UPDATE (ID,NAME)"));
        assert!(p[&target("we`ird", "t")].grant_option);
        assert!(p[&target("*", "*")].privs.contains("REPLICATION CLIENT"));
    }

    #[test]
    fn global_privileges_share_the_line_with_the_password() {
        // As MariaDB 10.11 prints them (the probe has replaced the hash by `-`).
        let p = parse_show_grants([
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '-'",
        ]);
        let global = &p[&target("*", "*")];
        let privs: Vec<&String> = global.privs.iter().collect();
        assert_eq!(privs, ["REPLICATION CLIENT", "REPLICATION SLAVE"]);
    }

    #[test]
    fn converged_privileges_plan_nothing() {
        let want = parse_spec("app.*:SELECT,INSERT/*.*:ALL").unwrap();
        let have = parse_show_grants([
            "GRANT ALL PRIVILEGES ON *.* TO `a`@`%`",
            "GRANT SELECT, INSERT ON `app`.* TO `a`@`%`",
        ]);
        assert!(plan(&want, &have, false).is_empty());
    }

    #[test]
    fn extra_privileges_are_revoked_unless_appending() {
        let want = parse_spec("app.*:SELECT").unwrap();
        let have = parse_show_grants([
            "GRANT ALL PRIVILEGES ON `app`.* TO `a`@`%` WITH GRANT OPTION",
            "GRANT SELECT ON `old`.* TO `a`@`%`",
        ]);
        let diffs = plan(&want, &have, false);
        assert_eq!(diffs.len(), 2);
        assert_eq!(
            diffs[0].statements("'a'@'%'"),
            "REVOKE ALL PRIVILEGES ON `app`.* FROM 'a'@'%';\n\
             REVOKE GRANT OPTION ON `app`.* FROM 'a'@'%';\n\
             GRANT SELECT ON `app`.* TO 'a'@'%';\n"
        );
        assert_eq!(
            diffs[0].from_to(),
            ("ALL PRIVILEGES,GRANT".into(), "SELECT".into())
        );
        assert_eq!(
            diffs[1].statements("'a'@'%'"),
            "REVOKE SELECT ON `old`.* FROM 'a'@'%';\n"
        );
        assert!(plan(&want, &have, true).is_empty());
    }

    #[test]
    fn a_missing_grant_option_alone_is_granted_with_usage() {
        let want = parse_spec("app.*:SELECT,GRANT").unwrap();
        let have = parse_show_grants(["GRANT SELECT ON `app`.* TO `a`@`%`"]);
        let diffs = plan(&want, &have, false);
        assert_eq!(
            diffs[0].statements("'a'@'%'"),
            "GRANT USAGE ON `app`.* TO 'a'@'%' WITH GRANT OPTION;\n"
        );
    }

    #[test]
    fn replica_spellings_are_one_privilege() {
        assert_eq!(
            normal_priv("replication replica").unwrap(),
            "REPLICATION SLAVE"
        );
        assert_eq!(
            normal_priv("REPLICATION SLAVE").unwrap(),
            "REPLICATION SLAVE"
        );
        assert_eq!(normal_priv("usage"), None);
    }
}
