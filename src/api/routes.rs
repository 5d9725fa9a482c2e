//! The API's routes. Each reads [`Sources`] at the moment it is asked; only
//! `POST /api/control` changes anything, and only for a caller holding the token.
//!
//! - `GET /`: the web dashboard ([`super::dashboard`]).
//! - `GET /metrics`: Prometheus text ([`super::metrics`]).
//! - `GET /api/pool`: the counters (connections, shares by result and reject reason,
//!   blocks), the current job, the pool's hashrates with their intervals, and
//!   `pool.status` as last written.
//! - `GET /api/users`: every user's and worker's figures as last written to `users/`,
//!   with their 5-minute and 1-hour hashrates and 95 % intervals
//!   ([`crate::stats::accounting::estimate`]).
//! - `GET /api/blocks`: the blocks found (the newest 100), each with every bitcoind's answer
//!   to `submitblock` as it came and the verdict ([`crate::node::block_log`]).
//! - `GET /api/job[?user=<address>[.<worker>]]`: the current job's coinbase decoded
//!   ([`super::job`]): outputs, addresses, amounts, the total against `coinbasevalue`, and
//!   the user's own output.
//! - `GET /api/sharechain`: p2pool mode's chain and network status (404 otherwise).
//! - `GET /api/sharechain/window`: the next block's payout table on the tip (address,
//!   amount, PPLNS weight), and `GET /api/sharechain/share/<hash>`: one share decoded with
//!   its verdict checked again; both read from the store as `stratumd sharechain window`
//!   and `share` do ([`crate::p2pool::inspect`]), one read at a time (503 with
//!   `Retry-After` meanwhile); 404 before the first share.
//! - `POST /api/control`: a control socket request (`ping`, `stats`, `reconnect`,
//!   `loglevel=N`, `{"method":"setdifficulty",…}`, …) with `Authorization: Bearer <token>`;
//!   401 without the right token, 403 when no `api_token` is configured.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Query, State as Extract};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::Sources;
use crate::config::ApiToken;
use crate::control::Handler;
use crate::p2pool::inspect::InspectError;
use crate::share::Reject;

/// What every route can read.
#[derive(Debug, Clone)]
pub(super) struct State {
    pub(super) sources: Sources,
    pub(super) control: Handler,
    pub(super) token: Option<ApiToken>,
    /// One store read at a time: each loads the stored chain.
    pub(super) store_reads: std::sync::Arc<tokio::sync::Semaphore>,
}

/// The largest control request taken (a 1,000-output `setpayouts` is about 100 KiB).
const MAX_CONTROL_BODY: usize = 1 << 20;

/// Every route.
pub(super) fn router(state: State) -> Router {
    Router::new()
        .route("/", get(super::dashboard::page))
        .route("/metrics", get(metrics))
        .route("/api/pool", get(pool))
        .route("/api/users", get(users))
        .route("/api/blocks", get(blocks))
        .route("/api/job", get(job))
        .route("/api/sharechain", get(sharechain))
        .route("/api/sharechain/window", get(sharechain_window))
        .route("/api/sharechain/share/:hash", get(sharechain_share))
        .route("/api/control", post(control))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_CONTROL_BODY))
        .with_state(state)
}

async fn metrics(Extract(state): Extract<State>) -> Response {
    (
        [(header::CONTENT_TYPE, super::METRICS_CONTENT_TYPE)],
        super::render_metrics(&state.sources),
    )
        .into_response()
}

/// The pool summary: live counters, and `pool.status` as the stats writer last wrote it.
pub(super) fn pool_summary(sources: &Sources) -> Value {
    let s = sources.stats.snapshot();
    let now = Sources::now_unix();
    let rejected_by: serde_json::Map<String, Value> = Reject::ALL
        .iter()
        .map(|r| (r.label().to_string(), json!(s.rejected_by[r.index()])))
        .collect();
    let job = sources.board.latest().map(|p| {
        json!({
            "id": p.job.id.to_string(),
            "height": p.job.template.height,
            "age_secs": SystemTime::now()
                .duration_since(p.job.created)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            "network_difficulty": p.job.network_difficulty,
        })
    });
    let report = sources.report.borrow().clone();
    json!({
        "now": now,
        "uptime_secs": (now - sources.started_unix).max(0.0),
        "connections": s.connections,
        "authorized": s.authorized,
        "shares": {
            "accepted": s.accepted,
            "rejected": s.rejected,
            "rejected_by_reason": rejected_by,
            "accepted_difficulty": s.accepted_diff,
        },
        "blocks": {
            "found": s.blocks_found,
            "accepted": s.blocks_accepted,
            "rejected": s.blocks_rejected,
        },
        "job": job,
        "sharechain": sources.share_chain.is_some(),
        "hashrate": report.as_ref().map(|r| &r.hashrates.pool),
        "pool_status": report.as_ref().map(|r| &r.pool),
        "pool_status_at": report.as_ref().map(|r| r.at),
    })
}

async fn pool(Extract(state): Extract<State>) -> Json<Value> {
    Json(pool_summary(&state.sources))
}

async fn users(Extract(state): Extract<State>) -> Json<Value> {
    let report = state.sources.report.borrow().clone();
    let users: Vec<Value> = report
        .as_ref()
        .map(|r| {
            r.users
                .iter()
                .map(|(name, stats)| {
                    let rates = r.hashrates.users.get(name);
                    json!({
                        "user": name,
                        "stats": stats,
                        "hashrate": rates.map(|h| &h.user),
                        "workers_hashrate": rates.map(|h| &h.workers),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Json(json!({
        "at": report.as_ref().map(|r| r.at),
        "users": users,
    }))
}

async fn blocks(Extract(state): Extract<State>) -> Json<Value> {
    Json(json!({ "blocks": state.sources.blocks.snapshot() }))
}

/// `/api/job`'s query.
#[derive(Debug, serde::Deserialize)]
struct JobQuery {
    user: Option<String>,
}

async fn job(Extract(state): Extract<State>, Query(q): Query<JobQuery>) -> Response {
    use super::job::AuditError;
    use crate::work::mode::PayeeError;
    let Some(posting) = state.sources.board.latest() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no job yet\n").into_response();
    };
    let network = state.sources.network.get().copied();
    match super::job::audit(&posting, state.sources.mode, network, q.user.as_deref()) {
        Ok(audit) => Json(audit).into_response(),
        Err(e @ AuditError::Payee(PayeeError::InvalidAddress)) => {
            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
        }
        Err(e @ AuditError::Payee(PayeeError::ChainUnknown)) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response()
        }
        Err(e) => {
            tracing::error!("api: cannot decode the current job: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
        }
    }
}

async fn sharechain(Extract(state): Extract<State>) -> Response {
    let Some(chain) = &state.sources.share_chain else {
        return (StatusCode::NOT_FOUND, "not in p2pool mode\n").into_response();
    };
    let chain = chain.borrow().clone();
    let net = state.sources.share_net.as_ref().map(|n| n.borrow().clone());
    Json(json!({ "chain": chain, "network": net })).into_response()
}

/// What the store says, read off the runtime, one read at a time.
async fn from_store(
    state: &State,
    read: impl FnOnce(&std::path::Path) -> Result<Value, InspectError> + Send + 'static,
) -> Response {
    let Some(path) = state.sources.share_store.clone() else {
        return (StatusCode::NOT_FOUND, "not in p2pool mode\n").into_response();
    };
    // One read at a time, held by the read itself (a client that goes away does not
    // free it early); a request meanwhile is told to come back rather than queued.
    let Ok(permit) = state.store_reads.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "busy reading the store; retry\n",
        )
            .into_response();
    };
    let read = move || {
        let _permit = permit;
        read(&path)
    };
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e @ InspectError::BadHash(_))) => {
            (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
        }
        Ok(Err(e @ (InspectError::Unknown(_) | InspectError::Empty))) => {
            (StatusCode::NOT_FOUND, format!("{e}\n")).into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!("api: cannot read the share chain's store: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response()
        }
        Err(e) => {
            tracing::error!("api: store read failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn sharechain_window(Extract(state): Extract<State>) -> Response {
    from_store(&state, |path| {
        let window = crate::p2pool::inspect::window(path, None)?;
        // Before the first share there is no window (only the chain's genesis id).
        if window["shares"] == 0 {
            return Err(InspectError::Empty);
        }
        Ok(window)
    })
    .await
}

async fn sharechain_share(
    Extract(state): Extract<State>,
    axum::extract::Path(hash): axum::extract::Path<String>,
) -> Response {
    from_store(&state, move |path| {
        crate::p2pool::inspect::share(path, &hash)
    })
    .await
}

async fn control(Extract(state): Extract<State>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = &state.token else {
        return (
            StatusCode::FORBIDDEN,
            "control over HTTP is off: set api_token in the config\n",
        )
            .into_response();
    };
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if !token.admits(authorization) {
        tracing::warn!("api: a control request without the right token was refused");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a control request needs Authorization: Bearer <api_token>\n",
        )
            .into_response();
    }
    let handler = state.control.clone();
    let reply = match tokio::task::spawn_blocking(move || handler.handle(&body)).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!("api: control request failed: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let content_type = if reply.starts_with('{') {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    ([(header::CONTENT_TYPE, content_type)], reply).into_response()
}
