//! dsprov: declarative provisioning over SSH.
//!
//! The pipeline, one module each: `cli` parses the command line, `inventory` and
//! `playbook` load and validate the inputs, `vars` resolves variables and renders Tera,
//! `engine` plans and runs tasks on hosts reached through a `transport`, `resources` are
//! the kinds of state a task can declare, and `output` is the only place that prints.

pub mod cert;
pub mod cli;
pub mod engine;
pub mod inventory;
pub mod lint;
pub mod output;
pub mod playbook;
pub mod resources;
pub mod source;
pub mod transport;
pub mod vars;
