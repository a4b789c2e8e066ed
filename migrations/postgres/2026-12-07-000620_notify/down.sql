DROP INDEX imports_by_reporter;
DROP TABLE notify_outbox;
DROP TABLE notify_templates;
