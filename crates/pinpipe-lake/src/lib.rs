//! The pinpipe data lake: where every object lives (SPEC §3) and how it is read and written.
//!
//! * [`layout`] names every key of the lake (raw, cleaned, results, stream, rejected, state).
//! * [`ObjectStore`] is the port the pipeline talks to; [`LocalStore`] keeps the lake in a folder and,
//!   with the `s3` feature, [`S3Store`] keeps it in an Amazon S3 bucket (or any S3-compatible server).

pub mod config;
pub mod layout;
mod local;
#[cfg(feature = "s3")]
mod s3;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;

pub use local::LocalStore;
#[cfg(feature = "s3")]
pub use s3::S3Store;
pub use store::{get_many, ObjectMeta, ObjectStore, StoreError};
