-- stage_level: one level of the ladder. $1 index (0 = lowest), $2 name.
insert into eh_levels values (?, ?)
