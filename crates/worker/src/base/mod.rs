//! The ground floor: small helpers every layer shares (a clock, text cut
//! to a service's limits, a stable hash, spelling suggestions). A module
//! here imports nothing of cpsf's, so anything may import it without
//! tying a knot.

pub mod change;
pub mod clock;
pub mod hash;
pub mod limits;
pub mod plain;
pub mod spelling;
pub mod text;
