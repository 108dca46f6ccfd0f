//! `GET /containers/{id}/stats`: Docker's stats objects built from the container's cgroup
//! (`pouch_runtime::cgroups`) and the host's CPU time. A stream sends one object a second,
//! each carrying the previous sample as `precpu_stats`/`preread` (what the CLI computes CPU %
//! from); a single answer (`stream=false`) waits for a second sample so its CPU % is real;
//! `one-shot` answers at once with no previous sample. A container that is not running gets
//! Docker's zeroed object (zero time, only `name` and `id`).

use std::time::{Duration, SystemTime};

use pouch_api::container::{
    BlkioStatEntry, BlkioStats, ContainerStats, CpuStats, CpuUsage, MemoryStats, PidsStats,
    ThrottlingData, ZERO_TIME,
};
use pouch_runtime::cgroups::{self, BlkioEntry, CgroupStats};
use tokio::sync::mpsc;

/// Time between two samples of a stream (and of a non-stream answer's two samples).
const INTERVAL: Duration = Duration::from_secs(1);

/// Starts sampling the container's stats. `name` is the container name without its `/`;
/// `running` tells whether the container runs now (checked before each sample). The
/// receiver gets one object unless `stream`, in which case it gets one a second until it is
/// dropped. Must be called within a tokio runtime.
pub fn stats_stream(
    id: String,
    name: String,
    cgroups_path: String,
    stream: bool,
    one_shot: bool,
    running: impl Fn() -> bool + Send + 'static,
) -> mpsc::Receiver<ContainerStats> {
    let (tx, rx) = mpsc::channel(1);
    let name = format!("/{}", name.trim_start_matches('/'));
    tokio::spawn(async move {
        let sampler = Sampler {
            id,
            name,
            cgroups_path,
        };
        if !stream {
            let first = sampler.sample(running()).await;
            let out = if one_shot || first.is_none() {
                sampler.object(first.as_ref(), None)
            } else {
                tokio::time::sleep(INTERVAL).await;
                let second = sampler.sample(running()).await;
                sampler.object(second.as_ref(), first.as_ref())
            };
            let _ = tx.send(out).await;
            return;
        }
        let mut ticker = tokio::time::interval(INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut previous: Option<Sample> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = tx.closed() => return,
            }
            let current = sampler.sample(running()).await;
            let out = sampler.object(current.as_ref(), previous.as_ref());
            if tx.send(out).await.is_err() {
                return;
            }
            previous = current;
        }
    });
    rx
}

/// One reading of the cgroup and of the host's CPU time.
#[derive(Debug, Clone)]
struct Sample {
    read: String,
    cgroup: CgroupStats,
    system_cpu_ns: u64,
    online_cpus: u32,
}

struct Sampler {
    id: String,
    name: String,
    cgroups_path: String,
}

impl Sampler {
    /// Reads the stats; `None` when the container is not running or its cgroup is gone.
    async fn sample(&self, running: bool) -> Option<Sample> {
        if !running {
            return None;
        }
        let path = self.cgroups_path.clone();
        let read = tokio::task::spawn_blocking(move || {
            let read = rfc3339_nano(SystemTime::now());
            let cgroup = cgroups::read_stats(&path);
            (
                read,
                cgroup,
                cgroups::system_cpu_usage_ns(),
                cgroups::online_cpus(),
            )
        })
        .await
        .ok()?;
        match read {
            (read, Ok(cgroup), system_cpu_ns, online_cpus) => Some(Sample {
                read,
                cgroup,
                system_cpu_ns,
                online_cpus,
            }),
            (_, Err(e), _, _) => {
                tracing::debug!(id = %self.id, "no stats: {e}");
                None
            }
        }
    }

    /// The API object for a sample (zeroed without one) and the sample before it.
    fn object(&self, current: Option<&Sample>, previous: Option<&Sample>) -> ContainerStats {
        let mut out = ContainerStats {
            name: self.name.clone(),
            id: self.id.clone(),
            ..Default::default()
        };
        let Some(s) = current else {
            return out;
        };
        out.read = s.read.clone();
        out.cpu_stats = cpu_stats(s);
        if let Some(p) = previous {
            out.preread = p.read.clone();
            out.precpu_stats = cpu_stats(p);
        } else {
            out.preread = ZERO_TIME.to_string();
        }
        let c = &s.cgroup;
        out.memory_stats = MemoryStats {
            usage: c.memory_usage,
            max_usage: c.memory_max_usage,
            stats: c.memory_stats.clone(),
            failcnt: c.memory_failcnt,
            limit: c.memory_limit,
        };
        out.pids_stats = PidsStats {
            current: Some(c.pids_current),
            limit: c.pids_limit,
        };
        out.blkio_stats = BlkioStats {
            io_service_bytes_recursive: blkio(&c.blkio_service_bytes),
            io_serviced_recursive: blkio(&c.blkio_serviced),
            ..Default::default()
        };
        out
    }
}

fn cpu_stats(s: &Sample) -> CpuStats {
    let c = &s.cgroup;
    CpuStats {
        cpu_usage: CpuUsage {
            total_usage: c.cpu_total_ns,
            percpu_usage: (!c.percpu.is_empty()).then(|| c.percpu.clone()),
            usage_in_kernelmode: c.cpu_system_ns,
            usage_in_usermode: c.cpu_user_ns,
        },
        system_cpu_usage: Some(s.system_cpu_ns),
        online_cpus: Some(s.online_cpus),
        throttling_data: ThrottlingData {
            periods: c.throttling.periods,
            throttled_periods: c.throttling.throttled_periods,
            throttled_time: c.throttling.throttled_time,
        },
    }
}

/// Docker sends `null` for a counter with no entries.
fn blkio(entries: &[BlkioEntry]) -> Option<Vec<BlkioStatEntry>> {
    if entries.is_empty() {
        return None;
    }
    Some(
        entries
            .iter()
            .map(|e| BlkioStatEntry {
                major: e.major,
                minor: e.minor,
                op: e.op.clone(),
                value: e.value,
            })
            .collect(),
    )
}

/// Go's RFC3339Nano in UTC: trailing zeros of the fraction dropped.
fn rfc3339_nano(t: SystemTime) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.into();
    let s = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's cgroup for `controller` (v1), or its v2 cgroup.
    fn own_cgroup(controller: &str) -> Option<String> {
        let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let mut v2 = None;
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            if ctrls.is_empty() {
                v2 = Some(path.to_string());
            } else if ctrls.split(',').any(|c| c == controller) {
                return Some(path.to_string());
            }
        }
        v2
    }

    async fn one(path: &str, stream: bool, one_shot: bool) -> ContainerStats {
        let mut rx = stats_stream(
            "abc".into(),
            "web".into(),
            path.to_string(),
            stream,
            one_shot,
            || true,
        );
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no stats in time")
            .expect("stats stream ended")
    }

    #[tokio::test]
    async fn own_cgroup_has_cpu_and_memory() {
        let Some(cpu_path) = own_cgroup("cpuacct") else {
            eprintln!("skipped: no /proc/self/cgroup");
            return;
        };
        let mem_path = own_cgroup("memory").unwrap_or(cpu_path.clone());
        // Burn some CPU so the cgroup's counter moves between the two samples.
        let burner = std::thread::spawn(|| {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_millis(1500) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            x
        });
        let s = one(&cpu_path, false, false).await;
        burner.join().unwrap();
        assert_eq!(s.name, "/web");
        assert_eq!(s.id, "abc");
        assert_ne!(s.read, ZERO_TIME);
        assert_ne!(s.preread, ZERO_TIME);
        assert!(s.read > s.preread, "{} > {}", s.read, s.preread);
        assert!(s.cpu_stats.cpu_usage.total_usage > 0);
        assert!(
            s.cpu_stats.cpu_usage.total_usage > s.precpu_stats.cpu_usage.total_usage,
            "cpu time moved between the samples"
        );
        assert!(s.cpu_stats.system_cpu_usage.unwrap() > s.precpu_stats.system_cpu_usage.unwrap());
        assert!(s.cpu_stats.online_cpus.unwrap() >= 1);

        let m = one(&mem_path, false, true).await;
        assert!(m.memory_stats.usage > 0);
        assert!(m.memory_stats.limit > 0);
        assert!(!m.memory_stats.stats.is_empty());
        assert_eq!(m.preread, ZERO_TIME, "one-shot has no previous sample");
        assert_eq!(m.precpu_stats, CpuStats::default());
        let v = serde_json::to_value(&m).unwrap();
        assert!(v["memory_stats"]["stats"].is_object());
        assert_eq!(v["name"], "/web");
    }

    #[tokio::test]
    async fn stream_chains_samples() {
        let Some(path) = own_cgroup("cpuacct") else {
            return;
        };
        let mut rx = stats_stream("abc".into(), "/web".into(), path, true, false, || true);
        let next = tokio::time::timeout(Duration::from_secs(5), rx.recv());
        let first = next.await.unwrap().unwrap();
        assert_eq!(first.preread, ZERO_TIME);
        assert_eq!(first.name, "/web");
        let second = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.preread, first.read);
        assert_eq!(second.precpu_stats, first.cpu_stats);
    }

    #[tokio::test]
    async fn stopped_container_is_zeroed() {
        let mut rx = stats_stream(
            "abc".into(),
            "web".into(),
            "/pouch/none".into(),
            false,
            false,
            || false,
        );
        let s = rx.recv().await.unwrap();
        assert_eq!(s.read, ZERO_TIME);
        assert_eq!(s.preread, ZERO_TIME);
        assert_eq!(s.cpu_stats, CpuStats::default());
        assert_eq!(s.memory_stats, MemoryStats::default());
        assert_eq!((s.name.as_str(), s.id.as_str()), ("/web", "abc"));
        assert!(rx.recv().await.is_none());
        // A missing cgroup of a "running" container gives the same.
        let s = one("/pouch/does-not-exist", false, true).await;
        assert_eq!(s.read, ZERO_TIME);
    }

    #[test]
    fn time_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 0);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20Z");
    }
}
