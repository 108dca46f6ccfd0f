//! Cold-pull benchmark: a local registry serves a large image of random (incompressible)
//! layers; `pouch pull` fetches it N times, each on a fresh pouchd home, and the run times,
//! median and throughput are printed, with the same figures for `docker pull` and
//! `podman pull` when a Docker daemon or Podman is usable on this machine.
//!
//! Usage: bench-pull [--runs N] [--size-mb MB] [--layers L]
//! (bench/pull.sh builds the release binaries and runs this with POUCH_BIN_DIR set.)

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use pouch_e2e::bench::median;
use pouch_e2e::cmd::{self, CmdOutput};
use pouch_e2e::{fixtures, Daemon, DaemonOptions, Registry, RegistryOptions};

struct Args {
    runs: usize,
    size_mb: usize,
    layers: usize,
}

fn parse_args() -> Result<Args> {
    let f = pouch_e2e::bench::count_flags(
        "bench-pull [--runs N] [--size-mb MB] [--layers L]",
        &[("runs", 5), ("size-mb", 200), ("layers", 5)],
    )?;
    Ok(Args {
        runs: f["runs"],
        size_mb: f["size-mb"],
        layers: f["layers"],
    })
}

fn report(tool: &str, times: &[f64], mb: f64) {
    if times.is_empty() {
        return;
    }
    let m = median(times);
    println!(
        "{tool:>7}: median {m:.2} s, {:.1} MB/s over {} cold pulls",
        mb / m,
        times.len()
    );
}

fn timed(mut c: Command) -> (CmdOutput, f64) {
    c.stdout(std::process::Stdio::null());
    let start = Instant::now();
    let out = cmd::run(c, None, Duration::from_secs(1800));
    (out, start.elapsed().as_secs_f64())
}

fn usable(program: &str, args: &[&str]) -> bool {
    let mut c = Command::new(program);
    c.args(args);
    cmd::run(c, None, Duration::from_secs(20)).success()
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if !pouch_e2e::require_root("bench-pull") || !pouch_e2e::require_registry("bench-pull") {
        bail!("cannot run the benchmark here");
    }
    let Some(bins) = pouch_e2e::require_binaries("bench-pull") else {
        bail!("pouch binaries missing");
    };
    println!("binaries: {}", pouch_e2e::bin_dir().display());

    let t = Instant::now();
    let layer_bytes = args.size_mb * 1_000_000 / args.layers;
    let image = fixtures::random_image(args.layers, layer_bytes, 7);
    let mb = image.blob_bytes() as f64 / 1e6;
    println!(
        "image: {} layers, {mb:.1} MB of blobs (random data, gzip), built in {:.1} s",
        image.layers.len(),
        t.elapsed().as_secs_f64()
    );
    let registry = Registry::start(RegistryOptions::default())?;
    let t = Instant::now();
    registry.push("bench/random", "latest", &image)?;
    println!(
        "pushed to {} in {:.1} s",
        registry.host(),
        t.elapsed().as_secs_f64()
    );
    let name = format!("{}/bench/random:latest", registry.host());

    let mut pouch_times = Vec::new();
    let mut last_log = String::new();
    for run in 1..=args.runs {
        let daemon = Daemon::start(&bins, DaemonOptions::default())?;
        let mut c = Command::new(&bins.pouch);
        c.args(["-H", &daemon.host(), "pull", &name])
            .env("HOME", daemon.client_home());
        let (out, secs) = timed(c);
        if !out.success() {
            bail!("pouch pull failed on run {run}: {out}\n{}", daemon.log());
        }
        let id = daemon.inspect(&name)["Id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if id != image.config_digest {
            bail!("pouch pulled id {id}, expected {}", image.config_digest);
        }
        println!("  pouch run {run}: {secs:.2} s, {:.1} MB/s", mb / secs);
        pouch_times.push(secs);
        daemon.pouch(&["rmi", &name]);
        last_log = daemon.log();
    }

    let phases: Vec<&str> = last_log
        .lines()
        .filter(|l| l.to_lowercase().contains("phase"))
        .collect();
    if phases.is_empty() {
        println!("  (pouchd logged no pull phases)");
    } else {
        println!("  pull phases of the last run (from the pouchd log):");
        for p in phases {
            println!("    {p}");
        }
    }

    let mut docker_times = Vec::new();
    if pouch_e2e::daemon::docker_cli().is_some() && usable("docker", &["info"]) {
        for run in 1..=args.runs {
            let _ = usable("docker", &["rmi", "-f", &name]);
            let mut c = Command::new("docker");
            c.args(["pull", "-q", &name]);
            let (out, secs) = timed(c);
            if !out.success() {
                println!("  docker pull failed: {out}");
                break;
            }
            println!("  docker run {run}: {secs:.2} s, {:.1} MB/s", mb / secs);
            docker_times.push(secs);
        }
        let _ = usable("docker", &["rmi", "-f", &name]);
    } else {
        println!("  docker: no usable Docker daemon on this machine (not compared)");
    }

    let mut podman_times = Vec::new();
    if usable("podman", &["info"]) {
        for run in 1..=args.runs {
            let _ = usable("podman", &["rmi", "-f", &name]);
            let mut c = Command::new("podman");
            c.args(["pull", "-q", "--tls-verify=false", &name]);
            let (out, secs) = timed(c);
            if !out.success() {
                println!("  podman pull failed: {out}");
                break;
            }
            println!("  podman run {run}: {secs:.2} s, {:.1} MB/s", mb / secs);
            podman_times.push(secs);
        }
        let _ = usable("podman", &["rmi", "-f", &name]);
    } else {
        println!("  podman: not installed or not usable (not compared)");
    }

    println!("cold pull of {mb:.1} MB ({} layers):", image.layers.len());
    report("pouch", &pouch_times, mb);
    report("docker", &docker_times, mb);
    report("podman", &podman_times, mb);
    Ok(())
}
