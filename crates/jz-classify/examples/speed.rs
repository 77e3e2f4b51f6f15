//! Prints how long the shipped classifier takes to build and how many classifications per
//! second one thread makes. Run with `cargo run --release -p jz-classify --example speed`.
//! It only prints: timings depend on the machine and are asserted nowhere.

use std::hint::black_box;
use std::time::Instant;

use jz_classify::{Category, Classifier, shipped, shipped_test_set};

fn main() {
    // The first training in a process also loads jieba's dictionary; time that alone first.
    let started = Instant::now();
    let tiny = [Category {
        code: "06010",
        name: "暴露垃圾",
    }];
    black_box(Classifier::train(&tiny, &[]).unwrap());
    println!(
        "jieba dictionary: loaded in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let classifier = shipped();
    println!(
        "shipped(): trained in {:.0} ms after that ({} categories)",
        started.elapsed().as_secs_f64() * 1e3,
        classifier.categories()
    );

    let texts: Vec<&str> = shipped_test_set().iter().map(|e| e.text).collect();
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        for text in &texts {
            black_box(classifier.classify(black_box(text), 3));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let count = rounds * texts.len();
    let characters: usize = texts.iter().map(|t| t.chars().count()).sum::<usize>() * rounds;
    println!(
        "classify(text, 3): {count} classifications in {seconds:.2} s = {:.0} per second, one thread ({:.1} µs each, texts of {:.0} characters on average)",
        count as f64 / seconds,
        seconds * 1e6 / count as f64,
        characters as f64 / count as f64,
    );
}
