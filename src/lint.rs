//! Lint rules run by `dsprov check` and before every apply: mistakes that parse fine but
//! cannot work on the hosts.

use std::fmt;

use crate::engine::{Loaded, Options};

/// One problem found, naming the host and the setting.
#[derive(Debug, Clone)]
pub struct Finding {
    pub host: String,
    pub setting: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.host, self.setting, self.message)
    }
}

pub fn run(_loaded: &Loaded, _opts: &Options) -> Vec<Finding> {
    Vec::new()
}
