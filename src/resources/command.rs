//! `command` and `shell`: run something, guarded by `creates`, `removes` or `unless` so
//! that a converged host runs nothing. `command` runs its words without a shell (no
//! pipes, globs or variables); `shell` hands the text to sh.

use async_trait::async_trait;

use super::remote::quote;
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

#[derive(Debug)]
pub struct Command {
    /// The script that runs the command (already quoted for `command`).
    script: String,
    /// What the user wrote, for messages.
    shown: String,
    creates: Option<String>,
    removes: Option<String>,
    unless: Option<String>,
    chdir: Option<String>,
}

impl Command {
    pub fn from_args(args: &mut Args, through_shell: bool) -> Result<Command, ArgError> {
        let text = args.req_str("cmd")?;
        let script = if through_shell {
            text.clone()
        } else {
            let words = shlex::split(&text).ok_or_else(|| {
                args.error(format!(
                    "cannot split `{text}` into words (unbalanced quotes)"
                ))
            })?;
            if words.is_empty() {
                return Err(args.error("`cmd` is empty"));
            }
            words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
        };
        Ok(Command {
            script,
            shown: text,
            creates: args.str("creates")?,
            removes: args.str("removes")?,
            unless: args.str("unless")?,
            chdir: args.str("chdir")?,
        })
    }
}

#[async_trait]
impl Resource for Command {
    fn probe(&self) -> String {
        let mut probe = String::new();
        if let Some(path) = &self.creates {
            probe.push_str(&format!("[ -e {} ] && echo guard=creates\n", quote(path)));
        }
        if let Some(path) = &self.removes {
            probe.push_str(&format!("[ -e {} ] || echo guard=removes\n", quote(path)));
        }
        if let Some(check) = &self.unless {
            probe.push_str(&format!(
                "( {check}\n) </dev/null >/dev/null 2>&1 && echo guard=unless\n"
            ));
        }
        probe.push_str("true\n");
        probe
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        if observed.field("guard").is_some() {
            return Ok(Vec::new());
        }
        Ok(vec![Change::Run {
            what: self.shown.clone(),
        }])
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        _observed: &Probe,
        _changes: &[Change],
    ) -> Result<(), ResourceError> {
        let mut script = String::new();
        if let Some(dir) = &self.chdir {
            script.push_str(&format!("cd {} || exit 1\n", quote(dir)));
        }
        // A group, so that closing stdin covers a multi-line script and the exit status
        // is the script's own.
        script.push_str(&format!("{{ {}\n}} </dev/null\n", self.script));
        host.run_ok(&format!("`{}`", self.shown), &script).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value, shell: bool) -> Command {
        Command::from_args(
            &mut Args::new("command", v.as_object().unwrap().clone()),
            shell,
        )
        .unwrap()
    }

    #[test]
    fn command_words_are_quoted_so_no_shell_expands_them() {
        let c = build(json!({"cmd": "echo $HOME 'a b'"}), false);
        assert_eq!(c.script, "'echo' '$HOME' 'a b'");
    }

    #[test]
    fn a_guard_in_the_probe_means_nothing_to_run() {
        let c = build(json!({"cmd": "make", "creates": "/x"}), true);
        let done = Probe {
            status: 0,
            stdout: "guard=creates\n".into(),
        };
        assert!(c.diff(&done).unwrap().is_empty());
        let todo = Probe {
            status: 0,
            stdout: String::new(),
        };
        assert_eq!(c.diff(&todo).unwrap()[0].to_string(), "run make");
    }
}
