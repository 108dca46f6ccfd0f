//! CPU resources: `--cpu-shares`, `--cpu-period`/`--cpu-quota`, `--cpus` (a CFS quota over a
//! 100 ms period), the realtime settings, and `--cpuset-cpus`/`--cpuset-mems` checked against
//! the host's online CPUs and memory nodes.

use oci_spec::runtime::LinuxCpu;
use pouch_api::container::Resources;

use super::{host, SpecError};

/// The CFS period `--cpus` uses (100 ms).
const NANO_CPU_PERIOD: u64 = 100_000;

/// Checks a cpuset list against the host's online list.
fn cpuset(flag: &str, value: &str, online: Option<String>, what: &str) -> Result<(), SpecError> {
    let wanted = host::parse_list(value)
        .ok_or_else(|| SpecError::invalid(flag, value, "bad list syntax (want e.g. 0-3,5)"))?;
    if let Some(online) = online {
        let have = host::parse_list(&online).unwrap_or_default();
        if !have.is_empty() && !wanted.is_subset(&have) {
            return Err(SpecError::invalid(
                flag,
                value,
                format!("this host has {what} {online}"),
            ));
        }
    }
    Ok(())
}

pub fn cpu(r: &Resources) -> Result<Option<LinuxCpu>, SpecError> {
    let mut c = LinuxCpu::default();
    let mut any = false;
    if r.cpu_shares < 0 {
        return Err(SpecError::invalid(
            "--cpu-shares",
            &r.cpu_shares.to_string(),
            "must be positive",
        ));
    }
    if r.cpu_shares > 0 {
        c.set_shares(Some(r.cpu_shares as u64));
        any = true;
    }
    if r.nano_cpus != 0 && (r.cpu_quota != 0 || r.cpu_period != 0) {
        return Err(SpecError::invalid(
            "--cpus",
            &format_cpus(r.nano_cpus),
            "conflicting options: --cpus and --cpu-period/--cpu-quota",
        ));
    }
    if r.nano_cpus != 0 {
        let count = host::cpu_count() as i64;
        if r.nano_cpus < 10_000_000 || r.nano_cpus > count * 1_000_000_000 {
            return Err(SpecError::invalid(
                "--cpus",
                &format_cpus(r.nano_cpus),
                format!("the range is 0.01 to {count}.00 on this host"),
            ));
        }
        c.set_period(Some(NANO_CPU_PERIOD));
        c.set_quota(Some(r.nano_cpus * NANO_CPU_PERIOD as i64 / 1_000_000_000));
        any = true;
    }
    if r.cpu_period != 0 {
        if !(1000..=1_000_000).contains(&r.cpu_period) {
            return Err(SpecError::invalid(
                "--cpu-period",
                &r.cpu_period.to_string(),
                "must be between 1000 (1ms) and 1000000 (1s)",
            ));
        }
        c.set_period(Some(r.cpu_period as u64));
        any = true;
    }
    if r.cpu_quota != 0 {
        if r.cpu_quota > 0 && r.cpu_quota < 1000 {
            return Err(SpecError::invalid(
                "--cpu-quota",
                &r.cpu_quota.to_string(),
                "the minimum is 1000 (1ms)",
            ));
        }
        c.set_quota(Some(if r.cpu_quota < 0 { -1 } else { r.cpu_quota }));
        any = true;
    }
    if r.cpu_realtime_period != 0 {
        c.set_realtime_period(Some(r.cpu_realtime_period as u64));
        any = true;
    }
    if r.cpu_realtime_runtime != 0 {
        c.set_realtime_runtime(Some(r.cpu_realtime_runtime));
        any = true;
    }
    if !r.cpuset_cpus.is_empty() {
        cpuset("--cpuset-cpus", &r.cpuset_cpus, host::online_cpus(), "cpus")?;
        c.set_cpus(Some(r.cpuset_cpus.clone()));
        any = true;
    }
    if !r.cpuset_mems.is_empty() {
        cpuset(
            "--cpuset-mems",
            &r.cpuset_mems,
            host::online_mems(),
            "memory nodes",
        )?;
        c.set_mems(Some(r.cpuset_mems.clone()));
        any = true;
    }
    Ok(any.then_some(c))
}

fn format_cpus(nano: i64) -> String {
    format!("{:.2}", nano as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::linux_resources;

    #[test]
    fn spec_resources_nano_cpus() {
        let r = Resources {
            nano_cpus: 1_500_000_000,
            ..Default::default()
        };
        let out = linux_resources(&r);
        if host::cpu_count() < 2 {
            assert!(out.is_err());
            return;
        }
        let cpu = out.unwrap().cpu().clone().unwrap();
        assert_eq!(cpu.period(), Some(100_000));
        assert_eq!(cpu.quota(), Some(150_000));
        let r = Resources {
            nano_cpus: 500_000_000,
            cpu_quota: 20_000,
            ..Default::default()
        };
        let err = linux_resources(&r).unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err
            .to_string()
            .ends_with("conflicting options: --cpus and --cpu-period/--cpu-quota"));
    }

    #[test]
    fn spec_resources_cpuset_out_of_range_names_the_flag() {
        let r = Resources {
            cpuset_cpus: "0-99".into(),
            ..Default::default()
        };
        let err = linux_resources(&r).unwrap_err();
        let online = host::online_cpus().unwrap();
        assert_eq!(
            err.to_string(),
            format!("invalid --cpuset-cpus 0-99: this host has cpus {online}")
        );
        let r = Resources {
            cpuset_cpus: "0".into(),
            cpuset_mems: "0".into(),
            ..Default::default()
        };
        let cpu = linux_resources(&r).unwrap().cpu().clone().unwrap();
        assert_eq!(cpu.cpus().as_deref(), Some("0"));
        let r = Resources {
            cpuset_mems: "7-x".into(),
            ..Default::default()
        };
        assert!(linux_resources(&r)
            .unwrap_err()
            .to_string()
            .starts_with("invalid --cpuset-mems 7-x"));
    }
}
