//! The metadata database: one redb file (`pouch.redb`) under the home dir holding every
//! record (images, references, later containers, volumes, networks) as JSON values in
//! named tables. Subsystems own their record types; this crate owns durability: every
//! `write` is one transaction with one commit (one fsync).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Image records, keyed by image id (`sha256:<hex>` of the config).
pub const IMAGES: &str = "images";
/// Image references, keyed by full reference (`docker.io/library/busybox:latest` or
/// `...@sha256:<hex>`), value: image id.
pub const REFS: &str = "refs";
/// Container records, keyed by container id (64 hex); the engine owns the value type.
pub const CONTAINERS: &str = "containers";

/// Errors of the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("metadata database {path}: {message}")]
    Open { path: String, message: String },
    #[error("metadata database: {0}")]
    Db(String),
    #[error("metadata record {table}/{key} is not valid json: {source}")]
    Decode {
        table: String,
        key: String,
        source: serde_json::Error,
    },
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

fn def(table: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(table)
}

/// The metadata database.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Store { db })
    }

    /// Reads one record.
    pub fn get<T: DeserializeOwned>(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = match tx.open_table(def(table)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        match t.get(key).map_err(db_err)? {
            Some(v) => decode(table, key, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Reads every record of a table, in key order.
    pub fn list<T: DeserializeOwned>(&self, table: &str) -> Result<Vec<(String, T)>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = match tx.open_table(def(table)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db_err(e)),
        };
        let mut out = Vec::new();
        for item in t.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let key = k.value().to_string();
            let value = decode(table, &key, v.value())?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// Applies a batch of puts and deletes atomically, with one durable commit.
    pub fn write(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(db_err)?;
        for op in &batch.ops {
            match op {
                Op::Put { table, key, value } => {
                    let mut t = tx.open_table(def(table)).map_err(db_err)?;
                    t.insert(key.as_str(), value.as_slice()).map_err(db_err)?;
                }
                Op::Delete { table, key } => {
                    let mut t = tx.open_table(def(table)).map_err(db_err)?;
                    t.remove(key.as_str()).map_err(db_err)?;
                }
            }
        }
        tx.commit().map_err(db_err)
    }

    /// Convenience: one put.
    pub fn put<T: Serialize>(&self, table: &str, key: &str, value: &T) -> Result<(), StoreError> {
        let mut b = Batch::default();
        b.put(table, key, value);
        self.write(b)
    }

    /// Convenience: one delete.
    pub fn delete(&self, table: &str, key: &str) -> Result<(), StoreError> {
        let mut b = Batch::default();
        b.delete(table, key);
        self.write(b)
    }
}

fn decode<T: DeserializeOwned>(table: &str, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        table: table.to_string(),
        key: key.to_string(),
        source,
    })
}

enum Op {
    Put {
        table: String,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        table: String,
        key: String,
    },
}

/// A set of changes committed together by [`Store::write`].
#[derive(Default)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    pub fn put<T: Serialize>(&mut self, table: &str, key: &str, value: &T) -> &mut Self {
        let value = serde_json::to_vec(value).expect("records serialize to json");
        self.ops.push(Op::Put {
            table: table.to_string(),
            key: key.to_string(),
            value,
        });
        self
    }

    pub fn delete(&mut self, table: &str, key: &str) -> &mut Self {
        self.ops.push(Op::Delete {
            table: table.to_string(),
            key: key.to_string(),
        });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_delete_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pouch.redb");
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.get::<String>(IMAGES, "x").unwrap(), None);
            let mut b = Batch::default();
            b.put(IMAGES, "a", &"one".to_string())
                .put(IMAGES, "b", &"two".to_string())
                .put(REFS, "r", &"a".to_string());
            s.write(b).unwrap();
            s.delete(IMAGES, "b").unwrap();
        }
        let s = Store::open(&path).unwrap();
        let all: Vec<(String, String)> = s.list(IMAGES).unwrap();
        assert_eq!(all, vec![("a".to_string(), "one".to_string())]);
        assert_eq!(s.get::<String>(REFS, "r").unwrap().as_deref(), Some("a"));
    }
}
