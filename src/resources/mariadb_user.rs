//! `mariadb_user`: an account (`name`@`host`) with a password, privileges and an SSL
//! requirement, or its absence.
//!
//! The plain password never leaves the controller: it is hashed here the way
//! `mysql_native_password` stores it, the probe compares hashes on the server and prints
//! only `same` or `differs`, and CREATE/ALTER USER send the hash (`IDENTIFIED BY
//! PASSWORD`). `SHOW GRANTS` output is stripped of hashes before it leaves the host.

use async_trait::async_trait;

use super::mariadb_client::{
    account, apply_script, client_call, native_password_hash, probe_script_then, string, Server,
};
use super::mariadb_privs::{parse_show_grants, parse_spec, plan, Privs};
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

const HIDDEN: &str = "********";

#[derive(Debug)]
pub struct MariadbUser {
    pub name: String,
    pub host: String,
    pub present: bool,
    /// `mysql_native_password` hash of the declared password.
    pub password_hash: Option<String>,
    pub privs: Option<Privs>,
    pub append_privs: bool,
    pub require_ssl: Option<bool>,
    pub sql_log_bin: bool,
}

impl MariadbUser {
    pub fn from_args(args: &mut Args) -> Result<MariadbUser, ArgError> {
        let name = args.req_str("name")?;
        if name.len() > 128 {
            return Err(args.error("`name` is longer than 128 characters"));
        }
        let host = args.str("host")?.unwrap_or_else(|| "localhost".into());
        let privs = match args.str("priv")? {
            Some(spec) => Some(parse_spec(&spec).map_err(|e| args.error(format!("`priv`: {e}")))?),
            None => None,
        };
        Ok(MariadbUser {
            name,
            host,
            present: args.choice("state", &["present", "absent"], "present")? == "present",
            password_hash: args.str("password")?.map(|p| native_password_hash(&p)),
            privs,
            append_privs: args.bool("append_privs")?.unwrap_or(false),
            require_ssl: args.bool("require_ssl")?,
            sql_log_bin: args.bool("sql_log_bin")?.unwrap_or(true),
        })
    }

    fn account(&self) -> String {
        account(&self.name, &self.host)
    }

    fn what(&self) -> String {
        format!("mariadb user '{}'@'{}'", self.name, self.host)
    }

    /// The privileges the user has now, from the probe's `grant=` lines.
    fn current_privs(observed: &Probe) -> Privs {
        parse_show_grants(
            observed
                .stdout
                .lines()
                .filter_map(|l| l.strip_prefix("grant=")),
        )
    }

    fn require_clause(&self) -> &'static str {
        match self.require_ssl {
            Some(true) => " REQUIRE SSL",
            Some(false) => " REQUIRE NONE",
            None => "",
        }
    }
}

#[async_trait]
impl Resource for MariadbUser {
    fn probe(&self) -> String {
        let hash = string(self.password_hash.as_deref().unwrap_or(""));
        let sql = format!(
            "SELECT 'user', ssl_type, IF(authentication_string = {hash}, 'same', 'differs') \
             FROM mysql.user WHERE User = {} AND Host = {};",
            string(&self.name),
            string(&self.host)
        );
        // Grants only of an existing user (SHOW GRANTS fails otherwise), hashes removed.
        let grants = client_call(&format!("SHOW GRANTS FOR {};", self.account()));
        let then = format!(
            "case \"$out\" in user*) ( {grants}) | sed -e \"s/ PASSWORD '[^']*'/ PASSWORD '-'/\" \
             -e \"s/ USING '[^']*'/ USING '-'/\" -e 's/^/grant=/' ;; esac\n"
        );
        probe_script_then(&sql, &then)
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        let server = Server::parse(observed, &self.what())?;
        let row = server.tagged("user").into_iter().next();
        let what = self.what();
        let Some(row) = row else {
            return Ok(match self.present {
                true => vec![Change::Create { what }],
                false => vec![],
            });
        };
        if !self.present {
            return Ok(vec![Change::Remove { what }]);
        }

        let mut changes = Vec::new();
        let ssl_type = row.first().map(String::as_str).unwrap_or("");
        if self.password_hash.is_some() && row.get(1).map(String::as_str) != Some("same") {
            changes.push(Change::Set {
                what: what.clone(),
                field: "password".into(),
                from: HIDDEN.into(),
                to: HIDDEN.into(),
            });
        }
        if let Some(want) = self.require_ssl {
            // ANY is REQUIRE SSL; X509 and SPECIFIED are stricter and also need SSL.
            let have = !ssl_type.is_empty();
            if have != want {
                changes.push(Change::Set {
                    what: what.clone(),
                    field: "require_ssl".into(),
                    from: have.to_string(),
                    to: want.to_string(),
                });
            }
        }
        if let Some(want) = &self.privs {
            let have = Self::current_privs(observed);
            for level in plan(want, &have, self.append_privs) {
                let (from, to) = level.from_to();
                changes.push(Change::Set {
                    what: what.clone(),
                    field: format!("privileges on {}", level.target),
                    from,
                    to,
                });
            }
        }
        Ok(changes)
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        observed: &Probe,
        changes: &[Change],
    ) -> Result<(), ResourceError> {
        let acct = self.account();
        let has = |f: &str| {
            changes
                .iter()
                .any(|c| matches!(c, Change::Set { field, .. } if field == f))
        };
        let mut sql = String::new();

        if changes.iter().any(|c| matches!(c, Change::Remove { .. })) {
            sql.push_str(&format!("DROP USER IF EXISTS {acct};\n"));
        } else if changes.iter().any(|c| matches!(c, Change::Create { .. })) {
            let identified = match &self.password_hash {
                Some(h) => format!(" IDENTIFIED BY PASSWORD {}", string(h)),
                None => String::new(),
            };
            sql.push_str(&format!(
                "CREATE USER {acct}{identified}{};\n",
                self.require_clause()
            ));
            if let Some(want) = &self.privs {
                for level in plan(want, &Privs::new(), false) {
                    sql.push_str(&level.statements(&acct));
                }
            }
        } else {
            if let (Some(h), true) = (&self.password_hash, has("password")) {
                sql.push_str(&format!(
                    "ALTER USER {acct} IDENTIFIED BY PASSWORD {};\n",
                    string(h)
                ));
            }
            if has("require_ssl") {
                sql.push_str(&format!("ALTER USER {acct}{};\n", self.require_clause()));
            }
            if let Some(want) = &self.privs {
                let have = Self::current_privs(observed);
                for level in plan(want, &have, self.append_privs) {
                    sql.push_str(&level.statements(&acct));
                }
            }
        }
        if sql.is_empty() {
            return Ok(());
        }
        host.run_ok(&self.what(), &apply_script(&sql, self.sql_log_bin))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value) -> Result<MariadbUser, ArgError> {
        crate::resources::args::build_from("mariadb_user", v, MariadbUser::from_args)
    }

    const EXISTING: &str = "server=up\nrow=user\t\tsame\n\
        grant=GRANT USAGE ON *.* TO `app`@`localhost` IDENTIFIED BY PASSWORD '-'\n\
        grant=GRANT SELECT, INSERT ON `app`.* TO `app`@`localhost`\n";

    #[test]
    fn arguments_are_checked() {
        let u = build(json!({"name": "app", "password": "secret", "priv": "app.*:ALL"})).unwrap();
        assert_eq!(u.host, "localhost");
        assert_eq!(
            u.password_hash.as_deref(),
            Some("*14E65567ABDB5135D0CFD9A70B3032C179A49EE7")
        );
        assert!(build(json!({"name": "app", "priv": "app:ALL"})).is_err());
        assert!(build(json!({"name": "app", "pasword": "x"})).is_err());
    }

    #[test]
    fn the_probe_carries_no_plain_password() {
        let u = build(json!({"name": "app", "password": "s3cr3t-Pw"})).unwrap();
        let p = u.probe();
        assert!(!p.contains("s3cr3t-Pw"));
        assert!(p.contains("SHOW GRANTS FOR 'app'@'localhost';"));
    }

    #[test]
    fn a_missing_user_is_created_even_before_mariadb_is_installed() {
        let u = build(json!({"name": "app", "password": "x"})).unwrap();
        assert_eq!(
            Change::summaries(&u.diff(&Probe::from_stdout("server=absent\n")).unwrap()),
            ["create mariadb user 'app'@'localhost'"]
        );
        assert_eq!(u.diff(&Probe::from_stdout("server=up\n")).unwrap().len(), 1);
    }

    #[test]
    fn a_converged_user_has_no_changes() {
        let u = build(
            json!({"name": "app", "password": "x", "priv": "app.*:SELECT,INSERT",
                             "require_ssl": false}),
        )
        .unwrap();
        assert!(u.diff(&Probe::from_stdout(EXISTING)).unwrap().is_empty());
    }

    #[test]
    fn password_ssl_and_privileges_differences() {
        let u = build(
            json!({"name": "app", "password": "new", "require_ssl": true,
                             "priv": "app.*:SELECT/*.*:REPLICATION SLAVE"}),
        )
        .unwrap();
        let out = EXISTING.replace("\tsame", "\tdiffers");
        assert_eq!(
            Change::summaries(&u.diff(&Probe::from_stdout(&out)).unwrap()),
            [
                "mariadb user 'app'@'localhost': password ******** -> ********",
                "mariadb user 'app'@'localhost': require_ssl false -> true",
                "mariadb user 'app'@'localhost': privileges on *.* - -> REPLICATION SLAVE",
                "mariadb user 'app'@'localhost': privileges on app.* INSERT,SELECT -> SELECT",
            ]
        );
    }

    #[test]
    fn absent_drops_an_existing_user() {
        let u = build(json!({"name": "app", "state": "absent"})).unwrap();
        assert_eq!(
            Change::summaries(&u.diff(&Probe::from_stdout(EXISTING)).unwrap()),
            ["remove mariadb user 'app'@'localhost'"]
        );
        assert!(u
            .diff(&Probe::from_stdout("server=up\n"))
            .unwrap()
            .is_empty());
    }
}
