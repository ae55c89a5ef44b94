-- stage_exemption: an active exemption. $1 entity, $2 check.
insert into eh_exempt values (?, ?)
