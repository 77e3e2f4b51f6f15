//! The shipped catalogue seeds with the standard's reference limits, and responsibility rules
//! route by category × territory × level with priorities and fallbacks.

use jz_domain::calendar::{TimeLimit, TimeUnit};
use jz_domain::category::{CategoryKind, EvaluationDomain, Stage, Urgency, seed_from_csv};
use jz_domain::division::{DivisionCode, DivisionLevel};
use jz_domain::responsibility::{
    CategoryScope, Placement, ResponsibilityRule, Routing, RuleBook, Territory, route,
};
use proptest::prelude::*;

const CATALOGUE: &str = include_str!("../../../data/categories_gbt47678_5_2026.csv");
const HOTLINE: &str = include_str!("../../../data/categories_hotline_ext.csv");

fn limit(amount: u32, unit: TimeUnit) -> TimeLimit {
    TimeLimit { amount, unit }
}

#[test]
fn the_catalogue_seeds_with_reference_limits() {
    let catalogue = seed_from_csv(CATALOGUE).unwrap();
    assert_eq!(catalogue.parts.len(), 153);
    assert_eq!(
        catalogue.categories.len(),
        250,
        "153 part-abnormal + 97 event matters"
    );
    let get = |code: &str| {
        catalogue
            .categories
            .iter()
            .find(|c| c.code == code)
            .unwrap()
    };
    let garbage = get("06010");
    assert_eq!(garbage.name, "暴露垃圾");
    assert_eq!(garbage.kind, CategoryKind::Matter);
    assert_eq!(garbage.domain, EvaluationDomain::Objective);
    assert_eq!(
        garbage.limits.get(Stage::Handle, Urgency::Normal),
        limit(4, TimeUnit::WorkingHours)
    );
    assert_eq!(
        get("06012").limits.get(Stage::Handle, Urgency::Normal),
        limit(2, TimeUnit::WorkingHours)
    );
    assert_eq!(
        get("06001").limits.get(Stage::Handle, Urgency::Normal),
        limit(20, TimeUnit::WorkingDays)
    );
    let cover = get("01001");
    assert_eq!(cover.name, "供水井盖异常");
    assert_eq!(cover.urgency, Urgency::Urgent);
    assert_eq!(
        cover.limits.get(Stage::Handle, Urgency::Urgent),
        limit(6, TimeUnit::NaturalHours)
    );
    assert_eq!(
        garbage.limits.get(Stage::Verify, Urgency::Normal),
        limit(30, TimeUnit::NaturalMinutes)
    );
    for category in &catalogue.categories {
        assert!(
            category.problems().is_empty(),
            "{}: {:?}",
            category.code,
            category.problems()
        );
    }

    let hotline = seed_from_csv(HOTLINE).unwrap();
    let complaint = hotline
        .categories
        .iter()
        .find(|c| c.code == "R3001")
        .unwrap();
    assert_eq!(complaint.kind, CategoryKind::Hotline);
    assert_eq!(complaint.domain, EvaluationDomain::Satisfaction);
    assert_eq!(
        complaint.limits.get(Stage::Handle, Urgency::Normal),
        limit(15, TimeUnit::WorkingDays)
    );
    let consultation = hotline
        .categories
        .iter()
        .find(|c| c.code == "R1001")
        .unwrap();
    assert_eq!(
        consultation.limits.get(Stage::Handle, Urgency::Normal),
        limit(2, TimeUnit::WorkingDays)
    );
}

#[test]
fn bad_catalogue_lines_are_named() {
    let error =
        seed_from_csv("kind,major_code,major_name,code,name\nmatter,06,x,0601,短码\n").unwrap_err();
    assert_eq!(error.line, 2);
    assert!(error.problem.contains("0601"), "{error}");
    let error =
        seed_from_csv("kind,major_code,major_name,code,name\nthing,06,x,06010,y\n").unwrap_err();
    assert!(error.problem.contains("unknown kind"), "{error}");
}

fn code(text: &str) -> DivisionCode {
    DivisionCode::parse(text).unwrap()
}

fn rule(
    id: &str,
    scope: &str,
    territory: &str,
    level: DivisionLevel,
    department: &str,
    priority: i32,
    fallback: bool,
) -> ResponsibilityRule {
    ResponsibilityRule {
        id: id.into(),
        category: scope.parse::<CategoryScope>().unwrap(),
        territory: match territory.strip_prefix("zone:") {
            Some(zone) => Territory::Zone(zone.into()),
            None => Territory::Division(code(territory)),
        },
        level,
        department: department.into(),
        priority,
        fallback,
    }
}

#[test]
fn routing_prefers_the_lowest_level_then_priority_then_fallback() {
    use DivisionLevel::*;
    let divisions = [
        code("310101002003"),
        code("310101002000"),
        code("310101000000"),
    ];
    let zones = ["bund".to_owned()];
    let at = Placement {
        divisions: &divisions,
        zones: &zones,
    };
    let rules = vec![
        rule(
            "city-all",
            "*",
            "310000000000",
            City,
            "city-urban",
            0,
            false,
        ),
        rule(
            "district-garbage",
            "06",
            "310101000000",
            District,
            "hp-sanitation",
            5,
            false,
        ),
        rule(
            "street-garbage",
            "06010",
            "310101002000",
            Street,
            "street-2",
            1,
            false,
        ),
        rule(
            "zone-ads",
            "07",
            "zone:bund",
            Street,
            "bund-admin",
            9,
            false,
        ),
        rule(
            "other-street",
            "06010",
            "310101003000",
            Street,
            "street-3",
            99,
            false,
        ),
        rule(
            "fallback",
            "*",
            "310101000000",
            District,
            "hp-office",
            0,
            true,
        ),
    ];
    let department = |routing: Routing| match routing {
        Routing::Department { department, .. } => department,
        Routing::Queue { reason, .. } => panic!("queued: {reason}"),
    };
    // Street level first: the street's own rule beats the district's higher priority.
    assert_eq!(department(route(&rules, "06010", at, Street)), "street-2");
    // Another 06 matter has no street rule: the district's.
    assert_eq!(
        department(route(&rules, "06012", at, Street)),
        "hp-sanitation"
    );
    // A zone rule.
    assert_eq!(department(route(&rules, "07001", at, Street)), "bund-admin");
    // Hotline requests: only the city-wide rule covers them.
    assert_eq!(department(route(&rules, "R3001", at, Street)), "city-urban");
    // Without the city rule, the fallback.
    let no_city: Vec<_> = rules
        .iter()
        .filter(|r| r.id != "city-all")
        .cloned()
        .collect();
    assert_eq!(
        department(route(&no_city, "R3001", at, Street)),
        "hp-office"
    );
    // A tie at the top priority goes to the dispatcher with the candidates.
    let mut tied = rules.clone();
    tied.push(rule(
        "street-garbage-2",
        "06010",
        "310101002000",
        Street,
        "property-co",
        1,
        false,
    ));
    match route(&tied, "06010", at, Street) {
        Routing::Queue { reason, candidates } => {
            assert!(reason.contains("different departments"), "{reason}");
            assert_eq!(
                candidates,
                vec!["property-co".to_owned(), "street-2".to_owned()]
            );
        }
        other => panic!("{other:?}"),
    }
    // Nothing matches at all: the queue says so.
    match route(&[], "06010", at, Street) {
        Routing::Queue { reason, candidates } => {
            assert!(reason.contains("no responsibility rule"), "{reason}");
            assert!(candidates.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

/// Random rules over a few categories, territories, levels, departments and priorities: ties,
/// fallbacks, zones and every kind of category scope occur.
fn arbitrary_rule() -> impl Strategy<Value = ResponsibilityRule> {
    let scopes = ["*", "06", "07", "R3", "06010", "06012", "07001", "R3001"];
    let territories = [
        "310000000000",
        "310100000000",
        "310101000000",
        "310101002001",
        "310000100000",
        "310101002000",
        "310101003000",
        "310104000000",
        "zone:bund",
        "zone:park",
    ];
    let levels = [
        DivisionLevel::Street,
        DivisionLevel::District,
        DivisionLevel::City,
    ];
    (
        0..scopes.len(),
        0..territories.len(),
        0..levels.len(),
        0..4usize,
        0..3i32,
        proptest::bool::weighted(0.2),
        0..1_000_000u32,
    )
        .prop_map(
            move |(scope, territory, level, department, priority, fallback, id)| {
                rule(
                    &format!("rule-{id:06}"),
                    scopes[scope],
                    territories[territory],
                    levels[level],
                    &format!("department-{department}"),
                    priority,
                    fallback,
                )
            },
        )
}

proptest! {
    /// The index answers exactly what reading every rule answers: the department or the queue
    /// with its reason and candidates, and the rule that decided.
    #[test]
    fn the_rule_book_routes_as_reading_every_rule_does(
        rules in proptest::collection::vec(arbitrary_rule(), 0..40),
        category in prop::sample::select(vec!["06010", "06012", "06099", "07001", "R3001", "08001"]),
        street in prop::sample::select(vec!["310101002000", "310101003000", "310104005000"]),
        in_zone in any::<bool>(),
        from in prop::sample::select(vec![DivisionLevel::Street, DivisionLevel::District, DivisionLevel::City]),
    ) {
        let district = format!("{}000000", &street[..6]);
        let divisions = [code(&format!("{}001", &street[..9])), code(street), code(&district)];
        let zones = if in_zone { vec!["bund".to_owned()] } else { Vec::new() };
        let at = Placement { divisions: &divisions, zones: &zones };
        let book = RuleBook::new(rules.clone());
        prop_assert_eq!(book.all(), rules.as_slice());
        prop_assert_eq!(book.route(category, at, from), route(&rules, category, at, from));
    }
}

#[test]
fn category_scopes_parse_strictly() {
    assert_eq!("*".parse::<CategoryScope>().unwrap(), CategoryScope::Any);
    assert_eq!(
        "06".parse::<CategoryScope>().unwrap(),
        CategoryScope::Major("06".into())
    );
    assert_eq!(
        "R3".parse::<CategoryScope>().unwrap(),
        CategoryScope::Major("R3".into())
    );
    assert_eq!(
        "R3001".parse::<CategoryScope>().unwrap(),
        CategoryScope::Code("R3001".into())
    );
    for bad in ["", "6", "0601", "060100", "XX", "R", "R30"] {
        assert!(bad.parse::<CategoryScope>().is_err(), "{bad}");
    }
}
