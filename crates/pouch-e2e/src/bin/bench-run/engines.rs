//! Docker and Podman, run the same way as pouch for the comparison: a private dockerd on
//! temporary directories, and podman on a temporary store.

use super::*;

/// A private dockerd (and the containerd it supervises) on temporary directories, stopped and
/// cleaned up on drop.
pub(super) struct DockerD {
    dir: tempfile::TempDir,
    child: Child,
    cli: PathBuf,
}

impl DockerD {
    /// A private dockerd; with `bridge` it gets its default bridge (docker0, still without
    /// firewall rules), else none.
    pub(super) fn start(bridge: bool) -> Result<DockerD> {
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
            .arg("--iptables=false")
            .args(if bridge {
                &[][..]
            } else {
                &["--bridge=none"][..]
            })
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

    pub(super) fn engine(&self) -> Engine {
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
pub(super) struct Podman {
    dir: tempfile::TempDir,
    program: PathBuf,
    ulimits: Vec<String>,
}

impl Podman {
    pub(super) fn new() -> Result<Podman> {
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

    pub(super) fn engine(&self) -> Engine {
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
    pub(super) fn pick_ulimits(&mut self) -> Result<()> {
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
