//! Prometheus metrics of a process, served on a listen address of their
//! own (`[metrics] listen`), never on the public ones.
//!
//! What is counted: requests and their latency by part and status, error
//! pages and OAuth errors by code, logins by platform, provider, level and
//! outcome (the hub counts them), and, read at each scrape, each part's
//! store round trip and queue depths. Labels are ids of our own (parts,
//! providers, codes), never anything a request names freely, so the
//! series stay few.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use store::Stores;

use crate::ErrorPage;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A metric's series, by their labels rendered once.
type Series<V> = BTreeMap<&'static str, BTreeMap<String, V>>;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    counters: Series<u64>,
    histograms: Series<Histogram>,
    /// Where the labels of the series counted are written, to be found
    /// without an allocation a request (a series' first count makes its
    /// key).
    scratch: String,
}

/// Applies `change` to the series of `name` labelled `pairs`, made at its
/// first change. Its labels are written in `scratch` to be found, and copied
/// only then.
fn update<V: Default>(
    series: &mut Series<V>,
    scratch: &mut String,
    name: &'static str,
    pairs: &[(&str, &str)],
    change: impl FnOnce(&mut V),
) {
    scratch.clear();
    write_labels(scratch, pairs);
    let by_labels = series.entry(name).or_default();
    if let Some(value) = by_labels.get_mut(scratch.as_str()) {
        change(value);
        return;
    }
    change(by_labels.entry(scratch.clone()).or_default());
}

/// The process's metrics. Cheap to clone: clones share the registry.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Labels in Prometheus' text form, values escaped.
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut text = String::with_capacity(64);
    write_labels(&mut text, pairs);
    text
}

/// [`labels`], written at the end of `text`.
fn write_labels(text: &mut String, pairs: &[(&str, &str)]) {
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        text.push_str(name);
        text.push_str("=\"");
        if value
            .bytes()
            .any(|byte| matches!(byte, b'\\' | b'"' | b'\n'))
        {
            for c in value.chars() {
                match c {
                    '\\' => text.push_str("\\\\"),
                    '"' => text.push_str("\\\""),
                    '\n' => text.push_str("\\n"),
                    c => text.push(c),
                }
            }
        } else {
            text.push_str(value);
        }
        text.push('"');
    }
}

/// The OAuth error code of a JSON error answer, for the metrics.
#[derive(Clone, Copy, Debug)]
pub struct OAuthErrorCode(pub &'static str);

impl Metrics {
    /// Adds one to a counter.
    pub fn count(&self, name: &'static str, pairs: &[(&str, &str)]) {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let Registry {
            counters, scratch, ..
        } = &mut *registry;
        update(counters, scratch, name, pairs, |count| *count += 1);
    }

    /// Records a duration in a histogram.
    pub fn observe(&self, name: &'static str, pairs: &[(&str, &str)], duration: Duration) {
        let seconds = duration.as_secs_f64();
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let Registry {
            histograms,
            scratch,
            ..
        } = &mut *registry;
        update(histograms, scratch, name, pairs, |histogram| {
            for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        });
    }

    /// The counters and histograms in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        for (name, series) in &registry.counters {
            let _ = writeln!(text, "# TYPE {name} counter");
            for (pairs, value) in series {
                let _ = writeln!(text, "{name}{{{pairs}}} {value}");
            }
        }
        for (name, series) in &registry.histograms {
            let _ = writeln!(text, "# TYPE {name} histogram");
            for (pairs, histogram) in series {
                let sep = if pairs.is_empty() { "" } else { "," };
                for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                    let _ = writeln!(text, "{name}_bucket{{{pairs}{sep}le=\"{bound}\"}} {count}");
                }
                let _ = writeln!(
                    text,
                    "{name}_bucket{{{pairs}{sep}le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(text, "{name}_sum{{{pairs}}} {}", histogram.sum);
                let _ = writeln!(text, "{name}_count{{{pairs}}} {}", histogram.count);
            }
        }
        text
    }

    /// Counts an answer of `part`: its latency by status class, and its
    /// error page's or OAuth error's code.
    pub(crate) fn observe_response(&self, part: &str, response: &Response, took: Duration) {
        let class = match response.status().as_u16() {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.observe(
            "passerelle_http_request_duration_seconds",
            &[("part", part), ("status", class)],
            took,
        );
        let code = match (
            response.extensions().get::<ErrorPage>(),
            response.extensions().get::<OAuthErrorCode>(),
        ) {
            (Some(page), _) => Some(page.code),
            (None, Some(OAuthErrorCode(code))) => Some(*code),
            (None, None) => None,
        };
        if let Some(code) = code {
            self.count("passerelle_errors_total", &[("part", part), ("code", code)]);
        }
    }
}

/// The parts whose stores the scrape reads: a round trip each, and the
/// depth of their queues.
#[derive(Clone)]
struct Scrape {
    metrics: Metrics,
    parts: Arc<Vec<(String, Stores)>>,
}

/// `GET /metrics` over the process's metrics and its parts' stores.
pub fn metrics_routes(metrics: Metrics, parts: Vec<(String, Stores)>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            metrics,
            parts: Arc::new(parts),
        })
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    let mut text = scrape.metrics.render();
    let _ = writeln!(text, "# TYPE passerelle_store_ping_seconds gauge");
    let mut depths = String::new();
    for (part, stores) in scrape.parts.iter() {
        let started = Instant::now();
        let answered = tokio::time::timeout(Duration::from_secs(2), stores.ping()).await;
        let seconds = match answered {
            Ok(Ok(())) => started.elapsed().as_secs_f64(),
            _ => f64::NAN,
        };
        let part_label = labels(&[("part", part)]);
        let _ = writeln!(
            text,
            "passerelle_store_ping_seconds{{{part_label}}} {seconds}"
        );
        if let Ok(Ok(waiting)) =
            tokio::time::timeout(Duration::from_secs(2), stores.outbox.waiting()).await
        {
            let _ = writeln!(depths, "passerelle_queue_depth{{{part_label}}} {waiting}");
        }
    }
    let _ = writeln!(text, "# TYPE passerelle_queue_depth gauge");
    text.push_str(&depths);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Metrics, labels};

    #[test]
    fn each_series_is_counted_under_its_labels_and_each_metric_typed_once() {
        let metrics = Metrics::default();
        for (part, code) in [("hub", "A"), ("idp", "B"), ("hub", "A"), ("hub", "a\"q")] {
            metrics.count("passerelle_errors_total", &[("part", part), ("code", code)]);
        }
        metrics.observe("latency", &[("part", "hub")], Duration::from_millis(30));
        metrics.observe("latency", &[("part", "hub")], Duration::from_millis(3));
        metrics.observe("latency", &[("part", "idp")], Duration::from_secs(60));
        let text = metrics.render();
        for line in [
            "# TYPE passerelle_errors_total counter",
            "passerelle_errors_total{part=\"hub\",code=\"A\"} 2",
            "passerelle_errors_total{part=\"hub\",code=\"a\\\"q\"} 1",
            "passerelle_errors_total{part=\"idp\",code=\"B\"} 1",
            "# TYPE latency histogram",
            "latency_bucket{part=\"hub\",le=\"0.005\"} 1",
            "latency_bucket{part=\"hub\",le=\"0.05\"} 2",
            "latency_bucket{part=\"hub\",le=\"+Inf\"} 2",
            "latency_count{part=\"hub\"} 2",
            "latency_bucket{part=\"idp\",le=\"10\"} 0",
            "latency_count{part=\"idp\"} 1",
        ] {
            assert_eq!(
                text.lines().filter(|l| *l == line).count(),
                1,
                "{line} once in\n{text}"
            );
        }
    }

    #[test]
    fn label_values_are_escaped_as_prometheus_reads_them() {
        assert_eq!(
            labels(&[("part", "hub"), ("code", "a\"b\\c\nd é")]),
            r#"part="hub",code="a\"b\\c\nd é""#
        );
        assert_eq!(labels(&[]), "");
    }
}
