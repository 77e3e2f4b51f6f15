//! The services `cargo xtask services` starts are really there: a Mosquitto broker that speaks
//! MQTT 3.1.1, and PostgreSQL with the PostGIS extension installable.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// An MQTT 3.1.1 CONNECT packet with a clean session and client id `jz-test`.
fn connect_packet() -> Vec<u8> {
    let client_id = b"jz-test";
    let mut variable = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C];
    variable.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    variable.extend_from_slice(client_id);
    let mut packet = vec![0x10, variable.len() as u8];
    packet.extend(variable);
    packet
}

#[test]
fn mosquitto_accepts_an_mqtt_connection() {
    let address = jz_testkit::mqtt_addr();
    let mut stream = match TcpStream::connect(&address) {
        Ok(stream) => stream,
        Err(cause) => {
            jz_testkit::service_missing("Mosquitto", &address, &cause.to_string());
            return;
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&connect_packet()).unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).unwrap();
    // CONNACK, remaining length 2, no session present, return code 0 (accepted).
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00]);
}

#[tokio::test]
async fn postgis_is_available_on_the_test_server() {
    let Some(db) = jz_testkit::TestDb::postgres().await else {
        return;
    };
    let pool = db.raw_pool().await;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
        .execute(&pool)
        .await
        .expect("PostGIS installs");
    let version: String = sqlx::Row::try_get(
        &sqlx::query("SELECT postgis_lib_version()")
            .fetch_one(&pool)
            .await
            .unwrap(),
        0,
    )
    .unwrap();
    assert!(version.starts_with('3'), "PostGIS {version}");
}
