//! The colours of a plot: the series palette and the greys of text, grid and marks.

use plotters::style::RGBColor;

/// Series colours, in order: matplotlib's "tab10", which learners will have seen before and
/// whose first two (blue, orange) are the usual train/validation pair.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
pub(super) const TEXT: RGBColor = RGBColor(30, 30, 30);
pub(super) const FAINT_TEXT: RGBColor = RGBColor(120, 120, 120);
pub(super) const GRID: RGBColor = RGBColor(222, 222, 222);
pub(super) const MINOR_GRID: RGBColor = RGBColor(242, 242, 242);
/// Marks (vertical lines with a label), one colour each so three suggestions on one plot can
/// be told apart: dark red, dark green, dark violet, then the grey of old.
pub(super) const MARKS: [RGBColor; 4] = [
    RGBColor(178, 34, 34),
    RGBColor(0, 110, 60),
    RGBColor(110, 50, 160),
    RGBColor(60, 60, 60),
];
