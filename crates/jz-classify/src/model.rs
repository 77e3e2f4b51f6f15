//! The multinomial naive-Bayes model: training from examples and catalogue names, and
//! classification into softmax-normalised candidates.

use std::collections::HashMap;
use std::fmt;

use crate::features::{CharBigrams, FeatureConfig, features};

/// A category a text may be classified into: a catalogue code and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category<'a> {
    pub code: &'a str,
    pub name: &'a str,
}

/// A labelled text: the report and the code of its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example<'a> {
    pub text: &'a str,
    pub code: &'a str,
}

/// One answer of [`Classifier::classify`]: a category code and the share of the posterior
/// probability it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub code: String,
    pub confidence: f64,
}

/// Why a classifier could not be trained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainError {
    #[error("no categories to classify into")]
    NoCategories,
    #[error("smoothing must be finite and above 0, and name weight finite and not negative")]
    InvalidConfig,
    #[error("category {code} is listed twice")]
    DuplicateCategory { code: String },
    #[error("example {index} ({text:?}) has the code {code}, which is not among the categories")]
    UnknownCode {
        index: usize,
        text: String,
        code: String,
    },
}

/// How the prior probability of a category is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// Every category is equally likely before the text is read.
    Uniform,
    /// Proportional to the category's examples + 1 (Laplace): categories that are reported
    /// (and therefore have examples) are preferred over catalogue entries known only by name.
    Examples,
}

/// The knobs of training. [`TrainConfig::default`] is what [`crate::shipped`] uses. Its values
/// were chosen by 5-fold cross-validation on the corpus's `train` split, never on the `test`
/// split (`cargo run --release -p jz-classify --example measure` prints the whole grid):
/// bigrams of the kept words (+4.5 points top-1 over words alone), add-one (Laplace)
/// smoothing, names worth 10 occurrences (+4.6 points over no name evidence) and the
/// example-count prior (+1.6 points over uniform).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    /// Added to every feature count of every category (1 = Laplace, add-one).
    pub smoothing: f64,
    /// How many occurrences each feature of a category's (segmented) name counts as.
    pub name_weight: f64,
    pub prior: Prior,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            features: FeatureConfig {
                char_bigrams: CharBigrams::OfKeptWords,
            },
            smoothing: 1.0,
            name_weight: 10.0,
            prior: Prior::Examples,
        }
    }
}

/// A trained classifier. Immutable after training, so it is shared freely between threads.
pub struct Classifier {
    config: TrainConfig,
    codes: Vec<String>,
    /// ln P(category).
    log_prior: Vec<f64>,
    /// ln P(feature | category) of a known feature the category never saw:
    /// ln(α / (total_c + α·|V|)).
    log_unseen: Vec<f64>,
    /// For each known feature, the categories that saw it and ln((count + α) / α): what the
    /// feature adds to that category's score on top of `log_unseen`.
    postings: HashMap<String, Vec<(u32, f64)>>,
}

impl fmt::Debug for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("config", &self.config)
            .field("categories", &self.codes.len())
            .field("vocabulary", &self.postings.len())
            .finish_non_exhaustive()
    }
}

impl Classifier {
    /// Trains with the default configuration.
    pub fn train(
        categories: &[Category<'_>],
        examples: &[Example<'_>],
    ) -> Result<Classifier, TrainError> {
        Classifier::train_with(TrainConfig::default(), categories, examples)
    }

    /// Trains on `examples`, with each category's name as extra evidence worth
    /// `config.name_weight` occurrences per feature, so a category without examples can still
    /// be proposed when a text uses the words of its name.
    pub fn train_with(
        config: TrainConfig,
        categories: &[Category<'_>],
        examples: &[Example<'_>],
    ) -> Result<Classifier, TrainError> {
        if categories.is_empty() {
            return Err(TrainError::NoCategories);
        }
        let smoothing_ok = config.smoothing.is_finite() && config.smoothing > 0.0;
        let weight_ok = config.name_weight.is_finite() && config.name_weight >= 0.0;
        if !(smoothing_ok && weight_ok) {
            return Err(TrainError::InvalidConfig);
        }
        let mut index: HashMap<&str, u32> = HashMap::with_capacity(categories.len());
        for (i, category) in categories.iter().enumerate() {
            let position = u32::try_from(i).expect("fewer than 2^32 categories");
            if index.insert(category.code, position).is_some() {
                return Err(TrainError::DuplicateCategory {
                    code: category.code.to_owned(),
                });
            }
        }
        let mut labelled = Vec::with_capacity(examples.len());
        for (i, example) in examples.iter().enumerate() {
            let Some(&class) = index.get(example.code) else {
                return Err(TrainError::UnknownCode {
                    index: i,
                    text: example.text.to_owned(),
                    code: example.code.to_owned(),
                });
            };
            labelled.push((class, example.text));
        }

        // One weighted document per category name and per example: (class, weight, features).
        let mut documents: Vec<(u32, f64, Vec<String>)> = Vec::new();
        for (class, category) in categories.iter().enumerate() {
            let class = u32::try_from(class).expect("fewer than 2^32 categories");
            documents.push((
                class,
                config.name_weight,
                features(category.name, config.features),
            ));
        }
        let mut examples_per_class = vec![0_usize; categories.len()];
        for &(class, text) in &labelled {
            documents.push((class, 1.0, features(text, config.features)));
            examples_per_class[class as usize] += 1;
        }
        // counts[feature] = per-category weighted occurrences.
        let mut counts: HashMap<String, Vec<(u32, f64)>> = HashMap::new();
        let mut totals = vec![0.0_f64; categories.len()];
        for (class, weight, found) in &documents {
            for feature in found {
                let list = counts.entry(feature.clone()).or_default();
                match list.iter_mut().find(|(c, _)| c == class) {
                    Some((_, count)) => *count += weight,
                    None => list.push((*class, *weight)),
                }
                totals[*class as usize] += weight;
            }
        }

        // With α smoothing and vocabulary V, P(f | c) = (count + α) / (total_c + α·|V|). It is
        // stored as the unseen value per category plus, per feature, a correction for the
        // categories that saw it, so a text is scored in time proportional to its features'
        // postings rather than to |V| × categories.
        let alpha = config.smoothing;
        let vocabulary = counts.len() as f64;
        let log_unseen = totals
            .iter()
            .map(|total| (alpha / (total + alpha * vocabulary)).ln())
            .collect();
        let log_prior = match config.prior {
            Prior::Uniform => vec![-(categories.len() as f64).ln(); categories.len()],
            Prior::Examples => {
                let all = (labelled.len() + categories.len()) as f64;
                examples_per_class
                    .iter()
                    .map(|n| ((n + 1) as f64 / all).ln())
                    .collect()
            }
        };
        let postings = counts
            .into_iter()
            .map(|(feature, mut list)| {
                list.sort_by_key(|&(class, _)| class);
                let list = list
                    .into_iter()
                    .map(|(class, count)| (class, ((count + alpha) / alpha).ln()))
                    .collect();
                (feature, list)
            })
            .collect();
        Ok(Classifier {
            config,
            codes: categories.iter().map(|c| c.code.to_owned()).collect(),
            log_prior,
            log_unseen,
            postings,
        })
    }

    /// The `top` most probable categories of `text`, most probable first (ties by code).
    /// Confidences are the posterior over *all* categories, so they sum to 1 over all of them
    /// and to at most 1 over the ones returned. A text without any feature the classifier
    /// knows (empty, punctuation only, words never seen) yields no candidate.
    pub fn classify(&self, text: &str, top: usize) -> Vec<Candidate> {
        if top == 0 {
            return Vec::new();
        }
        let Some(scores) = self.log_posterior(text) else {
            return Vec::new();
        };
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = weights.iter().sum();
        let mut ranked: Vec<(usize, f64)> =
            weights.into_iter().map(|w| w / sum).enumerate().collect();
        // Most confident first, ties by code: only the first `top` are ordered (hundreds of
        // categories, most of them tied near zero, made a full sort half of the classification).
        let order = |a: &(usize, f64), b: &(usize, f64)| {
            b.1.total_cmp(&a.1)
                .then_with(|| self.codes[a.0].cmp(&self.codes[b.0]))
        };
        if top < ranked.len() {
            ranked.select_nth_unstable_by(top - 1, order);
            ranked.truncate(top);
        }
        ranked.sort_by(order);
        ranked
            .into_iter()
            .map(|(class, confidence)| Candidate {
                code: self.codes[class].clone(),
                confidence,
            })
            .collect()
    }

    /// The number of categories the classifier chooses from.
    pub fn categories(&self) -> usize {
        self.codes.len()
    }

    /// The configuration the classifier was trained with.
    pub fn config(&self) -> TrainConfig {
        self.config
    }

    /// Unnormalised ln P(category) + Σ ln P(feature | category) over the known features of
    /// `text`; `None` when the text has none.
    fn log_posterior(&self, text: &str) -> Option<Vec<f64>> {
        let mut known = 0.0_f64;
        let mut scores = self.log_prior.clone();
        for feature in features(text, self.config.features) {
            let Some(list) = self.postings.get(&feature) else {
                continue;
            };
            known += 1.0;
            for &(class, delta) in list {
                scores[class as usize] += delta;
            }
        }
        if known == 0.0 {
            return None;
        }
        for (score, unseen) in scores.iter_mut().zip(&self.log_unseen) {
            *score += known * unseen;
        }
        Some(scores)
    }
}
