//! pouchd: the daemon. Order of start: flags and config file, logging, the exclusive lock on
//! the home dir (before anything else touches it), the pidfile, the engine, the listeners.
//! SIGTERM/SIGINT cancel every pull and push, let open streams finish for a few seconds,
//! remove the sockets and the pidfile, and exit 0.

mod config;
mod config_file;
mod live;
mod router;
mod runtimes;
mod server;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::CommandFactory;
use pouch_engine::{Engine, EngineConfig, RegistryConfig};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::config::DaemonConfig;

/// How long open requests (streams) get to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let matches = config::Flags::command().get_matches();
    let cfg = match DaemonConfig::from_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pouchd: {e}");
            return ExitCode::from(1);
        }
    };
    let log = live::init_logging(cfg.debug);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pouchd: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(run(cfg, log)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pouchd: {e:#}");
            ExitCode::from(1)
        }
    };
    // blocking tasks still copying a stream must not hold the exit
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn run(cfg: DaemonConfig, log: live::LogControl) -> anyhow::Result<()> {
    let home = std::path::absolute(&cfg.home_dir)
        .with_context(|| format!("home dir {}", cfg.home_dir.display()))?;
    let exec_root = std::path::absolute(&cfg.exec_root)
        .with_context(|| format!("exec root {}", cfg.exec_root.display()))?;
    std::fs::create_dir_all(&home)
        .with_context(|| format!("cannot create home dir {}", home.display()))?;
    let _lock = lock_home(&home)?;
    std::fs::create_dir_all(&exec_root)
        .with_context(|| format!("cannot create exec root {}", exec_root.display()))?;
    let pidfile = match &cfg.pidfile {
        Some(p) => Some(PidFile::create(p)?),
        None => None,
    };

    let engine = Engine::open(EngineConfig {
        home_dir: home.clone(),
        exec_root,
        registry: RegistryConfig {
            mirrors: cfg.registry_mirrors.clone(),
            insecure: cfg.insecure_registries.clone(),
        },
        max_concurrent_downloads: cfg.max_concurrent_downloads,
        debug: cfg.debug,
        listen_addresses: cfg.listen_strings(),
        runtime: runtimes::runtime_config(&cfg)?,
        network: cfg.network.clone(),
        labels: cfg.labels.clone(),
        lxcfs: cfg.lxcfs.clone(),
    })?;
    // `POST /daemon/update` writes its changes into the config file and switches the log
    engine.set_daemon_hooks(Arc::new(live::LiveUpdates::new(
        config_file::ConfigFile::of(&cfg),
        log,
    )))?;
    engine.restore_containers().await;

    let mut bound = Vec::new();
    let mut sockets = Vec::new();
    for addr in &cfg.listen {
        let b = match server::bind(addr).await {
            Ok(b) => b,
            Err(e) => {
                remove_sockets(&sockets);
                return Err(e.into());
            }
        };
        sockets.extend(b.socket_path().map(Path::to_path_buf));
        bound.push(b);
    }

    let app = router::router(engine.clone());
    let stop = CancellationToken::new();
    let mut servers = tokio::task::JoinSet::new();
    for b in bound {
        servers.spawn(server::serve(b, app.clone(), stop.clone()));
    }
    tracing::info!(
        version = pouch_api::POUCH_VERSION,
        home = %home.display(),
        listen = ?cfg.listen_strings(),
        "pouchd ready"
    );

    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let failure = tokio::select! {
        _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); None }
        _ = int.recv() => { tracing::info!("SIGINT: shutting down"); None }
        r = servers.join_next() => Some(match r {
            Some(Ok(Err(e))) => anyhow::anyhow!("a listener failed: {e}"),
            Some(Err(e)) => anyhow::anyhow!("a listener task failed: {e}"),
            _ => anyhow::anyhow!("a listener stopped"),
        }),
    };

    // cancel pulls and pushes (their streams end with an error line), then let requests finish
    engine.shutdown();
    stop.cancel();
    let drained = tokio::time::timeout(GRACE, async {
        while servers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("open requests did not finish within {GRACE:?}; closing them");
        servers.abort_all();
    }
    remove_sockets(&sockets);
    drop(pidfile);
    match failure {
        Some(e) => Err(e),
        None => {
            tracing::info!("pouchd stopped");
            Ok(())
        }
    }
}

/// Takes `<home>/pouchd.lock` for the life of the process; a second daemon on the same
/// home dir stops here, before touching anything else.
fn lock_home(home: &Path) -> anyhow::Result<File> {
    let path = home.join("pouchd.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match pouch_sys::try_lock_exclusive(&file, &path) {
        Ok(()) => {}
        Err(pouch_sys::SysError::Locked { .. }) => anyhow::bail!(
            "another pouchd is already running with home dir {} (lock {} is held)",
            home.display(),
            path.display()
        ),
        Err(e) => return Err(e).context("cannot lock the home dir"),
    }
    // the holder's pid, for whoever wonders who holds it
    file.set_len(0)
        .and_then(|_| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
        .with_context(|| format!("cannot write lock file {}", path.display()))?;
    Ok(file)
}

fn remove_sockets(paths: &[PathBuf]) {
    for p in paths {
        if let Err(e) = std::fs::remove_file(p) {
            tracing::warn!("cannot remove socket {}: {e}", p.display());
        }
    }
}

/// The pidfile: written at start, removed on drop if it still names this process.
struct PidFile {
    path: PathBuf,
}

impl PidFile {
    fn create(path: &Path) -> anyhow::Result<PidFile> {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                if pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists() {
                    anyhow::bail!(
                        "pidfile {} names running process {pid}: is another pouchd using it? (remove the file if not)",
                        path.display()
                    );
                }
            }
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create directory {}", parent.display()))?;
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write pidfile {}", path.display()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .map(|t| t.trim() == std::process::id().to_string())
            .unwrap_or(false);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
