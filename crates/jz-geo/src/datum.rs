//! Datums used by Chinese map providers (WGS-84, GCJ-02, BD-09), conversions between them, and a checked WGS-84 point.
//!
//! GCJ-02 is the obfuscated datum mandated for published maps in mainland China; BD-09 is Baidu's
//! further offset of GCJ-02. The forward transforms are the public, widely reproduced formulas;
//! the inverses are computed by fixed-point iteration so that a round trip returns the original
//! coordinates to well under a millimetre.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// Semi-major axis of the Krasovsky 1940 ellipsoid used by the GCJ-02 transform, in metres.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid used by the GCJ-02 transform
/// (published as 0.00669342162296594323, which rounds to this double).
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
/// Baidu's angular constant for the BD-09 transform.
const X_PI: f64 = PI * 3000.0 / 180.0;
/// Convergence goal of the iterative inverses, in degrees.
const INVERSE_TOLERANCE_DEG: f64 = 1e-12;
/// Upper bound on inverse iterations; convergence normally takes fewer than ten.
const INVERSE_MAX_ITERATIONS: usize = 64;

/// A geodetic datum in which a provider publishes coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Datum {
    /// WGS-84 (GPS); the datum Jingzhi stores.
    Wgs84,
    /// GCJ-02 ("Mars coordinates"), used by Amap, Tencent and Tianditu's Chinese tiles.
    Gcj02,
    /// BD-09, used by Baidu Maps.
    Bd09,
}

/// The error returned when a datum name is not one of the accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown datum {given:?}: expected one of wgs84, wgs-84, gcj02, gcj-02, bd09, bd-09 (case-insensitive)"
)]
pub struct UnknownDatum {
    /// The text that was given.
    pub given: String,
}

impl FromStr for Datum {
    type Err = UnknownDatum;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "wgs84" | "wgs-84" => Ok(Datum::Wgs84),
            "gcj02" | "gcj-02" => Ok(Datum::Gcj02),
            "bd09" | "bd-09" => Ok(Datum::Bd09),
            _ => Err(UnknownDatum {
                given: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Datum::Wgs84 => "wgs84",
            Datum::Gcj02 => "gcj02",
            Datum::Bd09 => "bd09",
        })
    }
}

/// Whether a point lies outside the rough bounding box of China, where GCJ-02 applies no shift.
fn outside_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// Converts WGS-84 (lon, lat) degrees to GCJ-02; points outside China are returned unchanged.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let sin_lat = radlat.sin();
    let magic = 1.0 - KRASOVSKY_EE * sin_lat * sin_lat;
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrt_magic * radlat.cos() * PI);
    (lon + dlon, lat + dlat)
}

/// Inverts a forward transform by fixed-point iteration: the guess moves by the residual until
/// the forward image of the guess matches the target.
fn invert(forward: impl Fn(f64, f64) -> (f64, f64), lon: f64, lat: f64) -> (f64, f64) {
    let (mut x, mut y) = (lon, lat);
    for _ in 0..INVERSE_MAX_ITERATIONS {
        let (fx, fy) = forward(x, y);
        let (dx, dy) = (fx - lon, fy - lat);
        x -= dx;
        y -= dy;
        if dx.abs() < INVERSE_TOLERANCE_DEG && dy.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
    }
    (x, y)
}

/// Converts GCJ-02 (lon, lat) degrees back to WGS-84 by iteration, converging to better than
/// 1e-9 degrees; points outside China are returned unchanged.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    invert(wgs84_to_gcj02, lon, lat)
}

/// Converts GCJ-02 (lon, lat) degrees to BD-09 with Baidu's published formula (applied everywhere).
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Converts BD-09 (lon, lat) degrees to GCJ-02: Baidu's approximate inverse, refined by
/// iteration so that it exactly undoes [`gcj02_to_bd09`] to better than 1e-9 degrees.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    let (mut gx, mut gy) = (z * theta.cos(), z * theta.sin());
    for _ in 0..INVERSE_MAX_ITERATIONS {
        let (bx, by) = gcj02_to_bd09(gx, gy);
        let (dx, dy) = (bx - lon, by - lat);
        gx -= dx;
        gy -= dy;
        if dx.abs() < INVERSE_TOLERANCE_DEG && dy.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
    }
    (gx, gy)
}

/// Converts (lon, lat) degrees given in `datum` to WGS-84.
pub fn to_wgs84(lon: f64, lat: f64, datum: Datum) -> (f64, f64) {
    match datum {
        Datum::Wgs84 => (lon, lat),
        Datum::Gcj02 => gcj02_to_wgs84(lon, lat),
        Datum::Bd09 => {
            let (gx, gy) = bd09_to_gcj02(lon, lat);
            gcj02_to_wgs84(gx, gy)
        }
    }
}

/// Converts WGS-84 (lon, lat) degrees to `datum`.
pub fn from_wgs84(lon: f64, lat: f64, datum: Datum) -> (f64, f64) {
    match datum {
        Datum::Wgs84 => (lon, lat),
        Datum::Gcj02 => wgs84_to_gcj02(lon, lat),
        Datum::Bd09 => {
            let (gx, gy) = wgs84_to_gcj02(lon, lat);
            gcj02_to_bd09(gx, gy)
        }
    }
}

/// Why a pair of numbers is not a WGS-84 point.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum PointError {
    /// The longitude is NaN or infinite.
    #[error("longitude {0} is not a finite number")]
    LonNotFinite(f64),
    /// The latitude is NaN or infinite.
    #[error("latitude {0} is not a finite number")]
    LatNotFinite(f64),
    /// The longitude lies outside [-180, 180] degrees.
    #[error("longitude {0} is outside [-180, 180] degrees")]
    LonOutOfRange(f64),
    /// The latitude lies outside [-90, 90] degrees.
    #[error("latitude {0} is outside [-90, 90] degrees")]
    LatOutOfRange(f64),
}

/// A WGS-84 position in degrees whose longitude and latitude are finite and in range.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Wgs84Point {
    lon: f64,
    lat: f64,
}

impl Wgs84Point {
    /// Checks and wraps a (lon, lat) pair in degrees; longitude is checked before latitude.
    pub fn new(lon: f64, lat: f64) -> Result<Self, PointError> {
        if !lon.is_finite() {
            return Err(PointError::LonNotFinite(lon));
        }
        if !lat.is_finite() {
            return Err(PointError::LatNotFinite(lat));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(PointError::LonOutOfRange(lon));
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(PointError::LatOutOfRange(lat));
        }
        Ok(Wgs84Point { lon, lat })
    }

    /// The longitude in degrees, east positive.
    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// The latitude in degrees, north positive.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// The point as a geo coordinate `{ x: lon, y: lat }`.
    pub fn coord(&self) -> geo_types::Coord<f64> {
        geo_types::Coord {
            x: self.lon,
            y: self.lat,
        }
    }

    /// The point as a geo point `(lon, lat)`.
    pub fn point(&self) -> geo_types::Point<f64> {
        geo_types::Point::new(self.lon, self.lat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_vector_matches_the_published_gcj02_offset() {
        let (lon, lat) = wgs84_to_gcj02(121.47, 31.23);
        assert!((lon - 121.474535).abs() < 1e-6, "lon {lon}");
        assert!((lat - 31.228067).abs() < 1e-6, "lat {lat}");
    }

    #[test]
    fn points_outside_china_are_not_shifted() {
        for (lon, lat) in [(2.35, 48.85), (-74.0, 40.7), (139.7, 35.7), (121.0, 0.5)] {
            assert_eq!(wgs84_to_gcj02(lon, lat), (lon, lat));
            assert_eq!(gcj02_to_wgs84(lon, lat), (lon, lat));
        }
    }

    #[test]
    fn round_trips_return_the_original_point() {
        let samples = [
            (121.47, 31.23),
            (116.397, 39.908),
            (113.26, 23.13),
            (87.6, 43.8),
            (126.6, 45.75),
            (110.35, 20.02),
            (121.9, 31.0),
        ];
        for (lon, lat) in samples {
            for datum in [Datum::Wgs84, Datum::Gcj02, Datum::Bd09] {
                let (x, y) = from_wgs84(lon, lat, datum);
                let (back_lon, back_lat) = to_wgs84(x, y, datum);
                assert!(
                    (back_lon - lon).abs() < 1e-7 && (back_lat - lat).abs() < 1e-7,
                    "{datum} round trip of ({lon}, {lat}) gave ({back_lon}, {back_lat})"
                );
            }
            let (gx, gy) = wgs84_to_gcj02(lon, lat);
            let (wx, wy) = gcj02_to_wgs84(gx, gy);
            assert!((wx - lon).abs() < 1e-9 && (wy - lat).abs() < 1e-9);
            let (bx, by) = gcj02_to_bd09(gx, gy);
            let (cx, cy) = bd09_to_gcj02(bx, by);
            assert!((cx - gx).abs() < 1e-9 && (cy - gy).abs() < 1e-9);
        }
    }

    #[test]
    fn bd09_offset_is_about_six_thousandths_of_a_degree() {
        let (gx, gy) = wgs84_to_gcj02(121.47, 31.23);
        let (bx, by) = gcj02_to_bd09(gx, gy);
        assert!((bx - gx - 0.0065).abs() < 0.002, "{bx} vs {gx}");
        assert!((by - gy - 0.006).abs() < 0.002, "{by} vs {gy}");
    }

    #[test]
    fn datum_names_parse_and_print() {
        let cases = [
            ("wgs84", Datum::Wgs84),
            ("WGS-84", Datum::Wgs84),
            ("gcj02", Datum::Gcj02),
            ("GCJ-02", Datum::Gcj02),
            ("bd09", Datum::Bd09),
            ("Bd-09", Datum::Bd09),
        ];
        for (text, datum) in cases {
            assert_eq!(text.parse::<Datum>(), Ok(datum));
            assert_eq!(datum.to_string().parse::<Datum>(), Ok(datum));
        }
        assert_eq!(Datum::Gcj02.to_string(), "gcj02");
        let error = "cgcs2000".parse::<Datum>().unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("cgcs2000") && message.contains("gcj-02") && message.contains("bd09")
        );
    }

    #[test]
    fn wgs84_points_are_checked_with_precise_messages() {
        let point = Wgs84Point::new(121.47, 31.23).unwrap();
        assert_eq!((point.lon(), point.lat()), (121.47, 31.23));
        assert_eq!(point.coord().x, 121.47);
        let cases = [
            (f64::NAN, 0.0, "longitude NaN is not a finite number"),
            (0.0, f64::INFINITY, "latitude inf is not a finite number"),
            (180.5, 0.0, "longitude 180.5 is outside [-180, 180] degrees"),
            (0.0, -90.25, "latitude -90.25 is outside [-90, 90] degrees"),
        ];
        for (lon, lat, message) in cases {
            assert_eq!(Wgs84Point::new(lon, lat).unwrap_err().to_string(), message);
        }
        assert!(Wgs84Point::new(-180.0, 90.0).is_ok());
    }
}
