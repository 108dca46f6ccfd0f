//! A `pouchd` under test: started on a temporary `--home-dir`, `--exec-root`, socket and
//! pidfile, ready once `/_ping` answers on its socket, with runners for the `pouch` CLI
//! (`-H unix://<sock>`, `HOME=<temp>`) and the docker CLI (`DOCKER_HOST`, `DOCKER_CONFIG`),
//! signal helpers for crash tests, and views of its home for "nothing left behind" checks.
//! On drop: SIGTERM, SIGKILL after 10 s, temp dirs removed; the log is printed when the
//! test is failing.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rustix::process::{kill_process, Pid, Signal};

use crate::cmd::{self, Background, CmdOutput};
use crate::Binaries;

/// How to start a daemon.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// `--registry-mirror` URLs, in order.
    pub mirrors: Vec<String>,
    /// `--insecure-registry` entries.
    pub insecure_registries: Vec<String>,
    pub max_concurrent_downloads: Option<u32>,
    pub debug: bool,
    /// More flags, appended as given.
    pub extra_args: Vec<String>,
    /// Environment variables of pouchd (e.g. `POUCH_FAULT` for the rollback tests).
    pub env: Vec<(String, String)>,
    /// The bridge, subnet and table to use (default: a fresh [`NetSlot`]).
    pub net: Option<NetSlot>,
    /// `--home-dir` instead of `<temp>/home` (e.g. on a loop-mounted btrfs for disk quota);
    /// the caller owns it, and the teardown unmounts what pouchd left below it.
    pub home: Option<PathBuf>,
}

impl DaemonOptions {
    /// Options with one registry mirror.
    pub fn with_mirror(url: &str) -> DaemonOptions {
        DaemonOptions {
            mirrors: vec![url.to_string()],
            ..DaemonOptions::default()
        }
    }
}

/// A running (or stopped, between crash and restart) pouchd.
pub struct Daemon {
    bins: Binaries,
    opts: DaemonOptions,
    dir: tempfile::TempDir,
    child: Option<Child>,
    net: NetSlot,
}

/// The default bridge, its subnet and the firewall table of one test daemon, so daemons
/// running at the same time (and a pouchd of the host) never share them.
#[derive(Debug, Clone)]
pub struct NetSlot {
    pub bridge: String,
    /// `10.x.y.1/24`
    pub bip: String,
    pub table: String,
    n: u32,
}

impl NetSlot {
    /// A bridge, subnet and table no other daemon of this process has.
    pub fn next() -> NetSlot {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 250;
        let p = std::process::id() % 100;
        NetSlot {
            bridge: format!("pt{p:02}x{n:03}"),
            bip: format!("10.{}.{}.1/24", 100 + p, n),
            table: format!("pouch_t{p}_{n}"),
            n,
        }
    }

    /// A /24 for a user network of this daemon (`k` < 50): `10.<200+k>.<n>.0/24`.
    pub fn subnet(&self, k: u32) -> String {
        format!("10.{}.{}.0/24", 200 + k, self.n)
    }

    /// The subnet's first three octets (`10.x.y`).
    pub fn prefix(&self) -> String {
        self.bip
            .rsplit_once('.')
            .map(|(a, _)| a.to_string())
            .unwrap_or_default()
    }
}

/// How long pouchd may take to answer `/_ping` after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The docker CLI, if installed.
pub fn docker_cli() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("docker"))
                .collect()
        })
        .unwrap_or_default();
    candidates.push(PathBuf::from("/usr/local/bin/docker"));
    candidates.into_iter().find(|p| p.is_file())
}

impl Daemon {
    /// Starts pouchd with `opts` and waits until it answers `/_ping`.
    pub fn start(bins: &Binaries, opts: DaemonOptions) -> Result<Daemon> {
        let dir = tempfile::Builder::new()
            .prefix("pouch-e2e-")
            .tempdir()
            .context("daemon temp dir")?;
        for d in ["home", "exec", "client", "docker-config"] {
            fs::create_dir_all(dir.path().join(d))?;
        }
        fs::write(dir.path().join("config.json"), "{}\n")?;
        let net = opts.net.clone().unwrap_or_else(NetSlot::next);
        let mut d = Daemon {
            bins: bins.clone(),
            opts,
            dir,
            child: None,
            net,
        };
        d.spawn_and_wait()?;
        Ok(d)
    }

    fn args(&self, home: &Path, exec: &Path, sock: &Path, pidfile: &Path) -> Vec<String> {
        let mut a = vec![
            "--home-dir".to_string(),
            home.display().to_string(),
            "--exec-root".into(),
            exec.display().to_string(),
            "-l".into(),
            format!("unix://{}", sock.display()),
            "--pidfile".into(),
            pidfile.display().to_string(),
            // An empty config file, so a host's /etc/pouch/config.json cannot leak in.
            "--config-file".into(),
            self.dir.path().join("config.json").display().to_string(),
            "--bridge-name".into(),
            self.net.bridge.clone(),
            "--bip".into(),
            self.net.bip.clone(),
            "--firewall-table".into(),
            self.net.table.clone(),
        ];
        for m in &self.opts.mirrors {
            a.push("--registry-mirror".into());
            a.push(m.clone());
        }
        for i in &self.opts.insecure_registries {
            a.push("--insecure-registry".into());
            a.push(i.clone());
        }
        if let Some(n) = self.opts.max_concurrent_downloads {
            a.push("--max-concurrent-downloads".into());
            a.push(n.to_string());
        }
        if self.opts.debug {
            a.push("--debug".into());
        }
        a.extend(self.opts.extra_args.iter().cloned());
        a
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let args = self.args(
            &self.home(),
            &self.exec_root(),
            &self.socket(),
            &self.pidfile(),
        );
        let _ = fs::remove_file(self.socket());
        let child = Command::new(&self.bins.pouchd)
            .args(&args)
            .env_remove("POUCH_HOST")
            .envs(self.opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot run {}", self.bins.pouchd.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    bail!(
                        "pouchd exited with {status} before answering /_ping:\n{}",
                        self.log()
                    );
                }
            }
            if ping(&self.socket()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "pouchd did not answer /_ping on {} within {START_TIMEOUT:?}:\n{}",
                    self.socket().display(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops pouchd (SIGTERM) and starts it again with `env` added to its environment.
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) -> Result<()> {
        self.stop();
        self.opts.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.spawn_and_wait()
    }

    /// Starts pouchd again on the same directories (after it exited or was killed).
    pub fn restart(&mut self) -> Result<()> {
        if self.running() {
            bail!("pouchd is still running: stop it before restarting");
        }
        self.spawn_and_wait()
    }

    /// Runs a second pouchd on the same `--home-dir` (own socket and exec root) and returns
    /// how it ended; if it is still running after `timeout` it is killed (`timed_out`).
    pub fn start_second_on_same_home(&self, timeout: Duration) -> CmdOutput {
        let other = self.dir.path().join("second");
        let _ = fs::create_dir_all(other.join("exec"));
        let args = self.args(
            &self.home(),
            &other.join("exec"),
            &other.join("pouchd.sock"),
            &other.join("pouchd.pid"),
        );
        let mut c = Command::new(&self.bins.pouchd);
        c.args(args).env_remove("POUCH_HOST");
        cmd::run(c, None, timeout)
    }

    /// Whether the daemon process is alive.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `sig` to pouchd.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        let pid = self
            .pid()
            .and_then(|p| Pid::from_raw(p as i32))
            .context("pouchd is not running")?;
        kill_process(pid, sig).context("kill pouchd")?;
        Ok(())
    }

    /// SIGKILLs pouchd and reaps it.
    pub fn kill9(&mut self) -> Result<ExitStatus> {
        self.signal(Signal::KILL)?;
        self.wait_exit(Duration::from_secs(10))
            .context("pouchd survived SIGKILL")
    }

    /// Waits for pouchd to exit; `None` on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        cmd::wait_child(child, timeout)
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            if let Some(pid) = Pid::from_raw(child.id() as i32) {
                let _ = kill_process(pid, Signal::TERM);
            }
            if cmd::wait_child(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// This daemon's default bridge, subnet and firewall table.
    pub fn net(&self) -> &NetSlot {
        &self.net
    }

    // ---- paths ----

    /// The temp dir holding everything of this daemon.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn home(&self) -> PathBuf {
        match &self.opts.home {
            Some(home) => home.clone(),
            None => self.dir.path().join("home"),
        }
    }
    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("pouchd.sock")
    }
    pub fn pidfile(&self) -> PathBuf {
        self.dir.path().join("pouchd.pid")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("pouchd.log")
    }
    /// `$HOME` of the clients (`~/.pouch/config.json` lives here).
    pub fn client_home(&self) -> PathBuf {
        self.dir.path().join("client")
    }
    /// `$DOCKER_CONFIG` of the docker CLI.
    pub fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker-config")
    }
    /// `unix://<socket>`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Everything pouchd logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    // ---- clients ----

    fn pouch_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bins.pouch);
        c.arg("-H")
            .arg(self.host())
            .args(args)
            .env_remove("POUCH_HOST")
            .env("HOME", self.client_home());
        c
    }

    /// Runs `pouch -H unix://<sock> <args>`.
    pub fn pouch(&self, args: &[&str]) -> CmdOutput {
        cmd::run(self.pouch_command(args), None, cmd::DEFAULT_TIMEOUT)
    }

    /// Same, with `stdin` fed to it.
    pub fn pouch_stdin(&self, args: &[&str], stdin: Vec<u8>) -> CmdOutput {
        cmd::run(self.pouch_command(args), Some(stdin), cmd::DEFAULT_TIMEOUT)
    }

    /// Starts `pouch <args>` in the background.
    pub fn pouch_bg(&self, args: &[&str]) -> Result<Background> {
        Ok(Background::spawn(self.pouch_command(args), None)?)
    }

    /// `pouch <args>` on a pseudo-terminal (interactive tests).
    pub fn pouch_pty(&self, args: &[&str]) -> Result<crate::pty::PtySession> {
        crate::pty::PtySession::spawn(self.pouch_command(args))
    }

    /// `docker <args>` on a pseudo-terminal.
    pub fn docker_pty(&self, args: &[&str]) -> Result<crate::pty::PtySession> {
        crate::pty::PtySession::spawn(self.docker_command(args))
    }

    fn docker_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(docker_cli().unwrap_or_else(|| PathBuf::from("docker")));
        c.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.docker_config())
            .env("HOME", self.client_home())
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        c
    }

    /// Starts the docker CLI in the background.
    pub fn docker_bg(&self, args: &[&str]) -> Result<Background> {
        Ok(Background::spawn(self.docker_command(args), None)?)
    }

    /// `pouch inspect --type container <name>` parsed (the first object of the array).
    #[track_caller]
    pub fn container(&self, name: &str) -> serde_json::Value {
        let o = self.pouch(&["inspect", "--type", "container", name]);
        o.ok();
        let v: serde_json::Value = serde_json::from_str(o.out())
            .unwrap_or_else(|e| panic!("pouch inspect {name}: not JSON ({e}): {o}"));
        match v {
            serde_json::Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
            other => other,
        }
    }

    /// Runs the docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> CmdOutput {
        cmd::run(self.docker_command(args), None, cmd::DEFAULT_TIMEOUT)
    }

    /// Same, killed after `timeout` (for commands that may wait for input, such as the
    /// credential prompt the docker CLI shows when the daemon answers 401).
    pub fn docker_timeout(&self, args: &[&str], timeout: std::time::Duration) -> CmdOutput {
        cmd::run(self.docker_command(args), None, timeout)
    }

    /// Same, with `stdin` fed to it.
    pub fn docker_stdin(&self, args: &[&str], stdin: Vec<u8>) -> CmdOutput {
        cmd::run(self.docker_command(args), Some(stdin), cmd::DEFAULT_TIMEOUT)
    }

    /// `pouch image inspect <name>` parsed (the first object of the JSON array).
    #[track_caller]
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let o = self.pouch(&["image", "inspect", name]);
        o.ok();
        let v: serde_json::Value = serde_json::from_str(o.out())
            .unwrap_or_else(|e| panic!("pouch image inspect {name}: not JSON ({e}): {o}"));
        match v {
            serde_json::Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
            other => other,
        }
    }

    // ---- what is on disk ----

    /// Files under `<home>/content/ingest` (downloads in progress or left behind).
    pub fn ingest_files(&self) -> Vec<PathBuf> {
        list_files(&self.home().join("content/ingest"))
    }

    /// Whether `content/blobs/sha256/<hex>` exists.
    pub fn has_blob(&self, digest: &str) -> bool {
        self.home()
            .join("content/blobs/sha256")
            .join(crate::digest_hex(digest))
            .exists()
    }

    /// Entries of `<home>/snapshots` named `tmp-*` (unfinished layers).
    pub fn tmp_snapshots(&self) -> Vec<PathBuf> {
        self.snapshot_entries()
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("tmp-"))
            })
            .collect()
    }

    /// Every entry of `<home>/snapshots`.
    pub fn snapshot_entries(&self) -> Vec<PathBuf> {
        fs::read_dir(self.home().join("snapshots"))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    }

    /// The unpacked directory of the committed layer with `chain_id`.
    pub fn snapshot_fs(&self, chain_id: &str) -> PathBuf {
        self.home()
            .join("snapshots")
            .join(crate::digest_hex(chain_id))
            .join("fs")
    }
}

impl Daemon {
    /// Removes every container (through the daemon when it runs), then kills what is left
    /// of them (after a test killed the daemon) and unmounts everything below the temp dir,
    /// so nothing outlives the test.
    fn teardown_containers(&mut self) {
        if self.running() {
            let ids = self.pouch(&["ps", "-aq", "--no-trunc"]);
            let ids: Vec<&str> = ids.stdout.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids);
                let _ = self.pouch(&args);
            }
            let _ = self.pouch(&["network", "prune", "-f"]);
        }
        self.stop();
        // The daemon's bridge and firewall table outlive it, as Docker's do; a test's must not.
        let _ = Command::new("ip")
            .args(["link", "del", &self.net.bridge])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.net.table])
            .stderr(Stdio::null())
            .status();
        let containers = self.home().join("containers");
        if let Ok(rd) = fs::read_dir(&containers) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                for ctrl in ["pids", "memory", "cpu,cpuacct", "freezer", "unified", ""] {
                    let procs = Path::new("/sys/fs/cgroup")
                        .join(ctrl)
                        .join("pouch")
                        .join(&id)
                        .join("cgroup.procs");
                    if ctrl == "freezer" {
                        let _ = fs::write(procs.with_file_name("freezer.state"), "THAWED");
                    }
                    for pid in fs::read_to_string(&procs).unwrap_or_default().lines() {
                        if let Some(pid) = pid.trim().parse().ok().and_then(Pid::from_raw) {
                            let _ = kill_process(pid, Signal::KILL);
                        }
                    }
                }
            }
        }
        crate::procs::kill_processes_mentioning(&self.exec_root());
        crate::procs::unmount_below(self.dir.path());
        if self.opts.home.is_some() {
            crate::procs::unmount_below(&self.home());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.teardown_containers();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "---- pouchd log ({}), last {} lines ----",
                self.log_path().display(),
                tail.len()
            );
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// Whether a daemon answers `GET /_ping` with 200 on `sock`.
pub fn ping(sock: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /_ping HTTP/1.1\r\nHost: pouchd\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200")
}

/// Every regular file below `dir` (recursively); empty when `dir` does not exist.
pub fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(list_files(&p)),
            Ok(_) => out.push(p),
            Err(_) => {}
        }
    }
    out
}

/// Every path below `dir` whose file name is `name` (recursively, not following links).
pub fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy() == name {
            out.push(p.clone());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(find_named(&p, name));
        }
    }
    out
}
