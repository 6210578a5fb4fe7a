//! The take sheet (`take.html` in the take folder): what a recipient opens first. Every
//! file's waveform overview on one shared time axis with the take's markers (drawn as SVG
//! with `plotters`), the loudness and checks table, and the take's own findings. One
//! self-contained file: no scripts, no fonts or images to fetch.

use crate::checks::{Level, TakeReport};
use crate::take::Take;
use plotters::prelude::*;
use std::fmt::Write;

/// Width and height of one waveform lane, in CSS pixels.
const LANE: (u32, u32) = (900, 56);

/// Escape text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn level_class(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Warn => "warn",
        Level::Fail => "fail",
    }
}

/// One file's overview as an SVG lane: the min/max envelope as one filled shape, the
/// markers as lines.
fn lane_svg(overview: &[(f32, f32)], markers: &[f64], colour: RGBColor) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, LANE).into_drawing_area();
        let n = overview.len().max(1) as f64;
        let (w, h) = (LANE.0 as f64, LANE.1 as f64);
        let y = |v: f32| ((1.0 - v.clamp(-1.0, 1.0) as f64) * 0.5 * (h - 2.0) + 1.0) as i32;
        let x = |i: f64| (i / n * w) as i32;
        // Centre line, then the envelope: the maxima left to right, the minima back.
        let _ = root.draw(&PathElement::new(
            vec![(0, (h / 2.0) as i32), (w as i32, (h / 2.0) as i32)],
            RGBColor(210, 214, 220).stroke_width(1),
        ));
        let mut points: Vec<(i32, i32)> = overview
            .iter()
            .enumerate()
            .map(|(i, b)| (x(i as f64 + 0.5), y(b.1)))
            .collect();
        points.extend(
            overview
                .iter()
                .enumerate()
                .rev()
                .map(|(i, b)| (x(i as f64 + 0.5), y(b.0))),
        );
        if points.len() > 2 {
            let _ = root.draw(&Polygon::new(points, colour.filled()));
        }
        for &m in markers {
            let mx = (m * w) as i32;
            let _ = root.draw(&PathElement::new(
                vec![(mx, 0), (mx, h as i32)],
                RGBColor(230, 120, 20).stroke_width(2),
            ));
        }
        let _ = root.present();
    }
    svg
}

/// The shared time axis: a tick every "nice" number of seconds.
fn axis_html(seconds: f64) -> String {
    let step = [
        0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ]
    .into_iter()
    .find(|s| seconds / s <= 12.0)
    .unwrap_or(1200.0);
    let mut out = String::from("<div class=\"axis\">");
    let mut t = 0.0;
    while t <= seconds + 1e-9 && seconds > 0.0 {
        let left = t / seconds * 100.0;
        let label = if step < 1.0 {
            format!("{t:.2} s")
        } else if t >= 60.0 {
            format!("{}:{:02}", (t / 60.0) as u64, (t % 60.0) as u64)
        } else {
            format!("{t:.0} s")
        };
        let _ = write!(out, "<span style=\"left:{left:.3}%\">{label}</span>");
        t += step;
    }
    out.push_str("</div>");
    out
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f7;color:#1d232b}
header{background:#1d232b;color:#fff;padding:20px 32px}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header .facts{opacity:.8}
main{padding:20px 32px;max-width:1240px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin-bottom:18px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
h2{font-size:15px;margin:0 0 12px;text-transform:uppercase;letter-spacing:.04em;color:#5a6573}
.lane{display:grid;grid-template-columns:260px 900px;align-items:center;border-bottom:1px solid #eef0f3}
.lane .name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding-right:12px}
.lane .role{display:block;font-weight:400;font-size:12px;color:#6b7684}
.axis{position:relative;height:20px;margin-left:260px;width:900px;font-size:11px;color:#6b7684}
.axis span{position:absolute;transform:translateX(-50%)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600}
.ok{background:#dff3e4;color:#1d6b33}.warn{background:#fff1d6;color:#8a5a00}.fail{background:#fde1df;color:#a3221a}
ul{margin:4px 0;padding-left:18px}
.verdict{font-size:15px;margin-top:8px}
";

/// The take sheet as one HTML document.
pub fn take_sheet(take: &Take, report: &TakeReport) -> String {
    let m = &take.manifest;
    let rate = m.sample_rate.max(1) as f64;
    let seconds = m.length_frames as f64 / rate;
    let length = m.length_frames.max(1) as f64;
    let markers: Vec<f64> = report.markers.iter().map(|&f| f as f64 / length).collect();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&report.take)
    );
    let tempo = m
        .tempo_bpm
        .map(|t| format!(" · {t:.1} BPM"))
        .unwrap_or_default();
    let meter = m
        .time_signature
        .map(|[n, d]| format!(" · {n}/{d}"))
        .unwrap_or_default();
    let _ = write!(
        html,
        "<header><h1>{}</h1><div class=\"facts\">{} files · {:.2} s · {} Hz · {:?}{tempo}{meter} · starts at {} ({:.3} s){}</div></header><main>",
        esc(&report.take),
        m.files.len(),
        seconds,
        m.sample_rate,
        m.sample_format,
        m.start_bar_beat.as_deref().map(esc).unwrap_or_else(|| format!("sample {}", m.start_sample)),
        m.start_seconds,
        if m.complete { "" } else { " · <b>incomplete</b>" },
    );
    // Waveforms.
    html.push_str("<section><h2>Files</h2>");
    for f in &report.files {
        let colour = match f.role {
            stemtap_engine::settings::Role::Stem => RGBColor(52, 110, 200),
            stemtap_engine::settings::Role::Multitrack => RGBColor(40, 150, 120),
            stemtap_engine::settings::Role::Mix => RGBColor(120, 80, 190),
        };
        let svg = f
            .analysis
            .as_ref()
            .map(|a| lane_svg(&a.overview, &markers, colour))
            .unwrap_or_default();
        let _ = write!(
            html,
            "<div class=\"lane\"><div class=\"name\" title=\"{0}\">{0}<span class=\"role\">{1} · {2}</span></div><div>{svg}</div></div>",
            esc(&f.stem_name),
            f.role.label(),
            esc(&f.path),
        );
    }
    html.push_str(&axis_html(seconds));
    html.push_str("</section>");
    // Markers.
    if m.segments.len() > 1 {
        html.push_str("<section><h2>Markers</h2><table><tr><th>at</th><th>timeline</th><th>song position</th></tr>");
        for s in &m.segments {
            let _ = write!(
                html,
                "<tr><td class=\"n\">{:.3} s</td><td>{:?}</td><td>{}</td></tr>",
                s.frame as f64 / rate,
                s.timeline,
                s.start_bar_beat
                    .clone()
                    .unwrap_or_else(|| format!("{:.3} s", s.start_seconds)),
            );
        }
        html.push_str("</table></section>");
    }
    // Checks.
    html.push_str("<section><h2>Loudness and checks</h2><table><tr><th>file</th><th>ch</th><th>peak dBFS</th><th>true peak dBTP</th><th>LUFS</th><th>LRA</th><th>verdict</th><th>notes</th></tr>");
    let num = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.1}"));
    for f in &report.files {
        let a = f.analysis.as_ref();
        let notes: String = f
            .findings
            .iter()
            .filter(|x| x.level > Level::Ok)
            .map(|x| format!("<li>{}</li>", esc(&x.message)))
            .collect();
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><span class=\"badge {}\">{}</span></td><td><ul>{notes}</ul></td></tr>",
            esc(&f.path),
            a.map_or("–".into(), |a| a.channels.to_string()),
            num(a.and_then(|a| a.sample_peak_dbfs)),
            num(a.and_then(|a| a.true_peak_dbtp)),
            num(a.and_then(|a| a.integrated_lufs)),
            num(a.and_then(|a| a.loudness_range_lu)),
            level_class(f.verdict),
            f.verdict.word(),
        );
    }
    html.push_str("</table></section><section><h2>The take</h2><ul>");
    for x in &report.take_findings {
        let _ = write!(
            html,
            "<li><span class=\"badge {}\">{}</span> {}</li>",
            level_class(x.level),
            x.level.word(),
            esc(&x.message)
        );
    }
    let _ = write!(
        html,
        "</ul><div class=\"verdict\">Verdict: <span class=\"badge {}\">{}</span></div></section>",
        level_class(report.verdict),
        report.verdict.word()
    );
    let _ = write!(
        html,
        "<p style=\"color:#6b7684\">{} · checked by StemTap {}</p></main></body></html>",
        esc(&m.generator),
        env!("CARGO_PKG_VERSION")
    );
    html
}
