//! Columns padded to their widest cell, for `cpsf environments`' tables.

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
