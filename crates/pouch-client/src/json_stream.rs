//! Decoding of JSON progress streams: a sequence of JSON objects (Docker separates them with
//! `\r\n`, but any whitespace or none is accepted, as Go's `json.Decoder` does), split across
//! arbitrary chunk boundaries.

use std::collections::VecDeque;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hyper::body::Incoming;
use pouch_api::progress::JsonMessage;
use serde::de::DeserializeOwned;

use crate::{transport, ClientError, JsonStream};

/// Incremental decoder of concatenated JSON values.
pub(crate) struct JsonDecoder<T> {
    buf: Vec<u8>,
    ready: VecDeque<T>,
}

impl<T: DeserializeOwned> JsonDecoder<T> {
    pub(crate) fn new() -> Self {
        JsonDecoder {
            buf: Vec::new(),
            ready: VecDeque::new(),
        }
    }

    /// Adds a chunk and decodes every complete value it finishes.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), serde_json::Error> {
        self.buf.extend_from_slice(chunk);
        let mut consumed = 0;
        let mut iter = serde_json::Deserializer::from_slice(&self.buf).into_iter::<T>();
        let outcome = loop {
            match iter.next() {
                Some(Ok(value)) => {
                    consumed = iter.byte_offset();
                    self.ready.push_back(value);
                }
                Some(Err(e)) if e.is_eof() => break Ok(()),
                Some(Err(e)) => break Err(e),
                None => {
                    consumed = iter.byte_offset();
                    break Ok(());
                }
            }
        };
        self.buf.drain(..consumed);
        outcome
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        self.ready.pop_front()
    }

    /// True when only whitespace is left over.
    pub(crate) fn is_clean(&self) -> bool {
        self.buf.iter().all(|b| b.is_ascii_whitespace())
    }
}

struct State<S> {
    body: S,
    decoder: JsonDecoder<JsonMessage>,
    done: bool,
    what: String,
}

/// Wraps a response body as a stream of [`JsonMessage`]s.
pub(crate) fn json_stream(body: Incoming, what: &str) -> JsonStream {
    messages(transport::byte_stream(body, what), what)
}

fn messages<S>(body: S, what: &str) -> JsonStream
where
    S: Stream<Item = Result<Bytes, ClientError>> + Send + Unpin + 'static,
{
    let state = State {
        body,
        decoder: JsonDecoder::new(),
        done: false,
        what: what.to_string(),
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(m) = st.decoder.pop() {
                return Some((Ok(m), st));
            }
            if st.done {
                return None;
            }
            match st.body.next().await {
                Some(Ok(chunk)) => {
                    if let Err(source) = st.decoder.push(&chunk) {
                        st.done = true;
                        let what = st.what.clone();
                        return Some((Err(ClientError::Decode { what, source }), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    if !st.decoder.is_clean() {
                        let source = serde_json::from_slice::<serde_json::Value>(&st.decoder.buf)
                            .err()
                            .unwrap_or_else(|| {
                                serde_json::from_str::<serde_json::Value>("{").unwrap_err()
                            });
                        let what = st.what.clone();
                        return Some((Err(ClientError::Decode { what, source }), st));
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    #[test]
    fn decodes_across_chunk_boundaries() {
        let mut d = JsonDecoder::<JsonMessage>::new();
        d.push(b"{\"status\":\"Pulling fs").unwrap();
        assert!(d.pop().is_none());
        d.push(b" layer\",\"id\":\"abc\"}\r\n{\"stat").unwrap();
        let m = d.pop().unwrap();
        assert_eq!(m.status.as_deref(), Some("Pulling fs layer"));
        assert_eq!(m.id.as_deref(), Some("abc"));
        assert!(d.pop().is_none());
        d.push(b"us\":\"x\"}{\"error\":\"boom\"}\n").unwrap();
        assert_eq!(d.pop().unwrap().status.as_deref(), Some("x"));
        assert_eq!(d.pop().unwrap().error.as_deref(), Some("boom"));
        assert!(d.is_clean());
    }

    #[test]
    fn rejects_garbage() {
        let mut d = JsonDecoder::<JsonMessage>::new();
        assert!(d.push(b"{\"status\":\"a\"}\nnot json").is_err());
        assert_eq!(d.pop().unwrap().status.as_deref(), Some("a"));
    }

    #[tokio::test]
    async fn stream_reports_truncated_tail() {
        let chunks: Vec<Result<Bytes, ClientError>> = vec![
            Ok(Bytes::from_static(b"{\"status\":\"one\"}\r\n{\"sta")),
            Ok(Bytes::from_static(b"tus\":\"two\"}\r\n{\"status\"")),
        ];
        let mut s = messages(stream::iter(chunks), "pull");
        assert_eq!(
            s.next().await.unwrap().unwrap().status.as_deref(),
            Some("one")
        );
        assert_eq!(
            s.next().await.unwrap().unwrap().status.as_deref(),
            Some("two")
        );
        assert!(matches!(
            s.next().await.unwrap(),
            Err(ClientError::Decode { .. })
        ));
        assert!(s.next().await.is_none());
    }
}
