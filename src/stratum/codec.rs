//! Newline-delimited framing with a length cap. Lines are raw bytes: JSON parsing (and so
//! UTF-8 checking) happens per request, so a bad line costs its sender one error reply.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

/// ckpool caps lines at 1024 bytes, too small for long user agents; we accept 16 KiB.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

/// Why the framing gave up on a connection.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// A line grew past the cap without a newline.
    #[error("line longer than {0} bytes")]
    TooLong(usize),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Splits a byte stream into lines (without `\n`, and without a trailing `\r`).
#[derive(Debug)]
pub struct LineCodec {
    max: usize,
    scanned: usize,
}

impl LineCodec {
    /// A codec that refuses lines longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        LineCodec { max, scanned: 0 }
    }
}

impl Decoder for LineCodec {
    type Item = BytesMut;
    type Error = LineError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, LineError> {
        if let Some(pos) = buf[self.scanned..].iter().position(|b| *b == b'\n') {
            let end = self.scanned + pos;
            self.scanned = 0;
            if end > self.max {
                return Err(LineError::TooLong(self.max));
            }
            let mut line = buf.split_to(end + 1);
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            return Ok(Some(line));
        }
        self.scanned = buf.len();
        if buf.len() > self.max {
            return Err(LineError::TooLong(self.max));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_pipelined_and_partial_lines() {
        let mut c = LineCodec::new(64);
        let mut buf = BytesMut::from(&b"{\"a\":1}\n{\"b\":2}\r\n{\"c\""[..]);
        assert_eq!(&c.decode(&mut buf).unwrap().unwrap()[..], b"{\"a\":1}");
        assert_eq!(&c.decode(&mut buf).unwrap().unwrap()[..], b"{\"b\":2}");
        assert!(c.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b":3}\n");
        assert_eq!(&c.decode(&mut buf).unwrap().unwrap()[..], b"{\"c\":3}");
    }

    #[test]
    fn refuses_overlong_lines_with_or_without_newline() {
        let mut c = LineCodec::new(8);
        let mut buf = BytesMut::from(&b"0123456789"[..]);
        assert!(matches!(c.decode(&mut buf), Err(LineError::TooLong(8))));
        let mut c = LineCodec::new(8);
        let mut buf = BytesMut::from(&b"0123456789\n"[..]);
        assert!(matches!(c.decode(&mut buf), Err(LineError::TooLong(8))));
    }
}
