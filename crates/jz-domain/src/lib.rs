//! Jingzhi's pure domain core: the rules of fine-grained urban governance, with no I/O.
//!
//! This crate never touches a database, a socket, the clock or randomness: time and seeds are
//! parameters. Adapters (store, HTTP, MQTT, console) wrap it. A tidy test in `xtask` proves it
//! depends on no async runtime, database or HTTP crate.

pub mod access;
pub mod audit;
pub mod calendar;
pub mod case;
pub mod category;
pub mod division;
pub mod evaluation;
pub mod goal;
pub mod responsibility;
