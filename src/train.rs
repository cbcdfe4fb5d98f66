//! Training: the loop, the learning-rate finder and the observers that watch them.

pub mod lr_find;
