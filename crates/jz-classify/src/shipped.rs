//! The embedded catalogue (GB/T 47678.5-2026 matters and the 12345 hotline extension) and the
//! labelled corpus, and the classifier trained on them.

use std::sync::OnceLock;

use crate::model::{Category, Classifier, Example};

const GBT_CATALOGUE: &str = include_str!("../../../data/categories_gbt47678_5_2026.csv");
const HOTLINE_CATALOGUE: &str = include_str!("../../../data/categories_hotline_ext.csv");
const REPORTS: &str = include_str!("../../../data/classify/reports.csv");

/// Which part of the corpus a labelled report belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    Train,
    Test,
}

/// The embedded data, parsed once: catalogue rows a case can be classified into (kind `matter`
/// or `hotline`; never `part`) and the corpus rows.
#[derive(Debug)]
struct Embedded {
    /// (code, name)
    categories: Vec<(String, String)>,
    /// (text, code, split)
    reports: Vec<(String, String, Split)>,
}

fn records(text: &'static str) -> impl Iterator<Item = csv::StringRecord> {
    csv::Reader::from_reader(text.as_bytes())
        .into_records()
        .map(|record| record.expect("the embedded CSV files are well-formed (tested)"))
}

fn embedded() -> &'static Embedded {
    static EMBEDDED: OnceLock<Embedded> = OnceLock::new();
    EMBEDDED.get_or_init(|| {
        // Catalogue columns: kind, major_code, major_name, code, name.
        let categories = records(GBT_CATALOGUE)
            .chain(records(HOTLINE_CATALOGUE))
            .filter(|row| matches!(&row[0], "matter" | "hotline"))
            .map(|row| (row[3].to_owned(), row[4].to_owned()))
            .collect();
        // Corpus columns: text, code, split.
        let reports = records(REPORTS)
            .map(|row| {
                let split = match &row[2] {
                    "train" => Split::Train,
                    "test" => Split::Test,
                    other => panic!("the corpus has an unknown split {other:?} (tested)"),
                };
                (row[0].to_owned(), row[1].to_owned(), split)
            })
            .collect();
        Embedded {
            categories,
            reports,
        }
    })
}

/// Every category a case can be classified into: the catalogue's matter rows, then the hotline
/// extension's rows, in file order.
pub fn shipped_categories() -> Vec<Category<'static>> {
    embedded()
        .categories
        .iter()
        .map(|(code, name)| Category { code, name })
        .collect()
}

fn split(wanted: Split) -> Vec<Example<'static>> {
    embedded()
        .reports
        .iter()
        .filter(|(_, _, split)| *split == wanted)
        .map(|(text, code, _)| Example { text, code })
        .collect()
}

/// The corpus's `train` split, on which [`shipped`] is trained.
pub fn shipped_train_set() -> Vec<Example<'static>> {
    split(Split::Train)
}

/// The corpus's `test` split, written apart from the train split; [`shipped`] never saw it.
pub fn shipped_test_set() -> Vec<Example<'static>> {
    split(Split::Test)
}

/// The classifier trained, on first use, on the embedded catalogue and the `train` split with
/// the default configuration.
pub fn shipped() -> &'static Classifier {
    static SHIPPED: OnceLock<Classifier> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        Classifier::train(&shipped_categories(), &shipped_train_set())
            .expect("every corpus code is in the catalogue (tested)")
    })
}
