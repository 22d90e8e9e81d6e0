//! `mariadb_database`: a database present (with a character set and collation) or absent.

use async_trait::async_trait;

use super::mariadb_client::{apply_script, ident, probe_script, string, Server};
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

#[derive(Debug)]
pub struct MariadbDatabase {
    pub name: String,
    pub present: bool,
    pub encoding: Option<String>,
    pub collation: Option<String>,
}

/// Character set and collation names are bare words; anything else is a typo.
fn charset_word(
    args: &Args,
    name: &str,
    value: Option<String>,
) -> Result<Option<String>, ArgError> {
    match value {
        Some(v) if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Err(args.error(format!(
                "argument `{name}`: `{v}` is not a character set name"
            )))
        }
        v => Ok(v.map(|v| v.to_ascii_lowercase())),
    }
}

/// MariaDB reports `utf8` as the name it is an alias of.
fn canonical_charset(cs: &str) -> String {
    match cs {
        "utf8" => "utf8mb3".into(),
        other => other.replace("utf8_", "utf8mb3_"),
    }
}

impl MariadbDatabase {
    pub fn from_args(args: &mut Args) -> Result<MariadbDatabase, ArgError> {
        let name = args.req_str("name")?;
        if name.is_empty() || name.len() > 64 {
            return Err(args.error("`name` must be 1 to 64 characters"));
        }
        let encoding = args.str("encoding")?;
        let encoding = charset_word(args, "encoding", encoding)?;
        let collation = args.str("collation")?;
        let collation = charset_word(args, "collation", collation)?;
        Ok(MariadbDatabase {
            name,
            present: args.choice("state", &["present", "absent"], "present")? == "present",
            encoding,
            collation,
        })
    }

    fn what(&self) -> String {
        format!("database {}", self.name)
    }

    fn charset_clause(&self) -> String {
        let mut clause = String::new();
        if let Some(cs) = &self.encoding {
            clause.push_str(&format!(" CHARACTER SET {cs}"));
        }
        if let Some(co) = &self.collation {
            clause.push_str(&format!(" COLLATE {co}"));
        }
        clause
    }
}

#[async_trait]
impl Resource for MariadbDatabase {
    fn probe(&self) -> String {
        probe_script(&format!(
            "SELECT 'db', DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {};",
            string(&self.name)
        ))
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        let server = Server::parse(observed, &format!("mariadb_database {}", self.name))?;
        let row = server.tagged("db").into_iter().next();
        let what = self.what();
        let Some(row) = row else {
            return Ok(match self.present {
                true => vec![Change::Create {
                    what: format!("{what}{}", self.charset_clause().to_lowercase()),
                }],
                false => vec![],
            });
        };
        if !self.present {
            return Ok(vec![Change::Remove { what }]);
        }

        let mut changes = Vec::new();
        let have_cs = row.first().cloned().unwrap_or_default();
        let have_co = row.get(1).cloned().unwrap_or_default();
        if let Some(cs) = &self.encoding {
            if canonical_charset(cs) != have_cs {
                changes.push(Change::Set {
                    what: what.clone(),
                    field: "encoding".into(),
                    from: have_cs,
                    to: cs.clone(),
                });
            }
        }
        if let Some(co) = &self.collation {
            if canonical_charset(co) != have_co {
                changes.push(Change::Set {
                    what,
                    field: "collation".into(),
                    from: have_co,
                    to: co.clone(),
                });
            }
        }
        Ok(changes)
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        _observed: &Probe,
        changes: &[Change],
    ) -> Result<(), ResourceError> {
        let db = ident(&self.name);
        let mut sql = String::new();
        for change in changes {
            match change {
                Change::Create { .. } => sql.push_str(&format!(
                    "CREATE DATABASE IF NOT EXISTS {db}{};\n",
                    self.charset_clause()
                )),
                Change::Remove { .. } => sql.push_str(&format!("DROP DATABASE IF EXISTS {db};\n")),
                Change::Set { .. } => {
                    // Both attributes in one statement, whichever differed.
                    sql = format!("ALTER DATABASE {db}{};\n", self.charset_clause());
                    break;
                }
                _ => {}
            }
        }
        host.run_ok(&self.what(), &apply_script(&sql, true)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value) -> Result<MariadbDatabase, ArgError> {
        crate::resources::args::build_from("mariadb_database", v, MariadbDatabase::from_args)
    }

    #[test]
    fn arguments_are_checked() {
        let d = build(json!({"name": "app", "encoding": "UTF8MB4"})).unwrap();
        assert_eq!(d.encoding.as_deref(), Some("utf8mb4"));
        assert!(build(json!({"name": "app", "encoding": "utf8; DROP"})).is_err());
        assert!(build(json!({"name": "app", "state": "gone"})).is_err());
    }

    #[test]
    fn not_installed_means_create() {
        let d = build(json!({"name": "app", "encoding": "utf8mb4"})).unwrap();
        let changes = d.diff(&Probe::from_stdout("server=absent\n")).unwrap();
        assert_eq!(
            changes[0].to_string(),
            "create database app character set utf8mb4"
        );
        assert_eq!(d.diff(&Probe::from_stdout("server=up\n")).unwrap().len(), 1);
        let gone = build(json!({"name": "app", "state": "absent"})).unwrap();
        assert!(gone
            .diff(&Probe::from_stdout("server=absent\n"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn existing_database_is_compared_by_charset() {
        let d = build(json!({"name": "app", "encoding": "utf8", "collation": "utf8_bin"})).unwrap();
        let same = "server=up\nrow=db\tutf8mb3\tutf8mb3_bin\n";
        assert!(d.diff(&Probe::from_stdout(same)).unwrap().is_empty());
        let other = "server=up\nrow=db\tlatin1\tlatin1_swedish_ci\n";
        let changes = d.diff(&Probe::from_stdout(other)).unwrap();
        assert_eq!(
            changes[0].to_string(),
            "database app: encoding latin1 -> utf8"
        );
        assert_eq!(changes.len(), 2);
        let gone = build(json!({"name": "app", "state": "absent"})).unwrap();
        assert_eq!(
            gone.diff(&Probe::from_stdout(other)).unwrap()[0].to_string(),
            "remove database app"
        );
    }

    #[test]
    fn the_name_is_quoted_in_the_probe() {
        let d = build(json!({"name": "o'brien"})).unwrap();
        assert!(d.probe().contains(r"SCHEMA_NAME = 'o\'brien';"));
    }
}
