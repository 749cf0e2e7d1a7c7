//! The pinpipe data lake: how objects are read and written (their keys are
//! `pinpipe_contract::layout`'s, docs/SPEC.md §3).
//!
//! * [`ObjectStore`] is the port the pipeline talks to; [`LocalStore`] keeps the lake in a folder and,
//!   with the `s3` feature, [`S3Store`] keeps it in an Amazon S3 bucket (or any S3-compatible server).

pub mod config;
mod local;
#[cfg(feature = "s3")]
mod s3;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;

pub use local::LocalStore;
#[cfg(feature = "s3")]
pub use s3::S3Store;
pub use store::{get_in_order, get_many, ObjectMeta, ObjectStore, ReadAhead, StoreError, Url};
