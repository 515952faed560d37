//! `cpsf environments`' tables: columns padded to their widest cell.

use super::listing::Listed;
use super::select::short;
use std::time::SystemTime;

/// `list`'s table, ages as of `now`.
pub fn environments(listed: &[Listed], now: SystemTime) -> String {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            vec![
                l.environment.clone(),
                l.stack_name.clone(),
                l.region.clone(),
                or_dash(l.pipeline.clone()),
                // A commit or version id is recognisable by its first 12.
                or_dash(l.revision.as_ref().map(|r| r.chars().take(12).collect())),
                humantime::format_rfc3339_seconds(l.last_deploy).to_string(),
                l.status.clone(),
                short(now.duration_since(l.last_deploy).unwrap_or_default()),
                or_dash(l.ttl.map(|t| format!("{}h", t.as_secs() / 3600))),
            ]
        })
        .collect();
    let headers = [
        "ENVIRONMENT",
        "STACK",
        "REGION",
        "PIPELINE",
        "REVISION",
        "LAST DEPLOY",
        "STATUS",
        "AGE",
        "TTL",
    ];
    render(&headers, &rows)
}

/// `rows` under `headers`, each column as wide as its widest cell, two
/// spaces apart, no trailing spaces.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut text = line(headers.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let text = super::render(
            &["NAME", "AGE"],
            &[
                vec!["feature-1".into(), "3d".into()],
                vec!["f".into(), "12m".into()],
            ],
        );
        assert_eq!(text, "NAME       AGE\nfeature-1  3d\nf          12m\n");
    }
}
