//! Zoning the simulated city, and what its zones do to the reports made there.
//!
//! [`zone_towns`] places one zone over each town-level unit (街道, 镇, 乡 and the special units)
//! of an imported city, of the type [`town_zone_type`] gives it from what the statistical code
//! and the name say: the unit's kind (digits 7–9 of its code), how rural it is (the share of its
//! communities that are village committees, 村委会), how urban its district is (the share of
//! the district's units that are street offices), keywords of special units' names (自由贸易,
//! 工业, 农场…), and a roll drawn from the code so that some units stay unzoned. The same city
//! is zoned the same way every time.
//!
//! A [`ReportProfile`] says how a zone type shapes the reports made in it: how many per place
//! relative to the rest of its district (a commercial district more, an ecological area fewer;
//! the district's share of the city's reports stays its population's), and which categories
//! come up more or less often (advertising and street trading in commercial districts, laundry
//! and clutter in old towns, property complaints in large residential areas, spills and waste
//! water in industrial parks, illegal building and burning on the urban–rural fringe, rivers and
//! green land in ecological areas).

use std::collections::HashMap;

use jz_domain::division::{DivisionCode, TownKind};
use jz_domain::goal::ZoneType;
use jz_store::{Store, StoreError};
use sqlx::Row;

use super::Rng;
use crate::city::Actor;
use crate::zones::{self, NewZone, ZoneArea, ZoneError, ZoneView};

/// What the zoning rule knows about a town-level unit.
#[derive(Debug, Clone, Copy)]
pub struct TownFacts<'a> {
    pub code: DivisionCode,
    pub name: &'a str,
    /// The share of its communities that are village committees (0 without communities).
    pub village_share: f64,
    /// The share of its district's town-level units that are street offices.
    pub district_street_share: f64,
}

/// A district whose units are at least this share street offices is the urban core.
const URBAN_CORE: f64 = 0.75;

/// The zone type the simulated city gives a town-level unit, or `None` to leave it unzoned.
///
/// - 街道 in the urban core: commercial district 30 %, old town 25 %, large residential area
///   35 %, unzoned 10 %; elsewhere: commercial district 25 %, large residential area 50 %,
///   unzoned 25 %.
/// - 镇: unzoned 15 %; otherwise by its village committees' share: below 25 % a large
///   residential area (suburban new towns), below 60 % the urban–rural fringe, else an
///   ecological area.
/// - 乡: an ecological area.
/// - Special units, by name: farms, forest farms, agriculture, resorts and tourism → ecological
///   area; free-trade and bonded zones → free-trade zone; industrial, development, high-tech,
///   export-processing zones and parks → industrial park; anything else (new towns) → large
///   residential area.
pub fn town_zone_type(town: &TownFacts) -> Option<ZoneType> {
    let seed = town.code.as_str().parse::<u64>().unwrap_or_default();
    let roll = Rng::new(seed).below(100);
    let has = |words: &[&str]| words.iter().any(|w| town.name.contains(w));
    match town.code.town_kind()? {
        TownKind::Street if town.district_street_share >= URBAN_CORE => match roll {
            0..=29 => Some(ZoneType::CommercialDistrict),
            30..=54 => Some(ZoneType::OldTown),
            55..=89 => Some(ZoneType::LargeResidentialArea),
            _ => None,
        },
        TownKind::Street => match roll {
            0..=24 => Some(ZoneType::CommercialDistrict),
            25..=74 => Some(ZoneType::LargeResidentialArea),
            _ => None,
        },
        TownKind::Town if roll >= 85 => None,
        TownKind::Town if town.village_share < 0.25 => Some(ZoneType::LargeResidentialArea),
        TownKind::Town if town.village_share < 0.6 => Some(ZoneType::UrbanRuralFringe),
        TownKind::Town | TownKind::Township => Some(ZoneType::EcologicalArea),
        TownKind::Special if has(&["农场", "林场", "农业", "度假", "旅游"]) => {
            Some(ZoneType::EcologicalArea)
        }
        TownKind::Special if has(&["自由贸易", "保税"]) => Some(ZoneType::FreeTradeZone),
        TownKind::Special if has(&["工业", "开发区", "园区", "加工区", "高新", "产业"]) => {
            Some(ZoneType::IndustrialPark)
        }
        TownKind::Special => Some(ZoneType::LargeResidentialArea),
    }
}

/// The id of the zone [`zone_towns`] places over a town-level unit.
pub fn town_zone_id(town: &DivisionCode) -> String {
    format!("town-{}", &town.as_str()[..9])
}

/// Places a zone over each town-level unit of the imported city that [`town_zone_type`] zones,
/// over the unit's own outline, named after the unit and its type, all in one change. Units
/// already zoned (a reused data folder) and units without an outline are left as they are.
/// Answers the zones placed now.
pub async fn zone_towns(store: &Store, actor: &Actor) -> Result<Vec<ZoneView>, ZoneError> {
    let rows = sqlx::query(
        "SELECT code, name, parent_code, geometry FROM division WHERE level = 'street' ORDER BY code",
    )
    .fetch_all(store.reader())
    .await
    .map_err(StoreError::from)?;
    let mut towns = Vec::with_capacity(rows.len());
    for row in &rows {
        let code: String = row.try_get(0).map_err(StoreError::from)?;
        let Ok(code) = DivisionCode::parse(&code) else {
            continue;
        };
        let name: String = row.try_get(1).map_err(StoreError::from)?;
        let parent: Option<String> = row.try_get(2).map_err(StoreError::from)?;
        let geometry: Option<String> = row.try_get(3).map_err(StoreError::from)?;
        towns.push((code, name, parent.unwrap_or_default(), geometry));
    }
    // Per town, its communities and village committees.
    let mut communities: HashMap<String, (u32, u32)> = HashMap::new();
    for row in sqlx::query("SELECT code, parent_code FROM division WHERE level = 'community'")
        .fetch_all(store.reader())
        .await
        .map_err(StoreError::from)?
    {
        let code: String = row.try_get(0).map_err(StoreError::from)?;
        let parent: Option<String> = row.try_get(1).map_err(StoreError::from)?;
        let village = DivisionCode::parse(&code).is_ok_and(|c| c.is_village_committee());
        let entry = communities.entry(parent.unwrap_or_default()).or_default();
        entry.0 += 1;
        entry.1 += u32::from(village);
    }
    // Per district, its units and street offices.
    let mut districts: HashMap<&str, (u32, u32)> = HashMap::new();
    for (code, _, parent, _) in &towns {
        let entry = districts.entry(parent.as_str()).or_default();
        entry.0 += 1;
        entry.1 += u32::from(code.town_kind() == Some(TownKind::Street));
    }
    let share = |(all, some): (u32, u32)| {
        if all == 0 {
            0.0
        } else {
            f64::from(some) / f64::from(all)
        }
    };
    let zoned: std::collections::HashSet<String> = zones::zones(store)
        .await?
        .into_iter()
        .map(|z| z.id)
        .collect();
    let mut placed = Vec::new();
    for (code, name, parent, geometry) in &towns {
        let facts = TownFacts {
            code: *code,
            name,
            village_share: share(communities.get(code.as_str()).copied().unwrap_or_default()),
            district_street_share: share(districts[parent.as_str()]),
        };
        let Some(zone_type) = town_zone_type(&facts) else {
            continue;
        };
        let Some(outline) = geometry
            .as_deref()
            .and_then(crate::city::source::geometry_from_json)
        else {
            continue;
        };
        let id = town_zone_id(code);
        if zoned.contains(&id) {
            continue;
        }
        placed.push(NewZone {
            id,
            name: format!("{name}{}", zone_type.names().0),
            zone_type: zone_type.code().to_owned(),
            area: ZoneArea::Polygon(outline),
            goals: None,
        });
    }
    zones::create_zones(store, placed, actor).await
}

/// How a zone type shapes the reports made in it.
#[derive(Debug, PartialEq)]
pub struct ReportProfile {
    /// The zone type's code (empty for places outside any zone).
    pub zone_type: &'static str,
    /// Reports per place relative to the rest of its district.
    pub intensity: f64,
    /// Category code prefixes (a major class or a code) and how much more (or less) often they
    /// are reported here; a code matching several takes the product.
    pub categories: &'static [(&'static str, f64)],
}

impl ReportProfile {
    /// How much more (or less) often the category `code` is reported here.
    pub fn weight(&self, code: &str) -> f64 {
        self.categories
            .iter()
            .filter(|(prefix, _)| code.starts_with(prefix))
            .map(|(_, factor)| factor)
            .product()
    }
}

/// Places outside any zone, and zones of a type without a profile (user-defined types).
pub const UNZONED: ReportProfile = ReportProfile {
    zone_type: "",
    intensity: 1.0,
    categories: &[],
};

/// The built-in zone types' profiles.
pub const PROFILES: [ReportProfile; 7] = [
    ReportProfile {
        zone_type: "commercial_district",
        intensity: 2.0,
        categories: &[
            ("07", 3.0),    // advertising
            ("09", 2.0),    // street order: trading outside shops, parking
            ("06027", 2.0), // cooking fumes
            ("06012", 1.5), // dirty roads
            ("R3004", 3.0), // consumer complaints
            ("04", 0.5),
            ("06020", 0.2),
            ("06026", 0.3),
            ("06045", 0.3),
        ],
    },
    ReportProfile {
        zone_type: "old_town",
        intensity: 1.6,
        categories: &[
            ("06007", 3.0), // laundry hung over the street
            ("06036", 3.0), // clutter
            ("06001", 2.0), // illegal building
            ("09010", 2.0), // bicycles parked anyhow
            ("09012", 2.0), // fire lanes blocked
            ("10002", 2.0), // overhead cables down
            ("R3001", 2.0), // property management
            ("R3002", 2.0), // neighbours
            ("R2003", 2.0), // the old and frail asking for help
            ("08", 0.5),
        ],
    },
    ReportProfile {
        zone_type: "large_residential_area",
        intensity: 1.3,
        categories: &[
            ("R3001", 3.0), // property management
            ("R3002", 2.0), // neighbours
            ("06040", 2.0), // private parking locks
            ("06041", 2.0), // unsorted rubbish
            ("06042", 2.0), // full bins
            ("06028", 1.5), // noise
            ("09009", 2.0), // cars parked anyhow
            ("09010", 2.0), // bicycles parked anyhow
            ("09011", 2.0), // shared bicycles
            ("07003", 0.5),
        ],
    },
    ReportProfile {
        zone_type: "free_trade_zone",
        intensity: 0.9,
        categories: &[
            ("08", 2.0),    // construction
            ("07003", 2.0), // outdoor advertising
            ("09009", 1.5), // cars parked anyhow
            ("R1", 2.0),    // policy questions
            ("R3005", 1.5), // unpaid wages
            ("06007", 0.3),
            ("06029", 0.3),
        ],
    },
    ReportProfile {
        zone_type: "industrial_park",
        intensity: 0.7,
        categories: &[
            ("08", 2.5),    // construction
            ("06014", 3.0), // spills from lorries
            ("06030", 3.0), // waste water
            ("06013", 2.0), // broken roads
            ("01", 1.5),    // utility parts
            ("R3005", 3.0), // unpaid wages
            ("R4", 2.0),    // reporting violations and hazards
            ("06007", 0.3),
            ("07001", 0.5),
        ],
    },
    ReportProfile {
        zone_type: "urban_rural_fringe",
        intensity: 1.1,
        categories: &[
            ("06001", 3.0), // illegal building
            ("06020", 3.0), // burning rubbish and leaves
            ("06010", 2.0), // exposed rubbish
            ("06030", 2.0), // waste water
            ("06034", 2.0), // abandoned vehicles
            ("06029", 2.0), // open-air barbecues
            ("09001", 2.0), // unlicensed hawkers
            ("R4", 1.5),
        ],
    },
    ReportProfile {
        zone_type: "ecological_area",
        intensity: 0.4,
        categories: &[
            ("06026", 4.0), // river pollution
            ("06045", 4.0), // green land destroyed
            ("06020", 3.0), // burning
            ("04", 3.0),    // landscaping parts
            ("07", 0.3),
            ("09", 0.3),
            ("R3004", 0.3),
        ],
    },
];

/// The profile of a built-in zone type; `None` for other codes (places in zones of such types
/// report as [`UNZONED`] places do).
pub fn profile(zone_type: &str) -> Option<&'static ReportProfile> {
    PROFILES.iter().find(|p| p.zone_type == zone_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        code: &str,
        name: &'a str,
        village_share: f64,
        street_share: f64,
    ) -> TownFacts<'a> {
        TownFacts {
            code: DivisionCode::parse(code).unwrap(),
            name,
            village_share,
            district_street_share: street_share,
        }
    }

    #[test]
    fn special_units_are_zoned_by_their_names() {
        let special = |code, name| town_zone_type(&facts(code, name, 0.8, 0.3));
        assert_eq!(
            special("310115501000", "中国（上海）自由贸易试验区（保税片区）"),
            Some(ZoneType::FreeTradeZone)
        );
        assert_eq!(
            special("310112501000", "莘庄工业区"),
            Some(ZoneType::IndustrialPark)
        );
        assert_eq!(
            special("310115503000", "张江高科技园区"),
            Some(ZoneType::IndustrialPark)
        );
        // Agriculture before "园区".
        assert_eq!(
            special("310151501000", "上实现代农业园区"),
            Some(ZoneType::EcologicalArea)
        );
        assert_eq!(
            special("310151402000", "东平林场"),
            Some(ZoneType::EcologicalArea)
        );
        assert_eq!(
            special("310114401000", "菊园新区"),
            Some(ZoneType::LargeResidentialArea)
        );
        assert_eq!(
            town_zone_type(&facts("310151201000", "新村乡", 1.0, 0.0)),
            Some(ZoneType::EcologicalArea)
        );
        assert_eq!(
            town_zone_type(&facts("310151000000", "崇明区", 0.0, 0.0)),
            None
        );
    }

    #[test]
    fn towns_follow_their_village_committees_and_streets_their_district() {
        // Over many towns: the zoned ones are residential, fringe or ecological by their
        // villages' share, and about 15 % stay unzoned.
        let mut unzoned = 0;
        for seq in 100..200 {
            let code = format!("310117{seq}000");
            for (share, expected) in [
                (0.1, ZoneType::LargeResidentialArea),
                (0.4, ZoneType::UrbanRuralFringe),
                (0.9, ZoneType::EcologicalArea),
            ] {
                match town_zone_type(&facts(&code, "某镇", share, 0.3)) {
                    Some(zone_type) => assert_eq!(zone_type, expected, "{code} {share}"),
                    None => unzoned += 1,
                }
            }
        }
        assert!((30..=60).contains(&unzoned), "{unzoned} of 300");
        // Streets: old towns only in the urban core; the same street, the same type.
        let mut core = HashMap::new();
        let mut outer = HashMap::new();
        for seq in 1..100 {
            let code = format!("310101{seq:03}000");
            let inner = town_zone_type(&facts(&code, "某街道", 0.0, 1.0));
            assert_eq!(inner, town_zone_type(&facts(&code, "某街道", 0.0, 1.0)));
            *core.entry(inner).or_insert(0) += 1;
            let code = format!("310112{seq:03}000");
            *outer
                .entry(town_zone_type(&facts(&code, "某街道", 0.0, 0.3)))
                .or_insert(0) += 1;
        }
        assert!(core[&Some(ZoneType::OldTown)] > 10, "{core:?}");
        assert!(core[&Some(ZoneType::CommercialDistrict)] > 10, "{core:?}");
        assert!(!outer.contains_key(&Some(ZoneType::OldTown)), "{outer:?}");
        assert!(
            outer[&Some(ZoneType::LargeResidentialArea)] > 30,
            "{outer:?}"
        );
    }

    #[test]
    fn profiles_cover_the_built_in_types_and_weigh_categories() {
        for zone_type in ZoneType::BUILT_IN {
            let found = profile(zone_type.code()).unwrap();
            assert_eq!(found.zone_type, zone_type.code());
        }
        assert_eq!(profile("my_own_type"), None);
        assert_eq!(UNZONED.weight("07001"), 1.0);
        let commercial = profile("commercial_district").unwrap();
        assert_eq!(commercial.weight("07001"), 3.0);
        assert_eq!(commercial.weight("R3004"), 3.0);
        assert_eq!(commercial.weight("06010"), 1.0);
        let eco = profile("ecological_area").unwrap();
        assert_eq!(eco.weight("04002"), 3.0);
        assert!(eco.weight("09006") < 1.0);
    }
}
