//! The JSON-RPC HTTP server: Basic auth, JSON-RPC 1.0/2.0 envelopes and batches, bitcoind's status codes.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::methods::{self, RpcError, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR};
use crate::node::Node;

/// What every request handler needs.
#[derive(Clone)]
pub(crate) struct RpcState {
    pub(crate) node: Arc<Mutex<Node>>,
    /// The exact `Authorization` header value accepted.
    pub(crate) auth_header: String,
}

/// The router: every path answers JSON-RPC, as bitcoind does.
pub(crate) fn router(state: RpcState) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(Arc::new(state))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
}

/// A response with an exact Content-Length (never chunked).
fn reply(status: StatusCode, body: Vec<u8>, json: bool) -> Response {
    let mut builder = Response::builder().status(status);
    if status != StatusCode::NO_CONTENT {
        builder = builder.header(header::CONTENT_LENGTH, body.len());
    }
    if json {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn handle(
    State(state): State<Arc<RpcState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            b"JSONRPC server handles only POST requests".to_vec(),
            false,
        );
    }
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == state.auth_header);
    if !authorized {
        let mut resp = reply(StatusCode::UNAUTHORIZED, Vec::new(), false);
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"jsonrpc\""),
        );
        return resp;
    }
    let node = state.node.clone();
    match tokio::task::spawn_blocking(move || process(&node, &body)).await {
        Ok((status, Some(value))) => {
            let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
            bytes.push(b'\n');
            reply(status, bytes, true)
        }
        Ok((status, None)) => reply(status, Vec::new(), false),
        Err(e) => {
            tracing::warn!("simnet: RPC handler failed: {e}");
            reply(StatusCode::INTERNAL_SERVER_ERROR, Vec::new(), false)
        }
    }
}

fn error_obj(e: &RpcError) -> Value {
    json!({ "code": e.code, "message": e.message })
}

/// Handles a whole HTTP body: a single request or a batch.
pub(crate) fn process(node: &Mutex<Node>, body: &[u8]) -> (StatusCode, Option<Value>) {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            let e = RpcError {
                code: PARSE_ERROR,
                message: "Parse error".into(),
            };
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(json!({ "result": null, "error": error_obj(&e), "id": null })),
            );
        }
    };
    match parsed {
        Value::Array(reqs) => {
            let replies: Vec<Value> = reqs.iter().filter_map(|r| process_one(node, r).1).collect();
            (StatusCode::OK, Some(Value::Array(replies)))
        }
        Value::Object(_) => process_one(node, &parsed),
        _ => {
            let e = RpcError {
                code: PARSE_ERROR,
                message: "Top-level object parse error".into(),
            };
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(json!({ "result": null, "error": error_obj(&e), "id": null })),
            )
        }
    }
}

/// Maps named parameters to positions using the method's parameter names.
fn positional(method: &str, named: &Map<String, Value>) -> Result<Vec<Value>, RpcError> {
    let names = methods::param_names(method).unwrap_or(&[]);
    if let Some(unknown) = named.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(RpcError {
            code: -8,
            message: format!("Unknown named parameter {unknown}"),
        });
    }
    let mut out: Vec<Value> = names
        .iter()
        .map(|n| named.get(*n).cloned().unwrap_or(Value::Null))
        .collect();
    while out.last().is_some_and(Value::is_null) {
        out.pop();
    }
    Ok(out)
}

/// Whether this call falls in a simulated start-up (and counts it).
fn warming_up(node: &Mutex<Node>) -> bool {
    let mut node = crate::lock(node);
    if node.warmup_calls == 0 {
        return false;
    }
    node.warmup_calls -= 1;
    true
}

/// Handles one request object; `None` for a JSON-RPC 2.0 notification (no id).
fn process_one(node: &Mutex<Node>, req: &Value) -> (StatusCode, Option<Value>) {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let v2 = req.get("jsonrpc").and_then(Value::as_str) == Some("2.0");
    let notification = v2 && req.get("id").is_none();
    let result = match req.get("method") {
        Some(Value::String(method)) => {
            let params = match req.get("params") {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => Ok(a.clone()),
                Some(Value::Object(o)) if methods::param_names(method).is_some() => {
                    positional(method, o)
                }
                Some(Value::Object(_)) => Ok(Vec::new()),
                Some(_) => Err(RpcError {
                    code: INVALID_REQUEST,
                    message: "Params must be an array or object".into(),
                }),
            };
            params.and_then(|p| {
                if warming_up(node) {
                    Err(RpcError::new(methods::IN_WARMUP, "Loading block index…"))
                } else {
                    methods::call(node, method, &p)
                }
            })
        }
        _ => Err(RpcError {
            code: INVALID_REQUEST,
            message: "Method must be a string".into(),
        }),
    };
    if notification {
        return (StatusCode::NO_CONTENT, None);
    }
    let (status, mut obj) = match result {
        Ok(r) => (
            StatusCode::OK,
            json!({ "result": r, "error": null, "id": id }),
        ),
        Err(e) => {
            let status = if v2 {
                StatusCode::OK
            } else if e.code == METHOD_NOT_FOUND {
                StatusCode::NOT_FOUND
            } else if e.code == INVALID_REQUEST {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (
                status,
                json!({ "result": null, "error": error_obj(&e), "id": id }),
            )
        }
    };
    if v2 {
        obj["jsonrpc"] = json!("2.0");
    }
    (status, Some(obj))
}
