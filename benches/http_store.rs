//! Which concurrent map for the shared HTTP object store: our sharded
//! `RwLock<HashMap>` (64 shards), the same with one shard (a single lock),
//! or `dashmap`. Single-thread GET latency, and 4 threads doing 90% GET /
//! 10% PUT on a shared key set (what 4 workers do under a mixed load).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use dashmap::DashMap;
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

impl Map for DashMap<Box<str>, Arc<Object>> {
    fn get(&self, k: &str) -> Option<Arc<Object>> {
        DashMap::get(self, k).map(|r| r.value().clone())
    }
    fn put(&self, k: &str, o: Object) {
        self.insert(k.into(), Arc::new(o));
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
    let cfg = |shards| StoreConfig {
        shards,
        ..StoreConfig::default()
    };
    vec![
        ("sharded64", Arc::new(Store::new(cfg(64)))),
        ("single_lock", Arc::new(Store::new(cfg(1)))),
        ("dashmap", Arc::new(DashMap::<Box<str>, Arc<Object>>::new())),
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
