//! Payments: the provider trait, the built-in sandbox provider, its webhook dispatcher, the
//! sandbox's payer-facing pages, webhook signatures, and the sinks verified provider events
//! are handed to.

pub mod dispatcher;
pub mod events;
pub mod provider;
pub mod routes;
pub mod sandbox;
pub mod signature;
pub mod sinks;

pub use provider::{
    CaptureMethod, PaymentProvider, ProviderError, ProviderPayment, ProviderStatus,
};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// The secret webhooks are signed with, shared by the provider and our endpoint.
#[derive(Clone)]
pub struct WebhookSecret(Secret);

impl WebhookSecret {
    /// `configured` when given (`LYCEUM_WEBHOOK_SECRET`); otherwise derived from the JWT
    /// secret, so every node sharing that secret agrees without another setting.
    pub fn new(configured: Option<&Secret>, jwt_secret: &Secret) -> Self {
        match configured {
            Some(s) => Self(s.clone()),
            None => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(jwt_secret.expose().as_bytes())
                    .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
                mac.update(b"lyceum webhook signing");
                Self(Secret::new(hex::encode(mac.finalize().into_bytes())))
            }
        }
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.expose().as_bytes()
    }

    /// The secret, for the dispatcher.
    pub fn secret(&self) -> &Secret {
        &self.0
    }
}
