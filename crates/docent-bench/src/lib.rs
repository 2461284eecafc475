//! `docent bench` and `docent eval`: performance scenarios and the quality
//! evaluation, in a crate of their own so the product's code carries neither
//! (the `docent` binary links it so both stay commands).

pub mod bench;
pub mod eval;
