//! Lists of named things in a message with a length limit (pure): every
//! name that fits is kept whole, and the details beside the names share
//! what is left fairly, so one long cause cannot push the other targets
//! (or alarms) out of CodePipeline's 5,000-character failure message.
//!
//! Lengths are UTF-16 units, as in `base::text::cut`, never fewer than
//! characters: whichever way CodePipeline counts, the text fits.

use crate::base::text::cut;

const SEPARATOR: &str = "; ";

pub fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Cuts each of `texts` so that together they take at most `budget`:
/// texts no longer than an equal share stay whole, and the longer ones
/// split what the shorter left, equally (water-filling).
pub fn share(texts: &[String], budget: usize) -> Vec<String> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| units(&texts[i]));
    let mut allowed = vec![0; texts.len()];
    let mut remaining = budget;
    for (done, &i) in order.iter().enumerate() {
        let equal = remaining / (texts.len() - done);
        allowed[i] = units(&texts[i]).min(equal);
        remaining -= allowed[i];
    }
    texts
        .iter()
        .zip(allowed)
        .map(|(text, max)| cut(text, max))
        .collect()
}

/// `label + detail` for each item, joined by "; ", within `budget`: as many
/// labels as fit, whole, in order (then "; and N more"), and the kept
/// items' details shortened fairly in the room the labels leave.
pub fn list(items: &[(String, String)], budget: usize) -> String {
    let more = |left: usize| {
        if left == 0 {
            String::new()
        } else {
            format!("{SEPARATOR}and {left} more")
        }
    };
    // The most labels, k, whose cost with the "and N more" tail fits.
    let mut kept = 0;
    let mut labels = 0;
    for (k, (label, _)) in items.iter().enumerate() {
        let with = labels + units(label) + if k > 0 { SEPARATOR.len() } else { 0 };
        if with + units(&more(items.len() - k - 1)) > budget {
            break;
        }
        labels = with;
        kept = k + 1;
    }
    if kept == 0 && !items.is_empty() {
        // Not even one label fits: say how many there were, as far as it goes.
        return cut(&format!("{} of them", items.len()), budget);
    }
    let tail = more(items.len() - kept);
    let room = budget.saturating_sub(labels + units(&tail));
    let details: Vec<String> = items[..kept].iter().map(|(_, d)| d.clone()).collect();
    let details = share(&details, room);
    let mut text: Vec<String> = items[..kept]
        .iter()
        .zip(details)
        .map(|((label, _), detail)| format!("{label}{detail}"))
        .collect();
    text.push(tail.trim_start_matches(SEPARATOR).to_string());
    text.retain(|t| !t.is_empty());
    text.join(SEPARATOR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_texts_stay_whole_and_long_ones_split_the_rest() {
        let texts = vec!["ab".to_string(), "x".repeat(100), "y".repeat(100)];
        let out = share(&texts, 42);
        assert_eq!(out[0], "ab");
        assert_eq!(units(&out[1]), 20);
        assert_eq!(units(&out[2]), 20);
        assert!(out[1].ends_with("[truncated]"), "{}", out[1]);
        assert_eq!(share(&texts, 1000), texts);
    }

    #[test]
    fn labels_that_do_not_fit_are_counted() {
        let items: Vec<(String, String)> = (0..10)
            .map(|i| (format!("name{i}"), ": why".to_string()))
            .collect();
        assert_eq!(list(&items, 1000).matches(": why").count(), 10);
        let out = list(&items, 30);
        assert!(units(&out) <= 30, "{out}");
        assert!(out.starts_with("name0") && out.ends_with("more"), "{out}");
        assert_eq!(list(&items, 3), "10 ");
        assert_eq!(list(&[], 10), "");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn a_list_fits_and_keeps_whole_labels_in_order(
            items in prop::collection::vec(("[a-z]{1,12}", "[^<>]{0,300}"), 0..40),
            budget in 0usize..3000,
        ) {
            let items: Vec<(String, String)> =
                items.into_iter().map(|(l, d)| (format!("<{l}>"), d)).collect();
            let out = list(&items, budget);
            prop_assert!(units(&out) <= budget);
            let mut from = 0;
            let mut named = 0;
            for (label, _) in &items {
                match out[from..].find(label.as_str()) {
                    Some(at) => { from += at + label.len(); named += 1; }
                    None => break,
                }
            }
            // Either every label is named, or the rest are counted.
            let left = items.len() - named;
            let counted = format!("{} more", left);
            prop_assert!(left == 0 || out.contains(&counted) || named == 0);
        }
    }
}
