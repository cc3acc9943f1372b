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

/// A series: a metric name and its labels, rendered once.
type Series = (&'static str, String);

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Series, u64>,
    histograms: BTreeMap<Series, Histogram>,
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

/// Labels in Prometheus' text form, values escaped. Called at each
/// request: no allocation but the text's.
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut text = String::with_capacity(64);
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        text.push_str(name);
        text.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => text.push_str("\\\\"),
                '"' => text.push_str("\\\""),
                '\n' => text.push_str("\\n"),
                c => text.push(c),
            }
        }
        text.push('"');
    }
    text
}

/// The OAuth error code of a JSON error answer, for the metrics.
#[derive(Clone, Copy, Debug)]
pub struct OAuthErrorCode(pub &'static str);

impl Metrics {
    /// Adds one to a counter.
    pub fn count(&self, name: &'static str, pairs: &[(&str, &str)]) {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        *registry.counters.entry((name, labels(pairs))).or_default() += 1;
    }

    /// Records a duration in a histogram.
    pub fn observe(&self, name: &'static str, pairs: &[(&str, &str)], duration: Duration) {
        let seconds = duration.as_secs_f64();
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let histogram = registry
            .histograms
            .entry((name, labels(pairs)))
            .or_default();
        for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The counters and histograms in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        let mut typed = None;
        for ((name, pairs), value) in &registry.counters {
            if typed != Some(*name) {
                let _ = writeln!(text, "# TYPE {name} counter");
                typed = Some(*name);
            }
            let _ = writeln!(text, "{name}{{{pairs}}} {value}");
        }
        for ((name, pairs), histogram) in &registry.histograms {
            if typed != Some(*name) {
                let _ = writeln!(text, "# TYPE {name} histogram");
                typed = Some(*name);
            }
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
    use super::labels;

    #[test]
    fn label_values_are_escaped_as_prometheus_reads_them() {
        assert_eq!(
            labels(&[("part", "hub"), ("code", "a\"b\\c\nd é")]),
            r#"part="hub",code="a\"b\\c\nd é""#
        );
        assert_eq!(labels(&[]), "");
    }
}
