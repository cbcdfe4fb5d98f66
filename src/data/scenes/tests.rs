//! Tests of the scene generator: determinism, and the invariants every scene must satisfy
//! (exact boxes, masks agreeing with images, counts and overlaps within the configuration).

use std::time::Instant;

use super::*;

fn digits() -> Dataset {
    mnist(Split::Test).unwrap()
}

fn config(size: usize, kinds: SceneKinds, seed: u64) -> SceneConfig {
    SceneConfig {
        size,
        kinds,
        seed,
        ..SceneConfig::default()
    }
}

/// Every property the module documentation promises, for one scene.
fn check_scene(scene: &Scene, cfg: &SceneConfig, classes: usize) {
    let size = cfg.size;
    let len = size * size;
    assert_eq!(scene.image.len(), len);
    assert_eq!(scene.mask.len(), len);
    assert_eq!(scene.instances.len(), len);
    assert!(
        cfg.objects.contains(&scene.boxes.len()),
        "{} objects",
        scene.boxes.len()
    );
    assert!(scene.image.iter().all(|v| (0.0..=1.0).contains(v)));
    for p in 0..len {
        let above = scene.image[p] > MASK_THRESHOLD;
        assert_eq!(above, scene.mask[p] != 0, "pixel {p}: image vs mask");
        assert_eq!(
            above,
            scene.instances[p] != 0,
            "pixel {p}: image vs instances"
        );
        if let Some(k) = usize::from(scene.instances[p]).checked_sub(1) {
            assert_eq!(usize::from(scene.mask[p]), scene.boxes[k].class);
        }
    }
    for (k, b) in scene.boxes.iter().enumerate() {
        assert!((1..classes).contains(&b.class), "class {}", b.class);
        assert!(
            b.x0 < b.x1 && b.x1 <= size && b.y0 < b.y1 && b.y1 <= size,
            "{b:?}"
        );
        let id = k as u8 + 1;
        let mine: Vec<(usize, usize)> = (0..len)
            .filter(|&p| scene.instances[p] == id)
            .map(|p| (p % size, p / size))
            .collect();
        // Every visible pixel of the object is inside its box...
        assert!(mine
            .iter()
            .all(|&(x, y)| (b.x0..b.x1).contains(&x) && (b.y0..b.y1).contains(&y)));
        // ... and each edge of the box touches one, so the box is the tightest.
        assert!(mine.iter().any(|&(x, _)| x == b.x0));
        assert!(mine.iter().any(|&(x, _)| x + 1 == b.x1));
        assert!(mine.iter().any(|&(_, y)| y == b.y0));
        assert!(mine.iter().any(|&(_, y)| y + 1 == b.y1));
        for other in &scene.boxes[k + 1..] {
            assert!(b.iou(other) <= cfg.max_overlap, "{b:?} {other:?}");
        }
    }
}

#[test]
fn scenes_are_deterministic_by_seed_and_index() {
    let src = digits();
    let cfg = config(64, SceneKinds::Both, 7);
    let a = generate(&cfg, 12, Some(&src)).unwrap();
    assert_eq!(a, generate(&cfg, 12, Some(&src)).unwrap());
    // Scene i depends only on (seed, i): a shorter set is a prefix, a single scene matches.
    let b = generate(&cfg, 5, Some(&src)).unwrap();
    assert_eq!(b.images(), &a.images()[..5 * 64 * 64]);
    assert_eq!(b.boxes(), &a.boxes()[..5]);
    assert_eq!(scene(&cfg, 9, Some(&src)).unwrap(), a.scene(9).unwrap());
    assert!(a.scene(12).is_none());
    // Another seed, other scenes; and scenes of one set differ from each other.
    let c = generate(&SceneConfig { seed: 8, ..cfg }, 12, Some(&src)).unwrap();
    assert_ne!(a.images(), c.images());
    assert_ne!(a.scene(0).unwrap().image, a.scene(1).unwrap().image);
}

#[test]
fn every_scene_satisfies_the_invariants() {
    let src = digits();
    let crowded = SceneConfig {
        objects: 3..=6,
        scale: 14..=30,
        max_overlap: 0.05,
        ..config(96, SceneKinds::Both, 3)
    };
    let configs = [
        config(64, SceneKinds::Digits, 1),
        config(96, SceneKinds::Shapes, 2),
        config(80, SceneKinds::Both, 3),
        crowded,
    ];
    for cfg in configs {
        let set = generate(&cfg, 60, Some(&src)).unwrap();
        assert_eq!((set.len(), set.size()), (60, cfg.size));
        assert_eq!(set.images().len(), 60 * cfg.size * cfg.size);
        assert_eq!(set.masks().len(), set.images().len());
        for i in 0..set.len() {
            check_scene(&set.scene(i).unwrap(), &cfg, set.class_names().len());
        }
    }
}

#[test]
fn class_numbering_follows_the_kinds() {
    let src = digits();
    let both = class_names(&SceneConfig::default(), Some(&src)).unwrap();
    assert_eq!(both.len(), 14);
    assert_eq!((both[0].as_str(), both[1].as_str()), ("background", "0"));
    assert_eq!((both[10].as_str(), both[11].as_str()), ("9", "square"));
    assert_eq!(both[13], "triangle");
    let shapes = class_names(&config(64, SceneKinds::Shapes, 0), None).unwrap();
    assert_eq!(shapes, ["background", "square", "disc", "triangle"]);
    let digit_names = class_names(&config(64, SceneKinds::Digits, 0), Some(&src)).unwrap();
    assert_eq!(digit_names.len(), 11);

    // Shapes-only scenes use every shape class and nothing else; digit scenes put digit d of
    // the source at class d + 1 (checked through a source with a single digit class kept).
    let set = generate(&config(64, SceneKinds::Shapes, 4), 40, None).unwrap();
    let mut seen = [false; 4];
    for b in set.boxes().iter().flatten() {
        seen[b.class] = true;
    }
    assert_eq!(seen, [false, true, true, true]);
    let sevens = src.only_classes(&[7]).unwrap();
    let sevens = Dataset {
        labels: vec![7; sevens.n],
        classes: src.classes.clone(),
        ..sevens
    };
    let set = generate(&config(64, SceneKinds::Digits, 5), 10, Some(&sevens)).unwrap();
    assert!(set.boxes().iter().flatten().all(|b| b.class == 8));
    assert!(set.masks().iter().all(|&m| m == 0 || m == 8));
}

#[test]
fn a_single_object_box_is_the_box_of_its_bright_pixels() {
    // With one object nothing is covered: the box must enclose exactly the pixels above the
    // threshold, computed here from the image alone.
    let src = digits();
    for kinds in [SceneKinds::Digits, SceneKinds::Shapes] {
        let cfg = SceneConfig {
            objects: 1..=1,
            ..config(64, kinds, 6)
        };
        let set = generate(&cfg, 20, Some(&src)).unwrap();
        for i in 0..set.len() {
            let s = set.scene(i).unwrap();
            let lit: Vec<usize> = (0..64 * 64)
                .filter(|&p| s.image[p] > MASK_THRESHOLD)
                .collect();
            let xs = lit.iter().map(|p| p % 64);
            let ys = lit.iter().map(|p| p / 64);
            let b = s.boxes[0];
            assert_eq!(b.x0, xs.clone().min().unwrap());
            assert_eq!(b.x1, xs.max().unwrap() + 1);
            assert_eq!(b.y0, ys.clone().min().unwrap());
            assert_eq!(b.y1, ys.max().unwrap() + 1);
        }
    }
}

#[test]
fn covered_objects_get_the_box_of_what_remains() {
    // Overlap allowed, many objects: some objects must end up partly covered, and their
    // boxes (checked tight by check_scene) are then smaller than what was drawn.
    let cfg = SceneConfig {
        objects: 4..=6,
        max_overlap: 1.0,
        ..config(64, SceneKinds::Shapes, 9)
    };
    let set = generate(&cfg, 30, None).unwrap();
    let mut covered = 0;
    for i in 0..set.len() {
        let s = set.scene(i).unwrap();
        check_scene(&s, &cfg, 4);
        let owned =
            (1..=s.boxes.len()).map(|id| s.instances.iter().filter(|&&v| v as usize == id).count());
        let classes = s.mask.iter().filter(|&&m| m != 0).count();
        assert_eq!(owned.sum::<usize>(), classes);
        covered += s
            .boxes
            .iter()
            .enumerate()
            .filter(|(k, b)| {
                let id = *k as u8 + 1;
                let inside = (b.y0..b.y1)
                    .flat_map(|y| (b.x0..b.x1).map(move |x| y * 64 + x))
                    .filter(|&p| s.instances[p] != 0 && s.instances[p] != id)
                    .count();
                inside > 0
            })
            .count();
    }
    assert!(covered > 0, "no box shares pixels with another object");
}

#[test]
fn invalid_configurations_are_errors() {
    let src = digits();
    let base = SceneConfig::default();
    let bad = [
        SceneConfig {
            size: 63,
            ..base.clone()
        },
        SceneConfig {
            size: 97,
            ..base.clone()
        },
        SceneConfig {
            objects: RangeInclusive::new(3, 1),
            ..base.clone()
        },
        SceneConfig {
            objects: 1..=33,
            ..base.clone()
        },
        SceneConfig {
            scale: 4..=20,
            ..base.clone()
        },
        SceneConfig {
            scale: 20..=65,
            ..base.clone()
        },
        SceneConfig {
            max_overlap: f32::NAN,
            ..base.clone()
        },
        SceneConfig {
            max_overlap: 1.5,
            ..base.clone()
        },
    ];
    for cfg in &bad {
        assert!(generate(cfg, 1, Some(&src)).is_err(), "{cfg:?}");
    }
    // Digits without a source, or with a broken one.
    let msg = generate(&base, 1, None).unwrap_err().to_string();
    assert!(msg.contains("source"), "{msg}");
    let empty = src.select(&[]);
    assert!(generate(&base, 1, Some(&empty)).is_err());
    let broken = Dataset {
        n: src.n + 1,
        ..src.clone()
    };
    assert!(generate(&base, 1, Some(&broken)).is_err());
    assert!(generate(&base, MAX_SCENES + 1, Some(&src)).is_err());
    // A canvas that cannot hold the objects fails with a message instead of looping.
    let crowded = SceneConfig {
        objects: 20..=20,
        scale: 40..=40,
        max_overlap: 0.0,
        ..config(64, SceneKinds::Shapes, 0)
    };
    let msg = generate(&crowded, 1, None).unwrap_err().to_string();
    assert!(msg.contains("could not place 20 objects"), "{msg}");
    // Zero objects is allowed: empty scenes are background only.
    let empty_scenes = SceneConfig {
        objects: 0..=0,
        ..base.clone()
    };
    let set = generate(&empty_scenes, 3, Some(&src)).unwrap();
    assert!(set.images().iter().all(|&v| v == 0.0) && set.boxes().iter().all(Vec::is_empty));
}

#[test]
fn mnist_scenes_load_the_asked_split() {
    let cfg = config(96, SceneKinds::Digits, 2);
    let train = mnist_scenes(&cfg, 4, Split::Train).unwrap();
    let test = mnist_scenes(&cfg, 4, Split::Test).unwrap();
    assert_ne!(train.images(), test.images());
    assert_eq!(train.class_names().len(), 11);
    // Shapes need no digits at all.
    let shapes = mnist_scenes(&config(64, SceneKinds::Shapes, 2), 4, Split::Train).unwrap();
    assert_eq!(shapes.class_names().len(), 4);
}

#[test]
fn two_hundred_scenes_take_well_under_a_second() {
    let src = digits();
    let cfg = SceneConfig {
        objects: 2..=4,
        ..config(96, SceneKinds::Both, 1)
    };
    let start = Instant::now();
    let set = generate(&cfg, 200, Some(&src)).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(set.len(), 200);
    // Unoptimised test builds are several times slower; the bound is for release.
    let limit = if cfg!(debug_assertions) { 5.0 } else { 0.5 };
    assert!(elapsed < limit, "200 scenes took {elapsed:.3} s");
}
