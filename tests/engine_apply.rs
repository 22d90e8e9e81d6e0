//! The engine end to end on fresh test hosts: apply, converge, plan, drift, host keys,
//! secrets, handlers owed after a failure.

mod common;

use common::project::{hosts_or_skip, Project};
use common::vps::Vps;

const EVERY_MODULE: &str = r#"
- name: every module
  hosts: web
  tasks:
    - name: packages
      apt: {name: [cron, less], state: present}
    - name: group
      group: {name: appgrp, system: true}
    - name: user
      user: {name: app, group: appgrp, system: true, shell: /usr/sbin/nologin, home: /srv/app, create_home: false}
    - name: app dir
      file: {path: /srv/app, state: directory, owner: app, group: appgrp, mode: "0750"}
    - name: config
      template: {src: app.conf.j2, dest: /srv/app/app.conf, owner: app, group: appgrp, mode: "0640", validate: "grep -q '^name = ' %s"}
      notify: restart cron
    - name: static file
      copy: {content: "static\n", dest: /srv/app/static.txt, mode: "0644"}
    - name: one-off command
      command: {cmd: "touch /srv/app/ran-once", creates: /srv/app/ran-once}
    - name: one-off shell
      shell: {cmd: "echo $((40 + 2)) > /srv/app/shell.out", unless: "test -s /srv/app/shell.out"}
    - name: cron runs
      service: {name: cron, state: started, enabled: true}
      notify: restart cron
  handlers:
    - name: restart cron
      service: {name: cron, state: restarted}
"#;

#[test]
fn every_module_applies_converges_and_detects_drift() {
    if !hosts_or_skip() {
        return;
    }
    let host = Vps::up("eng1", "127.0.0.21");
    host.reset();
    let p = Project::new();
    p.inventory("web", &[&host], "app_name: demo")
        .file("site.yml", EVERY_MODULE)
        .file(
            "app.conf.j2",
            "name = {{ app_name }}\nhost = {{ inventory_hostname }}\nos = {{ facts.os.id }}\n",
        );

    let first = p.dsprov(&["apply", "site.yml"]);
    first.assert_code(0);
    assert!(first.stdout.contains("changed: eng1"), "{}", first.all());
    assert_eq!(
        host.ssh_ok("stat -c '%U %G %a' /srv/app /srv/app/app.conf"),
        "app appgrp 750\napp appgrp 640\n"
    );
    assert_eq!(
        host.ssh_ok("cat /srv/app/app.conf"),
        "name = demo\nhost = eng1\nos = debian\n"
    );
    assert_eq!(host.ssh_ok("cat /srv/app/shell.out"), "42\n");
    assert_eq!(host.ssh_ok("systemctl is-active cron"), "active\n");

    let second = p.dsprov(&["apply", "site.yml", "--format", "json"]);
    second.assert_code(0);
    assert_eq!(second.json()["changed"], 0, "{}", second.all());

    let plan = p.dsprov(&["plan", "site.yml"]);
    plan.assert_code(0);
    assert!(
        !plan.stdout.contains("---"),
        "a converged plan shows no diff:\n{}",
        plan.all()
    );

    // Drift by hand: plan shows it and exits 2, apply puts it back.
    host.ssh_ok("echo 'debug = yes' >> /srv/app/app.conf && chmod 0666 /srv/app/app.conf");
    let plan = p.dsprov(&["plan", "site.yml"]);
    plan.assert_code(2);
    assert!(plan.stdout.contains("-debug = yes"), "{}", plan.all());
    assert!(plan.stdout.contains("mode 0666 -> 0640"), "{}", plan.all());
    assert_eq!(
        host.ssh_ok("tail -n1 /srv/app/app.conf"),
        "debug = yes\n",
        "plan touched the host"
    );

    p.dsprov(&["apply", "site.yml"]).assert_code(0);
    assert_eq!(
        host.ssh_ok("cat /srv/app/app.conf"),
        "name = demo\nhost = eng1\nos = debian\n"
    );
    p.dsprov(&["plan", "site.yml"]).assert_code(0);
    host.down();
}

#[test]
fn host_keys_are_verified() {
    if !hosts_or_skip() {
        return;
    }
    let host = Vps::up("eng2", "127.0.0.22");
    let p = Project::new();
    p.inventory("web", &[&host], "").file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - copy: {dest: /tmp/x, content: x}\n",
    );
    let known = p.join("known_hosts");
    let known = known.to_str().unwrap();

    let refused = p.dsprov(&["apply", "site.yml", "--known-hosts", known]);
    refused.assert_code(1);
    assert!(refused.all().contains("not known"), "{}", refused.all());
    assert!(
        !std::path::Path::new(known).exists() || std::fs::read_to_string(known).unwrap().is_empty()
    );

    p.dsprov(&[
        "apply",
        "site.yml",
        "--known-hosts",
        known,
        "--accept-new-host-keys",
    ])
    .assert_code(0);
    let recorded = std::fs::read_to_string(known).unwrap();
    assert!(recorded.contains("127.0.0.22"), "{recorded}");
    p.dsprov(&["apply", "site.yml", "--known-hosts", known])
        .assert_code(0);

    // Another key under the same address: a changed key, always refused.
    let other = p.join("other_key");
    let keygen = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            other.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(keygen.success());
    let public = std::fs::read_to_string(p.join("other_key.pub")).unwrap();
    let mut parts = public.split_whitespace();
    let forged = format!(
        "127.0.0.22 {} {}\n",
        parts.next().unwrap(),
        parts.next().unwrap()
    );
    std::fs::write(known, forged).unwrap();
    for flags in [vec![], vec!["--accept-new-host-keys"]] {
        let mut args = vec!["apply", "site.yml", "--known-hosts", known];
        args.extend(flags);
        let changed = p.dsprov(&args);
        changed.assert_code(1);
        assert!(changed.all().contains("CHANGED"), "{}", changed.all());
        assert!(changed.all().contains("eng2"), "{}", changed.all());
        assert_eq!(
            changed.all().matches("SHA256:").count(),
            2,
            "{}",
            changed.all()
        );
    }
    host.down();
}

#[test]
fn secrets_never_show_and_owed_handlers_survive_a_failure() {
    if !hosts_or_skip() {
        return;
    }
    let host = Vps::up("eng3", "127.0.0.23");
    host.reset();
    let secret = "Zq8-not-in-any-output-7Hx";
    let p = Project::new();
    p.inventory("web", &[&host], "")
        .file("secrets.yml", &format!("db_password: {secret}\n"))
        .file(
            "site.yml",
            r#"
- hosts: web
  tasks:
    - name: config with a secret
      copy: {dest: /etc/app.conf, content: "password = {{ secrets.db_password }}\nround = {{ round }}\n", mode: "0600"}
      notify: reload app
    - name: may fail
      command: {cmd: "false", unless: "test {{ fail }} = false"}
  handlers:
    - name: reload app
      shell: "date >> /root/reloaded"
    - name: audit reloads
      listen: reload app
      shell: "date >> /root/audited"
"#,
        );
    std::fs::set_permissions(
        p.join("secrets.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();

    // First run: the config changes (handler owed), then a task fails.
    let failed = p.dsprov(&[
        "apply",
        "site.yml",
        "-e",
        "round=1",
        "-e",
        "fail=true",
        "--diff",
        "-vvv",
    ]);
    failed.assert_code(1);
    assert!(
        !failed.all().contains(secret),
        "secret leaked:\n{}",
        failed.all()
    );
    assert!(
        failed.all().contains("********"),
        "the diff line is shown masked:\n{}",
        failed.all()
    );
    assert!(
        host.ssh("test -e /root/reloaded").status.code() == Some(1),
        "handler ran despite the failure"
    );
    assert_eq!(
        host.ssh_ok("cat /etc/app.conf"),
        format!("password = {secret}\nround = 1\n")
    );

    // Next run: nothing to change, but the owed handler runs, once.
    let next = p.dsprov(&["apply", "site.yml", "-e", "round=1", "-e", "fail=false"]);
    next.assert_code(0);
    assert_eq!(
        host.ssh_ok("wc -l < /root/reloaded"),
        "1\n",
        "{}",
        next.all()
    );
    let after = p.dsprov(&[
        "apply",
        "site.yml",
        "-e",
        "round=1",
        "-e",
        "fail=false",
        "--format",
        "json",
    ]);
    after.assert_code(0);
    assert_eq!(after.json()["changed"], 0);
    assert_eq!(host.ssh_ok("wc -l < /root/reloaded"), "1\n");
    assert_eq!(host.ssh_ok("wc -l < /root/audited"), "1\n");

    // A secret in plan, json and -vvv output of a change: masked everywhere.
    for args in [
        vec!["plan", "site.yml", "-e", "round=2", "-e", "fail=false"],
        vec![
            "plan",
            "site.yml",
            "-e",
            "round=2",
            "-e",
            "fail=false",
            "--format",
            "json",
        ],
        vec![
            "apply",
            "site.yml",
            "-e",
            "round=2",
            "-e",
            "fail=false",
            "--diff",
            "--format",
            "json",
            "-vvv",
        ],
    ] {
        let run = p.dsprov(&args);
        assert!(
            !run.all().contains(secret),
            "secret leaked by {args:?}:\n{}",
            run.all()
        );
    }
    host.down();
}

#[test]
fn become_goes_through_sudo_for_a_plain_user() {
    if !hosts_or_skip() {
        return;
    }
    let host = Vps::up("eng4", "127.0.0.24");
    host.reset();
    let key = std::fs::read_to_string(common::vps::vps_home().join("id_ed25519.pub")).unwrap();

    // As root: a deploy user that may use sudo without a password, as on many VPS images.
    let setup = Project::new();
    setup.inventory("web", &[&host], "").file(
        "site.yml",
        &format!(
            r#"
- hosts: web
  tasks:
    - apt: {{name: sudo}}
    - user: {{name: deploy, shell: /bin/sh, create_home: true}}
    - file: {{path: /home/deploy/.ssh, state: directory, owner: deploy, mode: "0700"}}
    - copy: {{dest: /home/deploy/.ssh/authorized_keys, content: "{}", owner: deploy, mode: "0600"}}
    - copy: {{dest: /etc/sudoers.d/deploy, content: "deploy ALL=(ALL) NOPASSWD: ALL\n", mode: "0440", validate: "visudo -cf %s"}}
"#,
            key.trim()
        ),
    );
    setup.dsprov(&["apply", "site.yml"]).assert_code(0);

    // As deploy: without become the file cannot be written, with it it is root's.
    let p = Project::new();
    let play = |become_root: bool| {
        format!("- hosts: web\n  become: {become_root}\n  tasks:\n    - copy: {{dest: /etc/dsprov-become, content: \"hi\\n\", mode: \"0600\"}}\n")
    };
    p.inventory("web", &[&host], "")
        .file("plain.yml", &play(false))
        .file("site.yml", &play(true));
    let inventory = std::fs::read_to_string(p.join("inventory.yml"))
        .unwrap()
        .replace("user: root", "user: deploy");
    p.file("inventory.yml", &inventory);

    let denied = p.dsprov(&["apply", "plain.yml"]);
    denied.assert_code(1);
    assert!(
        denied.all().contains("Permission denied"),
        "{}",
        denied.all()
    );
    p.dsprov(&["apply", "site.yml"]).assert_code(0);
    assert_eq!(
        host.ssh_ok("stat -c '%U %a' /etc/dsprov-become"),
        "root 600\n"
    );
    let again = p.dsprov(&["apply", "site.yml", "--format", "json"]);
    again.assert_code(0);
    assert_eq!(again.json()["changed"], 0);
    host.down();
}
