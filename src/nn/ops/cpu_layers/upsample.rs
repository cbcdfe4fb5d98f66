//! Nearest-neighbour upsampling by an integer factor as one custom op. The portable version is
//! a dfdx gather through an index per output value, forward and backward on one core (30% of
//! the single-core time of lesson 5's `ae.conv`); here each plane is copied row by row, planes
//! spread over both cores, and the backward adds each input pixel's `scale * scale` output
//! gradients into its gradient one by one in the order dfdx's gather does (output order), so
//! the bits are dfdx's.

use dfdx::prelude::*;
use rayon::prelude::*;

use super::super::cpu::untape;
use super::super::scratch;
use super::super::Img;
use super::MIN_VALUES;

/// `x` upsampled by `scale` in both directions: output pixel `(y, x)` is input pixel
/// `(y / scale, x / scale)` of the same plane.
pub fn upsample_nearest<T: Tape<f32, Cpu> + Merge<NoneTape>>(
    x: Tensor<Img, f32, Cpu, T>,
    scale: usize,
) -> Result<Tensor<Img, f32, Cpu, T>, CpuError> {
    let (n, c, h, w) = *x.shape();
    let s = scale;
    let (oh, ow) = (h.checked_mul(s), w.checked_mul(s));
    let (Some(oh), Some(ow)) = (oh, ow) else {
        return Err(CpuError::WrongNumElements);
    };
    let (hw, ohw) = (h * w, oh * ow);
    let (dev, x, mut tape, v) = untape(x)?;
    let mut out = scratch::take(n * c * ohw); // every value is written
    let planes = (MIN_VALUES / ohw.max(1)).max(1);
    if ohw > 0 {
        out.par_chunks_mut(planes * ohw)
            .zip(v.par_chunks(planes * hw.max(1)))
            .for_each(|(o, i)| {
                for (op, ip) in o.chunks_mut(ohw).zip(i.chunks(hw.max(1))) {
                    for (y, row) in ip.chunks(w.max(1)).enumerate() {
                        let first = y * s * ow;
                        for (d, src) in op[first..first + ow].chunks_mut(s).zip(row) {
                            d.fill(*src);
                        }
                        for r in 1..s {
                            op.copy_within(first..first + ow, first + r * ow);
                        }
                    }
                }
            });
    }
    scratch::give(v);
    let out = dev.try_tensor_from_vec(out, (n, c, oh, ow))?;
    if T::OWNS_TAPE {
        let (xg, og) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gout: Vec<f32> = std::mem::take(&mut **grads.get_or_alloc_mut(&og)?);
            let gx = grads.get_or_alloc_mut(&xg)?;
            if hw > 0 {
                gx.par_chunks_mut(planes * hw)
                    .zip(gout.par_chunks(planes * ohw))
                    .for_each(|(d, g)| {
                        for (dp, gp) in d.chunks_mut(hw).zip(g.chunks(ohw)) {
                            for (i, d) in dp.iter_mut().enumerate() {
                                let (y, x) = (i / w, i % w);
                                // One by one, in output order, as dfdx's gather adds.
                                for r in 0..s {
                                    let at = (y * s + r) * ow + x * s;
                                    for g in &gp[at..at + s] {
                                        *d += g;
                                    }
                                }
                            }
                        }
                    });
            }
            scratch::give(gout);
            Ok(())
        });
    }
    Ok(out.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::super::super::portable;
    use super::*;

    /// The values and both gradients of dfdx's gather, to the bit, for factors 1 to 3 and
    /// planes that fill several tasks or part of one.
    #[test]
    fn upsampling_gives_the_bits_of_the_portable_gather() {
        let dev = Cpu::seed_from_u64(21);
        for (dims, s) in [
            ((3, 5, 7, 7), 2),
            ((64, 8, 14, 14), 2),
            ((2, 3, 5, 4), 3),
            ((2, 2, 6, 9), 1),
        ] {
            let (n, c, h, w) = dims;
            let x: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&dims);
            let r: Tensor<Img, f32, Cpu> = dev.sample_normal_like(&(n, c, h * s, w * s));
            let fast = upsample_nearest(x.leaky_trace(), s).unwrap();
            let slow = portable::upsample_nearest(x.leaky_trace(), s).unwrap();
            assert_eq!(fast.shape(), slow.shape());
            assert_eq!(fast.as_vec(), slow.as_vec(), "{dims:?} x{s}");
            // The gradient reaches x through a use before the upsampling too, so it adds.
            let gf = (fast * r.clone()).sum() + x.leaky_trace().sum();
            let gs = (slow * r.clone()).sum() + x.leaky_trace().sum();
            let (gf, gs) = (gf.backward(), gs.backward());
            assert_eq!(gf.get(&x).as_vec(), gs.get(&x).as_vec(), "{dims:?} x{s}");
        }
        // Output pixel (y, x) is input pixel (y / 2, x / 2).
        let x = dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (1, 1, 2, 2));
        let up = upsample_nearest(x, 2).unwrap().as_vec();
        assert_eq!(&up[..8], &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
        assert_eq!(&up[8..], &[3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0]);
    }
}
