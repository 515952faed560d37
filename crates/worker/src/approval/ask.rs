//! Whether a change set waits for a person, and what they are asked
//! (pure): the request UpdateStack or CreateStack hands the state machine
//! (`$.stackOperation.approval`), which RequestApproval sends on with its task
//! token.

use super::spec::{Approval, ReviewUrl, When};
use crate::base::change::Change;
use serde::{Deserialize, Serialize};

/// The wave's one request ([`wave_request`], fitted with [`fit_request`];
/// its share of the wave's state, `targets/budget.rs`): in `$.current.request`, and in the SQS message
/// RequestWaveApproval sends (at most 256 KiB, Amazon SQS developer guide,
/// "Amazon SQS message quotas") with a task token of at most 2,048
/// characters.
pub const WAVE_REQUEST: usize = 48 * 1024;

/// The changes a request lists at most (the page shows them all, the
/// notification a line): the request rides in an SQS message (at most
/// 256 KiB, Amazon SQS developer guide, quotas) and the execution's state.
pub const MAX_LISTED_CHANGES: usize = 200;

/// What the safety gate refuses without `allowReplacements`
/// ([`Change::is_risky`]).
pub fn is_risky(change: &Change) -> bool {
    change.is_risky()
}

/// Whether `changes` wait for a decision under `approval`. No changes
/// never ask.
pub fn asks(approval: Option<&Approval>, changes: &[Change]) -> bool {
    if changes.is_empty() {
        return false;
    }
    match approval.map(|a| a.when) {
        None | Some(When::Never) => false,
        Some(When::Always) => true,
        Some(When::Risky) => changes.iter().any(is_risky),
    }
}

/// The change set in one line: "2 modified, 1 replaced: WorkQueue
/// (AWS::SQS::Queue)", the risky resources named after the counts.
pub fn one_line(changes: &[Change]) -> String {
    let kind = |c: &Change| match (c.action.as_str(), c.replacement.as_deref()) {
        ("Add", _) => "added",
        ("Remove", _) if c.retained() => "removed from the stack (retained)",
        ("Remove", _) => "removed",
        ("Modify", Some("True")) => "replaced",
        ("Modify", Some("Conditional")) => "modified (may be replaced)",
        ("Modify", _) => "modified",
        ("Import", _) => "imported",
        _ => "changed",
    };
    let order = [
        "added",
        "modified",
        "modified (may be replaced)",
        "replaced",
        "removed",
        "removed from the stack (retained)",
        "imported",
        "changed",
    ];
    let counts: Vec<String> = order
        .iter()
        .filter_map(|k| {
            let n = changes.iter().filter(|c| kind(c) == *k).count();
            (n > 0).then(|| format!("{n} {k}"))
        })
        .collect();
    let risky: Vec<String> = changes
        .iter()
        .filter(|c| is_risky(c))
        .map(|c| format!("{} ({})", c.logical_id, c.resource_type))
        .collect();
    let mut line = counts.join(", ");
    if !risky.is_empty() {
        let shown = risky.len().min(5);
        line.push_str(&format!(": {}", risky[..shown].join(", ")));
        if risky.len() > shown {
            line.push_str(&format!(" and {} more", risky.len() - shown));
        }
    }
    line
}

/// What RequestApproval sends, and the page and the notification show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub stack_name: String,
    /// The change set waiting; ExecuteChangeSet runs it once approved.
    pub change_set: String,
    /// Where the stack is: `target name (region, account)` in a rollout,
    /// else the worker's region.
    pub place: String,
    pub pipeline: Option<String>,
    pub summary: String,
    pub risky: bool,
    /// At most [`MAX_LISTED_CHANGES`], the risky ones first.
    pub changes: Vec<Change>,
    /// How many changes the change set has in all.
    pub change_count: usize,
    pub timeout_minutes: u32,
    /// For RequestApproval's TimeoutSecondsPath.
    pub timeout_seconds: u32,
    pub notify: Option<String>,
    pub message: Option<String>,
    /// The running template against the revision's, when small
    /// (`diff.rs`); None for a new stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_diff: Option<String>,
    /// What to look at before deciding (the input's `reviewUrl`), checked
    /// (`spec::check_url`): the literal, or the stack output it names once
    /// read (`tasks::asking`); None until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_url: Option<String>,
}

impl Request {
    pub fn new(
        approval: &Approval,
        stack_name: &str,
        change_set: &str,
        place: String,
        pipeline: Option<String>,
        changes: &[Change],
    ) -> Request {
        let mut listed: Vec<Change> = changes.iter().filter(|c| is_risky(c)).cloned().collect();
        listed.extend(changes.iter().filter(|c| !is_risky(c)).cloned());
        listed.truncate(MAX_LISTED_CHANGES);
        Request {
            stack_name: stack_name.to_string(),
            change_set: change_set.to_string(),
            place,
            pipeline,
            summary: one_line(changes),
            risky: changes.iter().any(is_risky),
            changes: listed,
            change_count: changes.len(),
            timeout_minutes: approval.timeout_minutes,
            timeout_seconds: approval.timeout_minutes * 60,
            notify: approval.notify.clone(),
            message: approval.message.clone(),
            template_diff: None,
            review_url: match &approval.review_url {
                Some(ReviewUrl::Url(url)) => Some(url.clone()),
                _ => None,
            },
        }
    }

    /// The request waiting at most `seconds` (`deadline::ExecutionClock::
    /// seconds_left`): shorter than asked when the execution would time out
    /// first. The minutes the failure and the page name follow.
    pub fn end_within(mut self, seconds: Option<u32>) -> Request {
        if let Some(left) = seconds.filter(|&s| s < self.timeout_seconds) {
            self.timeout_seconds = left.max(1);
            self.timeout_minutes = self.timeout_seconds.div_ceil(60);
        }
        self
    }
}

/// Each target's line in a wave request's summary and place, at most (as
/// JSON text): 100 targets' lines leave most of
/// [`WAVE_REQUEST`] to the listed changes.
pub const WAVE_LINE: usize = 256;
pub const WAVE_PLACE: usize = 128;

/// A wave's one request from its targets' own (`planned`: target name,
/// request): every change, its logical id after its target's name
/// ("prod-use1 / WorkQueue"), the risky ones first, and each target's
/// summary; within [`WAVE_REQUEST`] bytes, since it rides
/// in the rollout's state (`fit_request`). None when no target planned a
/// change.
pub fn wave_request(wave: usize, waves: usize, planned: &[(String, Request)]) -> Option<Request> {
    let request = joined(wave, waves, planned)?;
    Some(fit_request(request, WAVE_REQUEST))
}

/// `request` within `max` bytes as JSON: the changes listed while they
/// fit (the risky ones come first; `change_count` still counts all, and
/// the page says how many are not listed), then, should the rest alone be
/// over, the summary and the place cut.
pub fn fit_request(mut request: Request, max: usize) -> Request {
    use crate::base::text::fit_text;
    let size = |r: &Request| serde_json::to_string(r).map_or(usize::MAX, |t| t.len());
    let changes = std::mem::take(&mut request.changes);
    let mut used = size(&request);
    for change in changes {
        let more = serde_json::to_string(&change).map_or(usize::MAX, |t| t.len()) + 1;
        if used + more > max {
            break;
        }
        used += more;
        request.changes.push(change);
    }
    if used > max {
        request.summary = fit_text(&request.summary, max / 4);
        request.place = fit_text(&request.place, max / 4);
    }
    request
}

fn joined(wave: usize, waves: usize, planned: &[(String, Request)]) -> Option<Request> {
    use crate::base::text::fit_text;
    let (_, first) = planned.first()?;
    let mut changes: Vec<Change> = planned
        .iter()
        .flat_map(|(name, request)| {
            request.changes.iter().map(move |c| Change {
                logical_id: format!("{name} / {}", c.logical_id),
                ..c.clone()
            })
        })
        .collect();
    changes.sort_by_key(|c| !is_risky(c));
    changes.truncate(MAX_LISTED_CHANGES);
    let each = |f: &dyn Fn(&String, &Request) -> String| -> String {
        planned
            .iter()
            .map(|(n, r)| f(n, r))
            .collect::<Vec<_>>()
            .join("; ")
    };
    Some(Request {
        stack_name: first.stack_name.clone(),
        change_set: String::new(),
        place: format!(
            "wave {wave}/{waves}: {}",
            each(&|_, r| fit_text(&r.place, WAVE_PLACE))
        ),
        pipeline: first.pipeline.clone(),
        summary: each(&|n, r| fit_text(&format!("{n}: {}", r.summary), WAVE_LINE)),
        risky: planned.iter().any(|(_, r)| r.risky),
        changes,
        change_count: planned.iter().map(|(_, r)| r.change_count).sum(),
        timeout_minutes: first.timeout_minutes,
        timeout_seconds: first.timeout_seconds,
        notify: first.notify.clone(),
        message: first.message.clone(),
        template_diff: None,
        // One rollout's approval, so one review URL: the first target's
        // (a stack output is read in each target's place).
        review_url: first.review_url.clone(),
    })
}

/// The request tests show: the stack `app` of pipeline `shop` in
/// us-east-1, with `changes` and the pipeline's note `message`.
#[cfg(test)]
pub(crate) fn test_request(changes: &[Change], message: &str) -> Request {
    let approval = Approval {
        when: When::Risky,
        notify: None,
        timeout_minutes: 60,
        message: Some(message.into()),
        review_url: None,
    };
    Request::new(
        &approval,
        "app",
        "cs",
        "us-east-1".into(),
        Some("shop".into()),
        changes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_ends_within_the_time_its_execution_leaves() {
        let asked = test_request(&[], "x");
        assert_eq!((asked.timeout_minutes, asked.timeout_seconds), (60, 3600));
        let late = asked.clone().end_within(Some(1000));
        assert_eq!((late.timeout_minutes, late.timeout_seconds), (17, 1000));
        assert_eq!(asked.clone().end_within(Some(7200)), asked);
        assert_eq!(asked.clone().end_within(None), asked);
    }

    use crate::cloudformation::change_set::test_change as change;

    fn approval(when: When) -> Approval {
        Approval {
            when,
            notify: None,
            timeout_minutes: 60,
            message: None,
            review_url: None,
        }
    }

    #[test]
    fn who_is_asked_depends_on_when_and_the_changes() {
        let modest = [change("Modify", "Greeting", Some("False"))];
        let risky = [
            change("Modify", "Greeting", Some("False")),
            change("Modify", "WorkQueue", Some("True")),
        ];
        let removal = [change("Remove", "Old", None)];
        for (when, changes, asked) in [
            (When::Always, &modest[..], true),
            (When::Always, &[][..], false),
            (When::Risky, &modest[..], false),
            (When::Risky, &risky[..], true),
            (When::Risky, &removal[..], true),
            (When::Never, &risky[..], false),
        ] {
            assert_eq!(
                asks(Some(&approval(when)), changes),
                asked,
                "{when:?} {changes:?}"
            );
        }
        assert!(!asks(None, &risky), "without approval the gate decides");
        let conditional = [change("Modify", "Q", Some("Conditional"))];
        assert!(!asks(Some(&approval(When::Risky)), &conditional));
    }

    #[test]
    fn the_summary_counts_and_names_what_is_risky() {
        let changes = [
            change("Modify", "Greeting", Some("False")),
            change("Modify", "Topic", None),
            change("Modify", "WorkQueue", Some("True")),
        ];
        assert_eq!(
            one_line(&changes),
            "2 modified, 1 replaced: WorkQueue (AWS::SQS::Queue)"
        );
        let many: Vec<Change> = (0..7)
            .map(|i| change("Remove", &format!("R{i}"), None))
            .collect();
        assert!(
            one_line(&many).ends_with("R4 (AWS::SQS::Queue) and 2 more"),
            "{}",
            one_line(&many)
        );
        assert_eq!(one_line(&[change("Add", "New", None)]), "1 added");
    }

    #[test]
    fn a_waves_request_names_each_target_in_its_changes_and_summary() {
        let a = test_request(&[change("Modify", "Greeting", Some("False"))], "n");
        let b = test_request(&[change("Remove", "WorkQueue", None)], "n");
        let wave = wave_request(2, 3, &[("use1".into(), a), ("euw1".into(), b)]).unwrap();
        assert_eq!(
            wave.changes[0].logical_id, "euw1 / WorkQueue",
            "the risky change first"
        );
        assert_eq!(wave.changes[1].logical_id, "use1 / Greeting");
        assert_eq!(
            wave.summary,
            "use1: 1 modified; euw1: 1 removed: WorkQueue (AWS::SQS::Queue)"
        );
        assert!(
            wave.risky && wave.place.starts_with("wave 2/3: "),
            "{}",
            wave.place
        );
        assert_eq!(wave.change_count, 2);
        assert_eq!(wave_request(1, 1, &[]), None);
    }

    #[test]
    fn a_request_lists_the_risky_changes_first_within_its_bound() {
        let mut changes: Vec<Change> = (0..MAX_LISTED_CHANGES + 10)
            .map(|i| change("Add", &format!("A{i}"), None))
            .collect();
        changes.push(change("Remove", "Old", None));
        let request = Request::new(
            &approval(When::Always),
            "app",
            "cs",
            "us-east-1".into(),
            None,
            &changes,
        );
        assert_eq!(request.changes.len(), MAX_LISTED_CHANGES);
        assert_eq!(request.changes[0].logical_id, "Old");
        assert_eq!(request.change_count, MAX_LISTED_CHANGES + 11);
        assert!(request.risky);
        assert_eq!(request.timeout_seconds, 3600);
    }

    #[test]
    fn a_waves_request_fits_the_rollouts_state_listing_the_risky_first() {
        let max = WAVE_REQUEST;
        let planned: Vec<(String, Request)> = (0..crate::targets::MAX_TARGETS)
            .map(|t| {
                let changes: Vec<Change> = (0..500)
                    .map(|i| {
                        let action = if i == 499 { "Remove" } else { "Add" };
                        change(action, &format!("R{i}{}", "x".repeat(200)), None)
                    })
                    .collect();
                let mut request = test_request(&changes, &"m".repeat(1000));
                request.place = format!("{} (us-east-1, account 123456789012)", "p".repeat(40));
                (format!("t{t:03}{}", "n".repeat(36)), request)
            })
            .collect();
        let wave = wave_request(1, 1, &planned).unwrap();
        let size = serde_json::to_string(&wave).unwrap().len();
        assert!(size <= max, "{size}");
        assert_eq!(wave.change_count, 50_000, "every change is counted");
        assert!(!wave.changes.is_empty(), "and some listed");
        assert!(
            wave.changes.iter().all(|c| c.action == "Remove"),
            "the risky first"
        );
        assert!(wave.summary.contains("t099"), "every target in the summary");
        // Two targets list more.
        let two = wave_request(1, 1, &planned[..2]).unwrap();
        assert!(two.changes.len() > wave.changes.len());
        assert!(serde_json::to_string(&two).unwrap().len() <= max);
        // Whatever else is over, the request is cut to the bound.
        let mut huge = two.clone();
        huge.summary = "s".repeat(4 * max);
        assert!(
            serde_json::to_string(&fit_request(huge, max))
                .unwrap()
                .len()
                <= max
        );
    }
}
