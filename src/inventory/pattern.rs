//! Ansible host patterns: `web`, `all`, `*`, `web*`, unions `a:b` and `a,b`, exclusions
//! `a:!b` and intersections `a:&b`.

use super::Inventory;

/// Ansible's order, whatever the order written: the union of the plain terms (all hosts
/// when there are none), then each `&` term intersected, then each `!` term removed.
pub(super) fn select(inventory: &Inventory, pattern: &str) -> Result<Vec<String>, String> {
    let terms = split(inventory, pattern);
    if terms.is_empty() {
        return Err("empty host pattern".to_string());
    }

    let plain: Vec<&str> = terms
        .iter()
        .filter(|t| !t.starts_with(['&', '!']))
        .copied()
        .collect();
    let mut selected = if plain.is_empty() {
        vec![true; inventory.hosts.len()]
    } else {
        vec![false; inventory.hosts.len()]
    };
    for term in plain {
        for (s, m) in selected.iter_mut().zip(matching(inventory, pattern, term)?) {
            *s |= m;
        }
    }
    for term in terms.iter().filter_map(|t| t.strip_prefix('&')) {
        for (s, m) in selected.iter_mut().zip(matching(inventory, pattern, term)?) {
            *s &= m;
        }
    }
    for term in terms.iter().filter_map(|t| t.strip_prefix('!')) {
        for (s, m) in selected.iter_mut().zip(matching(inventory, pattern, term)?) {
            *s &= !m;
        }
    }

    let hosts: Vec<String> = inventory
        .hosts
        .iter()
        .zip(selected)
        .filter(|(_, s)| *s)
        .map(|(h, _)| h.name.clone())
        .collect();
    if hosts.is_empty() {
        return Err(format!("host pattern '{pattern}' matches no hosts"));
    }
    Ok(hosts)
}

/// Commas separate terms when there are any; otherwise colons do, except inside `[...]`.
/// A pattern that is exactly a host's name (`::1`) is that host.
fn split<'a>(inventory: &Inventory, pattern: &'a str) -> Vec<&'a str> {
    let pattern = pattern.trim();
    if inventory.host(pattern).is_some() {
        return vec![pattern];
    }
    let terms: Vec<&str> = if pattern.contains(',') {
        pattern.split(',').collect()
    } else {
        let mut terms = Vec::new();
        let (mut depth, mut start) = (0, 0);
        for (i, c) in pattern.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                ':' if depth == 0 => {
                    terms.push(&pattern[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        terms.push(&pattern[start..]);
        terms
    };
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Which hosts one term names. A plain name that is neither a host nor a group is an
/// error rather than an empty set: a typo should not quietly skip hosts.
fn matching(inventory: &Inventory, pattern: &str, term: &str) -> Result<Vec<bool>, String> {
    let hosts = &inventory.hosts;
    if term == "all" || term == "*" {
        return Ok(vec![true; hosts.len()]);
    }
    if term.starts_with('~') {
        return Err(format!(
            "host pattern '{pattern}': regular expressions ('{term}') are not supported"
        ));
    }
    if let Some(group) = inventory.group(term) {
        return Ok(hosts
            .iter()
            .map(|h| group.hosts.contains(&h.name))
            .collect());
    }
    if inventory.host(term).is_some() {
        return Ok(hosts.iter().map(|h| h.name == term).collect());
    }
    if !term.contains(['*', '?', '[']) {
        return Err(format!(
            "host pattern '{pattern}': no host or group named '{term}'"
        ));
    }

    let mut selected: Vec<bool> = hosts.iter().map(|h| glob(term, &h.name)).collect();
    for group in inventory.groups.iter().filter(|g| glob(term, &g.name)) {
        for (s, h) in selected.iter_mut().zip(hosts) {
            *s |= group.hosts.contains(&h.name);
        }
    }
    Ok(selected)
}

/// Shell-style matching: `*`, `?`, and classes like `[abc]`, `[a-z]`, `[!x]`.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| glob_at(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && glob_at(&p[1..], &n[1..]),
        Some('[') => match (class(&p[1..]), n.first()) {
            (Some((matches, len)), Some(&c)) => matches(c) && glob_at(&p[len + 1..], &n[1..]),
            // An unclosed `[` is a literal.
            (None, Some('[')) => glob_at(&p[1..], &n[1..]),
            _ => false,
        },
        Some(&c) => n.first() == Some(&c) && glob_at(&p[1..], &n[1..]),
    }
}

/// A character class after its `[`: a matcher, and how many chars it took including `]`.
#[allow(clippy::type_complexity)]
fn class(p: &[char]) -> Option<(Box<dyn Fn(char) -> bool + '_>, usize)> {
    let negated = matches!(p.first(), Some('!') | Some('^'));
    let body_start = usize::from(negated);
    // A `]` right after the opening is part of the class.
    let close = p
        .iter()
        .enumerate()
        .skip(body_start + 1)
        .find(|(_, c)| **c == ']')
        .map(|(i, _)| i)?;
    let body = &p[body_start..close];
    let matcher = move |c: char| {
        let mut i = 0;
        let mut found = false;
        while i < body.len() {
            if i + 2 < body.len() && body[i + 1] == '-' {
                found |= body[i] <= c && c <= body[i + 2];
                i += 3;
            } else {
                found |= body[i] == c;
                i += 1;
            }
        }
        found != negated
    };
    Some((Box::new(matcher), close + 1))
}
