//! The `docent` binary's library: how a process is assembled (`startup`),
//! shared by the binary's commands, the HTTP tests and the benchmarks.

pub mod operator;
pub mod startup;
