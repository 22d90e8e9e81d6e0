//! `mariadb_replication`: this server replicating from a primary (the default connection),
//! with its threads running or stopped.
//!
//! `SHOW SLAVE STATUS` shows every setting but the password. So after a successful
//! CHANGE MASTER a fingerprint (SHA-256 of host, user and password) is kept in `FP_FILE`,
//! mode 0600, and the probe compares it on the host: a changed password is seen without
//! the password ever being read back or printed.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sha2::Digest;

use super::mariadb_client::{apply_script, probe_script, string, Server};
use super::remote::quote;
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

const FP_DIR: &str = "/var/lib/dsprov";
const FP_FILE: &str = "/var/lib/dsprov/mariadb-replication.fp";
const WHAT: &str = "replication";

#[derive(Debug)]
pub struct MariadbReplication {
    pub primary_host: Option<String>,
    pub primary_port: u64,
    pub primary_user: Option<String>,
    pub primary_password: Option<String>,
    /// `slave_pos`, `current_pos` or `no`.
    pub use_gtid: String,
    pub ssl: Option<bool>,
    pub ssl_ca: Option<String>,
    pub ssl_verify_server_cert: Option<bool>,
    pub connect_retry: Option<u64>,
    pub running: bool,
}

impl MariadbReplication {
    pub fn from_args(args: &mut Args) -> Result<MariadbReplication, ArgError> {
        let running = args.choice("state", &["running", "stopped"], "running")? == "running";
        let primary_host = args.str("primary_host")?;
        if running && primary_host.is_none() {
            return Err(args.error("state=running needs `primary_host`"));
        }
        let primary_port = args.u64("primary_port")?.unwrap_or(3306);
        if !(1..=65535).contains(&primary_port) {
            return Err(args.error("`primary_port` must be 1 to 65535"));
        }
        Ok(MariadbReplication {
            primary_host,
            primary_port,
            primary_user: args.str("primary_user")?,
            primary_password: args.str("primary_password")?,
            use_gtid: args.choice("use_gtid", &["slave_pos", "current_pos", "no"], "slave_pos")?,
            ssl: args.bool("ssl")?,
            ssl_ca: args.str("ssl_ca")?,
            ssl_verify_server_cert: args.bool("ssl_verify_server_cert")?,
            connect_retry: args.u64("connect_retry")?,
            running,
        })
    }

    /// What identifies the credentials last given to CHANGE MASTER.
    fn fingerprint(&self) -> Option<String> {
        let password = self.primary_password.as_ref()?;
        let mut h = sha2::Sha256::new();
        for part in [
            self.primary_host.as_deref().unwrap_or(""),
            self.primary_user.as_deref().unwrap_or(""),
            password,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        Some(hex::encode(h.finalize()))
    }

    /// The settings to compare: SHOW SLAVE STATUS field, value it should have.
    fn wanted(&self) -> Vec<(&'static str, String)> {
        let yes_no = |b: bool| if b { "Yes" } else { "No" }.to_string();
        let mut want = Vec::new();
        let Some(host) = &self.primary_host else {
            return want;
        };
        want.push(("Master_Host", host.clone()));
        want.push(("Master_Port", self.primary_port.to_string()));
        if let Some(user) = &self.primary_user {
            want.push(("Master_User", user.clone()));
        }
        want.push(("Using_Gtid", self.use_gtid.clone()));
        if let Some(ssl) = self.ssl {
            want.push(("Master_SSL_Allowed", yes_no(ssl)));
        }
        if let Some(ca) = &self.ssl_ca {
            want.push(("Master_SSL_CA_File", ca.clone()));
        }
        if let Some(verify) = self.ssl_verify_server_cert {
            want.push(("Master_SSL_Verify_Server_Cert", yes_no(verify)));
        }
        if let Some(retry) = self.connect_retry {
            want.push(("Connect_Retry", retry.to_string()));
        }
        want
    }

    fn change_master(&self) -> String {
        let flag = |b: bool| if b { "1" } else { "0" };
        let mut opts = vec![
            format!(
                "MASTER_HOST = {}",
                string(self.primary_host.as_deref().unwrap_or(""))
            ),
            format!("MASTER_PORT = {}", self.primary_port),
        ];
        if let Some(user) = &self.primary_user {
            opts.push(format!("MASTER_USER = {}", string(user)));
        }
        if let Some(pw) = &self.primary_password {
            opts.push(format!("MASTER_PASSWORD = {}", string(pw)));
        }
        opts.push(format!("MASTER_USE_GTID = {}", self.use_gtid));
        if let Some(ssl) = self.ssl {
            opts.push(format!("MASTER_SSL = {}", flag(ssl)));
        }
        if let Some(ca) = &self.ssl_ca {
            opts.push(format!("MASTER_SSL_CA = {}", string(ca)));
        }
        if let Some(verify) = self.ssl_verify_server_cert {
            opts.push(format!("MASTER_SSL_VERIFY_SERVER_CERT = {}", flag(verify)));
        }
        if let Some(retry) = self.connect_retry {
            opts.push(format!("MASTER_CONNECT_RETRY = {retry}"));
        }
        format!("CHANGE MASTER TO {};\n", opts.join(", "))
    }
}

/// `Field: value` lines of `SHOW SLAVE STATUS\G`, and the `gtid_slave_pos` row.
fn parse_status(server: &Server) -> BTreeMap<String, String> {
    let Server::Up(rows) = server else {
        return BTreeMap::new();
    };
    rows.iter()
        .filter_map(|r| {
            if let Some(pos) = r.strip_prefix("gtid_slave_pos\t") {
                return Some(("gtid_slave_pos".to_string(), pos.to_string()));
            }
            let (key, value) = r.trim_start().split_once(':')?;
            let key_ok =
                !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            key_ok.then(|| (key.to_string(), value.trim().to_string()))
        })
        .collect()
}

#[async_trait]
impl Resource for MariadbReplication {
    fn probe(&self) -> String {
        let mut script =
            probe_script("SHOW SLAVE STATUS\\G\nSELECT 'gtid_slave_pos', @@gtid_slave_pos;");
        if let Some(fp) = self.fingerprint() {
            script.push_str(&format!(
                "if [ \"$(cat {FP_FILE} 2>/dev/null)\" = {} ]; then echo fp=same; \
                 else echo fp=differs; fi\n",
                quote(&fp)
            ));
        }
        script
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        let server = Server::parse(observed, "mariadb_replication")?;
        let status = parse_status(&server);
        let get = |k: &str| status.get(k).map(String::as_str).unwrap_or("");
        let configured = !get("Master_Host").is_empty();
        let threads_up = matches!(get("Slave_IO_Running"), "Yes" | "Connecting")
            && get("Slave_SQL_Running") == "Yes";
        let threads_any = get("Slave_IO_Running") != "No" || get("Slave_SQL_Running") != "No";

        let mut changes = Vec::new();
        if !configured {
            if self.running {
                let host = self.primary_host.as_deref().unwrap_or("");
                let pos = match get("gtid_slave_pos") {
                    "" => String::new(),
                    p => format!(", gtid_slave_pos {p}"),
                };
                changes.push(Change::Create {
                    what: format!("{WHAT} from {host}:{}{pos}", self.primary_port),
                });
            }
            return Ok(changes);
        }

        for (field, want) in self.wanted() {
            let have = get(field);
            if !have.eq_ignore_ascii_case(&want) {
                changes.push(Change::Set {
                    what: WHAT.into(),
                    field: field.into(),
                    from: if have.is_empty() { "-" } else { have }.into(),
                    to: want,
                });
            }
        }
        if self.primary_host.is_some() && observed.field("fp").is_some_and(|f| f != "same") {
            changes.push(Change::Set {
                what: WHAT.into(),
                field: "password".into(),
                from: "********".into(),
                to: "(changed)".into(),
            });
        }
        if self.running != threads_up && (self.running || threads_any) {
            changes.push(Change::Set {
                what: WHAT.into(),
                field: "threads".into(),
                from: format!(
                    "io={} sql={}",
                    get("Slave_IO_Running"),
                    get("Slave_SQL_Running")
                ),
                to: if self.running { "running" } else { "stopped" }.into(),
            });
        }
        Ok(changes)
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        observed: &Probe,
        changes: &[Change],
    ) -> Result<(), ResourceError> {
        let reconfigure = changes.iter().any(|c| match c {
            Change::Create { .. } => true,
            Change::Set { field, .. } => field != "threads",
            _ => false,
        });
        // CHANGE MASTER needs the threads stopped; STOP SLAVE needs a configured replica.
        let was_configured = Server::parse(observed, "mariadb_replication")
            .map(|s| parse_status(&s))
            .is_ok_and(|st| st.get("Master_Host").is_some_and(|h| !h.is_empty()));

        let mut sql = String::new();
        if reconfigure {
            if was_configured {
                sql.push_str("STOP SLAVE;\n");
            }
            sql.push_str(&self.change_master());
        } else if !self.running {
            sql.push_str("STOP SLAVE;\n");
        }
        if self.running {
            sql.push_str("START SLAVE;\n");
        }

        let mut script = format!("set -e\n{}", apply_script(&sql, true));
        if let (true, Some(fp)) = (reconfigure, self.fingerprint()) {
            script.push_str(&format!(
                "mkdir -p {FP_DIR}\n\
                 (umask 077; printf '%s\\n' {} > {FP_FILE}.tmp)\n\
                 mv -f {FP_FILE}.tmp {FP_FILE}\n",
                quote(&fp)
            ));
        }
        host.run_ok("mariadb replication", &script).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value) -> Result<MariadbReplication, ArgError> {
        let mut args = Args::new("mariadb_replication", v.as_object().unwrap().clone());
        let r = MariadbReplication::from_args(&mut args)?;
        args.finish()?;
        Ok(r)
    }

    fn probe(s: &str) -> Probe {
        Probe {
            status: 0,
            stdout: s.into(),
        }
    }

    fn shown(changes: &[Change]) -> Vec<String> {
        changes.iter().map(|c| c.to_string()).collect()
    }

    /// What the probe printed on a MariaDB 10.11 replica (trimmed to the fields used).
    const RUNNING: &str = "server=up\n\
        row=*************************** 1. row ***************************\n\
        row=                Slave_IO_State: Waiting for master to send event\n\
        row=                   Master_Host: 10.0.0.1\n\
        row=                   Master_User: repl\n\
        row=                   Master_Port: 3306\n\
        row=                 Connect_Retry: 60\n\
        row=              Slave_IO_Running: Yes\n\
        row=             Slave_SQL_Running: Yes\n\
        row=            Master_SSL_Allowed: Yes\n\
        row=            Master_SSL_CA_File: /etc/mysql/ca.pem\n\
        row= Master_SSL_Verify_Server_Cert: Yes\n\
        row=                    Using_Gtid: Slave_Pos\n\
        row=gtid_slave_pos\t0-1-42\n\
        fp=same\n";

    fn args() -> serde_json::Value {
        json!({"primary_host": "10.0.0.1", "primary_user": "repl",
               "primary_password": "pw", "ssl": true, "ssl_ca": "/etc/mysql/ca.pem",
               "ssl_verify_server_cert": true, "connect_retry": 60})
    }

    #[test]
    fn arguments_are_checked() {
        let r = build(args()).unwrap();
        assert_eq!(r.primary_port, 3306);
        assert_eq!(r.use_gtid, "slave_pos");
        assert!(build(json!({"primary_user": "repl"})).is_err());
        assert!(build(json!({"primary_host": "h", "use_gtid": "yes"})).is_err());
        assert!(build(json!({"state": "stopped"})).is_ok());
    }

    #[test]
    fn status_is_parsed() {
        let server = Server::parse(&probe(RUNNING), "x").unwrap();
        let st = parse_status(&server);
        assert_eq!(st["Slave_IO_State"], "Waiting for master to send event");
        assert_eq!(st["Master_SSL_Verify_Server_Cert"], "Yes");
        assert_eq!(st["gtid_slave_pos"], "0-1-42");
    }

    #[test]
    fn a_converged_replica_has_no_changes() {
        assert!(build(args())
            .unwrap()
            .diff(&probe(RUNNING))
            .unwrap()
            .is_empty());
        let connecting = RUNNING.replace("Slave_IO_Running: Yes", "Slave_IO_Running: Connecting");
        assert!(build(args())
            .unwrap()
            .diff(&probe(&connecting))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_unconfigured_server_is_set_up() {
        let r = build(args()).unwrap();
        let out = "server=up\nrow=gtid_slave_pos\t\nfp=differs\n";
        assert_eq!(
            shown(&r.diff(&probe(out)).unwrap()),
            ["create replication from 10.0.0.1:3306"]
        );
        assert_eq!(r.diff(&probe("server=absent\n")).unwrap().len(), 1);
    }

    #[test]
    fn differing_settings_and_password_are_changes_without_the_secret() {
        let mut a = args();
        a["primary_host"] = json!("10.0.0.2");
        a["primary_password"] = json!("hunter2");
        let r = build(a).unwrap();
        let out = RUNNING.replace("fp=same", "fp=differs");
        let changes = shown(&r.diff(&probe(&out)).unwrap());
        assert_eq!(
            changes,
            [
                "replication: Master_Host 10.0.0.1 -> 10.0.0.2",
                "replication: password ******** -> (changed)"
            ]
        );
        assert!(changes.iter().all(|c| !c.contains("hunter2")));
        assert!(!r.probe().contains("hunter2"));
        assert!(r.change_master().contains("MASTER_PASSWORD = 'hunter2'"));
    }

    #[test]
    fn threads_follow_the_state() {
        let stopped = RUNNING.replace("Slave_SQL_Running: Yes", "Slave_SQL_Running: No");
        assert_eq!(
            shown(&build(args()).unwrap().diff(&probe(&stopped)).unwrap()),
            ["replication: threads io=Yes sql=No -> running"]
        );
        let stop = build(json!({"state": "stopped"})).unwrap();
        assert_eq!(stop.diff(&probe(RUNNING)).unwrap().len(), 1);
        let idle = RUNNING
            .replace("Slave_SQL_Running: Yes", "Slave_SQL_Running: No")
            .replace("Slave_IO_Running: Yes", "Slave_IO_Running: No");
        assert!(stop.diff(&probe(&idle)).unwrap().is_empty());
        assert!(stop.diff(&probe("server=up\n")).unwrap().is_empty());
    }
}
