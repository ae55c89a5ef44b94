-- insert_exemption: an exemption as this grading saw it (active, expired, unknown-entity).
insert into exemptions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
