//! A minimal DNS client: one message to one server, UDP first, TCP when truncated.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::cert::CertError;

const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const UDP_ATTEMPTS: usize = 2;

/// Sends `message` to `server` and returns the matching response.
pub(crate) async fn exchange(
    server: SocketAddr,
    message: &Message,
    record: &str,
) -> Result<Message, CertError> {
    let fail = |reason: String| CertError::DnsQuery {
        record: record.to_string(),
        server: server.to_string(),
        reason,
    };
    let bytes = message
        .to_vec()
        .map_err(|e| fail(format!("encoding: {e}")))?;

    let mut last = String::from("no answer");
    for _ in 0..UDP_ATTEMPTS {
        match timeout(ATTEMPT_TIMEOUT, udp(server, &bytes)).await {
            Ok(Ok(reply)) => {
                let response =
                    Message::from_vec(&reply).map_err(|e| fail(format!("decoding: {e}")))?;
                if response.metadata.id != message.metadata.id {
                    last = "response id mismatch".into();
                    continue;
                }
                if response.metadata.truncation {
                    break;
                }
                return Ok(response);
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
        }
    }

    match timeout(ATTEMPT_TIMEOUT, tcp(server, &bytes)).await {
        Ok(Ok(reply)) => Message::from_vec(&reply).map_err(|e| fail(format!("decoding: {e}"))),
        Ok(Err(e)) => Err(fail(format!("{last}; over TCP: {e}"))),
        Err(_) => Err(fail(format!("{last}; no answer over TCP either"))),
    }
}

async fn udp(server: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .unwrap();
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(bytes).await?;
    let mut buf = vec![0u8; 65_535];
    let n = socket.recv(&mut buf).await?;
    buf.truncate(n);
    Ok(buf)
}

async fn tcp(server: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    let len = u16::try_from(bytes.len()).map_err(|_| std::io::Error::other("message too long"))?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(bytes).await?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Asks `server` for `rtype` records of `name`, with or without recursion.
pub(crate) async fn query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    recursion: bool,
) -> Result<Message, CertError> {
    let mut message = Message::query();
    message.metadata.recursion_desired = recursion;
    message.add_query(Query::query(name.clone(), rtype));
    let response = exchange(server, &message, &name.to_string()).await?;

    match response.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => Ok(response),
        code => Err(CertError::DnsQuery {
            record: format!("{name} {rtype}"),
            server: server.to_string(),
            reason: format!("server answered {code}"),
        }),
    }
}

/// The TXT strings of `name` in the answer section (each record's strings joined).
pub(crate) fn txt_values(response: &Message, name: &Name) -> Vec<String> {
    response
        .answers
        .iter()
        .filter(|r| r.name == *name)
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// Parses a DNS name, making it fully qualified.
pub(crate) fn fqdn(name: &str) -> Result<Name, CertError> {
    let mut parsed =
        Name::from_ascii(name).map_err(|e| CertError::parse(format!("DNS name {name}"), e))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}
