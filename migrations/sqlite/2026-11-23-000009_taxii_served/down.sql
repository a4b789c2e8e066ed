DROP TABLE taxii_served;
