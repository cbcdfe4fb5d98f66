//! Parsing numbers as people type them: fractions (`1/9`), the unicode minus sign of pasted
//! text, shapes written as `(32, 55, 55)` or `32x55x55`, matrices in rows, choice letters.

/// Parses a number, also as a fraction like `1/9`.
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once('/') {
        let (a, b): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (b != 0.0).then_some(a / b).filter(|x| x.is_finite());
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Parses rows of numbers: rows separated by `;` or new lines, numbers by spaces or commas.
/// Accepts the unicode minus sign, so text pasted from a book works.
pub fn parse_matrix(text: &str) -> Result<Vec<Vec<f64>>, String> {
    let mut rows = Vec::new();
    for (r, line) in text.split([';', '\n']).enumerate() {
        let line = line.trim().trim_matches(['[', ']']).trim();
        if line.is_empty() {
            continue;
        }
        let mut row = Vec::new();
        for (c, word) in line
            .split(|ch: char| ch.is_whitespace() || ch == ',')
            .filter(|w| !w.is_empty())
            .enumerate()
        {
            let cleaned = word.replace('\u{2212}', "-");
            let x: f64 = parse_number(&cleaned).ok_or_else(|| {
                format!("row {}, column {}: `{word}` is not a number", r + 1, c + 1)
            })?;
            row.push(x);
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err("no numbers given".to_string());
    }
    Ok(rows)
}

/// Parses numbers written as a shape or a list: `(32, 55, 55)`, `[32,55,55]`, `32x55x55`,
/// `32 × 55 × 55`, `torch.Size([32, 55, 55])`. Returns None if any part is not a number.
pub fn parse_numbers(s: &str) -> Option<Vec<f64>> {
    let s = s.trim();
    let s = s.strip_prefix("torch.Size").unwrap_or(s);
    let cleaned: String = s
        .chars()
        .map(|c| match c {
            '(' | ')' | '[' | ']' | ',' | 'x' | 'X' | '×' | '*' => ' ',
            '\u{2212}' => '-',
            c => c,
        })
        .collect();
    let nums: Option<Vec<f64>> = cleaned
        .split_whitespace()
        .map(|w| w.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect();
    nums.filter(|n| !n.is_empty())
}

/// `a` -> 0, `B` -> 1, ...
pub fn letter_index(s: &str) -> Option<usize> {
    let s = s.trim();
    let mut chars = s.chars();
    let c = chars.next()?.to_ascii_lowercase();
    (chars.next().is_none() && c.is_ascii_lowercase()).then(|| (c as u8 - b'a') as usize)
}
