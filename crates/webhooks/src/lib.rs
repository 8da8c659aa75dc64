//! Webhooks out, the network side: endpoints' secrets derived from one key (never stored),
//! Standard Webhooks signatures, and a sender that POSTs once per attempt, follows no
//! redirect, reads at most a little of the answer, and in production connects only to public
//! addresses, checked on the addresses it actually connects to (against DNS rebinding).

mod sender;
mod signing;
pub mod worker;

pub use sender::{HttpSender, secret_bytes};
pub use signing::{SigningKey, sign};
