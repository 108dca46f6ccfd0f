//! What Pouch's own features add to `run --rm true`: an init in front of the command
//! (`--rich`, dumb-init mode; Docker's and Podman's nearest is `--init`), an initscript run
//! before the command, and lxcfs's /proc files (`--enableLxcfs`, on a daemon started with
//! an lxcfs of the benchmark's own). Medians of interleaved runs, so drift hits both alike.

use anyhow::{bail, Result};
use pouch_e2e::lxcfs::Lxcfs;
use pouch_e2e::{Binaries, Daemon, DaemonOptions};

use pouch_e2e::bench::median;

use super::{pouch_engine, Engine, Figures, IMAGE};

/// Medians of `run --rm <plain> IMAGE true` and `run --rm <with> IMAGE true`, interleaved,
/// after two warm-ups each.
pub fn interleaved(engine: &Engine, with: &[&str], runs: usize) -> Result<(f64, f64)> {
    let plain = engine.run_args(&["--rm", IMAGE, "true"]);
    let mut extra = vec!["--rm"];
    extra.extend_from_slice(with);
    extra.extend([IMAGE, "true"]);
    let variant = engine.run_args(&extra);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..runs + 2 {
        for (args, v) in [(&plain, &mut a), (&variant, &mut b)] {
            let (out, t) = engine.timed(args);
            if !out.success() {
                bail!("{} {} failed: {out}", engine.name, args.join(" "));
            }
            if i >= 2 {
                v.push(t);
            }
        }
    }
    Ok((median(&a), median(&b)))
}

/// The init wrapper's cost: `--rich` for pouch, `--init` for the others.
pub fn init_cost(engine: &Engine, runs: usize, fig: &mut Figures) -> Result<()> {
    let flag = if engine.name == "pouch" {
        "--rich"
    } else {
        "--init"
    };
    let (plain, with) = interleaved(engine, &[flag], runs)?;
    println!(
        "  init cost: run --rm {IMAGE} true median {plain:.3} s, with {flag} {with:.3} s: \
         {:+.1} ms ({runs} runs each)",
        (with - plain) * 1000.0
    );
    fig.init = Some((with, plain));
    Ok(())
}

/// Pouch only: what an initscript and lxcfs add (the lxcfs figure needs lxcfs installed).
pub fn pouch_only(bins: &Binaries, tar: &std::path::Path, runs: usize) -> Result<()> {
    let fs = match Lxcfs::start() {
        Ok(fs) => Some(fs),
        Err(e) => {
            println!("  no lxcfs figure: {e:#}");
            None
        }
    };
    let opts = DaemonOptions {
        extra_args: fs.as_ref().map(Lxcfs::daemon_args).unwrap_or_default(),
        ..DaemonOptions::default()
    };
    let d = Daemon::start(bins, opts)?;
    let e = pouch_engine(bins, &d);
    e.import(tar)?;
    let (plain, with) = interleaved(&e, &["--rich", "--initscript", "true"], runs)?;
    println!(
        "  initscript cost: --rich {with:.3} s with --initscript true vs {plain:.3} s without \
         --rich: {:+.1} ms (runtime exec before start)",
        (with - plain) * 1000.0
    );
    if fs.is_some() {
        let (plain, with) = interleaved(&e, &["--enableLxcfs"], runs)?;
        println!(
            "  lxcfs cost: --enableLxcfs {with:.3} s vs {plain:.3} s: {:+.1} ms (8 binds)",
            (with - plain) * 1000.0
        );
    }
    Ok(())
}
