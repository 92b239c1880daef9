//! External commands (qemu-img, later mount and mkfs) built as data, shown
//! as text in logs and golden tests, and run by one function that captures
//! stderr into the error.

use std::ffi::OsString;
use std::fmt;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<OsString>,
}

impl Cmd {
    pub fn new(program: &str) -> Cmd {
        Cmd {
            program: program.to_string(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Cmd {
        self.args.push(a.into());
        self
    }

    /// Runs the command to completion; a non-zero exit is `Error::Command`
    /// carrying the command's own stderr. A missing program is `Unsupported`.
    pub fn run(&self) -> Result<String> {
        tracing::debug!("running {self}");
        let out = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::Unsupported(format!(
                    "'{}' is not installed; this operation needs it",
                    self.program
                )),
                _ => Error::io(format!("cannot run {}", self.program))(e),
            })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(Error::Command {
            cmd: self.program.clone(),
            status: out.status.code().map_or_else(
                || "killed by a signal".to_string(),
                |c| format!("exit status {c}"),
            ),
            stderr: stderr.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program)?;
        for a in &self.args {
            write!(f, " {}", a.to_string_lossy())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_captures_stderr_and_status() {
        let e = Cmd::new("sh")
            .arg("-c")
            .arg("echo oops >&2; exit 3")
            .run()
            .unwrap_err();
        assert_eq!(e.to_string(), "sh failed (exit status 3): oops");
        assert!(matches!(
            Cmd::new("no-such-program-xyz").run(),
            Err(Error::Unsupported(_))
        ));
        assert_eq!(Cmd::new("echo").arg("hi").run().unwrap(), "hi\n");
    }
}
