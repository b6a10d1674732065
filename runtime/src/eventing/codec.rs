//! Encodings of message metadata: for the embedded topic log's `metadata`
//! column, and for the envelope a topic message travels in through the feed
//! engine (metadata and payload in one record payload).

use bytes::Bytes;
use prost::Message;

use super::topics::TopicMessage;
use crate::context::Metadata;

/// One metadata entry.
#[derive(Clone, PartialEq, prost::Message)]
struct Header {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value: String,
}

/// A message's metadata and payload.
#[derive(Clone, PartialEq, prost::Message)]
struct Envelope {
    #[prost(message, repeated, tag = "1")]
    headers: Vec<Header>,
    #[prost(bytes = "bytes", tag = "2")]
    payload: Bytes,
}

fn headers(metadata: &Metadata) -> Vec<Header> {
    metadata
        .iter()
        .map(|(key, value)| Header {
            key: key.to_owned(),
            value: value.to_owned(),
        })
        .collect()
}

fn metadata(headers: Vec<Header>) -> Metadata {
    let mut metadata = Metadata::new();
    for header in headers {
        metadata.insert(header.key, header.value);
    }
    metadata
}

/// Encode metadata alone.
pub(crate) fn encode_metadata(metadata: &Metadata) -> Vec<u8> {
    Envelope {
        headers: headers(metadata),
        payload: Bytes::new(),
    }
    .encode_to_vec()
}

/// Decode metadata encoded by [`encode_metadata`].
pub(crate) fn decode_metadata(bytes: &[u8]) -> Result<Metadata, prost::DecodeError> {
    Envelope::decode(bytes).map(|envelope| metadata(envelope.headers))
}

/// Encode a whole message.
pub(crate) fn encode_message(message: &TopicMessage) -> Bytes {
    Bytes::from(
        Envelope {
            headers: headers(&message.metadata),
            payload: message.payload.clone(),
        }
        .encode_to_vec(),
    )
}

/// Decode a message encoded by [`encode_message`].
pub(crate) fn decode_message(bytes: &[u8]) -> Result<TopicMessage, prost::DecodeError> {
    Envelope::decode(bytes).map(|envelope| TopicMessage {
        metadata: metadata(envelope.headers),
        payload: envelope.payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let message = TopicMessage {
            metadata: Metadata::new().with("ce-id", "1").with("ce-subject", "c1"),
            payload: Bytes::from_static(b"\x08\x01"),
        };
        assert_eq!(decode_message(&encode_message(&message)).unwrap(), message);
        let encoded = encode_metadata(&message.metadata);
        assert_eq!(decode_metadata(&encoded).unwrap(), message.metadata);
        assert!(decode_message(&[0xff, 0xff]).is_err());
    }
}
