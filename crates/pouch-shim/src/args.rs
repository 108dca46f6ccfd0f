//! The shim's command line (see the contract's invocation). Parsed by hand: the shim stays
//! small and its only caller is pouchd.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Errors in the command line; pouchd builds it, so these point at a version mismatch.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    #[error("missing required flag {0} (is pouch-shim the same version as pouchd?)")]
    Missing(&'static str),
    #[error("flag {0} needs a value")]
    NoValue(String),
    #[error("unknown flag {0} (is pouch-shim the same version as pouchd?)")]
    Unknown(String),
    #[error("invalid value {value:?} for {flag}: {reason}")]
    Invalid {
        flag: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("--exec-id and --process go together")]
    ExecPair,
}

/// The json-file log of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogArgs {
    pub path: PathBuf,
    pub max_size: Option<u64>,
    pub max_file: u32,
}

/// Exec mode: run `<runtime> exec --process P --detach` instead of `create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecArgs {
    pub id: String,
    pub process: PathBuf,
}

/// Everything the shim is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub id: String,
    pub runtime: PathBuf,
    pub runtime_name: String,
    pub runtime_root: PathBuf,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    pub log: Option<LogArgs>,
    pub cgroup_path: Option<String>,
    pub exec: Option<ExecArgs>,
    pub create_timeout: Duration,
}

impl Args {
    /// What messages call the supervised process.
    pub fn subject(&self) -> String {
        match &self.exec {
            Some(exec) => format!("exec {} of container {}", exec.id, self.id),
            None => format!("container {}", self.id),
        }
    }
}

/// Parses the arguments after the program name. Paths are made absolute, since the shim
/// changes into its state dir.
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Args, ArgsError> {
    let mut id = None;
    let mut runtime = None;
    let mut runtime_name = None;
    let mut runtime_root = None;
    let mut bundle = None;
    let mut state_dir = None;
    let (mut tty, mut stdin, mut stdin_once) = (false, false, false);
    let mut log_path = None;
    let mut log_max_size = None;
    let mut log_max_file = 1u32;
    let mut cgroup_path = None;
    let mut exec_id = None;
    let mut process = None;
    let mut create_timeout = Duration::from_secs(60);

    let mut argv = argv.into_iter();
    while let Some(flag) = argv.next() {
        let flag = flag.to_string_lossy().into_owned();
        match flag.as_str() {
            "--tty" => tty = true,
            "--stdin" => stdin = true,
            "--stdin-once" => stdin_once = true,
            _ => {
                let value = argv
                    .next()
                    .ok_or_else(|| ArgsError::NoValue(flag.clone()))?;
                match flag.as_str() {
                    "--id" => id = Some(text("--id", value)?),
                    "--runtime" => runtime = Some(PathBuf::from(value)),
                    "--runtime-name" => runtime_name = Some(text("--runtime-name", value)?),
                    "--runtime-root" => runtime_root = Some(PathBuf::from(value)),
                    "--bundle" => bundle = Some(PathBuf::from(value)),
                    "--state-dir" => state_dir = Some(PathBuf::from(value)),
                    "--log-path" => log_path = Some(PathBuf::from(value)),
                    "--log-max-size" => log_max_size = Some(number("--log-max-size", value)?),
                    "--log-max-file" => {
                        let n = number("--log-max-file", value.clone())?;
                        log_max_file = u32::try_from(n).ok().filter(|n| *n >= 1).ok_or(
                            ArgsError::Invalid {
                                flag: "--log-max-file",
                                value: value.to_string_lossy().into_owned(),
                                reason: "expected a count of at least 1",
                            },
                        )?;
                    }
                    "--cgroup-path" => cgroup_path = Some(text("--cgroup-path", value)?),
                    "--exec-id" => exec_id = Some(text("--exec-id", value)?),
                    "--process" => process = Some(PathBuf::from(value)),
                    "--create-timeout" => {
                        let secs = number("--create-timeout", value.clone())?;
                        if secs == 0 {
                            return Err(ArgsError::Invalid {
                                flag: "--create-timeout",
                                value: "0".into(),
                                reason: "expected seconds above 0",
                            });
                        }
                        create_timeout = Duration::from_secs(secs);
                    }
                    _ => return Err(ArgsError::Unknown(flag)),
                }
            }
        }
    }

    let exec = match (exec_id, process) {
        (Some(id), Some(process)) => Some(ExecArgs {
            id,
            process: absolute(process),
        }),
        (None, None) => None,
        _ => return Err(ArgsError::ExecPair),
    };
    Ok(Args {
        id: id.ok_or(ArgsError::Missing("--id"))?,
        runtime: program(runtime.ok_or(ArgsError::Missing("--runtime"))?),
        runtime_name: runtime_name.ok_or(ArgsError::Missing("--runtime-name"))?,
        runtime_root: absolute(runtime_root.ok_or(ArgsError::Missing("--runtime-root"))?),
        bundle: absolute(bundle.ok_or(ArgsError::Missing("--bundle"))?),
        state_dir: absolute(state_dir.ok_or(ArgsError::Missing("--state-dir"))?),
        tty,
        stdin,
        stdin_once,
        log: log_path.map(|path| LogArgs {
            path: absolute(path),
            max_size: log_max_size,
            max_file: log_max_file,
        }),
        cgroup_path,
        exec,
        create_timeout,
    })
}

fn text(flag: &'static str, value: OsString) -> Result<String, ArgsError> {
    value.into_string().map_err(|v| ArgsError::Invalid {
        flag,
        value: v.to_string_lossy().into_owned(),
        reason: "expected UTF-8 text",
    })
}

fn number(flag: &'static str, value: OsString) -> Result<u64, ArgsError> {
    let s = value.to_string_lossy();
    s.parse().map_err(|_| ArgsError::Invalid {
        flag,
        value: s.into_owned(),
        reason: "expected a whole number",
    })
}

/// `path` made absolute against the current directory.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// A program path made absolute, except a bare name such as `runc` (found through PATH).
fn program(path: PathBuf) -> PathBuf {
    if path.components().count() == 1 && !path.starts_with(".") {
        return path;
    }
    absolute(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    const BASE: &str = "--id c1 --runtime /usr/sbin/runc --runtime-name runc \
        --runtime-root /run/r --bundle /b --state-dir /s";

    #[test]
    fn parses_the_contract_invocation() {
        let a = parse(argv(&format!(
            "{BASE} --tty --stdin --stdin-once --log-path /l/c1-json.log --log-max-size 100 \
             --log-max-file 3 --cgroup-path pouch/c1 --create-timeout 5"
        )))
        .expect("parses");
        assert_eq!(a.id, "c1");
        assert!(a.tty && a.stdin && a.stdin_once);
        assert_eq!(
            a.log,
            Some(LogArgs {
                path: "/l/c1-json.log".into(),
                max_size: Some(100),
                max_file: 3
            })
        );
        assert_eq!(a.cgroup_path.as_deref(), Some("pouch/c1"));
        assert_eq!(a.create_timeout, Duration::from_secs(5));
        assert_eq!(a.exec, None);
        assert_eq!(a.subject(), "container c1");
    }

    #[test]
    fn exec_mode_needs_both_flags() {
        let a = parse(argv(&format!("{BASE} --exec-id e1 --process /p.json"))).expect("parses");
        assert_eq!(a.subject(), "exec e1 of container c1");
        let e = parse(argv(&format!("{BASE} --exec-id e1"))).expect_err("half exec");
        assert!(matches!(e, ArgsError::ExecPair));
    }

    #[test]
    fn errors_name_the_flag() {
        let e = parse(argv("--runtime /x")).expect_err("no id");
        assert_eq!(
            e.to_string(),
            "missing required flag --id (is pouch-shim the same version as pouchd?)"
        );
        let e = parse(argv(&format!("{BASE} --log-max-size big"))).expect_err("bad size");
        assert!(e.to_string().contains("--log-max-size"), "{e}");
        let e = parse(argv(&format!("{BASE} --bogus 1"))).expect_err("unknown");
        assert!(e.to_string().contains("--bogus"), "{e}");
        let e = parse(argv(&format!("{BASE} --id"))).expect_err("no value");
        assert!(matches!(e, ArgsError::NoValue(_)));
    }

    #[test]
    fn relative_paths_become_absolute() {
        let a = parse(argv(
            "--id c --runtime runc --runtime-name runc --runtime-root r --bundle ./b --state-dir s/t",
        ))
        .expect("parses");
        assert_eq!(a.runtime, PathBuf::from("runc"));
        assert!(a.bundle.is_absolute() && a.state_dir.is_absolute());
        assert!(a.runtime_root.is_absolute());
    }
}
