//! bootstrap/'s templates read as text, a line at a time: a top-level
//! section, the resources and the lines of one. The static tests read the
//! grants this way, and the playground cuts the worker's role out of
//! bootstrap/cpsf.yaml with it (`local/worker_role.rs`), handing the lines
//! to CloudFormation, which reads them as YAML. The templates keep the
//! layout this relies on: top-level keys at column 0, each resource a key
//! indented by two spaces, its body by four or more.

/// The lines of the top-level section `name` (`Parameters`, `Conditions`,
/// …), without its key line; None when the template has no such section.
pub fn section<'a>(template: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let key = format!("{name}:");
    let mut lines = template.lines().skip_while(|l| l.trim_end() != key);
    lines.next()?;
    Some(
        lines
            .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
            .collect(),
    )
}

/// The logical ids of the template's resources, in order.
pub fn resource_names(template: &str) -> Vec<&str> {
    section(template, "Resources")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| {
            let name = l.strip_prefix("  ")?.strip_suffix(':')?;
            name.chars()
                .all(|c| c.is_ascii_alphanumeric())
                .then_some(name)
        })
        .collect()
}

/// The lines of resource `name`, without its key line (a comment that
/// introduces the next resource may trail them); None when there is no
/// such resource.
pub fn resource<'a>(template: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let key = format!("  {name}:");
    let mut lines = template.lines().skip_while(|l| l.trim_end() != key);
    lines.next()?;
    Some(
        lines
            .take_while(|l| {
                l.is_empty() || l.starts_with("    ") || l.trim_start().starts_with('#')
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "Parameters:\n  A:\n    Type: String\n\
                            # a comment\nResources:\n  One:\n    Type: X\n\n    Properties: {}\n  \
                            # the next one\n  Two:\n    Type: Y\nOutputs:\n  O:\n    Value: 1\n";

    #[test]
    fn sections_and_resources_are_cut_by_indentation() {
        assert_eq!(
            section(TEMPLATE, "Parameters").unwrap(),
            ["  A:", "    Type: String", "# a comment"]
        );
        assert_eq!(section(TEMPLATE, "Mappings"), None);
        assert_eq!(resource_names(TEMPLATE), ["One", "Two"]);
        assert_eq!(
            resource(TEMPLATE, "One").unwrap(),
            ["    Type: X", "", "    Properties: {}", "  # the next one"]
        );
        assert_eq!(resource(TEMPLATE, "Two").unwrap(), ["    Type: Y"]);
        assert_eq!(resource(TEMPLATE, "Three"), None);
    }

    #[test]
    fn every_resource_of_the_bootstrap_template_is_found() {
        let names = resource_names(super::super::TEMPLATE);
        assert!(names.contains(&"WorkerRole"), "{names:?}");
        assert!(names.contains(&"PruneEnvironmentsSchedule"), "{names:?}");
        for name in names {
            let lines = resource(super::super::TEMPLATE, name).unwrap();
            assert!(
                lines
                    .iter()
                    .any(|l| l.trim_start().starts_with("Type: AWS::")),
                "{name}"
            );
        }
    }
}
