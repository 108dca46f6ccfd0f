//! Changing references and deleting images: tag, remove (Docker's rules for untagging
//! versus deleting), prune, and the garbage collection that follows a delete: blobs and
//! snapshots no image record (and no running operation) refers to are removed.

use std::collections::HashSet;

use pouch_api::image::{ImageDeleteItem, ImagePruneResponse};
use pouch_api::Filters;
use pouch_store::{Batch, IMAGES, REFS};

use super::filter::{bool_filter, labels_match, parse_time};
use super::record::{now_rfc3339, ref_key, short_id};
use super::resolve::is_id_prefix_of;
use super::{ImageManager, State};
use crate::error::ImageError;
use pouch_api::reference::Reference;

const PRUNE_FILTERS: &[&str] = &["dangling", "label", "until"];

fn untagged(r: &Reference) -> ImageDeleteItem {
    ImageDeleteItem {
        untagged: Some(r.familiar()),
        deleted: None,
    }
}

fn deleted(id: &str) -> ImageDeleteItem {
    ImageDeleteItem {
        untagged: None,
        deleted: Some(id.to_string()),
    }
}

/// Docker's `isSingleReference`: at most one tag, and every reference in one repository.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut canonical_repos = HashSet::new();
    for r in refs {
        if r.digest.is_some() {
            canonical_repos.insert(r.full_repo());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical_repos.len() == 1 && canonical_repos.contains(&single.full_repo())
}

/// Checks a tag as Docker's grammar does: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn validate_tag(reference: &str, tag: &str) -> Result<(), ImageError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ImageError::InvalidReference {
            reference: reference.to_string(),
            reason: format!(
                "tag {tag:?} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
            ),
        })
    }
}

impl ImageManager {
    /// Adds the reference `repo[:tag]` (tag defaults to `latest`; `repo` may be familiar or
    /// full) to image `name`.
    pub fn tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<(), ImageError> {
        let rec = self.resolve(name)?;
        let tag = tag.filter(|t| !t.is_empty());
        let mut r = Reference::parse(repo)?;
        if r.digest.is_some() {
            return Err(ImageError::InvalidReference {
                reference: repo.to_string(),
                reason: "refusing to create a tag with a digest reference".to_string(),
            });
        }
        if let Some(t) = tag {
            validate_tag(&format!("{repo}:{t}"), t)?;
            r = r.with_tag(t);
        }
        let _st = self.lock();
        let mut rec = self
            .record(&rec.id)?
            .ok_or_else(|| super::resolve::no_such_image(name))?;
        rec.last_tag_time = Some(now_rfc3339());
        let mut b = Batch::default();
        b.put(REFS, &ref_key(&r), &rec.id);
        b.put(IMAGES, &rec.id, &rec);
        self.store.write(b)?;
        Ok(())
    }

    /// `DELETE /images/{name}`, as Docker: a reference untags (and deletes the image with
    /// its last tag, removing its repo digests of that repository along); an id deletes the
    /// image, refused without `force` when it has tags in several repositories. Blobs and
    /// snapshots no other image uses are then removed. `noprune` is accepted: there are no
    /// parent images to keep.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        _noprune: bool,
    ) -> Result<Vec<ImageDeleteItem>, ImageError> {
        let st = self.lock();
        let rec = self.resolve(name)?;
        let id = rec.id.clone();
        let mut refs = self.refs_of(&id)?;
        let mut items = Vec::new();
        let mut b = Batch::default();
        if !is_id_prefix_of(name.trim(), &id) {
            let r = Reference::parse(name.trim())?;
            let key = ref_key(&r);
            refs.retain(|x| ref_key(x) != key);
            b.delete(REFS, &key);
            items.push(untagged(&r));
            if r.digest.is_none() {
                let repo = r.full_repo();
                let tag_left = refs
                    .iter()
                    .any(|x| x.digest.is_none() && x.full_repo() == repo);
                if !tag_left {
                    refs.retain(|x| {
                        let drop = x.digest.is_some() && x.full_repo() == repo;
                        if drop {
                            b.delete(REFS, &ref_key(x));
                            items.push(untagged(x));
                        }
                        !drop
                    });
                }
            }
            if !refs.is_empty() {
                self.store.write(b)?;
                return Ok(items);
            }
        } else if !refs.is_empty() {
            if !is_single_reference(&refs) && !force {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    short_id(&id)
                )));
            }
            for r in refs.drain(..) {
                b.delete(REFS, &ref_key(&r));
                items.push(untagged(&r));
            }
        }
        b.delete(IMAGES, &id);
        items.push(deleted(&id));
        self.store.write(b)?;
        self.collect_garbage(&st, false);
        Ok(items)
    }

    /// `POST /images/prune`: deletes dangling images (no tag), or with `dangling=false` every
    /// image; `label` and `until` narrow the choice. Images for which `in_use` says yes (a
    /// container uses them) are kept.
    pub fn prune(
        &self,
        filters: &Filters,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<ImagePruneResponse, ImageError> {
        filters
            .check_keys(PRUNE_FILTERS)
            .map_err(|e| ImageError::InvalidArgument(e.message))?;
        let dangling_only = bool_filter("dangling", filters.get("dangling"))?.unwrap_or(true);
        let labels = filters.get("label");
        let until = match filters.get("until").last() {
            Some(v) => Some(parse_time(v, chrono::Utc::now().timestamp())?),
            None => None,
        };
        let st = self.lock();
        let refs = self.refs_by_image()?;
        let mut items = Vec::new();
        let mut b = Batch::default();
        for rec in self.records()? {
            if until.is_some_and(|t| rec.created_unix > t)
                || !labels_match(labels, &rec.labels)
                || in_use(&rec.id)
            {
                continue;
            }
            let image_refs = refs.get(&rec.id).map(Vec::as_slice).unwrap_or(&[]);
            if dangling_only && image_refs.iter().any(|r| r.digest.is_none()) {
                continue;
            }
            for r in image_refs {
                b.delete(REFS, &ref_key(r));
                items.push(untagged(r));
            }
            b.delete(IMAGES, &rec.id);
            items.push(deleted(&rec.id));
        }
        if items.is_empty() {
            return Ok(ImagePruneResponse {
                images_deleted: None,
                space_reclaimed: 0,
            });
        }
        self.store.write(b)?;
        let reclaimed = self.collect_garbage(&st, true);
        Ok(ImagePruneResponse {
            images_deleted: Some(items),
            space_reclaimed: reclaimed as i64,
        })
    }

    /// Removes every blob and snapshot that no image record and no running operation (the
    /// in-flight set) refers to. The caller holds the state lock. Failures are logged, not
    /// returned: the records are already consistent, and the next collection tries again.
    /// Returns the bytes freed when `measure`.
    pub(super) fn collect_garbage(&self, st: &State, measure: bool) -> u64 {
        let records = match self.records() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "image garbage collection skipped: cannot read the records");
                return 0;
            }
        };
        let mut blobs: HashSet<&str> = HashSet::new();
        let mut chains: HashSet<&str> = HashSet::new();
        for rec in &records {
            blobs.insert(&rec.manifest_digest);
            blobs.insert(&rec.config_digest);
            blobs.extend(rec.layers.iter().map(|l| l.digest.as_str()));
            chains.extend(rec.chain_ids.iter().map(String::as_str));
        }
        let busy = |k: &str| st.inflight.contains_key(k);
        let mut freed = 0u64;
        match self.content.list() {
            Ok(list) => {
                for digest in list {
                    if blobs.contains(digest.as_str()) || busy(&digest) {
                        continue;
                    }
                    if measure {
                        freed += self.content.size(&digest).unwrap_or(0);
                    }
                    if let Err(e) = self.content.delete(&digest) {
                        tracing::warn!(blob = %digest, error = %e, "cannot remove an unused blob");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the content store"),
        }
        match self.snapshots.list() {
            Ok(list) => {
                for chain in list {
                    if chains.contains(chain.as_str()) || busy(&chain) {
                        continue;
                    }
                    if measure {
                        freed += self.snapshots.usage(&chain).unwrap_or(0);
                    }
                    if let Err(e) = self.snapshots.remove(&chain) {
                        tracing::warn!(snapshot = %chain, error = %e, "cannot remove an unused layer");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the layer snapshots"),
        }
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil;
    use super::*;

    fn refs(names: &[&str]) -> Vec<Reference> {
        names.iter().map(|n| Reference::parse(n).unwrap()).collect()
    }

    #[test]
    fn single_reference_rule() {
        let d = format!("sha256:{}", "1".repeat(64));
        assert!(!is_single_reference(&[]));
        assert!(is_single_reference(&refs(&["a"])));
        assert!(is_single_reference(&refs(&["a", &format!("a@{d}")])));
        assert!(!is_single_reference(&refs(&["a", "b"])));
        assert!(!is_single_reference(&refs(&["a", &format!("b@{d}")])));
    }

    #[test]
    fn tag_validation() {
        let t = testutil::manager();
        let id = testutil::import(&t.mgr, "x", None);
        t.mgr.tag(&id, "myrepo", None).unwrap();
        t.mgr.tag(&id, "127.0.0.1:5000/myrepo", Some("v1")).unwrap();
        t.mgr.tag(&id, "docker.io/library/other:v2", None).unwrap();
        assert_eq!(t.mgr.resolve("myrepo:latest").unwrap().id, id);
        assert_eq!(t.mgr.resolve("127.0.0.1:5000/myrepo:v1").unwrap().id, id);
        assert_eq!(t.mgr.resolve("other:v2").unwrap().id, id);
        assert!(t.mgr.inspect(&id).unwrap().metadata.last_tag_time.is_some());
        for (repo, tag) in [("Upper", None), ("x", Some(".bad")), ("x", Some("a b"))] {
            let e = t.mgr.tag(&id, repo, tag).unwrap_err();
            assert!(matches!(e, ImageError::InvalidReference { .. }), "{e}");
        }
        let d = format!("sha256:{}", "1".repeat(64));
        assert!(t.mgr.tag(&id, &format!("x@{d}"), None).is_err());
        assert!(matches!(
            t.mgr.tag("nothere", "x", None).unwrap_err(),
            ImageError::NotFound(_)
        ));
    }

    #[test]
    fn remove_untags_then_deletes_and_collects() {
        let t = testutil::manager();
        let id = testutil::import(&t.mgr, "one", Some("a:1"));
        t.mgr.tag(&id, "b", Some("2")).unwrap();
        let rec = t.mgr.resolve(&id).unwrap();
        let layer_dir = t.mgr.snapshots.layer_dir(&rec.chain_ids[0]).unwrap();
        assert!(layer_dir.join("etc/hello").is_file());

        // By id with tags in two repositories: refused without force.
        let e = t.mgr.remove(&id[7..19], false, false).unwrap_err();
        assert!(matches!(e, ImageError::Conflict(_)));
        assert!(e.to_string().contains(&format!(
            "unable to delete {} (must be forced) - image is referenced in multiple repositories",
            &id[7..19]
        )));

        // By tag: untag only.
        let items = t.mgr.remove("a:1", false, false).unwrap();
        assert_eq!(items, vec![untagged(&Reference::parse("a:1").unwrap())]);
        assert!(layer_dir.is_dir());

        // The last tag deletes the image and collects its blobs and snapshot.
        let items = t.mgr.remove("b:2", false, false).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].untagged.as_deref(), Some("b:2"));
        assert_eq!(items[1].deleted.as_deref(), Some(id.as_str()));
        assert!(!layer_dir.exists());
        for digest in [
            &rec.manifest_digest,
            &rec.config_digest,
            &rec.layers[0].digest,
        ] {
            assert!(!t.mgr.content.exists(digest), "{digest} left behind");
        }
        assert!(t.mgr.content.list().unwrap().is_empty());
        assert!(t.mgr.snapshots.list().unwrap().is_empty());
        assert_eq!(t.mgr.count(), 0);
        assert!(matches!(
            t.mgr.remove(&id, false, false).unwrap_err(),
            ImageError::NotFound(_)
        ));
    }

    #[test]
    fn remove_by_id_force_and_shared_layers() {
        let t = testutil::manager();
        // Two images sharing their only layer (same rootfs, different configs).
        let tar = testutil::rootfs_tar(&[("etc/hello", "shared")]);
        let a = t
            .mgr
            .import(&mut tar.as_slice(), Some("a"), "", &[])
            .unwrap();
        let b = t
            .mgr
            .import(
                &mut tar.as_slice(),
                Some("b"),
                "",
                &["CMD [\"sh\"]".to_string()],
            )
            .unwrap();
        assert_ne!(a, b);
        t.mgr.tag(&a, "c", None).unwrap();
        let chain = t.mgr.resolve(&a).unwrap().chain_ids[0].clone();

        let items = t.mgr.remove(&a, true, false).unwrap();
        let untags: Vec<_> = items.iter().filter_map(|i| i.untagged.clone()).collect();
        assert_eq!(untags.len(), 2, "{items:?}");
        assert_eq!(items.last().unwrap().deleted.as_deref(), Some(a.as_str()));
        // The shared layer stays for b.
        assert!(t.mgr.snapshots.exists(&chain));
        assert!(t.mgr.rootfs_layers("b").unwrap()[0]
            .join("etc/hello")
            .is_file());

        // By id with a single tag: untag and delete without force.
        let items = t.mgr.remove(&b, false, false).unwrap();
        assert_eq!(items[0].untagged.as_deref(), Some("b:latest"));
        assert!(!t.mgr.snapshots.exists(&chain));
    }

    #[test]
    fn prune_dangling_and_all() {
        let t = testutil::manager();
        let tagged = testutil::import(&t.mgr, "tagged", Some("keep"));
        let dangling = testutil::import(&t.mgr, "dangling", None);
        let r = t.mgr.prune(&Filters::default(), &|_| false).unwrap();
        let items = r.images_deleted.unwrap();
        assert_eq!(items, vec![deleted(&dangling)]);
        assert!(r.space_reclaimed > 0);
        assert!(t.mgr.resolve(&tagged).is_ok());
        assert!(t.mgr.resolve(&dangling).is_err());

        let nothing = t.mgr.prune(&Filters::default(), &|_| false).unwrap();
        assert!(nothing.images_deleted.is_none());

        let mut f = Filters::default();
        f.add("label", "nope");
        f.add("dangling", "false");
        assert!(t
            .mgr
            .prune(&f, &|_| false)
            .unwrap()
            .images_deleted
            .is_none());

        let mut f = Filters::default();
        f.add("dangling", "false");
        let r = t.mgr.prune(&f, &|_| false).unwrap();
        assert_eq!(r.images_deleted.unwrap().len(), 2);
        assert_eq!(t.mgr.count(), 0);
        assert!(t.mgr.content.list().unwrap().is_empty());

        let mut bad = Filters::default();
        bad.add("colour", "red");
        assert!(matches!(
            t.mgr.prune(&bad, &|_| false).unwrap_err(),
            ImageError::InvalidArgument(_)
        ));
    }

    #[test]
    fn gc_spares_inflight_and_removes_orphans() {
        let t = testutil::manager();
        let orphan = t.mgr.content.write_bytes(b"orphan").unwrap();
        let busy = t.mgr.content.write_bytes(b"busy").unwrap();
        {
            let _held = t.mgr.hold([&busy]);
            let st = t.mgr.lock();
            t.mgr.collect_garbage(&st, false);
        }
        assert!(!t.mgr.content.exists(&orphan));
        assert!(t.mgr.content.exists(&busy));
        let st = t.mgr.lock();
        t.mgr.collect_garbage(&st, false);
        assert!(!t.mgr.content.exists(&busy));
    }
}
