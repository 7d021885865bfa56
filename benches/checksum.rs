//! Internet checksum cost over typical frame sizes.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use xskd::wire::checksum;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for size in [64usize, 1500] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("sum_{size}"), |b| {
            b.iter(|| checksum::finish(checksum::sum(black_box(&data))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
