//! Untrusted files are parsed in a child process, never in the server.
//!
//! A hostile file can overflow a parser's stack (a PDF form that draws
//! itself), exhaust memory (a DOCX whose XML inflates a hundredfold) or spin
//! for ever. None of that can be caught inside a process: a stack overflow
//! aborts it, and a thread cannot be killed. So each extraction runs in a
//! fresh child (this same binary, started with [`CHILD_COMMAND`]) under
//! memory, CPU-time and wall-clock limits, with an empty environment (no
//! secrets) and nothing but stdin, stdout and stderr. The protocol is plain:
//! the file's bytes on stdin, one JSON [`Reply`] on stdout.
//!
//! Hand-written because no crate does this for us: the pieces are
//! `tokio::process` and `setrlimit` (through `nix`).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Extracted, Limits, SourceKind};

/// The subcommand of the `docent` binary that runs one extraction.
pub const CHILD_COMMAND: &str = "extract-sandbox";

/// Bounds of one extraction.
#[derive(Clone, Debug)]
pub struct SandboxLimits {
    /// Address space of the child (RLIMIT_AS).
    pub memory_bytes: u64,
    /// Wall-clock limit; the CPU-time limit (RLIMIT_CPU) is the same.
    pub timeout: Duration,
    /// What the parsers may produce.
    pub extract: Limits,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 1024 << 20,
            timeout: Duration::from_secs(120),
            extract: Limits::default(),
        }
    }
}

/// Runs extractions in child processes of `program`.
#[derive(Clone, Debug)]
pub struct Sandbox {
    program: PathBuf,
    limits: SandboxLimits,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SandboxError {
    /// The parser read the file and refused it (corrupt, empty, encrypted…).
    #[error("{0}")]
    Rejected(String),
    /// The parser crashed or ran over a limit.
    #[error("the file could not be read safely: {0}")]
    Unsafe(String),
    /// The child could not be started: an installation problem, not the file's.
    #[error("the extraction sandbox could not run: {0}")]
    Unavailable(String),
}

/// What the child writes on stdout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(Extracted),
    Error(String),
}

/// Most bytes of stderr kept from a child (enough for a panic message).
const STDERR_KEPT: u64 = 8 * 1024;

impl Sandbox {
    /// `program` must accept `CHILD_COMMAND` as its first argument, as the
    /// `docent` binary does.
    pub fn new(program: PathBuf, limits: SandboxLimits) -> Self {
        Self { program, limits }
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// Extracts `bytes` as `kind` in a fresh child process.
    pub async fn extract(&self, kind: SourceKind, bytes: &[u8]) -> Result<Extracted, SandboxError> {
        let limits = &self.limits;
        let mut child = tokio::process::Command::new(&self.program)
            .args(self.child_args(kind))
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                SandboxError::Unavailable(format!("cannot start {}: {e}", self.program.display()))
            })?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::Unavailable("no pipes to the child".into()));
        };
        // Written while the output is read, so a large file and a large reply
        // cannot block each other; a child that dies early closes the pipe.
        let input = bytes.to_vec();
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
        // The reply is text bounded by `max_text_bytes`, escaped as JSON.
        let max_reply = (limits.extract.max_text_bytes as u64).saturating_mul(6) + (1 << 20);
        let run = async {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let (mut stdout, mut stderr) = (stdout.take(max_reply), stderr.take(STDERR_KEPT));
            let (read_out, read_err, status) = tokio::join!(
                stdout.read_to_end(&mut out),
                stderr.read_to_end(&mut err),
                child.wait()
            );
            read_out.map_err(|e| SandboxError::Unavailable(e.to_string()))?;
            let _ = read_err;
            let status = status.map_err(|e| SandboxError::Unavailable(e.to_string()))?;
            Ok::<_, SandboxError>((status, out, err))
        };
        let outcome = tokio::time::timeout(limits.timeout, run).await;
        writer.abort();
        let (status, out, err) = match outcome {
            Ok(result) => result?,
            Err(_) => {
                // kill_on_drop ends the child when `child` goes out of scope.
                return Err(SandboxError::Unsafe(format!(
                    "reading it took longer than {} s",
                    limits.timeout.as_secs()
                )));
            }
        };
        if !status.success() {
            return Err(SandboxError::Unsafe(self.crash_reason(status, &err)));
        }
        match serde_json::from_slice::<Reply>(&out) {
            Ok(Reply::Ok(extracted)) => Ok(extracted),
            Ok(Reply::Error(message)) => Err(SandboxError::Rejected(message)),
            Err(e) => Err(SandboxError::Unsafe(format!(
                "the parser's reply was unreadable ({e})"
            ))),
        }
    }

    fn child_args(&self, kind: SourceKind) -> Vec<OsString> {
        let l = &self.limits;
        [
            CHILD_COMMAND.to_string(),
            format!("--kind={}", kind.as_str()),
            format!("--memory-bytes={}", l.memory_bytes),
            format!("--cpu-secs={}", l.timeout.as_secs().max(1)),
            format!("--max-text-bytes={}", l.extract.max_text_bytes),
        ]
        .into_iter()
        .map(OsString::from)
        .collect()
    }

    /// Says why a child ended badly, in words a document's owner can act on.
    fn crash_reason(&self, status: std::process::ExitStatus, stderr: &[u8]) -> String {
        let stderr = String::from_utf8_lossy(stderr);
        let l = &self.limits;
        if stderr.contains("overflowed its stack") {
            "it nests too deeply (the parser ran out of stack)".into()
        } else if stderr.contains("memory allocation") || stderr.contains("capacity overflow") {
            format!(
                "it needs more than {} MiB of memory to read",
                l.memory_bytes >> 20
            )
        } else if matches!(status.signal(), Some(s) if s == nix::sys::signal::Signal::SIGXCPU as i32)
        {
            format!(
                "reading it took more than {} s of CPU time",
                l.timeout.as_secs()
            )
        } else if let Some(signal) = status.signal() {
            format!("the parser crashed (signal {signal})")
        } else {
            format!(
                "the parser stopped with exit code {}",
                status.code().unwrap_or(-1)
            )
        }
    }
}

/// Arguments of the child, as [`Sandbox`] passes them.
#[derive(Debug, Clone)]
pub struct ChildArgs {
    pub kind: String,
    pub memory_bytes: u64,
    pub cpu_secs: u64,
    pub max_text_bytes: usize,
}

/// The child's whole life: limit itself, read the file from stdin, extract,
/// write the reply to stdout. Runs before anything else in the process.
pub fn run_child(args: &ChildArgs) -> ExitCode {
    if let Err(e) = limit_self(args) {
        eprintln!("docent extract-sandbox: cannot set resource limits: {e}");
        return ExitCode::from(3);
    }
    let Some(kind) = SourceKind::parse(&args.kind) else {
        eprintln!("docent extract-sandbox: unknown kind {:?}", args.kind);
        return ExitCode::from(2);
    };
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        eprintln!("docent extract-sandbox: cannot read the file: {e}");
        return ExitCode::from(3);
    }
    let limits = Limits {
        max_text_bytes: args.max_text_bytes,
        ..Limits::default()
    };
    let reply = match crate::extract(kind, &bytes, &limits) {
        Ok(extracted) => Reply::Ok(extracted),
        Err(e) => Reply::Error(e.to_string()),
    };
    drop(bytes);
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &reply)
        .map_err(std::io::Error::from)
        .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("docent extract-sandbox: cannot write the reply: {e}");
            ExitCode::from(3)
        }
    }
}

/// Memory (address space), CPU time, no core files, and
/// only a handful of descriptors.
fn limit_self(args: &ChildArgs) -> nix::Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    setrlimit(Resource::RLIMIT_AS, args.memory_bytes, args.memory_bytes)?;
    // SIGXCPU at the soft limit; the kernel kills at the hard one.
    setrlimit(Resource::RLIMIT_CPU, args.cpu_secs, args.cpu_secs + 1)?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
    setrlimit(Resource::RLIMIT_NOFILE, 16, 16)?;
    Ok(())
}
