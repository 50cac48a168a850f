//! Kafka through librdkafka (rdkafka). Plain Rust, no Lua.
//!
//! `producer` sends records, `consumer` and `group` make a group consumer and keep what it knows of
//! its group, `poll` reads its records in batches, `admin` manages topics and checks the brokers.

pub mod admin;
pub mod consumer;
pub mod group;
pub mod poll;
pub mod producer;

use crate::metrics::{ErrorKind, OpError};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Sorts a Kafka error into the error kinds.
pub fn classify(e: &KafkaError) -> ErrorKind {
    let code = match e {
        KafkaError::MessageProduction(c)
        | KafkaError::MessageConsumption(c)
        | KafkaError::AdminOp(c)
        | KafkaError::Global(c)
        | KafkaError::MetadataFetch(c) => Some(*c),
        KafkaError::ClientCreation(_) | KafkaError::ClientConfig(..) => return ErrorKind::Client,
        _ => e.rdkafka_error_code(),
    };
    match code {
        Some(
            RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut,
        ) => ErrorKind::Timeout,
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::Resolve
            | RDKafkaErrorCode::NetworkException,
        ) => ErrorKind::Connect,
        Some(
            RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::UnknownPartition
            | RDKafkaErrorCode::InvalidArgument
            | RDKafkaErrorCode::TopicAlreadyExists
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::InvalidPartitions
            | RDKafkaErrorCode::InvalidReplicationFactor
            | RDKafkaErrorCode::QueueFull,
        ) => ErrorKind::Client,
        Some(_) => ErrorKind::Server,
        None => ErrorKind::Protocol,
    }
}

/// A Kafka error for messages: rdkafka's text, but a refused setting without its value (rdkafka ends
/// the text with it, and a misspelled `sasl.password` is still a secret).
pub fn shown(e: &KafkaError) -> String {
    match e {
        KafkaError::ClientConfig(_, desc, key, _) => {
            format!("Client config error: {desc} (setting {key})")
        }
        other => other.to_string(),
    }
}

fn op_error(e: &KafkaError, what: &str) -> OpError {
    OpError::new(classify(e), format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::types::RDKafkaConfRes;

    #[test]
    fn a_refused_setting_is_shown_without_its_value() {
        let e = KafkaError::ClientConfig(
            RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN,
            "No such configuration property: \"sasl.pasword\"".into(),
            "sasl.pasword".into(),
            "pw-1".into(),
        );
        assert!(e.to_string().contains("pw-1"), "rdkafka shows it: {e}");
        let shown = shown(&e);
        assert!(
            shown.contains("\"sasl.pasword\"") && !shown.contains("pw-1"),
            "{shown}"
        );
    }
}
