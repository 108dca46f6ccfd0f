//! `validate`: the checks of a create body that need no rootfs, run at create so a bad flag is
//! a 400 before anything is made (`generate` repeats them at start). Returns Docker-style
//! warnings for settings that are accepted but not honoured.

use pouch_api::container::{ContainerConfig, HostConfig};

use super::options::{self, Ipc, SeccompChoice};
use super::{caps, devices, host, resources, seccomp, user_mounts, working_dir, SpecError};

/// Checks a create body; `Ok` holds the warnings for the create answer.
pub fn validate(config: &ContainerConfig, host: &HostConfig) -> Result<Vec<String>, SpecError> {
    let mut warnings = Vec::new();
    if let Some(mode) = super::RichMode::of(config)? {
        if host.resources.init == Some(true) && !mode.uses_pouch_init() {
            return Err(SpecError::invalid(
                "--init",
                "true",
                format!(
                    "a {} rich container runs the image's init as PID 1: drop --init",
                    mode.name()
                ),
            ));
        }
    }
    let modes = options::modes(host)?;
    let security = options::security_opts(host)?;
    let caps = caps::capability_set(
        host.cap_add.as_deref().unwrap_or_default(),
        host.cap_drop.as_deref().unwrap_or_default(),
        host.privileged,
    )?;
    if let SeccompChoice::Profile(v) = &security.seccomp {
        let profile = seccomp::parse_user_profile(v)?;
        seccomp::translate(&profile, &caps, &seccomp::Target::host())?;
        if host.privileged {
            warnings.push("the seccomp profile is not applied to a privileged container".into());
        }
    }
    if let Some(profile) = &security.apparmor {
        if !host::apparmor_enabled() && profile != "unconfined" {
            warnings.push(format!(
                "AppArmor is not enabled on this host; apparmor={profile} is ignored"
            ));
        }
    }
    options::check_sysctls(
        &host.sysctls,
        modes.ipc == Ipc::Host,
        host.network_mode == "host",
    )?;
    options::rlimits(&host.resources.ulimits)?;
    options::oom_score_adj(host.oom_score_adj)?;
    if host.shm_size < 0 {
        return Err(SpecError::invalid(
            "--shm-size",
            &host.shm_size.to_string(),
            "must be positive",
        ));
    }
    working_dir(&config.working_dir)?;

    resources::linux_resources(&host.resources)?;
    warnings.extend(resources::warnings(&host.resources));
    for m in &host.resources.devices {
        devices::from_mapping(m)?;
    }
    for r in host.resources.device_cgroup_rules.iter().flatten() {
        devices::parse_cgroup_rule(r)?;
    }
    if host.privileged && !host.resources.devices.is_empty() {
        warnings.push("a privileged container gets every host device; --device is ignored".into());
    }
    user_mounts::check(host)?;
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::{DeviceMapping, Resources};

    #[test]
    fn spec_validate_accepts_the_default_and_names_bad_flags() {
        let config = ContainerConfig::default();
        assert!(validate(&config, &HostConfig::default())
            .unwrap()
            .is_empty());

        let bad = HostConfig {
            cap_add: Some(vec!["FOO".into()]),
            ..Default::default()
        };
        assert_eq!(
            validate(&config, &bad).unwrap_err().to_string(),
            "invalid --cap-add FOO: unknown capability (see capabilities(7))"
        );
        let bad = HostConfig {
            resources: Resources {
                memory: 1024,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(validate(&config, &bad).unwrap_err().is_invalid_argument());
        let bad = HostConfig {
            network_mode: "host".into(),
            sysctls: [("net.core.somaxconn".to_string(), "1024".to_string())].into(),
            ..Default::default()
        };
        assert!(validate(&config, &bad)
            .unwrap_err()
            .to_string()
            .starts_with("invalid --sysctl"));
        let bad = HostConfig {
            resources: Resources {
                devices: vec![DeviceMapping {
                    path_on_host: "/dev/pouch-none".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(validate(&config, &bad)
            .unwrap_err()
            .to_string()
            .starts_with("invalid --device"));
        let bad_dir = ContainerConfig {
            working_dir: "relative".into(),
            ..Default::default()
        };
        assert!(validate(&bad_dir, &HostConfig::default()).is_err());
    }

    #[test]
    fn spec_validate_warns() {
        let host = HostConfig {
            resources: Resources {
                oom_kill_disable: Some(true),
                ..Default::default()
            },
            ..Default::default()
        };
        let w = validate(&ContainerConfig::default(), &host).unwrap();
        assert!(w.iter().any(|w| w.contains("OOM killer is disabled")));
    }
}
