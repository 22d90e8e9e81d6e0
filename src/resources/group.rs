//! `group`: a local group present with a given gid, or absent.

use async_trait::async_trait;

use super::remote::quote;
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

#[derive(Debug)]
pub struct Group {
    pub name: String,
    pub present: bool,
    pub gid: Option<u64>,
    /// Allocate the gid from the system range when creating.
    pub system: bool,
}

/// What shadow's tools accept as a user or group name, and nothing starting with `-`.
pub(crate) fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c) || c == '$')
}

impl Group {
    pub fn from_args(args: &mut Args) -> Result<Group, ArgError> {
        let name = args.req_str("name")?;
        if !valid_account_name(&name) {
            return Err(args.error(format!("`{name}` is not a valid group name")));
        }
        Ok(Group {
            name,
            present: args.choice("state", &["present", "absent"], "present")? == "present",
            gid: args.u64("gid")?,
            system: args.bool("system")?.unwrap_or(false),
        })
    }
}

#[async_trait]
impl Resource for Group {
    fn probe(&self) -> String {
        format!(
            "if line=$(getent group {}); then echo group=present; \
             echo \"gid=$(echo \"$line\" | cut -d: -f3)\"; else echo group=absent; fi\n",
            quote(&self.name)
        )
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        let exists = observed.field("group") == Some("present");
        let what = format!("group {}", self.name);
        Ok(match (exists, self.present) {
            (false, true) => vec![Change::Create { what }],
            (true, false) => vec![Change::Remove { what }],
            (false, false) => vec![],
            (true, true) => {
                let have = observed.field("gid").unwrap_or("-");
                match self.gid {
                    Some(gid) if have != gid.to_string() => vec![Change::Set {
                        what,
                        field: "gid".into(),
                        from: have.to_string(),
                        to: gid.to_string(),
                    }],
                    _ => vec![],
                }
            }
        })
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        _observed: &Probe,
        changes: &[Change],
    ) -> Result<(), ResourceError> {
        let name = quote(&self.name);
        let gid = self.gid.map(|g| format!(" -g {g}")).unwrap_or_default();
        let mut script = String::from("set -e\n");
        for change in changes {
            match change {
                Change::Create { .. } => {
                    let system = if self.system { " -r" } else { "" };
                    script.push_str(&format!("groupadd{gid}{system} -- {name}\n"));
                }
                Change::Remove { .. } => script.push_str(&format!("groupdel -- {name}\n")),
                Change::Set { .. } => script.push_str(&format!("groupmod{gid} -- {name}\n")),
                _ => {}
            }
        }
        host.run_ok(&format!("group {}", self.name), &script)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value) -> Result<Group, ArgError> {
        crate::resources::args::build_from("group", v, Group::from_args)
    }

    #[test]
    fn arguments_are_checked() {
        let g = build(json!({"name": "vmail", "gid": "5000", "system": true})).unwrap();
        assert_eq!(g.gid, Some(5000));
        assert!(build(json!({"name": "-r"})).is_err());
        assert!(build(json!({"name": "a b"})).is_err());
        assert!(build(json!({"name": "x", "gid": -1})).is_err());
    }

    #[test]
    fn diff_creates_removes_and_fixes_the_gid() {
        let g = build(json!({"name": "vmail", "gid": 5000})).unwrap();
        assert_eq!(
            g.diff(&Probe::from_stdout("group=absent\n")).unwrap()[0].to_string(),
            "create group vmail"
        );
        assert_eq!(
            g.diff(&Probe::from_stdout("group=present\ngid=1001\n"))
                .unwrap()[0]
                .to_string(),
            "group vmail: gid 1001 -> 5000"
        );
        assert!(g
            .diff(&Probe::from_stdout("group=present\ngid=5000\n"))
            .unwrap()
            .is_empty());
        let gone = build(json!({"name": "vmail", "state": "absent"})).unwrap();
        assert!(gone
            .diff(&Probe::from_stdout("group=absent\n"))
            .unwrap()
            .is_empty());
        assert_eq!(
            gone.diff(&Probe::from_stdout("group=present\ngid=1\n"))
                .unwrap()
                .len(),
            1
        );
    }
}
