-- Records the ROI cost model of a run ($1 run, $2 model JSON).
INSERT OR REPLACE INTO roi_models VALUES ($1, $2::json)
