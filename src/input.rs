//! The one check every request passes before any handler or query runs: text that PostgreSQL
//! cannot store is refused at the edge with 400 `validation_failed`, on both backends.
//!
//! PostgreSQL `text` cannot hold the NUL character, so a NUL anywhere a string enters (a path
//! segment, a query string, a JSON body) used to reach the driver and come back as a 500. SQLite
//! stores it but then trips CHECK constraints. Rust strings are always valid UTF-8 and JSON
//! refuses lone surrogates, so NUL is the only character to stop; stopping it here, once, means
//! no handler, extractor or column has to remember it.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::error::ApiError;

/// True when percent-encoded text (a raw path or query string) decodes to a NUL somewhere.
/// Decoding turns exactly `%00` into NUL (and a raw NUL cannot appear in a request line).
pub fn encoded_has_nul(raw: &str) -> bool {
    raw.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
        || raw.contains('\0')
}

/// True when a request body contains a NUL, raw or as the JSON escape `\u0000`. A backslash in
/// valid JSON only occurs inside strings and always starts an escape, so skipping each escape
/// whole is exact: `\\u0000` is a backslash followed by the text `u0000`, not a NUL.
pub fn body_has_nul(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            0 => return true,
            b'\\' => {
                if body.get(i + 1) == Some(&b'u')
                    && body.get(i + 2..i + 6).is_some_and(|hex| hex == b"0000")
                {
                    return true;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    false
}

/// Middleware: refuses a request whose path, query string or body carries a NUL, and bodies
/// larger than `limit` bytes (the body must be read whole to be checked, so the JSON limit is
/// enforced here too). The body is handed on unchanged, byte for byte (webhook signatures are
/// computed over it).
pub async fn reject_unstorable(
    limit: usize,
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if encoded_has_nul(req.path()) || encoded_has_nul(req.query_string()) {
        return Ok(refuse(req, nul_error("the URL")));
    }
    if !has_body(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let body = match req
        .extract::<web::Payload>()
        .await?
        .to_bytes_limited(limit)
        .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            let err = ApiError::InvalidJson(format!("unreadable request body: {e}"));
            return Ok(refuse(req, err));
        }
        Err(_) => return Ok(refuse(req, ApiError::PayloadTooLarge { limit })),
    };
    if body_has_nul(&body) {
        return Ok(refuse(req, nul_error("the request body")));
    }
    if !body.is_empty() {
        req.set_payload(Payload::from(body));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// A body to read: announced by `Content-Length` or chunked encoding. An upgrade (WebSocket)
/// is never read here: its "payload" is the socket's frames for as long as it stays open.
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::UPGRADE) {
        return false;
    }
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

fn nul_error(place: &str) -> ApiError {
    ApiError::Validation(format!(
        "{place} contains a NUL character (\\u0000), which text fields cannot hold"
    ))
}

fn refuse<B>(req: ServiceRequest, err: ApiError) -> ServiceResponse<EitherBody<B>> {
    req.into_response(err.error_response())
        .map_into_right_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoded_nul_is_found_anywhere() {
        assert!(encoded_has_nul("/api/v1/courses/a%00b"));
        assert!(encoded_has_nul("q=%00"));
        assert!(!encoded_has_nul("/api/v1/courses/abc"));
        assert!(
            !encoded_has_nul("q=100%25"),
            "an encoded percent sign is not a NUL"
        );
        assert!(!encoded_has_nul("q=%2500"), "%2500 decodes to the text %00");
    }

    #[test]
    fn json_nul_escapes_are_found_and_lookalikes_are_not() {
        assert!(body_has_nul(br#"{"text":"a\u0000b"}"#));
        assert!(body_has_nul(br#"{"a\u0000":1}"#), "keys count too");
        assert!(body_has_nul(b"{\"text\":\"a\0b\"}"));
        assert!(
            !body_has_nul(br#"{"text":"a\\u0000b"}"#),
            "escaped backslash"
        );
        assert!(!body_has_nul(br#"{"text":"\u0001 \n \"u0000\""}"#));
        assert!(!body_has_nul(br#"{"text":"ends with \\"}"#));
        assert!(!body_has_nul(b"\\"));
    }
}
