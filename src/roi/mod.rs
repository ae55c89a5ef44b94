//! The tech-debt return-on-investment model (design §6): every assumption named, editable in
//! the pipeline file (`roi:`), stored with each run (so the page re-renders from the database
//! alone), and applied per component to its stored facts.
//!
//! Per component, over a quarter (the 90 days of the change fact):
//! - **change hours** = changes × `hours_per_change`;
//! - **share in unhealthy code** = red hotspots ÷ hotspots (CodeScene's hotspots are where
//!   the changes land), else 1 when the hotspot code health is below `unhealthy_below`, else 0;
//! - **excess time** = change hours × share × `extra_time` ÷ (1 + `extra_time`): the hours
//!   observed in unhealthy code already include the penalty ("Code Red": 124% more time);
//! - **excess defect work** = changes × share × `defect_hours_per_change` × (`defect_multiplier` − 1)
//!   ("Code Red": 15 times more defects);
//! - **cost** = (excess time + excess defect work) × `hourly_cost`: what the quarter's changes
//!   cost beyond the same work in healthy code, hence the saving if that code were healthy.
//!
//! A component without the change fact or without code health is **unknown**: left out of
//! the sums and counted, never a zero cost.

use serde::{Deserialize, Serialize};

/// The published study the defaults come from, as the page cites it.
pub const CITATION: &str = "Adam Tornhill and Markus Borg, \"Code Red: The Business Impact of Code Quality — A Quantitative Study of 39 Proprietary Production Codebases\", International Conference on Technical Debt (TechDebt '22), 2022. https://arxiv.org/abs/2203.04374";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub currency: String,
    /// loaded cost of one engineering hour
    pub hourly_cost: f64,
    /// hours of change work per merged pull request
    pub hours_per_change: f64,
    /// CodeScene code health below which code counts as unhealthy (1-10)
    pub unhealthy_below: f64,
    /// extra development time in unhealthy code (1.24 = 124% more)
    pub extra_time: f64,
    /// defects in unhealthy code relative to healthy code (15 = 15 times)
    pub defect_multiplier: f64,
    /// hours of defect work per change in healthy code (your incident data)
    pub defect_hours_per_change: f64,
    /// the fact counting changes over 90 days
    pub change_fact: String,
    /// the fact giving the code health of the hotspots
    pub health_fact: String,
}

/// The CodeScene facts giving how many hotspots a component has, and how many of them are red.
pub const HOTSPOTS_FACT: &str = "codescene.hotspots";
pub const RED_HOTSPOTS_FACT: &str = "codescene.red_hotspots";

impl Model {
    /// Every fact the model reads.
    pub fn facts(&self) -> [&str; 4] {
        [&self.change_fact, &self.health_fact, HOTSPOTS_FACT, RED_HOTSPOTS_FACT]
    }
}

impl Default for Model {
    fn default() -> Self {
        Model {
            currency: "EUR".into(),
            hourly_cost: 100.0,
            hours_per_change: 8.0,
            unhealthy_below: 4.0,
            extra_time: 1.24,
            defect_multiplier: 15.0,
            defect_hours_per_change: 0.5,
            change_fact: "github.merged_pull_requests_90d".into(),
            health_fact: "codescene.hotspot_code_health".into(),
        }
    }
}

/// The inputs of one component, as stored facts give them (None: unknown).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub changes: Option<f64>,
    pub health: Option<f64>,
    pub hotspots: Option<f64>,
    pub red_hotspots: Option<f64>,
}

/// One component's estimate for a quarter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub change_hours: f64,
    /// share of the changes landing in unhealthy code (0-1)
    pub unhealthy_share: f64,
    pub excess_time_hours: f64,
    pub excess_defect_hours: f64,
    pub excess_hours: f64,
    pub cost: f64,
}

impl Model {
    /// The estimate, or why it is unknown.
    pub fn estimate(&self, i: &Inputs) -> Result<Estimate, String> {
        let changes = i.changes.ok_or_else(|| format!("{} is unknown", self.change_fact))?;
        let share = match (i.red_hotspots, i.hotspots) {
            (Some(r), Some(h)) if h > 0.0 => (r / h).clamp(0.0, 1.0),
            _ => match i.health {
                Some(h) => {
                    if h < self.unhealthy_below {
                        1.0
                    } else {
                        0.0
                    }
                }
                None => return Err(format!("{} is unknown", self.health_fact)),
            },
        };
        let change_hours = changes * self.hours_per_change;
        let excess_time_hours = change_hours * share * self.extra_time / (1.0 + self.extra_time);
        let excess_defect_hours = changes * share * self.defect_hours_per_change * (self.defect_multiplier - 1.0).max(0.0);
        let excess_hours = excess_time_hours + excess_defect_hours;
        Ok(Estimate {
            change_hours,
            unhealthy_share: share,
            excess_time_hours,
            excess_defect_hours,
            excess_hours,
            cost: excess_hours * self.hourly_cost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_checked_example() {
        let m = Model { hourly_cost: 100.0, hours_per_change: 8.0, defect_hours_per_change: 0.5, ..Model::default() };
        // 30 changes a quarter, 2 of 5 hotspots red: 240 change hours, 40% in unhealthy code (96 h)
        let e = m.estimate(&Inputs { changes: Some(30.0), health: Some(6.0), hotspots: Some(5.0), red_hotspots: Some(2.0) }).unwrap();
        assert_eq!(e.change_hours, 240.0);
        assert!((e.unhealthy_share - 0.4).abs() < 1e-12);
        // 96 h observed include the +124%: healthy code would take 96 / 2.24 = 42.857 h, excess 53.143 h
        assert!((e.excess_time_hours - 53.142857).abs() < 1e-5, "{e:?}");
        // defects: 12 changes in unhealthy code × 0.5 h × (15 - 1) = 84 h
        assert!((e.excess_defect_hours - 84.0).abs() < 1e-9);
        assert!((e.cost - 13_714.2857).abs() < 1e-3, "{e:?}");
        // health alone decides when hotspot counts are missing
        let low = m.estimate(&Inputs { changes: Some(10.0), health: Some(3.2), ..Default::default() }).unwrap();
        assert_eq!(low.unhealthy_share, 1.0);
        let high = m.estimate(&Inputs { changes: Some(10.0), health: Some(8.0), ..Default::default() }).unwrap();
        assert_eq!(high.cost, 0.0, "healthy code costs nothing extra");
        // missing inputs are unknown, never zero
        assert!(m
            .estimate(&Inputs { changes: None, health: Some(3.0), ..Default::default() })
            .unwrap_err()
            .contains("merged_pull_requests"));
        assert!(m.estimate(&Inputs { changes: Some(3.0), ..Default::default() }).unwrap_err().contains("hotspot_code_health"));
    }
}
