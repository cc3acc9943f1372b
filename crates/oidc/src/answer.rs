//! Another server's answer, read with a bound. Whatever the federation's
//! parts call (a provider's discovery, token, userinfo and keys, the
//! register, the hub's checktoken, a data provider, a licence register, a
//! holder's device; a service the wallet app answers) could send an endless
//! body: a compromised peer, or a front in its path. Read whole, it would
//! take the process's memory; read here, it is an error once past
//! [`LIMIT`], announced or not.

use serde::de::DeserializeOwned;

/// The most an answer may hold: 256 KiB. A FranceConnect+ userinfo, signed
/// then encrypted, is a few KiB; a provider's key set with certificate
/// chains some tens.
pub const LIMIT: usize = 256 * 1024;

/// The longest a call to another server may take, its answer read: 6 s, as
/// FranceConnect's calls to providers. A peer that never answers, or
/// trickles its answer, holds nothing longer.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6);

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Longer than [`LIMIT`], as announced or as it arrived.
    #[error("the answer is longer than {LIMIT} bytes")]
    TooLarge,
    /// The connection failed while reading.
    #[error("the answer could not be read: {0}")]
    Read(String),
    /// Not the JSON expected.
    #[error("the answer is not the JSON expected")]
    NotJson,
    /// Not UTF-8 text.
    #[error("the answer is not text")]
    NotText,
}

/// The body, up to [`LIMIT`] bytes.
pub async fn bytes(mut response: reqwest::Response) -> Result<Vec<u8>, AnswerError> {
    let announced = response.content_length().unwrap_or(0);
    if announced > LIMIT as u64 {
        return Err(AnswerError::TooLarge);
    }
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| AnswerError::Read(error.without_url().to_string()))?
    {
        if body.len() + chunk.len() > LIMIT {
            return Err(AnswerError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The body as text, up to [`LIMIT`] bytes.
pub async fn text(response: reqwest::Response) -> Result<String, AnswerError> {
    String::from_utf8(bytes(response).await?).map_err(|_| AnswerError::NotText)
}

/// The body as JSON, up to [`LIMIT`] bytes.
pub async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, AnswerError> {
    serde_json::from_slice(&bytes(response).await?).map_err(|_| AnswerError::NotJson)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A server on 127.0.0.1 that answers one request with `head`, then
    /// `body` in 16 KiB writes, each a chunk of its own when `chunked`.
    async fn serving(head: String, body: Vec<u8>, chunked: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            socket.write_all(head.as_bytes()).await.unwrap();
            for part in body.chunks(16 * 1024) {
                let written = if chunked {
                    let mut framed = format!("{:x}\r\n", part.len()).into_bytes();
                    framed.extend_from_slice(part);
                    framed.extend_from_slice(b"\r\n");
                    socket.write_all(&framed).await
                } else {
                    socket.write_all(part).await
                };
                // The reader may hang up once it has read enough.
                if written.is_err() {
                    return;
                }
            }
            if chunked {
                let _ = socket.write_all(b"0\r\n\r\n").await;
            }
        });
        format!("http://{address}/")
    }

    async fn get(url: &str) -> reqwest::Response {
        reqwest::Client::new().get(url).send().await.unwrap()
    }

    #[tokio::test]
    async fn an_answer_within_the_limit_is_read_whole() {
        let body =
            serde_json::to_vec(&serde_json::json!({ "sub": "x".repeat(LIMIT - 20) })).unwrap();
        assert!(body.len() <= LIMIT);
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        let url = serving(head, body.clone(), false).await;
        let read: serde_json::Value = json(get(&url).await).await.unwrap();
        assert_eq!(read["sub"].as_str().unwrap().len(), LIMIT - 20);
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_owned();
        let url = serving(head, body.clone(), true).await;
        assert_eq!(bytes(get(&url).await).await.unwrap(), body);
    }

    #[tokio::test]
    async fn an_answer_announced_longer_is_refused_before_it_is_read() {
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", 1u64 << 40);
        let url = serving(head, Vec::new(), false).await;
        assert!(matches!(
            bytes(get(&url).await).await,
            Err(AnswerError::TooLarge)
        ));
    }

    #[tokio::test]
    async fn an_answer_that_goes_on_unannounced_is_refused_past_the_limit() {
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_owned();
        let url = serving(head, vec![b' '; 4 * LIMIT], true).await;
        assert!(matches!(
            text(get(&url).await).await,
            Err(AnswerError::TooLarge)
        ));
        let head = "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_owned();
        let url = serving(head, vec![b'{'; 4 * LIMIT], false).await;
        assert!(matches!(
            json::<serde_json::Value>(get(&url).await).await,
            Err(AnswerError::TooLarge)
        ));
    }

    #[tokio::test]
    async fn an_answer_that_is_not_what_was_asked_says_so() {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n".to_owned();
        let url = serving(head, vec![0xff, 0xfe], false).await;
        assert!(matches!(
            text(get(&url).await).await,
            Err(AnswerError::NotText)
        ));
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n".to_owned();
        let url = serving(head, b"{]".to_vec(), false).await;
        assert!(matches!(
            json::<serde_json::Value>(get(&url).await).await,
            Err(AnswerError::NotJson)
        ));
    }
}
