//! `/metrics` in the Prometheus text format: per context, events relayed,
//! delivered, failed and dead-lettered since start, and the age of the oldest
//! event not yet delivered everywhere (read from the database at scrape time).

use crate::wiring::RelayInfo;
use actix_web::{HttpResponse, web};
use std::fmt::Write;
use std::sync::Arc;

type ReadCounter = fn(&kernel::events::RelayMetrics) -> u64;

/// What the metrics endpoint reads.
pub struct MetricsSources {
    pub relays: Vec<(&'static str, kernel::db::ContextDatabase, Arc<kernel::events::RelayMetrics>)>,
    pub clock: Arc<dyn kernel::Clock>,
}

impl MetricsSources {
    pub fn from_relays(relays: &[RelayInfo], clock: Arc<dyn kernel::Clock>) -> Self {
        Self { relays: relays.iter().map(|r| (r.context, r.db.clone(), r.metrics.clone())).collect(), clock }
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(sources: web::Data<MetricsSources>) -> HttpResponse {
    let sources = sources.into_inner();
    let ages = web::block(move || {
        let now = sources.clock.now();
        let ages: Vec<_> = sources
            .relays
            .iter()
            .map(|(context, db, metrics)| {
                let age = db
                    .conn()
                    .ok()
                    .and_then(|mut conn| kernel::events::admin::oldest_pending_age(&mut conn, now).ok())
                    .map(|age| age.map(|a| a.num_milliseconds() as f64 / 1000.0).unwrap_or(0.0));
                (*context, metrics.clone(), age)
            })
            .collect();
        ages
    })
    .await
    .unwrap_or_default();

    let mut out = String::new();
    let counters: [(&str, &str, ReadCounter); 4] = [
        ("tienda_events_relayed_total", "Outbox rows taken up by the relay.", |m| m.relayed()),
        ("tienda_events_delivered_total", "Event deliveries that a subscriber applied.", |m| m.delivered()),
        ("tienda_events_failed_total", "Failed delivery attempts, retries included.", |m| m.failed()),
        ("tienda_events_dead_lettered_total", "Deliveries given up and dead-lettered.", |m| m.dead_lettered()),
    ];
    for (name, help, read) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (context, metrics, _) in &ages {
            let _ = writeln!(out, "{name}{{context=\"{context}\"}} {}", read(metrics));
        }
    }
    let name = "tienda_outbox_oldest_pending_seconds";
    let _ = writeln!(out, "# HELP {name} Age of the oldest event not yet delivered to every subscriber (0 when none).");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (context, _, age) in &ages {
        match age {
            Some(age) => {
                let _ = writeln!(out, "{name}{{context=\"{context}\"}} {age}");
            }
            None => {
                let _ = writeln!(out, "{name}{{context=\"{context}\"}} NaN");
            }
        }
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out)
}
