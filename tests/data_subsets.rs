//! The committed MNIST and Fashion-MNIST subsets load with the sizes `data/README.md` states
//! and with every class present in a reasonable share, and the photos and font are embedded.

use tutor::data::{self, Dataset, Normalization, Split};

/// Every class must hold between 8 % and 12 % of a split: the committed subsets are the first
/// examples of the official files, not stratified, so they are close to but not exactly 10 %.
fn assert_balanced(d: &Dataset, what: &str) {
    let counts = d.class_counts();
    assert_eq!(counts.len(), 10, "{what}");
    assert_eq!(counts.iter().sum::<usize>(), d.n, "{what}");
    for (class, &c) in counts.iter().enumerate() {
        let share = c as f64 / d.n as f64;
        assert!(
            (0.08..=0.12).contains(&share),
            "{what}: class {class} has {c} of {} examples",
            d.n
        );
    }
}

fn assert_pixels(d: &Dataset, what: &str) {
    assert_eq!((d.h, d.w), (28, 28), "{what}");
    assert_eq!(d.images.len(), d.n * 28 * 28, "{what}");
    assert!(d.images.iter().all(|v| (0.0..=1.0).contains(v)), "{what}");
    // Both datasets are light ink on a zero background: mostly zeros, some full-bright pixels.
    let zeros = d.images.iter().filter(|&&v| v == 0.0).count();
    assert!(zeros > d.images.len() / 3, "{what}: {zeros} zero pixels");
    assert!(d.images.contains(&1.0), "{what}");
}

#[test]
fn mnist_subsets_have_the_documented_sizes_and_balance() {
    let train = data::mnist(Split::Train).unwrap();
    let test = data::mnist(Split::Test).unwrap();
    assert_eq!((train.n, test.n), (12_000, 2_000));
    assert_eq!(train.class_counts()[1], 1351, "the README's counts");
    assert_eq!(test.class_counts()[0], 175, "the README's counts");
    assert_eq!(train.classes[3], "3");
    for (d, what) in [(&train, "mnist train"), (&test, "mnist test")] {
        assert_pixels(d, what);
        assert_balanced(d, what);
    }
    // The well-known first training label of MNIST is a 5, the first test label a 7.
    assert_eq!((train.labels[0], test.labels[0]), (5, 7));
    // Normalisation fitted on the training split: the mean of MNIST pixels is about 0.13.
    let norm = Normalization::fit(&train);
    assert!((norm.mean - 0.1307).abs() < 0.01, "{norm:?}");
    assert!((norm.std - 0.3081).abs() < 0.01, "{norm:?}");
}

#[test]
fn fashion_subsets_have_the_documented_sizes_and_balance() {
    let train = data::fashion(Split::Train).unwrap();
    let test = data::fashion(Split::Test).unwrap();
    assert_eq!((train.n, test.n), (12_000, 2_000));
    assert_eq!(train.class_counts()[0], 1122, "the README's counts");
    assert_eq!(train.classes[9], "Ankle boot");
    for (d, what) in [(&train, "fashion train"), (&test, "fashion test")] {
        assert_pixels(d, what);
        assert_balanced(d, what);
    }
    // The first Fashion-MNIST training image is an ankle boot, the first test image too.
    assert_eq!(train.class_name(0), "Ankle boot");
    assert_eq!(test.class_name(0), "Ankle boot");
}

#[test]
fn per_class_subsets_for_transfer_learning() {
    let train = data::fashion(Split::Train).unwrap();
    for k in [10, 100] {
        let few = train.per_class(k, 42).unwrap();
        assert_eq!(few.class_counts(), vec![k; 10]);
        assert_eq!(few, train.per_class(k, 42).unwrap());
    }
    let (tr, val) = train.train_val_split(2_000, 1).unwrap();
    assert_eq!((tr.n, val.n), (10_000, 2_000));
}

#[test]
fn photos_and_font_are_embedded() {
    assert_eq!(
        data::photo_names(),
        [
            "camera",
            "coins",
            "chelsea",
            "coffee",
            "astronaut",
            "brick",
            "horse"
        ]
    );
    assert_eq!(data::photo("astronaut").unwrap().dimensions(), (256, 256));
    assert!(data::font_bytes().len() > 700_000);
}
