//! The labelled corpus `data/classify/reports.csv` is well-formed: a known matter or hotline
//! code on every row, train and test rows for every category, no duplicate text.

use std::collections::{BTreeMap, HashMap, HashSet};

const REPORTS: &str = include_str!("../../../data/classify/reports.csv");
const GBT_CATALOGUE: &str = include_str!("../../../data/categories_gbt47678_5_2026.csv");
const HOTLINE_CATALOGUE: &str = include_str!("../../../data/categories_hotline_ext.csv");

fn rows(text: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows = reader.records().map(Result::unwrap).collect();
    (header, rows)
}

/// code → kind, over both catalogues.
fn kinds() -> HashMap<String, String> {
    [GBT_CATALOGUE, HOTLINE_CATALOGUE]
        .into_iter()
        .flat_map(|text| rows(text).1)
        .map(|row| (row[3].to_owned(), row[0].to_owned()))
        .collect()
}

#[test]
fn the_corpus_is_well_formed() {
    let (header, reports) = rows(REPORTS);
    assert_eq!(header, vec!["text", "code", "split"]);
    let kinds = kinds();
    let mut texts = HashSet::new();
    // code → (train rows, test rows)
    let mut per_code: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for row in &reports {
        assert_eq!(row.len(), 3, "{row:?}");
        let (text, code, split) = (&row[0], &row[1], &row[2]);
        assert!(!text.trim().is_empty() && text.trim() == text, "{row:?}");
        assert!(texts.insert(text), "duplicate text {text:?}");
        let kind = kinds.get(code).map(String::as_str);
        assert!(
            matches!(kind, Some("matter" | "hotline")),
            "{code} is {kind:?}, not a matter or hotline code: {text:?}"
        );
        let counts = per_code.entry(code).or_default();
        match split {
            "train" => counts.0 += 1,
            "test" => counts.1 += 1,
            other => panic!("unknown split {other:?} on {text:?}"),
        }
    }
    for (code, (train, test)) in &per_code {
        assert!(
            *train > 0 && *test > 0,
            "{code}: {train} train, {test} test"
        );
        assert!(train + test >= 15, "{code}: only {} rows", train + test);
    }
    assert!(per_code.len() >= 40, "{} categories", per_code.len());
    assert!(reports.len() >= 800, "{} rows", reports.len());
    let train: usize = per_code.values().map(|(train, _)| train).sum();
    let share = train as f64 / reports.len() as f64;
    assert!((0.65..=0.75).contains(&share), "train share {share}");
}

#[test]
fn no_test_text_repeats_a_train_text_nearly() {
    // Written apart: no test text may share a 12-character run with a train text.
    let (_, reports) = rows(REPORTS);
    let runs = |text: &str| -> HashSet<String> {
        let chars: Vec<char> = text.chars().collect();
        chars.windows(12).map(|w| w.iter().collect()).collect()
    };
    let train: HashSet<String> = reports
        .iter()
        .filter(|row| &row[2] == "train")
        .flat_map(|row| runs(&row[0]))
        .collect();
    for row in reports.iter().filter(|row| &row[2] == "test") {
        let shared: Vec<String> = runs(&row[0]).intersection(&train).cloned().collect();
        assert!(shared.is_empty(), "{:?} repeats {shared:?}", &row[0]);
    }
}
