//! Talking to MariaDB on the host for the `mariadb_*` resources: SQL quoting, and scripts
//! that run the `mariadb` client as root over the unix socket with the SQL on its stdin
//! (a quoted heredoc, so the shell expands nothing and no statement is ever in argv).

use super::{Probe, ResourceError};

/// `s` as an SQL string literal. Every session we open turns `NO_BACKSLASH_ESCAPES` off
/// (see `SESSION`), so backslash escapes mean the same on every server.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x1a' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `s` as a quoted identifier (database, table).
pub fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// `'user'@'host'`.
pub fn account(user: &str, host: &str) -> String {
    format!("{}@{}", string(user), string(host))
}

/// Opens every session: makes `string`'s escapes valid whatever the server's sql_mode.
const SESSION: &str =
    "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');\n";

const CLIENT: &str = "mariadb --user=root --batch";

/// A heredoc delimiter that does not occur in `sql`.
fn delimiter(sql: &str) -> String {
    let mut delim = String::from("__DSPROV_SQL__");
    while sql.contains(&delim) {
        delim.push('_');
    }
    delim
}

/// `sql` fed to the client through a quoted heredoc, its messages on stdout; ends in a
/// newline (the heredoc's delimiter must end its line).
pub fn client_call(sql: &str) -> String {
    client_call_with(sql, false)
}

/// `client_call`, printing each result's column names before its rows when
/// `column_names` (an empty result then prints nothing at all).
fn client_call_with(sql: &str, column_names: bool) -> String {
    let delim = delimiter(sql);
    let names = if column_names {
        ""
    } else {
        " --skip-column-names"
    };
    format!("{CLIENT}{names} 2>&1 <<'{delim}'\n{SESSION}{sql}\n{delim}\n")
}

/// A probe script running read-only `sql`. It prints `server=absent` when the client is
/// not installed, and otherwise `server=up` and each output row as `row=...`, or
/// `server=error` and the client's messages as `error=...`.
pub fn probe_script(sql: &str) -> String {
    probe_script_with(sql, "", false)
}

/// `probe_script` with each result's column names printed as a row before its values.
pub fn probe_script_named(sql: &str) -> String {
    probe_script_with(sql, "", true)
}

/// Like `probe_script`, and runs the shell lines `then` after the rows when the query
/// worked; they see its output in `$out` and may run `client_call` again.
pub fn probe_script_then(sql: &str, then: &str) -> String {
    probe_script_with(sql, then, false)
}

fn probe_script_with(sql: &str, then: &str, column_names: bool) -> String {
    format!(
        "command -v mariadb >/dev/null 2>&1 || {{ echo server=absent; exit 0; }}\n\
         if out=$({call}); then echo server=up; printf '%s\\n' \"$out\" | sed 's/^/row=/'\n{then}\
         else echo server=error; printf '%s\\n' \"$out\" | sed 's/^/error=/'; fi\n",
        call = client_call_with(sql, column_names)
    )
}

/// A script running `sql` that fails, with the client's message, on the first error.
/// With `log_bin` false the statements are kept out of the binary log, so replicas do
/// not repeat them.
pub fn apply_script(sql: &str, log_bin: bool) -> String {
    let mut body = String::new();
    if !log_bin {
        body.push_str("SET SESSION sql_log_bin = 0;\n");
    }
    body.push_str(sql);
    client_call(&body)
}

/// The output of a `probe_script`.
#[derive(Debug, PartialEq)]
pub enum Server {
    /// No client: MariaDB is not installed yet, so nothing in it exists.
    Absent,
    /// The server does not answer on its socket (installed but stopped, or starting):
    /// treated like `Absent`, so a play that installs the server plans the right changes.
    Down,
    /// The query ran; its rows, tab-separated as the client prints them in batch mode.
    Up(Vec<String>),
}

impl Server {
    pub fn parse(observed: &Probe, what: &str) -> Result<Server, ResourceError> {
        let lines = |prefix: &str| -> Vec<String> {
            observed
                .stdout
                .lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .map(String::from)
                .collect()
        };
        match observed.field("server") {
            Some("absent") => Ok(Server::Absent),
            Some("up") => Ok(Server::Up(
                lines("row=")
                    .into_iter()
                    .filter(|l| !l.is_empty())
                    .collect(),
            )),
            _ => {
                let errors = lines("error=").join("; ");
                // 2002: no socket; 2013: lost connection while the server starts up.
                if errors.contains("ERROR 2002") || errors.contains("ERROR 2013") {
                    return Ok(Server::Down);
                }
                Err(ResourceError::new(format!(
                    "{what}: cannot query MariaDB: {}",
                    if errors.is_empty() {
                        "no output"
                    } else {
                        &errors
                    }
                )))
            }
        }
    }

    /// The first row of the result whose first column is named `first_column` (from a
    /// `probe_script_named`), as (name, value) pairs; empty when there is no such row.
    pub fn named_row(&self, first_column: &str) -> Vec<(String, String)> {
        let Server::Up(rows) = self else {
            return Vec::new();
        };
        let mut rows = rows.iter();
        let Some(header) = rows.find(|r| r.split('\t').next() == Some(first_column)) else {
            return Vec::new();
        };
        let Some(values) = rows.next() else {
            return Vec::new();
        };
        header
            .split('\t')
            .map(unescape)
            .zip(values.split('\t').map(unescape))
            .collect()
    }

    /// The rows whose first column is `tag`, split into their remaining columns.
    pub fn tagged(&self, tag: &str) -> Vec<Vec<String>> {
        let Server::Up(rows) = self else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|r| {
                let mut cols = r.split('\t').map(unescape);
                (cols.next().as_deref() == Some(tag)).then(|| cols.collect())
            })
            .collect()
    }
}

/// Undoes the client's batch-mode escaping of a column value.
fn unescape(col: &str) -> String {
    let mut out = String::with_capacity(col.len());
    let mut chars = col.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The `mysql_native_password` hash of `password` (`*` and the upper-case hex of
/// SHA1(SHA1(password))), computed here so the plain password never reaches the host.
pub fn native_password_hash(password: &str) -> String {
    use sha1::{Digest, Sha1};
    let inner = Sha1::digest(password.as_bytes());
    format!("*{}", hex::encode_upper(Sha1::digest(inner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_identifiers_are_escaped() {
        assert_eq!(string(r"it's a \ test"), r"'it\'s a \\ test'");
        assert_eq!(string("a\nb"), r"'a\nb'");
        assert_eq!(ident("we`ird"), "`we``ird`");
        assert_eq!(account("app", "%"), "'app'@'%'");
    }

    #[test]
    fn native_hash_matches_the_server() {
        // SELECT PASSWORD('secret') on MariaDB 10.11.
        assert_eq!(
            native_password_hash("secret"),
            "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"
        );
    }

    #[test]
    fn sql_travels_in_a_quoted_heredoc_that_it_cannot_end() {
        let s = apply_script("SELECT '__DSPROV_SQL__';", false);
        assert!(s.contains("<<'__DSPROV_SQL___'\n"));
        assert!(s.contains("SET SESSION sql_log_bin = 0;\nSELECT"));
        assert!(s.ends_with("\n__DSPROV_SQL___\n"));
    }

    #[test]
    fn probe_output_is_parsed() {
        let p = |s: &str| Probe {
            status: 0,
            stdout: s.into(),
        };
        assert_eq!(
            Server::parse(&p("server=absent\n"), "x").unwrap(),
            Server::Absent
        );
        let up = Server::parse(&p("server=up\nrow=db\tapp\tutf8mb4\nrow=other\n"), "x").unwrap();
        assert_eq!(up.tagged("db"), [vec!["app".to_string(), "utf8mb4".into()]]);
        let down = "server=error\nerror=ERROR 2002 (HY000): Can't connect to local server\n";
        assert_eq!(Server::parse(&p(down), "x").unwrap(), Server::Down);
        let denied = "server=error\nerror=ERROR 1698 (28000): Access denied for user 'root'\n";
        let err = Server::parse(&p(denied), "mariadb_database app").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("mariadb_database app: cannot query MariaDB: ERROR 1698"));
    }

    #[test]
    fn batch_escapes_are_undone() {
        assert_eq!(unescape(r"a\tb\\c\nd"), "a\tb\\c\nd");
    }
}
