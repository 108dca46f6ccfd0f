//! Import: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image. The
//! blob is stored as received, unpacked safely, and given a new config (linux/amd64,
//! created now, one history entry whose comment is the message, runtime settings from
//! Dockerfile-style `changes`) and a Docker schema2 manifest, so it can be pushed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};

use oci_spec::image::{Arch, Config, HistoryBuilder, ImageConfigurationBuilder, Os, RootFsBuilder};
use pouch_store::{Batch, IMAGES, REFS};

use super::layers::{blob_compression, unpack_hashed};
use super::manifest::{
    docker_manifest, layer_media_type, parse_config, LayerDesc, DOCKER_MANIFEST,
};
use super::record::{now_rfc3339, ref_key, ImageRecord, LayerRecord};
use super::ImageManager;
use crate::content::sha256_digest;
use crate::error::ImageError;
use pouch_api::reference::Reference;

fn invalid(e: impl std::fmt::Display) -> ImageError {
    ImageError::InvalidArgument(format!("cannot build the image config: {e}"))
}

impl ImageManager {
    /// `POST /images/create?fromSrc=-`: imports the tarball `input` as a one-layer image,
    /// tagged `reference` when given. `message` becomes the history comment ("Imported from
    /// -" when empty); `changes` are Dockerfile instructions (CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR). Returns the image id.
    pub fn import(
        &self,
        input: &mut dyn Read,
        reference: Option<&str>,
        message: &str,
        changes: &[String],
    ) -> Result<String, ImageError> {
        let target = match reference.map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => {
                let r = Reference::parse(name)?;
                if r.digest.is_some() {
                    return Err(ImageError::InvalidReference {
                        reference: name.to_string(),
                        reason: "an imported image is tagged, not named by digest".to_string(),
                    });
                }
                Some(r)
            }
            None => None,
        };
        let runtime = apply_changes(changes)?;
        let mut held = self.inflight();

        // The layer blob, as received.
        let mut w = self.content.writer(None)?;
        io::copy(input, &mut w).map_err(ImageError::io("read the image to import"))?;
        if w.written() == 0 {
            return Err(ImageError::InvalidArgument(
                "nothing to import: the input is empty (send a tar archive of a root filesystem)"
                    .to_string(),
            ));
        }
        let blob = {
            let mut st = self.lock();
            let d = w.commit()?;
            held.add(&mut st, &d);
            d
        };
        let blob_path = self.content.path(&blob);
        let blob_size = self.content.size(&blob)?;
        let media_type = layer_media_type(blob_compression(&blob_path)?).to_string();

        // The layer.
        let prepared = self.snapshots.prepare()?;
        let file = File::open(&blob_path)
            .map_err(ImageError::io(format!("open {}", blob_path.display())))?;
        let (unpacked_size, diff_id) = unpack_hashed(Box::new(file), &prepared, &blob)?;
        {
            let mut st = self.lock();
            held.add(&mut st, &diff_id);
            // A layer's first chain id is its diff id.
            self.snapshots.commit(prepared, &diff_id)?;
        }

        // Config and manifest.
        let created = now_rfc3339();
        let comment = if message.is_empty() {
            "Imported from -"
        } else {
            message
        };
        let config = ImageConfigurationBuilder::default()
            .created(created.clone())
            .architecture(Arch::Amd64)
            .os(Os::Linux)
            .config(runtime)
            .rootfs(
                RootFsBuilder::default()
                    .typ("layers")
                    .diff_ids(vec![diff_id.clone()])
                    .build()
                    .map_err(invalid)?,
            )
            .history(vec![HistoryBuilder::default()
                .created(created)
                .comment(comment)
                .build()
                .map_err(invalid)?])
            .build()
            .map_err(invalid)?;
        let mut raw = serde_json::to_value(&config).map_err(invalid)?;
        // Docker keeps the message at the top level too (inspect's Comment).
        raw["comment"] = serde_json::Value::String(comment.to_string());
        let config_bytes = serde_json::to_vec(&raw).map_err(invalid)?;
        let config_digest = sha256_digest(&config_bytes);
        let layer = LayerDesc {
            digest: blob.clone(),
            size: blob_size,
            media_type: media_type.clone(),
        };
        let manifest = docker_manifest(&config_digest, config_bytes.len() as u64, &[layer])?;
        let manifest_digest = sha256_digest(&manifest);

        let mut rec = ImageRecord::new(
            &manifest_digest,
            DOCKER_MANIFEST,
            &config_digest,
            &parse_config(&config_bytes)?,
            vec![LayerRecord {
                digest: blob,
                media_type,
                size: blob_size,
                unpacked_size,
            }],
        );
        let id = rec.id.clone();
        let mut st = self.lock();
        held.add(&mut st, &config_digest);
        held.add(&mut st, &manifest_digest);
        self.content.write_bytes(&config_bytes)?;
        self.content.write_bytes(&manifest)?;
        let mut b = Batch::default();
        if let Some(r) = &target {
            rec.last_tag_time = Some(now_rfc3339());
            b.put(REFS, &ref_key(r), &id);
        }
        b.put(IMAGES, &id, &rec);
        self.store.write(b)?;
        Ok(id)
    }
}

/// Splits Dockerfile arguments into words: whitespace separates, `"..."` and `'...'`
/// group, `\` escapes (inside double quotes and outside quotes).
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated quote in {s:?}")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n) => cur.push(n),
                            None => return Err(format!("unterminated quote in {s:?}")),
                        },
                        Some(n) => cur.push(n),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated quote in {s:?}")),
                        Some('\'') => break,
                        Some(n) => cur.push(n),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// `key=value` pairs, or the legacy `key value with spaces` form.
fn pairs(args: &str) -> Result<Vec<(String, String)>, String> {
    let first = args.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let key = first.to_string();
        if key.is_empty() {
            return Err("missing name".to_string());
        }
        let rest = args.trim_start()[first.len()..].trim();
        let value = words(rest)?.join(" ");
        return Ok(vec![(key, value)]);
    }
    words(args)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not name=value")),
        })
        .collect()
}

/// The exec form (a JSON array of strings) or the shell form (`/bin/sh -c "<args>"`).
fn command(args: &str) -> Vec<String> {
    if args.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(args) {
            return v;
        }
    }
    vec!["/bin/sh".to_string(), "-c".to_string(), args.to_string()]
}

/// The runtime config that Dockerfile instructions `changes` describe.
pub(crate) fn apply_changes(changes: &[String]) -> Result<Config, ImageError> {
    let mut cfg = Config::default();
    let mut env: Vec<String> = Vec::new();
    let mut labels: HashMap<String, String> = HashMap::new();
    let mut ports: Vec<String> = Vec::new();
    let mut volumes: Vec<String> = Vec::new();
    for change in changes {
        let change = change.trim();
        if change.is_empty() {
            continue;
        }
        let (instr, args) = change
            .split_once(char::is_whitespace)
            .map(|(i, a)| (i, a.trim()))
            .unwrap_or((change, ""));
        let bad =
            |why: String| ImageError::InvalidArgument(format!("invalid change {change:?}: {why}"));
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => {
                cfg.set_cmd(Some(command(args)));
            }
            "ENTRYPOINT" => {
                cfg.set_entrypoint(Some(command(args)));
            }
            "ENV" => {
                for (k, v) in pairs(args).map_err(bad)? {
                    env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k);
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                for (k, v) in pairs(args).map_err(bad)? {
                    labels.insert(k, v);
                }
            }
            "EXPOSE" => {
                for w in words(args).map_err(bad)? {
                    let (port, proto) = w.split_once('/').unwrap_or((&w, "tcp"));
                    let proto = proto.to_ascii_lowercase();
                    let valid_port = |p: &str| p.parse::<u16>().is_ok_and(|n| n > 0);
                    let ok = match port.split_once('-') {
                        Some((a, b)) => valid_port(a) && valid_port(b),
                        None => valid_port(port),
                    } && matches!(proto.as_str(), "tcp" | "udp" | "sctp");
                    if !ok {
                        return Err(bad(format!("{w:?} is not a port (80, 80/udp, 8000-8010)")));
                    }
                    let spec = format!("{port}/{proto}");
                    if !ports.contains(&spec) {
                        ports.push(spec);
                    }
                }
            }
            "VOLUME" => {
                let list = if args.starts_with('[') {
                    serde_json::from_str::<Vec<String>>(args).map_err(|e| bad(e.to_string()))?
                } else {
                    words(args).map_err(bad)?
                };
                for v in list {
                    if !volumes.contains(&v) {
                        volumes.push(v);
                    }
                }
            }
            "WORKDIR" => {
                if args.is_empty() {
                    return Err(bad("missing directory".to_string()));
                }
                let dir = match cfg.working_dir() {
                    Some(prev) if !args.starts_with('/') => {
                        format!("{}/{args}", prev.trim_end_matches('/'))
                    }
                    _ => args.to_string(),
                };
                cfg.set_working_dir(Some(dir));
            }
            "USER" => {
                if args.is_empty() {
                    return Err(bad("missing user".to_string()));
                }
                cfg.set_user(Some(args.to_string()));
            }
            "STOPSIGNAL" => {
                if args.is_empty() {
                    return Err(bad("missing signal".to_string()));
                }
                cfg.set_stop_signal(Some(args.to_string()));
            }
            other => {
                return Err(ImageError::InvalidArgument(format!(
                    "invalid change {change:?}: {other} is not supported here (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR)"
                )))
            }
        }
    }
    if !env.is_empty() {
        cfg.set_env(Some(env));
    }
    if !labels.is_empty() {
        cfg.set_labels(Some(labels));
    }
    if !ports.is_empty() {
        cfg.set_exposed_ports(Some(ports));
    }
    if !volumes.is_empty() {
        cfg.set_volumes(Some(volumes));
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::super::testutil;
    use super::*;
    use pouch_api::Filters;

    #[test]
    fn changes_parse_like_a_dockerfile() {
        let c = apply_changes(&[
            "CMD [\"sh\", \"-c\", \"echo hi\"]".into(),
            "ENTRYPOINT /bin/run --flag".into(),
            "ENV A=1 B=\"two words\"".into(),
            "ENV C three words".into(),
            "ENV A=3".into(),
            "LABEL maintainer=me \"com.x.y\"='q v'".into(),
            "EXPOSE 80 53/udp 8000-8001".into(),
            "VOLUME [\"/data\"]".into(),
            "WORKDIR /srv".into(),
            "WORKDIR app".into(),
            "USER 1000:1000".into(),
            "stopsignal SIGINT".into(),
        ])
        .unwrap();
        assert_eq!(c.cmd().clone().unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(
            c.entrypoint().clone().unwrap(),
            ["/bin/sh", "-c", "/bin/run --flag"]
        );
        assert_eq!(
            c.env().clone().unwrap(),
            ["B=two words", "C=three words", "A=3"]
        );
        let labels = c.labels().clone().unwrap();
        assert_eq!(labels["maintainer"], "me");
        assert_eq!(labels["com.x.y"], "q v");
        assert_eq!(
            c.exposed_ports().clone().unwrap(),
            ["80/tcp", "53/udp", "8000-8001/tcp"]
        );
        assert_eq!(c.volumes().clone().unwrap(), ["/data"]);
        assert_eq!(c.working_dir().as_deref(), Some("/srv/app"));
        assert_eq!(c.user().as_deref(), Some("1000:1000"));
        assert_eq!(c.stop_signal().as_deref(), Some("SIGINT"));

        for bad in [
            "RUN echo",
            "EXPOSE http",
            "ENV =x",
            "LABEL a=\"open",
            "USER",
        ] {
            assert!(apply_changes(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn import_list_inspect_history() {
        let t = testutil::manager();
        let tar = testutil::rootfs_tar(&[("bin/sh", "fake"), ("etc/os-release", "ID=test\n")]);
        let zst = zstd::encode_all(tar.as_slice(), 3).unwrap();
        let id = t
            .mgr
            .import(
                &mut zst.as_slice(),
                Some("127.0.0.1:5000/imported:v1"),
                "my message",
                &[
                    "ENV PATH=/bin".to_string(),
                    "EXPOSE 8080".to_string(),
                    "LABEL tier=web".to_string(),
                    "CMD [\"/bin/sh\"]".to_string(),
                ],
            )
            .unwrap();
        assert!(id.starts_with("sha256:") && id.len() == 71);

        let list = t.mgr.list(&Filters::default(), false).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, id);
        assert_eq!(list[0].repo_tags, ["127.0.0.1:5000/imported:v1"]);
        assert_eq!(list[0].size, ("fake".len() + "ID=test\n".len()) as i64);
        assert!(list[0].created > 1_700_000_000);
        assert_eq!(list[0].labels["tier"], "web");

        let i = t.mgr.inspect("127.0.0.1:5000/imported:v1").unwrap();
        assert_eq!(i.id, id);
        assert_eq!(i.os, "linux");
        assert_eq!(i.architecture, "amd64");
        assert_eq!(i.comment, "my message");
        assert_eq!(i.root_fs.kind, "layers");
        assert_eq!(i.root_fs.layers.len(), 1);
        assert_eq!(i.graph_driver.name, "overlay2");
        assert!(i.graph_driver.data["UpperDir"].ends_with("/fs"));
        assert!(!i.graph_driver.data.contains_key("LowerDir"));
        let cfg = i.config.unwrap();
        assert_eq!(cfg.env.unwrap(), ["PATH=/bin"]);
        assert_eq!(cfg.cmd.unwrap(), ["/bin/sh"]);
        assert!(cfg.exposed_ports.unwrap().contains_key("8080/tcp"));
        assert!(chrono::DateTime::parse_from_rfc3339(&i.created).is_ok());
        assert!(i.metadata.last_tag_time.is_some());

        let rec = t.mgr.resolve(&id).unwrap();
        assert_eq!(
            rec.layers[0].media_type,
            super::super::manifest::OCI_LAYER_ZSTD
        );
        // The blob is stored as received.
        assert_eq!(t.mgr.content.read(&rec.layers[0].digest).unwrap(), zst);
        let dirs = t.mgr.rootfs_layers(&id).unwrap();
        assert_eq!(
            std::fs::read_to_string(dirs[0].join("etc/os-release")).unwrap(),
            "ID=test\n"
        );

        let h = t.mgr.history(&id).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].id, id);
        assert_eq!(h[0].comment, "my message");
        assert_eq!(h[0].size, list[0].size);
        assert_eq!(h[0].tags.clone().unwrap(), ["127.0.0.1:5000/imported:v1"]);
    }

    #[test]
    fn import_refuses_empty_and_hostile_input_and_leaves_no_layer() {
        let t = testutil::manager();
        assert!(t.mgr.import(&mut io::empty(), None, "", &[]).is_err());
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let evil = b.into_inner().unwrap();
        let e = t
            .mgr
            .import(&mut evil.as_slice(), None, "", &[])
            .unwrap_err();
        assert!(matches!(e, ImageError::HostileLayer { .. }), "{e}");
        assert_eq!(t.mgr.count(), 0);
        assert!(t.mgr.snapshots.list().unwrap().is_empty());
        assert!(!t.dir.path().join("escape").exists());
        assert!(t
            .mgr
            .import(&mut io::empty(), Some("Bad Name"), "", &[])
            .is_err());
    }
}
