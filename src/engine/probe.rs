//! Batching the probes of many tasks into one remote script, and splitting its output.

use crate::resources::Probe;

/// A script running each `(key, probe)` in a subshell, its output fenced by `token` lines.
pub fn batch_script(token: &str, probes: &[(usize, String)]) -> String {
    let mut script = String::new();
    for (key, probe) in probes {
        script.push_str(&format!(
            "printf '\\n{token} {key} begin\\n'\n( {probe}\n) </dev/null 2>/dev/null\nprintf '\\n{token} {key} end %s\\n' \"$?\"\n"
        ));
    }
    script
}

/// The output of `batch_script`, back into one `Probe` per key. Keys whose fence is
/// missing (the script died) are absent from the result.
pub fn split(token: &str, stdout: &str) -> Vec<(usize, Probe)> {
    let mut results = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for line in stdout.split('\n') {
        let fence = line
            .strip_prefix(token)
            .and_then(|rest| rest.strip_prefix(' '));
        match (fence, &mut current) {
            (Some(rest), None) if rest.ends_with(" begin") => {
                if let Ok(key) = rest.trim_end_matches(" begin").parse() {
                    current = Some((key, Vec::new()));
                }
            }
            (Some(rest), Some((key, lines))) if rest.starts_with(&format!("{key} end ")) => {
                let status = rest
                    .rsplit(' ')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(-1);
                // The fence's leading newline adds one empty line at the end.
                if lines.last() == Some(&"") {
                    lines.pop();
                }
                let mut stdout = lines.join("\n");
                if !stdout.is_empty() {
                    stdout.push('\n');
                }
                results.push((*key, Probe { status, stdout }));
                current = None;
            }
            (_, Some((_, lines))) => lines.push(line),
            _ => {}
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batched_probes_come_back_separately() {
        use crate::transport::{local::LocalTransport, Transport};
        let probes = vec![
            (3, "echo a=1; echo b=2".to_string()),
            (4, "printf 'no newline'; exit 3".to_string()),
            (7, "true".to_string()),
        ];
        let script = batch_script("@@t0k", &probes);
        let out = LocalTransport
            .exec("sh -s", script.as_bytes())
            .await
            .unwrap();
        let results = split("@@t0k", &out.stdout_text());
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].1.stdout, "a=1\nb=2\n");
        assert_eq!(results[1].1.stdout, "no newline\n");
        assert_eq!(results[1].1.status, 3);
        assert_eq!(results[2].1.stdout, "");
    }
}
