//! The error every repository port returns: a few outcomes the domain acts on, and the rest.

/// Which uniqueness rule a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueKey {
    CustomerPhone,
    OrderReference,
    ApiKeyPrefix,
    /// A provider event id already applied.
    ProcessedEvent,
    /// An order's second open payment.
    OpenPayment,
    Other,
}

/// `From<StoreError>` for an operation's error that has `Unavailable` and `Unexpected`
/// variants: an unreachable store is `Unavailable` (answered 503, worth a retry), anything
/// else `Unexpected`.
macro_rules! from_store_error {
    ($($error:ty),* $(,)?) => {$(
        impl From<$crate::store::StoreError> for $error {
            fn from(e: $crate::store::StoreError) -> Self {
                match e {
                    $crate::store::StoreError::Unavailable(cause) => Self::Unavailable(cause),
                    other => Self::Unexpected(other.into()),
                }
            }
        }
    )*};
}
pub(crate) use from_store_error;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint rejected the write; nothing was stored.
    #[error("a row with the same {0:?} already exists")]
    Duplicate(UniqueKey),
    /// A row the write refers to (a customer for an order, a cursor for a page) does not exist.
    #[error("a referenced row does not exist")]
    MissingReference,
    /// The row changed since it was read (compare-and-set failed); nothing was stored.
    #[error("the row was changed concurrently")]
    Conflict,
    /// The store cannot be reached now (no connection could be had in time). Worth a retry.
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a query failed, a row is corrupt. Keeps its cause for the logs.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
