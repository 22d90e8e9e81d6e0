//! Helpers shared by the integration tests.

#![allow(dead_code)] // each test binary uses its own part of these helpers

pub mod project;
pub mod vps;
