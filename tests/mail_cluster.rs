//! The flagship end to end: two fresh Debian hosts become a replicated mail pair with one
//! `dsprov apply playbooks/site.yml`, checked the way an operator would check it.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::project::{hosts_or_skip, Project};
use common::vps::Vps;

/// The test hosts share one network namespace, where a connection to 127.0.0.12 leaves
/// from 127.0.0.1; MariaDB restricts each replication user to its peer's address, so the
/// pair's traffic must leave from each host's own address, as on real hosts.
struct PairRoutes([(&'static str, &'static str); 2]);

impl PairRoutes {
    fn add(a: &'static str, b: &'static str) -> PairRoutes {
        let routes = PairRoutes([(b, a), (a, b)]);
        for (to, from) in routes.0 {
            let _ = ip(&[
                "route",
                "del",
                "local",
                &format!("{to}/32"),
                "table",
                "local",
            ]);
            assert!(
                ip(&[
                    "route",
                    "add",
                    "local",
                    &format!("{to}/32"),
                    "dev",
                    "lo",
                    "src",
                    from,
                    "table",
                    "local"
                ]),
                "cannot add the route to {to}"
            );
        }
        routes
    }
}

impl Drop for PairRoutes {
    fn drop(&mut self) {
        for (to, _) in self.0 {
            ip(&[
                "route",
                "del",
                "local",
                &format!("{to}/32"),
                "table",
                "local",
            ]);
        }
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn client(args: &[&str], password: &str) -> Result<String, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail/client.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .env("MAIL_PASSWORD", password)
        .output()
        .expect("python3 runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Polls `check` until it returns true or `limit` passes.
fn within(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

fn sql(host: &Vps, query: &str) -> String {
    host.ssh_ok(&format!(
        "mariadb --batch --skip-column-names -e \"{query}\""
    ))
}

#[test]
fn two_fresh_hosts_become_a_replicated_mail_pair() {
    if !hosts_or_skip() {
        return;
    }
    let mail1 = Vps::up("mail1", "127.0.0.11");
    let mail2 = Vps::up("mail2", "127.0.0.12");
    mail1.reset();
    mail2.reset();
    let _routes = PairRoutes::add("127.0.0.11", "127.0.0.12");

    let p = Project::new();
    let repo = env!("CARGO_MANIFEST_DIR");
    p.file(
        "inventory.yml",
        &std::fs::read_to_string(format!("{repo}/playbooks/inventory.vps.yml")).unwrap(),
    );
    let site = format!("{repo}/playbooks/site.yml");
    let inventory = p.join("inventory.yml");
    let inventory = inventory.to_str().unwrap();

    // A dry run on fresh hosts: everything pending, nothing touched, no CA made yet.
    let dry = p.dsprov(&["plan", &site, "-i", inventory]);
    dry.assert_code(2);
    assert_eq!(
        mail1.ssh("test -e /etc/dsprov").status.code(),
        Some(1),
        "plan changed mail1"
    );
    assert!(!p.join(".dsprov/ca").exists(), "plan made a CA");

    let started = Instant::now();
    let first = p.dsprov(&["apply", &site, "-i", inventory]);
    first.assert_code(0);
    eprintln!(
        "first apply on fresh hosts: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // MariaDB: both directions running, over TLS, from the peer's server id. The apply's
    // last handler restarts both servers at once, so a replica may still be waiting out
    // its connect retry (10 s) when the apply returns.
    for (host, peer_id) in [(&mail1, "2"), (&mail2, "1")] {
        let server_id = format!("Master_Server_Id: {peer_id}");
        let wants = [
            "Slave_IO_Running: Yes",
            "Slave_SQL_Running: Yes",
            "Last_IO_Errno: 0",
            "Last_SQL_Errno: 0",
            "Master_SSL_Allowed: Yes",
            "Master_SSL_Verify_Server_Cert: Yes",
            "Using_Gtid: Slave_Pos",
            server_id.as_str(),
        ];
        let mut status = String::new();
        let healthy = within(Duration::from_secs(45), || {
            status = host.ssh_ok("mariadb -e 'SHOW SLAVE STATUS\\G'");
            wants.iter().all(|w| status.contains(w))
        });
        assert!(healthy, "{}: replication not healthy:\n{status}", host.name);
    }
    sql(&mail1, "CREATE DATABASE IF NOT EXISTS e2e; CREATE TABLE IF NOT EXISTS e2e.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40))");
    assert!(within(Duration::from_secs(30), || sql(
        &mail2,
        "SHOW TABLES IN e2e"
    )
    .contains('t')));
    sql(&mail1, "INSERT INTO e2e.t (v) VALUES ('written on mail1')");
    sql(&mail2, "INSERT INTO e2e.t (v) VALUES ('written on mail2')");
    for host in [&mail1, &mail2] {
        let seen = within(Duration::from_secs(30), || {
            let rows = sql(host, "SELECT v FROM e2e.t ORDER BY v");
            rows.contains("written on mail1") && rows.contains("written on mail2")
        });
        assert!(seen, "{} misses a row written on its peer", host.name);
    }

    // A user logs in over IMAPS on each host, verifying the certificate and host name
    // against the CA the hosts trust.
    let secrets: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(p.join("secrets.yml")).unwrap()).unwrap();
    let password = secrets["mail_alice"].as_str().unwrap().to_string();
    let ca = p.join("ca.pem");
    std::fs::write(
        &ca,
        mail1.ssh_ok("cat /usr/local/share/ca-certificates/dsprov-*.crt"),
    )
    .unwrap();
    let ca = ca.to_str().unwrap();
    let count = |host: &Vps, name: &str| -> Result<u32, String> {
        client(
            &[
                "count",
                &host.address,
                name,
                ca,
                "alice@example.test",
                "$MAIL_PASSWORD",
            ],
            &password,
        )
        .map(|n| n.parse().unwrap_or(0))
    };
    assert_eq!(count(&mail1, "mail1.example.test"), Ok(0));
    assert_eq!(count(&mail2, "mail2.example.test"), Ok(0));
    assert!(
        count(&mail1, "not-in-the-certificate.example.test").is_err(),
        "a wrong host name must fail TLS"
    );
    assert!(
        client(
            &[
                "count",
                &mail1.address,
                "mail1.example.test",
                ca,
                "alice@example.test",
                "$MAIL_PASSWORD"
            ],
            "wrong"
        )
        .is_err(),
        "a wrong password must not log in"
    );

    // Mail delivered on one host shows up on the other within 30 s, both ways.
    for (from, to, tls_name, messages) in [
        (&mail1, &mail2, "mail2.example.test", 1),
        (&mail2, &mail1, "mail1.example.test", 2),
    ] {
        let subject = format!("via {}", from.name);
        let args = [
            "deliver",
            &from.address,
            "e2e@example.test",
            "alice@example.test",
            &subject,
        ];
        client(&args, "").unwrap();
        assert!(
            within(Duration::from_secs(30), || count(to, tls_name)
                == Ok(messages)),
            "message delivered on {} not in INBOX on {}",
            from.name,
            to.name
        );
    }
    for host in [&mail1, &mail2] {
        let status = host.ssh_ok("doveadm replicator status '*'");
        for user in ["alice@example.test", "bob@example.test"] {
            assert!(
                status.contains(user),
                "{}: replicator does not list {user}:\n{status}",
                host.name
            );
        }
    }

    // Converged: nothing to change, nothing to show.
    let second = p.dsprov(&["apply", &site, "-i", inventory, "--format", "json"]);
    second.assert_code(0);
    assert_eq!(
        second.json()["changed"],
        0,
        "second apply changed something:\n{}",
        second.all()
    );
    let plan = p.dsprov(&["plan", &site, "-i", inventory]);
    plan.assert_code(0);
    assert!(!plan.stdout.contains("---"), "{}", plan.all());
    assert!(
        !first.all().contains(&password) && !plan.all().contains(&password),
        "a password leaked"
    );

    mail1.down();
    mail2.down();
}
