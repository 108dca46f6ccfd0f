//! Reading images: list (with Docker's filters), inspect, history, count, disk usage and
//! the layer directories a container's root filesystem stacks.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use pouch_api::image::{
    GraphDriver, HistoryItem, ImageInspect, ImageMetadata, ImageSummary, RootFs,
};
use pouch_api::Filters;

use super::filter::{bool_filter, labels_match, parse_time, reference_matches};
use super::manifest::{parse_config, rfc3339_unix, ConfigDoc};
use super::record::{short_id, tags_and_digests, ImageRecord};
use super::ImageManager;
use crate::error::ImageError;

const LIST_FILTERS: &[&str] = &["dangling", "label", "reference", "before", "since", "until"];

impl ImageManager {
    /// `GET /images/json`: images newest first. Filters: `dangling`, `label`,
    /// `reference` (patterns; also narrows the RepoTags and RepoDigests shown), `before`,
    /// `since` (an image), `until` (a time). `all` is accepted (there are no intermediate
    /// images to show or hide).
    pub fn list(&self, filters: &Filters, _all: bool) -> Result<Vec<ImageSummary>, ImageError> {
        filters
            .check_keys(LIST_FILTERS)
            .map_err(|e| ImageError::InvalidArgument(e.message))?;
        let dangling = bool_filter("dangling", filters.get("dangling"))?;
        let patterns = filters.get("reference");
        let labels = filters.get("label");
        let before = self.image_time_filter(filters.get("before"))?;
        let since = self.image_time_filter(filters.get("since"))?;
        let now = chrono::Utc::now().timestamp();
        let until = match filters.get("until").last() {
            Some(v) => Some(parse_time(v, now)?),
            None => None,
        };
        let refs = self.refs_by_image()?;
        let mut out = Vec::new();
        for rec in self.records()? {
            if before.is_some_and(|t| rec.created_unix >= t)
                || since.is_some_and(|t| rec.created_unix <= t)
                || until.is_some_and(|t| rec.created_unix > t)
                || !labels_match(labels, &rec.labels)
            {
                continue;
            }
            let mut shown = Vec::new();
            for r in refs.get(&rec.id).map(Vec::as_slice).unwrap_or(&[]) {
                let mut keep = patterns.is_empty();
                for p in patterns {
                    if reference_matches(p, r)? {
                        keep = true;
                        break;
                    }
                }
                if keep {
                    shown.push(r.clone());
                }
            }
            let (tags, digests) = tags_and_digests(&shown);
            if tags.is_empty() && digests.is_empty() {
                if dangling == Some(false) || !patterns.is_empty() {
                    continue;
                }
            } else if dangling == Some(true) && !tags.is_empty() {
                continue;
            }
            out.push(summary(&rec, tags, digests));
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The creation time of the image a `before`/`since` filter names.
    fn image_time_filter(&self, values: &[String]) -> Result<Option<i64>, ImageError> {
        match values.last() {
            Some(name) => Ok(Some(self.resolve(name)?.created_unix)),
            None => Ok(None),
        }
    }

    /// `GET /images/{name}/json`.
    pub fn inspect(&self, name: &str) -> Result<ImageInspect, ImageError> {
        let rec = self.resolve(name)?;
        let config = self.config_of(&rec)?;
        let (tags, digests) = tags_and_digests(&self.refs_of(&rec.id)?);
        let comment = match config.raw_str("comment") {
            c if !c.is_empty() => c,
            _ => config
                .oci
                .history()
                .as_ref()
                .and_then(|h| h.last())
                .and_then(|h| h.comment().clone())
                .unwrap_or_default(),
        };
        let variant = config.oci.variant().clone().filter(|v| !v.is_empty());
        Ok(ImageInspect {
            id: rec.id.clone(),
            repo_tags: tags,
            repo_digests: digests,
            parent: String::new(),
            comment,
            created: rec.created.clone(),
            docker_version: config.raw_str("docker_version"),
            author: config.oci.author().clone().unwrap_or_default(),
            config: config.api_config(),
            architecture: config.oci.architecture().to_string(),
            variant,
            os: config.oci.os().to_string(),
            os_version: config.oci.os_version().clone(),
            size: rec.size,
            graph_driver: self.graph_driver(&rec)?,
            root_fs: RootFs {
                kind: "layers".to_string(),
                layers: rec.diff_ids.clone(),
            },
            metadata: ImageMetadata {
                last_tag_time: rec.last_tag_time.clone(),
            },
        })
    }

    fn config_of(&self, rec: &ImageRecord) -> Result<ConfigDoc, ImageError> {
        let bytes = self.content.read(&rec.config_digest).map_err(|e| {
            ImageError::NotFound(format!(
                "config of image {} is missing from the content store ({e}); pull or load the image again",
                short_id(&rec.id)
            ))
        })?;
        parse_config(&bytes)
    }

    /// Docker's overlay2 GraphDriver data: the top layer as UpperDir, the others (top
    /// first) as LowerDir.
    fn graph_driver(&self, rec: &ImageRecord) -> Result<GraphDriver, ImageError> {
        let mut dirs = Vec::new();
        for chain in rec.chain_ids.iter().rev() {
            dirs.push(self.snapshots.layer_dir(chain)?.display().to_string());
        }
        let mut data = std::collections::BTreeMap::new();
        if let Some((upper, lower)) = dirs.split_first() {
            data.insert("UpperDir".to_string(), upper.clone());
            if !lower.is_empty() {
                data.insert("LowerDir".to_string(), lower.join(":"));
            }
        }
        Ok(GraphDriver {
            name: "overlay2".to_string(),
            data,
        })
    }

    /// `GET /images/{name}/history`: newest first; the top entry carries the image id and
    /// tags, older ones `<missing>`, as Docker shows images it has no parents for.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>, ImageError> {
        let rec = self.resolve(name)?;
        let config = self.config_of(&rec)?;
        let mut layer = 0;
        let mut out = Vec::new();
        for h in config.oci.history().as_deref().unwrap_or(&[]) {
            let mut size = 0;
            if !h.empty_layer().unwrap_or(false) {
                if layer >= rec.layers.len() {
                    return Err(ImageError::InvalidArgument(format!(
                        "image {}: too many non-empty layers in the history section of its config",
                        short_id(&rec.id)
                    )));
                }
                size = rec.layers[layer].unpacked_size as i64;
                layer += 1;
            }
            out.push(HistoryItem {
                id: "<missing>".to_string(),
                created: h.created().as_deref().map(rfc3339_unix).unwrap_or(0),
                created_by: h.created_by().clone().unwrap_or_default(),
                tags: None,
                size,
                comment: h.comment().clone().unwrap_or_default(),
            });
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = rec.id.clone();
            let (tags, _) = tags_and_digests(&self.refs_of(&rec.id)?);
            top.tags = (!tags.is_empty()).then_some(tags);
        }
        Ok(out)
    }

    /// Number of images.
    pub fn count(&self) -> usize {
        self.records().map(|r| r.len()).unwrap_or(0)
    }

    /// `GET /system/df` images part: LayersSize (bytes of every committed layer) and the
    /// images with their shared sizes.
    pub fn disk_usage(&self) -> Result<(i64, Vec<ImageSummary>), ImageError> {
        let mut layers_size = 0i64;
        for chain in self.snapshots.list()? {
            layers_size += self.snapshots.usage(&chain).unwrap_or(0) as i64;
        }
        let records = self.records()?;
        let mut users: HashMap<&str, usize> = HashMap::new();
        for rec in &records {
            let unique: HashSet<&str> = rec.chain_ids.iter().map(String::as_str).collect();
            for chain in unique {
                *users.entry(chain).or_default() += 1;
            }
        }
        let refs = self.refs_by_image()?;
        let mut out = Vec::new();
        for rec in &records {
            let (tags, digests) =
                tags_and_digests(refs.get(&rec.id).map(Vec::as_slice).unwrap_or(&[]));
            let mut s = summary(rec, tags, digests);
            s.shared_size = rec
                .chain_ids
                .iter()
                .zip(&rec.layers)
                .filter(|(c, _)| users.get(c.as_str()).copied().unwrap_or(0) > 1)
                .map(|(_, l)| l.unpacked_size as i64)
                .sum();
            s.containers = 0;
            out.push(s);
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.created));
        Ok((layers_size, out))
    }

    /// The committed layer directories of image `name`, bottom first (overlay lower dirs).
    pub fn rootfs_layers(&self, name: &str) -> Result<Vec<PathBuf>, ImageError> {
        let rec = self.resolve(name)?;
        let mut dirs = Vec::with_capacity(rec.chain_ids.len());
        for chain in &rec.chain_ids {
            if !self.snapshots.exists(chain) {
                return Err(ImageError::NotFound(format!(
                    "layer {chain} of image {} is missing; pull or load the image again",
                    short_id(&rec.id)
                )));
            }
            dirs.push(self.snapshots.layer_dir(chain)?);
        }
        Ok(dirs)
    }
}

fn summary(rec: &ImageRecord, repo_tags: Vec<String>, repo_digests: Vec<String>) -> ImageSummary {
    ImageSummary {
        id: rec.id.clone(),
        parent_id: String::new(),
        repo_tags,
        repo_digests,
        created: rec.created_unix,
        size: rec.size,
        shared_size: -1,
        labels: rec.labels.clone(),
        containers: -1,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil;
    use super::*;
    use pouch_store::{Batch, IMAGES};

    fn ids(list: &[ImageSummary]) -> Vec<String> {
        list.iter().map(|s| s.id.clone()).collect()
    }

    fn filters(pairs: &[(&str, &str)]) -> Filters {
        let mut f = Filters::default();
        for (k, v) in pairs {
            f.add(k, v);
        }
        f
    }

    /// Sets an image's creation time (imports within a second share one).
    fn set_created(mgr: &ImageManager, id: &str, unix: i64) {
        let mut rec = mgr.record(id).unwrap().unwrap();
        rec.created_unix = unix;
        let mut b = Batch::default();
        b.put(IMAGES, id, &rec);
        mgr.store.write(b).unwrap();
    }

    #[test]
    fn filters_as_docker() {
        let t = testutil::manager();
        let m = &t.mgr;
        let tar = testutil::rootfs_tar(&[("a", "a")]);
        let web = m
            .import(
                &mut tar.as_slice(),
                Some("web:1"),
                "",
                &["LABEL tier=front".into()],
            )
            .unwrap();
        m.tag(&web, "127.0.0.1:5000/web", Some("2")).unwrap();
        let db = m
            .import(
                &mut tar.as_slice(),
                Some("db"),
                "",
                &["LABEL tier=back".into()],
            )
            .unwrap();
        let dangling = testutil::import(m, "d", None);
        set_created(m, &web, 100);
        set_created(m, &db, 200);
        set_created(m, &dangling, 300);

        let all = m.list(&Filters::default(), false).unwrap();
        assert_eq!(ids(&all), [dangling.clone(), db.clone(), web.clone()]);
        assert!(all[0].repo_tags.is_empty());
        assert_eq!(all[2].repo_tags, ["127.0.0.1:5000/web:2", "web:1"]);

        let l = |pairs: &[(&str, &str)]| ids(&m.list(&filters(pairs), true).unwrap());
        assert_eq!(l(&[("dangling", "true")]), vec![dangling.clone()]);
        assert_eq!(l(&[("dangling", "false")]), [db.clone(), web.clone()]);
        assert_eq!(l(&[("label", "tier")]), [db.clone(), web.clone()]);
        assert_eq!(l(&[("label", "tier=front")]), vec![web.clone()]);
        assert_eq!(l(&[("reference", "d*")]), vec![db.clone()]);
        assert_eq!(l(&[("reference", "web:1")]), vec![web.clone()]);
        assert_eq!(l(&[("reference", "*/web")]), vec![web.clone()]);
        assert!(l(&[("reference", "nothing*")]).is_empty());
        assert_eq!(l(&[("before", "db")]), vec![web.clone()]);
        assert_eq!(l(&[("since", "db")]), vec![dangling.clone()]);
        assert_eq!(l(&[("until", "150")]), vec![web.clone()]);

        // A reference filter also narrows the tags shown.
        let narrowed = m.list(&filters(&[("reference", "web")]), false).unwrap();
        assert_eq!(narrowed[0].repo_tags, ["web:1"]);

        assert!(m.list(&filters(&[("bogus", "1")]), false).is_err());
        assert!(m.list(&filters(&[("dangling", "x")]), false).is_err());
        assert!(matches!(
            m.list(&filters(&[("before", "nothere")]), false)
                .unwrap_err(),
            ImageError::NotFound(_)
        ));

        let (layers, images) = m.disk_usage().unwrap();
        assert!(layers > 0);
        assert_eq!(images.len(), 3);
        // web and db share their only layer.
        let shared: Vec<i64> = images.iter().map(|s| s.shared_size).collect();
        assert_eq!(shared, [0, 1, 1]);
        assert_eq!(m.count(), 3);
    }

    #[test]
    fn pull_and_push_futures_are_send() {
        fn is_send<T: Send>(_: &T) {}
        let t = testutil::manager();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let token = tokio_util::sync::CancellationToken::new();
        let pull = t.mgr.pull("x", None, tx.clone(), token.clone());
        is_send(&pull);
        let push = t.mgr.push("x", None, tx, token);
        is_send(&push);
    }
}
