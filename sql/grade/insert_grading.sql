-- insert_grading: the record of a grading (its ladder, checks and packs).
insert into gradings (grading_id, run_id, kind, created_at, as_of, ladder, checks, pack_files) values (?, ?, ?, ?, ?, ?, ?, ?)
