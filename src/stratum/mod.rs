//! Sockets and sessions: the line codec, one task per connection owning its [`Session`],
//! one file per stratum method under [`method`], vardiff, the extranonce1 allocator and the
//! `maxclients` count.

pub mod admission;
pub mod codec;
pub mod context;
pub mod extranonce;
pub mod message;
pub mod method;
pub mod refusal_log;
pub mod request;
pub mod server;
pub mod session;
pub mod vardiff;

pub use context::{Directives, ServerContext, StratumSettings};
pub use server::StratumServer;
pub use session::Session;
