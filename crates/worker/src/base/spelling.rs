//! "Did you mean …?": the allowed key a misspelt one most likely meant.

/// The allowed key a misspelt `key` most likely meant: the same but for
/// case, or at most two edits (Levenshtein, on characters) away.
pub fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| {
            (
                strsim::levenshtein(&key.to_lowercase(), &a.to_lowercase()),
                *a,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closest_key_catches_case_and_small_typos() {
        let keys = ["region", "roleArn", "account"];
        assert_eq!(closest("regoin", &keys), Some("region"));
        assert_eq!(closest("rolearn", &keys), Some("roleArn"));
        assert_eq!(closest("stage", &keys), None);
    }
}
