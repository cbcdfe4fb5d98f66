//! The Markdown subset lessons are written in, rendered to wrapped terminal lines: headings,
//! **bold**, *italic*, `inline code`, bullet and numbered lists, fenced code blocks, pipe
//! tables and `$...$` math (shown as plain text without the dollars).
//!
//! Deliberately small: lesson prose is short, and a hand-written renderer wraps exactly to the
//! cell's width and can be tested line by line.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

/// Style of `inline code` and code blocks.
pub const CODE: Style = Style::new().fg(Color::Yellow);
const HEADING: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);

/// Renders `text` wrapped to `width` columns.
pub fn render(text: &str, width: usize) -> Vec<Line<'static>> {
    render_styled(text, width, Style::default())
}

/// Renders `text` with `base` under every span (dim hints, coloured feedback).
pub fn render_styled(text: &str, width: usize, base: Style) -> Vec<Line<'static>> {
    let width = width.max(8);
    let mut out: Vec<Line<'static>> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut Vec<Line<'static>>| {
        if !para.is_empty() {
            let joined = para.join(" ");
            out.extend(wrap(&inline(&joined, base), width, "", ""));
            para.clear();
        }
    };
    while i < lines.len() {
        let raw = lines[i];
        let line = raw.trim_end();
        let t = line.trim_start();
        if t.starts_with("```") {
            flush(&mut para, &mut out);
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                let code = lines[i].replace('\t', "    ");
                out.push(Line::from(Span::styled(
                    format!("  {code}"),
                    base.patch(CODE),
                )));
                i += 1;
            }
            i += 1; // the closing fence
            continue;
        }
        if t.is_empty() {
            flush(&mut para, &mut out);
            if out.last().is_some_and(|l| l.width() > 0) {
                out.push(Line::default());
            }
            i += 1;
            continue;
        }
        // An indented block (four spaces or a tab, not continuing a paragraph) is shown line
        // for line as written: kernels and formulas keep their rows.
        if para.is_empty() && indented(raw).is_some() {
            while i < lines.len() {
                if let Some(code) = indented(lines[i]) {
                    out.push(Line::from(Span::styled(
                        format!("  {}", code.trim_end()),
                        base.patch(CODE),
                    )));
                    i += 1;
                } else if lines[i].trim().is_empty()
                    && lines[i + 1..]
                        .iter()
                        .find(|l| !l.trim().is_empty())
                        .is_some_and(|l| indented(l).is_some())
                {
                    // A blank line inside the block, before more indented lines.
                    out.push(Line::default());
                    i += 1;
                } else {
                    break;
                }
            }
            continue;
        }
        if let Some((level, title)) = heading(t) {
            flush(&mut para, &mut out);
            let mut style = base.patch(HEADING);
            if level == 1 {
                style = style.add_modifier(Modifier::UNDERLINED);
            }
            out.extend(wrap(&inline(title, style), width, "", ""));
            i += 1;
            continue;
        }
        if t.starts_with('|') {
            flush(&mut para, &mut out);
            let start = i;
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                i += 1;
            }
            out.extend(table(&lines[start..i], width, base));
            continue;
        }
        if let Some((marker, rest)) = list_item(t) {
            flush(&mut para, &mut out);
            let indent = " ".repeat(marker.width());
            // Continuation lines indented under the item belong to it.
            let mut item = rest.to_string();
            i += 1;
            while i < lines.len() {
                let next = lines[i];
                let nt = next.trim_start();
                if !nt.is_empty()
                    && next.len() - nt.len() >= 2
                    && list_item(nt).is_none()
                    && !nt.starts_with("```")
                {
                    item.push(' ');
                    item.push_str(nt.trim_end());
                    i += 1;
                } else {
                    break;
                }
            }
            out.extend(wrap(&inline(&item, base), width, &marker, &indent));
            continue;
        }
        para.push(t);
        i += 1;
    }
    flush(&mut para, &mut out);
    while out.last().is_some_and(|l| l.width() == 0) {
        out.pop();
    }
    out
}

/// The text of an indented-block line (four spaces or a tab stripped, tabs expanded), or None
/// when the line is not indented that far or is blank.
fn indented(line: &str) -> Option<String> {
    let line = line.replace('\t', "    ");
    let rest = line.strip_prefix("    ")?;
    (!rest.trim().is_empty()).then(|| rest.to_string())
}

fn heading(t: &str) -> Option<(usize, &str)> {
    let level = t.chars().take_while(|&c| c == '#').count();
    if (1..=6).contains(&level) {
        let rest = &t[level..];
        if let Some(title) = rest.strip_prefix(' ') {
            return Some((level, title.trim()));
        }
    }
    None
}

/// `- x`, `* x` -> ("• ", x); `3. x` -> ("3. ", x).
fn list_item(t: &str) -> Option<(String, &str)> {
    if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
        return Some(("• ".to_string(), rest));
    }
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits <= 3 {
        if let Some(rest) = t[digits..].strip_prefix(". ") {
            return Some((format!("{}. ", &t[..digits]), rest));
        }
    }
    None
}

/// Inline markup to styled pieces.
pub fn inline(text: &str, base: Style) -> Vec<(String, Style)> {
    let mut out: Vec<(String, Style)> = Vec::new();
    let mut cur = String::new();
    let (mut bold, mut italic) = (false, false);
    let style = |bold: bool, italic: bool| {
        let mut s = base;
        if bold {
            s = s.add_modifier(Modifier::BOLD);
        }
        if italic {
            s = s.add_modifier(Modifier::ITALIC);
        }
        s
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let push = |out: &mut Vec<(String, Style)>, cur: &mut String, s: Style| {
        if !cur.is_empty() {
            out.push((std::mem::take(cur), s));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() && "\\`*_$#|".contains(chars[i + 1]) => {
                cur.push(chars[i + 1]);
                i += 2;
            }
            '`' => {
                if let Some(end) = find(&chars, i + 1, &['`']) {
                    push(&mut out, &mut cur, style(bold, italic));
                    let code: String = chars[i + 1..end].iter().collect();
                    out.push((code, style(bold, italic).patch(CODE)));
                    i = end + 1;
                } else {
                    cur.push(c);
                    i += 1;
                }
            }
            '$' => {
                // Math is shown as written, minus the dollars: `$o = (i - k)/s + 1$`.
                if let Some(end) = find(&chars, i + 1, &['$']).filter(|&e| e > i + 1) {
                    push(&mut out, &mut cur, style(bold, italic));
                    let math: String = chars[i + 1..end].iter().collect();
                    out.push((math, style(bold, italic)));
                    i = end + 1;
                } else {
                    cur.push(c);
                    i += 1;
                }
            }
            // Emphasis only where it is closed later, so a lone `*` (2 * 3) stays as typed.
            '*' if chars.get(i + 1) == Some(&'*') && (bold || closes(&chars, i + 2, true)) => {
                push(&mut out, &mut cur, style(bold, italic));
                bold = !bold;
                i += 2;
            }
            '*' if chars.get(i + 1) != Some(&'*')
                && (italic
                    || (chars.get(i + 1).is_some_and(|n| !n.is_whitespace())
                        && closes(&chars, i + 1, false))) =>
            {
                push(&mut out, &mut cur, style(bold, italic));
                italic = !italic;
                i += 1;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    push(&mut out, &mut cur, style(bold, italic));
    out
}

/// Whether a closing `**` (`double`) or single `*` follows `from`.
fn closes(chars: &[char], from: usize, double: bool) -> bool {
    let mut j = from;
    while j < chars.len() {
        if chars[j] == '*' {
            let pair = chars.get(j + 1) == Some(&'*');
            if double == pair {
                return true;
            }
            j += if pair { 2 } else { 1 };
        } else {
            j += 1;
        }
    }
    false
}

fn find(chars: &[char], from: usize, what: &[char]) -> Option<usize> {
    (from..chars.len()).find(|&j| what.contains(&chars[j]))
}

/// Word-wraps styled pieces to `width`, the first line after `first`, the rest after `indent`.
pub fn wrap(
    pieces: &[(String, Style)],
    width: usize,
    first: &str,
    indent: &str,
) -> Vec<Line<'static>> {
    // Words keep their style; a space between words takes the style of what precedes it.
    let mut words: Vec<(String, Style, bool)> = Vec::new();
    let mut space = false;
    for (text, style) in pieces {
        let mut word = String::new();
        for c in text.chars() {
            // A no-break space (which Rust counts as whitespace) holds words together.
            if c.is_whitespace() && c != '\u{a0}' {
                if !word.is_empty() {
                    words.push((std::mem::take(&mut word), *style, space));
                }
                space = true;
            } else {
                word.push(c);
            }
        }
        if !word.is_empty() {
            words.push((word, *style, space));
            space = false;
        }
    }
    let mut lines = Vec::new();
    let mut spans: Vec<Span<'static>> = vec![Span::raw(first.to_string())];
    let mut used = first.width();
    let mut empty = true;
    let newline =
        |spans: &mut Vec<Span<'static>>, used: &mut usize, lines: &mut Vec<Line<'static>>| {
            lines.push(Line::from(merge(std::mem::take(spans))));
            spans.push(Span::raw(indent.to_string()));
            *used = indent.width();
        };
    for (word, style, space_before) in words {
        let word = word.replace('\u{a0}', " ");
        let w = word.width();
        let gap = usize::from(space_before && !empty);
        if !empty && used + gap + w > width {
            newline(&mut spans, &mut used, &mut lines);
        } else if gap == 1 {
            spans.push(Span::raw(" "));
            used += 1;
        }
        if used + w <= width {
            spans.push(Span::styled(word, style));
            used += w;
        } else {
            // A word longer than the line: break it by character.
            for c in word.chars() {
                let cw = c.to_string().width();
                if used + cw > width && used > indent.width() {
                    newline(&mut spans, &mut used, &mut lines);
                }
                spans.push(Span::styled(c.to_string(), style));
                used += cw;
            }
        }
        empty = false;
    }
    lines.push(Line::from(merge(spans)));
    lines
}

/// Joins neighbouring spans of the same style (fewer, longer spans render the same).
fn merge(spans: Vec<Span<'static>>) -> Vec<Span<'static>> {
    let mut out: Vec<Span<'static>> = Vec::new();
    for s in spans {
        if s.content.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.style == s.style => {
                last.content = format!("{}{}", last.content, s.content).into();
            }
            _ => out.push(s),
        }
    }
    out
}

/// A pipe table with aligned columns; a separator row (`|---|`) is drawn as a rule.
fn table(rows: &[&str], width: usize, base: Style) -> Vec<Line<'static>> {
    let parsed: Vec<Option<Vec<String>>> = rows
        .iter()
        .map(|r| {
            let r = r.trim();
            let inner = r.strip_prefix('|').unwrap_or(r);
            let inner = inner.strip_suffix('|').unwrap_or(inner);
            let cells: Vec<String> = inner.split('|').map(|c| c.trim().to_string()).collect();
            let is_rule = cells
                .iter()
                .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')));
            (!is_rule).then_some(cells)
        })
        .collect();
    let ncols = parsed.iter().flatten().map(Vec::len).max().unwrap_or(0);
    let plain = |c: &str| -> String { inline(c, base).into_iter().map(|(t, _)| t).collect() };
    let mut widths = vec![0usize; ncols];
    for row in parsed.iter().flatten() {
        for (j, c) in row.iter().enumerate() {
            widths[j] = widths[j].max(plain(c).width());
        }
    }
    let header_done = parsed.iter().skip(1).any(Option::is_none);
    let mut out = Vec::new();
    for (r, row) in parsed.iter().enumerate() {
        let Some(row) = row else {
            let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
            out.push(Line::styled(
                clip(&rule.join("─┼─"), width),
                base.fg(Color::DarkGray),
            ));
            continue;
        };
        let mut spans = Vec::new();
        for (j, w) in widths.iter().enumerate() {
            if j > 0 {
                spans.push(Span::styled(" │ ", base.fg(Color::DarkGray)));
            }
            let cell = row.get(j).map(String::as_str).unwrap_or("");
            let mut pieces = inline(cell, base);
            if r == 0 && header_done {
                for p in &mut pieces {
                    p.1 = p.1.add_modifier(Modifier::BOLD);
                }
            }
            let cw: usize = pieces.iter().map(|p| p.0.width()).sum();
            for (t, s) in pieces {
                spans.push(Span::styled(t, s));
            }
            spans.push(Span::raw(" ".repeat(w.saturating_sub(cw))));
        }
        let mut line = Line::from(merge(spans));
        if line.width() > width {
            line = truncate_line(line, width);
        }
        out.push(line);
    }
    out
}

fn clip(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.to_string().width();
        if used + w > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out
}

/// Cuts a line to `width` columns, ending in `…` when something was cut.
pub fn truncate_line(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut spans = Vec::new();
    let mut used = 0;
    let budget = width.saturating_sub(1);
    for s in line.spans {
        let w = s.content.width();
        if used + w <= budget {
            used += w;
            spans.push(s);
        } else {
            let part = clip(&s.content, budget - used);
            spans.push(Span::styled(part, s.style));
            break;
        }
    }
    spans.push(Span::styled("…", Style::new().fg(Color::DarkGray)));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn style_of(lines: &[Line], word: &str) -> Style {
        lines
            .iter()
            .flat_map(|l| l.spans.iter())
            .find(|s| s.content.contains(word))
            .unwrap_or_else(|| panic!("no span with {word}"))
            .style
    }

    #[test]
    fn no_break_spaces_hold_words_together() {
        let l = wrap(&[("aaa b\u{a0}=\u{a0}1".into(), Style::new())], 8, "", "");
        assert_eq!(text(&l), ["aaa", "b = 1"]);
    }

    #[test]
    fn unclosed_stars_stay_as_typed() {
        let l = render("2 * 3 and a*b and **bold", 80);
        assert_eq!(text(&l), ["2 * 3 and a*b and **bold"]);
        assert!(l[0].spans.iter().all(|s| s.style == Style::default()));
        let l = render("**bold *both* bold** plain", 80);
        assert_eq!(text(&l), ["bold both bold plain"]);
        let both = style_of(&l, "both").add_modifier;
        assert!(both.contains(Modifier::BOLD) && both.contains(Modifier::ITALIC));
        assert!(!style_of(&l, "plain").add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn paragraphs_wrap_to_width() {
        let l = render("one two three four five six seven", 14);
        assert_eq!(text(&l), ["one two three", "four five six", "seven"]);
        assert!(l.iter().all(|l| l.width() <= 14));
    }

    #[test]
    fn inline_styles() {
        let l = render("a **bold** and *it* with `code` and $o = i - k + 1$", 80);
        assert_eq!(text(&l), ["a bold and it with code and o = i - k + 1"]);
        assert!(style_of(&l, "bold").add_modifier.contains(Modifier::BOLD));
        assert!(style_of(&l, "it").add_modifier.contains(Modifier::ITALIC));
        assert_eq!(style_of(&l, "code").fg, Some(Color::Yellow));
    }

    #[test]
    fn headings_lists_and_code_blocks() {
        let md = "# Title\n\nSome text.\n\n- first item that wraps around\n- second\n1. one\n2. two\n\n```\nlet x = 1;\n```";
        let l = render(md, 20);
        assert_eq!(
            text(&l),
            [
                "Title",
                "",
                "Some text.",
                "",
                "• first item that",
                "  wraps around",
                "• second",
                "1. one",
                "2. two",
                "",
                "  let x = 1;"
            ]
        );
        assert!(style_of(&l, "Title").add_modifier.contains(Modifier::BOLD));
        assert_eq!(style_of(&l, "let x").fg, Some(Color::Yellow));
    }

    #[test]
    fn pipe_tables_align_columns() {
        let md = "| layer | out |\n|---|---|\n| conv1 | 55 |\n| pool | 27 |";
        let l = render(md, 40);
        assert_eq!(
            text(&l),
            ["layer │ out", "──────┼────", "conv1 │ 55 ", "pool  │ 27 "]
        );
        assert!(style_of(&l, "layer").add_modifier.contains(Modifier::BOLD));
    }

    /// Issue 12, item 1: an indented block keeps its lines (lesson 1's Sobel kernel).
    #[test]
    fn indented_blocks_keep_their_lines() {
        let md = "The kernel is\n\n    -1  0  1\n    -2  0  2\n\n    -1  0  1\n\nafter\n    joined";
        let l = render(md, 40);
        assert_eq!(
            text(&l),
            [
                "The kernel is",
                "",
                "  -1  0  1",
                "  -2  0  2",
                "",
                "  -1  0  1",
                "",
                "after joined"
            ]
        );
        assert_eq!(style_of(&l, "-2").fg, Some(Color::Yellow));
        // A list item's indented continuation still belongs to the item.
        let l = render("- item\n    more", 40);
        assert_eq!(text(&l), ["• item more"]);
    }

    #[test]
    fn long_words_break_and_nothing_exceeds_width() {
        let l = render("abcdefghijklmnopqrstuvwxyz", 10);
        assert!(l.iter().all(|l| l.width() <= 10), "{:?}", text(&l));
        assert_eq!(text(&l).concat(), "abcdefghijklmnopqrstuvwxyz");
    }
}
