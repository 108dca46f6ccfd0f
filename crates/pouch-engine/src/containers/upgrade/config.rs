//! What an upgrade gives the container from its new image: the merged config (what came
//! from the old image follows the new one, what the user set stays; Pouch's entrypoint and
//! command precedence) and the anonymous volumes for the new image's `VOLUME`s.

use std::collections::BTreeSet;

use pouch_api::container::{ContainerConfig, ContainerUpgradeConfig};
use pouch_api::image::ImageConfig;
use pouch_api::ApiError;

use crate::containers::mounts::Planned;
use crate::containers::record::ContainerRecord;
use crate::edits::key_of as env_key;

/// Anonymous volumes for the new image's `VOLUME`s that none of the container's mounts or
/// tmpfs covers (as create makes them).
pub(super) fn new_volumes(
    old: &ContainerRecord,
    image: Option<&ImageConfig>,
) -> Result<Vec<Planned>, ApiError> {
    let host = &old.host_config;
    let covered: BTreeSet<String> = old
        .mounts
        .iter()
        .map(|m| m.destination.as_str())
        .chain(host.tmpfs.keys().map(String::as_str))
        .filter_map(pouch_volume::clean_destination)
        .collect();
    let mut out = Vec::new();
    for dest in image
        .and_then(|i| i.volumes.as_ref())
        .into_iter()
        .flat_map(|v| v.keys())
    {
        let spec = pouch_volume::parse_bind(dest, &host.volume_driver).map_err(ApiError::from)?;
        if spec.kind != pouch_volume::MountKind::Volume || !spec.source.is_empty() {
            return Err(ApiError::invalid(format!(
                "invalid volume {dest} in the new image: a container path is expected"
            )));
        }
        if covered.contains(&spec.destination) {
            continue;
        }
        out.push(Planned::Anonymous(spec));
    }
    Ok(out)
}

/// The container's config on the new image. What came from the old image (equal to the old
/// image's value) becomes the new image's; what the user set stays. Entrypoint and command
/// follow Pouch's upgrade and Docker's create: a given entrypoint wins and drops the image's
/// command unless a command is given too; a given command alone keeps the new image's
/// entrypoint; otherwise both are the new image's. An empty entrypoint clears the image's.
pub(super) fn upgraded_config(
    cur: &ContainerConfig,
    old: Option<&ImageConfig>,
    new: Option<&ImageConfig>,
    req: &ContainerUpgradeConfig,
    image_name: &str,
) -> ContainerConfig {
    let none = ImageConfig::default();
    let (old, new) = (old.unwrap_or(&none), new.unwrap_or(&none));
    let mut c = cur.clone();
    c.image = image_name.to_string();

    let old_env = old.env.clone().unwrap_or_default();
    let mut env = new.env.clone().unwrap_or_default();
    for e in cur.env.iter().flatten().filter(|e| !old_env.contains(e)) {
        env.retain(|x| env_key(x) != env_key(e));
        env.push(e.clone());
    }
    c.env = Some(env);

    let cmd = req.cmd.clone().filter(|v| !v.is_empty());
    match &req.entrypoint {
        Some(e) if e.iter().any(|s| !s.is_empty()) => {
            c.entrypoint = Some(e.clone());
            c.cmd = cmd;
        }
        Some(_) => {
            c.entrypoint = None;
            c.cmd = cmd.or_else(|| new.cmd.clone());
        }
        None => {
            c.entrypoint = new.entrypoint.clone().filter(|e| !e.is_empty());
            c.cmd = cmd.or_else(|| new.cmd.clone());
        }
    }

    let from_old = |cur: &str, old: &str, new: &str| {
        if cur == old {
            new.to_string()
        } else {
            cur.to_string()
        }
    };
    c.working_dir = from_old(&cur.working_dir, &old.working_dir, &new.working_dir);
    c.user = from_old(&cur.user, &old.user, &new.user);
    c.stop_signal = from_old(
        &cur.stop_signal,
        old.stop_signal.as_deref().unwrap_or_default(),
        new.stop_signal.as_deref().unwrap_or_default(),
    );

    let old_labels = old.labels.clone().unwrap_or_default();
    let mut labels = new.labels.clone().unwrap_or_default();
    for (k, v) in &cur.labels {
        if old_labels.get(k) != Some(v) {
            labels.insert(k.clone(), v.clone());
        }
    }
    c.labels = labels;

    let old_ports = old.exposed_ports.clone().unwrap_or_default();
    let mut ports = new.exposed_ports.clone().unwrap_or_default();
    for (k, v) in cur.exposed_ports.iter().flatten() {
        if !old_ports.contains_key(k) {
            ports.insert(k.clone(), v.clone());
        }
    }
    c.exposed_ports =
        (!ports.is_empty() || cur.exposed_ports.is_some() || new.exposed_ports.is_some())
            .then_some(ports);

    // Volumes stay mounted, so every one stays in the config, with the new image's added.
    if let Some(vols) = &new.volumes {
        let mut all = cur.volumes.clone().unwrap_or_default();
        all.extend(vols.clone());
        c.volumes = Some(all);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::MountPoint;
    use std::collections::BTreeMap;

    fn img(env: &[&str], entrypoint: Option<&[&str]>, cmd: &[&str]) -> ImageConfig {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        ImageConfig {
            env: Some(v(env)),
            entrypoint: entrypoint.map(v),
            cmd: Some(v(cmd)),
            ..Default::default()
        }
    }

    fn strings(s: &[&str]) -> Option<Vec<String>> {
        Some(s.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn env_keeps_what_the_user_set() {
        let old = img(&["PATH=/old", "V=1", "ONLY_OLD=x"], None, &["sh"]);
        let new = img(&["PATH=/new", "V=2", "ONLY_NEW=y"], None, &["sh"]);
        let cur = ContainerConfig {
            env: strings(&["PATH=/old", "V=1", "ONLY_OLD=x", "MINE=1", "V2=z"]),
            ..Default::default()
        };
        let req = ContainerUpgradeConfig::default();
        let c = upgraded_config(&cur, Some(&old), Some(&new), &req, "app:2");
        assert_eq!(
            c.env.unwrap(),
            vec!["PATH=/new", "V=2", "ONLY_NEW=y", "MINE=1", "V2=z"]
        );
        assert_eq!(c.image, "app:2");
        // A user value for a key of the image overrides the new image's too.
        let cur = ContainerConfig {
            env: strings(&["PATH=/old", "V=mine"]),
            ..Default::default()
        };
        let c = upgraded_config(&cur, Some(&old), Some(&new), &req, "app:2");
        assert_eq!(c.env.unwrap(), vec!["PATH=/new", "ONLY_NEW=y", "V=mine"]);
    }

    #[test]
    fn entrypoint_and_cmd_precedence() {
        let old = img(&[], Some(&["/old-init"]), &["old"]);
        let new = img(&[], Some(&["/init"]), &["serve"]);
        let cur = ContainerConfig {
            entrypoint: strings(&["/old-init"]),
            cmd: strings(&["user", "cmd"]),
            ..Default::default()
        };
        let run = |entrypoint: Option<&[&str]>, cmd: Option<&[&str]>| {
            let req = ContainerUpgradeConfig {
                image: "app:2".into(),
                entrypoint: entrypoint.and_then(strings),
                cmd: cmd.and_then(strings),
            };
            let c = upgraded_config(&cur, Some(&old), Some(&new), &req, "app:2");
            (c.entrypoint, c.cmd)
        };
        // Nothing given: both the new image's (the old user command does not survive).
        assert_eq!(run(None, None), (strings(&["/init"]), strings(&["serve"])));
        // A command alone keeps the new image's entrypoint.
        assert_eq!(
            run(None, Some(&["echo", "hi"])),
            (strings(&["/init"]), strings(&["echo", "hi"]))
        );
        // An entrypoint drops the image's command unless one is given.
        assert_eq!(run(Some(&["/bin/sh"]), None), (strings(&["/bin/sh"]), None));
        assert_eq!(
            run(Some(&["/bin/sh"]), Some(&["-c", "x"])),
            (strings(&["/bin/sh"]), strings(&["-c", "x"]))
        );
        // An empty entrypoint clears the image's and keeps its command.
        assert_eq!(run(Some(&[""]), None), (None, strings(&["serve"])));
    }

    #[test]
    fn image_derived_fields_follow_the_new_image() {
        let mut old = img(&[], None, &["sh"]);
        old.working_dir = "/old".into();
        old.user = "1".into();
        old.labels = Some(BTreeMap::from([
            ("v".to_string(), "1".to_string()),
            ("gone".to_string(), "x".to_string()),
        ]));
        old.exposed_ports = Some(BTreeMap::from([("80/tcp".into(), serde_json::json!({}))]));
        let mut new = img(&[], None, &["sh"]);
        new.working_dir = "/new".into();
        new.labels = Some(BTreeMap::from([("v".to_string(), "2".to_string())]));
        new.exposed_ports = Some(BTreeMap::from([("8080/tcp".into(), serde_json::json!({}))]));
        new.volumes = Some(BTreeMap::from([("/cache".into(), serde_json::json!({}))]));
        let cur = ContainerConfig {
            working_dir: "/old".into(),
            user: "me".into(),
            hostname: "keep".into(),
            labels: BTreeMap::from([
                ("v".to_string(), "1".to_string()),
                ("gone".to_string(), "x".to_string()),
                ("mine".to_string(), "y".to_string()),
            ]),
            exposed_ports: Some(BTreeMap::from([
                ("80/tcp".into(), serde_json::json!({})),
                ("9000/tcp".into(), serde_json::json!({})),
            ])),
            volumes: Some(BTreeMap::from([("/data".into(), serde_json::json!({}))])),
            disk_quota: BTreeMap::from([("/".to_string(), "10m".to_string())]),
            ..Default::default()
        };
        let req = ContainerUpgradeConfig::default();
        let c = upgraded_config(&cur, Some(&old), Some(&new), &req, "app:2");
        assert_eq!(c.working_dir, "/new");
        assert_eq!(c.user, "me", "set by the user");
        assert_eq!(c.hostname, "keep");
        let labels: Vec<(&str, &str)> = c
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(labels, [("mine", "y"), ("v", "2")]);
        let ports: Vec<&String> = c.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(ports, ["8080/tcp", "9000/tcp"]);
        let vols: Vec<&String> = c.volumes.as_ref().unwrap().keys().collect();
        assert_eq!(vols, ["/cache", "/data"]);
        assert_eq!(c.disk_quota, cur.disk_quota);
    }

    #[test]
    fn new_image_volumes_not_covered_get_anonymous_volumes() {
        let rec = ContainerRecord {
            id: "a".repeat(64),
            name: "web".into(),
            created: String::new(),
            image_name: "app:1".into(),
            image_id: String::new(),
            config: ContainerConfig::default(),
            host_config: pouch_api::container::HostConfig {
                tmpfs: BTreeMap::from([("/run".to_string(), String::new())]),
                ..Default::default()
            },
            runtime: String::new(),
            path: String::new(),
            args: Vec::new(),
            state: Default::default(),
            lower_dirs: Vec::new(),
            networks: Default::default(),
            endpoints: Default::default(),
            ports: Default::default(),
            mounts: vec![MountPoint {
                kind: "volume".into(),
                name: "data".into(),
                destination: "/data/".into(),
                ..Default::default()
            }],
        };
        let image = ImageConfig {
            volumes: Some(BTreeMap::from([
                ("/data".into(), serde_json::json!({})),
                ("/run".into(), serde_json::json!({})),
                ("/cache".into(), serde_json::json!({})),
            ])),
            ..Default::default()
        };
        let planned = new_volumes(&rec, Some(&image)).unwrap();
        let dests: Vec<String> = planned
            .iter()
            .map(|p| match p {
                Planned::Anonymous(s) => s.destination.clone(),
                _ => panic!("not anonymous"),
            })
            .collect();
        assert_eq!(dests, ["/cache"]);
        assert!(new_volumes(&rec, None).unwrap().is_empty());
    }
}
