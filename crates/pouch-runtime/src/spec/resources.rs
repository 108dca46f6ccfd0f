//! Cgroup resources: Docker's `Resources` (create and `update`) checked and converted to OCI
//! `LinuxResources`: memory, swap, kernel memory where the kernel still has it, swappiness,
//! OOM killer, pids, blkio weight and throttles here, CPU in `spec::cpu`. Device rules are not
//! part of it (`spec::devices`).

use oci_spec::runtime::{
    LinuxBlockIo, LinuxMemory, LinuxPids, LinuxResources, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
};
use pouch_api::container::{Resources, ThrottleDevice};

use super::{cpu::cpu, devices, host, SpecError};

/// The smallest memory limit Docker accepts (6 MiB).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

fn num(n: i64) -> String {
    n.to_string()
}

fn memory(r: &Resources) -> Result<Option<LinuxMemory>, SpecError> {
    let mut m = LinuxMemory::default();
    let mut any = false;
    if r.memory < 0 {
        return Err(SpecError::invalid(
            "--memory",
            &num(r.memory),
            "must be positive",
        ));
    }
    if r.memory > 0 {
        if r.memory < MIN_MEMORY {
            return Err(SpecError::invalid(
                "--memory",
                &num(r.memory),
                "the minimum is 6 MiB",
            ));
        }
        m.set_limit(Some(r.memory));
        any = true;
    }
    match r.memory_swap {
        0 => {}
        -1 => {
            m.set_swap(Some(-1));
            any = true;
        }
        s if s > 0 => {
            if r.memory == 0 {
                return Err(SpecError::invalid(
                    "--memory-swap",
                    &num(s),
                    "set --memory too when you set --memory-swap",
                ));
            }
            if s < r.memory {
                return Err(SpecError::invalid(
                    "--memory-swap",
                    &num(s),
                    format!("must be larger than or equal to --memory {}", r.memory),
                ));
            }
            m.set_swap(Some(s));
            any = true;
        }
        s => {
            return Err(SpecError::invalid(
                "--memory-swap",
                &num(s),
                "must be positive or -1 (unlimited)",
            ))
        }
    }
    if r.memory_reservation < 0 {
        return Err(SpecError::invalid(
            "--memory-reservation",
            &num(r.memory_reservation),
            "must be positive",
        ));
    }
    if r.memory_reservation > 0 {
        if r.memory_reservation < MIN_MEMORY {
            return Err(SpecError::invalid(
                "--memory-reservation",
                &num(r.memory_reservation),
                "the minimum is 6 MiB",
            ));
        }
        if r.memory > 0 && r.memory_reservation > r.memory {
            return Err(SpecError::invalid(
                "--memory-reservation",
                &num(r.memory_reservation),
                format!("must be smaller than or equal to --memory {}", r.memory),
            ));
        }
        m.set_reservation(Some(r.memory_reservation));
        any = true;
    }
    if r.kernel_memory > 0 && host::kernel_memory_supported() {
        if r.kernel_memory < MIN_MEMORY {
            return Err(SpecError::invalid(
                "--kernel-memory",
                &num(r.kernel_memory),
                "the minimum is 6 MiB",
            ));
        }
        #[allow(deprecated)]
        m.set_kernel(Some(r.kernel_memory));
        any = true;
    }
    if r.kernel_memory_tcp > 0 && host::kernel_tcp_memory_supported() {
        m.set_kernel_tcp(Some(r.kernel_memory_tcp));
        any = true;
    }
    match r.memory_swappiness {
        None | Some(-1) => {}
        Some(s) if (0..=100).contains(&s) => {
            m.set_swappiness(Some(s as u64));
            any = true;
        }
        Some(s) => {
            return Err(SpecError::invalid(
                "--memory-swappiness",
                &s.to_string(),
                "must be between 0 and 100",
            ))
        }
    }
    if let Some(disable) = r.oom_kill_disable {
        m.set_disable_oom_killer(Some(disable));
        any = true;
    }
    Ok(any.then_some(m))
}

fn throttles(
    flag: &str,
    list: &[ThrottleDevice],
) -> Result<Option<Vec<LinuxThrottleDevice>>, SpecError> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for t in list {
        let (major, minor) = devices::block_numbers(flag, &t.path)?;
        let d = LinuxThrottleDeviceBuilder::default()
            .major(major)
            .minor(minor)
            .rate(t.rate)
            .build()
            .map_err(|e| SpecError::Internal(e.to_string()))?;
        out.push(d);
    }
    Ok(Some(out))
}

fn blkio_weight(flag: &str, value: &str, w: i64) -> Result<u16, SpecError> {
    if !(10..=1000).contains(&w) {
        return Err(SpecError::invalid(
            flag,
            value,
            "the weight must be between 10 and 1000",
        ));
    }
    Ok(w as u16)
}

fn block_io(r: &Resources) -> Result<Option<LinuxBlockIo>, SpecError> {
    let mut b = LinuxBlockIo::default();
    let mut any = false;
    if r.blkio_weight != 0 {
        let w = blkio_weight(
            "--blkio-weight",
            &r.blkio_weight.to_string(),
            r.blkio_weight,
        )?;
        b.set_weight(Some(w));
        any = true;
    }
    if !r.blkio_weight_device.is_empty() {
        let mut out = Vec::new();
        for wd in &r.blkio_weight_device {
            let flag = "--blkio-weight-device";
            let raw = format!("{}:{}", wd.path, wd.weight);
            let weight = blkio_weight(flag, &raw, wd.weight as i64)?;
            let (major, minor) = devices::block_numbers(flag, &wd.path)?;
            let d = LinuxWeightDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .weight(weight)
                .build()
                .map_err(|e| SpecError::Internal(e.to_string()))?;
            out.push(d);
        }
        b.set_weight_device(Some(out));
        any = true;
    }
    for (flag, list, set) in [
        ("--device-read-bps", &r.blkio_device_read_bps, 0),
        ("--device-write-bps", &r.blkio_device_write_bps, 1),
        ("--device-read-iops", &r.blkio_device_read_iops, 2),
        ("--device-write-iops", &r.blkio_device_write_iops, 3),
    ] {
        let Some(v) = throttles(flag, list)? else {
            continue;
        };
        match set {
            0 => b.set_throttle_read_bps_device(Some(v)),
            1 => b.set_throttle_write_bps_device(Some(v)),
            2 => b.set_throttle_read_iops_device(Some(v)),
            _ => b.set_throttle_write_iops_device(Some(v)),
        };
        any = true;
    }
    Ok(any.then_some(b))
}

/// Docker's `Resources` as OCI `LinuxResources` (without device rules). Used for the spec
/// and, serialised, for `runc update -r -`.
pub fn linux_resources(r: &Resources) -> Result<LinuxResources, SpecError> {
    let mut out = LinuxResources::default();
    out.set_memory(memory(r)?);
    out.set_cpu(cpu(r)?);
    out.set_block_io(block_io(r)?);
    if let Some(limit) = r.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(if limit <= 0 { -1 } else { limit });
        out.set_pids(Some(p));
    }
    Ok(out)
}

/// What `validate` warns about in the resources (settings that are accepted but not honoured).
pub fn warnings(r: &Resources) -> Vec<String> {
    let mut w = Vec::new();
    if r.kernel_memory > 0 && !host::kernel_memory_supported() {
        w.push("kernel memory limits are not supported by this kernel and are ignored".to_string());
    }
    if r.kernel_memory_tcp > 0 && !host::kernel_tcp_memory_supported() {
        w.push(
            "kernel TCP memory limits are not supported on this host and are ignored".to_string(),
        );
    }
    if r.oom_kill_disable == Some(true) && r.memory == 0 {
        w.push(
            "OOM killer is disabled for the container, but no memory limit is set, this can \
             result in the system running out of resources"
                .to_string(),
        );
    }
    if !r.device_requests.is_null() && r.device_requests.as_array().is_some_and(|a| !a.is_empty()) {
        w.push("device requests (--gpus) are not supported and are ignored".to_string());
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_resources_memory() {
        let r = Resources {
            memory: 1024,
            ..Default::default()
        };
        assert_eq!(
            linux_resources(&r).unwrap_err().to_string(),
            "invalid --memory 1024: the minimum is 6 MiB"
        );
        let m = 64 * 1024 * 1024;
        let r = Resources {
            memory: m,
            memory_swap: m / 2,
            ..Default::default()
        };
        assert!(linux_resources(&r)
            .unwrap_err()
            .to_string()
            .starts_with("invalid --memory-swap"));
        let r = Resources {
            memory: m,
            memory_swap: -1,
            memory_reservation: m / 2,
            memory_swappiness: Some(10),
            pids_limit: Some(0),
            ..Default::default()
        };
        let out = linux_resources(&r).unwrap();
        let mem = out.memory().unwrap();
        assert_eq!(mem.limit(), Some(m));
        assert_eq!(mem.swap(), Some(-1));
        assert_eq!(mem.reservation(), Some(m / 2));
        assert_eq!(mem.swappiness(), Some(10));
        assert_eq!(out.pids().unwrap().limit(), -1);
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["memory"]["limit"], m);
        assert!(linux_resources(&Resources {
            memory_swappiness: Some(101),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn spec_resources_blkio() {
        assert!(linux_resources(&Resources {
            blkio_weight: 5,
            ..Default::default()
        })
        .is_err());
        let out = linux_resources(&Resources {
            blkio_weight: 300,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(out.block_io().as_ref().unwrap().weight(), Some(300));
        let err = linux_resources(&Resources {
            blkio_device_read_bps: vec![ThrottleDevice {
                path: "/dev/pouch-no-such-disk".into(),
                rate: 1024,
            }],
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err
            .to_string()
            .starts_with("invalid --device-read-bps /dev/pouch-no-such-disk:"));
    }
}
