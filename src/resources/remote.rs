//! Shell building blocks shared by resources: quoting, probing a path, writing a file
//! atomically. Everything here produces POSIX sh that runs on a minimal Debian host
//! (coreutils, no Python).

use base64::Engine as _;

use super::Probe;

/// `s` as one single-quoted shell word.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Content larger than this is compared by checksum only and not shown in diffs.
pub const MAX_DIFF_BYTES: u64 = 256 * 1024;

/// A probe printing `type=`, `mode=`, `owner=`, `group=`, `size=`, `target=` (for links)
/// and, with `with_content`, `content=` (base64) for small regular files or `sha256=` for
/// larger ones.
pub fn stat_probe(path: &str, with_content: bool) -> String {
    let p = quote(path);
    let mut script = format!(
        "if [ -L {p} ]; then echo type=link; echo target=$(readlink {p}); \
         elif [ -d {p} ]; then echo type=directory; \
         elif [ -e {p} ]; then echo type=file; \
         else echo type=absent; exit 0; fi\n\
         st=$(stat -c 'mode=%a\nowner=%U\ngroup=%G\nuid=%u\ngid=%g\nsize=%s' {p}) && echo \"$st\"\n"
    );
    if with_content {
        // Small files come back whole (the diff needs them) and the controller hashes
        // them; only larger ones are hashed on the host. Fewer processes per file is
        // what keeps a converged run of many tasks fast.
        script.push_str(&format!(
            "if [ -f {p} ] && [ ! -L {p} ]; then \
             if [ \"${{st##*size=}}\" -le {MAX_DIFF_BYTES} ]; then printf content=; base64 -w0 < {p}; echo; \
             else set -- $(sha256sum < {p}); echo sha256=$1; fi; fi\n"
        ));
    }
    script
}

/// What `stat_probe` reported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PathState {
    pub kind: String,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub sha256: Option<String>,
    pub content: Option<Vec<u8>>,
    pub link_target: Option<String>,
}

impl PathState {
    pub fn parse(probe: &Probe) -> PathState {
        let content = probe.field("content").and_then(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(c.trim())
                .ok()
        });
        let sha256 = probe.field("sha256").map(str::to_string).or_else(|| {
            use sha2::Digest;
            content
                .as_ref()
                .map(|c| hex::encode(sha2::Sha256::digest(c)))
        });
        PathState {
            kind: probe.field("type").unwrap_or("absent").to_string(),
            mode: probe
                .field("mode")
                .and_then(|m| u32::from_str_radix(m, 8).ok()),
            owner: probe.field("owner").map(str::to_string),
            group: probe.field("group").map(str::to_string),
            uid: probe.field("uid").map(str::to_string),
            gid: probe.field("gid").map(str::to_string),
            sha256,
            content,
            link_target: probe.field("target").map(str::to_string),
        }
    }

    pub fn exists(&self) -> bool {
        self.kind != "absent"
    }
}

/// Ownership and permissions a resource declares for a path; `None` leaves as is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attrs {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Attrs {
    /// The `Set` changes needed to move `current` to these attributes.
    pub fn diff(&self, what: &str, current: &PathState) -> Vec<super::Change> {
        let mut changes = Vec::new();
        if let Some(mode) = self.mode {
            if current.mode != Some(mode) {
                changes.push(super::Change::Set {
                    what: what.to_string(),
                    field: "mode".into(),
                    from: current
                        .mode
                        .map(|m| format!("{m:04o}"))
                        .unwrap_or_else(|| "-".into()),
                    to: format!("{mode:04o}"),
                });
            }
        }
        for (field, want, name, id) in [
            ("owner", &self.owner, &current.owner, &current.uid),
            ("group", &self.group, &current.group, &current.gid),
        ] {
            if let Some(want) = want {
                // A numeric owner is compared with the numeric id, a name with the name.
                let numeric = !want.is_empty() && want.bytes().all(|b| b.is_ascii_digit());
                let have = if numeric { id } else { name };
                if have.as_deref() != Some(want.as_str()) {
                    changes.push(super::Change::Set {
                        what: what.to_string(),
                        field: field.into(),
                        from: have.clone().unwrap_or_else(|| "-".into()),
                        to: want.clone(),
                    });
                }
            }
        }
        changes
    }

    /// Shell lines setting these attributes on `path` (a shell expression, already quoted).
    pub fn set_script(&self, path: &str) -> String {
        let mut script = String::new();
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => {
                script.push_str(&format!("chown {}:{} {path}\n", quote(o), quote(g)))
            }
            (Some(o), None) => script.push_str(&format!("chown {} {path}\n", quote(o))),
            (None, Some(g)) => script.push_str(&format!("chgrp {} {path}\n", quote(g))),
            (None, None) => {}
        }
        if let Some(mode) = self.mode {
            // Five digits: GNU chmod keeps a directory's setgid bit under a 4-digit mode.
            script.push_str(&format!("chmod {mode:05o} {path}\n"));
        }
        script
    }
}

/// A script that writes `content` to `dest` atomically: a temporary file in the same
/// directory (created 0600, so a key is never readable by others), owner and mode set,
/// `validate` run on it (`%s` is the temporary path), then renamed over `dest`.
/// Attributes not declared are copied from the file being replaced. With `backup`,
/// the old file is kept as `dest.TIMESTAMP~`.
pub fn write_file_script(
    dest: &str,
    content: &[u8],
    attrs: &Attrs,
    validate: Option<&str>,
    backup: bool,
) -> String {
    let d = quote(dest);
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let mut body = String::with_capacity(encoded.len() + encoded.len() / 76 + 512);
    for chunk in encoded.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        body.push('\n');
    }

    // Owner and mode go on the empty file first, so the content is never readable by
    // anyone the declared mode does not allow, not even for a moment.
    let mut script = format!(
        "set -e\n\
         dest={d}\n\
         tmp=$(mktemp \"$(dirname \"$dest\")/.dsprov.XXXXXX\")\n\
         trap 'rm -f \"$tmp\"' EXIT\n\
         if [ -e \"$dest\" ]; then chown --reference=\"$dest\" \"$tmp\"; chmod --reference=\"$dest\" \"$tmp\"; \
         elif [ -z {declared} ]; then chmod 0644 \"$tmp\"; fi\n",
        declared = if attrs.mode.is_some() { "x" } else { "''" },
    );
    script.push_str(&attrs.set_script("\"$tmp\""));
    script.push_str(&format!(
        "base64 -d > \"$tmp\" <<'__DSPROV_CONTENT__'\n{body}__DSPROV_CONTENT__\n"
    ));
    if let Some(cmd) = validate {
        script.push_str(&cmd.replace("%s", "\"$tmp\""));
        script.push('\n');
    }
    if backup {
        script.push_str(
            "if [ -e \"$dest\" ]; then cp -p \"$dest\" \"$dest.$(date +%Y%m%d%H%M%S)~\"; fi\n",
        );
    }
    script.push_str("mv -f \"$tmp\" \"$dest\"\ntrap - EXIT\n");
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_files_come_back_whole_and_large_ones_as_a_hash() {
        use crate::transport::{local::LocalTransport, Transport};
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        let large = dir.path().join("large");
        std::fs::write(&small, b"hello\n").unwrap();
        let big = vec![b'x'; MAX_DIFF_BYTES as usize + 1];
        std::fs::write(&large, &big).unwrap();

        for (path, want_content) in [(&small, true), (&large, false)] {
            let script = stat_probe(path.to_str().unwrap(), true);
            let out = LocalTransport
                .exec("sh -s", script.as_bytes())
                .await
                .unwrap();
            let st = PathState::parse(&Probe::from_stdout(&out.stdout_text()));
            let data = std::fs::read(path).unwrap();
            assert_eq!(st.kind, "file");
            assert_eq!(st.sha256.unwrap(), hex::encode(sha2::Sha256::digest(&data)));
            assert_eq!(st.content.is_some(), want_content);
        }
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn path_state_parses_probe_output() {
        let probe = Probe {
            status: 0,
            stdout:
                "type=file\nmode=640\nowner=root\ngroup=mail\nsize=3\nsha256=ab\ncontent=aGkK\n"
                    .into(),
        };
        let st = PathState::parse(&probe);
        assert_eq!(st.mode, Some(0o640));
        assert_eq!(st.group.as_deref(), Some("mail"));
        assert_eq!(st.content.as_deref(), Some(&b"hi\n"[..]));
    }

    #[test]
    fn attrs_diff_only_declared_fields() {
        let st = PathState {
            kind: "file".into(),
            mode: Some(0o644),
            owner: Some("root".into()),
            group: Some("root".into()),
            ..Default::default()
        };
        let attrs = Attrs {
            mode: Some(0o600),
            owner: Some("root".into()),
            group: None,
        };
        let changes = attrs.diff("/x", &st);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "/x: mode 0644 -> 0600");
    }
}
