//! Tests that cross the submodules: kernels, filters and statistics together, on synthetic
//! images and the embedded photos.

use super::fmt::fmt_num;
use super::*;

/// 1 2 3 / 4 5 6 / 7 8 9
fn three() -> GrayF {
    GrayF::new(3, 3, (1..=9).map(|v| v as f32).collect())
}

#[test]
fn luma_matches_pillow() {
    // Values from Pillow 13's Image.convert("L"), including cases where the plain
    // 1000-based rounding would differ by one.
    assert_eq!(luma(0, 0, 250), 28);
    assert_eq!(luma(0, 4, 168), 21);
    assert_eq!(luma(0, 8, 86), 14);
    assert_eq!(luma(255, 255, 255), 255);
    assert_eq!(luma(255, 0, 0), 76);
    for v in [0, 1, 127, 200, 255] {
        assert_eq!(luma(v, v, v), v);
    }
    let gray = to_gray(&crate::data::photo("chelsea").unwrap());
    // Pillow: sum of Image.open("chelsea.png").convert("L") over all pixels.
    let sum: u64 = gray.as_raw().iter().map(|&v| u64::from(v)).sum();
    assert_eq!(sum, 5_199_360);
    assert_eq!(&gray.as_raw()[..5], &[126, 124, 123, 123, 125]);
}

#[test]
fn sobel_x_sees_a_vertical_edge_and_sobel_y_does_not() {
    let img = vertical_step(16, 16);
    let gx = filter(&img, &Kernel::sobel_x(), Padding::Replicate);
    let gy = filter(&img, &Kernel::sobel_y(), Padding::Replicate);
    // Columns 7 and 8 straddle the edge: 4 = (1 + 2 + 1) x a step of 1.
    assert_eq!(gx.get(7, 5), 4.0);
    assert_eq!(gx.get(8, 5), 4.0);
    assert_eq!(gx.get(3, 5), 0.0);
    assert_eq!(max_abs(&gy), 0.0);
    // And the other way round for a horizontal edge.
    let img = horizontal_step(16, 16);
    assert_eq!(
        max_abs(&filter(&img, &Kernel::sobel_x(), Padding::Replicate)),
        0.0
    );
    assert_eq!(
        filter(&img, &Kernel::sobel_y(), Padding::Replicate).get(5, 8),
        4.0
    );
}

#[test]
fn corner_edges_separate_the_two_directions() {
    let img = corner_edges();
    let gx = filter(&img, &Kernel::sobel_x(), Padding::Replicate);
    let gy = filter(&img, &Kernel::sobel_y(), Padding::Replicate);
    assert_eq!(gx.get(32, 50), 4.0); // on the vertical edge
    assert_eq!(gy.get(32, 50), 0.0);
    assert_eq!(gy.get(50, 32), 4.0); // on the horizontal edge
    assert_eq!(gx.get(50, 32), 0.0);
    let flat = Region {
        x: 0,
        y: 0,
        width: 30,
        height: 30,
    };
    assert_eq!(mean_abs_in(&gx, flat), 0.0);
    let mag = gradient_magnitude(&img, Padding::Replicate);
    assert_eq!(mag.get(32, 50), 4.0);
    assert!((mag.get(32, 32) - (9.0f32 + 9.0).sqrt()).abs() < 1e-6);
}

#[test]
fn laplacians_give_zero_on_flat_and_linear_regions() {
    for k in [Kernel::laplacian4(), Kernel::laplacian8()] {
        assert_eq!(k.sum(), 0.0);
        let flat = filter(&GrayF::filled(8, 8, 0.7), &k, Padding::Replicate);
        assert!(max_abs(&flat) < 1e-6);
        // A ramp has no curvature: 0 away from the border.
        let ramp = GrayF::from_fn(8, 8, |x, y| x as f32 + 2.0 * y as f32);
        assert_eq!(filter(&ramp, &k, Padding::Valid).as_slice(), &[0.0; 36]);
    }
    // A single bright pixel: -4 at the centre, 1 at its four neighbours.
    let mut dot = GrayF::filled(5, 5, 0.0);
    dot.set(2, 2, 1.0);
    let l = filter(&dot, &Kernel::laplacian4(), Padding::Zero);
    assert_eq!((l.get(2, 2), l.get(2, 1), l.get(1, 1)), (-4.0, 1.0, 0.0));
}

#[test]
fn blurs_sum_to_one_and_keep_constants() {
    for (n, sigma) in [(3, 1.0), (5, 1.4), (7, 0.5), (4, 2.0)] {
        let g = Kernel::gaussian(n, sigma);
        assert!((g.sum() - 1.0).abs() < 1e-5, "gaussian {n} {sigma}");
        // Symmetric, peaked in the middle for odd sizes.
        assert_eq!(g.flipped(), g);
        if n % 2 == 1 {
            let c = n / 2;
            assert!(g.weights().iter().all(|&w| w <= g.get(c, c)));
        }
    }
    assert!((Kernel::gaussian(3, 1.0).get(0, 0) - 0.075_113_6).abs() < 1e-6);
    for n in [1, 3, 5] {
        assert!((Kernel::box_blur(n).sum() - 1.0).abs() < 1e-6);
        for padding in [
            Padding::Zero,
            Padding::Valid,
            Padding::Replicate,
            Padding::Reflect,
        ] {
            let out = filter(&GrayF::filled(9, 6, 0.25), &Kernel::box_blur(n), padding);
            let interior = if padding == Padding::Zero {
                // Zero padding darkens the border; the interior stays constant.
                out.get(4, 3)
            } else {
                max_abs(&out)
            };
            assert!((interior - 0.25).abs() < 1e-6, "box {n} {padding:?}");
            if padding != Padding::Zero {
                assert!(out.as_slice().iter().all(|v| (v - 0.25).abs() < 1e-6));
            }
        }
    }
    assert_eq!(Kernel::sharpen().sum(), 1.0);
    assert_eq!(
        filter(&three(), &Kernel::identity(), Padding::Zero),
        three()
    );
}

#[test]
fn worked_example_is_computed_and_agrees_with_filter() {
    let patch = [[10.0, 10.0, 80.0], [10.0, 10.0, 80.0], [10.0, 10.0, 80.0]];
    let text = worked_example(patch, Kernel::sobel_x().to_3x3().unwrap());
    assert!(text.contains("10 × -2 = -20"), "{text}");
    assert!(text.contains("80 × 2 = 160"), "{text}");
    assert!(text.contains("row sum 140"), "{text}");
    assert!(
        text.contains("-10 + 0 + 80 - 20 + 0 + 160 - 10 + 0 + 80 = 280"),
        "{text}"
    );
    assert!(text.ends_with("output pixel = 280"), "{text}");
    assert!(!text.contains("rounded"), "{text}");
    // A box blur's 1/9 cannot be shown exactly, and the text says so.
    let blur = worked_example([[1.0; 3]; 3], Kernel::box_blur(3).to_3x3().unwrap());
    assert!(blur.contains("rounded to 3 decimals"), "{blur}");
    assert!(blur.contains("1 × 0.111 = 0.111"), "{blur}");
    assert!(blur.ends_with("output pixel = 1"), "{blur}");

    // On a patch from a real photo the total equals the filter's output at that pixel.
    // Pixel values 0..255 keep every product and sum exact in f32.
    let gray = to_gray(&crate::data::photo("coins").unwrap());
    let img = GrayF::from_fn(256, 202, |x, y| {
        f32::from(gray.get_pixel(x as u32, y as u32)[0])
    });
    let (x, y) = (100, 60);
    let kernel = Kernel::laplacian8();
    let expected = filter(&img, &kernel, Padding::Valid).get(x - 1, y - 1);
    let text = worked_example(img.patch3(x, y).unwrap(), kernel.to_3x3().unwrap());
    let last = text.lines().last().unwrap();
    assert_eq!(last, format!("output pixel = {}", fmt_num(expected)));
    assert!(img.patch3(0, 5).is_none());
}

#[test]
fn statistics_for_experiments() {
    let r = GrayF::new(2, 2, vec![-1.0, 1.0, 0.0, 2.0]);
    assert_eq!(mean_abs(&r), 1.0);
    assert_eq!(max_abs(&r), 2.0);
    assert_eq!(fraction_above(&r, 0.5), 0.75);
    let right = Region {
        x: 1,
        y: 0,
        width: 5,
        height: 5,
    };
    assert_eq!(mean_abs_in(&r, right), 1.5); // clipped to the right column
                                             // The flattest 16x16 window of the corner image is one of the uniform quadrants.
    let reg = flattest_region(&corner_edges(), 16);
    assert_eq!((reg.width, reg.height), (16, 16));
    let inside = |a: usize| a + 16 <= 32 || a >= 32;
    assert!(inside(reg.x) && inside(reg.y), "{reg:?}");
    // On a real photo, a high-pass kernel answers less on the flattest region than on
    // average, and a blur does not change mean brightness much.
    let camera = GrayF::from_rgb(&crate::data::photo("camera").unwrap());
    let flat = flattest_region(&camera, 16);
    let lap = filter(&camera, &Kernel::laplacian4(), Padding::Replicate);
    assert!(mean_abs_in(&lap, flat) < 0.5 * mean_abs(&lap));
    let blurred = filter(&camera, &Kernel::gaussian(5, 1.0), Padding::Replicate);
    assert!((mean_abs(&blurred) - mean_abs(&camera)).abs() < 0.01);
}
