//! Sockets and sessions: the line codec, one task per connection owning its [`Session`],
//! one file per stratum method under [`method`], vardiff and the extranonce1 allocator.

pub mod codec;
pub mod context;
pub mod extranonce;
pub mod message;
pub mod method;
pub mod server;
pub mod session;
pub mod vardiff;

pub use context::{Mode, ServerContext, StratumSettings};
pub use server::StratumServer;
pub use session::Session;
