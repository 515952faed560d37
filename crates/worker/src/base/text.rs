//! Text cut to fit a limit, and words for messages. AWS APIs count a
//! string's length in UTF-16 code units or, inside JSON, in bytes: each
//! cut here counts as the service it feeds does.

use serde_json::Value;

/// Said at the end of a text that was cut.
pub const MARK: &str = " …[truncated]";

/// Cuts `text` to at most `max` characters on a character boundary, saying
/// so at the end; what is kept is a prefix of `text`. Length is counted in
/// UTF-16 code units, which is never less than the count of characters: a
/// service that counts either way accepts the result (an emoji is one
/// character but two UTF-16 units).
pub fn cut(text: &str, max: usize) -> String {
    if utf16_len(text) <= max {
        return text.to_string();
    }
    let mark = if utf16_len(MARK) < max { MARK } else { "" };
    let budget = max - utf16_len(mark);
    let mut used = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        end = at + c.len_utf8();
    }
    format!("{}{mark}", &text[..end])
}

/// Length in UTF-16 code units, as the AWS APIs count a string's length.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` cut (with `…` at the cut) so that it takes at most `max` bytes
/// as the inside of a JSON string: escapes are counted as serde_json
/// writes them (`\"`, `\\`, `\n`, `\u00XX`), other characters as UTF-8.
pub fn fit_text(text: &str, max: usize) -> String {
    let escaped = |c: char| match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    };
    if text.chars().map(escaped).sum::<usize>() <= max {
        return text.to_string();
    }
    let mark = '…';
    let budget = max.saturating_sub(mark.len_utf8());
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        if used + escaped(c) > budget {
            break;
        }
        used += escaped(c);
        out.push(c);
    }
    if escaped(mark) <= max {
        out.push(mark);
    }
    out
}

/// "an array", "a string", ...: for messages about the wrong JSON type.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_text() -> impl Strategy<Value = String> {
        // Any characters, multi-byte and outside the BMP included, around
        // and far past the limits.
        prop::collection::vec(any::<char>(), 0..7000).prop_map(|c| c.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_text_is_cut_within_the_limit_to_a_prefix(text in any_text(), max in 0usize..6000) {
            let out = cut(&text, max);
            prop_assert!(out.chars().count() <= max);
            prop_assert!(out.encode_utf16().count() <= max);
            if text.encode_utf16().count() <= max {
                prop_assert_eq!(&out, &text);
            } else {
                let kept = out.strip_suffix(MARK).unwrap_or(&out);
                prop_assert!(text.starts_with(kept));
            }
        }
    }

    #[test]
    fn a_cut_text_says_so_and_keeps_the_most_it_can() {
        let text = "😀".repeat(3000);
        let out = cut(&text, 5000);
        assert!(out.ends_with(MARK));
        // 2 units an emoji: (5000 - 13) / 2 whole emoji fit.
        assert_eq!(out.chars().count(), (5000 - 13) / 2 + 13);
        assert_eq!(cut("abcdef", 3), "abc");
    }

    #[test]
    fn text_is_cut_to_its_json_size() {
        for (text, max) in [
            ("plain words", 5),
            ("quotes \"\"\"\" and \\ slashes", 9),
            ("control \u{1}\u{2}\u{3}", 12),
            ("ünïcödé ✓✓✓", 10),
            ("short", 100),
        ] {
            let cut = fit_text(text, max);
            let inside = serde_json::to_string(&cut).unwrap().len() - 2;
            assert!(inside <= max, "{text:?} → {cut:?}: {inside} > {max}");
            assert!(text.starts_with(cut.trim_end_matches('…')), "{cut}");
        }
        assert_eq!(fit_text("short", 100), "short");
        assert_eq!(fit_text("abcdef", 4), "a…");
    }
}
