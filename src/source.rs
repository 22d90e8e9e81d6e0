//! Reading YAML input files so that every value can be traced back to `file:line:col`.
//!
//! serde_yaml gives the values, yaml-rust2's event parser gives the positions; a value's
//! position is looked up by its path from the document root (`[0, "tasks", 3]`).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A place in an input file; `line` and `col` start at 1 (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl Location {
    pub fn file(file: &Path) -> Location {
        Location {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }
}

/// Bad input: where it is, and what is wrong with it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{location}: {message}")]
pub struct InputError {
    pub location: Location,
    pub message: String,
}

impl InputError {
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        InputError {
            location,
            message: message.into(),
        }
    }
}

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Seg {
        Seg::Key(s.to_string())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Seg {
        Seg::Index(i)
    }
}

/// A parsed YAML file with the position of every node.
#[derive(Debug, Clone)]
pub struct YamlDoc {
    pub path: PathBuf,
    pub value: serde_yaml::Value,
    marks: HashMap<Vec<Seg>, (usize, usize)>,
    /// Where each mapping key is written (a value's own mark is where the value starts).
    key_marks: HashMap<Vec<Seg>, (usize, usize)>,
}

impl YamlDoc {
    pub fn load(path: &Path) -> Result<YamlDoc, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(Location::file(path), format!("cannot read: {e}")))?;
        YamlDoc::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<YamlDoc, InputError> {
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
            let (line, col) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            let message = e.to_string();
            // serde_yaml appends " at line L column C"; the location says it already.
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            InputError::new(
                Location {
                    file: path.to_path_buf(),
                    line,
                    col,
                },
                format!("invalid YAML: {message}"),
            )
        })?;
        let mut recorder = Recorder::default();
        // serde_yaml accepted the text, so this parser will too; positions are best effort.
        let _ = Parser::new_from_str(text).load(&mut recorder, false);
        Ok(YamlDoc {
            path: path.to_path_buf(),
            value,
            marks: recorder.marks,
            key_marks: recorder.key_marks,
        })
    }

    /// The position of the node at `path`, or of its nearest ancestor that has one.
    pub fn location(&self, path: &[Seg]) -> Location {
        let mut path = path.to_vec();
        loop {
            if let Some(&(line, col)) = self.marks.get(&path) {
                return Location {
                    file: self.path.clone(),
                    line,
                    col,
                };
            }
            if path.pop().is_none() {
                return Location::file(&self.path);
            }
        }
    }

    /// Where the key of the mapping entry at `path` is written; falls back to `location`.
    pub fn key_location(&self, path: &[Seg]) -> Location {
        match self.key_marks.get(path) {
            Some(&(line, col)) => Location {
                file: self.path.clone(),
                line,
                col,
            },
            None => self.location(path),
        }
    }

    pub fn error(&self, path: &[Seg], message: impl Into<String>) -> InputError {
        InputError::new(self.location(path), message)
    }
}

/// Builds node paths from the parser's events.
#[derive(Default)]
struct Recorder {
    marks: HashMap<Vec<Seg>, (usize, usize)>,
    key_marks: HashMap<Vec<Seg>, (usize, usize)>,
    /// Open containers: for sequences the next index, for mappings the pending key.
    stack: Vec<Frame>,
    path: Vec<Seg>,
}

enum Frame {
    Seq(usize),
    /// `None` while waiting for a key, `Some(key)` while waiting for its value.
    Map(Option<String>),
}

impl Recorder {
    /// Called when a node starts: returns the node's path segment from its parent, and
    /// tells whether this node is a mapping key (keys are not nodes of their own).
    fn enter(&mut self, scalar: Option<&str>) -> Option<Option<Seg>> {
        match self.stack.last_mut() {
            None => Some(None),
            Some(Frame::Seq(i)) => {
                let seg = Seg::Index(*i);
                *i += 1;
                Some(Some(seg))
            }
            Some(Frame::Map(pending)) => match pending.take() {
                None => {
                    *pending = Some(scalar.unwrap_or_default().to_string());
                    None
                }
                Some(key) => Some(Some(Seg::Key(key))),
            },
        }
    }

    fn mark(&mut self, seg: Option<Seg>, mark: &Marker) -> Vec<Seg> {
        let mut path = self.path.clone();
        path.extend(seg);
        self.marks
            .entry(path.clone())
            .or_insert((mark.line(), mark.col() + 1));
        path
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                match self.enter(Some(&value)) {
                    Some(seg) => {
                        self.mark(seg, &mark);
                    }
                    // A key: it also marks its mapping, when that has no mark yet.
                    None => {
                        self.mark(None, &mark);
                        let mut key_path = self.path.clone();
                        key_path.push(Seg::Key(value.clone()));
                        self.key_marks
                            .entry(key_path)
                            .or_insert((mark.line(), mark.col() + 1));
                    }
                }
            }
            Event::Alias(_) => {
                if let Some(seg) = self.enter(None) {
                    self.mark(seg, &mark);
                }
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                let seg = self.enter(None).flatten();
                // A block mapping's start event is reported after its first key; the key's
                // own position (recorded below) is where a reader looks.
                let path = if matches!(ev, Event::MappingStart(..)) {
                    let mut path = self.path.clone();
                    path.extend(seg);
                    path
                } else {
                    self.mark(seg, &mark)
                };
                self.path = path;
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq(0)
                } else {
                    Frame::Map(None)
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.stack.pop();
                self.path.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_located_by_path() {
        let text =
            "- name: web\n  tasks:\n    - name: one\n      file: {path: /x}\n    - name: two\n";
        let doc = YamlDoc::parse(Path::new("site.yml"), text).unwrap();
        let loc = doc.location(&[0.into(), "tasks".into(), 1.into()]);
        assert_eq!((loc.line, loc.col), (5, 7));
        let loc = doc.location(&[
            0.into(),
            "tasks".into(),
            0.into(),
            "file".into(),
            "path".into(),
        ]);
        assert_eq!(loc.line, 4);
    }

    #[test]
    fn syntax_errors_carry_the_position() {
        let err = YamlDoc::parse(Path::new("bad.yml"), "a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(err.location.file, Path::new("bad.yml"));
        assert!(err.location.line >= 1, "{err}");
        assert!(err.to_string().starts_with("bad.yml:"), "{err}");
    }
}
