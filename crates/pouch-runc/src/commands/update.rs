//! `update`: new resource limits for a container's cgroup, from OCI `LinuxResources` JSON
//! (`--resources FILE`, `-` for stdin) or from runc's flags (`--memory`, `--cpu-quota`, ...).
//! The OOM killer stays as the bundle set it unless the JSON's memory says otherwise.

use std::io::Read;
use std::path::Path;

use libcgroups::common::{CgroupConfig, CgroupManager, ControllerOpt};
use libcontainer::container::ContainerStatus;
use libcontainer::error::LibcontainerError;
use libcontainer::oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpu, LinuxCpuBuilder, LinuxMemory, LinuxMemoryBuilder,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder, Spec,
};

use super::{load, runtime_error, status_name, CommandError};
use crate::cli::Globals;

pub fn update(args: liboci_cli::Update, globals: &Globals) -> Result<(), CommandError> {
    let id = args.container_id.clone();
    let container = load(&globals.root, &id)?;
    if container.status() == ContainerStatus::Stopped {
        return Err(CommandError::NotRunning {
            id,
            status: status_name(container.status()),
        });
    }
    let resources = match &args.resources {
        Some(path) => read_resources(&id, path)?,
        None => from_flags(&args).map_err(|message| CommandError::Resources {
            id: id.clone(),
            message,
        })?,
    };
    let disable_oom_killer = resources
        .memory()
        .as_ref()
        .and_then(|m| m.disable_oom_killer())
        .or_else(|| bundle_disables_oom_killer(container.bundle()))
        .unwrap_or(false);

    let cgroup_path = container
        .spec()
        .map_err(|e| runtime_error("update", &id, &e))?
        .cgroup_path;
    let manager = libcgroups::common::create_cgroup_manager(CgroupConfig {
        cgroup_path,
        systemd_cgroup: container.systemd(),
        container_name: id.clone(),
    })
    .map_err(|e| runtime_error("update", &id, &LibcontainerError::CgroupCreate(e)))?;
    manager
        .apply(&ControllerOpt {
            resources: &resources,
            disable_oom_killer,
            oom_score_adj: None,
            freezer_state: None,
        })
        .map_err(|e| runtime_error("update", &id, &LibcontainerError::CgroupManager(e)))
}

fn read_resources(id: &str, path: &Path) -> Result<LinuxResources, CommandError> {
    let name = path.display().to_string();
    let mut text = Vec::new();
    let read = if name == "-" {
        std::io::stdin().read_to_end(&mut text).map(drop)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut text).map(drop))
    };
    read.map_err(|source| CommandError::ResourcesRead {
        id: id.to_string(),
        path: name.clone(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| CommandError::ResourcesJson {
        id: id.to_string(),
        path: name,
        source,
    })
}

fn bundle_disables_oom_killer(bundle: &Path) -> Option<bool> {
    let spec = Spec::load(bundle.join("config.json")).ok()?;
    spec.linux()
        .as_ref()?
        .resources()
        .as_ref()?
        .memory()
        .as_ref()?
        .disable_oom_killer()
}

/// runc's update flags as `LinuxResources` (only what was given).
fn from_flags(args: &liboci_cli::Update) -> Result<LinuxResources, String> {
    let mut builder = LinuxResourcesBuilder::default();

    let mut memory = LinuxMemoryBuilder::default();
    if let Some(limit) = args.memory {
        memory = memory.limit(to_i64("--memory", limit)?);
    }
    if let Some(reservation) = args.memory_reservation {
        memory = memory.reservation(to_i64("--memory-reservation", reservation)?);
    }
    if let Some(swap) = args.memory_swap {
        memory = memory.swap(swap);
    }
    let memory = memory.build().map_err(|e| e.to_string())?;
    if memory != LinuxMemory::default() {
        builder = builder.memory(memory);
    }

    let mut cpu = LinuxCpuBuilder::default();
    if let Some(shares) = args.cpu_share {
        cpu = cpu.shares(shares);
    }
    if let Some(period) = args.cpu_period {
        cpu = cpu.period(period);
    }
    if let Some(quota) = args.cpu_quota {
        cpu = cpu.quota(to_i64("--cpu-quota", quota)?);
    }
    if let Some(period) = args.cpu_rt_period {
        cpu = cpu.realtime_period(period);
    }
    if let Some(runtime) = args.cpu_rt_runtime {
        cpu = cpu.realtime_runtime(to_i64("--cpu-rt-runtime", runtime)?);
    }
    if let Some(cpus) = &args.cpuset_cpus {
        cpu = cpu.cpus(cpus.clone());
    }
    if let Some(mems) = &args.cpuset_mems {
        cpu = cpu.mems(mems.clone());
    }
    let cpu = cpu.build().map_err(|e| e.to_string())?;
    if cpu != LinuxCpu::default() {
        builder = builder.cpu(cpu);
    }

    if let Some(limit) = args.pids_limit {
        let pids = LinuxPidsBuilder::default()
            .limit(limit)
            .build()
            .map_err(|e| e.to_string())?;
        builder = builder.pids(pids);
    }
    if let Some(weight) = args.blkio_weight {
        let weight = u16::try_from(weight)
            .map_err(|_| format!("--blkio-weight {weight} is out of range (10 to 1000)"))?;
        let block_io = LinuxBlockIoBuilder::default()
            .weight(weight)
            .build()
            .map_err(|e| e.to_string())?;
        builder = builder.block_io(block_io);
    }
    builder.build().map_err(|e| e.to_string())
}

fn to_i64(flag: &str, value: u64) -> Result<i64, String> {
    i64::try_from(value).map_err(|_| format!("{flag} {value} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        update: liboci_cli::Update,
    }

    fn flags(args: &[&str]) -> liboci_cli::Update {
        Wrap::try_parse_from(std::iter::once("update").chain(args.iter().copied()))
            .expect("parse")
            .update
    }

    #[test]
    fn flags_become_resources() {
        let r = from_flags(&flags(&[
            "--memory",
            "67108864",
            "--cpu-quota",
            "50000",
            "--pids-limit",
            "64",
            "abc",
        ]))
        .expect("resources");
        assert_eq!(r.memory().as_ref().and_then(|m| m.limit()), Some(67108864));
        assert_eq!(r.cpu().as_ref().and_then(|c| c.quota()), Some(50000));
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(64));
        assert!(r.block_io().is_none());

        let r = from_flags(&flags(&["abc"])).expect("resources");
        assert!(r.memory().is_none() && r.cpu().is_none() && r.pids().is_none());
    }

    #[test]
    fn resources_json_is_oci() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        std::fs::write(
            &path,
            r#"{"memory":{"limit":33554432},"cpu":{"shares":512}}"#,
        )
        .expect("write");
        let r = read_resources("abc", &path).expect("resources");
        assert_eq!(r.memory().as_ref().and_then(|m| m.limit()), Some(33554432));
        std::fs::write(&path, "{not json").expect("write");
        let err = read_resources("abc", &path).expect_err("bad json");
        assert!(err.to_string().contains("invalid resources JSON"), "{err}");
    }
}
