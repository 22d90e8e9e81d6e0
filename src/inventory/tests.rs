//! Inventories written the way users write them, loaded from a temporary directory.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tempfile::TempDir;

use super::*;

/// A temporary project directory to write inventories and vars files into.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn file(&self, rel: &str, text: &str) -> &Fixture {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        self
    }

    fn load(&self, rel: &str) -> Inventory {
        Inventory::load(&self.path(rel), &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Loads what must fail, and returns the error with the temporary directory removed.
    fn error(&self, rel: &str) -> String {
        let err = Inventory::load(&self.path(rel), &[]).expect_err("the inventory should not load");
        let prefix = format!("{}/", self.dir.path().display());
        err.to_string().replace(&prefix, "")
    }
}

fn load_yaml(text: &str) -> Inventory {
    let f = Fixture::new();
    f.file("hosts.yml", text);
    f.load("hosts.yml")
}

fn load_ini(text: &str) -> Inventory {
    let f = Fixture::new();
    f.file("hosts.ini", text);
    f.load("hosts.ini")
}

fn names(inv: &Inventory) -> Vec<&str> {
    inv.hosts.iter().map(|h| h.name.as_str()).collect()
}

fn group_hosts<'a>(inv: &'a Inventory, group: &str) -> Vec<&'a str> {
    let group = inv
        .group(group)
        .unwrap_or_else(|| panic!("no group {group}"));
    group.hosts.iter().map(String::as_str).collect()
}

fn group_names<'a>(groups: &[&'a Group]) -> Vec<&'a str> {
    groups.iter().map(|g| g.name.as_str()).collect()
}

const MAIL: &str = "\
all:
  hosts:
    bastion:
  vars:
    ntp: pool.example.org
  children:
    mail:
      hosts:
        mx1: {ansible_host: 10.0.0.1}
        mx2:
      children:
        relays:
          hosts:
            relay1:
            mx2: {role: relay}
    web:
      hosts:
        www1:
        mx1:
";

#[test]
fn yaml_layout_gives_hosts_in_order_and_full_group_members() {
    let inv = load_yaml(MAIL);

    assert_eq!(names(&inv), ["bastion", "mx1", "mx2", "relay1", "www1"]);
    assert_eq!(group_hosts(&inv, "all"), names(&inv));
    assert_eq!(group_hosts(&inv, "mail"), ["mx1", "mx2", "relay1"]);
    assert_eq!(group_hosts(&inv, "relays"), ["mx2", "relay1"]);
    assert_eq!(group_hosts(&inv, "web"), ["mx1", "www1"]);
    assert_eq!(group_hosts(&inv, "ungrouped"), ["bastion"]);
    assert_eq!(inv.group("mail").unwrap().children, ["relays"]);
    assert_eq!(
        inv.group("all").unwrap().children,
        ["mail", "web", "ungrouped"]
    );

    assert_eq!(inv.host("mx1").unwrap().vars["ansible_host"], "10.0.0.1");
    assert_eq!(inv.host("mx2").unwrap().vars["role"], "relay");
    assert_eq!(inv.group("all").unwrap().vars["ntp"], "pool.example.org");
    assert!(inv.host("nope").is_none());
}

#[test]
fn yaml_top_level_groups_besides_all_are_children_of_all() {
    let inv = load_yaml("web:\n  hosts:\n    w1:\ndb:\n  hosts:\n    d1:\n  vars: {port: 5432}\n");

    assert_eq!(names(&inv), ["w1", "d1"]);
    assert_eq!(group_hosts(&inv, "all"), ["w1", "d1"]);
    assert!(group_hosts(&inv, "ungrouped").is_empty());
    assert!(inv
        .group("all")
        .unwrap()
        .children
        .contains(&"db".to_string()));
    assert_eq!(inv.vars_for("d1")["port"], 5432);
}

#[test]
fn empty_inventory_has_all_and_ungrouped() {
    let inv = load_yaml("");
    assert!(inv.hosts.is_empty());
    assert!(inv.group("all").is_some() && inv.group("ungrouped").is_some());
}

#[test]
fn precedence_goes_all_then_parent_then_child_then_host() {
    let inv = load_yaml(
        "\
all:
  vars: {level: all, a: 1}
  children:
    zeta:
      vars: {level: zeta, z: 1}
      hosts: {h1: }
    mail:
      vars: {level: mail, m: 1}
      children:
        relays:
          vars: {level: relays, r: 1}
          hosts:
            h1: {level: host}
            h2:
",
    );

    // zeta and mail are both at depth 1: alphabetical. relays is deeper.
    assert_eq!(
        group_names(&inv.groups_of("h1")),
        ["all", "mail", "zeta", "relays"]
    );
    let vars = inv.vars_for("h1");
    assert_eq!(vars["level"], "host");
    assert_eq!(
        (&vars["a"], &vars["m"], &vars["z"], &vars["r"]),
        (&json!(1), &json!(1), &json!(1), &json!(1))
    );
    assert_eq!(inv.vars_for("h2")["level"], "relays");
}

#[test]
fn a_group_is_as_deep_as_its_longest_chain_of_parents() {
    // `deep` is a child of `all` directly and of `mid` (depth 2): it ranks after `mid`.
    let inv = load_ini(
        "[top:children]\nmid\n[mid:children]\ndeep\n[all:children]\ndeep\n\
         [deep]\nh1\n[aaa]\nh1\n[top:vars]\nx=top\n[mid:vars]\nx=mid\n[deep:vars]\nx=deep\n",
    );
    assert_eq!(
        group_names(&inv.groups_of("h1")),
        ["all", "aaa", "top", "mid", "deep"]
    );
    assert_eq!(inv.vars_for("h1")["x"], "deep");
}

#[test]
fn ini_layout_reads_sections_vars_and_children() {
    let inv = load_ini(
        "\
# comment
; another
bastion ansible_port=2200

[mail]
mx1 ansible_host=10.0.0.1 weight=10 ratio=0.5 backup=false  # trailing comment
mx2:2222 motd=\"hello world\" zip=\"01234\" plain=yes

[relays]
relay1

[mail:children]
relays

[mail:vars]
smtp_port = 25
banner = \"ESMTP ready\"
enabled=True
",
    );

    assert_eq!(names(&inv), ["bastion", "mx1", "mx2", "relay1"]);
    assert_eq!(group_hosts(&inv, "ungrouped"), ["bastion"]);
    assert_eq!(group_hosts(&inv, "mail"), ["mx1", "mx2", "relay1"]);

    let mx1 = &inv.host("mx1").unwrap().vars;
    assert_eq!(mx1["ansible_host"], "10.0.0.1");
    assert_eq!(
        (&mx1["weight"], &mx1["ratio"], &mx1["backup"]),
        (&json!(10), &json!(0.5), &json!(false))
    );
    let mx2 = &inv.host("mx2").unwrap().vars;
    assert_eq!(mx2["ansible_port"], "2222");
    assert_eq!(mx2["motd"], "hello world");
    assert_eq!(mx2["zip"], "01234", "a quoted number stays a string");
    assert_eq!(mx2["plain"], "yes");

    let mail = &inv.group("mail").unwrap().vars;
    assert_eq!(mail["smtp_port"], 25);
    assert_eq!(mail["banner"], "ESMTP ready");
    assert_eq!(mail["enabled"], true);
    assert_eq!(inv.connection("mx2").unwrap().port, Some(2222));
    assert_eq!(inv.connection("bastion").unwrap().port, Some(2200));
}

#[test]
fn format_is_detected_without_an_extension() {
    let f = Fixture::new();
    f.file("ini", "[web]\nw1\n")
        .file("yaml", "all:\n  hosts:\n    y1:\n")
        .file("bare", "h1\nh2 x=1\n");

    assert_eq!(names(&f.load("ini")), ["w1"]);
    assert_eq!(names(&f.load("yaml")), ["y1"]);
    assert_eq!(names(&f.load("bare")), ["h1", "h2"]);
}

#[test]
fn host_ranges_expand_in_both_layouts() {
    let inv = load_yaml(
        "all:\n  hosts:\n    web[01:03].example.com: {x: 1}\n    db-[a:c]:\n    n[1:7:3]:\n",
    );
    assert_eq!(
        names(&inv),
        [
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "db-a",
            "db-b",
            "db-c",
            "n1",
            "n4",
            "n7"
        ]
    );
    assert_eq!(inv.host("web02.example.com").unwrap().vars["x"], 1);

    let inv = load_ini("[web]\nweb[8:10] tier=front\n");
    assert_eq!(names(&inv), ["web8", "web9", "web10"]);
}

#[test]
fn yaml_anchors_aliases_and_merge_keys_are_resolved() {
    let inv = load_yaml(
        "\
all:
  children:
    web:
      vars: &common {ntp: ntp1, dns: [1.1.1.1]}
      hosts:
        w1:
          <<: *common
          ntp: ntp2
    db:
      vars: *common
      hosts: {d1: }
",
    );
    assert_eq!(inv.host("w1").unwrap().vars["ntp"], "ntp2");
    assert_eq!(inv.host("w1").unwrap().vars["dns"], json!(["1.1.1.1"]));
    assert_eq!(
        inv.group("db").unwrap().vars,
        inv.group("web").unwrap().vars
    );
}

#[test]
fn group_vars_and_host_vars_layer_over_the_inventory() {
    let f = Fixture::new();
    f.file("inv/hosts.yml", "all:\n  vars: {who: inventory}\n  children:\n    web:\n      hosts:\n        w1: {who: inline, keep: 1}\n")
        .file("inv/group_vars/all.yml", "who: group_vars_all\nfrom_all: true\n")
        .file("inv/group_vars/web/b.yml", "order: b\n")
        .file("inv/group_vars/web/a.yml", "order: a\nweb_a: 1\n")
        .file("inv/group_vars/web/.swp", "not: read\n")
        .file("inv/host_vars/w1", "who: host_vars\n")
        .file("inv/host_vars/ghost.yml", "ignored: true\n")
        .file("play/group_vars/web.yaml", "order: playbook\n")
        .file("play/host_vars/w1/main.yml", "who: playbook_host\n");

    let inv_dir = f.path("inv");
    let inv =
        Inventory::load(&f.path("inv/hosts.yml"), &[inv_dir.clone(), f.path("play")]).unwrap();

    let all = &inv.group("all").unwrap().vars;
    assert_eq!(
        (&all["who"], &all["from_all"]),
        (&json!("group_vars_all"), &json!(true))
    );
    assert_eq!(inv.group("web").unwrap().vars["order"], "playbook");
    assert_eq!(inv.group("web").unwrap().vars["web_a"], 1);
    assert!(!inv.group("web").unwrap().vars.contains_key("not"));

    let w1 = &inv.host("w1").unwrap().vars;
    assert_eq!(
        (&w1["who"], &w1["keep"]),
        (&json!("playbook_host"), &json!(1))
    );
    assert!(inv.host("ghost").is_none());

    // Without the playbook dir, only the inventory's own dir is read, and a dir within a
    // group's vars merges alphabetically: b.yml after a.yml.
    let inv = Inventory::load(&f.path("inv/hosts.yml"), &[]).unwrap();
    assert_eq!(inv.group("web").unwrap().vars["order"], "b");
    assert_eq!(inv.host("w1").unwrap().vars["who"], "host_vars");
}

#[test]
fn connection_reads_dsprov_names_and_ansible_aliases() {
    let f = Fixture::new();
    f.file(
        "inv/hosts.yml",
        "\
all:
  vars: {ansible_user: deploy, ansible_ssh_private_key_file: keys/id_ed25519}
  hosts:
    plain:
    aliased: {ansible_host: 10.0.0.2, ansible_port: \"2222\"}
    native: {address: 10.0.0.3, ansible_host: ignored, port: 22, user: root, ssh_key: ~/.ssh/id}
    absolute: {ssh_key: /etc/key}
",
    );
    let inv = f.load("inv/hosts.yml");

    let plain = inv.connection("plain").unwrap();
    assert_eq!(plain.address, "plain");
    assert_eq!(plain.port, None);
    assert_eq!(plain.user.as_deref(), Some("deploy"));
    assert_eq!(plain.ssh_key, Some(f.path("inv/keys/id_ed25519")));

    let aliased = inv.connection("aliased").unwrap();
    assert_eq!(
        (aliased.address.as_str(), aliased.port),
        ("10.0.0.2", Some(2222))
    );

    let native = inv.connection("native").unwrap();
    assert_eq!(
        (native.address.as_str(), native.port),
        ("10.0.0.3", Some(22))
    );
    assert_eq!(native.user.as_deref(), Some("root"));
    assert_eq!(native.ssh_key, dirs::home_dir().map(|h| h.join(".ssh/id")));

    assert_eq!(
        inv.connection("absolute").unwrap().ssh_key,
        Some(PathBuf::from("/etc/key"))
    );
    assert!(inv.connection("nobody").unwrap_err().contains("nobody"));
}

#[test]
fn connection_rejects_bad_values_from_hand_built_vars() {
    let mut inv = load_yaml("all:\n  hosts: {h1: }\n");
    inv.hosts[0].vars.insert("port".into(), json!(70000));
    assert!(inv
        .connection("h1")
        .unwrap_err()
        .contains("invalid port 70000"));
    inv.hosts[0].vars.insert("port".into(), json!(22));
    inv.hosts[0].vars.insert("user".into(), json!(5));
    assert!(inv
        .connection("h1")
        .unwrap_err()
        .contains("user must be a string"));
}

#[test]
fn groups_map_lists_every_group() {
    let inv = load_yaml(MAIL);
    let map = inv.groups_map();
    assert_eq!(map["relays"], json!(["mx2", "relay1"]));
    assert_eq!(map["ungrouped"], json!(["bastion"]));
    assert_eq!(map["all"].as_array().unwrap().len(), 5);
    assert_eq!(map.len(), inv.groups.len());
}

#[test]
fn patterns_select_hosts_in_inventory_order() {
    let inv = load_yaml(MAIL);
    let select = |p: &str| inv.select(p).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(select("all"), names(&inv));
    assert_eq!(select("*"), names(&inv));
    assert_eq!(select("mx2"), ["mx2"]);
    assert_eq!(select("relays"), ["mx2", "relay1"]);
    assert_eq!(select("web:relays"), ["mx1", "mx2", "relay1", "www1"]);
    assert_eq!(select("relays, web"), ["mx1", "mx2", "relay1", "www1"]);
    assert_eq!(select("mail:!relays"), ["mx1"]);
    assert_eq!(
        select("!relays:mail"),
        ["mx1"],
        "exclusions apply after unions"
    );
    assert_eq!(select("mail:&web"), ["mx1"]);
    assert_eq!(
        select("&web"),
        ["mx1", "www1"],
        "an intersection alone starts from all"
    );
    assert_eq!(select("!mail"), ["bastion", "www1"]);
    assert_eq!(select("mx*"), ["mx1", "mx2"]);
    assert_eq!(
        select("rel*"),
        ["mx2", "relay1"],
        "globs match group names too"
    );
    assert_eq!(select("mx[!1]:www?"), ["mx2", "www1"]);
    assert_eq!(select("web:mx[0-1]"), ["mx1", "www1"]);
}

#[test]
fn patterns_that_match_nothing_name_the_pattern() {
    let inv = load_yaml(MAIL);
    assert_eq!(
        inv.select("zz*").unwrap_err(),
        "host pattern 'zz*' matches no hosts"
    );
    assert_eq!(
        inv.select("web:!web").unwrap_err(),
        "host pattern 'web:!web' matches no hosts"
    );
    assert_eq!(
        inv.select("web:wbe").unwrap_err(),
        "host pattern 'web:wbe': no host or group named 'wbe'"
    );
    assert!(inv.select(" ").is_err());
    assert!(inv.select("~mx.*").unwrap_err().contains("not supported"));
}

#[test]
fn a_pattern_that_is_a_host_name_with_colons_is_that_host() {
    let inv = load_yaml("all:\n  hosts:\n    \"fe80::1\":\n    other:\n");
    assert_eq!(inv.select("fe80::1").unwrap(), ["fe80::1"]);
}

#[test]
fn errors_point_at_file_line_and_column() {
    let cases = [
        ("bad.yml", "all:\n  hosts: [a, b\n", "bad.yml:3:1: invalid YAML"),
        ("host.yml", "all:\n  hosts:\n    h1: just-a-string\n", "host.yml:3:9: host 'h1' must be a mapping of variables or empty, found a string"),
        ("list.yml", "all:\n  hosts:\n    - h1\n", "list.yml:3:5: hosts of group 'all' must be a mapping of names, found a list"),
        ("key.yml", "all:\n  host:\n    h1:\n", "key.yml:2:3: unknown key 'host' in group 'all': expected hosts, vars or children"),
        ("group.yml", "all:\n  children:\n    web: [w1]\n", "group.yml:3:10: group 'web' must be a mapping with hosts, vars or children, found a list"),
        ("port.yml", "all:\n  hosts:\n    h1:\n      ansible_port: ssh\n", "port.yml:4:21: ansible_port: invalid port \"ssh\": expected a number from 1 to 65535"),
        ("range.yml", "all:\n  hosts:\n    web[3:x]:\n", "range.yml:3:5: host range '[3:x]' in 'web[3:x]' must go between two numbers or two letters"),
        ("root.yml", "- h1\n", "root.yml:1:1: an inventory must be a mapping of group names (like `all:`), found a list"),
        ("tag.yml", "all:\n  vars:\n    secret: !vault abc\n", "tag.yml:3:20: YAML tag !vault is not supported in inventory values"),
        ("section.ini", "[web]\nw1\n\n[web:hostz]\n", "section.ini:4:1: unknown section type ':hostz' in [web:hostz]: expected :vars or :children"),
        ("port.ini", "[web]\n  w1 port=0\n", "port.ini:2:6: port: invalid port 0: expected a number from 1 to 65535"),
        ("hostport.ini", "[web]\nw1:99999\n", "hostport.ini:2:1: ansible_port: invalid port \"99999\": expected a number from 1 to 65535"),
        ("token.ini", "[web]\nw1 a=1 oops\n", "token.ini:2:8: expected `name=value` after host 'w1', found 'oops'"),
        ("vars.ini", "[web:vars]\njust words\n", "vars.ini:2:1: expected `name=value` in [web:vars], found 'just words'"),
        ("quote.ini", "[web]\nw1 motd=\"open\n", "quote.ini:2:1: unterminated \" quote in 'w1 motd=\"open'"),
    ];
    let f = Fixture::new();
    for (file, text, expected) in cases {
        f.file(file, text);
        let err = f.error(file);
        assert!(
            err.starts_with(expected),
            "{file}:\n  got      {err}\n  expected {expected}"
        );
    }
}

#[test]
fn group_cycles_are_reported_where_they_close() {
    let f = Fixture::new();
    f.file(
        "self.yml",
        "all:\n  children:\n    web:\n      children:\n        web:\n",
    );
    assert_eq!(f.error("self.yml"), "self.yml:5:9: group cycle: web -> web");

    f.file(
        "loop.ini",
        "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n",
    );
    assert_eq!(
        f.error("loop.ini"),
        "loop.ini:6:1: group cycle: a -> b -> c -> a"
    );

    f.file("all.ini", "[web:children]\nall\n");
    assert!(f
        .error("all.ini")
        .starts_with("all.ini:2:1: group 'web' cannot have 'all' as a child"));
}

#[test]
fn a_name_used_for_a_host_and_a_group_is_an_error() {
    let f = Fixture::new();
    f.file(
        "clash.yml",
        "all:\n  hosts:\n    db: {x: 1}\n  children:\n    db:\n",
    );
    assert_eq!(
        f.error("clash.yml"),
        "clash.yml:3:5: 'db' is both a host and a group name; patterns could not tell them apart"
    );
}

#[test]
fn vars_files_must_be_mappings() {
    let f = Fixture::new();
    f.file("hosts.yml", "all:\n  hosts: {h1: }\n")
        .file("group_vars/all.yml", "- not\n- a mapping\n");
    assert_eq!(
        f.error("hosts.yml"),
        "group_vars/all.yml:1:1: a vars file must be a mapping of variable names to values, found a list"
    );

    f.file("group_vars/all.yml", "")
        .file("host_vars/h1.yml", "port: [22]\n");
    assert!(f
        .error("hosts.yml")
        .starts_with("host_vars/h1.yml:1:7: port: invalid port [22]"));

    f.file("host_vars/h1.yml", "a: [\n");
    assert!(f.error("hosts.yml").starts_with("host_vars/h1.yml:"));
    assert!(f.error("hosts.yml").contains("invalid YAML"));
}

#[test]
fn a_missing_inventory_names_the_file() {
    let err = Inventory::load(Path::new("/nonexistent/hosts.yml"), &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/hosts.yml: cannot read"),
        "{err}"
    );
}

#[test]
fn hosts_seen_twice_merge_vars_and_keep_first_position() {
    let inv = load_ini("[a]\nh1 x=1 y=1\nh2\n[b]\nh1 y=2\n");
    assert_eq!(names(&inv), ["h1", "h2"]);
    assert_eq!(
        inv.host("h1").unwrap().vars,
        Vars::from_iter([("x".into(), json!(1)), ("y".into(), Value::from(2))])
    );
    assert_eq!(group_hosts(&inv, "b"), ["h1"]);
}
