//! The sync protocol's messages and their encoding: a request is a locator (where the
//! asker's best chain is) or share ids; a response is the ids the asker lacks or the
//! shares asked for. Every message is a little-endian `u32` length then its body, and every
//! count and length is checked against its cap before anything is allocated for it.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response::Codec;
use libp2p::StreamProtocol;

use crate::p2pool::chain::MAX_LOCATOR;
use crate::p2pool::share::{ShareId, MAX_SHARE_BYTES};

/// Most ids one `Ids` response carries.
pub const MAX_IDS: usize = 2048;
/// Most shares one `Get` asks for (and one `Shares` response carries).
pub const MAX_GET: usize = 128;
/// Longest request body: a full `Get`.
pub const MAX_REQUEST_BYTES: usize = 3 + 32 * MAX_GET;
/// Longest response body: a full `Shares`.
pub const MAX_RESPONSE_BYTES: usize = 3 + (2 + MAX_SHARE_BYTES) * MAX_GET;

/// What a peer asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRequest {
    /// "My best chain is here": answered with the ids of yours after where they meet.
    Locate(Vec<ShareId>),
    /// These shares, please.
    Get(Vec<ShareId>),
}

/// What a peer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResponse {
    /// The answer to `Locate`: the responder's tip height and its best chain's ids after
    /// the locator, oldest first (empty: nothing the asker lacks).
    Ids {
        /// The responder's tip height.
        tip_height: u64,
        /// The ids, oldest first.
        ids: Vec<ShareId>,
    },
    /// The answer to `Get`: the shares the responder has, in wire form.
    Shares(Vec<Vec<u8>>),
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn put_ids(out: &mut Vec<u8>, ids: &[ShareId]) {
    out.extend_from_slice(&(ids.len() as u16).to_le_bytes());
    for id in ids {
        out.extend_from_slice(&id.0);
    }
}

/// Reads a count (`u16`) of at most `max` ids.
fn take_ids(body: &mut &[u8], max: usize) -> io::Result<Vec<ShareId>> {
    let n = usize::from(take_u16(body)?);
    if n > max {
        return Err(bad("too many ids"));
    }
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let (id, rest) = body
            .split_first_chunk::<32>()
            .ok_or_else(|| bad("short id"))?;
        ids.push(ShareId(*id));
        *body = rest;
    }
    Ok(ids)
}

fn take_u16(body: &mut &[u8]) -> io::Result<u16> {
    let (v, rest) = body.split_first_chunk::<2>().ok_or_else(|| bad("short"))?;
    *body = rest;
    Ok(u16::from_le_bytes(*v))
}

fn take_tag(body: &mut &[u8]) -> io::Result<u8> {
    let (v, rest) = body.split_first().ok_or_else(|| bad("empty message"))?;
    *body = rest;
    Ok(*v)
}

impl SyncRequest {
    /// The body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            SyncRequest::Locate(ids) => {
                out.push(0);
                put_ids(&mut out, ids);
            }
            SyncRequest::Get(ids) => {
                out.push(1);
                put_ids(&mut out, ids);
            }
        }
        out
    }

    /// Parses a body.
    pub fn decode(mut body: &[u8]) -> io::Result<SyncRequest> {
        let request = match take_tag(&mut body)? {
            0 => SyncRequest::Locate(take_ids(&mut body, MAX_LOCATOR)?),
            1 => SyncRequest::Get(take_ids(&mut body, MAX_GET)?),
            _ => return Err(bad("unknown request")),
        };
        if !body.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(request)
    }
}

impl SyncResponse {
    /// The body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            SyncResponse::Ids { tip_height, ids } => {
                out.push(0);
                out.extend_from_slice(&tip_height.to_le_bytes());
                put_ids(&mut out, ids);
            }
            SyncResponse::Shares(shares) => {
                out.push(1);
                out.extend_from_slice(&(shares.len() as u16).to_le_bytes());
                for s in shares {
                    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
                    out.extend_from_slice(s);
                }
            }
        }
        out
    }

    /// Parses a body.
    pub fn decode(mut body: &[u8]) -> io::Result<SyncResponse> {
        let response = match take_tag(&mut body)? {
            0 => {
                let (h, rest) = body.split_first_chunk::<8>().ok_or_else(|| bad("short"))?;
                body = rest;
                SyncResponse::Ids {
                    tip_height: u64::from_le_bytes(*h),
                    ids: take_ids(&mut body, MAX_IDS)?,
                }
            }
            1 => {
                let n = usize::from(take_u16(&mut body)?);
                if n > MAX_GET {
                    return Err(bad("too many shares"));
                }
                let mut shares = Vec::with_capacity(n);
                for _ in 0..n {
                    let len = usize::from(take_u16(&mut body)?);
                    if len > MAX_SHARE_BYTES || len > body.len() {
                        return Err(bad("share too long"));
                    }
                    let (s, rest) = body.split_at(len);
                    shares.push(s.to_vec());
                    body = rest;
                }
                SyncResponse::Shares(shares)
            }
            _ => return Err(bad("unknown response")),
        };
        if !body.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(response)
    }
}

/// Reads one length-prefixed body of at most `max` bytes (checked before allocating).
async fn read_body<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(bad("message over its size cap"));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_body<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8]) -> io::Result<()> {
    io.write_all(&(body.len() as u32).to_le_bytes()).await?;
    io.write_all(body).await?;
    io.close().await
}

/// The request-response codec of the sync protocol.
#[derive(Debug, Clone, Default)]
pub struct SyncCodec;

impl Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        SyncRequest::decode(&read_body(io, MAX_REQUEST_BYTES).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        SyncResponse::decode(&read_body(io, MAX_RESPONSE_BYTES).await?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_body(io, &req.encode()).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_body(io, &res.encode()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ShareId {
        ShareId([n; 32])
    }

    #[test]
    fn messages_round_trip() {
        for r in [
            SyncRequest::Locate(vec![id(1), id(2)]),
            SyncRequest::Get(vec![]),
            SyncRequest::Get((0..MAX_GET as u8).map(id).collect()),
        ] {
            assert_eq!(SyncRequest::decode(&r.encode()).unwrap(), r);
            assert!(r.encode().len() <= MAX_REQUEST_BYTES);
        }
        for r in [
            SyncResponse::Ids {
                tip_height: 7,
                ids: vec![id(3)],
            },
            SyncResponse::Shares(vec![vec![1, 2, 3], vec![]]),
            SyncResponse::Shares(vec![vec![9; MAX_SHARE_BYTES]; MAX_GET]),
        ] {
            assert_eq!(SyncResponse::decode(&r.encode()).unwrap(), r);
            assert!(r.encode().len() <= MAX_RESPONSE_BYTES);
        }
    }

    #[test]
    fn over_cap_counts_and_lengths_are_refused_before_allocating() {
        // A Locate claiming 65,535 ids in a short body.
        assert!(SyncRequest::decode(&[0, 0xff, 0xff]).is_err());
        assert!(SyncRequest::decode(&[1, (MAX_GET + 1) as u8, 0]).is_err());
        // A share longer than its cap, and one longer than what is left.
        let mut long = vec![1, 1, 0];
        long.extend_from_slice(&((MAX_SHARE_BYTES + 1) as u16).to_le_bytes());
        assert!(SyncResponse::decode(&long).is_err());
        assert!(SyncResponse::decode(&[1, 1, 0, 10, 0, 1]).is_err());
        assert!(SyncResponse::decode(&[7]).is_err());
        assert!(
            SyncRequest::decode(&[0, 0, 0, 1]).is_err(),
            "trailing bytes"
        );
        let mut io = futures::io::Cursor::new(u32::MAX.to_le_bytes().to_vec());
        let read = futures::executor::block_on(read_body(&mut io, MAX_RESPONSE_BYTES));
        assert!(read.is_err());
    }
}
