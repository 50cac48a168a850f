//! Store bindings. Each has a pure-Rust client (no Lua) and a Lua face (no wire), and records every
//! operation through [`crate::bindings::timing::timed`].

#[cfg(feature = "http")]
pub mod http;
pub mod timing;
