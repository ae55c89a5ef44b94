-- roi_model: the ROI cost model run $1 was made with (JSON), if any.
select model::varchar from roi_models where run_id = $1
