//! Each rule on a small project written to a temporary directory: two hosts, mail1 and
//! mail2, in group `mail`, and a play of copy tasks whose content differs by host vars.

use serde_json::{json, Value};

use super::{check_with_facts, rendered, run, Finding};
use crate::engine::{Loaded, Options};

struct Project {
    dir: tempfile::TempDir,
    opts: Options,
}

impl Project {
    /// `mail1` and `mail2` with the given host vars (YAML flow mappings), and a play on
    /// group `mail` running `tasks` (YAML, indented for the `tasks:` list).
    fn new(mail1: &str, mail2: &str, tasks: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let inventory = format!(
            "all:\n  children:\n    mail:\n      hosts:\n        mail1: {mail1}\n        mail2: {mail2}\n"
        );
        let site = format!("- hosts: mail\n  tasks:\n{tasks}");
        std::fs::write(dir.path().join("inventory.yml"), inventory).unwrap();
        std::fs::write(dir.path().join("site.yml"), site).unwrap();
        let opts = Options {
            playbook: dir.path().join("site.yml"),
            ..Options::default()
        };
        Project { dir, opts }
    }

    fn loaded(&self) -> Loaded {
        let loaded = Loaded::load(&self.opts).unwrap();
        loaded.check_offline(&self.opts).unwrap();
        loaded
    }

    fn lint(&self) -> Vec<Finding> {
        assert!(self.dir.path().exists());
        run(&self.loaded(), &self.opts)
    }

    fn lint_with_facts(&self, host: &str, facts: &Value) -> Vec<Finding> {
        let facts_by_host = std::collections::BTreeMap::from([(host.to_string(), facts.clone())]);
        rendered::plays(&self.loaded(), &self.opts, &facts_by_host)
            .iter()
            .flatten()
            .filter(|view| view.host == host)
            .flat_map(|view| check_with_facts(view, facts))
            .collect()
    }
}

/// A copy task writing `content` (one line per `\n`, may use host vars) to `dest`.
fn copy(dest: &str, content: &str) -> String {
    let mut task = format!("    - copy:\n        dest: {dest}\n        content: |\n");
    for line in content.lines() {
        task.push_str(&format!("          {line}\n"));
    }
    task
}

/// The one place that knows the `certificate` task's argument shape.
fn certificate(names: &[&str]) -> String {
    format!(
        "    - certificate:\n        names: {names:?}\n        issuer: {{local_ca: {{dir: ca}}}}\n        cert: /etc/tls/cert.pem\n        key: /etc/tls/key.pem\n"
    )
}

fn settings(findings: &[Finding]) -> Vec<(&str, &str)> {
    findings
        .iter()
        .map(|f| (f.host.as_str(), f.setting.as_str()))
        .collect()
}

#[test]
fn replication_sync_timeout_is_refused_but_may_be_mentioned() {
    let conf = "# never set replication_sync_timeout\nreplication_sync_timeout = 2s\n";
    let findings = Project::new("{}", "{}", &copy("/etc/dovecot/conf.d/90-r.conf", conf)).lint();
    assert_eq!(
        settings(&findings),
        [
            ("mail1", "replication_sync_timeout"),
            ("mail2", "replication_sync_timeout")
        ]
    );
    assert!(findings[0].message.contains("data stack: Out of memory"));
    assert!(findings[0]
        .message
        .contains("/etc/dovecot/conf.d/90-r.conf"));

    let only_comment = "# never set replication_sync_timeout\n";
    let clean = Project::new("{}", "{}", &copy("/etc/dovecot/dovecot.conf", only_comment));
    assert_eq!(clean.lint(), []);
    let elsewhere = Project::new("{}", "{}", &copy("/etc/motd", conf));
    assert_eq!(elsewhere.lint(), []);
}

#[test]
fn tcps_replica_must_be_named_in_the_certificate() {
    let conf = "plugin {\n  mail_replica = tcps:{{ peer }}:4000\n}\n";
    let tasks = |names: &[&str]| certificate(names) + &copy("/etc/dovecot/dovecot.conf", conf);
    let hosts = ("{peer: mail2.example.test}", "{peer: mail1.example.test}");

    let bad = Project::new(
        hosts.0,
        hosts.1,
        &tasks(&["mail.example.test", "mail1.example.test"]),
    );
    let findings = bad.lint();
    assert_eq!(settings(&findings), [("mail1", "mail_replica")]);
    assert!(
        findings[0].message.contains("mail2.example.test"),
        "{findings:?}"
    );

    let exact = &["mail1.example.test", "mail2.example.test"];
    assert_eq!(Project::new(hosts.0, hosts.1, &tasks(exact)).lint(), []);
    let wildcard = &["mail.example.test", "*.example.test"];
    assert_eq!(Project::new(hosts.0, hosts.1, &tasks(wildcard)).lint(), []);

    let plain_tcp = certificate(&["other.test"])
        + &copy(
            "/etc/dovecot/dovecot.conf",
            "mail_replica = tcp:{{ peer }}:4000\n",
        );
    assert_eq!(Project::new(hosts.0, hosts.1, &plain_tcp).lint(), []);
}

#[test]
fn dovecot_newer_than_2_3_fails_a_replicating_host() {
    let replicating = copy(
        "/etc/dovecot/dovecot.conf",
        "mail_plugins = $mail_plugins notify replication\n",
    );
    let project = Project::new("{}", "{}", &replicating);
    let trixie = json!({"os": {"id": "debian", "version_id": "13"}, "packages": {}});
    let findings = project.lint_with_facts("mail1", &trixie);
    assert_eq!(settings(&findings), [("mail1", "dovecot")]);
    assert!(findings[0].message.contains("2.4 removed the replicator"));

    let installed = json!({"os": {"id": "debian", "version_id": "12"},
                           "packages": {"dovecot-core": "1:2.4.1+dfsg1-6"}});
    assert_eq!(project.lint_with_facts("mail2", &installed).len(), 1);

    let bookworm = json!({"os": {"id": "debian", "version_id": "12"},
                          "packages": {"dovecot-core": "1:2.3.19.1+dfsg1-2.1+deb12u1"}});
    assert_eq!(project.lint_with_facts("mail1", &bookworm), []);
    assert_eq!(project.lint(), [], "offline there are no facts to go by");

    let no_dovecot = Project::new("{}", "{}", &copy("/etc/motd", "hi\n"));
    assert_eq!(no_dovecot.lint_with_facts("mail1", &trixie), []);
}

#[test]
fn mariadb_ids_must_differ_between_servers() {
    let cnf = "[mariadb]\nserver-id = {{ sid }}\ngtid_domain_id = {{ sid }}\nauto_increment_offset = {{ off }}\n[client]\nserver_id = 9\n";
    let tasks = copy("/etc/mysql/mariadb.conf.d/70-cluster.cnf", cnf);

    let findings = Project::new("{sid: 1, off: 1}", "{sid: 1, off: 2}", &tasks).lint();
    assert_eq!(
        settings(&findings),
        [("mail2", "gtid_domain_id"), ("mail2", "server_id")]
    );
    assert!(findings[1].message.contains("mail1"), "{findings:?}");

    assert_eq!(
        Project::new("{sid: 1, off: 1}", "{sid: 2, off: 2}", &tasks).lint(),
        []
    );
}

#[test]
fn hosts_of_a_play_need_their_own_hostnames() {
    let findings = Project::new("{}", "{}", &copy("/etc/hostname", "mail\n")).lint();
    assert_eq!(settings(&findings), [("mail2", "hostname")]);
    assert!(findings[0].message.contains("like mail1"));

    let own = copy("/etc/hostname", "{{ inventory_hostname }}\n");
    assert_eq!(Project::new("{}", "{}", &own).lint(), []);
    let clash = Project::new(
        "{name: mail2}",
        "{}",
        &copy(
            "/etc/hostname",
            "{{ name | default(value=inventory_hostname) }}\n",
        ),
    );
    assert_eq!(settings(&clash.lint()), [("mail2", "hostname")]);
}

#[test]
fn iterate_query_must_return_full_addresses() {
    let sql = |q: &str| {
        copy(
            "/etc/dovecot/dovecot-sql.conf.ext",
            &format!("iterate_query = {q}\n"),
        )
    };

    let bad = Project::new("{}", "{}", &sql("SELECT email FROM users")).lint();
    assert_eq!(
        settings(&bad),
        [("mail1", "iterate_query"), ("mail2", "iterate_query")]
    );
    assert!(bad[0].message.contains("columns email"), "{bad:?}");
    let local_part = sql("SELECT username FROM users");
    assert_eq!(Project::new("{}", "{}", &local_part).lint().len(), 2);

    for good in [
        "SELECT email AS user FROM users WHERE active = 1",
        "SELECT CONCAT(`local`, '@', `domain`) AS `user` FROM mailbox",
        "SELECT username, domain FROM users",
    ] {
        assert_eq!(Project::new("{}", "{}", &sql(good)).lint(), [], "{good}");
    }
}

#[test]
fn doveadm_password_is_shared_and_never_shown() {
    let conf = copy(
        "/etc/dovecot/dovecot.conf",
        "doveadm_password = {{ pw }}\nplugin {\n  mail_replica = tcp:peer:4000\n}\n",
    );
    let findings = Project::new("{pw: s3cret-one}", "{pw: s3cret-two}", &conf).lint();
    assert_eq!(settings(&findings), [("mail2", "doveadm_password")]);
    let shown = findings[0].to_string();
    assert!(shown.contains("differs between mail1 and mail2"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");

    assert_eq!(Project::new("{pw: same}", "{pw: same}", &conf).lint(), []);
}

#[test]
fn tasks_that_do_not_render_are_not_lint_findings() {
    let project = Project::new(
        "{}",
        "{}",
        &copy("/etc/dovecot/dovecot.conf", "x = {{ missing }}\n"),
    );
    let loaded = Loaded::load(&project.opts).unwrap();
    assert!(loaded.check_offline(&project.opts).is_err());
    assert_eq!(run(&loaded, &project.opts), []);
}
