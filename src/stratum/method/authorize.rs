//! `mining.authorize [username, password]`. In solo mode the username is
//! `<address>[.<worker>]` and the address must be valid for the chain; the password may
//! carry `d=<difficulty>`.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::params;
use crate::events::Event;
use crate::stratum::message::StratumError;
use crate::stratum::session::{Session, Worker, MAX_WORKERS};

/// Longest username accepted (ckpool's limit).
pub const MAX_USERNAME: usize = 191;

pub(super) fn handle(s: &mut Session, params: &Value) -> Result<Value, StratumError> {
    let a = params::array(params).ok_or_else(|| StratumError::other("Params not array"))?;
    let username = match params::opt_str(a, 0) {
        Ok(Some(u)) if !u.is_empty() => u,
        _ => return Err(StratumError::new(24, "No username")),
    };
    if username.len() > MAX_USERNAME {
        return Err(StratumError::new(24, "Username too long"));
    }
    let password = params::opt_str(a, 1).ok().flatten().unwrap_or("");

    let payee = s
        .ctx
        .mode
        .payee(username, s.ctx.network.get().copied())
        .map_err(|e| StratumError::new(24, e.to_string()))?;
    if let Some(current) = &s.payee {
        if current != &payee {
            return Err(StratumError::new(
                24,
                "Address differs from the first authorized worker",
            ));
        }
    }
    let known = s.workers.iter().any(|w| &*w.name == username);
    if !known && s.workers.len() >= MAX_WORKERS {
        return Err(StratumError::new(24, "Too many workers on one connection"));
    }
    if let Some(d) = password_difficulty(password) {
        s.apply_suggested(d);
    }
    if !known {
        let worker = Worker {
            name: Arc::from(username),
            user: Arc::from(username.split('.').next().unwrap_or(username)),
        };
        if s.ctx.events.interest().sessions {
            s.ctx.events.publish(Event::Authorized {
                username: worker.user.clone(),
                worker: worker.name.clone(),
                at: SystemTime::now(),
            });
        }
        s.workers.push(worker);
    }
    s.payee = Some(payee);
    Ok(Value::Bool(true))
}

/// `d=<difficulty>` anywhere in a comma- or space-separated password.
fn password_difficulty(password: &str) -> Option<f64> {
    password
        .split([',', ' ', ';'])
        .find_map(|p| p.trim().strip_prefix("d="))
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
}

#[cfg(test)]
mod tests {
    use super::password_difficulty;

    #[test]
    fn password_diff() {
        assert_eq!(password_difficulty("d=0.001"), Some(0.001));
        assert_eq!(password_difficulty("x,d=512"), Some(512.0));
        assert_eq!(password_difficulty("x"), None);
        assert_eq!(password_difficulty("d=-1"), None);
        assert_eq!(password_difficulty("d=NaN"), None);
    }
}
