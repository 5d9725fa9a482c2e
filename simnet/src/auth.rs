//! RPC credentials: user/password or bitcoind's cookie file, and the HTTP Basic header they imply.

use std::path::PathBuf;

use bitcoin::secp256k1::rand::{thread_rng, RngCore};

use crate::{SimnetAuth, SimnetError};

/// User name bitcoind writes into its cookie file.
const COOKIE_USER: &str = "__cookie__";

/// Resolves the credentials; with cookie auth, writes `<dir>/.cookie` as bitcoind does.
pub(crate) fn credentials(
    auth: &SimnetAuth,
) -> Result<(String, String, Option<PathBuf>), SimnetError> {
    match auth {
        SimnetAuth::UserPass { user, password } => Ok((user.clone(), password.clone(), None)),
        SimnetAuth::Cookie { dir } => {
            let path = dir.join(".cookie");
            let mut secret = [0u8; 32];
            thread_rng().fill_bytes(&mut secret);
            let password = hex::encode(secret);
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, format!("{COOKIE_USER}:{password}")))
                .map_err(|source| SimnetError::Cookie {
                    path: path.clone(),
                    source,
                })?;
            Ok((COOKIE_USER.to_string(), password, Some(path)))
        }
    }
}

/// The exact `Authorization` header value a client with these credentials sends.
pub(crate) fn basic_header(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64 with padding (RFC 4648), enough to build the expected Basic header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(
            basic_header("simnet", "simnet"),
            "Basic c2ltbmV0OnNpbW5ldA=="
        );
    }
}
