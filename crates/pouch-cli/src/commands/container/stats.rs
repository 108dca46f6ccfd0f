//! `pouch stats [--no-stream] [-a] [--format T] [--no-trunc] [CONTAINER...]`: resource usage
//! per container in docker's table (`CONTAINER ID   NAME   CPU %   MEM USAGE / LIMIT   MEM %
//! NET I/O   BLOCK I/O   PIDS`) with docker's arithmetic: CPU % from the delta to
//! `precpu_stats`, memory without the inactive file cache. Without names, all running (with
//! `-a` all) containers, the list refreshed while streaming; the table is redrawn twice a
//! second, clearing the screen when stdout is a terminal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use pouch_api::container::{BlkioStats, ContainerStats, CpuStats, MemoryStats};
use pouch_client::{Client, Filters};
use serde_json::{json, Value};

use super::format::{render, FormatSpec};
use super::{describe, Reported};
use crate::output::{bytes_size, human_size_prec, short_id};

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// How long a collector waits for a sample before showing the container as `--`.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(2);
/// The redraw period (docker's ticker).
const REDRAW: Duration = Duration::from_millis(500);

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or TEMPLATE
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (default: all running containers)
    pub containers: Vec<String>,
}

/// One container's figures (docker's `StatsEntry`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsEntry {
    /// The name the user gave, or the short id when listing all.
    pub container: String,
    /// With the leading `/`.
    pub name: String,
    pub id: String,
    pub cpu_percentage: f64,
    pub memory: f64,
    pub memory_limit: f64,
    pub memory_percentage: f64,
    pub network_rx: f64,
    pub network_tx: f64,
    pub block_read: f64,
    pub block_write: f64,
    pub pids_current: u64,
    pub is_invalid: bool,
}

/// docker's `calculateCPUPercentUnix`.
pub fn cpu_percent(previous: &CpuStats, current: &CpuStats) -> f64 {
    let cpu_delta = current.cpu_usage.total_usage as f64 - previous.cpu_usage.total_usage as f64;
    let system_delta = current.system_cpu_usage.unwrap_or(0) as f64
        - previous.system_cpu_usage.unwrap_or(0) as f64;
    let mut online = current.online_cpus.unwrap_or(0) as f64;
    if online == 0.0 {
        online = current.cpu_usage.percpu_usage.as_ref().map_or(0, Vec::len) as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    }
}

/// docker's `calculateMemUsageUnixNoCache`: usage minus `total_inactive_file` (cgroup v1) or
/// `inactive_file` (v2).
pub fn memory_usage(mem: &MemoryStats) -> f64 {
    if let Some(&v) = mem.stats.get("total_inactive_file") {
        if v < mem.usage {
            return (mem.usage - v) as f64;
        }
    }
    let v = mem.stats.get("inactive_file").copied().unwrap_or(0);
    if v < mem.usage {
        return (mem.usage - v) as f64;
    }
    mem.usage as f64
}

/// Bytes read and written, from `io_service_bytes_recursive`.
pub fn block_io(blkio: &BlkioStats) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for e in blkio.io_service_bytes_recursive.iter().flatten() {
        match e.op.as_bytes().first() {
            Some(b'r' | b'R') => read = read.saturating_add(e.value),
            Some(b'w' | b'W') => write = write.saturating_add(e.value),
            _ => {}
        }
    }
    (read, write)
}

/// The entry for one sample.
pub fn entry_from(container: &str, s: &ContainerStats) -> StatsEntry {
    let memory = memory_usage(&s.memory_stats);
    let limit = s.memory_stats.limit as f64;
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in s.networks.iter().flat_map(|m| m.values()) {
        rx += n.rx_bytes as f64;
        tx += n.tx_bytes as f64;
    }
    let (read, write) = block_io(&s.blkio_stats);
    StatsEntry {
        container: container.to_string(),
        name: s.name.clone(),
        id: s.id.clone(),
        cpu_percentage: cpu_percent(&s.precpu_stats, &s.cpu_stats),
        memory,
        memory_limit: limit,
        memory_percentage: if limit != 0.0 {
            memory / limit * 100.0
        } else {
            0.0
        },
        network_rx: rx,
        network_tx: tx,
        block_read: read as f64,
        block_write: write as f64,
        pids_current: s.pids_stats.current.unwrap_or(0),
        is_invalid: false,
    }
}

fn percentage(v: f64) -> String {
    format!("{v:.2}%")
}

fn decimal(v: f64) -> String {
    human_size_prec(v as i64, 3)
}

/// The template fields of one entry, as docker's `statsContext` exposes them.
pub fn row(e: &StatsEntry, trunc: bool) -> Value {
    let invalid = e.is_invalid;
    let dashes = || "--".to_string();
    json!({
        "BlockIO": if invalid { dashes() } else {
            format!("{} / {}", decimal(e.block_read), decimal(e.block_write))
        },
        "CPUPerc": if invalid { dashes() } else { percentage(e.cpu_percentage) },
        "Container": e.container,
        "ID": if trunc { short_id(&e.id) } else { e.id.clone() },
        "MemPerc": if invalid { dashes() } else { percentage(e.memory_percentage) },
        "MemUsage": if invalid { "-- / --".to_string() } else {
            format!("{} / {}", bytes_size(e.memory as i64), bytes_size(e.memory_limit as i64))
        },
        "Name": if e.name.len() > 1 { e.name[1..].to_string() } else { dashes() },
        "NetIO": if invalid { dashes() } else {
            format!("{} / {}", decimal(e.network_rx), decimal(e.network_tx))
        },
        "PIDs": if invalid { dashes() } else { e.pids_current.to_string() },
    })
}

fn header() -> Value {
    json!({
        "Container": "CONTAINER",
        "Name": "NAME",
        "ID": "CONTAINER ID",
        "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT",
        "MemPerc": "MEM %",
        "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O",
        "PIDs": "PIDS",
    })
}

/// The table (or formatted lines) for `entries`.
pub fn render_entries(
    entries: &[StatsEntry],
    format: Option<&str>,
    trunc: bool,
) -> anyhow::Result<String> {
    let spec = FormatSpec::parse(format, DEFAULT_TABLE);
    let rows: Vec<Value> = entries.iter().map(|e| row(e, trunc)).collect();
    Ok(render(
        spec.table,
        &spec.text,
        &spec.text,
        &header(),
        &rows,
    )?)
}

/// A container being watched.
#[derive(Debug)]
struct Slot {
    entry: StatsEntry,
    error: Option<String>,
    got_first: bool,
    task: Option<tokio::task::JoinHandle<()>>,
}

type Shared = Arc<Mutex<Vec<Slot>>>;

fn with_slot(shared: &Shared, container: &str, f: impl FnOnce(&mut Slot)) {
    let mut slots = shared.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(slot) = slots.iter_mut().find(|s| s.entry.container == container) {
        f(slot);
    }
}

fn set_error(shared: &Shared, container: &str, error: String, reset: bool) {
    with_slot(shared, container, |slot| {
        if reset {
            slot.entry = StatsEntry {
                container: slot.entry.container.clone(),
                name: slot.entry.name.clone(),
                id: slot.entry.id.clone(),
                ..Default::default()
            };
        }
        slot.entry.is_invalid = true;
        slot.error = Some(error);
        slot.got_first = true;
    });
}

/// Reads samples for one container into its slot (docker's `collect`).
async fn collect(client: Client, container: String, stream: bool, shared: Shared) {
    let mut samples = match client.container_stats(&container, stream).await {
        Ok(s) => s,
        Err(e) => return set_error(&shared, &container, describe(&e), false),
    };
    loop {
        match tokio::time::timeout(SAMPLE_TIMEOUT, samples.next()).await {
            Err(_) => set_error(
                &shared,
                &container,
                "timeout waiting for stats".into(),
                true,
            ),
            Ok(None) => return set_error(&shared, &container, "EOF".into(), false),
            Ok(Some(Err(e))) => return set_error(&shared, &container, describe(&e), false),
            Ok(Some(Ok(sample))) => {
                let entry = entry_from(&container, &sample);
                with_slot(&shared, &container, |slot| {
                    slot.entry = entry;
                    slot.got_first = true;
                });
                if !stream {
                    return;
                }
            }
        }
    }
}

fn add(shared: &Shared, client: &Client, container: String, stream: bool) {
    let mut slots = shared.lock().unwrap_or_else(|p| p.into_inner());
    if slots.iter().any(|s| s.entry.container == container) {
        return;
    }
    let task = tokio::spawn(collect(
        client.clone(),
        container.clone(),
        stream,
        shared.clone(),
    ));
    slots.push(Slot {
        entry: StatsEntry {
            container,
            ..Default::default()
        },
        error: None,
        got_first: false,
        task: Some(task),
    });
}

/// Brings the watched set in line with the daemon's list (when no names were given).
async fn refresh(shared: &Shared, client: &Client, all: bool, stream: bool) -> anyhow::Result<()> {
    let list = client
        .container_list(all, None, false, &Filters::default())
        .await?;
    let ids: Vec<String> = list.iter().map(|c| short_id(&c.id)).collect();
    for id in &ids {
        add(shared, client, id.clone(), stream);
    }
    let mut slots = shared.lock().unwrap_or_else(|p| p.into_inner());
    slots.retain(|s| {
        let keep = ids.contains(&s.entry.container);
        if !keep {
            if let Some(t) = &s.task {
                t.abort();
            }
        }
        keep
    });
    Ok(())
}

async fn wait_first(shared: &Shared) {
    let deadline = tokio::time::Instant::now() + SAMPLE_TIMEOUT * 3;
    loop {
        let done = {
            let slots = shared.lock().unwrap_or_else(|p| p.into_inner());
            slots.iter().all(|s| s.got_first)
        };
        if done || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn snapshot(shared: &Shared) -> Vec<StatsEntry> {
    let slots = shared.lock().unwrap_or_else(|p| p.into_inner());
    slots.iter().map(|s| s.entry.clone()).collect()
}

pub async fn run(client: &Client, args: StatsArgs) -> anyhow::Result<()> {
    super::quiet_broken_pipe(run_inner(client, args).await)
}

async fn run_inner(client: &Client, args: StatsArgs) -> anyhow::Result<()> {
    let stream = !args.no_stream;
    let show_all = args.containers.is_empty();
    let trunc = !args.no_trunc;
    // Check the template before anything is fetched.
    render_entries(&[], args.format.as_deref(), trunc)?;
    let shared: Shared = Arc::new(Mutex::new(Vec::new()));
    if show_all {
        refresh(&shared, client, args.all, stream).await?;
    } else {
        for name in &args.containers {
            add(&shared, client, name.clone(), stream);
        }
    }
    wait_first(&shared).await;
    if !show_all {
        let errors: Vec<String> = {
            let slots = shared.lock().unwrap_or_else(|p| p.into_inner());
            slots.iter().filter_map(|s| s.error.clone()).collect()
        };
        if !errors.is_empty() {
            abort_all(&shared);
            return Err(Reported(errors.join("\n")).into());
        }
    }
    let clear = stream && crate::commands::stdout_is_terminal();
    let mut ticks: u64 = 0;
    loop {
        let text = render_entries(&snapshot(&shared), args.format.as_deref(), trunc)?;
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            if clear {
                out.write_all(b"\x1b[2J\x1b[H")?;
            }
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        if !stream {
            break;
        }
        tokio::time::sleep(REDRAW).await;
        ticks += 1;
        if show_all && ticks.is_multiple_of(2) {
            refresh(&shared, client, args.all, stream).await?;
        }
    }
    abort_all(&shared);
    Ok(())
}

fn abort_all(shared: &Shared) {
    let slots = shared.lock().unwrap_or_else(|p| p.into_inner());
    for s in slots.iter() {
        if let Some(t) = &s.task {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::{BlkioStatEntry, CpuUsage, NetworkStats};
    use std::collections::BTreeMap;

    fn cpu(total: u64, system: u64, online: u32) -> CpuStats {
        CpuStats {
            cpu_usage: CpuUsage {
                total_usage: total,
                ..Default::default()
            },
            system_cpu_usage: Some(system),
            online_cpus: Some(online),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_percent_like_docker() {
        // 0.05 s of CPU over 1 s of 2 CPUs' system time (2e9 ns) -> 2.5% * 2 = 5%.
        let p = cpu_percent(
            &cpu(1_000_000_000, 10_000_000_000, 2),
            &cpu(1_050_000_000, 12_000_000_000, 2),
        );
        assert!((p - 5.0).abs() < 1e-9, "{p}");
        assert_eq!(percentage(p), "5.00%");
        // No previous sample or no progress: 0.
        assert_eq!(cpu_percent(&cpu(5, 10, 2), &cpu(5, 20, 2)), 0.0);
        assert_eq!(cpu_percent(&cpu(5, 10, 2), &cpu(9, 10, 2)), 0.0);
        // Online CPUs missing: the per-CPU list length counts.
        let mut cur = cpu(200, 400, 0);
        cur.online_cpus = None;
        cur.cpu_usage.percpu_usage = Some(vec![1, 2, 3, 4]);
        assert_eq!(cpu_percent(&cpu(100, 200, 0), &cur), 200.0);
        assert_eq!(percentage(0.0), "0.00%");
        assert_eq!(percentage(12.345_6), "12.35%");
    }

    #[test]
    fn memory_without_cache() {
        let mut m = MemoryStats {
            usage: 10_000,
            limit: 40_000,
            ..Default::default()
        };
        assert_eq!(memory_usage(&m), 10_000.0);
        m.stats = BTreeMap::from([("inactive_file".to_string(), 4_000)]);
        assert_eq!(memory_usage(&m), 6_000.0);
        m.stats.insert("total_inactive_file".into(), 1_000);
        assert_eq!(memory_usage(&m), 9_000.0);
        m.stats.insert("total_inactive_file".into(), 20_000);
        assert_eq!(memory_usage(&m), 6_000.0);
    }

    fn sample() -> ContainerStats {
        let mut s = ContainerStats {
            name: "/web".into(),
            id: "3c4f5a6b7c8d9e0f".repeat(4),
            cpu_stats: cpu(1_050_000_000, 12_000_000_000, 2),
            precpu_stats: cpu(1_000_000_000, 10_000_000_000, 2),
            ..Default::default()
        };
        s.memory_stats = MemoryStats {
            usage: 1_572_864 + 4096,
            limit: 8_268_038_144,
            stats: BTreeMap::from([("inactive_file".to_string(), 4096)]),
            ..Default::default()
        };
        s.pids_stats.current = Some(3);
        s.networks = Some(BTreeMap::from([(
            "eth0".to_string(),
            NetworkStats {
                rx_bytes: 1_240,
                tx_bytes: 0,
                ..Default::default()
            },
        )]));
        s.blkio_stats.io_service_bytes_recursive = Some(vec![
            BlkioStatEntry {
                op: "read".into(),
                value: 4_264_123,
                ..Default::default()
            },
            BlkioStatEntry {
                op: "Write".into(),
                value: 12_288,
                ..Default::default()
            },
            BlkioStatEntry {
                op: "total".into(),
                value: 99,
                ..Default::default()
            },
        ]);
        s
    }

    #[test]
    fn table_like_docker() {
        let e = entry_from("web", &sample());
        assert_eq!(e.block_read, 4_264_123.0);
        assert_eq!(e.block_write, 12_288.0);
        let text = render_entries(&[e], None, true).unwrap();
        let expected = "\
CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       BLOCK I/O         PIDS
3c4f5a6b7c8d   web       5.00%     1.5MiB / 7.7GiB     0.02%     1.24kB / 0B   4.26MB / 12.3kB   3
";
        assert_eq!(text, expected);
    }

    #[test]
    fn invalid_entries_and_formats() {
        let e = StatsEntry {
            container: "gone".into(),
            is_invalid: true,
            ..Default::default()
        };
        let v = row(&e, true);
        assert_eq!(v["CPUPerc"], "--");
        assert_eq!(v["MemUsage"], "-- / --");
        assert_eq!(v["Name"], "--");
        assert_eq!(v["PIDs"], "--");
        let e = entry_from("web", &sample());
        assert_eq!(
            render_entries(
                std::slice::from_ref(&e),
                Some("{{.Container}}: {{.CPUPerc}} {{.MemPerc}}"),
                true
            )
            .unwrap(),
            "web: 5.00% 0.02%\n"
        );
        let text = render_entries(&[e], Some("table {{.Name}}\\t{{.PIDs}}"), false).unwrap();
        assert_eq!(text, "NAME      PIDS\nweb       3\n");
    }
}
