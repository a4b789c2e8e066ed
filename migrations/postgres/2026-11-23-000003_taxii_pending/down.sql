DROP TABLE taxii_pending;
