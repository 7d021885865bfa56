//! Building Prometheus metric families from worker snapshots and encoding
//! them in the text exposition format with the `prometheus` crate.
//!
//! Workers own plain counters; the control thread turns the latest snapshot
//! of every worker into families at scrape time, so nothing on the packet
//! path touches a Prometheus type or a lock.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram as PromHistogram, LabelPair, Metric, MetricFamily,
    MetricType, Quantile, Summary,
};
use prometheus::{Encoder, TextEncoder};

/// Bucket upper bounds in seconds: microseconds through seconds.
pub const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3,
    50e-3, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

pub const NAMESPACE: &str = "xskd";

/// A set of metric families under construction. Names get the `xskd_`
/// prefix; samples with the same name and labels are summed.
#[derive(Default)]
pub struct MetricSet {
    families: BTreeMap<String, Family>,
}

struct Family {
    help: String,
    kind: MetricType,
    samples: BTreeMap<Vec<(String, String)>, Sample>,
}

enum Sample {
    Value(f64),
    Histogram {
        buckets: Vec<u64>,
        count: u64,
        sum: f64,
    },
    Summary {
        quantiles: Vec<(f64, f64)>,
        count: u64,
        sum: f64,
    },
}

fn key(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

impl MetricSet {
    fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut Family {
        let full = format!("{NAMESPACE}_{name}");
        self.families.entry(full).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            samples: BTreeMap::new(),
        })
    }

    /// A monotonically increasing total; `name` should end in `_total`.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        debug_assert!(name.ends_with("_total"), "{name}");
        self.add_value(name, help, MetricType::COUNTER, labels, value as f64);
    }

    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add_value(name, help, MetricType::GAUGE, labels, value);
    }

    fn add_value(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let fam = self.family(name, help, kind);
        match fam.samples.entry(key(labels)).or_insert(Sample::Value(0.0)) {
            Sample::Value(v) => *v += value,
            Sample::Histogram { .. } | Sample::Summary { .. } => {}
        }
    }

    /// A histogram from an hdrhistogram of nanoseconds, exported in seconds
    /// with `LATENCY_BUCKETS_SECONDS`.
    pub fn histogram_ns(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        h: &Histogram<u64>,
    ) {
        let buckets: Vec<u64> = LATENCY_BUCKETS_SECONDS
            .iter()
            .map(|&b| {
                let limit = (b * 1e9) as u64;
                h.iter_recorded()
                    .filter(|v| v.value_iterated_to() <= limit)
                    .map(|v| v.count_at_value())
                    .sum()
            })
            .collect();
        let count = h.len();
        let sum = h
            .iter_recorded()
            .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
            .sum::<f64>()
            / 1e9;
        let fam = self.family(name, help, MetricType::HISTOGRAM);
        match fam.samples.entry(key(labels)).or_insert(Sample::Histogram {
            buckets: vec![0; LATENCY_BUCKETS_SECONDS.len()],
            count: 0,
            sum: 0.0,
        }) {
            Sample::Histogram {
                buckets: b,
                count: c,
                sum: s,
            } => {
                for (acc, n) in b.iter_mut().zip(buckets) {
                    *acc += n;
                }
                *c += count;
                *s += sum;
            }
            Sample::Value(_) | Sample::Summary { .. } => {}
        }
    }

    /// p50/p90/p99/p99.9 of a nanosecond hdrhistogram, as a summary in
    /// seconds (one sample per label set; a repeat replaces it).
    pub fn summary_ns(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        h: &Histogram<u64>,
    ) {
        let quantiles = SUMMARY_QUANTILES
            .iter()
            .map(|&q| {
                (
                    q,
                    if h.is_empty() {
                        0.0
                    } else {
                        h.value_at_quantile(q) as f64 / 1e9
                    },
                )
            })
            .collect();
        let sum = h
            .iter_recorded()
            .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
            .sum::<f64>()
            / 1e9;
        let fam = self.family(name, help, MetricType::SUMMARY);
        fam.samples.insert(
            key(labels),
            Sample::Summary {
                quantiles,
                count: h.len(),
                sum,
            },
        );
    }

    pub fn into_families(self) -> Vec<MetricFamily> {
        self.families
            .into_iter()
            .map(|(name, fam)| {
                let mut mf = MetricFamily::default();
                mf.set_name(name);
                mf.set_help(fam.help);
                mf.set_field_type(fam.kind);
                let metrics = fam
                    .samples
                    .into_iter()
                    .map(|(labels, sample)| {
                        let mut m = Metric::default();
                        m.set_label(
                            labels
                                .into_iter()
                                .map(|(k, v)| {
                                    let mut lp = LabelPair::default();
                                    lp.set_name(k);
                                    lp.set_value(v);
                                    lp
                                })
                                .collect(),
                        );
                        match (fam.kind, sample) {
                            (MetricType::COUNTER, Sample::Value(v)) => {
                                let mut c = Counter::default();
                                c.set_value(v);
                                m.set_counter(c);
                            }
                            (
                                MetricType::HISTOGRAM,
                                Sample::Histogram {
                                    buckets,
                                    count,
                                    sum,
                                },
                            ) => {
                                let mut h = PromHistogram::default();
                                h.set_sample_count(count);
                                h.set_sample_sum(sum);
                                h.set_bucket(
                                    LATENCY_BUCKETS_SECONDS
                                        .iter()
                                        .zip(buckets)
                                        .map(|(&ub, n)| {
                                            let mut b = Bucket::default();
                                            b.set_upper_bound(ub);
                                            b.set_cumulative_count(n);
                                            b
                                        })
                                        .collect(),
                                );
                                m.set_histogram(h);
                            }
                            (_, Sample::Value(v)) => {
                                let mut g = Gauge::default();
                                g.set_value(v);
                                m.set_gauge(g);
                            }
                            (
                                MetricType::SUMMARY,
                                Sample::Summary {
                                    quantiles,
                                    count,
                                    sum,
                                },
                            ) => {
                                let mut sm = Summary::default();
                                sm.set_sample_count(count);
                                sm.set_sample_sum(sum);
                                sm.set_quantile(
                                    quantiles
                                        .into_iter()
                                        .map(|(q, v)| {
                                            let mut qq = Quantile::default();
                                            qq.set_quantile(q);
                                            qq.set_value(v);
                                            qq
                                        })
                                        .collect(),
                                );
                                m.set_summary(sm);
                            }
                            (_, Sample::Histogram { .. } | Sample::Summary { .. }) => {}
                        }
                        m
                    })
                    .collect();
                mf.set_metric(metrics);
                mf
            })
            .collect()
    }

    /// The text exposition format.
    pub fn encode_text(self) -> String {
        let families = self.into_families();
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut buf)
            .expect("encoding well-formed families into a Vec cannot fail");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

/// Quantiles every summary reports.
pub const SUMMARY_QUANTILES: &[f64] = &[0.5, 0.9, 0.99, 0.999];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_gauges_encode_with_prefix_type_and_labels() {
        let mut s = MetricSet::default();
        s.counter("rx_frames_total", "Frames received.", &[("queue", "0")], 5);
        s.counter("rx_frames_total", "Frames received.", &[("queue", "0")], 2);
        s.counter("rx_frames_total", "Frames received.", &[("queue", "1")], 1);
        s.gauge(
            "arp_cache_entries",
            "ARP cache size.",
            &[("worker", "0")],
            3.0,
        );
        let text = s.encode_text();
        assert!(
            text.contains("# TYPE xskd_rx_frames_total counter"),
            "{text}"
        );
        assert!(
            text.contains("xskd_rx_frames_total{queue=\"0\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("xskd_rx_frames_total{queue=\"1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE xskd_arp_cache_entries gauge"),
            "{text}"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_in_seconds() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        h.record(1_500).unwrap(); // 1.5 us
        h.record(40_000).unwrap(); // 40 us
        h.record(3_000_000).unwrap(); // 3 ms
        let mut s = MetricSet::default();
        s.histogram_ns("rtt_seconds", "RTT.", &[("worker", "0")], &h);
        s.summary_ns("rtt_merged_seconds", "RTT quantiles.", &[], &h);
        let text = s.encode_text();
        assert!(
            text.contains("xskd_rtt_seconds_bucket{worker=\"0\",le=\"0.000001\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("xskd_rtt_seconds_bucket{worker=\"0\",le=\"0.000002\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("xskd_rtt_seconds_bucket{worker=\"0\",le=\"0.00005\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("xskd_rtt_seconds_bucket{worker=\"0\",le=\"0.005\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("xskd_rtt_seconds_bucket{worker=\"0\",le=\"+Inf\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("xskd_rtt_seconds_count{worker=\"0\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE xskd_rtt_merged_seconds summary"),
            "{text}"
        );
        assert!(
            text.contains("xskd_rtt_merged_seconds{quantile=\"0.99\"} 0.003"),
            "{text}"
        );
        assert!(text.contains("xskd_rtt_merged_seconds_count 3"), "{text}");
    }
}
