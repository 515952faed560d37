//! Names and comments as plain text (issue 27). An approver's name and
//! comment become the `ApprovedBy` and `ApprovalComment` output variables
//! (`job/decide.rs`), which a later action may put in a shell command or
//! a terminal, and the pipeline's failure message. A control character
//! (a newline ends a command, an escape sequence rewrites a terminal) or
//! a bidirectional override (text that reads other than it runs, CVE-2021-42574
//! "Trojan Source") has no place in either.

/// `text` with Unicode control characters (Cc) and bidirectional
/// formatting characters removed, and every run of white space (line
/// breaks and tabs included) one space, trimmed.
pub fn plain(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter(|c| c.is_whitespace() || !(c.is_control() || is_bidi_formatting(*c)))
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The characters that set or change the direction of text (Unicode
/// Bidirectional Algorithm, UAX #9, table 4): marks, embeddings,
/// overrides and isolates.
fn is_bidi_formatting(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_go_and_line_breaks_become_spaces() {
        assert_eq!(plain("Ann"), "Ann");
        assert_eq!(plain("  ship it  "), "ship it");
        assert_eq!(plain("ship\nit;\r\nrm -rf /\tnow"), "ship it; rm -rf / now");
        assert_eq!(plain("a\u{2028}b\u{2029}c\u{85}d"), "a b c d");
        assert_eq!(plain("Ann\u{1b}[2J\u{7}\u{0}\u{7f}\u{9b}"), "Ann[2J");
        assert_eq!(plain("\u{1b}\n\t"), "");
    }

    #[test]
    fn bidirectional_formatting_goes() {
        // "Trojan Source": an override that makes `rm -rf` read backwards.
        assert_eq!(plain("ok \u{202e}fr- mr\u{202c}"), "ok fr- mr");
        for c in ['\u{200e}', '\u{200f}', '\u{61c}']
            .into_iter()
            .chain('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
        {
            assert_eq!(plain(&format!("a{c}b")), "ab", "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn other_text_is_kept() {
        for text in [
            "Zoë Ødegård",
            "שלום",
            "مرحبا",
            "名前",
            "ship it 🚀",
            "a+b=c & d",
        ] {
            assert_eq!(plain(text), text);
        }
    }
}
