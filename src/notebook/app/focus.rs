//! Which cell has the focus and which lines are on screen: moving the focus, scrolling, and
//! reconciling both with the layout the renderer computed for the coming frame.

use super::{App, Mode, NotebookLayout};

impl App {
    /// After anything but a scroll, keep the focused cell in view: an answer, a hint or a
    /// run's result can make it grow past the bottom of the screen.
    pub(super) fn follow_focus(&mut self) {
        if !self.scrolled {
            self.reveal = true;
        }
    }

    pub(super) fn move_focus(&mut self, by: isize) {
        let n = self.cells.len();
        if n == 0 {
            return;
        }
        let to = (self.focus as isize + by).clamp(0, n as isize - 1) as usize;
        self.set_focus(to);
    }

    /// Focuses cell `i`, brings it into view and records the visit.
    pub fn set_focus(&mut self, i: usize) {
        let to = i.min(self.cells.len().saturating_sub(1));
        if to != self.focus {
            self.follow_run = false;
        }
        self.focus = to;
        self.mode = Mode::Normal;
        self.reveal = true;
        self.visit();
    }

    pub(super) fn scroll_by(&mut self, by: isize) {
        self.scroll = self.scroll.saturating_add_signed(by);
        self.scrolled = true;
        self.follow_run = false;
    }

    /// Applies the layout of the coming frame: clamps the scroll, brings the focused cell into
    /// view after a focus move, and after a scroll moves the focus to a visible cell if it left
    /// the screen.
    pub fn settle(&mut self, layout: &NotebookLayout, viewport: usize) {
        self.viewport = viewport.max(1);
        let max_scroll = layout.total.saturating_sub(self.viewport);
        if let (Some((cell, old_top)), Some(&top)) = (self.anchor, layout.tops.get(self.focus)) {
            // Outputs above the focused cell came in (or went): keep the view on it, as a
            // browser keeps its place when images above load.
            if cell == self.focus && !self.scrolled && top != old_top {
                self.scroll = (self.scroll + top).saturating_sub(old_top);
            }
        }
        if self.reveal {
            if let (Some(&top), Some(&h)) =
                (layout.tops.get(self.focus), layout.heights.get(self.focus))
            {
                if top < self.scroll {
                    self.scroll = top;
                } else if top + h > self.scroll + self.viewport {
                    // Bottom into view, but never push the top out.
                    self.scroll = (top + h).saturating_sub(self.viewport).min(top);
                }
            }
        }
        let running_focus = self.running.as_ref().is_some_and(|r| r.cell == self.focus);
        if self.follow_run && running_focus && !self.scrolled {
            if let (Some(&top), Some(&h)) =
                (layout.tops.get(self.focus), layout.heights.get(self.focus))
            {
                // The newest output grows at the bottom: keep it on screen.
                self.scroll = self.scroll.max((top + h).saturating_sub(self.viewport));
            }
        }
        self.scroll = self.scroll.min(max_scroll);
        if self.scrolled && !self.reveal {
            let (s, e) = (self.scroll, self.scroll + self.viewport);
            let visible = |i: usize| {
                let (t, h) = (layout.tops[i], layout.heights[i]);
                t < e && t + h > s
            };
            if self.focus < layout.tops.len() && !visible(self.focus) {
                let first = (0..layout.tops.len()).find(|&i| visible(i) && layout.tops[i] >= s);
                let any = (0..layout.tops.len()).find(|&i| visible(i));
                if let Some(i) = first.or(any) {
                    self.focus = i;
                    self.mode = Mode::Normal;
                    self.visit();
                }
            }
        }
        self.reveal = false;
        self.scrolled = false;
        self.anchor = layout.tops.get(self.focus).map(|&t| (self.focus, t));
    }
}
