//! Where a host keeps the certificate's files, and with which owner, group and mode.

use serde_json::Value;

use crate::resources::remote::Attrs;
use crate::resources::{ArgError, Args};

/// The four files a certificate can be written to. `chain` and `fullchain` are optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Cert,
    Chain,
    Fullchain,
    Key,
}

impl Part {
    /// The argument name, also the probe's field name.
    pub fn name(self) -> &'static str {
        match self {
            Part::Cert => "cert",
            Part::Chain => "chain",
            Part::Fullchain => "fullchain",
            Part::Key => "key",
        }
    }
}

/// One file: `cert: /etc/x.pem` or `cert: {path, owner, group, mode}`.
#[derive(Debug, Clone, PartialEq)]
pub struct CertFile {
    pub part: Part,
    pub path: String,
    /// Mode 0644 for public files and 0600 for the key unless declared.
    pub attrs: Attrs,
}

impl CertFile {
    fn from_value(part: Part, value: Value, outer: &Args) -> Result<CertFile, ArgError> {
        let default_mode = if part == Part::Key { 0o600 } else { 0o644 };
        let (path, attrs) = match value {
            Value::String(path) => (
                path,
                Attrs {
                    mode: Some(default_mode),
                    ..Attrs::default()
                },
            ),
            Value::Object(map) => {
                let mut args = Args::new(&format!("certificate: `{}`", part.name()), map);
                let path = args.req_str("path")?;
                let attrs = Attrs {
                    owner: args.str("owner")?,
                    group: args.str("group")?,
                    mode: Some(args.mode("mode")?.unwrap_or(default_mode)),
                };
                args.finish()?;
                (path, attrs)
            }
            _ => {
                return Err(outer.error(format!(
                "argument `{}` must be a path or a mapping with `path`, `owner`, `group`, `mode`",
                part.name()
            )))
            }
        };
        if !path.starts_with('/') {
            return Err(outer.error(format!(
                "`{}`: `{path}` must be an absolute path",
                part.name()
            )));
        }
        if part == Part::Key && attrs.mode.is_some_and(|m| m & 0o007 != 0) {
            return Err(outer.error(format!(
                "`key`: mode {:04o} gives others access to the private key (0600 or 0640)",
                attrs.mode.unwrap_or_default()
            )));
        }
        Ok(CertFile { part, path, attrs })
    }
}

/// The declared files, in the order they are written: the key first, so that a new
/// certificate never sits beside an old key for longer than one rename.
#[derive(Debug, Clone, PartialEq)]
pub struct CertFiles(Vec<CertFile>);

impl CertFiles {
    pub fn from_args(args: &mut Args) -> Result<CertFiles, ArgError> {
        let mut files = Vec::new();
        for part in [Part::Key, Part::Cert, Part::Chain, Part::Fullchain] {
            let required = matches!(part, Part::Key | Part::Cert);
            match args.value(part.name()) {
                Some(value) => files.push(CertFile::from_value(part, value, args)?),
                None if required => {
                    return Err(args.error(format!("argument `{}` is required", part.name())))
                }
                None => {}
            }
        }
        let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        paths.sort_unstable();
        if let Some(twice) = paths.windows(2).find(|w| w[0] == w[1]) {
            return Err(args.error(format!("`{}` is declared for two files", twice[0])));
        }
        Ok(CertFiles(files))
    }

    pub fn iter(&self) -> impl Iterator<Item = &CertFile> {
        self.0.iter()
    }

    pub fn get(&self, part: Part) -> Option<&CertFile> {
        self.0.iter().find(|f| f.part == part)
    }

    /// The certificate file, which is always declared.
    pub fn cert(&self) -> &CertFile {
        self.get(Part::Cert).expect("`cert` is required")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<CertFiles, ArgError> {
        let mut args = Args::new("certificate", v.as_object().unwrap().clone());
        CertFiles::from_args(&mut args)
    }

    #[test]
    fn paths_or_mappings() {
        let files = parse(json!({
            "cert": "/etc/tls/cert.pem",
            "key": {"path": "/etc/tls/key.pem", "group": "mail-tls", "mode": "0640"},
        }))
        .unwrap();
        let key = files.get(Part::Key).unwrap();
        assert_eq!(key.attrs.mode, Some(0o640));
        assert_eq!(key.attrs.group.as_deref(), Some("mail-tls"));
        assert_eq!(files.cert().attrs.mode, Some(0o644));
        assert_eq!(files.iter().next().unwrap().part, Part::Key, "key first");
    }

    #[test]
    fn bad_shapes_are_named() {
        let err = parse(json!({"cert": "/c", "key": {"path": "/k", "mode": "0644"}})).unwrap_err();
        assert!(err.message.contains("others access"), "{err}");
        let err = parse(json!({"cert": "/c", "key": {"path": "/k", "mdoe": "0600"}})).unwrap_err();
        assert!(
            err.to_string().contains("`key`") && err.to_string().contains("mdoe"),
            "{err}"
        );
        let err = parse(json!({"cert": "rel.pem", "key": "/k"})).unwrap_err();
        assert!(err.message.contains("absolute"), "{err}");
        let err = parse(json!({"cert": "/same", "key": "/same"})).unwrap_err();
        assert!(err.message.contains("two files"), "{err}");
        let err = parse(json!({"cert": ["/c"], "key": "/k"})).unwrap_err();
        assert!(err.message.contains("path or a mapping"), "{err}");
    }
}
