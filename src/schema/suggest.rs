//! "Did you mean …?": the closest of some names to a name that matched none (a misspelt drop, a
//! check naming a column the table does not have). Pure.

/// The candidate closest to `name` by edit distance, when it is close enough to be a likely
/// misspelling (at most 2 edits, and fewer than half of the name's length), and not `name`
/// itself. Ties go to the first candidate.
pub fn closest<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = 2.min(name.chars().count().saturating_sub(1) / 2).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `; did you mean "x"?` or nothing.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest(name, candidates)
        .map(|c| format!("; did you mean {c:?}?"))
        .unwrap_or_default()
}

/// Levenshtein distance on characters (case-insensitive: names are compared after snake_case).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_only() {
        assert_eq!(distance("fax", "fix"), 1);
        assert_eq!(distance("", "ab"), 2);
        let cols = ["first_name", "email", "phone"];
        assert_eq!(closest("emial", cols), Some("email"));
        assert_eq!(closest("first_nmae", cols), Some("first_name"));
        assert_eq!(closest("fax", cols), None);
        assert_eq!(closest("email", cols), None, "itself is no suggestion");
        assert_eq!(closest("ab", ["ac"]), Some("ac"));
        assert_eq!(did_you_mean("phnoe", cols), "; did you mean \"phone\"?");
        assert_eq!(did_you_mean("zzz", cols), "");
    }
}
