//! Jobs: the job loop ([`job_loop`]) and the pure functions it runs, from the latest
//! [`Template`](crate::node::template::Template) and the [`PayoutPlan`] to a [`Job`] miners
//! can work on; and the [`JobBoard`] that publishes the newest one with what lives beside
//! it ([`Posting`]).

pub mod board;
pub mod builder;
pub mod coinbase;
pub mod delivery;
pub mod fit;
pub mod job;
pub mod job_id;
pub mod job_loop;
pub mod mode;
pub mod notify;
pub mod payout;
pub mod seen;

pub use board::{JobBoard, Posting};
pub use builder::{BuildContext, JobBuilder, JobConfig};
pub use job::{Coinb2, Job, JobError, NotifyLine, UserWork};
pub use job_id::JobId;
pub use job_loop::{JobLoop, Refresh};
pub use mode::{Mode, Payee};
pub use payout::PayoutPlan;
