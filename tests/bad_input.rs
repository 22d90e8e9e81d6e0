//! Bad input of every class fails before any connection, with exit 1 and an error that
//! names the file and the fault.

mod common;

use common::project::Project;

/// An inventory whose only host cannot be reached: a run that tried would say so.
const INVENTORY: &str = "all:\n  children:\n    web:\n      hosts:\n        h1:\n          address: 127.0.0.99\n          port: 1\n";

fn refused(files: &[(&str, &str)], args: &[&str], file: &str, fault: &str) {
    let p = Project::new();
    p.file("inventory.yml", INVENTORY);
    for (name, text) in files {
        p.file(name, text);
    }
    let run = p.dsprov(args);
    assert_eq!(run.code, 1, "{args:?} should fail:\n{}", run.all());
    assert!(
        run.stderr.contains(file),
        "error should name {file}:\n{}",
        run.all()
    );
    assert!(
        run.stderr.contains(fault),
        "error should say `{fault}`:\n{}",
        run.all()
    );
    assert!(
        !run.stdout.contains("PLAY"),
        "nothing may run:\n{}",
        run.all()
    );
    assert!(
        !run.all().contains("unreachable"),
        "no connection may be tried:\n{}",
        run.all()
    );
    assert!(!run.all().contains("panicked"), "{}", run.all());
}

fn task(body: &str) -> String {
    format!("- hosts: web\n  tasks:\n    - name: t\n{body}")
}

#[test]
fn every_class_of_bad_input_is_refused_with_file_and_fault() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "- hosts: web\n  tasks: [\n".into(),
            "site.yml:",
            "invalid YAML",
        ),
        (
            task("      coppy: {dest: /x}\n"),
            "site.yml:4:",
            "unknown module or keyword `coppy`",
        ),
        (
            task("      copy: {dest: /x, content: y, mdoe: '0644'}\n"),
            "site.yml:4:36:",
            "unknown argument(s): mdoe",
        ),
        (
            task("      copy: {dest: [a], content: y}\n"),
            "site.yml:4:14:",
            "`dest` must be a string",
        ),
        (
            task("      template: {src: missing.j2, dest: /x}\n"),
            "site.yml:3:",
            "template `missing.j2` not found",
        ),
        (
            task("      copy: {dest: /x, content: '{{ nope }}'}\n"),
            "site.yml:3:",
            "nope",
        ),
        (
            task("      copy: {dest: /x, content: '{{ unclosed'}\n"),
            "site.yml:4:",
            "bad template",
        ),
        (
            task("      command: 'true'\n      when: x ==\n"),
            "site.yml:5:",
            "bad `when`",
        ),
        (
            task("      command: 'true'\n      notify: nobody\n"),
            "site.yml:3:",
            "no such handler",
        ),
        (
            task("      command: 'true'\n      register: out\n"),
            "site.yml:5:",
            "`register` is not supported",
        ),
        (
            "- hosts: dbservers\n  tasks:\n    - command: 'true'\n".into(),
            "site.yml:1:",
            "dbservers",
        ),
        (
            "- hosts: web\n  roles: [nope]\n".into(),
            "site.yml:2:",
            "role `nope` not found",
        ),
        (
            "- hosts: web\n  tasks:\n    - name: t\n      file: {path: /x, state: bogus}\n".into(),
            "site.yml:4:24:",
            "expected one of",
        ),
    ];
    for (playbook, file, fault) in &cases {
        for cmd in ["check", "plan", "apply"] {
            refused(&[("site.yml", playbook)], &[cmd, "site.yml"], file, fault);
        }
    }
}

#[test]
fn bad_inventory_and_secrets_are_refused() {
    refused(
        &[
            ("site.yml", &task("      command: 'true'\n")),
            ("bad.yml", "all:\n  hosts: [a, b\n"),
        ],
        &["check", "site.yml", "-i", "bad.yml"],
        "bad.yml:",
        "invalid YAML",
    );
    let p = Project::new();
    p.file("inventory.yml", INVENTORY)
        .file("site.yml", &task("      command: 'true'\n"))
        .file("secrets.yml", "pw: x\n");
    std::fs::set_permissions(
        p.join("secrets.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let run = p.dsprov(&["apply", "site.yml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("secrets.yml") && run.stderr.contains("must be 0600"),
        "{}",
        run.all()
    );

    let run = p.dsprov(&["apply", "site.yml", "-e", "novalue"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("KEY=VALUE"), "{}", run.all());
}
