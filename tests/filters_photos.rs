//! The filter lesson's path through the public API, on the real embedded photos: a learner's
//! typed kernel is parsed, run over a photo, rendered and measured.

use tutor::data;
use tutor::imaging::{
    display_abs, display_signed, filter, flattest_region, gradient_magnitude, mean_abs,
    mean_abs_in, GrayF, Kernel, Padding,
};

#[test]
fn a_typed_sobel_finds_the_horse_outline_and_nothing_inside_it() {
    let horse = GrayF::from_rgb(&data::photo("horse").unwrap());
    let typed = Kernel::parse("-1 0 1\n-2 0 2\n-1 0 1").unwrap();
    assert_eq!(typed, Kernel::sobel_x());
    let gx = filter(&horse, &typed, Padding::Replicate);
    assert_eq!((gx.width(), gx.height()), (256, 210));
    // The silhouette is black on white: strong responses on its outline, none in the flat
    // white margin or the flat black body.
    let flat = flattest_region(&horse, 16);
    assert!(mean_abs_in(&gx, flat) < 1e-3, "{flat:?}");
    assert!(mean_abs(&gx) > 0.02);
    let picture = display_signed(&gx);
    assert_eq!(picture.dimensions(), (256, 210));
    // Both signs occur: light-to-dark and dark-to-light edges.
    assert!(picture.pixels().any(|p| p[0] < 64) && picture.pixels().any(|p| p[0] > 192));
}

#[test]
fn every_photo_filters_to_finite_same_size_responses() {
    for name in data::photo_names() {
        let img = GrayF::from_rgb(&data::photo(name).unwrap());
        let mag = gradient_magnitude(&img, Padding::Reflect);
        assert_eq!(
            (mag.width(), mag.height()),
            (img.width(), img.height()),
            "{name}"
        );
        assert!(
            mag.as_slice().iter().all(|v| v.is_finite() && *v >= 0.0),
            "{name}"
        );
        assert!(mean_abs(&mag) > 0.01, "{name} has edges");
        let valid = filter(&img, &Kernel::gaussian(5, 1.0), Padding::Valid);
        assert_eq!(valid.width(), img.width() - 4, "{name}");
        assert_eq!(display_abs(&mag).dimensions().0 as usize, img.width());
    }
}

#[test]
fn textured_brick_answers_more_to_edges_than_the_smooth_coffee_cup() {
    let response = |name: &str| {
        let img = GrayF::from_rgb(&data::photo(name).unwrap());
        mean_abs(&filter(&img, &Kernel::laplacian8(), Padding::Replicate))
    };
    assert!(response("brick") > response("coffee"));
}
