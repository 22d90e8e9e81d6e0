//! `copy` and `template`: a file whose whole content is declared, written atomically.
//!
//! Both end up here: `copy` takes `content` or a `src` file as it is, `template` renders
//! `src` with the host's variables first. The content is known before connecting, so the
//! diff against the host's file is exact.

use async_trait::async_trait;

use super::remote::{stat_probe, write_file_script, Attrs, PathState, MAX_DIFF_BYTES};
use super::{ArgError, Args, BuildCtx, Change, HostHandle, Probe, Resource, ResourceError};

#[derive(Debug)]
pub struct ManagedFile {
    pub dest: String,
    pub content: Vec<u8>,
    pub attrs: Attrs,
    pub validate: Option<String>,
    pub backup: bool,
    /// Content never shown in diffs (keys, files holding secrets).
    pub sensitive: bool,
}

impl ManagedFile {
    pub fn copy_from_args(args: &mut Args, ctx: &BuildCtx) -> Result<ManagedFile, ArgError> {
        let content = match (args.str("content")?, args.str("src")?) {
            (Some(c), None) => c.into_bytes(),
            (None, Some(src)) => {
                let path = BuildCtx::find(ctx.file_dirs, &src).ok_or_else(|| {
                    args.error(format!(
                        "source file `{src}` not found (looked in {})",
                        show_dirs(ctx.file_dirs)
                    ))
                })?;
                std::fs::read(&path)
                    .map_err(|e| args.error(format!("cannot read {}: {e}", path.display())))?
            }
            (Some(_), Some(_)) => return Err(args.error("give `content` or `src`, not both")),
            (None, None) => return Err(args.error("`content` or `src` is required")),
        };
        Self::rest(args, content)
    }

    pub fn template_from_args(args: &mut Args, ctx: &BuildCtx) -> Result<ManagedFile, ArgError> {
        let src = args.req_str("src")?;
        let path = BuildCtx::find(ctx.template_dirs, &src).ok_or_else(|| {
            args.error(format!(
                "template `{src}` not found (looked in {})",
                show_dirs(ctx.template_dirs)
            ))
        })?;
        let rendered = (ctx.render_file)(&path).map_err(|e| args.error(e))?;
        Self::rest(args, rendered.into_bytes())
    }

    fn rest(args: &mut Args, content: Vec<u8>) -> Result<ManagedFile, ArgError> {
        let dest = args.req_str("dest")?;
        if dest.ends_with('/') {
            return Err(args.error(format!("`dest` {dest} must name a file, not a directory")));
        }
        if let Some(v) = args.str("validate")? {
            if !v.contains("%s") {
                return Err(args.error("`validate` must contain %s (the file to check)"));
            }
        }
        Ok(ManagedFile {
            dest,
            content,
            attrs: Attrs {
                mode: args.mode("mode")?,
                owner: args.str("owner")?,
                group: args.str("group")?,
            },
            validate: args.str("validate")?,
            backup: args.bool("backup")?.unwrap_or(false),
            sensitive: args.bool("sensitive")?.unwrap_or(false),
        })
    }

    fn sha256(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&self.content))
    }
}

fn show_dirs(dirs: &[std::path::PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl Resource for ManagedFile {
    fn probe(&self) -> String {
        stat_probe(&self.dest, true)
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        let current = PathState::parse(observed);
        match current.kind.as_str() {
            "absent" => {
                let mut changes = vec![Change::Content {
                    path: self.dest.clone(),
                    before: None,
                    after: self.content.clone(),
                    sensitive: self.sensitive || self.content.len() as u64 > MAX_DIFF_BYTES,
                }];
                changes.extend(self.attrs.diff(&self.dest, &PathState::default()));
                return Ok(changes);
            }
            "file" => {}
            other => {
                return Err(ResourceError::new(format!(
                    "{} is a {other}, not a regular file; refusing to replace it",
                    self.dest
                )))
            }
        }

        let mut changes = Vec::new();
        if current.sha256.as_deref() != Some(self.sha256().as_str()) {
            // The host sends back small files only; a large one is not diffed line by line.
            let shown = self.content.len() as u64 <= MAX_DIFF_BYTES && current.content.is_some();
            changes.push(Change::Content {
                path: self.dest.clone(),
                before: current.content.clone().or(Some(Vec::new())),
                after: self.content.clone(),
                sensitive: self.sensitive || !shown,
            });
        }
        changes.extend(self.attrs.diff(&self.dest, &current));
        Ok(changes)
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        _observed: &Probe,
        changes: &[Change],
    ) -> Result<(), ResourceError> {
        let content_changes = changes.iter().any(|c| matches!(c, Change::Content { .. }));
        let script = if content_changes {
            write_file_script(
                &self.dest,
                &self.content,
                &self.attrs,
                self.validate.as_deref(),
                self.backup,
            )
        } else {
            format!(
                "set -e\n{}",
                self.attrs.set_script(&super::remote::quote(&self.dest))
            )
        };
        host.run_ok(&format!("write {}", self.dest), &script)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn managed(content: &str) -> ManagedFile {
        ManagedFile {
            dest: "/etc/motd".into(),
            content: content.as_bytes().to_vec(),
            attrs: Attrs {
                mode: Some(0o644),
                ..Default::default()
            },
            validate: None,
            backup: false,
            sensitive: false,
        }
    }

    fn probe_for(content: &str, mode: &str) -> Probe {
        use base64::Engine as _;
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(content.as_bytes()));
        let b64 = base64::engine::general_purpose::STANDARD.encode(content);
        Probe {
            status: 0,
            stdout: format!(
                "type=file\nmode={mode}\nowner=root\ngroup=root\nsha256={sha}\ncontent={b64}\n"
            ),
        }
    }

    #[test]
    fn same_content_and_mode_is_converged() {
        assert!(managed("hello\n")
            .diff(&probe_for("hello\n", "644"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn changed_content_carries_both_versions_for_the_diff() {
        let changes = managed("new\n").diff(&probe_for("old\n", "644")).unwrap();
        match &changes[0] {
            Change::Content { before, after, .. } => {
                assert_eq!(before.as_deref(), Some(&b"old\n"[..]));
                assert_eq!(after, b"new\n");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
