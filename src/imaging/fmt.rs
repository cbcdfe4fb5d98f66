//! Numbers as a learner would write them, for the text this module prints: a kernel read
//! back by [`Kernel::parse`](super::Kernel::parse) and the sums in
//! [`worked_example`](super::worked_example).

/// True when [`fmt_num`] shows `v` without rounding it.
pub(super) fn shown_exactly(v: f32) -> bool {
    fmt_num(v).parse::<f32>().is_ok_and(|shown| shown == v)
}

/// A number as a learner would write it: whole numbers without decimals, others with up to
/// three, never `-0`.
pub(super) fn fmt_num(v: f32) -> String {
    let s = if v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_learners() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(1.0 / 3.0), "0.333");
        assert_eq!(fmt_num(-1.5), "-1.5");
    }
}
