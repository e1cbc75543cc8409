//! Credentials: argon2id password hashes, short-lived JWT access tokens, and opaque refresh
//! tokens that are stored only as SHA-256 hashes.

use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm as Variant, Argon2, Block, Params, Version};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::domain::{Password, Role};

/// Issuer written into and required from every access token.
const ISSUER: &str = "lyceum";

/// What an access token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's role when the token was issued.
    pub role: Role,
    /// The session (refresh-token family) the token was issued for, so a logout can revoke
    /// the access tokens of that login too, not only its refresh token.
    #[serde(default)]
    pub sid: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Always `lyceum`.
    pub iss: String,
}

/// Signing keys and lifetimes for the tokens this server issues.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// How long an access token is valid.
    pub access_ttl: Duration,
    /// How long a refresh token is valid.
    pub refresh_ttl: Duration,
}

impl TokenKeys {
    /// Keys for HMAC-SHA256 tokens signed with `secret`.
    pub fn new(secret: &str, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    /// Signs an access token for `user_id` with `role` in session `sid`, valid for
    /// [`TokenKeys::access_ttl`].
    pub fn issue_access(
        &self,
        user_id: &str,
        role: Role,
        sid: &str,
    ) -> Result<String, anyhow::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            sid: sid.to_owned(),
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            iss: ISSUER.to_owned(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies signature, algorithm, issuer and expiry; any failure is just "invalid".
    pub fn verify_access(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// A new random refresh token: 256 bits, URL-safe.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!(
        "rt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a refresh token; the raw token is never persisted.
pub fn hash_refresh_token(raw: &str) -> String {
    let digest = Sha256::digest(raw.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// argon2's working memory: the blocks of one hash computation with the default parameters
/// (19 MiB). [`super::hashing::Hasher`] keeps one per thread for the life of the process, so
/// sign-ups never allocate it again.
pub fn hashing_memory() -> Vec<Block> {
    vec![Block::default(); Params::default().block_count()]
}

/// Hashes a password with argon2id (default parameters) and a random salt, in PHC string
/// form, allocating its working memory; the server hashes through
/// [`super::hashing::Hasher`] instead.
pub fn hash_password(password: &Password) -> Result<String, anyhow::Error> {
    hash_password_with(&mut hashing_memory(), password)
}

/// [`hash_password`] in caller-provided working memory (see [`hashing_memory`]).
pub fn hash_password_with(
    memory: &mut [Block],
    password: &Password,
) -> Result<String, anyhow::Error> {
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("hashing password: {e}");
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes).map_err(|e| fail(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Variant::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, &mut *memory)
        .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Variant::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// True when `password` matches the stored PHC hash; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    verify_password_with(&mut hashing_memory(), password, phc)
}

/// [`verify_password`] in caller-provided working memory. A hash made with more memory than
/// `memory` holds (another server's parameters) is verified in a temporary buffer.
pub fn verify_password_with(memory: &mut [Block], password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Variant::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut larger;
    let memory = if params.block_count() <= memory.len() {
        memory
    } else {
        larger = vec![Block::default(); params.block_count()];
        &mut larger[..]
    };
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, memory)
        .is_ok()
        // `Output`'s equality is constant-time.
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// The stored "hash" of an account that has no password (a learner imported from another
/// platform). It is not a PHC string, so [`verify_password`] rejects every password against
/// it; login verifies such accounts against [`decoy_hash`] instead, so they fail as slowly as
/// any other account.
pub const NO_PASSWORD: &str = "!no-password";

/// A valid hash of a random password, verified against when an email is unknown so a failed
/// login takes as long whether or not the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let pw = Password::parse(&new_refresh_token()).expect("a refresh token is long enough");
        hash_password(&pw).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ttl: i64) -> TokenKeys {
        TokenKeys::new(
            "a-test-secret-that-is-long-enough!!",
            Duration::from_secs(ttl.max(0) as u64),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn no_password_matches_no_password() {
        for guess in [
            "",
            "!no-password",
            "no-password",
            "correct horse battery staple",
        ] {
            assert!(!verify_password(guess, NO_PASSWORD), "{guess:?}");
        }
    }

    #[test]
    fn access_tokens_round_trip() {
        let k = keys(60);
        let token = k.issue_access("user-1", Role::Instructor, "s1").unwrap();
        let claims = k.verify_access(&token).unwrap();
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.role, Role::Instructor);
        assert_eq!(claims.sid, "s1");
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let k = keys(60);
        let token = k.issue_access("user-1", Role::Learner, "s1").unwrap();
        let other = TokenKeys::new(
            "another-secret-that-is-long-enough!",
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert!(other.verify_access(&token).is_none());
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(k.verify_access(&tampered).is_none());
        assert!(k.verify_access("not.a.jwt").is_none());
        assert!(k.verify_access("").is_none());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let k = TokenKeys::new(
            "a-test-secret-that-is-long-enough!!",
            Duration::from_secs(0),
            Duration::from_secs(60),
        );
        let mut claims_token = k.issue_access("u", Role::Learner, "s1").unwrap();
        // A zero-lifetime token is still inside the leeway; forge one that expired long ago.
        let old = Claims {
            sub: "u".into(),
            role: Role::Learner,
            sid: "s1".into(),
            iat: 0,
            exp: 10,
            iss: ISSUER.into(),
        };
        claims_token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &old, &k.encoding)
            .unwrap_or(claims_token);
        assert!(k.verify_access(&claims_token).is_none());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_eq!(hash_refresh_token(&a), hash_refresh_token(&a));
        assert_ne!(hash_refresh_token(&a), a);
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let pw = Password::parse("correct horse battery").unwrap();
        let phc = hash_password(&pw).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("wrong horse battery", &phc));
        assert!(!verify_password("correct horse battery", "not a hash"));
    }

    #[test]
    fn hashes_from_the_standard_encoder_verify_and_ours_verify_there() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse battery", &theirs));
        let pw = Password::parse("correct horse battery").unwrap();
        let ours = hash_password_with(&mut hashing_memory(), &pw).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        // A hash needing more memory than the buffer still verifies.
        let mut small = vec![Block::default(); 8];
        assert!(verify_password_with(
            &mut small,
            "correct horse battery",
            &ours
        ));
    }
}
