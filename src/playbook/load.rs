//! Turning a playbook file (and the roles it names) into `Play`s, rejecting anything
//! malformed with the file, line and column of the fault.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use super::role::{vars_of, Role};
use super::{Play, Playbook, Task};
use crate::resources::registry;
use crate::source::{InputError, Seg, YamlDoc};
use crate::vars::template::Renderer;

const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "become",
    "roles",
    "tasks",
    "handlers",
    "pre_tasks",
    "post_tasks",
    "gather_facts",
];

const TASK_KEYS: &[&str] = &[
    "name",
    "when",
    "notify",
    "tags",
    "loop",
    "with_items",
    "become",
    "run_once",
    "args",
    "listen",
];

/// Ansible keywords dsprov deliberately does not implement, with the reason shown to users.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "register",
        "dsprov tasks declare state; there is no result to register",
    ),
    (
        "ignore_errors",
        "a failed task stops its host; fix the task or guard it with `when`",
    ),
    ("changed_when", "changes are computed from the host's state"),
    (
        "failed_when",
        "a task fails when its module cannot reach the declared state",
    ),
    ("delegate_to", "every task runs on its own host"),
    ("include_tasks", "list the tasks in the play or in a role"),
    ("import_tasks", "list the tasks in the play or in a role"),
];

pub fn load(path: &Path) -> Result<Playbook, InputError> {
    let doc = YamlDoc::load(path)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let plays_yaml = match &doc.value {
        Yaml::Sequence(items) => items,
        _ => return Err(doc.error(&[], "a playbook must be a list of plays")),
    };

    let mut plays = Vec::new();
    for (i, play) in plays_yaml.iter().enumerate() {
        plays.push(load_play(&doc, &dir, i, play)?);
    }
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
    })
}

fn load_play(doc: &YamlDoc, dir: &Path, index: usize, yaml: &Yaml) -> Result<Play, InputError> {
    let at = vec![Seg::Index(index)];
    let map = yaml.as_mapping().ok_or_else(|| {
        doc.error(
            &at,
            "a play must be a mapping with `hosts` and tasks or roles",
        )
    })?;
    for key in map.keys() {
        let key = key.as_str().unwrap_or_default();
        if !PLAY_KEYS.contains(&key) {
            return Err(doc.error(
                &path(&at, key),
                format!(
                    "unknown play keyword `{key}` (known: {})",
                    PLAY_KEYS.join(", ")
                ),
            ));
        }
    }

    let name = optional_str(doc, &at, map, "name")?.unwrap_or_default();
    let hosts = optional_str(doc, &at, map, "hosts")?
        .ok_or_else(|| doc.error(&at, "play has no `hosts`"))?;
    let become_root = optional_bool(doc, &at, map, "become")?.unwrap_or(false);

    let mut vars = match map.get("vars") {
        Some(v) => mapping_vars(doc, &path(&at, "vars"), v)?,
        None => Map::new(),
    };
    for (i, file) in string_list(doc, &path(&at, "vars_files"), map.get("vars_files"))?
        .iter()
        .enumerate()
    {
        let file_path = dir.join(file);
        if !file_path.is_file() {
            return Err(doc.error(
                &[&path(&at, "vars_files")[..], &[Seg::Index(i)]].concat(),
                format!("vars file `{file}` not found"),
            ));
        }
        vars.extend(vars_of(&YamlDoc::load(&file_path)?)?);
    }

    // A play's own tasks find their files as Ansible's do: in `files/` and `templates/`
    // beside the playbook, then beside the playbook itself.
    let play_files = vec![dir.join("files"), dir.to_path_buf()];
    let play_templates = vec![dir.join("templates"), dir.to_path_buf()];
    let mut tasks = Vec::new();
    let mut handlers = Vec::new();
    let mut role_defaults = Map::new();
    let mut role_vars = Map::new();

    tasks.extend(task_list(
        doc,
        &path(&at, "pre_tasks"),
        map.get("pre_tasks"),
        &play_files,
        &play_templates,
        None,
    )?);

    let roles_at = path(&at, "roles");
    if let Some(roles) = map.get("roles") {
        let roles = roles
            .as_sequence()
            .ok_or_else(|| doc.error(&roles_at, "`roles` must be a list"))?;
        for (i, entry) in roles.iter().enumerate() {
            let entry_at = [&roles_at[..], &[Seg::Index(i)]].concat();
            let (role_name, extra_vars, extra_tags) = role_entry(doc, &entry_at, entry)?;
            let role = Role::find(&role_name, dir, &doc.location(&entry_at))?;
            role_defaults.extend(role.defaults.clone());
            role_vars.extend(role.vars.clone());
            role_vars.extend(extra_vars);

            let file_dirs = vec![role.dir.join("files"), dir.to_path_buf()];
            let template_dirs = vec![role.dir.join("templates"), dir.to_path_buf()];
            if let Some(tdoc) = &role.tasks {
                let mut role_tasks = task_list(
                    tdoc,
                    &[],
                    Some(&tdoc.value),
                    &file_dirs,
                    &template_dirs,
                    Some(&role.name),
                )?;
                for t in &mut role_tasks {
                    t.tags.extend(extra_tags.iter().cloned());
                }
                tasks.extend(role_tasks);
            }
            if let Some(hdoc) = &role.handlers {
                handlers.extend(task_list(
                    hdoc,
                    &[],
                    Some(&hdoc.value),
                    &file_dirs,
                    &template_dirs,
                    Some(&role.name),
                )?);
            }
        }
    }

    tasks.extend(task_list(
        doc,
        &path(&at, "tasks"),
        map.get("tasks"),
        &play_files,
        &play_templates,
        None,
    )?);
    tasks.extend(task_list(
        doc,
        &path(&at, "post_tasks"),
        map.get("post_tasks"),
        &play_files,
        &play_templates,
        None,
    )?);
    handlers.extend(task_list(
        doc,
        &path(&at, "handlers"),
        map.get("handlers"),
        &play_files,
        &play_templates,
        None,
    )?);

    check_notify(&tasks, &handlers)?;

    Ok(Play {
        name,
        hosts,
        location: doc.location(&at),
        vars,
        role_defaults,
        role_vars,
        become_root,
        tasks,
        handlers,
    })
}

/// Every `notify` must name a handler of the play (by name or `listen`); `listen` is for
/// handlers, and handlers do not notify others (dsprov runs no handler chains).
fn check_notify(tasks: &[Task], handlers: &[Task]) -> Result<(), InputError> {
    if let Some(task) = tasks.iter().find(|t| !t.listen.is_empty()) {
        return Err(InputError::new(
            task.location.clone(),
            format!("task `{}`: `listen` is only for handlers", task.label()),
        ));
    }
    if let Some(handler) = handlers.iter().find(|h| !h.notify.is_empty()) {
        return Err(InputError::new(
            handler.location.clone(),
            format!(
                "handler `{}` notifies others; handlers do not chain in dsprov: notify every handler from the task",
                handler.label()
            ),
        ));
    }
    for task in tasks {
        for wanted in &task.notify {
            let known = handlers
                .iter()
                .any(|h| &h.name == wanted || h.listen.contains(wanted));
            if !known {
                let names: Vec<&str> = handlers.iter().map(|h| h.name.as_str()).collect();
                return Err(InputError::new(
                    task.location.clone(),
                    format!(
                        "task `{}` notifies `{wanted}`, but the play has no such handler (handlers: {})",
                        task.label(),
                        if names.is_empty() { "none".to_string() } else { names.join(", ") }
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A role named in a play: its name, the variables and tags given with it.
type RoleEntry = (String, Map<String, Value>, Vec<String>);

fn role_entry(doc: &YamlDoc, at: &[Seg], entry: &Yaml) -> Result<RoleEntry, InputError> {
    if let Some(name) = entry.as_str() {
        return Ok((name.to_string(), Map::new(), Vec::new()));
    }
    let map = entry
        .as_mapping()
        .ok_or_else(|| doc.error(at, "a role entry is a name or a mapping with `role`"))?;
    let name = optional_str(doc, at, map, "role")?
        .or(optional_str(doc, at, map, "name")?)
        .ok_or_else(|| doc.error(at, "role entry has no `role`"))?;
    let mut vars = match map.get("vars") {
        Some(v) => mapping_vars(doc, &path(at, "vars"), v)?,
        None => Map::new(),
    };
    let tags = string_list(doc, &path(at, "tags"), map.get("tags"))?;
    // Ansible also takes role parameters as plain keys beside `role`.
    for (k, v) in map {
        let k = k.as_str().unwrap_or_default();
        if !["role", "name", "vars", "tags"].contains(&k) {
            vars.insert(k.to_string(), to_json(doc, &path(at, k), v)?);
        }
    }
    Ok((name, vars, tags))
}

fn task_list(
    doc: &YamlDoc,
    at: &[Seg],
    yaml: Option<&Yaml>,
    file_dirs: &[PathBuf],
    template_dirs: &[PathBuf],
    role: Option<&str>,
) -> Result<Vec<Task>, InputError> {
    let Some(yaml) = yaml else {
        return Ok(Vec::new());
    };
    if yaml.is_null() {
        return Ok(Vec::new());
    }
    let items = yaml
        .as_sequence()
        .ok_or_else(|| doc.error(at, "expected a list of tasks"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let task_at = [at, &[Seg::Index(i)]].concat();
            load_task(doc, &task_at, item, file_dirs, template_dirs, role)
        })
        .collect()
}

fn load_task(
    doc: &YamlDoc,
    at: &[Seg],
    yaml: &Yaml,
    file_dirs: &[PathBuf],
    template_dirs: &[PathBuf],
    role: Option<&str>,
) -> Result<Task, InputError> {
    let map = yaml
        .as_mapping()
        .ok_or_else(|| doc.error(at, "a task must be a mapping with a module"))?;
    let name = optional_str(doc, at, map, "name")?.unwrap_or_default();
    let in_task = |msg: String| {
        if name.is_empty() {
            msg
        } else {
            format!("task `{name}`: {msg}")
        }
    };

    let mut module: Option<(String, &Yaml)> = None;
    for (key, value) in map {
        let key = key.as_str().unwrap_or_default();
        if TASK_KEYS.contains(&key) {
            continue;
        }
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == key) {
            return Err(doc.error(
                &path(at, key),
                in_task(format!("`{key}` is not supported: {why}")),
            ));
        }
        let bare = key.strip_prefix("ansible.builtin.").unwrap_or(key);
        if !registry::is_known(bare) {
            return Err(doc.error(
                &path(at, key),
                in_task(format!(
                    "unknown module or keyword `{key}` (modules: {})",
                    registry::MODULES.join(", ")
                )),
            ));
        }
        if let Some((first, _)) = &module {
            return Err(doc.error(
                &path(at, key),
                in_task(format!(
                    "a task has exactly one module; found `{first}` and `{bare}`"
                )),
            ));
        }
        module = Some((bare.to_string(), value));
    }
    let (module, raw_args) =
        module.ok_or_else(|| doc.error(at, in_task("task names no module".into())))?;

    let args_at = path(at, &module);
    let mut args = match raw_args {
        Yaml::Mapping(_) => to_json(doc, &args_at, raw_args)?,
        Yaml::Null => Value::Object(Map::new()),
        Yaml::String(s) if registry::free_form(&module) => {
            let mut m = Map::new();
            m.insert("cmd".into(), Value::String(s.clone()));
            Value::Object(m)
        }
        Yaml::String(s) => Value::Object(key_value_args(doc, &args_at, s)?),
        _ => {
            return Err(doc.error(
                &args_at,
                in_task(format!("arguments of `{module}` must be a mapping")),
            ))
        }
    };
    if let Some(extra) = map.get("args") {
        let extra = mapping_vars(doc, &path(at, "args"), extra)?;
        args.as_object_mut()
            .expect("args are a mapping")
            .extend(extra);
    }
    check_markup(doc, &args_at, &args)?;

    let when = match map.get("when") {
        None => Vec::new(),
        Some(Yaml::Bool(b)) => vec![b.to_string()],
        Some(v) => string_list(doc, &path(at, "when"), Some(v))?,
    };
    for cond in &when {
        Renderer::check_condition(strip_braces(cond)).map_err(|e| {
            doc.error(
                &path(at, "when"),
                in_task(format!("bad `when` expression `{cond}`: {e}")),
            )
        })?;
    }
    let when = when.iter().map(|c| strip_braces(c).to_string()).collect();

    let loop_items = match (map.get("loop"), map.get("with_items")) {
        (Some(_), Some(_)) => {
            return Err(doc.error(at, in_task("use `loop` or `with_items`, not both".into())))
        }
        (Some(v), None) => Some(to_json(doc, &path(at, "loop"), v)?),
        (None, Some(v)) => Some(to_json(doc, &path(at, "with_items"), v)?),
        (None, None) => None,
    };

    Ok(Task {
        name,
        module,
        args,
        when,
        notify: string_list(doc, &path(at, "notify"), map.get("notify"))?,
        tags: string_list(doc, &path(at, "tags"), map.get("tags"))?,
        loop_items,
        // A literal only: `become` decides how a task is probed, before rendering.
        become_root: optional_bool(doc, at, map, "become")?,
        run_once: optional_bool(doc, at, map, "run_once")?.unwrap_or(false),
        listen: string_list(doc, &path(at, "listen"), map.get("listen"))?,
        location: doc.location(at),
        arg_locations: match raw_args {
            Yaml::Mapping(m) => m
                .keys()
                .filter_map(Yaml::as_str)
                .map(|k| (k.to_string(), doc.key_location(&path(&args_at, k))))
                .collect(),
            _ => Default::default(),
        },
        file_dirs: file_dirs.to_vec(),
        template_dirs: template_dirs.to_vec(),
        role: role.map(str::to_string),
    })
}

/// Ansible users sometimes write `when: "{{ x }}"`; the braces are not needed.
fn strip_braces(cond: &str) -> &str {
    let c = cond.trim();
    match c.strip_prefix("{{").and_then(|c| c.strip_suffix("}}")) {
        Some(inner) => inner.trim(),
        None => c,
    }
}

/// Rejects Tera syntax errors in argument strings before any host is involved.
fn check_markup(doc: &YamlDoc, at: &[Seg], value: &Value) -> Result<(), InputError> {
    match value {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            Renderer::check_syntax("argument", s)
                .map_err(|e| doc.error(at, format!("bad template in `{s}`: {e}")))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_markup(doc, &[at, &[Seg::Index(i)]].concat(), v)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_markup(doc, &path(at, k), v)),
        _ => Ok(()),
    }
}

/// `name=nginx state=present` style arguments.
fn key_value_args(doc: &YamlDoc, at: &[Seg], s: &str) -> Result<Map<String, Value>, InputError> {
    let words =
        shlex::split(s).ok_or_else(|| doc.error(at, format!("cannot split `{s}` into words")))?;
    let mut map = Map::new();
    for word in words {
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| doc.error(at, format!("expected key=value, found `{word}`")))?;
        map.insert(k.to_string(), Value::String(v.to_string()));
    }
    Ok(map)
}

fn path(at: &[Seg], key: &str) -> Vec<Seg> {
    let mut p = at.to_vec();
    p.push(Seg::Key(key.to_string()));
    p
}

fn to_json(doc: &YamlDoc, at: &[Seg], v: &Yaml) -> Result<Value, InputError> {
    serde_json::to_value(v).map_err(|e| doc.error(at, format!("unsupported value: {e}")))
}

fn mapping_vars(doc: &YamlDoc, at: &[Seg], v: &Yaml) -> Result<Map<String, Value>, InputError> {
    match to_json(doc, at, v)? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(doc.error(at, "expected a mapping")),
    }
}

fn optional_str(
    doc: &YamlDoc,
    at: &[Seg],
    map: &serde_yaml::Mapping,
    key: &str,
) -> Result<Option<String>, InputError> {
    match map.get(key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::String(s)) => Ok(Some(s.clone())),
        Some(Yaml::Number(n)) => Ok(Some(n.to_string())),
        Some(Yaml::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(doc.error(&path(at, key), format!("`{key}` must be a string"))),
    }
}

fn optional_bool(
    doc: &YamlDoc,
    at: &[Seg],
    map: &serde_yaml::Mapping,
    key: &str,
) -> Result<Option<bool>, InputError> {
    match map.get(key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::Bool(b)) => Ok(Some(*b)),
        Some(Yaml::String(s)) if ["yes", "true"].contains(&s.as_str()) => Ok(Some(true)),
        Some(Yaml::String(s)) if ["no", "false"].contains(&s.as_str()) => Ok(Some(false)),
        Some(_) => Err(doc.error(&path(at, key), format!("`{key}` must be true or false"))),
    }
}

/// A string or a list of strings.
fn string_list(doc: &YamlDoc, at: &[Seg], v: Option<&Yaml>) -> Result<Vec<String>, InputError> {
    match v {
        None | Some(Yaml::Null) => Ok(Vec::new()),
        Some(Yaml::String(s)) => Ok(vec![s.clone()]),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Yaml::String(s) => Ok(s.clone()),
                Yaml::Number(n) => Ok(n.to_string()),
                Yaml::Bool(b) => Ok(b.to_string()),
                _ => Err(doc.error(&[at, &[Seg::Index(i)]].concat(), "expected a string")),
            })
            .collect(),
        Some(_) => Err(doc.error(at, "expected a string or a list of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Playbook, InputError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn a_simple_play_loads() {
        let pb = load_text(
            "- hosts: all\n  tasks:\n    - name: motd\n      copy: {dest: /etc/motd, content: hi}\n      notify: x\n  handlers:\n    - name: x\n      command: echo x\n",
        )
        .unwrap();
        let play = &pb.plays[0];
        assert_eq!(play.tasks[0].module, "copy");
        assert_eq!(play.tasks[0].location.line, 3);
        assert_eq!(play.handlers[0].args["cmd"], "echo x");
    }

    #[test]
    fn unknown_modules_are_located() {
        let err = load_text("- hosts: all\n  tasks:\n    - name: x\n      coppy: {dest: /x}\n")
            .unwrap_err();
        assert_eq!(err.location.line, 4);
        assert!(
            err.message.contains("unknown module or keyword `coppy`"),
            "{err}"
        );
    }

    #[test]
    fn notify_must_name_a_handler() {
        let err = load_text("- hosts: all\n  tasks:\n    - command: 'true'\n      notify: nope\n")
            .unwrap_err();
        assert!(err.message.contains("no such handler"), "{err}");
    }

    #[test]
    fn bad_when_syntax_is_rejected() {
        let err = load_text("- hosts: all\n  tasks:\n    - command: 'true'\n      when: a ==\n")
            .unwrap_err();
        assert!(err.message.contains("bad `when`"), "{err}");
    }

    #[test]
    fn two_modules_in_one_task_are_rejected() {
        let err = load_text("- hosts: all\n  tasks:\n    - command: 'true'\n      shell: 'true'\n")
            .unwrap_err();
        assert!(err.message.contains("exactly one module"), "{err}");
    }
}
