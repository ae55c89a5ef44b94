//! Migration forecasts: when the components left will be done at the recent rate, with an
//! uncertainty band, against the deadline.
//!
//! Method (stated on the pages so a reader can defend it):
//! - the history is reduced to one point per ISO week (the last observation of the week) of
//!   the number of components **left** (not done, not exempt);
//! - over the last `window_weeks` weekly points, an ordinary least-squares line gives the rate
//!   (components finished per week = minus the slope) and the slope's standard error;
//! - the band is the rate ± t·SE with Student's t at 80% two-sided for n−2 degrees of freedom;
//!   the projected date is `left / rate` weeks after the last point, the band's dates
//!   `left / (rate + t·SE)` and `left / (rate − t·SE)` (open-ended when that rate is not
//!   positive);
//! - fewer than `MIN_WEEKS` weekly points: too little history, no projection is made;
//! - no progress (rate ≤ 0): no completion date at this rate.

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

/// Weekly points needed before a line is drawn.
pub const MIN_WEEKS: usize = 3;

/// Student's t, 80% two-sided (0.90 quantile), by degrees of freedom 1..=30; beyond, 1.282.
fn t80(df: usize) -> f64 {
    const T: [f64; 30] = [
        3.078, 1.886, 1.638, 1.533, 1.476, 1.440, 1.415, 1.397, 1.383, 1.372, 1.363, 1.356, 1.350, 1.345, 1.341, 1.337, 1.333, 1.330,
        1.328, 1.325, 1.323, 1.321, 1.319, 1.318, 1.316, 1.315, 1.314, 1.313, 1.311, 1.310,
    ];
    if df == 0 {
        f64::INFINITY
    } else {
        T.get(df - 1).copied().unwrap_or(1.282)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Forecast {
    /// nothing left
    Done,
    /// fewer weekly points than [`MIN_WEEKS`]
    TooLittleHistory { weeks: usize, needed: usize },
    /// the recent rate is zero or negative: no completion date at this rate
    NoProgress { rate_per_week: f64, left: f64, needed_per_week: Option<f64> },
    Projected {
        left: f64,
        /// components finished per week (the line's slope, negated)
        rate_per_week: f64,
        rate_low: f64,
        rate_high: f64,
        date: NaiveDate,
        /// the band's dates: early (fast rate), late (slow rate; None when open-ended)
        earliest: NaiveDate,
        latest: Option<NaiveDate>,
        /// rate needed to finish by the deadline (None: the deadline has passed)
        needed_per_week: Option<f64>,
        /// whole weeks the projection passes the deadline by (0 when on time)
        late_by_weeks: i64,
        weeks_used: usize,
    },
}

/// Last value of each ISO week, in date order: (Monday of the week, value).
pub fn weekly(points: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let mut sorted: Vec<(NaiveDate, f64)> = points.to_vec();
    sorted.sort_by_key(|p| p.0);
    let mut out: Vec<(NaiveDate, f64)> = Vec::new();
    for (d, v) in sorted {
        let monday = d - Duration::days(d.weekday().num_days_from_monday() as i64);
        match out.last_mut() {
            Some(last) if last.0 == monday => last.1 = v,
            _ => out.push((monday, v)),
        }
    }
    out
}

/// The forecast from `points` (date, components left), the last `window_weeks` weeks used.
pub fn forecast(points: &[(NaiveDate, f64)], deadline: Option<NaiveDate>, window_weeks: usize) -> Forecast {
    let weeks = weekly(points);
    let Some(&(last_week, _)) = weeks.last() else { return Forecast::TooLittleHistory { weeks: 0, needed: MIN_WEEKS } };
    // the last observation itself (not its week's Monday) is where the projection starts
    let last_day = points.iter().map(|p| p.0).max().unwrap_or(last_week);
    let left = points.iter().max_by_key(|p| p.0).map(|p| p.1).unwrap_or(0.0);
    if left <= 0.0 {
        return Forecast::Done;
    }
    let needed = deadline.and_then(|d| {
        let weeks_to = (d - last_day).num_days() as f64 / 7.0;
        (weeks_to > 0.0).then(|| left / weeks_to)
    });
    let used: Vec<(NaiveDate, f64)> = weeks.iter().rev().take(window_weeks.max(MIN_WEEKS)).rev().copied().collect();
    if used.len() < MIN_WEEKS {
        return Forecast::TooLittleHistory { weeks: used.len(), needed: MIN_WEEKS };
    }
    let n = used.len() as f64;
    let xs: Vec<f64> = used.iter().map(|(d, _)| (*d - used[0].0).num_days() as f64 / 7.0).collect();
    let ys: Vec<f64> = used.iter().map(|p| p.1).collect();
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let rate = -slope;
    let intercept = my - slope * mx;
    let sse: f64 = xs.iter().zip(&ys).map(|(x, y)| (y - (intercept + slope * x)).powi(2)).sum();
    let se = if used.len() > 2 && sxx > 0.0 { (sse / (n - 2.0) / sxx).sqrt() } else { f64::INFINITY };
    let half = t80(used.len().saturating_sub(2)) * se;
    if rate <= 1e-9 {
        return Forecast::NoProgress { rate_per_week: round2(rate), left, needed_per_week: needed.map(round2) };
    }
    let days = |r: f64| (left / r * 7.0).ceil() as i64;
    let date = last_day + Duration::days(days(rate));
    let earliest = last_day + Duration::days(days(rate + half));
    let latest = (rate - half > 1e-9).then(|| last_day + Duration::days(days(rate - half)));
    let late_by_weeks = deadline.map(|d| ((date - d).num_days() as f64 / 7.0).ceil().max(0.0) as i64).unwrap_or(0);
    Forecast::Projected {
        left,
        rate_per_week: round2(rate),
        rate_low: round2((rate - half).max(0.0)),
        rate_high: round2(rate + half),
        date,
        earliest,
        latest,
        needed_per_week: needed.map(round2),
        late_by_weeks,
        weeks_used: used.len(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// `left` observed every Monday from 2026-01-05.
    fn series(left: &[f64]) -> Vec<(NaiveDate, f64)> {
        left.iter().enumerate().map(|(i, v)| (d("2026-01-05") + Duration::weeks(i as i64), *v)).collect()
    }

    #[test]
    fn a_steady_rate_projects_exactly_with_a_tight_band() {
        // 100 left, 5 a week: 8 weeks in, 60 left → 12 more weeks
        let s = series(&[100.0, 95.0, 90.0, 85.0, 80.0, 75.0, 70.0, 65.0, 60.0]);
        let f = forecast(&s, Some(d("2026-05-01")), 8);
        let Forecast::Projected { rate_per_week, date, earliest, latest, needed_per_week, late_by_weeks, .. } = f else { panic!("{f:?}") };
        assert_eq!(rate_per_week, 5.0);
        assert_eq!(date, d("2026-03-02") + Duration::weeks(12));
        assert_eq!((earliest, latest), (date, Some(date)), "a perfect line has no spread");
        // the deadline is 8.6 weeks after the last point: 60 / 8.57 = 7 a week needed
        assert_eq!(needed_per_week, Some(7.0));
        assert_eq!(late_by_weeks, 4, "May 25 is 24 days past May 1: 4 weeks late (rounded up)");
    }

    #[test]
    fn a_stalled_migration_has_no_date() {
        let s = series(&[40.0, 40.0, 41.0, 40.0, 40.0]);
        let f = forecast(&s, Some(d("2026-06-01")), 8);
        assert!(matches!(f, Forecast::NoProgress { left, needed_per_week: Some(_), .. } if left == 40.0), "{f:?}");
    }

    #[test]
    fn an_accelerating_migration_is_judged_on_the_recent_weeks() {
        // 1 a week for 6 weeks, then 6 a week
        let s = series(&[100.0, 99.0, 98.0, 97.0, 96.0, 95.0, 89.0, 83.0, 77.0, 71.0, 65.0]);
        let recent = forecast(&s, None, 5);
        let all = forecast(&s, None, 11);
        let rate = |f: &Forecast| match f {
            Forecast::Projected { rate_per_week, .. } => *rate_per_week,
            _ => panic!("{f:?}"),
        };
        assert_eq!(rate(&recent), 6.0);
        assert!(rate(&all) < 4.0, "the whole history understates the new pace: {all:?}");
        // a noisy line has a band that widens with its spread
        let noisy = series(&[100.0, 92.0, 90.0, 80.0, 79.0, 70.0]);
        let Forecast::Projected { earliest, date, latest, rate_low, rate_high, .. } = forecast(&noisy, None, 8) else { panic!() };
        assert!(earliest < date && Some(date) < latest, "{earliest} {date} {latest:?}");
        assert!(rate_low < rate_high);
    }

    #[test]
    fn too_little_history_says_so_and_done_is_done() {
        let s = series(&[10.0, 8.0]);
        assert_eq!(forecast(&s, None, 8), Forecast::TooLittleHistory { weeks: 2, needed: 3 });
        // several runs in one week count as one point
        let same_week = vec![(d("2026-01-05"), 10.0), (d("2026-01-06"), 9.0), (d("2026-01-09"), 8.0), (d("2026-01-12"), 7.0)];
        assert_eq!(weekly(&same_week), vec![(d("2026-01-05"), 8.0), (d("2026-01-12"), 7.0)]);
        assert!(matches!(forecast(&same_week, None, 8), Forecast::TooLittleHistory { weeks: 2, .. }));
        assert_eq!(forecast(&series(&[3.0, 1.0, 0.0]), None, 8), Forecast::Done);
    }
}
