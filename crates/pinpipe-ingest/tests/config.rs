//! `IngestConfig::from_env`: the variables the SAM template sets, checked with a message naming each
//! bad one. One test, so nothing else in this process reads the environment meanwhile.

use std::time::Duration;

use pinpipe_ingest::{IngestConfig, KafkaAuth, KafkaConfig};

const VARIABLES: [&str; 4] =
    ["PINPIPE_PREFIX", "PINPIPE_KAFKA_BOOTSTRAP", "PINPIPE_MSK_CLUSTER_ARN", "PINPIPE_KAFKA_AUTH"];
const ARN: &str = "arn:aws:kafka:eu-west-1:123456789012:cluster/pinpipe/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e-2";

fn with_env(values: &[(&str, &str)]) -> Result<IngestConfig, String> {
    for name in VARIABLES {
        // SAFETY: the only test of this binary; no other thread reads the environment.
        unsafe { std::env::remove_var(name) };
    }
    for (name, value) in values {
        unsafe { std::env::set_var(name, value) };
    }
    IngestConfig::from_env().map_err(|err| err.to_string())
}

#[test]
fn the_environment_configures_prefix_and_kafka() {
    let error = with_env(&[]).unwrap_err();
    assert!(error.contains("PINPIPE_PREFIX"), "{error}");
    let error = with_env(&[("PINPIPE_PREFIX", "has.dot")]).unwrap_err();
    assert!(error.contains("PINPIPE_PREFIX") && error.contains("has.dot"), "{error}");

    // No Kafka at all.
    let config = with_env(&[("PINPIPE_PREFIX", "0a1b2c")]).unwrap();
    assert_eq!(config, IngestConfig { prefix: "0a1b2c".into(), kafka: None });

    // A local broker: plaintext by default.
    let config = with_env(&[("PINPIPE_PREFIX", "p"), ("PINPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")]).unwrap();
    assert_eq!(config.kafka, Some(KafkaConfig::plaintext("127.0.0.1:9092")));

    // The SAM template's settings: a cluster ARN and IAM.
    let config =
        with_env(&[("PINPIPE_PREFIX", "p"), ("PINPIPE_MSK_CLUSTER_ARN", ARN), ("PINPIPE_KAFKA_AUTH", "iam")]).unwrap();
    let kafka = config.kafka.unwrap();
    assert_eq!((kafka.bootstrap, kafka.cluster_arn.as_deref(), kafka.auth), (None, Some(ARN), KafkaAuth::Iam));
    assert_eq!(kafka.delivery_timeout, Duration::from_secs(5));
    // An ARN alone means IAM.
    let kafka = with_env(&[("PINPIPE_PREFIX", "p"), ("PINPIPE_MSK_CLUSTER_ARN", ARN)]).unwrap().kafka.unwrap();
    assert_eq!(kafka.auth, KafkaAuth::Iam);
    // The template sets PINPIPE_KAFKA_AUTH=iam even without a cluster: still no Kafka then.
    let config = with_env(&[("PINPIPE_PREFIX", "p"), ("PINPIPE_KAFKA_AUTH", "iam")]).unwrap();
    assert_eq!(config.kafka, None);

    for (name, value) in [
        ("PINPIPE_KAFKA_BOOTSTRAP", "localhost"),
        ("PINPIPE_MSK_CLUSTER_ARN", "arn:aws:s3:::b"),
        ("PINPIPE_KAFKA_AUTH", "scram"),
    ] {
        let error = with_env(&[("PINPIPE_PREFIX", "p"), ("PINPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), (name, value)])
            .unwrap_err();
        assert!(error.contains(name) && error.contains(value), "{error}");
    }
}
