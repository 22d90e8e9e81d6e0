//! `group_vars/` and `host_vars/`: per-group and per-host variable files beside the
//! inventory (and the playbook), set over what the inventory file says.

use std::path::{Path, PathBuf};

use super::{merge, yaml, Inventory, Vars};
use crate::source::{InputError, Location, YamlDoc};

/// Reads `group_vars/NAME` and `host_vars/NAME` of every group and host in each of `dirs`,
/// later directories over earlier ones. A directory listed twice is read once.
pub(super) fn apply(inventory: &mut Inventory, dirs: &[PathBuf]) -> Result<(), InputError> {
    let mut seen: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let key = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);

        for group in &mut inventory.groups {
            merge(
                &mut group.vars,
                &read(&dir.join("group_vars"), &group.name)?,
            );
        }
        for host in &mut inventory.hosts {
            merge(&mut host.vars, &read(&dir.join("host_vars"), &host.name)?);
        }
    }
    Ok(())
}

/// The variables of `name` under `base`: from `NAME`, `NAME.yml`, `NAME.yaml` and
/// `NAME.json`, in that order; any of them that is a directory contributes all its
/// files, by path in alphabetical order.
fn read(base: &Path, name: &str) -> Result<Vars, InputError> {
    let mut vars = Vars::new();
    if !base.is_dir() {
        return Ok(vars);
    }
    for ext in ["", ".yml", ".yaml", ".json"] {
        let path = base.join(format!("{name}{ext}"));
        if path.is_dir() {
            for file in files_in(&path)? {
                merge(&mut vars, &load(&file)?);
            }
        } else if path.is_file() {
            merge(&mut vars, &load(&path)?);
        }
    }
    Ok(vars)
}

/// The vars files of a directory, recursively: `.yml`, `.yaml`, `.json` or no extension;
/// hidden files (editor swap files, `.gitkeep`) are skipped.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| InputError::new(Location::file(dir), format!("cannot read directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| {
                InputError::new(Location::file(dir), format!("cannot read directory: {e}"))
            })?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            files.extend(files_in(&path)?);
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str());
        if matches!(ext, None | Some("yml" | "yaml" | "json")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// One vars file: a mapping of variable names, or empty.
fn load(path: &Path) -> Result<Vars, InputError> {
    let doc = YamlDoc::load(path)?;
    let mut value = doc.value.clone();
    value
        .apply_merge()
        .map_err(|e| doc.error(&[], format!("invalid YAML merge key: {e}")))?;
    if !(value.is_mapping() || value.is_null()) {
        return Err(doc.error(
            &[],
            format!(
                "a vars file must be a mapping of variable names to values, found {}",
                yaml::kind(&value)
            ),
        ));
    }
    yaml::vars(&doc, &[], &value, "a vars file")
}
