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

mod engines;
mod extras;
mod phases;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use pouch_e2e::bench::median;
use pouch_e2e::cmd::{self, CmdOutput};
use pouch_e2e::procs::{
    daemon_rss, engine_processes, kill, kill_processes_mentioning, kill_with_children, process_mem,
    processes, program_is, unmount_below, Mem,
};
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
    /// `run --rm true` medians on the default bridge and with `--network none`.
    network: Option<(f64, f64)>,
    /// `run --rm true` medians with an init wrapper (`--rich` / `--init`) and without.
    init: Option<(f64, f64)>,
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
    fn network_cost(&self) -> Option<String> {
        self.network
            .map(|(bridge, none)| format!("+{:.0} ms", (bridge - none) * 1000.0))
    }
    fn init_cost(&self) -> Option<String> {
        self.init
            .map(|(with, plain)| format!("{:+.0} ms", (with - plain) * 1000.0))
    }
}

/// What a bridge network adds to `run --rm true`: medians of `runs` runs each way, the two
/// kinds interleaved so drift hits both alike. `engine.run_flags` are not used.
fn network_cost(engine: &Engine, runs: usize, fig: &mut Figures) -> Result<()> {
    let bridge = ["run", "--rm", IMAGE, "true"];
    let none = ["run", "--rm", "--network", "none", IMAGE, "true"];
    let (mut b, mut n) = (Vec::new(), Vec::new());
    for i in 0..runs + 2 {
        for (args, v) in [(&bridge[..], &mut b), (&none[..], &mut n)] {
            let (out, t) = engine.timed(args);
            if !out.success() {
                bail!("{} {} failed: {out}", engine.name, args.join(" "));
            }
            if i >= 2 {
                v.push(t);
            }
        }
    }
    let (mb, mn) = (median(&b), median(&n));
    println!(
        "  network cost: run --rm {IMAGE} true median {mb:.3} s on the bridge, {mn:.3} s with \
         --network none: the bridge adds {:.1} ms ({runs} runs each)",
        (mb - mn) * 1000.0
    );
    fig.network = Some((mb, mn));
    Ok(())
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
        run_flags: vec!["--network".into(), "none".into()],
        rm: vec!["rm", "-f"],
        shim: "pouch-shim",
        daemons: d
            .pid()
            .map(|p| ("pouchd".to_string(), p))
            .into_iter()
            .collect(),
    }
}

use engines::{DockerD, Podman};
use phases::pouch_phases;

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
        "network: the main figures run every engine with --network none (loopback only); \
         the network cost compares run --rm on the default bridge with --network none \
         (docker: its own bridge, --iptables=false)"
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
        let r = measure(&e, &args, &mut pouch)
            .and_then(|()| network_cost(&e, args.runs, &mut pouch))
            .and_then(|()| extras::init_cost(&e, args.runs, &mut pouch));
        if let Err(err) = r {
            bail!("{err:#}\n{}", tail(&d.log(), 30));
        }
    }
    if let Err(err) = extras::pouch_only(&bins, &tar, args.runs) {
        println!("  no initscript/lxcfs figures: {err:#}");
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
    let r = DockerD::start(false).and_then(|dd| {
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
        measure(&e, &args, &mut docker)?;
        extras::init_cost(&e, args.runs, &mut docker)
    });
    if let Err(err) = r {
        println!("  docker not measured (or only in part): {err:#}");
    }
    // The bridge cost needs a dockerd with a bridge (still --iptables=false: Docker's rules
    // would set the host's FORWARD policy to DROP).
    let r = DockerD::start(true).and_then(|dd| {
        let e = dd.engine();
        e.import(&tar)?;
        network_cost(&e, args.runs, &mut docker)
    });
    if let Err(err) = r {
        println!("  docker network cost not measured: {err:#}");
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
        measure(&e, &args, &mut podman)?;
        extras::init_cost(&e, args.runs, &mut podman)
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
        ("bridge vs --network none".into(), Figures::network_cost),
        ("init (--rich; others --init)".into(), Figures::init_cost),
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
