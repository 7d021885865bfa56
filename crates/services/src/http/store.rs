//! The object store shared by every worker of the daemon.
//!
//! A concurrent map (`dashmap`: N shards, each a reader-writer lock over a
//! hash table; it beat our own sharded `std::sync::RwLock<HashMap>` in
//! benches/http_store.rs). A request holds one shard's lock only for a
//! lookup or an insert (the body is built before and dropped after), so a
//! PUT on one worker is visible to the next GET on any worker and other
//! shards are never blocked. Values are
//! `Arc<Object>`, so a GET streams the body without holding any lock.
//! Memory is bounded by `max_bytes` (bodies) and `max_objects`.

use std::hash::Hasher;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use siphasher::sip128::{Hasher128, SipHasher13};

pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Sum of all bodies, in bytes.
    pub max_bytes: u64,
    pub max_objects: u64,
    /// Lock shards (rounded up to a power of two, at least 2).
    pub shards: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_bytes: 256 * 1024 * 1024,
            max_objects: 100_000,
            shards: 64,
        }
    }
}

/// One stored representation.
#[derive(Debug, PartialEq, Eq)]
pub struct Object {
    pub body: Box<[u8]>,
    pub content_type: Box<str>,
    /// Strong entity tag, quotes included (RFC 9110 8.8.3).
    pub etag: Box<str>,
    /// Seconds since the Unix epoch.
    pub last_modified: u64,
}

impl Object {
    pub fn new(body: Vec<u8>, content_type: Option<&str>, last_modified: u64) -> Self {
        //= https://www.rfc-editor.org/rfc/rfc9110#section-8.8.3
        //# A strong validator is a representation metadata value that MUST be
        //# changed to a new, distinct value whenever a change occurs to the
        //# representation data
        let mut h = SipHasher13::new_with_keys(0x7873_6b64, 0x6874_7470);
        h.write(&body);
        let (a, b) = h.finish128().as_u64();
        let etag = format!("\"{:016x}{:016x}\"", a, b ^ body.len() as u64);
        Object {
            body: body.into_boxed_slice(),
            content_type: content_type
                .filter(|c| !c.is_empty())
                .unwrap_or(DEFAULT_CONTENT_TYPE)
                .into(),
            etag: etag.into(),
            last_modified,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("object store full (max_bytes or max_objects)")]
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Replaced,
}

#[derive(Debug)]
pub struct Store {
    map: DashMap<Box<str>, Arc<Object>>,
    bytes: AtomicU64,
    objects: AtomicU64,
    next_id: AtomicU64,
    cfg: StoreConfig,
}

/// One store per daemon, cloned into every worker's HTTP service.
pub type SharedStore = Arc<Store>;

/// Add `n` to `a` unless the sum would pass `max`.
fn reserve(a: &AtomicU64, n: u64, max: u64) -> bool {
    a.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        v.checked_add(n).filter(|s| *s <= max)
    })
    .is_ok()
}

impl Store {
    pub fn new(cfg: StoreConfig) -> Self {
        let n = cfg.shards.clamp(2, 4096).next_power_of_two();
        Store {
            map: DashMap::with_shard_amount(n),
            bytes: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            cfg,
        }
    }

    pub fn shared(cfg: StoreConfig) -> SharedStore {
        Arc::new(Store::new(cfg))
    }

    pub fn get(&self, path: &str) -> Option<Arc<Object>> {
        self.map.get(path).map(|r| r.value().clone())
    }

    pub fn contains(&self, path: &str) -> bool {
        self.map.contains_key(path)
    }

    /// Would a body of `len` bytes stored at `path` fit now (a hint for
    /// `Expect: 100-continue`; `put` decides)?
    pub fn would_fit(&self, path: &str, len: u64) -> bool {
        let old = self.get(path).map_or(0, |o| o.body.len() as u64);
        let new_object = old == 0 && !self.contains(path);
        if new_object && self.objects.load(Ordering::Acquire) >= self.cfg.max_objects {
            return false;
        }
        (self.bytes.load(Ordering::Acquire).saturating_sub(old))
            .checked_add(len)
            .is_some_and(|s| s <= self.cfg.max_bytes)
    }

    /// Store `obj` at `path`, replacing what was there. Only the growth of
    /// a replaced object counts against `max_bytes`.
    pub fn put(&self, path: &str, obj: Object) -> Result<PutOutcome, StoreError> {
        let len = obj.body.len() as u64;
        let obj = Arc::new(obj);
        let old = match self.map.entry(path.into()) {
            Entry::Occupied(mut e) => {
                let old_len = e.get().body.len() as u64;
                if len > old_len && !reserve(&self.bytes, len - old_len, self.cfg.max_bytes) {
                    return Err(StoreError::Full);
                }
                if len < old_len {
                    self.bytes.fetch_sub(old_len - len, Ordering::AcqRel);
                }
                Some(e.insert(obj))
            }
            Entry::Vacant(e) => {
                if !reserve(&self.bytes, len, self.cfg.max_bytes) {
                    return Err(StoreError::Full);
                }
                if !reserve(&self.objects, 1, self.cfg.max_objects) {
                    self.bytes.fetch_sub(len, Ordering::AcqRel);
                    return Err(StoreError::Full);
                }
                e.insert(obj);
                None
            }
        };
        // The old body is freed here, outside the lock (if no GET holds it).
        match old {
            Some(_) => Ok(PutOutcome::Replaced),
            None => Ok(PutOutcome::Created),
        }
    }

    /// Add `obj` as a new member of the collection `path`; returns its path.
    /// Ids are daemon-wide, so two workers never pick the same one.
    pub fn post(&self, collection: &str, obj: Object) -> Result<String, StoreError> {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let sep = if collection.ends_with('/') { "" } else { "/" };
            let path = format!("{collection}{sep}{id}");
            if self.contains(&path) {
                continue; // a PUT took this name first
            }
            // A racing PUT to the same fresh name merely replaces it: both
            // clients asked for that name.
            self.put(&path, obj)?;
            return Ok(path);
        }
    }

    pub fn delete(&self, path: &str) -> bool {
        let old = self.map.remove(path);
        match old {
            Some((_, o)) => {
                self.bytes.fetch_sub(o.body.len() as u64, Ordering::AcqRel);
                self.objects.fetch_sub(1, Ordering::AcqRel);
                true
            }
            None => false,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Acquire)
    }

    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::Acquire)
    }

    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Load every regular file under `dir` as `/<relative path>`, like a
    /// static web root. Returns how many objects were stored.
    pub fn preload(&self, dir: &Path) -> Result<usize, PreloadError> {
        let mut n = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let rd = std::fs::read_dir(&d).map_err(|e| PreloadError::Io(d.clone(), e))?;
            for entry in rd {
                let entry = entry.map_err(|e| PreloadError::Io(d.clone(), e))?;
                let p = entry.path();
                let meta = std::fs::metadata(&p).map_err(|e| PreloadError::Io(p.clone(), e))?;
                if meta.is_dir() {
                    stack.push(p);
                    continue;
                }
                if !meta.is_file() {
                    continue;
                }
                let rel = p.strip_prefix(dir).unwrap_or(&p);
                let Some(rel) = rel.to_str() else {
                    return Err(PreloadError::NotUtf8(p.clone()));
                };
                // The key a request for the file normalizes to.
                let key = super::target::encode_path(&rel.replace(std::path::MAIN_SEPARATOR, "/"));
                let body = std::fs::read(&p).map_err(|e| PreloadError::Io(p.clone(), e))?;
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                let obj = Object::new(body, Some(content_type_for(&key)), mtime);
                self.put(&key, obj)
                    .map_err(|_| PreloadError::Full(p.clone()))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreloadError {
    #[error("reading {0}: {1}")]
    Io(std::path::PathBuf, std::io::Error),
    #[error("{0}: file name is not UTF-8")]
    NotUtf8(std::path::PathBuf),
    #[error("{0}: the store is full (raise max_bytes or max_objects)")]
    Full(std::path::PathBuf),
}

/// Media type by file extension, for preloaded files.
pub fn content_type_for(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        _ => DEFAULT_CONTENT_TYPE,
    }
}
