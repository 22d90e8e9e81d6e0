//! `file`: a path's kind (file, directory, link, absent) and its owner, group and mode.

use async_trait::async_trait;

use super::remote::{quote, stat_probe, Attrs, PathState};
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

#[derive(Debug, Clone, PartialEq)]
pub enum FileState {
    /// The path must be an existing regular file; only its attributes are managed.
    File,
    Directory,
    Link {
        src: String,
    },
    Absent,
    /// Create an empty file when missing.
    Touch,
}

#[derive(Debug)]
pub struct File {
    pub path: String,
    pub state: FileState,
    pub attrs: Attrs,
}

impl File {
    pub fn from_args(args: &mut Args) -> Result<File, ArgError> {
        let path = match args.str("path")? {
            Some(p) => p,
            None => args
                .str("dest")?
                .ok_or_else(|| args.error("argument `path` is required"))?,
        };
        let state = args.choice(
            "state",
            &["file", "directory", "link", "absent", "touch"],
            "file",
        )?;
        let src = args.str("src")?;
        let state = match state.as_str() {
            "directory" => FileState::Directory,
            "link" => FileState::Link {
                src: src.ok_or_else(|| args.error("state=link needs `src`"))?,
            },
            "absent" => FileState::Absent,
            "touch" => FileState::Touch,
            _ => FileState::File,
        };
        let attrs = Attrs {
            mode: args.mode("mode")?,
            owner: args.str("owner")?,
            group: args.str("group")?,
        };
        Ok(File { path, state, attrs })
    }
}

#[async_trait]
impl Resource for File {
    fn probe(&self) -> String {
        stat_probe(&self.path, false)
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        let current = PathState::parse(observed);
        let path = &self.path;
        let mut changes = Vec::new();
        match &self.state {
            FileState::Absent => {
                if current.exists() {
                    changes.push(Change::Remove {
                        what: format!("{} {path}", current.kind),
                    });
                }
                return Ok(changes);
            }
            FileState::File => {
                if current.kind != "file" {
                    return Err(ResourceError::new(format!(
                        "{path} is {} (state=file manages an existing file; use copy, template or state=touch to create one)",
                        describe(&current.kind)
                    )));
                }
            }
            FileState::Touch => {
                if !current.exists() {
                    changes.push(Change::Create {
                        what: format!("empty file {path}"),
                    });
                }
            }
            FileState::Directory => {
                if current.kind != "directory" {
                    if current.exists() {
                        return Err(ResourceError::new(format!(
                            "{path} is {}, not a directory; refusing to replace it",
                            describe(&current.kind)
                        )));
                    }
                    changes.push(Change::Create {
                        what: format!("directory {path}"),
                    });
                }
            }
            FileState::Link { src } => {
                if current.kind != "link" || current.link_target.as_deref() != Some(src) {
                    if current.exists() && current.kind != "link" {
                        return Err(ResourceError::new(format!(
                            "{path} is {}, not a link; refusing to replace it",
                            describe(&current.kind)
                        )));
                    }
                    changes.push(Change::Set {
                        what: path.clone(),
                        field: "link".into(),
                        from: current.link_target.clone().unwrap_or_else(|| "-".into()),
                        to: src.clone(),
                    });
                }
                // Attributes of a link are those of its target; leave them alone.
                return Ok(changes);
            }
        }
        let fresh = PathState::default();
        let base = if changes.is_empty() { &current } else { &fresh };
        changes.extend(self.attrs.diff(path, base));
        Ok(changes)
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        _observed: &Probe,
        _changes: &[Change],
    ) -> Result<(), ResourceError> {
        let p = quote(&self.path);
        let mut script = String::from("set -e\n");
        match &self.state {
            FileState::Absent => script.push_str(&format!("rm -rf -- {p}\n")),
            FileState::Directory => script.push_str(&format!("mkdir -p -- {p}\n")),
            FileState::Touch => script.push_str(&format!("[ -e {p} ] || : > {p}\n")),
            FileState::Link { src } => {
                script.push_str(&format!("ln -sfn -- {} {p}\n", quote(src)));
            }
            FileState::File => {}
        }
        if !matches!(self.state, FileState::Absent | FileState::Link { .. }) {
            script.push_str(&self.attrs.set_script(&p));
        }
        host.run_ok(&format!("file {}", self.path), &script).await?;
        Ok(())
    }
}

fn describe(kind: &str) -> &str {
    match kind {
        "absent" => "missing",
        "file" => "a regular file",
        "directory" => "a directory",
        "link" => "a symbolic link",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value) -> File {
        File::from_args(&mut Args::new("file", v.as_object().unwrap().clone())).unwrap()
    }

    #[test]
    fn missing_directory_is_created_with_its_attributes() {
        let f = build(json!({"path": "/srv/x", "state": "directory", "mode": "0750"}));
        let changes = f.diff(&Probe::from_stdout("type=absent\n")).unwrap();
        assert_eq!(changes[0].to_string(), "create directory /srv/x");
        assert_eq!(changes[1].to_string(), "/srv/x: mode - -> 0750");
    }

    #[test]
    fn converged_directory_has_no_changes() {
        let f =
            build(json!({"path": "/srv/x", "state": "directory", "mode": "0750", "owner": "root"}));
        let st = "type=directory\nmode=750\nowner=root\ngroup=root\n";
        assert!(f.diff(&Probe::from_stdout(st)).unwrap().is_empty());
    }

    #[test]
    fn a_file_is_never_silently_turned_into_a_directory() {
        let f = build(json!({"path": "/srv/x", "state": "directory"}));
        assert!(f
            .diff(&Probe::from_stdout("type=file\nmode=644\n"))
            .is_err());
    }
}
