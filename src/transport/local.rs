//! A transport that runs commands on this machine: for unit tests of resources.

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{Output, Transport, TransportError};

#[derive(Debug, Default)]
pub struct LocalTransport;

#[async_trait]
impl Transport for LocalTransport {
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<Output, TransportError> {
        let channel_err = |e: std::io::Error| TransportError::Channel {
            host: "localhost".into(),
            reason: e.to_string(),
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(channel_err)?;

        let mut input = child.stdin.take().expect("stdin is piped");
        let data = stdin.to_vec();
        let writer = tokio::spawn(async move {
            // A command that exits without reading its stdin is not an error.
            let _ = input.write_all(&data).await;
        });
        let out = child.wait_with_output().await.map_err(channel_err)?;
        let _ = writer.await;

        Ok(Output {
            status: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
