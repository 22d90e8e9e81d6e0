//! `user`: a local account and its uid, groups, home, shell, comment and password.
//!
//! `password` is an already-hashed crypt(3) string (`$y$...`, `$6$...`); plain passwords
//! are not accepted because they would have to be hashed on the controller with a salt,
//! making every run differ. The probe compares the hash on the host and prints only
//! whether it matches; the hash is set through `chpasswd -e` on stdin, never in argv.

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::group::valid_account_name;
use super::remote::quote;
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

/// How a secret appears in a change.
const HIDDEN: &str = "********";

#[derive(Debug, Default)]
pub struct User {
    pub name: String,
    pub present: bool,
    pub uid: Option<u64>,
    /// Primary group, by name or gid.
    pub group: Option<String>,
    /// Supplementary groups: exactly these, or at least these with `append`.
    pub groups: Option<Vec<String>>,
    pub append: bool,
    pub home: Option<String>,
    pub shell: Option<String>,
    pub comment: Option<String>,
    pub password: Option<String>,
    /// Creation only: a system account, and whether its home directory is made.
    pub system: bool,
    pub create_home: bool,
    /// With `state: absent`, also delete the home directory and mail spool.
    pub remove: bool,
}

impl User {
    pub fn from_args(args: &mut Args) -> Result<User, ArgError> {
        let name = args.req_str("name")?;
        if !valid_account_name(&name) {
            return Err(args.error(format!("`{name}` is not a valid user name")));
        }
        let groups = args.list("groups")?;
        for g in groups.iter().flatten().chain(args.str("group")?.iter()) {
            if !valid_account_name(g) {
                return Err(args.error(format!("`{g}` is not a valid group name")));
            }
        }
        let comment = args.str("comment")?;
        if comment.as_deref().is_some_and(|c| c.contains([':', '\n'])) {
            return Err(args.error("`comment` cannot contain `:` or a newline"));
        }
        let password = args.str("password")?;
        if let Some(p) = &password {
            if !p.starts_with('$') || p.contains([':', '\n']) {
                return Err(args.error(
                    "`password` must be a crypt(3) hash such as `$y$...` (mkpasswd makes one)",
                ));
            }
        }
        Ok(User {
            name,
            present: args.choice("state", &["present", "absent"], "present")? == "present",
            uid: args.u64("uid")?,
            group: args.str("group")?,
            groups,
            append: args.bool("append")?.unwrap_or(false),
            home: args.str("home")?,
            shell: args.str("shell")?,
            comment,
            password,
            system: args.bool("system")?.unwrap_or(false),
            create_home: args.bool("create_home")?.unwrap_or(true),
            remove: args.bool("remove")?.unwrap_or(false),
        })
    }

    fn what(&self) -> String {
        format!("user {}", self.name)
    }

    /// Supplementary groups to pass to `-G`, given the ones the user is in now.
    fn wanted_groups(&self, have: &BTreeSet<String>) -> Option<BTreeSet<String>> {
        let want: BTreeSet<String> = self.groups.as_ref()?.iter().cloned().collect();
        let target = if self.append {
            have.union(&want).cloned().collect()
        } else {
            want
        };
        (target != *have).then_some(target)
    }
}

#[async_trait]
impl Resource for User {
    fn probe(&self) -> String {
        let n = quote(&self.name);
        let mut script = format!(
            "line=$(getent passwd {n}) || {{ echo user=absent; exit 0; }}\n\
             echo user=present\n\
             echo \"$line\" | {{ IFS=: read -r _ _ uid gid gecos home shell; \
             echo \"uid=$uid\"; echo \"gid=$gid\"; echo \"comment=$gecos\"; \
             echo \"home=$home\"; echo \"shell=$shell\"; }}\n\
             echo \"group=$(id -gn -- {n})\"\n\
             echo \"groups=$(id -Gn -- {n})\"\n"
        );
        if let Some(hash) = &self.password {
            // Compared here so that the hash never travels back in the output.
            script.push_str(&format!(
                "if s=$(getent shadow {n}); then \
                 if [ \"$(echo \"$s\" | cut -d: -f2)\" = {} ]; then echo password=same; \
                 else echo password=differs; fi; else echo password=unreadable; fi\n",
                quote(hash)
            ));
        }
        script
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        let exists = observed.field("user") == Some("present");
        let what = self.what();
        match (exists, self.present) {
            (false, true) => return Ok(vec![Change::Create { what }]),
            (true, false) => return Ok(vec![Change::Remove { what }]),
            (false, false) => return Ok(vec![]),
            (true, true) => {}
        }

        let mut changes = Vec::new();
        let mut set = |field: &str, from: &str, to: &str| {
            changes.push(Change::Set {
                what: what.clone(),
                field: field.into(),
                from: from.into(),
                to: to.into(),
            })
        };
        let field = |k: &str| observed.field(k).unwrap_or("");

        if let Some(uid) = self.uid {
            if field("uid") != uid.to_string() {
                set("uid", field("uid"), &uid.to_string());
            }
        }
        if let Some(group) = &self.group {
            let numeric = group.chars().all(|c| c.is_ascii_digit());
            let have = if numeric {
                field("gid")
            } else {
                field("group")
            };
            if have != group {
                set("group", field("group"), group);
            }
        }
        for (name, want) in [
            ("home", &self.home),
            ("shell", &self.shell),
            ("comment", &self.comment),
        ] {
            if let Some(want) = want {
                if field(name) != want {
                    set(name, field(name), want);
                }
            }
        }

        let primary = field("group");
        let have: BTreeSet<String> = field("groups")
            .split_whitespace()
            .filter(|g| *g != primary)
            .map(String::from)
            .collect();
        if let Some(target) = self.wanted_groups(&have) {
            let show = |s: &BTreeSet<String>| match s.is_empty() {
                true => "-".to_string(),
                false => s.iter().cloned().collect::<Vec<_>>().join(","),
            };
            set("groups", &show(&have), &show(&target));
        }

        if self.password.is_some() {
            match field("password") {
                "same" => {}
                "unreadable" => {
                    return Err(ResourceError::new(format!(
                        "user {}: cannot read /etc/shadow to compare the password (not root?)",
                        self.name
                    )))
                }
                _ => set("password", HIDDEN, HIDDEN),
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
        let name = quote(&self.name);
        let mut script = String::from("set -e\n");
        let has = |f: &str| {
            changes
                .iter()
                .any(|c| matches!(c, Change::Set { field, .. } if field == f))
        };

        if changes.iter().any(|c| matches!(c, Change::Remove { .. })) {
            let remove = if self.remove { " -r" } else { "" };
            script.push_str(&format!("userdel{remove} -- {name}\n"));
            host.run_ok(&self.what(), &script).await?;
            return Ok(());
        }

        let creating = changes.iter().any(|c| matches!(c, Change::Create { .. }));
        let mut opts = String::new();
        let mut opt = |flag: &str, value: &str| {
            opts.push_str(&format!(" {flag} {}", quote(value)));
        };
        if let Some(uid) = self.uid.filter(|_| creating || has("uid")) {
            opt("-u", &uid.to_string());
        }
        if let Some(g) = self.group.as_ref().filter(|_| creating || has("group")) {
            opt("-g", g);
        }
        if let Some(h) = self.home.as_ref().filter(|_| creating || has("home")) {
            opt("-d", h);
        }
        if let Some(s) = self.shell.as_ref().filter(|_| creating || has("shell")) {
            opt("-s", s);
        }
        if let Some(c) = self.comment.as_ref().filter(|_| creating || has("comment")) {
            opt("-c", c);
        }
        if creating {
            if let Some(groups) = &self.groups {
                opt("-G", &groups.join(","));
            }
        } else if has("groups") {
            let primary = observed.field("group").unwrap_or("");
            let have: BTreeSet<String> = observed
                .field("groups")
                .unwrap_or("")
                .split_whitespace()
                .filter(|g| *g != primary)
                .map(String::from)
                .collect();
            let target = self.wanted_groups(&have).unwrap_or_default();
            opt("-G", &target.into_iter().collect::<Vec<_>>().join(","));
        }

        if creating {
            let system = if self.system { " -r" } else { "" };
            let home = if self.create_home { " -m" } else { " -M" };
            script.push_str(&format!("useradd{system}{home}{opts} -- {name}\n"));
        } else if !opts.is_empty() {
            script.push_str(&format!("usermod{opts} -- {name}\n"));
        }
        if let Some(hash) = self
            .password
            .as_ref()
            .filter(|_| creating || has("password"))
        {
            // printf is a shell builtin: the hash reaches chpasswd on a pipe, not in argv.
            script.push_str(&format!(
                "printf '%s:%s\\n' {name} {} | chpasswd -e\n",
                quote(hash)
            ));
        }
        host.run_ok(&self.what(), &script).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value) -> Result<User, ArgError> {
        crate::resources::args::build_from("user", v, User::from_args)
    }

    const PRESENT: &str = "user=present\nuid=1001\ngid=1001\ncomment=Mail\nhome=/home/vmail\n\
                           shell=/bin/sh\ngroup=vmail\ngroups=vmail mail adm\n";

    fn probe(extra: &str) -> Probe {
        Probe {
            status: 0,
            stdout: format!("{PRESENT}{extra}"),
        }
    }

    #[test]
    fn arguments_are_checked() {
        let u = build(json!({"name": "vmail", "uid": 5000, "groups": "mail,adm",
                             "shell": "/usr/sbin/nologin", "system": true}))
        .unwrap();
        assert_eq!(
            u.groups.as_deref(),
            Some(&["mail".to_string(), "adm".into()][..])
        );
        assert!(u.create_home);
        assert!(build(json!({"name": "x", "password": "hunter2"})).is_err());
        assert!(build(json!({"name": "x", "comment": "a:b"})).is_err());
        assert!(build(json!({"name": "x", "groups": ["-G"]})).is_err());
        assert!(build(json!({"name": "x", "passwd": "$y$x"})).is_err());
    }

    #[test]
    fn a_converged_user_has_no_changes() {
        let u = build(json!({"name": "vmail", "uid": 1001, "group": "vmail",
                             "groups": ["adm", "mail"], "home": "/home/vmail",
                             "shell": "/bin/sh", "comment": "Mail"}))
        .unwrap();
        assert!(u.diff(&probe("")).unwrap().is_empty());
        let by_gid = build(json!({"name": "vmail", "group": "1001"})).unwrap();
        assert!(by_gid.diff(&probe("")).unwrap().is_empty());
    }

    #[test]
    fn differing_fields_are_each_a_change() {
        let u = build(
            json!({"name": "vmail", "uid": 5000, "shell": "/usr/sbin/nologin",
                             "groups": ["mail"]}),
        )
        .unwrap();
        assert_eq!(
            Change::summaries(&u.diff(&probe("")).unwrap()),
            [
                "user vmail: uid 1001 -> 5000",
                "user vmail: shell /bin/sh -> /usr/sbin/nologin",
                "user vmail: groups adm,mail -> mail"
            ]
        );
        let append = build(json!({"name": "vmail", "groups": ["mail", "ssl-cert"],
                                  "append": true}))
        .unwrap();
        assert_eq!(
            Change::summaries(&append.diff(&probe("")).unwrap()),
            ["user vmail: groups adm,mail -> adm,mail,ssl-cert"]
        );
    }

    #[test]
    fn the_password_is_never_shown() {
        let u = build(json!({"name": "vmail", "password": "$y$j9T$abc$def"})).unwrap();
        assert!(u.probe().contains("'$y$j9T$abc$def'"));
        assert!(u.diff(&probe("password=same\n")).unwrap().is_empty());
        let changes = u.diff(&probe("password=differs\n")).unwrap();
        assert_eq!(
            Change::summaries(&changes),
            ["user vmail: password ******** -> ********"]
        );
        assert!(u.diff(&probe("password=unreadable\n")).is_err());
    }

    #[test]
    fn create_and_remove() {
        let u = build(json!({"name": "vmail"})).unwrap();
        let absent = Probe {
            status: 0,
            stdout: "user=absent\n".into(),
        };
        assert_eq!(
            Change::summaries(&u.diff(&absent).unwrap()),
            ["create user vmail"]
        );
        let gone = build(json!({"name": "vmail", "state": "absent"})).unwrap();
        assert_eq!(
            Change::summaries(&gone.diff(&probe("")).unwrap()),
            ["remove user vmail"]
        );
        assert!(gone.diff(&absent).unwrap().is_empty());
    }
}
