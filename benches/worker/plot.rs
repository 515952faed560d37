//! Two small charts as SVG (and PNG through the same renderer `cpsf history
//! --graph` uses): latency distributions, and memory against jobs in flight.

pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Log10 x axis between these bounds; linear (from 0) when None.
    pub log_x: Option<(f64, f64)>,
    pub series: Vec<Series>,
}

/// Canvas size and the margins around the plot area, in pixels.
const W: f64 = 760.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

impl Chart {
    pub fn svg(&self) -> String {
        let all: Vec<(f64, f64)> = self.series.iter().flat_map(|s| s.points.clone()).collect();
        let y_max = nice(all.iter().map(|p| p.1).fold(0.0, f64::max));
        let (x_min, x_max) = self
            .log_x
            .unwrap_or((0.0, nice(all.iter().map(|p| p.0).fold(0.0, f64::max))));
        let plot_w = W - LEFT - RIGHT;
        let plot_h = H - TOP - BOTTOM;
        let x = |v: f64| match self.log_x {
            Some(_) => {
                LEFT + plot_w * (v.max(x_min).log10() - x_min.log10())
                    / (x_max.log10() - x_min.log10())
            }
            None => LEFT + plot_w * v / x_max,
        };
        let y = |v: f64| TOP + plot_h * (1.0 - v / y_max);
        let mut out = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="DejaVu Sans, sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        // Axes, ticks and grid.
        let x_ticks: Vec<f64> = match self.log_x {
            Some((lo, hi)) => {
                let (a, b) = (lo.log10().ceil() as i32, hi.log10().floor() as i32);
                (a..=b).map(|e| 10f64.powi(e)).collect()
            }
            None => (0..=5).map(|i| x_max * f64::from(i) / 5.0).collect(),
        };
        for t in &x_ticks {
            out += &format!(
                r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1}" stroke="#e5e5e5"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
                x(*t),
                H - BOTTOM,
                H - BOTTOM + 16.0,
                label(*t)
            );
        }
        for i in 0..=4 {
            let v = y_max * f64::from(i) / 4.0;
            out += &format!(
                r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#e5e5e5"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
                y(v),
                W - RIGHT,
                LEFT - 6.0,
                y(v) + 4.0,
                label(v)
            );
        }
        out += &format!(
            r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#555"/><text x="{0}" y="{1}" text-anchor="middle">{2}</text><text transform="translate(18,{3}) rotate(-90)" text-anchor="middle">{4}</text>"##,
            LEFT + plot_w / 2.0,
            H - 12.0,
            escape(&self.x_label),
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let path: Vec<String> = series
                .points
                .iter()
                .map(|(px, py)| format!("{:.1},{:.1}", x(*px), y(*py)))
                .collect();
            out += &format!(
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
                path.join(" "),
                series.color
            );
            let ly = TOP + 14.0 + 20.0 * i as f64;
            out += &format!(
                r#"<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="{3}" stroke-width="3"/><text x="{4}" y="{5}">{6}</text>"#,
                W - RIGHT + 12.0,
                ly,
                W - RIGHT + 32.0,
                series.color,
                W - RIGHT + 38.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        out + "</svg>"
    }

    /// Writes `<stem>.svg` and `<stem>.png`.
    pub fn write(&self, stem: &std::path::Path) -> anyhow::Result<()> {
        let svg = self.svg();
        std::fs::write(stem.with_extension("svg"), &svg)?;
        std::fs::write(
            stem.with_extension("png"),
            cpsf_worker::history::graph::png(&svg)?,
        )?;
        Ok(())
    }
}

/// The cumulative distribution of `values`: (value, share at or below).
pub fn cdf(values: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, (i + 1) as f64 / n))
        .collect()
}

/// A round upper bound for an axis.
fn nice(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let step = 10f64.powf(max.log10().floor());
    (max / step).ceil() * step
}

fn label(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
