//! Planning and running plays: which tasks run on which hosts, in what order, and what
//! each changed.

/// State shared by all hosts of one run, kept on the controller.
#[derive(Debug, Default)]
pub struct Shared {}
