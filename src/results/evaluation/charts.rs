//! The evaluation page's SVG charts: log-log latency curves and bar charts, drawn without scripts.

use super::*;

/// A store's colour and name, and its (throughput, p99) and (throughput, p50) points.
pub type Curve<'a> = (&'a str, &'a str, Vec<(f64, f64)>, Vec<(f64, f64)>);

const CW: f64 = 420.0;
const CH: f64 = 260.0;
const CL: f64 = 52.0;
const CB: f64 = 34.0;
const CT: f64 = 22.0;

/// Powers of ten spanning [lo, hi] (at least one decade).
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let a = lo.max(1e-6).log10().floor();
    let mut b = hi.max(1e-6).log10().ceil();
    if b <= a {
        b = a + 1.0;
    }
    (a, b)
}

/// A log-log chart: per store, p99 points joined by a solid line and p50 by a dashed one; a
/// horizontal line at `bound` ms.
pub fn loglog_chart(title: &str, lines: &[Curve], bound: f64) -> String {
    let pts = lines
        .iter()
        .flat_map(|(_, _, a, b)| a.iter().chain(b.iter()));
    let (xs, ys): (Vec<f64>, Vec<f64>) = pts.filter(|(x, y)| *x > 0.0 && *y > 0.0).copied().unzip();
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CW}\" height=\"{CH}\" viewBox=\"0 0 {CW} {CH}\" role=\"img\">\
         <text x=\"{CL}\" y=\"14\" font-size=\"12\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    if xs.is_empty() {
        s.push_str("<text x=\"60\" y=\"120\" font-size=\"11\">no data</text></svg>\n");
        return s;
    }
    let (x0, x1) = decades(
        xs.iter().copied().fold(f64::MAX, f64::min),
        xs.iter().copied().fold(0.0, f64::max),
    );
    let (y0, y1) = decades(
        ys.iter().copied().fold(f64::MAX, f64::min).min(bound),
        ys.iter().copied().fold(0.0, f64::max).max(bound),
    );
    let px = |x: f64| CL + (x.log10() - x0) / (x1 - x0) * (CW - CL - 24.0);
    let py = |y: f64| (CH - CB) - (y.log10() - y0) / (y1 - y0) * (CH - CB - CT);
    for d in (x0 as i32)..=(x1 as i32) {
        let x = px(10f64.powi(d));
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{CT}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            CH - CB,
            CH - CB + 13.0,
            number(10f64.powi(d))
        );
    }
    for d in (y0 as i32)..=(y1 as i32) {
        let y = py(10f64.powi(d));
        let _ = write!(
            s,
            "<line x1=\"{CL}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            CW - 10.0,
            CL - 4.0,
            y + 3.0,
            number(10f64.powi(d))
        );
    }
    let yb = py(bound);
    let _ = write!(
        s,
        "<line x1=\"{CL}\" y1=\"{yb:.1}\" x2=\"{}\" y2=\"{yb:.1}\" stroke=\"#b00\" stroke-dasharray=\"2,3\"/>\
         <text x=\"{}\" y=\"{:.1}\" font-size=\"9\" fill=\"#b00\" text-anchor=\"end\">p99 bound</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">queries/s completed</text>\
         <text x=\"12\" y=\"{}\" font-size=\"10\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">latency ms</text>",
        CW - 10.0,
        CW - 12.0,
        yb - 3.0,
        (CL + CW) / 2.0,
        CH - 6.0,
        (CH - CB + CT) / 2.0,
        (CH - CB + CT) / 2.0
    );
    for (k, (c, name, _, _)) in lines.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"14\" font-size=\"10\" fill=\"{c}\" text-anchor=\"end\">{}</text>",
            CW - 12.0 - 78.0 * (lines.len() - 1 - k) as f64,
            esc(name)
        );
    }
    for (c, _, p99, p50) in lines {
        for (pts, dash, r) in [(p99, "", 3.0), (p50, " stroke-dasharray=\"4,3\"", 2.0)] {
            let path: Vec<String> = pts
                .iter()
                .filter(|(x, y)| *x > 0.0 && *y > 0.0)
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
            if path.is_empty() {
                continue;
            }
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.6\"{dash} points=\"{}\"/>",
                path.join(" ")
            );
            for p in &path {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(s, "<circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"{c}\"/>");
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Grouped bars: one group per distinct first field (in order of appearance), one bar per store.
pub fn bar_chart(
    title: &str,
    bars: &[(String, String, f64)],
    stores: &[String],
    log: bool,
) -> String {
    let mut groups: Vec<&str> = Vec::new();
    for (g, _, _) in bars {
        if !groups.contains(&g.as_str()) {
            groups.push(g);
        }
    }
    let w = (CL + 20.0 + groups.len() as f64 * (stores.len() as f64 * 16.0 + 24.0)).max(440.0);
    let h = 240.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h}\" viewBox=\"0 0 {w:.0} {h}\" role=\"img\">\
         <text x=\"{CL}\" y=\"14\" font-size=\"12\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    let vals: Vec<f64> = bars.iter().map(|b| b.2).filter(|v| *v > 0.0).collect();
    if vals.is_empty() {
        s.push_str("</svg>\n");
        return s;
    }
    let top = vals.iter().copied().fold(0.0, f64::max);
    let bottom = h - 60.0;
    let (y0, y1) = if log {
        decades(vals.iter().copied().fold(f64::MAX, f64::min), top)
    } else {
        (0.0, top * 1.08)
    };
    let py = |v: f64| {
        let f = if log {
            (v.max(10f64.powf(y0)).log10() - y0) / (y1 - y0)
        } else {
            v / y1
        };
        bottom - f * (bottom - CT)
    };
    let ticks: Vec<f64> = if log {
        ((y0 as i32)..=(y1 as i32)).map(|d| 10f64.powi(d)).collect()
    } else {
        (0..=4).map(|i| y1 / 4.0 * i as f64).collect()
    };
    for t in ticks {
        let y = py(t);
        let _ = write!(
            s,
            "<line x1=\"{CL}\" y1=\"{y:.1}\" x2=\"{:.0}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            w - 6.0,
            CL - 4.0,
            y + 3.0,
            number(t)
        );
    }
    let mut x = CL + 12.0;
    for g in &groups {
        let start = x;
        for st in stores {
            if let Some((_, _, v)) = bars.iter().find(|(gg, ss, _)| gg == g && ss == st) {
                let y = py(*v);
                let _ = write!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"14\" height=\"{:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                    (bottom - y).max(0.5),
                    color(st),
                    esc(g),
                    esc(st),
                    plain(*v)
                );
            }
            x += 16.0;
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" transform=\"rotate(-35 {:.1} {:.1})\">{}</text>",
            (start + x) / 2.0,
            bottom + 14.0,
            (start + x) / 2.0,
            bottom + 14.0,
            esc(g)
        );
        x += 24.0;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::evaluation::has_tag;

    #[test]
    fn series_tags_match_exactly() {
        assert!(has_tag("m{query:a,scenario:alone}", "scenario:alone"));
        assert!(!has_tag("m{query:a,scenario:alone2}", "scenario:alone"));
        assert!(!has_tag("m", "scenario:alone"));
    }

    #[test]
    fn log_axes_span_whole_decades() {
        assert_eq!(decades(3.0, 40.0), (0.0, 2.0));
        assert_eq!(decades(100.0, 100.0), (2.0, 3.0));
        let svg = loglog_chart(
            "q",
            &[("#000", "s", vec![(1.0, 10.0), (100.0, 1000.0)], vec![])],
            1000.0,
        );
        // x = 1 at the left edge, 100 at the right; y = 10 at the bottom, 1000 at the top.
        assert!(svg.contains(&format!("{:.1},{:.1}", CL, CH - CB)), "{svg}");
        assert!(
            svg.contains(&format!("{:.1},{:.1}", CW - 24.0, CT)),
            "{svg}"
        );
    }
}
