//! Behaviour of the classifier at its public boundary: obvious reports land on their category,
//! training refuses bad input, and answers are well-formed and deterministic.

use jz_classify::{
    Category, Classifier, Example, TrainConfig, TrainError, shipped, shipped_categories,
};
use proptest::prelude::*;

/// Checks that the shipped classifier puts one of `expected` among its first three candidates
/// for `text`.
fn check(text: &str, expected: &[&str]) {
    let candidates = shipped().classify(text, 3);
    assert!(
        candidates
            .iter()
            .any(|c| expected.contains(&c.code.as_str())),
        "{text:?}: expected one of {expected:?} in the top 3, got {candidates:?}"
    );
}

#[test]
fn obvious_reports_land_on_their_category() {
    check("小区门口垃圾堆了好几天没人清理", &["06010", "06042"]);
    check("人行道上一个污水井盖不见了，晚上很危险", &["01002"]);
    check("马路中间有个大坑，车子开过去颠得厉害", &["06013"]);
    check("下雨以后路口积水，雨水口被树叶堵住了", &["01004"]);
    check("我们这条路的路灯坏了，晚上一片漆黑", &["01037"]);
    check("楼下烧烤摊天天晚上在人行道上烤串，烟熏火燎", &["06029"]);
    check("工地半夜还在打桩，吵得整栋楼睡不着", &["08001"]);
    check("共享单车把地铁站出口堵住了", &["09011"]);
    check("小区消防通道被私家车占满了", &["09012"]);
    check("电线杆上贴满了办证小广告", &["07001"]);
    check("饭店油烟直排，熏得我家窗户全是油", &["06027"]);
    check("来电人咨询居住证积分的申请条件", &["R1001", "R1002"]);
    check(
        "来电人反映公司拖欠其三个月工资，要求劳动监察部门处理",
        &["R3005"],
    );
    check("物业不作为，电梯坏了一个月没人修", &["R3001"]);
    check("楼上邻居半夜跳绳，沟通了好几次都不听", &["R3002"]);
    check("楼道里有人给电瓶车充电，有火灾隐患", &["R4002"]);
}

#[test]
fn a_category_without_examples_is_reached_through_its_name() {
    // Neither category has a single example in the corpus: only its catalogue name speaks.
    check("路边的自动售货机坏了", &["01045"]);
    check("这条路上的减速带坏了", &["02043"]);
}

#[test]
fn the_shipped_classifier_knows_every_matter_and_hotline_category() {
    let categories = shipped_categories();
    assert_eq!(shipped().categories(), categories.len());
    assert_eq!(
        categories.len(),
        250 + 14,
        "250 matter rows + 14 hotline rows"
    );
    assert!(categories.iter().all(|c| c.code != "01016"), "absent code");
}

#[test]
fn training_names_an_example_whose_code_is_not_a_category() {
    let categories = [Category {
        code: "06010",
        name: "暴露垃圾",
    }];
    let examples = [
        Example {
            text: "门口有垃圾",
            code: "06010",
        },
        Example {
            text: "井盖丢了",
            code: "01001",
        },
    ];
    let error = Classifier::train(&categories, &examples).unwrap_err();
    assert_eq!(
        error,
        TrainError::UnknownCode {
            index: 1,
            text: "井盖丢了".to_owned(),
            code: "01001".to_owned(),
        }
    );
    assert!(error.to_string().contains("01001"), "{error}");
}

#[test]
fn training_refuses_no_categories_and_duplicate_categories() {
    assert_eq!(
        Classifier::train(&[], &[]).unwrap_err(),
        TrainError::NoCategories
    );
    let twice = [
        Category {
            code: "06010",
            name: "暴露垃圾",
        },
        Category {
            code: "06010",
            name: "垃圾",
        },
    ];
    assert_eq!(
        Classifier::train(&twice, &[]).unwrap_err(),
        TrainError::DuplicateCategory {
            code: "06010".to_owned()
        }
    );
}

#[test]
fn training_refuses_a_configuration_that_breaks_the_arithmetic() {
    let categories = [Category {
        code: "06010",
        name: "暴露垃圾",
    }];
    for (smoothing, name_weight) in [(0.0, 1.0), (-1.0, 1.0), (f64::NAN, 1.0), (1.0, -1.0)] {
        let config = TrainConfig {
            smoothing,
            name_weight,
            ..TrainConfig::default()
        };
        assert_eq!(
            Classifier::train_with(config, &categories, &[]).unwrap_err(),
            TrainError::InvalidConfig,
            "{config:?}"
        );
    }
}

#[test]
fn texts_without_known_features_yield_no_candidate() {
    for text in ["", "   ", "，。！？", "12345", "的了吗"] {
        assert_eq!(shipped().classify(text, 3), vec![], "{text:?}");
    }
    assert_eq!(shipped().classify("垃圾", 0), vec![]);
}

#[test]
fn classifiers_trained_apart_on_the_same_data_answer_alike() {
    let categories = shipped_categories();
    let examples = jz_classify::shipped_train_set();
    let again = Classifier::train(&categories, &examples).unwrap();
    for example in jz_classify::shipped_test_set() {
        assert_eq!(
            again.classify(example.text, 5),
            shipped().classify(example.text, 5),
            "{}",
            example.text
        );
    }
}

#[test]
fn the_classifier_is_shared_between_threads() {
    fn send_and_sync<T: Send + Sync + std::fmt::Debug>() {}
    send_and_sync::<Classifier>();
    let debug = format!("{:?}", shipped());
    assert!(debug.contains("categories: 264"), "{debug}");
}

/// Asserts the shape every answer must have.
fn well_formed(text: &str, top: usize) {
    let candidates = shipped().classify(text, top);
    assert!(candidates.len() <= top);
    let sum: f64 = candidates.iter().map(|c| c.confidence).sum();
    assert!(sum <= 1.0 + 1e-9, "{text:?}: confidences sum to {sum}");
    for pair in candidates.windows(2) {
        assert!(pair[0].confidence >= pair[1].confidence, "{candidates:?}");
    }
    assert!(
        candidates
            .iter()
            .all(|c| (0.0..=1.0).contains(&c.confidence))
    );
    assert_eq!(candidates, shipped().classify(text, top), "deterministic");
}

#[test]
fn all_candidates_together_hold_the_whole_posterior() {
    let all = shipped().classify("小区门口垃圾堆了好几天没人清理", usize::MAX);
    assert_eq!(all.len(), shipped().categories());
    let sum: f64 = all.iter().map(|c| c.confidence).sum();
    assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    well_formed("小区门口垃圾堆了好几天没人清理", 3);
}

proptest! {
    // A fixed seed and no regression files: the same cases on every run, nothing written.
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(47678),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_text_gets_a_well_formed_answer(text in "\\PC{0,40}", top in 0_usize..8) {
        well_formed(&text, top);
    }

    #[test]
    fn any_chinese_text_gets_a_well_formed_answer(text in "[\u{4E00}-\u{9FA5}，。 0-9a-z]{0,60}", top in 0_usize..8) {
        well_formed(&text, top);
    }
}
