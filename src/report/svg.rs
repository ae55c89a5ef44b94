//! Charts and diagrams as inline SVG, generated at build time (no scripts, fonts or CDNs):
//! stacked level bars, trend lines, a component's one-hop neighbourhood and a system's
//! dependency diagram. Every text that reaches SVG goes through [`esc`]; every link is a
//! relative page path built by the site, never catalog text.

use std::fmt::Write as _;

/// Escapes text for XML/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    if !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
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

/// Writes `s` escaped for XML/HTML content and attribute values, without allocating.
pub fn esc_to<W: std::fmt::Write + ?Sized>(out: &mut W, s: &str) -> std::fmt::Result {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&s[last..i])?;
        out.write_str(rep)?;
        last = i + 1;
    }
    out.write_str(&s[last..])
}

/// The colour of a level (index into the ladder; -1 = none).
pub fn level_color(index: i64, ladder_len: usize) -> &'static str {
    const DEFAULT: [&str; 3] = ["#b7791f", "#718096", "#d69e2e"];
    const MANY: [&str; 6] = ["#9c4221", "#b7791f", "#718096", "#d69e2e", "#2f855a", "#2b6cb0"];
    if index < 0 {
        return "#c53030";
    }
    let i = index as usize;
    if ladder_len <= 3 {
        DEFAULT[i.min(2)]
    } else {
        MANY[i.min(MANY.len() - 1)]
    }
}

/// One segment of a stacked bar.
pub struct Segment<'a> {
    pub label: &'a str,
    pub count: i64,
    pub color: &'a str,
}

/// A stacked horizontal bar of counts (e.g. components per level), each segment titled.
pub fn stacked_bar(segments: &[Segment], width: u32, height: u32) -> String {
    let total: i64 = segments.iter().map(|s| s.count).sum();
    let mut out = format!(
        "<svg class=\"bar\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        esc(&segments.iter().map(|s| format!("{} {}", s.label, s.count)).collect::<Vec<_>>().join(", "))
    );
    if total == 0 {
        let _ = write!(out, "<rect width=\"{width}\" height=\"{height}\" fill=\"#e2e8f0\"/>");
    }
    // integer pixels: each segment ends where the running share ends, so they add up
    let mut done = 0i64;
    let mut x = 0i64;
    for s in segments.iter().filter(|s| s.count > 0) {
        done += s.count;
        let end = (done as f64 / total as f64 * width as f64).round() as i64;
        let _ = write!(
            out,
            "<rect x=\"{x}\" width=\"{}\" height=\"{height}\" fill=\"{}\"><title>{}: {}</title></rect>",
            end - x,
            s.color,
            esc(s.label),
            s.count
        );
        x = end;
    }
    out.push_str("</svg>");
    out
}

/// A line of shares in 0..=1 over runs (oldest first), drawn and labelled as percentages,
/// with its points titled.
pub fn trend(points: &[(String, Option<f64>)], width: u32, height: u32) -> String {
    let (pad_l, pad_r, pad_t, pad_b) = (36.0, 8.0, 8.0, 18.0);
    let w = width as f64 - pad_l - pad_r;
    let h = height as f64 - pad_t - pad_b;
    let mut out = format!(
        "<svg class=\"trend\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"trend over {} run{}\">",
        points.len(),
        if points.len() == 1 { "" } else { "s" }
    );
    for (v, label) in [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")] {
        let y = pad_t + h - v * h;
        let _ = write!(
            out,
            "<line x1=\"{pad_l}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e2e8f0\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{label}</text>",
            pad_l + w,
            pad_l - 4.0,
            y + 3.0
        );
    }
    let n = points.len();
    let x_of = |i: usize| if n <= 1 { pad_l + w / 2.0 } else { pad_l + w * i as f64 / (n - 1) as f64 };
    let mut path = String::new();
    for (i, (_, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(path, "{}{:.1},{:.1}", if path.is_empty() { "M" } else { " L" }, x_of(i), pad_t + h - v.clamp(0.0, 1.0) * h);
        }
    }
    if !path.is_empty() {
        let _ = write!(out, "<path d=\"{path}\" fill=\"none\" stroke=\"#2b6cb0\" stroke-width=\"2\"/>");
    }
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#2b6cb0\"><title>{}: {:.0}%</title></circle>",
                x_of(i),
                pad_t + h - v.clamp(0.0, 1.0) * h,
                esc(label),
                v * 100.0
            );
        }
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(out, "<text x=\"{pad_l}\" y=\"{}\" font-size=\"10\">{}</text>", height - 4, esc(&first.0));
        if n > 1 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                pad_l + w,
                height - 4,
                esc(&last.0)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A node of a diagram.
#[derive(Debug, Clone)]
pub struct Node {
    pub label: std::rc::Rc<str>,
    /// relative page path (built by the site), if the node has a page
    pub href: Option<std::rc::Rc<str>>,
    /// css class of its level (`l0`.. or `ln`), coloured by the site's stylesheet
    pub class: &'static str,
}

/// The css class of a level in diagrams (-1 = none).
pub fn level_class(index: i64) -> &'static str {
    const C: [&str; 6] = ["l0", "l1", "l2", "l3", "l4", "l5"];
    if index < 0 {
        "ln"
    } else {
        C[(index as usize).min(5)]
    }
}

fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let s: String = label.chars().take(max - 1).collect();
        format!("{s}…")
    }
}

fn node_svg(out: &mut String, n: &Node, x: i64, y: i64, w: i64, h: i64, note: &str) {
    let body = format!(
        "<rect class=\"{}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"4\"/><text x=\"{}\" y=\"{}\">{}</text><title>{}{}</title>",
        n.class,
        x + w / 2,
        y + h / 2 + 4,
        esc(&short(&n.label, 24)),
        esc(&n.label),
        esc(note)
    );
    match &n.href {
        Some(href) => {
            let _ = write!(out, "<a href=\"{}\">{body}</a>", esc(href));
        }
        None => out.push_str(&body),
    }
}

/// A component's neighbourhood: what points at it on the left, the component in the middle,
/// what it points at on the right; edges labelled by relation.
pub fn neighbourhood(center: &Node, inbound: &[(Node, String)], outbound: &[(Node, String)]) -> String {
    let rows = inbound.len().max(outbound.len()).max(1) as i64;
    let (nw, nh, gap, gx) = (170i64, 26i64, 10i64, 60i64);
    let width = 3 * nw + 2 * gx;
    let height = rows * (nh + gap) + gap;
    let mut out = format!(
        "<svg class=\"graph\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"dependencies of {}\">",
        esc(&center.label)
    );
    let cx = nw + gx;
    let cy = height / 2 - nh / 2;
    let col_y = |i: usize, n: usize| {
        let total = n as i64 * (nh + gap) - gap;
        (height - total) / 2 + i as i64 * (nh + gap)
    };
    // the edges as one path (each node's title names its relation, and the list under the
    // diagram names them all): a line element per edge made a busy component's page heavier
    if !inbound.is_empty() || !outbound.is_empty() {
        out.push_str("<path class=\"edges\" d=\"");
        for i in 0..inbound.len() {
            let _ = write!(out, "M{nw} {}L{cx} {}", col_y(i, inbound.len()) + nh / 2, cy + nh / 2);
        }
        for i in 0..outbound.len() {
            let _ = write!(out, "M{} {}L{} {}", cx + nw, cy + nh / 2, cx + nw + gx, col_y(i, outbound.len()) + nh / 2);
        }
        out.push_str("\"/>");
    }
    for (i, (n, rel)) in inbound.iter().enumerate() {
        node_svg(&mut out, n, 0, col_y(i, inbound.len()), nw, nh, &format!(" ({rel})"));
    }
    node_svg(&mut out, center, cx, cy, nw, nh, "");
    for (i, (n, rel)) in outbound.iter().enumerate() {
        node_svg(&mut out, n, cx + nw + gx, col_y(i, outbound.len()), nw, nh, &format!(" ({rel})"));
    }
    out.push_str("</svg>");
    out
}

/// A system's components and their dependencies, in layers: a component is drawn right of
/// everything that depends on it (longest path; cycles are cut).
pub fn layered(nodes: &[Node], edges: &[(usize, usize)]) -> String {
    let n = nodes.len();
    let mut layer = vec![0usize; n];
    // longest-path layering, at most n rounds (a cycle stops growing after n)
    for _ in 0..n {
        let mut changed = false;
        for &(a, b) in edges {
            if a != b && layer[b] < layer[a] + 1 && layer[a] + 1 < n {
                layer[b] = layer[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let layers = layer.iter().copied().max().map(|m| m + 1).unwrap_or(1);
    let mut pos = vec![(0usize, 0usize); n];
    let mut per_layer = vec![0usize; layers];
    for i in 0..n {
        pos[i] = (layer[i], per_layer[layer[i]]);
        per_layer[layer[i]] += 1;
    }
    let rows = per_layer.iter().copied().max().unwrap_or(1).max(1) as i64;
    let (nw, nh, gx, gy) = (160i64, 26i64, 50i64, 10i64);
    let width = layers as i64 * (nw + gx) - gx + 2;
    let height = rows * (nh + gy) - gy + 2;
    let xy = |i: usize| (1 + pos[i].0 as i64 * (nw + gx), 1 + pos[i].1 as i64 * (nh + gy));
    let mut out = format!(
        "<svg class=\"graph\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{n} components and their dependencies\">"
    );
    let mut d = String::new();
    for &(a, b) in edges {
        if a == b {
            continue;
        }
        let (ax, ay) = xy(a);
        let (bx, by) = xy(b);
        let _ = write!(d, "M{} {}L{bx} {}", ax + nw, ay + nh / 2, by + nh / 2);
    }
    if !d.is_empty() {
        let _ = write!(out, "<path class=\"edges\" d=\"{d}\"/>");
    }
    for (i, node) in nodes.iter().enumerate() {
        let (x, y) = xy(i);
        node_svg(&mut out, node, x, y, nw, nh, "");
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_in_place_matches_escaping_to_a_string() {
        for s in ["", "plain", "<a href=\"x\">&'</a>", "é<ü>"] {
            let mut out = String::new();
            esc_to(&mut out, s).unwrap();
            assert_eq!(out, esc(s));
        }
    }

    #[test]
    fn text_in_svg_is_escaped() {
        let n = Node { label: "<script>alert(1)</script>".into(), href: Some("a\"onmouseover=\"x.html".into()), class: "l0" };
        let s = neighbourhood(&n, &[(n.clone(), "dependsOn".into())], &[]);
        assert!(!s.contains("<script>"), "{s}");
        assert!(!s.contains("\"onmouseover"), "{s}");
        let b = stacked_bar(&[Segment { label: "<b>", count: 2, color: "#111" }, Segment { label: "x", count: 0, color: "#222" }], 100, 10);
        assert!(b.contains("&lt;b&gt;: 2") && !b.contains("x: 0"), "{b}");
    }

    #[test]
    fn a_neighbourhood_draws_one_edge_per_relation_into_and_out_of_the_centre() {
        let node = |l: &str| Node { label: l.into(), href: None, class: "l0" };
        let s = neighbourhood(
            &node("c"),
            &[(node("a"), "dependencyOf".into()), (node("b"), "apiConsumedBy".into())],
            &[(node("d"), "dependsOn".into())],
        );
        let d = s.split("<path class=\"edges\" d=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
        // two rows: 82 high, the centre at y 41; inbound from x 170 to 230, outbound 400 to 460
        assert_eq!(d, "M170 23L230 41M170 59L230 41M400 41L460 41", "{s}");
        assert!(s.contains("<title>a (dependencyOf)</title>") && s.contains("<title>d (dependsOn)</title>"), "{s}");
        // no relation: no edges
        assert!(!neighbourhood(&node("c"), &[], &[]).contains("<path"));
    }

    #[test]
    fn layering_puts_dependencies_right_and_survives_cycles() {
        let nodes: Vec<Node> = (0..3).map(|i| Node { label: format!("n{i}").into(), href: None, class: "l0" }).collect();
        let s = layered(&nodes, &[(0, 1), (1, 2), (2, 0)]);
        assert!(s.contains("n0") && s.contains("n2"));
        let s = layered(&nodes, &[(0, 1), (1, 2)]);
        // three layers: width grows with them
        assert!(s.contains("viewBox=\"0 0 582 "), "{s}");
    }

    #[test]
    fn trend_scales_values_between_zero_and_one_and_labels_them_as_percentages() {
        let s = trend(&[("a".into(), Some(0.0)), ("b".into(), None), ("c".into(), Some(0.6))], 200, 60);
        // the missing run is skipped, not drawn as zero
        assert!(s.contains("M36.0,42.0 L192.0,21.6"), "{s}");
        assert!(s.contains(">100%</text>") && s.contains(">50%</text>"), "{s}");
        assert!(s.contains("<title>c: 60%</title>"), "{s}");
    }
}

/// A migration's burn-down: components left per day (oldest first), the deadline, and the
/// forecast (projected date, the band's earliest and latest dates; latest None: open-ended).
pub fn burndown(
    points: &[(chrono::NaiveDate, f64)],
    deadline: chrono::NaiveDate,
    forecast: Option<(chrono::NaiveDate, chrono::NaiveDate, Option<chrono::NaiveDate>)>,
    width: u32,
    height: u32,
) -> String {
    let (pad_l, pad_r, pad_t, pad_b) = (36.0, 12.0, 10.0, 20.0);
    let w = width as f64 - pad_l - pad_r;
    let h = height as f64 - pad_t - pad_b;
    let mut out = format!(
        "<svg class=\"burndown\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"components left over {} days, deadline {deadline}\">",
        points.len()
    );
    let Some(&(first, _)) = points.first() else {
        out.push_str("</svg>");
        return out;
    };
    let last = points.last().map(|p| p.0).unwrap_or(first);
    let mut end = deadline.max(last);
    if let Some((date, earliest, latest)) = forecast {
        end = end.max(date).max(earliest).max(latest.unwrap_or(date));
    }
    let start = first.min(deadline);
    let span = ((end - start).num_days().max(1)) as f64;
    let top = points.iter().map(|p| p.1).fold(1.0_f64, f64::max);
    let x = |d: chrono::NaiveDate| pad_l + w * (d - start).num_days() as f64 / span;
    let y = |v: f64| pad_t + h - (v / top).clamp(0.0, 1.0) * h;
    for (v, label) in [(0.0, "0".to_owned()), (top, format!("{top}"))] {
        let _ = write!(
            out,
            "<line x1=\"{pad_l}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e2e8f0\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{label}</text>",
            pad_l + w,
            y(v),
            y(v),
            pad_l - 4.0,
            y(v) + 3.0
        );
    }
    if let (Some((date, earliest, latest)), Some(&(ld, lv))) = (forecast, points.last()) {
        let band = match latest {
            Some(l) => format!("{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}", x(ld), y(lv), x(earliest), y(0.0), x(l), y(0.0)),
            None => format!(
                "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                x(ld),
                y(lv),
                x(earliest),
                y(0.0),
                pad_l + w,
                y(0.0),
                pad_l + w,
                y(lv)
            ),
        };
        let _ = write!(
            out,
            "<polygon points=\"{band}\" fill=\"#bee3f8\" opacity=\"0.6\"><title>80% band: done between {earliest} and {}</title></polygon>",
            latest.map(|l| l.to_string()).unwrap_or_else(|| "never (the slow end of the band makes no progress)".into())
        );
        let _ = write!(
            out,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#2b6cb0\" stroke-dasharray=\"4 3\"><title>projected done {date}</title></line>",
            x(ld),
            y(lv),
            x(date),
            y(0.0)
        );
    }
    let mut path = String::new();
    for (d, v) in points {
        let _ = write!(path, "{}{:.1},{:.1}", if path.is_empty() { "M" } else { " L" }, x(*d), y(*v));
    }
    let _ = write!(out, "<path d=\"{path}\" fill=\"none\" stroke=\"#2b6cb0\" stroke-width=\"2\"/>");
    for (d, v) in points {
        let _ =
            write!(out, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#2b6cb0\"><title>{d}: {v} left</title></circle>", x(*d), y(*v));
    }
    let dx = x(deadline);
    let _ = write!(
        out,
        "<line x1=\"{dx:.1}\" x2=\"{dx:.1}\" y1=\"{pad_t}\" y2=\"{:.1}\" stroke=\"#c53030\" stroke-width=\"1.5\"><title>deadline {deadline}</title></line><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#c53030\" text-anchor=\"end\">deadline</text>",
        pad_t + h,
        dx - 3.0,
        pad_t + 10.0
    );
    let _ = write!(out, "<text x=\"{pad_l}\" y=\"{}\" font-size=\"10\">{start}</text>", height - 4);
    let _ = write!(out, "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{end}</text>", pad_l + w, height - 4);
    out.push_str("</svg>");
    out
}
