//! One running instance per socket directory, as ckpool: the pid file `<sockdir>/main.pid`,
//! replacing an old instance (`-k`, `-H`), daemonising (`-D`) and the socket group (`-g`).
//! Everything here runs before the tokio runtime starts, while the process has one thread.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stratumd::config::SocketGroup;

/// How long an old instance has to exit after SIGTERM before it gets SIGKILL.
const TERM_WAIT: Duration = Duration::from_secs(10);
/// How long to wait after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// ckpool's pid file name for the main process.
pub const PID_FILE: &str = "main.pid";

/// A start-up failure of the instance handling, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// Another instance is alive and neither `-k` nor `-H` was given.
    #[error("another instance is running (pid {pid}, pid file {path}); use -k to kill it and take over, or -n/-s for a separate instance")]
    Running {
        /// The old instance's pid.
        pid: i32,
        /// Its pid file.
        path: String,
    },
    /// The old instance would not exit.
    #[error("old instance pid {pid} did not exit after SIGTERM and SIGKILL")]
    WontDie {
        /// Its pid.
        pid: i32,
    },
    /// A file or directory operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// `-g` names no group.
    #[error("-g: no group named `{0}`")]
    NoGroup(String),
    /// fork/setsid failed.
    #[error("cannot daemonise: {0}")]
    Daemon(std::io::Error),
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstanceError {
    let path = path.display().to_string();
    move |source| InstanceError::Io { what, path, source }
}

/// Resolves `-g <group>` to its gid, as ckpool does at start-up.
pub fn resolve_group(name: &str) -> Result<SocketGroup, InstanceError> {
    let c = CString::new(name).map_err(|_| InstanceError::NoGroup(name.to_string()))?;
    // SAFETY: `c` is a valid C string; getgrnam's static result is read at once, and no
    // other thread exists yet to call it concurrently.
    let gid = unsafe {
        let g = libc::getgrnam(c.as_ptr());
        if g.is_null() {
            None
        } else {
            Some((*g).gr_gid)
        }
    };
    gid.map(|gid| SocketGroup {
        name: name.to_string(),
        gid,
    })
    .ok_or_else(|| InstanceError::NoGroup(name.to_string()))
}

/// Whether `pid` names a live process (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    let exists = r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    // A terminated child not yet reaped by its parent still answers kill(0).
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

fn wait_gone(pid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

/// Reads the pid in a pid file, `None` when absent or unreadable.
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// What happened to an old instance.
#[derive(Debug, PartialEq, Eq)]
pub enum OldInstance {
    /// No pid file, or its process is gone.
    None,
    /// It was running and was stopped.
    Replaced(i32),
}

/// ckpool's `manage_old_instance`: creates `sockdir` and looks at `<sockdir>/main.pid`. A
/// live old instance is stopped (SIGTERM, then SIGKILL) when `killold`, otherwise start-up
/// is refused.
pub fn manage_old_instance(sockdir: &Path, killold: bool) -> Result<OldInstance, InstanceError> {
    create_sockdir(sockdir)?;
    let path = sockdir.join(PID_FILE);
    let Some(pid) = read_pid(&path) else {
        return Ok(OldInstance::None);
    };
    if pid == std::process::id() as i32 || !alive(pid) {
        return Ok(OldInstance::None);
    }
    if !killold {
        return Err(InstanceError::Running {
            pid,
            path: path.display().to_string(),
        });
    }
    // SAFETY: plain signal sends to a pid read from our pid file.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    if wait_gone(pid, TERM_WAIT) {
        return Ok(OldInstance::Replaced(pid));
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    if wait_gone(pid, KILL_WAIT) {
        Ok(OldInstance::Replaced(pid))
    } else {
        Err(InstanceError::WontDie { pid })
    }
}

fn create_sockdir(sockdir: &Path) -> Result<(), InstanceError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(sockdir)
        .map_err(io_err("cannot create socket directory", sockdir))
}

/// Our pid file; removed on drop if it still holds our pid.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: i32,
}

impl PidFile {
    /// Writes this process's pid to `<sockdir>/main.pid`.
    pub fn write(sockdir: &Path) -> Result<PidFile, InstanceError> {
        create_sockdir(sockdir)?;
        let path = sockdir.join(PID_FILE);
        let pid = std::process::id() as i32;
        std::fs::write(&path, pid.to_string()).map_err(io_err("cannot write pid file", &path))?;
        Ok(PidFile { path, pid })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// ckpool's `-D`: forks; the parent exits 0 at once, the child starts a new session with
/// stdin on /dev/null and stdout/stderr appended to `log_file`. Returns in the child.
/// Must be called while the process has a single thread.
pub fn daemonise(log_file: &Path) -> Result<(), InstanceError> {
    if let Some(dir) = log_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err("cannot create log directory", dir))?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .map_err(io_err("cannot open log file", log_file))?;
    let null = OpenOptions::new()
        .read(true)
        .open("/dev/null")
        .map_err(io_err("cannot open", Path::new("/dev/null")))?;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: the process is single-threaded here (no runtime yet), so the child may go on
    // running ordinary Rust code.
    match unsafe { libc::fork() } {
        -1 => return Err(InstanceError::Daemon(std::io::Error::last_os_error())),
        0 => {}
        // The parent: done. _exit skips destructors that belong to the child now.
        // SAFETY: _exit is always safe to call.
        _ => unsafe { libc::_exit(0) },
    }
    // SAFETY: setsid and dup2 on descriptors we own.
    unsafe {
        if libc::setsid() == -1 {
            return Err(InstanceError::Daemon(std::io::Error::last_os_error()));
        }
        if libc::dup2(null.as_raw_fd(), 0) == -1
            || libc::dup2(log.as_raw_fd(), 1) == -1
            || libc::dup2(log.as_raw_fd(), 2) == -1
        {
            return Err(InstanceError::Daemon(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_pid_file_is_ignored_and_ours_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("sock");
        std::fs::create_dir_all(&sock).unwrap();
        // A pid that cannot exist (above Linux's pid_max ceiling).
        std::fs::write(sock.join(PID_FILE), "2147483646").unwrap();
        assert_eq!(
            manage_old_instance(&sock, false).unwrap(),
            OldInstance::None
        );
        std::fs::write(sock.join(PID_FILE), "garbage").unwrap();
        assert_eq!(
            manage_old_instance(&sock, false).unwrap(),
            OldInstance::None
        );
        let pid = PidFile::write(&sock).unwrap();
        assert_eq!(
            read_pid(&sock.join(PID_FILE)),
            Some(std::process::id() as i32)
        );
        // Our own pid in the file is not "another instance".
        assert_eq!(
            manage_old_instance(&sock, false).unwrap(),
            OldInstance::None
        );
        drop(pid);
        assert!(!sock.join(PID_FILE).exists());
    }

    #[test]
    fn live_instance_refuses_without_killold_and_is_replaced_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        std::fs::write(dir.path().join(PID_FILE), pid.to_string()).unwrap();
        let e = manage_old_instance(dir.path(), false).unwrap_err();
        assert!(e.to_string().contains("-k"), "{e}");
        assert!(alive(pid));
        // The unreaped child turns zombie, which counts as gone.
        assert_eq!(
            manage_old_instance(dir.path(), true).unwrap(),
            OldInstance::Replaced(pid)
        );
        let _ = child.wait();
        assert!(!alive(pid));
    }

    #[test]
    fn group_lookup() {
        assert!(resolve_group("no-such-group-stratumd").is_err());
        // gid 0's group exists everywhere; its name varies ("root", "wheel").
        // SAFETY: single call, result read at once.
        let name = unsafe {
            let g = libc::getgrgid(0);
            assert!(!g.is_null());
            std::ffi::CStr::from_ptr((*g).gr_name)
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(resolve_group(&name).unwrap().gid, 0);
    }
}
