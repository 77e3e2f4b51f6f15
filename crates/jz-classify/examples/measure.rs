//! Measures the shipped classifier and the alternatives its configuration was chosen from:
//! 5-fold cross-validation on the `train` split (what the choices rest on) beside the held-out
//! `test` split, then the confirmation-threshold sweep and the test split's misses. Run with
//! `cargo run --release -p jz-classify --example measure`.

use jz_classify::{
    CONFIRM_THRESHOLD, CharBigrams, Classifier, Example, FeatureConfig, Prior, TrainConfig,
    evaluate, shipped, shipped_categories, shipped_test_set, shipped_train_set,
};

const FOLDS: usize = 5;

/// (top-1 confidence, right?, right among the first three?) of every train example, each
/// classified by a model trained on the other folds (fold = position modulo FOLDS, so every
/// category is spread over all folds).
fn cross_validated(config: TrainConfig, train: &[Example<'_>]) -> Vec<(f64, bool, bool)> {
    let categories = shipped_categories();
    let mut answers = Vec::with_capacity(train.len());
    for fold in 0..FOLDS {
        let kept: Vec<Example<'_>> = train
            .iter()
            .enumerate()
            .filter(|(i, _)| i % FOLDS != fold)
            .map(|(_, e)| *e)
            .collect();
        let classifier = Classifier::train_with(config, &categories, &kept).unwrap();
        for example in train.iter().skip(fold).step_by(FOLDS) {
            let candidates = classifier.classify(example.text, 3);
            answers.push((
                candidates.first().map_or(0.0, |c| c.confidence),
                candidates.first().is_some_and(|c| c.code == example.code),
                candidates.iter().any(|c| c.code == example.code),
            ));
        }
    }
    answers
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn main() {
    let train = shipped_train_set();
    let test = shipped_test_set();
    let categories = shipped_categories();
    println!(
        "corpus: {} train, {} test; {} categories to choose from",
        train.len(),
        test.len(),
        categories.len()
    );
    println!("bigrams      prior     alpha  names | cv top1 cv top3 | test top1 test top3");
    let bigrams = [
        CharBigrams::Off,
        CharBigrams::OfText,
        CharBigrams::InsideWords,
        CharBigrams::OfKeptWords,
    ];
    for char_bigrams in bigrams {
        for prior in [Prior::Uniform, Prior::Examples] {
            for smoothing in [0.5, 1.0, 2.0] {
                for name_weight in [0.0, 3.0, 10.0, 30.0] {
                    let config = TrainConfig {
                        features: FeatureConfig { char_bigrams },
                        smoothing,
                        name_weight,
                        prior,
                    };
                    let answers = cross_validated(config, &train);
                    let cv1 = share(answers.iter().filter(|a| a.1).count(), answers.len());
                    let cv3 = share(answers.iter().filter(|a| a.2).count(), answers.len());
                    let classifier = Classifier::train_with(config, &categories, &train).unwrap();
                    let held = evaluate(&classifier, &test, 0.0);
                    println!(
                        "{:<12} {:<9} {smoothing:>5.1} {name_weight:>6.1} | {cv1:>7.3} {cv3:>7.3} | {:>9.3} {:>9.3}",
                        format!("{char_bigrams:?}"),
                        format!("{prior:?}"),
                        held.top1,
                        held.top3,
                    );
                }
            }
        }
    }

    let classifier = shipped();
    println!("\nshipped: {:?}", classifier.config());
    println!("threshold | cv: below top1-above | test: below top1-above");
    let answers = cross_validated(classifier.config(), &train);
    for threshold in [
        0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 0.999,
    ] {
        let above: Vec<bool> = answers
            .iter()
            .filter(|a| a.0 >= threshold)
            .map(|a| a.1)
            .collect();
        let right = above.iter().filter(|r| **r).count();
        let held = evaluate(classifier, &test, threshold);
        println!(
            "{threshold:>9.3} | {:>5} {:>10.3} | {:>5} {:>10.3}",
            answers.len() - above.len(),
            share(right, above.len()),
            held.below_threshold,
            held.top1_above_threshold
        );
    }
    let held = evaluate(classifier, &test, CONFIRM_THRESHOLD);
    println!(
        "\ntest at CONFIRM_THRESHOLD {CONFIRM_THRESHOLD}: top-1 {:.3}, top-3 {:.3}, {} of {} to confirm, top-1 above {:.3}; misses:",
        held.top1, held.top3, held.below_threshold, held.examples, held.top1_above_threshold
    );
    for miss in &held.misses {
        println!(
            "  {} {}/{} -> {:?}",
            miss.code, miss.missed, miss.examples, miss.chosen_instead
        );
    }
}
