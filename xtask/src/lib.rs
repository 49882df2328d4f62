//! attnfarm's build farm as a library; `main.rs` is a thin CLI over it.
//!
//! Modules follow the flow (see ARCHITECTURE.md): `matrix` → `plan` →
//! `toolchain` → `engine` → `audit` → `wheel` → `index` → `publish`, with `ci`
//! generating the workflows. Pure modules do no I/O: `versions`, `platform`,
//! `matrix` (given text), `plan`, `names`, `wheel::filename`,
//! `wheel::metadata`, `index::render`, `index::urls`, `publish::reconcile`.

pub mod audit;
pub mod ci;
pub mod cmd;
pub mod engine;
pub mod farm;
pub mod fsx;
pub mod index;
pub mod matrix;
pub mod names;
pub mod plan;
pub mod platform;
pub mod progress;
pub mod publish;
pub mod table;
#[doc(hidden)]
pub mod testing;
pub mod toolchain;
pub mod verify;
pub mod versions;
pub mod wheel;
