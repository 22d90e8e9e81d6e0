//! Dovecot's `iterate_query` lists the users for the replicator and `doveadm -A`: it must
//! return full addresses, as a `user` column or as `username` and `domain`.

use super::dovecot;
use super::rendered::HostView;
use super::Finding;

pub fn check(view: &HostView) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (dest, s) in dovecot::settings(view) {
        if s.key != "iterate_query" {
            continue;
        }
        // Not a plain SELECT (a stored procedure, say): nothing to tell from here.
        let Some(columns) = select_list(&s.value) else {
            continue;
        };
        let has = |name: &str| columns.iter().any(|c| c.eq_ignore_ascii_case(name));
        if has("user") || (has("username") && has("domain")) {
            continue;
        }
        let returned = if has("*") {
            "`*`, which does not name the columns".to_string()
        } else {
            format!("columns {}", columns.join(", "))
        };
        findings.push(Finding::new(
            &view.host,
            "iterate_query",
            format!(
                "in {dest} returns {returned}: the replicator and `doveadm -A` need \
                 user@domain, as a column named `user` (e.g. `SELECT email AS user`) or \
                 as `username` and `domain`"
            ),
        ));
    }
    findings
}

/// The names of the columns a `SELECT` returns: the alias where there is one, else the
/// column's own name (without table and quoting), else the expression as written.
fn select_list(query: &str) -> Option<Vec<String>> {
    let rest = strip_word(query.trim_start(), "select")?;
    let rest = strip_word(rest, "distinct").unwrap_or(rest);
    Some(
        split_top(rest)
            .iter()
            .map(|item| column_name(item))
            .collect(),
    )
}

/// `text` without a leading keyword `word` (any case) and the blanks after it.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    let boundary = rest.chars().next().is_none_or(|c| !is_ident(c));
    (head.eq_ignore_ascii_case(word) && boundary).then(|| rest.trim_start())
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// Each character of `text` with whether it stands at the top level: outside quotes and
/// parentheses (the quote and parenthesis characters themselves are not).
fn top_level(text: &str) -> impl Iterator<Item = (usize, char, bool)> + '_ {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    text.char_indices().map(move |(i, c)| {
        let top = match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                false
            }
            (Some(_), _) => false,
            (None, '\'' | '"' | '`') => {
                quote = Some(c);
                false
            }
            (None, '(') => {
                depth += 1;
                false
            }
            (None, ')') => {
                depth = depth.saturating_sub(1);
                false
            }
            (None, _) => depth == 0,
        };
        (i, c, top)
    })
}

/// The select list's items, split at top-level commas, up to a top-level `FROM`.
fn split_top(list: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut prev = ' ';
    for (i, c, top) in top_level(list) {
        if top && c == ',' {
            items.push(String::new());
            prev = c;
            continue;
        }
        if top && !is_ident(prev) && strip_word(&list[i..], "from").is_some() {
            break;
        }
        items.last_mut().expect("never empty").push(c);
        prev = c;
    }
    items.into_iter().map(|i| i.trim().to_string()).collect()
}

/// An item's words, blanks inside quotes and parentheses not splitting.
fn words(item: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c, top) in top_level(item) {
        if top && c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push(&item[s..i]);
            }
            continue;
        }
        start.get_or_insert(i);
    }
    if let Some(s) = start {
        words.push(&item[s..]);
    }
    words
}

fn column_name(item: &str) -> String {
    let words = words(item);
    let name = match words.as_slice() {
        [.., as_kw, alias] if as_kw.eq_ignore_ascii_case("as") => alias,
        // `email user`: an alias without AS, when the first word is a plain column.
        [column, alias] if column.chars().all(|c| is_ident(c) || "`.\"".contains(c)) => alias,
        [column] => column.rsplit('.').next().unwrap_or(column),
        _ => return item.to_string(),
    };
    name.trim_matches(|c| c == '`' || c == '"' || c == '\'')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &str) -> Vec<String> {
        select_list(q).unwrap()
    }

    #[test]
    fn select_lists_are_read() {
        assert_eq!(names("SELECT email AS user FROM users"), ["user"]);
        assert_eq!(
            names("select `u`.`email` as `user`, x from users u"),
            ["user", "x"]
        );
        assert_eq!(
            names("SELECT CONCAT(local_part, '@', domain) AS user FROM mailbox"),
            ["user"]
        );
        assert_eq!(
            names("SELECT DISTINCT users.username, domain FROM users WHERE a = 'from, x'"),
            ["username", "domain"]
        );
        assert_eq!(names("SELECT email user FROM users"), ["user"]);
        assert_eq!(names("SELECT email FROM users"), ["email"]);
        assert_eq!(names("SELECT fromage AS u2 FROM t"), ["u2"]);
        assert_eq!(select_list("CALL list_users()"), None);
    }
}
