//! ckpool's control socket: unix stream sockets in the socket directory answering the
//! commands `ckpmsg` sends, plus ours for P2Poolv2 (see [`super::command`]).
//!
//! What follows ckpool (read in ckpool's `libckpool.c`, `ckpool.c` and `ckpmsg.c`):
//!
//! * Framing (`send_unix_msg` / `recv_unix_msg`): a message is its length as a 4-byte
//!   little-endian `uint32_t` (`htole32`) followed by that many bytes, no terminating NUL;
//!   a length of 0 is invalid. The reply is framed the same way. One request and one reply
//!   per connection: the client connects, sends, half-closes (`shutdown(SHUT_WR)`), reads
//!   the reply; the server closes after replying. When the request cannot be read, ckpool's
//!   listener replies `failed`, as we do.
//! * Socket paths: ckpool's socket directory is `-s`, else `/tmp/<name>/`; the main
//!   process's socket is `<sockdir>/listener` (`ckpool.main.sockname = "listener"`), and
//!   its threads' are `<sockdir>/generator`, `<sockdir>/stratifier`, `<sockdir>/connector`
//!   (`prepare_child`). We serve `listener`, `stratifier` and `connector`, all with the same
//!   commands (there is no generator to talk to).
//! * `open_unix_server`: an existing *socket* at the path is unlinked and recreated; any
//!   other file there is left alone and start-up fails. The socket is made mode 0770
//!   (`S_IRWXU | S_IRWXG`) and chowned to the `-g` group.
//! * `ckpmsg -n <name> [-s <dir>] [-N <sockname>]` connects to `<dir>/<name>/<sockname>`
//!   with `<dir>` defaulting to `/tmp` and `<sockname>` to `listener`: note that ckpmsg's
//!   `-s` is the directory *above* the instance's, unlike ckpool's (and our) `-s`. So a
//!   server run with `-s /run/pools/main` is reached with `ckpmsg -s /run/pools -n main`.
//!
//! Choices of ours: a request is at most [`MAX_MESSAGE`] bytes and must arrive within
//! [`IO_TIMEOUT`] (ckpool allows up to 2 GiB and its own timeouts); at most
//! [`MAX_CONNECTIONS`] requests are served at once (ckpool serves one at a time); the
//! sockets are removed when the server stops, if they are still ours.
//!
//! The sockets are opened when the socket directory is this process's: its `main.pid`
//! names us (the binary wrote it), or the config names the directory explicitly
//! (`sockdir` or `-s`). So in-process servers (tests) and `--simnet` runs without `-s`
//! do not take over `/tmp/ckpool`, as they take no pid file there either.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::command::Reply;
use super::{Control, Handler};
use crate::config::{Config, ConfigError};
use crate::log_level;

/// The sockets served, by ckpool's names.
pub const SOCKET_NAMES: [&str; 3] = ["listener", "stratifier", "connector"];
/// ckpool's pid file of the main process in the socket directory.
pub const PID_FILE: &str = "main.pid";
/// Longest request accepted.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// How long reading a request, and separately writing its reply, may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests served at once; further connections wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 16;

/// Why a framed message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or closed early.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A zero length, which ckpool never sends.
    #[error("empty message")]
    Empty,
    /// Longer than the limit.
    #[error("message of {0} bytes is longer than {MAX_MESSAGE}")]
    TooLong(usize),
}

/// Reads one ckpool-framed message (4-byte little-endian length, then the bytes).
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > max {
        return Err(FrameError::TooLong(len));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Writes one ckpool-framed message.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, msg: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(msg.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "message too long"))?;
    w.write_all(&len.to_le_bytes()).await?;
    w.write_all(msg).await?;
    w.flush().await
}

/// A bound socket file, removed on drop if the file at its path is still the one bound.
#[derive(Debug)]
struct BoundPath {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for BoundPath {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if m.dev() == self.dev && m.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// The bound control sockets, ready to serve.
#[derive(Debug)]
pub struct ControlSocket {
    listeners: Vec<(UnixListener, BoundPath)>,
    handler: Handler,
}

/// Whether this process serves the control sockets for `config` (see the module docs).
pub fn wanted(config: &Config) -> bool {
    if config.sockdir.is_some() {
        return true;
    }
    let pid_file = config.socket_dir().join(PID_FILE);
    std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        == Some(std::process::id())
}

/// Binds `path` as ckpool's `open_unix_server` does: a stale socket there is replaced,
/// any other file is an error; mode 0770, group `gid` when given.
fn bind_one(path: &Path, gid: Option<u32>) -> std::io::Result<(UnixListener, BoundPath)> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not a socket, not removing it",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    let meta = std::fs::symlink_metadata(path)?;
    let bound = BoundPath {
        path: path.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o770))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid))?;
    }
    Ok((listener, bound))
}

impl ControlSocket {
    /// Binds [`SOCKET_NAMES`] in `dir` (created, mode 0750, if missing), group `gid`.
    /// Must be called within a tokio runtime.
    pub fn bind(dir: &Path, gid: Option<u32>, handler: Handler) -> std::io::Result<Self> {
        if !dir.is_dir() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)?;
        }
        let mut listeners = Vec::with_capacity(SOCKET_NAMES.len());
        for name in SOCKET_NAMES {
            let path = dir.join(name);
            let bound = bind_one(&path, gid)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            listeners.push(bound);
        }
        Ok(ControlSocket { listeners, handler })
    }

    /// The socket paths, in [`SOCKET_NAMES`] order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.listeners.iter().map(|(_, b)| b.path.clone()).collect()
    }

    /// Serves requests until `shutdown`, then removes the socket files.
    pub async fn run(self, shutdown: CancellationToken) {
        let handler = Arc::new(self.handler);
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut tasks = tokio::task::JoinSet::new();
        for (listener, bound) in self.listeners {
            tasks.spawn(accept_loop(
                listener,
                bound,
                handler.clone(),
                slots.clone(),
                shutdown.clone(),
            ));
        }
        while tasks.join_next().await.is_some() {}
    }
}

async fn accept_loop(
    listener: UnixListener,
    bound: BoundPath,
    handler: Arc<Handler>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
) {
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("control socket {}: accept failed: {e}", bound.path.display());
                    // Resource exhaustion (EMFILE) is usually brief; do not spin on it.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            serve(stream, &handler).await;
            drop(permit);
        });
    }
    drop(listener);
    drop(bound);
}

/// One request: read, carry out, reply, close.
async fn serve(mut stream: UnixStream, handler: &Handler) {
    let reply = match tokio::time::timeout(IO_TIMEOUT, read_frame(&mut stream, MAX_MESSAGE)).await {
        Ok(Ok(msg)) => handler.handle(&msg),
        Ok(Err(e)) => {
            tracing::warn!("control socket: cannot read request: {e}");
            Reply::Unreadable.to_string()
        }
        Err(_) => {
            tracing::warn!(
                "control socket: no request within {}s",
                IO_TIMEOUT.as_secs()
            );
            Reply::Unreadable.to_string()
        }
    };
    let written = tokio::time::timeout(IO_TIMEOUT, async {
        write_frame(&mut stream, reply.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("control socket: cannot write reply: {e}"),
        Err(_) => tracing::debug!(
            "control socket: reply not taken within {}s",
            IO_TIMEOUT.as_secs()
        ),
    }
}

/// Opens the control sockets for `config` when this process serves them ([`wanted`]);
/// `None` when not wanted. The `shutdown` command cancels `shutdown`. A socket that cannot
/// be opened is a start-up error, as in ckpool. Serve them with [`ControlSocket::run`];
/// dropping them unserved removes the socket files.
pub fn bind_for(
    config: &Config,
    control: Control,
    shutdown: CancellationToken,
) -> Result<Option<ControlSocket>, ConfigError> {
    if !wanted(config) {
        return Ok(None);
    }
    let dir = config.socket_dir();
    let handler = Handler::new(control, shutdown.clone(), log_level::installed_setter());
    let socket =
        ControlSocket::bind(&dir, config.group.as_ref().map(|g| g.gid), handler).map_err(|e| {
            ConfigError::Invalid {
                key: "sockdir",
                problem: format!("cannot open the control socket: {e}"),
            }
        })?;
    tracing::info!(
        "control socket listening on {}",
        socket
            .paths()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Some(socket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::test_fixture::fixture;

    async fn request(path: &Path, msg: &[u8]) -> String {
        let mut s = UnixStream::connect(path).await.unwrap();
        write_frame(&mut s, msg).await.unwrap();
        s.shutdown().await.unwrap();
        let reply = read_frame(&mut s, MAX_MESSAGE).await.unwrap();
        String::from_utf8(reply).unwrap()
    }

    async fn raw(path: &Path, bytes: &[u8]) -> String {
        let mut s = UnixStream::connect(path).await.unwrap();
        // The server may close before taking all of an oversized request.
        let _ = s.write_all(bytes).await;
        let _ = s.shutdown().await;
        String::from_utf8(read_frame(&mut s, MAX_MESSAGE).await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn serves_framed_requests_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let sockdir = dir.path().join("sock");
        // A stale socket from a dead instance is replaced.
        std::fs::create_dir_all(&sockdir).unwrap();
        drop(std::os::unix::net::UnixListener::bind(sockdir.join("listener")).unwrap());
        assert!(sockdir.join("listener").exists());

        let f = fixture(false);
        let socket = ControlSocket::bind(&sockdir, None, f.handler.clone()).unwrap();
        let paths = socket.paths();
        assert_eq!(
            paths,
            SOCKET_NAMES.map(|n| sockdir.join(n)).to_vec(),
            "ckpool's socket names"
        );
        let mode = std::fs::metadata(&paths[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o770);
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(socket.run(shutdown.clone()));

        for p in &paths {
            assert_eq!(request(p, b"ping").await, "pong");
        }
        let reply = request(&paths[0], br#"{"method":"setdifficulty","params":[0.5]}"#).await;
        let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(
            reply,
            serde_json::json!({"result": {"difficulty": 0.5}, "error": null})
        );
        assert_eq!(f.ctx.fixed_difficulty(), Some(0.5));

        // Framing errors get ckpool's `failed`.
        assert_eq!(raw(&paths[0], &0u32.to_le_bytes()).await, "failed");
        let mut big = ((MAX_MESSAGE + 1) as u32).to_le_bytes().to_vec();
        big.extend_from_slice(b"{\"method\"");
        assert_eq!(raw(&paths[0], &big).await, "failed");
        assert_eq!(raw(&paths[0], &[5, 0, 0, 0, b'p']).await, "failed");
        // Still serving.
        assert_eq!(request(&paths[1], b"ping").await, "pong");

        shutdown.cancel();
        server.await.unwrap();
        for p in &paths {
            assert!(!p.exists(), "{} removed at shutdown", p.display());
        }
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_socket_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("listener"), "mine").unwrap();
        let f = fixture(false);
        let e = ControlSocket::bind(dir.path(), None, f.handler.clone()).unwrap_err();
        assert!(e.to_string().contains("not a socket"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("listener")).unwrap(),
            "mine"
        );
    }

    #[tokio::test]
    async fn group_is_applied() {
        // Our own group is always allowed.
        // SAFETY: getegid has no preconditions.
        let gid = unsafe { libc::getegid() };
        let dir = tempfile::tempdir().unwrap();
        let f = fixture(false);
        let socket = ControlSocket::bind(dir.path(), Some(gid), f.handler.clone()).unwrap();
        let meta = std::fs::metadata(&socket.paths()[0]).unwrap();
        assert_eq!(meta.gid(), gid);
    }

    #[test]
    fn only_our_socket_directory_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let named = crate::config::Overrides {
            name: Some("stratumd-test-none".into()),
            ..crate::config::Overrides::solo()
        };
        let config = Config::parse("{}", &named).unwrap();
        // Default /tmp/<name> with no pid file of ours: not served.
        assert!(!wanted(&config));
        let with_dir = crate::config::Overrides {
            sockdir: Some(dir.path().to_path_buf()),
            ..named
        };
        let config = Config::parse("{}", &with_dir).unwrap();
        assert!(wanted(&config), "an explicit sockdir is served");
    }
}
