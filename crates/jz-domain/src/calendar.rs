//! The city's working-day calendar and deadline arithmetic (being written).
