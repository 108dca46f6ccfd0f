//! `list` (`GET /containers/json` with Docker's filters) and `inspect`, both built from the
//! record: Docker's shapes and its human `Status` text.

use std::collections::BTreeMap;

use pouch_api::container::{
    ContainerInspect, ContainerSummary, EndpointSettings, MountPoint, NetworkSettings, Port,
    SummaryHostConfig, SummaryNetworkSettings,
};
use pouch_api::image::GraphDriver;
use pouch_api::{ApiError, Filters};

use super::record::{ContainerRecord, Status};
use super::{Container, Containers};

/// `GET /containers/json` options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    /// Newest N (`-n`); `None` or negative = no limit.
    pub limit: Option<i64>,
    pub size: bool,
    pub filters: Filters,
}

const LIST_FILTERS: &[&str] = &[
    "id",
    "name",
    "label",
    "status",
    "exited",
    "ancestor",
    "before",
    "since",
    "volume",
    "network",
    "health",
    "isolation",
    "is-task",
    "publish",
    "expose",
];

impl Containers {
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>, ApiError> {
        let f = &opts.filters;
        f.check_keys(LIST_FILTERS)?;
        for s in f.get("status") {
            if !matches!(
                s.as_str(),
                "created" | "restarting" | "running" | "removing" | "paused" | "exited" | "dead"
            ) {
                return Err(ApiError::invalid(format!(
                    "invalid filter 'status={s}': use created, restarting, running, removing, paused, exited or dead"
                )));
            }
        }
        let mut recs: Vec<ContainerRecord> = self.all().iter().map(|c| c.record()).collect();
        recs.sort_by(|a, b| b.created.cmp(&a.created));
        let created_of =
            |name: &str| -> Result<String, ApiError> { Ok(self.get(name)?.record().created) };
        let before = f.get("before").last().map(|n| created_of(n)).transpose()?;
        let since = f.get("since").last().map(|n| created_of(n)).transpose()?;
        let all = opts.all || !f.get("status").is_empty() || opts.limit.is_some_and(|l| l > 0);
        let mut out = Vec::new();
        for r in recs {
            if !all && !r.state.status.is_alive() && r.state.status != Status::Restarting {
                continue;
            }
            if before.as_ref().is_some_and(|b| r.created >= *b)
                || since.as_ref().is_some_and(|s| r.created <= *s)
                || !matches_filters(&r, f)
            {
                continue;
            }
            out.push(self.summary(&r, opts.size));
            if opts.limit.is_some_and(|l| l > 0 && out.len() as i64 >= l) {
                break;
            }
        }
        Ok(out)
    }

    fn summary(&self, r: &ContainerRecord, size: bool) -> ContainerSummary {
        let mut command = vec![r.path.clone()];
        command.extend(r.args.iter().cloned());
        ContainerSummary {
            id: r.id.clone(),
            names: vec![format!("/{}", r.name)],
            image: r.image_name.clone(),
            image_id: r.image_id.clone(),
            command: command.join(" "),
            created: chrono::DateTime::parse_from_rfc3339(&r.created)
                .map(|d| d.timestamp())
                .unwrap_or(0),
            ports: summary_ports(r),
            size_rw: size.then(|| self.snapshots.rw_usage(&r.id) as i64),
            size_root_fs: None,
            labels: r.config.labels.clone(),
            state: r.state.status.as_str().to_string(),
            status: status_text(r),
            host_config: SummaryHostConfig {
                network_mode: r.host_config.network_mode.clone(),
                annotations: r.host_config.annotations.clone(),
            },
            network_settings: SummaryNetworkSettings {
                networks: networks(r),
            },
            mounts: mounts(r),
        }
    }

    pub fn inspect(&self, name: &str, size: bool) -> Result<ContainerInspect, ApiError> {
        let c = self.get(name)?;
        Ok(self.inspect_container(&c, size))
    }

    pub(super) fn inspect_container(&self, c: &Container, size: bool) -> ContainerInspect {
        let r = c.record();
        let bundle = self.paths.bundle(&r.id);
        let rw = self.snapshots.rw(&r.id).ok();
        let mut gd = BTreeMap::new();
        if let Some(rw) = &rw {
            gd.insert("UpperDir".to_string(), rw.upper.display().to_string());
            gd.insert("WorkDir".to_string(), rw.work.display().to_string());
            gd.insert(
                "MergedDir".to_string(),
                self.paths.rootfs(&r.id).display().to_string(),
            );
            gd.insert(
                "LowerDir".to_string(),
                r.lower_dirs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
            );
        }
        let execs = c.execs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let log_path = if r.host_config.log_config.kind == "json-file" {
            self.paths.log_path(&r.id).display().to_string()
        } else {
            String::new()
        };
        ContainerInspect {
            id: r.id.clone(),
            created: r.created.clone(),
            path: r.path.clone(),
            args: r.args.clone(),
            state: r.state.to_api(),
            image: r.image_id.clone(),
            resolv_conf_path: bundle.join("resolv.conf").display().to_string(),
            hostname_path: bundle.join("hostname").display().to_string(),
            hosts_path: bundle.join("hosts").display().to_string(),
            log_path,
            name: format!("/{}", r.name),
            restart_count: r.state.restart_count,
            driver: "overlayfs".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: (!execs.is_empty()).then_some(execs),
            host_config: r.host_config.clone(),
            graph_driver: GraphDriver {
                name: "overlayfs".into(),
                data: gd,
            },
            size_rw: size.then(|| self.snapshots.rw_usage(&r.id) as i64),
            size_root_fs: None,
            mounts: mounts(&r),
            config: r.config.clone(),
            network_settings: NetworkSettings {
                sandbox_key: if r.state.status.is_alive() && r.host_config.network_mode != "host" {
                    if r.endpoints.is_empty() {
                        format!("/proc/{}/ns/net", r.state.pid)
                    } else {
                        self.paths
                            .exec_root
                            .join("netns")
                            .join(&r.id)
                            .display()
                            .to_string()
                    }
                } else {
                    String::new()
                },
                ports: r.ports.clone(),
                ..primary_settings(&r)
            },
        }
    }
}

/// The networks a container is on: the live endpoints while it runs, else the networks it
/// asked for (empty addresses), else its mode's name (`host`, `none`).
fn networks(r: &ContainerRecord) -> BTreeMap<String, EndpointSettings> {
    let mut out: BTreeMap<String, EndpointSettings> = r
        .networks
        .iter()
        .map(|(name, asked)| {
            let live = r.endpoints.get(name).cloned();
            let mut es = live.unwrap_or_else(|| EndpointSettings {
                ipam_config: asked.ipam_config.clone(),
                aliases: asked.aliases.clone(),
                ..Default::default()
            });
            if es.mac_address.is_empty() {
                es.mac_address = asked.mac_address.clone();
            }
            (name.clone(), es)
        })
        .collect();
    if out.is_empty() {
        let mode = match r.host_config.network_mode.as_str() {
            "default" | "" => "bridge",
            m => m,
        };
        if !mode.starts_with("container:") {
            out.insert(mode.to_string(), EndpointSettings::default());
        }
    }
    out
}

/// The top-level (deprecated but still read) fields of `NetworkSettings`: the default
/// bridge's endpoint, and the networks.
fn primary_settings(r: &ContainerRecord) -> NetworkSettings {
    let nets = networks(r);
    let mut s = NetworkSettings {
        networks: nets.clone(),
        ..Default::default()
    };
    if let Some(e) = nets.get("bridge").filter(|e| !e.ip_address.is_empty()) {
        s.endpoint_id = e.endpoint_id.clone();
        s.gateway = e.gateway.clone();
        s.ip_address = e.ip_address.clone();
        s.ip_prefix_len = e.ip_prefix_len;
        s.mac_address = e.mac_address.clone();
    }
    s
}

/// `docker ps`'s port list from the published ports.
fn summary_ports(r: &ContainerRecord) -> Vec<Port> {
    let mut out = Vec::new();
    for (key, bindings) in &r.ports {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(private_port) = port.parse::<u16>() else {
            continue;
        };
        match bindings {
            Some(v) if !v.is_empty() => {
                for b in v {
                    out.push(Port {
                        ip: b.host_ip.clone(),
                        private_port,
                        public_port: b.host_port.parse().ok(),
                        kind: proto.to_string(),
                    });
                }
            }
            _ => out.push(Port {
                ip: String::new(),
                private_port,
                public_port: None,
                kind: proto.to_string(),
            }),
        }
    }
    out
}

/// The container's mounts as resolved at create (Docker's `Mounts`).
fn mounts(r: &ContainerRecord) -> Vec<MountPoint> {
    r.mounts.clone()
}

fn matches_filters(r: &ContainerRecord, f: &Filters) -> bool {
    let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
        let vals = f.get(key);
        vals.is_empty() || vals.iter().any(|v| pred(v))
    };
    any("id", &|v| r.id.starts_with(v))
        && any("name", &|v| {
            let v = v.strip_prefix('/').unwrap_or(v);
            r.name.contains(v)
        })
        && any("status", &|v| r.state.status.as_str() == v)
        && any("exited", &|v| {
            r.state.status == Status::Exited && v.parse::<i64>() == Ok(r.state.exit_code)
        })
        && any("ancestor", &|v| {
            r.image_name == v
                || r.image_name.strip_suffix(":latest") == Some(v)
                || v.strip_suffix(":latest") == Some(r.image_name.as_str())
                || r.image_id == v
                || r.image_id.trim_start_matches("sha256:").starts_with(v)
        })
        && any("network", &|v| networks(r).contains_key(v))
        && labels_match(f.get("label"), &r.config.labels)
}

/// Docker's label filter: every `key` or `key=value` must match.
pub(super) fn labels_match(filters: &[String], labels: &BTreeMap<String, String>) -> bool {
    filters.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(f.as_str()),
    })
}

/// Docker's `Status` column: `Up 5 minutes`, `Up 2 seconds (Paused)`, `Exited (0) 3 hours
/// ago`, `Created`, `Restarting (1) 2 seconds ago`.
fn status_text(r: &ContainerRecord) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| (chrono::Utc::now() - d.with_timezone(&chrono::Utc)).num_seconds())
            .unwrap_or(0)
    };
    match r.state.status {
        Status::Running => format!("Up {}", human_duration(since(&r.state.started_at))),
        Status::Paused => format!("Up {} (Paused)", human_duration(since(&r.state.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            r.state.exit_code,
            human_duration(since(&r.state.finished_at))
        ),
        Status::Exited if r.state.started_at != super::record::ZERO_TIME => format!(
            "Exited ({}) {} ago",
            r.state.exit_code,
            human_duration(since(&r.state.finished_at))
        ),
        Status::Exited | Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

/// go-units `HumanDuration`.
pub(super) fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        _ if s < 3600 => format!("{} minutes", s / 60),
        _ if s < 2 * 3600 => "About an hour".into(),
        _ if s < 48 * 3600 => format!("{} hours", s / 3600),
        _ if s < 7 * 24 * 3600 * 2 => format!("{} days", s / (24 * 3600)),
        _ if s < 30 * 24 * 3600 * 3 => format!("{} weeks", s / (7 * 24 * 3600)),
        _ if s < 365 * 24 * 3600 * 2 => format!("{} months", s / (30 * 24 * 3600)),
        _ => format!("{} years", s / (365 * 24 * 3600)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3 * 3600), "3 hours");
    }

    #[test]
    fn label_filters() {
        let l = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert!(labels_match(&["a".into()], &l));
        assert!(labels_match(&["a=1".into()], &l));
        assert!(!labels_match(&["a=2".into()], &l));
        assert!(!labels_match(&["b".into()], &l));
    }
}
