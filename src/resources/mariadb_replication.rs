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

use super::mariadb_client::{apply_script, probe_script_named, string, Server};
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

/// The row of `SHOW SLAVE STATUS` by column name, and `gtid_slave_pos`.
fn parse_status(server: &Server) -> BTreeMap<String, String> {
    let mut status: BTreeMap<String, String> =
        server.named_row("Slave_IO_State").into_iter().collect();
    // An empty position prints an empty row, which `Server` drops: then there is none.
    if let Some((_, pos)) = server.named_row("gtid_slave_pos").into_iter().next() {
        status.insert("gtid_slave_pos".into(), pos);
    }
    status
}

#[async_trait]
impl Resource for MariadbReplication {
    fn probe(&self) -> String {
        let mut script =
            probe_script_named("SHOW SLAVE STATUS;\nSELECT @@gtid_slave_pos AS gtid_slave_pos;");
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
        crate::resources::args::build_from("mariadb_replication", v, MariadbReplication::from_args)
    }

    /// `SHOW SLAVE STATUS` as MariaDB 10.11 printed it, replicating from a peer that
    /// refuses connections.
    const HEADER: &str = "Slave_IO_State\tMaster_Host\tMaster_User\tMaster_Port\t\
        Connect_Retry\tMaster_Log_File\tRead_Master_Log_Pos\tRelay_Log_File\tRelay_Log_Pos\t\
        Relay_Master_Log_File\tSlave_IO_Running\tSlave_SQL_Running\tReplicate_Do_DB\t\
        Replicate_Ignore_DB\tReplicate_Do_Table\tReplicate_Ignore_Table\t\
        Replicate_Wild_Do_Table\tReplicate_Wild_Ignore_Table\tLast_Errno\tLast_Error\t\
        Skip_Counter\tExec_Master_Log_Pos\tRelay_Log_Space\tUntil_Condition\tUntil_Log_File\t\
        Until_Log_Pos\tMaster_SSL_Allowed\tMaster_SSL_CA_File\tMaster_SSL_CA_Path\t\
        Master_SSL_Cert\tMaster_SSL_Cipher\tMaster_SSL_Key\tSeconds_Behind_Master\t\
        Master_SSL_Verify_Server_Cert\tLast_IO_Errno\tLast_IO_Error\tLast_SQL_Errno\t\
        Last_SQL_Error\tReplicate_Ignore_Server_Ids\tMaster_Server_Id\tMaster_SSL_Crl\t\
        Master_SSL_Crlpath\tUsing_Gtid\tGtid_IO_Pos\tReplicate_Do_Domain_Ids\t\
        Replicate_Ignore_Domain_Ids\tParallel_Mode\tSQL_Delay\tSQL_Remaining_Delay\t\
        Slave_SQL_Running_State\tSlave_DDL_Groups\tSlave_Non_Transactional_Groups\t\
        Slave_Transactional_Groups\tReplicate_Rewrite_DB";
    const VALUES: &str = "Connecting to master\t127.0.0.254\trepl\t3307\t10\t\t4\t\
        mysqld-relay-bin.000001\t4\t\tConnecting\tYes\t\t\t\t\t\t\t0\t\t0\t4\t256\tNone\t\t0\t\
        Yes\t\t\t\t\t\tNULL\tNo\t2003\terror connecting to master 'repl@127.0.0.254:3307' - \
        retry-time: 10  maximum-retries: 100000  message: Can't connect to server on \
        '127.0.0.254' (111 \"Connection refused\")\t0\t\t\t0\t\t\tSlave_Pos\t\t\t\toptimistic\t0\t\
        NULL\tSlave has read all relay log; waiting for more updates\t0\t0\t0\t";

    /// The probe's output for that replica with some columns changed.
    fn status(overrides: &[(&str, &str)], fp: &str) -> Probe {
        let values: Vec<&str> = HEADER
            .split('\t')
            .zip(VALUES.split('\t'))
            .map(|(k, v)| {
                overrides
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map_or(v, |(_, new)| *new)
            })
            .collect();
        Probe::from_stdout(&format!(
            "server=up\nrow={HEADER}\nrow={}\nrow=gtid_slave_pos\nrow=0-1-42\nfp={fp}\n",
            values.join("\t")
        ))
    }

    fn args() -> serde_json::Value {
        json!({"primary_host": "127.0.0.254", "primary_port": 3307, "primary_user": "repl",
               "primary_password": "pw", "ssl": true, "ssl_verify_server_cert": false,
               "connect_retry": 10})
    }

    #[test]
    fn arguments_are_checked() {
        let r = build(json!({"primary_host": "db1", "primary_port": "3307"})).unwrap();
        assert_eq!(r.primary_port, 3307);
        assert_eq!(
            build(json!({"primary_host": "db1"})).unwrap().primary_port,
            3306
        );
        assert_eq!(r.use_gtid, "slave_pos");
        assert!(build(json!({"primary_host": "h", "primary_port": 0})).is_err());
        assert!(build(json!({"primary_user": "repl"})).is_err());
        assert!(build(json!({"primary_host": "h", "use_gtid": "yes"})).is_err());
        assert!(build(json!({"state": "stopped"})).is_ok());
    }

    #[test]
    fn status_is_parsed() {
        let server = Server::parse(&status(&[], "same"), "x").unwrap();
        let st = parse_status(&server);
        assert_eq!(st["Slave_IO_State"], "Connecting to master");
        assert_eq!(st["Master_SSL_Verify_Server_Cert"], "No");
        assert_eq!(st["Using_Gtid"], "Slave_Pos");
        assert_eq!(st["gtid_slave_pos"], "0-1-42");
    }

    #[test]
    fn a_converged_replica_has_no_changes() {
        let r = build(args()).unwrap();
        assert!(r.diff(&status(&[], "same")).unwrap().is_empty());
        let up = status(&[("Slave_IO_Running", "Yes")], "same");
        assert!(r.diff(&up).unwrap().is_empty());
    }

    #[test]
    fn an_unconfigured_server_is_set_up() {
        let r = build(args()).unwrap();
        let out = "server=up\nrow=gtid_slave_pos\nfp=differs\n";
        assert_eq!(
            Change::summaries(&r.diff(&Probe::from_stdout(out)).unwrap()),
            ["create replication from 127.0.0.254:3307"]
        );
        assert_eq!(
            r.diff(&Probe::from_stdout("server=absent\n"))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn differing_settings_and_password_are_changes_without_the_secret() {
        let mut a = args();
        a["primary_host"] = json!("10.0.0.2");
        a["primary_password"] = json!("hunter2");
        a["ssl_ca"] = json!("/etc/mysql/ca.pem");
        let r = build(a).unwrap();
        let changes = Change::summaries(&r.diff(&status(&[], "differs")).unwrap());
        assert_eq!(
            changes,
            [
                "replication: Master_Host 127.0.0.254 -> 10.0.0.2",
                "replication: Master_SSL_CA_File - -> /etc/mysql/ca.pem",
                "replication: password ******** -> (changed)"
            ]
        );
        assert!(changes.iter().all(|c| !c.contains("hunter2")));
        assert!(!r.probe().contains("hunter2"));
        assert!(r.change_master().contains("MASTER_PASSWORD = 'hunter2'"));
    }

    #[test]
    fn threads_follow_the_state() {
        let sql_stopped = status(&[("Slave_SQL_Running", "No")], "same");
        assert_eq!(
            Change::summaries(&build(args()).unwrap().diff(&sql_stopped).unwrap()),
            ["replication: threads io=Connecting sql=No -> running"]
        );
        let stop = build(json!({"state": "stopped"})).unwrap();
        assert_eq!(stop.diff(&status(&[], "same")).unwrap().len(), 1);
        let idle = status(
            &[("Slave_SQL_Running", "No"), ("Slave_IO_Running", "No")],
            "same",
        );
        assert!(stop.diff(&idle).unwrap().is_empty());
        assert!(stop
            .diff(&Probe::from_stdout("server=up\n"))
            .unwrap()
            .is_empty());
    }
}
