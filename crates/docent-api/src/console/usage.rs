//! Usage: this period against the plan's limits as bars, and messages and
//! tokens per day over the last 30 days as charts (SVG drawn here, with the
//! figures as a table beside them for screen readers and copying). Owners
//! and admins only, as `GET /admin/usage` is.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use docent_service::{DayUsage, UsageReport};
use maud::{Markup, html};

use super::page::{failed, page};
use super::session::Console;
use crate::app::AppState;

pub async fn show(State(state): State<AppState>, who: Console) -> Response {
    let report = match state.services.usage_report(&who.ctx).await {
        Ok(r) => r,
        Err(e) => return failed(&who, e.into()),
    };
    let daily = match state.services.usage_daily(&who.ctx, 30).await {
        Ok(d) => d,
        Err(e) => return failed(&who, e.into()),
    };
    page("Usage", Some(&who), body(&report, &daily.days)).into_response()
}

fn bytes(n: u64) -> String {
    match n {
        n if n < 1024 * 1024 => format!("{:.1} KiB", n as f64 / 1024.0),
        n if n < 1024 * 1024 * 1024 => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
        n => format!("{:.2} GiB", n as f64 / (1024.0 * 1024.0 * 1024.0)),
    }
}

/// One limit as a labelled bar: used of the limit, or used alone when the
/// plan has none.
fn bar(label: &str, used: u64, limit: Option<u64>, show: impl Fn(u64) -> String) -> Markup {
    let share = limit.map(|l| {
        if l == 0 {
            1.0
        } else {
            (used as f64 / l as f64).min(1.0)
        }
    });
    html! {
        div class="meter" {
            div class="meter-label" {
                span { (label) }
                span {
                    (show(used))
                    @if let Some(l) = limit { " of " (show(l)) } @else { " (no limit)" }
                }
            }
            @if let Some(share) = share {
                progress max="1" value=(format!("{share:.3}")) aria-label=(label) class=[(share >= 0.9).then_some("near")] {}
            }
        }
    }
}

/// A bar chart of one series per day; the days' figures are in the table
/// that follows it.
fn chart(title: &str, days: &[DayUsage], value: impl Fn(&DayUsage) -> u64) -> Markup {
    let (w, h, gap) = (30.0_f64, 120.0_f64, 4.0_f64);
    let max = days.iter().map(&value).max().unwrap_or(0).max(1) as f64;
    let width = days.len() as f64 * w;
    let total: u64 = days.iter().map(&value).sum();
    html! {
        figure class="chart" {
            figcaption { (title) ": " (total) " in 30 days" }
            svg viewBox={ "0 0 " (width) " " (h + 18.0) } role="img" aria-label={ (title) " per day, last 30 days" } preserveAspectRatio="none" {
                @for (i, d) in days.iter().enumerate() {
                    @let v = value(d) as f64;
                    @let bh = (v / max * h).max(if v > 0.0 { 2.0 } else { 0.0 });
                    rect x=(i as f64 * w + gap / 2.0) y=(h - bh) width=(w - gap) height=(bh) {
                        title { (d.date) ": " (value(d)) }
                    }
                }
                line x1="0" y1=(h) x2=(width) y2=(h) class="axis" {}
                text x="0" y=(h + 14.0) class="tick" { (days.first().map(|d| &d.date[5..]).unwrap_or("")) }
                text x=(width) y=(h + 14.0) class="tick end" { (days.last().map(|d| &d.date[5..]).unwrap_or("")) }
            }
        }
    }
}

fn body(r: &UsageReport, days: &[DayUsage]) -> Markup {
    let u = &r.usage;
    let l = &r.limits;
    let n = |x: u64| x.to_string();
    html! {
        h1 { "Usage" }
        p { "Plan " strong { (r.plan.as_str()) } ", period " (r.period_start.format("%Y-%m-%d")) " to " (r.period_end.format("%Y-%m-%d")) " (UTC)." }
        section class="meters" aria-label="This period against the plan" {
            (bar("Messages this month", u.messages, l.messages_per_month, n))
            (bar("Documents", u.documents, l.documents, n))
            (bar("Storage", u.storage_bytes, l.storage_bytes, bytes))
            (bar("Crawled pages this month", u.crawl_pages, l.crawl_pages_per_month, n))
            (bar("Leads this month", u.leads, l.leads_per_month, n))
        }
        h2 { "Last 30 days" }
        div class="charts" {
            (chart("Messages", days, |d| d.messages))
            (chart("Tokens (prompt and completion)", days, |d| d.prompt_tokens + d.completion_tokens))
        }
        details {
            summary { "The figures per day" }
            div class="scroll" {
                table class="list" {
                    thead { tr {
                        th scope="col" { "Day" } th scope="col" { "Messages" } th scope="col" { "Prompt tokens" }
                        th scope="col" { "Completion tokens" } th scope="col" { "Documents added" }
                    } }
                    tbody {
                        @for d in days.iter().rev() {
                            tr { td { (d.date) } td { (d.messages) } td { (d.prompt_tokens) } td { (d.completion_tokens) } td { (d.documents) } }
                        }
                    }
                }
            }
        }
    }
}
