//! Tables as text: aligned monospace columns for a terminal, a GitHub pipe table for a report.
//!
//! Columns whose cells are all numbers are right-aligned in both, so digits line up.

use unicode_width::UnicodeWidthStr;

use crate::output::Table;

/// The table as aligned monospace text: an optional title line, the header, a rule of dashes
/// and the rows, columns two spaces apart, every line ending in a newline.
///
/// ```
/// use tutor::output::Table;
/// let t = Table {
///     title: None,
///     header: vec!["epoch".into(), "loss".into()],
///     rows: vec![vec!["1".into(), "0.69".into()], vec!["10".into(), "0.05".into()]],
/// };
/// assert_eq!(
///     tutor::export::png::table_text(&t),
///     "epoch  loss\n-----  ----\n    1  0.69\n   10  0.05\n"
/// );
/// ```
pub fn table_text(t: &Table) -> String {
    let grid = Grid::new(t, |c| c.replace(['\n', '\r', '\t'], " "));
    let mut out = String::new();
    if let Some(title) = t.title.as_deref().filter(|s| !s.trim().is_empty()) {
        out.push_str(title.trim());
        out.push('\n');
    }
    if grid.widths.is_empty() {
        return out;
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = (0..grid.widths.len())
            .map(|i| grid.pad(i, cells.get(i).map_or("", String::as_str)))
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    out.push_str(&line(&grid.header));
    let rule: Vec<String> = grid.widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&(rule.join("  ") + "\n"));
    for row in &grid.rows {
        out.push_str(&line(row));
    }
    out
}

/// The table as a GitHub-flavoured Markdown pipe table, with the title (if any) in bold above
/// it. Pipes in cells are escaped and line breaks become `<br>`, so every row stays one line.
pub fn table_markdown(t: &Table) -> String {
    let grid = Grid::new(t, |c| {
        c.replace('|', "\\|")
            .replace("\r\n", "<br>")
            .replace(['\n', '\r'], "<br>")
    });
    let mut out = String::new();
    if let Some(title) = t.title.as_deref().filter(|s| !s.trim().is_empty()) {
        out.push_str(&format!("**{}**\n\n", title.trim()));
    }
    if grid.widths.is_empty() {
        return out;
    }
    // Markdown needs at least three dashes in the delimiter row.
    let widths: Vec<usize> = grid.widths.iter().map(|&w| w.max(3)).collect();
    let grid = Grid { widths, ..grid };
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = (0..grid.widths.len())
            .map(|i| grid.pad(i, cells.get(i).map_or("", String::as_str)))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    out.push_str(&line(&grid.header));
    let rule: Vec<String> = grid
        .widths
        .iter()
        .zip(&grid.numeric)
        .map(|(&w, &num)| {
            if num {
                format!("{}:", "-".repeat(w - 1))
            } else {
                "-".repeat(w)
            }
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in &grid.rows {
        out.push_str(&line(row));
    }
    out
}

/// The cleaned cells of a table with each column's display width and alignment.
struct Grid {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    widths: Vec<usize>,
    numeric: Vec<bool>,
}

impl Grid {
    fn new(t: &Table, clean: impl Fn(&str) -> String) -> Grid {
        let header: Vec<String> = t.header.iter().map(|c| clean(c)).collect();
        let rows: Vec<Vec<String>> = t
            .rows
            .iter()
            .map(|r| r.iter().map(|c| clean(c)).collect())
            .collect();
        // Rows may be ragged; the widest one decides the number of columns.
        let ncols = rows
            .iter()
            .map(Vec::len)
            .chain([header.len()])
            .max()
            .unwrap_or(0);
        let cell = |r: &[String], i: usize| r.get(i).map_or("", |s| s.as_str()).to_string();
        let widths = (0..ncols)
            .map(|i| {
                std::iter::once(&header)
                    .chain(&rows)
                    .map(|r| cell(r, i).width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let numeric = (0..ncols)
            .map(|i| {
                let mut body = rows
                    .iter()
                    .map(|r| cell(r, i))
                    .filter(|c| !c.trim().is_empty());
                let mut any = false;
                let all = body.all(|c| {
                    any = true;
                    is_number(&c)
                });
                any && all
            })
            .collect();
        Grid {
            header,
            rows,
            widths,
            numeric,
        }
    }

    /// `cell` padded to column `i`'s width on the side its alignment calls for.
    fn pad(&self, i: usize, cell: &str) -> String {
        let fill = " ".repeat(self.widths[i].saturating_sub(cell.width()));
        if self.numeric[i] {
            format!("{fill}{cell}")
        } else {
            format!("{cell}{fill}")
        }
    }
}

/// A number as tables show them: "3", "-0.25", "1.2e-3", "97.5%".
fn is_number(cell: &str) -> bool {
    let s = cell.trim();
    let s = s.strip_suffix('%').unwrap_or(s);
    // Words like "nan" and "inf" parse as floats but read as text in a table.
    s.chars().any(|c| c.is_ascii_digit()) && s.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(title: Option<&str>, header: &[&str], rows: &[&[&str]]) -> Table {
        Table {
            title: title.map(str::to_string),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect(),
        }
    }

    #[test]
    fn text_aligns_text_left_and_numbers_right() {
        let t = table(
            Some("Training"),
            &["model", "epochs", "accuracy"],
            &[&["small CNN", "3", "97.5%"], &["MLP", "12", "91.25%"]],
        );
        assert_eq!(
            table_text(&t),
            "Training\n\
             model      epochs  accuracy\n\
             ---------  ------  --------\n\
             small CNN       3     97.5%\n\
             MLP            12    91.25%\n"
        );
    }

    #[test]
    fn text_handles_ragged_rows_and_wide_characters() {
        let t = table(None, &["a", "b"], &[&["日本", "x", "extra"], &["z"]]);
        assert_eq!(
            table_text(&t),
            "a     b\n\
             ----  -  -----\n\
             日本  x  extra\n\
             z\n"
        );
    }

    #[test]
    fn markdown_is_a_pipe_table_with_escapes() {
        let t = table(
            Some("Results"),
            &["layer", "params"],
            &[&["conv | 3x3", "320"], &["dense\nout", "1290"]],
        );
        assert_eq!(
            table_markdown(&t),
            "**Results**\n\n\
             | layer        | params |\n\
             | ------------ | -----: |\n\
             | conv \\| 3x3  |    320 |\n\
             | dense<br>out |   1290 |\n"
        );
    }

    #[test]
    fn empty_tables_do_not_panic() {
        assert_eq!(table_text(&Table::default()), "");
        assert_eq!(table_markdown(&Table::default()), "");
        let only_title = table(Some("t"), &[], &[]);
        assert_eq!(table_text(&only_title), "t\n");
    }

    #[test]
    fn nan_is_text_but_exponents_are_numbers() {
        assert!(is_number("1.5e-3"));
        assert!(is_number("-2"));
        assert!(is_number("12%"));
        assert!(!is_number("nan"));
        assert!(!is_number("3x3"));
    }
}
