//! Divisions (行政区划) and unit grids (单元网格): the codes, levels and the tree they form.
//!
//! Division codes are the 12-digit statistical codes `SS CC DD TTT VVV` (province, prefecture,
//! county/district, town level, village level). A unit grid's code is its community's 12 digits
//! followed by a 3-digit sequence, numbered west→east, north→south within the community.

use std::fmt;
use std::str::FromStr;

/// A 12-digit statistical division code, e.g. `310101002003`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DivisionCode([u8; 12]);

/// Why a code could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "`{0}` is not a division code: expected 12 digits (6- and 9-digit codes are padded with zeros)"
    )]
    Division(String),
    #[error(
        "`{0}` is not a unit grid code: expected 15 digits (12-digit community code + 3-digit sequence 001-999)"
    )]
    Grid(String),
}

impl DivisionCode {
    /// Parses 12 digits; 6-digit county codes (adcodes) and 9-digit town codes are padded with
    /// zeros on the right, as the statistical coding does for higher levels.
    pub fn parse(text: &str) -> Result<DivisionCode, CodeError> {
        let trimmed = text.trim();
        let bad = || CodeError::Division(text.to_owned());
        if !matches!(trimmed.len(), 6 | 9 | 12) || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let mut digits = [b'0'; 12];
        digits[..trimmed.len()].copy_from_slice(trimmed.as_bytes());
        if digits[..2] == *b"00" {
            return Err(bad());
        }
        Ok(DivisionCode(digits))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a division code holds ASCII digits")
    }

    /// The level the code's shape implies: trailing zero segments mark higher levels.
    pub fn implied_level(&self) -> CodeShape {
        let segment = |range: std::ops::Range<usize>| self.0[range].iter().all(|&b| b == b'0');
        match (segment(2..4), segment(4..6), segment(6..9), segment(9..12)) {
            (true, true, true, true) => CodeShape::Province,
            (false, true, true, true) => CodeShape::Prefecture,
            (_, false, true, true) => CodeShape::County,
            (_, _, false, true) => CodeShape::Town,
            (_, _, _, false) => CodeShape::Village,
        }
    }

    /// Whether `self` lies under `ancestor` by code (its non-zero segments are a prefix).
    pub fn is_within(&self, ancestor: &DivisionCode) -> bool {
        let significant = match ancestor.implied_level() {
            CodeShape::Province => 2,
            CodeShape::Prefecture => 4,
            CodeShape::County => 6,
            CodeShape::Town => 9,
            CodeShape::Village => 12,
        };
        self.0[..significant] == ancestor.0[..significant]
    }

    /// The codes `self` lies within (see [`DivisionCode::is_within`]), itself included: its
    /// province, prefecture, county, town and own code, each padded with zeros (fewer when
    /// some coincide).
    pub fn ancestors(&self) -> impl Iterator<Item = DivisionCode> + '_ {
        let mut last: Option<DivisionCode> = None;
        [2, 4, 6, 9, 12].into_iter().filter_map(move |significant| {
            let mut digits = [b'0'; 12];
            digits[..significant].copy_from_slice(&self.0[..significant]);
            let code = DivisionCode(digits);
            (last != Some(code)).then(|| {
                last = Some(code);
                code
            })
        })
    }

    /// What kind of town-level unit the code names, by its town segment (digits 7–9):
    /// `001–099` street office (街道), `100–199` town (镇), `200–399` township (乡), `400–599`
    /// special units (development zones, farms, new towns…). `None` for codes above the town
    /// level and segments the coding leaves unused.
    pub fn town_kind(&self) -> Option<TownKind> {
        let segment = self.segment(6..9);
        match segment {
            1..=99 => Some(TownKind::Street),
            100..=199 => Some(TownKind::Town),
            200..=399 => Some(TownKind::Township),
            400..=599 => Some(TownKind::Special),
            _ => None,
        }
    }

    /// Whether a village-level code names a village committee (村委会, `200–399`) rather than a
    /// residents' committee (居委会, `001–199`) or a placeholder.
    pub fn is_village_committee(&self) -> bool {
        matches!(self.segment(9..12), 200..=399)
    }

    fn segment(&self, range: std::ops::Range<usize>) -> u16 {
        self.0[range]
            .iter()
            .fold(0, |n, &digit| n * 10 + u16::from(digit - b'0'))
    }
}

/// The kind of a town-level unit, as its code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TownKind {
    /// 街道: an urban street office.
    Street,
    /// 镇: a town.
    Town,
    /// 乡 (and 民族乡): a rural township.
    Township,
    /// 类似乡级单位: development zones, industrial zones, farms, forest farms, new towns.
    Special,
}

/// The level a code's zero segments imply, in the national coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeShape {
    Province,
    Prefecture,
    County,
    Town,
    Village,
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DivisionCode {
    type Err = CodeError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DivisionCode::parse(text)
    }
}

/// The levels of the city tree Jingzhi manages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    City,
    District,
    /// Street (街道) or town (镇/乡).
    Street,
    /// Residents' committee (居委会) or village committee (村委会).
    Community,
}

impl DivisionLevel {
    pub const ALL: [DivisionLevel; 4] = [
        DivisionLevel::City,
        DivisionLevel::District,
        DivisionLevel::Street,
        DivisionLevel::Community,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DivisionLevel::City => "city",
            DivisionLevel::District => "district",
            DivisionLevel::Street => "street",
            DivisionLevel::Community => "community",
        }
    }

    /// The level directly above, if any.
    pub fn parent(self) -> Option<DivisionLevel> {
        match self {
            DivisionLevel::City => None,
            DivisionLevel::District => Some(DivisionLevel::City),
            DivisionLevel::Street => Some(DivisionLevel::District),
            DivisionLevel::Community => Some(DivisionLevel::Street),
        }
    }

    pub fn child(self) -> Option<DivisionLevel> {
        match self {
            DivisionLevel::City => Some(DivisionLevel::District),
            DivisionLevel::District => Some(DivisionLevel::Street),
            DivisionLevel::Street => Some(DivisionLevel::Community),
            DivisionLevel::Community => None,
        }
    }
}

impl fmt::Display for DivisionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DivisionLevel {
    type Err = String;
    /// Accepts the level names and their common synonyms (`province` for a municipality's
    /// city level, `town`/`township` for streets, `village` for communities).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "city" | "province" | "municipality" => Ok(DivisionLevel::City),
            "district" | "county" => Ok(DivisionLevel::District),
            "street" | "town" | "township" | "subdistrict" => Ok(DivisionLevel::Street),
            "community" | "village" | "neighbourhood" | "neighborhood" => {
                Ok(DivisionLevel::Community)
            }
            other => Err(format!(
                "unknown division level `{other}`; expected city, district, street or community"
            )),
        }
    }
}

/// A 15-digit unit grid code: the community's 12 digits and a sequence 001–999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GridCode([u8; 15]);

impl GridCode {
    pub fn new(community: &DivisionCode, seq: u32) -> Option<GridCode> {
        if !(1..=999).contains(&seq) {
            return None;
        }
        let mut digits = [b'0'; 15];
        digits[..12].copy_from_slice(community.as_str().as_bytes());
        digits[12..].copy_from_slice(format!("{seq:03}").as_bytes());
        Some(GridCode(digits))
    }

    pub fn parse(text: &str) -> Result<GridCode, CodeError> {
        let bad = || CodeError::Grid(text.to_owned());
        let text = text.trim();
        if text.len() != 15 || !text.bytes().all(|b| b.is_ascii_digit()) || text.ends_with("000") {
            return Err(bad());
        }
        let community = DivisionCode::parse(&text[..12]).map_err(|_| bad())?;
        GridCode::new(&community, text[12..].parse().map_err(|_| bad())?).ok_or_else(bad)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a grid code holds ASCII digits")
    }

    pub fn community(&self) -> DivisionCode {
        DivisionCode::parse(&self.as_str()[..12]).expect("a grid code embeds a community code")
    }

    pub fn seq(&self) -> u32 {
        self.as_str()[12..]
            .parse()
            .expect("a grid code ends with three digits")
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for DivisionCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for DivisionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DivisionCode, D::Error> {
        let text = String::deserialize(d)?;
        DivisionCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn town_segments_name_the_kind_of_unit() {
        let kind = |code: &str| DivisionCode::parse(code).unwrap().town_kind();
        assert_eq!(kind("310101002000"), Some(TownKind::Street)); // 南京东路街道
        assert_eq!(kind("310112102000"), Some(TownKind::Town)); // 七宝镇
        assert_eq!(kind("310151201000"), Some(TownKind::Township)); // 新村乡
        assert_eq!(kind("310115501000"), Some(TownKind::Special)); // 自由贸易试验区（保税片区）
        assert_eq!(kind("310151402000"), Some(TownKind::Special)); // 东平林场
        assert_eq!(kind("310101000000"), None, "a district");
        assert_eq!(kind("310101600000"), None, "unused segment");
        let village = |code: &str| DivisionCode::parse(code).unwrap().is_village_committee();
        assert!(village("310151201201"));
        assert!(!village("310101002003"), "a residents' committee");
        assert!(!village("310115401498"), "a placeholder");
        assert!(!village("310101002000"), "a street");
    }

    #[test]
    fn division_codes_parse_and_pad() {
        for (input, expected) in [
            ("310101002003", Ok("310101002003")),
            ("310101", Ok("310101000000")),
            ("310101002", Ok("310101002000")),
            (" 310000000000 ", Ok("310000000000")),
            ("31010100200", Err(())),
            ("31010100200x", Err(())),
            ("000000000000", Err(())),
            ("", Err(())),
        ] {
            let parsed = DivisionCode::parse(input)
                .map(|c| c.to_string())
                .map_err(|_| ());
            assert_eq!(parsed, expected.map(str::to_owned), "{input:?}");
        }
    }

    #[test]
    fn code_shapes_follow_the_zero_segments() {
        for (code, shape) in [
            ("310000000000", CodeShape::Province),
            ("310100000000", CodeShape::Prefecture),
            ("310101000000", CodeShape::County),
            ("310101002000", CodeShape::Town),
            ("310101002003", CodeShape::Village),
        ] {
            assert_eq!(
                DivisionCode::parse(code).unwrap().implied_level(),
                shape,
                "{code}"
            );
        }
    }

    #[test]
    fn ancestry_by_code() {
        let community = DivisionCode::parse("310101002003").unwrap();
        for (ancestor, within) in [
            ("310000000000", true),
            ("310101000000", true),
            ("310101002000", true),
            ("310104000000", false),
            ("310101003000", false),
        ] {
            assert_eq!(
                community.is_within(&DivisionCode::parse(ancestor).unwrap()),
                within,
                "{ancestor}"
            );
        }
    }

    #[test]
    fn grid_codes_embed_the_community() {
        let community = DivisionCode::parse("370102013006").unwrap();
        let grid = GridCode::new(&community, 8).unwrap();
        assert_eq!(grid.as_str(), "370102013006008");
        assert_eq!(GridCode::parse("370102013006008").unwrap(), grid);
        assert_eq!(grid.community(), community);
        assert_eq!(grid.seq(), 8);
        assert!(GridCode::new(&community, 0).is_none());
        assert!(GridCode::new(&community, 1000).is_none());
        assert!(GridCode::parse("370102013006000").is_err());
        assert!(GridCode::parse("37010201300600").is_err());
    }

    #[test]
    fn level_synonyms() {
        assert_eq!("province".parse::<DivisionLevel>(), Ok(DivisionLevel::City));
        assert_eq!("Town".parse::<DivisionLevel>(), Ok(DivisionLevel::Street));
        assert_eq!(
            "village".parse::<DivisionLevel>(),
            Ok(DivisionLevel::Community)
        );
        assert!("prefecture".parse::<DivisionLevel>().is_err());
    }
}
