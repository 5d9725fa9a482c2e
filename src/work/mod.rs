//! Jobs: pure functions from a [`Template`](crate::node::template::Template) and a payout
//! plan to a [`Job`] miners can work on, plus the [`JobBoard`] that publishes the newest one.

pub mod board;
pub mod coinbase;
pub mod delivery;
pub mod fit;
pub mod job;
pub mod job_id;
pub mod merkle;
pub mod notify;
pub mod payout;

pub use board::JobBoard;
pub use job::{Job, JobBuilder, JobError, UserWork};
pub use job_id::JobId;
pub use payout::{Payee, PayoutPlan};
