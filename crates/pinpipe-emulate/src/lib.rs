//! pinpipe's deterministic synthetic post source, standing in for the original emulator's
//! database of Pinterest posts.
//!
//! A seed builds [`SourceTables`]: [`SOURCE_ROWS`] pin, geo and user rows whose values follow
//! docs/SPEC.md §1 (keys shared across each triple, the 13 categories, media shares, broken story posts
//! and other placeholders, follower counts as strings, persons recurring under several keys,
//! skewed ages and countries, three datetime forms). A [`Generator`] draws posts from them with
//! replacement; [`dump`] writes drawn posts to JSON-lines files; with the `post` feature, [`post`]
//! sends them to an ingestion API over HTTP.
//!
//! Drawn from [`SOURCE_ROWS`] rows, most of many posts are exact duplicates. Tables of any other
//! size ([`SourceTables::with_rows`], [`Generator::with_source_rows`], up to [`MAX_SOURCE_ROWS`])
//! have the same distributions, but each row is made when it is drawn, from its own random stream,
//! so ten million rows cost no memory and a dump from ten times more rows than posts is over 90 %
//! distinct.
//!
//! ```
//! let mut posts = pinpipe_emulate::Generator::new(7);
//! let post = posts.next_post();
//! assert_eq!(post.pin.index, post.geo.ind);
//! assert_eq!(post.geo.ind, post.user.ind);
//! ```

mod dump;
mod generator;
mod lazy;
mod people;
mod pins;
#[cfg(feature = "post")]
pub mod post;
mod records;
mod rng;
mod tables;
mod time;
mod vocab;

pub use dump::{dump, dump_with_progress, table_file_name, DumpError, DumpSummary, DUMP_PROGRESS_EVERY};
pub use generator::Generator;
pub use records::{json_text, Geo, Pin, Post, User};
pub use tables::{SourceTables, MAX_SOURCE_ROWS, SOURCE_ROWS};
