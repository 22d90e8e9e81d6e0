//! The modules a task can name, and how each is built from its arguments.

use super::mariadb_database::MariadbDatabase;
use super::mariadb_query::MariadbQuery;
use super::mariadb_replication::MariadbReplication;
use super::mariadb_user::MariadbUser;
use super::{copy::ManagedFile, ArgError, Args, BuildCtx, Resource};

/// Every module name a task may use.
pub const MODULES: &[&str] = &[
    "apt",
    "certificate",
    "command",
    "copy",
    "file",
    "group",
    "mariadb_database",
    "mariadb_query",
    "mariadb_replication",
    "mariadb_user",
    "service",
    "shell",
    "template",
    "user",
];

pub fn is_known(module: &str) -> bool {
    MODULES.contains(&module)
}

/// Modules that accept a bare string (`shell: make install`), taken as their `cmd`.
pub fn free_form(module: &str) -> bool {
    matches!(module, "command" | "shell")
}

/// Builds the resource a task declares on one host from its rendered arguments.
pub fn build(module: &str, mut args: Args, ctx: &BuildCtx) -> Result<Box<dyn Resource>, ArgError> {
    let resource: Box<dyn Resource> = match module {
        "command" => Box::new(super::command::Command::from_args(&mut args, false)?),
        "shell" => Box::new(super::command::Command::from_args(&mut args, true)?),
        "copy" => Box::new(ManagedFile::copy_from_args(&mut args, ctx)?),
        "template" => Box::new(ManagedFile::template_from_args(&mut args, ctx)?),
        "file" => Box::new(super::file::File::from_args(&mut args)?),
        "apt" => Box::new(super::apt::Apt::from_args(&mut args)?),
        "certificate" => Box::new(super::certificate::Certificate::from_args(&mut args, ctx)?),
        "service" => Box::new(super::service::Service::from_args(&mut args)?),
        "user" => Box::new(super::user::User::from_args(&mut args)?),
        "group" => Box::new(super::group::Group::from_args(&mut args)?),
        "mariadb_database" => Box::new(MariadbDatabase::from_args(&mut args)?),
        "mariadb_user" => Box::new(MariadbUser::from_args(&mut args)?),
        "mariadb_query" => Box::new(MariadbQuery::from_args(&mut args)?),
        "mariadb_replication" => Box::new(MariadbReplication::from_args(&mut args)?),
        other => return Err(args.error(format!("unknown module `{other}`"))),
    };
    let _ = ctx.host;
    args.finish()?;
    Ok(resource)
}
