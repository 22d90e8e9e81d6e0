//! `mariadb_query`: SQL statements run as root, guarded by an `unless` query: when that
//! returns a row the statements have done their work and nothing runs.
//!
//! Statements may hold secrets (`IDENTIFIED BY ...`), so a change names only the first
//! word of each one.

use async_trait::async_trait;

use super::mariadb_client::{apply_script, ident, probe_script, Server};
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

#[derive(Debug)]
pub struct MariadbQuery {
    pub queries: Vec<String>,
    pub unless: Option<String>,
    pub database: Option<String>,
    pub sql_log_bin: bool,
}

/// Ends a statement with `;` unless it already is.
fn terminated(sql: &str) -> String {
    let sql = sql.trim();
    if sql.ends_with(';') {
        sql.to_string()
    } else {
        format!("{sql};")
    }
}

impl MariadbQuery {
    pub fn from_args(args: &mut Args) -> Result<MariadbQuery, ArgError> {
        // `list` would split one statement at its commas; read the shapes by hand.
        let queries = match args.value("query") {
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(items)) => items
                .into_iter()
                .map(|i| match i {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(args.error("argument `query` must hold strings")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(args.error("argument `query` must be a string or a list")),
            None => return Err(args.error("argument `query` is required")),
        };
        let queries: Vec<String> = queries
            .into_iter()
            .filter(|q| !q.trim().is_empty())
            .collect();
        if queries.is_empty() {
            return Err(args.error("argument `query` is empty"));
        }
        // Values given apart from the SQL are quoted here, never by a template.
        let positional = args.list_exact("positional_args")?.unwrap_or_default();
        let unless = args.str("unless")?;
        let bind = |sql: &str| -> Result<String, ArgError> {
            bind_positional(sql, &positional).map_err(|e| args.error(e))
        };
        let queries = queries
            .iter()
            .map(|q| bind(q))
            .collect::<Result<Vec<_>, _>>()?;
        let unless = unless.map(|u| bind(&u)).transpose()?;
        Ok(MariadbQuery {
            queries,
            unless,
            database: args.str("database")?,
            sql_log_bin: args.bool("sql_log_bin")?.unwrap_or(true),
        })
    }

    fn use_db(&self) -> String {
        self.database
            .as_ref()
            .map(|db| format!("USE {};\n", ident(db)))
            .unwrap_or_default()
    }

    fn shown(&self) -> String {
        let verbs: Vec<String> = self
            .queries
            .iter()
            .map(|q| {
                q.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase()
            })
            .collect();
        let db = self
            .database
            .as_ref()
            .map(|d| format!(" in {d}"))
            .unwrap_or_default();
        format!("SQL{db}: {}", verbs.join(", "))
    }
}

#[async_trait]
impl Resource for MariadbQuery {
    fn probe(&self) -> String {
        match &self.unless {
            // Rows of the guard are tagged by the probe helper; any row means done.
            Some(check) => probe_script(&format!("{}{}", self.use_db(), terminated(check))),
            None => "true\n".into(),
        }
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        // A guard on a database that an earlier task creates is simply not satisfied yet.
        let no_database = observed.stdout.contains("error=ERROR 1049 ");
        if self.unless.is_some() && !no_database {
            let server = Server::parse(observed, "mariadb_query")?;
            if matches!(&server, Server::Up(rows) if !rows.is_empty()) {
                return Ok(Vec::new());
            }
        }
        Ok(vec![Change::Run { what: self.shown() }])
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        _observed: &Probe,
        _changes: &[Change],
    ) -> Result<(), ResourceError> {
        let mut sql = self.use_db();
        for q in &self.queries {
            sql.push_str(&terminated(q));
            sql.push('\n');
        }
        host.run_ok(&self.shown(), &apply_script(&sql, self.sql_log_bin))
            .await?;
        Ok(())
    }
}

/// `sql` with each `%s` replaced, in order, by the next value as an SQL string literal.
/// `%%` stands for a literal `%`.
fn bind_positional(sql: &str, values: &[String]) -> Result<String, String> {
    if values.is_empty() {
        return Ok(sql.to_string());
    }
    let mut out = String::with_capacity(sql.len());
    let mut next = values.iter();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('s')) => {
                chars.next();
                let value = next
                    .next()
                    .ok_or("more %s placeholders than positional_args")?;
                out.push_str(&super::mariadb_client::string(value));
            }
            ('%', Some('%')) => {
                chars.next();
                out.push('%');
            }
            _ => out.push(c),
        }
    }
    if next.next().is_some() {
        return Err("more positional_args than %s placeholders".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_args_are_quoted_in_order() {
        let sql = bind_positional(
            "WHERE a = %s AND b = %s AND c LIKE '10%%'",
            &["x".into(), "it's".into()],
        )
        .unwrap();
        assert!(sql.starts_with("WHERE a = 'x' AND b = 'it"), "{sql}");
        assert!(sql.ends_with("LIKE '10%'"), "{sql}");
        assert!(bind_positional("%s %s", &["one".into()]).is_err());
    }
    use serde_json::json;

    fn build(v: serde_json::Value) -> Result<MariadbQuery, ArgError> {
        crate::resources::args::build_from("mariadb_query", v, MariadbQuery::from_args)
    }

    #[test]
    fn query_is_one_statement_or_a_list() {
        let q = build(json!({"query": "INSERT INTO t VALUES (1, 2)"})).unwrap();
        assert_eq!(q.queries, ["INSERT INTO t VALUES (1, 2)"]);
        let q = build(
            json!({"query": ["DELETE FROM t", "insert into t values (1)"],
                             "database": "app"}),
        )
        .unwrap();
        assert_eq!(q.shown(), "SQL in app: DELETE, INSERT");
        assert!(build(json!({"query": ""})).is_err());
        assert!(build(json!({"unless": "SELECT 1"})).is_err());
    }

    #[test]
    fn unless_with_rows_means_done() {
        let q = build(
            json!({"query": "CREATE TABLE t (id INT)", "database": "app",
                             "unless": "SHOW TABLES LIKE 't'"}),
        )
        .unwrap();
        assert!(q.probe().contains("USE `app`;\nSHOW TABLES LIKE 't';\n"));
        assert!(q
            .diff(&Probe::from_stdout("server=up\nrow=t\n"))
            .unwrap()
            .is_empty());
        let todo = q.diff(&Probe::from_stdout("server=up\n")).unwrap();
        assert_eq!(todo[0].to_string(), "run SQL in app: CREATE");
        assert_eq!(
            q.diff(&Probe::from_stdout("server=absent\n"))
                .unwrap()
                .len(),
            1
        );
        let no_db = "server=error\nerror=ERROR 1049 (42000): Unknown database 'app'\n";
        assert_eq!(q.diff(&Probe::from_stdout(no_db)).unwrap().len(), 1);
        let denied = "server=error\nerror=ERROR 1698 (28000): Access denied\n";
        assert!(q.diff(&Probe::from_stdout(denied)).is_err());
    }

    #[test]
    fn without_unless_it_always_runs() {
        let q = build(json!({"query": "FLUSH PRIVILEGES"})).unwrap();
        assert_eq!(q.diff(&Probe::from_stdout("")).unwrap().len(), 1);
    }
}
