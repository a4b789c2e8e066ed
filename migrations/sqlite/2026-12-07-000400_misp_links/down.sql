DROP INDEX misp_links_event;
DROP TABLE misp_links;
