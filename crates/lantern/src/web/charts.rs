//! SVG charts, drawn on the server: no script, no third-party library, readable without
//! colour, and always next to the table that holds the same numbers (the table is what a
//! screen reader reads; the chart is marked as an image with a short description).
//!
//! Two kinds cover what Lantern shows: horizontal bars with optional interval whiskers (rates
//! and shares by group), and lines over time with an optional interval band (trends).

use std::fmt::Write as _;

use crate::web::fmt;
use crate::web::i18n::{self, Lang};

/// One bar: a labelled value with an optional interval. `None` values (suppressed or missing
/// cells) are drawn as an empty row saying so.
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    pub interval: Option<(f64, f64)>,
    /// Text shown at the end of the bar, e.g. "12.3%" (formatted for the chart's language).
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct BarChart {
    /// A short description for assistive technology ("Search rate by race, with 95% intervals").
    pub title: String,
    pub bars: Vec<Bar>,
    /// The axis maximum; the largest value or interval end when None.
    pub max: Option<f64>,
    /// Formats axis ticks in the chart's language.
    pub tick_format: fn(Lang, f64) -> String,
    /// A vertical reference line (e.g. a ratio of 1, or the agency-wide rate).
    pub reference: Option<(f64, String)>,
    /// The language of the page the chart is drawn for (ticks and the words it says itself).
    pub lang: Lang,
}

/// One point of a line: its x label, value and interval.
pub type Point = (String, Option<f64>, Option<(f64, f64)>);

/// One line of a trend chart.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<Point>,
}

#[derive(Clone, Debug)]
pub struct LineChart {
    pub title: String,
    pub series: Vec<Series>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub tick_format: fn(Lang, f64) -> String,
    pub lang: Lang,
}

/// Axis ticks for shares: 0.4 → "40%" / "40 %", 0.025 → "2.5%" (no needless ".0").
pub fn percent_tick(lang: Lang, x: f64) -> String {
    let places = if (x * 100.0 - (x * 100.0).round()).abs() < 1e-9 {
        0
    } else {
        1
    };
    fmt::percent_places(lang, x, places)
}

/// Text safe inside SVG/XML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Round axis ticks covering [0, max]: steps of 1, 2 or 5 × 10^k, about five of them.
fn ticks(min: f64, max: f64) -> Vec<f64> {
    ticks_n(min, max, 5.0)
}

/// Round ticks, about `n` of them.
fn ticks_n(min: f64, max: f64, n: f64) -> Vec<f64> {
    if max.partial_cmp(&min) != Some(std::cmp::Ordering::Greater)
        || !min.is_finite()
        || !max.is_finite()
    {
        return vec![min];
    }
    let raw = (max - min) / n;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    // Multiples of the step (not a running sum), so rounding errors do not accumulate.
    let first = (min / step).floor() as i64;
    let mut out = Vec::new();
    let mut k = first;
    loop {
        let t = k as f64 * step;
        out.push(t);
        if t >= max - step * 1e-9 {
            break;
        }
        k += 1;
    }
    out
}

/// The width of the drawing in SVG units. Charts are drawn narrow and scale up: on a 390 px
/// phone the page's column is about 358 px wide, so text of [`FONT_SIZE`] units renders at
/// 14 × 358 / 400 ≈ 12.5 px, and the stylesheet caps how wide a chart grows on a desktop.
pub const WIDTH: f64 = 400.0;
/// Font size in SVG units.
pub const FONT_SIZE: f64 = 14.0;
/// About how wide one character is, in SVG units, at [`FONT_SIZE`].
const CHAR: f64 = 7.8;

const FONT: &str = "font-family=\"system-ui, sans-serif\" font-size=\"14\"";

/// A label cut to what fits in `width` units.
fn fit(label: &str, width: f64) -> String {
    let max = (width / CHAR).floor().max(4.0) as usize;
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let cut: String = label.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// What a chart says instead of drawing nothing but empty bars.
fn in_words(title: &str, message: &str) -> String {
    format!(
        "<p class=\"chart-empty\"><span class=\"visually-hidden\">{}: </span>{}</p>",
        esc(title),
        esc(message)
    )
}

impl BarChart {
    pub fn new(title: impl Into<String>, bars: Vec<Bar>, lang: Lang) -> BarChart {
        BarChart {
            title: title.into(),
            bars,
            max: None,
            tick_format: fmt::number,
            reference: None,
            lang,
        }
    }

    /// Whether every value the chart would draw is zero (and there is at least one).
    fn all_zero(&self) -> bool {
        let mut values = self
            .bars
            .iter()
            .filter_map(|b| b.value.filter(|v| v.is_finite()))
            .peekable();
        values.peek().is_some() && values.all(|v| v == 0.0)
    }

    /// The chart as an inline `<svg>` element; when every value is zero, a sentence saying so.
    /// Each bar has its label on a line of its own above it, so the bars keep the whole width
    /// of a phone's screen.
    pub fn svg(&self) -> String {
        if self.all_zero() {
            return in_words(&self.title, i18n::t(self.lang, "chart.all_zero"));
        }
        let text_width = 10.0
            + CHAR
                * self
                    .bars
                    .iter()
                    .filter(|b| b.value.is_some_and(f64::is_finite))
                    .map(|b| b.text.chars().count())
                    .max()
                    .unwrap_or(6)
                    .clamp(4, 12) as f64;
        let left = 2.0;
        let plot_width = WIDTH - left - text_width;
        let row = 46.0;
        let top = 4.0;
        let axis = 26.0;
        let height = top + row * self.bars.len().max(1) as f64 + axis;
        let data_max = self
            .bars
            .iter()
            .flat_map(|b| [b.value, b.interval.map(|i| i.1)])
            .flatten()
            .chain(self.reference.as_ref().map(|r| r.0))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let ticks = ticks_n(
            0.0,
            self.max.unwrap_or(data_max).max(f64::MIN_POSITIVE),
            4.0,
        );
        let max = *ticks.last().unwrap_or(&1.0);
        let x = |v: f64| left + plot_width * (v.clamp(0.0, max) / max);

        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {WIDTH:.0} {height:.0}\" \
             role=\"img\" aria-label=\"{}\" {FONT}>",
            esc(&self.title)
        );
        let _ = write!(s, "<title>{}</title>", esc(&self.title));
        // Grid and axis.
        let plot_bottom = top + row * self.bars.len().max(1) as f64;
        let last = ticks.len().saturating_sub(1);
        for (i, t) in ticks.iter().enumerate() {
            let tx = x(*t);
            // The first tick label starts at the axis and the last ends at it, inside the box.
            let anchor = match i {
                0 => "start",
                _ if i == last => "end",
                _ => "middle",
            };
            let _ = write!(
                s,
                "<line x1=\"{tx:.1}\" y1=\"{top}\" x2=\"{tx:.1}\" y2=\"{plot_bottom:.1}\" stroke=\"#dfe1e2\"/>\
                 <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#454545\">{}</text>",
                plot_bottom + 18.0,
                esc(&(self.tick_format)(self.lang, *t))
            );
        }
        for (i, b) in self.bars.iter().enumerate() {
            let y = top + row * i as f64;
            let bar_y = y + 22.0;
            let bar_h = 16.0;
            let _ = write!(
                s,
                "<text x=\"{left:.1}\" y=\"{:.1}\" fill=\"#1b1b1b\">{}</text>",
                y + 15.0,
                esc(&fit(&b.label, WIDTH - left))
            );
            match b.value.filter(|v| v.is_finite()) {
                Some(v) => {
                    let _ = write!(
                        s,
                        "<rect x=\"{left:.1}\" y=\"{bar_y:.1}\" width=\"{:.1}\" height=\"{bar_h:.1}\" fill=\"#005ea2\"/>",
                        (x(v) - left).max(0.5),
                    );
                    if let Some((lo, hi)) =
                        b.interval.filter(|(l, h)| l.is_finite() && h.is_finite())
                    {
                        let (xl, xh, ym) = (x(lo), x(hi), bar_y + bar_h / 2.0);
                        let _ = write!(
                            s,
                            "<path d=\"M{xl:.1} {ym:.1}H{xh:.1}M{xl:.1} {:.1}V{:.1}M{xh:.1} {:.1}V{:.1}\" \
                             stroke=\"#1b1b1b\" stroke-width=\"1.5\" fill=\"none\"/>",
                            ym - 7.0,
                            ym + 7.0,
                            ym - 7.0,
                            ym + 7.0
                        );
                    }
                    let end = b.interval.map_or(x(v), |(_, hi)| x(hi).max(x(v)));
                    let _ = write!(
                        s,
                        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1b1b1b\">{}</text>",
                        end + 5.0,
                        bar_y + bar_h / 2.0 + 5.0,
                        esc(&b.text)
                    );
                }
                None => {
                    let _ = write!(
                        s,
                        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#454545\" font-style=\"italic\">{}</text>",
                        left + 4.0,
                        bar_y + bar_h / 2.0 + 5.0,
                        esc(&fit(&b.text, WIDTH - left - 4.0))
                    );
                }
            }
        }
        if let Some((v, label)) = &self.reference {
            let rx = x(*v);
            // The label sits on the side of the line with more room.
            let (lx, anchor) = if rx > WIDTH / 2.0 {
                (rx - 4.0, "end")
            } else {
                (rx + 4.0, "start")
            };
            let _ = write!(
                s,
                "<line x1=\"{rx:.1}\" y1=\"{top}\" x2=\"{rx:.1}\" y2=\"{plot_bottom:.1}\" stroke=\"#b50909\" \
                 stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#b50909\">{}</text>",
                plot_bottom - 4.0,
                esc(label)
            );
        }
        s.push_str("</svg>");
        s
    }
}

impl LineChart {
    pub fn new(title: impl Into<String>, series: Vec<Series>, lang: Lang) -> LineChart {
        LineChart {
            title: title.into(),
            series,
            min: None,
            max: None,
            tick_format: fmt::number,
            lang,
        }
    }

    /// The chart as an inline `<svg>` element. Series are told apart by dash pattern and
    /// marker shape as well as colour, and named in a legend.
    pub fn svg(&self) -> String {
        const COLOURS: [&str; 4] = ["#005ea2", "#b50909", "#216e1f", "#54278f"];
        const DASHES: [&str; 4] = ["", "6 4", "2 3", "10 3 2 3"];
        let (right, top, bottom) = (34.0, 12.0, 40.0);
        let plot_height = 180.0;
        let width = WIDTH;
        let legend_height = 22.0 * self.series.len() as f64;
        let height = top + plot_height + bottom + legend_height;
        let n = self
            .series
            .iter()
            .map(|s| s.points.len())
            .max()
            .unwrap_or(0);
        let values: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .flat_map(|(_, v, i)| [*v, i.map(|i| i.0), i.map(|i| i.1)])
            .flatten()
            .filter(|v| v.is_finite())
            .collect();
        let lo = self.min.unwrap_or_else(|| {
            values
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
                .min(0.0)
        });
        let hi = self
            .max
            .unwrap_or_else(|| values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        let ticks = ticks(lo, if hi > lo { hi } else { lo + 1.0 });
        let (y_lo, y_hi) = (
            *ticks.first().unwrap_or(&0.0),
            *ticks.last().unwrap_or(&1.0),
        );
        let span = if y_hi > y_lo { y_hi - y_lo } else { 1.0 };
        // Room for the widest tick label ("20,000") right-aligned before the axis.
        let widest_tick = ticks
            .iter()
            .map(|t| (self.tick_format)(self.lang, *t).chars().count())
            .max()
            .unwrap_or(1) as f64;
        let left = (widest_tick * CHAR + 10.0).max(44.0);
        let plot_width = WIDTH - left - right;
        let x = |i: usize| {
            left + if n > 1 {
                plot_width * i as f64 / (n - 1) as f64
            } else {
                plot_width / 2.0
            }
        };
        let y = |v: f64| top + plot_height * (1.0 - (v.clamp(y_lo, y_hi) - y_lo) / span);

        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {width:.0} {height:.0}\" \
             role=\"img\" aria-label=\"{}\" {FONT}><title>{}</title>",
            esc(&self.title),
            esc(&self.title)
        );
        for t in &ticks {
            let ty = y(*t);
            let _ = write!(
                s,
                "<line x1=\"{left}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#dfe1e2\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#454545\">{}</text>",
                left + plot_width,
                left - 6.0,
                ty + 5.0,
                esc(&(self.tick_format)(self.lang, *t))
            );
        }
        // X labels: as many as fit side by side (about four), evenly spaced.
        if let Some(first) = self.series.iter().max_by_key(|s| s.points.len()) {
            let widest = first
                .points
                .iter()
                .map(|(l, _, _)| l.chars().count())
                .max()
                .unwrap_or(1) as f64;
            let fits = ((plot_width / (widest * CHAR + 12.0)).floor() as usize).max(2);
            let every = n.div_ceil(fits).max(1);
            for (i, (label, _, _)) in first.points.iter().enumerate() {
                // The last label is drawn only where it does not crowd the one before.
                let shown = i % every == 0 || (i + 1 == n && (n - 1) % every > every / 2);
                if shown {
                    let _ = write!(
                        s,
                        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#454545\">{}</text>",
                        x(i),
                        top + plot_height + 20.0,
                        esc(label)
                    );
                }
            }
        }
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            // Interval band: the upper edge left to right, then the lower edge back.
            let band: Vec<(usize, f64, f64)> = series
                .points
                .iter()
                .enumerate()
                .filter_map(|(i, (_, _, iv))| {
                    iv.filter(|(a, b)| a.is_finite() && b.is_finite())
                        .map(|(a, b)| (i, a, b))
                })
                .collect();
            if band.len() > 1 {
                let mut d = String::new();
                for (j, (i, _, hi)) in band.iter().enumerate() {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1}",
                        if j == 0 { "M" } else { "L" },
                        x(*i),
                        y(*hi)
                    );
                }
                for (i, lo, _) in band.iter().rev() {
                    let _ = write!(d, "L{:.1} {:.1}", x(*i), y(*lo));
                }
                let _ = write!(
                    s,
                    "<path d=\"{d}Z\" fill=\"{colour}\" fill-opacity=\"0.15\" stroke=\"none\"/>"
                );
            }
            // The line, broken where a value is missing.
            let mut d = String::new();
            let mut pen_down = false;
            for (i, (_, v, _)) in series.points.iter().enumerate() {
                match v.filter(|v| v.is_finite()) {
                    Some(v) => {
                        let _ = write!(
                            d,
                            "{}{:.1} {:.1}",
                            if pen_down { "L" } else { "M" },
                            x(i),
                            y(v)
                        );
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let dash = DASHES[k % DASHES.len()];
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            };
            let _ = write!(
                s,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"{dash_attr}/>"
            );
            for (i, (_, v, _)) in series.points.iter().enumerate() {
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    let _ = write!(s, "{}", marker(k, x(i), y(v), colour));
                }
            }
            let ly = top + plot_height + bottom + 22.0 * k as f64 - 4.0;
            let _ = write!(
                s,
                "<line x1=\"{left}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"2.5\"{dash_attr}/>{}\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1b1b1b\">{}</text>",
                left + 30.0,
                marker(k, left + 15.0, ly, colour),
                left + 38.0,
                ly + 4.5,
                esc(&series.label)
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// Circle, square, triangle, diamond: series stay apart in greyscale too.
fn marker(k: usize, cx: f64, cy: f64, colour: &str) -> String {
    match k % 4 {
        0 => format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3.5\" fill=\"{colour}\"/>"),
        1 => format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"{colour}\"/>",
            cx - 3.5,
            cy - 3.5
        ),
        2 => format!(
            "<path d=\"M{cx:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z\" fill=\"{colour}\"/>",
            cy - 4.5,
            cx + 4.5,
            cy + 3.5,
            cx - 4.5,
            cy + 3.5
        ),
        _ => format!(
            "<path d=\"M{cx:.1} {:.1}L{:.1} {cy:.1}L{cx:.1} {:.1}L{:.1} {cy:.1}Z\" fill=\"{colour}\"/>",
            cy - 4.5,
            cx + 4.5,
            cy + 4.5,
            cx - 4.5
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that tags open and close in order (the SVG is well-formed XML).
    fn well_formed(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("tag closes") + start;
            let tag = &rest[start + 1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "closing {name}");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap().to_string());
            }
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert!(
            !svg.contains("NaN") && !svg.contains("inf"),
            "no NaN or infinity in coordinates"
        );
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let close = |a: Vec<f64>, b: &[f64]| {
            assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
            assert!(
                a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12),
                "{a:?} vs {b:?}"
            );
        };
        close(ticks(0.0, 0.37), &[0.0, 0.1, 0.2, 0.3, 0.4]);
        close(ticks(0.0, 10.0), &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        close(ticks(0.0, 1234.0), &[0.0, 500.0, 1000.0, 1500.0]);
        let t = ticks(3.2, 7.9);
        assert!(t[0] <= 3.2 && *t.last().unwrap() >= 7.9);
        assert_eq!(ticks(5.0, 5.0), vec![5.0]);
    }

    #[test]
    fn bars_scale_to_the_largest_interval_and_escape_labels() {
        let chart = BarChart::new(
            "Search rate by race <95% intervals>",
            vec![
                Bar {
                    label: "Black".into(),
                    value: Some(0.034),
                    interval: Some((0.030, 0.039)),
                    text: "3.4%".into(),
                },
                Bar {
                    label: "White & other".into(),
                    value: Some(0.018),
                    interval: Some((0.016, 0.020)),
                    text: "1.8%".into(),
                },
                Bar {
                    label: "Hispanic".into(),
                    value: None,
                    interval: None,
                    text: "fewer than 10".into(),
                },
            ],
            Lang::En,
        );
        let svg = chart.svg();
        well_formed(&svg);
        assert!(svg.contains("White &amp; other") && svg.contains("&lt;95% intervals&gt;"));
        assert!(svg.contains("fewer than 10"));
        assert!(svg.contains("role=\"img\""));
        // The widest whisker ends inside the plot: the axis reaches at least 0.039.
        assert!(svg.contains(">0.04<") || svg.contains(">0.05<"), "{svg}");
        // Drawn narrow, so that its text stays readable when a phone scales it down.
        assert!(svg.contains("viewBox=\"0 0 400 "), "{svg}");
    }

    #[test]
    fn wide_tick_labels_fit_left_of_the_axis() {
        let chart = LineChart::new(
            "Stops by year",
            vec![Series {
                label: "Stops".into(),
                points: vec![
                    ("2023".into(), Some(14_992.0), None),
                    ("2024".into(), Some(15_003.0), None),
                ],
            }],
            Lang::En,
        );
        let svg = chart.svg();
        well_formed(&svg);
        // "15,000" is six characters, right-aligned: its anchor leaves room for all six.
        let label = svg
            .split("<text ")
            .find(|t| t.contains(">15,000<"))
            .expect("a 15,000 tick");
        let x: f64 = label
            .split("x=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(x >= 6.0 * CHAR, "{label}");
    }

    #[test]
    fn lines_break_at_missing_points_and_draw_bands() {
        let chart = LineChart::new(
            "Trust score by month",
            vec![
                Series {
                    label: "All residents".into(),
                    points: vec![
                        ("Jan".into(), Some(6.1), Some((5.8, 6.4))),
                        ("Feb".into(), None, None),
                        ("Mar".into(), Some(6.4), Some((6.1, 6.7))),
                        ("Apr".into(), Some(6.6), Some((6.2, 7.0))),
                    ],
                },
                Series {
                    label: "Weighted".into(),
                    points: vec![
                        ("Jan".into(), Some(5.9), None),
                        ("Feb".into(), Some(f64::NAN), None),
                    ],
                },
            ],
            Lang::En,
        );
        let svg = chart.svg();
        well_formed(&svg);
        // Two pen-ups in the first series: it starts once before Feb and once after.
        let first_line = svg.split("stroke-width=\"2.5\"").next().unwrap();
        assert!(first_line.matches('M').count() >= 2);
        assert!(svg.contains("fill-opacity=\"0.15\""), "interval band drawn");
        assert!(svg.contains("All residents") && svg.contains("Weighted"));
    }

    #[test]
    fn empty_charts_are_still_valid() {
        well_formed(&BarChart::new("Nothing yet", vec![], Lang::En).svg());
        well_formed(&LineChart::new("Nothing yet", vec![], Lang::En).svg());
    }

    fn bar(label: &str, v: f64) -> Bar {
        Bar {
            label: label.into(),
            value: Some(v),
            interval: Some((0.0, v)),
            text: fmt::percent(Lang::Es, v),
        }
    }

    #[test]
    fn all_zero_says_so_in_words() {
        let zero = BarChart::new("Arrest rate", vec![bar("A", 0.0), bar("B", 0.0)], Lang::En);
        let out = zero.svg();
        assert!(!out.contains("<svg"), "{out}");
        assert!(out.contains("Every value is zero"), "{out}");
        let es = BarChart::new("Arrestos", vec![bar("A", 0.0)], Lang::Es).svg();
        assert!(es.contains("Todos los valores son cero"), "{es}");
        // One value above zero: drawn.
        let some = BarChart::new("Arrest rate", vec![bar("A", 0.0), bar("B", 0.01)], Lang::En);
        assert!(some.svg().starts_with("<svg"));
    }

    #[test]
    fn ticks_follow_the_language() {
        let mut chart = BarChart::new("x", vec![bar("A", 0.025), bar("B", 0.007)], Lang::Es);
        chart.tick_format = percent_tick;
        let svg = chart.svg();
        assert!(
            svg.contains(">1\u{a0}%<") && svg.contains(">0,7\u{a0}%<"),
            "{svg}"
        );
        assert!(!svg.contains("0.7%"), "{svg}");
        assert_eq!(percent_tick(Lang::En, 0.4), "40%");
        assert_eq!(percent_tick(Lang::En, 0.025), "2.5%");
    }
}
