//! Jingzhi's use cases: what a request or a command does, over the pure core and the store.
//!
//! Each use case reads what it needs, decides in pure code (`jz-domain`, `jz-geo`), and writes
//! one [`jz_store::Change`] with its audit records. Nothing here speaks HTTP.

pub mod cases;
pub mod city;
pub mod evaluation;
pub mod open311;
pub mod workload;
pub mod zones;
