//! The test tools' shared code: [`link`], the network path emulation of the
//! `link-emu` binary (the `fault-proxy` binary is `src/main.rs`).

pub mod link;
