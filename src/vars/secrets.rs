//! `secrets.yml` beside the inventory: values that are secret, and passwords dsprov
//! generates on first use and keeps there.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::source::{InputError, Location, YamlDoc};

use super::redact;

#[derive(Debug)]
pub struct Secrets {
    path: PathBuf,
    values: Mutex<BTreeMap<String, serde_json::Value>>,
}

impl Secrets {
    /// Reads `secrets.yml` in `dir` if there is one. It must be readable by its owner only.
    pub fn load(dir: &Path) -> Result<Secrets, InputError> {
        let path = dir.join("secrets.yml");
        let mut values = BTreeMap::new();
        if path.exists() {
            let mode = std::fs::metadata(&path)
                .map_err(|e| InputError::new(Location::file(&path), e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(InputError::new(
                    Location::file(&path),
                    format!(
                        "secrets file has mode {:04o}; it must be 0600 (chmod 600 {})",
                        mode & 0o7777,
                        path.display()
                    ),
                ));
            }
            let doc = YamlDoc::load(&path)?;
            match serde_json::to_value(&doc.value) {
                Ok(serde_json::Value::Object(map)) => values.extend(map),
                Ok(serde_json::Value::Null) => {}
                _ => {
                    return Err(doc.error(&[], "secrets file must be a mapping of names to values"))
                }
            }
        }
        for value in values.values() {
            register_all(value);
        }
        Ok(Secrets {
            path,
            values: Mutex::new(values),
        })
    }

    /// All secrets, as the `secrets` variable of templates.
    pub fn as_value(&self) -> serde_json::Value {
        let values = self.values.lock().expect("secrets lock");
        serde_json::Value::Object(values.clone().into_iter().collect())
    }

    /// The password kept under `name`, generated (alphanumeric, `length` long) and saved
    /// on first use. Saved atomically with mode 0600 from the first byte.
    pub fn password(&self, name: &str, length: usize) -> Result<String, String> {
        let mut values = self.values.lock().expect("secrets lock");
        if let Some(existing) = values.get(name) {
            return match existing {
                serde_json::Value::String(s) => Ok(s.clone()),
                other => Ok(other.to_string()),
            };
        }
        let password: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(length)
            .map(char::from)
            .collect();
        redact::register(&password);
        values.insert(
            name.to_string(),
            serde_json::Value::String(password.clone()),
        );
        self.save(&values)
            .map_err(|e| format!("cannot save {}: {e}", self.path.display()))?;
        Ok(password)
    }

    fn save(&self, values: &BTreeMap<String, serde_json::Value>) -> std::io::Result<()> {
        let text = serde_yaml::to_string(values).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("yml.tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(b"# Secrets of this inventory; dsprov adds generated passwords here.\n")?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }
}

fn register_all(value: &serde_json::Value) {
    match value {
        serde_json::Value::String(s) => redact::register(s),
        serde_json::Value::Array(items) => items.iter().for_each(register_all),
        serde_json::Value::Object(map) => map.values().for_each(register_all),
        serde_json::Value::Number(n) => redact::register(&n.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_readable_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.yml");
        std::fs::write(&path, "a: b\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Secrets::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("must be 0600"), "{err}");
    }

    #[test]
    fn generated_passwords_persist_and_are_masked() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::load(dir.path()).unwrap();
        let pw = secrets.password("repl", 32).unwrap();
        assert_eq!(pw.len(), 32);
        assert_eq!(redact::redact(&pw), redact::MASK);
        let again = Secrets::load(dir.path()).unwrap();
        assert_eq!(again.password("repl", 32).unwrap(), pw);
        let mode = std::fs::metadata(dir.path().join("secrets.yml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
