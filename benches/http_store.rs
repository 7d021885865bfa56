//! Which concurrent map for the shared HTTP object store: a sharded
//! `std::sync::RwLock<HashMap>` (64 shards), the same with one shard (a
//! single lock), or `dashmap` (what `Store` uses, here through `Store`, so
//! its byte and object accounting is included). Single-thread GET latency, and 4 threads doing 90% GET /
//! 10% PUT on a shared key set (what 4 workers do under a mixed load).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use xskd::service::http::{Object, Store, StoreConfig};

const KEYS: usize = 10_000;
const THREADS: usize = 4;
const OPS: usize = 20_000;

trait Map: Send + Sync {
    fn get(&self, k: &str) -> Option<Arc<Object>>;
    fn put(&self, k: &str, o: Object);
}

impl Map for Store {
    fn get(&self, k: &str) -> Option<Arc<Object>> {
        Store::get(self, k)
    }
    fn put(&self, k: &str, o: Object) {
        let _ = Store::put(self, k, o);
    }
}

/// The alternative measured: N `std` reader-writer locks over hash maps.
struct Sharded {
    shards: Vec<RwLock<HashMap<Box<str>, Arc<Object>>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Sharded {
    fn new(n: usize) -> Self {
        Sharded {
            shards: (0..n).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }
    fn shard(&self, k: &str) -> &RwLock<HashMap<Box<str>, Arc<Object>>> {
        &self.shards[self.hasher.hash_one(k) as usize % self.shards.len()]
    }
}

impl Map for Sharded {
    fn get(&self, k: &str) -> Option<Arc<Object>> {
        self.shard(k).read().unwrap().get(k).cloned()
    }
    fn put(&self, k: &str, o: Object) {
        let o = Arc::new(o);
        let old = self.shard(k).write().unwrap().insert(k.into(), o);
        drop(old);
    }
}

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("/objects/{i}")).collect()
}

fn filled(m: &dyn Map, keys: &[String]) {
    for k in keys {
        m.put(k, Object::new(vec![7; 64], None, 0));
    }
}

fn maps() -> Vec<(&'static str, Arc<dyn Map>)> {
    vec![
        ("rwlock_sharded64", Arc::new(Sharded::new(64))),
        ("rwlock_single", Arc::new(Sharded::new(1))),
        (
            "store_dashmap64",
            Arc::new(Store::new(StoreConfig::default())),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let keys = Arc::new(keys());
    let mut g = c.benchmark_group("http_store");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    for (name, m) in maps() {
        filled(m.as_ref(), &keys);
        let mut i = 0;
        g.bench_function(format!("get_1thread/{name}"), |b| {
            b.iter(|| {
                i = (i + 7919) % KEYS;
                black_box(m.get(&keys[i]))
            })
        });
        g.bench_function(
            format!("mixed90_10_{THREADS}threads_{OPS}ops/{name}"),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        std::thread::scope(|s| {
                            for t in 0..THREADS {
                                let m = &m;
                                let keys = &keys;
                                s.spawn(move || {
                                    let mut x = t * 104_729;
                                    for n in 0..OPS {
                                        x = (x + 7919) % KEYS;
                                        if n % 10 == 0 {
                                            m.put(
                                                &keys[x],
                                                Object::new(vec![t as u8; 64], None, 0),
                                            );
                                        } else {
                                            black_box(m.get(&keys[x]));
                                        }
                                    }
                                });
                            }
                        });
                        total += start.elapsed();
                    }
                    total
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
