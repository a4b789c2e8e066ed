DROP INDEX indicators_kind_status;
DROP INDEX events_created;
DROP INDEX imports_created;
