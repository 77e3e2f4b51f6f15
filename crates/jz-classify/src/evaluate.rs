//! Measuring a classifier on labelled examples: top-1 and top-3 accuracy, how many answers
//! fall below the confirmation threshold, and which categories are missed.

use std::collections::BTreeMap;

use crate::model::{Classifier, Example};

/// What a classifier achieved on a labelled set.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Examples measured.
    pub examples: usize,
    /// Share of examples whose first candidate is the right code.
    pub top1: f64,
    /// Share of examples whose right code is among the first three candidates.
    pub top3: f64,
    /// Examples whose first candidate's confidence is below the threshold (or that yield no
    /// candidate): an operator must confirm these.
    pub below_threshold: usize,
    /// Top-1 accuracy over the examples at or above the threshold; 0 when there are none.
    pub top1_above_threshold: f64,
    /// The categories with at least one top-1 miss, by code.
    pub misses: Vec<CategoryMisses>,
}

/// The top-1 misses of one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryMisses {
    pub code: String,
    /// Examples of this category measured.
    pub examples: usize,
    /// Examples of this category whose first candidate was another code.
    pub missed: usize,
    /// The codes chosen instead, with how often, most frequent first (ties by code); `""`
    /// stands for no candidate at all.
    pub chosen_instead: Vec<(String, usize)>,
}

/// Classifies every example and compares with its label; `threshold` is the top-1
/// confidence below which an answer would go to an operator for confirmation.
pub fn evaluate(classifier: &Classifier, test: &[Example<'_>], threshold: f64) -> Evaluation {
    let mut top1 = 0_usize;
    let mut top3 = 0_usize;
    let mut below = 0_usize;
    let mut above_right = 0_usize;
    let mut per_code: BTreeMap<&str, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for example in test {
        let candidates = classifier.classify(example.text, 3);
        let first = candidates.first();
        let right = first.is_some_and(|c| c.code == example.code);
        top1 += usize::from(right);
        top3 += usize::from(candidates.iter().any(|c| c.code == example.code));
        if first.is_some_and(|c| c.confidence >= threshold) {
            above_right += usize::from(right);
        } else {
            below += 1;
        }
        let (seen, wrong) = per_code.entry(example.code).or_default();
        *seen += 1;
        if !right {
            let chosen = first.map(|c| c.code.clone()).unwrap_or_default();
            *wrong.entry(chosen).or_default() += 1;
        }
    }
    let share = |part: usize, whole: usize| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    };
    let misses = per_code
        .into_iter()
        .filter(|(_, (_, wrong))| !wrong.is_empty())
        .map(|(code, (examples, wrong))| {
            let mut chosen_instead: Vec<(String, usize)> = wrong.into_iter().collect();
            chosen_instead.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            CategoryMisses {
                code: code.to_owned(),
                examples,
                missed: chosen_instead.iter().map(|(_, n)| n).sum(),
                chosen_instead,
            }
        })
        .collect();
    Evaluation {
        examples: test.len(),
        top1: share(top1, test.len()),
        top3: share(top3, test.len()),
        below_threshold: below,
        top1_above_threshold: share(above_right, test.len() - below),
        misses,
    }
}
