//! The locate benchmark: point → unit grid lookups in Jingzhi's in-memory index against PostGIS
//! `ST_Contains` with a GiST index over the same grids, one client each, in one run.

use std::time::Instant;

use anyhow::Context;
use geo::BoundingRect;
use jz_app::city::{FieldMapping, ImportOptions, plan_sources, shanghai_sources};
use jz_geo::index::PolygonIndex;
use sqlx::Row;

/// A small deterministic generator (xorshift) for random points.
struct Points(u64);

impl Points {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub async fn locate_vs_postgis(
    postgis_url: &str,
    lookups: usize,
    limit: usize,
) -> anyhow::Result<()> {
    println!(
        "\n== locate: point -> unit grid, in-memory index vs PostGIS ST_Contains + GiST, one client each =="
    );
    let started = Instant::now();
    let plan = tokio::task::spawn_blocking(|| {
        plan_sources(
            Vec::new(),
            &shanghai_sources(),
            &FieldMapping::default(),
            &ImportOptions::default(),
            &|_, _, _| {},
        )
    })
    .await?
    .map_err(|problems| anyhow::anyhow!("planning Shanghai failed: {} problems", problems.len()))?;
    let take = if limit == 0 {
        plan.grids.len()
    } else {
        limit.min(plan.grids.len())
    };
    let grids: Vec<(String, geo_types::MultiPolygon<f64>)> = plan
        .grids
        .iter()
        .take(take)
        .map(|g| (g.code.to_string(), g.polygon.clone()))
        .collect();
    println!(
        "   grids: {} of Shanghai's {} (generated in {:.1} s)",
        grids.len(),
        plan.grids.len(),
        started.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        grids.len() >= 200_000,
        "the benchmark needs at least 200,000 grids"
    );
    // Random points over the bounding box of the grids used (some fall between or outside them).
    let bounds = geo_types::MultiPolygon(
        grids
            .iter()
            .flat_map(|(_, p)| p.0.iter().cloned())
            .collect(),
    )
    .bounding_rect()
    .context("no grids")?;
    // Two samples: points anywhere over the grids' bounding box (many miss), and points inside
    // randomly chosen grids' boxes (nearly all hit: the case of a report inside the city).
    let mut points = Points(0x5EED_1234_5678);
    let uniform: Vec<(f64, f64)> = (0..lookups)
        .map(|_| {
            (
                bounds.min().x + points.next_unit() * bounds.width(),
                bounds.min().y + points.next_unit() * bounds.height(),
            )
        })
        .collect();
    let boxes: Vec<geo_types::Rect<f64>> = grids
        .iter()
        .filter_map(|(_, p)| p.bounding_rect())
        .collect();
    let sample: Vec<(f64, f64)> = (0..lookups)
        .map(|_| {
            let cell =
                boxes[((points.next_unit() * boxes.len() as f64) as usize).min(boxes.len() - 1)];
            (
                cell.min().x + points.next_unit() * cell.width(),
                cell.min().y + points.next_unit() * cell.height(),
            )
        })
        .collect();
    let built = Instant::now();
    let index = PolygonIndex::new(grids.clone());
    let build_ms = built.elapsed().as_secs_f64() * 1000.0;
    let timed = Instant::now();
    let mut found = 0usize;
    for &(x, y) in &sample {
        if index.locate(geo_types::Coord { x, y }).is_some() {
            found += 1;
        }
    }
    let ours_s = timed.elapsed().as_secs_f64();
    let ours_us = ours_s * 1e6 / sample.len() as f64;
    let timed = Instant::now();
    let mut uniform_found = 0usize;
    for &(x, y) in &uniform {
        if index.locate(geo_types::Coord { x, y }).is_some() {
            uniform_found += 1;
        }
    }
    let uniform_us = timed.elapsed().as_secs_f64() * 1e6 / uniform.len() as f64;

    // PostGIS over the same grids.
    // One client: a single connection, statements prepared once.
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(postgis_url)
        .await
        .with_context(|| {
            format!(
                "PostGIS at {} is needed for the baseline (start it with: cargo xtask services)",
                jz_store::mask_password(postgis_url)
            )
        })?;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
        .execute(&mut connection)
        .await?;
    sqlx::query("DROP TABLE IF EXISTS jz_bench_grid")
        .execute(&mut connection)
        .await?;
    sqlx::query("CREATE TABLE jz_bench_grid (code TEXT PRIMARY KEY, geom geometry(MultiPolygon, 4326) NOT NULL)").execute(&mut connection).await?;
    let loading = Instant::now();
    for chunk in grids.chunks(1000) {
        let mut sql = String::from("INSERT INTO jz_bench_grid (code, geom) VALUES ");
        for n in 0..chunk.len() {
            if n > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ST_SetSRID(ST_GeomFromGeoJSON(${}), 4326))",
                2 * n + 1,
                2 * n + 2
            ));
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (code, polygon) in chunk {
            query = query
                .bind(code.clone())
                .bind(jz_app::city::store::geometry_to_json(polygon));
        }
        query.execute(&mut connection).await?;
    }
    sqlx::query("CREATE INDEX jz_bench_grid_geom ON jz_bench_grid USING GIST (geom)")
        .execute(&mut connection)
        .await?;
    sqlx::query("ANALYZE jz_bench_grid")
        .execute(&mut connection)
        .await?;
    println!(
        "   PostGIS table loaded and indexed in {:.1} s",
        loading.elapsed().as_secs_f64()
    );

    let baseline_sample = &sample[..(sample.len() / 20).max(1000).min(sample.len())];
    let mut agree = 0usize;
    let mut compared = 0usize;
    let plan: Vec<String> = sqlx::query("EXPLAIN SELECT code FROM jz_bench_grid WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(121.4, 31.2), 4326)) LIMIT 1")
        .fetch_all(&mut connection)
        .await?
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    anyhow::ensure!(
        plan.iter().any(|line| line.contains("jz_bench_grid_geom")),
        "PostGIS does not use the GiST index: {plan:?}"
    );
    let timed = Instant::now();
    let mut baseline_answers = Vec::with_capacity(baseline_sample.len());
    for &(x, y) in baseline_sample {
        let row = sqlx::query(
            "SELECT code FROM jz_bench_grid WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) LIMIT 1",
        )
        .bind(x)
        .bind(y)
        .fetch_optional(&mut connection)
        .await?;
        baseline_answers.push(row.map(|r| r.get::<String, _>(0)));
    }
    let baseline_s = timed.elapsed().as_secs_f64();
    let baseline_us = baseline_s * 1e6 / baseline_sample.len() as f64;
    for (&(x, y), theirs) in baseline_sample.iter().zip(&baseline_answers) {
        let ours = index.locate(geo_types::Coord { x, y });
        compared += 1;
        if ours == theirs.as_ref() {
            agree += 1;
        }
    }
    sqlx::query("DROP TABLE jz_bench_grid")
        .execute(&mut connection)
        .await?;
    <sqlx::PgConnection as sqlx::Connection>::close(connection).await?;

    println!("   index build: {build_ms:.0} ms for {} grids", grids.len());
    println!(
        "   baseline  PostGIS ST_Contains (GiST), 1 client: {:>10.0} lookups/s  {:>8.2} us/lookup  ({} random points in grids)",
        1e6 / baseline_us,
        baseline_us,
        baseline_sample.len()
    );
    println!(
        "   jingzhi   in-memory index, 1 thread:           {:>10.0} lookups/s  {:>8.2} us/lookup  ({} random points in grids, {:.1} % hit)",
        1e6 / ours_us,
        ours_us,
        sample.len(),
        100.0 * found as f64 / sample.len() as f64
    );
    println!(
        "   jingzhi   same, points uniform over the bbox:  {:>10.0} lookups/s  {:>8.2} us/lookup  ({:.1} % hit)",
        1e6 / uniform_us,
        uniform_us,
        100.0 * uniform_found as f64 / uniform.len() as f64
    );
    println!(
        "   ratio: in-memory is {:.0}x PostGIS per core; answers agree on {agree}/{compared} points",
        baseline_us / ours_us
    );
    Ok(())
}
