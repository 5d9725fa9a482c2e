//! Newline-delimited framing with a length cap, read into one small reusable buffer. Lines are
//! raw bytes: JSON parsing (and so UTF-8 checking) happens per request, so a bad line costs its
//! sender one error reply.
//!
//! Why not `tokio_util::codec::FramedRead`: its buffer loses the room in front of each line it
//! splits off, so with a small buffer every third submit arrived in two `read` calls (seen with
//! strace under load), and each split line promoted the buffer to a shared allocation. Here the
//! unread tail is moved to the front before each read, and lines are borrowed, not split off.

use tokio::io::{AsyncRead, AsyncReadExt};

/// ckpool caps lines at 1024 bytes, too small for long user agents; we accept 16 KiB.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

/// Free room asked of the buffer before each read.
const MIN_READ_ROOM: usize = 256;

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

/// Reads a byte stream and hands out its lines (without `\n`, and without a trailing `\r`).
#[derive(Debug)]
pub struct LineReader<R> {
    rd: R,
    buf: Vec<u8>,
    /// First byte not yet handed out.
    start: usize,
    /// Bytes from `start` known to hold no newline.
    scanned: usize,
    max: usize,
    initial: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Reads `rd`, refusing lines longer than `max` bytes; the buffer starts at `initial` bytes
    /// and returns to that size whenever a long line made it grow and it empties.
    pub fn new(rd: R, max: usize, initial: usize) -> Self {
        LineReader {
            rd,
            buf: Vec::with_capacity(initial),
            start: 0,
            scanned: 0,
            max,
            initial,
        }
    }

    /// The next complete line already read, if any.
    pub fn next_line(&mut self) -> Option<Result<&[u8], LineError>> {
        let unread = &self.buf[self.start..];
        match unread[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(pos) => {
                let len = self.scanned + pos;
                if len > self.max {
                    return Some(Err(LineError::TooLong(self.max)));
                }
                let line_start = self.start;
                self.start += len + 1;
                self.scanned = 0;
                let mut line = &self.buf[line_start..line_start + len];
                if let [rest @ .., b'\r'] = line {
                    line = rest;
                }
                Some(Ok(line))
            }
            None => {
                self.scanned = unread.len();
                (unread.len() > self.max).then_some(Err(LineError::TooLong(self.max)))
            }
        }
    }

    /// Waits for more bytes and reads what is there (one `read`); false at the end of the
    /// stream. Cancel safe: when dropped before it completes, nothing was read.
    pub async fn fill(&mut self) -> Result<bool, LineError> {
        self.compact();
        if self.buf.capacity() - self.buf.len() < MIN_READ_ROOM {
            self.buf.reserve(MIN_READ_ROOM.max(self.buf.len()));
        }
        let n = self.rd.read_buf(&mut self.buf).await?;
        Ok(n > 0)
    }

    /// Drops the lines handed out, moving a partial line to the front.
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            if self.buf.capacity() > self.initial.max(MIN_READ_ROOM) * 4 {
                self.buf = Vec::with_capacity(self.initial);
            }
        } else if self.start > 0 {
            self.buf.drain(..self.start);
        }
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream whose reads return `chunks` one at a time (a chunk larger than the room
    /// offered is split, as a socket would).
    struct Chunks(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if let Some(front) = self.0.front_mut() {
                let n = front.len().min(buf.remaining());
                buf.put_slice(&front[..n]);
                front.drain(..n);
                if front.is_empty() {
                    self.0.pop_front();
                }
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    fn reader(chunks: &[&[u8]], max: usize) -> LineReader<Chunks> {
        with_buffer(chunks, max, 16)
    }

    fn with_buffer(chunks: &[&[u8]], max: usize, initial: usize) -> LineReader<Chunks> {
        let chunks = chunks.iter().map(|c| c.to_vec()).collect();
        LineReader::new(Chunks(chunks), max, initial)
    }

    async fn lines(r: &mut LineReader<Chunks>) -> Vec<String> {
        let mut out = Vec::new();
        while r.fill().await.unwrap() {
            while let Some(l) = r.next_line() {
                out.push(String::from_utf8(l.unwrap().to_vec()).unwrap());
            }
        }
        out
    }

    #[tokio::test]
    async fn splits_pipelined_and_partial_lines() {
        let mut r = reader(&[b"{\"a\":1}\n{\"b\":2}\r\n{\"c\"", b":3}\n"], 64);
        assert_eq!(lines(&mut r).await, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
    }

    #[tokio::test]
    async fn a_line_longer_than_the_buffer_is_read_whole_and_the_buffer_shrinks_back() {
        let long = format!("{}\n", "x".repeat(3000));
        let mut r = reader(&[long.as_bytes(), b"short\n"], 4096);
        let first = loop {
            assert!(r.fill().await.unwrap());
            if let Some(l) = r.next_line() {
                break l.unwrap().len();
            }
        };
        assert_eq!(first, 3000);
        assert!(r.fill().await.unwrap());
        assert!(r.buf.capacity() < 3000, "buffer kept {}", r.buf.capacity());
        assert_eq!(r.next_line().unwrap().unwrap(), b"short");
    }

    #[tokio::test]
    async fn each_line_is_read_in_one_call_when_it_fits() {
        // 171-byte lines into a 512-byte buffer: FramedRead split every third one.
        let line = format!("{}\n", "s".repeat(170));
        let chunks: Vec<&[u8]> = (0..10).map(|_| line.as_bytes()).collect();
        let mut r = with_buffer(&chunks, 1024, 512);
        for _ in 0..10 {
            assert!(r.fill().await.unwrap());
            assert_eq!(r.next_line().unwrap().unwrap().len(), 170);
            assert!(r.next_line().is_none());
        }
    }

    #[tokio::test]
    async fn refuses_overlong_lines_with_or_without_newline() {
        let mut r = reader(&[b"0123456789"], 8);
        assert!(r.fill().await.unwrap());
        assert!(matches!(r.next_line(), Some(Err(LineError::TooLong(8)))));
        let mut r = reader(&[b"0123456789\n"], 8);
        assert!(r.fill().await.unwrap());
        assert!(matches!(r.next_line(), Some(Err(LineError::TooLong(8)))));
    }
}
