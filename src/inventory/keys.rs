//! Where each mapping key of a YAML file is. `YamlDoc` locates values; an inventory's
//! facts (a host, a child group) are often keys with empty values, whose own position is
//! wherever the next token starts.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::source::{Location, Seg, YamlDoc};

/// The positions of mapping keys, by the path of the value they introduce.
pub(super) struct KeyMarks {
    marks: HashMap<Vec<Seg>, (usize, usize)>,
}

impl KeyMarks {
    pub fn new(text: &str) -> KeyMarks {
        let mut recorder = Recorder::default();
        // The text already parsed as a `YamlDoc`; a failure here only costs precision.
        let _ = Parser::new_from_str(text).load(&mut recorder, false);
        KeyMarks {
            marks: recorder.marks,
        }
    }

    /// Where the key of the entry at `path` is, or else where the document says its value is.
    pub fn locate(&self, doc: &YamlDoc, path: &[Seg]) -> Location {
        match self.marks.get(path) {
            Some(&(line, col)) => Location {
                file: doc.path.clone(),
                line,
                col,
            },
            None => doc.location(path),
        }
    }
}

#[derive(Default)]
struct Recorder {
    marks: HashMap<Vec<Seg>, (usize, usize)>,
    /// The path of the innermost open container.
    path: Vec<Seg>,
    /// Open containers, each with whether it added a segment to `path`.
    stack: Vec<(Frame, bool)>,
}

enum Frame {
    Seq(usize),
    /// The key whose value comes next, if a key was just read.
    Map(Option<String>),
}

impl Recorder {
    /// The segment of the node that starts now, or `None` when it is a mapping key.
    fn next_segment(&mut self, scalar: Option<&str>, mark: &Marker) -> Option<Option<Seg>> {
        match self.stack.last_mut().map(|(frame, _)| frame) {
            None => Some(None),
            Some(Frame::Seq(i)) => {
                *i += 1;
                Some(Some(Seg::Index(*i - 1)))
            }
            Some(Frame::Map(pending)) => match pending.take() {
                Some(key) => Some(Some(Seg::Key(key))),
                None => {
                    let key = scalar.unwrap_or_default().to_string();
                    let mut path = self.path.clone();
                    path.push(Seg::Key(key.clone()));
                    self.marks
                        .entry(path)
                        .or_insert((mark.line(), mark.col() + 1));
                    *pending = Some(key);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                self.next_segment(Some(&value), &mark);
            }
            Event::Alias(_) => {
                self.next_segment(None, &mark);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                let seg = self.next_segment(None, &mark).flatten();
                let pushed = seg.is_some();
                self.path.extend(seg);
                let frame = match ev {
                    Event::SequenceStart(..) => Frame::Seq(0),
                    _ => Frame::Map(None),
                };
                self.stack.push((frame, pushed));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((_, true)) = self.stack.pop() {
                    self.path.pop();
                }
            }
            _ => {}
        }
    }
}
