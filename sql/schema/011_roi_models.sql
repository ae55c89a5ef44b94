-- The tech-debt ROI cost model a run was made with (every assumption, as JSON), so its page
-- re-renders from the database alone with the numbers of that day.
CREATE TABLE roi_models (
    run_id VARCHAR PRIMARY KEY,
    model  JSON NOT NULL
);
