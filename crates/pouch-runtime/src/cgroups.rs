//! Cgroups as pouchd reads them: the host's layout (v1, hybrid, or v2 unified), a container's
//! resource statistics, OOM-kill counter and pids, cleanup of a container's cgroups after a
//! failed create, and the host facts used to validate resource options (cpus, memory nodes,
//! swap and kernel-memory limits).
//!
//! A container's cgroup is named by its OCI `linux.cgroupsPath` as given to the runtime
//! (`/pouch/<id>`): `<mount of controller>/<path>` on v1 and hybrid hosts (where the
//! controllers are v1 hierarchies), `<cgroup2 mount>/<path>` on v2 hosts. Every function that
//! looks at a host is also a method of [`CgroupLayout`], so tests can point a layout at a fake
//! cgroupfs in a temporary directory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// USER_HZ: the unit of cpuacct.stat and /proc/stat (100 on every Linux architecture Docker
/// supports; Docker assumes it too).
const CLOCK_TICKS: u64 = 100;
const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// The most cpus or memory nodes a cpuset may name, against lists like `0-4294967295`.
const MAX_CPUSET_ENTRIES: usize = 65536;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup {path} does not exist (looked in {})", dir.display())]
    NotFound { path: String, dir: PathBuf },
    #[error("cannot read {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse {}: {reason}", file.display())]
    Parse { file: PathBuf, reason: String },
    #[error("cannot remove cgroup {}: {source} (are processes still in it?)", dir.display())]
    Remove {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid cpuset {value:?}: {reason} (use a list like 0-1,3)")]
    Cpuset { value: String, reason: String },
}

/// How the host mounts its cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// v1 hierarchies only
    Legacy,
    /// v1 hierarchies for the controllers, plus a cgroup2 mount (usually
    /// /sys/fs/cgroup/unified) with few or no controllers
    Hybrid,
    /// one cgroup2 hierarchy (usually at /sys/fs/cgroup)
    Unified,
}

/// The cgroup mounts of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLayout {
    pub mode: CgroupMode,
    /// v1 controller (`memory`, `cpuacct`, `name=systemd` ...) → its hierarchy's mount point;
    /// co-mounted controllers (`cpu,cpuacct`) share one
    pub controllers: BTreeMap<String, PathBuf>,
    /// the cgroup2 mount, when there is one
    pub unified: Option<PathBuf>,
}

/// CPU time throttled by a CFS quota.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    /// nanoseconds
    pub throttled_time: u64,
}

/// One line of a block I/O counter: device, operation (`Read`, `Write`, `Sync`, `Async`,
/// `Discard`, `Total` on v1; `read`, `write`, `discard` on v2, as Docker reports them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// A container's resource usage, in the units of Docker's stats (nanoseconds, bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupStats {
    pub cpu_total_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_system_ns: u64,
    /// per-cpu usage (v1 only; empty on v2, like Docker)
    pub percpu: Vec<u64>,
    pub throttling: Throttling,
    pub memory_usage: u64,
    /// v1 max_usage_in_bytes, v2 memory.peak when the kernel has it
    pub memory_max_usage: Option<u64>,
    /// the limit, or the host's memory when unlimited (as Docker reports it)
    pub memory_limit: u64,
    /// v1 only
    pub memory_failcnt: Option<u64>,
    /// memory.stat as it is
    pub memory_stats: BTreeMap<String, u64>,
    pub pids_current: u64,
    /// None when unlimited
    pub pids_limit: Option<u64>,
    pub blkio_service_bytes: Vec<BlkioEntry>,
    pub blkio_serviced: Vec<BlkioEntry>,
}

/// The host's cgroup layout, read once from /proc/self/mountinfo.
pub fn layout() -> &'static CgroupLayout {
    static LAYOUT: OnceLock<CgroupLayout> = OnceLock::new();
    LAYOUT.get_or_init(CgroupLayout::detect)
}

/// Statistics of the container whose `linux.cgroupsPath` is `cgroups_path`.
pub fn read_stats(cgroups_path: &str) -> Result<CgroupStats, CgroupError> {
    layout().read_stats(cgroups_path)
}

/// How many times the kernel's OOM killer killed a process of the cgroup (0 when unknown).
pub fn oom_kill_count(cgroups_path: &str) -> u64 {
    layout().oom_kill_count(cgroups_path)
}

/// The host pids of the processes in the cgroup and its descendants, sorted.
pub fn pids(cgroups_path: &str) -> Vec<i32> {
    layout().pids(cgroups_path)
}

pub fn exists(cgroups_path: &str) -> bool {
    layout().exists(cgroups_path)
}

/// Removes the cgroup (and any cgroup below it) from every hierarchy; one that does not exist
/// is fine.
pub fn remove(cgroups_path: &str) -> Result<(), CgroupError> {
    layout().remove(cgroups_path)
}

/// The host's CPU time since boot in nanoseconds, as Docker's `system_cpu_usage`: the first
/// seven fields (user to softirq) of /proc/stat's `cpu` line, in ticks of 1/100 s. 0 when
/// /proc/stat cannot be read.
pub fn system_cpu_usage_ns() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|text| parse_proc_stat(&text).map(|(ns, _)| ns))
        .unwrap_or(0)
}

/// The number of online cpus, as Docker's `online_cpus` (the `cpuN` lines of /proc/stat).
pub fn online_cpus() -> u32 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|text| parse_proc_stat(&text).map(|(_, cpus)| cpus))
        .filter(|&n| n > 0)
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u32)
        })
        .unwrap_or(1)
}

/// The host's memory in bytes (MemTotal of /proc/meminfo); 0 when unknown.
pub fn host_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_meminfo_total(&text))
        .unwrap_or(0)
}

/// The online cpus of the host (/sys/devices/system/cpu/online).
pub fn host_cpus() -> Vec<u32> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpuset(&s).ok())
        .filter(|cpus| !cpus.is_empty())
        .unwrap_or_else(|| (0..online_cpus()).collect())
}

/// The online memory nodes of the host (/sys/devices/system/node/online; node 0 on a kernel
/// without NUMA).
pub fn host_mems() -> Vec<u32> {
    std::fs::read_to_string("/sys/devices/system/node/online")
        .ok()
        .and_then(|s| parse_cpuset(&s).ok())
        .filter(|mems| !mems.is_empty())
        .unwrap_or_else(|| vec![0])
}

/// Whether `--kernel-memory` can be enforced: only cgroup v1, and only kernels before 5.16,
/// which stopped honouring memory.kmem.limit_in_bytes (writes are ignored since).
pub fn supports_kernel_memory() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    layout().has_kmem_limit() && kernel_before(&release, (5, 16))
}

/// Whether memory+swap can be limited (`--memory-swap`): memory.memsw.limit_in_bytes on v1
/// (swap accounting on), memory.swap.max on v2.
pub fn supports_swap_limit() -> bool {
    layout().supports_swap_limit()
}

/// Parses a cpu or memory-node list (`0-1,3`) into sorted, distinct numbers. An empty list is
/// empty.
pub fn parse_cpuset(s: &str) -> Result<Vec<u32>, CgroupError> {
    let invalid = |reason: String| CgroupError::Cpuset {
        value: s.to_string(),
        reason,
    };
    let mut set = BTreeSet::new();
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    for part in trimmed.split(',') {
        let number = |n: &str| {
            n.parse::<u32>()
                .map_err(|_| invalid(format!("{n:?} is not a number")))
        };
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let n = number(part)?;
                (n, n)
            }
        };
        if first > last {
            return Err(invalid(format!("range {part} goes backwards")));
        }
        if (last - first) as usize >= MAX_CPUSET_ENTRIES || set.len() >= MAX_CPUSET_ENTRIES {
            return Err(invalid(format!("more than {MAX_CPUSET_ENTRIES} entries")));
        }
        set.extend(first..=last);
    }
    Ok(set.into_iter().collect())
}

impl CgroupLayout {
    /// Reads /proc/self/mountinfo; when it names no cgroup mount, guesses from /sys/fs/cgroup.
    pub fn detect() -> CgroupLayout {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let found = CgroupLayout::from_mountinfo(&text);
        if found.unified.is_some() || !found.controllers.is_empty() {
            return found;
        }
        let root = Path::new("/sys/fs/cgroup");
        if root.join("cgroup.controllers").exists() {
            return CgroupLayout {
                mode: CgroupMode::Unified,
                controllers: BTreeMap::new(),
                unified: Some(root.to_path_buf()),
            };
        }
        let controllers = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir() && e.file_name() != "unified")
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        CgroupLayout {
            mode: CgroupMode::Legacy,
            controllers,
            unified: None,
        }
    }

    /// The layout the cgroup mounts of a mountinfo text describe.
    pub fn from_mountinfo(text: &str) -> CgroupLayout {
        let mut controllers = BTreeMap::new();
        let mut unified = None;
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4) else {
                continue;
            };
            let mount_point = PathBuf::from(unescape_mountinfo(mount_point));
            let mut right = right.split(' ');
            let (fstype, _source, options) = (right.next(), right.next(), right.next());
            match fstype {
                Some("cgroup2") => {
                    unified.get_or_insert(mount_point);
                }
                Some("cgroup") => {
                    for option in options.unwrap_or_default().split(',') {
                        if is_controller_option(option) {
                            controllers
                                .entry(option.to_string())
                                .or_insert_with(|| mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        let has_v1_controllers = controllers.keys().any(|c| !c.starts_with("name="));
        let mode = match (has_v1_controllers, unified.is_some()) {
            (true, true) => CgroupMode::Hybrid,
            (true, false) => CgroupMode::Legacy,
            (false, _) => CgroupMode::Unified,
        };
        if mode == CgroupMode::Unified && unified.is_none() {
            unified = Some(PathBuf::from("/sys/fs/cgroup"));
        }
        CgroupLayout {
            mode,
            controllers,
            unified,
        }
    }

    /// The directory of a container's cgroup for one controller (any name on v2, where there is
    /// one directory for all).
    pub fn controller_dir(&self, controller: &str, cgroups_path: &str) -> Option<PathBuf> {
        let base = match self.mode {
            CgroupMode::Unified => self.unified.as_ref()?,
            CgroupMode::Legacy | CgroupMode::Hybrid => self.controllers.get(controller)?,
        };
        Some(join(base, cgroups_path))
    }

    /// Every directory the container's cgroup may have, one per hierarchy.
    fn all_dirs(&self, cgroups_path: &str) -> Vec<PathBuf> {
        let bases: BTreeSet<&PathBuf> = self
            .controllers
            .values()
            .chain(self.unified.as_ref())
            .collect();
        bases.into_iter().map(|b| join(b, cgroups_path)).collect()
    }

    pub fn exists(&self, cgroups_path: &str) -> bool {
        match self.mode {
            CgroupMode::Unified => self
                .controller_dir("", cgroups_path)
                .is_some_and(|d| d.is_dir()),
            // the unified mount of a hybrid host is not where runtimes put containers
            CgroupMode::Legacy | CgroupMode::Hybrid => self
                .controllers
                .values()
                .any(|base| join(base, cgroups_path).is_dir()),
        }
    }

    pub fn read_stats(&self, cgroups_path: &str) -> Result<CgroupStats, CgroupError> {
        if !self.exists(cgroups_path) {
            let dir = self
                .controller_dir("memory", cgroups_path)
                .unwrap_or_else(|| PathBuf::from(cgroups_path));
            return Err(CgroupError::NotFound {
                path: cgroups_path.to_string(),
                dir,
            });
        }
        match self.mode {
            CgroupMode::Unified => self.read_stats_v2(cgroups_path),
            CgroupMode::Legacy | CgroupMode::Hybrid => self.read_stats_v1(cgroups_path),
        }
    }

    fn read_stats_v1(&self, path: &str) -> Result<CgroupStats, CgroupError> {
        let dir = |controller: &str| self.controller_dir(controller, path);
        let mut stats = CgroupStats::default();

        if let Some(cpuacct) = dir("cpuacct") {
            stats.cpu_total_ns = read_u64(&cpuacct.join("cpuacct.usage"))?.unwrap_or(0);
            if let Some(text) = read_optional(&cpuacct.join("cpuacct.usage_percpu"))? {
                stats.percpu = parse_numbers(&text, &cpuacct.join("cpuacct.usage_percpu"))?;
            }
            let times = read_flat_keyed(&cpuacct.join("cpuacct.stat"))?;
            let to_ns = |ticks: u64| ticks.saturating_mul(NANOS_PER_SECOND) / CLOCK_TICKS;
            stats.cpu_user_ns = to_ns(times.get("user").copied().unwrap_or(0));
            stats.cpu_system_ns = to_ns(times.get("system").copied().unwrap_or(0));
        }
        if let Some(cpu) = dir("cpu") {
            let cpu_stat = read_flat_keyed(&cpu.join("cpu.stat"))?;
            let get = |k: &str| cpu_stat.get(k).copied().unwrap_or(0);
            stats.throttling = Throttling {
                periods: get("nr_periods"),
                throttled_periods: get("nr_throttled"),
                throttled_time: get("throttled_time"),
            };
        }
        if let Some(memory) = dir("memory") {
            stats.memory_usage = read_u64(&memory.join("memory.usage_in_bytes"))?.unwrap_or(0);
            stats.memory_max_usage = read_u64(&memory.join("memory.max_usage_in_bytes"))?;
            stats.memory_failcnt = read_u64(&memory.join("memory.failcnt"))?;
            let limit = read_u64(&memory.join("memory.limit_in_bytes"))?;
            stats.memory_limit = cap_to_host_memory(limit);
            stats.memory_stats = read_flat_keyed(&memory.join("memory.stat"))?;
        }
        self.read_pids(path, &mut stats)?;
        if let Some(blkio) = dir("blkio") {
            // CFQ's files (old kernels), then BFQ's, then the throttle layer's, which counts
            // all I/O whatever the scheduler: the first with entries wins, as in runc
            let pick = |names: &[&str]| -> Result<Vec<BlkioEntry>, CgroupError> {
                for name in names {
                    let file = blkio.join(name);
                    if let Some(text) = read_optional(&file)? {
                        let entries = parse_blkio_v1(&text, &file)?;
                        if entries.iter().any(|e| e.op != "Total") {
                            return Ok(entries);
                        }
                    }
                }
                Ok(Vec::new())
            };
            stats.blkio_service_bytes = pick(&[
                "blkio.io_service_bytes_recursive",
                "blkio.bfq.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes_recursive",
            ])?;
            stats.blkio_serviced = pick(&[
                "blkio.io_serviced_recursive",
                "blkio.bfq.io_serviced_recursive",
                "blkio.throttle.io_serviced_recursive",
            ])?;
        }
        Ok(stats)
    }

    fn read_stats_v2(&self, path: &str) -> Result<CgroupStats, CgroupError> {
        let Some(dir) = self.controller_dir("", path) else {
            return Ok(CgroupStats::default());
        };
        let mut stats = CgroupStats::default();
        let cpu = read_flat_keyed(&dir.join("cpu.stat"))?;
        let usec = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
        stats.cpu_total_ns = usec("usage_usec");
        stats.cpu_user_ns = usec("user_usec");
        stats.cpu_system_ns = usec("system_usec");
        stats.throttling = Throttling {
            periods: cpu.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: usec("throttled_usec"),
        };

        stats.memory_usage = read_u64(&dir.join("memory.current"))?.unwrap_or(0);
        stats.memory_max_usage = read_u64(&dir.join("memory.peak"))?;
        stats.memory_limit = cap_to_host_memory(read_u64(&dir.join("memory.max"))?);
        stats.memory_stats = read_flat_keyed(&dir.join("memory.stat"))?;
        self.read_pids(path, &mut stats)?;

        let io_file = dir.join("io.stat");
        if let Some(text) = read_optional(&io_file)? {
            let (bytes, serviced) = parse_io_stat_v2(&text, &io_file)?;
            stats.blkio_service_bytes = bytes;
            stats.blkio_serviced = serviced;
        }
        Ok(stats)
    }

    fn read_pids(&self, path: &str, stats: &mut CgroupStats) -> Result<(), CgroupError> {
        if let Some(pids) = self.controller_dir("pids", path) {
            stats.pids_current = read_u64(&pids.join("pids.current"))?.unwrap_or(0);
            stats.pids_limit = read_u64(&pids.join("pids.max"))?;
        }
        Ok(())
    }

    /// See [`oom_kill_count`].
    pub fn oom_kill_count(&self, cgroups_path: &str) -> u64 {
        let Some(memory) = self.controller_dir("memory", cgroups_path) else {
            return 0;
        };
        let file = match self.mode {
            CgroupMode::Unified => memory.join("memory.events"),
            CgroupMode::Legacy | CgroupMode::Hybrid => memory.join("memory.oom_control"),
        };
        read_flat_keyed(&file)
            .ok()
            .and_then(|keys| keys.get("oom_kill").copied())
            .unwrap_or(0)
    }

    /// See [`pids`].
    pub fn pids(&self, cgroups_path: &str) -> Vec<i32> {
        let dir = match self.mode {
            CgroupMode::Unified => self.controller_dir("", cgroups_path),
            CgroupMode::Legacy | CgroupMode::Hybrid => [
                "pids",
                "memory",
                "cpu",
                "cpuacct",
                "freezer",
                "devices",
                "name=systemd",
            ]
            .iter()
            .filter_map(|c| self.controller_dir(c, cgroups_path))
            .find(|d| d.is_dir()),
        };
        let mut pids = BTreeSet::new();
        if let Some(dir) = dir {
            collect_procs(&dir, &mut pids);
        }
        pids.into_iter().collect()
    }

    /// See [`remove`].
    pub fn remove(&self, cgroups_path: &str) -> Result<(), CgroupError> {
        let mut first_error = None;
        for dir in self.all_dirs(cgroups_path) {
            if let Err(e) = remove_tree(&dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn has_kmem_limit(&self) -> bool {
        self.mode != CgroupMode::Unified
            && self
                .controllers
                .get("memory")
                .is_some_and(|m| m.join("memory.kmem.limit_in_bytes").exists())
    }

    fn supports_swap_limit(&self) -> bool {
        match self.mode {
            CgroupMode::Legacy | CgroupMode::Hybrid => self
                .controllers
                .get("memory")
                .is_some_and(|m| m.join("memory.memsw.limit_in_bytes").exists()),
            CgroupMode::Unified => {
                let Some(root) = &self.unified else {
                    return false;
                };
                let controllers =
                    std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
                if !controllers.split_whitespace().any(|c| c == "memory") {
                    return false;
                }
                // the root has no memory files: look at a child with the memory controller
                let child_with_memory = std::fs::read_dir(root)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .find(|p| p.join("memory.max").exists());
                child_with_memory.is_none_or(|child| child.join("memory.swap.max").exists())
            }
        }
    }
}

/// `base/<cgroups_path>`, keeping only the normal components of the path (no `..`).
fn join(base: &Path, cgroups_path: &str) -> PathBuf {
    let mut dir = base.to_path_buf();
    for component in Path::new(cgroups_path).components() {
        if let Component::Normal(part) = component {
            dir.push(part);
        }
    }
    dir
}

/// Whether a super option of a v1 cgroup mount names a controller (or a named hierarchy).
fn is_controller_option(option: &str) -> bool {
    const NOT_CONTROLLERS: &[&str] = &[
        "rw",
        "ro",
        "xattr",
        "noprefix",
        "clone_children",
        "cpuset_v2_mode",
        "favordynmods",
        "none",
        "all",
    ];
    !option.is_empty() && !option.contains("release_agent=") && !NOT_CONTROLLERS.contains(&option)
}

/// Mountinfo escapes space, tab, newline and backslash as octal `\NNN`.
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let digit = |k: usize| u32::from(bytes[i + k] - b'0');
            let code = digit(1) * 64 + digit(2) * 8 + digit(3);
            out.push(u8::try_from(code).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// "unlimited" (v1's huge number or v2's `max`) and limits above the host's memory become the
/// host's memory, as Docker reports them.
fn cap_to_host_memory(limit: Option<u64>) -> u64 {
    let host = host_memory_bytes();
    match limit {
        Some(limit) if host == 0 || limit <= host => limit,
        _ => host,
    }
}

fn read_optional(file: &Path) -> Result<Option<String>, CgroupError> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            file: file.to_path_buf(),
            source,
        }),
    }
}

/// A file holding one number, or `max` (None). A missing file is None.
fn read_u64(file: &Path) -> Result<Option<u64>, CgroupError> {
    let Some(text) = read_optional(file)? else {
        return Ok(None);
    };
    let value = text.trim();
    if value == "max" {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| CgroupError::Parse {
        file: file.to_path_buf(),
        reason: format!("{value:?} is not a number"),
    })
}

/// A file of `key value` lines (memory.stat, cpu.stat, memory.events ...). A missing file is
/// empty; lines whose value is not a number are skipped.
fn read_flat_keyed(file: &Path) -> Result<BTreeMap<String, u64>, CgroupError> {
    Ok(read_optional(file)?
        .map(|text| parse_flat_keyed(&text))
        .unwrap_or_default())
}

fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let key = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some((key.to_string(), value))
        })
        .collect()
}

fn parse_numbers(text: &str, file: &Path) -> Result<Vec<u64>, CgroupError> {
    text.split_whitespace()
        .map(|n| {
            n.parse().map_err(|_| CgroupError::Parse {
                file: file.to_path_buf(),
                reason: format!("{n:?} is not a number"),
            })
        })
        .collect()
}

/// v1 blkio lines: `8:0 Read 1234`, and a last `Total 1234` (major 0, minor 0).
fn parse_blkio_v1(text: &str, file: &Path) -> Result<Vec<BlkioEntry>, CgroupError> {
    let bad = |line: &str| CgroupError::Parse {
        file: file.to_path_buf(),
        reason: format!("unexpected line {line:?}"),
    };
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [op, value] if *op == "Total" => entries.push(BlkioEntry {
                major: 0,
                minor: 0,
                op: op.to_string(),
                value: value.parse().map_err(|_| bad(line))?,
            }),
            [device, op, value] => {
                let (major, minor) = parse_device(device).ok_or_else(|| bad(line))?;
                entries.push(BlkioEntry {
                    major,
                    minor,
                    op: op.to_string(),
                    value: value.parse().map_err(|_| bad(line))?,
                });
            }
            _ => return Err(bad(line)),
        }
    }
    Ok(entries)
}

/// v2 io.stat lines: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`.
fn parse_io_stat_v2(
    text: &str,
    file: &Path,
) -> Result<(Vec<BlkioEntry>, Vec<BlkioEntry>), CgroupError> {
    let mut bytes = Vec::new();
    let mut serviced = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let device = fields.next().unwrap_or_default();
        let (major, minor) = parse_device(device).ok_or_else(|| CgroupError::Parse {
            file: file.to_path_buf(),
            reason: format!("unexpected line {line:?}"),
        })?;
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse() else { continue };
            let (list, op) = match key {
                "rbytes" => (&mut bytes, "read"),
                "wbytes" => (&mut bytes, "write"),
                "dbytes" => (&mut bytes, "discard"),
                "rios" => (&mut serviced, "read"),
                "wios" => (&mut serviced, "write"),
                "dios" => (&mut serviced, "discard"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    Ok((bytes, serviced))
}

fn parse_device(device: &str) -> Option<(u64, u64)> {
    let (major, minor) = device.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `(cpu time in ns, number of cpu lines)` of /proc/stat.
fn parse_proc_stat(text: &str) -> Option<(u64, u32)> {
    let mut total = None;
    let mut cpus = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                let ticks: Vec<u64> = fields.take(7).filter_map(|f| f.parse().ok()).collect();
                if ticks.len() == 7 {
                    let sum: u64 = ticks.iter().sum();
                    total = Some(sum.saturating_mul(NANOS_PER_SECOND) / CLOCK_TICKS);
                }
            }
            Some(name) if name.starts_with("cpu") && name[3..].parse::<u32>().is_ok() => cpus += 1,
            _ => {}
        }
    }
    total.map(|t| (t, cpus))
}

fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Whether a kernel release (`6.1.0-13-amd64`) is older than `major.minor`. An unreadable
/// release counts as new.
fn kernel_before(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) < (major, minor),
        _ => false,
    }
}

fn collect_procs(dir: &Path, pids: &mut BTreeSet<i32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_procs(&entry.path(), pids);
        }
    }
}

/// rmdir of a cgroup and the cgroups below it, deepest first. Only directories are removed:
/// a cgroup's files go with its directory.
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Remove {
                dir: dir.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CgroupError::Remove {
            dir: dir.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests;
