//! The self-contained HTML report: the same figures as the terminal table plus charts drawn
//! as inline SVG (latency percentiles over time, throughput, connections, generator CPU). No
//! scripts, no external styles or fonts, so the file can be mailed or archived as it is.

use std::fmt::Write;

use crate::report::{Latency, Report};

/// Chart size in SVG user units.
const W: f64 = 760.0;
const H: f64 = 220.0;
const PAD_L: f64 = 64.0;
const PAD_R: f64 = 16.0;
const PAD_T: f64 = 28.0;
const PAD_B: f64 = 30.0;

/// One line of a chart.
struct Series<'a> {
    label: &'a str,
    color: &'a str,
    points: Vec<(f64, f64)>,
}

/// Renders `r` as one HTML document.
pub fn render(r: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name} — lyceum-loadtest</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}}\
         table{{border-collapse:collapse;margin:8px 0 20px}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}\
         th{{background:#f4f4f4}}.fail{{color:#b00020;font-weight:bold}}.pass{{color:#1b7f3b;font-weight:bold}}\
         .note{{background:#fff6d6;padding:6px 10px;border-left:4px solid #e0b000;margin:4px 0}}svg{{display:block;margin:8px 0 20px}}</style>\
         </head><body><h1>{name}</h1><p>{desc}</p><p>run <code>{id}</code> against {targets}</p>",
        name = esc(&r.scenario),
        desc = esc(&r.description),
        id = esc(&r.run_id),
        targets = esc(&r.targets.join(", ")),
    );
    for n in &r.notes {
        let _ = write!(o, "<div class=\"note\">{}</div>", esc(n));
    }
    let verdict = if r.passed {
        "<span class=\"pass\">PASSED</span>"
    } else {
        "<span class=\"fail\">FAILED</span>"
    };
    let _ = write!(o, "<h2>Result: {verdict}</h2>");
    if !r.thresholds.is_empty() {
        o.push_str("<table><tr><th>threshold</th><th>limit</th><th>measured</th><th></th></tr>");
        for c in &r.thresholds {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&c.name),
                c.limit,
                c.actual.map_or("nothing".into(), |a| format!("{a:.6}")),
                if c.passed { "pass" } else { "fail" },
                if c.passed { "pass" } else { "fail" },
            );
        }
        o.push_str("</table>");
    }

    o.push_str("<h2>Summary</h2><table>");
    for line in r.table().lines().skip(1) {
        if let Some((k, v)) = line.trim_start().split_once("  ") {
            let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v.trim()));
        }
    }
    o.push_str("</table>");

    o.push_str("<h2>Latency</h2><table><tr><th>what</th><th>n</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max (ms)</th></tr>");
    let mut lat_row = |name: &str, l: &Latency| {
        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            l.count,
            f(l.p50_ms),
            f(l.p90_ms),
            f(l.p99_ms),
            f(l.p999_ms),
            f(l.max_ms)
        );
    };
    lat_row("delivery (all phases)", &r.delivery.latency);
    for p in &r.phases {
        lat_row(&format!("delivery, phase {}", p.name), &p.delivery);
    }
    lat_row("ack", &r.commands.ack);
    lat_row("connect", &r.connections.connect);
    lat_row("join", &r.connections.join);
    lat_row("drop → recovered", &r.recovery.latency);
    lat_row("generator send lag", &r.generator.send_lag);
    o.push_str("</table>");

    let t = &r.timeline;
    let pick = |f: fn(&crate::metrics::Sample) -> Option<f64>| -> Vec<(f64, f64)> {
        t.iter().filter_map(|s| f(s).map(|v| (s.t, v))).collect()
    };
    o.push_str("<h2>Over time</h2>");
    o.push_str(&chart(
        "Delivery latency (ms, per second)",
        &[
            Series {
                label: "p50",
                color: "#1f77b4",
                points: pick(|s| s.p50_ms),
            },
            Series {
                label: "p99",
                color: "#ff7f0e",
                points: pick(|s| s.p99_ms),
            },
            Series {
                label: "p99.9",
                color: "#d62728",
                points: pick(|s| s.p999_ms),
            },
        ],
    ));
    o.push_str(&chart(
        "Throughput (per second)",
        &[
            Series {
                label: "events received",
                color: "#2ca02c",
                points: pick(|s| Some(s.events_per_s)),
            },
            Series {
                label: "frames sent",
                color: "#9467bd",
                points: pick(|s| Some(s.frames_out_per_s)),
            },
            Series {
                label: "errors",
                color: "#d62728",
                points: pick(|s| Some(s.errors_per_s)),
            },
        ],
    ));
    o.push_str(&chart(
        "Connections",
        &[
            Series {
                label: "open",
                color: "#1f77b4",
                points: pick(|s| Some(s.open as f64)),
            },
            Series {
                label: "established/s",
                color: "#2ca02c",
                points: pick(|s| Some(s.connects_per_s)),
            },
        ],
    ));
    o.push_str(&chart(
        "CPU (cores)",
        &[
            Series {
                label: "generator",
                color: "#8c564b",
                points: pick(|s| Some(s.cpu_cores)),
            },
            Series {
                label: "machine",
                color: "#7f7f7f",
                points: pick(|s| s.machine_cpu_cores),
            },
        ],
    ));
    o.push_str(&chart(
        "CPU pressure (% of time runnable work waited for a CPU)",
        &[Series {
            label: "PSI some avg10",
            color: "#d62728",
            points: pick(|s| s.cpu_pressure_pct),
        }],
    ));

    if !r.delivery.rooms.is_empty() {
        o.push_str("<h2>Rooms</h2><table><tr><th>room</th><th>expected</th><th>delivered</th><th>lost</th><th>loss ratio</th><th>duplicates</th><th>out of order</th><th>unrecovered</th></tr>");
        for room in &r.delivery.rooms {
            let tl = &room.tally;
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.6}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&room.room),
                tl.expected,
                tl.delivered,
                tl.lost,
                room.loss_ratio,
                tl.duplicates,
                tl.out_of_order,
                tl.unrecovered
            );
        }
        o.push_str("</table>");
    }
    o.push_str("</body></html>\n");
    o
}

/// A line chart of `series` over time, with axes, five value ticks and a legend.
fn chart(title: &str, series: &[Series<'_>]) -> String {
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_max = nice(all.map(|p| p.1).fold(0.0, f64::max));
    let x = |v: f64| PAD_L + v / x_max * (W - PAD_L - PAD_R);
    let y = |v: f64| H - PAD_B - v / y_max * (H - PAD_T - PAD_B);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"{PAD_L}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{t}</text>",
        t = esc(title)
    );
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let yy = y(v);
        let _ = write!(
            o,
            "<line x1=\"{PAD_L}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#e5e5e5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            W - PAD_R,
            PAD_L - 6.0,
            yy + 4.0,
            short(v)
        );
    }
    for i in 0..=5 {
        let v = x_max * f64::from(i) / 5.0;
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{:.0}s</text>",
            x(v),
            H - 10.0,
            v
        );
    }
    let _ = write!(
        o,
        "<line x1=\"{PAD_L}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>",
        H - PAD_B,
        W - PAD_R,
        H - PAD_B
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        if !pts.is_empty() {
            let _ = write!(
                o,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" points=\"{}\"/>",
                s.color,
                pts.join(" ")
            );
        }
        let lx = W - PAD_R - 130.0 * (series.len() - i) as f64;
        let _ = write!(
            o,
            "<rect x=\"{lx:.1}\" y=\"8\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"17\" font-size=\"11\">{}</text>",
            s.color,
            lx + 14.0,
            esc(s.label)
        );
    }
    o.push_str("</svg>");
    o
}

/// A round axis maximum at or above `v`.
fn nice(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// A compact tick label.
fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Escapes text for HTML content and attributes.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_and_text_is_escaped() {
        assert_eq!(nice(7.3), 10.0);
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(230.0), 250.0);
        assert_eq!(esc("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
    }
}
