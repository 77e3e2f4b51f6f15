//! Zones (功能区), their types, evaluation indicators and goal clusters (目标簇).
//!
//! Each zone type carries a goal cluster — weighted targets on evaluation indicators — and a zone
//! may override its type's cluster. Clusters are data: validated here, stored by the store, and
//! every evaluation is read against them.

use std::fmt;

/// Whether a higher or a lower value of an indicator is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// An evaluation indicator: a stable code, names, the range its values live in and which way is
/// better.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Indicator {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub unit: &'static str,
    pub min: f64,
    pub max: f64,
    pub better: Better,
}

const fn rate(
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    better: Better,
) -> Indicator {
    Indicator {
        code,
        name_zh,
        name_en,
        unit: "ratio",
        min: 0.0,
        max: 1.0,
        better,
    }
}

/// The indicator catalogue (GB/T 30428.4 evaluation rates, the 12345 hotline's rates, and the
/// per-area counts goal clusters use).
pub const INDICATORS: &[Indicator] = &[
    rate(
        "valid_report_rate",
        "有效上报率",
        "valid-report rate",
        Better::Higher,
    ),
    rate(
        "accurate_registration_rate",
        "立案准确率",
        "accurate registration rate",
        Better::Higher,
    ),
    rate(
        "on_time_registration_rate",
        "按时立案率",
        "on-time registration rate",
        Better::Higher,
    ),
    rate(
        "on_time_dispatch_rate",
        "按时派遣率",
        "on-time dispatch rate",
        Better::Higher,
    ),
    rate(
        "accurate_dispatch_rate",
        "派遣准确率",
        "accurate dispatch rate",
        Better::Higher,
    ),
    rate("handling_rate", "处置率", "handling rate", Better::Higher),
    rate(
        "on_time_handling_rate",
        "按期处置率",
        "on-time handling rate",
        Better::Higher,
    ),
    rate("closure_rate", "结案率", "closure rate", Better::Higher),
    rate(
        "on_time_closure_rate",
        "按期结案率",
        "on-time closure rate",
        Better::Higher,
    ),
    rate(
        "overdue_closure_rate",
        "超期结案率",
        "overdue closure rate",
        Better::Lower,
    ),
    rate("rework_rate", "返工率", "rework rate", Better::Lower),
    rate(
        "on_time_verification_rate",
        "按时核实率",
        "on-time verification rate",
        Better::Higher,
    ),
    rate(
        "on_time_check_rate",
        "按时核查率",
        "on-time check rate",
        Better::Higher,
    ),
    rate(
        "missed_report_rate",
        "漏报率",
        "missed-report rate",
        Better::Lower,
    ),
    rate(
        "hotline_response_rate",
        "响应率",
        "hotline response rate",
        Better::Higher,
    ),
    rate(
        "hotline_resolution_rate",
        "解决率",
        "hotline resolution rate",
        Better::Higher,
    ),
    rate(
        "satisfaction_rate",
        "满意率",
        "satisfaction rate",
        Better::Higher,
    ),
    Indicator {
        code: "safety_incidents_per_km2_month",
        name_zh: "每平方公里月安全事件数",
        name_en: "safety incidents per km² per month",
        unit: "count/km²/month",
        min: 0.0,
        max: 10_000.0,
        better: Better::Lower,
    },
    Indicator {
        code: "cases_per_grid_month",
        name_zh: "每网格月案件数",
        name_en: "cases per unit grid per month",
        unit: "count/grid/month",
        min: 0.0,
        max: 10_000.0,
        better: Better::Lower,
    },
];

/// Looks an indicator up by code.
pub fn indicator(code: &str) -> Option<&'static Indicator> {
    INDICATORS.iter().find(|indicator| indicator.code == code)
}

/// One weighted target of a goal cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalTarget {
    pub indicator: String,
    /// The share of this target in the zone's weighted score; a cluster's weights sum to 1.
    pub weight: f64,
    /// For `Better::Higher` indicators the value must reach at least this; for `Lower` at most.
    pub target: f64,
}

/// Weighted targets on evaluation indicators, validated on construction.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalCluster {
    targets: Vec<GoalTarget>,
}

/// One problem of a proposed goal cluster, naming the offending target.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GoalProblem {
    #[error("a goal cluster needs at least one target")]
    Empty,
    #[error("targets[{index}]: unknown indicator `{indicator}`")]
    UnknownIndicator { index: usize, indicator: String },
    #[error("targets[{index}]: indicator `{indicator}` appears more than once")]
    DuplicateIndicator { index: usize, indicator: String },
    #[error("targets[{index}]: weight {weight} must be greater than 0 and at most 1")]
    WeightOutOfRange { index: usize, weight: f64 },
    #[error(
        "targets[{index}]: target {target} for `{indicator}` must lie in [{min}, {max}] ({unit})"
    )]
    TargetOutOfRange {
        index: usize,
        indicator: String,
        target: f64,
        min: f64,
        max: f64,
        unit: &'static str,
    },
    #[error("the weights sum to {sum}, not 1")]
    WeightsDoNotSumToOne { sum: f64 },
}

impl GoalCluster {
    /// Validates `targets`; every problem is reported, not only the first.
    pub fn new(targets: Vec<GoalTarget>) -> Result<GoalCluster, Vec<GoalProblem>> {
        let mut problems = Vec::new();
        if targets.is_empty() {
            problems.push(GoalProblem::Empty);
        }
        for (index, target) in targets.iter().enumerate() {
            if targets[..index]
                .iter()
                .any(|earlier| earlier.indicator == target.indicator)
            {
                problems.push(GoalProblem::DuplicateIndicator {
                    index,
                    indicator: target.indicator.clone(),
                });
            }
            if !(target.weight.is_finite() && target.weight > 0.0 && target.weight <= 1.0) {
                problems.push(GoalProblem::WeightOutOfRange {
                    index,
                    weight: target.weight,
                });
            }
            match indicator(&target.indicator) {
                None => problems.push(GoalProblem::UnknownIndicator {
                    index,
                    indicator: target.indicator.clone(),
                }),
                Some(found) => {
                    if !(target.target.is_finite()
                        && target.target >= found.min
                        && target.target <= found.max)
                    {
                        problems.push(GoalProblem::TargetOutOfRange {
                            index,
                            indicator: target.indicator.clone(),
                            target: target.target,
                            min: found.min,
                            max: found.max,
                            unit: found.unit,
                        });
                    }
                }
            }
        }
        let sum: f64 = targets.iter().map(|t| t.weight).sum();
        if !targets.is_empty() && (sum - 1.0).abs() > 1e-6 {
            // Rounded so the message reads 0.9, not 0.8999999999999999.
            problems.push(GoalProblem::WeightsDoNotSumToOne {
                sum: (sum * 1e9).round() / 1e9,
            });
        }
        if problems.is_empty() {
            Ok(GoalCluster { targets })
        } else {
            Err(problems)
        }
    }

    pub fn targets(&self) -> &[GoalTarget] {
        &self.targets
    }
}

/// The built-in zone types; cities add their own as [`ZoneType::Custom`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ZoneType {
    FreeTradeZone,
    IndustrialPark,
    CommercialDistrict,
    LargeResidentialArea,
    UrbanRuralFringe,
    OldTown,
    EcologicalArea,
    /// A user-defined type, by its code (lower-case letters, digits and `_`, at most 64).
    Custom(String),
}

impl ZoneType {
    pub const BUILT_IN: [ZoneType; 7] = [
        ZoneType::FreeTradeZone,
        ZoneType::IndustrialPark,
        ZoneType::CommercialDistrict,
        ZoneType::LargeResidentialArea,
        ZoneType::UrbanRuralFringe,
        ZoneType::OldTown,
        ZoneType::EcologicalArea,
    ];

    pub fn code(&self) -> &str {
        match self {
            ZoneType::FreeTradeZone => "free_trade_zone",
            ZoneType::IndustrialPark => "industrial_park",
            ZoneType::CommercialDistrict => "commercial_district",
            ZoneType::LargeResidentialArea => "large_residential_area",
            ZoneType::UrbanRuralFringe => "urban_rural_fringe",
            ZoneType::OldTown => "old_town",
            ZoneType::EcologicalArea => "ecological_area",
            ZoneType::Custom(code) => code,
        }
    }

    /// Parses a type code: a built-in one, or a well-formed custom code.
    pub fn parse(code: &str) -> Result<ZoneType, String> {
        if let Some(built_in) = ZoneType::BUILT_IN.iter().find(|t| t.code() == code) {
            return Ok(built_in.clone());
        }
        let well_formed = !code.is_empty()
            && code.len() <= 64
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && code.as_bytes()[0].is_ascii_lowercase();
        if well_formed {
            Ok(ZoneType::Custom(code.to_owned()))
        } else {
            Err(format!(
                "`{code}` is not a zone type code: use lower-case letters, digits and _ (starting with a letter, at most 64)"
            ))
        }
    }

    /// Chinese and English names of the built-in types.
    pub fn names(&self) -> (&str, &str) {
        match self {
            ZoneType::FreeTradeZone => ("自由贸易区", "free-trade zone"),
            ZoneType::IndustrialPark => ("产业园区", "industrial park"),
            ZoneType::CommercialDistrict => ("商业区", "commercial district"),
            ZoneType::LargeResidentialArea => ("大型居住区", "large residential area"),
            ZoneType::UrbanRuralFringe => ("城乡结合部", "urban–rural fringe"),
            ZoneType::OldTown => ("老城区", "old town"),
            ZoneType::EcologicalArea => ("生态区", "ecological area"),
            ZoneType::Custom(code) => (code, code),
        }
    }

    /// The default goal cluster of a built-in type: what such a zone is for, as weights.
    pub fn default_goals(&self) -> Option<GoalCluster> {
        let t = |indicator: &str, weight: f64, target: f64| GoalTarget {
            indicator: indicator.into(),
            weight,
            target,
        };
        let targets = match self {
            ZoneType::FreeTradeZone => vec![
                t("on_time_closure_rate", 0.3, 0.95),
                t("satisfaction_rate", 0.3, 0.90),
                t("hotline_response_rate", 0.2, 0.98),
                t("safety_incidents_per_km2_month", 0.2, 0.5),
            ],
            ZoneType::IndustrialPark => vec![
                t("safety_incidents_per_km2_month", 0.35, 1.0),
                t("on_time_handling_rate", 0.25, 0.92),
                t("on_time_closure_rate", 0.2, 0.90),
                t("rework_rate", 0.2, 0.05),
            ],
            ZoneType::CommercialDistrict => vec![
                t("on_time_closure_rate", 0.3, 0.95),
                t("satisfaction_rate", 0.3, 0.90),
                t("cases_per_grid_month", 0.2, 5.0),
                t("rework_rate", 0.2, 0.05),
            ],
            ZoneType::LargeResidentialArea => vec![
                t("satisfaction_rate", 0.35, 0.90),
                t("hotline_resolution_rate", 0.25, 0.85),
                t("on_time_closure_rate", 0.25, 0.90),
                t("missed_report_rate", 0.15, 0.10),
            ],
            ZoneType::UrbanRuralFringe => vec![
                t("on_time_handling_rate", 0.3, 0.85),
                t("valid_report_rate", 0.2, 0.80),
                t("safety_incidents_per_km2_month", 0.3, 2.0),
                t("closure_rate", 0.2, 0.90),
            ],
            ZoneType::OldTown => vec![
                t("satisfaction_rate", 0.3, 0.90),
                t("safety_incidents_per_km2_month", 0.3, 1.0),
                t("on_time_closure_rate", 0.2, 0.90),
                t("rework_rate", 0.2, 0.05),
            ],
            ZoneType::EcologicalArea => vec![
                t("safety_incidents_per_km2_month", 0.3, 0.5),
                t("on_time_handling_rate", 0.3, 0.85),
                t("closure_rate", 0.2, 0.90),
                t("cases_per_grid_month", 0.2, 3.0),
            ],
            ZoneType::Custom(_) => return None,
        };
        Some(GoalCluster::new(targets).expect("built-in goal clusters are valid"))
    }
}

impl fmt::Display for ZoneType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(indicator: &str, weight: f64, value: f64) -> GoalTarget {
        GoalTarget {
            indicator: indicator.into(),
            weight,
            target: value,
        }
    }

    #[test]
    fn every_built_in_type_has_a_valid_default_cluster() {
        for zone_type in ZoneType::BUILT_IN {
            let cluster = zone_type.default_goals().unwrap();
            let sum: f64 = cluster.targets().iter().map(|t| t.weight).sum();
            assert!((sum - 1.0).abs() < 1e-9, "{zone_type}");
            assert_eq!(ZoneType::parse(zone_type.code()).unwrap(), zone_type);
        }
    }

    #[test]
    fn every_problem_of_a_cluster_is_reported() {
        let problems = GoalCluster::new(vec![
            target("on_time_closure_rate", 0.5, 1.2),
            target("no_such_indicator", 0.3, 0.5),
            target("on_time_closure_rate", 0.0, 0.9),
        ])
        .unwrap_err();
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            vec![
                "targets[0]: target 1.2 for `on_time_closure_rate` must lie in [0, 1] (ratio)",
                "targets[1]: unknown indicator `no_such_indicator`",
                "targets[2]: indicator `on_time_closure_rate` appears more than once",
                "targets[2]: weight 0 must be greater than 0 and at most 1",
                "the weights sum to 0.8, not 1",
            ]
        );
        assert_eq!(
            GoalCluster::new(vec![]).unwrap_err(),
            vec![GoalProblem::Empty]
        );
    }

    #[test]
    fn weights_summing_to_one_within_rounding_are_accepted() {
        let cluster = GoalCluster::new(vec![
            target("satisfaction_rate", 0.1, 0.9),
            target("on_time_closure_rate", 0.2, 0.95),
            target("rework_rate", 0.7, 0.05),
        ]);
        assert!(cluster.is_ok());
    }

    #[test]
    fn custom_zone_type_codes_are_checked() {
        assert_eq!(
            ZoneType::parse("port_area").unwrap(),
            ZoneType::Custom("port_area".into())
        );
        assert!(ZoneType::parse("Port Area").is_err());
        assert!(ZoneType::parse("").is_err());
        assert!(ZoneType::parse("9lives").is_err());
    }
}
