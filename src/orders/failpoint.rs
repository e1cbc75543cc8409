//! A test-only crash hook. `LYCEUM_FAILPOINT=<name>` (read once, on first use) makes the
//! process abort — like `kill -9`: no destructor, no flush — the moment it reaches the named
//! point, so crash-recovery tests can stop the real binary exactly where a crash hurts most.
//! Unset (always, outside those tests), [`hit`] is one comparison against `None`.

use std::sync::OnceLock;

/// The points the commerce code can be stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The checkout's order is committed; its provider payment is not created yet.
    CheckoutAfterOrder,
    /// The provider payment exists; it is not linked to the order yet.
    CheckoutAfterPayment,
    /// The provider gave the money back; the refund is not booked yet.
    RefundAfterProvider,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Self::CheckoutAfterOrder => "checkout_after_order",
            Self::CheckoutAfterPayment => "checkout_after_payment",
            Self::RefundAfterProvider => "refund_after_provider",
        }
    }
}

/// Aborts the process if `LYCEUM_FAILPOINT` names `point`.
pub fn hit(point: Point) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var("LYCEUM_FAILPOINT").ok());
    if armed.as_deref() == Some(point.name()) {
        eprintln!("LYCEUM_FAILPOINT={}: aborting", point.name());
        std::process::abort();
    }
}
