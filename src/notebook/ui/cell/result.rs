//! A run's state and outputs as cell pieces: the status line or progress bar, text wrapped
//! for a monospace screen, tables, and the pictures, charts and matrices an experiment shows.
//! Run cells and exercise cells both show their run this way.

use std::time::Duration;

use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::style::{ACCENT, DIM, ERROR, WARN};
use super::view::Piece;
use crate::notebook::app::{RunResult, RunStatus};
use crate::notebook::ui::markdown::{self, truncate_line};
use crate::output::{Output, Table};

/// "1m 05s", "12s".
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 10 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{s}s")
    }
}

/// `" 25% · ETA 30s"` (or `starting…`) for a running status; `None` otherwise.
pub fn progress_label(status: &RunStatus) -> Option<String> {
    if !matches!(status, RunStatus::Running { .. }) {
        return None;
    }
    Some(match status.eta() {
        Some((ratio, eta)) => {
            let mut label = format!("{:>3.0}%", ratio * 100.0);
            if let Some(eta) = eta {
                label.push_str(&format!(" · ETA {}", fmt_duration(eta)));
            }
            label
        }
        None => "starting…".to_string(),
    })
}

pub(super) fn status_lines(
    status: &RunStatus,
    long: bool,
    focused: bool,
    width: usize,
) -> Vec<Line<'static>> {
    match status {
        RunStatus::Idle => vec![Line::styled(
            if focused {
                "Not run yet: press Enter to run."
            } else {
                "Not run yet."
            },
            DIM,
        )],
        RunStatus::Queued => vec![Line::styled("Waiting for the run before it…", DIM)],
        RunStatus::Running { what, .. } => {
            let (ratio, _) = status.eta().unwrap_or((0.0, None));
            let mut label = format!(" {}", progress_label(status).unwrap_or_default());
            if !what.is_empty() {
                label.push_str(&format!(" · {what}"));
            }
            let bar_w = width.saturating_sub(label.width() + 2).clamp(10, 40);
            let filled = ((ratio * bar_w as f64).round() as usize).min(bar_w);
            let line = Line::from(vec![
                Span::styled("█".repeat(filled), Style::new().fg(ACCENT)),
                Span::styled("░".repeat(bar_w - filled), DIM),
                Span::raw(label),
            ]);
            vec![truncate_line(line, width)]
        }
        RunStatus::Cancelling => vec![Line::styled("Stopping…", WARN)],
        RunStatus::Done { elapsed } => {
            if long {
                vec![Line::styled(
                    format!("Done in {}.", fmt_duration(*elapsed)),
                    DIM,
                )]
            } else {
                Vec::new()
            }
        }
        RunStatus::Cancelled => vec![Line::styled("Cancelled.", WARN)],
        RunStatus::Failed(m) => markdown::wrap(&[(format!("Error: {m}"), ERROR)], width, "", "  "),
    }
}

/// The pieces that show a run's outputs. Data files are listed together after the rest: one
/// line each when there are a few, one line per folder when a run writes many.
pub(super) fn outputs<'a>(res: &'a RunResult, width: usize, pieces: &mut Vec<Piece<'a>>) {
    let mut files = Vec::new();
    let mut shown = 0;
    for (_, out) in &res.outputs {
        if let Output::File(f) = out {
            files.push(f);
            continue;
        }
        if shown > 0 {
            // A blank line between outputs, so a chart's axis labels do not run into the
            // next picture's top.
            pieces.push(Piece::Lines(vec![Line::default()]));
        }
        shown += 1;
        match out {
            Output::Text(t) => pieces.push(Piece::Lines(
                t.lines()
                    .flat_map(|l| hard_wrap(&l.replace('\t', "    "), width))
                    .map(Line::from)
                    .collect(),
            )),
            Output::Table(t) => pieces.push(Piece::Lines(table_lines(t, width))),
            Output::Pictures(p) => pieces.push(Piece::Pictures(p)),
            Output::Plot(p) => {
                if !p.title.is_empty() {
                    pieces.push(Piece::Lines(vec![Line::from(p.title.clone()).bold()]));
                }
                pieces.push(Piece::Plot(p));
            }
            Output::Matrix(m) => pieces.push(Piece::Matrix(m)),
            Output::File(_) => unreachable!("files are listed below"),
        }
    }
    if files.is_empty() {
        return;
    }
    if shown > 0 {
        pieces.push(Piece::Lines(vec![Line::default()]));
    }
    pieces.push(Piece::Lines(
        file_lines(&files)
            .iter()
            .flat_map(|l| hard_wrap(l, width))
            .map(|l| Line::from(l).italic())
            .collect(),
    ));
}

/// What the data files of a run are, for the notebook: each file when there are at most four,
/// else a count per folder.
pub fn file_lines(files: &[&crate::output::DataFile]) -> Vec<String> {
    if files.len() <= 4 {
        return files
            .iter()
            .map(|f| format!("{}: {} (tutor exec writes this file)", f.path, f.summary))
            .collect();
    }
    let mut folders: Vec<(String, usize)> = Vec::new();
    for f in files {
        let folder = f
            .path
            .rsplit_once('/')
            .map_or(String::new(), |(d, _)| format!("{d}/"));
        match folders.iter_mut().find(|(d, _)| *d == folder) {
            Some((_, n)) => *n += 1,
            None => folders.push((folder, 1)),
        }
    }
    folders
        .iter()
        .map(|(d, n)| {
            let place = if d.is_empty() {
                "the output folder".to_string()
            } else {
                d.clone()
            };
            let noun = if *n == 1 { "file" } else { "files" };
            format!("{n} {noun} under {place} (tutor exec writes them)")
        })
        .collect()
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use crate::output::DataFile;

    fn file(path: &str) -> DataFile {
        DataFile {
            path: path.into(),
            summary: "s".into(),
            bytes: vec![],
        }
    }

    #[test]
    fn many_files_fold_into_one_line_per_folder() {
        let few = [file("scores.csv")];
        let refs: Vec<&DataFile> = few.iter().collect();
        assert_eq!(
            file_lines(&refs),
            ["scores.csv: s (tutor exec writes this file)"]
        );
        let many: Vec<DataFile> = (0..120)
            .map(|i| file(&format!("segmentation/pred-{i:03}.png")))
            .chain([file("a.csv")])
            .collect();
        let refs: Vec<&DataFile> = many.iter().collect();
        assert_eq!(
            file_lines(&refs),
            [
                "120 files under segmentation/ (tutor exec writes them)",
                "1 file under the output folder (tutor exec writes them)"
            ]
        );
    }
}

/// Splits a monospace line longer than `width`, at a space in its second half when there is
/// one; spacing is kept, so aligned text that fits is untouched.
pub fn hard_wrap(line: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut rest: Vec<char> = line.chars().collect();
    loop {
        let mut used = 0;
        let mut cut = rest.len();
        for (i, c) in rest.iter().enumerate() {
            used += c.to_string().width();
            if used > width {
                cut = i;
                break;
            }
        }
        if cut == rest.len() {
            out.push(rest.iter().collect());
            return out;
        }
        if rest[cut] != ' ' {
            if let Some(sp) = rest[..cut]
                .iter()
                .rposition(|c| *c == ' ')
                .filter(|&p| p > cut / 2)
            {
                cut = sp + 1;
            }
        }
        out.push(
            rest[..cut]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string(),
        );
        let tail: Vec<char> = rest[cut..]
            .iter()
            .skip_while(|c| **c == ' ')
            .copied()
            .collect();
        // Continuation lines are indented so they read as one.
        rest = "  ".chars().chain(tail).collect();
    }
}

/// A table with aligned columns; numbers are right-aligned. A table wider than `width` first
/// wraps its headers onto several lines, then, if still too wide, is shown in column groups
/// one under the other, each repeating the first column: no column is ever cut off.
pub fn table_lines(t: &Table, width: usize) -> Vec<Line<'static>> {
    let width = width.max(8);
    let ncols = t
        .rows
        .iter()
        .map(Vec::len)
        .chain([t.header.len()])
        .max()
        .unwrap_or(0);
    let cell = |row: &[String], j: usize| row.get(j).cloned().unwrap_or_default();
    let header: Vec<String> = (0..ncols).map(|j| cell(&t.header, j)).collect();
    let data_w: Vec<usize> = (0..ncols)
        .map(|j| t.rows.iter().map(|r| cell(r, j).width()).max().unwrap_or(0))
        .collect();
    let word_w = |h: &str| h.split_whitespace().map(|w| w.width()).max().unwrap_or(0);
    // Widest a column needs (header on one line) and narrowest it can be (header wrapped at
    // its spaces); no column is narrower than what its cells need (a cell over the whole
    // width is cut, the only case where something is).
    let full: Vec<usize> = (0..ncols)
        .map(|j| data_w[j].max(header[j].width()).min(width))
        .collect();
    let least: Vec<usize> = (0..ncols)
        .map(|j| data_w[j].max(word_w(&header[j])).min(width))
        .collect();
    let span = |cols: &[usize], w: &[usize]| -> usize {
        cols.iter().map(|&j| w[j]).sum::<usize>() + 2 * cols.len().saturating_sub(1)
    };
    // Group the columns so each group fits: the first column leads every group.
    let all: Vec<usize> = (0..ncols).collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut widths = full.clone();
    if span(&all, &full) > width {
        widths = least.clone();
        let mut group = vec![0];
        for j in 1..ncols {
            let mut next = group.clone();
            next.push(j);
            if span(&next, &widths) > width && group.len() > 1 {
                groups.push(std::mem::replace(&mut group, vec![0, j]));
            } else {
                group = next;
            }
        }
        groups.push(group);
        // Give each group's spare room back to its wrapped headers.
        for g in &groups {
            let mut spare = width.saturating_sub(span(g, &widths));
            for &j in g {
                let more = (full[j] - widths[j]).min(spare);
                widths[j] += more;
                spare -= more;
            }
        }
    } else if ncols > 0 {
        groups.push(all);
    }
    // A column is right-aligned when every entry below the header is a number.
    let numeric: Vec<bool> = (0..ncols)
        .map(|j| {
            t.rows.iter().all(|r| {
                r.get(j)
                    .is_none_or(|c| c.trim().is_empty() || c.trim().parse::<f64>().is_ok())
            })
        })
        .collect();
    let fmt_row = |cols: &[usize], row: &[String], style: Style| -> Line<'static> {
        let mut spans = Vec::new();
        for (k, &j) in cols.iter().enumerate() {
            if k > 0 {
                spans.push(Span::styled("  ", style));
            }
            let c = row.get(k).map(String::as_str).unwrap_or("");
            let pad = " ".repeat(widths[j].saturating_sub(c.width()));
            let text = if numeric[j] {
                format!("{pad}{c}")
            } else {
                format!("{c}{pad}")
            };
            spans.push(Span::styled(text, style));
        }
        truncate_line(Line::from(spans), width)
    };
    let mut out = Vec::new();
    if let Some(title) = &t.title {
        out.extend(markdown::wrap(
            &[(title.clone(), Style::new().bold())],
            width,
            "",
            "",
        ));
    }
    for (g, cols) in groups.iter().enumerate() {
        if g > 0 {
            out.push(Line::default());
        }
        if !t.header.is_empty() {
            // Each header wrapped to its column, bottom-aligned over the rule.
            let wrapped: Vec<Vec<String>> = cols
                .iter()
                .map(|&j| {
                    markdown::wrap(&[(header[j].clone(), Style::new())], widths[j], "", "")
                        .iter()
                        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
                        .collect()
                })
                .collect();
            let tall = wrapped.iter().map(Vec::len).max().unwrap_or(1);
            for i in 0..tall {
                let row: Vec<String> = wrapped
                    .iter()
                    .map(|h| {
                        let skip = tall - h.len();
                        if i < skip {
                            String::new()
                        } else {
                            h[i - skip].clone()
                        }
                    })
                    .collect();
                out.push(fmt_row(cols, &row, Style::new().bold()));
            }
            out.push(Line::styled(
                "─".repeat(span(cols, &widths).min(width)),
                DIM,
            ));
        }
        for r in &t.rows {
            let row: Vec<String> = cols.iter().map(|&j| cell(r, j)).collect();
            out.push(fmt_row(cols, &row, Style::new()));
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_lines_wrap_keeping_spacing() {
        assert_eq!(hard_wrap("a  b", 10), ["a  b"]);
        assert_eq!(
            hard_wrap("input (3, 32, 32) -> output (16, 30, 30)", 20),
            ["input (3, 32, 32) ->", "  output (16, 30,", "  30)"]
        );
        assert_eq!(hard_wrap("abcdefghijkl", 8), ["abcdefgh", "  ijkl"]);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(fmt_duration(Duration::from_secs(42)), "42s");
        assert_eq!(fmt_duration(Duration::from_secs(65)), "1m 05s");
        assert_eq!(fmt_duration(Duration::from_secs(3720)), "1h 02m");
    }

    fn plain(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    /// Issue 12, item 9: a table wider than the screen keeps every column: headers wrap, then
    /// the columns go in groups that repeat the first one.
    #[test]
    fn wide_tables_wrap_headers_and_group_columns_never_dropping_one() {
        let header: Vec<String> = [
            "layer",
            "γ (frozen)",
            "β (frozen)",
            "mean, training mode",
            "variance, training mode",
            "mean, eval mode",
            "variance, eval mode",
        ]
        .map(String::from)
        .to_vec();
        let t = Table {
            title: Some("Largest change per channel".into()),
            header: header.clone(),
            rows: vec![[
                "bn1", "0.0000", "0.0000", "0.4321", "1.2345", "0.0000", "0.0000",
            ]
            .map(String::from)
            .to_vec()],
        };
        for width in [118, 76, 56, 30] {
            let l = plain(&table_lines(&t, width));
            let all = l.join("\n");
            assert!(l.iter().all(|r| r.width() <= width), "{width}: {all}");
            assert!(!all.contains('…'), "{width}: nothing is cut:\n{all}");
            for h in &header {
                for w in h.split_whitespace() {
                    assert!(all.contains(w), "{width}: `{w}` missing:\n{all}");
                }
            }
            for v in ["0.4321", "1.2345"] {
                assert!(all.contains(v), "{width}: {v} missing:\n{all}");
            }
        }
        // Narrow: the row label leads each group.
        let l = plain(&table_lines(&t, 30));
        assert!(
            l.iter().filter(|r| r.starts_with("bn1")).count() >= 2,
            "{l:#?}"
        );
    }

    #[test]
    fn tables_align_and_right_align_numbers() {
        let t = Table {
            title: None,
            header: vec!["layer".into(), "params".into()],
            rows: vec![
                vec!["conv1".into(), "448".into()],
                vec!["fc".into(), "10250".into()],
            ],
        };
        let l: Vec<String> = table_lines(&t, 80)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(
            l,
            [
                "layer  params",
                "─────────────",
                "conv1     448",
                "fc      10250"
            ]
        );
    }
}
