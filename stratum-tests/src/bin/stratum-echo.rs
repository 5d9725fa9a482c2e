//! `stratum-echo`: the floor of the share path on this machine. A stratum v1 responder that
//! does the least a server can: canned subscribe, authorize, difficulty and one notify, then
//! `result: true` for every submit, with no parsing beyond finding the request id and no
//! validation. Run `stratum-load` against it with the same scenario as against stratumd, in
//! the same minutes, and the ratio of the two (CPU per share, round trip) is what stratumd's
//! own work costs; the rest is the kernel and the generator.
//!
//! Usage: `stratum-echo <listen address, e.g. 127.0.0.1:3333>` (runs until killed).

use std::io::Write as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A notify `stratum-load` can build shares on (difficulty 1e-10: any hash meets it).
const NOTIFY: &str = concat!(
    r#"{"id":null,"method":"mining.notify","params":["1","#,
    r#""00000000000000000000000000000000000000000000000000000000000000aa","#,
    r#""01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0d03","#,
    r#""ffffffff0100f2052a010000001976a914000000000000000000000000000000000000000088ac00000000","#,
    r#"[],"20000000","1d00ffff","5f000000",true]}"#,
    "\n"
);

/// The request id: the text after `"id":` up to the next `,` or `}`.
fn request_id(line: &str) -> &str {
    line.find("\"id\":")
        .map(|i| &line[i + 5..])
        .and_then(|rest| rest.find([',', '}']).map(|end| rest[..end].trim()))
        .unwrap_or("null")
}

async fn serve(stream: TcpStream, en1: u32) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::with_capacity(512, rd).lines();
    let mut out = Vec::with_capacity(256);
    while let Some(line) = lines.next_line().await? {
        let id = request_id(&line);
        out.clear();
        if line.contains("mining.submit") {
            writeln!(out, "{{\"id\":{id},\"result\":true,\"error\":null}}")?;
        } else if line.contains("mining.subscribe") {
            writeln!(
                out,
                "{{\"id\":{id},\"result\":[[[\"mining.notify\",\"{en1:08x}\"]],\"{en1:08x}\",8],\"error\":null}}"
            )?;
        } else if line.contains("mining.authorize") {
            writeln!(out, "{{\"id\":{id},\"result\":true,\"error\":null}}")?;
            out.extend_from_slice(
                b"{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[1e-10]}\n",
            );
            out.extend_from_slice(NOTIFY.as_bytes());
        } else if line.contains("mining.configure") {
            writeln!(
                out,
                "{{\"id\":{id},\"result\":{{\"version-rolling\":true,\"version-rolling.mask\":\"1fffe000\"}},\"error\":null}}"
            )?;
        } else {
            writeln!(out, "{{\"id\":{id},\"result\":true,\"error\":null}}")?;
        }
        wr.write_all(&out).await?;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3333".into());
    stratum_tests::load::limits::raise_nofile().map_err(std::io::Error::other)?;
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("stratum-echo listening on {}", listener.local_addr()?);
    let mut next_en1 = 0u32;
    loop {
        let (stream, _) = listener.accept().await?;
        next_en1 = next_en1.wrapping_add(1);
        tokio::spawn(serve(stream, next_en1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_request_id() {
        assert_eq!(request_id(r#"{"id":12,"method":"x"}"#), "12");
        assert_eq!(request_id(r#"{"method":"x","id":"a"}"#), "\"a\"");
        assert_eq!(request_id(r#"{"method":"x"}"#), "null");
    }
}
