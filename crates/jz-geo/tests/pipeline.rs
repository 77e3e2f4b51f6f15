//! End-to-end check of the generated-boundary pipeline: a district is partitioned into streets
//! and communities, communities are gridded, and the cells are indexed and linked as neighbours.

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use jz_geo::{
    GridOptions, PolygonIndex, area_m2, grid_cells, neighbours, overlap_area_m2, partition,
    polygon_problems,
};

/// A wobbly, concave district of about 14 km² near People's Square, with 240 vertices.
fn district() -> MultiPolygon<f64> {
    let n = 240;
    let ring: Vec<Coord<f64>> = (0..n)
        .map(|k| {
            let angle = std::f64::consts::TAU * k as f64 / n as f64;
            let radius = 0.02 * (1.0 + 0.25 * (3.0 * angle).sin() + 0.1 * (11.0 * angle).cos());
            Coord {
                x: 121.47 + radius * angle.cos() / 31.23_f64.to_radians().cos(),
                y: 31.23 + radius * angle.sin(),
            }
        })
        .collect();
    MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])])
}

#[test]
fn district_to_streets_to_communities_to_grid_cells() {
    let district = district();
    assert!(polygon_problems(&district).is_empty());
    let district_area = area_m2(&district);

    let streets = partition(&district, &[3.0, 2.0, 2.0, 1.5, 1.0, 1.0], 310_101);
    let mut communities = Vec::new();
    for (k, street) in streets.iter().enumerate() {
        assert!(polygon_problems(street).is_empty(), "street {k}");
        communities.extend(partition(street, &[1.0, 1.3, 0.7], k as u64));
    }
    let community_sum: f64 = communities.iter().map(area_m2).sum();
    assert!((community_sum - district_area).abs() <= 1e-9 * district_area);
    for (i, a) in communities.iter().enumerate() {
        assert!(polygon_problems(a).is_empty(), "community {i}");
        for b in &communities[i + 1..] {
            assert!(overlap_area_m2(a, b) <= 1e-6 * district_area);
        }
    }

    let options = GridOptions {
        reference_lat_deg: Some(31.0),
        ..GridOptions::default()
    };
    let mut cells = Vec::new();
    for community in &communities {
        let grid = grid_cells(community, &options);
        assert!(!grid.is_empty() && grid.len() <= 999);
        let sum: f64 = grid.iter().map(|c| c.area_m2).sum();
        assert!((sum - area_m2(community)).abs() <= 1e-4 * sum);
        cells.extend(grid);
    }
    let cell_sum: f64 = cells.iter().map(|c| c.area_m2).sum();
    assert!((cell_sum - district_area).abs() <= 1e-4 * district_area);

    assert!(cells.len() > 1000, "{} cells", cells.len());
    let polygons: Vec<MultiPolygon<f64>> = cells.iter().map(|c| c.polygon.clone()).collect();
    let links = neighbours(&polygons);
    for (i, list) in links.iter().enumerate() {
        assert!(!list.is_empty(), "cell {i} has no neighbour");
        for &j in list {
            assert!(links[j].contains(&i), "neighbour lists are symmetric");
        }
    }

    let index = PolygonIndex::new(polygons.iter().cloned().enumerate().collect());
    assert_eq!(index.len(), cells.len());
    for (i, cell) in cells.iter().enumerate().filter(|(_, c)| c.rectangle) {
        assert_eq!(index.locate(cell.centroid), Some(&i));
    }
    let outside = Coord { x: 121.6, y: 31.23 };
    assert_eq!(index.locate(outside), None);
    let (_, distance) = index.nearest(outside).unwrap();
    assert!(distance > 5_000.0 && distance < 15_000.0, "{distance}");
}
