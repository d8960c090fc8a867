-- A delivery stored and not yet applied to the ledger has the outcome `stored`, the name the
-- API answers with; rows that say `received` take it. Deliveries are stored in the database
-- before their answer, with no journal in front of it: its positions' table goes.
UPDATE deliveries SET outcome = 'stored' WHERE outcome = 'received';
DROP TABLE intake_journals;
