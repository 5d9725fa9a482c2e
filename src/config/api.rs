//! The operator's HTTP server's keys (ours): `api`, where it listens (off when absent), and
//! `api_token`, the bearer token its state-changing routes need (none without one).

use std::net::SocketAddr;

use subtle::ConstantTimeEq;

use super::{invalid, ConfigError};

/// Fewest characters an `api_token` may have: a short token is guessable over the network.
pub const MIN_TOKEN_LEN: usize = 16;

/// Where the HTTP server listens and the token it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// `api` (or `--api`).
    pub addr: SocketAddr,
    /// `api_token`.
    pub token: Option<ApiToken>,
}

/// An `api_token`, long enough and printable, compared in constant time so its bytes
/// cannot be found one at a time from how fast a wrong one is refused.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(…)")
    }
}

impl ApiToken {
    /// The token, or what is wrong with it.
    pub fn new(token: &str) -> Result<ApiToken, String> {
        if token.chars().count() < MIN_TOKEN_LEN {
            return Err(format!("must be at least {MIN_TOKEN_LEN} characters"));
        }
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".to_string());
        }
        Ok(ApiToken(token.to_string()))
    }

    /// Whether an `Authorization` header's value is `Bearer <this token>`.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(given) = authorization.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        // Slices of different lengths compare unequal at once; the length is not secret.
        given.ct_eq(self.0.as_bytes()).into()
    }
}

/// The `api` and `api_token` keys (`--api` over `api`).
pub fn settings(
    api: Option<&str>,
    token: Option<&str>,
    cli: Option<SocketAddr>,
) -> Result<(Option<ApiSettings>, Option<String>), ConfigError> {
    let token = match token.filter(|t| !t.is_empty()) {
        Some(t) => Some(ApiToken::new(t).map_err(|p| invalid("api_token", p))?),
        None => None,
    };
    let addr = match (cli, api.filter(|a| !a.is_empty())) {
        (Some(a), _) => Some(a),
        (None, Some(a)) => Some(a.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "api",
                format!("must be \"ip:port\", e.g. \"127.0.0.1:8080\", got {a:?}"),
            )
        })?),
        (None, None) => None,
    };
    Ok(match addr {
        Some(addr) => (Some(ApiSettings { addr, token }), None),
        None if token.is_some() => (
            None,
            Some("config key `api_token` is set but `api` is not: no HTTP server runs".into()),
        ),
        None => (None, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_admits_only_itself_as_a_bearer() {
        let t = ApiToken::new("0123456789abcdef").unwrap();
        assert!(t.admits(Some(b"Bearer 0123456789abcdef")));
        assert!(!t.admits(Some(b"Bearer 0123456789abcdeF")));
        assert!(!t.admits(Some(b"Bearer 0123456789abcde")));
        assert!(!t.admits(Some(b"Bearer 0123456789abcdef0")));
        assert!(!t.admits(Some(b"bearer 0123456789abcdef")));
        assert!(!t.admits(Some(b"0123456789abcdef")));
        assert!(!t.admits(None));
    }

    #[test]
    fn api_keys_are_checked_naming_the_key() {
        let e = settings(Some("127.0.0.1:1"), Some("short"), None).unwrap_err();
        assert!(e.to_string().contains("`api_token`"), "{e}");
        let e = settings(Some("localhost"), None, None).unwrap_err();
        assert!(e.to_string().contains("`api`"), "{e}");
        assert!(settings(Some("127.0.0.1:1"), Some("0123456789 abcdef"), None).is_err());
        let (s, w) = settings(Some("127.0.0.1:8080"), Some("0123456789abcdef"), None).unwrap();
        let s = s.unwrap();
        assert_eq!(s.addr, "127.0.0.1:8080".parse().unwrap());
        assert!(s.token.is_some() && w.is_none());
        let cli = "127.0.0.1:9".parse().unwrap();
        let (s, _) = settings(Some("127.0.0.1:8080"), None, Some(cli)).unwrap();
        assert_eq!(s.unwrap().addr, cli);
        let (s, w) = settings(None, Some("0123456789abcdef"), None).unwrap();
        assert!(s.is_none() && w.unwrap().contains("api_token"));
        assert_eq!(settings(None, None, None).unwrap(), (None, None));
        assert_eq!(settings(Some(""), None, None).unwrap(), (None, None));
    }
}
