//! Webhook signatures: HMAC-SHA256 over `"{timestamp}.{raw body}"`, sent as
//! `Lyceum-Signature: t=<unix seconds>,v1=<hex digest>`. Verification compares in constant time
//! and refuses timestamps outside a tolerance, so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header that carries the signature.
pub const HEADER: &str = "Lyceum-Signature";

/// How far a signature's timestamp may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a webhook signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is missing or not of the form `t=…,v1=…`.
    #[error("missing or malformed signature header")]
    Malformed,
    /// The timestamp is more than the tolerance away from now.
    #[error("signature timestamp outside the {TOLERANCE_SECS} s tolerance")]
    Stale,
    /// No `v1` digest matches the body.
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` signed at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Checks `header` against `body` at time `now`. Several `v1` entries are allowed (secret
/// rotation); any one matching is enough.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut digests = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => digests.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if digests.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECS as u64 {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    // `verify_slice` compares in constant time.
    if digests
        .iter()
        .any(|d| expected.clone().verify_slice(d).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn signed_bodies_verify() {
        let header = sign(SECRET, 1_000, b"{\"id\":1}");
        assert_eq!(verify(SECRET, &header, b"{\"id\":1}", 1_000), Ok(()));
        assert_eq!(
            verify(SECRET, &header, b"{\"id\":1}", 1_000 + TOLERANCE_SECS),
            Ok(())
        );
    }

    #[test]
    fn tampering_stale_and_malformed_are_refused() {
        let header = sign(SECRET, 1_000, b"body");
        assert_eq!(
            verify(SECRET, &header, b"body!", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, b"body", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, b"body", 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, &header, b"body", 699),
            Err(SignatureError::Stale)
        );
        // The timestamp is signed: moving it breaks the digest.
        let moved = header.replace("t=1000", "t=1200");
        assert_eq!(
            verify(SECRET, &moved, b"body", 1_200),
            Err(SignatureError::Mismatch)
        );
        for bad in ["", "t=1000", "v1=abcd", "t=x,v1=abcd", "t=1000,v1=zz"] {
            assert_eq!(
                verify(SECRET, bad, b"body", 1_000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_matching_digest_is_enough() {
        let good = sign(SECRET, 5, b"b");
        let digest = good.split_once("v1=").unwrap().1;
        let header = format!("t=5,v1={},v1={digest}", "00".repeat(32));
        assert_eq!(verify(SECRET, &header, b"b", 5), Ok(()));
    }
}
