-- Exemptions of components from migrations, as a run saw them (same format and expiry rules
-- as check exemptions): active ones make the component `exempt`, expired ones count no more.
CREATE TABLE migration_exemptions (
    run_id        VARCHAR NOT NULL,
    migration_id  VARCHAR NOT NULL,
    entity_ref    VARCHAR NOT NULL,
    reason        VARCHAR NOT NULL,
    approver      VARCHAR NOT NULL,
    justification VARCHAR NOT NULL,
    expires       DATE NOT NULL,
    status        VARCHAR NOT NULL,   -- active | expired (on the run's as_of date)
    defined_at    VARCHAR NOT NULL
);
