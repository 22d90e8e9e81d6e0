//! Checks of the resources against a real Debian host, off by default.
//!
//! Each step builds a resource as a task would, runs its probe on the host, applies the
//! changes, and probes again expecting none. The host is reached by the command in
//! `DSPROV_LIVE_SHELL`, which must read a script on stdin, e.g. a test host from
//! tests/vps: `ssh -i KEY -o UserKnownHostsFile=... root@127.0.0.71 sh -s`.
//!
//! DSPROV_LIVE_SHELL='ssh ... sh -s' cargo test --lib live_check -- --ignored --test-threads 1

use serde_json::{json, Value};

use super::{registry, BuildCtx, Change, HostHandle, Probe, Resource};
use crate::transport::local::LocalTransport;
use crate::transport::Transport;

struct Live {
    shell: String,
    transport: LocalTransport,
    shared: crate::engine::Shared,
}

impl Live {
    fn from_env() -> Live {
        Live {
            shell: std::env::var("DSPROV_LIVE_SHELL").expect("set DSPROV_LIVE_SHELL"),
            transport: LocalTransport,
            shared: Default::default(),
        }
    }

    fn build(&self, module: &str, args: Value) -> Box<dyn Resource> {
        let render = |_: &std::path::Path| Err("no templates here".to_string());
        let ctx = BuildCtx {
            host: "live",
            file_dirs: &[],
            template_dirs: &[],
            inventory_dir: std::path::Path::new("."),
            render_file: &render,
        };
        let args = super::Args::new(module, args.as_object().unwrap().clone());
        registry::build(module, args, &ctx).unwrap()
    }

    async fn probe(&self, r: &dyn Resource) -> Probe {
        // As the engine does: a subshell, stderr dropped.
        let script = format!("( {}\n) 2>/dev/null\n", r.probe());
        let out = self
            .transport
            .exec(&self.shell, script.as_bytes())
            .await
            .unwrap();
        Probe {
            status: out.status,
            stdout: out.stdout_text(),
        }
    }

    fn host(&self) -> HostHandle<'_> {
        HostHandle {
            name: "live",
            transport: &self.transport,
            shell: &self.shell,
            shared: &self.shared,
        }
    }

    /// Applies `args` and checks that a second probe finds nothing left to do.
    /// Returns the changes of the first pass.
    async fn converge(&self, module: &str, args: Value) -> Vec<String> {
        let r = self.build(module, args.clone());
        let observed = self.probe(r.as_ref()).await;
        let changes = r
            .diff(&observed)
            .unwrap_or_else(|e| panic!("{module} {args}: {e}\nprobe: {}", observed.stdout));
        if !changes.is_empty() {
            r.apply(&self.host(), &observed, &changes)
                .await
                .unwrap_or_else(|e| panic!("{module} {args}: {e}"));
        }
        let again = self.probe(r.as_ref()).await;
        let left: Vec<Change> = r.diff(&again).unwrap();
        assert!(
            left.is_empty(),
            "{module} {args}: still to do after apply: {left:?}\nprobe: {}",
            again.stdout
        );
        let shown: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        eprintln!("{module}: {shown:?}");
        shown
    }

    /// Runs `r` as the engine runs a handler: `apply` with no changes.
    async fn handler(&self, module: &str, args: Value) {
        let r = self.build(module, args);
        r.apply(&self.host(), &Probe::default(), &[]).await.unwrap();
    }

    async fn sh(&self, script: &str) -> String {
        let out = self
            .transport
            .exec(&self.shell, script.as_bytes())
            .await
            .unwrap();
        assert!(out.success(), "{script}: {}", out.stderr_text());
        out.stdout_text()
    }
}

#[tokio::test]
#[ignore]
async fn accounts_packages_and_services() {
    let live = Live::from_env();

    let c = live
        .converge("group", json!({"name": "dsgrp", "gid": 5101}))
        .await;
    assert_eq!(c, ["create group dsgrp"]);
    let c = live
        .converge("group", json!({"name": "dsgrp", "gid": 5102}))
        .await;
    assert_eq!(c, ["group dsgrp: gid 5101 -> 5102"]);

    // A made-up hash: chpasswd -e stores it as given.
    let hash = "$6$dsprovsalt$Q0f2wZ5b5fHqIhJ4u9s5I1p9W3Kq5qZ6q4mT2yCz5aGmOQ0w6nO5cV1a2r3Q8yP1t";
    let user = json!({"name": "dsuser", "uid": 5201, "groups": ["dsgrp", "adm"],
                      "shell": "/bin/sh", "comment": "dsprov test", "password": hash});
    let c = live.converge("user", user.clone()).await;
    assert_eq!(c, ["create user dsuser"]);
    let mut changed = user.clone();
    changed["shell"] = json!("/usr/sbin/nologin");
    changed["groups"] = json!(["dsgrp"]);
    changed["password"] = json!("$6$other$abc");
    let c = live.converge("user", changed).await;
    assert_eq!(c.len(), 3, "{c:?}");
    assert!(c.iter().all(|c| !c.contains("$6$")));
    live.converge(
        "user",
        json!({"name": "dsuser", "groups": ["adm"], "append": true}),
    )
    .await;
    assert!(live.sh("id -Gn dsuser").await.contains("adm"));
    live.converge(
        "user",
        json!({"name": "dsuser", "state": "absent", "remove": true}),
    )
    .await;
    live.converge("group", json!({"name": "dsgrp", "state": "absent"}))
        .await;

    // Lists two days old: stale for an hour's validity, so refreshing is a change.
    live.sh(
        "mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp\n\
         touch -d '2 days ago' /var/lib/apt/periodic/update-success-stamp /var/lib/apt/lists\n",
    )
    .await;
    let apt = json!({"name": ["cron", "less"], "update_cache": true, "cache_valid_time": 3600});
    let c = live.converge("apt", apt.clone()).await;
    assert!(
        c[0].starts_with("run apt-get update (last refreshed 17"),
        "{c:?}"
    );
    // Lists just refreshed: a second task sees them fresh and does nothing.
    assert!(live.converge("apt", apt).await.is_empty());
    live.converge("apt", json!({"name": "less", "state": "latest"}))
        .await;
    let c = live
        .converge(
            "apt",
            json!({"name": "less", "state": "absent", "purge": true}),
        )
        .await;
    assert_eq!(c, ["packages: remove less"]);

    let c = live
        .converge(
            "service",
            json!({"name": "cron", "state": "stopped", "enabled": false}),
        )
        .await;
    assert_eq!(c.len(), 2, "{c:?}");
    let c = live
        .converge(
            "service",
            json!({"name": "cron", "state": "started", "enabled": true}),
        )
        .await;
    assert_eq!(c.len(), 2, "{c:?}");
    let pid = live.sh("systemctl show -p MainPID --value cron").await;
    assert!(live
        .converge("service", json!({"name": "cron", "state": "restarted"}))
        .await
        .is_empty());
    live.handler("service", json!({"name": "cron", "state": "restarted"}))
        .await;
    assert_ne!(pid, live.sh("systemctl show -p MainPID --value cron").await);

    let r = live.build(
        "service",
        json!({"name": "no-such-unit", "state": "started"}),
    );
    let err = r.diff(&live.probe(r.as_ref()).await).unwrap_err();
    assert!(err.to_string().contains("no-such-unit"), "{err}");
}

#[tokio::test]
#[ignore]
async fn mariadb() {
    let live = Live::from_env();

    // Before the server is installed the probes say "absent" instead of failing.
    let db = live.build("mariadb_database", json!({"name": "app"}));
    let before = live.probe(db.as_ref()).await;
    if before.stdout.contains("server=absent") {
        assert_eq!(db.diff(&before).unwrap().len(), 1);
    }

    // Test hosts share the machine's network: listen only on the host's own address
    // (DSPROV_LIVE_ADDR), or on no TCP port at all. Written before the package starts.
    let listen = match std::env::var("DSPROV_LIVE_ADDR") {
        Ok(addr) => format!("bind-address = {addr}"),
        Err(_) => "skip-networking".to_string(),
    };
    live.sh(&format!(
        "mkdir -p /etc/mysql/mariadb.conf.d\n\
         printf '[mysqld]\\n{listen}\\n' > /etc/mysql/mariadb.conf.d/99-dsprov-test.cnf\n"
    ))
    .await;
    live.converge("apt", json!({"name": "mariadb-server"}))
        .await;
    // Leftovers of an earlier, failed run.
    live.sh(
        "mariadb -e \"STOP SLAVE; RESET SLAVE ALL; DROP USER IF EXISTS 'app'@'%'; \
         DROP DATABASE IF EXISTS app\"\nrm -f /var/lib/dsprov/mariadb-replication.fp\n",
    )
    .await;

    let c = live
        .converge(
            "mariadb_database",
            json!({"name": "app", "encoding": "utf8mb4",
                                             "collation": "utf8mb4_unicode_ci"}),
        )
        .await;
    eprintln!("{c:?}");
    let c = live
        .converge(
            "mariadb_database",
            json!({"name": "app", "encoding": "latin1"}),
        )
        .await;
    assert_eq!(c, ["database app: encoding utf8mb4 -> latin1"]);

    let user = json!({"name": "app", "host": "%", "password": "s3cret'pw",
                      "priv": "app.*:SELECT,INSERT/*.*:REPLICATION SLAVE,BINLOG MONITOR",
                      "sql_log_bin": false});
    let c = live.converge("mariadb_user", user.clone()).await;
    assert_eq!(c, ["create mariadb user 'app'@'%'"]);
    // The stored hash does not come back in the probe's output.
    let r = live.build("mariadb_user", user.clone());
    let out = live.probe(r.as_ref()).await.stdout;
    let hash = super::mariadb_client::native_password_hash("s3cret'pw");
    assert!(
        out.contains("IDENTIFIED BY PASSWORD '-'") && !out.contains(&hash[1..]),
        "{out}"
    );
    let mut changed = user.clone();
    changed["password"] = json!("other");
    changed["priv"] = json!("app.*:ALL,GRANT");
    changed["require_ssl"] = json!(true);
    let c = live.converge("mariadb_user", changed).await;
    assert_eq!(c.len(), 4, "{c:?}");
    assert!(c.iter().all(|c| !c.contains("other")));
    live.converge(
        "mariadb_user",
        json!({"name": "app", "host": "%", "priv": "*.*:PROCESS",
                                        "append_privs": true}),
    )
    .await;
    let grants = live.sh("mariadb -N -e \"SHOW GRANTS FOR 'app'@'%'\"").await;
    assert!(grants.contains("PROCESS") && grants.contains("ALL PRIVILEGES ON `app`"));

    let q = json!({"database": "app", "query": ["CREATE TABLE t (id INT)",
                                                "INSERT INTO t VALUES (1)"],
                   "unless": "SHOW TABLES LIKE 't'"});
    assert_eq!(live.converge("mariadb_query", q).await.len(), 1);

    live.converge(
        "mariadb_user",
        json!({"name": "app", "host": "%", "state": "absent"}),
    )
    .await;
    live.converge(
        "mariadb_database",
        json!({"name": "app", "state": "absent"}),
    )
    .await;

    // A peer that does not exist: the IO thread keeps "Connecting", which counts as running.
    let repl = json!({"primary_host": "127.0.0.254", "primary_port": 3307,
                      "primary_user": "repl", "primary_password": "r3pl'pw",
                      "ssl": true, "ssl_verify_server_cert": false, "connect_retry": 10});
    let c = live.converge("mariadb_replication", repl.clone()).await;
    assert_eq!(c, ["create replication from 127.0.0.254:3307"]);
    let mut changed = repl.clone();
    changed["primary_password"] = json!("new");
    changed["connect_retry"] = json!(20);
    let c = live.converge("mariadb_replication", changed).await;
    assert_eq!(c.len(), 2, "{c:?}");
    let c = live
        .converge("mariadb_replication", json!({"state": "stopped"}))
        .await;
    assert_eq!(c.len(), 1, "{c:?}");
    live.sh("mariadb -e 'RESET SLAVE ALL'").await;

    // A stopped server is "down": the database is planned, not an error.
    live.sh("systemctl stop mariadb").await;
    let db = live.build("mariadb_database", json!({"name": "app"}));
    let down = live.probe(db.as_ref()).await;
    live.sh("systemctl start mariadb").await;
    assert_eq!(db.diff(&down).unwrap().len(), 1, "{}", down.stdout);
}
