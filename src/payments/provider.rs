//! The payment-provider abstraction orders and consultations are written against. A provider
//! holds money on a card (authorise), takes it (capture, possibly less than held), lets the
//! rest go (release) and gives it back (refund); it reports outcomes asynchronously through
//! signed webhooks, which is why these calls return the state *as far as it is known now*.

use serde::{Deserialize, Serialize};

use crate::money::Money;

/// When the provider takes the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Capture as soon as the card is authorised (course purchases).
    Automatic,
    /// Hold only; the merchant captures later, possibly less (consultations).
    Manual,
}

impl CaptureMethod {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Manual => "manual",
        }
    }
}

/// A provider-side payment's state, as the provider names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderStatus {
    /// Created; waiting for the payer's card.
    RequiresConfirmation,
    /// The card needs an extra step from the payer (3-D Secure).
    RequiresAction,
    /// Held on the card; waiting for capture (manual capture only).
    Authorized,
    /// Money taken (fully or partly captured).
    Succeeded,
    /// The card was refused; the payer may try another.
    Failed,
    /// Released before capture; nothing was or will be taken.
    Canceled,
}

impl ProviderStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresConfirmation => "requires_confirmation",
            Self::RequiresAction => "requires_action",
            Self::Authorized => "authorized",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::RequiresConfirmation,
            Self::RequiresAction,
            Self::Authorized,
            Self::Succeeded,
            Self::Failed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A payment as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderPayment {
    /// The provider's id.
    pub id: String,
    /// Our reference (order or booking id).
    pub reference: String,
    /// Current status.
    pub status: ProviderStatus,
    /// Authorised amount.
    pub amount_minor: i64,
    /// Currency of every amount.
    pub currency: String,
    /// Taken so far.
    pub captured_minor: i64,
    /// Given back so far.
    pub refunded_minor: i64,
    /// Why the last attempt failed, if it did.
    pub failure_code: Option<String>,
}

/// Why the provider refused a call.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No such payment.
    #[error("unknown payment {0}")]
    UnknownPayment(String),
    /// The call does not fit the payment's state or amounts (e.g. refund above captured).
    #[error("{0}")]
    Invalid(String),
    /// The provider could not be reached or failed.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

/// What every payment provider offers. Calls are blocking and must not run inside one of our
/// database transactions: a real provider is a remote service.
pub trait PaymentProvider: Send + Sync + 'static {
    /// Creates a payment of `amount` for our `reference`, bound to `payer` (the user id whose
    /// page it is: nobody else may confirm it, as a processor binds a client secret to its
    /// customer); idempotent per reference.
    fn create_payment(
        &self,
        reference: &str,
        payer: &str,
        amount: Money,
        capture: CaptureMethod,
    ) -> Result<ProviderPayment, ProviderError>;
    /// Captures `amount` (at most the authorised amount) of an authorised payment and releases
    /// the rest. Capturing again what was captured answers the payment unchanged, so a caller
    /// that lost the first answer (a crash, a concurrent worker) can finish.
    fn capture(&self, payment_id: &str, amount: Money) -> Result<ProviderPayment, ProviderError>;
    /// Releases an authorisation without taking anything.
    fn release(&self, payment_id: &str) -> Result<ProviderPayment, ProviderError>;
    /// Gives back `amount` of what was captured; `refund_key` makes retries safe.
    fn refund(
        &self,
        payment_id: &str,
        amount: Money,
        refund_key: &str,
    ) -> Result<ProviderPayment, ProviderError>;
}
