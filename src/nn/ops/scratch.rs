//! Buffers the CPU kernels hand back and take again, so that a training step does not allocate
//! and zero fresh memory for every activation, column matrix and gradient: a forward output is
//! taken from here, and its gradient, which the backward owns once it is taken from the tape,
//! comes back here when that backward is done.
//!
//! A taken buffer holds whatever values it last held: only code that overwrites every value
//! takes one ([`take`]); others ask for zeros ([`zeros`]).

use std::sync::Mutex;

use rayon::prelude::*;

/// Buffers smaller than this are not worth keeping (values).
const MIN_KEEP: usize = 1 << 12;
/// At most this many values wait here (64 MB), in at most [`MAX_BUFFERS`] buffers.
const MAX_VALUES: usize = 1 << 24;
const MAX_BUFFERS: usize = 32;

static FREE: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

fn free() -> std::sync::MutexGuard<'static, Vec<Vec<f32>>> {
    // A panic elsewhere while the lock was held leaves a list that is still valid.
    FREE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A buffer of `len` values with unspecified contents, for a caller that writes every one.
pub fn take(len: usize) -> Vec<f32> {
    if len >= MIN_KEEP {
        let mut list = free();
        // The smallest buffer that holds `len` values without growing.
        let best = (0..list.len())
            .filter(|&i| list[i].capacity() >= len)
            .min_by_key(|&i| list[i].capacity());
        if let Some(i) = best {
            let mut v = list.swap_remove(i);
            drop(list);
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, 0.0);
            }
            return v;
        }
    }
    zeros(len)
}

/// A new buffer of `len` zeros, zeroed on both cores when large.
pub fn zeros(len: usize) -> Vec<f32> {
    if len < 1 << 16 {
        return vec![0.0; len];
    }
    let mut v = Vec::with_capacity(len);
    v.par_extend(rayon::iter::repeat_n(0f32, len));
    v
}

/// Gives a buffer back for a later [`take`] (or drops it when enough are waiting).
pub fn give(v: Vec<f32>) {
    if v.capacity() < MIN_KEEP {
        return;
    }
    let mut list = free();
    let held: usize = list.iter().map(Vec::capacity).sum();
    if list.len() < MAX_BUFFERS && held + v.capacity() <= MAX_VALUES {
        list.push(v);
    }
}

/// A buffer that goes back to the list when dropped (per-task scratch space).
pub struct Scratch(pub Vec<f32>);

impl Scratch {
    /// Scratch space of `len` values with unspecified contents.
    pub fn new(len: usize) -> Self {
        Scratch(take(len))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_with_the_asked_length() {
        let mut a = take(5000);
        a.fill(3.0);
        give(a);
        // Whatever buffer comes back, it has the length asked for.
        assert_eq!(take(4500).len(), 4500);
        assert_eq!(take(9000).len(), 9000);
        assert_eq!(zeros(70_000).iter().filter(|&&v| v != 0.0).count(), 0);
        let s = Scratch::new(6000);
        assert_eq!(s.0.len(), 6000);
    }
}
