//! Container benchmark: `pouch run --rm busybox true` latency (median, min, max over N runs
//! after 2 warm-ups), the time to start 50 detached containers one after the other, the
//! engine's memory per running container (RSS and PSS of each container's engine process:
//! `pouch-shim`, Docker's `containerd-shim-runc-v2`, Podman's `conmon`) and of the engine
//! daemon before and after, and where pouchd's time goes on the run path (from its debug log).
//! Docker (a private `dockerd` on temporary directories) and Podman (temporary `--root` and
//! `--runroot`) are measured the same way in the same run when they are usable here; their
//! failures show as `n/a` and never stop Pouch's figures.
//!
//! Usage: bench-run [--runs N] [--containers N]
//! (bench/run.sh builds the release binaries and runs this with POUCH_BIN_DIR set.)

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use pouch_e2e::bench::median;
use pouch_e2e::cmd::{self, CmdOutput};
use pouch_e2e::{fixtures, Binaries, Daemon, DaemonOptions};
use rustix::process::{kill_process, Pid, Signal};

/// The image every engine runs, imported from the same rootfs tar.
const IMAGE: &str = "busybox:latest";
/// Deadline of one client command.
const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline of the `rm -f` of all the detached containers.
const RM_TIMEOUT: Duration = Duration::from_secs(120);
/// `pouch run --rm` runs measured with the debug daemon for the phase breakdown.
const PHASE_RUNS: usize = 10;

struct Args {
    runs: usize,
    containers: usize,
}

fn parse_args() -> Result<Args> {
    let f = pouch_e2e::bench::count_flags(
        "bench-run [--runs N] [--containers N]",
        &[("runs", 20), ("containers", 50)],
    )?;
    Ok(Args {
        runs: f["runs"],
        containers: f["containers"],
    })
}

// ---- statistics and formatting ----

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

fn secs(s: f64) -> String {
    format!("{s:.3} s")
}

fn kib(k: f64) -> String {
    format!("{k:.0} KiB")
}

// ---- engines ----

/// One container engine as the benchmark drives it: its CLI, the flags every `run` gets, how
/// it force-removes running containers, the name of its per-container process, and its
/// daemons (name, pid) whose RSS is reported.
struct Engine {
    name: &'static str,
    program: PathBuf,
    global: Vec<String>,
    env: Vec<(String, String)>,
    env_remove: Vec<&'static str>,
    run_flags: Vec<String>,
    rm: Vec<&'static str>,
    shim: &'static str,
    daemons: Vec<(String, u32)>,
}

impl Engine {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.global).args(args);
        for k in &self.env_remove {
            c.env_remove(k);
        }
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    fn run(&self, args: &[&str]) -> CmdOutput {
        cmd::run(self.command(args), None, CMD_TIMEOUT)
    }

    /// Runs a command and returns its output and wall time in seconds.
    fn timed(&self, args: &[&str]) -> (CmdOutput, f64) {
        self.timed_within(args, CMD_TIMEOUT)
    }

    fn timed_within(&self, args: &[&str], timeout: Duration) -> (CmdOutput, f64) {
        let c = self.command(args);
        let start = Instant::now();
        let out = cmd::run(c, None, timeout);
        (out, start.elapsed().as_secs_f64())
    }

    /// `run <flags> <extra...>`.
    fn run_args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["run"];
        a.extend(self.run_flags.iter().map(String::as_str));
        a.extend_from_slice(extra);
        a
    }

    fn import(&self, tar: &Path) -> Result<()> {
        let tar = tar.display().to_string();
        let out = self.run(&["import", "--change", r#"CMD ["sh"]"#, &tar, IMAGE]);
        if !out.success() {
            bail!("{} import of the busybox rootfs failed: {out}", self.name);
        }
        Ok(())
    }
}

/// A line of the summary table: its label and how to get an engine's cell.
type Row = (String, fn(&Figures) -> Option<String>);

/// A process's memory in KiB.
#[derive(Clone, Copy)]
struct Mem {
    rss: u64,
    pss: u64,
}

/// What one engine measured; `None` shows as `n/a`.
#[derive(Default)]
struct Figures {
    run_rm: Vec<f64>,
    started: Option<(usize, f64)>,
    /// Per engine process of the running containers, and how many containers they serve.
    shims: Option<(Vec<Mem>, usize)>,
    /// Summed RSS of the engine's daemons (KiB) before and after starting the containers.
    daemon_rss: Option<(u64, u64)>,
    removed: Option<f64>,
}

impl Figures {
    fn run_median(&self) -> Option<String> {
        (!self.run_rm.is_empty()).then(|| secs(median(&self.run_rm)))
    }
    fn run_min_max(&self) -> Option<String> {
        (!self.run_rm.is_empty()).then(|| {
            let (lo, hi) = min_max(&self.run_rm);
            format!("{lo:.3}/{hi:.3}")
        })
    }
    fn start_total(&self) -> Option<String> {
        self.started.map(|(n, t)| format!("{} ({n})", secs(t)))
    }
    fn start_each(&self) -> Option<String> {
        self.started.map(|(n, t)| secs(t / n as f64))
    }
    /// Mean per container (total over the engine processes / containers).
    fn per_container(&self, f: impl Fn(&Mem) -> u64) -> Option<String> {
        let (procs, n) = self.shims.as_ref()?;
        (*n > 0 && !procs.is_empty())
            .then(|| kib(procs.iter().map(&f).sum::<u64>() as f64 / *n as f64))
    }
    fn daemon(&self) -> Option<String> {
        self.daemon_rss
            .map(|(b, a)| format!("{}>{}", b / 1024, a / 1024))
    }
    fn removed(&self) -> Option<String> {
        self.removed.map(secs)
    }
}

/// Runs every measurement on `engine`, printing as it goes and filling `fig`; an error stops
/// this engine's remaining measurements (what was measured stays).
fn measure(engine: &Engine, args: &Args, fig: &mut Figures) -> Result<()> {
    let name = engine.name;
    let run_rm = engine.run_args(&["--rm", IMAGE, "true"]);
    for _ in 0..2 {
        let (out, _) = engine.timed(&run_rm);
        if !out.success() {
            bail!("{name} run --rm {IMAGE} true failed: {out}");
        }
    }
    for _ in 0..args.runs {
        let (out, t) = engine.timed(&run_rm);
        if !out.success() {
            bail!("{name} run --rm {IMAGE} true failed: {out}");
        }
        fig.run_rm.push(t);
    }
    let (lo, hi) = min_max(&fig.run_rm);
    println!(
        "  run --rm {IMAGE} true: median {:.3} s (min {lo:.3}, max {hi:.3}) over {} runs",
        median(&fig.run_rm),
        fig.run_rm.len()
    );
    println!(
        "    each: {}",
        fig.run_rm
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    );

    let daemon_before = daemon_rss(&engine.daemons);
    let run_d = engine.run_args(&["-d", IMAGE, "sleep", "1000"]);
    let mut ids = Vec::new();
    let mut failure = None;
    let start = Instant::now();
    for i in 0..args.containers {
        let (out, _) = engine.timed(&run_d);
        let id = out.out().lines().last().unwrap_or("").trim().to_string();
        if !out.success() || id.is_empty() {
            failure = Some(format!("{name} run -d (container {}) failed: {out}", i + 1));
            break;
        }
        ids.push(id);
    }
    let total = start.elapsed().as_secs_f64();
    if failure.is_none() {
        fig.started = Some((ids.len(), total));
        println!(
            "  {} x run -d {IMAGE} sleep 1000 (one after the other): {total:.2} s, {:.3} s per container",
            ids.len(),
            total / ids.len() as f64
        );
        // A detached container's engine process may still be settling: give it a moment.
        std::thread::sleep(Duration::from_millis(500));
        let pids = engine_processes(engine.shim, &ids);
        let mems: Vec<Mem> = pids.iter().filter_map(|&p| process_mem(p)).collect();
        if mems.is_empty() {
            println!(
                "  no {} process found for the running containers",
                engine.shim
            );
        } else {
            print_mem(engine.shim, &mems, ids.len());
            fig.shims = Some((mems, ids.len()));
        }
        let daemon_after = daemon_rss(&engine.daemons);
        if let (Some(b), Some(a)) = (daemon_before, daemon_after) {
            let names: Vec<&str> = engine.daemons.iter().map(|(n, _)| n.as_str()).collect();
            println!(
                "  daemon RSS ({}): {} before, {} with {} containers running",
                names.join(" + "),
                kib(b as f64),
                kib(a as f64),
                ids.len()
            );
            fig.daemon_rss = Some((b, a));
        } else if engine.daemons.is_empty() {
            println!("  daemon RSS: no daemon (daemonless engine)");
        }
    }
    if !ids.is_empty() {
        let mut rm = engine.rm.clone();
        rm.extend(ids.iter().map(String::as_str));
        let (out, t) = engine.timed_within(&rm, RM_TIMEOUT);
        if out.success() {
            println!(
                "  {} of the {} containers: {t:.2} s",
                engine.rm.join(" "),
                ids.len()
            );
            if failure.is_none() {
                fig.removed = Some(t);
            }
        } else {
            println!("  {name} {} failed: {}", engine.rm.join(" "), short(&out));
            kill_containers(engine.shim, &ids);
        }
    }
    match failure {
        Some(f) => bail!(f),
        None => Ok(()),
    }
}

fn print_mem(shim: &str, mems: &[Mem], containers: usize) {
    let line = |what: &str, f: &dyn Fn(&Mem) -> u64| {
        let v: Vec<f64> = mems.iter().map(|m| f(m) as f64).collect();
        let (lo, hi) = min_max(&v);
        let sum: f64 = v.iter().sum();
        println!(
            "    {what}: mean {:.0} KiB, min {lo:.0}, max {hi:.0} per process; {:.0} KiB per container",
            sum / v.len() as f64,
            sum / containers as f64
        );
    };
    println!(
        "  memory of the {} {shim} processes of the {containers} containers:",
        mems.len()
    );
    line("RSS", &|m| m.rss);
    line("PSS", &|m| m.pss);
}

// ---- /proc ----

fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn process_mem(pid: u32) -> Option<Mem> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some(Mem {
        rss: kib_field(&status, "VmRSS:")?,
        pss: kib_field(&rollup, "Pss:")?,
    })
}

fn daemon_rss(daemons: &[(String, u32)]) -> Option<u64> {
    if daemons.is_empty() {
        return None;
    }
    daemons
        .iter()
        .map(|(_, pid)| process_mem(*pid).map(|m| m.rss))
        .sum()
}

/// (pid, argv) of every process.
fn processes() -> Vec<(u32, Vec<String>)> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let raw = fs::read(e.path().join("cmdline")).ok()?;
            let argv = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>();
            (!argv.is_empty()).then_some((pid, argv))
        })
        .collect()
}

fn program_is(argv: &[String], name: &str) -> bool {
    argv.first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == name)
}

/// Pids of the `shim` processes whose command line names one of the containers `ids`.
fn engine_processes(shim: &str, ids: &[String]) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, argv)| {
            program_is(argv, shim) && argv.iter().any(|a| ids.iter().any(|id| a.contains(id)))
        })
        .map(|(pid, _)| pid)
        .collect()
}

fn kill(pid: u32) {
    if let Some(pid) = Pid::from_raw(pid as i32) {
        let _ = kill_process(pid, Signal::KILL);
    }
}

/// The parent pid of `pid`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// SIGKILLs `pids` and their children (a shim's child is its container's first process).
fn kill_with_children(pids: &[u32]) {
    for (pid, _) in processes() {
        if parent_of(pid).is_some_and(|p| pids.contains(&p)) {
            kill(pid);
        }
    }
    for &pid in pids {
        kill(pid);
    }
}

/// SIGKILLs every process whose command line mentions `path`, and their children.
fn kill_processes_mentioning(path: &Path) {
    let needle = path.display().to_string();
    let pids: Vec<u32> = processes()
        .into_iter()
        .filter(|(_, argv)| argv.iter().any(|a| a.contains(&needle)))
        .map(|(pid, _)| pid)
        .collect();
    kill_with_children(&pids);
}

/// After an engine failed to remove them: SIGKILLs what is left of the containers `ids`
/// (their engine processes and children, then every process of a cgroup named for one of
/// them, as engines name them: `pouch/<id>`, `docker/<id>`, `libpod_parent/libpod-<id>`) and
/// removes those cgroups, so no benchmark container outlives the run.
fn kill_containers(shim: &str, ids: &[String]) {
    kill_with_children(&engine_processes(shim, ids));
    let mut cgroups = Vec::new();
    let controllers = fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten();
    for ctrl in controllers {
        let mut dirs = vec![(ctrl.path(), 0)];
        while let Some((dir, depth)) = dirs.pop() {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                if !e.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                if ids.iter().any(|id| name.contains(id.as_str())) {
                    cgroups.push(e.path());
                } else if depth < 2 {
                    dirs.push((e.path(), depth + 1));
                }
            }
        }
    }
    for cg in &cgroups {
        let _ = fs::write(cg.join("freezer.state"), "THAWED");
        let procs = fs::read_to_string(cg.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse().ok()) {
            kill(pid);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    for cg in &cgroups {
        let _ = fs::remove_dir(cg);
    }
    println!(
        "  killed what was left of the containers ({} cgroups)",
        cgroups.len()
    );
}

/// A failed command's message, without its (long) command line.
fn short(out: &CmdOutput) -> String {
    let code = out
        .code
        .map(|c| format!("exit {c}"))
        .unwrap_or_else(|| "killed".into());
    let timed_out = if out.timed_out { ", timed out" } else { "" };
    format!("{code}{timed_out}: {}", tail(out.stderr.trim(), 3))
}

/// Unmounts everything mounted below `dir`, deepest first.
fn unmount_below(dir: &Path) {
    let root = dir.display().to_string();
    for _ in 0..3 {
        let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&root))
            .collect();
        if mounts.is_empty() {
            return;
        }
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = pouch_sys::mount::unmount(Path::new(&m));
        }
    }
}

fn stop_child(child: &mut Child, timeout: Duration) {
    if let Ok(None) = child.try_wait() {
        if let Some(pid) = Pid::from_raw(child.id() as i32) {
            let _ = kill_process(pid, Signal::TERM);
        }
        if cmd::wait_child(child, timeout).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn find_program(candidates: &[&str], name: &str) -> Option<PathBuf> {
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    candidates
        .iter()
        .map(PathBuf::from)
        .chain(on_path)
        .find(|p| p.is_file())
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---- pouch ----

fn pouch_engine(bins: &Binaries, d: &Daemon) -> Engine {
    Engine {
        name: "pouch",
        program: bins.pouch.clone(),
        global: vec!["-H".into(), d.host()],
        env: vec![("HOME".into(), d.client_home().display().to_string())],
        env_remove: vec!["POUCH_HOST"],
        run_flags: Vec::new(),
        rm: vec!["rm", "-f"],
        shim: "pouch-shim",
        daemons: d
            .pid()
            .map(|p| ("pouchd".to_string(), p))
            .into_iter()
            .collect(),
    }
}

// ---- docker ----

/// A private dockerd (and the containerd it supervises) on temporary directories, stopped and
/// cleaned up on drop.
struct DockerD {
    dir: tempfile::TempDir,
    child: Child,
    cli: PathBuf,
}

impl DockerD {
    fn start() -> Result<DockerD> {
        let dockerd = find_program(&["/usr/bin/dockerd", "/usr/sbin/dockerd"], "dockerd")
            .context("dockerd is not installed")?;
        let cli = pouch_e2e::daemon::docker_cli().context("the docker CLI is not installed")?;
        let dir = tempfile::Builder::new()
            .prefix("pouch-bench-docker-")
            .tempdir()
            .context("docker temp dir")?;
        let p = dir.path();
        for d in ["data", "exec", "config"] {
            fs::create_dir_all(p.join(d))?;
        }
        let log = fs::File::create(p.join("dockerd.log"))?;
        let child = Command::new(&dockerd)
            .arg("--data-root")
            .arg(p.join("data"))
            .arg("--exec-root")
            .arg(p.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", p.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(p.join("docker.pid"))
            .args(["--iptables=false", "--bridge=none"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot run {}", dockerd.display()))?;
        let mut d = DockerD { dir, child, cli };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = d.child.try_wait() {
                bail!(
                    "dockerd exited with {status} before answering /_ping:\n{}",
                    tail(&d.log(), 10)
                );
            }
            if pouch_e2e::daemon::ping(&d.socket()) {
                return Ok(d);
            }
            if Instant::now() >= deadline {
                bail!(
                    "dockerd did not answer /_ping within 30 s:\n{}",
                    tail(&d.log(), 10)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    fn engine(&self) -> Engine {
        let p = self.dir.path();
        let mut daemons = vec![("dockerd".to_string(), self.child.id())];
        // The containerd dockerd supervises (its config lives in our exec root); a system
        // containerd, when dockerd uses one, is not ours to count.
        if let Some((pid, _)) = processes().into_iter().find(|(_, argv)| {
            program_is(argv, "containerd")
                && argv.iter().any(|a| a.starts_with(&*p.to_string_lossy()))
        }) {
            daemons.push(("containerd".to_string(), pid));
        }
        Engine {
            name: "docker",
            program: self.cli.clone(),
            global: Vec::new(),
            env: vec![
                (
                    "DOCKER_HOST".into(),
                    format!("unix://{}", self.socket().display()),
                ),
                (
                    "DOCKER_CONFIG".into(),
                    p.join("config").display().to_string(),
                ),
                ("DOCKER_CLI_HINTS".into(), "false".into()),
            ],
            env_remove: vec![
                "DOCKER_CONTEXT",
                "DOCKER_API_VERSION",
                "DOCKER_TLS_VERIFY",
                "DOCKER_CERT_PATH",
            ],
            run_flags: vec!["--network".into(), "none".into()],
            rm: vec!["rm", "-f"],
            shim: "containerd-shim-runc-v2",
            daemons,
        }
    }
}

impl Drop for DockerD {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(20));
        kill_processes_mentioning(self.dir.path());
        unmount_below(self.dir.path());
    }
}

// ---- podman ----

/// Podman on a temporary `--root`, `--runroot`, `--tmpdir` and network config dir, so the
/// machine's store is not touched; what is left is removed on drop.
struct Podman {
    dir: tempfile::TempDir,
    program: PathBuf,
    ulimits: Vec<String>,
}

impl Podman {
    fn new() -> Result<Podman> {
        let program =
            find_program(&["/usr/bin/podman"], "podman").context("podman is not installed")?;
        let dir = tempfile::Builder::new()
            .prefix("pouch-bench-podman-")
            .tempdir()
            .context("podman temp dir")?;
        for d in ["root", "runroot", "tmp", "net"] {
            fs::create_dir_all(dir.path().join(d))?;
        }
        Ok(Podman {
            dir,
            program,
            ulimits: Vec::new(),
        })
    }

    fn engine(&self) -> Engine {
        let p = self.dir.path();
        let path = |d: &str| p.join(d).display().to_string();
        let mut run_flags = vec!["--network".to_string(), "none".to_string()];
        run_flags.extend(self.ulimits.iter().cloned());
        Engine {
            name: "podman",
            program: self.program.clone(),
            global: vec![
                "--root".into(),
                path("root"),
                "--runroot".into(),
                path("runroot"),
                "--tmpdir".into(),
                path("tmp"),
                "--network-config-dir".into(),
                path("net"),
                // Same cgroup set-up and runtime as pouchd and dockerd here.
                "--cgroup-manager".into(),
                "cgroupfs".into(),
                "--runtime".into(),
                "runc".into(),
                "--events-backend".into(),
                "file".into(),
            ],
            env: Vec::new(),
            env_remove: Vec::new(),
            run_flags,
            // Without `-t 0` podman's `rm -f` first waits 10 s for SIGTERM (which `sleep` as
            // pid 1 ignores); docker's and pouch's `rm -f` send SIGKILL at once.
            rm: vec!["rm", "-f", "-t", "0"],
            shim: "conmon",
            daemons: Vec::new(),
        }
    }

    /// Finds run flags Podman's containers can start with here: its default rlimits
    /// (nofile 1048576) are above this process's hard limits, which only CAP_SYS_RESOURCE may
    /// raise; the fallback keeps this process's own limits.
    fn pick_ulimits(&mut self) -> Result<()> {
        let limits = fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let own = |key: &str| -> Option<String> {
            let l = limits.lines().find(|l| l.starts_with(key))?;
            let v: Vec<&str> = l[key.len()..].split_whitespace().collect();
            Some(format!("{}:{}", v.first()?, v.get(1)?))
        };
        let nofile = own("Max open files").unwrap_or_else(|| "1024:4096".into());
        let nproc = own("Max processes").unwrap_or_else(|| "4096:4096".into());
        let candidates: Vec<Vec<String>> = vec![
            Vec::new(),
            vec![
                "--ulimit".into(),
                format!("nofile={nofile}"),
                "--ulimit".into(),
                format!("nproc={nproc}"),
            ],
            vec![
                "--ulimit".into(),
                format!("nofile={nofile}"),
                "--ulimit".into(),
                "nproc=32768:32768".into(),
            ],
            vec![
                "--ulimit".into(),
                format!("nofile={nofile}"),
                "--ulimit".into(),
                "nproc=4096:4096".into(),
            ],
        ];
        let mut last = None;
        for c in candidates {
            self.ulimits = c;
            let e = self.engine();
            let out = e.run(&e.run_args(&["--rm", IMAGE, "true"]));
            if out.success() {
                if !self.ulimits.is_empty() {
                    println!(
                        "  podman's default rlimits are refused here (no CAP_SYS_RESOURCE): \
                         its containers run with {}",
                        self.ulimits.join(" ")
                    );
                }
                return Ok(());
            }
            last = Some(out);
        }
        match last {
            Some(out) => bail!("podman run --rm {IMAGE} true failed: {out}"),
            None => bail!("podman run --rm {IMAGE} true failed"),
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let e = self.engine();
        let _ = e.run(&["rm", "-fa", "-t", "0"]);
        let _ = e.run(&["rmi", "-fa"]);
        kill_processes_mentioning(self.dir.path());
        unmount_below(self.dir.path());
    }
}

// ---- where pouchd's time goes ----

/// One line of pouchd's debug log that the phase breakdown uses.
struct LogLine {
    at: f64,
    text: String,
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp as tracing prints it
/// (`2026-11-27T22:58:40.302462Z`).
fn parse_utc(ts: &str) -> Option<f64> {
    let ts = ts.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    let s = t.next()?.parse::<f64>().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s)
}

/// A `Duration` as Debug prints it (`69.8ms`, `43.3µs`, `1.2s`), in seconds.
fn parse_elapsed(v: &str) -> Option<f64> {
    for (suffix, scale) in [
        ("ms", 1e-3),
        ("µs", 1e-6),
        ("us", 1e-6),
        ("ns", 1e-9),
        ("s", 1.0),
    ] {
        if let Some(n) = v.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * scale);
        }
    }
    None
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    line[start..].split([' ', '}']).next()
}

/// The phases of one `pouch run --rm` in milliseconds, from the client's start and end
/// (epoch seconds) and the debug lines pouchd logged meanwhile.
fn phases(t0: f64, t1: f64, log: &[LogLine]) -> Option<Vec<(&'static str, f64)>> {
    let answered = |path_end: &str| {
        log.iter().find_map(|l| {
            let path = field(&l.text, "path")?;
            (l.text.contains("answered") && path.ends_with(path_end))
                .then_some(())
                .and_then(|_| parse_elapsed(field(&l.text, "elapsed")?))
                .map(|e| (l.at - e, l.at))
        })
    };
    let (create_begin, create_end) = answered("/containers/create")?;
    let (start_begin, start_end) = answered("/start")?;
    let rc = log.iter().find(|l| l.text.contains("runtime create"))?;
    let rc_ms: f64 = field(&rc.text, "ms")?.parse().ok()?;
    let shim_begin = rc.at - rc_ms / 1000.0;
    let spec = log
        .iter()
        .find(|l| l.text.contains("generated the OCI spec"))
        .map(|l| l.at);
    let ms = |a: f64, b: f64| (b - a) * 1000.0;
    let mut p = vec![
        ("CLI start -> create request", ms(t0, create_begin)),
        ("POST /containers/create", ms(create_begin, create_end)),
        (
            "attach + wait requests (client round trips)",
            ms(create_end, start_begin),
        ),
    ];
    match spec {
        Some(s) if s >= start_begin && s <= shim_begin => {
            p.push(("start: mount check + OCI spec", ms(start_begin, s)));
            p.push((
                "start: config.json, state dir, leftover runtime delete",
                ms(s, shim_begin),
            ));
        }
        _ => p.push((
            "start: spec, config.json, leftover runtime delete",
            ms(start_begin, shim_begin),
        )),
    }
    p.push(("start: shim spawn + runc create", rc_ms));
    p.push((
        "start: runc start + state commit + event",
        ms(rc.at, start_end),
    ));
    p.push((
        "exit, runc delete, removal, wait answer, CLI exit",
        ms(start_end, t1),
    ));
    p.push(("total (client wall time)", ms(t0, t1)));
    Some(p)
}

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Runs `pouch run --rm` PHASE_RUNS times on a pouchd started with `--debug` and prints the
/// median of each phase.
fn pouch_phases(bins: &Binaries, tar: &Path) -> Result<()> {
    let d = Daemon::start(
        bins,
        DaemonOptions {
            debug: true,
            env: vec![(
                "POUCHD_LOG".into(),
                "info,pouchd=debug,pouch_engine=debug,pouch_runtime=debug".into(),
            )],
            ..DaemonOptions::default()
        },
    )?;
    let e = pouch_engine(bins, &d);
    e.import(tar)?;
    let args = e.run_args(&["--rm", IMAGE, "true"]);
    if !e.run(&args).success() {
        bail!(
            "pouch run --rm on the debug daemon failed:\n{}",
            tail(&d.log(), 20)
        );
    }
    let mut all: Vec<Vec<(&'static str, f64)>> = Vec::new();
    for _ in 0..PHASE_RUNS {
        let offset = d.log().len();
        let t0 = epoch_now();
        let out = e.run(&args);
        let t1 = epoch_now();
        if !out.success() {
            bail!("pouch run --rm on the debug daemon failed: {out}");
        }
        let log = d.log();
        let lines: Vec<LogLine> = log[offset.min(log.len())..]
            .lines()
            .filter_map(|l| {
                let at = parse_utc(l.split_whitespace().next()?)?;
                Some(LogLine {
                    at,
                    text: l.to_string(),
                })
            })
            .collect();
        match phases(t0, t1, &lines) {
            Some(p) => all.push(p),
            None => bail!(
                "pouchd's debug log lacks the run's request lines:\n{}",
                lines
                    .iter()
                    .map(|l| l.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }
    println!(
        "  where the time goes (pouchd --debug log + client clock, median of {PHASE_RUNS} runs of \
         `pouch run --rm {IMAGE} true`):"
    );
    for (i, (label, _)) in all[0].iter().enumerate() {
        let v: Vec<f64> = all
            .iter()
            .filter_map(|p| p.get(i).filter(|(l, _)| l == label).map(|(_, v)| *v))
            .collect();
        println!("    {:>7.1} ms  {label}", median(&v));
    }
    Ok(())
}

// ---- main ----

fn version_line(mut c: Command) -> String {
    c.stdin(Stdio::null());
    let out = cmd::run(c, None, Duration::from_secs(20));
    out.out().lines().next().unwrap_or("?").trim().to_string()
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if !pouch_e2e::require_root("bench-run") {
        bail!("cannot run the benchmark here");
    }
    let Some(bins) = pouch_e2e::require_binaries("bench-run") else {
        bail!("pouch binaries missing");
    };
    let dir = pouch_e2e::bin_dir();
    for b in ["pouch-shim", "pouch-init"] {
        if !dir.join(b).is_file() {
            bail!(
                "{} not found next to pouchd (build it: cargo build --release -p {b})",
                dir.join(b).display()
            );
        }
    }
    let began = Instant::now();
    println!("binaries: {}", dir.display());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mut runc = Command::new("runc");
    runc.arg("--version");
    println!(
        "host: linux {}, {cpus} cpus; {}",
        kernel.trim(),
        version_line(runc)
    );
    println!(
        "network: no engine gets a network: pouch's containers get their own network namespace \
         with loopback only (pouch has no bridge yet); docker and podman run with --network none \
         (loopback only) for the same set-up"
    );
    println!(
        "image: {IMAGE} imported into each engine from the same rootfs tar (busybox-static, \
         CMD [\"sh\"]); runs: {} after 2 warm-ups; detached containers: {}",
        args.runs, args.containers
    );
    let work = tempfile::Builder::new()
        .prefix("pouch-bench-run-")
        .tempdir()
        .context("temp dir")?;
    let tar = work.path().join("busybox-rootfs.tar");
    fs::write(&tar, fixtures::busybox_rootfs_tar()).context("write the busybox rootfs tar")?;

    // Pouch: errors here are fatal, it is what the benchmark is for.
    println!("pouch (pouchd, runc, overlay):");
    let mut pouch = Figures::default();
    {
        let d = Daemon::start(&bins, DaemonOptions::default())?;
        let e = pouch_engine(&bins, &d);
        e.import(&tar)?;
        let r = measure(&e, &args, &mut pouch);
        if let Err(err) = r {
            bail!("{err:#}\n{}", tail(&d.log(), 30));
        }
    }
    if let Err(err) = pouch_phases(&bins, &tar) {
        println!("  no phase breakdown: {err:#}");
    }

    // Docker: a private dockerd.
    let mut docker = Figures::default();
    println!("docker:");
    if Path::new("/var/run/docker.sock").exists()
        && pouch_e2e::daemon::ping(Path::new("/var/run/docker.sock"))
    {
        println!("  (a Docker daemon runs on /var/run/docker.sock; it is left alone)");
    }
    let r = DockerD::start().and_then(|dd| {
        let e = dd.engine();
        let v = e.run(&["version", "--format", "{{.Server.Version}}"]);
        let info = e.run(&[
            "info",
            "--format",
            "{{.Driver}}, default runtime {{.DefaultRuntime}}",
        ]);
        println!(
            "  private dockerd {} ({}), containers with --network none",
            v.out(),
            info.out()
        );
        e.import(&tar)?;
        measure(&e, &args, &mut docker)
    });
    if let Err(err) = r {
        println!("  docker not measured (or only in part): {err:#}");
    }

    // Podman: temporary storage.
    let mut podman = Figures::default();
    println!("podman:");
    let r = Podman::new().and_then(|mut pm| {
        let e = pm.engine();
        let mut ver = Command::new(&e.program);
        ver.arg("--version");
        println!(
            "  {} on temporary storage, runc, cgroupfs, containers with --network none",
            version_line(ver)
        );
        e.import(&tar)?;
        pm.pick_ulimits()?;
        let e = pm.engine();
        measure(&e, &args, &mut podman)
    });
    if let Err(err) = r {
        println!("  podman not measured (or only in part): {err:#}");
    }

    let n = args.containers;
    let rows: Vec<Row> = vec![
        ("run --rm true (median)".into(), Figures::run_median),
        ("run --rm true (min/max s)".into(), Figures::run_min_max),
        (format!("{n} x run -d (total)"), Figures::start_total),
        (format!("{n} x run -d (per container)"), Figures::start_each),
        ("per-container RSS".into(), |f| f.per_container(|m| m.rss)),
        ("per-container PSS".into(), |f| f.per_container(|m| m.pss)),
        ("daemon RSS MiB (before>after)".into(), Figures::daemon),
        (format!("rm -f {n} (total)"), Figures::removed),
    ];
    println!();
    println!("{:<32}{:<14}{:<14}{:<14}", "", "pouch", "docker", "podman");
    for (label, f) in rows {
        let cell = |fig: &Figures| f(fig).unwrap_or_else(|| "n/a".into());
        println!(
            "{label:<32}{:<14}{:<14}{:<14}",
            cell(&pouch),
            cell(&docker),
            cell(&podman)
        );
    }
    println!(
        "(per-container memory: the engine's process per container: pouch-shim, \
         containerd-shim-runc-v2, conmon; daemon: pouchd, dockerd + containerd, podman has none)"
    );
    println!("benchmark took {:.0} s", began.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tracing_timestamps_and_durations() {
        assert_eq!(parse_utc("1970-01-02T00:00:01.5Z"), Some(86_401.5));
        let t = parse_utc("2026-11-27T22:58:40.302462Z").unwrap();
        let date = civil_date(t);
        assert_eq!(date, (2026, 11, 27));
        assert_eq!(parse_elapsed("69.5ms"), Some(0.0695));
        assert!((parse_elapsed("43.344µs").unwrap() - 43.344e-6).abs() < 1e-12);
        assert_eq!(parse_elapsed("1.25s"), Some(1.25));
        assert_eq!(parse_elapsed("fast"), None);
    }

    /// Civil date of epoch seconds, counted the slow way, to check `parse_utc`.
    fn civil_date(t: f64) -> (i64, i64, i64) {
        let mut days = (t / 86_400.0).floor() as i64;
        let mut y = 1970;
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        while days >= if leap(y) { 366 } else { 365 } {
            days -= if leap(y) { 366 } else { 365 };
            y += 1;
        }
        let months = [
            31,
            if leap(y) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut m = 0;
        while days >= months[m] {
            days -= months[m];
            m += 1;
        }
        (y, m as i64 + 1, days + 1)
    }

    #[test]
    fn phases_from_a_debug_log() {
        let raw = "\
2026-11-27T22:58:40.102893Z DEBUG pouch_engine::containers::create: container created id=4ef9 name=b
2026-11-27T22:58:40.102965Z DEBUG request{method=POST path=/v1.44/containers/create}: pouchd::router::version: answered status=201 elapsed=1.226885ms
2026-11-27T22:58:40.103382Z DEBUG request{method=POST path=/v1.44/containers/4ef9/attach}: pouchd::router::version: answered status=101 elapsed=39.629µs
2026-11-27T22:58:40.103602Z DEBUG request{method=POST path=/v1.44/containers/4ef9/wait}: pouchd::router::version: answered status=200 elapsed=19.589µs
2026-11-27T22:58:40.152395Z DEBUG request{method=POST path=/v1.44/containers/4ef9/start}: pouch_engine::containers::start: runtime create id=4ef9 ms=43
2026-11-27T22:58:40.159864Z DEBUG request{method=POST path=/v1.44/containers/4ef9/start}: pouchd::router::version: answered status=204 elapsed=56.093125ms";
        let log: Vec<LogLine> = raw
            .lines()
            .map(|l| LogLine {
                at: parse_utc(l.split_whitespace().next().unwrap()).unwrap(),
                text: l.to_string(),
            })
            .collect();
        let t0 = parse_utc("2026-11-27T22:58:40.098000Z").unwrap();
        let t1 = parse_utc("2026-11-27T22:58:40.190000Z").unwrap();
        let p = phases(t0, t1, &log).expect("phases");
        let get = |label: &str| p.iter().find(|(l, _)| *l == label).unwrap().1;
        assert!((get("POST /containers/create") - 1.226885).abs() < 0.01);
        assert_eq!(get("start: shim spawn + runc create"), 43.0);
        assert!((get("total (client wall time)") - 92.0).abs() < 0.01);
        // The parts add up to the whole.
        let parts: f64 = p[..p.len() - 1].iter().map(|(_, v)| v).sum();
        assert!((parts - 92.0).abs() < 0.01, "{p:?}");
        assert!(phases(t0, t1, &log[..2]).is_none());
    }

    #[test]
    fn reads_proc() {
        assert_eq!(
            kib_field("Name:\tx\nVmRSS:\t  1234 kB\n", "VmRSS:"),
            Some(1234)
        );
        assert_eq!(kib_field("Pss_Anon: 5 kB\nPss: 7 kB\n", "Pss:"), Some(7));
        let me = std::process::id();
        assert_eq!(
            parent_of(me),
            Some(rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32))
        );
        assert!(process_mem(me).is_some_and(|m| m.rss > 0 && m.pss > 0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
