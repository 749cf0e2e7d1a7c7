//! Shared set-up of the end-to-end tests: a stack on the local servers with a prefix and a bucket
//! of the test's own.

#![allow(dead_code)]

use std::collections::HashSet;

use pinpipe_emulate::Generator;
use pinpipe_ingest::testing::{kafka_bootstrap, unique_prefix};
use pinpipe_lake::testing::{local_environment, unique_bucket};
use pinpipe_local::{Services, StackOptions};

/// A stack on the local servers (the shared broker unless `kafka` names another), with a fresh
/// prefix and bucket.
pub fn local_stack(test: &str, kafka: Option<&str>) -> StackOptions {
    local_environment();
    let prefix = unique_prefix(test);
    let mut options = StackOptions::embedded(prefix, "unused");
    options.services = Services::Local {
        kafka_bootstrap: kafka.map_or_else(kafka_bootstrap, str::to_string),
        bucket: unique_bucket(test),
    };
    options
}

/// The distinct records per table (pin, geo, user) among the first `rows` posts of `seed`.
pub fn distinct_records(seed: u64, rows: usize) -> [usize; 3] {
    let mut distinct: [HashSet<String>; 3] = Default::default();
    for post in Generator::new(seed).take(rows) {
        for (set, text) in distinct.iter_mut().zip(post.json_texts()) {
            set.insert(text);
        }
    }
    distinct.map(|set| set.len())
}

/// A TCP proxy on loopback in front of `upstream` that can be cut: while cut it drops every open
/// connection and closes new ones at once, which is what a client sees of a server that is down.
pub struct CuttableProxy {
    /// `http://<address>`.
    pub url: String,
    cut: tokio::sync::watch::Sender<bool>,
}

impl CuttableProxy {
    /// Starts a proxy to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (cut, is_cut) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut is_cut = is_cut.clone();
                if *is_cut.borrow() {
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = is_cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { url, cut }
    }

    /// Cuts the connection (`true`) or restores it.
    pub fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}
